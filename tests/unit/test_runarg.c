/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Handler names and environment entries (common/runarg.c), the one rule
 * the worker, tenantd and tenantd-run apply to MSG_RUN_REQUEST,
 * MSG_APP_CONNECT and MSG_RUN_GO: examples, then every byte in every
 * place against a model written out separately.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto.h"
#include "runarg.h"

#define IN(s)	s, sizeof(s) - 1

struct rcase {
	const char	*s;
	size_t		 len;
	int		 ok;
};

static const struct rcase names[] = {
	{ IN("api.py"), 1 },
	{ IN("handler_1.0"), 1 },
	{ IN("-dash-first"), 1 },
	{ IN("_"), 1 },
	{ IN("a..b"), 1 },		/* one name, no path: ".." inside */
	{ IN(""), 0 },
	{ IN("."), 0 },
	{ IN(".."), 0 },
	{ IN(".hidden"), 0 },
	{ IN("../x"), 0 },
	{ IN("a/b"), 0 },
	{ IN("/abs"), 0 },
	{ IN("a b"), 0 },
	{ IN("a\tb"), 0 },
	{ IN("a\nb"), 0 },
	{ IN("a\0b"), 0 },		/* a NUL inside the span */
	{ IN("caf\xc3\xa9"), 0 },
	{ IN("a~"), 0 },
	{ IN("a:b"), 0 },
	{ IN("a\\b"), 0 },
};

static const struct rcase envs[] = {
	{ IN("PATH=/usr/bin:/bin"), 1 },
	{ IN("FOO=a=b c"), 1 },		/* '=' in the value is the value's */
	{ IN("_u="), 1 },
	{ IN("Z9="), 1 },
	{ IN("HTTP_X_Y=1"), 1 },
	{ IN("PATH_INFO=/caf\xc3\xa9"), 1 },	/* UTF-8 from a decoded path */
	{ IN("A=\x80\xff"), 1 },
	{ IN(""), 0 },
	{ IN("FOO"), 0 },		/* no '=' */
	{ IN("=x"), 0 },		/* no name */
	{ IN("1FOO=x"), 0 },
	{ IN("FO-O=x"), 0 },
	{ IN("FO.O=x"), 0 },
	{ IN("FO O=x"), 0 },
	{ IN("F\0O=x"), 0 },
	{ IN("\xc3\xa9=x"), 0 },
	/* tenantd-run took these before the rule was one (docs/tenant-code.md). */
	{ IN("FOO=a\nb"), 0 },
	{ IN("FOO=a\rb"), 0 },
	{ IN("FOO=\x1b[31m"), 0 },
	{ IN("FOO=a\tb"), 0 },
	{ IN("FOO=a\x7f"), 0 },
	{ IN("FOO=a\0b"), 0 },
};

static void
test_examples(void **state)
{
	size_t	 i;
	int	 bad = 0;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (runarg_name_ok(names[i].s, names[i].len) != names[i].ok) {
			print_error("name \"%.*s\": %d\n", (int)names[i].len,
			    names[i].s, !names[i].ok);
			bad++;
		}
	for (i = 0; i < sizeof(envs) / sizeof(envs[0]); i++)
		if (runarg_env_ok(envs[i].s, envs[i].len) != envs[i].ok) {
			print_error("env \"%.*s\": %d\n", (int)envs[i].len,
			    envs[i].s, !envs[i].ok);
			bad++;
		}
	assert_int_equal(bad, 0);
}

static int
model_name_byte(int c, int first)
{
	if (first && c == '.')
		return 0;
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* Every byte as a name's first, middle and last byte. */
static void
test_name_bytes(void **state)
{
	char	 s[3];
	int	 c;

	for (c = 0; c < 256; c++) {
		s[0] = (char)c;
		assert_int_equal(runarg_name_ok(s, 1), model_name_byte(c, 1));
		s[0] = 'a';
		s[1] = (char)c;
		s[2] = 'z';
		assert_int_equal(runarg_name_ok(s, 3), model_name_byte(c, 0));
		assert_int_equal(runarg_name_ok(s, 2), model_name_byte(c, 0));
	}
}

static void
test_name_length(void **state)
{
	char	 s[RUN_NAME_MAX + 2];

	memset(s, 'h', sizeof(s));
	assert_int_equal(runarg_name_ok(s, RUN_NAME_MAX), 1);
	assert_int_equal(runarg_name_ok(s, RUN_NAME_MAX + 1), 0);
}

/* Every byte as a name's first and later byte, and in the value. */
static void
test_env_bytes(void **state)
{
	char	 s[5];
	int	 c, alpha, alnum;

	for (c = 0; c < 256; c++) {
		alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '_';
		alnum = alpha || (c >= '0' && c <= '9');
		memcpy(s, "?=v", 3);
		s[0] = (char)c;
		assert_int_equal(runarg_env_ok(s, 3), alpha);
		memcpy(s, "A?=v", 4);
		s[1] = (char)c;
		/* "A==v": the name ends at the first '='. */
		assert_int_equal(runarg_env_ok(s, 4), alnum || c == '=');
		memcpy(s, "A=v?v", 5);
		s[3] = (char)c;
		assert_int_equal(runarg_env_ok(s, 5), c >= 0x20 && c != 0x7f);
	}
}

/* One protocol string at most: what msg_get_str() can carry. */
static void
test_env_length(void **state)
{
	char	 s[PROTO_STR_MAX + 2];

	memset(s, 'v', sizeof(s));
	memcpy(s, "A=", 2);
	assert_int_equal(runarg_env_ok(s, PROTO_STR_MAX), 1);
	assert_int_equal(runarg_env_ok(s, PROTO_STR_MAX + 1), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_examples),
		cmocka_unit_test(test_name_bytes),
		cmocka_unit_test(test_name_length),
		cmocka_unit_test(test_env_bytes),
		cmocka_unit_test(test_env_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
