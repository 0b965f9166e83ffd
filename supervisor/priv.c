/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The root half of the supervisor: the registry, spawning a worker, binding
 * it to a tenant, signalling and reaping it. Nothing here parses a byte that
 * came from a client.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "gen.h"
#include "log.h"
#include "policy.h"
#include "proto.h"
#include "registry.h"
#include "spawner.h"
#include "supervisor.h"
#include "sys.h"

/* What RLIMIT_FSIZE allows a worker beyond its tenant's storage quota. */
#define FSIZE_WAL_ROOM		(64ULL << 20)

static struct registry	*reg;
static struct limits	 worker_limits;
static struct cgroup_policy worker_cg;
static int		 worker_cg_set;	/* worker.cgroup was there */
static char		 policy_path[PATH_MAX];
static char		 gen_path[PATH_MAX];
static char		 slots_path[PATH_MAX];
static struct gen_slots	 slots = { -1, NULL, 0 };
static int		 checking;	/* tenantd -n */

static void	priv_child_cb(struct ev_loop *, ev_child *, int);

/* The policy file name, in [paths] policy_dir. */
static const char *
priv_policy_path(const char *name, char path[PATH_MAX])
{
	snprintf(path, PATH_MAX, "%s/%s", conf->c_policy_dir, name);
	return path;
}

/*
 * The tenant-code.* files, parsed as tenantd-run parses them on every run:
 * a broken one would otherwise fail every handler and app (503) after a
 * start or reload that said nothing (tests/system found one). A policy
 * directory without them (one made for workers only) is not refused by a
 * start: no tenant code can run then, which is said once here and by every
 * run. tenantd -n refuses it: the operator who checks must hear it.
 */
static int
priv_check_code_policy(char *err, size_t errsz)
{
	static const char *const files[] = { RUN_MOUNTS_FILE, RUN_LIMITS_FILE,
	    RUN_CGROUP_FILE, RUN_SECCOMP_FILE };
	struct mounts		*m = NULL;
	struct policy		*pol = NULL;
	struct limits		 lim;
	struct cgroup_policy	 cg;
	static char		 buf[POLICY_FILE_MAX];
	char			 path[PATH_MAX], e[384];
	ssize_t			 len;
	size_t			 i;
	int			 r = -1;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (access(priv_policy_path(files[i], path), F_OK) == -1 &&
		    errno == ENOENT) {
			if (checking) {
				snprintf(err, errsz, "%s: missing: tenant code "
				    "cannot run", path);
				return -1;
			}
			log_warnx("policy: no %s: tenant code cannot run", path);
			return 0;
		}
	}
	if ((m = malloc(sizeof(*m))) == NULL ||
	    (pol = malloc(sizeof(*pol))) == NULL) {
		snprintf(err, errsz, "%s", strerror(errno));
		goto done;
	}
	if ((len = policy_file_read(priv_policy_path(RUN_MOUNTS_FILE, path),
	    buf, sizeof(buf), err, errsz)) == -1)
		goto done;
	if (mounts_parse(buf, (size_t)len, m, e, sizeof(e)) == -1) {
		/* Cut short if it must be: still the file and the reason. */
		if (snprintf(err, errsz, "%s: %s", path, e) >= (int)errsz)
			err[errsz - 1] = '\0';
		goto done;
	}
	if (limits_load(priv_policy_path(RUN_LIMITS_FILE, path), &lim, err,
	    errsz) == -1 || cgroup_load(priv_policy_path(RUN_CGROUP_FILE,
	    path), &cg, err, errsz) == -1 ||
	    denylist_load(priv_policy_path(RUN_SECCOMP_FILE, path), pol, err,
	    errsz) == -1)
		goto done;
	r = 0;
done:
	free(m);
	free(pol);
	return r;
}

/*
 * Read and check the policy files. The workers read the seccomp file
 * themselves at bind time; checking it here makes a broken policy fail the
 * daemon's start (or a reload) with a clear message instead of every spawn.
 */
static int
priv_load_policy(char *err, size_t errsz)
{
	struct policy		*pol;
	struct limits		 lim;
	struct cgroup_policy	 cg;
	char			 path[PATH_MAX];
	int			 r, cg_set;

	if ((pol = malloc(sizeof(*pol))) == NULL) {
		snprintf(err, errsz, "%s", strerror(errno));
		return -1;
	}
	r = policy_load(priv_policy_path(POLICY_SECCOMP_FILE, path), pol, err,
	    errsz);
	free(pol);
	if (r == -1)
		return -1;
	snprintf(policy_path, sizeof(policy_path), "%s", path);
	if (limits_load(priv_policy_path(POLICY_LIMITS_FILE, path), &lim, err,
	    errsz) == -1)
		return -1;
	/* A worker holds each connection plus a file and a few of its own. */
	for (size_t i = 0; i < lim.l_n; i++)
		if (lim.l_ent[i].pl_resource == RLIMIT_NOFILE &&
		    lim.l_ent[i].pl_value < (rlim_t)conf->c_conns_per_worker +
		    16) {
			snprintf(err, errsz, "%s: nofile %llu is too low for "
			    "conns_per_worker %u (needs %u)", POLICY_LIMITS_FILE,
			    (unsigned long long)lim.l_ent[i].pl_value,
			    conf->c_conns_per_worker,
			    conf->c_conns_per_worker + 16);
			return -1;
		}
	if (priv_check_code_policy(err, errsz) == -1 ||
	    tlimits_check(conf->c_policy_dir, err, errsz) == -1)
		return -1;
	/*
	 * worker.cgroup: an older policy directory has none, and its workers
	 * keep only their rlimits, which is said; a broken one is refused.
	 */
	memset(&cg, 0, sizeof(cg));
	cg_set = 1;
	if (access(priv_policy_path(POLICY_CGROUP_FILE, path), F_OK) == -1 &&
	    errno == ENOENT) {
		log_warnx("policy: no %s: workers run without cgroups", path);
		cg_set = 0;
	} else if (cgroup_load(path, &cg, err, errsz) == -1)
		return -1;
	worker_limits = lim;
	worker_cg = cg;
	worker_cg_set = cg_set;
	return 0;
}

/*
 * The tenant's worker cgroup, tenantd-workers/<slug> (cgroup_prepare() in
 * common/cgroup.c: beside tenantd-code/<slug> on both layouts, so on v2
 * each cgroup that holds processes is a leaf), made and limited here, as
 * root, then joined by the worker itself: one MSG_CFG_CGROUP per move
 * file, right after CFG_TENANT and before anything the tenant's requests
 * can make it allocate. The worker writes "0", so no pid of ours names a
 * process that could have changed meanwhile, and on v1 (tasks, one
 * thread) the move takes no cgroup_threadgroup_rwsem: a pid written from
 * here would take it, and wait out an RCU grace period in our event loop
 * (docs/performance.md). A cgroup that cannot be made costs the worker
 * its cgroup, never the tenant its worker, as for tenant code; the same
 * reason is logged once, not at every bind. -1 only when sending failed.
 */
static int
priv_bind_cgroup(struct worker *w, const char *slug)
{
	static char	 said[512];
	struct msgbuf	 mb;
	char		 err[512];
	int		 fds[CG_NCTRL], n, i, rc = 0;

	if (!worker_cg_set)
		return 0;
	if ((n = cgroup_prepare(CG_WORKERS, CG_WORKERS_FALLBACK, slug,
	    &worker_cg, 0, fds, err, sizeof(err))) == -1) {
		if (strcmp(err, said) != 0)
			log_warnx("tenant %s: workers run without their cgroup "
			    "(only their rlimits bound them; said once): %s",
			    slug, err);
		else
			log_debug("tenant %s: worker cgroup: %s", slug, err);
		snprintf(said, sizeof(said), "%s", err);
		return 0;
	}
	/* Made again: the next failure is news. */
	said[0] = '\0';
	for (i = 0; i < n; i++) {
		msg_init(&mb, MSG_CFG_CGROUP, 0);
		if (rc == 0 && (msg_finish(&mb) == -1 ||
		    msg_send(w->w_chan, &mb, fds[i]) == -1)) {
			log_warn("%s: worker %d", __func__, (int)w->w_pid);
			rc = -1;
		}
		close(fds[i]);
	}
	return rc;
}

/* With check set (tenantd -n), read and verify but create nothing. */
void
priv_init(int check)
{
	struct gen	 g;
	char		 path[PATH_MAX], err[512];

	checking = check;
	if (config_path(conf, "registry.db", path, sizeof(path)) == -1 ||
	    config_path(conf, GEN_FILE, gen_path, sizeof(gen_path)) == -1)
		fatal("state_dir");
	if ((reg = registry_open(path, REG_RDONLY, err, sizeof(err))) == NULL)
		fatalx("registry: %s (run \"tenantctl init\" first)", err);
	/* tenantctl init creates it; an older state directory may lack it. */
	if (gen_map(&g, gen_path, !check) == -1)
		fatal("%s", gen_path);
	gen_unmap(&g);
	/*
	 * The per-tenant slots: created here for a state directory from
	 * before them (docs/routing.md); a check creates nothing.
	 */
	if (config_path(conf, GEN_SLOTS_FILE, slots_path,
	    sizeof(slots_path)) == -1)
		fatal("state_dir");
	if (!check && gen_slots_open(&slots, slots_path, 1) == -1)
		fatal("%s", slots_path);
	if (priv_load_policy(err, sizeof(err)) == -1)
		fatalx("policy: %s", err);
	if (access(conf->c_worker, X_OK) == -1)
		fatal("worker binary %s", conf->c_worker);
	/*
	 * No ledger is opened here: with thousands of tenants that made the
	 * start linear in their number. A ledger's holds left by a crash are
	 * settled when the slow thread first opens it (slow.c).
	 */
}

/* -1 with the reason in err: the previous policy is kept. */
int
priv_reload(char *err, size_t errsz)
{
	if (priv_load_policy(err, errsz) == -1) {
		log_warnx("reload: policy: %s; keeping the previous one", err);
		return -1;
	}
	priv_spares_reload();
	log_info("reload: policy re-read; new workers and runs use it");
	return 0;
}

static void
route_from_tenant(const struct tenant *t, struct route *r)
{
	memset(r, 0, sizeof(*r));
	r->r_tenant = t->t_id;
	snprintf(r->r_slug, sizeof(r->r_slug), "%s", t->t_slug);
	r->r_status = t->t_status;
}

/* 0: found, 1: no such tenant, -1: registry error. */
int
priv_resolve(const struct host_result *hr, struct route *out)
{
	struct tenant	 t;
	char		 slug[SLUG_MAX_LEN + 1];
	int		 rc;

	if (hr->hr_class == HOST_SUBDOMAIN) {
		memcpy(slug, hr->hr_name, hr->hr_label_len);
		slug[hr->hr_label_len] = '\0';
		rc = registry_tenant_get(reg, slug, &t);
	} else if (hr->hr_class == HOST_CUSTOM)
		rc = registry_host_tenant(reg, hr->hr_name, &t);
	else
		return 1;
	if (rc == REG_NOTFOUND)
		return 1;
	if (rc != REG_OK) {
		log_warnx("%s: registry: %s", __func__, registry_errmsg(reg));
		return -1;
	}
	route_from_tenant(&t, out);
	return 0;
}

int
priv_tenant(int64_t id, struct route *out)
{
	struct tenant	 t;
	int		 rc;

	if ((rc = registry_tenant_by_id(reg, id, &t)) == REG_NOTFOUND)
		return 1;
	if (rc != REG_OK) {
		log_warnx("%s: registry: %s", __func__, registry_errmsg(reg));
		return -1;
	}
	route_from_tenant(&t, out);
	return 0;
}

struct registry *
priv_registry(void)
{
	return reg;
}

int
priv_registry_changed(void)
{
	return registry_changed(reg);
}

/*
 * A worker gets /dev/null on 0-2, the channel on fd 3, nothing else, no
 * environment and no secret in argv (spawner.c does the rest).
 */
int
priv_spawn(struct worker *w)
{
	char			 ppid[16];
	char			*argv[] = { "tenantd-worker", ppid, NULL };
	int			 sv[2];
	struct spawn_fd		 fds[] = { { -1, PROTO_CHAN_FD } };
	struct spawn		 sp = {
		.sp_path = conf->c_worker,
		.sp_argv = argv,
#ifndef SANDBOX_DEBUG
		.sp_stdio = { SPAWN_DEVNULL, SPAWN_DEVNULL, SPAWN_DEVNULL },
#else
		/* Debug builds keep our stderr, for the SIGSYS handler. */
		.sp_stdio = { SPAWN_DEVNULL, SPAWN_DEVNULL, SPAWN_KEEP },
#endif
		.sp_fds = fds,
		.sp_nfds = 1,
	};
	pid_t			 pid;
	int			 rc;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, sv) == -1) {
		log_warn("%s: socketpair", __func__);
		return -1;
	}
	snprintf(ppid, sizeof(ppid), "%d", (int)getpid());
	fds[0].sf_src = sv[1];
	rc = spawn_child(&sp, &pid, &w->w_pidfd);
	if (rc == -1)
		log_warn("%s: %s", __func__, conf->c_worker);
	else if (w->w_pidfd == -1)
		log_warn("%s: pidfd_open", __func__);
	close(sv[1]);
	if (rc == -1) {
		close(sv[0]);
		return -1;
	}
	w->w_pid = pid;
	w->w_chan = sv[0];
	w->w_started = ev_now(loop);
	ev_child_init(&w->w_child, priv_child_cb, pid, 0);
	w->w_child.data = w;
	ev_child_start(loop, &w->w_child);
	return 0;
}

static void
priv_child_cb(struct ev_loop *l, ev_child *c, int revents)
{
	struct worker	*w = c->data;

	ev_child_stop(l, c);
	if (w->w_pidfd != -1)
		close(w->w_pidfd);
	w->w_pidfd = -1;
	pool_worker_exited(w, c->rstatus);
}

void
priv_kill(struct worker *w)
{
	if (w->w_pidfd == -1)
		return;
	if (syscall(SYS_pidfd_send_signal, w->w_pidfd, SIGKILL, NULL, 0) ==
	    -1 && errno != ESRCH)
		log_warn("%s: pid %d", __func__, (int)w->w_pid);
}

int
priv_send(struct worker *w, struct msgbuf *mb)
{
	if (msg_finish(mb) == -1 || msg_send(w->w_chan, mb, -1) == -1) {
		log_warn("%s: worker %d", __func__, (int)w->w_pid);
		return -1;
	}
	return 0;
}

/* A host list being built: the names, each with its newline. */
struct hostbuf {
	char		*hb_buf;
	size_t		 hb_len;
	size_t		 hb_size;
	uint32_t	 hb_n;
};

static int
priv_host_cb(const struct hostname *h, void *arg)
{
	struct hostbuf		*hb = arg;
	struct host_result	 hr;
	size_t			 len = strlen(h->h_name), size;
	char			*p;

	/*
	 * A name the classifier does not route as a custom domain (a hand
	 * edit put one under the suffix, say) never reaches this worker
	 * anyway; sent, it would make the worker refuse the whole list and
	 * die. It is left out, and said.
	 */
	if (host_classify(&conf->c_hosts, h->h_name, len, &hr) !=
	    HOST_CUSTOM || strcmp(hr.hr_name, h->h_name) != 0) {
		log_warnx("tenant %s: hostname %s in the registry is not a "
		    "custom domain here (%s); not served", h->h_slug,
		    h->h_name, host_class_str(hr.hr_class));
		return 0;
	}
	/* More than a worker takes: the list is refused whole, not cut. */
	if (hb->hb_n == HOST_TENANT_MAX)
		return -1;
	if (hb->hb_size - hb->hb_len < len + 1) {
		size = hb->hb_size == 0 ? 4096 : hb->hb_size * 2;
		if ((p = realloc(hb->hb_buf, size)) == NULL)
			return -1;
		hb->hb_buf = p;
		hb->hb_size = size;
	}
	memcpy(hb->hb_buf + hb->hb_len, h->h_name, len);
	hb->hb_buf[hb->hb_len + len] = '\n';
	hb->hb_len += len + 1;
	hb->hb_n++;
	return 0;
}

/*
 * A tenant's active custom hostnames in one memfd, sealed so that neither
 * side can change it once sent (docs/routing.md). Returns the fd, or -1
 * with the reason logged.
 */
static int
priv_hosts_fd(int64_t id, uint32_t *n, uint64_t *size)
{
	struct hostbuf	 hb;
	int		 fd = -1;

	memset(&hb, 0, sizeof(hb));
	if (registry_hosts(reg, id, 1, priv_host_cb, &hb) != REG_OK) {
		if (hb.hb_n == HOST_TENANT_MAX)
			log_warnx("tenant %lld has more than %d active custom "
			    "hostnames, more than a worker takes; remove "
			    "some (docs/routing.md)", (long long)id,
			    HOST_TENANT_MAX);
		else
			log_warnx("tenant %lld: host list: %s", (long long)id,
			    registry_errmsg(reg));
		goto fail;
	}
	if ((fd = msg_sealed_create("tenantd-hosts", hb.hb_buf,
	    hb.hb_len)) == -1) {
		log_warn("%s: sealed file", __func__);
		goto fail;
	}
	*n = hb.hb_n;
	*size = hb.hb_len;
	free(hb.hb_buf);
	return fd;
 fail:
	if (fd != -1)
		close(fd);
	free(hb.hb_buf);
	return -1;
}

/*
 * Tenant id's generation slot (docs/routing.md). Callers read it before
 * anything else of the tenant's in the registry: tenantctl commits first
 * and bumps the slot after, so what is read next is never older than the
 * value a worker is then told.
 */
int
priv_gen_slot(int64_t id, uint64_t *v)
{
	if (gen_slots_read(&slots, id, v) == -1) {
		log_warn("%s: tenant %lld", slots_path, (long long)id);
		return -1;
	}
	return 0;
}

/*
 * Bring a worker up to its tenant's generation slot value gen: its
 * tenant's host list if the worker has none yet or the tenant's names
 * changed since it got one (only the tenants whose names changed:
 * docs/routing.md), then CFG_DONE with gen, unless the worker has it
 * already: a change to another tenant sends this one nothing. The hosts
 * generation is read before the list: a change committed between the two
 * makes the list newer than the generation it is sent with, never older,
 * so the next change sends it again rather than never.
 */
int
priv_hosts(struct worker *w, int64_t id, uint64_t gen)
{
	struct msgbuf	 mb;
	uint64_t	 hgen, size;
	uint32_t	 n;
	int		 fd, rc, list = 0;

	if (registry_hosts_gen(reg, id, &hgen) != REG_OK) {
		log_warnx("tenant %lld: hosts generation: %s", (long long)id,
		    registry_errmsg(reg));
		return -1;
	}
	if (w->w_host_lists == 0 || hgen != w->w_hosts_gen) {
		if ((fd = priv_hosts_fd(id, &n, &size)) == -1)
			return -1;
		msg_init(&mb, MSG_CFG_HOSTS, 0);
		msg_put_u32(&mb, n);
		msg_put_u64(&mb, size);
		msg_put_u64(&mb, hgen);
		rc = msg_finish(&mb) == -1 ? -1 : msg_send(w->w_chan, &mb, fd);
		close(fd);
		if (rc == -1) {
			log_warn("%s: worker %d", __func__, (int)w->w_pid);
			return -1;
		}
		w->w_hosts_gen = hgen;
		w->w_host_lists++;
		list = 1;
		log_debug("tenant %lld worker %d: host list of %u names, hosts "
		    "generation %llu", (long long)id, (int)w->w_pid, n,
		    (unsigned long long)hgen);
	}
	/* A list is always followed by its CFG_DONE (common/proto.h). */
	if (w->w_gen_updates > 0 && !list && gen == w->w_gen)
		return 0;
	msg_init(&mb, MSG_CFG_DONE, 0);
	msg_put_u64(&mb, gen);
	if (priv_send(w, &mb) == -1)
		return -1;
	w->w_gen = gen;
	w->w_gen_updates++;
	return 0;
}

/*
 * Bind a spare to a tenant (docs/architecture.md, section 7, row 0): the
 * ids come from the registry as numbers, never from a name lookup; uid/gid
 * 0 are refused; the jail path must be root-owned all the way down.
 * Returns 0 when bound;
 * 1 when the tenant is not active (any more) and -1 when it cannot be
 * started safely, in both cases before anything was sent, so the worker is
 * still an unbound spare; -2 when sending failed half-way.
 */
int
priv_bind(struct worker *w, int64_t id, const uint64_t lim[TL_MAX],
    unsigned int share, uint64_t other)
{
	struct tenant	 t;
	struct msgbuf	 mb;
	char		 dir[PATH_MAX], err[512];
	uint64_t	 v, gen;
	size_t		 i;
	int		 rc;

	/* First, see priv_gen_slot; and the page the worker maps exists. */
	if (priv_gen_slot(id, &gen) == -1)
		return -1;
	if (gen_slots_cover(&slots, id) == -1) {
		log_warn("%s: tenant %lld", slots_path, (long long)id);
		return -1;
	}
	if ((rc = registry_tenant_by_id(reg, id, &t)) == REG_NOTFOUND)
		return 1;
	if (rc != REG_OK) {
		log_warnx("%s: tenant %lld: %s", __func__, (long long)id,
		    registry_errmsg(reg));
		return -1;
	}
	if (t.t_status != TENANT_ACTIVE)
		return 1;
	if (t.t_uid == 0 || t.t_gid == 0) {
		log_warnx("tenant %s: uid or gid 0 in the registry, refusing",
		    t.t_slug);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s/tenants/%s", conf->c_state_dir,
	    t.t_slug);
	if (jail_path_check(dir, t.t_gid, err, sizeof(err)) == -1) {
		log_warnx("tenant %s: unsafe directory, not starting: %s",
		    t.t_slug, err);
		return -1;
	}
	msg_init(&mb, MSG_CFG_TENANT, 0);
	msg_put_u32(&mb, (uint32_t)t.t_id);
	msg_put_u32(&mb, t.t_uid);
	msg_put_u32(&mb, t.t_gid);
	msg_put_u32(&mb, conf->c_head_max);
	msg_put_u32(&mb, conf->c_target_max);
	msg_put_u32(&mb, conf->c_conns_per_worker);
	msg_put_u32(&mb, conf->c_max_requests);
	msg_put_u32(&mb, conf->c_header_timeout_ms);
	msg_put_u32(&mb, conf->c_keepalive_timeout_ms);
	msg_put_u32(&mb, conf->c_verbose);
	msg_put_str(&mb, t.t_slug);
	msg_put_str(&mb, dir);
	msg_put_str(&mb, policy_path);
	msg_put_str(&mb, slots_path);
	msg_put_str(&mb, conf->c_hosts.hc_suffix);
	msg_put_str(&mb, conf->c_hosts.hc_admin);
	if (priv_send(w, &mb) == -1)
		return -2;
	/* At once: see priv_bind_cgroup(). */
	if (priv_bind_cgroup(w, t.t_slug) == -1)
		return -2;
	for (i = 0; i < worker_limits.l_n; i++) {
		v = (uint64_t)worker_limits.l_ent[i].pl_value;
		/*
		 * No file of the tenant's may outgrow its storage quota by
		 * more than a database's write-ahead log needs (SQLite
		 * checkpoints it at about 4M): the access log, or a database
		 * written past the worker's own checks, stops there (EFBIG)
		 * rather than filling the disk.
		 */
		if (worker_limits.l_ent[i].pl_resource == RLIMIT_FSIZE &&
		    v > lim[TL_STORAGE] + FSIZE_WAL_ROOM)
			v = lim[TL_STORAGE] + FSIZE_WAL_ROOM;
		msg_init(&mb, MSG_CFG_LIMIT, 0);
		msg_put_u32(&mb, (uint32_t)worker_limits.l_ent[i].pl_resource);
		msg_put_u64(&mb, v);
		if (priv_send(w, &mb) == -1)
			return -2;
	}
	if (priv_bind_data(w, t.t_slug, lim, share, other) == -1)
		return -2;
	return priv_hosts(w, id, gen) == -1 ? -2 : 0;
}
