/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Wire protocol (docs/architecture.md, section 4; docs/security.md, items
 * 51-54, 60): every message layout as the supervisor and the worker encode
 * and decode it, the header checks of msg_parse(), the bounds of each
 * msg_get_*(), and msgio over a real
 * SOCK_SEQPACKET socketpair: fd passing, more than one fd, truncation, EOF,
 * with descriptors counted before and after so nothing leaks.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "host.h"
#include "keys.h"
#include "msgdec.h"
#include "proto.h"

/*
 * The payload layouts in use, as lists of field kinds. They mirror
 * supervisor/priv.c and supervisor/pool.c (encoders and decoders on the
 * supervisor side) and worker/worker.c: a change there must change this.
 */
enum fkind { F_END, F_U32, F_U64, F_STR, F_REST };

struct layout {
	uint32_t	 type;
	enum fkind	 f[20];
};

static const struct layout layouts[] = {
	/* 10 numbers, then slug, root, policy, gen path, suffix, admin */
	{ MSG_CFG_TENANT, { F_U32, F_U32, F_U32, F_U32, F_U32, F_U32, F_U32,
	    F_U32, F_U32, F_U32, F_STR, F_STR, F_STR, F_STR, F_STR, F_STR,
	    F_END } },
	{ MSG_CFG_LIMIT, { F_U32, F_U64, F_END } },	/* resource, value */
	/* names, bytes, hosts generation; with the sealed file */
	{ MSG_CFG_HOSTS, { F_U32, F_U64, F_U64, F_END } },
	{ MSG_CFG_DONE, { F_U64, F_END } },		/* generation */
	{ MSG_CONN_NEW, { F_REST, F_END } },		/* bytes read so far */
	{ MSG_CONN_CLOSED, { F_U32, F_END } },		/* requests served */
	/* reason, requests served, unread bytes */
	{ MSG_CONN_HANDBACK, { F_U32, F_U32, F_REST, F_END } },
	{ MSG_STATE_READY, { F_END } },
	{ MSG_STATE_RETIRING, { F_END } },
	{ MSG_CTL_DRAIN, { F_U32, F_END } },		/* enum drain_mode */
	{ MSG_LOG, { F_U32, F_STR, F_END } },		/* priority, line */
	{ MSG_CFG_CGROUP, { F_END } },			/* with its fd */
};
#define NLAYOUTS	(sizeof(layouts) / sizeof(layouts[0]))

/* Deterministic field values, so a decode can be checked field by field. */
static uint32_t
val32(size_t i)
{
	return 0x01020304u * (uint32_t)(i + 1) ^ 0x80000000u;
}

static uint64_t
val64(size_t i)
{
	return 0x0102030405060708ull * (i + 1) ^ 0x8000000000000000ull;
}

static void
valstr(size_t i, char *buf, size_t sz)
{
	/* Vary the length, including the empty string. */
	snprintf(buf, sz, "%.*s", (int)((i * 7) % 40),
	    "field-value-/var/lib/tenantd/tenants/acme-and-more");
}

static const char	 rest_data[] = "GET / HTTP/1.1\r\nHost: acme\r\n\r\n";

static void
encode(struct msgbuf *mb, const struct layout *l, uint32_t conn_id)
{
	char	 s[64];
	size_t	 i;

	msg_init(mb, l->type, conn_id);
	for (i = 0; l->f[i] != F_END; i++) {
		switch (l->f[i]) {
		case F_U32:
			msg_put_u32(mb, val32(i));
			break;
		case F_U64:
			msg_put_u64(mb, val64(i));
			break;
		case F_STR:
			valstr(i, s, sizeof(s));
			msg_put_str(mb, s);
			break;
		case F_REST:
			msg_put_rest(mb, rest_data, sizeof(rest_data) - 1);
			break;
		case F_END:
			break;
		}
	}
}

/*
 * Decode as the receivers do: each field in turn, then msg_end() unless
 * the layout ends in "rest". Returns 0 with every value checked, -1 as
 * soon as a decoder refuses.
 */
static int
decode(const uint8_t *buf, size_t len, const struct layout *l, int check)
{
	struct msg	 m;
	uint32_t	 u32;
	uint64_t	 u64;
	const uint8_t	*rest;
	size_t		 i, rlen;
	char		 s[PROTO_STR_MAX + 1], want[64];

	if (msg_parse(&m, buf, len) == -1)
		return -1;
	if (check)
		assert_int_equal(m.m_type, l->type);
	for (i = 0; l->f[i] != F_END; i++) {
		switch (l->f[i]) {
		case F_U32:
			if (msg_get_u32(&m, &u32) == -1)
				return -1;
			if (check)
				assert_int_equal(u32, val32(i));
			break;
		case F_U64:
			if (msg_get_u64(&m, &u64) == -1)
				return -1;
			if (check)
				assert_true(u64 == val64(i));
			break;
		case F_STR:
			if (msg_get_str(&m, s, sizeof(s)) == -1)
				return -1;
			if (check) {
				valstr(i, want, sizeof(want));
				assert_string_equal(s, want);
			}
			break;
		case F_REST:
			msg_get_rest(&m, &rest, &rlen);
			if (check) {
				assert_int_equal(rlen, sizeof(rest_data) - 1);
				assert_memory_equal(rest, rest_data, rlen);
			}
			break;
		case F_END:
			break;
		}
	}
	return msg_end(&m);
}

static void
set_hdr_len(uint8_t *buf, uint32_t len)
{
	memcpy(buf + offsetof(struct msg_hdr, len), &len, sizeof(len));
}

static void
test_roundtrip(void **state)
{
	struct msgbuf	 mb;
	struct msg	 m;
	size_t		 i;

	for (i = 0; i < NLAYOUTS; i++) {
		encode(&mb, &layouts[i], 7000 + (uint32_t)i);
		assert_int_equal(msg_finish(&mb), 0);
		assert_int_equal(msg_parse(&m, mb.mb_data, mb.mb_len), 0);
		assert_int_equal(m.m_conn_id, 7000 + i);
		assert_int_equal(m.m_flags, 0);
		assert_int_equal(decode(mb.mb_data, mb.mb_len, &layouts[i], 1),
		    0);
	}
}

/*
 * Every shorter message (header length kept consistent, so only the
 * payload decoders can notice) must be refused by some decoder, and a
 * trailing byte must be refused by msg_end() unless the layout takes the
 * rest of the message.
 */
static void
test_truncated_and_trailing(void **state)
{
	struct msgbuf	 mb;
	uint8_t		 buf[PROTO_MSG_MAX];
	size_t		 i, n, full;
	int		 has_rest, k;

	for (i = 0; i < NLAYOUTS; i++) {
		encode(&mb, &layouts[i], 1);
		assert_int_equal(msg_finish(&mb), 0);
		full = mb.mb_len;
		has_rest = 0;
		for (k = 0; layouts[i].f[k] != F_END; k++)
			if (layouts[i].f[k] == F_REST)
				has_rest = 1;
		for (n = PROTO_HDR_LEN; n < full; n++) {
			/* "rest" absorbs any tail, so only cut before it. */
			if (has_rest && n >= full - (sizeof(rest_data) - 1))
				break;
			memcpy(buf, mb.mb_data, n);
			set_hdr_len(buf, (uint32_t)n);
			errno = 0;
			if (decode(buf, n, &layouts[i], 0) != -1) {
				print_error("%s cut to %zu of %zu bytes was "
				    "accepted\n", msg_type_str(layouts[i].type),
				    n, full);
				fail();
			}
			assert_int_equal(errno, EBADMSG);
		}
		memcpy(buf, mb.mb_data, full);
		buf[full] = 0;
		set_hdr_len(buf, (uint32_t)full + 1);
		if (has_rest)
			assert_int_equal(decode(buf, full + 1, &layouts[i], 0),
			    0);
		else
			assert_int_equal(decode(buf, full + 1, &layouts[i], 0),
			    -1);
	}
}

static size_t
raw_msg(uint8_t *buf, uint32_t type, uint32_t len, uint32_t flags)
{
	struct msg_hdr	 h;

	memset(&h, 0, sizeof(h));
	h.type = type;
	h.len = len;
	h.flags = flags;
	memcpy(buf, &h, sizeof(h));
	return sizeof(h);
}

static void
expect_bad(const uint8_t *buf, size_t len)
{
	struct msg	 m;

	errno = 0;
	assert_int_equal(msg_parse(&m, buf, len), -1);
	assert_int_equal(errno, EBADMSG);
}

static void
test_parse_header(void **state)
{
	static uint8_t	 buf[PROTO_MSG_MAX + 64];
	struct msg	 m;
	uint32_t	 t;
	size_t		 i;

	memset(buf, 0, sizeof(buf));
	assert_int_equal(sizeof(struct msg_hdr), PROTO_HDR_LEN);

	/* Every known type with an empty payload parses. */
	for (i = 0; i < msg_schema_n; i++) {
		t = msg_schema[i].ms_type;
		raw_msg(buf, t, PROTO_HDR_LEN, 0);
		assert_int_equal(msg_parse(&m, buf, PROTO_HDR_LEN), 0);
		assert_int_equal(m.m_type, t);
		assert_int_equal(msg_end(&m), 0);
	}

	/* Shorter than a header, whatever the header claims. */
	raw_msg(buf, MSG_CTL_DRAIN, 15, 0);
	expect_bad(buf, 0);
	expect_bad(buf, 1);
	expect_bad(buf, 15);
	raw_msg(buf, MSG_CTL_DRAIN, 0, 0);
	expect_bad(buf, 15);

	/* Longer than the protocol allows, even when consistent. */
	raw_msg(buf, MSG_CONN_NEW, PROTO_MSG_MAX + 1, 0);
	expect_bad(buf, PROTO_MSG_MAX + 1);
	raw_msg(buf, MSG_CONN_NEW, PROTO_MSG_MAX, 0);
	assert_int_equal(msg_parse(&m, buf, PROTO_MSG_MAX), 0);

	/* Header length must be the received length exactly. */
	raw_msg(buf, MSG_CONN_NEW, 20, 0);
	expect_bad(buf, 21);
	expect_bad(buf, 19);
	expect_bad(buf, 16);
	raw_msg(buf, MSG_CONN_NEW, 0xffffffffu, 0);
	expect_bad(buf, 100);

	/* Unknown types: none, the gaps between families, the top. */
	raw_msg(buf, MSG_NONE, 16, 0);
	expect_bad(buf, 16);
	for (i = 0; i < msg_families_n; i++) {
		raw_msg(buf, msg_families[i].mfa_base - 1, 16, 0);
		expect_bad(buf, 16);
		raw_msg(buf, msg_families[i].mfa_end, 16, 0);
		expect_bad(buf, 16);
	}
	raw_msg(buf, 0xffffffffu, 16, 0);
	expect_bad(buf, 16);
	/* Any flag its schema does not name. */
	raw_msg(buf, MSG_CTL_DRAIN, 16, 1);
	expect_bad(buf, 16);
	raw_msg(buf, MSG_CTL_DRAIN, 16, 0x80000000u);
	expect_bad(buf, 16);
	raw_msg(buf, MSG_RUN_SPEC, 16, RUN_SPEC_PERSISTENT | RUN_SPEC_SANDBOX);
	assert_int_equal(msg_parse(&m, buf, 16), 0);
	assert_int_equal(m.m_flags, RUN_SPEC_PERSISTENT | RUN_SPEC_SANDBOX);
	raw_msg(buf, MSG_RUN_SPEC, 16, 4);
	expect_bad(buf, 16);
}

/* A message of the given payload bytes, ready for msg_get_*(). */
static void
payload(struct msg *m, uint8_t *buf, const void *p, size_t len)
{
	raw_msg(buf, MSG_LOG, (uint32_t)(PROTO_HDR_LEN + len), 0);
	memcpy(buf + PROTO_HDR_LEN, p, len);
	assert_int_equal(msg_parse(m, buf, PROTO_HDR_LEN + len), 0);
}

static void
test_get_bounds(void **state)
{
	static uint8_t	 buf[PROTO_MSG_MAX], p[PROTO_MSG_MAX];
	struct msg	 m;
	uint32_t	 u32 = 0x11111111u;
	uint64_t	 u64 = 0;
	uint16_t	 l;
	char		 s[PROTO_STR_MAX * 2];
	const uint8_t	*rest;
	size_t		 rlen;

	memset(p, 'x', sizeof(p));

	/* Short numbers: refused, value untouched, nothing consumed. */
	payload(&m, buf, p, 3);
	errno = 0;
	assert_int_equal(msg_get_u32(&m, &u32), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(u32, 0x11111111u);
	assert_int_equal(m.m_end - m.m_pos, 3);
	payload(&m, buf, p, 7);
	assert_int_equal(msg_get_u64(&m, &u64), -1);
	payload(&m, buf, p, 0);
	assert_int_equal(msg_get_u32(&m, &u32), -1);
	assert_int_equal(msg_get_u64(&m, &u64), -1);
	assert_int_equal(msg_end(&m), 0);

	/* A string needs its 2-byte length... */
	payload(&m, buf, p, 1);
	assert_int_equal(msg_get_str(&m, s, sizeof(s)), -1);

	/* ...and as many bytes as it claims. */
	l = 10;
	memcpy(p, &l, 2);
	payload(&m, buf, p, 2 + 9);
	errno = 0;
	assert_int_equal(msg_get_str(&m, s, sizeof(s)), -1);
	assert_int_equal(errno, EBADMSG);
	payload(&m, buf, p, 2 + 10);
	assert_int_equal(msg_get_str(&m, s, sizeof(s)), 0);
	assert_string_equal(s, "xxxxxxxxxx");
	assert_int_equal(msg_end(&m), 0);

	/* NUL inside is refused; so is a NUL at the very end. */
	p[2 + 4] = '\0';
	payload(&m, buf, p, 2 + 10);
	assert_int_equal(msg_get_str(&m, s, sizeof(s)), -1);
	p[2 + 4] = 'x';
	p[2 + 9] = '\0';
	payload(&m, buf, p, 2 + 10);
	assert_int_equal(msg_get_str(&m, s, sizeof(s)), -1);
	p[2 + 9] = 'x';

	/* It must fit the destination with its terminator. */
	payload(&m, buf, p, 2 + 10);
	assert_int_equal(msg_get_str(&m, s, 10), -1);
	payload(&m, buf, p, 2 + 10);
	assert_int_equal(msg_get_str(&m, s, 11), 0);
	assert_int_equal(strlen(s), 10);
	payload(&m, buf, p, 2 + 10);
	assert_int_equal(msg_get_str(&m, s, 0), -1);

	/* PROTO_STR_MAX holds even with room to spare. */
	l = PROTO_STR_MAX;
	memcpy(p, &l, 2);
	payload(&m, buf, p, 2 + PROTO_STR_MAX);
	assert_int_equal(msg_get_str(&m, s, sizeof(s)), 0);
	assert_int_equal(strlen(s), PROTO_STR_MAX);
	l = PROTO_STR_MAX + 1;
	memcpy(p, &l, 2);
	payload(&m, buf, p, 2 + PROTO_STR_MAX + 1);
	assert_int_equal(msg_get_str(&m, s, sizeof(s)), -1);
	l = 0xffff;
	memcpy(p, &l, 2);
	payload(&m, buf, p, 100);
	assert_int_equal(msg_get_str(&m, s, sizeof(s)), -1);

	/* The empty string is fine, even into a 1-byte buffer. */
	l = 0;
	memcpy(p, &l, 2);
	payload(&m, buf, p, 2);
	assert_int_equal(msg_get_str(&m, s, 1), 0);
	assert_string_equal(s, "");
	assert_int_equal(msg_end(&m), 0);

	/* Trailing bytes after the last field. */
	memset(p, 0, 8);
	payload(&m, buf, p, 5);
	assert_int_equal(msg_get_u32(&m, &u32), 0);
	errno = 0;
	assert_int_equal(msg_end(&m), -1);
	assert_int_equal(errno, EBADMSG);

	/* "rest" takes everything, even nothing. */
	payload(&m, buf, p, 5);
	msg_get_rest(&m, &rest, &rlen);
	assert_int_equal(rlen, 5);
	assert_int_equal(msg_end(&m), 0);
	msg_get_rest(&m, &rest, &rlen);
	assert_int_equal(rlen, 0);
}

static void
test_put_limits(void **state)
{
	static uint8_t	 big[PROTO_MSG_MAX + 1];
	static char	 str[PROTO_STR_MAX + 2];
	struct msgbuf	 mb;
	struct msg	 m;
	size_t		 room = PROTO_MSG_MAX - PROTO_HDR_LEN;

	memset(big, 'b', sizeof(big));

	/* Exactly full is fine and parses. */
	msg_init(&mb, MSG_CONN_NEW, 1);
	msg_put_rest(&mb, big, room);
	assert_int_equal(msg_finish(&mb), 0);
	assert_int_equal(mb.mb_len, PROTO_MSG_MAX);
	assert_int_equal(msg_parse(&m, mb.mb_data, mb.mb_len), 0);

	/* One byte more overflows. */
	msg_init(&mb, MSG_CONN_NEW, 1);
	msg_put_rest(&mb, big, room);
	msg_put_u32(&mb, 1);
	assert_int_equal(mb.mb_len, PROTO_MSG_MAX);
	errno = 0;
	assert_int_equal(msg_finish(&mb), -1);
	assert_int_equal(errno, EMSGSIZE);

	/*
	 * After an overflow nothing more is written, not even a field that
	 * would fit: the fields after a dropped one would be misplaced.
	 */
	msg_init(&mb, MSG_CFG_LIMIT, 0);
	msg_put_rest(&mb, big, room - 4);
	msg_put_u64(&mb, 1);
	msg_put_u32(&mb, 2);
	assert_int_equal(mb.mb_len, PROTO_MSG_MAX - 4);
	assert_int_equal(msg_finish(&mb), -1);

	msg_init(&mb, MSG_CONN_NEW, 1);
	msg_put_rest(&mb, big, room + 1);
	msg_put_u32(&mb, 1);
	assert_int_equal(msg_finish(&mb), -1);
	assert_int_equal(errno, EMSGSIZE);

	msg_init(&mb, MSG_CONN_HANDBACK, 1);
	msg_put_u32(&mb, 1);
	msg_put_u32(&mb, 2);
	msg_put_rest(&mb, big, room - 7);
	assert_int_equal(msg_finish(&mb), -1);

	/* Strings: too long or containing NUL poison the message. */
	memset(str, 's', sizeof(str));
	msg_init(&mb, MSG_LOG, 0);
	msg_put_strn(&mb, str, PROTO_STR_MAX);
	assert_int_equal(msg_finish(&mb), 0);
	msg_init(&mb, MSG_LOG, 0);
	msg_put_strn(&mb, str, PROTO_STR_MAX + 1);
	assert_int_equal(msg_finish(&mb), -1);
	assert_int_equal(errno, EMSGSIZE);
	msg_init(&mb, MSG_LOG, 0);
	msg_put_strn(&mb, "ab\0cd", 5);
	assert_int_equal(msg_finish(&mb), -1);

	/* msg_init starts over. */
	msg_init(&mb, MSG_CTL_DRAIN, 0);
	assert_int_equal(msg_finish(&mb), 0);
	assert_int_equal(mb.mb_len, PROTO_HDR_LEN);
}

static void
test_type_str(void **state)
{
	size_t	 i;

	for (i = 0; i < msg_schema_n; i++)
		assert_string_equal(msg_type_str(msg_schema[i].ms_type),
		    msg_schema[i].ms_name);
	assert_string_equal(msg_type_str(MSG_NONE), "UNKNOWN");
	assert_string_equal(msg_type_str(MSG_RUN_END), "UNKNOWN");
	assert_string_equal(msg_type_str(0xffffffffu), "UNKNOWN");
	assert_string_equal(msg_type_str(MSG_CONN_NEW), "CONN_NEW");
}

/*
 * The schema is complete: every type of every family's range has exactly
 * one entry, so a message cannot be added without one, and each entry is
 * well formed (rest last, repeats closed, string bounds in the protocol's).
 */
static void
test_schema_complete(void **state)
{
	const struct msg_schema	*ms;
	const struct msg_field	*f;
	size_t			 i, k, total = 0;
	uint32_t		 t;
	int			 open;

	for (i = 0; i < msg_families_n; i++) {
		assert_true(msg_families[i].mfa_base % 0x100 == 0);
		assert_true(msg_families[i].mfa_end - msg_families[i].mfa_base <
		    0x100);
		for (t = msg_families[i].mfa_base; t < msg_families[i].mfa_end;
		    t++) {
			if ((ms = msg_schema_find(t)) == NULL) {
				print_error("type %#x has no schema entry\n",
				    t);
				fail();
			}
			assert_int_equal(ms->ms_type, t);
			assert_string_equal(msg_type_str(t), ms->ms_name);
			total++;
		}
	}
	assert_int_equal(total, msg_schema_n);
	assert_int_equal(msg_schema_n, 35);
	for (i = 0; i < msg_schema_n; i++) {
		ms = &msg_schema[i];
		assert_true(i == 0 || ms->ms_type > msg_schema[i - 1].ms_type);
		assert_true(ms->ms_chan == CHAN_WORKER ||
		    ms->ms_chan == CHAN_RUNNER || ms->ms_chan == CHAN_FRONT);
		assert_true(ms->ms_dir == DIR_DOWN || ms->ms_dir == DIR_UP);
		open = 0;
		for (k = 0; k < MSG_FIELDS_MAX; k++) {
			f = &ms->ms_fields[k];
			if (f->mf_kind == MF_END)
				break;
			if (f->mf_kind != MF_REPEAT_END)
				assert_non_null(f->mf_name);
			if (f->mf_kind == MF_STR)
				assert_true(f->mf_min <= f->mf_max &&
				    f->mf_max <= PROTO_STR_MAX);
			if (f->mf_kind == MF_REST)
				assert_int_equal(ms->ms_fields[k + 1].mf_kind,
				    MF_END);
			if (f->mf_kind == MF_REPEAT) {
				assert_false(open);
				assert_true(f->mf_min <= f->mf_max);
				open = 1;
			}
			if (f->mf_kind == MF_REPEAT_END) {
				assert_true(open);
				open = 0;
			}
		}
		assert_true(k < MSG_FIELDS_MAX);
		assert_false(open);
	}
}

static int
schema_ends_in_rest(const struct msg_schema *ms)
{
	size_t	 k;

	for (k = 0; ms->ms_fields[k].mf_kind != MF_END; k++)
		if (ms->ms_fields[k].mf_kind == MF_REST)
			return 1;
	return 0;
}

/* msg_check() of buf as received with fd or not, on the schema's place. */
static int
check_at(const uint8_t *buf, size_t len, int fd, int chan, int dir)
{
	struct msg	 m;

	if (msg_parse(&m, buf, len) == -1)
		return -1;
	errno = 0;
	if (msg_check(&m, fd, chan, dir) == -1) {
		assert_int_equal(errno, EBADMSG);
		return -1;
	}
	/* The cursor is the typed decoder's, untouched. */
	assert_ptr_equal(m.m_pos, buf + PROTO_HDR_LEN);
	return 0;
}

/*
 * Each type is accepted in its shape where it belongs, and refused on the
 * other channels, in the other direction, with the wrong fd or conn_id,
 * cut short, or with a byte more.
 */
static void
test_schema_check(void **state)
{
	static uint8_t		 buf[PROTO_MSG_MAX + 1];
	const struct msg_schema	*ms;
	struct msgbuf		 mb;
	size_t			 i, n, full;
	uint32_t		 id;
	int			 fd, chan, dir;

	for (i = 0; i < msg_schema_n; i++) {
		ms = &msg_schema[i];
		assert_int_equal(msg_example(ms, 9, &mb), 0);
		full = mb.mb_len;
		memcpy(buf, mb.mb_data, full);
		fd = ms->ms_fd != MFD_NEVER;
		if (check_at(buf, full, fd, ms->ms_chan, ms->ms_dir) != 0) {
			print_error("%s refused in its shape\n", ms->ms_name);
			fail();
		}
		for (chan = CHAN_WORKER; chan <= CHAN_FRONT; chan++)
			for (dir = DIR_DOWN; dir <= DIR_UP; dir++)
				if (chan != ms->ms_chan || dir != ms->ms_dir)
					assert_int_equal(check_at(buf, full,
					    fd, chan, dir), -1);
		if (ms->ms_fd != MFD_OPTIONAL)
			assert_int_equal(check_at(buf, full, !fd, ms->ms_chan,
			    ms->ms_dir), -1);
		/* A conn_id of the wrong kind. */
		id = ms->ms_id == MID_SET ? 0 : 9;
		memcpy(buf + offsetof(struct msg_hdr, conn_id), &id,
		    sizeof(id));
		assert_int_equal(check_at(buf, full, fd, ms->ms_chan,
		    ms->ms_dir), -1);
		memcpy(buf, mb.mb_data, full);
		/* Every shorter body; "rest" takes any tail, so not in it. */
		for (n = PROTO_HDR_LEN; n < full; n++) {
			if (schema_ends_in_rest(ms) && n >= full - 3)
				break;
			set_hdr_len(buf, (uint32_t)n);
			if (check_at(buf, n, fd, ms->ms_chan, ms->ms_dir) !=
			    -1) {
				print_error("%s cut to %zu of %zu bytes was "
				    "accepted\n", ms->ms_name, n, full);
				fail();
			}
		}
		/* One byte more. */
		buf[full] = 'x';
		set_hdr_len(buf, (uint32_t)full + 1);
		assert_int_equal(check_at(buf, full + 1, fd, ms->ms_chan,
		    ms->ms_dir), schema_ends_in_rest(ms) ? 0 : -1);
	}
	/* An unknown type is refused wherever it arrives. */
	msg_example(msg_schema_find(MSG_LOG), 0, &mb);
	memcpy(buf, mb.mb_data, mb.mb_len);
	id = MSG_LOG_END;
	memcpy(buf, &id, sizeof(id));
	{
		struct msg	 m;

		m.m_type = MSG_LOG_END;
		m.m_conn_id = 0;
		m.m_flags = 0;
		m.m_pos = buf + PROTO_HDR_LEN;
		m.m_end = buf + mb.mb_len;
		assert_int_equal(msg_check(&m, 0, CHAN_WORKER, DIR_UP), -1);
		/* Flags the schema does not name, on a hand-made msg. */
		m.m_type = MSG_LOG;
		assert_int_equal(msg_check(&m, 0, CHAN_WORKER, DIR_UP), 0);
		m.m_flags = 1;
		assert_int_equal(msg_check(&m, 0, CHAN_WORKER, DIR_UP), -1);
	}
}

/* The bounds inside a body: strings, NULs, counts. */
static void
test_schema_bounds(void **state)
{
	static char	 line[PROTO_STR_MAX + 1];
	struct msgbuf	 mb;
	uint32_t	 i;

	/* A log line at its bound, and one byte over. */
	memset(line, 'a', sizeof(line) - 1);
	msg_init(&mb, MSG_LOG, 0);
	msg_put_u32(&mb, 3);
	msg_put_strn(&mb, line, PROTO_LOG_MAX);
	assert_int_equal(msg_finish(&mb), 0);
	assert_int_equal(check_at(mb.mb_data, mb.mb_len, 0, CHAN_WORKER,
	    DIR_UP), 0);
	msg_init(&mb, MSG_LOG, 0);
	msg_put_u32(&mb, 3);
	msg_put_strn(&mb, line, PROTO_LOG_MAX + 1);
	assert_int_equal(msg_finish(&mb), 0);
	assert_int_equal(check_at(mb.mb_data, mb.mb_len, 0, CHAN_WORKER,
	    DIR_UP), -1);

	/* A NUL inside a string (written by hand: msg_put refuses it). */
	msg_init(&mb, MSG_APP_CONNECT, 5);
	msg_put_str(&mb, "app");
	assert_int_equal(msg_finish(&mb), 0);
	assert_int_equal(check_at(mb.mb_data, mb.mb_len, 0, CHAN_WORKER,
	    DIR_UP), 0);
	mb.mb_data[PROTO_HDR_LEN + 2 + 1] = '\0';
	assert_int_equal(check_at(mb.mb_data, mb.mb_len, 0, CHAN_WORKER,
	    DIR_UP), -1);
	/* Shorter than its minimum: an empty program name. */
	msg_init(&mb, MSG_APP_CONNECT, 5);
	msg_put_str(&mb, "");
	assert_int_equal(msg_finish(&mb), 0);
	assert_int_equal(check_at(mb.mb_data, mb.mb_len, 0, CHAN_WORKER,
	    DIR_UP), -1);

	/* CFG_DATA: DATA_MAX_ITEMS limits pass, one more does not. */
	for (i = DATA_MAX_ITEMS; i <= DATA_MAX_ITEMS + 1; i++) {
		msg_init(&mb, MSG_CFG_DATA, 0);
		msg_put_u32(&mb, i);
		for (uint32_t k = 0; k < i; k++) {
			msg_put_u32(&mb, k);
			msg_put_u64(&mb, k);
		}
		assert_int_equal(msg_finish(&mb), 0);
		assert_int_equal(check_at(mb.mb_data, mb.mb_len, 0,
		    CHAN_WORKER, DIR_DOWN), i == DATA_MAX_ITEMS ? 0 : -1);
	}
	/* A count that promises more than the body holds. */
	msg_init(&mb, MSG_CFG_DATA, 0);
	msg_put_u32(&mb, 2);
	msg_put_u32(&mb, 1);
	msg_put_u64(&mb, 1);
	assert_int_equal(msg_finish(&mb), 0);
	assert_int_equal(check_at(mb.mb_data, mb.mb_len, 0, CHAN_WORKER,
	    DIR_DOWN), -1);

	/* STATE_STATS: exactly STATS_BUCKETS buckets. */
	for (i = STATS_BUCKETS - 1; i <= STATS_BUCKETS + 1; i++) {
		msg_init(&mb, MSG_STATE_STATS, 0);
		msg_put_u32(&mb, 0);
		msg_put_u64(&mb, 0);
		msg_put_u64(&mb, 0);
		msg_put_u32(&mb, i);
		for (uint32_t k = 0; k < i; k++)
			msg_put_u32(&mb, k);
		assert_int_equal(msg_finish(&mb), 0);
		assert_int_equal(check_at(mb.mb_data, mb.mb_len, 0,
		    CHAN_WORKER, DIR_UP), i == STATS_BUCKETS ? 0 : -1);
	}
}

/* A typed decoder on a message, from its start. */
typedef int	(*decoder)(struct msg *, void *);

static int
dec_tenant(struct msg *m, void *out)
{
	return msg_get_tenant(m, out);
}

static int
dec_key(struct msg *m, void *out)
{
	return msg_get_key(m, out);
}

static int
dec_data(struct msg *m, void *out)
{
	return msg_get_data(m, out);
}

static int
dec_credit(struct msg *m, void *out)
{
	return msg_get_credit(m, out);
}

static int
dec_run_spec(struct msg *m, void *out)
{
	return msg_get_run_spec(m, out);
}

static int
dec_sandbox(struct msg *m, void *out)
{
	return msg_get_sandbox(m, out);
}

static int
decode_with(const struct msgbuf *mb, size_t len, decoder fn, void *out)
{
	uint8_t		 buf[PROTO_MSG_MAX];
	struct msg	 m;

	memcpy(buf, mb->mb_data, len);
	set_hdr_len(buf, (uint32_t)len);
	if (msg_parse(&m, buf, len) == -1)
		return -1;
	errno = 0;
	if (fn(&m, out) == -1) {
		assert_int_equal(errno, EBADMSG);
		return -1;
	}
	assert_ptr_equal(m.m_pos, m.m_end);
	return 0;
}

/* Each typed decoder of msgdec.h on a u32 field set to v. */
static int
decode_u32_at(uint32_t type, size_t off, uint32_t v, decoder fn, void *out)
{
	struct msgbuf	 mb;

	assert_int_equal(msg_example(msg_schema_find(type), 1, &mb), 0);
	memcpy(mb.mb_data + PROTO_HDR_LEN + off, &v, sizeof(v));
	return decode_with(&mb, mb.mb_len, fn, out);
}

/*
 * The typed decoders (msgdec.h): each takes the schema's example of its
 * type whole, and refuses it cut short, with a byte more, under another
 * type, and with a value its rule forbids.
 */
static void
test_typed_decoders(void **state)
{
	static struct msg_tenant	 mt;
	static struct msg_key		 mk;
	static struct msg_data		 md;
	static struct msg_credit	 mc;
	static struct msg_run_spec	 mr;
	static struct msg_sandbox	 msb;
	static const struct {
		uint32_t	 type;
		decoder		 fn;
		void		*out;
	} d[] = {
		{ MSG_CFG_TENANT, dec_tenant, &mt },
		{ MSG_CFG_KEY, dec_key, &mk },
		{ MSG_CFG_DATA, dec_data, &md },
		{ MSG_CTL_CREDIT, dec_credit, &mc },
		{ MSG_RUN_SPEC, dec_run_spec, &mr },
		{ MSG_RUN_SANDBOX, dec_sandbox, &msb },
	};
	struct msgbuf	 mb, other;
	size_t		 i, j, n;

	for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		assert_int_equal(msg_example(msg_schema_find(d[i].type), 1,
		    &mb), 0);
		assert_int_equal(decode_with(&mb, mb.mb_len, d[i].fn,
		    d[i].out), 0);
		for (n = PROTO_HDR_LEN; n < mb.mb_len; n++)
			assert_int_equal(decode_with(&mb, n, d[i].fn,
			    d[i].out), -1);
		mb.mb_data[mb.mb_len] = 0;
		assert_int_equal(decode_with(&mb, mb.mb_len + 1, d[i].fn,
		    d[i].out), -1);
		for (j = 0; j < msg_schema_n; j++) {
			if (msg_schema[j].ms_type == d[i].type)
				continue;
			assert_int_equal(msg_example(&msg_schema[j], 1,
			    &other), 0);
			assert_int_equal(decode_with(&other, other.mb_len,
			    d[i].fn, d[i].out), -1);
		}
	}
	assert_string_equal(mt.mt_slug, "a=b");
	assert_int_equal(md.md_n, 1);
	assert_int_equal(mr.mr_flags, 0);

	/* The value rules a shape cannot say. */
	assert_int_equal(decode_u32_at(MSG_CFG_KEY, 0, KEY_API,
	    dec_key, &mk), 0);
	assert_int_equal(decode_u32_at(MSG_CFG_KEY, 0, 0,
	    dec_key, &mk), -1);
	assert_int_equal(decode_u32_at(MSG_CFG_KEY, 0, KEY_PURPOSE_MAX,
	    dec_key, &mk), -1);
	assert_int_equal(decode_u32_at(MSG_CTL_CREDIT, 16, 0,
	    dec_credit, &mc), 0);
	assert_int_equal(decode_u32_at(MSG_CTL_CREDIT, 16, 2,
	    dec_credit, &mc), -1);
	assert_int_equal(decode_u32_at(MSG_RUN_SPEC, 8, 0,
	    dec_run_spec, &mr), 0);
	assert_int_equal(decode_u32_at(MSG_RUN_SPEC, 8, 2,
	    dec_run_spec, &mr), -1);
	assert_int_equal(decode_u32_at(MSG_CFG_DATA, 0, DATA_MAX_ITEMS + 1,
	    dec_data, &md), -1);
}

/* msgio: real sockets. */

static int
count_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	assert_non_null(d = opendir("/proc/self/fd"));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own descriptor */
}

static void
chan(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    sv), 0);
}

/* sendmsg with any number of descriptors, which msg_send cannot do. */
static void
send_fds(int sock, const void *data, size_t len, const int *fds, int nfd)
{
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int) * 8)];
	} cbuf;

	assert_true(nfd >= 1 && nfd <= 8);
	memset(&mh, 0, sizeof(mh));
	memset(&cbuf, 0, sizeof(cbuf));
	iov.iov_base = (void *)data;
	iov.iov_len = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf.buf;
	mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfd);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfd);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfd);
	assert_int_equal(sendmsg(sock, &mh, 0), (ssize_t)len);
}

static int
temp_file(void)
{
	char	 path[] = "/tmp/test_proto.XXXXXX";
	int	 fd;

	assert_true((fd = mkstemp(path)) != -1);
	unlink(path);
	return fd;
}

static void
test_msgio_fd(void **state)
{
	static uint8_t	 buf[PROTO_MSG_MAX];
	struct msgbuf	 mb;
	struct msg	 m;
	struct stat	 a, b;
	int		 sv[2], file, got, before;
	ssize_t		 n;

	chan(sv);
	file = temp_file();
	before = count_fds();

	encode(&mb, &layouts[4], 42);		/* CONN_NEW + bytes */
	assert_int_equal(layouts[4].type, MSG_CONN_NEW);
	assert_int_equal(msg_finish(&mb), 0);
	assert_int_equal(msg_send(sv[0], &mb, file), 0);
	n = msg_recv(sv[1], buf, sizeof(buf), &got);
	assert_int_equal(n, (ssize_t)mb.mb_len);
	assert_int_not_equal(got, -1);
	assert_int_not_equal(got, file);
	/* The same open file, not merely a file with the same name. */
	assert_int_equal(fstat(file, &a), 0);
	assert_int_equal(fstat(got, &b), 0);
	assert_true(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
	assert_int_equal(write(got, "x", 1), 1);
	assert_int_equal(lseek(file, 0, SEEK_CUR), 1);
	/* MSG_CMSG_CLOEXEC: it must not survive an exec by accident. */
	assert_true(fcntl(got, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(decode(buf, (size_t)n, &layouts[4], 1), 0);
	assert_int_equal(msg_parse(&m, buf, (size_t)n), 0);
	assert_int_equal(m.m_conn_id, 42);
	close(got);
	assert_int_equal(count_fds(), before);

	/* Without a descriptor, none is reported. */
	msg_init(&mb, MSG_STATE_READY, 0);
	assert_int_equal(msg_finish(&mb), 0);
	assert_int_equal(msg_send(sv[1], &mb, -1), 0);
	got = 1234;
	assert_int_equal(msg_recv(sv[0], buf, sizeof(buf), &got),
	    PROTO_HDR_LEN);
	assert_int_equal(got, -1);

	close(file);
	close(sv[0]);
	close(sv[1]);
}

static void
check_rejected(int sock, size_t bufsz, int before)
{
	static uint8_t	 buf[PROTO_MSG_MAX];
	int		 got = 1234;

	errno = 0;
	assert_int_equal(msg_recv(sock, buf, bufsz, &got), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(got, -1);
	assert_int_equal(count_fds(), before);
}

static void
test_msgio_many_fds(void **state)
{
	static uint8_t	 buf[PROTO_MSG_MAX];
	struct msgbuf	 mb;
	int		 sv[2], fds[3], before, got, i;

	chan(sv);
	for (i = 0; i < 3; i++)
		fds[i] = temp_file();
	msg_init(&mb, MSG_CONN_HANDBACK, 1);
	msg_put_u32(&mb, HANDBACK_FOREIGN_HOST);
	msg_put_u32(&mb, 1);
	assert_int_equal(msg_finish(&mb), 0);
	before = count_fds();

	/* Two fit the receiver's control buffer: both arrive, both closed. */
	send_fds(sv[0], mb.mb_data, mb.mb_len, fds, 2);
	check_rejected(sv[1], PROTO_MSG_MAX, before);

	/* Three do not: MSG_CTRUNC, and the one that arrived is closed. */
	send_fds(sv[0], mb.mb_data, mb.mb_len, fds, 3);
	check_rejected(sv[1], PROTO_MSG_MAX, before);

	/* The channel still works afterwards. */
	assert_int_equal(msg_send(sv[0], &mb, -1), 0);
	assert_int_equal(msg_recv(sv[1], buf, sizeof(buf), &got),
	    (ssize_t)mb.mb_len);
	assert_int_equal(got, -1);

	for (i = 0; i < 3; i++)
		close(fds[i]);
	close(sv[0]);
	close(sv[1]);
}

static void
test_msgio_truncated(void **state)
{
	static uint8_t	 buf[PROTO_MSG_MAX];
	struct msgbuf	 mb;
	int		 sv[2], file, before, got;

	chan(sv);
	file = temp_file();
	before = count_fds();

	/* Larger than the receive buffer: MSG_TRUNC, never a partial read. */
	msg_init(&mb, MSG_CONN_NEW, 9);
	msg_put_rest(&mb, rest_data, sizeof(rest_data) - 1);
	assert_int_equal(msg_finish(&mb), 0);
	assert_int_equal(msg_send(sv[0], &mb, -1), 0);
	check_rejected(sv[1], mb.mb_len - 1, before);

	/* The same with a descriptor riding on it: closed, not leaked. */
	assert_int_equal(msg_send(sv[0], &mb, file), 0);
	check_rejected(sv[1], PROTO_HDR_LEN, before);

	/* The next message is intact: SEQPACKET dropped only the tail. */
	assert_int_equal(msg_send(sv[0], &mb, -1), 0);
	assert_int_equal(msg_recv(sv[1], buf, sizeof(buf), &got),
	    (ssize_t)mb.mb_len);
	assert_int_equal(got, -1);
	assert_memory_equal(buf, mb.mb_data, mb.mb_len);

	close(file);
	close(sv[0]);
	close(sv[1]);
}

static void
test_msgio_eof_and_errors(void **state)
{
	static uint8_t	 buf[PROTO_MSG_MAX];
	struct msgbuf	 mb;
	int		 sv[2], fd, i;
	ssize_t		 n = 0;

	chan(sv);

	/* Nothing there: the channel never blocks. */
	errno = 0;
	assert_int_equal(msg_recv(sv[1], buf, sizeof(buf), &fd), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(fd, -1);

	/*
	 * A full channel makes the sender wait, not block (docs/security.md,
	 * item 58).
	 */
	msg_init(&mb, MSG_CONN_NEW, 1);
	msg_put_rest(&mb, buf, 4096);
	assert_int_equal(msg_finish(&mb), 0);
	for (i = 0; i < 100000; i++)
		if ((n = msg_send(sv[0], &mb, -1)) == -1)
			break;
	assert_int_equal(n, -1);
	assert_int_equal(errno, EAGAIN);

	/* Queued messages still arrive after the peer has gone, then EOF. */
	close(sv[0]);
	assert_int_equal(msg_recv(sv[1], buf, sizeof(buf), &fd),
	    (ssize_t)mb.mb_len);
	while ((n = msg_recv(sv[1], buf, sizeof(buf), &fd)) > 0)
		;
	assert_int_equal(n, 0);
	assert_int_equal(fd, -1);
	assert_int_equal(msg_recv(sv[1], buf, sizeof(buf), &fd), 0);

	/*
	 * Sending to a closed peer is EPIPE and the sender lives on. (Linux
	 * raises no SIGPIPE for SEQPACKET at all, so this cannot tell whether
	 * MSG_NOSIGNAL is there; it only pins the errno.)
	 */
	chan(sv);
	close(sv[1]);
	errno = 0;
	assert_int_equal(msg_send(sv[0], &mb, -1), -1);
	assert_int_equal(errno, EPIPE);
	close(sv[0]);
}

static void
hosts_msg(struct msgbuf *mb, uint32_t n, uint64_t size, uint64_t hgen)
{
	msg_init(mb, MSG_CFG_HOSTS, 0);
	msg_put_u32(mb, n);
	msg_put_u64(mb, size);
	msg_put_u64(mb, hgen);
	assert_int_equal(msg_finish(mb), 0);
}

/*
 * MSG_CFG_HOSTS as the supervisor sends it and the worker takes it: one
 * message and one sealed file whatever the number of names, decoded only
 * with its descriptor, read only when every seal is on and the size is
 * what the message says (worker/worker.c, hosts_receive).
 */
static void
test_cfg_hosts(void **state)
{
	static uint8_t	 buf[PROTO_MSG_MAX];
	static const char list[] = "a.example.org\nb.example.org\n";
	struct msgbuf	 mb;
	struct msg	 m;
	uint64_t	 size, hgen;
	uint32_t	 n;
	char		*got;
	int		 sv[2], fd, rfd, before;
	ssize_t		 len;

	chan(sv);
	before = count_fds();
	assert_true((fd = msg_sealed_create("test", list, sizeof(list) - 1)) !=
	    -1);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	/* Sealed: neither end can write, grow or shrink it any more. */
	assert_int_equal(fcntl(fd, F_GET_SEALS) & PROTO_SEALS, PROTO_SEALS);
	assert_int_equal(write(fd, "x", 1), -1);
	assert_int_equal(ftruncate(fd, 0), -1);
	hosts_msg(&mb, 2, sizeof(list) - 1, 77);
	assert_int_equal(msg_send(sv[0], &mb, fd), 0);
	close(fd);
	len = msg_recv(sv[1], buf, sizeof(buf), &rfd);
	assert_int_equal(len, (ssize_t)mb.mb_len);
	assert_int_not_equal(rfd, -1);
	assert_int_equal(msg_parse(&m, buf, (size_t)len), 0);
	assert_int_equal(msg_get_hosts(&m, rfd, &n, &size, &hgen), 0);
	assert_int_equal(n, 2);
	assert_true(size == sizeof(list) - 1 && hgen == 77);
	assert_non_null(got = msg_sealed_read(rfd, (size_t)size));
	assert_string_equal(got, list);
	free(got);
	/* The size the message announced, no other. */
	assert_null(msg_sealed_read(rfd, (size_t)size - 1));
	assert_int_equal(errno, EBADMSG);
	assert_null(msg_sealed_read(rfd, (size_t)size + 1));
	close(rfd);
	assert_int_equal(count_fds(), before);

	/* Without its descriptor the message is refused. */
	assert_int_equal(msg_parse(&m, mb.mb_data, mb.mb_len), 0);
	assert_int_equal(msg_get_hosts(&m, -1, &n, &size, &hgen), -1);
	assert_int_equal(errno, EBADMSG);
	/* More names or bytes than a worker takes, or trailing bytes. */
	hosts_msg(&mb, HOST_TENANT_MAX + 1, 10, 1);
	assert_int_equal(msg_parse(&m, mb.mb_data, mb.mb_len), 0);
	assert_int_equal(msg_get_hosts(&m, 0, &n, &size, &hgen), -1);
	hosts_msg(&mb, 1, HOSTLIST_BYTES_MAX + 1, 1);
	assert_int_equal(msg_parse(&m, mb.mb_data, mb.mb_len), 0);
	assert_int_equal(msg_get_hosts(&m, 0, &n, &size, &hgen), -1);
	hosts_msg(&mb, HOST_TENANT_MAX, HOSTLIST_BYTES_MAX, 1);
	assert_int_equal(msg_parse(&m, mb.mb_data, mb.mb_len), 0);
	assert_int_equal(msg_get_hosts(&m, 0, &n, &size, &hgen), 0);
	msg_init(&mb, MSG_CFG_HOSTS, 0);
	msg_put_u32(&mb, 1);
	msg_put_u64(&mb, 1);
	msg_put_u64(&mb, 1);
	msg_put_u32(&mb, 1);
	assert_int_equal(msg_finish(&mb), 0);
	assert_int_equal(msg_parse(&m, mb.mb_data, mb.mb_len), 0);
	assert_int_equal(msg_get_hosts(&m, 0, &n, &size, &hgen), -1);
	/* Another type's payload is not a host list. */
	msg_init(&mb, MSG_CFG_DONE, 0);
	msg_put_u32(&mb, 1);
	msg_put_u64(&mb, 1);
	msg_put_u64(&mb, 1);
	assert_int_equal(msg_finish(&mb), 0);
	assert_int_equal(msg_parse(&m, mb.mb_data, mb.mb_len), 0);
	assert_int_equal(msg_get_hosts(&m, 0, &n, &size, &hgen), -1);

	/* A file that is not sealed, or not all the way, is not read. */
	assert_true((fd = memfd_create("test", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) != -1);
	assert_int_equal(write(fd, list, sizeof(list) - 1),
	    (ssize_t)sizeof(list) - 1);
	assert_null(msg_sealed_read(fd, sizeof(list) - 1));
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE), 0);
	assert_null(msg_sealed_read(fd, sizeof(list) - 1));
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL), 0);
	assert_non_null(got = msg_sealed_read(fd, sizeof(list) - 1));
	free(got);
	close(fd);
	/* A plain file cannot be sealed at all. */
	fd = temp_file();
	assert_int_equal(write(fd, list, sizeof(list) - 1),
	    (ssize_t)sizeof(list) - 1);
	assert_null(msg_sealed_read(fd, sizeof(list) - 1));
	close(fd);
	/* Nothing at all: an empty list is an empty sealed file. */
	assert_true((fd = msg_sealed_create("test", "", 0)) != -1);
	assert_non_null(got = msg_sealed_read(fd, 0));
	assert_string_equal(got, "");
	free(got);
	close(fd);
	close(sv[0]);
	close(sv[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_truncated_and_trailing),
		cmocka_unit_test(test_parse_header),
		cmocka_unit_test(test_get_bounds),
		cmocka_unit_test(test_put_limits),
		cmocka_unit_test(test_type_str),
		cmocka_unit_test(test_schema_complete),
		cmocka_unit_test(test_schema_check),
		cmocka_unit_test(test_schema_bounds),
		cmocka_unit_test(test_typed_decoders),
		cmocka_unit_test(test_msgio_fd),
		cmocka_unit_test(test_msgio_many_fds),
		cmocka_unit_test(test_msgio_truncated),
		cmocka_unit_test(test_msgio_eof_and_errors),
		cmocka_unit_test(test_cfg_hosts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
