/* pingpong_libuv.c - c_pingpong's libuv row: a uv_poll_t watching for
 * UV_READABLE, and uv_run(UV_RUN_ONCE) until its callback has read the byte.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include <stdlib.h>

#include "pingpong.h"

#ifdef HAVE_LIBUV
#include <uv.h>

const char *const pp_libuv_missing = NULL;

struct libuv_ctx {
	uv_loop_t loop;
	uv_poll_t h;
	int fd, got, err;
};

static void
on_poll(uv_poll_t *h, int status, int events)
{
	struct libuv_ctx *c = h->data;

	if (status < 0)
		c->err = pp_fail("libuv poll: %s", uv_strerror(status));
	else if (!(events & UV_READABLE))
		c->err = pp_fail("libuv: unexpected events 0x%x", events);
	else if (pp_read_byte(c->fd) < 0)
		c->err = -1;
	c->got = 1;
}

int
pp_libuv_setup(void **out, int fd)
{
	struct libuv_ctx *c = calloc(1, sizeof *c);
	int rc;

	if (!c)
		return pp_fail("out of memory");
	c->fd = fd;
	if ((rc = uv_loop_init(&c->loop)) < 0) {
		free(c);
		return pp_fail("uv_loop_init: %s", uv_strerror(rc));
	}
	if ((rc = uv_poll_init(&c->loop, &c->h, fd)) < 0) {
		uv_loop_close(&c->loop);
		free(c);
		return pp_fail("uv_poll_init: %s", uv_strerror(rc));
	}
	c->h.data = c;
	if ((rc = uv_poll_start(&c->h, UV_READABLE, on_poll)) < 0) {
		pp_fail("uv_poll_start: %s", uv_strerror(rc));
		pp_libuv_teardown(c);
		return -1;
	}
	*out = c;
	return 0;
}

int
pp_libuv_wait_read(void *arg)
{
	struct libuv_ctx *c = arg;

	c->got = 0;
	while (!c->got)
		uv_run(&c->loop, UV_RUN_ONCE);
	return c->err ? -1 : 0;
}

void
pp_libuv_teardown(void *arg)
{
	struct libuv_ctx *c = arg;

	uv_poll_stop(&c->h);
	uv_close((uv_handle_t *)&c->h, NULL);
	uv_run(&c->loop, UV_RUN_DEFAULT);
	uv_loop_close(&c->loop);
	free(c);
}

#else

const char *const pp_libuv_missing = "libuv not installed (libuv1-dev)";

int
pp_libuv_setup(void **out, int fd)
{
	(void)out;
	(void)fd;
	return pp_fail("%s", pp_libuv_missing);
}

int
pp_libuv_wait_read(void *ctx)
{
	(void)ctx;
	return -1;
}

void
pp_libuv_teardown(void *ctx)
{
	(void)ctx;
}

#endif
