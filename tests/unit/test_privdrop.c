/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The one privilege drop (common/privdrop.c), proved from the dropped
 * process itself with raw system calls rather than the module's own proof.
 * Each case forks: the child starts as root holding extra groups and an
 * ambient capability, drops, checks, and reports the first property that
 * does not hold on a pipe. Needs root, as the whole suite does in CI.
 */
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/capability.h>
#include <linux/securebits.h>

#include <errno.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy.h"
#include "privdrop.h"

#define TARGET_UID	3999917
#define TARGET_GID	3999918

static int	 report_fd = -1;

static void __attribute__((__noreturn__, __format__ (printf, 1, 2)))
child_fail(const char *fmt, ...)
{
	char	 buf[256];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0 && write(report_fd, buf, (size_t)n < sizeof(buf) ?
	    (size_t)n : sizeof(buf) - 1) == -1)
		_exit(2);
	_exit(1);
}

/* What a drop must leave behind, checked without privdrop.c's helpers. */
static void
child_check(int last_cap)
{
	struct __user_cap_header_struct	 h;
	struct __user_cap_data_struct	 d[_LINUX_CAPABILITY_U32S_3];
	struct rlimit			 rl;
	uid_t				 u[3];
	gid_t				 g[3], zero = 0;
	int				 i, sig, bits, want;

	h.version = _LINUX_CAPABILITY_VERSION_3;
	h.pid = 0;
	if (syscall(SYS_capget, &h, d) == -1)
		child_fail("capget: %s", strerror(errno));
	for (i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		if (d[i].effective | d[i].permitted | d[i].inheritable)
			child_fail("a capability set is not empty");
	for (i = 0; i <= last_cap; i++) {
		if (prctl(PR_CAPBSET_READ, i, 0, 0, 0) != 0)
			child_fail("capability %d is in the bounding set", i);
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, i, 0, 0) != 0)
			child_fail("capability %d is ambient", i);
	}
	want = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
	    SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
	    SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
	if (((bits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0)) & want) != want)
		child_fail("securebits %#x lack %#x", bits, want & ~bits);
	if (getresuid(&u[0], &u[1], &u[2]) == -1 ||
	    getresgid(&g[0], &g[1], &g[2]) == -1)
		child_fail("getresuid: %s", strerror(errno));
	for (i = 0; i < 3; i++)
		if (u[i] != TARGET_UID || g[i] != TARGET_GID)
			child_fail("ids %u/%u/%u %u/%u/%u", u[0], u[1], u[2],
			    g[0], g[1], g[2]);
	if (getgroups(0, NULL) != 0)
		child_fail("supplementary groups survived");
	if (setuid(0) != -1 || setresuid(0, 0, 0) != -1 || setgid(0) != -1 ||
	    setresgid(0, 0, 0) != -1 || setgroups(1, &zero) != -1)
		child_fail("root came back");
	if (prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0) == -1 || sig != SIGKILL)
		child_fail("no parent-death signal");
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		child_fail("still dumpable");
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur != 64 ||
	    rl.rlim_max != 64)
		child_fail("RLIMIT_NOFILE is not 64/64");
	rl.rlim_cur = rl.rlim_max = 65;
	if (setrlimit(RLIMIT_NOFILE, &rl) != -1)
		child_fail("RLIMIT_NOFILE went up again");
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		child_fail("no_new_privs is not set");
}

/*
 * Start from more than a daemon's root has: two supplementary groups and
 * an ambient capability, so the drop has something to take away.
 */
static void
child_burden(void)
{
	gid_t	 groups[2] = { 4, 27 };
	cap_t	 c;
	cap_value_t v = CAP_NET_BIND_SERVICE;

	if (setgroups(2, groups) == -1)
		child_fail("setgroups: %s", strerror(errno));
	if ((c = cap_get_proc()) == NULL ||
	    cap_set_flag(c, CAP_INHERITABLE, 1, &v, CAP_SET) == -1 ||
	    cap_set_proc(c) == -1 || cap_set_ambient(v, CAP_SET) == -1)
		child_fail("raising an ambient capability: %s",
		    strerror(errno));
	cap_free(c);
}

/* Fork, run fn in the child, and return what it reported ("" if it ran
 * to _exit(0)). */
static void
in_child(void (*fn)(void), char *out, size_t outsz)
{
	int	 p[2], status;
	ssize_t	 n;
	pid_t	 pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		close(p[0]);
		report_fd = p[1];
		fn();
		_exit(0);
	}
	close(p[1]);
	n = read(p[0], out, outsz - 1);
	out[n > 0 ? n : 0] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (out[0] == '\0' && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		snprintf(out, outsz, "child ended with status %#x", status);
}

static void
child_full_drop(void)
{
	struct privdrop	 pd;
	struct limits	 l;
	char		 err[256];

	child_burden();
	memset(&l, 0, sizeof(l));
	l.l_n = 1;
	l.l_ent[0].pl_resource = RLIMIT_NOFILE;
	l.l_ent[0].pl_value = 64;
	pd.pd_uid = TARGET_UID;
	pd.pd_gid = TARGET_GID;
	if (privdrop_last_cap(&pd.pd_last_cap, err, sizeof(err)) == -1 ||
	    privdrop_ids(&pd, err, sizeof(err)) == -1 ||
	    privdrop_limits(&l, err, sizeof(err)) == -1 ||
	    privdrop_nnp(err, sizeof(err)) == -1)
		child_fail("drop failed: %s", err);
	child_check(pd.pd_last_cap);
}

static void
test_full_drop(void **state)
{
	char	 out[256];

	in_child(child_full_drop, out, sizeof(out));
	if (out[0] != '\0')
		fail_msg("%s", out);
}

static void
child_refuse_root(void)
{
	struct privdrop	 pd;
	char		 err[256];

	if (privdrop_last_cap(&pd.pd_last_cap, err, sizeof(err)) == -1)
		child_fail("%s", err);
	pd.pd_uid = 0;
	pd.pd_gid = TARGET_GID;
	if (privdrop_ids(&pd, err, sizeof(err)) != -1)
		child_fail("dropped to uid 0");
	pd.pd_uid = TARGET_UID;
	pd.pd_gid = 0;
	if (privdrop_ids(&pd, err, sizeof(err)) != -1)
		child_fail("dropped to gid 0");
	/* Refused before anything changed: still root, bounding set whole. */
	if (geteuid() != 0 || prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0,
	    0) != 1)
		child_fail("a refused drop changed something");
}

static void
test_refuses_root_target(void **state)
{
	char	 out[256];

	in_child(child_refuse_root, out, sizeof(out));
	if (out[0] != '\0')
		fail_msg("%s", out);
}

/* A limit the kernel refuses (above the hard limit, as the new uid) is an
 * error naming the limit, not silence. */
static void
child_limit_refused(void)
{
	struct privdrop	 pd;
	struct limits	 l;
	char		 err[256];

	memset(&l, 0, sizeof(l));
	l.l_n = 1;
	l.l_ent[0].pl_resource = RLIMIT_NOFILE;
	l.l_ent[0].pl_value = 64;
	pd.pd_uid = TARGET_UID;
	pd.pd_gid = TARGET_GID;
	if (privdrop_last_cap(&pd.pd_last_cap, err, sizeof(err)) == -1 ||
	    privdrop_ids(&pd, err, sizeof(err)) == -1 ||
	    privdrop_limits(&l, err, sizeof(err)) == -1)
		child_fail("drop failed: %s", err);
	l.l_ent[0].pl_value = 128;
	if (privdrop_limits(&l, err, sizeof(err)) != -1)
		child_fail("a limit went up after the drop");
	if (strstr(err, "NOFILE") == NULL && strstr(err, "nofile") == NULL)
		child_fail("error does not name the limit: %s", err);
}

static void
test_limit_refused(void **state)
{
	char	 out[256];

	in_child(child_limit_refused, out, sizeof(out));
	if (out[0] != '\0')
		fail_msg("%s", out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_drop),
		cmocka_unit_test(test_refuses_root_target),
		cmocka_unit_test(test_limit_refused),
	};

	if (geteuid() != 0) {
		/* The suite runs as root (tests/run.sh); this is not a skip. */
		fprintf(stderr, "test_privdrop: must run as root\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
