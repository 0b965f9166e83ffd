/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * One tenantd per configuration (docs/operations.md, "One tenantd per
 * run directory"). A second one started by hand used to unlink and bind
 * the running one's sockets again, and remove them when it stopped: the
 * first kept its workers and nobody could reach it. So:
 *
 *  - instance_lock() takes an exclusive lock on <run_dir>/tenantd.pid,
 *    which holds our pid, before anything of the running one can be
 *    touched (its sockets, its ledger holds: priv_init()), and a second
 *    instance stops at once naming the holder;
 *  - instance_listen() replaces a socket file only when nobody answers on
 *    it (a tenantd on another run directory, or any other program, may be
 *    listening there), and records which socket it bound;
 *  - instance_unlink() removes a path only while it still names that
 *    socket: whatever replaced it is not ours.
 *
 * A socket passed by systemd (socket activation) never goes through here.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "supervisor.h"

#define INSTANCE_LOCK_FILE	"tenantd.pid"

static int	 lock_fd = -1;
static char	 lock_path[PATH_MAX];

/*
 * The pid the holder wrote into the lock file, for the message. It writes
 * it just after taking the lock, so a start racing with it may read an
 * empty file: then "another tenantd" is all we can say.
 */
static long
instance_holder(int fd)
{
	char	 buf[24], *ep;
	ssize_t	 n;
	long	 pid;

	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return -1;
	buf[n] = '\0';
	errno = 0;
	pid = strtol(buf, &ep, 10);
	if (errno != 0 || ep == buf || *ep != '\n' || pid <= 0)
		return -1;
	return pid;
}

/*
 * An open file description lock (F_OFD_SETLK): it belongs to this
 * descriptor, not to the process, so no other open or close of the file
 * here can drop it, and it goes away with the process however it ends.
 * The descriptor is close-on-exec: no worker or run holds it. The file is
 * never removed, only emptied at a clean stop: removing it would let a
 * start that opened the old file and one that creates a new one both win.
 * O_NOFOLLOW and O_NONBLOCK: a symlink or a FIFO planted there is refused,
 * not followed or waited on.
 */
void
instance_lock(void)
{
	struct flock	 fl;
	struct stat	 st;
	char		 pid[24];
	long		 holder;
	int		 fd, n;

	if ((size_t)snprintf(lock_path, sizeof(lock_path), "%s/%s",
	    conf->c_run_dir, INSTANCE_LOCK_FILE) >= sizeof(lock_path))
		fatalx("%s: path too long", conf->c_run_dir);
	if ((fd = open(lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK, 0644)) == -1)
		fatal("%s", lock_path);
	if (fstat(fd, &st) == -1)
		fatal("%s", lock_path);
	if (!S_ISREG(st.st_mode))
		fatalx("%s exists and is not a regular file", lock_path);
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_OFD_SETLK, &fl) == -1) {
		if (errno != EAGAIN && errno != EACCES)
			fatal("lock %s", lock_path);
		if ((holder = instance_holder(fd)) == -1)
			fatalx("%s is locked by another tenantd: it runs on "
			    "this run directory; not starting", lock_path);
		fatalx("%s is locked by pid %ld: a tenantd runs on this run "
		    "directory; not starting", lock_path, holder);
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, pid, (size_t)n, 0) != n)
		fatal("%s", lock_path);
	lock_fd = fd;
}

/* A clean stop: the lock goes with the process, the pid goes now. */
void
instance_unlock(void)
{
	if (lock_fd == -1)
		return;
	if (ftruncate(lock_fd, 0) == -1)
		log_warn("%s", lock_path);
	close(lock_fd);
	lock_fd = -1;
}

/*
 * A socket file is at path. Stale (a tenantd killed before it could
 * remove it): nobody listens and connect() is refused; then it may go.
 * Anything else means someone is behind it, and we stop, naming them:
 * SO_PEERCRED gives the pid that called listen(). A full backlog
 * (EAGAIN) or a socket of another type (EPROTOTYPE) is someone too.
 */
static void
instance_probe(const char *path, const struct sockaddr_un *sun)
{
	struct ucred	 uc;
	socklen_t	 len = sizeof(uc);
	int		 fd, rc, saved;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		fatal("socket");
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	saved = errno;
	if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) ==
	    0 && len == sizeof(uc)) {
		close(fd);
		fatalx("%s: pid %ld is listening on it (another tenantd?); "
		    "not replacing it", path, (long)uc.pid);
	}
	close(fd);
	if (rc == 0 || saved == EAGAIN || saved == EPROTOTYPE)
		fatalx("%s: a live socket (%s); not replacing it", path,
		    rc == 0 ? "its peer is unknown" : strerror(saved));
	if (saved != ECONNREFUSED && saved != ENOENT) {
		errno = saved;
		fatal("connect %s", path);
	}
	if (unlink(path) == -1 && errno != ENOENT)
		fatal("unlink %s", path);
}

/*
 * A listening socket at path, created with a restrictive umask so there
 * is no moment when it is open to everyone, then given to root:gid with
 * mode (docs/security.md, item 57). A stale socket file is replaced; a live
 * one, or anything else at that path, is left alone and is an error.
 */
int
instance_listen(struct isock *is, const char *path, gid_t gid, mode_t mode,
    int backlog)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	mode_t			 old;
	int			 fd, saved;

	memset(is, 0, sizeof(*is));
	is->is_path = path;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	/* config_finish() bounded the length to fit sun_path. */
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			fatalx("%s exists and is not a socket", path);
		instance_probe(path, &sun);
	} else if (errno != ENOENT)
		fatal("%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		fatal("socket");
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("bind %s", path);
	umask(old);
	/* From here the path is ours, and only this inode of it. */
	if (lstat(path, &st) == -1)
		fatal("%s", path);
	is->is_dev = st.st_dev;
	is->is_ino = st.st_ino;
	is->is_bound = 1;
	if (chown(path, 0, gid) == -1 || chmod(path, mode) == -1 ||
	    listen(fd, backlog) == -1) {
		saved = errno;
		instance_unlink(is);
		errno = saved;
		fatal("%s", path);
	}
	return fd;
}

/*
 * Remove the socket we bound, if its path still names it. Someone who
 * replaced it (another tenantd, an operator) owns what is there now.
 */
void
instance_unlink(struct isock *is)
{
	struct stat	 st;

	if (!is->is_bound)
		return;
	is->is_bound = 0;
	if (lstat(is->is_path, &st) == -1)
		return;
	if (!S_ISSOCK(st.st_mode) || st.st_dev != is->is_dev ||
	    st.st_ino != is->is_ino) {
		log_info("%s is no longer our socket; leaving it",
		    is->is_path);
		return;
	}
	if (unlink(is->is_path) == -1)
		log_warn("unlink %s", is->is_path);
}
