/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The one hardened SQLite open (common/sqlhard.c): the settings stick, the
 * authorizer refuses what tenantd's statements never do, a statement is
 * cut off at its deadline and the next one gets a deadline of its own, and
 * the schema comparison sees types, names and SQL text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "sqlhard.h"

struct fx {
	char		 dir[64];
	char		 path[128];
	struct sqlhard	 sh;
	sqlite3		*db;
};

static int
setup(void **state)
{
	struct fx	*fx;
	char		 err[256];

	if ((fx = calloc(1, sizeof(*fx))) == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_sqlhard.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/t.db", fx->dir);
	if ((fx->db = sqlhard_open(fx->path, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL, &fx->sh, 100, err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "sqlhard_open: %s\n", err);
		return -1;
	}
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx	*fx = *state;
	char		 p[192];

	sqlite3_close(fx->db);
	unlink(fx->path);
	snprintf(p, sizeof(p), "%s/x.db", fx->dir);
	unlink(p);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static int
run(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* n rows in pad, through the hardened handle (no recursive CTE there). */
static void
pad(struct fx *fx, int n)
{
	sqlite3_stmt	*st;
	int		 i;

	assert_int_equal(run(fx->db, "CREATE TABLE pad (x INTEGER); BEGIN"),
	    SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(fx->db, "INSERT INTO pad VALUES "
	    "(?)", -1, &st, NULL), SQLITE_OK);
	for (i = 0; i < n; i++) {
		sqlite3_bind_int(st, 1, i);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	assert_int_equal(run(fx->db, "COMMIT"), SQLITE_OK);
}

static void
test_settings(void **state)
{
	struct fx	*fx = *state;
	int		 v = -1;

	assert_int_equal(sqlite3_db_config(fx->db, SQLITE_DBCONFIG_DEFENSIVE,
	    -1, &v), SQLITE_OK);
	assert_int_equal(v, 1);
	assert_int_equal(sqlite3_db_config(fx->db,
	    SQLITE_DBCONFIG_TRUSTED_SCHEMA, -1, &v), SQLITE_OK);
	assert_int_equal(v, 0);
	assert_int_equal(sqlite3_db_config(fx->db,
	    SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, -1, &v), SQLITE_OK);
	assert_int_equal(v, 0);
	assert_int_equal(sqlite3_limit(fx->db, SQLITE_LIMIT_ATTACHED, -1), 0);
	/* Defensive: the schema cannot be written as a table. */
	assert_int_not_equal(run(fx->db, "UPDATE sqlite_schema SET sql = ''"),
	    SQLITE_OK);
}

/* What none of tenantd's statements does is refused, by name. */
static void
test_authorizer(void **state)
{
	struct fx	*fx = *state;
	size_t		 i;
	static const char *const refused[] = {
		"ATTACH DATABASE '/tmp/test_sqlhard_x.db' AS x",
		"DETACH DATABASE main",
		"SELECT load_extension('/tmp/x.so')",
		"SELECT hex(randomblob(8))",
		"SELECT zeroblob(1000)",
		"PRAGMA writable_schema = ON",
		"PRAGMA mmap_size = 1000000",
		"SELECT * FROM pragma_table_info('pad')",
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
		    "FROM c) SELECT count(*) FROM c",
		"CREATE VIEW v AS SELECT 1",
		"CREATE TEMP TABLE t (x)",
		"DROP TABLE pad",
		"ANALYZE",
	};

	pad(fx, 3);
	/* SQLITE_AUTH, or for a function a parse error that says why. */
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (run(fx->db, refused[i]) == SQLITE_OK ||
		    strstr(sqlite3_errmsg(fx->db), "not authorized") == NULL)
			fail_msg("not refused: %s (%s)", refused[i],
			    sqlite3_errmsg(fx->db));
	/* What the registry, ledger and kv do still works. */
	assert_int_equal(run(fx->db, "PRAGMA user_version = 7; "
	    "SELECT coalesce(sum(x), 0), count(*), max(x) FROM pad "
	    "WHERE length(x) > 0 AND substr(x, 1, 1) GLOB '[0-9]'"), SQLITE_OK);
}

/*
 * A statement is stopped at its deadline; the next one gets a deadline of
 * its own, however long after the first the handle was used again.
 */
static void
test_deadline(void **state)
{
	struct fx	*fx = *state;
	sqlite3_stmt	*st;
	struct timespec	 t0, t1;
	double		 took;

	pad(fx, 1000);
	assert_int_equal(sqlite3_prepare_v2(fx->db, "SELECT count(*) FROM "
	    "pad a, pad b, pad c", -1, &st, NULL), SQLITE_OK);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(sqlite3_step(st), SQLITE_INTERRUPT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	sqlite3_finalize(st);
	took = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(fx->sh.sh_timed_out);
	assert_true(took >= 0.09 && took < 2.0);
	/* Later, a short statement is not stopped by the old deadline. */
	usleep(200000);
	assert_int_equal(run(fx->db, "SELECT count(*) FROM pad a, pad b"),
	    SQLITE_OK);
	assert_false(fx->sh.sh_timed_out);
}

static sqlite3 *
mem(struct sqlhard *sh, const char *sql)
{
	sqlite3	*db;
	char	 err[256];

	assert_non_null(db = sqlhard_open(":memory:", SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL, sh, 1000, err, sizeof(err)));
	assert_int_equal(run(db, sql), SQLITE_OK);
	return db;
}

#define REF	"CREATE TABLE t (x INTEGER, y TEXT);" \
		"CREATE TABLE u (z INTEGER);" \
		"CREATE TRIGGER t_kept BEFORE DELETE ON t " \
		"BEGIN SELECT RAISE(ABORT, 'no'); END;"

static void
test_schema_same(void **state)
{
	struct sqlhard	 s1, s2;
	sqlite3		*ref, *db;
	char		 err[256];
	size_t		 i;
	static const struct {
		const char	*sql;
		const char	*why;
	} cases[] = {
		{ REF, NULL },
		/* A trigger carrying a table's name. */
		{ REF "CREATE TRIGGER u AFTER INSERT ON t BEGIN "
		    "INSERT INTO u VALUES (1); END;",
		    "trigger \"u\" is not tenantd's" },
		{ REF "CREATE INDEX t_x ON t(x);",
		    "index \"t_x\" is not tenantd's" },
		/* One byte more in a table's SQL. */
		{ "CREATE TABLE t (x INTEGER, y TEXT );"
		    "CREATE TABLE u (z INTEGER);"
		    "CREATE TRIGGER t_kept BEFORE DELETE ON t "
		    "BEGIN SELECT RAISE(ABORT, 'no'); END;",
		    "table \"t\" differs from tenantd's" },
		{ "CREATE TABLE t (x INTEGER, y TEXT);"
		    "CREATE TABLE u (z INTEGER);",
		    "trigger \"t_kept\" is missing" },
		/* A name that would write a line of its own in a log. */
		{ REF "CREATE TABLE \"a\nb\" (x);",
		    "table \"a\\x0ab\" is not tenantd's" },
	};

	(void)state;
	ref = mem(&s1, REF);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		db = mem(&s2, cases[i].sql);
		err[0] = '\0';
		if (cases[i].why == NULL)
			assert_int_equal(sqlhard_schema_same(db, ref, err,
			    sizeof(err)), 0);
		else {
			assert_int_equal(sqlhard_schema_same(db, ref, err,
			    sizeof(err)), -1);
			if (strcmp(err, cases[i].why) != 0)
				fail_msg("\"%s\", want \"%s\"", err,
				    cases[i].why);
		}
		sqlite3_close(db);
	}
	sqlite3_close(ref);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_settings),
		T(test_authorizer),
		T(test_deadline),
		cmocka_unit_test(test_schema_same),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
