/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * A tenant's limits in the registry: its profile and its overrides, read
 * onto the policy files' values (tlimits.h, docs/data-plane.md, section 4)
 * and set by tenantctl.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "registry.h"
#include "registry_int.h"
#include "tlimits.h"

/*
 * The tenant's profile name and per-tenant overrides, applied onto *tl:
 * what the caller loaded before stays unless the registry overrides it.
 */
int
registry_limits(struct registry *r, int64_t tid, struct tlimits *tl)
{
	sqlite3_stmt	*st;
	const char	*name, *value;
	uint64_t	 v;
	char		 why[160];
	int		 rc, l;

	r->r_err[0] = '\0';
	if (sqlite3_prepare_v2(r->r_db, "SELECT coalesce(profile, '') "
	    "FROM tenants WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
		return reg_fail(r);
	sqlite3_bind_int64(st, 1, tid);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		snprintf(tl->tl_profile, sizeof(tl->tl_profile), "%s",
		    (const char *)sqlite3_column_text(st, 0));
	rc = rc == SQLITE_ROW ? REG_OK : rc == SQLITE_DONE ? REG_NOTFOUND :
	    reg_fail(r);
	sqlite3_finalize(st);
	if (rc != REG_OK)
		return rc;
	if (sqlite3_prepare_v2(r->r_db, "SELECT name, value FROM tenant_limits "
	    "WHERE tenant_id = ? ORDER BY name", -1, &st, NULL) != SQLITE_OK)
		return reg_fail(r);
	sqlite3_bind_int64(st, 1, tid);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		name = (const char *)sqlite3_column_text(st, 0);
		value = (const char *)sqlite3_column_text(st, 1);
		/* A hand edit the schema let through: refuse, not guess. */
		if ((l = tlimit_by_name(name)) == -1 ||
		    tlimit_parse(l, value, &v, why, sizeof(why)) == -1) {
			snprintf(r->r_err, sizeof(r->r_err), "tenant_limits: "
			    "%s: %s", name, l == -1 ? "unknown limit" : why);
			sqlite3_finalize(st);
			return REG_INVALID;
		}
		tl->tl_val[l] = v;
		tl->tl_src[l] = "tenant";
	}
	rc = rc == SQLITE_DONE ? REG_OK : reg_fail(r);
	sqlite3_finalize(st);
	return rc;
}

/* Built-in defaults, tenant.limits, the tenant's profile, its overrides. */
int
tlimits_for_tenant(struct registry *r, const char *policy_dir, int64_t tid,
    struct tlimits *tl, char *err, size_t errsz)
{
	struct tlimits	 over;
	int		 l, rc;

	tlimits_defaults(tl);
	tlimits_defaults(&over);
	if ((rc = registry_limits(r, tid, &over)) != REG_OK) {
		snprintf(err, errsz, "%s", rc == REG_NOTFOUND ?
		    "no such tenant" : r->r_err);
		return -1;
	}
	memcpy(tl->tl_profile, over.tl_profile, sizeof(tl->tl_profile));
	if (tlimits_load(policy_dir, tl, err, errsz) == -1)
		return -1;
	for (l = 1; l < TL_MAX; l++)
		if (strcmp(over.tl_src[l], "tenant") == 0) {
			tl->tl_val[l] = over.tl_val[l];
			tl->tl_src[l] = "tenant";
		}
	return 0;
}

/*
 * Set (value != NULL) or unset one override, or the profile (name
 * "profile"). Values are stored the way tlimit_format() prints them, so
 * "65536" and "64K" are one value. Unsetting what is not set is a no-op.
 */
int
registry_limit_set(struct registry *r, const char *slug, const char *name,
    const char *value, const char *actor)
{
	sqlite3_stmt	*st;
	struct tenant	 t;
	uint64_t	 v;
	char		 canon[48], detail[128];
	int		 rc, l = -1, profile;

	r->r_err[0] = '\0';
	profile = strcmp(name, "profile") == 0;
	if (!profile && (l = tlimit_by_name(name)) == -1) {
		snprintf(r->r_err, sizeof(r->r_err), "unknown limit \"%s\"",
		    name);
		return REG_INVALID;
	}
	if (value != NULL && profile) {
		if (tlimit_profile_check(value) == -1) {
			snprintf(r->r_err, sizeof(r->r_err), "bad profile name "
			    "\"%s\": lower-case letters, digits and inner "
			    "hyphens, at most %d", value, TL_PROFILE_MAX);
			return REG_INVALID;
		}
		snprintf(canon, sizeof(canon), "%s", value);
	} else if (value != NULL) {
		if (tlimit_parse(l, value, &v, r->r_err, sizeof(r->r_err)) ==
		    -1)
			return REG_INVALID;
		tlimit_format(l, v, canon, sizeof(canon));
	}
	if (reg_exec(r, "BEGIN IMMEDIATE") != REG_OK)
		return REG_DB;
	if ((rc = registry_tenant_get(r, slug, &t)) != REG_OK)
		return reg_end(r, rc);
	if (t.t_status == TENANT_DELETED)
		return reg_end(r, REG_STATE);
	if (profile)
		rc = sqlite3_prepare_v2(r->r_db, "UPDATE tenants SET "
		    "profile = ?2, updated = ?3 WHERE id = ?1 AND "
		    "profile IS NOT ?2", -1, &st, NULL);
	else if (value != NULL)
		rc = sqlite3_prepare_v2(r->r_db, "INSERT INTO tenant_limits "
		    "(tenant_id, name, value) VALUES (?1, ?4, ?2) "
		    "ON CONFLICT (tenant_id, name) DO UPDATE SET value = ?2 "
		    "WHERE value IS NOT ?2", -1, &st, NULL);
	else
		rc = sqlite3_prepare_v2(r->r_db, "DELETE FROM tenant_limits "
		    "WHERE tenant_id = ?1 AND name = ?4", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return reg_end(r, reg_fail(r));
	sqlite3_bind_int64(st, 1, t.t_id);
	if (value != NULL)
		sqlite3_bind_text(st, 2, canon, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 2);
	if (profile)
		sqlite3_bind_int64(st, 3, time(NULL));
	else
		sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? REG_OK : reg_fail(r);
	sqlite3_finalize(st);
	if (rc != REG_OK)
		return reg_end(r, rc);
	if (sqlite3_changes(r->r_db) == 0)
		return reg_end(r, REG_OK);	/* no change, not audited */
	if (value != NULL)
		snprintf(detail, sizeof(detail), "%s=%s", name, canon);
	else
		snprintf(detail, sizeof(detail), "%s", name);
	return reg_end(r, registry_audit(r, actor, value != NULL ?
	    "limit-set" : "limit-unset", slug, detail));
}
