/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The JSON key-value API under /.tenantd/kv/ (docs/data-plane.md). http.c
 * owns the connection; this file turns one request into one response in
 * two steps: api_begin() checks everything the head says (route, method,
 * key, credential, body size) before a body byte is read, api_run() does
 * the work once the body is in and the credits are there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kvpath.h"
#include "log.h"
#include "worker.h"

/*
 * A list stops early (with "next" set) once its body passes this size, so
 * that limit=1000 of large values cannot make one response of gigabytes;
 * it always carries at least one item.
 */
#define API_LIST_BUDGET		(4U << 20)

struct api_req {
	unsigned int	 aq_method;	/* enum http_method */
	enum kv_route	 aq_route;
	char		*aq_key;	/* decoded, kv_max_key + 1 */
	size_t		 aq_key_len;
	struct kv_query	 aq_q;
};

/* A growing JSON body. */
struct jbuf {
	char		*jb_buf;
	size_t		 jb_len;
	size_t		 jb_cap;
	int		 jb_fail;
};

/* The state of one list walk (kv_row_cb). */
struct api_list {
	struct jbuf	*al_jb;
	unsigned int	 al_n;
	unsigned int	 al_limit;
	int		 al_more;
	int		 al_bad;
	char		*al_last;
	size_t		 al_last_len;
};

static int
jb_reserve(struct jbuf *jb, size_t len)
{
	size_t	 cap;
	char	*p;

	if (jb->jb_fail)
		return -1;
	if (len <= jb->jb_cap - jb->jb_len)
		return 0;
	cap = jb->jb_cap ? jb->jb_cap : 256;
	while (cap - jb->jb_len < len) {
		if (cap > SIZE_MAX / 2)
			goto fail;
		cap *= 2;
	}
	if ((p = realloc(jb->jb_buf, cap)) == NULL)
		goto fail;
	jb->jb_buf = p;
	jb->jb_cap = cap;
	return 0;
 fail:
	jb->jb_fail = 1;
	return -1;
}

static void
jb_add(struct jbuf *jb, const char *s, size_t len)
{
	if (jb_reserve(jb, len) == -1)
		return;
	memcpy(jb->jb_buf + jb->jb_len, s, len);
	jb->jb_len += len;
}

static void
jb_lit(struct jbuf *jb, const char *s)
{
	jb_add(jb, s, strlen(s));
}

/* s as a JSON string; s is valid UTF-8 (kv_key_valid or our literals). */
static void
jb_str(struct jbuf *jb, const char *s, size_t len)
{
	size_t	 need = kv_json_str_len(s, len);

	if (jb_reserve(jb, need) == -1)
		return;
	jb->jb_len += kv_json_str(jb->jb_buf + jb->jb_len, need, s, len);
}

static void
api_resp_set(struct api_resp *ar, int status, struct jbuf *jb)
{
	free(ar->ar_body);
	ar->ar_status = status;
	ar->ar_body = jb->jb_buf;
	ar->ar_body_len = jb->jb_len;
	jb->jb_buf = NULL;
}

/* {"error":code,"message":text}; both are our own literals. */
void
api_error(struct api_resp *ar, int status, const char *code, const char *text)
{
	struct jbuf	 jb;

	memset(&jb, 0, sizeof(jb));
	jb_lit(&jb, "{\"error\":");
	jb_str(&jb, code, strlen(code));
	jb_lit(&jb, ",\"message\":");
	jb_str(&jb, text, strlen(text));
	jb_lit(&jb, "}");
	if (jb.jb_fail) {
		free(jb.jb_buf);
		memset(&jb, 0, sizeof(jb));
		ar->ar_close = 1;
	}
	api_resp_set(ar, status, &jb);
}

void
api_free(struct api_req *aq)
{
	if (aq == NULL)
		return;
	free(aq->aq_key);
	free(aq->aq_q.kq_prefix);
	free(aq->aq_q.kq_after);
	free(aq);
}

static enum api_step
api_fail(struct api_resp *ar, int status, const char *code, const char *text)
{
	api_error(ar, status, code, text);
	return API_RESPOND;
}

static int
api_is_write(unsigned int method)
{
	return method == HTTP_PUT || method == HTTP_DELETE;
}

/* The Bearer credential, if the request needs one. -1: answer 401. */
static int
api_authorized(const struct http_head *h, const uint8_t *buf,
    unsigned int method)
{
	const char	*v = (const char *)buf + h->hh_auth.off;
	size_t		 off, len;

	if (!api_is_write(method) && env->we_tl[TL_KV_PUBLIC_READS] == 1)
		return 0;
	if (h->hh_auth.len == 0 ||
	    kv_bearer(v, h->hh_auth.len, &off, &len) == -1)
		return -1;
	return data_auth(v + off, len);
}

/*
 * Everything the head decides, in an order that reveals nothing to a
 * client without a credential beyond the route: the limits on keys and
 * bodies are checked after the token.
 */
enum api_step
api_begin(struct api_req **aqp, const struct http_head *h, const uint8_t *buf,
    const char *target, const struct kv_target *kt, struct api_resp *ar)
{
	struct api_req	*aq;
	size_t		 max = env->we_tl[TL_KV_MAX_KEY];
	int		 r;

	*aqp = NULL;
	switch (kt->kt_route) {
	case KV_ROUTE_UNKNOWN:
		return api_fail(ar, 404, "not_found", "no such endpoint");
	case KV_ROUTE_BAD:
		return api_fail(ar, 400, "bad_request",
		    "a query string is only for the list");
	case KV_ROUTE_ITEM:
		if (h->hh_method != HTTP_GET && h->hh_method != HTTP_HEAD &&
		    !api_is_write(h->hh_method)) {
			snprintf(ar->ar_extra, sizeof(ar->ar_extra),
			    "Allow: GET, HEAD, PUT, DELETE\r\n");
			return api_fail(ar, 405, "method_not_allowed",
			    "use GET, HEAD, PUT or DELETE");
		}
		break;
	case KV_ROUTE_LIST:
		if (h->hh_method != HTTP_GET && h->hh_method != HTTP_HEAD) {
			snprintf(ar->ar_extra, sizeof(ar->ar_extra),
			    "Allow: GET, HEAD\r\n");
			return api_fail(ar, 405, "method_not_allowed",
			    "use GET or HEAD");
		}
		break;
	default:
		fatalx("%s: route %d", __func__, kt->kt_route);
	}
	if (h->hh_chunked && h->hh_method != HTTP_PUT) {
		/* No reader here decodes a chunked body it does not want. */
		ar->ar_close = 1;
		return api_fail(ar, 400, "bad_request",
		    "a chunked body is not accepted here");
	}
	if (api_authorized(h, buf, h->hh_method) == -1) {
		snprintf(ar->ar_extra, sizeof(ar->ar_extra),
		    "WWW-Authenticate: Bearer realm=\"tenantd\"\r\n");
		return api_fail(ar, 401, "unauthorized",
		    "a valid bearer token is required");
	}

	if ((aq = calloc(1, sizeof(*aq))) == NULL)
		return api_fail(ar, 503, "unavailable", "out of memory");
	aq->aq_method = h->hh_method;
	aq->aq_route = kt->kt_route;
	if (kt->kt_route == KV_ROUTE_ITEM) {
		if ((aq->aq_key = malloc(max + 1)) == NULL)
			goto nomem;
		r = kv_unescape(target + kt->kt_key_off, kt->kt_key_len,
		    aq->aq_key, max, &aq->aq_key_len);
		if (r == -1) {
			api_free(aq);
			return api_fail(ar, 400, "bad_key",
			    "bad percent-escape in the key");
		}
		if (r == -2 || kv_key_valid(aq->aq_key, aq->aq_key_len,
		    max) == -1) {
			api_free(aq);
			return api_fail(ar, 400, "bad_key", r == -2 ?
			    "the key is too long" : "the key must be UTF-8 "
			    "text without control characters");
		}
		aq->aq_key[aq->aq_key_len] = '\0';
	} else {
		if ((aq->aq_q.kq_prefix = malloc(max + 1)) == NULL ||
		    (aq->aq_q.kq_after = malloc(max + 1)) == NULL)
			goto nomem;
		if (kv_query_parse(target + kt->kt_query_off,
		    kt->kt_has_query ? kt->kt_query_len : 0, max,
		    &aq->aq_q) == -1) {
			api_free(aq);
			return api_fail(ar, 400, "bad_request", "the query "
			    "takes prefix, after (keys) and limit (1-1000)");
		}
	}
	*aqp = aq;
	if (h->hh_method != HTTP_PUT)
		return API_RUN;
	if (h->hh_chunked || !h->hh_has_clen) {
		ar->ar_close = h->hh_chunked;
		return api_fail(ar, 411, "length_required",
		    "a PUT needs a Content-Length body");
	}
	if (h->hh_clen > env->we_tl[TL_KV_MAX_VALUE]) {
		/* Not a byte of it is read: the connection ends here. */
		ar->ar_close = 1;
		return api_fail(ar, 413, "too_large",
		    "the value is larger than kv_max_value");
	}
	return API_BODY;
 nomem:
	api_free(aq);
	return api_fail(ar, 503, "unavailable", "out of memory");
}

static enum api_step
api_kv_fail(struct api_resp *ar, enum kv_status st)
{
	switch (st) {
	case KV_TIMEOUT:
		return api_fail(ar, 504, "timeout",
		    "the statement ran past statement_timeout");
	case KV_FULL:
		return api_fail(ar, 507, "storage_quota",
		    "the tenant's storage quota is used up");
	case KV_ENTRIES:
		return api_fail(ar, 507, "entry_quota",
		    "the store holds kv_max_entries keys already");
	case KV_NOTFOUND:
		return api_fail(ar, 404, "not_found", "no such key");
	default:
		snprintf(ar->ar_extra, sizeof(ar->ar_extra),
		    "Retry-After: 1\r\n");
		return api_fail(ar, 503, "unavailable",
		    "the store is unavailable");
	}
}

/*
 * A stored value is JSON we validated, unless someone changed the file
 * behind our back; then it is not sent as if it were.
 */
static int
api_json_ok(const char *v, size_t len)
{
	json_t		*j;
	json_error_t	 e;

	if ((j = json_loadb(v, len, JSON_DECODE_ANY, &e)) == NULL)
		return 0;
	json_decref(j);
	return 1;
}

static int
api_list_row(void *arg, const char *k, size_t kn, const char *v, size_t vn)
{
	struct api_list	*al = arg;
	char		*p;

	if (al->al_n == al->al_limit || (al->al_n > 0 &&
	    al->al_jb->jb_len + kn + vn > API_LIST_BUDGET)) {
		al->al_more = 1;
		return 1;
	}
	if (kv_key_valid(k, kn, kn) == -1 || !api_json_ok(v, vn)) {
		al->al_bad = 1;
		return 1;
	}
	if ((p = realloc(al->al_last, kn + 1)) == NULL) {
		al->al_jb->jb_fail = 1;
		return 1;
	}
	memcpy(p, k, kn);
	al->al_last = p;
	al->al_last_len = kn;
	jb_lit(al->al_jb, al->al_n++ ? ",{\"key\":" : "{\"key\":");
	jb_str(al->al_jb, k, kn);
	jb_lit(al->al_jb, ",\"value\":");
	jb_add(al->al_jb, v, vn);
	jb_lit(al->al_jb, "}");
	return al->al_jb->jb_fail;
}

static enum api_step
api_list(struct api_req *aq, struct api_resp *ar)
{
	struct jbuf	 jb;
	struct api_list	 al;
	enum kv_status	 st;

	memset(&jb, 0, sizeof(jb));
	memset(&al, 0, sizeof(al));
	al.al_jb = &jb;
	al.al_limit = aq->aq_q.kq_limit;
	jb_lit(&jb, "{\"items\":[");
	/* One row more than asked for tells whether there is a next page. */
	st = kv_list(aq->aq_q.kq_prefix, aq->aq_q.kq_prefix_len,
	    aq->aq_q.kq_after, aq->aq_q.kq_after_len, al.al_limit + 1,
	    api_list_row, &al);
	if (st == KV_OK && al.al_bad) {
		log_warnx("%s: a stored key or value is not valid", __func__);
		st = KV_UNAVAILABLE;
	}
	if (st != KV_OK) {
		free(jb.jb_buf);
		free(al.al_last);
		return api_kv_fail(ar, st);
	}
	jb_lit(&jb, "],\"next\":");
	if (al.al_more)
		jb_str(&jb, al.al_last, al.al_last_len);
	else
		jb_lit(&jb, "null");
	jb_lit(&jb, "}");
	free(al.al_last);
	if (jb.jb_fail) {
		free(jb.jb_buf);
		return api_fail(ar, 503, "unavailable", "out of memory");
	}
	api_resp_set(ar, 200, &jb);
	return API_RESPOND;
}

static enum api_step
api_get(struct api_req *aq, struct api_resp *ar)
{
	struct jbuf	 jb;
	enum kv_status	 st;
	char		*v = NULL;
	size_t		 vn = 0;

	if ((st = kv_get(aq->aq_key, aq->aq_key_len, &v, &vn)) != KV_OK)
		return api_kv_fail(ar, st);
	if (!api_json_ok(v, vn)) {
		free(v);
		log_warnx("%s: a stored value is not JSON", __func__);
		return api_kv_fail(ar, KV_UNAVAILABLE);
	}
	memset(&jb, 0, sizeof(jb));
	jb_lit(&jb, "{\"key\":");
	jb_str(&jb, aq->aq_key, aq->aq_key_len);
	jb_lit(&jb, ",\"value\":");
	jb_add(&jb, v, vn);
	jb_lit(&jb, "}");
	free(v);
	if (jb.jb_fail) {
		free(jb.jb_buf);
		return api_fail(ar, 503, "unavailable", "out of memory");
	}
	api_resp_set(ar, 200, &jb);
	return API_RESPOND;
}

static int
api_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/*
 * The body must be one JSON value (jansson: UTF-8 checked, nesting
 * bounded, nothing after it). It is stored as sent, less the blanks
 * around it, so numbers keep their spelling.
 */
static enum api_step
api_put(struct api_req *aq, const char *body, size_t len,
    struct api_resp *ar)
{
	struct jbuf	 jb;
	enum kv_status	 st;

	while (len > 0 && api_ws(body[0])) {
		body++;
		len--;
	}
	while (len > 0 && api_ws(body[len - 1]))
		len--;
	if ((st = kv_put(aq->aq_key, aq->aq_key_len, body, len)) != KV_OK &&
	    st != KV_CREATED)
		return api_kv_fail(ar, st);
	memset(&jb, 0, sizeof(jb));
	jb_lit(&jb, "{\"key\":");
	jb_str(&jb, aq->aq_key, aq->aq_key_len);
	jb_lit(&jb, st == KV_CREATED ? ",\"created\":true}" :
	    ",\"created\":false}");
	if (jb.jb_fail) {
		free(jb.jb_buf);
		return api_fail(ar, 503, "unavailable", "out of memory");
	}
	api_resp_set(ar, st == KV_CREATED ? 201 : 200, &jb);
	return API_RESPOND;
}

/*
 * Run the request. The cost is charged only for a 2xx; before running we
 * make sure the hold could pay it, or park (CTL_CREDIT resumes us), or
 * answer 402 when the supervisor said the balance is dry.
 */
enum api_step
api_run(struct api_req *aq, const uint8_t *body, size_t len,
    struct api_resp *ar)
{
	struct jbuf	 jb;
	enum kv_status	 st;
	enum api_step	 step;
	uint64_t	 cost;

	if (aq->aq_method == HTTP_PUT && !api_json_ok((const char *)body,
	    len))
		return api_fail(ar, 400, "bad_json",
		    "the body must be one JSON value");
	cost = env->we_tl[api_is_write(aq->aq_method) ? TL_COST_WRITE :
	    TL_COST_READ];
	switch (data_credit_check(cost)) {
	case CREDIT_OK:
		break;
	case CREDIT_PARK:
		return API_PARK;
	case CREDIT_DRY:
		return api_fail(ar, 402, "payment_required",
		    "the tenant's credit balance is used up");
	}

	if (aq->aq_route == KV_ROUTE_LIST)
		step = api_list(aq, ar);
	else if (aq->aq_method == HTTP_PUT)
		step = api_put(aq, (const char *)body, len, ar);
	else if (aq->aq_method == HTTP_DELETE) {
		if ((st = kv_del(aq->aq_key, aq->aq_key_len)) != KV_OK)
			step = api_kv_fail(ar, st);
		else {
			memset(&jb, 0, sizeof(jb));
			api_resp_set(ar, 204, &jb);
			step = API_RESPOND;
		}
	} else
		step = api_get(aq, ar);
	if (ar->ar_status >= 200 && ar->ar_status < 300)
		data_credit_spend(cost);
	return step;
}
