/* pingpong_libev.c - c_pingpong's libev row: an ev_io watcher, and
 * ev_run(EVRUN_ONCE) until its callback has read the byte.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include <stdlib.h>

#include "pingpong.h"

#ifdef HAVE_LIBEV
#include <ev.h>

const char *const pp_libev_missing = NULL;

struct libev_ctx {
	struct ev_loop *loop;
	ev_io w;
	int fd, got, err;
};

static void
on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct libev_ctx *c = w->data;

	(void)loop;
	if (!(revents & EV_READ))
		c->err = pp_fail("libev: unexpected revents 0x%x", revents);
	else if (pp_read_byte(c->fd) < 0)
		c->err = -1;
	c->got = 1;
}

int
pp_libev_setup(void **out, int fd)
{
	struct libev_ctx *c = calloc(1, sizeof *c);

	if (!c)
		return pp_fail("out of memory");
	c->fd = fd;
	c->loop = ev_loop_new(EVBACKEND_EPOLL);
	if (!c->loop) {
		free(c);
		return pp_fail("ev_loop_new(EVBACKEND_EPOLL) failed");
	}
	ev_io_init(&c->w, on_read, fd, EV_READ);
	c->w.data = c;
	ev_io_start(c->loop, &c->w);
	*out = c;
	return 0;
}

int
pp_libev_wait_read(void *arg)
{
	struct libev_ctx *c = arg;

	c->got = 0;
	while (!c->got)
		ev_run(c->loop, EVRUN_ONCE);
	return c->err ? -1 : 0;
}

void
pp_libev_teardown(void *arg)
{
	struct libev_ctx *c = arg;

	ev_io_stop(c->loop, &c->w);
	ev_loop_destroy(c->loop);
	free(c);
}

#else

const char *const pp_libev_missing = "libev not installed (libev-dev)";

int
pp_libev_setup(void **out, int fd)
{
	(void)out;
	(void)fd;
	return pp_fail("%s", pp_libev_missing);
}

int
pp_libev_wait_read(void *ctx)
{
	(void)ctx;
	return -1;
}

void
pp_libev_teardown(void *ctx)
{
	(void)ctx;
}

#endif
