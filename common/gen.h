/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The registry generation: a counter in a small shared file that tenantctl
 * bumps after every committed change, and beside it one counter per tenant
 * id, bumped for every change to that tenant (docs/routing.md, section
 * "The registry generation"). The supervisor watches the global counter to
 * invalidate its route cache; each worker maps its own tenant's counter
 * read-only and compares it on each request, which is what makes a
 * suspend, delete or hostname removal apply to the very next request, even
 * one arriving on a keep-alive connection a worker already holds, while a
 * change to one tenant sends nothing to the workers of another.
 */
#ifndef TENANTD_GEN_H
#define TENANTD_GEN_H

#include <stddef.h>
#include <stdint.h>

#define GEN_FILE	"registry.gen"
#define GEN_SLOTS_FILE	"registry.gen.tenants"

/* Slot i is at GEN_SLOT_BASE + 8 * i; ids above GEN_SLOT_MAX have none. */
#define GEN_SLOT_BASE	4096
#define GEN_SLOT_MAX	UINT32_MAX

/* One mapped counter: the global one, or one tenant's slot. */
struct gen {
	volatile uint64_t	*g_ptr;
	size_t			 g_len;		/* of the mapping */
	int			 g_writable;
};

/* The whole slot file, read-only, grown on demand (the supervisor). */
struct gen_slots {
	int			 gs_fd;
	const char		*gs_map;
	size_t			 gs_len;
};

int		 gen_map(struct gen *, const char *, int);
int		 gen_map_slot(struct gen *, const char *, int64_t);
void		 gen_unmap(struct gen *);
uint64_t	 gen_read(const struct gen *);
int		 gen_bump(struct gen *, const char *, const char *,
		    const int64_t *, size_t);

int		 gen_slots_open(struct gen_slots *, const char *, int);
void		 gen_slots_close(struct gen_slots *);
int		 gen_slots_cover(struct gen_slots *, int64_t);
int		 gen_slots_read(struct gen_slots *, int64_t, uint64_t *);
int		 gen_slots_bump(const char *, const int64_t *, size_t);

#endif
