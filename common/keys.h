/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Per-tenant keys derived from the master key with libsodium. The master
 * key never leaves the trusted side; a worker receives its own tenant's
 * derived keys, and for the API only a verifier of the token, never the
 * token itself (docs/data-plane.md).
 */
#ifndef TENANTD_KEYS_H
#define TENANTD_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define KEY_LEN			32	/* master and derived keys */
#define KEY_MAX_MASTERS		8	/* current plus those in grace */
#define KEY_TOKEN_MAX		64	/* "td1.<kid>.<43 base64url>" + NUL */

enum key_purpose {
	KEY_SESSION = 1,
	KEY_ENCRYPTION,
	KEY_WEBHOOK,
	KEY_API,
	KEY_PURPOSE_MAX,
	/*
	 * Root's own purposes, after KEY_PURPOSE_MAX on purpose: the
	 * supervisor derives KEY_SESSION .. KEY_PURPOSE_MAX - 1 for a worker
	 * and a worker refuses any other, so no tenant ever holds one. The
	 * MAC of tenantctl export (docs/security.md): a tenant that held it
	 * could sign its own archive with credits it never had.
	 */
	KEY_EXPORT = 64
};

/* One master key as the trusted side holds it. */
struct master_key {
	uint32_t	 mk_id;		/* 1, 2, ...: the file master-<id>.key */
	int64_t		 mk_not_after;	/* unix time it stops working; 0: current */
	uint8_t		 mk_key[KEY_LEN];
};

/* Pure (libsodium only, no I/O): linked by unit tests and fuzzers alone. */
const char	*key_purpose_str(enum key_purpose);
int		 key_purpose_parse(const char *);	/* -1 if unknown */
void		 key_derive(const uint8_t master[KEY_LEN], uint32_t kid,
		    const char *slug, enum key_purpose, uint8_t out[KEY_LEN]);
/* The API token for a derived api key: "td1.<kid>.<base64url, no pad>". */
void		 key_token(uint32_t kid, const uint8_t api[KEY_LEN],
		    char out[KEY_TOKEN_MAX]);
/* Split a presented token: -1 unless it has exactly the token's shape. */
int		 key_token_parse(const char *, size_t, uint32_t *kid,
		    uint8_t api[KEY_LEN]);
/* What a worker holds to check a token: BLAKE2b-256 of the api key. */
void		 key_verifier(const uint8_t api[KEY_LEN], uint8_t out[KEY_LEN]);
/* Constant time; 1 if the presented api key matches the verifier. */
int		 key_verify(const uint8_t api[KEY_LEN],
		    const uint8_t verifier[KEY_LEN]);

/*
 * With effects: the master key files in the keys directory (keys/ under
 * the state directory). keys_load() reads every master the registry lists
 * as current or still in grace at `now`; the caller wipes them with
 * keys_wipe(). keys_create() writes master-<id>.key, 0400 root, from
 * getrandom, refusing to overwrite.
 */
int		 keys_load(const char *keydir, const uint32_t *ids,
		    const int64_t *not_after, size_t n, struct master_key *out,
		    char *err, size_t errsz);
int		 keys_create(const char *keydir, uint32_t id, char *err,
		    size_t errsz);
void		 keys_wipe(struct master_key *, size_t);

#endif
