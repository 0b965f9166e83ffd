/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The proxy-facing side: accept, read a request head with bounds, classify
 * its Host, and either hand the connection to its tenant or answer it here
 * with a short, generic response and Connection: close.
 *
 * Bounds (docs/security.md, items 45, 50, 69): a head larger than head_max
 * gets 431; a head not complete within header_timeout of accept gets 408; a
 * connection that sends no byte within first_byte_timeout is closed. At most
 * max_reading connections are read at once, and at most max_silent of them
 * have sent nothing: a new connection past either bound closes the oldest one
 * there (docs/security.md, item 50), so a flood of idle or trickling
 * connections cannot keep a real request waiting. Accept pauses only when
 * descriptors run out.
 *
 * Client sockets are watched on an epoll set of our own, not libev's. A
 * socket we hand to a worker stays open in the worker, and epoll watches
 * the open file, not our descriptor number: left in libev's set, every
 * later request on that keep-alive connection would wake us, and libev
 * answers such strays by rebuilding its whole epoll set. Here we remove a
 * socket explicitly (EPOLL_CTL_DEL) before it leaves us; libev sees the
 * set as one readable descriptor.
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admit.h"
#include "httphead.h"
#include "log.h"
#include "supervisor.h"

#define REPLY_TIMEOUT	5.0

/*
 * What a connection is doing here. SILENT and HEAD are "reading": they
 * count toward max_reading, on the reading list; SILENT ones are on the
 * silent list too.
 */
enum fstate {
	FC_IDLE,	/* handed back idle: waits for its next request */
	FC_SILENT,	/* accepted, no byte yet */
	FC_HEAD,	/* part of a head in */
	FC_REPLY,	/* writing one of our answers */
};

struct fconn {
	TAILQ_ENTRY(fconn) f_entry;	/* fconns: every one */
	TAILQ_ENTRY(fconn) f_rentry;	/* reading, while SILENT or HEAD */
	TAILQ_ENTRY(fconn) f_sentry;	/* silent, while SILENT */
	int		 f_fd;
	uint32_t	 f_events;	/* registered in front_ep, 0: not */
	ev_timer	 f_tmo;
	enum fstate	 f_state;
	ev_tstamp	 f_since;	/* began reading: header_timeout from here */
	unsigned int	 f_hops;
	size_t		 f_len;
	struct hh_parser f_hp;
	char		 f_out[512];
	size_t		 f_outlen;
	size_t		 f_outoff;
	uint8_t		 f_buf[];
};

static TAILQ_HEAD(, fconn) fconns = TAILQ_HEAD_INITIALIZER(fconns);
/* Both in the order their members began reading: the oldest first. */
static TAILQ_HEAD(, fconn) reading = TAILQ_HEAD_INITIALIZER(reading);
static TAILQ_HEAD(, fconn) silent = TAILQ_HEAD_INITIALIZER(silent);
static int		 listen_fd = -1;
static ev_io		 listen_ev;
static int		 front_ep = -1;
static ev_io		 front_ep_ev;
static ev_timer		 resume_ev;
static ev_tstamp	 emfile_logged;	/* last "pausing accept" line */
static uint64_t		 emfile_pauses;	/* pauses since that line */
static ev_timer		 note_ev;
static uint64_t		 note_evicted, note_silent;
static unsigned int	 nreading;
static unsigned int	 nsilent;
static unsigned int	 nfconns;

static void	front_process(struct fconn *);
static void	front_answer(struct fconn *, int, unsigned int, int);
static void	front_read(struct fconn *);
static void	front_write(struct fconn *);

/* Watch f for events (EPOLLIN or EPOLLOUT), or for nothing (0). */
static void
fconn_watch(struct fconn *f, uint32_t events)
{
	struct epoll_event	 ev;
	int			 op;

	if (events == f->f_events)
		return;
	op = events == 0 ? EPOLL_CTL_DEL : f->f_events == 0 ? EPOLL_CTL_ADD :
	    EPOLL_CTL_MOD;
	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = f;
	if (epoll_ctl(front_ep, op, f->f_fd, &ev) == -1)
		log_warn("%s: epoll_ctl fd %d", __func__, f->f_fd);
	f->f_events = events;
}

static const char *
reply_text(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 414: return "URI Too Long";
	case 421: return "Misdirected Request";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	}
	return "Error";
}

static int
fstate_reading(enum fstate st)
{
	return st == FC_SILENT || st == FC_HEAD;
}

/*
 * Move f to state st. The reading and silent lists and their counts
 * follow the state here and nowhere else.
 */
static void
fconn_state(struct fconn *f, enum fstate st)
{
	if (f->f_state == FC_SILENT) {
		TAILQ_REMOVE(&silent, f, f_sentry);
		nsilent--;
	}
	if (fstate_reading(f->f_state) && !fstate_reading(st)) {
		TAILQ_REMOVE(&reading, f, f_rentry);
		nreading--;
	} else if (!fstate_reading(f->f_state) && fstate_reading(st)) {
		TAILQ_INSERT_TAIL(&reading, f, f_rentry);
		nreading++;
		f->f_since = ev_now(loop);
	}
	if (st == FC_SILENT) {
		TAILQ_INSERT_TAIL(&silent, f, f_sentry);
		nsilent++;
	}
	f->f_state = st;
}

/*
 * (Re)start f's timer for its state. A head's deadline is header_timeout
 * after it began reading, whatever arrives meanwhile: a byte every few
 * seconds must not keep a connection forever.
 */
static void
fconn_arm(struct fconn *f)
{
	ev_tstamp	 head = conf->c_header_timeout_ms / 1000.0;
	ev_tstamp	 first = conf->c_first_byte_timeout_ms / 1000.0;
	ev_tstamp	 left = REPLY_TIMEOUT;

	switch (f->f_state) {
	case FC_IDLE:
		left = conf->c_keepalive_timeout_ms / 1000.0;
		break;
	case FC_SILENT:
		left = f->f_since + (first < head ? first : head) -
		    ev_now(loop);
		break;
	case FC_HEAD:
		left = f->f_since + head - ev_now(loop);
		break;
	case FC_REPLY:
		break;
	}
	ev_timer_stop(loop, &f->f_tmo);
	ev_timer_set(&f->f_tmo, left > 0. ? left : 0., 0.);
	ev_timer_start(loop, &f->f_tmo);
}

/*
 * Say what the reading budget cost, at most once a second: under a flood
 * every connection would otherwise log a line. The first event is logged
 * at once; the ones in the next second are summed into one line.
 */
static void
front_note_cb(struct ev_loop *l, ev_timer *t, int revents)
{
	if (note_evicted == 0 && note_silent == 0)
		return;
	log_warnx("proxy: closed %llu connections for new ones (max_reading, "
	    "max_silent) and %llu that sent nothing (first_byte_timeout)",
	    (unsigned long long)note_evicted, (unsigned long long)note_silent);
	note_evicted = note_silent = 0;
	ev_timer_set(t, 1., 0.);
	ev_timer_start(l, t);
}

static void
front_note(void)
{
	if (!ev_is_active(&note_ev))
		front_note_cb(loop, &note_ev, 0);
}

/* Forget f; its socket is closed, or (close_fd 0) now belongs elsewhere. */
static void
fconn_free(struct fconn *f, int close_fd)
{
	fconn_watch(f, 0);
	ev_timer_stop(loop, &f->f_tmo);
	if (close_fd && f->f_fd != -1) {
		close(f->f_fd);
		dstats.ds_closed++;
	}
	fconn_state(f, FC_IDLE);
	nfconns--;
	TAILQ_REMOVE(&fconns, f, f_entry);
	free(f);
}

static void
front_write(struct fconn *f)
{
	ssize_t		 n;

	while (f->f_outoff < f->f_outlen) {
		n = send(f->f_fd, f->f_out + f->f_outoff,
		    f->f_outlen - f->f_outoff, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			fconn_watch(f, EPOLLOUT);
			return;
		}
		if (n <= 0)
			break;
		f->f_outoff += (size_t)n;
	}
	fconn_free(f, 1);
}

static void
front_timeout_cb(struct ev_loop *l, ev_timer *t, int revents)
{
	struct fconn	*f = t->data;

	switch (f->f_state) {
	case FC_SILENT:
		dstats.ds_first_byte_timeouts++;
		note_silent++;
		front_note();
		/* FALLTHROUGH */
	case FC_IDLE:
	case FC_REPLY:
		fconn_free(f, 1);
		return;
	case FC_HEAD:
		break;
	}
	/* A head that started but never finished: slowloris, or a stall. */
	log_debug("%s: head incomplete after %u ms (%zu bytes)", __func__,
	    conf->c_header_timeout_ms, f->f_len);
	front_answer(f, 408, 0, 0);
}

/* Turn f into a writer of one canned response, then close. */
static void
front_answer(struct fconn *f, int status, unsigned int retry,
    int head_only)
{
	char		 extra[64] = "";
	char		 body[64];
	int		 bl, n;

	fconn_watch(f, 0);
	fconn_state(f, FC_REPLY);
	if (status >= 100 && status < 600)
		dstats.ds_answers[status]++;
	if (retry > 0)
		snprintf(extra, sizeof(extra), "Retry-After: %u\r\n", retry);
	bl = snprintf(body, sizeof(body), "%d %s\n", status,
	    reply_text(status));
	n = snprintf(f->f_out, sizeof(f->f_out), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %d\r\n"
	    "Connection: close\r\n"
	    "%s\r\n%s", status, reply_text(status), bl, extra,
	    head_only ? "" : body);
	f->f_outlen = (size_t)n;
	f->f_outoff = 0;
	fconn_arm(f);
	front_write(f);
}

/* A connection in state st, its timer armed for that state. */
static struct fconn *
fconn_new(int fd, unsigned int hops, enum fstate st)
{
	struct fconn	*f;

	if ((f = calloc(1, sizeof(*f) + conf->c_head_max)) == NULL)
		return NULL;
	f->f_fd = fd;
	f->f_hops = hops;
	f->f_state = FC_IDLE;
	fconn_state(f, st);
	hh_init(&f->f_hp, conf->c_head_max, conf->c_target_max);
	ev_timer_init(&f->f_tmo, front_timeout_cb, 0., 0.);
	f->f_tmo.data = f;
	fconn_arm(f);
	TAILQ_INSERT_TAIL(&fconns, f, f_entry);
	nfconns++;
	return f;
}

/*
 * Answer a connection the pool could not place (503, 421, ...). The bytes
 * it held tell whether the request was a HEAD, which gets no body.
 */
void
front_reply(int fd, const uint8_t *req, size_t len, int status,
    unsigned int retry)
{
	struct fconn	*f;

	if ((f = fconn_new(fd, 0, FC_REPLY)) == NULL) {
		close(fd);
		dstats.ds_closed++;
		return;
	}
	front_answer(f, status, retry, len >= 5 && memcmp(req, "HEAD ", 5) == 0);
}

/*
 * Decide where a complete head goes. Every refusal is answered here with
 * a generic body; nothing about tenants, paths or errno leaks
 * (docs/security.md, item 101).
 */
static void
front_route(struct fconn *f)
{
	struct http_head	*h = &f->f_hp.hp_head;
	struct admit		 ad;
	struct route		 r;
	int			 rc, head_only = h->hh_method == HTTP_HEAD;
	int			 fd;

	/*
	 * The worker admits each later request of the connection with the
	 * same function (worker/request.c, request_dispatch()), so neither
	 * end can route what the other refuses.
	 */
	switch (admit_request(&conf->c_hosts, h, f->f_buf, &ad)) {
	case ADMIT_REJECT:
		log_debug("%s: %d: %s", __func__, ad.ad_status, ad.ad_reason);
		/* FALLTHROUGH */
	case ADMIT_APEX:
	case ADMIT_ADMIN:
		front_answer(f, ad.ad_status, 0, head_only);
		return;
	case ADMIT_SUBDOMAIN:
	case ADMIT_CUSTOM:
		break;
	}
	if ((rc = route_resolve(&ad.ad_host, &r)) == -1) {
		front_answer(f, 503, 5, head_only);
		return;
	}
	if (rc == 1 || r.r_status == TENANT_DELETED) {
		front_answer(f, 404, 0, head_only);
		return;
	}
	if (r.r_status == TENANT_SUSPENDED) {
		front_answer(f, 503, 60, head_only);
		return;
	}
	/*
	 * Out of our epoll set before the socket leaves us (see the top of
	 * this file); the pool owns the descriptor from here on.
	 */
	fconn_watch(f, 0);
	fd = f->f_fd;
	f->f_fd = -1;
	pool_dispatch(&r, fd, f->f_buf, f->f_len, f->f_hops);
	fconn_free(f, 0);
}

static void
front_process(struct fconn *f)
{
	int	 r;

	r = hh_feed(&f->f_hp, f->f_buf, f->f_len);
	if (r == HH_MORE) {
		fconn_watch(f, EPOLLIN);
		return;
	}
	if (r == HH_ERROR) {
		log_debug("%s: %d: %s", __func__, f->f_hp.hp_head.hh_error_status,
		    f->f_hp.hp_head.hh_error);
		front_answer(f, f->f_hp.hp_head.hh_error_status, 0,
		    f->f_hp.hp_head.hh_method == HTTP_HEAD);
		return;
	}
	front_route(f);
}

static void
front_read(struct fconn *f)
{
	ssize_t		 n;

	if (f->f_len == conf->c_head_max) {
		front_process(f);	/* full: the parser answers 431 */
		return;
	}
	n = read(f->f_fd, f->f_buf + f->f_len, conf->c_head_max - f->f_len);
	if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
		fconn_watch(f, EPOLLIN);
		return;
	}
	if (n <= 0) {
		fconn_free(f, 1);
		return;
	}
	if (f->f_state != FC_HEAD) {
		/*
		 * A first byte: off the silent list, now bounded by
		 * header_timeout from accept; or the next request of a
		 * connection handed back idle, with a header_timeout of
		 * its own from now.
		 */
		fconn_state(f, FC_HEAD);
		fconn_arm(f);
	}
	f->f_len += (size_t)n;
	front_process(f);
}

/*
 * Our epoll set has events. Each fconn appears once per batch, and
 * handling one never frees another, so the pointers stay valid.
 */
static void
front_ep_cb(struct ev_loop *l, ev_io *io, int revents)
{
	struct epoll_event	 evs[64];
	struct fconn		*f;
	int			 i, n;

	if ((n = epoll_wait(front_ep, evs, 64, 0)) == -1) {
		if (errno != EINTR)
			log_warn("%s: epoll_wait", __func__);
		return;
	}
	for (i = 0; i < n; i++) {
		f = evs[i].data.ptr;
		if (f->f_state == FC_REPLY)
			front_write(f);
		else
			front_read(f);
	}
}

static void
front_resume_cb(struct ev_loop *l, ev_timer *t, int revents)
{
	if (listen_fd != -1)
		ev_io_start(l, &listen_ev);
}

/*
 * Keep the reading budget after a new connection: past max_silent the
 * oldest silent connection is closed, past max_reading the oldest being
 * read, silent or not (docs/security.md, item 50). The oldest has held its
 * place longest for the least: a proxy writes a request head whole as it
 * connects, so a real one is read as soon as it is accepted, and loses its
 * place only if max_silent (or max_reading) connections come after it
 * before its bytes do. A bound passed means two connections or more on its
 * list, so the newest, at the tail, is never the one closed. One per new
 * connection, so every accept costs O(1).
 */
static void
front_make_room(void)
{
	struct fconn	*f;

	if (nsilent > conf->c_max_silent)
		f = TAILQ_FIRST(&silent);
	else if (nreading > conf->c_max_reading)
		f = TAILQ_FIRST(&reading);
	else
		return;
	note_evicted++;
	front_note();
	if (f->f_state == FC_SILENT) {
		dstats.ds_evicted_silent++;
		fconn_free(f, 1);
	} else {
		dstats.ds_evicted_head++;
		front_answer(f, 408, 0, 0);
	}
}

static void
front_accept_cb(struct ev_loop *l, ev_io *io, int revents)
{
	struct fconn	*f;
	int		 fd, i;

	for (i = 0; i < 64; i++) {
		fd = accept4(listen_fd, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				return;
			if (errno == EMFILE || errno == ENFILE) {
				/*
				 * Out of descriptors: pause accepting and
				 * retry shortly; the kernel's backlog holds
				 * the proxy's connections meanwhile. The
				 * retry fails again for as long as the
				 * shortage lasts, so it is logged at most
				 * once a second, with the pauses since.
				 */
				emfile_pauses++;
				if (ev_now(l) - emfile_logged >= 1.) {
					log_warn("%s: pausing accept (%llu "
					    "times since the last report)",
					    __func__, (unsigned long long)
					    emfile_pauses);
					emfile_logged = ev_now(l);
					emfile_pauses = 0;
				}
				ev_io_stop(l, io);
				ev_timer_set(&resume_ev, 0.1, 0.);
				ev_timer_start(l, &resume_ev);
				return;
			}
			log_warn("%s: accept", __func__);
			return;
		}
		dstats.ds_accepted++;
		if ((f = fconn_new(fd, 0, FC_SILENT)) == NULL) {
			close(fd);
			dstats.ds_closed++;
			continue;
		}
		/*
		 * Read at once: a proxy writes its request as it connects,
		 * so the head is usually here already and the connection
		 * is routed without ever taking a place in the budget.
		 * Room is made after the read, so only for a connection
		 * still being read; f may be gone by then.
		 */
		front_read(f);
		front_make_room();
	}
}

/*
 * A worker returned a connection with the unread bytes, which start with a
 * request it would not serve. It goes through the same reading and routing
 * as a new connection, with a fresh header timeout.
 */
void
front_handback(int fd, const uint8_t *data, size_t len, unsigned int hops)
{
	struct fconn	*f;

	/*
	 * An idle keep-alive connection from a retiring worker waits like
	 * one (keepalive_timeout), and counts as reading only once its next
	 * request starts. Neither kind makes room in the reading budget: it
	 * is a connection we had already, not a new one.
	 */
	if (len > conf->c_head_max ||
	    (f = fconn_new(fd, hops, len > 0 ? FC_HEAD : FC_IDLE)) == NULL) {
		close(fd);
		dstats.ds_closed++;
		return;
	}
	memcpy(f->f_buf, data, len);
	f->f_len = len;
	if (len == 0) {
		fconn_watch(f, EPOLLIN);
		return;
	}
	front_process(f);
}

unsigned int
front_reading(void)
{
	return nreading;
}

unsigned int
front_silent(void)
{
	return nsilent;
}

/*
 * Every connection we hold: reading, idle after a hand-back, or being
 * answered. With the handoffs waiting for a worker, this closes the books:
 * accepted + handed back = handed off + closed + held.
 */
unsigned int
front_held(void)
{
	return nfconns + dstats.ds_queued;
}

void
front_init(int fd)
{
	listen_fd = fd;
	if ((front_ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");
	ev_io_init(&front_ep_ev, front_ep_cb, front_ep, EV_READ);
	ev_io_start(loop, &front_ep_ev);
	ev_io_init(&listen_ev, front_accept_cb, fd, EV_READ);
	ev_io_start(loop, &listen_ev);
	ev_timer_init(&resume_ev, front_resume_cb, 0., 0.);
	ev_timer_init(&note_ev, front_note_cb, 1., 0.);
}

/*
 * Stop accepting. Under socket activation systemd keeps its own copy of
 * the socket, so connections that arrive now wait in its backlog for the
 * next tenantd; connections we already accepted are still ours to finish.
 */
void
front_stop_accepting(void)
{
	ev_io_stop(loop, &listen_ev);
	ev_timer_stop(loop, &resume_ev);
	if (listen_fd != -1)
		close(listen_fd);
	listen_fd = -1;
}

/* Connections whose request is still being read or answered by us. */
unsigned int
front_pending(void)
{
	struct fconn	*f;
	unsigned int	 n = 0;

	TAILQ_FOREACH(f, &fconns, f_entry)
		if (f->f_state != FC_IDLE)
			n++;
	return n;
}

/* Idle keep-alive connections handed back to us: nothing to finish. */
void
front_close_idle(void)
{
	struct fconn	*f, *tmp;

	for (f = TAILQ_FIRST(&fconns); f != NULL; f = tmp) {
		tmp = TAILQ_NEXT(f, f_entry);
		if (f->f_state == FC_IDLE)
			fconn_free(f, 1);
	}
}
