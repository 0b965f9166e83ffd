/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The registry generation files (common/gen.c): where a tenant's slot
 * lies, that the slot file is sparse and a missing slot reads 0, that a
 * reader follows the file as it grows, that a worker maps one page, that
 * the slots move before the global counter, and that the global file
 * keeps the one size an older tenantd accepts.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gen.h"

static char	 dir[] = "/tmp/test_gen.XXXXXX";
static char	 gpath[PATH_MAX], spath[PATH_MAX];

static int
setup(void **state)
{
	snprintf(gpath, sizeof(gpath), "%s/%s", dir, GEN_FILE);
	snprintf(spath, sizeof(spath), "%s/%s", dir, GEN_SLOTS_FILE);
	return 0;
}

static int
teardown(void **state)
{
	unlink(gpath);
	unlink(spath);
	return 0;
}

/* The slot as the file holds it, read without gen.c. */
static uint64_t
raw_slot(int64_t id)
{
	uint64_t	 v = 0;
	int		 fd;

	assert_true((fd = open(spath, O_RDONLY)) != -1);
	assert_true(pread(fd, &v, 8, 4096 + 8 * id) >= 0);
	close(fd);
	return v;
}

static void
test_slot_layout(void **state)
{
	const int64_t	 ids[] = { 3, 3, 0, 511, 512 };
	char		 magic[8];
	int		 fd;

	assert_int_equal(gen_slots_bump(spath, ids, 5), 0);
	/* Slot i at 4096 + 8 * i, whatever page it falls in. */
	assert_true(raw_slot(3) == 2);
	assert_true(raw_slot(0) == 1);
	assert_true(raw_slot(511) == 1);
	assert_true(raw_slot(512) == 1);
	assert_true(raw_slot(1) == 0 && raw_slot(2) == 0 && raw_slot(4) == 0);
	assert_true((fd = open(spath, O_RDONLY)) != -1);
	assert_int_equal(pread(fd, magic, 8, 0), 8);
	close(fd);
	assert_memory_equal(magic, "TNTDGSL1", 8);
}

static void
test_sparse_and_missing_slots_read_zero(void **state)
{
	const int64_t		 big = 1000000, one = 1;
	struct gen_slots	 gs;
	struct stat		 st;
	uint64_t		 v = 99;

	assert_int_equal(gen_slots_bump(spath, &one, 1), 0);
	assert_int_equal(gen_slots_open(&gs, spath, 0), 0);
	/* Past the end of the file: 0, not a fault. */
	assert_int_equal(gen_slots_read(&gs, big, &v), 0);
	assert_true(v == 0);
	assert_int_equal(gen_slots_read(&gs, one, &v), 0);
	assert_true(v == 1);

	assert_int_equal(gen_slots_bump(spath, &big, 1), 0);
	assert_int_equal(stat(spath, &st), 0);
	assert_true(st.st_size >= 4096 + 8 * big + 8);
	/* A million ids, two pages written: the rest is a hole. */
	assert_true(st.st_blocks * 512 <= 64 * 1024);
	/* The reader maps the grown file again. */
	assert_int_equal(gen_slots_read(&gs, big, &v), 0);
	assert_true(v == 1);
	assert_int_equal(gen_slots_read(&gs, big / 2, &v), 0);
	assert_true(v == 0);
	assert_int_equal(gen_slots_read(&gs, big + 100000, &v), 0);
	assert_true(v == 0);
	assert_int_equal(gen_slots_read(&gs, one, &v), 0);
	assert_true(v == 1);
	/* No slot for an id a worker could not be told. */
	assert_int_equal(gen_slots_read(&gs, -1, &v), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(gen_slots_read(&gs, (int64_t)GEN_SLOT_MAX + 1, &v),
	    -1);
	gen_slots_close(&gs);
}

static void
test_worker_maps_one_page_of_its_own_slot(void **state)
{
	const int64_t		 a = 700000, b = a + 1;
	struct gen_slots	 gs;
	struct gen		 g;

	assert_int_equal(gen_slots_open(&gs, spath, 1), 0);
	/* Not covered yet: the page would be past the end (SIGBUS). */
	assert_int_equal(gen_map_slot(&g, spath, a), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(gen_slots_cover(&gs, a), 0);
	assert_int_equal(gen_map_slot(&g, spath, a), 0);
	assert_true(g.g_len == (size_t)sysconf(_SC_PAGESIZE));
	assert_true(gen_read(&g) == 0);
	/* Its neighbour's change does not move it; its own does, live. */
	assert_int_equal(gen_slots_bump(spath, &b, 1), 0);
	assert_true(gen_read(&g) == 0);
	assert_int_equal(gen_slots_bump(spath, &a, 1), 0);
	assert_true(gen_read(&g) == 1);
	gen_unmap(&g);
	gen_slots_close(&gs);
}

static void
test_slots_move_before_the_global_counter(void **state)
{
	const int64_t	 ids[] = { 2, 9 }, bad[] = { 2,
	    (int64_t)GEN_SLOT_MAX + 1 };
	struct gen	 g, r;

	assert_int_equal(gen_map(&g, gpath, 1), 0);
	assert_int_equal(gen_map(&r, gpath, 0), 0);
	assert_int_equal(gen_bump(&g, gpath, spath, ids, 2), 0);
	assert_true(gen_read(&r) == 1);
	assert_true(raw_slot(2) == 1 && raw_slot(9) == 1);
	/*
	 * The slots come first: one that cannot move leaves the global
	 * counter where it was, so a reader that sees it move finds every
	 * slot already moved.
	 */
	assert_int_equal(gen_bump(&g, gpath, spath, bad, 2), -1);
	assert_true(raw_slot(2) == 2);
	assert_true(gen_read(&r) == 1);
	/* A change for no tenant moves the global counter only. */
	assert_int_equal(gen_bump(&g, gpath, spath, NULL, 0), 0);
	assert_true(gen_read(&r) == 2);
	assert_true(raw_slot(2) == 2 && raw_slot(9) == 1);
	gen_unmap(&r);
	gen_unmap(&g);
}

static void
test_global_file_keeps_its_size(void **state)
{
	const int64_t	 id = 123456;
	struct gen	 g;
	struct stat	 st;

	assert_int_equal(gen_map(&g, gpath, 1), 0);
	assert_int_equal(gen_bump(&g, gpath, spath, &id, 1), 0);
	gen_unmap(&g);
	/* The one size a tenantd from before the slots maps. */
	assert_int_equal(stat(gpath, &st), 0);
	assert_true(st.st_size == 4096);
	assert_int_equal(gen_map(&g, gpath, 0), 0);
	assert_true(gen_read(&g) == 1);
	gen_unmap(&g);
}

static void
test_slot_file_others_may_write_is_refused(void **state)
{
	const int64_t		 id = 1;
	struct gen_slots	 gs;
	struct gen		 g;
	char			 link[PATH_MAX];

	assert_int_equal(gen_slots_bump(spath, &id, 1), 0);
	assert_int_equal(chmod(spath, 0666), 0);
	assert_int_equal(gen_map_slot(&g, spath, id), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(gen_slots_open(&gs, spath, 0), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(gen_slots_bump(spath, &id, 1), -1);
	assert_int_equal(chmod(spath, 0644), 0);
	snprintf(link, sizeof(link), "%s/link", dir);
	assert_int_equal(symlink(spath, link), 0);
	assert_int_equal(gen_map_slot(&g, link, id), -1);
	assert_int_equal(errno, ELOOP);
	unlink(link);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_slot_layout, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_sparse_and_missing_slots_read_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_worker_maps_one_page_of_its_own_slot, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_slots_move_before_the_global_counter, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_global_file_keeps_its_size, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_slot_file_others_may_write_is_refused, setup,
		    teardown),
	};
	int	 rc;

	if (geteuid() != 0) {
		/* The files must be root's (gen.c); this is not a skip. */
		fprintf(stderr, "test_gen: must run as root\n");
		return 1;
	}
	if (mkdtemp(dir) == NULL)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(dir);
	return rc;
}
