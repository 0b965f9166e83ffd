/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Registry on SQLite: open and close, the tenants and their uids, and the
 * helpers every statement of the registry's files goes through
 * (registry_int.h lists the files). Prepared statements only; WAL with
 * synchronous=FULL (identity is not where we trade durability for speed);
 * the file is opened the one hardened way (sqlhard.h) and its schema
 * compared, SQL text and all, with what the migrations make
 * (registry_schema.c) before it is used.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "registry.h"
#include "registry_int.h"
#include "sqlhard.h"

int
reg_fail(struct registry *r)
{
	snprintf(r->r_err, sizeof(r->r_err), "%s", sqlite3_errmsg(r->r_db));
	return REG_DB;
}

int
reg_exec(struct registry *r, const char *sql)
{
	char	*msg = NULL;

	if (sqlite3_exec(r->r_db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(r->r_err, sizeof(r->r_err), "%s",
		    msg ? msg : sqlite3_errmsg(r->r_db));
		sqlite3_free(msg);
		return REG_DB;
	}
	return REG_OK;
}

int64_t
reg_int(struct registry *r, const char *sql)
{
	sqlite3_stmt	*st;
	int64_t		 v = -1;

	if (sqlite3_prepare_v2(r->r_db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Ends a write transaction: commit on success, roll back otherwise. */
int
reg_end(struct registry *r, int rc)
{
	char	 saved[sizeof(r->r_err)];

	if (rc == REG_OK)
		return reg_exec(r, "COMMIT") == REG_OK ? REG_OK : REG_DB;
	memcpy(saved, r->r_err, sizeof(saved));
	reg_exec(r, "ROLLBACK");
	memcpy(r->r_err, saved, sizeof(saved));
	return rc;
}

/*
 * Open the registry. REG_CREATE creates and migrates it (tenantctl init);
 * REG_RDONLY is how the supervisor reads it. A writer also migrates an older
 * schema forward; a reader refuses a schema it does not know.
 */
struct registry *
registry_open(const char *path, int flags, char *err, size_t errsz)
{
	struct registry	*r;
	int		 oflags, v;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errsz, "%s", strerror(errno));
		return NULL;
	}
	oflags = SQLITE_OPEN_NOMUTEX;
	if (flags & REG_RDONLY)
		oflags |= SQLITE_OPEN_READONLY;
	else
		oflags |= SQLITE_OPEN_READWRITE |
		    ((flags & REG_CREATE) ? SQLITE_OPEN_CREATE : 0);
	if ((r->r_db = sqlhard_open(path, oflags, NULL, &r->r_sh,
	    SQLHARD_BUDGET_MS, err, errsz)) == NULL)
		goto fail;
	sqlite3_busy_timeout(r->r_db, 5000);
	if (reg_exec(r, "PRAGMA foreign_keys = ON") != REG_OK)
		goto dberr;
	if (!(flags & REG_RDONLY)) {
		if (reg_exec(r, "PRAGMA journal_mode = WAL") != REG_OK ||
		    reg_exec(r, "PRAGMA synchronous = FULL") != REG_OK ||
		    reg_migrate(r) != REG_OK)
			goto dberr;
	}
	v = (int)reg_int(r, "PRAGMA user_version");
	if (v != REGISTRY_VERSION) {
		snprintf(err, errsz, "%s: registry schema version %d, this "
		    "tenantd needs %d%s", path, v, REGISTRY_VERSION,
		    v < REGISTRY_VERSION ?
		    " (run tenantctl init to upgrade it)" : "");
		goto fail;
	}
	/* Reader and writer alike, before the first query of ours. */
	if (reg_schema(r, REGISTRY_VERSION) != REG_OK)
		goto dberr;
	r->r_data_version = reg_int(r, "PRAGMA data_version");
	return r;
 dberr:
	snprintf(err, errsz, "%s: %s", path, r->r_err);
 fail:
	sqlite3_close(r->r_db);
	free(r);
	return NULL;
}

void
registry_close(struct registry *r)
{
	if (r == NULL)
		return;
	sqlite3_close(r->r_db);
	free(r);
}

const char *
registry_errmsg(struct registry *r)
{
	return r->r_err;
}

/*
 * Has another connection committed since we last asked? A cheap safety net
 * for changes made without bumping the generation (a hand edit).
 */
int
registry_changed(struct registry *r)
{
	int64_t	 v = reg_int(r, "PRAGMA data_version");

	if (v == r->r_data_version)
		return 0;
	r->r_data_version = v;
	return 1;
}

const char *
tenant_status_str(enum tenant_status s)
{
	switch (s) {
	case TENANT_ACTIVE:
		return "active";
	case TENANT_SUSPENDED:
		return "suspended";
	case TENANT_DELETED:
		return "deleted";
	}
	return "unknown";
}

static enum tenant_status
tenant_status_parse(const unsigned char *s)
{
	if (s != NULL && strcmp((const char *)s, "active") == 0)
		return TENANT_ACTIVE;
	if (s != NULL && strcmp((const char *)s, "suspended") == 0)
		return TENANT_SUSPENDED;
	return TENANT_DELETED;
}

#define TENANT_COLS	"t.id, t.slug, t.uid, t.gid, t.status, t.created, " \
			"t.updated"

static void
tenant_row(sqlite3_stmt *st, struct tenant *t)
{
	memset(t, 0, sizeof(*t));
	t->t_id = sqlite3_column_int64(st, 0);
	snprintf(t->t_slug, sizeof(t->t_slug), "%s",
	    (const char *)sqlite3_column_text(st, 1));
	t->t_uid = (uint32_t)sqlite3_column_int64(st, 2);
	t->t_gid = (uint32_t)sqlite3_column_int64(st, 3);
	t->t_status = tenant_status_parse(sqlite3_column_text(st, 4));
	t->t_created = sqlite3_column_int64(st, 5);
	t->t_updated = sqlite3_column_int64(st, 6);
}

static int
tenant_query(struct registry *r, const char *sql, const char *s, int64_t id,
    struct tenant *t)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (sqlite3_prepare_v2(r->r_db, sql, -1, &st, NULL) != SQLITE_OK)
		return reg_fail(r);
	if (s != NULL)
		sqlite3_bind_text(st, 1, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		tenant_row(st, t);
		rc = REG_OK;
	} else if (rc == SQLITE_DONE)
		rc = REG_NOTFOUND;
	else
		rc = reg_fail(r);
	sqlite3_finalize(st);
	return rc;
}

int
registry_tenant_get(struct registry *r, const char *slug, struct tenant *t)
{
	return tenant_query(r, "SELECT " TENANT_COLS " FROM tenants t "
	    "WHERE t.slug = ?", slug, 0, t);
}

int
registry_tenant_by_id(struct registry *r, int64_t id, struct tenant *t)
{
	return tenant_query(r, "SELECT " TENANT_COLS " FROM tenants t "
	    "WHERE t.id = ?", NULL, id, t);
}

/* The tenant an *active* custom hostname belongs to. */
int
registry_host_tenant(struct registry *r, const char *host, struct tenant *t)
{
	return tenant_query(r, "SELECT " TENANT_COLS " FROM hostnames h "
	    "JOIN tenants t ON t.id = h.tenant_id "
	    "WHERE h.hostname = ? AND h.status = 'active'", host, 0, t);
}

int
registry_tenants(struct registry *r, int (*cb)(const struct tenant *, void *),
    void *arg)
{
	sqlite3_stmt	*st;
	struct tenant	 t;
	int		 rc;

	if (sqlite3_prepare_v2(r->r_db, "SELECT " TENANT_COLS " FROM tenants t "
	    "ORDER BY t.slug", -1, &st, NULL) != SQLITE_OK)
		return reg_fail(r);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		tenant_row(st, &t);
		if (cb(&t, arg) == -1)
			break;
	}
	rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? REG_OK : reg_fail(r);
	sqlite3_finalize(st);
	return rc;
}

static int
reg_reserved_kind(struct registry *r, const char *slug)
{
	sqlite3_stmt	*st;
	int		 rc = REG_OK;

	if (sqlite3_prepare_v2(r->r_db, "SELECT kind FROM reserved "
	    "WHERE slug = ?", -1, &st, NULL) != SQLITE_OK)
		return reg_fail(r);
	sqlite3_bind_text(st, 1, slug, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		rc = strcmp((const char *)sqlite3_column_text(st, 0),
		    "tombstone") == 0 ? REG_TOMBSTONE : REG_RESERVED;
	sqlite3_finalize(st);
	return rc;
}

/*
 * The next free id in [lo, hi]: above every id ever issued (deleted tenants
 * keep theirs, so an id is never reused) and unknown to the host's passwd
 * and group databases.
 */
static int
reg_alloc_id(struct registry *r, uint32_t lo, uint32_t hi, uint32_t *out)
{
	int64_t		 max, cand;

	max = reg_int(r, "SELECT coalesce(max(max(uid), max(gid)), 0) "
	    "FROM tenants");
	if (max < 0)
		return reg_fail(r);
	cand = max + 1 > (int64_t)lo ? max + 1 : (int64_t)lo;
	for (; cand <= (int64_t)hi; cand++) {
		if (getpwuid((uid_t)cand) != NULL ||
		    getgrgid((gid_t)cand) != NULL)
			continue;
		*out = (uint32_t)cand;
		return REG_OK;
	}
	snprintf(r->r_err, sizeof(r->r_err), "no free uid in %u..%u", lo, hi);
	return REG_FULL;
}

int
registry_tenant_create(struct registry *r, const char *slug, uint32_t lo,
    uint32_t hi, const char *actor, struct tenant *out)
{
	sqlite3_stmt	*st;
	uint32_t	 id = 0;	/* reg_alloc_id() sets it */
	int64_t		 now = time(NULL);
	int		 rc;
	char		 detail[64];

	r->r_err[0] = '\0';
	if (slug_check_syntax(slug, strlen(slug)) != SLUG_OK)
		return REG_INVALID;
	if (reg_exec(r, "BEGIN IMMEDIATE") != REG_OK)
		return REG_DB;
	if ((rc = reg_reserved_kind(r, slug)) != REG_OK)
		return reg_end(r, rc);
	if ((rc = registry_tenant_get(r, slug, out)) != REG_NOTFOUND)
		return reg_end(r, rc == REG_OK ? REG_EXISTS : rc);
	if ((rc = reg_alloc_id(r, lo, hi, &id)) != REG_OK)
		return reg_end(r, rc);
	if (sqlite3_prepare_v2(r->r_db, "INSERT INTO tenants (slug, uid, gid, "
	    "status, created, updated) VALUES (?, ?, ?, 'active', ?, ?)", -1,
	    &st, NULL) != SQLITE_OK)
		return reg_end(r, reg_fail(r));
	sqlite3_bind_text(st, 1, slug, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	sqlite3_bind_int64(st, 3, id);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_int64(st, 5, now);
	rc = sqlite3_step(st) == SQLITE_DONE ? REG_OK : reg_fail(r);
	sqlite3_finalize(st);
	if (rc != REG_OK)
		return reg_end(r, rc);
	snprintf(detail, sizeof(detail), "uid=%u gid=%u", id, id);
	if ((rc = registry_audit(r, actor, "create", slug, detail)) != REG_OK)
		return reg_end(r, rc);
	if ((rc = registry_tenant_get(r, slug, out)) != REG_OK)
		return reg_end(r, rc);
	return reg_end(r, REG_OK);
}

int
registry_tenant_set_status(struct registry *r, const char *slug,
    enum tenant_status status, const char *actor)
{
	sqlite3_stmt	*st;
	struct tenant	 t;
	int		 rc;
	const char	*action;

	r->r_err[0] = '\0';
	if (reg_exec(r, "BEGIN IMMEDIATE") != REG_OK)
		return REG_DB;
	if ((rc = registry_tenant_get(r, slug, &t)) != REG_OK)
		return reg_end(r, rc);
	if (t.t_status == TENANT_DELETED)
		return reg_end(r, REG_STATE);
	if (t.t_status == status)
		return reg_end(r, REG_OK);	/* idempotent, not audited */
	if (sqlite3_prepare_v2(r->r_db, "UPDATE tenants SET status = ?, "
	    "updated = ? WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
		return reg_end(r, reg_fail(r));
	sqlite3_bind_text(st, 1, tenant_status_str(status), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, time(NULL));
	sqlite3_bind_int64(st, 3, t.t_id);
	rc = sqlite3_step(st) == SQLITE_DONE ? REG_OK : reg_fail(r);
	sqlite3_finalize(st);
	if (rc != REG_OK)
		return reg_end(r, rc);
	action = status == TENANT_ACTIVE ? "resume" :
	    status == TENANT_SUSPENDED ? "suspend" : "delete";
	return reg_end(r, registry_audit(r, actor, action, slug, NULL));
}
