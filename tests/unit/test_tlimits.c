/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The tenant limits table: names, bounds, units and their spellings, the
 * file format (a reason on every line), and the layering of tenant.limits
 * and a profile over the built-in defaults.
 */
#include <sys/stat.h>

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

#include "tlimits.h"

static void
test_names(void **state)
{
	int	 l;

	for (l = 1; l < TL_MAX; l++)
		assert_int_equal(tlimit_by_name(tlimit_name(l)), l);
	assert_string_equal(tlimit_name(TL_KV_MAX_VALUE), "kv_max_value");
	assert_string_equal(tlimit_name(TL_INITIAL_CREDITS), "initial_credits");
	assert_int_equal(tlimit_by_name("profile"), -1);
	assert_int_equal(tlimit_by_name("STORAGE"), -1);
	assert_string_equal(tlimit_name(0), "unknown");
	assert_string_equal(tlimit_name(TL_MAX), "unknown");
}

static void
test_defaults(void **state)
{
	struct tlimits	 tl;
	int		 l;

	tlimits_defaults(&tl);
	assert_int_equal(tl.tl_val[TL_REQUESTS_PER_MINUTE], 1000);
	assert_int_equal(tl.tl_val[TL_STORAGE], 100 << 20);
	assert_int_equal(tl.tl_val[TL_KV_MAX_VALUE], 64 << 10);
	assert_int_equal(tl.tl_val[TL_STATEMENT_TIMEOUT], 5000);
	assert_int_equal(tl.tl_val[TL_KV_PUBLIC_READS], 0);
	assert_int_equal(tl.tl_val[TL_DB_IDLE], 30000);
	assert_int_equal(tl.tl_val[TL_INITIAL_CREDITS], 1000);
	assert_string_equal(tl.tl_profile, "");
	for (l = 1; l < TL_MAX; l++) {
		char	 buf[48], err[256];
		uint64_t v;

		assert_string_equal(tl.tl_src[l], "default");
		/* Every default is within its bounds and reads back. */
		tlimit_format(l, tl.tl_val[l], buf, sizeof(buf));
		assert_int_equal(tlimit_parse(l, buf, &v, err, sizeof(err)), 0);
		assert_int_equal(v, tl.tl_val[l]);
	}
}

static void
test_parse(void **state)
{
	static const struct {
		enum tlimit	 l;
		const char	*s;
		int		 ok;
		uint64_t	 v;
	} cases[] = {
		{ TL_STORAGE, "100M", 1, 100ULL << 20 },
		{ TL_STORAGE, "1G", 1, 1ULL << 30 },
		{ TL_STORAGE, "1T", 1, 1ULL << 40 },
		{ TL_STORAGE, "1025G", 0, 0 },
		{ TL_STORAGE, "1048576", 1, 1 << 20 },
		{ TL_STORAGE, "1048575", 0, 0 },
		{ TL_STORAGE, "1m", 0, 0 },
		{ TL_STORAGE, "1MB", 0, 0 },
		{ TL_STORAGE, "-1M", 0, 0 },
		{ TL_STORAGE, "", 0, 0 },
		{ TL_STORAGE, "99999999999999999999G", 0, 0 },
		{ TL_STORAGE, "18014398509481984K", 0, 0 },
		{ TL_KV_MAX_KEY, "1024", 1, 1024 },
		{ TL_KV_MAX_KEY, "1K", 1, 1024 },
		{ TL_KV_MAX_KEY, "1025", 0, 0 },
		{ TL_KV_MAX_KEY, "0", 0, 0 },
		{ TL_KV_MAX_VALUE, "15", 0, 0 },
		{ TL_KV_MAX_VALUE, "1M", 1, 1 << 20 },
		{ TL_STATEMENT_TIMEOUT, "5s", 1, 5000 },
		{ TL_STATEMENT_TIMEOUT, "250ms", 1, 250 },
		{ TL_STATEMENT_TIMEOUT, "250", 1, 250 },
		{ TL_STATEMENT_TIMEOUT, "1m", 1, 60000 },
		{ TL_STATEMENT_TIMEOUT, "2m", 0, 0 },
		{ TL_STATEMENT_TIMEOUT, "9ms", 0, 0 },
		{ TL_STATEMENT_TIMEOUT, "5 s", 0, 0 },
		{ TL_STATEMENT_TIMEOUT, "5S", 0, 0 },
		{ TL_STATEMENT_TIMEOUT, "1h", 0, 0 },
		{ TL_REQUESTS_PER_MINUTE, "1", 1, 1 },
		{ TL_REQUESTS_PER_MINUTE, "0", 0, 0 },
		{ TL_REQUESTS_PER_MINUTE, "10000000", 1, 10000000 },
		{ TL_REQUESTS_PER_MINUTE, "10000001", 0, 0 },
		{ TL_REQUESTS_PER_MINUTE, "1K", 0, 0 },
		{ TL_REQUESTS_PER_MINUTE, "+5", 0, 0 },
		{ TL_REQUESTS_PER_MINUTE, " 5", 0, 0 },
		{ TL_MAX_WORKERS, "256", 1, 256 },
		{ TL_MAX_WORKERS, "257", 0, 0 },
		{ TL_MAX_CONNECTIONS, "65536", 1, 65536 },
		{ TL_MAX_CONNECTIONS, "65537", 0, 0 },
		{ TL_COST_READ, "0", 1, 0 },
		{ TL_COST_WRITE, "1000001", 0, 0 },
		{ TL_CREDIT_HOLD, "0", 0, 0 },
		{ TL_INITIAL_CREDITS, "0", 1, 0 },
		{ TL_INITIAL_CREDITS, "1000000000000", 1, 1000000000000ULL },
		{ TL_INITIAL_CREDITS, "1000000000001", 0, 0 },
		{ TL_KV_PUBLIC_READS, "on", 1, 1 },
		{ TL_KV_PUBLIC_READS, "yes", 1, 1 },
		{ TL_KV_PUBLIC_READS, "true", 1, 1 },
		{ TL_KV_PUBLIC_READS, "1", 1, 1 },
		{ TL_KV_PUBLIC_READS, "off", 1, 0 },
		{ TL_KV_PUBLIC_READS, "no", 1, 0 },
		{ TL_KV_PUBLIC_READS, "false", 1, 0 },
		{ TL_KV_PUBLIC_READS, "0", 1, 0 },
		{ TL_KV_PUBLIC_READS, "ON", 0, 0 },
		{ TL_KV_PUBLIC_READS, "2", 0, 0 },
		{ TL_DB_IDLE, "30s", 1, 30000 },
		{ TL_DB_IDLE, "999", 0, 0 },
	};
	char		 err[256];
	uint64_t	 v;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = 12345;
		err[0] = '\0';
		if (tlimit_parse(cases[i].l, cases[i].s, &v, err,
		    sizeof(err)) != (cases[i].ok ? 0 : -1))
			fail_msg("%s \"%s\": expected %s (%s)",
			    tlimit_name(cases[i].l), cases[i].s,
			    cases[i].ok ? "ok" : "refusal", err);
		if (cases[i].ok)
			assert_int_equal(v, cases[i].v);
		else {
			assert_int_equal(v, 12345);	/* untouched */
			assert_non_null(strstr(err, tlimit_name(cases[i].l)));
		}
	}
	assert_int_equal(tlimit_parse(0, "1", &v, err, sizeof(err)), -1);
}

static void
test_format(void **state)
{
	char	 b[48];

	tlimit_format(TL_STORAGE, 100ULL << 20, b, sizeof(b));
	assert_string_equal(b, "100M");
	tlimit_format(TL_STORAGE, (1ULL << 20) + 1, b, sizeof(b));
	assert_string_equal(b, "1048577");
	tlimit_format(TL_STORAGE, 1ULL << 40, b, sizeof(b));
	assert_string_equal(b, "1T");
	tlimit_format(TL_STATEMENT_TIMEOUT, 5000, b, sizeof(b));
	assert_string_equal(b, "5s");
	tlimit_format(TL_STATEMENT_TIMEOUT, 60000, b, sizeof(b));
	assert_string_equal(b, "1m");
	tlimit_format(TL_STATEMENT_TIMEOUT, 1500, b, sizeof(b));
	assert_string_equal(b, "1500ms");
	tlimit_format(TL_KV_PUBLIC_READS, 1, b, sizeof(b));
	assert_string_equal(b, "on");
	tlimit_format(TL_REQUESTS_PER_MINUTE, 60000, b, sizeof(b));
	assert_string_equal(b, "60000");
	tlimit_format(TL_COST_READ, 0, b, sizeof(b));
	assert_string_equal(b, "0");
}

static void
test_file_format(void **state)
{
	static const char *const refused[] = {
		"storage 1G\n",				/* no reason */
		"storage 1G #\n",			/* an empty one */
		"storage # why\n",
		"storage 1G 2G # why\n",
		"nosuch 1 # why\n",
		"profile small # why\n",
		"storage 1G # why\nstorage 2G # again\n",
		"storage 1 # too small\n",
	};
	struct tlimits	 tl;
	char		 err[256];
	const char	*ok = "# a comment\n\n  storage 1G   # why\n"
	    "kv_public_reads on # why\r\n";
	size_t		 i;

	tlimits_defaults(&tl);
	assert_int_equal(tlimits_parse(ok, strlen(ok), &tl, "profile", err,
	    sizeof(err)), 0);
	assert_int_equal(tl.tl_val[TL_STORAGE], 1ULL << 30);
	assert_string_equal(tl.tl_src[TL_STORAGE], "profile");
	assert_int_equal(tl.tl_val[TL_KV_PUBLIC_READS], 1);
	assert_string_equal(tl.tl_src[TL_MAX_WORKERS], "default");
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		tlimits_defaults(&tl);
		err[0] = '\0';
		assert_int_equal(tlimits_parse(refused[i], strlen(refused[i]),
		    &tl, "default", err, sizeof(err)), -1);
		assert_non_null(strstr(err, "line "));
	}
	assert_int_equal(tlimits_parse("storage 1G # x\0", 15, &tl, "default",
	    err, sizeof(err)), -1);
}

static void
test_profile_names(void **state)
{
	assert_int_equal(tlimit_profile_check("small"), 0);
	assert_int_equal(tlimit_profile_check("tier-2"), 0);
	assert_int_equal(tlimit_profile_check(""), -1);
	assert_int_equal(tlimit_profile_check("../x"), -1);
	assert_int_equal(tlimit_profile_check("a/b"), -1);
	assert_int_equal(tlimit_profile_check("-a"), -1);
	assert_int_equal(tlimit_profile_check("a-"), -1);
	assert_int_equal(tlimit_profile_check("Small"), -1);
	assert_int_equal(tlimit_profile_check(
	    "a123456789012345678901234567890123456789012345678901234567890123"),
	    -1);
}

/* The shipped files: every line parses, and the profile only lowers. */
static void
test_shipped(void **state)
{
	struct tlimits	 def, tl;
	char		 err[512];

	tlimits_defaults(&def);
	assert_int_equal(tlimits_load(TEST_POLICY_DIR, &def, err, sizeof(err)),
	    0);
	tlimits_defaults(&tl);
	assert_memory_equal(def.tl_val, tl.tl_val, sizeof(tl.tl_val));
	snprintf(tl.tl_profile, sizeof(tl.tl_profile), "small");
	assert_int_equal(tlimits_load(TEST_POLICY_DIR, &tl, err, sizeof(err)),
	    0);
	assert_string_equal(tl.tl_src[TL_REQUESTS_PER_MINUTE], "profile");
	assert_true(tl.tl_val[TL_STORAGE] < def.tl_val[TL_STORAGE]);
	assert_string_equal(tl.tl_src[TL_KV_MAX_VALUE], "default");
	snprintf(tl.tl_profile, sizeof(tl.tl_profile), "nosuch");
	assert_int_equal(tlimits_load(TEST_POLICY_DIR, &tl, err, sizeof(err)),
	    -1);
	snprintf(tl.tl_profile, sizeof(tl.tl_profile), "../tenant");
	assert_int_equal(tlimits_load(TEST_POLICY_DIR, &tl, err, sizeof(err)),
	    -1);
	/* No tenant.limits at all: the built-in defaults. */
	tlimits_defaults(&tl);
	assert_int_equal(tlimits_load("/nonexistent", &tl, err, sizeof(err)),
	    0);
	assert_memory_equal(def.tl_val, tl.tl_val, sizeof(tl.tl_val));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_file_format),
		cmocka_unit_test(test_profile_names),
		cmocka_unit_test(test_shipped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
