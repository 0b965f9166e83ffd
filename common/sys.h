/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Thin syscall wrappers shared by the binaries (effects, unlike util code).
 */
#ifndef TENANTD_SYS_H
#define TENANTD_SYS_H

#include <sys/types.h>

#include <stddef.h>

int	 fd_nonblock(int);
int	 open_beneath(int, const char *, int, mode_t);
int	 jail_path_check(const char *, gid_t, char *, size_t);
ssize_t	 read_file(const char *, char *, size_t);
int	 closefrom_safe(int);
int	 oom_score_set(const char *);

#endif
