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

#endif /* BENCH_HANDOFF_H */
