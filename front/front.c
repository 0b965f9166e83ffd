/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * tenantd-front: the unprivileged process that reads client bytes on the
 * parent's behalf (docs/architecture.md, "The front"). Today it serves
 * the loopback HTTP listener ([admin] http_listen): GET /metrics for
 * Prometheus and GET /ask?domain=NAME for Caddy's on-demand TLS. It holds
 * no registry, no key and no file of the host: it asks the parent over
 * its channel, and the parent, which treats it as hostile, answers.
 *
 * Descriptors on entry (supervisor/frontctl.c spawns it):
 *   0, 1, 2   /dev/null
 *   3         SOCK_SEQPACKET channel to the parent (PROTO_CHAN_FD)
 *   4         the listening socket (PROTO_FRONT_LISTEN_FD)
 * It reads MSG_FRONT_CFG, enters its sandbox (chroot to an empty
 * directory, its own user, no capability, rlimits, no_new_privs, the
 * front.seccomp allowlist), says MSG_FRONT_READY, and only then accepts.
 */
#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ev.h>
#include <sodium.h>

#include "host.h"
#include "httphead.h"
#include "log.h"
#include "oneshot.h"
#include "proto.h"
#include "sandbox.h"
#include "sys.h"

#define FRONT_HEAD_MAX	4096
#define FRONT_TIMEOUT	5.0
/*
 * One request per connection and at most one question to the parent per
 * request: with no more connections than this, an honest front never has
 * more than FRONT_INFLIGHT_MAX questions of a kind unanswered.
 */
#define FRONT_CONNS_MAX	FRONT_INFLIGHT_MAX

struct hconn {
	struct oneshot	 h_c;		/* first: oneshot.c frees the hconn */
	uint32_t	 h_id;		/* the question to the parent, or 0 */
	char		 h_in[FRONT_HEAD_MAX];
	size_t		 h_len;
	struct hh_parser h_hp;
};

static struct oneshot_set hconns;
static uint32_t		 next_id;
static struct ev_loop	*floop;
static ev_io		 chan_ev, listen_ev;
static int		 chan_broken;

/*
 * [admin] metrics_token_file, read by the parent: with one, /metrics
 * wants "Authorization: Bearer TOKEN" (docs/security.md, "The admin
 * listener"). Kept zero-padded to its full size so that the comparison
 * takes the same time whatever was sent.
 */
static char		 metrics_token[FRONT_TOKEN_MAX];
static size_t		 metrics_token_len;

/* [admin] ask_rate: a token bucket of that many a second, as deep. */
static double		 ask_rate, ask_tokens;
static ev_tstamp	 ask_last;

static void	hconn_read_cb(struct ev_loop *, ev_io *, int);

/*
 * Send one message to the parent. The channel is non-blocking; if its
 * buffer is full we wait briefly rather than drop it (the parent reads
 * its channels), and give up after a second.
 */
static int
chan_send(struct msgbuf *mb)
{
	struct pollfd	 pfd;

	if (chan_broken || msg_finish(mb) == -1)
		return -1;
	for (;;) {
		if (msg_send(PROTO_CHAN_FD, mb, -1) == 0)
			return 0;
		if (errno != EAGAIN) {
			chan_broken = 1;
			return -1;
		}
		pfd.fd = PROTO_CHAN_FD;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, 1000) <= 0) {
			chan_broken = 1;
			return -1;
		}
	}
}

/* The front has no syslog: each line becomes a MSG_FRONT_LOG. */
static void
front_log_sink(int prio, const char *line)
{
	struct msgbuf	 mb;
	size_t		 n = strlen(line);

	msg_init(&mb, MSG_FRONT_LOG, 0);
	msg_put_u32(&mb, (uint32_t)prio);
	msg_put_strn(&mb, line, n > PROTO_LOG_MAX ? PROTO_LOG_MAX : n);
	chan_send(&mb);
}

/* The answer, body included (blen bytes of body, which may be NULL). */
static void
http_reply(struct hconn *h, int status, const char *type, const char *body,
    size_t blen)
{
	const char	*text = status == 200 ? "OK" : status == 401 ?
	    "Unauthorized" : status == 404 ? "Not Found" : status == 405 ?
	    "Method Not Allowed" : status == 429 ? "Too Many Requests" :
	    status == 503 ? "Service Unavailable" : "Bad Request";
	const char	*extra = status == 401 ? "WWW-Authenticate: Bearer\r\n" :
	    status == 429 ? "Retry-After: 1\r\n" : "";
	char		*buf;
	int		 n;

	h->h_id = 0;
	n = asprintf(&buf, "HTTP/1.1 %d %s\r\n%sContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, text,
	    extra, type, blen);
	if (n == -1) {
		oneshot_free(&h->h_c);
		return;
	}
	if (blen > 0) {
		char	*p;

		if ((p = realloc(buf, (size_t)n + blen)) == NULL) {
			free(buf);
			oneshot_free(&h->h_c);
			return;
		}
		buf = p;
		memcpy(buf + n, body, blen);
	}
	oneshot_answer(&h->h_c, buf, (size_t)n + blen);
}

/* The value of "domain=" in a query string, percent-decoded. */
static int
query_domain(const char *q, size_t qlen, char *out, size_t outsz)
{
	size_t	 i = 0, o;
	int	 hi, lo;

	while (i < qlen) {
		size_t	 s = i, e;

		while (i < qlen && q[i] != '&')
			i++;
		e = i++;
		if (e - s < 7 || memcmp(q + s, "domain=", 7) != 0)
			continue;
		for (s += 7, o = 0; s < e; s++) {
			int	 c = (unsigned char)q[s];

			if (c == '%') {
				if (s + 2 >= e || (hi = hex_digit(q[s + 1])) < 0 ||
				    (lo = hex_digit(q[s + 2])) < 0)
					return -1;
				c = hi * 16 + lo;
				s += 2;
			}
			if (c == 0 || o + 1 >= outsz)
				return -1;
			out[o++] = (char)c;
		}
		out[o] = '\0';
		return 0;
	}
	return -1;
}

/*
 * With a token configured: exactly one Authorization field, "Bearer "
 * and the token. The value is copied into a buffer as large as the
 * stored token and both are compared whole, so the time taken says
 * nothing of how much of a guess was right, nor of the token's length.
 */
static int
metrics_authorized(const struct hconn *h)
{
	const struct http_head	*hd = &h->h_hp.hp_head;
	const char		*v = h->h_in + hd->hh_auth.off;
	size_t			 vl = hd->hh_auth.len;
	char			 got[FRONT_TOKEN_MAX];
	int			 ok;

	if (metrics_token_len == 0)
		return 1;
	if (hd->hh_nauth != 1 || vl < 7 || strncasecmp(v, "Bearer ", 7) != 0)
		return 0;
	v += 7;
	vl -= 7;
	if (vl > sizeof(got))
		return 0;
	memset(got, 0, sizeof(got));
	memcpy(got, v, vl);
	ok = sodium_memcmp(got, metrics_token, sizeof(got)) == 0;
	sodium_memzero(got, sizeof(got));
	return ok && vl == metrics_token_len;
}

/*
 * One /ask costs one token; the bucket fills at [admin] ask_rate a second
 * up to as many. Past it the answer is 429, which Caddy takes as "no"
 * and asks again later: the parent is asked at most ask_rate times a
 * second whatever a local user sends.
 */
static int
ask_allowed(void)
{
	ev_tstamp	 now = ev_now(floop);

	ask_tokens += (now - ask_last) * ask_rate;
	ask_last = now;
	if (ask_tokens > ask_rate)
		ask_tokens = ask_rate;
	if (ask_tokens < 1.0)
		return 0;
	ask_tokens -= 1.0;
	return 1;
}

/* A question to the parent for h; its answer finishes the request. */
static void
hconn_ask(struct hconn *h, uint32_t type, const char *domain, size_t dlen)
{
	struct msgbuf	 mb;

	if (++next_id == 0)
		next_id = 1;
	h->h_id = next_id;
	msg_init(&mb, type, h->h_id);
	if (type == MSG_FRONT_ASK)
		msg_put_strn(&mb, domain, dlen);
	if (chan_send(&mb) == -1)
		http_reply(h, 503, "text/plain", NULL, 0);
	else
		ev_io_stop(floop, &h->h_c.o_io);	/* nothing more to read */
}

static void
http_request(struct hconn *h)
{
	struct http_head	*hd = &h->h_hp.hp_head;
	const char		*t = h->h_in + hd->hh_target.off;
	size_t			 tl = hd->hh_target.len, pl, clen;
	char			 domain[HOST_NAME_MAX_LEN * 3 + 1];
	char			 canon[HOST_NAME_MAX_LEN + 1];
	unsigned int		 port;

	if (hd->hh_method != HTTP_GET) {
		http_reply(h, 405, "text/plain", NULL, 0);
		return;
	}
	for (pl = 0; pl < tl && t[pl] != '?'; pl++)
		;
	if (pl == 8 && memcmp(t, "/metrics", 8) == 0) {
		if (!metrics_authorized(h))
			http_reply(h, 401, "text/plain", NULL, 0);
		else
			hconn_ask(h, MSG_FRONT_METRICS_WANT, NULL, 0);
		return;
	}
	if (pl != 4 || memcmp(t, "/ask", 4) != 0) {
		http_reply(h, 404, "text/plain", NULL, 0);
		return;
	}
	/*
	 * Only a name in its canonical form, without a port (a TLS name has
	 * none), goes to the parent; anything else cannot be a tenant's and
	 * is a malformed question: 400 (Caddy takes any answer but 2xx as
	 * "no"). The parent checks the form again (frontctl.c). The rate
	 * limit comes first: a malformed question is no cheaper to send.
	 */
	if (!ask_allowed()) {
		http_reply(h, 429, "text/plain", NULL, 0);
		return;
	}
	if (pl == tl || query_domain(t + pl + 1, tl - pl - 1, domain,
	    sizeof(domain)) == -1 || host_canonical(domain, strlen(domain),
	    canon, &clen, &port) == -1 || port != 0) {
		http_reply(h, 400, "text/plain", NULL, 0);
		return;
	}
	hconn_ask(h, MSG_FRONT_ASK, canon, clen);
}

static void
hconn_read_cb(struct ev_loop *l, ev_io *io, int revents)
{
	struct hconn	*h = io->data;
	ssize_t		 n;
	int		 r;

	n = read(h->h_c.o_fd, h->h_in + h->h_len, sizeof(h->h_in) - h->h_len - 1);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		oneshot_free(&h->h_c);
		return;
	}
	h->h_len += (size_t)n;
	h->h_in[h->h_len] = '\0';
	r = hh_feed(&h->h_hp, (const uint8_t *)h->h_in, h->h_len);
	if (r == HH_MORE && h->h_len < sizeof(h->h_in) - 1)
		return;
	if (r != HH_DONE) {
		http_reply(h, 400, "text/plain", NULL, 0);
		return;
	}
	http_request(h);
}

static void
listen_cb(struct ev_loop *l, ev_io *io, int revents)
{
	struct hconn	*h;
	int		 fd;

	while ((fd = accept4(PROTO_FRONT_LISTEN_FD, NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
		if ((h = oneshot_accept(&hconns, fd, sizeof(*h),
		    hconn_read_cb)) == NULL)
			continue;
		hh_init(&h->h_hp, FRONT_HEAD_MAX - 1, 1024);
		ev_io_start(floop, &h->h_c.o_io);
	}
}

static struct hconn *
hconn_by_id(uint32_t id)
{
	struct oneshot	*o;

	TAILQ_FOREACH(o, &hconns.os_list, o_entry)
		if (((struct hconn *)o)->h_id == id)
			return (struct hconn *)o;
	return NULL;
}

/*
 * The parent's answers. A question whose connection timed out meanwhile
 * gets its answer dropped. A message that is not an answer is a bug of
 * the parent's or a broken channel: we exit and the parent restarts us.
 */
static void
chan_cb(struct ev_loop *l, ev_io *io, int revents)
{
	static uint8_t	 buf[PROTO_MSG_MAX];
	struct msg	 m;
	struct hconn	*h;
	uint64_t	 size;
	uint32_t	 allowed;
	ssize_t		 n;
	char		*text;
	int		 fd;

	for (int k = 0; k < 64; k++) {
		n = msg_recv(PROTO_CHAN_FD, buf, sizeof(buf), &fd);
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == 0)
			exit(0);	/* the parent is gone */
		if (n == -1 || msg_parse(&m, buf, (size_t)n) == -1 ||
		    msg_check(&m, fd != -1, CHAN_FRONT, DIR_DOWN) == -1)
			fatalx("%s: malformed message", __func__);
		h = hconn_by_id(m.m_conn_id);
		switch (m.m_type) {
		case MSG_FRONT_METRICS:
			if (msg_get_u64(&m, &size) == -1 || msg_end(&m) == -1 ||
			    size > FRONT_METRICS_MAX)
				fatalx("%s: bad FRONT_METRICS", __func__);
			if (h == NULL) {
				close(fd);
				break;
			}
			text = msg_sealed_read(fd, (size_t)size);
			close(fd);
			if (text == NULL)
				fatal("%s: metrics", __func__);
			http_reply(h, 200, "text/plain; version=0.0.4; "
			    "charset=utf-8", text, (size_t)size);
			free(text);
			break;
		case MSG_FRONT_ASK_ANSWER:
			if (msg_get_u32(&m, &allowed) == -1 ||
			    msg_end(&m) == -1 || allowed > 1)
				fatalx("%s: bad FRONT_ASK_ANSWER", __func__);
			if (h == NULL)
				break;
			if (allowed)
				http_reply(h, 200, "text/plain", "ok\n", 3);
			else
				http_reply(h, 404, "text/plain", NULL, 0);
			break;
		default:
			fatalx("%s: unexpected %s", __func__,
			    msg_type_str(m.m_type));
		}
	}
}

/* MSG_FRONT_CFG: who to become, where, and under which policy. */
static void
front_configure(struct sandbox_params *sp)
{
	static uint8_t	 buf[PROTO_MSG_MAX];
	char		 lpath[PATH_MAX], err[512];
	char		 token[FRONT_TOKEN_MAX + 1];
	struct msg	 m;
	uint32_t	 uid, gid, verbose, rate;
	ssize_t		 n;
	int		 fd;

	if ((n = msg_recv_wait(PROTO_CHAN_FD, buf, sizeof(buf), &fd)) <= 0)
		exit(0);
	if (msg_parse(&m, buf, (size_t)n) == -1 ||
	    msg_check(&m, fd != -1, CHAN_FRONT, DIR_DOWN) == -1 ||
	    m.m_type != MSG_FRONT_CFG || msg_get_u32(&m, &uid) == -1 ||
	    msg_get_u32(&m, &gid) == -1 || msg_get_u32(&m, &verbose) == -1 ||
	    msg_get_str(&m, sp->sp_root, sizeof(sp->sp_root)) == -1 ||
	    msg_get_str(&m, sp->sp_policy, sizeof(sp->sp_policy)) == -1 ||
	    msg_get_str(&m, lpath, sizeof(lpath)) == -1 ||
	    msg_get_u32(&m, &rate) == -1 || rate == 0 ||
	    msg_get_str(&m, token, sizeof(token)) == -1 || msg_end(&m) == -1)
		fatalx("%s: expected FRONT_CFG", __func__);
	metrics_token_len = strlen(token);
	memcpy(metrics_token, token, metrics_token_len);
	sodium_memzero(token, sizeof(token));
	sodium_memzero(buf, sizeof(buf));
	ask_rate = ask_tokens = rate;
	sp->sp_uid = (uid_t)uid;
	sp->sp_gid = (gid_t)gid;
	log_setverbose(verbose != 0);
	if (limits_load(lpath, &sp->sp_limits, err, sizeof(err)) == -1)
		fatalx("limits: %s", err);
}

static void
front_check_fds(void)
{
	struct stat	 st;
	int		 type, acc;
	socklen_t	 sl = sizeof(type), al = sizeof(acc);

	if (fstat(PROTO_CHAN_FD, &st) == -1 || !S_ISSOCK(st.st_mode) ||
	    getsockopt(PROTO_CHAN_FD, SOL_SOCKET, SO_TYPE, &type, &sl) == -1 ||
	    type != SOCK_SEQPACKET ||
	    getsockopt(PROTO_FRONT_LISTEN_FD, SOL_SOCKET, SO_ACCEPTCONN, &acc,
	    &al) == -1 || !acc) {
		/* Not started by tenantd: nobody to tell but stderr. */
		fprintf(stderr, "tenantd-front: fd %d is not a channel or fd "
		    "%d not a listening socket; this program is started by "
		    "tenantd\n", PROTO_CHAN_FD, PROTO_FRONT_LISTEN_FD);
		exit(2);
	}
}

int
main(int argc, char *argv[])
{
	struct sandbox_params	 sp;
	struct sandbox		 sb;
	struct sigaction	 sa;
	struct msgbuf		 mb;
	char			 err[512];
	pid_t			 parent;
	char			*ep;

	if (argc != 2 || (parent = (pid_t)strtol(argv[1], &ep, 10)) <= 1 ||
	    *ep != '\0') {
		fprintf(stderr, "usage: tenantd-front parent-pid\n");
		return 2;
	}
	front_check_fds();
	log_init(0, 0);
	log_procinit("front");
	log_setsink(front_log_sink);
	/* Defensive: the spawn already closed everything above fd 4. */
	if (closefrom_safe(PROTO_FRONT_LISTEN_FD + 1) == -1)
		fatal("closefrom");
	/* Still root until sandbox_enter(): not a moment past the parent. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1)
		fatal("PR_SET_PDEATHSIG");
	if (getppid() != parent)
		exit(0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		fatal("sigaction");
	if (fd_nonblock(PROTO_FRONT_LISTEN_FD) == -1)
		fatal("listening socket");

	memset(&sp, 0, sizeof(sp));
	sp.sp_parent = parent;
	front_configure(&sp);
	/* The policy file and procfs are read here, before the chroot. */
	if (sandbox_prepare(&sb, &sp, err, sizeof(err)) == -1)
		fatalx("sandbox: %s", err);
	/* poll: no kernel state for the filter to allow (worker/worker.c). */
	if ((floop = ev_loop_new(EVBACKEND_POLL | EVFLAG_NOENV)) == NULL)
		fatalx("ev_loop_new failed");
	ask_last = ev_now(floop);
	oneshot_init(&hconns, floop, FRONT_CONNS_MAX, FRONT_TIMEOUT);
	/*
	 * The whole sandbox before the first accept: no byte of a client is
	 * read by a process that could still open a file of the host.
	 */
	if (sandbox_enter(&sb, &sp, err, sizeof(err)) == -1)
		fatalx("sandbox: %s", err);

	msg_init(&mb, MSG_FRONT_READY, 0);
	if (chan_send(&mb) == -1)
		fatal("send READY");
	log_debug("ready: uid %u gid %u", (unsigned int)sp.sp_uid,
	    (unsigned int)sp.sp_gid);
	ev_io_init(&chan_ev, chan_cb, PROTO_CHAN_FD, EV_READ);
	ev_io_start(floop, &chan_ev);
	ev_io_init(&listen_ev, listen_cb, PROTO_FRONT_LISTEN_FD, EV_READ);
	ev_io_start(floop, &listen_ev);
	ev_run(floop, 0);
	return 0;
}
