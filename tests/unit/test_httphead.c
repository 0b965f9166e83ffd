/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Request-head reader (docs/security.md, items 61-71, 75-76): a table of
 * requests with the verdict each must get. Every case is fed at once, byte by
 * byte and split at random points, each time into a freshly allocated buffer
 * of exactly the bytes received so far (so a stale pointer or a read past the
 * end shows under ASan/valgrind), and every way must give the same verdict and
 * the same fields (docs/security.md, item 71).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "admit.h"
#include "host.h"
#include "httphead.h"

#define HEAD_MAX	8192	/* the config defaults */
#define TARGET_MAX	4096

#define REQ(s)	.req = s, .len = sizeof(s) - 1

struct hcase {
	const char	*name;
	const char	*req;
	size_t		 len;
	int		 verdict;
	int		 status;	/* HH_ERROR: the answer */
	/* HH_DONE: */
	unsigned int	 method;
	unsigned int	 minor;
	const char	*host;		/* NULL: no Host field at all */
	enum host_class	 hclass;	/* what the classifier makes of it */
	int		 ka;
	size_t		 tail;		/* bytes after the head */
	int		 has_clen;
	uint64_t	 clen;
	int		 chunked;
	int		 expect;
};

#define GET11	"GET / HTTP/1.1\r\n"
#define HOST	"Host: acme.test.localhost\r\n"
#define OK(...)	.verdict = HH_DONE, __VA_ARGS__
#define BAD(st)	.verdict = HH_ERROR, .status = st

static const struct hcase cases[] = {
	/* Well-formed heads. */
	{ "simple", REQ(GET11 HOST "\r\n"), OK(.method = HTTP_GET,
	    .minor = 1, .host = "acme.test.localhost",
	    .hclass = HOST_SUBDOMAIN, .ka = 1) },
	{ "head method", REQ("HEAD /x?y=1 HTTP/1.1\r\n" HOST "\r\n"),
	    OK(.method = HTTP_HEAD, .minor = 1,
	    .host = "acme.test.localhost", .hclass = HOST_SUBDOMAIN,
	    .ka = 1) },
	{ "post with body", REQ("POST /f HTTP/1.1\r\n" HOST
	    "Content-Length: 5\r\n\r\nhello"), OK(.method = HTTP_POST,
	    .minor = 1, .host = "acme.test.localhost",
	    .hclass = HOST_SUBDOMAIN, .ka = 1, .tail = 5, .has_clen = 1,
	    .clen = 5) },
	{ "content-length 003", REQ("PUT /f HTTP/1.1\r\n" HOST
	    "Content-Length: 003\r\n\r\nabc"), OK(.method = HTTP_PUT,
	    .minor = 1, .host = "acme.test.localhost",
	    .hclass = HOST_SUBDOMAIN, .ka = 1, .tail = 3, .has_clen = 1,
	    .clen = 3) },
	{ "content-length 0", REQ("DELETE /f HTTP/1.1\r\n" HOST
	    "Content-Length: 0\r\n\r\n"), OK(.method = HTTP_DELETE,
	    .minor = 1, .host = "acme.test.localhost",
	    .hclass = HOST_SUBDOMAIN, .ka = 1, .has_clen = 1) },
	{ "pipelined", REQ(GET11 HOST "\r\n" GET11
	    "Host: other.test.localhost\r\n\r\n"), OK(.method = HTTP_GET,
	    .minor = 1, .host = "acme.test.localhost",
	    .hclass = HOST_SUBDOMAIN, .ka = 1,
	    .tail = sizeof(GET11 "Host: other.test.localhost\r\n\r\n") - 1) },
	{ "http/1.0", REQ("GET / HTTP/1.0\r\n" HOST "\r\n"),
	    OK(.method = HTTP_GET, .host = "acme.test.localhost",
	    .hclass = HOST_SUBDOMAIN) },
	{ "http/1.0 keep-alive", REQ("GET / HTTP/1.0\r\n" HOST
	    "Connection: keep-alive\r\n\r\n"), OK(.method = HTTP_GET,
	    .host = "acme.test.localhost", .hclass = HOST_SUBDOMAIN,
	    .ka = 1) },
	{ "connection close", REQ(GET11 HOST "Connection: close\r\n\r\n"),
	    OK(.method = HTTP_GET, .minor = 1,
	    .host = "acme.test.localhost", .hclass = HOST_SUBDOMAIN) },
	{ "missing host", REQ(GET11 "\r\n"), OK(.method = HTTP_GET,
	    .minor = 1, .ka = 1) },
	{ "missing host 1.0", REQ("GET / HTTP/1.0\r\nAccept: */*\r\n\r\n"),
	    OK(.method = HTTP_GET) },
	/* Parsed, but the classifier refuses it (docs/security.md, item 75). */
	{ "host list", REQ(GET11 "Host: a, b\r\n\r\n"),
	    OK(.method = HTTP_GET, .minor = 1, .host = "a, b",
	    .hclass = HOST_INVALID, .ka = 1) },
	{ "host list of tenants", REQ(GET11
	    "Host: acme.test.localhost, evil.test.localhost\r\n\r\n"),
	    OK(.method = HTTP_GET, .minor = 1,
	    .host = "acme.test.localhost, evil.test.localhost",
	    .hclass = HOST_INVALID, .ka = 1) },
	{ "host empty", REQ(GET11 "Host:\r\n\r\n"), OK(.method = HTTP_GET,
	    .minor = 1, .host = "", .hclass = HOST_INVALID, .ka = 1) },
	{ "host empty then more", REQ(GET11 "Host:\r\nAccept: */*\r\n\r\n"),
	    OK(.method = HTTP_GET, .minor = 1, .host = "",
	    .hclass = HOST_INVALID, .ka = 1) },
	{ "host ows trimmed", REQ(GET11
	    "Host: \t acme.test.localhost \t\r\n\r\n"), OK(.method = HTTP_GET,
	    .minor = 1, .host = "acme.test.localhost",
	    .hclass = HOST_SUBDOMAIN, .ka = 1) },
	{ "host name case", REQ(GET11 "hOST: ACME.test.localhost.:443\r\n\r\n"),
	    OK(.method = HTTP_GET, .minor = 1,
	    .host = "ACME.test.localhost.:443", .hclass = HOST_SUBDOMAIN,
	    .ka = 1) },
	{ "host with userinfo", REQ(GET11
	    "Host: user@acme.test.localhost\r\n\r\n"), OK(.method = HTTP_GET,
	    .minor = 1, .host = "user@acme.test.localhost",
	    .hclass = HOST_INVALID, .ka = 1) },
	/*
	 * Forwarding headers are not routing input (docs/security.md,
	 * item 82).
	 */
	{ "forwarded ignored", REQ(GET11 HOST
	    "X-Forwarded-Host: evil.test.localhost\r\n"
	    "Forwarded: host=evil.test.localhost\r\n"
	    "X-Original-Host: evil.test.localhost\r\n\r\n"),
	    OK(.method = HTTP_GET, .minor = 1,
	    .host = "acme.test.localhost", .hclass = HOST_SUBDOMAIN,
	    .ka = 1) },
	{ "chunked", REQ("POST / HTTP/1.1\r\n" HOST
	    "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
	    OK(.method = HTTP_POST, .minor = 1,
	    .host = "acme.test.localhost", .hclass = HOST_SUBDOMAIN,
	    .ka = 1, .tail = 15, .chunked = 1) },
	{ "chunked any case", REQ("POST / HTTP/1.1\r\n" HOST
	    "transfer-encoding: Chunked\r\n\r\n"), OK(.method = HTTP_POST,
	    .minor = 1, .host = "acme.test.localhost",
	    .hclass = HOST_SUBDOMAIN, .ka = 1, .chunked = 1) },
	{ "chunked with ows", REQ("POST / HTTP/1.1\r\n" HOST
	    "Transfer-Encoding:  CHUNKED \r\n\r\n"), OK(.method = HTTP_POST,
	    .minor = 1, .host = "acme.test.localhost",
	    .hclass = HOST_SUBDOMAIN, .ka = 1, .chunked = 1) },
	/*
	 * Not framing at all: just an unknown field (docs/security.md,
	 * item 63).
	 */
	{ "transfer_encoding", REQ("POST / HTTP/1.1\r\n" HOST
	    "Transfer_Encoding: chunked\r\n\r\n"), OK(.method = HTTP_POST,
	    .minor = 1, .host = "acme.test.localhost",
	    .hclass = HOST_SUBDOMAIN, .ka = 1) },
	{ "expect 100-continue", REQ("PUT /f HTTP/1.1\r\n" HOST
	    "Expect: 100-Continue\r\nContent-Length: 1\r\n\r\n"),
	    OK(.method = HTTP_PUT, .minor = 1,
	    .host = "acme.test.localhost", .hclass = HOST_SUBDOMAIN,
	    .ka = 1, .has_clen = 1, .clen = 1, .expect = 1) },
	{ "options asterisk", REQ("OPTIONS * HTTP/1.1\r\n" HOST "\r\n"),
	    OK(.method = HTTP_OPTIONS, .minor = 1,
	    .host = "acme.test.localhost", .hclass = HOST_SUBDOMAIN,
	    .ka = 1) },
	{ "absolute form", REQ("GET http://acme.test.localhost/x?y "
	    "HTTP/1.1\r\n" HOST "\r\n"), OK(.method = HTTP_GET, .minor = 1,
	    .host = "acme.test.localhost", .hclass = HOST_SUBDOMAIN,
	    .ka = 1) },

	/*
	 * Framing: CL + TE, TE other than one "chunked" (docs/security.md,
	 * items 61-63).
	 */
	{ "cl then te", REQ("POST / HTTP/1.1\r\n" HOST "Content-Length: 5\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"), BAD(400) },
	{ "te then cl", REQ("POST / HTTP/1.1\r\n" HOST
	    "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"),
	    BAD(400) },
	{ "te identity", REQ("POST / HTTP/1.1\r\n" HOST
	    "Transfer-Encoding: identity\r\n\r\n"), BAD(400) },
	{ "te chunked, identity", REQ("POST / HTTP/1.1\r\n" HOST
	    "Transfer-Encoding: chunked, identity\r\n\r\n"), BAD(400) },
	{ "te identity, chunked", REQ("POST / HTTP/1.1\r\n" HOST
	    "Transfer-Encoding: identity, chunked\r\n\r\n"), BAD(400) },
	{ "te chunked, chunked", REQ("POST / HTTP/1.1\r\n" HOST
	    "Transfer-Encoding: chunked, chunked\r\n\r\n"), BAD(400) },
	{ "te twice", REQ("POST / HTTP/1.1\r\n" HOST
	    "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
	    BAD(400) },
	{ "te chunkedchunked", REQ("POST / HTTP/1.1\r\n" HOST
	    "Transfer-Encoding: chunkedchunked\r\n\r\n"), BAD(400) },
	{ "te quoted", REQ("POST / HTTP/1.1\r\n" HOST
	    "Transfer-Encoding: \"chunked\"\r\n\r\n"), BAD(400) },
	{ "te comma first", REQ("POST / HTTP/1.1\r\n" HOST
	    "Transfer-Encoding: ,chunked\r\n\r\n"), BAD(400) },
	{ "te chunk", REQ("POST / HTTP/1.1\r\n" HOST
	    "Transfer-Encoding: chunk\r\n\r\n"), BAD(400) },
	{ "te empty", REQ("POST / HTTP/1.1\r\n" HOST
	    "Transfer-Encoding:\r\n\r\n"), BAD(400) },
	{ "te vertical tab", REQ("POST / HTTP/1.1\r\n" HOST
	    "Transfer-Encoding:\x0b" "chunked\r\n\r\n"), BAD(400) },
	{ "te space before colon", REQ("POST / HTTP/1.1\r\n" HOST
	    "Transfer-Encoding : chunked\r\n\r\n"), BAD(400) },
	/*
	 * RFC 9112 5.1: whitespace between name and colon MUST get a 400;
	 * "Transfer-Encoding :" is a classic smuggling spelling
	 * (docs/security.md, item 63).
	 */
	{ "te identity space before colon", REQ("POST / HTTP/1.1\r\n" HOST
	    "Transfer-Encoding : identity\r\n\r\n"), BAD(400) },
	{ "cl space before colon", REQ("POST / HTTP/1.1\r\n" HOST
	    "Content-Length : 5\r\n\r\n"), BAD(400) },
	{ "second host space before colon", REQ(GET11 HOST
	    "Host : evil.test.localhost\r\n\r\n"), BAD(400) },
	{ "host tab before colon", REQ(GET11
	    "Host\t: acme.test.localhost\r\n\r\n"), BAD(400) },
	/*
	 * A field whose name merely begins with "Transfer-Encoding" is some
	 * other field: it must not undo the framing of the real one.
	 */
	{ "te then te-prefixed field", REQ("POST / HTTP/1.1\r\n" HOST
	    "Transfer-Encoding: chunked\r\nTransfer-Encoding-X: 1\r\n\r\n"),
	    OK(.method = HTTP_POST, .minor = 1,
	    .host = "acme.test.localhost", .hclass = HOST_SUBDOMAIN,
	    .ka = 1, .chunked = 1) },
	{ "te then te-prefixed field chunked", REQ("POST / HTTP/1.1\r\n" HOST
	    "Transfer-Encoding: chunked\r\nTransfer-Encodings: chunked\r\n"
	    "\r\n"), OK(.method = HTTP_POST, .minor = 1,
	    .host = "acme.test.localhost", .hclass = HOST_SUBDOMAIN,
	    .ka = 1, .chunked = 1) },
	{ "te-prefixed field alone", REQ("POST / HTTP/1.1\r\n" HOST
	    "Transfer-Encodingx: chunked\r\n\r\n"), OK(.method = HTTP_POST,
	    .minor = 1, .host = "acme.test.localhost",
	    .hclass = HOST_SUBDOMAIN, .ka = 1) },
	{ "te on http/1.0", REQ("POST / HTTP/1.0\r\n" HOST
	    "Transfer-Encoding: chunked\r\n\r\n"), BAD(400) },

	/* Content-Length (docs/security.md, item 64). */
	{ "cl plus", REQ("POST / HTTP/1.1\r\n" HOST
	    "Content-Length: +5\r\n\r\n"), BAD(400) },
	{ "cl minus", REQ("POST / HTTP/1.1\r\n" HOST
	    "Content-Length: -1\r\n\r\n"), BAD(400) },
	{ "cl hex", REQ("POST / HTTP/1.1\r\n" HOST
	    "Content-Length: 0x5\r\n\r\n"), BAD(400) },
	{ "cl list", REQ("POST / HTTP/1.1\r\n" HOST
	    "Content-Length: 5, 5\r\n\r\n"), BAD(400) },
	{ "cl list no space", REQ("POST / HTTP/1.1\r\n" HOST
	    "Content-Length: 5,5\r\n\r\n"), BAD(400) },
	{ "cl inner space", REQ("POST / HTTP/1.1\r\n" HOST
	    "Content-Length: 5 5\r\n\r\n"), BAD(400) },
	{ "cl empty", REQ("POST / HTTP/1.1\r\n" HOST
	    "Content-Length:\r\n\r\n"), BAD(400) },
	{ "cl exponent", REQ("POST / HTTP/1.1\r\n" HOST
	    "Content-Length: 1e3\r\n\r\n"), BAD(400) },
	{ "cl overflow", REQ("POST / HTTP/1.1\r\n" HOST
	    "Content-Length: 99999999999999999999999\r\n\r\n"), BAD(400) },
	{ "cl twice same", REQ("POST / HTTP/1.1\r\n" HOST
	    "Content-Length: 5\r\nContent-Length: 5\r\n\r\n"), BAD(400) },
	{ "cl twice different", REQ("POST / HTTP/1.1\r\n" HOST
	    "Content-Length: 5\r\nContent-Length: 6\r\n\r\n"), BAD(400) },

	/* Host (docs/security.md, item 75). */
	{ "host twice", REQ(GET11 HOST HOST "\r\n"), BAD(400) },
	{ "host twice other", REQ(GET11 HOST
	    "host: evil.test.localhost\r\n\r\n"), BAD(400) },
	{ "host twice empty", REQ(GET11 "Host:\r\n" HOST "\r\n"), BAD(400) },

	/* Field syntax (docs/security.md, items 65-66). */
	{ "obs-fold", REQ(GET11 HOST "X-A: a\r\n b\r\n\r\n"), BAD(400) },
	{ "obs-fold tab", REQ(GET11 HOST "X-A: a\r\n\tb\r\n\r\n"), BAD(400) },
	{ "obs-fold host", REQ(GET11
	    "Host: acme\r\n .test.localhost\r\n\r\n"), BAD(400) },
	{ "obs-fold empty host", REQ(GET11
	    "Host:\r\n acme.test.localhost\r\n\r\n"), BAD(400) },
	{ "obs-fold empty te", REQ("POST / HTTP/1.1\r\n" HOST
	    "Transfer-Encoding:\r\n chunked\r\n\r\n"), BAD(400) },
	{ "space before colon", REQ(GET11 "Host : acme.test.localhost\r\n\r\n"),
	    BAD(400) },
	{ "leading space line", REQ(GET11 " " HOST "\r\n"), BAD(400) },
	{ "bare lf everywhere", REQ("GET / HTTP/1.1\nHost: "
	    "acme.test.localhost\n\n"), BAD(400) },
	{ "bare lf request line", REQ("GET / HTTP/1.1\n" HOST "\r\n"),
	    BAD(400) },
	{ "bare lf one field", REQ(GET11 "Host: acme.test.localhost\n"
	    "Accept: */*\r\n\r\n"), BAD(400) },
	{ "bare lf at end", REQ(GET11 HOST "\n"), BAD(400) },
	{ "bare cr in value", REQ(GET11 "Host: acme.test.localhost\rX: y\r\n"
	    "\r\n"), BAD(400) },
	{ "bare cr inside value", REQ(GET11 HOST "X: a\rb\r\n\r\n"),
	    BAD(400) },
	{ "bare cr request line", REQ("GET / HTTP/1.1\r" HOST "\r\n"),
	    BAD(400) },
	/* The blank line ending the head is CR LF, not CR and any byte. */
	{ "bare cr ends head", REQ(GET11 HOST "\r*"), BAD(400) },
	{ "cr cr ends head", REQ(GET11 HOST "\r\r"), BAD(400) },
	{ "bare cr ends head, body", REQ("POST / HTTP/1.1\r\n" HOST
	    "Content-Length: 5\r\n\rXhello"), BAD(400) },
	{ "nul in value", REQ(GET11 HOST "X: a\0b\r\n\r\n"), BAD(400) },
	{ "nul in host", REQ(GET11 "Host: acme\0.evil.test\r\n\r\n"),
	    BAD(400) },
	{ "nul in name", REQ(GET11 HOST "X\0Y: z\r\n\r\n"), BAD(400) },
	{ "del in name", REQ(GET11 HOST "X\x7fY: z\r\n\r\n"), BAD(400) },
	{ "8bit in name", REQ(GET11 HOST "\xc3\xa9: z\r\n\r\n"), BAD(400) },
	{ "space in name", REQ(GET11 HOST "X Y: z\r\n\r\n"), BAD(400) },
	{ "empty name", REQ(GET11 HOST ": z\r\n\r\n"), BAD(400) },
	{ "no colon", REQ(GET11 HOST "Xyz\r\n\r\n"), BAD(400) },

	/* Request line (docs/security.md, items 68, 76). */
	{ "http/2.0", REQ("GET / HTTP/2.0\r\n" HOST "\r\n"), BAD(505) },
	{ "http/1.2", REQ("GET / HTTP/1.2\r\n" HOST "\r\n"), BAD(505) },
	{ "http/0.9", REQ("GET / HTTP/0.9\r\n" HOST "\r\n"), BAD(505) },
	/* Not a version at all: HTTP-version is DIGIT "." DIGIT. */
	{ "http/1.10", REQ("GET / HTTP/1.10\r\n" HOST "\r\n"), BAD(400) },
	{ "http/3.0", REQ("GET / HTTP/3.0\r\n" HOST "\r\n"), BAD(505) },
	{ "unknown method", REQ("FOO / HTTP/1.1\r\n" HOST "\r\n"), BAD(501) },
	{ "lowercase method", REQ("get / HTTP/1.1\r\n" HOST "\r\n"),
	    BAD(501) },
	{ "connect", REQ("CONNECT acme.test.localhost:443 HTTP/1.1\r\n"
	    "Host: acme.test.localhost:443\r\n\r\n"), BAD(400) },
	{ "fragment", REQ("GET /a#frag HTTP/1.1\r\n" HOST "\r\n"), BAD(400) },
	{ "empty fragment", REQ("GET /# HTTP/1.1\r\n" HOST "\r\n"), BAD(400) },
	{ "asterisk with get", REQ("GET * HTTP/1.1\r\n" HOST "\r\n"),
	    BAD(400) },
	{ "asterisk with head", REQ("HEAD * HTTP/1.1\r\n" HOST "\r\n"),
	    BAD(400) },
	{ "nul in target", REQ("GET /\0 HTTP/1.1\r\n" HOST "\r\n"), BAD(400) },
	/* "HTTP" is a case-sensitive constant, not any four bytes. */
	{ "version letters", REQ("GET / HXXXX1.1\r\n" HOST "\r\n"),
	    BAD(400) },
	{ "version HTTP-1.1", REQ("GET / HTTP-1.1\r\n" HOST "\r\n"),
	    BAD(400) },
	/* RFC 9112 3.2: no whitespace or raw 8-bit bytes in the target. */
	{ "tab in target", REQ("GET /a\tb HTTP/1.1\r\n" HOST "\r\n"),
	    BAD(400) },
	{ "8bit in target", REQ("GET /\xc3\xa9 HTTP/1.1\r\n" HOST "\r\n"),
	    BAD(400) },
	{ "version lowercase", REQ("GET / http/1.1\r\n" HOST "\r\n"),
	    BAD(400) },

	/* Expect (docs/security.md, item 72). */
	{ "expect other", REQ("PUT /f HTTP/1.1\r\n" HOST
	    "Expect: 200-ok\r\n\r\n"), BAD(400) },
	{ "expect list", REQ("PUT /f HTTP/1.1\r\n" HOST
	    "Expect: 100-continue, x\r\n\r\n"), BAD(400) },
	{ "expect empty", REQ("PUT /f HTTP/1.1\r\n" HOST "Expect:\r\n\r\n"),
	    BAD(400) },
};
#define NCASES	(sizeof(cases) / sizeof(cases[0]))

struct outcome {
	int		 verdict;
	struct http_head head;
};

static struct host_conf	 hconf;

/* A small deterministic generator: failures must be reproducible. */
static uint64_t	 rng = 0x9e3779b97f4a7c15ull;

static size_t
rnd(size_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (size_t)(rng % n);
}

/*
 * Feed req[0..len) as a growing buffer that reaches cuts[0], cuts[1], ...
 * and then len, each time in a new allocation of exactly that size, until
 * the reader says it is done or failed.
 */
static void
feed(const uint8_t *req, size_t len, const size_t *cuts, size_t ncuts,
    size_t max, size_t tmax, struct outcome *o)
{
	struct hh_parser	 hp;
	uint8_t			*buf;
	size_t			 i, n;

	hh_init(&hp, max, tmax);
	o->verdict = HH_MORE;
	for (i = 0; i <= ncuts; i++) {
		n = i < ncuts ? cuts[i] : len;
		if (n == 0)
			continue;
		assert_non_null(buf = malloc(n));
		memcpy(buf, req, n);
		o->verdict = hh_feed(&hp, buf, n);
		free(buf);
		if (o->verdict != HH_MORE)
			break;
	}
	o->head = hp.hp_head;
}

static int
span_eq(struct hh_span a, struct hh_span b)
{
	return a.off == b.off && a.len == b.len;
}

/* Table cases report every mismatch, not just the first one. */
#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		print_error(__VA_ARGS__);				\
		return 1;						\
	}								\
} while (0)

static int
same_outcome(const char *name, const char *how, const struct outcome *a,
    const struct outcome *b)
{
	const struct http_head	*x = &a->head, *y = &b->head;

	CHECK(a->verdict == b->verdict, "%s: %s: verdict %d (%d %s), at "
	    "once %d (%d %s)\n", name, how, b->verdict, y->hh_error_status,
	    y->hh_error ? y->hh_error : "-", a->verdict, x->hh_error_status,
	    x->hh_error ? x->hh_error : "-");
	if (a->verdict == HH_ERROR) {
		CHECK(x->hh_error_status == y->hh_error_status &&
		    strcmp(x->hh_error, y->hh_error) == 0,
		    "%s: %s: %d \"%s\", at once %d \"%s\"\n", name, how,
		    y->hh_error_status, y->hh_error, x->hh_error_status,
		    x->hh_error);
		return 0;
	}
	if (a->verdict != HH_DONE)
		return 0;
	CHECK(x->hh_method == y->hh_method && x->hh_major == y->hh_major &&
	    x->hh_minor == y->hh_minor && x->hh_len == y->hh_len &&
	    span_eq(x->hh_target, y->hh_target) &&
	    span_eq(x->hh_host, y->hh_host) &&
	    span_eq(x->hh_inm, y->hh_inm) &&
	    span_eq(x->hh_ims, y->hh_ims) &&
	    span_eq(x->hh_auth, y->hh_auth) && x->hh_nhost == y->hh_nhost &&
	    x->hh_nheaders == y->hh_nheaders && x->hh_nte == y->hh_nte &&
	    x->hh_has_clen == y->hh_has_clen && x->hh_clen == y->hh_clen &&
	    x->hh_chunked == y->hh_chunked &&
	    x->hh_keepalive == y->hh_keepalive &&
	    x->hh_expect_continue == y->hh_expect_continue &&
	    x->hh_error_status == y->hh_error_status,
	    "%s: %s: fields differ from the at-once parse (len %zu/%zu "
	    "host %u+%u/%u+%u target %u+%u/%u+%u)\n", name, how, y->hh_len,
	    x->hh_len, y->hh_host.off, y->hh_host.len, x->hh_host.off,
	    x->hh_host.len, y->hh_target.off, y->hh_target.len,
	    x->hh_target.off, x->hh_target.len);
	return 0;
}

/*
 * Every way of feeding a request: at once, byte by byte, split in two at
 * three random points, and in four pieces. Leaves the at-once outcome in
 * *once and returns how many ways disagreed with it.
 */
static int
feed_all_ways(const char *name, const uint8_t *req, size_t len, size_t max,
    size_t tmax, struct outcome *once)
{
	struct outcome	 o;
	size_t		*cuts, i, k, three[3], t;
	char		 how[64];
	int		 bad = 0;

	feed(req, len, NULL, 0, max, tmax, once);
	if (once->verdict == HH_DONE) {
		/* Spans must lie inside what the head covers. */
		CHECK(once->head.hh_len <= len &&
		    once->head.hh_target.off + once->head.hh_target.len <=
		    once->head.hh_len &&
		    once->head.hh_host.off + once->head.hh_host.len <=
		    once->head.hh_len, "%s: span outside the head\n", name);
	}
	if (len < 2)
		return 0;

	assert_non_null(cuts = calloc(len, sizeof(*cuts)));
	for (i = 0; i < len - 1; i++)
		cuts[i] = i + 1;
	feed(req, len, cuts, len - 1, max, tmax, &o);
	bad += same_outcome(name, "byte by byte", once, &o);
	free(cuts);

	for (k = 0; k < 3; k++) {
		three[0] = 1 + rnd(len - 1);
		snprintf(how, sizeof(how), "split at %zu", three[0]);
		feed(req, len, three, 1, max, tmax, &o);
		bad += same_outcome(name, how, once, &o);
	}
	for (k = 0; k < 3; k++)
		three[k] = 1 + rnd(len - 1);
	for (k = 0; k < 3; k++)		/* sort the three cut points */
		for (i = k + 1; i < 3; i++)
			if (three[i] < three[k]) {
				t = three[i];
				three[i] = three[k];
				three[k] = t;
			}
	snprintf(how, sizeof(how), "split at %zu, %zu, %zu", three[0],
	    three[1], three[2]);
	feed(req, len, three, 3, max, tmax, &o);
	bad += same_outcome(name, how, once, &o);
	return bad;
}

/* For the tests outside the table: any disagreement fails at once. */
static void
feed_checked(const char *name, const uint8_t *req, size_t len, size_t max,
    size_t tmax, struct outcome *once)
{
	assert_int_equal(feed_all_ways(name, req, len, max, tmax, once), 0);
}

static int
span_is(const uint8_t *buf, struct hh_span s, const char *want)
{
	return s.len == strlen(want) && memcmp(buf + s.off, want, s.len) == 0;
}

static int
check_case(const struct hcase *c)
{
	struct outcome		 o;
	const struct http_head	*h = &o.head;
	const uint8_t		*req = (const uint8_t *)c->req;
	struct host_result	 hr;
	int			 bad;

	bad = feed_all_ways(c->name, req, c->len, HEAD_MAX, TARGET_MAX, &o);
	CHECK(o.verdict == c->verdict &&
	    (c->verdict != HH_ERROR || h->hh_error_status == c->status),
	    "%s: verdict %d status %d (%s), want %d status %d\n", c->name,
	    o.verdict, h->hh_error_status, h->hh_error ? h->hh_error : "-",
	    c->verdict, c->status);
	if (c->verdict != HH_DONE)
		return bad;
	CHECK(h->hh_len == c->len - c->tail, "%s: hh_len %zu, want %zu\n",
	    c->name, h->hh_len, c->len - c->tail);
	CHECK(h->hh_method == c->method, "%s: method %s\n", c->name,
	    http_method_str(h->hh_method));
	CHECK(h->hh_major == 1 && h->hh_minor == c->minor,
	    "%s: version %u.%u\n", c->name, h->hh_major, h->hh_minor);
	CHECK(h->hh_keepalive == c->ka, "%s: keepalive %d\n", c->name,
	    h->hh_keepalive);
	CHECK(h->hh_has_clen == c->has_clen && h->hh_clen == c->clen,
	    "%s: content-length %d %llu\n", c->name, h->hh_has_clen,
	    (unsigned long long)h->hh_clen);
	CHECK(h->hh_chunked == c->chunked, "%s: chunked %d\n", c->name,
	    h->hh_chunked);
	CHECK(h->hh_expect_continue == c->expect, "%s: expect %d\n", c->name,
	    h->hh_expect_continue);
	CHECK(h->hh_error_status == 0, "%s: error status %d on success\n",
	    c->name, h->hh_error_status);
	if (c->host == NULL) {
		CHECK(h->hh_nhost == 0, "%s: %u Host fields\n", c->name,
		    h->hh_nhost);
		return bad;
	}
	CHECK(h->hh_nhost == 1, "%s: %u Host fields\n", c->name, h->hh_nhost);
	CHECK(span_is(req, h->hh_host, c->host), "%s: host \"%.*s\", want "
	    "\"%s\"\n", c->name, (int)h->hh_host.len, c->req + h->hh_host.off,
	    c->host);
	host_classify(&hconf, c->req + h->hh_host.off, h->hh_host.len, &hr);
	CHECK(hr.hr_class == c->hclass, "%s: host classified %s, want %s\n",
	    c->name, host_class_str(hr.hr_class), host_class_str(c->hclass));
	return bad;
}

static void
test_table(void **state)
{
	size_t	 i;
	int	 bad = 0;

	for (i = 0; i < NCASES; i++)
		bad += check_case(&cases[i]) != 0;
	if (bad != 0) {
		print_error("%d of %zu cases failed\n", bad, NCASES);
		fail();
	}
}

/* A request of exactly len bytes: Host, then one padded field. */
static size_t
make_head(char *buf, size_t len)
{
	static const char	 pre[] = GET11 HOST "X-Pad: ";
	size_t			 pad;

	assert_true(len >= sizeof(pre) - 1 + 4);
	pad = len - (sizeof(pre) - 1) - 4;
	memcpy(buf, pre, sizeof(pre) - 1);
	memset(buf + sizeof(pre) - 1, 'p', pad);
	memcpy(buf + sizeof(pre) - 1 + pad, "\r\n\r\n", 4);
	return len;
}

static void
test_head_max(void **state)
{
	static char	 buf[HEAD_MAX + 64];
	struct outcome	 o;
	size_t		 n;

	n = make_head(buf, HEAD_MAX);
	feed_checked("head == max", (uint8_t *)buf, n, HEAD_MAX, TARGET_MAX,
	    &o);
	assert_int_equal(o.verdict, HH_DONE);
	assert_int_equal(o.head.hh_len, HEAD_MAX);

	n = make_head(buf, HEAD_MAX + 1);
	feed_checked("head == max + 1", (uint8_t *)buf, n, HEAD_MAX,
	    TARGET_MAX, &o);
	assert_int_equal(o.verdict, HH_ERROR);
	assert_int_equal(o.head.hh_error_status, 431);

	/* An unfinished head that reaches the limit fails without its end. */
	n = make_head(buf, HEAD_MAX + 40) - 4;
	feed_checked("no end past max", (uint8_t *)buf, n, HEAD_MAX,
	    TARGET_MAX, &o);
	assert_int_equal(o.verdict, HH_ERROR);
	assert_int_equal(o.head.hh_error_status, 431);

	/* Short of the limit, an unfinished head is just unfinished. */
	n = make_head(buf, 200) - 2;
	feed_checked("unfinished", (uint8_t *)buf, n, HEAD_MAX, TARGET_MAX,
	    &o);
	assert_int_equal(o.verdict, HH_MORE);
}

/*
 * The answer must not depend on how the bytes arrive (docs/security.md,
 * item 71): a target that is too long and malformed after the limit must get
 * one status, not 414 when it came in small reads and 400 when it came at
 * once. Both callers cap the buffer at head_max, and this request is well
 * inside it.
 */
static void
test_status_independent_of_reads(void **state)
{
	static char	 buf[HEAD_MAX];
	struct outcome	 o;
	size_t		 len;

	memcpy(buf, "GET /", 5);
	len = 5;
	memset(buf + len, 'a', TARGET_MAX + 10);
	len += TARGET_MAX + 10;
	len += (size_t)snprintf(buf + len, sizeof(buf) - len,
	    "\x7f HTTP/1.1\r\n" HOST "\r\n");
	assert_true(len < HEAD_MAX);
	feed_checked("bad byte past target_max", (uint8_t *)buf, len, HEAD_MAX,
	    TARGET_MAX, &o);
	assert_int_equal(o.verdict, HH_ERROR);
}

static void
test_target_max(void **state)
{
	static char	 buf[HEAD_MAX];
	struct outcome	 o;
	size_t		 n;

	/* "GET /ppp...p HTTP/1.1": a target of exactly tlen bytes. */
	for (n = TARGET_MAX - 1; n <= TARGET_MAX + 1; n++) {
		size_t	 len = 0;

		memcpy(buf, "GET /", 5);
		len = 5;
		memset(buf + len, 'p', n - 1);
		len += n - 1;
		memcpy(buf + len, " HTTP/1.1\r\n" HOST "\r\n",
		    sizeof(" HTTP/1.1\r\n" HOST "\r\n") - 1);
		len += sizeof(" HTTP/1.1\r\n" HOST "\r\n") - 1;
		feed_checked("target max", (uint8_t *)buf, len, HEAD_MAX,
		    TARGET_MAX, &o);
		if (n <= TARGET_MAX) {
			assert_int_equal(o.verdict, HH_DONE);
			assert_int_equal(o.head.hh_target.len, n);
			assert_int_equal(o.head.hh_target.off, 4);
		} else {
			assert_int_equal(o.verdict, HH_ERROR);
			assert_int_equal(o.head.hh_error_status, 414);
		}
	}
}

static void
test_header_count(void **state)
{
	static char	 buf[HEAD_MAX];
	struct outcome	 o;
	size_t		 len, i, n;

	/* Host plus n - 1 more fields, then the same with one more. */
	for (n = HH_MAX_HEADERS; n <= HH_MAX_HEADERS + 1; n++) {
		len = (size_t)snprintf(buf, sizeof(buf), GET11 HOST);
		for (i = 1; i < n; i++)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len,
			    "X-%zu: v\r\n", i);
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "\r\n");
		assert_true(len < HEAD_MAX);
		feed_checked("header count", (uint8_t *)buf, len, HEAD_MAX,
		    TARGET_MAX, &o);
		if (n <= HH_MAX_HEADERS) {
			assert_int_equal(o.verdict, HH_DONE);
			assert_int_equal(o.head.hh_nheaders, n);
		} else {
			assert_int_equal(o.verdict, HH_ERROR);
			assert_int_equal(o.head.hh_error_status, 431);
		}
	}
}

static void
test_long_method(void **state)
{
	static char	 buf[1200];
	struct outcome	 o;
	size_t		 len;

	memset(buf, 'A', 1000);
	len = 1000;
	memcpy(buf + len, " / HTTP/1.1\r\n" HOST "\r\n",
	    sizeof(" / HTTP/1.1\r\n" HOST "\r\n") - 1);
	len += sizeof(" / HTTP/1.1\r\n" HOST "\r\n") - 1;
	feed_checked("long method", (uint8_t *)buf, len, HEAD_MAX,
	    TARGET_MAX, &o);
	assert_int_equal(o.verdict, HH_ERROR);
	assert_int_equal(o.head.hh_error_status, 501);
}

/* Conditional-request fields the worker reads. */
static void
test_conditional_spans(void **state)
{
	static const char	 req[] = GET11 HOST
	    "If-None-Match:  \"abc\" \r\n"
	    "if-modified-since: Sat, 01 Jan 2026 00:00:00 GMT\r\n\r\n";
	struct outcome		 o;

	feed_checked("conditional", (const uint8_t *)req, sizeof(req) - 1,
	    HEAD_MAX, TARGET_MAX, &o);
	assert_int_equal(o.verdict, HH_DONE);
	assert_true(span_is((const uint8_t *)req, o.head.hh_inm, "\"abc\""));
	assert_true(span_is((const uint8_t *)req, o.head.hh_ims,
	    "Sat, 01 Jan 2026 00:00:00 GMT"));
	assert_int_equal(o.head.hh_nheaders, 3);
}

/* The credential the worker's data plane reads, and only one of it. */
static void
test_authorization_span(void **state)
{
	static const char	 req[] = GET11 HOST
	    "Authorization:  Bearer td1.1.abc \r\n\r\n";
	static const char	 dup[] = GET11 HOST
	    "Authorization: Bearer a\r\nauthorization: Bearer b\r\n\r\n";
	struct outcome		 o;

	feed_checked("authorization", (const uint8_t *)req, sizeof(req) - 1,
	    HEAD_MAX, TARGET_MAX, &o);
	assert_int_equal(o.verdict, HH_DONE);
	assert_true(span_is((const uint8_t *)req, o.head.hh_auth,
	    "Bearer td1.1.abc"));
	feed_checked("authorization twice", (const uint8_t *)dup,
	    sizeof(dup) - 1, HEAD_MAX, TARGET_MAX, &o);
	assert_int_equal(o.verdict, HH_ERROR);
	assert_int_equal(o.head.hh_error_status, 400);
}

/* After an error the reader stays failed, whatever comes next. */
static void
test_error_sticks(void **state)
{
	static const char	 req[] = "FOO / HTTP/1.1\r\n" HOST "\r\n";
	struct hh_parser	 hp;

	hh_init(&hp, HEAD_MAX, TARGET_MAX);
	assert_int_equal(hh_feed(&hp, (const uint8_t *)req, 5), HH_ERROR);
	assert_int_equal(hh_feed(&hp, (const uint8_t *)req, sizeof(req) - 1),
	    HH_ERROR);
	assert_int_equal(hp.hp_head.hh_error_status, 501);
	/* Feeding nothing new is not progress and not an error. */
	hh_init(&hp, HEAD_MAX, TARGET_MAX);
	assert_int_equal(hh_feed(&hp, (const uint8_t *)req, 0), HH_MORE);
}

struct acase {
	const char	*target;
	int		 rc;		/* hh_authority() */
	const char	*authority;
	int		 orc;		/* hh_origin() */
	const char	*origin;
};

static const struct acase acases[] = {
	{ "/x?y", 0, NULL, 0, "/x?y" },
	{ "*", 0, NULL, 0, "*" },
	{ "http://acme.test.localhost/x?y", 1, "acme.test.localhost", 0,
	    "/x?y" },
	{ "http://acme.test.localhost:8080/x", 1, "acme.test.localhost:8080",
	    0, "/x" },
	{ "https://Acme.Test.Localhost/", 1, "Acme.Test.Localhost", 0, "/" },
	{ "http://acme.test.localhost", 1, "acme.test.localhost", 0, "" },
	{ "http://acme.test.localhost:443", 1, "acme.test.localhost:443", 0,
	    "" },
	{ "http://acme.test.localhost?q", 1, "acme.test.localhost", 0, "" },
	{ "http://user@acme.test.localhost/", -1, NULL, 0, "/" },
	{ "http://user:pw@acme.test.localhost/", -1, NULL, 0, "/" },
};

static void
test_authority_origin(void **state)
{
	char			 req[512];
	struct outcome		 o;
	struct hh_span		 s;
	size_t			 i, len;
	int			 rc;

	for (i = 0; i < sizeof(acases) / sizeof(acases[0]); i++) {
		const struct acase	*a = &acases[i];

		len = (size_t)snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\n"
		    HOST "\r\n", a->target[0] == '*' ? "OPTIONS" : "GET",
		    a->target);
		feed_checked(a->target, (uint8_t *)req, len, HEAD_MAX,
		    TARGET_MAX, &o);
		if (o.verdict != HH_DONE) {
			print_error("%s: verdict %d (%d)\n", a->target,
			    o.verdict, o.head.hh_error_status);
			fail();
		}
		memset(&s, 0xff, sizeof(s));
		rc = hh_authority(&o.head, (uint8_t *)req, &s);
		if (rc != a->rc) {
			print_error("%s: hh_authority %d, want %d\n",
			    a->target, rc, a->rc);
			fail();
		}
		if (rc == 1 && !span_is((uint8_t *)req, s, a->authority)) {
			print_error("%s: authority \"%.*s\", want \"%s\"\n",
			    a->target, (int)s.len, req + s.off, a->authority);
			fail();
		}
		rc = hh_origin(&o.head, (uint8_t *)req, &s);
		assert_int_equal(rc, a->orc);
		if (rc == 0 && !span_is((uint8_t *)req, s, a->origin)) {
			print_error("%s: origin \"%.*s\", want \"%s\"\n",
			    a->target, (int)s.len, req + s.off, a->origin);
			fail();
		}
	}
}

/*
 * docs/security.md, item 76 as the supervisor and the worker apply it: an
 * absolute-form authority naming another tenant than Host must be told apart.
 */
static void
test_absolute_vs_host(void **state)
{
	static const char	 req[] = "GET http://victim.test.localhost/ "
	    "HTTP/1.1\r\n" HOST "\r\n";
	struct outcome		 o;
	struct hh_span		 auth;
	struct host_result	 hr, ar;

	feed_checked("absolute vs host", (const uint8_t *)req,
	    sizeof(req) - 1, HEAD_MAX, TARGET_MAX, &o);
	assert_int_equal(o.verdict, HH_DONE);
	assert_int_equal(hh_authority(&o.head, (const uint8_t *)req, &auth), 1);
	assert_int_equal(host_classify(&hconf, req + auth.off, auth.len, &ar),
	    HOST_SUBDOMAIN);
	assert_int_equal(host_classify(&hconf, req + o.head.hh_host.off,
	    o.head.hh_host.len, &hr), HOST_SUBDOMAIN);
	assert_string_equal(ar.hr_name, "victim.test.localhost");
	assert_string_not_equal(ar.hr_name, hr.hr_name);
}

/*
 * Host admission (common/admit.c), the one verdict the front and the
 * worker act on. "Was" says where the two differed before admit_request()
 * was theirs: each such case is now answered by whichever end read the
 * head, with the status the front gives.
 */
struct admcase {
	const char	*name;
	const char	*req;
	size_t		 len;
	enum admit_verdict verdict;
	int		 status;
	const char	*host;		/* the normalised Host, if admitted */
	size_t		 label;		/* the slug's length, for a subdomain */
	const char	*why;		/* the reason, where the order shows */
};

#define ADM(v, st, h, l)	.verdict = v, .status = st, .host = h, \
				.label = l
#define REJ(st)			ADM(ADMIT_REJECT, st, NULL, 0)

static const struct admcase admcases[] = {
	{ "subdomain", REQ(GET11 HOST "\r\n"),
	    ADM(ADMIT_SUBDOMAIN, 0, "acme.test.localhost", 4) },
	{ "subdomain, port and dot", REQ(GET11
	    "Host: ACME.test.localhost.:8443\r\n\r\n"),
	    ADM(ADMIT_SUBDOMAIN, 0, "acme.test.localhost", 4) },
	{ "custom", REQ(GET11 "Host: Shop.Example.org\r\n\r\n"),
	    ADM(ADMIT_CUSTOM, 0, "shop.example.org", 0) },
	{ "apex", REQ(GET11 "Host: test.localhost\r\n\r\n"),
	    ADM(ADMIT_APEX, 404, "test.localhost", 0) },
	{ "admin", REQ(GET11 "Host: Admin.test.localhost:443\r\n\r\n"),
	    ADM(ADMIT_ADMIN, 421, "admin.test.localhost", 0) },
	/* Was: the worker handed it back, the front answered 404. */
	{ "reserved", REQ(GET11 "Host: www.test.localhost\r\n\r\n"),
	    REJ(404) },
	{ "no host, 1.1", REQ(GET11 "\r\n"), REJ(400) },
	{ "no host, 1.0", REQ("GET / HTTP/1.0\r\n\r\n"), REJ(400) },
	/* Was: the worker handed these back, the front answered 400. */
	{ "invalid host", REQ(GET11 "Host: _\r\n\r\n"), REJ(400) },
	{ "empty host", REQ(GET11 "Host:\r\n\r\n"), REJ(400) },
	{ "nested label", REQ(GET11 "Host: x.acme.test.localhost\r\n\r\n"),
	    REJ(400) },
	{ "bad slug", REQ(GET11 "Host: ab.test.localhost\r\n\r\n"),
	    REJ(400) },
	{ "one label", REQ(GET11 "Host: localhost\r\n\r\n"), REJ(400) },
	/*
	 * Was: the worker compared the authority with what host_classify()
	 * left in hr_name for a Host it refused ("acme.test.localhost" of
	 * "acme.test.localhost_", the whole "x.acme..."), found them equal
	 * and went on; the front refused. The Host is now judged first.
	 */
	{ "absolute, host refused part way", REQ("GET "
	    "http://acme.test.localhost/ HTTP/1.1\r\n"
	    "Host: acme.test.localhost_\r\n\r\n"), REJ(400),
	    .why = "invalid Host" },
	{ "absolute, nested host", REQ("GET http://x.acme.test.localhost/ "
	    "HTTP/1.1\r\nHost: x.acme.test.localhost\r\n\r\n"), REJ(400),
	    .why = "invalid Host" },
	{ "absolute, same host", REQ("GET http://ACME.test.localhost/a "
	    "HTTP/1.1\r\n" HOST "\r\n"),
	    ADM(ADMIT_SUBDOMAIN, 0, "acme.test.localhost", 4) },
	/* Ports are not compared: routing never reads them. */
	{ "absolute, other port", REQ("GET https://acme.test.localhost:8443/ "
	    "HTTP/1.1\r\nHost: acme.test.localhost:1\r\n\r\n"),
	    ADM(ADMIT_SUBDOMAIN, 0, "acme.test.localhost", 4) },
	{ "absolute, other host", REQ("GET http://victim.test.localhost/ "
	    "HTTP/1.1\r\n" HOST "\r\n"), REJ(400) },
	{ "absolute, invalid authority", REQ("GET http://ab.test.localhost/ "
	    "HTTP/1.1\r\nHost: ab.test.localhost\r\n\r\n"), REJ(400) },
	{ "absolute, userinfo", REQ("GET http://u@acme.test.localhost/ "
	    "HTTP/1.1\r\n" HOST "\r\n"), REJ(400) },
	{ "absolute, apex for admin", REQ("GET http://test.localhost/ "
	    "HTTP/1.1\r\nHost: admin.test.localhost\r\n\r\n"), REJ(400) },
	{ "asterisk", REQ("OPTIONS * HTTP/1.1\r\n" HOST "\r\n"),
	    ADM(ADMIT_SUBDOMAIN, 0, "acme.test.localhost", 4) },
};

static void
test_admission(void **state)
{
	static const struct host_result	 zero;
	const struct admcase		*a;
	struct outcome			 o;
	struct admit			 ad;
	size_t				 i;

	for (i = 0; i < sizeof(admcases) / sizeof(admcases[0]); i++) {
		a = &admcases[i];
		feed_checked(a->name, (const uint8_t *)a->req, a->len,
		    HEAD_MAX, TARGET_MAX, &o);
		assert_int_equal(o.verdict, HH_DONE);
		memset(&ad, 0xa5, sizeof(ad));
		if (admit_request(&hconf, &o.head, (const uint8_t *)a->req,
		    &ad) != a->verdict || ad.ad_verdict != a->verdict ||
		    ad.ad_status != a->status || ad.ad_reason == NULL ||
		    (a->why != NULL && strcmp(ad.ad_reason, a->why) != 0)) {
			print_error("%s: %s %d (%s), want %s %d (%s)\n",
			    a->name, admit_verdict_str(ad.ad_verdict),
			    ad.ad_status, ad.ad_reason ? ad.ad_reason : "-",
			    admit_verdict_str(a->verdict), a->status,
			    a->why ? a->why : "-");
			fail();
		}
		if (a->host == NULL) {
			/* Nothing of a refused name is left to compare. */
			if (memcmp(&ad.ad_host, &zero, sizeof(zero)) != 0) {
				print_error("%s: host \"%s\" left on a "
				    "reject\n", a->name, ad.ad_host.hr_name);
				fail();
			}
			continue;
		}
		assert_string_equal(ad.ad_host.hr_name, a->host);
		assert_int_equal(ad.ad_host.hr_name_len, strlen(a->host));
		assert_int_equal(ad.ad_host.hr_label_len, a->label);
	}
}

/* Every field of an accepted head, in order, for the CGI environment. */
static void
test_field_iterator(void **state)
{
	static const char	 req[] = "POST /a?b HTTP/1.1\r\n" HOST
	    "X-One:  first value \r\n"
	    "Empty:\r\n"
	    "x-one:second\r\n"
	    "Content-Length: 0\r\n\r\n"
	    "BODY: not a field\r\n\r\n";
	static const char *const want[][2] = {
		{ "Host", "acme.test.localhost" },
		{ "X-One", "first value" },
		{ "Empty", "" },
		{ "x-one", "second" },
		{ "Content-Length", "0" },
	};
	static const char *const bad[] = {
		"GET / HTTP/1.1",
		"GET / HTTP/1.1\r\nno colon\r\n\r\n",
		"GET / HTTP/1.1\r\n folded: x\r\n\r\n",
		"GET / HTTP/1.1\r\n: x\r\n\r\n",
		"GET / HTTP/1.1\r\nA: b",
	};
	const uint8_t		*b = (const uint8_t *)req;
	struct outcome		 o;
	struct hh_span		 n, v;
	size_t			 pos = 0, i;

	feed_checked("iterator", b, sizeof(req) - 1, HEAD_MAX, TARGET_MAX,
	    &o);
	assert_int_equal(o.verdict, HH_DONE);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(hh_field_next(b, o.head.hh_len, &pos, &n, &v),
		    1);
		assert_true(span_is(b, n, want[i][0]));
		assert_true(span_is(b, v, want[i][1]));
	}
	/* The body is not a field, and the end stays the end. */
	assert_int_equal(hh_field_next(b, o.head.hh_len, &pos, &n, &v), 0);
	assert_int_equal(hh_field_next(b, o.head.hh_len, &pos, &n, &v), 0);

	/* Bytes that are no accepted head are an error, never a guess. */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pos = 0;
		assert_int_equal(hh_field_next((const uint8_t *)bad[i],
		    strlen(bad[i]), &pos, &n, &v), -1);
	}
}

static int
setup(void **state)
{
	return host_conf_init(&hconf, "test.localhost", "admin.test.localhost");
}

/* Which requests a stopping tenantd may close unanswered (pool.c). */
static void
test_method_idempotent(void **state)
{
	static const char *const yes[] = {
		"GET / HTTP/1.1\r\n", "HEAD /x HTTP/1.1\r\n",
		"OPTIONS * HTTP/1.1\r\n", "TRACE / HTTP/1.1\r\n",
		"PUT /k HTTP/1.1\r\n", "DELETE /k HTTP/1.1\r\n",
	};
	static const char *const no[] = {
		"POST / HTTP/1.1\r\n", "PATCH / HTTP/1.1\r\n",
		"get / HTTP/1.1\r\n", "GETX / HTTP/1.1\r\n", "GET",
		"GET/ HTTP/1.1\r\n", "", "CONNECT a:1 HTTP/1.1\r\n",
	};
	size_t	 i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(hh_method_idempotent((const uint8_t *)yes[i],
		    strlen(yes[i])));
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(hh_method_idempotent((const uint8_t *)no[i],
		    strlen(no[i])));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_head_max),
		cmocka_unit_test(test_status_independent_of_reads),
		cmocka_unit_test(test_target_max),
		cmocka_unit_test(test_header_count),
		cmocka_unit_test(test_long_method),
		cmocka_unit_test(test_conditional_spans),
		cmocka_unit_test(test_authorization_span),
		cmocka_unit_test(test_error_sticks),
		cmocka_unit_test(test_authority_origin),
		cmocka_unit_test(test_absolute_vs_host),
		cmocka_unit_test(test_admission),
		cmocka_unit_test(test_field_iterator),
		cmocka_unit_test(test_method_idempotent),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
