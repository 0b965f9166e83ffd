/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The data plane's pure helpers (worker/kvpath.c): routing under
 * /.tenantd/, percent-decoding exactly once, key validity (UTF-8, no
 * control characters, docs/security.md, item 98), the list query, the Bearer
 * credential, JSON string escaping and the token bucket's arithmetic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kvpath.h"

#define IN(s)	s, sizeof(s) - 1

static void
test_routes(void **state)
{
	static const struct {
		const char	*t;
		enum kv_route	 want;
		const char	*key;
	} cases[] = {
		{ "/", KV_ROUTE_NONE, NULL },
		{ "/index.html", KV_ROUTE_NONE, NULL },
		{ "/.tenantdx/kv/a", KV_ROUTE_NONE, NULL },
		{ "/%2Etenantd/kv/a", KV_ROUTE_NONE, NULL },
		{ "/.tenantd", KV_ROUTE_UNKNOWN, NULL },
		{ "/.tenantd?x", KV_ROUTE_UNKNOWN, NULL },
		{ "/.tenantd/", KV_ROUTE_UNKNOWN, NULL },
		{ "/.tenantd/other", KV_ROUTE_UNKNOWN, NULL },
		{ "/.tenantd/kvx/a", KV_ROUTE_UNKNOWN, NULL },
		{ "/.tenantd/kv", KV_ROUTE_LIST, NULL },
		{ "/.tenantd/kv/", KV_ROUTE_LIST, NULL },
		{ "/.tenantd/kv?prefix=a", KV_ROUTE_LIST, NULL },
		{ "/.tenantd/kv/?limit=3", KV_ROUTE_LIST, NULL },
		{ "/.tenantd/kv/a", KV_ROUTE_ITEM, "a" },
		{ "/.tenantd/kv/../globex/x", KV_ROUTE_ITEM, "../globex/x" },
		{ "/.tenantd/kv//", KV_ROUTE_ITEM, "/" },
		{ "/.tenantd/kv/a?b", KV_ROUTE_BAD, NULL },
	};
	struct kv_target	 kt;
	size_t			 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kv_target_parse(cases[i].t, strlen(cases[i].t), &kt);
		if (kt.kt_route != cases[i].want) {
			print_error("%s: route %d, want %d\n", cases[i].t,
			    kt.kt_route, cases[i].want);
			fail();
		}
		if (cases[i].key != NULL) {
			assert_int_equal(kt.kt_key_len, strlen(cases[i].key));
			assert_memory_equal(cases[i].t + kt.kt_key_off,
			    cases[i].key, kt.kt_key_len);
		}
	}
	kv_target_parse(IN("/.tenantd/kv/?prefix=a&limit=2"), &kt);
	assert_true(kt.kt_has_query);
	assert_int_equal(kt.kt_query_len, strlen("prefix=a&limit=2"));
}

static void
test_unescape(void **state)
{
	char	 out[8];
	size_t	 n;

	assert_int_equal(kv_unescape(IN("a%2Fb%2e"), out, sizeof(out), &n), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(out, "a/b.", 4);
	/* Once only: %2541 is "%41", not "A". */
	assert_int_equal(kv_unescape(IN("%2541"), out, sizeof(out), &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "%41", 3);
	/* '+' is a plus. */
	assert_int_equal(kv_unescape(IN("a+b"), out, sizeof(out), &n), 0);
	assert_memory_equal(out, "a+b", 3);
	assert_int_equal(kv_unescape(IN("%"), out, sizeof(out), &n), -1);
	assert_int_equal(kv_unescape(IN("%4"), out, sizeof(out), &n), -1);
	assert_int_equal(kv_unescape(IN("%4g"), out, sizeof(out), &n), -1);
	assert_int_equal(kv_unescape(IN("%%41"), out, sizeof(out), &n), -1);
	assert_int_equal(kv_unescape(IN("%00"), out, sizeof(out), &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], '\0');
	/* Exactly the room there is, then one byte too many. */
	assert_int_equal(kv_unescape(IN("12345678"), out, sizeof(out), &n), 0);
	assert_int_equal(kv_unescape(IN("123456789"), out, sizeof(out), &n),
	    -2);
	assert_int_equal(kv_unescape(IN("12345678%41"), out, sizeof(out), &n),
	    -2);
	assert_int_equal(kv_unescape(IN(""), out, sizeof(out), &n), 0);
	assert_int_equal(n, 0);
}

static void
test_key_valid(void **state)
{
	static const struct {
		const char	*k;
		size_t		 len;
		int		 want;
	} cases[] = {
		{ IN("a"), 0 },
		{ IN("../globex/x"), 0 },
		{ IN("with space"), 0 },
		{ IN("caf\xc3\xa9"), 0 },			/* é */
		{ IN("\xe2\x82\xac"), 0 },			/* € */
		{ IN("\xf0\x9f\x98\x80"), 0 },			/* U+1F600 */
		{ IN("\xf4\x8f\xbf\xbf"), 0 },			/* U+10FFFF */
		{ IN(""), -1 },
		{ IN("a\0b"), -1 },
		{ IN("a\nb"), -1 },
		{ IN("a\tb"), -1 },
		{ IN("\x7f"), -1 },
		{ IN("\xc2\x85"), -1 },				/* C1 NEL */
		{ IN("\xc2\x9f"), -1 },
		{ IN("\xc2\xa0"), 0 },				/* NBSP is text */
		{ IN("\xc0\xaf"), -1 },				/* overlong / */
		{ IN("\xe0\x80\xaf"), -1 },
		{ IN("\xed\xa0\x80"), -1 },			/* surrogate */
		{ IN("\xf4\x90\x80\x80"), -1 },			/* > U+10FFFF */
		{ IN("\xf5\x80\x80\x80"), -1 },
		{ IN("\xc3"), -1 },				/* truncated */
		{ IN("\xe2\x82"), -1 },
		{ IN("\x80"), -1 },
		{ IN("\xff"), -1 },
		{ IN("a\xc3("), -1 },
	};
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (kv_key_valid(cases[i].k, cases[i].len, 64) !=
		    cases[i].want) {
			print_error("case %zu: want %d\n", i, cases[i].want);
			fail();
		}
	assert_int_equal(kv_key_valid(IN("abcd"), 4), 0);
	assert_int_equal(kv_key_valid(IN("abcde"), 4), -1);
}

static int
query(const char *q, struct kv_query *kq, char *p, char *a)
{
	kq->kq_prefix = p;
	kq->kq_after = a;
	return kv_query_parse(q, strlen(q), 16, kq);
}

static void
test_query(void **state)
{
	struct kv_query	 kq;
	char		 p[17], a[17];

	assert_int_equal(query("", &kq, p, a), 0);
	assert_int_equal(kq.kq_limit, KV_LIST_DEFAULT);
	assert_int_equal(kq.kq_prefix_len, 0);
	assert_int_equal(kq.kq_after_len, 0);
	assert_int_equal(query("prefix=a%2Fb&limit=1000&after=a%2Fb1", &kq, p,
	    a), 0);
	assert_string_equal(p, "a/b");
	assert_string_equal(a, "a/b1");
	assert_int_equal(kq.kq_limit, 1000);
	assert_int_equal(query("&&limit=1&", &kq, p, a), 0);
	assert_int_equal(kq.kq_limit, 1);
	assert_int_equal(query("prefix=", &kq, p, a), 0);
	assert_int_equal(kq.kq_prefix_len, 0);

	assert_int_equal(query("limit=0", &kq, p, a), -1);
	assert_int_equal(query("limit=1001", &kq, p, a), -1);
	assert_int_equal(query("limit=01000", &kq, p, a), -1);
	assert_int_equal(query("limit=-1", &kq, p, a), -1);
	assert_int_equal(query("limit=", &kq, p, a), -1);
	assert_int_equal(query("limit=1&limit=2", &kq, p, a), -1);
	assert_int_equal(query("prefix=a&prefix=b", &kq, p, a), -1);
	assert_int_equal(query("after=", &kq, p, a), -1);
	assert_int_equal(query("after=%zz", &kq, p, a), -1);
	assert_int_equal(query("prefix=%0a", &kq, p, a), -1);
	assert_int_equal(query("prefix=12345678901234567", &kq, p, a), -1);
	assert_int_equal(query("prefix=1234567890123456", &kq, p, a), 0);
	assert_int_equal(query("cursor=x", &kq, p, a), -1);
	assert_int_equal(query("prefix", &kq, p, a), -1);
}

static void
test_bearer(void **state)
{
	size_t	 off, len;

	assert_int_equal(kv_bearer(IN("Bearer td1.1.abc"), &off, &len), 0);
	assert_int_equal(off, 7);
	assert_int_equal(len, 9);
	assert_int_equal(kv_bearer(IN("bEaReR   tok"), &off, &len), 0);
	assert_int_equal(off, 9);
	assert_int_equal(len, 3);
	assert_int_equal(kv_bearer(IN("Bearer"), &off, &len), -1);
	assert_int_equal(kv_bearer(IN("Bearer "), &off, &len), -1);
	assert_int_equal(kv_bearer(IN("Bearertok"), &off, &len), -1);
	assert_int_equal(kv_bearer(IN("Basic dXNlcjpw"), &off, &len), -1);
	assert_int_equal(kv_bearer(IN("Bearer a b"), &off, &len), -1);
	assert_int_equal(kv_bearer(IN("Bearer a\tb"), &off, &len), -1);
	assert_int_equal(kv_bearer(IN(""), &off, &len), -1);
}

static void
test_json_str(void **state)
{
	char	 out[64];
	size_t	 n;

	n = kv_json_str(out, sizeof(out), IN("a\"b\\c\x01/\xc3\xa9"));
	assert_int_equal(n, kv_json_str_len(IN("a\"b\\c\x01/\xc3\xa9")));
	assert_memory_equal(out, "\"a\\\"b\\\\c\\u0001/\xc3\xa9\"", n);
	assert_int_equal(kv_json_str(out, 3, IN("ab")), 0);
	assert_int_equal(kv_json_str(out, 4, IN("ab")), 4);
	assert_int_equal(kv_json_str(out, sizeof(out), IN("")), 2);
}

static void
test_bucket(void **state)
{
	struct tbucket	 tb;
	uint64_t	 retry = 0, t = 1000;
	int		 i;

	/* 60 a minute: a full bucket of 60, then one a second. */
	tb_init(&tb, 60, t);
	for (i = 0; i < 60; i++)
		assert_int_equal(tb_take(&tb, t, &retry), 0);
	assert_int_equal(tb_take(&tb, t, &retry), -1);
	assert_int_equal(retry, 1);
	assert_int_equal(tb_take(&tb, t + 999, &retry), -1);
	assert_int_equal(tb_take(&tb, t + 1000, &retry), 0);
	assert_int_equal(tb_take(&tb, t + 1000, &retry), -1);
	/* A long pause refills to a minute's worth, not more. */
	t += 3600 * 1000;
	for (i = 0; i < 60; i++)
		assert_int_equal(tb_take(&tb, t, &retry), 0);
	assert_int_equal(tb_take(&tb, t, &retry), -1);

	/* 1 a minute: the wait is a whole minute, in seconds. */
	tb_init(&tb, 1, 0);
	assert_int_equal(tb_take(&tb, 0, &retry), 0);
	assert_int_equal(tb_take(&tb, 0, &retry), -1);
	assert_int_equal(retry, 60);
	assert_int_equal(tb_take(&tb, 30500, &retry), -1);
	assert_int_equal(retry, 30);
	assert_int_equal(tb_take(&tb, 60000, &retry), 0);

	/* Lowering the rate cuts the bucket to the new minute's worth. */
	tb_init(&tb, 1000, 0);
	tb_set_rate(&tb, 20, 0);
	for (i = 0; i < 20; i++)
		assert_int_equal(tb_take(&tb, 0, &retry), 0);
	assert_int_equal(tb_take(&tb, 0, &retry), -1);
	assert_int_equal(retry, 3);
	/* Raising it keeps what is there and refills faster. */
	tb_set_rate(&tb, 6000, 0);
	assert_int_equal(tb_take(&tb, 0, &retry), -1);
	assert_int_equal(tb_take(&tb, 10, &retry), 0);

	/* Zero is one, a huge rate neither overflows nor wraps. */
	tb_init(&tb, 0, 0);
	assert_int_equal(tb.tb_rate, 1);
	tb_init(&tb, UINT64_MAX, 0);
	assert_int_equal(tb_take(&tb, UINT64_MAX, &retry), 0);
	/* A clock that steps back adds nothing. */
	tb_init(&tb, 60, 5000);
	for (i = 0; i < 60; i++)
		assert_int_equal(tb_take(&tb, 5000, &retry), 0);
	assert_int_equal(tb_take(&tb, 1000, &retry), -1);
	assert_int_equal(tb_take(&tb, 5999, &retry), -1);
	assert_int_equal(tb_take(&tb, 6000, &retry), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_unescape),
		cmocka_unit_test(test_key_valid),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_bearer),
		cmocka_unit_test(test_json_str),
		cmocka_unit_test(test_bucket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
