/* platform.h - the few operating-system services the core needs, spelled
 * once for POSIX and once for Windows: a mutex and a condition variable,
 * the waiter thread and its identity, the monotonic clock, and the process
 * id that recognises a forked child.
 *
 * POSIX: pthreads, clock_gettime(CLOCK_MONOTONIC), getpid().  gp_mutex is
 * a pthread_mutex_t there, so backends may use either spelling.
 * Windows: an SRW lock, CreateThread, QueryPerformanceCounter; there is no
 * fork(), so no pid is kept.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef GP_PLATFORM_H
#define GP_PLATFORM_H

#include "config.h"

#include <stdint.h>

#include "guestpoll.h"

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <windows.h>
#else
#include <pthread.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#endif

#ifdef _WIN32

typedef SRWLOCK gp_mutex;
typedef HANDLE gp_thread;
/* The waiter thread's entry point: GP_THREAD_FN(name)(void *arg), ending
 * with `return GP_THREAD_DONE;`. */
#define GP_THREAD_FN(name) DWORD WINAPI name
#define GP_THREAD_DONE     0
typedef DWORD(WINAPI *gp_thread_fn)(void *);

static inline int
gp__mutex_init(gp_mutex *m)
{
	InitializeSRWLock(m);
	return 0;
}
static inline void
gp__mutex_destroy(gp_mutex *m)
{
	(void)m; /* an SRW lock owns no resources */
}
static inline void
gp__mutex_lock(gp_mutex *m)
{
	AcquireSRWLockExclusive(m);
}
static inline void
gp__mutex_unlock(gp_mutex *m)
{
	ReleaseSRWLockExclusive(m);
}

/* A condition variable used with a gp_mutex. */
typedef CONDITION_VARIABLE gp_cond;
static inline int
gp__cond_init(gp_cond *c)
{
	InitializeConditionVariable(c);
	return 0;
}
static inline void
gp__cond_destroy(gp_cond *c)
{
	(void)c;
}
static inline void
gp__cond_wait(gp_cond *c, gp_mutex *m)
{
	SleepConditionVariableSRW(c, m, INFINITE, 0);
}
static inline void
gp__cond_broadcast(gp_cond *c)
{
	WakeAllConditionVariable(c);
}
/* 1 if the calling thread is t. */
static inline int
gp__thread_is_current(gp_thread t)
{
	return GetThreadId(t) == GetCurrentThreadId();
}

/* Returns 0 or a GP_E* code. */
static inline int
gp__thread_start(gp_thread *t, gp_thread_fn fn, void *arg)
{
	*t = CreateThread(NULL, 0, fn, arg, 0, NULL);
	return *t ? 0 : GP_ENOMEM;
}
static inline void
gp__thread_join(gp_thread t)
{
	WaitForSingleObject(t, INFINITE);
	CloseHandle(t);
}

static inline int64_t
gp__now_ns(void)
{
	LARGE_INTEGER c, f;

	QueryPerformanceCounter(&c);
	QueryPerformanceFrequency(&f); /* fixed at boot; cheap to read */
	return (int64_t)(c.QuadPart / f.QuadPart) * 1000000000 +
	       (int64_t)(c.QuadPart % f.QuadPart) * 1000000000 / f.QuadPart;
}

/* A short pause of the calling thread (a poll loop's back-off). */
static inline void
gp__nap(void)
{
	Sleep(1);
}

/* No fork() on Windows: a poller is never in a forked child. */
typedef int gp_pid;
#define gp__getpid() 0

#else /* POSIX */

typedef pthread_mutex_t gp_mutex;
typedef pthread_t gp_thread;
#define GP_THREAD_FN(name) void *name
#define GP_THREAD_DONE     NULL
typedef void *(*gp_thread_fn)(void *);

/* Returns 0 or the pthread_create error number. */
static inline int
gp__thread_start(gp_thread *t, gp_thread_fn fn, void *arg)
{
	return pthread_create(t, NULL, fn, arg);
}
static inline void
gp__thread_join(gp_thread t)
{
	pthread_join(t, NULL);
}

static inline int
gp__mutex_init(gp_mutex *m)
{
	return pthread_mutex_init(m, NULL) == 0 ? 0 : GP_ENOMEM;
}
static inline void
gp__mutex_destroy(gp_mutex *m)
{
	pthread_mutex_destroy(m);
}
static inline void
gp__mutex_lock(gp_mutex *m)
{
	pthread_mutex_lock(m);
}
static inline void
gp__mutex_unlock(gp_mutex *m)
{
	pthread_mutex_unlock(m);
}

typedef pthread_cond_t gp_cond;
static inline int
gp__cond_init(gp_cond *c)
{
	return pthread_cond_init(c, NULL) == 0 ? 0 : GP_ENOMEM;
}
static inline void
gp__cond_destroy(gp_cond *c)
{
	pthread_cond_destroy(c);
}
static inline void
gp__cond_wait(gp_cond *c, gp_mutex *m)
{
	pthread_cond_wait(c, m);
}
static inline void
gp__cond_broadcast(gp_cond *c)
{
	pthread_cond_broadcast(c);
}
/* 1 if the calling thread is t. */
static inline int
gp__thread_is_current(gp_thread t)
{
	return pthread_equal(t, pthread_self()) != 0;
}

static inline int64_t
gp__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A short pause of the calling thread (a poll loop's back-off). */
static inline void
gp__nap(void)
{
	struct timespec ts = {0, 100000};

	nanosleep(&ts, NULL);
}

typedef pid_t gp_pid;
#define gp__getpid()       getpid()

#endif

#endif /* GP_PLATFORM_H */
