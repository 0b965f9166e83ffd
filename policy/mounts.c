/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Parser for tenant-code.mounts: what tenantd-run puts in a handler's new
 * root besides /tenant. One entry a line, each with its "# why":
 *
 *	ro <path>                  # a host path, bound read-only, nosuid
 *	ro? <path>                 # the same, skipped if <path> is absent
 *	symlink <path> <target>    # e.g. /bin -> usr/bin
 *	tmp <size>                 # the private /tmp (K, M or G)
 *	dev <name>                 # /dev/<name>: null zero full random urandom
 *
 * Paths are absolute and plain: no "." or "..", no empty or trailing
 * component, at most 47 bytes. /tenant, /tmp, /dev and /proc are the
 * runner's own, and no two paths may nest (a mount point inside a
 * read-only bind could not be made, and a later bind would hide an
 * earlier one). Pure code: the unit tests link it alone.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"

static const char *const reserved[] = { "/tenant", "/tmp", "/dev", "/proc" };
static const char *const devices[] = { "null", "zero", "full", "random",
    "urandom" };

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* 1 if a is b or a directory above it. */
static int
path_covers(const char *a, const char *b)
{
	size_t	 l = strlen(a);

	return strncmp(a, b, l) == 0 && (b[l] == '\0' || b[l] == '/');
}

/* Letters, digits, "._+-" and "/" between non-empty, non-dot components. */
static int
path_plain(const char *p)
{
	const char	*c;
	size_t		 l;

	if (*p == '\0' || strspn(p, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-/") != strlen(p))
		return 0;
	for (c = p; *c != '\0'; c += l + (c[l] == '/')) {
		if (c == p && *c == '/')
			c++;
		l = strcspn(c, "/");
		if (l == 0 || (l == 1 && c[0] == '.') ||
		    (l == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		if (c[l] == '/' && c[l + 1] == '\0')
			return 0;
	}
	return 1;
}

static int
mounts_path(int line, const struct mounts *m, const char *p, char *err,
    size_t errsz)
{
	size_t	 i;

	if (p[0] != '/' || p[1] == '\0' || !path_plain(p)) {
		snprintf(err, errsz, "line %d: \"%s\": not a plain absolute "
		    "path", line, p);
		return -1;
	}
	for (i = 0; i < NELEM(reserved); i++)
		if (path_covers(reserved[i], p) || path_covers(p, reserved[i])) {
			snprintf(err, errsz, "line %d: %s: tenantd-run makes "
			    "%s itself", line, p, reserved[i]);
			return -1;
		}
	for (i = 0; i < m->m_n; i++) {
		if (m->m_ent[i].me_kind != MOUNT_RO &&
		    m->m_ent[i].me_kind != MOUNT_SYMLINK)
			continue;
		if (path_covers(p, m->m_ent[i].me_path) ||
		    path_covers(m->m_ent[i].me_path, p)) {
			snprintf(err, errsz, "line %d: %s and %s nest", line,
			    p, m->m_ent[i].me_path);
			return -1;
		}
	}
	return 0;
}

static int
mounts_entry(int line, int n, char w[3][48], void *arg, char *err,
    size_t errsz)
{
	static const char *const sfx[] = { "K", "M", "G", NULL };
	static const uint64_t	 mul[] = { 1ULL << 10, 1ULL << 20, 1ULL << 30 };
	struct mounts		*m = arg;
	struct mount_ent	*e;
	size_t			 i;

	if (m->m_n == MOUNTS_MAX) {
		snprintf(err, errsz, "line %d: more than %d entries", line,
		    MOUNTS_MAX);
		return -1;
	}
	e = &m->m_ent[m->m_n];
	memset(e, 0, sizeof(*e));
	if ((strcmp(w[0], "ro") == 0 || strcmp(w[0], "ro?") == 0) && n == 2) {
		if (mounts_path(line, m, w[1], err, errsz) == -1)
			return -1;
		e->me_kind = MOUNT_RO;
		e->me_optional = w[0][2] == '?';
		snprintf(e->me_path, sizeof(e->me_path), "%s", w[1]);
	} else if (strcmp(w[0], "symlink") == 0 && n == 3) {
		if (mounts_path(line, m, w[1], err, errsz) == -1)
			return -1;
		if (!path_plain(w[2])) {
			snprintf(err, errsz, "line %d: symlink target \"%s\": "
			    "not a plain path", line, w[2]);
			return -1;
		}
		e->me_kind = MOUNT_SYMLINK;
		snprintf(e->me_path, sizeof(e->me_path), "%s", w[1]);
		snprintf(e->me_target, sizeof(e->me_target), "%s", w[2]);
	} else if (strcmp(w[0], "tmp") == 0 && n == 2) {
		for (i = 0; i < m->m_n; i++)
			if (m->m_ent[i].me_kind == MOUNT_TMP) {
				snprintf(err, errsz, "line %d: tmp set twice",
				    line);
				return -1;
			}
		if (policy_number(w[1], sfx, mul, &e->me_size) == -1) {
			snprintf(err, errsz, "line %d: tmp: bad size \"%s\" "
			    "(a number with K, M or G)", line, w[1]);
			return -1;
		}
		if (e->me_size == 0) {
			snprintf(err, errsz, "line %d: tmp: size 0", line);
			return -1;
		}
		e->me_kind = MOUNT_TMP;
	} else if (strcmp(w[0], "dev") == 0 && n == 2) {
		for (i = 0; i < NELEM(devices); i++)
			if (strcmp(devices[i], w[1]) == 0)
				break;
		if (i == NELEM(devices)) {
			snprintf(err, errsz, "line %d: dev \"%s\": only null, "
			    "zero, full, random and urandom", line, w[1]);
			return -1;
		}
		for (i = 0; i < m->m_n; i++)
			if (m->m_ent[i].me_kind == MOUNT_DEV &&
			    strcmp(m->m_ent[i].me_path, w[1]) == 0) {
				snprintf(err, errsz, "line %d: dev %s listed "
				    "twice", line, w[1]);
				return -1;
			}
		e->me_kind = MOUNT_DEV;
		snprintf(e->me_path, sizeof(e->me_path), "%s", w[1]);
	} else {
		snprintf(err, errsz, "line %d: expected \"ro <path>\", \"ro? "
		    "<path>\", \"symlink <path> <target>\", \"tmp <size>\" or "
		    "\"dev <name>\"", line);
		return -1;
	}
	m->m_n++;
	return 0;
}

int
mounts_parse(const char *text, size_t len, struct mounts *m, char *err,
    size_t errsz)
{
	memset(m, 0, sizeof(*m));
	return policy_lines(text, len, 2, 3, "\"<kind> <argument>...\"",
	    mounts_entry, m, err, errsz);
}
