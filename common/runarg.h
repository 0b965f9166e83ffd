/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The rules for a handler's name and its environment entries, as they
 * cross MSG_RUN_REQUEST, MSG_APP_CONNECT and MSG_RUN_GO (proto.h): the
 * worker checks what it sends, tenantd what a worker sent, tenantd-run
 * what it is about to exec (docs/tenant-code.md). Written once, here, so
 * the three can never accept different things. Pure.
 */
#ifndef TENANTD_RUNARG_H
#define TENANTD_RUNARG_H

#include <stddef.h>

int	 runarg_name_ok(const char *, size_t);
int	 runarg_env_ok(const char *, size_t);

#endif
