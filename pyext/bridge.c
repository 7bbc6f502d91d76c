/* bridge.c - the split-wait bridge of guest mode.  _wait_start() hands
 * the Selector's kernel wait to libguestpoll's waiter thread, whose ready
 * callback takes the GIL (PyGILState, on that thread) and calls a Python
 * callable; the next select() then collects that
 * wait's events instead of waiting again.  _call_on_main() hands a call
 * to the main interpreter's pending calls, which is why the module does
 * not support subinterpreters.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include "bridge.h"

#include <stdatomic.h>

#include "../src/platform.h"
#include "selector.h"

/* The split wait as the guest driver sees it: libguestpoll's state, except
 * that a finished wait whose callback has not taken the callable yet is
 * still in flight (the callback brings the next tick).  A plain wait of
 * another thread (select() with a timeout) is no guest wait: idle. */
static int
wait_state(SelectorObject *self)
{
	int st = self->poller ? gp_wait_state(self->poller) : GP_WAIT_IDLE;

	switch (st) {
	case GP_WAIT_INFLIGHT:
		return WAIT_INFLIGHT;
	case GP_WAIT_READY:
		return self->bridge.ready_callable ? WAIT_INFLIGHT : WAIT_READY;
	default:
		return WAIT_IDLE;
	}
}

/* Collects the finished split wait into list, and then whatever else is
 * ready if that wait's buffer was full. */
static PyObject *
collect_ready(SelectorObject *self, PyObject *list)
{
	int n, nrec = 0, dup = 0, got;

	gpy_selector_begin_report(self);
	do {
		n = gp_wait_collect(self->poller, self->evbuf, EVBUF_LEN);
		if (n < 0)
			return gpy_raise_gp(n);
		if ((got = gpy_selector_report(self, self->evbuf, n, list,
		                               &dup)) < 0)
			return NULL;
		nrec += got;
	} while (n == EVBUF_LEN);
	if (!dup && gpy_selector_report_rest(self, list, nrec) < 0)
		return NULL;
	return list;
}

/* select(), before it waits itself. */
int
gpy_bridge_select(SelectorObject *self, PyObject *list, int64_t *timeout_ns)
{
	int st = wait_state(self);

	if (st == WAIT_READY)
		return collect_ready(self, list) ? 1 : -1;
	if (st == WAIT_INFLIGHT) {
		/* Guest mode: a tick the host started while the wait is in
		 * flight has no I/O events yet; the wait brings them. */
		if (self->bridge.guest)
			return 1;
		PyErr_SetString(PyExc_RuntimeError,
		                "select() while a guest wait is in flight");
		return -1;
	}
	if (self->bridge.guest)
		*timeout_ns = 0;
	return 0;
}

void
gpy_bridge_close(SelectorObject *self)
{
	Py_CLEAR(self->bridge.ready_callable);
}

int
gpy_bridge_traverse(SelectorObject *self, visitproc visit, void *arg)
{
	Py_VISIT(self->bridge.ready_callable);
	return 0;
}

void
gpy_bridge_clear(SelectorObject *self)
{
	Py_CLEAR(self->bridge.ready_callable);
}

/* Interpreter shutdown.  A thread that takes the GIL once finalization has
 * begun is stopped for good (killed before 3.14, blocked forever from
 * 3.14), and the poller it belongs to could then never be freed.  So the
 * waiter thread announces itself in `attaching' before it looks at
 * `shutting_down', and the atexit hook, which runs on the main thread
 * before finalization begins, sets `shutting_down' and then lets every
 * announced waiter finish its callback: after that no waiter attaches
 * again.  Both are sequentially consistent, so one of the two sides
 * always sees the other. */
static atomic_int shutting_down;
static atomic_int attaching;

PyObject *
gpy_bridge_after_fork(PyObject *module, PyObject *unused)
{
	atomic_store(&attaching, 0); /* those threads are not in the child */
	Py_RETURN_NONE;
}

PyObject *
gpy_bridge_at_exit(PyObject *module, PyObject *unused)
{
	atomic_store(&shutting_down, 1);
	while (atomic_load(&attaching) > 0) {
		Py_BEGIN_ALLOW_THREADS
		gp__nap();
		Py_END_ALLOW_THREADS
	}
	Py_RETURN_NONE;
}

/* Runs on libguestpoll's waiter thread when a split wait finished: takes
 * the GIL and calls the ready callable.  The thread state is made and
 * deleted here, on this thread, each time (PyGILState).  Keeping one for
 * the thread's life would mean deleting it from another thread once the
 * waiter is joined, and CPython 3.12 then unbinds the *deleting* thread's
 * own PyGILState state: its next PyGILState_Ensure() (which tracemalloc's
 * allocator hook calls with the GIL held) makes a second state and waits
 * for the GIL it holds itself. */
static void
on_ready(void *arg)
{
	SelectorObject *self = arg;
	PyObject *fn, *res;
	PyGILState_STATE g;

	atomic_fetch_add(&attaching, 1);
	if (atomic_load(&shutting_down) || gpy_interpreter_finalizing()) {
		atomic_fetch_sub(&attaching, 1);
		return;
	}
	g = PyGILState_Ensure();
	/* No callable: the wait was cancelled (_wait_cancel, close). */
	if (!self->closed && (fn = self->bridge.ready_callable)) {
		self->bridge.ready_callable = NULL;
		res = PyObject_CallNoArgs(fn);
		if (!res)
			PyErr_WriteUnraisable(fn);
		Py_XDECREF(res);
		/* may free the selector (gpy_bridge_free_later) */
		Py_DECREF(fn);
	}
	PyGILState_Release(g);
	atomic_fetch_sub(&attaching, 1);
}
PyObject *
gpy_bridge_wait_start(SelectorObject *self, PyObject *args)
{
	PyObject *timeout_obj, *fn;
	int64_t timeout_ns = -1;
	int rc;

	if (!PyArg_ParseTuple(args, "OO:_wait_start", &timeout_obj, &fn))
		return NULL;
	if (!PyCallable_Check(fn)) {
		PyErr_SetString(PyExc_TypeError, "callback must be callable");
		return NULL;
	}
	if (gpy_selector_wait_timeout(self, timeout_obj, &timeout_ns) < 0)
		return NULL;
	if (wait_state(self) != WAIT_IDLE) {
		PyErr_SetString(PyExc_RuntimeError,
		                "a guest wait is already in flight or ready");
		return NULL;
	}
	Py_XSETREF(self->bridge.ready_callable, Py_NewRef(fn));
	rc = gp_wait_start(self->poller, timeout_ns, on_ready, self);
	if (rc < 0) {
		Py_CLEAR(self->bridge.ready_callable);
		return gpy_raise_gp(rc);
	}
	Py_RETURN_NONE;
}

/* Guest mode: asks the kernel, without blocking, whether something is
 * ready now; if so the next select() returns it (checked by libguestpoll
 * when collected) and the caller need not hand a wait to the waiter. */
PyObject *
gpy_bridge_poll_ready(SelectorObject *self, PyObject *unused)
{
	int n;

	if (self->closed || !self->poller)
		return gpy_raise_closed();
	if (wait_state(self) != WAIT_IDLE)
		Py_RETURN_TRUE; /* a wait's events are already there or coming
		                 */
	n = gp_wait_poll(self->poller);
	if (n == GP_EINTR)
		n = 0; /* nothing to report now; the wait will look again */
	if (n < 0)
		return gpy_raise_gp(n);
	if (n == GP_EBUSY)
		n = 0; /* another thread's select() waits */
	if (n < 0)
		return gpy_raise_gp(n);
	return PyBool_FromLong(n > 0);
}

/* Ends the split wait in flight without calling its callback, and returns
 * once the waiter is done with it: gp_wait_cancel() returns when no ready
 * callback runs and none will be called for that wait; records it had not
 * handed out are dropped (level-triggered readiness shows again in the
 * next select()).  For a run whose host went away. */
PyObject *
gpy_bridge_wait_cancel(SelectorObject *self, PyObject *unused)
{
	gp_poller *p = self->poller;
	int rc;

	if (!p)
		Py_RETURN_NONE;
	/* A callback that already waits for the GIL finds no callable. */
	Py_CLEAR(self->bridge.ready_callable);
	self->in_select++; /* close() meanwhile must not free the poller */
	Py_BEGIN_ALLOW_THREADS
	rc = gp_wait_cancel(p);
	Py_END_ALLOW_THREADS
	self->in_select--;
	if (self->closed) {
		gpy_selector_release_poller(self);
		Py_RETURN_NONE;
	}
	if (rc < 0 && rc != GP_EBUSY)
		return gpy_raise_gp(rc);
	Py_RETURN_NONE;
}

PyObject *
gpy_bridge_notify(SelectorObject *self, PyObject *unused)
{
	if (self->poller)
		gp_notify(self->poller);
	Py_RETURN_NONE;
}

PyObject *
gpy_bridge_get_wait_state(SelectorObject *self, void *closure)
{
	static const char *const names[] = {"idle", "inflight", "ready"};
	return PyUnicode_FromString(names[wait_state(self)]);
}

PyObject *
gpy_bridge_get_wstate(SelectorObject *self, void *closure)
{
	return PyLong_FromLong(wait_state(self));
}

/* A poller whose selector was freed from inside its own ready callback:
 * freed from the main thread's pending calls (gp_poller_free refuses to
 * run on the waiter thread, which it would have to join). */
static int
free_later_run(void *arg)
{
	Py_BEGIN_ALLOW_THREADS(void)
	gp_poller_free(arg); /* joins the waiter thread */
	Py_END_ALLOW_THREADS
	return 0;
}

void
gpy_bridge_free_later(SelectorObject *self, gp_poller *p)
{
	(void)self;
	/* If the call cannot be queued, the poller leaks rather than being
	 * freed under its own thread. */
	(void)Py_AddPendingCall(free_later_run, p);
}

static int
run_pending(void *fn)
{
	PyObject *res = PyObject_CallNoArgs(fn);

	if (!res)
		PyErr_WriteUnraisable(fn);
	Py_XDECREF(res);
	Py_DECREF(fn);
	return 0; /* never raise into whatever the main thread runs */
}

PyObject *
gpy_bridge_call_on_main(PyObject *module, PyObject *fn)
{
	if (!PyCallable_Check(fn)) {
		PyErr_SetString(PyExc_TypeError, "argument must be callable");
		return NULL;
	}
	Py_INCREF(fn);
	if (Py_AddPendingCall(run_pending, fn) < 0) {
		Py_DECREF(fn);
		PyErr_SetString(PyExc_RuntimeError,
		                "the main thread's pending-call queue is full");
		return NULL;
	}
	Py_RETURN_NONE;
}

int
gpy_bridge_module_exec(PyObject *m)
{
	PyObject *atexit = PyImport_ImportModule("atexit"), *fn, *r;
	PyObject *os, *reg, *kw, *empty;

	if (!atexit)
		return -1;
	fn = PyObject_GetAttrString(m, "_at_exit");
	r = fn ? PyObject_CallMethod(atexit, "register", "O", fn) : NULL;
	Py_XDECREF(fn);
	Py_DECREF(atexit);
	if (!r)
		return -1;
	Py_DECREF(r);
	/* os.register_at_fork(after_in_child=_after_fork), where there is a
	 * fork(): Windows has none, and its os module no register_at_fork. */
	if (!(os = PyImport_ImportModule("os")))
		return -1;
	if (!PyObject_HasAttrString(os, "register_at_fork")) {
		Py_DECREF(os);
		return 0;
	}
	fn = PyObject_GetAttrString(m, "_after_fork");
	reg = fn ? PyObject_GetAttrString(os, "register_at_fork") : NULL;
	kw = reg ? Py_BuildValue("{sO}", "after_in_child", fn) : NULL;
	empty = kw ? PyTuple_New(0) : NULL;
	r = empty ? PyObject_Call(reg, empty, kw) : NULL;
	Py_XDECREF(empty);
	Py_XDECREF(kw);
	Py_XDECREF(reg);
	Py_XDECREF(fn);
	Py_DECREF(os);
	if (!r)
		return -1;
	Py_DECREF(r);
	return 0;
}
