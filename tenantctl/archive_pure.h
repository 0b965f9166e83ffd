/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * tenantctl export SLUG FILE / tenantctl import FILE: a tenant as one
 * compressed tar (pax), so backup, restore and moving a tenant to another
 * host are one command each: the tenant directory holds everything the
 * tenant owns. Both sides run as root on trees a tenant could write to:
 *
 *  - export never follows a link the tenant planted (docs/security.md,
 *    item 8): the tree is walked with directory descriptors and
 *    O_NOFOLLOW, files are read through descriptors opened beneath the
 *    tenant directory with openat2 (no symlink in any component), and a
 *    file is only read if it is still the one the walk saw. What import
 *    would refuse is skipped with a warning instead (symlinks leaving the
 *    tree, FIFOs, sockets, devices, files of other owners), so every
 *    export can be imported again;
 *  - import checks the whole archive before it creates anything
 *    (docs/security.md, item 7), extracts it with libarchive's secure
 *    flags into a root-only temporary directory, registers the tenant only
 *    then, re-maps ownership to the new uid/gid and renames the directory
 *    into place.
 *
 * The archive:
 *   tenantd-export.json   first entry: format, version, slug, status,
 *                         created, original uid/gid, custom hostnames with
 *                         their status, the manifest, what was skipped
 *   public/ public/...    the tenant directory's contents (tenant.json,
 *   data/ ... tmp/ ...    which import regenerates, excluded); directories
 *   ...                   before their contents; each entry owned by root
 *                         (uid/gid 0, "root") or by the tenant (the
 *                         original uid/gid recorded in the metadata,
 *                         "tenant"); permission bits without setuid/setgid.
 *   tenantd-export.mac    last entry: "tenantd-export-mac-v1 KID HEX",
 *                         the MAC of everything before it (below).
 *
 * The credit ledger is root's and is moved as data, never as a file: the
 * second entry, ledger.json, holds its transactions as export read them
 * through the ledger (ledger_rows()), and import validates every row
 * (lrows_parse()) and rebuilds them into a billing.db it has just created
 * with the ledger's own schema (ledger_restore()); no SQL an archive wrote
 * is ever run. Open holds are not carried: they were workers' on the old
 * host, and what they spent is in the transactions. An archive with
 * billing.db (the format before) is refused: re-export it with this
 * tenantctl. An archive without ledger.json gets a new ledger with the
 * initial credits, as create gives.
 *
 * The MAC (docs/security.md): BLAKE2b-256 keyed with the export key, the
 * master key's derivation for purpose "export" and the exported slug
 * (keys.h), over a BLAKE2b-512 digest of every entry before the MAC as
 * import reads it: its name, link target, type, mode, owner ids, size,
 * mtime and data (archive.c, one function for both sides). Import checks it
 * with the masters of its registry (current and in grace); an archive that
 * does not verify is refused, or with --foreign imported suspended.
 *
 * This header and archive_pure.c are the rules on what an archive may hold,
 * pure (no descriptors, no registry, no exit): the entry tree, the checks
 * of paths and links, and the metadata parser. export.c and import.c apply
 * them; the unit tests and the fuzzer (tests/fuzz/archive_fuzz.c) link
 * archive_pure.c alone.
 */
#ifndef TENANTD_ARCHIVE_PURE_H
#define TENANTD_ARCHIVE_PURE_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define EXPORT_META	"tenantd-export.json"
#define EXPORT_FORMAT	"tenantd-export"
#define EXPORT_VERSION	1
#define EXPORT_MAC	"tenantd-export.mac"
#define EXPORT_MAC_MAX	128		/* bytes of the MAC entry */
#define LEDGER_JSON	"ledger.json"
#define LEDGER_FORMAT	"tenantd-ledger"
#define LEDGER_JSON_MAX	(64 * 1024 * 1024)	/* bytes of ledger JSON */
#define META_MAX	(1024 * 1024)	/* bytes of metadata JSON */
#define HOSTS_MAX	10000		/* custom hostnames in the metadata */
#define ENTRIES_MAX	1000000		/* entries in one archive */
#define DEPTH_MAX	256		/* components in a path */
#define NAME_MAX_	255		/* bytes in one component */
#define LINK_HOPS_MAX	40		/* symlinks followed in one check */

enum etype { E_DIR, E_REG, E_LNK, E_HARD };
enum owner { OWN_ROOT = 0, OWN_TENANT = 1 };

struct ent {
	char		*path;		/* normalised, relative, no trailing / */
	char		*target;	/* symlink target, hardlink target */
	enum etype	 type;
	mode_t		 perm;		/* 0..01777 */
	enum owner	 uown, gown;
	int64_t		 size;
	dev_t		 dev;		/* export: what the walk saw */
	ino_t		 ino;
	nlink_t		 nlink;
	const char	*skip;		/* export: why it is left out */
};

struct tree {
	struct ent	*e;
	size_t		 n, cap;
	size_t		*hash;		/* index + 1; 0 is empty */
	size_t		 hcap;
	int64_t		 bytes;		/* regular file data */
};

extern const char *const std_dirs[];	/* NULL-terminated */

struct meta {
	json_t		*j;
	const char	*slug;
	const char	*status;
	uint32_t	 uid, gid;
	json_t		*hosts;
};

/*
 * The checks return NULL when the input is fine, else why not, in words
 * the caller prints after the entry's name (a static buffer in some).
 */
const char	*vis(const char *);
ssize_t		 tree_find(const struct tree *, const char *, size_t);
int		 tree_add(struct tree *, struct ent *);
void		 tree_free(struct tree *);
size_t		 parent_len(const char *);
const char	*base_name(const char *);
int		 is_std_dir(const char *);
int		 is_ledger_journal(const char *);
const char	*path_check(const char *);
const char	*link_escapes(const struct tree *, const struct ent *);
const char	*tree_place(const struct tree *, const struct ent *);
const char	*ent_check(struct ent *, mode_t, int64_t, int64_t, int64_t,
		    const struct meta *);
/*
 * The ledger's rows from ledger.json: every row checked (types, ranges,
 * ids rising, references unique, times not in the future, the ledger's
 * sign rules, a balance never below zero and equal to "balance"), the
 * error naming the row. lrows_get() gives row i of a document that
 * lrows_parse() accepted. r->j is the caller's to json_decref().
 */
struct ledger_txn;
struct lrows {
	json_t		*j;
	json_t		*txns;
	int64_t		 balance;
};
const char	*lrows_parse(struct lrows *, const char *, size_t,
		    int64_t now);
void		 lrows_get(const struct lrows *, size_t, struct ledger_txn *);
/* m->j is the caller's to json_decref() whatever meta_parse() returns. */
const char	*meta_parse(struct meta *, const char *, size_t);

#endif
