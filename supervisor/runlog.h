/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * tenantd-run's stderr (docs/security.md): a pipe, never ours. Its lines
 * are read by runlog.c, each cut at RUNLOG_LINE_MAX bytes, at most
 * RUNLOG_PER_SEC a second per tenant, escaped with log_vis() and tagged
 * "tenant <slug>: run: ", so nothing a run writes reaches our log raw,
 * whatever it is and even if tenantd-run has a bug that lets tenant code
 * write there.
 */
#ifndef TENANTD_RUNLOG_H
#define TENANTD_RUNLOG_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "proto.h"
#include "slug.h"

#define RUNLOG_LINE_MAX		PROTO_LOG_MAX

struct runlog_rate;

/* One run's stderr, embedded in the run that owns it (privrun.c). */
struct runlog {
	ev_io		 rl_io;
	struct runlog_rate *rl_rate;
	char		 rl_slug[SLUG_MAX_LEN + 1];
	size_t		 rl_len;
	int		 rl_cut;	/* the line went past RUNLOG_LINE_MAX */
	char		 rl_buf[RUNLOG_LINE_MAX];
};

void	 runlog_start(struct runlog *, int64_t, const char *, int);
void	 runlog_end(struct runlog *);

#endif
