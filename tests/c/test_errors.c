/* test_errors.c - every documented error of the registration and wait
 * calls, and that a failing call changes nothing.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _GNU_SOURCE

#include <string.h>
#ifndef _WIN32
#include <fcntl.h>
#include <unistd.h>
#endif

#include "testutil.h"

/* Event sets gp_add/gp_modify must refuse with GP_EINVAL. */
static const unsigned bad_events[] = {
        0,
        GP_ONESHOT,
        GP_EDGE,
        GP_ONESHOT | GP_EDGE,
        GP_HUP,
        GP_ERR,
        GP_NOTIFIED,
        GP_READ | GP_HUP,
        GP_READ | GP_ERR,
        GP_WRITE | GP_NOTIFIED,
        GP_READ | GP_WRITE | GP_HUP | GP_ERR,
        GP_READ | 0x20u,
        GP_READ | 0x40u,
        GP_READ | 0x80u,
        GP_WRITE | 0x400u,
        GP_READ | 0x10000u,
        GP_READ | 0x80000000u,
        ~0u,
};
#define N_BAD ((int)(sizeof bad_events / sizeof bad_events[0]))

/* A number that is not an open descriptor (and stays so: nothing else in
 * the test opens descriptors after this). */
static tu_fd
closed_fd(void)
{
	tu_fd fds[2];

	tu_pipe(fds);
	tu_close_pair(fds);
	ck_assert(!tu_fd_is_open(fds[0]));
	return fds[0];
}

START_TEST(test_add_null_poller)
{
	tu_fd fds[2];

	tu_pipe(fds);
	ck_assert_int_eq(gp_add(NULL, fds[0], GP_READ, NULL), GP_EINVAL);
	ck_assert_int_eq(gp_modify(NULL, fds[0], GP_READ, NULL), GP_EINVAL);
	ck_assert_int_eq(gp_remove(NULL, fds[0]), GP_EINVAL);
	ck_assert_int_eq(gp_notify(NULL), GP_EINVAL);
	tu_close_pair(fds);
}
END_TEST

START_TEST(test_add_bad_fd)
{
	gp_poller *p = tu_new();
	tu_fd fds[2], c;

	ck_assert_int_eq(gp_add(p, -1, GP_READ, NULL), GP_EBADF);
	ck_assert_int_eq(gp_add(p, -5, GP_READ, NULL), GP_EBADF);
	ck_assert_int_eq(gp_add(p, -1000000, GP_WRITE, NULL), GP_EBADF);
	c = closed_fd();
	ck_assert_int_eq(gp_add(p, c, GP_READ, TU_TAG(1)), GP_EBADF);
	ck_assert_int_eq(gp_add(p, 1000000, GP_READ, TU_TAG(1)), GP_EBADF);
	/* Nothing was registered: the number is unknown, and once it is a
	 * real descriptor it can be added. */
	ck_assert_int_eq(gp_remove(p, c), GP_ENOENT);
	ck_assert_int_eq(gp_modify(p, c, GP_READ, NULL), GP_ENOENT);
	tu_pipe(fds);
#ifndef TU_WINDOWS
	ck_assert_int_eq(fds[0], c);
#endif
	ck_assert_int_eq(gp_add(p, fds[0], GP_READ, TU_TAG(2)), 0);
	tu_write1(fds[1]);
	TU_EXPECT_ONE(p, fds[0], TU_TAG(2), GP_READ);
	ck_assert_int_eq(gp_remove(p, fds[0]), 0);
	tu_close_pair(fds);
	gp_poller_free(p);
}
END_TEST

START_TEST(test_add_twice)
{
	gp_poller *p = tu_new();
	tu_fd fds[2];

	tu_pipe(fds);
	tu_write1(fds[1]);
	ck_assert_int_eq(gp_add(p, fds[0], GP_READ, TU_TAG(1)), 0);
	ck_assert_int_eq(gp_add(p, fds[0], GP_READ, TU_TAG(2)), GP_EEXIST);
	ck_assert_int_eq(gp_add(p, fds[0], GP_WRITE | GP_ONESHOT, TU_TAG(3)),
	                 GP_EEXIST);
	/* The first registration is unchanged (data, interest, level). */
	TU_EXPECT_ONE(p, fds[0], TU_TAG(1), GP_READ);
	TU_EXPECT_ONE(p, fds[0], TU_TAG(1), GP_READ);
	/* Invalid flags on a registered fd: GP_EINVAL or GP_EEXIST, and
	 * still nothing changes. */
	{
		int r = gp_add(p, fds[0], GP_READ | GP_HUP, TU_TAG(4));
		ck_assert_msg(r == GP_EINVAL || r == GP_EEXIST, "r = %d", r);
	}
	TU_EXPECT_ONE(p, fds[0], TU_TAG(1), GP_READ);
	ck_assert_int_eq(gp_remove(p, fds[0]), 0);
	TU_EXPECT_NONE(p);
	ck_assert_int_eq(gp_add(p, fds[0], GP_READ, TU_TAG(5)), 0);
	TU_EXPECT_ONE(p, fds[0], TU_TAG(5), GP_READ);
	ck_assert_int_eq(gp_remove(p, fds[0]), 0);
	tu_close_pair(fds);
	gp_poller_free(p);
}
END_TEST

START_TEST(test_add_bad_events)
{
	gp_poller *p = tu_new();
	tu_fd fds[2];

	tu_pipe(fds);
	tu_write1(fds[1]);
	for (int i = 0; i < N_BAD; i++) {
		int r = gp_add(p, fds[0], bad_events[i], TU_TAG(1));
		ck_assert_msg(r == GP_EINVAL, "events %#x: %d", bad_events[i],
		              r);
		/* Nothing registered. */
		TU_EXPECT_NONE(p);
		ck_assert_int_eq(gp_remove(p, fds[0]), GP_ENOENT);
	}
	ck_assert_int_eq(gp_add(p, fds[0], GP_READ, TU_TAG(2)), 0);
	TU_EXPECT_ONE(p, fds[0], TU_TAG(2), GP_READ);
	ck_assert_int_eq(gp_remove(p, fds[0]), 0);
	tu_close_pair(fds);
	gp_poller_free(p);
}
END_TEST

/* GP_EDGE: epoll takes it; poll refuses it with GP_ENOTSUP (and nothing
 * changes). */
START_TEST(test_edge_support)
{
	gp_poller *p = tu_new();
	tu_fd fds[2];

	tu_pipe(fds);
	tu_write1(fds[1]);
	if (tu_has_kernel_list()) {
		ck_assert_int_eq(gp_add(p, fds[0], GP_READ | GP_EDGE, NULL), 0);
		ck_assert_int_eq(gp_remove(p, fds[0]), 0);
		ck_assert_int_eq(
		        gp_add(p, fds[0], GP_READ | GP_EDGE | GP_ONESHOT, NULL),
		        0);
		ck_assert_int_eq(gp_remove(p, fds[0]), 0);
	} else {
		ck_assert_int_eq(gp_add(p, fds[0], GP_READ | GP_EDGE, NULL),
		                 GP_ENOTSUP);
		ck_assert_int_eq(
		        gp_add(p, fds[0], GP_READ | GP_EDGE | GP_ONESHOT, NULL),
		        GP_ENOTSUP);
		ck_assert_int_eq(gp_remove(p, fds[0]), GP_ENOENT);
		TU_EXPECT_NONE(p);
		ck_assert_int_eq(gp_add(p, fds[0], GP_READ, TU_TAG(1)), 0);
		ck_assert_int_eq(
		        gp_modify(p, fds[0], GP_READ | GP_EDGE, TU_TAG(2)),
		        GP_ENOTSUP);
		/* The level registration is unchanged. */
		TU_EXPECT_ONE(p, fds[0], TU_TAG(1), GP_READ);
		TU_EXPECT_ONE(p, fds[0], TU_TAG(1), GP_READ);
		ck_assert_int_eq(gp_remove(p, fds[0]), 0);
	}
	tu_close_pair(fds);
	gp_poller_free(p);
}
END_TEST

START_TEST(test_modify_errors)
{
	gp_poller *p = tu_new();
	tu_fd fds[2], sv[2];

	tu_pipe(fds);
	tu_socketpair(sv);
	ck_assert_int_eq(gp_modify(p, -1, GP_READ, NULL), GP_EBADF);
#ifndef TU_WINDOWS /* a SOCKET is unsigned: no other "negative" value */
	ck_assert_int_eq(gp_modify(p, -7, GP_READ, NULL), GP_EBADF);
#endif
	/* Open but not registered. */
	ck_assert_int_eq(gp_modify(p, fds[0], GP_READ, NULL), GP_ENOENT);
	ck_assert_int_eq(gp_modify(p, sv[0], GP_WRITE, NULL), GP_ENOENT);
	/* gp_modify does not register. */
	tu_write1(fds[1]);
	TU_EXPECT_NONE(p);

	ck_assert_int_eq(gp_add(p, fds[0], GP_READ, TU_TAG(1)), 0);
	for (int i = 0; i < N_BAD; i++) {
		int r = gp_modify(p, fds[0], bad_events[i], TU_TAG(2));
		ck_assert_msg(r == GP_EINVAL, "events %#x: %d", bad_events[i],
		              r);
		/* The old registration still reports, with the old data. */
		TU_EXPECT_ONE(p, fds[0], TU_TAG(1), GP_READ);
	}
	/* An unknown fd is GP_ENOENT whatever the flags (or GP_EINVAL). */
	{
		int r = gp_modify(p, sv[0], GP_READ | GP_HUP, NULL);
		ck_assert_msg(r == GP_ENOENT || r == GP_EINVAL, "r = %d", r);
	}
	ck_assert_int_eq(gp_remove(p, fds[0]), 0);
	ck_assert_int_eq(gp_modify(p, fds[0], GP_READ, TU_TAG(3)), GP_ENOENT);
	TU_EXPECT_NONE(p);
	tu_close_pair(fds);
	tu_close_pair(sv);
	gp_poller_free(p);
}
END_TEST

/* Misuse: a registered descriptor is closed without gp_remove and its
 * number goes to a new file, then gp_modify is called on that number.
 * What each backend does is documented in gp_modify(3):
 *   epoll: the kernel forgot the closed file, so GP_EBADF, and the
 *     registration (still in the table) keeps its old data; gp_remove then
 *     succeeds and the new file can be added;
 *   poll: it watches numbers, so the modify succeeds and applies to the
 *     new file;
 *   kqueue: libkqueue keeps the knotes of a closed descriptor and behaves
 *     like poll; a native kqueue deletes them on close and behaves like
 *     epoll.  Either is accepted here (no native kqueue in CI). */
#ifndef TU_WINDOWS
START_TEST(test_modify_closed_and_reused)
{
	gp_poller *p = tu_new();
	tu_fd a[2], b[2];
	int rc;

	tu_pipe(a);
	ck_assert_int_eq(gp_add(p, a[0], GP_READ, TU_TAG(1)), 0);
	tu_close(a[0]);
	tu_pipe(b);
	if (b[0] != a[0]) {
		tu_skip("test_modify_closed_and_reused: number %d not reused",
		        a[0]);
		goto out;
	}
	tu_write1(b[1]);
	rc = gp_modify(p, b[0], GP_READ, TU_TAG(2));
	if (tu_is_epoll() || (tu_is_kqueue() && rc == GP_EBADF)) {
		ck_assert_int_eq(rc, GP_EBADF);
		/* The new file is not watched; the old registration stays
		 * until removed. */
		TU_EXPECT_NONE(p);
		ck_assert_int_eq(gp_modify(p, b[0], GP_READ, TU_TAG(2)),
		                 GP_EBADF);
		ck_assert_int_eq(gp_remove(p, b[0]), 0);
		ck_assert_int_eq(gp_add(p, b[0], GP_READ, TU_TAG(3)), 0);
		TU_EXPECT_ONE(p, b[0], TU_TAG(3), GP_READ);
	} else {
		ck_assert_int_eq(rc, 0);
		TU_EXPECT_ONE(p, b[0], TU_TAG(2), GP_READ);
	}
	ck_assert_int_eq(gp_remove(p, b[0]), 0);
	ck_assert_int_eq(gp_remove(p, b[0]), GP_ENOENT);
	TU_EXPECT_NONE(p);
out:
	tu_close(a[1]);
	tu_close_pair(b);
	gp_poller_free(p);
}
END_TEST
#else
TU_POSIX_ONLY_TEST(test_modify_closed_and_reused,
                   "a closed SOCKET's value is not handed out again at once")
#endif

/* A failed gp_modify of a oneshot registration does not re-arm it. */
START_TEST(test_modify_error_keeps_oneshot_disarmed)
{
	gp_poller *p = tu_new();
	tu_fd fds[2];

	tu_pipe(fds);
	tu_write1(fds[1]);
	ck_assert_int_eq(gp_add(p, fds[0], GP_READ | GP_ONESHOT, TU_TAG(1)), 0);
	TU_EXPECT_ONE(p, fds[0], TU_TAG(1), GP_READ);
	TU_EXPECT_NONE(p);
	ck_assert_int_eq(gp_modify(p, fds[0], GP_READ | GP_HUP, TU_TAG(2)),
	                 GP_EINVAL);
	TU_EXPECT_NONE(p);
	ck_assert_int_eq(gp_modify(p, fds[0], GP_READ | GP_ONESHOT, TU_TAG(3)),
	                 0);
	TU_EXPECT_ONE(p, fds[0], TU_TAG(3), GP_READ);
	TU_EXPECT_NONE(p);
	ck_assert_int_eq(gp_remove(p, fds[0]), 0);
	tu_close_pair(fds);
	gp_poller_free(p);
}
END_TEST

START_TEST(test_remove_errors)
{
	gp_poller *p = tu_new();
	tu_fd fds[2];

	tu_pipe(fds);
	ck_assert_int_eq(gp_remove(p, -1), GP_EBADF);
#ifndef TU_WINDOWS /* a SOCKET is unsigned: no other "negative" value */
	ck_assert_int_eq(gp_remove(p, -42), GP_EBADF);
#endif
	ck_assert_int_eq(gp_remove(p, fds[0]), GP_ENOENT);
	ck_assert_int_eq(gp_remove(p, 1000000), GP_ENOENT);
	ck_assert_int_eq(gp_add(p, fds[0], GP_READ, TU_TAG(1)), 0);
	ck_assert_int_eq(gp_add(p, fds[1], GP_WRITE, TU_TAG(2)), 0);
	ck_assert_int_eq(gp_remove(p, fds[0]), 0);
	ck_assert_int_eq(gp_remove(p, fds[0]), GP_ENOENT);
	/* The other registration is untouched. */
	tu_write1(fds[1]);
	TU_EXPECT_ONE(p, fds[1], TU_TAG(2), GP_WRITE);
	ck_assert_int_eq(gp_remove(p, fds[1]), 0);
	TU_EXPECT_NONE(p);
	tu_close_pair(fds);
	gp_poller_free(p);
}
END_TEST

START_TEST(test_wait_args)
{
	gp_poller *p = tu_new();
	gp_event ev[2];
	tu_ready r;

	tu_ready_init(&r);
	ck_assert_int_eq(gp_wait(NULL, ev, 2, 0), GP_EINVAL);
	ck_assert_int_eq(gp_wait(p, NULL, 2, 0), GP_EINVAL);
	ck_assert_int_eq(gp_wait(p, ev, 0, 0), GP_EINVAL);
	ck_assert_int_eq(gp_wait(p, ev, -1, 0), GP_EINVAL);
	/* Refused at once even with an infinite timeout. */
	ck_assert_int_eq(gp_wait(p, ev, 0, -1), GP_EINVAL);
	ck_assert_int_eq(gp_wait(NULL, ev, 2, -1), GP_EINVAL);

	ck_assert_int_eq(gp_wait_start(NULL, 0, tu_ready_cb, &r), GP_EINVAL);
	ck_assert_int_eq(gp_wait_start(p, 0, NULL, &r), GP_EINVAL);
	ck_assert_int_eq(gp_wait_collect(NULL, ev, 2), GP_EINVAL);
	ck_assert_int_eq(gp_wait_collect(p, NULL, 2), GP_EINVAL);
	ck_assert_int_eq(gp_wait_collect(p, ev, 0), GP_EINVAL);
	ck_assert_int_eq(gp_wait_collect(p, ev, -3), GP_EINVAL);
	ck_assert_int_eq(gp_notify(NULL), GP_EINVAL);
	/* No wait was started by the failed calls. */
	tu_sleep_ms(20);
	ck_assert_int_eq(tu_ready_count(&r), 0);
	ck_assert_int_eq(gp_wait_collect(p, ev, 2), 0);
	ck_assert_int_eq(gp_wait(p, ev, 2, 0), 0);
	gp_poller_free(p);
	tu_ready_destroy(&r);
}
END_TEST

/* Errors on one poller leave the registrations of the fd in another
 * poller alone. */
START_TEST(test_errors_per_poller)
{
	gp_poller *p = tu_new(), *q = tu_new();
	tu_fd fds[2];

	tu_pipe(fds);
	tu_write1(fds[1]);
	ck_assert_int_eq(gp_add(p, fds[0], GP_READ, TU_TAG(1)), 0);
	ck_assert_int_eq(gp_remove(q, fds[0]), GP_ENOENT);
	ck_assert_int_eq(gp_modify(q, fds[0], GP_WRITE, NULL), GP_ENOENT);
	TU_EXPECT_ONE(p, fds[0], TU_TAG(1), GP_READ);
	TU_EXPECT_NONE(q);
	ck_assert_int_eq(gp_remove(p, fds[0]), 0);
	tu_close_pair(fds);
	gp_poller_free(p);
	gp_poller_free(q);
}
END_TEST

Suite *
errors_suite(void)
{
	Suite *s = suite_create("errors");
	TCase *tc = tcase_create("errors");

	tcase_set_timeout(tc, TU_TIMEOUT);
	tcase_add_test(tc, test_add_null_poller);
	tcase_add_test(tc, test_add_bad_fd);
	tcase_add_test(tc, test_add_twice);
	tcase_add_test(tc, test_add_bad_events);
	tcase_add_test(tc, test_edge_support);
	tcase_add_test(tc, test_modify_errors);
	tcase_add_test(tc, test_modify_closed_and_reused);
	tcase_add_test(tc, test_modify_error_keeps_oneshot_disarmed);
	tcase_add_test(tc, test_remove_errors);
	tcase_add_test(tc, test_wait_args);
	tcase_add_test(tc, test_errors_per_poller);
	suite_add_tcase(s, tc);
	return s;
}
