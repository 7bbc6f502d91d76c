/* module.h - what the parts of the guestpoll._guestpoll extension share:
 * the module state, the errors, the timeout conversion.
 *
 *   module.c    the module: state, errors, the timeout converter, init
 *   selector.c  guestpoll._guestpoll.Selector, a selectors.BaseSelector
 *               over a gp_poller (knows nothing of guest mode)
 *   bridge.c    the split-wait bridge the asyncio guest driver uses:
 *               _wait_start(), _wait_cancel(), the ready callback
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef GPY_MODULE_H
#define GPY_MODULE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>

#include "guestpoll.h"

typedef struct {
	PyObject *SelectorKey; /* selectors.SelectorKey */
} gpy_modstate;

extern struct PyModuleDef gpy_module_def;

/* Raise the OSError subclass Python uses for the errno behind a GP_E*
 * code (or MemoryError); returns NULL. */
PyObject *gpy_raise_gp(int code);
/* ValueError("I/O operation on closed selector"); returns NULL. */
PyObject *gpy_raise_closed(void);

/* A Python timeout in seconds to nanoseconds (-1 forever, 0 poll), with
 * selectors.EpollSelector's errors; see module.c.  Call gpy_timeout_check()
 * on the result after the "is it closed" check. */
#define GPY_TIMEOUT_TOO_LARGE INT64_MIN
int gpy_timeout_to_ns(PyObject *obj, int64_t *ns);
int gpy_timeout_check(int64_t ns);

/* 1 once the interpreter's finalization has begun. */
int gpy_interpreter_finalizing(void);

#endif /* GPY_MODULE_H */
