/* glib_host.c - libguestpoll's split wait inside a GLib main loop.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * The GLib main loop owns the main thread and cannot block in epoll_wait()
 * for us.  The split wait lets it host libguestpoll anyway:
 *
 *   - gp_wait_start() hands the kernel wait to the poller's waiter thread
 *     and returns at once, so the main loop goes on (here: a GLib timer
 *     fires every TICK_MS and the client sends its next message from it);
 *   - when something is ready the waiter thread calls on_ready(), which
 *     does nothing but g_main_context_invoke() a dispatch onto the GLib
 *     thread;
 *   - dispatch() runs as an ordinary GLib callback on the main thread: it
 *     collects the events with gp_wait_collect(), runs the socket handlers
 *     (no locks needed: everything runs on one thread) and starts the next
 *     split wait.
 *
 * The sockets are the two ends of a socketpair: the client (one-shot
 * registration, re-armed from the timer while the wait is in flight) sends
 * "ping N" on a timer tick, the server echoes it, the client checks it.
 *
 * Usage: glib_host [ROUNDS]   (default 5; GUESTPOLL_BACKEND=poll works too)
 * Exits 0 when every echo came back intact and every dispatch ran on the
 * GLib thread, 1 (with a message) otherwise.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include <guestpoll.h>

#define NS_PER_MS  1000000LL
#define TICK_MS    20   /* the GLib timer's period */
#define PING_EVERY 3    /* the client sends on every third tick */
#define WAIT_MS    1000 /* a split wait's timeout (it then just restarts) */
#define WATCHDOG_S 20   /* the whole run must be over by then */
#define MAX_EVENTS 8
#define MSG_MAX    64

enum role { CLIENT, SERVER };

struct endpoint {
	enum role role;
	int fd;
};

struct host {
	GMainContext *ctx; /* the main thread's context, never the global one */
	GMainLoop *loop;
	GThread *main_thread;
	gp_poller *p;
	struct endpoint client, server;
	int rounds;    /* round trips to make */
	int round;     /* the round in flight (0 = none yet) */
	int in_flight; /* a ping was sent and its echo is not complete */
	char sent[MSG_MAX];
	size_t sent_len;
	char got[MSG_MAX];
	size_t got_len;
	int ticks;      /* GLib timer ticks so far */
	int idle_ticks; /* ticks with a split wait in flight and no ping */
	int waiting;    /* a split wait is in flight */
	int waits;      /* split waits started */
	int dispatches; /* dispatches run (all on the GLib thread) */
	int done;
};

static _Noreturn void fail(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* Reports the failure and leaves at once: a split wait may be in flight,
 * and its ready callback must not find a torn-down main context. */
static _Noreturn void
fail(const char *fmt, ...)
{
	va_list ap;

	fputs("glib_host: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_FAILURE);
}

static int
set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	return flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ? -1 : 0;
}

/* ---- the split wait, handed to GLib ------------------------------------ */

static gboolean dispatch(gpointer arg);

/* Runs on libguestpoll's waiter thread.  It must not touch the host's state:
 * it only queues dispatch() on the host's context.  Since that context is
 * not the waiter thread's default one, g_main_context_invoke() never runs
 * dispatch() right here: it adds it as an idle source and wakes the loop.
 * (Given NULL, GLib's global default context, it would run dispatch() on
 * this thread whenever it can acquire that context, e.g. before the main
 * thread has entered g_main_loop_run().) */
static void
on_ready(void *arg)
{
	struct host *h = arg;

	g_main_context_invoke(h->ctx, dispatch, h);
}

static void
start_wait(struct host *h)
{
	int rc = gp_wait_start(h->p, WAIT_MS * NS_PER_MS, on_ready, h);

	if (rc < 0)
		fail("gp_wait_start: %s", gp_strerror(rc));
	h->waits++;
	h->waiting = 1;
}

/* ---- the echo ------------------------------------------------------------ */

/* The GLib timer: counts ticks and, when no echo is outstanding, sends the
 * next ping.  It runs while a split wait is in flight on the waiter thread:
 * the re-arm and the data reach that wait at once. */
static gboolean
on_tick(gpointer arg)
{
	struct host *h = arg;
	ssize_t n;
	int rc;

	if (h->done)
		return G_SOURCE_REMOVE;
	h->ticks++;
	if (h->in_flight || h->round == h->rounds ||
	    h->ticks % PING_EVERY != 0) {
		if (h->waiting)
			h->idle_ticks++;
		printf("glib timer: tick %d%s\n", h->ticks,
		       h->waiting ? " (split wait in flight)" : "");
		return G_SOURCE_CONTINUE;
	}
	h->round++;
	rc = gp_modify(h->p, h->client.fd, GP_READ | GP_ONESHOT, &h->client);
	if (rc < 0)
		fail("gp_modify: %s", gp_strerror(rc));
	h->sent_len =
	        (size_t)snprintf(h->sent, sizeof h->sent, "ping %d", h->round);
	h->got_len = 0;
	n = write(h->client.fd, h->sent, h->sent_len);
	if (n != (ssize_t)h->sent_len)
		fail("client write: %s", n < 0 ? strerror(errno) : "short");
	h->in_flight = 1;
	printf("glib timer: tick %d, client sent '%s' (split wait in flight)\n",
	       h->ticks, h->sent);
	return G_SOURCE_CONTINUE;
}

static void
server_readable(struct host *h)
{
	char buf[MSG_MAX];
	ssize_t n = read(h->server.fd, buf, sizeof buf);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return; /* level-triggered: nothing after all */
	if (n <= 0)
		fail("server read: %s", n < 0 ? strerror(errno) : "EOF");
	if (write(h->server.fd, buf, (size_t)n) != n)
		fail("server write failed");
	printf("dispatch: server echoed '%.*s'\n", (int)n, buf);
}

static void
client_readable(struct host *h)
{
	size_t room = sizeof h->got - h->got_len;
	ssize_t n = read(h->client.fd, h->got + h->got_len, room);
	int rc;

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		n = 0;
	else if (n <= 0)
		fail("client read: %s", n < 0 ? strerror(errno) : "EOF");
	h->got_len += (size_t)n;
	if (h->got_len > h->sent_len ||
	    memcmp(h->got, h->sent, h->got_len) != 0)
		fail("sent '%s' but got back '%.*s'", h->sent, (int)h->got_len,
		     h->got);
	if (h->got_len < h->sent_len) {
		/* Part of the echo so far: re-arm the one-shot for the rest. */
		rc = gp_modify(h->p, h->client.fd, GP_READ | GP_ONESHOT,
		               &h->client);
		if (rc < 0)
			fail("gp_modify: %s", gp_strerror(rc));
		return;
	}
	h->in_flight = 0;
	printf("dispatch: client got the echo '%s', correct\n", h->sent);
	if (h->round == h->rounds)
		h->done = 1;
}

/* Runs on the GLib thread, queued there by on_ready(): collect, dispatch,
 * start the next wait (or end the main loop once the last echo is in). */
static gboolean
dispatch(gpointer arg)
{
	struct host *h = arg;
	gp_event evs[MAX_EVENTS];
	const struct endpoint *ep;
	int n, i;

	if (g_thread_self() != h->main_thread)
		fail("dispatch ran on another thread than GLib's");
	h->dispatches++;
	h->waiting = 0;
	printf("dispatch: on the GLib thread, collecting from libguestpoll\n");
	do {
		n = gp_wait_collect(h->p, evs, MAX_EVENTS);
		if (n < 0)
			fail("gp_wait_collect: %s", gp_strerror(n));
		for (i = 0; i < n; i++) {
			ep = evs[i].data;
			if (evs[i].events & GP_NOTIFIED)
				continue;
			if (evs[i].events & (GP_HUP | GP_ERR))
				fail("hang-up or error (events 0x%x)",
				     evs[i].events);
			if (!(evs[i].events & GP_READ))
				continue;
			if (ep->role == SERVER)
				server_readable(h);
			else
				client_readable(h);
		}
	} while (n == MAX_EVENTS);
	if (h->done)
		g_main_loop_quit(h->loop); /* no wait is in flight now */
	else
		start_wait(h);
	return G_SOURCE_REMOVE; /* one call per invoke */
}

static gboolean
on_watchdog(gpointer arg)
{
	(void)arg;
	fail("not done after %d s", WATCHDOG_S);
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
	    n > 10000) {
		fprintf(stderr, "usage: glib_host [ROUNDS]  (1 to 10000)\n");
		return -1;
	}
	return (int)n;
}

int
main(int argc, char **argv)
{
	struct host h = {.rounds = 0};
	int sv[2], rc, status = EXIT_FAILURE;
	GSource *timer, *watchdog;

	h.rounds = parse_rounds(argc, argv);
	if (h.rounds < 0)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 ||
	    set_nonblocking(sv[0]) < 0 || set_nonblocking(sv[1]) < 0) {
		fprintf(stderr, "glib_host: socketpair: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	h.client = (struct endpoint){CLIENT, sv[0]};
	h.server = (struct endpoint){SERVER, sv[1]};

	rc = gp_poller_new(&h.p, NULL);
	if (rc < 0) {
		fprintf(stderr, "glib_host: gp_poller_new: %s\n",
		        gp_strerror(rc));
		goto out_close;
	}
	rc = gp_add(h.p, h.server.fd, GP_READ, &h.server);
	if (rc == 0)
		rc = gp_add(h.p, h.client.fd, GP_READ | GP_ONESHOT, &h.client);
	if (rc < 0) {
		fprintf(stderr, "glib_host: gp_add: %s\n", gp_strerror(rc));
		goto out_free;
	}

	/* A context of our own, made the main thread's default: see
	 * on_ready() for why it must not be GLib's global default context. */
	h.ctx = g_main_context_new();
	g_main_context_push_thread_default(h.ctx);
	h.loop = g_main_loop_new(h.ctx, FALSE);
	h.main_thread = g_thread_self();

	timer = g_timeout_source_new(TICK_MS);
	g_source_set_callback(timer, on_tick, &h, NULL);
	g_source_attach(timer, h.ctx);
	watchdog = g_timeout_source_new_seconds(WATCHDOG_S);
	g_source_set_callback(watchdog, on_watchdog, &h, NULL);
	g_source_attach(watchdog, h.ctx);

	printf("libguestpoll %s (backend %s) hosted by GLib %u.%u.%u: "
	       "%d round trips, timer every %d ms\n",
	       gp_version(), gp_poller_backend(h.p), glib_major_version,
	       glib_minor_version, glib_micro_version, h.rounds, TICK_MS);
	start_wait(&h);
	g_main_loop_run(h.loop);

	g_source_destroy(timer);
	g_source_unref(timer);
	g_source_destroy(watchdog);
	g_source_unref(watchdog);
	if (h.done && h.idle_ticks < h.rounds) {
		fprintf(stderr,
		        "glib_host: error: only %d timer ticks during split "
		        "waits, expected %d or more\n",
		        h.idle_ticks, h.rounds);
	} else if (h.done) {
		printf("ok: %d round trips; %d split waits, %d dispatches on "
		       "the GLib thread; %d GLib timer ticks, %d of them while "
		       "a split wait was in flight\n",
		       h.rounds, h.waits, h.dispatches, h.ticks, h.idle_ticks);
		status = EXIT_SUCCESS;
	}
	g_main_loop_unref(h.loop);
	g_main_context_pop_thread_default(h.ctx);
	g_main_context_unref(h.ctx);

	if (gp_remove(h.p, h.client.fd) < 0 ||
	    gp_remove(h.p, h.server.fd) < 0) {
		fprintf(stderr, "glib_host: gp_remove failed\n");
		status = EXIT_FAILURE;
	}
out_free:
	gp_poller_free(h.p);
out_close:
	close(sv[0]);
	close(sv[1]);
	return status;
}
