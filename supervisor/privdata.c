/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The root half's share of the tenant data plane (docs/data-plane.md):
 * a tenant's effective limits, its derived keys, the storage its directory
 * uses, and its credit ledger. The reader half calls these with tenant ids
 * and flat numbers only; it never sees a key, a path or a ledger handle.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "keys.h"
#include "ledger.h"
#include "log.h"
#include "proto.h"
#include "registry.h"
#include "supervisor.h"
#include "tlimits.h"

/* A walk that deep or that long is a tenant playing games: stop counting. */
#define WALK_MAX_DEPTH		64
#define WALK_MAX_ENTRIES	1000000

/* Open ledgers, one per tenant with a hold outstanding. */
struct pledger {
	struct pledger	*pl_next;
	int64_t		 pl_tenant;
	struct ledger	*pl_ledger;
	unsigned int	 pl_holds;
};
static struct pledger	*ledgers;

/* The tenant's jail root, opened without following a link. */
static int
tenant_dir_open(int64_t id, char *slug, size_t slugsz)
{
	struct route	 r;
	char		 path[PATH_MAX];
	int		 fd;

	if (priv_tenant(id, &r) != 0)
		return -1;
	if (slug != NULL)
		snprintf(slug, slugsz, "%s", r.r_slug);
	if (snprintf(path, sizeof(path), "%s/tenants/%s", conf->c_state_dir,
	    r.r_slug) >= (int)sizeof(path))
		return -1;
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		log_warn("%s: %s", __func__, path);
	return fd;
}

/* Defaults, policy/tenant.limits, the tenant's profile, its overrides. */
int
priv_limits(int64_t id, uint64_t lim[TL_MAX])
{
	struct tlimits	 tl;
	char		 err[512];

	if (tlimits_for_tenant(priv_registry(), conf->c_policy_dir, id, &tl,
	    err, sizeof(err)) == -1) {
		log_warnx("tenant %lld: limits: %s", (long long)id, err);
		return -1;
	}
	memcpy(lim, tl.tl_val, sizeof(tl.tl_val));
	return 0;
}

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

static int
name_in(const char *name, const char *const *list, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(name, list[i]) == 0)
			return 1;
	return 0;
}

/*
 * Bytes under dirfd, without following links or crossing into another
 * file system, by blocks allocated (a sparse file costs what it uses).
 * `skip` names files in the top-level "data" directory not to count.
 */
static void
walk(int dirfd, dev_t dev, int depth, int in_data, uint64_t *sum,
    unsigned long *n)
{
	static const char *const skip[] = { "app.db", "app.db-wal",
	    "app.db-shm", "app.db-journal" };
	/* Ours, not the tenant's: the ledger grows with its usage reports. */
	static const char *const ours[] = { LEDGER_FILE, LEDGER_FILE "-wal",
	    LEDGER_FILE "-shm", LEDGER_FILE "-journal", "tenant.json" };
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	int		 fd;

	if ((d = fdopendir(dirfd)) == NULL) {
		close(dirfd);
		return;
	}
	while ((de = readdir(d)) != NULL && *n < WALK_MAX_ENTRIES) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		(*n)++;
		if (depth == 0 && name_in(de->d_name, ours, NITEMS(ours)))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		if (in_data && S_ISREG(st.st_mode) &&
		    name_in(de->d_name, skip, NITEMS(skip)))
			continue;
		*sum += (uint64_t)st.st_blocks * 512;
		if (!S_ISDIR(st.st_mode) || st.st_dev != dev ||
		    depth >= WALK_MAX_DEPTH)
			continue;
		if ((fd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) == -1)
			continue;
		walk(fd, dev, depth + 1, depth == 0 &&
		    strcmp(de->d_name, "data") == 0, sum, n);
	}
	closedir(d);
}

/*
 * What the tenant's directory uses apart from the KV database, which the
 * worker bounds itself with max_page_count. Measured as root, so a
 * directory the tenant made unreadable to itself still counts.
 */
int
priv_storage_other(int64_t id, uint64_t *bytes)
{
	struct stat	 st;
	unsigned long	 n = 0;
	int		 fd;

	if ((fd = tenant_dir_open(id, NULL, 0)) == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		close(fd);
		return -1;
	}
	*bytes = 0;
	walk(fd, st.st_dev, 0, 0, bytes, &n);
	return 0;
}

/*
 * The masters the registry lists as live now (current first), read from
 * their files. The caller wipes them.
 */
static int
masters_load(struct master_key *mk, size_t *n)
{
	uint32_t	 ids[KEY_MAX_MASTERS];
	int64_t		 na[KEY_MAX_MASTERS];
	char		 dir[PATH_MAX], err[512];
	int		 r;

	if ((r = registry_masters(priv_registry(), (int64_t)time(NULL), ids,
	    na, KEY_MAX_MASTERS)) <= 0) {
		log_warnx("master keys: none in the registry (%s)",
		    r == 0 ? "run tenantctl init" :
		    registry_errmsg(priv_registry()));
		return -1;
	}
	if (config_path(conf, "keys", dir, sizeof(dir)) == -1 ||
	    keys_load(dir, ids, na, (size_t)r, mk, err, sizeof(err)) == -1) {
		log_warnx("master keys: %s", err);
		return -1;
	}
	*n = (size_t)r;
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
	size_t			 i, n = 0;
	int			 p, rc = 0;

	if (masters_load(mk, &n) == -1)
		return -1;
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

static int
sweep_cb(const struct tenant *t, void *arg)
{
	struct ledger	*l;
	char		 path[PATH_MAX], err[512];
	int		 fd, *n = arg;

	if (t->t_status == TENANT_DELETED ||
	    snprintf(path, sizeof(path), "%s/tenants/%s", conf->c_state_dir,
	    t->t_slug) >= (int)sizeof(path) ||
	    (fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return 0;
	if (faccessat(fd, LEDGER_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		if ((l = ledger_open(fd, 0, err, sizeof(err))) == NULL)
			log_warnx("tenant %s: ledger: %s", t->t_slug, err);
		else {
			if (ledger_holds_close_all(l) == -1)
				log_warnx("tenant %s: ledger: %s", t->t_slug,
				    ledger_errmsg(l));
			ledger_close(l);
			(*n)++;
		}
	}
	close(fd);
	return 0;
}

/*
 * At start, before any worker: every hold still open belonged to a worker
 * that died with the tenantd that granted it. Its unspent part is
 * available again; what it spent without reporting is lost (at most one
 * hold's worth per worker, docs/data-plane.md), never charged twice.
 */
void
priv_ledgers_sweep(void)
{
	int	 n = 0;

	if (registry_tenants(priv_registry(), sweep_cb, &n) != REG_OK)
		log_warnx("ledgers: %s", registry_errmsg(priv_registry()));
	log_debug("ledgers: %d checked for holds left open", n);
}

/* The ledger of a tenant, opened on first use. */
static struct pledger *
ledger_get(int64_t id)
{
	struct pledger	*pl;
	char		 err[512], slug[SLUG_MAX_LEN + 1];
	int		 fd;

	for (pl = ledgers; pl != NULL; pl = pl->pl_next)
		if (pl->pl_tenant == id)
			return pl;
	if ((fd = tenant_dir_open(id, slug, sizeof(slug))) == -1)
		return NULL;
	if ((pl = calloc(1, sizeof(*pl))) == NULL) {
		close(fd);
		return NULL;
	}
	/* A tenant created before the ledger existed gets an empty one. */
	pl->pl_ledger = ledger_open(fd, 1, err, sizeof(err));
	close(fd);
	if (pl->pl_ledger == NULL) {
		log_warnx("tenant %s: ledger: %s", slug, err);
		free(pl);
		return NULL;
	}
	pl->pl_tenant = id;
	pl->pl_next = ledgers;
	ledgers = pl;
	return pl;
}

static void
ledger_put(struct pledger *pl)
{
	struct pledger	**pp;

	if (pl->pl_holds > 0)
		return;
	for (pp = &ledgers; *pp != NULL; pp = &(*pp)->pl_next)
		if (*pp == pl) {
			*pp = pl->pl_next;
			break;
		}
	ledger_close(pl->pl_ledger);
	free(pl);
}

/*
 * Open a hold for a worker (*hold == 0) or grow it. On any ledger error
 * nothing is granted: the worker answers 402 rather than spend credits we
 * could not reserve.
 */
int
priv_hold(int64_t id, int64_t *hold, pid_t owner, int64_t want,
    int64_t *granted)
{
	struct pledger	*pl;
	char		 who[64];
	int64_t		 h;

	*granted = 0;
	if ((pl = ledger_get(id)) == NULL)
		return -1;
	if (*hold == 0) {
		snprintf(who, sizeof(who), "worker %d", (int)owner);
		if ((h = ledger_hold_open(pl->pl_ledger, who, want,
		    granted)) == -1)
			goto fail;
		*hold = h;
		pl->pl_holds++;
		return 0;
	}
	if (ledger_hold_extend(pl->pl_ledger, *hold, want, granted) == -1)
		goto fail;
	return 0;
fail:
	log_warnx("tenant %lld: ledger: %s", (long long)id,
	    ledger_errmsg(pl->pl_ledger));
	ledger_put(pl);
	return -1;
}

/* 0: committed (on disk); 1: a report already recorded; -1: refused. */
int
priv_usage(int64_t id, int64_t hold, uint64_t seq, int64_t units)
{
	struct pledger	*pl;
	int		 rc;

	if ((pl = ledger_get(id)) == NULL)
		return -1;
	if ((rc = ledger_usage(pl->pl_ledger, hold, seq, units)) == -1)
		log_warnx("tenant %lld: ledger: %s", (long long)id,
		    ledger_errmsg(pl->pl_ledger));
	return rc;
}

/*
 * Close a worker's hold, charging first what it took and did not report
 * (`unreported`, as its report `seq`; pool_worker_exited() says how much).
 * A failed charge is logged and the hold closed all the same: the tenant
 * is then under-charged, as for any report the ledger could not take.
 */
void
priv_hold_close(int64_t id, int64_t hold, uint64_t seq, int64_t unreported)
{
	struct pledger	*pl;

	if ((pl = ledger_get(id)) == NULL)
		return;
	if (unreported > 0) {
		if (ledger_usage(pl->pl_ledger, hold, seq, unreported) == -1)
			log_warnx("tenant %lld: ledger: hold %lld: %lld "
			    "unreported credits NOT charged: %s", (long long)id,
			    (long long)hold, (long long)unreported,
			    ledger_errmsg(pl->pl_ledger));
		else
			log_info("tenant %lld: ledger: hold %lld: %lld "
			    "credits taken and never reported, charged",
			    (long long)id, (long long)hold,
			    (long long)unreported);
	}
	if (ledger_hold_close(pl->pl_ledger, hold) == -1)
		log_warnx("tenant %lld: ledger: %s", (long long)id,
		    ledger_errmsg(pl->pl_ledger));
	if (pl->pl_holds > 0)
		pl->pl_holds--;
	ledger_put(pl);
}
