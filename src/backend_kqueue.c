/* backend_kqueue.c - the kqueue backend (FreeBSD, macOS, NetBSD, OpenBSD,
 * DragonFly; on Linux, libkqueue's emulation).
 *
 * A registration is one knote per direction: EVFILT_READ and/or
 * EVFILT_WRITE on its descriptor, each carrying the registration's token
 * (slot + generation) in udata.  Level mode is a plain EV_ADD, edge mode
 * EV_CLEAR, oneshot EV_DISPATCH (the knote stays, disabled after it fires,
 * like EPOLLONESHOT).  kevent() changes take effect at once, even while
 * another thread is blocked in kevent() on the same queue, so changes need
 * no wake-up here.
 *
 * Every change carries EV_RECEIPT and is applied by a kevent() call whose
 * event list has exactly one slot per change, so each change reports its
 * own result and the call never waits (libkqueue drops receipts when a
 * wait times out; a full list means there is no wait).  The token is part
 * of the knote, and a new generation needs a new token, so gp_modify
 * deletes the old knotes and adds new ones; a re-added knote reports
 * current readiness, which is what epoll's EPOLL_CTL_MOD does too.  The
 * backend keeps per slot what the kernel holds (token and filters), so
 * that a failed change can be undone and gp_remove deletes exactly the
 * knotes that exist.
 *
 * The two knotes of a READ|WRITE registration report separately; a wait
 * merges them into one raw record per registration.  With GP_ONESHOT each
 * knote fires once per arming, so the first report disarms the
 * registration (GP_REG_DISARMED) and the other knote's later report is
 * dropped until gp_modify re-arms both.
 *
 * Wake-up: EVFILT_USER + NOTE_TRIGGER where the kernel has it (the wake op;
 * kevent() is a system call, so async-signal-safe), otherwise the core's
 * wake-up descriptor (eventfd or pipe) watched with EVFILT_READ.  libkqueue
 * implements kevent() in user space with mutexes, which is not
 * async-signal-safe, so a libkqueue build uses the descriptor unless
 * GP_KQUEUE_USER_WAKE=1 is defined (the suite passes that way too).
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include "poller.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/event.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_LIBKQUEUE_DRAIN_PENDING_CLOSE
/* Exported by libkqueue on Linux, not declared in its <sys/event.h>. */
void libkqueue_drain_pending_close(void);
#endif

#ifndef GP_KQUEUE_USER_WAKE
#if defined(EVFILT_USER) && defined(NOTE_TRIGGER) && !defined(HAVE_LIBKQUEUE)
#define GP_KQUEUE_USER_WAKE 1
#else
#define GP_KQUEUE_USER_WAKE 0
#endif
#endif

/* At most a delete and an add per filter. */
#define KQ_MAX_CHANGES 4
/* The ident of the EVFILT_USER wake-up knote. */
#define KQ_WAKE_IDENT 0
/* libkqueue's MAX_KEVENT: the most events one kevent() call returns. */
#define KQ_LIBKQUEUE_MAX 512
/* The longest timeout handed to kevent() (some kernels refuse huge ones);
 * the core waits again for whatever remains of a longer one. */
#define KQ_MAX_TIMEOUT_SEC 100000000

/* What the kernel holds for one slot of the registration table. */
struct kq_slot {
	uint64_t token;  /* udata of its knotes */
	unsigned events; /* GP_READ / GP_WRITE knotes present, and the mode */
	uint32_t seen;   /* wait stamp of the record made for it */
	int rec;         /* that record's index in p->raw, -1: dropped */
};

struct kq_state {
	int kq;
	struct kq_slot *slots;
	uint32_t nslots;
	uint32_t stamp; /* counts waits that returned events */
	struct kevent evs[];
};

/* udata is a void * on most systems, an intptr_t on NetBSD before 10. */
#define KQ_UDATA(token)                                                        \
	((__typeof__(((struct kevent *)0)->udata))(uintptr_t)(token))

/* The token (slot and generation, 64 bits) travels in udata, which has the
 * size of a pointer: 32-bit targets would cut the generation off and let
 * stale events through.  configure and setup.py leave the backend out
 * there; this stops any other build. */
_Static_assert(sizeof(((struct kevent *)0)->udata) >= sizeof(uint64_t),
               "the kqueue backend keeps a 64-bit token in kevent.udata, "
               "which needs 64-bit pointers");
_Static_assert(sizeof(uintptr_t) >= sizeof(uint64_t),
               "the kqueue backend needs a 64-bit uintptr_t");

static uint64_t
kq_token(const struct kevent *e)
{
	return (uint64_t)(uintptr_t)e->udata;
}

static void
kq_set(struct kevent *ch, gp_fd_t fd, short filter, unsigned flags,
       uint64_t token)
{
	EV_SET(ch, (uintptr_t)fd, filter, flags | EV_RECEIPT, 0, 0,
	       KQ_UDATA(token));
}

/* The EV_* flags of a registration's mode. */
static unsigned
kq_mode(unsigned events)
{
	unsigned f = 0;

	if (events & GP_ONESHOT)
		f |= EV_DISPATCH;
	if (events & GP_EDGE)
		f |= EV_CLEAR;
	return f;
}

/* Applies n changes, all with EV_RECEIPT, and stores each one's errno (0:
 * applied) in err[].  Returns 0, or a GP_E* code when kevent() itself
 * failed (then nothing is known to have been applied). */
static int
kq_apply(struct kq_state *s, const struct kevent *ch, int n, int *err)
{
	static const struct timespec zero = {0, 0};
	struct kevent out[KQ_MAX_CHANGES];
	int r, k = 0;

	do
		r = kevent(s->kq, ch, n, out, n, &zero);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return gp__errno_code(errno);
	/* Receipts come in the order of the changes.  A missing one (which
	 * neither kqueue nor libkqueue produces) counts as a failure. */
	for (int i = 0; i < n; i++) {
		err[i] = EIO;
		while (k < r && !(out[k].flags & EV_ERROR))
			k++; /* not a receipt */
		if (k < r && out[k].ident == ch[i].ident &&
		    out[k].filter == ch[i].filter) {
			err[i] = (int)out[k].data;
			k++;
		}
	}
	return 0;
}

/* Makes s->slots cover every slot of the table.  Lock held. */
static int
kq_reserve(gp_poller *p, struct kq_state *s)
{
	struct kq_slot *ns;

	if (s->nslots >= p->capregs)
		return 0;
	ns = gp__realloc(s->slots, (size_t)p->capregs * sizeof *ns);
	if (!ns)
		return GP_ENOMEM;
	memset(ns + s->nslots, 0, (p->capregs - s->nslots) * sizeof *ns);
	s->slots = ns;
	s->nslots = p->capregs;
	return 0;
}

static const struct {
	unsigned bit;
	short filter;
} kq_filters[] = {{GP_READ, EVFILT_READ}, {GP_WRITE, EVFILT_WRITE}};

static int
kq_ctl(gp_poller *p, enum gp_ctl_op op, uint32_t slot)
{
	struct kq_state *s = p->be;
	const gp_reg *r = &p->regs[slot];
	struct kevent ch[KQ_MAX_CHANGES], undo[KQ_MAX_CHANGES];
	int err[KQ_MAX_CHANGES], uerr[KQ_MAX_CHANGES];
	unsigned want = op == GP_CTL_DEL ? 0 : r->events;
	uint64_t token = GP_TOKEN(slot, r->gen);
	struct kq_slot *ks, old;
	int n = 0, ndel, nu = 0, rc, failed = 0;

	if ((rc = kq_reserve(p, s)) < 0)
		return rc;
	ks = &s->slots[slot];
	old = *ks;
	/* The old knotes go (their token is out of date), then the new ones
	 * come, in one call. */
	for (int f = 0; f < 2; f++)
		if (old.events & kq_filters[f].bit)
			kq_set(&ch[n++], r->fd, kq_filters[f].filter, EV_DELETE,
			       old.token);
	ndel = n;
	for (int f = 0; f < 2; f++)
		if (want & kq_filters[f].bit)
			kq_set(&ch[n++], r->fd, kq_filters[f].filter,
			       EV_ADD | kq_mode(want), token);
	ks->events = 0;
	if (n == 0)
		return 0;
	rc = kq_apply(s, ch, n, err);
	/* A removal always succeeds: a closed descriptor has no knotes
	 * left, and the slot is free for good in any case. */
	if (op == GP_CTL_DEL)
		return 0;
	if (rc < 0) {
		*ks = old; /* nothing is known to have changed */
		return rc;
	}

	for (int i = 0; i < n; i++)
		if (err[i] != 0 && !failed)
			failed = err[i];
	if (!failed) {
		ks->token = token;
		ks->events = want;
		return 0;
	}
	/* Undo: delete the knotes that were added, and put back the old
	 * ones that were deleted.  A deletion that failed found no knote
	 * (the descriptor was closed), so there is nothing to put back. */
	for (int i = ndel; i < n; i++)
		if (err[i] == 0)
			kq_set(&undo[nu++], r->fd, ch[i].filter, EV_DELETE,
			       token);
	for (int i = 0; i < ndel; i++)
		if (err[i] == 0)
			kq_set(&undo[nu++], r->fd, ch[i].filter,
			       EV_ADD | kq_mode(old.events), old.token);
	if (nu > 0 && kq_apply(s, undo, nu, uerr) == 0) {
		for (int i = 0; i < nu; i++)
			if (uerr[i] == 0 && (undo[i].flags & EV_ADD))
				ks->events |= undo[i].filter == EVFILT_READ
				                      ? GP_READ
				                      : GP_WRITE;
	}
	if (ks->events) {
		ks->events |= old.events & GP_MODES;
		ks->token = old.token;
	}
	/* An open descriptor the filter refuses (libkqueue says EBADF for a
	 * directory, FreeBSD ENODEV for some kinds): the same code as epoll
	 * gives for a kind it cannot watch. */
	if ((failed == EBADF && fcntl(r->fd, F_GETFD) != -1) ||
	    failed == ENODEV)
		return GP_EPERM;
	return gp__errno_code(failed);
}

/* The GP_* bits of one returned kevent. */
static unsigned
kq_bits(const struct kevent *e)
{
	unsigned bits;

	if (e->flags & EV_ERROR)
		return GP_ERR;
	if (e->filter == EVFILT_WRITE) {
		bits = GP_WRITE;
		/* The reader is gone: a write would fail (EPIPE). */
		if (e->flags & EV_EOF)
			bits |= GP_HUP | GP_ERR;
	} else {
		bits = GP_READ;
		if (e->flags & EV_EOF)
			bits |= GP_HUP;
	}
	/* With EV_EOF, fflags holds the socket's pending error, if any. */
	if ((e->flags & EV_EOF) && e->fflags != 0)
		bits |= GP_ERR;
	return bits;
}

/* Turns n kevents of s->evs into raw records after the k made so far in
 * this wait (the same stamp), and returns the new count.  Lock held. */
static int
kq_merge(gp_poller *p, struct kq_state *s, int n, int k, int *woken)
{
	for (int i = 0; i < n; i++) {
		const struct kevent *e = &s->evs[i];
		uint64_t token = kq_token(e);
		uint32_t slot = GP_TOKEN_SLOT(token);
		struct kq_slot *ks;
		gp_reg *r;

		if (token == GP_WAKE_TOKEN) {
			if (!GP_KQUEUE_USER_WAKE)
				gp__wake_drain(p);
			*woken = 1;
			continue;
		}
		if (slot >= s->nslots || !(r = gp__live_reg(p, token)))
			continue; /* removed or changed meanwhile */
		ks = &s->slots[slot];
		if (ks->seen == s->stamp) {
			/* The registration's other knote: the same record. */
			if (ks->rec >= 0)
				p->raw[ks->rec].events |= kq_bits(e);
			continue;
		}
		ks->seen = s->stamp;
		ks->rec = -1;
		if (r->events & GP_ONESHOT) {
			if (r->flags & GP_REG_DISARMED)
				continue; /* reported once since armed */
			r->flags |= GP_REG_DISARMED;
		}
		ks->rec = k;
		p->raw[k].token = token;
		p->raw[k].events = kq_bits(e);
		k++;
	}
	return k;
}

/* Whether a kevent() call asked for `want` events may have left more. */
static int
kq_full(int got, int want)
{
#ifdef HAVE_LIBKQUEUE
	/* libkqueue hands out at most KQ_LIBKQUEUE_MAX events a call. */
	if (got == KQ_LIBKQUEUE_MAX)
		return 1;
#endif
	return got == want;
}

static int
kq_wait(gp_poller *p, int kmax, int64_t timeout_ns, int *woken)
{
	static const struct timespec zero = {0, 0};
	struct kq_state *s = p->be;
	struct timespec ts, *tsp = gp__timespec(timeout_ns, &ts);
	int n, k, want;

	if (kmax > p->raw_cap)
		kmax = p->raw_cap;
	if (tsp && ts.tv_sec > KQ_MAX_TIMEOUT_SEC)
		ts.tv_sec = KQ_MAX_TIMEOUT_SEC;
	n = kevent(s->kq, NULL, 0, s->evs, kmax, tsp);
	if (n < 0)
		return gp__errno_code(errno);
	if (n == 0)
		return 0;

	/* The table tells which records are stale, which belong together
	 * and which registrations are oneshot: read it under the lock. */
	pthread_mutex_lock(&p->lock);
	if (++s->stamp == 0) {
		for (uint32_t i = 0; i < s->nslots; i++)
			s->slots[i].seen = 0;
		s->stamp = 1;
	}
	k = kq_merge(p, s, n, 0, woken);
	/* The two knotes of a registration make one record, so a full batch
	 * can make fewer than kmax records while more are ready: take more,
	 * without waiting, at most one kevent per free record (none is
	 * dropped, which matters for EV_CLEAR and EV_DISPATCH), until a
	 * batch is short or brings nothing new.  Under the lock, as in
	 * kq_ctl, so that the table cannot change between batches. */
	for (want = kmax; kq_full(n, want) && k < kmax;) {
		int k0 = k;

		want = kmax - k;
		do
			n = kevent(s->kq, NULL, 0, s->evs, want, &zero);
		while (n < 0 && errno == EINTR);
		if (n <= 0)
			break; /* what we have is still good */
		k = kq_merge(p, s, n, k, woken);
		if (k == k0)
			break; /* only registrations already recorded */
	}
	pthread_mutex_unlock(&p->lock);
	return k;
}

#if GP_KQUEUE_USER_WAKE
/* Triggers the EVFILT_USER knote.  Async-signal-safe; keeps errno. */
static void
kq_wake(gp_poller *p)
{
	struct kq_state *s = p->be;
	struct kevent ch;
	int saved = errno, r;

	EV_SET(&ch, KQ_WAKE_IDENT, EVFILT_USER, 0, NOTE_TRIGGER, 0,
	       KQ_UDATA(GP_WAKE_TOKEN));
	do
		r = kevent(s->kq, &ch, 1, NULL, 0, NULL);
	while (r < 0 && errno == EINTR);
	errno = saved;
}
#endif

static int
kq_init(gp_poller *p)
{
	struct kq_state *s;
	struct kevent ch;
	int rc;

	s = gp__malloc(sizeof *s + (size_t)p->raw_cap * sizeof s->evs[0]);
	if (!s)
		return GP_ENOMEM;
	s->slots = NULL;
	s->nslots = 0;
	s->stamp = 0;
	s->kq = GP_FAULT_FAILS(GP_FAULT_BACKEND, EMFILE) ? -1 : kqueue();
	if (s->kq < 0) {
		rc = gp__errno_code(errno);
		free(s);
		return rc;
	}
	/* kqueue descriptors are not inherited by fork() on the BSDs, but
	 * they would survive an exec() without this. */
	fcntl(s->kq, F_SETFD, FD_CLOEXEC);
#if GP_KQUEUE_USER_WAKE
	/* EV_CLEAR: the trigger resets once it has been reported. */
	EV_SET(&ch, KQ_WAKE_IDENT, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0,
	       KQ_UDATA(GP_WAKE_TOKEN));
#else
	EV_SET(&ch, (uintptr_t)p->wake_rfd, EVFILT_READ, EV_ADD, 0, 0,
	       KQ_UDATA(GP_WAKE_TOKEN));
#endif
	if (kevent(s->kq, &ch, 1, NULL, 0, NULL) < 0) {
		rc = gp__errno_code(errno);
		close(s->kq);
		free(s);
		return rc;
	}
	p->be = s;
	return 0;
}

static void
kq_destroy(gp_poller *p)
{
	struct kq_state *s = p->be;

	if (!s)
		return;
	/* A forked child has no copy of the kqueue (the BSDs do not inherit
	 * it, and libkqueue closes it in the child to match), so the number
	 * may name another of the child's files by now: leave it alone. */
	if (getpid() == p->pid) {
		close(s->kq);
#ifdef HAVE_LIBKQUEUE_DRAIN_PENDING_CLOSE
		/* libkqueue notices the close on its monitoring thread and
		 * only then closes the queue's own descriptors: wait for
		 * that, so that gp_poller_free leaves none behind. */
		libkqueue_drain_pending_close();
#endif
	}
	free(s->slots);
	free(s);
	p->be = NULL;
}

static int
kq_fd(const gp_poller *p)
{
	const struct kq_state *s = p->be;
	return s->kq;
}

const struct gp_backend_ops gp__kqueue_ops = {
        .name = "kqueue",
        .id = GP_BACKEND_KQUEUE,
        .supports_edge = 1,
        .init = kq_init,
        .destroy = kq_destroy,
        .ctl = kq_ctl,
        .wait = kq_wait,
        .fd = kq_fd,
#if GP_KQUEUE_USER_WAKE
        .wake = kq_wake,
#endif
};
