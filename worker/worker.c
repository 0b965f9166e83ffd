/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * tenantd-worker main: wait to be bound to a tenant, enter the sandbox,
 * report READY, then serve the connections the supervisor hands over.
 *
 * Descriptors on entry (set up by the supervisor's spawn,
 * docs/architecture.md, section 6):
 *   0, 1, 2   /dev/null
 *   3         SOCK_SEQPACKET control channel to the supervisor
 * Nothing else is open; we close from 4 again anyway in case of a bug there.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>
#include <sodium.h>

#include "cgroup.h"
#include "log.h"
#include "msgdec.h"
#include "proto.h"
#include "sandbox.h"
#include "sys.h"
#include "worker.h"

struct worker_env	*env;
static struct worker_env worker_env;
static ev_io		 chan_ev;
static ev_timer		 stats_ev;
static int		 chan_broken;

/*
 * Send one message to the supervisor. The channel is non-blocking; if its
 * buffer is full we wait for it briefly rather than drop a message (the
 * supervisor always reads its channels), and give up after a second.
 */
static int
chan_send(struct msgbuf *mb, int fd)
{
	struct pollfd	 pfd;

	if (chan_broken || msg_finish(mb) == -1)
		return -1;
	for (;;) {
		if (msg_send(PROTO_CHAN_FD, mb, fd) == 0)
			return 0;
		if (errno != EAGAIN) {
			chan_broken = 1;
			return -1;
		}
		pfd.fd = PROTO_CHAN_FD;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, 1000) <= 0) {
			chan_broken = 1;
			return -1;
		}
	}
}

int
worker_send_msg(struct msgbuf *mb)
{
	return chan_send(mb, -1);
}

int
worker_send(uint32_t type, uint32_t conn_id, const void *data, size_t len,
    int fd, uint32_t a, uint32_t b)
{
	struct msgbuf	 mb;

	msg_init(&mb, type, conn_id);
	if (type == MSG_CONN_HANDBACK) {
		msg_put_u32(&mb, a);
		msg_put_u32(&mb, b);
		msg_put_rest(&mb, data, len);
	} else if (type == MSG_CONN_CLOSED)
		msg_put_u32(&mb, a);
	return chan_send(&mb, fd);
}

/* Workers have no syslog: each log line becomes a MSG_LOG. */
static void
worker_log_sink(int prio, const char *line)
{
	struct msgbuf	 mb;
	size_t		 n = strlen(line);

	msg_init(&mb, MSG_LOG, 0);
	msg_put_u32(&mb, (uint32_t)prio);
	msg_put_strn(&mb, line, n > PROTO_LOG_MAX ? PROTO_LOG_MAX : n);
	chan_send(&mb, -1);
}

void
worker_stats_add(int status, uint64_t bytes, uint64_t lat_us)
{
	size_t	 i;

	if (status >= 100 && status < 600)
		env->we_codes[status]++;
	env->we_bytes += bytes;
	env->we_lat_sum += lat_us;
	for (i = 0; i < STATS_BUCKETS - 1 && lat_us > stats_bounds_us[i]; i++)
		;
	env->we_hist[i]++;
	env->we_stats_dirty = 1;
}

/* Counters since the last report, then zero: the supervisor sums them. */
void
worker_stats_flush(void)
{
	struct msgbuf	 mb;
	uint32_t	 n = 0;
	size_t		 i;

	if (!env->we_stats_dirty)
		return;
	for (i = 100; i < 600; i++)
		if (env->we_codes[i] != 0 && n < STATS_MAX_CODES)
			n++;
	msg_init(&mb, MSG_STATE_STATS, 0);
	msg_put_u32(&mb, n);
	for (i = 100; i < 600 && n > 0; i++)
		if (env->we_codes[i] != 0) {
			msg_put_u32(&mb, (uint32_t)i);
			msg_put_u32(&mb, env->we_codes[i]);
			n--;
		}
	msg_put_u64(&mb, env->we_bytes);
	msg_put_u64(&mb, env->we_lat_sum);
	msg_put_u32(&mb, STATS_BUCKETS);
	for (i = 0; i < STATS_BUCKETS; i++)
		msg_put_u32(&mb, env->we_hist[i]);
	if (chan_send(&mb, -1) == -1)
		return;		/* kept; the next report carries them */
	memset(env->we_codes, 0, sizeof(env->we_codes));
	memset(env->we_hist, 0, sizeof(env->we_hist));
	env->we_bytes = env->we_lat_sum = 0;
	env->we_stats_dirty = 0;
}

static void
stats_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	worker_stats_flush();
	data_usage_flush();
}

/*
 * Drained: no connection left, and the supervisor's CTL_DRAIN read. A
 * worker that retires on its own (max_requests) must wait for it: a
 * CONN_NEW sent before the supervisor read our RETIRING is still in the
 * channel, and exiting would close it with the client's socket in it.
 * The CTL_DRAIN comes after every such CONN_NEW, which we hand back.
 */
void
worker_maybe_exit(void)
{
	if (env->we_draining && env->we_drain_told && env->we_nconns == 0) {
		log_debug("%s: drained, exiting", __func__);
		worker_stats_flush();
		/* Nothing spent may leave unreported (docs/data-plane.md). */
		data_usage_flush();
		kv_close();
		exit(0);
	}
}

void
worker_conn_gone(uint32_t conn_id, uint64_t served)
{
	env->we_nconns--;
	worker_send(MSG_CONN_CLOSED, conn_id, NULL, 0, -1,
	    served > UINT32_MAX ? UINT32_MAX : (uint32_t)served, 0);
	worker_maybe_exit();
}

/*
 * MSG_CFG_HOSTS: the tenant's custom hostnames, one sealed memfd (proto.h).
 * It is read with pread() rather than mapped, so nothing the supervisor
 * does to it later can fault us, and it replaces our list only once all
 * of it decoded under the classifier's rules. A list that does not is a
 * supervisor bug we do not try to survive (the worker trusts its
 * supervisor and dies on nonsense, docs/architecture.md, section 4), never
 * a list we serve part of.
 */
static void
hosts_receive(struct msg *m, int fd)
{
	struct hostlist	 hl;
	uint64_t	 size, hgen;
	uint32_t	 n;
	char		*buf;

	if (msg_get_hosts(m, fd, &n, &size, &hgen) == -1)
		fatalx("%s: bad CFG_HOSTS", __func__);
	if ((buf = msg_sealed_read(fd, (size_t)size)) == NULL)
		fatal("%s: the host list", __func__);
	close(fd);
	if (hostlist_parse(&hl, &env->we_hosts, buf, (size_t)size) == -1)
		fatal("%s: the host list", __func__);
	free(buf);
	if (hl.hl_n != n)
		fatalx("%s: %zu hostnames, %u announced", __func__, hl.hl_n, n);
	hostlist_free(&env->we_names);
	env->we_names = hl;
	env->we_hosts_gen = hgen;
	log_debug("%s: %zu custom hostnames, hosts generation %llu", __func__,
	    hl.hl_n, (unsigned long long)hgen);
}

/* A CFG_TENANT string into the worker's buffer for it, whole or not at all. */
static int
tenant_copy(char *dst, size_t dstsz, const char *src)
{
	size_t	 len = strlen(src);

	if (len >= dstsz)
		return -1;
	memcpy(dst, src, len + 1);
	return 0;
}

/*
 * MSG_CFG_CGROUP: into the tenant's worker cgroup, ourselves ("0"), while
 * still root and of one thread, before the tenant's first byte is read:
 * everything the tenant makes us allocate from here on is charged there.
 * A move the kernel refuses costs us the cgroup, not the tenant its
 * worker: the rlimits still bound us (docs/security.md, row 41).
 */
static void
worker_cgroup(struct msg *m, int fd)
{
	char	 err[128];

	if (msg_end(m) == -1)
		fatalx("%s: bad CFG_CGROUP", __func__);
	if (cgroup_join(fd, err, sizeof(err)) == -1)
		log_warnx("worker runs without its cgroup: %s", err);
	close(fd);
}

/*
 * The configuration phase, the first of a two-phase start: configured,
 * then sandboxed, only then READY and routable (docs/architecture.md,
 * section 5). CFG_TENANT once, then any number of CFG_LIMIT and CFG_KEY,
 * exactly one CFG_DATA and one CFG_HOSTS, then CFG_DONE.
 * Anything else from the supervisor is a bug we do not try to survive (the
 * worker trusts its supervisor and dies on nonsense, docs/architecture.md,
 * section 4).
 */
static void
worker_configure(struct sandbox_params *sp, char *genpath, size_t genpathsz)
{
	static uint8_t			 buf[PROTO_MSG_MAX];
	static struct msg_tenant	 mt;
	struct msg			 m;
	ssize_t				 n;
	int				 fd, have_tenant = 0, have_data = 0;
	int				 have_hosts = 0;
	uint32_t			 res;
	uint64_t			 val;

	for (;;) {
		n = msg_recv_wait(PROTO_CHAN_FD, buf, sizeof(buf), &fd);
		if (n == 0)
			exit(0);	/* supervisor gone before binding */
		if (n == -1)
			fatal("%s: recv", __func__);
		/* The schema first: the decoders below meet only its shapes. */
		if (msg_parse(&m, buf, (size_t)n) == -1 ||
		    msg_check(&m, fd != -1, CHAN_WORKER, DIR_DOWN) == -1)
			fatalx("%s: malformed message", __func__);
		if (!have_tenant && m.m_type != MSG_CFG_TENANT)
			fatalx("%s: %s before CFG_TENANT", __func__,
			    msg_type_str(m.m_type));
		switch (m.m_type) {
		case MSG_CFG_TENANT:
			if (have_tenant++)
				fatalx("%s: CFG_TENANT twice", __func__);
			if (msg_get_tenant(&m, &mt) == -1 ||
			    tenant_copy(env->we_slug, sizeof(env->we_slug),
			    mt.mt_slug) == -1 ||
			    tenant_copy(sp->sp_root, sizeof(sp->sp_root),
			    mt.mt_root) == -1 ||
			    tenant_copy(sp->sp_policy, sizeof(sp->sp_policy),
			    mt.mt_policy) == -1 ||
			    tenant_copy(genpath, genpathsz,
			    mt.mt_genpath) == -1)
				fatalx("%s: bad CFG_TENANT", __func__);
			env->we_tenant_id = mt.mt_id;
			sp->sp_uid = mt.mt_uid;
			sp->sp_gid = mt.mt_gid;
			env->we_head_max = mt.mt_head_max;
			env->we_target_max = mt.mt_target_max;
			env->we_max_conns = mt.mt_conns;
			env->we_max_requests = mt.mt_max_requests;
			env->we_header_timeout_ms = mt.mt_header_timeout_ms;
			env->we_keepalive_timeout_ms =
			    mt.mt_keepalive_timeout_ms;
			if (mt.mt_verbose != 0)
				log_setverbose(1);
			if (env->we_head_max < 1024 ||
			    env->we_head_max > PROTO_MSG_MAX - 64 ||
			    env->we_target_max >= env->we_head_max)
				fatalx("%s: bad head limits", __func__);
			if (host_conf_init(&env->we_hosts, mt.mt_suffix,
			    mt.mt_admin) == -1)
				fatalx("%s: bad suffix or admin host",
				    __func__);
			log_procinit(env->we_slug);
			break;
		case MSG_CFG_LIMIT:
			if (msg_get_u32(&m, &res) == -1 ||
			    msg_get_u64(&m, &val) == -1 || msg_end(&m) == -1 ||
			    sp->sp_limits.l_n == POLICY_MAX_LIMITS)
				fatalx("%s: bad CFG_LIMIT", __func__);
			sp->sp_limits.l_ent[sp->sp_limits.l_n].pl_resource =
			    (int)res;
			sp->sp_limits.l_ent[sp->sp_limits.l_n].pl_value =
			    (rlim_t)val;
			sp->sp_limits.l_n++;
			break;
		case MSG_CFG_HOSTS:
			/* After CFG_TENANT: the names are checked under it. */
			if (have_hosts++)
				fatalx("%s: CFG_HOSTS twice", __func__);
			hosts_receive(&m, fd);
			break;
		case MSG_CFG_KEY:
			data_cfg_key(&m);
			/* Only the verifier was kept; not a copy here. */
			sodium_memzero(buf, (size_t)n);
			break;
		case MSG_CFG_DATA:
			if (have_data++)
				fatalx("%s: CFG_DATA twice", __func__);
			data_apply(data_cfg_data(&m));
			break;
		case MSG_CFG_CGROUP:
			worker_cgroup(&m, fd);
			break;
		case MSG_CFG_DONE:
			if (msg_get_u64(&m, &env->we_gen) == -1 ||
			    msg_end(&m) == -1 || !have_hosts)
				fatalx("%s: bad CFG_DONE", __func__);
			data_config_done();
			return;
		default:
			fatalx("%s: unexpected %s", __func__,
			    msg_type_str(m.m_type));
		}
	}
}

/* After READY: connections, host-list updates, drain. */
static void
chan_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	static uint8_t	 buf[PROTO_MSG_MAX];
	struct msg	 m;
	const uint8_t	*data;
	size_t		 len;
	ssize_t		 n;
	int		 fd;
	uint32_t	 mode;

	for (;;) {
		n = msg_recv(PROTO_CHAN_FD, buf, sizeof(buf), &fd);
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == 0) {
			log_debug("%s: supervisor closed the channel",
			    __func__);
			exit(0);
		}
		if (n == -1)
			fatal("%s: recv", __func__);
		/* The schema first: the decoders below meet only its shapes. */
		if (msg_parse(&m, buf, (size_t)n) == -1 ||
		    msg_check(&m, fd != -1, CHAN_WORKER, DIR_DOWN) == -1)
			fatalx("%s: malformed message", __func__);
		switch (m.m_type) {
		case MSG_CONN_NEW:
			msg_get_rest(&m, &data, &len);
			if (len > env->we_head_max || m.m_conn_id == 0 ||
			    env->we_nconns >= env->we_max_conns)
				fatalx("%s: bad CONN_NEW", __func__);
			env->we_nconns++;
			if (env->we_draining) {
				/* Raced with our RETIRING: give it back. */
				worker_send(MSG_CONN_HANDBACK, m.m_conn_id,
				    data, len, fd, HANDBACK_DRAINING, 0);
				close(fd);
				env->we_nconns--;
				worker_maybe_exit();
				break;
			}
			http_conn_new(m.m_conn_id, fd, data, len);
			break;
		case MSG_CFG_HOSTS:
			hosts_receive(&m, fd);
			break;
		case MSG_CFG_DONE:
			/*
			 * After the list it belongs to, if any: until then a
			 * request finds the generation stale and goes back to
			 * the supervisor, never to the old list.
			 */
			if (msg_get_u64(&m, &env->we_gen) == -1 ||
			    msg_end(&m) == -1)
				fatalx("%s: bad CFG_DONE", __func__);
			log_debug("%s: current as of generation %llu", __func__,
			    (unsigned long long)env->we_gen);
			break;
		case MSG_CTL_PING:
			/* The supervisor's watchdog: we are reading. */
			if (msg_end(&m) == -1)
				fatalx("%s: bad CTL_PING", __func__);
			worker_send(MSG_STATE_PONG, 0, NULL, 0, -1, 0, 0);
			break;
		case MSG_CTL_DRAIN:
			if (msg_get_u32(&m, &mode) == -1 || msg_end(&m) == -1 ||
			    (mode != DRAIN_HANDBACK && mode != DRAIN_CLOSE))
				fatalx("%s: bad CTL_DRAIN", __func__);
			/* A stop overrides a retirement already under way. */
			if (env->we_draining != DRAIN_CLOSE)
				env->we_draining = (int)mode;
			env->we_drain_told = 1;
			data_usage_flush();
			http_drain();
			worker_maybe_exit();
			break;
		case MSG_CFG_DATA:
			data_apply(data_cfg_data(&m));
			break;
		case MSG_CTL_CREDIT:
			data_ctl_credit(&m);
			break;
		case MSG_RUN_STARTED:
			cgi_msg_started(&m, fd);
			break;
		case MSG_RUN_FAILED:
			cgi_msg_failed(&m);
			break;
		default:
			fatalx("%s: unexpected %s", __func__,
			    msg_type_str(m.m_type));
		}
		/* A request may carry a token: no copy stays here. */
		if (m.m_type == MSG_CONN_NEW)
			explicit_bzero(buf, (size_t)n);
	}
}

static void
worker_check_channel(void)
{
	struct stat	 st;
	int		 type;
	socklen_t	 sl = sizeof(type);

	if (fstat(PROTO_CHAN_FD, &st) == -1 || !S_ISSOCK(st.st_mode) ||
	    getsockopt(PROTO_CHAN_FD, SOL_SOCKET, SO_TYPE, &type, &sl) == -1 ||
	    type != SOCK_SEQPACKET) {
		/* Not started by tenantd: nobody to tell but stderr. */
		fprintf(stderr, "tenantd-worker: fd %d is not a control "
		    "channel; this program is started by tenantd\n",
		    PROTO_CHAN_FD);
		exit(2);
	}
}

int
main(int argc, char *argv[])
{
	struct sandbox_params	 sp;
	struct sandbox		 sb;
	struct sigaction	 sa;
	char			 err[512], genpath[PATH_MAX];
	pid_t			 parent;
	char			*ep;

	if (argc != 2 || (parent = (pid_t)strtol(argv[1], &ep, 10)) <= 1 ||
	    *ep != '\0') {
		fprintf(stderr, "usage: tenantd-worker supervisor-pid\n");
		return 2;
	}
	worker_check_channel();
	log_init(0, 0);
	log_procinit("worker");
	log_setsink(worker_log_sink);

	/* Defensive: the spawn already closed everything above the channel. */
	if (closefrom_safe(PROTO_MIN_FREE_FD) == -1)
		fatal("closefrom");
	/*
	 * An unbound spare is still root: it must not outlive the supervisor
	 * either. sandbox_enter() arms this again after the uid change,
	 * which clears it.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1)
		fatal("PR_SET_PDEATHSIG");
	if (getppid() != parent)
		exit(0);
	/*
	 * A client gone mid-response must cost an EPIPE, not the worker; a
	 * file at its RLIMIT_FSIZE (a full access log) must cost an EFBIG,
	 * not a SIGXFSZ death at every request after every restart.
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1 ||
	    sigaction(SIGXFSZ, &sa, NULL) == -1)
		fatal("sigaction");
	/*
	 * We inherit the supervisor's low OOM score; a worker is what the
	 * OOM killer should take first (docs/security.md, item 41).
	 */
	if (oom_score_set("500") == -1)
		log_debug("oom_score_adj: %s", strerror(errno));

	env = &worker_env;
	memset(env, 0, sizeof(*env));
	TAILQ_INIT(&env->we_conns);
	env->we_public_fd = env->we_log_fd = -1;
	memset(&sp, 0, sizeof(sp));
	sp.sp_parent = parent;
	worker_configure(&sp, genpath, sizeof(genpath));

	/* Everything that reads host files happens before the sandbox. */
	/* Only our tenant's slot: another's changes are not ours to see. */
	if (gen_map_slot(&env->we_genmap, genpath, env->we_tenant_id) == -1)
		fatal("%s", genpath);
	if (sandbox_prepare(&sb, &sp, err, sizeof(err)) == -1)
		fatalx("sandbox: %s", err);
	/*
	 * These read /dev/urandom or need calls the policy does not allow,
	 * so they run before the sandbox: libsodium and jansson (its hash
	 * seed, read on the first JSON object otherwise) seed themselves,
	 * and SQLite's unix VFS gets its open routed through openat2 (kv.c).
	 */
	if (sodium_init() == -1)
		fatalx("sodium_init failed");
	json_object_seed(0);
	kv_init(sp.sp_uid);
	/*
	 * poll, not epoll: a connection we hand back stays open in the
	 * supervisor, and an epoll set keeps watching the open file after we
	 * close our descriptor. libev answers such stray events by creating a
	 * new epoll set, which the sandbox (rightly) does not allow. poll keeps
	 * no state in the kernel, and a worker holds few descriptors.
	 */
	if ((env->we_loop = ev_loop_new(EVBACKEND_POLL | EVFLAG_NOENV)) ==
	    NULL)
		fatalx("ev_loop_new failed");
	if (sandbox_enter(&sb, &sp, err, sizeof(err)) == -1)
		fatalx("sandbox: %s", err);

	/*
	 * From here on we are the tenant: its files are opened with its own
	 * permissions, and openat2 keeps every lookup below the jail root
	 * with no symlink followed.
	 */
	env->we_public_fd = open_beneath(AT_FDCWD, "public",
	    O_PATH | O_DIRECTORY, 0);
	if (env->we_public_fd == -1)
		log_warn("public/");
	env->we_log_fd = open_beneath(AT_FDCWD, "logs/access.log",
	    O_WRONLY | O_APPEND | O_CREAT, 0640);
	if (env->we_log_fd == -1)
		log_warn("logs/access.log");

	ev_io_init(&chan_ev, chan_cb, PROTO_CHAN_FD, EV_READ);
	ev_io_start(env->we_loop, &chan_ev);
	ev_timer_init(&stats_ev, stats_timer_cb, 1., 1.);
	ev_timer_start(env->we_loop, &stats_ev);
	if (worker_send(MSG_STATE_READY, 0, NULL, 0, -1, 0, 0) == -1)
		fatal("send READY");
	log_debug("ready: uid %u gid %u", sp.sp_uid, sp.sp_gid);
	ev_run(env->we_loop, 0);
	return 0;
}
