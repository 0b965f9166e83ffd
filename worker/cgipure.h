/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The pure half of per-request handlers (CGI, RFC 3875): the app/routes
 * file, matching a request path to a route, the handler's environment and
 * the handler's response. Everything here reads bytes a tenant or a client
 * wrote; nothing does I/O or allocates, so unit tests and the fuzzer link
 * it alone.
 */
#ifndef TENANTD_CGIPURE_H
#define TENANTD_CGIPURE_H

#include <stddef.h>
#include <stdint.h>

#include "httphead.h"
#include "proto.h"

#define CGI_ROUTES_MAX		64
#define CGI_ROUTES_FILE_MAX	16384	/* app/routes, bytes */
#define CGI_PREFIX_MAX		255
#define CGI_HEAD_MAX		8192	/* a handler's header section */
#define CGI_REASON_MAX		64
/*
 * An app's request head is the client's, rebuilt: at most one byte more
 * per field ("a:b" becomes "a: b", and a field line is at least 5 bytes
 * with its CRLF) plus our own fields. Callers size the buffer with this.
 */
#define CGI_APP_HEAD_SIZE(hl)	((hl) + (hl) / 4 + 128)

struct cgi_route {
	char		 cr_prefix[CGI_PREFIX_MAX + 1];
	size_t		 cr_prefix_len;
	char		 cr_handler[RUN_NAME_MAX + 1];
	int		 cr_persistent;	/* 1: an HTTP app, MSG_APP_CONNECT */
};

struct cgi_routes {
	struct cgi_route cr_ent[CGI_ROUTES_MAX];
	size_t		 cr_n;
};

/*
 * What the environment (or an app's request head) is built from. Spans
 * point into the caller's request head (cq_head); cq_path is the
 * origin-form path and query.
 */
struct cgi_req {
	const uint8_t	*cq_head;
	size_t		 cq_head_len;
	const char	*cq_method;
	unsigned int	 cq_minor;
	const char	*cq_server_name;	/* canonical, no port */
	unsigned int	 cq_port;		/* 0: none in Host */
	const char	*cq_target;		/* REQUEST_URI, raw */
	size_t		 cq_target_len;
	const char	*cq_path;		/* origin form, raw */
	size_t		 cq_path_len;
	const char	*cq_remote;		/* X-Forwarded-For, last hop */
	size_t		 cq_remote_len;
	const char	*cq_slug;
	int		 cq_has_body;
	uint64_t	 cq_clen;
};

/* NUL-separated "NAME=value" entries, at most RUN_ENV_MAX. */
struct cgi_env {
	char		 ce_buf[PROTO_MSG_MAX];
	size_t		 ce_len;
	uint32_t	 ce_n;
	uint32_t	 ce_off[RUN_ENV_MAX];
};

/* A handler's or an app's response, parsed; offsets into its output. */
struct cgi_resp {
	int		 cs_status;
	char		 cs_reason[CGI_REASON_MAX + 1];	/* "" for ours */
	char		 cs_head[CGI_HEAD_MAX];	/* "Name: value\r\n" lines */
	size_t		 cs_head_len;
	size_t		 cs_body_off;
	size_t		 cs_body_len;	/* 0 when the response has none */
	int		 cs_has_clen;	/* an app's valid Content-Length */
	uint64_t	 cs_clen;
};

int	 cgi_routes_parse(const char *, size_t, struct cgi_routes *,
	    size_t *);
const struct cgi_route *cgi_route_match(const struct cgi_routes *,
	    const char *, size_t);
int	 cgi_env_build(const struct cgi_req *, const struct cgi_route *,
	    struct cgi_env *);
int	 cgi_env_encode(const struct cgi_env *, const char *, uint32_t,
	    struct msgbuf *);
int	 cgi_resp_parse(const uint8_t *, size_t, struct cgi_resp *);
int	 cgi_app_request(const struct cgi_req *, uint8_t *, size_t,
	    size_t *);
int	 cgi_app_resp_parse(const uint8_t *, size_t, int, struct cgi_resp *);

#endif
