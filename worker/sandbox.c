/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Sandbox entry for a worker (docs/architecture.md, section 7, rows 5-14).
 * The worker was exec'd as root by the supervisor and calls this before it
 * reads a single untrusted byte. Every step is checked; a failure returns -1
 * and the caller exits: "we can't recover from failures if we've dropped
 * privileges partially, so we don't even try" (minijail).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "privdrop.h"
#include "sandbox.h"

#define FAIL(...)	do { snprintf(err, errsz, __VA_ARGS__); return -1; } \
			while (0)

#ifdef SANDBOX_DEBUG
#include <seccomp.h>
#warning "SANDBOX_DEBUG: SIGSYS handler prints the offending syscall"

static void
sandbox_sigsys(int sig, siginfo_t *si, void *uc)
{
	char	 buf[64];
	int	 n;

	n = snprintf(buf, sizeof(buf), "seccomp: syscall %d denied\n",
	    si->si_syscall);
	(void)write(STDERR_FILENO, buf, (size_t)n);
	_exit(159);
}
#endif

/*
 * Row 5: everything that needs the host's files or procfs happens here,
 * before chroot: the policy file, cap_last_cap, the compiled filter. A bad
 * policy fails now, before any privilege has changed.
 */
int
sandbox_prepare(struct sandbox *sb, const struct sandbox_params *sp,
    char *err, size_t errsz)
{
	struct policy	 pol;

	memset(sb, 0, sizeof(*sb));
	if (sp->sp_uid == 0 || sp->sp_gid == 0)
		FAIL("refusing to run a tenant as uid or gid 0");
	if (privdrop_last_cap(&sb->sb_last_cap, err, errsz) == -1)
		return -1;
	if (policy_load(sp->sp_policy, &pol, err, errsz) == -1)
		return -1;
	if ((sb->sb_filter = policy_compile(&pol, err, errsz)) == NULL)
		return -1;
	return 0;
}

int
sandbox_enter(struct sandbox *sb, const struct sandbox_params *sp,
    char *err, size_t errsz)
{
	struct privdrop	 pd;

	/*
	 * Row 6: chroot needs CAP_SYS_CHROOT, so it comes while we are still
	 * root; chdir("/") right after, or the cwd stays outside the jail.
	 */
	if (chroot(sp->sp_root) == -1)
		FAIL("chroot %s: %s", sp->sp_root, strerror(errno));
	if (chdir("/") == -1)
		FAIL("chdir /: %s", strerror(errno));

	/*
	 * Rows 7-10, the one privilege drop every role uses (privdrop.c):
	 * bounding set, ambient set and locked securebits while we still
	 * hold CAP_SETPCAP; groups, gid, uid; every capability cleared and
	 * the result proved; then the parent-death signal, which the uid
	 * change cleared, and no dumping. The signal is armed only now, so
	 * the supervisor may have died in between: look.
	 */
	pd.pd_uid = sp->sp_uid;
	pd.pd_gid = sp->sp_gid;
	pd.pd_last_cap = sb->sb_last_cap;
	if (privdrop_ids(&pd, err, errsz) == -1)
		return -1;
	if (sp->sp_parent != 0 && getppid() != sp->sp_parent)
		FAIL("supervisor %d is gone", (int)sp->sp_parent);

	/* Rows 11 and 12: rlimits as the tenant, then no_new_privs. */
	if (privdrop_limits(&sp->sp_limits, err, errsz) == -1 ||
	    privdrop_nnp(err, errsz) == -1)
		return -1;

#ifdef SANDBOX_DEBUG
	{
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = sandbox_sigsys;
		sa.sa_flags = SA_SIGINFO;
		sigaction(SIGSYS, &sa, NULL);
	}
#endif
	/*
	 * Row 14: seccomp has to come last since it cuts off every
	 * privilege-changing syscall above; because no_new_privs is set, the
	 * filter need not allow any of them.
	 */
	if (policy_install(sb->sb_filter, err, errsz) == -1)
		return -1;
	policy_release(sb->sb_filter);
	sb->sb_filter = NULL;
	return 0;
}
