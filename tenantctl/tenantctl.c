/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * tenantctl: the operator's tool. It writes the registry (the supervisor
 * only reads it), provisions and purges tenant directories, and bumps the
 * registry generation after every committed change so the running daemon
 * applies it to the very next request.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "config-paths.h"
#include "config.h"
#include "gen.h"
#include "host.h"
#include "registry.h"
#include "slug.h"
#include "tenantctl.h"

struct config		 conf;
struct registry		*reg;
int			 json_out;
char			 actor[160];

void __attribute__((__noreturn__, __format__(printf, 2, 3)))
die(int code, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "tenantctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	registry_close(reg);
	exit(code);
}

void __attribute__((__noreturn__))
usage(void)
{
	fprintf(stderr,
	    "usage: tenantctl [-c config] command [args]\n"
	    "\n"
	    "  init                          create config, state, registry, master key\n"
	    "  create SLUG                   register and provision a tenant\n"
	    "  list [--json]                 all tenants\n"
	    "  show SLUG [--json]            one tenant\n"
	    "  suspend SLUG                  stop serving it (503), keep everything\n"
	    "  resume SLUG                   serve it again\n"
	    "  delete SLUG [--purge]         tombstone it; --purge removes its directory\n"
	    "  hostname add SLUG HOST [--active]\n"
	    "  hostname add SLUG --from FILE [--active]   one name a line, all or none\n"
	    "  hostname activate SLUG HOST   serve a verified custom domain\n"
	    "  hostname remove SLUG HOST\n"
	    "  hostname list [SLUG] [--json]\n"
	    "  audit [SLUG]                  the append-only change log\n"
	    "  export SLUG FILE [--force]    write the tenant to one archive\n"
	    "  import FILE [--as SLUG] [--no-hostnames]\n"
	    "  key show SLUG PURPOSE         api token, or session/encryption/webhook key\n"
	    "  key rotate [--grace DURATION] new master key; old tokens work DURATION (7d)\n"
	    "  key list [--json]             master keys: current, in grace, retired\n"
	    "  credits show SLUG [--json]    balance, held, available, books checked\n"
	    "  credits add SLUG AMOUNT [--note TEXT]   negative AMOUNT takes away\n"
	    "  credits history SLUG [--limit N] [--json]\n"
	    "  limits show SLUG [--json]     every limit, its value and where it is set\n"
	    "  limits set SLUG NAME VALUE    per-tenant override; NAME profile: a profile\n"
	    "  limits unset SLUG NAME\n"
	    "\n"
	    "  for the running tenantd (its admin socket):\n"
	    "  status [SLUG] [--json]        workers, connections, requests, errors\n"
	    "  top [-n COUNT] [-d SECONDS]   live view by requests per second\n"
	    "  restart SLUG                  fresh workers; clears crash backoff\n"
	    "  drain SLUG                    retire the tenant's workers\n"
	    "  reload [--json]               re-read config and policy; exit 10\n"
	    "                                if refused, 11 if a restart is needed\n"
	    "  metrics                       Prometheus text\n");
	exit(EX_USAGE_);
}

/* Who made a change, for the audit log. */
static void
actor_init(void)
{
	struct passwd	*pw = getpwuid(getuid());
	const char	*sudo = getenv("SUDO_USER");

	snprintf(actor, sizeof(actor), "tenantctl uid=%u(%s)%s%s",
	    (unsigned int)getuid(), pw ? pw->pw_name : "?",
	    sudo ? " sudo=" : "", sudo ? sudo : "");
}

static int
reg_exit(int rc)
{
	switch (rc) {
	case REG_NOTFOUND:
		return EX_NOTFOUND;
	case REG_EXISTS:
	case REG_RESERVED:
	case REG_TOMBSTONE:
		return EX_CONFLICT;
	case REG_INVALID:
		return EX_INVALID;
	case REG_STATE:
		return EX_STATE;
	case REG_FULL:
		return EX_FULL;
	}
	return EX_FAIL;
}

void
open_registry(void)
{
	char	 path[PATH_MAX], err[512];

	if (config_path(&conf, "registry.db", path, sizeof(path)) == -1)
		die(EX_FAIL, "state_dir too long");
	if (access(path, F_OK) == -1)
		die(EX_NOINIT, "%s: not initialised; run \"tenantctl init\"",
		    conf.c_state_dir);
	if ((reg = registry_open(path, 0, err, sizeof(err))) == NULL)
		die(EX_FAIL, "%s", err);
}

/*
 * Tell the running daemon (if any): the next request sees the change. ids
 * are the tenants the change touched (a hostname given up by one tenant
 * and taken by another touches both); only their workers are told
 * anything (docs/routing.md).
 */
void
bump_gen(const int64_t *ids, size_t n)
{
	struct gen	 g;
	char		 path[PATH_MAX], slots[PATH_MAX];

	if (config_path(&conf, GEN_FILE, path, sizeof(path)) == -1 ||
	    config_path(&conf, GEN_SLOTS_FILE, slots, sizeof(slots)) == -1 ||
	    gen_map(&g, path, 1) == -1 || gen_bump(&g, path, slots, ids,
	    n) == -1)
		die(EX_FAIL, "%s: %s (the change is committed; restart "
		    "tenantd to apply it)", path, strerror(errno));
	gen_unmap(&g);
}

int
tenants_dir(void)
{
	char	 path[PATH_MAX];
	int	 fd;

	if (config_path(&conf, "tenants", path, sizeof(path)) == -1)
		die(EX_FAIL, "state_dir too long");
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		die(EX_NOINIT, "%s: %s", path, strerror(errno));
	return fd;
}

static void
host_of(const char *slug, char *buf, size_t sz)
{
	snprintf(buf, sz, "%s.%s", slug, conf.c_hosts.hc_suffix);
}

static void
mkdir_root(const char *path, mode_t mode)
{
	struct stat	 st;
	char		 parent[PATH_MAX], *slash;

	/* Parents first (0755, root's), as mkdir -p would. */
	snprintf(parent, sizeof(parent), "%s", path);
	if ((slash = strrchr(parent, '/')) != NULL && slash != parent) {
		*slash = '\0';
		if (access(parent, F_OK) == -1)
			mkdir_root(parent, 0755);
	}
	if (mkdir(path, mode) == -1 && errno != EEXIST)
		die(EX_FAIL, "mkdir %s: %s", path, strerror(errno));
	if (lstat(path, &st) == -1 || !S_ISDIR(st.st_mode) || st.st_uid != 0)
		die(EX_FAIL, "%s: not a root-owned directory", path);
	if (chmod(path, mode) == -1)
		die(EX_FAIL, "chmod %s: %s", path, strerror(errno));
}

static int
cmd_init(int argc, char **argv)
{
	char		 path[PATH_MAX], err[512];
	unsigned char	 key[32];
	struct gen	 g;
	struct gen_slots gs;
	FILE		*f;
	int		 fd;

	if (argc != 0)
		usage();
	/* The config file, with every key documented, unless there is one. */
	if (access(conf.c_file[0] ? conf.c_file : TENANTD_CONFIG, F_OK) == -1) {
		const char	*cf = conf.c_file[0] ? conf.c_file :
		    TENANTD_CONFIG;
		char		 dir[PATH_MAX], *slash;

		snprintf(dir, sizeof(dir), "%s", cf);
		if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
			*slash = '\0';
			if (access(dir, F_OK) == -1)
				mkdir_root(dir, 0755);
		}
		if ((fd = open(cf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0644)) == -1 || (f = fdopen(fd, "w")) == NULL)
			die(EX_FAIL, "%s: %s", cf, strerror(errno));
		config_dump(f, &conf);
		if (fclose(f) != 0)
			die(EX_FAIL, "%s: %s", cf, strerror(errno));
		printf("wrote %s\n", cf);
	}
	mkdir_root(conf.c_state_dir, 0755);
	config_path(&conf, "tenants", path, sizeof(path));
	/* Others may pass through, not list: tenant names stay private. */
	mkdir_root(path, 0711);
	config_path(&conf, "keys", path, sizeof(path));
	mkdir_root(path, 0700);

	/* The master key: created once, never overwritten, root-only. */
	config_path(&conf, "keys/master-1.key", path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0400);
	if (fd != -1) {
		randombytes_buf(key, sizeof(key));
		if (write(fd, key, sizeof(key)) != (ssize_t)sizeof(key) ||
		    fsync(fd) == -1 || close(fd) == -1) {
			sodium_memzero(key, sizeof(key));
			unlink(path);
			die(EX_FAIL, "%s: %s", path, strerror(errno));
		}
		sodium_memzero(key, sizeof(key));
		printf("created master key %s\n", path);
	} else if (errno != EEXIST)
		die(EX_FAIL, "%s: %s", path, strerror(errno));

	config_path(&conf, "registry.db", path, sizeof(path));
	if ((reg = registry_open(path, REG_CREATE, err, sizeof(err))) == NULL)
		die(EX_FAIL, "%s", err);
	if (chmod(path, 0600) == -1)
		die(EX_FAIL, "chmod %s: %s", path, strerror(errno));
	config_path(&conf, GEN_FILE, path, sizeof(path));
	if (gen_map(&g, path, 1) == -1)
		die(EX_FAIL, "%s: %s", path, strerror(errno));
	gen_unmap(&g);
	config_path(&conf, GEN_SLOTS_FILE, path, sizeof(path));
	if (gen_slots_open(&gs, path, 1) == -1)
		die(EX_FAIL, "%s: %s", path, strerror(errno));
	gen_slots_close(&gs);
	printf("initialised %s (tenants served as <slug>.%s)\n",
	    conf.c_state_dir, conf.c_hosts.hc_suffix);
	return EX_OK_;
}

static int
cmd_create(int argc, char **argv)
{
	struct tenant	 t;
	enum slug_error	 se;
	char		 err[512], host[HOST_NAME_MAX_LEN + SLUG_MAX_LEN + 2], path[PATH_MAX];
	int		 rc, tfd = -1;
	int64_t		 credits;
	const char	*slug;

	if (argc != 1)
		usage();
	slug = argv[0];
	if ((se = slug_check(slug, strlen(slug))) != SLUG_OK)
		die(se == SLUG_RESERVED ? EX_CONFLICT : EX_INVALID,
		    "invalid slug \"%s\": %s", slug, slug_error_str(se));
	host_of(slug, host, sizeof(host));
	if (strlen(host) > HOST_NAME_MAX_LEN)
		die(EX_INVALID, "%s: longer than %d characters", host,
		    HOST_NAME_MAX_LEN);
	open_registry();
	/* Before registering: a broken tenant.limits leaves nothing behind. */
	credits = initial_credits();
	/* The registry's reason first; a stray directory only after. */
	if ((rc = registry_tenant_get(reg, slug, &t)) == REG_OK)
		rc = t.t_status == TENANT_DELETED ? REG_TOMBSTONE : REG_EXISTS;
	else if (rc == REG_NOTFOUND) {
		tfd = tenants_dir();
		if (faccessat(tfd, slug, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			die(EX_CONFLICT, "tenants/%s already exists but is no "
			    "tenant; move it away first", slug);
		rc = registry_tenant_create(reg, slug, conf.c_uid_min,
		    conf.c_uid_max, actor, &t);
	}
	if (rc == REG_TOMBSTONE)
		die(EX_CONFLICT, "\"%s\" belonged to a deleted tenant; slugs are "
		    "never reissued", slug);
	if (rc == REG_RESERVED)
		die(EX_CONFLICT, "\"%s\" is reserved for the platform", slug);
	if (rc == REG_EXISTS)
		die(EX_CONFLICT, "tenant \"%s\" already exists", slug);
	if (rc != REG_OK)
		die(reg_exit(rc), "create %s: %s", slug, registry_errmsg(reg));
	if (provision_tenant(tfd, slug, &t, host, credits, err,
	    sizeof(err)) == -1) {
		/* Registered but not provisioned: never served; say so. */
		registry_tenant_set_status(reg, slug, TENANT_SUSPENDED, actor);
		bump_gen(&t.t_id, 1);
		die(EX_FAIL, "%s; tenant \"%s\" is registered but suspended "
		    "until this is fixed", err, slug);
	}
	close(tfd);
	bump_gen(&t.t_id, 1);
	config_path(&conf, "tenants", path, sizeof(path));
	if (json_out) {
		printf("{\"slug\": \"%s\", \"uid\": %u, \"gid\": %u, "
		    "\"host\": \"%s\"}\n", slug, t.t_uid, t.t_gid, host);
	} else
		printf("created tenant %s: uid %u, gid %u, %s/%s, served at "
		    "%s\n", slug, t.t_uid, t.t_gid, path, slug, host);
	return EX_OK_;
}

struct list_ctx {
	json_t	*arr;
	int	 n;
};

static int
host_count_cb(const struct hostname *h, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static json_t *
tenant_json(const struct tenant *t)
{
	char	 host[HOST_NAME_MAX_LEN + SLUG_MAX_LEN + 2], dir[PATH_MAX];

	host_of(t->t_slug, host, sizeof(host));
	snprintf(dir, sizeof(dir), "%s/tenants/%s", conf.c_state_dir,
	    t->t_slug);
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:s}",
	    "slug", t->t_slug, "status", tenant_status_str(t->t_status),
	    "uid", (json_int_t)t->t_uid, "gid", (json_int_t)t->t_gid,
	    "created", (json_int_t)t->t_created,
	    "updated", (json_int_t)t->t_updated, "host", host,
	    "directory", dir);
}

static int
list_cb(const struct tenant *t, void *arg)
{
	struct list_ctx	*lc = arg;
	char		 when[32];
	struct tm	 tm;
	time_t		 c = (time_t)t->t_created;
	int		 nh = 0;

	if (json_out) {
		json_array_append_new(lc->arr, tenant_json(t));
		return 0;
	}
	registry_hosts(reg, t->t_id, 0, host_count_cb, &nh);
	gmtime_r(&c, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d", &tm);
	if (lc->n++ == 0)
		printf("%-24s %-10s %-8s %-11s %s\n", "SLUG", "STATUS", "UID",
		    "CREATED", "CUSTOM-HOSTS");
	printf("%-24s %-10s %-8u %-11s %d\n", t->t_slug,
	    tenant_status_str(t->t_status), t->t_uid, when, nh);
	return 0;
}

void
json_print(json_t *j)
{
	char	*s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (s == NULL)
		die(EX_FAIL, "json: out of memory");
	printf("%s\n", s);
	free(s);
	json_decref(j);
}

static int
cmd_list(int argc, char **argv)
{
	struct list_ctx	 lc = { NULL, 0 };
	int		 rc;

	if (argc != 0)
		usage();
	open_registry();
	if (json_out)
		lc.arr = json_array();
	if ((rc = registry_tenants(reg, list_cb, &lc)) != REG_OK)
		die(EX_FAIL, "%s", registry_errmsg(reg));
	if (json_out)
		json_print(lc.arr);
	else if (lc.n == 0)
		printf("no tenants; create one with \"tenantctl create SLUG\"\n");
	return EX_OK_;
}

static int
host_json_cb(const struct hostname *h, void *arg)
{
	json_array_append_new(arg, json_pack("{s:s, s:s, s:s, s:I}",
	    "hostname", h->h_name, "tenant", h->h_slug,
	    "status", h->h_active ? "active" : "pending",
	    "created", (json_int_t)h->h_created));
	return 0;
}

static int
host_text_cb(const struct hostname *h, void *arg)
{
	if ((*(int *)arg)++ == 0)
		printf("%-40s %-24s %s\n", "HOSTNAME", "TENANT", "STATUS");
	printf("%-40s %-24s %s\n", h->h_name, h->h_slug,
	    h->h_active ? "active" : "pending");
	return 0;
}

void
get_tenant(const char *slug, struct tenant *t)
{
	int	 rc;

	if ((rc = registry_tenant_get(reg, slug, t)) == REG_NOTFOUND)
		die(EX_NOTFOUND, "no tenant \"%s\"", slug);
	if (rc != REG_OK)
		die(EX_FAIL, "%s", registry_errmsg(reg));
}

static int
cmd_show(int argc, char **argv)
{
	struct tenant	 t;
	json_t		*o, *hosts;
	const char	*k;
	json_t		*v;
	int		 n = 0;

	if (argc != 1)
		usage();
	open_registry();
	get_tenant(argv[0], &t);
	o = tenant_json(&t);
	hosts = json_array();
	registry_hosts(reg, t.t_id, 0, host_json_cb, hosts);
	if (json_out) {
		json_object_set_new(o, "hostnames", hosts);
		json_print(o);
		return EX_OK_;
	}
	json_object_foreach(o, k, v) {
		if (json_is_string(v))
			printf("%-10s %s\n", k, json_string_value(v));
		else if (json_is_integer(v))
			printf("%-10s %lld\n", k,
			    (long long)json_integer_value(v));
	}
	json_decref(o);
	json_decref(hosts);
	printf("hostnames:\n");
	registry_hosts(reg, t.t_id, 0, host_text_cb, &n);
	if (n == 0)
		printf("  (none)\n");
	return EX_OK_;
}

static int
cmd_status(const char *slug, enum tenant_status st)
{
	struct tenant	 t;
	int		 rc;

	open_registry();
	get_tenant(slug, &t);
	rc = registry_tenant_set_status(reg, slug, st, actor);
	if (rc == REG_NOTFOUND)
		die(EX_NOTFOUND, "no tenant \"%s\"", slug);
	if (rc == REG_STATE)
		die(EX_STATE, "tenant \"%s\" is deleted", slug);
	if (rc != REG_OK)
		die(reg_exit(rc), "%s", registry_errmsg(reg));
	bump_gen(&t.t_id, 1);
	return EX_OK_;
}

static int
cmd_suspend(int argc, char **argv)
{
	if (argc != 1)
		usage();
	cmd_status(argv[0], TENANT_SUSPENDED);
	printf("suspended %s: requests get 503 until \"tenantctl resume "
	    "%s\"\n", argv[0], argv[0]);
	return EX_OK_;
}

static int
cmd_resume(int argc, char **argv)
{
	if (argc != 1)
		usage();
	cmd_status(argv[0], TENANT_ACTIVE);
	printf("resumed %s\n", argv[0]);
	return EX_OK_;
}

/*
 * The slug a ".purge-<slug>-<12 hex digits>" directory belonged to, into
 * slug; -1 if the name is not one purge_tenant() makes.
 */
static int
leftover_slug(const char *name, char *slug, size_t slugsz)
{
	size_t	 n = strlen(name), pl = strlen(".purge-");

	if (n < pl + 1 + 13 || n - pl - 13 >= slugsz ||
	    name[n - 13] != '-' || strspn(name + n - 12, "0123456789abcdef") !=
	    12)
		return -1;
	memcpy(slug, name + pl, n - pl - 13);
	slug[n - pl - 13] = '\0';
	return 0;
}

static const char	*purge_slug;	/* the tenant delete --purge is for */
static int		 purge_own_left, purge_other_left;

static void
leftover_report(const char *name, const char *err)
{
	char	 slug[256] = "", detail[512];
	int	 own;

	own = leftover_slug(name, slug, sizeof(slug)) == 0 &&
	    strcmp(slug, purge_slug) == 0;
	if (err != NULL) {
		fprintf(stderr, "tenantctl: tenants/%s: an interrupted purge, "
		    "still not finished: %s\n", name, err);
		if (own)
			purge_own_left = 1;
		else
			purge_other_left = 1;
		return;
	}
	snprintf(detail, sizeof(detail), "tenants/%s, left by an interrupted "
	    "purge", name);
	registry_audit(reg, actor, "purge", slug[0] ? slug : name,
	    detail);
	printf("finished an interrupted purge: removed tenants/%s\n", name);
}

/*
 * delete --purge removes the tenant's directory and then finishes every
 * purge an interruption left behind (docs/operations.md): "purged" is
 * said only when nothing of the tenant's tree is left.
 */
static int
cmd_delete(int argc, char **argv)
{
	struct tenant	 t;
	char		 err[512];
	int		 purge = 0, tfd;

	if (argc == 2 && strcmp(argv[1], "--purge") == 0)
		purge = 1;
	else if (argc != 1)
		usage();
	open_registry();
	get_tenant(argv[0], &t);
	if (t.t_status != TENANT_DELETED) {
		cmd_status(argv[0], TENANT_DELETED);
		printf("deleted %s: the slug is tombstoned and never reissued\n",
		    argv[0]);
	} else if (!purge)
		die(EX_STATE, "tenant \"%s\" is already deleted", argv[0]);
	if (!purge)
		return EX_OK_;
	tfd = tenants_dir();
	if (purge_tenant(tfd, argv[0], err, sizeof(err)) == -1)
		die(EX_FAIL, "purge %s: %s; not purged: what is left is "
		    "finished by the next delete --purge", argv[0], err);
	purge_slug = argv[0];
	if (purge_leftovers(tfd, leftover_report) == -1 && !purge_own_left &&
	    !purge_other_left)
		die(EX_FAIL, "tenants/: %s", strerror(errno));
	if (purge_own_left)
		die(EX_FAIL, "purge %s: not purged: an earlier purge of it is "
		    "left and could not be finished", argv[0]);
	registry_audit(reg, actor, "purge", argv[0], NULL);
	printf("purged tenants/%s\n", argv[0]);
	if (purge_other_left)
		die(EX_FAIL, "purged %s, but an interrupted purge of another "
		    "tenant is left (see above)", argv[0]);
	return EX_OK_;
}

/* Canonical custom hostname, refused if it collides with our own names. */
void
custom_host(const char *in, char *out, size_t outsz)
{
	struct host_result	 hr;
	size_t			 n, sl = conf.c_hosts.hc_suffix_len;
	unsigned int		 port;

	if (host_canonical(in, strlen(in), out, &n, &port) == -1 || port != 0)
		die(EX_INVALID, "invalid hostname \"%s\": letters, digits, "
		    "'-' and '.', no port, no IP address", in);
	if ((n == sl || (n > sl && out[n - sl - 1] == '.')) &&
	    strcmp(out + n - sl, conf.c_hosts.hc_suffix) == 0)
		die(EX_INVALID, "%s is under the tenant suffix %s: tenants "
		    "there are addressed by their slug", out,
		    conf.c_hosts.hc_suffix);
	if (host_classify(&conf.c_hosts, out, n, &hr) != HOST_CUSTOM)
		die(EX_INVALID, "%s cannot be a custom domain (%s)", out,
		    host_class_str(hr.hr_class));
	(void)outsz;
}

/*
 * hostname add SLUG --from FILE: one name a line ("-": standard input),
 * blank lines skipped, each checked as one given on the command line, all
 * added in one transaction or none. More than a tenant may have is refused
 * before anything is read further.
 */
static int
hostname_add_file(const struct tenant *t, const char *file, int active)
{
	const char	*slug = t->t_slug;
	FILE		*f;
	char		 line[512], *s, *e;
	char		(*names)[HOST_NAME_MAX_LEN + 1];
	const char	**p;
	size_t		 n = 0;
	int		 rc;

	if ((names = calloc(HOST_TENANT_MAX, sizeof(*names))) == NULL ||
	    (p = calloc(HOST_TENANT_MAX, sizeof(*p))) == NULL)
		die(EX_FAIL, "%s", strerror(errno));
	if (strcmp(file, "-") == 0)
		f = stdin;
	else if ((f = fopen(file, "re")) == NULL)
		die(EX_FAIL, "%s: %s", file, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strchr(line, '\n') == NULL && !feof(f))
			die(EX_INVALID, "%s: a line longer than any hostname",
			    file);
		for (s = line; *s == ' ' || *s == '\t'; s++)
			;
		for (e = s + strlen(s); e > s && (e[-1] == '\n' ||
		    e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		*e = '\0';
		if (*s == '\0')
			continue;
		if (n == HOST_TENANT_MAX)
			die(EX_FULL, "%s: more than %d hostnames, the most tenant "
			    "\"%s\" or any tenant may have", file,
			    HOST_TENANT_MAX, slug);
		custom_host(s, names[n], sizeof(names[n]));
		p[n] = names[n];
		n++;
	}
	if (ferror(f))
		die(EX_FAIL, "%s: %s", file, strerror(errno));
	if (f != stdin)
		fclose(f);
	if (n == 0)
		die(EX_INVALID, "%s: no hostnames", file);
	rc = registry_hosts_add(reg, slug, p, n, active, actor);
	if (rc == REG_NOTFOUND)
		die(EX_NOTFOUND, "no tenant \"%s\"", slug);
	if (rc != REG_OK)
		die(reg_exit(rc), "nothing added: %s", registry_errmsg(reg));
	bump_gen(&t->t_id, 1);
	printf("added %zu hostnames to %s%s\n", n, slug, active ? ", active" :
	    " as pending: none is served until activated");
	free(p);
	free(names);
	return EX_OK_;
}

static int
cmd_hostname(int argc, char **argv)
{
	struct tenant	 t;
	char		 host[HOST_NAME_MAX_LEN + 1];
	json_t		*arr;
	int		 rc, active = 0, n = 0;

	if (argc < 1)
		usage();
	open_registry();
	if (strcmp(argv[0], "list") == 0) {
		if (argc > 2)
			usage();
		t.t_id = 0;
		if (argc == 2)
			get_tenant(argv[1], &t);
		if (json_out) {
			arr = json_array();
			registry_hosts(reg, t.t_id, 0, host_json_cb, arr);
			json_print(arr);
		} else {
			registry_hosts(reg, t.t_id, 0, host_text_cb, &n);
			if (n == 0)
				printf("no custom hostnames\n");
		}
		return EX_OK_;
	}
	if (strcmp(argv[0], "add") == 0 && argc >= 4 &&
	    strcmp(argv[2], "--from") == 0) {
		if (argc == 5 && strcmp(argv[4], "--active") == 0)
			active = 1;
		else if (argc != 4)
			usage();
		get_tenant(argv[1], &t);
		if (t.t_status == TENANT_DELETED)
			die(EX_STATE, "tenant \"%s\" is deleted", argv[1]);
		return hostname_add_file(&t, argv[3], active);
	}
	if (argc == 4 && strcmp(argv[0], "add") == 0 &&
	    strcmp(argv[3], "--active") == 0)
		active = 1;
	else if (argc != 3)
		usage();
	custom_host(argv[2], host, sizeof(host));
	get_tenant(argv[1], &t);
	if (strcmp(argv[0], "add") == 0) {
		if (t.t_status == TENANT_DELETED)
			die(EX_STATE, "tenant \"%s\" is deleted", argv[1]);
		rc = registry_host_add(reg, argv[1], host, active, actor);
		if (rc == REG_EXISTS)
			die(EX_CONFLICT, "%s is already registered", host);
		if (rc == REG_FULL || rc == REG_INVALID)
			die(reg_exit(rc), "%s not added: %s", host,
			    registry_errmsg(reg));
	} else if (strcmp(argv[0], "activate") == 0)
		rc = registry_host_activate(reg, argv[1], host, actor);
	else if (strcmp(argv[0], "remove") == 0)
		rc = registry_host_remove(reg, argv[1], host, actor);
	else
		usage();
	if (rc == REG_NOTFOUND)
		die(EX_NOTFOUND, "%s is not a hostname of %s", host, argv[1]);
	if (rc != REG_OK)
		die(reg_exit(rc), "%s: %s", host, registry_errmsg(reg));
	bump_gen(&t.t_id, 1);
	if (strcmp(argv[0], "add") == 0 && !active)
		printf("added %s to %s as pending: it is not served until you "
		    "have verified the customer controls it and run\n"
		    "  tenantctl hostname activate %s %s\n", host, argv[1],
		    argv[1], host);
	else
		printf("%s %s for %s\n", argv[0][0] == 'r' ? "removed" :
		    "activated", host, argv[1]);
	return EX_OK_;
}

static int
audit_cb(int64_t ts, const char *who, const char *action, const char *subj,
    const char *detail, void *arg)
{
	char		 when[32];
	struct tm	 tm;
	time_t		 t = (time_t)ts;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%s  %-20s %-24s %-30s %s\n", when, action, subj, detail, who);
	return 0;
}

static int
cmd_audit(int argc, char **argv)
{
	if (argc > 1)
		usage();
	open_registry();
	if (registry_audit_list(reg, argc ? argv[0] : NULL, audit_cb, NULL) !=
	    REG_OK)
		die(EX_FAIL, "%s", registry_errmsg(reg));
	return EX_OK_;
}

static const struct {
	const char	*name;
	int		(*fn)(int, char **);
} cmds[] = {
	{ "init", cmd_init },
	{ "create", cmd_create },
	{ "list", cmd_list },
	{ "show", cmd_show },
	{ "suspend", cmd_suspend },
	{ "resume", cmd_resume },
	{ "delete", cmd_delete },
	{ "hostname", cmd_hostname },
	{ "audit", cmd_audit },
	{ "export", cmd_export },
	{ "import", cmd_import },
	{ "key", cmd_key },
	{ "credits", cmd_credits },
	{ "limits", cmd_limits },
	{ "status", cmd_daemon_status },
	{ "top", cmd_top },
	{ "restart", cmd_restart },
	{ "drain", cmd_drain },
	{ "reload", cmd_reload },
	{ "metrics", cmd_metrics },
};

int
main(int argc, char *argv[])
{
	const char	*cfile = TENANTD_CONFIG;
	char		 err[512];
	char		*args[16];
	int		 i, n = 0, explicit = 0, rc;
	size_t		 c;

	/* Options may come anywhere: tenantctl list --json, -c before. */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			cfile = argv[++i];
			explicit = 1;
		} else if (strcmp(argv[i], "--json") == 0)
			json_out = 1;
		else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0)
			usage();
		else if (n < 16)
			args[n++] = argv[i];
		else
			usage();
	}
	if (n == 0)
		usage();
	for (c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++)
		if (strcmp(cmds[c].name, args[0]) == 0)
			break;
	if (c == sizeof(cmds) / sizeof(cmds[0]))
		usage();
	/*
	 * Everything but the commands for the running daemon needs root: the
	 * registry and the tenant directories are root's. Those commands need
	 * the admin socket, which root or the [admin] group may use.
	 */
	if (geteuid() != 0 && cmds[c].fn != cmd_daemon_status &&
	    cmds[c].fn != cmd_top && cmds[c].fn != cmd_restart &&
	    cmds[c].fn != cmd_drain && cmds[c].fn != cmd_reload &&
	    cmds[c].fn != cmd_metrics)
		die(EX_FAIL, "must be run as root (the registry and tenant "
		    "directories are root's)");
	if (sodium_init() == -1)
		die(EX_FAIL, "sodium_init failed");
	umask(077);
	/* init may create the config; everything else needs a valid one. */
	if (config_load(&conf, cfile, !explicit || c == 0, err, sizeof(err)) ==
	    -1)
		die(EX_FAIL, "config: %s", err);
	if (c == 0 && conf.c_file[0] == '\0')
		snprintf(conf.c_file, sizeof(conf.c_file), "%s", cfile);
	actor_init();
	rc = cmds[c].fn(n - 1, args + 1);
	registry_close(reg);
	return rc;
}
