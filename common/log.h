/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Logging for every tenantd process (model: OpenBSD httpd log.h).
 * Workers never touch syslog or the journal: they install a sink that turns
 * each line into a MSG_LOG for the supervisor.
 */
#ifndef TENANTD_LOG_H
#define TENANTD_LOG_H

#include <stdarg.h>
#include <stddef.h>

#define LOG_FMT(a, b)	__attribute__((__format__(printf, a, b)))

void	log_init(int, int);
void	log_procinit(const char *);
void	log_setverbose(int);
int	log_getverbose(void);
void	log_setsink(void (*)(int, const char *));
void	log_warn(const char *, ...) LOG_FMT(1, 2);
void	log_warnx(const char *, ...) LOG_FMT(1, 2);
void	log_info(const char *, ...) LOG_FMT(1, 2);
void	log_debug(const char *, ...) LOG_FMT(1, 2);
void	log_emit(int, const char *);
size_t	log_vis(char *, size_t, const void *, size_t);
void	fatal(const char *, ...) LOG_FMT(1, 2) __attribute__((__noreturn__));
void	fatalx(const char *, ...) LOG_FMT(1, 2) __attribute__((__noreturn__));

#endif
