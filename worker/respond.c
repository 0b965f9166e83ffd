/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The worker's responses: every head it sends (a canned status, a JSON
 * answer, a file, a handler's response), sending them, and the access log
 * line with its escaping. http.c decides when; request.c decides which.
 */
#include <sys/sendfile.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "worker.h"

static const char *
status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 507: return "Insufficient Storage";
	}
	return "Error";
}

/* IMF-fixdate by hand: strftime's %a and %b follow the locale. */
static void
http_date(time_t t, char *buf, size_t sz)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char *const mons[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm	 tm;

	gmtime_r(&t, &tm);
	snprintf(buf, sz, "%s, %02d %s %04d %02d:%02d:%02d GMT",
	    days[tm.tm_wday], tm.tm_mday, mons[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Append s to dst as a log-safe token: no space, quote or control byte. */
static size_t
log_escape(char *dst, size_t o, size_t sz, const uint8_t *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len && o + 5 < sz; i++) {
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '"' ||
		    s[i] == '\\')
			o += (size_t)snprintf(dst + o, sz - o, "\\x%02x", s[i]);
		else
			dst[o++] = (char)s[i];
	}
	dst[o] = '\0';
	return o;
}

void
respond_log(struct wconn *c, uint64_t bytes)
{
	char		 line[REQLOG_MAX + 128], ts[32];
	struct tm	 tm;
	time_t		 now = (time_t)ev_now(env->we_loop);
	int		 n;
	static int	 warned;

	if (env->we_log_fd == -1 || c->c_req[0] == '\0')
		goto done;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(line, sizeof(line), "%s conn=%u %s status=%d bytes=%llu\n",
	    ts, c->c_id, c->c_req, c->c_status, (unsigned long long)bytes);
	/* One write on an O_APPEND file: lines never interleave. */
	if (n <= 0 || (size_t)n >= sizeof(line) ||
	    write(env->we_log_fd, line, (size_t)n) == n)
		goto done;
	if (errno == EFBIG) {
		/*
		 * At the worker's fsize limit: stop logging rather than fail
		 * every request; a restart tries again. The cure is rotation.
		 */
		log_warnx("logs/access.log reached the file size limit "
		    "(fsize in worker.limits); access logging stops until "
		    "it is rotated");
		close(env->we_log_fd);
		env->we_log_fd = -1;
	} else if (!warned++)
		log_warn("access log");
 done:
	/* Each request's line is its own: never carried to the next. */
	c->c_req[0] = '\0';
}

/* The request line and host, escaped, for the access log. */
void
respond_log_request(struct wconn *c, const struct host_result *hr)
{
	struct http_head	*h = &c->c_hp.hp_head;
	size_t			 o;

	o = (size_t)snprintf(c->c_req, sizeof(c->c_req), "\"%s ",
	    http_method_str(h->hh_method));
	o = log_escape(c->c_req, o, sizeof(c->c_req) - 80,
	    c->c_buf + h->hh_target.off, h->hh_target.len);
	o += (size_t)snprintf(c->c_req + o, sizeof(c->c_req) - o,
	    " HTTP/1.%u\" host=", h->hh_minor);
	o = log_escape(c->c_req, o, sizeof(c->c_req) - 80,
	    (const uint8_t *)hr->hr_name, hr->hr_name_len);
	/* The client as the proxy reported it (docs/operations.md). */
	o += (size_t)snprintf(c->c_req + o, sizeof(c->c_req) - o, " client=");
	if (h->hh_xff.len > 0)
		log_escape(c->c_req, o, sizeof(c->c_req), c->c_buf +
		    h->hh_xff.off, h->hh_xff.len > 64 ? 64 : h->hh_xff.len);
	else
		snprintf(c->c_req + o, sizeof(c->c_req) - o, "-");
}

/* Prepare a response head (and a short text body unless omitted). */
void
respond_status(struct wconn *c, int status, int body, const char *extra)
{
	char		 date[40];
	char		 text[64];
	int		 n, tl;

	c->c_status = status;
	http_date((time_t)ev_now(env->we_loop), date, sizeof(date));
	/* HEAD gets the Content-Length a GET would, without the body. */
	tl = snprintf(text, sizeof(text), "%d %s\n", status,
	    status_text(status));
	n = snprintf(c->c_hdr, sizeof(c->c_hdr), "HTTP/1.1 %d %s\r\n"
	    "Date: %s\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %d\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "%s%s\r\n%s",
	    status, status_text(status), date, tl, extra ? extra : "",
	    c->c_close ? "Connection: close\r\n" : "", body ? text : "");
	c->c_hdr_len = n > 0 && (size_t)n < sizeof(c->c_hdr) ? (size_t)n : 0;
	c->c_hdr_off = 0;
}

/* A file under public/, status 200 or 304: the head, and the file to send. */
void
respond_file(struct wconn *c, struct static_file *sf, int status)
{
	char	 date[40], now[40];
	int	 n;

	http_date(sf->sf_st.st_mtim.tv_sec, date, sizeof(date));
	c->c_status = status;
	http_date((time_t)ev_now(env->we_loop), now, sizeof(now));
	n = snprintf(c->c_hdr, sizeof(c->c_hdr), "HTTP/1.1 %d %s\r\n"
	    "Date: %s", status, status_text(status), now);
	n += snprintf(c->c_hdr + n, sizeof(c->c_hdr) - (size_t)n, "\r\n"
	    "Last-Modified: %s\r\n"
	    "ETag: %s\r\n"
	    "X-Content-Type-Options: nosniff\r\n",
	    date, sf->sf_etag);
	if (status == 200)
		n += snprintf(c->c_hdr + n, sizeof(c->c_hdr) - (size_t)n,
		    "Content-Type: %s\r\nContent-Length: %lld\r\n",
		    sf->sf_type, (long long)sf->sf_st.st_size);
	n += snprintf(c->c_hdr + n, sizeof(c->c_hdr) - (size_t)n, "%s\r\n",
	    c->c_close ? "Connection: close\r\n" : "");
	c->c_hdr_len = (size_t)n;
	c->c_hdr_off = 0;
	if (status == 200 && !c->c_head_only) {
		c->c_file = sf->sf_fd;
		c->c_foff = 0;
		c->c_fend = sf->sf_st.st_size;
	} else
		close(sf->sf_fd);
}

/*
 * The response c_ar describes, as JSON: the API's answers and every 429.
 * Nothing here may be cached or sniffed into something else.
 */
void
respond_json(struct wconn *c)
{
	struct api_resp	*ar = &c->c_ar;
	char		 date[40], clen[48];
	int		 n;

	c->c_status = ar->ar_status;
	if (ar->ar_close)
		c->c_close = 1;
	http_date((time_t)ev_now(env->we_loop), date, sizeof(date));
	/* A 204 has no body and so no Content-Length (RFC 9110 8.6). */
	if (ar->ar_status == 204)
		clen[0] = '\0';
	else
		snprintf(clen, sizeof(clen), "Content-Length: %zu\r\n",
		    ar->ar_body_len);
	n = snprintf(c->c_hdr, sizeof(c->c_hdr), "HTTP/1.1 %d %s\r\n"
	    "Date: %s\r\n"
	    "Content-Type: application/json\r\n"
	    "%s"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "%s%s\r\n",
	    ar->ar_status, status_text(ar->ar_status), date, clen,
	    ar->ar_extra, c->c_close ? "Connection: close\r\n" : "");
	c->c_hdr_len = n > 0 && (size_t)n < sizeof(c->c_hdr) ? (size_t)n : 0;
	c->c_hdr_off = 0;
	free(c->c_out);
	c->c_out = NULL;
	c->c_out_len = c->c_out_off = 0;
	if (!c->c_head_only && ar->ar_status != 204) {
		c->c_out = ar->ar_body;
		c->c_out_len = ar->ar_body_len;
	} else
		free(ar->ar_body);
	ar->ar_body = NULL;
}

/*
 * The response to a run that is over: status 0 and the handler's output
 * (or the app's response), which we now own, or the status to answer. The
 * body is buffered, so the client gets our Content-Length and keep-alive
 * goes on.
 */
void
respond_cgi(struct wconn *c, int status, uint8_t *out, size_t len)
{
	static struct cgi_resp	 cs;
	char			 date[40], clen[48];
	size_t			 blen, sz;
	int			 n, nobody;

	if (status == 0 && c->c_app && cgi_app_resp_parse(out, len,
	    c->c_head_only, &cs) == -1) {
		log_warnx("conn %u: app %s: its response is not a valid "
		    "HTTP/1.x response", c->c_id, c->c_handler);
		status = 502;
	} else if (status == 0 && !c->c_app && cgi_resp_parse(out, len,
	    &cs) == -1) {
		log_warnx("conn %u: handler %s: its output is not a CGI "
		    "response", c->c_id, c->c_handler);
		status = 502;
	}
	if (status != 0) {
		free(out);
		respond_status(c, status, !c->c_head_only,
		    status == 503 ? "Retry-After: 1\r\n" : NULL);
		return;
	}
	blen = cs.cs_body_len;
	/* These have no body (RFC 9110 6.4.1); what came is dropped. */
	nobody = cs.cs_status == 204 || cs.cs_status == 304;
	if (nobody)
		clen[0] = '\0';
	else if (c->c_app && c->c_head_only) {
		/*
		 * An app answers HEAD without the body: its Content-Length,
		 * if any, is the one a GET would get (RFC 9110 9.3.2).
		 */
		if (cs.cs_has_clen)
			snprintf(clen, sizeof(clen), "Content-Length: %llu\r\n",
			    (unsigned long long)cs.cs_clen);
		else
			clen[0] = '\0';
	} else
		snprintf(clen, sizeof(clen), "Content-Length: %zu\r\n", blen);
	sz = cs.cs_head_len + CGI_REASON_MAX + 192;
	if ((c->c_head = malloc(sz)) == NULL) {
		log_warn("%s: conn %u", __func__, c->c_id);
		free(out);
		c->c_close = 1;
		respond_status(c, 503, !c->c_head_only, NULL);
		return;
	}
	http_date((time_t)ev_now(env->we_loop), date, sizeof(date));
	n = snprintf(c->c_head, sz, "HTTP/1.1 %d %s\r\nDate: %s\r\n%.*s%s%s"
	    "\r\n", cs.cs_status, cs.cs_reason[0] != '\0' ? cs.cs_reason :
	    status_text(cs.cs_status), date, (int)cs.cs_head_len, cs.cs_head,
	    clen, c->c_close ? "Connection: close\r\n" : "");
	c->c_head_len = n > 0 && (size_t)n < sz ? (size_t)n : 0;
	c->c_head_off = 0;
	c->c_hdr_len = c->c_hdr_off = 0;
	c->c_status = cs.cs_status;
	if (nobody || c->c_head_only || blen == 0)
		free(out);
	else {
		memmove(out, out + cs.cs_body_off, blen);
		c->c_out = (char *)out;
		c->c_out_len = blen;
		c->c_out_off = 0;
	}
}

/* Send buf from *off on: 1 when all is sent, 0 for POLLOUT, -1 on error. */
static int
conn_send(struct wconn *c, const char *buf, size_t len, size_t *off)
{
	ssize_t	 n;

	while (*off < len) {
		n = send(c->c_fd, buf + *off, len - *off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
		*off += (size_t)n;
	}
	return 1;
}

/* Returns 1 when everything is sent, 0 to wait for POLLOUT, -1 on error. */
int
respond_write(struct wconn *c)
{
	ssize_t	 n;
	off_t	 left;
	int	 r;

	if ((r = conn_send(c, c->c_hdr, c->c_hdr_len, &c->c_hdr_off)) != 1 ||
	    (r = conn_send(c, c->c_head, c->c_head_len, &c->c_head_off)) != 1 ||
	    (r = conn_send(c, c->c_out, c->c_out_len, &c->c_out_off)) != 1)
		return r;
	while (c->c_file != -1 && c->c_foff < c->c_fend) {
		left = c->c_fend - c->c_foff;
		n = sendfile(c->c_fd, c->c_file, &c->c_foff,
		    left > (1 << 20) ? (1 << 20) : (size_t)left);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return -1;	/* error, or the file shrank */
	}
	return 1;
}
