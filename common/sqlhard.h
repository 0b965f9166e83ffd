/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The one way tenantd opens an SQLite database (docs/security.md): the
 * registry, every ledger and a worker's app.db. A database file is input
 * like any other; a tenant may have written it (an imported billing.db,
 * app.db), and SQLite runs what its schema says (triggers, views, CHECK
 * expressions) inside the process that opened it. So every handle gets
 * defensive mode, no untrusted schema functions, no extensions, an
 * authorizer that allows only what tenantd's own statements do (no ATTACH
 * above all), tight limits, and a deadline on every statement; and a
 * trusted database is checked object by object, by its full SQL, against
 * the schema tenantd itself creates.
 */
#ifndef TENANTD_SQLHARD_H
#define TENANTD_SQLHARD_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/*
 * The statement deadline's state, owned by the caller and alive as long as
 * the handle: sh_budget_ms is how long one statement may run (0: no
 * deadline), set with sqlhard_budget(); a statement past it stops with
 * SQLITE_INTERRUPT and sh_timed_out set.
 */
struct sqlhard {
	uint64_t	 sh_budget_ms;
	uint64_t	 sh_end_ms;	/* the running statement's deadline */
	int		 sh_timed_out;
};

/* What the trusted side allows one statement (a migration included). */
#define SQLHARD_BUDGET_MS	10000

/*
 * Open path with sqlite3_open_v2(oflags, vfs) (SQLITE_OPEN_NOFOLLOW and
 * SQLITE_OPEN_EXRESCODE are always added) and harden the handle as above.
 * NULL with err set on failure, nothing left open.
 */
sqlite3	*sqlhard_open(const char *path, int oflags, const char *vfs,
	    struct sqlhard *, uint64_t budget_ms, char *err, size_t errsz);
void	 sqlhard_budget(struct sqlhard *, uint64_t budget_ms);

/*
 * 0 if db's schema (every row of sqlite_schema: type, name, table and SQL
 * text) is exactly ref's, where ref is a database the caller built with
 * tenantd's own statements; -1 with err naming the first object that is
 * extra, missing or different.
 */
int	 sqlhard_schema_same(sqlite3 *db, sqlite3 *ref, char *err,
	    size_t errsz);

#endif
