/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The one escaping of untrusted text for tenantd's log (docs/security.md,
 * item 83): every byte outside printable ASCII becomes \xNN, so nothing
 * logged can end a line, start an escape sequence or carry a NUL. Pure:
 * no I/O, linked by the unit tests alone.
 */
#include <stdio.h>

#include "log.h"

/*
 * len bytes of src into dst as a NUL-terminated string of printable
 * ASCII, cut where the next byte's form would not fit (an escape is never
 * split). Returns how many bytes of src were taken: len unless cut.
 * Its output escapes to itself, so escaping twice changes nothing.
 */
size_t
log_vis(char *dst, size_t dstsz, const void *src, size_t len)
{
	const unsigned char	*s = src;
	size_t			 i, o = 0;

	if (dstsz == 0)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f) {
			if (o + 1 >= dstsz)
				break;
			dst[o++] = (char)s[i];
		} else {
			if (o + 4 >= dstsz)
				break;
			snprintf(dst + o, 5, "\\x%02x", s[i]);
			o += 4;
		}
	}
	dst[o] = '\0';
	return i;
}
