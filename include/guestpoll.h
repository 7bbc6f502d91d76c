/* guestpoll.h - the public API of libguestpoll.
 *
 * libguestpoll is a portable I/O readiness poller (epoll, poll, IOCP with
 * AFD polling on Windows; kqueue later) whose kernel wait can run on a
 * thread of its own while the owning thread keeps changing registrations and
 * later dispatches the collected events on its own thread.  See
 * guestpoll(7).
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef GUESTPOLL_H
#define GUESTPOLL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- version ---------------------------------------------------------- */

#define GUESTPOLL_VERSION_MAJOR  0
#define GUESTPOLL_VERSION_MINOR  1
#define GUESTPOLL_VERSION_PATCH  0
#define GUESTPOLL_VERSION_STRING "0.1.0"
/* MAJOR * 10000 + MINOR * 100 + PATCH, for #if comparisons. */
#define GUESTPOLL_VERSION_NUMBER                                               \
	(GUESTPOLL_VERSION_MAJOR * 10000 + GUESTPOLL_VERSION_MINOR * 100 +     \
	 GUESTPOLL_VERSION_PATCH)

#if defined(_WIN32) && !defined(GP_STATIC)
#if defined(GP_BUILDING_LIBRARY)
#define GP_API __declspec(dllexport)
#else
#define GP_API
#endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#define GP_API __attribute__((visibility("default")))
#else
#define GP_API
#endif

/* ---- descriptors -------------------------------------------------------- */

/* The descriptor type a poller watches: an int file descriptor on POSIX, a
 * SOCKET on Windows (an unsigned, pointer-sized handle: portable code keeps
 * descriptors in gp_fd_t and tests them against GP_INVALID_FD, never < 0).
 * GP_INVALID_FD is never a valid descriptor. */
#ifdef _WIN32
typedef uintptr_t gp_fd_t;
#define GP_INVALID_FD ((gp_fd_t) ~(uintptr_t)0)
#else
typedef int gp_fd_t;
#define GP_INVALID_FD (-1)
#endif

/* ---- event and mode bits ---------------------------------------------- */

/* Interest (gp_add, gp_modify) and result (gp_event.events) bits. */
#define GP_READ  0x01u /* readable */
#define GP_WRITE 0x02u /* writable */
/* Result-only bits: always reported, never requested.  GP_HUP also sets
 * GP_READ, GP_ERR also sets GP_READ and GP_WRITE, as far as the interest
 * holds them: the next read or write would not block.  GP_NOTIFIED marks
 * the record of a gp_notify(); its fd is GP_INVALID_FD. */
#define GP_HUP      0x04u /* hang-up: the peer closed, or the pipe end died */
#define GP_ERR      0x08u /* an error is pending on the descriptor */
#define GP_NOTIFIED 0x10u /* gp_notify() was called */

/* Mode bits, or-ed into the interest of gp_add and gp_modify.  The default
 * is level-triggered.  GP_ONESHOT: reported once, then disarmed until the
 * next gp_modify.  GP_EDGE: reported when readiness changes (epoll; other
 * backends refuse it with GP_ENOTSUP).  Both may be combined. */
#define GP_ONESHOT 0x100u
#define GP_EDGE    0x200u

/* ---- errors ------------------------------------------------------------- */

/* Every function that can fail returns 0 (or a count) on success and one of
 * these negative codes on failure.  gp_strerror() names them. */
enum gp_error {
	GP_OK = 0,
	GP_EINVAL = -1,  /* invalid argument (NULL pointer, bad flags, ...) */
	GP_EBADF = -2,   /* not an open descriptor */
	GP_EEXIST = -3,  /* descriptor already registered */
	GP_ENOENT = -4,  /* descriptor not registered */
	GP_EBUSY = -5,   /* another wait is in progress on this poller */
	GP_ENOMEM = -6,  /* out of memory */
	GP_ENOTSUP = -7, /* not supported by this backend or platform */
	GP_EINTR = -8,   /* the wait was interrupted by a signal */
	GP_EPERM = -9,   /* the backend cannot watch this kind of descriptor */
	GP_EMFILE = -10, /* out of file descriptors */
	GP_ESYS = -11    /* another system error; errno tells which */
};

GP_API const char *gp_strerror(int err);

/* ---- backends and options ---------------------------------------------- */

enum gp_backend {
	GP_BACKEND_DEFAULT = 0, /* the best the platform has */
	GP_BACKEND_EPOLL = 1,
	GP_BACKEND_KQUEUE = 2,
	GP_BACKEND_IOCP = 3,
	GP_BACKEND_POLL = 4
};

/* Options flags. */
#define GP_FLAG_NOENV 0x1u /* ignore the GUESTPOLL_BACKEND variable */

typedef struct gp_options {
	int backend; /* enum gp_backend; DEFAULT consults GUESTPOLL_BACKEND */
	int max_events; /* kernel events gathered per wait, > 0 (default 256) */
	unsigned flags; /* GP_FLAG_* */
} gp_options;

GP_API void gp_options_init(gp_options *opts);

/* 1 if the backend can be used on this platform, else 0. */
GP_API int gp_backend_available(int backend);
/* "epoll", "kqueue", "iocp", "poll" or "default"; NULL for an unknown id. */
GP_API const char *gp_backend_name(int backend);

/* ---- the poller ---------------------------------------------------------- */

typedef struct gp_poller gp_poller;

/* One delivered event. */
typedef struct gp_event {
	void *data; /* the pointer given to gp_add / gp_modify */
	gp_fd_t fd; /* the descriptor, or GP_INVALID_FD for GP_NOTIFIED */
	unsigned
	        events; /* GP_READ | GP_WRITE | GP_HUP | GP_ERR | GP_NOTIFIED */
} gp_event;

GP_API int gp_poller_new(gp_poller **out, const gp_options *opts);
/* 0, or GP_EBUSY when called on the poller's own waiter thread (from the
 * ready callback): the poller is then left alone. */
GP_API int gp_poller_free(gp_poller *p);
/* The backend in use: "epoll", "poll", ... */
GP_API const char *gp_poller_backend(const gp_poller *p);
/* The backend's own pollable descriptor (the epoll fd), for nesting a poller
 * in another loop; GP_ENOTSUP when the backend has none (poll, iocp). */
GP_API int gp_poller_fd(const gp_poller *p);

/* Registrations.  Thread-safe; a change made while another thread waits
 * takes effect in that wait. */
GP_API int gp_add(gp_poller *p, gp_fd_t fd, unsigned events, void *data);
GP_API int gp_modify(gp_poller *p, gp_fd_t fd, unsigned events, void *data);
GP_API int gp_remove(gp_poller *p, gp_fd_t fd);

/* Plain blocking wait.  Returns the number of events stored (0 = the timeout
 * expired), or a negative GP_E* code.  timeout_ns < 0 waits forever, 0 polls.
 */
GP_API int gp_wait(gp_poller *p, gp_event *out, int max, int64_t timeout_ns);

/* Wakes the current or next wait.  Any thread, async-signal-safe on POSIX. */
GP_API int gp_notify(gp_poller *p);

/* Split wait: the kernel wait runs on the poller's waiter thread, which then
 * calls ready(arg) on that thread; the owner collects on its own thread. */
typedef void (*gp_ready_cb)(void *arg);
GP_API int gp_wait_start(gp_poller *p, int64_t timeout_ns, gp_ready_cb ready,
                         void *arg);
GP_API int gp_wait_collect(gp_poller *p, gp_event *out, int max);
/* A split wait with timeout 0, done on the calling thread: when something
 * is ready, its records wait for gp_wait_collect() as after a split wait
 * (and are checked when collected); returns how many, 0 if none. */
GP_API int gp_wait_poll(gp_poller *p);

/* The state of the poller's wait, as gp_wait_state() reports it and
 * gp_wait_cancel() returns it. */
enum gp_wait_state {
	GP_WAIT_IDLE = 0,     /* no wait: gp_wait_start may be called */
	GP_WAIT_INFLIGHT = 1, /* a split wait runs; ready not yet called */
	GP_WAIT_READY = 2,    /* records (maybe none) wait for collect */
	GP_WAIT_PLAIN = 3     /* a gp_wait or gp_wait_poll is running */
};
/* One of the GP_WAIT_* values, or GP_EINVAL.  Thread-safe. */
GP_API int gp_wait_state(gp_poller *p);
/* Ends the split wait: when it returns (on a thread other than the
 * waiter), no ready callback of p is running, none will be called until
 * the next gp_wait_start, and records not yet collected are discarded
 * (a notification among them is kept for the next wait).  Returns the
 * state it found: GP_WAIT_IDLE (nothing to do), GP_WAIT_INFLIGHT (ready
 * will never be called for that wait), GP_WAIT_READY (ready was called),
 * or GP_EBUSY (a plain gp_wait runs: nothing changed) or GP_EINVAL.
 * Thread-safe; callable from the ready callback, where it does not wait.
 */
GP_API int gp_wait_cancel(gp_poller *p);

/* ---- version ---------------------------------------------------------- */

GP_API const char *gp_version(void); /* GUESTPOLL_VERSION_STRING */
GP_API int gp_version_number(void);  /* GUESTPOLL_VERSION_NUMBER */

#ifdef __cplusplus
}
#endif

#endif /* GUESTPOLL_H */
