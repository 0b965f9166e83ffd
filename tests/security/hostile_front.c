/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * tenantd-hostile-front: a test double for a front taken over by an
 * attacker. tenantd runs it as [paths] front in test_front.py. It reads
 * MSG_FRONT_CFG like the real front, then misbehaves as the file
 * "hostile-front.mode" beside its root directory says (the test writes
 * it into the run directory), and writes what it saw to
 * "hostile-front.log" there. It enters no sandbox: it stands for code
 * that already runs inside one.
 *
 *   unknown     a message of a type no schema knows
 *   wrongchan   a worker's STATE_READY on the front's channel
 *   fd          READY, then an ASK carrying a descriptor
 *   trunc       READY, then an ASK whose string runs past its end
 *   noncanon    READY, then an ASK for a name not in canonical form
 *   early       an ASK before READY
 *   ready2      READY twice
 *   flood       READY, then ASKs without ever reading an answer
 *   ask         READY, then honest ASKs; logs each answer
 *   silent      never READY
 *   logs        READY, then 100 log lines at once, with a newline and a
 *               forged tenantd prefix in each
 * After its attempt it waits on its channel until it is killed or the
 * channel closes, logging any answer that comes.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"

static FILE	*hlog;

static void
say(const char *fmt, ...)
{
	va_list	 ap;

	if (hlog == NULL)
		return;
	fprintf(hlog, "%d: ", (int)getpid());
	va_start(ap, fmt);
	vfprintf(hlog, fmt, ap);
	va_end(ap);
	fputc('\n', hlog);
	fflush(hlog);
}

/* Blocking send: the flood must not stop at the first EAGAIN. */
static int
send_raw(struct msgbuf *mb, int fd)
{
	struct pollfd	 pfd = { PROTO_CHAN_FD, POLLOUT, 0 };

	for (;;) {
		if (msg_send(PROTO_CHAN_FD, mb, fd) == 0)
			return 0;
		if (errno != EAGAIN)
			return -1;
		if (poll(&pfd, 1, 5000) <= 0)
			return -1;
	}
}

static int
send_msg(uint32_t type, uint32_t id, const char *domain, int fd)
{
	struct msgbuf	 mb;

	msg_init(&mb, type, id);
	if (domain != NULL)
		msg_put_str(&mb, domain);
	if (msg_finish(&mb) == -1)
		return -1;
	return send_raw(&mb, fd);
}

/* Read and log answers until the channel closes. */
static void
drain(void)
{
	static uint8_t	 buf[PROTO_MSG_MAX];
	struct pollfd	 pfd = { PROTO_CHAN_FD, POLLIN, 0 };
	struct msg	 m;
	uint32_t	 allowed;
	ssize_t		 n;
	int		 fd;

	for (;;) {
		n = msg_recv(PROTO_CHAN_FD, buf, sizeof(buf), &fd);
		if (n == -1 && errno == EAGAIN) {
			poll(&pfd, 1, -1);
			continue;
		}
		if (n <= 0)
			exit(0);
		if (fd != -1)
			close(fd);
		if (msg_parse(&m, buf, (size_t)n) == -1)
			continue;
		if (m.m_type == MSG_FRONT_ASK_ANSWER &&
		    msg_get_u32(&m, &allowed) == 0)
			say("answered id %u allowed %u", m.m_conn_id, allowed);
		else
			say("answered id %u type %s", m.m_conn_id,
			    msg_type_str(m.m_type));
	}
}

int
main(int argc, char *argv[])
{
	static const char *const asks[] = { "acme.test.localhost",
	    "dormant.test.localhost", "nobody.test.localhost",
	    "shop.example.org", "pending.example.org", "test.localhost",
	    "admin.test.localhost", "www.test.localhost" };
	static uint8_t	 buf[PROTO_MSG_MAX];
	char		 root[PROTO_STR_MAX + 1], path[PATH_MAX + 64];
	char		 mode[32] = "";
	struct msgbuf	 mb;
	struct msg	 m;
	struct pollfd	 pfd = { PROTO_CHAN_FD, POLLIN, 0 };
	uint32_t	 u;
	ssize_t		 n;
	size_t		 i;
	FILE		*f;
	int		 fd;

	while ((n = msg_recv(PROTO_CHAN_FD, buf, sizeof(buf), &fd)) == -1 &&
	    errno == EAGAIN)
		poll(&pfd, 1, -1);
	if (n <= 0 || msg_parse(&m, buf, (size_t)n) == -1 ||
	    m.m_type != MSG_FRONT_CFG || msg_get_u32(&m, &u) == -1 ||
	    msg_get_u32(&m, &u) == -1 || msg_get_u32(&m, &u) == -1 ||
	    msg_get_str(&m, root, sizeof(root)) == -1)
		return 2;
	snprintf(path, sizeof(path), "%s/../hostile-front.log", root);
	hlog = fopen(path, "a");
	snprintf(path, sizeof(path), "%s/../hostile-front.mode", root);
	if ((f = fopen(path, "r")) != NULL) {
		if (fgets(mode, sizeof(mode), f) != NULL)
			mode[strcspn(mode, "\n")] = '\0';
		fclose(f);
	}
	say("mode %s", mode);

	if (strcmp(mode, "unknown") == 0)
		send_msg(MSG_FRONT_END + 0x40, 0, NULL, -1);
	else if (strcmp(mode, "wrongchan") == 0)
		send_msg(MSG_STATE_READY, 0, NULL, -1);
	else if (strcmp(mode, "silent") == 0)
		;
	else if (strcmp(mode, "early") == 0)
		send_msg(MSG_FRONT_ASK, 1, "acme.test.localhost", -1);
	else if (strcmp(mode, "ready2") == 0) {
		send_msg(MSG_FRONT_READY, 0, NULL, -1);
		send_msg(MSG_FRONT_READY, 0, NULL, -1);
	} else {
		send_msg(MSG_FRONT_READY, 0, NULL, -1);
		if (strcmp(mode, "fd") == 0) {
			fd = open("/dev/null", O_RDONLY);
			send_msg(MSG_FRONT_ASK, 1, "acme.test.localhost", fd);
		} else if (strcmp(mode, "trunc") == 0) {
			uint16_t	 l = 40;

			/* The string says 40 bytes; 5 follow. */
			msg_init(&mb, MSG_FRONT_ASK, 1);
			msg_put(&mb, &l, sizeof(l));
			msg_put(&mb, "acme.", 5);
			msg_finish(&mb);
			send_raw(&mb, -1);
		} else if (strcmp(mode, "noncanon") == 0)
			send_msg(MSG_FRONT_ASK, 1, "ACME.test.localhost", -1);
		else if (strcmp(mode, "flood") == 0) {
			for (u = 1; u <= 5000; u++)
				if (send_msg(MSG_FRONT_ASK, u,
				    "acme.test.localhost", -1) == -1)
					break;
			say("flood: %u sent", u - 1);
		} else if (strcmp(mode, "logs") == 0) {
			for (u = 0; u < 100; u++) {
				msg_init(&mb, MSG_FRONT_LOG, 0);
				msg_put_u32(&mb, 2);	/* LOG_CRIT */
				msg_put_str(&mb, "line\ntenantd[1]: forged");
				msg_finish(&mb);
				send_raw(&mb, -1);
			}
		} else if (strcmp(mode, "ask") == 0)
			for (i = 0; i < sizeof(asks) / sizeof(asks[0]); i++) {
				say("ask id %zu %s", i + 1, asks[i]);
				send_msg(MSG_FRONT_ASK, (uint32_t)i + 1,
				    asks[i], -1);
			}
	}
	say("sent");
	drain();
	return 0;
}
