/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * fork -> fixed fds -> exec for every child tenantd starts, done by
 * posix_spawn (a CLONE_VFORK child that runs only the file actions and
 * execve, and reports an exec failure back synchronously, so no status
 * pipe is needed). The caller decides which of
 * its descriptors the child gets and where; this creates nothing in the
 * parent and logs nothing: a failure is -1 with errno, logged by the
 * caller (docs/architecture.md, "Spawning a child").
 */
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include "spawner.h"

/*
 * A session of its own (no controlling tty, and its group can be
 * killed), an empty signal mask and default dispositions: libev blocks
 * signals, and a blocked mask and ignored signals survive exec.
 */
static int
spawn_attr(posix_spawnattr_t *attr)
{
	sigset_t	 none, all;
	int		 rc;

	sigemptyset(&none);
	sigfillset(&all);
	if ((rc = posix_spawnattr_init(attr)) != 0)
		return rc;
	if ((rc = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSID |
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) != 0 ||
	    (rc = posix_spawnattr_setsigmask(attr, &none)) != 0 ||
	    (rc = posix_spawnattr_setsigdefault(attr, &all)) != 0)
		posix_spawnattr_destroy(attr);
	return rc;
}

/* Is fd one of the caller's sources (stdio's included)? */
static int
spawn_is_source(const struct spawn *sp, int fd)
{
	size_t	 i;

	for (i = 0; i < 3; i++)
		if (sp->sp_stdio[i] == fd)
			return 1;
	for (i = 0; i < sp->sp_nfds; i++)
		if (sp->sp_fds[i].sf_src == fd)
			return 1;
	return 0;
}

/*
 * The file actions, in the child in this order. A source may sit on a
 * number the child needs (a target, even its own: dup2 of an fd onto
 * itself leaves FD_CLOEXEC set, and the exec would close it) or on 0-2
 * that /dev/null takes. Then every source is first copied to a free
 * number above the highest target that is no source's, so no dup2
 * clobbers a source still to be copied and every target is a fresh dup2
 * without FD_CLOEXEC. The copies are the lowest such numbers, not above
 * the highest source, which may sit near RLIMIT_NOFILE; closefrom ends
 * them.
 */
static int
spawn_actions(posix_spawn_file_actions_t *fa, const struct spawn *sp)
{
	struct spawn_fd	 map[SPAWN_FDS_MAX + 3];
	size_t		 n = 0, i;
	int		 hi = STDERR_FILENO, tmp, stage = 0, null = -1, rc;

	if (sp->sp_nfds > SPAWN_FDS_MAX)
		return EINVAL;
	for (i = 0; i < 3; i++) {
		if (sp->sp_stdio[i] >= 0) {
			map[n].sf_src = sp->sp_stdio[i];
			map[n++].sf_dst = (int)i;
		} else if (sp->sp_stdio[i] != SPAWN_DEVNULL &&
		    sp->sp_stdio[i] != SPAWN_KEEP)
			return EBADF;
	}
	for (i = 0; i < sp->sp_nfds; i++) {
		if (sp->sp_fds[i].sf_src < 0 ||
		    sp->sp_fds[i].sf_dst <= STDERR_FILENO)
			return EBADF;
		map[n++] = sp->sp_fds[i];
		if (sp->sp_fds[i].sf_dst > hi)
			hi = sp->sp_fds[i].sf_dst;
	}
	for (i = 0; i < n; i++)
		if (map[i].sf_src <= hi)
			stage = 1;
	if ((rc = posix_spawn_file_actions_init(fa)) != 0)
		return rc;
	for (i = 0, tmp = hi + 1; stage && i < n; i++, tmp++) {
		while (spawn_is_source(sp, tmp))
			tmp++;
		if ((rc = posix_spawn_file_actions_adddup2(fa, map[i].sf_src,
		    tmp)) != 0)
			goto fail;
		map[i].sf_src = tmp;
	}
	for (i = 0; i < 3; i++) {
		if (sp->sp_stdio[i] != SPAWN_DEVNULL)
			continue;
		if (null == -1) {
			rc = posix_spawn_file_actions_addopen(fa, (int)i,
			    "/dev/null", O_RDWR, 0);
			null = (int)i;
		} else
			rc = posix_spawn_file_actions_adddup2(fa, null, (int)i);
		if (rc != 0)
			goto fail;
	}
	for (i = 0; i < n; i++)
		if ((rc = posix_spawn_file_actions_adddup2(fa, map[i].sf_src,
		    map[i].sf_dst)) != 0)
			goto fail;
	if ((rc = posix_spawn_file_actions_addclosefrom_np(fa, hi + 1)) != 0)
		goto fail;
	/* A child may wait as root: not in our working directory. */
	if ((rc = posix_spawn_file_actions_addchdir_np(fa, "/")) != 0)
		goto fail;
	return 0;
 fail:
	posix_spawn_file_actions_destroy(fa);
	return rc;
}

/*
 * Exec sp_path. 0 when a child exists (the caller reaps it) with *pid and
 * *pidfd set: the pid cannot be reused before we reap it, so the pidfd
 * opened now names our child and every later signal goes through it. If
 * no pidfd could be had the child is killed at once, *pidfd is -1 and
 * errno says why. -1 with errno when there is no child.
 */
int
spawn_child(const struct spawn *sp, pid_t *pid, int *pidfd)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 attr;
	char				*none[] = { NULL };
	int				 rc, save;

	*pid = -1;
	*pidfd = -1;
	if ((rc = spawn_actions(&fa, sp)) != 0) {
		errno = rc;
		return -1;
	}
	if ((rc = spawn_attr(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		errno = rc;
		return -1;
	}
	rc = posix_spawn(pid, sp->sp_path, &fa, &attr, sp->sp_argv,
	    sp->sp_envp != NULL ? sp->sp_envp : none);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		*pid = -1;
		errno = rc;
		return -1;
	}
	if ((*pidfd = (int)syscall(SYS_pidfd_open, *pid, 0)) == -1) {
		save = errno;
		kill(*pid, SIGKILL);
		errno = save;
	}
	return 0;
}
