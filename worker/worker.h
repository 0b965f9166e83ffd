/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * tenantd-worker: one tenant's sandboxed HTTP server.
 */
#ifndef TENANTD_WORKER_H
#define TENANTD_WORKER_H

#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <stdint.h>

#include <ev.h>

#include "cgipure.h"
#include "gen.h"
#include "host.h"
#include "httphead.h"
#include "kvpath.h"
#include "proto.h"
#include "slug.h"
#include "tlimits.h"

struct wconn;

struct worker_env {
	struct ev_loop	*we_loop;
	uint32_t	 we_tenant_id;
	char		 we_slug[SLUG_MAX_LEN + 1];
	struct host_conf we_hosts;
	struct hostlist	 we_names;	/* custom hosts, MSG_CFG_HOSTS */
	uint64_t	 we_hosts_gen;	/* their generation */
	uint64_t	 we_gen;	/* our tenant's slot, as last told */
	struct gen	 we_genmap;	/* that slot, live */
	unsigned int	 we_head_max;
	unsigned int	 we_target_max;
	unsigned int	 we_max_conns;
	unsigned int	 we_max_requests;
	unsigned int	 we_header_timeout_ms;
	unsigned int	 we_keepalive_timeout_ms;
	int		 we_public_fd;
	int		 we_log_fd;
	uint64_t	 we_served;
	unsigned int	 we_nconns;
	int		 we_draining;	/* 0, or enum drain_mode */
	int		 we_drain_told;	/* the supervisor's CTL_DRAIN came */
	/* request counters since the last MSG_STATE_STATS */
	uint32_t	 we_codes[600];
	uint64_t	 we_bytes;
	uint64_t	 we_lat_sum;
	uint32_t	 we_hist[STATS_BUCKETS];
	int		 we_stats_dirty;
	TAILQ_HEAD(, wconn) we_conns;
	/* the data plane: MSG_CFG_DATA, indexed by enum tlimit */
	uint64_t	 we_tl[TL_MAX];
	uint64_t	 we_storage_other;	/* DATA_STORAGE_OTHER */
};

extern struct worker_env *env;

/* worker.c */
void	 worker_stats_add(int, uint64_t, uint64_t);
void	 worker_stats_flush(void);
int	 worker_send(uint32_t, uint32_t, const void *, size_t, int,
	    uint32_t, uint32_t);
int	 worker_send_msg(struct msgbuf *);
void	 worker_conn_gone(uint32_t, uint64_t);
void	 worker_maybe_exit(void);

/* http.c: the connection's states, keep-alive, hand-back, drain */
void	 http_conn_new(uint32_t, int, const uint8_t *, size_t);
void	 http_drain(void);
void	 http_retire(void);
void	 http_credit_resume(void);
void	 http_cgi_done(struct wconn *, int, uint8_t *, size_t);
void	 http_handback(struct wconn *, uint32_t);

/* cgi.c: per-request handlers and persistent apps, via the supervisor */
struct cgi_run;
const struct cgi_route *cgi_lookup(const char *, size_t);
int	 cgi_slot_free(void);
struct cgi_run *cgi_start(struct wconn *, const char *,
	    const struct cgi_env *, int, uint8_t *, size_t, int *);
void	 cgi_cancel(struct cgi_run *);
void	 cgi_msg_started(struct msg *, int);
void	 cgi_msg_failed(struct msg *);

/* data.c: limits, API keys, the request bucket, credits */
enum credit_verdict {
	CREDIT_OK,
	CREDIT_PARK,		/* wait for the supervisor's CTL_CREDIT */
	CREDIT_DRY,		/* the balance is out: 402 */
};
#define DATA_CHANGED(id)	(1ULL << (id))
void	 data_cfg_key(struct msg *);
uint64_t data_cfg_data(struct msg *);
void	 data_config_done(void);
void	 data_apply(uint64_t);
void	 data_ctl_credit(struct msg *);
int	 data_auth(const char *, size_t);
int	 data_rate_take(uint64_t *);
enum credit_verdict data_credit_check(uint64_t);
void	 data_credit_spend(uint64_t);
void	 data_usage_flush(void);
uint64_t data_now_ms(void);

/* kv.c: the tenant's SQLite store, /data/app.db in the jail */
enum kv_status {
	KV_OK = 0,
	KV_CREATED,
	KV_NOTFOUND,
	KV_TIMEOUT,		/* statement_timeout: 504 */
	KV_FULL,		/* storage quota: 507 */
	KV_ENTRIES,		/* entry quota: 507 */
	KV_UNAVAILABLE,		/* cannot open, or busy: 503 */
};
/* Called per listed row; nonzero stops the walk. */
typedef int kv_row_cb(void *, const char *, size_t, const char *, size_t);
void	 kv_init(uid_t);
void	 kv_limits_changed(void);
void	 kv_close(void);
enum kv_status kv_get(const char *, size_t, char **, size_t *);
enum kv_status kv_put(const char *, size_t, const char *, size_t);
enum kv_status kv_del(const char *, size_t);
enum kv_status kv_list(const char *, size_t, const char *, size_t,
	    unsigned int, kv_row_cb *, void *);

/* api.c: the JSON API under /.tenantd/kv/ */
struct api_req;
enum api_step {
	API_RESPOND,		/* ar_status and the body are ready */
	API_BODY,		/* read ar_clen body bytes, then api_run() */
	API_RUN,		/* api_run() now */
	API_PARK,		/* out of credits for now: api_run() later */
};
struct api_resp {
	int		 ar_status;
	int		 ar_close;
	char		 ar_extra[160];		/* more header lines */
	char		*ar_body;		/* malloc'd JSON */
	size_t		 ar_body_len;
};
enum api_step api_begin(struct api_req **, const struct http_head *,
	    const uint8_t *, const char *, const struct kv_target *,
	    struct api_resp *);
enum api_step api_run(struct api_req *, const uint8_t *, size_t,
	    struct api_resp *);
void	 api_free(struct api_req *);
void	 api_error(struct api_resp *, int, const char *, const char *);

/* static.c */
struct static_file {
	int		 sf_fd;
	struct stat	 sf_st;
	const char	*sf_type;
	char		 sf_etag[64];
};
int	 static_resolve(int, const char *, size_t, struct static_file *,
	    char *, size_t);
const char *static_type(const char *);

/*
 * One client connection: http.c owns it and runs its states; request.c
 * decides what each request gets; respond.c builds and sends the answer.
 */
#define BODY_DISCARD_MAX	(64 * 1024)
/*
 * A handler's request body is buffered before the run starts (the
 * supervisor starts nothing for a request still arriving). The cap is
 * ours, not handler_output's: what a handler may answer says nothing
 * about what a client may send it.
 */
#define CGI_BODY_MAX		(1024 * 1024)
#define REQLOG_MAX		768

enum conn_state {
	C_HEAD,		/* reading a request head */
	C_BODY,		/* reading a request body: kept or discarded */
	C_RUN,		/* an API request to run, or parked for credits */
	C_CGI,		/* a handler's run: requested, then running */
	C_WRITE,	/* sending the response */
};

struct wconn {
	TAILQ_ENTRY(wconn) c_entry;
	uint32_t	 c_id;
	int		 c_fd;
	ev_io		 c_rev;
	ev_io		 c_wev;
	ev_timer	 c_tmo;
	enum conn_state	 c_state;
	uint8_t		*c_buf;
	size_t		 c_len;
	struct hh_parser c_hp;
	uint64_t	 c_body_left;
	int		 c_close;
	int		 c_timed;	/* 1: head timer armed, 2: body timer */
	char		 c_hdr[1536];
	size_t		 c_hdr_len;
	size_t		 c_hdr_off;
	int		 c_file;
	off_t		 c_foff;
	off_t		 c_fend;
	uint64_t	 c_served;
	int		 c_status;
	uint64_t	 c_t0;		/* head complete, us (monotonic) */
	char		 c_req[REQLOG_MAX];
	/* the data plane (api.c) */
	enum conn_state	 c_after;	/* after the body: C_RUN or C_WRITE */
	int		 c_head_only;
	int		 c_parked;	/* C_RUN, C_CGI waiting for CTL_CREDIT */
	unsigned int	 c_round;	/* http_credit_resume() */
	struct api_req	*c_api;
	struct api_resp	 c_ar;
	uint8_t		*c_in;		/* a PUT body, Content-Length bytes */
	size_t		 c_in_len;
	char		*c_out;		/* a JSON response body */
	size_t		 c_out_len;
	size_t		 c_out_off;
	/* per-request handlers (cgi.c) */
	struct cgi_env	*c_env;		/* until the run is asked for */
	char		 c_handler[RUN_NAME_MAX + 1];
	int		 c_app;		/* 1: the handler is a persistent app */
	struct cgi_run	*c_run;
	char		*c_head;	/* a handler response's head */
	size_t		 c_head_len;
	size_t		 c_head_off;
};

/* request.c: admission and dispatch of one request */
int	 request_dispatch(struct wconn *);
int	 request_cgi_pay(struct wconn *);
int	 request_cgi_start(struct wconn *);
void	 request_cgi_forget(struct wconn *);

/* respond.c: response heads, sending them, the access log line */
void	 respond_status(struct wconn *, int, int, const char *);
void	 respond_json(struct wconn *);
void	 respond_file(struct wconn *, struct static_file *, int);
void	 respond_cgi(struct wconn *, int, uint8_t *, size_t);
int	 respond_write(struct wconn *);
void	 respond_log_request(struct wconn *, const struct host_result *);
void	 respond_log(struct wconn *, uint64_t);

#endif
