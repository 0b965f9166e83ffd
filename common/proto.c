/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Message encoding and decoding, no I/O. Decoders check every length before
 * touching a byte and msg_end() refuses trailing bytes, so a payload is
 * either exactly what the type says or it is rejected (model: OpenSMTPD's
 * m_get_*() / m_end()).
 */
#include <errno.h>
#include <string.h>

#include "host.h"
#include "proto.h"

/* Latency histogram bounds, shared by the worker and the metrics. */
const uint32_t stats_bounds_us[STATS_BUCKETS - 1] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000,
};

void
msg_init(struct msgbuf *mb, uint32_t type, uint32_t conn_id)
{
	struct msg_hdr	 h;

	memset(&h, 0, sizeof(h));
	h.type = type;
	h.conn_id = conn_id;
	memcpy(mb->mb_data, &h, sizeof(h));
	mb->mb_len = sizeof(h);
	mb->mb_overflow = 0;
}

void
msg_put(struct msgbuf *mb, const void *p, size_t len)
{
	if (mb->mb_overflow || len > sizeof(mb->mb_data) - mb->mb_len) {
		mb->mb_overflow = 1;
		return;
	}
	memcpy(mb->mb_data + mb->mb_len, p, len);
	mb->mb_len += len;
}

void
msg_put_u32(struct msgbuf *mb, uint32_t v)
{
	msg_put(mb, &v, sizeof(v));
}

void
msg_put_u64(struct msgbuf *mb, uint64_t v)
{
	msg_put(mb, &v, sizeof(v));
}

void
msg_put_strn(struct msgbuf *mb, const char *s, size_t len)
{
	uint16_t	 l;

	if (len > PROTO_STR_MAX || memchr(s, '\0', len) != NULL) {
		mb->mb_overflow = 1;
		return;
	}
	l = (uint16_t)len;
	msg_put(mb, &l, sizeof(l));
	msg_put(mb, s, len);
}

void
msg_put_str(struct msgbuf *mb, const char *s)
{
	msg_put_strn(mb, s, strlen(s));
}

void
msg_put_rest(struct msgbuf *mb, const void *p, size_t len)
{
	msg_put(mb, p, len);
}

int
msg_finish(struct msgbuf *mb)
{
	uint32_t	 len;

	if (mb->mb_overflow) {
		errno = EMSGSIZE;
		return -1;
	}
	len = (uint32_t)mb->mb_len;
	memcpy(mb->mb_data + offsetof(struct msg_hdr, len), &len, sizeof(len));
	return 0;
}

int
msg_parse(struct msg *m, const uint8_t *buf, size_t len)
{
	const struct msg_schema	*ms;
	struct msg_hdr		 h;

	if (len < sizeof(h) || len > PROTO_MSG_MAX)
		goto bad;
	memcpy(&h, buf, sizeof(h));
	/* Only a known type, with no flag its schema does not name. */
	if (h.len != len || (ms = msg_schema_find(h.type)) == NULL ||
	    (h.flags & ~ms->ms_flags) != 0)
		goto bad;
	m->m_type = h.type;
	m->m_conn_id = h.conn_id;
	m->m_flags = h.flags;
	m->m_pos = buf + sizeof(h);
	m->m_end = buf + len;
	return 0;
 bad:
	errno = EBADMSG;
	return -1;
}

int
msg_get(struct msg *m, void *p, size_t len)
{
	if ((size_t)(m->m_end - m->m_pos) < len) {
		errno = EBADMSG;
		return -1;
	}
	memcpy(p, m->m_pos, len);
	m->m_pos += len;
	return 0;
}

int
msg_get_u32(struct msg *m, uint32_t *v)
{
	return msg_get(m, v, sizeof(*v));
}

int
msg_get_u64(struct msg *m, uint64_t *v)
{
	return msg_get(m, v, sizeof(*v));
}

/* A string must fit dst with its terminator and must not contain NUL. */
int
msg_get_str(struct msg *m, char *dst, size_t dstsz)
{
	uint16_t	 l;

	if (msg_get(m, &l, sizeof(l)) == -1)
		return -1;
	if (l > PROTO_STR_MAX || (size_t)l >= dstsz ||
	    (size_t)(m->m_end - m->m_pos) < l ||
	    memchr(m->m_pos, '\0', l) != NULL) {
		errno = EBADMSG;
		return -1;
	}
	memcpy(dst, m->m_pos, l);
	dst[l] = '\0';
	m->m_pos += l;
	return 0;
}

void
msg_get_rest(struct msg *m, const uint8_t **p, size_t *len)
{
	*p = m->m_pos;
	*len = (size_t)(m->m_end - m->m_pos);
	m->m_pos = m->m_end;
}

int
msg_end(struct msg *m)
{
	if (m->m_pos != m->m_end) {
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

/*
 * MSG_CFG_HOSTS (above): the counts, in bounds, and the fd it must carry.
 * The fd is the caller's to close either way.
 */
int
msg_get_hosts(struct msg *m, int fd, uint32_t *n, uint64_t *size,
    uint64_t *hgen)
{
	if (m->m_type != MSG_CFG_HOSTS || fd == -1 ||
	    msg_get_u32(m, n) == -1 || msg_get_u64(m, size) == -1 ||
	    msg_get_u64(m, hgen) == -1 || msg_end(m) == -1 ||
	    *n > HOST_TENANT_MAX || *size > HOSTLIST_BYTES_MAX) {
		errno = EBADMSG;
		return -1;
	}
	return 0;
}
