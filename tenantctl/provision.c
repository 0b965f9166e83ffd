/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Creating and removing tenant directories, as root, in trees a tenant can
 * write to. Every operation is relative to a directory descriptor and never
 * follows a symlink (docs/security.md, item 8): a tenant that plants
 * "data -> /etc" gets its symlink removed, not /etc.
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

#define PURGE_PREFIX	".purge-"
#define PURGE_RESTARTS	1000	/* walks from the top of one tree */

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

/*
 * Where a removal is: the directories from the top of the tree down to the
 * current one, by (dev, ino). Walking back up through ".." is trusted only
 * when ".." is the directory the walk came down from: a tenant whose worker
 * still drains in the tree can move a directory while it is emptied, and
 * then ".." leads somewhere else.
 */
struct rm_level {
	dev_t	 rl_dev;
	ino_t	 rl_ino;
};

struct rm_walk {
	struct rm_level	*rw_l;
	size_t		 rw_n, rw_cap;
};

static int
rm_push(struct rm_walk *w, const struct stat *st)
{
	struct rm_level	*nl;
	size_t		 ncap;

	if (w->rw_n == w->rw_cap) {
		ncap = w->rw_cap ? w->rw_cap * 2 : 64;
		if ((nl = reallocarray(w->rw_l, ncap, sizeof(*nl))) == NULL)
			return -1;
		w->rw_l = nl;
		w->rw_cap = ncap;
	}
	w->rw_l[w->rw_n].rl_dev = st->st_dev;
	w->rw_l[w->rw_n].rl_ino = st->st_ino;
	w->rw_n++;
	return 0;
}

/* A directory below the current one, or -1. */
static int
rm_down(struct rm_walk *w, int dfd, const char *name)
{
	struct stat	 st;
	int		 fd, saved;

	if ((fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC | O_NONBLOCK)) == -1)
		return -1;
	if (fstat(fd, &st) == 0 && rm_push(w, &st) == 0)
		return fd;
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* The parent of the current directory, if it is the one we came from. */
static int
rm_up(struct rm_walk *w, int dfd)
{
	struct stat	 st;
	int		 fd;

	if ((fd = openat(dfd, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC | O_NONBLOCK)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 ||
	    st.st_dev != w->rw_l[w->rw_n - 2].rl_dev ||
	    st.st_ino != w->rw_l[w->rw_n - 2].rl_ino) {
		close(fd);
		return -1;
	}
	w->rw_n--;
	return fd;
}

/*
 * Remove parent/name and everything under it, at any depth, holding two
 * descriptors at most. The walk goes down by name (O_NOFOLLOW: never
 * through a symlink) into a directory that is not empty, unlinks what is
 * not a directory (a symlink is removed, never followed), and comes back
 * up through ".." checked by rm_up(); the parent then removes the emptied
 * directory by name on its next pass. Whatever changes under the walk (a
 * tenant racing renames) starts it again from the top, a bounded number of
 * times. A file system mounted inside is never entered (its files are not
 * the tenant's): rmdir(2) refuses a mount point with EBUSY before it would
 * say ENOTEMPTY, which is why removal is tried before descent.
 * Names in the tree are the tenant's bytes: errors say where by depth.
 */
static int
rm_tree(int parent, const char *name, char *err, size_t errsz)
{
	struct rm_walk	 w;
	struct dirent	*de;
	struct stat	 st;
	DIR		*d = NULL;
	int		 fd, restarts = 0, saved;
	const char	*op = "opening it";

	memset(&w, 0, sizeof(w));
 top:
	if (d != NULL)
		closedir(d);
	d = NULL;
	w.rw_n = 0;
	if (++restarts > PURGE_RESTARTS) {
		op = "it kept changing while it was removed";
		errno = EAGAIN;
		goto fail;
	}
	if ((fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC | O_NONBLOCK)) == -1) {
		/* Gone, or not a directory (any more): a file, a symlink... */
		if (errno == ENOENT || ((errno == ENOTDIR || errno == ELOOP) &&
		    (unlinkat(parent, name, 0) == 0 || errno == ENOENT))) {
			free(w.rw_l);
			return 0;
		}
		goto fail;
	}
	if (fstat(fd, &st) == -1 || rm_push(&w, &st) == -1 ||
	    (d = fdopendir(fd)) == NULL) {
		saved = errno;
		close(fd);
		errno = saved;
		goto fail;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			/* unlink(2) refuses a directory with EISDIR. */
			if (unlinkat(dirfd(d), de->d_name, 0) == 0 ||
			    errno == ENOENT)
				continue;
			if (errno == EISDIR && (unlinkat(dirfd(d), de->d_name,
			    AT_REMOVEDIR) == 0 || errno == ENOENT))
				continue;
			if (errno != ENOTEMPTY && errno != EEXIST) {
				op = "removing an entry";
				goto fail;
			}
			if ((fd = rm_down(&w, dirfd(d), de->d_name)) == -1) {
				if (errno == ENOENT || errno == ENOTDIR ||
				    errno == ELOOP)
					goto top;	/* changed meanwhile */
				op = "entering a directory";
				goto fail;
			}
			closedir(d);
			if ((d = fdopendir(fd)) == NULL) {
				close(fd);
				goto fail;
			}
			continue;
		}
		if (errno != 0) {
			op = "reading a directory";
			goto fail;
		}
		/* This directory is empty now. */
		if (w.rw_n == 1) {
			closedir(d);
			d = NULL;
			if (unlinkat(parent, name, AT_REMOVEDIR) == 0 ||
			    errno == ENOENT)
				break;
			if (errno != ENOTEMPTY && errno != EEXIST) {
				op = "removing it";
				goto fail;
			}
			goto top;	/* something was added meanwhile */
		}
		if ((fd = rm_up(&w, dirfd(d))) == -1)
			goto top;	/* moved while it was emptied */
		closedir(d);
		if ((d = fdopendir(fd)) == NULL) {
			close(fd);
			goto fail;
		}
	}
	free(w.rw_l);
	return 0;
 fail:
	saved = errno;
	if (d != NULL)
		closedir(d);
	free(w.rw_l);
	if (err != NULL && err[0] == '\0') {
		if (w.rw_n > 0)
			snprintf(err, errsz, "tenants/%s: %s at depth %zu: %s",
			    name, op, w.rw_n, strerror(saved));
		else
			snprintf(err, errsz, "tenants/%s: %s: %s", name, op,
			    strerror(saved));
	}
	errno = saved;
	return -1;
}

/*
 * Remove tenants/<name>. It is first renamed out of the way to
 * ".purge-<name>-<random>" (a worker still draining keeps its chroot;
 * nothing can be started in the old name), then removed without following
 * any link the tenant left. 0 only when the tree is gone: an interrupted
 * or failed removal leaves the ".purge-*" directory, which
 * purge_leftovers() finishes. A name starting with '.' is removed as it is.
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
		snprintf(tmp, sizeof(tmp), PURGE_PREFIX
		    "%s-%02x%02x%02x%02x%02x%02x", name, rnd[0], rnd[1], rnd[2],
		    rnd[3], rnd[4], rnd[5]);
		if (renameat(tenantsfd, name, tenantsfd, tmp) == -1) {
			if (err != NULL)
				snprintf(err, errsz, "rename tenants/%s: %s",
				    name, strerror(errno));
			return -1;
		}
		name = tmp;
	}
	return rm_tree(tenantsfd, name, err, errsz);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Finish every purge that was interrupted (a crash, a signal, an error
 * half-way): each ".purge-*" directory in tenants/, in name order. report
 * is called for each, with NULL once it is gone or with why it is not.
 * -1 if any is left.
 */
int
purge_leftovers(int tenantsfd, void (*report)(const char *, const char *))
{
	struct dirent	*de;
	DIR		*d;
	char		**names = NULL, **nn, err[512];
	size_t		 n = 0, cap = 0, i;
	int		 fd, r = 0;

	if ((fd = dup(tenantsfd)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, PURGE_PREFIX, strlen(PURGE_PREFIX)))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			if ((nn = reallocarray(names, cap, sizeof(*nn))) ==
			    NULL)
				break;
			names = nn;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			break;
		n++;
	}
	if (de != NULL)
		r = -1;		/* out of memory: report what we have */
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		if (purge_tenant(tenantsfd, names[i], err, sizeof(err)) == -1) {
			report(names[i], err[0] ? err : strerror(errno));
			r = -1;
		} else
			report(names[i], NULL);
		free(names[i]);
	}
	free(names);
	return r;
}
