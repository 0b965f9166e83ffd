/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The registry generation: a counter in a small shared file that tenantctl
 * bumps after every committed change. The supervisor and every worker map
 * it read-only and compare it on each request, which is what makes a
 * suspend, delete or hostname removal apply to the very next request, even
 * one arriving on a keep-alive connection a worker already holds.
 */
#ifndef TENANTD_GEN_H
#define TENANTD_GEN_H

#include <stdint.h>

#define GEN_FILE	"registry.gen"

struct gen {
	volatile uint64_t	*g_ptr;
	int			 g_writable;
};

int		 gen_map(struct gen *, const char *, int);
void		 gen_unmap(struct gen *);
uint64_t	 gen_read(const struct gen *);
int		 gen_bump(struct gen *, const char *);

#endif
