/* handoff.h - the thread-to-thread wake-ups used by the hand-written
 * waiter-thread rows: a one-waiter "go" flag on a raw futex, on an eventfd,
 * or on a mutex + condition variable.  Selected at run time by the
 * BENCH_HW_REARM environment variable (futex, eventfd, condvar; default
 * futex, the cheapest of the three here).
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef BENCH_HANDOFF_H
#define BENCH_HANDOFF_H

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

enum handoff_kind { HANDOFF_FUTEX, HANDOFF_EVENTFD, HANDOFF_CONDVAR };

struct handoff {
	enum handoff_kind kind;
	atomic_int state;     /* futex: 0 idle, 1 posted, 2 a waiter sleeps */
	int efd;              /* eventfd */
	pthread_mutex_t lock; /* condvar */
	pthread_cond_t cond;
	int posted;
};

static inline const char *
handoff_name(enum handoff_kind k)
{
	return k == HANDOFF_FUTEX     ? "futex"
	       : k == HANDOFF_EVENTFD ? "eventfd"
	                              : "condvar";
}

static inline enum handoff_kind
handoff_default(void)
{
	const char *e = getenv("BENCH_HW_REARM");

	if (e && strcmp(e, "eventfd") == 0)
		return HANDOFF_EVENTFD;
	if (e && strcmp(e, "condvar") == 0)
		return HANDOFF_CONDVAR;
	return HANDOFF_FUTEX;
}

static inline int
handoff_init(struct handoff *h, enum handoff_kind kind)
{
	h->kind = kind;
	atomic_init(&h->state, 0);
	h->efd = -1;
	h->posted = 0;
	if (kind == HANDOFF_EVENTFD) {
		h->efd = efd_open_blocking();
		return h->efd < 0 ? -1 : 0;
	}
	if (kind == HANDOFF_CONDVAR) {
		pthread_mutex_init(&h->lock, NULL);
		pthread_cond_init(&h->cond, NULL);
	}
	return 0;
}

static inline void
handoff_destroy(struct handoff *h)
{
	if (h->kind == HANDOFF_EVENTFD && h->efd >= 0)
		close(h->efd);
	if (h->kind == HANDOFF_CONDVAR) {
		pthread_cond_destroy(&h->cond);
		pthread_mutex_destroy(&h->lock);
	}
}

static inline void
handoff_post(struct handoff *h)
{
	switch (h->kind) {
	case HANDOFF_FUTEX:
		/* Only enter the kernel when the other side sleeps. */
		if (atomic_exchange(&h->state, 1) == 2)
			syscall(SYS_futex, &h->state, FUTEX_WAKE_PRIVATE, 1,
			        NULL, NULL, 0);
		break;
	case HANDOFF_EVENTFD:
		efd_signal(h->efd);
		break;
	case HANDOFF_CONDVAR:
		pthread_mutex_lock(&h->lock);
		h->posted = 1;
		pthread_cond_signal(&h->cond);
		pthread_mutex_unlock(&h->lock);
		break;
	}
}

/* Blocks until posted, and consumes the post.  One waiter only. */
static inline void
handoff_wait(struct handoff *h)
{
	switch (h->kind) {
	case HANDOFF_FUTEX:
		for (;;) {
			int v = atomic_load(&h->state);
			if (v == 1) {
				atomic_store(&h->state, 0);
				return;
			}
			if (v == 0 &&
			    !atomic_compare_exchange_strong(&h->state, &v, 2))
				continue; /* posted meanwhile */
			syscall(SYS_futex, &h->state, FUTEX_WAIT_PRIVATE, 2,
			        NULL, NULL, 0);
		}
	case HANDOFF_EVENTFD:
		efd_wait(h->efd);
		break;
	case HANDOFF_CONDVAR:
		pthread_mutex_lock(&h->lock);
		while (!h->posted)
			pthread_cond_wait(&h->cond, &h->lock);
		h->posted = 0;
		pthread_mutex_unlock(&h->lock);
		break;
	}
}

/* ---- the hand-written waiter thread ---------------------------------------
 * The split wait done by hand, as lean as it gets: each time it is posted,
 * a dedicated thread blocks in epoll_wait(ep, evs, max), publishes the
 * result and signals the owner through an eventfd (the primitive the
 * split-wait rows use for their ready callback).  The owner re-arms it
 * through a struct handoff (BENCH_HW_REARM picks the primitive).
 */
#include <sys/epoll.h>

struct hw_waiter {
	int ep, max, efd;
	struct epoll_event *evs;
	struct handoff go;
	pthread_t thread;
	int started;
	atomic_int stop;
	int n, err;       /* the last epoll_wait: count, errno */
	const char *what; /* what failed, with err, after a -1 */
};

static inline void *
hw_waiter_main(void *arg)
{
	struct hw_waiter *w = arg;

	for (;;) {
		int n;

		handoff_wait(&w->go);
		if (atomic_load(&w->stop))
			break;
		do
			n = epoll_wait(w->ep, w->evs, w->max, -1);
		while (n < 0 && errno == EINTR);
		w->err = n < 0 ? errno : 0;
		w->n = n;
		efd_signal(w->efd); /* a release: the owner reads n after it */
	}
	return NULL;
}

/* Starts the thread for an epoll set the caller owns.  0, or -1 with
 * w->what and w->err saying what failed. */
static inline int
hw_waiter_start(struct hw_waiter *w, int ep, struct epoll_event *evs, int max)
{
	int rc;

	w->ep = ep;
	w->evs = evs;
	w->max = max;
	w->started = 0;
	atomic_init(&w->stop, 0);
	if (handoff_init(&w->go, handoff_default()) < 0) {
		w->what = "handoff", w->err = errno;
		return -1;
	}
	if ((w->efd = efd_open_blocking()) < 0) {
		w->what = "eventfd", w->err = errno;
		handoff_destroy(&w->go);
		return -1;
	}
	if ((rc = pthread_create(&w->thread, NULL, hw_waiter_main, w)) != 0) {
		w->what = "pthread_create", w->err = rc;
		handoff_destroy(&w->go);
		close(w->efd);
		return -1;
	}
	w->started = 1;
	return 0;
}

/* One wait by the thread: the number of events, or -1 with w->what and
 * w->err saying what failed. */
static inline int
hw_waiter_wait(struct hw_waiter *w)
{
	handoff_post(&w->go);
	if (efd_wait(w->efd) < 0) {
		w->what = "eventfd", w->err = errno;
		return -1;
	}
	if (w->n < 0)
		w->what = "epoll_wait";
	return w->n;
}

/* Stops and joins the thread; the epoll set stays the caller's. */
static inline void
hw_waiter_stop(struct hw_waiter *w)
{
	if (!w->started)
		return;
	atomic_store(&w->stop, 1);
	handoff_post(&w->go);
	pthread_join(w->thread, NULL);
	handoff_destroy(&w->go);
	close(w->efd);
	w->started = 0;
}

#endif /* BENCH_HANDOFF_H */
