/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * tenantd, the supervisor. It is built as two halves that talk only through
 * the calls under "priv.c" below:
 *
 *   reader half (front.c, route.c, pool.c)      root half (priv.c)
 *   accepts and reads request heads,            reads the registry,
 *   classifies Host, caches routes,             spawns and binds workers,
 *   holds the workers' control channels,        reaps and signals them
 *   hands connections over and takes them back
 *
 * The reader half never opens the registry, forks, or signals a process.
 * Each priv_*() call is one request and one answer: priv_resolve and
 * priv_tenant take and return flat values; priv_spawn, priv_bind,
 * priv_hosts and priv_kill take the worker handle only for its channel and
 * pidfd, which in a split would be named by a worker id. Moving the reader
 * into its own unprivileged, seccomp'd process is then a transport change,
 * not a redesign (docs/architecture.md, section 3, "What the split into
 * two processes will take").
 */
#ifndef TENANTD_SUPERVISOR_H
#define TENANTD_SUPERVISOR_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stdint.h>

#include <ev.h>

#include "config.h"
#include "decide.h"
#include "host.h"
#include "proto.h"
#include "registry.h"
#include "tlimits.h"

/* What the reader knows about a tenant: no paths, no uids, no keys. */
struct route {
	int64_t			 r_tenant;
	char			 r_slug[SLUG_MAX_LEN + 1];
	enum tenant_status	 r_status;
};

/* A connection handed to a worker, remembered to validate its return. */
struct conn_ref {
	uint32_t	 cr_id;
	dev_t		 cr_dev;
	ino_t		 cr_ino;
	unsigned int	 cr_hops;
};

/* A connection waiting for a worker of its tenant. */
struct handoff {
	TAILQ_ENTRY(handoff) ho_entry;
	int		 ho_fd;
	ev_tstamp	 ho_since;
	unsigned int	 ho_hops;
	size_t		 ho_len;
	uint8_t		 ho_data[];
};
TAILQ_HEAD(handoff_list, handoff);

struct tenant_rt;

struct worker {
	TAILQ_ENTRY(worker) w_entry;	/* tenant's workers, or spares */
	TAILQ_ENTRY(worker) w_all;
	pid_t		 w_pid;
	int		 w_pidfd;
	int		 w_chan;
	enum worker_state w_state;
	struct tenant_rt *w_tenant;
	ev_io		 w_rev;
	ev_io		 w_wev;
	ev_child	 w_child;
	ev_timer	 w_timer;
	ev_tstamp	 w_started;	/* spawned */
	ev_tstamp	 w_bound;	/* given a tenant */
	ev_tstamp	 w_ready_at;
	struct conn_ref	*w_refs;
	unsigned int	 w_nrefs;
	struct handoff_list w_outq;
	unsigned int	 w_noutq;
	uint64_t	 w_requests;
	unsigned int	 w_loglines;
	ev_tstamp	 w_logsec;
	int		 w_evicted;	/* drained to make room */
	ev_tstamp	 w_heard;	/* last message from it */
	ev_tstamp	 w_ping;	/* unanswered PING sent at, or 0 */
	int64_t		 w_hold;	/* its credit hold in the ledger, or 0 */
	uint64_t	 w_usage_seq;	/* last usage report recorded */
	uint64_t	 w_granted;	/* credits granted to its hold */
	uint64_t	 w_spent;	/* credits it reported spent */
	uint64_t	 w_credit_serial; /* its CREDIT_WANT on the slow
					    thread, or 0 */
	uint64_t	 w_rate;	/* its share of the request rate */
	uint64_t	 w_hosts_gen;	/* its tenant's hosts generation */
	uint64_t	 w_host_lists;	/* host lists sent to it */
	uint64_t	 w_gen;		/* its tenant's slot, as last sent */
	uint64_t	 w_gen_updates;	/* CFG_DONE messages sent to it */
};
TAILQ_HEAD(worker_list, worker);

/* Counters since the supervisor started (metrics, tenantctl status). */
struct tenant_stats {
	uint16_t	 ts_code[STATS_MAX_CODES];
	uint64_t	 ts_count[STATS_MAX_CODES];
	unsigned int	 ts_ncodes;
	uint64_t	 ts_bytes;
	uint64_t	 ts_lat_sum_us;
	uint64_t	 ts_hist[STATS_BUCKETS];
	uint64_t	 ts_spawns;
	uint64_t	 ts_crashes;
	uint64_t	 ts_handoffs;
	uint64_t	 ts_handbacks;
	ev_tstamp	 ts_last_start;
	ev_tstamp	 ts_last_exit;
	char		 ts_last_exit_how[96];
};

struct daemon_stats {
	uint64_t	 ds_accepted;
	uint64_t	 ds_answers[600];	/* by the supervisor itself */
	uint64_t	 ds_handoffs;
	uint64_t	 ds_handbacks;
	uint64_t	 ds_closed;	/* left us other than to a worker */
	uint64_t	 ds_evicted_silent;	/* closed for a new connection */
	uint64_t	 ds_evicted_head;	/* 408 for a new connection */
	uint64_t	 ds_first_byte_timeouts;
	unsigned int	 ds_queued;	/* waiting for a worker */
	uint64_t	 ds_spawns;
	uint64_t	 ds_deaths;
	ev_tstamp	 ds_started;
};
extern struct daemon_stats dstats;

struct tenant_rt {
	struct tenant_rt *t_hnext;
	int64_t		 t_id;
	char		 t_slug[SLUG_MAX_LEN + 1];
	enum tenant_status t_status;
	struct worker_list t_workers;
	unsigned int	 t_nworkers;
	struct handoff_list t_queue;
	unsigned int	 t_nqueue;
	unsigned int	 t_failures;
	ev_tstamp	 t_next_start;
	char		 t_backoff_why[96];	/* the last failure */
	ev_timer	 t_timer;
	struct tenant_stats t_stats;
	uint64_t	 t_lim[TL_MAX];	/* its limits, as its workers have them */
	uint64_t	 t_storage;	/* DATA_STORAGE_OTHER last sent */
	int		 t_storage_walk; /* a walk queued on the slow thread */
};

/* Live counts for systemd's STATUS= line and the admin socket. */
struct pool_counts {
	unsigned int	 pc_workers;	/* bound to a tenant */
	unsigned int	 pc_spares;
	unsigned int	 pc_tenants;	/* with a worker */
	unsigned int	 pc_conns;	/* held by workers */
	unsigned int	 pc_queued;	/* waiting for a worker */
};

/* tenantd.c */
extern struct config	*conf;
extern struct ev_loop	*loop;
struct json_t;
struct json_t	*tenantd_reload(void);

/* instance.c: one tenantd per run directory, and the sockets it bound */
struct isock {
	const char	*is_path;
	dev_t		 is_dev;
	ino_t		 is_ino;
	int		 is_bound;
};
void	 instance_lock(void);
void	 instance_unlock(void);
int	 instance_listen(struct isock *, const char *, gid_t, mode_t, int);
void	 instance_unlink(struct isock *);

/* front.c: the proxy socket, request heads, canned answers */
void	 front_init(int);
void	 front_stop_accepting(void);
unsigned int front_pending(void);
void	 front_close_idle(void);
void	 front_handback(int, const uint8_t *, size_t, unsigned int);
void	 front_reply(int, const uint8_t *, size_t, int, unsigned int);
unsigned int front_reading(void);
unsigned int front_silent(void);
unsigned int front_held(void);

/* route.c: Host -> tenant, cached, invalidated by the registry generation */
void	 route_init(void);
int	 route_resolve(const struct host_result *, struct route *);
uint64_t route_gen(void);
void	 route_check_slot(const struct worker *);

/* pool.c: workers per tenant, spares, hand-off and return of connections */
void	 pool_init(void);
void	 pool_reconfigure(void);
void	 pool_dispatch(const struct route *, int, const uint8_t *, size_t,
	    unsigned int);
void	 pool_registry_changed(void);
void	 pool_worker_exited(struct worker *, int);
void	 pool_shutdown(void);
void	 pool_kill_all(void);
int	 pool_empty(void);
void	 pool_counts(struct pool_counts *);
int	 pool_restart(const char *, int);
int	 pool_credit_done(int64_t, pid_t, uint64_t, int64_t, int64_t,
	    int64_t);
void	 pool_storage_done(int64_t, int, uint64_t);
void	 tenant_stats_code(struct tenant_stats *, int, uint64_t);
const struct tenant_rt *pool_tenant_next(const struct tenant_rt *);

/* admin.c: the admin socket (tenantctl) */
void	 admin_init(void);
void	 admin_stop(void);

/* frontctl.c: the front process, which serves [admin] http_listen */
int	 frontctl_check(char *, size_t);
void	 frontctl_init(void);
void	 frontctl_stop(void);
pid_t	 frontctl_pid(void);

/* priv.c: the root half */
void	 priv_init(int);
int	 priv_reload(char *, size_t);
int	 priv_resolve(const struct host_result *, struct route *);
int	 priv_tenant(int64_t, struct route *);
int	 priv_spawn(struct worker *);
int	 priv_bind(struct worker *, int64_t, const uint64_t [TL_MAX],
	    unsigned int, uint64_t);
int	 priv_gen_slot(int64_t, uint64_t *);
int	 priv_hosts(struct worker *, int64_t, uint64_t);
int	 priv_registry_changed(void);
void	 priv_kill(struct worker *);
int	 priv_send(struct worker *, struct msgbuf *);
struct registry *priv_registry(void);

/* privdata.c: the root half's data plane (limits, keys, storage, ledger) */
int	 priv_limits(int64_t, const char *, uint64_t [TL_MAX]);
int	 priv_masters_check(char *, size_t);
int	 priv_bind_data(struct worker *, const char *,
	    const uint64_t [TL_MAX], unsigned int, uint64_t);
int	 priv_masters_stamp(uint64_t *);
uint64_t rate_share(uint64_t, unsigned int);

/*
 * slow.c: ledger writes and storage walks on a thread of the root half,
 * asked by message and answered later through pool_credit_done() and
 * pool_storage_done() (docs/architecture.md, "The slow thread"). -1 with
 * EAGAIN: the queue is full and the job was not taken.
 */
void	 slow_init(void);
void	 slow_stop(void);
int	 slow_hold(int64_t, const char *, pid_t, uint64_t, int64_t, int64_t);
int	 slow_usage(int64_t, const char *, int64_t, uint64_t, int64_t);
int	 slow_hold_close(int64_t, const char *, int64_t, uint64_t, int64_t);
int	 slow_storage(int64_t, const char *);
void	 slow_metrics(FILE *);

/* privrun.c: tenant code, started through tenantd-run */
int	 priv_run(struct worker *, uint32_t, const char *, char *const [],
	    size_t, int, uint64_t);
int	 priv_run_known(const struct worker *, uint32_t);
unsigned int priv_runs_of(const struct worker *);
void	 priv_run_kill(const struct worker *, uint32_t);
void	 priv_runs_orphan(const struct worker *);
void	 priv_runs_kill_all(void);
int	 priv_app_connect(struct worker *, uint32_t, const char *, int,
	    uint64_t);
void	 priv_apps_stop(void);
void	 priv_code_check(void);
void	 priv_spares_reload(void);
void	 priv_code_stats(unsigned int *, unsigned int *, unsigned int *,
	    unsigned int *);

#endif
