/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The root half's share of the tenant data plane (docs/data-plane.md):
 * a tenant's effective limits and its derived keys. The storage its
 * directory uses and its credit ledger are the slow thread's (slow.c).
 * The reader half calls these with tenant ids and flat numbers only; it
 * never sees a key, a path or a ledger handle.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "keys.h"
#include "log.h"
#include "proto.h"
#include "registry.h"
#include "supervisor.h"
#include "tlimits.h"

/* Defaults, policy/tenant.limits, the tenant's profile, its overrides. */
int
priv_limits(int64_t id, const char *slug, uint64_t lim[TL_MAX])
{
	struct tlimits	 tl;
	char		 err[512];

	if (tlimits_for_tenant(priv_registry(), conf->c_policy_dir, id, &tl,
	    err, sizeof(err)) == -1) {
		log_warnx("tenant %s: limits: %s", slug, err);
		return -1;
	}
	memcpy(lim, tl.tl_val, sizeof(tl.tl_val));
	return 0;
}

/*
 * The masters the registry lists as live now (current first), read from
 * their files. The caller wipes them.
 */
static int
masters_load(struct master_key *mk, size_t *n, char *err, size_t errsz)
{
	uint32_t	 ids[KEY_MAX_MASTERS];
	int64_t		 na[KEY_MAX_MASTERS];
	char		 dir[PATH_MAX], e[384];
	int		 r;

	if ((r = registry_masters(priv_registry(), (int64_t)time(NULL), ids,
	    na, KEY_MAX_MASTERS)) <= 0) {
		snprintf(err, errsz, "master keys: none in the registry (%s)",
		    r == 0 ? "run tenantctl init" :
		    registry_errmsg(priv_registry()));
		return -1;
	}
	if (config_path(conf, "keys", dir, sizeof(dir)) == -1 ||
	    keys_load(dir, ids, na, (size_t)r, mk, e, sizeof(e)) == -1) {
		snprintf(err, errsz, "master keys: %s", e);
		return -1;
	}
	*n = (size_t)r;
	return 0;
}

/*
 * Every live master read as a worker's start reads it, then wiped: a key
 * file a start would refuse (mode 0644) fails tenantd -n and a reload,
 * not every tenant's next worker.
 */
int
priv_masters_check(char *err, size_t errsz)
{
	struct master_key	 mk[KEY_MAX_MASTERS];
	size_t			 n = 0;

	if (masters_load(mk, &n, err, errsz) == -1)
		return -1;
	keys_wipe(mk, n);
	return 0;
}

/* A fingerprint of which masters are live, to notice a rotation. */
int
priv_masters_stamp(uint64_t *stamp)
{
	uint32_t	 ids[KEY_MAX_MASTERS];
	int64_t		 na[KEY_MAX_MASTERS];
	int		 i, r;

	if ((r = registry_masters(priv_registry(), (int64_t)time(NULL), ids,
	    na, KEY_MAX_MASTERS)) < 0)
		return -1;
	*stamp = 1469598103934665603ULL;
	for (i = 0; i < r; i++) {
		*stamp = (*stamp ^ ids[i]) * 1099511628211ULL;
		*stamp = (*stamp ^ (uint64_t)na[i]) * 1099511628211ULL;
	}
	return 0;
}

/*
 * The config-phase messages of the data plane: one CFG_KEY per purpose and
 * live master, then CFG_DATA with every limit. The worker gets its own
 * tenant's derived keys and, for the API, only a verifier of the token,
 * so even a worker's memory does not hold a usable token. Every buffer
 * that held key material is wiped before we return.
 */
int
priv_bind_data(struct worker *w, const char *slug,
    const uint64_t lim[TL_MAX], unsigned int share, uint64_t other)
{
	struct master_key	 mk[KEY_MAX_MASTERS];
	struct msgbuf		 mb;
	uint8_t			 k[KEY_LEN], v[KEY_LEN];
	char			 err[512];
	size_t			 i, n = 0;
	int			 p, rc = 0;

	if (masters_load(mk, &n, err, sizeof(err)) == -1) {
		log_warnx("tenant %s: %s", slug, err);
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++)
		for (p = KEY_SESSION; p < KEY_PURPOSE_MAX && rc == 0; p++) {
			key_derive(mk[i].mk_key, mk[i].mk_id, slug, p, k);
			msg_init(&mb, MSG_CFG_KEY, 0);
			msg_put_u32(&mb, (uint32_t)p);
			msg_put_u32(&mb, mk[i].mk_id);
			msg_put_u64(&mb, (uint64_t)mk[i].mk_not_after);
			if (p == KEY_API) {
				key_verifier(k, v);
				msg_put(&mb, v, sizeof(v));
			} else
				msg_put(&mb, k, sizeof(k));
			rc = priv_send(w, &mb);
			sodium_memzero(&mb, sizeof(mb));
		}
	sodium_memzero(k, sizeof(k));
	sodium_memzero(v, sizeof(v));
	keys_wipe(mk, n);
	if (rc == -1)
		return -1;

	msg_init(&mb, MSG_CFG_DATA, 0);
	/* Every limit (ids 1 .. TL_MAX - 1), then the storage measured. */
	msg_put_u32(&mb, TL_MAX);
	for (p = 1; p < TL_MAX; p++) {
		msg_put_u32(&mb, (uint32_t)p);
		msg_put_u64(&mb, p == TL_REQUESTS_PER_MINUTE ?
		    rate_share(lim[p], share) : lim[p]);
	}
	msg_put_u32(&mb, DATA_STORAGE_OTHER);
	msg_put_u64(&mb, other);
	return priv_send(w, &mb);
}

/*
 * A worker's share of its tenant's request rate: the tenant's rate split
 * evenly over its live workers, rounded up so a share is never zero.
 */
uint64_t
rate_share(uint64_t rpm, unsigned int nworkers)
{
	if (nworkers <= 1)
		return rpm;
	return (rpm + nworkers - 1) / nworkers;
}
