/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The request-head reader shared by the supervisor and the worker: Debian's
 * http-parser does the tokenising; this layer adds the rules a router
 * behind a proxy needs (one Host, no CL+TE, TE must be exactly "chunked",
 * no obs-fold, no bare CR or LF, bounded sizes) and records spans into the
 * caller's buffer instead of copying. Framing (Content-Length, chunked,
 * keep-alive) is read from the fields here, by exact name. Pure: no I/O,
 * no allocation. After HH_DONE or HH_ERROR, hh_init() before the next
 * request.
 */
#ifndef TENANTD_HTTPHEAD_H
#define TENANTD_HTTPHEAD_H

#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

#define HH_MAX_HEADERS	100

enum hh_status {
	HH_MORE = 0,		/* head not complete yet */
	HH_DONE = 1,		/* head complete: see struct http_head */
	HH_ERROR = -1,		/* hh_error_status says what to answer */
};

struct hh_span {
	uint32_t	 off;
	uint32_t	 len;
};

struct http_head {
	unsigned int	 hh_method;		/* enum http_method */
	unsigned int	 hh_major;
	unsigned int	 hh_minor;
	size_t		 hh_len;		/* bytes, final CRLF included */
	struct hh_span	 hh_target;
	struct hh_span	 hh_host;		/* OWS trimmed */
	struct hh_span	 hh_inm;		/* If-None-Match */
	struct hh_span	 hh_ims;		/* If-Modified-Since */
	struct hh_span	 hh_xff;		/* X-Forwarded-For, the last */
	struct hh_span	 hh_auth;		/* Authorization */
	unsigned int	 hh_nauth;
	unsigned int	 hh_nhost;
	unsigned int	 hh_nheaders;
	unsigned int	 hh_nte;
	int		 hh_has_clen;
	uint64_t	 hh_clen;
	int		 hh_chunked;
	int		 hh_conn_close;		/* Connection: close */
	int		 hh_conn_keepalive;	/* Connection: keep-alive */
	int		 hh_keepalive;
	int		 hh_expect_continue;
	int		 hh_error_status;	/* 400, 414, 431, 501, 505 */
	const char	*hh_error;		/* short reason for logs */
};

struct hh_parser {
	http_parser	 hp_parser;
	struct http_head hp_head;
	const uint8_t	*hp_base;
	size_t		 hp_fed;
	size_t		 hp_max;
	size_t		 hp_target_max;
	struct hh_span	 hp_field;
	struct hh_span	 hp_value;
	int		 hp_in_value;
	int		 hp_fail;
	int		 hp_done;
};

void	 hh_init(struct hh_parser *, size_t, size_t);
int	 hh_feed(struct hh_parser *, const uint8_t *, size_t);
int	 hh_authority(const struct http_head *, const uint8_t *,
	    struct hh_span *);
int	 hh_origin(const struct http_head *, const uint8_t *,
	    struct hh_span *);
int	 hh_field_next(const uint8_t *, size_t, size_t *, struct hh_span *,
	    struct hh_span *);
int	 hh_is_token(const uint8_t *, size_t);
int	 hh_method_idempotent(const uint8_t *, size_t);

/* The value of a hex digit (percent-decoding), or -1. */
int	 hex_digit(int);

#endif
