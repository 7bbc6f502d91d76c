/* pingpong.c - table "c_pingpong": 1-byte round trips over an AF_UNIX
 * socketpair, with a blocking wait in every round trip.
 *
 * The echo partner is a thread doing plain blocking read()/write() on its
 * end (common.c: partner_start), the same for every row.  The measured side
 * is the event loop under test.  One iteration, timed with CLOCK_MONOTONIC:
 *
 *     t0; write 1 byte; <row: block until our end is readable, read the
 *     byte>; t1
 *
 * so every row does the same write and the same read, and differs only in
 * how it waits.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <guestpoll.h>

#include "common.h"
#include "handoff.h"

#include "pingpong.h"

#define TABLE   "c_pingpong"
#define TITLE   "C ping-pong round trip"
#define MAXEV   64
#define SLICE_S 0.25 /* seconds a row runs before the next row's turn */

char pp_errbuf[256];
#define errbuf pp_errbuf
#define fail   pp_fail

int
pp_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pp_errbuf, sizeof pp_errbuf, fmt, ap);
	va_end(ap);
	return -1;
}

int
pp_read_byte(int fd)
{
	char b;
	ssize_t r;

	do
		r = read(fd, &b, 1);
	while (r < 0 && errno == EINTR);
	if (r != 1)
		return fail("read after readiness: %s",
		            r == 0 ? "end of file" : strerror(errno));
	return 0;
}
#define read_byte pp_read_byte

struct row {
	const char *name;
	int baseline;
	/* points to NULL, or to why the library is not available */
	const char *const *missing;
	int (*setup)(void **ctx, int fd);
	int (*wait_read)(void *ctx);
	void (*teardown)(void *ctx);
	const char *(*extra)(void *ctx);
};

/* ---- raw epoll_wait ------------------------------------------------------ */

struct ep_ctx {
	int ep, fd;
	struct epoll_event evs[MAXEV];
};

static int
ep_setup(void **out, int fd)
{
	struct ep_ctx *c = calloc(1, sizeof *c);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

	if (!c)
		return fail("%s", "out of memory");
	c->fd = fd;
	c->ep = epoll_create1(EPOLL_CLOEXEC);
	if (c->ep < 0 || epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		fail("epoll: %s", strerror(errno));
		if (c->ep >= 0)
			close(c->ep);
		free(c);
		return -1;
	}
	*out = c;
	return 0;
}

static int
ep_wait_read(void *arg)
{
	struct ep_ctx *c = arg;
	int n;

	do
		n = epoll_wait(c->ep, c->evs, MAXEV, -1);
	while (n == 0 || (n < 0 && errno == EINTR));
	if (n < 0)
		return fail("epoll_wait: %s", strerror(errno));
	if (c->evs[0].data.fd != c->fd || !(c->evs[0].events & EPOLLIN))
		return fail("%s", "epoll_wait: unexpected event");
	return read_byte(c->fd);
}

static void
ep_teardown(void *arg)
{
	struct ep_ctx *c = arg;
	close(c->ep);
	free(c);
}

/* ---- guestpoll ------------------------------------------------------------
 */

struct gp_ctx {
	gp_poller *p;
	int fd;
	int efd; /* split wait: the ready callback -> the owner */
	gp_event evs[MAXEV];
	char extra[64];
};

static int
gp_setup(void **out, int fd)
{
	struct gp_ctx *c = calloc(1, sizeof *c);
	int rc;

	if (!c)
		return fail("%s", "out of memory");
	c->fd = fd;
	c->efd = -1;
	if ((rc = gp_poller_new(&c->p, NULL)) < 0) {
		free(c);
		return fail("gp_poller_new: %s", gp_strerror(rc));
	}
	if ((rc = gp_add(c->p, fd, GP_READ, c)) < 0) {
		gp_poller_free(c->p);
		free(c);
		return fail("gp_add: %s", gp_strerror(rc));
	}
	snprintf(c->extra, sizeof c->extra, ", \"backend\": \"%s\"",
	         gp_poller_backend(c->p));
	*out = c;
	return 0;
}

static int
check_gp_events(struct gp_ctx *c, int n)
{
	if (n < 0)
		return fail("guestpoll wait: %s", gp_strerror(n));
	if (n < 1 || c->evs[0].fd != c->fd || !(c->evs[0].events & GP_READ))
		return fail("%s", "guestpoll wait: unexpected event");
	return 0;
}

static int
gp_wait_read(void *arg)
{
	struct gp_ctx *c = arg;
	int n;

	do
		n = gp_wait(c->p, c->evs, MAXEV, -1);
	while (n == GP_EINTR || n == 0);
	if (check_gp_events(c, n) < 0)
		return -1;
	return read_byte(c->fd);
}

static void
gp_teardown(void *arg)
{
	struct gp_ctx *c = arg;
	gp_remove(c->p, c->fd);
	gp_poller_free(c->p);
	if (c->efd >= 0)
		close(c->efd);
	free(c);
}

static const char *
gp_extra(void *arg)
{
	return ((struct gp_ctx *)arg)->extra;
}

/* The split wait: the owner (this thread) starts the wait, blocks on an
 * eventfd that the ready callback signals from the waiter thread, then
 * collects. */
static void
split_ready(void *arg)
{
	efd_signal(*(int *)arg);
}

static int
split_setup(void **out, int fd)
{
	struct gp_ctx *c;

	if (gp_setup(out, fd) < 0)
		return -1;
	c = *out;
	c->efd = efd_open_blocking();
	if (c->efd < 0) {
		fail("eventfd: %s", strerror(errno));
		gp_teardown(c);
		return -1;
	}
	return 0;
}

static int
split_wait_read(void *arg)
{
	struct gp_ctx *c = arg;
	int rc, n;

	do {
		rc = gp_wait_start(c->p, -1, split_ready, &c->efd);
		if (rc < 0)
			return fail("gp_wait_start: %s", gp_strerror(rc));
		if (efd_wait(c->efd) < 0)
			return fail("eventfd read: %s", strerror(errno));
		n = gp_wait_collect(c->p, c->evs, MAXEV);
	} while (n == 0 || n == GP_EINTR);
	if (check_gp_events(c, n) < 0)
		return -1;
	return read_byte(c->fd);
}

/* ---- the hand-written waiter thread ---------------------------------------
 * The thread hop done by hand (hw_waiter in handoff.h); the owner reads the
 * byte after the thread's epoll_wait returned.
 */
struct hw_ctx {
	int ep, fd;
	struct epoll_event evs[MAXEV];
	struct hw_waiter w;
	char extra[64];
};

static void
hw_teardown(void *arg)
{
	struct hw_ctx *c = arg;

	hw_waiter_stop(&c->w);
	if (c->ep >= 0)
		close(c->ep);
	free(c);
}

static int
hw_setup(void **out, int fd)
{
	struct hw_ctx *c = calloc(1, sizeof *c);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

	if (!c)
		return fail("%s", "out of memory");
	c->fd = fd;
	c->ep = epoll_create1(EPOLL_CLOEXEC);
	if (c->ep < 0 || epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		fail("setup: %s", strerror(errno));
		hw_teardown(c);
		return -1;
	}
	if (hw_waiter_start(&c->w, c->ep, c->evs, MAXEV) < 0) {
		fail("%s: %s", c->w.what, strerror(c->w.err));
		hw_teardown(c);
		return -1;
	}
	snprintf(c->extra, sizeof c->extra, ", \"rearm\": \"%s\"",
	         handoff_name(c->w.go.kind));
	*out = c;
	return 0;
}

static int
hw_wait_read(void *arg)
{
	struct hw_ctx *c = arg;
	int n = hw_waiter_wait(&c->w); /* start the wait, await its end */

	if (n < 0)
		return fail("%s: %s", c->w.what, strerror(c->w.err));
	if (n < 1 || c->evs[0].data.fd != c->fd)
		return fail("%s", "epoll_wait: unexpected event");
	return read_byte(c->fd);
}

static const char *
hw_extra(void *arg)
{
	return ((struct hw_ctx *)arg)->extra;
}

/* ---- the driver ---------------------------------------------------------- */

static const struct row rows[] = {
        {"raw epoll_wait, one thread", 1, NULL, ep_setup, ep_wait_read,
         ep_teardown, NULL},
        {"libev, one thread", 0, &pp_libev_missing, pp_libev_setup,
         pp_libev_wait_read, pp_libev_teardown, NULL},
        {"libuv, one thread", 0, &pp_libuv_missing, pp_libuv_setup,
         pp_libuv_wait_read, pp_libuv_teardown, NULL},
        {"libevent, one thread", 0, &pp_libevent_missing, pp_libevent_setup,
         pp_libevent_wait_read, pp_libevent_teardown, NULL},
        {"guestpoll gp_wait, one thread", 0, NULL, gp_setup, gp_wait_read,
         gp_teardown, gp_extra},
        {"hand-written waiter thread + eventfd handoff", 0, NULL, hw_setup,
         hw_wait_read, hw_teardown, hw_extra},
        {"guestpoll split wait (gp_wait_start + ready callback + "
         "gp_wait_collect)",
         0, NULL, split_setup, split_wait_read, gp_teardown, gp_extra},
};

/* One round trip: write the byte, let the row wait and read it back. */
static inline int
round_trip(const struct row *r, void *ctx, int fd)
{
	char b = 'x';
	ssize_t w;

	do
		w = write(fd, &b, 1);
	while (w < 0 && errno == EINTR);
	if (w != 1)
		return fail("write: %s", strerror(errno));
	return r->wait_read(ctx);
}

/* One row's state across the interleaved run. */
struct run {
	const struct row *r;
	struct row_desc d;
	struct partner pt;
	int fd;
	void *ctx; /* NULL once torn down */
	struct samples s;
	size_t *rep_start; /* reps + 1 sample offsets */
	char extra[128];
	char error[256]; /* set: the row failed (reported as its error) */
};

/* Tears the row down and stops its partner (idempotent). */
static void
run_close(struct run *u)
{
	if (u->ctx)
		u->r->teardown(u->ctx);
	u->ctx = NULL;
	partner_stop(&u->pt, &u->fd);
}

static void
run_fail(struct run *u, const char *msg)
{
	snprintf(u->error, sizeof u->error, "%s", msg[0] ? msg : "failed");
	run_close(u);
}

/* Partner, setup, warm-up (which also sizes the sample array, so that the
 * timed loops do not grow it). */
static void
run_prepare(const struct bench_opts *o, struct run *u)
{
	int64_t t0, t_end, warm_n = 0;

	if (u->r->missing && *u->r->missing) {
		snprintf(u->error, sizeof u->error, "%s", *u->r->missing);
		return;
	}
	if (partner_start(&u->pt, &u->fd) < 0) {
		snprintf(u->error, sizeof u->error, "socketpair/partner: %s",
		         strerror(errno));
		return;
	}
	errbuf[0] = '\0';
	if (u->r->setup(&u->ctx, u->fd) < 0) {
		u->ctx = NULL;
		run_fail(u, errbuf);
		return;
	}
	if (u->r->extra)
		snprintf(u->extra, sizeof u->extra, "%s", u->r->extra(u->ctx));
	t0 = bench_now_ns();
	t_end = t0 + bench_sec_to_ns(o->warmup);
	do {
		if (round_trip(u->r, u->ctx, u->fd) < 0) {
			run_fail(u, errbuf);
			return;
		}
		warm_n++;
	} while (bench_now_ns() < t_end);
	{
		double per = (double)(bench_now_ns() - t0) / (double)warm_n;
		double want = 1.3 * o->reps * o->duration * 1e9 / per + 1024;
		samples_reserve(&u->s, want < 5e7 ? (size_t)want : (size_t)5e7);
	}
	u->rep_start = calloc((size_t)o->reps + 1, sizeof *u->rep_start);
	if (!u->rep_start)
		run_fail(u, "out of memory");
}

/* One slice of a timed repetition of one row. */
static void
run_slice(struct run *u, double seconds)
{
	int64_t start = bench_now_ns(), a = start, b;
	int64_t stop = start + bench_sec_to_ns(seconds);

	do {
		if (round_trip(u->r, u->ctx, u->fd) < 0) {
			run_fail(u, errbuf);
			return;
		}
		b = bench_now_ns();
		samples_push(&u->s, b - a);
		/* the next round trip starts now: the clock is read once per
		 * iteration */
		a = b;
	} while (b < stop);
}

static void
run_report(const struct bench_opts *o, struct run *u)
{
	double *rep_med;

	if (u->error[0]) {
		emit_error(&u->d, "%s", u->error);
		return;
	}
	rep_med = calloc((size_t)o->reps, sizeof *rep_med);
	if (!rep_med) {
		emit_error(&u->d, "out of memory");
		return;
	}
	for (int rep = 0; rep < o->reps; rep++)
		rep_med[rep] = quantile_sorted(u->s.v + u->rep_start[rep],
		                               u->rep_start[rep + 1] -
		                                       u->rep_start[rep],
		                               0.5) /
		               1e3;
	emit_row(&u->d, quantile_sorted(u->s.v, u->s.n, 0.5) / 1e3,
	         quantile_sorted(u->s.v, u->s.n, 0.99) / 1e3, rep_med, o->reps,
	         (long long)u->s.n, NULL, u->extra);
	free(rep_med);
}

int
main(int argc, char **argv)
{
	enum { NROWS = sizeof rows / sizeof rows[0] };
	struct bench_opts o;
	struct run runs[NROWS];
	int n = 0, nslices;

	bench_parse(argc, argv, &o);
	for (size_t i = 0; i < NROWS; i++) {
		if (!bench_selected(&o, TABLE, rows[i].name))
			continue;
		memset(&runs[n], 0, sizeof runs[n]);
		runs[n].r = &rows[i];
		runs[n].d = (struct row_desc){
		        TABLE,     TITLE, rows[i].name, rows[i].baseline,
		        "latency", "us",  "lower"};
		runs[n].fd = -1;
		n++;
	}
	/* Every row is set up (each with its own socketpair and partner
	 * thread) and warmed up first; then each repetition goes round the
	 * rows in slices of about SLICE_S seconds, so that a slow stretch of
	 * this shared machine falls on every row alike instead of on
	 * whichever row ran then. */
	nslices = (int)lround(o.duration / SLICE_S);
	if (nslices < 1)
		nslices = 1;
	for (int k = 0; k < n; k++)
		run_prepare(&o, &runs[k]);
	for (int rep = 0; rep < o.reps; rep++) {
		for (int k = 0; k < n; k++)
			if (!runs[k].error[0])
				runs[k].rep_start[rep] = runs[k].s.n;
		for (int sl = 0; sl < nslices; sl++)
			for (int k = 0; k < n; k++)
				if (!runs[k].error[0])
					run_slice(&runs[k],
					          o.duration / nslices);
		for (int k = 0; k < n; k++)
			if (!runs[k].error[0])
				runs[k].rep_start[rep + 1] = runs[k].s.n;
	}
	for (int k = 0; k < n; k++) {
		run_close(&runs[k]);
		run_report(&o, &runs[k]);
		samples_free(&runs[k].s);
		free(runs[k].rep_start);
	}
	return 0;
}
