/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Per-request handlers' pure helpers (worker/cgipure.c): the app/routes
 * file taken whole or not at all, longest-prefix matching on segment
 * boundaries, the RFC 3875 environment (what a handler sees and, above
 * all, what it never sees: Authorization, Proxy, look-alike names), and
 * the handler's response rebuilt from its well-formed parts only; for a
 * persistent app, the HTTP/1.0 request it is sent (hop-by-hop and framing
 * fields out, ours in) and its response, taken only when well-formed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cgipure.h"
#include "httphead.h"
#include "proto.h"

#define IN(s)	s, sizeof(s) - 1

static struct cgi_routes	rt;
static struct cgi_env		ce;
static struct cgi_resp		cs;

static void
test_routes_good(void **state)
{
	static const char	 f[] =
	    "# handlers\n"
	    "\n"
	    "/api api.py   # the API\n"
	    "\t/api/v2\tv2.sh\r\n"
	    "/ catch-all\n"
	    "/a.b/c~d_e handler_1.0";
	size_t			 line;

	assert_int_equal(cgi_routes_parse(IN(f), &rt, &line), 0);
	assert_int_equal(rt.cr_n, 4);
	assert_string_equal(rt.cr_ent[0].cr_prefix, "/api");
	assert_string_equal(rt.cr_ent[0].cr_handler, "api.py");
	assert_string_equal(rt.cr_ent[1].cr_prefix, "/api/v2");
	assert_string_equal(rt.cr_ent[1].cr_handler, "v2.sh");
	assert_string_equal(rt.cr_ent[2].cr_prefix, "/");
	assert_string_equal(rt.cr_ent[3].cr_handler, "handler_1.0");
	/* Empty and comment-only files have no routes, and are fine. */
	assert_int_equal(cgi_routes_parse(IN(""), &rt, &line), 0);
	assert_int_equal(rt.cr_n, 0);
	assert_int_equal(cgi_routes_parse(IN("# nothing\n\n  \n"), &rt,
	    &line), 0);
	assert_int_equal(rt.cr_n, 0);
}

static void
test_routes_bad(void **state)
{
	static const struct {
		const char	*f;
		size_t		 line;
	} cases[] = {
		{ "api h\n", 1 },			/* no leading / */
		{ "/api\n", 1 },			/* no handler */
		{ "/api h extra\n", 1 },
		{ "/api h Persistent\n", 1 },		/* only "persistent" */
		{ "/api h persistentx\n", 1 },
		{ "/api h persist\n", 1 },
		{ "/api h persistent x\n", 1 },
		{ "/api h persistent persistent\n", 1 },
		{ "/ok h persistent\n/api h extra\n", 2 },
		{ "/ok h\n/a%2e h\n", 2 },		/* '%' */
		{ "/a?b h\n", 1 },
		{ "/a//b h\n", 1 },
		{ "/a/./b h\n", 1 },
		{ "/a/../b h\n", 1 },
		{ "/a/.. h\n", 1 },
		{ "/a/. h\n", 1 },
		{ "/a/ h\n", 1 },			/* trailing slash */
		{ "// h\n", 1 },
		{ "/.tenantd h\n", 1 },
		{ "/.tenantd/kv h\n", 1 },
		{ "/.tenantdx h\n", 1 },
		{ "/a\x01 h\n", 1 },
		{ "/a\xc3\xa9 h\n", 1 },		/* not ASCII */
		{ "/a .h\n", 1 },			/* dot file */
		{ "/a ../h\n", 1 },
		{ "/a h/x\n", 1 },
		{ "/a h$\n", 1 },
		{ "/a h\n/a g\n", 2 },			/* same prefix twice */
		{ "/a h\r\r\n", 1 },
		{ "/a h\n\0/b g\n", 1 },
	};
	char			 big[CGI_PREFIX_MAX + 8];
	char			 many[CGI_ROUTES_MAX * 16 + 32];
	size_t			 i, line, o = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* The NUL case is the only one with a NUL inside. */
		size_t	 len = strlen(cases[i].f);

		if (i == sizeof(cases) / sizeof(cases[0]) - 1)
			len = 11;
		if (cgi_routes_parse(cases[i].f, len, &rt, &line) != -1 ||
		    line != cases[i].line || rt.cr_n != 0) {
			print_error("case %zu: %s: line %zu\n", i, cases[i].f,
			    line);
			fail();
		}
	}
	/* A handler name of RUN_NAME_MAX is fine, one more is not. */
	memset(big, 'h', sizeof(big));
	memcpy(big, "/a ", 3);
	assert_int_equal(cgi_routes_parse(big, 3 + RUN_NAME_MAX, &rt, &line),
	    0);
	assert_int_equal(cgi_routes_parse(big, 4 + RUN_NAME_MAX, &rt, &line),
	    -1);
	/* A prefix of CGI_PREFIX_MAX is fine, one more is not. */
	memset(big, 'p', sizeof(big));
	big[0] = '/';
	memcpy(big + CGI_PREFIX_MAX, " h", 2);
	assert_int_equal(cgi_routes_parse(big, CGI_PREFIX_MAX + 2, &rt,
	    &line), 0);
	big[CGI_PREFIX_MAX] = 'p';
	memcpy(big + CGI_PREFIX_MAX + 1, " h", 2);
	assert_int_equal(cgi_routes_parse(big, CGI_PREFIX_MAX + 3, &rt,
	    &line), -1);
	/* CGI_ROUTES_MAX routes, then one more: the whole file is out. */
	for (i = 0; i < CGI_ROUTES_MAX; i++)
		o += (size_t)snprintf(many + o, sizeof(many) - o, "/r%zu h\n",
		    i);
	assert_int_equal(cgi_routes_parse(many, o, &rt, &line), 0);
	assert_int_equal(rt.cr_n, CGI_ROUTES_MAX);
	o += (size_t)snprintf(many + o, sizeof(many) - o, "/last h\n");
	assert_int_equal(cgi_routes_parse(many, o, &rt, &line), -1);
	assert_int_equal(line, CGI_ROUTES_MAX + 1);
	assert_int_equal(rt.cr_n, 0);
}

static void
test_routes_persistent(void **state)
{
	static const char	 f[] =
	    "/api api.py\n"
	    "/app server persistent   # a long-running one\n"
	    "\t/app/v2\tsrv2\tpersistent\r\n"
	    "/x y #persistent is a comment here\n";
	const struct cgi_route	*r;
	size_t			 line;

	assert_int_equal(cgi_routes_parse(IN(f), &rt, &line), 0);
	assert_int_equal(rt.cr_n, 4);
	assert_false(rt.cr_ent[0].cr_persistent);
	assert_string_equal(rt.cr_ent[1].cr_handler, "server");
	assert_true(rt.cr_ent[1].cr_persistent);
	assert_string_equal(rt.cr_ent[2].cr_prefix, "/app/v2");
	assert_string_equal(rt.cr_ent[2].cr_handler, "srv2");
	assert_true(rt.cr_ent[2].cr_persistent);
	assert_false(rt.cr_ent[3].cr_persistent);
	assert_non_null(r = cgi_route_match(&rt, IN("/app/x?q")));
	assert_true(r->cr_persistent);
	assert_non_null(r = cgi_route_match(&rt, IN("/app/v2/y")));
	assert_string_equal(r->cr_handler, "srv2");
	/* The name "persistent" is a handler like any other. */
	assert_int_equal(cgi_routes_parse(IN("/p persistent\n"), &rt, &line),
	    0);
	assert_string_equal(rt.cr_ent[0].cr_handler, "persistent");
	assert_false(rt.cr_ent[0].cr_persistent);
	/* A handler name of RUN_NAME_MAX is fine with the third word too. */
	{
		char	 big[8 + RUN_NAME_MAX + 16];
		int	 n;

		memset(big, 'h', sizeof(big));
		memcpy(big, "/a ", 3);
		n = snprintf(big + 3 + RUN_NAME_MAX, sizeof(big) - 3 -
		    RUN_NAME_MAX, " persistent");
		assert_int_equal(cgi_routes_parse(big, 3 + RUN_NAME_MAX +
		    (size_t)n, &rt, &line), 0);
		assert_true(rt.cr_ent[0].cr_persistent);
	}
}

static const char *
match(const char *path)
{
	const struct cgi_route	*r;

	r = cgi_route_match(&rt, path, strlen(path));
	return r == NULL ? NULL : r->cr_handler;
}

static void
test_match(void **state)
{
	size_t	 line;

	assert_int_equal(cgi_routes_parse(IN("/api a\n/api/v2 b\n/x/y c\n"),
	    &rt, &line), 0);
	assert_string_equal(match("/api"), "a");
	assert_string_equal(match("/api/"), "a");
	assert_string_equal(match("/api/x"), "a");
	assert_string_equal(match("/api?q=/api/v2"), "a");
	assert_string_equal(match("/api/v2"), "b");
	assert_string_equal(match("/api/v2/z"), "b");
	assert_string_equal(match("/api/v2?x"), "b");
	assert_string_equal(match("/api/v22"), "a");
	assert_null(match("/apix"));
	assert_null(match("/ap"));
	assert_null(match("/API"));
	assert_null(match("/%61pi"));		/* raw, never decoded */
	assert_null(match("/x"));
	assert_string_equal(match("/x/y/"), "c");
	assert_null(match(""));
	assert_null(match("*"));
	/* The catch-all takes what nothing longer takes. */
	assert_int_equal(cgi_routes_parse(IN("/ root\n/api a\n"), &rt, &line),
	    0);
	assert_string_equal(match("/"), "root");
	assert_string_equal(match("/anything/else"), "root");
	assert_string_equal(match("/apix"), "root");
	assert_string_equal(match("/api/x"), "a");
}

/* Parse a raw request and build its environment for route "/api". */
static int
build(const char *req, const char *prefix, const char *remote)
{
	static struct hh_parser	 hp;
	struct cgi_req		 cq;
	struct hh_span		 path;
	struct cgi_routes	 one;
	size_t			 line;
	char			 f[300];
	int			 n;

	n = snprintf(f, sizeof(f), "%s h\n", prefix);
	assert_int_equal(cgi_routes_parse(f, (size_t)n, &one, &line), 0);
	hh_init(&hp, PROTO_MSG_MAX - 64, 15000);
	assert_int_equal(hh_feed(&hp, (const uint8_t *)req, strlen(req)),
	    HH_DONE);
	assert_int_equal(hh_origin(&hp.hp_head, (const uint8_t *)req, &path),
	    0);
	memset(&cq, 0, sizeof(cq));
	cq.cq_head = (const uint8_t *)req;
	cq.cq_head_len = hp.hp_head.hh_len;
	cq.cq_method = http_method_str(hp.hp_head.hh_method);
	cq.cq_minor = hp.hp_head.hh_minor;
	cq.cq_server_name = "acme.test.localhost";
	cq.cq_port = 8080;
	cq.cq_target = req + hp.hp_head.hh_target.off;
	cq.cq_target_len = hp.hp_head.hh_target.len;
	cq.cq_path = req + path.off;
	cq.cq_path_len = path.len;
	cq.cq_remote = remote != NULL ? remote : req + hp.hp_head.hh_xff.off;
	cq.cq_remote_len = remote != NULL ? strlen(remote) :
	    hp.hp_head.hh_xff.len;
	cq.cq_slug = "acme";
	cq.cq_has_body = hp.hp_head.hh_has_clen;
	cq.cq_clen = hp.hp_head.hh_clen;
	if (cgi_route_match(&one, cq.cq_path, cq.cq_path_len) == NULL)
		return -1;
	return cgi_env_build(&cq, &one.cr_ent[0], &ce);
}

/* The value of NAME in ce, or NULL; fails if it is there twice. */
static const char *
get(const char *name)
{
	const char	*v = NULL, *e;
	size_t		 i, nl = strlen(name);

	for (i = 0; i < ce.ce_n; i++) {
		e = ce.ce_buf + ce.ce_off[i];
		if (strncmp(e, name, nl) == 0 && e[nl] == '=') {
			assert_null(v);
			v = e + nl + 1;
		}
	}
	return v;
}

#define HOST	"Host: acme.test.localhost:8080\r\n"

static void
test_env(void **state)
{
	static const char	 req[] = "POST /api/some/where?a=1&b=%20 "
	    "HTTP/1.1\r\n" HOST
	    "Content-Type: text/plain\r\n"
	    "Content-Length: 5\r\n"
	    "Authorization: Bearer td1.1.secret\r\n"
	    "Proxy: http://evil.example/\r\n"
	    "Proxy-Authorization: Basic eA==\r\n"
	    "X-Forwarded-For: 1.2.3.4, 203.0.113.9\r\n"
	    "X-Multi: a\r\n"
	    "x-multi: b\r\n"
	    "Cookie: c=1\r\n"
	    "Cookie: d=2\r\n"
	    "X_Under: sneaky\r\n"
	    "X-Ctl: a\tb\r\n"
	    "X-Empty:\r\n"
	    "Accept: */*\r\n\r\n";
	size_t			 i;

	assert_int_equal(build(req, "/api", NULL), 0);
	assert_string_equal(get("GATEWAY_INTERFACE"), "CGI/1.1");
	assert_string_equal(get("SERVER_SOFTWARE"), "tenantd");
	assert_string_equal(get("SERVER_PROTOCOL"), "HTTP/1.1");
	assert_string_equal(get("SERVER_NAME"), "acme.test.localhost");
	assert_string_equal(get("SERVER_PORT"), "8080");
	assert_string_equal(get("REQUEST_METHOD"), "POST");
	assert_string_equal(get("SCRIPT_NAME"), "/api");
	assert_string_equal(get("PATH_INFO"), "/some/where");
	assert_string_equal(get("QUERY_STRING"), "a=1&b=%20");
	assert_string_equal(get("REQUEST_URI"), "/api/some/where?a=1&b=%20");
	assert_string_equal(get("CONTENT_LENGTH"), "5");
	assert_string_equal(get("CONTENT_TYPE"), "text/plain");
	assert_string_equal(get("REMOTE_ADDR"), "203.0.113.9");
	assert_string_equal(get("TENANT"), "acme");
	assert_string_equal(get("PATH"), "/usr/bin:/bin");
	assert_string_equal(get("HTTP_HOST"), "acme.test.localhost:8080");
	assert_string_equal(get("HTTP_X_MULTI"), "a, b");
	assert_string_equal(get("HTTP_COOKIE"), "c=1; d=2");
	assert_string_equal(get("HTTP_ACCEPT"), "*/*");
	assert_string_equal(get("HTTP_X_EMPTY"), "");
	assert_string_equal(get("HTTP_X_FORWARDED_FOR"),
	    "1.2.3.4, 203.0.113.9");
	/* Never: the credential, httpoxy, framing twice, look-alikes. */
	assert_null(get("HTTP_AUTHORIZATION"));
	assert_null(get("HTTP_PROXY"));
	assert_null(get("HTTP_PROXY_AUTHORIZATION"));
	assert_null(get("HTTP_CONTENT_LENGTH"));
	assert_null(get("HTTP_CONTENT_TYPE"));
	assert_null(get("HTTP_X_UNDER"));
	assert_null(get("HTTP_X_CTL"));
	for (i = 0; i < ce.ce_n; i++)
		assert_null(strstr(ce.ce_buf + ce.ce_off[i], "secret"));
}

static void
test_env_defaults(void **state)
{
	assert_int_equal(build("GET /api HTTP/1.0\r\n"
	    "Host: acme.test.localhost\r\n\r\n", "/api", NULL), 0);
	assert_string_equal(get("SERVER_PROTOCOL"), "HTTP/1.0");
	assert_string_equal(get("SCRIPT_NAME"), "/api");
	assert_string_equal(get("PATH_INFO"), "");
	assert_string_equal(get("QUERY_STRING"), "");
	assert_null(get("CONTENT_LENGTH"));
	assert_null(get("CONTENT_TYPE"));
	/* No proxy hop, or no address in it: unknown, never loopback. */
	assert_string_equal(get("REMOTE_ADDR"), "0.0.0.0");
	assert_int_equal(build("GET /api HTTP/1.1\r\n" HOST "\r\n", "/api",
	    "127.0.0.1, evil"), 0);
	assert_string_equal(get("REMOTE_ADDR"), "0.0.0.0");
	assert_int_equal(build("GET /api HTTP/1.1\r\n" HOST "\r\n", "/api",
	    " 2001:db8::1 "), 0);
	assert_string_equal(get("REMOTE_ADDR"), "2001:db8::1");
	/* The catch-all: SCRIPT_NAME "" and the whole path as PATH_INFO. */
	assert_int_equal(build("GET /x/y HTTP/1.1\r\n" HOST "\r\n", "/",
	    NULL), 0);
	assert_string_equal(get("SCRIPT_NAME"), "");
	assert_string_equal(get("PATH_INFO"), "/x/y");
	/* Absolute form: the path is what matters, the URI stays raw. */
	assert_int_equal(build("GET http://acme.test.localhost:8080/api/z "
	    "HTTP/1.1\r\n" HOST "\r\n", "/api", NULL), 0);
	assert_string_equal(get("PATH_INFO"), "/z");
	assert_string_equal(get("REQUEST_URI"),
	    "http://acme.test.localhost:8080/api/z");
}

static void
test_path_info(void **state)
{
	static const struct {
		const char	*path;
		int		 status;
		const char	*info;
	} cases[] = {
		{ "/api/a%20b", 0, "/a b" },
		{ "/api/%C3%A9", 0, "/\xc3\xa9" },
		{ "/api/%2541", 0, "/%41" },		/* once only */
		{ "/api/a%2Fb", 0, "/a/b" },
		{ "/api/.hidden", 0, "/.hidden" },
		{ "/api/a...", 0, "/a..." },
		{ "/api/...", 0, "/..." },
		{ "/api//x", 0, "//x" },
		{ "/api/a%00b", 400, NULL },
		{ "/api/a%0Ab", 400, NULL },
		{ "/api/a%7f", 400, NULL },
		{ "/api/a%zz", 400, NULL },
		{ "/api/a%4", 400, NULL },
		{ "/api/..", 400, NULL },
		{ "/api/../x", 400, NULL },
		{ "/api/./x", 400, NULL },
		{ "/api/x/.", 400, NULL },
		{ "/api/%2e%2e/x", 400, NULL },
		{ "/api/x%2F..%2Fy", 400, NULL },
		{ "/api/%2E", 400, NULL },
	};
	char	 req[256];
	size_t	 i;
	int	 r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n" HOST "\r\n",
		    cases[i].path);
		r = build(req, "/api", NULL);
		if (r != cases[i].status || (r == 0 &&
		    strcmp(get("PATH_INFO"), cases[i].info) != 0)) {
			print_error("%s: %d %s\n", cases[i].path, r,
			    r == 0 ? get("PATH_INFO") : "");
			fail();
		}
	}
}

/* A request to /api with n headers of 940 bytes each. */
static void
big_headers(char *req, size_t sz, size_t n)
{
	size_t	 o, i;

	o = (size_t)snprintf(req, sz, "GET /api HTTP/1.1\r\n" HOST);
	for (i = 0; i < n; i++) {
		o += (size_t)snprintf(req + o, sz - o, "X-B%zu: ", i);
		memset(req + o, 'v', 940);
		o += 940;
		o += (size_t)snprintf(req + o, sz - o, "\r\n");
	}
	snprintf(req + o, sz - o, "\r\n");
}

/* What does not fit one protocol string or one message is refused. */
static void
test_env_limits(void **state)
{
	static char	 req[20000];
	size_t		 o, i;
	struct msgbuf	 mb;
	struct msg	 m;
	char		 s[PROTO_STR_MAX + 1];
	uint32_t	 n;

	/* A target longer than a protocol string: 414. */
	o = (size_t)snprintf(req, sizeof(req), "GET /api/");
	memset(req + o, 'a', 1100);
	o += 1100;
	snprintf(req + o, sizeof(req) - o, " HTTP/1.1\r\n" HOST "\r\n");
	assert_int_equal(build(req, "/api", NULL), 414);

	/* One header longer than a protocol string: 431. */
	o = (size_t)snprintf(req, sizeof(req), "GET /api HTTP/1.1\r\n" HOST
	    "X-Big: ");
	memset(req + o, 'b', 1100);
	o += 1100;
	snprintf(req + o, sizeof(req) - o, "\r\n\r\n");
	assert_int_equal(build(req, "/api", NULL), 431);

	/* As many fields as a head may have still fit RUN_ENV_MAX. */
	o = (size_t)snprintf(req, sizeof(req), "GET /api HTTP/1.1\r\n" HOST);
	for (i = 0; i < HH_MAX_HEADERS - 1; i++)
		o += (size_t)snprintf(req + o, sizeof(req) - o,
		    "X-H%zu: v\r\n", i);
	snprintf(req + o, sizeof(req) - o, "\r\n");
	assert_int_equal(build(req, "/api", NULL), 0);
	assert_true(ce.ce_n <= RUN_ENV_MAX);

	/* Many big headers: the message would pass PROTO_MSG_MAX, 431. */
	big_headers(req, sizeof(req), 17);
	assert_int_equal(build(req, "/api", NULL), 431);

	/* What was accepted encodes, and decodes back the same. */
	big_headers(req, sizeof(req), 16);
	assert_int_equal(build(req, "/api", NULL), 0);
	assert_int_equal(cgi_env_encode(&ce, "h", 7, &mb), 0);
	assert_int_equal(msg_finish(&mb), 0);
	assert_int_equal(msg_parse(&m, mb.mb_data, mb.mb_len), 0);
	assert_int_equal(m.m_type, MSG_RUN_REQUEST);
	assert_int_equal(m.m_conn_id, 7);
	assert_int_equal(msg_get_str(&m, s, sizeof(s)), 0);
	assert_string_equal(s, "h");
	assert_int_equal(msg_get_u32(&m, &n), 0);
	assert_int_equal(n, ce.ce_n);
	for (i = 0; i < n; i++) {
		assert_int_equal(msg_get_str(&m, s, sizeof(s)), 0);
		assert_string_equal(s, ce.ce_buf + ce.ce_off[i]);
	}
	assert_int_equal(msg_end(&m), 0);
}

/*
 * The worker refuses to send what tenantd would kill it for
 * (common/runarg.c): a bad handler or entry costs one request, not the
 * worker and every connection it holds.
 */
static void
test_env_encode_rule(void **state)
{
	static const char *const bad[] = {
		"FOO=a\nb", "FOO=a\x1b[31m", "1FOO=x", "FO-O=x", "FOO",
	};
	struct msgbuf	 mb;
	size_t		 i, n;

	memset(&ce, 0, sizeof(ce));
	memcpy(ce.ce_buf, "PATH=/usr/bin:/bin", 19);
	ce.ce_len = 19;
	ce.ce_n = 1;
	assert_int_equal(cgi_env_encode(&ce, "h.sh", 1, &mb), 0);
	assert_int_equal(cgi_env_encode(&ce, "../h", 1, &mb), -1);
	assert_int_equal(cgi_env_encode(&ce, ".h", 1, &mb), -1);
	assert_int_equal(cgi_env_encode(&ce, "", 1, &mb), -1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = strlen(bad[i]) + 1;
		memcpy(ce.ce_buf + 19, bad[i], n);
		ce.ce_len = 19 + n;
		ce.ce_off[1] = 19;
		ce.ce_n = 2;
		if (cgi_env_encode(&ce, "h.sh", 1, &mb) != -1) {
			print_error("entry \"%s\" encoded\n", bad[i]);
			fail();
		}
	}
}

static int
resp(const char *out)
{
	return cgi_resp_parse((const uint8_t *)out, strlen(out), &cs);
}

static int
head_has(const char *line)
{
	char	 h[CGI_HEAD_MAX + 1];

	memcpy(h, cs.cs_head, cs.cs_head_len);
	h[cs.cs_head_len] = '\0';
	return strstr(h, line) != NULL;
}

static void
test_resp(void **state)
{
	static const char	 ok[] = "Content-Type: text/plain\n"
	    "X-Extra:  yes \n"
	    "Set-Cookie: a=1\r\n"
	    "Connection: close\n"
	    "Transfer-Encoding: chunked\n"
	    "Content-Length: 99\n"
	    "Keep-Alive: timeout=9\n"
	    "Upgrade: h2c\n"
	    "Trailer: X\n"
	    "TE: trailers\n"
	    "Date: yesterday\n"
	    "Bad Name: dropped\n"
	    "X-Ctl: a\x01" "b\n"
	    "\n"
	    "hello\n";

	assert_int_equal(resp(ok), 0);
	assert_int_equal(cs.cs_status, 200);
	assert_string_equal(cs.cs_reason, "");
	assert_string_equal((const char *)ok + cs.cs_body_off, "hello\n");
	assert_true(head_has("Content-Type: text/plain\r\n"));
	assert_true(head_has("X-Extra: yes\r\n"));
	assert_true(head_has("Set-Cookie: a=1\r\n"));
	assert_false(head_has("Connection"));
	assert_false(head_has("chunked"));
	assert_false(head_has("99"));
	assert_false(head_has("timeout"));
	assert_false(head_has("h2c"));
	assert_false(head_has("Trailer"));
	assert_false(head_has("trailers"));
	assert_false(head_has("yesterday"));
	assert_false(head_has("dropped"));
	assert_false(head_has("X-Ctl"));

	assert_int_equal(resp("Status: 404 Not Here\r\n"
	    "Content-Type: text/html\r\n\r\n<p>no</p>"), 0);
	assert_int_equal(cs.cs_status, 404);
	assert_string_equal(cs.cs_reason, "Not Here");
	assert_int_equal(resp("Status: 201\n\n"), 0);
	assert_int_equal(cs.cs_status, 201);
	assert_string_equal(cs.cs_reason, "");
	assert_int_equal(cs.cs_body_off, strlen("Status: 201\n\n"));
	/* A reason that is not printable ASCII is replaced by ours. */
	assert_int_equal(resp("Status: 500 \xff\n\n"), 0);
	assert_string_equal(cs.cs_reason, "");
	/* A Location alone is a redirect, local or not (not followed). */
	assert_int_equal(resp("Location: /elsewhere\n\n"), 0);
	assert_int_equal(cs.cs_status, 302);
	assert_true(head_has("Location: /elsewhere\r\n"));
	assert_int_equal(resp("Location: https://example.com/\n"
	    "Status: 301 Moved\n\n"), 0);
	assert_int_equal(cs.cs_status, 301);
	/* The body may hold anything, empty lines included. */
	assert_int_equal(resp("Content-Type: a/b\n\n\n\nx"), 0);
	assert_int_equal(cs.cs_body_off, strlen("Content-Type: a/b\n\n"));
}

static void
test_resp_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"hello world\n",
		"hello world\n\nbody",
		"Content-Type: text/plain\n",		/* no empty line */
		"Content-Type: text/plain",
		"\n\nbody",				/* nothing in it */
		"X-Only: 1\n\nbody",
		"Status: 99\n\n",
		"Status: 101 Switching Protocols\n\n",
		"Status: 600\n\n",
		"Status: 2000\n\n",
		"Status: abc\n\n",
		"Status:\n\n",
		"Status: 200\nStatus: 404\n\n",
		"Status: 20\x01\n\n",
		"Content-Type: a\nContent-Type: b\n\n",
		"Content-Type:\n\n",
		"Location: /a\nLocation: /b\n\n",
		"Content-Type: a\n folded\n\n",
		"Content-Type: a\rX-Injected: 1\n\n",
		"Content-Type: a\nno colon line\n\n",
	};
	static char	 big[CGI_HEAD_MAX * 3];
	size_t		 i, o;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (resp(bad[i]) != -1) {
			print_error("accepted: %s\n", bad[i]);
			fail();
		}
	/* A header section past CGI_HEAD_MAX is not ours to pass. */
	o = (size_t)snprintf(big, sizeof(big), "Content-Type: a\n");
	while (o < CGI_HEAD_MAX + 100)
		o += (size_t)snprintf(big + o, sizeof(big) - o,
		    "X-Pad: 0123456789012345678901234567890123456789\n");
	snprintf(big + o, sizeof(big) - o, "\nbody");
	assert_int_equal(resp(big), -1);
}

/* Parse a raw request and build the head a persistent app is sent. */
static char	 areq[PROTO_MSG_MAX];
static size_t	 areq_len;

static int
app_build(const char *req)
{
	static struct hh_parser	 hp;
	struct cgi_req		 cq;
	static uint8_t		 buf[CGI_APP_HEAD_SIZE(PROTO_MSG_MAX)];
	size_t			 len;
	int			 r;

	hh_init(&hp, PROTO_MSG_MAX - 64, 15000);
	if (hh_feed(&hp, (const uint8_t *)req, strlen(req)) != HH_DONE) {
		print_error("%s\n", hp.hp_head.hh_error);
		fail();
	}
	memset(&cq, 0, sizeof(cq));
	cq.cq_head = (const uint8_t *)req;
	cq.cq_head_len = hp.hp_head.hh_len;
	cq.cq_method = http_method_str(hp.hp_head.hh_method);
	cq.cq_target = req + hp.hp_head.hh_target.off;
	cq.cq_target_len = hp.hp_head.hh_target.len;
	cq.cq_has_body = hp.hp_head.hh_has_clen;
	cq.cq_clen = hp.hp_head.hh_clen;
	if ((r = cgi_app_request(&cq, buf, CGI_APP_HEAD_SIZE(cq.cq_head_len),
	    &len)) != 0)
		return r;
	assert_true(len < sizeof(areq));
	memcpy(areq, buf, len);
	areq[len] = '\0';
	areq_len = len;
	/* What we send is a request our own reader takes, and no more. */
	hh_init(&hp, sizeof(areq), 15000);
	assert_int_equal(hh_feed(&hp, (const uint8_t *)areq, len), HH_DONE);
	assert_int_equal(hp.hp_head.hh_len, len);
	assert_int_equal(hp.hp_head.hh_minor, 0);
	assert_false(hp.hp_head.hh_chunked);
	assert_false(hp.hp_head.hh_keepalive);
	assert_int_equal(hp.hp_head.hh_has_clen, cq.cq_has_body);
	assert_int_equal(hp.hp_head.hh_clen, cq.cq_clen);
	return 0;
}

static void
test_app_request(void **state)
{
	static const char	 req[] = "POST /app/x?a=1 HTTP/1.1\r\n" HOST
	    "Content-Type: text/plain\r\n"
	    "Content-Length: 5\r\n"
	    "Authorization: Bearer app-own\r\n"
	    "Connection: keep-alive, X-Forwarded-For\r\n"
	    "Keep-Alive: timeout=5\r\n"
	    "Proxy-Connection: keep-alive\r\n"
	    "TE: trailers\r\n"
	    "Trailer: X-T\r\n"
	    "Upgrade: websocket\r\n"
	    "Expect: 100-continue\r\n"
	    "Proxy: http://evil.example/\r\n"
	    "Proxy-Authorization: Basic eA==\r\n"
	    "X-Forwarded-For: 1.2.3.4, 203.0.113.9\r\n"
	    "X-Forwarded-Proto: https\r\n"
	    "X-Multi: a\r\n"
	    "x-multi: b\r\n"
	    "X_Under: sneaky\r\n"
	    "X-Tab: a\tb\r\n"
	    "X-Empty:\r\n"
	    "X-Tight:v\r\n"
	    "Accept:   */*  \r\n\r\n";

	assert_int_equal(app_build(req), 0);
	assert_string_equal(areq, "POST /app/x?a=1 HTTP/1.0\r\n"
	    "Host: acme.test.localhost:8080\r\n"
	    "Content-Type: text/plain\r\n"
	    "Authorization: Bearer app-own\r\n"
	    "X-Forwarded-For: 1.2.3.4, 203.0.113.9\r\n"
	    "X-Forwarded-Proto: https\r\n"
	    "X-Multi: a\r\n"
	    "x-multi: b\r\n"
	    "X-Tab: a\tb\r\n"
	    "X-Empty:\r\n"
	    "X-Tight: v\r\n"
	    "Accept: */*\r\n"
	    "Connection: close\r\n"
	    "Content-Length: 5\r\n"
	    "\r\n");

	/* No body: no Content-Length; HEAD and the absolute form as sent. */
	assert_int_equal(app_build("HEAD /app HTTP/1.0\r\n"
	    "Host: acme.test.localhost\r\n\r\n"), 0);
	assert_string_equal(areq, "HEAD /app HTTP/1.0\r\n"
	    "Host: acme.test.localhost\r\n"
	    "Connection: close\r\n\r\n");
	assert_int_equal(app_build("GET http://acme.test.localhost/app "
	    "HTTP/1.1\r\nHost: acme.test.localhost\r\n"
	    "Content-Length: 0\r\n\r\n"), 0);
	assert_string_equal(areq, "GET http://acme.test.localhost/app "
	    "HTTP/1.0\r\nHost: acme.test.localhost\r\n"
	    "Connection: close\r\nContent-Length: 0\r\n\r\n");
}

/*
 * The worst case for CGI_APP_HEAD_SIZE: many fields, each as short as it
 * gets and without a space. (Two short of HH_MAX_HEADERS, so that with
 * our Connection field our own reader, which app_build() checks the
 * result with, still takes it.)
 */
static void
test_app_request_size(void **state)
{
	static char	 req[4096];
	size_t		 o, i;

	o = (size_t)snprintf(req, sizeof(req), "GET /a HTTP/1.1\r\n"
	    "Host:acme.test.localhost\r\n");
	for (i = 1; i < HH_MAX_HEADERS - 2; i++)
		o += (size_t)snprintf(req + o, sizeof(req) - o, "a:b\r\n");
	snprintf(req + o, sizeof(req) - o, "\r\n");
	assert_int_equal(app_build(req), 0);
	assert_true(areq_len > strlen(req));
}

static int
aresp(const char *out, int head)
{
	return cgi_app_resp_parse((const uint8_t *)out, strlen(out), head,
	    &cs);
}

static void
test_app_resp(void **state)
{
	static const char	 ok[] = "HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/plain\r\n"
	    "X-Extra:  yes \r\n"
	    "X-Tab: a\tb\r\n"
	    "Set-Cookie: a=1\r\n"
	    "Set-Cookie: b=2\r\n"
	    "Status: 404\r\n"
	    "Connection: keep-alive\r\n"
	    "Content-Length: 6\r\n"
	    "content-length: 6\r\n"
	    "Keep-Alive: timeout=9\r\n"
	    "Upgrade: h2c\r\n"
	    "Trailer: X\r\n"
	    "TE: trailers\r\n"
	    "Proxy-Connection: close\r\n"
	    "Date: yesterday\r\n"
	    "\r\n"
	    "hello\n";

	assert_int_equal(aresp(ok, 0), 0);
	assert_int_equal(cs.cs_status, 200);
	assert_string_equal(cs.cs_reason, "OK");
	assert_string_equal((const char *)ok + cs.cs_body_off, "hello\n");
	assert_int_equal(cs.cs_body_len, 6);
	assert_true(cs.cs_has_clen);
	assert_int_equal(cs.cs_clen, 6);
	assert_true(head_has("Content-Type: text/plain\r\n"));
	assert_true(head_has("X-Extra: yes\r\n"));
	assert_true(head_has("X-Tab: a\tb\r\n"));
	assert_true(head_has("Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n"));
	/* Only a field here, not the status. */
	assert_true(head_has("Status: 404\r\n"));
	assert_false(head_has("Connection"));
	assert_false(head_has("ength"));
	assert_false(head_has("timeout"));
	assert_false(head_has("h2c"));
	assert_false(head_has("Trailer"));
	assert_false(head_has("trailers"));
	assert_false(head_has("Proxy"));
	assert_false(head_has("yesterday"));

	/* HTTP/1.0, LF only, no reason, no Content-Length: to EOF. */
	assert_int_equal(aresp("HTTP/1.0 404\nX-A: 1\n\nnot here", 0), 0);
	assert_int_equal(cs.cs_status, 404);
	assert_string_equal(cs.cs_reason, "");
	assert_int_equal(cs.cs_body_len, 8);
	assert_false(cs.cs_has_clen);
	assert_int_equal(aresp("HTTP/1.1 201 \r\n\r\n", 0), 0);
	assert_int_equal(cs.cs_status, 201);
	assert_string_equal(cs.cs_reason, "");
	assert_int_equal(cs.cs_body_len, 0);
	/* A reason we will not repeat is replaced by ours. */
	assert_int_equal(aresp("HTTP/1.1 500 \xff\r\n\r\n", 0), 0);
	assert_string_equal(cs.cs_reason, "");
	/* The body may hold anything, empty lines included. */
	assert_int_equal(aresp("HTTP/1.1 200 OK\r\n\r\n\r\n\r\nx", 0), 0);
	assert_int_equal(cs.cs_body_len, 5);

	/*
	 * HEAD, 204 and 304 have no body: Content-Length is not the length
	 * of what follows, and what follows is dropped.
	 */
	assert_int_equal(aresp("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n"
	    "\r\n", 1), 0);
	assert_true(cs.cs_has_clen);
	assert_int_equal(cs.cs_clen, 1234);
	assert_int_equal(cs.cs_body_len, 0);
	assert_int_equal(aresp("HTTP/1.1 200 OK\r\n\r\nstray", 1), 0);
	assert_int_equal(cs.cs_body_len, 0);
	assert_int_equal(aresp("HTTP/1.1 304 Not Modified\r\n"
	    "Content-Length: 99\r\nETag: \"x\"\r\n\r\n", 0), 0);
	assert_int_equal(cs.cs_status, 304);
	assert_int_equal(cs.cs_body_len, 0);
	assert_true(head_has("ETag: \"x\"\r\n"));
	assert_int_equal(aresp("HTTP/1.1 204 No Content\r\n\r\njunk", 0), 0);
	assert_int_equal(cs.cs_body_len, 0);
}

static void
test_app_resp_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"HTTP/1.1 200 OK",			/* no line end */
		"HTTP/1.1 200 OK\r\n",			/* no empty line */
		"HTTP/1.1 200 OK\r\nX-A: 1\r\n",
		"hello world\r\n\r\n",
		"Status: 200\r\n\r\n",			/* CGI, not HTTP */
		"HTTP/2 200\r\n\r\n",
		"HTTP/2.0 200 OK\r\n\r\n",
		"HTTP/1.x 200 OK\r\n\r\n",
		"HTTP/1.1  200 OK\r\n\r\n",
		"http/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\n\r\n",
		"HTTP/1.1 199 X\r\n\r\n",
		"HTTP/1.1 600 X\r\n\r\n",
		"HTTP/1.1 099 X\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"HTTP/1.1 200OK\r\n\r\n",
		"HTTP/1.1 200 O\rK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A : x\r\n\r\n",
		"HTTP/1.1 200 OK\r\n: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A: a\r\n folded\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A: a\rX-Injected: 1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-Ctl: a\x01" "b\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-Del: a\x7f\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nx",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhell",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello!",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
		    "Content-Length: 6\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nContent-Length: "
		    "99999999999999999999\r\n\r\n",
		/* Even for HEAD, the framing must be well-formed. */
		"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
	};
	static char	 big[CGI_HEAD_MAX * 3];
	size_t		 i, o;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (aresp(bad[i], 0) != -1 || (i == sizeof(bad) /
		    sizeof(bad[0]) - 1 && aresp(bad[i], 1) != -1)) {
			print_error("accepted: %s\n", bad[i]);
			fail();
		}
	/* A head past CGI_HEAD_MAX is a bad gateway; just below is fine. */
	o = (size_t)snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\n");
	while (o < CGI_HEAD_MAX - 100)
		o += (size_t)snprintf(big + o, sizeof(big) - o,
		    "X-Pad: 0123456789012345678901234567890123456789\r\n");
	snprintf(big + o, sizeof(big) - o, "\r\nbody");
	assert_int_equal(aresp(big, 0), 0);
	assert_int_equal(cs.cs_body_len, 4);
	while (o < CGI_HEAD_MAX + 100)
		o += (size_t)snprintf(big + o, sizeof(big) - o,
		    "X-Pad: 0123456789012345678901234567890123456789\r\n");
	snprintf(big + o, sizeof(big) - o, "\r\nbody");
	assert_int_equal(aresp(big, 0), -1);
}

/* The CGI parser reports the body's length too. */
static void
test_resp_body_len(void **state)
{
	assert_int_equal(resp("Content-Type: a/b\n\nbody"), 0);
	assert_int_equal(cs.cs_body_len, 4);
	assert_false(cs.cs_has_clen);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes_good),
		cmocka_unit_test(test_routes_bad),
		cmocka_unit_test(test_routes_persistent),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_env_defaults),
		cmocka_unit_test(test_path_info),
		cmocka_unit_test(test_env_limits),
		cmocka_unit_test(test_env_encode_rule),
		cmocka_unit_test(test_resp),
		cmocka_unit_test(test_resp_bad),
		cmocka_unit_test(test_resp_body_len),
		cmocka_unit_test(test_app_request),
		cmocka_unit_test(test_app_request_size),
		cmocka_unit_test(test_app_resp),
		cmocka_unit_test(test_app_resp_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
