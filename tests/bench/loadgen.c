/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * A small closed-loop HTTP/1.1 load generator for Unix sockets (wrk speaks
 * TCP only). C connections each send a GET, read the Content-Length framed
 * response, and send the next one: K requests per connection (0 = keep the
 * connection for the whole run), for D seconds. Prints one JSON line.
 *
 *   loadgen -s SOCKET -H HOST [-p PATH] [-a "Field: value"] [-c CONNS]
 *           [-k PER_CONN] [-d SECS]
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct lconn {
	int		 fd;
	unsigned int	 done;		/* requests completed on this fd */
	size_t		 have;
	long		 need;		/* total response bytes, -1 unknown */
	double		 sent_at;
	char		 buf[65536];
};

static const char	*sockpath, *host = "localhost", *path = "/";
static const char	*extra;
static char		 req[1024];
static size_t		 reqlen;
static unsigned int	 per_conn;
static double		*lat;
static size_t		 nlat, maxlat;
static unsigned long	 errors;
static int		 ep;

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
dial(void)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sockpath);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static int
lconn_send(struct lconn *c)
{
	struct epoll_event	 ev;

	if (c->fd == -1) {
		if ((c->fd = dial()) == -1)
			return -1;
		c->done = 0;
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	}
	c->have = 0;
	c->need = -1;
	c->sent_at = now();
	/* Requests are small; a Unix socket takes them whole. */
	if (write(c->fd, req, reqlen) != (ssize_t)reqlen)
		return -1;
	return 0;
}

static void
lconn_reset(struct lconn *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
}

/* Returns 1 when a full response has arrived. */
static int
lconn_read(struct lconn *c)
{
	ssize_t	 n;
	char	*e, *cl;

	n = read(c->fd, c->buf + c->have, sizeof(c->buf) - c->have - 1);
	if (n <= 0)
		return n == -1 && errno == EAGAIN ? 0 : -1;
	c->have += (size_t)n;
	c->buf[c->have] = '\0';
	if (c->need < 0 && (e = strstr(c->buf, "\r\n\r\n")) != NULL) {
		cl = strcasestr(c->buf, "\r\ncontent-length:");
		if (cl == NULL || cl > e || strncmp(c->buf, "HTTP/1.1 200", 12))
			return -1;
		c->need = (e + 4 - c->buf) + strtol(cl + 17, NULL, 10);
	}
	if (c->need >= 0 && (long)c->have >= c->need) {
		/* Bodies larger than our buffer are read and dropped. */
		return 1;
	}
	if (c->have == sizeof(c->buf) - 1 && c->need > 0) {
		c->need -= (long)c->have;
		c->have = 0;
		return c->need <= 0;
	}
	return 0;
}

static int
cmp(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char *argv[])
{
	struct epoll_event	 evs[256];
	struct lconn		*conns, *c;
	unsigned int		 nconns = 16, i;
	double			 secs = 5, start, end;
	unsigned long		 total = 0;
	int			 ch, n, r;

	while ((ch = getopt(argc, argv, "s:H:p:a:c:k:d:")) != -1) {
		switch (ch) {
		case 'a': extra = optarg; break;
		case 's': sockpath = optarg; break;
		case 'H': host = optarg; break;
		case 'p': path = optarg; break;
		case 'c': nconns = (unsigned int)atoi(optarg); break;
		case 'k': per_conn = (unsigned int)atoi(optarg); break;
		case 'd': secs = atof(optarg); break;
		default:
			fprintf(stderr, "usage: loadgen -s sock -H host [-p path] "
			    "[-a field] [-c conns] [-k per_conn] [-d secs]\n");
			return 2;
		}
	}
	if (sockpath == NULL || nconns == 0 || nconns > 4096)
		return 2;
	reqlen = (size_t)snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n"
	    "Host: %s\r\nUser-Agent: tenantd-loadgen\r\n%s%s\r\n", path, host,
	    extra != NULL ? extra : "", extra != NULL ? "\r\n" : "");
	if (reqlen >= sizeof(req))
		return 2;
	maxlat = 1 << 24;
	if ((lat = malloc(maxlat * sizeof(*lat))) == NULL ||
	    (conns = calloc(nconns, sizeof(*conns))) == NULL)
		return 1;
	ep = epoll_create1(EPOLL_CLOEXEC);
	for (i = 0; i < nconns; i++) {
		conns[i].fd = -1;
		if (lconn_send(&conns[i]) == -1) {
			perror("connect");
			return 1;
		}
	}
	start = now();
	end = start + secs;
	while (now() < end) {
		n = epoll_wait(ep, evs, 256, 100);
		for (int k = 0; k < n; k++) {
			c = evs[k].data.ptr;
			if ((r = lconn_read(c)) == 0)
				continue;
			if (r == 1) {
				total++;
				if (nlat < maxlat)
					lat[nlat++] = now() - c->sent_at;
				c->done++;
			} else
				errors++;
			if (r == -1 || (per_conn && c->done >= per_conn))
				lconn_reset(c);
			if (lconn_send(c) == -1) {
				errors++;
				lconn_reset(c);
				lconn_send(c);
			}
		}
	}
	secs = now() - start;
	qsort(lat, nlat, sizeof(*lat), cmp);
	printf("{\"requests\": %lu, \"errors\": %lu, \"seconds\": %.3f, "
	    "\"rps\": %.0f, \"p50_us\": %.0f, \"p99_us\": %.0f}\n", total,
	    errors, secs, total / secs, nlat ? lat[nlat / 2] * 1e6 : 0,
	    nlat ? lat[nlat * 99 / 100] * 1e6 : 0);
	return errors > total / 100 ? 1 : 0;
}
