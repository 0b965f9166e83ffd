/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The root half's share of tenant code (docs/tenant-code.md): starting a
 * request's handler through tenantd-run, and making sure it ends. A worker
 * asks for a run; we give the tenant's spare tenantd-run (exec'd with the
 * spec on its fd 3, and since then sandboxed and waiting as the tenant)
 * the program, its environment and the handler's stdio, and give the
 * worker the other end of that stdio. Then another spare is started, so
 * the tenant's next request waits only for a fork and an exec: building
 * a run costs several times what its handler does, and beside a busy
 * neighbour every millisecond of it is one more chance to wait a whole
 * scheduler tick. We kill the run when the worker gives up on it, when
 * the worker dies, and on our own at handler_timeout plus a grace second,
 * so a handler never outlives its limit even if its worker misbehaves.
 * tenantd-run makes the handler PID 1's child in its own PID namespace:
 * killing tenantd-run ends every process the handler started.
 */
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <linux/nsfs.h>

#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "msgdec.h"
#include "policy.h"
#include "proto.h"
#include "registry.h"
#include "runlog.h"
#include "spawner.h"
#include "supervisor.h"
#include "sys.h"

#define RUN_GRACE	1.0	/* seconds past handler_timeout before we kill */
#define MADE_OF_LEN	32	/* the digest, the tenant directory's ids */

/*
 * Our end of a tenantd-run's spec socket while it runs: a sandbox the run
 * builds is reported there, early (before its program starts), and read
 * as soon as it comes, so the tenant's next run can join it.
 */
struct spec_watch {
	ev_io		 sw_io;
	int64_t		 sw_tenant;
	uint64_t	 sw_gen;	/* sandbox_gen when the run started */
	unsigned int	 sw_reports;
};

static void	spec_watch_start(struct spec_watch *, int64_t, int);
static void	spec_watch_end(struct spec_watch *);
static void	spare_wanted(int64_t, int);

struct run {
	TAILQ_ENTRY(run) r_entry;
	struct worker	*r_worker;	/* NULL once the worker is gone */
	uint32_t	 r_id;
	enum {
		RUN_TAKEN,		/* a request's */
		RUN_SPARE,		/* started ahead, no request yet */
		RUN_SPARE_DROPPED,	/* killed unused, not yet reaped */
	}		 r_state;
	int		 r_want_spare;	/* start one once the sandbox is kept */
	int64_t		 r_tenant;
	uid_t		 r_uid;		/* what the spare was made for */
	gid_t		 r_gid;
	int		 r_network;
	uint64_t	 r_policy_gen;
	unsigned char	 r_made_of[MADE_OF_LEN];	/* sandbox_made_of() */
	ev_tstamp	 r_made;
	pid_t		 r_pid;
	int		 r_pidfd;
	struct spec_watch r_spec;
	struct runlog	 r_log;
	char		 r_what[SLUG_MAX_LEN + RUN_NAME_MAX + 8];
	ev_child	 r_child;
	ev_timer	 r_timer;
};
static TAILQ_HEAD(, run) runs = TAILQ_HEAD_INITIALIZER(runs);
/*
 * Counts reloads: a spare made under the policy files before one is not
 * taken (they are read when it starts), only killed.
 */
static uint64_t policy_gen;

static void
run_kill(struct run *r, const char *why)
{
	if (r->r_pidfd == -1)
		return;
	log_debug("run %s (pid %d): killing: %s", r->r_what, (int)r->r_pid,
	    why);
	if (syscall(SYS_pidfd_send_signal, r->r_pidfd, SIGKILL, NULL, 0) ==
	    -1 && errno != ESRCH)
		log_warn("%s: pid %d", __func__, (int)r->r_pid);
}

/* A spare killed unused: never taken, nor found again, until reaped. */
static void
spare_drop(struct run *r, const char *why)
{
	run_kill(r, why);
	r->r_state = RUN_SPARE_DROPPED;
}

static void
run_timer_cb(struct ev_loop *l, ev_timer *t, int revents)
{
	struct run	*r = t->data;

	log_info("run %s (pid %d) past its handler_timeout: killed",
	    r->r_what, (int)r->r_pid);
	run_kill(r, "timeout");
}

static void
run_child_cb(struct ev_loop *l, ev_child *c, int revents)
{
	struct run	*r = c->data;
	int		 st = c->rstatus;

	ev_child_stop(l, c);
	ev_timer_stop(l, &r->r_timer);
	if (WIFSIGNALED(st))
		log_debug("run %s (pid %d) ended by signal %d", r->r_what,
		    (int)r->r_pid, WTERMSIG(st));
	else
		log_debug("run %s (pid %d) exited %d", r->r_what,
		    (int)r->r_pid, WEXITSTATUS(st));
	if (r->r_pidfd != -1)
		close(r->r_pidfd);
	spec_watch_end(&r->r_spec);
	runlog_end(&r->r_log);
	/* It built no sandbox to keep (yet): the spare builds its own. */
	if (r->r_want_spare)
		spare_wanted(r->r_tenant, 1);
	TAILQ_REMOVE(&runs, r, r_entry);
	free(r);
}

static struct run *
run_find(const struct worker *w, uint32_t id)
{
	struct run	*r;

	TAILQ_FOREACH(r, &runs, r_entry)
		if (r->r_state == RUN_TAKEN && r->r_worker == w &&
		    r->r_id == id)
			return r;
	return NULL;
}

unsigned int
priv_runs_of(const struct worker *w)
{
	struct run	*r;
	unsigned int	 n = 0;

	TAILQ_FOREACH(r, &runs, r_entry)
		if (r->r_state == RUN_TAKEN && r->r_worker == w)
			n++;
	return n;
}

int
priv_run_known(const struct worker *w, uint32_t id)
{
	return run_find(w, id) != NULL;
}

/* The worker gave up on this run (its own timeout, or the client left). */
void
priv_run_kill(const struct worker *w, uint32_t id)
{
	struct run	*r;

	if ((r = run_find(w, id)) != NULL)
		run_kill(r, "the worker gave up");
}

/* The worker is gone: none of its runs has anyone to answer. */
void
priv_runs_orphan(const struct worker *w)
{
	struct run	*r;

	TAILQ_FOREACH(r, &runs, r_entry)
		if (r->r_state == RUN_TAKEN && r->r_worker == w) {
			run_kill(r, "its worker is gone");
			r->r_worker = NULL;
		}
}

void
priv_runs_kill_all(void)
{
	struct run	*r;

	TAILQ_FOREACH(r, &runs, r_entry)
		run_kill(r, "tenantd is stopping");
}

/*
 * Tenants' sandboxes, kept between runs (runner/jail.c, jail_sandbox):
 * the mount namespace, and the network namespace unless the tenant has
 * the host's, that a tenantd-run built and reported, with the stamp it
 * built them under. Ours to hold, so they end with us, even on SIGKILL:
 * nothing is mounted anywhere to keep them. The next run of the tenant
 * gets them on its fds 5 and 6 and joins them if the stamp still holds.
 */
struct sandbox {
	TAILQ_ENTRY(sandbox) s_entry;
	int64_t		 s_tenant;
	int		 s_mntfd;
	int		 s_netfd;	/* -1: none reported (yet) */
	ev_tstamp	 s_used;	/* made, or last passed to a run */
	char		 s_stamp[PROTO_STR_MAX + 1];
};
static TAILQ_HEAD(, sandbox) sandboxes = TAILQ_HEAD_INITIALIZER(sandboxes);
/*
 * Counts the drops: a run started before one may still report the
 * sandbox it built for a tenant since suspended or deleted, and that
 * report must not bring it back.
 */
static uint64_t sandbox_gen;

/*
 * A sandbox unused for [workers] sandbox_idle is dropped, as an idle app
 * is stopped: an idle tenant holds no namespace and no /tmp in memory;
 * and a spare run as old is killed, so it holds no processes either.
 */
static ev_timer sandbox_timer;
static void	sweep_arm(void);

/* Seconds between looks: a quarter of sandbox_idle, at most 30. */
static ev_tstamp
sandbox_sweep_every(void)
{
	ev_tstamp	 t = conf->c_sandbox_idle_ms / 4000.0;

	return t > 30.0 ? 30.0 : t;
}

/* Is the tenant still active in the registry, now? */
static int
tenant_active(int64_t tenant)
{
	struct tenant	 t;

	return registry_tenant_by_id(priv_registry(), tenant, &t) == REG_OK &&
	    t.t_status == TENANT_ACTIVE;
}

static struct sandbox *
sandbox_find(int64_t tenant)
{
	struct sandbox	*s;

	TAILQ_FOREACH(s, &sandboxes, s_entry)
		if (s->s_tenant == tenant)
			return s;
	return NULL;
}

/* The tenant's sandbox if it is whole: with its network one if needed. */
static struct sandbox *
sandbox_whole(int64_t tenant, int network)
{
	struct sandbox	*s;

	if ((s = sandbox_find(tenant)) != NULL && !network && s->s_netfd == -1)
		return NULL;
	return s;
}

static void
sandbox_free(struct sandbox *s)
{
	TAILQ_REMOVE(&sandboxes, s, s_entry);
	close(s->s_mntfd);
	if (s->s_netfd != -1)
		close(s->s_netfd);
	free(s);
}

static int
spares_exist(void)
{
	struct run	*r;

	TAILQ_FOREACH(r, &runs, r_entry)
		if (r->r_state == RUN_SPARE)
			return 1;
	return 0;
}

static void
sandbox_sweep_cb(struct ev_loop *l, ev_timer *tm, int revents)
{
	struct sandbox	*s, *tmp;
	struct run	*r;
	ev_tstamp	 idle = conf->c_sandbox_idle_ms / 1000.0;

	for (s = TAILQ_FIRST(&sandboxes); s != NULL; s = tmp) {
		tmp = TAILQ_NEXT(s, s_entry);
		if (ev_now(l) - s->s_used >= idle) {
			log_debug("sandbox of tenant %lld: idle, dropped",
			    (long long)s->s_tenant);
			sandbox_free(s);
		}
	}
	TAILQ_FOREACH(r, &runs, r_entry)
		if (r->r_state == RUN_SPARE && ev_now(l) - r->r_made >= idle)
			spare_drop(r, "idle");
	if (TAILQ_EMPTY(&sandboxes) && !spares_exist())
		ev_timer_stop(l, tm);
	else {
		tm->repeat = sandbox_sweep_every();	/* sandbox_idle is live */
		ev_timer_again(l, tm);
	}
}

/* Sweeping from now on, if not yet: a sandbox or a spare was made. */
static void
sweep_arm(void)
{
	if (!ev_is_active(&sandbox_timer)) {
		ev_timer_init(&sandbox_timer, sandbox_sweep_cb,
		    sandbox_sweep_every(), sandbox_sweep_every());
		ev_timer_start(loop, &sandbox_timer);
	}
}

/*
 * What a tenantd-run of `tenant` reported on its spec socket: a mount
 * namespace starts a new sandbox (replacing the one it was built instead
 * of), a network namespace under the same stamp completes it.
 * 0: nothing more for now; -1: nothing more ever (EOF, an error, a bad
 * report, or both reports in), stop watching.
 */
static int
sandbox_collect(struct spec_watch *sw, int sock)
{
	static uint8_t			 buf[PROTO_MSG_MAX];
	static struct msg_sandbox	 ms;
	struct sandbox			*s;
	struct msg			 m;
	ssize_t				 n;
	int				 fd;

	while (sw->sw_reports < 2) {
		if ((n = msg_recv(sock, buf, sizeof(buf), &fd)) == -1 &&
		    (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return -1;
		sw->sw_reports++;
		if (msg_parse(&m, buf, (size_t)n) == -1 ||
		    msg_check(&m, fd != -1, CHAN_RUNNER, DIR_UP) == -1 ||
		    msg_get_sandbox(&m, &ms) == -1 ||
		    ioctl(fd, NS_GET_NSTYPE) != (int)ms.ms_nstype) {
			log_warnx("tenantd-run: bad sandbox report");
			if (fd != -1)
				close(fd);
			return -1;
		}
		/* Built for a tenant dropped meanwhile: not kept. */
		if (sw->sw_gen != sandbox_gen || !tenant_active(sw->sw_tenant)) {
			close(fd);
			continue;
		}
		s = sandbox_find(sw->sw_tenant);
		if (ms.ms_nstype == CLONE_NEWNS) {
			if (s != NULL)
				sandbox_free(s);
			if ((s = calloc(1, sizeof(*s))) == NULL) {
				close(fd);
				return -1;
			}
			s->s_tenant = sw->sw_tenant;
			s->s_mntfd = fd;
			s->s_netfd = -1;
			s->s_used = ev_now(loop);
			memcpy(s->s_stamp, ms.ms_stamp, sizeof(s->s_stamp));
			TAILQ_INSERT_TAIL(&sandboxes, s, s_entry);
			sweep_arm();
		} else if (ms.ms_nstype == CLONE_NEWNET && s != NULL &&
		    s->s_netfd == -1 && strcmp(s->s_stamp, ms.ms_stamp) == 0)
			s->s_netfd = fd;
		else
			close(fd);
		spare_wanted(sw->sw_tenant, 0);
	}
	return -1;
}

static void
spec_read_cb(struct ev_loop *l, ev_io *w, int revents)
{
	if (sandbox_collect(w->data, w->fd) == -1)
		ev_io_stop(l, w);
}

static void
spec_watch_start(struct spec_watch *sw, int64_t tenant, int fd)
{
	sw->sw_tenant = tenant;
	sw->sw_gen = sandbox_gen;
	sw->sw_reports = 0;
	ev_io_init(&sw->sw_io, spec_read_cb, fd, EV_READ);
	sw->sw_io.data = sw;
	ev_io_start(loop, &sw->sw_io);
}

/* The run has ended: what it sent last, then the socket goes. */
static void
spec_watch_end(struct spec_watch *sw)
{
	if (sw->sw_io.fd == -1)
		return;
	if (ev_is_active(&sw->sw_io)) {
		(void)sandbox_collect(sw, sw->sw_io.fd);
		ev_io_stop(loop, &sw->sw_io);
	}
	close(sw->sw_io.fd);
	sw->sw_io.fd = -1;
}

/*
 * Exec tenantd-run for tenant t, with the spec on its fd 3 (RUN_SPEC_
 * PERSISTENT in `flags` for an app) and a pipe to `rl` on its fd 2. It
 * prepares the run and waits for run_go(). Returns the pid with *pidfd
 * set, *specfd: our end of the spec socket, for spec_watch_start() and
 * run_go(), and rl watched until runlog_end(); or -1.
 */
static pid_t
runner_spawn(const struct tenant *t, int network, uint32_t flags,
    int *pidfd, int *specfd, struct runlog *rl)
{
	struct sandbox			*s;
	struct msgbuf			 mb;
	struct msg_hdr			 h;
	char				*argv[] = { "tenantd-run", NULL };
	char				 dir[PATH_MAX];
	int				 spec[2] = { -1, -1 };
	int				 err[2] = { -1, -1 };
	struct spawn_fd			 fds[3];
	struct spawn			 sp = {
		.sp_path = conf->c_runner,
		.sp_argv = argv,
		.sp_stdio = { SPAWN_DEVNULL, SPAWN_DEVNULL, SPAWN_DEVNULL },
		.sp_fds = fds,
	};
	size_t				 i, nfds = 0;
	pid_t				 pid = -1;

	*pidfd = *specfd = rl->rl_io.fd = -1;
	/* A sandbox is passed only whole. */
	if ((s = sandbox_whole(t->t_id, network)) != NULL) {
		flags |= RUN_SPEC_SANDBOX;
		s->s_used = ev_now(loop);
	}
	snprintf(dir, sizeof(dir), "%s/tenants/%s", conf->c_state_dir,
	    t->t_slug);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, spec) == -1) {
		log_warn("%s: socketpair", __func__);
		goto out;
	}
	/* Ours non-blocking: the loop reads it (runlog_cb). */
	if (pipe2(err, O_CLOEXEC) == -1 ||
	    fcntl(err[0], F_SETFL, O_NONBLOCK) == -1) {
		log_warn("%s: pipe", __func__);
		goto out;
	}
	/*
	 * The spec goes out first: the socket holds it until tenantd-run
	 * reads it, and a spec that does not fit is refused before any
	 * process exists.
	 */
	msg_init(&mb, MSG_RUN_SPEC, 0);
	memcpy(&h, mb.mb_data, sizeof(h));
	h.flags = flags;
	memcpy(mb.mb_data, &h, sizeof(h));
	msg_put_u32(&mb, t->t_uid);
	msg_put_u32(&mb, t->t_gid);
	msg_put_u32(&mb, network != 0);
	msg_put_str(&mb, dir);
	msg_put_str(&mb, conf->c_policy_dir);
	msg_put_str(&mb, t->t_slug);
	msg_put_str(&mb, s != NULL ? s->s_stamp : "");
	if (msg_finish(&mb) == -1 || msg_send(spec[0], &mb, -1) == -1) {
		log_warn("%s: spec", __func__);
		goto out;
	}

	/*
	 * As for a worker (spawner.c). Never our stderr: tenantd-run's
	 * failures reach our log through runlog_line() only, escaped and
	 * tagged. Nothing of ours above what the spec announces (fd 4 is
	 * unused).
	 */
	sp.sp_stdio[2] = err[1];
	fds[nfds].sf_src = spec[1];
	fds[nfds++].sf_dst = PROTO_CHAN_FD;
	if (s != NULL) {
		fds[nfds].sf_src = s->s_mntfd;
		fds[nfds++].sf_dst = PROTO_RUN_MNTNS_FD;
		if (!network) {
			fds[nfds].sf_src = s->s_netfd;
			fds[nfds++].sf_dst = PROTO_RUN_NETNS_FD;
		}
	}
	sp.sp_nfds = nfds;
	if (spawn_child(&sp, &pid, pidfd) == -1) {
		log_warn("%s: %s", __func__, conf->c_runner);
		goto out;
	}
	if (*pidfd == -1)
		log_warn("%s: pidfd_open", __func__);
	/* Kept: run_go() goes there, and a sandbox built is reported. */
	*specfd = spec[0];
	spec[0] = -1;
	runlog_start(rl, t->t_id, t->t_slug, err[0]);
	err[0] = -1;
out:
	for (i = 0; i < 2; i++) {
		if (spec[i] != -1)
			close(spec[i]);
		if (err[i] != -1)
			close(err[i]);
	}
	return pid;
}

/* The request for a prepared run: its program, environment and fd. */
static int
run_go(int specfd, const char *prog, char *const env[], size_t nenv,
    int fd)
{
	struct msgbuf	 mb;
	size_t		 i;

	msg_init(&mb, MSG_RUN_GO, 0);
	msg_put_str(&mb, prog);
	msg_put_u32(&mb, (uint32_t)nenv);
	for (i = 0; i < nenv; i++)
		msg_put_str(&mb, env[i]);
	if (msg_finish(&mb) == -1 || msg_send(specfd, &mb, fd) == -1) {
		log_warn("%s", __func__);
		return -1;
	}
	return 0;
}

/*
 * What tenant t's sandbox would be made of now (mounts_digest(), with the
 * tenant directory's own identity): a spare prepared before a host file
 * was replaced by rename, a path appeared, or the mounts file or the
 * tenant's directories changed, is not taken. tenantd-run checks the same
 * for a kept sandbox when it starts; a spare started before the change
 * needs this second look. All zeroes if anything cannot be read: that
 * spare then fails when it starts, or is replaced.
 */
static void
sandbox_made_of(const struct tenant *t, unsigned char out[MADE_OF_LEN])
{
	static char	 text[POLICY_FILE_MAX];
	static struct mounts m;
	struct stat	 st;
	uint64_t	 id[2];
	char		 path[PATH_MAX], err[512];
	ssize_t		 len;
	int		 fd = -1;

	memset(out, 0, MADE_OF_LEN);
	snprintf(path, sizeof(path), "%s/%s", conf->c_policy_dir,
	    RUN_MOUNTS_FILE);
	if ((len = policy_file_read(path, text, sizeof(text), err,
	    sizeof(err))) == -1 || mounts_parse(text, (size_t)len, &m, err,
	    sizeof(err)) == -1)
		return;
	snprintf(path, sizeof(path), "%s/tenants/%s", conf->c_state_dir,
	    t->t_slug);
	if ((fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || fstat(fd, &st) == -1) {
		if (fd != -1)
			close(fd);
		return;
	}
	mounts_digest(text, (size_t)len, &m, fd, out);
	close(fd);
	/* A tenant made again under the same slug is another directory. */
	id[0] = (uint64_t)st.st_dev;
	id[1] = (uint64_t)st.st_ino;
	memcpy(out + 16, id, sizeof(id));
}

/*
 * A spare for tenant t: a run started before its request. It waits
 * (sandboxed, as the tenant, in the tenant's cgroup) until priv_run()
 * takes it, until [workers] sandbox_idle passes unused, or until the
 * tenant or the policy changes (spares_drop()). One per tenant.
 */
static struct run *
spare_start(const struct tenant *t, int network)
{
	struct run	*r;
	int		 specfd;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	/* Before the spawn: a change while it starts is seen when taken. */
	sandbox_made_of(t, r->r_made_of);
	if ((r->r_pid = runner_spawn(t, network, 0, &r->r_pidfd,
	    &specfd, &r->r_log)) == -1) {
		free(r);
		return NULL;
	}
	r->r_state = RUN_SPARE;
	r->r_tenant = t->t_id;
	r->r_uid = t->t_uid;
	r->r_gid = t->t_gid;
	r->r_network = network != 0;
	r->r_policy_gen = policy_gen;
	r->r_made = ev_now(loop);
	spec_watch_start(&r->r_spec, t->t_id, specfd);
	snprintf(r->r_what, sizeof(r->r_what), "%s/(spare)", t->t_slug);
	ev_child_init(&r->r_child, run_child_cb, r->r_pid, 0);
	r->r_child.data = r;
	ev_child_start(loop, &r->r_child);
	ev_init(&r->r_timer, run_timer_cb);
	r->r_timer.data = r;
	TAILQ_INSERT_TAIL(&runs, r, r_entry);
	sweep_arm();
	return r;
}

/*
 * Tenant t's spare if it still fits: made for the same uid, gid and
 * network setting, under the policy in force, and not being killed.
 */
static struct run *
spare_find(const struct tenant *t, int network)
{
	unsigned char	 now[MADE_OF_LEN];
	struct run	*r;

	TAILQ_FOREACH(r, &runs, r_entry)
		if (r->r_state == RUN_SPARE && r->r_tenant == t->t_id)
			break;
	if (r == NULL)
		return NULL;
	sandbox_made_of(t, now);
	if (r->r_pidfd == -1 || r->r_uid != t->t_uid || r->r_gid !=
	    t->t_gid || r->r_network != (network != 0) || r->r_policy_gen !=
	    policy_gen || memcmp(r->r_made_of, now, sizeof(now)) != 0) {
		spare_drop(r, "its tenant, its sandbox or the policy changed");
		return NULL;
	}
	return r;
}

/*
 * A run of tenant `tenant` was taken while the tenant's sandbox was still
 * being built (by that run): its spare waits for the sandbox to be kept,
 * or it would build a second one beside it, with a /tmp of its own. Now:
 * the sandbox is complete, or (`ended`) the run that built it is gone.
 */
static void
spare_wanted(int64_t tenant, int ended)
{
	struct tenant	 t;
	struct run	*r;

	TAILQ_FOREACH(r, &runs, r_entry)
		if (r->r_want_spare && r->r_tenant == tenant)
			break;
	if (r == NULL || (!ended && sandbox_whole(tenant, r->r_network) ==
	    NULL))
		return;
	r->r_want_spare = 0;
	if (registry_tenant_by_id(priv_registry(), tenant, &t) == REG_OK &&
	    t.t_status == TENANT_ACTIVE && t.t_uid != 0 && t.t_gid != 0 &&
	    spare_find(&t, r->r_network) == NULL)
		(void)spare_start(&t, r->r_network);
}

/* Kill the spares of tenants no longer active (or all: `all`). */
static void
spares_drop(int all, const char *why)
{
	struct run	*r;

	TAILQ_FOREACH(r, &runs, r_entry)
		if (r->r_state == RUN_SPARE && (all ||
		    !tenant_active(r->r_tenant)))
			spare_drop(r, why);
}

/* The policy files were read again: no spare made before is taken. */
void
priv_spares_reload(void)
{
	policy_gen++;
	spares_drop(1, "the policy was reloaded");
}

/*
 * Start worker w's run `id` of `handler` with the environment `env`
 * (validated by the caller). 0: started, and the worker has been sent its
 * end of the handler's stdio; -1: nothing started (the caller answers the
 * worker with RUN_FAILED).
 */
int
priv_run(struct worker *w, uint32_t id, const char *handler,
    char *const env[], size_t nenv, int network, uint64_t timeout_ms)
{
	struct tenant	 t;
	struct msgbuf	 mb;
	struct run	*r;
	int		 io[2], tries;

	if (registry_tenant_by_id(priv_registry(), w->w_tenant->t_id, &t) !=
	    REG_OK || t.t_status != TENANT_ACTIVE || t.t_uid == 0 ||
	    t.t_gid == 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, io) == -1) {
		log_warn("%s: socketpair", __func__);
		return -1;
	}
	/*
	 * A spare may have died while it waited (the OOM killer takes tenant
	 * code first, and its own tenant's memory bomb shares its cgroup):
	 * it cannot take the request, and a new one, started now, gets it.
	 */
	for (tries = 0;; tries++) {
		if ((r = spare_find(&t, network)) == NULL &&
		    (r = spare_start(&t, network)) == NULL)
			break;
		if (run_go(r->r_spec.sw_io.fd, handler, env, nenv, io[1]) == 0)
			break;
		spare_drop(r, "cannot be given its request");
		r = NULL;
		if (tries == 1)
			break;
	}
	close(io[1]);
	if (r == NULL) {
		close(io[0]);
		return -1;
	}
	r->r_state = RUN_TAKEN;
	r->r_worker = w;
	r->r_id = id;
	snprintf(r->r_what, sizeof(r->r_what), "%s/%s", t.t_slug, handler);
	ev_timer_set(&r->r_timer, timeout_ms / 1000.0 + RUN_GRACE, 0.);
	ev_timer_start(loop, &r->r_timer);

	msg_init(&mb, MSG_RUN_STARTED, id);
	if (msg_finish(&mb) == -1 || msg_send(w->w_chan, &mb, io[0]) == -1) {
		/* It starts with nobody to talk to; it ends at EOF or the timer. */
		log_warn("%s: worker %d", __func__, (int)w->w_pid);
		run_kill(r, "cannot reach its worker");
	}
	close(io[0]);
	/*
	 * The next request of this tenant's finds its run ready: started
	 * now, or once this run's sandbox is kept, if it is the one
	 * building it (spare_wanted()).
	 */
	if (sandbox_whole(t.t_id, network) != NULL)
		(void)spare_start(&t, network);
	else
		r->r_want_spare = 1;
	return 0;
}

/*
 * Persistent apps: one per tenant and program, started on the first
 * request and kept while used. Its listening socket is ours, bound in a
 * root-only directory, and outlives the app's restarts: connections made
 * while it restarts wait in the backlog. We connect for each request and
 * give the worker that connection, so the worker needs no socket() of
 * its own and the app never learns a path to anything outside.
 */
#define APP_BACKOFF_MAX		60	/* seconds */
#define APP_STABLE		10.0	/* an app up this long did not crash-loop */

struct app {
	TAILQ_ENTRY(app) a_entry;
	int64_t		 a_tenant;
	char		 a_name[RUN_NAME_MAX + 1];
	char		 a_what[SLUG_MAX_LEN + RUN_NAME_MAX + 8];
	struct sockaddr_un a_sun;
	int		 a_lfd;
	pid_t		 a_pid;		/* 0: not running */
	int		 a_pidfd;
	struct spec_watch a_spec;
	struct runlog	 a_log;
	int		 a_stopping;	/* we killed it: idle or the tenant went */
	unsigned int	 a_failures;
	ev_tstamp	 a_started;
	ev_tstamp	 a_next_start;
	ev_child	 a_child;
	ev_timer	 a_idle;
};
static TAILQ_HEAD(, app) apps = TAILQ_HEAD_INITIALIZER(apps);

static void
app_stop(struct app *a, const char *why)
{
	if (a->a_pid == 0 || a->a_pidfd == -1)
		return;
	log_info("app %s (pid %d): stopping: %s", a->a_what, (int)a->a_pid,
	    why);
	a->a_stopping = 1;
	if (syscall(SYS_pidfd_send_signal, a->a_pidfd, SIGKILL, NULL, 0) ==
	    -1 && errno != ESRCH)
		log_warn("%s: pid %d", __func__, (int)a->a_pid);
}

static void
app_idle_cb(struct ev_loop *l, ev_timer *t, int revents)
{
	app_stop(t->data, "idle");
}

static void
app_child_cb(struct ev_loop *l, ev_child *c, int revents)
{
	struct app	*a = c->data;
	ev_tstamp	 up = ev_now(l) - a->a_started, wait;

	ev_child_stop(l, c);
	if (a->a_pidfd != -1)
		close(a->a_pidfd);
	a->a_pidfd = -1;
	spec_watch_end(&a->a_spec);
	runlog_end(&a->a_log);
	a->a_pid = 0;
	if (a->a_stopping) {
		a->a_stopping = 0;
		a->a_failures = 0;
		return;
	}
	/* It ended on its own: a crash. Back off, more so if it keeps on. */
	if (up >= APP_STABLE)
		a->a_failures = 0;
	a->a_failures++;
	wait = a->a_failures >= 7 ? APP_BACKOFF_MAX :
	    (1 << (a->a_failures - 1));
	if (wait > APP_BACKOFF_MAX)
		wait = APP_BACKOFF_MAX;
	a->a_next_start = ev_now(l) + wait;
	log_warnx("app %s ended after %.1fs (%s %d); next start in %.0fs",
	    a->a_what, up, WIFSIGNALED(c->rstatus) ? "signal" : "status",
	    WIFSIGNALED(c->rstatus) ? WTERMSIG(c->rstatus) :
	    WEXITSTATUS(c->rstatus), wait);
}

/* Our listening socket for the app, in a directory only root can enter. */
static int
app_listen(struct app *a, const char *slug)
{
	char	 dir[PATH_MAX];
	int	 fd;

	if (snprintf(dir, sizeof(dir), "%s/apps", conf->c_run_dir) >=
	    (int)sizeof(dir) || (mkdir(dir, 0700) == -1 && errno != EEXIST))
		return -1;
	memset(&a->a_sun, 0, sizeof(a->a_sun));
	a->a_sun.sun_family = AF_UNIX;
	if (snprintf(a->a_sun.sun_path, sizeof(a->a_sun.sun_path),
	    "%s/%s.%s", dir, slug, a->a_name) >= (int)sizeof(a->a_sun.sun_path))
		return -1;
	(void)unlink(a->a_sun.sun_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&a->a_sun, sizeof(a->a_sun)) == -1 ||
	    chmod(a->a_sun.sun_path, 0600) == -1 || listen(fd, 128) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static struct app *
app_get(const struct tenant *t, const char *name)
{
	struct app	*a;

	TAILQ_FOREACH(a, &apps, a_entry)
		if (a->a_tenant == t->t_id && strcmp(a->a_name, name) == 0)
			return a;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->a_tenant = t->t_id;
	a->a_pidfd = -1;
	snprintf(a->a_name, sizeof(a->a_name), "%s", name);
	snprintf(a->a_what, sizeof(a->a_what), "%s/%s", t->t_slug, name);
	if ((a->a_lfd = app_listen(a, t->t_slug)) == -1) {
		log_warn("app %s: listening socket", a->a_what);
		free(a);
		return NULL;
	}
	ev_timer_init(&a->a_idle, app_idle_cb, 0., 0.);
	a->a_idle.data = a;
	TAILQ_INSERT_TAIL(&apps, a, a_entry);
	return a;
}

/*
 * A connection to tenant w's persistent app `name`, started if need be,
 * for the worker's run `id`. -1: none (not startable, or backing off).
 */
int
priv_app_connect(struct worker *w, uint32_t id, const char *name,
    int network, uint64_t idle_ms)
{
	static char	 tenv[16 + SLUG_MAX_LEN];
	char		*env[] = { tenv, "PATH=/usr/bin:/bin" };
	struct tenant	 t;
	struct msgbuf	 mb;
	struct app	*a;
	int		 fd;

	if (registry_tenant_by_id(priv_registry(), w->w_tenant->t_id, &t) !=
	    REG_OK || t.t_status != TENANT_ACTIVE || t.t_uid == 0 ||
	    t.t_gid == 0 || (a = app_get(&t, name)) == NULL)
		return -1;
	if (a->a_pid == 0) {
		if (ev_now(loop) < a->a_next_start)
			return -1;
		snprintf(tenv, sizeof(tenv), "TENANT=%s", t.t_slug);
		if ((a->a_pid = runner_spawn(&t, network, RUN_SPEC_PERSISTENT,
		    &a->a_pidfd, &fd, &a->a_log)) == -1) {
			a->a_pid = 0;
			return -1;
		}
		spec_watch_start(&a->a_spec, t.t_id, fd);
		/* Nothing to gain from a spare here: it starts at once. */
		if (run_go(fd, name, env, 2, a->a_lfd) == -1)
			app_stop(a, "cannot be given its socket");
		a->a_started = ev_now(loop);
		ev_child_init(&a->a_child, app_child_cb, a->a_pid, 0);
		a->a_child.data = a;
		ev_child_start(loop, &a->a_child);
		log_info("app %s started (pid %d)", a->a_what, (int)a->a_pid);
	}
	/* Connected at once: the kernel queues it until the app accepts. */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&a->a_sun, sizeof(a->a_sun)) ==
	    -1) {
		log_warn("app %s: connect", a->a_what);
		close(fd);
		return -1;
	}
	ev_timer_stop(loop, &a->a_idle);
	ev_timer_set(&a->a_idle, idle_ms / 1000.0, 0.);
	ev_timer_start(loop, &a->a_idle);
	msg_init(&mb, MSG_RUN_STARTED, id);
	if (msg_finish(&mb) == -1 || msg_send(w->w_chan, &mb, fd) == -1)
		log_warn("%s: worker %d", __func__, (int)w->w_pid);
	close(fd);
	return 0;
}

/* tenantd is stopping: every app with it. */
void
priv_apps_stop(void)
{
	struct app	*a;

	TAILQ_FOREACH(a, &apps, a_entry)
		app_stop(a, "tenantd is stopping");
}

/*
 * After any registry change: the apps and kept sandboxes of tenants no
 * longer active go, whether or not the tenant still has a worker (an app
 * starts again, a sandbox is built again, if it is active again).
 */
void
priv_code_check(void)
{
	struct sandbox	*s, *stmp;
	struct app	*a;

	for (s = TAILQ_FIRST(&sandboxes); s != NULL; s = stmp) {
		stmp = TAILQ_NEXT(s, s_entry);
		if (!tenant_active(s->s_tenant)) {
			sandbox_gen++;
			sandbox_free(s);
		}
	}
	TAILQ_FOREACH(a, &apps, a_entry)
		if (a->a_pid != 0 && !tenant_active(a->a_tenant))
			app_stop(a, "its tenant is not active");
	spares_drop(0, "its tenant is not active");
}

/* For /metrics: runs in flight, apps running, sandboxes kept, spares. */
void
priv_code_stats(unsigned int *nruns, unsigned int *napps,
    unsigned int *nsandboxes, unsigned int *nspares)
{
	struct run	*r;
	struct app	*a;
	struct sandbox	*s;

	*nruns = *napps = *nsandboxes = *nspares = 0;
	TAILQ_FOREACH(r, &runs, r_entry)
		if (r->r_state == RUN_TAKEN)
			(*nruns)++;
		else if (r->r_state == RUN_SPARE)
			(*nspares)++;
	TAILQ_FOREACH(a, &apps, a_entry)
		if (a->a_pid != 0)
			(*napps)++;
	TAILQ_FOREACH(s, &sandboxes, s_entry)
		(*nsandboxes)++;
}
