/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * tenantctl key, credits and limits: the data plane's trusted side. Keys
 * are derived from the master on demand and wiped after printing; the
 * ledger is the tenant's billing.db (root's, 0600, in its jail root);
 * limits live in the registry on top of the policy files, and a change
 * bumps the generation so the running daemon applies it at once.
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

#include <jansson.h>
#include <sodium.h>

#include "config.h"
#include "keys.h"
#include "ledger.h"
#include "registry.h"
#include "tenantctl.h"
#include "tlimits.h"

#define HISTORY_DEFAULT	20
#define HISTORY_MAX	10000000
#define GRACE_DEFAULT	(7 * 86400)

static void
utc(int64_t ts, char *buf, size_t sz)
{
	struct tm	 tm;
	time_t		 t = (time_t)ts;

	gmtime_r(&t, &tm);
	strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
keys_dir(char *buf, size_t sz)
{
	if (config_path(&conf, "keys", buf, sz) == -1)
		die(EX_FAIL, "state_dir too long");
}

/* A live (not deleted) tenant, or die with the right code. */
static void
live_tenant(const char *slug, struct tenant *t)
{
	get_tenant(slug, t);
	if (t->t_status == TENANT_DELETED)
		die(EX_STATE, "tenant \"%s\" is deleted", slug);
}

/* --- key -------------------------------------------------------------- */

static int
key_show(const char *slug, const char *purpose)
{
	struct tenant		 t;
	struct master_key	 mk;
	uint32_t		 id;
	int64_t			 na;
	uint8_t			 k[KEY_LEN];
	char			 dir[PATH_MAX], err[512], out[KEY_TOKEN_MAX];
	int			 p, n;

	if ((p = key_purpose_parse(purpose)) == -1)
		die(EX_INVALID, "unknown purpose \"%s\": session, encryption, "
		    "webhook or api", purpose);
	open_registry();
	live_tenant(slug, &t);
	if ((n = registry_masters(reg, time(NULL), &id, &na, 1)) < 0)
		die(EX_FAIL, "%s", registry_errmsg(reg));
	if (n == 0 || na != 0)
		die(EX_FAIL, "the registry lists no current master key");
	keys_dir(dir, sizeof(dir));
	if (keys_load(dir, &id, &na, 1, &mk, err, sizeof(err)) == -1)
		die(EX_FAIL, "%s", err);
	key_derive(mk.mk_key, mk.mk_id, slug, p, k);
	keys_wipe(&mk, 1);
	if (p == KEY_API)
		key_token(id, k, out);
	else
		sodium_bin2base64(out, sizeof(out), k, sizeof(k),
		    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(k, sizeof(k));
	if (json_out)
		printf("{\"slug\": \"%s\", \"purpose\": \"%s\", \"master\": %u, "
		    "\"%s\": \"%s\"}\n", slug, key_purpose_str(p), id,
		    p == KEY_API ? "token" : "key", out);
	else
		printf("%s\n", out);
	sodium_memzero(out, sizeof(out));
	return EX_OK_;
}

/* "7d", "12h", "30m", "90s" or bare seconds. */
static int64_t
parse_duration(const char *s)
{
	char		*ep;
	long long	 v;
	int64_t		 mul = 1;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &ep, 10);
	if (errno != 0 || v > 36500LL * 86400)
		return -1;
	if (strcmp(ep, "d") == 0)
		mul = 86400;
	else if (strcmp(ep, "h") == 0)
		mul = 3600;
	else if (strcmp(ep, "m") == 0)
		mul = 60;
	else if (strcmp(ep, "s") != 0 && *ep != '\0')
		return -1;
	if (v * mul > 36500LL * 86400)
		return -1;
	return v * mul;
}

/*
 * The key file first, then the registry: a crash in between leaves an
 * unused file (picked up by the next rotation), never a current master
 * without its key.
 */
static int
key_rotate(int argc, char **argv)
{
	struct master_key	 mk;
	uint32_t		 next, id;
	int64_t			 grace = GRACE_DEFAULT, zero = 0;
	char			 dir[PATH_MAX], path[PATH_MAX], err[512];
	char			 until[32];
	int			 rc, created = 1;

	if (argc == 2 && strcmp(argv[0], "--grace") == 0) {
		if ((grace = parse_duration(argv[1])) < 0)
			die(EX_INVALID, "bad duration \"%s\": a number with d, h, "
			    "m or s", argv[1]);
	} else if (argc != 0)
		usage();
	open_registry();
	if ((rc = registry_master_next(reg, &next)) != REG_OK)
		die(EX_FAIL, "%s", registry_errmsg(reg));
	keys_dir(dir, sizeof(dir));
	if (snprintf(path, sizeof(path), "%s/master-%u.key", dir, next) >=
	    (int)sizeof(path))
		die(EX_FAIL, "%s: path too long", dir);
	if (keys_create(dir, next, err, sizeof(err)) == -1) {
		/* Left by a rotation that did not get to the registry. */
		if (errno != EEXIST || keys_load(dir, &next, &zero, 1, &mk,
		    err, sizeof(err)) == -1)
			die(EX_FAIL, "%s", err);
		keys_wipe(&mk, 1);
		created = 0;
	}
	id = next;
	if ((rc = registry_master_rotate(reg, grace, actor, &id)) != REG_OK) {
		if (created && rc != REG_STATE)
			unlink(path);
		die(rc == REG_FULL ? EX_FULL : rc == REG_STATE ? EX_CONFLICT :
		    EX_FAIL, "rotate: %s", registry_errmsg(reg));
	}
	/*
	 * No tenant's slot: the supervisor replaces every worker when the
	 * master keys change (docs/routing.md), so none needs telling.
	 */
	bump_gen(NULL, 0);
	utc(time(NULL) + grace, until, sizeof(until));
	if (json_out)
		printf("{\"master\": %u, \"file\": \"%s\", \"grace\": %lld, "
		    "\"old_until\": %lld}\n", id, path, (long long)grace,
		    (long long)(time(NULL) + grace));
	else
		printf("master key %u is current (%s)%s; tokens of earlier "
		    "masters work until %s\n", id, path, created ? "" :
		    ", from a file an earlier rotation left", grace > 0 ?
		    until : "now (no grace)");
	return EX_OK_;
}

struct klist {
	json_t	*arr;
	int64_t	 now;
};

static int
key_list_cb(uint32_t id, int64_t created, int64_t not_after, void *arg)
{
	struct klist	*kl = arg;
	const char	*state;
	char		 c[32], u[32] = "-";

	state = not_after == 0 ? "current" : not_after > kl->now ? "grace" :
	    "retired";
	utc(created, c, sizeof(c));
	if (not_after != 0)
		utc(not_after, u, sizeof(u));
	if (kl->arr != NULL) {
		json_array_append_new(kl->arr, json_pack("{s:I, s:I, s:I, s:s}",
		    "id", (json_int_t)id, "created", (json_int_t)created,
		    "not_after", (json_int_t)not_after, "state", state));
		return 0;
	}
	printf("%-6u %-8s %-21s %s\n", id, state, c, u);
	return 0;
}

static int
key_list(int argc, char **argv)
{
	struct klist	 kl = { NULL, 0 };

	if (argc != 0)
		usage();
	open_registry();
	kl.now = time(NULL);
	if (json_out)
		kl.arr = json_array();
	else
		printf("%-6s %-8s %-21s %s\n", "ID", "STATE", "CREATED",
		    "WORKS-UNTIL");
	if (registry_masters_all(reg, key_list_cb, &kl) != REG_OK)
		die(EX_FAIL, "%s", registry_errmsg(reg));
	if (json_out)
		json_print(kl.arr);
	return EX_OK_;
}

int
cmd_key(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[0], "show") == 0)
		return key_show(argv[1], argv[2]);
	if (argc >= 1 && strcmp(argv[0], "rotate") == 0)
		return key_rotate(argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "list") == 0)
		return key_list(argc - 1, argv + 1);
	usage();
}

/* --- credits ---------------------------------------------------------- */

/* The tenant's ledger; create it (empty) if the tenant predates it. */
static struct ledger *
tenant_ledger(const char *slug, int create)
{
	struct ledger	*l;
	char		 err[512];
	int		 tfd, fd;

	tfd = tenants_dir();
	if ((fd = openat(tfd, slug, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		die(EX_FAIL, "tenants/%s: %s", slug, strerror(errno));
	close(tfd);
	if (!create && faccessat(fd, LEDGER_FILE, F_OK, AT_SYMLINK_NOFOLLOW) ==
	    -1 && errno == ENOENT)
		die(EX_STATE, "tenant \"%s\" has no %s yet (tenantd creates it "
		    "when it first serves the tenant, \"credits add\" too)",
		    slug, LEDGER_FILE);
	if ((l = ledger_open(fd, create, err, sizeof(err))) == NULL)
		die(EX_FAIL, "tenants/%s/%s", slug, err);
	close(fd);
	return l;
}

static int
credits_show(const char *slug)
{
	struct tenant		 t;
	struct ledger_summary	 s;
	struct ledger		*l;
	char			 err[256] = "";
	int			 ok;

	open_registry();
	get_tenant(slug, &t);
	l = tenant_ledger(slug, 0);
	if (ledger_summary(l, &s) == -1)
		die(EX_FAIL, "%s: %s", slug, ledger_errmsg(l));
	ok = ledger_check(l, err, sizeof(err)) == 0;
	ledger_close(l);
	if (json_out)
		json_print(json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:b, "
		    "s:s}", "slug", slug, "balance", (json_int_t)s.ls_balance,
		    "held", (json_int_t)s.ls_held,
		    "available", (json_int_t)s.ls_available,
		    "sum", (json_int_t)s.ls_sum,
		    "transactions", (json_int_t)s.ls_ntxn,
		    "open_holds", (json_int_t)s.ls_nholds_open,
		    "consistent", ok, "check", ok ? "ok" : err));
	else
		printf("balance      %lld\nheld         %lld (%lld open "
		    "holds)\navailable    %lld\ntransactions %lld\ncheck        "
		    "%s%s\n", (long long)s.ls_balance, (long long)s.ls_held,
		    (long long)s.ls_nholds_open, (long long)s.ls_available,
		    (long long)s.ls_ntxn, ok ? "ok" : "FAILED: ", ok ? "" : err);
	if (!ok)
		fprintf(stderr, "tenantctl: %s: the books do not check: %s\n",
		    slug, err);
	return ok ? EX_OK_ : EX_FAIL;
}

static int
credits_add(const char *slug, const char *amount, const char *note)
{
	struct tenant		 t;
	struct ledger_summary	 s;
	struct ledger		*l;
	char			*ep, detail[300];
	long long		 v;

	errno = 0;
	v = strtoll(amount, &ep, 10);
	if (errno != 0 || ep == amount || *ep != '\0' || v == 0 ||
	    (amount[0] != '-' && (amount[0] < '0' || amount[0] > '9')) ||
	    v > LEDGER_AMOUNT_MAX || v < -LEDGER_AMOUNT_MAX)
		die(EX_INVALID, "bad amount \"%s\": a whole number of credits, "
		    "not 0, negative to take some away", amount);
	if (note != NULL && strlen(note) > LEDGER_NOTE_MAX)
		die(EX_INVALID, "the note is longer than %d bytes",
		    LEDGER_NOTE_MAX);
	open_registry();
	live_tenant(slug, &t);
	l = tenant_ledger(slug, 1);
	if (ledger_add(l, v, note) == -1)
		die(errno == ERANGE ? EX_STATE : errno == EINVAL ? EX_INVALID :
		    EX_FAIL, "%s: %s", slug, ledger_errmsg(l));
	if (ledger_summary(l, &s) == -1)
		die(EX_FAIL, "%s: %s", slug, ledger_errmsg(l));
	ledger_close(l);
	snprintf(detail, sizeof(detail), "%+lld%s%s", v, note ? " " : "",
	    note ? note : "");
	if (registry_audit(reg, actor, "credits-add", slug, detail) != REG_OK)
		die(EX_FAIL, "audit: %s (the credits are booked)",
		    registry_errmsg(reg));
	if (json_out)
		json_print(json_pack("{s:s, s:I, s:I, s:I}", "slug", slug,
		    "amount", (json_int_t)v, "balance",
		    (json_int_t)s.ls_balance, "available",
		    (json_int_t)s.ls_available));
	else
		printf("%s %lld credits %s %s: balance %lld, available %lld\n",
		    v > 0 ? "added" : "removed", v > 0 ? v : -v,
		    v > 0 ? "to" : "from", slug, (long long)s.ls_balance,
		    (long long)s.ls_available);
	return EX_OK_;
}

static int
credits_history(const char *slug, int max)
{
	struct tenant		 t;
	struct ledger_txn	*tx;
	struct ledger_summary	 s;
	struct ledger		*l;
	json_t			*arr;
	char			 when[32];
	int			 n, i;

	open_registry();
	get_tenant(slug, &t);
	l = tenant_ledger(slug, 0);
	/* Room for what there is, not for what was asked. */
	if (ledger_summary(l, &s) == -1)
		die(EX_FAIL, "%s: %s", slug, ledger_errmsg(l));
	if (s.ls_ntxn < max)
		max = (int)s.ls_ntxn;
	if ((tx = calloc((size_t)max + 1, sizeof(*tx))) == NULL)
		die(EX_FAIL, "out of memory");
	if ((n = ledger_history(l, tx, max)) == -1)
		die(EX_FAIL, "%s: %s", slug, ledger_errmsg(l));
	ledger_close(l);
	if (json_out) {
		arr = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(arr, json_pack("{s:I, s:I, s:s, "
			    "s:I, s:s?, s:s?}", "id", (json_int_t)tx[i].lt_id,
			    "at", (json_int_t)tx[i].lt_at, "kind",
			    tx[i].lt_kind, "amount", (json_int_t)tx[i].lt_amount,
			    "ref", tx[i].lt_ref[0] ? tx[i].lt_ref : NULL,
			    "note", tx[i].lt_note[0] ? tx[i].lt_note : NULL));
		json_print(arr);
	} else {
		printf("%-8s %-20s %-7s %12s  %-16s %s\n", "ID", "TIME", "KIND",
		    "AMOUNT", "REF", "NOTE");
		for (i = 0; i < n; i++) {
			utc(tx[i].lt_at, when, sizeof(when));
			printf("%-8lld %-20s %-7s %+12lld  %-16s %s\n",
			    (long long)tx[i].lt_id, when, tx[i].lt_kind,
			    (long long)tx[i].lt_amount,
			    tx[i].lt_ref[0] ? tx[i].lt_ref : "-", tx[i].lt_note);
		}
	}
	free(tx);
	return EX_OK_;
}

int
cmd_credits(int argc, char **argv)
{
	const char	*note = NULL;
	char		*ep;
	long		 max = HISTORY_DEFAULT;

	if (argc == 2 && strcmp(argv[0], "show") == 0)
		return credits_show(argv[1]);
	if ((argc == 3 || argc == 5) && strcmp(argv[0], "add") == 0) {
		if (argc == 5) {
			if (strcmp(argv[3], "--note") != 0)
				usage();
			note = argv[4];
		}
		return credits_add(argv[1], argv[2], note);
	}
	if ((argc == 2 || argc == 4) && strcmp(argv[0], "history") == 0) {
		if (argc == 4) {
			if (strcmp(argv[2], "--limit") != 0)
				usage();
			errno = 0;
			max = strtol(argv[3], &ep, 10);
			if (errno != 0 || *ep != '\0' || ep == argv[3] ||
			    max < 1 || max > HISTORY_MAX)
				die(EX_INVALID, "bad --limit \"%s\": 1 to %d",
				    argv[3], HISTORY_MAX);
		}
		return credits_history(argv[1], (int)max);
	}
	usage();
}

/* --- limits ----------------------------------------------------------- */

static int
limits_show(const char *slug)
{
	struct tenant	 t;
	struct tlimits	 tl;
	json_t		*o, *lims;
	char		 err[512], v[48];
	int		 l;

	open_registry();
	get_tenant(slug, &t);
	if (tlimits_for_tenant(reg, conf.c_policy_dir, t.t_id, &tl, err,
	    sizeof(err)) == -1)
		die(EX_FAIL, "%s: limits: %s", slug, err);
	if (json_out) {
		lims = json_object();
		for (l = 1; l < TL_MAX; l++) {
			tlimit_format(l, tl.tl_val[l], v, sizeof(v));
			json_object_set_new(lims, tlimit_name(l), json_pack(
			    "{s:s, s:I, s:s}", "value", v, "raw",
			    (json_int_t)tl.tl_val[l], "source", tl.tl_src[l]));
		}
		o = json_pack("{s:s, s:s?, s:o}", "slug", slug, "profile",
		    tl.tl_profile[0] ? tl.tl_profile : NULL, "limits", lims);
		json_print(o);
		return EX_OK_;
	}
	printf("profile %s\n", tl.tl_profile[0] ? tl.tl_profile : "(none)");
	printf("%-20s %-10s %s\n", "LIMIT", "VALUE", "SOURCE");
	for (l = 1; l < TL_MAX; l++) {
		tlimit_format(l, tl.tl_val[l], v, sizeof(v));
		printf("%-20s %-10s %s\n", tlimit_name(l), v, tl.tl_src[l]);
	}
	return EX_OK_;
}

/* A profile must exist and load before a tenant is pointed at it. */
static void
profile_check(const char *name)
{
	struct tlimits	 tl;
	char		 err[512], path[PATH_MAX];

	if (tlimit_profile_check(name) == -1)
		die(EX_INVALID, "bad profile name \"%s\": lower-case letters, "
		    "digits and inner hyphens", name);
	if (snprintf(path, sizeof(path), "%s/" TL_PROFILE_DIR "/%s.limits",
	    conf.c_policy_dir, name) >= (int)sizeof(path))
		die(EX_FAIL, "%s: path too long", conf.c_policy_dir);
	if (access(path, F_OK) == -1)
		die(EX_NOTFOUND, "no profile \"%s\" (%s: %s)", name, path,
		    strerror(errno));
	tlimits_defaults(&tl);
	snprintf(tl.tl_profile, sizeof(tl.tl_profile), "%s", name);
	if (tlimits_load(conf.c_policy_dir, &tl, err, sizeof(err)) == -1)
		die(EX_INVALID, "profile \"%s\": %s", name, err);
}

static int
limits_set(const char *slug, const char *name, const char *value)
{
	struct tenant	 t;
	uint64_t	 v;
	char		 err[256];
	int		 l, rc;

	if (strcmp(name, "profile") != 0) {
		if ((l = tlimit_by_name(name)) == -1)
			die(EX_INVALID, "unknown limit \"%s\" (\"tenantctl "
			    "limits show SLUG\" lists them)", name);
		if (value != NULL && tlimit_parse(l, value, &v, err,
		    sizeof(err)) == -1)
			die(EX_INVALID, "%s", err);
	} else if (value != NULL)
		profile_check(value);
	open_registry();
	live_tenant(slug, &t);
	rc = registry_limit_set(reg, slug, name, value, actor);
	if (rc == REG_INVALID)
		die(EX_INVALID, "%s", registry_errmsg(reg));
	if (rc == REG_NOTFOUND)
		die(EX_NOTFOUND, "no tenant \"%s\"", slug);
	if (rc == REG_STATE)
		die(EX_STATE, "tenant \"%s\" is deleted", slug);
	if (rc != REG_OK)
		die(EX_FAIL, "%s", registry_errmsg(reg));
	bump_gen(&t.t_id, 1);
	if (value != NULL)
		printf("%s: %s set to %s\n", slug, name, value);
	else
		printf("%s: %s unset (%s)\n", slug, name,
		    strcmp(name, "profile") == 0 ? "no profile" :
		    "the profile's or default value applies");
	return EX_OK_;
}

int
cmd_limits(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[0], "show") == 0)
		return limits_show(argv[1]);
	if (argc == 4 && strcmp(argv[0], "set") == 0)
		return limits_set(argv[1], argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[0], "unset") == 0)
		return limits_set(argv[1], argv[2], NULL);
	usage();
}

/*
 * A new tenant's billing.db with its initial credits, in its directory
 * (create and import). A new tenant has no profile or overrides yet: its
 * limits are the policy's defaults.
 */
int
ledger_provision(int dirfd, int64_t credits, char *err, size_t errsz)
{
	struct ledger	*l;

	if ((l = ledger_open(dirfd, 1, err, errsz)) == NULL)
		return -1;
	if (credits > 0 && ledger_add(l, credits, "initial credits") == -1) {
		snprintf(err, errsz, "%s: %s", LEDGER_FILE, ledger_errmsg(l));
		ledger_close(l);
		return -1;
	}
	ledger_close(l);
	return 0;
}

int64_t
initial_credits(void)
{
	struct tlimits	 tl;
	char		 err[512];

	tlimits_defaults(&tl);
	if (tlimits_load(conf.c_policy_dir, &tl, err, sizeof(err)) == -1)
		die(EX_FAIL, "limits: %s", err);
	return (int64_t)tl.tl_val[TL_INITIAL_CREDITS];
}
