/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * A tenant's crash backoff, decided without an event loop or a clock
 * (docs/architecture.md, "Crashes and backoff"): pool.c keeps the tally
 * and the times, these say what they mean.
 */
#ifndef BACKOFF_H
#define BACKOFF_H

#define BACKOFF_EXP_MAX	20	/* the doubling stops here */

/* What a worker's exit does to its tenant's crash tally. */
enum backoff_exit {
	BX_NONE,	/* nothing: a clean exit inside the crash window */
	BX_CRASH,	/* one more failure, and a longer backoff */
	BX_CLEAR,	/* it outlived the crash window: the tally is 0 */
};

double		 backoff_delay(unsigned int, unsigned int, unsigned int);
int		 backoff_outlived(double, unsigned int);
enum backoff_exit backoff_on_exit(int, int, double, unsigned int);

#endif
