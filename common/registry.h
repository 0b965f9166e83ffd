/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The tenant registry: one SQLite database, written by tenantctl only, read
 * by the supervisor's trusted half. Slug and hostname rules live in the
 * schema too (CHECK constraints and triggers), so a hand edit with sqlite3
 * cannot break them either.
 */
#ifndef TENANTD_REGISTRY_H
#define TENANTD_REGISTRY_H

#include <stdint.h>

#include "host.h"
#include "slug.h"

#define REGISTRY_VERSION	3

enum reg_result {
	REG_OK = 0,
	REG_NOTFOUND,
	REG_EXISTS,	/* slug or hostname already taken */
	REG_RESERVED,	/* a system name */
	REG_TOMBSTONE,	/* the slug of a deleted tenant: never reissued */
	REG_INVALID,	/* fails the rules */
	REG_STATE,	/* not allowed in the current status */
	REG_FULL,	/* uid range exhausted, or a cap reached */
	REG_DB = -1,	/* database error: see registry_errmsg() */
};

enum tenant_status {
	TENANT_ACTIVE = 0,
	TENANT_SUSPENDED,
	TENANT_DELETED,
};

struct tenant {
	int64_t			 t_id;
	char			 t_slug[SLUG_MAX_LEN + 1];
	uint32_t		 t_uid;
	uint32_t		 t_gid;
	enum tenant_status	 t_status;
	int64_t			 t_created;
	int64_t			 t_updated;
};

struct hostname {
	char		 h_name[HOST_NAME_MAX_LEN + 1];
	char		 h_slug[SLUG_MAX_LEN + 1];
	int		 h_active;
	int64_t		 h_created;
};

#define REG_RDONLY	0x01
#define REG_CREATE	0x02

struct registry;

struct registry	*registry_open(const char *, int, char *, size_t);
void		 registry_close(struct registry *);
const char	*registry_errmsg(struct registry *);
int		 registry_changed(struct registry *);

int	 registry_tenant_get(struct registry *, const char *, struct tenant *);
int	 registry_tenant_by_id(struct registry *, int64_t, struct tenant *);
int	 registry_host_tenant(struct registry *, const char *, struct tenant *);
int	 registry_tenants(struct registry *,
	    int (*)(const struct tenant *, void *), void *);
int	 registry_hosts(struct registry *, int64_t, int,
	    int (*)(const struct hostname *, void *), void *);
int	 registry_hosts_gen(struct registry *, int64_t, uint64_t *);

int	 registry_tenant_create(struct registry *, const char *, uint32_t,
	    uint32_t, const char *, struct tenant *);
int	 registry_tenant_set_status(struct registry *, const char *,
	    enum tenant_status, const char *);
int	 registry_host_add(struct registry *, const char *, const char *,
	    int, const char *);
int	 registry_hosts_add(struct registry *, const char *,
	    const char *const *, size_t, int, const char *);
int	 registry_host_remove(struct registry *, const char *, const char *,
	    const char *);
int	 registry_host_activate(struct registry *, const char *, const char *,
	    const char *);
int	 registry_audit(struct registry *, const char *, const char *,
	    const char *, const char *);
int	 registry_audit_list(struct registry *, const char *,
	    int (*)(int64_t, const char *, const char *, const char *,
	    const char *, void *), void *);

const char	*tenant_status_str(enum tenant_status);

/* Tenant limits (tlimits.h): the profile and per-tenant overrides. */
struct tlimits;
int	 registry_limits(struct registry *, int64_t, struct tlimits *);
int	 tlimits_for_tenant(struct registry *, const char *, int64_t,
	    struct tlimits *, char *, size_t);
int	 registry_limit_set(struct registry *, const char *, const char *,
	    const char *, const char *);

/* Master keys (keys.h): which work now, and rotation. */
int	 registry_masters(struct registry *, int64_t, uint32_t *, int64_t *,
	    size_t);
int	 registry_masters_all(struct registry *,
	    int (*)(uint32_t, int64_t, int64_t, void *), void *);
int	 registry_master_next(struct registry *, uint32_t *);
int	 registry_master_rotate(struct registry *, int64_t, const char *,
	    uint32_t *);

#endif
