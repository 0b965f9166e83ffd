/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Handler names and environment entries (runarg.h). Both take a length,
 * not a NUL: a NUL inside the span is refused like any other byte out of
 * place, so a caller's C string and a file's bytes are judged alike.
 */
#include "proto.h"
#include "runarg.h"

static int
runarg_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
runarg_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * A handler is a plain file name in app/: 1..RUN_NAME_MAX bytes of
 * [A-Za-z0-9._-], not starting with '.', so no path, no "." or "..", no
 * hidden file.
 */
int
runarg_name_ok(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || len > RUN_NAME_MAX || s[0] == '.')
		return 0;
	for (i = 0; i < len; i++)
		if (!runarg_alpha(s[i]) && !runarg_digit(s[i]) &&
		    s[i] != '.' && s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

/*
 * "NAME=value", one protocol string at most: NAME as a shell takes it
 * ([A-Za-z_][A-Za-z0-9_]*), so no program can read one entry as two or
 * under another name; a value without control bytes, so no line a
 * handler logs or echoes can be split or forged by it. Bytes of 0x80 and
 * above pass: a decoded PATH_INFO may be UTF-8.
 */
int
runarg_env_ok(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || len > PROTO_STR_MAX ||
	    (!runarg_alpha(s[0]) && s[0] != '_'))
		return 0;
	for (i = 1; i < len && s[i] != '='; i++)
		if (!runarg_alpha(s[i]) && !runarg_digit(s[i]) && s[i] != '_')
			return 0;
	if (i == len)
		return 0;		/* no '=' */
	for (i++; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}
