/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * tenantd-run: the tenant's cgroup. rlimits bound one process; a tenant
 * whose handlers fork 60 CPU spinners, fill its memory or its page cache
 * would still take the machine from every other tenant. So all of one
 * tenant's code runs in one cgroup per controller (cpu, memory, pids),
 * with the values of tenant-code.cgroup: one CPU share per tenant however
 * many processes it runs, a memory limit inside which the OOM killer
 * picks its victim, a process count.
 *
 * The child of tenantd-run moves itself, first thing, while it is still
 * in tenantd's cgroups (so /proc/self/cgroup is tenantd's), before it
 * makes its cgroup namespace, and before it starts anything, which is
 * then born inside. Where:
 *
 *	v1	<mount>/<own>/tenantd-code/<slug> per controller, or
 *		<mount>/tenantd/<slug> if <own> is not ours to write
 *	v2	<mount>/<parent of own>/tenantd-code/<slug>, only when that
 *		parent is delegated to us (systemd: Delegate=yes with
 *		DelegateSubgroup=, which puts tenantd in a child of its unit's
 *		cgroup). v2 lets only a cgroup without processes of its own
 *		hand controllers down, and tenantd's own cgroup holds tenantd:
 *		the tenants' cgroups must hang off its parent, beside it.
 *
 * Cgroups are made when missing and never removed: one empty directory per
 * tenant costs nothing, and removing it would race with the next run.
 * Nothing here is fatal: without cgroups a run still has its rlimits, and
 * the caller logs why once.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"

#define CG_MOUNTINFO	"/proc/self/mountinfo"
#define CG_SELF		"/proc/self/cgroup"
#define CG_SUBDIR	"tenantd-code"	/* under our own cgroup */
#define CG_FALLBACK	"tenantd"	/* v1: under the hierarchy's root */
#define CG_WARNED	TENANTD_RUN_DIR "/cgroup-warned"

enum { CG_CPU, CG_MEMORY, CG_PIDS, CG_NCTRL };
static const char *const cg_ctrl[CG_NCTRL] = { "cpu", "memory", "pids" };

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
static int __attribute__((__format__(__printf__, 3, 4)))
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

static int
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
static int
cg_self(const char *ctrl, char path[PATH_MAX])
{
	struct cg_want	 w = { ctrl, NULL, path };

	return cg_lines(CG_SELF, cg_self_line, &w);
}

/* <mnt><own relative to the mount's root>, the directory of our cgroup. */
static int
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

static int
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

/* mkdir base/sub/slug, the parents as needed. */
static int
cg_mkdirs(const char *base, const char *sub, const char *slug,
    char dir[PATH_MAX])
{
	if ((size_t)snprintf(dir, PATH_MAX, "%s/%s", base, sub) >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		return -1;
	if ((size_t)snprintf(dir, PATH_MAX, "%s/%s/%s", base, sub, slug) >=
	    PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

/* The controller's setting, as the layout names and scales it. */
static void
cg_setting(int c, int v2, const struct cgroup_policy *cp,
    const char **file, char val[32])
{
	uint64_t	 shares;

	switch (c) {
	case CG_CPU:
		/* v1 cpu.shares: 1024 is what v2's weight 100 is. */
		shares = cp->cg_cpu_weight * 1024 / 100;
		*file = v2 ? "cpu.weight" : "cpu.shares";
		snprintf(val, 32, "%" PRIu64, v2 ? cp->cg_cpu_weight :
		    shares < 2 ? 2 : shares);
		break;
	case CG_MEMORY:
		*file = v2 ? "memory.max" : "memory.limit_in_bytes";
		snprintf(val, 32, "%" PRIu64, cp->cg_memory);
		break;
	default:
		*file = "pids.max";
		snprintf(val, 32, "%" PRIu64, cp->cg_pids);
		break;
	}
}

/*
 * Controller c's limit for the tenant, written on every run (the policy
 * may have changed). Best effort, and said each time it fails: a limit
 * the kernel refuses (v1 answers EBUSY to a memory limit below what the
 * cgroup uses now) keeps the old one, and must not cost the run its move
 * into the cgroup, which still bounds it by that old limit.
 */
static void
cg_limit(int c, int v2, const struct cgroup_policy *cp, const char *dir,
    const char *slug)
{
	const char	*file;
	char		 val[32], err[PATH_MAX + 128];

	cg_setting(c, v2, cp, &file, val);
	if (cg_write(dir, file, val, err, sizeof(err)) == -1)
		log_warnx("cgroup of %s: %s = %s refused, the old value stays: "
		    "%s", slug, file, val, err);
}

static int
cg_v1(const char *slug, const struct cgroup_policy *cp, char *err,
    size_t errsz)
{
	char		 mnt[PATH_MAX], root[PATH_MAX], own[PATH_MAX];
	char		 base[PATH_MAX], dir[PATH_MAX];
	int		 c;

	for (c = 0; c < CG_NCTRL; c++) {
		if (cg_mount(cg_ctrl[c], mnt, root) == -1)
			return cg_fail(err, errsz, "no cgroup v1 %s hierarchy",
			    cg_ctrl[c]);
		if (cg_self(cg_ctrl[c], own) == -1 ||
		    cg_dir(mnt, root, own, base) == -1)
			return cg_fail(err, errsz, "our own %s cgroup",
			    cg_ctrl[c]);
		/*
		 * Under our own cgroup, so whatever bounds tenantd bounds its
		 * tenants too; if that is not ours to write (a container
		 * manager's), at the hierarchy's root.
		 */
		if (cg_mkdirs(base, CG_SUBDIR, slug, dir) == -1 &&
		    cg_mkdirs(mnt, CG_FALLBACK, slug, dir) == -1)
			return cg_fail(err, errsz, "%s", dir);
		cg_limit(c, 0, cp, dir, slug);
		/*
		 * Ourselves, one thread, by "0" in tasks: the one move the
		 * kernel makes without cgroup_threadgroup_rwsem, whose every
		 * write lock waits for an RCU grace period and holds up
		 * every fork on the machine meanwhile (cgroup_procs_write_
		 * start()). A neighbour's busy processes stretch those
		 * grace periods; see cgroup_place().
		 */
		if (cg_write(dir, "tasks", "0", err, errsz) == -1)
			return -1;
	}
	return 0;
}

static int
cg_v2(const char *slug, const struct cgroup_policy *cp, char *err,
    size_t errsz)
{
	static const char	 ctrls[] = "+cpu +memory +pids";
	char			 mnt[PATH_MAX], root[PATH_MAX], own[PATH_MAX];
	char			 base[PATH_MAX], dir[PATH_MAX], val[32], *slash;
	int			 c;

	if (cg_mount(NULL, mnt, root) == -1)
		return cg_fail(err, errsz, "no cgroup v2 hierarchy");
	if (cg_self(NULL, own) == -1)
		return cg_fail(err, errsz, "our own cgroup");
	/*
	 * Not the root cgroup (exempt from the rule above): our parent, and
	 * only when it is delegated to us. Any other we could write as root,
	 * but it is the service manager's to arrange.
	 */
	if (strcmp(own, "/") != 0) {
		if ((slash = strrchr(own, '/')) == own)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (cg_dir(mnt, root, own, base) == -1)
			return cg_fail(err, errsz, "cgroup %s", own);
		if (getxattr(base, "trusted.delegate", val, sizeof(val)) == -1 &&
		    getxattr(base, "user.delegate", val, sizeof(val)) == -1) {
			snprintf(err, errsz, "cgroup %s is not delegated to "
			    "tenantd (Delegate=yes and DelegateSubgroup= in its "
			    "unit)", base);
			return -1;
		}
	} else if (cg_dir(mnt, root, own, base) == -1)
		return cg_fail(err, errsz, "cgroup %s", own);
	if (cg_write(base, "cgroup.subtree_control", ctrls, err, errsz) == -1)
		return -1;
	if (cg_mkdirs(base, CG_SUBDIR, slug, dir) == -1)
		return cg_fail(err, errsz, "%s", dir);
	*strrchr(dir, '/') = '\0';
	if (cg_write(dir, "cgroup.subtree_control", ctrls, err, errsz) == -1)
		return -1;
	*strchr(dir, '\0') = '/';
	for (c = 0; c < CG_NCTRL; c++)
		cg_limit(c, 1, cp, dir, slug);
	/* "0": ourselves (v2 has no single-thread move for us). */
	return cg_write(dir, "cgroup.procs", "0", err, errsz);
}

/* The calling process into slug's cgroups; 0, or -1 with err set. */
int
cgroup_place(const char *slug, const struct cgroup_policy *cp, char *err,
    size_t errsz)
{
	char	 mnt[PATH_MAX], root[PATH_MAX];

	/* v1 if its controllers have hierarchies of their own (hybrid too). */
	if (cg_mount(cg_ctrl[CG_CPU], mnt, root) == 0)
		return cg_v1(slug, cp, err, errsz);
	return cg_v2(slug, cp, err, errsz);
}

/*
 * Once per boot, not once per run: a machine without cgroups would
 * otherwise log a line for every request a handler answers. The marker is
 * in tenantd's run directory, a tmpfs the next boot starts without.
 */
void
cgroup_warn(const char *err)
{
	int	 fd;

	if ((fd = open(CG_WARNED, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0644)) == -1 && errno == EEXIST)
		return;
	if (fd != -1)
		close(fd);
	log_warnx("tenant code runs without its cgroup (only its rlimits "
	    "bound it; logged once): %s", err);
}
