/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The tenant registry on a scratch file: tenant creation and uid
 * allocation (docs/security.md, item 20), reserved names and tombstones
 * (docs/security.md, item 80), and the schema's own CHECK constraints and
 * triggers, which must hold against a hand edit with plain SQL as well as
 * through the API.
 */
#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
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

#include "keys.h"
#include "registry.h"
#include "tlimits.h"

struct fx {
	char		 dir[64];
	char		 path[PATH_MAX];
	struct registry	*r;
};

static int
setup(void **state)
{
	struct fx	*fx;
	char		 err[512];

	if ((fx = calloc(1, sizeof(*fx))) == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_registry.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/registry.db", fx->dir);
	if ((fx->r = registry_open(fx->path, REG_CREATE, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "registry_open: %s\n", err);
		return -1;
	}
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx	*fx = *state;
	static const char *const names[] = { "registry.db",
	    "registry.db-wal", "registry.db-shm", "registry.db-journal",
	    "link.db", "other.db", "other.db-wal", "other.db-shm" };
	char		 p[PATH_MAX];
	size_t		 i;

	registry_close(fx->r);	/* NULL-safe */
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", fx->dir, names[i]);
		unlink(p);
	}
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/*
 * A hand edit: plain SQL on a plain connection, without registry.c's
 * defensive settings. Returns the SQLite result code; the message is kept
 * for the caller to look at.
 */
static char	 raw_msg[512];

static int
raw(const struct fx *fx, const char *sql)
{
	sqlite3	*db;
	char	*msg = NULL;
	int	 rc;

	assert_int_equal(sqlite3_open_v2(fx->path, &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	snprintf(raw_msg, sizeof(raw_msg), "%s", msg ? msg : "");
	sqlite3_free(msg);
	sqlite3_close(db);
	return rc;
}

static void
raw_ok(const struct fx *fx, const char *sql)
{
	if (raw(fx, sql) != SQLITE_OK) {
		print_error("%s: %s\n", sql, raw_msg);
		fail();
	}
}

/* The statement must be aborted by the schema, with this message. */
static void
raw_refused(const struct fx *fx, const char *sql, const char *why)
{
	if (raw(fx, sql) != SQLITE_CONSTRAINT) {
		print_error("not refused: %s (%s)\n", sql, raw_msg);
		fail();
	}
	if (why != NULL && strstr(raw_msg, why) == NULL) {
		print_error("%s: \"%s\", want \"%s\"\n", sql, raw_msg, why);
		fail();
	}
}

static int64_t
raw_int(const struct fx *fx, const char *sql)
{
	sqlite3		*db;
	sqlite3_stmt	*st;
	int64_t		 v = -1;

	assert_int_equal(sqlite3_open_v2(fx->path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
	    SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

#define REG_VERSION_STR_(x)	#x
#define REG_VERSION_STR_X(x)	REG_VERSION_STR_(x)
#define REG_VERSION_STR		REG_VERSION_STR_X(REGISTRY_VERSION)

/* Migration 3's objects, to make a registry of schema 2 again. */
#define DROP_V3 \
	"DROP TRIGGER hostnames_gen_i; DROP TRIGGER hostnames_gen_d; " \
	"DROP TRIGGER hostnames_gen_u; DROP TRIGGER hostnames_cap_i; " \
	"DROP TRIGGER hostnames_cap_u; DROP TABLE hostname_gen; "

#define INS_TENANT \
	"INSERT INTO tenants (slug, uid, gid, created, updated) "

static int
uid_taken(uint32_t id)
{
	return getpwuid((uid_t)id) != NULL || getgrgid((gid_t)id) != NULL;
}

static struct tenant
create_ok(struct registry *r, const char *slug, uint32_t lo, uint32_t hi)
{
	struct tenant	 t;
	int		 rc;

	if ((rc = registry_tenant_create(r, slug, lo, hi, "test", &t)) !=
	    REG_OK) {
		print_error("create %s: %d %s\n", slug, rc,
		    registry_errmsg(r));
		fail();
	}
	assert_string_equal(t.t_slug, slug);
	assert_int_equal(t.t_status, TENANT_ACTIVE);
	assert_int_equal(t.t_uid, t.t_gid);
	assert_true(t.t_uid >= lo && t.t_uid <= hi);
	assert_true(t.t_id > 0);
	return t;
}

static void
test_create_and_alloc(void **state)
{
	struct fx	*fx = *state;
	struct tenant	 a, b, c, t;
	uint32_t	 base;

	/* Find a free stretch high up, clear of this host's accounts. */
	for (base = 3000000000u; uid_taken(base) || uid_taken(base + 1) ||
	    uid_taken(base + 2); base += 3)
		;
	a = create_ok(fx->r, "acme", base, base + 2);
	b = create_ok(fx->r, "beta", base, base + 2);
	c = create_ok(fx->r, "c-3", base, base + 2);
	assert_int_equal(a.t_uid, base);
	assert_int_equal(b.t_uid, base + 1);
	assert_int_equal(c.t_uid, base + 2);
	assert_true(a.t_id < b.t_id && b.t_id < c.t_id);
	assert_int_equal(registry_tenant_create(fx->r, "delta", base,
	    base + 2, "test", &t), REG_FULL);
	assert_non_null(strstr(registry_errmsg(fx->r), "no free uid"));

	/* A slug is taken once. */
	assert_int_equal(registry_tenant_create(fx->r, "acme", base,
	    base + 100, "test", &t), REG_EXISTS);

	/* Ids only ever grow: a range below them all is exhausted. */
	assert_int_equal(registry_tenant_create(fx->r, "echo", base - 100,
	    base - 1, "test", &t), REG_FULL);

	/* Lookups. */
	assert_int_equal(registry_tenant_get(fx->r, "beta", &t), REG_OK);
	assert_int_equal(t.t_uid, b.t_uid);
	assert_int_equal(registry_tenant_by_id(fx->r, c.t_id, &t), REG_OK);
	assert_string_equal(t.t_slug, "c-3");
	assert_int_equal(registry_tenant_get(fx->r, "nope", &t),
	    REG_NOTFOUND);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM audit WHERE "
	    "action = 'create'"), 3);
}

/* ids already in the host's passwd or group files are never handed out. */
static void
test_alloc_skips_system_ids(void **state)
{
	struct fx	*fx = *state;
	struct tenant	 t;
	uint32_t	 lo, want;

	/* The lowest id in use after root (daemon is 1 on Debian). */
	for (lo = 1; lo < 65534 && !uid_taken(lo); lo++)
		;
	if (lo == 65534)
		skip();
	for (want = lo; uid_taken(want); want++)
		;
	print_message("range starts at taken id %u; first free is %u\n", lo,
	    want);
	t = create_ok(fx->r, "acme", lo, 65533);
	assert_int_equal(t.t_uid, want);
	assert_false(uid_taken(t.t_uid));

	/* A range of nothing but taken ids is full, in a fresh registry. */
	registry_close(fx->r);
	unlink(fx->path);
	assert_non_null(fx->r = registry_open(fx->path, REG_CREATE, raw_msg,
	    sizeof(raw_msg)));
	assert_int_equal(registry_tenant_create(fx->r, "beta", lo, want - 1,
	    "test", &t), REG_FULL);
	assert_int_equal(registry_tenant_create(fx->r, "beta", 0, 0, "test",
	    &t), REG_FULL);		/* root, of course */
}

static void
test_reserved_and_invalid(void **state)
{
	struct fx	*fx = *state;
	struct tenant	 t;
	size_t		 i;

	for (i = 0; slug_reserved[i] != NULL; i++)
		assert_int_equal(registry_tenant_create(fx->r, slug_reserved[i],
		    200000, 299999, "test", &t), REG_RESERVED);
	assert_int_equal(registry_tenant_create(fx->r, "Acme", 200000, 299999,
	    "test", &t), REG_INVALID);
	assert_int_equal(registry_tenant_create(fx->r, "xn--acme", 200000,
	    299999, "test", &t), REG_INVALID);
	assert_int_equal(registry_tenant_create(fx->r, "ab", 200000, 299999,
	    "test", &t), REG_INVALID);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM tenants"), 0);
	/* Nothing refused is audited as done. */
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM audit"), 0);
}

static void
test_raw_slug_rules(void **state)
{
	struct fx	*fx = *state;
	static const char *const bad[] = {
		"Ab", "ABC", "aBc", "-ab", "ab-", "xn--ab", "ab--cd", "a_b",
		"a.b", "ab c", "", "ab",
		"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij"
		"abcd",
	};
	char		 sql[512];
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(sql, sizeof(sql), "INSERT INTO tenants (slug, uid, "
		    "gid, created, updated) VALUES ('%s', %zu, %zu, 0, 0)",
		    bad[i], 500000 + i, 500000 + i);
		raw_refused(fx, sql, "CHECK constraint failed");
	}
	/* Reserved names, even through plain SQL. */
	raw_refused(fx, INS_TENANT
	    "VALUES ('www', 600000, 600000, 0, 0)", "slug is reserved");
	raw_refused(fx, INS_TENANT
	    "VALUES ('admin', 600001, 600001, 0, 0)", "slug is reserved");
	/* uid 0, the overflow value, duplicates; a status out of the set. */
	raw_refused(fx, INS_TENANT
	    "VALUES ('rooty', 0, 600002, 0, 0)", "CHECK constraint failed");
	raw_refused(fx, INS_TENANT
	    "VALUES ('big', 4294967295, 600003, 0, 0)",
	    "CHECK constraint failed");
	raw_refused(fx, "INSERT INTO tenants (slug, uid, gid, created, "
	    "updated, status) VALUES ('odd', 600004, 600004, 0, 0, 'zombie')",
	    "CHECK constraint failed");
	raw_ok(fx, INS_TENANT
	    "VALUES ('fine', 600006, 600006, 0, 0)");
	raw_refused(fx, INS_TENANT
	    "VALUES ('twin', 600006, 600007, 0, 0)", "UNIQUE");
	raw_refused(fx, INS_TENANT
	    "VALUES ('twin', 600008, 600006, 0, 0)", "UNIQUE");
	/* The reserved list itself is permanent. */
	raw_refused(fx, "DELETE FROM reserved WHERE slug = 'www'",
	    "permanent");
	raw_refused(fx, "UPDATE reserved SET slug = 'wwx' WHERE slug = 'www'",
	    "permanent");
}

static void
test_raw_hostname_rules(void **state)
{
	struct fx	*fx = *state;
	static const char *const bad[] = {
		"Example.com", "exa_mple.com", "example..com", ".example.com",
		"example.com.", "-a.example.com", "a-.example.com",
		"a.-example.com", "a.example-.com", "localhost", "a b.com",
		"ab", "\xc3\xa9.com", "a.b:443", "a.b/", "*.example.com",
		"user@a.example.com", "",
	};
	struct tenant	 t;
	char		 sql[1024], name[300];
	size_t		 i;

	t = create_ok(fx->r, "acme", 200000, 299999);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(sql, sizeof(sql), "INSERT INTO hostnames (hostname, "
		    "tenant_id, created) VALUES ('%s', %lld, 0)", bad[i],
		    (long long)t.t_id);
		raw_refused(fx, sql, "CHECK constraint failed");
		assert_int_equal(registry_host_add(fx->r, "acme", bad[i], 0,
		    "test"), REG_INVALID);
	}
	/* 254 bytes. */
	memset(name, 'a', sizeof(name));
	for (i = 50; i < 254; i += 50)
		name[i] = '.';
	name[254] = '\0';
	assert_int_equal(registry_host_add(fx->r, "acme", name, 0, "test"),
	    REG_INVALID);
	name[253] = '\0';
	assert_int_equal(registry_host_add(fx->r, "acme", name, 0, "test"),
	    REG_OK);

	assert_int_equal(registry_host_add(fx->r, "acme", "shop.example.org",
	    0, "test"), REG_OK);
	/* Unique on the one canonical form the CHECK allows. */
	create_ok(fx->r, "beta", 200000, 299999);
	assert_int_equal(registry_host_add(fx->r, "beta", "shop.example.org",
	    1, "test"), REG_EXISTS);
	assert_int_equal(registry_host_add(fx->r, "nope", "x.example.org",
	    1, "test"), REG_NOTFOUND);
	/* Pending until activated. */
	assert_int_equal(registry_host_tenant(fx->r, "shop.example.org", &t),
	    REG_NOTFOUND);
	assert_int_equal(registry_host_activate(fx->r, "beta",
	    "shop.example.org", "test"), REG_NOTFOUND);
	assert_int_equal(registry_host_activate(fx->r, "acme",
	    "shop.example.org", "test"), REG_OK);
	assert_int_equal(registry_host_tenant(fx->r, "shop.example.org", &t),
	    REG_OK);
	assert_string_equal(t.t_slug, "acme");
	raw_refused(fx, "UPDATE hostnames SET status = 'verified'", "CHECK");
	raw_refused(fx, "INSERT INTO hostnames (hostname, tenant_id, created) "
	    "VALUES ('orphan.example.org', 999, 0)", "no such tenant");
}

static void
test_audit_append_only(void **state)
{
	struct fx	*fx = *state;

	create_ok(fx->r, "acme", 200000, 299999);
	assert_int_equal(registry_audit(fx->r, "test", "note", "acme", "hi"),
	    REG_OK);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM audit"), 2);
	raw_refused(fx, "UPDATE audit SET actor = 'nobody'", "append-only");
	raw_refused(fx, "UPDATE audit SET detail = NULL WHERE id = 1",
	    "append-only");
	raw_refused(fx, "DELETE FROM audit", "append-only");
	raw_refused(fx, "DELETE FROM audit WHERE id = 2", "append-only");
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM audit"), 2);
	raw_ok(fx, "INSERT INTO audit (ts, actor, action) "
	    "VALUES (0, 'x', 'y')");
}

static int
count_hosts(const struct hostname *h, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static void
test_delete_tombstones(void **state)
{
	struct fx	*fx = *state;
	struct tenant	 t, a;
	int		 n;

	a = create_ok(fx->r, "acme", 200000, 299999);
	create_ok(fx->r, "beta", 200000, 299999);
	assert_int_equal(registry_host_add(fx->r, "acme", "www.acme.example",
	    1, "test"), REG_OK);
	assert_int_equal(registry_host_add(fx->r, "acme", "acme.example", 0,
	    "test"), REG_OK);
	assert_int_equal(registry_host_add(fx->r, "beta", "beta.example", 1,
	    "test"), REG_OK);

	/* Suspension keeps everything. */
	assert_int_equal(registry_tenant_set_status(fx->r, "acme",
	    TENANT_SUSPENDED, "test"), REG_OK);
	n = 0;
	assert_int_equal(registry_hosts(fx->r, a.t_id, 0, count_hosts, &n),
	    REG_OK);
	assert_int_equal(n, 2);
	assert_int_equal(registry_tenant_set_status(fx->r, "acme",
	    TENANT_ACTIVE, "test"), REG_OK);

	assert_int_equal(registry_tenant_set_status(fx->r, "acme",
	    TENANT_DELETED, "test"), REG_OK);
	assert_int_equal(registry_tenant_get(fx->r, "acme", &t), REG_OK);
	assert_int_equal(t.t_status, TENANT_DELETED);
	assert_int_equal(t.t_uid, a.t_uid);	/* kept: never reissued */

	/* Its hostnames are gone; the other tenant's are not. */
	n = 0;
	assert_int_equal(registry_hosts(fx->r, a.t_id, 0, count_hosts, &n),
	    REG_OK);
	assert_int_equal(n, 0);
	assert_int_equal(registry_host_tenant(fx->r, "www.acme.example", &t),
	    REG_NOTFOUND);
	n = 0;
	assert_int_equal(registry_hosts(fx->r, 0, 0, count_hosts, &n), REG_OK);
	assert_int_equal(n, 1);

	/* The slug is a tombstone now. */
	assert_int_equal(registry_tenant_create(fx->r, "acme", 200000, 299999,
	    "test", &t), REG_TOMBSTONE);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM reserved WHERE "
	    "slug = 'acme' AND kind = 'tombstone'"), 1);
	assert_int_equal(registry_tenant_set_status(fx->r, "acme",
	    TENANT_ACTIVE, "test"), REG_STATE);
	assert_int_equal(registry_tenant_set_status(fx->r, "acme",
	    TENANT_DELETED, "test"), REG_STATE);
	assert_int_equal(registry_host_add(fx->r, "acme", "new.acme.example",
	    1, "test"), REG_NOTFOUND);

	/* And a hand edit cannot bring it back either. */
	raw_refused(fx, "UPDATE tenants SET status = 'active' WHERE slug = "
	    "'acme'", "stays deleted");
	raw_refused(fx, "UPDATE tenants SET updated = 1 WHERE slug = 'acme'",
	    "stays deleted");
	raw_refused(fx, "DELETE FROM tenants WHERE slug = 'acme'",
	    "tombstoned, not removed");
	raw_refused(fx, "DELETE FROM reserved WHERE slug = 'acme'",
	    "permanent");
	raw_refused(fx, INS_TENANT
	    "VALUES ('acme', 700000, 700000, 0, 0)", NULL);
	raw_refused(fx, "INSERT INTO hostnames (hostname, tenant_id, status, "
	    "created) VALUES ('back.acme.example', (SELECT id FROM tenants "
	    "WHERE slug = 'acme'), 'active', 0)", "no such tenant");
}

static void
test_identity_immutable(void **state)
{
	struct fx	*fx = *state;

	create_ok(fx->r, "acme", 200000, 299999);
	raw_refused(fx, "UPDATE tenants SET uid = 12345 WHERE slug = 'acme'",
	    "identity never changes");
	raw_refused(fx, "UPDATE tenants SET gid = 12345", "identity");
	raw_refused(fx, "UPDATE tenants SET slug = 'acme2'", "identity");
	raw_refused(fx, "UPDATE tenants SET id = 99", "identity");
	raw_refused(fx, "UPDATE tenants SET created = 1", "identity");
	/* Even a no-op write of an identity column. */
	raw_refused(fx, "UPDATE tenants SET uid = uid", "identity");
	raw_refused(fx, "DELETE FROM tenants", "tombstoned, not removed");
	/* Status and timestamps are what may change. */
	raw_ok(fx, "UPDATE tenants SET status = 'suspended', updated = 5");
}

static void
test_version_and_open(void **state)
{
	struct fx	*fx = *state;
	struct registry	*r;
	struct tenant	 t;
	char		 err[512], link[PATH_MAX], other[PATH_MAX];

	create_ok(fx->r, "acme", 200000, 299999);
	assert_int_equal(raw_int(fx, "PRAGMA user_version"),
	    REGISTRY_VERSION);

	/* Read-only: finds the data, refuses to write. */
	assert_non_null(r = registry_open(fx->path, REG_RDONLY, err,
	    sizeof(err)));
	assert_int_equal(registry_tenant_get(r, "acme", &t), REG_OK);
	assert_int_equal(registry_tenant_create(r, "beta", 200000, 299999,
	    "test", &t), REG_DB);
	/* A commit by another connection is noticed once. */
	assert_int_equal(registry_changed(r), 0);
	create_ok(fx->r, "beta", 200000, 299999);
	assert_int_equal(registry_changed(r), 1);
	assert_int_equal(registry_changed(r), 0);
	registry_close(r);

	/* Without REG_CREATE nothing is created. */
	snprintf(other, sizeof(other), "%s/other.db", fx->dir);
	assert_null(registry_open(other, 0, err, sizeof(err)));
	assert_int_equal(access(other, F_OK), -1);

	/* Never through a symlink (docs/security.md, item 8). */
	snprintf(link, sizeof(link), "%s/link.db", fx->dir);
	assert_int_equal(symlink(fx->path, link), 0);
	assert_null(registry_open(link, 0, err, sizeof(err)));
	assert_null(registry_open(link, REG_RDONLY, err, sizeof(err)));

	/* A newer schema than this code knows is refused, not guessed at. */
	raw_ok(fx, "PRAGMA user_version = 99");
	err[0] = '\0';
	assert_null(r = registry_open(fx->path, 0, err, sizeof(err)));
	print_message("writer: %s\n", err);
	assert_non_null(strstr(err, "99"));
	assert_non_null(strstr(err, "newer"));
	err[0] = '\0';
	assert_null(r = registry_open(fx->path, REG_CREATE, err, sizeof(err)));
	assert_non_null(strstr(err, "newer"));
	err[0] = '\0';
	assert_null(r = registry_open(fx->path, REG_RDONLY, err, sizeof(err)));
	print_message("reader: %s\n", err);
	assert_non_null(strstr(err, "schema version 99"));
	/* The refusal changed nothing. */
	assert_int_equal(raw_int(fx, "PRAGMA user_version"), 99);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM tenants"), 2);

	/* An older one: a reader asks for an upgrade. */
	raw_ok(fx, "PRAGMA user_version = 0");
	err[0] = '\0';
	assert_null(r = registry_open(fx->path, REG_RDONLY, err, sizeof(err)));
	assert_non_null(strstr(err, "tenantctl init"));
	raw_ok(fx, "PRAGMA user_version = " REG_VERSION_STR);
}

/*
 * A registry of schema 1, as tenantd 0.1 left it (migration 2's objects
 * taken out again), is upgraded by the first writer; its tenants keep
 * everything, master 1 becomes the current master.
 */
static void
test_upgrade_from_v1(void **state)
{
	struct fx	*fx = *state;
	struct registry	*r;
	struct tenant	 t, t2;
	struct tlimits	 tl;
	uint32_t	 ids[4];
	int64_t		 na[4];
	char		 err[512];

	t = create_ok(fx->r, "acme", 200000, 299999);
	registry_close(fx->r);
	fx->r = NULL;
	raw_ok(fx, DROP_V3 "DROP TABLE tenant_limits; DROP TABLE masters; "
	    "ALTER TABLE tenants DROP COLUMN profile; PRAGMA user_version = 1");
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM sqlite_schema "
	    "WHERE name IN ('masters', 'tenant_limits')"), 0);
	/* The supervisor only reads: it asks for the upgrade. */
	assert_null(registry_open(fx->path, REG_RDONLY, err, sizeof(err)));
	assert_non_null(strstr(err, "tenantctl init"));
	/* tenantctl writes: it upgrades. */
	assert_non_null(r = registry_open(fx->path, 0, err, sizeof(err)));
	fx->r = r;
	assert_int_equal(raw_int(fx, "PRAGMA user_version"), REGISTRY_VERSION);
	assert_int_equal(registry_tenant_get(r, "acme", &t2), REG_OK);
	assert_int_equal(t2.t_uid, t.t_uid);
	assert_int_equal(registry_masters(r, time(NULL), ids, na, 4), 1);
	assert_int_equal(ids[0], 1);
	assert_int_equal(na[0], 0);
	tlimits_defaults(&tl);
	assert_int_equal(registry_limits(r, t.t_id, &tl), REG_OK);
	assert_string_equal(tl.tl_profile, "");
	assert_int_equal(registry_limit_set(r, "acme", "max_workers", "2",
	    "test"), REG_OK);
}

/*
 * The schema is compared with what the migrations make, SQL text and all
 * (common/sqlhard.c): an object that is not ours, or one of ours with
 * other SQL, is refused by reader and writer alike, naming it.
 */
static void
test_foreign_schema_refused(void **state)
{
	struct fx	*fx = *state;
	struct registry	*r;
	char		 err[512];
	size_t		 i;
	static const struct {
		const char	*sql;
		const char	*undo;
		const char	*why;
	} cases[] = {
		/* SQLite lets a trigger carry a table's name. */
		{ "CREATE TRIGGER tenants AFTER INSERT ON hostnames BEGIN "
		    "UPDATE tenants SET status = 'active'; END",
		    "DROP TRIGGER tenants",
		    "trigger \"tenants\" is not tenantd's" },
		{ "CREATE INDEX audit_actor ON audit(actor)",
		    "DROP INDEX audit_actor",
		    "index \"audit_actor\" is not tenantd's" },
		{ "CREATE VIEW tenant_view AS SELECT slug FROM tenants",
		    "DROP VIEW tenant_view",
		    "view \"tenant_view\" is not tenantd's" },
		{ "ALTER TABLE audit ADD COLUMN extra INTEGER DEFAULT 1",
		    "ALTER TABLE audit DROP COLUMN extra",
		    "table \"audit\" differs from tenantd's" },
		{ "DROP TRIGGER audit_append_only_d",
		    "CREATE TRIGGER audit_append_only_d BEFORE DELETE ON audit"
		    "  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); "
		    "END",
		    "trigger \"audit_append_only_d\" is missing" },
	};

	registry_close(fx->r);
	fx->r = NULL;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		raw_ok(fx, cases[i].sql);
		assert_null(registry_open(fx->path, REG_RDONLY, err,
		    sizeof(err)));
		if (strstr(err, cases[i].why) == NULL)
			fail_msg("reader: \"%s\", want \"%s\"", err,
			    cases[i].why);
		assert_null(registry_open(fx->path, 0, err, sizeof(err)));
		if (strstr(err, cases[i].why) == NULL)
			fail_msg("writer: \"%s\", want \"%s\"", err,
			    cases[i].why);
		raw_ok(fx, cases[i].undo);
	}
	/*
	 * Undone, and the re-created trigger's SQL is ours byte for byte
	 * (whitespace included): accepted again.
	 */
	assert_non_null(r = registry_open(fx->path, REG_RDONLY, err,
	    sizeof(err)));
	registry_close(r);
	/* The same trigger with a space more is not ours. */
	raw_ok(fx, "DROP TRIGGER audit_append_only_d; "
	    "CREATE TRIGGER audit_append_only_d BEFORE DELETE ON audit"
	    "   BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END");
	assert_null(registry_open(fx->path, REG_RDONLY, err, sizeof(err)));
	assert_non_null(strstr(err, "\"audit_append_only_d\" differs"));
}

/*
 * An older registry is compared with the schema of its own version before
 * a migration writes to it, and left as it was when it is not ours.
 */
static void
test_old_foreign_schema_not_migrated(void **state)
{
	struct fx	*fx = *state;
	struct registry	*r;
	char		 err[512];

	registry_close(fx->r);
	fx->r = NULL;
	raw_ok(fx, DROP_V3 "PRAGMA user_version = 2");
	raw_ok(fx, "CREATE TRIGGER masters AFTER INSERT ON audit BEGIN "
	    "UPDATE masters SET not_after = NULL; END");
	assert_null(registry_open(fx->path, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "trigger \"masters\" is not tenantd's"));
	assert_int_equal(raw_int(fx, "PRAGMA user_version"), 2);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM sqlite_schema "
	    "WHERE name = 'hostname_gen'"), 0);
	/* Without it, the same file migrates and opens. */
	raw_ok(fx, "DROP TRIGGER masters");
	assert_non_null(r = registry_open(fx->path, 0, err, sizeof(err)));
	fx->r = r;
	assert_int_equal(raw_int(fx, "PRAGMA user_version"), REGISTRY_VERSION);
}

static void
test_limits(void **state)
{
	struct fx	*fx = *state;
	struct tenant	 t;
	struct tlimits	 tl;
	char		 err[512];
	int64_t		 n;

	t = create_ok(fx->r, "acme", 200000, 299999);
	create_ok(fx->r, "beta", 200000, 299999);
	n = raw_int(fx, "SELECT count(*) FROM audit");
	assert_int_equal(registry_limit_set(fx->r, "acme", "storage", "1024M",
	    "test"), REG_OK);
	/* Stored the way it is printed: one value, one spelling. */
	assert_int_equal(raw_int(fx, "SELECT value = '1G' FROM tenant_limits "
	    "WHERE name = 'storage'"), 1);
	/* The same again changes nothing and is not audited. */
	assert_int_equal(registry_limit_set(fx->r, "acme", "storage", "1G",
	    "test"), REG_OK);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM audit"), n + 1);
	assert_int_equal(registry_limit_set(fx->r, "acme", "statement_timeout",
	    "250ms", "test"), REG_OK);
	assert_int_equal(registry_limit_set(fx->r, "acme", "profile", "small",
	    "test"), REG_OK);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM audit WHERE "
	    "action = 'limit-set' AND subject = 'acme'"), 3);

	/* Refused: unknown names, bad values, bad profile names. */
	assert_int_equal(registry_limit_set(fx->r, "acme", "nosuch", "1",
	    "test"), REG_INVALID);
	assert_int_equal(registry_limit_set(fx->r, "acme", "storage", "1K",
	    "test"), REG_INVALID);
	assert_non_null(strstr(registry_errmsg(fx->r), "out of range"));
	assert_int_equal(registry_limit_set(fx->r, "acme", "profile", "../x",
	    "test"), REG_INVALID);
	assert_int_equal(registry_limit_set(fx->r, "nosuch", "storage", "1G",
	    "test"), REG_NOTFOUND);
	/* And by the schema, for a hand edit. */
	raw_refused(fx, "UPDATE tenants SET profile = 'a/b'", NULL);
	raw_refused(fx, "INSERT INTO tenant_limits VALUES (99, 'storage', "
	    "'1G')", "no such tenant");
	raw_refused(fx, "INSERT INTO tenant_limits VALUES (1, 'Storage', "
	    "'1G')", NULL);

	/* The layers: defaults, tenant.limits, profile, overrides. */
	assert_int_equal(tlimits_for_tenant(fx->r, TEST_POLICY_DIR, t.t_id,
	    &tl, err, sizeof(err)), 0);
	assert_string_equal(tl.tl_profile, "small");
	assert_int_equal(tl.tl_val[TL_STORAGE], 1ULL << 30);
	assert_string_equal(tl.tl_src[TL_STORAGE], "tenant");
	assert_int_equal(tl.tl_val[TL_STATEMENT_TIMEOUT], 250);
	assert_string_equal(tl.tl_src[TL_REQUESTS_PER_MINUTE], "profile");
	assert_string_equal(tl.tl_src[TL_KV_MAX_VALUE], "default");
	/* The other tenant has none of it. */
	assert_int_equal(tlimits_for_tenant(fx->r, TEST_POLICY_DIR, t.t_id + 1,
	    &tl, err, sizeof(err)), 0);
	assert_string_equal(tl.tl_profile, "");
	assert_string_equal(tl.tl_src[TL_STORAGE], "default");
	assert_int_equal(tlimits_for_tenant(fx->r, TEST_POLICY_DIR, 999, &tl,
	    err, sizeof(err)), -1);

	/* Unset: back to the profile's or the default. */
	assert_int_equal(registry_limit_set(fx->r, "acme", "storage", NULL,
	    "test"), REG_OK);
	assert_int_equal(registry_limit_set(fx->r, "acme", "profile", NULL,
	    "test"), REG_OK);
	assert_int_equal(registry_limit_set(fx->r, "acme", "storage", NULL,
	    "test"), REG_OK);
	assert_int_equal(tlimits_for_tenant(fx->r, TEST_POLICY_DIR, t.t_id,
	    &tl, err, sizeof(err)), 0);
	assert_string_equal(tl.tl_profile, "");
	assert_string_equal(tl.tl_src[TL_STORAGE], "default");
	assert_string_equal(tl.tl_src[TL_STATEMENT_TIMEOUT], "tenant");
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM audit WHERE "
	    "action = 'limit-unset'"), 2);
	/* A bad row from a hand edit is refused, not guessed at. */
	raw_ok(fx, "INSERT INTO tenant_limits VALUES (1, 'storage', 'lots')");
	assert_int_equal(tlimits_for_tenant(fx->r, TEST_POLICY_DIR, t.t_id,
	    &tl, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "storage"));

	/* A deleted tenant's limits stay as they were. */
	assert_int_equal(registry_tenant_set_status(fx->r, "beta",
	    TENANT_DELETED, "test"), REG_OK);
	assert_int_equal(registry_limit_set(fx->r, "beta", "storage", "1G",
	    "test"), REG_STATE);
}

static void
test_masters(void **state)
{
	struct fx	*fx = *state;
	uint32_t	 ids[KEY_MAX_MASTERS + 2], id;
	int64_t		 na[KEY_MAX_MASTERS + 2], now = time(NULL);
	int		 i;

	assert_int_equal(registry_masters(fx->r, now, ids, na, 4), 1);
	assert_int_equal(ids[0], 1);
	assert_int_equal(na[0], 0);
	assert_int_equal(registry_master_next(fx->r, &id), REG_OK);
	assert_int_equal(id, 2);

	id = 2;
	assert_int_equal(registry_master_rotate(fx->r, 100, "test", &id),
	    REG_OK);
	assert_int_equal(id, 2);
	assert_int_equal(registry_masters(fx->r, now, ids, na, 4), 2);
	assert_int_equal(ids[0], 2);		/* current first */
	assert_int_equal(na[0], 0);
	assert_int_equal(ids[1], 1);
	assert_true(na[1] >= now + 100 && na[1] <= now + 102);
	/* After the grace, only the current one. */
	assert_int_equal(registry_masters(fx->r, now + 200, ids, na, 4), 1);
	assert_int_equal(ids[0], 2);
	/* max bounds what is returned. */
	assert_int_equal(registry_masters(fx->r, now, ids, na, 1), 1);
	assert_int_equal(ids[0], 2);

	/* A rotation prepared for an id another one took: refused. */
	id = 2;
	assert_int_equal(registry_master_rotate(fx->r, 100, "test", &id),
	    REG_STATE);
	/* No grace: the old one stops at once. */
	id = 0;
	assert_int_equal(registry_master_rotate(fx->r, 0, "test", &id), REG_OK);
	assert_int_equal(id, 3);
	assert_int_equal(registry_masters(fx->r, time(NULL), ids, na, 4), 2);
	assert_int_equal(ids[0], 3);
	assert_int_equal(ids[1], 1);		/* still in its grace */
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM audit WHERE "
	    "action = 'key-rotate'"), 2);
	assert_int_equal(registry_master_rotate(fx->r, -1, "test", &id),
	    REG_INVALID);

	/* No more than a worker can be given work at once. */
	for (i = 0; i < KEY_MAX_MASTERS; i++) {
		id = 0;
		if (registry_master_rotate(fx->r, 1000, "test", &id) != REG_OK)
			break;
	}
	assert_int_equal(registry_master_rotate(fx->r, 1000, "test", &id),
	    REG_FULL);
	assert_int_equal(registry_masters(fx->r, time(NULL), ids, na,
	    KEY_MAX_MASTERS + 2), KEY_MAX_MASTERS);

	/* The schema: one current, never removed, retired stays retired. */
	raw_refused(fx, "INSERT INTO masters VALUES (99, 1, NULL)", NULL);
	raw_refused(fx, "DELETE FROM masters WHERE id = 1", "retired, not");
	raw_refused(fx, "UPDATE masters SET not_after = NULL WHERE id = 1",
	    NULL);
	raw_refused(fx, "UPDATE masters SET id = 50 WHERE id = 1", NULL);
	raw_refused(fx, "INSERT INTO masters VALUES (0, 1, 5)", NULL);
}

/*
 * A registry of schema 2 with custom hostnames is upgraded by the first
 * writer: its names stay, every tenant's hosts generation starts at 0 and
 * moves with the first change to its names.
 */
static void
test_upgrade_from_v2(void **state)
{
	struct fx	*fx = *state;
	struct registry	*r;
	uint64_t	 g;
	char		 err[512];

	create_ok(fx->r, "acme", 200000, 299999);
	assert_int_equal(registry_host_add(fx->r, "acme", "shop.example.org",
	    1, "test"), REG_OK);
	registry_close(fx->r);
	fx->r = NULL;
	raw_ok(fx, DROP_V3 "PRAGMA user_version = 2");
	assert_null(registry_open(fx->path, REG_RDONLY, err, sizeof(err)));
	assert_non_null(strstr(err, "tenantctl init"));
	assert_non_null(r = registry_open(fx->path, 0, err, sizeof(err)));
	fx->r = r;
	assert_int_equal(raw_int(fx, "PRAGMA user_version"), 3);
	assert_int_equal(registry_hosts_gen(r, 1, &g), REG_OK);
	assert_true(g == 0);
	assert_int_equal(registry_host_add(r, "acme", "www.example.org", 1,
	    "test"), REG_OK);
	assert_int_equal(registry_hosts_gen(r, 1, &g), REG_OK);
	assert_true(g == 1);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM hostnames"), 2);
}

struct walk {
	int	 n;
	int	 at;		/* the call that answers ret */
	int	 ret;
};

static int
walk_cb(const struct hostname *h, void *arg)
{
	struct walk	*w = arg;

	return ++w->n == w->at ? w->ret : 0;
}

/*
 * A callback that fails fails the walk: the supervisor must never take
 * the names before a failure for the whole list (docs/routing.md). One
 * that stops on purpose (a search that found its name) does not.
 */
static void
test_hosts_callback(void **state)
{
	struct fx	*fx = *state;
	struct walk	 w;
	static const char *const names[] = { "a.example.org",
	    "b.example.org", "c.example.org" };

	create_ok(fx->r, "acme", 200000, 299999);
	assert_int_equal(registry_hosts_add(fx->r, "acme", names, 3, 1,
	    "test"), REG_OK);
	memset(&w, 0, sizeof(w));
	assert_int_equal(registry_hosts(fx->r, 0, 1, walk_cb, &w), REG_OK);
	assert_int_equal(w.n, 3);
	memset(&w, 0, sizeof(w));
	w.at = 2;
	w.ret = -1;
	assert_int_equal(registry_hosts(fx->r, 0, 1, walk_cb, &w), REG_DB);
	assert_int_equal(w.n, 2);
	assert_non_null(strstr(registry_errmsg(fx->r), "b.example.org"));
	memset(&w, 0, sizeof(w));
	w.at = 2;
	w.ret = 1;
	assert_int_equal(registry_hosts(fx->r, 0, 1, walk_cb, &w), REG_OK);
	assert_int_equal(w.n, 2);
}

static uint64_t
hosts_gen(struct registry *r, int64_t id)
{
	uint64_t	 g = 12345;

	assert_int_equal(registry_hosts_gen(r, id, &g), REG_OK);
	return g;
}

/*
 * Each tenant's hosts generation moves with every change to its own
 * names, by tenantctl or by hand, and with no other: what lets the
 * supervisor send a new list to that tenant's workers only.
 */
static void
test_hosts_gen(void **state)
{
	struct fx	*fx = *state;
	struct tenant	 a, b;
	uint64_t	 ga, gb;

	a = create_ok(fx->r, "acme", 200000, 299999);
	b = create_ok(fx->r, "beta", 200000, 299999);
	assert_true(hosts_gen(fx->r, a.t_id) == 0);
	assert_true(hosts_gen(fx->r, 999) == 0);
	assert_int_equal(registry_host_add(fx->r, "acme", "shop.example.org",
	    0, "test"), REG_OK);
	ga = hosts_gen(fx->r, a.t_id);
	assert_true(ga > 0);
	assert_true(hosts_gen(fx->r, b.t_id) == 0);
	assert_int_equal(registry_host_activate(fx->r, "acme",
	    "shop.example.org", "test"), REG_OK);
	assert_true(hosts_gen(fx->r, a.t_id) > ga);
	ga = hosts_gen(fx->r, a.t_id);
	/* A refused change changes nothing. */
	assert_int_equal(registry_host_add(fx->r, "beta", "shop.example.org",
	    1, "test"), REG_EXISTS);
	assert_true(hosts_gen(fx->r, a.t_id) == ga);
	assert_true(hosts_gen(fx->r, b.t_id) == 0);
	/* Other changes to the registry leave it alone. */
	assert_int_equal(registry_limit_set(fx->r, "acme", "storage", "1G",
	    "test"), REG_OK);
	assert_int_equal(registry_tenant_set_status(fx->r, "beta",
	    TENANT_SUSPENDED, "test"), REG_OK);
	assert_true(hosts_gen(fx->r, a.t_id) == ga);
	assert_true(hosts_gen(fx->r, b.t_id) == 0);
	/* A hand edit moving the name: both tenants' lists changed. */
	raw_ok(fx, "UPDATE hostnames SET tenant_id = 2 "
	    "WHERE hostname = 'shop.example.org'");
	assert_true(hosts_gen(fx->r, a.t_id) > ga);
	gb = hosts_gen(fx->r, b.t_id);
	assert_true(gb > 0);
	assert_int_equal(registry_host_remove(fx->r, "beta",
	    "shop.example.org", "test"), REG_OK);
	assert_true(hosts_gen(fx->r, b.t_id) > gb);
	/* Deleting a tenant takes its names, and says so. */
	assert_int_equal(registry_host_add(fx->r, "acme", "www.example.org",
	    1, "test"), REG_OK);
	ga = hosts_gen(fx->r, a.t_id);
	assert_int_equal(registry_tenant_set_status(fx->r, "acme",
	    TENANT_DELETED, "test"), REG_OK);
	assert_true(hosts_gen(fx->r, a.t_id) > ga);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM hostnames"), 0);
}

/*
 * HOST_TENANT_MAX names per tenant: all of them go in, in one batch, and
 * not one more, whether through registry.c (REG_FULL, naming the tenant
 * and the cap) or by hand (the schema). A batch goes in whole or not.
 */
static void
test_hosts_cap(void **state)
{
	struct fx	*fx = *state;
	struct tenant	 a;
	static char	 names[HOST_TENANT_MAX + 1][32];
	const char	*p[HOST_TENANT_MAX + 1];
	char		 cap[16];
	size_t		 i;

	a = create_ok(fx->r, "acme", 200000, 299999);
	create_ok(fx->r, "beta", 200000, 299999);
	for (i = 0; i <= HOST_TENANT_MAX; i++) {
		snprintf(names[i], sizeof(names[i]), "h%05zu.example.org", i);
		p[i] = names[i];
	}
	/* A duplicate within the batch: nothing of it stays. */
	names[1][0] = 'x';
	memcpy(names[2], names[1], sizeof(names[1]));
	assert_int_equal(registry_hosts_add(fx->r, "acme", p, 3, 1, "test"),
	    REG_EXISTS);
	assert_non_null(strstr(registry_errmsg(fx->r), names[1]));
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM hostnames"), 0);
	assert_true(hosts_gen(fx->r, a.t_id) == 0);
	snprintf(names[1], sizeof(names[1]), "h%05d.example.org", 1);
	snprintf(names[2], sizeof(names[2]), "h%05d.example.org", 2);

	assert_int_equal(registry_hosts_add(fx->r, "acme", p, HOST_TENANT_MAX
	    + 1, 1, "test"), REG_FULL);
	snprintf(cap, sizeof(cap), "%d", HOST_TENANT_MAX);
	assert_non_null(strstr(registry_errmsg(fx->r), "acme"));
	assert_non_null(strstr(registry_errmsg(fx->r), cap));
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM hostnames"), 0);
	assert_int_equal(registry_hosts_add(fx->r, "acme", p, HOST_TENANT_MAX,
	    1, "test"), REG_OK);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM hostnames WHERE "
	    "tenant_id = 1 AND status = 'active'"), HOST_TENANT_MAX);
	assert_int_equal(registry_host_add(fx->r, "acme", p[HOST_TENANT_MAX],
	    1, "test"), REG_FULL);
	print_message("%s\n", registry_errmsg(fx->r));
	raw_refused(fx, "INSERT INTO hostnames (hostname, tenant_id, status, "
	    "created) VALUES ('one-more.example.org', 1, 'active', 0)",
	    "too many hostnames");
	/* Moving a name by hand onto the full tenant is refused too. */
	assert_int_equal(registry_host_add(fx->r, "beta", "b.example.org", 1,
	    "test"), REG_OK);
	raw_refused(fx, "UPDATE hostnames SET tenant_id = 1 "
	    "WHERE hostname = 'b.example.org'", "too many hostnames");
	/* Another tenant is not affected by acme's count. */
	assert_int_equal(registry_host_add(fx->r, "beta", "c.example.org", 1,
	    "test"), REG_OK);
	/* Room again after a removal. */
	assert_int_equal(registry_host_remove(fx->r, "acme", p[0], "test"),
	    REG_OK);
	assert_int_equal(registry_host_add(fx->r, "acme", p[HOST_TENANT_MAX],
	    1, "test"), REG_OK);
}

static void
test_status_str(void **state)
{
	assert_string_equal(tenant_status_str(TENANT_ACTIVE), "active");
	assert_string_equal(tenant_status_str(TENANT_SUSPENDED), "suspended");
	assert_string_equal(tenant_status_str(TENANT_DELETED), "deleted");
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_create_and_alloc),
		T(test_alloc_skips_system_ids),
		T(test_reserved_and_invalid),
		T(test_raw_slug_rules),
		T(test_raw_hostname_rules),
		T(test_audit_append_only),
		T(test_delete_tombstones),
		T(test_identity_immutable),
		T(test_version_and_open),
		T(test_upgrade_from_v1),
		T(test_upgrade_from_v2),
		T(test_foreign_schema_refused),
		T(test_old_foreign_schema_not_migrated),
		T(test_hosts_callback),
		T(test_hosts_gen),
		T(test_hosts_cap),
		T(test_limits),
		T(test_masters),
		cmocka_unit_test(test_status_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
