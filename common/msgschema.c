/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The message schema: every message of every channel, its channel, the end
 * that sends it, its fd, conn_id and flags, and the shape of its payload
 * (proto.h). msg_check() holds a received message against it, so each
 * typed decoder starts from a message whose every length is known good and
 * whose type belongs where it arrived. Pure: no I/O.
 */
#include <errno.h>
#include <string.h>

#include "host.h"
#include "keys.h"
#include "proto.h"
#include "slug.h"

#define U32(n)		{ MF_U32, 0, 0, n }
#define U64(n)		{ MF_U64, 0, 0, n }
#define STR(lo, hi, n)	{ MF_STR, lo, hi, n }
#define BYTES(len, n)	{ MF_BYTES, len, len, n }
#define REST(n)		{ MF_REST, 0, 0, n }
#define REPEAT(lo, hi, n) { MF_REPEAT, lo, hi, n }
#define REPEAT_END	{ MF_REPEAT_END, 0, 0, NULL }
#define NOFIELDS	{ { MF_END, 0, 0, NULL } }

const struct msg_family msg_families[] = {
	{ MSG_CFG_BASE, MSG_CFG_END, "CFG" },
	{ MSG_CONN_BASE, MSG_CONN_END, "CONN" },
	{ MSG_STATE_BASE, MSG_STATE_END, "STATE" },
	{ MSG_CTL_BASE, MSG_CTL_END, "CTL" },
	{ MSG_LOG_BASE, MSG_LOG_END, "LOG" },
	{ MSG_RUN_BASE, MSG_RUN_END, "RUN" },
	{ MSG_FRONT_BASE, MSG_FRONT_END, "FRONT" },
};
const size_t msg_families_n = sizeof(msg_families) / sizeof(msg_families[0]);

/*
 * In the order of the types. The field names are what docs/architecture.md
 * prints; the bounds are the receivers' (a typed decoder may refuse more,
 * e.g. a status code out of range, but never less).
 */
const struct msg_schema msg_schema[] = {
	{ MSG_CFG_TENANT, "CFG_TENANT", CHAN_WORKER, DIR_DOWN, MFD_NEVER,
	    MID_ZERO, 0, {
		U32("tenant id"), U32("uid"), U32("gid"), U32("head_max"),
		U32("target_max"), U32("conns_per_worker"),
		U32("max_requests"), U32("header_timeout (ms)"),
		U32("keepalive_timeout (ms)"), U32("verbose"),
		STR(1, SLUG_MAX_LEN, "slug"),
		STR(1, PROTO_STR_MAX, "jail root"),
		STR(1, PROTO_STR_MAX, "seccomp policy path"),
		STR(1, PROTO_STR_MAX, "generation slot file path"),
		STR(1, HOST_NAME_MAX_LEN, "suffix"),
		STR(0, HOST_NAME_MAX_LEN, "admin host") } },
	{ MSG_CFG_LIMIT, "CFG_LIMIT", CHAN_WORKER, DIR_DOWN, MFD_NEVER,
	    MID_ZERO, 0, { U32("resource"), U64("value") } },
	{ MSG_CFG_HOSTS, "CFG_HOSTS", CHAN_WORKER, DIR_DOWN, MFD_ALWAYS,
	    MID_ZERO, 0, {
		U32("number of names"), U64("size of the sealed file"),
		U64("hosts generation") } },
	{ MSG_CFG_DONE, "CFG_DONE", CHAN_WORKER, DIR_DOWN, MFD_NEVER,
	    MID_ZERO, 0, { U64("the tenant's generation slot value") } },
	{ MSG_CFG_KEY, "CFG_KEY", CHAN_WORKER, DIR_DOWN, MFD_NEVER,
	    MID_ZERO, 0, {
		U32("purpose"), U32("master key id"), U64("not_after"),
		BYTES(KEY_LEN, "derived key or its verifier") } },
	{ MSG_CFG_DATA, "CFG_DATA", CHAN_WORKER, DIR_DOWN, MFD_NEVER,
	    MID_ZERO, 0, {
		REPEAT(0, DATA_MAX_ITEMS, "limits"), U32("limit id"),
		U64("value"), REPEAT_END } },
	{ MSG_CFG_CGROUP, "CFG_CGROUP", CHAN_WORKER, DIR_DOWN, MFD_ALWAYS,
	    MID_ZERO, 0, NOFIELDS },

	{ MSG_CONN_NEW, "CONN_NEW", CHAN_WORKER, DIR_DOWN, MFD_ALWAYS,
	    MID_SET, 0, { REST("the bytes already read") } },
	{ MSG_CONN_CLOSED, "CONN_CLOSED", CHAN_WORKER, DIR_UP, MFD_NEVER,
	    MID_SET, 0, { U32("requests served") } },
	{ MSG_CONN_HANDBACK, "CONN_HANDBACK", CHAN_WORKER, DIR_UP,
	    MFD_ALWAYS, MID_SET, 0, {
		U32("reason (1 foreign host, 2 stale, 3 draining)"),
		U32("requests served"), REST("the unread bytes") } },

	{ MSG_STATE_READY, "STATE_READY", CHAN_WORKER, DIR_UP, MFD_NEVER,
	    MID_ZERO, 0, NOFIELDS },
	{ MSG_STATE_RETIRING, "STATE_RETIRING", CHAN_WORKER, DIR_UP,
	    MFD_NEVER, MID_ZERO, 0, NOFIELDS },
	{ MSG_STATE_PONG, "STATE_PONG", CHAN_WORKER, DIR_UP, MFD_NEVER,
	    MID_ZERO, 0, NOFIELDS },
	{ MSG_STATE_STATS, "STATE_STATS", CHAN_WORKER, DIR_UP, MFD_NEVER,
	    MID_ZERO, 0, {
		REPEAT(0, STATS_MAX_CODES, "status codes"),
		U32("status code"), U32("count"), REPEAT_END,
		U64("response body bytes"), U64("latency sum (us)"),
		REPEAT(STATS_BUCKETS, STATS_BUCKETS, "histogram buckets"),
		U32("requests"), REPEAT_END } },
	{ MSG_STATE_CREDIT_WANT, "STATE_CREDIT_WANT", CHAN_WORKER, DIR_UP,
	    MFD_NEVER, MID_ZERO, 0, { U64("credits wanted") } },
	{ MSG_STATE_USAGE, "STATE_USAGE", CHAN_WORKER, DIR_UP, MFD_NEVER,
	    MID_ZERO, 0, {
		U64("hold id"), U64("report seq"), U64("credits spent") } },

	{ MSG_CTL_DRAIN, "CTL_DRAIN", CHAN_WORKER, DIR_DOWN, MFD_NEVER,
	    MID_ZERO, 0, { U32("mode (1 DRAIN_HANDBACK, 2 DRAIN_CLOSE)") } },
	{ MSG_CTL_PING, "CTL_PING", CHAN_WORKER, DIR_DOWN, MFD_NEVER,
	    MID_ZERO, 0, NOFIELDS },
	{ MSG_CTL_CREDIT, "CTL_CREDIT", CHAN_WORKER, DIR_DOWN, MFD_NEVER,
	    MID_ZERO, 0, {
		U64("hold id"), U64("credits added"), U32("dry (0/1)") } },

	{ MSG_LOG, "LOG", CHAN_WORKER, DIR_UP, MFD_NEVER, MID_ZERO, 0, {
		U32("syslog priority"), STR(0, PROTO_LOG_MAX, "line") } },

	{ MSG_RUN_REQUEST, "RUN_REQUEST", CHAN_WORKER, DIR_UP, MFD_NEVER,
	    MID_SET, 0, {
		STR(1, RUN_NAME_MAX, "handler"),
		REPEAT(0, RUN_ENV_MAX, "environment"),
		STR(1, PROTO_STR_MAX, "NAME=value"), REPEAT_END } },
	{ MSG_RUN_STARTED, "RUN_STARTED", CHAN_WORKER, DIR_DOWN, MFD_ALWAYS,
	    MID_SET, 0, NOFIELDS },
	{ MSG_RUN_FAILED, "RUN_FAILED", CHAN_WORKER, DIR_DOWN, MFD_NEVER,
	    MID_SET, 0, { U32("HTTP status") } },
	{ MSG_RUN_KILL, "RUN_KILL", CHAN_WORKER, DIR_UP, MFD_NEVER,
	    MID_SET, 0, NOFIELDS },
	{ MSG_RUN_SPEC, "RUN_SPEC", CHAN_RUNNER, DIR_DOWN, MFD_NEVER,
	    MID_ZERO, RUN_SPEC_PERSISTENT | RUN_SPEC_SANDBOX, {
		U32("uid"), U32("gid"), U32("network (0/1)"),
		STR(1, PROTO_STR_MAX, "jail root"),
		STR(1, PROTO_STR_MAX, "policy dir"),
		STR(1, SLUG_MAX_LEN, "slug"),
		STR(0, PROTO_STR_MAX, "sandbox stamp") } },
	{ MSG_APP_CONNECT, "APP_CONNECT", CHAN_WORKER, DIR_UP, MFD_NEVER,
	    MID_SET, 0, { STR(1, RUN_NAME_MAX, "program") } },
	{ MSG_RUN_SANDBOX, "RUN_SANDBOX", CHAN_RUNNER, DIR_UP, MFD_ALWAYS,
	    MID_ZERO, 0, {
		U32("namespace type"), STR(0, PROTO_STR_MAX, "stamp") } },
	{ MSG_RUN_GO, "RUN_GO", CHAN_RUNNER, DIR_DOWN, MFD_ALWAYS,
	    MID_ZERO, 0, {
		STR(1, RUN_NAME_MAX, "program"),
		REPEAT(0, RUN_ENV_MAX, "environment"),
		STR(1, PROTO_STR_MAX, "NAME=value"), REPEAT_END } },

	{ MSG_FRONT_CFG, "FRONT_CFG", CHAN_FRONT, DIR_DOWN, MFD_NEVER,
	    MID_ZERO, 0, {
		U32("uid"), U32("gid"), U32("verbose"),
		STR(1, PROTO_STR_MAX, "root"),
		STR(1, PROTO_STR_MAX, "seccomp policy path"),
		STR(1, PROTO_STR_MAX, "limits policy path"),
		U32("/ask rate a second"),
		STR(0, FRONT_TOKEN_MAX, "/metrics bearer token") } },
	{ MSG_FRONT_READY, "FRONT_READY", CHAN_FRONT, DIR_UP, MFD_NEVER,
	    MID_ZERO, 0, NOFIELDS },
	{ MSG_FRONT_LOG, "FRONT_LOG", CHAN_FRONT, DIR_UP, MFD_NEVER,
	    MID_ZERO, 0, {
		U32("syslog priority"), STR(0, PROTO_LOG_MAX, "line") } },
	{ MSG_FRONT_METRICS_WANT, "FRONT_METRICS_WANT", CHAN_FRONT, DIR_UP,
	    MFD_NEVER, MID_SET, 0, NOFIELDS },
	{ MSG_FRONT_METRICS, "FRONT_METRICS", CHAN_FRONT, DIR_DOWN,
	    MFD_ALWAYS, MID_SET, 0, { U64("size of the sealed file") } },
	{ MSG_FRONT_ASK, "FRONT_ASK", CHAN_FRONT, DIR_UP, MFD_NEVER,
	    MID_SET, 0, { STR(1, HOST_NAME_MAX_LEN, "domain") } },
	{ MSG_FRONT_ASK_ANSWER, "FRONT_ASK_ANSWER", CHAN_FRONT, DIR_DOWN,
	    MFD_NEVER, MID_SET, 0, { U32("allowed (0/1)") } },
};
const size_t msg_schema_n = sizeof(msg_schema) / sizeof(msg_schema[0]);

const struct msg_schema *
msg_schema_find(uint32_t type)
{
	size_t	 i;

	if (type == MSG_NONE)
		return NULL;
	for (i = 0; i < msg_schema_n; i++)
		if (msg_schema[i].ms_type == type)
			return &msg_schema[i];
	return NULL;
}

const char *
msg_type_str(uint32_t type)
{
	const struct msg_schema	*ms;

	if ((ms = msg_schema_find(type)) == NULL)
		return "UNKNOWN";
	return ms->ms_name;
}

const char *
msg_chan_str(uint32_t chan)
{
	switch (chan) {
	case CHAN_WORKER:
		return "worker";
	case CHAN_RUNNER:
		return "runner";
	case CHAN_FRONT:
		return "front";
	}
	return "unknown";
}

/* The index of the MF_REPEAT_END that closes the group opening at i. */
static size_t
group_end(const struct msg_field *f, size_t i)
{
	for (i++; i < MSG_FIELDS_MAX && f[i].mf_kind != MF_REPEAT_END; i++)
		;
	return i;
}

/*
 * Walk the fields from i up to MF_END or MF_REPEAT_END, moving the cursor
 * over what they describe. Returns the index it stopped at, or
 * MSG_FIELDS_MAX when the payload does not match.
 */
static size_t
check_fields(struct msg *c, const struct msg_field *f, size_t i)
{
	uint32_t	 n, k;
	uint16_t	 l;
	size_t		 end;

	for (; i < MSG_FIELDS_MAX; i++) {
		switch (f[i].mf_kind) {
		case MF_END:
		case MF_REPEAT_END:
			return i;
		case MF_U32:
			if (msg_get_u32(c, &n) == -1)
				return MSG_FIELDS_MAX;
			break;
		case MF_U64:
			if ((size_t)(c->m_end - c->m_pos) < sizeof(uint64_t))
				return MSG_FIELDS_MAX;
			c->m_pos += sizeof(uint64_t);
			break;
		case MF_STR:
			if (msg_get(c, &l, sizeof(l)) == -1 ||
			    l < f[i].mf_min || l > f[i].mf_max ||
			    l > PROTO_STR_MAX ||
			    (size_t)(c->m_end - c->m_pos) < l ||
			    memchr(c->m_pos, '\0', l) != NULL)
				return MSG_FIELDS_MAX;
			c->m_pos += l;
			break;
		case MF_BYTES:
			if ((size_t)(c->m_end - c->m_pos) < f[i].mf_max)
				return MSG_FIELDS_MAX;
			c->m_pos += f[i].mf_max;
			break;
		case MF_REST:
			c->m_pos = c->m_end;
			break;
		case MF_REPEAT:
			if (msg_get_u32(c, &n) == -1 || n < f[i].mf_min ||
			    n > f[i].mf_max)
				return MSG_FIELDS_MAX;
			end = group_end(f, i);
			for (k = 0; k < n; k++)
				if (check_fields(c, f, i + 1) != end)
					return MSG_FIELDS_MAX;
			i = end;
			break;
		default:
			return MSG_FIELDS_MAX;
		}
	}
	return MSG_FIELDS_MAX;
}

/*
 * Is m, received with an fd or without, a message that may arrive here:
 * on chan, sent by the dir end? Its type, its fd, its conn_id, its flags
 * and every length of its payload are held against the schema. The
 * caller's cursor is not moved: the typed decoder reads it next, knowing
 * it cannot run short or leave bytes over. -1 with EBADMSG otherwise.
 */
int
msg_check(const struct msg *m, int has_fd, enum msg_chan chan,
    enum msg_dir dir)
{
	const struct msg_schema	*ms;
	struct msg		 c = *m;

	if ((ms = msg_schema_find(m->m_type)) == NULL ||
	    ms->ms_chan != chan || ms->ms_dir != dir ||
	    (ms->ms_fd == MFD_NEVER && has_fd) ||
	    (ms->ms_fd == MFD_ALWAYS && !has_fd) ||
	    (ms->ms_id == MID_ZERO) != (m->m_conn_id == 0) ||
	    (m->m_flags & ~ms->ms_flags) != 0 ||
	    check_fields(&c, ms->ms_fields, 0) == MSG_FIELDS_MAX ||
	    c.m_pos != c.m_end) {
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

/* Fields from i to the group's end, with values that fit their bounds. */
static size_t
example_fields(struct msgbuf *mb, const struct msg_field *f, size_t i)
{
	static const uint8_t	 zero[KEY_LEN];
	static const char	 s[] = "a=bcdefg";
	uint32_t		 n, k;
	size_t			 end, l;

	for (; i < MSG_FIELDS_MAX; i++) {
		switch (f[i].mf_kind) {
		case MF_END:
		case MF_REPEAT_END:
			return i;
		case MF_U32:
			/* 1 passes every flag or enum a typed decoder knows. */
			msg_put_u32(mb, 1);
			break;
		case MF_U64:
			msg_put_u64(mb, (uint64_t)i + 1);
			break;
		case MF_STR:
			/* "a=" followed by letters: a name, or an entry. */
			l = f[i].mf_min > 3 ? f[i].mf_min : 3;
			if (l > f[i].mf_max)
				l = f[i].mf_max;
			if (l < sizeof(s))
				msg_put_strn(mb, s, l);
			else
				mb->mb_overflow = 1;
			break;
		case MF_BYTES:
			if (f[i].mf_max <= sizeof(zero))
				msg_put(mb, zero, f[i].mf_max);
			else
				mb->mb_overflow = 1;
			break;
		case MF_REST:
			msg_put_rest(mb, "GET", 3);
			break;
		case MF_REPEAT:
			n = f[i].mf_min > 0 ? f[i].mf_min : 1;
			msg_put_u32(mb, n);
			end = group_end(f, i);
			for (k = 0; k < n; k++)
				example_fields(mb, f, i + 1);
			i = end;
			break;
		}
	}
	return i;
}

/*
 * A message of ms's type and shape, for the tests and the fuzzer's seeds:
 * msg_check() accepts it on its channel and direction. -1 if it does not
 * fit a message.
 */
int
msg_example(const struct msg_schema *ms, uint32_t conn_id,
    struct msgbuf *mb)
{
	msg_init(mb, ms->ms_type, ms->ms_id == MID_SET ? conn_id : 0);
	example_fields(mb, ms->ms_fields, 0);
	return msg_finish(mb);
}
