/* test_threads.c - registrations changed by another thread while a wait
 * blocks, one wait at a time (GP_EBUSY), and a registration stress test.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _GNU_SOURCE

#include <stdatomic.h>
#include <string.h>
#ifndef _WIN32
#include <unistd.h>
#endif

#include "testutil.h"

struct reg_op {
	gp_poller *p;
	tu_fd fd;
	tu_fd wfd; /* written after the operation unless GP_INVALID_FD */
	unsigned events;
	void *data;
	int rc;
};

/* An operation on p's registration of fd (rc: not run yet). */
static void
op_init(struct reg_op *o, gp_poller *p, tu_fd fd, unsigned events, void *data)
{
	memset(o, 0, sizeof *o);
	o->p = p;
	o->fd = fd;
	o->wfd = GP_INVALID_FD;
	o->events = events;
	o->data = data;
	o->rc = -100;
}

static void
act_add(void *arg)
{
	struct reg_op *o = arg;

	o->rc = gp_add(o->p, o->fd, o->events, o->data);
}

static void
act_modify(void *arg)
{
	struct reg_op *o = arg;

	o->rc = gp_modify(o->p, o->fd, o->events, o->data);
}

/* Removes, then makes the removed fd readable, then (after a pause in
 * which a wrongly kept registration would report) notifies. */
static void
act_remove_write_notify(void *arg)
{
	struct reg_op *o = arg;
	o->rc = gp_remove(o->p, o->fd);
	if (tu_write(o->wfd, "r", 1) != 1)
		o->rc = -1000;
	tu_sleep_ms(100);
	gp_notify(o->p);
}

/* Runs act(o) on another thread delay_ms into a wait on o->p: the
 * operation succeeds and the blocked wait returns the one record it made
 * ready (o->data, o->fd, the interest of o->events). */
static void
expect_op_wakes(struct reg_op *o, tu_action act, int delay_ms,
                int64_t timeout_ns)
{
	gp_event ev[4];
	int n = tu_wait_during(o->p, ev, 4, timeout_ns, delay_ms, act, o, NULL);

	ck_assert_int_eq(o->rc, 0);
	ck_assert_int_eq(n, 1);
	TU_ASSERT_EVENT(ev[0], o->data, o->fd,
	                o->events & (GP_READ | GP_WRITE));
}

/* A ready fd added by another thread while the owner blocks forever: the
 * blocked wait returns its event. */
START_TEST(test_add_while_blocked)
{
	struct reg_op o;
	tu_fd fds[2];

	tu_pipe(fds);
	tu_write1(fds[1]);
	op_init(&o, tu_new(), fds[0], GP_READ, TU_TAG(1));
	expect_op_wakes(&o, act_add, 100, _i == 0 ? -1 : TU_MS(10000));
	ck_assert_int_eq(gp_remove(o.p, fds[0]), 0);
	tu_close_pair(fds);
	gp_poller_free(o.p);
}
END_TEST

/* Same with a socket that is writable (WRITE interest). */
START_TEST(test_add_writable_while_blocked)
{
	struct reg_op o;
	tu_fd sv[2];

	tu_socketpair(sv);
	op_init(&o, tu_new(), sv[1], GP_WRITE, TU_TAG(2));
	expect_op_wakes(&o, act_add, 50, -1);
	ck_assert_int_eq(gp_remove(o.p, sv[1]), 0);
	tu_close_pair(sv);
	gp_poller_free(o.p);
}
END_TEST

/* Removed by another thread while the owner blocks: no event for it after
 * gp_remove returned, even though it becomes readable. */
START_TEST(test_remove_while_blocked)
{
	struct reg_op o;
	tu_fd fds[2], keep[2];
	gp_event ev[4];
	int n;

	tu_pipe(fds);
	tu_pipe(keep);
	op_init(&o, tu_new(), fds[0], 0, NULL);
	o.wfd = fds[1];
	ck_assert_int_eq(gp_add(o.p, fds[0], GP_READ, TU_TAG(1)), 0);
	ck_assert_int_eq(gp_add(o.p, keep[0], GP_READ, TU_TAG(2)), 0);
	n = tu_wait_during(o.p, ev, 4, -1, 50, act_remove_write_notify, &o,
	                   NULL);
	ck_assert_int_eq(o.rc, 0);
	ck_assert_int_eq(n, 1);
	TU_ASSERT_NOTIFIED(ev[0]);
	ck_assert_int_eq(gp_wait(o.p, ev, 4, 0), 0);
	/* The other registration is intact. */
	tu_write1(keep[1]);
	ck_assert_int_eq(gp_wait(o.p, ev, 4, 0), 1);
	ck_assert_ptr_eq(ev[0].data, TU_TAG(2));
	ck_assert_int_eq(gp_remove(o.p, fds[0]), GP_ENOENT);
	ck_assert_int_eq(gp_remove(o.p, keep[0]), 0);
	tu_close_pair(fds);
	tu_close_pair(keep);
	gp_poller_free(o.p);
}
END_TEST

/* Modified by another thread while the owner blocks: READ on a writable
 * socket becomes WRITE, with new data; the wait reports it. */
START_TEST(test_modify_while_blocked)
{
	struct reg_op o;
	tu_fd sv[2];

	tu_socketpair(sv);
	op_init(&o, tu_new(), sv[0], GP_WRITE, TU_TAG(2));
	ck_assert_int_eq(gp_add(o.p, sv[0], GP_READ, TU_TAG(1)), 0);
	expect_op_wakes(&o, act_modify, 50, -1);
	ck_assert_int_eq(gp_remove(o.p, sv[0]), 0);
	tu_close_pair(sv);
	gp_poller_free(o.p);
}
END_TEST

/* A oneshot registration re-armed by another thread while the owner
 * blocks. */
START_TEST(test_rearm_while_blocked)
{
	struct reg_op o;
	tu_fd fds[2];
	gp_event ev[4];

	tu_pipe(fds);
	tu_write1(fds[1]);
	op_init(&o, tu_new(), fds[0], GP_READ | GP_ONESHOT, TU_TAG(2));
	ck_assert_int_eq(gp_add(o.p, fds[0], GP_READ | GP_ONESHOT, TU_TAG(1)),
	                 0);
	ck_assert_int_eq(gp_wait(o.p, ev, 4, 0), 1);
	ck_assert_int_eq(gp_wait(o.p, ev, 4, 0), 0);
	expect_op_wakes(&o, act_modify, 50, -1);
	ck_assert_int_eq(gp_wait(o.p, ev, 4, 0), 0);
	ck_assert_int_eq(gp_remove(o.p, fds[0]), 0);
	tu_close_pair(fds);
	gp_poller_free(o.p);
}
END_TEST

/* ---- one wait at a time -------------------------------------------------- */

struct blocker {
	gp_poller *p;
	gp_event ev[4];
	atomic_int result;
	atomic_int busy_retries;
};

/* Blocks in gp_wait forever, retrying if it raced with a probe. */
static void *
blocker_main(void *arg)
{
	struct blocker *b = arg;
	int r;

	for (;;) {
		r = gp_wait(b->p, b->ev, 4, -1);
		if (r != GP_EBUSY)
			break;
		atomic_fetch_add(&b->busy_retries, 1);
		tu_sleep_ms(1);
	}
	atomic_store(&b->result, r);
	return NULL;
}

/* While one thread is in gp_wait, a second gp_wait (any timeout),
 * gp_wait_start, get GP_EBUSY at once. */
START_TEST(test_concurrent_wait_busy)
{
	struct blocker b;
	tu_thread th;
	tu_ready r;
	gp_event ev[4];
	int64_t t0, deadline;
	int rc = 0, busy = 0;

	memset(&b, 0, sizeof b);
	b.p = tu_new();
	atomic_init(&b.result, 1000);
	atomic_init(&b.busy_retries, 0);
	tu_ready_init(&r);
	ck_assert_int_eq(tu_thread_start(&th, blocker_main, &b), 0);
	/* Probe with timeout 0 until the blocker is inside gp_wait. */
	deadline = tu_now_ns() + TU_MS(TU_PATIENCE_MS);
	while (tu_now_ns() < deadline) {
		rc = gp_wait(b.p, ev, 4, 0);
		if (rc == GP_EBUSY) {
			busy = 1;
			break;
		}
		ck_assert_int_eq(rc, 0);
		tu_sleep_ms(5);
	}
	ck_assert_msg(busy, "second gp_wait never got GP_EBUSY (%d)", rc);
	/* Now it is certainly blocked: every kind of second wait is refused
	 * at once, never 0. */
	t0 = tu_now_ns();
	ck_assert_int_eq(gp_wait(b.p, ev, 4, -1), GP_EBUSY);
	ck_assert_int_eq(gp_wait(b.p, ev, 4, TU_MS(2000)), GP_EBUSY);
	ck_assert_int_eq(gp_wait(b.p, ev, 4, 0), GP_EBUSY);
	ck_assert_int_eq(gp_wait_start(b.p, -1, tu_ready_cb, &r), GP_EBUSY);
	ck_assert_int_eq(gp_wait_start(b.p, 0, tu_ready_cb, &r), GP_EBUSY);
	ck_assert_int_lt(tu_now_ns() - t0, TU_MS(1000));
	/* Registrations and notify are fine meanwhile. */
	ck_assert_int_eq(gp_notify(b.p), 0);
	tu_thread_join(th);
	rc = atomic_load(&b.result);
	ck_assert_int_eq(rc, 1);
	TU_ASSERT_NOTIFIED(b.ev[0]);
	/* The refused calls left nothing behind. */
	ck_assert_int_eq(tu_ready_count(&r), 0);
	ck_assert_int_eq(gp_wait(b.p, ev, 4, 0), 0);
	ck_assert_int_eq(gp_wait_collect(b.p, ev, 4), 0);
	gp_poller_free(b.p);
	tu_ready_destroy(&r);
}
END_TEST

/* ---- stress: fd/data pairing under concurrent churn ------------------- */

struct churner {
	gp_poller *p;
	int iterations;
	atomic_int done;
	atomic_int errors;
};

/* Data tags encode the fd number they were registered for. */
#define CHURN_TAG(i, fd)                                                       \
	((void *)(uintptr_t)((((uintptr_t)(i) + 1) << 16) | (unsigned)(fd)))
#define CHURN_FD(data) ((int)((uintptr_t)(data)&0xffff))

static void *
churner_main(void *arg)
{
	struct churner *c = arg;

	for (int i = 0; i < c->iterations; i++) {
		tu_fd fds[2];
		if (tu_pipe_quiet(fds) != 0) {
			atomic_fetch_add(&c->errors, 1);
			break;
		}
		if (tu_write(fds[1], "c", 1) != 1)
			atomic_fetch_add(&c->errors, 1);
		if (gp_add(c->p, fds[0], GP_READ, CHURN_TAG(i, fds[0])) != 0)
			atomic_fetch_add(&c->errors, 1);
		if (i % 3 == 0)
			tu_yield();
		if (i % 5 == 0 && gp_modify(c->p, fds[0], GP_READ | GP_ONESHOT,
		                            CHURN_TAG(i, fds[0])) != 0)
			atomic_fetch_add(&c->errors, 1);
		if (gp_remove(c->p, fds[0]) != 0)
			atomic_fetch_add(&c->errors, 1);
		tu_close_quiet(fds[0]);
		tu_close_quiet(fds[1]);
	}
	atomic_store(&c->done, 1);
	gp_notify(c->p);
	return NULL;
}

/* One thread adds ready pipes and removes and closes them (their numbers
 * are reused at once) while the owner waits in a loop: every record pairs
 * an fd with data registered for that same fd number. */
START_TEST(test_churn_pairing)
{
	struct churner c;
	tu_thread th;
	gp_event ev[16];
	int errors;

	c.p = tu_new();
	c.iterations = 3000;
	atomic_init(&c.done, 0);
	atomic_init(&c.errors, 0);
	ck_assert_int_eq(tu_thread_start(&th, churner_main, &c), 0);
	while (!atomic_load(&c.done)) {
		int n = gp_wait(c.p, ev, 16, TU_MS(100));
		ck_assert_int_ge(n, 0);
		for (int k = 0; k < n; k++) {
			if (ev[k].events == GP_NOTIFIED) {
				ck_assert_int_eq(k, 0);
				continue;
			}
			ck_assert_int_eq(ev[k].fd, CHURN_FD(ev[k].data));
			TU_ASSERT_BITS(ev[k].events, GP_READ, 0);
		}
	}
	tu_thread_join(th);
	errors = atomic_load(&c.errors);
	ck_assert_int_eq(errors, 0);
	/* Everything was removed. */
	tu_expect_notify_leftover(c.p);
	gp_poller_free(c.p);
}
END_TEST

Suite *
threads_suite(void)
{
	Suite *s = suite_create("threads");
	TCase *tc = tcase_create("threads");

	tcase_set_timeout(tc, TU_TIMEOUT);
	tcase_add_loop_test(tc, test_add_while_blocked, 0, 2);
	tcase_add_test(tc, test_add_writable_while_blocked);
	tcase_add_test(tc, test_remove_while_blocked);
	tcase_add_test(tc, test_modify_while_blocked);
	tcase_add_test(tc, test_rearm_while_blocked);
	tcase_add_test(tc, test_concurrent_wait_busy);
	tcase_add_test(tc, test_churn_pairing);
	suite_add_tcase(s, tc);
	return s;
}
