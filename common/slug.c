/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Slug rules: 3-63 characters of [a-z0-9-], no leading or trailing hyphen,
 * no hyphens in positions 3 and 4 (the IDNA "xn--" family, so no homograph
 * can be registered), and not a reserved system name.
 */
#include <string.h>

#include "slug.h"

/*
 * Names an operator expects to keep for the platform itself. Kept sorted;
 * the registry is seeded from this list by its first migration and refuses
 * them again in a trigger.
 */
const char *const slug_reserved[] = {
	"abuse", "account", "accounts", "admin", "administrator", "api",
	"app", "apps", "assets", "auth", "autoconfig", "autodiscover",
	"billing", "blog", "cdn", "console", "cpanel", "dashboard", "dev",
	"dns", "docs", "email", "ftp", "git", "help", "hostmaster", "imap",
	"img", "internal", "localhost", "login", "logout", "mail", "media",
	"metrics", "mta-sts", "noc", "oauth", "pop", "pop3", "portal",
	"postmaster", "proxy", "root", "security", "signup", "smtp", "sso",
	"staging", "static", "status", "support", "system", "tenantd",
	"test", "webmail", "webmaster", "www",
	NULL
};

enum slug_error
slug_check_syntax(const char *s, size_t len)
{
	size_t	 i;

	if (len < SLUG_MIN_LEN)
		return SLUG_TOO_SHORT;
	if (len > SLUG_MAX_LEN)
		return SLUG_TOO_LONG;
	for (i = 0; i < len; i++) {
		if ((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-')
			continue;
		return SLUG_BAD_CHAR;
	}
	if (s[0] == '-' || s[len - 1] == '-')
		return SLUG_BAD_HYPHEN;
	if (s[2] == '-' && s[3] == '-')
		return SLUG_IDN_PREFIX;
	return SLUG_OK;
}

int
slug_is_reserved(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; slug_reserved[i] != NULL; i++)
		if (strlen(slug_reserved[i]) == len &&
		    memcmp(slug_reserved[i], s, len) == 0)
			return 1;
	return 0;
}

enum slug_error
slug_check(const char *s, size_t len)
{
	enum slug_error	 e;

	if ((e = slug_check_syntax(s, len)) != SLUG_OK)
		return e;
	if (slug_is_reserved(s, len))
		return SLUG_RESERVED;
	return SLUG_OK;
}

const char *
slug_error_str(enum slug_error e)
{
	switch (e) {
	case SLUG_OK:
		return "valid";
	case SLUG_TOO_SHORT:
		return "shorter than 3 characters";
	case SLUG_TOO_LONG:
		return "longer than 63 characters";
	case SLUG_BAD_CHAR:
		return "only a-z, 0-9 and '-' are allowed";
	case SLUG_BAD_HYPHEN:
		return "must not start or end with '-'";
	case SLUG_IDN_PREFIX:
		return "'--' in the third and fourth place is reserved "
		    "for internationalised names";
	case SLUG_RESERVED:
		return "reserved for the platform";
	}
	return "invalid";
}
