/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Compile a policy into a libseccomp filter and load it. Default action:
 * kill the whole process (KILL_THREAD would leave the rest of a worker
 * running, docs/security.md, item 23); any architecture but the native one is
 * killed too, which is what stops i386 "int 0x80" and x32 entries
 * (docs/security.md, items 21-22). A deny list (tenant-code.seccomp) allows
 * what it does not name instead; the architecture check stays the same.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <seccomp.h>

#include "policy.h"

#ifdef SANDBOX_DEBUG
#warning "SANDBOX_DEBUG: seccomp violations trap instead of killing. Never ship this."
#define DEFAULT_ACTION	SCMP_ACT_TRAP
#else
#define DEFAULT_ACTION	SCMP_ACT_KILL_PROCESS
#endif

void *
policy_compile(const struct policy *pol, char *err, size_t errsz)
{
	scmp_filter_ctx	 ctx;
	size_t		 i;
	int		 rc;
	uint32_t	 act;

	if ((ctx = seccomp_init(pol->p_default_allow ? SCMP_ACT_ALLOW :
	    DEFAULT_ACTION)) == NULL) {
		snprintf(err, errsz, "seccomp_init failed");
		return NULL;
	}
	/*
	 * We set no_new_privs ourselves, checked, just before loading
	 * (docs/architecture.md, section 7, row 12); libseccomp must not do it
	 * behind our back.
	 */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) != 0 ||
	    (rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS)) != 0) {
		snprintf(err, errsz, "seccomp_attr_set: %s", strerror(-rc));
		goto fail;
	}
	for (i = 0; i < pol->p_nrules; i++) {
		act = pol->p_rules[i].pr_errno ?
		    SCMP_ACT_ERRNO((uint32_t)pol->p_rules[i].pr_errno) :
		    SCMP_ACT_ALLOW;
		if ((rc = seccomp_rule_add(ctx, act, pol->p_rules[i].pr_nr,
		    0)) != 0) {
			snprintf(err, errsz, "seccomp_rule_add %s: %s",
			    pol->p_rules[i].pr_name, strerror(-rc));
			goto fail;
		}
	}
	return ctx;
 fail:
	seccomp_release(ctx);
	return NULL;
}

int
policy_install(void *ctx, char *err, size_t errsz)
{
	int	 rc;

	if ((rc = seccomp_load(ctx)) != 0) {
		snprintf(err, errsz, "seccomp_load: %s", strerror(-rc));
		return -1;
	}
	return 0;
}

void
policy_release(void *ctx)
{
	if (ctx != NULL)
		seccomp_release(ctx);
}
