/* plain_wait.c - the plain blocking gp_wait(), in a single thread.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * The same echo as split_echo.c, but the way a classic event loop does it:
 * one thread registers both ends of a socketpair, blocks in gp_wait() and
 * dispatches what it returns.  The client sends "ping 1", the server echoes
 * it, the client checks the echo and sends "ping 2", and so on.
 *
 * Usage: plain_wait [ROUNDS]     (default 5; GUESTPOLL_BACKEND=poll to try
 *                                 the poll backend)
 * Build against an installed library:
 *   cc -std=c11 plain_wait.c $(pkg-config --cflags --libs guestpoll)
 *
 * Exits 0 when every echo came back intact, 1 (with a message) otherwise.
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

#include <guestpoll.h>

/* A wait that takes this long means an event went missing: fail. */
#define WAIT_TIMEOUT_NS (2 * 1000000000LL)
#define MAX_EVENTS      8
#define MSG_MAX         64

static int
fail(const char *fmt, ...)
{
	va_list ap;

	fputs("plain_wait: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

/* Reads what is there (at most len bytes) from a non-blocking fd; returns
 * the count, 0 if nothing was there, -1 on error or end of file. */
static ssize_t
read_some(int fd, char *buf, size_t len)
{
	ssize_t n = read(fd, buf, len);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n < 0)
		return fail("read: %s", strerror(errno));
	if (n == 0)
		return fail("the other end hung up");
	return n;
}

static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n = write(fd, buf, len);

	if (n < 0 || (size_t)n != len)
		return fail("write failed or was short");
	return 0;
}

int
main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 5;
	int sv[2], round = 1, need_send = 1, done = 0, rc, i, n;
	int status = EXIT_FAILURE;
	/* The data pointers just tell the two ends apart. */
	static const char client_tag[] = "client", server_tag[] = "server";
	char sent[MSG_MAX], got[MSG_MAX], buf[MSG_MAX];
	size_t sent_len = 0, got_len = 0;
	gp_event evs[MAX_EVENTS];
	gp_poller *p;
	ssize_t len;

	if (rounds < 1 || argc > 2) {
		fprintf(stderr, "usage: plain_wait [ROUNDS]  (ROUNDS >= 1)\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		fail("socketpair: %s", strerror(errno));
		return EXIT_FAILURE;
	}
	for (i = 0; i < 2; i++)
		fcntl(sv[i], F_SETFL, fcntl(sv[i], F_GETFL) | O_NONBLOCK);

	rc = gp_poller_new(&p, NULL);
	if (rc < 0) {
		fail("gp_poller_new: %s", gp_strerror(rc));
		goto out_close;
	}
	printf("libguestpoll %s, backend: %s, %d round trips\n", gp_version(),
	       gp_poller_backend(p), rounds);

	/* Both ends level-triggered: reported by every wait while readable. */
	rc = gp_add(p, sv[0], GP_READ, (void *)client_tag);
	if (rc == 0)
		rc = gp_add(p, sv[1], GP_READ, (void *)server_tag);
	if (rc < 0) {
		fail("gp_add: %s", gp_strerror(rc));
		goto out_free;
	}

	while (!done) {
		if (need_send) {
			need_send = 0;
			sent_len = (size_t)snprintf(sent, sizeof sent,
			                            "ping %d", round);
			got_len = 0;
			if (write_all(sv[0], sent, sent_len) < 0)
				goto out_remove;
			printf("round %d: client sent '%s'\n", round, sent);
		}

		/* Block until something is ready (or the timeout). */
		n = gp_wait(p, evs, MAX_EVENTS, WAIT_TIMEOUT_NS);
		if (n < 0) {
			fail("gp_wait: %s", gp_strerror(n));
			goto out_remove;
		}
		if (n == 0) {
			fail("round %d: the wait timed out", round);
			goto out_remove;
		}

		for (i = 0; i < n && !done; i++) {
			if (evs[i].events & (GP_HUP | GP_ERR)) {
				fail("%s: hang-up or error",
				     (const char *)evs[i].data);
				goto out_remove;
			}
			if (evs[i].data == server_tag) {
				/* Server: echo back whatever arrived. */
				len = read_some(sv[1], buf, sizeof buf);
				if (len < 0 ||
				    write_all(sv[1], buf, (size_t)len) < 0)
					goto out_remove;
				if (len > 0)
					printf("round %d: server echoed "
					       "'%.*s'\n",
					       round, (int)len, buf);
				continue;
			}
			/* Client: gather the echo and check it. */
			len = read_some(sv[0], got + got_len,
			                sizeof got - got_len);
			if (len < 0)
				goto out_remove;
			got_len += (size_t)len;
			if (got_len > sent_len ||
			    memcmp(got, sent, got_len) != 0) {
				fail("round %d: sent '%s' but got back '%.*s'",
				     round, sent, (int)got_len, got);
				goto out_remove;
			}
			if (got_len < sent_len)
				continue; /* the rest comes in a later wait */
			printf("round %d: client got the echo '%s', correct\n",
			       round, sent);
			if (round == rounds) {
				done = 1;
			} else {
				round++;
				need_send = 1;
			}
		}
	}
	printf("ok: %d round trips on the %s backend\n", rounds,
	       gp_poller_backend(p));
	status = EXIT_SUCCESS;

out_remove:
	/* Remove before close. */
	if (gp_remove(p, sv[0]) < 0 || gp_remove(p, sv[1]) < 0) {
		fail("gp_remove failed");
		status = EXIT_FAILURE;
	}
out_free:
	gp_poller_free(p);
out_close:
	close(sv[0]);
	close(sv[1]);
	return status;
}
