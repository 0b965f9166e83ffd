/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * tenantd.conf: one INI file shared by tenantd and tenantctl. Every key has
 * a built-in default, a range and a line of documentation in one table
 * (config.c); `tenantd -D` prints the table as a commented config file.
 */
#ifndef TENANTD_CONFIG_H
#define TENANTD_CONFIG_H

#include <sys/types.h>

#include <limits.h>
#include <stdio.h>

#include "host.h"

#define CONF_PATH_MAX	256
#define CONF_SUN_MAX	107	/* sizeof(sun_path) - 1 */

struct config {
	char		 c_file[CONF_PATH_MAX];	/* where it was read from */

	/* [paths] */
	char		 c_state_dir[CONF_PATH_MAX];
	char		 c_run_dir[CONF_PATH_MAX];
	char		 c_worker[CONF_PATH_MAX];
	char		 c_runner[CONF_PATH_MAX];
	char		 c_front[CONF_PATH_MAX];
	char		 c_policy_dir[CONF_PATH_MAX];

	/* [hosts] */
	char		 c_suffix[HOST_NAME_MAX_LEN + 1];
	char		 c_admin_host[HOST_NAME_MAX_LEN + 1];

	/* [proxy] */
	char		 c_socket[CONF_PATH_MAX];
	char		 c_socket_group[64];
	unsigned int	 c_socket_mode;
	unsigned int	 c_head_max;
	unsigned int	 c_target_max;
	unsigned int	 c_header_timeout_ms;
	unsigned int	 c_first_byte_timeout_ms;
	unsigned int	 c_max_reading;
	unsigned int	 c_max_silent;

	/* [workers] */
	unsigned int	 c_spares;
	unsigned int	 c_max_workers;
	unsigned int	 c_workers_per_tenant;
	unsigned int	 c_conns_per_worker;
	unsigned int	 c_queue_max;
	unsigned int	 c_start_timeout_ms;
	unsigned int	 c_idle_timeout_ms;
	unsigned int	 c_storage_scan_ms;
	unsigned int	 c_sandbox_idle_ms;
	unsigned int	 c_keepalive_timeout_ms;
	unsigned int	 c_max_requests;
	unsigned int	 c_backoff_min_ms;
	unsigned int	 c_backoff_max_ms;
	unsigned int	 c_crash_window_ms;
	unsigned int	 c_drain_timeout_ms;

	/* [admin] */
	char		 c_admin_socket[CONF_PATH_MAX];
	char		 c_admin_group[64];
	char		 c_http_listen[64];
	char		 c_metrics_token_file[CONF_PATH_MAX];
	unsigned int	 c_ask_rate;
	char		 c_tenant_commands[8];

	/* [front] */
	char		 c_front_user[64];

	/* [tenants] */
	unsigned int	 c_uid_min;
	unsigned int	 c_uid_max;

	/* [log] */
	unsigned int	 c_verbose;

	/* derived */
	struct host_conf c_hosts;
	int		 c_socket_derived;	/* socket from run_dir */
	int		 c_admin_socket_derived;
};

void	 config_defaults(struct config *);
int	 config_load(struct config *, const char *, int, char *, size_t);
int	 config_path(const struct config *, const char *, char *, size_t);
int	 config_hostport(const char *, char *, unsigned int *);
void	 config_dump(FILE *, const struct config *);
void	 config_reload(struct config *, const struct config *,
	    void (*)(const char *, const char *, int, const char *,
	    const char *, void *), void *);
int	 config_file_check(const struct config *, char *, size_t);

#endif
