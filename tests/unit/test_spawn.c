/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The one spawner (supervisor/spawner.c), proved from the spawned child:
 * this binary execs itself through spawn_child() with "child" and what it
 * must find, and the child checks every descriptor by its inode, that
 * nothing else is open, "/", its own session, an empty signal mask,
 * default dispositions and an empty environment, and reports the first
 * property that does not hold on its report descriptor.
 */
#include <sys/poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "spawner.h"

#define ARGS_MAX	16

extern char	**environ;

static char	 self[4096];

/* The child: argv is "child" <report fd> <fd>:null|<fd>:<dev>:<ino> ... */
static int
child(int argc, char *argv[])
{
	static char		 msg[256] = "ok";
	char			 cwd[64];
	unsigned long long	 dev, ino;
	struct stat		 st;
	struct sigaction	 sa;
	sigset_t		 cur;
	struct dirent		*de;
	DIR			*d;
	int			 want[64] = { 0 }, report, fd, i, n;

	report = atoi(argv[2]);
	for (i = 3; i < argc; i++) {
		n = sscanf(argv[i], "%d:%llu:%llu", &fd, &dev, &ino);
		if (fd < 0 || fd >= 64)
			return 2;
		want[fd] = 1;
		if (fstat(fd, &st) == -1) {
			snprintf(msg, sizeof(msg), "fd %d is not open", fd);
			goto out;
		}
		if (n == 1 ? !S_ISCHR(st.st_mode) ||
		    st.st_rdev != makedev(1, 3) :
		    n != 3 || st.st_dev != dev || st.st_ino != ino) {
			snprintf(msg, sizeof(msg), "fd %d is not %s", fd,
			    argv[i]);
			goto out;
		}
	}
	if ((d = opendir("/proc/self/fd")) == NULL)
		return 2;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		if (fd != dirfd(d) && (fd >= 64 || !want[fd])) {
			snprintf(msg, sizeof(msg), "fd %d leaked", fd);
			closedir(d);
			goto out;
		}
	}
	closedir(d);
	sigprocmask(SIG_BLOCK, NULL, &cur);
	sigaction(SIGPIPE, NULL, &sa);
	if (getcwd(cwd, sizeof(cwd)) == NULL || strcmp(cwd, "/") != 0)
		snprintf(msg, sizeof(msg), "not in /");
	else if (getsid(0) != getpid())
		snprintf(msg, sizeof(msg), "not a session leader");
	else if (sigismember(&cur, SIGUSR1))
		snprintf(msg, sizeof(msg), "signals blocked");
	else if (sa.sa_handler != SIG_DFL)
		snprintf(msg, sizeof(msg), "SIGPIPE not default");
	else if (environ != NULL && environ[0] != NULL)
		snprintf(msg, sizeof(msg), "environment %s", environ[0]);
 out:
	if (write(report, msg, strlen(msg)) == -1)
		return 2;
	return 0;
}

/* What the child must find on `dst`: our `src`, or /dev/null. */
static void
want(char *argv[], int *argc, int dst, int src)
{
	struct stat	 st;
	char		*s;

	assert_true(*argc < ARGS_MAX - 1);
	if (src == SPAWN_DEVNULL)
		assert_true(asprintf(&s, "%d:null", dst) != -1);
	else {
		assert_int_equal(fstat(src, &st), 0);
		assert_true(asprintf(&s, "%d:%llu:%llu", dst,
		    (unsigned long long)st.st_dev,
		    (unsigned long long)st.st_ino) != -1);
	}
	argv[(*argc)++] = s;
	argv[*argc] = NULL;
}

/*
 * Spawn with `stdio` and `fds`, the report pipe's write end `wr` being one
 * of the sources, mapped to `report`; returns what the child said.
 */
static const char *
run(int stdio[3], struct spawn_fd *fds, size_t nfds, int wr, int rd,
    int report)
{
	static char	 out[256];
	char		*argv[ARGS_MAX + 1] = { "test_spawn", "child", NULL };
	char		 rep[16];
	struct spawn	 sp = { .sp_path = self, .sp_argv = argv,
			    .sp_fds = fds, .sp_nfds = nfds };
	struct pollfd	 pfd;
	pid_t		 pid;
	ssize_t		 n;
	size_t		 i;
	int		 argc = 3, pidfd, status;

	snprintf(rep, sizeof(rep), "%d", report);
	argv[2] = rep;
	argv[3] = NULL;
	for (i = 0; i < 3; i++) {
		sp.sp_stdio[i] = stdio[i];
		want(argv, &argc, (int)i, stdio[i] == SPAWN_KEEP ? (int)i :
		    stdio[i]);
	}
	for (i = 0; i < nfds; i++)
		want(argv, &argc, fds[i].sf_dst, fds[i].sf_src);
	assert_int_equal(spawn_child(&sp, &pid, &pidfd), 0);
	assert_true(pid > 0 && pidfd != -1);
	close(wr);
	memset(out, 0, sizeof(out));
	n = read(rd, out, sizeof(out) - 1);
	assert_true(n >= 0);
	close(rd);
	/* The pidfd names the child: readable once it has exited. */
	pfd.fd = pidfd;
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 10000), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(pidfd);
	for (i = 3; i < (size_t)argc; i++)
		free(argv[i]);
	return out;
}

/* A descriptor of ours on exactly `at`, close-on-exec as all of ours are. */
static int
fd_at(int fd, int at)
{
	assert_int_equal(dup3(fd, at, O_CLOEXEC), at);
	close(fd);
	return at;
}

static void
test_plain(void **state)
{
	int		 p[2], stdio[3] = { SPAWN_DEVNULL, SPAWN_DEVNULL,
			    SPAWN_DEVNULL };
	struct spawn_fd	 fds[1];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	p[1] = fd_at(p[1], 20);
	fds[0].sf_src = p[1];
	fds[0].sf_dst = 3;
	/* One of ours without FD_CLOEXEC: closefrom must end it. */
	assert_int_equal(dup2(STDERR_FILENO, 21), 21);
	assert_string_equal(run(stdio, fds, 1, p[1], p[0], 3), "ok");
	close(21);
}

/*
 * Sources on the targets' numbers: two swapped, one on its own target
 * (a bare dup2 onto itself keeps FD_CLOEXEC), and stderr's on fd 3.
 */
static void
test_sources_on_targets(void **state)
{
	int		 p[2], sv[2], q[2];
	int		 stdio[3] = { SPAWN_DEVNULL, SPAWN_DEVNULL, -1 };
	struct spawn_fd	 fds[3];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	assert_int_equal(pipe2(q, O_CLOEXEC), 0);
	/* Out of the way first, then onto the numbers wanted. */
	p[0] = fd_at(p[0], 30);
	sv[0] = fd_at(sv[0], 31);
	q[0] = fd_at(q[0], 32);
	p[1] = fd_at(fd_at(p[1], 33), 4);
	sv[1] = fd_at(fd_at(sv[1], 34), 5);
	q[1] = fd_at(fd_at(q[1], 35), 3);
	stdio[2] = q[1];
	fds[0].sf_src = p[1];	/* 4 -> 5 */
	fds[0].sf_dst = 5;
	fds[1].sf_src = sv[1];	/* 5 -> 4 */
	fds[1].sf_dst = 4;
	fds[2].sf_src = q[1];	/* 3 -> 3, and 3 -> 2 */
	fds[2].sf_dst = 3;
	assert_string_equal(run(stdio, fds, 3, p[1], p[0], 5), "ok");
	close(sv[1]);
	close(q[1]);
	close(sv[0]);
	close(q[0]);
}

/*
 * Sources just above the highest target, where the copies go, and one at
 * the top of RLIMIT_NOFILE: the copies skip the sources' numbers and stay
 * low, or one would clobber a source or fail with EBADF.
 */
static void
test_sources_around_the_copies(void **state)
{
	struct rlimit	 rl, low;
	int		 p[2], a[2], b[2];
	int		 stdio[3] = { SPAWN_DEVNULL, SPAWN_DEVNULL, -1 };
	struct spawn_fd	 fds[2];

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(pipe2(a, O_CLOEXEC), 0);
	assert_int_equal(pipe2(b, O_CLOEXEC), 0);
	p[0] = fd_at(p[0], 40);
	a[0] = fd_at(a[0], 41);
	b[0] = fd_at(b[0], 42);
	p[1] = fd_at(fd_at(p[1], 43), 5);
	a[1] = fd_at(fd_at(a[1], 44), 3);
	b[1] = fd_at(b[1], 63);
	low = rl;
	low.rlim_cur = 64;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	stdio[2] = a[1];	/* 3 -> 2 */
	fds[0].sf_src = p[1];	/* 5 -> 3 */
	fds[0].sf_dst = 3;
	fds[1].sf_src = b[1];	/* 63 -> 4 */
	fds[1].sf_dst = 4;
	assert_string_equal(run(stdio, fds, 2, p[1], p[0], 3), "ok");
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	close(a[1]);
	close(b[1]);
	close(a[0]);
	close(b[0]);
}

/* A debug build's stderr: ours, as it is; nothing above the targets. */
static void
test_keep_stderr(void **state)
{
	int		 p[2], stdio[3] = { SPAWN_DEVNULL, SPAWN_DEVNULL,
			    SPAWN_KEEP };
	struct spawn_fd	 fds[1];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	p[1] = fd_at(p[1], 40);
	fds[0].sf_src = p[1];
	fds[0].sf_dst = 6;
	assert_string_equal(run(stdio, fds, 1, p[1], p[0], 6), "ok");
}

static void
test_refused(void **state)
{
	char		*argv[] = { "test_spawn", NULL };
	struct spawn_fd	 fds[SPAWN_FDS_MAX + 1] = { { 0, 0 } };
	struct spawn	 sp = { .sp_path = self, .sp_argv = argv,
			    .sp_stdio = { SPAWN_DEVNULL, SPAWN_DEVNULL,
			    SPAWN_DEVNULL }, .sp_fds = fds, .sp_nfds = 1 };
	pid_t		 pid;
	int		 pidfd;

	/* 0-2 are sp_stdio's, never a mapping's. */
	fds[0].sf_src = STDOUT_FILENO;
	fds[0].sf_dst = STDERR_FILENO;
	assert_int_equal(spawn_child(&sp, &pid, &pidfd), -1);
	assert_int_equal(errno, EBADF);
	assert_true(pid == -1 && pidfd == -1);
	sp.sp_nfds = SPAWN_FDS_MAX + 1;
	assert_int_equal(spawn_child(&sp, &pid, &pidfd), -1);
	assert_int_equal(errno, EINVAL);
	/* An exec that fails is reported at once: no child to reap. */
	sp.sp_nfds = 0;
	sp.sp_path = "/nonexistent/tenantd-worker";
	assert_int_equal(spawn_child(&sp, &pid, &pidfd), -1);
	assert_int_equal(errno, ENOENT);
	assert_true(pid == -1 && pidfd == -1);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

int
main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_sources_on_targets),
		cmocka_unit_test(test_sources_around_the_copies),
		cmocka_unit_test(test_keep_stderr),
		cmocka_unit_test(test_refused),
	};
	sigset_t	 usr1;
	ssize_t		 n;

	if (argc >= 3 && strcmp(argv[1], "child") == 0)
		return child(argc, argv);
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0)
		return 1;
	self[n] = '\0';
	/* What the supervisor's loop has, that no child may inherit. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
