/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 */
#ifndef TENANTD_TENANTCTL_H
#define TENANTD_TENANTCTL_H

#include <sys/types.h>

#include <signal.h>
#include <stdint.h>

#include <sodium.h>

#include "registry.h"

/* Exit codes: documented in tenantctl(8) and relied on by scripts. */
#define EX_OK_		0
#define EX_FAIL		1	/* I/O, database, anything unexpected */
#define EX_USAGE_	2	/* bad command line */
#define EX_INVALID	3	/* slug or hostname breaks the rules */
#define EX_NOTFOUND	4	/* no such tenant or hostname */
#define EX_CONFLICT	5	/* exists, reserved, or a deleted tenant's slug */
#define EX_STATE	6	/* not possible in the tenant's status */
#define EX_FULL		7	/* uid range exhausted, or a cap reached */
#define EX_NOINIT	8	/* state directory not initialised */
#define EX_NODAEMON	9	/* tenantd is not running (admin commands) */
#define EX_REJECTED	10	/* reload: a file was refused, the old one kept */
#define EX_RESTART	11	/* reload: a changed key needs a restart */

/* tenantctl.c, shared with the other files */
struct config;
struct json_t;
extern struct config	 conf;
extern struct registry	*reg;
extern int		 json_out;
extern char		 actor[160];
void	 die(int, const char *, ...)
	    __attribute__((__noreturn__, __format__(printf, 2, 3)));
void	 usage(void) __attribute__((__noreturn__));
void	 open_registry(void);
void	 bump_gen(const int64_t *, size_t);
int	 tenants_dir(void);
void	 custom_host(const char *, char *, size_t);
void	 get_tenant(const char *, struct tenant *);
void	 json_print(struct json_t *);

/* admin.c: commands for the running daemon */
int	 cmd_daemon_status(int, char **);
int	 cmd_top(int, char **);
int	 cmd_restart(int, char **);
int	 cmd_drain(int, char **);
int	 cmd_reload(int, char **);
int	 cmd_metrics(int, char **);

/* export.c, import.c */
int	 cmd_export(int, char **);
int	 cmd_import(int, char **);

/* archive.c: what export and import share */
#define COPY_BUF	(64 * 1024)
extern volatile sig_atomic_t	 interrupted;
void	 catch_signals(void);
void	 warn_(const char *, ...) __attribute__((__format__(printf, 1, 2)));
/*
 * The digest an export's MAC covers (archive_pure.h): every entry as
 * import reads it, then its data. One implementation for both sides.
 */
struct archive_entry;
void	 mac_digest_init(crypto_generichash_state *);
void	 mac_digest_entry(crypto_generichash_state *,
	    struct archive_entry *);
void	 mac_digest_data(crypto_generichash_state *,
	    const void *, size_t);
#define MAC_DOMAIN	"tenantd-export-mac-v1"
#define MAC_DIGEST_LEN	64
#define MAC_LEN		32
#define MAC_LINE_MAX	128
/* The MAC entry's text for a digest, with master kid's export key. */
void	 mac_line(const uint8_t *master, uint32_t kid, const char *slug,
	    const uint8_t digest[MAC_DIGEST_LEN], char out[MAC_LINE_MAX]);

/* data.c: keys, credits, limits */
int	 cmd_key(int, char **);
int	 cmd_credits(int, char **);
int	 cmd_limits(int, char **);
int	 ledger_provision(int, int64_t, char *, size_t);
int64_t	 initial_credits(void);

/* provision.c */
int	 manifest_write(int, const struct tenant *, const char *);
int	 provision_tenant(int, const char *, const struct tenant *,
	    const char *, int64_t, char *, size_t);
int	 purge_tenant(int, const char *, char *, size_t);
int	 purge_leftovers(int, void (*)(const char *, const char *));

#endif
