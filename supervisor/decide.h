/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The pool's decisions, made without an event loop, a clock or a pointer
 * into the pool (docs/architecture.md, section 5): pool.c asks with plain
 * values and applies the answer. Unit tests link them alone.
 */
#ifndef DECIDE_H
#define DECIDE_H

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

#endif
