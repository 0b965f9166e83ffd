/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The master key files (effects): keys/master-<id>.key, 32 bytes from
 * getrandom, root's, mode 0400. Whoever can read one can mint every
 * tenant's tokens, so a file anyone but root could read or replace is
 * refused, not used.
 */
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "keys.h"

static int
key_path(const char *keydir, uint32_t id, char *buf, size_t sz, char *err,
    size_t errsz)
{
	if (snprintf(buf, sz, "%s/master-%u.key", keydir, id) >= (int)sz) {
		snprintf(err, errsz, "%s: path too long", keydir);
		return -1;
	}
	return 0;
}

static int
key_read(const char *path, uint8_t key[KEY_LEN], char *err, size_t errsz)
{
	struct stat	 st;
	uint8_t		 buf[KEY_LEN + 1];
	ssize_t		 n;
	size_t		 off = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 077) != 0) {
		snprintf(err, errsz, "%s: must be a regular file owned by root "
		    "that only root can read (mode 0400); refusing to use it",
		    path);
		close(fd);
		return -1;
	}
	/* One byte more than a key: a longer file is refused, not cut. */
	while (off < sizeof(buf) &&
	    (n = read(fd, buf + off, sizeof(buf) - off)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errsz, "%s: %s", path, strerror(errno));
			sodium_memzero(buf, sizeof(buf));
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	close(fd);
	if (off != KEY_LEN) {
		snprintf(err, errsz, "%s: not a %d-byte key", path, KEY_LEN);
		sodium_memzero(buf, sizeof(buf));
		return -1;
	}
	memcpy(key, buf, KEY_LEN);
	sodium_memzero(buf, sizeof(buf));
	return 0;
}

int
keys_load(const char *keydir, const uint32_t *ids, const int64_t *not_after,
    size_t n, struct master_key *out, char *err, size_t errsz)
{
	char	 path[PATH_MAX];
	size_t	 i;

	if (n > KEY_MAX_MASTERS) {
		snprintf(err, errsz, "%zu master keys, at most %d", n,
		    KEY_MAX_MASTERS);
		return -1;
	}
	for (i = 0; i < n; i++) {
		out[i].mk_id = ids[i];
		out[i].mk_not_after = not_after[i];
		if (key_path(keydir, ids[i], path, sizeof(path), err,
		    errsz) == -1 || key_read(path, out[i].mk_key, err,
		    errsz) == -1) {
			keys_wipe(out, i);
			return -1;
		}
	}
	return 0;
}

int
keys_create(const char *keydir, uint32_t id, char *err, size_t errsz)
{
	uint8_t		 key[KEY_LEN];
	char		 path[PATH_MAX];
	ssize_t		 n;
	size_t		 off;
	int		 fd, saved;

	if (key_path(keydir, id, path, sizeof(path), err, errsz) == -1)
		return -1;
	for (off = 0; off < sizeof(key); off += (size_t)n)
		if ((n = getrandom(key + off, sizeof(key) - off, 0)) == -1) {
			if (errno == EINTR) {
				n = 0;
				continue;
			}
			snprintf(err, errsz, "getrandom: %s", strerror(errno));
			sodium_memzero(key, sizeof(key));
			return -1;
		}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0400)) == -1) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		sodium_memzero(key, sizeof(key));
		return -1;
	}
	/* Whatever the umask: 0400 and root's, as keys_load demands. */
	errno = EIO;	/* what a short write leaves */
	if (fchown(fd, 0, 0) == -1 || fchmod(fd, 0400) == -1 ||
	    write(fd, key, sizeof(key)) != (ssize_t)sizeof(key) ||
	    fsync(fd) == -1) {
		saved = errno;
		sodium_memzero(key, sizeof(key));
		close(fd);
		unlink(path);
		snprintf(err, errsz, "%s: %s", path, strerror(saved));
		return -1;
	}
	sodium_memzero(key, sizeof(key));
	if (close(fd) == -1) {
		saved = errno;
		unlink(path);
		snprintf(err, errsz, "%s: %s", path, strerror(saved));
		return -1;
	}
	/* The name must survive a crash as well as the bytes. */
	if ((fd = open(keydir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

void
keys_wipe(struct master_key *mk, size_t n)
{
	sodium_memzero(mk, n * sizeof(*mk));
}
