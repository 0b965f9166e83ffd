/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Parsers for the policy files. Seccomp file, one rule a line:
 *
 *	<syscall>                  # why it is needed
 *	<syscall> errno <ENAME>    # why a failure is better than a kill
 *
 * The tenant-code file (tenant-code.seccomp) is a deny list instead: its
 * first rule is "default allow", and every rule after it is an errno rule.
 * Only denylist_parse() accepts that line, so a worker's allowlist can
 * never be turned into a default-allow filter by an edit.
 *
 * Limits file, one rlimit a line ("unlimited" or a number with K, M, G):
 *
 *	<resource> <value>         # why
 *
 * Cgroup file (tenant-code.cgroup), one setting a line, each exactly once:
 *
 *	cpu_weight <1..10000>      # why
 *	memory <number[K|M|G]>     # why
 *	pids <number>              # why
 *
 * The reason is not optional: a rule nobody can explain is a rule nobody
 * can review. Unknown syscall names (resolved for the native architecture
 * by libseccomp), duplicates and malformed lines fail with the line number.
 */
#include <sys/resource.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <seccomp.h>

#include "policy.h"

static const struct {
	const char	*name;
	int		 value;
} errnos[] = {
	{ "EPERM", EPERM }, { "EACCES", EACCES }, { "ENOSYS", ENOSYS },
	{ "EAFNOSUPPORT", EAFNOSUPPORT }, { "EINVAL", EINVAL },
	{ "ENOENT", ENOENT }, { "ENOTTY", ENOTTY },
};

static const struct {
	const char	*name;
	int		 resource;
} rlimits[] = {
	{ "as", RLIMIT_AS }, { "core", RLIMIT_CORE }, { "cpu", RLIMIT_CPU },
	{ "data", RLIMIT_DATA }, { "fsize", RLIMIT_FSIZE },
	{ "memlock", RLIMIT_MEMLOCK }, { "msgqueue", RLIMIT_MSGQUEUE },
	{ "nofile", RLIMIT_NOFILE }, { "nproc", RLIMIT_NPROC },
	{ "rtprio", RLIMIT_RTPRIO }, { "sigpending", RLIMIT_SIGPENDING },
	{ "stack", RLIMIT_STACK },
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * Split the next line into at most 3 words and the comment. Returns the
 * number of words, or -1 when the line is too long or has too many words.
 * Every policy-format file is read with it (tlimits.c too).
 */
int
policy_words(const char **pp, const char *end, char words[3][48],
    int *has_why)
{
	const char	*p = *pp, *eol, *hash;
	int		 n = 0;
	size_t		 l;

	eol = memchr(p, '\n', (size_t)(end - p));
	if (eol == NULL)
		eol = end;
	*pp = eol < end ? eol + 1 : end;
	hash = memchr(p, '#', (size_t)(eol - p));
	*has_why = 0;
	if (hash != NULL) {
		const char	*w;

		for (w = hash + 1; w < eol; w++)
			if (*w != ' ' && *w != '\t' && *w != '\r')
				*has_why = 1;
		eol = hash;
	}
	for (;;) {
		while (p < eol && (*p == ' ' || *p == '\t' || *p == '\r'))
			p++;
		if (p == eol)
			return n;
		if (n == 3)
			return -1;
		for (l = 0; p + l < eol && p[l] != ' ' && p[l] != '\t' &&
		    p[l] != '\r'; l++)
			;
		if (l >= sizeof(words[0]))
			return -1;
		memcpy(words[n], p, l);
		words[n][l] = '\0';
		n++;
		p += l;
	}
}

/*
 * The loop every policy-format file shares: split each line, skip blank
 * ones, insist on the "# why", and hand lines of minw to maxw words to cb.
 * usage says what a line should look like when its word count is wrong.
 */
int
policy_lines(const char *text, size_t len, int minw, int maxw,
    const char *usage, int (*cb)(int, int, char [3][48], void *, char *,
    size_t), void *arg, char *err, size_t errsz)
{
	const char	*p = text, *end = text + len;
	char		 w[3][48];
	int		 n, line = 0, why;

	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, errsz, "NUL byte in the file");
		return -1;
	}
	while (p < end) {
		line++;
		n = policy_words(&p, end, w, &why);
		if (n == 0)
			continue;
		if (n < minw || n > maxw) {
			snprintf(err, errsz, "line %d: expected %s", line,
			    usage);
			return -1;
		}
		if (!why) {
			snprintf(err, errsz, "line %d: %s: every line needs a "
			    "\"# why\" comment", line, w[0]);
			return -1;
		}
		if (cb(line, n, w, arg, err, errsz) == -1)
			return -1;
	}
	return 0;
}

struct rules_state {
	struct policy	*rs_pol;
	int		 rs_deny;	/* parsing a deny list */
};

static int
policy_rule(int line, int n, char w[3][48], void *arg, char *err,
    size_t errsz)
{
	struct rules_state	*rs = arg;
	struct policy		*pol = rs->rs_pol;
	struct policy_rule	*r;
	size_t			 i, j;
	int			 nr;

	if (n == 2) {
		if (!rs->rs_deny || strcmp(w[0], "default") != 0 ||
		    strcmp(w[1], "allow") != 0 || pol->p_default_allow ||
		    pol->p_nrules != 0) {
			snprintf(err, errsz, "line %d: expected \"<syscall>\" "
			    "or \"<syscall> errno <ENAME>\"%s", line,
			    rs->rs_deny ? ", or \"default allow\" first" : "");
			return -1;
		}
		pol->p_default_allow = 1;
		return 0;
	}
	if (rs->rs_deny && !pol->p_default_allow) {
		snprintf(err, errsz, "line %d: a deny list starts with "
		    "\"default allow\"", line);
		return -1;
	}
	nr = seccomp_syscall_resolve_name(w[0]);
	if (nr == __NR_SCMP_ERROR || nr < 0) {
		snprintf(err, errsz, "line %d: unknown syscall \"%s\"", line,
		    w[0]);
		return -1;
	}
	for (i = 0; i < pol->p_nrules; i++)
		if (pol->p_rules[i].pr_nr == nr) {
			snprintf(err, errsz, "line %d: %s listed twice", line,
			    w[0]);
			return -1;
		}
	if (pol->p_nrules == POLICY_MAX_RULES) {
		snprintf(err, errsz, "line %d: more than %d rules", line,
		    POLICY_MAX_RULES);
		return -1;
	}
	r = &pol->p_rules[pol->p_nrules];
	snprintf(r->pr_name, sizeof(r->pr_name), "%s", w[0]);
	r->pr_nr = nr;
	if (n == 1) {
		/* Allowing a call where everything is allowed says nothing. */
		if (rs->rs_deny) {
			snprintf(err, errsz, "line %d: %s: a deny list has "
			    "only \"errno\" rules", line, w[0]);
			return -1;
		}
		pol->p_nrules++;
		return 0;
	}
	if (strcmp(w[1], "errno") != 0) {
		snprintf(err, errsz, "line %d: expected \"errno\", got "
		    "\"%s\"", line, w[1]);
		return -1;
	}
	for (j = 0; j < NELEM(errnos); j++)
		if (strcmp(errnos[j].name, w[2]) == 0)
			break;
	if (j == NELEM(errnos)) {
		snprintf(err, errsz, "line %d: unknown errno \"%s\"", line,
		    w[2]);
		return -1;
	}
	r->pr_errno = errnos[j].value;
	pol->p_nrules++;
	return 0;
}

static int
policy_parse_mode(const char *text, size_t len, struct policy *pol, int deny,
    char *err, size_t errsz)
{
	struct rules_state	 rs;

	memset(pol, 0, sizeof(*pol));
	rs.rs_pol = pol;
	rs.rs_deny = deny;
	if (policy_lines(text, len, 1, 3,
	    "\"<syscall>\" or \"<syscall> errno <ENAME>\"", policy_rule, &rs,
	    err, errsz) == -1)
		return -1;
	if (deny && !pol->p_default_allow) {
		snprintf(err, errsz, "a deny list starts with \"default "
		    "allow\"");
		return -1;
	}
	if (!deny && pol->p_nrules == 0) {
		snprintf(err, errsz, "policy allows no syscall at all");
		return -1;
	}
	return 0;
}

int
policy_parse(const char *text, size_t len, struct policy *pol, char *err,
    size_t errsz)
{
	return policy_parse_mode(text, len, pol, 0, err, errsz);
}

int
denylist_parse(const char *text, size_t len, struct policy *pol, char *err,
    size_t errsz)
{
	return policy_parse_mode(text, len, pol, 1, err, errsz);
}

/*
 * A decimal number, then one of the suffixes sfx[1..] (NULL-terminated;
 * sfx[0] is "" for none) times its multiplier. -1 on anything else or an
 * overflow.
 */
int
policy_number(const char *s, const char *const *sfx, const uint64_t *mul,
    uint64_t *out)
{
	char			*ep;
	unsigned long long	 v;
	size_t			 i;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &ep, 10);
	if (errno != 0)
		return -1;
	for (i = 0; sfx[i] != NULL; i++)
		if (strcmp(ep, sfx[i]) == 0) {
			if (v > UINT64_MAX / mul[i])
				return -1;
			*out = v * mul[i];
			return 0;
		}
	return -1;
}

static int
parse_size(const char *s, rlim_t *out)
{
	static const char *const sfx[] = { "", "K", "M", "G", NULL };
	static const uint64_t	 mul[] = { 1, 1ULL << 10, 1ULL << 20,
	    1ULL << 30 };
	uint64_t		 v;

	if (strcmp(s, "unlimited") == 0) {
		*out = RLIM_INFINITY;
		return 0;
	}
	if (policy_number(s, sfx, mul, &v) == -1)
		return -1;
	*out = (rlim_t)v;
	return 0;
}

struct pairs_state {
	int	(*ps_cb)(int, const char *, const char *, void *, char *,
		    size_t);
	void	 *ps_arg;
};

static int
policy_pair(int line, int n, char w[3][48], void *arg, char *err,
    size_t errsz)
{
	struct pairs_state	*ps = arg;

	return ps->ps_cb(line, w[0], w[1], ps->ps_arg, err, errsz);
}

/*
 * The "<name> <value>  # why" files (worker.limits, tenant.limits): every
 * entry split, its reason insisted on, and handed to cb with its line.
 */
int
policy_pairs(const char *text, size_t len, const char *what,
    int (*cb)(int, const char *, const char *, void *, char *, size_t),
    void *arg, char *err, size_t errsz)
{
	struct pairs_state	 ps;
	char			 usage[64];

	ps.ps_cb = cb;
	ps.ps_arg = arg;
	snprintf(usage, sizeof(usage), "\"<%s> <value>\"", what);
	return policy_lines(text, len, 2, 2, usage, policy_pair, &ps, err,
	    errsz);
}

static int
limits_entry(int line, const char *name, const char *value, void *arg,
    char *err, size_t errsz)
{
	struct limits	*lim = arg;
	size_t		 i, j;

	for (j = 0; j < NELEM(rlimits); j++)
		if (strcmp(rlimits[j].name, name) == 0)
			break;
	if (j == NELEM(rlimits)) {
		snprintf(err, errsz, "line %d: unknown resource \"%s\"", line,
		    name);
		return -1;
	}
	for (i = 0; i < lim->l_n; i++)
		if (lim->l_ent[i].pl_resource == rlimits[j].resource) {
			snprintf(err, errsz, "line %d: %s set twice", line,
			    name);
			return -1;
		}
	if (parse_size(value, &lim->l_ent[lim->l_n].pl_value) == -1) {
		snprintf(err, errsz, "line %d: %s: bad value \"%s\"", line,
		    name, value);
		return -1;
	}
	/* poll(2) and every accept need at least one free slot. */
	if (rlimits[j].resource == RLIMIT_NOFILE &&
	    lim->l_ent[lim->l_n].pl_value < 16) {
		snprintf(err, errsz, "line %d: nofile below 16 leaves no room "
		    "to serve", line);
		return -1;
	}
	lim->l_ent[lim->l_n].pl_resource = rlimits[j].resource;
	lim->l_n++;
	return 0;
}

int
limits_parse(const char *text, size_t len, struct limits *lim, char *err,
    size_t errsz)
{
	memset(lim, 0, sizeof(*lim));
	return policy_pairs(text, len, "resource", limits_entry, lim, err,
	    errsz);
}

const char *
limits_name(int resource)
{
	size_t	 j;

	for (j = 0; j < NELEM(rlimits); j++)
		if (rlimits[j].resource == resource)
			return rlimits[j].name;
	return "unknown";
}

struct cgroup_state {
	struct cgroup_policy	*cs_cg;
	unsigned int		 cs_seen;	/* bit i: entry i was set */
};

static const char *const cgroup_names[] = { "cpu_weight", "memory",
    "pids", "cpu_idle" };
#define CGROUP_OPTIONAL	3	/* from here on, a setting may be left out */

static int
cgroup_entry(int line, const char *name, const char *value, void *arg,
    char *err, size_t errsz)
{
	static const char *const sfx[] = { "", "K", "M", "G", NULL };
	static const uint64_t	 mul[] = { 1, 1ULL << 10, 1ULL << 20,
	    1ULL << 30 };
	static const char *const plain[] = { "", NULL };
	struct cgroup_state	*cs = arg;
	uint64_t		 v;
	size_t			 i;

	for (i = 0; i < NELEM(cgroup_names); i++)
		if (strcmp(cgroup_names[i], name) == 0)
			break;
	if (i == NELEM(cgroup_names)) {
		snprintf(err, errsz, "line %d: unknown setting \"%s\"", line,
		    name);
		return -1;
	}
	if (cs->cs_seen & (1U << i)) {
		snprintf(err, errsz, "line %d: %s set twice", line, name);
		return -1;
	}
	if (i == 3) {
		if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0) {
			snprintf(err, errsz, "line %d: %s: \"%s\" is not yes "
			    "or no", line, name, value);
			return -1;
		}
		cs->cs_cg->cg_cpu_idle = strcmp(value, "yes") == 0;
		cs->cs_seen |= 1U << i;
		return 0;
	}
	/* Only memory takes a unit: a weight or a count of 1K is a typo. */
	if (policy_number(value, i == 1 ? sfx : plain, mul, &v) == -1) {
		snprintf(err, errsz, "line %d: %s: bad value \"%s\"", line,
		    name, value);
		return -1;
	}
	/*
	 * Floors, so an edit cannot leave a tenant unable to run one shell
	 * (a handler is tenantd-run's child, the init it forks and the
	 * handler, which may run a few commands).
	 */
	if ((i == 0 && (v < CGROUP_WEIGHT_MIN || v > CGROUP_WEIGHT_MAX)) ||
	    (i == 1 && v < CGROUP_MEMORY_MIN) ||
	    (i == 2 && (v < CGROUP_PIDS_MIN || v > INT32_MAX))) {
		snprintf(err, errsz, "line %d: %s: %s is out of range", line,
		    name, value);
		return -1;
	}
	if (i == 0)
		cs->cs_cg->cg_cpu_weight = v;
	else if (i == 1)
		cs->cs_cg->cg_memory = v;
	else
		cs->cs_cg->cg_pids = v;
	cs->cs_seen |= 1U << i;
	return 0;
}

int
cgroup_parse(const char *text, size_t len, struct cgroup_policy *cg,
    char *err, size_t errsz)
{
	struct cgroup_state	 cs;
	size_t			 i;

	memset(cg, 0, sizeof(*cg));
	/* Older policy files have no cpu_idle line: they get the default. */
	cg->cg_cpu_idle = 1;
	cs.cs_cg = cg;
	cs.cs_seen = 0;
	if (policy_pairs(text, len, "setting", cgroup_entry, &cs, err,
	    errsz) == -1)
		return -1;
	/* A missing line would silently mean "no limit": refuse it. */
	for (i = 0; i < CGROUP_OPTIONAL; i++)
		if (!(cs.cs_seen & (1U << i))) {
			snprintf(err, errsz, "%s is not set", cgroup_names[i]);
			return -1;
		}
	return 0;
}
