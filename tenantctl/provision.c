/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Creating and removing tenant directories, as root, in trees a tenant can
 * write to. Every operation is relative to a directory descriptor and never
 * follows a symlink (THREATS 8): a tenant that plants "data -> /etc" gets
 * its symlink removed, not /etc.
 *
 *   tenants/<slug>/            root:<gid> 0750  the chroot: tenant cannot write
 *   tenants/<slug>/tenant.json root:<gid> 0640  manifest
 *   tenants/<slug>/billing.db  root:root 0600   the credit ledger (ledger.h)
 *   tenants/<slug>/{public,data,uploads,logs,tmp,app}/  <uid>:<gid> 0700
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "tenantctl.h"

#define PURGE_DEPTH_MAX	256

static const char *const subdirs[] = {
	"public", "data", "uploads", "logs", "tmp", "app", NULL
};

static int
write_at(int dirfd, const char *name, const char *data, size_t len,
    uid_t uid, gid_t gid, mode_t mode)
{
	int	 fd, saved;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, mode);
	if (fd == -1)
		return -1;
	if (write(fd, data, len) != (ssize_t)len || fchown(fd, uid, gid) ==
	    -1 || fchmod(fd, mode) == -1 || fsync(fd) == -1) {
		saved = errno;
		close(fd);
		unlinkat(dirfd, name, 0);
		errno = saved;
		return -1;
	}
	return close(fd);
}

/*
 * The manifest, tenant.json, root:<gid> 0640 in the jail root: what the
 * directory is, for whoever finds it without the registry. Written by
 * create and by import.
 */
int
manifest_write(int dirfd, const struct tenant *t, const char *host)
{
	json_t	*o;
	char	*s;
	int	 r, saved;

	o = json_pack("{s:i, s:s, s:I, s:I, s:I, s:s}",
	    "format", 1, "slug", t->t_slug, "uid", (json_int_t)t->t_uid,
	    "gid", (json_int_t)t->t_gid, "created", (json_int_t)t->t_created,
	    "host", host);
	if (o == NULL) {
		errno = ENOMEM;
		return -1;
	}
	s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(o);
	if (s == NULL) {
		errno = ENOMEM;
		return -1;
	}
	r = write_at(dirfd, "tenant.json", s, strlen(s), 0, t->t_gid, 0640);
	saved = errno;
	free(s);
	errno = saved;
	return r;
}

/*
 * Build the tenant's tree under a temporary name in tenants/, then rename
 * it into place: a crash leaves a ".new-*" directory, never a half-made
 * tenant directory that a worker could be started in.
 */
int
provision_tenant(int tenantsfd, const char *slug, const struct tenant *t,
    const char *host, int64_t credits, char *err, size_t errsz)
{
	char		 tmp[128], page[512];
	unsigned char	 rnd[6];
	int		 fd = -1, pfd, i, n;
	struct stat	 st;

	if (fstatat(tenantsfd, slug, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		snprintf(err, errsz, "tenants/%s already exists; it belongs to "
		    "no tenant: move it away first", slug);
		return -1;
	}
	randombytes_buf(rnd, sizeof(rnd));
	snprintf(tmp, sizeof(tmp), ".new-%s-%02x%02x%02x%02x%02x%02x", slug,
	    rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	if (mkdirat(tenantsfd, tmp, 0700) == -1) {
		snprintf(err, errsz, "mkdir tenants/%s: %s", tmp,
		    strerror(errno));
		return -1;
	}
	if ((fd = openat(tenantsfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		goto fail;
	/* The jail root: root's, readable by the tenant's group only. */
	if (fchown(fd, 0, t->t_gid) == -1 || fchmod(fd, 0750) == -1)
		goto fail;
	for (i = 0; subdirs[i] != NULL; i++) {
		if (mkdirat(fd, subdirs[i], 0700) == -1 ||
		    fchownat(fd, subdirs[i], t->t_uid, t->t_gid,
		    AT_SYMLINK_NOFOLLOW) == -1)
			goto fail;
	}
	if (manifest_write(fd, t, host) == -1)
		goto fail;
	/* Before the rename: no tenant is ever served without its books. */
	if (ledger_provision(fd, credits, page, sizeof(page)) == -1) {
		snprintf(err, errsz, "provisioning tenants/%s: %s", slug, page);
		close(fd);
		purge_tenant(tenantsfd, tmp, NULL, 0);
		return -1;
	}
	/* A first page, so a new tenant answers with something of its own. */
	if ((pfd = openat(fd, "public", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		goto fail;
	n = snprintf(page, sizeof(page), "<!doctype html>\n<title>%s</title>\n"
	    "<h1>%s</h1>\n<p>This is the tenant <b>%s</b>, served from its "
	    "own sandbox by tenantd.</p>\n", slug, host, slug);
	if (write_at(pfd, "index.html", page, (size_t)n, t->t_uid, t->t_gid,
	    0640) == -1) {
		close(pfd);
		goto fail;
	}
	close(pfd);
	if (fsync(fd) == -1 || renameat(tenantsfd, tmp, tenantsfd, slug) == -1)
		goto fail;
	close(fd);
	fsync(tenantsfd);
	return 0;
 fail:
	snprintf(err, errsz, "provisioning tenants/%s: %s", slug,
	    strerror(errno));
	if (fd != -1)
		close(fd);
	purge_tenant(tenantsfd, tmp, NULL, 0);
	return -1;
}

static int
rm_tree(int parent, const char *name, int depth, char *err, size_t errsz)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	int		 fd, r = 0;

	if (depth > PURGE_DEPTH_MAX) {
		if (err != NULL)
			snprintf(err, errsz, "tree deeper than %d levels",
			    PURGE_DEPTH_MAX);
		return -1;
	}
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC | O_NONBLOCK);
	if (fd == -1) {
		/* Not a directory (any more): a file, socket, symlink... */
		if (unlinkat(parent, name, 0) == -1 && errno != ENOENT)
			goto fail;
		return 0;
	}
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		goto fail;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
		    -1)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (rm_tree(dirfd(d), de->d_name, depth + 1, err,
			    errsz) == -1)
				r = -1;
		} else if (unlinkat(dirfd(d), de->d_name, 0) == -1 &&
		    errno != ENOENT)
			r = -1;
	}
	closedir(d);
	if (r == -1)
		return -1;
	if (unlinkat(parent, name, AT_REMOVEDIR) == -1 && errno != ENOENT)
		goto fail;
	return 0;
 fail:
	if (err != NULL && err[0] == '\0')
		snprintf(err, errsz, "%s: %s", name, strerror(errno));
	return -1;
}

/*
 * Remove tenants/<name>. It is first renamed out of the way (a worker
 * still draining keeps its chroot; nothing can be started in the old
 * name), then removed without following any link the tenant left.
 */
int
purge_tenant(int tenantsfd, const char *name, char *err, size_t errsz)
{
	char		 tmp[128];
	unsigned char	 rnd[6];
	struct stat	 st;

	if (err != NULL)
		err[0] = '\0';
	if (fstatat(tenantsfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 0 : -1;
	if (name[0] != '.') {
		randombytes_buf(rnd, sizeof(rnd));
		snprintf(tmp, sizeof(tmp), ".purge-%s-%02x%02x%02x%02x%02x%02x",
		    name, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
		if (renameat(tenantsfd, name, tenantsfd, tmp) == -1) {
			if (err != NULL)
				snprintf(err, errsz, "rename tenants/%s: %s",
				    name, strerror(errno));
			return -1;
		}
		name = tmp;
	}
	return rm_tree(tenantsfd, name, 0, err, errsz);
}
