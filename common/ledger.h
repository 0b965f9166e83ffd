/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * A tenant's credit ledger: billing.db in the tenant's jail root, owned by
 * root, mode 0600, never writable (nor readable) by the tenant's uid.
 * Transactions are append-only (triggers); the balance is kept by a
 * trigger in the same transaction as each insert, and checked >= 0 by the
 * schema, so balance = sum(transactions) after any crash. WAL with
 * synchronous=FULL: a call that returned 0 is on disk.
 *
 * Holds: the trusted side grants a worker a hold of credits; the worker
 * spends from it without waiting and reports usage; each report is one
 * transaction with a unique reference, so a report applied twice is
 * refused, not counted twice. available = balance - unspent open holds.
 */
#ifndef TENANTD_LEDGER_H
#define TENANTD_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#define LEDGER_FILE		"billing.db"
#define LEDGER_NOTE_MAX		200
#define LEDGER_AMOUNT_MAX	1000000000000000LL	/* 10^15 credits */

struct ledger;

struct ledger_txn {
	int64_t		 lt_id;
	int64_t		 lt_at;		/* unix seconds */
	char		 lt_kind[16];	/* "grant", "usage", "adjust" */
	int64_t		 lt_amount;	/* credits; usage is negative */
	char		 lt_ref[64];
	char		 lt_note[LEDGER_NOTE_MAX + 1];
};

struct ledger_summary {
	int64_t		 ls_balance;
	int64_t		 ls_held;	/* unspent part of open holds */
	int64_t		 ls_available;	/* balance - held */
	int64_t		 ls_sum;	/* sum of all transactions */
	int64_t		 ls_ntxn;
	int64_t		 ls_nholds_open;
};

/*
 * Open (and with create != 0, create) <dirfd>/billing.db, as root. A file
 * that is a symlink, not root's or open to group or others is refused.
 * On -1 the functions below set errno: EINVAL for a bad argument, ERANGE
 * for not enough credits (or a report larger than its hold), ENOENT for
 * no such hold or a closed one, EIO for the database; ledger_errmsg()
 * says more.
 */
struct ledger	*ledger_open(int dirfd, int create, char *err, size_t errsz);
void		 ledger_close(struct ledger *);
const char	*ledger_errmsg(struct ledger *);

/* Credits added or removed by an operator (kind "grant" if > 0, "adjust"
 * if < 0); refused (-1) if the balance would go below zero or below what
 * open holds have reserved. */
int	 ledger_add(struct ledger *, int64_t amount, const char *note);

/* Open a hold of up to `want` credits for `owner` (e.g. "worker 1234");
 * *granted gets what was available, possibly 0. Returns the hold id or -1. */
int64_t	 ledger_hold_open(struct ledger *, const char *owner, int64_t want,
	    int64_t *granted);
/* Grow an open hold by up to `want`; *granted as above. */
int	 ledger_hold_extend(struct ledger *, int64_t hold, int64_t want,
	    int64_t *granted);
/* Record `units` spent from `hold`, report `seq` (ref "h<hold>.<seq>").
 * 0: recorded; 1: that report was already recorded (nothing changed);
 * -1: error, or more than the hold has left. */
int	 ledger_usage(struct ledger *, int64_t hold, uint64_t seq,
	    int64_t units);
/* Close a hold: its unspent part is available again. */
int	 ledger_hold_close(struct ledger *, int64_t hold);
/* Close every open hold (their workers died with an earlier tenantd);
 * returns how many were open, or -1. */
int	 ledger_holds_close_all(struct ledger *);

int	 ledger_summary(struct ledger *, struct ledger_summary *);
/* Newest first, at most max; returns the number filled or -1. */
int	 ledger_history(struct ledger *, struct ledger_txn *, int max);
/* 0 if balance == sum(transactions) and every hold's used <= amount. */
int	 ledger_check(struct ledger *, char *err, size_t errsz);
/*
 * Export and import move the books as rows, never as a file (docs/security.md):
 * ledger_rows() calls cb with every transaction, oldest first (an empty
 * lt_ref or lt_note stands for none), and sets *balance, all of one read
 * transaction; a cb that returns -1 stops it. ledger_restore() fills a
 * ledger just created (no transaction, no hold) with the rows next()
 * gives (1: a row, 0: the end, -1: stop), each through the schema's
 * checks, in one transaction: all or none, and none if the balance they
 * make is not `balance`. ledger_errmsg() names the row that failed.
 */
int	 ledger_rows(struct ledger *, int64_t *balance,
	    int (*cb)(const struct ledger_txn *, void *), void *);
int	 ledger_restore(struct ledger *, int (*next)(void *,
	    struct ledger_txn *), void *, int64_t balance);
/* A consistent byte copy of <dirfd>/billing.db into outfd (export). */
int	 ledger_snapshot(struct ledger *, int dirfd, int outfd);

#endif
