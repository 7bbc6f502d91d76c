/* churn.c - table "c_churn": registration churn while another thread is
 * blocked in a wait on the same poller.
 *
 * A pool of idle socketpair ends (never readable: nothing is written to
 * them), registered for reading and removed again at once, one after the
 * other, round and round the pool:
 *
 *   raw epoll:  epoll_ctl(ADD) + epoll_ctl(DEL) while a second thread is
 *               blocked in epoll_wait on the same epoll instance (baseline)
 *   guestpoll:  gp_add + gp_remove while the poller's waiter thread is
 *               blocked in a split wait (gp_wait_start, infinite timeout)
 *
 * The rate is add+remove pairs per second.  The blocked wait must not wake
 * during the run; a row whose wait woke early reports an error.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include <errno.h>
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

#define TABLE "c_churn"
#define TITLE                                                                  \
	"C registration churn while another thread waits (add+remove pairs/s)"
#define POOL 256

static int pool[POOL], peers[POOL];
static char errbuf[256];

struct churn_row {
	const char *name;
	int baseline;
	int (*setup)(void **ctx);
	/* One pass over the pool: POOL add+remove pairs.  0 or -1. */
	int (*pass)(void *ctx);
	/* Ends the blocked wait; -1 if it had woken before. */
	int (*teardown)(void *ctx);
};

/* ---- raw epoll ------------------------------------------------------------
 */

struct ep_ctx {
	int ep, stopfd;
	pthread_t thread;
	int started;
	atomic_int early; /* the blocked wait returned before the end */
	atomic_int ending;
};

static void *
ep_blocker(void *arg)
{
	struct ep_ctx *c = arg;
	struct epoll_event evs[8];

	for (;;) {
		int n = epoll_wait(c->ep, evs, 8, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (!atomic_load(&c->ending))
			atomic_store(&c->early, 1);
		for (int i = 0; i < n; i++)
			if (evs[i].data.u64 == UINT64_MAX)
				return NULL;
	}
	return NULL;
}

static int ep_teardown(void *arg);

static int
ep_setup(void **out)
{
	struct ep_ctx *c = calloc(1, sizeof *c);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
	int rc;

	if (!c) {
		snprintf(errbuf, sizeof errbuf, "out of memory");
		return -1;
	}
	atomic_init(&c->early, 0);
	atomic_init(&c->ending, 0);
	c->ep = epoll_create1(EPOLL_CLOEXEC);
	c->stopfd = efd_open_blocking();
	if (c->ep < 0 || c->stopfd < 0 ||
	    epoll_ctl(c->ep, EPOLL_CTL_ADD, c->stopfd, &ev) < 0) {
		snprintf(errbuf, sizeof errbuf, "setup: %s", strerror(errno));
		ep_teardown(c);
		return -1;
	}
	if ((rc = pthread_create(&c->thread, NULL, ep_blocker, c)) != 0) {
		snprintf(errbuf, sizeof errbuf, "pthread_create: %s",
		         strerror(rc));
		ep_teardown(c);
		return -1;
	}
	c->started = 1;
	*out = c;
	return 0;
}

static int
ep_pass(void *arg)
{
	struct ep_ctx *c = arg;

	for (int i = 0; i < POOL; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = i};
		if (epoll_ctl(c->ep, EPOLL_CTL_ADD, pool[i], &ev) < 0 ||
		    epoll_ctl(c->ep, EPOLL_CTL_DEL, pool[i], &ev) < 0) {
			snprintf(errbuf, sizeof errbuf, "epoll_ctl: %s",
			         strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int
ep_teardown(void *arg)
{
	struct ep_ctx *c = arg;
	int early;

	if (c->started) {
		atomic_store(&c->ending, 1);
		efd_signal(c->stopfd);
		pthread_join(c->thread, NULL);
	}
	early = atomic_load(&c->early);
	if (c->ep >= 0)
		close(c->ep);
	if (c->stopfd >= 0)
		close(c->stopfd);
	free(c);
	return early ? -1 : 0;
}

/* ---- guestpoll ------------------------------------------------------------
 */

struct gp_ctx {
	gp_poller *p;
	int efd;
	atomic_int ending, early;
	int in_flight;
};

static void
gp_ready(void *arg)
{
	struct gp_ctx *c = arg;

	if (!atomic_load(&c->ending))
		atomic_store(&c->early, 1);
	efd_signal(c->efd);
}

static int gp_teardown(void *arg);

static int
gp_setup(void **out)
{
	struct gp_ctx *c = calloc(1, sizeof *c);
	int rc;

	if (!c) {
		snprintf(errbuf, sizeof errbuf, "out of memory");
		return -1;
	}
	atomic_init(&c->ending, 0);
	atomic_init(&c->early, 0);
	c->efd = efd_open_blocking();
	if (c->efd < 0) {
		snprintf(errbuf, sizeof errbuf, "eventfd: %s", strerror(errno));
		gp_teardown(c);
		return -1;
	}
	if ((rc = gp_poller_new(&c->p, NULL)) < 0 ||
	    (rc = gp_wait_start(c->p, -1, gp_ready, c)) < 0) {
		snprintf(errbuf, sizeof errbuf, "gp_poller_new/start: %s",
		         gp_strerror(rc));
		gp_teardown(c);
		return -1;
	}
	c->in_flight = 1;
	*out = c;
	return 0;
}

static int
gp_pass(void *arg)
{
	struct gp_ctx *c = arg;
	int rc;

	for (int i = 0; i < POOL; i++) {
		if ((rc = gp_add(c->p, pool[i], GP_READ, c)) < 0 ||
		    (rc = gp_remove(c->p, pool[i])) < 0) {
			snprintf(errbuf, sizeof errbuf, "gp_add/remove: %s",
			         gp_strerror(rc));
			return -1;
		}
	}
	return 0;
}

static int
gp_teardown(void *arg)
{
	struct gp_ctx *c = arg;
	int early;

	if (c->in_flight) {
		gp_event ev[4];
		atomic_store(&c->ending, 1);
		gp_notify(c->p);
		efd_wait(c->efd);
		while (gp_wait_collect(c->p, ev, 4) == 4)
			;
	}
	early = atomic_load(&c->early);
	if (c->p)
		gp_poller_free(c->p);
	if (c->efd >= 0)
		close(c->efd);
	free(c);
	return early ? -1 : 0;
}

/* ---- the driver ---------------------------------------------------------- */

static const struct churn_row rows[] = {
        {"raw epoll_ctl ADD+DEL, epoll_wait blocked on another thread", 1,
         ep_setup, ep_pass, ep_teardown},
        {"guestpoll gp_add+gp_remove, split wait in flight", 0, gp_setup,
         gp_pass, gp_teardown},
};

static void
run_row(const struct bench_opts *o, const struct churn_row *r)
{
	struct row_desc d = {TABLE,        TITLE,   r->name, r->baseline,
	                     "throughput", "ops/s", "higher"};
	double *reps = calloc((size_t)o->reps, sizeof *reps);
	long long total = 0;
	void *ctx;
	int64_t t_end;

	errbuf[0] = '\0';
	if (!reps) {
		emit_error(&d, "out of memory");
		return;
	}
	if (r->setup(&ctx) < 0) {
		emit_error(&d, "%s", errbuf);
		free(reps);
		return;
	}
	t_end = bench_now_ns() + bench_sec_to_ns(o->warmup);
	do
		if (r->pass(ctx) < 0)
			goto failed;
	while (bench_now_ns() < t_end);

	for (int rep = 0; rep < o->reps; rep++) {
		int64_t start = bench_now_ns(), now;
		int64_t stop = start + bench_sec_to_ns(o->duration);
		long long pairs = 0;

		do {
			if (r->pass(ctx) < 0)
				goto failed;
			pairs += POOL;
			now = bench_now_ns();
		} while (now < stop);
		reps[rep] = (double)pairs * 1e9 / (double)(now - start);
		total += pairs;
	}
	if (r->teardown(ctx) < 0) {
		emit_error(&d, "the blocked wait woke up during the run");
		free(reps);
		return;
	}
	emit_row(&d, median_double(reps, o->reps), NAN, reps, o->reps, total,
	         NULL, NULL);
	free(reps);
	return;

failed:
	emit_error(&d, "%s", errbuf[0] ? errbuf : "failed");
	r->teardown(ctx);
	free(reps);
}

int
main(int argc, char **argv)
{
	struct bench_opts o;

	bench_parse(argc, argv, &o);
	for (int i = 0; i < POOL; i++) {
		int sv[2];
		if (socketpair(AF_UNIX,
		               SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
		               sv) < 0) {
			bench_log("socketpair: %s", strerror(errno));
			return 1;
		}
		pool[i] = sv[0];
		peers[i] = sv[1];
	}
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		if (bench_selected(&o, TABLE, rows[i].name))
			run_row(&o, &rows[i]);
	for (int i = 0; i < POOL; i++) {
		close(pool[i]);
		close(peers[i]);
	}
	return 0;
}
