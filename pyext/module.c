/* module.c - the guestpoll._guestpoll module: its state, the errors and
 * the one timeout converter its parts share, and its initialization.
 * The Selector type is in selector.c, the split-wait bridge in bridge.c
 * (see module.h).
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include "module.h"

#include <errno.h>
#include <limits.h>
#include <math.h>

#include "bridge.h"
#include "selector.h"

/* ---- errors ---------------------------------------------------------- */

static int
gp_code_errno(int code)
{
	switch (code) {
	case GP_EBADF:
		return EBADF;
	case GP_EEXIST:
		return EEXIST;
	case GP_ENOENT:
		return ENOENT;
	case GP_EBUSY:
		return EBUSY;
	case GP_ENOMEM:
		return ENOMEM;
	case GP_ENOTSUP:
		return ENOTSUP;
	case GP_EINTR:
		return EINTR;
	case GP_EPERM:
		return EPERM;
	case GP_EMFILE:
		return EMFILE;
	case GP_EINVAL:
		return EINVAL;
	default:
		return EIO;
	}
}

/* Raises the OSError subclass Python uses for the errno behind a GP_E*
 * code (PermissionError, FileExistsError, ...). */
PyObject *
gpy_raise_gp(int code)
{
	PyObject *exc;

	if (code == GP_ENOMEM)
		return PyErr_NoMemory();
	exc = PyObject_CallFunction(PyExc_OSError, "is", gp_code_errno(code),
	                            gp_strerror(code));
	if (exc) {
		PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
		Py_DECREF(exc);
	}
	return NULL;
}

PyObject *
gpy_raise_closed(void)
{
	PyErr_SetString(PyExc_ValueError, "I/O operation on closed selector");
	return NULL;
}

/* ---- timeouts -------------------------------------------------------- */

/* The one conversion of a Python timeout (seconds) to nanoseconds, for
 * select() and _wait_start(), with selectors.EpollSelector's rules and
 * exception types, in its order.  EpollSelector.select() first computes
 * "timeout <= 0" and math.ceil(timeout * 1e3) in Python, then epoll.poll()
 * checks that the epoll is open and only then that the result fits in an
 * int of milliseconds.  So gpy_timeout_to_ns() raises what the Python part
 * raises: None waits forever (-1); anything "<= 0" (including -inf and
 * huge negative ints) polls (0); NaN raises ValueError, +inf (also after
 * the multiplication) OverflowError; an object that cannot be compared
 * with 0 raises what the comparison raises (TypeError).  A finite timeout
 * of INT_MAX milliseconds or more is stored as GPY_TIMEOUT_TOO_LARGE, which
 * gpy_timeout_check() turns into OverflowError after the caller's own "is it
 * closed" check.  Exact ints and floats take a fast path; anything else
 * goes through the same operations as EpollSelector.select(). */
static int
timeout_from_ms_double(double ms, int64_t *ns)
{
	if (isnan(ms)) {
		PyErr_SetString(PyExc_ValueError,
		                "cannot convert float NaN to integer");
		return -1;
	}
	if (isinf(ms)) {
		PyErr_SetString(PyExc_OverflowError,
		                "cannot convert float infinity to integer");
		return -1;
	}
	if (ms <= 0)
		*ns = 0;
	else if (ceil(ms) > (double)INT_MAX)
		*ns = GPY_TIMEOUT_TOO_LARGE;
	else
		*ns = (int64_t)ceil(ms * 1e6);
	return 0;
}

int
gpy_timeout_to_ns(PyObject *obj, int64_t *ns)
{
	PyObject *zero, *k = NULL, *ms = NULL, *math = NULL, *c = NULL;
	int le, rc = -1;

	if (obj == Py_None) {
		*ns = -1;
		return 0;
	}
	if (PyFloat_CheckExact(obj)) {
		double t = PyFloat_AS_DOUBLE(obj);
		if (t <= 0) { /* false for NaN */
			*ns = 0;
			return 0;
		}
		return timeout_from_ms_double(t * 1e3, ns);
	}
	if (PyLong_CheckExact(obj) || PyBool_Check(obj)) {
		int overflow;
		long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
		double d;
		if (v == -1 && PyErr_Occurred())
			return -1;
		if (overflow < 0 || (!overflow && v <= 0)) {
			*ns = 0;
			return 0;
		}
		if (!overflow && v <= INT_MAX / 1000) {
			*ns = (int64_t)v * 1000000000;
			return 0;
		}
		/* timeout * 1e3 converts the int to a float first. */
		d = PyLong_AsDouble(obj);
		if (d == -1.0 && PyErr_Occurred())
			return -1;
		return timeout_from_ms_double(d * 1e3, ns);
	}
	/* Any other object: "timeout <= 0", then math.ceil(timeout * 1e3). */
	if (!(zero = PyLong_FromLong(0)))
		return -1;
	le = PyObject_RichCompareBool(obj, zero, Py_LE);
	Py_DECREF(zero);
	if (le < 0)
		return -1;
	if (le) {
		*ns = 0;
		return 0;
	}
	if (!(k = PyFloat_FromDouble(1e3)) ||
	    !(ms = PyNumber_Multiply(obj, k)) ||
	    !(math = PyImport_ImportModule("math")) ||
	    !(c = PyObject_CallMethod(math, "ceil", "O", ms)))
		goto done;
	{
		double d = PyFloat_AsDouble(c);
		if (d == -1.0 && PyErr_Occurred())
			goto done;
		rc = timeout_from_ms_double(d, ns);
	}
done:
	Py_XDECREF(k);
	Py_XDECREF(ms);
	Py_XDECREF(math);
	Py_XDECREF(c);
	return rc;
}

/* The second half of the conversion: OverflowError for a timeout that
 * gpy_timeout_to_ns() found too large. */
int
gpy_timeout_check(int64_t ns)
{
	if (ns == GPY_TIMEOUT_TOO_LARGE) {
		PyErr_SetString(PyExc_OverflowError, "timeout is too large");
		return -1;
	}
	return 0;
}

int
gpy_interpreter_finalizing(void)
{
#if PY_VERSION_HEX >= 0x030D0000
	return Py_IsFinalizing();
#else
	return _Py_IsFinalizing();
#endif
}

/* ---- the module ------------------------------------------------------ */

static PyMethodDef module_methods[] = {
        GPY_BRIDGE_MODULE_METHODS{NULL, NULL, 0, NULL}};

static int
module_exec(PyObject *m)
{
	gpy_modstate *st = PyModule_GetState(m);
	PyObject *selectors, *type;

	selectors = PyImport_ImportModule("selectors");
	if (!selectors)
		return -1;
	st->SelectorKey = PyObject_GetAttrString(selectors, "SelectorKey");
	Py_DECREF(selectors);
	if (!st->SelectorKey)
		return -1;
	type = PyType_FromModuleAndSpec(m, &gpy_selector_spec, NULL);
	if (!type)
		return -1;
	if (PyModule_AddObject(m, "Selector", type) < 0) {
		Py_DECREF(type);
		return -1;
	}
	if (PyModule_AddStringConstant(m, "libguestpoll_version",
	                               gp_version()) < 0)
		return -1;
	if (gpy_bridge_module_exec(m) < 0)
		return -1;
	return 0;
}

static int
module_traverse(PyObject *m, visitproc visit, void *arg)
{
	gpy_modstate *st = PyModule_GetState(m);
	Py_VISIT(st->SelectorKey);
	return 0;
}

static int
module_clear(PyObject *m)
{
	gpy_modstate *st = PyModule_GetState(m);
	Py_CLEAR(st->SelectorKey);
	return 0;
}

static void
module_free(void *m)
{
	module_clear(m);
}

static PyModuleDef_Slot module_slots[] = {
        {Py_mod_exec, module_exec},
#ifdef Py_mod_multiple_interpreters
        /* The bridge hands work to the main interpreter's pending calls
         * (_call_on_main) and the atexit handshake is process-wide. */
        {Py_mod_multiple_interpreters,
         Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED},
#endif
        {0, NULL}};

struct PyModuleDef gpy_module_def = {
        PyModuleDef_HEAD_INIT,
        .m_name = "guestpoll._guestpoll",
        .m_doc = "C core of guestpoll: a selectors.BaseSelector over "
                 "libguestpoll.",
        .m_size = sizeof(gpy_modstate),
        .m_methods = module_methods,
        .m_slots = module_slots,
        .m_traverse = module_traverse,
        .m_clear = module_clear,
        .m_free = module_free,
};

PyMODINIT_FUNC PyInit__guestpoll(void);

PyMODINIT_FUNC
PyInit__guestpoll(void)
{
	return PyModuleDef_Init(&gpy_module_def);
}
