/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * One request, one answer, closed (oneshot.h): the plumbing the admin
 * socket and the front's HTTP listener share.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "oneshot.h"

static void
oneshot_timeout_cb(struct ev_loop *l, ev_timer *t, int revents)
{
	oneshot_free(t->data);
}

void
oneshot_init(struct oneshot_set *s, struct ev_loop *loop, unsigned int max,
    double timeout)
{
	TAILQ_INIT(&s->os_list);
	s->os_n = 0;
	s->os_max = max;
	s->os_timeout = timeout;
	s->os_loop = loop;
}

/*
 * A connection of `size` bytes (a struct starting with a struct oneshot)
 * for the accepted `fd`, its deadline running and its read watcher set to
 * `read_cb` but not started: the caller starts it once it admits the
 * peer. NULL, with fd closed, when the set is full or memory is short.
 */
void *
oneshot_accept(struct oneshot_set *s, int fd, size_t size,
    void (*read_cb)(struct ev_loop *, ev_io *, int))
{
	struct oneshot	*o;

	if (s->os_n >= s->os_max || (o = calloc(1, size)) == NULL) {
		close(fd);
		return NULL;
	}
	o->o_set = s;
	o->o_fd = fd;
	ev_io_init(&o->o_io, read_cb, fd, EV_READ);
	ev_timer_init(&o->o_tmo, oneshot_timeout_cb, s->os_timeout, 0.);
	o->o_io.data = o->o_tmo.data = o;
	TAILQ_INSERT_TAIL(&s->os_list, o, o_entry);
	s->os_n++;
	ev_timer_start(s->os_loop, &o->o_tmo);
	return o;
}

/* Stop, close and free: the owner's struct with it. */
void
oneshot_free(struct oneshot *o)
{
	struct oneshot_set	*s = o->o_set;

	ev_io_stop(s->os_loop, &o->o_io);
	ev_timer_stop(s->os_loop, &o->o_tmo);
	close(o->o_fd);
	free(o->o_out);
	TAILQ_REMOVE(&s->os_list, o, o_entry);
	s->os_n--;
	free(o);
}

/* Send what is left without blocking; freed when done or on an error. */
static void
oneshot_write_cb(struct ev_loop *l, ev_io *io, int revents)
{
	struct oneshot	*o = io->data;
	ssize_t		 n;

	while (o->o_outoff < o->o_outlen) {
		n = send(o->o_fd, o->o_out + o->o_outoff,
		    o->o_outlen - o->o_outoff, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0)
			break;
		o->o_outoff += (size_t)n;
	}
	oneshot_free(o);
}

/* Take ownership of buf (malloc'd) as the answer, and send it. */
void
oneshot_answer(struct oneshot *o, char *buf, size_t len)
{
	struct oneshot_set	*s = o->o_set;

	ev_io_stop(s->os_loop, &o->o_io);
	o->o_out = buf;
	o->o_outlen = len;
	ev_io_init(&o->o_io, oneshot_write_cb, o->o_fd, EV_WRITE);
	o->o_io.data = o;
	ev_io_start(s->os_loop, &o->o_io);
	oneshot_write_cb(s->os_loop, &o->o_io, 0);
}
