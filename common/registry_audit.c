/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The registry's audit log: who changed what, one row per change, written
 * in the same transaction as the change. The schema makes it append-only
 * (registry_schema.c); tenantctl audit reads it back.
 */
#include <time.h>

#include <sqlite3.h>

#include "registry.h"
#include "registry_int.h"

/*
 * Appends one row to the audit log. Every writer calls this inside its own
 * transaction, so the change and its record commit or roll back together.
 */
int
registry_audit(struct registry *r, const char *actor, const char *action,
    const char *subject, const char *detail)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (sqlite3_prepare_v2(r->r_db, "INSERT INTO audit (ts, actor, action, "
	    "subject, detail) VALUES (?, ?, ?, ?, ?)", -1, &st, NULL) !=
	    SQLITE_OK)
		return reg_fail(r);
	sqlite3_bind_int64(st, 1, time(NULL));
	sqlite3_bind_text(st, 2, actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, detail, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? REG_OK : reg_fail(r);
	sqlite3_finalize(st);
	return rc;
}

int
registry_audit_list(struct registry *r, const char *subject,
    int (*cb)(int64_t, const char *, const char *, const char *,
    const char *, void *), void *arg)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (sqlite3_prepare_v2(r->r_db, "SELECT ts, actor, action, "
	    "coalesce(subject, ''), coalesce(detail, '') FROM audit "
	    "WHERE ?1 IS NULL OR subject = ?1 ORDER BY id", -1, &st, NULL) !=
	    SQLITE_OK)
		return reg_fail(r);
	sqlite3_bind_text(st, 1, subject, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (cb(sqlite3_column_int64(st, 0),
		    (const char *)sqlite3_column_text(st, 1),
		    (const char *)sqlite3_column_text(st, 2),
		    (const char *)sqlite3_column_text(st, 3),
		    (const char *)sqlite3_column_text(st, 4), arg) == -1)
			break;
	rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? REG_OK : reg_fail(r);
	sqlite3_finalize(st);
	return rc;
}
