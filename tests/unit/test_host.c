/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Host classifier (docs/security.md, items 75-84): one table of hostile and
 * ordinary Host values, checked for class, canonical name, port and slug
 * length, for idempotence on the canonical output, and again under Turkish
 * locales where tolower(3) would fold 'I' to a dotless i.
 */
#include <errno.h>
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "host.h"

#define SUFFIX	"test.localhost"
#define ADMIN	"admin.test.localhost"

/* Length from sizeof, so a NUL inside the literal is part of the input. */
#define IN(s)	s, sizeof(s) - 1

struct hcase {
	const char	*in;
	size_t		 len;
	enum host_class	 class;
	const char	*name;		/* canonical; NULL when invalid */
	unsigned int	 port;
	size_t		 label;		/* slug length for subdomain/reserved */
};

#define L63 "abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij" \
	    "abcdefghij" "abcdefghij" "abc"

static const struct hcase cases[] = {
	/* Ordinary tenants, case folding, one trailing dot. */
	{ IN("acme.test.localhost"), HOST_SUBDOMAIN, "acme.test.localhost",
	    0, 4 },
	{ IN("ACME.Test.LOCALHOST"), HOST_SUBDOMAIN, "acme.test.localhost",
	    0, 4 },
	{ IN("MIXIN.TEST.LOCALHOST"), HOST_SUBDOMAIN, "mixin.test.localhost",
	    0, 5 },
	{ IN("acme.test.localhost."), HOST_SUBDOMAIN, "acme.test.localhost",
	    0, 4 },
	{ IN("acme.test.localhost.."), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme-2.test.localhost"), HOST_SUBDOMAIN,
	    "acme-2.test.localhost", 0, 6 },
	{ IN("123.test.localhost"), HOST_SUBDOMAIN, "123.test.localhost",
	    0, 3 },
	{ IN("a--b.test.localhost"), HOST_SUBDOMAIN, "a--b.test.localhost",
	    0, 4 },

	/* Ports: 1..65535 without sign or leading zero, then stripped. */
	{ IN("acme.test.localhost:443"), HOST_SUBDOMAIN,
	    "acme.test.localhost", 443, 4 },
	{ IN("acme.test.localhost:1"), HOST_SUBDOMAIN, "acme.test.localhost",
	    1, 4 },
	{ IN("acme.test.localhost:65535"), HOST_SUBDOMAIN,
	    "acme.test.localhost", 65535, 4 },
	{ IN("acme.test.localhost.:8080"), HOST_SUBDOMAIN,
	    "acme.test.localhost", 8080, 4 },
	{ IN("acme.test.localhost:"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme.test.localhost:0"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme.test.localhost:00"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme.test.localhost:0443"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme.test.localhost:+443"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme.test.localhost:-1"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme.test.localhost:65536"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme.test.localhost:99999"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme.test.localhost:100000"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme.test.localhost:port"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme.test.localhost:443:443"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme.test.localhost::443"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme.test.localhost: 443"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme.test.localhost:443 "), HOST_INVALID, NULL, 0, 0 },
	{ IN(":443"), HOST_INVALID, NULL, 0, 0 },
	{ IN(".:443"), HOST_INVALID, NULL, 0, 0 },

	/* One label under the suffix, and only a well-formed slug. */
	{ IN("x.acme.test.localhost"), HOST_INVALID, NULL, 0, 0 },
	{ IN("www.acme.test.localhost"), HOST_INVALID, NULL, 0, 0 },
	{ IN(".test.localhost"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme..test.localhost"), HOST_INVALID, NULL, 0, 0 },
	{ IN("ab.test.localhost"), HOST_INVALID, NULL, 0, 0 },
	{ IN("-acme.test.localhost"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme-.test.localhost"), HOST_INVALID, NULL, 0, 0 },
	{ IN(L63 ".test.localhost"), HOST_SUBDOMAIN, L63 ".test.localhost",
	    0, 63 },
	{ IN(L63 "d.test.localhost"), HOST_INVALID, NULL, 0, 0 },
	{ IN("xn--80ak6aa92e.test.localhost"), HOST_INVALID, NULL, 0, 0 },
	{ IN("XN--80AK6AA92E.test.localhost"), HOST_INVALID, NULL, 0, 0 },
	{ IN("ab--cd.test.localhost"), HOST_INVALID, NULL, 0, 0 },
	{ IN("zz--top.test.localhost"), HOST_INVALID, NULL, 0, 0 },

	/* Bytes outside letters, digits, '-' and '.'. */
	{ IN("ac_me.test.localhost"), HOST_INVALID, NULL, 0, 0 },
	{ IN("*.test.localhost"), HOST_INVALID, NULL, 0, 0 },
	{ IN("ac me.test.localhost"), HOST_INVALID, NULL, 0, 0 },
	{ IN(" acme.test.localhost"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme.test.localhost "), HOST_INVALID, NULL, 0, 0 },
	{ IN("\tacme.test.localhost"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme%2etest.localhost"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme.test.localhost%2e"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme\0.test.localhost"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme.test.localhost\0"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme.test.localhost\0.evil.test"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme.test.localhost\r"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme.test.localhost\n"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme\r\n.test.localhost"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme.test.localhost\x1b[0m"), HOST_INVALID, NULL, 0, 0 },
	/* Cyrillic small a (U+0430) in place of the Latin one. */
	{ IN("\xd0\xb0" "cme.test.localhost"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme.test.localhost\xc2\xa0"), HOST_INVALID, NULL, 0, 0 },
	{ IN("\xff" "acme.test.localhost"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme.test.localhost\x7f"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme.test.localhost,other.test.localhost"), HOST_INVALID, NULL,
	    0, 0 },
	{ IN("acme.test.localhost/x"), HOST_INVALID, NULL, 0, 0 },

	/* IP literals, userinfo, empty. */
	{ IN("127.0.0.1"), HOST_INVALID, NULL, 0, 0 },
	{ IN("127.0.0.1:80"), HOST_INVALID, NULL, 0, 0 },
	{ IN("127.0.0.1."), HOST_INVALID, NULL, 0, 0 },
	{ IN("0x7f.0.0.1"), HOST_INVALID, NULL, 0, 0 },
	{ IN("1234"), HOST_INVALID, NULL, 0, 0 },
	{ IN("[::1]"), HOST_INVALID, NULL, 0, 0 },
	{ IN("[::1]:80"), HOST_INVALID, NULL, 0, 0 },
	{ IN("::1"), HOST_INVALID, NULL, 0, 0 },
	{ IN("user@acme.test.localhost"), HOST_INVALID, NULL, 0, 0 },
	{ IN("user:pw@acme.test.localhost"), HOST_INVALID, NULL, 0, 0 },
	{ IN("acme.test.localhost@evil.test"), HOST_INVALID, NULL, 0, 0 },
	{ IN(""), HOST_INVALID, NULL, 0, 0 },
	{ IN("."), HOST_INVALID, NULL, 0, 0 },
	{ IN(".."), HOST_INVALID, NULL, 0, 0 },
	{ IN("-"), HOST_INVALID, NULL, 0, 0 },

	/* Reserved slugs, apex, admin. */
	{ IN("www.test.localhost"), HOST_RESERVED, "www.test.localhost", 0,
	    3 },
	{ IN("WWW.test.localhost."), HOST_RESERVED, "www.test.localhost", 0,
	    3 },
	{ IN("api.test.localhost"), HOST_RESERVED, "api.test.localhost", 0,
	    3 },
	{ IN("app.test.localhost:443"), HOST_RESERVED, "app.test.localhost",
	    443, 3 },
	{ IN("mta-sts.test.localhost"), HOST_RESERVED,
	    "mta-sts.test.localhost", 0, 7 },
	{ IN("test.localhost"), HOST_APEX, "test.localhost", 0, 0 },
	{ IN("TEST.LOCALHOST."), HOST_APEX, "test.localhost", 0, 0 },
	{ IN("test.localhost:8080"), HOST_APEX, "test.localhost", 8080, 0 },
	{ IN("admin.test.localhost"), HOST_ADMIN, "admin.test.localhost", 0,
	    0 },
	{ IN("ADMIN.Test.Localhost."), HOST_ADMIN, "admin.test.localhost", 0,
	    0 },
	{ IN("admin.test.localhost:443"), HOST_ADMIN, "admin.test.localhost",
	    443, 0 },
	{ IN("xadmin.test.localhost"), HOST_SUBDOMAIN,
	    "xadmin.test.localhost", 0, 6 },
	{ IN("admin2.test.localhost"), HOST_SUBDOMAIN,
	    "admin2.test.localhost", 0, 6 },
	{ IN("admin.test.localhost.evil.test"), HOST_CUSTOM,
	    "admin.test.localhost.evil.test", 0, 0 },
	{ IN("x.admin.test.localhost"), HOST_INVALID, NULL, 0, 0 },

	/* Suffix look-alikes are other names, never a tenant here. */
	{ IN("acmetest.localhost"), HOST_CUSTOM, "acmetest.localhost", 0, 0 },
	{ IN("acme.test.localhost.evil.test"), HOST_CUSTOM,
	    "acme.test.localhost.evil.test", 0, 0 },
	{ IN("acme-test.localhost"), HOST_CUSTOM, "acme-test.localhost", 0,
	    0 },
	{ IN("localhost"), HOST_INVALID, NULL, 0, 0 },

	/* Custom domains: at least two labels; IDNA is the operator's call. */
	{ IN("www.example.org"), HOST_CUSTOM, "www.example.org", 0, 0 },
	{ IN("Shop.Example.ORG.:8443"), HOST_CUSTOM, "shop.example.org",
	    8443, 0 },
	{ IN("a.b"), HOST_CUSTOM, "a.b", 0, 0 },
	{ IN("123.example.org"), HOST_CUSTOM, "123.example.org", 0, 0 },
	{ IN("xn--80ak6aa92e.com"), HOST_CUSTOM, "xn--80ak6aa92e.com", 0, 0 },
	{ IN("example.123"), HOST_INVALID, NULL, 0, 0 },
	{ IN("example"), HOST_INVALID, NULL, 0, 0 },
	{ IN("example."), HOST_INVALID, NULL, 0, 0 },
	{ IN("a.-b.org"), HOST_INVALID, NULL, 0, 0 },
	{ IN("a-.b.org"), HOST_INVALID, NULL, 0, 0 },
	{ IN(L63 "d.example.org"), HOST_INVALID, NULL, 0, 0 },
};

static struct host_conf	 conf;

static int
setup_conf(void **state)
{
	if (host_conf_init(&conf, SUFFIX, ADMIN) == -1)
		return -1;
	return 0;
}

static int
ldh_only(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.'))
			return 0;
	return 1;
}

/* Escaped copy of an input for failure messages. */
static const char *
show(const char *s, size_t len)
{
	static char	 buf[1200];
	size_t		 i, o = 0;

	for (i = 0; i < len && o < sizeof(buf) - 5; i++) {
		unsigned char	 c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, sizeof(buf) - o,
			    "\\x%02x", c);
	}
	buf[o] = '\0';
	return buf;
}

/*
 * One case: class, canonical name, port and label, then the invariants
 * every result must keep (docs/security.md, item 84) whatever the table says.
 */
static void
check_case(const struct host_conf *hc, const struct hcase *c)
{
	struct host_result	 r, again;
	enum host_class		 got;

	got = host_classify(hc, c->in, c->len, &r);
	if (got != c->class || r.hr_class != got) {
		print_error("\"%s\": class %s, want %s\n", show(c->in, c->len),
		    host_class_str(got), host_class_str(c->class));
		fail();
	}
	if (c->name != NULL) {
		if (strcmp(r.hr_name, c->name) != 0) {
			print_error("\"%s\": name \"%s\", want \"%s\"\n",
			    show(c->in, c->len), r.hr_name, c->name);
			fail();
		}
		assert_int_equal(r.hr_name_len, strlen(c->name));
		assert_int_equal(r.hr_port, c->port);
		if (got == HOST_SUBDOMAIN || got == HOST_RESERVED)
			assert_int_equal(r.hr_label_len, c->label);
	}

	if (got == HOST_SUBDOMAIN || got == HOST_CUSTOM ||
	    got == HOST_RESERVED || got == HOST_APEX || got == HOST_ADMIN)
		assert_true(ldh_only(r.hr_name, r.hr_name_len));
	if (got == HOST_ADMIN)
		assert_string_equal(r.hr_name, hc->hc_admin);
	if (got == HOST_INVALID)
		return;

	/* The canonical form is a fixed point: same class, same name. */
	assert_int_equal(host_classify(hc, r.hr_name, r.hr_name_len, &again),
	    got);
	assert_string_equal(again.hr_name, r.hr_name);
	assert_int_equal(again.hr_label_len, r.hr_label_len);
	assert_int_equal(again.hr_port, 0);
}

static void
run_table(void)
{
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(&conf, &cases[i]);
}

static void
test_table(void **state)
{
	run_table();
}

/*
 * tolower(3) under tr_TR maps 'I' to U+0131 (or leaves it alone in UTF-8,
 * where that does not fit a byte): a classifier that used it would route
 * "MIXIN" and "mixin" apart. The locales are built into the build directory
 * by mklocale.sh and found through LOCPATH; without Debian's locales
 * package they cannot be built and only this check is skipped.
 */
static void
run_in_locale(const char *name)
{
	if (setlocale(LC_ALL, name) == NULL) {
		print_message("note: locale %s is not available (LOCPATH=%s); "
		    "skipping the locale check\n", name,
		    getenv("LOCPATH") ? getenv("LOCPATH") : "unset");
		skip();
	}
	run_table();
	setlocale(LC_ALL, "C");
}

static void
test_table_tr_utf8(void **state)
{
	run_in_locale("tr_TR.UTF-8");
}

static void
test_table_tr_latin5(void **state)
{
	run_in_locale("tr_TR.ISO-8859-9");
}

static void
test_length_limits(void **state)
{
	struct host_result	 r;
	char			 name[300];
	size_t			 n;

	/* Labels of 63 ("x" * 63 + ".") up to exactly 253 bytes in all. */
	memset(name, 0, sizeof(name));
	for (n = 0; n < 253; n++)
		name[n] = (n % 64 == 63) ? '.' : 'x';
	assert_int_not_equal(name[252], '.');
	assert_int_equal(host_classify(&conf, name, 253, &r), HOST_CUSTOM);
	assert_int_equal(r.hr_name_len, 253);

	/* 253 plus the one trailing dot that is stripped is still fine. */
	name[253] = '.';
	assert_int_equal(host_classify(&conf, name, 254, &r), HOST_CUSTOM);
	assert_int_equal(r.hr_name_len, 253);

	/* 254 real bytes are not. */
	name[253] = 'x';
	assert_int_equal(host_classify(&conf, name, 254, &r), HOST_INVALID);
	name[254] = '.';
	assert_int_equal(host_classify(&conf, name, 255, &r), HOST_INVALID);

	/* Far too long, and with a port after it. */
	memset(name, 'a', sizeof(name));
	memcpy(name + 280, ".org:443", 8);
	assert_int_equal(host_classify(&conf, name, 288, &r), HOST_INVALID);
}

static void
test_other_confs(void **state)
{
	struct host_conf	 hc;
	struct host_result	 r;

	/*
	 * The example configuration of docs/routing.md, given in mixed case
	 * and with a trailing dot.
	 */
	assert_int_equal(host_conf_init(&hc, "App.Example.COM.",
	    "admin.example.com"), 0);
	assert_string_equal(hc.hc_suffix, "app.example.com");
	assert_int_equal(host_classify(&hc, IN("acme.app.example.com"), &r),
	    HOST_SUBDOMAIN);
	assert_int_equal(r.hr_label_len, 4);
	assert_int_equal(host_classify(&hc, IN("admin.example.com"), &r),
	    HOST_ADMIN);
	assert_int_equal(host_classify(&hc, IN("admin.app.example.com"), &r),
	    HOST_RESERVED);
	assert_int_equal(host_classify(&hc, IN("app.example.com"), &r),
	    HOST_APEX);
	assert_int_equal(host_classify(&hc, IN("example.com"), &r),
	    HOST_CUSTOM);
	assert_int_equal(host_classify(&hc, IN("acmeapp.example.com"), &r),
	    HOST_CUSTOM);
	assert_int_equal(host_classify(&hc,
	    IN("victim.app.example.com.evil.test"), &r), HOST_CUSTOM);
	assert_int_equal(host_classify(&hc, IN("xadmin.example.com"), &r),
	    HOST_CUSTOM);
	assert_int_equal(host_classify(&hc, IN("x.acme.app.example.com"), &r),
	    HOST_INVALID);

	/* No admin host: the admin slug is merely reserved. */
	assert_int_equal(host_conf_init(&hc, SUFFIX, ""), 0);
	assert_int_equal(hc.hc_admin_len, 0);
	assert_int_equal(host_classify(&hc, IN("admin.test.localhost"), &r),
	    HOST_RESERVED);
	assert_int_equal(host_conf_init(&hc, SUFFIX, NULL), 0);
	assert_int_equal(host_classify(&hc, IN("admin.test.localhost"), &r),
	    HOST_RESERVED);
}

static void
test_conf_init_rejects(void **state)
{
	struct host_conf	 hc;

	assert_int_equal(host_conf_init(&hc, "test.localhost:443", ADMIN), -1);
	assert_int_equal(host_conf_init(&hc, SUFFIX, "admin.localhost:443"),
	    -1);
	assert_int_equal(host_conf_init(&hc, "", ADMIN), -1);
	assert_int_equal(host_conf_init(&hc, "test..localhost", ADMIN), -1);
	assert_int_equal(host_conf_init(&hc, "127.0.0.1", ADMIN), -1);
	assert_int_equal(host_conf_init(&hc, "t_st.localhost", ADMIN), -1);
	assert_int_equal(host_conf_init(&hc, SUFFIX, "adm in.localhost"), -1);
}

static void
test_canonical(void **state)
{
	char		 out[HOST_NAME_MAX_LEN + 1];
	size_t		 len;
	unsigned int	 port;

	assert_int_equal(host_canonical(IN("Foo.Bar.:81"), out, &len, &port),
	    0);
	assert_string_equal(out, "foo.bar");
	assert_int_equal(len, 7);
	assert_int_equal(port, 81);

	/* Failure leaves no length and no port behind. */
	port = 99;
	len = 99;
	assert_int_equal(host_canonical(IN("foo.bar:0"), out, &len, &port),
	    -1);
	assert_int_equal(len, 0);
	assert_int_equal(port, 0);
}

static void
test_class_str(void **state)
{
	assert_string_equal(host_class_str(HOST_INVALID), "invalid");
	assert_string_equal(host_class_str(HOST_SUBDOMAIN), "subdomain");
	assert_string_equal(host_class_str(HOST_CUSTOM), "custom");
	assert_string_equal(host_class_str(HOST_APEX), "apex");
	assert_string_equal(host_class_str(HOST_ADMIN), "admin");
	assert_string_equal(host_class_str(HOST_RESERVED), "reserved");
	assert_string_equal(host_class_str((enum host_class)42), "invalid");
}

/* hostlist_parse() must refuse this list whole. */
static void
list_refused(const struct host_conf *hc, const char *data, size_t len)
{
	struct hostlist	 hl;

	memset(&hl, 0x5a, sizeof(hl));
	if (hostlist_parse(&hl, hc, data, len) != -1) {
		print_error("taken: \"%.*s\"\n", (int)len, data);
		fail();
	}
	assert_int_equal(errno, EBADMSG);
	/* Untouched: a caller keeps the list it had. */
	assert_true(hl.hl_n == 0x5a5a5a5a5a5a5a5aULL);
}

/*
 * A host list as a worker takes it (MSG_CFG_HOSTS): only canonical custom
 * names, strictly ascending, at most HOST_TENANT_MAX; anything else and
 * nothing of it is taken. The lookup finds each name and no other.
 */
static void
test_hostlist(void **state)
{
	struct host_conf	 hc;
	struct hostlist		 hl;
	char			*big, *p;
	size_t			 i;

	assert_int_equal(host_conf_init(&hc, SUFFIX, ADMIN), 0);
	assert_int_equal(hostlist_parse(&hl, &hc, IN("a.example.org\n"
	    "b.example.org\nshop.example.net\n")), 0);
	assert_int_equal(hl.hl_n, 3);
	assert_true(hostlist_has(&hl, "a.example.org"));
	assert_true(hostlist_has(&hl, "b.example.org"));
	assert_true(hostlist_has(&hl, "shop.example.net"));
	assert_false(hostlist_has(&hl, "c.example.org"));
	assert_false(hostlist_has(&hl, "example.org"));
	assert_false(hostlist_has(&hl, ""));
	hostlist_free(&hl);
	assert_int_equal(hl.hl_n, 0);
	assert_false(hostlist_has(&hl, "a.example.org"));
	/* Empty is a list: no custom names. */
	assert_int_equal(hostlist_parse(&hl, &hc, "", 0), 0);
	assert_int_equal(hl.hl_n, 0);
	assert_false(hostlist_has(&hl, "a.example.org"));
	hostlist_free(&hl);

	list_refused(&hc, IN("b.example.org\na.example.org\n"));
	list_refused(&hc, IN("a.example.org\na.example.org\n"));
	list_refused(&hc, IN("a.example.org"));		/* no newline */
	list_refused(&hc, IN("a.example.org\n\n"));
	list_refused(&hc, IN("\n"));
	list_refused(&hc, IN("A.example.org\n"));	/* not canonical */
	list_refused(&hc, IN("a.example.org.\n"));
	list_refused(&hc, IN("a.example.org:443\n"));
	list_refused(&hc, IN("a.exa\0mple.org\n"));
	list_refused(&hc, IN("a.example.org\r\n"));
	list_refused(&hc, IN("a.example.org \n"));
	list_refused(&hc, IN("10.0.0.1\n"));
	list_refused(&hc, IN("localhost\n"));		/* one label */
	list_refused(&hc, IN("acme.test.localhost\n"));	/* a tenant's */
	list_refused(&hc, IN("test.localhost\n"));	/* the apex */
	list_refused(&hc, IN("admin.test.localhost\n"));
	list_refused(&hc, IN("a.example.org\nacme.test.localhost\n"));

	/* HOST_TENANT_MAX names are taken and found; one more is not. */
	assert_non_null(big = malloc((size_t)(HOST_TENANT_MAX + 1) * 20));
	for (p = big, i = 0; i <= HOST_TENANT_MAX; i++)
		p += sprintf(p, "h%06zu.example.org\n", i);
	assert_int_equal(hostlist_parse(&hl, &hc, big, (size_t)(p - big) -
	    20), 0);
	assert_int_equal(hl.hl_n, HOST_TENANT_MAX);
	assert_true(hostlist_has(&hl, "h000000.example.org"));
	assert_true(hostlist_has(&hl, "h005000.example.org"));
	assert_true(hostlist_has(&hl, "h009999.example.org"));
	assert_false(hostlist_has(&hl, "h010000.example.org"));
	hostlist_free(&hl);
	list_refused(&hc, big, (size_t)(p - big));
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_table_tr_utf8),
		cmocka_unit_test(test_table_tr_latin5),
		cmocka_unit_test(test_length_limits),
		cmocka_unit_test(test_other_confs),
		cmocka_unit_test(test_conf_init_rejects),
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_class_str),
		cmocka_unit_test(test_hostlist),
	};

	return cmocka_run_group_tests(tests, setup_conf, NULL);
}
