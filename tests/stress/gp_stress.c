/* gp_stress.c - racing stress test of libguestpoll against a reference model.
 *
 * Several mutator threads add, modify, remove, close and re-open pipes (so
 * that fd numbers are reused all the time, across threads) while the
 * poller's waiter thread loops over split waits and this (the owner) thread
 * collects.  Every registration gets a fresh id, carried as its data
 * pointer; the model keeps, per id, its fd, its interest and the moment its
 * registration ended (a global sequence number taken after gp_modify or
 * gp_remove returned).  For each collected event the owner checks:
 *
 *   stale    the id's registration ended before this collect began (its
 *            sequence number is below the one read just before collecting),
 *            or the event's fd is not the id's fd;
 *   phantom  readiness the registered descriptor cannot have: a pipe's read
 *            end is never writable, and a quarter of the pipes ("silent")
 *            are never written to, so their read end is never readable
 *            while registered (the write end is closed only after the
 *            removal).  An old kernel record delivered under a newer
 *            registration shows up here;
 *   bits     the event carries a bit outside its interest (HUP and ERR
 *            aside) or an unknown bit;
 *   oneshot  a GP_ONESHOT registration reported twice;
 *   lost     one of the "stable" descriptors (registered once, readable,
 *            never touched again) is missing from a batch: every kernel wait
 *            sees them ready, so every batch must hold them.
 *
 * Mutators also check every return code against what the model says it
 * must be (0, GP_EEXIST, GP_ENOENT, GP_EINVAL).
 *
 *   GUESTPOLL_BACKEND=NAME gp_stress [--ops N] [--threads T] [--seed S]
 *
 * N operations in all (default 1,000,000: the CI mode; --ops 10000000 is
 * the long mode).  Exit 0 when every count of violations is 0; 1 if not;
 * 77 when the backend is not available here; 99 on a setup error.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../backend_env.h"

#define SLOTS      32 /* pipes per mutator */
#define MAX_THR    16
#define STABLE     4
#define MAX_EVENTS 1024
#define EVBUF      4096

/* The model of one registration (one id). */
struct reg_info {
	int fd;
	unsigned events;      /* interest and mode */
	unsigned char fired;  /* oneshot: reports so far */
	unsigned char is_rfd; /* the pipe's read end */
	unsigned char silent; /* ... of a pipe never written to */
};

struct slot {
	int rfd, wfd;
	int reg_fd; /* the end registered, or -1 */
	int silent; /* never written to */
	uint64_t id;
	unsigned events;
};

struct mutator {
	struct stress *s;
	int index;
	uint64_t rng;
	struct slot slots[SLOTS];
	pthread_t thread;
	uint64_t ops;
};

struct stress {
	gp_poller *p;
	int edge_ok;
	int nthreads;
	uint64_t target_ops;

	struct reg_info *info;
	_Atomic uint64_t
	        *retired; /* per id: the sequence it ended at; 0 live */
	uint64_t max_ids;
	atomic_uint_fast64_t next_id;
	atomic_uint_fast64_t seq;
	atomic_uint_fast64_t ops;
	atomic_int stop;

	/* violations */
	atomic_uint_fast64_t bad_rc;
	uint64_t stale, phantom, bits, oneshot, lost;
	/* counts */
	uint64_t waits, events, notified;

	int stable_r[STABLE], stable_w[STABLE];

	/* the ready callback -> the owner */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int ready;

	struct mutator mut[MAX_THR];
};

static uint64_t
rnd(uint64_t *s)
{
	/* xorshift64* */
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 2685821657736338717ULL;
}

static void
die(const char *what)
{
	fprintf(stderr, "gp_stress: %s: %s\n", what, strerror(errno));
	exit(99);
}

static void
bad(struct stress *s, const char *op, int fd, int got, int want)
{
	if (atomic_fetch_add(&s->bad_rc, 1) < 20)
		fprintf(stderr,
		        "gp_stress: %s(fd %d) returned %d (%s), expected %d\n",
		        op, fd, got, gp_strerror(got), want);
}

static void
open_pipe(struct slot *sl)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
		die("pipe2");
	sl->rfd = fds[0];
	sl->wfd = fds[1];
	sl->reg_fd = -1;
}

/* A new id for a registration of fd with these events, or 0 when the id
 * space is used up. */
static uint64_t
new_id(struct stress *s, const struct slot *sl, int fd, unsigned events)
{
	uint64_t id = atomic_fetch_add(&s->next_id, 1);

	if (id >= s->max_ids)
		return 0;
	s->info[id].fd = fd;
	s->info[id].events = events;
	s->info[id].fired = 0;
	s->info[id].is_rfd = fd == sl->rfd;
	s->info[id].silent = (unsigned char)sl->silent;
	return id;
}

/* Marks id's registration as ended: call after gp_modify / gp_remove
 * returned. */
static void
retire(struct stress *s, uint64_t id)
{
	atomic_store(&s->retired[id], atomic_fetch_add(&s->seq, 1) + 1);
}

static unsigned
pick_events(struct stress *s, struct mutator *m, const struct slot *sl, int *fd)
{
	unsigned ev, r = (unsigned)rnd(&m->rng);

	switch (r % 3) {
	case 0:
		*fd = sl->rfd, ev = GP_READ;
		break;
	case 1:
		*fd = sl->wfd, ev = GP_WRITE;
		break;
	default:
		*fd = sl->rfd, ev = GP_READ | GP_WRITE;
		break;
	}
	r /= 3;
	if (r % 4 == 0)
		ev |= GP_ONESHOT;
	else if (r % 4 == 1 && s->edge_ok)
		ev |= GP_EDGE;
	return ev;
}

static int
op_add_or_modify(struct stress *s, struct mutator *m, struct slot *sl)
{
	int fd, rc;
	unsigned ev = pick_events(s, m, sl, &fd);
	uint64_t id;

	if (sl->reg_fd >= 0)
		fd = sl->reg_fd; /* modify keeps the registered end */
	if (!(id = new_id(s, sl, fd, ev)))
		return -1;
	if (sl->reg_fd < 0) {
		rc = gp_add(s->p, fd, ev, (void *)(uintptr_t)id);
		if (rc != 0) {
			bad(s, "gp_add", fd, rc, 0);
			return 0;
		}
		sl->reg_fd = fd;
	} else {
		rc = gp_modify(s->p, fd, ev, (void *)(uintptr_t)id);
		if (rc != 0) {
			bad(s, "gp_modify", fd, rc, 0);
			return 0;
		}
		retire(s, sl->id);
	}
	sl->id = id;
	sl->events = ev;
	return 0;
}

static void
op_remove(struct stress *s, struct slot *sl)
{
	int rc;

	if (sl->reg_fd < 0) {
		/* Not registered here, and no other thread can have this fd
		 * number registered: it is open, and ours. */
		if ((rc = gp_remove(s->p, sl->rfd)) != GP_ENOENT)
			bad(s, "gp_remove (unregistered)", sl->rfd, rc,
			    GP_ENOENT);
		return;
	}
	if ((rc = gp_remove(s->p, sl->reg_fd)) != 0)
		bad(s, "gp_remove", sl->reg_fd, rc, 0);
	retire(s, sl->id);
	sl->reg_fd = -1;
}

static void
op_reopen(struct stress *s, struct slot *sl)
{
	if (sl->reg_fd >= 0)
		op_remove(s, sl);
	close(sl->rfd);
	close(sl->wfd);
	open_pipe(sl);
}

static void
op_toggle(struct mutator *m, struct slot *sl)
{
	char buf[64];

	if (rnd(&m->rng) & 1) {
		if (!sl->silent)
			(void)!write(sl->wfd, "x", 1);
	} else {
		while (read(sl->rfd, buf, sizeof buf) > 0)
			;
	}
}

static void
op_errors(struct stress *s, struct mutator *m, struct slot *sl)
{
	int rc;

	switch (rnd(&m->rng) % 3) {
	case 0: /* add of a registered fd */
		if (sl->reg_fd >= 0 &&
		    (rc = gp_add(s->p, sl->reg_fd, GP_READ, NULL)) != GP_EEXIST)
			bad(s, "gp_add (registered)", sl->reg_fd, rc,
			    GP_EEXIST);
		break;
	case 1: /* modify of an unregistered fd */
		if (sl->reg_fd < 0 &&
		    (rc = gp_modify(s->p, sl->rfd, GP_READ, NULL)) != GP_ENOENT)
			bad(s, "gp_modify (unregistered)", sl->rfd, rc,
			    GP_ENOENT);
		break;
	default: /* bad event bits */
		if ((rc = gp_add(s->p, sl->rfd, 0x8000u, NULL)) != GP_EINVAL)
			bad(s, "gp_add (bad bits)", sl->rfd, rc, GP_EINVAL);
		break;
	}
}

static void *
mutator_main(void *arg)
{
	struct mutator *m = arg;
	struct stress *s = m->s;

	while (!atomic_load(&s->stop)) {
		struct slot *sl = &m->slots[rnd(&m->rng) % SLOTS];
		unsigned r = (unsigned)(rnd(&m->rng) % 100);

		if (r < 35) {
			if (op_add_or_modify(s, m, sl) < 0)
				break; /* ids used up */
		} else if (r < 55) {
			op_remove(s, sl);
		} else if (r < 70) {
			op_reopen(s, sl);
		} else if (r < 94) {
			op_toggle(m, sl);
		} else if (r < 99) {
			op_errors(s, m, sl);
		} else {
			gp_notify(s->p);
		}
		m->ops++;
		if (atomic_fetch_add(&s->ops, 1) + 1 >= s->target_ops)
			break;
	}
	atomic_store(&s->stop, 1);
	for (int i = 0; i < SLOTS; i++) {
		if (m->slots[i].reg_fd >= 0)
			op_remove(s, &m->slots[i]);
		close(m->slots[i].rfd);
		close(m->slots[i].wfd);
	}
	return NULL;
}

static void
on_ready(void *arg)
{
	struct stress *s = arg;

	pthread_mutex_lock(&s->lock);
	s->ready = 1;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void
check_batch(struct stress *s, const gp_event *ev, int n, uint64_t s0)
{
	int seen[STABLE] = {0};

	for (int i = 0; i < n; i++) {
		uintptr_t d = (uintptr_t)ev[i].data;
		unsigned allowed;

		s->events++;
		if (ev[i].events & GP_NOTIFIED) {
			s->notified++;
			continue;
		}
		if (d >= 1 && d <= STABLE) {
			if (ev[i].fd != s->stable_r[d - 1])
				s->stale++;
			seen[d - 1] = 1;
			continue;
		}
		if (d < 1 + STABLE || d >= s->max_ids) {
			s->stale++;
			continue;
		}
		uint64_t r = atomic_load(&s->retired[d]);
		if ((r != 0 && r <= s0) || ev[i].fd != s->info[d].fd) {
			if (s->stale++ < 10)
				fprintf(stderr,
				        "gp_stress: stale event: id %" PRIuPTR
				        " fd %d (model fd %d), ended at "
				        "%" PRIu64 ", collect began at %" PRIu64
				        "\n",
				        d, ev[i].fd, s->info[d].fd, r, s0);
			continue;
		}
		allowed = (s->info[d].events & (GP_READ | GP_WRITE)) | GP_HUP |
		          GP_ERR;
		if (ev[i].events & ~allowed || !ev[i].events)
			s->bits++;
		if (s->info[d].is_rfd &&
		    ((ev[i].events & GP_WRITE) ||
		     (s->info[d].silent && (ev[i].events & GP_READ))) &&
		    s->phantom++ < 10)
			fprintf(stderr,
			        "gp_stress: phantom event 0x%x on read end fd "
			        "%d (id %" PRIuPTR ", %s)\n",
			        ev[i].events, ev[i].fd, d,
			        s->info[d].silent ? "silent" : "written");
		if ((s->info[d].events & GP_ONESHOT) && s->info[d].fired++)
			s->oneshot++;
	}
	for (int k = 0; k < STABLE; k++)
		if (!seen[k] && s->lost++ < 10)
			fprintf(stderr,
			        "gp_stress: stable fd %d missing from a batch "
			        "of %d\n",
			        s->stable_r[k], n);
}

static void
owner_loop(struct stress *s)
{
	static gp_event ev[EVBUF];

	/* Until the mutators are done, then one more wait: everything they
	 * removed must be gone from it too. */
	for (int last = 0; !last;) {
		uint64_t s0;
		int rc, n;

		last = atomic_load(&s->stop);
		rc = gp_wait_start(s->p, 20 * 1000 * 1000, on_ready, s);
		if (rc != 0) {
			bad(s, "gp_wait_start", -1, rc, 0);
			return;
		}
		pthread_mutex_lock(&s->lock);
		while (!s->ready)
			pthread_cond_wait(&s->cond, &s->lock);
		s->ready = 0;
		pthread_mutex_unlock(&s->lock);

		s0 = atomic_load(&s->seq);
		n = gp_wait_collect(s->p, ev, EVBUF);
		if (n < 0) {
			bad(s, "gp_wait_collect", -1, n, 0);
			return;
		}
		s->waits++;
		check_batch(s, ev, n, s0);
		/* Whatever did not fit (nothing, with EVBUF > MAX_EVENTS). */
		while ((n = gp_wait_collect(s->p, ev, EVBUF)) > 0)
			check_batch(s, ev, n, s0);
	}
}

static int
parse_args(struct stress *s, int argc, char **argv, uint64_t *seed)
{
	for (int i = 1; i < argc; i += 2) { /* each option takes a value */
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			return -1;
		if (strcmp(a, "--ops") == 0)
			s->target_ops = strtoull(v, NULL, 10);
		else if (strcmp(a, "--threads") == 0)
			s->nthreads = atoi(v);
		else if (strcmp(a, "--seed") == 0)
			*seed = strtoull(v, NULL, 10);
		else
			return -1;
	}
	if (s->nthreads < 1 || s->nthreads > MAX_THR || s->target_ops < 1)
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	static struct stress st;
	struct stress *s = &st;
	uint64_t seed = (uint64_t)time(NULL);
	gp_options opts;
	struct timespec t0, t1;
	int rc, ok;

	s->nthreads = 4;
	s->target_ops = 1000000;
	if (parse_args(s, argc, argv, &seed) < 0) {
		fprintf(stderr, "usage: GUESTPOLL_BACKEND=NAME gp_stress "
		                "[--ops N] [--threads T] [--seed S]\n");
		return 99;
	}
	gp_options_init(&opts);
	opts.max_events = MAX_EVENTS;
	opts.backend = tb_backend_from_env("gp_stress");
	opts.flags |= GP_FLAG_NOENV;
	if ((rc = gp_poller_new(&s->p, &opts)) != 0) {
		fprintf(stderr, "gp_poller_new: %s\n", gp_strerror(rc));
		return 99;
	}
	/* Edge mode where the backend has it (it refuses GP_EDGE otherwise). */
	{
		int fds[2];
		if (pipe(fds) < 0)
			die("pipe");
		s->edge_ok = gp_add(s->p, fds[0], GP_READ | GP_EDGE, NULL) == 0;
		if (s->edge_ok)
			gp_remove(s->p, fds[0]);
		close(fds[0]);
		close(fds[1]);
	}

	/* Ids: at most one per operation; 1..STABLE are the stable fds. */
	s->max_ids = s->target_ops + STABLE + 1;
	s->info = calloc(s->max_ids, sizeof *s->info);
	s->retired = calloc(s->max_ids, sizeof *s->retired);
	if (!s->info || !s->retired)
		die("calloc");
	atomic_init(&s->next_id, STABLE + 1);
	atomic_init(&s->seq, 1);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);

	for (int k = 0; k < STABLE; k++) {
		int fds[2];
		if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
			die("pipe2");
		s->stable_r[k] = fds[0];
		s->stable_w[k] = fds[1];
		if (write(fds[1], "s", 1) != 1)
			die("write");
		rc = gp_add(s->p, fds[0], GP_READ, (void *)(uintptr_t)(k + 1));
		if (rc != 0) {
			fprintf(stderr, "gp_add: %s\n", gp_strerror(rc));
			return 99;
		}
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int t = 0; t < s->nthreads; t++) {
		struct mutator *m = &s->mut[t];
		m->s = s;
		m->index = t;
		m->rng = seed * 0x9E3779B97F4A7C15ULL + (uint64_t)t + 1;
		for (int i = 0; i < SLOTS; i++) {
			open_pipe(&m->slots[i]);
			m->slots[i].silent = i < SLOTS / 4;
		}
		if (pthread_create(&m->thread, NULL, mutator_main, m) != 0)
			die("pthread_create");
	}
	owner_loop(s);
	for (int t = 0; t < s->nthreads; t++)
		pthread_join(s->mut[t].thread, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	ok = !atomic_load(&s->bad_rc) && !s->stale && !s->phantom && !s->bits &&
	     !s->oneshot && !s->lost;
	printf("gp_stress: backend %s, %d threads, seed %" PRIu64 ": %" PRIu64
	       " operations (%" PRIu64 " registrations) in %.1f s, %" PRIu64
	       " waits, %" PRIu64 " events; stale %" PRIu64 ", phantom %" PRIu64
	       ", lost %" PRIu64 ", bad bits %" PRIu64
	       ", oneshot twice %" PRIu64 ", bad return codes %" PRIu64
	       ": %s\n",
	       gp_poller_backend(s->p), s->nthreads, seed,
	       (uint64_t)atomic_load(&s->ops),
	       (uint64_t)atomic_load(&s->next_id) - STABLE - 1,
	       (double)(t1.tv_sec - t0.tv_sec) +
	               (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       s->waits, s->events, s->stale, s->phantom, s->lost, s->bits,
	       s->oneshot, (uint64_t)atomic_load(&s->bad_rc),
	       ok ? "PASS" : "FAIL");

	for (int k = 0; k < STABLE; k++) {
		gp_remove(s->p, s->stable_r[k]);
		close(s->stable_r[k]);
		close(s->stable_w[k]);
	}
	gp_poller_free(s->p);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s->info);
	free(s->retired);
	return ok ? 0 : 1;
}
