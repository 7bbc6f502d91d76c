/* backend_epoll.c - the Linux epoll backend.
 *
 * epoll_ctl takes effect at once, even while another thread is blocked in
 * epoll_wait on the same instance, so changes need no wake-up here.  Each
 * registration's epoll_data carries its token (slot + generation); the
 * poller's wake-up descriptor carries GP_WAKE_TOKEN.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include "poller.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_SYS_SYSCALL_H
#include <sys/syscall.h>
#endif

/* epoll_pwait2 (Linux 5.11: epoll_wait with a nanosecond timeout) is called
 * through syscall(), not through the C library's wrapper: glibc has that
 * wrapper only since 2.35, and a module that links it cannot load on an
 * older glibc.  Going to the kernel directly keeps one build, whatever the
 * C library it was linked against, using epoll_pwait2 where the running
 * kernel has it (the Python wheels are linked against glibc 2.17 for the
 * manylinux2014 tag, see ./dev wheel) and epoll_wait where it does not
 * (ep_wait's fallback below).  The number comes from the kernel headers; on
 * headers older than 5.11 it is the one the kernel gave it on the
 * architectures named here (441, the same on every architecture with the
 * common system-call table).  Elsewhere: epoll_wait only. */
#if defined(SYS_epoll_pwait2)
#define GP_NR_EPOLL_PWAIT2 SYS_epoll_pwait2
#elif defined(__NR_epoll_pwait2)
#define GP_NR_EPOLL_PWAIT2 __NR_epoll_pwait2
#elif defined(HAVE_SYS_SYSCALL_H) &&                                           \
        ((defined(__x86_64__) && !defined(__ILP32__)) || defined(__aarch64__))
#define GP_NR_EPOLL_PWAIT2 441
#endif

#ifdef GP_NR_EPOLL_PWAIT2
/* The kernel's struct __kernel_timespec: 64-bit fields on every
 * architecture, whatever the C library's time_t. */
struct gp_kernel_timespec {
	long long tv_sec;
	long long tv_nsec;
};

static int
gp_epoll_pwait2(int epfd, struct epoll_event *evs, int n, int64_t timeout_ns)
{
	struct gp_kernel_timespec ts;

	ts.tv_sec = timeout_ns / 1000000000;
	ts.tv_nsec = timeout_ns % 1000000000;
	/* No signal mask: the kernel ignores the size argument then. */
	return (int)syscall(GP_NR_EPOLL_PWAIT2, epfd, evs, n, &ts, NULL, 0);
}
#endif

struct epoll_state {
	int epfd;
	int no_pwait2; /* epoll_pwait2 missing at run time */
	struct epoll_event evs[];
};

static int
ep_init(gp_poller *p)
{
	struct epoll_state *s;
	struct epoll_event ev = {0};
	int rc;

	s = gp__malloc(sizeof *s + (size_t)p->raw_cap * sizeof s->evs[0]);
	if (!s)
		return GP_ENOMEM;
	s->no_pwait2 = 0;
	s->epfd = GP_FAULT_FAILS(GP_FAULT_BACKEND, EMFILE)
	                  ? -1
	                  : epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0) {
		rc = gp__errno_code(errno);
		free(s);
		return rc;
	}
	ev.events = EPOLLIN;
	ev.data.u64 = GP_WAKE_TOKEN;
	if (GP_FAULT_FAILS(GP_FAULT_CTL, ENOMEM) ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, p->wake_rfd, &ev) < 0) {
		rc = gp__errno_code(errno);
		close(s->epfd);
		free(s);
		return rc;
	}
	p->be = s;
	return 0;
}

static void
ep_destroy(gp_poller *p)
{
	struct epoll_state *s = p->be;

	if (!s)
		return;
	close(s->epfd);
	free(s);
	p->be = NULL;
}

static int
ep_ctl(gp_poller *p, enum gp_ctl_op op, uint32_t slot)
{
	struct epoll_state *s = p->be;
	const gp_reg *r = &p->regs[slot];
	struct epoll_event ev = {0};
	int kop;

	switch (op) {
	case GP_CTL_ADD:
		kop = EPOLL_CTL_ADD;
		break;
	case GP_CTL_MOD:
		kop = EPOLL_CTL_MOD;
		break;
	default:
		/* Closed already: the kernel dropped it.  Nothing to undo. */
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, r->fd, &ev);
		return 0;
	}
	if (r->events & GP_READ)
		ev.events |= EPOLLIN;
	if (r->events & GP_WRITE)
		ev.events |= EPOLLOUT;
	if (r->events & GP_ONESHOT)
		ev.events |= EPOLLONESHOT;
	if (r->events & GP_EDGE)
		ev.events |= EPOLLET;
	ev.data.u64 = GP_TOKEN(slot, r->gen);
	if (GP_FAULT_FAILS(GP_FAULT_CTL, ENOMEM) ||
	    epoll_ctl(s->epfd, kop, r->fd, &ev) < 0)
		return gp__errno_code(errno);
	return 0;
}

static int
ep_wait(gp_poller *p, int kmax, int64_t timeout_ns, int *woken)
{
	struct epoll_state *s = p->be;
	int n, k = 0;

	if (kmax > p->raw_cap)
		kmax = p->raw_cap;
#ifdef GP_NR_EPOLL_PWAIT2
	/* epoll_pwait2 only where its nanoseconds matter: for no limit, 0
	 * and whole milliseconds epoll_wait says the same and is cheaper
	 * (c_pingpong: 0.2-0.4 us less per blocking round trip). */
	if (!s->no_pwait2 && timeout_ns > 0 && timeout_ns % 1000000 != 0) {
		n = gp_epoll_pwait2(s->epfd, s->evs, kmax, timeout_ns);
		if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
			s->no_pwait2 = 1; /* old kernel or a seccomp filter */
			return ep_wait(p, kmax, timeout_ns, woken);
		}
	} else
#endif
	{
		int ms = timeout_ns < 0 ? -1 : (int)gp__ms_round_up(timeout_ns);
		n = epoll_wait(s->epfd, s->evs, kmax, ms);
	}
	if (n < 0)
		return gp__errno_code(errno);

	for (int i = 0; i < n; i++) {
		uint32_t e = s->evs[i].events;
		unsigned bits = 0;

		if (s->evs[i].data.u64 == GP_WAKE_TOKEN) {
			gp__wake_drain(p);
			*woken = 1;
			continue;
		}
		if (e & (EPOLLIN | EPOLLPRI))
			bits |= GP_READ;
		if (e & EPOLLOUT)
			bits |= GP_WRITE;
		if (e & EPOLLHUP)
			bits |= GP_HUP;
		if (e & EPOLLERR)
			bits |= GP_ERR;
		p->raw[k].token = s->evs[i].data.u64;
		p->raw[k].events = bits;
		k++;
	}
	return k;
}

static int
ep_fd(const gp_poller *p)
{
	const struct epoll_state *s = p->be;
	return s->epfd;
}

const struct gp_backend_ops gp__epoll_ops = {
        .name = "epoll",
        .id = GP_BACKEND_EPOLL,
        .supports_edge = 1,
        .init = ep_init,
        .destroy = ep_destroy,
        .ctl = ep_ctl,
        .wait = ep_wait,
        .fd = ep_fd,
};
