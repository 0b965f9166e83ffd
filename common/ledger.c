/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The credit ledger on SQLite (see ledger.h). The rules that keep the
 * books straight are in the schema, not only here, so a hand edit with
 * sqlite3 cannot break them either: transactions are append-only, the
 * balance moves with each insert in the same transaction and never goes
 * below zero, a closed hold stays closed and a hold's spending only grows.
 * Every operation is one BEGIN IMMEDIATE transaction: tenantctl and the
 * supervisor may both write, and each check is made under the write lock
 * that its change is committed under.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ledger.h"
#include "sqlhard.h"

#define LEDGER_VERSION	1

struct ledger {
	sqlite3		*l_db;
	struct sqlhard	 l_sh;
	char		 l_err[256];
};

static const char schema[] =
	"CREATE TABLE account ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  balance INTEGER NOT NULL CHECK (balance >= 0),"
	"  created INTEGER NOT NULL"
	") STRICT;"
	"CREATE TABLE txns ("
	"  id INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('grant', 'usage', 'adjust')),"
	"  amount INTEGER NOT NULL CHECK (amount <> 0),"
	"  ref TEXT UNIQUE,"
	"  note TEXT,"
	"  CHECK (kind = 'adjust' OR (kind = 'grant') = (amount > 0))"
	") STRICT;"
	"CREATE TABLE holds ("
	"  id INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  owner TEXT NOT NULL,"
	"  amount INTEGER NOT NULL CHECK (amount >= 0),"
	"  used INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0 AND used <= amount),"
	"  open INTEGER NOT NULL DEFAULT 1 CHECK (open IN (0, 1))"
	") STRICT;"
	"CREATE TRIGGER txns_append_only_u BEFORE UPDATE ON txns"
	"  BEGIN SELECT RAISE(ABORT, 'transactions are append-only'); END;"
	"CREATE TRIGGER txns_append_only_d BEFORE DELETE ON txns"
	"  BEGIN SELECT RAISE(ABORT, 'transactions are append-only'); END;"
	/* The balance moves with the insert or not at all. */
	"CREATE TRIGGER txns_balance AFTER INSERT ON txns"
	"  BEGIN UPDATE account SET balance = balance + NEW.amount"
	"    WHERE id = 1; END;"
	"CREATE TRIGGER account_kept BEFORE DELETE ON account"
	"  BEGIN SELECT RAISE(ABORT, 'the account is never removed'); END;"
	"CREATE TRIGGER holds_stay_closed BEFORE UPDATE ON holds"
	"  WHEN OLD.open = 0"
	"  BEGIN SELECT RAISE(ABORT, 'a closed hold stays closed'); END;"
	"CREATE TRIGGER holds_identity BEFORE UPDATE OF id, at, owner ON holds"
	"  BEGIN SELECT RAISE(ABORT, 'a hold''s identity never changes'); END;"
	"CREATE TRIGGER holds_only_grow BEFORE UPDATE OF amount, used ON holds"
	"  WHEN NEW.amount < OLD.amount OR NEW.used < OLD.used"
	"  BEGIN SELECT RAISE(ABORT, 'a hold only grows'); END;"
	"CREATE TRIGGER holds_open_kept BEFORE DELETE ON holds"
	"  WHEN OLD.open = 1"
	"  BEGIN SELECT RAISE(ABORT, 'an open hold cannot be removed'); END;";

static int
l_fail(struct ledger *l, int err)
{
	snprintf(l->l_err, sizeof(l->l_err), "%s", sqlite3_errmsg(l->l_db));
	errno = err;
	return -1;
}

static int
l_refuse(struct ledger *l, int err, const char *msg)
{
	snprintf(l->l_err, sizeof(l->l_err), "%s", msg);
	errno = err;
	return -1;
}

static int
l_exec(struct ledger *l, const char *sql)
{
	char	*msg = NULL;

	if (sqlite3_exec(l->l_db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(l->l_err, sizeof(l->l_err), "%s",
		    msg ? msg : sqlite3_errmsg(l->l_db));
		sqlite3_free(msg);
		errno = EIO;
		return -1;
	}
	return 0;
}

/* One integer from a query with up to two integer parameters; -1 on error. */
static int
l_int(struct ledger *l, const char *sql, int64_t a, int64_t b, int64_t *out)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (sqlite3_prepare_v2(l->l_db, sql, -1, &st, NULL) != SQLITE_OK)
		return l_fail(l, EIO);
	if (sqlite3_bind_parameter_count(st) >= 1)
		sqlite3_bind_int64(st, 1, a);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, b);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE) {
		l_fail(l, EIO);
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : 1;
}

/* A statement: up to three integer parameters, then two text ones. */
static int
l_run(struct ledger *l, const char *sql, int64_t a, int64_t b, int64_t c,
    const char *t1, const char *t2)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (sqlite3_prepare_v2(l->l_db, sql, -1, &st, NULL) != SQLITE_OK)
		return l_fail(l, EIO);
	sqlite3_bind_int64(st, 1, a);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, b);
	if (sqlite3_bind_parameter_count(st) >= 3)
		sqlite3_bind_int64(st, 3, c);
	if (sqlite3_bind_parameter_count(st) >= 4)
		sqlite3_bind_text(st, 4, t1, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(st) >= 5)
		sqlite3_bind_text(st, 5, t2, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return l_fail(l, EIO);
	return 0;
}

static int
l_begin(struct ledger *l)
{
	l->l_err[0] = '\0';
	return l_exec(l, "BEGIN IMMEDIATE");
}

/* Commit if rc is not -1, else roll back keeping the first error. */
static int
l_end(struct ledger *l, int rc)
{
	char	 saved[sizeof(l->l_err)];
	int	 e = errno;

	if (rc != -1)
		return l_exec(l, "COMMIT") == -1 ? -1 : rc;
	memcpy(saved, l->l_err, sizeof(saved));
	l_exec(l, "ROLLBACK");
	memcpy(l->l_err, saved, sizeof(saved));
	errno = e;
	return -1;
}

/* Credits not reserved by an open hold. */
static int
l_available(struct ledger *l, int64_t *avail)
{
	int64_t	 bal, held;

	if (l_int(l, "SELECT balance FROM account WHERE id = 1", 0, 0,
	    &bal) != 0 || l_int(l, "SELECT coalesce(sum(amount - used), 0) "
	    "FROM holds WHERE open = 1", 0, 0, &held) != 0)
		return l->l_err[0] ? -1 : l_refuse(l, EIO, "no account row");
	*avail = bal - held;
	return 0;
}

/*
 * Is the schema exactly what l_migrate() creates, object by object and
 * SQL text by SQL text? The reference is that schema, made in memory by
 * the same statements, so there is no second copy of it to drift.
 */
static int
l_schema(struct ledger *l)
{
	struct sqlhard	 sh;
	sqlite3		*ref;
	char		*msg = NULL;
	int		 rc;

	if ((ref = sqlhard_open(":memory:", SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL, &sh, SQLHARD_BUDGET_MS, l->l_err,
	    sizeof(l->l_err))) == NULL) {
		errno = EIO;
		return -1;
	}
	if (sqlite3_exec(ref, schema, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(l->l_err, sizeof(l->l_err), "%s", msg ? msg :
		    sqlite3_errmsg(ref));
		sqlite3_free(msg);
		sqlite3_close(ref);
		errno = EIO;
		return -1;
	}
	rc = sqlhard_schema_same(l->l_db, ref, l->l_err, sizeof(l->l_err));
	sqlite3_close(ref);
	return rc;
}

static int
l_migrate(struct ledger *l, int create)
{
	int64_t	 v;
	char	 sql[128];

	if (l_begin(l) == -1)
		return -1;
	if (l_int(l, "PRAGMA user_version", 0, 0, &v) != 0)
		return l_end(l, -1);
	if (v == LEDGER_VERSION)
		return l_end(l, 0);
	if (v != 0 || !create) {
		snprintf(l->l_err, sizeof(l->l_err), "ledger schema version "
		    "%lld, this tenantd knows %d", (long long)v, LEDGER_VERSION);
		return l_end(l, -1);
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", LEDGER_VERSION);
	if (l_exec(l, schema) == -1 ||
	    l_run(l, "INSERT INTO account (id, balance, created) "
	    "VALUES (1, 0, ?1)", time(NULL), 0, 0, NULL, NULL) == -1 ||
	    l_exec(l, sql) == -1)
		return l_end(l, -1);
	return l_end(l, 0);
}

/*
 * The ledger's directory by name: SQLite opens files by path (and its WAL
 * beside it), and with SQLITE_OPEN_NOFOLLOW refuses a path through any
 * symlink, so /proc/self/fd/N itself cannot be handed to it. The file it
 * opened is compared with the one checked through dirfd.
 */
struct ledger *
ledger_open(int dirfd, int create, char *err, size_t errsz)
{
	struct ledger	*l;
	struct stat	 st, st2;
	char		 proc[64], dir[PATH_MAX], path[PATH_MAX];
	ssize_t		 n;
	int		 fd;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(err, errsz, "%s", strerror(errno));
		return NULL;
	}
	if (create) {
		fd = openat(dirfd, LEDGER_FILE, O_RDWR | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd == -1 && errno != EEXIST) {
			snprintf(err, errsz, "%s: %s", LEDGER_FILE,
			    strerror(errno));
			goto fail;
		}
		if (fd != -1 && (fchown(fd, 0, 0) == -1 ||
		    fchmod(fd, 0600) == -1 || close(fd) == -1)) {
			snprintf(err, errsz, "%s: %s", LEDGER_FILE,
			    strerror(errno));
			goto fail;
		}
	}
	if ((fd = openat(dirfd, LEDGER_FILE, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		snprintf(err, errsz, "%s: %s", LEDGER_FILE, strerror(errno));
		goto fail;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 077) != 0) {
		snprintf(err, errsz, "%s: must be a regular file owned by root "
		    "with mode 0600; refusing to use it", LEDGER_FILE);
		close(fd);
		goto fail;
	}
	close(fd);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", dirfd);
	if ((n = readlink(proc, dir, sizeof(dir) - 1)) == -1 ||
	    (size_t)n >= sizeof(dir) - 1) {
		snprintf(err, errsz, "%s: %s", proc, n == -1 ? strerror(errno) :
		    "path too long");
		goto fail;
	}
	dir[n] = '\0';
	if (snprintf(path, sizeof(path), "%s/%s", dir, LEDGER_FILE) >=
	    (int)sizeof(path)) {
		snprintf(err, errsz, "%s: path too long", dir);
		goto fail;
	}
	if ((l->l_db = sqlhard_open(path, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL, &l->l_sh, SQLHARD_BUDGET_MS, err,
	    errsz)) == NULL)
		goto fail;
	if (stat(path, &st2) == -1 || st2.st_dev != st.st_dev ||
	    st2.st_ino != st.st_ino) {
		snprintf(err, errsz, "%s: replaced while it was opened", path);
		goto fail;
	}
	sqlite3_busy_timeout(l->l_db, 5000);
	/*
	 * The schema is checked before the handle is returned, so before
	 * any statement of ours writes a row: a trigger that is not ours
	 * (an imported billing.db's) never runs (docs/data-plane.md).
	 */
	if (l_exec(l, "PRAGMA foreign_keys = ON") == -1 ||
	    l_exec(l, "PRAGMA journal_mode = WAL") == -1 ||
	    l_exec(l, "PRAGMA synchronous = FULL") == -1 ||
	    l_migrate(l, create) == -1 || l_schema(l) == -1) {
		snprintf(err, errsz, "%s: %s", path, l->l_err);
		goto fail;
	}
	return l;
 fail:
	sqlite3_close(l->l_db);
	free(l);
	return NULL;
}

void
ledger_close(struct ledger *l)
{
	if (l == NULL)
		return;
	sqlite3_close(l->l_db);
	free(l);
}

const char *
ledger_errmsg(struct ledger *l)
{
	return l->l_err;
}

int
ledger_add(struct ledger *l, int64_t amount, const char *note)
{
	int64_t	 avail;

	if (amount == 0 || amount > LEDGER_AMOUNT_MAX ||
	    amount < -LEDGER_AMOUNT_MAX)
		return l_refuse(l, EINVAL, "the amount must be a non-zero "
		    "number of credits within +-10^15");
	if (note != NULL && strlen(note) > LEDGER_NOTE_MAX)
		return l_refuse(l, EINVAL, "the note is longer than 200 bytes");
	if (l_begin(l) == -1)
		return -1;
	if (l_available(l, &avail) == -1)
		return l_end(l, -1);
	if (amount < 0 && avail + amount < 0) {
		snprintf(l->l_err, sizeof(l->l_err), "only %lld credits are "
		    "available (not held by a worker); cannot remove %lld",
		    (long long)avail, (long long)-amount);
		errno = ERANGE;
		return l_end(l, -1);
	}
	return l_end(l, l_run(l, "INSERT INTO txns (at, kind, amount, ref, "
	    "note) VALUES (?1, ?4, ?3, NULL, ?5)", time(NULL), 0, amount,
	    amount > 0 ? "grant" : "adjust", note));
}

/* Is the hold there and open? 0 if so, -1 with ENOENT if not. */
static int
l_hold_open(struct ledger *l, int64_t hold)
{
	int64_t	 open;

	switch (l_int(l, "SELECT open FROM holds WHERE id = ?1", hold, 0,
	    &open)) {
	case -1:
		return -1;
	case 1:
		return l_refuse(l, ENOENT, "no such hold");
	}
	return open ? 0 : l_refuse(l, ENOENT, "the hold is closed");
}

/*
 * Open a hold (hold 0) or grow an open one by up to `want`: what is
 * available, possibly 0. Returns the hold's id or -1.
 */
static int64_t
l_hold_grow(struct ledger *l, int64_t hold, const char *owner, int64_t want,
    int64_t *granted)
{
	int64_t	 avail, g;

	*granted = 0;
	if (want < 0 || want > LEDGER_AMOUNT_MAX)
		return l_refuse(l, EINVAL, "a hold of a negative amount");
	if (l_begin(l) == -1)
		return -1;
	if ((hold != 0 && l_hold_open(l, hold) == -1) ||
	    l_available(l, &avail) == -1)
		return l_end(l, -1);
	g = want < avail ? want : avail > 0 ? avail : 0;
	if (hold == 0 ? l_run(l, "INSERT INTO holds (at, owner, amount) "
	    "VALUES (?1, ?4, ?2)", time(NULL), g, 0, owner, NULL) == -1 :
	    g > 0 && l_run(l, "UPDATE holds SET amount = amount + ?2 "
	    "WHERE id = ?1", hold, g, 0, NULL, NULL) == -1)
		return l_end(l, -1);
	if (hold == 0)
		hold = sqlite3_last_insert_rowid(l->l_db);
	if (l_end(l, 0) == -1)
		return -1;
	*granted = g;
	return hold;
}

int64_t
ledger_hold_open(struct ledger *l, const char *owner, int64_t want,
    int64_t *granted)
{
	return l_hold_grow(l, 0, owner, want, granted);
}

int
ledger_hold_extend(struct ledger *l, int64_t hold, int64_t want,
    int64_t *granted)
{
	if (hold <= 0)
		return l_refuse(l, ENOENT, "no such hold");
	return l_hold_grow(l, hold, NULL, want, granted) == -1 ? -1 : 0;
}

static int
l_ref_seen(struct ledger *l, const char *ref)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (sqlite3_prepare_v2(l->l_db, "SELECT 1 FROM txns WHERE ref = ?", -1,
	    &st, NULL) != SQLITE_OK)
		return l_fail(l, EIO);
	sqlite3_bind_text(st, 1, ref, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : l_fail(l, EIO);
}

int
ledger_usage(struct ledger *l, int64_t hold, uint64_t seq, int64_t units)
{
	char	 ref[64];
	int64_t	 left;

	if (units < 0)
		return l_refuse(l, EINVAL, "negative usage");
	snprintf(ref, sizeof(ref), "h%lld.%llu", (long long)hold,
	    (unsigned long long)seq);
	if (l_begin(l) == -1)
		return -1;
	/* A report seen before: applied once, whatever it says now. */
	switch (l_ref_seen(l, ref)) {
	case -1:
		return l_end(l, -1);
	case 1:
		return l_end(l, 1);
	}
	if (l_hold_open(l, hold) == -1 ||
	    l_int(l, "SELECT amount - used FROM holds WHERE id = ?1", hold, 0,
	    &left) != 0)
		return l_end(l, -1);
	if (units > left) {
		snprintf(l->l_err, sizeof(l->l_err), "usage of %lld is more "
		    "than the %lld left in hold %lld", (long long)units,
		    (long long)left, (long long)hold);
		errno = ERANGE;
		return l_end(l, -1);
	}
	if (units == 0)		/* nothing spent: nothing to book */
		return l_end(l, 0);
	if (l_run(l, "UPDATE holds SET used = used + ?2 WHERE id = ?1", hold,
	    units, 0, NULL, NULL) == -1 ||
	    l_run(l, "INSERT INTO txns (at, kind, amount, ref, note) "
	    "VALUES (?1, 'usage', ?3, ?4, NULL)", time(NULL), 0, -units, ref,
	    NULL) == -1)
		return l_end(l, -1);
	return l_end(l, 0);
}

int
ledger_hold_close(struct ledger *l, int64_t hold)
{
	int64_t	 open;

	if (l_begin(l) == -1)
		return -1;
	switch (l_int(l, "SELECT open FROM holds WHERE id = ?1", hold, 0,
	    &open)) {
	case -1:
		return l_end(l, -1);
	case 1:
		l_refuse(l, ENOENT, "no such hold");
		return l_end(l, -1);
	}
	if (open && l_run(l, "UPDATE holds SET open = 0 WHERE id = ?1", hold,
	    0, 0, NULL, NULL) == -1)
		return l_end(l, -1);
	return l_end(l, 0);
}

int
ledger_holds_close_all(struct ledger *l)
{
	if (l_begin(l) == -1)
		return -1;
	if (l_exec(l, "UPDATE holds SET open = 0 WHERE open = 1") == -1)
		return l_end(l, -1);
	return l_end(l, sqlite3_changes(l->l_db));
}

int
ledger_summary(struct ledger *l, struct ledger_summary *s)
{
	memset(s, 0, sizeof(*s));
	/* One read transaction: the numbers are of one moment. */
	if (l_exec(l, "BEGIN") == -1)
		return -1;
	if (l_int(l, "SELECT balance FROM account WHERE id = 1", 0, 0,
	    &s->ls_balance) != 0 ||
	    l_int(l, "SELECT coalesce(sum(amount - used), 0) "
	    "FROM holds WHERE open = 1", 0, 0, &s->ls_held) != 0 ||
	    l_int(l, "SELECT count(*) FROM holds WHERE open = 1", 0, 0,
	    &s->ls_nholds_open) != 0 ||
	    l_int(l, "SELECT coalesce(sum(amount), 0) FROM txns", 0, 0,
	    &s->ls_sum) != 0 ||
	    l_int(l, "SELECT count(*) FROM txns", 0, 0, &s->ls_ntxn) != 0) {
		if (l->l_err[0] == '\0')
			l_refuse(l, EIO, "no account row");
		return l_end(l, -1);
	}
	s->ls_available = s->ls_balance - s->ls_held;
	return l_end(l, 0);
}

int
ledger_history(struct ledger *l, struct ledger_txn *t, int max)
{
	sqlite3_stmt	*st;
	int		 rc, n = 0;

	if (max <= 0)
		return 0;
	if (sqlite3_prepare_v2(l->l_db, "SELECT id, at, kind, amount, "
	    "coalesce(ref, ''), coalesce(note, '') FROM txns "
	    "ORDER BY id DESC LIMIT ?", -1, &st, NULL) != SQLITE_OK)
		return l_fail(l, EIO);
	sqlite3_bind_int(st, 1, max);
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&t[n], 0, sizeof(t[n]));
		t[n].lt_id = sqlite3_column_int64(st, 0);
		t[n].lt_at = sqlite3_column_int64(st, 1);
		snprintf(t[n].lt_kind, sizeof(t[n].lt_kind), "%s",
		    (const char *)sqlite3_column_text(st, 2));
		t[n].lt_amount = sqlite3_column_int64(st, 3);
		snprintf(t[n].lt_ref, sizeof(t[n].lt_ref), "%s",
		    (const char *)sqlite3_column_text(st, 4));
		snprintf(t[n].lt_note, sizeof(t[n].lt_note), "%s",
		    (const char *)sqlite3_column_text(st, 5));
		n++;
	}
	if (n < max && rc != SQLITE_DONE) {
		l_fail(l, EIO);
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return n;
}

int
ledger_rows(struct ledger *l, int64_t *balance,
    int (*cb)(const struct ledger_txn *, void *), void *arg)
{
	struct ledger_txn	 t;
	sqlite3_stmt		*st;
	const unsigned char	*s;
	int			 rc;

	/* One read transaction: the balance is that of these rows. */
	if (l_exec(l, "BEGIN") == -1)
		return -1;
	if (l_int(l, "SELECT balance FROM account WHERE id = 1", 0, 0,
	    balance) != 0) {
		if (l->l_err[0] == '\0')
			l_refuse(l, EIO, "no account row");
		return l_end(l, -1);
	}
	if (sqlite3_prepare_v2(l->l_db, "SELECT id, at, kind, amount, ref, "
	    "note FROM txns ORDER BY id", -1, &st, NULL) != SQLITE_OK)
		return l_end(l, l_fail(l, EIO));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&t, 0, sizeof(t));
		t.lt_id = sqlite3_column_int64(st, 0);
		t.lt_at = sqlite3_column_int64(st, 1);
		snprintf(t.lt_kind, sizeof(t.lt_kind), "%s",
		    (const char *)sqlite3_column_text(st, 2));
		t.lt_amount = sqlite3_column_int64(st, 3);
		if ((s = sqlite3_column_text(st, 4)) != NULL)
			snprintf(t.lt_ref, sizeof(t.lt_ref), "%s", s);
		if ((s = sqlite3_column_text(st, 5)) != NULL)
			snprintf(t.lt_note, sizeof(t.lt_note), "%s", s);
		if (cb(&t, arg) == -1) {
			sqlite3_finalize(st);
			l_refuse(l, ECANCELED, "stopped by the caller");
			return l_end(l, -1);
		}
	}
	if (rc != SQLITE_DONE) {
		l_fail(l, EIO);
		sqlite3_finalize(st);
		return l_end(l, -1);
	}
	sqlite3_finalize(st);
	return l_end(l, 0);
}

int
ledger_restore(struct ledger *l, int (*next)(void *, struct ledger_txn *),
    void *arg, int64_t balance)
{
	struct ledger_txn	 t;
	sqlite3_stmt		*st;
	int64_t			 n, bal;
	int			 r;

	if (l_begin(l) == -1)
		return -1;
	if (l_int(l, "SELECT (SELECT count(*) FROM txns) + (SELECT count(*) "
	    "FROM holds)", 0, 0, &n) != 0)
		return l_end(l, -1);
	if (n != 0) {
		l_refuse(l, EEXIST, "the ledger is not new");
		return l_end(l, -1);
	}
	if (sqlite3_prepare_v2(l->l_db, "INSERT INTO txns (id, at, kind, "
	    "amount, ref, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", -1, &st,
	    NULL) != SQLITE_OK)
		return l_end(l, l_fail(l, EIO));
	/*
	 * The schema checks each row again (kind, sign, a unique reference,
	 * a balance never below zero), whatever the caller checked before.
	 */
	while ((r = next(arg, &t)) == 1) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, t.lt_id);
		sqlite3_bind_int64(st, 2, t.lt_at);
		sqlite3_bind_text(st, 3, t.lt_kind, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, t.lt_amount);
		if (t.lt_ref[0] != '\0')
			sqlite3_bind_text(st, 5, t.lt_ref, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 5);
		if (t.lt_note[0] != '\0')
			sqlite3_bind_text(st, 6, t.lt_note, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 6);
		if (sqlite3_step(st) != SQLITE_DONE) {
			snprintf(l->l_err, sizeof(l->l_err), "transaction %lld: "
			    "%s", (long long)t.lt_id, sqlite3_errmsg(l->l_db));
			sqlite3_finalize(st);
			errno = EINVAL;
			return l_end(l, -1);
		}
	}
	sqlite3_finalize(st);
	if (r == -1) {
		l_refuse(l, EINVAL, "the rows could not be read");
		return l_end(l, -1);
	}
	if (l_int(l, "SELECT balance FROM account WHERE id = 1", 0, 0,
	    &bal) != 0)
		return l_end(l, -1);
	if (bal != balance) {
		snprintf(l->l_err, sizeof(l->l_err), "the transactions make a "
		    "balance of %lld, not %lld", (long long)bal,
		    (long long)balance);
		errno = EINVAL;
		return l_end(l, -1);
	}
	return l_end(l, 0);
}

/*
 * The books, checked: the file is sound, its schema is ours to the last
 * byte of SQL (a billing.db from an archive could carry a trigger of its
 * own, even one named like a table: l_schema()), the balance is the sum
 * of the transactions and the open holds fit in it.
 */
int
ledger_check(struct ledger *l, char *err, size_t errsz)
{
	sqlite3_stmt	*st;
	int64_t		 v, bal, sum, held, extra = 0;
	const char	*why = NULL;
	int		 ok;

	if (sqlite3_prepare_v2(l->l_db, "PRAGMA quick_check", -1, &st,
	    NULL) != SQLITE_OK) {
		snprintf(err, errsz, "%s", sqlite3_errmsg(l->l_db));
		return -1;
	}
	ok = sqlite3_step(st) == SQLITE_ROW && strcmp((const char *)
	    sqlite3_column_text(st, 0), "ok") == 0;
	sqlite3_finalize(st);
	if (!ok) {
		snprintf(err, errsz, "the database is damaged (quick_check)");
		return -1;
	}
	if (l_exec(l, "BEGIN") == -1) {
		snprintf(err, errsz, "%s", l->l_err);
		return -1;
	}
	if (l_int(l, "PRAGMA user_version", 0, 0, &v) != 0 ||
	    (extra = l_schema(l)) == -1 ||
	    l_int(l, "SELECT balance FROM account WHERE id = 1", 0, 0,
	    &bal) != 0 ||
	    l_int(l, "SELECT coalesce(sum(amount), 0) FROM txns", 0, 0,
	    &sum) != 0 ||
	    l_int(l, "SELECT coalesce(sum(amount - used), 0) FROM holds "
	    "WHERE open = 1", 0, 0, &held) != 0)
		why = extra == -1 || l->l_err[0] ? l->l_err : "no account row";
	else if (v != LEDGER_VERSION)
		why = "not a ledger of this version";
	else if (l_int(l, "SELECT count(*) FROM holds WHERE used > amount "
	    "OR used < 0", 0, 0, &v) != 0 || v != 0)
		why = "a hold has spent more than it held";
	l_end(l, 0);
	if (why != NULL) {
		snprintf(err, errsz, "%s", why);
		return -1;
	}
	if (bal != sum) {
		snprintf(err, errsz, "balance %lld is not the sum of the "
		    "transactions, %lld", (long long)bal, (long long)sum);
		return -1;
	}
	if (held > bal) {
		snprintf(err, errsz, "open holds reserve %lld, more than the "
		    "balance %lld", (long long)held, (long long)bal);
		return -1;
	}
	return 0;
}

/*
 * A consistent copy of billing.db into outfd, byte for byte, while the
 * supervisor may be writing: fold the WAL into the file, take the write
 * lock, and copy only if the WAL is still empty (nobody committed in
 * between); the lock keeps it so until the copy is done.
 */
int
ledger_snapshot(struct ledger *l, int dirfd, int outfd)
{
	struct stat	 st;
	char		 buf[65536];
	ssize_t		 n;
	int64_t		 bal;
	int		 tries, fd, empty;

	for (tries = 0; tries < 10; tries++) {
		if (l_exec(l, "PRAGMA wal_checkpoint(TRUNCATE)") == -1 ||
		    l_begin(l) == -1)
			return -1;
		/* The lock is only taken at the first access. */
		if (l_int(l, "SELECT balance FROM account", 0, 0, &bal) == -1)
			return l_end(l, -1);
		empty = fstatat(dirfd, LEDGER_FILE "-wal", &st,
		    AT_SYMLINK_NOFOLLOW) == -1 ? errno == ENOENT :
		    st.st_size == 0;
		if (empty)
			break;
		l_end(l, 0);
	}
	if (tries == 10) {
		l_refuse(l, EBUSY, "billing.db is busy; try again");
		return -1;
	}
	if ((fd = openat(dirfd, LEDGER_FILE, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		snprintf(l->l_err, sizeof(l->l_err), "%s: %s", LEDGER_FILE,
		    strerror(errno));
		return l_end(l, -1);
	}
	if (ftruncate(outfd, 0) == -1 || lseek(outfd, 0, SEEK_SET) == -1)
		n = -1;
	else
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			if (write(outfd, buf, (size_t)n) != n) {
				n = -1;
				break;
			}
	if (n == -1) {
		snprintf(l->l_err, sizeof(l->l_err), "copying %s: %s",
		    LEDGER_FILE, strerror(errno ? errno : EIO));
		close(fd);
		return l_end(l, -1);
	}
	close(fd);
	/* Read only: nothing to commit. */
	l_exec(l, "ROLLBACK");
	return lseek(outfd, 0, SEEK_SET) == -1 ? -1 : 0;
}
