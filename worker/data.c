/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * The worker's side of the data plane's bookkeeping (docs/data-plane.md):
 * the limits of MSG_CFG_DATA, the API key verifiers of MSG_CFG_KEY, the
 * request bucket, and the credit hold the supervisor grants with
 * MSG_CTL_CREDIT and we account for with MSG_STATE_USAGE.
 */
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "keys.h"
#include "kvpath.h"
#include "log.h"
#include "msgdec.h"
#include "proto.h"
#include "worker.h"

#define DATA_KEY_MAX		65535	/* bytes; the head limit bounds it too */
#define DATA_VALUE_MAX		(1ULL << 30)	/* SQLite's own string limit */
#define WANT_DRY_PAUSE_MS	1000

/* What we keep of a KEY_API: its verifier, never the key (keys.h). */
struct api_key {
	uint32_t	 ak_kid;
	uint64_t	 ak_not_after;
	uint8_t		 ak_verifier[KEY_LEN];
};

static struct api_key	 api_keys[KEY_MAX_MASTERS];
static size_t		 napi_keys;
static int		 have_data;
static struct tbucket	 bucket;

/* The credit hold (proto.h MSG_CTL_CREDIT). */
static struct {
	int		 cr_have;	/* a CTL_CREDIT arrived */
	uint64_t	 cr_id;
	uint64_t	 cr_left;
	uint64_t	 cr_spent;	/* since the last MSG_STATE_USAGE */
	uint64_t	 cr_seq;
	int		 cr_wanting;	/* a CREDIT_WANT is outstanding */
	int		 cr_dry;	/* the last answer said dry */
	uint64_t	 cr_dry_ms;
} credit;

uint64_t
data_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Config phase only (worker_configure() refuses it later). Only the API
 * verifiers are kept: nothing in the worker uses the session, encryption
 * or webhook keys yet, and a key we do not hold cannot leak from here.
 * The caller wipes the message buffer.
 */
void
data_cfg_key(struct msg *m)
{
	struct msg_key	 mk;
	struct api_key	 ak;
	size_t		 i;

	if (msg_get_key(m, &mk) == -1)
		fatalx("%s: bad CFG_KEY", __func__);
	if (mk.mk_purpose == KEY_API) {
		ak.ak_kid = mk.mk_kid;
		ak.ak_not_after = mk.mk_not_after;
		memcpy(ak.ak_verifier, mk.mk_key, KEY_LEN);
		for (i = 0; i < napi_keys; i++)
			if (api_keys[i].ak_kid == ak.ak_kid)
				fatalx("%s: key %u twice", __func__,
				    ak.ak_kid);
		if (napi_keys == KEY_MAX_MASTERS)
			fatalx("%s: more than %d api keys", __func__,
			    KEY_MAX_MASTERS);
		api_keys[napi_keys++] = ak;
		sodium_memzero(&ak, sizeof(ak));
	}
	sodium_memzero(&mk, sizeof(mk));
}

/*
 * The bounds below are the worker's own: it dies on nonsense from its
 * supervisor (docs/architecture.md, section 4).
 */
static void
data_check(uint32_t id, uint64_t v)
{
	switch (id) {
	case TL_KV_MAX_KEY:
		if (v < 1 || v > DATA_KEY_MAX)
			fatalx("%s: kv_max_key %llu", __func__,
			    (unsigned long long)v);
		break;
	case TL_KV_MAX_VALUE:
		if (v < 1 || v > DATA_VALUE_MAX)
			fatalx("%s: kv_max_value %llu", __func__,
			    (unsigned long long)v);
		break;
	case TL_KV_PUBLIC_READS:
		if (v > 1)
			fatalx("%s: kv_public_reads %llu", __func__,
			    (unsigned long long)v);
		break;
	}
}

/*
 * MSG_CFG_DATA: u32 n, n x (u32 id, u64 value), decoded whole first.
 * Returns the set of ids it carried (DATA_CHANGED bits; DATA_STORAGE_OTHER
 * as bit 0, which no limit uses). An id we do not know is a supervisor we
 * do not understand.
 */
uint64_t
data_cfg_data(struct msg *m)
{
	static struct msg_data	 md;
	uint64_t		 changed = 0, v;
	uint32_t		 id, i;

	if (msg_get_data(m, &md) == -1)
		fatalx("%s: bad CFG_DATA", __func__);
	for (i = 0; i < md.md_n; i++) {
		id = md.md_id[i];
		v = md.md_value[i];
		if (id == DATA_STORAGE_OTHER) {
			env->we_storage_other = v;
			changed |= DATA_CHANGED(0);
			continue;
		}
		if (id < TL_REQUESTS_PER_MINUTE || id >= TL_MAX)
			fatalx("%s: unknown limit id %u", __func__, id);
		data_check(id, v);
		env->we_tl[id] = v;
		changed |= DATA_CHANGED(id);
	}
	return changed;
}

/*
 * End of the config phase: exactly one CFG_DATA, carrying every limit, or
 * we would run on zeros that nobody chose.
 */
void
data_config_done(void)
{
	if (!have_data)
		fatalx("%s: no CFG_DATA before CFG_DONE", __func__);
	tb_init(&bucket, env->we_tl[TL_REQUESTS_PER_MINUTE], data_now_ms());
}

/* A CFG_DATA: the first must carry every limit, later ones apply at once. */
void
data_apply(uint64_t changed)
{
	uint64_t	 all = DATA_CHANGED(0);
	uint32_t	 id;

	for (id = TL_REQUESTS_PER_MINUTE; id < TL_MAX; id++)
		all |= DATA_CHANGED(id);
	if (!have_data) {
		if ((changed & all) != all)
			fatalx("%s: the first CFG_DATA lacks limits "
			    "(%llx of %llx)", __func__,
			    (unsigned long long)changed,
			    (unsigned long long)all);
		have_data = 1;
		return;
	}
	if (changed & DATA_CHANGED(TL_REQUESTS_PER_MINUTE))
		tb_set_rate(&bucket, env->we_tl[TL_REQUESTS_PER_MINUTE],
		    data_now_ms());
	if (changed & (DATA_CHANGED(0) | DATA_CHANGED(TL_STORAGE) |
	    DATA_CHANGED(TL_KV_MAX_KEY) | DATA_CHANGED(TL_KV_MAX_VALUE) |
	    DATA_CHANGED(TL_DB_IDLE)))
		kv_limits_changed();
	/* A raised balance may be worth asking for again at once. */
	if (changed & (DATA_CHANGED(TL_COST_READ) | DATA_CHANGED(TL_COST_WRITE)
	    | DATA_CHANGED(TL_COST_RUN) | DATA_CHANGED(TL_CREDIT_HOLD)))
		credit.cr_dry_ms = 0;
}

/*
 * "td1.<kid>.<key>": valid if its master is one we were given and still
 * live, and its key matches that master's verifier (constant time). A token
 * of another tenant has the right shape but a key derived for another slug.
 */
int
data_auth(const char *tok, size_t len)
{
	uint8_t		 key[KEY_LEN];
	uint32_t	 kid;
	size_t		 i;
	int		 ok = 0;
	time_t		 now = time(NULL);

	if (key_token_parse(tok, len, &kid, key) == -1)
		return -1;
	for (i = 0; i < napi_keys; i++) {
		if (api_keys[i].ak_kid != kid)
			continue;
		if (api_keys[i].ak_not_after != 0 &&
		    api_keys[i].ak_not_after <= (uint64_t)now)
			break;
		ok = key_verify(key, api_keys[i].ak_verifier) == 1;
		break;
	}
	sodium_memzero(key, sizeof(key));
	return ok ? 0 : -1;
}

int
data_rate_take(uint64_t *retry_s)
{
	return tb_take(&bucket, data_now_ms(), retry_s);
}

static int
credit_priced(void)
{
	return env->we_tl[TL_COST_READ] != 0 ||
	    env->we_tl[TL_COST_WRITE] != 0 || env->we_tl[TL_COST_RUN] != 0;
}

/*
 * Ask for a hold's worth when we run below half of one (or below what a
 * waiting request needs), one request at a time. While the balance is dry
 * we ask at most once a second, not once per refused request.
 */
static void
credit_want(uint64_t need)
{
	struct msgbuf	 mb;
	uint64_t	 hold = env->we_tl[TL_CREDIT_HOLD], want;

	if (credit.cr_wanting || !credit_priced() || hold == 0)
		return;
	if (credit.cr_left >= hold / 2 && credit.cr_left >= need)
		return;
	if (credit.cr_dry && data_now_ms() - credit.cr_dry_ms <
	    WANT_DRY_PAUSE_MS)
		return;
	/*
	 * A hold's worth, or what the waiting request costs if more: the
	 * supervisor grants that much at once (on_credit_want()), so even a
	 * request priced above any number of holds can be paid.
	 */
	want = hold > need ? hold : need;
	/*
	 * Report first: then what a kill -9 can leave unreported is what was
	 * spent since the last grant, never more than about a hold, however
	 * many holds a busy worker goes through in a second.
	 */
	data_usage_flush();
	msg_init(&mb, MSG_STATE_CREDIT_WANT, 0);
	msg_put_u64(&mb, want);
	if (worker_send_msg(&mb) == 0)
		credit.cr_wanting = 1;
}

enum credit_verdict
data_credit_check(uint64_t cost)
{
	credit_want(cost);
	if (cost == 0 || credit.cr_left >= cost)
		return CREDIT_OK;
	/* With no hold to ask for, nothing will ever come. */
	if (credit.cr_dry || env->we_tl[TL_CREDIT_HOLD] == 0)
		return CREDIT_DRY;
	return CREDIT_PARK;
}

void
data_credit_spend(uint64_t cost)
{
	if (cost == 0)
		return;
	if (cost > credit.cr_left)
		fatalx("%s: spent %llu of %llu", __func__,
		    (unsigned long long)cost,
		    (unsigned long long)credit.cr_left);
	credit.cr_left -= cost;
	credit.cr_spent += cost;
	credit_want(0);
}

/*
 * What was spent since the last report, with the stats each second and
 * before any exit we choose, so a clean exit leaves nothing unbilled. A
 * failed send keeps the amount for the next report.
 */
void
data_usage_flush(void)
{
	struct msgbuf	 mb;

	if (credit.cr_spent == 0 || !credit.cr_have)
		return;
	msg_init(&mb, MSG_STATE_USAGE, 0);
	msg_put_u64(&mb, credit.cr_id);
	msg_put_u64(&mb, credit.cr_seq + 1);
	msg_put_u64(&mb, credit.cr_spent);
	if (worker_send_msg(&mb) == -1)
		return;
	credit.cr_seq++;
	credit.cr_spent = 0;
}

/*
 * MSG_CTL_CREDIT: u64 hold id, u64 added, u32 dry. A new hold id starts a
 * new account: what the old one had spent is reported against it first,
 * and what it had left is dropped, not carried over, because we cannot
 * know the supervisor still backs it; a tenant can lose a remainder that
 * way, but we never spend credits nobody holds.
 */
void
data_ctl_credit(struct msg *m)
{
	struct msg_credit	 mc;
	uint64_t		 id, added;
	uint32_t		 dry;

	if (msg_get_credit(m, &mc) == -1)
		fatalx("%s: bad CTL_CREDIT", __func__);
	id = mc.mc_hold;
	added = mc.mc_added;
	dry = mc.mc_dry;
	if (credit.cr_have && credit.cr_id != id) {
		data_usage_flush();
		credit.cr_left = 0;
		credit.cr_spent = 0;
		credit.cr_seq = 0;
	}
	credit.cr_have = 1;
	credit.cr_id = id;
	credit.cr_left = added > UINT64_MAX - credit.cr_left ? UINT64_MAX :
	    credit.cr_left + added;
	credit.cr_wanting = 0;
	credit.cr_dry = dry != 0;
	credit.cr_dry_ms = data_now_ms();
	http_credit_resume();
}
