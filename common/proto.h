/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The supervisor <-> worker wire protocol: the single source of truth for
 * message types, payloads, limits and the worker's fixed descriptors.
 *
 * Transport: a SOCK_SEQPACKET socketpair, so one sendmsg() is one message and
 * an fd can never be split from the header it belongs to. Every message is
 * a struct msg_hdr followed by a typed payload of exactly hdr.len - 16 bytes,
 * never more than PROTO_MSG_MAX in all, carrying at most one fd. The schema
 * (msgschema.c) describes every message of every channel.
 *
 *   supervisor                              worker (fresh exec, root, unbound)
 *      MSG_CFG_TENANT,
 *      MSG_CFG_CGROUP* + fd        ------>  joins its tenant's worker cgroup
 *      MSG_CFG_LIMIT*,
 *      MSG_CFG_KEY*, MSG_CFG_DATA,
 *      MSG_CFG_HOSTS + fd,
 *      MSG_CFG_DONE                ------>  sandbox_enter()
 *                                  <------  MSG_STATE_READY
 *      MSG_CONN_NEW + fd + bytes   ------>  serves keep-alive requests
 *                                  <------  MSG_CONN_CLOSED
 *                                  <------  MSG_CONN_HANDBACK + fd + bytes
 *      [MSG_CFG_HOSTS + fd],
 *      MSG_CFG_DONE                ------>  a change to this tenant: its
 *                                           generation slot, and a new host
 *                                           list first if its names changed
 *      MSG_CTL_DRAIN (mode)        ------>  finish, hand back or close, exit
 *      MSG_CTL_PING                ------>
 *                                  <------  MSG_STATE_PONG
 *                                  <------  MSG_STATE_STATS (each second)
 *                                  <------  MSG_LOG, MSG_STATE_RETIRING
 *      MSG_CFG_DATA (limits changed) ---->  applied at once
 *                                  <------  MSG_STATE_CREDIT_WANT
 *      MSG_CTL_CREDIT              ------>  the hold grows (or stays dry)
 *                                  <------  MSG_STATE_USAGE (credits spent)
 *
 * Payload encoding: u32/u64 in host byte order (both ends are the same
 * machine), strings as u16 length + bytes (no NUL inside), "rest" as the
 * remaining bytes of the message.
 */
#ifndef TENANTD_PROTO_H
#define TENANTD_PROTO_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#define PROTO_MSG_MAX		16384
#define PROTO_HDR_LEN		16
#define PROTO_STR_MAX		1024
#define PROTO_LOG_MAX		512

/* Descriptors of a freshly exec'd worker; everything else is closed. */
#define PROTO_CHAN_FD		3	/* control channel to the supervisor */
#define PROTO_MIN_FREE_FD	4

/*
 * Message types, one range per family (the high byte), so a type says its
 * family at a glance and a family can grow without renumbering another.
 * The numbers are not a stable interface: the supervisor, the worker and
 * tenantd-run are built from one tree and installed together (the worker
 * and tenantd-run are exec'd from the same install), so both ends of every
 * channel always agree. Every type has exactly one entry in the schema
 * (msgschema.c); a unit test walks these ranges to make sure of it.
 */
enum msg_type {
	MSG_NONE = 0,
	/* configuration, supervisor -> worker */
	MSG_CFG_BASE = 0x100,
	MSG_CFG_TENANT = MSG_CFG_BASE,
	MSG_CFG_LIMIT,
	MSG_CFG_HOSTS,		/* carries the host list, a sealed memfd */
	MSG_CFG_DONE,
	MSG_CFG_KEY,		/* config phase only (docs/data-plane.md) */
	MSG_CFG_DATA,		/* config phase and after */
	MSG_CFG_CGROUP,		/* config phase only; a cgroup move file */
	MSG_CFG_END,
	/* connections */
	MSG_CONN_BASE = 0x200,
	MSG_CONN_NEW = MSG_CONN_BASE,	/* sup -> worker, the client fd */
	MSG_CONN_CLOSED,	/* worker -> sup */
	MSG_CONN_HANDBACK,	/* worker -> sup, carries the client fd */
	MSG_CONN_END,
	/* worker state, worker -> supervisor */
	MSG_STATE_BASE = 0x300,
	MSG_STATE_READY = MSG_STATE_BASE,
	MSG_STATE_RETIRING,
	MSG_STATE_PONG,		/* the watchdog's answer */
	MSG_STATE_STATS,	/* request counters since the last report */
	MSG_STATE_CREDIT_WANT,
	MSG_STATE_USAGE,
	MSG_STATE_END,
	/* control, supervisor -> worker */
	MSG_CTL_BASE = 0x400,
	MSG_CTL_DRAIN = MSG_CTL_BASE,
	MSG_CTL_PING,		/* watchdog: is the worker reading? */
	MSG_CTL_CREDIT,
	MSG_CTL_END,
	/* logging, worker -> supervisor */
	MSG_LOG_BASE = 0x500,
	MSG_LOG = MSG_LOG_BASE,
	MSG_LOG_END,
	/* tenant code (docs/tenant-code.md) */
	MSG_RUN_BASE = 0x600,
	MSG_RUN_REQUEST = MSG_RUN_BASE,	/* worker -> sup */
	MSG_RUN_STARTED,	/* sup -> worker, carries the handler's stdio */
	MSG_RUN_FAILED,		/* sup -> worker */
	MSG_RUN_KILL,		/* worker -> sup */
	MSG_RUN_SPEC,		/* sup -> tenantd-run, on its fd 3 */
	MSG_APP_CONNECT,	/* worker -> sup: a connection to a persistent app */
	MSG_RUN_SANDBOX,	/* tenantd-run -> sup, on its fd 3 */
	MSG_RUN_GO,		/* sup -> tenantd-run, on its fd 3 */
	MSG_RUN_END,
	/* the front (docs/architecture.md), on its fd 3 */
	MSG_FRONT_BASE = 0x700,
	MSG_FRONT_CFG = MSG_FRONT_BASE,	/* parent -> front, once */
	MSG_FRONT_READY,	/* front -> parent, sandboxed */
	MSG_FRONT_LOG,		/* front -> parent */
	MSG_FRONT_METRICS_WANT,	/* front -> parent */
	MSG_FRONT_METRICS,	/* parent -> front, the text in a sealed memfd */
	MSG_FRONT_ASK,		/* front -> parent */
	MSG_FRONT_ASK_ANSWER,	/* parent -> front */
	MSG_FRONT_END,
};

/*
 * How a worker drains (MSG_CTL_DRAIN payload). Retiring (idle, evicted,
 * max_requests, tenant suspended): every keep-alive connection goes back
 * to the supervisor after its current request, so none is dropped. On
 * stop: requests that already arrived are served, then connections close.
 */
enum drain_mode {
	DRAIN_HANDBACK = 1,
	DRAIN_CLOSE = 2,
};

/*
 * MSG_STATE_STATS: u32 n, n x (u32 status, u32 count), u64 body bytes,
 * u64 latency sum in us, u32 STATS_BUCKETS, STATS_BUCKETS x u32 counts of
 * requests whose latency (head complete to response sent) was at most
 * stats_bounds_us[i] (the last bucket is +Inf).
 */
#define STATS_BUCKETS		14
#define STATS_MAX_CODES		64
extern const uint32_t stats_bounds_us[STATS_BUCKETS - 1];

/*
 * MSG_CFG_HOSTS: u32 n, u64 size, u64 hosts generation, with one fd: a
 * memfd sealed against any change (PROTO_SEALS) of exactly size bytes,
 * the tenant's n active custom hostnames in the format hostlist_parse()
 * takes (host.h). One message whatever the number of names, so a list
 * never meets the channel's buffer. The worker reads it with pread(), not
 * a mapping, and swaps its list in only when the whole of it decoded.
 * The hosts generation is the registry's for the tenant's hostnames.
 *
 * MSG_CFG_DONE: u64 the tenant's generation slot. At bind it ends the
 * config phase; after READY it says the worker is current as of that slot
 * value (docs/routing.md): it follows a MSG_CFG_HOSTS, or comes alone when
 * the slot moved but the tenant's names did not. A worker whose tenant's
 * slot did not move gets none.
 */
#define PROTO_SEALS	(F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | \
			 F_SEAL_WRITE)

/*
 * MSG_CFG_CGROUP: no payload, with one fd: the file of the tenant's
 * worker cgroup (one per v1 hierarchy) the worker writes "0" to at once,
 * before anything else of the tenant's is read (docs/security.md, row 41).
 *
 * MSG_CFG_KEY: u32 purpose (enum key_purpose), u32 master key id, u64
 * not_after (unix seconds, 0: no end), then KEY_LEN bytes: the tenant's
 * derived key, except for KEY_API where it is key_verifier() of it. One
 * message per purpose and live master (current and those in grace).
 *
 * MSG_CFG_DATA: u32 n, then n x (u32 enum tlimit, u64 value). The first,
 * in the config phase, carries every limit; later ones only what changed.
 * The TL_REQUESTS_PER_MINUTE a worker gets is its share of the tenant's.
 * Two values that are not limits ride along (ids from DATA_STORAGE_OTHER):
 */
#define DATA_STORAGE_OTHER	100	/* bytes used by the tenant directory
					   apart from data/app.db and its
					   -wal/-shm, measured by the supervisor */
#define DATA_MAX_ITEMS		64	/* entries of one MSG_CFG_DATA */

/*
 * MSG_CTL_CREDIT: u64 hold id, u64 credits added to the hold, u32 dry
 *     (1: the balance could not give all that was wanted).
 * MSG_STATE_CREDIT_WANT: u64 credits wanted. At most one outstanding.
 * MSG_STATE_USAGE: u64 hold id, u64 report seq (1, 2, ... per hold), u64
 *     credits spent since the previous report.
 */

/*
 * Tenant code. A worker that routes a request to a handler (app/routes)
 * asks the supervisor to start it; the supervisor execs tenantd-run, which
 * builds the sandbox and execs the handler, and gives the worker its end
 * of the handler's stdio (one SOCK_STREAM socketpair: the handler's fd 0
 * and fd 1). The worker writes the request body, shuts down its write
 * side, and reads the CGI response until EOF.
 *
 * MSG_RUN_REQUEST: m_conn_id = run id (the worker's, nonzero, unique
 *     among its runs in flight), str handler (a file name in app/:
 *     [A-Za-z0-9._-], 1..RUN_NAME_MAX, not starting with '.'), u32 n,
 *     n x str "NAME=value" (the RFC 3875 environment, n <= RUN_ENV_MAX).
 * MSG_RUN_STARTED: m_conn_id = run id, with the fd.
 * MSG_RUN_FAILED: m_conn_id = run id, u32 HTTP status (503: cannot start).
 * MSG_RUN_KILL: m_conn_id = run id. The worker gave up (its timeout); the
 *     supervisor kills the run and everything it started. The supervisor
 *     also kills a run on its own at handler_timeout plus a grace second.
 * MSG_RUN_SPEC (to tenantd-run): u32 uid, u32 gid, u32 network (0/1),
 *     str jail root, str policy dir, str slug, str sandbox stamp ("" if
 *     none). tenantd-run builds or joins the sandbox, drops to the tenant
 *     and installs the filter, then waits for MSG_RUN_GO: a run prepared
 *     ahead of its request, so that a request waits only for the fork and
 *     exec of its program (the supervisor keeps one spare per tenant).
 *     With m_flags RUN_SPEC_PERSISTENT, the program is a persistent app.
 *     With m_flags RUN_SPEC_SANDBOX, fd 5 is the tenant's mount namespace
 *     and, without network, fd 6 its network namespace, as tenantd-run
 *     reported them with that stamp: it joins them if the stamp is still
 *     what it would build, and builds new ones otherwise.
 * MSG_RUN_GO (to tenantd-run, on fd 3, at most once): str program (a
 *     file name in app/, as a handler's), u32 n, n x str "NAME=value",
 *     with one fd: the handler's stdio, a SOCK_STREAM socket; or, with
 *     RUN_SPEC_PERSISTENT, a listening SOCK_STREAM socket, which the app
 *     gets as its fd 3 the systemd way (LISTEN_FDS=1, LISTEN_PID=its pid,
 *     LISTEN_FDNAMES=http), stdin and stdout /dev/null. EOF on fd 3
 *     instead: the run is not wanted, and ends.
 * MSG_RUN_SANDBOX (from tenantd-run, on fd 3, after it built a tenant's
 *     namespaces): u32 type (CLONE_NEWNS or CLONE_NEWNET), str stamp,
 *     with the namespace's fd. The supervisor keeps them for the tenant's
 *     next runs and reads them as they come, while the run goes on.
 *
 * Persistent apps. A route marked "persistent" names a long-running HTTP
 * server. The worker sends MSG_APP_CONNECT: m_conn_id = run id, str
 * program (the same rules as a handler's name). The supervisor starts the
 * app if it is not running (through tenantd-run, with a listening socket
 * it keeps across restarts), connects to it, and answers MSG_RUN_STARTED
 * with the connected socket, or MSG_RUN_FAILED (503: cannot start, or in
 * its crash backoff). The worker sends the request (HTTP/1.0, Connection:
 * close), reads the response to EOF, and closes; MSG_RUN_KILL is not used
 * for apps. The supervisor restarts a crashed app with backoff and stops
 * one idle for app_idle.
 */
#define RUN_SPEC_PERSISTENT	1
#define RUN_SPEC_SANDBOX	2
#define RUN_NAME_MAX		64
#define RUN_ENV_MAX		128
#define RUN_MAX_PER_WORKER	16
#define PROTO_RUN_STDIO_FD	4	/* where MSG_RUN_GO's fd goes */
#define PROTO_RUN_MNTNS_FD	5	/* with RUN_SPEC_SANDBOX */
#define PROTO_RUN_NETNS_FD	6	/* with RUN_SPEC_SANDBOX, no network */

/*
 * The front (front/front.c), the unprivileged process that serves the
 * loopback HTTP listener ([admin] http_listen). Fixed descriptors: the
 * channel on PROTO_CHAN_FD, the listening socket on PROTO_FRONT_LISTEN_FD.
 *
 * MSG_FRONT_CFG: u32 uid, u32 gid, u32 verbose, str root (an empty
 *     directory to chroot into), str seccomp policy path, str limits
 *     policy path, u32 /ask rate a second ([admin] ask_rate), str
 *     /metrics bearer token (empty: none). The front reads both files
 *     as root, then drops.
 * MSG_FRONT_READY: sandboxed; only now does it accept a connection.
 * MSG_FRONT_LOG: u32 syslog priority, str line (as MSG_LOG).
 * MSG_FRONT_METRICS_WANT: m_conn_id = request id (the front's, nonzero).
 * MSG_FRONT_METRICS: m_conn_id = request id, u64 size, with one fd: a
 *     sealed memfd (PROTO_SEALS) of exactly size bytes of Prometheus text.
 * MSG_FRONT_ASK: m_conn_id = request id, str domain in canonical form
 *     (host_canonical(), no port). The parent classifies it again.
 * MSG_FRONT_ASK_ANSWER: m_conn_id = request id, u32 allowed (0/1).
 *
 * A front has at most FRONT_INFLIGHT_MAX requests of each kind unanswered;
 * one more is a protocol break, and the parent kills it.
 */
#define PROTO_FRONT_LISTEN_FD	4
#define FRONT_INFLIGHT_MAX	64
#define FRONT_METRICS_MAX	(64U << 20)
#define FRONT_TOKEN_MAX		256	/* [admin] metrics_token_file */

/* Why a worker gives a connection back. */
enum handback_reason {
	HANDBACK_FOREIGN_HOST = 1,	/* next request names another host */
	HANDBACK_STALE = 2,		/* registry changed since our config */
	HANDBACK_DRAINING = 3,		/* worker retiring mid-connection */
};

struct msg_hdr {
	uint32_t	 type;
	uint32_t	 len;		/* including this header */
	uint32_t	 conn_id;	/* issued by the supervisor */
	uint32_t	 flags;
};

/* An outgoing message under construction. */
struct msgbuf {
	uint8_t		 mb_data[PROTO_MSG_MAX];
	size_t		 mb_len;
	int		 mb_overflow;
};

/* A received message being decoded. */
struct msg {
	uint32_t	 m_type;
	uint32_t	 m_conn_id;
	uint32_t	 m_flags;
	const uint8_t	*m_pos;
	const uint8_t	*m_end;
};

/*
 * The schema (msgschema.c): one entry per message type says on which
 * channel it travels, which end sends it, whether it carries an fd, what
 * its conn_id and header flags may be, and the exact shape of its payload.
 * msg_check() holds a received message against it before any typed
 * decoder looks; the docs' message table and the fuzzer's seeds are
 * printed from it (tests/unit/msgtable.c).
 */
enum msg_chan {
	CHAN_WORKER = 1,	/* supervisor <-> worker, the worker's fd 3 */
	CHAN_RUNNER,		/* supervisor <-> tenantd-run, its fd 3 */
	CHAN_FRONT,		/* parent <-> front, the front's fd 3 */
};

/* Which end of the channel sends the message. */
enum msg_dir {
	DIR_DOWN = 1,		/* the supervisor sends, the child reads */
	DIR_UP,			/* the child (worker, tenantd-run) sends */
};

enum msg_fdrule {
	MFD_NEVER = 0,
	MFD_ALWAYS,
	MFD_OPTIONAL,
};

enum msg_idrule {
	MID_ZERO = 0,		/* conn_id must be 0 */
	MID_SET,		/* conn_id names a connection or run: not 0 */
};

/*
 * Field kinds. A string is a u16 length in [mf_min, mf_max] (mf_max at
 * most PROTO_STR_MAX) and that many bytes without NUL; bytes are exactly
 * mf_max bytes; rest is the remainder of the message, last field only.
 * A repeat is a u32 count in [mf_min, mf_max], then that many copies of
 * the fields up to its MF_REPEAT_END (no nesting).
 */
enum msg_fkind {
	MF_END = 0,
	MF_U32,
	MF_U64,
	MF_STR,
	MF_BYTES,
	MF_REST,
	MF_REPEAT,
	MF_REPEAT_END,
};

#define MSG_FIELDS_MAX	20

struct msg_field {
	uint8_t		 mf_kind;
	uint16_t	 mf_min;
	uint16_t	 mf_max;
	const char	*mf_name;
};

struct msg_schema {
	uint32_t	 ms_type;
	const char	*ms_name;
	uint8_t		 ms_chan;	/* enum msg_chan */
	uint8_t		 ms_dir;	/* enum msg_dir */
	uint8_t		 ms_fd;		/* enum msg_fdrule */
	uint8_t		 ms_id;		/* enum msg_idrule */
	uint32_t	 ms_flags;	/* header flags it may carry */
	struct msg_field ms_fields[MSG_FIELDS_MAX];
};

struct msg_family {
	uint32_t	 mfa_base;
	uint32_t	 mfa_end;	/* one past its last type */
	const char	*mfa_name;
};

extern const struct msg_schema	 msg_schema[];
extern const size_t		 msg_schema_n;
extern const struct msg_family	 msg_families[];
extern const size_t		 msg_families_n;

/* msgschema.c: pure */
const struct msg_schema *msg_schema_find(uint32_t);
int		 msg_check(const struct msg *, int, enum msg_chan,
		    enum msg_dir);
int		 msg_example(const struct msg_schema *, uint32_t,
		    struct msgbuf *);
const char	*msg_chan_str(uint32_t);

/* proto.c: pure encode/decode */
void		 msg_init(struct msgbuf *, uint32_t, uint32_t);
void		 msg_put(struct msgbuf *, const void *, size_t);
void		 msg_put_u32(struct msgbuf *, uint32_t);
void		 msg_put_u64(struct msgbuf *, uint64_t);
void		 msg_put_str(struct msgbuf *, const char *);
void		 msg_put_strn(struct msgbuf *, const char *, size_t);
void		 msg_put_rest(struct msgbuf *, const void *, size_t);
int		 msg_finish(struct msgbuf *);
int		 msg_parse(struct msg *, const uint8_t *, size_t);
int		 msg_get(struct msg *, void *, size_t);
int		 msg_get_u32(struct msg *, uint32_t *);
int		 msg_get_u64(struct msg *, uint64_t *);
int		 msg_get_str(struct msg *, char *, size_t);
void		 msg_get_rest(struct msg *, const uint8_t **, size_t *);
int		 msg_end(struct msg *);
int		 msg_get_hosts(struct msg *, int, uint32_t *, uint64_t *,
		    uint64_t *);
const char	*msg_type_str(uint32_t);

/* msgio.c: effects */
int		 msg_send(int, const struct msgbuf *, int);
ssize_t		 msg_recv(int, uint8_t *, size_t, int *);
ssize_t		 msg_recv_wait(int, uint8_t *, size_t, int *);
int		 msg_sealed_create(const char *, const void *, size_t);
char		*msg_sealed_read(int, size_t);

#endif
