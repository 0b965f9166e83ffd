/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Host normalisation and classification. Everything here is ASCII-only and
 * locale-independent on purpose: tolower(3) under tr_TR maps 'I' to a dotless
 * i, and a classifier that depends on the locale can route one name to two
 * tenants.
 */
#include <string.h>

#include "host.h"
#include "slug.h"

static int
host_parse_port(const char *p, size_t len, unsigned int *port)
{
	unsigned int	 v = 0;
	size_t		 i;

	/* 1*5DIGIT without a leading zero: ":", ":0443", ":+1" are refused. */
	if (len == 0 || len > 5 || p[0] == '0')
		return -1;
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (unsigned int)(p[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = v;
	return 0;
}

/*
 * Canonical form: ASCII lowercase, port removed, one trailing dot removed.
 * Refuses userinfo, IP literals, empty or over-long labels, and any byte
 * outside letters, digits, '-' and '.'.
 */
int
host_canonical(const char *in, size_t len, char *out, size_t *outlen,
    unsigned int *port)
{
	const char	*colon;
	size_t		 i, lab, hlen;
	int		 alldigits;
	char		 c;

	*port = 0;
	*outlen = 0;
	if (len == 0 || in[0] == '[')
		return -1;
	hlen = len;
	if ((colon = memchr(in, ':', len)) != NULL) {
		hlen = (size_t)(colon - in);
		if (host_parse_port(colon + 1, len - hlen - 1, port) == -1)
			return -1;
	}
	if (hlen > 0 && in[hlen - 1] == '.')
		hlen--;
	if (hlen == 0 || hlen > HOST_NAME_MAX_LEN)
		return -1;

	lab = 0;
	alldigits = 1;
	for (i = 0; i < hlen; i++) {
		c = in[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c == '.') {
			if (lab == 0 || out[i - 1] == '-')
				return -1;
			lab = 0;
			alldigits = 1;
		} else if ((c >= 'a' && c <= 'z') || c == '-') {
			if (c == '-' && lab == 0)
				return -1;
			alldigits = 0;
			lab++;
		} else if (c >= '0' && c <= '9')
			lab++;
		else
			return -1;
		if (lab > HOST_LABEL_MAX_LEN)
			return -1;
		out[i] = c;
	}
	if (lab == 0 || out[hlen - 1] == '-')
		return -1;
	/* A numeric last label is an IPv4 literal (or no name at all). */
	if (alldigits)
		return -1;
	out[hlen] = '\0';
	*outlen = hlen;
	return 0;
}

int
host_conf_init(struct host_conf *hc, const char *suffix, const char *admin)
{
	unsigned int	 port;

	memset(hc, 0, sizeof(*hc));
	if (host_canonical(suffix, strlen(suffix), hc->hc_suffix,
	    &hc->hc_suffix_len, &port) == -1 || port != 0)
		return -1;
	if (admin == NULL || *admin == '\0')
		return 0;
	if (host_canonical(admin, strlen(admin), hc->hc_admin,
	    &hc->hc_admin_len, &port) == -1 || port != 0)
		return -1;
	return 0;
}

enum host_class
host_classify(const struct host_conf *hc, const char *in, size_t len,
    struct host_result *r)
{
	const char	*name;
	size_t		 nlen, llen;

	memset(r, 0, sizeof(*r));
	r->hr_class = HOST_INVALID;
	if (host_canonical(in, len, r->hr_name, &r->hr_name_len,
	    &r->hr_port) == -1)
		return HOST_INVALID;
	name = r->hr_name;
	nlen = r->hr_name_len;

	if (hc->hc_admin_len != 0 && nlen == hc->hc_admin_len &&
	    memcmp(name, hc->hc_admin, nlen) == 0)
		return (r->hr_class = HOST_ADMIN);
	if (nlen == hc->hc_suffix_len &&
	    memcmp(name, hc->hc_suffix, nlen) == 0)
		return (r->hr_class = HOST_APEX);
	if (nlen > hc->hc_suffix_len + 1 &&
	    name[nlen - hc->hc_suffix_len - 1] == '.' &&
	    memcmp(name + nlen - hc->hc_suffix_len, hc->hc_suffix,
	    hc->hc_suffix_len) == 0) {
		/* Exactly one label, and it must be a well-formed slug. */
		llen = nlen - hc->hc_suffix_len - 1;
		if (memchr(name, '.', llen) != NULL ||
		    slug_check_syntax(name, llen) != SLUG_OK)
			return HOST_INVALID;
		r->hr_label_len = llen;
		if (slug_is_reserved(name, llen))
			return (r->hr_class = HOST_RESERVED);
		return (r->hr_class = HOST_SUBDOMAIN);
	}
	/* A custom domain is a fully qualified name: at least two labels. */
	if (memchr(name, '.', nlen) == NULL)
		return HOST_INVALID;
	return (r->hr_class = HOST_CUSTOM);
}

const char *
host_class_str(enum host_class c)
{
	switch (c) {
	case HOST_INVALID:
		return "invalid";
	case HOST_SUBDOMAIN:
		return "subdomain";
	case HOST_CUSTOM:
		return "custom";
	case HOST_APEX:
		return "apex";
	case HOST_ADMIN:
		return "admin";
	case HOST_RESERVED:
		return "reserved";
	}
	return "invalid";
}
