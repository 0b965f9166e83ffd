/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Tenant slug rules (pure). The registry schema enforces the same rules
 * again with CHECK constraints and a trigger.
 */
#ifndef TENANTD_SLUG_H
#define TENANTD_SLUG_H

#include <stddef.h>

#define SLUG_MIN_LEN	3
#define SLUG_MAX_LEN	63

enum slug_error {
	SLUG_OK = 0,
	SLUG_TOO_SHORT,
	SLUG_TOO_LONG,
	SLUG_BAD_CHAR,
	SLUG_BAD_HYPHEN,	/* leading or trailing hyphen */
	SLUG_IDN_PREFIX,	/* "xn--" or any "??--" (reserved for IDNA) */
	SLUG_RESERVED,		/* a built-in system name */
};

enum slug_error	 slug_check(const char *, size_t);
enum slug_error	 slug_check_syntax(const char *, size_t);
int		 slug_is_reserved(const char *, size_t);
const char	*slug_error_str(enum slug_error);
extern const char *const slug_reserved[];

#endif
