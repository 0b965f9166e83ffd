/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Fuzz target for the rules tenantctl import applies as root to a
 * tenant's archive (tenantctl/archive_pure.c, docs/security.md, item 7).
 * The whole input is the metadata for meta_parse(); it is also a tree, one
 * entry a line:
 *
 *	path TAB type TAB target	type d, f, l (symlink) or h (hard link)
 *
 * (a line without a tab is a regular file). Entries go through the same
 * checks as import's (path_check, tree_place, tree_add) and every symlink
 * of the tree through link_escapes(), whose answer is compared with a
 * resolver written independently here, on arrays of components: a link it
 * lets through must not leave the tree. The whole input is also the
 * ledger's rows for lrows_parse(): what it accepts must be books the
 * ledger's schema would take, adding up to their balance.
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_pure.h"
#include "host.h"
#include "ledger.h"
#include "slug.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define REQUIRE(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "archive_fuzz: %s:%d: %s\n", __FILE__,	\
		    __LINE__, #c);					\
		abort();						\
	}								\
} while (0)

#define LINES_MAX	512
#define COMPS_MAX	(2 * PATH_MAX)

enum res { RES_INSIDE, RES_ESCAPE, RES_GIVEUP };

struct res_state {
	const struct tree	*t;
	const char		*comp[COMPS_MAX];
	size_t			 clen[COMPS_MAX];
	size_t			 depth;
	int			 hops;
};

/* The resolved path so far, joined, into buf; its length or -1. */
static int
res_join(const struct res_state *r, char *buf, size_t bufsz)
{
	size_t	 i, n = 0;

	for (i = 0; i < r->depth; i++) {
		if (n + r->clen[i] + 2 > bufsz)
			return -1;
		if (i > 0)
			buf[n++] = '/';
		memcpy(buf + n, r->comp[i], r->clen[i]);
		n += r->clen[i];
	}
	buf[n] = '\0';
	return (int)n;
}

/*
 * Walks target's components from the current directory, recursing into
 * each symlink of the tree met on the way, as the kernel would.
 */
static enum res
res_walk(struct res_state *r, const char *target)
{
	char		 cur[PATH_MAX + 256];
	const char	*c = target, *s;
	size_t		 n;
	ssize_t		 k;
	int		 len;
	enum res	 sub;

	if (*target == '/')
		return RES_ESCAPE;
	while (*c != '\0') {
		s = strchr(c, '/');
		n = s ? (size_t)(s - c) : strlen(c);
		if (n == 0 || (n == 1 && c[0] == '.'))
			;
		else if (n == 2 && c[0] == '.' && c[1] == '.') {
			if (r->depth == 0)
				return RES_ESCAPE;
			r->depth--;
		} else {
			if (r->depth == COMPS_MAX)
				return RES_GIVEUP;
			r->comp[r->depth] = c;
			r->clen[r->depth++] = n;
			if ((len = res_join(r, cur, sizeof(cur))) == -1)
				return RES_GIVEUP;
			k = tree_find(r->t, cur, (size_t)len);
			if (k != -1 && r->t->e[k].type == E_LNK &&
			    r->t->e[k].skip == NULL) {
				if (++r->hops > 40)
					return RES_GIVEUP;
				r->depth--;
				if ((sub = res_walk(r, r->t->e[k].target)) !=
				    RES_INSIDE)
					return sub;
			}
		}
		if (s == NULL)
			break;
		c = s + 1;
	}
	return RES_INSIDE;
}

static void
check_link(const struct tree *t, const struct ent *l)
{
	struct res_state	 r;
	const char		*why, *p, *s;
	enum res		 got;

	memset(&r, 0, sizeof(r));
	r.t = t;
	/* Start in the link's directory. */
	for (p = l->path; (s = strchr(p, '/')) != NULL; p = s + 1) {
		r.comp[r.depth] = p;
		r.clen[r.depth++] = (size_t)(s - p);
	}
	got = res_walk(&r, l->target);
	why = link_escapes(t, l);
	if (got == RES_ESCAPE)
		REQUIRE(why != NULL);
	if (got == RES_GIVEUP)
		REQUIRE(why != NULL);
}

static void
check_path(const char *p)
{
	const char	*why = path_check(p), *v = vis(p);
	size_t		 i;

	for (i = 0; v[i] != '\0'; i++)
		REQUIRE((unsigned char)v[i] >= 0x20 &&
		    (unsigned char)v[i] < 0x7f);
	REQUIRE(i < 512);
	if (why != NULL)
		return;
	REQUIRE(p[0] != '\0' && p[0] != '/' && strlen(p) < PATH_MAX);
	REQUIRE(strstr(p, "//") == NULL);
	REQUIRE(p[strlen(p) - 1] != '/');
	REQUIRE(strcmp(p, "..") != 0 && strncmp(p, "../", 3) != 0);
	REQUIRE(strstr(p, "/../") == NULL);
	REQUIRE(strlen(p) < 3 || strcmp(p + strlen(p) - 3, "/..") != 0);
}

static void
check_meta(const char *buf, size_t len)
{
	struct meta	 m;
	json_t		*h;
	const char	*hn;
	char		 canon[HOST_NAME_MAX_LEN + 1];
	size_t		 i, cl;
	unsigned int	 port;

	if (meta_parse(&m, buf, len) == NULL) {
		REQUIRE(slug_check_syntax(m.slug, strlen(m.slug)) == SLUG_OK);
		REQUIRE(strcmp(m.status, "active") == 0 ||
		    strcmp(m.status, "suspended") == 0);
		REQUIRE(m.uid > 0 && m.gid > 0);
		REQUIRE(m.uid != UINT32_MAX && m.gid != UINT32_MAX);
		REQUIRE(json_array_size(m.hosts) <= HOSTS_MAX);
		json_array_foreach(m.hosts, i, h) {
			hn = json_string_value(json_object_get(h, "hostname"));
			REQUIRE(hn != NULL);
			REQUIRE(host_canonical(hn, strlen(hn), canon, &cl,
			    &port) == 0 && strcmp(canon, hn) == 0);
		}
	}
	json_decref(m.j);
}

/* Written again here, by the schema's rules (common/ledger.c). */
static void
check_lrows(const char *buf, size_t len)
{
	struct lrows		 r;
	struct ledger_txn	 t, u;
	int64_t			 sum = 0, last = 0;
	size_t			 i, k, n;
	const char		*p;

	if (lrows_parse(&r, buf, len, 1800000000) != NULL) {
		json_decref(r.j);
		return;
	}
	n = json_array_size(r.txns);
	for (i = 0; i < n; i++) {
		lrows_get(&r, i, &t);
		REQUIRE(t.lt_id > last);
		last = t.lt_id;
		REQUIRE(t.lt_at > 0 && t.lt_at <= 1800000000 + 86400);
		REQUIRE(t.lt_amount != 0 && t.lt_amount <= LEDGER_AMOUNT_MAX &&
		    t.lt_amount >= -LEDGER_AMOUNT_MAX);
		if (strcmp(t.lt_kind, "grant") == 0)
			REQUIRE(t.lt_amount > 0);
		else if (strcmp(t.lt_kind, "usage") == 0)
			REQUIRE(t.lt_amount < 0);
		else
			REQUIRE(strcmp(t.lt_kind, "adjust") == 0);
		REQUIRE(!__builtin_add_overflow(sum, t.lt_amount, &sum));
		REQUIRE(sum >= 0);
		for (p = t.lt_note; *p != '\0'; p++)
			REQUIRE((unsigned char)*p >= 0x20 && *p != 0x7f);
		for (p = t.lt_ref; *p != '\0'; p++)
			REQUIRE(strchr("abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_", *p) !=
			    NULL);
		if (t.lt_ref[0] == '\0' || n > 256)
			continue;
		for (k = 0; k < i; k++) {
			lrows_get(&r, k, &u);
			REQUIRE(strcmp(t.lt_ref, u.lt_ref) != 0);
		}
	}
	REQUIRE(sum == r.balance);
	json_decref(r.j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tree	 t;
	struct ent	 e;
	char		*buf, *line, *next, *f2, *f3;
	size_t		 i, nlines = 0;
	ssize_t		 k;

	check_meta((const char *)data, size);
	check_lrows((const char *)data, size);

	if ((buf = malloc(size + 1)) == NULL)
		abort();
	memcpy(buf, data, size);
	buf[size] = '\0';
	memset(&t, 0, sizeof(t));
	for (line = buf; line != NULL && nlines++ < LINES_MAX; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		memset(&e, 0, sizeof(e));
		e.type = E_REG;
		e.uown = e.gown = OWN_TENANT;
		if ((f2 = strchr(line, '\t')) != NULL) {
			*f2++ = '\0';
			if ((f3 = strchr(f2, '\t')) != NULL)
				*f3++ = '\0';
			e.type = f2[0] == 'd' ? E_DIR : f2[0] == 'l' ? E_LNK :
			    f2[0] == 'h' ? E_HARD : E_REG;
			if (f2[0] == 'r')	/* a regular file of root's */
				e.uown = OWN_ROOT;
			if (e.type == E_LNK || e.type == E_HARD) {
				if (f3 == NULL || *f3 == '\0' ||
				    strlen(f3) >= PATH_MAX)
					continue;
				e.target = f3;
			}
		}
		check_path(line);
		if (path_check(line) != NULL)
			continue;
		if (e.type == E_HARD && path_check(e.target) != NULL)
			continue;
		e.path = line;
		if (tree_place(&t, &e) != NULL)
			continue;
		/* What tree_place() let through sits where import puts it. */
		if (parent_len(line) > 0) {
			k = tree_find(&t, line, parent_len(line));
			REQUIRE(k != -1 && t.e[k].type == E_DIR);
		}
		if (e.type == E_HARD) {
			k = tree_find(&t, e.target, strlen(e.target));
			REQUIRE(k != -1 && t.e[k].type == E_REG &&
			    t.e[k].uown == OWN_TENANT);
		}
		if ((e.path = strdup(line)) == NULL || (e.target != NULL &&
		    (e.target = strdup(e.target)) == NULL))
			abort();
		REQUIRE(tree_add(&t, &e) == 0);
		REQUIRE(tree_find(&t, line, strlen(line)) ==
		    (ssize_t)t.n - 1);
	}
	for (i = 0; i < t.n; i++)
		if (t.e[i].type == E_LNK)
			check_link(&t, &t.e[i]);
	tree_free(&t);
	free(buf);
	return 0;
}
