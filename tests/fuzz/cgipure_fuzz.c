/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Per-request handler parsers fuzz target: the input is an app/routes
 * file, a request head and a handler's output, separated by NULs. A routes
 * file is taken whole or not at all, and every route in it is well-formed;
 * an environment that is accepted has at most RUN_ENV_MAX entries, no
 * control byte, never the credential or HTTP_PROXY, and encodes into one
 * message; a response that is accepted has a final status, a body inside
 * the output and a head of "Name: value" lines without framing fields.
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
		REQUIRE(cgi_handler_valid(rt.cr_ent[i].cr_handler,
		    strlen(rt.cr_ent[i].cr_handler)));
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

static void
check_resp(const uint8_t *out, size_t len)
{
	size_t	 i;

	if (cgi_resp_parse(out, len, &cs) == -1)
		return;
	REQUIRE(cs.cs_status >= 200 && cs.cs_status <= 599);
	REQUIRE(cs.cs_body_off <= len && cs.cs_head_len <= CGI_HEAD_MAX);
	REQUIRE(strlen(cs.cs_reason) <= CGI_REASON_MAX);
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
	}
	free(copy);

	check_resp(out, ol);
	return 0;
}
