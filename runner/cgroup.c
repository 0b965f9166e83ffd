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
 * then born inside: tenantd-code/<slug> beside tenantd (v2) or under it
 * (v1), as cgroup_prepare() in common/cgroup.c lays it out; the workers'
 * cgroups, tenantd-workers/<slug>, are their siblings.
 *
 * Cgroups are made when missing and never removed: one empty directory per
 * tenant costs nothing, and removing it would race with the next run.
 * Nothing here is fatal: without cgroups a run still has its rlimits, and
 * the caller logs why once.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "cgroup.h"
#include "run.h"

#define CG_WARNED	TENANTD_RUN_DIR "/cgroup-warned"

/*
 * The calling process, of one thread, into slug's cgroups, the limits
 * written first; 0, or -1 with err set.
 */
int
cgroup_place(const char *slug, const struct cgroup_policy *cp, char *err,
    size_t errsz)
{
	int	 fds[CG_NCTRL], n, i, rc = 0;

	if ((n = cgroup_prepare(CG_CODE, CG_CODE_FALLBACK, slug, cp, 1, fds,
	    err, errsz)) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (rc == 0 && cgroup_join(fds[i], err, errsz) == -1)
			rc = -1;
		close(fds[i]);
	}
	return rc;
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
