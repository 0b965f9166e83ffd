/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * What the registry's files share, and nothing outside them includes:
 * the handle and the helpers every statement goes through. registry.h is
 * the interface; this header is not.
 *
 *	registry.c		open and close, the tenants, uid allocation
 *	registry_schema.c	the schema, its migrations and its check
 *	registry_hosts.c	custom hostnames, their generation and cap
 *	registry_audit.c	the append-only audit log
 *	registry_limits.c	per-tenant limits and profiles
 *	registry_masters.c	master keys and their rotation
 */
#ifndef TENANTD_REGISTRY_INT_H
#define TENANTD_REGISTRY_INT_H

#include <stdint.h>

#include <sqlite3.h>

#include "registry.h"
#include "sqlhard.h"

struct registry {
	sqlite3		*r_db;
	struct sqlhard	 r_sh;
	int64_t		 r_data_version;
	char		 r_err[256];
};

/* registry.c */
int	 reg_fail(struct registry *);
int	 reg_exec(struct registry *, const char *);
int64_t	 reg_int(struct registry *, const char *);
int	 reg_end(struct registry *, int);

/* registry_schema.c */
int	 reg_schema(struct registry *, int);
int	 reg_migrate(struct registry *);

#endif
