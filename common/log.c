/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Logging: lines go to stderr. Under systemd (JOURNAL_STREAM set) each line
 * carries a "<N>" priority prefix so the journal keeps the level; otherwise
 * a timestamp and the process tag. A sink, when set, replaces stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int	 log_verbose;
static int	 log_journal;
static const char *log_procname = "tenantd";
static void	(*log_sink)(int, const char *);

/*
 * tzset() here, early: gmtime and strftime must never want to open
 * /etc/localtime later, inside a sandbox that has no such file and no
 * openat(2).
 */
void
log_init(int debug, int verbose)
{
	log_verbose = verbose || debug;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
	tzset();
}

void
log_procinit(const char *name)
{
	if (name != NULL)
		log_procname = name;
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

int
log_getverbose(void)
{
	return log_verbose;
}

void
log_setsink(void (*sink)(int, const char *))
{
	log_sink = sink;
}

/*
 * Write one finished line. It is escaped here, once, with log_vis(), so no
 * caller can forge a log line by embedding CR/LF in data it logs.
 */
void
log_emit(int prio, const char *msg)
{
	char		 line[1024], ts[32];
	struct timespec	 now;
	struct tm	 tm;

	(void)log_vis(line, sizeof(line), msg, strlen(msg));

	if (log_sink != NULL) {
		log_sink(prio, line);
		return;
	}
	if (log_journal) {
		dprintf(STDERR_FILENO, "<%d>%s: %s\n", prio, log_procname,
		    line);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	dprintf(STDERR_FILENO, "%s.%03ldZ %s[%d]: %s\n", ts,
	    now.tv_nsec / 1000000, log_procname, getpid(), line);
}

static void
vlog(int prio, const char *fmt, va_list ap)
{
	char	 msg[1024];

	if (prio == LOG_DEBUG && !log_verbose)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_emit(prio, msg);
}

static void
vlog_errno(int prio, int saved, const char *fmt, va_list ap)
{
	char	 msg[1024];
	size_t	 n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved));
	log_emit(prio, msg);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog_errno(LOG_WARNING, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog_errno(LOG_CRIT, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}
