/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Request-head reading on top of http-parser 2.9. The parser is fed only the
 * new bytes of a growing buffer, so every callback's (pointer, length) lies
 * inside that one buffer and a value split across reads is still one
 * contiguous span; a value that is *not* contiguous means the parser skipped
 * bytes inside it, which only obs-fold does.
 */
#include <string.h>

#include "httphead.h"

static int
hh_fail(struct hh_parser *hp, int status, const char *why)
{
	if (!hp->hp_fail) {
		hp->hp_fail = 1;
		hp->hp_head.hh_error_status = status;
		hp->hp_head.hh_error = why;
	}
	return -1;
}

static int
hh_span_add(struct hh_parser *hp, struct hh_span *s, const char *at,
    size_t len, int fresh)
{
	uint32_t	 off = (uint32_t)((const uint8_t *)at - hp->hp_base);

	if (fresh || s->len == 0) {
		s->off = off;
		s->len = (uint32_t)len;
		return 0;
	}
	if (s->off + s->len != off)
		return -1;
	s->len += (uint32_t)len;
	return 0;
}

static int
hh_name_is(struct hh_parser *hp, const char *name)
{
	const uint8_t	*p = hp->hp_base + hp->hp_field.off;
	size_t		 i, n = strlen(name);

	if (hp->hp_field.len != n)
		return 0;
	for (i = 0; i < n; i++) {
		uint8_t	 c = p[i];

		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c - 'A' + 'a');
		if (c != (uint8_t)name[i])
			return 0;
	}
	return 1;
}

static struct hh_span
hh_trim(struct hh_parser *hp, struct hh_span s)
{
	const uint8_t	*p = hp->hp_base;

	while (s.len > 0 && (p[s.off] == ' ' || p[s.off] == '\t')) {
		s.off++;
		s.len--;
	}
	while (s.len > 0 && (p[s.off + s.len - 1] == ' ' ||
	    p[s.off + s.len - 1] == '\t'))
		s.len--;
	return s;
}

static int
hh_value_eq(struct hh_parser *hp, struct hh_span v, const char *want)
{
	const uint8_t	*p = hp->hp_base + v.off;
	size_t		 i, n = strlen(want);

	if (v.len != n)
		return 0;
	for (i = 0; i < n; i++) {
		uint8_t	 c = p[i];

		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c - 'A' + 'a');
		if (c != (uint8_t)want[i])
			return 0;
	}
	return 1;
}

/*
 * A field name is a token (RFC 9110 5.6.2). Debian builds http-parser
 * without its strict checks, which lets "Content-Length : 3" through as a
 * Content-Length; a proxy that trims the space would then disagree with us
 * about the framing (RFC 9112 5.1 says 400).
 */
/*
 * Whether the request in buf (its first bytes: the method and a space)
 * has an idempotent method (RFC 9110 9.2.2): a client or proxy may send it
 * again on a new connection when the old one closes with no response
 * (RFC 9112 9.3.1), as nginx and HAProxy do. Methods are case-sensitive.
 */
int
hh_method_idempotent(const uint8_t *buf, size_t len)
{
	static const char *const methods[] = {
		"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE",
	};
	size_t		 i, n;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		n = strlen(methods[i]);
		if (len > n && memcmp(buf, methods[i], n) == 0 &&
		    buf[n] == ' ')
			return 1;
	}
	return 0;
}

int
hh_is_token(const uint8_t *p, size_t len)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~";
	size_t		 i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') ||
		    (p[i] >= 'A' && p[i] <= 'Z') ||
		    (p[i] >= '0' && p[i] <= '9') ||
		    (p[i] != '\0' && strchr(tchar, p[i]) != NULL)))
			return 0;
	return 1;
}

static int
hh_parse_clen(struct hh_parser *hp, struct hh_span v, uint64_t *out)
{
	const uint8_t	*p = hp->hp_base + v.off;
	uint64_t	 n = 0;
	uint32_t	 i;

	if (v.len == 0 || v.len > 18)	/* 18 digits cannot overflow */
		return -1;
	for (i = 0; i < v.len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		n = n * 10 + (uint64_t)(p[i] - '0');
	}
	*out = n;
	return 0;
}

/* Is tok one of the comma-separated tokens of v (case-insensitive)? */
static int
hh_has_token(struct hh_parser *hp, struct hh_span v, const char *tok)
{
	const uint8_t	*p = hp->hp_base + v.off;
	size_t		 i = 0, s, e, tl = strlen(tok), k;

	while (i < v.len) {
		while (i < v.len && (p[i] == ' ' || p[i] == '\t' || p[i] == ','))
			i++;
		s = i;
		while (i < v.len && p[i] != ',')
			i++;
		e = i;
		while (e > s && (p[e - 1] == ' ' || p[e - 1] == '\t'))
			e--;
		if (e - s != tl)
			continue;
		for (k = 0; k < tl; k++) {
			uint8_t	 c = p[s + k];

			if (c >= 'A' && c <= 'Z')
				c = (uint8_t)(c - 'A' + 'a');
			if (c != (uint8_t)tok[k])
				break;
		}
		if (k == tl)
			return 1;
	}
	return 0;
}

/* One complete header line: apply the routing-relevant rules. */
static int
hh_header_done(struct hh_parser *hp)
{
	struct http_head	*h = &hp->hp_head;
	struct hh_span		 v = hh_trim(hp, hp->hp_value);

	if (++h->hh_nheaders > HH_MAX_HEADERS)
		return hh_fail(hp, 431, "too many header fields");
	if (!hh_is_token(hp->hp_base + hp->hp_field.off, hp->hp_field.len))
		return hh_fail(hp, 400, "invalid header name");
	if (hh_name_is(hp, "host")) {
		if (++h->hh_nhost > 1)
			return hh_fail(hp, 400, "duplicate Host");
		h->hh_host = v;
	} else if (hh_name_is(hp, "transfer-encoding")) {
		/*
		 * Only a single "chunked" is a framing both hops agree on;
		 * lists, "identity" and obfuscated spellings are smuggling
		 * material (RFC 9112 6.3, docs/security.md, items 62-63).
		 */
		if (++h->hh_nte > 1 || !hh_value_eq(hp, v, "chunked"))
			return hh_fail(hp, 400, "unsupported Transfer-Encoding");
	} else if (hh_name_is(hp, "if-none-match")) {
		h->hh_inm = v;
	} else if (hh_name_is(hp, "if-modified-since")) {
		h->hh_ims = v;
	} else if (hh_name_is(hp, "x-forwarded-for")) {
		/* For logs only; the proxy sets it (never used to route). */
		h->hh_xff = v;
	} else if (hh_name_is(hp, "authorization")) {
		/*
		 * Two credentials in one request: which one a check reads
		 * would be a choice an attacker could steer. Refuse both.
		 */
		if (++h->hh_nauth > 1)
			return hh_fail(hp, 400, "duplicate Authorization");
		h->hh_auth = v;
	} else if (hh_name_is(hp, "content-length")) {
		/* 1*DIGIT, once: no sign, list, blank or overflow (6.3). */
		if (h->hh_has_clen++ || hh_parse_clen(hp, v, &h->hh_clen) == -1)
			return hh_fail(hp, 400, "invalid Content-Length");
	} else if (hh_name_is(hp, "connection")) {
		if (hh_has_token(hp, v, "close"))
			h->hh_conn_close = 1;
		if (hh_has_token(hp, v, "keep-alive"))
			h->hh_conn_keepalive = 1;
	} else if (hh_name_is(hp, "expect")) {
		if (!hh_value_eq(hp, v, "100-continue"))
			return hh_fail(hp, 400, "unsupported Expect");
		h->hh_expect_continue = 1;
	}
	hp->hp_field.len = 0;
	hp->hp_value.len = 0;
	return 0;
}

static int
hh_on_url(http_parser *p, const char *at, size_t len)
{
	struct hh_parser	*hp = p->data;

	/* Known from here on, so an early error to HEAD gets no body. */
	hp->hp_head.hh_method = p->method;
	if (hh_span_add(hp, &hp->hp_head.hh_target, at, len, 0) == -1)
		return hh_fail(hp, 400, "malformed request target");
	return 0;
}

static int
hh_on_field(http_parser *p, const char *at, size_t len)
{
	struct hh_parser	*hp = p->data;
	uint32_t		 off = (uint32_t)((const uint8_t *)at - hp->hp_base);

	/*
	 * A new field name ends the previous header: after its value, or
	 * right away when it had an empty value (no value callback at all,
	 * and the two name spans are then not contiguous).
	 */
	if (hp->hp_in_value || (hp->hp_field.len > 0 &&
	    hp->hp_field.off + hp->hp_field.len != off)) {
		if (hh_header_done(hp) == -1)
			return -1;
		hp->hp_in_value = 0;
	}
	if (hh_span_add(hp, &hp->hp_field, at, len, 0) == -1)
		return hh_fail(hp, 400, "malformed header name");
	return 0;
}

static int
hh_on_value(http_parser *p, const char *at, size_t len)
{
	struct hh_parser	*hp = p->data;
	const uint8_t		*q;

	/*
	 * An empty value comes as a zero-length callback placed after the
	 * line's CRLF; it says nothing, and the next name ends the header.
	 */
	if (len == 0)
		return 0;
	if (!hp->hp_in_value) {
		/*
		 * Between a name and its value lie only ':' and OWS. A CR or
		 * LF there means the value was folded onto the next line
		 * after an empty first one: obs-fold, refused like any other
		 * (RFC 9112 5.2; never for Host or Content-Length).
		 */
		for (q = hp->hp_base + hp->hp_field.off + hp->hp_field.len;
		    q < (const uint8_t *)at; q++)
			if (*q == '\r' || *q == '\n')
				return hh_fail(hp, 400, "obsolete line folding");
		hp->hp_value.len = 0;
	}
	if (hh_span_add(hp, &hp->hp_value, at, len, 0) == -1)
		return hh_fail(hp, 400, "obsolete line folding");
	hp->hp_in_value = 1;
	return 0;
}

static int
hh_on_headers_complete(http_parser *p)
{
	struct hh_parser	*hp = p->data;
	struct http_head	*h = &hp->hp_head;

	if (hp->hp_field.len > 0 && hh_header_done(hp) == -1)
		return -1;
	hp->hp_in_value = 0;
	h->hh_method = p->method;
	h->hh_major = p->http_major;
	h->hh_minor = p->http_minor;
	/*
	 * Framing and persistence come from our own exact-name reading of
	 * the fields, never from http-parser's flags: it matches names by
	 * prefix, and "Transfer-Encoding-X: 1" after "Transfer-Encoding:
	 * chunked" clears its chunked flag (a smuggling desync,
	 * docs/security.md, item 63).
	 */
	h->hh_chunked = h->hh_nte == 1;
	h->hh_keepalive = !h->hh_conn_close && (h->hh_minor == 1 ||
	    h->hh_conn_keepalive);
	/* Stop here: the body, if any, belongs to whoever serves the request. */
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings hh_settings = {
	.on_url = hh_on_url,
	.on_header_field = hh_on_field,
	.on_header_value = hh_on_value,
	.on_headers_complete = hh_on_headers_complete,
};

void
hh_init(struct hh_parser *hp, size_t max, size_t target_max)
{
	memset(hp, 0, sizeof(*hp));
	http_parser_init(&hp->hp_parser, HTTP_REQUEST);
	hp->hp_parser.data = hp;
	hp->hp_max = max;
	hp->hp_target_max = target_max;
}

/* Checks that need the whole head: line endings, target form, version. */
static int
hh_finish(struct hh_parser *hp, const uint8_t *buf)
{
	struct http_head	*h = &hp->hp_head;
	const uint8_t		*t;
	size_t			 i;

	/*
	 * Every line ends in CRLF, the last one included. The non-strict
	 * http-parser takes any byte after a CR for the LF ("\r\n\r*" ends a
	 * head there, HTTP Garden's "\rX" terminators); another hop would
	 * frame that message differently.
	 */
	if (h->hh_len < 4 || memcmp(buf + h->hh_len - 4, "\r\n\r\n", 4) != 0)
		return hh_fail(hp, 400, "head not ended by CRLF CRLF");
	for (i = 0; i < h->hh_len; i++) {
		if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
			return hh_fail(hp, 400, "bare LF in request head");
		if (buf[i] == '\r' && (i + 1 == h->hh_len || buf[i + 1] != '\n'))
			return hh_fail(hp, 400, "bare CR in request head");
	}
	/*
	 * Whitespace between the request line and the first field (RFC 9112
	 * 2.2): http-parser drops such a line; we refuse the request rather
	 * than guess what a proxy made of it.
	 */
	t = memchr(buf, '\n', h->hh_len);
	if (t != NULL && (size_t)(t - buf) + 1 < h->hh_len &&
	    (t[1] == ' ' || t[1] == '\t'))
		return hh_fail(hp, 400, "whitespace before the first field");
	/*
	 * The request line ends in " HTTP/1.0" or " HTTP/1.1" exactly: the
	 * non-strict parser reads "HXXXX1.1" as a version too.
	 */
	t = memchr(buf, '\r', h->hh_len);
	if (t == NULL || t - buf < 10 || memcmp(t - 9, " HTTP/", 6) != 0 ||
	    t[-3] < '0' || t[-3] > '9' || t[-2] != '.' || t[-1] < '0' ||
	    t[-1] > '9')
		return hh_fail(hp, 400, "malformed HTTP version");
	if (h->hh_major != 1 || h->hh_minor > 1)
		return hh_fail(hp, 505, "unsupported HTTP version");
	t = buf + h->hh_target.off;
	/* Checked here, on the whole target, so reads cannot change it. */
	if (h->hh_target.len > hp->hp_target_max)
		return hh_fail(hp, 414, "request target too long");
	for (i = 0; i < h->hh_target.len; i++)
		if (t[i] <= 0x20 || t[i] >= 0x7f)
			return hh_fail(hp, 400, "invalid byte in request target");
	if (h->hh_method == HTTP_CONNECT)
		return hh_fail(hp, 400, "CONNECT is not served");
	if (h->hh_target.len == 0 || memchr(t, '#', h->hh_target.len) != NULL)
		return hh_fail(hp, 400, "malformed request target");
	if (t[0] == '*' && (h->hh_target.len != 1 ||
	    h->hh_method != HTTP_OPTIONS))
		return hh_fail(hp, 400, "asterisk-form outside OPTIONS");
	if (h->hh_nte > 0 && h->hh_has_clen)
		return hh_fail(hp, 400, "Content-Length with Transfer-Encoding");
	if (h->hh_nte > 0 && h->hh_minor == 0)
		return hh_fail(hp, 400, "Transfer-Encoding in HTTP/1.0");
	return 0;
}

/*
 * Feed buf[0..len): the whole head buffer so far. Only the bytes not yet
 * seen go to the parser. On HH_DONE, hh_len says where the head ends; any
 * bytes after it (a body, a pipelined request) are the caller's.
 */
int
hh_feed(struct hh_parser *hp, const uint8_t *buf, size_t len)
{
	struct http_head	*h = &hp->hp_head;
	size_t			 n;
	enum http_errno		 e;

	if (hp->hp_fail)
		return HH_ERROR;
	if (hp->hp_done)
		return HH_DONE;
	if (len <= hp->hp_fed)
		return HH_MORE;
	hp->hp_base = buf;
	n = http_parser_execute(&hp->hp_parser, &hh_settings,
	    (const char *)buf + hp->hp_fed, len - hp->hp_fed);
	e = HTTP_PARSER_ERRNO(&hp->hp_parser);
	if (hp->hp_fail)
		return HH_ERROR;
	if (e == HPE_PAUSED) {
		/* Paused inside on_headers_complete, before the final LF. */
		h->hh_len = hp->hp_fed + n + 1;
		hp->hp_fed = h->hh_len;
		if (h->hh_len > hp->hp_max) {
			hh_fail(hp, 431, "request head too large");
			return HH_ERROR;
		}
		if (hh_finish(hp, buf) == -1)
			return HH_ERROR;
		hp->hp_done = 1;
		return HH_DONE;
	}
	if (e != HPE_OK) {
		if (e == HPE_INVALID_METHOD)
			hh_fail(hp, 501, http_errno_description(e));
		else
			hh_fail(hp, 400, http_errno_description(e));
		return HH_ERROR;
	}
	hp->hp_fed += n;
	if (hp->hp_fed >= hp->hp_max) {
		hh_fail(hp, 431, "request head too large");
		return HH_ERROR;
	}
	return HH_MORE;
}

/*
 * Absolute-form target ("http://host/...")? Returns 1 and the authority's
 * span, 0 for origin- or asterisk-form, -1 for anything else, userinfo
 * included (RFC 9112 3.2.2: a server must then use the target's authority,
 * so a mismatch with Host is refused by the caller).
 */
int
hh_authority(const struct http_head *h, const uint8_t *buf,
    struct hh_span *auth)
{
	struct http_parser_url	 u;
	const char		*t = (const char *)buf + h->hh_target.off;
	size_t			 tl = h->hh_target.len;

	if (tl > 0 && (t[0] == '/' || t[0] == '*'))
		return 0;
	http_parser_url_init(&u);
	if (http_parser_parse_url(t, tl, 0, &u) != 0)
		return -1;
	if (!(u.field_set & (1 << UF_HOST)) ||
	    (u.field_set & (1 << UF_USERINFO)))
		return -1;
	/* http-parser reports no userinfo for an empty one ("http://@h/"). */
	if (memchr(t, '@', u.field_data[UF_HOST].off) != NULL)
		return -1;
	/* Authority = host[:port] as written (an IP literal keeps its ']'). */
	auth->off = h->hh_target.off + u.field_data[UF_HOST].off;
	auth->len = u.field_data[UF_HOST].len;
	if (u.field_set & (1 << UF_PORT))
		auth->len = u.field_data[UF_PORT].off +
		    u.field_data[UF_PORT].len - u.field_data[UF_HOST].off;
	return 1;
}

/*
 * The origin-form part (path and query) of the target, whatever form it was
 * sent in. An absolute-form target without a path yields an empty span,
 * which stands for "/".
 */
int
hh_origin(const struct http_head *h, const uint8_t *buf, struct hh_span *o)
{
	struct http_parser_url	 u;
	const char		*t = (const char *)buf + h->hh_target.off;
	size_t			 tl = h->hh_target.len;

	if (tl > 0 && (t[0] == '/' || t[0] == '*')) {
		*o = h->hh_target;
		return 0;
	}
	http_parser_url_init(&u);
	if (http_parser_parse_url(t, tl, 0, &u) != 0)
		return -1;
	o->off = h->hh_target.off;
	o->len = 0;
	if (u.field_set & (1 << UF_PATH)) {
		o->off = h->hh_target.off + u.field_data[UF_PATH].off;
		o->len = (uint32_t)(tl - u.field_data[UF_PATH].off);
	}
	return 0;
}

/*
 * Walk the header fields of a head that hh_feed() accepted (buf[0..len),
 * len = hh_len), for whoever needs more of them than the spans above: set
 * *pos to 0, then each call yields one field's name and OWS-trimmed value
 * and returns 1, or returns 0 after the last. The accepted head has CRLF
 * lines, token names and no obs-fold; anything else (a caller that passed
 * the wrong bytes) is -1, never a guess.
 */
int
hh_field_next(const uint8_t *buf, size_t len, size_t *pos,
    struct hh_span *name, struct hh_span *value)
{
	const uint8_t	*lf, *colon;
	size_t		 p = *pos, end, s, e;

	if (p == 0) {
		/* The request line is not a field. */
		if ((lf = memchr(buf, '\n', len)) == NULL)
			return -1;
		p = (size_t)(lf - buf) + 1;
	}
	if (p >= len)
		return 0;
	if ((lf = memchr(buf + p, '\n', len - p)) == NULL)
		return -1;
	end = (size_t)(lf - buf);
	if (end > p && buf[end - 1] == '\r')
		end--;
	if (end == p) {
		*pos = len;		/* the empty line ends the head */
		return 0;
	}
	if ((colon = memchr(buf + p, ':', end - p)) == NULL ||
	    colon == buf + p || buf[p] == ' ' || buf[p] == '\t')
		return -1;
	s = (size_t)(colon - buf) + 1;
	e = end;
	while (s < e && (buf[s] == ' ' || buf[s] == '\t'))
		s++;
	while (e > s && (buf[e - 1] == ' ' || buf[e - 1] == '\t'))
		e--;
	name->off = (uint32_t)p;
	name->len = (uint32_t)((size_t)(colon - buf) - p);
	value->off = (uint32_t)s;
	value->len = (uint32_t)(e - s);
	*pos = (size_t)(lf - buf) + 1;
	return 1;
}

/* The value of a hex digit, or -1. */
int
hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
