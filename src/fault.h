/* fault.h - failure injection for the tests (configure
 * --enable-fault-injection); in every other build each macro is the plain
 * call and nothing here exists.
 *
 * Every allocation and every system call that acquires a resource
 * (descriptor creation, kernel registration, thread creation) in the
 * library goes through one of these macros.  A test arms the hook with
 * gp__fault_arm(mask, n): the n-th such call of a kind in mask from then on
 * fails as the real call would (NULL, or -1 with errno set), once.  The
 * test then checks that the failure surfaced as a GP_E* code, that the
 * poller is still usable or cleanly freeable, and (under ASan or valgrind)
 * that nothing leaked.  The hook's counters are process-wide: the one
 * piece of global mutable state in the library, compiled into test builds
 * only.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef GP_FAULT_H
#define GP_FAULT_H

#include <errno.h>
#include <stdlib.h>

#include "guestpoll.h"

enum gp_fault_kind {
	GP_FAULT_ALLOC = 0x01,   /* malloc, calloc, realloc */
	GP_FAULT_WAKE = 0x02,    /* eventfd, pipe (the wake-up descriptor) */
	GP_FAULT_BACKEND = 0x04, /* epoll_create1, kqueue, the IOCP port */
	GP_FAULT_CTL = 0x08,     /* epoll_ctl / kevent registration changes */
	GP_FAULT_THREAD = 0x10,  /* the waiter thread's creation */
	GP_FAULT_ALL = 0x1f
};

#ifdef GP_FAULT_INJECTION

/* Test API (exported from test builds only). */
GP_API void gp__fault_arm(unsigned mask, long nth);
/* Calls of an armed kind seen since gp__fault_arm. */
GP_API long gp__fault_calls(void);
/* 1 once the armed failure has been injected. */
GP_API int gp__fault_fired(void);

/* 1 if this call of kind k must fail. */
int gp__fault(unsigned k);

#define gp__malloc(n)     (gp__fault(GP_FAULT_ALLOC) ? NULL : malloc(n))
#define gp__calloc(n, s)  (gp__fault(GP_FAULT_ALLOC) ? NULL : calloc(n, s))
#define gp__realloc(p, n) (gp__fault(GP_FAULT_ALLOC) ? NULL : realloc(p, n))
/* For system calls: nonzero (with errno = err) when this one must fail,
 * as in: if (GP_FAULT_FAILS(GP_FAULT_CTL, ENOMEM) || epoll_ctl(...) < 0) */
#define GP_FAULT_FAILS(kind, err) (gp__fault(kind) ? (errno = (err), 1) : 0)

#else

#define gp__malloc(n)             malloc(n)
#define gp__calloc(n, s)          calloc(n, s)
#define gp__realloc(p, n)         realloc(p, n)
#define GP_FAULT_FAILS(kind, err) 0

#endif

#endif /* GP_FAULT_H */
