/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Private to the pool: what pool.c and the worker protocol (wproto.c)
 * share. Nothing else includes this; the pool's interface to the rest of
 * the supervisor is supervisor.h.
 */
#ifndef POOL_INT_H
#define POOL_INT_H

#define STOP_RETRY		5	/* Retry-After of 503s while stopping */

/* pool.c: the pool's state, kept static there. */
void		 pool_spare_ok(void);
int		 pool_stopping(void);
uint64_t	 pool_credit_serial_next(void);

/* pool.c: what the handlers of a worker's messages apply. */
const char	*worker_name(const struct worker *);
int		 worker_set_state(struct worker *, enum worker_event);
void		 worker_detach(struct worker *);
void		 worker_fault(struct worker *, const char *);
void		 worker_drain_send(struct worker *, enum drain_mode);
void		 worker_idle_check(struct worker *);
struct tenant_rt *tenant_find(int64_t);
void		 tenant_rate_update(struct tenant_rt *);
void		 tenant_kick(struct tenant_rt *);
void		 tenant_flush(struct tenant_rt *);

/* wproto.c: reading and dispatching what a worker sends. */
int		 worker_read(struct worker *);
void		 worker_read_cb(struct ev_loop *, ev_io *, int);

#endif
