/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Host classification: the one function that decides which tenant a request
 * is for. Pure and allocation-free; the supervisor and the worker both call
 * it, so they can never disagree (docs/routing.md, section 1).
 */
#ifndef TENANTD_HOST_H
#define TENANTD_HOST_H

#include <stddef.h>

#define HOST_NAME_MAX_LEN	253
#define HOST_LABEL_MAX_LEN	63

/*
 * The most custom hostnames one tenant may have: tenantctl and the
 * registry refuse more, the supervisor sends no more and a worker takes
 * no more (docs/routing.md, "Custom hostnames"). A plain number: the
 * registry's schema spells it into a trigger.
 */
#define HOST_TENANT_MAX		10000
/* A host list's bytes at most: every name and its newline. */
#define HOSTLIST_BYTES_MAX	((size_t)HOST_TENANT_MAX * (HOST_NAME_MAX_LEN + 1))

enum host_class {
	HOST_INVALID = 0,	/* malformed: answered 400 */
	HOST_SUBDOMAIN,		/* exactly one slug label under the suffix */
	HOST_CUSTOM,		/* any other well-formed name: a custom domain? */
	HOST_APEX,		/* the bare suffix */
	HOST_ADMIN,		/* the configured admin host: never served here */
	HOST_RESERVED,		/* a reserved system name under the suffix */
};

/* Canonical suffix and admin host, as produced by host_canonical(). */
struct host_conf {
	char	 hc_suffix[HOST_NAME_MAX_LEN + 1];
	size_t	 hc_suffix_len;
	char	 hc_admin[HOST_NAME_MAX_LEN + 1];
	size_t	 hc_admin_len;
};

struct host_result {
	enum host_class	 hr_class;
	char		 hr_name[HOST_NAME_MAX_LEN + 1];	/* canonical */
	size_t		 hr_name_len;
	size_t		 hr_label_len;	/* slug = hr_name[0..label_len) */
	unsigned int	 hr_port;	/* 0 when absent */
};

int		 host_canonical(const char *, size_t, char *, size_t *,
		    unsigned int *);
int		 host_conf_init(struct host_conf *, const char *, const char *);
enum host_class	 host_classify(const struct host_conf *, const char *, size_t,
		    struct host_result *);
const char	*host_class_str(enum host_class);

/*
 * A tenant's custom hostnames as a worker holds them: one buffer of
 * NUL-terminated names and an index sorted by strcmp, searched in
 * O(log n) per request.
 */
struct hostlist {
	char		*hl_buf;
	const char	**hl_names;
	size_t		 hl_n;
};

int		 hostlist_parse(struct hostlist *, const struct host_conf *,
		    const char *, size_t);
int		 hostlist_has(const struct hostlist *, const char *);
void		 hostlist_free(struct hostlist *);

#endif
