/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Policy file fuzz target: bytes -> policy_parse() and limits_parse(). A
 * policy that parses must be what the sandbox can load (known syscalls,
 * each once, a known errno); a failure must leave a terminated message.
 */
#include <sys/resource.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <seccomp.h>

#include "policy.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define REQUIRE(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "policy_fuzz: %s:%d: %s\n", __FILE__,	\
		    __LINE__, #c);					\
		abort();						\
	}								\
} while (0)

static void
check_policy(const struct policy *pol)
{
	const struct policy_rule	*r;
	size_t				 i, j;

	REQUIRE(pol->p_nrules >= 1 && pol->p_nrules <= POLICY_MAX_RULES);
	for (i = 0; i < pol->p_nrules; i++) {
		r = &pol->p_rules[i];
		REQUIRE(memchr(r->pr_name, '\0', sizeof(r->pr_name)) != NULL);
		REQUIRE(r->pr_nr >= 0);
		REQUIRE(seccomp_syscall_resolve_name(r->pr_name) == r->pr_nr);
		REQUIRE(r->pr_errno == 0 || r->pr_errno == EPERM ||
		    r->pr_errno == EACCES || r->pr_errno == ENOSYS ||
		    r->pr_errno == EAFNOSUPPORT || r->pr_errno == EINVAL ||
		    r->pr_errno == ENOENT || r->pr_errno == ENOTTY);
		for (j = 0; j < i; j++)
			REQUIRE(pol->p_rules[j].pr_nr != r->pr_nr);
	}
}

static void
check_limits(const struct limits *lim)
{
	size_t	 i, j;

	REQUIRE(lim->l_n <= POLICY_MAX_LIMITS);
	for (i = 0; i < lim->l_n; i++) {
		REQUIRE(strcmp(limits_name(lim->l_ent[i].pl_resource),
		    "unknown") != 0);
		if (lim->l_ent[i].pl_resource == RLIMIT_NOFILE)
			REQUIRE(lim->l_ent[i].pl_value >= 16);
		for (j = 0; j < i; j++)
			REQUIRE(lim->l_ent[j].pl_resource !=
			    lim->l_ent[i].pl_resource);
	}
}

static void
check_err(const char *err, size_t errsz)
{
	REQUIRE(memchr(err, '\0', errsz) != NULL);
	REQUIRE(err[0] != '\0');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct policy	 pol;
	struct limits		 lim;
	char			 err[256], tiny[8];
	const char		*text = (const char *)data;

	if (size > POLICY_FILE_MAX)
		return 0;

	memset(err, 0, sizeof(err));
	if (policy_parse(text, size, &pol, err, sizeof(err)) == 0)
		check_policy(&pol);
	else
		check_err(err, sizeof(err));

	memset(err, 0, sizeof(err));
	if (limits_parse(text, size, &lim, err, sizeof(err)) == 0)
		check_limits(&lim);
	else
		check_err(err, sizeof(err));

	/* A short error buffer truncates, it does not overflow. */
	if (policy_parse(text, size, &pol, tiny, sizeof(tiny)) == -1)
		check_err(tiny, sizeof(tiny));
	if (limits_parse(text, size, &lim, tiny, sizeof(tiny)) == -1)
		check_err(tiny, sizeof(tiny));
	return 0;
}
