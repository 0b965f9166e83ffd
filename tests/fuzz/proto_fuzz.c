/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Wire protocol fuzz target (docs/security.md, item 60): bytes -> msg_parse(),
 * then every message type of the schema (common/msgschema.c) through
 * msg_check() on every channel, direction and fd, and through the decoders,
 * into buffers of the sizes the schema bounds. Under ASan any read past the
 * message is a crash. A message msg_check() accepts must decode whole and
 * re-encode to the very same bytes: the encoding leaves no room for two
 * spellings of one message. The same
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
#include "keys.h"
#include "msgdec.h"
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

/*
 * Decode the payload field by field as the schema says, each string into a
 * heap buffer of exactly the size its bound needs (so an overrun shows),
 * and encode it again into mb as it goes. msg_check() passed, so no
 * decoder may fail here. Returns the index the walk stopped at.
 */
static size_t
walk(struct msg *m, struct msgbuf *mb, const struct msg_field *f, size_t i)
{
	static uint8_t	 bytes[PROTO_MSG_MAX];
	const uint8_t	*rest;
	size_t		 restlen, end = 0;
	uint64_t	 u64;
	uint32_t	 u32, n, k;
	char		*str;

	for (; i < MSG_FIELDS_MAX; i++) {
		switch (f[i].mf_kind) {
		case MF_END:
		case MF_REPEAT_END:
			return i;
		case MF_U32:
			REQUIRE(msg_get_u32(m, &u32) == 0);
			msg_put_u32(mb, u32);
			break;
		case MF_U64:
			REQUIRE(msg_get_u64(m, &u64) == 0);
			msg_put_u64(mb, u64);
			break;
		case MF_STR:
			if ((str = malloc((size_t)f[i].mf_max + 1)) == NULL)
				abort();
			REQUIRE(msg_get_str(m, str, (size_t)f[i].mf_max + 1) ==
			    0);
			REQUIRE(strlen(str) >= f[i].mf_min &&
			    strlen(str) <= f[i].mf_max);
			msg_put_str(mb, str);
			free(str);
			break;
		case MF_BYTES:
			REQUIRE(msg_get(m, bytes, f[i].mf_max) == 0);
			msg_put(mb, bytes, f[i].mf_max);
			break;
		case MF_REST:
			msg_get_rest(m, &rest, &restlen);
			msg_put_rest(mb, rest, restlen);
			break;
		case MF_REPEAT:
			REQUIRE(msg_get_u32(m, &n) == 0);
			REQUIRE(n >= f[i].mf_min && n <= f[i].mf_max);
			msg_put_u32(mb, n);
			end = i + 1;
			while (f[end].mf_kind != MF_REPEAT_END)
				end++;
			for (k = 0; k < n; k++)
				REQUIRE(walk(m, mb, f, i + 1) == end);
			i = end;
			break;
		}
		REQUIRE(m->m_pos <= m->m_end);
	}
	abort();
}

/*
 * The typed decoders of common/ (msgdec.h), each on the message whatever
 * its type: only its own type may decode, and only with the value rules
 * met. A decoder must hold every length itself, as msg_check() may not
 * have run before it.
 */
static void
typed_check(const uint8_t *buf, size_t len)
{
	static struct msg_tenant	 mt;
	static struct msg_key		 mk;
	static struct msg_data		 md;
	static struct msg_credit	 mc;
	static struct msg_run_spec	 mr;
	static struct msg_sandbox	 msb;
	struct msg			 m;
	uint64_t			 hsize, hgen;
	uint32_t			 hn;

	if (msg_parse(&m, buf, len) == -1)
		return;
	if (msg_get_tenant(&m, &mt) == 0) {
		REQUIRE(m.m_type == MSG_CFG_TENANT && m.m_pos == m.m_end);
		REQUIRE(strlen(mt.mt_slug) <= SLUG_MAX_LEN);
		REQUIRE(strlen(mt.mt_admin) <= HOST_NAME_MAX_LEN);
	}
	msg_parse(&m, buf, len);
	if (msg_get_key(&m, &mk) == 0)
		REQUIRE(m.m_type == MSG_CFG_KEY && m.m_pos == m.m_end &&
		    mk.mk_purpose >= KEY_SESSION &&
		    mk.mk_purpose < KEY_PURPOSE_MAX);
	msg_parse(&m, buf, len);
	if (msg_get_data(&m, &md) == 0)
		REQUIRE(m.m_type == MSG_CFG_DATA && m.m_pos == m.m_end &&
		    md.md_n <= DATA_MAX_ITEMS);
	msg_parse(&m, buf, len);
	if (msg_get_credit(&m, &mc) == 0)
		REQUIRE(m.m_type == MSG_CTL_CREDIT && m.m_pos == m.m_end &&
		    mc.mc_dry <= 1);
	msg_parse(&m, buf, len);
	if (msg_get_run_spec(&m, &mr) == 0)
		REQUIRE(m.m_type == MSG_RUN_SPEC && m.m_pos == m.m_end &&
		    mr.mr_network <= 1 && (mr.mr_flags &
		    ~(uint32_t)(RUN_SPEC_PERSISTENT | RUN_SPEC_SANDBOX)) == 0);
	msg_parse(&m, buf, len);
	if (msg_get_sandbox(&m, &msb) == 0)
		REQUIRE(m.m_type == MSG_RUN_SANDBOX && m.m_pos == m.m_end);
	/* Never without its descriptor; in bounds with one. */
	msg_parse(&m, buf, len);
	REQUIRE(msg_get_hosts(&m, -1, &hn, &hsize, &hgen) == -1);
	msg_parse(&m, buf, len);
	if (msg_get_hosts(&m, 0, &hn, &hsize, &hgen) == 0)
		REQUIRE(m.m_type == MSG_CFG_HOSTS && hn <= HOST_TENANT_MAX &&
		    hsize <= HOSTLIST_BYTES_MAX);
}

/*
 * The message in buf, of ms's type, against every channel, direction and
 * fd: msg_check() may pass it only where the schema puts it, and what
 * passes decodes whole and encodes again to the very same bytes.
 */
static void
schema_check(const struct msg_schema *ms, const uint8_t *buf, size_t len)
{
	static struct msgbuf	 mb;
	struct msg		 m, c;
	struct msg_hdr		 h;
	int			 chan, dir, fd, good = 0;

	if (msg_parse(&m, buf, len) == -1)
		return;
	for (chan = CHAN_WORKER; chan <= CHAN_FRONT; chan++)
		for (dir = DIR_DOWN; dir <= DIR_UP; dir++)
			for (fd = 0; fd <= 1; fd++) {
				c = m;
				if (msg_check(&c, fd, chan, dir) == -1)
					continue;
				REQUIRE(c.m_pos == m.m_pos);
				REQUIRE(chan == ms->ms_chan &&
				    dir == ms->ms_dir);
				REQUIRE(fd ? ms->ms_fd != MFD_NEVER :
				    ms->ms_fd != MFD_ALWAYS);
				REQUIRE((m.m_conn_id != 0) ==
				    (ms->ms_id == MID_SET));
				good = 1;
			}
	if (!good)
		return;
	memcpy(&h, buf, sizeof(h));
	msg_init(&mb, h.type, h.conn_id);
	REQUIRE(walk(&m, &mb, ms->ms_fields, 0) < MSG_FIELDS_MAX);
	REQUIRE(msg_end(&m) == 0);
	REQUIRE(msg_finish(&mb) == 0);
	memcpy(mb.mb_data + offsetof(struct msg_hdr, flags), &h.flags,
	    sizeof(h.flags));
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
	static uint8_t		 buf[PROTO_MSG_MAX];
	const struct msg_schema	*ms;
	struct msg		 m;
	struct msg_hdr		 h;
	size_t			 i;
	char			 small[4];

	if (msg_parse(&m, data, size) == 0) {
		/* What msg_parse promises every handler. */
		memcpy(&h, data, sizeof(h));
		REQUIRE(size >= PROTO_HDR_LEN && size <= PROTO_MSG_MAX);
		REQUIRE(h.len == size);
		REQUIRE((ms = msg_schema_find(h.type)) != NULL);
		REQUIRE((h.flags & ~ms->ms_flags) == 0);
		REQUIRE(m.m_type == h.type && m.m_conn_id == h.conn_id);
		REQUIRE(strcmp(msg_type_str(m.m_type), ms->ms_name) == 0);
		/* A tiny destination must be refused, never overrun. */
		if (msg_get_str(&m, small, sizeof(small)) == 0)
			REQUIRE(strlen(small) < sizeof(small));
		schema_check(ms, data, size);
	}
	typed_check(data, size);
	hostlist_check(data, size);

	/*
	 * The same payload under every type of the schema, as a confused or
	 * hostile peer might send it: every entry meets msg_check() and the
	 * decoders on every input, not only the type the input names.
	 */
	if (size < PROTO_HDR_LEN || size > sizeof(buf))
		return 0;
	for (i = 0; i < msg_schema_n; i++) {
		memcpy(buf, data, size);
		memcpy(&h, buf, sizeof(h));
		h.type = msg_schema[i].ms_type;
		h.len = (uint32_t)size;
		h.flags &= msg_schema[i].ms_flags;
		memcpy(buf, &h, sizeof(h));
		schema_check(&msg_schema[i], buf, size);
		typed_check(buf, size);
	}
	return 0;
}
