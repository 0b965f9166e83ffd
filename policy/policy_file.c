/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Reading policy files. They decide what a sandbox may do, so they must be
 * root-owned regular files nobody else can write. And what a handler's
 * sandbox is made of, which tenantd-run builds and tenantd checks.
 */
#include <sys/mount.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "policy.h"

ssize_t
policy_file_read(const char *path, char *buf, size_t bufsz, char *err,
    size_t errsz)
{
	struct stat	 st;
	ssize_t		 n;
	size_t		 off = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		int	 saved = errno;

		/* Kept: a caller may take ENOENT as "no file, no change". */
		snprintf(err, errsz, "%s: %s", path, strerror(saved));
		errno = saved;
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 022) != 0) {
		snprintf(err, errsz, "%s: must be a root-owned regular file "
		    "writable by root only", path);
		close(fd);
		return -1;
	}
	while ((n = read(fd, buf + off, bufsz - off)) > 0)
		if ((off += (size_t)n) == bufsz) {
			snprintf(err, errsz, "%s: larger than %zu bytes", path,
			    bufsz - 1);
			close(fd);
			return -1;
		}
	if (n == -1) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return (ssize_t)off;
}

static int
prefix_err(const char *path, char *err, size_t errsz)
{
	char	 tmp[512];

	snprintf(tmp, sizeof(tmp), "%s: %s", path, err);
	snprintf(err, errsz, "%s", tmp);
	return -1;
}

enum policy_kind { PK_ALLOW, PK_DENY, PK_LIMITS, PK_CGROUP };

/* Read a policy-format file and parse it as the kind of file it is. */
static int
policy_file_load(const char *path, enum policy_kind kind, void *out,
    char *err, size_t errsz)
{
	char	*buf;
	ssize_t	 n;
	int	 r = -1;

	if ((buf = malloc(POLICY_FILE_MAX)) == NULL) {
		snprintf(err, errsz, "%s", strerror(errno));
		return -1;
	}
	if ((n = policy_file_read(path, buf, POLICY_FILE_MAX, err, errsz)) == -1) {
		free(buf);
		return -1;
	}
	switch (kind) {
	case PK_ALLOW:
		r = policy_parse(buf, (size_t)n, out, err, errsz);
		break;
	case PK_DENY:
		r = denylist_parse(buf, (size_t)n, out, err, errsz);
		break;
	case PK_LIMITS:
		r = limits_parse(buf, (size_t)n, out, err, errsz);
		break;
	case PK_CGROUP:
		r = cgroup_parse(buf, (size_t)n, out, err, errsz);
		break;
	}
	free(buf);
	return r == -1 ? prefix_err(path, err, errsz) : 0;
}

int
policy_load(const char *path, struct policy *pol, char *err, size_t errsz)
{
	return policy_file_load(path, PK_ALLOW, pol, err, errsz);
}

int
denylist_load(const char *path, struct policy *pol, char *err, size_t errsz)
{
	return policy_file_load(path, PK_DENY, pol, err, errsz);
}

int
limits_load(const char *path, struct limits *lim, char *err, size_t errsz)
{
	return policy_file_load(path, PK_LIMITS, lim, err, errsz);
}

int
cgroup_load(const char *path, struct cgroup_policy *cg, char *err,
    size_t errsz)
{
	return policy_file_load(path, PK_CGROUP, cg, err, errsz);
}

/*
 * The tenant directory's parts a handler sees, under /tenant. Not there:
 * tenant.json, billing.db (root's ledger) and anything else in the
 * tenant directory itself, which is not mounted at all. Nor tmp/: the
 * workers keep the WAL index of data/app.db there, a file they map, which
 * tenant code must not be able to truncate (worker/kv.c kv_sys_open()).
 */
const struct tenant_dir tenant_dirs[RUN_TENANT_DIRS] = {
	{ "app", RO_FLAGS },			/* the handlers: exec allowed */
	{ "public", RO_FLAGS | MS_NOEXEC },	/* served as is by the worker */
	{ "data", RW_FLAGS },
	{ "uploads", RW_FLAGS },
	{ "logs", RW_FLAGS },
};

/* Device, inode and type of what st names, into the digest; 0s: missing. */
static void
digest_id(crypto_generichash_state *h, const struct stat *st)
{
	uint64_t	 id[3] = { 0, 0, 0 };

	if (st != NULL) {
		id[0] = (uint64_t)st->st_dev;
		id[1] = (uint64_t)st->st_ino;
		id[2] = (uint64_t)st->st_mode;
	}
	crypto_generichash_update(h, (const unsigned char *)id, sizeof(id));
}

/*
 * What a kept sandbox's mounts were made of: the mounts file's bytes, and
 * for each host path it binds, and each of the tenant's directories under
 * /tenant, the file or directory that path names now (device and inode;
 * or that it is missing, for "ro?"). A bind shows changes made in place,
 * but holds on to a file or directory replaced by rename (/etc/resolv.conf,
 * /etc/ld.so.cache, a tenant's data/ restored from a backup) and never
 * shows a path that appeared after it was built: either changes the
 * digest, and the next run builds anew.
 */
void
mounts_digest(const char *text, size_t len, const struct mounts *m,
    int rootfd, unsigned char digest[16])
{
	crypto_generichash_state	 h;
	const struct mount_ent		*e;
	struct stat			 st;
	char				 p[PATH_MAX];
	size_t				 i;

	crypto_generichash_init(&h, NULL, 0, 16);
	crypto_generichash_update(&h, (const unsigned char *)text, len);
	for (i = 0; i < m->m_n; i++) {
		e = &m->m_ent[i];
		if (e->me_kind != MOUNT_RO && e->me_kind != MOUNT_DEV)
			continue;
		snprintf(p, sizeof(p), "%s%s", e->me_kind == MOUNT_DEV ?
		    "/dev/" : "", e->me_path);
		/* As jail_mounts() binds it: following links. */
		digest_id(&h, stat(p, &st) == 0 ? &st : NULL);
	}
	/* As jail_tenant() opens them: no link followed. */
	for (i = 0; i < RUN_TENANT_DIRS; i++)
		digest_id(&h, fstatat(rootfd, tenant_dirs[i].td_name, &st,
		    AT_SYMLINK_NOFOLLOW) == 0 ? &st : NULL);
	crypto_generichash_final(&h, digest, 16);
}

