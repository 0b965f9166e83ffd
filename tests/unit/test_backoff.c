/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * A tenant's crash backoff (supervisor/backoff.c): the delay from the
 * tally, its cap and the end of its doubling, and what a worker's exit
 * does to the tally.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "backoff.h"

static void
test_delay_doubles_from_min(void **state)
{
	/* No failure: the start throttle, backoff_min. */
	assert_true(backoff_delay(0, 1000, 30000) == 1.0);
	assert_true(backoff_delay(1, 1000, 30000) == 2.0);
	assert_true(backoff_delay(2, 1000, 30000) == 4.0);
	assert_true(backoff_delay(4, 1000, 30000) == 16.0);
	assert_true(backoff_delay(3, 100, 30000) == 0.8);
}

static void
test_delay_is_capped_at_max(void **state)
{
	assert_true(backoff_delay(5, 1000, 30000) == 30.0);
	assert_true(backoff_delay(6, 1000, 30000) == 30.0);
	/* backoff_min above backoff_max is refused by the config; still. */
	assert_true(backoff_delay(0, 5000, 1000) == 1.0);
}

static void
test_doubling_stops_at_its_exponent(void **state)
{
	double	 top = backoff_delay(BACKOFF_EXP_MAX, 1, 3600000);

	/* 2^20 ms is under the largest backoff_max: the exponent rules. */
	assert_true(top == 1048.576);
	assert_true(backoff_delay(BACKOFF_EXP_MAX + 1, 1, 3600000) == top);
	/* A tally that never ends cannot overflow into nonsense. */
	assert_true(backoff_delay(UINT_MAX, 1, 3600000) == top);
	assert_true(backoff_delay(UINT_MAX, 600000, 3600000) == 3600.0);
}

static void
test_crash_window_boundary(void **state)
{
	assert_false(backoff_outlived(0.0, 1000));
	assert_false(backoff_outlived(0.999, 1000));
	assert_true(backoff_outlived(1.0, 1000));
	assert_true(backoff_outlived(86400.0, 1000));
	assert_true(backoff_outlived(0.0, 0));
}

static void
test_exit_verdicts(void **state)
{
	/* Never ready: a crash, however it ended and however late. */
	assert_int_equal(backoff_on_exit(1, 0, 0.1, 1000), BX_CRASH);
	assert_int_equal(backoff_on_exit(1, 1, 0.1, 1000), BX_CRASH);
	assert_int_equal(backoff_on_exit(1, 0, 60.0, 1000), BX_CRASH);
	/* Ready, abnormal, young: a crash. */
	assert_int_equal(backoff_on_exit(0, 1, 0.5, 1000), BX_CRASH);
	/* Ready, clean, young (idle retirement, a drain): nothing. */
	assert_int_equal(backoff_on_exit(0, 0, 0.5, 1000), BX_NONE);
	/* Outlived the window: the tally is cleared, even by a crash. */
	assert_int_equal(backoff_on_exit(0, 1, 1.0, 1000), BX_CLEAR);
	assert_int_equal(backoff_on_exit(0, 0, 5.0, 1000), BX_CLEAR);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delay_doubles_from_min),
		cmocka_unit_test(test_delay_is_capped_at_max),
		cmocka_unit_test(test_doubling_stops_at_its_exponent),
		cmocka_unit_test(test_crash_window_boundary),
		cmocka_unit_test(test_exit_verdicts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
