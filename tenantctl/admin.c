/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * tenantctl commands for the running daemon, over its admin socket:
 * status, top, restart, drain, reload, metrics. One request line per
 * connection; the daemon answers JSON (or metrics text) and closes.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "registry.h"
#include "tenantctl.h"

#define ANSWER_MAX	(64 << 20)

static json_int_t	tenant_conns(json_t *);
static void		json_array_sort_rate(json_t *);

/* Send one request; return the whole answer (malloc'd, NUL-ended). */
static char *
admin_ask(const char *req)
{
	struct sockaddr_un	 sun;
	char			*buf = NULL, *nb;
	size_t			 len = 0, cap = 0;
	ssize_t			 n;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	/* config_finish() bounded it to sun_path. */
	memcpy(sun.sun_path, conf.c_admin_socket,
	    strlen(conf.c_admin_socket) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die(EX_FAIL, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == EACCES || errno == EPERM)
			die(EX_FAIL, "%s: %s (root or the [admin] group)",
			    conf.c_admin_socket, strerror(errno));
		die(EX_NODAEMON, "tenantd is not running (%s: %s)",
		    conf.c_admin_socket, strerror(errno));
	}
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		die(EX_FAIL, "%s: %s", conf.c_admin_socket, strerror(errno));
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > ANSWER_MAX || (nb = realloc(buf, cap)) == NULL)
				die(EX_FAIL, "answer too large");
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (buf == NULL || len == 0)
		die(EX_FAIL, "tenantd closed the admin connection without an "
		    "answer");
	buf[len] = '\0';
	return buf;
}

static json_t *
admin_json(const char *req)
{
	json_error_t	 je;
	json_t		*j;
	char		*s = admin_ask(req);

	if ((j = json_loads(s, 0, &je)) == NULL)
		die(EX_FAIL, "unreadable answer from tenantd: %s", je.text);
	free(s);
	if (json_is_string(json_object_get(j, "error")))
		die(EX_FAIL, "tenantd: %s",
		    json_string_value(json_object_get(j, "error")));
	return j;
}

/*
 * The slug must be a tenant (not deleted). Root asks the registry; a
 * member of the [admin] group cannot read it, and the daemon then answers
 * for a tenant it does not know with 0 workers.
 */
static void
check_tenant(const char *slug)
{
	struct tenant	 t;
	int		 rc;

	if (geteuid() != 0)
		return;
	open_registry();
	if ((rc = registry_tenant_get(reg, slug, &t)) == REG_NOTFOUND ||
	    (rc == REG_OK && t.t_status == TENANT_DELETED))
		die(EX_NOTFOUND, "no tenant \"%s\"", slug);
	if (rc != REG_OK)
		die(EX_FAIL, "%s", registry_errmsg(reg));
}

static json_int_t
jint(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static const char *
jstr(json_t *o, const char *k)
{
	const char	*s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : "?";
}

static void
human_age(double s, char *buf, size_t sz)
{
	if (s < 120)
		snprintf(buf, sz, "%.0fs", s);
	else if (s < 7200)
		snprintf(buf, sz, "%.0fm", s / 60);
	else if (s < 172800)
		snprintf(buf, sz, "%.0fh", s / 3600);
	else
		snprintf(buf, sz, "%.0fd", s / 86400);
}

static void
print_tenant_row(json_t *t, double rate)
{
	json_t		*le = json_object_get(t, "last_exit");
	char		 ago[16], exit_s[128] = "-";
	const char	*st = json_string_value(json_object_get(t, "status"));

	/* Active in the registry, but refused until its backoff ends. */
	if (json_object_get(t, "backoff_seconds") != NULL)
		st = "backoff";
	if (le != NULL) {
		human_age(json_real_value(json_object_get(le, "ago")), ago,
		    sizeof(ago));
		snprintf(exit_s, sizeof(exit_s), "%s ago: %s", ago,
		    json_string_value(json_object_get(le, "how")));
	}
	if (rate >= 0)
		printf("%-20s %-9s %7zu %6lld %9.1f %9lld %7lld %7lld  %s\n",
		    json_string_value(json_object_get(t, "slug")), st,
		    json_array_size(json_object_get(t, "workers")),
		    (long long)tenant_conns(t), rate,
		    (long long)jint(t, "requests"), (long long)jint(t, "errors"),
		    (long long)jint(t, "crashes"), exit_s);
	else
		printf("%-20s %-9s %7zu %6lld %9lld %7lld %7lld  %s\n",
		    json_string_value(json_object_get(t, "slug")), st,
		    json_array_size(json_object_get(t, "workers")),
		    (long long)tenant_conns(t), (long long)jint(t, "requests"),
		    (long long)jint(t, "errors"), (long long)jint(t, "crashes"),
		    exit_s);
}

static json_int_t
tenant_conns(json_t *t)
{
	json_t		*w;
	size_t		 i;
	json_int_t	 n = 0;

	json_array_foreach(json_object_get(t, "workers"), i, w)
		n += jint(w, "connections");
	return n;
}

static void
print_daemon(json_t *d)
{
	char	 up[16];

	human_age(json_real_value(json_object_get(d, "uptime")), up,
	    sizeof(up));
	printf("tenantd pid %lld, up %s, registry generation %lld\n"
	    "workers %lld (+%lld spare); connections: %lld held, %lld being "
	    "read, %lld waiting; %lld handed off, %lld handed back\n",
	    (long long)jint(d, "pid"), up, (long long)jint(d, "generation"),
	    (long long)jint(d, "workers"), (long long)jint(d, "spares"),
	    (long long)jint(d, "connections_held"),
	    (long long)jint(d, "connections_reading"),
	    (long long)jint(d, "queued"), (long long)jint(d, "handoffs"),
	    (long long)jint(d, "handbacks"));
}

static void
print_one(json_t *t)
{
	json_t		*w, *v;
	const char	*k, *why;
	size_t		 i;
	char		 age[16];

	printf("tenant %s: %s\n", json_string_value(json_object_get(t,
	    "slug")), json_string_value(json_object_get(t, "status")));
	printf("requests %lld, errors (5xx) %lld, bytes %lld, worker starts "
	    "%lld, crashes %lld\n", (long long)jint(t, "requests"),
	    (long long)jint(t, "errors"), (long long)jint(t, "bytes"),
	    (long long)jint(t, "spawns"), (long long)jint(t, "crashes"));
	printf("by status:");
	json_object_foreach(json_object_get(t, "by_status"), k, v)
		printf(" %s=%lld", k, (long long)json_integer_value(v));
	printf("\n");
	if ((v = json_object_get(t, "backoff_seconds")) != NULL) {
		if ((why = json_string_value(json_object_get(t,
		    "backoff_reason"))) == NULL)
			why = "unknown";
		printf("backing off: next start in %.1fs after %lld failures "
		    "in a row, the last: %s (\"tenantctl restart\" clears "
		    "it)\n", json_real_value(v),
		    (long long)jint(t, "failures_in_a_row"), why);
	}
	if ((v = json_object_get(t, "last_exit")) != NULL) {
		human_age(json_real_value(json_object_get(v, "ago")), age,
		    sizeof(age));
		printf("last worker exit: %s ago, %s\n", age,
		    json_string_value(json_object_get(v, "how")));
	}
	printf("%-8s %-9s %6s %9s %8s %10s %9s\n", "PID", "STATE", "CONNS",
	    "REQUESTS", "AGE", "PRIVATE", "RSS");
	json_array_foreach(json_object_get(t, "workers"), i, w) {
		human_age(json_real_value(json_object_get(w, "age")), age,
		    sizeof(age));
		printf("%-8lld %-9s %6lld %9lld %8s %7lld kB %6lld kB\n",
		    (long long)jint(w, "pid"),
		    json_string_value(json_object_get(w, "state")),
		    (long long)jint(w, "connections"),
		    (long long)jint(w, "requests"), age,
		    (long long)jint(w, "private_kb"),
		    (long long)jint(w, "rss_kb"));
	}
}

int
cmd_daemon_status(int argc, char **argv)
{
	json_t	*j, *t;
	size_t	 i;
	char	 req[128];

	if (argc > 1)
		usage();
	if (argc == 1) {
		check_tenant(argv[0]);
		snprintf(req, sizeof(req), "status %s\n", argv[0]);
	} else
		snprintf(req, sizeof(req), "status\n");
	j = admin_json(req);
	if (json_out) {
		char	*s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);

		printf("%s\n", s);
		free(s);
	} else if (argc == 1) {
		if (json_object_get(j, "seen") != NULL)
			printf("tenant %s: no request since tenantd started\n",
			    argv[0]);
		else
			print_one(j);
	} else {
		print_daemon(j);
		printf("\n%-20s %-9s %7s %6s %9s %7s %7s  %s\n", "TENANT",
		    "STATUS", "WORKERS", "CONNS", "REQUESTS", "ERRORS",
		    "CRASHES", "LAST EXIT");
		json_array_foreach(json_object_get(j, "tenants"), i, t)
			print_tenant_row(t, -1);
	}
	json_decref(j);
	return EX_OK_;
}

static volatile sig_atomic_t top_stop;

static void
top_sig(int sig)
{
	top_stop = 1;
}

/* Live view: tenants by requests per second, redrawn every interval. */
int
cmd_top(int argc, char **argv)
{
	json_t		*prev = NULL, *j, *t, *p;
	struct timespec	 ts, now, then = { 0, 0 };
	double		 interval = 1.0, rate, took = 1.0;
	long		 count = -1;
	size_t		 i, k;
	int		 tty = isatty(STDOUT_FILENO);
	char		*ep;

	for (i = 0; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "-n") == 0 && i + 1 < (size_t)argc)
			count = strtol(argv[++i], &ep, 10);
		else if (strcmp(argv[i], "-d") == 0 && i + 1 < (size_t)argc)
			interval = strtod(argv[++i], &ep);
		else
			usage();
		if (*ep != '\0' || interval < 0.1)
			usage();
	}
	signal(SIGINT, top_sig);
	signal(SIGTERM, top_sig);
	while (!top_stop && count != 0) {
		j = admin_json("status\n");
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (then.tv_sec != 0)
			took = (double)(now.tv_sec - then.tv_sec) +
			    (double)(now.tv_nsec - then.tv_nsec) / 1e9;
		then = now;
		if (tty)
			printf("\033[H\033[2J");
		print_daemon(j);
		printf("\n%-20s %-9s %7s %6s %9s %9s %7s %7s  %s\n", "TENANT",
		    "STATUS", "WORKERS", "CONNS", "REQ/S", "REQUESTS",
		    "ERRORS", "CRASHES", "LAST EXIT");
		/* Sort by requests per second since the last round. */
		json_array_foreach(json_object_get(j, "tenants"), i, t) {
			rate = 0;
			if (prev != NULL)
				json_array_foreach(json_object_get(prev,
				    "tenants"), k, p)
					if (json_equal(json_object_get(p,
					    "slug"), json_object_get(t, "slug")))
						rate = (double)(jint(t,
						    "requests") - jint(p,
						    "requests")) / took;
			json_object_set_new(t, "rate", json_real(rate));
		}
		json_array_sort_rate(json_object_get(j, "tenants"));
		json_array_foreach(json_object_get(j, "tenants"), i, t)
			print_tenant_row(t, json_real_value(json_object_get(t,
			    "rate")));
		fflush(stdout);
		json_decref(prev);
		prev = j;
		if (count > 0 && --count == 0)
			break;
		ts.tv_sec = (time_t)interval;
		ts.tv_nsec = (long)((interval - (double)ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
	}
	json_decref(prev);
	return EX_OK_;
}

static int
rate_cmp(const void *a, const void *b)
{
	double	 x = json_real_value(json_object_get(*(json_t *const *)a,
	    "rate"));
	double	 y = json_real_value(json_object_get(*(json_t *const *)b,
	    "rate"));

	return x < y ? 1 : x > y ? -1 : 0;
}

static void
json_array_sort_rate(json_t *arr)
{
	json_t	**v;
	size_t	 i, n = json_array_size(arr);

	if (n < 2 || (v = calloc(n, sizeof(*v))) == NULL)
		return;
	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(arr, i));
	qsort(v, n, sizeof(*v), rate_cmp);
	json_array_clear(arr);
	for (i = 0; i < n; i++)
		json_array_append_new(arr, v[i]);
	free(v);
}

static int
restart_or_drain(int argc, char **argv, const char *what)
{
	json_t	*j;
	char	 req[128];

	if (argc != 1)
		usage();
	check_tenant(argv[0]);
	snprintf(req, sizeof(req), "%s %s\n", what, argv[0]);
	j = admin_json(req);
	printf("%s %s: %lld workers retiring%s\n", what[0] == 'r' ?
	    "restarted" : "drained", argv[0], (long long)jint(j, "workers"),
	    what[0] == 'r' ? "; crash backoff cleared" : "");
	json_decref(j);
	return EX_OK_;
}

int
cmd_restart(int argc, char **argv)
{
	return restart_or_drain(argc, argv, "restart");
}

int
cmd_drain(int argc, char **argv)
{
	return restart_or_drain(argc, argv, "drain");
}

static void
reload_print(json_t *j, const char *list, const char *head)
{
	json_t	*e;
	size_t	 i;

	json_array_foreach(json_object_get(j, list), i, e) {
		if (i == 0)
			printf("%s:\n", head);
		if (json_object_get(e, "reason") != NULL)
			printf("  %s: %s\n", jstr(e, "what"), jstr(e, "reason"));
		else
			printf("  %s: %s -> %s\n", jstr(e, "key"),
			    jstr(e, "old"), jstr(e, "new"));
	}
}

/*
 * What the reload did, and an exit status a script (and systemctl reload,
 * through ExecReload=) can act on: EX_REJECTED when anything was refused,
 * EX_RESTART when a changed key waits for a restart. A key that waits
 * fails too: the operator asked for a change that is not running
 * (docs/operations.md).
 */
int
cmd_reload(int argc, char **argv)
{
	json_t	*j;
	size_t	 nrej, nrst;
	char	*s;

	if (argc != 0)
		usage();
	j = admin_json("reload\n");
	nrej = json_array_size(json_object_get(j, "rejected"));
	nrst = json_array_size(json_object_get(j, "restart"));
	if (json_out) {
		if ((s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS)) ==
		    NULL)
			die(EX_FAIL, "out of memory");
		printf("%s\n", s);
		free(s);
	} else {
		reload_print(j, "applied", "applied");
		reload_print(j, "restart", "changed, but take effect only "
		    "after systemctl restart tenantd");
		reload_print(j, "rejected", "rejected (the running one kept)");
		if (nrej == 0 && nrst == 0)
			printf("tenantd reloaded its configuration and "
			    "policy\n");
	}
	json_decref(j);
	if (nrej > 0)
		return EX_REJECTED;
	return nrst > 0 ? EX_RESTART : EX_OK_;
}

int
cmd_metrics(int argc, char **argv)
{
	char	*s;

	if (argc != 0)
		usage();
	s = admin_ask("metrics\n");
	if (s[0] == '{') {
		json_decref(admin_json("metrics\n"));	/* dies on the error */
		die(EX_FAIL, "unexpected answer to metrics");
	}
	fputs(s, stdout);
	free(s);
	return EX_OK_;
}
