/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Host classifier fuzz target (docs/security.md, item 84): bytes ->
 * host_classify() with a fixed configuration, checking the invariants routing
 * relies on. Any violation aborts, which libFuzzer and the replay runner
 * report as a crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "slug.h"

#define SUFFIX	"test.localhost"
#define ADMIN	"admin.test.localhost"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define REQUIRE(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "host_fuzz: %s:%d: %s\n", __FILE__,	\
		    __LINE__, #c);					\
		abort();						\
	}								\
} while (0)

static int
ldh_only(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.'))
			return 0;
	return 1;
}

/* What a Host value may contain at all: letters, digits, '-', '.', ':'. */
static int
host_bytes_only(const uint8_t *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') ||
		    (p[i] >= 'A' && p[i] <= 'Z') ||
		    (p[i] >= '0' && p[i] <= '9') || p[i] == '-' ||
		    p[i] == '.' || p[i] == ':'))
			return 0;
	return 1;
}

static int
ends_with(const char *s, size_t len, const char *suf, size_t slen)
{
	return len >= slen && memcmp(s + len - slen, suf, slen) == 0;
}

static void
check_name(const struct host_result *r)
{
	size_t	 i, lab = 0;

	REQUIRE(r->hr_name_len == strlen(r->hr_name));
	REQUIRE(r->hr_name_len > 0 && r->hr_name_len <= HOST_NAME_MAX_LEN);
	REQUIRE(ldh_only(r->hr_name, r->hr_name_len));
	REQUIRE(r->hr_name[0] != '.' && r->hr_name[0] != '-');
	REQUIRE(r->hr_name[r->hr_name_len - 1] != '.' &&
	    r->hr_name[r->hr_name_len - 1] != '-');
	for (i = 0; i < r->hr_name_len; i++) {
		if (r->hr_name[i] == '.') {
			REQUIRE(lab > 0);
			REQUIRE(r->hr_name[i - 1] != '-' &&
			    r->hr_name[i + 1] != '-');
			lab = 0;
		} else
			REQUIRE(++lab <= HOST_LABEL_MAX_LEN);
	}
	REQUIRE(r->hr_port <= 65535);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct host_conf	 hc;
	static int		 ready;
	struct host_result	 r, again, upper;
	enum host_class		 c;
	const char		*in = (const char *)data;
	char			*up;
	size_t			 i, slen;

	if (!ready) {
		REQUIRE(host_conf_init(&hc, SUFFIX, ADMIN) == 0);
		ready = 1;
	}
	slen = hc.hc_suffix_len;

	c = host_classify(&hc, in, size, &r);
	REQUIRE(r.hr_class == c);
	/* Never a tenant, or anything else, from a byte a name cannot hold. */
	if (!host_bytes_only(data, size))
		REQUIRE(c == HOST_INVALID);
	if (c == HOST_INVALID)
		return 0;
	check_name(&r);

	switch (c) {
	case HOST_SUBDOMAIN:
	case HOST_RESERVED:
		/* Exactly one slug label directly under the suffix. */
		REQUIRE(r.hr_label_len + 1 + slen == r.hr_name_len);
		REQUIRE(r.hr_name[r.hr_label_len] == '.');
		REQUIRE(memcmp(r.hr_name + r.hr_label_len + 1, hc.hc_suffix,
		    slen) == 0);
		REQUIRE(memchr(r.hr_name, '.', r.hr_label_len) == NULL);
		REQUIRE(slug_check_syntax(r.hr_name, r.hr_label_len) ==
		    SLUG_OK);
		REQUIRE(slug_is_reserved(r.hr_name, r.hr_label_len) ==
		    (c == HOST_RESERVED));
		REQUIRE(strcmp(r.hr_name, hc.hc_admin) != 0);
		break;
	case HOST_CUSTOM:
		REQUIRE(memchr(r.hr_name, '.', r.hr_name_len) != NULL);
		REQUIRE(!(r.hr_name_len > slen && r.hr_name[r.hr_name_len -
		    slen - 1] == '.' && ends_with(r.hr_name, r.hr_name_len,
		    hc.hc_suffix, slen)));
		REQUIRE(strcmp(r.hr_name, hc.hc_suffix) != 0);
		REQUIRE(strcmp(r.hr_name, hc.hc_admin) != 0);
		break;
	case HOST_APEX:
		REQUIRE(strcmp(r.hr_name, hc.hc_suffix) == 0);
		break;
	case HOST_ADMIN:
		/* Only the exact admin name. */
		REQUIRE(strcmp(r.hr_name, hc.hc_admin) == 0);
		break;
	case HOST_INVALID:
		break;
	}
	if (strcmp(r.hr_name, hc.hc_admin) == 0)
		REQUIRE(c == HOST_ADMIN);

	/* Idempotent: the canonical name classifies to itself. */
	REQUIRE(host_classify(&hc, r.hr_name, r.hr_name_len, &again) == c);
	REQUIRE(strcmp(again.hr_name, r.hr_name) == 0);
	REQUIRE(again.hr_label_len == r.hr_label_len);
	REQUIRE(again.hr_port == 0);

	/* Case-blind: the upper-cased input is the same host. */
	if ((up = malloc(size)) == NULL)
		abort();
	for (i = 0; i < size; i++)
		up[i] = (char)(in[i] >= 'a' && in[i] <= 'z' ?
		    in[i] - 'a' + 'A' : in[i]);
	REQUIRE(host_classify(&hc, up, size, &upper) == c);
	REQUIRE(strcmp(upper.hr_name, r.hr_name) == 0);
	REQUIRE(upper.hr_port == r.hr_port);
	free(up);
	return 0;
}
