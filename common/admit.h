/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Host admission: what a complete request head is for, decided once for
 * the supervisor's front and the worker alike (docs/routing.md, section
 * 1). One Host, an absolute-form target that agrees with it, and the
 * class host_classify() gives it. Pure: no I/O, no allocation; each
 * caller only does its own effects with the verdict.
 */
#ifndef TENANTD_ADMIT_H
#define TENANTD_ADMIT_H

#include "host.h"
#include "httphead.h"

enum admit_verdict {
	ADMIT_REJECT = 0,	/* answer ad_status and close */
	ADMIT_SUBDOMAIN,	/* a tenant's slug under the suffix */
	ADMIT_CUSTOM,		/* a name that may be a custom hostname */
	ADMIT_APEX,		/* the bare suffix: the front answers it */
	ADMIT_ADMIN,		/* the admin host: the front answers it */
};

struct admit {
	enum admit_verdict	 ad_verdict;
	int			 ad_status;	/* the answer if not routed */
	const char		*ad_reason;	/* for logs; never sent */
	/*
	 * The normalised Host; every byte zero on ADMIT_REJECT, so nothing
	 * of a name that failed can be compared or logged. The slug of
	 * ADMIT_SUBDOMAIN is hr_name[0..hr_label_len).
	 */
	struct host_result	 ad_host;
};

enum admit_verdict	 admit_request(const struct host_conf *,
			    const struct http_head *, const uint8_t *,
			    struct admit *);
const char		*admit_verdict_str(enum admit_verdict);

#endif
