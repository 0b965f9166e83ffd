/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * tenantd: the supervisor's main. Reads the config, opens the proxy socket,
 * starts the two halves and runs the event loop until told to stop.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <systemd/sd-daemon.h>

#include "cgroup.h"
#include "config-paths.h"
#include "log.h"
#include "supervisor.h"
#include "sys.h"

struct config		*conf;
struct ev_loop		*loop;
static struct config	 config;
static ev_signal	 sig_term, sig_int, sig_hup;
static ev_timer		 stop_timer, stop_poll, status_timer, watchdog_timer;
static int		 draining;
static int		 stopping;
static struct isock	 proxy_sock;
static const char	*config_file;
static int		 config_explicit;
static int		 cmdline_verbose;

static void
usage(void)
{
	fprintf(stderr, "usage: tenantd [-dnvD] [-c config]\n"
	    "  -c config  config file (default %s; built-in defaults if absent)\n"
	    "  -d         debug: log to stderr with debug messages\n"
	    "  -n         check the config, policy and registry, then exit\n"
	    "  -v         verbose logging\n"
	    "  -D         print every config key with its value and exit\n",
	    TENANTD_CONFIG);
	exit(2);
}

/*
 * The proxy socket, made as instance_listen() makes every socket of ours
 * (supervisor/instance.c), given to root:<socket_group> with the
 * configured mode (docs/security.md, item 57).
 */
static int
listen_open(void)
{
	struct group		*gr;
	gid_t			 gid = 0;

	if (conf->c_socket_group[0] != '\0') {
		if ((gr = getgrnam(conf->c_socket_group)) == NULL)
			fatalx("[proxy] socket_group: no group \"%s\"",
			    conf->c_socket_group);
		gid = gr->gr_gid;
	}
	return instance_listen(&proxy_sock, conf->c_socket, gid,
	    conf->c_socket_mode, 1024);
}

/*
 * Socket activation (systemd.socket, sd_listen_fds(3)): exactly one
 * listening Unix stream socket, which we use as it is and never unlink.
 * sd_listen_fds(1) also clears LISTEN_FDS, so no worker inherits it.
 */
static int
listen_inherited(void)
{
	struct sockaddr_un	 sun;
	socklen_t		 sl = sizeof(sun);
	int			 n, fd = SD_LISTEN_FDS_START;

	if ((n = sd_listen_fds(1)) < 0) {
		errno = -n;
		fatal("sd_listen_fds");
	}
	if (n == 0)
		return -1;
	if (n != 1)
		fatalx("systemd passed %d sockets; tenantd takes exactly one, "
		    "the proxy socket", n);
	if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0)
		fatalx("the socket systemd passed is not a listening Unix "
		    "stream socket");
	if (fd_nonblock(fd) == -1 || fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		fatal("socket from systemd");
	memset(&sun, 0, sizeof(sun));
	if (getsockname(fd, (struct sockaddr *)&sun, &sl) == 0 &&
	    sun.sun_path[0] != '\0')
		log_info("proxy socket %.*s passed by systemd",
		    (int)sizeof(sun.sun_path), sun.sun_path);
	else
		log_info("proxy socket passed by systemd");
	return fd;
}

/* systemd's STATUS= line, with live counts ("systemctl status"). */
static void
notify_status(const char *prefix)
{
	struct pool_counts	 pc;

	pool_counts(&pc);
	sd_notifyf(0, "%sSTATUS=%u tenants served by %u workers, %u spare; "
	    "%u connections held, %u being read, %u waiting", prefix,
	    pc.pc_tenants, pc.pc_workers, pc.pc_spares, pc.pc_conns,
	    front_reading(), pc.pc_queued);
}

static void
status_timer_cb(struct ev_loop *l, ev_timer *t, int revents)
{
	notify_status("");
}

/*
 * WATCHDOG=1 from the event loop itself: if the loop wedges, the pings
 * stop and systemd restarts us.
 */
static void
watchdog_timer_cb(struct ev_loop *l, ev_timer *t, int revents)
{
	sd_notify(0, "WATCHDOG=1");
}

/*
 * One key a reload found changed: applied, or waiting for a restart with
 * the value that runs and the one in the file. Said in the log and in the
 * answer to tenantctl reload.
 */
static void
reload_key(const char *section, const char *key, int live, const char *was,
    const char *now, void *arg)
{
	json_t	*res = arg;
	char	 name[128];

	snprintf(name, sizeof(name), "[%s] %s", section, key);
	if (live)
		log_info("reload: %s applied: %s -> %s", name, was, now);
	else
		log_warnx("reload: %s changed; it takes effect after a "
		    "restart (running %s, file %s)", name, was, now);
	json_array_append_new(json_object_get(res, live ? "applied" :
	    "restart"), json_pack("{s:s, s:s, s:s}", "key", name, "old", was,
	    "new", now));
}

static void
reload_reject(json_t *res, const char *what, const char *why)
{
	json_array_append_new(json_object_get(res, "rejected"),
	    json_pack("{s:s, s:s}", "what", what, "reason", why));
}

/*
 * Reload (SIGHUP, systemctl reload, tenantctl reload): the config file
 * and the policy files are read again. Keys that are safe to change live
 * apply at once (new workers get new timeouts and the new policy); the
 * others wait for a restart. Nothing in flight is touched. The answer
 * lists what applied, what waits for a restart and what was rejected (the
 * running one kept), for tenantctl reload to print (docs/operations.md).
 */
json_t *
tenantd_reload(void)
{
	struct config	 nc;
	char		 err[1024];
	json_t		*res;

	sd_notify(0, "RELOADING=1");
	if ((res = json_pack("{s:[], s:[], s:[]}", "applied", "restart",
	    "rejected")) == NULL)
		fatalx("%s: out of memory", __func__);
	if (config_load(&nc, config_file, !config_explicit, err,
	    sizeof(err)) == -1) {
		log_warnx("reload: config: %s; keeping the running one", err);
		reload_reject(res, "config", err);
	} else {
		/*
		 * A new worker binary must exist, or every start would fail:
		 * checked before the keys are applied, so that it is reported
		 * rejected, not applied.
		 */
		if (access(nc.c_worker, X_OK) == -1) {
			snprintf(err, sizeof(err), "%s: %s; keeping %s",
			    nc.c_worker, strerror(errno), conf->c_worker);
			log_warnx("reload: [paths] worker %s", err);
			reload_reject(res, "[paths] worker", err);
			memcpy(nc.c_worker, conf->c_worker, sizeof(nc.c_worker));
		}
		config_reload(conf, &nc, reload_key, res);
		log_setverbose(conf->c_verbose || cmdline_verbose);
		log_info("reload: %s read", nc.c_file[0] ? nc.c_file :
		    "built-in defaults");
	}
	if (priv_reload(err, sizeof(err)) == -1)
		reload_reject(res, "policy", err);
	/* Read at every worker start: a bad one is news now, not then. */
	if (priv_masters_check(err, sizeof(err)) == -1) {
		log_warnx("reload: %s", err);
		reload_reject(res, "master keys", err);
	}
	pool_reconfigure();
	notify_status("READY=1\n");
	return res;
}

static void
stop_timer_cb(struct ev_loop *l, ev_timer *t, int revents)
{
	log_warnx("still busy after drain_timeout (%u ms); killing the "
	    "workers", conf->c_drain_timeout_ms);
	if (!draining) {
		draining = 1;
		pool_shutdown();
	}
	pool_kill_all();
	if (pool_empty())
		ev_break(l, EVBREAK_ALL);
}

/*
 * The second phase of a stop begins once every connection we accepted
 * has been read and routed (or answered): then the workers drain, serving
 * what reached them and closing the rest, and we exit when they are gone.
 */
static void
stop_poll_cb(struct ev_loop *l, ev_timer *t, int revents)
{
	struct pool_counts	 pc;

	pool_counts(&pc);
	if (!draining) {
		if (front_pending() > 0 || pc.pc_queued > 0)
			return;
		draining = 1;
		front_close_idle();
		pool_shutdown();
	}
	if (pool_empty() && front_pending() == 0)
		ev_break(l, EVBREAK_ALL);
}

/*
 * Stop (SIGTERM, systemctl stop or restart): accept nothing more, but
 * finish every request already accepted, then let the workers drain. A
 * restart under socket activation loses nothing: new connections wait in
 * systemd's socket for the next tenantd. drain_timeout bounds it all; a
 * second signal ends it at once.
 */
static void
sig_stop_cb(struct ev_loop *l, ev_signal *s, int revents)
{
	if (stopping++) {
		pool_kill_all();
		return;
	}
	log_info("stopping on signal %d: finishing the requests already "
	    "received", s->signum);
	sd_notify(0, "STOPPING=1");
	front_stop_accepting();
	instance_unlink(&proxy_sock);
	ev_timer_init(&stop_poll, stop_poll_cb, 0., 0.02);
	ev_timer_start(l, &stop_poll);
	ev_timer_init(&stop_timer, stop_timer_cb,
	    conf->c_drain_timeout_ms / 1000.0, 0.);
	ev_timer_start(l, &stop_timer);
}

static void
sig_hup_cb(struct ev_loop *l, ev_signal *s, int revents)
{
	json_decref(tenantd_reload());
}

/* Room for one socket and one pidfd per worker, plus the connections. */
static void
raise_nofile(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char *argv[])
{
	const char	*cfile = TENANTD_CONFIG;
	char		 err[512];
	int		 ch, debug = 0, verbose = 0, check = 0, dump = 0, lfd;
	int		 explicit = 0;
	uint64_t	 wd_usec;
	struct sigaction sa;

	/* Nothing to reload before we run; libev takes SIGHUP over later. */
	signal(SIGHUP, SIG_IGN);
	while ((ch = getopt(argc, argv, "c:dnvD")) != -1) {
		switch (ch) {
		case 'c':
			cfile = optarg;
			explicit = 1;
			break;
		case 'd':
			debug = verbose = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'D':
			dump = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	log_init(debug, verbose);
	log_procinit("tenantd");
	conf = &config;
	config_file = cfile;
	config_explicit = explicit;
	cmdline_verbose = verbose;
	if (config_load(conf, cfile, !explicit, err, sizeof(err)) == -1)
		fatalx("config: %s", err);
	if (conf->c_verbose)
		log_setverbose(1);
	else
		conf->c_verbose = (unsigned int)verbose;
	if (dump) {
		config_dump(stdout, conf);
		return 0;
	}
	if (geteuid() != 0)
		fatalx("tenantd must be started as root: it chroots and "
		    "changes uid for every worker");
	if (sodium_init() == -1)
		fatalx("sodium_init failed");

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	raise_nofile();

	if ((loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		fatalx("libev: no event loop");
	/*
	 * Signal watchers before anything can see us: once the socket
	 * exists, a supervisor may send SIGHUP, whose default action would
	 * end the process.
	 */
	ev_signal_init(&sig_term, sig_stop_cb, SIGTERM);
	ev_signal_init(&sig_int, sig_stop_cb, SIGINT);
	ev_signal_init(&sig_hup, sig_hup_cb, SIGHUP);
	ev_signal_start(loop, &sig_term);
	ev_signal_start(loop, &sig_int);
	ev_signal_start(loop, &sig_hup);
	/*
	 * The lock first, before anything a running tenantd owns is
	 * touched: the slow thread settles the ledger holds of workers it
	 * takes for dead, and the sockets come next. tenantd -n binds and settles
	 * nothing, and may run beside a daemon (ExecReload= does).
	 */
	if (!check) {
		if (mkdir(conf->c_run_dir, 0755) == -1 && errno != EEXIST)
			fatal("mkdir %s", conf->c_run_dir);
		instance_lock();
	}
	priv_init(check);
	if (check) {
		/* What a real start would refuse, short of binding sockets. */
		if (conf->c_socket_group[0] != '\0' &&
		    getgrnam(conf->c_socket_group) == NULL)
			fatalx("[proxy] socket_group: no group \"%s\"",
			    conf->c_socket_group);
		if (conf->c_admin_group[0] != '\0' &&
		    getgrnam(conf->c_admin_group) == NULL)
			fatalx("[admin] group: no group \"%s\"",
			    conf->c_admin_group);
		if (conf->c_http_listen[0] != '\0' &&
		    frontctl_check(err, sizeof(err)) == -1)
			fatalx("%s", err);
		if (config_file_check(conf, err, sizeof(err)) == -1 ||
		    priv_masters_check(err, sizeof(err)) == -1)
			fatalx("%s", err);
		printf("configuration OK (%s)\n", conf->c_file[0] ?
		    conf->c_file : "built-in defaults");
		return 0;
	}
	/*
	 * Before we start any process: under a delegated cgroup v2 (the
	 * packaged unit's Delegate=), into a leaf of it, so that tenantd-run
	 * can hang each tenant's cgroup beside us (docs/tenant-code.md).
	 * Not fatal: tenant code then runs with its rlimits only, and
	 * tenantd-run says why on its first run.
	 */
	switch (cgroup_leaf(err, sizeof(err))) {
	case 1:
		log_info("moved into cgroup leaf \"%s\" of our delegated cgroup",
		    CG_LEAF);
		break;
	case -1:
		log_warnx("cgroup: %s", err);
		break;
	}
	/*
	 * The supervisor should be the last thing the OOM killer picks;
	 * its workers inherit this and raise their own score again.
	 */
	if (oom_score_set("-900") == -1)
		log_debug("oom_score_adj: %s", strerror(errno));
	/*
	 * The admin socket first: once the proxy socket accepts, everything
	 * an operator or a test may ask for is there.
	 */
	admin_init();
	frontctl_init();
	if ((lfd = listen_inherited()) == -1)
		lfd = listen_open();
	dstats.ds_started = ev_now(loop);
	route_init();
	/*
	 * The slow thread owns the ledgers and the storage walks. It opens
	 * nothing now: each ledger when first used, so the start does not
	 * grow with the number of tenants (docs/performance.md).
	 */
	slow_init();
	pool_init();
	front_init(lfd);

	ev_timer_init(&status_timer, status_timer_cb, 2., 2.);
	ev_timer_start(loop, &status_timer);
	if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec > 0) {
		ev_timer_init(&watchdog_timer, watchdog_timer_cb,
		    wd_usec / 2e6, wd_usec / 2e6);
		ev_timer_start(loop, &watchdog_timer);
	}


	log_info("tenantd %s: serving *.%s on %s (%u spare workers)",
	    TENANTD_VERSION, conf->c_hosts.hc_suffix, conf->c_socket,
	    conf->c_spares);
	/* The socket listens and the spares are exec'd: we are ready. */
	notify_status("READY=1\n");
	ev_run(loop, 0);
	/* The ledger writes queued by the workers that drained, done. */
	slow_stop();
	frontctl_stop();
	admin_stop();
	instance_unlink(&proxy_sock);
	instance_unlock();
	log_info("stopped");
	return 0;
}
