/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Mapping a request target to a file under public/. The decoded path is
 * checked segment by segment and then opened with openat2 beneath the
 * public directory, so neither "..", nor a symlink, nor a mount point can
 * lead out. Absent, forbidden, hidden, symlinked and non-regular files all
 * give the same 404, so nothing can be learned by probing.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sys.h"
#include "worker.h"

#define STATIC_PATH_MAX	1024

static const struct {
	const char	*ext;
	const char	*type;
} types[] = {
	{ "html", "text/html; charset=utf-8" },
	{ "htm", "text/html; charset=utf-8" },
	{ "css", "text/css; charset=utf-8" },
	{ "js", "text/javascript; charset=utf-8" },
	{ "mjs", "text/javascript; charset=utf-8" },
	{ "json", "application/json" },
	{ "txt", "text/plain; charset=utf-8" },
	{ "xml", "application/xml" },
	{ "svg", "image/svg+xml" },
	{ "png", "image/png" },
	{ "jpg", "image/jpeg" },
	{ "jpeg", "image/jpeg" },
	{ "gif", "image/gif" },
	{ "webp", "image/webp" },
	{ "avif", "image/avif" },
	{ "ico", "image/vnd.microsoft.icon" },
	{ "woff", "font/woff" },
	{ "woff2", "font/woff2" },
	{ "pdf", "application/pdf" },
	{ "wasm", "application/wasm" },
	{ "mp4", "video/mp4" },
	{ "webm", "video/webm" },
	{ "mp3", "audio/mpeg" },
	{ "csv", "text/csv; charset=utf-8" },
	{ "md", "text/markdown; charset=utf-8" },
};

const char *
static_type(const char *path)
{
	const char	*dot, *slash;
	size_t		 i;

	dot = strrchr(path, '.');
	slash = strrchr(path, '/');
	if (dot == NULL || (slash != NULL && slash > dot))
		return "application/octet-stream";
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(dot + 1, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

/*
 * Decode the path part of an origin-form target into out as a relative
 * path ("a/b.html", "" for the root). Returns 0, 400 for a malformed
 * escape or byte, 404 for a segment we never serve (".", "..", dotfiles,
 * an encoded "/" or NUL).
 */
static int
static_decode(const char *t, size_t tlen, char *out, size_t outsz,
    int *trailing_slash)
{
	size_t	 i, o = 0, seg = 0;
	int	 c, hi, lo;

	*trailing_slash = 0;
	for (i = 0; i < tlen && t[i] != '?'; i++) {
		c = (unsigned char)t[i];
		if (c <= 0x20 || c >= 0x7f)
			return 400;
		if (c == '%') {
			if (i + 2 >= tlen || (hi = hex_digit(t[i + 1])) < 0 ||
			    (lo = hex_digit(t[i + 2])) < 0)
				return 400;
			c = hi * 16 + lo;
			i += 2;
			if (c == 0 || c == '/' || c < 0x20 || c == 0x7f)
				return 404;
		} else if (c == '/') {
			/* Collapse "//" and end the current segment. */
			if (o > 0 && out[o - 1] != '/') {
				if (o + 1 >= outsz)
					return 404;
				out[o++] = '/';
			}
			seg = o;
			continue;
		}
		/* A segment may not start with '.': ".", "..", dotfiles. */
		if (o == seg && c == '.')
			return 404;
		if (o + 1 >= outsz)
			return 404;
		out[o++] = (char)c;
	}
	if (o > 0 && out[o - 1] == '/') {
		o--;
		*trailing_slash = 1;
	}
	out[o] = '\0';
	return 0;
}

static int
static_open_file(int dirfd, const char *rel, struct static_file *sf)
{
	int	 fd;

	/* O_NONBLOCK: a FIFO planted under public/ must not hang us. */
	fd = open_beneath(dirfd, rel, O_RDONLY | O_NONBLOCK, 0);
	if (fd == -1)
		return errno == EMFILE || errno == ENFILE ? 503 : 404;
	if (fstat(fd, &sf->sf_st) == -1) {
		close(fd);
		return 404;
	}
	if (S_ISDIR(sf->sf_st.st_mode)) {
		close(fd);
		return 301;
	}
	if (!S_ISREG(sf->sf_st.st_mode)) {
		close(fd);
		return 404;
	}
	sf->sf_fd = fd;
	return 200;
}

/*
 * Resolve target to an open regular file. Returns 200 (sf filled), 301
 * (a directory named without its trailing slash; redirect to target + "/"),
 * 400, 404 or 503.
 */
int
static_resolve(int publicfd, const char *target, size_t tlen,
    struct static_file *sf, char *rel, size_t relsz)
{
	int	 r, slash;
	size_t	 l;

	memset(sf, 0, sizeof(*sf));
	sf->sf_fd = -1;
	if (tlen == 0 || target[0] != '/')
		return 400;
	if ((r = static_decode(target, tlen, rel, relsz, &slash)) != 0)
		return r;
	if (publicfd == -1)
		return 404;
	l = strlen(rel);
	if (l == 0 || slash) {
		if (l + sizeof("/index.html") > relsz)
			return 404;
		snprintf(rel + l, relsz - l, "%sindex.html", l ? "/" : "");
		if ((r = static_open_file(publicfd, rel, sf)) == 301)
			r = 404;
	} else
		r = static_open_file(publicfd, rel, sf);
	if (r != 200)
		return r;
	sf->sf_type = static_type(rel);
	/* Validator: modification time and size, no inode (no info leak). */
	snprintf(sf->sf_etag, sizeof(sf->sf_etag), "\"%llx-%lx-%llx\"",
	    (unsigned long long)sf->sf_st.st_mtim.tv_sec,
	    (unsigned long)sf->sf_st.st_mtim.tv_nsec,
	    (unsigned long long)sf->sf_st.st_size);
	return 200;
}
