/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Key derivation and API tokens: derived keys differ per tenant, purpose
 * and master; a token has exactly one spelling and anything else is
 * refused; the master key files are refused unless root's and private.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
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
#include <sodium.h>

#include "keys.h"

static const uint8_t m1[KEY_LEN] = { 1, 2, 3 };
static const uint8_t m2[KEY_LEN] = { 9, 8, 7 };

static void
test_purposes(void **state)
{
	int	 p;

	for (p = KEY_SESSION; p < KEY_PURPOSE_MAX; p++)
		assert_int_equal(key_purpose_parse(key_purpose_str(p)), p);
	assert_string_equal(key_purpose_str(KEY_API), "api");
	assert_int_equal(key_purpose_parse("API"), -1);
	assert_int_equal(key_purpose_parse(""), -1);
	assert_string_equal(key_purpose_str(0), "unknown");
	/* Root's export key: outside what a worker is given or parses. */
	assert_true(KEY_EXPORT >= KEY_PURPOSE_MAX);
	assert_string_equal(key_purpose_str(KEY_EXPORT), "export");
	assert_int_equal(key_purpose_parse("export"), -1);
}

static void
test_derive_separates(void **state)
{
	uint8_t	 a[KEY_LEN], b[KEY_LEN];

	key_derive(m1, 1, "acme", KEY_API, a);
	key_derive(m1, 1, "acme", KEY_API, b);
	assert_memory_equal(a, b, KEY_LEN);		/* stable */
	key_derive(m1, 1, "acmf", KEY_API, b);
	assert_memory_not_equal(a, b, KEY_LEN);		/* per tenant */
	key_derive(m1, 1, "acme", KEY_SESSION, b);
	assert_memory_not_equal(a, b, KEY_LEN);		/* per purpose */
	key_derive(m2, 1, "acme", KEY_API, b);
	assert_memory_not_equal(a, b, KEY_LEN);		/* per master */
	key_derive(m1, 2, "acme", KEY_API, b);
	assert_memory_not_equal(a, b, KEY_LEN);		/* per master id */
	/* The NULs keep fields apart: "1" + "1acme" is not "11" + "acme". */
	key_derive(m1, 11, "acme", KEY_API, a);
	key_derive(m1, 1, "1acme", KEY_API, b);
	assert_memory_not_equal(a, b, KEY_LEN);
}

/* The derivation is the documented one, not merely some stable hash. */
static void
test_derive_spec(void **state)
{
	static const char	 msg[] = "tenantd-key-v1\0webhook\0007\0shop";
	uint8_t			 a[KEY_LEN], b[KEY_LEN];

	key_derive(m1, 7, "shop", KEY_WEBHOOK, a);
	crypto_generichash(b, KEY_LEN, (const unsigned char *)msg,
	    sizeof(msg) - 1, m1, KEY_LEN);
	assert_memory_equal(a, b, KEY_LEN);
}

static void
test_token_round_trip(void **state)
{
	uint8_t		 api[KEY_LEN], back[KEY_LEN];
	char		 tok[KEY_TOKEN_MAX];
	uint32_t	 kid;

	key_derive(m1, 4294967295U, "acme", KEY_API, api);
	key_token(4294967295U, api, tok);
	assert_int_equal(strncmp(tok, "td1.4294967295.", 15), 0);
	assert_int_equal(strlen(tok), 15 + 43);
	assert_true(strlen(tok) < KEY_TOKEN_MAX);
	assert_int_equal(key_token_parse(tok, strlen(tok), &kid, back), 0);
	assert_int_equal(kid, 4294967295U);
	assert_memory_equal(api, back, KEY_LEN);
	key_token(1, api, tok);
	assert_int_equal(key_token_parse(tok, strlen(tok), &kid, back), 0);
	assert_int_equal(kid, 1);
	/* A prefix of the buffer is parsed, not up to a NUL. */
	assert_int_equal(key_token_parse(tok, strlen(tok) - 1, &kid, back), -1);
}

static void
test_token_shape(void **state)
{
	uint8_t		 api[KEY_LEN];
	char		 tok[KEY_TOKEN_MAX], bad[128];
	uint32_t	 kid;
	const char	*b64;
	size_t		 i;
	/* Each as prefix, the key, suffix. */
	static const char *const refused[][2] = {
		{ "", NULL }, { "td1", NULL }, { "td1.", NULL },
		{ "td1.1", NULL }, { "td1.1.", NULL }, { "td2.1.", "" },
		{ "TD1.1.", "" }, { "td1.0.", "" }, { "td1.01.", "" },
		{ "td1.4294967296.", "" }, { "td1.-1.", "" }, { "td1.+1.", "" },
		{ "td1. 1.", "" }, { "td1.1..", "" }, { "td1.1.", "=" },
		{ "td1.1.", " " }, { "td1.1.", "A" }, { " td1.1.", "" },
		{ "td1.1.", "\n" }, { "td1.99999999999999999999.", "" },
	};

	memset(api, 0xa5, sizeof(api));
	key_token(1, api, tok);
	b64 = tok + 6;
	assert_int_equal(strlen(b64), 43);
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		snprintf(bad, sizeof(bad), "%s%s%s", refused[i][0],
		    refused[i][1] ? b64 : "", refused[i][1] ? refused[i][1] :
		    "");
		assert_int_equal(key_token_parse(bad, strlen(bad), &kid, api),
		    -1);
	}
	/* Standard base64 characters are not base64url. */
	snprintf(bad, sizeof(bad), "td1.1.%s", b64);
	bad[10] = '+';
	assert_int_equal(key_token_parse(bad, strlen(bad), &kid, api), -1);
	bad[10] = '/';
	assert_int_equal(key_token_parse(bad, strlen(bad), &kid, api), -1);
	/* 43 chars carry 258 bits: the 2 spare ones must be 0 (one spelling). */
	memset(api, 0, sizeof(api));
	key_token(1, api, tok);
	assert_string_equal(tok + 6, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	tok[strlen(tok) - 1] = 'B';
	assert_int_equal(key_token_parse(tok, strlen(tok), &kid, api), -1);
	/* A NUL inside is not the end. */
	key_token(1, api, tok);
	tok[20] = '\0';
	assert_int_equal(key_token_parse(tok, 6 + 43, &kid, api), -1);
}

static void
test_verify(void **state)
{
	uint8_t	 api[KEY_LEN], other[KEY_LEN], v[KEY_LEN];

	key_derive(m1, 1, "acme", KEY_API, api);
	key_derive(m1, 1, "acme", KEY_SESSION, other);
	key_verifier(api, v);
	assert_memory_not_equal(v, api, KEY_LEN);	/* not the key itself */
	assert_int_equal(key_verify(api, v), 1);
	assert_int_equal(key_verify(other, v), 0);
	api[31] ^= 1;
	assert_int_equal(key_verify(api, v), 0);
}

struct kfx {
	char	 dir[64];
};

static int
kdir_setup(void **state)
{
	struct kfx	*fx;

	if ((fx = calloc(1, sizeof(*fx))) == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_keys.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	*state = fx;
	return 0;
}

static int
kdir_teardown(void **state)
{
	struct kfx	*fx = *state;
	char		 p[PATH_MAX];
	int		 i;

	for (i = 1; i <= 9; i++) {
		snprintf(p, sizeof(p), "%s/master-%d.key", fx->dir, i);
		unlink(p);
	}
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static void
test_files(void **state)
{
	struct kfx		*fx = *state;
	struct master_key	 mk[2], z;
	struct stat		 st;
	uint32_t		 ids[2] = { 1, 2 };
	int64_t			 na[2] = { 0, 1234 };
	char			 err[512], p[PATH_MAX];
	int			 fd;

	assert_int_equal(keys_create(fx->dir, 1, err, sizeof(err)), 0);
	assert_int_equal(keys_create(fx->dir, 2, err, sizeof(err)), 0);
	/* Never overwritten. */
	assert_int_equal(keys_create(fx->dir, 1, err, sizeof(err)), -1);
	assert_int_equal(errno, EEXIST);
	snprintf(p, sizeof(p), "%s/master-1.key", fx->dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0400);
	assert_int_equal(st.st_size, KEY_LEN);
	assert_int_equal(keys_load(fx->dir, ids, na, 2, mk, err, sizeof(err)),
	    0);
	assert_int_equal(mk[0].mk_id, 1);
	assert_int_equal(mk[1].mk_not_after, 1234);
	assert_memory_not_equal(mk[0].mk_key, mk[1].mk_key, KEY_LEN);
	keys_wipe(mk, 2);
	memset(&z, 0, sizeof(z));
	assert_memory_equal(&mk[1], &z, sizeof(z));

	/* Group- or other-readable: refused. */
	assert_int_equal(chmod(p, 0440), 0);
	assert_int_equal(keys_load(fx->dir, ids, na, 1, mk, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "refusing"));
	assert_int_equal(chmod(p, 0400), 0);
	/* Not root's: refused. */
	assert_int_equal(chown(p, 1, 0), 0);
	assert_int_equal(keys_load(fx->dir, ids, na, 1, mk, err, sizeof(err)),
	    -1);
	assert_int_equal(chown(p, 0, 0), 0);
	/* A symlink: refused. */
	assert_int_equal(unlink(p), 0);
	assert_int_equal(symlink("master-2.key", p), 0);
	assert_int_equal(keys_load(fx->dir, ids, na, 1, mk, err, sizeof(err)),
	    -1);
	assert_int_equal(unlink(p), 0);
	/* Short and long: refused, not padded or cut. */
	assert_true((fd = open(p, O_WRONLY | O_CREAT, 0400)) != -1);
	assert_int_equal(write(fd, "short", 5), 5);
	close(fd);
	assert_int_equal(keys_load(fx->dir, ids, na, 1, mk, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "32-byte"));
	assert_int_equal(unlink(p), 0);
	assert_true((fd = open(p, O_WRONLY | O_CREAT, 0400)) != -1);
	assert_int_equal(write(fd, "0123456789012345678901234567890123", 33),
	    33);
	close(fd);
	assert_int_equal(keys_load(fx->dir, ids, na, 1, mk, err, sizeof(err)),
	    -1);
	/* Missing. */
	ids[0] = 9;
	assert_int_equal(keys_load(fx->dir, ids, na, 1, mk, err, sizeof(err)),
	    -1);
	/* More than a worker can be given. */
	assert_int_equal(keys_load(fx->dir, ids, na, KEY_MAX_MASTERS + 1, mk,
	    err, sizeof(err)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_purposes),
		cmocka_unit_test(test_derive_separates),
		cmocka_unit_test(test_derive_spec),
		cmocka_unit_test(test_token_round_trip),
		cmocka_unit_test(test_token_shape),
		cmocka_unit_test(test_verify),
		cmocka_unit_test_setup_teardown(test_files, kdir_setup,
		    kdir_teardown),
	};

	if (sodium_init() == -1)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
