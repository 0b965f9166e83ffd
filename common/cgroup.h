/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Our cgroups: where the hierarchies are mounted, which cgroup we are in,
 * and tenantd's move into a leaf of a delegated v2 cgroup (cgroup.c).
 */
#ifndef TENANTD_CGROUP_H
#define TENANTD_CGROUP_H

#include <limits.h>
#include <stddef.h>

/* tenantd's own cgroup under a delegated v2 one: see cgroup_leaf(). */
#define CG_LEAF		"supervisor"

/*
 * The tenants' cgroups beside it: tenant code's (runner/cgroup.c) and the
 * workers' (supervisor/priv.c), and where each goes on v1 when tenantd's
 * own cgroup is not ours to write (at the hierarchy's root).
 */
#define CG_CODE		"tenantd-code"
#define CG_CODE_FALLBACK "tenantd"
#define CG_WORKERS	"tenantd-workers"
#define CG_WORKERS_FALLBACK "tenantd-workers"

/* The controllers a tenant's cgroup has: at most one move file each. */
enum { CG_CPU, CG_MEMORY, CG_PIDS, CG_NCTRL };

struct cgroup_policy;

/*
 * Each -1 with errno set (cg_fail, cg_write: also err), 0 on success.
 * ctrl is a v1 controller's name, or NULL for the unified hierarchy.
 */
int	 cg_fail(char *, size_t, const char *, ...)
	    __attribute__((__format__(__printf__, 3, 4)));
int	 cg_mount(const char *, char [PATH_MAX], char [PATH_MAX]);
int	 cg_self(const char *, char [PATH_MAX]);
int	 cg_dir(const char *, const char *, const char *, char [PATH_MAX]);
int	 cg_write(const char *, const char *, const char *, char *, size_t);
int	 cg_delegated(const char *);
int	 cgroup_leaf(char *, size_t);
int	 cgroup_prepare(const char *, const char *, const char *,
	    const struct cgroup_policy *, int, int [CG_NCTRL], char *, size_t);
int	 cgroup_join(int, char *, size_t);

#endif
