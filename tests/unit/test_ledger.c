/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The credit ledger on a scratch directory: the balance is the sum of the
 * transactions after every operation, holds reserve credits and cap what
 * can be spent or taken away, a usage report counts once, and the schema
 * itself refuses what the API would (a hand edit with plain SQL).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "ledger.h"

struct fx {
	char		 dir[64];
	char		 path[PATH_MAX];
	int		 dfd;
	struct ledger	*l;
};

static int
setup(void **state)
{
	struct fx	*fx;
	char		 err[512];

	if ((fx = calloc(1, sizeof(*fx))) == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_ledger.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/" LEDGER_FILE, fx->dir);
	if ((fx->dfd = open(fx->dir, O_RDONLY | O_DIRECTORY)) == -1)
		return -1;
	if ((fx->l = ledger_open(fx->dfd, 1, err, sizeof(err))) == NULL) {
		fprintf(stderr, "ledger_open: %s\n", err);
		return -1;
	}
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx	*fx = *state;
	static const char *const names[] = { LEDGER_FILE, LEDGER_FILE "-wal",
	    LEDGER_FILE "-shm", LEDGER_FILE "-journal", "copy.db", "real.db" };
	char		 p[PATH_MAX];
	size_t		 i;

	ledger_close(fx->l);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", fx->dir, names[i]);
		unlink(p);
	}
	close(fx->dfd);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* The invariants, after every step. */
static void
books(struct fx *fx, int64_t balance, int64_t held)
{
	struct ledger_summary	 s;
	char			 err[256];

	assert_int_equal(ledger_summary(fx->l, &s), 0);
	assert_int_equal(s.ls_balance, balance);
	assert_int_equal(s.ls_sum, balance);
	assert_int_equal(s.ls_held, held);
	assert_int_equal(s.ls_available, balance - held);
	if (ledger_check(fx->l, err, sizeof(err)) != 0)
		fail_msg("ledger_check: %s", err);
}

/* Plain SQL on a plain connection, as a hand edit would be. */
static int
raw(struct fx *fx, const char *sql)
{
	sqlite3	*db;
	int	 rc;

	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 2000);
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

static void
test_file(void **state)
{
	struct fx	*fx = *state;
	struct stat	 st;

	assert_int_equal(lstat(fx->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	books(fx, 0, 0);
}

static void
test_add(void **state)
{
	struct fx		*fx = *state;
	struct ledger_txn	 t[4];
	char			 note[LEDGER_NOTE_MAX + 2];

	assert_int_equal(ledger_add(fx->l, 1000, "initial credits"), 0);
	books(fx, 1000, 0);
	assert_int_equal(ledger_add(fx->l, -300, "correction"), 0);
	books(fx, 700, 0);
	/* Not below zero. */
	assert_int_equal(ledger_add(fx->l, -701, NULL), -1);
	assert_int_equal(errno, ERANGE);
	books(fx, 700, 0);
	assert_int_equal(ledger_add(fx->l, -700, NULL), 0);
	books(fx, 0, 0);
	assert_int_equal(ledger_add(fx->l, 0, NULL), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ledger_add(fx->l, LEDGER_AMOUNT_MAX + 1, NULL), -1);
	memset(note, 'x', sizeof(note) - 1);
	note[sizeof(note) - 1] = '\0';
	assert_int_equal(ledger_add(fx->l, 5, note), -1);
	assert_int_equal(errno, EINVAL);

	/* Newest first. */
	assert_int_equal(ledger_history(fx->l, t, 4), 3);
	assert_int_equal(t[0].lt_amount, -700);
	assert_string_equal(t[0].lt_kind, "adjust");
	assert_string_equal(t[0].lt_note, "");
	assert_int_equal(t[1].lt_amount, -300);
	assert_string_equal(t[1].lt_note, "correction");
	assert_int_equal(t[2].lt_amount, 1000);
	assert_string_equal(t[2].lt_kind, "grant");
	assert_true(t[0].lt_id > t[1].lt_id);
	assert_int_equal(ledger_history(fx->l, t, 1), 1);
	assert_int_equal(t[0].lt_amount, -700);
}

static void
test_holds(void **state)
{
	struct fx	*fx = *state;
	int64_t		 h1, h2, g;

	assert_int_equal(ledger_add(fx->l, 100, NULL), 0);
	assert_true((h1 = ledger_hold_open(fx->l, "worker 1", 60, &g)) > 0);
	assert_int_equal(g, 60);
	books(fx, 100, 60);
	/* Capped by what is available, possibly 0. */
	assert_true((h2 = ledger_hold_open(fx->l, "worker 2", 60, &g)) > 0);
	assert_int_equal(g, 40);
	books(fx, 100, 100);
	assert_int_equal(ledger_hold_extend(fx->l, h2, 10, &g), 0);
	assert_int_equal(g, 0);
	/* Held credits cannot be taken away. */
	assert_int_equal(ledger_add(fx->l, -1, NULL), -1);
	assert_int_equal(errno, ERANGE);

	/* Spending: once per report, never more than the hold has left. */
	assert_int_equal(ledger_usage(fx->l, h1, 1, 25), 0);
	books(fx, 75, 75);
	assert_int_equal(ledger_usage(fx->l, h1, 1, 25), 1);
	books(fx, 75, 75);
	assert_int_equal(ledger_usage(fx->l, h1, 2, 36), -1);
	assert_int_equal(errno, ERANGE);
	books(fx, 75, 75);
	assert_int_equal(ledger_usage(fx->l, h1, 2, 35), 0);
	books(fx, 40, 40);
	assert_int_equal(ledger_usage(fx->l, h1, 3, 0), 0);
	assert_int_equal(ledger_usage(fx->l, h1, 4, -1), -1);
	assert_int_equal(errno, EINVAL);
	/* Report 2 of hold 1 is not report 2 of hold 2. */
	assert_int_equal(ledger_usage(fx->l, h2, 2, 10), 0);
	books(fx, 30, 30);

	/* Closing frees the unspent part; a closed hold takes no usage. */
	assert_int_equal(ledger_hold_close(fx->l, h2), 0);
	books(fx, 30, 0);
	assert_int_equal(ledger_hold_close(fx->l, h2), 0);	/* idempotent */
	assert_int_equal(ledger_usage(fx->l, h2, 3, 1), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(ledger_hold_extend(fx->l, h2, 1, &g), -1);
	assert_int_equal(errno, ENOENT);
	/* A duplicate of a report on a closed hold is still a duplicate. */
	assert_int_equal(ledger_usage(fx->l, h2, 2, 10), 1);
	assert_int_equal(ledger_hold_close(fx->l, 999), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(ledger_usage(fx->l, 999, 1, 1), -1);

	assert_true((h1 = ledger_hold_open(fx->l, "worker 3", 20, &g)) > 0);
	assert_int_equal(ledger_hold_extend(fx->l, h1, 50, &g), 0);
	assert_int_equal(g, 10);
	books(fx, 30, 30);
	/* The first h1, spent to the last credit, is open too. */
	assert_int_equal(ledger_holds_close_all(fx->l), 2);
	books(fx, 30, 0);
	assert_int_equal(ledger_holds_close_all(fx->l), 0);
	assert_int_equal(ledger_hold_open(fx->l, "w", -1, &g), -1);
}

static void
test_schema_rules(void **state)
{
	struct fx	*fx = *state;
	int64_t		 h, g;

	assert_int_equal(ledger_add(fx->l, 10, NULL), 0);
	assert_true((h = ledger_hold_open(fx->l, "w", 5, &g)) > 0);
	assert_int_equal(ledger_hold_close(fx->l, h), 0);
	/* Append-only. */
	assert_int_not_equal(raw(fx, "UPDATE txns SET amount = 99"), SQLITE_OK);
	assert_int_not_equal(raw(fx, "DELETE FROM txns"), SQLITE_OK);
	/* The balance never below zero, moved by the trigger in one go. */
	assert_int_not_equal(raw(fx, "INSERT INTO txns (at, kind, amount) "
	    "VALUES (1, 'adjust', -11)"), SQLITE_OK);
	assert_int_equal(raw(fx, "INSERT INTO txns (at, kind, amount) "
	    "VALUES (1, 'adjust', -1)"), SQLITE_OK);
	books(fx, 9, 0);
	assert_int_not_equal(raw(fx, "INSERT INTO txns (at, kind, amount) "
	    "VALUES (1, 'grant', 0)"), SQLITE_OK);
	assert_int_not_equal(raw(fx, "INSERT INTO txns (at, kind, amount) "
	    "VALUES (1, 'grant', -5)"), SQLITE_OK);
	assert_int_not_equal(raw(fx, "INSERT INTO txns (at, kind, amount) "
	    "VALUES (1, 'gift', 5)"), SQLITE_OK);
	assert_int_not_equal(raw(fx, "INSERT INTO account VALUES (2, 0, 0)"),
	    SQLITE_OK);
	assert_int_not_equal(raw(fx, "DELETE FROM account"), SQLITE_OK);
	/* A closed hold stays closed; spending never exceeds a hold. */
	assert_int_not_equal(raw(fx, "UPDATE holds SET open = 1"), SQLITE_OK);
	assert_int_not_equal(raw(fx, "INSERT INTO holds (at, owner, amount, "
	    "used) VALUES (1, 'w', 5, 6)"), SQLITE_OK);
	assert_int_equal(raw(fx, "INSERT INTO holds (at, owner, amount) "
	    "VALUES (1, 'w', 5)"), SQLITE_OK);
	assert_int_not_equal(raw(fx, "UPDATE holds SET amount = 4 "
	    "WHERE open = 1"), SQLITE_OK);
	assert_int_not_equal(raw(fx, "DELETE FROM holds WHERE open = 1"),
	    SQLITE_OK);
	/* A balance moved by hand is found out. */
	{
		char	 err[256];

		assert_int_equal(raw(fx, "DROP TRIGGER account_kept; "
		    "UPDATE account SET balance = 1000"), SQLITE_OK);
		assert_int_equal(ledger_check(fx->l, err, sizeof(err)), -1);
	}
}

static void
test_check_finds_foreign_schema(void **state)
{
	struct fx	*fx = *state;
	char		 err[256];

	assert_int_equal(raw(fx, "CREATE TRIGGER mint AFTER INSERT ON txns "
	    "BEGIN SELECT 1; END"), SQLITE_OK);
	assert_int_equal(ledger_check(fx->l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "trigger \"mint\" is not tenantd's"));
}

static int64_t
raw_int(struct fx *fx, const char *sql)
{
	sqlite3		*db;
	sqlite3_stmt	*st;
	int64_t		 v = -1;

	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
	    SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/*
 * A billing.db whose books balance but whose schema is not what
 * ledger.c creates (an archive's, a hand edit's) is refused when it is
 * opened, naming the object, before any statement of ours can fire what
 * it carries. Names alone are not enough: SQLite lets a trigger carry a
 * table's name, and a table or trigger of ours may have other SQL.
 */
static void
test_open_refuses_foreign_schema(void **state)
{
	struct fx	*fx = *state;
	struct ledger	*l;
	char		 err[512];
	size_t		 i;
	static const struct {
		const char	*sql;
		const char	*why;
	} cases[] = {
		{ "CREATE TRIGGER txns AFTER INSERT ON holds BEGIN "
		    "INSERT INTO txns (at, kind, amount) "
		    "VALUES (0, 'grant', 1000000); END",
		    "trigger \"txns\" is not tenantd's" },
		{ "ALTER TABLE account RENAME TO account_real; "
		    "CREATE VIEW account AS SELECT id, 1000000 AS balance, "
		    "created FROM account_real",
		    "table \"account_real\", view \"account\" are not "
		    "tenantd's" },
		{ "CREATE INDEX holds_owner ON holds(owner)",
		    "index \"holds_owner\" is not tenantd's" },
		{ "ALTER TABLE holds ADD COLUMN bonus INTEGER DEFAULT 5",
		    "table \"holds\" differs from tenantd's" },
		{ "DROP TRIGGER txns_balance; "
		    "CREATE TRIGGER txns_balance AFTER INSERT ON txns"
		    "  BEGIN UPDATE account SET balance = balance + 2 * "
		    "NEW.amount WHERE id = 1; END",
		    "trigger \"txns_balance\" differs from tenantd's" },
	};

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ledger_close(fx->l);
		fx->l = NULL;
		assert_int_equal(unlink(fx->path), 0);
		assert_non_null(l = ledger_open(fx->dfd, 1, err, sizeof(err)));
		ledger_close(l);
		assert_int_equal(raw(fx, cases[i].sql), SQLITE_OK);
		assert_null(ledger_open(fx->dfd, 0, err, sizeof(err)));
		if (strstr(err, cases[i].why) == NULL)
			fail_msg("\"%s\", want \"%s\"", err, cases[i].why);
		/* With create too; and nothing it carried ran. */
		assert_null(ledger_open(fx->dfd, 1, err, sizeof(err)));
		assert_int_equal(raw_int(fx, "SELECT count(*) FROM txns"), 0);
	}
	/* A ledger as ledger.c makes it opens. */
	assert_int_equal(unlink(fx->path), 0);
	assert_non_null(fx->l = ledger_open(fx->dfd, 1, err, sizeof(err)));
	assert_int_equal(ledger_add(fx->l, 5, NULL), 0);
	books(fx, 5, 0);
}

static void
test_open_refuses(void **state)
{
	struct fx	*fx = *state;
	struct ledger	*l;
	char		 err[512], p[PATH_MAX];

	ledger_close(fx->l);
	fx->l = NULL;
	/* Readable by the group: refused. */
	assert_int_equal(chmod(fx->path, 0640), 0);
	assert_null(ledger_open(fx->dfd, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "refusing"));
	assert_int_equal(chmod(fx->path, 0600), 0);
	/* Not root's: refused. */
	assert_int_equal(chown(fx->path, 1, 1), 0);
	assert_null(ledger_open(fx->dfd, 0, err, sizeof(err)));
	assert_int_equal(chown(fx->path, 0, 0), 0);
	/* A symlink: refused, with create too. */
	snprintf(p, sizeof(p), "%s/real.db", fx->dir);
	assert_int_equal(rename(fx->path, p), 0);
	assert_int_equal(symlink("real.db", fx->path), 0);
	assert_null(ledger_open(fx->dfd, 0, err, sizeof(err)));
	assert_null(ledger_open(fx->dfd, 1, err, sizeof(err)));
	assert_int_equal(unlink(fx->path), 0);
	/* Missing without create: refused; an empty file: not a ledger. */
	assert_null(ledger_open(fx->dfd, 0, err, sizeof(err)));
	assert_int_equal(rename(p, fx->path), 0);
	assert_non_null(l = ledger_open(fx->dfd, 0, err, sizeof(err)));
	fx->l = l;
}

static void
test_snapshot(void **state)
{
	struct fx	*fx = *state;
	struct ledger	*l;
	struct stat	 a, b;
	char		 err[512], p[PATH_MAX];
	int		 fd;

	assert_int_equal(ledger_add(fx->l, 42, NULL), 0);
	snprintf(p, sizeof(p), "%s/copy.db", fx->dir);
	assert_true((fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600)) != -1);
	assert_int_equal(ledger_snapshot(fx->l, fx->dfd, fd), 0);
	close(fd);
	/* While fx->l is open, the WAL is folded in: the copy is complete. */
	assert_int_equal(stat(p, &a), 0);
	assert_int_equal(stat(fx->path, &b), 0);
	assert_int_equal(a.st_size, b.st_size);
	/* The copy is a ledger with the same books. */
	ledger_close(fx->l);
	fx->l = NULL;
	assert_int_equal(unlink(fx->path), 0);
	assert_int_equal(rename(p, fx->path), 0);
	assert_non_null(l = ledger_open(fx->dfd, 0, err, sizeof(err)));
	fx->l = l;
	books(fx, 42, 0);
}

struct rows {
	struct ledger_txn	 t[8];
	int			 n, next;
};

static int
rows_cb(const struct ledger_txn *t, void *arg)
{
	struct rows	*r = arg;

	if (r->n == 8)
		return -1;
	r->t[r->n++] = *t;
	return 0;
}

static int
rows_next(void *arg, struct ledger_txn *t)
{
	struct rows	*r = arg;

	if (r->next == r->n)
		return 0;
	*t = r->t[r->next++];
	return 1;
}

/* Rows out of one ledger, into a new one: the same books, or nothing. */
static void
test_rows_restore(void **state)
{
	struct fx		*fx = *state;
	struct ledger		*l;
	struct rows		 r, got;
	char			 err[256], dir[] = "/tmp/test_ledger2.XXXXXX";
	int64_t			 bal, granted, hold;
	int			 dfd;

	assert_int_equal(ledger_add(fx->l, 1000, "initial credits"), 0);
	assert_true((hold = ledger_hold_open(fx->l, "w", 100, &granted)) > 0);
	assert_int_equal(ledger_usage(fx->l, hold, 1, 30), 0);
	assert_int_equal(ledger_add(fx->l, -70, NULL), 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(ledger_rows(fx->l, &bal, rows_cb, &r), 0);
	assert_int_equal(bal, 900);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.t[1].lt_ref, "h1.1");
	assert_string_equal(r.t[2].lt_note, "");

	assert_non_null(mkdtemp(dir));
	assert_true((dfd = open(dir, O_RDONLY | O_DIRECTORY)) != -1);
	assert_non_null(l = ledger_open(dfd, 1, err, sizeof(err)));
	/* A balance the rows do not make: refused, nothing written. */
	r.next = 0;
	assert_int_equal(ledger_restore(l, rows_next, &r, 901), -1);
	assert_non_null(strstr(ledger_errmsg(l), "balance of 900, not 901"));
	/* The schema checks each row again: a second usage of h1.1. */
	r.t[2] = r.t[1];
	r.t[2].lt_id = 9;
	r.next = 0;
	assert_int_equal(ledger_restore(l, rows_next, &r, 940), -1);
	assert_non_null(strstr(ledger_errmsg(l), "transaction 9: UNIQUE"));
	memset(&got, 0, sizeof(got));
	assert_int_equal(ledger_rows(l, &bal, rows_cb, &got), 0);
	assert_int_equal(got.n, 0);
	assert_int_equal(bal, 0);
	/* The rows as they were: the same books. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(ledger_rows(fx->l, &bal, rows_cb, &r), 0);
	assert_int_equal(ledger_restore(l, rows_next, &r, 900), 0);
	assert_int_equal(ledger_rows(l, &bal, rows_cb, &got), 0);
	assert_int_equal(bal, 900);
	assert_memory_equal(got.t, r.t, sizeof(r.t[0]) * 3);
	assert_int_equal(ledger_check(l, err, sizeof(err)), 0);
	/* Only into a new ledger. */
	r.next = 0;
	assert_int_equal(ledger_restore(l, rows_next, &r, 900), -1);
	assert_int_equal(errno, EEXIST);
	ledger_close(l);
	unlinkat(dfd, LEDGER_FILE, 0);
	unlinkat(dfd, LEDGER_FILE "-wal", 0);
	unlinkat(dfd, LEDGER_FILE "-shm", 0);
	close(dfd);
	rmdir(dir);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_file),
		T(test_add),
		T(test_holds),
		T(test_schema_rules),
		T(test_check_finds_foreign_schema),
		T(test_open_refuses_foreign_schema),
		T(test_open_refuses),
		T(test_snapshot),
		T(test_rows_restore),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
