/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Micro-benchmarks of the supervisor's per-request pure work: parsing a
 * typical proxied request head, classifying its Host, and the SipHash
 * bucket lookup the route cache does. Prints nanoseconds per operation.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "host.h"
#include "httphead.h"

static const char head[] =
    "GET /assets/app.css?v=42 HTTP/1.1\r\n"
    "Host: acme.app.example.com\r\n"
    "X-Forwarded-For: 203.0.113.7\r\n"
    "X-Forwarded-Proto: https\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/132.0\r\n"
    "Accept: text/css,*/*;q=0.1\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Referer: https://acme.app.example.com/\r\n"
    "Cookie: session=0123456789abcdef0123456789abcdef\r\n"
    "\r\n";

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int
main(void)
{
	struct host_conf	 hc;
	struct host_result	 hr;
	struct hh_parser	 hp;
	unsigned char		 key[crypto_shorthash_KEYBYTES];
	unsigned char		 out[crypto_shorthash_BYTES];
	volatile unsigned long	 sink = 0;
	const int		 n = 2000000;
	double			 t0, t1, t2, t3;
	int			 i;

	if (sodium_init() == -1 ||
	    host_conf_init(&hc, "app.example.com", "admin.example.com") == -1)
		return 1;
	randombytes_buf(key, sizeof(key));

	t0 = now();
	for (i = 0; i < n; i++) {
		hh_init(&hp, 8192, 4096);
		sink += (unsigned long)hh_feed(&hp, (const uint8_t *)head,
		    sizeof(head) - 1);
	}
	t1 = now();
	for (i = 0; i < n; i++)
		sink += host_classify(&hc, "acme.app.example.com", 20, &hr);
	t2 = now();
	for (i = 0; i < n; i++) {
		crypto_shorthash(out, (const unsigned char *)hr.hr_name,
		    hr.hr_name_len, key);
		sink += out[0];
	}
	t3 = now();
	printf("{\"head_parse_ns\": %.0f, \"classify_ns\": %.0f, "
	    "\"cache_hash_ns\": %.0f, \"head_bytes\": %zu}\n",
	    (t1 - t0) / n, (t2 - t1) / n, (t3 - t2) / n, sizeof(head) - 1);
	return sink == 0;
}
