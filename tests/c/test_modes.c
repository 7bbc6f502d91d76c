/* test_modes.c - level, oneshot and edge registrations, and gp_modify.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _GNU_SOURCE

#include <string.h>
#ifndef _WIN32
#include <unistd.h>
#endif

#include "testutil.h"

START_TEST(test_level_repeats)
{
	gp_poller *p = tu_new();
	tu_fd fds[2];
	gp_event ev[4];

	tu_pipe(fds);
	ck_assert_int_eq(gp_add(p, fds[0], GP_READ, TU_TAG(1)), 0);
	tu_write1(fds[1]);
	for (int i = 0; i < 5; i++)
		TU_EXPECT_ONE(p, fds[0], TU_TAG(1), GP_READ);
	/* Blocking waits too, at once. */
	ck_assert_int_eq(gp_wait(p, ev, 4, -1), 1);
	ck_assert_int_eq(gp_wait(p, ev, 4, TU_MS(10000)), 1);
	tu_drain(fds[0]);
	TU_EXPECT_NONE(p);
	ck_assert_int_eq(gp_remove(p, fds[0]), 0);
	tu_close_pair(fds);
	gp_poller_free(p);
}
END_TEST

START_TEST(test_oneshot)
{
	gp_poller *p = tu_new();
	tu_fd fds[2];
	gp_event ev[4];

	tu_pipe(fds);
	ck_assert_int_eq(gp_add(p, fds[0], GP_READ | GP_ONESHOT, TU_TAG(1)), 0);
	TU_EXPECT_NONE(p);
	tu_write1(fds[1]);
	TU_EXPECT_ONE(p, fds[0], TU_TAG(1), GP_READ);
	/* Disarmed although still readable, and more data changes nothing. */
	TU_EXPECT_NONE(p);
	tu_write1(fds[1]);
	ck_assert_int_eq(gp_wait(p, ev, 4, TU_MS(20)), 0);
	/* Still registered. */
	ck_assert_int_eq(gp_add(p, fds[0], GP_READ, NULL), GP_EEXIST);
	/* Re-armed by gp_modify, with new data. */
	ck_assert_int_eq(gp_modify(p, fds[0], GP_READ | GP_ONESHOT, TU_TAG(2)),
	                 0);
	TU_EXPECT_ONE(p, fds[0], TU_TAG(2), GP_READ);
	TU_EXPECT_NONE(p);
	/* Re-armed while not ready: reported when it becomes ready. */
	tu_drain(fds[0]);
	ck_assert_int_eq(gp_modify(p, fds[0], GP_READ | GP_ONESHOT, TU_TAG(3)),
	                 0);
	TU_EXPECT_NONE(p);
	tu_write1(fds[1]);
	TU_EXPECT_ONE(p, fds[0], TU_TAG(3), GP_READ);
	TU_EXPECT_NONE(p);
	/* Modified to level: reported every time. */
	ck_assert_int_eq(gp_modify(p, fds[0], GP_READ, TU_TAG(4)), 0);
	TU_EXPECT_ONE(p, fds[0], TU_TAG(4), GP_READ);
	TU_EXPECT_ONE(p, fds[0], TU_TAG(4), GP_READ);
	ck_assert_int_eq(gp_remove(p, fds[0]), 0);
	tu_close_pair(fds);
	gp_poller_free(p);
}
END_TEST

/* Oneshot with both interests: one record with both bits, then silence. */
START_TEST(test_oneshot_read_write)
{
	gp_poller *p = tu_new();
	tu_fd sv[2];

	tu_socketpair(sv);
	tu_write1(sv[1]);
	ck_assert_int_eq(
	        gp_add(p, sv[0], GP_READ | GP_WRITE | GP_ONESHOT, TU_TAG(1)),
	        0);
	TU_EXPECT_ONE(p, sv[0], TU_TAG(1), GP_READ | GP_WRITE);
	TU_EXPECT_NONE(p);
	ck_assert_int_eq(gp_modify(p, sv[0], GP_WRITE | GP_ONESHOT, TU_TAG(2)),
	                 0);
	TU_EXPECT_ONE(p, sv[0], TU_TAG(2), GP_WRITE);
	TU_EXPECT_NONE(p);
	ck_assert_int_eq(gp_remove(p, sv[0]), 0);
	tu_close_pair(sv);
	gp_poller_free(p);
}
END_TEST

/* Oneshot with both interests, the directions ready at different times:
 * the first one disarms the whole registration (kqueue has one knote per
 * direction; the second must not report until re-armed). */
START_TEST(test_oneshot_read_then_write)
{
	gp_poller *p = tu_new();
	tu_fd sv[2];
	gp_event ev[4];

	tu_socketpair(sv);
	tu_fill(sv[0]); /* not writable */
	ck_assert_int_eq(
	        gp_add(p, sv[0], GP_READ | GP_WRITE | GP_ONESHOT, TU_TAG(1)),
	        0);
	TU_EXPECT_NONE(p);
	tu_write1(sv[1]);
	TU_EXPECT_ONE(p, sv[0], TU_TAG(1), GP_READ);
	/* Writable now, but disarmed. */
	ck_assert_int_gt(tu_drain(sv[1]), 0);
	ck_assert_int_ne(tu_poll1(sv[0], TU_POLLOUT) & TU_POLLOUT, 0);
	TU_EXPECT_NONE(p);
	ck_assert_int_eq(gp_wait(p, ev, 4, TU_MS(20)), 0);
	/* Re-armed: both directions, one record. */
	ck_assert_int_eq(
	        gp_modify(p, sv[0], GP_READ | GP_WRITE | GP_ONESHOT, TU_TAG(2)),
	        0);
	TU_EXPECT_ONE(p, sv[0], TU_TAG(2), GP_READ | GP_WRITE);
	TU_EXPECT_NONE(p);
	ck_assert_int_eq(gp_remove(p, sv[0]), 0);
	tu_close_pair(sv);
	gp_poller_free(p);
}
END_TEST

/* Records that do not fit in max are not lost: oneshot makes each ready
 * registration come out exactly once over several waits with max = 1. */
START_TEST(test_max_one_oneshot)
{
	enum { N = 5 };
	int maxev = _i == 0 ? 256 : 1;
	gp_poller *p = tu_new_max(maxev);
	tu_fd fds[N][2];
	int seen[N] = {0};
	gp_event ev[2];

	for (int i = 0; i < N; i++) {
		tu_pipe(fds[i]);
		tu_write1(fds[i][1]);
		ck_assert_int_eq(
		        gp_add(p, fds[i][0], GP_READ | GP_ONESHOT, TU_TAG(i)),
		        0);
	}
	for (int k = 0; k < N; k++) {
		int i;
		ck_assert_int_eq(gp_wait(p, ev, 1, 0), 1);
		i = (int)((uintptr_t)ev[0].data - (uintptr_t)TU_TAG(0));
		ck_assert_int_ge(i, 0);
		ck_assert_int_lt(i, N);
		ck_assert_int_eq(seen[i], 0);
		ck_assert_int_eq(ev[0].fd, fds[i][0]);
		seen[i] = 1;
	}
	ck_assert_int_eq(gp_wait(p, ev, 2, 0), 0);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(gp_remove(p, fds[i][0]), 0);
		tu_close_pair(fds[i]);
	}
	gp_poller_free(p);
}
END_TEST

/* Level with max_events = 1: each wait gives one record, and every ready
 * registration keeps being reported. */
START_TEST(test_max_events_one_level)
{
	gp_poller *p = tu_new_max(1);
	tu_fd a[2], b[2];
	gp_event ev[4];
	int n;

	tu_pipe(a);
	tu_pipe(b);
	tu_write1(a[1]);
	tu_write1(b[1]);
	ck_assert_int_eq(gp_add(p, a[0], GP_READ, TU_TAG(1)), 0);
	ck_assert_int_eq(gp_add(p, b[0], GP_READ, TU_TAG(2)), 0);
	n = gp_wait(p, ev, 4, 0);
	ck_assert_int_ge(n, 1);
	ck_assert_int_le(n, 2);
	/* Drain whichever came; the other must still come. */
	for (int k = 0; k < n; k++)
		tu_drain(ev[k].fd);
	if (n == 1) {
		void *other = ev[0].data == TU_TAG(1) ? TU_TAG(2) : TU_TAG(1);
		ck_assert_int_eq(gp_wait(p, ev, 4, 0), 1);
		ck_assert_ptr_eq(ev[0].data, other);
		tu_drain(ev[0].fd);
	}
	ck_assert_int_eq(gp_wait(p, ev, 4, 0), 0);
	ck_assert_int_eq(gp_remove(p, a[0]), 0);
	ck_assert_int_eq(gp_remove(p, b[0]), 0);
	tu_close_pair(a);
	tu_close_pair(b);
	gp_poller_free(p);
}
END_TEST

START_TEST(test_edge)
{
	gp_poller *p;
	tu_fd fds[2];
	gp_event ev[4];

	if (!tu_has_kernel_list())
		return; /* GP_ENOTSUP: test_edge_support */
	p = tu_new();
	tu_pipe(fds);
	ck_assert_int_eq(gp_add(p, fds[0], GP_READ | GP_EDGE, TU_TAG(1)), 0);
	TU_EXPECT_NONE(p);
	tu_write1(fds[1]);
	TU_EXPECT_ONE(p, fds[0], TU_TAG(1), GP_READ);
	/* Still readable, but no new edge. */
	TU_EXPECT_NONE(p);
	ck_assert_int_eq(gp_wait(p, ev, 4, TU_MS(20)), 0);
	/* New data: a new edge, once. */
	tu_write1(fds[1]);
	TU_EXPECT_ONE(p, fds[0], TU_TAG(1), GP_READ);
	TU_EXPECT_NONE(p);
	/* Drained and refilled: again once. */
	ck_assert_int_eq(tu_drain(fds[0]), 2);
	TU_EXPECT_NONE(p);
	tu_write1(fds[1]);
	TU_EXPECT_ONE(p, fds[0], TU_TAG(1), GP_READ);
	TU_EXPECT_NONE(p);
	/* gp_modify re-reports current readiness (new data), once. */
	ck_assert_int_eq(gp_modify(p, fds[0], GP_READ | GP_EDGE, TU_TAG(2)), 0);
	TU_EXPECT_ONE(p, fds[0], TU_TAG(2), GP_READ);
	TU_EXPECT_NONE(p);
	/* Modified back to level: repeats. */
	ck_assert_int_eq(gp_modify(p, fds[0], GP_READ, TU_TAG(3)), 0);
	TU_EXPECT_ONE(p, fds[0], TU_TAG(3), GP_READ);
	TU_EXPECT_ONE(p, fds[0], TU_TAG(3), GP_READ);
	ck_assert_int_eq(gp_remove(p, fds[0]), 0);
	tu_close_pair(fds);
	gp_poller_free(p);
}
END_TEST

/* Added while already ready: one report. */
START_TEST(test_edge_ready_at_add)
{
	gp_poller *p;
	tu_fd sv[2];

	if (!tu_has_kernel_list())
		return;
	p = tu_new();
	tu_socketpair(sv);
	ck_assert_int_eq(gp_add(p, sv[0], GP_WRITE | GP_EDGE, TU_TAG(1)), 0);
	TU_EXPECT_ONE(p, sv[0], TU_TAG(1), GP_WRITE);
	TU_EXPECT_NONE(p);
	ck_assert_int_eq(gp_remove(p, sv[0]), 0);
	tu_close_pair(sv);
	gp_poller_free(p);
}
END_TEST

START_TEST(test_edge_oneshot)
{
	gp_poller *p;
	tu_fd fds[2];
	gp_event ev[4];

	if (!tu_has_kernel_list())
		return;
	p = tu_new();
	tu_pipe(fds);
	ck_assert_int_eq(
	        gp_add(p, fds[0], GP_READ | GP_EDGE | GP_ONESHOT, TU_TAG(1)),
	        0);
	TU_EXPECT_NONE(p);
	tu_write1(fds[1]);
	TU_EXPECT_ONE(p, fds[0], TU_TAG(1), GP_READ);
	/* Disarmed: a new edge is not reported. */
	tu_write1(fds[1]);
	TU_EXPECT_NONE(p);
	ck_assert_int_eq(gp_wait(p, ev, 4, TU_MS(20)), 0);
	/* Re-armed: current readiness reported once. */
	ck_assert_int_eq(
	        gp_modify(p, fds[0], GP_READ | GP_EDGE | GP_ONESHOT, TU_TAG(2)),
	        0);
	TU_EXPECT_ONE(p, fds[0], TU_TAG(2), GP_READ);
	TU_EXPECT_NONE(p);
	tu_write1(fds[1]);
	TU_EXPECT_NONE(p);
	/* Re-armed while drained: the next edge, once. */
	tu_drain(fds[0]);
	ck_assert_int_eq(
	        gp_modify(p, fds[0], GP_READ | GP_EDGE | GP_ONESHOT, TU_TAG(3)),
	        0);
	TU_EXPECT_NONE(p);
	tu_write1(fds[1]);
	TU_EXPECT_ONE(p, fds[0], TU_TAG(3), GP_READ);
	tu_write1(fds[1]);
	TU_EXPECT_NONE(p);
	ck_assert_int_eq(gp_remove(p, fds[0]), 0);
	tu_close_pair(fds);
	gp_poller_free(p);
}
END_TEST

/* gp_modify replaces interest and data together. */
START_TEST(test_modify_interest_and_data)
{
	gp_poller *p = tu_new();
	tu_fd sv[2];

	tu_socketpair(sv);
	ck_assert_int_eq(gp_add(p, sv[0], GP_READ, TU_TAG(1)), 0);
	TU_EXPECT_NONE(p);
	ck_assert_int_eq(gp_modify(p, sv[0], GP_WRITE, TU_TAG(2)), 0);
	TU_EXPECT_ONE(p, sv[0], TU_TAG(2), GP_WRITE);
	tu_write1(sv[1]);
	ck_assert_int_eq(gp_modify(p, sv[0], GP_READ | GP_WRITE, TU_TAG(3)), 0);
	TU_EXPECT_ONE(p, sv[0], TU_TAG(3), GP_READ | GP_WRITE);
	ck_assert_int_eq(gp_modify(p, sv[0], GP_READ, NULL), 0);
	TU_EXPECT_ONE(p, sv[0], NULL, GP_READ);
	/* Same interest, new data. */
	ck_assert_int_eq(gp_modify(p, sv[0], GP_READ, TU_TAG(4)), 0);
	TU_EXPECT_ONE(p, sv[0], TU_TAG(4), GP_READ);
	ck_assert_int_eq(gp_remove(p, sv[0]), 0);
	tu_close_pair(sv);
	gp_poller_free(p);
}
END_TEST

/* NULL data and data equal to other pointers are fine. */
START_TEST(test_same_data_for_two_fds)
{
	gp_poller *p = tu_new();
	tu_fd a[2], b[2];
	gp_event ev[4];
	int ia, ib;

	tu_pipe(a);
	tu_pipe(b);
	tu_write1(a[1]);
	tu_write1(b[1]);
	ck_assert_int_eq(gp_add(p, a[0], GP_READ, NULL), 0);
	ck_assert_int_eq(gp_add(p, b[0], GP_READ, NULL), 0);
	ck_assert_int_eq(gp_wait(p, ev, 4, 0), 2);
	ia = tu_find_fd(ev, 2, a[0]);
	ib = tu_find_fd(ev, 2, b[0]);
	ck_assert_int_ge(ia, 0);
	ck_assert_int_ge(ib, 0);
	ck_assert_ptr_eq(ev[ia].data, NULL);
	ck_assert_ptr_eq(ev[ib].data, NULL);
	ck_assert_int_eq(gp_remove(p, a[0]), 0);
	ck_assert_int_eq(gp_remove(p, b[0]), 0);
	tu_close_pair(a);
	tu_close_pair(b);
	gp_poller_free(p);
}
END_TEST

Suite *
modes_suite(void)
{
	Suite *s = suite_create("modes");
	TCase *tc = tcase_create("modes");

	tcase_set_timeout(tc, TU_TIMEOUT);
	tcase_add_test(tc, test_level_repeats);
	tcase_add_test(tc, test_oneshot);
	tcase_add_test(tc, test_oneshot_read_write);
	tcase_add_test(tc, test_oneshot_read_then_write);
	tcase_add_loop_test(tc, test_max_one_oneshot, 0, 2);
	tcase_add_test(tc, test_max_events_one_level);
	tcase_add_test(tc, test_edge);
	tcase_add_test(tc, test_edge_ready_at_add);
	tcase_add_test(tc, test_edge_oneshot);
	tcase_add_test(tc, test_modify_interest_and_data);
	tcase_add_test(tc, test_same_data_for_two_fds);
	suite_add_tcase(s, tc);
	return s;
}
