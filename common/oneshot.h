/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * A connection that gets one request and one answer, then is closed,
 * under one deadline for both: the admin socket's (supervisor/admin.c)
 * and the front's HTTP (front/front.c). The owner's struct starts with a
 * struct oneshot; the owner reads and parses the request, this accepts,
 * bounds, writes the answer and frees.
 */
#ifndef ONESHOT_H
#define ONESHOT_H

#include <sys/queue.h>

#include <stddef.h>

#include <ev.h>

struct oneshot {
	TAILQ_ENTRY(oneshot)	 o_entry;
	struct oneshot_set	*o_set;
	int			 o_fd;
	ev_io			 o_io;		/* data: the oneshot */
	ev_timer		 o_tmo;
	char			*o_out;
	size_t			 o_outlen;
	size_t			 o_outoff;
};

struct oneshot_set {
	TAILQ_HEAD(, oneshot)	 os_list;
	unsigned int		 os_n;
	unsigned int		 os_max;
	double			 os_timeout;
	struct ev_loop		*os_loop;
};

void	 oneshot_init(struct oneshot_set *, struct ev_loop *, unsigned int,
	    double);
void	*oneshot_accept(struct oneshot_set *, int, size_t,
	    void (*)(struct ev_loop *, ev_io *, int));
void	 oneshot_answer(struct oneshot *, char *, size_t);
void	 oneshot_free(struct oneshot *);

#endif
