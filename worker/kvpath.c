/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Pure helpers of the data plane (kvpath.h): reading the /.tenantd/ target,
 * keys, the list query and the Bearer credential out of client bytes, and
 * the token bucket's arithmetic. A key is data, never a path: it is
 * percent-decoded once and otherwise kept byte for byte (docs/security.md,
 * item 98).
 */
#include <string.h>
#include <strings.h>

#include "httphead.h"
#include "kvpath.h"

#define TB_UNIT		60000ULL	/* units per token: ms per minute */
#define TB_RATE_MAX	1000000000ULL	/* keeps rate * TB_UNIT far from 2^64 */

static int
span_is(const char *s, size_t len, const char *lit)
{
	return len == strlen(lit) && memcmp(s, lit, len) == 0;
}

/*
 * Classify an origin-form target. Only the path (before '?') decides; a
 * percent-encoded spelling of the prefix is not the prefix, and the static
 * resolver refuses dot-segments such as "%2Etenantd" anyway.
 */
void
kv_target_parse(const char *t, size_t len, struct kv_target *kt)
{
	const char	*q;
	size_t		 plen, n = strlen(KV_API_PREFIX);

	memset(kt, 0, sizeof(*kt));
	q = memchr(t, '?', len);
	plen = q != NULL ? (size_t)(q - t) : len;
	if (q != NULL) {
		kt->kt_has_query = 1;
		kt->kt_query_off = plen + 1;
		kt->kt_query_len = len - plen - 1;
	}
	if (span_is(t, plen, KV_API_PREFIX) ||
	    span_is(t, plen, KV_API_PREFIX "/")) {
		kt->kt_route = KV_ROUTE_LIST;
		return;
	}
	if (plen > n + 1 && memcmp(t, KV_API_PREFIX "/", n + 1) == 0) {
		kt->kt_route = kt->kt_has_query ? KV_ROUTE_BAD : KV_ROUTE_ITEM;
		kt->kt_key_off = n + 1;
		kt->kt_key_len = plen - n - 1;
		return;
	}
	if (span_is(t, plen, "/.tenantd") || (plen >= strlen(KV_PREFIX) &&
	    memcmp(t, KV_PREFIX, strlen(KV_PREFIX)) == 0))
		kt->kt_route = KV_ROUTE_UNKNOWN;
	else
		kt->kt_route = KV_ROUTE_NONE;
}

/*
 * Decode %XX once; every other byte stands for itself ('+' too: this is a
 * path and a query we define, not a form). Returns 0, -1 for a bad escape,
 * -2 when the result would not fit in dstsz bytes.
 */
int
kv_unescape(const char *s, size_t len, char *dst, size_t dstsz, size_t *out)
{
	size_t	 i, o = 0;
	int	 hi, lo;

	for (i = 0; i < len; i++) {
		if (o == dstsz)
			return -2;
		if (s[i] != '%') {
			dst[o++] = s[i];
			continue;
		}
		if (len - i < 3 || (hi = hex_digit(s[i + 1])) == -1 ||
		    (lo = hex_digit(s[i + 2])) == -1)
			return -1;
		dst[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	*out = o;
	return 0;
}

/*
 * 1..max bytes of well-formed UTF-8 (no overlong form, no surrogate,
 * nothing above U+10FFFF) without control characters (C0, DEL, C1): a key
 * goes into JSON, logs and clients' terminals as it is.
 */
int
kv_key_valid(const char *k, size_t len, size_t max)
{
	const unsigned char	*s = (const unsigned char *)k;
	size_t			 i = 0, n, j;
	uint32_t		 cp, min;

	if (len == 0 || len > max)
		return -1;
	while (i < len) {
		if (s[i] < 0x80) {
			if (s[i] < 0x20 || s[i] == 0x7f)
				return -1;
			i++;
			continue;
		}
		if (s[i] >= 0xc2 && s[i] <= 0xdf) {
			n = 1;
			cp = s[i] & 0x1f;
			min = 0x80;
		} else if (s[i] >= 0xe0 && s[i] <= 0xef) {
			n = 2;
			cp = s[i] & 0x0f;
			min = 0x800;
		} else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
			n = 3;
			cp = s[i] & 0x07;
			min = 0x10000;
		} else
			return -1;
		if (len - i <= n)
			return -1;
		for (j = 1; j <= n; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return -1;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 &&
		    cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
			return -1;
		i += n + 1;
	}
	return 0;
}

static int
query_limit(const char *s, size_t len, unsigned int *out)
{
	unsigned int	 v = 0;
	size_t		 i;

	if (len == 0 || len > 4)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned int)(s[i] - '0');
	}
	if (v < 1 || v > KV_LIST_MAX)
		return -1;
	*out = v;
	return 0;
}

/*
 * "prefix=P&limit=N&after=K", each at most once, nothing else. The caller
 * points kq_prefix and kq_after at buffers of max + 1 bytes; the decoded
 * values are NUL-terminated there (they contain no NUL: see kv_key_valid).
 * An empty prefix means all keys; an empty "after" is refused.
 */
int
kv_query_parse(const char *q, size_t len, size_t max, struct kv_query *kq)
{
	const char	*p = q, *end = q + len, *amp, *eq;
	size_t		 nlen, vlen;
	int		 seen_p = 0, seen_a = 0, seen_l = 0;

	kq->kq_limit = KV_LIST_DEFAULT;
	kq->kq_prefix_len = kq->kq_after_len = 0;
	kq->kq_prefix[0] = kq->kq_after[0] = '\0';
	while (p < end) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		if (amp == p) {
			p++;
			continue;
		}
		if ((eq = memchr(p, '=', (size_t)(amp - p))) == NULL)
			return -1;
		nlen = (size_t)(eq - p);
		vlen = (size_t)(amp - eq - 1);
		if (span_is(p, nlen, "prefix")) {
			if (seen_p++ || kv_unescape(eq + 1, vlen,
			    kq->kq_prefix, max, &kq->kq_prefix_len) != 0 ||
			    (kq->kq_prefix_len > 0 &&
			    kv_key_valid(kq->kq_prefix, kq->kq_prefix_len,
			    max) == -1))
				return -1;
			kq->kq_prefix[kq->kq_prefix_len] = '\0';
		} else if (span_is(p, nlen, "after")) {
			if (seen_a++ || kv_unescape(eq + 1, vlen,
			    kq->kq_after, max, &kq->kq_after_len) != 0 ||
			    kv_key_valid(kq->kq_after, kq->kq_after_len,
			    max) == -1)
				return -1;
			kq->kq_after[kq->kq_after_len] = '\0';
		} else if (span_is(p, nlen, "limit")) {
			if (seen_l++ || query_limit(eq + 1, vlen,
			    &kq->kq_limit) == -1)
				return -1;
		} else
			return -1;
		p = amp;
	}
	return 0;
}

/*
 * "Bearer <token>" (RFC 6750 2.1; the scheme is case-insensitive, RFC 9110
 * 11.1). The head reader trimmed the value. Returns 0 with the token's
 * span, or -1 for another scheme or a token with blanks in it.
 */
int
kv_bearer(const char *v, size_t len, size_t *off, size_t *tlen)
{
	size_t	 i;

	if (len < 8 || strncasecmp(v, "bearer", 6) != 0 || v[6] != ' ')
		return -1;
	for (i = 7; i < len && v[i] == ' '; i++)
		;
	if (i == len)
		return -1;
	*off = i;
	*tlen = len - i;
	for (; i < len; i++)
		if (v[i] == ' ' || v[i] == '\t')
			return -1;
	return 0;
}

/* Bytes kv_json_str() writes for s: quotes and escapes included. */
size_t
kv_json_str_len(const char *s, size_t len)
{
	size_t	 i, n = 2;

	for (i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			n += 2;
		else if ((unsigned char)s[i] < 0x20)
			n += 6;
		else
			n++;
	}
	return n;
}

/*
 * s (valid UTF-8) as a JSON string. Writes nothing and returns 0 if it
 * does not fit in dstsz bytes.
 */
size_t
kv_json_str(char *dst, size_t dstsz, const char *s, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i, o = 0;
	unsigned char		 ch;

	if (kv_json_str_len(s, len) > dstsz)
		return 0;
	dst[o++] = '"';
	for (i = 0; i < len; i++) {
		ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\') {
			dst[o++] = '\\';
			dst[o++] = (char)ch;
		} else if (ch < 0x20) {
			memcpy(dst + o, "\\u00", 4);
			dst[o + 4] = hex[ch >> 4];
			dst[o + 5] = hex[ch & 0xf];
			o += 6;
		} else
			dst[o++] = (char)ch;
	}
	dst[o++] = '"';
	return o;
}

static uint64_t
tb_clamp(uint64_t rate)
{
	if (rate == 0)
		return 1;	/* a share of nothing still lets one through */
	return rate > TB_RATE_MAX ? TB_RATE_MAX : rate;
}

static void
tb_refill(struct tbucket *tb, uint64_t now_ms)
{
	uint64_t	 cap = tb->tb_rate * TB_UNIT, d;

	/*
	 * A clock that went back (it is monotonic, but be safe) adds none,
	 * and the time it went back is not counted twice later.
	 */
	if (now_ms <= tb->tb_last_ms)
		return;
	d = now_ms - tb->tb_last_ms;
	if (d >= TB_UNIT || tb->tb_units + d * tb->tb_rate >= cap)
		tb->tb_units = cap;
	else
		tb->tb_units += d * tb->tb_rate;
	tb->tb_last_ms = now_ms;
}

/* Full: a worker that just started may use a minute's worth at once. */
void
tb_init(struct tbucket *tb, uint64_t rate, uint64_t now_ms)
{
	tb->tb_rate = tb_clamp(rate);
	tb->tb_units = tb->tb_rate * TB_UNIT;
	tb->tb_last_ms = now_ms;
}

void
tb_set_rate(struct tbucket *tb, uint64_t rate, uint64_t now_ms)
{
	tb_refill(tb, now_ms);
	tb->tb_rate = tb_clamp(rate);
	if (tb->tb_units > tb->tb_rate * TB_UNIT)
		tb->tb_units = tb->tb_rate * TB_UNIT;
}

/*
 * Take one token: 0, or -1 with the whole seconds until one is there
 * (at least 1, as Retry-After 0 would invite an immediate retry).
 */
int
tb_take(struct tbucket *tb, uint64_t now_ms, uint64_t *retry_s)
{
	uint64_t	 ms;

	tb_refill(tb, now_ms);
	if (tb->tb_units >= TB_UNIT) {
		tb->tb_units -= TB_UNIT;
		return 0;
	}
	ms = (TB_UNIT - tb->tb_units + tb->tb_rate - 1) / tb->tb_rate;
	*retry_s = (ms + 999) / 1000;
	if (*retry_s == 0)
		*retry_s = 1;
	return -1;
}
