/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Key derivation and API tokens (pure: libsodium only). A derived key is
 * BLAKE2b-256 keyed with the master over
 *
 *	"tenantd-key-v1" NUL <purpose> NUL <kid, decimal> NUL <slug>
 *
 * The NULs keep the fields apart (no slug can pose as another purpose),
 * and the master's id is part of the message so a rotation changes every
 * key, not only those of the new master's bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keys.h"

#define KEY_DOMAIN	"tenantd-key-v1"
#define TOKEN_PREFIX	"td1."
#define TOKEN_B64_LEN	43	/* 32 bytes, base64url without padding */

static const char *const purposes[KEY_PURPOSE_MAX] = {
	[KEY_SESSION] = "session",
	[KEY_ENCRYPTION] = "encryption",
	[KEY_WEBHOOK] = "webhook",
	[KEY_API] = "api",
};

const char *
key_purpose_str(enum key_purpose p)
{
	if (p == KEY_EXPORT)
		return "export";
	if (p < KEY_SESSION || p >= KEY_PURPOSE_MAX)
		return "unknown";
	return purposes[p];
}

int
key_purpose_parse(const char *s)
{
	int	 p;

	for (p = KEY_SESSION; p < KEY_PURPOSE_MAX; p++)
		if (strcmp(purposes[p], s) == 0)
			return p;
	return -1;
}

void
key_derive(const uint8_t master[KEY_LEN], uint32_t kid, const char *slug,
    enum key_purpose p, uint8_t out[KEY_LEN])
{
	crypto_generichash_state	 st;
	char				 num[16];
	int				 n;

	n = snprintf(num, sizeof(num), "%u", kid);
	crypto_generichash_init(&st, master, KEY_LEN, KEY_LEN);
	crypto_generichash_update(&st, (const unsigned char *)KEY_DOMAIN,
	    sizeof(KEY_DOMAIN));		/* with its NUL */
	crypto_generichash_update(&st, (const unsigned char *)key_purpose_str(p),
	    strlen(key_purpose_str(p)) + 1);
	crypto_generichash_update(&st, (const unsigned char *)num,
	    (size_t)n + 1);
	crypto_generichash_update(&st, (const unsigned char *)slug,
	    strlen(slug));
	crypto_generichash_final(&st, out, KEY_LEN);
	sodium_memzero(&st, sizeof(st));
}

void
key_token(uint32_t kid, const uint8_t api[KEY_LEN], char out[KEY_TOKEN_MAX])
{
	char	 b64[TOKEN_B64_LEN + 1];

	sodium_bin2base64(b64, sizeof(b64), api, KEY_LEN,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(out, KEY_TOKEN_MAX, TOKEN_PREFIX "%u.%s", kid, b64);
	sodium_memzero(b64, sizeof(b64));
}

/*
 * Exactly "td1.<kid>.<43 chars>": a kid of 1..2^32-1 without leading
 * zeros, and a key that decodes to 32 bytes with nothing left over. One
 * spelling per token, so a token cannot be varied to dodge a rate limit
 * or a log match.
 */
int
key_token_parse(const char *s, size_t len, uint32_t *kid,
    uint8_t api[KEY_LEN])
{
	const char	*p, *end = s + len, *b64_end;
	uint64_t	 v = 0;
	size_t		 bin_len;

	if (len < sizeof(TOKEN_PREFIX) - 1 ||
	    memcmp(s, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1) != 0)
		return -1;
	p = s + sizeof(TOKEN_PREFIX) - 1;
	if (p == end || *p < '1' || *p > '9')
		return -1;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	if (p == end || *p != '.')
		return -1;
	p++;
	if ((size_t)(end - p) != TOKEN_B64_LEN)
		return -1;
	if (sodium_base642bin(api, KEY_LEN, p, TOKEN_B64_LEN, NULL, &bin_len,
	    &b64_end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    bin_len != KEY_LEN || b64_end != end) {
		sodium_memzero(api, KEY_LEN);
		return -1;
	}
	*kid = (uint32_t)v;
	return 0;
}

void
key_verifier(const uint8_t api[KEY_LEN], uint8_t out[KEY_LEN])
{
	crypto_generichash(out, KEY_LEN, api, KEY_LEN, NULL, 0);
}

int
key_verify(const uint8_t api[KEY_LEN], const uint8_t verifier[KEY_LEN])
{
	uint8_t	 v[KEY_LEN];
	int	 ok;

	key_verifier(api, v);
	ok = sodium_memcmp(v, verifier, KEY_LEN) == 0;
	sodium_memzero(v, sizeof(v));
	return ok;
}
