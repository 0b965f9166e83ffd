/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * tenantctl export SLUG FILE / tenantctl import FILE: a tenant as one
 * compressed tar (pax), so backup, restore and moving a tenant to another
 * host are one command each (DESIGN principle 2: the directory is the
 * tenant). Both sides run as root on trees a tenant could write to:
 *
 *  - export never follows a link the tenant planted (THREATS 8): the tree
 *    is walked with directory descriptors and O_NOFOLLOW, files are read
 *    through descriptors opened beneath the tenant directory with openat2
 *    (no symlink in any component), and a file is only read if it is still
 *    the one the walk saw. What import would refuse is skipped with a
 *    warning instead (symlinks leaving the tree, FIFOs, sockets, devices,
 *    files of other owners), so every export can be imported again;
 *  - import checks the whole archive before it creates anything (THREATS 7),
 *    extracts it with libarchive's secure flags into a root-only temporary
 *    directory, registers the tenant only then, re-maps ownership to the
 *    new uid/gid and renames the directory into place.
 *
 * The archive:
 *   tenantd-export.json   first entry: format, version, slug, status,
 *                         created, original uid/gid, custom hostnames with
 *                         their status, the manifest, what was skipped
 *   public/ public/...    the tenant directory's contents (tenant.json,
 *   data/ ... tmp/ ...    which import regenerates, excluded); directories
 *   billing.db            before their contents; each entry owned by root
 *                         (uid/gid 0, "root") or by the tenant (the
 *                         original uid/gid recorded in the metadata,
 *                         "tenant"); permission bits without setuid/setgid.
 *
 * billing.db, the credit ledger, is root's and stays root's: export takes
 * a consistent copy of it (the daemon may be writing), never its WAL, and
 * import refuses one the tenant would own, checks its books before the
 * tenant is registered and keeps it root:root 0600. An archive without
 * one (from before the ledger) gets a new ledger with the initial credits.
 */
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <sodium.h>

#include "config-paths.h"
#include "config.h"
#include "host.h"
#include "ledger.h"
#include "registry.h"
#include "slug.h"
#include "sys.h"
#include "tenantctl.h"
#include "tlimits.h"

#define EXPORT_META	"tenantd-export.json"
#define EXPORT_FORMAT	"tenantd-export"
#define EXPORT_VERSION	1
#define META_MAX	(1024 * 1024)	/* bytes of metadata JSON */
#define HOSTS_MAX	10000		/* custom hostnames in the metadata */
#define ENTRIES_MAX	1000000		/* entries in one archive */
#define DEPTH_MAX	256		/* components in a path */
#define NAME_MAX_	255		/* bytes in one component */
#define LINK_HOPS_MAX	40		/* symlinks followed in one check */
#define COPY_BUF	(64 * 1024)

enum etype { E_DIR, E_REG, E_LNK, E_HARD };
enum owner { OWN_ROOT = 0, OWN_TENANT = 1 };

struct ent {
	char		*path;		/* normalised, relative, no trailing / */
	char		*target;	/* symlink target, hardlink target */
	enum etype	 type;
	mode_t		 perm;		/* 0..01777 */
	enum owner	 uown, gown;
	int64_t		 size;
	dev_t		 dev;		/* export: what the walk saw */
	ino_t		 ino;
	nlink_t		 nlink;
	const char	*skip;		/* export: why it is left out */
};

struct tree {
	struct ent	*e;
	size_t		 n, cap;
	size_t		*hash;		/* index + 1; 0 is empty */
	size_t		 hcap;
	int64_t		 bytes;		/* regular file data */
};

static const char *const std_dirs[] = {
	"public", "data", "uploads", "logs", "tmp", "app", NULL
};

static volatile sig_atomic_t	 interrupted;

static void
on_signal(int sig)
{
	interrupted = sig;
}

static void
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

/* A name from an archive or a tenant, safe to print: bytes escaped. */
static const char *
vis(const char *s)
{
	static char	 buf[4][512];
	static int	 which;
	char		*b = buf[which++ & 3], *p = b;
	size_t		 left = sizeof(buf[0]);

	for (; *s != '\0'; s++) {
		unsigned char	 c = (unsigned char)*s;

		if (left < 8) {
			memcpy(p, "...", 4);
			return b;
		}
		if (c < 0x20 || c >= 0x7f || c == '\\' || c == '"') {
			snprintf(p, left, "\\x%02x", c);
			p += 4;
			left -= 4;
		} else {
			*p++ = (char)c;
			left--;
		}
	}
	*p = '\0';
	return b;
}

static void __attribute__((__format__(printf, 1, 2)))
warn_(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "tenantctl: warning: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* --- the entry list, with a hash from path to entry ---------------------- */

static uint64_t
path_hash(const char *p, size_t n)
{
	uint64_t	 h = 14695981039346656037ULL;

	while (n--)
		h = (h ^ (unsigned char)*p++) * 1099511628211ULL;
	return h;
}

static ssize_t
tree_find(const struct tree *t, const char *p, size_t n)
{
	size_t	 i, k;

	if (t->hcap == 0)
		return -1;
	for (i = path_hash(p, n) & (t->hcap - 1); (k = t->hash[i]) != 0;
	    i = (i + 1) & (t->hcap - 1)) {
		const char	*q = t->e[k - 1].path;

		if (strncmp(q, p, n) == 0 && q[n] == '\0')
			return (ssize_t)(k - 1);
	}
	return -1;
}

static void
tree_rehash(struct tree *t)
{
	size_t	 i, j, cap = t->hcap ? t->hcap * 2 : 1024;
	size_t	*h;

	if ((h = calloc(cap, sizeof(*h))) == NULL)
		die(EX_FAIL, "out of memory");
	for (i = 0; i < t->n; i++) {
		j = path_hash(t->e[i].path, strlen(t->e[i].path)) & (cap - 1);
		while (h[j] != 0)
			j = (j + 1) & (cap - 1);
		h[j] = i + 1;
	}
	free(t->hash);
	t->hash = h;
	t->hcap = cap;
}

/* Takes ownership of e's strings. -1: the path is there already. */
static int
tree_add(struct tree *t, struct ent *e)
{
	size_t	 j;

	if (tree_find(t, e->path, strlen(e->path)) != -1)
		return -1;
	if (t->n == t->cap) {
		size_t		 cap = t->cap ? t->cap * 2 : 256;
		struct ent	*ne = reallocarray(t->e, cap, sizeof(*ne));

		if (ne == NULL)
			die(EX_FAIL, "out of memory");
		t->e = ne;
		t->cap = cap;
	}
	t->e[t->n++] = *e;
	if ((t->n + 1) * 2 > t->hcap)
		tree_rehash(t);
	else {
		j = path_hash(e->path, strlen(e->path)) & (t->hcap - 1);
		while (t->hash[j] != 0)
			j = (j + 1) & (t->hcap - 1);
		t->hash[j] = t->n;
	}
	return 0;
}

static void
tree_free(struct tree *t)
{
	size_t	 i;

	for (i = 0; i < t->n; i++) {
		free(t->e[i].path);
		free(t->e[i].target);
	}
	free(t->e);
	free(t->hash);
	memset(t, 0, sizeof(*t));
}

/* Length of the parent's path ("a/b" for "a/b/c"; 0 at the top). */
static size_t
parent_len(const char *p)
{
	const char	*s = strrchr(p, '/');

	return s == NULL ? 0 : (size_t)(s - p);
}

static const char *
base_name(const char *p)
{
	const char	*s = strrchr(p, '/');

	return s == NULL ? p : s + 1;
}

static int
is_std_dir(const char *name)
{
	int	 i;

	for (i = 0; std_dirs[i] != NULL; i++)
		if (strcmp(name, std_dirs[i]) == 0)
			return 1;
	return 0;
}

/*
 * A path inside the tree, written one way only: relative, components
 * separated by one '/', none empty, "." or "..", bounded in length and
 * depth. NULL when it is fine, else why not.
 */
static const char *
path_check(const char *p)
{
	const char	*c = p, *s;
	size_t		 len, depth = 0;

	if (*p == '\0')
		return "an empty path";
	if (*p == '/')
		return "an absolute path";
	if (strlen(p) >= PATH_MAX)
		return "a path longer than PATH_MAX";
	for (;;) {
		s = strchr(c, '/');
		len = s ? (size_t)(s - c) : strlen(c);
		if (len == 0)
			return "an empty path component (\"//\" or a trailing "
			    "'/')";
		if (len == 2 && c[0] == '.' && c[1] == '.')
			return "a \"..\" component";
		if (len == 1 && c[0] == '.')
			return "a \".\" component";
		if (len > NAME_MAX_)
			return "a component longer than 255 bytes";
		if (++depth > DEPTH_MAX)
			return "more than 256 levels deep";
		if (s == NULL)
			return NULL;
		c = s + 1;
	}
}

/*
 * Where the kernel would take the symlink l if root followed it outside any
 * chroot, resolved against the tree itself: every component that is a
 * symlink of the tree is replaced by its target, so a chain of links that
 * each look harmless ("s1 -> ..", "s2 -> s1/..") is seen for what it is.
 * NULL when it stays inside the tree (or dangles inside it), else why not.
 */
static const char *
link_escapes(const struct tree *t, const struct ent *l)
{
	char	 cur[PATH_MAX], rest[2 * PATH_MAX], tmp[2 * PATH_MAX];
	size_t	 cl, n;
	int	 hops = 0;
	ssize_t	 k;
	char	*c, *s;

	if (l->target[0] == '/')
		return "a symlink to an absolute path";
	cl = parent_len(l->path);
	memcpy(cur, l->path, cl);
	cur[cl] = '\0';
	if (snprintf(rest, sizeof(rest), "%s", l->target) >= (int)sizeof(rest))
		return "a symlink target too long to check";
	c = rest;
	while (*c != '\0') {
		if ((s = strchr(c, '/')) != NULL)
			*s = '\0';
		n = strlen(c);
		if (n == 0 || strcmp(c, ".") == 0)
			;
		else if (strcmp(c, "..") == 0) {
			if (cl == 0)
				return "a symlink leaving the tenant's directory";
			cl = parent_len(cur);
			cur[cl] = '\0';
		} else {
			if (cl + 1 + n >= sizeof(cur))
				return "a symlink target too long to check";
			if (cl > 0)
				cur[cl++] = '/';
			memcpy(cur + cl, c, n + 1);
			cl += n;
			k = tree_find(t, cur, cl);
			if (k != -1 && t->e[k].type == E_LNK &&
			    t->e[k].skip == NULL) {
				if (++hops > LINK_HOPS_MAX)
					return "a symlink loop or a chain of "
					    "more than 40 symlinks";
				if (t->e[k].target[0] == '/')
					return "a symlink through a symlink to "
					    "an absolute path";
				cl = parent_len(cur);
				cur[cl] = '\0';
				/* Walk the link's target, then the rest. */
				if (snprintf(tmp, sizeof(tmp), "%s/%s",
				    t->e[k].target, s ? s + 1 : "") >=
				    (int)sizeof(tmp))
					return "a symlink target too long to "
					    "check";
				memcpy(rest, tmp, strlen(tmp) + 1);
				c = rest;
				continue;
			}
		}
		if (s == NULL)
			break;
		c = s + 1;
	}
	return NULL;
}

/* --- the metadata -------------------------------------------------------- */

struct meta {
	json_t		*j;
	const char	*slug;
	const char	*status;
	uint32_t	 uid, gid;
	json_t		*hosts;
};

static int
hosts_cb(const struct hostname *h, void *arg)
{
	json_array_append_new(arg, json_pack("{s:s, s:s, s:I}",
	    "hostname", h->h_name, "status", h->h_active ? "active" : "pending",
	    "created", (json_int_t)h->h_created));
	return 0;
}

static json_t *
manifest_read(int dfd)
{
	struct stat	 st;
	char		 buf[65536];
	ssize_t		 n;
	json_t		*j;
	int		 fd;

	fd = openat(dfd, "tenant.json", O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_uid != 0 || st.st_size >= (off_t)sizeof(buf) ||
	    (n = read(fd, buf, sizeof(buf))) < 0) {
		warn_("tenant.json: missing or unreadable; the metadata holds "
		    "no manifest");
		if (fd != -1)
			close(fd);
		return json_null();
	}
	close(fd);
	if ((j = json_loadb(buf, (size_t)n, 0, NULL)) == NULL ||
	    !json_is_object(j)) {
		warn_("tenant.json: not a JSON object; the metadata holds no "
		    "manifest");
		json_decref(j);
		return json_null();
	}
	return j;
}

static const char *
meta_parse(struct meta *m, const char *buf, size_t len)
{
	json_error_t	 je;
	json_t		*v, *h, *hn, *hs;
	size_t		 i, k;
	json_int_t	 n;

	memset(m, 0, sizeof(m[0]));
	if ((m->j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je)) == NULL)
		return "not valid JSON";
	if (!json_is_object(m->j))
		return "not a JSON object";
	v = json_object_get(m->j, "format");
	if (!json_is_string(v) || strcmp(json_string_value(v), EXPORT_FORMAT))
		return "\"format\" is not \"" EXPORT_FORMAT "\"";
	v = json_object_get(m->j, "version");
	if (!json_is_integer(v))
		return "no integer \"version\"";
	if (json_integer_value(v) != EXPORT_VERSION)
		return json_integer_value(v) > EXPORT_VERSION ?
		    "made by a newer tenantd (format version above 1)" :
		    "an unknown format version";
	v = json_object_get(m->j, "slug");
	if (!json_is_string(v) || slug_check_syntax(json_string_value(v),
	    strlen(json_string_value(v))) != SLUG_OK)
		return "\"slug\" is missing or not a valid slug";
	m->slug = json_string_value(v);
	v = json_object_get(m->j, "status");
	if (!json_is_string(v) || (strcmp(json_string_value(v), "active") &&
	    strcmp(json_string_value(v), "suspended")))
		return "\"status\" is not \"active\" or \"suspended\"";
	m->status = json_string_value(v);
	v = json_object_get(m->j, "uid");
	if (!json_is_integer(v) || (n = json_integer_value(v)) <= 0 ||
	    n >= 4294967295LL)
		return "\"uid\" is not a uid above 0";
	m->uid = (uint32_t)n;
	v = json_object_get(m->j, "gid");
	if (!json_is_integer(v) || (n = json_integer_value(v)) <= 0 ||
	    n >= 4294967295LL)
		return "\"gid\" is not a gid above 0";
	m->gid = (uint32_t)n;
	v = json_object_get(m->j, "created");
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return "\"created\" is not a time";
	v = json_object_get(m->j, "manifest");
	if (v != NULL && !json_is_object(v) && !json_is_null(v))
		return "\"manifest\" is not an object";
	m->hosts = json_object_get(m->j, "hostnames");
	if (!json_is_array(m->hosts))
		return "\"hostnames\" is not an array";
	if (json_array_size(m->hosts) > HOSTS_MAX)
		return "more than 10000 hostnames";
	json_array_foreach(m->hosts, i, h) {
		hn = json_object_get(h, "hostname");
		hs = json_object_get(h, "status");
		if (!json_is_object(h) || !json_is_string(hn) ||
		    !json_is_string(hs) || (strcmp(json_string_value(hs),
		    "active") && strcmp(json_string_value(hs), "pending")))
			return "a hostname without a name or with a status "
			    "other than \"active\" or \"pending\"";
		if (strlen(json_string_value(hn)) > HOST_NAME_MAX_LEN)
			return "a hostname longer than 253 characters";
		for (k = 0; k < i; k++)
			if (strcmp(json_string_value(json_object_get(
			    json_array_get(m->hosts, k), "hostname")),
			    json_string_value(hn)) == 0)
				return "a hostname listed twice";
	}
	return NULL;
}

/* --- export -------------------------------------------------------------- */

struct xctx {
	struct tree	 tree;
	json_t		*skipped;
	const char	*slug;
	const char	*file;
	uint32_t	 uid, gid;
	dev_t		 dev;
	int		 ledger_fd;	/* the copy of billing.db, or -1 */
	int64_t		 quota;		/* the tenant's storage limit, bytes */
};

/* The ledger's own files beside billing.db: never in an archive. */
static int
is_ledger_journal(const char *name)
{
	return strcmp(name, LEDGER_FILE "-wal") == 0 ||
	    strcmp(name, LEDGER_FILE "-shm") == 0 ||
	    strcmp(name, LEDGER_FILE "-journal") == 0;
}

static void
x_skip(struct xctx *x, const char *path, const char *why)
{
	warn_("%s: %s, not exported", vis(path), why);
	json_array_append_new(x->skipped, json_pack("{s:s, s:s}", "path",
	    vis(path), "reason", why));
}

static const char *
owner_class(const struct xctx *x, const struct stat *st, struct ent *e)
{
	static char	 why[96];

	if (st->st_uid == x->uid)
		e->uown = OWN_TENANT;
	else if (st->st_uid == 0)
		e->uown = OWN_ROOT;
	else {
		snprintf(why, sizeof(why), "owned by uid %u, neither root nor "
		    "the tenant", (unsigned int)st->st_uid);
		return why;
	}
	if (st->st_gid == x->gid)
		e->gown = OWN_TENANT;
	else if (st->st_gid == 0)
		e->gown = OWN_ROOT;
	else {
		snprintf(why, sizeof(why), "group %u, neither root's nor the "
		    "tenant's", (unsigned int)st->st_gid);
		return why;
	}
	return NULL;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Walk one directory (phase 1): record what can be exported, skip the rest
 * with a warning. dfd is consumed. Names are sorted: the same tree gives the
 * same archive.
 */
static void
x_walk(struct xctx *x, int dfd, const char *prefix, int depth)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	struct ent	 e;
	char		**names = NULL, path[PATH_MAX], tgt[PATH_MAX];
	size_t		 nn = 0, cap = 0, i;
	const char	*why;
	ssize_t		 tl;
	int		 fd;

	if ((d = fdopendir(dfd)) == NULL)
		die(EX_FAIL, "%s: %s", vis(prefix), strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (depth == 0 && strcmp(de->d_name, "tenant.json") == 0)
			continue;	/* regenerated by import */
		if (depth == 0 && is_ledger_journal(de->d_name))
			continue;	/* in the copy of billing.db */
		if (nn == cap) {
			cap = cap ? cap * 2 : 64;
			if ((names = reallocarray(names, cap,
			    sizeof(*names))) == NULL)
				die(EX_FAIL, "out of memory");
		}
		if ((names[nn++] = strdup(de->d_name)) == NULL)
			die(EX_FAIL, "out of memory");
	}
	qsort(names, nn, sizeof(*names), name_cmp);
	for (i = 0; i < nn; i++) {
		memset(&e, 0, sizeof(e));
		if (x->tree.n >= ENTRIES_MAX)
			die(EX_FAIL, "more than %d entries: too many to export",
			    ENTRIES_MAX);
		if (snprintf(path, sizeof(path), "%s%s%s", prefix,
		    prefix[0] ? "/" : "", names[i]) >= (int)sizeof(path)) {
			x_skip(x, prefix, "an entry in it has a path longer "
			    "than PATH_MAX");
			continue;
		}
		if ((why = path_check(path)) != NULL) {
			x_skip(x, path, why);
			continue;
		}
		if (fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) ==
		    -1) {
			if (errno == ENOENT)	/* gone while we walked */
				continue;
			die(EX_FAIL, "%s: %s", vis(path), strerror(errno));
		}
		if (depth == 0 && strcmp(names[i], EXPORT_META) == 0) {
			x_skip(x, path, "a name reserved for the export's "
			    "metadata");
			continue;
		}
		if (depth == 0 && is_std_dir(names[i]) && !S_ISDIR(st.st_mode)) {
			x_skip(x, path, "not a directory (import recreates it "
			    "as one)");
			continue;
		}
		if ((why = owner_class(x, &st, &e)) != NULL) {
			x_skip(x, path, why);
			continue;
		}
		if (S_ISDIR(st.st_mode))
			e.type = E_DIR;
		else if (S_ISREG(st.st_mode)) {
			/*
			 * A root-owned file with other links may be a file
			 * from outside the tree; the tenant's own are its own.
			 */
			if (st.st_nlink > 1 && e.uown == OWN_ROOT) {
				x_skip(x, path, "a root-owned file with more "
				    "than one hard link");
				continue;
			}
			e.type = E_REG;
			e.size = st.st_size;
		} else if (S_ISLNK(st.st_mode)) {
			tl = readlinkat(dirfd(d), names[i], tgt, sizeof(tgt));
			if (tl == -1) {
				if (errno == ENOENT)
					continue;
				die(EX_FAIL, "%s: %s", vis(path),
				    strerror(errno));
			}
			if ((size_t)tl >= sizeof(tgt) || tl == 0) {
				x_skip(x, path, "a symlink with an empty or "
				    "overlong target");
				continue;
			}
			tgt[tl] = '\0';
			if (tgt[0] == '/') {
				x_skip(x, path, "a symlink to an absolute "
				    "path");
				continue;
			}
			e.type = E_LNK;
		} else {
			x_skip(x, path, S_ISFIFO(st.st_mode) ? "a FIFO" :
			    S_ISSOCK(st.st_mode) ? "a socket" :
			    "a device node");
			continue;
		}
		if (st.st_mode & 06000)
			warn_("%s: setuid/setgid bit dropped", vis(path));
		e.perm = st.st_mode & 01777;
		e.dev = st.st_dev;
		e.ino = st.st_ino;
		e.nlink = st.st_nlink;
		if ((e.path = strdup(path)) == NULL || (e.type == E_LNK &&
		    (e.target = strdup(tgt)) == NULL))
			die(EX_FAIL, "out of memory");
		if (e.type == E_DIR && st.st_dev != x->dev) {
			x_skip(x, path, "a mount point");
			free(e.path);
			continue;
		}
		if (tree_add(&x->tree, &e) == -1)
			die(EX_FAIL, "%s: seen twice", vis(path));
		if (e.type != E_DIR)
			continue;
		fd = openat(dirfd(d), names[i], O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd == -1 || fstat(fd, &st) == -1 || st.st_ino != e.ino ||
		    st.st_dev != e.dev) {
			/* Swapped or removed under us: leave it out. */
			if (fd != -1)
				close(fd);
			x->tree.e[x->tree.n - 1].skip = "changed during the "
			    "export";
			x_skip(x, path, "changed during the export");
			continue;
		}
		x_walk(x, fd, path, depth + 1);
	}
	for (i = 0; i < nn; i++)
		free(names[i]);
	free(names);
	closedir(d);
}

/* Symlinks that leave the tree, until none is left (one can free another). */
static void
x_check_links(struct xctx *x)
{
	const char	*why;
	size_t		 i;
	int		 changed;

	do {
		changed = 0;
		for (i = 0; i < x->tree.n; i++) {
			struct ent	*e = &x->tree.e[i];

			if (e->type != E_LNK || e->skip != NULL ||
			    (why = link_escapes(&x->tree, e)) == NULL)
				continue;
			e->skip = why;
			x_skip(x, e->path, why);
			changed = 1;
		}
	} while (changed);
}

static int
ino_cmp(const void *a, const void *b)
{
	const struct ent	*x = *(const struct ent *const *)a;
	const struct ent	*y = *(const struct ent *const *)b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return 0;
}

static int64_t
add_sat(int64_t a, int64_t b)
{
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/*
 * The tenant's file data the archive will hold, as the walk saw it: each
 * inode once (its other names are stored as hard links), the credit
 * ledger not counted (root's, outside the quota as the daemon measures
 * it: docs/data-plane.md).
 */
static int64_t
x_size(const struct xctx *x)
{
	const struct ent	**multi;
	int64_t			  sum = 0;
	size_t			  i, n = 0;

	if ((multi = reallocarray(NULL, x->tree.n + 1, sizeof(*multi))) ==
	    NULL)
		die(EX_FAIL, "out of memory");
	for (i = 0; i < x->tree.n; i++) {
		const struct ent	*e = &x->tree.e[i];

		if (e->type != E_REG || e->skip != NULL ||
		    strcmp(e->path, LEDGER_FILE) == 0)
			continue;
		if (e->nlink > 1)
			multi[n++] = e;
		else
			sum = add_sat(sum, e->size);
	}
	qsort(multi, n, sizeof(*multi), ino_cmp);
	for (i = 0; i < n; i++)
		if (i == 0 || ino_cmp(&multi[i - 1], &multi[i]) != 0)
			sum = add_sat(sum, multi[i]->size);
	free(multi);
	return sum;
}

/*
 * An export is bounded by the tenant's storage quota: a tenant must not be
 * able to make root write more than it may keep (hard links, sparse files,
 * files grown while they are read). Nothing is left behind: FILE is only
 * created once the archive is complete.
 */
static void __attribute__((__noreturn__))
x_over_quota(const struct xctx *x, int64_t bytes, int during)
{
	char	 q[48];

	tlimit_format(TL_STORAGE, (uint64_t)x->quota, q, sizeof(q));
	die(EX_FAIL, "tenant \"%s\": %s%s%lld bytes of file data, more than "
	    "its storage quota of %s (%lld bytes); %s (\"tenantctl limits set "
	    "%s storage SIZE\" raises the quota)", x->slug,
	    during ? "its files grew during the export: " : "",
	    during ? "at least " : "", (long long)bytes, q,
	    (long long)x->quota, during && strcmp(x->file, "-") == 0 ?
	    "the archive on standard output is incomplete" :
	    "nothing written", x->slug);
}

static void
x_write(struct archive *aw, const char *file)
{
	if (archive_errno(aw) != 0 || archive_error_string(aw) != NULL)
		die(EX_FAIL, "%s: %s", file, archive_error_string(aw) ?
		    archive_error_string(aw) : strerror(archive_errno(aw)));
	die(EX_FAIL, "%s: write failed", file);
}

static void
x_entry_common(struct archive_entry *ae, const struct xctx *x,
    const struct ent *e, const struct stat *st)
{
	archive_entry_set_pathname(ae, e->path);
	archive_entry_set_perm(ae, st->st_mode & 01777);
	archive_entry_set_uid(ae, e->uown == OWN_TENANT ? x->uid : 0);
	archive_entry_set_uname(ae, e->uown == OWN_TENANT ? "tenant" : "root");
	archive_entry_set_gid(ae, e->gown == OWN_TENANT ? x->gid : 0);
	archive_entry_set_gname(ae, e->gown == OWN_TENANT ? "tenant" : "root");
	archive_entry_set_mtime(ae, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
}

/*
 * billing.db as the archive gets it: the copy taken before the walk, with
 * the size of the copy and the original's times; root's, 0600, whatever
 * the original says. *st is the original's on entry.
 */
static int
x_ledger(const struct xctx *x, struct stat *st, int *fd)
{
	struct stat	 cp;

	if (x->ledger_fd == -1 || st->st_uid != 0 || !S_ISREG(st->st_mode) ||
	    (*fd = dup(x->ledger_fd)) == -1)
		return -1;
	if (fstat(*fd, &cp) == -1 || lseek(*fd, 0, SEEK_SET) == -1) {
		close(*fd);
		*fd = -1;
		return -1;
	}
	st->st_size = cp.st_size;
	st->st_mode = (st->st_mode & ~(mode_t)07777) | 0600;
	return 0;
}

/*
 * Phase 3: each entry again, through its parent opened beneath the tenant
 * directory without any symlink on the way, and only if it is still the
 * file the walk saw.
 */
static int64_t
x_emit(struct xctx *x, struct archive *aw, int rootfd, const char *file,
    size_t *count)
{
	struct archive_entry_linkresolver	*lr;
	struct archive_entry	*ae, *spare;
	struct stat		 st;
	struct ent		*e, probe;
	char			 ppath[PATH_MAX], tgt[PATH_MAX];
	char			*buf;
	size_t			 i, pl;
	ssize_t			 tl, n;
	int64_t			 bytes = 0, used = 0, left;
	int			 pfd = -1, fd, ledger;
	const char		*name, *why;

	if ((buf = malloc(COPY_BUF)) == NULL ||
	    (ae = archive_entry_new()) == NULL ||
	    (lr = archive_entry_linkresolver_new()) == NULL)
		die(EX_FAIL, "out of memory");
	/* Later names of an inode become tar hard links to its first. */
	archive_entry_linkresolver_set_strategy(lr,
	    ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
	ppath[0] = '\0';
	for (i = 0; i < x->tree.n; i++) {
		e = &x->tree.e[i];
		if (e->skip != NULL)
			continue;
		if (interrupted)
			die(EX_FAIL, "interrupted; nothing written");
		pl = parent_len(e->path);
		name = base_name(e->path);
		if (pfd == -1 || strncmp(ppath, e->path, pl) != 0 ||
		    ppath[pl] != '\0') {
			if (pfd != -1 && pfd != rootfd)
				close(pfd);
			memcpy(ppath, e->path, pl);
			ppath[pl] = '\0';
			pfd = pl == 0 ? rootfd : open_beneath(rootfd, ppath,
			    O_PATH | O_DIRECTORY, 0);
		}
		if (pfd == -1 || fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) ==
		    -1 || st.st_ino != e->ino || st.st_dev != e->dev) {
			x_skip(x, e->path, "changed during the export");
			continue;
		}
		memset(&probe, 0, sizeof(probe));
		if ((why = owner_class(x, &st, &probe)) != NULL) {
			x_skip(x, e->path, why);
			continue;
		}
		e->uown = probe.uown;
		e->gown = probe.gown;
		archive_entry_clear(ae);
		fd = -1;
		ledger = 0;
		switch (e->type) {
		case E_DIR:
			if (!S_ISDIR(st.st_mode))
				goto changed;
			archive_entry_set_filetype(ae, AE_IFDIR);
			archive_entry_set_size(ae, 0);
			break;
		case E_LNK:
			if (!S_ISLNK(st.st_mode) || (tl = readlinkat(pfd, name,
			    tgt, sizeof(tgt) - 1)) == -1)
				goto changed;
			tgt[tl] = '\0';
			if (strcmp(tgt, e->target) != 0)
				goto changed;
			archive_entry_set_filetype(ae, AE_IFLNK);
			archive_entry_set_symlink(ae, e->target);
			archive_entry_set_size(ae, 0);
			break;
		case E_REG:
			if (pl == 0 && strcmp(name, LEDGER_FILE) == 0) {
				if (x_ledger(x, &st, &fd) == -1)
					goto changed;
				ledger = 1;
				archive_entry_set_filetype(ae, AE_IFREG);
				archive_entry_set_size(ae, st.st_size);
				break;
			}
			fd = openat(pfd, name, O_RDONLY | O_NOFOLLOW |
			    O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
			if (fd == -1 || fstat(fd, &st) == -1 ||
			    !S_ISREG(st.st_mode) || st.st_ino != e->ino ||
			    st.st_dev != e->dev)
				goto changed;
			if (st.st_nlink > 1 && st.st_uid == 0)
				goto changed;
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_size(ae, st.st_size);
			break;
		case E_HARD:
			break;
		}
		x_entry_common(ae, x, e, &st);
		if (fd != -1 && !ledger && st.st_nlink > 1) {
			/*
			 * By the (dev, ino) of the file opened here, not of
			 * the walk: a later name links to the name the data
			 * was written under. For tar the resolver never holds
			 * an entry back (spare stays NULL).
			 */
			archive_entry_set_dev(ae, st.st_dev);
			archive_entry_set_ino64(ae, (la_int64_t)st.st_ino);
			archive_entry_set_nlink(ae, (unsigned int)st.st_nlink);
			spare = NULL;
			archive_entry_linkify(lr, &ae, &spare);
			if (archive_entry_hardlink(ae) != NULL) {
				close(fd);
				fd = -1;
				archive_entry_set_size(ae, 0);
			}
		}
		/*
		 * The quota, as the archive grows: the walk's total was
		 * checked before, but a file may have grown since, and only
		 * st_size bytes of it are read, however much more it grows.
		 */
		if (fd != -1 && !ledger) {
			if (st.st_size > x->quota - used)
				x_over_quota(x, add_sat(used, st.st_size), 1);
			used += st.st_size;
		}
		if (archive_write_header(aw, ae) != ARCHIVE_OK)
			x_write(aw, file);
		(*count)++;
		if (fd == -1)
			continue;
		for (left = st.st_size; left > 0; left -= n) {
			n = read(fd, buf, left < COPY_BUF ? (size_t)left :
			    COPY_BUF);
			if (n == -1)
				die(EX_FAIL, "%s: %s", vis(e->path),
				    strerror(errno));
			if (n == 0) {
				/* Shrunk while we read it: pad, say so. */
				warn_("%s: shrank during the export; padded "
				    "with zeros", vis(e->path));
				memset(buf, 0, COPY_BUF);
				n = left < COPY_BUF ? left : COPY_BUF;
			}
			if (archive_write_data(aw, buf, (size_t)n) != n)
				x_write(aw, file);
			if (interrupted)
				die(EX_FAIL, "interrupted; nothing written");
		}
		bytes += st.st_size;
		close(fd);
		continue;
 changed:
		if (fd != -1)
			close(fd);
		x_skip(x, e->path, "changed during the export");
	}
	if (pfd != -1 && pfd != rootfd)
		close(pfd);
	archive_entry_free(ae);
	archive_entry_linkresolver_free(lr);
	free(buf);
	return bytes;
}

static int
ends_with(const char *s, const char *suf)
{
	size_t	 a = strlen(s), b = strlen(suf);

	return a >= b && strcmp(s + a - b, suf) == 0;
}

/*
 * The output: never FILE itself until the archive is complete. An unnamed
 * file (O_TMPFILE) in FILE's directory is linked in at the end, which
 * fails if FILE appeared meanwhile; with --force a temporary name is
 * renamed over it. Where O_TMPFILE is not supported, a named temporary.
 */
struct xout {
	int	 fd;
	int	 unnamed;
	char	 tmp[PATH_MAX];
};

static void
x_out_open(struct xout *o, const char *file)
{
	char		 dir[PATH_MAX], *slash;
	unsigned char	 rnd[6];

	memset(o, 0, sizeof(*o));
	if (strcmp(file, "-") == 0) {
		if (isatty(STDOUT_FILENO))
			die(EX_USAGE_, "refusing to write an archive to a "
			    "terminal");
		o->fd = STDOUT_FILENO;
		return;
	}
	if (snprintf(dir, sizeof(dir), "%s", file) >= (int)sizeof(dir))
		die(EX_FAIL, "%s: name too long", file);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	o->fd = open(dir, O_WRONLY | O_TMPFILE | O_CLOEXEC, 0600);
	if (o->fd != -1) {
		o->unnamed = 1;
		return;
	}
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		die(EX_FAIL, "%s: %s", dir, strerror(errno));
	randombytes_buf(rnd, sizeof(rnd));
	snprintf(o->tmp, sizeof(o->tmp), "%s.tmp-%02x%02x%02x%02x%02x%02x",
	    file, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	if ((o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		die(EX_FAIL, "%s: %s", o->tmp, strerror(errno));
}

static void
x_out_abandon(struct xout *o)
{
	if (o->tmp[0] != '\0')
		unlink(o->tmp);
	o->tmp[0] = '\0';
}

static void
x_out_commit(struct xout *o, const char *file, int force)
{
	char		 tmp[PATH_MAX + 32];
	unsigned char	 rnd[6];

	if (o->fd == STDOUT_FILENO)
		return;
	if (fsync(o->fd) == -1) {
		x_out_abandon(o);
		die(EX_FAIL, "%s: %s", file, strerror(errno));
	}
	if (o->unnamed && !force) {
		if (linkat(o->fd, "", AT_FDCWD, file, AT_EMPTY_PATH) == -1)
			die(errno == EEXIST ? EX_CONFLICT : EX_FAIL, "%s: %s%s",
			    file, strerror(errno), errno == EEXIST ?
			    " (use --force to replace it)" : "");
	} else if (o->unnamed) {
		randombytes_buf(rnd, sizeof(rnd));
		snprintf(tmp, sizeof(tmp), "%s.tmp-%02x%02x%02x%02x%02x%02x",
		    file, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
		if (linkat(o->fd, "", AT_FDCWD, tmp, AT_EMPTY_PATH) == -1)
			die(EX_FAIL, "%s: %s", tmp, strerror(errno));
		if (rename(tmp, file) == -1) {
			unlink(tmp);
			die(EX_FAIL, "%s: %s", file, strerror(errno));
		}
	} else if (!force) {
		if (renameat2(AT_FDCWD, o->tmp, AT_FDCWD, file,
		    RENAME_NOREPLACE) == -1) {
			int	 saved = errno;

			x_out_abandon(o);
			die(saved == EEXIST ? EX_CONFLICT : EX_FAIL, "%s: %s",
			    file, strerror(saved));
		}
	} else if (rename(o->tmp, file) == -1) {
		x_out_abandon(o);
		die(EX_FAIL, "%s: %s", file, strerror(errno));
	}
	close(o->fd);
}

static struct xout	*x_cleanup;

static void
x_atexit(void)
{
	if (x_cleanup != NULL)
		x_out_abandon(x_cleanup);
}

/*
 * A consistent copy of the tenant's billing.db, made before the walk, in
 * an unnamed root-only file in tenants/. -1 if the tenant has none.
 */
static int
x_ledger_copy(int rootfd, int tfd, const char *slug)
{
	struct ledger	*l;
	char		 err[512];
	int		 fd;

	if (faccessat(rootfd, LEDGER_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	if ((l = ledger_open(rootfd, 0, err, sizeof(err))) == NULL)
		die(EX_FAIL, "tenants/%s/%s", slug, err);
	if ((fd = openat(tfd, ".", O_RDWR | O_TMPFILE | O_CLOEXEC, 0600)) ==
	    -1)
		die(EX_FAIL, "tenants/: %s", strerror(errno));
	if (ledger_snapshot(l, rootfd, fd) == -1)
		die(EX_FAIL, "tenants/%s/%s: %s", slug, LEDGER_FILE,
		    ledger_errmsg(l));
	ledger_close(l);
	return fd;
}

int
cmd_export(int argc, char **argv)
{
	struct xctx		 x;
	struct xout		 out;
	struct tenant		 t;
	struct archive		*aw;
	struct archive_entry	*ae;
	struct stat		 st;
	struct tlimits		 tl;
	json_t			*meta, *hosts;
	char			*mj, host[HOST_NAME_MAX_LEN + SLUG_MAX_LEN + 2];
	char			 err[512];
	const char		*slug = NULL, *file = NULL;
	int			 i, force = 0, zstd = 0, tfd, rootfd, rc, wfd;
	size_t			 count = 0;
	int64_t			 bytes, total;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0)
			force = 1;
		else if (strcmp(argv[i], "--zstd") == 0)
			zstd = 1;
		else if (argv[i][0] == '-' && strcmp(argv[i], "-") != 0)
			usage();
		else if (slug == NULL)
			slug = argv[i];
		else if (file == NULL)
			file = argv[i];
		else
			usage();
	}
	if (file == NULL)
		usage();
	if (ends_with(file, ".zst") || ends_with(file, ".tzst"))
		zstd = 1;
	open_registry();
	if ((rc = registry_tenant_get(reg, slug, &t)) == REG_NOTFOUND)
		die(EX_NOTFOUND, "no tenant \"%s\"", slug);
	if (rc != REG_OK)
		die(EX_FAIL, "%s", registry_errmsg(reg));
	if (t.t_status == TENANT_DELETED)
		die(EX_STATE, "tenant \"%s\" is deleted", slug);
	if (strcmp(file, "-") != 0 && !force && fstatat(AT_FDCWD, file, &st,
	    AT_SYMLINK_NOFOLLOW) == 0)
		die(EX_CONFLICT, "%s exists; use --force to replace it", file);

	tfd = tenants_dir();
	if ((rootfd = openat(tfd, slug, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || fstat(rootfd, &st) == -1)
		die(EX_FAIL, "tenants/%s: %s", slug, strerror(errno));

	/* Phase 1 and 2: what is there and what can go. */
	memset(&x, 0, sizeof(x));
	x.slug = slug;
	x.file = file;
	x.uid = t.t_uid;
	x.gid = t.t_gid;
	x.dev = st.st_dev;
	if (tlimits_for_tenant(reg, conf.c_policy_dir, t.t_id, &tl, err,
	    sizeof(err)) == -1)
		die(EX_FAIL, "tenant \"%s\": limits: %s", slug, err);
	x.quota = tl.tl_val[TL_STORAGE] > INT64_MAX ? INT64_MAX :
	    (int64_t)tl.tl_val[TL_STORAGE];
	x.ledger_fd = x_ledger_copy(rootfd, tfd, slug);
	x.skipped = json_array();
	catch_signals();
	if ((wfd = dup(rootfd)) == -1)
		die(EX_FAIL, "dup: %s", strerror(errno));
	x_walk(&x, wfd, "", 0);
	x_check_links(&x);
	/* Before anything is written: most refusals cost nothing. */
	if ((total = x_size(&x)) > x.quota)
		x_over_quota(&x, total, 0);

	/* The metadata. */
	hosts = json_array();
	if (registry_hosts(reg, t.t_id, 0, hosts_cb, hosts) != REG_OK)
		die(EX_FAIL, "%s", registry_errmsg(reg));
	snprintf(host, sizeof(host), "%s.%s", slug, conf.c_hosts.hc_suffix);
	meta = json_pack("{s:s, s:i, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s, "
	    "s:o, s:o, s:O}",
	    "format", EXPORT_FORMAT, "version", EXPORT_VERSION,
	    "tenantd", TENANTD_VERSION, "slug", slug,
	    "status", tenant_status_str(t.t_status),
	    "created", (json_int_t)t.t_created, "exported",
	    (json_int_t)time(NULL), "uid", (json_int_t)t.t_uid,
	    "gid", (json_int_t)t.t_gid, "host", host,
	    "hostnames", hosts, "manifest", manifest_read(rootfd),
	    "skipped", x.skipped);
	if (meta == NULL || (mj = json_dumps(meta, JSON_INDENT(2) |
	    JSON_SORT_KEYS)) == NULL)
		die(EX_FAIL, "json: out of memory");

	/* Phase 3: the archive. */
	x_out_open(&out, file);
	x_cleanup = &out;
	atexit(x_atexit);
	if ((aw = archive_write_new()) == NULL ||
	    archive_write_set_format_pax_restricted(aw) != ARCHIVE_OK ||
	    /* File names are bytes: stored as they are, not converted. */
	    archive_write_set_format_option(aw, "pax", "hdrcharset",
	    "BINARY") != ARCHIVE_OK ||
	    (zstd ? archive_write_add_filter_zstd(aw) :
	    archive_write_add_filter_gzip(aw)) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(aw, 1) != ARCHIVE_OK ||
	    archive_write_open_fd(aw, out.fd) != ARCHIVE_OK)
		x_write(aw, file);
	if ((ae = archive_entry_new()) == NULL)
		die(EX_FAIL, "out of memory");
	archive_entry_set_pathname(ae, EXPORT_META);
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, 0600);
	archive_entry_set_uname(ae, "root");
	archive_entry_set_gname(ae, "root");
	archive_entry_set_mtime(ae, time(NULL), 0);
	archive_entry_set_size(ae, (la_int64_t)strlen(mj));
	if (archive_write_header(aw, ae) != ARCHIVE_OK ||
	    archive_write_data(aw, mj, strlen(mj)) != (la_ssize_t)strlen(mj))
		x_write(aw, file);
	archive_entry_free(ae);
	/*
	 * Entries that vanish during phase 3 are still listed as skipped on
	 * stderr; the metadata was written before and cannot say so.
	 */
	bytes = x_emit(&x, aw, rootfd, file, &count);
	if (archive_write_close(aw) != ARCHIVE_OK)
		x_write(aw, file);
	archive_write_free(aw);
	if (interrupted)
		die(EX_FAIL, "interrupted; nothing written");
	x_out_commit(&out, file, force);
	x_cleanup = NULL;
	registry_audit(reg, actor, "export", slug, strcmp(file, "-") == 0 ?
	    "to standard output" : file);
	if (json_out && strcmp(file, "-") != 0) {
		json_t	*o = json_pack("{s:s, s:s, s:I, s:I, s:O}", "slug", slug,
		    "file", file, "entries", (json_int_t)count,
		    "bytes", (json_int_t)bytes, "skipped", x.skipped);

		mj = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("%s\n", mj);
	} else
		fprintf(strcmp(file, "-") == 0 ? stderr : stdout,
		    "exported tenant %s to %s: %zu entries, %lld bytes of "
		    "file data, %zu custom hostnames, %zu skipped\n", slug,
		    strcmp(file, "-") == 0 ? "standard output" : file, count,
		    (long long)bytes, json_array_size(hosts),
		    json_array_size(x.skipped));
	close(rootfd);
	close(tfd);
	json_decref(meta);
	tree_free(&x.tree);
	return EX_OK_;
}

/* --- import -------------------------------------------------------------- */

/*
 * The archive as a file we can read twice (once to check, once to
 * extract): FILE itself when it is seekable, else (standard input, a pipe)
 * an unnamed copy in tenants/, which leaves nothing behind.
 */
static int
i_open(const char *file, int tfd)
{
	char	 buf[COPY_BUF];
	ssize_t	 n;
	int	 fd, sp;

	if (strcmp(file, "-") == 0)
		fd = dup(STDIN_FILENO);
	else
		fd = open(file, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (fd == -1)
		die(EX_FAIL, "%s: %s", file, strerror(errno));
	if (lseek(fd, 0, SEEK_SET) == 0)
		return fd;
	if ((sp = openat(tfd, ".", O_RDWR | O_TMPFILE | O_CLOEXEC, 0600)) ==
	    -1)
		die(EX_FAIL, "spooling %s: %s", file, strerror(errno));
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n == -1 && errno == EINTR && !interrupted)
			continue;
		if (n == -1)
			die(EX_FAIL, "%s: %s", file, strerror(errno));
		if (write(sp, buf, (size_t)n) != n)
			die(EX_FAIL, "spooling %s: %s", file, strerror(errno));
	}
	close(fd);
	if (lseek(sp, 0, SEEK_SET) == -1)
		die(EX_FAIL, "spooling %s: %s", file, strerror(errno));
	return sp;
}

static struct archive *
i_reader(int fd, const char *file)
{
	struct archive	*ar;

	if (lseek(fd, 0, SEEK_SET) == -1)
		die(EX_FAIL, "%s: %s", file, strerror(errno));
	if ((ar = archive_read_new()) == NULL ||
	    archive_read_support_filter_gzip(ar) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(ar) != ARCHIVE_OK ||
	    archive_read_support_format_tar(ar) != ARCHIVE_OK)
		die(EX_FAIL, "libarchive: %s", ar ? archive_error_string(ar) :
		    "out of memory");
	if (archive_read_open_fd(ar, fd, COPY_BUF) != ARCHIVE_OK)
		die(EX_INVALID, "%s: %s", file, archive_error_string(ar));
	return ar;
}

/*
 * One archive entry as an entry of the tree, or why it cannot be one. The
 * rules: a normalised relative path; a directory, a regular file, a symlink
 * or a hard link, nothing else; no setuid or setgid bit; owned by root or
 * by the tenant's original uid/gid as the metadata records them.
 */
static const char *
i_entry(struct archive_entry *ae, const struct meta *m, struct ent *e)
{
	static char	 why[128];
	const char	*p, *hl, *sl;
	size_t		 len;
	int64_t		 id;

	memset(e, 0, sizeof(*e));
	if ((p = archive_entry_pathname(ae)) == NULL)
		return "an entry without a name";
	if ((e->path = strdup(p)) == NULL)
		die(EX_FAIL, "out of memory");
	hl = archive_entry_hardlink(ae);
	len = strlen(e->path);
	if (hl == NULL && archive_entry_filetype(ae) == AE_IFDIR && len > 1 &&
	    e->path[len - 1] == '/')
		e->path[len - 1] = '\0';
	if ((p = path_check(e->path)) != NULL)
		return p;
	if (hl != NULL) {
		e->type = E_HARD;
		if ((e->target = strdup(hl)) == NULL)
			die(EX_FAIL, "out of memory");
		if ((p = path_check(hl)) != NULL) {
			snprintf(why, sizeof(why), "a hard link to %s", p);
			return why;
		}
		if (archive_entry_size(ae) != 0)
			return "a hard link with data";
	} else {
		switch (archive_entry_filetype(ae)) {
		case AE_IFREG:
			e->type = E_REG;
			break;
		case AE_IFDIR:
			e->type = E_DIR;
			break;
		case AE_IFLNK:
			e->type = E_LNK;
			sl = archive_entry_symlink(ae);
			if (sl == NULL || *sl == '\0')
				return "a symlink without a target";
			if (strlen(sl) >= PATH_MAX)
				return "a symlink target longer than PATH_MAX";
			if ((e->target = strdup(sl)) == NULL)
				die(EX_FAIL, "out of memory");
			if (sl[0] == '/')
				return "a symlink to an absolute path";
			break;
		case AE_IFCHR:
		case AE_IFBLK:
			return "a device node";
		case AE_IFIFO:
			return "a FIFO";
		case AE_IFSOCK:
			return "a socket";
		default:
			return "not a directory, regular file or link";
		}
		if (e->type != E_REG && archive_entry_size(ae) != 0)
			return "a directory or symlink with data";
	}
	if (archive_entry_perm(ae) & 06000)
		return "a setuid or setgid bit";
	e->perm = archive_entry_perm(ae) & 01777;
	if (is_ledger_journal(e->path))
		return "a journal of the credit ledger (export never writes "
		    "one)";
	/* The credit ledger: the tenant must never be able to write it. */
	if (strcmp(e->path, LEDGER_FILE) == 0) {
		if (e->type != E_REG || archive_entry_uid(ae) != 0 ||
		    archive_entry_gid(ae) != 0)
			return "the credit ledger, not a regular file owned by "
			    "root:root";
		e->perm = 0600;
	}
	e->size = e->type == E_REG ? archive_entry_size(ae) : 0;
	if (e->size < 0)
		return "a negative size";
	id = archive_entry_uid(ae);
	if (id == 0)
		e->uown = OWN_ROOT;
	else if (id == m->uid)
		e->uown = OWN_TENANT;
	else {
		snprintf(why, sizeof(why), "owned by uid %lld, neither root nor "
		    "the tenant's uid %u", (long long)id, m->uid);
		return why;
	}
	id = archive_entry_gid(ae);
	if (id == 0)
		e->gown = OWN_ROOT;
	else if (id == m->gid)
		e->gown = OWN_TENANT;
	else {
		snprintf(why, sizeof(why), "group %lld, neither root's nor the "
		    "tenant's gid %u", (long long)id, m->gid);
		return why;
	}
	return NULL;
}

/* Where it sits in the tree: parents first, no way through a symlink. */
static const char *
i_place(const struct tree *t, const struct ent *e)
{
	static char	 why[PATH_MAX + 64];
	size_t		 pl = parent_len(e->path);
	ssize_t		 k;

	if (pl == 0) {
		if (strcmp(e->path, "tenant.json") == 0)
			return "the manifest, which import writes itself";
		if (strcmp(e->path, EXPORT_META) == 0)
			return "a second metadata entry";
		if (is_std_dir(e->path) && e->type != E_DIR)
			return "one of the tenant's standard directories, but "
			    "not a directory";
	} else {
		/*
		 * The classic tar escape is "l -> /etc" then "l/passwd":
		 * nothing is ever extracted through a symlink.
		 */
		k = tree_find(t, e->path, pl);
		if (k != -1 && t->e[k].type == E_LNK) {
			snprintf(why, sizeof(why), "a path through the symlink "
			    "%s", vis(t->e[k].path));
			return why;
		}
		if (k == -1 || t->e[k].type != E_DIR)
			return "a path whose parent is not a directory earlier "
			    "in the archive";
	}
	/*
	 * A hard link names an inode already extracted, so its target is
	 * checked as a path of the tree (path_check() in i_entry(), here its
	 * entry): a regular file earlier in the archive, placed by the rules
	 * above, so nothing outside the tree and nothing through a symlink.
	 * As export writes them: to the file's first name, never to another
	 * link, and never to a file of root's (the credit ledger).
	 */
	if (e->type == E_HARD) {
		k = tree_find(t, e->target, strlen(e->target));
		if (k == -1 || t->e[k].type != E_REG)
			return "a hard link to something that is not a regular "
			    "file earlier in the archive";
		if (t->e[k].uown == OWN_ROOT)
			return "a hard link to a file owned by root";
	}
	if (tree_find(t, e->path, strlen(e->path)) != -1)
		return "a path that appears twice";
	return NULL;
}

/*
 * The temporary directory of an import until the tenant is registered: any
 * exit on the way (die() included) removes it.
 */
static struct {
	int	 tfd;
	char	 name[128];
} i_tmp;

static void
i_atexit(void)
{
	if (i_tmp.name[0] != '\0')
		purge_tenant(i_tmp.tfd, i_tmp.name, NULL, 0);
	i_tmp.name[0] = '\0';
}

struct ictx {
	const char	*file;
	struct tree	 tree;
	struct meta	 m;
	int64_t		 avail;
	uint64_t	 favail;
};

static void __attribute__((__noreturn__, __format__(printf, 3, 4)))
i_refuse(struct ictx *c, const char *path, const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (path != NULL)
		die(EX_INVALID, "%s: entry \"%s\": %s; nothing imported",
		    c->file, vis(path), msg);
	die(EX_INVALID, "%s: %s; nothing imported", c->file, msg);
}

/* Pass 1: read everything, extract nothing. */
static void
i_check(struct ictx *c, int fd)
{
	struct archive		*ar;
	struct archive_entry	*ae;
	struct ent		 e;
	const char		*why;
	char			*mbuf;
	size_t			 i, ml = 0;
	ssize_t			 n;
	int			 r;

	ar = i_reader(fd, c->file);
	r = archive_read_next_header(ar, &ae);
	if (r == ARCHIVE_EOF)
		i_refuse(c, NULL, "an empty archive");
	if (r != ARCHIVE_OK)
		i_refuse(c, NULL, "%s", archive_error_string(ar));
	if (strcmp(archive_entry_pathname(ae) ? archive_entry_pathname(ae) :
	    "", EXPORT_META) != 0 || archive_entry_filetype(ae) != AE_IFREG ||
	    archive_entry_hardlink(ae) != NULL)
		i_refuse(c, NULL, "not a tenantd export: the first entry is not "
		    "the metadata " EXPORT_META);
	if (archive_entry_size(ae) <= 0 || archive_entry_size(ae) > META_MAX)
		i_refuse(c, NULL, EXPORT_META " is empty or larger than 1 MiB");
	if ((mbuf = malloc(META_MAX + 1)) == NULL)
		die(EX_FAIL, "out of memory");
	while ((n = archive_read_data(ar, mbuf + ml, META_MAX + 1 - ml)) > 0)
		if ((ml += (size_t)n) > META_MAX)
			i_refuse(c, NULL, EXPORT_META " is larger than 1 MiB");
	if (n < 0)
		i_refuse(c, NULL, "%s", archive_error_string(ar));
	if ((why = meta_parse(&c->m, mbuf, ml)) != NULL)
		i_refuse(c, NULL, "malformed " EXPORT_META ": %s", why);
	free(mbuf);

	for (;;) {
		if (interrupted)
			die(EX_FAIL, "interrupted; nothing imported");
		if ((r = archive_read_next_header(ar, &ae)) == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK)
			i_refuse(c, NULL, "%s", archive_error_string(ar));
		if (c->tree.n >= ENTRIES_MAX)
			i_refuse(c, NULL, "more than %d entries", ENTRIES_MAX);
		if ((why = i_entry(ae, &c->m, &e)) != NULL ||
		    (why = i_place(&c->tree, &e)) != NULL)
			i_refuse(c, e.path ? e.path : "?", "%s", why);
		/* Sizes as claimed: bounded by the space to put them in. */
		if (e.size > c->avail)
			die(EX_FAIL, "%s: entry \"%s\": %lld bytes, more than "
			    "the %lld bytes free in tenants/; nothing imported",
			    c->file, vis(e.path), (long long)e.size,
			    (long long)c->avail);
		c->tree.bytes += e.size;
		if (tree_add(&c->tree, &e) == -1)
			i_refuse(c, e.path, "a path that appears twice");
		/* Reads (and decompresses) the data: truncation shows here. */
		if (archive_read_data_skip(ar) != ARCHIVE_OK)
			i_refuse(c, NULL, "%s", archive_error_string(ar));
	}
	archive_read_free(ar);
	for (i = 0; i < c->tree.n; i++)
		if (c->tree.e[i].type == E_LNK &&
		    (why = link_escapes(&c->tree, &c->tree.e[i])) != NULL)
			i_refuse(c, c->tree.e[i].path, "%s (to \"%s\")", why,
			    vis(c->tree.e[i].target));
	if (c->tree.bytes + (int64_t)c->tree.n * 4096 > c->avail)
		die(EX_FAIL, "%s: %lld bytes of file data in %zu entries, more "
		    "than the %lld bytes free in tenants/; nothing imported",
		    c->file, (long long)c->tree.bytes, c->tree.n,
		    (long long)c->avail);
	if ((uint64_t)c->tree.n + 16 > c->favail)
		die(EX_FAIL, "%s: %zu entries, more than the %llu inodes free "
		    "in tenants/; nothing imported", c->file, c->tree.n,
		    (unsigned long long)c->favail);
}

static int
ent_same(const struct ent *a, const struct ent *b)
{
	return strcmp(a->path, b->path) == 0 && a->type == b->type &&
	    (a->target == NULL) == (b->target == NULL) &&
	    (a->target == NULL || strcmp(a->target, b->target) == 0) &&
	    a->perm == b->perm && a->uown == b->uown && a->gown == b->gown &&
	    a->size == b->size;
}

/* Pass 2: extract into tmpfd, entry for entry as pass 1 saw them. */
static const char *
i_extract(struct ictx *c, int fd, int tmpfd)
{
	static char		 why[PATH_MAX + 128];
	struct archive		*ar, *aw;
	struct archive_entry	*ae;
	struct ent		 e, *x;
	const void		*buf;
	size_t			 i, len;
	la_int64_t		 off;
	int			 r;

	if (fchdir(tmpfd) == -1)
		return strerror(errno);
	ar = i_reader(fd, c->file);
	if ((aw = archive_write_disk_new()) == NULL)
		die(EX_FAIL, "out of memory");
	/*
	 * No ARCHIVE_EXTRACT_OWNER (import sets owners itself afterwards),
	 * no xattrs, ACLs or file flags (a file capability is an xattr).
	 */
	archive_write_disk_set_options(aw, ARCHIVE_EXTRACT_TIME |
	    ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_NO_OVERWRITE |
	    ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
	    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
	for (i = 0;; i++) {
		if (interrupted)
			return "interrupted";
		if ((r = archive_read_next_header(ar, &ae)) == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK)
			return archive_error_string(ar);
		if (i == 0)
			continue;	/* the metadata */
		/*
		 * Exactly what pass 1 checked, or stop: whoever can write
		 * FILE could change it in between (a customer's upload).
		 */
		memset(&e, 0, sizeof(e));
		x = i <= c->tree.n ? &c->tree.e[i - 1] : NULL;
		if (x == NULL || i_entry(ae, &c->m, &e) != NULL ||
		    !ent_same(&e, x)) {
			free(e.path);
			free(e.target);
			return "the archive changed between checking and "
			    "extracting";
		}
		free(e.path);
		free(e.target);
		archive_entry_set_pathname(ae, x->path);
		if (x->type == E_HARD)
			archive_entry_set_hardlink(ae, x->target);
		archive_entry_set_perm(ae, x->perm);
		archive_entry_set_uid(ae, 0);
		archive_entry_set_gid(ae, 0);
		archive_entry_set_uname(ae, NULL);
		archive_entry_set_gname(ae, NULL);
		archive_entry_acl_clear(ae);
		archive_entry_xattr_clear(ae);
		archive_entry_set_fflags(ae, 0, 0);
		if (archive_write_header(aw, ae) != ARCHIVE_OK) {
			snprintf(why, sizeof(why), "%s: %s", vis(x->path),
			    archive_error_string(aw));
			return why;
		}
		if (x->type == E_REG) {
			while ((r = archive_read_data_block(ar, &buf, &len,
			    &off)) == ARCHIVE_OK)
				if (archive_write_data_block(aw, buf, len, off)
				    != ARCHIVE_OK) {
					snprintf(why, sizeof(why), "%s: %s",
					    vis(x->path),
					    archive_error_string(aw));
					return why;
				}
			if (r != ARCHIVE_EOF)
				return archive_error_string(ar);
		}
		if (archive_write_finish_entry(aw) != ARCHIVE_OK) {
			snprintf(why, sizeof(why), "%s: %s", vis(x->path),
			    archive_error_string(aw));
			return why;
		}
	}
	if (i != c->tree.n + 1)
		return "the archive changed between checking and extracting";
	/* Directory modes and times are applied here, deepest first. */
	if (archive_write_close(aw) != ARCHIVE_OK)
		return archive_error_string(aw);
	archive_write_free(aw);
	archive_read_free(ar);
	if (chdir("/") == -1)
		return strerror(errno);
	return NULL;
}

/*
 * The archive's billing.db must hold sound books, and nothing but the
 * ledger's schema, before the tenant is registered; an archive without one
 * (from before the ledger) gets a new ledger with the initial credits.
 */
static const char *
i_ledger(struct ictx *c, int tmpfd)
{
	static char	 why[600];
	struct ledger	*l;
	char		 err[512];

	if (tree_find(&c->tree, LEDGER_FILE, strlen(LEDGER_FILE)) == -1)
		return ledger_provision(tmpfd, initial_credits(), why,
		    sizeof(why)) == -1 ? why : NULL;
	/* Extracted as root, 0600; say so again for ledger_open(). */
	if (fchownat(tmpfd, LEDGER_FILE, 0, 0, AT_SYMLINK_NOFOLLOW) == -1 ||
	    fchmodat(tmpfd, LEDGER_FILE, 0600, 0) == -1) {
		snprintf(why, sizeof(why), "%s: %s", LEDGER_FILE,
		    strerror(errno));
		return why;
	}
	if ((l = ledger_open(tmpfd, 0, err, sizeof(err))) == NULL) {
		snprintf(why, sizeof(why), "the credit ledger: %s", err);
		return why;
	}
	if (ledger_check(l, err, sizeof(err)) == -1) {
		ledger_close(l);
		snprintf(why, sizeof(why), "the credit ledger: %s", err);
		return why;
	}
	/* Holds belonged to workers on the old host. */
	if (ledger_holds_close_all(l) == -1) {
		snprintf(why, sizeof(why), "the credit ledger: %s",
		    ledger_errmsg(l));
		ledger_close(l);
		return why;
	}
	ledger_close(l);
	return NULL;
}

/* Owners: root stays root, the tenant's become the new uid/gid. */
static const char *
i_chown(struct ictx *c, int tmpfd, const struct tenant *t)
{
	static char	 why[PATH_MAX + 64];
	char		 ppath[PATH_MAX];
	struct ent	*e;
	size_t		 i, pl;
	int		 pfd = -1;

	ppath[0] = '\0';
	for (i = 0; i < c->tree.n; i++) {
		e = &c->tree.e[i];
		if (e->type == E_HARD)	/* the inode was done with its file */
			continue;
		pl = parent_len(e->path);
		if (pfd == -1 || strncmp(ppath, e->path, pl) != 0 ||
		    ppath[pl] != '\0') {
			if (pfd != -1 && pfd != tmpfd)
				close(pfd);
			memcpy(ppath, e->path, pl);
			ppath[pl] = '\0';
			pfd = pl == 0 ? tmpfd : open_beneath(tmpfd, ppath,
			    O_PATH | O_DIRECTORY, 0);
		}
		if (pfd == -1 || fchownat(pfd, base_name(e->path),
		    e->uown == OWN_TENANT ? t->t_uid : 0,
		    e->gown == OWN_TENANT ? t->t_gid : 0,
		    AT_SYMLINK_NOFOLLOW) == -1) {
			snprintf(why, sizeof(why), "chown %s: %s", vis(e->path),
			    strerror(errno));
			if (pfd != -1 && pfd != tmpfd)
				close(pfd);
			return why;
		}
	}
	if (pfd != -1 && pfd != tmpfd)
		close(pfd);
	/* The standard directories the archive did not have, as provision. */
	for (i = 0; std_dirs[i] != NULL; i++)
		if (tree_find(&c->tree, std_dirs[i], strlen(std_dirs[i])) ==
		    -1 && (mkdirat(tmpfd, std_dirs[i], 0700) == -1 ||
		    fchownat(tmpfd, std_dirs[i], t->t_uid, t->t_gid,
		    AT_SYMLINK_NOFOLLOW) == -1)) {
			snprintf(why, sizeof(why), "mkdir %s: %s", std_dirs[i],
			    strerror(errno));
			return why;
		}
	return NULL;
}

/* The manifest, exactly as create writes it. */
static const char *
i_manifest(int tmpfd, const struct tenant *t, const char *host)
{
	return manifest_write(tmpfd, t, host) == -1 ? strerror(errno) : NULL;
}

struct taken {
	const json_t	*hosts;
	char		 host[HOST_NAME_MAX_LEN + 1];
	char		 slug[SLUG_MAX_LEN + 1];
};

static int
taken_cb(const struct hostname *h, void *arg)
{
	struct taken	*tk = arg;
	json_t		*v;
	size_t		 i;

	json_array_foreach(tk->hosts, i, v)
		if (strcmp(json_string_value(json_object_get(v, "hostname")),
		    h->h_name) == 0) {
			snprintf(tk->host, sizeof(tk->host), "%s", h->h_name);
			snprintf(tk->slug, sizeof(tk->slug), "%s", h->h_slug);
			return 1;	/* found: the walk stops, not fails */
		}
	return 0;
}

/*
 * After the tenant was registered nothing may leave it half-imported, and
 * a registered tenant cannot be removed, only deleted: so the directory
 * goes, the tenant is deleted (its slug tombstoned) and the operator told.
 */
static void __attribute__((__noreturn__))
i_rollback(int tfd, const char *dir, const struct tenant *t, const char *what)
{
	const char	*slug = t->t_slug;
	char	 err[512] = "";

	purge_tenant(tfd, dir, err, sizeof(err));
	registry_tenant_set_status(reg, slug, TENANT_DELETED, actor);
	registry_audit(reg, actor, "import-failed", slug, what);
	bump_gen(&t->t_id, 1);
	die(EX_FAIL, "import of \"%s\" failed after it was registered: %s; the "
	    "tenant is deleted again and its slug is tombstoned on this host: "
	    "import with --as ANOTHER-SLUG%s%s", slug, what, err[0] ?
	    "; also: " : "", err);
}

int
cmd_import(int argc, char **argv)
{
	struct ictx	 c;
	struct tenant	 t;
	struct taken	 tk;
	struct statvfs	 sv;
	enum slug_error	 se;
	json_t		*h, *out_hosts;
	char		 host[HOST_NAME_MAX_LEN + SLUG_MAX_LEN + 2];
	char		 canon[HOST_NAME_MAX_LEN + 1], tmp[128], detail[512];
	char		 path[PATH_MAX];
	unsigned char	 rnd[6];
	const char	*slug = NULL, *why, *hn;
	size_t		 i;
	int		 fd, tfd, tmpfd, rc, nohosts = 0, active, npending = 0;

	memset(&c, 0, sizeof(c));
	/*
	 * Names in a pax archive are UTF-8 unless marked binary; read them
	 * as the same bytes (in the C locale libarchive could not convert
	 * them and would warn, which import takes as a refusal).
	 */
	setlocale(LC_CTYPE, "C.UTF-8");
	for (i = 0; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "--as") == 0 && i + 1 < (size_t)argc)
			slug = argv[++i];
		else if (strcmp(argv[i], "--no-hostnames") == 0)
			nohosts = 1;
		else if (argv[i][0] == '-' && strcmp(argv[i], "-") != 0)
			usage();
		else if (c.file == NULL)
			c.file = argv[i];
		else
			usage();
	}
	if (c.file == NULL)
		usage();
	open_registry();
	tfd = tenants_dir();
	if (fstatvfs(tfd, &sv) == -1)
		die(EX_FAIL, "tenants/: %s", strerror(errno));
	c.avail = (int64_t)sv.f_bavail * (int64_t)sv.f_frsize;
	/* Some file systems (btrfs) have no fixed number of inodes. */
	c.favail = sv.f_files != 0 ? sv.f_favail : UINT64_MAX;
	catch_signals();

	/* Everything is checked before anything is created. */
	fd = i_open(c.file, tfd);
	i_check(&c, fd);
	if (slug == NULL)
		slug = c.m.slug;
	if ((se = slug_check(slug, strlen(slug))) != SLUG_OK)
		die(se == SLUG_RESERVED ? EX_CONFLICT : EX_INVALID,
		    "invalid slug \"%s\": %s", slug, slug_error_str(se));
	snprintf(host, sizeof(host), "%s.%s", slug, conf.c_hosts.hc_suffix);
	if (strlen(host) > HOST_NAME_MAX_LEN)
		die(EX_INVALID, "%s: longer than %d characters", host,
		    HOST_NAME_MAX_LEN);
	if ((rc = registry_tenant_get(reg, slug, &t)) == REG_OK)
		die(EX_CONFLICT, t.t_status == TENANT_DELETED ?
		    "\"%s\" belonged to a deleted tenant; slugs are never "
		    "reissued (import with --as ANOTHER-SLUG)" :
		    "tenant \"%s\" already exists (import with --as "
		    "ANOTHER-SLUG)", slug);
	if (rc != REG_NOTFOUND)
		die(EX_FAIL, "%s", registry_errmsg(reg));
	if (faccessat(tfd, slug, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		die(EX_CONFLICT, "tenants/%s already exists but is no tenant; "
		    "move it away first", slug);
	if (!nohosts) {
		json_array_foreach(c.m.hosts, i, h) {
			hn = json_string_value(json_object_get(h, "hostname"));
			custom_host(hn, canon, sizeof(canon));
			if (strcmp(canon, hn) != 0)
				die(EX_INVALID, "%s: hostname \"%s\" is not "
				    "written canonically (\"%s\")", c.file,
				    vis(hn), canon);
		}
		memset(&tk, 0, sizeof(tk));
		tk.hosts = c.m.hosts;
		if (registry_hosts(reg, 0, 0, taken_cb, &tk) != REG_OK)
			die(EX_FAIL, "%s", registry_errmsg(reg));
		if (tk.host[0] != '\0')
			die(EX_CONFLICT, "custom hostname %s already belongs to "
			    "tenant \"%s\" on this host; remove it there, or "
			    "import with --no-hostnames", tk.host, tk.slug);
	}

	/* Extract into a root-only temporary directory. */
	randombytes_buf(rnd, sizeof(rnd));
	snprintf(tmp, sizeof(tmp), ".import-%s-%02x%02x%02x%02x%02x%02x", slug,
	    rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	if (mkdirat(tfd, tmp, 0700) == -1)
		die(EX_FAIL, "mkdir tenants/%s: %s", tmp, strerror(errno));
	i_tmp.tfd = tfd;
	snprintf(i_tmp.name, sizeof(i_tmp.name), "%s", tmp);
	atexit(i_atexit);
	if ((tmpfd = openat(tfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || fchown(tmpfd, 0, 0) == -1 ||
	    fchmod(tmpfd, 0700) == -1)
		why = strerror(errno);
	else
		why = i_extract(&c, fd, tmpfd);
	if (why != NULL)
		die(EX_FAIL, "%s: extracting: %s; nothing imported", c.file,
		    why);
	close(fd);
	if ((why = i_ledger(&c, tmpfd)) != NULL)
		die(EX_INVALID, "%s: %s; nothing imported", c.file, why);

	/* Register last: from here on a failure deletes the tenant again. */
	rc = registry_tenant_create(reg, slug, conf.c_uid_min, conf.c_uid_max,
	    actor, &t);
	if (rc != REG_OK) {
		if (rc == REG_EXISTS || rc == REG_TOMBSTONE ||
		    rc == REG_RESERVED)
			die(EX_CONFLICT, "\"%s\" was taken meanwhile; nothing "
			    "imported", slug);
		die(rc == REG_FULL ? EX_FULL : rc == REG_INVALID ? EX_INVALID :
		    EX_FAIL, "registering %s: %s; nothing imported", slug,
		    registry_errmsg(reg));
	}
	/* i_rollback() takes over the temporary directory from here. */
	i_tmp.name[0] = '\0';
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	if (strcmp(c.m.status, "suspended") == 0 &&
	    registry_tenant_set_status(reg, slug, TENANT_SUSPENDED, actor) !=
	    REG_OK)
		i_rollback(tfd, tmp, &t, registry_errmsg(reg));
	if ((why = i_chown(&c, tmpfd, &t)) != NULL ||
	    (why = i_manifest(tmpfd, &t, host)) != NULL)
		i_rollback(tfd, tmp, &t, why);
	/* The jail root: root's, readable by the tenant's group only. */
	if (fchown(tmpfd, 0, t.t_gid) == -1 || fchmod(tmpfd, 0750) == -1 ||
	    fsync(tmpfd) == -1 || renameat2(tfd, tmp, tfd, slug,
	    RENAME_NOREPLACE) == -1)
		i_rollback(tfd, tmp, &t, strerror(errno));
	close(tmpfd);
	fsync(tfd);

	out_hosts = json_array();
	if (!nohosts)
		json_array_foreach(c.m.hosts, i, h) {
			hn = json_string_value(json_object_get(h, "hostname"));
			active = strcmp(json_string_value(json_object_get(h,
			    "status")), "active") == 0;
			rc = registry_host_add(reg, slug, hn, active, actor);
			if (rc == REG_EXISTS) {
				/* Taken since the check above: a race. */
				warn_("custom hostname %s was added to another "
				    "tenant during the import; not added to "
				    "\"%s\"", hn, slug);
				continue;
			}
			if (rc != REG_OK)
				i_rollback(tfd, slug, &t,
				    registry_errmsg(reg));
			npending += !active;
			json_array_append_new(out_hosts, json_pack("{s:s, s:s}",
			    "hostname", hn, "status", active ? "active" :
			    "pending"));
		}
	snprintf(detail, sizeof(detail), "from %s (exported as %s, uid %u); "
	    "%zu entries, %zu custom hostnames", strcmp(c.file, "-") == 0 ?
	    "standard input" : c.file, c.m.slug, c.m.uid, c.tree.n,
	    json_array_size(out_hosts));
	registry_audit(reg, actor, "import", slug, detail);
	bump_gen(&t.t_id, 1);
	config_path(&conf, "tenants", path, sizeof(path));
	if (json_out) {
		json_t	*o = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:o}",
		    "slug", slug, "exported_as", c.m.slug, "uid",
		    (json_int_t)t.t_uid, "gid", (json_int_t)t.t_gid, "host",
		    host, "status", c.m.status, "hostnames", out_hosts);
		char	*s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);

		printf("%s\n", s);
		free(s);
		json_decref(o);
	} else {
		printf("imported tenant %s (exported as %s): uid %u, gid %u, "
		    "%s/%s, served at %s%s; %zu entries, %zu custom hostnames "
		    "(%d pending)\n", slug, c.m.slug, t.t_uid, t.t_gid, path,
		    slug, host, strcmp(c.m.status, "suspended") == 0 ?
		    " once resumed" : "", c.tree.n, json_array_size(out_hosts),
		    npending);
		json_decref(out_hosts);
	}
	close(tfd);
	json_decref(c.m.j);
	tree_free(&c.tree);
	return EX_OK_;
}
