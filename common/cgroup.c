/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Where our cgroups are: the mounts of the v1 controllers or of the
 * unified hierarchy, our own cgroup in each, and the one write a cgroup
 * file takes. tenantd moves itself into a leaf of a delegated v2 cgroup at
 * start (cgroup_leaf() below), so that the tenants' cgroups can hang
 * beside it; cgroup_prepare() makes and limits one tenant's cgroup, for
 * its code (tenantd-run, runner/cgroup.c) or its workers (tenantd at bind,
 * supervisor/priv.c), and cgroup_join() is the move into it, made by the
 * process that moves, as "0".
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "log.h"
#include "policy.h"

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

static const char *const cg_ctrl[CG_NCTRL] = { "cpu", "memory", "pids" };

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
 * cpu.idle of the cgroup above the tenants' (tenantd-code), from
 * cpu_idle: tenant code then runs at the lowest CPU priority there is
 * next to tenantd and its workers, which preempt it whenever they wake,
 * while the tenants still share among themselves by cpu_weight. Without
 * it, the supervisor and worker steps of a request wait out whole
 * scheduler ticks of a neighbour's spinners. Kernels before 5.15 have no
 * cpu.idle; failing is said as a refused limit is.
 */
static void
cg_idle(const struct cgroup_policy *cp, char *dir, const char *slug)
{
	char	*slash = strrchr(dir, '/'), err[PATH_MAX + 128];
	int	 rc;

	*slash = '\0';
	rc = cg_write(dir, "cpu.idle", cp->cg_cpu_idle ? "1" : "0", err,
	    sizeof(err));
	*slash = '/';
	if (rc == -1)
		log_warnx("cgroup of %s: cpu.idle refused: %s", slug, err);
}

/*
 * Controller c's limit for the tenant, written each time (the policy may
 * have changed). Best effort, and said each time it fails: a limit the
 * kernel refuses (v1 answers EBUSY to a memory limit below what the
 * cgroup uses now) keeps the old one, and must not cost the process its
 * move into the cgroup, which still bounds it by that old limit.
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

/* dir's file, opened for the one write that moves a process. */
static int
cg_open_move(const char *dir, const char *file, char *err, size_t errsz)
{
	char	 path[PATH_MAX];
	int	 fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >=
	    sizeof(path)) {
		errno = ENAMETOOLONG;
		return cg_fail(err, errsz, "%s", dir);
	}
	if ((fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return cg_fail(err, errsz, "%s", path);
	return fd;
}

static int
cg_v1(const char *sub, const char *fallback, const char *slug,
    const struct cgroup_policy *cp, int idle, int fds[CG_NCTRL],
    char *err, size_t errsz)
{
	char		 mnt[PATH_MAX], root[PATH_MAX], own[PATH_MAX];
	char		 base[PATH_MAX], dir[PATH_MAX];
	int		 c, i;

	for (c = 0; c < CG_NCTRL; c++) {
		if (cg_mount(cg_ctrl[c], mnt, root) == -1) {
			cg_fail(err, errsz, "no cgroup v1 %s hierarchy",
			    cg_ctrl[c]);
			goto fail;
		}
		if (cg_self(cg_ctrl[c], own) == -1 ||
		    cg_dir(mnt, root, own, base) == -1) {
			cg_fail(err, errsz, "our own %s cgroup", cg_ctrl[c]);
			goto fail;
		}
		/*
		 * Under our own cgroup, so whatever bounds tenantd bounds its
		 * tenants too; if that is not ours to write (a container
		 * manager's), at the hierarchy's root.
		 */
		if (cg_mkdirs(base, sub, slug, dir) == -1 &&
		    cg_mkdirs(mnt, fallback, slug, dir) == -1) {
			cg_fail(err, errsz, "%s", dir);
			goto fail;
		}
		cg_limit(c, 0, cp, dir, slug);
		if (c == CG_CPU && idle)
			cg_idle(cp, dir, slug);
		/*
		 * tasks, for "0" from a process of one thread: the one move
		 * the kernel makes without cgroup_threadgroup_rwsem, whose
		 * every write lock waits for an RCU grace period and holds
		 * up every fork on the machine meanwhile (cgroup_procs_write_
		 * start()). A neighbour's busy processes stretch those grace
		 * periods (docs/performance.md).
		 */
		if ((fds[c] = cg_open_move(dir, "tasks", err, errsz)) == -1)
			goto fail;
	}
	return CG_NCTRL;
fail:
	for (i = 0; i < c; i++)
		close(fds[i]);
	return -1;
}

static int
cg_v2(const char *sub, const char *slug, const struct cgroup_policy *cp,
    int idle, int fds[CG_NCTRL], char *err, size_t errsz)
{
	static const char	 ctrls[] = "+cpu +memory +pids";
	char			 mnt[PATH_MAX], root[PATH_MAX], own[PATH_MAX];
	char			 base[PATH_MAX], dir[PATH_MAX], *slash;
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
		if (!cg_delegated(base)) {
			snprintf(err, errsz, "cgroup %s is not delegated to "
			    "tenantd (Delegate= in its unit)", base);
			return -1;
		}
	} else if (cg_dir(mnt, root, own, base) == -1)
		return cg_fail(err, errsz, "cgroup %s", own);
	if (cg_write(base, "cgroup.subtree_control", ctrls, err, errsz) == -1)
		return -1;
	if (cg_mkdirs(base, sub, slug, dir) == -1)
		return cg_fail(err, errsz, "%s", dir);
	*strrchr(dir, '/') = '\0';
	if (cg_write(dir, "cgroup.subtree_control", ctrls, err, errsz) == -1)
		return -1;
	*strchr(dir, '\0') = '/';
	for (c = 0; c < CG_NCTRL; c++)
		cg_limit(c, 1, cp, dir, slug);
	if (idle)
		cg_idle(cp, dir, slug);
	/* cgroup.procs: v2 has no single-thread move for a process. */
	if ((fds[0] = cg_open_move(dir, "cgroup.procs", err, errsz)) == -1)
		return -1;
	return 1;
}

/*
 * Make slug's cgroup under sub (v1: under fallback at the hierarchy's
 * root if ours is not writable), with the limits of cp, and cpu.idle of
 * sub from cp if idle is set. Where, with <own> the caller's cgroup:
 *
 *	v1	<mount>/<own>/<sub>/<slug> per controller (cpu, memory, pids)
 *	v2	<mount>/<parent of own>/<sub>/<slug>, only when that parent
 *		is delegated to us (systemd: Delegate= on tenantd's unit;
 *		tenantd moves itself into the unit cgroup's child CG_LEAF
 *		at start, cgroup_leaf()). v2 lets only a cgroup without
 *		processes of its own hand controllers down, and tenantd's
 *		own cgroup holds tenantd: the tenants' cgroups must hang
 *		off its parent, beside it.
 *
 * Nothing is moved here: fds gets the files the move is written to, one
 * per hierarchy (v1: tasks; v2: cgroup.procs), each open for writing, for
 * cgroup_join() by the process that moves. Returns how many, or -1 with
 * err set and none open.
 */
int
cgroup_prepare(const char *sub, const char *fallback, const char *slug,
    const struct cgroup_policy *cp, int idle, int fds[CG_NCTRL], char *err,
    size_t errsz)
{
	char	 mnt[PATH_MAX], root[PATH_MAX];

	/* v1 if its controllers have hierarchies of their own (hybrid too). */
	if (cg_mount(cg_ctrl[CG_CPU], mnt, root) == 0)
		return cg_v1(sub, fallback, slug, cp, idle, fds, err, errsz);
	return cg_v2(sub, slug, cp, idle, fds, err, errsz);
}

/*
 * The caller into the cgroup whose move file (cgroup_prepare()) fd is:
 * "0" is the writer itself, so nothing names a pid that could be reused.
 * One write, as cg_write(); the caller still closes fd.
 */
int
cgroup_join(int fd, char *err, size_t errsz)
{
	ssize_t	 n;

	if ((n = write(fd, "0", 1)) == 1)
		return 0;
	if (n != -1)
		errno = EIO;
	return cg_fail(err, errsz, "cgroup move");
}
