/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Wire protocol fuzz target (THREATS 60): bytes -> msg_parse(), then every
 * payload layout the supervisor and the worker decode, into buffers of the
 * sizes they use. Under ASan any read past the message is a crash. A
 * message that decodes completely must re-encode to the very same bytes:
 * the encoding leaves no room for two spellings of one message. The same
 * bytes are also the contents of a MSG_CFG_HOSTS file: a list that
 * decodes holds only canonical custom names, each found by the lookup.
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "proto.h"
#include "slug.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define REQUIRE(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "proto_fuzz: %s:%d: %s\n", __FILE__,	\
		    __LINE__, #c);					\
		abort();						\
	}								\
} while (0)

/* Field kinds with the destination size each receiver uses for strings. */
enum fkind { F_END, F_U32, F_U64, F_STR, F_REST };

struct field {
	enum fkind	 k;
	size_t		 sz;
};

struct layout {
	uint32_t	 type;
	struct field	 f[18];
};

#define U32	{ F_U32, 0 }
#define U64	{ F_U64, 0 }
#define STR(n)	{ F_STR, n }
#define REST	{ F_REST, 0 }
#define END	{ F_END, 0 }

/* As in worker/worker.c (worker_configure, chan_cb), supervisor/pool.c. */
static const struct layout layouts[] = {
	{ MSG_CFG_TENANT, { U32, U32, U32, U32, U32, U32, U32, U32, U32, U32,
	    STR(SLUG_MAX_LEN + 1), STR(PATH_MAX), STR(PATH_MAX),
	    STR(PATH_MAX), STR(HOST_NAME_MAX_LEN + 1),
	    STR(HOST_NAME_MAX_LEN + 1), END } },
	{ MSG_CFG_LIMIT, { U32, U64, END } },
	{ MSG_CFG_HOSTS, { U32, U64, U64, END } },
	{ MSG_CFG_DONE, { U64, END } },
	{ MSG_CONN_NEW, { REST, END } },
	{ MSG_CONN_CLOSED, { U32, END } },
	{ MSG_CONN_HANDBACK, { U32, U32, REST, END } },
	{ MSG_STATE_READY, { END } },
	{ MSG_STATE_RETIRING, { END } },
	{ MSG_CTL_DRAIN, { U32, END } },
	{ MSG_LOG, { U32, STR(PROTO_LOG_MAX + 1), END } },
};
#define NLAYOUTS	(sizeof(layouts) / sizeof(layouts[0]))

struct decoded {
	uint32_t	 u32[18];
	uint64_t	 u64[18];
	char		*str[18];
	const uint8_t	*rest;
	size_t		 restlen;
};

/*
 * Decode with l; strings go to heap buffers of exactly the receiver's size
 * so an overrun shows. Returns 0 when the payload matched exactly.
 */
static int
decode(const uint8_t *buf, size_t len, const struct layout *l,
    struct decoded *d)
{
	struct msg	 m;
	size_t		 i;

	memset(d, 0, sizeof(*d));
	if (msg_parse(&m, buf, len) == -1)
		return -1;
	REQUIRE(m.m_pos == buf + PROTO_HDR_LEN && m.m_end == buf + len);
	for (i = 0; l->f[i].k != F_END; i++) {
		switch (l->f[i].k) {
		case F_U32:
			if (msg_get_u32(&m, &d->u32[i]) == -1)
				return -1;
			break;
		case F_U64:
			if (msg_get_u64(&m, &d->u64[i]) == -1)
				return -1;
			break;
		case F_STR:
			if ((d->str[i] = malloc(l->f[i].sz)) == NULL)
				abort();
			if (msg_get_str(&m, d->str[i], l->f[i].sz) == -1)
				return -1;
			REQUIRE(strlen(d->str[i]) < l->f[i].sz);
			REQUIRE(strlen(d->str[i]) <= PROTO_STR_MAX);
			break;
		case F_REST:
			msg_get_rest(&m, &d->rest, &d->restlen);
			REQUIRE(d->rest + d->restlen == buf + len);
			break;
		case F_END:
			break;
		}
		REQUIRE(m.m_pos <= m.m_end);
	}
	return msg_end(&m);
}

static void
decoded_free(struct decoded *d)
{
	size_t	 i;

	for (i = 0; i < 18; i++)
		free(d->str[i]);
}

static void
reencode(const uint8_t *buf, size_t len, const struct layout *l,
    const struct decoded *d)
{
	static struct msgbuf	 mb;
	struct msg_hdr		 h;
	size_t			 i;

	memcpy(&h, buf, sizeof(h));
	msg_init(&mb, h.type, h.conn_id);
	for (i = 0; l->f[i].k != F_END; i++) {
		switch (l->f[i].k) {
		case F_U32:
			msg_put_u32(&mb, d->u32[i]);
			break;
		case F_U64:
			msg_put_u64(&mb, d->u64[i]);
			break;
		case F_STR:
			msg_put_str(&mb, d->str[i]);
			break;
		case F_REST:
			msg_put_rest(&mb, d->rest, d->restlen);
			break;
		case F_END:
			break;
		}
	}
	REQUIRE(msg_finish(&mb) == 0);
	REQUIRE(mb.mb_len == len);
	REQUIRE(memcmp(mb.mb_data, buf, len) == 0);
}

/* The host list a worker would hold if these bytes were its file. */
static void
hostlist_check(const uint8_t *data, size_t size)
{
	static struct host_conf	 hc;
	struct hostlist		 hl;
	struct host_result	 hr;
	size_t			 i;

	if (hc.hc_suffix_len == 0)
		REQUIRE(host_conf_init(&hc, "test.localhost",
		    "admin.example.org") == 0);
	if (hostlist_parse(&hl, &hc, (const char *)data, size) == -1)
		return;
	REQUIRE(hl.hl_n <= HOST_TENANT_MAX);
	for (i = 0; i < hl.hl_n; i++) {
		REQUIRE(host_classify(&hc, hl.hl_names[i],
		    strlen(hl.hl_names[i]), &hr) == HOST_CUSTOM);
		REQUIRE(strcmp(hr.hr_name, hl.hl_names[i]) == 0);
		REQUIRE(i == 0 || strcmp(hl.hl_names[i - 1],
		    hl.hl_names[i]) < 0);
		REQUIRE(hostlist_has(&hl, hl.hl_names[i]));
	}
	/* Never a name under the suffix, nor the admin host. */
	REQUIRE(!hostlist_has(&hl, "acme.test.localhost"));
	REQUIRE(!hostlist_has(&hl, "admin.example.org"));
	hostlist_free(&hl);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg	 m;
	struct decoded	 d;
	struct msg_hdr	 h;
	uint64_t	 hsize, hgen;
	uint32_t	 hn;
	size_t		 i;
	int		 parsed;
	char		 small[4];

	parsed = msg_parse(&m, data, size) == 0;
	if (parsed) {
		/* What msg_parse promises every handler. */
		memcpy(&h, data, sizeof(h));
		REQUIRE(size >= PROTO_HDR_LEN && size <= PROTO_MSG_MAX);
		REQUIRE(h.len == size && h.flags == 0);
		REQUIRE(h.type > MSG_NONE && h.type < MSG_TYPE_MAX);
		REQUIRE(m.m_type == h.type && m.m_conn_id == h.conn_id);
		REQUIRE(strcmp(msg_type_str(m.m_type), "UNKNOWN") != 0);
		/* A tiny destination must be refused, never overrun. */
		if (msg_get_str(&m, small, sizeof(small)) == 0)
			REQUIRE(strlen(small) < sizeof(small));
		/* Never without its descriptor; in bounds with one. */
		msg_parse(&m, data, size);
		REQUIRE(msg_get_hosts(&m, -1, &hn, &hsize, &hgen) == -1);
		msg_parse(&m, data, size);
		if (msg_get_hosts(&m, 0, &hn, &hsize, &hgen) == 0)
			REQUIRE(h.type == MSG_CFG_HOSTS &&
			    hn <= HOST_TENANT_MAX &&
			    hsize <= HOSTLIST_BYTES_MAX);
	}
	hostlist_check(data, size);

	/* Every layout against every message, as a confused peer might. */
	for (i = 0; i < NLAYOUTS; i++) {
		if (decode(data, size, &layouts[i], &d) == 0) {
			REQUIRE(parsed);
			reencode(data, size, &layouts[i], &d);
		}
		decoded_free(&d);
	}
	return 0;
}
