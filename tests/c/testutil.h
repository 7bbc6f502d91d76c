/* testutil.h - helpers shared by the libguestpoll Check tests.
 *
 * The test binary runs once per backend: the backend is chosen by the
 * GUESTPOLL_BACKEND environment variable (set by run-epoll.sh and
 * run-poll.sh), so a poller made with default options uses it.
 *
 * Rules for the tests (so that they pass both with CK_FORK=yes and
 * CK_FORK=no, and under valgrind):
 * - close every descriptor and free every poller a test makes;
 * - never call ck_assert* from a helper thread: record the result and
 *   assert on the test's own thread;
 * - an "infinite" wait always has a tu_after() watchdog that notifies the
 *   poller after a few seconds, so a bug fails the test instead of hanging.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef GUESTPOLL_TESTUTIL_H
#define GUESTPOLL_TESTUTIL_H

#ifdef GP_TEST_MINICHECK
#include "minicheck.h"
#else
#include <check.h>
#endif
#include <poll.h>
#include <pthread.h>
#include <stdint.h>

#include "guestpoll.h"

/* ---- the suites (one file each) ----------------------------------------- */

Suite *basic_suite(void);
Suite *modes_suite(void);
Suite *errors_suite(void);
Suite *wait_suite(void);
Suite *threads_suite(void);
Suite *split_suite(void);
Suite *stale_suite(void);
Suite *lifecycle_suite(void);

/* Generous per-test timeout in seconds (Check's default is 4 s, which a
 * loaded machine can exceed); heavy tests use TU_TIMEOUT_LONG. */
#define TU_TIMEOUT      30
#define TU_TIMEOUT_LONG 120

/* How long a test is willing to wait for something that should happen
 * "at once" before declaring failure. */
#define TU_PATIENCE_MS 5000

/* Marks the current test as skipped, saying why (printf-like); the test
 * returns right after.  Under Check the reason is printed and the test
 * counts as passed (Check has no skip); minicheck counts it as skipped. */
#ifdef GP_TEST_MINICHECK
#define tu_skip(...) mc_skip(__VA_ARGS__)
#else
void tu_skip(const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 1, 2)))
#endif
        ;
#endif

/* ---- the backend under test ------------------------------------------- */

/* The backend a default poller uses in this run ("epoll" or "poll"), set by
 * main() before the suites run. */
extern char tu_backend[16];
int tu_is_epoll(void);

/* A poller with default options (so GUESTPOLL_BACKEND applies); asserts
 * that it was made and uses tu_backend. */
gp_poller *tu_new(void);
gp_poller *tu_new_max(int max_events);

/* ---- time ---------------------------------------------------------------- */

int64_t tu_now_ns(void);
void tu_sleep_ms(int ms);
#define TU_MS(x) ((int64_t)(x)*1000000)

/* ---- descriptors ------------------------------------------------------- */

/* Non-blocking, close-on-exec pipe and AF_UNIX stream socketpair. */
void tu_pipe(int fds[2]);
void tu_socketpair(int sv[2]);
void tu_close(int fd);
/* Closes both descriptors of a pipe or socketpair. */
void tu_close_pair(const int fds[2]);
/* Writes one byte (asserts success). */
void tu_write1(int fd);
/* Reads everything available; returns the byte count (0 on EOF or none). */
long tu_drain(int fd);
/* Writes to a non-blocking socket until it would block; afterwards poll()
 * confirms it is not writable. */
void tu_fill(int fd);
/* poll() on one fd with timeout 0; returns revents. */
short tu_poll1(int fd, short events);
/* 1 if fd is an open descriptor. */
int tu_fd_is_open(int fd);
/* Number of open descriptors of this process (-1 if unknown). */
int tu_fd_count(void);

/* ---- results ------------------------------------------------------------ */

/* Index of the first record carrying data (or fd), -1 if none. */
int tu_find_data(const gp_event *ev, int n, const void *data);
int tu_find_fd(const gp_event *ev, int n, int fd);
int tu_count_data(const gp_event *ev, int n, const void *data);
/* Asserts that record e (a gp_event, not a pointer) carries data d, fd f
 * and exactly the events evs.  Macros, so that a failure names the line of
 * the test. */
#define TU_ASSERT_EVENT(e, d, f, evs)                                          \
	do {                                                                   \
		ck_assert_ptr_eq((e).data, (d));                               \
		ck_assert_int_eq((e).fd, (f));                                 \
		ck_assert_uint_eq((e).events, (evs));                          \
	} while (0)
/* Asserts that the event bits evs include all of `set` and none of
 * `clear`. */
#define TU_ASSERT_BITS(evs, set, clear)                                        \
	ck_assert_msg(((evs) & (set)) == (set) && !((evs) & (clear)),          \
	              "events %#x: want %#x set and %#x clear", (evs),         \
	              (unsigned)(set), (unsigned)(clear))
/* Asserts that record e is the record of a gp_notify(). */
#define TU_ASSERT_NOTIFIED(e)                                                  \
	TU_ASSERT_EVENT(e, NULL, GP_INVALID_FD, GP_NOTIFIED)
/* A wait with timeout 0 on p gives exactly one record (data d, fd f,
 * events evs); TU_EXPECT_NONE: gives none. */
#define TU_EXPECT_ONE(p, f, d, evs)                                            \
	do {                                                                   \
		gp_event tu_ev_[4];                                            \
		ck_assert_int_eq(gp_wait((p), tu_ev_, 4, 0), 1);               \
		TU_ASSERT_EVENT(tu_ev_[0], d, f, evs);                         \
	} while (0)
#define TU_EXPECT_NONE(p)                                                      \
	do {                                                                   \
		gp_event tu_ev_[4];                                            \
		ck_assert_int_eq(gp_wait((p), tu_ev_, 4, 0), 0);               \
	} while (0)
/* After gp_notify() calls that may have raced with the last wait: a wait
 * with timeout 0 gives at most one record, a GP_NOTIFIED one, and the next
 * wait nothing. */
void tu_expect_notify_leftover(gp_poller *p);
/* Tags usable as data pointers. */
#define TU_TAG(x) ((void *)(uintptr_t)(0x1000 + (x)))

/* ---- environment ------------------------------------------------------- */

/* Saves GUESTPOLL_BACKEND, sets it (NULL unsets), and restores it. */
typedef struct tu_env {
	int had;
	char value[64];
} tu_env;
void tu_env_set(tu_env *saved, const char *value);
void tu_env_restore(const tu_env *saved);

/* ---- delayed actions on a helper thread ---------------------------------- */

typedef void (*tu_action)(void *arg);
typedef struct tu_after {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int delay_ms;
	int cancelled;
	int fired;
	tu_action fn;
	void *arg;
} tu_after;
/* Runs fn(arg) on a new thread after delay_ms unless cancelled first. */
void tu_after_start(tu_after *a, int delay_ms, tu_action fn, void *arg);
/* Cancels (if not yet fired) and joins; returns 1 if fn ran. */
int tu_after_stop(tu_after *a);
/* An action calling gp_notify(arg). */
void tu_act_notify(void *poller);
/* An action writing one byte to the descriptor *(int *)fdp (the result is
 * not checked: no ck_assert on a helper thread). */
void tu_act_write1(void *fdp);
/* Watchdog for infinite waits: notifies p after TU_PATIENCE_MS. */
void tu_watchdog_start(tu_after *a, gp_poller *p);
/* Calls gp_wait(p, ev, max, timeout_ns) while a helper thread runs
 * fn(arg) after delay_ms, under a watchdog; asserts that fn ran and the
 * watchdog did not fire.  Returns gp_wait's result; *dt_ns (unless NULL)
 * gets the time from starting the helper to the wait's return. */
int tu_wait_during(gp_poller *p, gp_event *ev, int max, int64_t timeout_ns,
                   int delay_ms, tu_action fn, void *arg, int64_t *dt_ns);

/* ---- the split-wait ready callback ------------------------------------- */

typedef struct tu_ready {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int count;
	pthread_t thread;   /* thread of the last call */
	int signals_masked; /* SIGINT, SIGUSR1, SIGTERM blocked in the call */
} tu_ready;
void tu_ready_init(tu_ready *r);
void tu_ready_destroy(tu_ready *r);
/* The gp_ready_cb; arg is a tu_ready. */
void tu_ready_cb(void *arg);
/* Waits until count >= target or timeout_ms passed; returns the count. */
int tu_ready_wait(tu_ready *r, int target, int timeout_ms);
int tu_ready_count(tu_ready *r);

/* gp_wait_start with tu_ready_cb, asserting 0. */
void tu_start(gp_poller *p, int64_t timeout_ns, tu_ready *r);
/* Waits for the ready callback number `target` (asserting it comes within
 * TU_PATIENCE_MS). */
void tu_await_ready(tu_ready *r, int target);
/* Both: starts a split wait and waits for ready callback number target. */
void tu_start_await(gp_poller *p, int64_t timeout_ns, tu_ready *r, int target);

#endif /* GUESTPOLL_TESTUTIL_H */
