/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The one hardened SQLite open (see sqlhard.h, docs/security.md). What is
 * allowed here is the union of what the registry, the ledgers and the
 * worker's key-value store run, found by reading every statement of
 * registry*.c, ledger.c and kv.c; a statement that needs more is refused,
 * and that is the point: a crafted schema cannot widen it either.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sqlite3.h>

#include "log.h"
#include "sqlhard.h"

/* VM steps between two looks at the clock: cheap, and often enough. */
#define SH_PROGRESS_OPS	200

/*
 * The pragmas tenantd's own statements use. Anything else (writable_schema,
 * mmap_size, a table-valued pragma in a view) is refused.
 */
static const char *const sh_pragmas[] = {
	"data_version", "foreign_keys", "journal_mode", "journal_size_limit",
	"max_page_count", "page_size", "quick_check", "synchronous",
	"temp_store", "trusted_schema", "user_version", "wal_autocheckpoint",
	"wal_checkpoint",
};

/*
 * The functions tenantd's statements and schemas call (glob is the GLOB
 * operator; printf, length and substr are also what SQLite's own ALTER
 * TABLE ADD COLUMN runs on sqlite_schema, in registry migration 2).
 * load_extension, randomblob, zeroblob and
 * the rest are refused wherever they appear, a trigger or view included.
 */
static const char *const sh_functions[] = {
	"coalesce", "count", "glob", "length", "max", "printf", "strftime",
	"substr", "sum",
};

static int
sh_listed(const char *const *list, size_t n, const char *name)
{
	size_t	 i;

	if (name == NULL)
		return 0;
	for (i = 0; i < n; i++)
		if (strcasecmp(name, list[i]) == 0)
			return 1;
	return 0;
}

/*
 * An allowlist of actions, not a denylist: ATTACH, DETACH, views, virtual
 * tables, temporary objects, DROP, recursive queries and the rest are
 * never what tenantd does, so a statement (or a trigger or view coded into
 * one) that does them is refused before it runs.
 */
static int
sh_authorize(void *arg, int action, const char *a, const char *b,
    const char *db, const char *inner)
{
	switch (action) {
	case SQLITE_READ:
	case SQLITE_SELECT:
	case SQLITE_INSERT:
	case SQLITE_UPDATE:
	case SQLITE_DELETE:
	case SQLITE_TRANSACTION:
	case SQLITE_CREATE_TABLE:
	case SQLITE_CREATE_INDEX:
	case SQLITE_REINDEX:		/* CREATE INDEX reports one too */
	case SQLITE_CREATE_TRIGGER:
	case SQLITE_ALTER_TABLE:
		return SQLITE_OK;
	case SQLITE_PRAGMA:
		return sh_listed(sh_pragmas, sizeof(sh_pragmas) /
		    sizeof(sh_pragmas[0]), a) ? SQLITE_OK : SQLITE_DENY;
	case SQLITE_FUNCTION:
		return sh_listed(sh_functions, sizeof(sh_functions) /
		    sizeof(sh_functions[0]), b) ? SQLITE_OK : SQLITE_DENY;
	}
	return SQLITE_DENY;
}

static uint64_t
sh_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sh_arm(struct sqlhard *sh)
{
	sh->sh_timed_out = 0;
	sh->sh_end_ms = sh->sh_budget_ms ? sh_now_ms() + sh->sh_budget_ms : 0;
}

/*
 * A statement starts: its clock starts. SQLite reports a trigger's body
 * here too, as a "--" comment; that is the same statement, whose deadline
 * must not move.
 */
static int
sh_trace(unsigned int type, void *arg, void *stmt, void *x)
{
	const char	*sql = x;

	if (type == SQLITE_TRACE_STMT && (sql == NULL ||
	    strncmp(sql, "--", 2) != 0))
		sh_arm(arg);
	return 0;
}

static int
sh_progress(void *arg)
{
	struct sqlhard	*sh = arg;

	if (sh->sh_end_ms != 0 && sh_now_ms() >= sh->sh_end_ms) {
		sh->sh_timed_out = 1;
		return 1;	/* SQLITE_INTERRUPT */
	}
	return 0;
}

void
sqlhard_budget(struct sqlhard *sh, uint64_t budget_ms)
{
	sh->sh_budget_ms = budget_ms;
}

/* One db_config switch, set and read back: a build that ignores it fails. */
static int
sh_config(sqlite3 *db, int op, int want)
{
	int	 got = -1;

	return sqlite3_db_config(db, op, want, &got) == SQLITE_OK &&
	    got == want ? 0 : -1;
}

/*
 * Limits far above anything tenantd's statements and schemas need and far
 * below SQLite's defaults, so a crafted schema cannot make the parser or
 * the VM of the process that opened it work hard. The worker raises the
 * length and lowers the SQL length for app.db (kv.c).
 */
static void
sh_limits(sqlite3 *db)
{
	sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
	sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 1 << 20);
	sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, 32768);
	sqlite3_limit(db, SQLITE_LIMIT_EXPR_DEPTH, 100);
	sqlite3_limit(db, SQLITE_LIMIT_COMPOUND_SELECT, 8);
	sqlite3_limit(db, SQLITE_LIMIT_FUNCTION_ARG, 8);
	sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, 32);
	sqlite3_limit(db, SQLITE_LIMIT_TRIGGER_DEPTH, 8);
	sqlite3_limit(db, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 256);
	sqlite3_limit(db, SQLITE_LIMIT_WORKER_THREADS, 0);
}

sqlite3 *
sqlhard_open(const char *path, int oflags, const char *vfs,
    struct sqlhard *sh, uint64_t budget_ms, char *err, size_t errsz)
{
	sqlite3	*db = NULL;
	char	*msg = NULL;
	int	 rc;

	memset(sh, 0, sizeof(*sh));
	sh->sh_budget_ms = budget_ms;
	rc = sqlite3_open_v2(path, &db, oflags | SQLITE_OPEN_NOFOLLOW |
	    SQLITE_OPEN_EXRESCODE, vfs);
	if (rc != SQLITE_OK) {
		snprintf(err, errsz, "%s: %s", path, db ? sqlite3_errmsg(db) :
		    sqlite3_errstr(rc));
		goto fail;
	}
	/*
	 * Before the first statement, which is the first to read the
	 * schema: defensive mode (no writable_schema, no shadow-table or
	 * raw page writes), schema code may call only innocuous functions,
	 * and no extension can ever be loaded.
	 */
	if (sh_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1) == -1 ||
	    sh_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0) == -1 ||
	    sh_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0) == -1) {
		snprintf(err, errsz, "%s: sqlite3_db_config refused", path);
		goto fail;
	}
	sh_limits(db);
	sqlite3_progress_handler(db, SH_PROGRESS_OPS, sh_progress, sh);
	if (sqlite3_trace_v2(db, SQLITE_TRACE_STMT, sh_trace, sh) !=
	    SQLITE_OK || sqlite3_set_authorizer(db, sh_authorize, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errsz, "%s: %s", path, sqlite3_errmsg(db));
		goto fail;
	}
	/* The pragma too, for a build whose db_config lacks the switch. */
	if (sqlite3_exec(db, "PRAGMA trusted_schema = OFF", NULL, NULL,
	    &msg) != SQLITE_OK) {
		snprintf(err, errsz, "%s: %s", path, msg ? msg :
		    sqlite3_errmsg(db));
		sqlite3_free(msg);
		goto fail;
	}
	return db;
 fail:
	sqlite3_close(db);
	return NULL;
}

/* Column i of two rows, byte for byte; NULL sorts first. */
static int
sh_cmp(sqlite3_stmt *a, sqlite3_stmt *b, int i)
{
	const void	*pa, *pb;
	int		 ta, tb, na, nb, c;

	/* The type first: after a conversion it would say nothing. */
	ta = sqlite3_column_type(a, i);
	tb = sqlite3_column_type(b, i);
	if (ta == SQLITE_NULL || tb == SQLITE_NULL)
		return (ta != SQLITE_NULL) - (tb != SQLITE_NULL);
	pa = sqlite3_column_blob(a, i);
	na = sqlite3_column_bytes(a, i);
	pb = sqlite3_column_blob(b, i);
	nb = sqlite3_column_bytes(b, i);
	if (na > 0 && nb > 0 &&
	    (c = memcmp(pa, pb, (size_t)(na < nb ? na : nb))) != 0)
		return c;
	return (na > nb) - (na < nb);
}

/* "trigger \"name\"" of the row, escaped: the file may be anyone's. */
static void
sh_what(sqlite3_stmt *s, char *buf, size_t bufsz)
{
	char	 type[16], name[96];

	log_vis(type, sizeof(type), sqlite3_column_blob(s, 0),
	    (size_t)sqlite3_column_bytes(s, 0));
	log_vis(name, sizeof(name), sqlite3_column_blob(s, 1),
	    (size_t)sqlite3_column_bytes(s, 1));
	snprintf(buf, bufsz, "%s \"%s\"", type, name);
}

static const char sh_schema_sql[] = "SELECT type, name, tbl_name, sql "
    "FROM main.sqlite_schema ORDER BY type, name, tbl_name, sql";

/*
 * Both schemas in one order, walked side by side. The type is part of the
 * key: SQLite keeps triggers apart from tables, so a trigger may carry a
 * table's name, and names alone would take it for the table.
 */
int
sqlhard_schema_same(sqlite3 *db, sqlite3 *ref, char *err, size_t errsz)
{
	sqlite3_stmt	*a = NULL, *b = NULL;
	char		 what[128], extra[256] = "", missing[160] = "";
	char		 differs[160] = "";
	size_t		 n;
	int		 ra, rb, c, nextra = 0, ret = -1;

	if (sqlite3_prepare_v2(db, sh_schema_sql, -1, &a, NULL) != SQLITE_OK) {
		snprintf(err, errsz, "reading the schema: %s",
		    sqlite3_errmsg(db));
		goto done;
	}
	if (sqlite3_prepare_v2(ref, sh_schema_sql, -1, &b, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errsz, "the reference schema: %s",
		    sqlite3_errmsg(ref));
		goto done;
	}
	/*
	 * Every extra object is named, and before anything missing or
	 * different: a view put in a table's place makes the table
	 * "missing" too, but the view is what the operator must see.
	 */
	ra = sqlite3_step(a);
	rb = sqlite3_step(b);
	while (ra == SQLITE_ROW || rb == SQLITE_ROW) {
		if (ra != SQLITE_ROW)
			c = 1;
		else if (rb != SQLITE_ROW)
			c = -1;
		else if ((c = sh_cmp(a, b, 0)) == 0)
			c = sh_cmp(a, b, 1);
		if (c < 0) {
			sh_what(a, what, sizeof(what));
			n = strlen(extra);
			snprintf(extra + n, sizeof(extra) - n, "%s%s",
			    n ? ", " : "", what);
			nextra++;
		} else if (c > 0 && missing[0] == '\0') {
			sh_what(b, what, sizeof(what));
			snprintf(missing, sizeof(missing), "%s is missing",
			    what);
		} else if (c == 0 && differs[0] == '\0' &&
		    (sh_cmp(a, b, 2) != 0 || sh_cmp(a, b, 3) != 0)) {
			sh_what(a, what, sizeof(what));
			snprintf(differs, sizeof(differs), "%s differs from "
			    "tenantd's", what);
		}
		if (c <= 0)
			ra = sqlite3_step(a);
		if (c >= 0)
			rb = sqlite3_step(b);
	}
	if (ra != SQLITE_DONE) {
		snprintf(err, errsz, "reading the schema: %s",
		    sqlite3_errmsg(db));
		goto done;
	}
	if (rb != SQLITE_DONE) {
		snprintf(err, errsz, "the reference schema: %s",
		    sqlite3_errmsg(ref));
		goto done;
	}
	if (nextra > 0) {
		snprintf(err, errsz, "%s %s not tenantd's", extra,
		    nextra > 1 ? "are" : "is");
		goto done;
	}
	if (differs[0] != '\0' || missing[0] != '\0') {
		snprintf(err, errsz, "%s", differs[0] != '\0' ? differs :
		    missing);
		goto done;
	}
	ret = 0;
 done:
	sqlite3_finalize(a);
	sqlite3_finalize(b);
	if (ret == -1)
		errno = EINVAL;
	return ret;
}
