/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 */
#ifndef TENANTD_TENANTCTL_H
#define TENANTD_TENANTCTL_H

#include <sys/types.h>

#include "registry.h"

/* Exit codes: documented in tenantctl(8) and relied on by scripts. */
#define EX_OK_		0
#define EX_FAIL		1	/* I/O, database, anything unexpected */
#define EX_USAGE_	2	/* bad command line */
#define EX_INVALID	3	/* slug or hostname breaks the rules */
#define EX_NOTFOUND	4	/* no such tenant or hostname */
#define EX_CONFLICT	5	/* exists, reserved, or a deleted tenant's slug */
#define EX_STATE	6	/* not possible in the tenant's status */
#define EX_FULL		7	/* uid range exhausted */
#define EX_NOINIT	8	/* state directory not initialised */

/* provision.c */
int	 provision_tenant(int, const char *, const struct tenant *,
	    const char *, char *, size_t);
int	 purge_tenant(int, const char *, char *, size_t);

#endif
