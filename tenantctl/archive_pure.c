/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The pure rules of a tenant archive (archive_pure.h): no descriptors, no
 * registry, no exit; an error is a string the caller prints.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "archive_pure.h"
#include "host.h"
#include "ledger.h"
#include "slug.h"

const char *const std_dirs[] = {
	"public", "data", "uploads", "logs", "tmp", "app", NULL
};

/* A name from an archive or a tenant, safe to print: bytes escaped. */
const char *
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

/* --- the entry list, with a hash from path to entry ---------------------- */

static uint64_t
path_hash(const char *p, size_t n)
{
	uint64_t	 h = 14695981039346656037ULL;

	while (n--)
		h = (h ^ (unsigned char)*p++) * 1099511628211ULL;
	return h;
}

ssize_t
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

/* A table twice the size, or -1 (ENOMEM) and the old one kept. */
static int
tree_rehash(struct tree *t)
{
	size_t	 i, j, cap = t->hcap ? t->hcap * 2 : 1024;
	size_t	*h;

	if ((h = calloc(cap, sizeof(*h))) == NULL)
		return -1;
	for (i = 0; i < t->n; i++) {
		j = path_hash(t->e[i].path, strlen(t->e[i].path)) & (cap - 1);
		while (h[j] != 0)
			j = (j + 1) & (cap - 1);
		h[j] = i + 1;
	}
	free(t->hash);
	t->hash = h;
	t->hcap = cap;
	return 0;
}

/*
 * Takes ownership of e's strings once it returns 0. -1 with EEXIST: the
 * path is there already; with ENOMEM: out of memory. Both tables grow
 * before e goes in, so a failure leaves the tree as it was.
 */
int
tree_add(struct tree *t, struct ent *e)
{
	size_t	 j;

	if (tree_find(t, e->path, strlen(e->path)) != -1) {
		errno = EEXIST;
		return -1;
	}
	if (t->n == t->cap) {
		size_t		 cap = t->cap ? t->cap * 2 : 256;
		struct ent	*ne = reallocarray(t->e, cap, sizeof(*ne));

		if (ne == NULL)
			return -1;
		t->e = ne;
		t->cap = cap;
	}
	/* Half full at most, counting e: probing always ends. */
	if ((t->n + 2) * 2 > t->hcap && tree_rehash(t) == -1)
		return -1;
	j = path_hash(e->path, strlen(e->path)) & (t->hcap - 1);
	while (t->hash[j] != 0)
		j = (j + 1) & (t->hcap - 1);
	t->e[t->n++] = *e;
	t->hash[j] = t->n;
	return 0;
}

void
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
size_t
parent_len(const char *p)
{
	const char	*s = strrchr(p, '/');

	return s == NULL ? 0 : (size_t)(s - p);
}

const char *
base_name(const char *p)
{
	const char	*s = strrchr(p, '/');

	return s == NULL ? p : s + 1;
}

int
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
const char *
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
const char *
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

/* The ledger's own files beside billing.db: never in an archive. */
int
is_ledger_journal(const char *name)
{
	return strcmp(name, LEDGER_FILE "-wal") == 0 ||
	    strcmp(name, LEDGER_FILE "-shm") == 0 ||
	    strcmp(name, LEDGER_FILE "-journal") == 0;
}

/*
 * The rules on an entry's mode, owners and size, once its path and type
 * are known (import.c reads them from the archive): no setuid or setgid
 * bit, owned by root or by the tenant's original uid/gid as the metadata
 * records them, and the credit ledger root's, 0600, never its journal.
 * Fills in e's perm, size and owners.
 */
const char *
ent_check(struct ent *e, mode_t perm, int64_t size, int64_t uid,
    int64_t gid, const struct meta *m)
{
	static char	 why[128];

	if (perm & 06000)
		return "a setuid or setgid bit";
	e->perm = perm & 01777;
	if (is_ledger_journal(e->path))
		return "a journal of the credit ledger (export never writes "
		    "one)";
	/* The ledger travels as rows (ledger.json), never as a file. */
	if (strcmp(e->path, LEDGER_FILE) == 0)
		return "the credit ledger as a file: an archive of the older "
		    "format, which import no longer reads (export the tenant "
		    "again with this version of tenantctl)";
	e->size = e->type == E_REG ? size : 0;
	if (e->size < 0)
		return "a negative size";
	if (uid == 0)
		e->uown = OWN_ROOT;
	else if (uid == m->uid)
		e->uown = OWN_TENANT;
	else {
		snprintf(why, sizeof(why), "owned by uid %lld, neither root nor "
		    "the tenant's uid %u", (long long)uid, m->uid);
		return why;
	}
	if (gid == 0)
		e->gown = OWN_ROOT;
	else if (gid == m->gid)
		e->gown = OWN_TENANT;
	else {
		snprintf(why, sizeof(why), "group %lld, neither root's nor the "
		    "tenant's gid %u", (long long)gid, m->gid);
		return why;
	}
	return NULL;
}

/* Where it sits in the tree: parents first, no way through a symlink. */
const char *
tree_place(const struct tree *t, const struct ent *e)
{
	static char	 why[PATH_MAX + 64];
	size_t		 pl = parent_len(e->path);
	ssize_t		 k;

	if (pl == 0) {
		if (strcmp(e->path, "tenant.json") == 0)
			return "the manifest, which import writes itself";
		if (strcmp(e->path, EXPORT_META) == 0)
			return "a second metadata entry";
		if (strcmp(e->path, LEDGER_JSON) == 0)
			return "the ledger's rows out of place (only the "
			    "second entry)";
		if (strcmp(e->path, EXPORT_MAC) == 0)
			return "the MAC out of place (only the last entry)";
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

/* --- the metadata -------------------------------------------------------- */

const char *
meta_parse(struct meta *m, const char *buf, size_t len)
{
	json_error_t	 je;
	json_t		*v, *h, *hn, *hs;
	char		 canon[HOST_NAME_MAX_LEN + 1];
	size_t		 i, k, hl, cl;
	unsigned int	 port;
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
		if ((hl = strlen(json_string_value(hn))) > HOST_NAME_MAX_LEN)
			return "a hostname longer than 253 characters";
		/*
		 * Export writes the registry's names, which are canonical:
		 * anything else was written by someone else, and is refused
		 * here, before any message could print its bytes.
		 */
		if (host_canonical(json_string_value(hn), hl, canon, &cl,
		    &port) == -1 || port != 0 || cl != hl ||
		    memcmp(canon, json_string_value(hn), hl) != 0)
			return "a hostname that is not one written canonically "
			    "(lowercase letters, digits, '-' and '.', no port, "
			    "no IP address)";
		for (k = 0; k < i; k++)
			if (strcmp(json_string_value(json_object_get(
			    json_array_get(m->hosts, k), "hostname")),
			    json_string_value(hn)) == 0)
				return "a hostname listed twice";
	}
	return NULL;
}

/* --- the ledger's rows --------------------------------------------------- */

static const char *const lrow_keys[] = {
	"id", "at", "kind", "amount", "ref", "note", NULL
};

static int
lrow_printable(const char *s, size_t len, int refchars)
{
	size_t	 i;

	if (strlen(s) != len)		/* a \u0000 inside */
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char	 c = (unsigned char)s[i];

		if (refchars ? !((c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '-' || c == '_') : c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

/* One row into t, or why not; nothing about the other rows. */
static const char *
lrow_check(json_t *o, int64_t now, struct ledger_txn *t)
{
	json_t		*v;
	const char	*k;
	size_t		 i, len;

	memset(t, 0, sizeof(*t));
	if (!json_is_object(o))
		return "not an object";
	json_object_foreach(o, k, v) {
		for (i = 0; lrow_keys[i] != NULL; i++)
			if (strcmp(k, lrow_keys[i]) == 0)
				break;
		if (lrow_keys[i] == NULL)
			return "a field that is not id, at, kind, amount, ref "
			    "or note";
	}
	v = json_object_get(o, "id");
	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return "\"id\" is not an integer above 0";
	t->lt_id = json_integer_value(v);
	v = json_object_get(o, "at");
	/* Another host's clock may run a little ahead: a day. */
	if (!json_is_integer(v) || json_integer_value(v) <= 0 ||
	    json_integer_value(v) > now + 86400)
		return "\"at\" is not a time between 1970 and now";
	t->lt_at = json_integer_value(v);
	v = json_object_get(o, "kind");
	if (!json_is_string(v) || (strcmp(json_string_value(v), "grant") &&
	    strcmp(json_string_value(v), "usage") &&
	    strcmp(json_string_value(v), "adjust")))
		return "\"kind\" is not \"grant\", \"usage\" or \"adjust\"";
	snprintf(t->lt_kind, sizeof(t->lt_kind), "%s", json_string_value(v));
	v = json_object_get(o, "amount");
	if (!json_is_integer(v) || json_integer_value(v) == 0 ||
	    json_integer_value(v) > LEDGER_AMOUNT_MAX ||
	    json_integer_value(v) < -LEDGER_AMOUNT_MAX)
		return "\"amount\" is not a non-zero integer within +-10^15";
	t->lt_amount = json_integer_value(v);
	/* The schema's rule: a grant adds, usage removes, adjust either. */
	if (strcmp(t->lt_kind, "grant") == 0 ? t->lt_amount < 0 :
	    strcmp(t->lt_kind, "usage") == 0 && t->lt_amount > 0)
		return "\"amount\" has the wrong sign for its kind";
	v = json_object_get(o, "ref");
	if (json_is_string(v)) {
		len = json_string_length(v);
		if (len == 0 || len >= sizeof(t->lt_ref) ||
		    !lrow_printable(json_string_value(v), len, 1))
			return "\"ref\" is not 1 to 63 letters, digits, '.', "
			    "'-' or '_'";
		memcpy(t->lt_ref, json_string_value(v), len);
	} else if (v != NULL && !json_is_null(v))
		return "\"ref\" is not a string or null";
	v = json_object_get(o, "note");
	if (json_is_string(v)) {
		len = json_string_length(v);
		if (len > LEDGER_NOTE_MAX ||
		    !lrow_printable(json_string_value(v), len, 0))
			return "\"note\" is longer than 200 bytes or has "
			    "control characters";
		memcpy(t->lt_note, json_string_value(v), len);
	} else if (v != NULL && !json_is_null(v))
		return "\"note\" is not a string or null";
	return NULL;
}

struct lref {
	const char	*ref;
	size_t		 row;
};

static int
lref_cmp(const void *a, const void *b)
{
	const struct lref	*x = a, *y = b;
	int			 c = strcmp(x->ref, y->ref);

	if (c != 0)
		return c;
	return x->row < y->row ? -1 : x->row > y->row;
}

const char *
lrows_parse(struct lrows *r, const char *buf, size_t len, int64_t now)
{
	static char		 why[256];
	struct ledger_txn	 t;
	struct lref		*refs;
	json_error_t		 je;
	json_t			*v, *o;
	const char		*w;
	int64_t			 sum = 0, last = 0;
	size_t			 i, nrefs = 0;

	memset(r, 0, sizeof(*r));
	if ((r->j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je)) ==
	    NULL) {
		snprintf(why, sizeof(why), "not valid JSON (line %d: %s)",
		    je.line, je.text);
		return why;
	}
	if (!json_is_object(r->j))
		return "not a JSON object";
	v = json_object_get(r->j, "format");
	if (!json_is_string(v) || strcmp(json_string_value(v), LEDGER_FORMAT))
		return "\"format\" is not \"" LEDGER_FORMAT "\"";
	v = json_object_get(r->j, "version");
	if (!json_is_integer(v) || json_integer_value(v) != 1)
		return "\"version\" is not 1";
	v = json_object_get(r->j, "balance");
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return "\"balance\" is not an integer of at least 0";
	r->balance = json_integer_value(v);
	r->txns = json_object_get(r->j, "txns");
	if (!json_is_array(r->txns))
		return "\"txns\" is not an array";
	if ((refs = calloc(json_array_size(r->txns) + 1, sizeof(*refs))) ==
	    NULL)
		return "out of memory";
	json_array_foreach(r->txns, i, o) {
		if ((w = lrow_check(o, now, &t)) != NULL)
			goto bad;
		if (t.lt_id <= last) {
			w = "\"id\" is not above the row before's";
			goto bad;
		}
		last = t.lt_id;
		/* |amount| <= 10^15, but rows are many: no overflow. */
		if (__builtin_add_overflow(sum, t.lt_amount, &sum)) {
			w = "the balance overflows";
			goto bad;
		}
		if (sum < 0) {
			w = "the balance goes below zero";
			goto bad;
		}
		v = json_object_get(o, "ref");
		if (json_is_string(v)) {
			refs[nrefs].ref = json_string_value(v);
			refs[nrefs++].row = i;
		}
	}
	qsort(refs, nrefs, sizeof(*refs), lref_cmp);
	for (i = 1; i < nrefs; i++)
		if (strcmp(refs[i - 1].ref, refs[i].ref) == 0) {
			snprintf(why, sizeof(why), "row %zu: \"ref\" %s is "
			    "already the reference of row %zu",
			    refs[i].row + 1, refs[i].ref, refs[i - 1].row + 1);
			free(refs);
			return why;
		}
	free(refs);
	if (sum != r->balance) {
		snprintf(why, sizeof(why), "\"balance\" is %lld, but the rows "
		    "add up to %lld", (long long)r->balance, (long long)sum);
		return why;
	}
	return NULL;
 bad:
	free(refs);
	snprintf(why, sizeof(why), "row %zu: %s", i + 1, w);
	return why;
}

void
lrows_get(const struct lrows *r, size_t i, struct ledger_txn *t)
{
	/* Accepted by lrows_parse(): the same checks cannot fail now. */
	if (lrow_check(json_array_get(r->txns, i), INT64_MAX - 86400, t) !=
	    NULL)
		memset(t, 0, sizeof(*t));
}
