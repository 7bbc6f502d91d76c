/* poller.h - libguestpoll internals shared by the core and the backends.
 *
 * The core (poller.c) owns the registration table, the generations that make
 * kernel tokens unique, the wake-up descriptor, the wait state machine and
 * the waiter thread, and the backend registry (the one list of backends:
 * id, name, ops, rank).  A backend (backend_*.c) only talks to the kernel:
 * it applies one registration change, and it waits and reports raw records
 * (token + GP_* bits) into p->raw.  The contract gives it gp__live_reg()
 * (the one stale check) and gp__wake_waiter() (the one coalesced wake-up).
 *
 * Locking: p->lock protects the table, the wait state and the raw results.
 * Backend ctl() runs with the lock held; backend wait() runs without it.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef GP_POLLER_H
#define GP_POLLER_H

#include "config.h"

#include <stdatomic.h>
#include <stdint.h>

#include "guestpoll.h"
#include "fault.h"
#include "platform.h"
#include "sync.h"

/* A descriptor value that can never be registered: negative on POSIX,
 * INVALID_SOCKET on Windows (where gp_fd_t is unsigned). */
#ifdef _WIN32
#define GP_FD_IS_BAD(fd) ((fd) == GP_INVALID_FD)
#else
#define GP_FD_IS_BAD(fd) ((fd) < 0)
#endif

/* A kernel token: the slot in the registration table in the low half, the
 * slot's generation at the time of the change in the high half.  A record
 * whose generation no longer matches belongs to a registration that has
 * since been removed, replaced or modified, and is dropped. */
#define GP_TOKEN(slot, gen) (((uint64_t)(gen) << 32) | (uint32_t)(slot))
#define GP_TOKEN_SLOT(t)    ((uint32_t)(t))
#define GP_TOKEN_GEN(t)     ((uint32_t)((t) >> 32))
/* The token of the poller's own wake-up descriptor; never a real slot. */
#define GP_WAKE_TOKEN UINT64_MAX

#define GP_INTEREST (GP_READ | GP_WRITE)
#define GP_MODES    (GP_ONESHOT | GP_EDGE)

/* gp_reg.flags */
/* poll and kqueue backends: a oneshot registration reported since it was
 * armed (poll: or POLLNVAL); gp_modify clears it. */
#define GP_REG_DISARMED 0x1u

typedef struct gp_reg {
	gp_fd_t fd;
	uint32_t gen;    /* bumped by every add, modify and remove */
	unsigned events; /* interest | mode; 0 while the slot is free */
	unsigned flags;  /* GP_REG_* */
	void *data;
	int32_t next_free; /* free-list link while free */
} gp_reg;

typedef struct gp_raw {
	uint64_t token;
	unsigned events; /* GP_READ | GP_WRITE | GP_HUP | GP_ERR */
} gp_raw;

enum gp_ctl_op { GP_CTL_ADD, GP_CTL_MOD, GP_CTL_DEL };

/* The wait state machine; gp_wait_state() reports it with the public
 * GP_WAIT_* values, which are the same numbers. */
enum gp_state {
	GP_STATE_IDLE = GP_WAIT_IDLE,         /* nothing in progress */
	GP_STATE_PLAIN = GP_WAIT_PLAIN,       /* a thread is inside gp_wait */
	GP_STATE_INFLIGHT = GP_WAIT_INFLIGHT, /* a split wait is in flight */
	GP_STATE_READY = GP_WAIT_READY /* split-wait results to collect */
};

struct gp_backend_ops {
	const char *name;
	int id;
	int supports_edge;
	int (*init)(gp_poller *p);
	/* Releases the backend's resources; never touches registrations
	 * (safe in a forked child). */
	void (*destroy)(gp_poller *p);
	/* Applies p->regs[slot] to the kernel.  Lock held. */
	int (*ctl)(gp_poller *p, enum gp_ctl_op op, uint32_t slot);
	/* Waits up to timeout_ns (< 0 forever) and stores at most kmax raw
	 * records in p->raw.  Sets *woken when the wake-up descriptor fired
	 * (and drains it).  Returns the count or a GP_E* code.  Lock not held.
	 */
	int (*wait)(gp_poller *p, int kmax, int64_t timeout_ns, int *woken);
	int (*fd)(const gp_poller *p);
	/* Optional: the backend's own wake-up (EVFILT_USER, a completion
	 * packet), which must make a blocked wait() return with *woken set.
	 * With it, the core opens no wake-up descriptor and gp__wake() calls
	 * it (async-signal-safe where the platform has signals; keeps errno).
	 * Without it, init() watches p->wake_rfd with GP_WAKE_TOKEN. */
	void (*wake)(gp_poller *p);
};

struct gp_poller {
	const struct gp_backend_ops *ops;
	void *be; /* backend state */
	gp_mutex lock;

	/* Registration table: slots with a free list, and fd -> slot + 1.
	 * POSIX: fdmap is indexed by the fd number.  Windows: SOCKETs are
	 * large handle values, so fdmap[i] belongs to the key fdkeys[i] of an
	 * open-addressing hash table (fdmap_len a power of two, at most half
	 * full, fdmap[i] == 0 for an empty cell). */
	gp_reg *regs;
	uint32_t nregs, capregs;
	int32_t free_head;
	uint32_t *fdmap;
	size_t fdmap_len;
#ifdef _WIN32
	gp_fd_t *fdkeys;
	size_t fdmap_count;
#endif

	/* Wake-up descriptor (eventfd, or a pipe; never on Windows, where
	 * the backend has the wake op) and its coalescing flags. */
	int wake_rfd, wake_wfd;
	atomic_int wake_armed; /* a wake-up write is outstanding */
	atomic_int notified;   /* gp_notify() not yet reported */

	/* Results of the last kernel wait, consumed by translate(). */
	gp_raw *raw;
	int raw_cap;
	int raw_n, raw_pos;
	int raw_notified;
	int raw_rc; /* a failed split wait's error, reported by collect */

	enum gp_state state;

	/* The waiter thread of the split wait.  Under p->lock: job_taken is
	 * set while the waiter works on the INFLIGHT job (from taking it to
	 * publishing or dropping its result); cancel asks it to drop the
	 * result; in_ready is set while it calls (or is about to call) the
	 * ready callback; job_seq counts gp_wait_start calls; idle_cv is
	 * broadcast when a cancelled job is dropped and, if cancel_waiters,
	 * when a ready callback returns. */
	gp_thread thread;
	int thread_started;
	gp_park go; /* posted by gp_wait_start and gp_poller_free */
	int job_taken;
	int cancel;
	int in_ready;
	int cancel_waiters;
	uint64_t job_seq;
	gp_cond idle_cv;
	atomic_int shutdown;
	int64_t job_timeout;
	gp_ready_cb ready;
	void *ready_arg;

	gp_pid pid; /* creator's pid, to recognise a forked child */
};

/* Helpers the backends use. */
int gp__errno_code(int err);
/* The live registration a kernel token names, or NULL when the token is
 * stale (its slot was removed, replaced or modified since).  The one stale
 * check: the core filters every record with it, and a backend that looks
 * at registrations while it gathers records uses it too.  Lock held. */
gp_reg *gp__live_reg(gp_poller *p, uint64_t token);
/* Wakes a blocked wait() unless a wake-up is already outstanding
 * (p->wake_armed, cleared by the waiting side once it has drained the
 * wake-up).  Any thread; async-signal-safe on POSIX. */
void gp__wake_waiter(gp_poller *p);
/* The raw wake-up, without the coalescing (the backend's wake op, or a
 * write to the wake-up descriptor); gp__wake_waiter is what callers
 * want. */
void gp__wake(gp_poller *p);
void gp__wake_drain(gp_poller *p);
int64_t gp__ms_round_up(int64_t ns);
struct timespec;
/* Fills *ts from ns and returns it, or returns NULL (wait forever) for
 * ns < 0. */
struct timespec *gp__timespec(int64_t ns, struct timespec *ts);

#ifndef _WIN32
extern const struct gp_backend_ops gp__poll_ops;
#endif
#ifdef HAVE_EPOLL_CREATE1
extern const struct gp_backend_ops gp__epoll_ops;
#endif
#ifdef HAVE_KQUEUE
extern const struct gp_backend_ops gp__kqueue_ops;
#endif
#ifdef _WIN32
extern const struct gp_backend_ops gp__iocp_ops;
#endif

#endif /* GP_POLLER_H */
