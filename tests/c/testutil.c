/* testutil.c - helpers shared by the libguestpoll Check tests.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _GNU_SOURCE

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

#ifdef TU_WINDOWS
#include <ws2tcpip.h>
#else
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

char tu_backend[16];

void
tu_init(void)
{
#ifdef TU_WINDOWS
	WSADATA wsa;

	if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
		fprintf(stderr, "WSAStartup failed\n");
		exit(99);
	}
#endif
}

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
tu_under_wine(void)
{
#ifdef TU_WINDOWS
	HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");

	return ntdll && GetProcAddress(ntdll, "wine_get_version") != NULL;
#else
	return 0;
#endif
}

int
tu_is_epoll(void)
{
	return strcmp(tu_backend, "epoll") == 0;
}

int
tu_is_kqueue(void)
{
	return strcmp(tu_backend, "kqueue") == 0;
}

int
tu_is_poll(void)
{
	return strcmp(tu_backend, "poll") == 0;
}

int
tu_has_kernel_list(void)
{
	return tu_is_epoll() || tu_is_kqueue();
}

int
tu_libkqueue_skip(const char *test, const char *check, const char *why)
{
	if (!TU_LIBKQUEUE || !tu_is_kqueue())
		return 0;
	printf("%s: %s skipped on libkqueue: %s\n", test, check, why);
	fflush(stdout);
	return 1;
}

int
tu_is_iocp(void)
{
	return strcmp(tu_backend, "iocp") == 0;
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
#ifdef TU_WINDOWS
	LARGE_INTEGER c, f;

	QueryPerformanceCounter(&c);
	QueryPerformanceFrequency(&f);
	return (int64_t)(c.QuadPart / f.QuadPart) * 1000000000 +
	       (int64_t)(c.QuadPart % f.QuadPart) * 1000000000 / f.QuadPart;
#else
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
#endif
}

int
tu_rand_r(unsigned *seed)
{
#ifdef TU_WINDOWS
	*seed = *seed * 1103515245u + 12345u;
	return (int)((*seed >> 1) & 0x7fffffff);
#else
	return rand_r(seed);
#endif
}

void
tu_sleep_ms(int ms)
{
#ifdef TU_WINDOWS
	Sleep((DWORD)ms);
#else
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
#endif
}

#ifdef TU_WINDOWS
/* The last Winsock error as text, for messages. */
static const char *
sock_err(void)
{
	static char buf[32]; /* only ever used on the test's own thread */

	snprintf(buf, sizeof buf, "WSA error %d", WSAGetLastError());
	return buf;
}

/* A connected non-blocking loopback TCP pair: fds[0] accepted, fds[1]
 * connecting.  Returns 0, or -1 with WSAGetLastError() set. */
static int
tcp_pair_quiet(tu_fd fds[2])
{
	struct sockaddr_in sa;
	int len = sizeof sa, one = 1, err;
	SOCKET l, c = INVALID_SOCKET, a = INVALID_SOCKET;
	u_long on = 1;

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
	if (l == INVALID_SOCKET)
		return -1;
	if (bind(l, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    getsockname(l, (struct sockaddr *)&sa, &len) != 0 ||
	    listen(l, 1) != 0)
		goto fail;
	c = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
	if (c == INVALID_SOCKET ||
	    connect(c, (struct sockaddr *)&sa, sizeof sa) != 0)
		goto fail;
	a = accept(l, NULL, NULL);
	if (a == INVALID_SOCKET || ioctlsocket(a, FIONBIO, &on) != 0 ||
	    ioctlsocket(c, FIONBIO, &on) != 0)
		goto fail;
	closesocket(l);
	/* Single bytes go out at once. */
	setsockopt(a, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof one);
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof one);
	fds[0] = (tu_fd)a;
	fds[1] = (tu_fd)c;
	return 0;
fail:
	err = WSAGetLastError();
	closesocket(l);
	if (c != INVALID_SOCKET)
		closesocket(c);
	if (a != INVALID_SOCKET)
		closesocket(a);
	WSASetLastError(err);
	return -1;
}

static void
tcp_pair(tu_fd fds[2])
{
	ck_assert_msg(tcp_pair_quiet(fds) == 0, "loopback TCP pair: %s",
	              sock_err());
}

int
tu_pipe_quiet(tu_fd fds[2])
{
	return tcp_pair_quiet(fds);
}

void
tu_pipe(tu_fd fds[2])
{
	tcp_pair(fds);
}

void
tu_socketpair(tu_fd sv[2])
{
	tcp_pair(sv);
}

void
tu_blocking_pipe(tu_fd fds[2])
{
	u_long off = 0;

	tcp_pair(fds);
	ck_assert_msg(ioctlsocket((SOCKET)fds[0], FIONBIO, &off) == 0,
	              "FIONBIO: %s", sock_err());
}

void
tu_close(tu_fd fd)
{
	ck_assert_msg(closesocket((SOCKET)fd) == 0, "closesocket(%llu): %s",
	              (unsigned long long)fd, sock_err());
}

void
tu_close_quiet(tu_fd fd)
{
	closesocket((SOCKET)fd);
}

long
tu_read(tu_fd fd, void *buf, size_t n)
{
	int r = recv((SOCKET)fd, buf, (int)n, 0);
	return r == SOCKET_ERROR ? -1 : r;
}

long
tu_write(tu_fd fd, const void *buf, size_t n)
{
	int r = send((SOCKET)fd, buf, (int)n, 0);
	return r == SOCKET_ERROR ? -1 : r;
}

void
tu_write1(tu_fd fd)
{
	ck_assert_msg(tu_write(fd, "x", 1) == 1, "send(%llu): %s",
	              (unsigned long long)fd, sock_err());
}

long
tu_drain(tu_fd fd)
{
	char buf[4096];
	long total = 0, n;

	while ((n = tu_read(fd, buf, sizeof buf)) > 0)
		total += n;
	return total;
}

void
tu_fill(tu_fd fd)
{
	static const char buf[4096];

	while (tu_write(fd, buf, sizeof buf) > 0)
		;
	ck_assert_msg(WSAGetLastError() == WSAEWOULDBLOCK, "filling: %s",
	              sock_err());
	while (tu_write(fd, buf, 1) > 0)
		;
	ck_assert_msg((tu_poll1(fd, TU_POLLOUT) & TU_POLLOUT) == 0,
	              "fd %llu still writable after filling",
	              (unsigned long long)fd);
}

short
tu_poll1(tu_fd fd, short events)
{
	WSAPOLLFD pfd;
	int r;

	memset(&pfd, 0, sizeof pfd);
	pfd.fd = (SOCKET)fd;
	pfd.events = events;
	r = WSAPoll(&pfd, 1, 0);
	ck_assert_msg(r >= 0, "WSAPoll: %s", sock_err());
	return r == 0 ? 0 : pfd.revents;
}

int
tu_fd_is_open(tu_fd fd)
{
	int type, len = sizeof type;

	return getsockopt((SOCKET)fd, SOL_SOCKET, SO_TYPE, (char *)&type,
	                  &len) == 0 ||
	       WSAGetLastError() != WSAENOTSOCK;
}

int
tu_fd_count(void)
{
	return -1;
}

int
tu_setenv(const char *name, const char *value)
{
	return _putenv_s(name, value) == 0 ? 0 : -1;
}

int
tu_unsetenv(const char *name)
{
	return _putenv_s(name, "") == 0 ? 0 : -1;
}

#else /* POSIX */

void
tu_pipe(tu_fd fds[2])
{
	int r = pipe2(fds, O_NONBLOCK | O_CLOEXEC);

	ck_assert_msg(r == 0, "pipe2: %s", strerror(errno));
}

int
tu_pipe_quiet(tu_fd fds[2])
{
	return pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0 ? 0 : -1;
}

void
tu_blocking_pipe(tu_fd fds[2])
{
	int r = pipe(fds);

	ck_assert_msg(r == 0, "pipe: %s", strerror(errno));
}

void
tu_socketpair(tu_fd sv[2])
{
	int r = socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	                   0, sv);

	ck_assert_msg(r == 0, "socketpair: %s", strerror(errno));
}

void
tu_close(tu_fd fd)
{
	ck_assert_msg(close(fd) == 0, "close(%d): %s", fd, strerror(errno));
}

void
tu_close_quiet(tu_fd fd)
{
	close(fd);
}

long
tu_read(tu_fd fd, void *buf, size_t n)
{
	ssize_t r;

	do
		r = read(fd, buf, n);
	while (r < 0 && errno == EINTR);
	return (long)r;
}

long
tu_write(tu_fd fd, const void *buf, size_t n)
{
	ssize_t r;

	do
		r = write(fd, buf, n);
	while (r < 0 && errno == EINTR);
	return (long)r;
}

void
tu_write1(tu_fd fd)
{
	char c = 'x';
	ssize_t n;

	do
		n = write(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	ck_assert_msg(n == 1, "write(%d): %s", fd, strerror(errno));
}

long
tu_drain(tu_fd fd)
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
tu_fill(tu_fd fd)
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
tu_poll1(tu_fd fd, short events)
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
tu_fd_is_open(tu_fd fd)
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
tu_setenv(const char *name, const char *value)
{
	return setenv(name, value, 1);
}

int
tu_unsetenv(const char *name)
{
	return unsetenv(name);
}
#endif

int
tu_sock_error(tu_fd fd)
{
	int err = 0;
#ifdef TU_WINDOWS
	int len = sizeof err;
	int r = getsockopt((SOCKET)fd, SOL_SOCKET, SO_ERROR, (char *)&err,
	                   &len);
#else
	socklen_t len = sizeof err;
	int r = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
#endif

	ck_assert_int_eq(r, 0);
	return err;
}

void
tu_close_pair(const tu_fd fds[2])
{
	tu_close(fds[0]);
	tu_close(fds[1]);
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
tu_find_fd(const gp_event *ev, int n, tu_fd fd)
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
		ck_assert_int_eq(tu_setenv("GUESTPOLL_BACKEND", value), 0);
	else
		ck_assert_int_eq(tu_unsetenv("GUESTPOLL_BACKEND"), 0);
}

void
tu_env_restore(const tu_env *saved)
{
	if (saved->had)
		tu_setenv("GUESTPOLL_BACKEND", saved->value);
	else
		tu_unsetenv("GUESTPOLL_BACKEND");
}

/* ---- threads and synchronisation --------------------------------------- */

#ifdef TU_WINDOWS
struct thread_start {
	void *(*fn)(void *);
	void *arg;
};

static DWORD WINAPI
thread_trampoline(LPVOID arg)
{
	struct thread_start ts = *(struct thread_start *)arg;

	free(arg);
	ts.fn(ts.arg);
	return 0;
}

int
tu_thread_start(tu_thread *t, void *(*fn)(void *), void *arg)
{
	struct thread_start *ts = malloc(sizeof *ts);

	if (!ts)
		return ENOMEM;
	ts->fn = fn;
	ts->arg = arg;
	*t = CreateThread(NULL, 0, thread_trampoline, ts, 0, NULL);
	if (!*t) {
		free(ts);
		return EAGAIN;
	}
	return 0;
}

void
tu_thread_join(tu_thread t)
{
	WaitForSingleObject(t, INFINITE);
	CloseHandle(t);
}

tu_thread_id
tu_thread_self(void)
{
	return GetCurrentThreadId();
}

int
tu_thread_id_eq(tu_thread_id a, tu_thread_id b)
{
	return a == b;
}

void
tu_yield(void)
{
	SwitchToThread();
}

void
tu_sync_init(tu_mutex *mu, tu_cond *cv)
{
	InitializeSRWLock(mu);
	InitializeConditionVariable(cv);
}

void
tu_sync_destroy(tu_mutex *mu, tu_cond *cv)
{
	(void)mu;
	(void)cv;
}

void
tu_mutex_lock(tu_mutex *mu)
{
	AcquireSRWLockExclusive(mu);
}

void
tu_mutex_unlock(tu_mutex *mu)
{
	ReleaseSRWLockExclusive(mu);
}

void
tu_cond_broadcast(tu_cond *cv)
{
	WakeAllConditionVariable(cv);
}

int
tu_cond_wait_until(tu_cond *cv, tu_mutex *mu, int64_t deadline_ns)
{
	int64_t left = deadline_ns - tu_now_ns();

	if (left <= 0)
		return 0;
	SleepConditionVariableSRW(cv, mu, (DWORD)((left + 999999) / 1000000),
	                          0);
	return tu_now_ns() < deadline_ns;
}
#else
int
tu_thread_start(tu_thread *t, void *(*fn)(void *), void *arg)
{
	return pthread_create(t, NULL, fn, arg);
}

void
tu_thread_join(tu_thread t)
{
	pthread_join(t, NULL);
}

tu_thread_id
tu_thread_self(void)
{
	return pthread_self();
}

int
tu_thread_id_eq(tu_thread_id a, tu_thread_id b)
{
	return pthread_equal(a, b);
}

void
tu_yield(void)
{
	sched_yield();
}

/* A mutex and a condition variable timed on CLOCK_MONOTONIC (the clock of
 * tu_now_ns). */
void
tu_sync_init(tu_mutex *mu, tu_cond *cv)
{
	pthread_condattr_t ca;

	pthread_mutex_init(mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}

void
tu_sync_destroy(tu_mutex *mu, tu_cond *cv)
{
	pthread_mutex_destroy(mu);
	pthread_cond_destroy(cv);
}

void
tu_mutex_lock(tu_mutex *mu)
{
	pthread_mutex_lock(mu);
}

void
tu_mutex_unlock(tu_mutex *mu)
{
	pthread_mutex_unlock(mu);
}

void
tu_cond_broadcast(tu_cond *cv)
{
	pthread_cond_broadcast(cv);
}

int
tu_cond_wait_until(tu_cond *cv, tu_mutex *mu, int64_t deadline_ns)
{
	struct timespec d = {(time_t)(deadline_ns / 1000000000),
	                     (long)(deadline_ns % 1000000000)};

	return pthread_cond_timedwait(cv, mu, &d) != ETIMEDOUT;
}
#endif

/* ---- delayed actions ---------------------------------------------------- */

static void *
after_main(void *arg)
{
	tu_after *a = arg;
	int64_t deadline = tu_now_ns() + TU_MS(a->delay_ms);
	int run;

	tu_mutex_lock(&a->mu);
	while (!a->cancelled) {
		if (!tu_cond_wait_until(&a->cv, &a->mu, deadline))
			break;
	}
	run = !a->cancelled;
	a->fired = run;
	tu_mutex_unlock(&a->mu);
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
	tu_sync_init(&a->mu, &a->cv);
	ck_assert_int_eq(tu_thread_start(&a->thread, after_main, a), 0);
}

int
tu_after_stop(tu_after *a)
{
	int fired;

	tu_mutex_lock(&a->mu);
	a->cancelled = 1;
	tu_cond_broadcast(&a->cv);
	tu_mutex_unlock(&a->mu);
	tu_thread_join(a->thread);
	fired = a->fired;
	tu_sync_destroy(&a->mu, &a->cv);
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
	(void)tu_write(*(tu_fd *)fdp, "w", 1);
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
	tu_sync_init(&r->mu, &r->cv);
}

void
tu_ready_destroy(tu_ready *r)
{
	tu_sync_destroy(&r->mu, &r->cv);
}

void
tu_ready_cb(void *arg)
{
	tu_ready *r = arg;
	int masked = 1;
#ifndef TU_WINDOWS
	sigset_t set;

	masked = 0;
	if (pthread_sigmask(SIG_BLOCK, NULL, &set) == 0)
		masked = sigismember(&set, SIGINT) == 1 &&
		         sigismember(&set, SIGUSR1) == 1 &&
		         sigismember(&set, SIGTERM) == 1;
#endif
	tu_mutex_lock(&r->mu);
	r->count++;
	r->thread = tu_thread_self();
	r->signals_masked = masked;
	tu_cond_broadcast(&r->cv);
	tu_mutex_unlock(&r->mu);
}

int
tu_ready_wait(tu_ready *r, int target, int timeout_ms)
{
	int64_t deadline = tu_now_ns() + TU_MS(timeout_ms);
	int count;

	tu_mutex_lock(&r->mu);
	while (r->count < target) {
		if (!tu_cond_wait_until(&r->cv, &r->mu, deadline))
			break;
	}
	count = r->count;
	tu_mutex_unlock(&r->mu);
	return count;
}

int
tu_ready_count(tu_ready *r)
{
	int count;

	tu_mutex_lock(&r->mu);
	count = r->count;
	tu_mutex_unlock(&r->mu);
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
