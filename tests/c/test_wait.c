/* test_wait.c - gp_wait timeouts, gp_notify (threads, signal handlers,
 * coalescing) and EINTR.
 *
 * Timing checks: a wait must never return 0 before its timeout (checked
 * strictly), and must not take absurdly long (checked generously, < 5 s).
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _GNU_SOURCE

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#ifndef _WIN32
#include <signal.h>
#include <unistd.h>
#endif

#include "testutil.h"

#ifdef __linux__
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#endif

#define LATE TU_MS(5000) /* "returned at all" bound */

/* gp_wait with a timeout and nothing ready: returns 0, not early.  With
 * fn, fn(arg) runs on another thread delay_ms into the wait (and must not
 * end it). */
static void
check_timeout_during(gp_poller *p, int64_t timeout_ns, int delay_ms,
                     tu_action fn, void *arg)
{
	gp_event ev[4];
	int64_t t0 = tu_now_ns(), dt;
	int r;

	if (fn) {
		r = tu_wait_during(p, ev, 4, timeout_ns, delay_ms, fn, arg,
		                   &dt);
	} else {
		r = gp_wait(p, ev, 4, timeout_ns);
		dt = tu_now_ns() - t0;
	}
	ck_assert_int_eq(r, 0);
	ck_assert_msg(dt >= timeout_ns,
	              "timeout %lld ns returned after %lld ns (early)",
	              (long long)timeout_ns, (long long)dt);
	ck_assert_msg(dt < timeout_ns + LATE, "timeout %lld ns took %lld ns",
	              (long long)timeout_ns, (long long)dt);
}

START_TEST(test_timeout_zero)
{
	gp_poller *p = tu_new();
	tu_fd fds[2];
	gp_event ev[4];
	int64_t t0;

	/* Empty poller. */
	t0 = tu_now_ns();
	ck_assert_int_eq(gp_wait(p, ev, 4, 0), 0);
	ck_assert_int_lt(tu_now_ns() - t0, TU_MS(1000));
	/* With a registration that is not ready. */
	tu_pipe(fds);
	ck_assert_int_eq(gp_add(p, fds[0], GP_READ, NULL), 0);
	t0 = tu_now_ns();
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(gp_wait(p, ev, 4, 0), 0);
	ck_assert_int_lt(tu_now_ns() - t0, TU_MS(2000));
	ck_assert_int_eq(gp_remove(p, fds[0]), 0);
	tu_close_pair(fds);
	gp_poller_free(p);
}
END_TEST

/* Short timeouts, including sub-millisecond parts that must round up. */
START_TEST(test_timeout_short)
{
	static const int64_t timeouts[] = {
	        TU_MS(20), 1500000, 1, 999999, 1000001, TU_MS(50), 250000,
	};
	gp_poller *p = tu_new();
	tu_fd fds[2];

	for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++)
		check_timeout_during(p, timeouts[i], 0, NULL, NULL);
	tu_pipe(fds);
	ck_assert_int_eq(gp_add(p, fds[0], GP_READ, NULL), 0);
	ck_assert_int_eq(gp_add(p, fds[1], GP_READ, NULL), 0);
	for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++)
		check_timeout_during(p, timeouts[i], 0, NULL, NULL);
	ck_assert_int_eq(gp_remove(p, fds[0]), 0);
	ck_assert_int_eq(gp_remove(p, fds[1]), 0);
	tu_close_pair(fds);
	gp_poller_free(p);
}
END_TEST

/* A huge finite timeout is not treated as 0 or as an error. */
START_TEST(test_timeout_huge)
{
	static const int64_t timeouts[] = {INT64_MAX, (int64_t)1 << 40,
	                                   INT64_MIN};
	gp_poller *p = tu_new();
	gp_event ev[4];
	int64_t dt;

	for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
		ck_assert_int_eq(tu_wait_during(p, ev, 4, timeouts[i], 50,
		                                tu_act_notify, p, &dt),
		                 1);
		TU_ASSERT_NOTIFIED(ev[0]);
		ck_assert_int_ge(dt, TU_MS(50));
	}
	gp_poller_free(p);
}
END_TEST

/* A long timeout ends when an event comes. */
START_TEST(test_event_ends_timed_wait)
{
	gp_poller *p = tu_new();
	tu_fd fds[2];
	gp_event ev[4];
	int64_t dt;

	tu_pipe(fds);
	ck_assert_int_eq(gp_add(p, fds[0], GP_READ, TU_TAG(1)), 0);
	ck_assert_int_eq(tu_wait_during(p, ev, 4, TU_MS(10000), 50,
	                                tu_act_write1, &fds[1], &dt),
	                 1);
	TU_ASSERT_EVENT(ev[0], TU_TAG(1), fds[0], GP_READ);
	ck_assert_int_ge(dt, TU_MS(50));
	ck_assert_int_lt(dt, LATE);
	ck_assert_int_eq(gp_remove(p, fds[0]), 0);
	tu_close_pair(fds);
	gp_poller_free(p);
}
END_TEST

/* An infinite wait ended by gp_notify from another thread. */
START_TEST(test_notify_other_thread)
{
	gp_poller *p = tu_new();
	tu_fd fds[2];
	gp_event ev[4];
	int64_t dt;

	tu_pipe(fds);
	ck_assert_int_eq(gp_add(p, fds[0], GP_READ, TU_TAG(1)), 0);
	memset(ev, 0xff, sizeof ev);
	ck_assert_int_eq(
	        tu_wait_during(p, ev, 4, -1, 50, tu_act_notify, p, &dt), 1);
	TU_ASSERT_NOTIFIED(ev[0]);
	ck_assert_int_ge(dt, TU_MS(50));
	ck_assert_int_lt(dt, LATE);
	/* Consumed. */
	ck_assert_int_eq(gp_wait(p, ev, 4, 0), 0);
	ck_assert_int_eq(gp_wait(p, ev, 4, TU_MS(10)), 0);
	ck_assert_int_eq(gp_remove(p, fds[0]), 0);
	tu_close_pair(fds);
	gp_poller_free(p);
}
END_TEST

/* A notify with nobody waiting is remembered by the next wait. */
START_TEST(test_notify_before_wait)
{
	gp_poller *p = tu_new();
	gp_event ev[4];
	int64_t t0;

	ck_assert_int_eq(gp_notify(p), 0);
	t0 = tu_now_ns();
	ck_assert_int_eq(gp_wait(p, ev, 4, TU_MS(10000)), 1);
	ck_assert_int_lt(tu_now_ns() - t0, LATE);
	TU_ASSERT_NOTIFIED(ev[0]);
	ck_assert_int_eq(gp_wait(p, ev, 4, 0), 0);
	/* Also with timeout 0 and with an infinite timeout. */
	ck_assert_int_eq(gp_notify(p), 0);
	ck_assert_int_eq(gp_wait(p, ev, 4, 0), 1);
	TU_ASSERT_NOTIFIED(ev[0]);
	ck_assert_int_eq(gp_notify(p), 0);
	{
		tu_after wd;
		tu_watchdog_start(&wd, p);
		ck_assert_int_eq(gp_wait(p, ev, 4, -1), 1);
		ck_assert_int_eq(tu_after_stop(&wd), 0);
	}
	TU_ASSERT_NOTIFIED(ev[0]);
	ck_assert_int_eq(gp_wait(p, ev, 4, 0), 0);
	gp_poller_free(p);
}
END_TEST

/* A notify on p with two ready registrations: a[0] for GP_READ (data
 * TU_TAG(1)) and b[1] for GP_WRITE (data TU_TAG(2)). */
static void
notify_two_ready(gp_poller *p, tu_fd a[2], tu_fd b[2])
{
	tu_pipe(a);
	tu_pipe(b);
	ck_assert_int_eq(gp_add(p, a[0], GP_READ, TU_TAG(1)), 0);
	ck_assert_int_eq(gp_add(p, b[1], GP_WRITE, TU_TAG(2)), 0);
	tu_write1(a[1]);
	ck_assert_int_eq(gp_notify(p), 0);
}

static void
close_two_ready(gp_poller *p, const tu_fd a[2], const tu_fd b[2])
{
	ck_assert_int_eq(gp_remove(p, a[0]), 0);
	ck_assert_int_eq(gp_remove(p, b[1]), 0);
	tu_close_pair(a);
	tu_close_pair(b);
	gp_poller_free(p);
}

/* The GP_NOTIFIED record comes first, followed by what is ready. */
START_TEST(test_notify_first_with_events)
{
	gp_poller *p = tu_new();
	tu_fd a[2], b[2];
	gp_event ev[8];

	notify_two_ready(p, a, b);
	ck_assert_int_eq(gp_wait(p, ev, 8, TU_MS(10000)), 3);
	TU_ASSERT_NOTIFIED(ev[0]);
	ck_assert_int_ge(tu_find_data(ev + 1, 2, TU_TAG(1)), 0);
	ck_assert_int_ge(tu_find_data(ev + 1, 2, TU_TAG(2)), 0);
	ck_assert_int_eq(gp_wait(p, ev, 8, 0), 2);
	ck_assert_int_eq(tu_find_data(ev, 2, NULL), -1);
	close_two_ready(p, a, b);
}
END_TEST

/* A remembered notify with max = 1 and ready registrations: the
 * GP_NOTIFIED record is the first record of the batch, so it comes alone
 * ("the next wait returns at once with the GP_NOTIFIED record"), and the
 * ready ones follow in the next waits. */
START_TEST(test_notify_first_max1)
{
	gp_poller *p = tu_new();
	tu_fd a[2], b[2];
	gp_event ev[8];

	notify_two_ready(p, a, b);
	ck_assert_int_eq(gp_wait(p, ev, 1, 0), 1);
	TU_ASSERT_NOTIFIED(ev[0]);
	/* Level: both ready registrations keep coming (a wait need not
	 * return all of them at once), and no second notify record. */
	{
		int seen1 = 0, seen2 = 0;
		for (int k = 0; k < 3 && !(seen1 && seen2); k++) {
			int n = gp_wait(p, ev, 8, 0);
			ck_assert_int_ge(n, 1);
			ck_assert_int_eq(tu_find_data(ev, n, NULL), -1);
			seen1 |= tu_find_data(ev, n, TU_TAG(1)) >= 0;
			seen2 |= tu_find_data(ev, n, TU_TAG(2)) >= 0;
		}
		ck_assert(seen1 && seen2);
	}
	/* Same with oneshot registrations: nothing may be lost. */
	ck_assert_int_eq(gp_modify(p, a[0], GP_READ | GP_ONESHOT, TU_TAG(3)),
	                 0);
	ck_assert_int_eq(gp_modify(p, b[1], GP_WRITE | GP_ONESHOT, TU_TAG(4)),
	                 0);
	ck_assert_int_eq(gp_notify(p), 0);
	ck_assert_int_eq(gp_wait(p, ev, 1, 0), 1);
	TU_ASSERT_NOTIFIED(ev[0]);
	ck_assert_int_eq(gp_wait(p, ev, 1, 0), 1);
	ck_assert_int_eq(gp_wait(p, ev + 1, 1, 0), 1);
	ck_assert_int_eq(gp_wait(p, ev + 2, 8, 0), 0);
	ck_assert_int_ge(tu_find_data(ev, 2, TU_TAG(3)), 0);
	ck_assert_int_ge(tu_find_data(ev, 2, TU_TAG(4)), 0);
	close_two_ready(p, a, b);
}
END_TEST

/* A poll (timeout 0) with a level registration that stays readable must
 * report it every time, also right after a notify was delivered with a
 * small array or a small max_events (the wake-up descriptor must not take
 * the only kernel slot and make the wait return 0).  max_events is 256 or
 * 1; the fd becomes ready before or after the notify (order 0 or 1).  A
 * plain wait (split 0) takes `max` records; a split wait (split 1) is
 * started with timeout 0 and collects up to 4. */
static void
poll_after_notify(int max_events, int split, int max, int order)
{
	gp_poller *p = tu_new_max(max_events);
	tu_ready r;
	tu_fd fds[2];
	int notified = 0, n;
	gp_event ev[4];

	tu_ready_init(&r);
	tu_pipe(fds);
	ck_assert_int_eq(gp_add(p, fds[0], GP_READ, TU_TAG(1)), 0);
	if (order == 0)
		tu_write1(fds[1]);
	ck_assert_int_eq(gp_notify(p), 0);
	if (order == 1)
		tu_write1(fds[1]);
	for (int k = 0; k < 4; k++) {
		if (split) {
			tu_start_await(p, 0, &r, k + 1);
			n = gp_wait_collect(p, ev, 4);
		} else {
			n = gp_wait(p, ev, max, 0);
		}
		ck_assert_msg(n >= 1,
		              "split %d max %d order %d wait %d: %d although "
		              "the fd is readable",
		              split, max, order, k, n);
		for (int j = 0; j < n; j++) {
			if (ev[j].events == GP_NOTIFIED) {
				ck_assert_int_eq(j, 0);
				notified++;
			} else {
				ck_assert_ptr_eq(ev[j].data, TU_TAG(1));
			}
		}
		if (split)
			ck_assert_int_eq(gp_wait_collect(p, ev, 4), 0);
	}
	ck_assert_int_eq(notified, 1);
	ck_assert_int_eq(gp_remove(p, fds[0]), 0);
	tu_close_pair(fds);
	gp_poller_free(p);
	tu_ready_destroy(&r);
}

/* _i picks max_events (256 or 1); the loop covers max 1..3 and both
 * orders. */
START_TEST(test_poll_after_notify_small_max)
{
	for (int max = 1; max <= 3; max++)
		for (int order = 0; order < 2; order++)
			poll_after_notify(_i == 0 ? 256 : 1, 0, max, order);
}
END_TEST

/* The same through split waits with timeout 0. */
START_TEST(test_split_poll_after_notify)
{
	for (int order = 0; order < 2; order++)
		poll_after_notify(_i == 0 ? 256 : 1, 1, 4, order);
}
END_TEST

/* Many notifies before a wait: one GP_NOTIFIED record. */
START_TEST(test_notify_coalesced)
{
	gp_poller *p = tu_new();
	gp_event ev[8];
	int n;

	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(gp_notify(p), 0);
	n = gp_wait(p, ev, 8, TU_MS(10000));
	ck_assert_int_eq(n, 1);
	TU_ASSERT_NOTIFIED(ev[0]);
	ck_assert_int_eq(gp_wait(p, ev, 8, 0), 0);
	ck_assert_int_eq(gp_wait(p, ev, 8, TU_MS(20)), 0);
	/* Again, a second round. */
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(gp_notify(p), 0);
	ck_assert_int_eq(gp_wait(p, ev, 8, 0), 1);
	TU_ASSERT_NOTIFIED(ev[0]);
	ck_assert_int_eq(gp_wait(p, ev, 8, 0), 0);
	gp_poller_free(p);
}
END_TEST

/* Notifies from several threads at once while a wait blocks: the wait
 * ends with a GP_NOTIFIED record, and the flood leaves at most one more
 * record behind. */
struct flood {
	gp_poller *p;
	atomic_int stop;
};

static void *
flood_main(void *arg)
{
	struct flood *f = arg;

	while (!atomic_load(&f->stop))
		gp_notify(f->p);
	return NULL;
}

START_TEST(test_notify_flood)
{
	struct flood f;
	tu_thread th[2];
	gp_event ev[8];
	int n, total = 0;

	f.p = tu_new();
	atomic_init(&f.stop, 0);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(tu_thread_start(&th[i], flood_main, &f), 0);
	for (int k = 0; k < 200; k++) {
		n = gp_wait(f.p, ev, 8, TU_MS(10000));
		ck_assert_int_eq(n, 1);
		TU_ASSERT_NOTIFIED(ev[0]);
		total++;
	}
	atomic_store(&f.stop, 1);
	for (int i = 0; i < 2; i++)
		tu_thread_join(th[i]);
	tu_expect_notify_leftover(f.p);
	ck_assert_int_eq(total, 200);
	gp_poller_free(f.p);
}
END_TEST

#ifndef TU_WINDOWS
/* ---- signals ------------------------------------------------------------- */

static gp_poller *sig_poller;
static volatile sig_atomic_t sig_count;
static volatile sig_atomic_t sig_notify_rc;

static void
notify_handler(int sig)
{
	(void)sig;
	sig_notify_rc = gp_notify(sig_poller);
	sig_count++;
}

static void
count_handler(int sig)
{
	(void)sig;
	sig_count++;
}

static void
set_handler(int sig, void (*fn)(int), struct sigaction *old)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART */
	ck_assert_int_eq(sigaction(sig, &sa, old), 0);
}

/* gp_notify is async-signal-safe: called from a handler it wakes the
 * next wait. */
START_TEST(test_notify_from_signal_handler)
{
	struct sigaction old;
	gp_event ev[4];
	int64_t t0;

	sig_poller = tu_new();
	sig_count = 0;
	sig_notify_rc = -100;
	set_handler(SIGUSR1, notify_handler, &old);
	ck_assert_int_eq(raise(SIGUSR1), 0);
	ck_assert_int_eq(sig_count, 1);
	ck_assert_int_eq(sig_notify_rc, 0);
	t0 = tu_now_ns();
	ck_assert_int_eq(gp_wait(sig_poller, ev, 4, TU_MS(10000)), 1);
	ck_assert_int_lt(tu_now_ns() - t0, LATE);
	TU_ASSERT_NOTIFIED(ev[0]);
	ck_assert_int_eq(gp_wait(sig_poller, ev, 4, 0), 0);
	ck_assert_int_eq(sigaction(SIGUSR1, &old, NULL), 0);
	gp_poller_free(sig_poller);
	sig_poller = NULL;
}
END_TEST

/* A thread that signals a target thread every 20 ms until stopped, so a
 * signal sent just before the target blocks is followed by another. */
struct pester {
	gp_poller *p;
	pthread_t target;
	int sig;
	atomic_int stop;
	atomic_int sent;
};

static void *
pester_main(void *arg)
{
	struct pester *ps = arg;

	int64_t give_up = tu_now_ns() + TU_MS(TU_PATIENCE_MS);

	tu_sleep_ms(50);
	while (!atomic_load(&ps->stop)) {
		if (tu_now_ns() > give_up) {
			/* The wait ignores signals: end it so the test fails
			 * instead of hanging. */
			gp_notify(ps->p);
			break;
		}
		pthread_kill(ps->target, ps->sig);
		atomic_fetch_add(&ps->sent, 1);
		tu_sleep_ms(20);
	}
	return NULL;
}

/* A signal interrupting the wait: GP_EINTR, not retried, not 0. */
START_TEST(test_eintr)
{
	struct sigaction old;
	struct pester ps;
	pthread_t th;
	gp_poller *p = tu_new();
	gp_event ev[4];
	tu_fd fds[2];
	int r;
	int64_t t0, dt;

	tu_pipe(fds);
	ck_assert_int_eq(gp_add(p, fds[0], GP_READ, NULL), 0);
	sig_count = 0;
	set_handler(SIGUSR2, count_handler, &old);
	ps.p = p;
	ps.target = pthread_self();
	ps.sig = SIGUSR2;
	atomic_init(&ps.stop, 0);
	atomic_init(&ps.sent, 0);
	ck_assert_int_eq(pthread_create(&th, NULL, pester_main, &ps), 0);
	t0 = tu_now_ns();
	r = gp_wait(p, ev, 4, _i == 0 ? -1 : TU_MS(10000));
	dt = tu_now_ns() - t0;
	atomic_store(&ps.stop, 1);
	pthread_join(th, NULL);
	ck_assert_int_eq(sigaction(SIGUSR2, &old, NULL), 0);
	ck_assert_msg(r == GP_EINTR, "gp_wait returned %d (%s)", r,
	              gp_strerror(r));
	ck_assert_int_ge(sig_count, 1);
	ck_assert_int_lt(dt, LATE);
	/* The poller still works. */
	tu_write1(fds[1]);
	ck_assert_int_eq(gp_wait(p, ev, 4, 0), 1);
	ck_assert_int_eq(gp_remove(p, fds[0]), 0);
	tu_close_pair(fds);
	gp_poller_free(p);
}
END_TEST
#else
TU_POSIX_ONLY_TEST(test_notify_from_signal_handler, "signals")
TU_POSIX_ONLY_TEST(test_eintr, "signals and EINTR")
#endif

/* ---- remaining time across internal wakeups ---------------------------- */

struct churn {
	gp_poller *p;
	tu_fd fds[2];
	tu_fd sv[2];
	int rc[6];
};

/* Registration changes while the owner waits; none makes anything
 * ready. */
static void
act_churn(void *arg)
{
	struct churn *c = arg;

	c->rc[0] = gp_add(c->p, c->fds[0], GP_READ, TU_TAG(1));
	tu_sleep_ms(20);
	c->rc[1] = gp_modify(c->p, c->fds[0], GP_READ | GP_ONESHOT, TU_TAG(2));
	tu_sleep_ms(20);
	c->rc[2] = gp_add(c->p, c->sv[0], GP_READ, TU_TAG(3));
	tu_sleep_ms(20);
	c->rc[3] = gp_remove(c->p, c->fds[0]);
	tu_sleep_ms(20);
	c->rc[4] = gp_modify(c->p, c->sv[0], GP_READ, TU_TAG(4));
	c->rc[5] = gp_remove(c->p, c->sv[0]);
}

/* Another thread changes registrations during a 200 ms wait (poll wakes
 * and resyncs): the wait still lasts >= 200 ms and returns 0. */
START_TEST(test_remaining_time)
{
	struct churn c;

	memset(&c, 0, sizeof c);
	c.p = tu_new();
	tu_pipe(c.fds);
	tu_socketpair(c.sv);
	check_timeout_during(c.p, TU_MS(200), 30, act_churn, &c);
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(c.rc[i], 0);
	tu_close_pair(c.fds);
	tu_close_pair(c.sv);
	gp_poller_free(c.p);
}
END_TEST

/* One add of a non-ready fd in the middle of a wait. */
struct add1 {
	gp_poller *p;
	tu_fd fd;
	int rc;
};

static void
act_add1(void *arg)
{
	struct add1 *x = arg;

	x->rc = gp_add(x->p, x->fd, GP_READ, TU_TAG(9));
}

START_TEST(test_remaining_time_single_add)
{
	struct add1 x;
	tu_fd fds[2];

	x.p = tu_new();
	tu_pipe(fds);
	x.fd = fds[0];
	x.rc = -100;
	check_timeout_during(x.p, TU_MS(200), 100, act_add1, &x);
	ck_assert_int_eq(x.rc, 0);
	ck_assert_int_eq(gp_remove(x.p, fds[0]), 0);
	tu_close_pair(fds);
	gp_poller_free(x.p);
}
END_TEST

/* ---- epoll_pwait2 and its fallback (Linux) ------------------------------ */

#ifdef __linux__
/* The number backend_epoll.c calls epoll_pwait2 by (same rule). */
#if defined(SYS_epoll_pwait2)
#define TU_NR_EPOLL_PWAIT2 SYS_epoll_pwait2
#elif defined(__NR_epoll_pwait2)
#define TU_NR_EPOLL_PWAIT2 __NR_epoll_pwait2
#elif (defined(__x86_64__) && !defined(__ILP32__)) || defined(__aarch64__)
#define TU_NR_EPOLL_PWAIT2 441
#endif
#endif

#if defined(__linux__) && defined(TU_NR_EPOLL_PWAIT2)
/* Exit codes of the child of test_epoll_pwait2_paths. */
enum {
	PW_OK = 0,
	PW_SKIP_SECCOMP = 77, /* no seccomp filters here */
	PW_SKIP_KERNEL = 78,  /* the kernel has no epoll_pwait2 */
	PW_FILTER = 10,       /* the filter did not act as installed */
	PW_POLLER = 11,
	PW_TIMEOUT = 12, /* a timed wait gave events, or returned early */
	PW_EVENT = 13,   /* a ready pipe was not reported */
};

/* Installs a seccomp filter under which the system calls nrs[0..n-1]
 * fail with errno err; every other call is allowed.  0 or -1. */
static int
pw_block(const long *nrs, int n, int err)
{
	struct sock_filter f[8];
	struct sock_fprog prog;
	int k = 0;

	f[k++] = (struct sock_filter)BPF_STMT(
	        BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	for (int i = 0; i < n; i++)
		f[k++] = (struct sock_filter)BPF_JUMP(
		        BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nrs[i],
		        (unsigned char)(n - i), 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	                                      SECCOMP_RET_ALLOW);
	f[k++] = (struct sock_filter)BPF_STMT(
	        BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & 0xffff));
	prog.len = (unsigned short)k;
	prog.filter = f;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

/* One timed wait with nothing ready: 0 records, not early. */
static int
pw_timed_wait_ok(gp_poller *p, int64_t ns)
{
	gp_event ev[4];
	int64_t t0 = tu_now_ns();

	return gp_wait(p, ev, 4, ns) == 0 && tu_now_ns() - t0 >= ns;
}

/* The child's part: blocks system calls as _i says, checks that the
 * filter acts, then that timed waits with a sub-millisecond part (the
 * ones the epoll backend sends to epoll_pwait2) and a ready pipe work.
 * Returns a PW_ exit code. */
static int
pw_child(int variant)
{
	long nrs[2];
	int n = 0, err, pfd[2];
	gp_poller *p;
	gp_event ev[4];
	int rc = PW_OK;

	/* The kernel has epoll_pwait2 if it answers EBADF for fd -1.  Where
	 * it answers ENOSYS (an old kernel, or valgrind, which does not pass
	 * the call on), only the ENOSYS case can be checked: a filter's EPERM
	 * would not be seen under valgrind, and case 2 needs the call. */
	errno = 0;
	if (syscall(TU_NR_EPOLL_PWAIT2, -1, NULL, 1, NULL, NULL, 0) == -1 &&
	    errno == ENOSYS && variant != 0)
		return PW_SKIP_KERNEL;
	if (variant < 2) {
		/* 0: a kernel without it (ENOSYS); 1: a seccomp profile
		 * that denies unknown calls (EPERM, Docker's default). */
		err = variant == 0 ? ENOSYS : EPERM;
		nrs[n++] = TU_NR_EPOLL_PWAIT2;
	} else {
		/* 2: epoll_pwait2 is the only way left to wait with a
		 * timeout, so the syscall() path itself must work. */
		err = EPERM;
#ifdef SYS_epoll_wait
		nrs[n++] = SYS_epoll_wait;
#endif
		nrs[n++] = SYS_epoll_pwait;
	}
	if (pw_block(nrs, n, err) != 0)
		return PW_SKIP_SECCOMP;
	errno = 0;
	if (syscall(nrs[0], -1, NULL, 1, NULL, NULL, 0) != -1 || errno != err)
		return PW_FILTER;
	p = NULL;
	if (gp_poller_new(&p, NULL) != 0 || pipe(pfd) != 0)
		return PW_POLLER;
	if (strcmp(gp_poller_backend(p), "epoll") != 0) {
		rc = PW_POLLER;
		gp_poller_free(p);
		return rc;
	}
	if (gp_add(p, pfd[0], GP_READ, TU_TAG(1)) != 0)
		rc = PW_POLLER;
	/* Twice: the first may be the one that finds epoll_pwait2 gone. */
	else if (!pw_timed_wait_ok(p, 1500000) || !pw_timed_wait_ok(p, 250000))
		rc = PW_TIMEOUT;
	else if (write(pfd[1], "x", 1) != 1 ||
	         gp_wait(p, ev, 4, 2500000) != 1 || ev[0].data != TU_TAG(1))
		rc = PW_EVENT;
	gp_poller_free(p);
	close(pfd[0]);
	close(pfd[1]);
	return rc;
}

/* The epoll backend calls epoll_pwait2 through syscall() for timeouts
 * with a sub-millisecond part and falls back to epoll_wait (rounding up
 * to whole milliseconds) when the call fails with ENOSYS (a kernel before
 * 5.11) or EPERM (a seccomp profile).  Each case runs in a child process
 * under a seccomp filter (a filter cannot be removed):
 *   _i 0: epoll_pwait2 fails with ENOSYS, 1: with EPERM (the fallback);
 *   _i 2: epoll_wait and epoll_pwait fail, so timed waits can only
 *   succeed through the syscall() path (its number and its timespec). */
START_TEST(test_epoll_pwait2_paths)
{
	static const char *const what[] = {"epoll_pwait2 -> ENOSYS",
	                                   "epoll_pwait2 -> EPERM",
	                                   "epoll_wait, epoll_pwait -> EPERM"};
	int64_t deadline;
	int status;
	pid_t pid, r;

	if (!tu_is_epoll()) {
		tu_skip("test_epoll_pwait2_paths: epoll backend only (this "
		        "run: "
		        "%s)",
		        tu_backend);
		return;
	}
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(pw_child(_i));
	deadline = tu_now_ns() + TU_MS(TU_PATIENCE_MS);
	while ((r = waitpid(pid, &status, WNOHANG)) == 0 &&
	       tu_now_ns() < deadline)
		tu_sleep_ms(2);
	if (r == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		ck_abort_msg("%s: the child hung (a wait without end?)",
		             what[_i]);
	}
	ck_assert_int_eq(r, pid);
	ck_assert_msg(WIFEXITED(status), "%s: child status %#x", what[_i],
	              status);
	switch (WEXITSTATUS(status)) {
	case PW_SKIP_SECCOMP:
		tu_skip("test_epoll_pwait2_paths: %s: seccomp filters are not "
		        "available here",
		        what[_i]);
		return;
	case PW_SKIP_KERNEL:
		tu_skip("test_epoll_pwait2_paths: %s: no epoll_pwait2 here "
		        "(the kernel, or valgrind, answers ENOSYS)",
		        what[_i]);
		return;
	default:
		ck_assert_msg(WEXITSTATUS(status) == PW_OK,
		              "%s: child exit %d (see PW_ codes)", what[_i],
		              WEXITSTATUS(status));
	}
}
END_TEST
#else
START_TEST(test_epoll_pwait2_paths)
{
	tu_skip("test_epoll_pwait2_paths: Linux (epoll, seccomp) only");
}
END_TEST
#endif

Suite *
wait_suite(void)
{
	Suite *s = suite_create("wait");
	TCase *tc = tcase_create("timeouts");

	tcase_set_timeout(tc, TU_TIMEOUT);
	tcase_add_test(tc, test_timeout_zero);
	tcase_add_test(tc, test_timeout_short);
	tcase_add_test(tc, test_timeout_huge);
	tcase_add_test(tc, test_event_ends_timed_wait);
	tcase_add_test(tc, test_remaining_time);
	tcase_add_test(tc, test_remaining_time_single_add);
	tcase_add_loop_test(tc, test_epoll_pwait2_paths, 0, 3);
	suite_add_tcase(s, tc);

	tc = tcase_create("notify");
	tcase_set_timeout(tc, TU_TIMEOUT);
	tcase_add_test(tc, test_notify_other_thread);
	tcase_add_test(tc, test_notify_before_wait);
	tcase_add_test(tc, test_notify_first_with_events);
	tcase_add_test(tc, test_notify_first_max1);
	tcase_add_loop_test(tc, test_poll_after_notify_small_max, 0, 2);
	tcase_add_loop_test(tc, test_split_poll_after_notify, 0, 2);
	tcase_add_test(tc, test_notify_coalesced);
	tcase_add_test(tc, test_notify_flood);
	tcase_add_test(tc, test_notify_from_signal_handler);
	tcase_add_loop_test(tc, test_eintr, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
