/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The root half's share of tenant code (docs/tenant-code.md): starting a
 * request's handler through tenantd-run, and making sure it ends. A worker
 * asks for a run; we exec tenantd-run with the spec on its fd 3 and the
 * handler's stdio on its fd 4, and give the worker the other end of that
 * stdio. We kill the run when the worker gives up on it, when the worker
 * dies, and on our own at handler_timeout plus a grace second, so a
 * handler never outlives its limit even if its worker misbehaves.
 * tenantd-run makes the handler PID 1's child in its own PID namespace:
 * killing tenantd-run ends every process the handler started.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"
#include "registry.h"
#include "supervisor.h"
#include "sys.h"

#define RUN_GRACE	1.0	/* seconds past handler_timeout before we kill */

struct run {
	TAILQ_ENTRY(run) r_entry;
	struct worker	*r_worker;	/* NULL once the worker is gone */
	uint32_t	 r_id;
	pid_t		 r_pid;
	int		 r_pidfd;
	char		 r_what[SLUG_MAX_LEN + RUN_NAME_MAX + 8];
	ev_child	 r_child;
	ev_timer	 r_timer;
};
static TAILQ_HEAD(, run) runs = TAILQ_HEAD_INITIALIZER(runs);

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
	TAILQ_REMOVE(&runs, r, r_entry);
	free(r);
}

static struct run *
run_find(const struct worker *w, uint32_t id)
{
	struct run	*r;

	TAILQ_FOREACH(r, &runs, r_entry)
		if (r->r_worker == w && r->r_id == id)
			return r;
	return NULL;
}

unsigned int
priv_runs_of(const struct worker *w)
{
	struct run	*r;
	unsigned int	 n = 0;

	TAILQ_FOREACH(r, &runs, r_entry)
		if (r->r_worker == w)
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
		if (r->r_worker == w) {
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

/* A descriptor moved to at least `min`, so dup2 onto a low slot is safe. */
static int
fd_above(int fd, int min)
{
	int	 nfd;

	if (fd >= min)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, min);
	close(fd);
	return nfd;
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
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 attr;
	struct tenant			 t;
	struct msgbuf			 mb;
	struct run			*r;
	char				*argv[] = { "tenantd-run", NULL };
	char				*envp[] = { NULL };
	char				 dir[PATH_MAX];
	int				 spec[2] = { -1, -1 }, io[2] = { -1, -1 };
	int				 rc;
	size_t				 i;
	pid_t				 pid;

	if (registry_tenant_by_id(priv_registry(), w->w_tenant->t_id, &t) !=
	    REG_OK || t.t_status != TENANT_ACTIVE || t.t_uid == 0 ||
	    t.t_gid == 0)
		return -1;
	snprintf(dir, sizeof(dir), "%s/tenants/%s", conf->c_state_dir,
	    t.t_slug);
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, spec) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, io) == -1 ||
	    (spec[1] = fd_above(spec[1], PROTO_RUN_STDIO_FD + 1)) == -1 ||
	    (io[1] = fd_above(io[1], PROTO_RUN_STDIO_FD + 1)) == -1) {
		log_warn("%s: socketpair", __func__);
		goto fail;
	}
	/*
	 * The spec goes out first: the socket holds it until tenantd-run
	 * reads it, and a spec that does not fit is refused before any
	 * process exists.
	 */
	msg_init(&mb, MSG_RUN_SPEC, id);
	msg_put_u32(&mb, t.t_uid);
	msg_put_u32(&mb, t.t_gid);
	msg_put_u32(&mb, network != 0);
	msg_put_str(&mb, dir);
	msg_put_str(&mb, conf->c_policy_dir);
	msg_put_str(&mb, t.t_slug);
	msg_put_str(&mb, handler);
	msg_put_u32(&mb, (uint32_t)nenv);
	for (i = 0; i < nenv; i++)
		msg_put_str(&mb, env[i]);
	if (msg_finish(&mb) == -1 || msg_send(spec[0], &mb, -1) == -1) {
		log_warn("%s: spec", __func__);
		goto fail;
	}

	/* As for a worker: a fresh session, default signals, no env. */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDWR, 0);
	posix_spawn_file_actions_adddup2(&fa, 0, 1);
	/* Our stderr: tenantd-run's own failures land in our log. */
	posix_spawn_file_actions_adddup2(&fa, spec[1], PROTO_CHAN_FD);
	posix_spawn_file_actions_adddup2(&fa, io[1], PROTO_RUN_STDIO_FD);
	posix_spawn_file_actions_addclosefrom_np(&fa, PROTO_RUN_STDIO_FD + 1);
	posix_spawn_file_actions_addchdir_np(&fa, "/");
	priv_spawnattr(&attr);
	rc = posix_spawn(&pid, conf->c_runner, &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		errno = rc;
		log_warn("%s: %s", __func__, conf->c_runner);
		goto fail;
	}
	close(spec[0]);
	close(spec[1]);
	close(io[1]);
	spec[0] = spec[1] = io[1] = -1;
	r->r_pid = pid;
	if ((r->r_pidfd = (int)syscall(SYS_pidfd_open, pid, 0)) == -1) {
		log_warn("%s: pidfd_open", __func__);
		kill(pid, SIGKILL);
	}
	r->r_worker = w;
	r->r_id = id;
	snprintf(r->r_what, sizeof(r->r_what), "%s/%s", t.t_slug, handler);
	ev_child_init(&r->r_child, run_child_cb, pid, 0);
	r->r_child.data = r;
	ev_child_start(loop, &r->r_child);
	ev_timer_init(&r->r_timer, run_timer_cb, timeout_ms / 1000.0 +
	    RUN_GRACE, 0.);
	r->r_timer.data = r;
	ev_timer_start(loop, &r->r_timer);
	TAILQ_INSERT_TAIL(&runs, r, r_entry);

	msg_init(&mb, MSG_RUN_STARTED, id);
	if (msg_finish(&mb) == -1 || msg_send(w->w_chan, &mb, io[0]) == -1) {
		/* It starts with nobody to talk to; it ends at EOF or the timer. */
		log_warn("%s: worker %d", __func__, (int)w->w_pid);
		run_kill(r, "cannot reach its worker");
	}
	close(io[0]);
	return 0;
fail:
	for (i = 0; i < 2; i++) {
		if (spec[i] != -1)
			close(spec[i]);
		if (io[i] != -1)
			close(io[i]);
	}
	free(r);
	return -1;
}
