/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * tenantd-probe: enter the worker's sandbox through the worker's own code
 * (sandbox_prepare, sandbox_enter) and policy files, then make one attempt
 * that the sandbox must stop. test_sandbox.py runs one probe per attempt
 * (as Chromium's and systemd's seccomp tests do: one process per probe,
 * the parent judges the exit status).
 *
 * Exit status: 0 the attempt failed as required, 1 it succeeded (a hole),
 * 2 setup or usage error. A seccomp kill (SIGSYS) is judged by the caller.
 * One line on stderr says what happened. Arguments are chosen so that an
 * allowed call is told apart from a blocked one without side effects
 * (bubblewrap tests/try-syscall.c).
 */
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/openat2.h>
#include <linux/perf_event.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

#include "policy.h"
#include "sandbox.h"

#define PROBE_BLOCKED	0
#define PROBE_HOLE	1
#define PROBE_ERROR	2

#define PROBE_ANY	-1	/* any errno means "blocked" */
#define PROBE_NR_MAX	1024	/* syscall numbers --resolve names */

struct probe {
	struct sandbox_params	 p_sp;
	const char		*p_check;
	const char		*p_arg;
	int			 p_fd;		/* made by a prep function */
	rlim_t			 p_nofile;	/* before the sandbox */
	int			 p_sigsys;	/* --sigsys: handler set */
	char			 p_msg[512];
};

struct check {
	const char	*c_name;
	int		 c_needs_arg;
	int		(*c_prep)(struct probe *);
	int		(*c_run)(struct probe *);
};

static void	 usage(void) __attribute__((__noreturn__));
static void	 probe_exit(struct probe *, int) __attribute__((__noreturn__));
static int	 probe_msg(struct probe *, int, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));

static void
usage(void)
{
	fprintf(stderr, "usage: tenantd-probe --uid uid --gid gid --root dir "
	    "--policy file --limits file\n"
	    "                     [--parent pid] [--sigsys] check [arg]\n"
	    "       tenantd-probe --policy file --resolve\n");
	exit(PROBE_ERROR);
}

/*
 * Only write(2) on fd 2 and exit_group are needed here, and both are on
 * the worker's allowlist.
 */
static void
probe_exit(struct probe *p, int rc)
{
	char	 line[640];
	int	 n;

	fflush(stdout);
	n = snprintf(line, sizeof(line), "tenantd-probe: %s: %s: %s\n",
	    p->p_check, rc == PROBE_BLOCKED ? "blocked" : rc == PROBE_HOLE ?
	    "HOLE" : "error", p->p_msg);
	if (n > 0 && write(STDERR_FILENO, line, (size_t)n < sizeof(line) ?
	    (size_t)n : sizeof(line) - 1) == -1) {
		/* Nowhere left to say it; the exit status still counts. */
	}
	_exit(rc);
}

static int
probe_msg(struct probe *p, int rc, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(p->p_msg, sizeof(p->p_msg), fmt, ap);
	va_end(ap);
	return rc;
}

/*
 * Judge a syscall's result: success is a hole; errno e1 or e2 (or any errno
 * with PROBE_ANY) means blocked; another errno gives `other`, which is a
 * hole when it shows the call got past the check that should stop it.
 */
static int
outcome(struct probe *p, long ret, int saved, const char *what, int other,
    int e1, int e2)
{
	if (ret != -1)
		return probe_msg(p, PROBE_HOLE, "%s succeeded (returned %ld)",
		    what, ret);
	if (e1 == PROBE_ANY || saved == e1 || saved == e2)
		return probe_msg(p, PROBE_BLOCKED, "%s: %s", what,
		    strerror(saved));
	return probe_msg(p, other, "%s: unexpected %s", what,
	    strerror(saved));
}

static int
arg_long(struct probe *p, long *out)
{
	char	*ep;

	errno = 0;
	*out = strtol(p->p_arg, &ep, 0);
	if (errno != 0 || ep == p->p_arg || *ep != '\0')
		return -1;
	return 0;
}

static long
probe_openat2(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how	 how;

	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)(flags | O_CLOEXEC);
	how.mode = (flags & O_CREAT) ? mode : 0;
	return syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

/*
 * docs/security.md, items 1, 6: a file outside the jail, by its host path, is
 * not there.
 */
static int
check_readfile(struct probe *p)
{
	char	 c = 0;
	long	 fd;
	ssize_t	 n;

	if ((fd = probe_openat2(AT_FDCWD, p->p_arg, O_RDONLY, 0)) != -1) {
		n = read((int)fd, &c, 1);
		return probe_msg(p, PROBE_HOLE, "opened %s, read %zd: %#x",
		    p->p_arg, n, (unsigned char)c);
	}
	return outcome(p, fd, errno, p->p_arg, PROBE_ERROR, ENOENT, EACCES);
}

/*
 * docs/security.md, items 3-4: ".." from the jail root is the jail root. ARG
 * is the jail's "dev:ino" as the host sees it; getdents is not on the
 * allowlist, so the directory is compared by identity instead of by listing.
 */
static int
check_dotdot(struct probe *p)
{
	static const char *const paths[] = { "..", "../../..",
	    "/../../../../..", "public/../../..", NULL };
	struct stat		 st;
	unsigned long long	 dev, ino;
	long			 fd;
	int			 i;
	char			 c;

	if (sscanf(p->p_arg, "%llu:%llu%c", &dev, &ino, &c) != 2)
		return probe_msg(p, PROBE_ERROR, "bad dev:ino %s", p->p_arg);
	for (i = 0; paths[i] != NULL; i++) {
		if ((fd = probe_openat2(AT_FDCWD, paths[i],
		    O_PATH | O_DIRECTORY, 0)) == -1)
			return probe_msg(p, PROBE_ERROR, "open %s: %s",
			    paths[i], strerror(errno));
		if (fstat((int)fd, &st) == -1)
			return probe_msg(p, PROBE_ERROR, "fstat %s: %s",
			    paths[i], strerror(errno));
		close((int)fd);
		if ((unsigned long long)st.st_dev != dev ||
		    (unsigned long long)st.st_ino != ino)
			return probe_msg(p, PROBE_HOLE, "%s is %llu:%llu, "
			    "outside the jail %llu:%llu", paths[i],
			    (unsigned long long)st.st_dev,
			    (unsigned long long)st.st_ino, dev, ino);
	}
	return probe_msg(p, PROBE_BLOCKED, "every \"..\" stays at the jail "
	    "root %llu:%llu", dev, ino);
}

/*
 * docs/security.md, item 5: the jail root is root's; the tenant cannot plant
 * files in it.
 */
static int
check_ocreat(struct probe *p)
{
	long	 fd;

	fd = probe_openat2(AT_FDCWD, "/probe-planted",
	    O_WRONLY | O_CREAT | O_EXCL, 0644);
	return outcome(p, fd, errno, "create /probe-planted", PROBE_ERROR,
	    EACCES, EPERM);
}

static int
prep_fsize(struct probe *p)
{
	struct sigaction sa;

	/* We want EFBIG from write(2), not death by SIGXFSZ. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	return sigaction(SIGXFSZ, &sa, NULL);
}

/*
 * docs/security.md, item 43: RLIMIT_FSIZE from the limits file holds, to the
 * byte. ARG is a file the test made one byte short of the limit (lseek is not
 * on the allowlist): one more byte is allowed, the next is not.
 */
static int
check_fsize(struct probe *p)
{
	struct stat	 st;
	rlim_t		 lim = RLIM_INFINITY;
	size_t		 i;
	long		 fd;
	ssize_t		 n;

	for (i = 0; i < p->p_sp.sp_limits.l_n; i++)
		if (p->p_sp.sp_limits.l_ent[i].pl_resource == RLIMIT_FSIZE)
			lim = p->p_sp.sp_limits.l_ent[i].pl_value;
	if (lim == RLIM_INFINITY || lim == 0)
		return probe_msg(p, PROBE_HOLE, "the limits file sets no "
		    "finite fsize");
	if ((fd = probe_openat2(AT_FDCWD, p->p_arg, O_WRONLY | O_APPEND,
	    0)) == -1 || fstat((int)fd, &st) == -1)
		return probe_msg(p, PROBE_ERROR, "%s: %s", p->p_arg,
		    strerror(errno));
	if ((rlim_t)st.st_size != lim - 1)
		return probe_msg(p, PROBE_ERROR, "%s has %lld bytes, not fsize "
		    "%llu - 1", p->p_arg, (long long)st.st_size,
		    (unsigned long long)lim);
	if (write((int)fd, "x", 1) != 1)
		return probe_msg(p, PROBE_ERROR, "write of the last allowed "
		    "byte: %s", strerror(errno));
	n = write((int)fd, "x", 1);
	return outcome(p, n, errno, "write past fsize", PROBE_ERROR, EFBIG, 0);
}

/* docs/security.md, item 4 */
static int
check_chroot(struct probe *p)
{
	long	 r = chroot(".");

	return outcome(p, r, errno, "chroot(\".\")", PROBE_ERROR, EPERM, 0);
}

/*
 * docs/security.md, item 14: raw syscalls, so libc's setxid broadcast plays no
 * part.
 */
static int
check_setuid(struct probe *p)
{
	long	 r = syscall(SYS_setuid, 0);

	return outcome(p, r, errno, "setuid(0)", PROBE_ERROR, EPERM, 0);
}

static int
check_setresuid(struct probe *p)
{
	long	 r = syscall(SYS_setresuid, -1, 0, -1);

	return outcome(p, r, errno, "setresuid(-1, 0, -1)", PROBE_ERROR,
	    EPERM, 0);
}

static int
check_setgid(struct probe *p)
{
	long	 r = syscall(SYS_setgid, 0);

	return outcome(p, r, errno, "setgid(0)", PROBE_ERROR, EPERM, 0);
}

static int
check_setgroups(struct probe *p)
{
	gid_t	 g = 0;
	long	 r = syscall(SYS_setgroups, 1, &g);

	return outcome(p, r, errno, "setgroups({0})", PROBE_ERROR, EPERM, 0);
}

/* docs/security.md, item 15: ask for every capability back. */
static int
check_capset(struct probe *p)
{
	struct __user_cap_header_struct	 hdr;
	struct __user_cap_data_struct	 data[2];
	long				 r;

	memset(&hdr, 0, sizeof(hdr));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	memset(data, 0xff, sizeof(data));
	r = syscall(SYS_capset, &hdr, data);
	return outcome(p, r, errno, "capset(all)", PROBE_ERROR, EPERM, 0);
}

/* docs/security.md, item 16: KEEP_CAPS is locked off. */
static int
check_keepcaps(struct probe *p)
{
	long	 r = prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);

	return outcome(p, r, errno, "PR_SET_KEEPCAPS", PROBE_ERROR, EPERM, 0);
}

static const struct {
	const char	*name;
	int		 family;
	int		 type;
} families[] = {
	{ "inet", AF_INET, SOCK_STREAM }, { "inet6", AF_INET6, SOCK_STREAM },
	{ "unix", AF_UNIX, SOCK_STREAM }, { "netlink", AF_NETLINK, SOCK_RAW },
	{ "packet", AF_PACKET, SOCK_RAW }, { "alg", AF_ALG, SOCK_SEQPACKET },
	{ "vsock", AF_VSOCK, SOCK_STREAM }, { "udp", AF_INET, SOCK_DGRAM },
	{ NULL, 0, 0 }
};

static int
family_lookup(const char *name)
{
	int	 i;

	for (i = 0; families[i].name != NULL; i++)
		if (strcmp(families[i].name, name) == 0)
			return i;
	return -1;
}

/*
 * docs/security.md, items 10, 30: a worker receives its sockets; it makes
 * none.
 */
static int
check_socket(struct probe *p)
{
	char	 what[64];
	long	 r;
	int	 i, e;

	if ((i = family_lookup(p->p_arg)) == -1)
		return probe_msg(p, PROBE_ERROR, "unknown family %s",
		    p->p_arg);
	r = socket(families[i].family, families[i].type | SOCK_CLOEXEC, 0);
	e = errno;
	snprintf(what, sizeof(what), "socket(%s)", p->p_arg);
	return outcome(p, r, e, what, PROBE_ERROR, PROBE_ANY, 0);
}

static int
check_socketpair(struct probe *p)
{
	char	 what[64];
	int	 sv[2], i, e;
	long	 r;

	if ((i = family_lookup(p->p_arg)) == -1)
		return probe_msg(p, PROBE_ERROR, "unknown family %s",
		    p->p_arg);
	r = socketpair(families[i].family, families[i].type | SOCK_CLOEXEC,
	    0, sv);
	e = errno;
	snprintf(what, sizeof(what), "socketpair(%s)", p->p_arg);
	return outcome(p, r, e, what, PROBE_ERROR, PROBE_ANY, 0);
}

/*
 * docs/security.md, item 10: abstract names ignore chroot. A worker cannot
 * make a socket, so the probe makes one before the sandbox (standing in for
 * one that leaked) and tries connect(2) itself on the listener the test set
 * up.
 */
static int
prep_connect(struct probe *p)
{
	struct sockaddr_un	 sun;

	if (strlen(p->p_arg) + 1 > sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	p->p_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return p->p_fd == -1 ? -1 : 0;
}

static int
check_connect(struct probe *p)
{
	struct sockaddr_un	 sun;
	socklen_t		 len;
	long			 r;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path + 1, p->p_arg, strlen(p->p_arg));
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
	    strlen(p->p_arg));
	r = connect(p->p_fd, (struct sockaddr *)&sun, len);
	return outcome(p, r, errno, "connect(abstract)", PROBE_ERROR,
	    PROBE_ANY, 0);
}

/* docs/security.md, items 34-35: other processes are out of reach. */
static int
check_ptrace(struct probe *p)
{
	long	 pid, r;

	if (arg_long(p, &pid) == -1)
		return probe_msg(p, PROBE_ERROR, "bad pid %s", p->p_arg);
	r = ptrace(PTRACE_ATTACH, (pid_t)pid, NULL, NULL);
	if (r == 0)
		(void)ptrace(PTRACE_DETACH, (pid_t)pid, NULL, NULL);
	return outcome(p, r, errno, "PTRACE_ATTACH", PROBE_ERROR, EPERM, 0);
}

static int
check_vmread(struct probe *p)
{
	struct iovec	 local, remote;
	char		 buf[8];
	long		 pid, r;

	if (arg_long(p, &pid) == -1)
		return probe_msg(p, PROBE_ERROR, "bad pid %s", p->p_arg);
	local.iov_base = buf;
	local.iov_len = sizeof(buf);
	remote.iov_base = (void *)0x10000;
	remote.iov_len = sizeof(buf);
	r = process_vm_readv((pid_t)pid, &local, 1, &remote, 1, 0);
	/* EFAULT: permitted, the address just was not mapped. */
	return outcome(p, r, errno, "process_vm_readv", PROBE_HOLE, EPERM, 0);
}

static int
check_kill(struct probe *p)
{
	long	 pid, r;

	if (arg_long(p, &pid) == -1)
		return probe_msg(p, PROBE_ERROR, "bad pid %s", p->p_arg);
	r = kill((pid_t)pid, 0);
	/* kill(-1) finds nobody of ours to signal: ESRCH is the answer. */
	return outcome(p, r, errno, "kill(pid, 0)", PROBE_ERROR, EPERM,
	    pid == -1 ? ESRCH : EPERM);
}

/*
 * docs/security.md, item 29. "." in the jail is no mount point: a privileged
 * caller would get EINVAL, so anything but EPERM shows the privilege check
 * passed.
 */
static int
check_mount(struct probe *p)
{
	long	 r;

	r = mount(NULL, ".", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);
	return outcome(p, r, errno, "mount", PROBE_HOLE, EPERM, 0);
}

static int
check_umount(struct probe *p)
{
	long	 r = umount2(".", MNT_DETACH);

	return outcome(p, r, errno, "umount2", PROBE_HOLE, EPERM, 0);
}

static const struct {
	const char	*name;
	int		 flag;
} namespaces[] = {
	{ "user", CLONE_NEWUSER }, { "mnt", CLONE_NEWNS },
	{ "net", CLONE_NEWNET }, { "pid", CLONE_NEWPID },
	{ "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS },
	{ "cgroup", CLONE_NEWCGROUP }, { NULL, 0 }
};

/*
 * docs/security.md, item 27. A chrooted caller may not even make a user
 * namespace.
 */
static int
check_unshare(struct probe *p)
{
	char	 what[64];
	long	 r;
	int	 i, e;

	for (i = 0; namespaces[i].name != NULL; i++)
		if (strcmp(namespaces[i].name, p->p_arg) == 0)
			break;
	if (namespaces[i].name == NULL)
		return probe_msg(p, PROBE_ERROR, "unknown namespace %s",
		    p->p_arg);
	r = unshare(namespaces[i].flag);
	e = errno;
	snprintf(what, sizeof(what), "unshare(%s)", p->p_arg);
	return outcome(p, r, e, what, PROBE_ERROR, EPERM, 0);
}

/* A namespace descriptor, opened while still root outside the jail. */
static int
prep_setns(struct probe *p)
{
	p->p_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	return p->p_fd == -1 ? -1 : 0;
}

static int
check_setns(struct probe *p)
{
	long	 r = setns(p->p_fd, CLONE_NEWNET);

	return outcome(p, r, errno, "setns(net)", PROBE_ERROR, EPERM, 0);
}

/* docs/security.md, item 26: ring operations would never meet the filter. */
static int
check_io_uring(struct probe *p)
{
	struct io_uring_params	 par;
	long			 r;

	memset(&par, 0, sizeof(par));
	r = syscall(SYS_io_uring_setup, 2, &par);
	return outcome(p, r, errno, "io_uring_setup", PROBE_ERROR, PROBE_ANY,
	    0);
}

/* struct clone_args, version 0 (64 bytes); <linux/sched.h> clashes. */
struct probe_clone_args {
	uint64_t	 ca_flags;
	uint64_t	 ca_pidfd;
	uint64_t	 ca_child_tid;
	uint64_t	 ca_parent_tid;
	uint64_t	 ca_exit_signal;
	uint64_t	 ca_stack;
	uint64_t	 ca_stack_size;
	uint64_t	 ca_tls;
};

/*
 * docs/security.md, items 27, 40: no new process, by seccomp or by
 * RLIMIT_NPROC.
 */
static int
check_clone3(struct probe *p)
{
	struct probe_clone_args	 ca;
	long			 r;

	memset(&ca, 0, sizeof(ca));
	ca.ca_exit_signal = SIGCHLD;
	r = syscall(SYS_clone3, &ca, sizeof(ca));
	if (r == 0)
		syscall(SYS_exit_group, 0);
	return outcome(p, r, errno, "clone3", PROBE_ERROR, PROBE_ANY, 0);
}

static int
check_fork(struct probe *p)
{
	long	 r = fork();

	if (r == 0)
		_exit(0);
	return outcome(p, r, errno, "fork", PROBE_ERROR, PROBE_ANY, 0);
}

/* docs/security.md, item 29 */
static int
check_bpf(struct probe *p)
{
	union bpf_attr	 attr;
	long		 r;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_ARRAY;
	attr.key_size = 4;
	attr.value_size = 4;
	attr.max_entries = 1;
	r = syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
	return outcome(p, r, errno, "bpf(BPF_MAP_CREATE)", PROBE_ERROR,
	    PROBE_ANY, 0);
}

static int
check_perf(struct probe *p)
{
	struct perf_event_attr	 attr;
	long			 r;

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_CPU_CLOCK;
	attr.disabled = 1;
	attr.exclude_kernel = 1;
	attr.exclude_hv = 1;
	r = syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
	return outcome(p, r, errno, "perf_event_open", PROBE_ERROR,
	    PROBE_ANY, 0);
}

static int
check_keyctl(struct probe *p)
{
	long	 r;

	r = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID,
	    KEY_SPEC_SESSION_KEYRING, 0);
	return outcome(p, r, errno, "keyctl(GET_KEYRING_ID)", PROBE_ERROR,
	    PROBE_ANY, 0);
}

/* 0xffffffff only queries the persona. */
static int
check_personality(struct probe *p)
{
	long	 r = personality(0xffffffff);

	return outcome(p, r, errno, "personality", PROBE_ERROR, PROBE_ANY, 0);
}

/*
 * docs/security.md, item 21: the i386 entry point. getpid is 20 there (39
 * natively); an answer of any kind means the filter let a foreign architecture
 * through.
 */
static int
check_int80(struct probe *p)
{
#if defined(__x86_64__)
	long	 r;

	__asm__ volatile ("int $0x80" : "=a" (r) : "a" (20L)
	    : "memory", "r8", "r9", "r10", "r11");
	return probe_msg(p, PROBE_HOLE, "int $0x80 getpid returned %ld", r);
#else
	return probe_msg(p, PROBE_ERROR, "x86_64 only");
#endif
}

/*
 * docs/security.md, item 22: x32 getpid. ENOSYS is a hole too: the filter must
 * kill.
 */
static int
check_x32(struct probe *p)
{
#if defined(__x86_64__)
	long	 r = syscall(0x40000000L | 39);

	return probe_msg(p, PROBE_HOLE, "x32 getpid returned %ld (%s)", r,
	    r == -1 ? strerror(errno) : "no error");
#else
	return probe_msg(p, PROBE_ERROR, "x86_64 only");
#endif
}

/*
 * docs/security.md, items 24-25: fd 0 is a pty the test holds the other end
 * of.
 */
static int
check_tiocsti(struct probe *p)
{
	char	 c = 'x';
	long	 r = ioctl(STDIN_FILENO, TIOCSTI, &c);

	return outcome(p, r, errno, "ioctl(TIOCSTI)", PROBE_ERROR, PROBE_ANY,
	    0);
}

static int
check_tiocsti_high(struct probe *p)
{
	char		 c = 'x';
	unsigned long	 req = (0x123UL << 32) | (unsigned long)TIOCSTI;
	long		 r = syscall(SYS_ioctl, STDIN_FILENO, req, &c);

	return outcome(p, r, errno, "ioctl((0x123<<32)|TIOCSTI)",
	    PROBE_ERROR, PROBE_ANY, 0);
}

/*
 * docs/security.md, item 11: a real fault, not raise(3), which needs tgkill.
 * The caller checks that no core file appears and that the status has no core
 * flag.
 */
static int
check_segv(struct probe *p)
{
	volatile int *volatile	 nowhere = NULL;

	*nowhere = 1;
	return probe_msg(p, PROBE_ERROR, "survived a write to NULL");
}

/*
 * docs/security.md, item 28: one syscall number with junk arguments must be
 * killed.
 */
static int
check_rawsyscall(struct probe *p)
{
	long	 nr, r;

	if (arg_long(p, &nr) == -1)
		return probe_msg(p, PROBE_ERROR, "bad syscall number %s",
		    p->p_arg);
	r = syscall(nr, -1L, -1L, -1L, -1L, -1L, -1L);
	return probe_msg(p, PROBE_HOLE, "syscall %ld returned %ld (%s)", nr,
	    r, r == -1 ? strerror(errno) : "no error");
}

/*
 * docs/security.md, item 23: a thread started before the filter (so it has
 * none) sleeps and then reports a hole; the main thread makes a forbidden
 * call. With KILL_PROCESS the whole process dies at once and the report never
 * comes; KILL_THREAD would kill the caller only.
 */
static void *
probe_survivor(void *arg)
{
	struct probe	*p = arg;
	struct timespec	 ts = { 2, 0 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	probe_msg(p, PROBE_HOLE, "the other thread outlived the violation");
	probe_exit(p, PROBE_HOLE);
}

static int
prep_killprocess(struct probe *p)
{
	pthread_t	 t;

	if ((errno = pthread_create(&t, NULL, probe_survivor, p)) != 0)
		return -1;
	return 0;
}

static int
check_killprocess(struct probe *p)
{
	long	 r = syscall(SYS_setuid, 0);

	return probe_msg(p, PROBE_HOLE, "setuid(0) was not killed (%ld)", r);
}

/*
 * The --sigsys handler. It only runs if a filter answered a syscall with
 * SIGSYS instead of killing: write(2) and exit_group are allowed, and it
 * never returns, because rt_sigreturn is not.
 */
static void
probe_sigsys(int sig, siginfo_t *si, void *uc)
{
	char	 line[128];
	int	 n;

	n = snprintf(line, sizeof(line), "tenantd-probe: HOLE: SIGSYS handler "
	    "ran: syscall %d arch %#x\n", si->si_syscall, si->si_arch);
	if (n > 0 && write(STDERR_FILENO, line, (size_t)n < sizeof(line) ?
	    (size_t)n : sizeof(line) - 1) == -1) {
		/* The exit status still tells. */
	}
	_exit(PROBE_HOLE);
}

static int
probe_sigsys_install(void)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = probe_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSYS, &sa, NULL);
}

/*
 * The control for --sigsys: a second filter of our own, loaded before the
 * sandbox's, that traps getpid, which the worker's allowlist allows. The
 * kernel runs both filters and the stricter answer wins, so getpid traps:
 * the handler must run inside the sandbox, or the tests that see it not
 * run prove nothing.
 */
static int
prep_trapcontrol(struct probe *p)
{
	scmp_filter_ctx	 ctx;
	int		 rc;

	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) != 0 ||
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(getpid),
	    0)) != 0 || (rc = seccomp_load(ctx)) != 0) {
		seccomp_release(ctx);
		errno = -rc;
		return -1;
	}
	seccomp_release(ctx);
	return 0;
}

static int
check_trapcontrol(struct probe *p)
{
	long	 r = syscall(SYS_getpid);

	return probe_msg(p, PROBE_BLOCKED, "getpid returned %ld, no SIGSYS", r);
}

/* Reached only if every sandbox step succeeded (the fault-injection runs). */
static int
check_noop(struct probe *p)
{
	return probe_msg(p, PROBE_BLOCKED, "check reached");
}

static int
prep_dump(struct probe *p)
{
	struct rlimit	 rl;

	/* fds opened above a later, lower RLIMIT_NOFILE would stay open. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -1;
	p->p_nofile = rl.rlim_max == RLIM_INFINITY ? 1048576 : rl.rlim_max;
	return 0;
}

/*
 * The state a worker is left in, as JSON on stdout, from the syscalls
 * alone: there is no /proc in the jail. It needs getters the worker does
 * not (getresuid, capget, prctl, prlimit64, getcwd...), so the test runs
 * it with a copy of the policy that allows them as well; the state itself
 * was set before the filter was loaded.
 */
static int
check_dump(struct probe *p)
{
	struct __user_cap_header_struct	 hdr;
	struct __user_cap_data_struct	 data[2];
	struct rlimit			 rl;
	struct stat			 root, up, st;
	uid_t				 ru, eu, su;
	gid_t				 rg, eg, sg;
	char				 cwd[PATH_MAX];
	const char			*sep;
	int				 i, sig;
	rlim_t				 fd;

	memset(&hdr, 0, sizeof(hdr));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1 ||
	    syscall(SYS_capget, &hdr, data) == -1 ||
	    prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0) == -1 ||
	    getcwd(cwd, sizeof(cwd)) == NULL ||
	    stat("/", &root) == -1 || stat("..", &up) == -1)
		return probe_msg(p, PROBE_ERROR, "dump: %s", strerror(errno));
	printf("{\"uid\": [%u, %u, %u], \"gid\": [%u, %u, %u], "
	    "\"ngroups\": %d,\n", ru, eu, su, rg, eg, sg, getgroups(0, NULL));
	printf(" \"cap_effective\": %llu, \"cap_permitted\": %llu, "
	    "\"cap_inheritable\": %llu,\n",
	    (unsigned long long)data[0].effective |
	    (unsigned long long)data[1].effective << 32,
	    (unsigned long long)data[0].permitted |
	    (unsigned long long)data[1].permitted << 32,
	    (unsigned long long)data[0].inheritable |
	    (unsigned long long)data[1].inheritable << 32);
	printf(" \"cap_bounding\": [");
	for (i = 0, sep = ""; i < 64; i++)
		if (prctl(PR_CAPBSET_READ, i, 0, 0, 0) == 1) {
			printf("%s%d", sep, i);
			sep = ", ";
		}
	printf("], \"cap_ambient\": [");
	for (i = 0, sep = ""; i < 64; i++)
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, i, 0, 0) ==
		    1) {
			printf("%s%d", sep, i);
			sep = ", ";
		}
	printf("],\n \"securebits\": %d, \"no_new_privs\": %d, "
	    "\"dumpable\": %d, \"seccomp\": %d, \"pdeathsig\": %d, "
	    "\"keepcaps\": %d,\n", prctl(PR_GET_SECUREBITS, 0, 0, 0, 0),
	    prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0),
	    prctl(PR_GET_DUMPABLE, 0, 0, 0, 0),
	    prctl(PR_GET_SECCOMP, 0, 0, 0, 0), sig,
	    prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0));
	printf(" \"rlimits\": {");
	for (i = 0, sep = ""; i < RLIM_NLIMITS; i++) {
		if (getrlimit(i, &rl) == -1)
			continue;
		if (strcmp(limits_name(i), "unknown") == 0)
			printf("%s\"%d\": ", sep, i);
		else
			printf("%s\"%s\": ", sep, limits_name(i));
		printf("[%llu, %llu]", (unsigned long long)rl.rlim_cur,
		    (unsigned long long)rl.rlim_max);
		sep = ", ";
	}
	printf("},\n \"cwd\": \"%s\", \"root\": [%llu, %llu], "
	    "\"dotdot\": [%llu, %llu],\n", cwd,
	    (unsigned long long)root.st_dev, (unsigned long long)root.st_ino,
	    (unsigned long long)up.st_dev, (unsigned long long)up.st_ino);
	printf(" \"ppid\": %d, \"fds\": {", (int)getppid());
	for (fd = 0, sep = ""; fd < p->p_nofile; fd++) {
		if (fcntl((int)fd, F_GETFD) == -1)
			continue;
		if (fstat((int)fd, &st) == -1)
			return probe_msg(p, PROBE_ERROR, "fstat %llu: %s",
			    (unsigned long long)fd, strerror(errno));
		printf("%s\"%llu\": [%u, %llu]", sep, (unsigned long long)fd,
		    (unsigned int)st.st_mode, (unsigned long long)st.st_rdev);
		sep = ", ";
	}
	printf("}}\n");
	return probe_msg(p, PROBE_BLOCKED, "state dumped");
}

static const struct check checks[] = {
	{ "readfile", 1, NULL, check_readfile },
	{ "dotdot", 1, NULL, check_dotdot },
	{ "ocreat", 0, NULL, check_ocreat },
	{ "fsize", 1, prep_fsize, check_fsize },
	{ "chroot", 0, NULL, check_chroot },
	{ "setuid", 0, NULL, check_setuid },
	{ "setresuid", 0, NULL, check_setresuid },
	{ "setgid", 0, NULL, check_setgid },
	{ "setgroups", 0, NULL, check_setgroups },
	{ "capset", 0, NULL, check_capset },
	{ "keepcaps", 0, NULL, check_keepcaps },
	{ "socket", 1, NULL, check_socket },
	{ "socketpair", 1, NULL, check_socketpair },
	{ "connect", 1, prep_connect, check_connect },
	{ "ptrace", 1, NULL, check_ptrace },
	{ "vmread", 1, NULL, check_vmread },
	{ "kill", 1, NULL, check_kill },
	{ "mount", 0, NULL, check_mount },
	{ "umount", 0, NULL, check_umount },
	{ "unshare", 1, NULL, check_unshare },
	{ "setns", 0, prep_setns, check_setns },
	{ "io_uring", 0, NULL, check_io_uring },
	{ "clone3", 0, NULL, check_clone3 },
	{ "fork", 0, NULL, check_fork },
	{ "bpf", 0, NULL, check_bpf },
	{ "perf", 0, NULL, check_perf },
	{ "keyctl", 0, NULL, check_keyctl },
	{ "personality", 0, NULL, check_personality },
	{ "int80", 0, NULL, check_int80 },
	{ "x32", 0, NULL, check_x32 },
	{ "tiocsti", 0, NULL, check_tiocsti },
	{ "tiocsti-high", 0, NULL, check_tiocsti_high },
	{ "segv", 0, NULL, check_segv },
	{ "rawsyscall", 1, NULL, check_rawsyscall },
	{ "killprocess", 0, prep_killprocess, check_killprocess },
	{ "dump", 0, prep_dump, check_dump },
	{ "noop", 0, NULL, check_noop },
	{ "trapcontrol", 0, prep_trapcontrol, check_trapcontrol },
	{ NULL, 0, NULL, NULL }
};

/*
 * What the policy file resolves to, for the test to know which syscall
 * numbers must be killed: the rules, and every native number libseccomp
 * can name.
 */
static int
resolve(const char *path)
{
	struct policy	*pol;
	char		 err[512], *name;
	const char	*sep;
	size_t		 i;
	int		 nr;

	if ((pol = malloc(sizeof(*pol))) == NULL) {
		perror("tenantd-probe: malloc");
		return PROBE_ERROR;
	}
	if (policy_load(path, pol, err, sizeof(err)) == -1) {
		fprintf(stderr, "tenantd-probe: %s\n", err);
		free(pol);
		return PROBE_ERROR;
	}
	printf("{\"rules\": {");
	for (i = 0, sep = ""; i < pol->p_nrules; i++, sep = ", ")
		printf("%s\"%d\": [\"%s\", %d]", sep, pol->p_rules[i].pr_nr,
		    pol->p_rules[i].pr_name, pol->p_rules[i].pr_errno);
	printf("},\n \"native\": {");
	for (nr = 0, sep = ""; nr < PROBE_NR_MAX; nr++) {
		name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
		if (name == NULL)
			continue;
		printf("%s\"%d\": \"%s\"", sep, nr, name);
		free(name);
		sep = ", ";
	}
	printf("}}\n");
	free(pol);
	return 0;
}

static long
num_arg(const char *s, long min, long max)
{
	char	*ep;
	long	 v;

	errno = 0;
	v = strtol(s, &ep, 10);
	if (errno != 0 || ep == s || *ep != '\0' || v < min || v > max)
		usage();
	return v;
}

int
main(int argc, char *argv[])
{
	struct probe		 probe, *p = &probe;
	struct sandbox		 sb;
	const struct check	*c;
	const char		*limits = NULL;
	char			 err[512];
	int			 i, do_resolve = 0, have_uid = 0, have_gid = 0;

	memset(p, 0, sizeof(*p));
	p->p_fd = -1;
	p->p_check = "setup";
	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--resolve") == 0) {
			do_resolve = 1;
			continue;
		}
		if (strcmp(argv[i], "--sigsys") == 0) {
			p->p_sigsys = 1;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--uid") == 0) {
			p->p_sp.sp_uid = (uid_t)num_arg(argv[++i], 0,
			    UINT32_MAX - 1);
			have_uid = 1;
		} else if (strcmp(argv[i], "--gid") == 0) {
			p->p_sp.sp_gid = (gid_t)num_arg(argv[++i], 0,
			    UINT32_MAX - 1);
			have_gid = 1;
		} else if (strcmp(argv[i], "--parent") == 0)
			p->p_sp.sp_parent = (pid_t)num_arg(argv[++i], 1,
			    INT32_MAX);
		else if (strcmp(argv[i], "--root") == 0) {
			if (strlen(argv[++i]) >= sizeof(p->p_sp.sp_root))
				usage();
			strcpy(p->p_sp.sp_root, argv[i]);
		} else if (strcmp(argv[i], "--policy") == 0) {
			if (strlen(argv[++i]) >= sizeof(p->p_sp.sp_policy))
				usage();
			strcpy(p->p_sp.sp_policy, argv[i]);
		} else if (strcmp(argv[i], "--limits") == 0)
			limits = argv[++i];
		else
			usage();
	}
	if (do_resolve) {
		if (i != argc || p->p_sp.sp_policy[0] == '\0')
			usage();
		return resolve(p->p_sp.sp_policy);
	}
	if (!have_uid || !have_gid || p->p_sp.sp_root[0] == '\0' ||
	    p->p_sp.sp_policy[0] == '\0' || limits == NULL || i >= argc)
		usage();
	for (c = checks; c->c_name != NULL; c++)
		if (strcmp(c->c_name, argv[i]) == 0)
			break;
	if (c->c_name == NULL || argc - i != 1 + c->c_needs_arg)
		usage();
	p->p_arg = c->c_needs_arg ? argv[i + 1] : NULL;

	/* The same order as tenantd-worker's main(). */
	if (limits_load(limits, &p->p_sp.sp_limits, err, sizeof(err)) == -1) {
		probe_msg(p, PROBE_ERROR, "limits: %s", err);
		probe_exit(p, PROBE_ERROR);
	}
	if (sandbox_prepare(&sb, &p->p_sp, err, sizeof(err)) == -1) {
		probe_msg(p, PROBE_ERROR, "sandbox: %s", err);
		probe_exit(p, PROBE_ERROR);
	}
	if (p->p_sigsys && probe_sigsys_install() == -1) {
		probe_msg(p, PROBE_ERROR, "sigaction: %s", strerror(errno));
		probe_exit(p, PROBE_ERROR);
	}
	if (c->c_prep != NULL && c->c_prep(p) == -1) {
		probe_msg(p, PROBE_ERROR, "prep %s: %s", c->c_name,
		    strerror(errno));
		probe_exit(p, PROBE_ERROR);
	}
	if (sandbox_enter(&sb, &p->p_sp, err, sizeof(err)) == -1) {
		probe_msg(p, PROBE_ERROR, "sandbox: %s", err);
		probe_exit(p, PROBE_ERROR);
	}
	p->p_check = c->c_name;
	probe_exit(p, c->c_run(p));
}
