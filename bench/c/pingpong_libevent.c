/* pingpong_libevent.c - c_pingpong's libevent row: a persistent EV_READ
 * event, and event_base_loop(EVLOOP_ONCE) until its callback has read the
 * byte.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "pingpong.h"

#ifdef HAVE_LIBEVENT
#include <event2/event.h>

const char *const pp_libevent_missing = NULL;

struct libevent_ctx {
	struct event_base *base;
	struct event *ev;
	int fd, got, err;
};

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	struct libevent_ctx *c = arg;

	(void)fd;
	if (!(what & EV_READ))
		c->err = pp_fail("libevent: unexpected events 0x%x", what);
	else if (pp_read_byte(c->fd) < 0)
		c->err = -1;
	c->got = 1;
}

int
pp_libevent_setup(void **out, int fd)
{
	struct libevent_ctx *c = calloc(1, sizeof *c);
	const char *method;

	if (!c)
		return pp_fail("out of memory");
	c->fd = fd;
	c->base = event_base_new();
	if (!c->base) {
		free(c);
		return pp_fail("event_base_new failed");
	}
	/* "libev" here would mean that libev's emulation of the libevent API
	 * won the symbol lookup (see build.sh); anything but epoll would not
	 * be a like-for-like row. */
	method = event_base_get_method(c->base);
	if (strcmp(method, "epoll") != 0) {
		pp_fail("libevent uses the %s method, not epoll", method);
		event_base_free(c->base);
		free(c);
		return -1;
	}
	c->ev = event_new(c->base, fd, EV_READ | EV_PERSIST, on_read, c);
	if (!c->ev || event_add(c->ev, NULL) < 0) {
		if (c->ev)
			event_free(c->ev);
		event_base_free(c->base);
		free(c);
		return pp_fail("event_new/event_add failed");
	}
	*out = c;
	return 0;
}

int
pp_libevent_wait_read(void *arg)
{
	struct libevent_ctx *c = arg;

	c->got = 0;
	while (!c->got)
		if (event_base_loop(c->base, EVLOOP_ONCE) < 0)
			return pp_fail("event_base_loop failed");
	return c->err ? -1 : 0;
}

void
pp_libevent_teardown(void *arg)
{
	struct libevent_ctx *c = arg;

	event_free(c->ev);
	event_base_free(c->base);
	free(c);
}

#else

const char *const pp_libevent_missing = "libevent not installed (libevent-dev)";

int
pp_libevent_setup(void **out, int fd)
{
	(void)out;
	(void)fd;
	return pp_fail("%s", pp_libevent_missing);
}

int
pp_libevent_wait_read(void *ctx)
{
	(void)ctx;
	return -1;
}

void
pp_libevent_teardown(void *ctx)
{
	(void)ctx;
}

#endif
