/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Config loading with inih. A missing file is fine only when the caller
 * says so (built-in defaults); an unknown section or key, a duplicate, or a
 * value out of range is an error naming the file and the line.
 */
#include <sys/stat.h>

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "config-paths.h"
#include "config.h"

enum conf_type { CT_STR, CT_UINT, CT_MODE, CT_MS, CT_BOOL };

struct conf_key {
	const char	*k_section;
	const char	*k_name;
	enum conf_type	 k_type;
	int		 k_live;	/* a reload applies it (else: restart) */
	size_t		 k_off;
	size_t		 k_size;	/* CT_STR: buffer size */
	unsigned long	 k_min;
	unsigned long	 k_max;
	const char	*k_default;
	const char	*k_doc;
};

#define S(sec, name, field, def, doc) \
	{ sec, name, CT_STR, 0, offsetof(struct config, field), \
	  sizeof(((struct config *)0)->field), 0, 0, def, doc }
#define U(sec, name, type, field, min, max, def, doc) \
	{ sec, name, type, 0, offsetof(struct config, field), 0, min, max, def, \
	  doc }
/* Keys a reload (SIGHUP) applies to the running daemon. */
#define LS(sec, name, field, def, doc) \
	{ sec, name, CT_STR, 1, offsetof(struct config, field), \
	  sizeof(((struct config *)0)->field), 0, 0, def, doc }
#define LU(sec, name, type, field, min, max, def, doc) \
	{ sec, name, type, 1, offsetof(struct config, field), 0, min, max, def, \
	  doc }

static const struct conf_key conf_keys[] = {
	S("paths", "state_dir", c_state_dir, TENANTD_STATE_DIR,
	    "Registry, generation file and tenants/ live here."),
	S("paths", "run_dir", c_run_dir, TENANTD_RUN_DIR,
	    "Runtime directory for the proxy socket."),
	LS("paths", "worker", c_worker, TENANTD_WORKER_PATH,
	    "The tenantd-worker binary exec'd for every worker."),
	LS("paths", "runner", c_runner, TENANTD_RUNNER_PATH,
	    "The tenantd-run binary that starts tenant code in its sandbox."),
	S("paths", "front", c_front, TENANTD_FRONT_PATH,
	    "The tenantd-front binary that serves [admin] http_listen."),
	LS("paths", "policy_dir", c_policy_dir, TENANTD_POLICY_DIR,
	    "Seccomp allowlist and rlimit files (tenantd-policy(5))."),
	S("hosts", "suffix", c_suffix, "localhost",
	    "Tenants are served at <slug>.<suffix>."),
	S("hosts", "admin", c_admin_host, "admin.localhost",
	    "Admin host: never served on the proxy socket (421). Empty: none."),
	S("proxy", "socket", c_socket, "",
	    "Proxy-facing Unix socket. Empty: <run_dir>/http.sock."),
	S("proxy", "socket_group", c_socket_group, "",
	    "Group owning the proxy socket (the proxy's group). Empty: root."),
	U("proxy", "socket_mode", CT_MODE, c_socket_mode, 0, 0777, "0660",
	    "Mode of the proxy socket."),
	U("proxy", "head_max", CT_UINT, c_head_max, 1024, 16000, "8192",
	    "Largest request head in bytes; larger gets 431."),
	U("proxy", "target_max", CT_UINT, c_target_max, 256, 15000, "4096",
	    "Longest request target in bytes; longer gets 414."),
	LU("proxy", "header_timeout", CT_MS, c_header_timeout_ms, 100, 600000,
	    "10s", "Time allowed to send a complete request head."),
	LU("proxy", "first_byte_timeout", CT_MS, c_first_byte_timeout_ms, 100,
	    600000, "2s", "A new connection that sends no byte within this is "
	    "closed."),
	LU("proxy", "max_reading", CT_UINT, c_max_reading, 1, 100000, "1024",
	    "Connections whose head is still being read; past this the oldest "
	    "of them is closed for a new one."),
	LU("proxy", "max_silent", CT_UINT, c_max_silent, 1, 100000, "256",
	    "Connections that have sent nothing yet; past this the oldest of "
	    "them is closed for a new one."),
	LU("workers", "spares", CT_UINT, c_spares, 0, 64, "2",
	    "Exec'd, unbound workers kept ready for a cold tenant."),
	LU("workers", "max_workers", CT_UINT, c_max_workers, 1, 100000, "1000",
	    "Live workers in all, spares included."),
	LU("workers", "per_tenant", CT_UINT, c_workers_per_tenant, 1, 256, "4",
	    "Workers one tenant may have."),
	U("workers", "conns_per_worker", CT_UINT, c_conns_per_worker, 1, 1024,
	    "64", "Connections one worker serves at once."),
	LU("workers", "queue_max", CT_UINT, c_queue_max, 1, 4096, "64",
	    "Connections one tenant may have waiting for a worker; more get 503."),
	LU("workers", "start_timeout", CT_MS, c_start_timeout_ms, 100, 60000,
	    "5s", "A worker not ready within this is killed (a spawn failure)."),
	LU("workers", "idle_timeout", CT_MS, c_idle_timeout_ms, 1000, 86400000,
	    "60s", "A worker with no connection for this long is retired."),
	LU("workers", "keepalive_timeout", CT_MS, c_keepalive_timeout_ms, 100,
	    3600000, "15s", "An idle keep-alive connection is closed after this."),
	LU("workers", "sandbox_idle", CT_MS, c_sandbox_idle_ms, 1000, 86400000,
	    "600s", "A tenant's kept sandbox (and its /tmp) unused this long is "
	    "dropped."),
	U("workers", "storage_scan", CT_MS, c_storage_scan_ms, 1000, 86400000,
	    "30s", "How often a busy tenant's directory is measured for its "
	    "storage quota."),
	LU("workers", "max_requests", CT_UINT, c_max_requests, 0, 4000000000U,
	    "0", "Retire a worker after this many requests (0: never)."),
	LU("workers", "backoff_min", CT_MS, c_backoff_min_ms, 100, 600000, "1s",
	    "Least time between two starts of one tenant's workers."),
	LU("workers", "backoff_max", CT_MS, c_backoff_max_ms, 100, 3600000,
	    "60s", "Longest delay after repeated crashes."),
	LU("workers", "crash_window", CT_MS, c_crash_window_ms, 100, 3600000,
	    "10s", "A worker dying abnormally younger than this counts as a crash."),
	LU("workers", "drain_timeout", CT_MS, c_drain_timeout_ms, 100, 600000,
	    "10s", "On stop, workers get this long to finish before SIGKILL."),
	S("admin", "socket", c_admin_socket, "",
	    "Admin socket for tenantctl (status, restart, drain, reload, "
	    "metrics). Empty: <run_dir>/admin.sock."),
	S("admin", "group", c_admin_group, "",
	    "Group allowed on the admin socket besides root. Empty: root only."),
	S("admin", "http_listen", c_http_listen, "",
	    "host:port on loopback serving /metrics (Prometheus) and /ask "
	    "(Caddy on-demand TLS). Empty: off."),
	S("admin", "metrics_token_file", c_metrics_token_file, "",
	    "File (root's, mode 0400 or 0600) holding a bearer token that "
	    "/metrics then requires. Empty: no token."),
	U("admin", "ask_rate", CT_UINT, c_ask_rate, 1, 100000, "20",
	    "/ask requests answered per second (burst: as many); past it, 429."),
	S("admin", "tenant_commands", c_tenant_commands, "group",
	    "Who may restart or drain a tenant: \"group\" (root and the "
	    "[admin] group) or \"root\" (root only)."),
	S("front", "user", c_front_user, "tenantd-front",
	    "System user the front runs as; never root, never a tenant's."),
	LU("tenants", "uid_min", CT_UINT, c_uid_min, 1000, 4000000000U, "200000",
	    "First uid/gid handed to a tenant."),
	LU("tenants", "uid_max", CT_UINT, c_uid_max, 1000, 4000000000U, "299999",
	    "Last uid/gid handed to a tenant."),
	LU("log", "verbose", CT_BOOL, c_verbose, 0, 1, "false",
	    "Log debug messages."),
};
#define NKEYS	(sizeof(conf_keys) / sizeof(conf_keys[0]))

struct conf_load {
	struct config	*cl_conf;
	char		 cl_seen[NKEYS];
	char		*cl_err;
	size_t		 cl_errsz;
	FILE		*cl_file;
	int		 cl_line;	/* line the reader returned last */
	int		 cl_errline;	/* line of the first handler error */
};

/*
 * Debian's inih goes on after an error and reports the first error's line;
 * reading the lines ourselves tells the handler where it is, so the message
 * kept is the one of that first line.
 */
static char *
conf_reader(char *str, int num, void *arg)
{
	struct conf_load	*cl = arg;
	char			*r;

	if ((r = fgets(str, num, cl->cl_file)) != NULL)
		cl->cl_line++;
	return r;
}

static int
conf_parse_ms(const char *v, unsigned long *out)
{
	char		*ep;
	unsigned long	 n, mul = 1000;
	double		 d;

	/* Plain decimal only: strtod would also take "0x10" and "1e3". */
	if (v[0] < '0' || v[0] > '9' || strchr(v, '.') != strrchr(v, '.'))
		return -1;
	errno = 0;
	d = strtod(v, &ep);
	if (errno != 0 || ep != v + strspn(v, "0123456789.") || d < 0)
		return -1;
	if (strcmp(ep, "ms") == 0)
		mul = 1;
	else if (strcmp(ep, "s") == 0 || *ep == '\0')
		mul = 1000;
	else if (strcmp(ep, "min") == 0)
		mul = 60000;
	else
		return -1;
	if (d * (double)mul > 4e9)
		return -1;
	n = (unsigned long)llround(d * (double)mul);
	*out = n;
	return 0;
}

static int
conf_set(struct config *c, const struct conf_key *k, const char *v,
    char *err, size_t errsz)
{
	char		*p = (char *)c + k->k_off, *ep;
	unsigned long	 n = 0;

	switch (k->k_type) {
	case CT_STR:
		if (strlen(v) >= k->k_size) {
			snprintf(err, errsz, "[%s] %s: longer than %zu bytes",
			    k->k_section, k->k_name, k->k_size - 1);
			return -1;
		}
		strcpy(p, v);
		return 0;
	case CT_BOOL:
		if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 ||
		    strcmp(v, "1") == 0)
			n = 1;
		else if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 ||
		    strcmp(v, "0") == 0)
			n = 0;
		else {
			snprintf(err, errsz, "[%s] %s: expected true or false",
			    k->k_section, k->k_name);
			return -1;
		}
		break;
	case CT_MS:
		if (conf_parse_ms(v, &n) == -1) {
			snprintf(err, errsz, "[%s] %s: expected a duration "
			    "such as 500ms, 10s or 2min", k->k_section,
			    k->k_name);
			return -1;
		}
		break;
	case CT_UINT:
	case CT_MODE:
		errno = 0;
		n = strtoul(v, &ep, k->k_type == CT_MODE ? 8 : 10);
		if (errno != 0 || ep == v || *ep != '\0' || v[0] < '0' ||
		    v[0] > '9') {
			snprintf(err, errsz, "[%s] %s: expected %s",
			    k->k_section, k->k_name, k->k_type == CT_MODE ?
			    "an octal mode" : "a number");
			return -1;
		}
		break;
	}
	if (n < k->k_min || n > k->k_max) {
		if (k->k_type == CT_MS)
			snprintf(err, errsz, "[%s] %s: %s is out of range "
			    "(%lums..%lums)", k->k_section, k->k_name, v,
			    k->k_min, k->k_max);
		else
			snprintf(err, errsz, "[%s] %s: %s is out of range "
			    "(%lu..%lu)", k->k_section, k->k_name, v, k->k_min,
			    k->k_max);
		return -1;
	}
	*(unsigned int *)(void *)p = (unsigned int)n;
	return 0;
}

void
config_defaults(struct config *c)
{
	char	 err[128];
	size_t	 i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < NKEYS; i++)
		if (conf_set(c, &conf_keys[i], conf_keys[i].k_default, err,
		    sizeof(err)) == -1)
			abort();	/* the table itself is wrong */
}

/*
 * inih stops at the first handler error and returns that line's number,
 * which config_load() puts in front of the message left here.
 */
static int
conf_handler(void *arg, const char *section, const char *name,
    const char *value)
{
	struct conf_load	*cl = arg;
	size_t			 i, n;
	char			 err[256];

	if (name == NULL)	/* a bare [section]: checked with its keys */
		return 1;
	if (cl->cl_errline != 0)
		return 0;	/* only the first error is reported */
	for (i = 0; i < NKEYS; i++) {
		if (strcmp(conf_keys[i].k_section, section) != 0 ||
		    strcmp(conf_keys[i].k_name, name) != 0)
			continue;
		if (cl->cl_seen[i]++) {
			snprintf(cl->cl_err, cl->cl_errsz,
			    "[%s] %s is set twice", section, name);
			cl->cl_errline = cl->cl_line;
			return 0;
		}
		if (conf_set(cl->cl_conf, &conf_keys[i], value, err,
		    sizeof(err)) == -1) {
			snprintf(cl->cl_err, cl->cl_errsz, "%s", err);
			cl->cl_errline = cl->cl_line;
			return 0;
		}
		return 1;
	}
	n = 0;
	for (i = 0; i < NKEYS; i++)
		if (strcmp(conf_keys[i].k_section, section) == 0)
			n++;
	if (n == 0)
		snprintf(cl->cl_err, cl->cl_errsz, "unknown section [%s]",
		    section);
	else
		snprintf(cl->cl_err, cl->cl_errsz, "unknown key \"%s\" in [%s]",
		    name, section);
	cl->cl_errline = cl->cl_line;
	return 0;
}

/*
 * "127.0.0.1:9465" or "[::1]:9465": loopback only, since what listens
 * there (metrics, Caddy's ask) is for the host itself. Fills the address
 * text and port when asked.
 */
int
config_hostport(const char *s, char *addr, unsigned int *port)
{
	const char	*colon, *host = s;
	char		 buf[64], *ep;
	unsigned long	 p;
	size_t		 hl;

	if ((colon = strrchr(s, ':')) == NULL)
		return -1;
	hl = (size_t)(colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		host = s + 1;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(buf))
		return -1;
	memcpy(buf, host, hl);
	buf[hl] = '\0';
	if (strcmp(buf, "::1") != 0 && strncmp(buf, "127.", 4) != 0)
		return -1;
	errno = 0;
	p = strtoul(colon + 1, &ep, 10);
	if (errno != 0 || *ep != '\0' || colon[1] < '1' || colon[1] > '9' ||
	    p > 65535)
		return -1;
	if (addr != NULL)
		snprintf(addr, sizeof(buf), "%s", buf);
	if (port != NULL)
		*port = (unsigned int)p;
	return 0;
}

/* Checks across keys, and the values derived from them. */
static int
config_finish(struct config *c, char *err, size_t errsz)
{
	int	 n;

	if (c->c_state_dir[0] != '/' || c->c_run_dir[0] != '/' ||
	    c->c_worker[0] != '/' || c->c_runner[0] != '/' ||
	    c->c_front[0] != '/' ||
	    c->c_policy_dir[0] != '/') {
		snprintf(err, errsz, "[paths]: every path must be absolute");
		return -1;
	}
	if (c->c_socket[0] == '\0' || c->c_socket_derived) {
		c->c_socket_derived = 1;
		n = snprintf(c->c_socket, sizeof(c->c_socket), "%s/http.sock",
		    c->c_run_dir);
		if (n < 0 || (size_t)n >= sizeof(c->c_socket)) {
			snprintf(err, errsz, "[paths] run_dir: too long");
			return -1;
		}
	}
	if (c->c_socket[0] != '/' || strlen(c->c_socket) > CONF_SUN_MAX) {
		snprintf(err, errsz, "[proxy] socket: must be an absolute path "
		    "of at most %d bytes", CONF_SUN_MAX);
		return -1;
	}
	if (c->c_admin_socket[0] == '\0' || c->c_admin_socket_derived) {
		c->c_admin_socket_derived = 1;
		n = snprintf(c->c_admin_socket, sizeof(c->c_admin_socket),
		    "%s/admin.sock", c->c_run_dir);
		if (n < 0 || (size_t)n >= sizeof(c->c_admin_socket)) {
			snprintf(err, errsz, "[paths] run_dir: too long");
			return -1;
		}
	}
	if (c->c_admin_socket[0] != '/' ||
	    strlen(c->c_admin_socket) > CONF_SUN_MAX) {
		snprintf(err, errsz, "[admin] socket: must be an absolute path "
		    "of at most %d bytes", CONF_SUN_MAX);
		return -1;
	}
	if (c->c_http_listen[0] != '\0' && config_hostport(c->c_http_listen,
	    NULL, NULL) == -1) {
		snprintf(err, errsz, "[admin] http_listen: expected a loopback "
		    "address and port such as 127.0.0.1:9465 or [::1]:9465");
		return -1;
	}
	if (strcmp(c->c_tenant_commands, "group") != 0 &&
	    strcmp(c->c_tenant_commands, "root") != 0) {
		snprintf(err, errsz, "[admin] tenant_commands: expected "
		    "\"group\" or \"root\"");
		return -1;
	}
	if (c->c_metrics_token_file[0] != '\0' &&
	    c->c_metrics_token_file[0] != '/') {
		snprintf(err, errsz, "[admin] metrics_token_file: must be an "
		    "absolute path");
		return -1;
	}
	if (host_conf_init(&c->c_hosts, c->c_suffix, c->c_admin_host) == -1) {
		snprintf(err, errsz, "[hosts]: suffix and admin must be "
		    "host names without port (got \"%s\", \"%s\")",
		    c->c_suffix, c->c_admin_host);
		return -1;
	}
	if (c->c_front_user[0] == '\0') {
		snprintf(err, errsz, "[front] user: must name a system user");
		return -1;
	}
	if (c->c_uid_min > c->c_uid_max) {
		snprintf(err, errsz, "[tenants]: uid_min is above uid_max");
		return -1;
	}
	if (c->c_backoff_min_ms > c->c_backoff_max_ms) {
		snprintf(err, errsz, "[workers]: backoff_min is above "
		    "backoff_max");
		return -1;
	}
	if (c->c_target_max >= c->c_head_max) {
		snprintf(err, errsz, "[proxy]: target_max must be below "
		    "head_max");
		return -1;
	}
	return 0;
}

/*
 * Load path over the defaults. With optional set, a file that does not
 * exist leaves the built-in defaults; any other problem is an error.
 */
int
config_load(struct config *c, const char *path, int optional, char *err,
    size_t errsz)
{
	struct conf_load	 cl;
	FILE			*f;
	int			 r;

	config_defaults(c);
	snprintf(c->c_file, sizeof(c->c_file), "%s", path);
	if ((f = fopen(path, "re")) == NULL) {
		if (errno == ENOENT && optional) {
			c->c_file[0] = '\0';
			return config_finish(c, err, errsz);
		}
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	memset(&cl, 0, sizeof(cl));
	cl.cl_conf = c;
	cl.cl_err = err;
	cl.cl_errsz = errsz;
	err[0] = '\0';
	cl.cl_file = f;
	r = ini_parse_stream(conf_reader, &cl, conf_handler, &cl);
	fclose(f);
	if (r != 0) {
		char	 tmp[512];

		if (r < 0)
			snprintf(tmp, sizeof(tmp), "%s: cannot read", path);
		else
			/* inih's line is the first error: ours, or its syntax. */
			snprintf(tmp, sizeof(tmp), "%s: line %d: %s", path, r,
			    r == cl.cl_errline ? err : "syntax error");
		snprintf(err, errsz, "%s", tmp);
		return -1;
	}
	if (config_finish(c, err, errsz) == -1) {
		char	 tmp[512];

		snprintf(tmp, sizeof(tmp), "%s: %s", path, err);
		snprintf(err, errsz, "%s", tmp);
		return -1;
	}
	return 0;
}

/* A file under the state directory: registry.db, tenants, ... */
int
config_path(const struct config *c, const char *name, char *buf, size_t sz)
{
	int	 n;

	n = snprintf(buf, sz, "%s/%s", c->c_state_dir, name);
	if (n < 0 || (size_t)n >= sz) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* A key's value as the file would spell it. */
static void
conf_key_format(const struct conf_key *k, const char *p, char *buf, size_t sz)
{
	unsigned int	 v;

	v = k->k_type == CT_STR ? 0 : *(const unsigned int *)(const void *)p;
	switch (k->k_type) {
	case CT_STR:
		snprintf(buf, sz, "%s", p);
		break;
	case CT_UINT:
		snprintf(buf, sz, "%u", v);
		break;
	case CT_MODE:
		snprintf(buf, sz, "%04o", v);
		break;
	case CT_MS:
		if (v % 1000 == 0)
			snprintf(buf, sz, "%us", v / 1000);
		else
			snprintf(buf, sz, "%ums", v);
		break;
	case CT_BOOL:
		snprintf(buf, sz, "%s", v ? "true" : "false");
		break;
	}
}

/*
 * Apply a freshly loaded config to the running one: keys marked live are
 * copied; every key that differs is reported through seen(), with its
 * old and new values and whether it applied: the others take a restart
 * (sockets, paths, limits sized at start), and an operator who reloads
 * must be told (docs/operations.md).
 */
void
config_reload(struct config *cur, const struct config *nc,
    void (*seen)(const char *, const char *, int, const char *,
    const char *, void *), void *arg)
{
	char	 was[PATH_MAX], now[PATH_MAX];
	size_t	 i, sz;

	for (i = 0; i < NKEYS; i++) {
		const struct conf_key	*k = &conf_keys[i];
		char			*dst = (char *)cur + k->k_off;
		const char		*src = (const char *)nc + k->k_off;

		sz = k->k_type == CT_STR ? k->k_size : sizeof(unsigned int);
		if (memcmp(dst, src, sz) == 0)
			continue;
		/* Formatted before the copy: the old value is still there. */
		conf_key_format(k, dst, was, sizeof(was));
		conf_key_format(k, src, now, sizeof(now));
		if (k->k_live)
			memcpy(dst, src, sz);
		seen(k->k_section, k->k_name, k->k_live, was, now, arg);
	}
}

/* Print every key with its current value and its documentation. */
void
config_dump(FILE *f, const struct config *c)
{
	const char	*sec = "";
	char		 val[PATH_MAX];
	size_t		 i;

	fprintf(f, "# tenantd.conf: every key, its value and what it does.\n"
	    "# Durations take ms, s or min; a bare number is seconds.\n");
	for (i = 0; i < NKEYS; i++) {
		const struct conf_key	*k = &conf_keys[i];
		const char		*p = (const char *)c + k->k_off;

		if (strcmp(sec, k->k_section) != 0) {
			sec = k->k_section;
			fprintf(f, "\n[%s]\n", sec);
		}
		fprintf(f, "# %s (default: %s%s)\n", k->k_doc,
		    k->k_default[0] ? k->k_default : "empty",
		    k->k_live ? "; applied on reload" : "");
		/* A derived socket path stays derived in the file. */
		if ((p == c->c_socket && c->c_socket_derived) ||
		    (p == c->c_admin_socket && c->c_admin_socket_derived))
			val[0] = '\0';
		else
			conf_key_format(k, p, val, sizeof(val));
		fprintf(f, "%s = %s\n", k->k_name, val);
	}
}

/*
 * The config file names the policy, the state and the binaries tenantd
 * runs as root: whoever may write it is root. It must be root's and
 * writable by no one else (tenantd -n says so; docs/operations.md).
 */
int
config_file_check(const struct config *c, char *err, size_t errsz)
{
	struct stat	 st;

	if (c->c_file[0] == '\0')
		return 0;
	if (stat(c->c_file, &st) == -1) {
		snprintf(err, errsz, "%s: %s", c->c_file, strerror(errno));
		return -1;
	}
	if (st.st_uid != 0 || (st.st_mode & 022) != 0) {
		snprintf(err, errsz, "%s: owner uid %u, mode %04o: it must be "
		    "root's and writable by no one else", c->c_file,
		    (unsigned int)st.st_uid, (unsigned int)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}
