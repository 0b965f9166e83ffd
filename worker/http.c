/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * HTTP/1.1 connections inside the worker: keep-alive and pipelining, one
 * request at a time per connection. This file owns the connection and
 * runs its states: reading, the request head (common/httphead.c), the
 * body, the wait for credits or a handler's run, writing, then keep-alive,
 * hand-back or close, and draining. What a request gets is decided in
 * request.c; the response is built and sent by respond.c.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"
#include "sys.h"
#include "worker.h"

static void	conn_process(struct wconn *);

static uint64_t
now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* What one API request holds: freed when its response is done. */
static void
conn_api_free(struct wconn *c)
{
	api_free(c->c_api);
	c->c_api = NULL;
	free(c->c_ar.ar_body);
	memset(&c->c_ar, 0, sizeof(c->c_ar));
	free(c->c_in);
	c->c_in = NULL;
	c->c_in_len = 0;
	free(c->c_out);
	c->c_out = NULL;
	c->c_out_len = c->c_out_off = 0;
	c->c_parked = 0;
	/* A handler still running has nobody to answer now. */
	cgi_cancel(c->c_run);
	c->c_run = NULL;
	free(c->c_env);
	c->c_env = NULL;
	free(c->c_head);
	c->c_head = NULL;
	c->c_head_len = c->c_head_off = 0;
}

static void
conn_free(struct wconn *c)
{
	conn_api_free(c);
	ev_io_stop(env->we_loop, &c->c_rev);
	ev_io_stop(env->we_loop, &c->c_wev);
	ev_timer_stop(env->we_loop, &c->c_tmo);
	if (c->c_file != -1)
		close(c->c_file);
	close(c->c_fd);
	TAILQ_REMOVE(&env->we_conns, c, c_entry);
	explicit_bzero(c->c_buf, env->we_head_max);
	free(c->c_buf);
	free(c);
}

static void
conn_close(struct wconn *c)
{
	uint32_t	 id = c->c_id;
	uint64_t	 served = c->c_served;

	conn_free(c);
	worker_conn_gone(id, served);
}

/*
 * Give the connection back: the supervisor routes it again, starting with
 * the request whose head is at the start of our buffer. We keep no copy of
 * those bytes.
 */
void
http_handback(struct wconn *c, uint32_t reason)
{
	if (worker_send(MSG_CONN_HANDBACK, c->c_id, c->c_buf, c->c_len,
	    c->c_fd, reason, (uint32_t)c->c_served) == -1) {
		log_warn("%s: conn %u", __func__, c->c_id);
		conn_close(c);
		return;
	}
	conn_free(c);
	env->we_nconns--;
	worker_maybe_exit();
}

static void
conn_timer_set(struct wconn *c, unsigned int ms)
{
	ev_timer_stop(env->we_loop, &c->c_tmo);
	ev_timer_set(&c->c_tmo, ms / 1000.0, 0.);
	ev_timer_start(env->we_loop, &c->c_tmo);
}

/*
 * Out of credits until the supervisor answers (CTL_CREDIT, then
 * http_credit_resume()): read nothing more, so pipelined requests wait
 * behind this one, for one header timeout (conn_timeout_cb()).
 */
static void
conn_park(struct wconn *c)
{
	if (c->c_parked)
		return;
	c->c_parked = 1;
	ev_io_stop(env->we_loop, &c->c_rev);
	conn_timer_set(c, env->we_header_timeout_ms);
}

/*
 * The run is over (cgi.c): status 0 and the handler's output (or the
 * app's response), which we now own, or the status to answer.
 */
void
http_cgi_done(struct wconn *c, int status, uint8_t *out, size_t len)
{
	c->c_run = NULL;
	respond_cgi(c, status, out, len);
	c->c_state = C_WRITE;
	conn_process(c);
}

/*
 * Drop n bytes from the front. What moved down is wiped where it was: a
 * request's Authorization token must not linger in the buffer's tail.
 */
static void
conn_consume(struct wconn *c, size_t n)
{
	memmove(c->c_buf, c->c_buf + n, c->c_len - n);
	c->c_len -= n;
	explicit_bzero(c->c_buf + c->c_len, n);
}

static void
conn_reset(struct wconn *c)
{
	if (c->c_file != -1)
		close(c->c_file);
	c->c_file = -1;
	conn_api_free(c);
	c->c_state = C_HEAD;
	c->c_after = C_WRITE;
	c->c_head_only = 0;
	c->c_app = 0;
	c->c_hdr_len = c->c_hdr_off = 0;
	c->c_body_left = 0;
	c->c_status = 0;
	c->c_timed = 0;
	c->c_req[0] = '\0';
	hh_init(&c->c_hp, env->we_head_max, env->we_target_max);
}

static void
conn_process(struct wconn *c)
{
	struct http_head	*h = &c->c_hp.hp_head;
	size_t			 take;
	int			 r;
	uint64_t		 sent;

	for (;;) {
		switch (c->c_state) {
		case C_HEAD:
			r = hh_feed(&c->c_hp, c->c_buf, c->c_len);
			if (r == HH_MORE) {
				if (c->c_len == 0 && env->we_draining) {
					if (env->we_draining == DRAIN_HANDBACK)
						http_handback(c,
						    HANDBACK_DRAINING);
					else
						conn_close(c);
					return;
				}
				/*
				 * Idle between requests: the keep-alive
				 * timeout. Once a head has started, the
				 * header timeout runs from its first byte and
				 * is not restarted by later ones (slowloris).
				 */
				if (c->c_len == 0)
					conn_timer_set(c,
					    env->we_keepalive_timeout_ms);
				else if (!c->c_timed) {
					conn_timer_set(c,
					    env->we_header_timeout_ms);
					c->c_timed = 1;
				}
				ev_io_start(env->we_loop, &c->c_rev);
				return;
			}
			c->c_t0 = now_us();
			if (r == HH_ERROR) {
				c->c_close = 1;
				respond_status(c, h->hh_error_status,
				    h->hh_method != HTTP_HEAD, NULL);
				log_debug("conn %u: %d: %s", c->c_id,
				    h->hh_error_status, h->hh_error);
				c->c_state = C_WRITE;
				break;
			}
			if ((r = request_dispatch(c)) == -1)
				return;
			c->c_after = r == 1 ? C_RUN : r == 2 ? C_CGI : C_WRITE;
			c->c_body_left = c->c_close && c->c_status >= 400 ?
			    0 : h->hh_clen;
			conn_consume(c, h->hh_len);
			c->c_state = c->c_body_left ? C_BODY : c->c_after;
			break;
		case C_BODY:
			take = c->c_len < c->c_body_left ? c->c_len :
			    (size_t)c->c_body_left;
			/*
			 * c_in, if kept, was sized to the Content-Length
			 * (plus, for an app, the request head it holds).
			 */
			if (c->c_in != NULL) {
				memcpy(c->c_in + c->c_in_len, c->c_buf, take);
				c->c_in_len += take;
			}
			conn_consume(c, take);
			c->c_body_left -= take;
			if (c->c_body_left > 0) {
				/* The whole body gets one header timeout. */
				if (c->c_timed != 2) {
					conn_timer_set(c,
					    env->we_header_timeout_ms);
					c->c_timed = 2;
				}
				ev_io_start(env->we_loop, &c->c_rev);
				return;
			}
			c->c_state = c->c_after;
			break;
		case C_RUN:
			if (api_run(c->c_api, c->c_in, c->c_in_len,
			    &c->c_ar) == API_PARK) {
				conn_park(c);
				return;
			}
			c->c_parked = 0;
			respond_json(c);
			c->c_state = C_WRITE;
			break;
		case C_CGI:
			if (c->c_run != NULL)
				return;		/* http_cgi_done() resumes */
			if ((r = request_cgi_pay(c)) == 0) {
				conn_park(c);
				return;
			}
			c->c_parked = 0;
			if (r == -1) {
				c->c_state = C_WRITE;
				break;
			}
			if (request_cgi_start(c) == 0) {
				/*
				 * Nothing more is read (pipelined requests
				 * wait); the run's own timer bounds the wait.
				 */
				ev_io_stop(env->we_loop, &c->c_rev);
				ev_timer_stop(env->we_loop, &c->c_tmo);
				return;
			}
			c->c_state = C_WRITE;
			break;
		case C_WRITE:
			ev_io_stop(env->we_loop, &c->c_rev);
			if ((r = respond_write(c)) == 0) {
				conn_timer_set(c, env->we_header_timeout_ms);
				ev_io_start(env->we_loop, &c->c_wev);
				return;
			}
			sent = (c->c_file != -1 ? (uint64_t)c->c_foff : 0) +
			    c->c_out_off;
			respond_log(c, sent);
			worker_stats_add(c->c_status, sent, now_us() - c->c_t0);
			if (r == -1) {
				conn_close(c);
				return;
			}
			c->c_served++;
			if (c->c_close || env->we_draining == DRAIN_CLOSE) {
				conn_close(c);
				return;
			}
			if (env->we_draining == DRAIN_HANDBACK) {
				/* With any pipelined bytes, to the next. */
				http_handback(c, HANDBACK_DRAINING);
				return;
			}
			conn_reset(c);
			break;
		}
	}
}

static void
conn_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct wconn	*c = w->data;
	ssize_t		 n;

	if (c->c_len == env->we_head_max) {
		/* Full buffer: the parser will say 431 or make room. */
		ev_io_stop(loop, w);
		conn_process(c);
		return;
	}
	n = read(c->c_fd, c->c_buf + c->c_len, env->we_head_max - c->c_len);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->c_len += (size_t)n;
	conn_process(c);
}

static void
conn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct wconn	*c = w->data;

	ev_io_stop(loop, w);
	conn_process(c);
}

static void
conn_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct wconn	*c = w->data;
	static const char resp[] = "HTTP/1.1 408 Request Timeout\r\n"
	    "Content-Length: 0\r\nConnection: close\r\n\r\n";

	/* Parked too long: the supervisor never answered for credits. */
	if (c->c_state == C_RUN && c->c_parked) {
		c->c_parked = 0;
		c->c_ar.ar_close = 1;
		api_error(&c->c_ar, 503, "unavailable",
		    "no credits could be reserved in time");
		respond_json(c);
		c->c_state = C_WRITE;
		conn_process(c);
		return;
	}
	if (c->c_state == C_CGI && c->c_parked) {
		c->c_parked = 0;
		request_cgi_forget(c);
		c->c_close = 1;
		respond_status(c, 503, !c->c_head_only, "Retry-After: 1\r\n");
		c->c_state = C_WRITE;
		conn_process(c);
		return;
	}
	/* A head that started but never finished gets a 408, best effort. */
	if (c->c_state == C_HEAD && c->c_len > 0)
		(void)send(c->c_fd, resp, sizeof(resp) - 1,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
	conn_close(c);
}

void
http_conn_new(uint32_t id, int fd, const uint8_t *data, size_t len)
{
	struct wconn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->c_buf = malloc(env->we_head_max)) == NULL ||
	    fd_nonblock(fd) == -1) {
		log_warn("%s: conn %u", __func__, id);
		if (c != NULL)
			free(c->c_buf);
		free(c);
		close(fd);
		worker_conn_gone(id, 0);
		return;
	}
	c->c_id = id;
	c->c_fd = fd;
	c->c_file = -1;
	memcpy(c->c_buf, data, len);
	c->c_len = len;
	ev_io_init(&c->c_rev, conn_read_cb, fd, EV_READ);
	ev_io_init(&c->c_wev, conn_write_cb, fd, EV_WRITE);
	ev_timer_init(&c->c_tmo, conn_timeout_cb, 0., 0.);
	c->c_rev.data = c->c_wev.data = c->c_tmo.data = c;
	TAILQ_INSERT_TAIL(&env->we_conns, c, c_entry);
	conn_reset(c);
	conn_process(c);
}

/*
 * Stop taking requests (enum drain_mode in proto.h). Retiring: an idle
 * connection goes back to the supervisor now, a busy one after its
 * current request. Stopping: an idle-looking connection may hold a request
 * the client sent before it could know; that one is read and served (with
 * Connection: close), and only a truly idle connection is closed at once.
 */
void
http_drain(void)
{
	struct wconn	*c, *tmp;
	ssize_t		 n;

	for (c = TAILQ_FIRST(&env->we_conns); c != NULL; c = tmp) {
		tmp = TAILQ_NEXT(c, c_entry);
		if (c->c_state != C_HEAD || c->c_len != 0)
			continue;	/* handled when its request ends */
		if (env->we_draining == DRAIN_HANDBACK) {
			http_handback(c, HANDBACK_DRAINING);
			continue;
		}
		c->c_close = 1;
		n = read(c->c_fd, c->c_buf, env->we_head_max);
		if (n > 0) {
			c->c_len = (size_t)n;
			conn_process(c);
		} else
			conn_close(c);
	}
}

/* A CTL_CREDIT arrived: connections parked for credits try again. */
void
http_credit_resume(void)
{
	static unsigned int	 round;
	struct wconn		*c;

	/*
	 * Serving one connection may free others (a retirement hands the
	 * idle ones back), so the walk starts over after each, and a round
	 * number keeps a connection that parks again from going twice.
	 */
	round++;
 again:
	TAILQ_FOREACH(c, &env->we_conns, c_entry)
		if ((c->c_state == C_RUN || c->c_state == C_CGI) &&
		    c->c_parked &&
		    c->c_round != round) {
			c->c_round = round;
			conn_process(c);
			goto again;
		}
}

/* max_requests reached: tell the supervisor, then drain by hand-back. */
void
http_retire(void)
{
	env->we_draining = DRAIN_HANDBACK;
	worker_send(MSG_STATE_RETIRING, 0, NULL, 0, -1, 0, 0);
	http_drain();
}
