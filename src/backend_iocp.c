/* backend_iocp.c - the Windows backend: socket readiness through AFD
 * polling, delivered on an I/O completion port.
 *
 * Windows has no readiness API that scales and can be changed while another
 * thread waits, but the socket driver (AFD) accepts a "poll" request,
 * IOCTL_AFD_POLL, as an ordinary asynchronous device I/O whose completion
 * can be queued to a completion port.  The poller opens one handle on the
 * AFD device (\Device\Afd\guestpoll), associates it with its completion
 * port, and keeps at most one poll outstanding per registration, on the
 * socket's base handle (SIO_BASE_HANDLE: layered service providers wrap
 * sockets, and AFD only knows the base socket).  The same technique is used
 * by wepoll, libuv's poll handles and Trio; the NT interfaces it needs are
 * undocumented but stable, and are looked up in ntdll at run time.
 *
 * Each poll is a heap object (the IO_STATUS_BLOCK and the AFD_POLL_INFO the
 * driver writes into) carrying the token of the arming it belongs to.  Its
 * address travels as the completion's ApcContext, i.e. as lpOverlapped of
 * the OVERLAPPED_ENTRY, so a completion leads back to its poll and token.
 *
 * Level mode: when a poll completes, its registration is queued, and the
 * next wait submits a fresh poll before it blocks.  AFD completes a poll on
 * a socket that is ready at once, so a wait with timeout 0 sees what is
 * ready at the time of the call.  Oneshot: a completion that reports
 * something is not followed by a new poll until gp_modify.  Edge mode is
 * not offered (AFD reports states, not transitions): GP_EDGE is refused
 * with GP_ENOTSUP by the core (supports_edge = 0).
 *
 * gp_modify and gp_remove run on the changing thread, with the poller's
 * lock held: they cancel the outstanding poll (NtCancelIoFileEx) and, for a
 * modify, submit a new one at once, so a change reaches a wait blocked on
 * another thread without waking it.  A cancelled poll is "orphaned": its
 * memory belongs to the kernel until its (cancelled) completion arrives,
 * which frees it; a late completion of an orphan carries an old token and
 * would be dropped by the core's generation check anyway.
 *
 * Hang-up and errors: AFD_POLL_DISCONNECT (the peer shut down its sending
 * side) is GP_HUP; AFD_POLL_ABORT (the connection was reset or aborted) is
 * GP_HUP | GP_ERR; AFD_POLL_CONNECT_FAIL is GP_ERR; a poll that fails as a
 * whole reports GP_ERR once and disarms the registration.
 * AFD_POLL_LOCAL_CLOSE (the socket was closed without gp_remove) reports
 * nothing and disarms it, as epoll forgets a closed descriptor.
 *
 * Notification: a completion packet posted with a key of its own
 * (PostQueuedCompletionStatus), coalesced by the core's wake_armed flag.
 * Timeouts: GetQueuedCompletionStatusEx takes milliseconds; the remaining
 * time is rounded up.  Only sockets can be watched: another kind of handle
 * is GP_EPERM, a value that is no open handle GP_EBADF.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include "poller.h"

#include <stdlib.h>
#include <string.h>

#include <winsock2.h>
#include <windows.h>
#include <mswsock.h>

#ifndef SIO_BASE_HANDLE
#define SIO_BASE_HANDLE 0x48000022
#endif

/* ---- the NT interfaces, declared here and loaded from ntdll -------------- */

typedef LONG gp_ntstatus;

#define GP_STATUS_SUCCESS   ((gp_ntstatus)0x00000000L)
#define GP_STATUS_PENDING   ((gp_ntstatus)0x00000103L)
#define GP_STATUS_CANCELLED ((gp_ntstatus)0xC0000120L)
#define GP_STATUS_NOT_FOUND ((gp_ntstatus)0xC0000225L)
#define GP_NT_SUCCESS(s)    ((s) >= 0)

typedef struct gp_io_status {
	union {
		gp_ntstatus status;
		void *pointer;
	} u;
	ULONG_PTR information;
} gp_io_status;

typedef struct gp_unicode_string {
	USHORT length;     /* bytes, without the terminator */
	USHORT max_length; /* bytes */
	const WCHAR *buffer;
} gp_unicode_string;

typedef struct gp_object_attributes {
	ULONG length;
	HANDLE root;
	gp_unicode_string *name;
	ULONG attributes;
	void *security_descriptor;
	void *security_qos;
} gp_object_attributes;

typedef gp_ntstatus(NTAPI *gp_nt_create_file_fn)(
        HANDLE *handle, ACCESS_MASK access, gp_object_attributes *attrs,
        gp_io_status *iosb, LARGE_INTEGER *alloc_size, ULONG file_attrs,
        ULONG share, ULONG disposition, ULONG options, void *ea,
        ULONG ea_length);
typedef void(NTAPI *gp_io_apc_fn)(void *ctx, gp_io_status *iosb, ULONG r);
typedef gp_ntstatus(NTAPI *gp_nt_device_io_control_file_fn)(
        HANDLE handle, HANDLE event, gp_io_apc_fn apc, void *apc_context,
        gp_io_status *iosb, ULONG code, void *in, ULONG in_length, void *out,
        ULONG out_length);
typedef gp_ntstatus(NTAPI *gp_nt_cancel_io_file_ex_fn)(HANDLE handle,
                                                       gp_io_status *request,
                                                       gp_io_status *iosb);
typedef ULONG(NTAPI *gp_rtl_nt_status_to_dos_error_fn)(gp_ntstatus status);

#define GP_FILE_OPEN 0x00000001UL

/* IOCTL_AFD_POLL and its buffer. */
#define GP_IOCTL_AFD_POLL 0x00012024

#define GP_AFD_POLL_RECEIVE      0x0001
#define GP_AFD_POLL_SEND         0x0004
#define GP_AFD_POLL_DISCONNECT   0x0008
#define GP_AFD_POLL_ABORT        0x0010
#define GP_AFD_POLL_LOCAL_CLOSE  0x0020
#define GP_AFD_POLL_ACCEPT       0x0080
#define GP_AFD_POLL_CONNECT_FAIL 0x0100

typedef struct gp_afd_poll_handle {
	HANDLE handle;
	ULONG events;
	gp_ntstatus status;
} gp_afd_poll_handle;

typedef struct gp_afd_poll_info {
	LARGE_INTEGER timeout;
	ULONG count;
	ULONG exclusive;
	gp_afd_poll_handle handles[1];
} gp_afd_poll_info;

/* Completion keys: the AFD handle's polls, and gp_notify's packets. */
#define GP_KEY_AFD  ((ULONG_PTR)1)
#define GP_KEY_WAKE ((ULONG_PTR)2)

/* ---- state --------------------------------------------------------------- */

/* One poll request.  Owned by the kernel from submission until its
 * completion is dequeued. */
typedef struct iocp_op {
	gp_io_status iosb;
	gp_afd_poll_info info;
	uint64_t token; /* the arming this poll belongs to */
	uint32_t slot;  /* its registration */
	int orphan;     /* cancelled or abandoned: free it on completion */
	int pending;    /* submitted, completion not yet dequeued */
	struct iocp_op *prev, *next; /* the pending list */
} iocp_op;

/* Per registration slot. */
typedef struct iocp_sock {
	SOCKET base; /* the base socket AFD polls */
	iocp_op *op; /* this registration's poll (pending or idle), or NULL */
	int active;  /* the slot holds a registration */
	int armed;   /* wants a poll (not a fired oneshot, not closed) */
	int queued;  /* on the resubmit queue */
} iocp_sock;

struct iocp_state {
	HANDLE port;
	HANDLE afd;
	gp_nt_create_file_fn nt_create_file;
	gp_nt_device_io_control_file_fn nt_device_io_control_file;
	gp_nt_cancel_io_file_ex_fn nt_cancel_io_file_ex;
	gp_rtl_nt_status_to_dos_error_fn rtl_nt_status_to_dos_error;

	iocp_sock *socks;
	uint32_t nsocks;
	/* Slots whose poll completed and that want a new one. */
	uint32_t *queue;
	size_t nqueue, capqueue;
	/* Submitted polls not yet dequeued, orphans included. */
	iocp_op *pending;
	size_t npending;

	OVERLAPPED_ENTRY entries[];
};

/* ---- errors -------------------------------------------------------------- */

static int
win_code(DWORD err)
{
	switch (err) {
	case ERROR_INVALID_HANDLE:
	case WSAENOTSOCK:
	case WSAEBADF:
		return GP_EBADF;
	case ERROR_NOT_ENOUGH_MEMORY:
	case ERROR_OUTOFMEMORY:
	case ERROR_NO_SYSTEM_RESOURCES:
	case WSAENOBUFS:
		return GP_ENOMEM;
	case ERROR_TOO_MANY_OPEN_FILES:
	case WSAEMFILE:
		return GP_EMFILE;
	case ERROR_ACCESS_DENIED:
		return GP_EPERM;
	case ERROR_INVALID_PARAMETER:
	case WSAEINVAL:
		return GP_EINVAL;
	default:
		return GP_ESYS;
	}
}

static int
nt_code(const struct iocp_state *s, gp_ntstatus st)
{
	return win_code(s->rtl_nt_status_to_dos_error(st));
}

/* ---- creation ------------------------------------------------------------ */

/* Looks up an ntdll export.  The detour through void (*)(void) keeps
 * -Wcast-function-type quiet: FARPROC is a generic function pointer. */
static void (*ntdll_sym(HMODULE ntdll, const char *name))(void)
{
	return (void (*)(void))GetProcAddress(ntdll, name);
}

static int
io_init(gp_poller *p)
{
	static const WCHAR afd_name[] = L"\\Device\\Afd\\guestpoll";
	gp_unicode_string name = {sizeof afd_name - sizeof(WCHAR),
	                          sizeof afd_name, afd_name};
	gp_object_attributes attrs = {sizeof attrs, NULL, &name, 0, NULL, NULL};
	struct iocp_state *s;
	gp_io_status iosb;
	HMODULE ntdll;
	gp_ntstatus st;
	int rc;

	s = gp__calloc(1,
	               sizeof *s + (size_t)p->raw_cap * sizeof s->entries[0]);
	if (!s)
		return GP_ENOMEM;
	/* Resolved once per poller, into its own state: no process-wide
	 * mutable state. */
	ntdll = GetModuleHandleW(L"ntdll.dll");
	if (ntdll) {
		s->nt_create_file =
		        (gp_nt_create_file_fn)ntdll_sym(ntdll, "NtCreateFile");
		s->nt_device_io_control_file =
		        (gp_nt_device_io_control_file_fn)ntdll_sym(
		                ntdll, "NtDeviceIoControlFile");
		s->nt_cancel_io_file_ex = (gp_nt_cancel_io_file_ex_fn)ntdll_sym(
		        ntdll, "NtCancelIoFileEx");
		s->rtl_nt_status_to_dos_error =
		        (gp_rtl_nt_status_to_dos_error_fn)ntdll_sym(
		                ntdll, "RtlNtStatusToDosError");
	}
	if (!s->nt_create_file || !s->nt_device_io_control_file ||
	    !s->nt_cancel_io_file_ex || !s->rtl_nt_status_to_dos_error) {
		free(s);
		return GP_ENOTSUP;
	}

	s->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
	if (!s->port) {
		rc = win_code(GetLastError());
		free(s);
		return rc;
	}
	/* A handle on the AFD device with no endpoint behind it: it is not a
	 * socket, only a channel for poll requests. */
	st = s->nt_create_file(&s->afd, SYNCHRONIZE, &attrs, &iosb, NULL, 0,
	                       FILE_SHARE_READ | FILE_SHARE_WRITE, GP_FILE_OPEN,
	                       0, NULL, 0);
	if (st != GP_STATUS_SUCCESS) {
		rc = nt_code(s, st);
		CloseHandle(s->port);
		free(s);
		return rc == GP_EBADF ? GP_ESYS : rc;
	}
	if (!CreateIoCompletionPort(s->afd, s->port, GP_KEY_AFD, 0)) {
		rc = win_code(GetLastError());
		CloseHandle(s->afd);
		CloseHandle(s->port);
		free(s);
		return rc;
	}
	/* The handle is never waited on: completions only go to the port. */
	SetFileCompletionNotificationModes(s->afd,
	                                   FILE_SKIP_SET_EVENT_ON_HANDLE);
	p->be = s;
	return 0;
}

static void
pending_link(struct iocp_state *s, iocp_op *op)
{
	op->pending = 1;
	op->prev = NULL;
	op->next = s->pending;
	if (s->pending)
		s->pending->prev = op;
	s->pending = op;
	s->npending++;
}

static void
pending_unlink(struct iocp_state *s, iocp_op *op)
{
	if (op->prev)
		op->prev->next = op->next;
	else
		s->pending = op->next;
	if (op->next)
		op->next->prev = op->prev;
	op->pending = 0;
	op->prev = op->next = NULL;
	s->npending--;
}

static void
op_cancel(struct iocp_state *s, iocp_op *op)
{
	gp_io_status iosb;

	/* STATUS_NOT_FOUND: it completed meanwhile; its completion is
	 * queued, and frees the orphan when dequeued. */
	s->nt_cancel_io_file_ex(s->afd, &op->iosb, &iosb);
}

static void
io_destroy(gp_poller *p)
{
	struct iocp_state *s = p->be;
	int64_t deadline;

	if (!s)
		return;
	/* Idle polls go now; pending ones belong to the pending list. */
	for (uint32_t i = 0; i < s->nsocks; i++) {
		iocp_op *op = s->socks[i].op;
		if (op && !op->pending)
			free(op);
		s->socks[i].op = NULL;
	}
	/* The kernel writes into pending polls until their completions are
	 * queued: cancel them all and collect the completions before freeing
	 * (for at most a second; what is still pending then is leaked rather
	 * than freed under the kernel's feet). */
	for (iocp_op *op = s->pending; op; op = op->next) {
		op->orphan = 1;
		op_cancel(s, op);
	}
	deadline = gp__now_ns() + 1000000000;
	while (s->npending > 0 && gp__now_ns() < deadline) {
		ULONG n = 0;
		if (!GetQueuedCompletionStatusEx(s->port, s->entries,
		                                 (ULONG)p->raw_cap, &n, 100,
		                                 FALSE))
			continue;
		for (ULONG i = 0; i < n; i++) {
			iocp_op *op = (iocp_op *)s->entries[i].lpOverlapped;
			if (s->entries[i].lpCompletionKey != GP_KEY_AFD || !op)
				continue;
			pending_unlink(s, op);
			free(op);
		}
	}
	if (s->npending == 0)
		CloseHandle(s->afd);
	/* else: closing the handle could not make the kernel forget the
	 * buffers sooner; leave handle and buffers to the process's exit. */
	CloseHandle(s->port);
	free(s->socks);
	free(s->queue);
	free(s);
	p->be = NULL;
}

/* ---- polls (lock held) ----------------------------------------------------
 */

static int
sock_reserve(struct iocp_state *s, uint32_t slot)
{
	uint32_t n = s->nsocks ? s->nsocks : 64;
	iocp_sock *v;

	if (slot < s->nsocks)
		return 0;
	while (n <= slot)
		n *= 2;
	v = gp__realloc(s->socks, (size_t)n * sizeof *v);
	if (!v)
		return GP_ENOMEM;
	memset(v + s->nsocks, 0, (size_t)(n - s->nsocks) * sizeof *v);
	s->socks = v;
	s->nsocks = n;
	return 0;
}

static int
queue_push(struct iocp_state *s, uint32_t slot)
{
	if (s->socks[slot].queued)
		return 0;
	if (s->nqueue == s->capqueue) {
		size_t cap = s->capqueue ? s->capqueue * 2 : 64;
		uint32_t *q = gp__realloc(s->queue, cap * sizeof *q);
		if (!q)
			return GP_ENOMEM;
		s->queue = q;
		s->capqueue = cap;
	}
	s->queue[s->nqueue++] = slot;
	s->socks[slot].queued = 1;
	return 0;
}

/* Submits a poll for p->regs[slot] as it is now. */
static int
submit(gp_poller *p, struct iocp_state *s, uint32_t slot)
{
	const gp_reg *r = &p->regs[slot];
	iocp_sock *k = &s->socks[slot];
	iocp_op *op = k->op;
	ULONG events = GP_AFD_POLL_DISCONNECT | GP_AFD_POLL_ABORT |
	               GP_AFD_POLL_LOCAL_CLOSE | GP_AFD_POLL_CONNECT_FAIL;
	gp_ntstatus st;

	if (!op) {
		op = gp__calloc(1, sizeof *op);
		if (!op)
			return GP_ENOMEM;
		k->op = op;
	}
	if (r->events & GP_READ)
		events |= GP_AFD_POLL_RECEIVE | GP_AFD_POLL_ACCEPT;
	if (r->events & GP_WRITE)
		events |= GP_AFD_POLL_SEND;
	memset(&op->info, 0, sizeof op->info);
	op->info.timeout.QuadPart = INT64_MAX;
	op->info.count = 1;
	op->info.exclusive = FALSE;
	op->info.handles[0].handle = (HANDLE)k->base;
	op->info.handles[0].events = events;
	op->token = GP_TOKEN(slot, r->gen);
	op->slot = slot;
	op->orphan = 0;
	op->iosb.u.status = GP_STATUS_PENDING;
	/* Success or pending, the completion goes to the port. */
	st = s->nt_device_io_control_file(
	        s->afd, NULL, NULL, op, &op->iosb, GP_IOCTL_AFD_POLL, &op->info,
	        sizeof op->info, &op->info, sizeof op->info);
	if (st != GP_STATUS_SUCCESS && st != GP_STATUS_PENDING)
		return nt_code(s, st);
	pending_link(s, op);
	return 0;
}

/* Gives up k's poll: a pending one is cancelled and orphaned, an idle one
 * freed. */
static void
release_op(struct iocp_state *s, iocp_sock *k)
{
	iocp_op *op = k->op;

	k->op = NULL;
	if (!op)
		return;
	if (op->pending) {
		op->orphan = 1;
		op_cancel(s, op);
	} else {
		free(op);
	}
}

/* The base socket of a socket handle, or a GP_E* code. */
static int
base_socket(gp_fd_t fd, SOCKET *base)
{
	DWORD bytes, flags;
	SOCKET b = INVALID_SOCKET;
	int type, len = sizeof type;

	/* SO_TYPE first: not every Winsock checks the handle in
	 * SIO_BASE_HANDLE (Wine hands any value back). */
	if (getsockopt((SOCKET)fd, SOL_SOCKET, SO_TYPE, (char *)&type, &len) ==
	            0 &&
	    WSAIoctl((SOCKET)fd, SIO_BASE_HANDLE, NULL, 0, &b, sizeof b, &bytes,
	             NULL, NULL) == 0 &&
	    b != INVALID_SOCKET) {
		*base = b;
		return 0;
	}
	/* Not a socket: an open handle of another kind, or no handle. */
	if (GetHandleInformation((HANDLE)fd, &flags))
		return GP_EPERM;
	return GP_EBADF;
}

static int
io_ctl(gp_poller *p, enum gp_ctl_op op, uint32_t slot)
{
	struct iocp_state *s = p->be;
	iocp_sock *k;
	SOCKET base;
	int rc;

	switch (op) {
	case GP_CTL_ADD:
		if ((rc = base_socket(p->regs[slot].fd, &base)) < 0)
			return rc;
		if ((rc = sock_reserve(s, slot)) < 0)
			return rc;
		k = &s->socks[slot];
		k->base = base;
		k->active = 1;
		k->armed = 1;
		if ((rc = submit(p, s, slot)) < 0) {
			release_op(s, k);
			k->active = k->armed = 0;
			return rc;
		}
		return 0;
	case GP_CTL_MOD:
		k = &s->socks[slot];
		if (k->op && k->op->pending)
			release_op(s, k);
		k->armed = 1;
		if ((rc = submit(p, s, slot)) < 0) {
			/* The old poll is gone: the registration stays
			 * disarmed under its old token. */
			k->armed = 0;
			return rc;
		}
		return 0;
	default:
		k = &s->socks[slot];
		release_op(s, k);
		k->active = k->armed = 0;
		return 0;
	}
}

/* ---- waiting ------------------------------------------------------------- */

/* Submits the polls that level registrations need after a completion.
 * Lock held. */
static void
resubmit(gp_poller *p, struct iocp_state *s)
{
	for (size_t i = 0; i < s->nqueue; i++) {
		uint32_t slot = s->queue[i];
		iocp_sock *k = &s->socks[slot];

		k->queued = 0;
		if (!k->active || !k->armed || (k->op && k->op->pending))
			continue;
		/* A socket closed without gp_remove fails here: forget it,
		 * as when AFD says LOCAL_CLOSE. */
		if (submit(p, s, slot) < 0)
			k->armed = 0;
	}
	s->nqueue = 0;
}

static unsigned
afd_bits(ULONG ev)
{
	unsigned bits = 0;

	if (ev & (GP_AFD_POLL_RECEIVE | GP_AFD_POLL_ACCEPT))
		bits |= GP_READ;
	if (ev & GP_AFD_POLL_SEND)
		bits |= GP_WRITE;
	if (ev & GP_AFD_POLL_DISCONNECT)
		bits |= GP_HUP;
	if (ev & GP_AFD_POLL_ABORT)
		bits |= GP_HUP | GP_ERR;
	if (ev & GP_AFD_POLL_CONNECT_FAIL)
		bits |= GP_ERR;
	return bits;
}

static void io_collect(gp_poller *p, struct iocp_state *s, ULONG n, int *kp,
                       int *woken);

static int
io_wait(gp_poller *p, int kmax, int64_t timeout_ns, int *woken)
{
	struct iocp_state *s = p->be;
	ULONG n = 0;
	DWORD ms;
	int k = 0;

	if (kmax > p->raw_cap)
		kmax = p->raw_cap;
	gp__mutex_lock(&p->lock);
	if (s->nqueue)
		resubmit(p, s);
	gp__mutex_unlock(&p->lock);

	if (timeout_ns < 0) {
		ms = INFINITE;
	} else {
		int64_t t = gp__ms_round_up(timeout_ns);
		ms = t >= (int64_t)INFINITE ? INFINITE - 1 : (DWORD)t;
	}
	/* A full batch of completions can make fewer records than it held
	 * (cancelled and stale polls make none): then the rest of what is
	 * queued is taken too, without waiting, so that fewer than kmax
	 * records always means nothing else was ready. */
	for (int want = kmax;; want = kmax - k, ms = 0) {
		if (!GetQueuedCompletionStatusEx(s->port, s->entries,
		                                 (ULONG)want, &n, ms, FALSE)) {
			DWORD err = GetLastError();
			if (k > 0 || err == WAIT_TIMEOUT)
				return k;
			return win_code(err);
		}
		io_collect(p, s, n, &k, woken);
		if (n < (ULONG)want || k >= kmax)
			return k;
	}
}

/* Turns n dequeued completions into records at p->raw[*k...]. */
static void
io_collect(gp_poller *p, struct iocp_state *s, ULONG n, int *kp, int *woken)
{
	int k = *kp;

	gp__mutex_lock(&p->lock);
	for (ULONG i = 0; i < n; i++) {
		const OVERLAPPED_ENTRY *e = &s->entries[i];
		iocp_op *op = (iocp_op *)e->lpOverlapped;
		iocp_sock *ks;
		const gp_reg *r;
		unsigned bits = 0;
		ULONG ev;
		gp_ntstatus st;

		if (e->lpCompletionKey == GP_KEY_WAKE) {
			*woken = 1;
			continue;
		}
		if (e->lpCompletionKey != GP_KEY_AFD || !op)
			continue;
		pending_unlink(s, op);
		if (op->orphan) {
			free(op);
			continue;
		}
		ks = &s->socks[op->slot];
		r = &p->regs[op->slot];
		st = op->iosb.u.status;
		ev = op->info.count >= 1 ? op->info.handles[0].events : 0;
		if (st == GP_STATUS_CANCELLED) {
			/* Not by us (ours are orphans): poll again. */
		} else if (!GP_NT_SUCCESS(st)) {
			bits = GP_ERR;
			ks->armed = 0; /* reported once, as poll's POLLNVAL */
		} else if (ev & GP_AFD_POLL_LOCAL_CLOSE) {
			ks->armed = 0; /* closed without gp_remove: forget */
		} else {
			bits = afd_bits(ev);
		}
		if (bits) {
			p->raw[k].token = op->token;
			p->raw[k].events = bits;
			k++;
			if (r->events & GP_ONESHOT)
				ks->armed = 0; /* until gp_modify */
		}
		if (ks->armed && queue_push(s, op->slot) < 0)
			ks->armed = 0; /* out of memory: cannot re-arm */
	}
	gp__mutex_unlock(&p->lock);
	*kp = k;
}

static void
io_wake(gp_poller *p)
{
	const struct iocp_state *s = p->be;
	DWORD saved = GetLastError();

	PostQueuedCompletionStatus(s->port, 0, GP_KEY_WAKE, NULL);
	SetLastError(saved);
}

const struct gp_backend_ops gp__iocp_ops = {
        .name = "iocp",
        .id = GP_BACKEND_IOCP,
        .supports_edge = 0,
        .init = io_init,
        .destroy = io_destroy,
        .ctl = io_ctl,
        .wait = io_wait,
        .fd = NULL,
        .wake = io_wake,
};
