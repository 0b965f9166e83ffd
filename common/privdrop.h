/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The one way a tenantd process gives up root for good (docs/security.md,
 * "Sandbox entry"): the worker, tenantd-run's child, and any later role
 * that must hold no privilege call these, in this order, and nothing else
 * changes credentials. Each call proves what it did instead of trusting it;
 * a failure leaves the caller half-dropped, so the caller must exit.
 *
 *   privdrop_last_cap()   while /proc is still reachable (before chroot or
 *                         pivot_root)
 *   (chroot or pivot_root, by the caller: it needs CAP_SYS_CHROOT)
 *   privdrop_ids()        capabilities, securebits, groups, gid, uid; then
 *                         the parent-death signal and non-dumpable
 *   (the caller checks its parent is still alive: the signal was armed
 *                         only now)
 *   privdrop_limits()     rlimits as the new uid, soft = hard
 *   privdrop_nnp()        no_new_privs, read back
 *   (policy_install(): the seccomp filter, last)
 */
#ifndef TENANTD_PRIVDROP_H
#define TENANTD_PRIVDROP_H

#include <sys/types.h>

#include <stddef.h>

struct limits;

struct privdrop {
	uid_t	 pd_uid;
	gid_t	 pd_gid;
	int	 pd_last_cap;	/* from privdrop_last_cap() */
};

int	 privdrop_last_cap(int *, char *, size_t);
int	 privdrop_ids(const struct privdrop *, char *, size_t);
int	 privdrop_limits(const struct limits *, char *, size_t);
int	 privdrop_nnp(char *, size_t);

#endif
