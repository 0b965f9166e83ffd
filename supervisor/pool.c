/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Workers: a pool of spares, each tenant's live workers, the hand-off of
 * connections to them and their return. Trust is one-way
 * (docs/architecture.md, section 4): every worker message passes a per-state
 * permission table (wproto.c), and anything unexpected or malformed kills
 * that worker, never the supervisor.
 *
 * Per worker:   SPARE --bind--> STARTING --READY--> READY --drain--> DRAINING
 *                  \______________ \_______________ \_______________ --> DEAD
 *
 * Every change of state is one of worker_step()'s table (decide.c), made
 * by worker_set_state(); the choices (which worker, whether to start one,
 * evict one, queue or refuse, how many credits) are decide.c's too, and
 * this file applies them. What the pool reports is status.c's.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "backoff.h"
#include "log.h"
#include "proto.h"
#include "supervisor.h"
#include "pool_int.h"

#define TENANT_BUCKETS		4096
#define WORKER_OUTQ_MAX		32
#define SPARE_RETRY		1.0
#define WATCHDOG_IDLE		5.0	/* seconds of silence before a ping */

struct daemon_stats	 dstats;
static struct tenant_rt	*tenants[TENANT_BUCKETS];
static struct worker_list spares = TAILQ_HEAD_INITIALIZER(spares);
static struct worker_list all_workers = TAILQ_HEAD_INITIALIZER(all_workers);
static unsigned int	 nspares, nworkers;
static uint32_t		 next_conn_id;
static ev_timer		 spare_timer;
static ev_tstamp	 spare_next;
static unsigned int	 spare_failures;
static int		 shutting_down;
static unsigned int	 nevicting;
static uint64_t		 masters_stamp;
static int		 masters_known;
static ev_timer		 storage_timer;
static ev_timer		 sweep_timer;
static uint64_t		 credit_serial;

static void	worker_write_cb(struct ev_loop *, ev_io *, int);
static void	worker_timer_cb(struct ev_loop *, ev_timer *, int);
static void	tenant_timer_cb(struct ev_loop *, ev_timer *, int);
static void	storage_timer_cb(struct ev_loop *, ev_timer *, int);
static void	pool_storage_walk(struct tenant_rt *);
static void	spare_fill(void);

const char *
worker_name(const struct worker *w)
{
	return w->w_tenant != NULL ? w->w_tenant->t_slug : "(spare)";
}

/*
 * The pool's state that the worker protocol (wproto.c) acts on, kept
 * static here so that only these change it.
 */
void
pool_spare_ok(void)
{
	spare_failures = 0;
}

int
pool_stopping(void)
{
	return shutting_down;
}

uint64_t
pool_credit_serial_next(void)
{
	return ++credit_serial;
}

/*
 * The tenant after t in the table (the first with NULL), for status.c,
 * which reports on the pool and changes nothing in it.
 */
const struct tenant_rt *
pool_tenant_next(const struct tenant_rt *t)
{
	size_t	 b = 0;

	if (t != NULL) {
		if (t->t_hnext != NULL)
			return t->t_hnext;
		b = (uint64_t)t->t_id % TENANT_BUCKETS + 1;
	}
	for (; b < TENANT_BUCKETS; b++)
		if (tenants[b] != NULL)
			return tenants[b];
	return NULL;
}

struct tenant_rt *
tenant_find(int64_t id)
{
	struct tenant_rt	*t;

	for (t = tenants[(uint64_t)id % TENANT_BUCKETS]; t != NULL;
	    t = t->t_hnext)
		if (t->t_id == id)
			return t;
	return NULL;
}

/*
 * The tenant's limits from the root half. If they cannot be read (a
 * broken profile file), the built-in defaults hold rather than none.
 */
static void
tenant_limits_load(struct tenant_rt *t)
{
	struct tlimits	 tl;

	if (priv_limits(t->t_id, t->t_slug, t->t_lim) == -1) {
		tlimits_defaults(&tl);
		memcpy(t->t_lim, tl.tl_val, sizeof(t->t_lim));
	}
}

/* Workers that count for a rate share: those starting or serving. */
static unsigned int
tenant_live(const struct tenant_rt *t)
{
	const struct worker	*w;
	unsigned int		 n = 0;

	TAILQ_FOREACH(w, &t->t_workers, w_entry)
		if (w->w_state == W_READY || w->w_state == W_STARTING)
			n++;
	return n;
}

/* Connections of the tenant in its workers and waiting for one. */
static unsigned int
tenant_conns(const struct tenant_rt *t)
{
	const struct worker	*w;
	unsigned int		 n = t->t_nqueue;

	TAILQ_FOREACH(w, &t->t_workers, w_entry)
		n += w->w_nrefs + w->w_noutq;
	return n;
}

/*
 * Send a worker the limits that changed (lim_old NULL: none did) and its
 * rate share if that changed, in one CFG_DATA.
 */
static int
worker_send_data(struct worker *w, const uint64_t *lim_old, int storage)
{
	struct tenant_rt	*t = w->w_tenant;
	struct msgbuf		 mb;
	uint64_t		 share;
	uint32_t		 n = 0;
	int			 i;

	share = rate_share(t->t_lim[TL_REQUESTS_PER_MINUTE], tenant_live(t));
	msg_init(&mb, MSG_CFG_DATA, 0);
	msg_put_u32(&mb, 0);	/* the count, set below */
	for (i = 1; i < TL_MAX; i++) {
		if (i == TL_REQUESTS_PER_MINUTE) {
			if (share == w->w_rate)
				continue;
			w->w_rate = share;
		} else if (lim_old == NULL || lim_old[i] == t->t_lim[i])
			continue;
		msg_put_u32(&mb, (uint32_t)i);
		msg_put_u64(&mb, i == TL_REQUESTS_PER_MINUTE ? share :
		    t->t_lim[i]);
		n++;
	}
	if (storage) {
		msg_put_u32(&mb, DATA_STORAGE_OTHER);
		msg_put_u64(&mb, t->t_storage);
		n++;
	}
	if (n == 0)
		return 0;
	/* The count leads the payload, after the header. */
	memcpy(mb.mb_data + PROTO_HDR_LEN, &n, sizeof(n));
	return priv_send(w, &mb);
}

/* Workers came or went: each one's share of the rate follows. */
void
tenant_rate_update(struct tenant_rt *t)
{
	struct worker	*w;

	TAILQ_FOREACH(w, &t->t_workers, w_entry)
		if (w->w_state == W_READY && w->w_chan != -1 &&
		    worker_send_data(w, NULL, 0) == -1)
			worker_fault(w, "cannot send its rate share");
}

static struct tenant_rt *
tenant_get(const struct route *r)
{
	struct tenant_rt	*t;
	size_t			 b = (uint64_t)r->r_tenant % TENANT_BUCKETS;

	if ((t = tenant_find(r->r_tenant)) != NULL) {
		t->t_status = r->r_status;
		return t;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->t_id = r->r_tenant;
	snprintf(t->t_slug, sizeof(t->t_slug), "%s", r->r_slug);
	t->t_status = r->r_status;
	tenant_limits_load(t);
	TAILQ_INIT(&t->t_workers);
	TAILQ_INIT(&t->t_queue);
	ev_timer_init(&t->t_timer, tenant_timer_cb, 0., 0.);
	t->t_timer.data = t;
	t->t_hnext = tenants[b];
	tenants[b] = t;
	return t;
}

static struct handoff *
handoff_new(int fd, const uint8_t *data, size_t len, unsigned int hops)
{
	struct handoff	*ho;

	if ((ho = malloc(sizeof(*ho) + len)) == NULL)
		return NULL;
	ho->ho_fd = fd;
	ho->ho_hops = hops;
	ho->ho_len = len;
	memcpy(ho->ho_data, data, len);
	dstats.ds_queued++;
	return ho;
}

void
tenant_stats_code(struct tenant_stats *ts, int code, uint64_t n)
{
	unsigned int	 i;

	for (i = 0; i < ts->ts_ncodes; i++)
		if (ts->ts_code[i] == code)
			break;
	if (i == ts->ts_ncodes) {
		if (ts->ts_ncodes == STATS_MAX_CODES)
			i = STATS_MAX_CODES - 1;	/* the rest share one */
		else {
			ts->ts_code[i] = (uint16_t)code;
			ts->ts_ncodes++;
		}
	}
	ts->ts_count[i] += n;
}

static void
handoff_fail(struct handoff *ho, int status, unsigned int retry)
{
	dstats.ds_queued--;
	front_reply(ho->ho_fd, ho->ho_data, ho->ho_len, status,
	    status == 503 ? retry : 0);
	free(ho);
}

/* Answer every waiting connection of a tenant, e.g. when it cannot start. */
static void
tenant_fail_queue(struct tenant_rt *t, int status, unsigned int retry)
{
	struct handoff	*ho;

	while ((ho = TAILQ_FIRST(&t->t_queue)) != NULL) {
		TAILQ_REMOVE(&t->t_queue, ho, ho_entry);
		t->t_nqueue--;
		tenant_stats_code(&t->t_stats, status, 1);
		handoff_fail(ho, status, retry);
	}
}

/* How long after a start the next one may come: throttle, then backoff. */
static ev_tstamp
tenant_delay(const struct tenant_rt *t)
{
	return backoff_delay(t->t_failures, conf->c_backoff_min_ms,
	    conf->c_backoff_max_ms);
}

/*
 * A start failed or a young worker died: count it, and back off. The
 * reason is kept for tenantctl status, which says why a tenant is refused.
 */
static void
tenant_failure(struct tenant_rt *t, ev_tstamp since, const char *fmt, ...)
{
	va_list		 ap;
	ev_tstamp	 wait;

	va_start(ap, fmt);
	vsnprintf(t->t_backoff_why, sizeof(t->t_backoff_why), fmt, ap);
	va_end(ap);
	t->t_failures++;
	t->t_stats.ts_crashes++;
	t->t_next_start = since + tenant_delay(t);
	wait = t->t_next_start - ev_now(loop);
	log_warnx("tenant %s: %u crashes in a row, next start in %.1fs: %s",
	    t->t_slug, t->t_failures, wait > 0 ? wait : 0, t->t_backoff_why);
}

/* tenantctl restart, or a resume: the tally and its backoff are gone. */
static void
tenant_backoff_clear(struct tenant_rt *t)
{
	t->t_failures = 0;
	t->t_next_start = 0;
	t->t_backoff_why[0] = '\0';
	ev_timer_stop(loop, &t->t_timer);
}

static struct worker *
worker_alloc(void)
{
	struct worker	*w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	if ((w->w_refs = calloc(conf->c_conns_per_worker,
	    sizeof(*w->w_refs))) == NULL) {
		free(w);
		return NULL;
	}
	w->w_pidfd = w->w_chan = -1;
	TAILQ_INIT(&w->w_outq);
	return w;
}

static int
worker_spawn(struct worker *w)
{
	if (priv_spawn(w) == -1)
		return -1;
	dstats.ds_spawns++;
	ev_io_init(&w->w_rev, worker_read_cb, w->w_chan, EV_READ);
	ev_io_init(&w->w_wev, worker_write_cb, w->w_chan, EV_WRITE);
	ev_timer_init(&w->w_timer, worker_timer_cb, 0., 0.);
	w->w_rev.data = w->w_wev.data = w->w_timer.data = w;
	ev_io_start(loop, &w->w_rev);
	TAILQ_INSERT_TAIL(&all_workers, w, w_all);
	nworkers++;
	return 0;
}

/* Stop talking to a worker; it is freed when it has been reaped. */
void
worker_detach(struct worker *w)
{
	ev_io_stop(loop, &w->w_rev);
	ev_io_stop(loop, &w->w_wev);
	ev_timer_stop(loop, &w->w_timer);
	if (w->w_chan != -1)
		close(w->w_chan);
	w->w_chan = -1;
}

/*
 * A worker broke the protocol or missed a deadline: kill it. Its death is
 * handled (and counted against its tenant) when it is reaped.
 */
void
worker_fault(struct worker *w, const char *why)
{
	log_warnx("tenant %s worker %d (%s): %s; killing it", worker_name(w),
	    (int)w->w_pid, worker_state_str(w->w_state), why);
	/* Signal first: closing the channel could let it exit "cleanly". */
	priv_kill(w);
	worker_detach(w);
}

/*
 * The one place a worker changes state. The table in decide.c says
 * whether the event can happen in its state; one that cannot is a bug of
 * ours (worker_msgs[] screens what a worker sends), but the worker's
 * state can no longer be trusted, so it is killed and the supervisor goes
 * on. The caller leaves the worker in the lists of the state it had, where
 * its reaping looks for it. Returns 1 when it moved, 0 when the event
 * changes nothing, -1 when it was refused and the worker killed.
 */
int
worker_set_state(struct worker *w, enum worker_event ev)
{
	struct worker_step	 st = worker_step(w->w_state, ev);
	char			 line[160];

	switch (st.ws_action) {
	case WA_MOVE:
		log_debug("tenant %s worker %d: %s -> %s (%s)", worker_name(w),
		    (int)w->w_pid, worker_state_str(w->w_state),
		    worker_state_str(st.ws_next), worker_event_str(ev));
		w->w_state = st.ws_next;
		return 1;
	case WA_STAY:
		return 0;
	case WA_REFUSE:
		break;
	}
	snprintf(line, sizeof(line), "tenant %s worker %d: impossible state "
	    "change, %s in state %s: a supervisor bug", worker_name(w),
	    (int)w->w_pid, worker_event_str(ev), worker_state_str(w->w_state));
	log_emit(LOG_CRIT, line);
	worker_fault(w, "impossible state change");
	return -1;
}

/*
 * CTL_DRAIN, which is also the last word on new connections: the channel
 * keeps order, so every CONN_NEW we sent before it reaches the worker
 * first, and the worker exits only once it has read this (worker.c,
 * worker_maybe_exit()).
 */
void
worker_drain_send(struct worker *w, enum drain_mode mode)
{
	struct msgbuf		 mb;

	msg_init(&mb, MSG_CTL_DRAIN, 0);
	msg_put_u32(&mb, mode);
	if (msg_finish(&mb) == -1 || msg_send(w->w_chan, &mb, -1) == -1)
		worker_fault(w, "cannot send DRAIN");
}

static void
worker_drain(struct worker *w, enum drain_mode mode)
{
	enum worker_state	 was = w->w_state;

	if (worker_set_state(w, WE_DRAIN) != 1)
		return;
	/* The idle timer goes; a starting worker keeps its start watchdog. */
	if (was == W_READY)
		ev_timer_stop(loop, &w->w_timer);
	worker_drain_send(w, mode);
}

static void
worker_ping(struct worker *w)
{
	struct msgbuf	 mb;

	msg_init(&mb, MSG_CTL_PING, 0);
	if (msg_finish(&mb) == -1 || msg_send(w->w_chan, &mb, -1) == -1) {
		if (errno == EAGAIN)
			w->w_ping = ev_now(loop);	/* full: deaf, likely */
		else
			worker_fault(w, "cannot send PING");
		return;
	}
	w->w_ping = ev_now(loop);
}

static unsigned int
worker_load(const struct worker *w)
{
	return w->w_nrefs + w->w_noutq;
}

void
worker_idle_check(struct worker *w)
{
	if (w->w_state != W_READY)
		return;
	ev_timer_stop(loop, &w->w_timer);
	if (worker_load(w) == 0) {
		ev_timer_set(&w->w_timer, conf->c_idle_timeout_ms / 1000.0, 0.);
		ev_timer_start(loop, &w->w_timer);
	}
}

/*
 * Hand one connection to a worker: the fd and the bytes already read ride
 * on one SEQPACKET message. Our copy of the fd is closed only once the send
 * has succeeded (docs/security.md, item 53); until then the connection is
 * still ours. Returns 0 when sent, 1 when queued on the worker, -1 when it
 * could not.
 */
static int
worker_send_conn(struct worker *w, struct handoff *ho)
{
	struct msgbuf	 mb;
	struct stat	 st;
	struct conn_ref	*ref;

	if (w->w_noutq > 0) {
		if (w->w_noutq >= WORKER_OUTQ_MAX)
			return -1;
		TAILQ_INSERT_TAIL(&w->w_outq, ho, ho_entry);
		w->w_noutq++;
		return 1;
	}
	if (w->w_nrefs >= conf->c_conns_per_worker ||
	    fstat(ho->ho_fd, &st) == -1)
		return -1;
	if (++next_conn_id == 0)
		next_conn_id = 1;
	msg_init(&mb, MSG_CONN_NEW, next_conn_id);
	msg_put_rest(&mb, ho->ho_data, ho->ho_len);
	if (msg_finish(&mb) == -1)
		return -1;
	if (msg_send(w->w_chan, &mb, ho->ho_fd) == -1) {
		if (errno != EAGAIN) {
			worker_fault(w, "cannot send a connection");
			return -1;
		}
		/* The worker is not keeping up: queue, bounded. */
		TAILQ_INSERT_TAIL(&w->w_outq, ho, ho_entry);
		w->w_noutq++;
		ev_io_start(loop, &w->w_wev);
		return 1;
	}
	ref = &w->w_refs[w->w_nrefs++];
	ref->cr_id = next_conn_id;
	ref->cr_dev = st.st_dev;
	ref->cr_ino = st.st_ino;
	ref->cr_hops = ho->ho_hops;
	dstats.ds_handoffs++;
	if (w->w_tenant != NULL)
		w->w_tenant->t_stats.ts_handoffs++;
	close(ho->ho_fd);
	dstats.ds_queued--;
	free(ho);
	ev_timer_stop(loop, &w->w_timer);
	return 0;
}

/* The worker of t that takes the next connection (pick_better()). */
static struct worker *
tenant_pick(struct tenant_rt *t)
{
	struct worker	*w, *best = NULL;

	TAILQ_FOREACH(w, &t->t_workers, w_entry)
		if (pick_better(w->w_state, w->w_chan != -1, worker_load(w),
		    conf->c_conns_per_worker, best == NULL ? UINT_MAX :
		    worker_load(best)))
			best = w;
	return best;
}

/* Move waiting connections to ready workers with room. */
void
tenant_flush(struct tenant_rt *t)
{
	struct handoff	*ho;
	struct worker	*w;
	int		 r;

	while ((ho = TAILQ_FIRST(&t->t_queue)) != NULL &&
	    (w = tenant_pick(t)) != NULL) {
		TAILQ_REMOVE(&t->t_queue, ho, ho_entry);
		t->t_nqueue--;
		if ((r = worker_send_conn(w, ho)) == -1)
			handoff_fail(ho, 503, 1);
	}
}

/* An idle worker of another tenant, to make room under max_workers. */
static int
pool_evict_idle(const struct tenant_rt *except)
{
	struct worker	*w, *victim = NULL;

	/* One eviction at a time: its exit frees the slot we are after. */
	if (nevicting > 0)
		return 0;
	TAILQ_FOREACH(w, &all_workers, w_all)
		if (evict_better(w->w_state, w->w_tenant == except,
		    worker_load(w), w->w_ready_at, victim != NULL,
		    victim != NULL ? victim->w_ready_at : 0))
			victim = w;
	if (victim == NULL)
		return -1;
	log_debug("evicting idle worker %d of %s", (int)victim->w_pid,
	    victim->w_tenant->t_slug);
	victim->w_evicted = 1;
	nevicting++;
	worker_drain(victim, DRAIN_HANDBACK);
	return 0;
}

/* Start one more worker for t: a spare if we have one, else a fresh exec. */
static void
tenant_start(struct tenant_rt *t)
{
	struct worker	*w, *o;
	struct route	 r;
	uint64_t	 old[TL_MAX];
	int		 rc;

	if ((w = TAILQ_FIRST(&spares)) != NULL) {
		TAILQ_REMOVE(&spares, w, w_entry);
		nspares--;
	} else {
		if ((w = worker_alloc()) == NULL || worker_spawn(w) == -1) {
			if (w != NULL) {
				free(w->w_refs);
				free(w);
			}
			tenant_failure(t, ev_now(loop), "cannot spawn a "
			    "worker");
			tenant_fail_queue(t, 503, 1 + (unsigned int)tenant_delay(t));
			return;
		}
	}
	/* Refused, it is still a spare, and is reaped as one. */
	if (worker_set_state(w, WE_BIND) == -1) {
		TAILQ_INSERT_HEAD(&spares, w, w_entry);
		nspares++;
		return;
	}
	w->w_tenant = t;
	w->w_bound = ev_now(loop);
	TAILQ_INSERT_TAIL(&t->t_workers, w, w_entry);
	t->t_nworkers++;
	t->t_next_start = ev_now(loop) + tenant_delay(t);
	/*
	 * Fresh limits for the new worker; the others keep what they have
	 * until the registry says something changed.
	 */
	memcpy(old, t->t_lim, sizeof(old));
	tenant_limits_load(t);
	/* A policy file may have changed: the running workers learn it too. */
	TAILQ_FOREACH(o, &t->t_workers, w_entry)
		if (o != w && o->w_state == W_READY && o->w_chan != -1 &&
		    worker_send_data(o, old, 0) == -1)
			worker_fault(o, "cannot send its limits");
	w->w_rate = rate_share(t->t_lim[TL_REQUESTS_PER_MINUTE],
	    tenant_live(t));
	/*
	 * The bind carries the last figure measured (0 at the tenant's first
	 * start); the walk runs on the slow thread and its result follows
	 * as a CFG_DATA update, so a tree of a million entries does not
	 * delay this start or anyone's routing (docs/data-plane.md).
	 */
	pool_storage_walk(t);
	if ((rc = priv_bind(w, t->t_id, t->t_lim, tenant_live(t),
	    t->t_storage)) != 0) {
		if (rc == -2) {
			worker_fault(w, "bind failed");
			return;
		}
		/* Nothing was sent: it is still a clean spare. */
		TAILQ_REMOVE(&t->t_workers, w, w_entry);
		t->t_nworkers--;
		w->w_tenant = NULL;
		w->w_bound = 0;
		if (worker_set_state(w, WE_UNBIND) == 1) {
			TAILQ_INSERT_HEAD(&spares, w, w_entry);
			nspares++;
		}
		if (rc == -1) {	/* unsafe to start (its directory): back off */
			tenant_failure(t, ev_now(loop), "refused to start it "
			    "as unsafe (its directory, uid or gid; see the "
			    "log)");
			tenant_fail_queue(t, 503, 1 +
			    (unsigned int)tenant_delay(t));
		} else		/* no longer active: deleted or suspended */
			tenant_fail_queue(t, priv_tenant(t->t_id, &r) == 0 &&
			    r.r_status == TENANT_SUSPENDED ? 503 : 404, 60);
		return;
	}
	t->t_stats.ts_spawns++;
	t->t_stats.ts_last_start = w->w_bound;
	ev_timer_set(&w->w_timer, conf->c_start_timeout_ms / 1000.0, 0.);
	ev_timer_start(loop, &w->w_timer);
	spare_fill();
}

/*
 * Does t need another worker? kick_decide() says, from plain counts and
 * times; this gathers them and acts.
 */
void
tenant_kick(struct tenant_rt *t)
{
	struct worker	*w;
	struct kick_in	 ki;

	tenant_flush(t);
	memset(&ki, 0, sizeof(ki));
	ki.ki_queued = t->t_nqueue;
	ki.ki_stopping = shutting_down;
	TAILQ_FOREACH(w, &t->t_workers, w_entry) {
		if (w->w_state == W_STARTING)
			ki.ki_starting = 1;
		if (w->w_state == W_READY)
			ki.ki_ready++;
	}
	ki.ki_per_tenant = conf->c_workers_per_tenant;
	ki.ki_max_workers = t->t_lim[TL_MAX_WORKERS];
	ki.ki_queue_max = conf->c_queue_max;
	ki.ki_wait = t->t_next_start - ev_now(loop);
	ki.ki_start_timeout_ms = conf->c_start_timeout_ms;
	ki.ki_workers = nworkers;
	ki.ki_spares = nspares;
	ki.ki_pool_max = conf->c_max_workers;
	switch (kick_decide(&ki)) {
	case KICK_NOTHING:
		break;
	case KICK_OVERFLOW:
		tenant_fail_queue(t, 503, 1);
		break;
	case KICK_TOO_LONG:
		tenant_fail_queue(t, 503, (unsigned int)ceil(ki.ki_wait));
		break;
	case KICK_WAIT:
		if (!ev_is_active(&t->t_timer)) {
			ev_timer_set(&t->t_timer, ki.ki_wait, 0.);
			ev_timer_start(loop, &t->t_timer);
		}
		break;
	case KICK_EVICT:
		/* Retried when the evicted worker exits. */
		if (pool_evict_idle(t) == -1)
			tenant_fail_queue(t, 503, 1);
		break;
	case KICK_START:
		tenant_start(t);
		break;
	}
}

static void
tenant_timer_cb(struct ev_loop *l, ev_timer *tm, int revents)
{
	tenant_kick(tm->data);
}

void
pool_dispatch(const struct route *r, int fd, const uint8_t *data,
    size_t len, unsigned int hops)
{
	struct tenant_rt	*t;
	struct handoff		*ho;
	struct worker		*w;

	if ((t = tenant_get(r)) == NULL || shutting_down ||
	    (ho = handoff_new(fd, data, len, hops)) == NULL) {
		/* Stopping: a request handed back by a draining worker. */
		front_reply(fd, data, len, 503, shutting_down ? STOP_RETRY :
		    1);
		return;
	}
	ho->ho_since = ev_now(loop);
	w = tenant_pick(t);
	switch (admit_conn(tenant_conns(t), t->t_lim[TL_MAX_CONNECTIONS],
	    w != NULL, t->t_nqueue, conf->c_queue_max)) {
	case AD_REFUSE:
		tenant_stats_code(&t->t_stats, 503, 1);
		handoff_fail(ho, 503, 1);
		break;
	case AD_HAND:
		if (worker_send_conn(w, ho) == -1)
			handoff_fail(ho, 503, 1);
		break;
	case AD_QUEUE:
		TAILQ_INSERT_TAIL(&t->t_queue, ho, ho_entry);
		t->t_nqueue++;
		tenant_kick(t);
		break;
	}
}

/* The socket buffer to a worker has room again: send its queue. */
static void
worker_write_cb(struct ev_loop *l, ev_io *io, int revents)
{
	struct worker	*w = io->data;
	struct handoff	*ho;
	int		 r;

	ev_io_stop(l, io);
	while ((ho = TAILQ_FIRST(&w->w_outq)) != NULL) {
		TAILQ_REMOVE(&w->w_outq, ho, ho_entry);
		w->w_noutq--;
		if ((r = worker_send_conn(w, ho)) == 1)
			return;		/* re-queued, watcher restarted */
		if (r == -1) {
			handoff_fail(ho, 503, 1);
			return;
		}
	}
}

static void
worker_timer_cb(struct ev_loop *l, ev_timer *tm, int revents)
{
	struct worker	*w = tm->data;

	if (w->w_state == W_STARTING || (w->w_state == W_DRAINING &&
	    w->w_ready_at == 0))
		worker_fault(w, "not ready within start_timeout");
	else if (w->w_state == W_READY && worker_load(w) == 0) {
		log_debug("tenant %s worker %d idle, retiring",
		    worker_name(w), (int)w->w_pid);
		worker_drain(w, DRAIN_HANDBACK);
	}
}

/*
 * Reaped. Connections still queued on it go back to its tenant's queue;
 * connections it held are gone with it. An early or abnormal death counts
 * against the tenant and lengthens its backoff.
 */
void
pool_worker_exited(struct worker *w, int status)
{
	struct tenant_rt	*t = w->w_tenant;
	struct handoff		*ho;
	ev_tstamp		 age = ev_now(loop) - (w->w_tenant != NULL ?
	    w->w_bound : w->w_started);
	enum worker_state	 state = w->w_state;
	int			 abnormal;
	char			 how[64];

	/*
	 * libev may run the child watcher before the channel's read watcher
	 * in the same iteration: read what the worker said before it died
	 * (a hand-back, CONN_CLOSED, RETIRING, its last log lines) first.
	 */
	if (w->w_state == W_READY)
		(void)worker_set_state(w, WE_DRAIN);	/* route nothing to it */
	while (worker_read(w) == 1)
		;
	worker_detach(w);
	/* What follows is about the state it was in when it died. */
	(void)worker_set_state(w, WE_REAPED);
	if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "terminated; signal %d",
		    WTERMSIG(status));
	else
		snprintf(how, sizeof(how), "exited; status %d",
		    WEXITSTATUS(status));
	abnormal = WIFSIGNALED(status) || WEXITSTATUS(status) != 0;
	/* At a stop we kill spares ourselves: that is no loss to report. */
	if (!shutting_down && (abnormal || state == W_STARTING ||
	    state == W_SPARE))
		log_warnx("lost worker: tenant %s pid %d (%s, %.1fs old, "
		    "%u connections): %s", worker_name(w), (int)w->w_pid,
		    worker_state_str(state), age, w->w_nrefs, how);
	else
		log_debug("worker of %s pid %d ended: %s", worker_name(w),
		    (int)w->w_pid, how);
	TAILQ_REMOVE(&all_workers, w, w_all);
	nworkers--;
	dstats.ds_deaths++;
	if (w->w_evicted)
		nevicting--;
	priv_runs_orphan(w);
	/*
	 * What it took and did not report: after a clean exit it reported
	 * all it spent, and the rest is free again; after a crash, a kill or
	 * an error exit we cannot know, and charge it all, or a tenant could
	 * spend for nothing by crashing its worker (docs/data-plane.md).
	 */
	if (t != NULL && w->w_hold != 0 && slow_hold_close(t->t_id,
	    t->t_slug, w->w_hold, w->w_usage_seq + 1, abnormal ?
	    (int64_t)(w->w_granted - w->w_spent) : 0) == -1)
		log_warnx("tenant %s: ledger: hold %lld left open until the "
		    "next start: %s", t->t_slug, (long long)w->w_hold,
		    strerror(errno));
	if (t != NULL) {
		t->t_stats.ts_last_exit = ev_now(loop);
		snprintf(t->t_stats.ts_last_exit_how,
		    sizeof(t->t_stats.ts_last_exit_how), "%s after %.1fs: %s",
		    worker_state_str(state), age, how);
	}

	if (state == W_SPARE) {
		TAILQ_REMOVE(&spares, w, w_entry);
		nspares--;
		spare_failures++;
		spare_next = ev_now(loop) + SPARE_RETRY *
		    (spare_failures > 6 ? 64 : (1 << spare_failures));
	} else if (t != NULL) {
		TAILQ_REMOVE(&t->t_workers, w, w_entry);
		t->t_nworkers--;
		switch (backoff_on_exit(state == W_STARTING, abnormal,
		    age, conf->c_crash_window_ms)) {
		case BX_CRASH:
			if (state != W_STARTING) {
				tenant_failure(t, w->w_bound, "a worker died "
				    "%.1fs after its start: %s", age, how);
				break;
			}
			/*
			 * It never got ready: the next start would most likely
			 * fail the same way, so whoever waits gets an answer
			 * now instead of a string of retries.
			 */
			tenant_failure(t, w->w_bound, "a worker died while "
			    "starting: %s", how);
			tenant_fail_queue(t, 503, (unsigned int)ceil(
			    tenant_delay(t)));
			break;
		case BX_CLEAR:
			t->t_failures = 0;
			break;
		case BX_NONE:
			break;
		}
		while ((ho = TAILQ_LAST(&w->w_outq, handoff_list)) != NULL) {
			TAILQ_REMOVE(&w->w_outq, ho, ho_entry);
			TAILQ_INSERT_HEAD(&t->t_queue, ho, ho_entry);
			t->t_nqueue++;
		}
		tenant_rate_update(t);
		tenant_kick(t);
	}
	free(w->w_refs);
	free(w);
	if (shutting_down)
		return;		/* tenantd.c's stop poll decides when to exit */
	/* A slot is free: a tenant waiting under max_workers may go. */
	for (size_t b = 0; b < TENANT_BUCKETS; b++)
		for (t = tenants[b]; t != NULL; t = t->t_hnext)
			if (t->t_nqueue > 0)
				tenant_kick(t);
	spare_fill();
}

static void
spare_timer_cb(struct ev_loop *l, ev_timer *tm, int revents)
{
	spare_fill();
}

/* Keep `spares` unbound workers exec'd and waiting. */
static void
spare_fill(void)
{
	struct worker	*w;
	ev_tstamp	 now = ev_now(loop);

	if (shutting_down)
		return;
	while (nspares < conf->c_spares && nworkers < conf->c_max_workers) {
		if (now < spare_next) {
			if (!ev_is_active(&spare_timer)) {
				ev_timer_set(&spare_timer, spare_next - now,
				    0.);
				ev_timer_start(loop, &spare_timer);
			}
			return;
		}
		if ((w = worker_alloc()) == NULL || worker_spawn(w) == -1) {
			if (w != NULL) {
				free(w->w_refs);
				free(w);
			}
			spare_failures++;
			spare_next = now + SPARE_RETRY * (spare_failures > 6 ?
			    64 : (1 << spare_failures));
			continue;
		}
		/* Born a spare: W_SPARE is 0. */
		TAILQ_INSERT_TAIL(&spares, w, w_entry);
		nspares++;
	}
}

/*
 * No connection waits for a worker longer than start_timeout, whatever it
 * is waiting for (a start, a backoff, an eviction): it gets 503 instead.
 */
static void
sweep_timer_cb(struct ev_loop *l, ev_timer *tm, int revents)
{
	struct tenant_rt	*t;
	struct handoff		*ho;
	ev_tstamp		 limit = ev_now(l) - conf->c_start_timeout_ms /
	    1000.0;
	size_t			 b;

	struct worker		*w, *tmp;

	for (b = 0; b < TENANT_BUCKETS; b++)
		for (t = tenants[b]; t != NULL; t = t->t_hnext)
			while ((ho = TAILQ_FIRST(&t->t_queue)) != NULL &&
			    ho->ho_since < limit) {
				TAILQ_REMOVE(&t->t_queue, ho, ho_entry);
				t->t_nqueue--;
				tenant_stats_code(&t->t_stats, 503, 1);
				handoff_fail(ho, 503, 1);
			}
	/*
	 * A worker that has not read its channel for that long is hung (or
	 * hostile, docs/security.md, item 58): its queued connections get 503
	 * and it goes.
	 */
	for (w = TAILQ_FIRST(&all_workers); w != NULL; w = tmp) {
		tmp = TAILQ_NEXT(w, w_all);
		if ((ho = TAILQ_FIRST(&w->w_outq)) == NULL ||
		    ho->ho_since >= limit)
			continue;
		while ((ho = TAILQ_FIRST(&w->w_outq)) != NULL) {
			TAILQ_REMOVE(&w->w_outq, ho, ho_entry);
			w->w_noutq--;
			if (w->w_tenant != NULL)
				tenant_stats_code(&w->w_tenant->t_stats, 503, 1);
			handoff_fail(ho, 503, 1);
		}
		worker_fault(w, "not reading its channel");
	}
	/*
	 * Watchdog: a worker holding connections that has said nothing for
	 * a while is pinged; no answer within start_timeout means it is
	 * hung or deaf (docs/security.md, item 58), and the connections it
	 * holds are lost anyway.
	 */
	for (w = TAILQ_FIRST(&all_workers); w != NULL; w = tmp) {
		tmp = TAILQ_NEXT(w, w_all);
		if ((w->w_state != W_READY && w->w_state != W_DRAINING) ||
		    w->w_chan == -1)
			continue;
		if (w->w_ping != 0) {
			if (w->w_ping < limit)
				worker_fault(w, "not answering its watchdog");
			continue;
		}
		if (w->w_nrefs > 0 && ev_now(l) - w->w_heard > WATCHDOG_IDLE)
			worker_ping(w);
	}
}

/* After a reload: the spare pool follows [workers] spares up and down. */
void
pool_reconfigure(void)
{
	struct worker	*w;

	while (nspares > conf->c_spares && (w = TAILQ_LAST(&spares,
	    worker_list)) != NULL) {
		/* Refused, it stays among the spares until it is reaped. */
		if (worker_set_state(w, WE_SHED) == -1)
			break;
		TAILQ_REMOVE(&spares, w, w_entry);
		nspares--;
		/* An unbound spare exits cleanly when its channel closes. */
		worker_detach(w);
	}
	spare_fill();
}

void
pool_init(void)
{
	ev_timer_init(&spare_timer, spare_timer_cb, 0., 0.);
	ev_timer_init(&sweep_timer, sweep_timer_cb, 1., 1.);
	ev_timer_start(loop, &sweep_timer);
	ev_timer_init(&storage_timer, storage_timer_cb,
	    conf->c_storage_scan_ms / 1000.0, conf->c_storage_scan_ms / 1000.0);
	ev_timer_start(loop, &storage_timer);
	if (priv_masters_stamp(&masters_stamp) == 0)
		masters_known = 1;
	spare_fill();
}

/*
 * A tenant in crash backoff that was seen suspended or deleted starts
 * clean once it is active again: the backoff was for a fault the operator
 * has since had the chance to fix, and a resumed tenant must not answer
 * 503 for the rest of it (docs/operations.md, section 10). Only tenants
 * with a tally are looked up. This runs before anything else that notes
 * a tenant's new status, so the change from suspended is seen here.
 */
static void
pool_backoff_resume(void)
{
	struct tenant_rt	*t;
	struct route		 r;
	enum tenant_status	 st;
	size_t			 b;
	int			 rc;

	for (b = 0; b < TENANT_BUCKETS; b++)
		for (t = tenants[b]; t != NULL; t = t->t_hnext) {
			if (t->t_failures == 0 ||
			    (rc = priv_tenant(t->t_id, &r)) == -1)
				continue;
			st = rc == 1 ? TENANT_DELETED : r.r_status;
			if (st == TENANT_ACTIVE &&
			    t->t_status != TENANT_ACTIVE) {
				log_info("tenant %s is active again: its crash "
				    "backoff is cleared", t->t_slug);
				tenant_backoff_clear(t);
			}
			t->t_status = st;
		}
}

/*
 * The registry changed. For every tenant with workers: if it is no longer
 * active, its workers drain and its waiting connections are answered; if
 * it is, its workers get its new generation slot value only if the slot
 * moved, and a new host list only if its own names changed (priv_hosts,
 * docs/routing.md): a change to one tenant sends the others nothing.
 */
void
pool_registry_changed(void)
{
	struct tenant_rt	*t;
	struct worker		*w, *tmp;
	struct route		 r;
	uint64_t		 old[TL_MAX], stamp, gen;
	size_t			 b;
	int			 rc, rotated = 0;

	pool_backoff_resume();
	/*
	 * A master key rotation: every worker holds keys of the old set, so
	 * each is replaced (without dropping a connection) by one that gets
	 * the new set. Tokens of the old master keep working through its
	 * grace period, which the workers check themselves.
	 */
	if (priv_masters_stamp(&stamp) == 0) {
		if (masters_known && stamp != masters_stamp) {
			log_info("master keys changed: replacing every "
			    "worker");
			rotated = 1;
		}
		masters_stamp = stamp;
		masters_known = 1;
	}
	for (b = 0; b < TENANT_BUCKETS; b++)
		for (t = tenants[b]; t != NULL; t = t->t_hnext) {
			if (t->t_nworkers == 0 && t->t_nqueue == 0)
				continue;
			/* The slot first: see priv_gen_slot. */
			if (priv_gen_slot(t->t_id, &gen) == -1)
				continue;
			rc = priv_tenant(t->t_id, &r);
			if (rc == -1)
				continue;
			t->t_status = rc == 1 ? TENANT_DELETED : r.r_status;
			if (t->t_status != TENANT_ACTIVE) {
				log_info("tenant %s is %s: draining %u "
				    "workers", t->t_slug,
				    tenant_status_str(t->t_status),
				    t->t_nworkers);
				for (w = TAILQ_FIRST(&t->t_workers); w != NULL;
				    w = tmp) {
					tmp = TAILQ_NEXT(w, w_entry);
					worker_drain(w, DRAIN_HANDBACK);
				}
				tenant_fail_queue(t, t->t_status ==
				    TENANT_SUSPENDED ? 503 : 404, 60);
				continue;
			}
			/*
			 * Limits set with tenantctl apply at once: the live
			 * workers get what changed.
			 */
			memcpy(old, t->t_lim, sizeof(old));
			tenant_limits_load(t);
			TAILQ_FOREACH(w, &t->t_workers, w_entry)
				if ((w->w_state == W_READY ||
				    w->w_state == W_STARTING) &&
				    w->w_chan != -1 &&
				    (priv_hosts(w, t->t_id, gen) == -1 ||
				    worker_send_data(w, old, 0) == -1))
					worker_fault(w, "cannot update hosts "
					    "or limits");
			if (rotated)
				for (w = TAILQ_FIRST(&t->t_workers); w != NULL;
				    w = tmp) {
					tmp = TAILQ_NEXT(w, w_entry);
					worker_drain(w, DRAIN_HANDBACK);
				}
		}
	/*
	 * Apps and kept sandboxes outlive their tenant's workers (app_idle,
	 * sandbox_idle), so they are checked for every tenant, not above.
	 */
	priv_code_check();
}

/*
 * The storage a busy tenant's directory uses, apart from its database,
 * measured again now and then: files its code or uploads wrote count
 * against the same quota as the database (docs/data-plane.md).
 */
static void
storage_timer_cb(struct ev_loop *l, ev_timer *tm, int revents)
{
	struct tenant_rt	*t;
	size_t			 b;

	for (b = 0; b < TENANT_BUCKETS; b++)
		for (t = tenants[b]; t != NULL; t = t->t_hnext)
			if (tenant_live(t) > 0)
				pool_storage_walk(t);
}

/* A walk on the slow thread, unless one is queued already. */
static void
pool_storage_walk(struct tenant_rt *t)
{
	if (t->t_storage_walk)
		return;
	t->t_storage_walk = 1;
	if (slow_storage(t->t_id, t->t_slug) == -1) {
		t->t_storage_walk = 0;
		log_debug("tenant %s: storage walk skipped: %s", t->t_slug,
		    strerror(errno));
	}
}

/* The slow thread's answer to a walk: a new figure goes to the workers. */
void
pool_storage_done(int64_t id, int ok, uint64_t used)
{
	struct tenant_rt	*t;
	struct worker		*w;

	if ((t = tenant_find(id)) == NULL)
		return;
	t->t_storage_walk = 0;
	if (!ok || used == t->t_storage)
		return;
	t->t_storage = used;
	/*
	 * A STARTING worker too: it was bound with the figure before this
	 * one, and reads this after its CFG_DONE, once it serves.
	 */
	TAILQ_FOREACH(w, &t->t_workers, w_entry)
		if ((w->w_state == W_READY || w->w_state == W_STARTING) &&
		    w->w_chan != -1 && worker_send_data(w, NULL, 1) == -1)
			worker_fault(w, "cannot send storage");
}

int
pool_empty(void)
{
	return nworkers == 0;
}

void
pool_counts(struct pool_counts *pc)
{
	struct tenant_rt	*t;
	struct worker		*w;
	size_t			 b;

	memset(pc, 0, sizeof(*pc));
	pc->pc_spares = nspares;
	pc->pc_workers = nworkers - nspares;
	TAILQ_FOREACH(w, &all_workers, w_all)
		pc->pc_conns += w->w_nrefs;
	for (b = 0; b < TENANT_BUCKETS; b++)
		for (t = tenants[b]; t != NULL; t = t->t_hnext) {
			pc->pc_queued += t->t_nqueue;
			if (t->t_nworkers > 0)
				pc->pc_tenants++;
		}
}

/* Stop: spares go at once, workers drain; tenantd.c enforces the timeout. */
void
pool_shutdown(void)
{
	struct worker	*w, *tmp;

	shutting_down = 1;
	ev_timer_stop(loop, &spare_timer);
	ev_timer_stop(loop, &sweep_timer);
	ev_timer_stop(loop, &storage_timer);
	for (w = TAILQ_FIRST(&all_workers); w != NULL; w = tmp) {
		tmp = TAILQ_NEXT(w, w_all);
		if (w->w_state == W_SPARE || w->w_state == W_STARTING)
			priv_kill(w);
		else
			worker_drain(w, DRAIN_CLOSE);
	}
	for (size_t b = 0; b < TENANT_BUCKETS; b++) {
		struct tenant_rt *t;

		for (t = tenants[b]; t != NULL; t = t->t_hnext) {
			ev_timer_stop(loop, &t->t_timer);
			tenant_fail_queue(t, 503, STOP_RETRY);
		}
	}
}

void
pool_kill_all(void)
{
	struct worker	*w;

	TAILQ_FOREACH(w, &all_workers, w_all)
		priv_kill(w);
	priv_runs_kill_all();
	priv_apps_stop();
}

/*
 * tenantctl restart (clear: 1) or drain (clear: 0): the tenant's workers
 * retire, handing their connections back, so fresh ones start on the
 * next request; restart also forgets the crash tally and its backoff.
 * Returns the number of workers drained, -1 for an unknown tenant.
 */
int
pool_restart(const char *slug, int clear)
{
	struct tenant_rt	*t;
	struct worker		*w, *tmp;
	size_t			 b;
	int			 n = 0;

	for (b = 0; b < TENANT_BUCKETS; b++)
		for (t = tenants[b]; t != NULL; t = t->t_hnext) {
			if (strcmp(t->t_slug, slug) != 0)
				continue;
			if (clear)
				tenant_backoff_clear(t);
			for (w = TAILQ_FIRST(&t->t_workers); w != NULL;
			    w = tmp) {
				tmp = TAILQ_NEXT(w, w_entry);
				if (w->w_state == W_READY ||
				    w->w_state == W_STARTING) {
					worker_drain(w, DRAIN_HANDBACK);
					n++;
				}
			}
			tenant_kick(t);
			return n;
		}
	return -1;
}
