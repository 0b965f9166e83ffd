/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Sandbox entry for a worker (STYLE.md section 3, rows 5-14). The worker
 * was exec'd as root by the supervisor and calls this before it reads a
 * single untrusted byte. Every step is checked; a failure returns -1 and the
 * caller exits: "we can't recover from failures if we've dropped privileges
 * partially, so we don't even try" (minijail).
 */
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <linux/securebits.h>

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox.h"
#include "sys.h"

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
	char		 buf[32];
	ssize_t		 n;

	memset(sb, 0, sizeof(*sb));
	if (sp->sp_uid == 0 || sp->sp_gid == 0)
		FAIL("refusing to run a tenant as uid or gid 0");
	if ((n = read_file("/proc/sys/kernel/cap_last_cap", buf,
	    sizeof(buf) - 1)) <= 0)
		FAIL("cap_last_cap: %s", strerror(errno));
	buf[n] = '\0';
	sb->sb_last_cap = (int)strtol(buf, NULL, 10);
	if (sb->sb_last_cap < CAP_SETPCAP || sb->sb_last_cap > 63)
		FAIL("cap_last_cap: implausible value %d", sb->sb_last_cap);
	if (policy_load(sp->sp_policy, &pol, err, errsz) == -1)
		return -1;
	if ((sb->sb_filter = policy_compile(&pol, err, errsz)) == NULL)
		return -1;
	return 0;
}

static int
sandbox_caps_empty(void)
{
	cap_t	 cur, none;
	int	 r;

	if ((cur = cap_get_proc()) == NULL)
		return 0;
	none = cap_init();
	r = none != NULL && cap_compare(cur, none) == 0;
	cap_free(cur);
	cap_free(none);
	return r;
}

int
sandbox_enter(struct sandbox *sb, const struct sandbox_params *sp,
    char *err, size_t errsz)
{
	uid_t	 ru, eu, su;
	gid_t	 rg, eg, sg;
	cap_t	 none;
	int	 i;
	size_t	 k;
	struct rlimit rl;

	/*
	 * Row 6: chroot needs CAP_SYS_CHROOT, so it comes while we are still
	 * root; chdir("/") right after, or the cwd stays outside the jail.
	 */
	if (chroot(sp->sp_root) == -1)
		FAIL("chroot %s: %s", sp->sp_root, strerror(errno));
	if (chdir("/") == -1)
		FAIL("chdir /: %s", strerror(errno));

	/*
	 * Row 7: bounding set, ambient set and securebits all need
	 * CAP_SETPCAP, which the uid change below takes away. The locked
	 * securebits mean nothing later can turn uid 0 back into
	 * capabilities or keep capabilities across a uid change.
	 */
	for (i = 0; i <= sb->sb_last_cap; i++)
		if (cap_drop_bound((cap_value_t)i) == -1 && errno != EINVAL)
			FAIL("cap_drop_bound %d: %s", i, strerror(errno));
	if (cap_reset_ambient() == -1)
		FAIL("cap_reset_ambient: %s", strerror(errno));
	if (prctl(PR_SET_SECUREBITS,
	    SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
	    SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
	    SECBIT_KEEP_CAPS_LOCKED |
	    SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
	    0, 0, 0) == -1)
		FAIL("PR_SET_SECUREBITS: %s", strerror(errno));

	/*
	 * Row 8: groups, then gid, then uid. After setresuid we no longer
	 * hold CAP_SETGID; setres*() also sets the saved ids, which
	 * seteuid() would leave at 0.
	 */
	if (setgroups(0, NULL) == -1)
		FAIL("setgroups: %s", strerror(errno));
	if (setresgid(sp->sp_gid, sp->sp_gid, sp->sp_gid) == -1)
		FAIL("setresgid %u: %s", sp->sp_gid, strerror(errno));
	if (setresuid(sp->sp_uid, sp->sp_uid, sp->sp_uid) == -1)
		FAIL("setresuid %u: %s", sp->sp_uid, strerror(errno));

	/*
	 * Row 9: with NO_SETUID_FIXUP the kernel did not clear our
	 * capabilities on the uid change; clear them ourselves, then prove
	 * the drop instead of trusting it.
	 */
	if ((none = cap_init()) == NULL || cap_set_proc(none) == -1)
		FAIL("cap_set_proc: %s", strerror(errno));
	cap_free(none);
	if (!sandbox_caps_empty())
		FAIL("capabilities still held after the drop");
	if (getresuid(&ru, &eu, &su) == -1)
		FAIL("getresuid: %s", strerror(errno));
	if (ru != sp->sp_uid || eu != sp->sp_uid || su != sp->sp_uid)
		FAIL("uid is %u/%u/%u, wanted %u", ru, eu, su, sp->sp_uid);
	if (getresgid(&rg, &eg, &sg) == -1)
		FAIL("getresgid: %s", strerror(errno));
	if (rg != sp->sp_gid || eg != sp->sp_gid || sg != sp->sp_gid)
		FAIL("gid is %u/%u/%u, wanted %u", rg, eg, sg, sp->sp_gid);
	if (getgroups(0, NULL) != 0)
		FAIL("supplementary groups survived setgroups");
	if (setuid(0) != -1 || seteuid(0) != -1 || setgid(0) != -1 ||
	    setegid(0) != -1)
		FAIL("was able to regain root");

	/*
	 * Row 10: the kernel clears the parent-death signal on a credential
	 * change, so it is set only now; then check the parent is still
	 * the supervisor, or it died before the signal was armed.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1)
		FAIL("PR_SET_PDEATHSIG: %s", strerror(errno));
	if (sp->sp_parent != 0 && getppid() != sp->sp_parent)
		FAIL("supervisor %d is gone", (int)sp->sp_parent);
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		FAIL("PR_SET_DUMPABLE: %s", strerror(errno));

	/*
	 * Row 11: rlimits as the tenant uid, soft = hard, so they can only
	 * ever go down. RLIMIT_NPROC counts the real uid, which is now the
	 * tenant's.
	 */
	for (k = 0; k < sp->sp_limits.l_n; k++) {
		rl.rlim_cur = rl.rlim_max = sp->sp_limits.l_ent[k].pl_value;
		if (setrlimit(sp->sp_limits.l_ent[k].pl_resource, &rl) == -1)
			FAIL("setrlimit %s: %s",
			    limits_name(sp->sp_limits.l_ent[k].pl_resource),
			    strerror(errno));
	}

	/* Row 12: unprivileged seccomp needs it, and we check it took. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		FAIL("no_new_privs: %s", strerror(errno));

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
