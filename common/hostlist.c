/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * A tenant's custom hostnames as the supervisor sends them to a worker
 * (MSG_CFG_HOSTS, docs/routing.md): each name canonical and followed by
 * one '\n', in strictly ascending byte order, at most HOST_TENANT_MAX.
 * The order is the registry's ORDER BY hostname; requiring it strictly
 * refuses a duplicate for free and leaves the worker an index it can
 * search without sorting. A list is taken whole or not at all.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

/*
 * Decode len bytes of a host list into hl. Every name must be one the
 * classifier routes as a custom domain under hc, written canonically, so
 * that a worker holds exactly what tenantctl let into the registry.
 * Returns 0, or -1 with errno EBADMSG (malformed) or ENOMEM; hl is then
 * untouched.
 */
int
hostlist_parse(struct hostlist *hl, const struct host_conf *hc,
    const char *data, size_t len)
{
	struct host_result	 hr;
	const char		*prev = NULL;
	char			*buf = NULL, *p, *end, *nl;
	const char		**names = NULL;
	size_t			 n = 0, i;

	if (len > HOSTLIST_BYTES_MAX || (len > 0 && data[len - 1] != '\n'))
		goto bad;
	for (i = 0; i < len; i++)
		if (data[i] == '\n' && ++n > HOST_TENANT_MAX)
			goto bad;
	if ((buf = malloc(len + 1)) == NULL || (names = calloc(n + 1,
	    sizeof(*names))) == NULL) {
		free(buf);
		return -1;
	}
	memcpy(buf, data, len);
	buf[len] = '\0';
	end = buf + len;
	for (p = buf, i = 0; p < end; p = nl + 1, i++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		*nl = '\0';
		/* A NUL inside a name would cut it short: not canonical. */
		if (host_classify(hc, p, (size_t)(nl - p), &hr) !=
		    HOST_CUSTOM || hr.hr_port != 0 ||
		    hr.hr_name_len != (size_t)(nl - p) ||
		    memcmp(hr.hr_name, p, hr.hr_name_len) != 0 ||
		    (prev != NULL && strcmp(prev, p) >= 0))
			goto bad;
		names[i] = prev = p;
	}
	hl->hl_buf = buf;
	hl->hl_names = names;
	hl->hl_n = n;
	return 0;
 bad:
	free(buf);
	free(names);
	errno = EBADMSG;
	return -1;
}

static int
hostlist_cmp(const void *a, const void *b)
{
	return strcmp(a, *(const char *const *)b);
}

/* Is the canonical name one of the list's? */
int
hostlist_has(const struct hostlist *hl, const char *name)
{
	if (hl->hl_n == 0)
		return 0;
	return bsearch(name, hl->hl_names, hl->hl_n, sizeof(*hl->hl_names),
	    hostlist_cmp) != NULL;
}

void
hostlist_free(struct hostlist *hl)
{
	free(hl->hl_buf);
	free(hl->hl_names);
	memset(hl, 0, sizeof(*hl));
}
