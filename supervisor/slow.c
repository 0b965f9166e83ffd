/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The slow thread (docs/architecture.md, "The slow thread"): the work of
 * the root half that can wait on a lock or a disk, away from the loop
 * that routes every tenant. It owns every ledger connection (billing.db,
 * WAL with synchronous=FULL and a busy timeout) and does the storage
 * walks of tenant directories, which the tenant fills as it likes.
 *
 * The loop hands it jobs through a bounded FIFO (a mutex and a condition
 * variable) and gets each job back, answered, through a second queue and
 * an ev_async, the one libev call that is safe from another thread. A job
 * names its tenant by id and slug and its worker by pid and a request
 * serial: never a pointer into the loop's structures, so an answer for a
 * worker that died meanwhile finds nobody and is dropped (or undone).
 * One thread and one FIFO keep each tenant's ledger writes in the order
 * the loop made them: a hold, its usage reports, its close.
 *
 * The thread never logs and never touches the registry, the config or
 * anything else of the loop's: what it has to say rides back in the job,
 * and the loop logs it (common/log.c is not written for two threads).
 */
#include <sys/queue.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ledger.h"
#include "log.h"
#include "supervisor.h"

/*
 * Queue bounds. A credit request or a walk beyond SLOW_QUEUE_MAX is
 * refused at once (the worker gets a dry grant; the walk is skipped until
 * the next scan). Usage reports and hold closes are the books: they are
 * refused only beyond four times that, a ledger locked for minutes.
 */
#define SLOW_QUEUE_MAX		1024
#define SLOW_QUEUE_BOOKS	(4 * SLOW_QUEUE_MAX)

/* A walk that deep or that long is a tenant playing games: stop counting. */
#define WALK_MAX_DEPTH		64
#define WALK_MAX_ENTRIES	1000000

enum slow_kind {
	SJ_HOLD,	/* open or grow a worker's hold */
	SJ_USAGE,	/* a usage report */
	SJ_CLOSE,	/* charge what was not reported, close the hold */
	SJ_STORAGE,	/* measure a tenant's directory */
	SJ_SETTLE,	/* background: settle holds left by a crash */
};

struct slow_job {
	STAILQ_ENTRY(slow_job) sj_entry;
	enum slow_kind	 sj_kind;
	int64_t		 sj_tenant;
	char		 sj_slug[SLUG_MAX_LEN + 1];
	pid_t		 sj_pid;
	uint64_t	 sj_serial;
	int64_t		 sj_hold;
	uint64_t	 sj_seq;
	int64_t		 sj_units;	/* want, usage or unreported */
	/* The answer. */
	int		 sj_rc;
	int64_t		 sj_granted;
	uint64_t	 sj_bytes;
	unsigned long	 sj_entries;	/* the walk's */
	double		 sj_secs;	/* the walk's time */
	int		 sj_settled;	/* holds of a dead tenantd closed */
	int		 sj_opened;	/* SJ_HOLD opened sj_hold */
	char		 sj_err[256];
};
STAILQ_HEAD(slow_jobs, slow_job);

/* Open ledgers, one per tenant with a hold outstanding. Thread only. */
struct pledger {
	struct pledger	*pl_next;
	int64_t		 pl_tenant;
	struct ledger	*pl_ledger;
	unsigned int	 pl_holds;
};
static struct pledger	*ledgers;
static char		 state_dir[PATH_MAX];	/* a copy: reload rewrites conf */

/* Shared with the thread, under mu. */
static pthread_mutex_t	 mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 cv = PTHREAD_COND_INITIALIZER;
static struct slow_jobs	 todo = STAILQ_HEAD_INITIALIZER(todo);
static struct slow_jobs	 sweep = STAILQ_HEAD_INITIALIZER(sweep);
static struct slow_jobs	 done = STAILQ_HEAD_INITIALIZER(done);
static unsigned int	 ntodo;
static int		 stopping;

/* The loop's. */
static pthread_t	 thread;
static int		 running;
static ev_async		 done_async;
static ev_timer		 sweep_timer;
static uint64_t		 nrefused, nsettled, ndone;

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

/* The tenant's jail root, opened without following a link. */
static int
tenant_dir_open(const char *slug, char *err, size_t errsz)
{
	char	 path[PATH_MAX];
	int	 fd;

	if (snprintf(path, sizeof(path), "%s/tenants/%s", state_dir, slug) >=
	    (int)sizeof(path)) {
		snprintf(err, errsz, "path too long");
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		snprintf(err, errsz, "tenants/%s: %s", slug, strerror(errno));
	return fd;
}

static int
name_in(const char *name, const char *const *list, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(name, list[i]) == 0)
			return 1;
	return 0;
}

/*
 * Bytes under dirfd, without following links or crossing into another
 * file system, by blocks allocated (a sparse file costs what it uses).
 * `skip` names files in the top-level "data" directory not to count.
 */
static void
walk(int dirfd, dev_t dev, int depth, int in_data, uint64_t *sum,
    unsigned long *n)
{
	static const char *const skip[] = { "app.db", "app.db-wal",
	    "app.db-shm", "app.db-journal" };
	/* Ours, not the tenant's: the ledger grows with its usage reports. */
	static const char *const ours[] = { LEDGER_FILE, LEDGER_FILE "-wal",
	    LEDGER_FILE "-shm", LEDGER_FILE "-journal", "tenant.json" };
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	int		 fd;

	if ((d = fdopendir(dirfd)) == NULL) {
		close(dirfd);
		return;
	}
	while ((de = readdir(d)) != NULL && *n < WALK_MAX_ENTRIES) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		(*n)++;
		if (depth == 0 && name_in(de->d_name, ours, NITEMS(ours)))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		if (in_data && S_ISREG(st.st_mode) &&
		    name_in(de->d_name, skip, NITEMS(skip)))
			continue;
		*sum += (uint64_t)st.st_blocks * 512;
		if (!S_ISDIR(st.st_mode) || st.st_dev != dev ||
		    depth >= WALK_MAX_DEPTH)
			continue;
		if ((fd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) == -1)
			continue;
		walk(fd, dev, depth + 1, depth == 0 &&
		    strcmp(de->d_name, "data") == 0, sum, n);
	}
	closedir(d);
}

/*
 * What the tenant's directory uses apart from the KV database, which the
 * worker bounds itself with max_page_count. Measured as root, so a
 * directory the tenant made unreadable to itself still counts.
 */
static void
do_storage(struct slow_job *j)
{
	struct stat	 st;
	struct timespec	 t0, t1;
	int		 fd;

	j->sj_rc = -1;
	if ((fd = tenant_dir_open(j->sj_slug, j->sj_err,
	    sizeof(j->sj_err))) == -1)
		return;
	if (fstat(fd, &st) == -1) {
		snprintf(j->sj_err, sizeof(j->sj_err), "%s", strerror(errno));
		close(fd);
		return;
	}
	j->sj_bytes = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	walk(fd, st.st_dev, 0, 0, &j->sj_bytes, &j->sj_entries);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	j->sj_secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	j->sj_rc = 0;
}

/*
 * The ledger of a tenant, opened on first use. Opening it settles the
 * holds it has open: a ledger is open here whenever a hold of this
 * tenantd is (pl_holds), so any hold open when it is not belonged to a
 * worker that died with an earlier tenantd. Its unspent part is available
 * again; what it spent without reporting is lost (at most one hold's
 * worth per worker, docs/data-plane.md), never charged twice. This is
 * what start used to do for every tenant, before the socket was ready.
 */
static struct pledger *
ledger_get(struct slow_job *j, int create)
{
	struct pledger	*pl;
	char		 err[200];
	int		 fd, n;

	for (pl = ledgers; pl != NULL; pl = pl->pl_next)
		if (pl->pl_tenant == j->sj_tenant)
			return pl;
	if ((fd = tenant_dir_open(j->sj_slug, j->sj_err,
	    sizeof(j->sj_err))) == -1)
		return NULL;
	if (!create && faccessat(fd, LEDGER_FILE, F_OK,
	    AT_SYMLINK_NOFOLLOW) == -1) {
		close(fd);
		return NULL;
	}
	if ((pl = calloc(1, sizeof(*pl))) == NULL) {
		snprintf(j->sj_err, sizeof(j->sj_err), "%s", strerror(errno));
		close(fd);
		return NULL;
	}
	/* A tenant created before the ledger existed gets an empty one. */
	pl->pl_ledger = ledger_open(fd, create, err, sizeof(err));
	close(fd);
	if (pl->pl_ledger == NULL) {
		snprintf(j->sj_err, sizeof(j->sj_err), "%s", err);
		free(pl);
		return NULL;
	}
	if ((n = ledger_holds_close_all(pl->pl_ledger)) == -1) {
		snprintf(j->sj_err, sizeof(j->sj_err), "settling open holds: "
		    "%s", ledger_errmsg(pl->pl_ledger));
		ledger_close(pl->pl_ledger);
		free(pl);
		return NULL;
	}
	j->sj_settled = n;
	pl->pl_tenant = j->sj_tenant;
	pl->pl_next = ledgers;
	ledgers = pl;
	return pl;
}

static void
ledger_put(struct pledger *pl)
{
	struct pledger	**pp;

	if (pl->pl_holds > 0)
		return;
	for (pp = &ledgers; *pp != NULL; pp = &(*pp)->pl_next)
		if (*pp == pl) {
			*pp = pl->pl_next;
			break;
		}
	ledger_close(pl->pl_ledger);
	free(pl);
}

static void
ledger_err(struct slow_job *j, struct pledger *pl)
{
	snprintf(j->sj_err, sizeof(j->sj_err), "%s",
	    ledger_errmsg(pl->pl_ledger));
}

/*
 * Open a hold for a worker (sj_hold 0) or grow it. On any ledger error
 * nothing is granted: the worker answers 402 rather than spend credits we
 * could not reserve.
 */
static void
do_hold(struct slow_job *j)
{
	struct pledger	*pl;
	char		 who[64];
	int64_t		 h;

	j->sj_rc = -1;
	j->sj_granted = 0;
	if ((pl = ledger_get(j, 1)) == NULL)
		return;
	if (j->sj_hold == 0) {
		snprintf(who, sizeof(who), "worker %d", (int)j->sj_pid);
		if ((h = ledger_hold_open(pl->pl_ledger, who, j->sj_units,
		    &j->sj_granted)) == -1)
			goto fail;
		j->sj_hold = h;
		j->sj_opened = 1;
		pl->pl_holds++;
		j->sj_rc = 0;
		return;
	}
	if (ledger_hold_extend(pl->pl_ledger, j->sj_hold, j->sj_units,
	    &j->sj_granted) == -1)
		goto fail;
	j->sj_rc = 0;
	return;
fail:
	ledger_err(j, pl);
	ledger_put(pl);
}

/* sj_rc 0: committed (on disk); 1: a report already recorded; -1: not. */
static void
do_usage(struct slow_job *j)
{
	struct pledger	*pl;

	j->sj_rc = -1;
	if ((pl = ledger_get(j, 1)) == NULL)
		return;
	if ((j->sj_rc = ledger_usage(pl->pl_ledger, j->sj_hold, j->sj_seq,
	    j->sj_units)) == -1)
		ledger_err(j, pl);
	ledger_put(pl);
}

/*
 * Close a worker's hold, charging first what it took and did not report
 * (sj_units, as its report sj_seq). A failed charge is reported and the
 * hold closed all the same: the tenant is then under-charged, as for any
 * report the ledger could not take. sj_rc: 0, or -1 for a failed charge,
 * -2 for a failed close.
 */
static void
do_close(struct slow_job *j)
{
	struct pledger	*pl;

	j->sj_rc = -2;
	if ((pl = ledger_get(j, 1)) == NULL)
		return;
	j->sj_rc = 0;
	if (j->sj_units > 0 && ledger_usage(pl->pl_ledger, j->sj_hold,
	    j->sj_seq, j->sj_units) == -1) {
		ledger_err(j, pl);
		j->sj_rc = -1;
	}
	if (ledger_hold_close(pl->pl_ledger, j->sj_hold) == -1) {
		ledger_err(j, pl);
		j->sj_rc = -2;
	}
	if (pl->pl_holds > 0)
		pl->pl_holds--;
	ledger_put(pl);
}

/* Background: a ledger nobody has used since start, settled and closed. */
static void
do_settle(struct slow_job *j)
{
	struct pledger	*pl;

	j->sj_rc = 0;
	for (pl = ledgers; pl != NULL; pl = pl->pl_next)
		if (pl->pl_tenant == j->sj_tenant)
			return;		/* in use: settled when opened */
	if ((pl = ledger_get(j, 0)) == NULL) {
		j->sj_rc = j->sj_err[0] != '\0' ? -1 : 0;
		return;
	}
	ledger_put(pl);
}

/*
 * Jobs first, in order; a background settle only when no job waits, so
 * the sweep never delays a grant by more than one settle.
 */
static void *
slow_main(void *arg)
{
	struct slow_job	*j;

	(void)arg;
	pthread_mutex_lock(&mu);
	for (;;) {
		while (!stopping && STAILQ_EMPTY(&todo) && STAILQ_EMPTY(&sweep))
			pthread_cond_wait(&cv, &mu);
		if ((j = STAILQ_FIRST(&todo)) != NULL) {
			STAILQ_REMOVE_HEAD(&todo, sj_entry);
			ntodo--;
		} else if (stopping)
			break;
		else {
			j = STAILQ_FIRST(&sweep);
			STAILQ_REMOVE_HEAD(&sweep, sj_entry);
		}
		pthread_mutex_unlock(&mu);
		switch (j->sj_kind) {
		case SJ_HOLD:
			do_hold(j);
			break;
		case SJ_USAGE:
			do_usage(j);
			break;
		case SJ_CLOSE:
			do_close(j);
			break;
		case SJ_STORAGE:
			do_storage(j);
			break;
		case SJ_SETTLE:
			do_settle(j);
			break;
		}
		pthread_mutex_lock(&mu);
		STAILQ_INSERT_TAIL(&done, j, sj_entry);
		ev_async_send(loop, &done_async);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

/* One answer, on the loop: the log lines and the pool's part. */
static void
slow_answer(struct slow_job *j, int live)
{
	const char	*slug = j->sj_slug;

	ndone++;
	if (j->sj_settled > 0) {
		nsettled += (uint64_t)j->sj_settled;
		log_info("tenant %s: ledger: %d holds left open by an earlier "
		    "tenantd settled", slug, j->sj_settled);
	}
	switch (j->sj_kind) {
	case SJ_HOLD:
		if (j->sj_rc == -1)
			log_warnx("tenant %s: ledger: %s", slug, j->sj_err);
		/*
		 * Its worker died meanwhile: no credit of the hold it opened
		 * was delivered, so it is closed uncharged. At exit the
		 * ledger's next open settles it.
		 */
		if (live && pool_credit_done(j->sj_tenant, j->sj_pid,
		    j->sj_serial, j->sj_hold, j->sj_units, j->sj_granted) == 0 &&
		    j->sj_opened && slow_hold_close(j->sj_tenant, slug,
		    j->sj_hold, 1, 0) == -1)
			log_warnx("tenant %s: ledger: hold %lld left open "
			    "until the next start: %s", slug,
			    (long long)j->sj_hold, strerror(errno));
		break;
	case SJ_USAGE:
		if (j->sj_rc == -1)
			log_warnx("ledger: tenant %s hold %lld report %llu: "
			    "%lld credits NOT recorded: %s", slug,
			    (long long)j->sj_hold,
			    (unsigned long long)j->sj_seq,
			    (long long)j->sj_units, j->sj_err);
		else
			log_debug("ledger: tenant %s hold %lld report %llu: "
			    "%lld credits committed", slug,
			    (long long)j->sj_hold,
			    (unsigned long long)j->sj_seq,
			    (long long)j->sj_units);
		break;
	case SJ_CLOSE:
		if (j->sj_rc == -1)
			log_warnx("tenant %s: ledger: hold %lld: %lld "
			    "unreported credits NOT charged: %s", slug,
			    (long long)j->sj_hold, (long long)j->sj_units,
			    j->sj_err);
		else if (j->sj_units > 0)
			log_info("tenant %s: ledger: hold %lld: %lld "
			    "credits taken and never reported, charged", slug,
			    (long long)j->sj_hold, (long long)j->sj_units);
		if (j->sj_rc == -2)
			log_warnx("tenant %s: ledger: hold %lld: %s", slug,
			    (long long)j->sj_hold, j->sj_err);
		break;
	case SJ_STORAGE:
		if (j->sj_rc == -1)
			log_warnx("tenant %s: cannot measure its directory "
			    "(%s); storage counts the database only", slug,
			    j->sj_err);
		else
			log_debug("tenant %s: storage walk: %llu bytes, %lu "
			    "entries, %.3fs", slug,
			    (unsigned long long)j->sj_bytes, j->sj_entries,
			    j->sj_secs);
		if (live)
			pool_storage_done(j->sj_tenant, j->sj_rc == 0,
			    j->sj_bytes);
		break;
	case SJ_SETTLE:
		if (j->sj_rc == -1)
			log_warnx("tenant %s: ledger: %s", slug, j->sj_err);
		break;
	}
	free(j);
}

static void
slow_drain(int live)
{
	struct slow_jobs	 got = STAILQ_HEAD_INITIALIZER(got);
	struct slow_job		*j;

	pthread_mutex_lock(&mu);
	STAILQ_CONCAT(&got, &done);
	pthread_mutex_unlock(&mu);
	while ((j = STAILQ_FIRST(&got)) != NULL) {
		STAILQ_REMOVE_HEAD(&got, sj_entry);
		slow_answer(j, live);
	}
}

static void
done_cb(struct ev_loop *l, ev_async *a, int revents)
{
	slow_drain(1);
}

/* 0, or -1 with EAGAIN: the queue is full; the job is not taken. */
static int
slow_put(struct slow_job *j, unsigned int max)
{
	pthread_mutex_lock(&mu);
	if (ntodo >= max) {
		pthread_mutex_unlock(&mu);
		nrefused++;
		free(j);
		errno = EAGAIN;
		return -1;
	}
	STAILQ_INSERT_TAIL(&todo, j, sj_entry);
	ntodo++;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	return 0;
}

static struct slow_job *
slow_job(enum slow_kind kind, int64_t tenant, const char *slug)
{
	struct slow_job	*j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->sj_kind = kind;
	j->sj_tenant = tenant;
	snprintf(j->sj_slug, sizeof(j->sj_slug), "%s", slug);
	return j;
}

/* Credits for a worker; pool_credit_done() gets the answer. */
int
slow_hold(int64_t tenant, const char *slug, pid_t pid, uint64_t serial,
    int64_t hold, int64_t want)
{
	struct slow_job	*j;

	if ((j = slow_job(SJ_HOLD, tenant, slug)) == NULL)
		return -1;
	j->sj_pid = pid;
	j->sj_serial = serial;
	j->sj_hold = hold;
	j->sj_units = want;
	return slow_put(j, SLOW_QUEUE_MAX);
}

int
slow_usage(int64_t tenant, const char *slug, int64_t hold, uint64_t seq,
    int64_t units)
{
	struct slow_job	*j;

	if ((j = slow_job(SJ_USAGE, tenant, slug)) == NULL)
		return -1;
	j->sj_hold = hold;
	j->sj_seq = seq;
	j->sj_units = units;
	return slow_put(j, SLOW_QUEUE_BOOKS);
}

int
slow_hold_close(int64_t tenant, const char *slug, int64_t hold, uint64_t seq,
    int64_t unreported)
{
	struct slow_job	*j;

	if ((j = slow_job(SJ_CLOSE, tenant, slug)) == NULL)
		return -1;
	j->sj_hold = hold;
	j->sj_seq = seq;
	j->sj_units = unreported;
	return slow_put(j, SLOW_QUEUE_BOOKS);
}

/* A walk of the tenant's directory; pool_storage_done() gets the answer. */
int
slow_storage(int64_t tenant, const char *slug)
{
	struct slow_job	*j;

	if ((j = slow_job(SJ_STORAGE, tenant, slug)) == NULL)
		return -1;
	return slow_put(j, SLOW_QUEUE_MAX);
}

static int
sweep_cb(const struct tenant *t, void *arg)
{
	struct slow_jobs	*q = arg;
	struct slow_job		*j;

	if (t->t_status == TENANT_DELETED ||
	    (j = slow_job(SJ_SETTLE, t->t_id, t->t_slug)) == NULL)
		return 0;
	STAILQ_INSERT_TAIL(q, j, sj_entry);
	return 0;
}

/*
 * After start, once the socket serves: every tenant's ledger, settled in
 * the background when the thread has nothing else to do, so a tenant
 * that is never used does not keep a dead worker's hold reserved. The
 * registry is read here, on the loop, once (no ledger is opened).
 */
static void
sweep_timer_cb(struct ev_loop *l, ev_timer *tm, int revents)
{
	struct slow_jobs	 q = STAILQ_HEAD_INITIALIZER(q);

	if (registry_tenants(priv_registry(), sweep_cb, &q) != REG_OK)
		log_warnx("ledgers: %s", registry_errmsg(priv_registry()));
	pthread_mutex_lock(&mu);
	STAILQ_CONCAT(&sweep, &q);
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
}

void
slow_init(void)
{
	sigset_t	 all, old;
	int		 e;

	if (snprintf(state_dir, sizeof(state_dir), "%s", conf->c_state_dir) >=
	    (int)sizeof(state_dir))
		fatalx("state_dir too long");
	/* The registry on the loop and the ledgers here share SQLite. */
	if (!sqlite3_threadsafe())
		fatalx("SQLite is built without thread support");
	ev_async_init(&done_async, done_cb);
	ev_async_start(loop, &done_async);
	/* Signals are the loop's (libev): the thread takes none. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&thread, NULL, slow_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		errno = e;
		fatal("slow thread");
	}
	running = 1;
	ev_timer_init(&sweep_timer, sweep_timer_cb, 0., 0.);
	ev_timer_start(loop, &sweep_timer);
}

/*
 * At exit, after the loop: the thread finishes every job queued (the
 * hold closes of the workers that drained above all), the background
 * sweep is dropped, and the answers are logged.
 */
void
slow_stop(void)
{
	struct slow_job	*j;

	if (!running)
		return;
	ev_timer_stop(loop, &sweep_timer);
	pthread_mutex_lock(&mu);
	while ((j = STAILQ_FIRST(&sweep)) != NULL) {
		STAILQ_REMOVE_HEAD(&sweep, sj_entry);
		free(j);
	}
	stopping = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(thread, NULL);
	running = 0;
	ev_async_stop(loop, &done_async);
	slow_drain(0);
}

void
slow_metrics(FILE *f)
{
	unsigned int	 n;

	pthread_mutex_lock(&mu);
	n = ntodo;
	pthread_mutex_unlock(&mu);
	fprintf(f, "# HELP tenantd_slow_queue Jobs waiting for the slow "
	    "thread (ledger writes, storage walks).\n"
	    "# TYPE tenantd_slow_queue gauge\ntenantd_slow_queue %u\n"
	    "# HELP tenantd_slow_refused_total Jobs refused because the slow "
	    "thread's queue was full.\n"
	    "# TYPE tenantd_slow_refused_total counter\n"
	    "tenantd_slow_refused_total %llu\n"
	    "# HELP tenantd_slow_done_total Jobs the slow thread answered.\n"
	    "# TYPE tenantd_slow_done_total counter\n"
	    "tenantd_slow_done_total %llu\n"
	    "# HELP tenantd_ledger_holds_settled_total Holds left open by an "
	    "earlier tenantd, closed when their ledger was first opened.\n"
	    "# TYPE tenantd_ledger_holds_settled_total counter\n"
	    "tenantd_ledger_holds_settled_total %llu\n", n,
	    (unsigned long long)nrefused, (unsigned long long)ndone,
	    (unsigned long long)nsettled);
}
