/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * tenantd-run, the parent side. The supervisor (root) spawns it with
 *
 *	fd 3	a SOCK_SEQPACKET socket carrying one MSG_RUN_SPEC (proto.h),
 *		then MSG_RUN_GO with the program's stdio (or an app's
 *		listening socket), and back MSG_RUN_SANDBOX if the child
 *		builds a sandbox
 *	fd 5, 6	with RUN_SPEC_SANDBOX, the tenant's mount and network
 *		namespaces that an earlier run built (6: without network)
 *	0, 1	/dev/null
 *	2	a pipe tenantd reads (supervisor/privrun.c, runlog_line()):
 *		our failures, one line each, "<priority>text" (run_log_sink)
 *
 * no arguments and no environment. We read and check the spec and every
 * file the sandbox needs while we still see the host, make a new PID
 * namespace, fork the child that becomes its init and then the handler
 * (jail.c). The child is ready before the request is: it waits, sandboxed
 * and as the tenant, for MSG_RUN_GO. We exit with the child's status:
 * the handler's own, 128 + N
 * if signal N killed it, RUN_EXIT_SETUP or RUN_EXIT_EXEC if it never ran.
 * Killing us kills the child, and with it the namespace: every process the
 * handler started.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>


#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>
#include <sodium.h>

#include "msgdec.h"
#include "privdrop.h"
#include "run.h"
#include "runarg.h"
#include "sys.h"

#define RUN_SPEC_WAIT_MS	10000

/*
 * Namespace flags a handler's clone() may not carry. Plain fork and thread
 * creation pass; a user namespace in particular would hand back every
 * capability (after pivot_root the handler is not "chrooted", which is
 * what stops unprivileged user namespaces in the worker's jail).
 */
static const unsigned long clone_denied[] = {
	CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC,
	CLONE_NEWUTS, CLONE_NEWCGROUP,
};

/* Families above every kernel's AF_MAX fail in the kernel itself. */
#define RUN_AF_LIMIT		64

static void
run_reset_signals(void)
{
	struct sigaction	 sa;
	sigset_t		 none;
	int			 sig;

	/* A mask or an ignored SIGTERM from the spawner would survive exec. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		if (sigaction(sig, &sa, NULL) == -1 && errno != EINVAL)
			DIE("sigaction %d", sig);
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) == -1)
		DIE("sigprocmask");
}

static void
run_check_fd(int fd, int type)
{
	socklen_t	 len = sizeof(int);
	int		 t;

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &t, &len) == -1 || t != type)
		DIEX("fd %d is not the %s socket tenantd passes", fd,
		    type == SOCK_SEQPACKET ? "SEQPACKET" : "STREAM");
}

/*
 * A persistent app's fd 4 is the supervisor's listening socket, which it
 * keeps across the app's restarts. A connected socket here would give an
 * app that can never accept: refuse it now, not as a hung request later.
 */
static void
run_check_listening(int fd)
{
	socklen_t	 len = sizeof(int);
	int		 on;

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == -1 ||
	    on != 1)
		DIEX("fd %d is not the listening socket a persistent app needs",
		    fd);
}

static void
run_spec_read(struct run_spec *rs)
{
	static uint8_t			 buf[PROTO_MSG_MAX];
	static char			 tag[16 + PROTO_STR_MAX];
	static struct msg_run_spec	 mr;
	struct pollfd			 pfd;
	struct msg			 m;
	ssize_t				 n;
	char				 err[256], *e;
	int				 fd;

	pfd.fd = PROTO_CHAN_FD;
	pfd.events = POLLIN;
	if ((n = poll(&pfd, 1, RUN_SPEC_WAIT_MS)) != 1)
		DIEX("no run spec on fd %d", PROTO_CHAN_FD);
	if ((n = msg_recv(PROTO_CHAN_FD, buf, sizeof(buf), &fd)) <= 0)
		DIEX("run spec: cannot receive it");
	/*
	 * MSG_RUN_SPEC is the one message with header flags; msg_parse()
	 * lets through only those its schema names, and msg_check() refuses
	 * the fd it must not carry.
	 */
	if (msg_parse(&m, buf, (size_t)n) == -1 ||
	    msg_check(&m, fd != -1, CHAN_RUNNER, DIR_DOWN) == -1 ||
	    m.m_type != MSG_RUN_SPEC || msg_get_run_spec(&m, &mr) == -1)
		DIEX("run spec: malformed");
	/* Each string fits: the buffers are at least the schema's bounds. */
	if ((size_t)snprintf(rs->rs_root, sizeof(rs->rs_root), "%s",
	    mr.mr_root) >= sizeof(rs->rs_root) ||
	    (size_t)snprintf(rs->rs_policy, sizeof(rs->rs_policy), "%s",
	    mr.mr_policy) >= sizeof(rs->rs_policy) ||
	    (size_t)snprintf(rs->rs_slug, sizeof(rs->rs_slug), "%s",
	    mr.mr_slug) >= sizeof(rs->rs_slug) ||
	    (size_t)snprintf(rs->rs_stamp, sizeof(rs->rs_stamp), "%s",
	    mr.mr_stamp) >= sizeof(rs->rs_stamp))
		DIEX("run spec: malformed");
	rs->rs_uid = mr.mr_uid;
	rs->rs_gid = mr.mr_gid;
	rs->rs_network = (int)mr.mr_network;
	rs->rs_persistent = (mr.mr_flags & RUN_SPEC_PERSISTENT) != 0;
	rs->rs_sandbox = (mr.mr_flags & RUN_SPEC_SANDBOX) != 0;
	snprintf(tag, sizeof(tag), "tenantd-run %s", rs->rs_slug);
	log_procinit(tag);

	if (mr.mr_uid == 0 || mr.mr_gid == 0 || mr.mr_uid == (uint32_t)-1 ||
	    mr.mr_gid == (uint32_t)-1)
		DIEX("refusing to run tenant code as uid %u gid %u",
		    mr.mr_uid, mr.mr_gid);
	if (slug_check_syntax(rs->rs_slug, strlen(rs->rs_slug)) != SLUG_OK)
		DIEX("run spec: bad slug");
	if (rs->rs_policy[0] != '/')
		DIEX("run spec: policy dir is not absolute");
	/* The tenant directory, checked as the supervisor checks a jail. */
	if (rs->rs_root[0] != '/' || (e = strrchr(rs->rs_root, '/')) == NULL ||
	    strcmp(e + 1, rs->rs_slug) != 0)
		DIEX("run spec: %s is not the directory of %s", rs->rs_root,
		    rs->rs_slug);
	if (jail_path_check(rs->rs_root, rs->rs_gid, err, sizeof(err)) == -1)
		DIEX("%s", err);
}

/*
 * MSG_RUN_GO, in the child: sandboxed, as the tenant, under the filter.
 * Its fd lands on PROTO_RUN_STDIO_FD and is checked to be what the spec
 * said: a connected stream for a handler, a listening one for an app.
 * The channel is the supervisor's, trusted, but checked as the spec is.
 * Returns 0 for EOF (the supervisor no longer wants this run).
 */
int
run_go_read(struct run_spec *rs)
{
	static uint8_t	 buf[PROTO_MSG_MAX];
	struct msg	 m;
	ssize_t		 n;
	size_t		 off = 0;
	uint32_t	 i, cnt;
	char		*e;
	int		 fd;

	while ((n = msg_recv(PROTO_CHAN_FD, buf, sizeof(buf), &fd)) == -1 &&
	    errno == EINTR)
		;
	if (n == 0 && fd == -1)
		return 0;
	if (n <= 0 || fd == -1)
		DIEX("run go: cannot receive it");
	if (fd != PROTO_RUN_STDIO_FD) {
		if (dup2(fd, PROTO_RUN_STDIO_FD) == -1)
			DIE("dup2 run go fd");
		close(fd);
	}
	if (msg_parse(&m, buf, (size_t)n) == -1 ||
	    msg_check(&m, 1, CHAN_RUNNER, DIR_DOWN) == -1 ||
	    m.m_type != MSG_RUN_GO ||
	    msg_get_str(&m, rs->rs_handler, sizeof(rs->rs_handler)) == -1 ||
	    msg_get_u32(&m, &cnt) == -1 || cnt > RUN_ENV_MAX)
		DIEX("run go: malformed");
	for (i = 0; i < cnt; i++) {
		e = rs->rs_envbuf + off;
		if (msg_get_str(&m, e, sizeof(rs->rs_envbuf) - off) == -1)
			DIEX("run go: malformed environment");
		/* The worker's and tenantd's rule, checked once more. */
		if (!runarg_env_ok(e, strlen(e)))
			DIEX("run go: bad environment entry");
		rs->rs_env[i] = e;
		off += strlen(e) + 1;
	}
	rs->rs_env[cnt] = NULL;
	if (msg_end(&m) == -1)
		DIEX("run go: trailing bytes");
	/* A handler is a plain file name in app/: no path, no dot file. */
	if (!runarg_name_ok(rs->rs_handler, strlen(rs->rs_handler)))
		DIEX("run go: bad program name");
	run_check_fd(PROTO_RUN_STDIO_FD, SOCK_STREAM);
	if (rs->rs_persistent)
		run_check_listening(PROTO_RUN_STDIO_FD);
	return 1;
}

/*
 * The socket families tenant code may create (docs/security.md, item 30):
 * AF_UNIX, and AF_INET and AF_INET6 with the network on; any other fails with
 * EPERM. The same rule for every call that takes a family: socketpair() runs
 * the family's own create routine as socket() does (TIPC implements it).
 */
static int
run_filter_families(void *ctx, int network)
{
	static const int	 calls[] = {
		SCMP_SYS(socket), SCMP_SYS(socketpair),
	};
	size_t			 i;
	int			 fam, rc = 0;

	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		for (fam = 0; fam < RUN_AF_LIMIT && rc == 0; fam++) {
			if (fam == AF_UNIX || (network &&
			    (fam == AF_INET || fam == AF_INET6)))
				continue;
			rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
			    calls[i], 1, SCMP_A0(SCMP_CMP_MASKED_EQ,
			    0xffffffffU, (scmp_datum_t)fam));
		}
	return rc;
}

/*
 * The deny list from the policy file, plus the two argument rules it
 * cannot express. Arguments are compared masked to 32 bits where the
 * kernel reads an int, so high garbage bits cannot slip past
 * (docs/security.md, item 24).
 */
static void *
run_filter(const struct run_spec *rs, const char *path)
{
	struct policy	*pol;
	char		 err[512];
	void		*ctx;
	size_t		 i;
	int		 rc = 0;

	if ((pol = malloc(sizeof(*pol))) == NULL)
		DIE("malloc");
	if (denylist_load(path, pol, err, sizeof(err)) == -1 ||
	    (ctx = policy_compile(pol, err, sizeof(err))) == NULL)
		DIEX("%s", err);
	free(pol);
	for (i = 0; i < sizeof(clone_denied) / sizeof(clone_denied[0]) &&
	    rc == 0; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
		    SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ,
		    clone_denied[i], clone_denied[i]));
	if (rc == 0)
		rc = run_filter_families(ctx, rs->rs_network);
	if (rc != 0)
		DIEX("seccomp_rule_add: %s", strerror(-rc));
	return ctx;
}

static const char *
run_policy_path(const struct run_spec *rs, const char *name,
    char path[PATH_MAX])
{
	if ((size_t)snprintf(path, PATH_MAX, "%s/%s", rs->rs_policy, name) >=
	    PATH_MAX)
		DIEX("%s: path too long", rs->rs_policy);
	return path;
}

/*
 * Everything from the host, before any namespace: a broken policy file or
 * a bad tenant directory fails here, before a single mount. The directory
 * the child mounts its new root on is fixed and root's, and made here when
 * missing; the mount itself is only ever seen in the child's namespace.
 */
static void
run_setup_load(const struct run_spec *rs, struct run_setup *ru)
{
	static char	 mbuf[POLICY_FILE_MAX];
	struct stat	 st;
	char		 path[PATH_MAX], err[512], hex[33];
	unsigned char	 digest[16];
	ssize_t		 n, mlen;

	memset(ru, 0, sizeof(*ru));
	/* Read once: the bytes parsed are the bytes the stamp covers. */
	if ((mlen = policy_file_read(run_policy_path(rs, RUN_MOUNTS_FILE,
	    path), mbuf, sizeof(mbuf), err, sizeof(err))) == -1)
		DIEX("%s", err);
	if (mounts_parse(mbuf, (size_t)mlen, &ru->ru_mounts, err,
	    sizeof(err)) == -1)
		DIEX("%s: %s", path, err);
	if (limits_load(run_policy_path(rs, RUN_LIMITS_FILE, path),
	    &ru->ru_limits, err, sizeof(err)) == -1 ||
	    cgroup_load(run_policy_path(rs, RUN_CGROUP_FILE, path),
	    &ru->ru_cgroup, err, sizeof(err)) == -1)
		DIEX("%s", err);
	ru->ru_filter = run_filter(rs, run_policy_path(rs, RUN_SECCOMP_FILE,
	    path));

	/* The new root has no /proc to read it from later. */
	if (privdrop_last_cap(&ru->ru_last_cap, err, sizeof(err)) == -1)
		DIEX("%s", err);

	if ((ru->ru_rootfd = open(rs->rs_root, O_PATH | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		DIE("%s", rs->rs_root);
	if (fstat(ru->ru_rootfd, &st) == -1 || st.st_uid != 0)
		DIEX("%s: not root's", rs->rs_root);
	/*
	 * The stamp of the sandbox this run would build (jail.c): the
	 * layout's version, the tenant directory itself (a tenant deleted
	 * and made again is another directory), its ids and network, and a
	 * digest of what the mounts would be (mounts_digest()). A kept
	 * sandbox is joined only under the same stamp.
	 */
	mounts_digest(mbuf, (size_t)mlen, &ru->ru_mounts, ru->ru_rootfd,
	    digest);
	for (n = 0; n < (ssize_t)sizeof(digest); n++)
		snprintf(hex + 2 * n, 3, "%02x", digest[n]);
	snprintf(ru->ru_stamp, sizeof(ru->ru_stamp), "%d:%ju:%ju:%u:%u:%d:%s",
	    RUN_SANDBOX_LAYOUT, (uintmax_t)st.st_dev, (uintmax_t)st.st_ino,
	    rs->rs_uid, rs->rs_gid, rs->rs_network, hex);

	if ((mkdir(TENANTD_RUN_DIR, 0755) == -1 && errno != EEXIST) ||
	    (mkdir(RUN_NEWROOT, 0755) == -1 && errno != EEXIST))
		DIE("mkdir %s", RUN_NEWROOT);
	if (jail_path_check(RUN_NEWROOT, 0, err, sizeof(err)) == -1)
		DIEX("%s", err);
}

/*
 * Our lines to tenantd, as log_emit() hands them over, escaped: the
 * priority first, no timestamp or tag (tenantd adds its own, and names
 * the tenant). The handler's own stderr is never this pipe (jail.c).
 */
static void
run_log_sink(int prio, const char *line)
{
	dprintf(STDERR_FILENO, "<%d>%s\n", prio, line);
}

int
main(int argc, char *argv[])
{
	struct run_spec		*rs;
	struct run_setup	*ru;
	pid_t			 ppid, pid;
	int			 alive[2], status, fd;

	log_init(0, 0);
	log_procinit("tenantd-run");
	log_setsink(run_log_sink);
	if (argc != 1)
		DIEX("usage: tenantd-run (started by tenantd, spec on fd %d)",
		    PROTO_CHAN_FD);
	if (geteuid() != 0)
		DIEX("must be started as root");
	/* 0-2 must be taken, or a descriptor opened below would land there. */
	for (fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) == -1 &&
		    open("/dev/null", O_RDWR) != fd)
			DIE("fd %d", fd);
	umask(022);
	run_reset_signals();

	/*
	 * Die with the supervisor: it kills us on timeout, and if it is
	 * gone nobody would. getppid() after arming closes the race with a
	 * supervisor that died first (it is never pid 1).
	 */
	ppid = getppid();
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1)
		DIE("PR_SET_PDEATHSIG");
	if (ppid == 1 || getppid() != ppid)
		DIEX("the supervisor is gone");

	if ((rs = calloc(1, sizeof(*rs))) == NULL ||
	    (ru = calloc(1, sizeof(*ru))) == NULL)
		DIE("calloc");
	run_check_fd(PROTO_CHAN_FD, SOCK_SEQPACKET);
	run_spec_read(rs);
	/*
	 * Before anything is opened, which could land on 5 or 6: a sandbox
	 * announced must be there (what they are, jail.c checks).
	 */
	if (rs->rs_sandbox && (fcntl(PROTO_RUN_MNTNS_FD, F_GETFD) == -1 ||
	    (!rs->rs_network && fcntl(PROTO_RUN_NETNS_FD, F_GETFD) == -1)))
		DIEX("run spec: a sandbox without its fds");
	/* fd 3 stays open: the child reports a sandbox it built on it. */
	run_setup_load(rs, ru);

	/*
	 * Only the PID namespace is made here: unshare(CLONE_NEWPID) moves
	 * our next child, not us, so the child below is the namespace's
	 * init, and when it exits the kernel kills everything left in it.
	 * The child makes its other namespaces itself: pivot_root moves the
	 * root of every process of a mount namespace, and ours, root's,
	 * must stay the host's.
	 */
	if (unshare(CLONE_NEWPID) == -1)
		DIE("unshare(CLONE_NEWPID)");
	/* The child watches the read end: EOF means we died. */
	if (pipe2(alive, O_CLOEXEC) == -1)
		DIE("pipe2");
	if ((pid = fork()) == -1)
		DIE("fork");
	if (pid == 0) {
		close(alive[1]);
		ru->ru_alivefd = alive[0];
		jail_run(rs, ru);
	}

	/*
	 * Nothing of the handler's may stay open here: its EOF is ours. The
	 * spec channel is the child's from now on, for MSG_RUN_GO.
	 */
	close(alive[0]);
	close(PROTO_CHAN_FD);
	if (rs->rs_sandbox) {
		close(PROTO_RUN_MNTNS_FD);
		if (!rs->rs_network)
			close(PROTO_RUN_NETNS_FD);
	}
	close(ru->ru_rootfd);
	policy_release(ru->ru_filter);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			DIE("waitpid");
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
