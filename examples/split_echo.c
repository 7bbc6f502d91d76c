/* split_echo.c - the split wait of libguestpoll, one step at a time.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * A program that already has an event loop of its own (a GUI toolkit, a game
 * loop, another language runtime) cannot block in epoll_wait() on its main
 * thread.  With the split wait it does not have to:
 *
 *   1. the main thread calls gp_wait_start(); it returns at once and the
 *      kernel wait runs on the poller's own waiter thread;
 *   2. the main thread goes on with its own work -- here it sends the next
 *      message and changes a registration while the waiter is blocked;
 *   3. when something is ready the waiter thread calls our ready callback,
 *      which does nothing but wake the main thread (a condition variable
 *      here; a real host would post a message to its own loop);
 *   4. the main thread calls gp_wait_collect() and dispatches the events on
 *      its own thread, so the handlers need no locking at all.
 *
 * The two ends of a socketpair play client and server: the client sends
 * "ping 1", the server echoes it back, the client checks the echo and sends
 * "ping 2", and so on.  The client's registration is one-shot and is re-armed
 * with gp_modify() from the main thread while the waiter thread is waiting.
 *
 * Usage: split_echo [ROUNDS]     (default 5; GUESTPOLL_BACKEND=poll to try
 *                                 the poll backend)
 * Build against an installed library:
 *   cc -std=c11 -pthread split_echo.c $(pkg-config --cflags --libs guestpoll)
 *
 * Exits 0 when every echo came back intact, 1 (with a message) otherwise.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <guestpoll.h>

#define NS_PER_SEC 1000000000LL
/* No single wait should take anywhere near this long; a wait that times out
 * means an event went missing, and the program fails. */
#define WAIT_TIMEOUT_NS (2 * NS_PER_SEC)
/* Extra time the main thread gives the waiter to call ready() after the
 * wait's own timeout, before it concludes that ready() will never come. */
#define WAKEUP_GRACE_SEC 3
#define MAX_EVENTS       8
#define MSG_MAX          64

/* ---- waking the main thread -------------------------------------------- */

/* What the ready callback shares with the main thread. */
struct wakeup {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int ready;             /* set by on_ready, cleared by the main thread */
	int ran_on_main;       /* did on_ready run on the main thread? */
	pthread_t main_thread; /* to tell the threads apart */
};

/* The ready callback.  It runs on the poller's waiter thread, so it must not
 * touch the echo state and must not wait for the main thread: it only
 * records which thread it ran on and wakes the main thread up. */
static void
on_ready(void *arg)
{
	struct wakeup *w = arg;

	pthread_mutex_lock(&w->lock);
	w->ready = 1;
	w->ran_on_main = pthread_equal(pthread_self(), w->main_thread);
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Blocks the main thread until on_ready has run.  Returns 0, or -1 if it
 * did not run within the wait timeout plus a grace period. */
static int
wait_for_wakeup(struct wakeup *w)
{
	struct timespec deadline;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += WAIT_TIMEOUT_NS / NS_PER_SEC + WAKEUP_GRACE_SEC;

	pthread_mutex_lock(&w->lock);
	while (!w->ready && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&w->cond, &w->lock, &deadline);
	rc = w->ready ? 0 : -1;
	pthread_mutex_unlock(&w->lock);
	return rc;
}

/* ---- the echo ---------------------------------------------------------- */

enum role { CLIENT, SERVER };

struct endpoint {
	enum role role;
	int fd;
};

struct echo {
	gp_poller *p;
	struct endpoint client, server;
	int round, rounds;
	int need_send;      /* the client has the next message to send */
	char sent[MSG_MAX]; /* the message in flight */
	size_t sent_len;
	char got[MSG_MAX]; /* the echo received so far */
	size_t got_len;
	int done;
};

static int
fail(const char *fmt, ...)
{
	va_list ap;

	fputs("split_echo: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static int
set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return fail("fcntl: %s", strerror(errno));
	return 0;
}

static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n = write(fd, buf, len);

	if (n < 0)
		return fail("write: %s", strerror(errno));
	if ((size_t)n != len) /* a few bytes into an empty socket: never */
		return fail("short write (%zd of %zu bytes)", n, len);
	return 0;
}

/* Main thread, while the split wait is in flight on the waiter thread: arm
 * the client for the echo, then send the next message.  The wait already in
 * progress sees both the new registration and the new data. */
static int
client_send(struct echo *e)
{
	int rc;

	rc = gp_modify(e->p, e->client.fd, GP_READ | GP_ONESHOT, &e->client);
	if (rc < 0)
		return fail("gp_modify: %s", gp_strerror(rc));

	e->sent_len =
	        (size_t)snprintf(e->sent, sizeof e->sent, "ping %d", e->round);
	e->got_len = 0;
	if (write_all(e->client.fd, e->sent, e->sent_len) < 0)
		return -1;
	printf("round %d: client sent '%s' (main thread, wait in flight)\n",
	       e->round, e->sent);
	return 0;
}

/* The server end is readable: echo back whatever arrived. */
static int
server_readable(struct echo *e)
{
	char buf[MSG_MAX];
	ssize_t n = read(e->server.fd, buf, sizeof buf);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0; /* nothing after all; level-triggered, so harmless */
	if (n < 0)
		return fail("server read: %s", strerror(errno));
	if (n == 0)
		return fail("server: the client hung up");
	if (write_all(e->server.fd, buf, (size_t)n) < 0)
		return -1;
	printf("round %d: server echoed '%.*s'\n", e->round, (int)n, buf);
	return 0;
}

/* The client end is readable: gather the echo and check it. */
static int
client_readable(struct echo *e)
{
	size_t room = sizeof e->got - e->got_len;
	ssize_t n = read(e->client.fd, e->got + e->got_len, room);
	int rc;

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		n = 0;
	else if (n < 0)
		return fail("client read: %s", strerror(errno));
	else if (n == 0)
		return fail("client: the server hung up");
	e->got_len += (size_t)n;

	if (e->got_len > e->sent_len ||
	    memcmp(e->got, e->sent, e->got_len) != 0)
		return fail("round %d: sent '%s' but got back '%.*s'", e->round,
		            e->sent, (int)e->got_len, e->got);

	if (e->got_len < e->sent_len) {
		/* Only part of the echo so far (a stream socket may split
		 * it).  The one-shot registration has fired, so re-arm it for
		 * the rest. */
		rc = gp_modify(e->p, e->client.fd, GP_READ | GP_ONESHOT,
		               &e->client);
		return rc < 0 ? fail("gp_modify: %s", gp_strerror(rc)) : 0;
	}

	printf("round %d: client got the echo '%s', correct\n", e->round,
	       e->sent);
	if (e->round == e->rounds) {
		e->done = 1;
	} else {
		e->round++;
		e->need_send = 1;
	}
	return 0;
}

/* Runs on the main thread for every collected event. */
static int
dispatch(struct echo *e, const gp_event *ev)
{
	const struct endpoint *ep = ev->data;

	if (ev->events & GP_NOTIFIED) /* nobody calls gp_notify() here */
		return 0;
	if (ev->events & (GP_HUP | GP_ERR))
		return fail("%s: hang-up or error (events 0x%x)",
		            ep->role == CLIENT ? "client" : "server",
		            ev->events);
	if (!(ev->events & GP_READ))
		return 0;
	return ep->role == SERVER ? server_readable(e) : client_readable(e);
}

/* Collects the finished wait and dispatches it.  Returns the number of
 * events, or -1 on failure. */
static int
collect_and_dispatch(struct echo *e)
{
	gp_event evs[MAX_EVENTS];
	int n, i, total = 0;

	/* A batch may hold more than MAX_EVENTS records: keep collecting until
	 * a call returns fewer than asked for.  Each record is checked against
	 * the current registrations when it is collected, so one for an fd we
	 * removed or changed in the meantime is never handed out. */
	do {
		n = gp_wait_collect(e->p, evs, MAX_EVENTS);
		if (n < 0)
			return fail("gp_wait_collect: %s", gp_strerror(n));
		if (total == 0)
			printf("round %d: main thread collected %d event(s)\n",
			       e->round, n);
		for (i = 0; i < n; i++)
			if (dispatch(e, &evs[i]) < 0)
				return -1;
		total += n;
	} while (n == MAX_EVENTS);
	return total;
}

/* The "host loop": one split wait per turn. */
static int
run(struct echo *e, struct wakeup *w)
{
	int rc;

	while (!e->done) {
		pthread_mutex_lock(&w->lock);
		w->ready = 0;
		pthread_mutex_unlock(&w->lock);

		/* 1. Hand the kernel wait to the waiter thread. */
		rc = gp_wait_start(e->p, WAIT_TIMEOUT_NS, on_ready, w);
		if (rc < 0)
			return fail("gp_wait_start: %s", gp_strerror(rc));

		/* 2. Meanwhile the main thread is free to do its own work. */
		if (e->need_send) {
			e->need_send = 0;
			if (client_send(e) < 0)
				return -1;
		}

		/* 3. Sleep until the waiter thread's ready callback wakes us.
		 * (If it never comes, gp_poller_free might hang too, so exit
		 * straight away.) */
		if (wait_for_wakeup(w) < 0) {
			fail("the ready callback was never called");
			exit(EXIT_FAILURE);
		}
		if (w->ran_on_main)
			return fail("ready ran on the main thread");
		printf("round %d: ready callback ran on the waiter thread\n",
		       e->round);

		/* 4. Collect and dispatch, on the main thread. */
		rc = collect_and_dispatch(e);
		if (rc < 0)
			return -1;
		if (rc == 0)
			return fail("round %d: the wait timed out", e->round);
	}
	return 0;
}

static int
parse_rounds(int argc, char **argv)
{
	char *end;
	long n;

	if (argc < 2)
		return 5;
	errno = 0;
	n = strtol(argv[1], &end, 10);
	if (argc > 2 || errno || *argv[1] == '\0' || *end != '\0' || n < 1 ||
	    n > 1000000) {
		fprintf(stderr, "usage: split_echo [ROUNDS]  (1 to 1000000)\n");
		return -1;
	}
	return (int)n;
}

int
main(int argc, char **argv)
{
	struct wakeup w = {.ready = 0};
	struct echo e = {.round = 1, .need_send = 1};
	int sv[2], rc, status = EXIT_FAILURE;

	e.rounds = parse_rounds(argc, argv);
	if (e.rounds < 0)
		return 2;
	/* Line-buffer stdout so the steps show up in order even when piped. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	w.main_thread = pthread_self();

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		fail("socketpair: %s", strerror(errno));
		return EXIT_FAILURE;
	}
	e.client = (struct endpoint){CLIENT, sv[0]};
	e.server = (struct endpoint){SERVER, sv[1]};
	if (set_nonblocking(sv[0]) < 0 || set_nonblocking(sv[1]) < 0)
		goto out_close;

	/* NULL options: the default backend, or the one GUESTPOLL_BACKEND
	 * names. */
	rc = gp_poller_new(&e.p, NULL);
	if (rc < 0) {
		fail("gp_poller_new: %s", gp_strerror(rc));
		goto out_close;
	}
	printf("libguestpoll %s, backend: %s, %d round trips\n", gp_version(),
	       gp_poller_backend(e.p), e.rounds);

	/* The server always wants to read; the client is one-shot and gets
	 * re-armed each time it expects an echo. */
	rc = gp_add(e.p, e.server.fd, GP_READ, &e.server);
	if (rc == 0)
		rc = gp_add(e.p, e.client.fd, GP_READ | GP_ONESHOT, &e.client);
	if (rc < 0) {
		fail("gp_add: %s", gp_strerror(rc));
		goto out_free;
	}

	if (run(&e, &w) == 0) {
		printf("ok: %d round trips on the %s backend\n", e.rounds,
		       gp_poller_backend(e.p));
		status = EXIT_SUCCESS;
	}

	/* Remove before close: the poller must never watch a closed fd. */
	rc = gp_remove(e.p, e.client.fd);
	if (rc == 0)
		rc = gp_remove(e.p, e.server.fd);
	if (rc < 0) {
		fail("gp_remove: %s", gp_strerror(rc));
		status = EXIT_FAILURE;
	}
out_free:
	gp_poller_free(e.p); /* joins the waiter thread */
out_close:
	close(sv[0]);
	close(sv[1]);
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	return status;
}
