/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The tenant's key-value store: /data/app.db inside the jail, opened on
 * the first API request and closed after db_idle without one. Several
 * workers of a tenant may share the file, so it is in WAL mode and a busy
 * database is an error we answer, not a wait that stalls the event loop.
 * The file is the tenant's own and may be anything (docs/security.md,
 * items 93-94): it is opened defensively, no SQL is ever built from a request,
 * and every statement runs under a deadline. Tenant code writes data/ with our
 * uid, so nothing of it is ever mapped into our memory (kv_sys_open()).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "sqlhard.h"
#include "sys.h"
#include "worker.h"

#define KV_DB_PATH		"/data/app.db"
#define KV_BUSY_MS		20	/* the loop waits at most this long */
#define KV_SQL_MAX		1024	/* our statements; the schema's too */
#define KV_HEAP_BASE		(32 << 20)
#define KV_VALUE_CEILING	(1 << 20)	/* kv_max_value's bound, tlimits.c */
#define KV_KEY_CEILING		1024		/* kv_max_key's bound */
#define KV_WAL_ROOM_MAX		(4 << 20)	/* the write-ahead log's share */
#define KV_SHM_NAMED		"data/app.db-shm"	/* as SQLite names it */
#define KV_SHM_PATH		"tmp/app.db-shm"	/* where it is instead */

enum {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_GET, ST_EXISTS, ST_COUNT,
	ST_UPSERT, ST_DELETE, ST_LIST, ST_MAX
};

/* Prepared once per open; the only SQL this file ever runs on requests. */
static const char *const kv_sql[ST_MAX] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_GET] = "SELECT value FROM kv WHERE key = ?1",
	[ST_EXISTS] = "SELECT 1 FROM kv WHERE key = ?1",
	[ST_COUNT] = "SELECT count(*) FROM kv",
	[ST_UPSERT] = "INSERT INTO kv (key, value, updated) "
	    "VALUES (?1, ?2, ?3) ON CONFLICT (key) DO UPDATE SET "
	    "value = excluded.value, updated = excluded.updated",
	[ST_DELETE] = "DELETE FROM kv WHERE key = ?1",
	[ST_LIST] = "SELECT key, value FROM kv WHERE key > ?1 AND key >= ?2 "
	    "ORDER BY key LIMIT ?3",
};

static sqlite3		*db;
static sqlite3_stmt	*st[ST_MAX];
static ev_timer		 idle_ev;
static struct sqlhard	 kv_sh;		/* the statement deadline */
static uid_t		 kv_euid;
static int		 vfs_ready;

static void	kv_idle_cb(struct ev_loop *, ev_timer *, int);

/*
 * The unix VFS opens files with open(2), which glibc makes openat(2): a
 * syscall the seccomp policy does not allow, since it reaches any path the
 * uid can. Its "open" is replaceable (sqlite3_vfs.xSetSystemCall), so we
 * route it through openat2 beneath the jail root with no symlink or mount
 * crossing, like every other file the worker opens. SQLite only ever passes
 * absolute paths here (it made them with xFullPathname); "/" is the jail.
 */
static int
kv_sys_open(const char *path, int flags, int mode)
{
	while (*path == '/')
		path++;
	if (*path == '\0') {
		errno = EISDIR;
		return -1;
	}
	/*
	 * The WAL index is a file SQLite maps, shared by the tenant's
	 * workers, and SQLite names it beside the database. But tenant code
	 * writes data/ with our uid: it could truncate that file under the
	 * mapping, and our next access would die of SIGBUS, a crash at the
	 * tenant's will (docs/data-plane.md, section 2). So the index lives
	 * in the tenant directory's tmp/, which every worker of the tenant
	 * sees at the same path and no tenant code sees at all (tmp/ is not
	 * one of policy_file.c's tenant_dirs). KV_DB_PATH is our only
	 * database, so this is the only index SQLite ever opens.
	 */
	if (strcmp(path, KV_SHM_NAMED) == 0)
		path = KV_SHM_PATH;
	return open_beneath(AT_FDCWD, path, flags, (mode_t)mode);
}

/*
 * More of the VFS's calls, answered without the kernel so the policy need
 * not allow them. Our euid cannot change after the sandbox (SQLite
 * asks for it to decide whether to chown its journal like root).
 * readlink: a symlink in the path (the tenant can plant one in /data) is
 * refused, not followed. getpid(), which SQLite also calls, is not
 * replaceable and is in the policy.
 */
static uid_t
kv_sys_geteuid(void)
{
	return kv_euid;
}

static ssize_t
kv_sys_readlink(const char *path, char *buf, size_t sz)
{
	errno = ELOOP;
	return -1;
}

/*
 * SQLite would chmod a new file to 0644 when the umask made it something
 * else; the umask we were given is the better judge, and the policy does
 * not allow fchmod.
 */
static int
kv_sys_fchmod(int fd, mode_t mode)
{
	return 0;
}

/*
 * The policy never allows unlink (a compromised worker would delete the
 * tenant's files). kv_open() arranges that SQLite has nothing to delete:
 * the WAL and its index persist, and the one rollback journal, of the
 * transaction that switches a file to WAL, is truncated instead. Should a
 * file the tenant put there still make SQLite delete one (a hot journal),
 * that is an I/O error for the request, not a seccomp kill.
 */
static int
kv_sys_unlink(const char *path)
{
	errno = EPERM;
	return -1;
}

/* Before the sandbox, with the uid we are about to become. */
void
kv_init(uid_t euid)
{
	sqlite3_vfs	*vfs;

	kv_euid = euid;
	/*
	 * No memory-mapped I/O of the database, whatever a pragma or the
	 * build's default says: the file is the tenant's to truncate, and a
	 * read through a mapping past its new end is SIGBUS, not an error
	 * (kv_sys_open()). Only possible before sqlite3_initialize().
	 */
	if (sqlite3_config(SQLITE_CONFIG_MMAP_SIZE, (sqlite3_int64)0,
	    (sqlite3_int64)0) != SQLITE_OK)
		fatalx("%s: SQLITE_CONFIG_MMAP_SIZE", __func__);
	if (sqlite3_initialize() != SQLITE_OK)
		fatalx("%s: sqlite3_initialize", __func__);
	if ((vfs = sqlite3_vfs_find("unix")) == NULL ||
	    vfs->iVersion < 3 || vfs->xSetSystemCall == NULL)
		fatalx("%s: no unix VFS with replaceable system calls",
		    __func__);
	if (vfs->xSetSystemCall(vfs, "open",
	    (sqlite3_syscall_ptr)kv_sys_open) != SQLITE_OK ||
	    vfs->xSetSystemCall(vfs, "geteuid",
	    (sqlite3_syscall_ptr)kv_sys_geteuid) != SQLITE_OK ||
	    vfs->xSetSystemCall(vfs, "readlink",
	    (sqlite3_syscall_ptr)kv_sys_readlink) != SQLITE_OK ||
	    vfs->xSetSystemCall(vfs, "fchmod",
	    (sqlite3_syscall_ptr)kv_sys_fchmod) != SQLITE_OK ||
	    vfs->xSetSystemCall(vfs, "unlink",
	    (sqlite3_syscall_ptr)kv_sys_unlink) != SQLITE_OK)
		fatalx("%s: xSetSystemCall failed", __func__);
	ev_timer_init(&idle_ev, kv_idle_cb, 0., 0.);
	vfs_ready = 1;
}

static void
kv_idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	log_debug("%s: closing app.db after %llu ms idle", __func__,
	    (unsigned long long)env->we_tl[TL_DB_IDLE]);
	kv_close();
}

static void
kv_touch(void)
{
	ev_timer_stop(env->we_loop, &idle_ev);
	ev_timer_set(&idle_ev, (double)env->we_tl[TL_DB_IDLE] / 1000., 0.);
	ev_timer_start(env->we_loop, &idle_ev);
}

/*
 * The largest string or row SQLite will make: a value and its key with
 * room for the row's header. Our SQL is short and fixed, so the statement
 * length limit is ours, far below the value's. And the statement deadline,
 * statement_timeout (0: none).
 */
static void
kv_set_limits(void)
{
	uint64_t	 len;

	/*
	 * The largest value and key any setting allows, not the current
	 * ones: SQLite applies the limit to reads too, and a value stored
	 * before kv_max_value was lowered must stay readable (the write
	 * path enforces the current limit with 413).
	 */
	len = KV_VALUE_CEILING + KV_KEY_CEILING + 1024;
	sqlite3_limit(db, SQLITE_LIMIT_LENGTH, (int)len);
	sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, KV_SQL_MAX);
	sqlite3_hard_heap_limit64((sqlite3_int64)(KV_HEAP_BASE + 4 * len));
	sqlhard_budget(&kv_sh, env->we_tl[TL_STATEMENT_TIMEOUT]);
}

/*
 * The file may grow to the tenant's storage quota less what the rest of
 * the tenant directory uses (measured by the supervisor). SQLite never
 * shrinks max_page_count below the current size, and 0 only reads it:
 * a database already over quota stays readable and any growth fails.
 */
static int
kv_set_quota(void)
{
	sqlite3_stmt	*s;
	uint64_t	 room, pages, wal, psz = 0;
	char		 sql[64];

	if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &s, NULL) !=
	    SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		psz = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (psz == 0)
		return -1;
	room = env->we_tl[TL_STORAGE] > env->we_storage_other ?
	    env->we_tl[TL_STORAGE] - env->we_storage_other : 0;
	/*
	 * The write-ahead log lives beside the file and counts too: it gets
	 * a quarter of the room, at most 4M, checkpointed when it holds that
	 * much and truncated back to it after, and the database the rest.
	 */
	wal = room / 4 < KV_WAL_ROOM_MAX ? room / 4 : KV_WAL_ROOM_MAX;
	pages = (room - wal) / psz;
	if (pages < 1)
		pages = 1;
	if (pages > 0xfffffffe)
		pages = 0xfffffffe;
	/* Numbers from our supervisor, not from a request. */
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %llu",
	    (unsigned long long)pages);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	snprintf(sql, sizeof(sql), "PRAGMA wal_autocheckpoint = %llu",
	    (unsigned long long)(wal / psz > 0 ? wal / psz : 1));
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	snprintf(sql, sizeof(sql), "PRAGMA journal_size_limit = %llu",
	    (unsigned long long)wal);
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

void
kv_limits_changed(void)
{
	if (db == NULL)
		return;
	kv_set_limits();
	if (kv_set_quota() == -1)
		log_warnx("%s: max_page_count: %s", __func__,
		    sqlite3_errmsg(db));
	kv_touch();
}

void
kv_close(void)
{
	size_t	 i;

	if (env != NULL && env->we_loop != NULL)
		ev_timer_stop(env->we_loop, &idle_ev);
	if (db == NULL)
		return;
	for (i = 0; i < ST_MAX; i++) {
		sqlite3_finalize(st[i]);
		st[i] = NULL;
	}
	if (sqlite3_close(db) != SQLITE_OK)
		log_warnx("%s: %s", __func__, sqlite3_errmsg(db));
	db = NULL;
}

static int
kv_exec(const char *sql)
{
	char	*err = NULL;
	int	 rc;

	if ((rc = sqlite3_exec(db, sql, NULL, NULL, &err)) != SQLITE_OK) {
		log_warnx("%s: %s: %s", __func__, sql, err ? err : "?");
		sqlite3_free(err);
	}
	return rc == SQLITE_OK ? 0 : -1;
}

/* A journal_mode pragma, run: 1 if the file is now in WAL, 0, or -1. */
static int
kv_wal(const char *sql)
{
	sqlite3_stmt	*s;
	int		 wal;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) != SQLITE_ROW || sqlite3_column_text(s, 0) ==
	    NULL)
		wal = -1;
	else
		wal = strcmp((const char *)sqlite3_column_text(s, 0), "wal") ==
		    0;
	sqlite3_finalize(s);
	return wal;
}

static int
kv_open(void)
{
	size_t		 i;
	char		 err[256];
	int		 one = 1, wal;

	if (db != NULL) {
		kv_touch();
		return 0;
	}
	if (!vfs_ready)
		return -1;
	/*
	 * The one hardened open (docs/security.md): defensive, no untrusted
	 * schema functions, no extensions, the authorizer, the deadline.
	 * The file is the tenant's, so its schema is the tenant's data and
	 * not compared with ours; the authorizer and trusted_schema are what
	 * keep a trigger or view planted in it from doing more than our own
	 * statements may. NOFOLLOW: a symlink anywhere in the path is an
	 * error, not a way to another tenant's file (the open itself refuses
	 * them too).
	 */
	if ((db = sqlhard_open(KV_DB_PATH, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, "unix", &kv_sh,
	    env->we_tl[TL_STATEMENT_TIMEOUT], err, sizeof(err))) == NULL) {
		log_warnx("%s: %s", __func__, err);
		goto fail;
	}
	kv_set_limits();
	sqlite3_busy_timeout(db, KV_BUSY_MS);
	/*
	 * No file may need deleting (kv_sys_unlink). temp_store: sorts and
	 * statement journals stay in memory, so SQLite never creates a
	 * temporary file. PERSIST_WAL: the -wal and -shm stay, emptied, when
	 * we close. The switch of a new file to WAL is a transaction of its
	 * own whose rollback journal SQLite would delete; from MEMORY it
	 * runs with none, which for a new, empty file risks nothing. But
	 * only for a file not in WAL yet: asked of one in WAL, MEMORY is a
	 * switch out of it, which needs the file to ourselves and so fails
	 * while another worker of the tenant has it open. The first pragma
	 * only asks, reading the file's header.
	 */
	if (sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &one) !=
	    SQLITE_OK || kv_exec("PRAGMA temp_store = MEMORY") == -1 ||
	    (wal = kv_wal("PRAGMA journal_mode")) == -1)
		goto fail;
	if (!wal && (kv_exec("PRAGMA journal_mode = MEMORY") == -1 ||
	    (wal = kv_wal("PRAGMA journal_mode = WAL")) == -1))
		goto fail;
	if (!wal) {
		log_warnx("%s: cannot switch %s to WAL", __func__,
		    KV_DB_PATH);
		goto fail;
	}
	if (kv_exec("PRAGMA synchronous = NORMAL") == -1 ||
	    kv_exec("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, "
	    "value TEXT NOT NULL, updated INTEGER NOT NULL) WITHOUT ROWID") ==
	    -1 || kv_set_quota() == -1)
		goto fail;
	for (i = 0; i < ST_MAX; i++)
		if (sqlite3_prepare_v3(db, kv_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &st[i], NULL) != SQLITE_OK) {
			log_warnx("%s: prepare: %s", __func__,
			    sqlite3_errmsg(db));
			goto fail;
		}
	kv_touch();
	log_debug("%s: %s open", __func__, KV_DB_PATH);
	return 0;
 fail:
	kv_close();
	return -1;
}

/* One statement's step; sqlhard starts its deadline when it starts. */
static int
kv_step(sqlite3_stmt *s)
{
	return sqlite3_step(s);
}

/* End of a statement: reset it. */
static void
kv_done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

static enum kv_status
kv_status_of(int rc, const char *what)
{
	if (kv_sh.sh_timed_out || rc == SQLITE_INTERRUPT)
		return KV_TIMEOUT;
	if ((rc & 0xff) == SQLITE_FULL)
		return KV_FULL;
	log_warnx("kv: %s: %s", what, sqlite3_errstr(rc));
	/*
	 * Busy, locked, I/O, a corrupt file: none is the client's fault and
	 * none is worth holding the connection; the next request reopens
	 * if the handle is bad.
	 */
	if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED &&
	    (rc & 0xff) != SQLITE_TOOBIG)
		kv_close();
	return KV_UNAVAILABLE;
}

static void
kv_rollback(void)
{
	if (db == NULL || sqlite3_get_autocommit(db))
		return;
	/* A statement of its own, with a deadline of its own. */
	sqlite3_step(st[ST_ROLLBACK]);
	sqlite3_reset(st[ST_ROLLBACK]);
}

/* A statement whose ?1 is the key, ready to step; NULL: unavailable. */
static sqlite3_stmt *
kv_keyed(int which, const char *key, size_t klen)
{
	sqlite3_stmt	*s;

	if (kv_open() == -1)
		return NULL;
	s = st[which];
	if (sqlite3_bind_text(s, 1, key, (int)klen, SQLITE_STATIC) !=
	    SQLITE_OK) {
		kv_done(s);
		return NULL;
	}
	return s;
}

/* *val is malloc'd, NUL-terminated, for the caller to free. */
enum kv_status
kv_get(const char *key, size_t klen, char **val, size_t *vlen)
{
	sqlite3_stmt	*s;
	const void	*p;
	int		 rc, n;

	if ((s = kv_keyed(ST_GET, key, klen)) == NULL)
		return KV_UNAVAILABLE;
	rc = kv_step(s);
	if (rc == SQLITE_DONE) {
		kv_done(s);
		return KV_NOTFOUND;
	}
	if (rc != SQLITE_ROW) {
		kv_done(s);
		return kv_status_of(rc, "get");
	}
	p = sqlite3_column_text(s, 0);
	n = sqlite3_column_bytes(s, 0);
	if (p == NULL || n < 0 || (*val = malloc((size_t)n + 1)) == NULL) {
		kv_done(s);
		return KV_UNAVAILABLE;
	}
	memcpy(*val, p, (size_t)n);
	(*val)[n] = '\0';
	*vlen = (size_t)n;
	kv_done(s);
	return KV_OK;
}

/*
 * Insert or replace in one IMMEDIATE transaction, so that the entry count
 * we check is the one we commit against, whichever worker of the tenant
 * writes at the same time.
 */
enum kv_status
kv_put(const char *key, size_t klen, const char *val, size_t vlen)
{
	sqlite3_stmt	*s;
	enum kv_status	 ret;
	int		 rc, exists;
	int64_t		 count;

	if (kv_open() == -1)
		return KV_UNAVAILABLE;
	rc = kv_step(st[ST_BEGIN]);
	kv_done(st[ST_BEGIN]);
	if (rc != SQLITE_DONE)
		return kv_status_of(rc, "begin");

	s = st[ST_EXISTS];
	if (sqlite3_bind_text(s, 1, key, (int)klen, SQLITE_STATIC) !=
	    SQLITE_OK)
		goto unavailable;
	rc = kv_step(s);
	kv_done(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto fail;
	exists = rc == SQLITE_ROW;
	if (!exists) {
		s = st[ST_COUNT];
		rc = kv_step(s);
		count = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
		kv_done(s);
		if (rc != SQLITE_ROW)
			goto fail;
		if ((uint64_t)count >= env->we_tl[TL_KV_MAX_ENTRIES]) {
			kv_rollback();
			return KV_ENTRIES;
		}
	}
	s = st[ST_UPSERT];
	if (sqlite3_bind_text(s, 1, key, (int)klen, SQLITE_STATIC) !=
	    SQLITE_OK || sqlite3_bind_text(s, 2, val, (int)vlen,
	    SQLITE_STATIC) != SQLITE_OK || sqlite3_bind_int64(s, 3,
	    (sqlite3_int64)time(NULL)) != SQLITE_OK) {
		kv_done(s);
		goto unavailable;
	}
	rc = kv_step(s);
	kv_done(s);
	if (rc != SQLITE_DONE)
		goto fail;
	rc = kv_step(st[ST_COMMIT]);
	kv_done(st[ST_COMMIT]);
	if (rc != SQLITE_DONE)
		goto fail;
	return exists ? KV_OK : KV_CREATED;
 unavailable:
	kv_rollback();
	return KV_UNAVAILABLE;
 fail:
	ret = kv_status_of(rc, "put");
	kv_rollback();
	return ret;
}

enum kv_status
kv_del(const char *key, size_t klen)
{
	sqlite3_stmt	*s;
	int		 rc;

	if ((s = kv_keyed(ST_DELETE, key, klen)) == NULL)
		return KV_UNAVAILABLE;
	rc = kv_step(s);
	kv_done(s);
	if (rc != SQLITE_DONE)
		return kv_status_of(rc, "delete");
	return sqlite3_changes(db) > 0 ? KV_OK : KV_NOTFOUND;
}

/*
 * Keys after `after` that start with `prefix`, in byte order (BINARY
 * collation is memcmp), at most `limit`. The index range starts at the
 * prefix and the walk stops at the first key past it. The callback sees
 * each row and may stop the walk (its response is full).
 */
enum kv_status
kv_list(const char *prefix, size_t plen, const char *after, size_t alen,
    unsigned int limit, kv_row_cb *cb, void *arg)
{
	sqlite3_stmt	*s;
	const char	*k, *v;
	int		 rc, kn, vn;

	if (kv_open() == -1)
		return KV_UNAVAILABLE;
	s = st[ST_LIST];
	if (sqlite3_bind_text(s, 1, after, (int)alen, SQLITE_STATIC) !=
	    SQLITE_OK || sqlite3_bind_text(s, 2, prefix, (int)plen,
	    SQLITE_STATIC) != SQLITE_OK || sqlite3_bind_int(s, 3,
	    (int)limit) != SQLITE_OK) {
		kv_done(s);
		return KV_UNAVAILABLE;
	}
	while ((rc = kv_step(s)) == SQLITE_ROW) {
		k = (const char *)sqlite3_column_text(s, 0);
		kn = sqlite3_column_bytes(s, 0);
		v = (const char *)sqlite3_column_text(s, 1);
		vn = sqlite3_column_bytes(s, 1);
		if (k == NULL || v == NULL || (size_t)kn < plen ||
		    memcmp(k, prefix, plen) != 0) {
			rc = SQLITE_DONE;
			break;
		}
		if (cb(arg, k, (size_t)kn, v, (size_t)vn) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	kv_done(s);
	if (rc != SQLITE_DONE)
		return kv_status_of(rc, "list");
	return KV_OK;
}
