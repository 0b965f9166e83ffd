/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * What each request gets, once its head is complete. Every request is
 * admitted by the same function the supervisor's front used
 * (common/admit.c): a head it refuses is answered here, and a request for
 * any other host is never served here: the connection goes back to the
 * supervisor with the unread bytes, starting at that request
 * (docs/routing.md). Then the rate bucket, and the KV API (api.c), a
 * handler (cgi.c) with its credits, or a file under public/ (static.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admit.h"
#include "log.h"
#include "worker.h"

/* Parse an IMF-fixdate; anything else is "no date" (RFC 9110 13.1.3). */
static int
http_date_parse(const char *s, size_t len, time_t *out)
{
	static const char mons[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct tm	 tm;
	const char	*m;
	char		 buf[32];
	int		 i;

	if (len != 29)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (buf[3] != ',' || buf[4] != ' ' || buf[7] != ' ' ||
	    buf[11] != ' ' || buf[16] != ' ' || buf[19] != ':' ||
	    buf[22] != ':' || strcmp(buf + 25, " GMT") != 0)
		return -1;
	for (i = 0; i < 29; i++)
		if ((i == 5 || i == 6 || (i >= 12 && i <= 15) || i == 17 ||
		    i == 18 || i == 20 || i == 21 || i == 23 || i == 24) &&
		    (buf[i] < '0' || buf[i] > '9'))
			return -1;
	buf[11] = '\0';
	if ((m = strstr(mons, buf + 8)) == NULL || (m - mons) % 3 != 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_mday = atoi(buf + 5);
	tm.tm_mon = (int)((m - mons) / 3);
	tm.tm_year = atoi(buf + 12) - 1900;
	tm.tm_hour = atoi(buf + 17);
	tm.tm_min = atoi(buf + 20);
	tm.tm_sec = atoi(buf + 23);
	*out = timegm(&tm);
	return 0;
}

/* Weak comparison against an If-None-Match list (RFC 9110 13.1.2). */
static int
etag_match(const char *list, size_t len, const char *etag)
{
	size_t	 i = 0, start, end, el = strlen(etag);

	while (i < len) {
		while (i < len && (list[i] == ' ' || list[i] == '\t' ||
		    list[i] == ','))
			i++;
		start = i;
		while (i < len && list[i] != ',')
			i++;
		end = i;
		while (end > start && (list[end - 1] == ' ' ||
		    list[end - 1] == '\t'))
			end--;
		if (end - start == 1 && list[start] == '*')
			return 1;
		if (end - start > 2 && list[start] == 'W' &&
		    list[start + 1] == '/')
			start += 2;
		if (end - start == el && memcmp(list + start, etag, el) == 0)
			return 1;
	}
	return 0;
}

/*
 * A request under /.tenantd/. Returns 0 with a response ready, or 1 to
 * read its body (if any) and then run it (C_RUN).
 */
static int
conn_api(struct wconn *c, const struct hh_span *path,
    const struct kv_target *kt)
{
	struct http_head	*h = &c->c_hp.hp_head;
	enum api_step		 step;

	step = api_begin(&c->c_api, h, c->c_buf,
	    (const char *)c->c_buf + path->off, kt, &c->c_ar);
	if (step == API_RUN && h->hh_clen > BODY_DISCARD_MAX) {
		api_free(c->c_api);
		c->c_api = NULL;
		c->c_ar.ar_close = 1;
		api_error(&c->c_ar, 413, "too_large",
		    "this request takes no body");
		step = API_RESPOND;
	}
	switch (step) {
	case API_BODY:
		if (h->hh_clen > 0 && (c->c_in = malloc(h->hh_clen)) == NULL) {
			log_warn("%s: conn %u", __func__, c->c_id);
			api_free(c->c_api);
			c->c_api = NULL;
			c->c_ar.ar_close = 1;
			api_error(&c->c_ar, 503, "unavailable",
			    "out of memory");
			break;
		}
		return 1;
	case API_RUN:
		return 1;
	default:
		break;
	}
	/* An error before a body we cannot skip ends the connection. */
	if (h->hh_chunked || h->hh_clen > BODY_DISCARD_MAX)
		c->c_ar.ar_close = 1;
	respond_json(c);
	return 0;
}

static int
host_is_mine(const struct host_result *hr)
{
	if (hr->hr_class == HOST_SUBDOMAIN)
		return hr->hr_label_len == strlen(env->we_slug) &&
		    memcmp(hr->hr_name, env->we_slug, hr->hr_label_len) == 0;
	if (hr->hr_class == HOST_CUSTOM)
		return hostlist_has(&env->we_names, hr->hr_name);
	return 0;
}

/*
 * A request app/routes gives to a handler. Returns 0 with a response
 * ready, or 2 to read its body and then ask for the run (C_CGI). The
 * environment is built now, while the head is still in c_buf; for a
 * persistent app, the request head it is sent, at the start of c_in, where
 * the body follows it.
 */
static int
conn_cgi(struct wconn *c, const struct hh_span *path,
    const struct cgi_route *rt, const struct host_result *hr)
{
	struct http_head	*h = &c->c_hp.hp_head;
	struct cgi_req		 cq;
	const char		*extra = NULL;
	size_t			 hsz;
	int			 status;

	c->c_app = rt->cr_persistent;
	if (h->hh_chunked) {
		/* A handler is told CONTENT_LENGTH; we decode no chunks. */
		c->c_close = 1;
		respond_status(c, 411, !c->c_head_only, NULL);
		return 0;
	}
	if (h->hh_clen > CGI_BODY_MAX) {
		c->c_close = 1;
		respond_status(c, 413, !c->c_head_only, NULL);
		return 0;
	}
	status = 503;
	if (!cgi_slot_free()) {
		extra = "Retry-After: 1\r\n";
		goto refuse;
	}
	memset(&cq, 0, sizeof(cq));
	cq.cq_head = c->c_buf;
	cq.cq_head_len = h->hh_len;
	cq.cq_method = http_method_str(h->hh_method);
	cq.cq_minor = h->hh_minor;
	cq.cq_server_name = hr->hr_name;
	cq.cq_port = hr->hr_port;
	cq.cq_target = (const char *)c->c_buf + h->hh_target.off;
	cq.cq_target_len = h->hh_target.len;
	cq.cq_path = (const char *)c->c_buf + path->off;
	cq.cq_path_len = path->len;
	cq.cq_remote = (const char *)c->c_buf + h->hh_xff.off;
	cq.cq_remote_len = h->hh_xff.len;
	cq.cq_slug = env->we_slug;
	cq.cq_has_body = h->hh_has_clen;
	cq.cq_clen = h->hh_clen;
	snprintf(c->c_handler, sizeof(c->c_handler), "%s", rt->cr_handler);
	if (c->c_app) {
		/* hh_clen <= CGI_BODY_MAX: the sum cannot wrap. */
		hsz = CGI_APP_HEAD_SIZE(h->hh_len);
		if ((c->c_in = malloc(hsz + h->hh_clen)) == NULL) {
			log_warn("%s: conn %u", __func__, c->c_id);
			goto refuse;
		}
		if ((status = cgi_app_request(&cq, c->c_in, hsz,
		    &c->c_in_len)) != 0) {
			if (status == 500)
				log_warnx("%s: conn %u: app request head does "
				    "not fit", __func__, c->c_id);
			goto refuse;
		}
		return 2;
	}
	if ((c->c_env = malloc(sizeof(*c->c_env))) == NULL) {
		log_warn("%s: conn %u", __func__, c->c_id);
		goto refuse;
	}
	if ((status = cgi_env_build(&cq, rt, c->c_env)) != 0)
		goto refuse;
	if (h->hh_clen > 0 && (c->c_in = malloc(h->hh_clen)) == NULL) {
		log_warn("%s: conn %u", __func__, c->c_id);
		status = 503;
		goto refuse;
	}
	return 2;
 refuse:
	free(c->c_env);
	c->c_env = NULL;
	/* Nothing of a refused request is kept, not even its body. */
	if (c->c_in != NULL)
		explicit_bzero(c->c_in, c->c_in_len);
	free(c->c_in);
	c->c_in = NULL;
	c->c_in_len = 0;
	/* A body we will not read either is skipped, if small. */
	if (h->hh_clen > BODY_DISCARD_MAX)
		c->c_close = 1;
	respond_status(c, status, !c->c_head_only, extra);
	return 0;
}

/* A request to tenant code that will not run: its body and environment. */
void
request_cgi_forget(struct wconn *c)
{
	free(c->c_in);
	c->c_in = NULL;
	c->c_in_len = 0;
	free(c->c_env);
	c->c_env = NULL;
}

/*
 * A request to tenant code costs cost_run credits, taken from the hold
 * when its run is asked for: the tenant pays for the process it gets,
 * whatever it answers. 1: paid (or free); 0: park until the supervisor
 * answers for credits; -1: the balance is used up, 402 is set.
 */
int
request_cgi_pay(struct wconn *c)
{
	switch (data_credit_check(env->we_tl[TL_COST_RUN])) {
	case CREDIT_OK:
		return 1;
	case CREDIT_PARK:
		return 0;
	case CREDIT_DRY:
		break;
	}
	request_cgi_forget(c);
	respond_status(c, 402, !c->c_head_only, NULL);
	return -1;
}

/* The body is in: ask for the run. 0: parked until http_cgi_done(). */
int
request_cgi_start(struct wconn *c)
{
	int	 status;

	c->c_run = cgi_start(c, c->c_handler, c->c_env, c->c_app, c->c_in,
	    c->c_in_len, &status);
	c->c_in = NULL;		/* the run's now, or freed */
	c->c_in_len = 0;
	free(c->c_env);
	c->c_env = NULL;
	if (c->c_run != NULL) {
		/* Checked just before, in this same turn of the loop. */
		data_credit_spend(env->we_tl[TL_COST_RUN]);
		return 0;
	}
	respond_status(c, status, !c->c_head_only,
	    status == 503 ? "Retry-After: 1\r\n" : NULL);
	return -1;
}

/*
 * A complete head is in c_buf. Decide whether it is ours before anything
 * else; then build the response. Returns -1 when the connection is gone.
 */
int
request_dispatch(struct wconn *c)
{
	struct http_head	*h = &c->c_hp.hp_head;
	struct admit		 ad;
	const struct host_result *hr;
	struct hh_span		 path;
	struct static_file	 sf;
	struct kv_target	 kt;
	const struct cgi_route	*rt;
	uint64_t		 retry;
	char			 rel[1024], extra[1200];
	const char		*t;
	time_t			 ims;
	size_t			 o;
	int			 n, status, head_only;

	/*
	 * A change to our tenant since our host list was sent (its slot in
	 * the generation file moved: docs/routing.md): we may no longer be
	 * this host's worker, so the supervisor decides afresh.
	 */
	if (gen_read(&env->we_genmap) != env->we_gen) {
		http_handback(c, HANDBACK_STALE);
		return -1;
	}
	/* Retiring: the next worker serves it, nothing is dropped. */
	if (env->we_draining == DRAIN_HANDBACK) {
		http_handback(c, HANDBACK_DRAINING);
		return -1;
	}
	/* Stopping: this request is served, and it is the last one. */
	c->c_close = !h->hh_keepalive || h->hh_minor == 0 ||
	    env->we_draining == DRAIN_CLOSE;
	head_only = c->c_head_only = h->hh_method == HTTP_HEAD;
	/*
	 * The front admitted the first request with the same function
	 * (supervisor/front.c, front_route()). A head it would refuse is
	 * answered here with its status, not handed back: those bytes go
	 * no further than the process that read them.
	 */
	switch (admit_request(&env->we_hosts, h, c->c_buf, &ad)) {
	case ADMIT_REJECT:
		log_debug("conn %u: %d: %s", c->c_id, ad.ad_status,
		    ad.ad_reason);
		c->c_close = 1;
		respond_status(c, ad.ad_status, !head_only, NULL);
		return 0;
	case ADMIT_SUBDOMAIN:
	case ADMIT_CUSTOM:
		if (host_is_mine(&ad.ad_host))
			break;
		/* FALLTHROUGH */
	case ADMIT_APEX:
	case ADMIT_ADMIN:
		/* Another tenant's, or a name only the front answers. */
		http_handback(c, HANDBACK_FOREIGN_HOST);
		return -1;
	}
	hr = &ad.ad_host;
	/* The max_requests-th request is served; then we retire. */
	if (env->we_max_requests != 0 && !env->we_draining &&
	    ++env->we_served >= env->we_max_requests)
		http_retire();

	respond_log_request(c, hr);

	/*
	 * Every request we serve, static or API, takes a token from the
	 * tenant's bucket (this worker's share). A refused one leaves the
	 * connection usable if its body can be skipped.
	 */
	if (data_rate_take(&retry) == -1) {
		snprintf(c->c_ar.ar_extra, sizeof(c->c_ar.ar_extra),
		    "Retry-After: %llu\r\n", (unsigned long long)retry);
		api_error(&c->c_ar, 429, "rate_limited",
		    "too many requests; retry after the given seconds");
		if (h->hh_chunked || h->hh_clen > BODY_DISCARD_MAX)
			c->c_ar.ar_close = 1;
		respond_json(c);
		return 0;
	}
	/* /.tenantd/ is never a static file, whatever public/ holds. */
	if (hh_origin(h, c->c_buf, &path) == 0) {
		kv_target_parse((const char *)c->c_buf + path.off, path.len,
		    &kt);
		if (kt.kt_route != KV_ROUTE_NONE)
			return conn_api(c, &path, &kt);
		/* Nor is a path app/routes gives to a handler. */
		if (path.len > 0 && (rt = cgi_lookup((const char *)c->c_buf +
		    path.off, path.len)) != NULL)
			return conn_cgi(c, &path, rt, hr);
	}

	if (h->hh_chunked) {
		/* No handler here takes a body; we do not decode one. */
		c->c_close = 1;
		respond_status(c, 400, !head_only, NULL);
		return 0;
	}
	if (h->hh_clen > BODY_DISCARD_MAX) {
		c->c_close = 1;
		respond_status(c, 413, !head_only, NULL);
		return 0;
	}
	if (h->hh_method != HTTP_GET && !head_only) {
		c->c_close = 1;
		respond_status(c, 405, 1, "Allow: GET, HEAD\r\n");
		return 0;
	}
	if (hh_origin(h, c->c_buf, &path) == -1) {
		c->c_close = 1;
		respond_status(c, 400, !head_only, NULL);
		return 0;
	}
	t = path.len ? (const char *)c->c_buf + path.off : "/";
	status = static_resolve(env->we_public_fd, t, path.len ? path.len : 1,
	    &sf, rel, sizeof(rel));
	switch (status) {
	case 200:
		break;
	case 301:
		/*
		 * The target passed static_resolve(), so it is printable
		 * ASCII without spaces. Leading slashes collapse to one:
		 * "//host/" in a Location is another site.
		 */
		while (path.len > 1 && t[1] == '/') {
			t++;
			path.len--;
		}
		o = 0;
		while (o < path.len && t[o] != '?')
			o++;
		n = snprintf(extra, sizeof(extra), "Location: %.*s/%.*s\r\n",
		    (int)o, t, (int)(path.len - o), t + o);
		if (n < 0 || (size_t)n >= sizeof(extra))
			status = 404;
		respond_status(c, status, !head_only,
		    status == 301 ? extra : NULL);
		return 0;
	case 400:
		c->c_close = 1;
		/* FALLTHROUGH */
	default:
		respond_status(c, status, !head_only, NULL);
		return 0;
	}

	if (h->hh_inm.len > 0)
		status = etag_match((const char *)c->c_buf + h->hh_inm.off,
		    h->hh_inm.len, sf.sf_etag) ? 304 : 200;
	else if (h->hh_ims.len > 0 && http_date_parse((const char *)c->c_buf +
	    h->hh_ims.off, h->hh_ims.len, &ims) == 0 &&
	    sf.sf_st.st_mtim.tv_sec <= ims)
		status = 304;
	respond_file(c, &sf, status);
	return 0;
}
