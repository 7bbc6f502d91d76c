/* gp_fault.c - failure injection over a whole scenario of libguestpoll use.
 *
 * Needs a library built with ./configure --enable-fault-injection (see
 * src/fault.h).  The scenario creates a poller, registers pipes (also at a
 * high descriptor number, so that the table and the map grow), modifies,
 * waits, runs split waits (which start the waiter thread), notifies,
 * removes and frees.  It is run once with no failure to count the
 * faultable calls it makes, then once for every N of them with the N-th
 * failing.  Each call that fails must
 *
 *   - return a GP_E* code of the documented kind (GP_ENOMEM, GP_EMFILE,
 *     GP_ESYS), never crash, hang or report success;
 *   - change nothing: a failed gp_add leaves the descriptor unregistered, a
 *     failed gp_modify leaves the old registration reporting as before, a
 *     failed gp_wait_start leaves the poller idle;
 *   - leave the poller usable: the same call, tried again, succeeds and the
 *     scenario goes on to the end, where gp_poller_free releases everything
 *     (ASan's leak checker or valgrind, which make check runs this under in
 *     the sanitizer build, reports anything left).
 *
 *   GUESTPOLL_BACKEND=NAME gp_fault [--verbose]
 *
 * Exit 0 when every run passed; 1 on a failed check; 77 when the backend is
 * not available or the library has no fault hook.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../backend_env.h"

/* The hook (src/fault.h), exported by fault-injection builds only. */
#define GP_FAULT_ALL 0x1f
void gp__fault_arm(unsigned mask, long nth);
long gp__fault_calls(void);
int gp__fault_fired(void);

#define NPIPES  6
#define HIGH_FD 700

static int failures;
static int verbose;
static long current_n;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "gp_fault: N=%ld: %s:%d: ", current_n, \
			        __FILE__, __LINE__);                           \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			failures++;                                            \
			return -1;                                             \
		}                                                              \
	} while (0)

/* A failure code an injected failure may surface as. */
static int
acceptable(int rc)
{
	return rc == GP_ENOMEM || rc == GP_EMFILE || rc == GP_ESYS;
}

/* Runs call until it succeeds; one injected failure at most is allowed,
 * and it must have been an acceptable code. */
#define RETRY(rcvar, call, what)                                               \
	do {                                                                   \
		rcvar = (call);                                                \
		if (rcvar < 0) {                                               \
			CHECK(acceptable(rcvar), "%s: %d (%s)", what, rcvar,   \
			      gp_strerror(rcvar));                             \
			CHECK(gp__fault_fired(),                               \
			      "%s failed with no injected failure: %s", what,  \
			      gp_strerror(rcvar));                             \
			if (verbose)                                           \
				printf("N=%ld: %s -> %s\n", current_n, what,   \
				       gp_strerror(rcvar));                    \
			failed_once = 1;                                       \
			rcvar = (call);                                        \
		}                                                              \
	} while (0)

struct ready {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int fired;
};

static void
on_ready(void *arg)
{
	struct ready *r = arg;

	pthread_mutex_lock(&r->lock);
	r->fired = 1;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static int
find(const gp_event *ev, int n, uintptr_t tag)
{
	for (int i = 0; i < n; i++)
		if ((uintptr_t)ev[i].data == tag)
			return 1;
	return 0;
}

/* gp_wait with timeout 0; an injected failure (the poll backend allocates
 * while it rebuilds its set) is tried again once. */
static int
wait0(gp_poller *p, gp_event *ev, int max)
{
	int n = gp_wait(p, ev, max, 0);

	if (n < 0 && acceptable(n) && gp__fault_fired()) {
		if (verbose)
			printf("N=%ld: gp_wait -> %s\n", current_n,
			       gp_strerror(n));
		n = gp_wait(p, ev, max, 0);
	}
	return n;
}

/* One split wait (timeout 0) and its collection into ev; an injected
 * failure of the start or of the wait itself is tried again once. */
static int
split_wait(gp_poller *p, gp_event *ev, int max, struct ready *r)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		int rc, n;

		r->fired = 0;
		rc = gp_wait_start(p, 0, on_ready, r);
		if (rc < 0) {
			if (!acceptable(rc) || !gp__fault_fired() || attempt)
				return rc;
			/* Idle again: a plain wait works. */
			n = wait0(p, ev, max);
			if (n < 1 || !find(ev, n, 51))
				return -1000;
			continue;
		}
		pthread_mutex_lock(&r->lock);
		while (!r->fired)
			pthread_cond_wait(&r->cond, &r->lock);
		pthread_mutex_unlock(&r->lock);
		n = gp_wait_collect(p, ev, max);
		if (n < 0 && acceptable(n) && gp__fault_fired() && !attempt)
			continue;
		return n;
	}
	return -1001;
}

static int
scenario(const gp_options *opts, int fds[NPIPES][2], int high)
{
	gp_poller *p = NULL;
	gp_event ev[32];
	struct ready r = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	                  0};
	int rc, n, failed_once = 0;

	rc = gp_poller_new(&p, opts);
	if (rc < 0) {
		CHECK(acceptable(rc) && gp__fault_fired(), "gp_poller_new: %s",
		      gp_strerror(rc));
		CHECK(p == NULL, "gp_poller_new failed but set *out");
		if (verbose)
			printf("N=%ld: gp_poller_new -> %s\n", current_n,
			       gp_strerror(rc));
		return 0; /* nothing to use or free */
	}

	/* Registrations; a failed add must leave nothing behind. */
	for (int i = 0; i < NPIPES; i++) {
		rc = gp_add(p, fds[i][0], GP_READ, (void *)(uintptr_t)(i + 1));
		if (rc < 0) {
			CHECK(acceptable(rc) && gp__fault_fired(), "gp_add: %s",
			      gp_strerror(rc));
			CHECK(gp_remove(p, fds[i][0]) == GP_ENOENT,
			      "a failed gp_add left a registration");
			failed_once = 1;
			rc = gp_add(p, fds[i][0], GP_READ,
			            (void *)(uintptr_t)(i + 1));
		}
		CHECK(rc == 0, "gp_add retried: %s", gp_strerror(rc));
	}
	/* A high descriptor number makes the map grow. */
	RETRY(rc, gp_add(p, high, GP_READ, (void *)(uintptr_t)100),
	      "gp_add (high fd)");
	CHECK(rc == 0, "gp_add high: %s", gp_strerror(rc));

	/* Modify: on failure the old registration still reports. */
	if (write(fds[1][1], "x", 1) != 1)
		CHECK(0, "write: %s", strerror(errno));
	rc = gp_modify(p, fds[1][0], GP_READ | GP_WRITE, (void *)(uintptr_t)51);
	if (rc < 0) {
		CHECK(acceptable(rc) && gp__fault_fired(), "gp_modify: %s",
		      gp_strerror(rc));
		n = wait0(p, ev, 32);
		CHECK(n >= 1 && find(ev, n, 2) && !find(ev, n, 51),
		      "after a failed gp_modify the old registration must "
		      "report (n=%d)",
		      n);
		failed_once = 1;
		rc = gp_modify(p, fds[1][0], GP_READ | GP_WRITE,
		               (void *)(uintptr_t)51);
	}
	CHECK(rc == 0, "gp_modify retried: %s", gp_strerror(rc));

	/* A plain wait sees the readable pipe under its new data. */
	n = wait0(p, ev, 32);
	CHECK(n >= 1 && find(ev, n, 51), "gp_wait: %d", n);

	/* A split wait: the first one starts the waiter thread. */
	for (int round = 0; round < 2; round++) {
		n = split_wait(p, ev, 32, &r);
		CHECK(n >= 1 && find(ev, n, 51), "split wait: %d (%s)", n,
		      n < 0 ? gp_strerror(n) : "");
		while (gp_wait_collect(p, ev, 32) > 0)
			;
	}

	/* Notifications. */
	CHECK(gp_notify(p) == 0, "gp_notify");
	n = wait0(p, ev, 32);
	CHECK(n >= 1 && ev[0].events == GP_NOTIFIED, "notify not reported");

	/* Removal of everything; removal never fails. */
	for (int i = 0; i < NPIPES; i++)
		CHECK(gp_remove(p, fds[i][0]) == 0, "gp_remove %d", i);
	CHECK(gp_remove(p, high) == 0, "gp_remove high");
	n = wait0(p, ev, 32);
	CHECK(n == 0, "events after removing everything: %d", n);

	gp_poller_free(p);
	(void)failed_once;
	return 0;
}

int
main(int argc, char **argv)
{
	gp_options opts;
	int fds[NPIPES][2], high, runs = 0;
	long total;
	char buf[16];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--verbose") == 0)
			verbose = 1;
		else {
			fprintf(stderr,
			        "usage: GUESTPOLL_BACKEND=NAME gp_fault "
			        "[--verbose]\n");
			return 99;
		}
	}
	gp_options_init(&opts);
	opts.backend = tb_backend_from_env("gp_fault");
	opts.flags |= GP_FLAG_NOENV;
	for (int i = 0; i < NPIPES; i++)
		if (pipe2(fds[i], O_CLOEXEC | O_NONBLOCK) < 0) {
			perror("pipe2");
			return 99;
		}
	high = dup2(fds[0][1], HIGH_FD);
	if (high < 0) {
		perror("dup2");
		return 99;
	}

	/* The count: one run with the hook armed far beyond its end. */
	gp__fault_arm(GP_FAULT_ALL, 1L << 40);
	current_n = 0;
	if (scenario(&opts, fds, high) < 0 || failures) {
		fprintf(stderr, "gp_fault: the scenario fails without any "
		                "injected failure\n");
		return 1;
	}
	total = gp__fault_calls();
	if (total == 0) {
		printf("gp_fault: the library has no fault hook (configure "
		       "--enable-fault-injection); skipped\n");
		return 77;
	}
	/* Then the N-th faultable call fails, for every N. */
	for (current_n = 1; current_n <= total; current_n++) {
		gp__fault_arm(GP_FAULT_ALL, current_n);
		scenario(&opts, fds, high);
		if (!gp__fault_fired()) {
			fprintf(stderr,
			        "gp_fault: N=%ld: no failure was injected "
			        "(the scenario made fewer calls than the count "
			        "run)\n",
			        current_n);
			failures++;
		}
		runs++;
		/* Drain what the scenario wrote. */
		while (read(fds[1][0], buf, sizeof buf) > 0)
			;
	}
	gp__fault_arm(0, 0);
	printf("gp_fault: backend %s: %ld faultable calls in the scenario, %d "
	       "runs with one of them failing: %s\n",
	       gp_backend_name(opts.backend), total, runs,
	       failures ? "FAIL" : "PASS");
	return failures ? 1 : 0;
}
