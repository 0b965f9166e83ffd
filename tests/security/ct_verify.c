/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Drives key_verify() (or, as the control, memcmp) 1000 times with a
 * presented key whose verifier differs from the expected one in its first
 * or in its last byte. test_constant_time.py runs it under callgrind: a
 * constant-time check executes the same number of instructions either way
 * (docs/security.md, item 100); the memcmp control shows the test can tell.
 *
 *   ct-verify first|last [memcmp]
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "keys.h"

/*
 * The only function callgrind counts (--toggle-collect): everything else,
 * parsing argv included, differs between the runs and must not be counted.
 */
__attribute__((noinline)) static int
run_checks(const uint8_t *api, const uint8_t *ver, const uint8_t *v,
    int control)
{
	int	 i, sink = 0;

	for (i = 0; i < 1000; i++)
		sink += control ? memcmp(v, ver, KEY_LEN) != 0 :
		    key_verify(api, ver);
	return sink;
}

int
main(int argc, char *argv[])
{
	uint8_t		 api[KEY_LEN], ver[KEY_LEN], v[KEY_LEN];
	int		 byte, control;

	if (argc < 2 || sodium_init() == -1)
		return 2;
	byte = strcmp(argv[1], "first") == 0 ? 0 : KEY_LEN - 1;
	control = argc > 2 && strcmp(argv[2], "memcmp") == 0;
	memset(api, 0x5a, sizeof(api));
	key_verifier(api, ver);
	ver[byte] ^= 0x01;	/* the presented key is wrong in this byte */
	key_verifier(api, v);
	return run_checks(api, ver, v, control) == (control ? 1000 : 0) ?
	    0 : 1;
}
