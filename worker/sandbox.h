/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The worker's sandbox, behind two calls (model: OpenSSH ssh-sandbox.h).
 * tests/security/probe.c enters it through exactly these calls.
 */
#ifndef TENANTD_SANDBOX_H
#define TENANTD_SANDBOX_H

#include <sys/types.h>

#include <limits.h>

#include "policy.h"

struct sandbox_params {
	uid_t		 sp_uid;
	gid_t		 sp_gid;
	pid_t		 sp_parent;	/* the supervisor: we die with it */
	char		 sp_root[PATH_MAX];
	char		 sp_policy[PATH_MAX];
	struct limits	 sp_limits;
};

struct sandbox {
	void		*sb_filter;
	int		 sb_last_cap;
};

int	 sandbox_prepare(struct sandbox *, const struct sandbox_params *,
	    char *, size_t);
int	 sandbox_enter(struct sandbox *, const struct sandbox_params *,
	    char *, size_t);

#endif
