/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * A tenant's custom hostnames: the lists, the generation of each tenant's
 * list that the schema's triggers bump (docs/routing.md), and the writes:
 * add (all or none, at most HOST_TENANT_MAX a tenant), remove, activate.
 * The tenant an active name routes to is found with the other tenant
 * lookups, registry_host_tenant() in registry.c.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "host.h"
#include "registry.h"
#include "registry_int.h"

/*
 * Hostnames of one tenant (id > 0) or of all; only active ones if asked.
 * The callback returns 0 to go on, 1 to stop (a search that found what it
 * wanted) or -1 when it failed: then so does the walk, with REG_DB, so a
 * caller never takes part of a list for the whole of it.
 */
int
registry_hosts(struct registry *r, int64_t id, int active_only,
    int (*cb)(const struct hostname *, void *), void *arg)
{
	sqlite3_stmt	*st;
	struct hostname	 h;
	int		 rc, cr = 0;

	r->r_err[0] = '\0';
	if (sqlite3_prepare_v2(r->r_db, "SELECT h.hostname, t.slug, "
	    "h.status = 'active', h.created FROM hostnames h "
	    "JOIN tenants t ON t.id = h.tenant_id "
	    "WHERE (?1 = 0 OR h.tenant_id = ?1) "
	    "AND (?2 = 0 OR h.status = 'active') ORDER BY h.hostname",
	    -1, &st, NULL) != SQLITE_OK)
		return reg_fail(r);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, active_only);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&h, 0, sizeof(h));
		snprintf(h.h_name, sizeof(h.h_name), "%s",
		    (const char *)sqlite3_column_text(st, 0));
		snprintf(h.h_slug, sizeof(h.h_slug), "%s",
		    (const char *)sqlite3_column_text(st, 1));
		h.h_active = sqlite3_column_int(st, 2);
		h.h_created = sqlite3_column_int64(st, 3);
		if ((cr = cb(&h, arg)) != 0)
			break;
	}
	if (cr == -1) {
		snprintf(r->r_err, sizeof(r->r_err), "%.200s: not handled, "
		    "the list is incomplete", h.h_name);
		rc = REG_DB;
	} else
		rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? REG_OK :
		    reg_fail(r);
	sqlite3_finalize(st);
	return rc;
}

/*
 * The generation of a tenant's hostnames (0 if they never changed): the
 * schema's triggers bump it with every change to them.
 */
int
registry_hosts_gen(struct registry *r, int64_t id, uint64_t *gen)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (sqlite3_prepare_v2(r->r_db, "SELECT coalesce((SELECT gen FROM "
	    "hostname_gen WHERE tenant_id = ?), 0)", -1, &st, NULL) !=
	    SQLITE_OK)
		return reg_fail(r);
	sqlite3_bind_int64(st, 1, id);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*gen = (uint64_t)sqlite3_column_int64(st, 0);
		rc = REG_OK;
	} else
		rc = reg_fail(r);
	sqlite3_finalize(st);
	return rc;
}

/*
 * Add n custom hostnames to a tenant in one transaction: all of them or,
 * with the first that cannot be added named in the error, none. A tenant
 * has at most HOST_TENANT_MAX (REG_FULL), which is checked here for a
 * clear answer and by the schema for a hand edit.
 */
int
registry_hosts_add(struct registry *r, const char *slug,
    const char *const *hosts, size_t n, int active, const char *actor)
{
	sqlite3_stmt	*st;
	struct tenant	 t;
	char		 canon[HOST_NAME_MAX_LEN + 1];
	int64_t		 have;
	size_t		 clen, i;
	unsigned int	 port;
	int		 rc;

	r->r_err[0] = '\0';
	/*
	 * The schema checks the characters; the label and length rules and
	 * "no IP literal" are the classifier's, so only a name it would
	 * route gets in (the suffix rule needs the config: tenantctl's).
	 */
	for (i = 0; i < n; i++)
		if (host_canonical(hosts[i], strlen(hosts[i]), canon, &clen,
		    &port) == -1 || port != 0 || strcmp(canon, hosts[i]) != 0) {
			snprintf(r->r_err, sizeof(r->r_err), "%s: not a "
			    "canonical hostname", hosts[i]);
			return REG_INVALID;
		}
	if (reg_exec(r, "BEGIN IMMEDIATE") != REG_OK)
		return REG_DB;
	if ((rc = registry_tenant_get(r, slug, &t)) != REG_OK)
		return reg_end(r, rc);
	if (t.t_status == TENANT_DELETED)
		return reg_end(r, REG_NOTFOUND);
	if (sqlite3_prepare_v2(r->r_db, "SELECT count(*) FROM hostnames "
	    "WHERE tenant_id = ?", -1, &st, NULL) != SQLITE_OK)
		return reg_end(r, reg_fail(r));
	sqlite3_bind_int64(st, 1, t.t_id);
	rc = sqlite3_step(st) == SQLITE_ROW ? REG_OK : reg_fail(r);
	have = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != REG_OK)
		return reg_end(r, rc);
	if (have + (int64_t)n > HOST_TENANT_MAX) {
		snprintf(r->r_err, sizeof(r->r_err), "tenant \"%s\" has %lld "
		    "custom hostnames; %zu more would pass the cap of %d per "
		    "tenant", slug, (long long)have, n, HOST_TENANT_MAX);
		return reg_end(r, REG_FULL);
	}
	if (sqlite3_prepare_v2(r->r_db, "INSERT INTO hostnames (hostname, "
	    "tenant_id, status, created) VALUES (?, ?, ?, ?)", -1, &st,
	    NULL) != SQLITE_OK)
		return reg_end(r, reg_fail(r));
	for (i = 0, rc = REG_OK; i < n && rc == REG_OK; i++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, hosts[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, t.t_id);
		sqlite3_bind_text(st, 3, active ? "active" : "pending", -1,
		    SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, time(NULL));
		rc = sqlite3_step(st);
		if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
			snprintf(r->r_err, sizeof(r->r_err), "%s is already "
			    "registered", hosts[i]);
			rc = REG_EXISTS;
		} else if ((rc & 0xff) == SQLITE_CONSTRAINT) {
			snprintf(r->r_err, sizeof(r->r_err), "%s: %s",
			    hosts[i], sqlite3_errmsg(r->r_db));
			rc = REG_INVALID;
		} else
			rc = rc == SQLITE_DONE ? REG_OK : reg_fail(r);
		if (rc == REG_OK)
			rc = registry_audit(r, actor, active ?
			    "hostname-add-active" : "hostname-add", slug,
			    hosts[i]);
	}
	sqlite3_finalize(st);
	return reg_end(r, rc);
}

int
registry_host_add(struct registry *r, const char *slug, const char *host,
    int active, const char *actor)
{
	return registry_hosts_add(r, slug, &host, 1, active, actor);
}

static int
reg_host_owned(struct registry *r, const char *slug, const char *host,
    struct tenant *t)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((rc = registry_tenant_get(r, slug, t)) != REG_OK)
		return rc;
	if (sqlite3_prepare_v2(r->r_db, "SELECT 1 FROM hostnames "
	    "WHERE hostname = ? AND tenant_id = ?", -1, &st, NULL) != SQLITE_OK)
		return reg_fail(r);
	sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, t->t_id);
	rc = sqlite3_step(st) == SQLITE_ROW ? REG_OK : REG_NOTFOUND;
	sqlite3_finalize(st);
	return rc;
}

static int
reg_host_change(struct registry *r, const char *slug, const char *host,
    const char *sql, const char *actor, const char *action)
{
	sqlite3_stmt	*st;
	struct tenant	 t;
	int		 rc;

	r->r_err[0] = '\0';
	if (reg_exec(r, "BEGIN IMMEDIATE") != REG_OK)
		return REG_DB;
	if ((rc = reg_host_owned(r, slug, host, &t)) != REG_OK)
		return reg_end(r, rc);
	if (sqlite3_prepare_v2(r->r_db, sql, -1, &st, NULL) != SQLITE_OK)
		return reg_end(r, reg_fail(r));
	sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? REG_OK : reg_fail(r);
	sqlite3_finalize(st);
	if (rc != REG_OK)
		return reg_end(r, rc);
	return reg_end(r, registry_audit(r, actor, action, slug, host));
}

int
registry_host_remove(struct registry *r, const char *slug, const char *host,
    const char *actor)
{
	return reg_host_change(r, slug, host,
	    "DELETE FROM hostnames WHERE hostname = ?", actor,
	    "hostname-remove");
}

int
registry_host_activate(struct registry *r, const char *slug, const char *host,
    const char *actor)
{
	return reg_host_change(r, slug, host,
	    "UPDATE hostnames SET status = 'active' WHERE hostname = ?", actor,
	    "hostname-activate");
}
