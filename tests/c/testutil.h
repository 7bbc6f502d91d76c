/* testutil.h - helpers shared by the libguestpoll Check tests.
 *
 * The test binary runs once per backend: the backend is chosen by the
 * GUESTPOLL_BACKEND environment variable (set by run-epoll.sh,
 * run-kqueue.sh and run-poll.sh), so a poller made with default options
 * uses it.
 *
 * Rules for the tests (so that they pass both with CK_FORK=yes and
 * CK_FORK=no, and under valgrind):
 * - close every descriptor and free every poller a test makes;
 * - never call ck_assert* from a helper thread: record the result and
 *   assert on the test's own thread;
 * - an "infinite" wait always has a tu_after() watchdog that notifies the
 *   poller after a few seconds, so a bug fails the test instead of hanging.
 *
 * Portability: the same tests run on Windows (IOCP backend, minicheck
 * runner).  Descriptors are tu_fd (gp_fd_t: an int on POSIX, a SOCKET on
 * Windows); tu_pipe() gives a connected loopback TCP pair on Windows, where
 * AFD polls sockets only; helper threads go through tu_thread.  Tests that
 * are POSIX by nature (fork, signals, pipe-only semantics, descriptor
 * numbers, rlimits, /proc) are compiled only `#ifndef TU_WINDOWS`, and
 * TU_POSIX_ONLY_TEST() puts a test of the same name in their place that
 * skips, saying why.
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
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef _WIN32
#define TU_WINDOWS 1
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <windows.h>
#else
#include <poll.h>
#include <pthread.h>
#endif

#include "guestpoll.h"

/* A descriptor as the library takes it. */
typedef gp_fd_t tu_fd;

/* poll() bits for tu_poll1 (WSAPoll has the same names on Windows). */
#ifdef TU_WINDOWS
#define TU_POLLIN  POLLRDNORM
#define TU_POLLOUT POLLWRNORM
#else
#define TU_POLLIN  POLLIN
#define TU_POLLOUT POLLOUT
#endif

/* ---- the suites (one file each) ----------------------------------------- */

Suite *basic_suite(void);
Suite *modes_suite(void);
Suite *errors_suite(void);
Suite *wait_suite(void);
Suite *threads_suite(void);
Suite *split_suite(void);
Suite *stale_suite(void);
Suite *lifecycle_suite(void);
Suite *cancel_suite(void);

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

/* In place of a test that cannot run on Windows: a test of the same name
 * that skips with the reason given.  Used as
 *   #ifndef TU_WINDOWS
 *   START_TEST(name) { ... } END_TEST
 *   #else
 *   TU_POSIX_ONLY_TEST(name, "why")
 *   #endif */
#define TU_POSIX_ONLY_TEST(name, why)                                          \
	START_TEST(name)                                                       \
	{                                                                      \
		tu_skip("%s: POSIX only (%s)", #name, why);                    \
	}                                                                      \
	END_TEST

/* Called once by main() before the suites run (Winsock on Windows). */
void tu_init(void);
/* 1 when running under Wine (for the few checks Wine cannot pass). */
int tu_under_wine(void);
/* 1 where tu_pipe() gives sockets (Windows), which are also writable. */
#ifdef TU_WINDOWS
#define TU_PIPE_IS_SOCKET 1
#else
#define TU_PIPE_IS_SOCKET 0
#endif

/* ---- the backend under test ------------------------------------------- */

/* The backend a default poller uses in this run ("epoll", "kqueue" or
 * "poll"), set by main() before the suites run. */
extern char tu_backend[16];
int tu_is_epoll(void);
int tu_is_kqueue(void);
int tu_is_poll(void);
/* Backends with a kernel interest list (epoll, kqueue): GP_EDGE works, a
 * poller fd exists, and the kernel forgets a descriptor closed without
 * gp_remove. */
int tu_has_kernel_list(void);

/* Set by the build (tests/c/local.mk): the kqueue backend was built, and
 * it runs on libkqueue (an emulation with a few known limitations). */
#ifndef TU_HAVE_KQUEUE
#define TU_HAVE_KQUEUE 0
#endif
#ifndef TU_LIBKQUEUE
#define TU_LIBKQUEUE 0
#endif
/* 1 when this run's backend is kqueue on libkqueue; then prints
 * "<test>: <check> skipped on libkqueue: <why>". */
int tu_libkqueue_skip(const char *test, const char *check, const char *why);
int tu_is_iocp(void);

/* A poller with default options (so GUESTPOLL_BACKEND applies); asserts
 * that it was made and uses tu_backend. */
gp_poller *tu_new(void);
gp_poller *tu_new_max(int max_events);

/* ---- time ---------------------------------------------------------------- */

int64_t tu_now_ns(void);
void tu_sleep_ms(int ms);
/* rand_r() (a small LCG of our own where the C library lacks it). */
int tu_rand_r(unsigned *seed);
#define TU_MS(x) ((int64_t)(x)*1000000)

/* ---- descriptors ------------------------------------------------------- */

/* Non-blocking, close-on-exec pipe and AF_UNIX stream socketpair.  On
 * Windows both are a connected non-blocking loopback TCP pair (fds[0] is
 * the accepted end, fds[1] the connecting one). */
void tu_pipe(tu_fd fds[2]);
void tu_socketpair(tu_fd sv[2]);
/* A pipe whose read end fds[0] blocks (a TCP pair on Windows). */
void tu_blocking_pipe(tu_fd fds[2]);
/* tu_pipe() without assertion, for helper threads: 0 or -1. */
int tu_pipe_quiet(tu_fd fds[2]);
void tu_close(tu_fd fd);
/* Closes both descriptors of a pipe or socketpair. */
void tu_close_pair(const tu_fd fds[2]);
/* Writes one byte (asserts success). */
void tu_write1(tu_fd fd);
/* read()/write() (recv()/send() on Windows): the byte count, 0 on EOF,
 * -1 on error.  No assertion: usable on helper threads. */
long tu_read(tu_fd fd, void *buf, size_t n);
long tu_write(tu_fd fd, const void *buf, size_t n);
/* close() (closesocket()) without assertion, for helper threads. */
void tu_close_quiet(tu_fd fd);
/* Reads everything available; returns the byte count (0 on EOF or none). */
long tu_drain(tu_fd fd);
/* Writes to a non-blocking socket until it would block; afterwards poll()
 * confirms it is not writable. */
void tu_fill(tu_fd fd);
/* poll() on one fd with timeout 0; returns revents (TU_POLLIN, ...). */
short tu_poll1(tu_fd fd, short events);
/* 1 if fd is an open descriptor. */
int tu_fd_is_open(tu_fd fd);
/* Number of open descriptors of this process (-1 if unknown). */
int tu_fd_count(void);
/* The socket's pending error (getsockopt SO_ERROR; asserts success), to
 * compare with TU_ECONNRESET and the like. */
int tu_sock_error(tu_fd fd);
#ifdef TU_WINDOWS
#define TU_ECONNRESET   WSAECONNRESET
#define TU_ECONNREFUSED WSAECONNREFUSED
#else
#define TU_ECONNRESET   ECONNRESET
#define TU_ECONNREFUSED ECONNREFUSED
#endif

/* ---- results ------------------------------------------------------------ */

/* Index of the first record carrying data (or fd), -1 if none. */
int tu_find_data(const gp_event *ev, int n, const void *data);
int tu_find_fd(const gp_event *ev, int n, tu_fd fd);
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

/* setenv(name, value, 1) and unsetenv(name) (_putenv_s on
 * Windows); 0 on success. */
int tu_setenv(const char *name, const char *value);
int tu_unsetenv(const char *name);

/* ---- threads ------------------------------------------------------------ */

#ifdef TU_WINDOWS
typedef HANDLE tu_thread;
typedef DWORD tu_thread_id;
typedef SRWLOCK tu_mutex;
typedef CONDITION_VARIABLE tu_cond;
#else
typedef pthread_t tu_thread;
typedef pthread_t tu_thread_id;
typedef pthread_mutex_t tu_mutex;
typedef pthread_cond_t tu_cond;
#endif
/* Starts fn(arg) on a new thread; returns 0 or an error number. */
int tu_thread_start(tu_thread *t, void *(*fn)(void *), void *arg);
void tu_thread_join(tu_thread t);
tu_thread_id tu_thread_self(void);
int tu_thread_id_eq(tu_thread_id a, tu_thread_id b);
/* sched_yield() (SwitchToThread() on Windows). */
void tu_yield(void);

/* A mutex and a condition variable with waits bounded in milliseconds. */
void tu_sync_init(tu_mutex *mu, tu_cond *cv);
void tu_sync_destroy(tu_mutex *mu, tu_cond *cv);
void tu_mutex_lock(tu_mutex *mu);
void tu_mutex_unlock(tu_mutex *mu);
void tu_cond_broadcast(tu_cond *cv);
/* Waits until signalled or until tu_now_ns() passes deadline_ns; returns 0
 * when the deadline passed. */
int tu_cond_wait_until(tu_cond *cv, tu_mutex *mu, int64_t deadline_ns);

/* ---- delayed actions on a helper thread ---------------------------------- */

typedef void (*tu_action)(void *arg);
typedef struct tu_after {
	tu_thread thread;
	tu_mutex mu;
	tu_cond cv;
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
/* An action writing one byte to the descriptor *(tu_fd *)fdp (the result
 * is not checked: no ck_assert on a helper thread). */
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
	tu_mutex mu;
	tu_cond cv;
	int count;
	tu_thread_id thread; /* thread of the last call */
	/* SIGINT, SIGUSR1, SIGTERM blocked in the call (always 1 on Windows,
	 * which has no signals to block). */
	int signals_masked;
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
