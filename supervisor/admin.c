/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The admin side: a Unix socket for tenantctl (status, metrics, restart,
 * drain, reload), open to root and the [admin] group only and checked
 * again on the peer's credentials. One request per connection: read it
 * (bounded, with a deadline), answer, close. The socket never leaves this
 * process. The loopback HTTP listener ([admin] http_listen) is served by
 * the front, an unprivileged process (frontctl.c), with connections and a
 * cap of its own: a flood of it cannot lock an operator out of tenantctl.
 */
#include <sys/socket.h>

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "oneshot.h"
#include "status.h"
#include "supervisor.h"
#include "sys.h"

#define ADMIN_LINE_MAX	512
#define ADMIN_TIMEOUT	5.0
#define ADMIN_CONNS_MAX	64

struct aconn {
	struct oneshot	 a_c;		/* first: oneshot.c frees the aconn */
	char		 a_in[ADMIN_LINE_MAX + 1];
	size_t		 a_len;
	uid_t		 a_uid;		/* the peer's, from SO_PEERCRED */
};

static struct oneshot_set aconns;
static int		 admin_fd = -1;
static ev_io		 admin_ev;
static gid_t		 admin_gid;
static int		 admin_has_group;
static struct isock	 admin_sock;

static void	aconn_read_cb(struct ev_loop *, ev_io *, int);

static void
aconn_json(struct aconn *a, json_t *j)
{
	char	*s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	char	*buf;
	int	 n;

	json_decref(j);
	if (s == NULL || (n = asprintf(&buf, "%s\n", s)) == -1) {
		free(s);
		oneshot_free(&a->a_c);
		return;
	}
	free(s);
	oneshot_answer(&a->a_c, buf, (size_t)n);
}

static void
aconn_error(struct aconn *a, const char *msg)
{
	aconn_json(a, json_pack("{s:s}", "error", msg));
}

/* tenantctl's requests: one line, a command and maybe a slug. */
static void
admin_command(struct aconn *a, char *line)
{
	char		*cmd, *arg, *extra, *buf;
	size_t		 len;
	json_t		*j;
	int		 n;

	cmd = strtok(line, " \t\r\n");
	arg = strtok(NULL, " \t\r\n");
	extra = strtok(NULL, " \t\r\n");
	if (cmd == NULL || extra != NULL) {
		aconn_error(a, "usage: status [SLUG] | metrics | restart SLUG "
		    "| drain SLUG | reload");
		return;
	}
	if (arg != NULL && slug_check_syntax(arg, strlen(arg)) != SLUG_OK) {
		aconn_error(a, "invalid slug");
		return;
	}
	if (strcmp(cmd, "status") == 0) {
		if ((j = status_json(arg)) == NULL)
			j = json_pack("{s:s, s:b}", "slug", arg, "seen", 0);
		aconn_json(a, j);
	} else if (strcmp(cmd, "metrics") == 0 && arg == NULL) {
		if (status_metrics_text(&buf, &len) == -1) {
			oneshot_free(&a->a_c);
			return;
		}
		oneshot_answer(&a->a_c, buf, len);
	} else if ((strcmp(cmd, "restart") == 0 || strcmp(cmd, "drain") == 0)
	    && arg != NULL) {
		/*
		 * [admin] tenant_commands = root: reading status stays open
		 * to the group, acting on a tenant's workers does not
		 * (docs/security.md, "The admin listener").
		 */
		if (strcmp(conf->c_tenant_commands, "root") == 0 &&
		    a->a_uid != 0) {
			log_warnx("admin: %s %s refused to uid %u "
			    "([admin] tenant_commands = root)", cmd, arg,
			    (unsigned int)a->a_uid);
			aconn_error(a, "permission denied: [admin] "
			    "tenant_commands = root");
			return;
		}
		n = pool_restart(arg, cmd[0] == 'r');
		log_info("admin: %s %s (%d workers retiring)", cmd, arg,
		    n < 0 ? 0 : n);
		aconn_json(a, json_pack("{s:b, s:i}", "ok", 1, "workers",
		    n < 0 ? 0 : n));
	} else if (strcmp(cmd, "reload") == 0 && arg == NULL) {
		log_info("admin: reload");
		/* What applied, what waits for a restart, what was refused. */
		aconn_json(a, tenantd_reload());
	} else
		aconn_error(a, "unknown command");
}

static void
aconn_read_cb(struct ev_loop *l, ev_io *io, int revents)
{
	struct aconn	*a = io->data;
	ssize_t		 n;
	char		*nl;

	n = read(a->a_c.o_fd, a->a_in + a->a_len, sizeof(a->a_in) - a->a_len - 1);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		oneshot_free(&a->a_c);
		return;
	}
	a->a_len += (size_t)n;
	a->a_in[a->a_len] = '\0';
	if ((nl = memchr(a->a_in, '\n', a->a_len)) == NULL) {
		if (a->a_len >= ADMIN_LINE_MAX)
			aconn_error(a, "request too long");
		return;
	}
	*nl = '\0';
	admin_command(a, a->a_in);
}

/*
 * Root, or a member of the [admin] group (primary or supplementary: the
 * socket's mode already says so, this says it again should the mode be
 * loosened by hand).
 */
static int
admin_peer_ok(int fd, uid_t *uid)
{
	struct ucred	 uc;
	socklen_t	 sl = sizeof(uc);
	gid_t		 groups[256];
	socklen_t	 gl = sizeof(groups);
	size_t		 i;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &sl) == -1)
		return 0;
	*uid = uc.uid;
	if (uc.uid == 0)
		return 1;
	if (!admin_has_group)
		return 0;
	if (uc.gid == admin_gid)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &gl) == -1)
		return 0;
	for (i = 0; i < gl / sizeof(gid_t); i++)
		if (groups[i] == admin_gid)
			return 1;
	return 0;
}

static void
admin_accept_cb(struct ev_loop *l, ev_io *io, int revents)
{
	struct aconn	*a;
	int		 fd;

	while ((fd = accept4(admin_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC))
	    != -1) {
		if ((a = oneshot_accept(&aconns, fd, sizeof(*a),
		    aconn_read_cb)) == NULL)
			continue;
		if (!admin_peer_ok(fd, &a->a_uid)) {
			aconn_error(a, "permission denied");
			continue;
		}
		ev_io_start(loop, &a->a_c.o_io);
	}
}

void
admin_init(void)
{
	struct group		*gr;

	oneshot_init(&aconns, loop, ADMIN_CONNS_MAX, ADMIN_TIMEOUT);
	if (conf->c_admin_group[0] != '\0') {
		if ((gr = getgrnam(conf->c_admin_group)) == NULL)
			fatalx("[admin] group: no group \"%s\"",
			    conf->c_admin_group);
		admin_gid = gr->gr_gid;
		admin_has_group = 1;
	}
	admin_fd = instance_listen(&admin_sock, conf->c_admin_socket,
	    admin_has_group ? admin_gid : 0, admin_has_group ? 0660 : 0600, 16);
	ev_io_init(&admin_ev, admin_accept_cb, admin_fd, EV_READ);
	ev_io_start(loop, &admin_ev);
}

void
admin_stop(void)
{
	struct oneshot	*o;

	if (admin_fd != -1) {
		ev_io_stop(loop, &admin_ev);
		close(admin_fd);
		instance_unlink(&admin_sock);
		admin_fd = -1;
	}
	while ((o = TAILQ_FIRST(&aconns.os_list)) != NULL)
		oneshot_free(o);
}
