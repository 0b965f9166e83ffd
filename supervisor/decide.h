/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The pool's decisions, made without an event loop, a clock or a pointer
 * into the pool (docs/architecture.md, section 5): pool.c asks with plain
 * values and applies the answer. Unit tests link them alone.
 */
#ifndef DECIDE_H
#define DECIDE_H

#include <stdint.h>

/*
 * A worker's states. A new worker is a spare: worker_alloc() zeroes it,
 * so W_SPARE is 0.
 */
enum worker_state {
	W_SPARE = 0,	/* exec'd, root, not bound to a tenant */
	W_STARTING,	/* bound, entering its sandbox */
	W_READY,	/* serving */
	W_DRAINING,	/* finishing its connections, then exits */
	W_DEAD,		/* exited; waiting to be freed */
	W_NSTATES
};

/* What happens to a worker; the table in decide.c says what it does. */
enum worker_event {
	WE_BIND,	/* given a tenant (priv_bind) */
	WE_UNBIND,	/* priv_bind refused before it sent anything */
	WE_READY,	/* it sent MSG_STATE_READY */
	WE_DRAIN,	/* told to drain, or its process is gone */
	WE_RETIRE,	/* it sent MSG_STATE_RETIRING (max_requests) */
	WE_SHED,	/* a spare beyond [workers] spares */
	WE_REAPED,	/* its process was reaped */
	WE_NEVENTS
};

enum worker_action {
	WA_REFUSE = 0,	/* impossible: a bug of ours; the worker is killed */
	WA_MOVE,	/* go to the next state */
	WA_STAY,	/* possible, and changes nothing (a second drain) */
};

struct worker_step {
	enum worker_state	 ws_next;
	enum worker_action	 ws_action;
};

struct worker_step worker_step(enum worker_state, enum worker_event);
const char	*worker_state_str(enum worker_state);
const char	*worker_event_str(enum worker_event);

/* What a tenant does with a new connection (pool_dispatch). */
enum conn_admit {
	AD_REFUSE,	/* 503: its connection cap, or its queue is full */
	AD_HAND,	/* to the worker tenant_pick() found, at once */
	AD_QUEUE,	/* it waits in the tenant's queue */
};

/* What tenant_kick() does for a tenant's waiting connections. */
enum kick {
	KICK_NOTHING,	/* nothing waits, one is starting, or stopping */
	KICK_OVERFLOW,	/* at its worker caps with too many waiting: 503 */
	KICK_WAIT,	/* its next start is soon: a timer */
	KICK_TOO_LONG,	/* its next start is too far: 503 with Retry-After */
	KICK_EVICT,	/* the pool is full: drain another tenant's idle one */
	KICK_START,	/* start a worker */
};

/* tenant_kick()'s inputs, as plain values. */
struct kick_in {
	unsigned int	 ki_queued;	/* connections waiting */
	int		 ki_stopping;	/* the daemon is stopping */
	int		 ki_starting;	/* one of its workers is starting */
	unsigned int	 ki_ready;	/* its ready workers */
	unsigned int	 ki_per_tenant;	/* [workers] per_tenant */
	uint64_t	 ki_max_workers;	/* its own max_workers limit */
	unsigned int	 ki_queue_max;	/* [workers] queue_max */
	double		 ki_wait;	/* seconds to its next start */
	unsigned int	 ki_start_timeout_ms;
	unsigned int	 ki_workers;	/* every live worker, spares too */
	unsigned int	 ki_spares;
	unsigned int	 ki_pool_max;	/* [workers] max_workers */
};

int		 pick_better(enum worker_state, int, unsigned int, unsigned int,
		    unsigned int);
int		 evict_better(enum worker_state, int, unsigned int, double,
		    int, double);
enum conn_admit	 admit_conn(unsigned int, uint64_t, int, unsigned int,
		    unsigned int);
enum kick	 kick_decide(const struct kick_in *);
uint64_t	 credit_cap(uint64_t, uint64_t, uint64_t, uint64_t);
int		 credit_over(uint64_t, uint64_t, uint64_t);

#endif
