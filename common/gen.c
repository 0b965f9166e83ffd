/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Two files. GEN_FILE: 8 bytes of magic, then the global 64-bit
 * generation, in one page; its size never changes, so a tenantd older
 * than the slots (which refuses any other size) keeps working next to a
 * newer tenantctl. GEN_SLOTS_FILE: 8 bytes of magic in the first page,
 * then one 64-bit counter per tenant id, slot i at GEN_SLOT_BASE + 8 * i.
 * It is sparse and only ever grows: a slot past its end, or in a hole,
 * reads as 0, so a state directory from before the slots, or a tenant no
 * change has touched yet, needs nothing written. A worker maps the one
 * page that holds its slot, so a million tenant ids cost it no more than
 * one.
 *
 * Readers load a counter with acquire semantics; the writer stores with
 * release and then sets GEN_FILE's mtime to the new generation, in
 * seconds: a store through a mapping generates no inotify event by
 * itself, and a stat watcher that compares whole-second mtimes (libev's)
 * would miss two bumps within one second of wall time.
 */
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gen.h"

#define GEN_MAGIC	"TNTDGEN1"
#define GEN_SLOTS_MAGIC	"TNTDGSL1"
#define GEN_SIZE	4096

/*
 * Open one of the two files, refusing anything but a regular file of
 * root's that no one else may write: workers trust what it says. With
 * writable set it is created if absent (root only: mode 0644 so workers
 * can map it before they drop root, whatever the umask).
 */
static int
gen_open(const char *path, int writable, struct stat *st)
{
	int	 fd, saved;

	fd = open(path, (writable ? O_RDWR | O_CREAT : O_RDONLY) |
	    O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd == -1)
		return -1;
	if (fstat(fd, st) == -1)
		goto fail;
	if (!S_ISREG(st->st_mode) || st->st_uid != 0 ||
	    (st->st_mode & 022) != 0) {
		errno = EPERM;
		goto fail;
	}
	if (writable && st->st_size == 0 && fchmod(fd, 0644) == -1)
		goto fail;
	return fd;
 fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

static int
gen_magic(int fd, const char *want)
{
	char	 magic[8];

	if (pread(fd, magic, 8, 0) != 8 || memcmp(magic, want, 8) != 0) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static size_t
gen_pagesize(void)
{
	long	 p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (size_t)p : 4096;
}

/* The offset of id's slot; -1 (EINVAL) for an id that has none. */
static off_t
gen_slot_off(int64_t id)
{
	if (id < 0 || id > (int64_t)GEN_SLOT_MAX) {
		errno = EINVAL;
		return -1;
	}
	return GEN_SLOT_BASE + 8 * (off_t)id;
}

/*
 * Make the slot file at least size bytes long, with its magic. Under an
 * exclusive lock, because the size is read and then set: two writers
 * growing it at once must never shrink it, which would zero slots and
 * fault every mapping of the pages cut off.
 */
static int
gen_slots_grow(int fd, off_t size)
{
	struct stat	 st;
	int		 rc = -1, saved;

	if (flock(fd, LOCK_EX) == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto out;
	if (st.st_size < GEN_SLOT_BASE &&
	    pwrite(fd, GEN_SLOTS_MAGIC, 8, 0) != 8)
		goto out;
	if (st.st_size < size && ftruncate(fd, size) == -1)
		goto out;
	rc = 0;
 out:
	saved = errno;
	flock(fd, LOCK_UN);
	errno = saved;
	return rc;
}

int
gen_map(struct gen *g, const char *path, int writable)
{
	struct stat	 st;
	void		*p;
	int		 fd, saved;

	g->g_ptr = NULL;
	g->g_len = GEN_SIZE;
	g->g_writable = writable;
	if ((fd = gen_open(path, writable, &st)) == -1)
		return -1;
	if (st.st_size == 0 && writable) {
		if (ftruncate(fd, GEN_SIZE) == -1 ||
		    pwrite(fd, GEN_MAGIC, 8, 0) != 8 || fsync(fd) == -1)
			goto fail;
	} else if (st.st_size != GEN_SIZE) {
		errno = EINVAL;
		goto fail;
	}
	if (gen_magic(fd, GEN_MAGIC) == -1)
		goto fail;
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

/*
 * A worker's view: the page of the slot file that holds tenant id's slot,
 * read-only. The supervisor made the file that long before it bound the
 * worker (gen_slots_cover); a shorter file is refused, since reading a
 * mapped page past the end of a file is a SIGBUS.
 */
int
gen_map_slot(struct gen *g, const char *path, int64_t id)
{
	struct stat	 st;
	size_t		 ps = gen_pagesize();
	off_t		 off, page;
	void		*p;
	int		 fd, saved;

	g->g_ptr = NULL;
	g->g_len = ps;
	g->g_writable = 0;
	if ((off = gen_slot_off(id)) == -1)
		return -1;
	if ((fd = gen_open(path, 0, &st)) == -1)
		return -1;
	if (st.st_size < off + 8) {
		errno = EINVAL;
		goto fail;
	}
	if (gen_magic(fd, GEN_SLOTS_MAGIC) == -1)
		goto fail;
	page = off & ~(off_t)(ps - 1);
	if ((p = mmap(NULL, ps, PROT_READ, MAP_SHARED, fd, page)) ==
	    MAP_FAILED)
		goto fail;
	close(fd);
	g->g_ptr = (volatile uint64_t *)((char *)p + (off - page));
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
	uintptr_t	 base;

	if (g->g_ptr == NULL)
		return;
	/* Both kinds of mapping start at the page the counter is in. */
	base = (uintptr_t)g->g_ptr & ~(uintptr_t)(gen_pagesize() - 1);
	munmap((void *)base, g->g_len);
	g->g_ptr = NULL;
}

uint64_t
gen_read(const struct gen *g)
{
	return __atomic_load_n(g->g_ptr, __ATOMIC_ACQUIRE);
}

/*
 * A committed change to the tenants ids[0..n-1] (none: a change that
 * concerns no tenant's workers, such as a master key rotation, which the
 * supervisor answers by replacing every worker). Their slots move first
 * and the global counter last: the supervisor acts on the global counter
 * and reads the slots only then, so a supervisor that sees the new global
 * value must find every slot already moved, or it would tell a tenant's
 * workers the old value and they would hand back every request until the
 * next change. A slot that cannot be bumped leaves the global counter
 * alone, and the caller reports the change as not applied.
 */
int
gen_bump(struct gen *g, const char *path, const char *slots,
    const int64_t *ids, size_t n)
{
	struct timespec	 ts[2];
	uint64_t	 v;

	if (!g->g_writable) {
		errno = EBADF;
		return -1;
	}
	if (n > 0 && gen_slots_bump(slots, ids, n) == -1)
		return -1;
	v = __atomic_add_fetch(g->g_ptr, 1, __ATOMIC_RELEASE);
	if (msync((char *)(uintptr_t)g->g_ptr - 8, GEN_SIZE, MS_ASYNC) == -1)
		return -1;
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_NOW;
	ts[1].tv_sec = (time_t)v;
	ts[1].tv_nsec = 0;
	return utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
}

/*
 * Bump each tenant's slot, through a writable mapping of its page, with
 * the same atomic add as the global counter: tenantctl runs take no lock
 * for it, and two at once each move the slot.
 */
int
gen_slots_bump(const char *path, const int64_t *ids, size_t n)
{
	struct stat		 st;
	volatile uint64_t	*slot;
	size_t			 i, ps = gen_pagesize();
	off_t			 off, page;
	char			*p;
	int			 fd, saved;

	if ((fd = gen_open(path, 1, &st)) == -1)
		return -1;
	if (gen_slots_grow(fd, GEN_SLOT_BASE) == -1 ||
	    gen_magic(fd, GEN_SLOTS_MAGIC) == -1)
		goto fail;
	for (i = 0; i < n; i++) {
		if ((off = gen_slot_off(ids[i])) == -1)
			goto fail;
		page = off & ~(off_t)(ps - 1);
		if (gen_slots_grow(fd, page + (off_t)ps) == -1)
			goto fail;
		p = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    page);
		if (p == MAP_FAILED)
			goto fail;
		slot = (volatile uint64_t *)(p + (off - page));
		__atomic_add_fetch(slot, 1, __ATOMIC_RELEASE);
		if (msync(p, ps, MS_ASYNC) == -1) {
			saved = errno;
			munmap(p, ps);
			errno = saved;
			goto fail;
		}
		munmap(p, ps);
	}
	close(fd);
	return 0;
 fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/*
 * The supervisor's view of every slot: with writable set the file is
 * created if absent (the supervisor grows it for the workers it binds,
 * gen_slots_cover), but it is only ever mapped read-only.
 */
int
gen_slots_open(struct gen_slots *gs, const char *path, int writable)
{
	struct stat	 st;
	int		 saved;

	gs->gs_map = NULL;
	gs->gs_len = 0;
	if ((gs->gs_fd = gen_open(path, writable, &st)) == -1)
		return -1;
	if ((writable && gen_slots_grow(gs->gs_fd, GEN_SLOT_BASE) == -1) ||
	    gen_magic(gs->gs_fd, GEN_SLOTS_MAGIC) == -1) {
		saved = errno;
		close(gs->gs_fd);
		gs->gs_fd = -1;
		errno = saved;
		return -1;
	}
	return 0;
}

void
gen_slots_close(struct gen_slots *gs)
{
	if (gs->gs_map != NULL)
		munmap((void *)(uintptr_t)gs->gs_map, gs->gs_len);
	if (gs->gs_fd != -1)
		close(gs->gs_fd);
	gs->gs_map = NULL;
	gs->gs_len = 0;
	gs->gs_fd = -1;
}

/* Make the file hold the whole page of id's slot, for a worker to map. */
int
gen_slots_cover(struct gen_slots *gs, int64_t id)
{
	size_t	 ps = gen_pagesize();
	off_t	 off;

	if ((off = gen_slot_off(id)) == -1)
		return -1;
	return gen_slots_grow(gs->gs_fd, (off & ~(off_t)(ps - 1)) +
	    (off_t)ps);
}

/*
 * Read id's slot. The mapping covers the file as it was when last mapped;
 * a slot past it maps the file again at its present size (it only grows,
 * so nothing mapped is ever past its end). A slot past that reads as 0.
 */
int
gen_slots_read(struct gen_slots *gs, int64_t id, uint64_t *v)
{
	struct stat	 st;
	off_t		 off;
	void		*p;

	if ((off = gen_slot_off(id)) == -1)
		return -1;
	if ((size_t)off + 8 > gs->gs_len) {
		if (fstat(gs->gs_fd, &st) == -1)
			return -1;
		if ((size_t)st.st_size > gs->gs_len) {
			p = mmap(NULL, (size_t)st.st_size, PROT_READ,
			    MAP_SHARED, gs->gs_fd, 0);
			if (p == MAP_FAILED)
				return -1;
			if (gs->gs_map != NULL)
				munmap((void *)(uintptr_t)gs->gs_map,
				    gs->gs_len);
			gs->gs_map = p;
			gs->gs_len = (size_t)st.st_size;
		}
	}
	if ((size_t)off + 8 > gs->gs_len) {
		*v = 0;
		return 0;
	}
	*v = __atomic_load_n((const uint64_t *)(gs->gs_map + off),
	    __ATOMIC_ACQUIRE);
	return 0;
}
