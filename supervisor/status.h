/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * What the pool reports (status.c): for the admin side only, which shows
 * it to tenantctl and, through the front, to Prometheus
 * (docs/operations.md).
 */
#ifndef STATUS_H
#define STATUS_H

#include <stdio.h>

#include <jansson.h>

json_t	*status_json(const char *);
void	 status_metrics(FILE *);
int	 status_metrics_text(char **, size_t *);

#endif
