/* fuzz_api.c - libFuzzer harness: random sequences of libguestpoll calls
 * checked against a reference model.
 *
 * Each input is a program: one operation per byte (with argument bytes
 * after it) over a small set of pipes, on one poller with the backend that
 * GUESTPOLL_BACKEND names.  The calls include invalid arguments (NULL
 * pointers, negative and huge descriptors, bad event bits, bad counts),
 * descriptors closed without being removed, split waits, notifications.
 * The model is exact (one thread), so the harness checks:
 *
 *   - every return code is the documented one for the model's state;
 *   - every event names a live registration with its current data, carries
 *     only bits its interest allows, and appears once per wait;
 *   - level-triggered readiness is reported exactly when it exists (a pipe
 *     with unread bytes for GP_READ on its read end; the write end is always
 *     writable here); a oneshot registration reports at most once per
 *     arming; a notification is reported, first, exactly when one is due;
 *   - gp_wait_state reports the model's state, and gp_wait_cancel (right
 *     after a start, racing the waiter, or with records to collect)
 *     returns GP_WAIT_READY exactly when the ready callback ran, discards
 *     the records and keeps a notification that was not collected.
 *
 * A violation aborts (libFuzzer records the input).  Built two ways: with
 * clang -fsanitize=fuzzer for fuzzing (./dev fuzz), and with a small main()
 * (fuzz_main.c) that replays the committed corpus and regression inputs in
 * make check.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guestpoll.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NPIPES 6
#define MAXEV  64

enum reg_state { UNREG, LIVE, ZOMBIE };

/* A registration of one pipe end. */
struct mreg {
	enum reg_state state;
	unsigned changed_at; /* model clock of the last add/modify/remove */
	unsigned events;     /* interest | mode */
	uintptr_t data;
	int armed; /* oneshot: not yet reported since the last arming */
};

struct mpipe {
	int fd[2]; /* [0] read end, [1] write end; -1 when closed */
	int bytes; /* unread bytes */
	struct mreg reg[2];
};

/* A wait's results, collected now or later. */
struct batch {
	unsigned clock; /* model clock when the wait was taken */
	int notified;   /* a notification was due */
	int notify_seen;
	int records;
	int must[NPIPES][2];      /* ready and registered: must come */
	int had_bytes[NPIPES][2]; /* the pipe had unread bytes */
	int seen[NPIPES][2];
};

struct model {
	gp_poller *p;
	unsigned clock;
	/* A split wait's records wait to be collected: NONE, PENDING, or
	 * MAYBE (the last collect filled its array; more may follow). */
	enum { NONE, PENDING, MAYBE } pending;
	struct batch batch;
	int edge_ok;
	int notified; /* a gp_notify() not yet reported */
	uintptr_t next_data;
	struct mpipe pipes[NPIPES];
	/* Descriptors closed while registered: their number may be reused by
	 * a new pipe, which the library still sees as registered. */
	int zombie_fd[2 * NPIPES * 64];
	int nzombies;
};

struct input {
	const uint8_t *p;
	size_t n;
};

static unsigned
next(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

#define FAIL(...)                                                              \
	do {                                                                   \
		fprintf(stderr, "fuzz_api: " __VA_ARGS__);                     \
		fputc('\n', stderr);                                           \
		abort();                                                       \
	} while (0)

#define EXPECT(call, want)                                                     \
	do {                                                                   \
		int got_ = (call);                                             \
		if (got_ != (want))                                            \
			FAIL("%s returned %d (%s), expected %d (%s)", #call,   \
			     got_, gp_strerror(got_), (int)(want),             \
			     gp_strerror(want));                               \
	} while (0)

static int
is_zombie(const struct model *m, int fd)
{
	for (int i = 0; i < m->nzombies; i++)
		if (m->zombie_fd[i] == fd)
			return 1;
	return 0;
}

static void
forget_zombie(struct model *m, int fd)
{
	for (int i = 0; i < m->nzombies; i++)
		if (m->zombie_fd[i] == fd) {
			m->zombie_fd[i] = m->zombie_fd[--m->nzombies];
			return;
		}
}

static void
open_pipe(struct model *m, struct mpipe *pp)
{
	if (pipe2(pp->fd, O_CLOEXEC | O_NONBLOCK) < 0)
		FAIL("pipe2: %s", strerror(errno));
	pp->bytes = 0;
	memset(pp->reg, 0, sizeof pp->reg);
	pp->reg[0].changed_at = pp->reg[1].changed_at = ++m->clock;
	/* A reused number that the library still holds for a closed
	 * descriptor: remove that stale registration first (as a program
	 * must), which the documentation says succeeds. */
	for (int e = 0; e < 2; e++)
		if (is_zombie(m, pp->fd[e])) {
			EXPECT(gp_remove(m->p, pp->fd[e]), 0);
			forget_zombie(m, pp->fd[e]);
		}
}

static unsigned
decode_events(unsigned b)
{
	/* Mostly valid, sometimes not. */
	static const unsigned table[16] = {
	        GP_READ,
	        GP_WRITE,
	        GP_READ | GP_WRITE,
	        GP_READ | GP_ONESHOT,
	        GP_WRITE | GP_ONESHOT,
	        GP_READ | GP_EDGE,
	        GP_WRITE | GP_EDGE,
	        GP_READ | GP_WRITE | GP_ONESHOT,
	        GP_READ | GP_EDGE | GP_ONESHOT,
	        0,                 /* no interest */
	        GP_ONESHOT,        /* no interest */
	        GP_READ | GP_HUP,  /* result-only bit */
	        GP_WRITE | GP_ERR, /* result-only bit */
	        GP_READ | 0x4000u, /* unknown bit */
	        GP_NOTIFIED,       /* result-only */
	        GP_READ | GP_WRITE | GP_EDGE,
	};
	return table[b % 16];
}

static int
events_error(const struct model *m, unsigned ev)
{
	if ((ev & ~(GP_READ | GP_WRITE | GP_ONESHOT | GP_EDGE)) ||
	    !(ev & (GP_READ | GP_WRITE)))
		return GP_EINVAL;
	if ((ev & GP_EDGE) && !m->edge_ok)
		return GP_ENOTSUP;
	return 0;
}

static void
op_add(struct model *m, struct input *in)
{
	unsigned a = next(in), ev = decode_events(next(in));
	struct mpipe *pp = &m->pipes[a % NPIPES];
	int e = (a / NPIPES) & 1, fd = pp->fd[e];
	struct mreg *r = &pp->reg[e];
	int want = events_error(m, ev);
	uintptr_t data = m->next_data++;

	if (fd < 0) {
		/* A closed pipe: the number is free or someone else's. */
		return;
	}
	if (!want && r->state != UNREG)
		want = GP_EEXIST;
	EXPECT(gp_add(m->p, fd, ev, (void *)data), want);
	if (!want) {
		r->state = LIVE;
		r->events = ev;
		r->data = data;
		r->armed = 1;
		r->changed_at = ++m->clock;
	}
}

static void
op_modify(struct model *m, struct input *in)
{
	unsigned a = next(in), ev = decode_events(next(in));
	struct mpipe *pp = &m->pipes[a % NPIPES];
	int e = (a / NPIPES) & 1, fd = pp->fd[e];
	struct mreg *r = &pp->reg[e];
	int want = events_error(m, ev);
	uintptr_t data = m->next_data++;

	if (fd < 0)
		return;
	if (!want && r->state == UNREG)
		want = GP_ENOENT;
	EXPECT(gp_modify(m->p, fd, ev, (void *)data), want);
	if (!want) {
		r->events = ev;
		r->data = data;
		r->armed = 1;
		r->changed_at = ++m->clock;
	}
}

static void
op_remove(struct model *m, struct input *in)
{
	unsigned a = next(in);
	struct mpipe *pp = &m->pipes[a % NPIPES];
	int e = (a / NPIPES) & 1, fd = pp->fd[e];
	struct mreg *r = &pp->reg[e];

	if (fd < 0)
		return;
	EXPECT(gp_remove(m->p, fd), r->state == UNREG ? GP_ENOENT : 0);
	r->state = UNREG;
	r->changed_at = ++m->clock;
}

static void
op_write(struct model *m, struct input *in)
{
	struct mpipe *pp = &m->pipes[next(in) % NPIPES];

	if (pp->fd[1] < 0 || pp->bytes >= 16)
		return;
	if (write(pp->fd[1], "x", 1) != 1)
		FAIL("write: %s", strerror(errno));
	pp->bytes++;
}

static void
op_drain(struct model *m, struct input *in)
{
	struct mpipe *pp = &m->pipes[next(in) % NPIPES];
	char buf[32];

	if (pp->fd[0] < 0)
		return;
	while (read(pp->fd[0], buf, sizeof buf) > 0)
		;
	pp->bytes = 0;
}

/* Closes both ends, removing their registrations first unless
 * keep_registered (the user error the library must survive). */
static void
op_close(struct model *m, struct input *in, int keep_registered)
{
	struct mpipe *pp = &m->pipes[next(in) % NPIPES];

	if (pp->fd[0] < 0)
		return;
	for (int e = 0; e < 2; e++) {
		if (pp->reg[e].state != UNREG) {
			if (keep_registered &&
			    m->nzombies < (int)(sizeof m->zombie_fd /
			                        sizeof m->zombie_fd[0]))
				m->zombie_fd[m->nzombies++] = pp->fd[e];
			else
				EXPECT(gp_remove(m->p, pp->fd[e]), 0);
		}
		close(pp->fd[e]);
		pp->fd[e] = -1;
		pp->reg[e].state = UNREG;
		pp->reg[e].changed_at = ++m->clock;
	}
}

static void
op_reopen(struct model *m, struct input *in)
{
	struct mpipe *pp = &m->pipes[next(in) % NPIPES];

	if (pp->fd[0] >= 0)
		return;
	open_pipe(m, pp);
}

/* Whether a live level or oneshot registration must be in a batch taken
 * now. */
static int
must_report(const struct mpipe *pp, int e, const struct mreg *r)
{
	if (r->state != LIVE || (r->events & GP_EDGE))
		return 0;
	if ((r->events & GP_ONESHOT) && !r->armed)
		return 0;
	if (e == 0)
		return (r->events & GP_READ) && pp->bytes > 0;
	return (r->events & GP_WRITE) != 0;
}

/* What the model knew when a kernel wait was taken: its results may be
 * collected later, after other calls changed the registrations (those
 * results must then be dropped) and the pipes' contents. */
static void
take_snapshot(struct model *m, struct batch *b)
{
	memset(b, 0, sizeof *b);
	b->clock = ++m->clock;
	b->notified = m->notified;
	for (int k = 0; k < NPIPES; k++)
		for (int e = 0; e < 2; e++) {
			b->must[k][e] = must_report(&m->pipes[k], e,
			                            &m->pipes[k].reg[e]);
			b->had_bytes[k][e] = m->pipes[k].bytes > 0;
		}
}

/* Checks records of the batch as they are collected. */
static void
check_records(struct model *m, const gp_event *ev, int n)
{
	struct batch *b = &m->batch;

	for (int i = 0; i < n; i++) {
		int found = 0;

		if (ev[i].events & GP_NOTIFIED) {
			if (b->records || !b->notified ||
			    ev[i].fd != GP_INVALID_FD || b->notify_seen)
				FAIL("unexpected notification record");
			b->notify_seen = 1;
			b->records++;
			continue;
		}
		b->records++;
		for (int k = 0; k < NPIPES && !found; k++) {
			struct mpipe *pp = &m->pipes[k];
			for (int e = 0; e < 2 && !found; e++) {
				struct mreg *r = &pp->reg[e];
				unsigned allowed;

				if (pp->fd[e] != ev[i].fd || r->state != LIVE)
					continue;
				found = 1;
				if (r->changed_at > b->clock)
					FAIL("fd %d: stale event: its "
					     "registration "
					     "changed after the wait",
					     ev[i].fd);
				if ((uintptr_t)ev[i].data != r->data)
					FAIL("fd %d: data %p, the live "
					     "registration has %p",
					     ev[i].fd, ev[i].data,
					     (void *)r->data);
				if (b->seen[k][e]++)
					FAIL("fd %d reported twice in one wait",
					     ev[i].fd);
				allowed = (r->events & (GP_READ | GP_WRITE)) |
				          GP_HUP | GP_ERR;
				if (!ev[i].events || (ev[i].events & ~allowed))
					FAIL("fd %d: events 0x%x, interest "
					     "0x%x",
					     ev[i].fd, ev[i].events, r->events);
				if ((r->events & GP_ONESHOT) && !r->armed)
					FAIL("fd %d: oneshot reported twice",
					     ev[i].fd);
				r->armed = 0;
				/* A read end with nothing to read is not
				 * readable (its write end is open). */
				if (e == 0 && (ev[i].events & GP_READ) &&
				    !b->had_bytes[k][e])
					FAIL("fd %d: readable with no data",
					     ev[i].fd);
				if (e == 0 && (ev[i].events & GP_WRITE))
					FAIL("fd %d: read end writable",
					     ev[i].fd);
			}
		}
		/* Otherwise it must be a descriptor closed while registered
		 * (reported once with GP_ERR by some backends). */
		if (!found && !is_zombie(m, ev[i].fd))
			FAIL("event for fd %d, which is not registered",
			     ev[i].fd);
	}
}

/* The batch is complete: what was due must have come. */
static void
finish_batch(struct model *m)
{
	struct batch *b = &m->batch;

	if (b->notified && !b->notify_seen)
		FAIL("a notification was due and not reported");
	for (int k = 0; k < NPIPES; k++)
		for (int e = 0; e < 2; e++)
			if (b->must[k][e] && !b->seen[k][e] &&
			    m->pipes[k].reg[e].changed_at < b->clock)
				FAIL("fd %d ready and registered (0x%x), not "
				     "reported",
				     m->pipes[k].fd[e],
				     m->pipes[k].reg[e].events);
	m->pending = NONE;
}

/* A new wait was accepted (it did not return GP_EBUSY): the previous batch,
 * if it was only maybe complete, was, and the new one begins. */
static void
begin_batch(struct model *m, const struct batch *b)
{
	if (m->pending == MAYBE)
		finish_batch(m);
	m->batch = *b;
	m->notified = 0; /* this wait reports it */
}

/* Whether the model expects GP_EBUSY from a new wait: rc is what it got. */
static int
busy(struct model *m, int rc, const char *what)
{
	if (m->pending == PENDING || (m->pending == MAYBE && rc == GP_EBUSY)) {
		if (rc != GP_EBUSY)
			FAIL("%s returned %d (%s) with records to collect",
			     what, rc, gp_strerror(rc));
		m->pending = PENDING;
		return 1;
	}
	return 0;
}

static void
op_wait(struct model *m)
{
	gp_event ev[MAXEV];
	struct batch b;
	int n;

	take_snapshot(m, &b);
	n = gp_wait(m->p, ev, MAXEV, 0);
	if (busy(m, n, "gp_wait"))
		return;
	if (n < 0)
		FAIL("gp_wait: %s", gp_strerror(n));
	begin_batch(m, &b);
	check_records(m, ev, n);
	finish_batch(m);
}

struct readiness {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int ready;
};

static void
on_ready(void *arg)
{
	struct readiness *r = arg;

	pthread_mutex_lock(&r->lock);
	r->ready = 1;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

/* The batch in m->batch was discarded by gp_wait_cancel: a notification
 * not collected from it is due again; a oneshot registration it held (and
 * that was not collected) may have been disarmed by the kernel wait, which
 * a cancel in flight leaves uncertain: re-arm those with gp_modify, as a
 * program must.  The poller is idle. */
static void
discard_batch(struct model *m)
{
	struct batch *b = &m->batch;

	if (b->notified && !b->notify_seen)
		m->notified = 1;
	for (int k = 0; k < NPIPES; k++)
		for (int e = 0; e < 2; e++) {
			struct mpipe *pp = &m->pipes[k];
			struct mreg *r = &pp->reg[e];

			if (!b->must[k][e] || b->seen[k][e] ||
			    r->state != LIVE || !(r->events & GP_ONESHOT) ||
			    r->changed_at > b->clock)
				continue;
			EXPECT(gp_modify(m->p, pp->fd[e], r->events,
			                 (void *)r->data),
			       0);
			r->armed = 1;
			r->changed_at = ++m->clock;
		}
	m->pending = NONE;
}

/* gp_wait_cancel with records to collect, or none. */
static void
op_cancel(struct model *m)
{
	int st = gp_wait_state(m->p), rc;

	switch (m->pending) {
	case NONE:
		EXPECT(st, GP_WAIT_IDLE);
		break;
	case PENDING:
		EXPECT(st, GP_WAIT_READY);
		break;
	default:
		/* The last collect may or may not have drained the batch. */
		if (st != GP_WAIT_READY && st != GP_WAIT_IDLE)
			FAIL("gp_wait_state %d with a batch maybe drained", st);
		break;
	}
	rc = gp_wait_cancel(m->p);
	EXPECT(rc, st);
	EXPECT(gp_wait_state(m->p), GP_WAIT_IDLE);
	if (rc == GP_WAIT_READY)
		discard_batch(m);
	else if (m->pending == MAYBE)
		finish_batch(m);
	EXPECT(gp_wait_cancel(m->p), GP_WAIT_IDLE);
}

/* Starts a split wait (timeout 0, on the waiter thread) or gp_wait_poll;
 * its records are collected by later op_collect calls, with any other
 * calls in between.  mode: bit 0, gp_wait_poll; bits 1-2 both set, cancel
 * right after the start (racing the waiter thread). */
static void
op_start(struct model *m, unsigned mode)
{
	struct readiness r = {PTHREAD_MUTEX_INITIALIZER,
	                      PTHREAD_COND_INITIALIZER, 0};
	struct batch b;
	int on_this_thread = mode & 1, cancel = (mode >> 1 & 3) == 3;
	int n;

	take_snapshot(m, &b);
	if (on_this_thread) {
		n = gp_wait_poll(m->p);
		if (busy(m, n, "gp_wait_poll"))
			return;
		if (n < 0)
			FAIL("gp_wait_poll: %s", gp_strerror(n));
		begin_batch(m, &b);
		if (n == 0) {
			EXPECT(gp_wait_state(m->p), GP_WAIT_IDLE);
			finish_batch(m);
			return;
		}
		EXPECT(gp_wait_state(m->p), GP_WAIT_READY);
		if (cancel) {
			EXPECT(gp_wait_cancel(m->p), GP_WAIT_READY);
			discard_batch(m);
			return;
		}
	} else {
		n = gp_wait_start(m->p, 0, on_ready, &r);
		if (busy(m, n, "gp_wait_start"))
			return;
		if (n != 0)
			FAIL("gp_wait_start: %s", gp_strerror(n));
		begin_batch(m, &b);
		EXPECT(gp_wait_start(m->p, 0, on_ready, &r), GP_EBUSY);
		if (cancel) {
			/* When it returns, the callback (which writes to r,
			 * on this stack) has run or never will. */
			int rc = gp_wait_cancel(m->p), ran;

			pthread_mutex_lock(&r.lock);
			ran = r.ready;
			pthread_mutex_unlock(&r.lock);
			if (rc != (ran ? GP_WAIT_READY : GP_WAIT_INFLIGHT))
				FAIL("gp_wait_cancel %d, ready %s", rc,
				     ran ? "called" : "not called");
			EXPECT(gp_wait_state(m->p), GP_WAIT_IDLE);
			discard_batch(m);
			return;
		}
		pthread_mutex_lock(&r.lock);
		while (!r.ready)
			pthread_cond_wait(&r.cond, &r.lock);
		pthread_mutex_unlock(&r.lock);
		EXPECT(gp_wait_state(m->p), GP_WAIT_READY);
	}
	m->pending = PENDING;
}

static void
op_collect(struct model *m, struct input *in)
{
	gp_event ev[MAXEV];
	unsigned c = next(in);
	int chunk = 1 + (int)(c % 4), n;

	if ((c >> 2) % 8 == 7) {
		op_cancel(m);
		return;
	}
	if (m->pending == NONE) {
		EXPECT(gp_wait_collect(m->p, ev, chunk), 0);
		return;
	}
	n = gp_wait_collect(m->p, ev, chunk);
	if (n < 0)
		FAIL("gp_wait_collect: %s", gp_strerror(n));
	check_records(m, ev, n);
	/* Fewer than asked for: the records ran out.  As many: perhaps. */
	if (n < chunk)
		finish_batch(m);
	else
		m->pending = MAYBE;
}

static void
op_invalid(struct model *m, struct input *in)
{
	gp_event ev[2];
	struct mpipe *pp = &m->pipes[0];

	switch (next(in) % 10) {
	case 0:
		EXPECT(gp_add(NULL, 0, GP_READ, NULL), GP_EINVAL);
		break;
	case 1:
		EXPECT(gp_add(m->p, -1 - (int)next(in), GP_READ, NULL),
		       GP_EBADF);
		break;
	case 2:
		/* A number far above any open descriptor. */
		EXPECT(gp_add(m->p, INT_MAX - (int)next(in), GP_READ, NULL),
		       GP_EBADF);
		break;
	case 3:
		EXPECT(gp_modify(m->p, -1, GP_READ, NULL), GP_EBADF);
		break;
	case 4:
		EXPECT(gp_remove(m->p, -5), GP_EBADF);
		break;
	case 5:
		EXPECT(gp_wait(m->p, ev, 0, 0), GP_EINVAL);
		break;
	case 6:
		EXPECT(gp_wait(m->p, NULL, 2, 0), GP_EINVAL);
		break;
	case 7:
		if (m->pending == NONE) /* nothing to collect */
			EXPECT(gp_wait_collect(m->p, ev, 2), 0);
		break;
	case 8:
		EXPECT(gp_wait_start(m->p, 0, NULL, NULL), GP_EINVAL);
		EXPECT(gp_wait_cancel(NULL), GP_EINVAL);
		EXPECT(gp_wait_state(NULL), GP_EINVAL);
		break;
	default:
		if (pp->fd[0] >= 0 && pp->reg[0].state == UNREG)
			EXPECT(gp_modify(m->p, pp->fd[0], GP_READ, NULL),
			       GP_ENOENT);
		break;
	}
}

static int
fuzz_setup(struct model *m)
{
	int fds[2];

	memset(m, 0, sizeof *m);
	if (gp_poller_new(&m->p, NULL) != 0)
		return -1;
	m->next_data = 0x1000;
	if (pipe(fds) < 0)
		FAIL("pipe: %s", strerror(errno));
	m->edge_ok = gp_add(m->p, fds[0], GP_READ | GP_EDGE, NULL) == 0;
	if (m->edge_ok)
		gp_remove(m->p, fds[0]);
	close(fds[0]);
	close(fds[1]);
	for (int k = 0; k < NPIPES; k++)
		open_pipe(m, &m->pipes[k]);
	return 0;
}

static void
fuzz_teardown(struct model *m)
{
	for (int k = 0; k < NPIPES; k++)
		for (int e = 0; e < 2; e++)
			if (m->pipes[k].fd[e] >= 0)
				close(m->pipes[k].fd[e]);
	gp_poller_free(m->p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct model m;
	struct input in = {data, size};

	if (fuzz_setup(&m) < 0)
		FAIL("gp_poller_new failed");
	while (in.n) {
		switch (next(&in) % 16) {
		case 0:
		case 1:
			op_add(&m, &in);
			break;
		case 2:
			op_modify(&m, &in);
			break;
		case 3:
			op_remove(&m, &in);
			break;
		case 4:
		case 5:
			op_write(&m, &in);
			break;
		case 6:
			op_drain(&m, &in);
			break;
		case 7:
			op_close(&m, &in, 0);
			break;
		case 8:
			op_close(&m, &in, 1);
			break;
		case 9:
			op_reopen(&m, &in);
			break;
		case 10:
		case 11:
			op_wait(&m);
			break;
		case 12:
			EXPECT(gp_notify(m.p), 0);
			m.notified = 1;
			break;
		case 13:
			op_start(&m, next(&in));
			break;
		case 14:
			op_collect(&m, &in);
			break;
		default:
			op_invalid(&m, &in);
			break;
		}
	}
	while (m.pending) {
		struct input rest = {(const uint8_t *)"\3", 1};
		op_collect(&m, &rest);
	}
	fuzz_teardown(&m);
	return 0;
}
