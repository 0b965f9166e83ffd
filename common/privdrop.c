/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Giving up root, once, the same way in every role (privdrop.h). The order
 * and the reason for each step are in docs/security.md ("Sandbox entry");
 * the tests in tests/unit/test_privdrop.c prove every property listed at
 * privdrop_ids() from the dropped process itself.
 */
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <linux/securebits.h>

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"
#include "privdrop.h"
#include "sys.h"

/*
 * Every bit a root process could use to turn uid 0 back into capabilities,
 * keep them across a uid change or raise an ambient one, set and locked.
 * NO_SETUID_FIXUP is set too: the uid change then leaves the capability
 * sets alone, and privdrop_ids() clears them itself, so the drop does not
 * depend on the kernel's fix-up rule, and the proof below covers it.
 */
#define PRIVDROP_SECBITS	(SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |	\
	SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |	\
	SECBIT_KEEP_CAPS_LOCKED |					\
	SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED)

static int __attribute__((__format__ (printf, 3, 4)))
privdrop_fail(char *err, size_t errsz, const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	errno = saved;
	return -1;
}

#define FAIL(...)	return privdrop_fail(err, errsz, __VA_ARGS__)

/*
 * Read before chroot: the new root has no /proc, and the bounding set must
 * be dropped up to the kernel's last capability, not libcap's compiled-in
 * idea of it (minijail reads it first for the same reason).
 */
int
privdrop_last_cap(int *last_cap, char *err, size_t errsz)
{
	char	 buf[32];
	ssize_t	 n;
	long	 v;

	if ((n = read_file("/proc/sys/kernel/cap_last_cap", buf,
	    sizeof(buf) - 1)) <= 0)
		FAIL("cap_last_cap: %s", n == 0 ? "empty" : strerror(errno));
	buf[n] = '\0';
	v = strtol(buf, NULL, 10);
	if (v < CAP_SETPCAP || v > 63)
		FAIL("cap_last_cap: implausible value %ld", v);
	*last_cap = (int)v;
	return 0;
}

/* Nothing in any of the five sets: effective, permitted, inheritable,
 * bounding, ambient. */
static int
privdrop_caps_empty(int last_cap)
{
	cap_t	 cur, none;
	int	 i, r;

	if ((cur = cap_get_proc()) == NULL)
		return 0;
	none = cap_init();
	r = none != NULL && cap_compare(cur, none) == 0;
	cap_free(cur);
	cap_free(none);
	for (i = 0; r && i <= last_cap; i++)
		if (cap_get_bound((cap_value_t)i) != 0 ||
		    cap_get_ambient((cap_value_t)i) != 0)
			r = 0;
	return r;
}

/*
 * The drop, in the only order that works:
 *   1. bounding set, ambient set and securebits: each needs CAP_SETPCAP,
 *      which the uid change takes away; locked, nothing later can turn
 *      uid 0 back into capabilities;
 *   2. groups, then gid, then uid: after setresuid there is no CAP_SETGID;
 *      setres*() also set the saved ids, which seteuid() would leave at 0;
 *   3. every capability cleared, then the whole result proved: the five
 *      sets empty, the securebits as set, all three uids and gids the
 *      target's, no supplementary group, and no way back to uid or gid 0;
 *   4. the parent-death signal, which the kernel clears on a credential
 *      change and so is armed only now (the caller checks its parent
 *      after this, closing the race), and no core dump, ptrace or /proc
 *      access by the new uid.
 */
int
privdrop_ids(const struct privdrop *pd, char *err, size_t errsz)
{
	uid_t	 ru, eu, su;
	gid_t	 rg, eg, sg;
	cap_t	 none;
	int	 i, sig;

	if (pd->pd_uid == 0 || pd->pd_gid == 0)
		FAIL("refusing to drop to uid or gid 0");

	for (i = 0; i <= pd->pd_last_cap; i++)
		if (cap_drop_bound((cap_value_t)i) == -1 && errno != EINVAL)
			FAIL("cap_drop_bound %d: %s", i, strerror(errno));
	if (cap_reset_ambient() == -1)
		FAIL("cap_reset_ambient: %s", strerror(errno));
	if (prctl(PR_SET_SECUREBITS, PRIVDROP_SECBITS, 0, 0, 0) == -1)
		FAIL("PR_SET_SECUREBITS: %s", strerror(errno));

	if (setgroups(0, NULL) == -1)
		FAIL("setgroups: %s", strerror(errno));
	if (setresgid(pd->pd_gid, pd->pd_gid, pd->pd_gid) == -1)
		FAIL("setresgid %u: %s", pd->pd_gid, strerror(errno));
	if (setresuid(pd->pd_uid, pd->pd_uid, pd->pd_uid) == -1)
		FAIL("setresuid %u: %s", pd->pd_uid, strerror(errno));

	if ((none = cap_init()) == NULL)
		FAIL("cap_init: %s", strerror(errno));
	if (cap_set_proc(none) == -1) {
		cap_free(none);
		FAIL("cap_set_proc: %s", strerror(errno));
	}
	cap_free(none);
	if (!privdrop_caps_empty(pd->pd_last_cap))
		FAIL("capabilities still held after the drop");
	if (prctl(PR_GET_SECUREBITS, 0, 0, 0, 0) != PRIVDROP_SECBITS)
		FAIL("securebits are not what was set");
	if (getresuid(&ru, &eu, &su) == -1)
		FAIL("getresuid: %s", strerror(errno));
	if (ru != pd->pd_uid || eu != pd->pd_uid || su != pd->pd_uid)
		FAIL("uid is %u/%u/%u, wanted %u", ru, eu, su, pd->pd_uid);
	if (getresgid(&rg, &eg, &sg) == -1)
		FAIL("getresgid: %s", strerror(errno));
	if (rg != pd->pd_gid || eg != pd->pd_gid || sg != pd->pd_gid)
		FAIL("gid is %u/%u/%u, wanted %u", rg, eg, sg, pd->pd_gid);
	if (getgroups(0, NULL) != 0)
		FAIL("supplementary groups survived setgroups");
	if (setuid(0) != -1 || seteuid(0) != -1 || setgid(0) != -1 ||
	    setegid(0) != -1)
		FAIL("was able to regain root");

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1 ||
	    prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0) == -1 || sig != SIGKILL)
		FAIL("PR_SET_PDEATHSIG: %s", strerror(errno));
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1 ||
	    prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		FAIL("PR_SET_DUMPABLE: %s", strerror(errno));
	return 0;
}

/*
 * As the new uid, soft = hard, so they can only ever go down; RLIMIT_NPROC
 * counts the real uid, which is now the target's.
 */
int
privdrop_limits(const struct limits *l, char *err, size_t errsz)
{
	struct rlimit	 rl;
	size_t		 k;

	for (k = 0; k < l->l_n; k++) {
		rl.rlim_cur = rl.rlim_max = l->l_ent[k].pl_value;
		if (setrlimit(l->l_ent[k].pl_resource, &rl) == -1)
			FAIL("setrlimit %s: %s",
			    limits_name(l->l_ent[k].pl_resource),
			    strerror(errno));
	}
	return 0;
}

/*
 * Unprivileged seccomp needs it, exec can never again add a privilege (a
 * setuid binary gains nothing), and it is inherited by every child; read
 * back rather than trusted.
 */
int
privdrop_nnp(char *err, size_t errsz)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		FAIL("no_new_privs: %s", strerror(errno));
	return 0;
}
