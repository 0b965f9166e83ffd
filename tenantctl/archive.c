/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * What tenantctl export (export.c) and import (import.c) share and is not
 * pure: the signal flag both poll, so an interrupted run leaves nothing
 * behind, and their warnings. The archive format and the rules on what an
 * archive may hold are in archive_pure.h.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>
#include <sodium.h>

#include "archive_pure.h"
#include "keys.h"
#include "tenantctl.h"


volatile sig_atomic_t	 interrupted;

static void
on_signal(int sig)
{
	interrupted = sig;
}

void
catch_signals(void)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

void
warn_(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "tenantctl: warning: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
mac_digest_init(crypto_generichash_state *st)
{
	crypto_generichash_init(st, NULL, 0, MAC_DIGEST_LEN);
	crypto_generichash_update(st, (const unsigned char *)MAC_DOMAIN,
	    sizeof(MAC_DOMAIN));
}

static void
mac_put(crypto_generichash_state *st, const void *p, size_t n)
{
	uint8_t		 len[8];
	uint64_t	 v = n;
	int		 i;

	/* Length first: no field can run into the next. */
	for (i = 0; i < 8; i++)
		len[i] = (uint8_t)(v >> (8 * i));
	crypto_generichash_update(st, len, sizeof(len));
	if (n > 0)
		crypto_generichash_update(st, p, n);
}

static void
mac_put_int(crypto_generichash_state *st, int64_t v)
{
	uint8_t	 b[8];
	int	 i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)((uint64_t)v >> (8 * i));
	crypto_generichash_update(st, b, sizeof(b));
}

/*
 * What import uses of an entry, as libarchive gives it on either side:
 * tar writes a directory's name with a "/" that the reader sees, so one
 * trailing "/" of a directory is not part of the name here; a hard link's
 * type is its target's business. Sub-second times are left out: the
 * restricted pax format does not always store them.
 */
void
mac_digest_entry(crypto_generichash_state *st, struct archive_entry *ae)
{
	const char	*p = archive_entry_pathname(ae), *hl, *sl;
	size_t		 n = p != NULL ? strlen(p) : 0;

	hl = archive_entry_hardlink(ae);
	sl = archive_entry_symlink(ae);
	if (hl == NULL && archive_entry_filetype(ae) == AE_IFDIR && n > 1 &&
	    p[n - 1] == '/')
		n--;
	crypto_generichash_update(st, (const unsigned char *)"E", 1);
	mac_put(st, p, n);
	mac_put(st, hl, hl != NULL ? strlen(hl) + 1 : 0);
	mac_put(st, sl, sl != NULL ? strlen(sl) + 1 : 0);
	mac_put_int(st, hl != NULL ? 0 : archive_entry_filetype(ae));
	mac_put_int(st, archive_entry_perm(ae));
	mac_put_int(st, archive_entry_uid(ae));
	mac_put_int(st, archive_entry_gid(ae));
	mac_put_int(st, archive_entry_size(ae));
	mac_put_int(st, archive_entry_mtime(ae));
}

void
mac_digest_data(crypto_generichash_state *st, const void *p, size_t n)
{
	if (n > 0)
		crypto_generichash_update(st, p, n);
}

void
mac_line(const uint8_t *master, uint32_t kid, const char *slug,
    const uint8_t digest[MAC_DIGEST_LEN], char out[MAC_LINE_MAX])
{
	uint8_t	 k[KEY_LEN], mac[MAC_LEN];
	char	 hex[2 * MAC_LEN + 1];

	key_derive(master, kid, slug, KEY_EXPORT, k);
	crypto_generichash(mac, sizeof(mac), digest, MAC_DIGEST_LEN, k,
	    sizeof(k));
	sodium_memzero(k, sizeof(k));
	sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
	snprintf(out, MAC_LINE_MAX, "%s %u %s\n", MAC_DOMAIN, kid, hex);
}
