/* backend_poll.c - the portable poll() backend.
 *
 * poll() takes its descriptor set by value, so a change made while another
 * thread is blocked in it cannot reach that call.  The waiter therefore keeps
 * its own pollfd array, rebuilt from the registration table whenever the
 * table is dirty; a change marks the table dirty and, if a thread is inside
 * poll(), writes the wake-up descriptor so that the waiter rebuilds and
 * polls again for the remaining time.  Modifiers never wait for the waiter.
 *
 * Oneshot is emulated: when a oneshot registration reports, it is disarmed
 * (left out of the set) until gp_modify re-arms it.  A descriptor closed
 * without gp_remove (POLLNVAL) is reported once as an error and disarmed the
 * same way, so that it cannot make the waiter spin.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include "poller.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct poll_state {
	struct pollfd *pfds; /* [0] is the wake-up descriptor */
	uint64_t *tokens;    /* token of each pfds[i], i >= 1 */
	size_t npfds, cap;
	size_t next; /* where the next scan of pfds[1..] starts, minus 1 */
	int dirty;   /* the table changed since pfds was built */
	int polling; /* a thread is inside poll() with this set */
};

static int
pl_init(gp_poller *p)
{
	struct poll_state *s = gp__calloc(1, sizeof *s);

	if (!s)
		return GP_ENOMEM;
	s->cap = 16;
	s->pfds = gp__malloc(s->cap * sizeof *s->pfds);
	s->tokens = gp__malloc(s->cap * sizeof *s->tokens);
	if (!s->pfds || !s->tokens) {
		free(s->pfds);
		free(s->tokens);
		free(s);
		return GP_ENOMEM;
	}
	s->dirty = 1;
	p->be = s;
	return 0;
}

static void
pl_destroy(gp_poller *p)
{
	struct poll_state *s = p->be;

	if (!s)
		return;
	free(s->pfds);
	free(s->tokens);
	free(s);
	p->be = NULL;
}

static int
pl_ctl(gp_poller *p, enum gp_ctl_op op, uint32_t slot)
{
	struct poll_state *s = p->be;

	/* epoll vets descriptors in epoll_ctl; poll() would only say POLLNVAL
	 * later, so check here to give the same error at the same time. */
	if (op != GP_CTL_DEL && fcntl(p->regs[slot].fd, F_GETFD) < 0)
		return GP_EBADF;
	s->dirty = 1;
	if (s->polling)
		gp__wake_waiter(p);
	return 0;
}

/* Rebuilds the pollfd array from the table.  Lock held. */
static int
pl_rebuild(gp_poller *p, struct poll_state *s)
{
	size_t need = 1;

	for (uint32_t i = 0; i < p->nregs; i++)
		need += p->regs[i].events != 0;
	if (need > s->cap) {
		size_t cap = s->cap;
		struct pollfd *pf;
		uint64_t *tk;
		while (cap < need)
			cap *= 2;
		pf = gp__realloc(s->pfds, cap * sizeof *pf);
		if (!pf)
			return GP_ENOMEM;
		s->pfds = pf;
		tk = gp__realloc(s->tokens, cap * sizeof *tk);
		if (!tk)
			return GP_ENOMEM;
		s->tokens = tk;
		s->cap = cap;
	}
	s->pfds[0].fd = p->wake_rfd;
	s->pfds[0].events = POLLIN;
	s->npfds = 1;
	for (uint32_t i = 0; i < p->nregs; i++) {
		const gp_reg *r = &p->regs[i];
		struct pollfd *pf;

		if (!r->events || (r->flags & GP_REG_DISARMED))
			continue;
		pf = &s->pfds[s->npfds];
		pf->fd = r->fd;
		pf->events = 0;
		if (r->events & GP_READ)
			pf->events |= POLLIN;
		if (r->events & GP_WRITE)
			pf->events |= POLLOUT;
		s->tokens[s->npfds] = GP_TOKEN(i, r->gen);
		s->npfds++;
	}
	s->dirty = 0;
	return 0;
}

static int
pl_poll(struct poll_state *s, int64_t timeout_ns)
{
#ifdef HAVE_PPOLL
	struct timespec ts, *tsp = gp__timespec(timeout_ns, &ts);
	return ppoll(s->pfds, (nfds_t)s->npfds, tsp, NULL);
#else
	return poll(s->pfds, (nfds_t)s->npfds,
	            timeout_ns < 0 ? -1 : (int)gp__ms_round_up(timeout_ns));
#endif
}

static int
pl_wait(gp_poller *p, int kmax, int64_t timeout_ns, int *woken)
{
	struct poll_state *s = p->be;
	int n, rc, k = 0;

	gp__mutex_lock(&p->lock);
	if (s->dirty && (rc = pl_rebuild(p, s)) < 0) {
		gp__mutex_unlock(&p->lock);
		return rc;
	}
	s->polling = 1;
	gp__mutex_unlock(&p->lock);

	n = pl_poll(s, timeout_ns);
	rc = n < 0 ? gp__errno_code(errno) : 0;

	gp__mutex_lock(&p->lock);
	s->polling = 0;
	if (n > 0 && s->pfds[0].revents) {
		gp__wake_drain(p);
		*woken = 1;
		n--;
	}
	/* The scan starts where the last full one stopped, so that when more
	 * descriptors are ready than fit, every one gets its turn (epoll
	 * rotates its ready list the same way). */
	for (size_t c = 0, m = s->npfds - 1; n > 0 && c < m && k < kmax; c++) {
		size_t i = 1 + (s->next + c) % m;
		short re = s->pfds[i].revents;
		gp_reg *r;
		unsigned bits = 0;

		if (!re)
			continue;
		n--;
		if (k + 1 == kmax)
			s->next = i % m; /* the one after i */
		if (!(r = gp__live_reg(p, s->tokens[i])))
			continue; /* changed meanwhile: the rebuild re-polls */
		if (re & (POLLIN | POLLPRI))
			bits |= GP_READ;
		if (re & POLLOUT)
			bits |= GP_WRITE;
		if (re & POLLHUP)
			bits |= GP_HUP;
		if (re & (POLLERR | POLLNVAL))
			bits |= GP_ERR;
		if ((r->events & GP_ONESHOT) || (re & POLLNVAL)) {
			r->flags |= GP_REG_DISARMED;
			s->dirty = 1;
		}
		p->raw[k].token = s->tokens[i];
		p->raw[k].events = bits;
		k++;
	}
	gp__mutex_unlock(&p->lock);
	return rc < 0 ? rc : k;
}

const struct gp_backend_ops gp__poll_ops = {
        .name = "poll",
        .id = GP_BACKEND_POLL,
        .supports_edge = 0,
        .init = pl_init,
        .destroy = pl_destroy,
        .ctl = pl_ctl,
        .wait = pl_wait,
        .fd = NULL,
};
