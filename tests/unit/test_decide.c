/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The pool's decisions (supervisor/decide.c): the worker state table,
 * every pair of state and event, allowed or refused; which worker takes a
 * connection and which is evicted; a tenant's connection and queue caps;
 * when a tenant gets a worker; how many credits a worker may hold.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

static void
test_pick_least_loaded_ready_worker(void **state)
{
	/* Nothing found yet: any ready worker with room will do. */
	assert_true(pick_better(W_READY, 1, 0, 10, UINT_MAX));
	assert_true(pick_better(W_READY, 1, 9, 10, UINT_MAX));
	/* Full: never, even with nothing else. */
	assert_false(pick_better(W_READY, 1, 10, 10, UINT_MAX));
	assert_false(pick_better(W_READY, 1, 11, 10, UINT_MAX));
	/* Less loaded wins; equal keeps the first. */
	assert_true(pick_better(W_READY, 1, 2, 10, 3));
	assert_false(pick_better(W_READY, 1, 3, 10, 3));
	assert_false(pick_better(W_READY, 1, 4, 10, 3));
	/* A closed channel, or any state but READY: never. */
	assert_false(pick_better(W_READY, 0, 0, 10, UINT_MAX));
	assert_false(pick_better(W_STARTING, 1, 0, 10, UINT_MAX));
	assert_false(pick_better(W_DRAINING, 1, 0, 10, UINT_MAX));
	assert_false(pick_better(W_SPARE, 1, 0, 10, UINT_MAX));
	assert_false(pick_better(W_DEAD, 1, 0, 10, UINT_MAX));
}

static void
test_evict_oldest_idle_of_another_tenant(void **state)
{
	/* The first candidate found. */
	assert_true(evict_better(W_READY, 0, 0, 5.0, 0, 0));
	/* The one ready first wins; a tie keeps the first found. */
	assert_true(evict_better(W_READY, 0, 0, 4.0, 1, 5.0));
	assert_false(evict_better(W_READY, 0, 0, 5.0, 1, 5.0));
	assert_false(evict_better(W_READY, 0, 0, 6.0, 1, 5.0));
	/* Never the asking tenant's own, a busy one, or one not serving. */
	assert_false(evict_better(W_READY, 1, 0, 1.0, 0, 0));
	assert_false(evict_better(W_READY, 0, 1, 1.0, 0, 0));
	assert_false(evict_better(W_STARTING, 0, 0, 0, 0, 0));
	assert_false(evict_better(W_DRAINING, 0, 0, 1.0, 0, 0));
	assert_false(evict_better(W_SPARE, 0, 0, 0, 0, 0));
}

static void
test_admit_caps(void **state)
{
	/* Its connection cap first, whatever else. */
	assert_int_equal(admit_conn(8, 8, 1, 0, 64), AD_REFUSE);
	assert_int_equal(admit_conn(9, 8, 1, 0, 64), AD_REFUSE);
	assert_int_equal(admit_conn(0, 0, 1, 0, 64), AD_REFUSE);
	/* A free worker and nobody before it: at once. */
	assert_int_equal(admit_conn(7, 8, 1, 0, 64), AD_HAND);
	/* Others wait already: behind them, not ahead. */
	assert_int_equal(admit_conn(7, 8, 1, 1, 64), AD_QUEUE);
	/* No worker free: it waits, up to queue_max. */
	assert_int_equal(admit_conn(0, 8, 0, 0, 64), AD_QUEUE);
	assert_int_equal(admit_conn(70, 100, 0, 63, 64), AD_QUEUE);
	assert_int_equal(admit_conn(70, 100, 0, 64, 64), AD_REFUSE);
	assert_int_equal(admit_conn(70, 100, 1, 64, 64), AD_REFUSE);
}

/* A tenant with one connection waiting and room everywhere. */
static void
kick_base(struct kick_in *ki)
{
	memset(ki, 0, sizeof(*ki));
	ki->ki_queued = 1;
	ki->ki_per_tenant = 4;
	ki->ki_max_workers = 4;
	ki->ki_queue_max = 64;
	ki->ki_wait = -1.0;
	ki->ki_start_timeout_ms = 10000;
	ki->ki_workers = 10;
	ki->ki_spares = 2;
	ki->ki_pool_max = 100;
}

static void
test_kick(void **state)
{
	struct kick_in	 ki;

	kick_base(&ki);
	assert_int_equal(kick_decide(&ki), KICK_START);
	/* Nothing waits, the daemon stops, or one is starting already. */
	ki.ki_queued = 0;
	assert_int_equal(kick_decide(&ki), KICK_NOTHING);
	kick_base(&ki);
	ki.ki_stopping = 1;
	assert_int_equal(kick_decide(&ki), KICK_NOTHING);
	kick_base(&ki);
	ki.ki_starting = 1;
	assert_int_equal(kick_decide(&ki), KICK_NOTHING);

	/* At per_tenant, or at its own max_workers: the queue waits... */
	kick_base(&ki);
	ki.ki_ready = 4;
	assert_int_equal(kick_decide(&ki), KICK_NOTHING);
	kick_base(&ki);
	ki.ki_ready = 2;
	ki.ki_max_workers = 2;
	assert_int_equal(kick_decide(&ki), KICK_NOTHING);
	/* ...up to queue_max, beyond which it is answered. */
	ki.ki_queued = 64;
	assert_int_equal(kick_decide(&ki), KICK_NOTHING);
	ki.ki_queued = 65;
	assert_int_equal(kick_decide(&ki), KICK_OVERFLOW);

	/* The throttle or backoff: wait for it, unless it is too far. */
	kick_base(&ki);
	ki.ki_wait = 0.5;
	assert_int_equal(kick_decide(&ki), KICK_WAIT);
	ki.ki_wait = 10.0;
	assert_int_equal(kick_decide(&ki), KICK_WAIT);
	ki.ki_wait = 10.001;
	assert_int_equal(kick_decide(&ki), KICK_TOO_LONG);
	ki.ki_wait = 0.0;
	assert_int_equal(kick_decide(&ki), KICK_START);

	/* max_workers reached: a spare is still used; without, evict. */
	kick_base(&ki);
	ki.ki_workers = 100;
	assert_int_equal(kick_decide(&ki), KICK_START);
	ki.ki_spares = 0;
	assert_int_equal(kick_decide(&ki), KICK_EVICT);
	ki.ki_workers = 99;
	assert_int_equal(kick_decide(&ki), KICK_START);
	/* A later reload lowered max_workers under the live count. */
	ki.ki_workers = 150;
	assert_int_equal(kick_decide(&ki), KICK_EVICT);
}

static void
test_credit_cap(void **state)
{
	/* Twice the hold size... */
	assert_int_equal(credit_cap(100, 1, 5, 50), 200);
	/* ...or the highest price, if that is more. */
	assert_int_equal(credit_cap(100, 300, 5, 50), 300);
	assert_int_equal(credit_cap(100, 1, 500, 50), 500);
	assert_int_equal(credit_cap(100, 1, 5, 700), 700);
	assert_int_equal(credit_cap(0, 0, 0, 0), 0);
	/* A huge hold size saturates instead of wrapping to a small cap. */
	assert_true(credit_cap(UINT64_MAX / 2 + 1, 0, 0, 0) == UINT64_MAX);
	assert_true(credit_cap(UINT64_MAX / 2, 0, 0, 0) == UINT64_MAX - 1);
}

static void
test_credit_over(void **state)
{
	/* Up to twice the cap unspent may be held; beyond, nothing more. */
	assert_false(credit_over(0, 0, 200));
	assert_false(credit_over(400, 0, 200));
	assert_true(credit_over(401, 0, 200));
	assert_false(credit_over(1000, 600, 200));
	assert_true(credit_over(1001, 600, 200));
	/* Spent beyond granted is impossible: nothing more either. */
	assert_true(credit_over(5, 6, 200));
	/* A saturated cap does not wrap to refuse everything. */
	assert_false(credit_over(UINT64_MAX, 0, UINT64_MAX / 2 + 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed_steps),
		cmocka_unit_test(test_everything_else_is_refused),
		cmocka_unit_test(test_refused_samples),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_pick_least_loaded_ready_worker),
		cmocka_unit_test(test_evict_oldest_idle_of_another_tenant),
		cmocka_unit_test(test_admit_caps),
		cmocka_unit_test(test_kick),
		cmocka_unit_test(test_credit_cap),
		cmocka_unit_test(test_credit_over),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
