/* test_stale.c - stale-event protection, the core promise of the split
 * wait: an event the waiter thread gathered must not be delivered after
 * the owner removed, replaced or changed the registration it was for.
 *
 * Each test: make a registration ready, gp_wait_start, wait for the ready
 * callback (the kernel has reported the event), change the registration,
 * and only then gp_wait_collect.  Every test runs on a pipe (_i == 0) and
 * on an AF_UNIX socketpair (_i == 1).
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _GNU_SOURCE

#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <unistd.h>
#endif

#include "testutil.h"

#define OLD TU_TAG(100)
#define NEW TU_TAG(200)

/* A registrable endpoint: rd is registered, wr makes it readable. */
struct ep {
	tu_fd rd, wr;
};

static struct ep
ep_open(int kind)
{
	tu_fd fds[2];
	struct ep e;

	if (kind == 0)
		tu_pipe(fds);
	else
		tu_socketpair(fds);
	e.rd = fds[0];
	e.wr = fds[1];
	return e;
}

static void
ep_close(struct ep e)
{
	tu_close(e.rd);
	tu_close(e.wr);
}

#ifndef TU_WINDOWS
/* Closes e and opens a new endpoint of the same kind, which gets the same
 * number for rd (the lowest free one). */
static struct ep
ep_reopen(struct ep e, int kind)
{
	struct ep e2;

	ep_close(e);
	e2 = ep_open(kind);
	ck_assert_int_eq(e2.rd, e.rd);
	return e2;
}
#endif

/* The stress test's replacement of an endpoint: ep_reopen() on POSIX; on
 * Windows, where a closed socket's value does not come back at once, a
 * new endpoint with whatever value it gets. */
static struct ep
ep_replace(struct ep e, int kind)
{
#ifdef TU_WINDOWS
	ep_close(e);
	return ep_open(kind);
#else
	return ep_reopen(e, kind);
#endif
}

struct fixture {
	gp_poller *p;
	tu_ready r;
	struct ep e;
	gp_event ev[8];
};

static void
fixture_open(struct fixture *f, int kind)
{
	memset(f, 0, sizeof *f);
	f->p = tu_new();
	tu_ready_init(&f->r);
	f->e = ep_open(kind);
}

/* A poller with e.rd registered (interest `events`, data OLD), made
 * readable, and a split wait whose ready callback has run. */
static void
setup(struct fixture *f, int kind, unsigned events)
{
	fixture_open(f, kind);
	ck_assert_int_eq(gp_add(f->p, f->e.rd, events, OLD), 0);
	tu_write1(f->e.wr);
	tu_start_await(f->p, -1, &f->r, 1);
}

static void
teardown(struct fixture *f)
{
	gp_poller_free(f->p);
	tu_ready_destroy(&f->r);
}

/* teardown() for a fixture whose e.rd is still registered: removes it
 * and closes e first. */
static void
teardown_registered(struct fixture *f)
{
	ck_assert_int_eq(gp_remove(f->p, f->e.rd), 0);
	ep_close(f->e);
	teardown(f);
}

/* Collects everything; asserts that no record carries OLD. */
static int
collect_no_old(struct fixture *f)
{
	int n = gp_wait_collect(f->p, f->ev, 8);

	ck_assert_int_ge(n, 0);
	ck_assert_msg(tu_find_data(f->ev, n, OLD) < 0,
	              "stale record with the old data delivered");
	for (int i = 0; i < n; i++)
		ck_assert_uint_eq(f->ev[i].events & GP_NOTIFIED, 0);
	ck_assert_int_eq(gp_wait_collect(f->p, f->ev, 8), 0);
	return n;
}

/* collect_no_old() where at most one record may come, the new data on fd
 * (which is really ready). */
static void
collect_at_most_new(struct fixture *f, tu_fd fd)
{
	int n = collect_no_old(f);

	ck_assert_int_le(n, 1);
	if (n == 1)
		TU_ASSERT_EVENT(f->ev[0], NEW, fd, GP_READ);
}

/* Collects, then polls three times: every record carries data (none is
 * stale); returns how many there were in all. */
static int
count_deliveries(struct fixture *f, void *data)
{
	int n = gp_wait_collect(f->p, f->ev, 8), total;

	ck_assert_int_ge(n, 0);
	ck_assert_msg(tu_count_data(f->ev, n, data) == n,
	              "collected a record with other data (stale)");
	ck_assert_int_eq(gp_wait_collect(f->p, f->ev, 8), 0);
	total = n;
	for (int k = 0; k < 3; k++) {
		n = gp_wait(f->p, f->ev, 8, 0);
		ck_assert_int_ge(n, 0);
		ck_assert_int_eq(tu_count_data(f->ev, n, data), n);
		total += n;
	}
	return total;
}

/* (a) Removed before collect: nothing. */
START_TEST(test_stale_remove)
{
	struct fixture f;

	setup(&f, _i, GP_READ);
	ck_assert_int_eq(gp_remove(f.p, f.e.rd), 0);
	ck_assert_int_eq(collect_no_old(&f), 0);
	ck_assert_int_eq(gp_wait(f.p, f.ev, 8, 0), 0);
	ep_close(f.e);
	teardown(&f);
}
END_TEST

#ifndef TU_WINDOWS
/* (b) Removed, closed, and a new endpoint with the same number registered
 * (not ready) with new data: nothing; the new one reports once ready. */
START_TEST(test_stale_reused_number)
{
	struct fixture f;

	setup(&f, _i, GP_READ);
	ck_assert_int_eq(gp_remove(f.p, f.e.rd), 0);
	f.e = ep_reopen(f.e, _i);
	ck_assert_int_eq(gp_add(f.p, f.e.rd, GP_READ, NEW), 0);
	ck_assert_int_eq(collect_no_old(&f), 0);
	ck_assert_int_eq(gp_wait(f.p, f.ev, 8, 0), 0);
	tu_write1(f.e.wr);
	ck_assert_int_eq(gp_wait(f.p, f.ev, 8, 0), 1);
	TU_ASSERT_EVENT(f.ev[0], NEW, f.e.rd, GP_READ);
	teardown_registered(&f);
}
END_TEST

/* (b2) As (b), but the new endpoint is ready too: a record with the new
 * data is acceptable (it is really ready), the old data never; level
 * reports it by the next wait at the latest. */
START_TEST(test_stale_reused_number_ready)
{
	struct fixture f;
	int n, i;

	setup(&f, _i, GP_READ);
	ck_assert_int_eq(gp_remove(f.p, f.e.rd), 0);
	f.e = ep_reopen(f.e, _i);
	tu_write1(f.e.wr);
	ck_assert_int_eq(gp_add(f.p, f.e.rd, GP_READ, NEW), 0);
	collect_at_most_new(&f, f.e.rd);
	n = gp_wait(f.p, f.ev, 8, 0);
	ck_assert_int_eq(n, 1);
	i = tu_find_data(f.ev, n, NEW);
	ck_assert_int_eq(i, 0);
	ck_assert_int_eq(f.ev[0].fd, f.e.rd);
	teardown_registered(&f);
}
END_TEST

/* (b3) The new endpoint has the same number but is registered for WRITE
 * only, and is writable (a socket) or not (a pipe read end): no record
 * may carry the old data or GP_READ. */
START_TEST(test_stale_reused_number_other_interest)
{
	struct fixture f;
	int n;

	setup(&f, _i, GP_READ);
	ck_assert_int_eq(gp_remove(f.p, f.e.rd), 0);
	f.e = ep_reopen(f.e, _i);
	tu_write1(f.e.wr); /* readable, but READ is not asked for */
	ck_assert_int_eq(gp_add(f.p, f.e.rd, GP_WRITE, NEW), 0);
	n = collect_no_old(&f);
	for (int i = 0; i < n; i++) {
		ck_assert_ptr_eq(f.ev[i].data, NEW);
		TU_ASSERT_BITS(f.ev[i].events, 0, GP_READ);
	}
	if (_i == 0)
		ck_assert_int_eq(n, 0); /* a pipe read end is never writable */
	teardown_registered(&f);
}
END_TEST
#else
TU_POSIX_ONLY_TEST(test_stale_reused_number,
                   "a closed SOCKET's value is not handed out again at once")
TU_POSIX_ONLY_TEST(test_stale_reused_number_ready,
                   "a closed SOCKET's value is not handed out again at once")
TU_POSIX_ONLY_TEST(test_stale_reused_number_other_interest,
                   "a closed SOCKET's value is not handed out again at once")
#endif

/* (c) Removed and re-added (same fd, still ready) with new data. */
START_TEST(test_stale_readd_same_fd)
{
	struct fixture f;

	setup(&f, _i, GP_READ);
	ck_assert_int_eq(gp_remove(f.p, f.e.rd), 0);
	ck_assert_int_eq(gp_add(f.p, f.e.rd, GP_READ, NEW), 0);
	collect_at_most_new(&f, f.e.rd);
	/* Nothing lost: still ready, reported with the new data. */
	ck_assert_int_eq(gp_wait(f.p, f.ev, 8, 0), 1);
	ck_assert_ptr_eq(f.ev[0].data, NEW);
	teardown_registered(&f);
}
END_TEST

/* (c2) Removed, drained, re-added with new data: not ready, so nothing at
 * all may be collected. */
START_TEST(test_stale_readd_not_ready)
{
	struct fixture f;

	setup(&f, _i, GP_READ);
	ck_assert_int_eq(gp_remove(f.p, f.e.rd), 0);
	ck_assert_int_eq(tu_drain(f.e.rd), 1);
	ck_assert_int_eq(gp_add(f.p, f.e.rd, GP_READ, NEW), 0);
	ck_assert_int_eq(collect_no_old(&f), 0);
	ck_assert_int_eq(gp_wait(f.p, f.ev, 8, 0), 0);
	teardown_registered(&f);
}
END_TEST

/* (d) Modified from READ to WRITE on an endpoint that is readable but not
 * writable (a pipe read end; a socket with a full send buffer): the READ
 * event is dropped, nothing is collected. */
START_TEST(test_stale_modify_interest)
{
	struct fixture f;

	fixture_open(&f, _i);
	if (_i == 1 || TU_PIPE_IS_SOCKET)
		tu_fill(f.e.rd);
	ck_assert_int_eq(tu_poll1(f.e.rd, TU_POLLOUT) & TU_POLLOUT, 0);
	ck_assert_int_eq(gp_add(f.p, f.e.rd, GP_READ, OLD), 0);
	tu_write1(f.e.wr);
	tu_start_await(f.p, -1, &f.r, 1);
	ck_assert_int_eq(gp_modify(f.p, f.e.rd, GP_WRITE, NEW), 0);
	ck_assert_int_eq(collect_no_old(&f), 0);
	ck_assert_int_eq(gp_wait(f.p, f.ev, 8, 0), 0);
	teardown_registered(&f);
}
END_TEST

/* (d2) Modified keeping the interest but with new data: no record with
 * the old data; the new data by the next wait. */
START_TEST(test_stale_modify_data)
{
	struct fixture f;

	setup(&f, _i, GP_READ);
	ck_assert_int_eq(gp_modify(f.p, f.e.rd, GP_READ, NEW), 0);
	collect_at_most_new(&f, f.e.rd);
	ck_assert_int_eq(gp_wait(f.p, f.ev, 8, 0), 1);
	ck_assert_ptr_eq(f.ev[0].data, NEW);
	teardown_registered(&f);
}
END_TEST

/* (d3) READ|WRITE narrowed to WRITE with the SAME data on a readable and
 * writable socket: whatever is collected carries no GP_READ. */
START_TEST(test_stale_modify_masks_interest)
{
	struct fixture f;
	int n;

	setup(&f, 1, GP_READ | GP_WRITE);
	ck_assert_int_eq(gp_modify(f.p, f.e.rd, GP_WRITE, OLD), 0);
	n = gp_wait_collect(f.p, f.ev, 8);
	ck_assert_int_ge(n, 0);
	ck_assert_int_le(n, 1);
	for (int i = 0; i < n; i++) {
		ck_assert_ptr_eq(f.ev[i].data, OLD);
		ck_assert_uint_eq(f.ev[i].events, GP_WRITE);
	}
	ck_assert_int_eq(gp_wait(f.p, f.ev, 8, 0), 1);
	ck_assert_uint_eq(f.ev[0].events, GP_WRITE);
	teardown_registered(&f);
}
END_TEST

/* (e) A oneshot registration re-armed by gp_modify before collect: the
 * old arming's event is not delivered, and the new arming is delivered
 * exactly once in total (the old event must not be passed off as the new
 * arming's and then reported again). */
START_TEST(test_stale_oneshot_rearm)
{
	struct fixture f;

	setup(&f, _i, GP_READ | GP_ONESHOT);
	ck_assert_int_eq(gp_modify(f.p, f.e.rd, GP_READ | GP_ONESHOT, NEW), 0);
	ck_assert_int_eq(count_deliveries(&f, NEW), 1);
	teardown_registered(&f);
}
END_TEST

/* (e2) Re-armed with the SAME data: still exactly one delivery in total
 * for the new arming (plus none for the old one, which was already
 * consumed by the kernel report the waiter holds). */
START_TEST(test_stale_oneshot_rearm_same_data)
{
	struct fixture f;

	setup(&f, _i, GP_READ | GP_ONESHOT);
	ck_assert_int_eq(gp_modify(f.p, f.e.rd, GP_READ | GP_ONESHOT, OLD), 0);
	ck_assert_int_eq(count_deliveries(&f, OLD), 1);
	teardown_registered(&f);
}
END_TEST

/* (f) Collect with max = 1 validates each record just before handing it
 * out: removing the other registration between two collects drops its
 * record. */
START_TEST(test_stale_between_collects)
{
	struct fixture f;
	struct ep e2;
	tu_fd first_fd, other_fd;
	void *other_data;

	fixture_open(&f, _i);
	e2 = ep_open(_i);
	ck_assert_int_eq(gp_add(f.p, f.e.rd, GP_READ, OLD), 0);
	ck_assert_int_eq(gp_add(f.p, e2.rd, GP_READ, NEW), 0);
	tu_write1(f.e.wr);
	tu_write1(e2.wr);
	tu_start_await(f.p, -1, &f.r, 1);
	ck_assert_int_eq(gp_wait_collect(f.p, f.ev, 1), 1);
	first_fd = f.ev[0].fd;
	ck_assert(first_fd == f.e.rd || first_fd == e2.rd);
	other_fd = first_fd == f.e.rd ? e2.rd : f.e.rd;
	other_data = first_fd == f.e.rd ? NEW : OLD;
	ck_assert_ptr_eq(f.ev[0].data, first_fd == f.e.rd ? OLD : NEW);
	ck_assert_int_eq(gp_remove(f.p, other_fd), 0);
	ck_assert_int_eq(gp_wait_collect(f.p, f.ev, 1), 0);
	ck_assert_int_eq(gp_wait_collect(f.p, f.ev, 8), 0);
	ck_assert_int_eq(gp_wait(f.p, f.ev, 8, 0), 1);
	ck_assert_int_eq(f.ev[0].fd, first_fd);
	ck_assert_ptr_ne(f.ev[0].data, other_data);
	ck_assert_int_eq(gp_remove(f.p, first_fd), 0);
	ep_close(f.e);
	ep_close(e2);
	teardown(&f);
}
END_TEST

#ifndef TU_WINDOWS
/* (g) Removed, closed and the number reused while the split wait is STILL
 * in flight (before any report): the new registration's events only. */
START_TEST(test_stale_reuse_while_in_flight)
{
	gp_poller *p = tu_new();
	tu_ready r;
	struct ep e = ep_open(_i), e2;
	gp_event ev[8];
	int n;

	tu_ready_init(&r);
	ck_assert_int_eq(gp_add(p, e.rd, GP_READ, OLD), 0);
	tu_start(p, -1, &r);
	tu_sleep_ms(20);
	ck_assert_int_eq(gp_remove(p, e.rd), 0);
	tu_write1(e.wr);
	e2 = ep_reopen(e, _i);
	ck_assert_int_eq(gp_add(p, e2.rd, GP_READ, NEW), 0);
	tu_sleep_ms(30);
	ck_assert_int_eq(tu_ready_count(&r), 0);
	tu_write1(e2.wr);
	tu_await_ready(&r, 1);
	n = gp_wait_collect(p, ev, 8);
	ck_assert_int_eq(n, 1);
	ck_assert_ptr_eq(ev[0].data, NEW);
	ck_assert_int_eq(ev[0].fd, e2.rd);
	ck_assert_int_eq(gp_remove(p, e2.rd), 0);
	ep_close(e2);
	gp_poller_free(p);
	tu_ready_destroy(&r);
}
END_TEST
#else
TU_POSIX_ONLY_TEST(test_stale_reuse_while_in_flight,
                   "a closed SOCKET's value is not handed out again at once")
#endif

/* (g2) Only stale records, for ever: a descriptor closed before gp_remove
 * while a dup() keeps its file open stays in epoll's set, which goes on
 * reporting it under a token the table no longer has.  An infinite wait
 * must not spin inside the library: it returns 0 after a bounded number of
 * such rounds (gp_wait(3)); the split wait calls ready, and collect gives
 * 0.  Other backends forget the descriptor: nothing is reported. */
#ifndef TU_WINDOWS
START_TEST(test_stale_only_records_bounded)
{
	gp_poller *p = tu_new();
	tu_fd fds[2], copy;
	gp_event ev[4];
	tu_after wd;
	tu_ready r;

	tu_ready_init(&r);
	tu_pipe(fds);
	tu_write1(fds[1]);
	copy = dup(fds[0]);
	ck_assert_int_ge(copy, 0);
	ck_assert_int_eq(gp_add(p, fds[0], GP_READ, TU_TAG(1)), 0);
	close(fds[0]);
	ck_assert_int_eq(gp_remove(p, fds[0]), 0);
	if (!tu_is_epoll()) {
		TU_EXPECT_NONE(p);
		ck_assert_int_eq(gp_wait(p, ev, 4, TU_MS(20)), 0);
	} else {
		for (int i = 0; i < 3; i++) {
			tu_watchdog_start(&wd, p);
			ck_assert_int_eq(gp_wait(p, ev, 4, -1), 0);
			ck_assert_int_eq(tu_after_stop(&wd), 0);
		}
		ck_assert_int_eq(gp_wait(p, ev, 4, TU_MS(60000)), 0);
		ck_assert_int_eq(gp_wait(p, ev, 4, 0), 0);
		tu_watchdog_start(&wd, p);
		tu_start_await(p, -1, &r, 1);
		ck_assert_int_eq(gp_wait_collect(p, ev, 4), 0);
		ck_assert_int_eq(tu_after_stop(&wd), 0);
		ck_assert_int_eq(gp_wait_state(p), GP_WAIT_IDLE);
	}
	/* A notification still comes through, alone. */
	ck_assert_int_eq(gp_notify(p), 0);
	ck_assert_int_eq(gp_wait(p, ev, 4, -1), 1);
	TU_ASSERT_NOTIFIED(ev[0]);
	/* A live registration is reported among the stale records. */
	ck_assert_int_eq(gp_add(p, fds[1], GP_WRITE, TU_TAG(2)), 0);
	ck_assert_int_eq(gp_wait(p, ev, 4, -1), 1);
	TU_ASSERT_EVENT(ev[0], TU_TAG(2), fds[1], GP_WRITE);
	ck_assert_int_eq(gp_remove(p, fds[1]), 0);
	close(copy);
	close(fds[1]);
	gp_poller_free(p);
	tu_ready_destroy(&r);
}
END_TEST
#else
TU_POSIX_ONLY_TEST(test_stale_only_records_bounded, "dup() of a descriptor")
#endif

/* (h) Stress: many registrations, random changes between ready and
 * collect, numbers reused.  Every collected record must belong to a
 * registration that existed when the wait started and was not changed
 * since, carry its current data and fd; and every such registration that
 * was ready when the wait started must be collected (nothing lost). */
enum { SN = 12 };
struct slot {
	struct ep e;
	int registered;
	uintptr_t gen; /* data = TU_TAG(gen) */
	int ready;     /* data written, not drained */
	int was_ready; /* registered and ready when the wait started */
	int changed;   /* registration changed after the wait started */
	int seen;
};

static uintptr_t next_gen = 1;

static void
slot_register(gp_poller *p, struct slot *s)
{
	s->gen = next_gen++;
	ck_assert_int_eq(gp_add(p, s->e.rd, GP_READ, TU_TAG(s->gen)), 0);
	s->registered = 1;
}

static void
slot_change(gp_poller *p, struct slot *s, int kind, unsigned *seed)
{
	switch (tu_rand_r(seed) % 8) {
	case 0: /* remove */
		if (s->registered) {
			ck_assert_int_eq(gp_remove(p, s->e.rd), 0);
			s->registered = 0;
			s->changed = 1;
		}
		break;
	case 1: /* remove, close, reopen (same number), add */
		if (s->registered) {
			ck_assert_int_eq(gp_remove(p, s->e.rd), 0);
			s->e = ep_replace(s->e, kind);
			s->ready = 0;
			if (tu_rand_r(seed) % 2) {
				tu_write1(s->e.wr);
				s->ready = 1;
			}
			slot_register(p, s);
			s->changed = 1;
		}
		break;
	case 2: /* modify, new data */
		if (s->registered) {
			s->gen = next_gen++;
			ck_assert_int_eq(
			        gp_modify(p, s->e.rd, GP_READ, TU_TAG(s->gen)),
			        0);
			s->changed = 1;
		}
		break;
	case 3: /* drain (readiness, not the registration, changes) */
		tu_drain(s->e.rd);
		s->ready = 0;
		break;
	case 4: /* re-add a removed one */
		if (!s->registered) {
			slot_register(p, s);
			s->changed = 1;
		}
		break;
	default:
		break;
	}
}

START_TEST(test_stale_stress)
{
	gp_poller *p = tu_new();
	tu_ready r;
	struct slot s[SN];
	gp_event ev[SN * 2];
	unsigned seed = 12345u + (unsigned)_i;

	tu_ready_init(&r);
	memset(s, 0, sizeof s);
	next_gen = 1;
	for (int i = 0; i < SN; i++) {
		s[i].e = ep_open(_i);
		slot_register(p, &s[i]);
	}
	for (int round = 0; round < 400; round++) {
		int n, any = 0;
		for (int i = 0; i < SN; i++) {
			if (!s[i].ready && tu_rand_r(&seed) % 2) {
				tu_write1(s[i].e.wr);
				s[i].ready = 1;
			}
			s[i].was_ready = s[i].registered && s[i].ready;
			s[i].changed = 0;
			s[i].seen = 0;
			any |= s[i].was_ready;
		}
		tu_start_await(p, any ? -1 : 0, &r, round + 1);
		for (int i = 0; i < SN; i++)
			slot_change(p, &s[i], _i, &seed);
		n = gp_wait_collect(p, ev, SN * 2);
		ck_assert_int_ge(n, 0);
		for (int k = 0; k < n; k++) {
			int found = -1;
			for (int i = 0; i < SN; i++)
				if (s[i].registered &&
				    ev[k].data == TU_TAG(s[i].gen))
					found = i;
			ck_assert_msg(found >= 0,
			              "round %d: record with data %p, which "
			              "is not registered (stale)",
			              round, ev[k].data);
			ck_assert_msg(!s[found].changed,
			              "round %d: record for slot %d, changed "
			              "after the kernel reported (stale)",
			              round, found);
			ck_assert_msg(s[found].was_ready,
			              "round %d: record for slot %d, which "
			              "was not ready",
			              round, found);
			ck_assert_int_eq(ev[k].fd, s[found].e.rd);
			ck_assert_uint_eq(ev[k].events, GP_READ);
			ck_assert_int_eq(s[found].seen, 0);
			s[found].seen = 1;
		}
		for (int i = 0; i < SN; i++)
			ck_assert_msg(!s[i].was_ready || s[i].changed ||
			                      s[i].seen,
			              "round %d: slot %d was ready but not "
			              "collected",
			              round, i);
		ck_assert_int_eq(gp_wait_collect(p, ev, SN * 2), 0);
	}
	for (int i = 0; i < SN; i++) {
		if (s[i].registered)
			ck_assert_int_eq(gp_remove(p, s[i].e.rd), 0);
		ep_close(s[i].e);
	}
	gp_poller_free(p);
	tu_ready_destroy(&r);
}
END_TEST

Suite *
stale_suite(void)
{
	Suite *s = suite_create("stale");
	TCase *tc = tcase_create("stale");

	tcase_set_timeout(tc, TU_TIMEOUT);
	tcase_add_loop_test(tc, test_stale_remove, 0, 2);
	tcase_add_loop_test(tc, test_stale_reused_number, 0, 2);
	tcase_add_loop_test(tc, test_stale_reused_number_ready, 0, 2);
	tcase_add_loop_test(tc, test_stale_reused_number_other_interest, 0, 2);
	tcase_add_loop_test(tc, test_stale_readd_same_fd, 0, 2);
	tcase_add_loop_test(tc, test_stale_readd_not_ready, 0, 2);
	tcase_add_loop_test(tc, test_stale_modify_interest, 0, 2);
	tcase_add_loop_test(tc, test_stale_modify_data, 0, 2);
	tcase_add_test(tc, test_stale_modify_masks_interest);
	tcase_add_loop_test(tc, test_stale_oneshot_rearm, 0, 2);
	tcase_add_loop_test(tc, test_stale_oneshot_rearm_same_data, 0, 2);
	tcase_add_loop_test(tc, test_stale_between_collects, 0, 2);
	tcase_add_loop_test(tc, test_stale_reuse_while_in_flight, 0, 2);
	tcase_add_loop_test(tc, test_stale_stress, 0, 2);
	tcase_add_test(tc, test_stale_only_records_bounded);
	suite_add_tcase(s, tc);
	return s;
}
