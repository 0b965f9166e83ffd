/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * tenantd-worker: one tenant's sandboxed HTTP server.
 */
#ifndef TENANTD_WORKER_H
#define TENANTD_WORKER_H

#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <stdint.h>

#include <ev.h>

#include "gen.h"
#include "host.h"
#include "httphead.h"
#include "proto.h"
#include "slug.h"

#define WORKER_MAX_HOSTS	1024

struct wconn;

struct worker_env {
	struct ev_loop	*we_loop;
	uint32_t	 we_tenant_id;
	char		 we_slug[SLUG_MAX_LEN + 1];
	struct host_conf we_hosts;
	char		*we_names[WORKER_MAX_HOSTS];	/* custom hosts */
	size_t		 we_nnames;
	uint64_t	 we_gen;
	struct gen	 we_genmap;
	unsigned int	 we_head_max;
	unsigned int	 we_target_max;
	unsigned int	 we_max_conns;
	unsigned int	 we_max_requests;
	unsigned int	 we_header_timeout_ms;
	unsigned int	 we_keepalive_timeout_ms;
	int		 we_public_fd;
	int		 we_log_fd;
	uint64_t	 we_served;
	unsigned int	 we_nconns;
	int		 we_draining;	/* 0, or enum drain_mode */
	/* request counters since the last MSG_STATE_STATS */
	uint32_t	 we_codes[600];
	uint64_t	 we_bytes;
	uint64_t	 we_lat_sum;
	uint32_t	 we_hist[STATS_BUCKETS];
	int		 we_stats_dirty;
	TAILQ_HEAD(, wconn) we_conns;
};

extern struct worker_env *env;

/* worker.c */
void	 worker_stats_add(int, uint64_t, uint64_t);
void	 worker_stats_flush(void);
int	 worker_send(uint32_t, uint32_t, const void *, size_t, int,
	    uint32_t, uint32_t);
void	 worker_conn_gone(uint32_t, uint64_t);
void	 worker_maybe_exit(void);

/* http.c */
void	 http_conn_new(uint32_t, int, const uint8_t *, size_t);
void	 http_drain(void);
void	 http_retire(void);

/* static.c */
struct static_file {
	int		 sf_fd;
	struct stat	 sf_st;
	const char	*sf_type;
	char		 sf_etag[64];
};
int	 static_resolve(int, const char *, size_t, struct static_file *,
	    char *, size_t);
const char *static_type(const char *);

#endif
