/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The lines tenantd-run writes on its stderr, which is a pipe of ours and
 * never our own stderr (runlog.h): read on the loop, bounded, escaped,
 * tagged with the tenant and rate-limited per tenant before they reach
 * the daemon's log.
 */
#include <sys/queue.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "runlog.h"
#include "supervisor.h"

#define RUNLOG_PER_SEC		10
#define RUNLOG_READ_MAX		16384	/* bytes per wakeup, for fairness */

/* A tenant's line budget, shared by all its runs. */
struct runlog_rate {
	TAILQ_ENTRY(runlog_rate) rr_entry;
	int64_t		 rr_tenant;
	ev_tstamp	 rr_sec;
	unsigned int	 rr_lines;
	unsigned int	 rr_refs;	/* runlogs using it */
};
static TAILQ_HEAD(, runlog_rate) runlog_rates =
    TAILQ_HEAD_INITIALIZER(runlog_rates);

/*
 * The budget of tenant `tenant`, made on first use. One left unused
 * (no runlog) is dropped once its second is over, so the list holds
 * only tenants whose code runs now or ran within the second.
 */
static struct runlog_rate *
runlog_rate_get(int64_t tenant)
{
	struct runlog_rate	*rr, *tmp;

	for (rr = TAILQ_FIRST(&runlog_rates); rr != NULL; rr = tmp) {
		tmp = TAILQ_NEXT(rr, rr_entry);
		if (rr->rr_tenant == tenant)
			return rr;
		if (rr->rr_refs == 0 && ev_now(loop) - rr->rr_sec >= 1.0) {
			TAILQ_REMOVE(&runlog_rates, rr, rr_entry);
			free(rr);
		}
	}
	if ((rr = calloc(1, sizeof(*rr))) == NULL)
		return NULL;
	rr->rr_tenant = tenant;
	rr->rr_sec = ev_now(loop);
	TAILQ_INSERT_TAIL(&runlog_rates, rr, rr_entry);
	return rr;
}

/*
 * One line of a run, escaped and tagged. tenantd-run begins each with its
 * priority, "<N>" (run.c); none is above LOG_ERR here, as for a worker's.
 */
static void
runlog_line(struct runlog *rl)
{
	struct runlog_rate	*rr = rl->rl_rate;
	char			 text[768], line[1024];
	const char		*p = rl->rl_buf;
	size_t			 len = rl->rl_len;
	int			 prio = LOG_WARNING, cut;

	cut = rl->rl_cut;
	rl->rl_len = 0;
	rl->rl_cut = 0;
	if (rr != NULL) {
		if (ev_now(loop) - rr->rr_sec >= 1.0) {
			if (rr->rr_lines > RUNLOG_PER_SEC)
				log_warnx("tenant %s: run: %u lines dropped",
				    rl->rl_slug, rr->rr_lines - RUNLOG_PER_SEC);
			rr->rr_sec = ev_now(loop);
			rr->rr_lines = 0;
		}
		if (++rr->rr_lines > RUNLOG_PER_SEC)
			return;
	}
	if (len >= 3 && p[0] == '<' && p[1] >= '0' && p[1] <= '7' &&
	    p[2] == '>') {
		prio = p[1] - '0';
		p += 3;
		len -= 3;
	}
	if (prio < LOG_ERR)
		prio = LOG_ERR;
	if (prio == LOG_DEBUG && !conf->c_verbose)
		return;
	/* Sized so the whole line, and so "[cut]", fits log_emit()'s. */
	if (log_vis(text, sizeof(text), p, len) < len)
		cut = 1;
	snprintf(line, sizeof(line), "tenant %s: run: %s%s", rl->rl_slug,
	    text, cut ? " [cut]" : "");
	log_emit(prio, line);
}

/*
 * Take what the pipe holds, at most `max` bytes; a line ends at a newline
 * or, cut, at RUNLOG_LINE_MAX. At EOF or an error the rest of a line is
 * logged and -1 returned: the caller closes the pipe.
 */
static int
runlog_read(struct runlog *rl, size_t max)
{
	char	 buf[4096];
	ssize_t	 n, i;
	size_t	 total = 0;

	while (total < max) {
		if ((n = read(rl->rl_io.fd, buf, sizeof(buf))) == -1 &&
		    errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			if (rl->rl_len > 0 || rl->rl_cut)
				runlog_line(rl);
			return -1;
		}
		total += (size_t)n;
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n')
				runlog_line(rl);
			else if (rl->rl_len < sizeof(rl->rl_buf))
				rl->rl_buf[rl->rl_len++] = buf[i];
			else
				rl->rl_cut = 1;
		}
	}
	return 0;
}

static void
runlog_close(struct runlog *rl)
{
	ev_io_stop(loop, &rl->rl_io);
	close(rl->rl_io.fd);
	rl->rl_io.fd = -1;
	if (rl->rl_rate != NULL)
		rl->rl_rate->rr_refs--;
	rl->rl_rate = NULL;
}

static void
runlog_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct runlog	*rl = w->data;

	if (runlog_read(rl, RUNLOG_READ_MAX) == -1)
		runlog_close(rl);
}

/* Watch fd, the read end of the stderr of a run of tenant `tenant`. */
void
runlog_start(struct runlog *rl, int64_t tenant, const char *slug, int fd)
{
	memset(rl, 0, sizeof(*rl));
	snprintf(rl->rl_slug, sizeof(rl->rl_slug), "%s", slug);
	/* Without a budget (no memory), lines pass unlimited: never lost. */
	if ((rl->rl_rate = runlog_rate_get(tenant)) != NULL)
		rl->rl_rate->rr_refs++;
	ev_io_init(&rl->rl_io, runlog_cb, fd, EV_READ);
	rl->rl_io.data = rl;
	ev_io_start(loop, &rl->rl_io);
}

/*
 * The run has ended: everything it wrote is in the pipe now (nothing of
 * the run's outlives tenantd-run with the write end), so read it, then
 * close. Bounded all the same, should something still write.
 */
void
runlog_end(struct runlog *rl)
{
	if (rl->rl_io.fd == -1)
		return;
	(void)runlog_read(rl, RUNLOG_READ_MAX * 16);
	if (rl->rl_len > 0 || rl->rl_cut)
		runlog_line(rl);
	runlog_close(rl);
}
