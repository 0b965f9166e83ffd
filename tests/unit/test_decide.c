/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The pool's decisions (supervisor/decide.c): the worker state table,
 * every pair of state and event, allowed or refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "decide.h"

/* Every change the table allows; any other pair must be refused. */
static const struct {
	enum worker_state	 a_from;
	enum worker_event	 a_event;
	enum worker_state	 a_to;
	enum worker_action	 a_action;
} allowed[] = {
	{ W_SPARE, WE_BIND, W_STARTING, WA_MOVE },
	{ W_SPARE, WE_SHED, W_DRAINING, WA_MOVE },
	{ W_SPARE, WE_REAPED, W_DEAD, WA_MOVE },
	{ W_STARTING, WE_UNBIND, W_SPARE, WA_MOVE },
	{ W_STARTING, WE_READY, W_READY, WA_MOVE },
	{ W_STARTING, WE_DRAIN, W_DRAINING, WA_MOVE },
	{ W_STARTING, WE_REAPED, W_DEAD, WA_MOVE },
	{ W_READY, WE_DRAIN, W_DRAINING, WA_MOVE },
	{ W_READY, WE_RETIRE, W_DRAINING, WA_MOVE },
	{ W_READY, WE_REAPED, W_DEAD, WA_MOVE },
	{ W_DRAINING, WE_READY, W_DRAINING, WA_STAY },
	{ W_DRAINING, WE_DRAIN, W_DRAINING, WA_STAY },
	{ W_DRAINING, WE_RETIRE, W_DRAINING, WA_STAY },
	{ W_DRAINING, WE_REAPED, W_DEAD, WA_MOVE },
};
#define NALLOWED	(sizeof(allowed) / sizeof(allowed[0]))

static void
test_allowed_steps(void **state)
{
	struct worker_step	 st;
	size_t			 i;

	for (i = 0; i < NALLOWED; i++) {
		st = worker_step(allowed[i].a_from, allowed[i].a_event);
		assert_int_equal(st.ws_action, allowed[i].a_action);
		assert_int_equal(st.ws_next, allowed[i].a_to);
	}
}

/* The rest of the product is refused, and a refusal stays put. */
static void
test_everything_else_is_refused(void **state)
{
	struct worker_step	 st;
	size_t			 i;
	int			 s, e, nrefused = 0;

	for (s = 0; s < W_NSTATES; s++)
		for (e = 0; e < WE_NEVENTS; e++) {
			for (i = 0; i < NALLOWED; i++)
				if ((int)allowed[i].a_from == s &&
				    (int)allowed[i].a_event == e)
					break;
			if (i < NALLOWED)
				continue;
			st = worker_step(s, e);
			assert_int_equal(st.ws_action, WA_REFUSE);
			assert_int_equal(st.ws_next, s);
			nrefused++;
		}
	assert_int_equal(nrefused, W_NSTATES * WE_NEVENTS - NALLOWED);
}

/* The ones a bug would most likely try, named. */
static void
test_refused_samples(void **state)
{
	/* READY twice: a worker is ready once in its life. */
	assert_int_equal(worker_step(W_READY, WE_READY).ws_action, WA_REFUSE);
	/* A spare is not ready: it has no tenant. */
	assert_int_equal(worker_step(W_SPARE, WE_READY).ws_action, WA_REFUSE);
	/* Only a starting worker goes back to the spares. */
	assert_int_equal(worker_step(W_READY, WE_UNBIND).ws_action, WA_REFUSE);
	assert_int_equal(worker_step(W_DRAINING, WE_UNBIND).ws_action,
	    WA_REFUSE);
	/* A draining worker never serves again, nor is bound again. */
	assert_int_equal(worker_step(W_DRAINING, WE_BIND).ws_action,
	    WA_REFUSE);
	assert_int_equal(worker_step(W_READY, WE_BIND).ws_action, WA_REFUSE);
	/* A starting worker retires only by draining. */
	assert_int_equal(worker_step(W_STARTING, WE_RETIRE).ws_action,
	    WA_REFUSE);
	/* Drain a spare: it is shed instead. */
	assert_int_equal(worker_step(W_SPARE, WE_DRAIN).ws_action, WA_REFUSE);
	/* Nothing follows DEAD, not even a second reaping. */
	assert_int_equal(worker_step(W_DEAD, WE_REAPED).ws_action, WA_REFUSE);
	assert_int_equal(worker_step(W_DEAD, WE_DRAIN).ws_action, WA_REFUSE);
}

/* Values outside the enums (memory gone bad) are refused, not indexed. */
static void
test_out_of_range(void **state)
{
	assert_int_equal(worker_step(W_NSTATES, WE_DRAIN).ws_action,
	    WA_REFUSE);
	assert_int_equal(worker_step(W_READY, WE_NEVENTS).ws_action,
	    WA_REFUSE);
	assert_int_equal(worker_step((enum worker_state)-1, WE_DRAIN)
	    .ws_action, WA_REFUSE);
	assert_int_equal(worker_step(W_READY, (enum worker_event)1000)
	    .ws_action, WA_REFUSE);
	assert_string_equal(worker_state_str(W_NSTATES), "?");
	assert_string_equal(worker_event_str(WE_NEVENTS), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed_steps),
		cmocka_unit_test(test_everything_else_is_refused),
		cmocka_unit_test(test_refused_samples),
		cmocka_unit_test(test_out_of_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
