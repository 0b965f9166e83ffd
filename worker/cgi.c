/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Per-request handlers, the effects (docs/tenant-code.md): app/routes kept
 * current, and the runs in flight. The worker cannot fork or exec; it asks
 * the supervisor to start a handler (MSG_RUN_REQUEST) and gets back one
 * end of the handler's stdin+stdout, then feeds it the body and collects
 * the output, all from the event loop: a slow handler holds its own
 * connection and nothing else.
 *
 *   request.c                 cgi.c                       supervisor
 *   conn_cgi, body read  ->   cgi_start  -- RUN_REQUEST -->
 *                             cgi_started <-- RUN_STARTED + fd (or FAILED)
 *                             body -> fd, SHUT_WR, fd -> output until EOF
 *   http_cgi_done        <-   (or 502 oversize, 504 timeout -- RUN_KILL -->)
 *
 * A persistent app (a route marked "persistent") goes the same way with
 * MSG_APP_CONNECT instead of MSG_RUN_REQUEST: the fd is a connection to
 * the app, which gets an HTTP/1.0 request (built by request.c) and answers
 * until it closes. The app outlives the request, so giving up on it only
 * closes our connection: it is never killed from here.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgipure.h"
#include "log.h"
#include "proto.h"
#include "sys.h"
#include "worker.h"

#define ROUTES_PATH	"app/routes"
#define ROUTES_RECHECK	1.0	/* seconds between two looks at it */

struct cgi_run {
	uint32_t	 ru_id;
	struct wconn	*ru_conn;
	int		 ru_fd;		/* -1 until RUN_STARTED */
	ev_io		 ru_rev;
	ev_io		 ru_wev;
	ev_timer	 ru_tmo;
	uint8_t		*ru_in;		/* the request body */
	size_t		 ru_in_len;
	size_t		 ru_in_off;
	uint8_t		*ru_out;
	size_t		 ru_out_len;
	size_t		 ru_out_cap;
	char		 ru_handler[RUN_NAME_MAX + 1];
	int		 ru_app;	/* 1: an app's connection */
};

static struct cgi_run	*runs[RUN_MAX_PER_WORKER];
static uint32_t		 run_last;
static int		 run_wrapped;

static struct cgi_routes routes;
static struct stat	 routes_st;
static int		 routes_known;	/* 1: routes_st is what routes holds,
					   -1: warned that it cannot be opened */

static int
routes_same(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/*
 * Read app/routes again if it is another file or was changed since the
 * last request. A file we cannot use gives no routes at all, with one
 * warning per version of it; the tenant's static files are still served.
 */
static void
routes_refresh(void)
{
	static char	 buf[CGI_ROUTES_FILE_MAX + 1];
	struct stat	 st;
	size_t		 len = 0, line;
	ssize_t		 n;
	int		 fd, absent;

	/* O_NONBLOCK: a FIFO planted as app/routes must not hang us. */
	if ((fd = open_beneath(AT_FDCWD, ROUTES_PATH, O_RDONLY | O_NONBLOCK,
	    0)) == -1) {
		/* No routes file is no handlers; any other failure, once. */
		absent = errno == ENOENT || errno == ENOTDIR;
		if (!absent && routes_known != -1)
			log_warn("%s; no handlers are served", ROUTES_PATH);
		memset(&routes, 0, sizeof(routes));
		routes_known = absent ? 0 : -1;
		return;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("%s: fstat", ROUTES_PATH);
		memset(&routes, 0, sizeof(routes));
		routes_known = 0;
		close(fd);
		return;
	}
	if (routes_known == 1 && routes_same(&st, &routes_st)) {
		close(fd);
		return;
	}
	memset(&routes, 0, sizeof(routes));
	routes_st = st;
	routes_known = 1;
	if (!S_ISREG(st.st_mode)) {
		log_warnx("%s: not a regular file; no handlers are served",
		    ROUTES_PATH);
		close(fd);
		return;
	}
	while (len < sizeof(buf)) {
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_warn("%s: read; no handlers are served",
			    ROUTES_PATH);
			close(fd);
			return;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > CGI_ROUTES_FILE_MAX) {
		log_warnx("%s: larger than %d bytes; no handlers are served",
		    ROUTES_PATH, CGI_ROUTES_FILE_MAX);
		return;
	}
	if (cgi_routes_parse(buf, len, &routes, &line) == -1) {
		log_warnx("%s: line %zu is invalid (\"<path-prefix> "
		    "<handler> [persistent]\", at most %d routes); no "
		    "handlers are served until it is fixed", ROUTES_PATH, line,
		    CGI_ROUTES_MAX);
		return;
	}
	log_debug("%s: %zu routes", ROUTES_PATH, routes.cr_n);
}

/*
 * The route for an origin-form path, or NULL: a static file then.
 * app/routes is looked at again at most once a second: opening and
 * checking it on every request cost a third of the rate at which a worker
 * serves static files over keep-alive (tests/bench, section 2). A change
 * to it applies within a second.
 */
const struct cgi_route *
cgi_lookup(const char *path, size_t len)
{
	static ev_tstamp	 checked = -1;
	ev_tstamp		 now = ev_now(env->we_loop);

	if (checked < 0 || now - checked >= ROUTES_RECHECK || now < checked) {
		routes_refresh();
		checked = now;
	}
	if (routes.cr_n == 0)
		return NULL;
	return cgi_route_match(&routes, path, len);
}

static size_t
cgi_nruns(void)
{
	size_t	 i, n = 0;

	for (i = 0; i < RUN_MAX_PER_WORKER; i++)
		if (runs[i] != NULL)
			n++;
	return n;
}

int
cgi_slot_free(void)
{
	return cgi_nruns() < RUN_MAX_PER_WORKER;
}

static struct cgi_run *
cgi_find(uint32_t id)
{
	size_t	 i;

	for (i = 0; i < RUN_MAX_PER_WORKER; i++)
		if (runs[i] != NULL && runs[i]->ru_id == id)
			return runs[i];
	return NULL;
}

/* Unique among the runs in flight, never 0 (proto.h). */
static uint32_t
cgi_next_id(void)
{
	do {
		if (++run_last == 0) {
			run_wrapped = 1;
			run_last = 1;
		}
	} while (cgi_find(run_last) != NULL);
	return run_last;
}

/* Out of the table, no watcher, no descriptor; the caller frees. */
static void
cgi_detach(struct cgi_run *ru)
{
	size_t	 i;

	for (i = 0; i < RUN_MAX_PER_WORKER; i++)
		if (runs[i] == ru)
			runs[i] = NULL;
	ev_io_stop(env->we_loop, &ru->ru_rev);
	ev_io_stop(env->we_loop, &ru->ru_wev);
	ev_timer_stop(env->we_loop, &ru->ru_tmo);
	if (ru->ru_fd != -1)
		close(ru->ru_fd);
	ru->ru_fd = -1;
}

static void
cgi_free(struct cgi_run *ru)
{
	if (ru->ru_in != NULL)
		explicit_bzero(ru->ru_in, ru->ru_in_len);
	free(ru->ru_in);
	free(ru->ru_out);
	free(ru);
}

/*
 * The run is over: status 0 with its output, or the status to answer.
 * kill asks the supervisor to end a handler; an app is only let go.
 */
static void
cgi_finish(struct cgi_run *ru, int status, int kill)
{
	struct wconn	*c = ru->ru_conn;
	uint8_t		*out = ru->ru_out;
	size_t		 len = ru->ru_out_len;

	if (kill && !ru->ru_app && worker_send(MSG_RUN_KILL, ru->ru_id, NULL,
	    0, -1, 0, 0) == -1)
		log_warn("%s: run %u: RUN_KILL", __func__, ru->ru_id);
	cgi_detach(ru);
	ru->ru_out = NULL;
	cgi_free(ru);
	http_cgi_done(c, status, out, len);
}

/* The connection went away first: the handler has nobody to answer. */
void
cgi_cancel(struct cgi_run *ru)
{
	if (ru == NULL)
		return;
	if (!ru->ru_app && worker_send(MSG_RUN_KILL, ru->ru_id, NULL, 0, -1,
	    0, 0) == -1)
		log_warn("%s: run %u: RUN_KILL", __func__, ru->ru_id);
	cgi_detach(ru);
	cgi_free(ru);
}

static void
cgi_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cgi_run	*ru = w->data;

	log_debug("run %u: %s%s: past handler_timeout", ru->ru_id,
	    ru->ru_app ? "app " : "", ru->ru_handler);
	cgi_finish(ru, 504, 1);
}

/*
 * The body (for an app, the request head and body), as far as the handler
 * takes it; then a handler's stdin ends.
 */
static void
cgi_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct cgi_run	*ru = w->data;
	ssize_t		 n;

	while (ru->ru_in_off < ru->ru_in_len) {
		n = send(ru->ru_fd, ru->ru_in + ru->ru_in_off,
		    ru->ru_in_len - ru->ru_in_off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0) {
			/*
			 * The handler closed its stdin, or exited: it
			 * answers without the rest, which is its right.
			 */
			break;
		}
		ru->ru_in_off += (size_t)n;
	}
	ev_io_stop(loop, w);
	/*
	 * One socket is the handler's stdin and stdout: only a half close
	 * gives it EOF on stdin while we still read its output. An app knows
	 * where the request ends from its Content-Length, and some servers
	 * take a half close for a client that left and drop the response.
	 */
	if (!ru->ru_app && shutdown(ru->ru_fd, SHUT_WR) == -1 &&
	    errno != ENOTCONN)
		log_debug("run %u: shutdown: %s", ru->ru_id, strerror(errno));
	explicit_bzero(ru->ru_in, ru->ru_in_len);
	free(ru->ru_in);
	ru->ru_in = NULL;
	ru->ru_in_len = ru->ru_in_off = 0;
}

/* The output, up to handler_output bytes, until EOF. */
static void
cgi_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct cgi_run	*ru = w->data;
	uint64_t	 max = env->we_tl[TL_HANDLER_OUTPUT];
	size_t		 cap;
	uint8_t		*p;
	ssize_t		 n;

	for (;;) {
		if (ru->ru_out_len == ru->ru_out_cap) {
			/* One byte past the limit tells "too much" apart. */
			if (ru->ru_out_cap > max) {
				log_debug("run %u: %s: output past "
				    "handler_output", ru->ru_id,
				    ru->ru_handler);
				cgi_finish(ru, 502, 1);
				return;
			}
			cap = ru->ru_out_cap ? ru->ru_out_cap * 2 : 16384;
			if (cap > max + 1)
				cap = (size_t)max + 1;
			if ((p = realloc(ru->ru_out, cap)) == NULL) {
				log_warn("%s: run %u", __func__, ru->ru_id);
				cgi_finish(ru, 503, 1);
				return;
			}
			ru->ru_out = p;
			ru->ru_out_cap = cap;
		}
		n = read(ru->ru_fd, ru->ru_out + ru->ru_out_len,
		    ru->ru_out_cap - ru->ru_out_len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		/*
		 * A handler that exits without reading all of its stdin
		 * leaves us ECONNRESET after the last of its output, not an
		 * EOF (a unix socket closed with unread data): the output is
		 * complete all the same.
		 */
		if (n == -1 && errno == ECONNRESET)
			break;
		if (n == -1) {
			log_debug("run %u: read: %s", ru->ru_id,
			    strerror(errno));
			cgi_finish(ru, 502, 1);
			return;
		}
		if (n == 0)
			break;
		ru->ru_out_len += (size_t)n;
	}
	if (ru->ru_out_len > max) {
		cgi_finish(ru, 502, 1);
		return;
	}
	/* A handler that exits without a word is a bad gateway. */
	cgi_finish(ru, ru->ru_out_len == 0 ? 502 : 0, 0);
}

/*
 * Ask for a run of handler with env and the body, or (app 1, e unused) a
 * connection to the app handler names, to be sent body: the request head
 * and body. The body is taken over, even on failure. Returns the run, or
 * NULL and *status to answer (503).
 */
struct cgi_run *
cgi_start(struct wconn *c, const char *handler, const struct cgi_env *e,
    int app, uint8_t *body, size_t len, int *status)
{
	static struct msgbuf	 mb;
	struct cgi_run		*ru = NULL;
	size_t			 i;

	*status = 503;
	for (i = 0; i < RUN_MAX_PER_WORKER && runs[i] != NULL; i++)
		;
	if (i == RUN_MAX_PER_WORKER || (ru = calloc(1, sizeof(*ru))) ==
	    NULL) {
		if (ru == NULL && i < RUN_MAX_PER_WORKER)
			log_warn("%s", __func__);
		goto fail;
	}
	ru->ru_id = cgi_next_id();
	ru->ru_conn = c;
	ru->ru_fd = -1;
	ru->ru_in = body;
	ru->ru_in_len = len;
	body = NULL;
	ru->ru_app = app;
	snprintf(ru->ru_handler, sizeof(ru->ru_handler), "%s", handler);
	if (app) {
		msg_init(&mb, MSG_APP_CONNECT, ru->ru_id);
		msg_put_str(&mb, handler);
		if (mb.mb_overflow) {
			/* A routes file name is RUN_NAME_MAX at most. */
			log_warnx("%s: run %u: APP_CONNECT does not fit",
			    __func__, ru->ru_id);
			*status = 500;
			goto fail;
		}
	} else if (cgi_env_encode(e, handler, ru->ru_id, &mb) == -1) {
		/*
		 * cgi_env_build() left room for it and builds only entries
		 * runarg_env_ok() takes: our bug, and one request's 500
		 * rather than tenantd killing us for it.
		 */
		log_warnx("%s: run %u: environment does not fit or breaks "
		    "the rule", __func__, ru->ru_id);
		*status = 500;
		goto fail;
	}
	if (worker_send_msg(&mb) == -1) {
		log_warn("%s: run %u: %s", __func__, ru->ru_id,
		    app ? "APP_CONNECT" : "RUN_REQUEST");
		goto fail;
	}
	explicit_bzero(&mb, sizeof(mb));
	ev_io_init(&ru->ru_rev, cgi_read_cb, 0, EV_READ);
	ev_io_init(&ru->ru_wev, cgi_write_cb, 0, EV_WRITE);
	/*
	 * handler_timeout from our request: the supervisor's own deadline
	 * (handler_timeout plus a grace second from its start) is later, so
	 * the client gets our 504 rather than a run that just stopped. For an
	 * app it bounds the connect, the request and the whole response.
	 */
	ev_timer_init(&ru->ru_tmo, cgi_timeout_cb,
	    (double)env->we_tl[TL_HANDLER_TIMEOUT] / 1000., 0.);
	ru->ru_rev.data = ru->ru_wev.data = ru->ru_tmo.data = ru;
	ev_timer_start(env->we_loop, &ru->ru_tmo);
	runs[i] = ru;
	return ru;
 fail:
	explicit_bzero(&mb, sizeof(mb));
	if (ru != NULL)
		cgi_free(ru);
	else if (body != NULL) {
		explicit_bzero(body, len);
		free(body);
	}
	return NULL;
}

/*
 * A run id we never issued is a supervisor we do not understand, and the
 * worker dies on nonsense from its supervisor (docs/architecture.md,
 * section 4); one we issued but no longer hold raced with our RUN_KILL and
 * is ignored.
 */
static struct cgi_run *
cgi_msg_run(struct msg *m)
{
	struct cgi_run	*ru;

	if (m->m_conn_id == 0 || (!run_wrapped && m->m_conn_id > run_last))
		fatalx("%s: %s for run %u, never asked for", __func__,
		    msg_type_str(m->m_type), m->m_conn_id);
	if ((ru = cgi_find(m->m_conn_id)) == NULL)
		log_debug("%s: %s for run %u, given up already", __func__,
		    msg_type_str(m->m_type), m->m_conn_id);
	return ru;
}

/* MSG_RUN_STARTED: the handler's stdio, or a connection to the app. */
void
cgi_msg_started(struct msg *m, int fd)
{
	struct cgi_run	*ru;
	struct stat	 st;

	if (msg_end(m) == -1 || fstat(fd, &st) == -1 || !S_ISSOCK(st.st_mode))
		fatalx("%s: bad RUN_STARTED", __func__);
	if ((ru = cgi_msg_run(m)) == NULL) {
		close(fd);
		return;
	}
	if (ru->ru_fd != -1)
		fatalx("%s: RUN_STARTED twice for run %u", __func__,
		    ru->ru_id);
	if (fd_nonblock(fd) == -1) {
		log_warn("%s: run %u", __func__, ru->ru_id);
		close(fd);
		cgi_finish(ru, 502, 1);
		return;
	}
	ru->ru_fd = fd;
	ev_io_set(&ru->ru_rev, fd, EV_READ);
	ev_io_set(&ru->ru_wev, fd, EV_WRITE);
	/* Both at once: a handler may answer before it reads everything. */
	ev_io_start(env->we_loop, &ru->ru_rev);
	ev_io_start(env->we_loop, &ru->ru_wev);
}

/* MSG_RUN_FAILED: u32 status, what the client is answered. */
void
cgi_msg_failed(struct msg *m)
{
	struct cgi_run	*ru;
	uint32_t	 status;

	if (msg_get_u32(m, &status) == -1 || msg_end(m) == -1 ||
	    status < 400 || status > 599)
		fatalx("%s: bad RUN_FAILED", __func__);
	if ((ru = cgi_msg_run(m)) == NULL)
		return;
	if (ru->ru_fd != -1)
		fatalx("%s: RUN_FAILED after RUN_STARTED for run %u",
		    __func__, ru->ru_id);
	log_debug("run %u: %s%s: not started (%u)", ru->ru_id,
	    ru->ru_app ? "app " : "", ru->ru_handler, status);
	cgi_finish(ru, (int)status, 0);
}
