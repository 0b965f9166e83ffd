/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The worker protocol: reading what a worker sends and the handler of
 * each message. Trust is one-way (docs/architecture.md, section 4): every
 * message passes worker_msgs[], the states it may arrive in, and its
 * handler's checks; anything unexpected or malformed kills that worker,
 * never the supervisor. What a handler decides is applied by pool.c.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "backoff.h"
#include "httphead.h"
#include "log.h"
#include "proto.h"
#include "runarg.h"
#include "supervisor.h"
#include "pool_int.h"

#define MAX_HOPS		8	/* handbacks of one connection */
#define WORKER_LOG_PER_SEC	20

static int	credit_send(struct worker *, int64_t, int64_t);

static struct conn_ref *
worker_ref(struct worker *w, uint32_t id)
{
	unsigned int	 i;

	for (i = 0; i < w->w_nrefs; i++)
		if (w->w_refs[i].cr_id == id)
			return &w->w_refs[i];
	return NULL;
}

static void
worker_unref(struct worker *w, struct conn_ref *ref)
{
	*ref = w->w_refs[--w->w_nrefs];
}

static int
on_ready(struct worker *w, struct msg *m, int fd)
{
	/* READY is permitted once in a worker's life. */
	if (msg_end(m) == -1 || w->w_ready_at != 0)
		return -1;
	w->w_ready_at = ev_now(loop);
	/*
	 * Drained while it was starting, it stays draining and exits once it
	 * reads DRAIN (0); refused (-1), it is being killed already.
	 */
	if (worker_set_state(w, WE_READY) != 1)
		return 0;
	pool_spare_ok();
	ev_timer_stop(loop, &w->w_timer);
	log_info("tenant %s worker %d ready in %.1f ms", worker_name(w),
	    (int)w->w_pid, (w->w_ready_at - w->w_bound) * 1000);
	tenant_rate_update(w->w_tenant);
	tenant_kick(w->w_tenant);
	worker_idle_check(w);
	return 0;
}

static int
on_retiring(struct worker *w, struct msg *m, int fd)
{
	if (msg_end(m) == -1)
		return -1;
	log_info("tenant %s worker %d retiring after %u requests",
	    worker_name(w), (int)w->w_pid, conf->c_max_requests);
	/* Draining already (we had told it to), or refused and killed. */
	if (worker_set_state(w, WE_RETIRE) != 1)
		return 0;
	ev_timer_stop(loop, &w->w_timer);
	/*
	 * A connection we handed it before we read this is on its way: the
	 * worker waits for our DRAIN, behind it in the channel, before it
	 * exits, and hands such a connection back instead of dying with it
	 * unread (docs/routing.md, section 6).
	 */
	worker_drain_send(w, DRAIN_HANDBACK);
	tenant_kick(w->w_tenant);
	return 0;
}

static int
on_closed(struct worker *w, struct msg *m, int fd)
{
	struct conn_ref	*ref;
	uint32_t	 served;

	if (msg_get_u32(m, &served) == -1 || msg_end(m) == -1 ||
	    (ref = worker_ref(w, m->m_conn_id)) == NULL)
		return -1;
	worker_unref(w, ref);
	w->w_requests += served;
	/* A worker that lived through the crash window clears the tally. */
	if (backoff_outlived(ev_now(loop) - w->w_bound,
	    conf->c_crash_window_ms))
		w->w_tenant->t_failures = 0;
	tenant_flush(w->w_tenant);
	worker_idle_check(w);
	return 0;
}

/*
 * A worker gives a connection back (next request for another host, stale
 * config, or it is draining). We take back only a socket we handed to
 * that very worker under that id (docs/security.md, item 55), then route it
 * again.
 */
static int
on_handback(struct worker *w, struct msg *m, int fd)
{
	struct conn_ref	*ref;
	struct stat	 st;
	const uint8_t	*data;
	size_t		 len;
	uint32_t	 reason, served;
	unsigned int	 hops;

	if (msg_get_u32(m, &reason) == -1 || msg_get_u32(m, &served) == -1)
		return -1;
	msg_get_rest(m, &data, &len);
	if (len > conf->c_head_max || reason < HANDBACK_FOREIGN_HOST ||
	    reason > HANDBACK_DRAINING ||
	    (ref = worker_ref(w, m->m_conn_id)) == NULL ||
	    fstat(fd, &st) == -1 || st.st_dev != ref->cr_dev ||
	    st.st_ino != ref->cr_ino)
		return -1;
	/*
	 * The hop count guards against a connection bouncing between us and
	 * workers without progress (a stale config ping-pong). A worker that
	 * served requests on it made progress: a pooled proxy connection may
	 * switch hosts any number of times.
	 */
	hops = served > 0 ? 1 : ref->cr_hops + 1;
	worker_unref(w, ref);
	dstats.ds_handbacks++;
	w->w_tenant->t_stats.ts_handbacks++;
	w->w_requests += served;
	worker_idle_check(w);
	if (reason == HANDBACK_STALE && !pool_stopping())
		route_check_slot(w);
	if (pool_stopping() && (len == 0 || hh_method_idempotent(data, len))) {
		/*
		 * Stopping, and idle, or its request may be sent again: closed
		 * like any idle keep-alive connection. The proxy retries it on
		 * a new connection (RFC 9112 9.3.1), which under socket
		 * activation reaches the next tenantd: a restart fails nothing
		 * (the system test counts). A 503 would not be retried.
		 */
		close(fd);
		dstats.ds_closed++;
	} else if (pool_stopping()) {
		/*
		 * Stopping, and a request nobody may send twice (a POST): no
		 * proxy retries it after a close, so it gets the answer a new
		 * request would get, never a silent close (docs/routing.md,
		 * section 5.7).
		 */
		front_reply(fd, data, len, 503, STOP_RETRY);
	} else if (reason == HANDBACK_FOREIGN_HOST && served == 0) {
		/* We routed its first request here; it disagrees. A bug. */
		log_warnx("tenant %s worker %d refused the request it was "
		    "routed; answering 421", worker_name(w), (int)w->w_pid);
		front_reply(fd, data, len, 421, 0);
	} else if (hops > MAX_HOPS) {
		tenant_stats_code(&w->w_tenant->t_stats, 503, 1);
		front_reply(fd, data, len, 503, 1);
	}
	else
		front_handback(fd, data, len, hops);
	tenant_flush(w->w_tenant);
	return 0;
}

/* Worker log lines: validated, tagged with the tenant, rate-limited. */
static int
on_log(struct worker *w, struct msg *m, int fd)
{
	char		 text[PROTO_LOG_MAX + 1];
	uint32_t	 prio;
	ev_tstamp	 now = ev_now(loop);

	if (msg_get_u32(m, &prio) == -1 ||
	    msg_get_str(m, text, sizeof(text)) == -1 || msg_end(m) == -1)
		return -1;
	if (prio > LOG_DEBUG)
		return -1;
	if (prio < LOG_ERR)
		prio = LOG_ERR;	/* a worker cannot page anyone */
	if (now - w->w_logsec >= 1.0) {
		if (w->w_loglines > WORKER_LOG_PER_SEC)
			log_warnx("tenant %s worker %d: %u log lines dropped",
			    worker_name(w), (int)w->w_pid,
			    w->w_loglines - WORKER_LOG_PER_SEC);
		w->w_logsec = now;
		w->w_loglines = 0;
	}
	if (++w->w_loglines > WORKER_LOG_PER_SEC)
		return 0;
	if (prio == LOG_DEBUG && !conf->c_verbose)
		return 0;
	{
		char	 line[PROTO_LOG_MAX + 128];

		snprintf(line, sizeof(line), "tenant %s worker %d: %s",
		    worker_name(w), (int)w->w_pid, text);
		log_emit((int)prio, line);
	}
	return 0;
}

/* A worker's counters since its last report: summed into its tenant's. */
static int
on_stats(struct worker *w, struct msg *m, int fd)
{
	struct tenant_stats	*ts = &w->w_tenant->t_stats;
	uint32_t		 n, code, count, nb, v;
	uint64_t		 bytes, lat;
	uint64_t		 hist[STATS_BUCKETS];
	uint32_t		 codes[STATS_MAX_CODES][2];
	unsigned int		 i;

	if (msg_get_u32(m, &n) == -1 || n > STATS_MAX_CODES)
		return -1;
	for (i = 0; i < n; i++) {
		if (msg_get_u32(m, &code) == -1 ||
		    msg_get_u32(m, &count) == -1 || code < 100 || code > 599)
			return -1;
		codes[i][0] = code;
		codes[i][1] = count;
	}
	if (msg_get_u64(m, &bytes) == -1 || msg_get_u64(m, &lat) == -1 ||
	    msg_get_u32(m, &nb) == -1 || nb != STATS_BUCKETS)
		return -1;
	for (i = 0; i < STATS_BUCKETS; i++) {
		if (msg_get_u32(m, &v) == -1)
			return -1;
		hist[i] = v;
	}
	if (msg_end(m) == -1)
		return -1;
	/* Decoded whole before anything is counted. */
	for (i = 0; i < n; i++)
		tenant_stats_code(ts, (int)codes[i][0], codes[i][1]);
	ts->ts_bytes += bytes;
	ts->ts_lat_sum_us += lat;
	for (i = 0; i < STATS_BUCKETS; i++)
		ts->ts_hist[i] += hist[i];
	return 0;
}

/*
 * A worker wants credits for its hold, trimmed to twice its tenant's hold
 * size (which may have just been lowered under it), or to the tenant's
 * highest price if that is more, so that any one request can be paid. A
 * worker reports what it spent before it asks, so one that already holds
 * twice that unspent is not given more: a broken or hostile worker cannot
 * reserve its tenant's whole balance, or make us write the ledger in a
 * loop. Each
 * grant is a ledger write, so the hold size sets how often a busy worker
 * comes back (docs/data-plane.md).
 */
static int
on_credit_want(struct worker *w, struct msg *m, int fd)
{
	struct tenant_rt	*t = w->w_tenant;
	uint64_t		 want, cap;

	if (msg_get_u64(m, &want) == -1 || msg_end(m) == -1 || want == 0)
		return -1;
	cap = credit_cap(t->t_lim[TL_CREDIT_HOLD], t->t_lim[TL_COST_READ],
	    t->t_lim[TL_COST_WRITE], t->t_lim[TL_COST_RUN]);
	if (want > cap)
		want = cap;
	/* One outstanding at a time (proto.h). */
	if (w->w_credit_serial != 0)
		return -1;
	/*
	 * The ledger write is the slow thread's; pool_credit_done() answers.
	 * A full queue is answered at once with nothing, as a ledger error
	 * is: the worker's requests that need credits get 402 until it asks
	 * again (docs/data-plane.md).
	 */
	if (!credit_over(w->w_granted, w->w_spent, cap)) {
		w->w_credit_serial = pool_credit_serial_next();
		if (slow_hold(t->t_id, t->t_slug, w->w_pid,
		    w->w_credit_serial, w->w_hold, (int64_t)want) == 0)
			return 0;
		w->w_credit_serial = 0;
		log_warnx("ledger: tenant %s worker %d: no credits granted: "
		    "the slow thread's queue is full", t->t_slug,
		    (int)w->w_pid);
	}
	return credit_send(w, (int64_t)want, 0);
}

/* MSG_CTL_CREDIT: what the hold grew by, and whether that fell short. */
static int
credit_send(struct worker *w, int64_t want, int64_t granted)
{
	struct msgbuf	 mb;

	w->w_granted += (uint64_t)granted;
	msg_init(&mb, MSG_CTL_CREDIT, 0);
	msg_put_u64(&mb, (uint64_t)w->w_hold);
	msg_put_u64(&mb, (uint64_t)granted);
	msg_put_u32(&mb, granted < want);
	log_debug("ledger: tenant %s worker %d hold %lld: %lld of %lld "
	    "credits granted", worker_name(w), (int)w->w_pid,
	    (long long)w->w_hold, (long long)granted, (long long)want);
	return priv_send(w, &mb);
}

/*
 * The slow thread's answer to a CREDIT_WANT, for the worker of tenant id
 * named by pid and the serial of its request. 0: it is gone (slow.c then
 * closes a hold the request opened; one it grew is closed by
 * pool_worker_exited()'s close, queued after the request). Looked up
 * among the tenant's few workers, not all of them: one answer per credit
 * grant must cost the same with 10 live workers or 10,000.
 */
int
pool_credit_done(int64_t id, pid_t pid, uint64_t serial, int64_t hold,
    int64_t want, int64_t granted)
{
	struct tenant_rt	*t;
	struct worker		*w = NULL;

	if ((t = tenant_find(id)) != NULL)
		TAILQ_FOREACH(w, &t->t_workers, w_entry)
			if (w->w_pid == pid && w->w_credit_serial == serial)
				break;
	if (w == NULL)
		return 0;
	w->w_credit_serial = 0;
	w->w_hold = hold;
	if (w->w_chan != -1 && credit_send(w, want, granted) == -1)
		worker_fault(w, "cannot send its credits");
	return 1;
}

/*
 * Credits a worker spent. Reports come in order, for its own hold, and
 * never beyond what was granted: anything else is a broken or hostile
 * worker. A report is on disk (synchronous=FULL) before we log it as
 * committed, which is what "acknowledged" means for the ledger. A report
 * the ledger could not take (busy, disk full) is lost and logged, not
 * blamed on the worker: the tenant is under-charged, never twice.
 */
static int
on_usage(struct worker *w, struct msg *m, int fd)
{
	struct tenant_rt	*t = w->w_tenant;
	uint64_t		 hold, seq, units;

	if (msg_get_u64(m, &hold) == -1 || msg_get_u64(m, &seq) == -1 ||
	    msg_get_u64(m, &units) == -1 || msg_end(m) == -1 ||
	    w->w_hold == 0 || hold != (uint64_t)w->w_hold ||
	    seq <= w->w_usage_seq || units == 0 ||
	    units > w->w_granted - w->w_spent)
		return -1;
	w->w_usage_seq = seq;
	w->w_spent += units;
	/* Committed, or logged as lost, by the slow thread's answer. */
	if (slow_usage(t->t_id, t->t_slug, w->w_hold, seq,
	    (int64_t)units) == -1)
		log_warnx("ledger: tenant %s hold %lld report %llu: %llu "
		    "credits NOT recorded: %s", t->t_slug, (long long)hold,
		    (unsigned long long)seq, (unsigned long long)units,
		    strerror(errno));
	return 0;
}

/*
 * A worker asks to run a handler for a request. Everything in the message
 * is checked here, as from any worker: the name is a plain file name, the
 * environment is NAME=value pairs, the run id is new, and the worker has
 * room. Refusals that are the worker's fault kill it; a start that fails
 * (no tenantd-run, out of processes) is a 503 for that request only.
 */
static int
on_run_request(struct worker *w, struct msg *m, int fd)
{
	static char	 strs[PROTO_MSG_MAX];
	char		*env[RUN_ENV_MAX];
	char		 handler[RUN_NAME_MAX + 1];
	struct msgbuf	 mb;
	uint32_t	 n, i;
	size_t		 off = 0, left;

	if (m->m_conn_id == 0 || msg_get_str(m, handler, sizeof(handler)) ==
	    -1 || !runarg_name_ok(handler, strlen(handler)) ||
	    msg_get_u32(m, &n) == -1 ||
	    n > RUN_ENV_MAX || priv_run_known(w, m->m_conn_id))
		return -1;
	for (i = 0; i < n; i++) {
		left = sizeof(strs) - off;
		if (msg_get_str(m, strs + off, left) == -1 ||
		    !runarg_env_ok(strs + off, strlen(strs + off)))
			return -1;
		env[i] = strs + off;
		off += strlen(strs + off) + 1;
	}
	if (msg_end(m) == -1)
		return -1;
	if (priv_runs_of(w) >= RUN_MAX_PER_WORKER || pool_stopping() ||
	    priv_run(w, m->m_conn_id, handler, env, n,
	    (int)w->w_tenant->t_lim[TL_NETWORK],
	    w->w_tenant->t_lim[TL_HANDLER_TIMEOUT]) == -1) {
		msg_init(&mb, MSG_RUN_FAILED, m->m_conn_id);
		msg_put_u32(&mb, 503);
		return priv_send(w, &mb);
	}
	return 0;
}

/*
 * A worker wants a connection to one of its tenant's persistent apps.
 * A name that is not a plain file name is the worker's fault; an app that
 * cannot start, or is in its crash backoff, is a 503 for that request.
 */
static int
on_app_connect(struct worker *w, struct msg *m, int fd)
{
	char		 name[RUN_NAME_MAX + 1];
	struct msgbuf	 mb;

	if (m->m_conn_id == 0 || msg_get_str(m, name, sizeof(name)) == -1 ||
	    !runarg_name_ok(name, strlen(name)) || msg_end(m) == -1)
		return -1;
	if (pool_stopping() || priv_app_connect(w, m->m_conn_id, name,
	    (int)w->w_tenant->t_lim[TL_NETWORK],
	    w->w_tenant->t_lim[TL_APP_IDLE]) == -1) {
		msg_init(&mb, MSG_RUN_FAILED, m->m_conn_id);
		msg_put_u32(&mb, 503);
		return priv_send(w, &mb);
	}
	return 0;
}

static int
on_run_kill(struct worker *w, struct msg *m, int fd)
{
	if (msg_end(m) == -1)
		return -1;
	priv_run_kill(w, m->m_conn_id);		/* gone already: nothing */
	return 0;
}

static int
on_pong(struct worker *w, struct msg *m, int fd)
{
	return msg_end(m);	/* worker_read() noted that it spoke */
}

/*
 * The worker states in which each message may arrive. Whether it carries
 * an fd, and its shape, are the schema's (common/msgschema.c), checked by
 * msg_check() before this table is consulted.
 */
#define ST(s)	(1u << (s))
static const struct {
	uint32_t	 type;
	unsigned int	 states;
	int		(*fn)(struct worker *, struct msg *, int);
} worker_msgs[] = {
	{ MSG_STATE_READY, ST(W_STARTING) | ST(W_DRAINING), on_ready },
	{ MSG_STATE_RETIRING, ST(W_READY) | ST(W_DRAINING), on_retiring },
	{ MSG_CONN_CLOSED, ST(W_READY) | ST(W_DRAINING), on_closed },
	{ MSG_CONN_HANDBACK, ST(W_READY) | ST(W_DRAINING), on_handback },
	{ MSG_LOG, ST(W_SPARE) | ST(W_STARTING) | ST(W_READY) |
	    ST(W_DRAINING), on_log },
	{ MSG_STATE_PONG, ST(W_READY) | ST(W_DRAINING), on_pong },
	{ MSG_STATE_STATS, ST(W_READY) | ST(W_DRAINING), on_stats },
	{ MSG_STATE_CREDIT_WANT, ST(W_READY) | ST(W_DRAINING),
	    on_credit_want },
	{ MSG_STATE_USAGE, ST(W_READY) | ST(W_DRAINING), on_usage },
	{ MSG_RUN_REQUEST, ST(W_READY) | ST(W_DRAINING), on_run_request },
	{ MSG_RUN_KILL, ST(W_READY) | ST(W_DRAINING), on_run_kill },
	{ MSG_APP_CONNECT, ST(W_READY) | ST(W_DRAINING), on_app_connect },
};

/*
 * Read and dispatch what a worker sent. Returns 1 when it stopped at its
 * per-call bound with more possibly waiting, 0 otherwise.
 */
int
worker_read(struct worker *w)
{
	static uint8_t	 buf[PROTO_MSG_MAX];
	struct msg	 m;
	ssize_t		 n;
	size_t		 i;
	int		 fd;

	/* Bounded per wakeup so one chatty worker cannot starve the rest. */
	for (int k = 0; k < 64 && w->w_chan != -1; k++) {
		n = msg_recv(w->w_chan, buf, sizeof(buf), &fd);
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n == -1 && errno == ECONNRESET) {
			/*
			 * It is gone, with messages of ours unread. The error
			 * is reported once, ahead of what it sent before it
			 * died: read on to the end, so its hand-backs are
			 * acted on (docs/routing.md, section 6).
			 */
			log_info("tenant %s worker %d (%s) died with messages "
			    "unread; reading what it sent", worker_name(w),
			    (int)w->w_pid, worker_state_str(w->w_state));
			continue;
		}
		if (n == 0) {
			/* It exited or closed the channel; reaping follows. */
			worker_detach(w);
			priv_kill(w);
			return 0;
		}
		if (n == -1) {
			worker_fault(w, "unreadable message");
			return 0;
		}
		if (msg_parse(&m, buf, (size_t)n) == -1) {
			if (fd != -1)
				close(fd);
			worker_fault(w, "malformed message");
			return 0;
		}
		for (i = 0; i < sizeof(worker_msgs) / sizeof(worker_msgs[0]);
		    i++)
			if (worker_msgs[i].type == m.m_type)
				break;
		w->w_heard = ev_now(loop);
		w->w_ping = 0;
		if (msg_check(&m, fd != -1, CHAN_WORKER, DIR_UP) == -1 ||
		    i == sizeof(worker_msgs) / sizeof(worker_msgs[0]) ||
		    !(worker_msgs[i].states & ST(w->w_state)) ||
		    worker_msgs[i].fn(w, &m, fd) == -1) {
			char	 why[96];

			if (fd != -1)
				close(fd);
			snprintf(why, sizeof(why), "unpermitted or malformed "
			    "%s", msg_type_str(m.m_type));
			worker_fault(w, why);
			return 0;
		}
	}
	return w->w_chan != -1;
}

void
worker_read_cb(struct ev_loop *l, ev_io *io, int revents)
{
	worker_read(io->data);
}
