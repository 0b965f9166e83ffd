/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The pure half of the worker's data plane: everything that reads client
 * bytes (the /.tenantd/ target, percent-decoding, the list query, the
 * Bearer credential) or does the arithmetic of limits (the token bucket).
 * No I/O, no allocation, no clock: unit tests and the fuzzer link it alone.
 */
#ifndef TENANTD_KVPATH_H
#define TENANTD_KVPATH_H

#include <stddef.h>
#include <stdint.h>

#define KV_PREFIX		"/.tenantd/"
#define KV_API_PREFIX		"/.tenantd/kv"
#define KV_LIST_DEFAULT		100
#define KV_LIST_MAX		1000

enum kv_route {
	KV_ROUTE_NONE = 0,	/* not under /.tenantd/: a static file */
	KV_ROUTE_UNKNOWN,	/* under /.tenantd/, nothing there: 404 */
	KV_ROUTE_ITEM,		/* /.tenantd/kv/<key> */
	KV_ROUTE_LIST,		/* /.tenantd/kv or /.tenantd/kv/, query allowed */
	KV_ROUTE_BAD,		/* a query string on an item: 400 */
};

/* Spans into the origin-form target the caller passed in. */
struct kv_target {
	enum kv_route	 kt_route;
	size_t		 kt_key_off;	/* the raw, still-encoded key */
	size_t		 kt_key_len;
	size_t		 kt_query_off;	/* after '?', if kt_has_query */
	size_t		 kt_query_len;
	int		 kt_has_query;
};

struct kv_query {
	char		*kq_prefix;	/* caller's buffers, kq_*_max + 1 */
	size_t		 kq_prefix_len;
	char		*kq_after;
	size_t		 kq_after_len;
	unsigned int	 kq_limit;
};

/*
 * A continuously refilled token bucket, counted in token-milliseconds per
 * minute so everything stays an integer: one token is 60000 units, and
 * each millisecond adds `rate` units (rate tokens per minute).
 */
struct tbucket {
	uint64_t	 tb_rate;	/* tokens per minute, >= 1 */
	uint64_t	 tb_units;	/* <= rate * 60000: a minute's worth */
	uint64_t	 tb_last_ms;
};

void	 kv_target_parse(const char *, size_t, struct kv_target *);
int	 kv_unescape(const char *, size_t, char *, size_t, size_t *);
int	 kv_key_valid(const char *, size_t, size_t);
int	 kv_query_parse(const char *, size_t, size_t, struct kv_query *);
int	 kv_bearer(const char *, size_t, size_t *, size_t *);
size_t	 kv_json_str(char *, size_t, const char *, size_t);
size_t	 kv_json_str_len(const char *, size_t);

void	 tb_init(struct tbucket *, uint64_t, uint64_t);
void	 tb_set_rate(struct tbucket *, uint64_t, uint64_t);
int	 tb_take(struct tbucket *, uint64_t, uint64_t *);

#endif
