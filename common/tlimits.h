/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * A tenant's data-plane limits: one table of names, defaults and bounds
 * (pure), filled from three layers, each overriding the one before:
 *   1. policy/tenant.limits             the defaults (from the seeds)
 *   2. policy/profiles/<name>.limits    a named profile, if the tenant has one
 *   3. the registry's tenant_limits      per-tenant overrides (tenantctl limits set)
 * Files use the policy format (tenantd-policy(5)): "name value # why".
 * The ids travel to the worker in MSG_CFG_DATA.
 */
#ifndef TENANTD_TLIMITS_H
#define TENANTD_TLIMITS_H

#include <stddef.h>
#include <stdint.h>

enum tlimit {
	TL_REQUESTS_PER_MINUTE = 1,	/* 1000; 429 beyond, per tenant */
	TL_STORAGE,			/* bytes, 100M; the tenant directory; 507 */
	TL_KV_MAX_ENTRIES,		/* 10000; 507 */
	TL_KV_MAX_KEY,			/* bytes, 256; 400 */
	TL_KV_MAX_VALUE,		/* bytes, 64K; 413 */
	TL_STATEMENT_TIMEOUT,		/* ms, 5000; 504 */
	TL_MAX_CONNECTIONS,		/* 256; supervisor, 503 Retry-After */
	TL_MAX_WORKERS,			/* 4; supervisor */
	TL_KV_PUBLIC_READS,		/* 0/1, 0: reads need the token too */
	TL_COST_READ,			/* credits per KV read, 1 */
	TL_COST_WRITE,			/* credits per KV write or delete, 1 */
	TL_CREDIT_HOLD,			/* credits a worker holds at once, 100 */
	TL_DB_IDLE,			/* ms, 30000: close app.db after */
	TL_INITIAL_CREDITS,		/* granted by tenantctl create, 1000 */
	TL_HANDLER_TIMEOUT,		/* ms, 5000: a handler's wall time; 504 */
	TL_HANDLER_OUTPUT,		/* bytes, 1M: a handler's response; 502 */
	TL_NETWORK,			/* 0/1, 0: tenant code gets no network */
	TL_APP_IDLE,			/* ms, 300000: a persistent app stops */
	TL_COST_RUN,			/* credits per request to tenant code, 1 */
	TL_MAX
};

#define TL_PROFILE_MAX		63	/* a profile name is a slug-like word */
#define TL_FILE			"tenant.limits"	/* in the policy directory */
#define TL_PROFILE_DIR		"profiles"	/* <name>.limits under it */

struct tlimits {
	uint64_t	 tl_val[TL_MAX];
	char		 tl_profile[TL_PROFILE_MAX + 1];	/* "" = none */
	/* Where each value came from: "default", "profile", "tenant". */
	const char	*tl_src[TL_MAX];
};

/* Pure. */
const char	*tlimit_name(enum tlimit);
int		 tlimit_by_name(const char *);		/* -1 if unknown */
/* Parse a value for limit `l` ("100M", "5s", "1000", "on"), within its bounds. */
int		 tlimit_parse(enum tlimit, const char *, uint64_t *,
		    char *err, size_t errsz);
/* Print a value the way tlimit_parse reads it back. */
void		 tlimit_format(enum tlimit, uint64_t, char *, size_t);
void		 tlimits_defaults(struct tlimits *);	/* built-in defaults */
/* 0 if the name may be a profile: [a-z0-9-], no hyphen at either end. */
int		 tlimit_profile_check(const char *);
/* Apply one limits file's text onto *tl, marking what it set with src. */
int		 tlimits_parse(const char *, size_t, struct tlimits *,
		    const char *src, char *err, size_t errsz);

/*
 * With effects: apply policy/tenant.limits, then the profile file if
 * tl_profile is set (the caller sets it from the registry), onto *tl. A
 * missing tenant.limits leaves the built-in defaults; a missing profile
 * file is an error.
 */
int		 tlimits_load(const char *policy_dir, struct tlimits *,
		    char *err, size_t errsz);
/* tenant.limits and every profiles/NAME.limits, parsed; nothing kept. */
int		 tlimits_check(const char *policy_dir, char *, size_t);

#endif
