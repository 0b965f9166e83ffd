/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * A tenant's crash backoff as pure functions, so that the rules are
 * unit-tested (tests/unit/test_backoff.c) and pool.c only applies them.
 */
#include <math.h>

#include "backoff.h"

/*
 * Seconds from a start (or a failed start) to the next one after
 * `failures` in a row: backoff_min doubled per failure, the exponent
 * stopping at BACKOFF_EXP_MAX so the product stays finite, and never more
 * than backoff_max. With no failure it is backoff_min, the start throttle.
 */
double
backoff_delay(unsigned int failures, unsigned int min_ms,
    unsigned int max_ms)
{
	double	 d = min_ms / 1000.0;

	if (failures > 0)
		d *= ldexp(1.0, (int)(failures > BACKOFF_EXP_MAX ?
		    BACKOFF_EXP_MAX : failures));
	if (d > max_ms / 1000.0)
		d = max_ms / 1000.0;
	return d;
}

/* A worker bound `age` seconds ago has lived through the crash window. */
int
backoff_outlived(double age, unsigned int window_ms)
{
	return age >= window_ms / 1000.0;
}

/*
 * A worker of a tenant exited. One that never got ready counts as a crash
 * whatever its status: the next start would most likely fail the same
 * way. One that ended abnormally (a signal, a non-zero status) inside the
 * crash window counts too. One that outlived the window clears the tally,
 * however it ended: the tenant can run.
 */
enum backoff_exit
backoff_on_exit(int starting, int abnormal, double age,
    unsigned int window_ms)
{
	if (starting)
		return BX_CRASH;
	if (backoff_outlived(age, window_ms))
		return BX_CLEAR;
	return abnormal ? BX_CRASH : BX_NONE;
}
