/* poller.c - the backend-independent core of libguestpoll: registrations
 * and their generations, the wake-up descriptor, the plain wait, the split
 * wait with its waiter thread, and the stale-event filter at collect time.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include "poller.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifndef _WIN32
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#endif
#ifdef HAVE_SYS_EVENTFD_H
#include <sys/eventfd.h>
#endif

#define GP_DEFAULT_MAX_EVENTS 256
#define GP_MAX_MAX_EVENTS     (1 << 24)

/* ---- small helpers ------------------------------------------------------- */

int
gp__errno_code(int err)
{
	switch (err) {
	case EBADF:
		return GP_EBADF;
	case ENOMEM:
	case ENOSPC:
		return GP_ENOMEM;
	case EMFILE:
	case ENFILE:
		return GP_EMFILE;
	case EPERM:
		return GP_EPERM;
	case EINTR:
		return GP_EINTR;
	case EEXIST:
		return GP_EEXIST;
	case ENOENT:
		return GP_ENOENT;
	case EINVAL:
		return GP_EINVAL;
	default:
		return GP_ESYS;
	}
}

int64_t
gp__ms_round_up(int64_t ns)
{
	int64_t ms = ns / 1000000 + (ns % 1000000 != 0);
	return ms > INT_MAX ? INT_MAX : ms;
}

struct timespec *
gp__timespec(int64_t ns, struct timespec *ts)
{
	if (ns < 0)
		return NULL;
	ts->tv_sec = ns / 1000000000;
	ts->tv_nsec = ns % 1000000000;
	return ts;
}

static int64_t
now_ns(void)
{
	return gp__now_ns();
}

const char *
gp_strerror(int err)
{
	switch (err) {
	case GP_OK:
		return "success";
	case GP_EINVAL:
		return "invalid argument";
	case GP_EBADF:
		return "bad file descriptor";
	case GP_EEXIST:
		return "descriptor already registered";
	case GP_ENOENT:
		return "descriptor not registered";
	case GP_EBUSY:
		return "another wait is in progress on this poller";
	case GP_ENOMEM:
		return "out of memory";
	case GP_ENOTSUP:
		return "not supported by this backend or platform";
	case GP_EINTR:
		return "interrupted by a signal";
	case GP_EPERM:
		return "this backend cannot watch this kind of descriptor";
	case GP_EMFILE:
		return "too many open files";
	case GP_ESYS:
		return "system error";
	default:
		return "unknown error";
	}
}

const char *
gp_version(void)
{
	return GUESTPOLL_VERSION_STRING;
}

int
gp_version_number(void)
{
	return GUESTPOLL_VERSION_NUMBER;
}

/* ---- backends ------------------------------------------------------------ */

#ifdef HAVE_EPOLL_CREATE1
#define GP_EPOLL_OPS (&gp__epoll_ops)
#else
#define GP_EPOLL_OPS NULL
#endif
#ifdef HAVE_KQUEUE
#define GP_KQUEUE_OPS (&gp__kqueue_ops)
#else
#define GP_KQUEUE_OPS NULL
#endif
#ifdef _WIN32
#define GP_IOCP_OPS (&gp__iocp_ops)
#define GP_POLL_OPS NULL
#else
#define GP_IOCP_OPS NULL
#define GP_POLL_OPS (&gp__poll_ops)
#endif

/* The backend registry, the one list of backends: indexed by id (enum
 * gp_backend), with the name gp_backend_name() and GUESTPOLL_BACKEND use,
 * the ops when this build has the backend, and its rank: the default
 * backend is the available one of highest rank (iocp > epoll > kqueue >
 * poll: a Linux build with libkqueue keeps epoll). */
static const struct gp_backend_entry {
	int id;
	const char *name;
	const struct gp_backend_ops *ops;
	int rank;
} backends[] = {
        {GP_BACKEND_DEFAULT, "default", NULL, 0},
        {GP_BACKEND_EPOLL, "epoll", GP_EPOLL_OPS, 3},
        {GP_BACKEND_KQUEUE, "kqueue", GP_KQUEUE_OPS, 2},
        {GP_BACKEND_IOCP, "iocp", GP_IOCP_OPS, 4},
        {GP_BACKEND_POLL, "poll", GP_POLL_OPS, 1},
};
#define GP_NBACKENDS (sizeof backends / sizeof backends[0])

static const struct gp_backend_entry *
backend_entry(int id)
{
	if (id < 0 || (size_t)id >= GP_NBACKENDS)
		return NULL;
	return &backends[id];
}

static const struct gp_backend_ops *
backend_ops(int id)
{
	const struct gp_backend_entry *e = backend_entry(id);

	return e ? e->ops : NULL;
}

static const struct gp_backend_ops *
best_backend(void)
{
	const struct gp_backend_entry *best = NULL;

	for (size_t i = 0; i < GP_NBACKENDS; i++)
		if (backends[i].ops && (!best || backends[i].rank > best->rank))
			best = &backends[i];
	return best ? best->ops : NULL;
}

const char *
gp_backend_name(int backend)
{
	const struct gp_backend_entry *e = backend_entry(backend);

	return e ? e->name : NULL;
}

int
gp_backend_available(int backend)
{
	return backend == GP_BACKEND_DEFAULT || backend_ops(backend) != NULL;
}

void
gp_options_init(gp_options *opts)
{
	if (!opts)
		return;
	memset(opts, 0, sizeof *opts);
	opts->backend = GP_BACKEND_DEFAULT;
	opts->max_events = GP_DEFAULT_MAX_EVENTS;
}

/* Resolves the requested backend id (option, then environment) to ops. */
static int
choose_backend(const gp_options *o, const struct gp_backend_ops **out)
{
	int id = o->backend;

	if (id == GP_BACKEND_DEFAULT && !(o->flags & GP_FLAG_NOENV)) {
		const char *env = getenv("GUESTPOLL_BACKEND");
		if (env && *env) {
			id = -1;
			for (size_t i = 0; i < GP_NBACKENDS; i++)
				if (strcmp(env, backends[i].name) == 0)
					id = backends[i].id;
			if (id < 0)
				return GP_EINVAL;
		}
	}
	if (!gp_backend_name(id))
		return GP_EINVAL;
	*out = id == GP_BACKEND_DEFAULT ? best_backend() : backend_ops(id);
	return *out ? 0 : GP_ENOTSUP;
}

/* ---- the wake-up descriptor ---------------------------------------------- */

#ifdef _WIN32
/* Every Windows backend has the wake op: no descriptor to open. */
static int
wake_open(gp_poller *p)
{
	(void)p;
	return GP_ENOTSUP;
}

static void
wake_close(gp_poller *p)
{
	(void)p;
}

void
gp__wake(gp_poller *p)
{
	p->ops->wake(p);
}

void
gp__wake_drain(gp_poller *p)
{
	(void)p;
}
#else
static int
wake_open(gp_poller *p)
{
#if defined(HAVE_EVENTFD) && defined(HAVE_SYS_EVENTFD_H)
	int fd = GP_FAULT_FAILS(GP_FAULT_WAKE, EMFILE)
	                 ? -1
	                 : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd >= 0) {
		p->wake_rfd = p->wake_wfd = fd;
		return 0;
	}
	if (errno != ENOSYS && errno != EINVAL)
		return gp__errno_code(errno);
#endif
	int fds[2];
#ifdef HAVE_PIPE2
	if (GP_FAULT_FAILS(GP_FAULT_WAKE, EMFILE) ||
	    pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
		return gp__errno_code(errno);
#else
	if (GP_FAULT_FAILS(GP_FAULT_WAKE, EMFILE) || pipe(fds) < 0)
		return gp__errno_code(errno);
	for (int i = 0; i < 2; i++) {
		fcntl(fds[i], F_SETFD, FD_CLOEXEC);
		fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
	}
#endif
	p->wake_rfd = fds[0];
	p->wake_wfd = fds[1];
	return 0;
}

static void
wake_close(gp_poller *p)
{
	if (p->wake_rfd >= 0)
		close(p->wake_rfd);
	if (p->wake_wfd >= 0 && p->wake_wfd != p->wake_rfd)
		close(p->wake_wfd);
	p->wake_rfd = p->wake_wfd = -1;
}

/* Makes the wake-up descriptor readable.  Async-signal-safe; keeps errno. */
void
gp__wake(gp_poller *p)
{
	int saved;
	ssize_t r;

	if (p->ops->wake) {
		p->ops->wake(p);
		return;
	}
	saved = errno;
	if (p->wake_wfd == p->wake_rfd) {
		uint64_t one = 1;
		do
			r = write(p->wake_wfd, &one, sizeof one);
		while (r < 0 && errno == EINTR);
	} else {
		char c = 0;
		do
			r = write(p->wake_wfd, &c, 1);
		while (r < 0 && errno == EINTR);
	}
	/* EAGAIN: already readable, which is all we need. */
	errno = saved;
}

void
gp__wake_drain(gp_poller *p)
{
	char buf[64];
	ssize_t r;
	do
		r = read(p->wake_rfd, buf, sizeof buf);
	while (r > 0 || (r < 0 && errno == EINTR));
}
#endif /* !_WIN32 */

void
gp__wake_waiter(gp_poller *p)
{
	if (!atomic_exchange(&p->wake_armed, 1))
		gp__wake(p);
}

int
gp_notify(gp_poller *p)
{
	if (!p)
		return GP_EINVAL;
	atomic_store(&p->notified, 1);
	gp__wake_waiter(p);
	return 0;
}

/* ---- creation and destruction ---------------------------------------------
 */

int
gp_poller_new(gp_poller **out, const gp_options *opts)
{
	gp_options defaults;
	const struct gp_backend_ops *ops;
	gp_poller *p;
	int rc;

	if (!out)
		return GP_EINVAL;
	*out = NULL;
	if (!opts) {
		gp_options_init(&defaults);
		opts = &defaults;
	}
	if (opts->max_events <= 0 || opts->max_events > GP_MAX_MAX_EVENTS ||
	    (opts->flags & ~GP_FLAG_NOENV))
		return GP_EINVAL;
	if ((rc = choose_backend(opts, &ops)) < 0)
		return rc;

	p = gp__calloc(1, sizeof *p);
	if (!p)
		return GP_ENOMEM;
	p->ops = ops;
	p->free_head = -1;
	p->wake_rfd = p->wake_wfd = -1;
	p->raw_cap = opts->max_events;
	p->pid = gp__getpid();
	atomic_init(&p->wake_armed, 0);
	atomic_init(&p->notified, 0);
	atomic_init(&p->shutdown, 0);

	p->raw = gp__malloc((size_t)p->raw_cap * sizeof *p->raw);
	if (!p->raw) {
		free(p);
		return GP_ENOMEM;
	}
	if (gp__mutex_init(&p->lock) != 0) {
		free(p->raw);
		free(p);
		return GP_ENOMEM;
	}
	if (gp__park_init(&p->go) != 0) {
		rc = GP_ENOMEM;
		goto fail_mutex;
	}
	if (gp__cond_init(&p->idle_cv) != 0) {
		rc = GP_ENOMEM;
		goto fail_park;
	}
	if (!ops->wake && (rc = wake_open(p)) < 0)
		goto fail_cond;
	if ((rc = ops->init(p)) < 0)
		goto fail_wake;
	*out = p;
	return 0;

fail_wake:
	wake_close(p);
fail_cond:
	gp__cond_destroy(&p->idle_cv);
fail_park:
	gp__park_destroy(&p->go);
fail_mutex:
	gp__mutex_destroy(&p->lock);
	free(p->raw);
	free(p);
	return rc;
}

int
gp_poller_free(gp_poller *p)
{
	int forked_child;

	if (!p)
		return 0;
	/* In a child after fork() the waiter thread does not exist and the
	 * mutex may have been held by a parent thread: release memory and our
	 * copies of the descriptors only. */
	forked_child = gp__getpid() != p->pid;
	if (!forked_child && p->thread_started) {
		int on_waiter;

		/* The waiter cannot join itself, nor run on in freed memory:
		 * from the ready callback, refuse. */
		gp__mutex_lock(&p->lock);
		on_waiter = gp__thread_is_current(p->thread);
		gp__mutex_unlock(&p->lock);
		if (on_waiter)
			return GP_EBUSY;
		atomic_store(&p->shutdown, 1);
		gp__park_post(&p->go);
		gp_notify(p);
		gp__thread_join(p->thread);
	}
	p->ops->destroy(p);
	wake_close(p);
	if (!forked_child) {
		gp__cond_destroy(&p->idle_cv);
		gp__park_destroy(&p->go);
		gp__mutex_destroy(&p->lock);
	}
	free(p->regs);
	free(p->fdmap);
#ifdef _WIN32
	free(p->fdkeys);
#endif
	free(p->raw);
	free(p);
	return 0;
}

const char *
gp_poller_backend(const gp_poller *p)
{
	return p ? p->ops->name : NULL;
}

int
gp_poller_fd(const gp_poller *p)
{
	if (!p)
		return GP_EINVAL;
	return p->ops->fd ? p->ops->fd(p) : GP_ENOTSUP;
}

/* ---- the registration table (lock held) -----------------------------------
 */

#ifdef _WIN32
/* The hash table's home cell of a SOCKET (handle values are multiples of
 * four, hence the shift). */
static size_t
fd_hash(const gp_poller *p, gp_fd_t fd)
{
	uint64_t h = (uint64_t)(fd >> 2) * UINT64_C(0x9e3779b97f4a7c15);
	return (size_t)(h >> 32) & (p->fdmap_len - 1);
}

/* The cell holding fd, or the empty cell where it would go. */
static size_t
fd_cell(const gp_poller *p, gp_fd_t fd)
{
	size_t i = fd_hash(p, fd);

	while (p->fdmap[i] != 0 && p->fdkeys[i] != fd)
		i = (i + 1) & (p->fdmap_len - 1);
	return i;
}

static uint32_t
fdmap_get(const gp_poller *p, gp_fd_t fd)
{
	return p->fdmap_len ? p->fdmap[fd_cell(p, fd)] : 0;
}

/* fd must be absent, and fdmap_reserve() must have made room. */
static void
fdmap_put(gp_poller *p, gp_fd_t fd, uint32_t v)
{
	size_t i = fd_cell(p, fd);

	p->fdkeys[i] = fd;
	p->fdmap[i] = v;
	p->fdmap_count++;
}

/* Deletes fd (present) and moves later cells of its probe run back, so
 * that lookups need no tombstones. */
static void
fdmap_del(gp_poller *p, gp_fd_t fd)
{
	size_t mask = p->fdmap_len - 1, i = fd_cell(p, fd), j = i;

	p->fdmap[i] = 0;
	p->fdmap_count--;
	for (;;) {
		size_t home;
		j = (j + 1) & mask;
		if (p->fdmap[j] == 0)
			return;
		home = fd_hash(p, p->fdkeys[j]);
		/* Stays if its home lies cyclically in (i, j]. */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		p->fdkeys[i] = p->fdkeys[j];
		p->fdmap[i] = p->fdmap[j];
		p->fdmap[j] = 0;
		i = j;
	}
}

/* Makes room for one more key (load factor <= 1/2). */
static int
fdmap_reserve(gp_poller *p, gp_fd_t fd)
{
	size_t len = p->fdmap_len ? p->fdmap_len : 64;
	uint32_t *oldv = p->fdmap;
	gp_fd_t *oldk = p->fdkeys;
	size_t oldlen = p->fdmap_len;

	(void)fd;
	while ((p->fdmap_count + 1) * 2 > len)
		len *= 2;
	if (len == p->fdmap_len)
		return 0;
	p->fdmap = gp__calloc(len, sizeof *p->fdmap);
	p->fdkeys = gp__calloc(len, sizeof *p->fdkeys);
	if (!p->fdmap || !p->fdkeys) {
		free(p->fdmap);
		free(p->fdkeys);
		p->fdmap = oldv;
		p->fdkeys = oldk;
		return GP_ENOMEM;
	}
	p->fdmap_len = len;
	p->fdmap_count = 0;
	for (size_t i = 0; i < oldlen; i++)
		if (oldv[i])
			fdmap_put(p, oldk[i], oldv[i]);
	free(oldv);
	free(oldk);
	return 0;
}
#else
static uint32_t
fdmap_get(const gp_poller *p, gp_fd_t fd)
{
	return (size_t)fd < p->fdmap_len ? p->fdmap[fd] : 0;
}

static void
fdmap_put(gp_poller *p, gp_fd_t fd, uint32_t v)
{
	p->fdmap[fd] = v;
}

static void
fdmap_del(gp_poller *p, gp_fd_t fd)
{
	p->fdmap[fd] = 0;
}
#endif

static gp_reg *
lookup(gp_poller *p, gp_fd_t fd, uint32_t *slot)
{
	uint32_t v = fdmap_get(p, fd);

	if (v == 0)
		return NULL;
	*slot = v - 1;
	return &p->regs[*slot];
}

static int
slot_alloc(gp_poller *p, uint32_t *slot)
{
	if (p->free_head >= 0) {
		*slot = (uint32_t)p->free_head;
		p->free_head = p->regs[*slot].next_free;
		return 0;
	}
	if (p->nregs == p->capregs) {
		uint32_t cap = p->capregs ? p->capregs * 2 : 64;
		gp_reg *r;
		if (cap > INT32_MAX)
			return GP_ENOMEM;
		r = gp__realloc(p->regs, (size_t)cap * sizeof *r);
		if (!r)
			return GP_ENOMEM;
		memset(r + p->capregs, 0, (cap - p->capregs) * sizeof *r);
		p->regs = r;
		p->capregs = cap;
	}
	*slot = p->nregs++;
	return 0;
}

static void
slot_release(gp_poller *p, uint32_t slot)
{
	gp_reg *r = &p->regs[slot];
	r->gen++;
	r->events = 0;
	r->flags = 0;
	r->data = NULL;
	r->fd = GP_INVALID_FD;
	r->next_free = p->free_head;
	p->free_head = (int32_t)slot;
}

#ifndef _WIN32
static int
fdmap_reserve(gp_poller *p, gp_fd_t fd)
{
	size_t len;
	uint32_t *m;

	if ((size_t)fd < p->fdmap_len)
		return 0;
	len = p->fdmap_len ? p->fdmap_len : 64;
	while (len <= (size_t)fd)
		len *= 2;
	m = gp__realloc(p->fdmap, len * sizeof *m);
	if (!m)
		return GP_ENOMEM;
	memset(m + p->fdmap_len, 0, (len - p->fdmap_len) * sizeof *m);
	p->fdmap = m;
	p->fdmap_len = len;
	return 0;
}
#endif

/* Validates the interest and mode bits of gp_add / gp_modify. */
static int
check_events(const gp_poller *p, unsigned events)
{
	if ((events & ~(GP_INTEREST | GP_MODES)) || !(events & GP_INTEREST))
		return GP_EINVAL;
	if ((events & GP_EDGE) && !p->ops->supports_edge)
		return GP_ENOTSUP;
	return 0;
}

int
gp_add(gp_poller *p, gp_fd_t fd, unsigned events, void *data)
{
	uint32_t slot;
	gp_reg *r;
	int rc;

	if (!p)
		return GP_EINVAL;
	if (GP_FD_IS_BAD(fd))
		return GP_EBADF;
	if ((rc = check_events(p, events)) < 0)
		return rc;

	gp__mutex_lock(&p->lock);
	if (lookup(p, fd, &slot)) {
		rc = GP_EEXIST;
		goto out;
	}
	if ((rc = slot_alloc(p, &slot)) < 0)
		goto out;
	r = &p->regs[slot];
	r->fd = fd;
	r->gen++;
	r->events = events;
	r->flags = 0;
	r->data = data;
	/* The kernel vets the descriptor before the map grows for it, so a
	 * wild fd number cannot make us allocate a huge map. */
	if ((rc = p->ops->ctl(p, GP_CTL_ADD, slot)) < 0) {
		slot_release(p, slot);
		goto out;
	}
	if ((rc = fdmap_reserve(p, fd)) < 0) {
		p->ops->ctl(p, GP_CTL_DEL, slot);
		slot_release(p, slot);
		goto out;
	}
	fdmap_put(p, fd, slot + 1);
out:
	gp__mutex_unlock(&p->lock);
	return rc;
}

int
gp_modify(gp_poller *p, gp_fd_t fd, unsigned events, void *data)
{
	uint32_t slot;
	gp_reg *r, saved;
	int rc;

	if (!p)
		return GP_EINVAL;
	if (GP_FD_IS_BAD(fd))
		return GP_EBADF;
	if ((rc = check_events(p, events)) < 0)
		return rc;

	gp__mutex_lock(&p->lock);
	if (!(r = lookup(p, fd, &slot))) {
		rc = GP_ENOENT;
		goto out;
	}
	saved = *r;
	r->gen++;
	r->events = events;
	r->flags = 0;
	r->data = data;
	if ((rc = p->ops->ctl(p, GP_CTL_MOD, slot)) < 0) {
		/* The kernel still holds the old token: keep it valid. */
		*r = saved;
		if (rc == GP_ENOENT)
			rc = GP_EBADF; /* the number now names another file */
	}
out:
	gp__mutex_unlock(&p->lock);
	return rc;
}

int
gp_remove(gp_poller *p, gp_fd_t fd)
{
	uint32_t slot;
	int rc = 0;

	if (!p)
		return GP_EINVAL;
	if (GP_FD_IS_BAD(fd))
		return GP_EBADF;

	gp__mutex_lock(&p->lock);
	if (!lookup(p, fd, &slot)) {
		rc = GP_ENOENT;
	} else {
		/* A descriptor closed before its removal is already gone from
		 * the kernel: the backend ignores that, and so do we. */
		p->ops->ctl(p, GP_CTL_DEL, slot);
		fdmap_del(p, fd);
		slot_release(p, slot);
	}
	gp__mutex_unlock(&p->lock);
	return rc;
}

/* ---- waiting ----------------------------------------------------------- */

gp_reg *
gp__live_reg(gp_poller *p, uint64_t token)
{
	uint32_t slot = GP_TOKEN_SLOT(token);
	gp_reg *r;

	if (slot >= p->nregs)
		return NULL;
	r = &p->regs[slot];
	if (!r->events || r->gen != GP_TOKEN_GEN(token))
		return NULL;
	return r;
}

/* Drops the stale records of a fresh kernel wait, so that a wait never
 * reports success with nothing in it.  Returns the live count.  Lock held. */
static int
prefilter(gp_poller *p, int n)
{
	int k = 0;

	for (int i = 0; i < n; i++)
		if (gp__live_reg(p, p->raw[i].token))
			p->raw[k++] = p->raw[i];
	return k;
}

/* How many kernel waits in a row may bring nothing but stale records
 * before a wait gives up and returns 0 early.  The kernel can report a
 * registration the table no longer has for ever: epoll keeps an entry
 * whose descriptor was closed before gp_remove while a dup() of it stays
 * open, and nothing can take that entry out any more. */
#define GP_STALE_ROUNDS 16

/* The kernel wait shared by gp_wait and the waiter thread.  Leaves its
 * results in p->raw / raw_n / raw_notified.  Returns the number of records
 * (events plus one for a notification), 0 on timeout (or after
 * GP_STALE_ROUNDS kernel waits in a row with only stale records, or when the
 * split wait is cancelled), or a GP_E* code, always with p->lock held, so that
 * the caller's next step (translate, publish) shares the lock with the
 * stale check. */
static int
wait_loop(gp_poller *p, int kmax, int64_t timeout_ns, int retry_eintr)
{
	int64_t deadline = 0, t = timeout_ns;
	int notified = 0, repolled = 0, stale_rounds = 0, n;

	p->raw_n = p->raw_pos = 0;
	p->raw_notified = 0;
	if (timeout_ns > 0) {
		int64_t now = now_ns();
		deadline = timeout_ns > INT64_MAX - now ? INT64_MAX
		                                        : now + timeout_ns;
	}
	if (atomic_load_explicit(&p->notified, memory_order_relaxed) &&
	    atomic_exchange(&p->notified, 0)) {
		notified = 1;
		t = 0; /* report it now, with whatever is ready */
	}
	for (;;) {
		int woken = 0;

		n = p->ops->wait(p, kmax, t, &woken);
		if (n < 0 && !(n == GP_EINTR && retry_eintr)) {
			if (notified)
				atomic_store(&p->notified, 1); /* not lost */
			gp__mutex_lock(&p->lock);
			return n;
		}
		if (woken) {
			atomic_store(&p->wake_armed, 0);
			if (atomic_exchange(&p->notified, 0))
				notified = 1;
		}
		gp__mutex_lock(&p->lock);
		if (n <= 0)
			stale_rounds = 0;
		else if ((n = prefilter(p, n)) == 0 &&
		         ++stale_rounds >= GP_STALE_ROUNDS && !notified)
			return 0;
		if (n > 0 || notified) {
			p->raw_n = n > 0 ? n : 0;
			p->raw_notified = notified;
			return p->raw_n + notified;
		}
		/* A wake-up with nothing behind it (a notification already
		 * reported, a poll-backend resync) may have taken the kernel's
		 * only slot: look once more, now that it is drained. */
		if (woken && !repolled) {
			repolled = 1;
			if (timeout_ns == 0) {
				gp__mutex_unlock(&p->lock);
				continue;
			}
		}
		if (timeout_ns == 0 || atomic_load(&p->shutdown) || p->cancel)
			return 0;
		if (timeout_ns > 0) {
			int64_t now = now_ns();
			if (now >= deadline)
				return 0;
			t = deadline - now;
		}
		gp__mutex_unlock(&p->lock);
	}
}

/* Turns raw records into events for the caller, validating each one against
 * the registration table as it is handed out.  Lock held. */
static int
translate(gp_poller *p, gp_event *out, int max)
{
	int k = 0;

	if (p->raw_notified) {
		out[k].data = NULL;
		out[k].fd = GP_INVALID_FD;
		out[k].events = GP_NOTIFIED;
		k++;
		p->raw_notified = 0;
	}
	while (k < max && p->raw_pos < p->raw_n) {
		const gp_raw *raw = &p->raw[p->raw_pos++];
		gp_reg *r = gp__live_reg(p, raw->token);
		unsigned ev;

		if (!r)
			continue;
		ev = raw->events;
		/* After a hang-up a read does not block; after an error
		 * neither does a read or a write. */
		if (ev & GP_HUP)
			ev |= GP_READ;
		if (ev & GP_ERR)
			ev |= GP_READ | GP_WRITE;
		ev &= (r->events & GP_INTEREST) | GP_HUP | GP_ERR;
		if (!ev)
			continue;
		out[k].data = r->data;
		out[k].fd = r->fd;
		out[k].events = ev;
		k++;
	}
	return k;
}

/* Records of the last wait that did not fit in the caller's array. */
static int
has_leftovers(const gp_poller *p)
{
	return p->raw_pos < p->raw_n;
}

int
gp_wait(gp_poller *p, gp_event *out, int max, int64_t timeout_ns)
{
	int n, k, kmax;

	if (!p || !out || max <= 0)
		return GP_EINVAL;
	gp__mutex_lock(&p->lock);
	if (p->state != GP_STATE_IDLE) {
		gp__mutex_unlock(&p->lock);
		return GP_EBUSY;
	}
	/* Hand out what the last wait could not, before waiting again. */
	if (has_leftovers(p) && (k = translate(p, out, max)) > 0) {
		gp__mutex_unlock(&p->lock);
		return k;
	}
	/* A remembered notification that fills the array by itself. */
	if (max == 1 && atomic_load(&p->notified) &&
	    atomic_exchange(&p->notified, 0)) {
		p->raw_notified = 1;
		k = translate(p, out, max);
		gp__mutex_unlock(&p->lock);
		return k;
	}
	p->state = GP_STATE_PLAIN;
	gp__mutex_unlock(&p->lock);

	/* One slot stays free for a notification record, so that only a
	 * one-record array can leave events over for the next call. */
	kmax = max > 1 ? max - 1 : 1;
	n = wait_loop(p, kmax < p->raw_cap ? kmax : p->raw_cap, timeout_ns, 0);
	k = n < 0 ? n : translate(p, out, max);
	p->state = GP_STATE_IDLE;
	gp__mutex_unlock(&p->lock);
	return k;
}

/* ---- the split wait ----------------------------------------------------- */

/* Forgets the records of the last wait that were not handed out; a
 * notification among them stays pending for the next wait, so that no
 * gp_notify() is lost.  Lock held. */
static void
discard_results(gp_poller *p)
{
	if (p->raw_notified)
		atomic_store(&p->notified, 1);
	p->raw_notified = 0;
	p->raw_n = p->raw_pos = 0;
	p->raw_rc = 0;
}

static GP_THREAD_FN(waiter_main)(void *arg)
{
	gp_poller *p = arg;

	for (;;) {
		int64_t timeout;
		gp_ready_cb ready;
		void *ready_arg;
		int rc;

		gp__park_wait(&p->go);
		if (atomic_load(&p->shutdown))
			return GP_THREAD_DONE;
		gp__mutex_lock(&p->lock);
		/* A post whose job was cancelled before it was taken. */
		if (p->state != GP_STATE_INFLIGHT || p->job_taken) {
			gp__mutex_unlock(&p->lock);
			continue;
		}
		p->job_taken = 1;
		timeout = p->job_timeout;
		ready = p->ready;
		ready_arg = p->ready_arg;
		if (has_leftovers(p)) {
			/* What a plain wait left over is this wait's result. */
			rc = 0;
		} else {
			/* This thread blocks every signal, so EINTR here can
			 * only come from a stop/continue: wait on.  wait_loop
			 * returns with the lock held again. */
			gp__mutex_unlock(&p->lock);
			rc = wait_loop(p, p->raw_cap, timeout, 1);
		}
		if (atomic_load(&p->shutdown)) {
			gp__mutex_unlock(&p->lock);
			return GP_THREAD_DONE;
		}
		p->job_taken = 0;
		if (p->cancel) {
			/* gp_wait_cancel() waits for this. */
			p->cancel = 0;
			discard_results(p);
			p->state = GP_STATE_IDLE;
			gp__cond_broadcast(&p->idle_cv);
			gp__mutex_unlock(&p->lock);
			continue;
		}
		p->raw_rc = rc < 0 ? rc : 0;
		p->state = GP_STATE_READY;
		p->in_ready = 1;
		gp__mutex_unlock(&p->lock);

		ready(ready_arg);

		gp__mutex_lock(&p->lock);
		p->in_ready = 0;
		if (p->cancel_waiters)
			gp__cond_broadcast(&p->idle_cv);
		gp__mutex_unlock(&p->lock);
	}
}

static int
waiter_spawn(gp_poller *p)
{
	int rc;
#ifdef _WIN32
	/* No signals to mask on Windows. */
	if ((rc = gp__thread_start(&p->thread, waiter_main, p)) < 0)
		return rc;
#else
	sigset_t all, old;

	/* The thread starts with every signal blocked, so that signals go to
	 * the application's threads and never interrupt the kernel wait. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = GP_FAULT_FAILS(GP_FAULT_THREAD, EAGAIN)
	             ? EAGAIN
	             : gp__thread_start(&p->thread, waiter_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return rc == EAGAIN ? GP_ENOMEM : gp__errno_code(rc);
#endif
	p->thread_started = 1;
	return 0;
}

int
gp_wait_start(gp_poller *p, int64_t timeout_ns, gp_ready_cb ready, void *arg)
{
	int rc = 0;

	if (!p || !ready)
		return GP_EINVAL;
	gp__mutex_lock(&p->lock);
	if (p->state != GP_STATE_IDLE) {
		rc = GP_EBUSY;
		goto out;
	}
	if (!p->thread_started && (rc = waiter_spawn(p)) < 0)
		goto out;
	p->job_timeout = timeout_ns;
	p->ready = ready;
	p->ready_arg = arg;
	p->job_seq++;
	p->state = GP_STATE_INFLIGHT;
	gp__mutex_unlock(&p->lock);
	/* Posted after the unlock, so that the waiter, if it runs at once,
	 * does not find the lock still held and sleep again on it. */
	gp__park_post(&p->go);
	return 0;
out:
	gp__mutex_unlock(&p->lock);
	return rc;
}

int
gp_wait_poll(gp_poller *p)
{
	int n;

	if (!p)
		return GP_EINVAL;
	gp__mutex_lock(&p->lock);
	if (p->state != GP_STATE_IDLE) {
		gp__mutex_unlock(&p->lock);
		return GP_EBUSY;
	}
	if (has_leftovers(p)) {
		n = p->raw_n - p->raw_pos;
		p->raw_rc = 0;
		p->state = GP_STATE_READY;
		gp__mutex_unlock(&p->lock);
		return n;
	}
	p->state = GP_STATE_PLAIN;
	gp__mutex_unlock(&p->lock);

	n = wait_loop(p, p->raw_cap, 0, 0);
	p->raw_rc = 0;
	p->state = n > 0 ? GP_STATE_READY : GP_STATE_IDLE;
	gp__mutex_unlock(&p->lock);
	return n;
}

int
gp_wait_collect(gp_poller *p, gp_event *out, int max)
{
	int k;

	if (!p || !out || max <= 0)
		return GP_EINVAL;
	gp__mutex_lock(&p->lock);
	switch (p->state) {
	case GP_STATE_READY:
		break;
	case GP_STATE_INFLIGHT:
	case GP_STATE_PLAIN:
		gp__mutex_unlock(&p->lock);
		return GP_EBUSY;
	default:
		gp__mutex_unlock(&p->lock);
		return 0;
	}
	if (p->raw_rc < 0) {
		k = p->raw_rc;
		p->raw_rc = 0;
		p->raw_n = p->raw_pos = 0;
		p->raw_notified = 0;
	} else {
		k = translate(p, out, max);
	}
	if (p->raw_pos >= p->raw_n && !p->raw_notified)
		p->state = GP_STATE_IDLE;
	gp__mutex_unlock(&p->lock);
	return k;
}

int
gp_wait_state(gp_poller *p)
{
	int st;

	if (!p)
		return GP_EINVAL;
	gp__mutex_lock(&p->lock);
	st = (int)p->state;
	gp__mutex_unlock(&p->lock);
	return st;
}

int
gp_wait_cancel(gp_poller *p)
{
	int rc, on_waiter;

	if (!p)
		return GP_EINVAL;
	gp__mutex_lock(&p->lock);
	on_waiter = p->thread_started && gp__thread_is_current(p->thread);
	switch (p->state) {
	case GP_STATE_PLAIN:
		gp__mutex_unlock(&p->lock);
		return GP_EBUSY;
	case GP_STATE_READY:
		/* The ready callback has been called, or is committed to be:
		 * the waiter set in_ready with the state. */
		discard_results(p);
		p->state = GP_STATE_IDLE;
		rc = GP_WAIT_READY;
		break;
	case GP_STATE_INFLIGHT:
		rc = GP_WAIT_INFLIGHT;
		if (!p->job_taken) {
			/* The waiter has not taken the job (it may be in the
			 * previous wait's callback): it will find the poller
			 * idle and park again. */
			p->state = GP_STATE_IDLE;
			break;
		}
		/* The waiter is in the kernel wait, or about to publish its
		 * result: wake it (without a notification behind the
		 * wake-up) and wait until it has dropped the job. */
		{
			uint64_t seq = p->job_seq;

			p->cancel = 1;
			gp__wake_waiter(p);
			p->cancel_waiters++;
			while (p->state == GP_STATE_INFLIGHT &&
			       p->job_seq == seq)
				gp__cond_wait(&p->idle_cv, &p->lock);
			p->cancel_waiters--;
		}
		break;
	default:
		rc = GP_WAIT_IDLE;
		break;
	}
	/* Whatever the state was, a ready callback of an earlier wait may
	 * still be running; wait for it, unless it is the caller. */
	if (!on_waiter) {
		p->cancel_waiters++;
		while (p->in_ready)
			gp__cond_wait(&p->idle_cv, &p->lock);
		p->cancel_waiters--;
	}
	gp__mutex_unlock(&p->lock);
	return rc;
}
