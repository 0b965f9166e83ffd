/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Host -> tenant, through a cache in front of the registry. The cache is
 * keyed by the canonical host with SipHash under a random key, so a flood
 * of made-up hosts cannot be aimed at one bucket, and it holds negative
 * answers too (docs/security.md, item 47), bounded: when full it is simply
 * emptied.
 *
 * Freshness: every lookup first compares the registry generation that
 * tenantctl bumps after each change; a different value empties the cache
 * and tells the pool. So a suspend, delete or hostname removal applies to
 * the very next request. An inotify watch on the generation file applies
 * it even with no traffic, and a once-a-second look at SQLite's
 * data_version catches an edit made without tenantctl.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gen.h"
#include "log.h"
#include "supervisor.h"

#define ROUTE_BUCKETS	16384
#define ROUTE_MAX	65536

struct route_ent {
	struct route_ent *re_next;
	int		 re_found;
	struct route	 re_route;
	size_t		 re_len;
	char		 re_name[HOST_NAME_MAX_LEN + 1];
};

static struct route_ent	*buckets[ROUTE_BUCKETS];
static size_t		 nentries;
static unsigned char	 hkey[crypto_shorthash_KEYBYTES];
static struct gen	 genmap;
static uint64_t		 cached_gen;
static ev_stat		 gen_watch;
static ev_timer		 dv_timer;
static char		 gen_path[PATH_MAX];

static void
route_flush(void)
{
	struct route_ent	*e, *n;
	size_t			 i;

	for (i = 0; i < ROUTE_BUCKETS; i++) {
		for (e = buckets[i]; e != NULL; e = n) {
			n = e->re_next;
			free(e);
		}
		buckets[i] = NULL;
	}
	nentries = 0;
}

static void
route_changed(const char *why)
{
	log_debug("registry changed (%s), generation %llu", why,
	    (unsigned long long)cached_gen);
	route_flush();
	pool_registry_changed();
}

static void
route_check_gen(void)
{
	uint64_t	 g = gen_read(&genmap);

	if (g != cached_gen) {
		cached_gen = g;
		route_changed("generation");
	}
}

static void
gen_watch_cb(struct ev_loop *l, ev_stat *w, int revents)
{
	route_check_gen();
}

static void
dv_timer_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	route_check_gen();
	if (priv_registry_changed())
		route_changed("data_version");
}

/*
 * A worker handed a connection back as stale. tenantctl bumps a tenant's
 * slot before the global counter (common/gen.c), so the worker may have
 * seen its slot move before we see the counter: routed again now, the
 * connection would bounce back and forth until the hop limit answered it
 * 503. If the slot did move since the worker was told, the registry
 * changed, and is taken as changed now. A worker that says stale when it
 * is not costs one read of its slot.
 */
void
route_check_slot(const struct worker *w)
{
	uint64_t	 v;

	if (priv_gen_slot(w->w_tenant->t_id, &v) == 0 && v != w->w_gen)
		route_changed("slot");
}

void
route_init(void)
{
	if (config_path(conf, GEN_FILE, gen_path, sizeof(gen_path)) == -1)
		fatal("state_dir");
	/* Read-only: only tenantctl writes it (priv_init made sure it exists). */
	if (gen_map(&genmap, gen_path, 0) == -1)
		fatal("%s", gen_path);
	cached_gen = gen_read(&genmap);
	randombytes_buf(hkey, sizeof(hkey));
	ev_stat_init(&gen_watch, gen_watch_cb, gen_path, 0.);
	ev_stat_start(loop, &gen_watch);
	ev_timer_init(&dv_timer, dv_timer_cb, 1., 1.);
	ev_timer_start(loop, &dv_timer);
}

uint64_t
route_gen(void)
{
	return cached_gen;
}

/* 0: a tenant (any status), 1: none, -1: the registry failed (answer 503). */
int
route_resolve(const struct host_result *hr, struct route *out)
{
	struct route_ent	*e;
	unsigned char		 h[crypto_shorthash_BYTES];
	uint64_t		 hv;
	size_t			 b;
	int			 rc;

	route_check_gen();
	crypto_shorthash(h, (const unsigned char *)hr->hr_name,
	    hr->hr_name_len, hkey);
	memcpy(&hv, h, sizeof(hv));
	b = hv % ROUTE_BUCKETS;
	for (e = buckets[b]; e != NULL; e = e->re_next)
		if (e->re_len == hr->hr_name_len &&
		    memcmp(e->re_name, hr->hr_name, e->re_len) == 0) {
			*out = e->re_route;
			return e->re_found ? 0 : 1;
		}
	memset(out, 0, sizeof(*out));
	if ((rc = priv_resolve(hr, out)) == -1)
		return -1;
	if (nentries >= ROUTE_MAX)
		route_flush();
	if ((e = calloc(1, sizeof(*e))) != NULL) {
		e->re_found = rc == 0;
		e->re_route = *out;
		e->re_len = hr->hr_name_len;
		memcpy(e->re_name, hr->hr_name, hr->hr_name_len);
		e->re_next = buckets[b];
		buckets[b] = e;
		nentries++;
	}
	return rc;
}
