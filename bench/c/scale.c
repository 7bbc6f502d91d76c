/* scale.c - tables "c_scale_<N>_<one|all>": the cost of one wait call with
 * N registered descriptors (1, 100, 10000) of which one or all are ready
 * (c_scale_1_one, c_scale_100_one, c_scale_100_all, c_scale_10000_one,
 * c_scale_10000_all; with one descriptor, one ready is all ready).
 *
 * The descriptors are both ends of AF_UNIX socketpairs (so N descriptors
 * cost N file-table slots).  A descriptor is made ready by writing one byte
 * into its peer and is never read while measuring: registrations are
 * level-triggered, so it stays ready and every wait returns at once with
 * the same records.  Each call is checked to return exactly the expected
 * number of events.  Per-event cost is reported as "per_event_us".
 *
 * Rows per table: raw epoll_wait (the baseline), guestpoll gp_wait, and for
 * the thread-hop variants, the hand-written waiter thread (epoll_wait on a
 * thread of its own, eventfd to the owner, re-armed through a futex flag)
 * and the guestpoll split wait (gp_wait_start + eventfd from the ready
 * callback + gp_wait_collect).
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <guestpoll.h>

#include "common.h"
#include "handoff.h"

static char errbuf[256];

static int __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof errbuf, fmt, ap);
	va_end(ap);
	return -1;
}

/* The descriptor set: fds[2k] and fds[2k+1] are the two ends of pair k. */
static int *fds;
static int nfds_open;

static int
peer_of(int i)
{
	return fds[i ^ 1];
}

struct scale_row {
	const char *name;
	int baseline;
	int (*setup)(void **ctx, int n, int expect);
	int (*call)(void *ctx); /* one wait: the number of events, or -1 */
	void (*teardown)(void *ctx);
};

/* ---- raw epoll ------------------------------------------------------------
 */

struct ep_ctx {
	int ep, n;
	struct epoll_event *evs;
};

static void
ep_teardown(void *arg)
{
	struct ep_ctx *c = arg;
	if (c->ep >= 0)
		close(c->ep);
	free(c->evs);
	free(c);
}

static int
ep_setup(void **out, int n, int expect)
{
	struct ep_ctx *c = calloc(1, sizeof *c);

	(void)expect;
	if (!c)
		return fail("%s", "out of memory");
	c->n = n;
	c->evs = calloc((size_t)n, sizeof *c->evs);
	c->ep = epoll_create1(EPOLL_CLOEXEC);
	if (!c->evs || c->ep < 0) {
		ep_teardown(c);
		return fail("epoll_create1: %s", strerror(errno));
	}
	for (int i = 0; i < n; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = i};
		if (epoll_ctl(c->ep, EPOLL_CTL_ADD, fds[i], &ev) < 0) {
			ep_teardown(c);
			return fail("epoll_ctl: %s", strerror(errno));
		}
	}
	*out = c;
	return 0;
}

static int
ep_call(void *arg)
{
	struct ep_ctx *c = arg;
	int n;

	do
		n = epoll_wait(c->ep, c->evs, c->n, -1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return fail("epoll_wait: %s", strerror(errno));
	return n;
}

/* ---- guestpoll gp_wait ------------------------------------------------- */

struct gp_ctx {
	gp_poller *p;
	int n, max, efd;
	gp_event *evs;
};

static void
gp_teardown(void *arg)
{
	struct gp_ctx *c = arg;
	if (c->p) {
		for (int i = 0; i < c->n; i++)
			gp_remove(c->p, fds[i]);
		gp_poller_free(c->p);
	}
	if (c->efd >= 0)
		close(c->efd);
	free(c->evs);
	free(c);
}

static int
gp_setup(void **out, int n, int expect)
{
	struct gp_ctx *c = calloc(1, sizeof *c);
	gp_options o;
	int rc;

	(void)expect;
	if (!c)
		return fail("%s", "out of memory");
	c->efd = -1;
	c->n = n;
	/* Room for every record in one call: gp_wait keeps one slot of the
	 * caller's array for a notification, so ask for n + 1. */
	c->max = n + 1;
	c->evs = calloc((size_t)c->max, sizeof *c->evs);
	gp_options_init(&o);
	o.max_events = c->max;
	if (!c->evs) {
		gp_teardown(c);
		return fail("%s", "out of memory");
	}
	if ((rc = gp_poller_new(&c->p, &o)) < 0) {
		gp_teardown(c);
		return fail("gp_poller_new: %s", gp_strerror(rc));
	}
	for (int i = 0; i < n; i++) {
		rc = gp_add(c->p, fds[i], GP_READ, (void *)(intptr_t)i);
		if (rc < 0) {
			c->n = i;
			gp_teardown(c);
			return fail("gp_add: %s", gp_strerror(rc));
		}
	}
	*out = c;
	return 0;
}

static int
gp_call(void *arg)
{
	struct gp_ctx *c = arg;
	int n;

	do
		n = gp_wait(c->p, c->evs, c->max, -1);
	while (n == GP_EINTR);
	if (n < 0)
		return fail("gp_wait: %s", gp_strerror(n));
	return n;
}

/* ---- guestpoll split wait ---------------------------------------------- */

static void
split_ready(void *arg)
{
	efd_signal(*(int *)arg);
}

static int
split_setup(void **out, int n, int expect)
{
	struct gp_ctx *c;

	if (gp_setup(out, n, expect) < 0)
		return -1;
	c = *out;
	if ((c->efd = efd_open_blocking()) < 0) {
		gp_teardown(c);
		return fail("eventfd: %s", strerror(errno));
	}
	return 0;
}

static int
split_call(void *arg)
{
	struct gp_ctx *c = arg;
	int rc, n, total = 0;

	rc = gp_wait_start(c->p, -1, split_ready, &c->efd);
	if (rc < 0)
		return fail("gp_wait_start: %s", gp_strerror(rc));
	if (efd_wait(c->efd) < 0)
		return fail("eventfd: %s", strerror(errno));
	do {
		n = gp_wait_collect(c->p, c->evs, c->max);
		if (n < 0)
			return fail("gp_wait_collect: %s", gp_strerror(n));
		total += n;
	} while (n == c->max);
	return total;
}

/* ---- hand-written waiter thread ------------------------------------------ */

struct hw_ctx {
	struct ep_ctx ep;
	struct hw_waiter w;
};

static void
hw_teardown(void *arg)
{
	struct hw_ctx *c = arg;

	hw_waiter_stop(&c->w);
	if (c->ep.ep >= 0)
		close(c->ep.ep);
	free(c->ep.evs);
	free(c);
}

static int
hw_setup(void **out, int n, int expect)
{
	struct hw_ctx *c = calloc(1, sizeof *c);
	void *epc;

	if (!c)
		return fail("%s", "out of memory");
	c->ep.ep = -1;
	if (ep_setup(&epc, n, expect) < 0) {
		free(c);
		return -1;
	}
	c->ep = *(struct ep_ctx *)epc;
	free(epc);
	if (hw_waiter_start(&c->w, c->ep.ep, c->ep.evs, c->ep.n) < 0) {
		fail("%s: %s", c->w.what, strerror(c->w.err));
		hw_teardown(c);
		return -1;
	}
	*out = c;
	return 0;
}

static int
hw_call(void *arg)
{
	struct hw_ctx *c = arg;
	int n = hw_waiter_wait(&c->w);

	if (n < 0)
		return fail("%s: %s", c->w.what, strerror(c->w.err));
	return n;
}

/* ---- the driver ---------------------------------------------------------- */

static const struct scale_row rows[] = {
        {"raw epoll_wait", 1, ep_setup, ep_call, ep_teardown},
        {"guestpoll gp_wait", 0, gp_setup, gp_call, gp_teardown},
        {"hand-written waiter thread + eventfd handoff", 0, hw_setup, hw_call,
         hw_teardown},
        {"guestpoll split wait", 0, split_setup, split_call, gp_teardown},
};

/* "guestpoll gp_wait, 10000 fds, all ready", "raw epoll_wait, 1 fd, 1 ready" */
static void
row_name(char *buf, size_t len, const char *what, int n, int all)
{
	snprintf(buf, len, "%s, %d fd%s, %s ready", what, n, n == 1 ? "" : "s",
	         all ? "all" : "1");
}

static int
set_ready(int i, int ready)
{
	char b = 'x';
	ssize_t r;

	if (ready)
		r = write(peer_of(i), &b, 1);
	else
		r = read(fds[i], &b, 1);
	return r == 1 ? 0 : -1;
}

static void
run_row(const struct bench_opts *o, const struct scale_row *r, int n, int all,
        const char *table, const char *title)
{
	char name[160], extra[96];
	struct row_desc d = {table,     title,     name,   r->baseline,
	                     "latency", "us/wait", "lower"};
	int expect = all ? n : 1;
	double *reps = calloc((size_t)o->reps, sizeof *reps);
	long long total = 0, batch = 1;
	void *ctx = NULL;
	int64_t t0, t_end, calls = 0;

	row_name(name, sizeof name, r->name, n, all);
	if (!bench_selected(o, table, name)) {
		free(reps);
		return;
	}
	errbuf[0] = '\0';
	if (!reps) {
		emit_error(&d, "out of memory");
		return;
	}
	if (r->setup(&ctx, n, expect) < 0) {
		emit_error(&d, "%s", errbuf);
		free(reps);
		return;
	}

	/* Warm-up, and a batch size that reads the clock about every 100 us.
	 */
	t0 = bench_now_ns();
	t_end = t0 + bench_sec_to_ns(o->warmup);
	do {
		int k = r->call(ctx);
		if (k != expect)
			goto bad_count;
		calls++;
	} while (bench_now_ns() < t_end);
	{
		double per = (double)(bench_now_ns() - t0) / (double)calls;
		batch = (long long)(100e3 / per);
		if (batch < 1)
			batch = 1;
	}

	for (int rep = 0; rep < o->reps; rep++) {
		int64_t start = bench_now_ns(), now;
		int64_t stop = start + bench_sec_to_ns(o->duration);
		long long c = 0;

		do {
			for (long long i = 0; i < batch; i++) {
				int k = r->call(ctx);
				if (k != expect)
					goto bad_count;
			}
			c += batch;
			now = bench_now_ns();
		} while (now < stop);
		reps[rep] = (double)(now - start) / (double)c / 1e3;
		total += c;
	}
	r->teardown(ctx);
	{
		double med = median_double(reps, o->reps);
		snprintf(extra, sizeof extra,
		         ", \"per_event_us\": %.4g, \"events_per_wait\": %d",
		         med / expect, expect);
		emit_row(&d, med, NAN, reps, o->reps, total, NULL, extra);
	}
	free(reps);
	return;

bad_count:
	if (!errbuf[0])
		snprintf(errbuf, sizeof errbuf,
		         "a wait returned a wrong number of events (want %d)",
		         expect);
	emit_error(&d, "%s", errbuf);
	r->teardown(ctx);
	free(reps);
}

int
main(int argc, char **argv)
{
	static const int sizes[] = {1, 100, 10000};
	struct bench_opts o;
	long limit;
	int maxn = 10000;

	bench_parse(argc, argv, &o);
	limit = raise_nofile();
	if (limit < maxn + 64) {
		bench_log("RLIMIT_NOFILE is %ld: 10000-fd tables need %d",
		          limit, maxn + 64);
		maxn = 100;
	}
	fds = calloc((size_t)maxn + 2, sizeof *fds);
	if (!fds)
		return 1;
	for (nfds_open = 0; nfds_open < maxn + 1; nfds_open += 2) {
		int sv[2];
		if (socketpair(AF_UNIX,
		               SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
		               sv) < 0) {
			bench_log("socketpair: %s", strerror(errno));
			maxn = nfds_open;
			break;
		}
		fds[nfds_open] = sv[0];
		fds[nfds_open + 1] = sv[1];
	}

	for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
		int n = sizes[si];

		for (int all = 0; all <= 1; all++) {
			char table[64], title[96];
			int expect = all ? n : 1, ok = 1;

			if (n == 1 && all)
				continue; /* one of one is all of one */
			snprintf(table, sizeof table, "c_scale_%d_%s", n,
			         all ? "all" : "one");
			snprintf(title, sizeof title,
			         "C wait cost, %d registered fds, %s ready", n,
			         all ? "all" : "1");
			if (n > maxn) {
				for (size_t i = 0;
				     i < sizeof rows / sizeof rows[0]; i++) {
					char name[160];
					struct row_desc d = {
					        table,     title,
					        name,      rows[i].baseline,
					        "latency", "us/wait",
					        "lower"};
					row_name(name, sizeof name,
					         rows[i].name, n, all);
					if (bench_selected(&o, table, name))
						emit_error(
						        &d,
						        "not enough file "
						        "descriptors "
						        "(RLIMIT_NOFILE %ld)",
						        limit);
				}
				continue;
			}
			/* Ready: the first descriptor alone, or all n. */
			for (int i = 0; i < expect; i++)
				if (set_ready(i, 1) < 0)
					ok = 0;
			if (!ok) {
				bench_log("could not make the fds ready");
				return 1;
			}
			for (size_t i = 0; i < sizeof rows / sizeof rows[0];
			     i++)
				run_row(&o, &rows[i], n, all, table, title);
			for (int i = 0; i < expect; i++)
				set_ready(i, 0);
		}
	}
	for (int i = 0; i < nfds_open; i++)
		close(fds[i]);
	free(fds);
	return 0;
}
