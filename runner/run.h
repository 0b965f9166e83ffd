/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * tenantd-run: runs one tenant handler in a sandbox of its own. run.c reads
 * the spec and everything else it needs from the host, then forks; jail.c
 * is the child, which moves itself into its tenant's cgroups (cgroup.c),
 * joins or builds the tenant's sandbox and execs the handler.
 */
#ifndef TENANTD_RUN_H
#define TENANTD_RUN_H

#include <sys/types.h>

#include <limits.h>

#include "config-paths.h"
#include "log.h"
#include "policy.h"
#include "proto.h"
#include "slug.h"

/*
 * A fixed, empty, root-owned directory the child mounts its new root on.
 * The mount exists only in the child's mount namespace, so every run uses
 * the same directory and none sees another's.
 */
#define RUN_NEWROOT		TENANTD_RUN_DIR "/run-root"

/*
 * The version of what jail.c builds into a tenant's sandbox, part of its
 * stamp: a tenantd-run that builds differently must not join a sandbox an
 * older one built and the supervisor still keeps. Bump it with any change
 * to jail_build().
 */
#define RUN_SANDBOX_LAYOUT	1

/* Exit statuses of our own; otherwise the handler's (128 + N: signal N). */
#define RUN_EXIT_SETUP		125	/* the sandbox could not be built */
#define RUN_EXIT_EXEC		127	/* the handler could not be executed */

/*
 * Where a persistent app finds its listening socket: the first fd of
 * sd_listen_fds(3) (SD_LISTEN_FDS_START), so stock libraries find it.
 */
#define RUN_APP_LISTEN_FD	3

/* Every failure before the handler runs ends the run; nothing is retried. */
#define DIE(...)	do { log_warn(__VA_ARGS__); _exit(RUN_EXIT_SETUP); } \
			while (0)
#define DIEX(...)	do { log_warnx(__VA_ARGS__); _exit(RUN_EXIT_SETUP); } \
			while (0)

/* MSG_RUN_SPEC, decoded and checked (proto.h). */
struct run_spec {
	uid_t		 rs_uid;
	gid_t		 rs_gid;
	int		 rs_network;
	int		 rs_persistent;	/* RUN_SPEC_PERSISTENT: an app */
	int		 rs_sandbox;	/* RUN_SPEC_SANDBOX: fds 5 and 6 */
	char		 rs_root[PATH_MAX];
	char		 rs_policy[PATH_MAX];
	char		 rs_slug[SLUG_MAX_LEN + 1];
	char		 rs_handler[RUN_NAME_MAX + 1];
	char		 rs_stamp[PROTO_STR_MAX + 1];	/* of fds 5 and 6 */
	char		*rs_env[RUN_ENV_MAX + 1];	/* NULL-terminated */
	char		 rs_envbuf[PROTO_MSG_MAX];
};

/* What the child needs from the host, read before any namespace exists. */
struct run_setup {
	struct mounts	 ru_mounts;
	struct limits	 ru_limits;
	struct cgroup_policy ru_cgroup;
	void		*ru_filter;	/* compiled, loaded last */
	int		 ru_last_cap;
	int		 ru_rootfd;	/* O_PATH of the tenant directory */
	int		 ru_alivefd;	/* EOF: the parent is gone */
	char		 ru_stamp[PROTO_STR_MAX + 1];	/* what we would build */
};

/* run.c */
int	 run_go_read(struct run_spec *);

/* cgroup.c */
int	 cgroup_place(const char *, const struct cgroup_policy *, char *,
	    size_t);
void	 cgroup_warn(const char *);

/* jail.c */
void	 jail_run(struct run_spec *, const struct run_setup *)
	    __attribute__((__noreturn__));

#endif
