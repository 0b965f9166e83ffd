/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The parent's side of the front (docs/architecture.md, "The front"): the
 * unprivileged tenantd-front serves the loopback HTTP listener ([admin]
 * http_listen), so that this root process parses no byte of it. Here:
 * the listening socket, which stays open across the front's restarts (a
 * connection made while no front runs waits in its backlog); the front's
 * user, resolved and refused before it is spawned; its spawn; its channel;
 * and its restart with backoff (backoff.c) when it dies.
 *
 * The front is hostile (docs/security.md, "Privilege separation"): each
 * message is held against the schema (msg_check) and against front_msgs[]
 * (which message in which state), decoded whole before anything is done,
 * read at most FRONT_READ_MAX per wakeup; it may have FRONT_INFLIGHT_MAX
 * questions of a kind unanswered and no more; a domain it asks about is
 * classified again here, by the one classifier (common/host.c). A front
 * that breaks any of this is killed, and restarted; the parent goes on.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "backoff.h"
#include "log.h"
#include "policy.h"
#include "proto.h"
#include "spawner.h"
#include "status.h"
#include "supervisor.h"
#include "sys.h"

#define FRONT_READ_MAX		64	/* messages per wakeup */
#define FRONT_LOG_PER_SEC	20
#define FRONT_ROOT		"front-root"	/* in [paths] run_dir */

enum front_state {
	FS_NONE,	/* not running: waiting for its restart */
	FS_STARTING,	/* spawned, FRONT_CFG sent, not READY yet */
	FS_READY,
};

/* The questions a front asks; each kind has its own in-flight count. */
enum front_kind {
	FK_METRICS,
	FK_ASK,
	FK_N,
};

/* An answer waiting for room in the channel. */
struct fanswer {
	TAILQ_ENTRY(fanswer) fa_entry;
	enum front_kind	 fa_kind;
	int		 fa_fd;
	size_t		 fa_len;
	uint8_t		 fa_data[];
};

static struct {
	enum front_state fr_state;
	pid_t		 fr_pid;
	int		 fr_pidfd;
	int		 fr_chan;
	ev_io		 fr_rev;
	ev_io		 fr_wev;
	ev_child	 fr_child;
	ev_timer	 fr_timer;	/* READY deadline, or the restart */
	ev_tstamp	 fr_started;
	unsigned int	 fr_failures;
	unsigned int	 fr_inflight[FK_N];
	TAILQ_HEAD(, fanswer) fr_outq;
	unsigned int	 fr_loglines;
	ev_tstamp	 fr_logsec;
} fr = { .fr_pidfd = -1, .fr_chan = -1 };

static int		 listen_fd = -1;
static int		 stopping;
static uid_t		 front_uid;
static gid_t		 front_gid;
static char		 front_root[PATH_MAX];
static char		 front_seccomp[PATH_MAX];
static char		 front_limits[PATH_MAX];
static char		 metrics_token[FRONT_TOKEN_MAX + 1];

static void	frontctl_spawn(void);
static void	frontctl_read_cb(struct ev_loop *, ev_io *, int);

pid_t
frontctl_pid(void)
{
	return fr.fr_state == FS_NONE ? 0 : fr.fr_pid;
}

/*
 * [front] user: a system user of its own. Not root, and not a uid or gid
 * a tenant may get: the front would then own that tenant's files.
 */
int
frontctl_check(char *err, size_t errsz)
{
	struct passwd	*pw;

	if ((pw = getpwnam(conf->c_front_user)) == NULL) {
		snprintf(err, errsz, "[front] user: no user \"%s\" (the "
		    "package creates it; see docs/operations.md)",
		    conf->c_front_user);
		return -1;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		snprintf(err, errsz, "[front] user: \"%s\" has uid or gid 0",
		    conf->c_front_user);
		return -1;
	}
	if ((pw->pw_uid >= conf->c_uid_min && pw->pw_uid <= conf->c_uid_max) ||
	    (pw->pw_gid >= conf->c_uid_min && pw->pw_gid <= conf->c_uid_max)) {
		snprintf(err, errsz, "[front] user: \"%s\" (%u:%u) is in the "
		    "tenants' range [tenants] uid_min..uid_max",
		    conf->c_front_user, (unsigned int)pw->pw_uid,
		    (unsigned int)pw->pw_gid);
		return -1;
	}
	front_uid = pw->pw_uid;
	front_gid = pw->pw_gid;
	return 0;
}

/*
 * The front's root: an empty directory owned by root, mode 0755, on a
 * path only root can change (the jails' rule, sys.c). Nothing is ever
 * put in it: the front opens no file after its chroot.
 */
static void
frontctl_root(void)
{
	char		 err[512];
	DIR		*d;
	struct dirent	*de;

	if ((size_t)snprintf(front_root, sizeof(front_root), "%s/%s",
	    conf->c_run_dir, FRONT_ROOT) >= sizeof(front_root))
		fatalx("[paths] run_dir: too long");
	if (mkdir(front_root, 0755) == -1 && errno != EEXIST)
		fatal("mkdir %s", front_root);
	if (chown(front_root, 0, 0) == -1 || chmod(front_root, 0755) == -1)
		fatal("%s", front_root);
	if (jail_path_check(front_root, 0, err, sizeof(err)) == -1)
		fatalx("front root: %s", err);
	if ((d = opendir(front_root)) == NULL)
		fatal("%s", front_root);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			fatalx("front root %s is not empty (%s): it must stay "
			    "empty", front_root, de->d_name);
	closedir(d);
}

/*
 * The policy files the front loads, checked now: a broken one fails the
 * start with a clear message instead of every spawn.
 */
static void
frontctl_policy(void)
{
	struct policy	*pol;
	struct limits	 lim;
	char		 err[512];

	snprintf(front_seccomp, sizeof(front_seccomp), "%s/%s",
	    conf->c_policy_dir, FRONT_SECCOMP_FILE);
	snprintf(front_limits, sizeof(front_limits), "%s/%s",
	    conf->c_policy_dir, FRONT_LIMITS_FILE);
	if ((pol = malloc(sizeof(*pol))) == NULL)
		fatal("%s", __func__);
	if (policy_load(front_seccomp, pol, err, sizeof(err)) == -1 ||
	    limits_load(front_limits, &lim, err, sizeof(err)) == -1)
		fatalx("policy: %s", err);
	free(pol);
}

/*
 * [admin] metrics_token_file: read once, at the start, by root. It is a
 * secret, so the key files' rule (common/keys_file.c): a regular file of
 * root's that no one else may read or write, else the start fails. The
 * token is visible ASCII, 16 to FRONT_TOKEN_MAX bytes, one final newline
 * allowed. It goes to the front in FRONT_CFG and into no log.
 */
static void
frontctl_token(void)
{
	const char	*path = conf->c_metrics_token_file;
	struct stat	 st;
	size_t		 off = 0, i;
	ssize_t		 n;
	int		 fd;

	if (path[0] == '\0')
		return;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		fatal("[admin] metrics_token_file %s", path);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 077) != 0)
		fatalx("[admin] metrics_token_file %s: must be a regular file "
		    "owned by root that only root can read (mode 0400)", path);
	/* One byte more than the longest token: a longer file is refused. */
	while (off < sizeof(metrics_token) - 1 && (n = read(fd,
	    metrics_token + off, sizeof(metrics_token) - 1 - off)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			fatal("[admin] metrics_token_file %s", path);
		off += (size_t)n;
	}
	close(fd);
	if (off > 0 && metrics_token[off - 1] == '\n')
		off--;
	metrics_token[off] = '\0';
	for (i = 0; i < off; i++)
		if (metrics_token[i] < 0x21 || metrics_token[i] > 0x7e)
			break;
	if (off < 16 || off >= FRONT_TOKEN_MAX || i != off)
		fatalx("[admin] metrics_token_file %s: expected one token of "
		    "16 to %d visible ASCII characters", path,
		    FRONT_TOKEN_MAX - 1);
}

static int
frontctl_listen_open(void)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	char			 addr[64];
	unsigned int		 port;
	socklen_t		 sl;
	int			 fd, one = 1;

	if (config_hostport(conf->c_http_listen, addr, &port) == -1)
		fatalx("[admin] http_listen: %s", conf->c_http_listen);
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		sl = sizeof(*sin);
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		sl = sizeof(*sin6);
	} else
		fatalx("[admin] http_listen: %s is not an address", addr);
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		fatal("http_listen socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) == -1 || listen(fd, 64) == -1)
		fatal("[admin] http_listen %s", conf->c_http_listen);
	return fd;
}

/* Stop talking to the front; its death is handled when it is reaped. */
static void
frontctl_detach(void)
{
	struct fanswer	*fa;

	ev_io_stop(loop, &fr.fr_rev);
	ev_io_stop(loop, &fr.fr_wev);
	ev_timer_stop(loop, &fr.fr_timer);
	if (fr.fr_chan != -1)
		close(fr.fr_chan);
	fr.fr_chan = -1;
	while ((fa = TAILQ_FIRST(&fr.fr_outq)) != NULL) {
		TAILQ_REMOVE(&fr.fr_outq, fa, fa_entry);
		if (fa->fa_fd != -1)
			close(fa->fa_fd);
		free(fa);
	}
	memset(fr.fr_inflight, 0, sizeof(fr.fr_inflight));
}

static void
frontctl_kill(void)
{
	if (fr.fr_pidfd != -1 && syscall(SYS_pidfd_send_signal, fr.fr_pidfd,
	    SIGKILL, NULL, 0) == -1 && errno != ESRCH)
		log_warn("%s: pid %d", __func__, (int)fr.fr_pid);
}

/* The front broke the protocol or missed its deadline. */
static void
frontctl_fault(const char *why)
{
	log_warnx("front %d: %s; killing it", (int)fr.fr_pid, why);
	/* Signal first: closing the channel could let it exit "cleanly". */
	frontctl_kill();
	frontctl_detach();
}

/* Write queued answers while the channel has room. */
static void
frontctl_flush(void)
{
	static struct msgbuf	 mb;
	struct fanswer		*fa;

	while ((fa = TAILQ_FIRST(&fr.fr_outq)) != NULL) {
		memcpy(mb.mb_data, fa->fa_data, fa->fa_len);
		mb.mb_len = fa->fa_len;
		mb.mb_overflow = 0;
		if (msg_send(fr.fr_chan, &mb, fa->fa_fd) == -1) {
			if (errno == EAGAIN) {
				ev_io_start(loop, &fr.fr_wev);
				return;
			}
			frontctl_fault("its channel is broken");
			return;
		}
		TAILQ_REMOVE(&fr.fr_outq, fa, fa_entry);
		fr.fr_inflight[fa->fa_kind]--;
		if (fa->fa_fd != -1)
			close(fa->fa_fd);
		free(fa);
	}
	ev_io_stop(loop, &fr.fr_wev);
}

static void
frontctl_write_cb(struct ev_loop *l, ev_io *io, int revents)
{
	frontctl_flush();
}

/*
 * Queue an answer (mb, finished, and fd, which is then ours to close).
 * The question stays in flight until the answer is in the channel: a
 * front that asks and does not read meets its cap instead of our memory.
 */
static int
frontctl_answer(enum front_kind kind, struct msgbuf *mb, int fd)
{
	struct fanswer	*fa;

	if (msg_finish(mb) == -1 ||
	    (fa = malloc(sizeof(*fa) + mb->mb_len)) == NULL) {
		log_warn("%s", __func__);
		if (fd != -1)
			close(fd);
		return -1;
	}
	fa->fa_kind = kind;
	fa->fa_fd = fd;
	fa->fa_len = mb->mb_len;
	memcpy(fa->fa_data, mb->mb_data, mb->mb_len);
	TAILQ_INSERT_TAIL(&fr.fr_outq, fa, fa_entry);
	frontctl_flush();
	return 0;
}

/* One more question of a kind: past the cap it is a protocol break. */
static int
frontctl_inflight(enum front_kind kind)
{
	if (fr.fr_inflight[kind] >= FRONT_INFLIGHT_MAX) {
		log_warnx("front %d: more than %d questions of a kind "
		    "unanswered", (int)fr.fr_pid, FRONT_INFLIGHT_MAX);
		return -1;
	}
	fr.fr_inflight[kind]++;
	return 0;
}

static int
on_ready(struct msg *m, int fd)
{
	if (msg_end(m) == -1)
		return -1;
	fr.fr_state = FS_READY;
	ev_timer_stop(loop, &fr.fr_timer);
	log_debug("front %d ready", (int)fr.fr_pid);
	return 0;
}

/* Its log lines: validated, tagged, rate-limited (pool.c's rule). */
static int
on_log(struct msg *m, int fd)
{
	char		 text[PROTO_LOG_MAX + 1], line[PROTO_LOG_MAX + 64];
	uint32_t	 prio;
	ev_tstamp	 now = ev_now(loop);

	if (msg_get_u32(m, &prio) == -1 ||
	    msg_get_str(m, text, sizeof(text)) == -1 || msg_end(m) == -1 ||
	    prio > LOG_DEBUG)
		return -1;
	if (prio < LOG_ERR)
		prio = LOG_ERR;		/* the front cannot page anyone */
	if (now - fr.fr_logsec >= 1.0) {
		if (fr.fr_loglines > FRONT_LOG_PER_SEC)
			log_warnx("front %d: %u log lines dropped",
			    (int)fr.fr_pid, fr.fr_loglines - FRONT_LOG_PER_SEC);
		fr.fr_logsec = now;
		fr.fr_loglines = 0;
	}
	if (++fr.fr_loglines > FRONT_LOG_PER_SEC ||
	    (prio == LOG_DEBUG && !conf->c_verbose))
		return 0;
	snprintf(line, sizeof(line), "front %d: %s", (int)fr.fr_pid, text);
	log_emit((int)prio, line);
	return 0;
}

static int
on_metrics_want(struct msg *m, int fd)
{
	struct msgbuf	 mb;
	char		*text;
	size_t		 len;
	int		 mfd;

	if (msg_end(m) == -1 || frontctl_inflight(FK_METRICS) == -1)
		return -1;
	/*
	 * Too big for a message: the text goes in a sealed memfd. Out of
	 * memory or descriptors here, the front is restarted rather than
	 * left waiting; the parent goes on either way.
	 */
	if (status_metrics_text(&text, &len) == -1) {
		log_warn("%s: metrics", __func__);
		return -1;
	}
	if (len > FRONT_METRICS_MAX)
		len = FRONT_METRICS_MAX;
	mfd = msg_sealed_create("tenantd-metrics", text, len);
	free(text);
	if (mfd == -1) {
		log_warn("%s: memfd", __func__);
		return -1;
	}
	msg_init(&mb, MSG_FRONT_METRICS, m->m_conn_id);
	msg_put_u64(&mb, len);
	return frontctl_answer(FK_METRICS, &mb, mfd);
}

/*
 * Caddy's on-demand TLS asks before it gets a certificate: yes only for
 * an active tenant's subdomain or an active custom hostname of an active
 * tenant. The answer comes from the route cache (route.c), which the
 * registry generation keeps fresh, so a name asked again costs no
 * registry query; the front also limits how often it asks. The front sends names in
 * canonical form without a port; anything else did not come from an
 * honest front.
 */
static int
on_ask(struct msg *m, int fd)
{
	char			 domain[HOST_NAME_MAX_LEN + 1];
	char			 canon[HOST_NAME_MAX_LEN + 1];
	struct host_result	 hr;
	struct route		 r;
	struct msgbuf		 mb;
	uint32_t		 allowed = 0;
	unsigned int		 port;
	size_t			 len, clen;
	enum host_class		 hc;

	if (msg_get_str(m, domain, sizeof(domain)) == -1 ||
	    msg_end(m) == -1 || frontctl_inflight(FK_ASK) == -1)
		return -1;
	/*
	 * The front's rule, checked again: a name in canonical form, without
	 * a port. Whether it names a tenant is the classifier's question
	 * next; a well-formed name that names none (nested under the suffix,
	 * the apex, the admin host) is a "no", not a protocol break.
	 */
	len = strlen(domain);
	if (host_canonical(domain, len, canon, &clen, &port) == -1 ||
	    port != 0 || clen != len || memcmp(canon, domain, len) != 0) {
		log_warnx("front %d: asked about a name not in canonical "
		    "form", (int)fr.fr_pid);
		return -1;
	}
	hc = host_classify(&conf->c_hosts, domain, len, &hr);
	if ((hc == HOST_SUBDOMAIN || hc == HOST_CUSTOM) && hr.hr_port == 0 &&
	    route_resolve(&hr, &r) == 0 && r.r_status == TENANT_ACTIVE)
		allowed = 1;
	if (allowed)
		log_debug("ask: %s allowed", domain);
	msg_init(&mb, MSG_FRONT_ASK_ANSWER, m->m_conn_id);
	msg_put_u32(&mb, allowed);
	return frontctl_answer(FK_ASK, &mb, -1);
}

/*
 * The states in which each message may arrive. Its fd, conn_id and shape
 * are the schema's (common/msgschema.c), checked by msg_check() first.
 */
#define FST(s)	(1u << (s))
static const struct {
	uint32_t	 type;
	unsigned int	 states;
	int		(*fn)(struct msg *, int);
} front_msgs[] = {
	{ MSG_FRONT_READY, FST(FS_STARTING), on_ready },
	{ MSG_FRONT_LOG, FST(FS_STARTING) | FST(FS_READY), on_log },
	{ MSG_FRONT_METRICS_WANT, FST(FS_READY), on_metrics_want },
	{ MSG_FRONT_ASK, FST(FS_READY), on_ask },
};

static void
frontctl_read(void)
{
	static uint8_t	 buf[PROTO_MSG_MAX];
	struct msg	 m;
	ssize_t		 n;
	size_t		 i;
	int		 fd;

	/* Bounded per wakeup: a chatty front cannot starve the workers. */
	for (int k = 0; k < FRONT_READ_MAX && fr.fr_chan != -1; k++) {
		n = msg_recv(fr.fr_chan, buf, sizeof(buf), &fd);
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == 0 || (n == -1 && errno == ECONNRESET)) {
			/* It exited or closed the channel; reaping follows. */
			frontctl_kill();
			frontctl_detach();
			return;
		}
		if (n == -1) {
			frontctl_fault("unreadable message");
			return;
		}
		if (msg_parse(&m, buf, (size_t)n) == -1) {
			if (fd != -1)
				close(fd);
			frontctl_fault("malformed message");
			return;
		}
		for (i = 0; i < sizeof(front_msgs) / sizeof(front_msgs[0]); i++)
			if (front_msgs[i].type == m.m_type)
				break;
		if (msg_check(&m, fd != -1, CHAN_FRONT, DIR_UP) == -1 ||
		    i == sizeof(front_msgs) / sizeof(front_msgs[0]) ||
		    !(front_msgs[i].states & FST(fr.fr_state)) ||
		    front_msgs[i].fn(&m, fd) == -1) {
			char	 why[96];

			if (fd != -1)
				close(fd);
			snprintf(why, sizeof(why), "unpermitted or malformed "
			    "%s", msg_type_str(m.m_type));
			frontctl_fault(why);
			return;
		}
	}
}

static void
frontctl_read_cb(struct ev_loop *l, ev_io *io, int revents)
{
	frontctl_read();
}

static void
frontctl_timer_cb(struct ev_loop *l, ev_timer *t, int revents)
{
	if (fr.fr_state == FS_NONE)
		frontctl_spawn();
	else if (fr.fr_state == FS_STARTING)
		frontctl_fault("not ready within [workers] start_timeout");
}

/* Restart it: at once, or after its backoff when it keeps dying young. */
static void
frontctl_restart_later(void)
{
	double	 wait;

	wait = fr.fr_failures == 0 ? 0. : backoff_delay(fr.fr_failures - 1,
	    conf->c_backoff_min_ms, conf->c_backoff_max_ms);
	ev_timer_stop(loop, &fr.fr_timer);
	ev_timer_set(&fr.fr_timer, wait, 0.);
	ev_timer_start(loop, &fr.fr_timer);
}

static void
frontctl_child_cb(struct ev_loop *l, ev_child *c, int revents)
{
	enum front_state	 state = fr.fr_state;
	ev_tstamp		 age = ev_now(loop) - fr.fr_started;
	int			 status = c->rstatus, abnormal;
	char			 how[64];

	ev_child_stop(l, c);
	if (fr.fr_pidfd != -1)
		close(fr.fr_pidfd);
	fr.fr_pidfd = -1;
	frontctl_detach();
	fr.fr_state = FS_NONE;
	if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "terminated; signal %d",
		    WTERMSIG(status));
	else
		snprintf(how, sizeof(how), "exited; status %d",
		    WEXITSTATUS(status));
	if (stopping)
		return;
	abnormal = WIFSIGNALED(status) || WEXITSTATUS(status) != 0;
	switch (backoff_on_exit(state == FS_STARTING, abnormal, age,
	    conf->c_crash_window_ms)) {
	case BX_CRASH:
		fr.fr_failures++;
		break;
	case BX_CLEAR:
		fr.fr_failures = 0;
		break;
	case BX_NONE:
		break;
	}
	log_warnx("lost front: pid %d (%s, %.1fs old): %s; restarting in "
	    "%.1fs", (int)fr.fr_pid, state == FS_STARTING ? "starting" :
	    "ready", age, how, fr.fr_failures == 0 ? 0. :
	    backoff_delay(fr.fr_failures - 1, conf->c_backoff_min_ms,
	    conf->c_backoff_max_ms));
	frontctl_restart_later();
}

/*
 * As for a worker (priv.c, spawner.c): /dev/null on 0-2, the channel on
 * fd 3, the listening socket on fd 4, nothing else, no environment,
 * nothing secret in argv. Then FRONT_CFG, which it reads as root before
 * it drops.
 */
static void
frontctl_spawn(void)
{
	char			 ppid[16];
	char			*argv[] = { "tenantd-front", ppid, NULL };
	struct msgbuf		 mb;
	int			 sv[2], rc;
	struct spawn_fd		 fds[] = { { -1, PROTO_CHAN_FD },
				    { listen_fd, PROTO_FRONT_LISTEN_FD } };
	struct spawn		 sp = {
		.sp_path = conf->c_front,
		.sp_argv = argv,
		.sp_stdio = { SPAWN_DEVNULL, SPAWN_DEVNULL, SPAWN_DEVNULL },
		.sp_fds = fds,
		.sp_nfds = 2,
	};
	pid_t			 pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, sv) == -1) {
		log_warn("%s: socketpair", __func__);
		goto later;
	}
	snprintf(ppid, sizeof(ppid), "%d", (int)getpid());
	fds[0].sf_src = sv[1];
	rc = spawn_child(&sp, &pid, &fr.fr_pidfd);
	if (rc == -1)
		log_warn("%s: %s", __func__, conf->c_front);
	else if (fr.fr_pidfd == -1)
		log_warn("%s: pidfd_open", __func__);
	close(sv[1]);
	if (rc == -1) {
		close(sv[0]);
		goto later;
	}
	fr.fr_pid = pid;
	fr.fr_chan = sv[0];
	fr.fr_state = FS_STARTING;
	fr.fr_started = ev_now(loop);
	ev_io_init(&fr.fr_rev, frontctl_read_cb, fr.fr_chan, EV_READ);
	ev_io_init(&fr.fr_wev, frontctl_write_cb, fr.fr_chan, EV_WRITE);
	ev_io_start(loop, &fr.fr_rev);
	ev_child_init(&fr.fr_child, frontctl_child_cb, pid, 0);
	ev_child_start(loop, &fr.fr_child);
	ev_timer_stop(loop, &fr.fr_timer);
	ev_timer_set(&fr.fr_timer, conf->c_start_timeout_ms / 1000.0, 0.);
	ev_timer_start(loop, &fr.fr_timer);

	msg_init(&mb, MSG_FRONT_CFG, 0);
	msg_put_u32(&mb, (uint32_t)front_uid);
	msg_put_u32(&mb, (uint32_t)front_gid);
	msg_put_u32(&mb, conf->c_verbose);
	msg_put_str(&mb, front_root);
	msg_put_str(&mb, front_seccomp);
	msg_put_str(&mb, front_limits);
	msg_put_u32(&mb, conf->c_ask_rate);
	msg_put_str(&mb, metrics_token);
	if (msg_finish(&mb) == -1 || msg_send(fr.fr_chan, &mb, -1) == -1)
		frontctl_fault("cannot send its configuration");
	explicit_bzero(&mb, sizeof(mb));	/* it held the token */
	log_debug("front %d spawned", (int)pid);
	return;
 later:
	fr.fr_failures++;
	frontctl_restart_later();
}

void
frontctl_init(void)
{
	char	 err[512];

	if (conf->c_http_listen[0] == '\0')
		return;
	if (frontctl_check(err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (access(conf->c_front, X_OK) == -1)
		fatal("[paths] front %s", conf->c_front);
	frontctl_policy();
	frontctl_token();
	frontctl_root();
	TAILQ_INIT(&fr.fr_outq);
	ev_timer_init(&fr.fr_timer, frontctl_timer_cb, 0., 0.);
	listen_fd = frontctl_listen_open();
	frontctl_spawn();
	log_info("admin http on %s (/metrics, /ask), served by the front as "
	    "%s", conf->c_http_listen, conf->c_front_user);
}

/* At the daemon's exit: the front goes, and the listener with it. */
void
frontctl_stop(void)
{
	stopping = 1;
	if (listen_fd == -1)
		return;
	ev_timer_stop(loop, &fr.fr_timer);
	if (fr.fr_state != FS_NONE) {
		frontctl_kill();
		frontctl_detach();
		ev_child_stop(loop, &fr.fr_child);
		(void)waitpid(fr.fr_pid, NULL, 0);
		if (fr.fr_pidfd != -1)
			close(fr.fr_pidfd);
		fr.fr_pidfd = -1;
		fr.fr_state = FS_NONE;
	}
	close(listen_fd);
	listen_fd = -1;
}
