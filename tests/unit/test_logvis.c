/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * log_vis(), the one escaping of untrusted text for tenantd's log
 * (docs/security.md, item 83): every byte outside printable ASCII as
 * \xNN, NULs included; cut whole, never inside an escape; idempotent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"

#define IN(s)	s, sizeof(s) - 1

static void
test_printable_passes(void **state)
{
	char	 out[256];

	assert_int_equal(log_vis(out, sizeof(out),
	    IN("tenant acme: a \\ b ~ \"q\" {}")), 27);
	assert_string_equal(out, "tenant acme: a \\ b ~ \"q\" {}");
}

static void
test_every_other_byte_escaped(void **state)
{
	unsigned char	 in[256];
	char		 out[256 * 4 + 1], want[8];
	size_t		 i, o = 0;

	for (i = 0; i < 256; i++)
		in[i] = (unsigned char)i;
	assert_int_equal(log_vis(out, sizeof(out), in, sizeof(in)), 256);
	for (i = 0; i < 256; i++) {
		if (i >= 0x20 && i < 0x7f) {
			assert_int_equal(out[o], (char)i);
			o++;
			continue;
		}
		snprintf(want, sizeof(want), "\\x%02zx", i);
		assert_memory_equal(out + o, want, 4);
		o += 4;
	}
	assert_int_equal(out[o], '\0');
	assert_int_equal(strlen(out), o);
}

static void
test_forged_line(void **state)
{
	char	 out[128];

	assert_int_equal(log_vis(out, sizeof(out),
	    IN("x\n<0>tenantd[1]: \033[31mred\r\0z")), 28);
	assert_string_equal(out,
	    "x\\x0a<0>tenantd[1]: \\x1b[31mred\\x0d\\x00z");
}

/* Cut where the next form does not fit: an escape is whole or absent. */
static void
test_cut_never_splits(void **state)
{
	char	 out[8];

	memset(out, 'Z', sizeof(out));
	assert_int_equal(log_vis(out, sizeof(out), IN("abcd\033ef")), 4);
	assert_string_equal(out, "abcd");
	assert_int_equal(log_vis(out, sizeof(out), IN("ab\033def")), 4);
	assert_string_equal(out, "ab\\x1bd");
	assert_int_equal(log_vis(out, 1, IN("abc")), 0);
	assert_string_equal(out, "");
	assert_int_equal(log_vis(out, 0, IN("abc")), 0);
}

static void
test_idempotent(void **state)
{
	char	 once[64], twice[64];

	(void)log_vis(once, sizeof(once), IN("a\033b\x80\\x1b"));
	(void)log_vis(twice, sizeof(twice), once, strlen(once));
	assert_string_equal(once, twice);
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test(test_printable_passes),
		cmocka_unit_test(test_every_other_byte_escaped),
		cmocka_unit_test(test_forged_line),
		cmocka_unit_test(test_cut_never_splits),
		cmocka_unit_test(test_idempotent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
