/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Prints what the message schema (common/msgschema.c) says, so nothing
 * else has to say it by hand:
 *
 *	msgtable		the Markdown message table of
 *				docs/architecture.md, section 4
 *	msgtable check FILE	exit 1 if FILE's table (between the
 *				msgtable markers) is not that table
 *	msgtable seeds DIR	one valid message per type, and a few
 *				malformed ones, as the proto fuzzer's seeds
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define MARK_BEGIN	\
	"<!-- msgtable begin: printed by tests/unit/msgtable.c -->\n"
#define MARK_END	"<!-- msgtable end -->\n"

static void
field_str(FILE *out, const struct msg_field *f)
{
	switch (f->mf_kind) {
	case MF_U32:
		fprintf(out, "u32 %s", f->mf_name);
		break;
	case MF_U64:
		fprintf(out, "u64 %s", f->mf_name);
		break;
	case MF_STR:
		fprintf(out, "str %s (%u-%u bytes)", f->mf_name, f->mf_min,
		    f->mf_max);
		break;
	case MF_BYTES:
		fprintf(out, "%u bytes %s", f->mf_max, f->mf_name);
		break;
	case MF_REST:
		fprintf(out, "rest: %s", f->mf_name);
		break;
	}
}

static size_t
fields_str(FILE *out, const struct msg_field *f, size_t i)
{
	int	 first = 1;

	for (; i < MSG_FIELDS_MAX; i++) {
		if (f[i].mf_kind == MF_END || f[i].mf_kind == MF_REPEAT_END)
			return i;
		if (!first)
			fputs(", ", out);
		first = 0;
		if (f[i].mf_kind == MF_REPEAT) {
			if (f[i].mf_min == f[i].mf_max)
				fprintf(out, "u32 n of %s (%u), then n x (",
				    f[i].mf_name, f[i].mf_min);
			else
				fprintf(out, "u32 n of %s (%u-%u), then n x (",
				    f[i].mf_name, f[i].mf_min, f[i].mf_max);
			i = fields_str(out, f, i + 1);
			fputc(')', out);
		} else
			field_str(out, &f[i]);
	}
	return i;
}

static void
table(FILE *out)
{
	static const char *const peer[] = {
		[CHAN_WORKER] = "worker",
		[CHAN_RUNNER] = "tenantd-run",
		[CHAN_FRONT] = "front",
	};
	static const char *const fdstr[] = {
		[MFD_NEVER] = "no",
		[MFD_ALWAYS] = "yes",
		[MFD_OPTIONAL] = "optional",
	};
	const struct msg_schema	*ms;
	size_t			 i;

	fputs("| Message | Type | Direction | conn_id | Payload | fd |\n"
	    "|---|---|---|---|---|---|\n", out);
	for (i = 0; i < msg_schema_n; i++) {
		ms = &msg_schema[i];
		fprintf(out, "| `MSG_%s` | 0x%03x | %s -> %s | %s | ",
		    ms->ms_name, ms->ms_type,
		    ms->ms_dir == DIR_DOWN ? "sup" : peer[ms->ms_chan],
		    ms->ms_dir == DIR_DOWN ? peer[ms->ms_chan] : "sup",
		    ms->ms_id == MID_SET ? "id" : "0");
		if (ms->ms_fields[0].mf_kind == MF_END)
			fputs("empty", out);
		else
			fields_str(out, ms->ms_fields, 0);
		if (ms->ms_flags != 0)
			fprintf(out, "; header flags 0x%x", ms->ms_flags);
		fprintf(out, " | %s |\n", fdstr[ms->ms_fd]);
	}
}

static int
check(const char *path)
{
	FILE	*f, *mem;
	char	*doc = NULL, *want = NULL, *b, *e;
	size_t	 doclen = 0, wantlen = 0;
	int	 c;

	if ((f = fopen(path, "r")) == NULL ||
	    (mem = open_memstream(&doc, &doclen)) == NULL) {
		perror(path);
		return 1;
	}
	while ((c = getc(f)) != EOF)
		putc(c, mem);
	fclose(f);
	fclose(mem);
	if ((mem = open_memstream(&want, &wantlen)) == NULL)
		return 1;
	table(mem);
	fclose(mem);
	if ((b = strstr(doc, MARK_BEGIN)) == NULL ||
	    (e = strstr(b, MARK_END)) == NULL) {
		fprintf(stderr, "%s: no msgtable markers\n", path);
		return 1;
	}
	b += strlen(MARK_BEGIN);
	if ((size_t)(e - b) != wantlen || memcmp(b, want, wantlen) != 0) {
		fprintf(stderr, "%s: the message table differs from the "
		    "schema; put this between the markers:\n%s", path, want);
		return 1;
	}
	free(doc);
	free(want);
	return 0;
}

static int
seed(const char *dir, const char *name, const struct msgbuf *mb)
{
	char	 path[4096];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL ||
	    fwrite(mb->mb_data, 1, mb->mb_len, f) != mb->mb_len ||
	    fclose(f) == EOF) {
		perror(path);
		return 1;
	}
	return 0;
}

static void
set_hdr(struct msgbuf *mb, size_t off, uint32_t v)
{
	memcpy(mb->mb_data + off, &v, sizeof(v));
}

static int
seeds(const char *dir)
{
	struct msgbuf	 mb;
	char		 name[64], *p;
	size_t		 i;
	uint16_t	 l;

	for (i = 0; i < msg_schema_n; i++) {
		if (msg_example(&msg_schema[i], 1, &mb) == -1)
			return 1;
		snprintf(name, sizeof(name), "%s", msg_schema[i].ms_name);
		for (p = name; *p != '\0'; p++)
			*p = *p == '_' ? '-' : (char)(*p | 0x20);
		if (seed(dir, name, &mb) != 0)
			return 1;
	}
	/* A few malformed ones, each one step from a valid MSG_LOG. */
	msg_example(msg_schema_find(MSG_LOG), 0, &mb);
	mb.mb_data[mb.mb_len++] = 0;
	set_hdr(&mb, offsetof(struct msg_hdr, len), (uint32_t)mb.mb_len);
	if (seed(dir, "bad-trailing", &mb) != 0)
		return 1;
	msg_example(msg_schema_find(MSG_LOG), 0, &mb);
	set_hdr(&mb, offsetof(struct msg_hdr, flags), 1);
	if (seed(dir, "bad-flags", &mb) != 0)
		return 1;
	msg_example(msg_schema_find(MSG_LOG), 0, &mb);
	l = PROTO_STR_MAX + 1;
	memcpy(mb.mb_data + PROTO_HDR_LEN + 4, &l, sizeof(l));
	if (seed(dir, "bad-str-len", &mb) != 0)
		return 1;
	msg_example(msg_schema_find(MSG_CONN_CLOSED), 0, &mb);
	set_hdr(&mb, offsetof(struct msg_hdr, conn_id), 0);
	return seed(dir, "bad-conn-id", &mb);
}

int
main(int argc, char *argv[])
{
	if (argc == 1) {
		table(stdout);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "check") == 0)
		return check(argv[2]);
	if (argc == 3 && strcmp(argv[1], "seeds") == 0)
		return seeds(argv[2]);
	fprintf(stderr, "usage: msgtable [check FILE | seeds DIR]\n");
	return 2;
}
