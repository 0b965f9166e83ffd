/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Syscall wrappers: non-blocking mode, openat2 confinement, the jail-path
 * ownership walk, descriptor closing.
 */
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/openat2.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sys.h"

int
fd_nonblock(int fd)
{
	int	 fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return -1;
	if (fl & O_NONBLOCK)
		return 0;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/*
 * Open path strictly below dirfd: no "..", no absolute path, no symlink in
 * any component, no magic /proc link, no mount crossing. O_NOFOLLOW alone
 * guards only the last component (docs/security.md, items 8, 88-89).
 */
int
open_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how	 how;
	long		 fd;

	memset(&how, 0, sizeof(how));
	/* openat2 refuses flags O_PATH does not take (EINVAL). */
	how.flags = (uint64_t)(flags | O_CLOEXEC |
	    ((flags & O_PATH) ? 0 : O_NOCTTY));
	how.mode = (flags & O_CREAT) ? mode : 0;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
	    RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
	do {
		fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	} while (fd == -1 && errno == EAGAIN);
	return (int)fd;
}

/*
 * A chroot is only a jail if nobody but root can change the path to it: every
 * component must be a root-owned directory that is not writable by group
 * or others (OpenSSH's ChrootDirectory rule, docs/security.md, item 5). Two
 * exceptions: a sticky ancestor such as /tmp (its root-owned entries cannot be
 * renamed by others), and the jail itself, which may be group-readable by the
 * tenant's gid so the tenant can enter it, never writable.
 */
int
jail_path_check(const char *path, gid_t gid, char *err, size_t errsz)
{
	char		 real[PATH_MAX], *p;
	struct stat	 st;
	int		 last;

	if (realpath(path, real) == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (strcmp(real, path) != 0) {
		snprintf(err, errsz, "%s: resolves to %s (a symlink in the "
		    "path)", path, real);
		return -1;
	}
	/* The root directory itself, then every component below it. */
	if (lstat("/", &st) == -1 || st.st_uid != 0 || (st.st_mode & 022)) {
		snprintf(err, errsz, "/: not root-owned or writable by others");
		return -1;
	}
	p = real;
	for (;;) {
		char	 save;

		p = strchr(p + 1, '/');
		last = p == NULL;
		if (!last) {
			save = *p;
			*p = '\0';
		}
		if (lstat(real[0] ? real : "/", &st) == -1) {
			snprintf(err, errsz, "%s: %s", real, strerror(errno));
			return -1;
		}
		if (!S_ISDIR(st.st_mode) || st.st_uid != 0) {
			snprintf(err, errsz, "%s: not a root-owned directory",
			    real);
			return -1;
		}
		if (last) {
			if ((st.st_mode & 022) != 0 || (st.st_mode & 07000) ||
			    ((st.st_mode & 070) != 0 && st.st_gid != gid &&
			    st.st_gid != 0)) {
				snprintf(err, errsz, "%s: mode %04o owner %u:%u; "
				    "the jail must be root-owned, not writable "
				    "by group or others", real,
				    st.st_mode & 07777, st.st_uid, st.st_gid);
				return -1;
			}
			return 0;
		}
		if ((st.st_mode & 022) != 0 && !(st.st_mode & S_ISVTX)) {
			snprintf(err, errsz, "%s: writable by group or others",
			    real);
			return -1;
		}
		*p = save;
	}
}

ssize_t
read_file(const char *path, char *buf, size_t bufsz)
{
	ssize_t	 n;
	size_t	 off = 0;
	int	 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	for (;;) {
		n = read(fd, buf + off, bufsz - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
		if (off == bufsz) {
			n = -1;
			errno = EFBIG;
			break;
		}
	}
	saved = errno;
	close(fd);
	errno = saved;
	return n == -1 ? -1 : (ssize_t)off;
}

/*
 * Set our OOM score adjustment ("-900", "500"). Lowering it needs
 * CAP_SYS_RESOURCE; raising it needs nothing.
 */
int
oom_score_set(const char *value)
{
	ssize_t	 n, len = (ssize_t)strlen(value);
	int	 fd, saved;

	if ((fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC)) ==
	    -1)
		return -1;
	n = write(fd, value, (size_t)len);
	saved = errno;
	close(fd);
	errno = saved;
	return n == len ? 0 : -1;
}

/* close_range(2), or a walk of /proc/self/fd where it is missing. */
int
closefrom_safe(int lowfd)
{
	DIR		*d;
	struct dirent	*de;
	long		 fd;
	char		*ep;

	if (syscall(SYS_close_range, (unsigned int)lowfd, ~0U, 0) == 0)
		return 0;
	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		fd = strtol(de->d_name, &ep, 10);
		if (*ep != '\0' || fd < lowfd || fd == dirfd(d))
			continue;
		close((int)fd);
	}
	closedir(d);
	return 0;
}
