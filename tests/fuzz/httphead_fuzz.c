/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Request-head reader fuzz target (docs/security.md, items 60-71): the first
 * input byte picks a split point, the rest is the request. It is fed at once
 * and in two reads (each into its own exactly sized allocation, as a growing
 * buffer), and the two must agree; a complete head's spans must lie inside
 * it and obey the rules hh_feed() promises its callers, and its admission
 * verdict (admit_request()) the rules the front and the worker rely on.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admit.h"
#include "host.h"
#include "httphead.h"

/* The smallest limits tenantd.conf allows, so the fuzzer reaches them. */
#define HEAD_MAX	1024
#define TARGET_MAX	256

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define REQUIRE(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "httphead_fuzz: %s:%d: %s\n", __FILE__,	\
		    __LINE__, #c);					\
		abort();						\
	}								\
} while (0)

static int
feed(struct hh_parser *hp, const uint8_t *req, size_t len)
{
	uint8_t	*buf;
	int	 r;

	/* A fresh copy each time: spans must be offsets, not pointers. */
	if ((buf = malloc(len == 0 ? 1 : len)) == NULL)
		abort();
	memcpy(buf, req, len);
	r = hh_feed(hp, buf, len);
	free(buf);
	return r;
}

static void
span_inside(struct hh_span s, size_t end)
{
	REQUIRE(s.off <= end && s.len <= end - s.off);
}

static int
span_eq(struct hh_span a, struct hh_span b)
{
	return a.off == b.off && a.len == b.len;
}

/*
 * The admission verdict both the front and the worker act on: what it
 * promises them, whatever the head (common/admit.h).
 */
static void
check_admit(const struct host_conf *hc, const struct http_head *h,
    const uint8_t *req)
{
	static const struct host_result	 zero;
	struct host_result		 again, ar;
	struct admit			 ad, ad2;
	struct hh_span			 s;
	enum admit_verdict		 v;
	int				 rc;

	v = admit_request(hc, h, req, &ad);
	REQUIRE(v == ad.ad_verdict && ad.ad_reason != NULL);
	/* Pure: the same head, the same verdict. */
	REQUIRE(admit_request(hc, h, req, &ad2) == v &&
	    ad2.ad_status == ad.ad_status &&
	    memcmp(&ad2.ad_host, &ad.ad_host, sizeof(ad.ad_host)) == 0);
	if (h->hh_nhost != 1)
		REQUIRE(v == ADMIT_REJECT && ad.ad_status == 400);
	switch (v) {
	case ADMIT_REJECT:
		REQUIRE(ad.ad_status == 400 || ad.ad_status == 404);
		/* Nothing of a refused name may be left to compare. */
		REQUIRE(memcmp(&ad.ad_host, &zero, sizeof(zero)) == 0);
		return;
	case ADMIT_SUBDOMAIN:
		REQUIRE(ad.ad_status == 0 &&
		    ad.ad_host.hr_class == HOST_SUBDOMAIN &&
		    ad.ad_host.hr_label_len > 0);
		break;
	case ADMIT_CUSTOM:
		REQUIRE(ad.ad_status == 0 && ad.ad_host.hr_class == HOST_CUSTOM);
		break;
	case ADMIT_APEX:
		REQUIRE(ad.ad_status == 404 && ad.ad_host.hr_class == HOST_APEX);
		break;
	case ADMIT_ADMIN:
		REQUIRE(ad.ad_status == 421 &&
		    ad.ad_host.hr_class == HOST_ADMIN);
		break;
	default:
		REQUIRE(!"admit_request: unknown verdict");
	}
	/* Admitted: a canonical name, and the target names the same host. */
	REQUIRE(ad.ad_host.hr_name_len == strlen(ad.ad_host.hr_name));
	REQUIRE(host_classify(hc, ad.ad_host.hr_name, ad.ad_host.hr_name_len,
	    &again) == ad.ad_host.hr_class);
	REQUIRE(strcmp(again.hr_name, ad.ad_host.hr_name) == 0);
	rc = hh_authority(h, req, &s);
	REQUIRE(rc != -1);
	if (rc == 1) {
		REQUIRE(host_classify(hc, (const char *)req + s.off, s.len,
		    &ar) != HOST_INVALID);
		REQUIRE(strcmp(ar.hr_name, ad.ad_host.hr_name) == 0);
	}
}

static void
check_done(const struct http_head *h, const uint8_t *req, size_t len)
{
	static struct host_conf	 hc;
	static int		 ready;
	struct host_result	 hr;
	struct hh_span		 s;
	const uint8_t		*eol;
	size_t			 i;
	int			 rc;

	/* The head, its final CRLF included, is inside what was given. */
	REQUIRE(h->hh_len >= 4 && h->hh_len <= len && h->hh_len <= HEAD_MAX);
	REQUIRE(memcmp(req + h->hh_len - 4, "\r\n\r\n", 4) == 0);
	span_inside(h->hh_target, h->hh_len);
	span_inside(h->hh_host, h->hh_len);
	span_inside(h->hh_inm, h->hh_len);
	span_inside(h->hh_ims, h->hh_len);
	REQUIRE(h->hh_target.len > 0 && h->hh_target.len <= TARGET_MAX);
	REQUIRE(memchr(req + h->hh_target.off, '#', h->hh_target.len) ==
	    NULL);
	/*
	 * Lines end in CR LF: no bare LF, no bare CR (docs/security.md,
	 * item 65).
	 */
	for (i = 0; i < h->hh_len; i++) {
		if (req[i] == '\n')
			REQUIRE(i > 0 && req[i - 1] == '\r');
		if (req[i] == '\r')
			REQUIRE(i + 1 < h->hh_len && req[i + 1] == '\n');
	}
	/* "method SP target SP HTTP/1.x CR LF", the target visible ASCII. */
	eol = memchr(req, '\n', h->hh_len);
	REQUIRE(eol != NULL && eol - req >= 12);
	REQUIRE(memcmp(eol - 10, " HTTP/1.", 8) == 0);
	REQUIRE(eol[-2] == (uint8_t)('0' + h->hh_minor));
	for (i = 0; i < h->hh_target.len; i++)
		REQUIRE(req[h->hh_target.off + i] > 0x20 &&
		    req[h->hh_target.off + i] < 0x7f);

	/* The framing rules routing depends on. */
	REQUIRE(h->hh_major == 1 && h->hh_minor <= 1);
	REQUIRE(h->hh_method != HTTP_CONNECT);
	REQUIRE(h->hh_nhost <= 1 && h->hh_nte <= 1);
	REQUIRE(h->hh_nheaders <= HH_MAX_HEADERS);
	REQUIRE(!(h->hh_chunked && h->hh_has_clen));
	REQUIRE(!(h->hh_nte && h->hh_has_clen));
	REQUIRE(!(h->hh_nte && h->hh_minor == 0));
	REQUIRE(h->hh_chunked == (h->hh_nte == 1));
	REQUIRE(h->hh_error_status == 0);

	/* What the supervisor and the worker do next must stay in bounds. */
	if (!ready) {
		REQUIRE(host_conf_init(&hc, "test.localhost",
		    "admin.test.localhost") == 0);
		ready = 1;
	}
	host_classify(&hc, (const char *)req + h->hh_host.off, h->hh_host.len,
	    &hr);
	rc = hh_authority(h, req, &s);
	REQUIRE(rc >= -1 && rc <= 1);
	if (rc == 1) {
		REQUIRE(s.off >= h->hh_target.off && s.off + s.len <=
		    h->hh_target.off + h->hh_target.len);
		host_classify(&hc, (const char *)req + s.off, s.len, &hr);
	}
	if (hh_origin(h, req, &s) == 0)
		REQUIRE(s.off >= h->hh_target.off && s.off + s.len <=
		    h->hh_target.off + h->hh_target.len);
	check_admit(&hc, h, req);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hh_parser	 a, b;
	const struct http_head	*x = &a.hp_head, *y = &b.hp_head;
	const uint8_t		*req;
	size_t			 len, cut;
	int			 ra, rb;

	if (size < 1)
		return 0;
	req = data + 1;
	len = size - 1;
	/* Both callers read at most head_max bytes into their buffer. */
	if (len > HEAD_MAX)
		len = HEAD_MAX;
	cut = len * data[0] / 256;

	hh_init(&a, HEAD_MAX, TARGET_MAX);
	ra = feed(&a, req, len);

	hh_init(&b, HEAD_MAX, TARGET_MAX);
	rb = feed(&b, req, cut);
	if (rb == HH_MORE)
		rb = feed(&b, req, len);

	REQUIRE(ra == rb);
	REQUIRE(ra == HH_MORE || ra == HH_DONE || ra == HH_ERROR);
	if (ra == HH_ERROR) {
		REQUIRE(x->hh_error != NULL && y->hh_error != NULL);
		REQUIRE(x->hh_error_status >= 400 && x->hh_error_status < 600);
		/*
		 * Statuses agree too, except where a size limit and a syntax
		 * error race: which one a read hits first depends on where
		 * the read ended (test_httphead.c documents that case).
		 */
		if (x->hh_error_status != 414 && x->hh_error_status != 431 &&
		    y->hh_error_status != 414 && y->hh_error_status != 431)
			REQUIRE(x->hh_error_status == y->hh_error_status);
		return 0;
	}
	if (ra == HH_MORE) {
		REQUIRE(len < HEAD_MAX);
		return 0;
	}
	check_done(x, req, len);
	REQUIRE(x->hh_len == y->hh_len && x->hh_method == y->hh_method &&
	    x->hh_minor == y->hh_minor && span_eq(x->hh_target, y->hh_target) &&
	    span_eq(x->hh_host, y->hh_host) && span_eq(x->hh_inm, y->hh_inm) &&
	    span_eq(x->hh_ims, y->hh_ims) && x->hh_nhost == y->hh_nhost &&
	    x->hh_nheaders == y->hh_nheaders && x->hh_nte == y->hh_nte &&
	    x->hh_has_clen == y->hh_has_clen && x->hh_clen == y->hh_clen &&
	    x->hh_chunked == y->hh_chunked &&
	    x->hh_keepalive == y->hh_keepalive &&
	    x->hh_expect_continue == y->hh_expect_continue);
	return 0;
}
