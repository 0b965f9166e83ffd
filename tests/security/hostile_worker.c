/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * tenantd-hostile-worker: a test double for a worker taken over by an
 * attacker (docs/security.md, section 2, F and I). It speaks the real
 * protocol on fd 3, then misbehaves as its tenant's slug says, so one
 * binary set as [paths] worker serves every case of
 * tests/security/test_hostile_worker.py.
 *
 * It enters no sandbox: it stands for code that already runs inside one,
 * and some attacks (a socketpair of its own, fork) model a hole in it. It
 * does drop to the tenant's uid and gid, so /proc shows it as the tenant's.
 *
 * Behaviour by slug prefix; the rest of the slug is free:
 *   good-         honest: serves "good page of <slug>" for its own Host and
 *                 hands any other Host back, like the real worker
 *   answer-all    serves every request on a connection it holds, whatever
 *                 its Host (docs/security.md, item 86)
 *   forge-back    hands back a socketpair end of its own under the real
 *                 conn_id (docs/security.md, item 55); a child records
 *                 what reaches it
 *   swap-back     holds two connections, hands the first back under the
 *                 second's conn_id (what a sandboxed worker could try)
 *   wrong-id      hands back the real socket under an id it never got
 *   debit-other   hands back its socket under the id issued just before its
 *                 own, i.e. another worker's (docs/security.md, item 56)
 *   debit-closed  sends CONN_CLOSED for that other worker's id
 *   fd-stuff-one  one descriptor on a MSG_LOG
 *   fd-stuff-pair a hand-back carrying two descriptors
 *   fd-stuff      MSG_LOG with 253 descriptors (SCM_MAX_FD), many times
 *                 (docs/security.md, item 54)
 *   garbage-<k>   one malformed message of kind k on its first connection:
 *                 short, len, hugelen, type, none, flags, trunc, nul,
 *                 trailing, prio, longlog, oversize, empty
 *   early-ready   READY twice, then holds what it gets without a word
 *   unpermitted-<k> a well-formed message the supervisor must refuse:
 *                 closed (CONN_CLOSED for an id never issued), nofd (a
 *                 hand-back without its socket), new, drain (messages only
 *                 the supervisor sends), retiring (RETIRING instead of
 *                 READY), runname, runenv, appname (a run asked for with
 *                 a handler name or an environment entry the one rule of
 *                 common/runarg.c refuses), logid (a LOG under a conn_id),
 *                 sandbox (tenantd-run's RUN_SANDBOX, with its fd),
 *                 credit2 (a second CREDIT_WANT before the answer
 *                 to the first), overspend (asks for 10 credits, then
 *                 reports one more than it was granted)
 *   log-flood     thousands of log lines a second with control bytes and
 *                 forged "tenant globex" prefixes, then answers
 *   deaf          READY, then never reads its channel again
 *                 (docs/security.md, item 58)
 *   die-back      holds its first connection; when the next message comes,
 *                 leaves it unread and, once logs/die-back.go exists (the
 *                 test stops the supervisor first), hands the first back
 *                 and dies, so the supervisor reads ECONNRESET before it
 *   stop-back     serves its own Host, then leaves the connection unread;
 *                 at a drain it reads it once and hands a request for
 *                 another Host back, as the real worker does in a stop
 *
 * A connection's first request names the victim for hand-back attacks in
 * its path: "GET /good-b" aims at good-b.<suffix>. What the worker did goes
 * to logs/hostile.log in the tenant's directory, so a test can tell "the
 * supervisor refused it" from "it never tried".
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

#define CHAN		PROTO_CHAN_FD
#define MAX_CONNS	256
#define STUFF_FDS	253	/* SCM_MAX_FD */
#define FLOOD_SECONDS	2.5
#define FORGE_WATCH_MS	4000

enum mode {
	M_GOOD, M_ANSWER_ALL, M_FORGE_BACK, M_SWAP_BACK, M_WRONG_ID,
	M_DEBIT_OTHER, M_DEBIT_CLOSED, M_FD_ONE, M_FD_PAIR, M_FD_STUFF,
	M_GARBAGE, M_EARLY_READY, M_UNPERMITTED, M_LOG_FLOOD, M_DEAF,
	M_DIE_BACK, M_STOP_BACK,
};

/* The first match wins: fd-stuff-one before fd-stuff. */
static const struct {
	const char	*prefix;
	enum mode	 mode;
} modes[] = {
	{ "good-", M_GOOD },
	{ "answer-all", M_ANSWER_ALL },
	{ "forge-back", M_FORGE_BACK },
	{ "swap-back", M_SWAP_BACK },
	{ "wrong-id", M_WRONG_ID },
	{ "debit-other", M_DEBIT_OTHER },
	{ "debit-closed", M_DEBIT_CLOSED },
	{ "fd-stuff-one", M_FD_ONE },
	{ "fd-stuff-pair", M_FD_PAIR },
	{ "fd-stuff", M_FD_STUFF },
	{ "garbage-", M_GARBAGE },
	{ "early-ready", M_EARLY_READY },
	{ "unpermitted-", M_UNPERMITTED },
	{ "log-flood", M_LOG_FLOOD },
	{ "deaf", M_DEAF },
	{ "die-back", M_DIE_BACK },
	{ "stop-back", M_STOP_BACK },
};

struct hconn {
	uint32_t	 c_id;
	int		 c_fd;
	int		 c_polled;	/* 0: only held, never read */
	uint32_t	 c_served;
	size_t		 c_len;
	uint8_t		 c_buf[PROTO_MSG_MAX];
};

static struct hconn	*conns[MAX_CONNS];
static enum mode	 mode;
static char		 slug[64];
static char		 root[PATH_MAX - 64];
static char		 suffix[256];
static unsigned int	 nconn_new;
static unsigned int	 flood_lines;
static struct hconn	*die_held;

static void
report(const char *fmt, ...)
{
	char	 path[PATH_MAX], line[1024];
	va_list	 ap;
	int	 fd, n;

	n = snprintf(line, sizeof(line), "%d %s: ", (int)getpid(), slug);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	strcat(line, "\n");
	snprintf(path, sizeof(path), "%s/logs/hostile.log", root);
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1)
		return;
	if (write(fd, line, strlen(line)) == -1) {
		/* Best effort: the test then says what is missing. */
	}
	close(fd);
}

static void __attribute__((__noreturn__))
die(const char *what)
{
	report("exiting: %s: %s", what, strerror(errno));
	exit(1);
}

/*
 * The supervisor closed our channel. The real worker exits; a hostile one
 * has no reason to, and the supervisor must not count on it: it has to
 * SIGKILL us. Linger (bounded, so nothing outlives a broken test).
 */
static void __attribute__((__noreturn__))
chan_gone(void)
{
	int	 i;

	if (mode == M_GOOD)
		exit(0);
	report("channel closed; lingering until killed");
	for (i = 0; i < 30; i++)
		sleep(1);
	report("never killed");
	exit(0);
}

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * One raw datagram with up to STUFF_FDS descriptors. On a full channel,
 * wait up to wait_ms for room. 0 or -1 with errno.
 */
static int
chan_sendraw(const void *buf, size_t len, const int *fds, int nfds,
    int wait_ms)
{
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	struct pollfd	 pfd;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int) * STUFF_FDS)];
	} cmsgbuf;
	ssize_t		 n;

	memset(&mh, 0, sizeof(mh));
	iov.iov_base = (void *)buf;
	iov.iov_len = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds > 0) {
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		mh.msg_control = cmsgbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfds);
	}
	for (;;) {
		n = sendmsg(CHAN, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || wait_ms <= 0)
			return -1;
		pfd.fd = CHAN;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, wait_ms) <= 0) {
			errno = EAGAIN;
			return -1;
		}
	}
}

static int
chan_send(struct msgbuf *mb, const int *fds, int nfds)
{
	if (msg_finish(mb) == -1)
		return -1;
	return chan_sendraw(mb->mb_data, mb->mb_len, fds, nfds, 1000);
}

static int
send_simple(uint32_t type, uint32_t id)
{
	struct msgbuf	 mb;

	msg_init(&mb, type, id);
	return chan_send(&mb, NULL, 0);
}

static int
send_closed(uint32_t id, uint32_t served)
{
	struct msgbuf	 mb;

	msg_init(&mb, MSG_CONN_CLOSED, id);
	msg_put_u32(&mb, served);
	return chan_send(&mb, NULL, 0);
}

static int
send_handback(uint32_t id, uint32_t reason, uint32_t served,
    const void *data, size_t len, const int *fds, int nfds)
{
	struct msgbuf	 mb;

	msg_init(&mb, MSG_CONN_HANDBACK, id);
	msg_put_u32(&mb, reason);
	msg_put_u32(&mb, served);
	msg_put_rest(&mb, data, len);
	return chan_send(&mb, fds, nfds);
}

static int
send_log(uint32_t prio, const char *text, const int *fds, int nfds,
    int wait_ms)
{
	struct msgbuf	 mb;

	msg_init(&mb, MSG_LOG, 0);
	msg_put_u32(&mb, prio);
	msg_put_str(&mb, text);
	if (msg_finish(&mb) == -1)
		return -1;
	return chan_sendraw(mb.mb_data, mb.mb_len, fds, nfds, wait_ms);
}

/* Receive one message, blocking (before READY). */
static ssize_t
chan_recv_wait(uint8_t *buf, size_t sz, int *fd)
{
	struct pollfd	 pfd;
	ssize_t		 n;

	for (;;) {
		n = msg_recv(CHAN, buf, sz, fd);
		if (n >= 0 || errno != EAGAIN)
			return n;
		pfd.fd = CHAN;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
			return -1;
	}
}

/*
 * CFG_TENANT, CFG_CGROUP*, CFG_LIMIT*, CFG_HOSTS, CFG_DONE: keep what we
 * need. The cgroup is joined as the real worker joins it, before it reads
 * a tenant's byte: what a compromised worker does starts inside it.
 */
static void
configure(uid_t *uid, gid_t *gid)
{
	static uint8_t	 buf[PROTO_MSG_MAX];
	char		 skip[PROTO_STR_MAX + 1];
	struct msg	 m;
	uint32_t	 v[10];
	ssize_t		 n;
	int		 fd, i;

	for (;;) {
		if ((n = chan_recv_wait(buf, sizeof(buf), &fd)) <= 0)
			exit(n == 0 ? 0 : 1);
		if (msg_parse(&m, buf, (size_t)n) == -1 ||
		    (fd != -1) != (m.m_type == MSG_CFG_HOSTS ||
		    m.m_type == MSG_CFG_CGROUP))
			exit(1);
		if (m.m_type == MSG_CFG_CGROUP && write(fd, "0", 1) != 1)
			exit(1);
		if (fd != -1)
			close(fd);
		switch (m.m_type) {
		case MSG_CFG_TENANT:
			for (i = 0; i < 10; i++)
				if (msg_get_u32(&m, &v[i]) == -1)
					exit(1);
			if (msg_get_str(&m, slug, sizeof(slug)) == -1 ||
			    msg_get_str(&m, root, sizeof(root)) == -1 ||
			    msg_get_str(&m, skip, sizeof(skip)) == -1 ||
			    msg_get_str(&m, skip, sizeof(skip)) == -1 ||
			    msg_get_str(&m, suffix, sizeof(suffix)) == -1)
				exit(1);
			*uid = v[1];
			*gid = v[2];
			break;
		case MSG_CFG_LIMIT:
		case MSG_CFG_KEY:
		case MSG_CFG_DATA:
		case MSG_CFG_HOSTS:
		case MSG_CFG_CGROUP:
			break;
		case MSG_CFG_DONE:
			return;
		default:
			exit(1);
		}
	}
}

static struct hconn *
conn_add(uint32_t id, int fd, const uint8_t *data, size_t len, int polled)
{
	struct hconn	*c;
	int		 i;

	for (i = 0; i < MAX_CONNS && conns[i] != NULL; i++)
		;
	if (i == MAX_CONNS || len > sizeof(c->c_buf) ||
	    (c = calloc(1, sizeof(*c))) == NULL)
		die("conn_add");
	c->c_id = id;
	c->c_fd = fd;
	c->c_polled = polled;
	memcpy(c->c_buf, data, len);
	c->c_len = len;
	conns[i] = c;
	return c;
}

static void
conn_del(struct hconn *c)
{
	int	 i;

	for (i = 0; i < MAX_CONNS; i++)
		if (conns[i] == c)
			conns[i] = NULL;
	close(c->c_fd);
	free(c);
}

static void
conn_close(struct hconn *c)
{
	send_closed(c->c_id, c->c_served);
	conn_del(c);
}

/* The victim of a hand-back attack: the first path segment, as a slug. */
static void
victim_request(const uint8_t *data, size_t len, char *out, size_t outsz)
{
	char	 victim[64] = "good-victim";
	size_t	 i, o = 0;

	for (i = 0; i < len && data[i] != ' '; i++)
		;
	if (i + 1 < len && data[i + 1] == '/') {
		for (i += 2; i < len && o < sizeof(victim) - 1 &&
		    ((data[i] >= 'a' && data[i] <= 'z') ||
		    (data[i] >= '0' && data[i] <= '9') || data[i] == '-'); i++)
			victim[o++] = (char)data[i];
		if (o > 0)
			victim[o] = '\0';
		else
			strcpy(victim, "good-victim");
	}
	snprintf(out, outsz, "GET / HTTP/1.1\r\nHost: %s.%s\r\n\r\n",
	    victim, suffix);
}

static void
write_all(int fd, const char *p, size_t len)
{
	struct pollfd	 pfd;
	ssize_t		 n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EAGAIN) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, 2000) <= 0)
				return;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

static void
respond(struct hconn *c, const char *body)
{
	char	 out[4096];
	int	 n;

	n = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
	if (n > 0 && (size_t)n < sizeof(out))
		write_all(c->c_fd, out, (size_t)n);
}

/* The value of header `name` in the head [p, p+len), or "" if none. */
static void
header_value(const char *head, size_t len, const char *name, char *out,
    size_t outsz)
{
	const char	*p = head, *end = head + len, *eol, *v;
	size_t		 nl = strlen(name), vl;

	out[0] = '\0';
	while (p < end && (eol = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		p = eol + 1;
		if ((size_t)(end - p) > nl && strncasecmp(p, name, nl) == 0 &&
		    p[nl] == ':') {
			v = p + nl + 1;
			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			eol = memchr(v, '\r', (size_t)(end - v));
			vl = eol != NULL ? (size_t)(eol - v) : 0;
			if (vl >= outsz)
				vl = outsz - 1;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return;
		}
	}
}

/* Is host (raw Host value) "<slug>.<suffix>", ignoring case, port, dot? */
static int
host_is_mine(const char *host)
{
	char	 want[sizeof(slug) + sizeof(suffix) + 1];
	char	 h[PROTO_STR_MAX + 1];
	size_t	 n;
	char	*colon;

	snprintf(h, sizeof(h), "%s", host);
	if ((colon = strchr(h, ':')) != NULL)
		*colon = '\0';
	n = strlen(h);
	if (n > 0 && h[n - 1] == '.')
		h[n - 1] = '\0';
	snprintf(want, sizeof(want), "%s.%s", slug, suffix);
	return strcasecmp(h, want) == 0;
}

/* Serve (or hand back) every complete request head in c's buffer. */
static void
conn_process(struct hconn *c)
{
	const char	*head = (const char *)c->c_buf;
	char		 host[PROTO_STR_MAX + 1], conn[64], body[2048];
	uint8_t		*end;
	size_t		 hlen;

	while ((end = memmem(c->c_buf, c->c_len, "\r\n\r\n", 4)) != NULL) {
		hlen = (size_t)(end - c->c_buf) + 4;
		header_value(head, hlen, "host", host, sizeof(host));
		header_value(head, hlen, "connection", conn, sizeof(conn));
		switch (mode) {
		case M_GOOD:
			if (!host_is_mine(host)) {
				/* Like the real worker: not ours, give back. */
				send_handback(c->c_id, HANDBACK_FOREIGN_HOST,
				    c->c_served, c->c_buf, c->c_len, &c->c_fd,
				    1);
				conn_del(c);
				return;
			}
			snprintf(body, sizeof(body), "good page of %s\n", slug);
			break;
		case M_LOG_FLOOD:
			snprintf(body, sizeof(body), "%s sent %u log lines\n",
			    slug, flood_lines);
			break;
		case M_STOP_BACK:
			/* The next request waits unread for the drain. */
			snprintf(body, sizeof(body), "good page of %s\n", slug);
			c->c_polled = 0;
			report("stop-back: served conn %u, now idle", c->c_id);
			break;
		default:
			/*
			 * Host is not even looked at (docs/security.md,
			 * item 86).
			 */
			snprintf(body, sizeof(body), "%s answered Host %s\n",
			    slug, host);
			break;
		}
		respond(c, body);
		c->c_served++;
		memmove(c->c_buf, c->c_buf + hlen, c->c_len - hlen);
		c->c_len -= hlen;
		if (strcasestr(conn, "close") != NULL) {
			conn_close(c);
			return;
		}
	}
	if (c->c_len == sizeof(c->c_buf))
		conn_close(c);
}

static void
conn_read(struct hconn *c)
{
	ssize_t	 n;

	n = read(c->c_fd, c->c_buf + c->c_len, sizeof(c->c_buf) - c->c_len);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->c_len += (size_t)n;
	conn_process(c);
}

/*
 * docs/security.md, item 55: give the supervisor a socket it never issued.
 * A child keeps the other end and writes down everything that arrives on it
 * until EOF or FORGE_WATCH_MS, to logs/forged.report.
 */
static void
forge_back(uint32_t id, const char *req)
{
	char	 path[PATH_MAX], tmp[PATH_MAX + 8], got[4096], hdr[64];
	size_t	 len = 0;
	ssize_t	 n;
	double	 deadline;
	int	 sp[2], eof = 0, fd;
	pid_t	 pid;
	struct pollfd pfd;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		die("socketpair");
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		/*
		 * Nothing but our end: not the channel, not the client's
		 * socket, so the supervisor and the client see our parent die.
		 */
		if ((sp[1] > 0 && close_range(0, (unsigned int)sp[1] - 1,
		    0) == -1) || close_range((unsigned int)sp[1] + 1, ~0U,
		    0) == -1)
			_exit(1);
		deadline = now() + FORGE_WATCH_MS / 1000.0;
		while (!eof && len < sizeof(got) && now() < deadline) {
			pfd.fd = sp[1];
			pfd.events = POLLIN;
			if (poll(&pfd, 1, (int)((deadline - now()) * 1000) +
			    1) <= 0)
				continue;
			n = read(sp[1], got + len, sizeof(got) - len);
			if (n <= 0)
				eof = 1;
			else
				len += (size_t)n;
		}
		snprintf(path, sizeof(path), "%s/logs/forged.report", root);
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW,
		    0600)) == -1)
			_exit(1);
		n = snprintf(hdr, sizeof(hdr), "bytes=%zu eof=%d\n", len, eof);
		if (write(fd, hdr, (size_t)n) == -1 ||
		    write(fd, got, len) == -1 || close(fd) == -1 ||
		    rename(tmp, path) == -1)
			_exit(1);
		_exit(0);
	}
	close(sp[1]);
	report("forge-back: handing back a socketpair of my own as conn %u "
	    "(child %d watches it)", id, (int)pid);
	if (send_handback(id, HANDBACK_STALE, 0, req, strlen(req), &sp[0],
	    1) == -1)
		report("forge-back: send: %s", strerror(errno));
	close(sp[0]);
}

static void
stuff_fds(void)
{
	char	 path[PATH_MAX], text[64];
	int	 fds[STUFF_FDS], i, sent = 0, err = 0;

	snprintf(path, sizeof(path), "%s/logs/stuffed-marker", root);
	if ((fds[0] = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1)
		die(path);
	for (i = 1; i < STUFF_FDS; i++)
		if ((fds[i] = fcntl(fds[0], F_DUPFD_CLOEXEC, 0)) == -1)
			die("dup");
	report("fd-stuff: sending MSG_LOG with %d descriptors each",
	    STUFF_FDS);
	for (i = 0; i < 200; i++) {
		snprintf(text, sizeof(text), "stuffed %d", i);
		if (send_log(LOG_INFO, text, fds, STUFF_FDS, 200) == -1) {
			err = errno;
			break;
		}
		sent++;
	}
	report("fd-stuff: sent %d messages (%s)", sent,
	    err ? strerror(err) : "no error");
	for (i = 0; i < STUFF_FDS; i++)
		close(fds[i]);
}

/* One malformed message, chosen by the slug's suffix. */
static void
garbage(uint32_t id)
{
	static uint8_t	 big[PROTO_MSG_MAX + 4096];
	const char	*kind = slug + strlen("garbage-");
	struct msg_hdr	 h;
	struct msgbuf	 mb;
	uint8_t		 raw[64];
	uint16_t	 l;
	uint32_t	 u;
	size_t		 len = 0;
	const uint8_t	*p = raw;

	memset(&h, 0, sizeof(h));
	h.type = MSG_LOG;
	if (strncmp(kind, "short", 5) == 0) {
		/* Shorter than a header. */
		memcpy(raw, &h, 8);
		len = 8;
	} else if (strncmp(kind, "len", 3) == 0) {
		/* The header claims 4 bytes more than the datagram has. */
		msg_init(&mb, MSG_CONN_CLOSED, id);
		msg_put_u32(&mb, 0);
		msg_finish(&mb);
		u = (uint32_t)mb.mb_len + 4;
		memcpy(mb.mb_data + offsetof(struct msg_hdr, len), &u, 4);
		memcpy(raw, mb.mb_data, mb.mb_len);
		len = mb.mb_len;
	} else if (strncmp(kind, "hugelen", 7) == 0) {
		h.type = MSG_STATE_READY;
		h.len = 0xffffffffu;
		memcpy(raw, &h, sizeof(h));
		len = sizeof(h);
	} else if (strncmp(kind, "type", 4) == 0) {
		h.type = 99;
		h.len = sizeof(h);
		memcpy(raw, &h, sizeof(h));
		len = sizeof(h);
	} else if (strncmp(kind, "none", 4) == 0) {
		h.type = MSG_NONE;
		h.len = sizeof(h);
		memcpy(raw, &h, sizeof(h));
		len = sizeof(h);
	} else if (strncmp(kind, "flags", 5) == 0) {
		msg_init(&mb, MSG_CONN_CLOSED, id);
		msg_put_u32(&mb, 0);
		msg_finish(&mb);
		u = 1;
		memcpy(mb.mb_data + offsetof(struct msg_hdr, flags), &u, 4);
		memcpy(raw, mb.mb_data, mb.mb_len);
		len = mb.mb_len;
	} else if (strncmp(kind, "trunc", 5) == 0) {
		/* A LOG whose string claims 50 bytes and carries 3. */
		h.len = sizeof(h) + 4 + 2 + 3;
		memcpy(raw, &h, sizeof(h));
		u = LOG_INFO;
		memcpy(raw + 16, &u, 4);
		l = 50;
		memcpy(raw + 20, &l, 2);
		memcpy(raw + 22, "abc", 3);
		len = h.len;
	} else if (strncmp(kind, "nul", 3) == 0) {
		/* A LOG string with a NUL inside. */
		h.len = sizeof(h) + 4 + 2 + 7;
		memcpy(raw, &h, sizeof(h));
		u = LOG_INFO;
		memcpy(raw + 16, &u, 4);
		l = 7;
		memcpy(raw + 20, &l, 2);
		memcpy(raw + 22, "abc\0def", 7);
		len = h.len;
	} else if (strncmp(kind, "trailing", 8) == 0) {
		/* CONN_CLOSED for the real id, 4 bytes too many. */
		msg_init(&mb, MSG_CONN_CLOSED, id);
		msg_put_u32(&mb, 0);
		msg_put_u32(&mb, 0xdeadbeef);
		msg_finish(&mb);
		memcpy(raw, mb.mb_data, mb.mb_len);
		len = mb.mb_len;
	} else if (strncmp(kind, "prio", 4) == 0) {
		msg_init(&mb, MSG_LOG, 0);
		msg_put_u32(&mb, LOG_DEBUG + 1);
		msg_put_str(&mb, "priority out of range");
		msg_finish(&mb);
		memcpy(raw, mb.mb_data, mb.mb_len);
		len = mb.mb_len;
	} else if (strncmp(kind, "longlog", 7) == 0) {
		/* A LOG string over PROTO_LOG_MAX, valid as a string. */
		msg_init(&mb, MSG_LOG, 0);
		msg_put_u32(&mb, LOG_INFO);
		memset(big, 'x', PROTO_LOG_MAX + 88);
		msg_put_strn(&mb, (const char *)big, PROTO_LOG_MAX + 88);
		msg_finish(&mb);
		memcpy(big, mb.mb_data, mb.mb_len);
		p = big;
		len = mb.mb_len;
	} else if (strncmp(kind, "oversize", 8) == 0) {
		/* More than PROTO_MSG_MAX, with a header that says so. */
		memset(big, 'x', sizeof(big));
		h.len = sizeof(big);
		memcpy(big, &h, sizeof(h));
		p = big;
		len = sizeof(big);
	} else if (strncmp(kind, "empty", 5) == 0) {
		/* A zero-length datagram reads like EOF on SEQPACKET. */
		len = 0;
	} else {
		report("garbage: unknown kind %s", kind);
		return;
	}
	report("garbage-%s: sending %zu bytes", kind, len);
	if (chan_sendraw(p, len, NULL, 0, 1000) == -1)
		report("garbage: send: %s", strerror(errno));
}

static void
unpermitted(uint32_t id, const char *req)
{
	const char	*kind = slug + strlen("unpermitted-");

	report("unpermitted-%s on conn %u", kind, id);
	if (strncmp(kind, "closed", 6) == 0)
		send_closed(id + 77, 1);	/* never issued to us */
	else if (strncmp(kind, "nofd", 4) == 0)
		send_handback(id, HANDBACK_STALE, 0, req, strlen(req), NULL,
		    0);
	else if (strncmp(kind, "new", 3) == 0)
		send_simple(MSG_CONN_NEW, id);	/* a supervisor's message */
	else if (strncmp(kind, "runname", 7) == 0 ||
	    strncmp(kind, "runenv", 6) == 0) {
		struct msgbuf	 mb;
		int		 env = kind[3] == 'e';

		msg_init(&mb, MSG_RUN_REQUEST, 1);
		msg_put_str(&mb, env ? "handler" : "../handler");
		msg_put_u32(&mb, 2);
		msg_put_str(&mb, "PATH=/usr/bin:/bin");
		/* A line break a handler would log as two lines. */
		msg_put_str(&mb, env ? "HTTP_X=a\nforged" : "HTTP_X=a");
		chan_send(&mb, NULL, 0);
	} else if (strncmp(kind, "appname", 7) == 0) {
		struct msgbuf	 mb;

		msg_init(&mb, MSG_APP_CONNECT, 1);
		msg_put_str(&mb, ".hidden");
		chan_send(&mb, NULL, 0);
	} else if (strncmp(kind, "logid", 5) == 0) {
		struct msgbuf	 mb;

		/* A log line under a conn_id: the schema says 0. */
		msg_init(&mb, MSG_LOG, id);
		msg_put_u32(&mb, LOG_INFO);
		msg_put_str(&mb, "a log line naming a connection");
		chan_send(&mb, NULL, 0);
	} else if (strncmp(kind, "sandbox", 7) == 0) {
		struct msgbuf	 mb;
		int		 fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

		/* tenantd-run's message, on the worker's channel. */
		msg_init(&mb, MSG_RUN_SANDBOX, 0);
		msg_put_u32(&mb, 0);
		msg_put_str(&mb, "");
		chan_send(&mb, &fd, 1);
		close(fd);
	} else if (strncmp(kind, "drain", 5) == 0) {
		struct msgbuf	 mb;

		msg_init(&mb, MSG_CTL_DRAIN, 0);
		msg_put_u32(&mb, DRAIN_CLOSE);
		chan_send(&mb, NULL, 0);
	} else if (strncmp(kind, "credit2", 7) == 0) {
		struct msgbuf	 mb;
		int		 i;

		/* At most one outstanding (proto.h): each is a ledger write. */
		for (i = 0; i < 2; i++) {
			msg_init(&mb, MSG_STATE_CREDIT_WANT, 0);
			msg_put_u64(&mb, 10);
			chan_send(&mb, NULL, 0);
		}
	} else if (strncmp(kind, "overspend", 9) == 0) {
		struct msgbuf	 mb;

		/* The report follows the grant: see overspend(). */
		msg_init(&mb, MSG_STATE_CREDIT_WANT, 0);
		msg_put_u64(&mb, 10);
		chan_send(&mb, NULL, 0);
	} else
		report("unpermitted: unknown kind %s", kind);
}

/*
 * unpermitted-overspend, at the answer to its CREDIT_WANT: a usage report
 * for its own hold, in order, one credit beyond what the hold was granted.
 */
static void
overspend(struct msg *m)
{
	struct msgbuf	 mb;
	uint64_t	 hold, granted;
	uint32_t	 dry;

	if (msg_get_u64(m, &hold) == -1 || msg_get_u64(m, &granted) == -1 ||
	    msg_get_u32(m, &dry) == -1)
		die("malformed CTL_CREDIT");
	report("overspend: hold %llu granted %llu, reporting %llu spent",
	    (unsigned long long)hold, (unsigned long long)granted,
	    (unsigned long long)granted + 1);
	msg_init(&mb, MSG_STATE_USAGE, 0);
	msg_put_u64(&mb, hold);
	msg_put_u64(&mb, 1);
	msg_put_u64(&mb, granted + 1);
	chan_send(&mb, NULL, 0);
}

/*
 * Thousands of lines a second for FLOOD_SECONDS, each with control bytes
 * and a forged tag: a fake timestamped line after a CR LF, and a bare
 * "tenant globex worker 1:" at the start of the text.
 */
static void
log_flood(void)
{
	char	 text[PROTO_LOG_MAX];
	double	 t0 = now();

	report("log-flood: flooding for %.1f s", FLOOD_SECONDS);
	while (now() - t0 < FLOOD_SECONDS) {
		if (flood_lines % 2 == 0)
			snprintf(text, sizeof(text), "flood %u \x1b[31mred"
			    "\x1b[0m\r\n2026-01-01T00:00:00.000Z tenantd[1]: "
			    "tenant globex worker 1: FORGED-AFTER-NEWLINE\a",
			    flood_lines);
		else
			snprintf(text, sizeof(text), "tenant globex worker 1: "
			    "FORGED-PREFIX %u\tbell\a del\x7f", flood_lines);
		if (send_log(LOG_WARNING, text, NULL, 0, 100) == -1) {
			if (errno == EAGAIN)
				continue;
			chan_gone();
		}
		flood_lines++;
	}
	report("log-flood: sent %u lines in %.2f s", flood_lines, now() - t0);
}

static void
conn_new(uint32_t id, int fd, const uint8_t *data, size_t len)
{
	static struct hconn	*first;
	char			 req[PROTO_STR_MAX];
	struct hconn		*c;
	uint32_t		 other;
	int			 fds[2];

	nconn_new++;
	victim_request(data, len, req, sizeof(req));
	switch (mode) {
	case M_GOOD:
	case M_ANSWER_ALL:
	case M_STOP_BACK:
		report("conn %u", id);
		conn_process(conn_add(id, fd, data, len, 1));
		return;
	case M_LOG_FLOOD:
		c = conn_add(id, fd, data, len, 1);
		log_flood();
		conn_process(c);
		return;
	case M_FORGE_BACK:
		conn_add(id, fd, data, len, 0);
		forge_back(id, req);
		return;
	case M_SWAP_BACK:
		c = conn_add(id, fd, data, len, 0);
		if (first == NULL) {
			first = c;
			report("swap-back: holding conn %u", id);
			return;
		}
		report("swap-back: handing back conn %u's socket as conn %u",
		    first->c_id, id);
		send_handback(id, HANDBACK_STALE, 0, req, strlen(req),
		    &first->c_fd, 1);
		return;
	case M_WRONG_ID:
		conn_add(id, fd, data, len, 0);
		report("wrong-id: got conn %u, handing it back as %u", id,
		    id + 1000);
		send_handback(id + 1000, HANDBACK_STALE, 0, req, strlen(req),
		    &fd, 1);
		return;
	case M_DEBIT_OTHER:
	case M_DEBIT_CLOSED:
		/* conn_ids are one counter: ours minus one was someone's. */
		conn_add(id, fd, data, len, 0);
		other = id - 1;
		report("%s: got conn %u, claiming conn %u", slug, id, other);
		if (mode == M_DEBIT_OTHER)
			send_handback(other, HANDBACK_STALE, 0, req,
			    strlen(req), &fd, 1);
		else
			send_closed(other, 1);
		return;
	case M_FD_ONE:
		conn_add(id, fd, data, len, 0);
		fds[0] = fd;
		report("fd-stuff-one: a descriptor on a MSG_LOG");
		send_log(LOG_INFO, "one descriptor", fds, 1, 1000);
		return;
	case M_FD_PAIR: {
		char	 path[PATH_MAX];

		conn_add(id, fd, data, len, 0);
		snprintf(path, sizeof(path), "%s/logs/stuffed-marker", root);
		if ((fds[1] = open(path, O_RDONLY | O_CREAT | O_CLOEXEC |
		    O_NOFOLLOW, 0600)) == -1)
			die(path);
		fds[0] = fd;
		report("fd-stuff-pair: hand-back of conn %u with two "
		    "descriptors", id);
		send_handback(id, HANDBACK_STALE, 0, req, strlen(req), fds, 2);
		close(fds[1]);
		return;
	}
	case M_FD_STUFF:
		conn_add(id, fd, data, len, 0);
		stuff_fds();
		return;
	case M_GARBAGE:
		conn_add(id, fd, data, len, 0);
		garbage(id);
		return;
	case M_UNPERMITTED:
		conn_add(id, fd, data, len, 0);
		unpermitted(id, req);
		return;
	case M_DIE_BACK:
		if (die_held == NULL) {
			die_held = conn_add(id, fd, data, len, 0);
			report("die-back: holding conn %u", id);
			return;
		}
		break;
	case M_EARLY_READY:
	case M_DEAF:
		break;
	}
	conn_add(id, fd, data, len, 0);
}

/*
 * die-back: a message for us waits unread. When the test says go, hand the
 * held connection back (for the victim its request named) and close the
 * channel with that message still in it: the supervisor's next read of
 * the channel then fails with ECONNRESET, ahead of our hand-back.
 */
static void __attribute__((__noreturn__))
die_back(void)
{
	char	 req[PROTO_STR_MAX], go[PATH_MAX];
	int	 i;

	report("die-back: a message waits unread");
	snprintf(go, sizeof(go), "%s/logs/die-back.go", root);
	for (i = 0; i < 1000 && access(go, F_OK) == -1; i++)
		usleep(10000);
	victim_request(die_held->c_buf, die_held->c_len, req, sizeof(req));
	report("die-back: handing back conn %u and dying with a message "
	    "unread", die_held->c_id);
	send_handback(die_held->c_id, HANDBACK_STALE, 0, req, strlen(req),
	    &die_held->c_fd, 1);
	close(CHAN);
	_exit(0);
}

/*
 * stop-back at a drain: each connection left unread is read once, like the
 * real worker's idle connections in close mode, and a request for another
 * Host found there is handed back with it.
 */
static void
stop_back(void)
{
	ssize_t	 n;
	int	 i;

	for (i = 0; i < MAX_CONNS; i++) {
		if (conns[i] == NULL || conns[i]->c_polled)
			continue;
		n = recv(conns[i]->c_fd, conns[i]->c_buf,
		    sizeof(conns[i]->c_buf), MSG_DONTWAIT);
		if (n <= 0)
			continue;
		report("stop-back: handing back conn %u with %zd bytes at the "
		    "drain", conns[i]->c_id, n);
		send_handback(conns[i]->c_id, HANDBACK_FOREIGN_HOST,
		    conns[i]->c_served, conns[i]->c_buf, (size_t)n,
		    &conns[i]->c_fd, 1);
		conn_del(conns[i]);
	}
}

/* Everything the supervisor sends after READY. */
static void
chan_read(void)
{
	static uint8_t	 buf[PROTO_MSG_MAX];
	struct msg	 m;
	const uint8_t	*data;
	size_t		 len;
	ssize_t		 n;
	int		 fd, i;

	for (;;) {
		if (die_held != NULL)
			return;		/* the next message stays unread */
		n = msg_recv(CHAN, buf, sizeof(buf), &fd);
		if (n == -1 && errno == EAGAIN)
			return;
		/*
		 * ECONNRESET: the supervisor closed the channel with our
		 * messages unread. Either way it is gone.
		 */
		if (n == 0 || n == -1)
			chan_gone();
		if (msg_parse(&m, buf, (size_t)n) == -1)
			die("malformed message from the supervisor");
		switch (m.m_type) {
		case MSG_CONN_NEW:
			if (fd == -1)
				die("CONN_NEW without a descriptor");
			msg_get_rest(&m, &data, &len);
			conn_new(m.m_conn_id, fd, data, len);
			break;
		case MSG_CTL_CREDIT:
			if (mode == M_UNPERMITTED && strncmp(slug +
			    strlen("unpermitted-"), "overspend", 9) == 0)
				overspend(&m);
			break;
		case MSG_CFG_HOSTS:
		case MSG_CFG_DONE:
		case MSG_CFG_DATA:
			break;
		case MSG_CTL_PING:
			/* Even a compromised worker wants to look alive. */
			send_simple(MSG_STATE_PONG, 0);
			break;
		case MSG_CTL_DRAIN:
			if (mode == M_STOP_BACK)
				stop_back();
			for (i = 0; i < MAX_CONNS; i++)
				if (conns[i] != NULL)
					conn_close(conns[i]);
			report("drained after %u connections", nconn_new);
			exit(0);
		default:
			die("unexpected message");
		}
		if (fd != -1 && m.m_type != MSG_CONN_NEW)
			close(fd);
	}
}

static void
serve(void)
{
	struct pollfd	 pfd[1 + MAX_CONNS];
	struct hconn	*map[1 + MAX_CONNS];
	int		 i, n;

	for (;;) {
		pfd[0].fd = CHAN;
		pfd[0].events = POLLIN;
		n = 1;
		for (i = 0; i < MAX_CONNS; i++)
			if (conns[i] != NULL && conns[i]->c_polled) {
				pfd[n].fd = conns[i]->c_fd;
				pfd[n].events = POLLIN;
				map[n++] = conns[i];
			}
		if (poll(pfd, (nfds_t)n, -1) == -1) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (pfd[0].revents != 0 && die_held != NULL)
			die_back();
		if (pfd[0].revents != 0) {
			/* Connections may come and go: poll them afresh. */
			chan_read();
			continue;
		}
		for (i = 1; i < n; i++)
			if (pfd[i].revents != 0)
				conn_read(map[i]);
	}
}

int
main(int argc, char *argv[])
{
	struct sigaction sa;
	pid_t		 parent;
	uid_t		 uid = 0;
	gid_t		 gid = 0;
	size_t		 i;

	if (argc != 2 || (parent = (pid_t)atoi(argv[1])) <= 1) {
		fprintf(stderr, "usage: tenantd-hostile-worker supervisor-pid\n"
		    "(a test double, started by tenantd as its worker)\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1 ||
	    getppid() != parent)
		return 1;

	configure(&uid, &gid);
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strncmp(slug, modes[i].prefix, strlen(modes[i].prefix)) ==
		    0)
			break;
	mode = i < sizeof(modes) / sizeof(modes[0]) ? modes[i].mode : M_GOOD;

	/* The tenant's identity, as a worker that broke out would have. */
	if (uid == 0 || gid == 0 || setgroups(0, NULL) == -1 ||
	    setresgid(gid, gid, gid) == -1 || setresuid(uid, uid, uid) == -1)
		die("dropping to the tenant's uid");
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1 ||
	    getppid() != parent)
		return 1;

	if (mode == M_UNPERMITTED &&
	    strncmp(slug + strlen("unpermitted-"), "retiring", 8) == 0) {
		/* RETIRING is only for a READY worker; we are starting. */
		report("unpermitted-retiring: RETIRING instead of READY");
		send_simple(MSG_STATE_RETIRING, 0);
		serve();
	}
	if (send_simple(MSG_STATE_READY, 0) == -1)
		die("send READY");
	report("ready as uid %u", (unsigned int)uid);
	if (mode == M_EARLY_READY) {
		report("early-ready: READY again");
		send_simple(MSG_STATE_READY, 0);
	}
	if (mode == M_DEAF) {
		report("deaf: not reading the channel any more");
		for (;;)
			pause();
	}
	serve();
	return 0;
}
