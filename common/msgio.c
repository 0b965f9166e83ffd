/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Sending and receiving protocol messages over the SOCK_SEQPACKET channel,
 * with at most one descriptor riding on each (model: OpenSSH mm_send_fd /
 * mm_receive_fd, with the MSG_CTRUNC rules of unix(7)).
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"

/*
 * Non-blocking and without SIGPIPE: a slow or dead peer must cost the sender
 * an EAGAIN or an EPIPE, never a blocked event loop or a signal.
 */
int
msg_send(int sock, const struct msgbuf *mb, int fd)
{
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	ssize_t		 n;

	memset(&mh, 0, sizeof(mh));
	iov.iov_base = (void *)mb->mb_data;
	iov.iov_len = mb->mb_len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (fd != -1) {
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		mh.msg_control = cmsgbuf.buf;
		mh.msg_controllen = sizeof(cmsgbuf.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	do {
		n = sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if ((size_t)n != mb->mb_len) {
		/* Cannot happen on SEQPACKET; refuse to pretend otherwise. */
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

/*
 * Receive one message into buf. *fd gets the passed descriptor or -1.
 * Returns the message length, 0 on EOF, -1 on error. A truncated message, a
 * truncated control buffer (more than one fd, or the receiver at its
 * RLIMIT_NOFILE), or anything but one SCM_RIGHTS fd is an error, and every
 * descriptor that did arrive is closed so nothing leaks.
 */
ssize_t
msg_recv(int sock, uint8_t *buf, size_t bufsz, int *fd)
{
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	ssize_t		 n;
	int		 bad = 0, nfd = 0, got, i, cnt;

	*fd = -1;
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = buf;
	iov.iov_len = bufsz;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cmsgbuf.buf;
	mh.msg_controllen = sizeof(cmsgbuf.buf);
	do {
		n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;

	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS) {
			bad = 1;
			continue;
		}
		cnt = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (i = 0; i < cnt; i++) {
			memcpy(&got, CMSG_DATA(cm) + i * sizeof(int),
			    sizeof(int));
			if (nfd++ == 0)
				*fd = got;
			else
				close(got);
		}
	}
	if (nfd > 1 || (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC)))
		bad = 1;
	if (bad) {
		if (*fd != -1)
			close(*fd);
		*fd = -1;
		errno = EBADMSG;
		return -1;
	}
	return n;
}

/*
 * Data too big for one message rides on it as a memfd (MSG_CFG_HOSTS):
 * written, then sealed with PROTO_SEALS, so its size and bytes are fixed
 * before the receiver sees it. Returns the fd (close-on-exec), or -1.
 */
int
msg_sealed_create(const char *name, const void *data, size_t len)
{
	const char	*p = data;
	size_t		 off;
	ssize_t		 w;
	int		 fd, saved;

	if ((fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING)) == -1)
		return -1;
	for (off = 0; off < len; off += (size_t)w)
		if ((w = write(fd, p + off, len - off)) == -1) {
			if (errno != EINTR)
				goto fail;
			w = 0;
		}
	if (fcntl(fd, F_ADD_SEALS, PROTO_SEALS) == -1)
		goto fail;
	return fd;
 fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/*
 * Read a sealed file of exactly len bytes whole into a malloc'd buffer
 * (NUL-terminated, for the caller's convenience). Read with pread(), not
 * mapped: nothing done to the file later can fault the reader. Anything
 * but a regular file of len bytes with every seal of PROTO_SEALS is
 * EBADMSG. Returns NULL on error; fd stays the caller's.
 */
char *
msg_sealed_read(int fd, size_t len)
{
	struct stat	 st;
	size_t		 off;
	ssize_t		 r;
	char		*buf;
	int		 seals;

	if ((seals = fcntl(fd, F_GET_SEALS)) == -1 ||
	    (seals & PROTO_SEALS) != PROTO_SEALS || fstat(fd, &st) == -1 ||
	    !S_ISREG(st.st_mode) || st.st_size < 0 ||
	    (uint64_t)st.st_size != len) {
		errno = EBADMSG;
		return NULL;
	}
	if ((buf = malloc(len + 1)) == NULL)
		return NULL;
	for (off = 0; off < len; off += (size_t)r)
		if ((r = pread(fd, buf + off, len - off, (off_t)off)) <= 0) {
			if (r == -1 && errno == EINTR) {
				r = 0;
				continue;
			}
			free(buf);
			errno = EBADMSG;
			return NULL;
		}
	buf[len] = '\0';
	return buf;
}

/*
 * msg_recv() on a non-blocking channel, waiting in poll() for a message:
 * for a child's configuration phase, before its event loop runs.
 */
ssize_t
msg_recv_wait(int chan, uint8_t *buf, size_t sz, int *fd)
{
	struct pollfd	 pfd;
	ssize_t		 n;

	for (;;) {
		n = msg_recv(chan, buf, sz, fd);
		if (n >= 0 || errno != EAGAIN)
			return n;
		pfd.fd = chan;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
			return -1;
	}
}
