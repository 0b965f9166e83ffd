/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * tenantd-run, the child: init of a fresh PID namespace, still root. It
 * builds the handler's world and becomes the handler, in this order:
 *
 *   1. the tenant's sandbox: a mount namespace, and a network namespace
 *      unless the tenant is granted the host's, joined if an earlier run
 *      built them and the supervisor kept them (jail_sandbox), else built:
 *      a new root on a tmpfs with the host paths of tenant-code.mounts
 *      read-only, /tenant from the tenant directory, the tenant's /tmp, a
 *      /dev of three devices, no /proc; pivot_root into it, read-only
 *   2. namespaces of this run alone: IPC, UTS, cgroup
 *   3. capabilities and ids dropped for good, and the drop proved
 *   4. rlimits (tenant-code.limits)
 *   5. stdio: the stream socket on 0 and 1, logs/handler.log on 2 if it
 *      is a regular file, else /dev/null; a persistent app: /dev/null on
 *      0 and 1, the listening socket on 3
 *   6. no_new_privs, then the seccomp deny list, last
 *   7. fork: the child execs /tenant/app/<handler> (an app with the
 *      LISTEN_* variables of sd_listen_fds(3)), we stay its init
 *
 * Because this process is the namespace's init, its exit (on the
 * handler's) makes the kernel kill every process the handler left behind.
 */
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/nsfs.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "privdrop.h"
#include "run.h"
#include "sys.h"

#define NEWROOT_OPTS	"mode=0755,size=256k,nr_inodes=256"


/* The parent is gone if the pipe it holds reads EOF. */
static void
jail_parent_alive(int fd)
{
	struct pollfd	 pfd;

	pfd.fd = fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 0) != 0)
		DIEX("tenantd-run's parent side is gone");
}

/* Until fd 3 has something (a message, or EOF), or the parent is gone. */
static void
jail_go_wait(int alivefd)
{
	struct pollfd	 pfd[2];

	pfd[0].fd = PROTO_CHAN_FD;
	pfd[0].events = POLLIN;
	pfd[1].fd = alivefd;
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			DIE("poll");
		}
		if (pfd[1].revents != 0)
			DIEX("tenantd-run's parent side is gone");
		if (pfd[0].revents != 0)
			return;
	}
}

/* Make /a/b/c in the new root: the parents as directories, then c. */
static void
jail_mkpath(const char *path, int isdir)
{
	char	 p[PATH_MAX], *s;
	int	 fd;

	if ((size_t)snprintf(p, sizeof(p), "%s%s", RUN_NEWROOT, path) >=
	    sizeof(p))
		DIEX("%s: path too long", path);
	for (s = p + strlen(RUN_NEWROOT) + 1; (s = strchr(s, '/')) != NULL;
	    s++) {
		*s = '\0';
		if (mkdir(p, 0755) == -1 && errno != EEXIST)
			DIE("mkdir %s", p);
		*s = '/';
	}
	if (isdir) {
		if (mkdir(p, 0755) == -1 && errno != EEXIST)
			DIE("mkdir %s", p);
	} else if ((fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0444)) == -1 || close(fd) == -1)
		DIE("create %s", p);
}

/*
 * A bind mount starts with its source's flags; ours take a remount. Not
 * MS_REC: mounts below a source would come along with their own, writable
 * flags, so they stay out (list one to have it).
 */
static void
jail_bind(const char *src, const char *path, unsigned long flags)
{
	char	 dst[PATH_MAX];

	snprintf(dst, sizeof(dst), "%s%s", RUN_NEWROOT, path);
	if (mount(src, dst, NULL, MS_BIND, NULL) == -1)
		DIE("bind %s on %s", src, path);
	if (mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | flags, NULL) == -1)
		DIE("remount %s", path);
}

static void
jail_mounts(const struct mounts *m)
{
	const struct mount_ent	*e;
	struct stat		 st;
	char			 p[PATH_MAX], opts[64];
	size_t			 i;

	for (i = 0; i < m->m_n; i++) {
		e = &m->m_ent[i];
		switch (e->me_kind) {
		case MOUNT_RO:
			/* Root's own configuration: symlinks may be followed. */
			if (stat(e->me_path, &st) == -1) {
				if (errno == ENOENT && e->me_optional)
					continue;
				DIE("%s", e->me_path);
			}
			if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
				DIEX("%s: not a file or directory", e->me_path);
			jail_mkpath(e->me_path, S_ISDIR(st.st_mode));
			jail_bind(e->me_path, e->me_path, RO_FLAGS);
			break;
		case MOUNT_SYMLINK:
			jail_mkpath(e->me_path, 1);
			snprintf(p, sizeof(p), "%s%s", RUN_NEWROOT, e->me_path);
			if (rmdir(p) == -1 || symlink(e->me_target, p) == -1)
				DIE("symlink %s", e->me_path);
			break;
		case MOUNT_TMP:
			/*
			 * Memory, so bounded twice: bytes, and inodes, which
			 * cost kernel memory even when empty
			 * (docs/security.md, item 44).
			 */
			jail_mkpath("/tmp", 1);
			snprintf(opts, sizeof(opts), "mode=1777,size=%llu,"
			    "nr_inodes=%llu", (unsigned long long)e->me_size,
			    (unsigned long long)(e->me_size / 1024 + 64));
			if (mount("tmpfs", RUN_NEWROOT "/tmp", "tmpfs",
			    RW_FLAGS, opts) == -1)
				DIE("mount /tmp");
			break;
		case MOUNT_DEV:
			/*
			 * Only character devices, bound one by one without
			 * MS_NODEV, which would make them unusable. /dev itself
			 * is on the new root, read-only once built.
			 */
			snprintf(p, sizeof(p), "/dev/%s", e->me_path);
			if (lstat(p, &st) == -1 || !S_ISCHR(st.st_mode))
				DIEX("%s: not a character device", p);
			jail_mkpath(p, 0);
			jail_bind(p, p, MS_RDONLY | MS_NOSUID | MS_NOEXEC);
			break;
		}
	}
}

/*
 * The tenant's directories, each opened below the tenant directory with
 * no symlink in the way (the tenant owns them and could have replaced one
 * with a link to /etc), checked to be the tenant's, and bound through the
 * descriptor, so what was checked is what gets mounted.
 */
static void
jail_tenant(const struct run_spec *rs, int checkedfd)
{
	struct stat	 st, checked;
	char		 src[64], dst[32];
	size_t		 i;
	int		 fd, rootfd;

	/*
	 * A bind source must be a mount of our own namespace, so the tenant
	 * directory is opened again now, and must be the one checked before
	 * unshare (every component of its path is root's).
	 */
	if ((rootfd = open(rs->rs_root, O_PATH | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || fstat(rootfd, &st) == -1 ||
	    fstat(checkedfd, &checked) == -1)
		DIE("%s", rs->rs_root);
	if (st.st_dev != checked.st_dev || st.st_ino != checked.st_ino)
		DIEX("%s: changed since it was checked", rs->rs_root);
	for (i = 0; i < RUN_TENANT_DIRS; i++) {
		if ((fd = open_beneath(rootfd, tenant_dirs[i].td_name,
		    O_PATH | O_DIRECTORY, 0)) == -1)
			DIE("%s/%s", rs->rs_root, tenant_dirs[i].td_name);
		if (fstat(fd, &st) == -1 || !S_ISDIR(st.st_mode) ||
		    st.st_uid != rs->rs_uid)
			DIEX("%s/%s: not a directory of uid %u", rs->rs_root,
			    tenant_dirs[i].td_name, rs->rs_uid);
		snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
		snprintf(dst, sizeof(dst), "/tenant/%s",
		    tenant_dirs[i].td_name);
		jail_mkpath(dst, 1);
		jail_bind(src, dst, tenant_dirs[i].td_flags);
		close(fd);
	}
	close(rootfd);
}

static void
jail_build(const struct run_spec *rs, const struct run_setup *ru)
{
	/*
	 * Private first, recursively: nothing we mount may propagate to the
	 * host, and no host mount event may reach in.
	 */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
		DIE("make / private");
	if (mount("tmpfs", RUN_NEWROOT, "tmpfs", MS_NOSUID | MS_NODEV |
	    MS_NOEXEC, NEWROOT_OPTS) == -1)
		DIE("mount tmpfs on %s", RUN_NEWROOT);
	jail_mounts(&ru->ru_mounts);
	/* /proc is still the host's here; the binds need its fd links. */
	jail_tenant(rs, ru->ru_rootfd);

	/*
	 * pivot_root(".", ".") stacks the old root on the new one
	 * (pivot_root(2)); detaching "." then drops the old root with every
	 * mount under it, /proc included, and leaves no put_old directory
	 * behind. Programs that want /proc/self get nothing (docs/security.md,
	 * item 6).
	 */
	if (chdir(RUN_NEWROOT) == -1)
		DIE("chdir %s", RUN_NEWROOT);
	if (syscall(SYS_pivot_root, ".", ".") == -1)
		DIE("pivot_root");
	if (umount2(".", MNT_DETACH) == -1)
		DIE("detach the old root");
	if (chdir("/") == -1)
		DIE("chdir /");
	/* Built: no handler may add to it. */
	if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY |
	    MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == -1)
		DIE("remount / read-only");
}

/* Is fd a namespace of this type (nsfs answers, nothing else does)? */
static int
jail_ns_is(int fd, int type)
{
	return ioctl(fd, NS_GET_NSTYPE) == type;
}

/* The fds a sandbox came on: 6 only without network (run.c checked). */
static void
jail_sandbox_close(const struct run_spec *rs)
{
	close(PROTO_RUN_MNTNS_FD);
	if (!rs->rs_network)
		close(PROTO_RUN_NETNS_FD);
}

/* A namespace we built, to the supervisor; losing it costs a rebuild. */
static void
jail_report(int type, int fd, const char *stamp)
{
	struct msgbuf	 mb;

	msg_init(&mb, MSG_RUN_SANDBOX, 0);
	msg_put_u32(&mb, (uint32_t)type);
	msg_put_str(&mb, stamp);
	if (msg_finish(&mb) == -1 || msg_send(PROTO_CHAN_FD, &mb, fd) == -1)
		log_debug("%s: %s", __func__, strerror(errno));
}

/*
 * The tenant's sandbox: its mount namespace, and its network namespace
 * unless it has the host's. Built once and kept, not made per run, for
 * the neighbours' sake: tearing down a mount namespace waits for an RCU
 * grace period (synchronize_rcu_expedited in namespace_unlock), and so
 * does detaching the old root; one tenant whose busy processes are
 * preempted inside RCU read sections stretches every grace period of the
 * machine, and another tenant's runs waited 100 ms and more on each
 * (docs/tenant-code.md, section 4). Joining with setns() waits for none.
 *
 * So: if the supervisor passed the namespaces an earlier run reported,
 * under the stamp this run would build (run.c), we join them. Otherwise
 * we build them and report them on fd 3, named before pivot_root takes
 * /proc away; the supervisor keeps them for the next run and drops them
 * when the tenant is suspended, deleted or idle. A tenant's runs share its
 * /tmp, then, as they share its data/: it is the tenant's, not the run's.
 */
static void
jail_sandbox(const struct run_spec *rs, const struct run_setup *ru)
{
	int	 mntfd, netfd = -1;

	if (rs->rs_sandbox && strcmp(rs->rs_stamp, ru->ru_stamp) == 0 &&
	    jail_ns_is(PROTO_RUN_MNTNS_FD, CLONE_NEWNS) &&
	    (rs->rs_network || jail_ns_is(PROTO_RUN_NETNS_FD, CLONE_NEWNET))) {
		if (!rs->rs_network &&
		    setns(PROTO_RUN_NETNS_FD, CLONE_NEWNET) == -1)
			DIE("setns network");
		/* Moves our root and cwd to the sandbox's root. */
		if (setns(PROTO_RUN_MNTNS_FD, CLONE_NEWNS) == -1)
			DIE("setns mount");
		if (chdir("/") == -1)
			DIE("chdir /");
		jail_sandbox_close(rs);
		return;
	}
	if (rs->rs_sandbox) {
		log_debug("sandbox of %s: stale, building it again",
		    rs->rs_slug);
		jail_sandbox_close(rs);
	}
	/*
	 * A new network namespace has only a loopback that is down: no
	 * network at all, and no abstract Unix socket of the host's
	 * (docs/security.md, item 10).
	 */
	if (unshare(CLONE_NEWNS | (rs->rs_network ? 0 : CLONE_NEWNET)) == -1)
		DIE("unshare");
	if ((mntfd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC)) == -1 ||
	    (!rs->rs_network && (netfd = open("/proc/self/ns/net",
	    O_RDONLY | O_CLOEXEC)) == -1))
		DIE("/proc/self/ns");
	jail_build(rs, ru);
	/* Only a sandbox built whole is reported. */
	jail_report(CLONE_NEWNS, mntfd, ru->ru_stamp);
	if (netfd != -1)
		jail_report(CLONE_NEWNET, netfd, ru->ru_stamp);
	close(mntfd);
	if (netfd != -1)
		close(netfd);
}

/*
 * Capabilities and ids, dropped for good by the one privilege drop every
 * role uses (privdrop.c), which proves it; then the parent-death signal is
 * armed, and the parent may have died before it was: look.
 */
static void
jail_drop(const struct run_spec *rs, const struct run_setup *ru)
{
	struct privdrop	 pd;
	char		 err[256];

	pd.pd_uid = rs->rs_uid;
	pd.pd_gid = rs->rs_gid;
	pd.pd_last_cap = ru->ru_last_cap;
	if (privdrop_ids(&pd, err, sizeof(err)) == -1)
		DIEX("%s", err);
	jail_parent_alive(ru->ru_alivefd);
}

#define RUN_HANDLER_LOG	"/tenant/logs/handler.log"

/*
 * The program's stderr, and ours from here on: the tenant's own
 * handler.log, opened as the tenant so root never creates or follows
 * anything in the tenant's logs (O_NOFOLLOW; O_NONBLOCK so a FIFO planted
 * there cannot hang us), and only if it is a regular file. Anything else
 * (a directory, a FIFO, a link, a file the tenant made unwritable) gets
 * /dev/null: fd 2 is still tenantd's pipe here (run.c), and tenant code
 * must never write there (docs/security.md). The reason goes there
 * first, once.
 */
static void
jail_stderr(void)
{
	struct stat	 st;
	int		 fd;

	fd = open(RUN_HANDLER_LOG, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd == -1)
		log_warn("%s: the program's stderr goes to /dev/null",
		    RUN_HANDLER_LOG);
	else if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		log_warnx("%s: not a regular file; the program's stderr goes "
		    "to /dev/null", RUN_HANDLER_LOG);
		close(fd);
		fd = -1;
	}
	/* 0-2 are taken (run.c), so neither open lands on 2 itself. */
	if (fd == -1 && (fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1)
		DIE("/dev/null (\"dev null\" in %s)", RUN_MOUNTS_FILE);
	if (dup2(fd, STDERR_FILENO) == -1)
		DIE("dup2 stderr");
	close(fd);
	/* Our lines from here on (a failed exec) are the tenant's to read. */
	log_setsink(NULL);
}

static void
jail_stdio(int persistent)
{
	int	 fd;

	jail_stderr();
	if (!persistent) {
		if (dup2(PROTO_RUN_STDIO_FD, STDIN_FILENO) == -1 ||
		    dup2(PROTO_RUN_STDIO_FD, STDOUT_FILENO) == -1)
			DIE("dup2 stdio");
		/* The tenant directory, the alive pipe, fd 4: none passes. */
		if (closefrom_safe(STDERR_FILENO + 1) == -1)
			DIE("closefrom");
		return;
	}

	/*
	 * An app talks through its socket only. Its /dev/null is the one in
	 * the new root, opened as the tenant: a bind of the host's (checked
	 * to be a character device when bound) on a root nobody else can
	 * write, so no host descriptor need be carried through the build.
	 * The open lands above 2 and may land on 3, so it is closed before
	 * the socket goes there; whatever else 3 held (used up by now) is
	 * replaced. dup2 leaves the copy on 3 open across exec; fd 4 itself
	 * is closed.
	 */
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		DIE("/dev/null (\"dev null\" in %s)", RUN_MOUNTS_FILE);
	if (dup2(fd, STDIN_FILENO) == -1 || dup2(fd, STDOUT_FILENO) == -1)
		DIE("dup2 /dev/null");
	if (close(fd) == -1)
		DIE("close");
	if (dup2(PROTO_RUN_STDIO_FD, RUN_APP_LISTEN_FD) == -1)
		DIE("dup2 listening socket");
	if (closefrom_safe(RUN_APP_LISTEN_FD + 1) == -1)
		DIE("closefrom");
}

/* The variables of sd_listen_fds(3), which only we may set for an app. */
static int
jail_listen_var(const char *e)
{
	static const char	*const names[] = {
		"LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES=",
	};
	size_t			 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strncmp(e, names[i], strlen(names[i])) == 0)
			return 1;
	return 0;
}

/*
 * We stay behind as the namespace's init, holding nothing: the handler
 * gets ordinary signal semantics (an init ignores signals it has no
 * handler for, even SIGKILL from inside), and its orphans are reaped
 * instead of piling up as zombies against RLIMIT_NPROC. When the handler
 * exits, so do we, with its status, and the kernel kills what is left.
 */
static void __attribute__((__noreturn__))
jail_init(pid_t handler)
{
	pid_t	 pid;
	int	 status, fd;

	/* 3: a persistent app's listening socket, which stays the app's. */
	for (fd = 0; fd <= RUN_APP_LISTEN_FD; fd++)
		close(fd);
	for (;;) {
		if ((pid = waitpid(-1, &status, 0)) == -1 && errno != EINTR)
			_exit(RUN_EXIT_SETUP);
		if (pid == handler)
			break;
	}
	if (WIFSIGNALED(status))
		_exit(128 + WTERMSIG(status));
	_exit(WEXITSTATUS(status));
}

void
jail_run(struct run_spec *rs, const struct run_setup *ru)
{
	static char	 listen_fds[] = "LISTEN_FDS=1";
	static char	 listen_names[] = "LISTEN_FDNAMES=http";
	static char	 listen_pid[32];
	static char	*envp[RUN_ENV_MAX + 4];
	char		 path[PATH_MAX], err[256];
	size_t		 k, n;
	pid_t		 pid;

	/* Root from here to the drop: not a moment without the parent. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1)
		DIE("PR_SET_PDEATHSIG");
	jail_parent_alive(ru->ru_alivefd);
	/*
	 * Into the tenant's cgroups before anything else (cgroup.c): all
	 * we start is born there. A failure costs the run its cgroup, not
	 * the run. Then the tenant's code is what the OOM killer takes
	 * first, before any worker (500) and long before tenantd (-900),
	 * whose score we inherited: raising it needs no privilege.
	 */
	if (cgroup_place(rs->rs_slug, &ru->ru_cgroup, err, sizeof(err)) == -1)
		cgroup_warn(err);
	if (oom_score_set("1000") == -1)
		DIE("oom_score_adj");
	/*
	 * No controlling terminal to push input into (docs/security.md,
	 * item 25).
	 */
	if (setsid() == -1)
		DIE("setsid");
	jail_sandbox(rs, ru);
	/*
	 * The tenant directory as the host sees it: the sandbox is made, and
	 * a run may now wait long for its request, holding nothing of the
	 * host's but its channel and the alive pipe.
	 */
	close(ru->ru_rootfd);
	/*
	 * Per run, and cheap to make and drop: IPC, so no SysV object
	 * outlives the run or reaches another; UTS; and cgroup, whose root
	 * is the tenant's cgroup we moved into above.
	 */
	if (unshare(CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP) == -1)
		DIE("unshare");
	if (sethostname("tenant", strlen("tenant")) == -1)
		DIE("sethostname");
	jail_drop(rs, ru);
	/*
	 * As the tenant: app/ is its own, mode 0700, and under the packaged
	 * unit root holds no CAP_DAC_OVERRIDE to enter it (the system test
	 * found this; tests run as a root that has it).
	 */
	if (chdir("/tenant/app") == -1)
		DIE("chdir /tenant/app");

	/* As the tenant, soft = hard: they can only go down from here. */
	if (privdrop_limits(&ru->ru_limits, err, sizeof(err)) == -1)
		DIEX("%s", err);

	/*
	 * no_new_privs: a setuid binary under /usr (nosuid anyway) gains
	 * nothing, and the filter needs it. The filter comes after the
	 * mounts, which it would refuse, and before we wait for the request:
	 * a run waiting is already everything its program will be but the
	 * program. It is inherited across exec.
	 */
	if (privdrop_nnp(err, sizeof(err)) == -1)
		DIEX("%s", err);
	if (policy_install(ru->ru_filter, err, sizeof(err)) == -1)
		DIEX("%s", err);

	/*
	 * Ready: now the request (MSG_RUN_GO). As the tenant, PDEATHSIG is
	 * gone (a change of uid clears it), so the alive pipe is what tells
	 * us tenantd-run died while we wait; EOF on fd 3 is the supervisor
	 * dropping a spare it will not use.
	 */
	jail_go_wait(ru->ru_alivefd);
	if (run_go_read(rs) == 0)
		_exit(RUN_EXIT_SETUP);
	jail_stdio(rs->rs_persistent);

	/*
	 * An app's LISTEN_* come first, and the spec's own of those names
	 * are dropped, so nothing in its environment can point the app at
	 * another descriptor or process (sd_listen_fds(3) checks LISTEN_PID).
	 */
	n = 0;
	if (rs->rs_persistent) {
		envp[n++] = listen_fds;
		envp[n++] = listen_pid;
		envp[n++] = listen_names;
	}
	for (k = 0; rs->rs_env[k] != NULL; k++)
		if (!rs->rs_persistent || !jail_listen_var(rs->rs_env[k]))
			envp[n++] = rs->rs_env[k];
	envp[n] = NULL;

	snprintf(path, sizeof(path), "/tenant/app/%s", rs->rs_handler);
	if ((pid = fork()) == -1)
		DIE("fork");
	if (pid == 0) {
		/*
		 * The pid the app sees, in this PID namespace, only known
		 * after the fork. snprintf is safe here: we have no threads.
		 */
		snprintf(listen_pid, sizeof(listen_pid), "LISTEN_PID=%ld",
		    (long)getpid());
		execve(path, (char *[]){ (char *)rs->rs_handler, NULL },
		    envp);
		log_warn("exec %s", path);
		_exit(RUN_EXIT_EXEC);
	}
	jail_init(pid);
}
