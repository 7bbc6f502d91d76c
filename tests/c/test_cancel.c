/* test_cancel.c - gp_wait_cancel and gp_wait_state: cancelling a split
 * wait from every state and thread, its races with the waiter thread and
 * with gp_notify, and gp_poller_free refused on the waiter thread.
 *
 * Interleavings are forced with synchronisation where they can be; where
 * they cannot (the waiter thread finishing its wait while the owner
 * cancels), loops run the race many times and every outcome is checked
 * against the contract: gp_wait_cancel returns GP_WAIT_INFLIGHT exactly
 * when the ready callback was not (and will not be) called for the wait.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _GNU_SOURCE

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

/* Notifies and starts a split wait with r2, and waits for that ready call:
 * the waiter thread runs one wait at a time, so once it has come, no ready
 * call of a wait started before it can still be pending. */
static void
flush_waiter(gp_poller *p, tu_ready *r2, int target)
{
	gp_event ev[8];

	ck_assert_int_eq(gp_notify(p), 0);
	tu_start(p, -1, r2);
	tu_await_ready(r2, target);
	/* The notification comes first; a ready descriptor may follow. */
	ck_assert_int_ge(gp_wait_collect(p, ev, 8), 1);
	TU_ASSERT_NOTIFIED(ev[0]);
	ck_assert_int_eq(gp_wait_collect(p, ev, 8), 0);
}

START_TEST(test_cancel_idle_and_invalid)
{
	gp_poller *p = tu_new();
	gp_event ev[4];

	ck_assert_int_eq(gp_wait_cancel(NULL), GP_EINVAL);
	ck_assert_int_eq(gp_wait_state(NULL), GP_EINVAL);
	/* No waiter thread yet. */
	ck_assert_int_eq(gp_wait_state(p), GP_WAIT_IDLE);
	ck_assert_int_eq(gp_wait_cancel(p), GP_WAIT_IDLE);
	ck_assert_int_eq(gp_wait_cancel(p), GP_WAIT_IDLE);
	ck_assert_int_eq(gp_wait_state(p), GP_WAIT_IDLE);
	/* A pending notification survives a cancel with nothing to do. */
	ck_assert_int_eq(gp_notify(p), 0);
	ck_assert_int_eq(gp_wait_cancel(p), GP_WAIT_IDLE);
	ck_assert_int_eq(gp_wait(p, ev, 4, 0), 1);
	TU_ASSERT_NOTIFIED(ev[0]);
	gp_poller_free(p);
}
END_TEST

/* In flight, nothing ready: the cancel ends the wait; ready is never
 * called for it; the poller is idle and works on. */
START_TEST(test_cancel_in_flight)
{
	gp_poller *p = tu_new();
	tu_ready r, r2;
	tu_fd fds[2];
	gp_event ev[4];
	int64_t t0;

	tu_ready_init(&r);
	tu_ready_init(&r2);
	tu_pipe(fds);
	ck_assert_int_eq(gp_add(p, fds[0], GP_READ, TU_TAG(1)), 0);
	for (int k = 0; k < 3; k++) {
		/* An infinite wait, and a long finite one. */
		tu_start(p, k == 1 ? TU_MS(60000) : -1, &r);
		ck_assert_int_eq(gp_wait_state(p), GP_WAIT_INFLIGHT);
		t0 = tu_now_ns();
		ck_assert_int_eq(gp_wait_cancel(p), GP_WAIT_INFLIGHT);
		ck_assert_int_lt(tu_now_ns() - t0, TU_MS(TU_PATIENCE_MS));
		ck_assert_int_eq(gp_wait_state(p), GP_WAIT_IDLE);
		ck_assert_int_eq(gp_wait_collect(p, ev, 4), 0);
		ck_assert_int_eq(gp_wait_cancel(p), GP_WAIT_IDLE);
	}
	/* Data arriving after the cancel is seen by the next wait. */
	tu_write1(fds[1]);
	ck_assert_int_eq(gp_wait(p, ev, 4, 0), 1);
	TU_ASSERT_EVENT(ev[0], TU_TAG(1), fds[0], GP_READ);
	flush_waiter(p, &r2, 1);
	ck_assert_int_eq(tu_ready_count(&r), 0);
	ck_assert_int_eq(gp_remove(p, fds[0]), 0);
	tu_close_pair(fds);
	gp_poller_free(p);
	tu_ready_destroy(&r);
	tu_ready_destroy(&r2);
}
END_TEST

/* Results ready: the cancel discards them (a level-triggered descriptor is
 * reported again by the next wait) and keeps the notification. */
START_TEST(test_cancel_ready_discards)
{
	gp_poller *p = tu_new();
	tu_ready r;
	tu_fd fds[2];
	gp_event ev[4];

	tu_ready_init(&r);
	tu_pipe(fds);
	ck_assert_int_eq(gp_add(p, fds[0], GP_READ, TU_TAG(1)), 0);
	tu_write1(fds[1]);
	tu_start_await(p, -1, &r, 1);
	ck_assert_int_eq(gp_wait_state(p), GP_WAIT_READY);
	ck_assert_int_eq(gp_wait_cancel(p), GP_WAIT_READY);
	ck_assert_int_eq(gp_wait_state(p), GP_WAIT_IDLE);
	ck_assert_int_eq(gp_wait_collect(p, ev, 4), 0);
	TU_EXPECT_ONE(p, fds[0], TU_TAG(1), GP_READ);

	/* Part collected, the rest discarded. */
	ck_assert_int_eq(gp_notify(p), 0);
	tu_start_await(p, -1, &r, 2);
	ck_assert_int_eq(gp_wait_collect(p, ev, 1), 1);
	TU_ASSERT_NOTIFIED(ev[0]);
	ck_assert_int_eq(gp_wait_state(p), GP_WAIT_READY);
	ck_assert_int_eq(gp_wait_cancel(p), GP_WAIT_READY);
	ck_assert_int_eq(gp_wait_collect(p, ev, 4), 0);
	/* The notification was collected: not reported twice. */
	TU_EXPECT_ONE(p, fds[0], TU_TAG(1), GP_READ);

	/* Not collected: the notification is kept for the next wait. */
	ck_assert_int_eq(gp_notify(p), 0);
	tu_start_await(p, -1, &r, 3);
	ck_assert_int_eq(gp_wait_cancel(p), GP_WAIT_READY);
	ck_assert_int_eq(gp_wait(p, ev, 4, 0), 2);
	TU_ASSERT_NOTIFIED(ev[0]);
	TU_ASSERT_EVENT(ev[1], TU_TAG(1), fds[0], GP_READ);

	/* The records of gp_wait_poll are discarded the same way. */
	ck_assert_int_eq(gp_wait_poll(p), 1);
	ck_assert_int_eq(gp_wait_state(p), GP_WAIT_READY);
	ck_assert_int_eq(gp_wait_cancel(p), GP_WAIT_READY);
	ck_assert_int_eq(gp_wait_collect(p, ev, 4), 0);
	ck_assert_int_eq(gp_wait_state(p), GP_WAIT_IDLE);
	ck_assert_int_eq(tu_ready_count(&r), 3);
	ck_assert_int_eq(gp_remove(p, fds[0]), 0);
	tu_close_pair(fds);
	gp_poller_free(p);
	tu_ready_destroy(&r);
}
END_TEST

/* ---- a ready callback that blocks until released ------------------------ */

typedef struct gate {
	tu_mutex mu;
	tu_cond cv;
	int entered, open, returned;
	int cancel_rc;     /* what the helper's gp_wait_cancel returned */
	int returned_seen; /* gate.returned when it did */
	gp_poller *p;
} gate;

static void
gate_cb(void *arg)
{
	gate *g = arg;

	tu_mutex_lock(&g->mu);
	g->entered++;
	tu_cond_broadcast(&g->cv);
	while (!g->open)
		tu_cond_wait_until(&g->cv, &g->mu,
		                   tu_now_ns() + TU_MS(TU_PATIENCE_MS));
	g->returned++;
	tu_mutex_unlock(&g->mu);
}

static void *
gate_cancel_thread(void *arg)
{
	gate *g = arg;
	int rc = gp_wait_cancel(g->p);

	tu_mutex_lock(&g->mu);
	g->cancel_rc = rc;
	g->returned_seen = g->returned;
	tu_mutex_unlock(&g->mu);
	return NULL;
}

/* A cancel from another thread returns only after the running ready
 * callback has returned - also when the callback belongs to a wait that
 * was already collected, and when a new wait was started meanwhile. */
START_TEST(test_cancel_waits_for_callback)
{
	gp_poller *p = tu_new();
	tu_ready r2;
	gp_event ev[4];
	gate g;

	memset(&g, 0, sizeof g);
	tu_sync_init(&g.mu, &g.cv);
	tu_ready_init(&r2);
	g.p = p;
	for (int k = 0; k < 3; k++) {
		tu_thread t;

		g.open = 0;
		ck_assert_int_eq(gp_notify(p), 0);
		ck_assert_int_eq(gp_wait_start(p, -1, gate_cb, &g), 0);
		tu_mutex_lock(&g.mu);
		while (g.entered < k + 1)
			ck_assert(tu_cond_wait_until(
			        &g.cv, &g.mu,
			        tu_now_ns() + TU_MS(TU_PATIENCE_MS)));
		tu_mutex_unlock(&g.mu);
		if (k >= 1) {
			ck_assert_int_eq(gp_wait_collect(p, ev, 4), 1);
			TU_ASSERT_NOTIFIED(ev[0]);
			ck_assert_int_eq(gp_wait_state(p), GP_WAIT_IDLE);
		}
		if (k == 2) /* not taken: the waiter is in the callback */
			tu_start(p, -1, &r2);
		ck_assert_int_eq(tu_thread_start(&t, gate_cancel_thread, &g),
		                 0);
		/* Give the helper time to block in gp_wait_cancel (the
		 * result holds either way). */
		tu_sleep_ms(20);
		tu_mutex_lock(&g.mu);
		g.open = 1;
		tu_cond_broadcast(&g.cv);
		tu_mutex_unlock(&g.mu);
		tu_thread_join(t);
		ck_assert_int_eq(g.returned_seen, k + 1);
		ck_assert_int_eq(g.cancel_rc, k == 0   ? GP_WAIT_READY
		                              : k == 1 ? GP_WAIT_IDLE
		                                       : GP_WAIT_INFLIGHT);
		ck_assert_int_eq(gp_wait_state(p), GP_WAIT_IDLE);
		ck_assert_int_eq(gp_wait_collect(p, ev, 4), 0);
	}
	/* The wait cancelled before it was taken never ran. */
	flush_waiter(p, &r2, 1);
	ck_assert_int_eq(g.returned, 3);
	gp_poller_free(p);
	tu_ready_destroy(&r2);
	tu_sync_destroy(&g.mu, &g.cv);
}
END_TEST

/* ---- calls from inside the ready callback ------------------------------- */

typedef struct incb {
	gp_poller *p;
	int state_before, cancel_rc, state_after, free_rc, restart_rc;
	int restart;
	tu_ready r;
} incb;

static void
incb_cb(void *arg)
{
	incb *c = arg;

	c->state_before = gp_wait_state(c->p);
	c->cancel_rc = gp_wait_cancel(c->p);
	c->state_after = gp_wait_state(c->p);
	c->free_rc = gp_poller_free(c->p);
	if (c->restart)
		c->restart_rc = gp_wait_start(c->p, -1, tu_ready_cb, &c->r);
	tu_ready_cb(&c->r);
}

/* On the waiter thread gp_wait_cancel cancels without waiting for itself,
 * and gp_poller_free is refused with GP_EBUSY, leaving the poller intact. */
START_TEST(test_cancel_and_free_in_callback)
{
	gp_poller *p = tu_new();
	tu_fd fds[2];
	gp_event ev[4];
	incb c;

	memset(&c, 0, sizeof c);
	c.p = p;
	tu_ready_init(&c.r);
	tu_pipe(fds);
	ck_assert_int_eq(gp_add(p, fds[0], GP_READ, TU_TAG(1)), 0);
	tu_write1(fds[1]);
	ck_assert_int_eq(gp_wait_start(p, -1, incb_cb, &c), 0);
	tu_await_ready(&c.r, 1);
	ck_assert_int_eq(c.state_before, GP_WAIT_READY);
	ck_assert_int_eq(c.cancel_rc, GP_WAIT_READY);
	ck_assert_int_eq(c.state_after, GP_WAIT_IDLE);
	ck_assert_int_eq(c.free_rc, GP_EBUSY);
	ck_assert_int_eq(gp_wait_collect(p, ev, 4), 0);
	/* The poller still works, on both kinds of wait. */
	TU_EXPECT_ONE(p, fds[0], TU_TAG(1), GP_READ);
	/* A wait started from the callback runs after it returns. */
	c.restart = 1;
	ck_assert_int_eq(gp_wait_start(p, -1, incb_cb, &c), 0);
	tu_await_ready(&c.r, 3);
	ck_assert_int_eq(c.restart_rc, 0);
	ck_assert_int_eq(gp_wait_collect(p, ev, 4), 1);
	TU_ASSERT_EVENT(ev[0], TU_TAG(1), fds[0], GP_READ);
	ck_assert_int_eq(gp_wait_state(p), GP_WAIT_IDLE);
	ck_assert_int_eq(gp_remove(p, fds[0]), 0);
	tu_close_pair(fds);
	ck_assert_int_eq(gp_poller_free(p), 0);
	ck_assert_int_eq(gp_poller_free(NULL), 0);
	tu_ready_destroy(&c.r);
}
END_TEST

/* ---- races -------------------------------------------------------------- */

/* Cancel at once after the start, with the descriptor ready, so that the
 * waiter is anywhere between taking the job and calling ready; then start
 * again at once.  Each GP_WAIT_READY result is one ready call, each
 * GP_WAIT_INFLIGHT result none, counted when gp_wait_cancel returns. */
START_TEST(test_cancel_race_with_ready)
{
	enum { N = 2000 };
	gp_poller *p = tu_new();
	tu_ready r, r2;
	tu_fd fds[2];
	gp_event ev[4];
	int called = 0, inflight = 0;
	unsigned seed = 7;

	tu_ready_init(&r);
	tu_ready_init(&r2);
	tu_pipe(fds);
	ck_assert_int_eq(gp_add(p, fds[0], GP_READ, TU_TAG(1)), 0);
	tu_write1(fds[1]);
	for (int i = 0; i < N; i++) {
		int rc, spin = tu_rand_r(&seed) % 64;

		tu_start(p, i % 3 == 0 ? 0 : -1, &r);
		for (volatile int s = 0; s < spin * 50; s++)
			;
		if (i % 4 == 0)
			tu_yield();
		rc = gp_wait_cancel(p);
		if (rc == GP_WAIT_READY)
			called++;
		else if (rc == GP_WAIT_INFLIGHT)
			inflight++;
		else
			ck_abort_msg("round %d: gp_wait_cancel %d", i, rc);
		ck_assert_int_eq(tu_ready_count(&r), called);
		ck_assert_int_eq(gp_wait_state(p), GP_WAIT_IDLE);
		ck_assert_int_eq(gp_wait_collect(p, ev, 4), 0);
	}
	flush_waiter(p, &r2, 1);
	ck_assert_int_eq(tu_ready_count(&r), called);
	printf("test_cancel_race_with_ready: %d cancelled in flight, %d "
	       "after ready\n",
	       inflight, called);
	ck_assert_int_eq(gp_remove(p, fds[0]), 0);
	tu_close_pair(fds);
	gp_poller_free(p);
	tu_ready_destroy(&r);
	tu_ready_destroy(&r2);
}
END_TEST

typedef struct notifier {
	gp_poller *p;
	atomic_int go;
	int rc;
} notifier;

static void *
notify_thread(void *arg)
{
	notifier *n = arg;

	while (!atomic_load(&n->go))
		tu_yield();
	n->rc = gp_notify(n->p);
	return NULL;
}

/* gp_notify racing gp_wait_cancel: the notification is never lost.  After
 * both, the next wait reports it exactly once, whichever won. */
START_TEST(test_cancel_race_with_notify)
{
	enum { N = 1000 };
	gp_poller *p = tu_new();
	tu_ready r, r2;
	gp_event ev[4];
	int called = 0;

	tu_ready_init(&r);
	tu_ready_init(&r2);
	for (int i = 0; i < N; i++) {
		notifier n = {.p = p, .rc = -100};
		tu_thread t;
		int rc;

		atomic_init(&n.go, 0);
		tu_start(p, -1, &r);
		ck_assert_int_eq(tu_thread_start(&t, notify_thread, &n), 0);
		atomic_store(&n.go, 1);
		if (i % 2)
			tu_yield();
		rc = gp_wait_cancel(p);
		tu_thread_join(t);
		ck_assert_int_eq(n.rc, 0);
		ck_assert_msg(rc == GP_WAIT_READY || rc == GP_WAIT_INFLIGHT,
		              "round %d: gp_wait_cancel %d", i, rc);
		called += rc == GP_WAIT_READY;
		ck_assert_int_eq(tu_ready_count(&r), called);
		ck_assert_int_eq(gp_wait(p, ev, 4, 0), 1);
		TU_ASSERT_NOTIFIED(ev[0]);
		ck_assert_int_eq(gp_wait(p, ev, 4, 0), 0);
	}
	flush_waiter(p, &r2, 1);
	ck_assert_int_eq(tu_ready_count(&r), called);
	gp_poller_free(p);
	tu_ready_destroy(&r);
	tu_ready_destroy(&r2);
}
END_TEST

typedef struct canceller {
	gp_poller *p;
	atomic_int *go;
	int rc;
} canceller;

static void *
cancel_thread(void *arg)
{
	canceller *c = arg;

	while (!atomic_load(c->go))
		tu_yield();
	c->rc = gp_wait_cancel(c->p);
	return NULL;
}

/* Two threads cancel the same wait at once: both return, the wait ends,
 * ready is not called. */
START_TEST(test_cancel_concurrent_cancellers)
{
	enum { N = 300 };
	gp_poller *p = tu_new();
	tu_ready r, r2;

	tu_ready_init(&r);
	tu_ready_init(&r2);
	for (int i = 0; i < N; i++) {
		atomic_int go;
		canceller c[2] = {{p, &go, -100}, {p, &go, -100}};
		tu_thread t[2];

		atomic_init(&go, 0);
		tu_start(p, -1, &r);
		for (int j = 0; j < 2; j++)
			ck_assert_int_eq(
			        tu_thread_start(&t[j], cancel_thread, &c[j]),
			        0);
		atomic_store(&go, 1);
		for (int j = 0; j < 2; j++)
			tu_thread_join(t[j]);
		ck_assert_msg(c[0].rc == GP_WAIT_INFLIGHT ||
		                      c[1].rc == GP_WAIT_INFLIGHT,
		              "round %d: %d %d", i, c[0].rc, c[1].rc);
		for (int j = 0; j < 2; j++)
			ck_assert_msg(c[j].rc == GP_WAIT_INFLIGHT ||
			                      c[j].rc == GP_WAIT_IDLE,
			              "round %d: %d", i, c[j].rc);
		ck_assert_int_eq(gp_wait_state(p), GP_WAIT_IDLE);
	}
	flush_waiter(p, &r2, 1);
	ck_assert_int_eq(tu_ready_count(&r), 0);
	gp_poller_free(p);
	tu_ready_destroy(&r);
	tu_ready_destroy(&r2);
}
END_TEST

/* ---- a plain wait on another thread ------------------------------------- */

typedef struct plain {
	gp_poller *p;
	int rc;
	gp_event ev[4];
} plain;

static void *
plain_thread(void *arg)
{
	plain *w = arg;

	w->rc = gp_wait(w->p, w->ev, 4, -1);
	return NULL;
}

/* gp_wait_cancel does not end a plain gp_wait: GP_EBUSY, nothing changed. */
START_TEST(test_cancel_plain_wait_busy)
{
	gp_poller *p = tu_new();
	plain w = {.p = p, .rc = -100};
	tu_after wd;
	tu_thread t;
	int64_t deadline = tu_now_ns() + TU_MS(TU_PATIENCE_MS);

	tu_watchdog_start(&wd, p);
	ck_assert_int_eq(tu_thread_start(&t, plain_thread, &w), 0);
	while (gp_wait_state(p) != GP_WAIT_PLAIN && tu_now_ns() < deadline)
		tu_yield();
	ck_assert_int_eq(gp_wait_state(p), GP_WAIT_PLAIN);
	ck_assert_int_eq(gp_wait_cancel(p), GP_EBUSY);
	ck_assert_int_eq(gp_wait_state(p), GP_WAIT_PLAIN);
	ck_assert_int_eq(gp_notify(p), 0);
	tu_thread_join(t);
	ck_assert_int_eq(tu_after_stop(&wd), 0);
	ck_assert_int_eq(w.rc, 1);
	TU_ASSERT_NOTIFIED(w.ev[0]);
	ck_assert_int_eq(gp_wait_state(p), GP_WAIT_IDLE);
	gp_poller_free(p);
}
END_TEST

Suite *
cancel_suite(void)
{
	Suite *s = suite_create("cancel");
	TCase *tc = tcase_create("cancel");

	tcase_set_timeout(tc, TU_TIMEOUT);
	tcase_add_test(tc, test_cancel_idle_and_invalid);
	tcase_add_test(tc, test_cancel_in_flight);
	tcase_add_test(tc, test_cancel_ready_discards);
	tcase_add_test(tc, test_cancel_waits_for_callback);
	tcase_add_test(tc, test_cancel_and_free_in_callback);
	tcase_add_test(tc, test_cancel_plain_wait_busy);
	suite_add_tcase(s, tc);

	tc = tcase_create("cancel-races");
	tcase_set_timeout(tc, TU_TIMEOUT_LONG);
	tcase_add_test(tc, test_cancel_race_with_ready);
	tcase_add_test(tc, test_cancel_race_with_notify);
	tcase_add_test(tc, test_cancel_concurrent_cancellers);
	suite_add_tcase(s, tc);
	return s;
}
