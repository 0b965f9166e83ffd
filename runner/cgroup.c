/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * tenantd-run: the tenant's cgroup. rlimits bound one process; a tenant
 * whose handlers fork 60 CPU spinners, fill its memory or its page cache
 * would still take the machine from every other tenant. So all of one
 * tenant's code runs in one cgroup per controller (cpu, memory, pids),
 * with the values of tenant-code.cgroup: one CPU share per tenant however
 * many processes it runs, a memory limit inside which the OOM killer
 * picks its victim, a process count.
 *
 * The child of tenantd-run moves itself, first thing, while it is still
 * in tenantd's cgroups (so /proc/self/cgroup is tenantd's), before it
 * makes its cgroup namespace, and before it starts anything, which is
 * then born inside. Where:
 *
 *	v1	<mount>/<own>/tenantd-code/<slug> per controller, or
 *		<mount>/tenantd/<slug> if <own> is not ours to write
 *	v2	<mount>/<parent of own>/tenantd-code/<slug>, only when that
 *		parent is delegated to us (systemd: Delegate= on tenantd's
 *		unit; tenantd moves itself into the unit cgroup's child
 *		CG_LEAF at start, cgroup_leaf() in common/cgroup.c). v2 lets
 *		only a cgroup without processes of its own hand controllers
 *		down, and tenantd's own cgroup holds tenantd: the tenants'
 *		cgroups must hang off its parent, beside it.
 *
 * Cgroups are made when missing and never removed: one empty directory per
 * tenant costs nothing, and removing it would race with the next run.
 * Nothing here is fatal: without cgroups a run still has its rlimits, and
 * the caller logs why once.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "run.h"

#define CG_SUBDIR	"tenantd-code"	/* under our own cgroup */
#define CG_FALLBACK	"tenantd"	/* v1: under the hierarchy's root */
#define CG_WARNED	TENANTD_RUN_DIR "/cgroup-warned"

enum { CG_CPU, CG_MEMORY, CG_PIDS, CG_NCTRL };
static const char *const cg_ctrl[CG_NCTRL] = { "cpu", "memory", "pids" };

/* mkdir base/sub/slug, the parents as needed. */
static int
cg_mkdirs(const char *base, const char *sub, const char *slug,
    char dir[PATH_MAX])
{
	if ((size_t)snprintf(dir, PATH_MAX, "%s/%s", base, sub) >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		return -1;
	if ((size_t)snprintf(dir, PATH_MAX, "%s/%s/%s", base, sub, slug) >=
	    PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

/* The controller's setting, as the layout names and scales it. */
static void
cg_setting(int c, int v2, const struct cgroup_policy *cp,
    const char **file, char val[32])
{
	uint64_t	 shares;

	switch (c) {
	case CG_CPU:
		/* v1 cpu.shares: 1024 is what v2's weight 100 is. */
		shares = cp->cg_cpu_weight * 1024 / 100;
		*file = v2 ? "cpu.weight" : "cpu.shares";
		snprintf(val, 32, "%" PRIu64, v2 ? cp->cg_cpu_weight :
		    shares < 2 ? 2 : shares);
		break;
	case CG_MEMORY:
		*file = v2 ? "memory.max" : "memory.limit_in_bytes";
		snprintf(val, 32, "%" PRIu64, cp->cg_memory);
		break;
	default:
		*file = "pids.max";
		snprintf(val, 32, "%" PRIu64, cp->cg_pids);
		break;
	}
}

/*
 * cpu.idle of the cgroup above the tenants' (tenantd-code), from
 * cpu_idle: tenant code then runs at the lowest CPU priority there is
 * next to tenantd and its workers, which preempt it whenever they wake,
 * while the tenants still share among themselves by cpu_weight. Without
 * it, the supervisor and worker steps of a request wait out whole
 * scheduler ticks of a neighbour's spinners. Kernels before 5.15 have no
 * cpu.idle; failing is said as a refused limit is.
 */
static void
cg_idle(const struct cgroup_policy *cp, char *dir, const char *slug)
{
	char	*slash = strrchr(dir, '/'), err[PATH_MAX + 128];
	int	 rc;

	*slash = '\0';
	rc = cg_write(dir, "cpu.idle", cp->cg_cpu_idle ? "1" : "0", err,
	    sizeof(err));
	*slash = '/';
	if (rc == -1)
		log_warnx("cgroup of %s: cpu.idle refused: %s", slug, err);
}

/*
 * Controller c's limit for the tenant, written on every run (the policy
 * may have changed). Best effort, and said each time it fails: a limit
 * the kernel refuses (v1 answers EBUSY to a memory limit below what the
 * cgroup uses now) keeps the old one, and must not cost the run its move
 * into the cgroup, which still bounds it by that old limit.
 */
static void
cg_limit(int c, int v2, const struct cgroup_policy *cp, const char *dir,
    const char *slug)
{
	const char	*file;
	char		 val[32], err[PATH_MAX + 128];

	cg_setting(c, v2, cp, &file, val);
	if (cg_write(dir, file, val, err, sizeof(err)) == -1)
		log_warnx("cgroup of %s: %s = %s refused, the old value stays: "
		    "%s", slug, file, val, err);
}

static int
cg_v1(const char *slug, const struct cgroup_policy *cp, char *err,
    size_t errsz)
{
	char		 mnt[PATH_MAX], root[PATH_MAX], own[PATH_MAX];
	char		 base[PATH_MAX], dir[PATH_MAX];
	int		 c;

	for (c = 0; c < CG_NCTRL; c++) {
		if (cg_mount(cg_ctrl[c], mnt, root) == -1)
			return cg_fail(err, errsz, "no cgroup v1 %s hierarchy",
			    cg_ctrl[c]);
		if (cg_self(cg_ctrl[c], own) == -1 ||
		    cg_dir(mnt, root, own, base) == -1)
			return cg_fail(err, errsz, "our own %s cgroup",
			    cg_ctrl[c]);
		/*
		 * Under our own cgroup, so whatever bounds tenantd bounds its
		 * tenants too; if that is not ours to write (a container
		 * manager's), at the hierarchy's root.
		 */
		if (cg_mkdirs(base, CG_SUBDIR, slug, dir) == -1 &&
		    cg_mkdirs(mnt, CG_FALLBACK, slug, dir) == -1)
			return cg_fail(err, errsz, "%s", dir);
		cg_limit(c, 0, cp, dir, slug);
		if (c == CG_CPU)
			cg_idle(cp, dir, slug);
		/*
		 * Ourselves, one thread, by "0" in tasks: the one move the
		 * kernel makes without cgroup_threadgroup_rwsem, whose every
		 * write lock waits for an RCU grace period and holds up
		 * every fork on the machine meanwhile (cgroup_procs_write_
		 * start()). A neighbour's busy processes stretch those
		 * grace periods; see cgroup_place().
		 */
		if (cg_write(dir, "tasks", "0", err, errsz) == -1)
			return -1;
	}
	return 0;
}

static int
cg_v2(const char *slug, const struct cgroup_policy *cp, char *err,
    size_t errsz)
{
	static const char	 ctrls[] = "+cpu +memory +pids";
	char			 mnt[PATH_MAX], root[PATH_MAX], own[PATH_MAX];
	char			 base[PATH_MAX], dir[PATH_MAX], *slash;
	int			 c;

	if (cg_mount(NULL, mnt, root) == -1)
		return cg_fail(err, errsz, "no cgroup v2 hierarchy");
	if (cg_self(NULL, own) == -1)
		return cg_fail(err, errsz, "our own cgroup");
	/*
	 * Not the root cgroup (exempt from the rule above): our parent, and
	 * only when it is delegated to us. Any other we could write as root,
	 * but it is the service manager's to arrange.
	 */
	if (strcmp(own, "/") != 0) {
		if ((slash = strrchr(own, '/')) == own)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (cg_dir(mnt, root, own, base) == -1)
			return cg_fail(err, errsz, "cgroup %s", own);
		if (!cg_delegated(base)) {
			snprintf(err, errsz, "cgroup %s is not delegated to "
			    "tenantd (Delegate= in its unit)", base);
			return -1;
		}
	} else if (cg_dir(mnt, root, own, base) == -1)
		return cg_fail(err, errsz, "cgroup %s", own);
	if (cg_write(base, "cgroup.subtree_control", ctrls, err, errsz) == -1)
		return -1;
	if (cg_mkdirs(base, CG_SUBDIR, slug, dir) == -1)
		return cg_fail(err, errsz, "%s", dir);
	*strrchr(dir, '/') = '\0';
	if (cg_write(dir, "cgroup.subtree_control", ctrls, err, errsz) == -1)
		return -1;
	*strchr(dir, '\0') = '/';
	for (c = 0; c < CG_NCTRL; c++)
		cg_limit(c, 1, cp, dir, slug);
	cg_idle(cp, dir, slug);
	/* "0": ourselves (v2 has no single-thread move for us). */
	return cg_write(dir, "cgroup.procs", "0", err, errsz);
}

/* The calling process into slug's cgroups; 0, or -1 with err set. */
int
cgroup_place(const char *slug, const struct cgroup_policy *cp, char *err,
    size_t errsz)
{
	char	 mnt[PATH_MAX], root[PATH_MAX];

	/* v1 if its controllers have hierarchies of their own (hybrid too). */
	if (cg_mount(cg_ctrl[CG_CPU], mnt, root) == 0)
		return cg_v1(slug, cp, err, errsz);
	return cg_v2(slug, cp, err, errsz);
}

/*
 * Once per boot, not once per run: a machine without cgroups would
 * otherwise log a line for every request a handler answers. The marker is
 * in tenantd's run directory, a tmpfs the next boot starts without.
 */
void
cgroup_warn(const char *err)
{
	int	 fd;

	if ((fd = open(CG_WARNED, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0644)) == -1 && errno == EEXIST)
		return;
	if (fd != -1)
		close(fd);
	log_warnx("tenant code runs without its cgroup (only its rlimits "
	    "bound it; logged once): %s", err);
}
