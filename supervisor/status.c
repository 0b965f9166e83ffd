/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * What the pool reports, and nothing it decides: tenantctl status (JSON),
 * the Prometheus text for /metrics (docs/operations.md lists every
 * metric), and the /proc reads behind them. It only reads the pool, through
 * pool_tenant_next() and the counters pool.c keeps, so that reporting can
 * move to another process without taking the pool's state with it
 * (docs/architecture.md, section 3).
 */
#include <sys/queue.h>
#include <sys/types.h>

#include <dirent.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "status.h"
#include "supervisor.h"

/* Every tenant the pool has seen, in the pool's own order. */
#define TENANT_FOREACH(t)						\
	for ((t) = pool_tenant_next(NULL); (t) != NULL;			\
	    (t) = pool_tenant_next(t))

/*
 * Private (anonymous) and resident memory of a worker, in kB (0 if
 * unknown). From /proc/<pid>/status: smaps_rollup would need ptrace
 * rights over a worker of another uid, which the unit rightly withholds.
 */
static void
worker_memory(pid_t pid, unsigned long *priv, unsigned long *rss)
{
	char		 path[64], line[128];
	FILE		*f;

	*priv = *rss = 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		sscanf(line, "VmRSS: %lu kB", rss);
		sscanf(line, "RssAnon: %lu kB", priv);
	}
	fclose(f);
}

static json_t *
tenant_json(const struct tenant_rt *t)
{
	const struct tenant_stats	*ts = &t->t_stats;
	json_t				*o, *ws, *codes;
	const struct worker		*w;
	unsigned long			 priv, rss;
	uint64_t			 requests = 0, errors = 0;
	unsigned int			 i;
	ev_tstamp			 now = ev_now(loop);

	ws = json_array();
	TAILQ_FOREACH(w, &t->t_workers, w_entry) {
		worker_memory(w->w_pid, &priv, &rss);
		json_array_append_new(ws, json_pack("{s:i, s:s, s:i, s:I, "
		    "s:f, s:I, s:I, s:I, s:I, s:I, s:I}", "pid", (int)w->w_pid,
		    "state", worker_state_str(w->w_state), "connections",
		    (int)w->w_nrefs, "requests", (json_int_t)w->w_requests,
		    "age", now - w->w_bound, "private_kb", (json_int_t)priv,
		    "rss_kb", (json_int_t)rss, "hosts_generation",
		    (json_int_t)w->w_hosts_gen, "host_lists",
		    (json_int_t)w->w_host_lists, "generation",
		    (json_int_t)w->w_gen, "generation_updates",
		    (json_int_t)w->w_gen_updates));
	}
	codes = json_object();
	for (i = 0; i < ts->ts_ncodes; i++) {
		char	 k[8];

		snprintf(k, sizeof(k), "%u", ts->ts_code[i]);
		json_object_set_new(codes, k, json_integer((json_int_t)
		    ts->ts_count[i]));
		requests += ts->ts_count[i];
		if (ts->ts_code[i] >= 500)
			errors += ts->ts_count[i];
	}
	o = json_pack("{s:s, s:s, s:o, s:i, s:I, s:I, s:o, s:I, s:I, s:I, "
	    "s:i}", "slug", t->t_slug, "status", tenant_status_str(t->t_status),
	    "workers", ws, "queued", (int)t->t_nqueue,
	    "requests", (json_int_t)requests, "errors", (json_int_t)errors,
	    "by_status", codes, "bytes", (json_int_t)ts->ts_bytes,
	    "spawns", (json_int_t)ts->ts_spawns,
	    "crashes", (json_int_t)ts->ts_crashes,
	    "failures_in_a_row", (int)t->t_failures);
	json_object_set_new(o, "handoffs", json_integer((json_int_t)
	    ts->ts_handoffs));
	json_object_set_new(o, "handbacks", json_integer((json_int_t)
	    ts->ts_handbacks));
	if (t->t_next_start > now && t->t_failures > 0) {
		json_object_set_new(o, "backoff_seconds",
		    json_real(t->t_next_start - now));
		json_object_set_new(o, "backoff_reason",
		    json_string(t->t_backoff_why));
	}
	if (ts->ts_last_start > 0)
		json_object_set_new(o, "last_start_ago",
		    json_real(now - ts->ts_last_start));
	if (ts->ts_last_exit > 0)
		json_object_set_new(o, "last_exit", json_pack("{s:f, s:s}",
		    "ago", now - ts->ts_last_exit, "how",
		    ts->ts_last_exit_how));
	return o;
}

/*
 * The daemon and every tenant it has seen since it started (or one, by
 * slug; NULL when it has never seen it).
 */
json_t *
status_json(const char *slug)
{
	const struct tenant_rt	*t;
	struct pool_counts	 pc;
	json_t			*o, *arr;

	if (slug != NULL) {
		TENANT_FOREACH(t)
			if (strcmp(t->t_slug, slug) == 0)
				return tenant_json(t);
		return NULL;
	}
	pool_counts(&pc);
	arr = json_array();
	TENANT_FOREACH(t)
		json_array_append_new(arr, tenant_json(t));
	o = json_pack("{s:i, s:f, s:I, s:i, s:i, s:i, s:i, s:i, s:I, s:I, "
	    "s:I, s:o}", "pid", (int)getpid(),
	    "uptime", ev_now(loop) - dstats.ds_started,
	    "generation", (json_int_t)route_gen(),
	    "workers", (int)pc.pc_workers, "spares", (int)pc.pc_spares,
	    "connections_held", (int)pc.pc_conns,
	    "connections_reading", (int)front_reading(),
	    "queued", (int)pc.pc_queued,
	    "accepted", (json_int_t)dstats.ds_accepted,
	    "handoffs", (json_int_t)dstats.ds_handoffs,
	    "handbacks", (json_int_t)dstats.ds_handbacks, "tenants", arr);
	return o;
}

static unsigned int
open_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	unsigned int	 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own */
}

/* One counter family with a sample per tenant: a uint64_t of its stats. */
static void
metric_tenants(FILE *f, const char *name, const char *help, size_t field)
{
	const struct tenant_rt	*t;
	uint64_t		 v;

	fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	TENANT_FOREACH(t) {
		memcpy(&v, (const char *)&t->t_stats + field, sizeof(v));
		fprintf(f, "%s{tenant=\"%s\"} %llu\n", name, t->t_slug,
		    (unsigned long long)v);
	}
}

/* Prometheus text exposition (version 0.0.4). */
void
status_metrics(FILE *f)
{
	const struct tenant_rt	*t;
	struct pool_counts	 pc;
	const struct worker	*w;
	uint64_t		 cum;
	unsigned int		 i, nw, conns, nruns, napps, nsandboxes,
				 ncspares;

	pool_counts(&pc);
	fprintf(f, "# HELP tenantd_up Whether tenantd is serving.\n"
	    "# TYPE tenantd_up gauge\ntenantd_up 1\n");
	slow_metrics(f);
	fprintf(f, "# HELP tenantd_uptime_seconds Seconds since tenantd "
	    "started.\n# TYPE tenantd_uptime_seconds gauge\n"
	    "tenantd_uptime_seconds %.0f\n", ev_now(loop) - dstats.ds_started);
	fprintf(f, "# HELP tenantd_connections_accepted_total Connections "
	    "accepted from the proxy.\n"
	    "# TYPE tenantd_connections_accepted_total counter\n"
	    "tenantd_connections_accepted_total %llu\n",
	    (unsigned long long)dstats.ds_accepted);
	fprintf(f, "# HELP tenantd_connections_reading Connections whose "
	    "request head is being read.\n"
	    "# TYPE tenantd_connections_reading gauge\n"
	    "tenantd_connections_reading %u\n", front_reading());
	fprintf(f, "# HELP tenantd_connections_silent Connections accepted "
	    "that have sent no byte yet.\n"
	    "# TYPE tenantd_connections_silent gauge\n"
	    "tenantd_connections_silent %u\n", front_silent());
	fprintf(f, "# HELP tenantd_connections_evicted_total Connections "
	    "closed to make room for a new one (max_silent, max_reading), by "
	    "what they had sent.\n"
	    "# TYPE tenantd_connections_evicted_total counter\n"
	    "tenantd_connections_evicted_total{state=\"silent\"} %llu\n"
	    "tenantd_connections_evicted_total{state=\"partial\"} %llu\n",
	    (unsigned long long)dstats.ds_evicted_silent,
	    (unsigned long long)dstats.ds_evicted_head);
	fprintf(f, "# HELP tenantd_first_byte_timeouts_total Connections "
	    "closed for sending nothing within first_byte_timeout.\n"
	    "# TYPE tenantd_first_byte_timeouts_total counter\n"
	    "tenantd_first_byte_timeouts_total %llu\n",
	    (unsigned long long)dstats.ds_first_byte_timeouts);
	fprintf(f, "# HELP tenantd_handoffs_total Connections handed to "
	    "workers.\n# TYPE tenantd_handoffs_total counter\n"
	    "tenantd_handoffs_total %llu\n",
	    (unsigned long long)dstats.ds_handoffs);
	fprintf(f, "# HELP tenantd_handbacks_total Connections handed back "
	    "by workers.\n# TYPE tenantd_handbacks_total counter\n"
	    "tenantd_handbacks_total %llu\n",
	    (unsigned long long)dstats.ds_handbacks);
	fprintf(f, "# HELP tenantd_connections_closed_total Connections "
	    "closed by tenantd itself, never or no longer handed to a "
	    "worker.\n# TYPE tenantd_connections_closed_total counter\n"
	    "tenantd_connections_closed_total %llu\n",
	    (unsigned long long)dstats.ds_closed);
	fprintf(f, "# HELP tenantd_connections_held Connections tenantd "
	    "holds now: reading, idle, answering or waiting for a worker.\n"
	    "# TYPE tenantd_connections_held gauge\n"
	    "tenantd_connections_held %u\n", front_held());
	fprintf(f, "# HELP tenantd_supervisor_answers_total Requests "
	    "tenantd answered itself, by status.\n"
	    "# TYPE tenantd_supervisor_answers_total counter\n");
	for (i = 100; i < 600; i++)
		if (dstats.ds_answers[i] != 0)
			fprintf(f, "tenantd_supervisor_answers_total{code=\"%u\"} "
			    "%llu\n", i, (unsigned long long)dstats.ds_answers[i]);
	fprintf(f, "# HELP tenantd_spare_workers Exec'd workers not bound "
	    "to a tenant.\n# TYPE tenantd_spare_workers gauge\n"
	    "tenantd_spare_workers %u\n", pc.pc_spares);
	fprintf(f, "# HELP tenantd_worker_spawns_total Workers exec'd.\n"
	    "# TYPE tenantd_worker_spawns_total counter\n"
	    "tenantd_worker_spawns_total %llu\n",
	    (unsigned long long)dstats.ds_spawns);
	fprintf(f, "# HELP tenantd_worker_exits_total Workers reaped, for "
	    "any reason.\n# TYPE tenantd_worker_exits_total counter\n"
	    "tenantd_worker_exits_total %llu\n",
	    (unsigned long long)dstats.ds_deaths);
	fprintf(f, "# HELP tenantd_open_fds Descriptors open in tenantd.\n"
	    "# TYPE tenantd_open_fds gauge\ntenantd_open_fds %u\n", open_fds());
	priv_code_stats(&nruns, &napps, &nsandboxes, &ncspares);
	fprintf(f, "# HELP tenantd_code_runs Runs of tenant code in flight "
	    "(handlers).\n# TYPE tenantd_code_runs gauge\n"
	    "tenantd_code_runs %u\n", nruns);
	fprintf(f, "# HELP tenantd_code_apps Persistent apps running.\n"
	    "# TYPE tenantd_code_apps gauge\ntenantd_code_apps %u\n", napps);
	fprintf(f, "# HELP tenantd_code_sandboxes Tenants' sandboxes kept "
	    "between runs.\n# TYPE tenantd_code_sandboxes gauge\n"
	    "tenantd_code_sandboxes %u\n", nsandboxes);
	fprintf(f, "# HELP tenantd_code_spares Runs prepared ahead of a "
	    "request, one per tenant.\n# TYPE tenantd_code_spares gauge\n"
	    "tenantd_code_spares %u\n", ncspares);
	fprintf(f, "# HELP tenantd_registry_generation The registry "
	    "generation in use.\n# TYPE tenantd_registry_generation gauge\n"
	    "tenantd_registry_generation %llu\n",
	    (unsigned long long)route_gen());

	fprintf(f, "# HELP tenantd_requests_total Requests answered for a "
	    "tenant, by status: by its workers, and tenantd's 503s when its "
	    "workers could not take them (a suspended tenant's 503s are in "
	    "tenantd_supervisor_answers_total).\n"
	    "# TYPE tenantd_requests_total counter\n");
	TENANT_FOREACH(t)
		for (i = 0; i < t->t_stats.ts_ncodes; i++)
			fprintf(f, "tenantd_requests_total{tenant=\"%s\","
			    "code=\"%u\"} %llu\n", t->t_slug,
			    t->t_stats.ts_code[i], (unsigned long long)
			    t->t_stats.ts_count[i]);
	fprintf(f, "# HELP tenantd_request_duration_seconds From a complete "
	    "request head to the response sent, in the worker.\n"
	    "# TYPE tenantd_request_duration_seconds histogram\n");
	TENANT_FOREACH(t) {
		for (i = 0, cum = 0; i < STATS_BUCKETS; i++) {
			cum += t->t_stats.ts_hist[i];
			if (i < STATS_BUCKETS - 1)
				fprintf(f, "tenantd_request_duration_"
				    "seconds_bucket{tenant=\"%s\","
				    "le=\"%g\"} %llu\n", t->t_slug,
				    stats_bounds_us[i] / 1e6,
				    (unsigned long long)cum);
			else
				fprintf(f, "tenantd_request_duration_"
				    "seconds_bucket{tenant=\"%s\","
				    "le=\"+Inf\"} %llu\n", t->t_slug,
				    (unsigned long long)cum);
		}
		fprintf(f, "tenantd_request_duration_seconds_sum{"
		    "tenant=\"%s\"} %.6f\n", t->t_slug,
		    t->t_stats.ts_lat_sum_us / 1e6);
		fprintf(f, "tenantd_request_duration_seconds_count{"
		    "tenant=\"%s\"} %llu\n", t->t_slug,
		    (unsigned long long)cum);
	}
	metric_tenants(f, "tenantd_response_bytes_total", "Response body "
	    "bytes sent by a tenant's workers.",
	    offsetof(struct tenant_stats, ts_bytes));
	metric_tenants(f, "tenantd_tenant_worker_spawns_total", "Workers "
	    "bound to a tenant.", offsetof(struct tenant_stats, ts_spawns));
	metric_tenants(f, "tenantd_tenant_worker_crashes_total", "Start "
	    "failures and early abnormal deaths of a tenant's workers.",
	    offsetof(struct tenant_stats, ts_crashes));
	fprintf(f, "# HELP tenantd_tenant_backoff Whether a tenant's starts "
	    "are held back after crashes.\n"
	    "# TYPE tenantd_tenant_backoff gauge\n");
	TENANT_FOREACH(t)
		fprintf(f, "tenantd_tenant_backoff{tenant=\"%s\"} %d\n",
		    t->t_slug, t->t_failures > 0 &&
		    t->t_next_start > ev_now(loop));
	/* One group per metric: the text format wants them unmixed. */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 0)
			fprintf(f, "# HELP tenantd_tenant_workers Live workers "
			    "of a tenant.\n# TYPE tenantd_tenant_workers "
			    "gauge\n");
		else
			fprintf(f, "# HELP tenantd_tenant_connections "
			    "Connections a tenant's workers hold.\n"
			    "# TYPE tenantd_tenant_connections gauge\n");
		TENANT_FOREACH(t) {
			nw = conns = 0;
			TAILQ_FOREACH(w, &t->t_workers, w_entry) {
				nw++;
				conns += w->w_nrefs;
			}
			fprintf(f, "tenantd_tenant_%s{tenant=\"%s\"} "
			    "%u\n", pass == 0 ? "workers" :
			    "connections", t->t_slug, pass == 0 ? nw :
			    conns);
		}
	}
	metric_tenants(f, "tenantd_tenant_handbacks_total", "Connections a "
	    "tenant's workers handed back (another host, a registry change, "
	    "retirement).", offsetof(struct tenant_stats, ts_handbacks));
}

/* The same, as one malloc'd text: for tenantctl and for the front. */
int
status_metrics_text(char **out, size_t *len)
{
	FILE	*f;

	if ((f = open_memstream(out, len)) == NULL)
		return -1;
	status_metrics(f);
	return fclose(f) == 0 ? 0 : -1;
}
