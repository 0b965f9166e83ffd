/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The pure rules of a tenant archive (tenantctl/archive_pure.c), which
 * import applies as root to a tenant's bytes (docs/security.md, item 7): the
 * paths an entry may have, where it may sit in the tree, the symlinks that
 * stay inside it and the metadata.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "archive_pure.h"
#include "ledger.h"

/* A path of n bytes: components of 200 'a's, the last one shorter. */
static char *
long_path(size_t n)
{
	char	*p;
	size_t	 i;

	if ((p = malloc(n + 1)) == NULL)
		abort();
	for (i = 0; i < n; i++)
		p[i] = i % 201 == 200 ? '/' : 'a';
	if (p[n - 1] == '/')
		p[n - 1] = 'a';
	p[n] = '\0';
	return p;
}

static void
test_path_check(void **state)
{
	static const struct {
		const char	*p;
		const char	*why;	/* a word of the reason; NULL: fine */
	} cases[] = {
		{ "public", NULL },
		{ "public/index.html", NULL },
		{ "data/a b/c", NULL },
		{ ".hidden/..x/x..", NULL },
		{ "...", NULL },
		{ "billing.db", NULL },		/* tree_place, i_entry decide */
		/* Names are bytes: control and non-UTF-8 bytes are names. */
		{ "public/\n\x1b[31m", NULL },
		{ "public/\xff\xfe", NULL },
		{ "public/\xc3\xa9", NULL },
		{ "", "empty path" },
		{ "/etc/passwd", "absolute" },
		{ "/", "absolute" },
		{ "..", "\"..\"" },
		{ "../x", "\"..\"" },
		{ "public/../../etc", "\"..\"" },
		{ "public/..", "\"..\"" },
		{ ".", "\".\"" },
		{ "./public", "\".\"" },
		{ "public/./x", "\".\"" },
		{ "public//x", "empty path component" },
		{ "public/", "empty path component" },
		{ "public/x/", "empty path component" },
	};
	const char	*why;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why = path_check(cases[i].p);
		if ((why == NULL) != (cases[i].why == NULL) || (why != NULL &&
		    strstr(why, cases[i].why) == NULL)) {
			print_error("\"%s\": \"%s\", want \"%s\"\n",
			    vis(cases[i].p), why ? why : "(ok)",
			    cases[i].why ? cases[i].why : "(ok)");
			fail();
		}
	}
}

static void
test_path_check_bounds(void **state)
{
	char	 name[NAME_MAX_ + 2], deep[DEPTH_MAX * 2 + 2], *p;
	size_t	 i;

	(void)state;
	/* One component: 255 bytes are fine, 256 are not. */
	memset(name, 'n', NAME_MAX_);
	name[NAME_MAX_] = '\0';
	assert_null(path_check(name));
	name[NAME_MAX_] = 'n';
	name[NAME_MAX_ + 1] = '\0';
	assert_non_null(strstr(path_check(name), "longer than 255"));
	/* 256 levels are fine, 257 are not. */
	for (i = 0; i < DEPTH_MAX; i++) {
		deep[2 * i] = 'd';
		deep[2 * i + 1] = '/';
	}
	deep[2 * DEPTH_MAX - 1] = '\0';
	assert_null(path_check(deep));
	deep[2 * DEPTH_MAX - 1] = '/';
	deep[2 * DEPTH_MAX] = 'd';
	deep[2 * DEPTH_MAX + 1] = '\0';
	assert_non_null(strstr(path_check(deep), "256 levels"));
	/* PATH_MAX - 1 bytes are fine, PATH_MAX are not. */
	p = long_path(PATH_MAX - 1);
	assert_null(path_check(p));
	free(p);
	p = long_path(PATH_MAX);
	assert_non_null(strstr(path_check(p), "PATH_MAX"));
	free(p);
}

static void
test_vis(void **state)
{
	char	 big[2000];

	(void)state;
	assert_string_equal(vis("public/a b"), "public/a b");
	assert_string_equal(vis("a\n\x1b[31m\"\\\xff"),
	    "a\\x0a\\x1b[31m\\x22\\x5c\\xff");
	/* Bounded, and the four latest results stay valid together. */
	memset(big, '\x01', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_true(strlen(vis(big)) < 512);
	assert_string_equal(vis(big) + strlen(vis(big)) - 3, "...");
}

/* --- trees --------------------------------------------------------------- */

static void
add(struct tree *t, const char *path, enum etype type, const char *target)
{
	struct ent	 e;

	memset(&e, 0, sizeof(e));
	e.path = strdup(path);
	e.target = target ? strdup(target) : NULL;
	e.type = type;
	e.uown = e.gown = OWN_TENANT;
	assert_non_null(e.path);
	assert_int_equal(tree_add(t, &e), 0);
}

static const struct ent *
get(const struct tree *t, const char *path)
{
	ssize_t	 k = tree_find(t, path, strlen(path));

	assert_true(k >= 0);
	return &t->e[k];
}

static void
test_tree(void **state)
{
	struct tree	 t;
	struct ent	 e;
	char		 p[32];
	int		 i;

	(void)state;
	memset(&t, 0, sizeof(t));
	assert_int_equal(tree_find(&t, "a", 1), -1);
	/* Enough entries for the table to grow several times. */
	for (i = 0; i < 5000; i++) {
		snprintf(p, sizeof(p), "d/%d", i);
		add(&t, p, E_REG, NULL);
	}
	for (i = 0; i < 5000; i++) {
		snprintf(p, sizeof(p), "d/%d", i);
		assert_int_equal(tree_find(&t, p, strlen(p)), i);
	}
	/* A prefix of a path is not that path. */
	assert_int_equal(tree_find(&t, "d/1", 2), -1);
	assert_int_equal(tree_find(&t, "d/12345", 7), -1);
	memset(&e, 0, sizeof(e));
	e.path = (char *)"d/42";
	assert_int_equal(tree_add(&t, &e), -1);
	assert_int_equal(t.n, 5000);
	tree_free(&t);
	assert_int_equal(t.n, 0);

	assert_int_equal(parent_len("a/b/c"), 3);
	assert_int_equal(parent_len("a"), 0);
	assert_string_equal(base_name("a/b/c"), "c");
	assert_string_equal(base_name("a"), "a");
	for (i = 0; std_dirs[i] != NULL; i++)
		assert_true(is_std_dir(std_dirs[i]));
	assert_int_equal(i, 6);
	assert_false(is_std_dir("publi"));
	assert_false(is_std_dir("public/x"));
	assert_false(is_std_dir("billing.db"));
	assert_true(is_ledger_journal("billing.db-wal"));
	assert_true(is_ledger_journal("billing.db-shm"));
	assert_true(is_ledger_journal("billing.db-journal"));
	assert_false(is_ledger_journal("billing.db"));
	assert_false(is_ledger_journal("data/billing.db-wal"));
}

/* The reason link_escapes() gives for the symlink at path, or NULL. */
static const char *
escapes(const struct tree *t, const char *path)
{
	return link_escapes(t, get(t, path));
}

static void
test_link_escapes(void **state)
{
	struct tree	 t;
	char		 tgt[PATH_MAX + 8];
	int		 i;

	(void)state;
	memset(&t, 0, sizeof(t));
	add(&t, "public", E_DIR, NULL);
	add(&t, "public/a", E_DIR, NULL);
	add(&t, "public/a/f", E_REG, NULL);
	/* Inside, dangling inside, or back up to the top: fine. */
	add(&t, "public/in", E_LNK, "a/f");
	add(&t, "public/a/up", E_LNK, "../../data/x");
	add(&t, "public/dangle", E_LNK, "nowhere/at/all");
	add(&t, "public/dots", E_LNK, "./a/./../a//f");
	add(&t, "top", E_LNK, "public");
	add(&t, "chain1", E_LNK, "public/a");
	add(&t, "chain2", E_LNK, "chain1/f");
	assert_null(escapes(&t, "public/in"));
	assert_null(escapes(&t, "public/a/up"));
	assert_null(escapes(&t, "public/dangle"));
	assert_null(escapes(&t, "public/dots"));
	assert_null(escapes(&t, "top"));
	assert_null(escapes(&t, "chain2"));

	/* Out directly, or absolute. */
	add(&t, "public/out", E_LNK, "../../etc/passwd");
	add(&t, "up", E_LNK, "..");
	add(&t, "public/abs", E_LNK, "/etc/passwd");
	add(&t, "public/in-out", E_LNK, "a/../../../x");
	assert_non_null(strstr(escapes(&t, "public/out"), "leaving"));
	assert_non_null(strstr(escapes(&t, "up"), "leaving"));
	assert_non_null(strstr(escapes(&t, "public/abs"), "absolute"));
	assert_non_null(strstr(escapes(&t, "public/in-out"), "leaving"));

	/*
	 * A chain of links each harmless alone: s1 -> "a" is inside, but
	 * s2 -> "s1/../.." climbs from where s1 leads, not from s1 itself.
	 */
	add(&t, "public/s1", E_LNK, "a");
	add(&t, "public/s2", E_LNK, "s1/../..");
	add(&t, "public/s3", E_LNK, "s1/../../..");
	add(&t, "public/a/deep", E_LNK, "../s3");
	add(&t, "via-abs", E_LNK, "public/abs/x");
	assert_null(escapes(&t, "public/s1"));
	assert_null(escapes(&t, "public/s2"));
	assert_non_null(strstr(escapes(&t, "public/s3"), "leaving"));
	assert_non_null(strstr(escapes(&t, "public/a/deep"), "leaving"));
	assert_non_null(strstr(escapes(&t, "via-abs"), "absolute"));

	/* Loops: two links, one link into itself, one growing. */
	add(&t, "loop1", E_LNK, "loop2");
	add(&t, "loop2", E_LNK, "loop1");
	add(&t, "self", E_LNK, "self/x");
	add(&t, "grow", E_LNK, "grow/grow/grow");
	assert_non_null(strstr(escapes(&t, "loop1"), "loop"));
	assert_non_null(strstr(escapes(&t, "self"), "loop"));
	assert_non_null(strstr(escapes(&t, "grow"), "loop"));

	/* 40 links in a chain are followed, 41 are not. */
	for (i = 0; i <= 41; i++) {
		char	 p[16], q[16];

		snprintf(p, sizeof(p), "c%d", i);
		snprintf(q, sizeof(q), "c%d", i + 1);
		add(&t, p, E_LNK, i == 41 ? "public" : q);
	}
	assert_null(escapes(&t, "c1"));
	assert_non_null(strstr(escapes(&t, "c0"), "more than 40"));

	/* A link export left out is no link: its name is a plain name. */
	add(&t, "skipped", E_LNK, "..");
	add(&t, "through-skipped", E_LNK, "skipped/x");
	assert_non_null(escapes(&t, "through-skipped"));
	t.e[tree_find(&t, "skipped", 7)].skip = "a symlink leaving";
	assert_null(escapes(&t, "through-skipped"));

	/* Targets too long to resolve are refused, never truncated. */
	for (i = 0; i < PATH_MAX + 4; i++)
		tgt[i] = i % 2 ? '/' : 'x';
	tgt[PATH_MAX + 4] = '\0';
	add(&t, "long", E_LNK, tgt);
	assert_non_null(strstr(escapes(&t, "long"), "too long"));
	tree_free(&t);
}

/* --- where an entry may sit ---------------------------------------------- */

static const char *
place(struct tree *t, const char *path, enum etype type, const char *target)
{
	struct ent	 e;

	memset(&e, 0, sizeof(e));
	e.path = (char *)path;
	e.target = (char *)target;
	e.type = type;
	return tree_place(t, &e);
}

static void
test_tree_place(void **state)
{
	struct tree	 t;
	struct ent	 e;

	(void)state;
	memset(&t, 0, sizeof(t));
	add(&t, "public", E_DIR, NULL);
	add(&t, "public/f", E_REG, NULL);
	add(&t, "public/l", E_LNK, "/etc");
	add(&t, "public/h", E_HARD, "public/f");
	memset(&e, 0, sizeof(e));
	e.path = strdup("rootfile");
	e.type = E_REG;
	e.uown = OWN_ROOT;
	assert_int_equal(tree_add(&t, &e), 0);

	assert_null(place(&t, "data", E_DIR, NULL));
	assert_null(place(&t, "other", E_REG, NULL));
	assert_null(place(&t, "billing.db", E_REG, NULL));
	assert_null(place(&t, "public/g", E_REG, NULL));
	assert_null(place(&t, "public/d", E_DIR, NULL));
	assert_null(place(&t, "public/h2", E_HARD, "public/f"));
	assert_null(place(&t, "h3", E_HARD, "public/f"));

	/* The top level: import's own names, the standard directories. */
	assert_non_null(strstr(place(&t, "tenant.json", E_REG, NULL),
	    "manifest"));
	assert_non_null(strstr(place(&t, EXPORT_META, E_REG, NULL),
	    "second metadata"));
	assert_non_null(strstr(place(&t, "data", E_REG, NULL),
	    "standard directories"));
	assert_non_null(strstr(place(&t, "tmp", E_LNK, "public"),
	    "standard directories"));
	assert_non_null(strstr(place(&t, "app", E_HARD, "public/f"),
	    "standard directories"));
	/* Deeper down the same names are the tenant's. */
	assert_null(place(&t, "public/tenant.json", E_REG, NULL));
	assert_null(place(&t, "public/data", E_REG, NULL));

	/* Parents: directories earlier in the archive, never symlinks. */
	assert_non_null(strstr(place(&t, "public/l/passwd", E_REG, NULL),
	    "through the symlink public/l"));
	assert_non_null(strstr(place(&t, "public/f/x", E_REG, NULL),
	    "parent is not a directory"));
	assert_non_null(strstr(place(&t, "nodir/x", E_DIR, NULL),
	    "parent is not a directory"));
	assert_non_null(strstr(place(&t, "public/h/x", E_REG, NULL),
	    "parent is not a directory"));

	/* Hard links: to a tenant's regular file earlier in the archive. */
	assert_non_null(strstr(place(&t, "public/h4", E_HARD, "public/l"),
	    "not a regular file"));
	assert_non_null(strstr(place(&t, "public/h4", E_HARD, "public/h"),
	    "not a regular file"));
	assert_non_null(strstr(place(&t, "public/h4", E_HARD, "public"),
	    "not a regular file"));
	assert_non_null(strstr(place(&t, "public/h4", E_HARD, "later"),
	    "not a regular file"));
	assert_non_null(strstr(place(&t, "public/h4", E_HARD,
	    "public/l/passwd"), "not a regular file"));
	assert_non_null(strstr(place(&t, "public/h4", E_HARD, "rootfile"),
	    "owned by root"));

	/* Twice. */
	assert_non_null(strstr(place(&t, "public/f", E_REG, NULL), "twice"));
	assert_non_null(strstr(place(&t, "public", E_DIR, NULL), "twice"));
	tree_free(&t);
}

/* ent_check() of an entry of path and type, with the metadata's ids. */
static const char *
check(struct ent *e, const char *path, enum etype type, mode_t perm,
    int64_t size, int64_t uid, int64_t gid)
{
	static const struct meta	 m = { .uid = 400001, .gid = 400002 };

	memset(e, 0, sizeof(*e));
	e->path = (char *)path;
	e->type = type;
	return ent_check(e, perm, size, uid, gid, &m);
}

static void
test_ent_check(void **state)
{
	struct ent	 e;

	(void)state;
	assert_null(check(&e, "public/f", E_REG, 0644, 12, 400001, 400002));
	assert_int_equal(e.perm, 0644);
	assert_int_equal(e.size, 12);
	assert_int_equal(e.uown, OWN_TENANT);
	assert_int_equal(e.gown, OWN_TENANT);
	assert_null(check(&e, "public", E_DIR, 01777, 0, 0, 400002));
	assert_int_equal(e.perm, 01777);
	assert_int_equal(e.uown, OWN_ROOT);
	assert_int_equal(e.gown, OWN_TENANT);
	/* Only regular files have a size; file type bits are no perm. */
	assert_null(check(&e, "l", E_LNK, 0100777, 0, 400001, 0));
	assert_int_equal(e.perm, 0777);
	assert_int_equal(e.size, 0);

	assert_non_null(strstr(check(&e, "f", E_REG, 04755, 0, 400001,
	    400002), "setuid or setgid"));
	assert_non_null(strstr(check(&e, "d", E_DIR, 02775, 0, 400001,
	    400002), "setuid or setgid"));
	assert_non_null(strstr(check(&e, "f", E_REG, 0644, -1, 400001,
	    400002), "negative size"));
	assert_non_null(strstr(check(&e, "f", E_REG, 0644, 0, 400003,
	    400002), "owned by uid 400003, neither root nor the tenant's "
	    "uid 400001"));
	assert_non_null(strstr(check(&e, "f", E_REG, 0644, 0, -1, 400002),
	    "owned by uid -1"));
	assert_non_null(strstr(check(&e, "f", E_REG, 0644, 0, 400001,
	    400001), "group 400001, neither root's nor the tenant's gid "
	    "400002"));
	/* The uid of the tenant is not its gid, and 2^32 + uid is not uid. */
	assert_non_null(check(&e, "f", E_REG, 0644, 0, 400002, 400002));
	assert_non_null(check(&e, "f", E_REG, 0644, 0,
	    (int64_t)400001 + 4294967296LL, 400002));

	/* billing.db: the format before, refused however it is made. */
	assert_non_null(strstr(check(&e, "billing.db", E_REG, 0600, 8192, 0,
	    0), "older format"));
	assert_non_null(strstr(check(&e, "billing.db", E_REG, 0600, 1,
	    400001, 400002), "older format"));
	assert_non_null(strstr(check(&e, "billing.db", E_DIR, 0700, 0, 0,
	    0), "older format"));
	assert_non_null(strstr(check(&e, "billing.db-wal", E_REG, 0600, 1,
	    0, 0), "journal of the credit ledger"));
	assert_non_null(strstr(check(&e, "billing.db-shm", E_REG, 0600, 1,
	    0, 0), "journal of the credit ledger"));
	assert_non_null(strstr(check(&e, "billing.db-journal", E_REG, 0600,
	    1, 0, 0), "journal of the credit ledger"));
	/* Below the top, the names are the tenant's own. */
	assert_null(check(&e, "data/billing.db", E_REG, 0644, 1, 400001,
	    400002));
	assert_null(check(&e, "data/billing.db-wal", E_REG, 0644, 1, 400001,
	    400002));
}

/* --- the metadata -------------------------------------------------------- */

#define GOOD_HEAD							\
	"{\"format\": \"tenantd-export\", \"version\": 1, "		\
	"\"slug\": \"acme\", \"status\": \"active\", "			\
	"\"created\": 1700000000, \"uid\": 400001, \"gid\": 400002, "
#define NO_HOSTS	GOOD_HEAD "\"hostnames\": []}"
#define HOST(h)		GOOD_HEAD "\"hostnames\": [{\"hostname\": \"" h "\", " \
	"\"status\": \"active\"}]}"

/* meta_parse() of s: NULL when accepted, else the reason. */
static const char *
parse(struct meta *m, const char *s)
{
	const char	*why;

	why = meta_parse(m, s, strlen(s));
	json_decref(m->j);
	m->j = NULL;
	return why;
}

static void
test_meta_good(void **state)
{
	static const char	 full[] = GOOD_HEAD
	    "\"tenantd\": \"0.1.0\", \"exported\": 1, \"host\": \"x\", "
	    "\"manifest\": {\"slug\": \"acme\"}, \"skipped\": [], "
	    "\"unknown\": [1, 2, 3], "
	    "\"hostnames\": [{\"hostname\": \"shop.example.org\", "
	    "\"status\": \"active\", \"created\": 5}, "
	    "{\"hostname\": \"www.example.org\", \"status\": \"pending\"}]}";
	struct meta	 m;

	(void)state;
	assert_null(meta_parse(&m, full, sizeof(full) - 1));
	assert_string_equal(m.slug, "acme");
	assert_string_equal(m.status, "active");
	assert_int_equal(m.uid, 400001);
	assert_int_equal(m.gid, 400002);
	assert_int_equal(json_array_size(m.hosts), 2);
	json_decref(m.j);
	assert_null(parse(&m, NO_HOSTS));
	assert_null(parse(&m, GOOD_HEAD "\"manifest\": null, "
	    "\"hostnames\": []}"));
	/* The largest ids below (uid_t)-1. */
	assert_null(parse(&m, "{\"format\": \"tenantd-export\", "
	    "\"version\": 1, \"slug\": \"acme\", \"status\": \"suspended\", "
	    "\"created\": 0, \"uid\": 4294967294, \"gid\": 4294967294, "
	    "\"hostnames\": []}"));
}

static void
test_meta_bad(void **state)
{
	static const struct {
		const char	*json;
		const char	*why;
	} cases[] = {
		{ "", "not valid JSON" },
		{ "{", "not valid JSON" },
		{ NO_HOSTS " x", "not valid JSON" },
		{ "[1]", "not a JSON object" },
		{ "\"tenantd-export\"", "not valid JSON" },
		{ "null", "not valid JSON" },
		{ "{}", "\"format\"" },
		{ "{\"format\": \"tar\"}", "\"format\"" },
		{ "{\"format\": 1}", "\"format\"" },
		{ "{\"format\": \"tenantd-export\"}", "\"version\"" },
		{ "{\"format\": \"tenantd-export\", \"version\": \"1\"}",
		    "\"version\"" },
		{ "{\"format\": \"tenantd-export\", \"version\": 1.0}",
		    "\"version\"" },
		{ "{\"format\": \"tenantd-export\", \"version\": 2}",
		    "newer tenantd" },
		{ "{\"format\": \"tenantd-export\", \"version\": 0}",
		    "unknown format version" },
		{ "{\"format\": \"tenantd-export\", \"version\": -1}",
		    "unknown format version" },
		/* Duplicate keys, at the top and inside. */
		{ "{\"format\": \"tenantd-export\", \"version\": 1, "
		    "\"version\": 1}", "not valid JSON" },
		{ GOOD_HEAD "\"hostnames\": [{\"hostname\": \"a.example\", "
		    "\"hostname\": \"b.example\", \"status\": \"active\"}]}",
		    "not valid JSON" },
		{ GOOD_HEAD "\"hostnames\": [], \"hostnames\": []}",
		    "not valid JSON" },
		/* Numbers beyond 64 bits are no numbers to jansson. */
		{ "{\"format\": \"tenantd-export\", "
		    "\"version\": 99999999999999999999}", "not valid JSON" },
		{ "{\"format\": \"tenantd-export\", \"version\": 1, "
		    "\"slug\": \"Acme\"}", "\"slug\"" },
		{ "{\"format\": \"tenantd-export\", \"version\": 1, "
		    "\"slug\": \"a\\u0000b\"}", "not valid JSON" },
		{ "{\"format\": \"tenantd-export\", \"version\": 1, "
		    "\"slug\": \"\"}", "\"slug\"" },
		{ "{\"format\": \"tenantd-export\", \"version\": 1, "
		    "\"slug\": [\"acme\"]}", "\"slug\"" },
		{ "{\"format\": \"tenantd-export\", \"version\": 1, "
		    "\"slug\": \"acme\", \"status\": \"deleted\"}",
		    "\"status\"" },
		{ "{\"format\": \"tenantd-export\", \"version\": 1, "
		    "\"slug\": \"acme\", \"status\": \"active\"}", "\"uid\"" },
		{ "{\"format\": \"tenantd-export\", \"version\": 1, "
		    "\"slug\": \"acme\", \"status\": \"active\", \"uid\": 0}",
		    "\"uid\"" },
		{ "{\"format\": \"tenantd-export\", \"version\": 1, "
		    "\"slug\": \"acme\", \"status\": \"active\", \"uid\": -5}",
		    "\"uid\"" },
		{ "{\"format\": \"tenantd-export\", \"version\": 1, "
		    "\"slug\": \"acme\", \"status\": \"active\", "
		    "\"uid\": 4294967295}", "\"uid\"" },
		{ "{\"format\": \"tenantd-export\", \"version\": 1, "
		    "\"slug\": \"acme\", \"status\": \"active\", "
		    "\"uid\": 9223372036854775807}", "\"uid\"" },
		{ "{\"format\": \"tenantd-export\", \"version\": 1, "
		    "\"slug\": \"acme\", \"status\": \"active\", "
		    "\"uid\": 1.5}", "\"uid\"" },
		{ "{\"format\": \"tenantd-export\", \"version\": 1, "
		    "\"slug\": \"acme\", \"status\": \"active\", \"uid\": 1}",
		    "\"gid\"" },
		{ "{\"format\": \"tenantd-export\", \"version\": 1, "
		    "\"slug\": \"acme\", \"status\": \"active\", \"uid\": 1, "
		    "\"gid\": 4294967296}", "\"gid\"" },
		{ "{\"format\": \"tenantd-export\", \"version\": 1, "
		    "\"slug\": \"acme\", \"status\": \"active\", \"uid\": 1, "
		    "\"gid\": 1}", "\"created\"" },
		{ "{\"format\": \"tenantd-export\", \"version\": 1, "
		    "\"slug\": \"acme\", \"status\": \"active\", \"uid\": 1, "
		    "\"gid\": 1, \"created\": -1}", "\"created\"" },
		{ GOOD_HEAD "\"manifest\": [], \"hostnames\": []}",
		    "\"manifest\"" },
		{ GOOD_HEAD "\"manifest\": \"x\", \"hostnames\": []}",
		    "\"manifest\"" },
		{ GOOD_HEAD "\"x\": 1}", "\"hostnames\"" },
		{ GOOD_HEAD "\"hostnames\": {}}", "\"hostnames\"" },
		{ GOOD_HEAD "\"hostnames\": \"a.example\"}", "\"hostnames\"" },
		{ GOOD_HEAD "\"hostnames\": [\"a.example\"]}",
		    "without a name" },
		{ GOOD_HEAD "\"hostnames\": [{\"hostname\": \"a.example\"}]}",
		    "without a name" },
		{ GOOD_HEAD "\"hostnames\": [{\"status\": \"active\"}]}",
		    "without a name" },
		{ GOOD_HEAD "\"hostnames\": [{\"hostname\": 1, "
		    "\"status\": \"active\"}]}", "without a name" },
		{ GOOD_HEAD "\"hostnames\": [{\"hostname\": \"a.example\", "
		    "\"status\": \"deleted\"}]}", "without a name" },
		{ GOOD_HEAD "\"hostnames\": [{\"hostname\": \"a.example\", "
		    "\"status\": \"active\"}, {\"hostname\": \"a.example\", "
		    "\"status\": \"pending\"}]}", "listed twice" },
		/* Only canonical names, as export writes them. */
		{ HOST("evil\\u001b]0;owned\\u0007.example"), "canonically" },
		{ HOST("a\\nb.example"), "canonically" },
		{ HOST("bad host.example"), "canonically" },
		{ HOST("Shop.Example.org"), "canonically" },
		{ HOST("shop.example.org."), "canonically" },
		{ HOST("shop.example.org:80"), "canonically" },
		{ HOST("[::1]"), "canonically" },
		{ HOST("192.0.2.1"), "canonically" },
		{ HOST("user@shop.example.org"), "canonically" },
		{ HOST("sh\\u00f6p.example.org"), "canonically" },
		{ HOST("-shop.example.org"), "canonically" },
		{ HOST("shop..example.org"), "canonically" },
		{ HOST(""), "canonically" },
	};
	struct meta	 m;
	const char	*why;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why = parse(&m, cases[i].json);
		if (why == NULL || strstr(why, cases[i].why) == NULL) {
			print_error("%s: \"%s\", want \"%s\"\n", cases[i].json,
			    why ? why : "(accepted)", cases[i].why);
			fail();
		}
	}
}

/* Hostnames: how many, how long. */
static void
test_meta_hostnames(void **state)
{
	struct meta	 m;
	char		*s, label[64];
	size_t		 i, n, cap = 64 * (HOSTS_MAX + 2) + 512;

	(void)state;
	if ((s = malloc(cap)) == NULL)
		abort();
	/* 253 characters are a hostname, 254 are not. */
	memset(label, 'a', 63);
	label[63] = '\0';
	snprintf(s, cap, GOOD_HEAD "\"hostnames\": [{\"hostname\": "
	    "\"%s.%s.%s.%.61s\", \"status\": \"active\"}]}", label, label,
	    label, label);
	assert_null(parse(&m, s));
	snprintf(s, cap, GOOD_HEAD "\"hostnames\": [{\"hostname\": "
	    "\"%s.%s.%s.%.62s\", \"status\": \"active\"}]}", label, label,
	    label, label);
	assert_non_null(strstr(parse(&m, s), "longer than 253"));
	/* 10000 are allowed, 10001 are not. */
	for (n = HOSTS_MAX; n <= HOSTS_MAX + 1; n++) {
		size_t	 off;

		off = (size_t)snprintf(s, cap, GOOD_HEAD "\"hostnames\": [");
		for (i = 0; i < n; i++)
			off += (size_t)snprintf(s + off, cap - off,
			    "%s{\"hostname\": \"h%zu.example\", "
			    "\"status\": \"active\"}", i ? "," : "", i);
		snprintf(s + off, cap - off, "]}");
		if (n == HOSTS_MAX)
			assert_null(parse(&m, s));
		else
			assert_non_null(strstr(parse(&m, s),
			    "more than 10000"));
	}
	free(s);
}

static const char *
lrows(const char *txns, long long balance)
{
	static char	 buf[4096];
	struct lrows	 r;
	const char	*why;

	snprintf(buf, sizeof(buf), "{\"format\": \"tenantd-ledger\", "
	    "\"version\": 1, \"balance\": %lld, \"txns\": [%s]}", balance, txns);
	why = lrows_parse(&r, buf, strlen(buf), 1800000000);
	json_decref(r.j);
	return why;
}

#define G(id, amt)	"{\"id\": " #id ", \"at\": 1700000000, " \
	"\"kind\": \"grant\", \"amount\": " #amt "}"
#define U(id, amt, ref)	"{\"id\": " #id ", \"at\": 1700000000, " \
	"\"kind\": \"usage\", \"amount\": " #amt ", \"ref\": \"" ref "\"}"

static void
test_lrows(void **state)
{
	struct lrows		 r;
	struct ledger_txn	 t;
	const char		*doc;

	(void)state;
	assert_null(lrows("", 0));
	assert_null(lrows(G(1, 10) "," U(2, -3, "h1.1") "," U(5, -7, "h1.2"),
	    0));
	doc = "{\"format\": \"tenantd-ledger\", \"version\": 1, \"balance\": 7,"
	    " \"txns\": [" G(1, 10) "," U(4, -3, "h1.1") "]}";
	assert_null(lrows_parse(&r, doc, strlen(doc), 1800000000));
	lrows_get(&r, 1, &t);
	assert_int_equal(t.lt_id, 4);
	assert_int_equal(t.lt_amount, -3);
	assert_string_equal(t.lt_kind, "usage");
	assert_string_equal(t.lt_ref, "h1.1");
	assert_string_equal(t.lt_note, "");
	json_decref(r.j);
	assert_string_equal(lrows(G(1, 10), 11), "\"balance\" is 11, but the "
	    "rows add up to 10");
	assert_string_equal(lrows(G(1, 10) "," U(2, -1, "a") "," U(3, -1, "a"),
	    8), "row 3: \"ref\" a is already the reference of row 2");
	assert_string_equal(lrows(G(1, 1000000000000001), 1000000000000001),
	    "row 1: \"amount\" is not a non-zero integer within +-10^15");
	assert_string_equal(lrows(G(1, -5), 0),
	    "row 1: \"amount\" has the wrong sign for its kind");
	assert_string_equal(lrows(U(1, 5, "a"), 5),
	    "row 1: \"amount\" has the wrong sign for its kind");
	assert_string_equal(lrows(U(1, -5, "a"), 0),
	    "row 1: the balance goes below zero");
	assert_string_equal(lrows(G(2, 5) "," G(2, 5), 10),
	    "row 2: \"id\" is not above the row before's");
	assert_string_equal(lrows(G(0, 5), 5),
	    "row 1: \"id\" is not an integer above 0");
	assert_non_null(strstr(lrows("{\"id\": 1, \"at\": 1900000000, \"kind\":"
	    " \"grant\", \"amount\": 1}", 1), "\"at\""));
	assert_non_null(strstr(lrows("{\"id\": 1, \"at\": 1, \"kind\": "
	    "\"grant\", \"amount\": 1, \"x\": 1}", 1), "a field"));
	/* jansson refuses a NUL in a string; lrow_printable() too. */
	assert_non_null(lrows("{\"id\": 1, \"at\": 1, \"kind\": "
	    "\"grant\", \"amount\": 1, \"note\": \"a\\u0000b\"}", 1));
	assert_non_null(strstr(lrows("{\"id\": 1, \"at\": 1, \"kind\": "
	    "\"grant\", \"amount\": 1, \"note\": \"\\u001b[2J\"}", 1),
	    "\"note\""));
	assert_non_null(strstr(lrows("{\"id\": 1, \"at\": 1, \"kind\": "
	    "\"grant\", \"amount\": 1, \"ref\": \"\"}", 1), "\"ref\""));
	assert_non_null(strstr(lrows("1", 0), "row 1: not an object"));
	assert_non_null(strstr(lrows(G(1, 1), -1), "\"balance\""));
	assert_non_null(lrows_parse(&r, "[]", 2, 0));
	json_decref(r.j);
	assert_non_null(lrows_parse(&r, "{", 1, 0));
	json_decref(r.j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_check),
		cmocka_unit_test(test_path_check_bounds),
		cmocka_unit_test(test_vis),
		cmocka_unit_test(test_tree),
		cmocka_unit_test(test_link_escapes),
		cmocka_unit_test(test_tree_place),
		cmocka_unit_test(test_ent_check),
		cmocka_unit_test(test_meta_good),
		cmocka_unit_test(test_meta_bad),
		cmocka_unit_test(test_meta_hostnames),
		cmocka_unit_test(test_lrows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
