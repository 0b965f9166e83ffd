/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Where our cgroups are: the mounts of the v1 controllers or of the
 * unified hierarchy, our own cgroup in each, and the one write a cgroup
 * file takes. tenantd-run places tenant code with these (runner/cgroup.c);
 * tenantd moves itself into a leaf of a delegated v2 cgroup at start
 * (cgroup_leaf() below), so that the tenants' cgroups can hang beside it.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"

#define CG_MOUNTINFO	"/proc/self/mountinfo"
#define CG_SELF		"/proc/self/cgroup"

/* Is word one of the comma-separated words of list? */
static int
cg_has_word(const char *list, const char *word)
{
	size_t	 len = strlen(word);
	const char *p;

	for (p = list; p != NULL; p = strchr(p, ',')) {
		if (*p == ',')
			p++;
		if (strncmp(p, word, len) == 0 && (p[len] == ',' ||
		    p[len] == '\0'))
			return 1;
	}
	return 0;
}

/* fmt, its arguments and ": <errno's message>" into err; -1. */
int
cg_fail(char *err, size_t errsz, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 len;
	int	 saved = errno;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	len = strlen(err);
	snprintf(err + len, errsz - len, ": %s", strerror(saved));
	return -1;
}

/* What a line of CG_MOUNTINFO or CG_SELF is matched for, and where to. */
struct cg_want {
	const char	*w_ctrl;	/* v1 controller, or NULL: unified */
	char		*w_mnt;		/* CG_MOUNTINFO: the mount point */
	char		*w_path;	/* its root there, our cgroup in CG_SELF */
};

/*
 * Each line of file, without its newline, to match until one returns 1:
 * then 0, else -1 with errno ENOENT (or fopen's).
 */
static int
cg_lines(const char *file, int (*match)(char *, struct cg_want *),
    struct cg_want *w)
{
	FILE	*f;
	char	*line = NULL;
	size_t	 cap = 0;
	int	 found = 0;

	if ((f = fopen(file, "re")) == NULL)
		return -1;
	while (!found && getline(&line, &cap, f) != -1) {
		line[strcspn(line, "\n")] = '\0';
		found = match(line, w);
	}
	free(line);
	fclose(f);
	if (!found)
		errno = ENOENT;
	return found ? 0 : -1;
}

/*
 * A mountinfo line of controller w_ctrl's mount (v1), or the unified
 * hierarchy's: its mount point and the cgroup it shows as its root. Paths
 * with an escaped character (\040 for a space) are not ours to guess at.
 */
static int
cg_mount_line(char *line, struct cg_want *w)
{
	char	*f4, *f5, *sep, *fstype, *opts, *sv;
	int	 i;

	if ((sep = strstr(line, " - ")) == NULL)
		return 0;
	*sep = '\0';
	fstype = strtok_r(sep + 3, " ", &sv);
	(void)strtok_r(NULL, " ", &sv);		/* source */
	opts = strtok_r(NULL, " ", &sv);
	if (fstype == NULL || opts == NULL)
		return 0;
	if (w->w_ctrl != NULL ? strcmp(fstype, "cgroup") != 0 ||
	    !cg_has_word(opts, w->w_ctrl) : strcmp(fstype, "cgroup2") != 0)
		return 0;
	f4 = strtok_r(line, " ", &sv);
	for (i = 0; i < 3 && f4 != NULL; i++)
		f4 = strtok_r(NULL, " ", &sv);
	if (f4 == NULL || (f5 = strtok_r(NULL, " ", &sv)) == NULL ||
	    strchr(f4, '\\') != NULL || strchr(f5, '\\') != NULL)
		return 0;
	snprintf(w->w_path, PATH_MAX, "%s", f4);
	snprintf(w->w_mnt, PATH_MAX, "%s", f5);
	return 1;
}

int
cg_mount(const char *ctrl, char mnt[PATH_MAX], char root[PATH_MAX])
{
	struct cg_want	 w = { ctrl, mnt, root };

	return cg_lines(CG_MOUNTINFO, cg_mount_line, &w);
}

/* A /proc/self/cgroup line of w_ctrl's hierarchy (v1), or the unified. */
static int
cg_self_line(char *line, struct cg_want *w)
{
	char	*c1, *c2;

	if ((c1 = strchr(line, ':')) == NULL ||
	    (c2 = strchr(c1 + 1, ':')) == NULL)
		return 0;
	*c2 = '\0';
	if (w->w_ctrl != NULL ? !cg_has_word(c1 + 1, w->w_ctrl) :
	    strcmp(line, "0:") != 0)
		return 0;
	snprintf(w->w_path, PATH_MAX, "%s", c2 + 1);
	return 1;
}

/* Our cgroup in controller ctrl's hierarchy (v1), or the unified one. */
int
cg_self(const char *ctrl, char path[PATH_MAX])
{
	struct cg_want	 w = { ctrl, NULL, path };

	return cg_lines(CG_SELF, cg_self_line, &w);
}

/* <mnt><own relative to the mount's root>, the directory of our cgroup. */
int
cg_dir(const char *mnt, const char *root, const char *own,
    char dir[PATH_MAX])
{
	size_t	 rl = strlen(root);

	/* A mount of part of the tree: our cgroup must be inside it. */
	if (strcmp(root, "/") != 0) {
		if (strncmp(own, root, rl) != 0 || (own[rl] != '/' &&
		    own[rl] != '\0')) {
			errno = ENOENT;
			return -1;
		}
		own += rl;
	}
	if (strcmp(own, "/") == 0)
		own = "";
	if ((size_t)snprintf(dir, PATH_MAX, "%s%s", mnt, own) >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
cg_write(const char *dir, const char *file, const char *val, char *err,
    size_t errsz)
{
	char	 path[PATH_MAX];
	ssize_t	 n;
	int	 fd, saved;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >=
	    sizeof(path)) {
		errno = ENAMETOOLONG;
		return cg_fail(err, errsz, "%s", dir);
	}
	if ((fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return cg_fail(err, errsz, "%s", path);
	/* A cgroup file takes one write; a short one is a refusal. */
	n = write(fd, val, strlen(val));
	saved = errno;
	if (close(fd) == -1 && n == (ssize_t)strlen(val))
		return cg_fail(err, errsz, "%s", path);
	if (n != (ssize_t)strlen(val)) {
		errno = n == -1 ? saved : EIO;
		return cg_fail(err, errsz, "%s", path);
	}
	return 0;
}


/*
 * Is dir a cgroup delegated to us? systemd marks each cgroup it delegates
 * (Delegate=) with trusted.delegate since version 251, and with
 * user.delegate, which needs no CAP_SYS_ADMIN to read, since 254.
 */
int
cg_delegated(const char *dir)
{
	char	 val[16];

	return getxattr(dir, "trusted.delegate", val, sizeof(val)) != -1 ||
	    getxattr(dir, "user.delegate", val, sizeof(val)) != -1;
}

/*
 * On cgroup v2, with our own cgroup delegated to us (Delegate= in
 * tenantd.service), move into its child CG_LEAF: v2 lets only a cgroup
 * without processes of its own hand controllers down, and the tenants'
 * cgroups are to hang off the unit's, beside ours (tenantd-run's
 * cgroup_place()). systemd 254 can do this itself (DelegateSubgroup=);
 * Debian 12's 252 cannot. Called first thing, while we are one process
 * with one thread: "0" in cgroup.procs moves the caller's whole process,
 * and everything we start later is born in the leaf. v1, the root cgroup,
 * a cgroup not delegated, or one already named CG_LEAF: nothing to do.
 * 1 when moved, 0 when not, -1 with err set.
 */
int
cgroup_leaf(char *err, size_t errsz)
{
	char	 mnt[PATH_MAX], root[PATH_MAX], own[PATH_MAX];
	char	 dir[PATH_MAX], *name;
	size_t	 len;

	if (cg_mount("cpu", mnt, root) == 0)
		return 0;
	if (cg_mount(NULL, mnt, root) == -1 || cg_self(NULL, own) == -1)
		return 0;
	name = strrchr(own, '/');
	if (strcmp(own, "/") == 0 || name == NULL ||
	    strcmp(name + 1, CG_LEAF) == 0)
		return 0;
	if (cg_dir(mnt, root, own, dir) == -1)
		return cg_fail(err, errsz, "our cgroup %s", own);
	if (!cg_delegated(dir))
		return 0;
	len = strlen(dir);
	if (len + sizeof("/" CG_LEAF) > sizeof(dir)) {
		errno = ENAMETOOLONG;
		return cg_fail(err, errsz, "%s", dir);
	}
	memcpy(dir + len, "/" CG_LEAF, sizeof("/" CG_LEAF));
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		return cg_fail(err, errsz, "%s", dir);
	if (cg_write(dir, "cgroup.procs", "0", err, errsz) == -1)
		return -1;
	return 1;
}
