/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Typed decoders: one message, decoded whole into a struct before the
 * receiver acts on any of it (proto.h for the payloads). Each expects a
 * message msg_check() accepted and still checks every length itself, so
 * it is safe on anything; it adds the value rules a shape cannot say.
 * Pure, so the proto fuzzer runs each of them on every input.
 */
#ifndef TENANTD_MSGDEC_H
#define TENANTD_MSGDEC_H

#include <stdint.h>

#include "host.h"
#include "keys.h"
#include "proto.h"
#include "slug.h"

/* MSG_CFG_TENANT */
struct msg_tenant {
	uint32_t	 mt_id;
	uint32_t	 mt_uid;
	uint32_t	 mt_gid;
	uint32_t	 mt_head_max;
	uint32_t	 mt_target_max;
	uint32_t	 mt_conns;
	uint32_t	 mt_max_requests;
	uint32_t	 mt_header_timeout_ms;
	uint32_t	 mt_keepalive_timeout_ms;
	uint32_t	 mt_verbose;
	char		 mt_slug[SLUG_MAX_LEN + 1];
	char		 mt_root[PROTO_STR_MAX + 1];
	char		 mt_policy[PROTO_STR_MAX + 1];
	char		 mt_genpath[PROTO_STR_MAX + 1];
	char		 mt_suffix[HOST_NAME_MAX_LEN + 1];
	char		 mt_admin[HOST_NAME_MAX_LEN + 1];
};

/* MSG_CFG_KEY; the caller wipes it after use. */
struct msg_key {
	uint32_t	 mk_purpose;	/* enum key_purpose, checked */
	uint32_t	 mk_kid;
	uint64_t	 mk_not_after;
	uint8_t		 mk_key[KEY_LEN];
};

/* MSG_CFG_DATA: ids are the receiver's to know. */
struct msg_data {
	uint32_t	 md_n;
	uint32_t	 md_id[DATA_MAX_ITEMS];
	uint64_t	 md_value[DATA_MAX_ITEMS];
};

/* MSG_CTL_CREDIT */
struct msg_credit {
	uint64_t	 mc_hold;
	uint64_t	 mc_added;
	uint32_t	 mc_dry;	/* 0 or 1, checked */
};

/* MSG_RUN_SPEC: the flags come from the header. */
struct msg_run_spec {
	uint32_t	 mr_flags;	/* RUN_SPEC_* */
	uint32_t	 mr_uid;
	uint32_t	 mr_gid;
	uint32_t	 mr_network;	/* 0 or 1, checked */
	char		 mr_root[PROTO_STR_MAX + 1];
	char		 mr_policy[PROTO_STR_MAX + 1];
	char		 mr_slug[SLUG_MAX_LEN + 1];
	char		 mr_stamp[PROTO_STR_MAX + 1];
};

/* MSG_RUN_SANDBOX: the namespace's fd rides along. */
struct msg_sandbox {
	uint32_t	 ms_nstype;
	char		 ms_stamp[PROTO_STR_MAX + 1];
};

int	 msg_get_tenant(struct msg *, struct msg_tenant *);
int	 msg_get_key(struct msg *, struct msg_key *);
int	 msg_get_data(struct msg *, struct msg_data *);
int	 msg_get_credit(struct msg *, struct msg_credit *);
int	 msg_get_run_spec(struct msg *, struct msg_run_spec *);
int	 msg_get_sandbox(struct msg *, struct msg_sandbox *);

#endif
