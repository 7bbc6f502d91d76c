/* sync.h - the one-waiter "park" used to hand a split wait to the waiter
 * thread.
 *
 * gp__park_post() wakes the thread blocked in gp__park_wait(), or, if none
 * is blocked yet, makes its next gp__park_wait() return at once.  Posts do
 * not count: two posts before a wait are one.  On Linux it is a bare futex
 * word that enters the kernel only when the other side sleeps (one system
 * call per hand-off instead of the condition variable's two or three); on
 * Windows an auto-reset event (which has exactly these semantics); elsewhere
 * a mutex and a condition variable.  The post is a release and
 * the wait an acquire: what the poster wrote before posting is visible to
 * the waiter after it returns.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef GP_SYNC_H
#define GP_SYNC_H

#include "config.h"

#include <stdatomic.h>

#if defined(_WIN32)
#define GP_PARK_EVENT 1
#include "platform.h"
#elif defined(HAVE_LINUX_FUTEX_H) && defined(HAVE_SYS_SYSCALL_H)
#define GP_PARK_FUTEX 1
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#else
#include <pthread.h>
#endif

enum { GP_PARK_IDLE, GP_PARK_POSTED, GP_PARK_SLEEPING };

typedef struct gp_park {
	atomic_int state; /* GP_PARK_* */
#if defined(GP_PARK_EVENT)
	HANDLE event; /* auto-reset: a post sets it, a wait consumes it */
#elif !defined(GP_PARK_FUTEX)
	pthread_mutex_t lock;
	pthread_cond_t cond;
#endif
} gp_park;

static inline int
gp__park_init(gp_park *k)
{
	atomic_init(&k->state, GP_PARK_IDLE);
#if defined(GP_PARK_EVENT)
	k->event = CreateEventW(NULL, FALSE, FALSE, NULL);
	if (!k->event)
		return -1;
#elif !defined(GP_PARK_FUTEX)
	if (pthread_mutex_init(&k->lock, NULL) != 0)
		return -1;
	if (pthread_cond_init(&k->cond, NULL) != 0) {
		pthread_mutex_destroy(&k->lock);
		return -1;
	}
#endif
	return 0;
}

static inline void
gp__park_destroy(gp_park *k)
{
#if defined(GP_PARK_EVENT)
	CloseHandle(k->event);
#elif !defined(GP_PARK_FUTEX)
	pthread_cond_destroy(&k->cond);
	pthread_mutex_destroy(&k->lock);
#else
	(void)k;
#endif
}

static inline void
gp__park_post(gp_park *k)
{
#if defined(GP_PARK_EVENT)
	SetEvent(k->event); /* a full barrier */
#elif defined(GP_PARK_FUTEX)
	if (atomic_exchange(&k->state, GP_PARK_POSTED) == GP_PARK_SLEEPING)
		syscall(SYS_futex, &k->state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL,
		        0);
#else
	pthread_mutex_lock(&k->lock);
	atomic_store(&k->state, GP_PARK_POSTED);
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
#endif
}

static inline void
gp__park_wait(gp_park *k)
{
#if defined(GP_PARK_EVENT)
	WaitForSingleObject(k->event, INFINITE);
#elif defined(GP_PARK_FUTEX)
	for (;;) {
		int v = GP_PARK_POSTED;

		if (atomic_compare_exchange_strong(&k->state, &v, GP_PARK_IDLE))
			return;
		if (v == GP_PARK_IDLE &&
		    !atomic_compare_exchange_strong(&k->state, &v,
		                                    GP_PARK_SLEEPING))
			continue; /* posted meanwhile */
		/* Returns at once if the word is no longer SLEEPING; EINTR
		 * and spurious wake-ups just go round again. */
		syscall(SYS_futex, &k->state, FUTEX_WAIT_PRIVATE,
		        GP_PARK_SLEEPING, NULL, NULL, 0);
	}
#else
	pthread_mutex_lock(&k->lock);
	while (atomic_load(&k->state) != GP_PARK_POSTED)
		pthread_cond_wait(&k->cond, &k->lock);
	atomic_store(&k->state, GP_PARK_IDLE);
	pthread_mutex_unlock(&k->lock);
#endif
}

#endif /* GP_SYNC_H */
