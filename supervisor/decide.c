/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The pool's decisions as pure functions, so that they are unit-tested
 * (tests/unit/test_decide.c) and pool.c only applies them.
 */
#include "decide.h"

#define MOVE(s)	{ (s), WA_MOVE }

/*
 * Every state change a worker can make, and nothing else: a pair missing
 * here is refused (WA_REFUSE is 0). docs/architecture.md, section 5, draws
 * it. The events a worker causes itself (READY, RETIRE) are screened by
 * state before they get here (worker_msgs[] in pool.c), so a refusal is
 * always the supervisor's own bug.
 */
static const struct worker_step steps[W_NSTATES][WE_NEVENTS] = {
	[W_SPARE] = {
		[WE_BIND] = MOVE(W_STARTING),
		/* Its channel is closed; an unbound spare then exits. */
		[WE_SHED] = MOVE(W_DRAINING),
		[WE_REAPED] = MOVE(W_DEAD),
	},
	[W_STARTING] = {
		/* Nothing was sent: it is still a clean spare. */
		[WE_UNBIND] = MOVE(W_SPARE),
		[WE_READY] = MOVE(W_READY),
		/* Its tenant went away while it started. */
		[WE_DRAIN] = MOVE(W_DRAINING),
		[WE_REAPED] = MOVE(W_DEAD),
	},
	[W_READY] = {
		[WE_DRAIN] = MOVE(W_DRAINING),
		[WE_RETIRE] = MOVE(W_DRAINING),
		[WE_REAPED] = MOVE(W_DEAD),
	},
	[W_DRAINING] = {
		/* Drained while starting: it exits once it reads DRAIN. */
		[WE_READY] = { W_DRAINING, WA_STAY },
		[WE_DRAIN] = { W_DRAINING, WA_STAY },
		/* We had told it to drain already. */
		[WE_RETIRE] = { W_DRAINING, WA_STAY },
		[WE_REAPED] = MOVE(W_DEAD),
	},
	/* DEAD is freed at once: nothing follows it. */
};

/* Where event e takes a worker in state s, and whether it may. */
struct worker_step
worker_step(enum worker_state s, enum worker_event e)
{
	struct worker_step	 refuse = { s, WA_REFUSE };

	if ((unsigned int)s >= W_NSTATES || (unsigned int)e >= WE_NEVENTS ||
	    steps[s][e].ws_action == WA_REFUSE)
		return refuse;
	return steps[s][e];
}

const char *
worker_state_str(enum worker_state s)
{
	switch (s) {
	case W_SPARE: return "spare";
	case W_STARTING: return "starting";
	case W_READY: return "ready";
	case W_DRAINING: return "draining";
	case W_DEAD: return "dead";
	case W_NSTATES: break;
	}
	return "?";
}

const char *
worker_event_str(enum worker_event e)
{
	switch (e) {
	case WE_BIND: return "bind";
	case WE_UNBIND: return "unbind";
	case WE_READY: return "ready";
	case WE_DRAIN: return "drain";
	case WE_RETIRE: return "retire";
	case WE_SHED: return "shed";
	case WE_REAPED: return "reaped";
	case WE_NEVENTS: break;
	}
	return "?";
}

/*
 * tenant_pick(): is a worker in state s, its channel open or not, holding
 * `load` connections, a better pick than the best so far (best_load, or
 * UINT_MAX for none yet)? Only a ready worker with room, and then the
 * least loaded, the first of equals.
 */
int
pick_better(enum worker_state s, int chan_open, unsigned int load,
    unsigned int cap, unsigned int best_load)
{
	return s == W_READY && chan_open && load < cap && load < best_load;
}

/*
 * pool_evict_idle(): is this worker a better victim than the one found so
 * far? Only a ready worker of another tenant holding nothing, and then
 * the one that became ready first: it has had its share the longest.
 */
int
evict_better(enum worker_state s, int own_tenant, unsigned int load,
    double ready_at, int have_victim, double victim_ready_at)
{
	if (s != W_READY || own_tenant || load != 0)
		return 0;
	return !have_victim || ready_at < victim_ready_at;
}

/*
 * A new connection for a tenant holding `conns` (in its workers and its
 * queue). Its connection cap comes first, so that one tenant cannot take
 * every slot of the machine. A worker with room takes it at once, unless
 * others wait before it. Else it waits, within queue_max.
 */
enum conn_admit
admit_conn(unsigned int conns, uint64_t max_conns, int worker_free,
    unsigned int nqueue, unsigned int queue_max)
{
	if (conns >= max_conns)
		return AD_REFUSE;
	if (worker_free && nqueue == 0)
		return AD_HAND;
	if (nqueue >= queue_max)
		return AD_REFUSE;
	return AD_QUEUE;
}

/*
 * Does a tenant need another worker (docs/architecture.md, "Starting
 * workers")? Only for connections that wait, only if none is starting
 * already, within its per-tenant caps, the global one and its start
 * throttle or backoff. At its caps, a queue longer than queue_max (a dead
 * worker's connections come back to it) is answered. A next start further
 * away than start_timeout answers the queue with Retry-After rather than
 * have it wait for nothing. With max_workers reached and no spare left,
 * an idle worker of another tenant makes room.
 */
enum kick
kick_decide(const struct kick_in *ki)
{
	if (ki->ki_queued == 0 || ki->ki_stopping || ki->ki_starting)
		return KICK_NOTHING;
	if (ki->ki_ready >= ki->ki_per_tenant ||
	    ki->ki_ready >= ki->ki_max_workers)
		return ki->ki_queued > ki->ki_queue_max ? KICK_OVERFLOW :
		    KICK_NOTHING;
	if (ki->ki_wait > 0)
		return ki->ki_wait * 1000 > ki->ki_start_timeout_ms ?
		    KICK_TOO_LONG : KICK_WAIT;
	if (ki->ki_spares == 0 && ki->ki_workers >= ki->ki_pool_max)
		return KICK_EVICT;
	return KICK_START;
}

/* 2 * v, stopping at UINT64_MAX rather than wrapping to a small cap. */
static uint64_t
twice(uint64_t v)
{
	return v > UINT64_MAX / 2 ? UINT64_MAX : 2 * v;
}

/*
 * The most credits one worker may ask for at a time: twice its tenant's
 * hold size, or the tenant's highest price if that is more, so that any
 * one request can be paid (docs/data-plane.md).
 */
uint64_t
credit_cap(uint64_t hold, uint64_t cost_read, uint64_t cost_write,
    uint64_t cost_run)
{
	uint64_t	 cap = twice(hold);

	if (cost_read > cap)
		cap = cost_read;
	if (cost_write > cap)
		cap = cost_write;
	if (cost_run > cap)
		cap = cost_run;
	return cap;
}

/*
 * A worker that holds more than twice its cap unspent gets nothing more:
 * a broken or hostile one cannot reserve its tenant's whole balance, or
 * make the supervisor write the ledger in a loop. Spent beyond granted
 * cannot happen (on_usage refuses it); if it did, nothing more is given.
 */
int
credit_over(uint64_t granted, uint64_t spent, uint64_t cap)
{
	return spent > granted || granted - spent > twice(cap);
}
