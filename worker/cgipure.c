/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Pure helpers of per-request handlers (cgipure.h). Three kinds of input
 * meet here and none is trusted: the routes file (the tenant's), the
 * request (a client's) and the handler's output (tenant code, possibly
 * hostile to the client or confused). A routes file is taken whole or not
 * at all; a request that cannot be described to a handler exactly is
 * refused; a response is rebuilt from its well-formed parts only.
 */
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "cgipure.h"
#include "runarg.h"

#define LOWER(c)	((c) >= 'A' && (c) <= 'Z' ? (c) - 'A' + 'a' : (c))

static int
ieq(const char *s, size_t len, const char *lit)
{
	size_t	 i;

	if (len != strlen(lit))
		return 0;
	for (i = 0; i < len; i++)
		if (LOWER((unsigned char)s[i]) != (unsigned char)lit[i])
			return 0;
	return 1;
}

static int
is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/*
 * A prefix is matched byte for byte against the raw request path, so it
 * must be a path that can arrive in that form: printable ASCII, no '%'
 * (an escape would never match itself), no '?' or '#' (never in a path),
 * and no empty, "." or ".." segment, which a client's path could reach in
 * other spellings. "/" alone is the catch-all; "/.tenantd" belongs to us.
 */
static int
cgi_prefix_valid(const char *s, size_t len)
{
	size_t	 i, seg;

	if (len == 0 || len > CGI_PREFIX_MAX || s[0] != '/')
		return 0;
	if (len >= 9 && memcmp(s, "/.tenantd", 9) == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '%' ||
		    s[i] == '?' || s[i] == '#')
			return 0;
	if (len == 1)
		return 1;
	for (i = 1, seg = 1; i <= len; i++) {
		if (i < len && s[i] != '/')
			continue;
		if (i == seg || (i - seg == 1 && s[seg] == '.') ||
		    (i - seg == 2 && s[seg] == '.' && s[seg + 1] == '.'))
			return 0;
		seg = i + 1;
	}
	return 1;
}

/*
 * app/routes: "<path-prefix> <handler> [persistent]" per line, '#'
 * comments, blank lines; "persistent" (exactly) makes the handler an HTTP
 * app. Returns 0 with every route, or -1 with *errline the first bad line
 * and rt empty: half a file would route some paths to static files the
 * tenant meant to hide behind a handler, and a misspelt third word would
 * run an app as a CGI handler that never answers.
 */
int
cgi_routes_parse(const char *buf, size_t len, struct cgi_routes *rt,
    size_t *errline)
{
	const char	*p = buf, *end = buf + len, *eol, *f[3];
	size_t		 fl[3], nf, line = 0, i;
	struct cgi_route *r;

	memset(rt, 0, sizeof(*rt));
	*errline = 0;
	if (memchr(buf, '\0', len) != NULL)
		goto bad_first;
	while (p < end) {
		line++;
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		/* Fields up to a comment, split on blanks; one CR may end it. */
		nf = 0;
		while (p < eol && *p != '#') {
			while (p < eol && (*p == ' ' || *p == '\t' ||
			    (*p == '\r' && p + 1 == eol)))
				p++;
			if (p == eol || *p == '#')
				break;
			if (nf == 3)
				goto bad;
			f[nf] = p;
			while (p < eol && *p != ' ' && *p != '\t' &&
			    *p != '#' && !(*p == '\r' && p + 1 == eol))
				p++;
			fl[nf] = (size_t)(p - f[nf]);
			nf++;
		}
		p = eol + (eol < end);
		if (nf == 0)
			continue;
		if ((nf != 2 && !(nf == 3 && fl[2] == 10 &&
		    memcmp(f[2], "persistent", 10) == 0)) ||
		    !cgi_prefix_valid(f[0], fl[0]) ||
		    !runarg_name_ok(f[1], fl[1]) ||
		    rt->cr_n == CGI_ROUTES_MAX)
			goto bad;
		for (i = 0; i < rt->cr_n; i++)
			if (rt->cr_ent[i].cr_prefix_len == fl[0] &&
			    memcmp(rt->cr_ent[i].cr_prefix, f[0], fl[0]) == 0)
				goto bad;	/* which one would win? */
		r = &rt->cr_ent[rt->cr_n++];
		memcpy(r->cr_prefix, f[0], fl[0]);
		r->cr_prefix[fl[0]] = '\0';
		r->cr_prefix_len = fl[0];
		memcpy(r->cr_handler, f[1], fl[1]);
		r->cr_handler[fl[1]] = '\0';
		r->cr_persistent = nf == 3;
	}
	return 0;
 bad_first:
	line = 1;
 bad:
	memset(rt, 0, sizeof(*rt));
	*errline = line;
	return -1;
}

/*
 * The longest prefix that is the path, or the path up to a '/'. Only the
 * path decides (not the query), raw: "/%61pi" is not "/api".
 */
const struct cgi_route *
cgi_route_match(const struct cgi_routes *rt, const char *path, size_t len)
{
	const struct cgi_route	*best = NULL;
	const char		*q;
	size_t			 i, pl;

	if ((q = memchr(path, '?', len)) != NULL)
		len = (size_t)(q - path);
	if (len == 0 || path[0] != '/')
		return NULL;
	for (i = 0; i < rt->cr_n; i++) {
		pl = rt->cr_ent[i].cr_prefix_len;
		if (pl > len || memcmp(rt->cr_ent[i].cr_prefix, path, pl) != 0)
			continue;
		if (pl != 1 && pl != len && path[pl] != '/')
			continue;
		if (best == NULL || pl > best->cr_prefix_len)
			best = &rt->cr_ent[i];
	}
	return best;
}

/*
 * Environment entries are built in place: a name, then value pieces, then
 * an end that checks the entry fits a protocol string and the whole fits
 * one MSG_RUN_REQUEST (header, the handler string, the count, and a u16
 * length per entry). ENV_SPEC_SPARE leaves room for what the supervisor
 * adds when it passes the same entries on in MSG_RUN_SPEC (ids, the jail
 * and policy paths, the slug): a request we accept must not become a 503
 * there.
 */
struct envb {
	struct cgi_env	*eb_env;
	size_t		 eb_start;
	int		 eb_full;
	int		 eb_long;
};

#define ENV_SPEC_SPARE	512
#define ENV_MSG_FIXED	(PROTO_HDR_LEN + 2 + RUN_NAME_MAX + 4 + ENV_SPEC_SPARE)

static void
eb_add(struct envb *eb, const char *s, size_t len)
{
	struct cgi_env	*e = eb->eb_env;

	if (eb->eb_full || len > sizeof(e->ce_buf) - 1 - e->ce_len) {
		eb->eb_full = 1;
		return;
	}
	memcpy(e->ce_buf + e->ce_len, s, len);
	e->ce_len += len;
}

static void
eb_begin(struct envb *eb, const char *name)
{
	if (eb->eb_env->ce_n == RUN_ENV_MAX)
		eb->eb_full = 1;
	eb->eb_start = eb->eb_env->ce_len;
	eb_add(eb, name, strlen(name));
	eb_add(eb, "=", 1);
}

static void
eb_end(struct envb *eb)
{
	struct cgi_env	*e = eb->eb_env;

	if (eb->eb_full)
		return;
	if (e->ce_len - eb->eb_start > PROTO_STR_MAX) {
		eb->eb_long = 1;
		e->ce_len = eb->eb_start;
		return;
	}
	eb_add(eb, "", 1);
	e->ce_buf[e->ce_len - 1] = '\0';
	if (eb->eb_full || ENV_MSG_FIXED + e->ce_len + e->ce_n + 1 >
	    PROTO_MSG_MAX) {
		eb->eb_full = 1;
		return;
	}
	e->ce_off[e->ce_n++] = (uint32_t)eb->eb_start;
}

static void
eb_set(struct envb *eb, const char *name, const char *v, size_t len)
{
	eb_begin(eb, name);
	eb_add(eb, v, len);
	eb_end(eb);
}

/*
 * PATH_INFO is decoded once (RFC 3875 4.1.5). What it decodes to must be
 * safe to hand to code that joins it to a directory: no NUL or control
 * byte, no "." or ".." segment in any spelling.
 */
static int
cgi_path_info(struct envb *eb, const char *s, size_t len)
{
	size_t	 i, seglen = 0;
	int	 hi, lo, c, alldots = 1;
	char	 ch;

	eb_begin(eb, "PATH_INFO");
	for (i = 0; i <= len; i++) {
		c = i < len ? (unsigned char)s[i] : '/';
		if (c == '%') {
			if (len - i < 3 || (hi = hex_digit(s[i + 1])) == -1 ||
			    (lo = hex_digit(s[i + 2])) == -1)
				return 400;
			c = hi << 4 | lo;
			i += 2;
		}
		if (c == '/') {
			/* The segment that ends here: "." or ".."? */
			if (alldots && (seglen == 1 || seglen == 2))
				return 400;
			if (i == len)
				break;
			seglen = 0;
			alldots = 1;
		} else {
			if (c == 0 || is_ctl((unsigned char)c))
				return 400;
			seglen++;
			if (c != '.')
				alldots = 0;
		}
		ch = (char)c;
		eb_add(eb, &ch, 1);
	}
	eb_end(eb);
	return 0;
}

/*
 * The hop our proxy appended: the last element of the last
 * X-Forwarded-For, if it is an IP address. Anything else, or none, is
 * "0.0.0.0": unknown, and never the loopback address a handler might
 * trust as "local".
 */
static void
cgi_remote(struct envb *eb, const char *xff, size_t len)
{
	const char	*s = xff;
	char		 ip[64];
	unsigned char	 bin[16];
	size_t		 i;

	for (i = len; i > 0; i--)
		if (xff[i - 1] == ',') {
			s = xff + i;
			break;
		}
	len -= (size_t)(s - xff);
	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= sizeof(ip)) {
		eb_set(eb, "REMOTE_ADDR", "0.0.0.0", 7);
		return;
	}
	memcpy(ip, s, len);
	ip[len] = '\0';
	if (inet_pton(AF_INET, ip, bin) == 1 ||
	    inet_pton(AF_INET6, ip, bin) == 1)
		eb_set(eb, "REMOTE_ADDR", ip, len);
	else
		eb_set(eb, "REMOTE_ADDR", "0.0.0.0", 7);
}

/*
 * Request headers a handler never sees: the credential for tenantd's own
 * API (and a proxy's), "Proxy" (httpoxy, CVE-2016-5385: HTTP_PROXY reads
 * as a proxy setting), and the framing, which are CONTENT_* or refused.
 */
static int
cgi_header_hidden(const char *n, size_t len)
{
	return ieq(n, len, "authorization") ||
	    ieq(n, len, "proxy-authorization") || ieq(n, len, "proxy") ||
	    ieq(n, len, "content-length") || ieq(n, len, "content-type") ||
	    ieq(n, len, "transfer-encoding");
}

/*
 * Names outside [A-Za-z0-9-] are dropped, not mapped: "X_User" and
 * "X-User" would both become HTTP_X_USER, and a front end that checked one
 * spelling would let the other through (the underscore trick). Values
 * with control bytes (tab included) are dropped too.
 */
static int
cgi_header_ok(const uint8_t *h, struct hh_span n, struct hh_span v)
{
	uint32_t	 i;

	for (i = 0; i < n.len; i++) {
		unsigned char	 c = h[n.off + i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	for (i = 0; i < v.len; i++)
		if (is_ctl(h[v.off + i]))
			return 0;
	return !cgi_header_hidden((const char *)h + n.off, n.len);
}

static int
span_ieq(const uint8_t *h, struct hh_span a, struct hh_span b)
{
	uint32_t	 i;

	if (a.len != b.len)
		return 0;
	for (i = 0; i < a.len; i++)
		if (LOWER(h[a.off + i]) != LOWER(h[b.off + i]))
			return 0;
	return 1;
}

/*
 * HTTP_<NAME> for each header. Repeated fields become one variable, the
 * values joined with ", " (RFC 3875 4.1.18; "; " for Cookie, RFC 6265
 * 5.4), so a handler cannot be shown one copy while a check read another.
 */
static int
cgi_headers(struct envb *eb, const uint8_t *h, size_t hlen)
{
	struct hh_span	 n, v, n2, v2;
	size_t		 pos = 0, pos2, prev;
	char		 name[5 + 256];
	uint32_t	 i;
	int		 r, r2, seen, first;

	for (;;) {
		prev = pos;
		if ((r = hh_field_next(h, hlen, &pos, &n, &v)) != 1)
			return r;
		if (!cgi_header_ok(h, n, v))
			continue;
		/* Done already, as part of an earlier field of this name? */
		seen = 0;
		pos2 = 0;
		while (pos2 < prev &&
		    hh_field_next(h, prev, &pos2, &n2, &v2) == 1)
			if (span_ieq(h, n, n2) && cgi_header_ok(h, n2, v2)) {
				seen = 1;
				break;
			}
		if (seen)
			continue;
		if (n.len > sizeof(name) - 6) {
			eb->eb_long = 1;
			continue;
		}
		memcpy(name, "HTTP_", 5);
		for (i = 0; i < n.len; i++) {
			unsigned char	 c = h[n.off + i];

			name[5 + i] = c == '-' ? '_' : (c >= 'a' && c <= 'z' ?
			    (char)(c - 'a' + 'A') : (char)c);
		}
		name[5 + n.len] = '\0';
		eb_begin(eb, name);
		first = 1;
		pos2 = prev;
		while ((r2 = hh_field_next(h, hlen, &pos2, &n2, &v2)) == 1) {
			if (!span_ieq(h, n, n2) || !cgi_header_ok(h, n2, v2))
				continue;
			if (!first)
				eb_add(eb, ieq(name, strlen(name),
				    "http_cookie") ? "; " : ", ", 2);
			eb_add(eb, (const char *)h + v2.off, v2.len);
			first = 0;
		}
		if (r2 == -1)
			return -1;
		eb_end(eb);
	}
}

/*
 * The RFC 3875 environment, and nothing else: no worker environment, no
 * keys. Returns 0, 400 (a PATH_INFO we will not hand over), 414 (the
 * target does not fit a protocol string) or 431 (the headers do not fit
 * one message).
 */
int
cgi_env_build(const struct cgi_req *cq, const struct cgi_route *rt,
    struct cgi_env *e)
{
	struct envb	 eb;
	struct hh_span	 n, v;
	const char	*q;
	size_t		 plen, pos = 0, sl;
	char		 num[32];
	int		 r;

	memset(e, 0, sizeof(*e));
	memset(&eb, 0, sizeof(eb));
	eb.eb_env = e;
	q = memchr(cq->cq_path, '?', cq->cq_path_len);
	plen = q != NULL ? (size_t)(q - cq->cq_path) : cq->cq_path_len;
	if (plen < rt->cr_prefix_len)
		return 400;	/* not the route's path: a caller's bug */

	eb_set(&eb, "GATEWAY_INTERFACE", "CGI/1.1", 7);
	eb_set(&eb, "SERVER_SOFTWARE", "tenantd", 7);
	eb_set(&eb, "SERVER_PROTOCOL", cq->cq_minor ? "HTTP/1.1" : "HTTP/1.0",
	    8);
	eb_set(&eb, "SERVER_NAME", cq->cq_server_name,
	    strlen(cq->cq_server_name));
	snprintf(num, sizeof(num), "%u", cq->cq_port ? cq->cq_port : 80);
	eb_set(&eb, "SERVER_PORT", num, strlen(num));
	eb_set(&eb, "REQUEST_METHOD", cq->cq_method, strlen(cq->cq_method));
	/* The catch-all "/" is the script at the root: SCRIPT_NAME "". */
	sl = rt->cr_prefix_len == 1 ? 0 : rt->cr_prefix_len;
	eb_set(&eb, "SCRIPT_NAME", cq->cq_path, sl);
	if ((r = cgi_path_info(&eb, cq->cq_path + sl, plen - sl)) != 0)
		return r;
	eb_set(&eb, "QUERY_STRING", q != NULL ? q + 1 : "",
	    q != NULL ? cq->cq_path_len - plen - 1 : 0);
	eb_set(&eb, "REQUEST_URI", cq->cq_target, cq->cq_target_len);
	if (eb.eb_long)
		return 414;
	if (cq->cq_has_body) {
		snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)cq->cq_clen);
		eb_set(&eb, "CONTENT_LENGTH", num, strlen(num));
	}
	while ((r = hh_field_next(cq->cq_head, cq->cq_head_len, &pos, &n,
	    &v)) == 1)
		if (ieq((const char *)cq->cq_head + n.off, n.len,
		    "content-type")) {
			for (sl = 0; sl < v.len; sl++)
				if (is_ctl(cq->cq_head[v.off + sl]))
					break;
			if (sl == v.len)
				eb_set(&eb, "CONTENT_TYPE",
				    (const char *)cq->cq_head + v.off, v.len);
			break;
		}
	if (r == -1)
		return 400;
	cgi_remote(&eb, cq->cq_remote, cq->cq_remote_len);
	eb_set(&eb, "TENANT", cq->cq_slug, strlen(cq->cq_slug));
	eb_set(&eb, "PATH", "/usr/bin:/bin", 13);
	if (cgi_headers(&eb, cq->cq_head, cq->cq_head_len) == -1)
		return 400;
	if (eb.eb_full || eb.eb_long)
		return 431;
	return 0;
}

/*
 * MSG_RUN_REQUEST (proto.h). Returns -1 if it does not fit, or if the
 * handler or an entry breaks the rule tenantd applies to what it
 * receives (runarg.h): sent, it would cost this worker its life and
 * every connection it holds, where refusing costs one request.
 */
int
cgi_env_encode(const struct cgi_env *e, const char *handler, uint32_t id,
    struct msgbuf *mb)
{
	const char	*s;
	uint32_t	 i;

	if (!runarg_name_ok(handler, strlen(handler)))
		return -1;
	msg_init(mb, MSG_RUN_REQUEST, id);
	msg_put_str(mb, handler);
	msg_put_u32(mb, e->ce_n);
	for (i = 0; i < e->ce_n; i++) {
		s = e->ce_buf + e->ce_off[i];
		if (!runarg_env_ok(s, strlen(s)))
			return -1;
		msg_put_str(mb, s);
	}
	return mb->mb_overflow ? -1 : 0;
}

/*
 * Response fields a handler may not set: the framing and persistence are
 * ours (we send our own Content-Length for the buffered body; a handler's
 * Transfer-Encoding or Connection would desync the client or the proxy),
 * and Date is ours too.
 */
static int
cgi_resp_hidden(const char *n, size_t len)
{
	return ieq(n, len, "connection") || ieq(n, len, "transfer-encoding") ||
	    ieq(n, len, "content-length") || ieq(n, len, "keep-alive") ||
	    ieq(n, len, "upgrade") || ieq(n, len, "trailer") ||
	    ieq(n, len, "te") || ieq(n, len, "proxy-connection") ||
	    ieq(n, len, "date");
}

static int
cgi_head_add(struct cgi_resp *cs, const uint8_t *n, size_t nl,
    const uint8_t *v, size_t vl)
{
	if (nl + vl + 4 > sizeof(cs->cs_head) - cs->cs_head_len)
		return -1;
	memcpy(cs->cs_head + cs->cs_head_len, n, nl);
	cs->cs_head_len += nl;
	memcpy(cs->cs_head + cs->cs_head_len, ": ", 2);
	cs->cs_head_len += 2;
	memcpy(cs->cs_head + cs->cs_head_len, v, vl);
	cs->cs_head_len += vl;
	memcpy(cs->cs_head + cs->cs_head_len, "\r\n", 2);
	cs->cs_head_len += 2;
	return 0;
}

/* "NNN" or "NNN reason"; a final status only (no 1xx). */
static int
cgi_status(const uint8_t *v, size_t len, struct cgi_resp *cs)
{
	size_t	 i;

	if (len < 3 || v[0] < '2' || v[0] > '5' || v[1] < '0' || v[1] > '9' ||
	    v[2] < '0' || v[2] > '9' || (len > 3 && v[3] != ' '))
		return -1;
	cs->cs_status = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
	cs->cs_reason[0] = '\0';
	if (len <= 4 || len - 4 > CGI_REASON_MAX)
		return 0;
	for (i = 4; i < len; i++)
		if (v[i] < 0x20 || v[i] >= 0x7f)
			return 0;	/* ours instead */
	memcpy(cs->cs_reason, v + 4, len - 4);
	cs->cs_reason[len - 4] = '\0';
	return 0;
}

/*
 * The next line of a response head in [*pp, end): 0 at the empty line that
 * ends the head, 1 with a field's name (up to its colon) and its value
 * without the blanks around it, -1 if no whole line is there or it is not
 * a field line (a CR inside, a blank first: obsolete folding, no colon).
 */
static int
head_field(const uint8_t **pp, const uint8_t *end, const uint8_t **n,
    size_t *nlen, const uint8_t **v, size_t *vl)
{
	const uint8_t	*p = *pp, *lf, *colon;
	size_t		 nl;

	if ((lf = memchr(p, '\n', (size_t)(end - p))) == NULL)
		return -1;
	nl = (size_t)(lf - p);
	if (nl > 0 && p[nl - 1] == '\r')
		nl--;
	*pp = lf + 1;
	if (nl == 0)
		return 0;
	if (memchr(p, '\r', nl) != NULL || p[0] == ' ' || p[0] == '\t' ||
	    (colon = memchr(p, ':', nl)) == NULL)
		return -1;
	*n = p;
	*nlen = (size_t)(colon - p);
	*v = colon + 1;
	*vl = nl - (size_t)(*v - p);
	while (*vl > 0 && (**v == ' ' || **v == '\t')) {
		(*v)++;
		(*vl)--;
	}
	while (*vl > 0 && ((*v)[*vl - 1] == ' ' || (*v)[*vl - 1] == '\t'))
		(*vl)--;
	return 1;
}

/*
 * A CGI response (RFC 3875 6): header lines ended by LF or CRLF up to an
 * empty line, then the body. Status, Content-Type and Location are
 * understood; other well-formed fields pass; fields a handler may not set
 * and malformed ones are dropped. Returns 0, or -1 for output that is not
 * a CGI response (502): no empty line, a line that is no field, obs-fold,
 * a repeated or bad Status, or none of the three.
 */
int
cgi_resp_parse(const uint8_t *out, size_t len, struct cgi_resp *cs)
{
	const uint8_t	*p = out, *end, *n, *v;
	size_t		 i, vl, nlen, total = len;
	int		 have_status = 0, have_type = 0, have_loc = 0, ok, r;

	memset(cs, 0, sizeof(*cs));
	if (len > CGI_HEAD_MAX * 2)
		len = CGI_HEAD_MAX * 2;	/* the head must end before */
	end = out + len;
	for (;;) {
		if ((r = head_field(&p, end, &n, &nlen, &v, &vl)) == -1)
			return -1;
		if (r == 0)
			break;
		ok = hh_is_token(n, nlen);
		for (i = 0; ok && i < vl; i++)
			if (v[i] != '\t' && is_ctl(v[i]))
				ok = 0;
		if (ieq((const char *)n, nlen, "status")) {
			if (have_status++ || !ok ||
			    cgi_status(v, vl, cs) == -1)
				return -1;
		} else if (!ok || cgi_resp_hidden((const char *)n, nlen)) {
			/* dropped */
		} else {
			if (ieq((const char *)n, nlen, "content-type")) {
				if (have_type++ || vl == 0)
					return -1;
			} else if (ieq((const char *)n, nlen, "location")) {
				if (have_loc++ || vl == 0)
					return -1;
			}
			if (cgi_head_add(cs, n, nlen, v, vl) == -1)
				return -1;
		}
	}
	if (!have_status && !have_type && !have_loc)
		return -1;
	/*
	 * A Location without a Status is a redirect (RFC 3875 6.2.3, 6.2.4);
	 * a local one ("/path") is sent as one too, not followed here.
	 */
	if (!have_status)
		cs->cs_status = have_loc ? 302 : 200;
	cs->cs_body_off = (size_t)(p - out);
	cs->cs_body_len = total - cs->cs_body_off;
	return 0;
}

/*
 * Request fields a persistent app is not sent: those that belong to one
 * hop (RFC 9110 7.6.1), the framing, which we redo for the buffered body
 * ("Expect: 100-continue" too: the body is already here), and "Proxy"
 * (httpoxy, as for handlers). Unlike a handler, an app sees Authorization:
 * it does its own auth. Names a Connection field lists are not dropped:
 * "Connection: X-Forwarded-For" is the classic way to strip the client
 * address the proxy set; an app gets what the proxy sent.
 */
static int
cgi_app_req_hidden(const char *n, size_t len)
{
	return ieq(n, len, "connection") || ieq(n, len, "keep-alive") ||
	    ieq(n, len, "proxy-connection") || ieq(n, len, "te") ||
	    ieq(n, len, "trailer") || ieq(n, len, "transfer-encoding") ||
	    ieq(n, len, "upgrade") || ieq(n, len, "content-length") ||
	    ieq(n, len, "expect") || ieq(n, len, "proxy") ||
	    ieq(n, len, "proxy-authorization");
}

static int
ab_add(uint8_t *buf, size_t sz, size_t *o, const void *s, size_t len)
{
	if (len > sz - *o)
		return -1;
	memcpy(buf + *o, s, len);
	*o += len;
	return 0;
}

/*
 * The HTTP/1.0 request head for a persistent app: our request line with
 * the client's method and target, the client's fields but the hidden
 * ones, "Connection: close" and the body's Content-Length. Field names
 * outside [A-Za-z0-9-] and values with a control byte other than HTAB are
 * dropped, as for handlers: many app frameworks map "X_User" and "X-User"
 * to one name. Returns 0 with *len, 400 for a target or head we cannot
 * repeat, or 500 if buf (CGI_APP_HEAD_SIZE of the head) is too small.
 */
int
cgi_app_request(const struct cgi_req *cq, uint8_t *buf, size_t sz,
    size_t *len)
{
	const uint8_t	*h = cq->cq_head;
	struct hh_span	 n, v;
	size_t		 o = 0, pos = 0, i;
	char		 num[48];
	int		 r, ok;

	*len = 0;
	if (cq->cq_target_len == 0)
		return 400;
	for (i = 0; i < cq->cq_target_len; i++)
		if ((unsigned char)cq->cq_target[i] <= 0x20 ||
		    (unsigned char)cq->cq_target[i] == 0x7f)
			return 400;
	if (ab_add(buf, sz, &o, cq->cq_method, strlen(cq->cq_method)) == -1 ||
	    ab_add(buf, sz, &o, " ", 1) == -1 ||
	    ab_add(buf, sz, &o, cq->cq_target, cq->cq_target_len) == -1 ||
	    ab_add(buf, sz, &o, " HTTP/1.0\r\n", 11) == -1)
		return 500;
	while ((r = hh_field_next(h, cq->cq_head_len, &pos, &n, &v)) == 1) {
		ok = !cgi_app_req_hidden((const char *)h + n.off, n.len);
		for (i = 0; ok && i < n.len; i++) {
			unsigned char	 c = h[n.off + i];

			ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-';
		}
		for (i = 0; ok && i < v.len; i++)
			if (h[v.off + i] != '\t' && is_ctl(h[v.off + i]))
				ok = 0;
		if (!ok)
			continue;
		if (ab_add(buf, sz, &o, h + n.off, n.len) == -1 ||
		    ab_add(buf, sz, &o, v.len ? ": " : ":", v.len ? 2 : 1) ==
		    -1 || ab_add(buf, sz, &o, h + v.off, v.len) == -1 ||
		    ab_add(buf, sz, &o, "\r\n", 2) == -1)
			return 500;
	}
	if (r == -1)
		return 400;
	if (ab_add(buf, sz, &o, "Connection: close\r\n", 19) == -1)
		return 500;
	if (cq->cq_has_body) {
		snprintf(num, sizeof(num), "Content-Length: %llu\r\n",
		    (unsigned long long)cq->cq_clen);
		if (ab_add(buf, sz, &o, num, strlen(num)) == -1)
			return 500;
	}
	if (ab_add(buf, sz, &o, "\r\n", 2) == -1)
		return 500;
	*len = o;
	return 0;
}

/* 1..19 digits, nothing else: no sign, no list, no overflow. */
static int
cgi_clen(const uint8_t *v, size_t len, uint64_t *out)
{
	size_t	 i;

	if (len == 0 || len > 19)
		return -1;
	*out = 0;
	for (i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		*out = *out * 10 + (uint64_t)(v[i] - '0');
	}
	return 0;
}

/*
 * A persistent app's response, read to EOF: "HTTP/1.x NNN reason", header
 * lines ended by CRLF (or LF) up to an empty line, within CGI_HEAD_MAX,
 * then the body. head is 1 for a HEAD request. Fields a client must get
 * from us (framing, persistence, Date) are dropped; everything else must
 * be well-formed, or the app is a bad gateway: a bad status line or a 1xx,
 * a name that is no token, a control byte in a value, obs-fold, any
 * Transfer-Encoding (we do not decode one, and dropping it would hand on
 * a body in a coding nobody announces), a Content-Length that is no
 * number, disagrees with another, or is not the body's length. Returns 0
 * or -1 (502).
 */
int
cgi_app_resp_parse(const uint8_t *out, size_t len, int head,
    struct cgi_resp *cs)
{
	const uint8_t	*p, *end, *lf, *n, *v;
	size_t		 i, vl, nl, nlen, hl;
	uint64_t	 clen;
	int		 r;

	memset(cs, 0, sizeof(*cs));
	hl = len > CGI_HEAD_MAX ? CGI_HEAD_MAX : len;
	end = out + hl;
	if ((lf = memchr(out, '\n', hl)) == NULL)
		return -1;
	nl = (size_t)(lf - out);
	if (nl > 0 && out[nl - 1] == '\r')
		nl--;
	if (nl < 12 || memcmp(out, "HTTP/1.", 7) != 0 || out[7] < '0' ||
	    out[7] > '9' || out[8] != ' ' || memchr(out, '\r', nl) != NULL ||
	    cgi_status(out + 9, nl - 9, cs) == -1)
		return -1;
	p = lf + 1;
	for (;;) {
		if ((r = head_field(&p, end, &n, &nlen, &v, &vl)) == -1)
			return -1;
		if (r == 0)
			break;
		if (!hh_is_token(n, nlen))
			return -1;
		for (i = 0; i < vl; i++)
			if (v[i] != '\t' && is_ctl(v[i]))
				return -1;
		if (ieq((const char *)n, nlen, "transfer-encoding"))
			return -1;
		if (ieq((const char *)n, nlen, "content-length")) {
			if (cgi_clen(v, vl, &clen) == -1 ||
			    (cs->cs_has_clen && clen != cs->cs_clen))
				return -1;
			cs->cs_has_clen = 1;
			cs->cs_clen = clen;
		} else if (!cgi_resp_hidden((const char *)n, nlen) &&
		    cgi_head_add(cs, n, nlen, v, vl) == -1)
			return -1;
	}
	cs->cs_body_off = (size_t)(p - out);
	/*
	 * These have no body (RFC 9110 6.4.1, 9.3.2): a Content-Length
	 * describes the representation, not bytes that follow, and whatever
	 * follows is dropped.
	 */
	if (head || cs->cs_status == 204 || cs->cs_status == 304)
		return 0;
	cs->cs_body_len = len - cs->cs_body_off;
	if (cs->cs_has_clen && cs->cs_clen != cs->cs_body_len)
		return -1;	/* cut short, or more than it said */
	return 0;
}
