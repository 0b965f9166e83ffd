/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * File layout: 8 bytes of magic, then the 64-bit generation, in one page.
 * Readers load it with acquire semantics; the writer stores with release
 * and then sets the file's mtime to the new generation, in seconds: a
 * store through a mapping generates no inotify event by itself, and a
 * stat watcher that compares whole-second mtimes (libev's) would miss two
 * bumps within one second of wall time.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gen.h"

#define GEN_MAGIC	"TNTDGEN1"
#define GEN_SIZE	4096

/*
 * Map the generation file; with writable set, create it if absent (root
 * only: mode 0644 so workers can map it before they drop root).
 */
int
gen_map(struct gen *g, const char *path, int writable)
{
	struct stat	 st;
	void		*p;
	int		 fd, saved;
	char		 magic[8];

	g->g_ptr = NULL;
	g->g_writable = writable;
	fd = open(path, (writable ? O_RDWR | O_CREAT : O_RDONLY) |
	    O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 022) != 0) {
		errno = EPERM;
		goto fail;
	}
	if (st.st_size == 0 && writable) {
		/* 0644 whatever the umask: workers map it before the drop. */
		if (fchmod(fd, 0644) == -1 || ftruncate(fd, GEN_SIZE) == -1 ||
		    pwrite(fd, GEN_MAGIC, 8, 0) != 8 || fsync(fd) == -1)
			goto fail;
	} else if (st.st_size != GEN_SIZE) {
		errno = EINVAL;
		goto fail;
	}
	if (pread(fd, magic, 8, 0) != 8 || memcmp(magic, GEN_MAGIC, 8) != 0) {
		errno = EINVAL;
		goto fail;
	}
	p = mmap(NULL, GEN_SIZE, PROT_READ | (writable ? PROT_WRITE : 0),
	    MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	close(fd);
	g->g_ptr = (volatile uint64_t *)((char *)p + 8);
	return 0;
 fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

void
gen_unmap(struct gen *g)
{
	if (g->g_ptr != NULL)
		munmap((char *)(uintptr_t)g->g_ptr - 8, GEN_SIZE);
	g->g_ptr = NULL;
}

uint64_t
gen_read(const struct gen *g)
{
	return __atomic_load_n(g->g_ptr, __ATOMIC_ACQUIRE);
}

int
gen_bump(struct gen *g, const char *path)
{
	struct timespec	 ts[2];
	uint64_t	 v;

	if (!g->g_writable) {
		errno = EBADF;
		return -1;
	}
	v = __atomic_add_fetch(g->g_ptr, 1, __ATOMIC_RELEASE);
	if (msync((char *)(uintptr_t)g->g_ptr - 8, GEN_SIZE, MS_ASYNC) == -1)
		return -1;
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_NOW;
	ts[1].tv_sec = (time_t)v;
	ts[1].tv_nsec = 0;
	return utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
}
