/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The registry's schema: the migrations that make it, applied in order and
 * recorded in PRAGMA user_version, and the check that a file's schema is
 * exactly theirs, SQL text and all (docs/security.md). A registry newer
 * than this binary is refused rather than guessed at. Slug and hostname
 * rules, the tombstones, the append-only audit log and the cap on names
 * per tenant live here as CHECK constraints and triggers, so a hand edit
 * with sqlite3 cannot break them either.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "registry.h"
#include "registry_int.h"
#include "sqlhard.h"

/* A number macro as an SQL literal. */
#define REG_STR_(x)	#x
#define REG_STR(x)	REG_STR_(x)

static const char *const migrations[] = {
	/* 1: the first schema */
	"CREATE TABLE tenants ("
	"  id INTEGER PRIMARY KEY,"
	"  slug TEXT NOT NULL UNIQUE CHECK ("
	"    length(slug) BETWEEN 3 AND 63"
	"    AND slug NOT GLOB '*[^a-z0-9-]*'"
	"    AND slug NOT GLOB '-*' AND slug NOT GLOB '*-'"
	"    AND substr(slug, 3, 2) <> '--'),"
	"  uid INTEGER NOT NULL UNIQUE CHECK (uid > 0 AND uid < 4294967295),"
	"  gid INTEGER NOT NULL UNIQUE CHECK (gid > 0 AND gid < 4294967295),"
	"  status TEXT NOT NULL DEFAULT 'active'"
	"    CHECK (status IN ('active', 'suspended', 'deleted')),"
	"  created INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL"
	") STRICT;"
	"CREATE TABLE reserved ("
	"  slug TEXT PRIMARY KEY,"
	"  kind TEXT NOT NULL CHECK (kind IN ('system', 'tombstone')),"
	"  created INTEGER NOT NULL"
	") STRICT;"
	"CREATE TABLE hostnames ("
	"  hostname TEXT PRIMARY KEY CHECK ("
	"    length(hostname) BETWEEN 3 AND 253"
	"    AND hostname NOT GLOB '*[^a-z0-9.-]*'"
	"    AND hostname GLOB '*?.?*'"
	"    AND hostname NOT GLOB '*..*'"
	"    AND hostname NOT GLOB '[.-]*' AND hostname NOT GLOB '*[.-]'"
	"    AND hostname NOT GLOB '*.-*' AND hostname NOT GLOB '*-.*'),"
	"  tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
	"  status TEXT NOT NULL DEFAULT 'pending'"
	"    CHECK (status IN ('pending', 'active')),"
	"  created INTEGER NOT NULL"
	") STRICT;"
	"CREATE INDEX hostnames_tenant ON hostnames(tenant_id);"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY,"
	"  ts INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  subject TEXT,"
	"  detail TEXT"
	") STRICT;"
	/* A reserved name or tombstone can never become a tenant. */
	"CREATE TRIGGER tenants_not_reserved BEFORE INSERT ON tenants"
	"  WHEN EXISTS (SELECT 1 FROM reserved WHERE slug = NEW.slug)"
	"  BEGIN SELECT RAISE(ABORT, 'slug is reserved'); END;"
	"CREATE TRIGGER tenants_identity_fixed"
	"  BEFORE UPDATE OF id, slug, uid, gid, created ON tenants"
	"  BEGIN SELECT RAISE(ABORT, 'tenant identity never changes'); END;"
	"CREATE TRIGGER tenants_stay_deleted BEFORE UPDATE ON tenants"
	"  WHEN OLD.status = 'deleted'"
	"  BEGIN SELECT RAISE(ABORT, 'a deleted tenant stays deleted'); END;"
	"CREATE TRIGGER tenants_never_removed BEFORE DELETE ON tenants"
	"  BEGIN SELECT RAISE(ABORT, 'tenants are tombstoned, not removed'); END;"
	"CREATE TRIGGER tenants_tombstone AFTER UPDATE OF status ON tenants"
	"  WHEN NEW.status = 'deleted'"
	"  BEGIN INSERT INTO reserved (slug, kind, created)"
	"    VALUES (NEW.slug, 'tombstone', NEW.updated);"
	"    DELETE FROM hostnames WHERE tenant_id = NEW.id; END;"
	"CREATE TRIGGER reserved_forever_u BEFORE UPDATE ON reserved"
	"  BEGIN SELECT RAISE(ABORT, 'reserved slugs are permanent'); END;"
	"CREATE TRIGGER reserved_forever_d BEFORE DELETE ON reserved"
	"  BEGIN SELECT RAISE(ABORT, 'reserved slugs are permanent'); END;"
	"CREATE TRIGGER hostnames_not_deleted BEFORE INSERT ON hostnames"
	"  WHEN (SELECT status FROM tenants WHERE id = NEW.tenant_id)"
	"    IS NOT 'active' AND (SELECT status FROM tenants"
	"    WHERE id = NEW.tenant_id) IS NOT 'suspended'"
	"  BEGIN SELECT RAISE(ABORT, 'no such tenant'); END;"
	"CREATE TRIGGER audit_append_only_u BEFORE UPDATE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
	"CREATE TRIGGER audit_append_only_d BEFORE DELETE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;",

	/* 2: the data plane: limits, profiles, master keys */
	"CREATE TABLE tenant_limits ("
	"  tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
	"  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 47"
	"    AND name NOT GLOB '*[^a-z_]*'),"
	"  value TEXT NOT NULL CHECK (length(value) BETWEEN 1 AND 47),"
	"  PRIMARY KEY (tenant_id, name)"
	") STRICT;"
	"ALTER TABLE tenants ADD COLUMN profile TEXT CHECK (profile IS NULL OR ("
	"  length(profile) BETWEEN 1 AND 63"
	"  AND profile NOT GLOB '*[^a-z0-9-]*'"
	"  AND profile NOT GLOB '-*' AND profile NOT GLOB '*-'));"
	"CREATE TABLE masters ("
	"  id INTEGER PRIMARY KEY CHECK (id > 0 AND id < 4294967296),"
	"  created INTEGER NOT NULL,"
	"  not_after INTEGER"
	") STRICT;"
	/* At most one current master (NULL not_after); triggers keep one. */
	"CREATE UNIQUE INDEX masters_one_current ON masters ((not_after IS NULL))"
	"  WHERE not_after IS NULL;"
	"CREATE TRIGGER masters_kept BEFORE DELETE ON masters"
	"  BEGIN SELECT RAISE(ABORT, 'master keys are retired, not removed'); END;"
	"CREATE TRIGGER masters_identity BEFORE UPDATE OF id, created ON masters"
	"  BEGIN SELECT RAISE(ABORT, 'a master''s identity never changes'); END;"
	"CREATE TRIGGER masters_stay_retired BEFORE UPDATE OF not_after ON masters"
	"  WHEN OLD.not_after IS NOT NULL AND NEW.not_after IS NULL"
	"  BEGIN SELECT RAISE(ABORT, 'a retired master stays retired'); END;"
	"CREATE TRIGGER limits_live_tenant BEFORE INSERT ON tenant_limits"
	"  WHEN (SELECT status FROM tenants WHERE id = NEW.tenant_id)"
	"    IS NOT 'active' AND (SELECT status FROM tenants"
	"    WHERE id = NEW.tenant_id) IS NOT 'suspended'"
	"  BEGIN SELECT RAISE(ABORT, 'no such tenant'); END;"
	/* tenantctl init wrote keys/master-1.key before any migration ran. */
	"INSERT INTO masters (id, created, not_after)"
	"  VALUES (1, CAST(strftime('%s', 'now') AS INTEGER), NULL);",

	/*
	 * 3: a generation per tenant's hostnames, bumped by every change to
	 * them, so the supervisor sends a new host list to the workers of
	 * the tenants whose names changed and to no others (docs/routing.md);
	 * and the cap on names per tenant, for a hand edit too. The cap is
	 * HOST_TENANT_MAX as this migration spells it: changing that needs
	 * a migration that creates this trigger again.
	 */
	"CREATE TABLE hostname_gen ("
	"  tenant_id INTEGER PRIMARY KEY REFERENCES tenants(id),"
	"  gen INTEGER NOT NULL DEFAULT 0"
	") STRICT;"
	"CREATE TRIGGER hostnames_gen_i AFTER INSERT ON hostnames BEGIN"
	"  INSERT OR IGNORE INTO hostname_gen (tenant_id) VALUES (NEW.tenant_id);"
	"  UPDATE hostname_gen SET gen = gen + 1 WHERE tenant_id = NEW.tenant_id;"
	"  END;"
	"CREATE TRIGGER hostnames_gen_d AFTER DELETE ON hostnames BEGIN"
	"  INSERT OR IGNORE INTO hostname_gen (tenant_id) VALUES (OLD.tenant_id);"
	"  UPDATE hostname_gen SET gen = gen + 1 WHERE tenant_id = OLD.tenant_id;"
	"  END;"
	/* A hand edit may move a name: both tenants' lists changed. */
	"CREATE TRIGGER hostnames_gen_u AFTER UPDATE ON hostnames BEGIN"
	"  INSERT OR IGNORE INTO hostname_gen (tenant_id) VALUES (OLD.tenant_id);"
	"  INSERT OR IGNORE INTO hostname_gen (tenant_id) VALUES (NEW.tenant_id);"
	"  UPDATE hostname_gen SET gen = gen + 1"
	"    WHERE tenant_id IN (OLD.tenant_id, NEW.tenant_id);"
	"  END;"
	"CREATE TRIGGER hostnames_cap_i BEFORE INSERT ON hostnames"
	"  WHEN (SELECT count(*) FROM hostnames WHERE tenant_id = NEW.tenant_id)"
	"    >= " REG_STR(HOST_TENANT_MAX)
	"  BEGIN SELECT RAISE(ABORT, 'too many hostnames for one tenant'); END;"
	"CREATE TRIGGER hostnames_cap_u BEFORE UPDATE OF tenant_id ON hostnames"
	"  WHEN NEW.tenant_id IS NOT OLD.tenant_id AND (SELECT count(*)"
	"    FROM hostnames WHERE tenant_id = NEW.tenant_id)"
	"    >= " REG_STR(HOST_TENANT_MAX)
	"  BEGIN SELECT RAISE(ABORT, 'too many hostnames for one tenant'); END;",
};
#define NMIGRATIONS	(int)(sizeof(migrations) / sizeof(migrations[0]))
_Static_assert(NMIGRATIONS == REGISTRY_VERSION,
    "REGISTRY_VERSION in registry.h is the number of migrations");

/* Migrations from..to-1, in the caller's transaction. */
static int
reg_apply(struct registry *r, int from, int to)
{
	sqlite3_stmt	*st;
	int64_t		 now = time(NULL);
	char		 sql[64];
	int		 i;

	for (i = from; i < to; i++) {
		if (reg_exec(r, migrations[i]) != REG_OK)
			return REG_DB;
		if (i == 0) {
			/* Seed the system names the slug rules reserve. */
			if (sqlite3_prepare_v2(r->r_db, "INSERT INTO reserved "
			    "(slug, kind, created) VALUES (?, 'system', ?)",
			    -1, &st, NULL) != SQLITE_OK)
				return reg_fail(r);
			for (int j = 0; slug_reserved[j] != NULL; j++) {
				sqlite3_bind_text(st, 1, slug_reserved[j], -1,
				    SQLITE_STATIC);
				sqlite3_bind_int64(st, 2, now);
				if (sqlite3_step(st) != SQLITE_DONE) {
					reg_fail(r);
					sqlite3_finalize(st);
					return REG_DB;
				}
				sqlite3_reset(st);
			}
			sqlite3_finalize(st);
		}
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", i + 1);
		if (reg_exec(r, sql) != REG_OK)
			return REG_DB;
	}
	return REG_OK;
}

/*
 * Is the schema exactly what the migrations make at `version`, object by
 * object and SQL text by SQL text (docs/security.md)? The reference is
 * made in memory by the same migrations, so there is no second copy of
 * the schema to drift, and a registry migrated step by step compares
 * equal to one created at once. Names alone are not enough: SQLite lets
 * a trigger carry a table's name.
 */
int
reg_schema(struct registry *r, int version)
{
	struct registry	 ref;
	int		 rc;

	memset(&ref, 0, sizeof(ref));
	if ((ref.r_db = sqlhard_open(":memory:", SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL, &ref.r_sh, SQLHARD_BUDGET_MS, r->r_err,
	    sizeof(r->r_err))) == NULL)
		return REG_DB;
	if (reg_apply(&ref, 0, version) != REG_OK) {
		snprintf(r->r_err, sizeof(r->r_err), "the reference schema: "
		    "%.200s", ref.r_err);
		sqlite3_close(ref.r_db);
		return REG_DB;
	}
	rc = sqlhard_schema_same(r->r_db, ref.r_db, r->r_err,
	    sizeof(r->r_err)) == 0 ? REG_OK : REG_DB;
	sqlite3_close(ref.r_db);
	return rc;
}

/*
 * An older registry is checked at its own version before any migration
 * writes to it: a migration inserts rows, and a trigger that is not ours
 * must not run on them.
 */
int
reg_migrate(struct registry *r)
{
	int64_t		 v;

	if (reg_exec(r, "BEGIN IMMEDIATE") != REG_OK)
		return REG_DB;
	v = reg_int(r, "PRAGMA user_version");
	if (v < 0 || v > NMIGRATIONS) {
		snprintf(r->r_err, sizeof(r->r_err), "registry schema version "
		    "%lld is newer than this tenantd knows (%d); refusing to "
		    "use it", (long long)v, NMIGRATIONS);
		reg_exec(r, "ROLLBACK");
		return REG_DB;
	}
	if (reg_schema(r, (int)v) != REG_OK ||
	    reg_apply(r, (int)v, NMIGRATIONS) != REG_OK)
		goto fail;
	return reg_exec(r, "COMMIT");
 fail:
	{
		char	 saved[sizeof(r->r_err)];

		memcpy(saved, r->r_err, sizeof(saved));
		if (saved[0] == '\0')
			snprintf(saved, sizeof(saved), "%s",
			    sqlite3_errmsg(r->r_db));
		reg_exec(r, "ROLLBACK");
		memcpy(r->r_err, saved, sizeof(saved));
	}
	return REG_DB;
}
