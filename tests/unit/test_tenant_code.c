/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The tenant-code policy files tenantd-run reads: the deny list (the
 * seccomp format with "default allow" first), the mounts file, and the
 * shipped tenant-code.* files, which must parse and say what the runner's
 * sandbox promises (docs/security.md, items 26-30).
 */
#include <sys/resource.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <seccomp.h>

#include "policy.h"

#ifndef TEST_POLICY_DIR
#error TEST_POLICY_DIR must name the policy directory of the source tree
#endif

static char *
slurp(const char *name, size_t *len)
{
	char	 path[1024], *buf;
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", TEST_POLICY_DIR, name);
	assert_non_null(f = fopen(path, "re"));
	assert_non_null(buf = malloc(POLICY_FILE_MAX));
	*len = fread(buf, 1, POLICY_FILE_MAX, f);
	assert_true(*len < POLICY_FILE_MAX);
	fclose(f);
	return buf;
}

struct bad {
	const char	*text;
	const char	*what;		/* expected in the message */
};

enum parser { DENYLIST, ALLOWLIST, MOUNTS };

/* Each text must fail to parse, with `what` in the message. */
static void
expect_bad(enum parser p, const struct bad *b, size_t n)
{
	static struct policy	 pol;
	static struct mounts	 m;
	char			 err[256];
	size_t			 i;
	int			 r;

	for (i = 0; i < n; i++) {
		err[0] = '\0';
		r = p == DENYLIST ? denylist_parse(b[i].text, strlen(b[i].text),
		    &pol, err, sizeof(err)) : p == ALLOWLIST ?
		    policy_parse(b[i].text, strlen(b[i].text), &pol, err,
		    sizeof(err)) : mounts_parse(b[i].text, strlen(b[i].text),
		    &m, err, sizeof(err));
		if (r != -1)
			fail_msg("accepted: \"%s\"", b[i].text);
		if (strstr(err, b[i].what) == NULL)
			fail_msg("\"%s\": \"%s\" does not say \"%s\"",
			    b[i].text, err, b[i].what);
	}
}

/* The errno a syscall is denied with, or -1 if the list omits it. */
static int
denied_with(const struct policy *pol, const char *name)
{
	int	 nr = seccomp_syscall_resolve_name(name);
	size_t	 i = 0;

	while (i < pol->p_nrules && pol->p_rules[i].pr_nr != nr)
		i++;
	return i < pol->p_nrules ? pol->p_rules[i].pr_errno : -1;
}

static void
test_shipped_denylist(void **state)
{
	static struct policy	 pol;
	static const char *const denied[] = {
		"ptrace", "process_vm_readv", "process_vm_writev", "mount",
		"umount2", "pivot_root", "chroot", "unshare", "setns", "bpf",
		"perf_event_open", "keyctl", "add_key", "request_key",
		"io_uring_setup", "io_uring_enter", "io_uring_register",
		"userfaultfd", "init_module", "finit_module", "delete_module",
		"kexec_load", "kexec_file_load", "personality", "acct",
		"swapon", "swapoff", "reboot", "open_by_handle_at",
		"name_to_handle_at", "fsopen", "fsmount", "move_mount",
		"open_tree", "mount_setattr", "quotactl", "lookup_dcookie",
		"pidfd_getfd",
	};
	char	 err[256], *text;
	size_t	 len, i;

	text = slurp(RUN_SECCOMP_FILE, &len);
	if (denylist_parse(text, len, &pol, err, sizeof(err)) == -1)
		fail_msg("%s: %s", RUN_SECCOMP_FILE, err);
	assert_true(pol.p_default_allow);
	for (i = 0; i < pol.p_nrules; i++)
		assert_int_not_equal(pol.p_rules[i].pr_errno, 0);
	for (i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
		if (denied_with(&pol, denied[i]) != EPERM)
			fail_msg("%s is not denied with EPERM", denied[i]);
	/* glibc falls back to clone(), whose flags the runner filters. */
	assert_int_equal(denied_with(&pol, "clone3"), ENOSYS);
	/* Exec, fork and threads are what tenant code is made of. */
	assert_int_equal(denied_with(&pol, "execve"), -1);
	assert_int_equal(denied_with(&pol, "clone"), -1);
	/* A handler stopped and continued resumes its wait through it. */
	assert_int_equal(denied_with(&pol, "restart_syscall"), -1);

	/* A deny list is no allowlist, and the other way round. */
	assert_int_equal(policy_parse(text, len, &pol, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "expected"));
	free(text);
	text = slurp(POLICY_SECCOMP_FILE, &len);
	assert_int_equal(denylist_parse(text, len, &pol, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "default allow"));
	free(text);
}

static void
test_denylist_syntax(void **state)
{
	static struct policy	 pol;
	static const struct bad	 bad[] = {
		{ "", "starts with \"default allow\"" },
		{ "# only a comment\n", "starts with \"default allow\"" },
		{ "ptrace errno EPERM # x\n", "line 1: a deny list starts" },
		{ "default allow\n", "line 1: default: every line needs a "
		    "\"# why\"" },
		{ "default allow # x\ndefault allow # y\n", "line 2: " },
		{ "default allow # x\nbpf errno EPERM # y\ndefault allow # z\n",
		    "line 3: " },
		{ "default deny # x\n", "line 1: expected" },
		{ "allow default # x\n", "line 1: expected" },
		{ "default allow # x\nread # y\n",
		    "line 2: read: a deny list has only \"errno\" rules" },
		{ "default allow # x\nbpf errno # y\n", "line 2: expected" },
		{ "default allow # x\nbpf deny EPERM # y\n",
		    "line 2: expected \"errno\"" },
		{ "default allow # x\nbpf errno EWHAT # y\n",
		    "unknown errno \"EWHAT\"" },
		{ "default allow # x\nnot_a_call errno EPERM # y\n",
		    "unknown syscall \"not_a_call\"" },
		{ "default allow # x\nbpf errno EPERM # y\nbpf errno EACCES # z",
		    "line 3: bpf listed twice" },
		{ "default allow # x\nbpf errno EPERM\n", "line 2: bpf: " },
		{ "default allow # x\nbpf errno EPERM x # y\n",
		    "line 2: expected" },
	};
	static const char	 nul[] = "default allow # x\n\0bpf # y\n";
	const char		*good = "# head\n\ndefault allow\t# why\r\n"
	    "bpf errno EPERM # a\nclone3 errno ENOSYS # b";
	char			 err[256];

	assert_int_equal(denylist_parse(good, strlen(good), &pol, err,
	    sizeof(err)), 0);
	assert_true(pol.p_default_allow);
	assert_int_equal(pol.p_nrules, 2);
	assert_int_equal(pol.p_rules[1].pr_errno, ENOSYS);
	/* An empty deny list is a choice: everything is allowed. */
	assert_int_equal(denylist_parse("default allow # x", 17, &pol, err,
	    sizeof(err)), 0);
	assert_int_equal(pol.p_nrules, 0);
	expect_bad(DENYLIST, bad, sizeof(bad) / sizeof(bad[0]));
	assert_int_equal(denylist_parse(nul, sizeof(nul) - 1, &pol, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "NUL byte"));

	/* "default allow" in a worker's allowlist is refused. */
	expect_bad(ALLOWLIST, (const struct bad []){
	    { "default allow # x\nread # y\n", "line 1: expected" },
	    { "read # y\ndefault allow # x\n", "line 2: expected" } }, 2);
}

static const struct mount_ent *
find_mount(const struct mounts *m, int kind, const char *path)
{
	size_t	 i;

	for (i = 0; i < m->m_n; i++)
		if (m->m_ent[i].me_kind == kind &&
		    (path == NULL || strcmp(m->m_ent[i].me_path, path) == 0))
			return &m->m_ent[i];
	return NULL;
}

static void
test_shipped_mounts(void **state)
{
	static struct mounts	 m;
	const struct mount_ent	*e;
	char			 err[256], *text;
	size_t			 len;

	text = slurp(RUN_MOUNTS_FILE, &len);
	if (mounts_parse(text, len, &m, err, sizeof(err)) == -1)
		fail_msg("%s: %s", RUN_MOUNTS_FILE, err);
	free(text);
	assert_non_null(e = find_mount(&m, MOUNT_RO, "/usr"));
	assert_false(e->me_optional);
	assert_non_null(e = find_mount(&m, MOUNT_SYMLINK, "/bin"));
	assert_string_equal(e->me_target, "usr/bin");
	assert_non_null(e = find_mount(&m, MOUNT_TMP, NULL));
	assert_true(e->me_size == 16ULL << 20);
	assert_non_null(find_mount(&m, MOUNT_DEV, "null"));
	assert_non_null(find_mount(&m, MOUNT_DEV, "zero"));
	assert_non_null(find_mount(&m, MOUNT_DEV, "urandom"));
	/*
	 * Nothing of the host's state, and no /proc (docs/security.md,
	 * item 6).
	 */
	assert_null(find_mount(&m, MOUNT_RO, "/var"));
	assert_null(find_mount(&m, MOUNT_RO, "/etc"));
	assert_null(find_mount(&m, MOUNT_RO, "/sys"));
}

static void
test_shipped_limits(void **state)
{
	struct limits	 lim;
	char		 err[256], *text;
	size_t		 len, i;
	int		 seen = 0;

	text = slurp(RUN_LIMITS_FILE, &len);
	if (limits_parse(text, len, &lim, err, sizeof(err)) == -1)
		fail_msg("%s: %s", RUN_LIMITS_FILE, err);
	free(text);
	for (i = 0; i < lim.l_n; i++)
		switch (lim.l_ent[i].pl_resource) {
		case RLIMIT_CORE:
		case RLIMIT_MEMLOCK:
			assert_true(lim.l_ent[i].pl_value == 0);
			seen++;
			break;
		case RLIMIT_NPROC:
			/* Bounded, and not 0: handlers may fork. */
			assert_true(lim.l_ent[i].pl_value > 1 &&
			    lim.l_ent[i].pl_value <= 256);
			seen++;
			break;
		}
	assert_int_equal(seen, 3);
}

static void
test_mounts_syntax(void **state)
{
	static struct mounts	 m;
	static const struct bad	 bad[] = {
		{ "ro usr # x", "line 1: \"usr\": not a plain absolute path" },
		{ "ro / # x", "not a plain absolute path" },
		{ "ro /usr/../etc # x", "not a plain absolute path" },
		{ "ro /usr/./lib # x", "not a plain absolute path" },
		{ "ro /usr/ # x", "not a plain absolute path" },
		{ "ro //usr # x", "not a plain absolute path" },
		{ "ro /us r # x", "expected" },
		{ "ro /usr$ # x", "not a plain absolute path" },
		{ "ro /proc # x", "tenantd-run makes /proc itself" },
		{ "ro /proc/self # x", "makes /proc" },
		{ "ro /tmp # x", "makes /tmp" },
		{ "ro /tenant/app # x", "makes /tenant" },
		{ "ro? /dev # x", "makes /dev" },
		{ "symlink /tenant usr # x", "makes /tenant" },
		{ "ro /tenants # x\nro /tmpx # y\nro /usr # z\nro /usr # w",
		    "line 4: /usr and /usr nest" },
		{ "ro /usr # x\nro /usr/lib # y", "line 2: /usr/lib and /usr "
		    "nest" },
		{ "ro /etc/ssl # x\nro /etc # y", "line 2: /etc and /etc/ssl "
		    "nest" },
		{ "symlink /bin usr/bin # x\nro /bin/sh # y", "nest" },
		{ "symlink /bin ../usr/bin # x", "target \"../usr/bin\"" },
		{ "symlink /bin usr/bin/ # x", "not a plain path" },
		{ "symlink /bin # x", "line 1: expected \"ro <path>\"" },
		{ "ro /usr /lib # x", "line 1: expected \"ro <path>\"" },
		{ "ro? /usr /lib # x", "expected" },
		{ "symlink? /bin usr/bin # x", "expected" },
		{ "rw /usr # x", "expected" },
		{ "tmp # x", "expected" },
		{ "tmp 16M # x\ntmp 1M # y", "line 2: tmp set twice" },
		{ "tmp 16 # x", "bad size \"16\"" },
		{ "tmp 16MB # x", "bad size" },
		{ "tmp -1M # x", "bad size" },
		{ "tmp 0K # x", "size 0" },
		{ "tmp 99999999999999999999G # x", "bad size" },
		{ "dev sda # x", "dev \"sda\": only" },
		{ "dev ../null # x", "only" },
		{ "dev null # x\ndev null # y", "line 2: dev null listed twice" },
		{ "ro /usr", "line 1: ro: every line needs a \"# why\"" },
		{ "ro /usr #", "\"# why\"" },
		{ "ro /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa # x",
		    "expected" },
	};
	const char	*good = "# c\n\nro /usr\t# a\r\n"
	    "ro? /etc/no-such-thing # b\nsymlink /lib64 /usr/lib64 # c\n"
	    "tmp 1G # d\ndev urandom # e\nro /etc/ssl # f\n"
	    "ro /etc/ld.so.cache # g\nro /opt/x_y+z-1.2 # h";
	char		 err[256], big[64 * 70];
	size_t		 len = 0;
	int		 i;

	assert_int_equal(mounts_parse("", 0, &m, err, sizeof(err)), 0);
	assert_int_equal(m.m_n, 0);
	assert_int_equal(mounts_parse(good, strlen(good), &m, err,
	    sizeof(err)), 0);
	assert_int_equal(m.m_n, 8);
	assert_int_equal(m.m_ent[1].me_kind, MOUNT_RO);
	assert_true(m.m_ent[1].me_optional);
	assert_string_equal(m.m_ent[1].me_path, "/etc/no-such-thing");
	assert_string_equal(m.m_ent[2].me_target, "/usr/lib64");
	assert_true(m.m_ent[3].me_size == 1ULL << 30);
	assert_string_equal(m.m_ent[4].me_path, "urandom");
	expect_bad(MOUNTS, bad, sizeof(bad) / sizeof(bad[0]));

	/* At most MOUNTS_MAX entries. */
	for (i = 0; i <= MOUNTS_MAX; i++)
		len += (size_t)snprintf(big + len, sizeof(big) - len,
		    "ro /m%d # x\n", i);
	assert_int_equal(mounts_parse(big, len, &m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than"));
	len = (size_t)((char *)memrchr(big, 'r', len) - big);
	assert_int_equal(mounts_parse(big, len, &m, err, sizeof(err)), 0);
	assert_int_equal(m.m_n, MOUNTS_MAX);
}

/* The shipped tenant-code.cgroup parses and bounds every tenant. */
static void
test_shipped_cgroup(void **state)
{
	struct cgroup_policy	 cg;
	char			 err[256], *buf;
	size_t			 len;

	(void)state;
	buf = slurp(RUN_CGROUP_FILE, &len);
	if (cgroup_parse(buf, len, &cg, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	free(buf);
	/* The default weight: every tenant the same share. */
	assert_int_equal(cg.cg_cpu_weight, 100);
	assert_int_equal(cg.cg_memory, 512ULL << 20);
	assert_int_equal(cg.cg_pids, 256);
	assert_int_equal(cg.cg_cpu_idle, 1);
}

static void
test_cgroup_syntax(void **state)
{
	static const struct bad	 bad[] = {
		{ "cpu_weight 100 # a\nmemory 1G # b\n", "pids is not set" },
		{ "cpu_weight 100\nmemory 1G # b\npids 9 # c\n", "line 1" },
		{ "cpu_weight 0 # a\nmemory 1G # b\npids 9 # c\n",
		    "out of range" },
		{ "cpu_weight 10001 # a\nmemory 1G # b\npids 9 # c\n",
		    "out of range" },
		{ "cpu_weight 1K # a\nmemory 1G # b\npids 9 # c\n",
		    "bad value" },
		{ "cpu_weight 100 # a\nmemory 1M # b\npids 9 # c\n",
		    "out of range" },
		{ "cpu_weight 100 # a\nmemory 1T # b\npids 9 # c\n",
		    "bad value" },
		{ "cpu_weight 100 # a\nmemory -1 # b\npids 9 # c\n",
		    "bad value" },
		{ "cpu_weight 100 # a\nmemory 1G # b\npids 7 # c\n",
		    "out of range" },
		{ "cpu_weight 100 # a\nmemory 1G # b\npids 4294967296 # c\n",
		    "out of range" },
		{ "cpu_weight 100 # a\nmemory 1G # b\npids 9 # c\n"
		    "pids 10 # d\n", "set twice" },
		{ "cpu_weight 100 # a\nmemory 1G # b\npids 9 # c\n"
		    "io 10 # d\n", "unknown setting" },
		{ "cpu_weight 100 # a\nmemory 1G # b\npids 9 9 # c\n",
		    "line 3" },
		{ "cpu_weight 100 # a\nmemory 1G # b\npids 9 # c\n"
		    "cpu_idle 1 # d\n", "not yes or no" },
		{ "cpu_weight 100 # a\nmemory 1G # b\npids 9 # c\n"
		    "cpu_idle no # d\ncpu_idle no # e\n", "set twice" },
	};
	struct cgroup_policy	 cg;
	const char		*good = "# a comment\n\npids 8 # floor\n"
	    "memory 16M # floor\ncpu_weight 10000 # top\n";
	char			 err[256];
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (cgroup_parse(bad[i].text, strlen(bad[i].text), &cg, err,
		    sizeof(err)) != -1)
			fail_msg("accepted: \"%s\"", bad[i].text);
		if (strstr(err, bad[i].what) == NULL)
			fail_msg("\"%s\": \"%s\" does not say \"%s\"",
			    bad[i].text, err, bad[i].what);
	}
	if (cgroup_parse(good, strlen(good), &cg, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_int_equal(cg.cg_cpu_weight, 10000);
	assert_int_equal(cg.cg_memory, 16ULL << 20);
	assert_int_equal(cg.cg_pids, 8);
	/* Left out: the default. */
	assert_int_equal(cg.cg_cpu_idle, 1);
	good = "cpu_idle no # x\npids 8 # y\nmemory 16M # z\n"
	    "cpu_weight 1 # w\n";
	if (cgroup_parse(good, strlen(good), &cg, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_int_equal(cg.cg_cpu_idle, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_denylist),
		cmocka_unit_test(test_denylist_syntax),
		cmocka_unit_test(test_shipped_mounts),
		cmocka_unit_test(test_shipped_limits),
		cmocka_unit_test(test_mounts_syntax),
		cmocka_unit_test(test_shipped_cgroup),
		cmocka_unit_test(test_cgroup_syntax),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
