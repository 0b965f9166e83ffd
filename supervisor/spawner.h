/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The one way tenantd execs a child (tenantd-worker, tenantd-front,
 * tenantd-run): the descriptors its caller names and nothing else, a
 * session of its own, default signals, "/" and no environment
 * (docs/architecture.md, "Spawning a child").
 */
#ifndef SPAWNER_H
#define SPAWNER_H

#include <sys/types.h>

#include <stddef.h>

#define SPAWN_DEVNULL	(-1)	/* /dev/null, opened by the child */
#define SPAWN_KEEP	(-2)	/* ours, as it is: a debug build's stderr */
#define SPAWN_FDS_MAX	8

/* One of our descriptors and the number it has in the child. */
struct spawn_fd {
	int	 sf_src;
	int	 sf_dst;	/* above 2: stdio is sp_stdio */
};

struct spawn {
	const char		*sp_path;
	char *const		*sp_argv;
	char *const		*sp_envp;	/* NULL: an empty environment */
	int			 sp_stdio[3];	/* an fd, SPAWN_DEVNULL or _KEEP */
	const struct spawn_fd	*sp_fds;
	size_t			 sp_nfds;
};

int	 spawn_child(const struct spawn *, pid_t *, int *);

#endif
