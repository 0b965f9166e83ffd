/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Slug rules (docs/security.md, items 79-80): lengths, characters, hyphens,
 * the IDNA "??--" family and the reserved list, plus an exhaustive comparison
 * with a straightforward model of the rules over a small alphabet.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "slug.h"

#define IN(s)	s, sizeof(s) - 1

struct scase {
	const char	*s;
	size_t		 len;
	enum slug_error	 want;		/* from slug_check() */
};

static const struct scase cases[] = {
	{ IN(""), SLUG_TOO_SHORT },
	{ IN("a"), SLUG_TOO_SHORT },
	{ IN("ab"), SLUG_TOO_SHORT },
	{ IN("abc"), SLUG_OK },
	{ IN("a1b"), SLUG_OK },
	{ IN("123"), SLUG_OK },
	{ IN("a-b"), SLUG_OK },
	{ IN("a--b"), SLUG_OK },		/* '--' at 2-3 is not IDNA */
	{ IN("abc--d"), SLUG_OK },		/* nor at 4-5 */
	{ IN("ab-c"), SLUG_OK },
	{ IN("ab--c"), SLUG_IDN_PREFIX },
	{ IN("xn--abc"), SLUG_IDN_PREFIX },
	{ IN("zz--top"), SLUG_IDN_PREFIX },
	{ IN("a---b"), SLUG_IDN_PREFIX },
	{ IN("ab--"), SLUG_BAD_HYPHEN },
	{ IN("-abc"), SLUG_BAD_HYPHEN },
	{ IN("abc-"), SLUG_BAD_HYPHEN },
	{ IN("---"), SLUG_BAD_HYPHEN },
	{ IN("Abc"), SLUG_BAD_CHAR },
	{ IN("abC"), SLUG_BAD_CHAR },
	{ IN("XN--abc"), SLUG_BAD_CHAR },
	{ IN("a_c"), SLUG_BAD_CHAR },
	{ IN("a.c"), SLUG_BAD_CHAR },
	{ IN("a c"), SLUG_BAD_CHAR },
	{ IN("abc\0"), SLUG_BAD_CHAR },
	{ IN("ab\0c"), SLUG_BAD_CHAR },
	{ IN("a*c"), SLUG_BAD_CHAR },
	{ IN("a/c"), SLUG_BAD_CHAR },
	{ IN("a@c"), SLUG_BAD_CHAR },
	{ IN("\xd0\xb0" "cme"), SLUG_BAD_CHAR },	/* Cyrillic a */
	{ IN("abc\xff"), SLUG_BAD_CHAR },
	{ IN("www"), SLUG_RESERVED },
	{ IN("admin"), SLUG_RESERVED },
	{ IN("api"), SLUG_RESERVED },
	{ IN("app"), SLUG_RESERVED },
	{ IN("mta-sts"), SLUG_RESERVED },
	{ IN("wwww"), SLUG_OK },
	{ IN("admins"), SLUG_OK },
	{ IN("adm"), SLUG_OK },
};

static void
test_table(void **state)
{
	size_t		 i;
	enum slug_error	 e;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		e = slug_check(cases[i].s, cases[i].len);
		if (e != cases[i].want) {
			print_error("case %zu (len %zu): got %d (%s), want "
			    "%d (%s)\n", i, cases[i].len, e, slug_error_str(e),
			    cases[i].want, slug_error_str(cases[i].want));
			fail();
		}
		/* The syntax check alone differs only for reserved names. */
		assert_int_equal(slug_check_syntax(cases[i].s, cases[i].len),
		    cases[i].want == SLUG_RESERVED ? SLUG_OK : cases[i].want);
	}
}

static void
test_lengths(void **state)
{
	char	 s[80];

	memset(s, 'a', sizeof(s));
	assert_int_equal(slug_check(s, SLUG_MIN_LEN), SLUG_OK);
	assert_int_equal(slug_check(s, SLUG_MIN_LEN - 1), SLUG_TOO_SHORT);
	assert_int_equal(slug_check(s, 63), SLUG_OK);
	assert_int_equal(slug_check(s, 64), SLUG_TOO_LONG);
	assert_int_equal(slug_check(s, sizeof(s)), SLUG_TOO_LONG);
	assert_int_equal(SLUG_MAX_LEN, 63);
}

static void
test_reserved_list(void **state)
{
	char	 longer[SLUG_MAX_LEN + 2];
	size_t	 i, n;

	for (i = 0; slug_reserved[i] != NULL; i++) {
		n = strlen(slug_reserved[i]);
		/* Each must be a name someone could otherwise register. */
		if (slug_check_syntax(slug_reserved[i], n) != SLUG_OK) {
			print_error("reserved \"%s\" is not a valid slug\n",
			    slug_reserved[i]);
			fail();
		}
		assert_true(slug_is_reserved(slug_reserved[i], n));
		assert_int_equal(slug_check(slug_reserved[i], n),
		    SLUG_RESERVED);
		/* Kept sorted and without duplicates, as slug.c says. */
		if (i > 0 &&
		    strcmp(slug_reserved[i - 1], slug_reserved[i]) >= 0) {
			print_error("\"%s\" before \"%s\"\n",
			    slug_reserved[i - 1], slug_reserved[i]);
			fail();
		}
		/* Whole names only: one with a letter more is not reserved. */
		snprintf(longer, sizeof(longer), "%sx", slug_reserved[i]);
		assert_false(slug_is_reserved(longer, n + 1));
	}
	assert_true(i > 10);
	assert_false(slug_is_reserved("", 0));
	assert_false(slug_is_reserved("WWW", 3));
	assert_false(slug_is_reserved("www", 2));
}

static void
test_error_str(void **state)
{
	int	 e;

	for (e = SLUG_OK; e <= SLUG_RESERVED; e++) {
		assert_non_null(slug_error_str((enum slug_error)e));
		assert_string_not_equal(slug_error_str((enum slug_error)e),
		    "invalid");
	}
	assert_string_equal(slug_error_str(SLUG_OK), "valid");
	assert_string_equal(slug_error_str((enum slug_error)99), "invalid");
}

/* The rules of slug.c's header comment, written the obvious way. */
static enum slug_error
model(const char *s, size_t len)
{
	size_t	 i;

	if (len < 3)
		return SLUG_TOO_SHORT;
	if (len > 63)
		return SLUG_TOO_LONG;
	for (i = 0; i < len; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyz0123456789-", s[i]) ==
		    NULL || s[i] == '\0')
			return SLUG_BAD_CHAR;
	if (s[0] == '-' || s[len - 1] == '-')
		return SLUG_BAD_HYPHEN;
	if (s[2] == '-' && s[3] == '-')
		return SLUG_IDN_PREFIX;
	return SLUG_OK;
}

/* Every string of up to 5 bytes over a mixed alphabet: 8^5 + ... cases. */
static void
test_exhaustive(void **state)
{
	static const char	 alpha[] = { 'a', 'z', '0', '9', '-', 'A',
				    '_', '\0' };
	char			 s[5];
	size_t			 len, i, k, total, idx;

	for (len = 0; len <= sizeof(s); len++) {
		total = 1;
		for (i = 0; i < len; i++)
			total *= sizeof(alpha);
		for (k = 0; k < total; k++) {
			idx = k;
			for (i = 0; i < len; i++) {
				s[i] = alpha[idx % sizeof(alpha)];
				idx /= sizeof(alpha);
			}
			if (slug_check_syntax(s, len) != model(s, len)) {
				print_error("len %zu: got %d, want %d\n", len,
				    slug_check_syntax(s, len), model(s, len));
				fail();
			}
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_reserved_list),
		cmocka_unit_test(test_error_str),
		cmocka_unit_test(test_exhaustive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
