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
