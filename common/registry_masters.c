/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Master keys in the registry: which masters work now and which are in
 * their grace period, and rotation (keys.h, docs/data-plane.md, section
 * 1). The key files themselves are keys_file.c's.
 */
#include <stdio.h>
#include <time.h>

#include <sqlite3.h>

#include "keys.h"
#include "registry.h"
#include "registry_int.h"

/*
 * The masters that work at `now`: the current one first (not_after 0),
 * then those in their grace period, newest first. Returns how many, or
 * REG_DB.
 */
int
registry_masters(struct registry *r, int64_t now, uint32_t *ids,
    int64_t *not_after, size_t max)
{
	sqlite3_stmt	*st;
	size_t		 n = 0;
	int		 rc;

	if (sqlite3_prepare_v2(r->r_db, "SELECT id, coalesce(not_after, 0) "
	    "FROM masters WHERE not_after IS NULL OR not_after > ? "
	    "ORDER BY not_after IS NOT NULL, id DESC", -1, &st, NULL) !=
	    SQLITE_OK)
		return reg_fail(r);
	sqlite3_bind_int64(st, 1, now);
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		ids[n] = (uint32_t)sqlite3_column_int64(st, 0);
		not_after[n] = sqlite3_column_int64(st, 1);
		n++;
	}
	if (n < max && rc != SQLITE_DONE) {
		sqlite3_finalize(st);
		return reg_fail(r);
	}
	sqlite3_finalize(st);
	return (int)n;
}

/* Every master ever, oldest first, for tenantctl key list. */
int
registry_masters_all(struct registry *r,
    int (*cb)(uint32_t, int64_t, int64_t, void *), void *arg)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (sqlite3_prepare_v2(r->r_db, "SELECT id, created, "
	    "coalesce(not_after, 0) FROM masters ORDER BY id", -1, &st,
	    NULL) != SQLITE_OK)
		return reg_fail(r);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (cb((uint32_t)sqlite3_column_int64(st, 0),
		    sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
		    arg) == -1)
			break;
	rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? REG_OK : reg_fail(r);
	sqlite3_finalize(st);
	return rc;
}

/* The id the next rotation will create: its key file is written first. */
int
registry_master_next(struct registry *r, uint32_t *id)
{
	int64_t	 max = reg_int(r, "SELECT coalesce(max(id), 0) FROM masters");

	if (max < 0)
		return reg_fail(r);
	if (max >= UINT32_MAX) {
		snprintf(r->r_err, sizeof(r->r_err), "master ids exhausted");
		return REG_FULL;
	}
	*id = (uint32_t)(max + 1);
	return REG_OK;
}

/*
 * Retire the current master at now + grace and make a new one current, in
 * one transaction. *new_id, if not 0, is the id the caller wrote the key
 * file for (registry_master_next); REG_STATE if another rotation took it
 * meanwhile. REG_FULL if more masters than a worker can be given would
 * then work at once.
 */
int
registry_master_rotate(struct registry *r, int64_t grace, const char *actor,
    uint32_t *new_id)
{
	sqlite3_stmt	*st;
	uint32_t	 id, ids[KEY_MAX_MASTERS + 1];
	int64_t		 na[KEY_MAX_MASTERS + 1], now = time(NULL);
	int		 rc, n;
	char		 detail[128];

	r->r_err[0] = '\0';
	if (grace < 0 || grace > (int64_t)100 * 365 * 86400) {
		snprintf(r->r_err, sizeof(r->r_err), "grace out of range");
		return REG_INVALID;
	}
	if (reg_exec(r, "BEGIN IMMEDIATE") != REG_OK)
		return REG_DB;
	if ((rc = registry_master_next(r, &id)) != REG_OK)
		return reg_end(r, rc);
	if (*new_id != 0 && *new_id != id) {
		snprintf(r->r_err, sizeof(r->r_err), "master %u was created "
		    "meanwhile", *new_id);
		return reg_end(r, REG_STATE);
	}
	if ((n = registry_masters(r, now, ids, na, KEY_MAX_MASTERS + 1)) < 0)
		return reg_end(r, REG_DB);
	if (n + (grace > 0) > KEY_MAX_MASTERS) {
		snprintf(r->r_err, sizeof(r->r_err), "%d masters would work at "
		    "once, at most %d: wait for a grace period to end", n + 1,
		    KEY_MAX_MASTERS);
		return reg_end(r, REG_FULL);
	}
	if (sqlite3_prepare_v2(r->r_db, "UPDATE masters SET not_after = ? "
	    "WHERE not_after IS NULL", -1, &st, NULL) != SQLITE_OK)
		return reg_end(r, reg_fail(r));
	/* No grace: retired a second ago, so it stops working at once. */
	sqlite3_bind_int64(st, 1, grace > 0 ? now + grace : now - 1);
	rc = sqlite3_step(st) == SQLITE_DONE ? REG_OK : reg_fail(r);
	sqlite3_finalize(st);
	if (rc != REG_OK)
		return reg_end(r, rc);
	if (sqlite3_prepare_v2(r->r_db, "INSERT INTO masters (id, created, "
	    "not_after) VALUES (?, ?, NULL)", -1, &st, NULL) != SQLITE_OK)
		return reg_end(r, reg_fail(r));
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	rc = sqlite3_step(st) == SQLITE_DONE ? REG_OK : reg_fail(r);
	sqlite3_finalize(st);
	if (rc != REG_OK)
		return reg_end(r, rc);
	snprintf(detail, sizeof(detail), "master %u current; earlier ones "
	    "work until %lld", id, (long long)(grace > 0 ? now + grace : now));
	if ((rc = registry_audit(r, actor, "key-rotate", NULL, detail)) !=
	    REG_OK)
		return reg_end(r, rc);
	if ((rc = reg_end(r, REG_OK)) == REG_OK)
		*new_id = id;
	return rc;
}
