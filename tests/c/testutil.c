/* testutil.c - helpers shared by the libguestpoll Check tests.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

char tu_backend[16];

#ifndef GP_TEST_MINICHECK
void
tu_skip(const char *fmt, ...)
{
	va_list ap;

	printf("SKIP: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}
#endif

int
tu_is_epoll(void)
{
	return strcmp(tu_backend, "epoll") == 0;
}

gp_poller *
tu_new_max(int max_events)
{
	gp_options o;
	gp_poller *p = NULL;
	int r;

	gp_options_init(&o);
	o.max_events = max_events;
	r = gp_poller_new(&p, &o);
	ck_assert_msg(r == 0, "gp_poller_new: %d (%s)", r, gp_strerror(r));
	ck_assert_ptr_ne(p, NULL);
	ck_assert_str_eq(gp_poller_backend(p), tu_backend);
	return p;
}

gp_poller *
tu_new(void)
{
	gp_poller *p = NULL;
	int r = gp_poller_new(&p, NULL);

	ck_assert_msg(r == 0, "gp_poller_new: %d (%s)", r, gp_strerror(r));
	ck_assert_ptr_ne(p, NULL);
	ck_assert_str_eq(gp_poller_backend(p), tu_backend);
	return p;
}

int64_t
tu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
tu_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void
tu_pipe(int fds[2])
{
	int r = pipe2(fds, O_NONBLOCK | O_CLOEXEC);

	ck_assert_msg(r == 0, "pipe2: %s", strerror(errno));
}

void
tu_socketpair(int sv[2])
{
	int r = socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	                   0, sv);

	ck_assert_msg(r == 0, "socketpair: %s", strerror(errno));
}

void
tu_close(int fd)
{
	ck_assert_msg(close(fd) == 0, "close(%d): %s", fd, strerror(errno));
}

void
tu_close_pair(const int fds[2])
{
	tu_close(fds[0]);
	tu_close(fds[1]);
}

void
tu_write1(int fd)
{
	char c = 'x';
	ssize_t n;

	do
		n = write(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	ck_assert_msg(n == 1, "write(%d): %s", fd, strerror(errno));
}

long
tu_drain(int fd)
{
	char buf[4096];
	long total = 0;

	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n > 0) {
			total += n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return total;
	}
}

void
tu_fill(int fd)
{
	static const char buf[4096];

	for (;;) {
		ssize_t n = send(fd, buf, sizeof buf, MSG_DONTWAIT);
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		ck_assert_msg(n < 0 &&
		                      (errno == EAGAIN || errno == EWOULDBLOCK),
		              "filling fd %d: %s", fd, strerror(errno));
		break;
	}
	/* Stream sockets may accept single bytes after a big write failed;
	 * fill those too. */
	for (;;) {
		ssize_t n = send(fd, buf, 1, MSG_DONTWAIT);
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	ck_assert_msg((tu_poll1(fd, POLLOUT) & POLLOUT) == 0,
	              "fd %d still writable after filling", fd);
}

short
tu_poll1(int fd, short events)
{
	struct pollfd pfd = {fd, events, 0};
	int r;

	do
		r = poll(&pfd, 1, 0);
	while (r < 0 && errno == EINTR);
	ck_assert_int_ge(r, 0);
	return r == 0 ? 0 : pfd.revents;
}

int
tu_fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

int
tu_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

int
tu_find_data(const gp_event *ev, int n, const void *data)
{
	for (int i = 0; i < n; i++)
		if (ev[i].data == data)
			return i;
	return -1;
}

int
tu_find_fd(const gp_event *ev, int n, int fd)
{
	for (int i = 0; i < n; i++)
		if (ev[i].fd == fd)
			return i;
	return -1;
}

int
tu_count_data(const gp_event *ev, int n, const void *data)
{
	int c = 0;

	for (int i = 0; i < n; i++)
		if (ev[i].data == data)
			c++;
	return c;
}

void
tu_expect_notify_leftover(gp_poller *p)
{
	gp_event ev[16];
	int n = gp_wait(p, ev, 16, 0);

	ck_assert_int_ge(n, 0);
	ck_assert_int_le(n, 1);
	if (n == 1)
		TU_ASSERT_NOTIFIED(ev[0]);
	ck_assert_int_eq(gp_wait(p, ev, 16, 0), 0);
}

void
tu_env_set(tu_env *saved, const char *value)
{
	const char *old = getenv("GUESTPOLL_BACKEND");

	saved->had = old != NULL;
	saved->value[0] = '\0';
	if (old) {
		ck_assert_uint_eq(strlen(old) < sizeof saved->value, 1);
		strcpy(saved->value, old);
	}
	if (value)
		ck_assert_int_eq(setenv("GUESTPOLL_BACKEND", value, 1), 0);
	else
		ck_assert_int_eq(unsetenv("GUESTPOLL_BACKEND"), 0);
}

void
tu_env_restore(const tu_env *saved)
{
	if (saved->had)
		setenv("GUESTPOLL_BACKEND", saved->value, 1);
	else
		unsetenv("GUESTPOLL_BACKEND");
}

/* ---- delayed actions ---------------------------------------------------- */

/* The CLOCK_MONOTONIC time ms milliseconds from now. */
static struct timespec
deadline_in(int ms)
{
	struct timespec d;

	clock_gettime(CLOCK_MONOTONIC, &d);
	d.tv_sec += ms / 1000;
	d.tv_nsec += (long)(ms % 1000) * 1000000;
	if (d.tv_nsec >= 1000000000) {
		d.tv_sec++;
		d.tv_nsec -= 1000000000;
	}
	return d;
}

/* A mutex and a condition variable timed on CLOCK_MONOTONIC. */
static void
sync_init(pthread_mutex_t *mu, pthread_cond_t *cv)
{
	pthread_condattr_t ca;

	pthread_mutex_init(mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}

static void *
after_main(void *arg)
{
	tu_after *a = arg;
	struct timespec deadline = deadline_in(a->delay_ms);
	int run;

	pthread_mutex_lock(&a->mu);
	while (!a->cancelled) {
		if (pthread_cond_timedwait(&a->cv, &a->mu, &deadline) ==
		    ETIMEDOUT)
			break;
	}
	run = !a->cancelled;
	a->fired = run;
	pthread_mutex_unlock(&a->mu);
	if (run)
		a->fn(a->arg);
	return NULL;
}

void
tu_after_start(tu_after *a, int delay_ms, tu_action fn, void *arg)
{
	memset(a, 0, sizeof *a);
	a->delay_ms = delay_ms;
	a->fn = fn;
	a->arg = arg;
	sync_init(&a->mu, &a->cv);
	ck_assert_int_eq(pthread_create(&a->thread, NULL, after_main, a), 0);
}

int
tu_after_stop(tu_after *a)
{
	int fired;

	pthread_mutex_lock(&a->mu);
	a->cancelled = 1;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->thread, NULL);
	fired = a->fired;
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	return fired;
}

void
tu_act_notify(void *poller)
{
	gp_notify(poller);
}

void
tu_act_write1(void *fdp)
{
	char c = 'w';

	(void)!write(*(int *)fdp, &c, 1);
}

void
tu_watchdog_start(tu_after *a, gp_poller *p)
{
	tu_after_start(a, TU_PATIENCE_MS, tu_act_notify, p);
}

int
tu_wait_during(gp_poller *p, gp_event *ev, int max, int64_t timeout_ns,
               int delay_ms, tu_action fn, void *arg, int64_t *dt_ns)
{
	tu_after a, wd;
	int64_t t0;
	int n, fired, woke;

	tu_watchdog_start(&wd, p);
	t0 = tu_now_ns();
	tu_after_start(&a, delay_ms, fn, arg);
	n = gp_wait(p, ev, max, timeout_ns);
	if (dt_ns)
		*dt_ns = tu_now_ns() - t0;
	fired = tu_after_stop(&a);
	woke = tu_after_stop(&wd);
	ck_assert_msg(fired, "the action did not run");
	ck_assert_msg(!woke, "the watchdog ended the wait");
	return n;
}

/* ---- ready callback ------------------------------------------------------ */

void
tu_ready_init(tu_ready *r)
{
	memset(r, 0, sizeof *r);
	sync_init(&r->mu, &r->cv);
}

void
tu_ready_destroy(tu_ready *r)
{
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
}

void
tu_ready_cb(void *arg)
{
	tu_ready *r = arg;
	sigset_t set;
	int masked = 0;

	if (pthread_sigmask(SIG_BLOCK, NULL, &set) == 0)
		masked = sigismember(&set, SIGINT) == 1 &&
		         sigismember(&set, SIGUSR1) == 1 &&
		         sigismember(&set, SIGTERM) == 1;
	pthread_mutex_lock(&r->mu);
	r->count++;
	r->thread = pthread_self();
	r->signals_masked = masked;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

int
tu_ready_wait(tu_ready *r, int target, int timeout_ms)
{
	struct timespec deadline = deadline_in(timeout_ms);
	int count;

	pthread_mutex_lock(&r->mu);
	while (r->count < target) {
		if (pthread_cond_timedwait(&r->cv, &r->mu, &deadline) ==
		    ETIMEDOUT)
			break;
	}
	count = r->count;
	pthread_mutex_unlock(&r->mu);
	return count;
}

int
tu_ready_count(tu_ready *r)
{
	int count;

	pthread_mutex_lock(&r->mu);
	count = r->count;
	pthread_mutex_unlock(&r->mu);
	return count;
}

void
tu_start(gp_poller *p, int64_t timeout_ns, tu_ready *r)
{
	int rc = gp_wait_start(p, timeout_ns, tu_ready_cb, r);

	ck_assert_msg(rc == 0, "gp_wait_start: %d (%s)", rc, gp_strerror(rc));
}

void
tu_await_ready(tu_ready *r, int target)
{
	int got = tu_ready_wait(r, target, TU_PATIENCE_MS);

	ck_assert_msg(got >= target,
	              "ready callback not called (count %d, want %d)", got,
	              target);
}

void
tu_start_await(gp_poller *p, int64_t timeout_ns, tu_ready *r, int target)
{
	tu_start(p, timeout_ns, r);
	tu_await_ready(r, target);
}
