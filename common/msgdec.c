/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Typed decoders (msgdec.h). Each reads the whole message into its struct
 * and ends with msg_end(), so a receiver applies all of a message or none
 * of it. -1 with EBADMSG on any mismatch; the struct is then undefined.
 */
#include <errno.h>
#include <string.h>

#include "msgdec.h"

static int
bad(void)
{
	errno = EBADMSG;
	return -1;
}

int
msg_get_tenant(struct msg *m, struct msg_tenant *mt)
{
	uint32_t	*v[] = {
		&mt->mt_id, &mt->mt_uid, &mt->mt_gid, &mt->mt_head_max,
		&mt->mt_target_max, &mt->mt_conns, &mt->mt_max_requests,
		&mt->mt_header_timeout_ms, &mt->mt_keepalive_timeout_ms,
		&mt->mt_verbose,
	};
	size_t		 i;

	if (m->m_type != MSG_CFG_TENANT)
		return bad();
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (msg_get_u32(m, v[i]) == -1)
			return bad();
	if (msg_get_str(m, mt->mt_slug, sizeof(mt->mt_slug)) == -1 ||
	    msg_get_str(m, mt->mt_root, sizeof(mt->mt_root)) == -1 ||
	    msg_get_str(m, mt->mt_policy, sizeof(mt->mt_policy)) == -1 ||
	    msg_get_str(m, mt->mt_genpath, sizeof(mt->mt_genpath)) == -1 ||
	    msg_get_str(m, mt->mt_suffix, sizeof(mt->mt_suffix)) == -1 ||
	    msg_get_str(m, mt->mt_admin, sizeof(mt->mt_admin)) == -1 ||
	    msg_end(m) == -1)
		return bad();
	return 0;
}

int
msg_get_key(struct msg *m, struct msg_key *mk)
{
	if (m->m_type != MSG_CFG_KEY ||
	    msg_get_u32(m, &mk->mk_purpose) == -1 ||
	    msg_get_u32(m, &mk->mk_kid) == -1 ||
	    msg_get_u64(m, &mk->mk_not_after) == -1 ||
	    msg_get(m, mk->mk_key, sizeof(mk->mk_key)) == -1 ||
	    msg_end(m) == -1 || mk->mk_purpose < KEY_SESSION ||
	    mk->mk_purpose >= KEY_PURPOSE_MAX)
		return bad();
	return 0;
}

int
msg_get_data(struct msg *m, struct msg_data *md)
{
	uint32_t	 i;

	if (m->m_type != MSG_CFG_DATA || msg_get_u32(m, &md->md_n) == -1 ||
	    md->md_n > DATA_MAX_ITEMS)
		return bad();
	for (i = 0; i < md->md_n; i++)
		if (msg_get_u32(m, &md->md_id[i]) == -1 ||
		    msg_get_u64(m, &md->md_value[i]) == -1)
			return bad();
	return msg_end(m);
}

int
msg_get_credit(struct msg *m, struct msg_credit *mc)
{
	if (m->m_type != MSG_CTL_CREDIT ||
	    msg_get_u64(m, &mc->mc_hold) == -1 ||
	    msg_get_u64(m, &mc->mc_added) == -1 ||
	    msg_get_u32(m, &mc->mc_dry) == -1 || msg_end(m) == -1 ||
	    mc->mc_dry > 1)
		return bad();
	return 0;
}

int
msg_get_run_spec(struct msg *m, struct msg_run_spec *mr)
{
	/* msg_parse() let through only the flags the schema names. */
	if (m->m_type != MSG_RUN_SPEC ||
	    msg_get_u32(m, &mr->mr_uid) == -1 ||
	    msg_get_u32(m, &mr->mr_gid) == -1 ||
	    msg_get_u32(m, &mr->mr_network) == -1 ||
	    msg_get_str(m, mr->mr_root, sizeof(mr->mr_root)) == -1 ||
	    msg_get_str(m, mr->mr_policy, sizeof(mr->mr_policy)) == -1 ||
	    msg_get_str(m, mr->mr_slug, sizeof(mr->mr_slug)) == -1 ||
	    msg_get_str(m, mr->mr_stamp, sizeof(mr->mr_stamp)) == -1 ||
	    msg_end(m) == -1 || mr->mr_network > 1)
		return bad();
	mr->mr_flags = m->m_flags;
	return 0;
}

int
msg_get_sandbox(struct msg *m, struct msg_sandbox *ms)
{
	if (m->m_type != MSG_RUN_SANDBOX ||
	    msg_get_u32(m, &ms->ms_nstype) == -1 ||
	    msg_get_str(m, ms->ms_stamp, sizeof(ms->ms_stamp)) == -1 ||
	    msg_end(m) == -1)
		return bad();
	return 0;
}
