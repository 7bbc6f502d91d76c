/* bridge.h - the split-wait bridge (bridge.c): the Selector's state for
 * guest mode and the hooks selector.c and module.c call.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef GPY_BRIDGE_H
#define GPY_BRIDGE_H

#include "module.h"

struct SelectorObject;

/* The split wait as the guest driver sees it (Selector._wstate), derived
 * from libguestpoll's gp_wait_state() and whether the wait's callback is
 * still to be called: the extension keeps no copy of the wait's state. */
enum gpy_wait_state { WAIT_IDLE, WAIT_INFLIGHT, WAIT_READY };

/* A Selector's guest-mode data.  Owned by the thread holding the GIL. */
struct gpy_bridge {
	/* The callable of the split wait in flight, until the ready callback
	 * takes it (or _wait_cancel()/close() drop it). */
	PyObject *ready_callable;
	int guest; /* select() never blocks */
};

/* select(), before it waits: 1 when a split wait gave the answer (in list),
 * 0 when select() should wait itself (*timeout_ns may have been lowered to
 * 0), -1 with an exception set. */
int gpy_bridge_select(struct SelectorObject *self, PyObject *list,
                      int64_t *timeout_ns);
/* close(): the wait's callable is dropped. */
void gpy_bridge_close(struct SelectorObject *self);
int gpy_bridge_traverse(struct SelectorObject *self, visitproc visit,
                        void *arg);
void gpy_bridge_clear(struct SelectorObject *self);
/* gp_poller_free() refused (GP_EBUSY): the selector is being freed from
 * inside its own ready callback, on the waiter thread.  Frees the poller
 * later, from the main thread. */
void gpy_bridge_free_later(struct SelectorObject *self, gp_poller *p);
/* Module init: registers the atexit hook. */
int gpy_bridge_module_exec(PyObject *m);

PyObject *gpy_bridge_wait_start(struct SelectorObject *self, PyObject *args);
PyObject *gpy_bridge_poll_ready(struct SelectorObject *self, PyObject *unused);
PyObject *gpy_bridge_wait_cancel(struct SelectorObject *self, PyObject *unused);
PyObject *gpy_bridge_notify(struct SelectorObject *self, PyObject *unused);
PyObject *gpy_bridge_get_wait_state(struct SelectorObject *self, void *closure);
PyObject *gpy_bridge_get_wstate(struct SelectorObject *self, void *closure);
PyObject *gpy_bridge_call_on_main(PyObject *module, PyObject *fn);
PyObject *gpy_bridge_at_exit(PyObject *module, PyObject *unused);
PyObject *gpy_bridge_after_fork(PyObject *module, PyObject *unused);

/* The Selector's guest-mode methods, members and attributes, and the
 * module's functions, for their tables. */
#define GPY_BRIDGE_METHODS                                                     \
	{"_wait_start", (PyCFunction)gpy_bridge_wait_start, METH_VARARGS,      \
	 "_wait_start(timeout, callback)\n\nGuest mode: hand the kernel "      \
	 "wait to the waiter thread, which\ncalls callback() (holding the "    \
	 "GIL, on that thread) when it ends.\nThe next select() returns "      \
	 "that wait's events without blocking."},                              \
	        {"_poll_ready", (PyCFunction)gpy_bridge_poll_ready,            \
	         METH_NOARGS,                                                  \
	         "_poll_ready() -> bool\n\nGuest mode: True if something is "  \
	         "ready now (the next select()\nreturns it without "           \
	         "blocking)."},                                                \
	        {"_wait_cancel", (PyCFunction)gpy_bridge_wait_cancel,          \
	         METH_NOARGS,                                                  \
	         "_wait_cancel()\n\nEnd the guest wait in flight without its " \
	         "callback (gp_wait_cancel); what\nit gathered is dropped: "   \
	         "the "                                                        \
	         "next select() polls anew."},                                 \
	        {"_notify", (PyCFunction)gpy_bridge_notify, METH_NOARGS,       \
	         "_notify()\n\nEnd the current or next wait early.  "          \
	         "Thread-safe."},

#define GPY_BRIDGE_MEMBERS                                                     \
	{"_guest", T_INT, offsetof(SelectorObject, bridge.guest), 0,           \
	 "guest mode: select() never blocks"},

#define GPY_BRIDGE_GETSET                                                      \
	{"_wait_state", (getter)gpy_bridge_get_wait_state, NULL,               \
	 "'idle', 'inflight' or 'ready'", NULL},                               \
	        {"_wstate", (getter)gpy_bridge_get_wstate, NULL,               \
	         "the split wait: 0 idle, 1 in flight, 2 ready", NULL},

#define GPY_BRIDGE_MODULE_METHODS                                              \
	{"_call_on_main", gpy_bridge_call_on_main, METH_O,                     \
	 "_call_on_main(fn)\n\nHave the main thread call fn() soon (at its "   \
	 "next bytecode\nboundary), whatever it is running."},                 \
	        {"_at_exit", gpy_bridge_at_exit, METH_NOARGS,                  \
	         "_at_exit()\n\nRegistered with atexit: waiter threads "       \
	         "attach no more."},                                           \
	        {"_after_fork", gpy_bridge_after_fork, METH_NOARGS,            \
	         "_after_fork()\n\nRegistered with os.register_at_fork: "      \
	         "forget the parent's waiter threads."},

#endif /* GPY_BRIDGE_H */
