/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Sandbox policy, kept as data files in this directory (tenantd-policy(5)):
 * the seccomp allowlist and rlimits a worker runs under, and the deny list,
 * rlimits and filesystem view tenantd-run gives tenant code.
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
#define FRONT_SECCOMP_FILE	"front.seccomp"
#define FRONT_LIMITS_FILE	"front.limits"
#define POLICY_CGROUP_FILE	"worker.cgroup"	/* optional */

/* tenantd-run's files: tenant code (handlers) and its filesystem view. */
#define RUN_SECCOMP_FILE	"tenant-code.seccomp"
#define RUN_LIMITS_FILE		"tenant-code.limits"
#define RUN_MOUNTS_FILE		"tenant-code.mounts"
#define RUN_CGROUP_FILE		"tenant-code.cgroup"
#define MOUNTS_MAX		64

struct policy_rule {
	char		 pr_name[48];
	int		 pr_nr;		/* native syscall number */
	int		 pr_errno;	/* 0: allow; else fail with this errno */
};

struct policy {
	struct policy_rule	 p_rules[POLICY_MAX_RULES];
	size_t			 p_nrules;
	int			 p_default_allow;	/* a deny list */
};

struct policy_limit {
	int		 pl_resource;	/* RLIMIT_* */
	rlim_t		 pl_value;	/* soft = hard = value */
};

struct limits {
	struct policy_limit	 l_ent[POLICY_MAX_LIMITS];
	size_t			 l_n;
};

/*
 * One line of tenant-code.mounts: what tenantd-run builds in the handler's
 * new root besides /tenant (mounts.c has the format).
 */
enum mount_kind {
	MOUNT_RO = 1,		/* read-only bind of a host path */
	MOUNT_SYMLINK,		/* a symlink to me_target */
	MOUNT_TMP,		/* the private /tmp, me_size bytes */
	MOUNT_DEV,		/* /dev/<me_path>, bound from the host */
};

struct mount_ent {
	int		 me_kind;
	int		 me_optional;	/* "ro?": skipped if the source is absent */
	char		 me_path[48];	/* absolute; MOUNT_DEV: a device name */
	char		 me_target[48];	/* MOUNT_SYMLINK */
	uint64_t	 me_size;	/* MOUNT_TMP */
};

struct mounts {
	struct mount_ent	 m_ent[MOUNTS_MAX];
	size_t			 m_n;
};

/*
 * tenant-code.cgroup: what one tenant's handlers and apps share, all of
 * them together (policy.c has the format); worker.cgroup, in the same
 * format, what one tenant's workers share (cpu_idle is not read there).
 * Every entry but cpu_idle is required.
 */
#define CGROUP_WEIGHT_MIN	1	/* cgroup v2 cpu.weight's range */
#define CGROUP_WEIGHT_MAX	10000
#define CGROUP_MEMORY_MIN	(16ULL << 20)
#define CGROUP_PIDS_MIN		8

struct cgroup_policy {
	uint64_t	 cg_cpu_weight;	/* v2 cpu.weight; 100: the default */
	uint64_t	 cg_memory;	/* bytes */
	uint64_t	 cg_pids;
	int		 cg_cpu_idle;	/* tenantd-code's cpu.idle; 1 if unset */
};

/* policy.c: pure parsing */
int		 policy_parse(const char *, size_t, struct policy *, char *,
		    size_t);
int		 denylist_parse(const char *, size_t, struct policy *, char *,
		    size_t);
int		 policy_lines(const char *, size_t, int, int, const char *,
		    int (*)(int, int, char [3][48], void *, char *, size_t),
		    void *, char *, size_t);
int		 limits_parse(const char *, size_t, struct limits *, char *,
		    size_t);
const char	*limits_name(int);
int		 cgroup_parse(const char *, size_t, struct cgroup_policy *,
		    char *, size_t);
int		 policy_words(const char **, const char *, char [3][48],
		    int *);
int		 policy_number(const char *, const char *const *,
		    const uint64_t *, uint64_t *);
int		 policy_pairs(const char *, size_t, const char *,
		    int (*)(int, const char *, const char *, void *, char *,
		    size_t), void *, char *, size_t);

/* mounts.c: pure parsing */
int		 mounts_parse(const char *, size_t, struct mounts *, char *,
		    size_t);

/* policy_file.c: reading the files */
/*
 * A handler's sandbox, as tenantd-run builds it and tenantd checks a spare
 * run is still current: the tenant directory's parts under /tenant and
 * their mount flags, and a digest of what the sandbox was made of.
 */
#define RO_FLAGS	(MS_RDONLY | MS_NOSUID | MS_NODEV)
#define RW_FLAGS	(MS_NOSUID | MS_NODEV | MS_NOEXEC)
#define RUN_TENANT_DIRS	5
struct tenant_dir {
	const char	*td_name;
	unsigned long	 td_flags;	/* its bind's mount flags */
};
extern const struct tenant_dir tenant_dirs[RUN_TENANT_DIRS];
void		 mounts_digest(const char *, size_t, const struct mounts *,
		    int, unsigned char [16]);
ssize_t		 policy_file_read(const char *, char *, size_t, char *,
		    size_t);
int		 policy_load(const char *, struct policy *, char *, size_t);
int		 limits_load(const char *, struct limits *, char *, size_t);
int		 denylist_load(const char *, struct policy *, char *, size_t);
int		 cgroup_load(const char *, struct cgroup_policy *, char *,
		    size_t);

/* seccomp.c: turning a policy into a loaded filter */
void		*policy_compile(const struct policy *, char *, size_t);
int		 policy_install(void *, char *, size_t);
void		 policy_release(void *);

#endif
