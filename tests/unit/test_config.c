/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * tenantd.conf: built-in defaults, a file setting every key, the errors a
 * mistyped file must produce (with the line that caused them), durations,
 * modes, the checks across keys, and config_dump() output loading back to
 * the very same configuration.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static char	 tmpdir[] = "/tmp/test_config.XXXXXX";
static char	 cpath[PATH_MAX];

static int
setup(void **state)
{
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(cpath, sizeof(cpath), "%s/tenantd.conf", tmpdir);
	return 0;
}

static int
teardown(void **state)
{
	char	 p[PATH_MAX];

	unlink(cpath);
	snprintf(p, sizeof(p), "%s/dump.conf", tmpdir);
	unlink(p);
	return rmdir(tmpdir);
}

static void
write_conf(const char *text)
{
	FILE	*f;

	assert_non_null(f = fopen(cpath, "we"));
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Load text; on failure the message, else NULL. */
static const char *
load(struct config *c, const char *text)
{
	static char	 err[1024];

	write_conf(text);
	err[0] = '\0';
	if (config_load(c, cpath, 0, err, sizeof(err)) == 0)
		return NULL;
	return err;
}

/*
 * Mismatches are counted rather than fatal, so one run reports every
 * wrong case of a test; each test ends with all_passed().
 */
static int	 failures;

static void
all_passed(void)
{
	int	 n = failures;

	failures = 0;
	assert_int_equal(n, 0);
}

static void
expect_ok(struct config *c, const char *text)
{
	const char	*e;

	if ((e = load(c, text)) != NULL) {
		print_error("refused: %s\n--\n%s\n--\n", e, text);
		fail();
	}
}

/* The message names the file, then "line N: " when given, then what. */
static void
expect_err(const char *text, int line, const char *what)
{
	struct config	 c;
	const char	*e;
	char		 want[PATH_MAX + 32];

	if ((e = load(&c, text)) == NULL) {
		print_error("accepted:\n--\n%s\n--\n", text);
		failures++;
		return;
	}
	if (line > 0)
		snprintf(want, sizeof(want), "%s: line %d: ", cpath, line);
	else
		snprintf(want, sizeof(want), "%s: ", cpath);
	if (strncmp(e, want, strlen(want)) != 0 || strstr(e, what) == NULL) {
		print_error("got \"%s\"\nwant \"%s...%s\"\n", e, want, what);
		failures++;
	}
}

static void
test_defaults(void **state)
{
	struct config	 c;
	char		 err[256];

	config_defaults(&c);
	assert_string_equal(c.c_suffix, "localhost");
	assert_string_equal(c.c_admin_host, "admin.localhost");
	assert_string_equal(c.c_socket, "");
	assert_string_equal(c.c_socket_group, "");
	assert_int_equal(c.c_socket_mode, 0660);
	assert_int_equal(c.c_head_max, 8192);
	assert_int_equal(c.c_target_max, 4096);
	assert_int_equal(c.c_header_timeout_ms, 10000);
	assert_int_equal(c.c_first_byte_timeout_ms, 2000);
	assert_int_equal(c.c_max_reading, 1024);
	assert_int_equal(c.c_max_silent, 256);
	assert_int_equal(c.c_spares, 2);
	assert_int_equal(c.c_max_workers, 1000);
	assert_int_equal(c.c_workers_per_tenant, 4);
	assert_int_equal(c.c_conns_per_worker, 64);
	assert_int_equal(c.c_queue_max, 64);
	assert_int_equal(c.c_start_timeout_ms, 5000);
	assert_int_equal(c.c_idle_timeout_ms, 60000);
	assert_int_equal(c.c_keepalive_timeout_ms, 15000);
	assert_int_equal(c.c_max_requests, 0);
	assert_int_equal(c.c_backoff_min_ms, 1000);
	assert_int_equal(c.c_backoff_max_ms, 60000);
	assert_int_equal(c.c_crash_window_ms, 10000);
	assert_int_equal(c.c_drain_timeout_ms, 10000);
	assert_int_equal(c.c_uid_min, 200000);
	assert_int_equal(c.c_uid_max, 299999);
	assert_int_equal(c.c_verbose, 0);
	assert_string_equal(c.c_run_dir, "/run/tenantd");

	/* A missing optional file is the defaults, finished. */
	unlink(cpath);
	assert_int_equal(config_load(&c, cpath, 1, err, sizeof(err)), 0);
	assert_string_equal(c.c_file, "");
	assert_string_equal(c.c_socket, "/run/tenantd/http.sock");
	assert_string_equal(c.c_hosts.hc_suffix, "localhost");
	assert_string_equal(c.c_hosts.hc_admin, "admin.localhost");

	/* A missing required one is an error naming it. */
	assert_int_equal(config_load(&c, cpath, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, cpath));
	assert_non_null(strstr(err, strerror(ENOENT)));

	/* An empty file is the defaults too. */
	expect_ok(&c, "");
	assert_string_equal(c.c_file, cpath);
	assert_int_equal(c.c_head_max, 8192);
}

static const char every_key[] =
    "; every key, none at its default\n"
    "[paths]\n"
    "state_dir = /srv/tenantd/state\n"
    "run_dir = /srv/tenantd/run\n"
    "worker = /opt/tenantd/libexec/tenantd-worker\n"
    "policy_dir = /opt/tenantd/policy\n"
    "[hosts]\n"
    "suffix = App.Example.COM\n"
    "admin = admin.example.com\n"
    "[proxy]\n"
    "socket = /srv/tenantd/run/proxy.sock\n"
    "socket_group = haproxy\n"
    "socket_mode = 0600\n"
    "head_max = 16000\n"
    "target_max = 8000\n"
    "header_timeout = 2500ms\n"
    "first_byte_timeout = 300ms\n"
    "max_reading = 77\n"
    "max_silent = 9\n"
    "[workers]\n"
    "spares = 0\n"
    "max_workers = 100000\n"
    "per_tenant = 256\n"
    "conns_per_worker = 1024\n"
    "queue_max = 4096\n"
    "start_timeout = 1.5s\n"
    "idle_timeout = 2min\n"
    "keepalive_timeout = 100ms\n"
    "max_requests = 4000000000\n"
    "backoff_min = 250ms\n"
    "backoff_max = 60min\n"
    "crash_window = 3s\n"
    "drain_timeout = 7\n"
    "[tenants]\n"
    "uid_min = 1000\n"
    "uid_max = 4000000000\n"
    "[log]\n"
    "verbose = yes\n";

static void
test_every_key(void **state)
{
	struct config	 c;

	expect_ok(&c, every_key);
	assert_string_equal(c.c_state_dir, "/srv/tenantd/state");
	assert_string_equal(c.c_run_dir, "/srv/tenantd/run");
	assert_string_equal(c.c_worker, "/opt/tenantd/libexec/tenantd-worker");
	assert_string_equal(c.c_policy_dir, "/opt/tenantd/policy");
	assert_string_equal(c.c_suffix, "App.Example.COM");
	assert_string_equal(c.c_hosts.hc_suffix, "app.example.com");
	assert_string_equal(c.c_admin_host, "admin.example.com");
	assert_string_equal(c.c_socket, "/srv/tenantd/run/proxy.sock");
	assert_string_equal(c.c_socket_group, "haproxy");
	assert_int_equal(c.c_socket_mode, 0600);
	assert_int_equal(c.c_head_max, 16000);
	assert_int_equal(c.c_target_max, 8000);
	assert_int_equal(c.c_header_timeout_ms, 2500);
	assert_int_equal(c.c_first_byte_timeout_ms, 300);
	assert_int_equal(c.c_max_reading, 77);
	assert_int_equal(c.c_max_silent, 9);
	assert_int_equal(c.c_spares, 0);
	assert_int_equal(c.c_max_workers, 100000);
	assert_int_equal(c.c_workers_per_tenant, 256);
	assert_int_equal(c.c_conns_per_worker, 1024);
	assert_int_equal(c.c_queue_max, 4096);
	assert_int_equal(c.c_start_timeout_ms, 1500);
	assert_int_equal(c.c_idle_timeout_ms, 120000);
	assert_int_equal(c.c_keepalive_timeout_ms, 100);
	assert_int_equal(c.c_max_requests, 4000000000U);
	assert_int_equal(c.c_backoff_min_ms, 250);
	assert_int_equal(c.c_backoff_max_ms, 3600000);
	assert_int_equal(c.c_crash_window_ms, 3000);
	assert_int_equal(c.c_drain_timeout_ms, 7000);
	assert_int_equal(c.c_uid_min, 1000);
	assert_int_equal(c.c_uid_max, 4000000000U);
	assert_int_equal(c.c_verbose, 1);
}

static void
test_unknown_and_duplicate(void **state)
{
	expect_err("[proxy]\nhead_max = 2048\nheadmax = 2048\n", 3,
	    "unknown key \"headmax\" in [proxy]");
	expect_err("[proxy]\nhead_max = 2048\n\n[proxies]\nx = 1\n", 5,
	    "unknown section [proxies]");
	/* A key in the wrong section is unknown there. */
	expect_err("[workers]\nhead_max = 2048\n", 2,
	    "unknown key \"head_max\" in [workers]");
	/* Before any section. */
	expect_err("head_max = 2048\n", 1, "unknown section []");
	expect_err("[proxy]\nhead_max = 2048\n[log]\nverbose = 1\n"
	    "[proxy]\nhead_max = 4096\n", 6, "[proxy] head_max is set twice");
	expect_err("[hosts]\nsuffix = a.b\nsuffix = a.b\n", 3, "set twice");
	/* Not key = value at all. */
	expect_err("[proxy]\nhead_max 2048\n", 2, "syntax error");
	all_passed();
}

/*
 * The message must describe the line it names: the first error, not a
 * later one reported under the first one's line number.
 */
static void
test_first_error_wins(void **state)
{
	expect_err("[proxy]\nbogus_one = 1\nhead_max = 2048\nbogus_two = 2\n",
	    2, "unknown key \"bogus_one\"");
	expect_err("[proxy]\nhead_max 2048\n[nope]\nx = 1\n", 2,
	    "syntax error");
	expect_err("[proxy]\nhead_max = 1\nhead_max = 2\n", 2,
	    "out of range");
	expect_err("[proxy\nhead_max = 2048\n", 1, "syntax error");
	all_passed();
}

static void
test_ranges_and_numbers(void **state)
{
	struct config	 c;

	expect_ok(&c, "[proxy]\nhead_max = 1024\ntarget_max = 256\n");
	assert_int_equal(c.c_head_max, 1024);
	expect_err("[proxy]\nhead_max = 1023\n", 2,
	    "[proxy] head_max: 1023 is out of range (1024..16000)");
	expect_err("[proxy]\nhead_max = 16001\n", 2, "out of range");
	expect_err("[proxy]\ntarget_max = 255\n", 2, "out of range");
	expect_err("[workers]\nspares = 65\n", 2, "out of range");
	expect_err("[workers]\nmax_workers = 0\n", 2, "out of range");
	expect_err("[tenants]\nuid_min = 999\n", 2, "out of range");
	expect_err("[tenants]\nuid_max = 4000000001\n", 2, "out of range");
	expect_err("[tenants]\nuid_max = 18446744073709551616\n", 2,
	    "expected a number");
	expect_err("[proxy]\nhead_max = -2048\n", 2, "expected a number");
	expect_err("[proxy]\nhead_max = 2k\n", 2, "expected a number");
	expect_err("[proxy]\nhead_max = 0x800\n", 2, "expected a number");
	expect_err("[proxy]\nhead_max = \n", 2, "expected a number");
	expect_err("[proxy]\nhead_max = 20 48\n", 2, "expected a number");
	/* Strings have a size. */
	expect_err("[proxy]\nsocket_group = "
	    "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij"
	    "abcd\n", 2, "[proxy] socket_group: longer than 63 bytes");
	all_passed();
}

static void
test_durations(void **state)
{
	static const struct {
		const char	*v;
		unsigned int	 ms;	/* 0: refused */
	} d[] = {
		{ "500ms", 500 }, { "10s", 10000 }, { "2min", 120000 },
		{ "1.5s", 1500 }, { "7", 7000 }, { "0.1", 100 },
		{ "100ms", 100 }, { "600s", 600000 }, { "10min", 600000 },
		{ "99ms", 0 }, { "601s", 0 }, { "11min", 0 },
		{ "10 s", 0 }, { "10sec", 0 }, { "1h", 0 }, { "10S", 0 },
		{ "ms", 0 }, { "s", 0 }, { "", 0 }, { "-1s", 0 },
		{ "-0.5", 0 }, { "inf", 0 }, { "infinity", 0 }, { "nan", 0 },
		{ "1e10s", 0 }, { "99999999999999999999min", 0 },
		{ "0.05s", 0 },
		/* Decimal fractions are exact, not truncated binary ones. */
		{ "1.001s", 1001 }, { "2.01min", 120600 }, { "1.005s", 1005 },
	};
	struct config	 c;
	char		 text[128];
	size_t		 i;

	for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		snprintf(text, sizeof(text), "[proxy]\nheader_timeout = %s\n",
		    d[i].v);
		if (d[i].ms != 0) {
			expect_ok(&c, text);
			if (c.c_header_timeout_ms != d[i].ms) {
				print_error("\"%s\": %u ms, want %u\n",
				    d[i].v, c.c_header_timeout_ms, d[i].ms);
				failures++;
			}
		} else
			expect_err(text, 2, "[proxy] header_timeout: ");
	}
	/* The biggest durations fit an unsigned int of milliseconds. */
	expect_ok(&c, "[workers]\nidle_timeout = 1440min\n");
	assert_int_equal(c.c_idle_timeout_ms, 86400000);
	expect_err("[workers]\nidle_timeout = 1441min\n", 2, "out of range");
	all_passed();
}

static void
test_bool_and_mode(void **state)
{
	static const char *const yes[] = { "true", "yes", "1" };
	static const char *const no[] = { "false", "no", "0" };
	static const char *const bad[] = { "TRUE", "on", "off", "2", "y",
	    "" };
	struct config	 c;
	char		 text[128];
	size_t		 i;

	for (i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), "[log]\nverbose = %s\n", yes[i]);
		expect_ok(&c, text);
		assert_int_equal(c.c_verbose, 1);
		snprintf(text, sizeof(text), "[log]\nverbose = %s\n", no[i]);
		expect_ok(&c, text);
		assert_int_equal(c.c_verbose, 0);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[log]\nverbose = %s\n", bad[i]);
		expect_err(text, 2, "expected true or false");
	}

	expect_ok(&c, "[proxy]\nsocket_mode = 0600\n");
	assert_int_equal(c.c_socket_mode, 0600);
	expect_ok(&c, "[proxy]\nsocket_mode = 660\n");	/* octal anyway */
	assert_int_equal(c.c_socket_mode, 0660);
	expect_ok(&c, "[proxy]\nsocket_mode = 0\n");
	assert_int_equal(c.c_socket_mode, 0);
	expect_err("[proxy]\nsocket_mode = 0888\n", 2, "an octal mode");
	expect_err("[proxy]\nsocket_mode = 01777\n", 2, "out of range");
	expect_err("[proxy]\nsocket_mode = 4755\n", 2, "out of range");
	expect_err("[proxy]\nsocket_mode = -1\n", 2, "an octal mode");
	expect_err("[proxy]\nsocket_mode = rw\n", 2, "an octal mode");
	all_passed();
}

static void
test_cross_checks(void **state)
{
	struct config	 c;
	char		 text[512];

	expect_err("[tenants]\nuid_min = 5000\nuid_max = 4999\n", 0,
	    "uid_min is above uid_max");
	expect_ok(&c, "[tenants]\nuid_min = 5000\nuid_max = 5000\n");
	expect_err("[proxy]\nhead_max = 4096\ntarget_max = 4096\n", 0,
	    "target_max must be below head_max");
	expect_err("[proxy]\nhead_max = 2048\n", 0,
	    "target_max must be below head_max");	/* default 4096 */
	expect_ok(&c, "[proxy]\nhead_max = 4097\n");
	expect_err("[workers]\nbackoff_min = 2s\nbackoff_max = 1s\n", 0,
	    "backoff_min is above backoff_max");
	expect_err("[paths]\nstate_dir = var/lib/tenantd\n", 0,
	    "must be absolute");
	expect_err("[paths]\nrun_dir = run\n", 0, "must be absolute");
	expect_err("[paths]\nworker = tenantd-worker\n", 0,
	    "must be absolute");
	expect_err("[paths]\npolicy_dir = \n", 0, "must be absolute");
	expect_err("[proxy]\nsocket = http.sock\n", 0, "absolute path");
	expect_err("[hosts]\nsuffix = example.com:443\n", 0,
	    "suffix and admin");
	expect_err("[hosts]\nsuffix = exa_mple.com\n", 0, "suffix and admin");
	expect_err("[hosts]\nadmin = admin..example.com\n", 0,
	    "suffix and admin");
	expect_ok(&c, "[hosts]\nadmin =\n");
	assert_int_equal(c.c_hosts.hc_admin_len, 0);

	/* sun_path holds 107 bytes and a NUL. */
	snprintf(text, sizeof(text), "[proxy]\nsocket = /%0106d\n", 0);
	expect_ok(&c, text);
	assert_int_equal(strlen(c.c_socket), CONF_SUN_MAX);
	snprintf(text, sizeof(text), "[proxy]\nsocket = /%0107d\n", 0);
	expect_err(text, 0, "at most 107 bytes");
	all_passed();
}

static void
test_derived_socket(void **state)
{
	struct config	 c;
	char		 text[512], buf[64];

	expect_ok(&c, "[paths]\nrun_dir = /tmp/tenantd-run\n");
	assert_string_equal(c.c_socket, "/tmp/tenantd-run/http.sock");
	expect_ok(&c, "[paths]\nrun_dir = /tmp/r\n[proxy]\n"
	    "socket = /tmp/other.sock\n");
	assert_string_equal(c.c_socket, "/tmp/other.sock");

	/* A run_dir whose socket would not fit sun_path. */
	snprintf(text, sizeof(text), "[paths]\nrun_dir = /%0100d\n", 0);
	expect_err(text, 0, "[proxy] socket");

	expect_ok(&c, "[paths]\nstate_dir = /var/lib/t\n");
	assert_int_equal(config_path(&c, "registry.db", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/var/lib/t/registry.db");
	errno = 0;
	assert_int_equal(config_path(&c, "registry.db", buf, 22), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	assert_int_equal(config_path(&c, "registry.db", buf, 23), 0);
	all_passed();
}

/* Dump, load the dump, and compare everything but where it came from. */
static void
roundtrip(const struct config *c)
{
	struct config		 again, a, b;
	const unsigned char	*pa = (void *)&a, *pb = (void *)&b;
	char			 path[PATH_MAX], err[512];
	FILE			*f;
	size_t			 i;

	snprintf(path, sizeof(path), "%s/dump.conf", tmpdir);
	assert_non_null(f = fopen(path, "we"));
	config_dump(f, c);
	assert_int_equal(fclose(f), 0);
	if (config_load(&again, path, 0, err, sizeof(err)) == -1) {
		print_error("dump does not load: %s\n", err);
		fail();
	}
	a = *c;
	b = again;
	memset(a.c_file, 0, sizeof(a.c_file));
	memset(b.c_file, 0, sizeof(b.c_file));
	if (memcmp(&a, &b, sizeof(a)) != 0) {
		for (i = 0; i < sizeof(a); i++)
			if (pa[i] != pb[i])
				break;
		print_error("reloaded dump differs at offset %zu\n", i);
		fail();
	}
}

static void
test_dump_roundtrip(void **state)
{
	struct config	 c;
	char		 err[256];

	unlink(cpath);
	assert_int_equal(config_load(&c, cpath, 1, err, sizeof(err)), 0);
	roundtrip(&c);

	expect_ok(&c, every_key);
	roundtrip(&c);

	/* Odd values: no admin host, sub-second durations. */
	expect_ok(&c, "[hosts]\nadmin =\n[proxy]\nheader_timeout = 1.234s\n"
	    "[workers]\nstart_timeout = 0.1\n");
	assert_int_equal(c.c_header_timeout_ms, 1234);
	roundtrip(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_unknown_and_duplicate),
		cmocka_unit_test(test_first_error_wins),
		cmocka_unit_test(test_ranges_and_numbers),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_bool_and_mode),
		cmocka_unit_test(test_cross_checks),
		cmocka_unit_test(test_derived_socket),
		cmocka_unit_test(test_dump_roundtrip),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
