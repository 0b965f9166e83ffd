/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Sandbox policy: the seccomp allowlist and the rlimits a worker runs
 * under, kept as data files in this directory (tenantd-policy(5)).
 */
#ifndef TENANTD_POLICY_H
#define TENANTD_POLICY_H

#include <sys/resource.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#define POLICY_MAX_RULES	256
#define POLICY_MAX_LIMITS	16
#define POLICY_FILE_MAX		65536
#define POLICY_SECCOMP_FILE	"worker.seccomp"
#define POLICY_LIMITS_FILE	"worker.limits"

struct policy_rule {
	char		 pr_name[48];
	int		 pr_nr;		/* native syscall number */
	int		 pr_errno;	/* 0: allow; else fail with this errno */
};

struct policy {
	struct policy_rule	 p_rules[POLICY_MAX_RULES];
	size_t			 p_nrules;
};

struct policy_limit {
	int		 pl_resource;	/* RLIMIT_* */
	rlim_t		 pl_value;	/* soft = hard = value */
};

struct limits {
	struct policy_limit	 l_ent[POLICY_MAX_LIMITS];
	size_t			 l_n;
};

/* policy.c: pure parsing */
int		 policy_parse(const char *, size_t, struct policy *, char *,
		    size_t);
int		 limits_parse(const char *, size_t, struct limits *, char *,
		    size_t);
const char	*limits_name(int);
int		 policy_words(const char **, const char *, char [3][48],
		    int *);
int		 policy_number(const char *, const char *const *,
		    const uint64_t *, uint64_t *);
int		 policy_pairs(const char *, size_t, const char *,
		    int (*)(int, const char *, const char *, void *, char *,
		    size_t), void *, char *, size_t);

/* policy_file.c: reading the files */
ssize_t		 policy_file_read(const char *, char *, size_t, char *,
		    size_t);
int		 policy_load(const char *, struct policy *, char *, size_t);
int		 limits_load(const char *, struct limits *, char *, size_t);

/* seccomp.c: turning a policy into a loaded filter */
void		*policy_compile(const struct policy *, char *, size_t);
int		 policy_install(void *, char *, size_t);
void		 policy_release(void *);

#endif
