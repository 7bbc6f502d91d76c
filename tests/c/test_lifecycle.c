/* test_lifecycle.c - gp_poller_free with a split wait in flight or a ready
 * callback running, fork(), and 10,000 registrations.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _GNU_SOURCE

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "testutil.h"

START_TEST(test_free_null)
{
	gp_poller_free(NULL);
	gp_poller_free(NULL);
	/* Nothing else in the API dereferences NULL either. */
	ck_assert_ptr_eq(gp_poller_backend(NULL), NULL);
	ck_assert_int_eq(gp_poller_fd(NULL), GP_EINVAL);
}
END_TEST

/* Free with an infinite split wait in flight: returns promptly, ready is
 * never called. */
START_TEST(test_free_in_flight)
{
	gp_poller *p = tu_new();
	tu_ready r;
	tu_fd fds[2];
	int64_t t0, dt;

	tu_ready_init(&r);
	tu_pipe(fds);
	ck_assert_int_eq(gp_add(p, fds[0], GP_READ, NULL), 0);
	tu_start(p, -1, &r);
	tu_sleep_ms(_i == 0 ? 0 : 30); /* just started / surely blocked */
	t0 = tu_now_ns();
	gp_poller_free(p);
	dt = tu_now_ns() - t0;
	ck_assert_int_lt(dt, TU_MS(5000));
	ck_assert_int_eq(tu_ready_count(&r), 0);
	/* After free returned, ready never runs, whatever happens. */
	tu_write1(fds[1]);
	tu_sleep_ms(50);
	ck_assert_int_eq(tu_ready_count(&r), 0);
	tu_ready_destroy(&r);
	tu_close_pair(fds);
}
END_TEST

/* Free racing with a short split wait that may or may not have reached
 * ready: after free returns the count no longer changes. */
START_TEST(test_free_racing_timeout)
{
	for (int i = 0; i < 50; i++) {
		gp_poller *p = tu_new();
		tu_ready r;
		int before;

		tu_ready_init(&r);
		tu_start(p, (int64_t)(i % 5) * 200000, &r);
		if (i % 2)
			tu_sleep_ms(1);
		gp_poller_free(p);
		before = tu_ready_count(&r);
		ck_assert_int_le(before, 1);
		tu_sleep_ms(2);
		ck_assert_int_eq(tu_ready_count(&r), before);
		tu_ready_destroy(&r);
	}
}
END_TEST

/* A ready callback that takes a while: free waits for it to return. */
struct slow_ready {
	atomic_int entered;
	atomic_int finished;
};

static void
slow_ready_cb(void *arg)
{
	struct slow_ready *s = arg;

	atomic_store(&s->entered, 1);
	tu_sleep_ms(200);
	atomic_store(&s->finished, 1);
}

START_TEST(test_free_during_ready)
{
	gp_poller *p = tu_new();
	struct slow_ready s;
	int64_t deadline;
	int entered, finished;

	atomic_init(&s.entered, 0);
	atomic_init(&s.finished, 0);
	ck_assert_int_eq(gp_notify(p), 0);
	ck_assert_int_eq(gp_wait_start(p, -1, slow_ready_cb, &s), 0);
	deadline = tu_now_ns() + TU_MS(TU_PATIENCE_MS);
	while (!atomic_load(&s.entered) && tu_now_ns() < deadline)
		tu_sleep_ms(1);
	entered = atomic_load(&s.entered);
	ck_assert_int_eq(entered, 1);
	gp_poller_free(p);
	finished = atomic_load(&s.finished);
	ck_assert_msg(finished == 1,
	              "gp_poller_free returned while ready was running");
}
END_TEST

/* Results ready but never collected, then free (valgrind: no leak). */
START_TEST(test_free_uncollected)
{
	gp_poller *p = tu_new();
	tu_ready r;
	tu_fd fds[2];
	gp_event ev[2];

	tu_ready_init(&r);
	tu_pipe(fds);
	tu_write1(fds[1]);
	ck_assert_int_eq(gp_add(p, fds[0], GP_READ, NULL), 0);
	ck_assert_int_eq(gp_add(p, fds[1], GP_WRITE, NULL), 0);
	tu_start_await(p, -1, &r, 1);
	/* Partly collected. */
	ck_assert_int_eq(gp_wait_collect(p, ev, 1), 1);
	gp_poller_free(p);
	tu_ready_destroy(&r);
	tu_close_pair(fds);
}
END_TEST

/* Many pollers, each with a waiter thread blocked, freed in turn. */
START_TEST(test_free_many_waiters)
{
	enum { N = 16 };
	gp_poller *p[N];
	tu_ready r;

	tu_ready_init(&r);
	for (int i = 0; i < N; i++) {
		p[i] = tu_new();
		tu_start(p[i], -1, &r);
	}
	for (int i = 0; i < N; i++)
		gp_poller_free(p[i]);
	ck_assert_int_eq(tu_ready_count(&r), 0);
	tu_ready_destroy(&r);
}
END_TEST

/* ---- fork ---------------------------------------------------------------- */

#ifndef TU_WINDOWS
/* Waits for pid up to TU_PATIENCE_MS; returns its wait status, or -1
 * after killing it. */
static int
wait_child(pid_t pid)
{
	int64_t deadline = tu_now_ns() + TU_MS(TU_PATIENCE_MS);
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		ck_assert_msg(r == 0 || (r < 0 && errno == EINTR),
		              "waitpid: %s", strerror(errno));
		if (tu_now_ns() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		tu_sleep_ms(2);
	}
}

/* The child frees the inherited poller and exits 0; the parent's poller
 * and registrations are untouched.  _i: 0 no waiter thread yet, 1 waiter
 * thread idle, 2 split wait in flight during the fork. */
START_TEST(test_fork_child_free)
{
	gp_poller *p = tu_new();
	tu_ready r;
	tu_fd fds[2], other[2];
	int status;
	gp_event ev[4];
	pid_t pid;

	tu_ready_init(&r);
	tu_pipe(fds);
	tu_pipe(other);
	ck_assert_int_eq(gp_add(p, fds[0], GP_READ, TU_TAG(1)), 0);
	if (_i >= 1) {
		ck_assert_int_eq(gp_notify(p), 0);
		tu_start_await(p, -1, &r, 1);
		ck_assert_int_eq(gp_wait_collect(p, ev, 4), 1);
	}
	if (_i == 2) {
		tu_start(p, -1, &r);
		tu_sleep_ms(20);
	}
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		gp_poller_free(p);
		_exit(0);
	}
	status = wait_child(pid);
	ck_assert_msg(status != -1, "child hung in gp_poller_free");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "child status %#x", status);
	if (_i == 2) {
		/* The in-flight wait was not disturbed by the child. */
		tu_sleep_ms(30);
		ck_assert_int_eq(tu_ready_count(&r), 1);
		tu_write1(fds[1]);
		tu_await_ready(&r, 2);
		ck_assert_int_eq(gp_wait_collect(p, ev, 4), 1);
		ck_assert_ptr_eq(ev[0].data, TU_TAG(1));
		ck_assert_int_eq(gp_wait_collect(p, ev, 4), 0);
	} else {
		ck_assert_int_eq(gp_wait(p, ev, 4, 0), 0);
		tu_write1(fds[1]);
	}
	/* Plain wait, split wait, new registration, notify. */
	ck_assert_int_eq(gp_wait(p, ev, 4, TU_MS(5000)), 1);
	ck_assert_ptr_eq(ev[0].data, TU_TAG(1));
	ck_assert_int_eq(ev[0].fd, fds[0]);
	ck_assert_int_eq(gp_add(p, other[1], GP_WRITE, TU_TAG(2)), 0);
	ck_assert_int_eq(gp_notify(p), 0);
	tu_start_await(p, -1, &r, tu_ready_count(&r) + 1);
	ck_assert_int_eq(gp_wait_collect(p, ev, 4), 3);
	TU_ASSERT_NOTIFIED(ev[0]);
	ck_assert_int_ge(tu_find_data(ev, 3, TU_TAG(1)), 1);
	ck_assert_int_ge(tu_find_data(ev, 3, TU_TAG(2)), 1);
	ck_assert_int_eq(gp_remove(p, fds[0]), 0);
	ck_assert_int_eq(gp_remove(p, other[1]), 0);
	gp_poller_free(p);
	tu_ready_destroy(&r);
	tu_close_pair(fds);
	tu_close_pair(other);
}
END_TEST
#else
TU_POSIX_ONLY_TEST(test_fork_child_free, "fork()")
#endif

/* ---- running out of descriptors ------------------------------------------ */

#ifndef TU_WINDOWS
/* The smallest descriptor limit under which exactly `room` numbers are
 * free (new descriptors take the lowest free numbers). */
static rlim_t
limit_with_room(int room)
{
	int fd = 0;

	for (int free_seen = 0; free_seen < room; fd++)
		if (fcntl(fd, F_GETFD) == -1)
			free_seen++;
	return (rlim_t)fd;
}

/* With the descriptor limit just above what is open, pollers are created
 * until one cannot be: that one fails with GP_EMFILE (nothing half-made,
 * *out NULL), the others keep working, and once some are freed a new one
 * can be made again.
 *
 * What a poller costs in descriptors is measured, not assumed: 1 or 2 with
 * epoll and poll, but libkqueue opens several per kqueue, and more for the
 * first one of the process.  Two probe pollers stay alive through the
 * test, so that any one-time cost is already paid and the second one's
 * cost is the price of one more; the limit leaves room for two more
 * pollers at that price. */
START_TEST(test_out_of_descriptors)
{
	enum { MAXP = 64 };
	gp_poller *ps[MAXP] = {0}, *probe[2];
	struct rlimit old, low;
	int fds[2], n = 0, rc = 0, before, cost, start;

	/* The second probe's cost is what each further poller needs. */
	probe[0] = tu_new();
	before = tu_fd_count();
	ck_assert_int_ge(before, 0);
	probe[1] = tu_new();
	cost = tu_fd_count() - before;
	ck_assert_int_ge(cost, 1);
	tu_pipe(fds);
	start = tu_fd_count();
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	/* Room for two more pollers at that price. */
	low.rlim_cur = limit_with_room(2 * cost);
	ck_assert(low.rlim_cur <= old.rlim_cur);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	while (n < MAXP) {
		gp_poller *p = (gp_poller *)1;
		rc = gp_poller_new(&p, NULL);
		if (rc < 0) {
			ck_assert_msg(p == NULL,
			              "a failed gp_poller_new set *out");
			break;
		}
		ps[n++] = p;
	}
	/* Still under the low limit: once one is freed, one can be made. */
	if (n > 0) {
		gp_poller_free(ps[--n]);
		ps[n] = NULL;
		ck_assert_int_eq(gp_poller_new(&ps[n], NULL), 0);
		n++;
	}
	setrlimit(RLIMIT_NOFILE, &old);
	ck_assert_msg(rc == GP_EMFILE,
	              "after %d pollers of %d descriptors each: %d (%s)", n,
	              cost, rc, gp_strerror(rc));
	/* Exactly the room left for two, and the failed one left nothing
	 * open. */
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(tu_fd_count(), start + n * cost);
	/* The ones made still work. */
	ck_assert_int_eq(gp_add(ps[0], fds[0], GP_READ, TU_TAG(1)), 0);
	tu_write1(fds[1]);
	TU_EXPECT_ONE(ps[0], fds[0], TU_TAG(1), GP_READ);
	ck_assert_int_eq(gp_remove(ps[0], fds[0]), 0);
	for (int i = 0; i < n; i++)
		gp_poller_free(ps[i]);
	ps[0] = tu_new();
	gp_poller_free(ps[0]);
	gp_poller_free(probe[1]);
	gp_poller_free(probe[0]);
	tu_close_pair(fds);
}
END_TEST
#else
TU_POSIX_ONLY_TEST(test_out_of_descriptors, "RLIMIT_NOFILE")
#endif

/* ---- 10,000 registrations ----------------------------------------------- */

enum { NREG = 10000, NPAIR = NREG / 2 };

#ifndef TU_WINDOWS
/* Raises the soft descriptor limit to allow `need`; returns 0 (and leaves
 * *old untouched) if the hard limit is too low. */
static int
raise_nofile(rlim_t need, struct rlimit *old)
{
	struct rlimit rl;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	*old = rl;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
			printf("test_many_registrations: RLIMIT_NOFILE hard "
			       "limit %llu < %llu; skipped\n",
			       (unsigned long long)rl.rlim_max,
			       (unsigned long long)need);
			return 0;
		}
		rl.rlim_cur = need;
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	return 1;
}
#endif

static int
pair_ready(int i, int side)
{
	return side == 0 ? i % 7 == 0 : i % 11 == 3;
}

START_TEST(test_many_registrations)
{
#ifndef TU_WINDOWS
	struct rlimit old;
#endif
	tu_fd(*sv)[2];
	char *seen;
	gp_event *ev;
	gp_poller *p;
	tu_ready r;
	int want = 0, got = 0, n;

#ifndef TU_WINDOWS
	if (!raise_nofile(NREG + 256, &old))
		return;
#endif
	sv = calloc(NPAIR, sizeof *sv);
	seen = calloc(NREG, 1);
	ev = calloc(NREG, sizeof *ev);
	ck_assert(sv && seen && ev);
	p = tu_new();
	tu_ready_init(&r);
	for (int i = 0; i < NPAIR; i++) {
		tu_socketpair(sv[i]);
		for (int side = 0; side < 2; side++) {
			ck_assert_int_eq(gp_add(p, sv[i][side],
			                        GP_READ | GP_ONESHOT,
			                        TU_TAG(2 * i + side)),
			                 0);
			if (pair_ready(i, side)) {
				tu_write1(sv[i][1 - side]);
				want++;
			}
		}
	}
	/* Oneshot: every ready registration exactly once, over as many
	 * waits as it takes, then nothing. */
	while ((n = gp_wait(p, ev, 512, 0)) > 0) {
		for (int k = 0; k < n; k++) {
			uintptr_t idx =
			        (uintptr_t)ev[k].data - (uintptr_t)TU_TAG(0);
			int i = (int)(idx / 2), side = (int)(idx % 2);
			ck_assert_uint_lt(idx, NREG);
			ck_assert_msg(pair_ready(i, side),
			              "pair %d side %d not ready", i, side);
			ck_assert_int_eq(ev[k].fd, sv[i][side]);
			ck_assert_uint_eq(ev[k].events, GP_READ);
			ck_assert_int_eq(seen[idx], 0);
			seen[idx] = 1;
			got++;
		}
	}
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(got, want);
	/* Level, one big wait (plain) and one split wait: every record is a
	 * ready registration with the right fd. */
	for (int i = 0; i < NPAIR; i++)
		for (int side = 0; side < 2; side++)
			ck_assert_int_eq(gp_modify(p, sv[i][side], GP_READ,
			                           TU_TAG(2 * i + side)),
			                 0);
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 0) {
			n = gp_wait(p, ev, NREG, 0);
		} else {
			tu_start_await(p, 0, &r, 1);
			n = gp_wait_collect(p, ev, NREG);
		}
		ck_assert_int_gt(n, 0);
		ck_assert_int_le(n, want);
		for (int k = 0; k < n; k++) {
			uintptr_t idx =
			        (uintptr_t)ev[k].data - (uintptr_t)TU_TAG(0);
			ck_assert_uint_lt(idx, NREG);
			ck_assert(pair_ready((int)(idx / 2), (int)(idx % 2)));
			ck_assert_int_eq(ev[k].fd, sv[idx / 2][idx % 2]);
		}
		if (pass == 1)
			ck_assert_int_eq(gp_wait_collect(p, ev, NREG), 0);
	}
	for (int i = 0; i < NPAIR; i++) {
		for (int side = 0; side < 2; side++) {
			ck_assert_int_eq(gp_remove(p, sv[i][side]), 0);
			tu_close(sv[i][side]);
		}
	}
	ck_assert_int_eq(gp_wait(p, ev, NREG, 0), 0);
	gp_poller_free(p);
	tu_ready_destroy(&r);
	free(sv);
	free(seen);
	free(ev);
#ifndef TU_WINDOWS
	setrlimit(RLIMIT_NOFILE, &old);
#endif
}
END_TEST

Suite *
lifecycle_suite(void)
{
	Suite *s = suite_create("lifecycle");
	TCase *tc = tcase_create("free");

	tcase_set_timeout(tc, TU_TIMEOUT);
	tcase_add_test(tc, test_free_null);
	tcase_add_loop_test(tc, test_free_in_flight, 0, 2);
	tcase_add_test(tc, test_free_racing_timeout);
	tcase_add_test(tc, test_free_during_ready);
	tcase_add_test(tc, test_free_uncollected);
	tcase_add_test(tc, test_free_many_waiters);
	tcase_add_loop_test(tc, test_fork_child_free, 0, 3);
	tcase_add_test(tc, test_out_of_descriptors);
	suite_add_tcase(s, tc);

	tc = tcase_create("scale");
	tcase_set_timeout(tc, TU_TIMEOUT_LONG);
	tcase_add_test(tc, test_many_registrations);
	suite_add_tcase(s, tc);
	return s;
}
