/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Data-plane parser fuzz target (docs/security.md, item 98): the input is a
 * request target, then (after the first NUL, if any) an Authorization value.
 * Every span the parsers return must lie inside the input, a decoded key must
 * be no longer than its buffer and no valid key may hold a control byte; a
 * valid key escaped as JSON has exactly the length promised. The bucket is
 * driven by the input bytes as clock steps and must stay within a minute's
 * worth.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvpath.h"

#define KEY_MAX		64

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define REQUIRE(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "kvpath_fuzz: %s:%d: %s\n", __FILE__,	\
		    __LINE__, #c);					\
		abort();						\
	}								\
} while (0)

static void
check_key(const char *k, size_t len)
{
	char	 js[KEY_MAX * 6 + 2];
	size_t	 i, n;

	if (kv_key_valid(k, len, KEY_MAX) == -1)
		return;
	for (i = 0; i < len; i++)
		REQUIRE((unsigned char)k[i] >= 0x20 &&
		    (unsigned char)k[i] != 0x7f);
	n = kv_json_str(js, sizeof(js), k, len);
	REQUIRE(n == kv_json_str_len(k, len) && n >= len + 2);
	REQUIRE(js[0] == '"' && js[n - 1] == '"');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*t = (const char *)data, *auth = NULL;
	struct kv_target kt;
	struct kv_query	 kq;
	struct tbucket	 tb;
	char		 key[KEY_MAX], prefix[KEY_MAX + 1], after[KEY_MAX + 1];
	size_t		 tlen = size, alen = 0, klen, off, len, i;
	uint64_t	 now = 0, retry;
	const uint8_t	*nul;

	if ((nul = memchr(data, '\0', size)) != NULL) {
		tlen = (size_t)(nul - data);
		auth = (const char *)nul + 1;
		alen = size - tlen - 1;
	}
	kv_target_parse(t, tlen, &kt);
	if (kt.kt_has_query)
		REQUIRE(kt.kt_query_off + kt.kt_query_len == tlen);
	switch (kt.kt_route) {
	case KV_ROUTE_ITEM:
		REQUIRE(kt.kt_key_len > 0 &&
		    kt.kt_key_off + kt.kt_key_len <= tlen);
		if (kv_unescape(t + kt.kt_key_off, kt.kt_key_len, key,
		    sizeof(key), &klen) == 0) {
			REQUIRE(klen <= sizeof(key) && klen <= kt.kt_key_len);
			check_key(key, klen);
		}
		break;
	case KV_ROUTE_LIST:
		kq.kq_prefix = prefix;
		kq.kq_after = after;
		if (kv_query_parse(t + kt.kt_query_off, kt.kt_has_query ?
		    kt.kt_query_len : 0, KEY_MAX, &kq) == 0) {
			REQUIRE(kq.kq_limit >= 1 && kq.kq_limit <= KV_LIST_MAX);
			REQUIRE(kq.kq_prefix_len <= KEY_MAX &&
			    kq.kq_after_len <= KEY_MAX);
			REQUIRE(strlen(prefix) == kq.kq_prefix_len);
			if (kq.kq_after_len > 0)
				check_key(after, kq.kq_after_len);
		}
		break;
	default:
		break;
	}
	if (auth != NULL && kv_bearer(auth, alen, &off, &len) == 0)
		REQUIRE(len > 0 && off + len == alen && off >= 7);

	tb_init(&tb, tlen, 0);
	for (i = 0; i < size; i++) {
		now += data[i] * 37;
		if (tb_take(&tb, now, &retry) == -1)
			REQUIRE(retry >= 1 && retry <= 60);
		REQUIRE(tb.tb_units <= tb.tb_rate * 60000);
	}
	return 0;
}
