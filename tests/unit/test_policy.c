/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Policy file parsers (negative fixtures after minijail's invalid_*.policy):
 * the shipped worker.seccomp and worker.limits must parse, must not allow
 * the calls docs/security.md, items 26-30 name, and every negative fixture in
 * fixtures/ must fail with the line it failed on.
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
#ifndef TEST_FIXTURE_DIR
#error TEST_FIXTURE_DIR must name tests/unit/fixtures
#endif

static char *
slurp(const char *dir, const char *name, size_t *len)
{
	char	 path[1024], *buf;
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "re")) == NULL) {
		print_error("%s: %s\n", path, strerror(errno));
		fail();
	}
	assert_non_null(buf = malloc(POLICY_FILE_MAX + 1));
	*len = fread(buf, 1, POLICY_FILE_MAX + 1, f);
	assert_false(ferror(f));
	assert_true(*len <= POLICY_FILE_MAX);
	fclose(f);
	return buf;
}

static int
parse_policy_str(const char *s, struct policy *pol, char *err, size_t errsz)
{
	return policy_parse(s, strlen(s), pol, err, errsz);
}

static int
parse_limits_str(const char *s, struct limits *lim, char *err, size_t errsz)
{
	return limits_parse(s, strlen(s), lim, err, errsz);
}

static const struct policy_rule *
find_rule(const struct policy *pol, const char *name)
{
	size_t	 i;

	for (i = 0; i < pol->p_nrules; i++)
		if (strcmp(pol->p_rules[i].pr_name, name) == 0)
			return &pol->p_rules[i];
	return NULL;
}

static void
test_shipped_seccomp(void **state)
{
	static struct policy	 pol;
	static const char *const never[] = {
		/*
		 * docs/security.md, items 26-30: none of these may ever be
		 * allowed.
		 */
		"execve", "execveat", "fork", "vfork", "clone", "clone3",
		"ptrace", "process_vm_readv", "process_vm_writev",
		"pidfd_getfd", "pidfd_open", "kcmp", "bpf", "perf_event_open",
		"userfaultfd", "keyctl", "add_key", "request_key", "mount",
		"umount2", "pivot_root", "chroot", "unshare", "setns",
		"init_module", "finit_module", "delete_module", "swapon",
		"reboot", "acct", "personality", "shmget", "msgget", "semget",
		"mq_open", "io_uring_setup", "io_uring_enter",
		"io_uring_register", "socket", "socketpair", "connect", "bind",
		"listen", "kill", "tkill", "tgkill", "setuid", "setresuid",
		"setgid", "setresgid", "setgroups", "capset", "prctl",
		"seccomp", "ioctl", "open", "openat", "memfd_create",
		"memfd_secret", "open_by_handle_at", "name_to_handle_at",
		"setpriority", "sched_setaffinity", "ioprio_set", "prlimit64",
		"setrlimit", "mknod", "mknodat", "chmod", "fchmod", "fchmodat",
		"chown", "fchown", "fchownat", "lchown", "symlink", "link",
		"unlink", "rename", "mkdir", "rmdir", "truncate",
		"landlock_create_ruleset", "quotactl", "syslog", "vhangup",
		"mbind", "migrate_pages", "move_pages", "lookup_dcookie",
		"fanotify_init", "inotify_init1", "nfsservctl",
		"kexec_load", "kexec_file_load", "iopl", "ioperm", "uselib",
		"ustat", "sysfs", "_sysctl", "modify_ldt", "settimeofday",
		"clock_settime", "adjtimex", "clock_adjtime", "sethostname",
		"setdomainname",
	};
	const struct policy_rule	*r;
	char				 err[256], *text;
	size_t				 len, i;

	text = slurp(TEST_POLICY_DIR, POLICY_SECCOMP_FILE, &len);
	if (policy_parse(text, len, &pol, err, sizeof(err)) == -1) {
		print_error("%s: %s\n", POLICY_SECCOMP_FILE, err);
		fail();
	}
	free(text);
	assert_true(pol.p_nrules > 10);
	for (i = 0; i < pol.p_nrules; i++) {
		r = &pol.p_rules[i];
		assert_int_equal(r->pr_nr,
		    seccomp_syscall_resolve_name(r->pr_name));
		assert_true(r->pr_nr >= 0);
	}
	/* What a worker cannot serve without. */
	assert_non_null(r = find_rule(&pol, "read"));
	assert_int_equal(r->pr_errno, 0);
	assert_non_null(find_rule(&pol, "recvmsg"));
	assert_non_null(find_rule(&pol, "exit_group"));
	assert_non_null(find_rule(&pol, "openat2"));
	/* A handler's stdin ends by a half close (worker/cgi.c). */
	assert_non_null(find_rule(&pol, "shutdown"));
	/*
	 * A worker stopped in poll() and continued (SIGSTOP, the cgroup
	 * freezer) resumes through restart_syscall, not through poll.
	 */
	assert_non_null(r = find_rule(&pol, "restart_syscall"));
	assert_int_equal(r->pr_errno, 0);
	for (i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
		r = find_rule(&pol, never[i]);
		if (r != NULL && r->pr_errno == 0) {
			print_error("%s allows %s\n", POLICY_SECCOMP_FILE,
			    never[i]);
			fail();
		}
	}
}

static rlim_t
limit_of(const struct limits *lim, int resource)
{
	size_t	 i;

	for (i = 0; i < lim->l_n; i++)
		if (lim->l_ent[i].pl_resource == resource)
			return lim->l_ent[i].pl_value;
	print_error("%s not set\n", limits_name(resource));
	fail();
	return 0;
}

static void
test_shipped_limits(void **state)
{
	struct limits	 lim;
	char		 err[256], *text;
	size_t		 len;

	text = slurp(TEST_POLICY_DIR, POLICY_LIMITS_FILE, &len);
	if (limits_parse(text, len, &lim, err, sizeof(err)) == -1) {
		print_error("%s: %s\n", POLICY_LIMITS_FILE, err);
		fail();
	}
	free(text);
	/*
	 * docs/security.md, items 11, 40, 45: no cores, no forks, a small fd
	 * table.
	 */
	assert_true(limit_of(&lim, RLIMIT_CORE) == 0);
	assert_true(limit_of(&lim, RLIMIT_NPROC) == 0);
	assert_true(limit_of(&lim, RLIMIT_NOFILE) >= 16);
	assert_true(limit_of(&lim, RLIMIT_NOFILE) != RLIM_INFINITY);
	assert_true(limit_of(&lim, RLIMIT_FSIZE) == 1024ULL << 30);
	assert_true(limit_of(&lim, RLIMIT_AS) == 512ULL << 20);
	assert_true(limit_of(&lim, RLIMIT_STACK) == 8ULL << 20);
	assert_string_equal(limits_name(RLIMIT_NOFILE), "nofile");
	assert_string_equal(limits_name(-1), "unknown");
}

struct fixture {
	const char	*file;
	int		 line;		/* 0: a whole-file error */
	const char	*what;		/* expected in the message */
};

static const struct fixture policy_fixtures[] = {
	{ "invalid_syscall_name.policy", 4,
	    "unknown syscall \"not_a_syscall\"" },
	{ "missing_reason.policy", 4, "\"# why\"" },
	{ "empty_reason.policy", 2, "\"# why\"" },
	{ "duplicate.policy", 5, "read listed twice" },
	{ "bad_errno.policy", 2, "unknown errno \"EWHATEVER\"" },
	{ "too_many_words.policy", 3, "expected" },
	/* Whole-file checks: there is no one line to name. */
	{ "nul_byte.policy", 0, "NUL byte" },
	{ "empty.policy", 0, "no syscall" },
};

static const struct fixture limits_fixtures[] = {
	{ "limits_unknown_resource.limits", 3, "unknown resource \"rss\"" },
	{ "limits_bad_value.limits", 2, "bad value \"64MB\"" },
	{ "limits_nofile_too_low.limits", 3, "nofile below 16" },
	{ "limits_missing_reason.limits", 2, "\"# why\"" },
	{ "limits_duplicate.limits", 4, "nofile set twice" },
};

static void
check_error(const struct fixture *fx, const char *err)
{
	char	 want[32];

	if (fx->line != 0) {
		snprintf(want, sizeof(want), "line %d: ", fx->line);
		if (strncmp(err, want, strlen(want)) != 0) {
			print_error("%s: \"%s\" does not start with \"%s\"\n",
			    fx->file, err, want);
			fail();
		}
	}
	if (strstr(err, fx->what) == NULL) {
		print_error("%s: \"%s\" does not say \"%s\"\n", fx->file, err,
		    fx->what);
		fail();
	}
}

static void
test_policy_fixtures(void **state)
{
	static struct policy	 pol;
	char			 err[256], *text;
	size_t			 len, i;

	for (i = 0; i < sizeof(policy_fixtures) / sizeof(policy_fixtures[0]);
	    i++) {
		text = slurp(TEST_FIXTURE_DIR, policy_fixtures[i].file, &len);
		err[0] = '\0';
		if (policy_parse(text, len, &pol, err, sizeof(err)) != -1) {
			print_error("%s was accepted\n",
			    policy_fixtures[i].file);
			fail();
		}
		check_error(&policy_fixtures[i], err);
		free(text);
	}
}

static void
test_limits_fixtures(void **state)
{
	struct limits	 lim;
	char		 err[256], *text;
	size_t		 len, i;

	for (i = 0; i < sizeof(limits_fixtures) / sizeof(limits_fixtures[0]);
	    i++) {
		text = slurp(TEST_FIXTURE_DIR, limits_fixtures[i].file, &len);
		err[0] = '\0';
		if (limits_parse(text, len, &lim, err, sizeof(err)) != -1) {
			print_error("%s was accepted\n",
			    limits_fixtures[i].file);
			fail();
		}
		check_error(&limits_fixtures[i], err);
		free(text);
	}
}

static void
test_policy_syntax(void **state)
{
	static struct policy	 pol;
	char			 err[256], big[64 * 300], name[64];
	const char		*n;
	size_t			 len;
	int			 nr, count;

	/* Comments, blank lines, CRLF, tabs; an errno rule. */
	assert_int_equal(parse_policy_str("# head\n\n\tread\t# why\r\n"
	    "openat errno EACCES # probe, not a kill\n  \n# end", &pol, err,
	    sizeof(err)), 0);
	assert_int_equal(pol.p_nrules, 2);
	assert_int_equal(pol.p_rules[0].pr_errno, 0);
	assert_string_equal(pol.p_rules[1].pr_name, "openat");
	assert_int_equal(pol.p_rules[1].pr_errno, EACCES);

	/* No newline at the end is fine. */
	assert_int_equal(parse_policy_str("read # why", &pol, err,
	    sizeof(err)), 0);

	/* Two words, or a second word other than "errno". */
	assert_int_equal(parse_policy_str("read errno # why\n", &pol, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "line 1: "));
	assert_int_equal(parse_policy_str("# x\nread ERRNO EPERM # why\n",
	    &pol, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "line 2: expected \"errno\""));
	assert_int_equal(parse_policy_str("read errno eperm # why\n", &pol,
	    err, sizeof(err)), -1);

	/* A name as long as a word may be is refused, not truncated. */
	memset(name, 'r', sizeof(name));
	snprintf(name + 48, 16, " # why");
	assert_int_equal(parse_policy_str(name, &pol, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "line 1: "));

	/* The same syscall under its one name twice. */
	assert_int_equal(parse_policy_str("read # a\nwrite # b\n"
	    "read errno EPERM # c\n", &pol, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "line 3: "));

	/* At most POLICY_MAX_RULES rules: build one more than that. */
	len = 0;
	count = 0;
	for (nr = 0; nr < 1000 && count <= POLICY_MAX_RULES; nr++) {
		if ((n = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE,
		    nr)) == NULL)
			continue;
		len += (size_t)snprintf(big + len, sizeof(big) - len,
		    "%s # rule %d\n", n, count);
		free((void *)n);
		count++;
	}
	assert_int_equal(count, POLICY_MAX_RULES + 1);
	assert_int_equal(policy_parse(big, len, &pol, err, sizeof(err)), -1);
	snprintf(name, sizeof(name), "line %d: ", POLICY_MAX_RULES + 1);
	assert_non_null(strstr(err, name));
	/* ...and exactly the maximum is fine. */
	len = (size_t)(strrchr(big, '#') - big);
	len = (size_t)((char *)memrchr(big, '\n', len) - big) + 1;
	assert_int_equal(policy_parse(big, len, &pol, err, sizeof(err)), 0);
	assert_int_equal(pol.p_nrules, POLICY_MAX_RULES);
}

static void
test_limits_syntax(void **state)
{
	/* Values that are not a plain number with one unit. */
	static const char *const bad[] = {
		"fsize -1 # x", "fsize +1 # x", "fsize 0x10 # x",
		"fsize 1KB # x", "fsize 1k # x", "fsize 1.5M # x",
		"fsize K # x", "fsize 1 2 # x", "fsize # x",
		"fsize 99999999999999999999 # x",
		"fsize 17179869184G # x", "fsize Unlimited # x",
		"fsize infinity # x", "fsize 1T # x", "FSIZE 1 # x",
	};
	struct limits	 lim;
	char		 err[256];
	size_t		 i;

	assert_int_equal(parse_limits_str("", &lim, err, sizeof(err)), 0);
	assert_int_equal(lim.l_n, 0);
	assert_int_equal(parse_limits_str("# c\n\nfsize 1K # a\r\n"
	    "data 2M # b\nas 3G # c\ncpu unlimited # d\nnofile 16 # e",
	    &lim, err, sizeof(err)), 0);
	assert_int_equal(lim.l_n, 5);
	assert_true(lim.l_ent[0].pl_value == 1024);
	assert_true(lim.l_ent[1].pl_value == 2ULL << 20);
	assert_true(lim.l_ent[2].pl_value == 3ULL << 30);
	assert_true(lim.l_ent[3].pl_value == RLIM_INFINITY);
	assert_true(lim.l_ent[4].pl_value == 16);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_limits_str(bad[i], &lim, err, sizeof(err)) != -1) {
			print_error("\"%s\" was accepted\n", bad[i]);
			fail();
		}
		assert_non_null(strstr(err, "line 1: "));
	}

	/* The largest value that fits is fine. */
	assert_int_equal(parse_limits_str("fsize 17179869183G # x", &lim, err,
	    sizeof(err)), 0);
	assert_int_equal(parse_limits_str("nofile 15 # x", &lim, err,
	    sizeof(err)), -1);
	assert_int_equal(parse_limits_str("nofile 0 # x", &lim, err,
	    sizeof(err)), -1);
	assert_int_equal(parse_limits_str("nofile 16\n", &lim, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "line 1: "));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_seccomp),
		cmocka_unit_test(test_shipped_limits),
		cmocka_unit_test(test_policy_fixtures),
		cmocka_unit_test(test_limits_fixtures),
		cmocka_unit_test(test_policy_syntax),
		cmocka_unit_test(test_limits_syntax),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
