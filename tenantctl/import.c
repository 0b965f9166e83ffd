/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * tenantctl import FILE: a tenant from an archive in the format
 * archive_pure.h describes, made by export on this host or another. The
 * archive is a tenant's bytes and import runs as root, so it checks the
 * whole archive before it creates anything (docs/security.md, item 7),
 * extracts it with libarchive's secure flags into a root-only temporary
 * directory, registers the tenant only then, re-maps ownership to the new
 * uid/gid and renames the directory into place.
 */
#include <sys/stat.h>
#include <sys/statvfs.h>

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

#include "archive_pure.h"
#include "config.h"
#include "host.h"
#include "keys.h"
#include "ledger.h"
#include "registry.h"
#include "slug.h"
#include "sys.h"
#include "tenantctl.h"

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
 * or a hard link, nothing else; then ent_check()'s on its mode, owners and
 * size.
 */
static const char *
i_entry(struct archive_entry *ae, const struct meta *m, struct ent *e)
{
	static char	 why[128];
	const char	*p, *hl, *sl;
	size_t		 len;

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
	return ent_check(e, archive_entry_perm(ae), archive_entry_size(ae),
	    archive_entry_uid(ae), archive_entry_gid(ae), m);
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
	struct lrows	 lr;		/* ledger.json, if has_ledger */
	int		 has_ledger;
	int		 has_mac;
	char		 mac[MAC_LINE_MAX];	/* the MAC entry's text */
	crypto_generichash_state dg;
	uint8_t		 digest[MAC_DIGEST_LEN];	/* of pass 1 */
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

/*
 * One of the archive's own entries (the metadata, ledger.json, the MAC)
 * into a buffer of up to max bytes, NUL-terminated; its length.
 */
static size_t
i_own(struct ictx *c, struct archive *ar, struct archive_entry *ae,
    const char *name, size_t max, char **out)
{
	char	*buf;
	size_t	 len = 0;
	ssize_t	 n;

	if (archive_entry_filetype(ae) != AE_IFREG ||
	    archive_entry_hardlink(ae) != NULL)
		i_refuse(c, NULL, "%s is not a regular file", name);
	if (archive_entry_size(ae) <= 0 || archive_entry_size(ae) >
	    (la_int64_t)max)
		i_refuse(c, NULL, "%s is empty or larger than %zu bytes", name,
		    max);
	if ((buf = malloc(max + 1)) == NULL)
		die(EX_FAIL, "out of memory");
	while ((n = archive_read_data(ar, buf + len, max + 1 - len)) > 0)
		if ((len += (size_t)n) > max)
			i_refuse(c, NULL, "%s is larger than %zu bytes", name,
			    max);
	if (n < 0)
		i_refuse(c, NULL, "%s", archive_error_string(ar));
	buf[len] = '\0';
	*out = buf;
	return len;
}

/* An entry's data, read (and decompressed) into the digest only. */
static int
i_digest_data(crypto_generichash_state *dg, struct archive *ar)
{
	const void	*buf;
	size_t		 len;
	la_int64_t	 off;
	int		 r;

	while ((r = archive_read_data_block(ar, &buf, &len, &off)) ==
	    ARCHIVE_OK)
		mac_digest_data(dg, buf, len);
	return r == ARCHIVE_EOF ? 0 : -1;
}

/* Pass 1: read everything, extract nothing. */
static void
i_check(struct ictx *c, int fd)
{
	struct archive		*ar;
	struct archive_entry	*ae;
	struct ent		 e;
	const char		*why, *p;
	char			*buf;
	size_t			 i, len;
	int			 r;

	ar = i_reader(fd, c->file);
	mac_digest_init(&c->dg);
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
	mac_digest_entry(&c->dg, ae);
	len = i_own(c, ar, ae, EXPORT_META, META_MAX, &buf);
	mac_digest_data(&c->dg, buf, len);
	if ((why = meta_parse(&c->m, buf, len)) != NULL)
		i_refuse(c, NULL, "malformed " EXPORT_META ": %s", why);
	free(buf);

	for (i = 1;; i++) {
		if (interrupted)
			die(EX_FAIL, "interrupted; nothing imported");
		if ((r = archive_read_next_header(ar, &ae)) == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK)
			i_refuse(c, NULL, "%s", archive_error_string(ar));
		p = archive_entry_pathname(ae) ? archive_entry_pathname(ae) : "";
		/* The ledger's rows, only as the second entry. */
		if (i == 1 && strcmp(p, LEDGER_JSON) == 0) {
			mac_digest_entry(&c->dg, ae);
			len = i_own(c, ar, ae, LEDGER_JSON, LEDGER_JSON_MAX,
			    &buf);
			mac_digest_data(&c->dg, buf, len);
			if ((why = lrows_parse(&c->lr, buf, len, time(NULL))) !=
			    NULL)
				i_refuse(c, NULL, LEDGER_JSON ": %s", why);
			free(buf);
			c->has_ledger = 1;
			continue;
		}
		/* The MAC, only as the last entry; not in what it covers. */
		if (strcmp(p, EXPORT_MAC) == 0) {
			len = i_own(c, ar, ae, EXPORT_MAC, MAC_LINE_MAX - 1,
			    &buf);
			memcpy(c->mac, buf, len + 1);
			free(buf);
			c->has_mac = 1;
			if ((r = archive_read_next_header(ar, &ae)) !=
			    ARCHIVE_EOF)
				i_refuse(c, NULL, r == ARCHIVE_OK ? "entries "
				    "after the MAC " EXPORT_MAC : "%s",
				    archive_error_string(ar));
			break;
		}
		if (c->tree.n >= ENTRIES_MAX)
			i_refuse(c, NULL, "more than %d entries", ENTRIES_MAX);
		if ((why = i_entry(ae, &c->m, &e)) != NULL ||
		    (why = tree_place(&c->tree, &e)) != NULL)
			i_refuse(c, e.path ? e.path : "?", "%s", why);
		/* Sizes as claimed: bounded by the space to put them in. */
		if (e.size > c->avail)
			die(EX_FAIL, "%s: entry \"%s\": %lld bytes, more than "
			    "the %lld bytes free in tenants/; nothing imported",
			    c->file, vis(e.path), (long long)e.size,
			    (long long)c->avail);
		c->tree.bytes += e.size;
		if (tree_add(&c->tree, &e) == -1) {
			if (errno != EEXIST)
				die(EX_FAIL, "out of memory");
			i_refuse(c, e.path, "a path that appears twice");
		}
		/* Reads (and decompresses) the data: truncation shows here. */
		mac_digest_entry(&c->dg, ae);
		if (i_digest_data(&c->dg, ar) == -1)
			i_refuse(c, NULL, "%s", archive_error_string(ar));
	}
	crypto_generichash_final(&c->dg, c->digest, sizeof(c->digest));
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

/*
 * Was the archive exported in this fleet? Its MAC must be the one the
 * master it names (current or in grace in this registry) gives for the
 * exported slug over what pass 1 read (archive_pure.h). NULL if so, else
 * why not.
 */
static const char *
i_verify(struct ictx *c)
{
	struct master_key	 mk;
	uint32_t		 ids[KEY_MAX_MASTERS], kid;
	int64_t			 na[KEY_MAX_MASTERS];
	char			 dir[PATH_MAX], err[512], want[MAC_LINE_MAX];
	char			*ep;
	const char		*p;
	unsigned long		 v;
	int			 n, k, ok;

	if (!c->has_mac)
		return "it has no MAC";
	/* MAC_DOMAIN, a space, the master's id, a space, the MAC. */
	p = c->mac + sizeof(MAC_DOMAIN);
	if (strncmp(c->mac, MAC_DOMAIN, sizeof(MAC_DOMAIN) - 1) != 0 ||
	    c->mac[sizeof(MAC_DOMAIN) - 1] != ' ' || *p < '1' || *p > '9')
		return "its MAC is malformed";
	errno = 0;
	v = strtoul(p, &ep, 10);
	if (errno != 0 || v > UINT32_MAX || *ep != ' ')
		return "its MAC is malformed";
	kid = (uint32_t)v;
	if ((n = registry_masters(reg, time(NULL), ids, na,
	    KEY_MAX_MASTERS)) < 0)
		die(EX_FAIL, "%s", registry_errmsg(reg));
	for (k = 0; k < n && ids[k] != kid; k++)
		;
	if (k == n)
		return "its MAC names a master key this host does not hold "
		    "(or no longer: past its grace)";
	if (config_path(&conf, "keys", dir, sizeof(dir)) == -1)
		die(EX_FAIL, "state_dir too long");
	if (keys_load(dir, &ids[k], &na[k], 1, &mk, err, sizeof(err)) == -1)
		die(EX_FAIL, "%s", err);
	mac_line(mk.mk_key, mk.mk_id, c->m.slug, c->digest, want);
	keys_wipe(&mk, 1);
	ok = strlen(want) == strlen(c->mac) &&
	    sodium_memcmp(want, c->mac, strlen(want)) == 0;
	sodium_memzero(want, sizeof(want));
	return ok ? NULL : "its MAC does not match its contents";
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
	crypto_generichash_state dg;
	uint8_t			 digest[MAC_DIGEST_LEN];
	const void		*buf;
	const char		*p;
	size_t			 i, len, own;
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
	/*
	 * The metadata and ledger.json were read in pass 1 and are taken
	 * from there; here they only count for the digest.
	 */
	own = 1 + (size_t)c->has_ledger;
	mac_digest_init(&dg);
	for (i = 0;; i++) {
		if (interrupted)
			return "interrupted";
		if ((r = archive_read_next_header(ar, &ae)) == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK)
			return archive_error_string(ar);
		p = archive_entry_pathname(ae) ? archive_entry_pathname(ae) : "";
		if (i < own) {
			if (strcmp(p, i == 0 ? EXPORT_META : LEDGER_JSON) != 0)
				return "the archive changed between checking "
				    "and extracting";
			mac_digest_entry(&dg, ae);
			if (i_digest_data(&dg, ar) == -1)
				return archive_error_string(ar);
			continue;
		}
		if (i == c->tree.n + own && c->has_mac &&
		    strcmp(p, EXPORT_MAC) == 0)
			break;
		/*
		 * Exactly what pass 1 checked, or stop: whoever can write
		 * FILE could change it in between (a customer's upload).
		 */
		mac_digest_entry(&dg, ae);
		memset(&e, 0, sizeof(e));
		x = i - own < c->tree.n ? &c->tree.e[i - own] : NULL;
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
			    &off)) == ARCHIVE_OK) {
				mac_digest_data(&dg, buf, len);
				if (archive_write_data_block(aw, buf, len, off)
				    != ARCHIVE_OK) {
					snprintf(why, sizeof(why), "%s: %s",
					    vis(x->path),
					    archive_error_string(aw));
					return why;
				}
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
	/* The data too: what was extracted is what pass 1 read. */
	crypto_generichash_final(&dg, digest, sizeof(digest));
	if (i != c->tree.n + own || sodium_memcmp(digest, c->digest,
	    sizeof(digest)) != 0)
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

struct lnext {
	const struct lrows	*lr;
	size_t			 i;
};

static int
i_ledger_next(void *arg, struct ledger_txn *t)
{
	struct lnext	*n = arg;

	if (n->i >= json_array_size(n->lr->txns))
		return 0;
	lrows_get(n->lr, n->i++, t);
	return 1;
}

/*
 * The credit ledger, rebuilt (archive_pure.h): a billing.db this tenantctl
 * creates with the ledger's own schema, filled with the rows of
 * ledger.json that lrows_parse() accepted, each checked again by the
 * schema, and the books checked once more before the tenant is
 * registered. An archive without one gets a new ledger with the initial
 * credits, as create gives.
 */
static const char *
i_ledger(struct ictx *c, int tmpfd)
{
	static char	 why[600];
	struct ledger	*l;
	struct lnext	 n;
	char		 err[512];

	if (!c->has_ledger)
		return ledger_provision(tmpfd, initial_credits(), why,
		    sizeof(why)) == -1 ? why : NULL;
	if ((l = ledger_open(tmpfd, 1, err, sizeof(err))) == NULL) {
		snprintf(why, sizeof(why), "the credit ledger: %s", err);
		return why;
	}
	n.lr = &c->lr;
	n.i = 0;
	if (ledger_restore(l, i_ledger_next, &n, c->lr.balance) == -1) {
		snprintf(why, sizeof(why), LEDGER_JSON ": %s",
		    ledger_errmsg(l));
		ledger_close(l);
		return why;
	}
	if (ledger_check(l, err, sizeof(err)) == -1) {
		ledger_close(l);
		snprintf(why, sizeof(why), "the credit ledger: %s", err);
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
	const char	*slug = NULL, *why, *hn, *unverified;
	size_t		 i;
	int		 fd, tfd, tmpfd, rc, nohosts = 0, foreign = 0;
	int		 suspended;

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
		else if (strcmp(argv[i], "--foreign") == 0)
			foreign = 1;
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
	/*
	 * Only an archive this fleet signed is taken at its word (its
	 * status); anything else needs the operator's --foreign, and then
	 * comes in suspended, to be looked at before it serves
	 * (docs/security.md).
	 */
	if ((unverified = i_verify(&c)) != NULL && !foreign)
		die(EX_INVALID, "%s: not an export of this fleet: %s; nothing "
		    "imported (an archive from elsewhere needs --foreign, and "
		    "is imported suspended)", c.file, unverified);
	suspended = foreign || strcmp(c.m.status, "suspended") == 0;
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
			/* Canonical already (meta_parse): here, the rules. */
			custom_host(hn, canon, sizeof(canon));
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
	if (suspended && registry_tenant_set_status(reg, slug, TENANT_SUSPENDED, actor) !=
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
			/*
			 * Pending, whatever the archive says: an active name
			 * gets certificates (docs/routing.md), and only this
			 * host's operator may say the name is the tenant's.
			 */
			rc = registry_host_add(reg, slug, hn, 0, actor);
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
			json_array_append_new(out_hosts, json_pack("{s:s, s:s}",
			    "hostname", hn, "status", "pending"));
		}
	snprintf(detail, sizeof(detail), "from %s (exported as %s, uid %u); "
	    "%zu entries, %zu custom hostnames%s%s", strcmp(c.file, "-") == 0 ?
	    "standard input" : c.file, c.m.slug, c.m.uid, c.tree.n,
	    json_array_size(out_hosts), unverified != NULL ? "; unverified: " :
	    "", unverified != NULL ? unverified : "");
	registry_audit(reg, actor, foreign ? "import-foreign" : "import", slug,
	    detail);
	bump_gen(&t.t_id, 1);
	config_path(&conf, "tenants", path, sizeof(path));
	if (json_out) {
		json_t	*o = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:b, "
		    "s:o}", "slug", slug, "exported_as", c.m.slug, "uid",
		    (json_int_t)t.t_uid, "gid", (json_int_t)t.t_gid, "host",
		    host, "status", suspended ? "suspended" : "active",
		    "verified", unverified == NULL, "hostnames", out_hosts);
		char	*s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);

		printf("%s\n", s);
		free(s);
		json_decref(o);
	} else {
		printf("imported tenant %s (exported as %s)%s: uid %u, gid %u, "
		    "%s/%s, served at %s%s; %zu entries, %zu custom hostnames "
		    "(all pending)\n", slug, c.m.slug, foreign ?
		    ", foreign, suspended" : "", t.t_uid, t.t_gid, path, slug,
		    host, suspended ? " once resumed" : "", c.tree.n,
		    json_array_size(out_hosts));
		json_array_foreach(out_hosts, i, h)
			printf("custom hostname %s is pending: check that it "
			    "is the tenant's, then \"tenantctl hostname "
			    "activate %s %s\"\n", json_string_value(
			    json_object_get(h, "hostname")), slug,
			    json_string_value(json_object_get(h, "hostname")));
		json_decref(out_hosts);
	}
	close(tfd);
	json_decref(c.m.j);
	json_decref(c.lr.j);
	tree_free(&c.tree);
	return EX_OK_;
}
