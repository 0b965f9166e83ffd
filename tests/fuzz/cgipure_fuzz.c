/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Per-request handler parsers fuzz target: the input is an app/routes
 * file, a request head and a handler's output, separated by NULs. A routes
 * file is taken whole or not at all, and every route in it is well-formed;
 * an environment that is accepted has at most RUN_ENV_MAX entries, no
 * control byte, never the credential or HTTP_PROXY, passes the rule
 * tenantd and tenantd-run apply (runarg_env_ok()) and encodes into one
 * message; a response that is accepted has a final status, a body inside
 * the output and a head of "Name: value" lines without framing fields.
 * The same request rebuilt for a persistent app always fits the buffer the
 * worker gives it, carries no hop-by-hop or framing field of the client's,
 * and reads back as one HTTP/1.0 request with the same body length; the
 * same output read as an app's response, accepted, has a final status, a
 * body inside the output that agrees with any Content-Length, and a clean
 * head.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cgipure.h"
#include "httphead.h"
#include "proto.h"
#include "runarg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define REQUIRE(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "cgipure_fuzz: %s:%d: %s\n", __FILE__,	\
		    __LINE__, #c);					\
		abort();						\
	}								\
} while (0)

static struct cgi_routes	rt;
static struct cgi_env		ce;
static struct cgi_resp		cs;
static struct msgbuf		mb;
static struct hh_parser		hp;
static struct hh_parser		hp2;
static uint8_t			abuf[CGI_APP_HEAD_SIZE(4096)];

/* Split off the part up to the next NUL (or the end). */
static const uint8_t *
part(const uint8_t **p, size_t *left, size_t *len)
{
	const uint8_t	*s = *p, *nul;

	if ((nul = memchr(s, '\0', *left)) == NULL) {
		*len = *left;
		*p += *left;
		*left = 0;
	} else {
		*len = (size_t)(nul - s);
		*p = nul + 1;
		*left -= *len + 1;
	}
	return s;
}

static void
check_routes(void)
{
	size_t	 i;

	REQUIRE(rt.cr_n <= CGI_ROUTES_MAX);
	for (i = 0; i < rt.cr_n; i++) {
		REQUIRE(rt.cr_ent[i].cr_prefix[0] == '/');
		REQUIRE(strlen(rt.cr_ent[i].cr_prefix) ==
		    rt.cr_ent[i].cr_prefix_len);
		REQUIRE(strstr(rt.cr_ent[i].cr_prefix, "//") == NULL);
		REQUIRE(strstr(rt.cr_ent[i].cr_prefix, "/./") == NULL);
		REQUIRE(strstr(rt.cr_ent[i].cr_prefix, "/../") == NULL);
		REQUIRE(strncmp(rt.cr_ent[i].cr_prefix, "/.tenantd", 9) != 0);
		REQUIRE(runarg_name_ok(rt.cr_ent[i].cr_handler,
		    strlen(rt.cr_ent[i].cr_handler)));
		REQUIRE(rt.cr_ent[i].cr_persistent == 0 ||
		    rt.cr_ent[i].cr_persistent == 1);
	}
}

static void
check_env(const char *path, size_t plen, const struct http_head *h,
    const uint8_t *head, const struct cgi_route *r)
{
	struct cgi_req	 cq;
	const char	*e;
	size_t		 i, j;

	memset(&cq, 0, sizeof(cq));
	cq.cq_head = head;
	cq.cq_head_len = h->hh_len;
	cq.cq_method = http_method_str(h->hh_method);
	cq.cq_minor = h->hh_minor;
	cq.cq_server_name = "acme.test.localhost";
	cq.cq_target = (const char *)head + h->hh_target.off;
	cq.cq_target_len = h->hh_target.len;
	cq.cq_path = path;
	cq.cq_path_len = plen;
	cq.cq_remote = (const char *)head + h->hh_xff.off;
	cq.cq_remote_len = h->hh_xff.len;
	cq.cq_slug = "acme";
	cq.cq_has_body = h->hh_has_clen;
	cq.cq_clen = h->hh_clen;
	if (cgi_env_build(&cq, r, &ce) != 0)
		return;
	REQUIRE(ce.ce_n <= RUN_ENV_MAX && ce.ce_len <= sizeof(ce.ce_buf));
	for (i = 0; i < ce.ce_n; i++) {
		e = ce.ce_buf + ce.ce_off[i];
		REQUIRE(strchr(e, '=') != NULL && strlen(e) <= PROTO_STR_MAX);
		/* What tenantd and tenantd-run will accept (runarg.h). */
		REQUIRE(runarg_env_ok(e, strlen(e)));
		for (j = 0; e[j] != '\0'; j++)
			REQUIRE((unsigned char)e[j] >= 0x20 &&
			    (unsigned char)e[j] != 0x7f);
		REQUIRE(strncmp(e, "HTTP_AUTHORIZATION=", 19) != 0);
		REQUIRE(strncmp(e, "HTTP_PROXY=", 11) != 0);
		REQUIRE(strncmp(e, "HTTP_PROXY_AUTHORIZATION=", 25) != 0);
	}
	REQUIRE(cgi_env_encode(&ce, r->cr_handler, 1, &mb) == 0);
	REQUIRE(msg_finish(&mb) == 0);
}

/* Names an app never gets from the client (cgipure.c). */
static int
app_req_hidden(const char *n, size_t len)
{
	static const char *const hidden[] = { "connection", "keep-alive",
	    "proxy-connection", "te", "trailer", "transfer-encoding",
	    "upgrade", "content-length", "expect", "proxy",
	    "proxy-authorization" };
	size_t	 i;

	for (i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++)
		if (strlen(hidden[i]) == len &&
		    strncasecmp(hidden[i], n, len) == 0)
			return 1;
	return 0;
}

static void
check_app_req(const struct http_head *h, const uint8_t *head)
{
	struct cgi_req	 cq;
	const char	*line, *lf, *colon, *end;
	size_t		 len, nconn = 0, nclen = 0;
	int		 r;

	memset(&cq, 0, sizeof(cq));
	cq.cq_head = head;
	cq.cq_head_len = h->hh_len;
	cq.cq_method = http_method_str(h->hh_method);
	cq.cq_target = (const char *)head + h->hh_target.off;
	cq.cq_target_len = h->hh_target.len;
	cq.cq_has_body = h->hh_has_clen;
	cq.cq_clen = h->hh_clen;
	REQUIRE(h->hh_len <= 4096);
	r = cgi_app_request(&cq, abuf, CGI_APP_HEAD_SIZE(h->hh_len), &len);
	REQUIRE(r == 0 || r == 400);	/* never "does not fit" */
	if (r != 0)
		return;
	REQUIRE(len <= CGI_APP_HEAD_SIZE(h->hh_len));
	/* Line by line: our fields once, none of the client's framing. */
	line = (const char *)abuf;
	end = line + len;
	REQUIRE((lf = memchr(line, '\n', len)) != NULL);
	line = lf + 1;
	while ((lf = memchr(line, '\n', (size_t)(end - line))) != NULL &&
	    lf - line > 1) {
		REQUIRE(lf[-1] == '\r');
		REQUIRE((colon = memchr(line, ':', (size_t)(lf - line))) !=
		    NULL);
		if (strncmp(line, "Connection: close\r\n", 19) == 0)
			nconn++;
		else if (strncmp(line, "Content-Length: ", 16) == 0)
			REQUIRE(h->hh_has_clen && nclen++ == 0);
		else
			REQUIRE(!app_req_hidden(line, (size_t)(colon - line)));
		line = lf + 1;
	}
	REQUIRE(nconn == 1);
	REQUIRE(lf != NULL && lf + 1 == end);
	/* It reads back as the request we meant (or has too many fields). */
	hh_init(&hp2, sizeof(abuf), sizeof(abuf));
	if (hh_feed(&hp2, abuf, len) != HH_DONE) {
		REQUIRE(hp2.hp_head.hh_error_status == 431);
		return;
	}
	REQUIRE(hp2.hp_head.hh_len == len && hp2.hp_head.hh_minor == 0);
	REQUIRE(!hp2.hp_head.hh_chunked && !hp2.hp_head.hh_keepalive);
	REQUIRE(hp2.hp_head.hh_has_clen == h->hh_has_clen);
	REQUIRE(hp2.hp_head.hh_clen == h->hh_clen);
	REQUIRE(hp2.hp_head.hh_method == h->hh_method);
}

/* A head of CRLF-ended "Name: value" lines, none of them framing. */
static void
check_head(void)
{
	size_t	 i;

	for (i = 0; i < cs.cs_head_len; i++) {
		unsigned char	 c = (unsigned char)cs.cs_head[i];

		if (c == '\r')
			REQUIRE(i + 1 < cs.cs_head_len &&
			    cs.cs_head[i + 1] == '\n');
		else if (c == '\n')
			REQUIRE(i > 0 && cs.cs_head[i - 1] == '\r');
		else
			REQUIRE(c == '\t' || (c >= 0x20 && c != 0x7f));
		/* Each line starts with a name that is not framing. */
		if (i == 0 || cs.cs_head[i - 1] == '\n') {
			REQUIRE(strncasecmp(cs.cs_head + i,
			    "content-length:", 15) != 0);
			REQUIRE(strncasecmp(cs.cs_head + i,
			    "transfer-encoding:", 18) != 0);
			REQUIRE(strncasecmp(cs.cs_head + i,
			    "connection:", 11) != 0);
		}
	}
}

static void
check_resp(const uint8_t *out, size_t len)
{
	if (cgi_resp_parse(out, len, &cs) == -1)
		return;
	REQUIRE(cs.cs_status >= 200 && cs.cs_status <= 599);
	REQUIRE(cs.cs_body_off <= len && cs.cs_head_len <= CGI_HEAD_MAX);
	REQUIRE(cs.cs_body_len == len - cs.cs_body_off);
	REQUIRE(strlen(cs.cs_reason) <= CGI_REASON_MAX);
	check_head();
}

static void
check_app_resp(const uint8_t *out, size_t len, int head)
{
	size_t	 i;

	if (cgi_app_resp_parse(out, len, head, &cs) == -1)
		return;
	REQUIRE(cs.cs_status >= 200 && cs.cs_status <= 599);
	REQUIRE(cs.cs_body_off <= CGI_HEAD_MAX && cs.cs_body_off <= len);
	REQUIRE(cs.cs_body_len <= len - cs.cs_body_off);
	REQUIRE(cs.cs_head_len <= CGI_HEAD_MAX);
	REQUIRE(strlen(cs.cs_reason) <= CGI_REASON_MAX);
	for (i = 0; cs.cs_reason[i] != '\0'; i++)
		REQUIRE(cs.cs_reason[i] >= 0x20 && cs.cs_reason[i] < 0x7f);
	if (head || cs.cs_status == 204 || cs.cs_status == 304)
		REQUIRE(cs.cs_body_len == 0);
	else {
		REQUIRE(cs.cs_body_len == len - cs.cs_body_off);
		if (cs.cs_has_clen)
			REQUIRE(cs.cs_clen == cs.cs_body_len);
	}
	check_head();
	for (i = 0; i < cs.cs_head_len; i++)
		if (i == 0 || cs.cs_head[i - 1] == '\n') {
			REQUIRE(strncasecmp(cs.cs_head + i, "date:", 5) != 0);
			REQUIRE(strncasecmp(cs.cs_head + i, "keep-alive:",
			    11) != 0);
			REQUIRE(strncasecmp(cs.cs_head + i, "upgrade:",
			    8) != 0);
		}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t		*p = data, *routes, *req, *out;
	const struct cgi_route	*r;
	struct hh_span		 path;
	size_t			 left = size, rl, ql, ol, line;
	uint8_t			*copy;

	routes = part(&p, &left, &rl);
	req = part(&p, &left, &ql);
	out = p;
	ol = left;

	if (cgi_routes_parse((const char *)routes, rl, &rt, &line) == -1)
		REQUIRE(rt.cr_n == 0 && line >= 1);
	check_routes();
	if (rt.cr_n == 0)
		cgi_routes_parse("/ catch-all\n", 12, &rt, &line);

	/* The head in a buffer of its own size, as the worker holds it. */
	if ((copy = malloc(ql ? ql : 1)) == NULL)
		return 0;
	memcpy(copy, req, ql);
	hh_init(&hp, 4096, 2048);
	if (hh_feed(&hp, copy, ql) == HH_DONE &&
	    hh_origin(&hp.hp_head, copy, &path) == 0 && path.len > 0 &&
	    (r = cgi_route_match(&rt, (const char *)copy + path.off,
	    path.len)) != NULL) {
		REQUIRE(r->cr_prefix_len <= path.len);
		check_env((const char *)copy + path.off, path.len,
		    &hp.hp_head, copy, r);
		check_app_req(&hp.hp_head, copy);
	}
	free(copy);

	check_resp(out, ol);
	check_app_resp(out, ol, 0);
	check_app_resp(out, ol, 1);
	return 0;
}
