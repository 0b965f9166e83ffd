/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * What tenantctl export (export.c) and import (import.c) share and is not
 * pure: the signal flag both poll, so an interrupted run leaves nothing
 * behind, and their warnings. The archive format and the rules on what an
 * archive may hold are in archive_pure.h.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tenantctl.h"

volatile sig_atomic_t	 interrupted;

static void
on_signal(int sig)
{
	interrupted = sig;
}

void
catch_signals(void)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

void
warn_(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "tenantctl: warning: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
