/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The tenant limits table: names, defaults, bounds and units in one place,
 * so tenantctl, the supervisor and the files agree on every one of them.
 * The files are in the policy format (policy.c's policy_pairs() reads
 * them), one limit a line with the reason it has this value:
 *
 *	requests_per_minute 1000   # what one tenant may ask of the box
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "tlimits.h"

enum tl_unit { U_COUNT, U_SIZE, U_MS, U_BOOL };

#define K_	1024ULL
#define M_	(1024ULL * 1024)
#define G_	(1024ULL * 1024 * 1024)
#define T_	(1024ULL * 1024 * 1024 * 1024)

static const struct {
	const char	*name;
	enum tl_unit	 unit;
	uint64_t	 def, min, max;
} table[TL_MAX] = {
	[TL_REQUESTS_PER_MINUTE] = { "requests_per_minute", U_COUNT,
	    1000, 1, 10000000 },
	[TL_STORAGE] = { "storage", U_SIZE, 100 * M_, 1 * M_, 1 * T_ },
	[TL_KV_MAX_ENTRIES] = { "kv_max_entries", U_COUNT,
	    10000, 1, 100000000 },
	[TL_KV_MAX_KEY] = { "kv_max_key", U_SIZE, 256, 1, 1024 },
	[TL_KV_MAX_VALUE] = { "kv_max_value", U_SIZE, 64 * K_, 16, 1 * M_ },
	[TL_STATEMENT_TIMEOUT] = { "statement_timeout", U_MS,
	    5000, 10, 60000 },
	[TL_MAX_CONNECTIONS] = { "max_connections", U_COUNT, 256, 1, 65536 },
	[TL_MAX_WORKERS] = { "max_workers", U_COUNT, 4, 1, 256 },
	[TL_KV_PUBLIC_READS] = { "kv_public_reads", U_BOOL, 0, 0, 1 },
	[TL_COST_READ] = { "cost_read", U_COUNT, 1, 0, 1000000 },
	[TL_COST_WRITE] = { "cost_write", U_COUNT, 1, 0, 1000000 },
	[TL_CREDIT_HOLD] = { "credit_hold", U_COUNT, 100, 1, 1000000 },
	[TL_DB_IDLE] = { "db_idle", U_MS, 30000, 1000, 3600000 },
	[TL_INITIAL_CREDITS] = { "initial_credits", U_COUNT,
	    1000, 0, 1000000000000ULL },
	[TL_HANDLER_TIMEOUT] = { "handler_timeout", U_MS, 5000, 100, 600000 },
	[TL_HANDLER_OUTPUT] = { "handler_output", U_SIZE, 1 * M_, 1 * K_,
	    64 * M_ },
	[TL_NETWORK] = { "network", U_BOOL, 0, 0, 1 },
	[TL_APP_IDLE] = { "app_idle", U_MS, 300000, 1000, 86400000 },
	[TL_COST_RUN] = { "cost_run", U_COUNT, 1, 0, 1000000 },
};

static int
tl_valid(enum tlimit l)
{
	return (int)l > 0 && l < TL_MAX;
}

const char *
tlimit_name(enum tlimit l)
{
	return tl_valid(l) ? table[l].name : "unknown";
}

int
tlimit_by_name(const char *s)
{
	int	 l;

	for (l = 1; l < TL_MAX; l++)
		if (strcmp(table[l].name, s) == 0)
			return l;
	return -1;
}

static const char *const size_sfx[] = { "", "K", "M", "G", "T", NULL };
static const uint64_t size_mul[] = { 1, K_, M_, G_, T_ };
/* A bare number of milliseconds, or ms, s or m. */
static const char *const ms_sfx[] = { "", "ms", "s", "m", NULL };
static const uint64_t ms_mul[] = { 1, 1, 1000, 60000 };
static const char *const count_sfx[] = { "", NULL };
static const uint64_t count_mul[] = { 1 };

int
tlimit_parse(enum tlimit l, const char *s, uint64_t *out, char *err,
    size_t errsz)
{
	static const char *const yes[] = { "on", "yes", "true", "1", NULL };
	static const char *const no[] = { "off", "no", "false", "0", NULL };
	char		 lo[32], hi[32];
	uint64_t	 v;
	int		 r = -1, i;

	if (!tl_valid(l)) {
		snprintf(err, errsz, "unknown limit");
		return -1;
	}
	switch (table[l].unit) {
	case U_BOOL:
		for (i = 0; yes[i] != NULL; i++)
			if (strcmp(s, yes[i]) == 0) {
				*out = 1;
				return 0;
			}
		for (i = 0; no[i] != NULL; i++)
			if (strcmp(s, no[i]) == 0) {
				*out = 0;
				return 0;
			}
		snprintf(err, errsz, "%s: \"%s\" is not on or off",
		    table[l].name, s);
		return -1;
	case U_SIZE:
		r = policy_number(s, size_sfx, size_mul, &v);
		break;
	case U_MS:
		r = policy_number(s, ms_sfx, ms_mul, &v);
		break;
	case U_COUNT:
		r = policy_number(s, count_sfx, count_mul, &v);
		break;
	}
	if (r == -1) {
		snprintf(err, errsz, "%s: bad value \"%s\" (%s)", table[l].name,
		    s, table[l].unit == U_SIZE ? "a number of bytes with an "
		    "optional K, M, G or T" : table[l].unit == U_MS ? "a time "
		    "with ms, s or m; a bare number is milliseconds" :
		    "a whole number");
		return -1;
	}
	if (v < table[l].min || v > table[l].max) {
		tlimit_format(l, table[l].min, lo, sizeof(lo));
		tlimit_format(l, table[l].max, hi, sizeof(hi));
		snprintf(err, errsz, "%s: %s is out of range %s..%s",
		    table[l].name, s, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

/* The largest unit that divides the value exactly: 100M, 5s, 1000. */
void
tlimit_format(enum tlimit l, uint64_t v, char *buf, size_t sz)
{
	const char *const	*sfx = count_sfx;
	const uint64_t		*mul = count_mul;
	int			 i, best = 0;

	if (!tl_valid(l)) {
		snprintf(buf, sz, "%llu", (unsigned long long)v);
		return;
	}
	if (table[l].unit == U_BOOL) {
		snprintf(buf, sz, "%s", v ? "on" : "off");
		return;
	}
	if (table[l].unit == U_SIZE) {
		sfx = size_sfx;
		mul = size_mul;
	} else if (table[l].unit == U_MS) {
		sfx = ms_sfx;
		mul = ms_mul;
	}
	for (i = 1; sfx[i] != NULL; i++)
		if (v != 0 && v % mul[i] == 0)
			best = i;
	/* A bare number of milliseconds reads oddly: say "ms". */
	if (best == 0 && table[l].unit == U_MS)
		best = 1;
	snprintf(buf, sz, "%llu%s", (unsigned long long)(v / mul[best]),
	    sfx[best]);
}

void
tlimits_defaults(struct tlimits *tl)
{
	int	 l;

	memset(tl, 0, sizeof(*tl));
	tl->tl_src[0] = "default";
	for (l = 1; l < TL_MAX; l++) {
		tl->tl_val[l] = table[l].def;
		tl->tl_src[l] = "default";
	}
}

/*
 * A profile name becomes a file name: lower-case letters, digits and
 * inner hyphens only, so it cannot climb out of profiles/.
 */
int
tlimit_profile_check(const char *s)
{
	size_t	 i, n = strlen(s);

	if (n == 0 || n > TL_PROFILE_MAX || s[0] == '-' || s[n - 1] == '-')
		return -1;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return -1;
	return 0;
}

struct tl_parse {
	struct tlimits	*tl;
	const char	*src;
	uint8_t		 seen[TL_MAX];
};

static int
tlimits_entry(int line, const char *name, const char *value, void *arg,
    char *err, size_t errsz)
{
	struct tl_parse	*tp = arg;
	char		 why[256];
	int		 l;

	if ((l = tlimit_by_name(name)) == -1) {
		snprintf(err, errsz, "line %d: unknown limit \"%s\"", line,
		    name);
		return -1;
	}
	if (tp->seen[l]++) {
		snprintf(err, errsz, "line %d: %s set twice", line, name);
		return -1;
	}
	if (tlimit_parse(l, value, &tp->tl->tl_val[l], why, sizeof(why)) ==
	    -1) {
		snprintf(err, errsz, "line %d: %s", line, why);
		return -1;
	}
	tp->tl->tl_src[l] = tp->src;
	return 0;
}

int
tlimits_parse(const char *text, size_t len, struct tlimits *tl,
    const char *src, char *err, size_t errsz)
{
	struct tl_parse	 tp;

	memset(&tp, 0, sizeof(tp));
	tp.tl = tl;
	tp.src = src;
	return policy_pairs(text, len, "limit", tlimits_entry, &tp, err,
	    errsz);
}

static int
tlimits_file(const char *path, struct tlimits *tl, const char *src,
    int missing_ok, char *err, size_t errsz)
{
	char	 buf[8192], tmp[512];
	ssize_t	 n;

	if ((n = policy_file_read(path, buf, sizeof(buf), err, errsz)) == -1)
		return missing_ok && errno == ENOENT ? 0 : -1;
	if (tlimits_parse(buf, (size_t)n, tl, src, tmp, sizeof(tmp)) == -1) {
		snprintf(err, errsz, "%s: %s", path, tmp);
		return -1;
	}
	return 0;
}

int
tlimits_load(const char *policy_dir, struct tlimits *tl, char *err,
    size_t errsz)
{
	char	 path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/" TL_FILE, policy_dir) >=
	    (int)sizeof(path)) {
		snprintf(err, errsz, "%s: path too long", policy_dir);
		return -1;
	}
	if (tlimits_file(path, tl, "default", 1, err, errsz) == -1)
		return -1;
	if (tl->tl_profile[0] == '\0')
		return 0;
	if (tlimit_profile_check(tl->tl_profile) == -1) {
		snprintf(err, errsz, "bad profile name \"%s\"", tl->tl_profile);
		return -1;
	}
	if (snprintf(path, sizeof(path), "%s/" TL_PROFILE_DIR "/%s.limits",
	    policy_dir, tl->tl_profile) >= (int)sizeof(path)) {
		snprintf(err, errsz, "%s: path too long", policy_dir);
		return -1;
	}
	return tlimits_file(path, tl, "profile", 0, err, errsz);
}

/*
 * Every file a tenant's limits may be read from: tenant.limits and each
 * profile in profiles/. The supervisor reads them per tenant, when a
 * worker starts; one broken file costs every tenant that uses it its
 * limits, so a start, a reload and tenantd -n read them all first.
 */
int
tlimits_check(const char *policy_dir, char *err, size_t errsz)
{
	struct tlimits	 tl;
	struct dirent	*de;
	DIR		*d;
	char		 path[PATH_MAX];
	size_t		 n;
	int		 r = 0;

	tlimits_defaults(&tl);
	if (tlimits_load(policy_dir, &tl, err, errsz) == -1)
		return -1;
	if (snprintf(path, sizeof(path), "%s/" TL_PROFILE_DIR, policy_dir) >=
	    (int)sizeof(path)) {
		snprintf(err, errsz, "%s: path too long", policy_dir);
		return -1;
	}
	if ((d = opendir(path)) == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (r == 0 && (de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n <= 7 || strcmp(de->d_name + n - 7, ".limits") != 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/" TL_PROFILE_DIR "/%s",
		    policy_dir, de->d_name) >= (int)sizeof(path)) {
			snprintf(err, errsz, "%s: path too long", policy_dir);
			r = -1;
			break;
		}
		tlimits_defaults(&tl);
		r = tlimits_file(path, &tl, "profile", 0, err, errsz);
	}
	closedir(d);
	return r;
}
