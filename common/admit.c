/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Host admission (admit.h). The front routes by this verdict and the
 * worker serves by it, so a head one of them refuses the other refuses
 * too, with the same status (docs/routing.md, "Checks before
 * classification"; docs/security.md, items 75-80).
 */
#include <string.h>

#include "admit.h"

static enum admit_verdict
admit_reject(struct admit *ad, int status, const char *why)
{
	memset(&ad->ad_host, 0, sizeof(ad->ad_host));
	ad->ad_verdict = ADMIT_REJECT;
	ad->ad_status = status;
	ad->ad_reason = why;
	return ADMIT_REJECT;
}

static enum admit_verdict
admit_give(struct admit *ad, enum admit_verdict v, int status,
    const char *why)
{
	ad->ad_verdict = v;
	ad->ad_status = status;
	ad->ad_reason = why;
	return v;
}

/*
 * h is a head hh_feed() accepted, its spans into buf. The Host is
 * classified before the target is looked at: a Host that does not
 * classify is refused whatever the target says, and the authority is
 * compared only with a name that was wholly normalised (host_classify()
 * may leave part of a refused name in hr_name).
 */
enum admit_verdict
admit_request(const struct host_conf *hc, const struct http_head *h,
    const uint8_t *buf, struct admit *ad)
{
	struct host_result	 ar;
	struct hh_span		 auth;
	int			 rc;

	memset(ad, 0, sizeof(*ad));
	/* hh_feed() refuses a second Host; none at all is ours to refuse. */
	if (h->hh_nhost != 1)
		return admit_reject(ad, 400, "no Host, or more than one");
	if (host_classify(hc, (const char *)buf + h->hh_host.off,
	    h->hh_host.len, &ad->ad_host) == HOST_INVALID)
		return admit_reject(ad, 400, "invalid Host");
	/*
	 * RFC 9112 3.2.2: with an absolute-form target the authority in it
	 * wins over Host. We route by Host, so the two must name the same
	 * host; ports play no part in routing and are not compared.
	 */
	if ((rc = hh_authority(h, buf, &auth)) == -1)
		return admit_reject(ad, 400, "malformed absolute-form target");
	if (rc == 1 && (host_classify(hc, (const char *)buf + auth.off,
	    auth.len, &ar) == HOST_INVALID ||
	    strcmp(ar.hr_name, ad->ad_host.hr_name) != 0))
		return admit_reject(ad, 400, "target authority is not Host");
	switch (ad->ad_host.hr_class) {
	case HOST_SUBDOMAIN:
		return admit_give(ad, ADMIT_SUBDOMAIN, 0, "subdomain");
	case HOST_CUSTOM:
		return admit_give(ad, ADMIT_CUSTOM, 0, "custom hostname");
	case HOST_APEX:
		return admit_give(ad, ADMIT_APEX, 404, "apex");
	case HOST_ADMIN:
		return admit_give(ad, ADMIT_ADMIN, 421, "admin host");
	case HOST_RESERVED:
		/* Never a tenant: the same 404 an unknown slug gets. */
		return admit_reject(ad, 404, "reserved name");
	case HOST_INVALID:
		break;
	}
	return admit_reject(ad, 400, "invalid Host");
}

const char *
admit_verdict_str(enum admit_verdict v)
{
	switch (v) {
	case ADMIT_REJECT:
		return "reject";
	case ADMIT_SUBDOMAIN:
		return "subdomain";
	case ADMIT_CUSTOM:
		return "custom";
	case ADMIT_APEX:
		return "apex";
	case ADMIT_ADMIN:
		return "admin";
	}
	return "reject";
}
