/* _guestpoll.c - the CPython binding of libguestpoll.
 *
 * guestpoll._guestpoll.Selector is a selectors.BaseSelector implemented in
 * C over a gp_poller.  Besides the selectors API it carries the bridge the
 * asyncio guest driver needs: _wait_start() hands the kernel wait to
 * libguestpoll's waiter thread, whose ready callback takes the GIL and calls
 * a Python callable; the next select() then collects that wait's events
 * instead of waiting again.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <math.h>
#include <time.h>

#include "guestpoll.h"

/* Events gathered per kernel wait.  When a wait fills it, select() polls
 * again (timeout 0) with the same buffer until a wait brings less or only
 * repeats, so one select() reports every ready registration. */
#define SELECT_MAX_EVENTS 1024
/* The event array has room for those plus a gp_notify() record. */
#define EVBUF_LEN (SELECT_MAX_EVENTS + 1)

#define EVENT_READ  1 /* selectors.EVENT_READ */
#define EVENT_WRITE 2

typedef struct {
	PyObject *SelectorKey; /* selectors.SelectorKey */
} modstate;

static struct PyModuleDef module_def;

enum wait_state { WAIT_IDLE, WAIT_INFLIGHT, WAIT_READY };

/* Instances have a __dict__, as EpollSelector's do, so that an instance
 * attribute (sel.register = Mock()) shadows a method: CPython manages it
 * from 3.13 on (public API to visit and clear it), before that the type
 * names its offset. */
#if PY_VERSION_HEX >= 0x030D0000
#define GPY_MANAGED_DICT 1
#else
#define GPY_MANAGED_DICT 0
#endif

typedef struct {
	PyObject_HEAD
	gp_poller *poller;   /* NULL once closed and released */
	PyObject *fd_to_key; /* dict: int fd -> SelectorKey */
	/* The same keys indexed by fd, with their events, for select()'s
	 * per-event lookup (strong references), and the (key, events)
	 * tuples select() has returned for each mask, made once and handed
	 * out again until the key changes: tuples are immutable, so a caller
	 * cannot tell a cached one from a new one. */
	struct keyslot {
		PyObject *key;
		int events;
		PyObject *pair[3]; /* index: events - 1 */
		uint64_t stamp;    /* the select() that last reported it */
	} * keyvec;
	size_t keyvec_len;
	PyObject *key_type; /* selectors.SelectorKey */
	gp_event *evbuf;
	uint64_t stamp; /* select() calls so far: the key slots' stamps */
	int closed;
	int in_select; /* threads inside select() with the GIL off */
	int wstate; /* enum wait_state: the split wait, owned by the GIL holder
	             */
	PyObject *ready_callable; /* held while a split wait is in flight */
	/* The waiter thread's Python thread state: made by that thread on
	 * its first ready callback, kept for the next ones, deleted once the
	 * poller (and with it the thread) is gone. */
	PyThreadState *waiter_ts;
	PyInterpreterState *interp; /* the interpreter of the ready callable */
	int guest;                  /* select() never blocks */
	PyObject *weakreflist;
#if !GPY_MANAGED_DICT
	PyObject *dict; /* instance attributes (mock.patch.object) */
#endif
} SelectorObject;

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
static PyObject *
raise_gp(int code)
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

static PyObject *
raise_closed(void)
{
	PyErr_SetString(PyExc_ValueError, "I/O operation on closed selector");
	return NULL;
}

/* ---- file objects ------------------------------------------------------ */

/* selectors' rule: an int, or an object whose fileno() gives one.
 * A descriptor above INT_MAX cannot be registered: register() raises
 * OverflowError as the stdlib's does, but for a lookup (lookup != 0) it is
 * merely not registered: *fd_out is -1, which no key has (KeyError). */
static int
fileobj_to_fd(PyObject *fileobj, int *fd_out, int lookup)
{
	PyObject *num;
	long fd;
	int overflow;

	if (PyLong_Check(fileobj)) {
		num = Py_NewRef(fileobj);
	} else {
		PyObject *res = PyObject_CallMethod(fileobj, "fileno", NULL);
		num = res ? PyNumber_Long(res) : NULL;
		Py_XDECREF(res);
		if (!num) {
			if (PyErr_ExceptionMatches(PyExc_AttributeError) ||
			    PyErr_ExceptionMatches(PyExc_TypeError) ||
			    PyErr_ExceptionMatches(PyExc_ValueError)) {
				PyErr_Clear();
				PyErr_Format(PyExc_ValueError,
				             "Invalid file object: %R",
				             fileobj);
			}
			return -1;
		}
	}
	fd = PyLong_AsLongAndOverflow(num, &overflow);
	if (fd == -1 && PyErr_Occurred()) {
		Py_DECREF(num);
		return -1;
	}
	if (overflow < 0 || (!overflow && fd < 0)) {
		PyErr_Format(PyExc_ValueError, "Invalid file descriptor: %R",
		             num);
		Py_DECREF(num);
		return -1;
	}
	Py_DECREF(num);
	if (overflow > 0 || fd > INT_MAX) {
		if (lookup) {
			*fd_out = -1;
			return 0;
		}
		PyErr_SetString(PyExc_OverflowError,
		                "file descriptor is greater than maximum");
		return -1;
	}
	*fd_out = (int)fd;
	return 0;
}

/* Like fileobj_to_fd, but a file object that no longer has a valid fd
 * (closed) is found by identity among the registered keys. */
static int
fileobj_lookup(SelectorObject *self, PyObject *fileobj, int *fd_out, int lookup)
{
	PyObject *value;
	Py_ssize_t pos = 0;

	if (fileobj_to_fd(fileobj, fd_out, lookup) == 0)
		return 0;
	if (!PyErr_ExceptionMatches(PyExc_ValueError))
		return -1;
	while (PyDict_Next(self->fd_to_key, &pos, NULL, &value)) {
		if (PyTuple_GET_ITEM(value, 0) == fileobj) {
			PyErr_Clear();
			*fd_out =
			        (int)PyLong_AsLong(PyTuple_GET_ITEM(value, 1));
			return 0;
		}
	}
	return -1; /* the ValueError stands */
}

/* selectors' rule: events must be true and hold no bit beyond READ and
 * WRITE; a non-integer fails the bit test with TypeError. */
static int
check_events(PyObject *events_obj, int *events)
{
	PyObject *mask, *rest;
	int truth, extra;
	long ev;

	if ((truth = PyObject_IsTrue(events_obj)) < 0)
		return -1;
	if (truth) {
		if (!(mask = PyLong_FromLong(
		              ~(long)(EVENT_READ | EVENT_WRITE))))
			return -1;
		rest = PyNumber_And(events_obj, mask);
		Py_DECREF(mask);
		if (!rest)
			return -1;
		extra = PyObject_IsTrue(rest);
		Py_DECREF(rest);
		if (extra < 0)
			return -1;
		if (!extra) {
			ev = PyLong_AsLong(events_obj);
			if (ev == -1 && PyErr_Occurred())
				return -1;
			*events = (int)ev;
			return 0;
		}
	}
	PyErr_Format(PyExc_ValueError, "Invalid events: %R", events_obj);
	return -1;
}

/* The registered key of fd, borrowed, or NULL with KeyError set. */
static PyObject *
key_of(SelectorObject *self, PyObject *fileobj, int fd)
{
	PyObject *fdobj = PyLong_FromLong(fd), *key;

	if (!fdobj)
		return NULL;
	key = PyDict_GetItemWithError(self->fd_to_key, fdobj);
	Py_DECREF(fdobj);
	if (!key && !PyErr_Occurred())
		PyErr_Format(PyExc_KeyError, "%R is not registered", fileobj);
	return key;
}

/* ---- construction and teardown --------------------------------------- */

static void release_waiter_ts(SelectorObject *self);

/* Releases the poller.  The GIL is dropped meanwhile, because the waiter
 * thread may be waiting for it inside the ready callback. */
static void
release_poller(SelectorObject *self)
{
	gp_poller *p = self->poller;

	if (!p || self->in_select)
		return;
	self->poller = NULL;
	Py_BEGIN_ALLOW_THREADS
	gp_poller_free(p);
	Py_END_ALLOW_THREADS
	release_waiter_ts(self);
}

static PyObject *
Selector_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"backend", NULL};
	const char *backend = NULL;
	modstate *st = NULL;
	SelectorObject *self;
	gp_options opts;
	int rc;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|$z:Selector", kwlist,
	                                 &backend))
		return NULL;
	/* This type or a Python subclass of it: find our module's state. */
	for (PyTypeObject *t = type; t && !st; t = t->tp_base) {
		PyObject *mod;
		if (!(t->tp_flags & Py_TPFLAGS_HEAPTYPE))
			continue;
		mod = ((PyHeapTypeObject *)t)->ht_module;
		if (mod && PyModule_GetDef(mod) == &module_def)
			st = PyModule_GetState(mod);
	}
	if (!st) {
		PyErr_SetString(PyExc_TypeError,
		                "not a guestpoll Selector type");
		return NULL;
	}
	gp_options_init(&opts);
	opts.max_events = SELECT_MAX_EVENTS;
	if (backend) {
		opts.backend = -1;
		for (int id = 0; gp_backend_name(id); id++)
			if (strcmp(backend, gp_backend_name(id)) == 0)
				opts.backend = id;
		if (opts.backend < 0) {
			PyErr_Format(PyExc_ValueError, "unknown backend: %s",
			             backend);
			return NULL;
		}
	}
	self = (SelectorObject *)type->tp_alloc(type, 0);
	if (!self)
		return NULL;
	self->fd_to_key = PyDict_New();
	self->key_type = Py_NewRef(st->SelectorKey);
	self->evbuf = PyMem_Malloc(EVBUF_LEN * sizeof *self->evbuf);
	if (!self->fd_to_key || !self->evbuf) {
		Py_DECREF(self);
		return PyErr_NoMemory();
	}
	rc = gp_poller_new(&self->poller, &opts);
	if (rc < 0) {
		Py_DECREF(self);
		if (rc == GP_ENOTSUP || rc == GP_EINVAL)
			return PyErr_Format(PyExc_ValueError, "backend %s: %s",
			                    backend ? backend
			                            : "(GUESTPOLL_BACKEND)",
			                    gp_strerror(rc));
		return raise_gp(rc);
	}
	return (PyObject *)self;
}

static int
Selector_traverse(SelectorObject *self, visitproc visit, void *arg)
{
	Py_VISIT(Py_TYPE(self));
	Py_VISIT(self->fd_to_key);
	for (size_t i = 0; i < self->keyvec_len; i++) {
		Py_VISIT(self->keyvec[i].key);
		for (int j = 0; j < 3; j++)
			Py_VISIT(self->keyvec[i].pair[j]);
	}
	Py_VISIT(self->key_type);
	Py_VISIT(self->ready_callable);
#if GPY_MANAGED_DICT
	PyObject_VisitManagedDict((PyObject *)self, visit, arg);
#else
	Py_VISIT(self->dict);
#endif
	return 0;
}

static void
keyslot_clear(struct keyslot *slot)
{
	Py_CLEAR(slot->key);
	for (int j = 0; j < 3; j++)
		Py_CLEAR(slot->pair[j]);
}

static int
Selector_clear(SelectorObject *self)
{
	for (size_t i = 0; i < self->keyvec_len; i++)
		keyslot_clear(&self->keyvec[i]);
	Py_CLEAR(self->fd_to_key);
	Py_CLEAR(self->key_type);
	Py_CLEAR(self->ready_callable);
#if GPY_MANAGED_DICT
	PyObject_ClearManagedDict((PyObject *)self);
#else
	Py_CLEAR(self->dict);
#endif
	return 0;
}

static void
Selector_dealloc(SelectorObject *self)
{
	PyTypeObject *tp = Py_TYPE(self);

	PyObject_GC_UnTrack(self);
	if (self->weakreflist)
		PyObject_ClearWeakRefs((PyObject *)self);
	self->closed = 1;
	release_poller(self);
	Selector_clear(self);
	PyMem_Free(self->evbuf);
	PyMem_Free(self->keyvec);
	tp->tp_free(self);
	Py_DECREF(tp);
}

/* ---- the selectors API ---------------------------------------------- */

/* The key table: the fd_to_key dict and keyvec always change together. */
static int
keys_set(SelectorObject *self, PyObject *fdobj, int fd, PyObject *key,
         int events)
{
	if ((size_t)fd >= self->keyvec_len) {
		size_t len = self->keyvec_len ? self->keyvec_len : 64;
		struct keyslot *v;
		while (len <= (size_t)fd)
			len *= 2;
		v = PyMem_Realloc(self->keyvec, len * sizeof *v);
		if (!v) {
			PyErr_NoMemory();
			return -1;
		}
		memset(v + self->keyvec_len, 0,
		       (len - self->keyvec_len) * sizeof *v);
		self->keyvec = v;
		self->keyvec_len = len;
	}
	if (PyDict_SetItem(self->fd_to_key, fdobj, key) < 0)
		return -1;
	keyslot_clear(&self->keyvec[fd]);
	self->keyvec[fd].stamp = 0;
	self->keyvec[fd].key = Py_NewRef(key);
	self->keyvec[fd].events = events;
	return 0;
}

static int
keys_del(SelectorObject *self, PyObject *fdobj, int fd)
{
	if ((size_t)fd < self->keyvec_len)
		keyslot_clear(&self->keyvec[fd]);
	return PyDict_DelItem(self->fd_to_key, fdobj);
}

static void
keys_clear(SelectorObject *self)
{
	for (size_t i = 0; i < self->keyvec_len; i++)
		keyslot_clear(&self->keyvec[i]);
	if (self->fd_to_key)
		PyDict_Clear(self->fd_to_key);
}

static PyObject *
Selector_register(SelectorObject *self, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"fileobj", "events", "data", NULL};
	PyObject *fileobj, *events_obj, *data = Py_None, *key, *fdobj;
	int fd, events, rc;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|O:register", kwlist,
	                                 &fileobj, &events_obj, &data))
		return NULL;
	/* As in selectors: the events are checked before the file object. */
	if (check_events(events_obj, &events) < 0 ||
	    fileobj_lookup(self, fileobj, &fd, 0) < 0)
		return NULL;
	if (!(fdobj = PyLong_FromLong(fd)))
		return NULL;
	/* SelectorKey() runs Python code, so another thread may run meanwhile
	 * (register the fd, close the selector): make the key first, then
	 * check, then add without running Python code in between. */
	key = PyObject_CallFunction(self->key_type, "OiiO", fileobj, fd, events,
	                            data);
	if (!key) {
		Py_DECREF(fdobj);
		return NULL;
	}
	if (self->closed || !self->poller) {
		Py_DECREF(fdobj);
		Py_DECREF(key);
		return raise_closed();
	}
	rc = PyDict_Contains(self->fd_to_key, fdobj);
	if (rc != 0) {
		if (rc > 0)
			PyErr_Format(PyExc_KeyError,
			             "%R (FD %d) is already registered",
			             fileobj, fd);
		Py_DECREF(fdobj);
		Py_DECREF(key);
		return NULL;
	}
	/* The kernel vets the descriptor before the table grows for it. */
	rc = gp_add(self->poller, fd, (unsigned)events, NULL);
	if (rc < 0) {
		Py_DECREF(fdobj);
		Py_DECREF(key);
		return raise_gp(rc);
	}
	if (keys_set(self, fdobj, fd, key, events) < 0) {
		gp_remove(self->poller, fd);
		Py_DECREF(fdobj);
		Py_DECREF(key);
		return NULL;
	}
	Py_DECREF(fdobj);
	return key;
}

static PyObject *
Selector_unregister(SelectorObject *self, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"fileobj", NULL};
	PyObject *fileobj, *key, *fdobj;
	int fd;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:unregister", kwlist,
	                                 &fileobj))
		return NULL;
	/* An invalid file object is a ValueError, as in selectors. */
	if (fileobj_lookup(self, fileobj, &fd, 1) < 0)
		return NULL;
	if (!(fdobj = PyLong_FromLong(fd)))
		return NULL;
	key = PyDict_GetItemWithError(self->fd_to_key, fdobj);
	if (!key) {
		if (!PyErr_Occurred())
			PyErr_Format(PyExc_KeyError, "%R is not registered",
			             fileobj);
		Py_DECREF(fdobj);
		return NULL;
	}
	Py_INCREF(key);
	if (keys_del(self, fdobj, fd) < 0) {
		Py_DECREF(key);
		Py_DECREF(fdobj);
		return NULL;
	}
	Py_DECREF(fdobj);
	/* Like the stdlib: a descriptor closed before unregister() is fine. */
	if (self->poller)
		gp_remove(self->poller, fd);
	return key;
}

static PyObject *
Selector_modify(SelectorObject *self, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"fileobj", "events", "data", NULL};
	PyObject *fileobj, *events_obj, *data = Py_None, *key, *newkey, *cur;
	PyObject *fdobj;
	int fd, events, rc, same_events;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|O:modify", kwlist,
	                                 &fileobj, &events_obj, &data))
		return NULL;
	/* An invalid file object is a ValueError, as in selectors. */
	if (fileobj_lookup(self, fileobj, &fd, 1) < 0)
		return NULL;
	if (!key_of(self, fileobj, fd))
		return NULL;
	if (check_events(events_obj, &events) < 0)
		return NULL;
	/* fileno(), the events' and the data's methods and SelectorKey() run
	 * Python code, during which another thread (or that code) may change
	 * the registration: hold the key, and check it is still the one
	 * registered before changing anything. */
	if (!(key = key_of(self, fileobj, fd)))
		return NULL;
	Py_INCREF(key);
	same_events = PyLong_AsLong(PyTuple_GET_ITEM(key, 2)) == (long)events;
	if (same_events) {
		int ne = PyObject_RichCompareBool(
		        data, PyTuple_GET_ITEM(key, 3), Py_NE);
		if (ne < 0)
			goto fail;
		if (!ne)
			return key; /* nothing changes */
	}
	newkey = PyObject_CallFunction(self->key_type, "OiiO",
	                               PyTuple_GET_ITEM(key, 0), fd, events,
	                               data);
	if (!newkey)
		goto fail;
	if (!(cur = key_of(self, fileobj, fd)))
		goto fail_newkey;
	if (cur != key) {
		PyErr_Format(PyExc_RuntimeError,
		             "%R was registered anew during modify()", fileobj);
		goto fail_newkey;
	}
	if (self->closed || !self->poller) {
		raise_closed();
		goto fail_newkey;
	}
	if (!(fdobj = PyLong_FromLong(fd)))
		goto fail_newkey;
	if (!same_events) {
		rc = gp_modify(self->poller, fd, (unsigned)events, NULL);
		if (rc < 0) {
			/* selectors unregisters a key the kernel refused. */
			if (keys_del(self, fdobj, fd) < 0)
				PyErr_Clear();
			gp_remove(self->poller, fd);
			Py_DECREF(fdobj);
			if (rc == GP_EBADF && fcntl(fd, F_GETFD) != -1) {
				/* The registered file was closed and its number
				 * reused: epoll (and so EpollSelector) says
				 * ENOENT, FileNotFoundError. */
				errno = ENOENT;
				PyErr_SetFromErrno(PyExc_OSError);
			} else {
				raise_gp(rc);
			}
			goto fail_newkey;
		}
	}
	if (keys_set(self, fdobj, fd, newkey, events) < 0) {
		Py_DECREF(fdobj);
		goto fail_newkey;
	}
	Py_DECREF(fdobj);
	Py_DECREF(key);
	return newkey;

fail_newkey:
	Py_DECREF(newkey);
fail:
	Py_DECREF(key);
	return NULL;
}

/* Appends a new (key, got) tuple for fd to list and caches it in the slot.
 * Allocating may run the garbage collector and with it finalizers that
 * change the key table, so the tuple is cached only if the slot still holds
 * the same key afterwards. */
static PyObject *
append_new_pair(SelectorObject *self, size_t fd, int got, PyObject *list)
{
	PyObject *key = Py_NewRef(self->keyvec[fd].key);
	PyObject *mask = PyLong_FromLong(got), *pair;
	int rc;

	pair = mask ? PyTuple_Pack(2, key, mask) : NULL;
	Py_XDECREF(mask);
	if (!pair) {
		Py_DECREF(key);
		return NULL;
	}
	rc = PyList_Append(list, pair);
	if (fd < self->keyvec_len && self->keyvec[fd].key == key &&
	    !self->keyvec[fd].pair[got - 1])
		self->keyvec[fd].pair[got - 1] = pair; /* takes the reference */
	else
		Py_DECREF(pair);
	Py_DECREF(key);
	return rc < 0 ? NULL : list;
}

/* Turns collected events into [(key, events)], skipping descriptors this
 * select() already reported (*dup is then set).  Returns the number of
 * records other than a notification, or -1 with an exception set. */
static int
events_to_list(SelectorObject *self, const gp_event *evs, int n, PyObject *list,
               int *dup)
{
	int nrec = 0;

	for (int i = 0; i < n; i++) {
		size_t fd = (size_t)evs[i].fd;
		struct keyslot *slot;
		PyObject *pair;
		int got;

		if (evs[i].events & GP_NOTIFIED)
			continue;
		nrec++;
		if (fd >= self->keyvec_len || !(slot = &self->keyvec[fd])->key)
			continue; /* unregistered meanwhile */
		if (slot->stamp == self->stamp) {
			*dup = 1; /* a second kernel wait came round again */
			continue;
		}
		slot->stamp = self->stamp;
		got = (int)(evs[i].events & (GP_READ | GP_WRITE)) &
		      slot->events;
		if (!got)
			continue;
		if ((pair = slot->pair[got - 1])) {
			if (PyList_Append(list, pair) < 0)
				return -1;
		} else if (!append_new_pair(self, fd, got, list))
			return -1;
	}
	return nrec;
}

/* A kernel wait gathers at most SELECT_MAX_EVENTS records.  When one was
 * full (nrec records), more may be ready: poll again, without blocking and
 * with the same buffer, until a wait brings fewer or only descriptors
 * already reported.  epoll moves what it reported to the back of its ready
 * list and the poll backend resumes its scan after the last one reported,
 * so every ready registration comes round once before any repeats. */
static int
select_rest(SelectorObject *self, PyObject *list, int nrec)
{
	int dup = 0;

	while (nrec >= SELECT_MAX_EVENTS && !dup) {
		int n;
		if (self->closed || !self->poller)
			return 0; /* closed by Python code run meanwhile */
		n = gp_wait(self->poller, self->evbuf, EVBUF_LEN, 0);
		if (n == GP_EINTR)
			return 0; /* the rest comes with the next select() */
		if (n < 0) {
			raise_gp(n);
			return -1;
		}
		if ((nrec = events_to_list(self, self->evbuf, n, list, &dup)) <
		    0)
			return -1;
	}
	return 0;
}

static int64_t
mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Collects the finished split wait into list, and then whatever else is
 * ready if that wait's buffer was full. */
static PyObject *
collect_ready(SelectorObject *self, PyObject *list)
{
	int n, nrec = 0, dup = 0, got;

	self->stamp++;
	do {
		n = gp_wait_collect(self->poller, self->evbuf, EVBUF_LEN);
		if (n < 0) {
			self->wstate = WAIT_IDLE;
			return raise_gp(n);
		}
		if ((got = events_to_list(self, self->evbuf, n, list, &dup)) <
		    0)
			return NULL;
		nrec += got;
	} while (n == EVBUF_LEN);
	self->wstate = WAIT_IDLE;
	if (!dup && select_rest(self, list, nrec) < 0)
		return NULL;
	return list;
}

/* The one conversion of a Python timeout (seconds) to nanoseconds, for
 * select() and _wait_start(), with selectors.EpollSelector's rules and
 * exception types, in its order.  EpollSelector.select() first computes
 * "timeout <= 0" and math.ceil(timeout * 1e3) in Python, then epoll.poll()
 * checks that the epoll is open and only then that the result fits in an
 * int of milliseconds.  So timeout_to_ns() raises what the Python part
 * raises: None waits forever (-1); anything "<= 0" (including -inf and
 * huge negative ints) polls (0); NaN raises ValueError, +inf (also after
 * the multiplication) OverflowError; an object that cannot be compared
 * with 0 raises what the comparison raises (TypeError).  A finite timeout
 * of INT_MAX milliseconds or more is stored as TIMEOUT_TOO_LARGE, which
 * timeout_check() turns into OverflowError after the caller's own "is it
 * closed" check.  Exact ints and floats take a fast path; anything else
 * goes through the same operations as EpollSelector.select(). */
#define TIMEOUT_TOO_LARGE INT64_MIN

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
		*ns = TIMEOUT_TOO_LARGE;
	else
		*ns = (int64_t)ceil(ms * 1e6);
	return 0;
}

static int
timeout_to_ns(PyObject *obj, int64_t *ns)
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
 * timeout_to_ns() found too large. */
static int
timeout_check(int64_t ns)
{
	if (ns == TIMEOUT_TOO_LARGE) {
		PyErr_SetString(PyExc_OverflowError, "timeout is too large");
		return -1;
	}
	return 0;
}

static PyObject *
Selector_select(SelectorObject *self, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"timeout", NULL};
	PyObject *timeout_obj = Py_None, *list;
	int64_t timeout_ns = -1, deadline = 0;
	int n;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:select", kwlist,
	                                 &timeout_obj))
		return NULL;
	if (timeout_to_ns(timeout_obj, &timeout_ns) < 0)
		return NULL;
	if (self->closed || !self->poller)
		return raise_closed();
	if (timeout_check(timeout_ns) < 0)
		return NULL;
	if (!(list = PyList_New(0)))
		return NULL;
	if (self->wstate == WAIT_READY) {
		if (!collect_ready(self, list))
			Py_CLEAR(list);
		return list;
	}
	if (self->wstate == WAIT_INFLIGHT) {
		/* Guest mode: a tick the host started while the wait is in
		 * flight has no I/O events yet; the wait brings them. */
		if (self->guest)
			return list;
		Py_DECREF(list);
		PyErr_SetString(PyExc_RuntimeError,
		                "select() while a guest wait is in flight");
		return NULL;
	}
	if (self->guest)
		timeout_ns = 0;
	if (timeout_ns > 0)
		deadline = mono_ns() + timeout_ns;

	for (;;) {
		gp_poller *p = self->poller;
		if (timeout_ns == 0) {
			/* Does not block: keep the GIL, skip the hand-over. */
			n = gp_wait(p, self->evbuf, EVBUF_LEN, 0);
		} else {
			self->in_select++;
			Py_BEGIN_ALLOW_THREADS
			n = gp_wait(p, self->evbuf, EVBUF_LEN, timeout_ns);
			Py_END_ALLOW_THREADS
			self->in_select--;
			if (self->closed) {
				/* close() from another thread meanwhile. */
				release_poller(self);
				return list;
			}
		}
		if (n != GP_EINTR)
			break;
		/* PEP 475: run the handlers; retry unless one raised. */
		if (PyErr_CheckSignals() < 0) {
			Py_DECREF(list);
			return NULL;
		}
		if (timeout_ns > 0) {
			timeout_ns = deadline - mono_ns();
			if (timeout_ns <= 0)
				timeout_ns = 0;
		}
	}
	if (n < 0) {
		Py_DECREF(list);
		return raise_gp(n);
	}
	{
		int dup = 0, nrec;
		self->stamp++;
		nrec = events_to_list(self, self->evbuf, n, list, &dup);
		if (nrec < 0 || select_rest(self, list, nrec) < 0)
			Py_CLEAR(list);
	}
	return list;
}

static PyObject *
Selector_close(SelectorObject *self, PyObject *unused)
{
	self->closed = 1;
	keys_clear(self);
	Py_CLEAR(self->ready_callable);
	self->wstate = WAIT_IDLE;
	if (self->in_select && self->poller)
		gp_notify(self->poller); /* select() releases it on return */
	release_poller(self);
	Py_RETURN_NONE;
}

static PyObject *
Selector_get_key(SelectorObject *self, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"fileobj", NULL};
	PyObject *fileobj, *key;
	int fd;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:get_key", kwlist,
	                                 &fileobj))
		return NULL;
	if (self->closed) {
		PyErr_SetString(PyExc_RuntimeError, "Selector is closed");
		return NULL;
	}
	/* An invalid file object is a ValueError, as in selectors. */
	if (fileobj_lookup(self, fileobj, &fd, 1) < 0)
		return NULL;
	key = key_of(self, fileobj, fd);
	return Py_XNewRef(key);
}

/* get_map()[fileobj], as selectors' mapping does it: the file object's
 * errors (a fileno() that raises RuntimeError, an invalid object) propagate;
 * a file object that is not registered, also once the selector is closed,
 * is a KeyError. */
static PyObject *
Selector_map_getitem(SelectorObject *self, PyObject *fileobj)
{
	PyObject *key;
	int fd;

	if (fileobj_lookup(self, fileobj, &fd, 1) < 0)
		return NULL;
	if (self->closed) {
		PyErr_Format(PyExc_KeyError, "%R is not registered", fileobj);
		return NULL;
	}
	key = key_of(self, fileobj, fd);
	return Py_XNewRef(key);
}

static PyObject *
Selector_fileno(SelectorObject *self, PyObject *unused)
{
	int fd;

	if (self->closed || !self->poller)
		return raise_closed();
	fd = gp_poller_fd(self->poller);
	if (fd == GP_ENOTSUP) {
		PyObject *io = PyImport_ImportModule("io"), *exc;
		if (!io)
			return NULL;
		exc = PyObject_GetAttrString(io, "UnsupportedOperation");
		Py_DECREF(io);
		if (!exc)
			return NULL;
		PyErr_Format(exc, "the %s backend has no file descriptor",
		             gp_poller_backend(self->poller));
		Py_DECREF(exc);
		return NULL;
	}
	if (fd < 0)
		return raise_gp(fd);
	return PyLong_FromLong(fd);
}

static PyObject *
Selector_enter(SelectorObject *self, PyObject *unused)
{
	return Py_NewRef(self);
}

static PyObject *
Selector_exit(SelectorObject *self, PyObject *args)
{
	return Selector_close(self, NULL);
}

/* ---- the guest-mode bridge ------------------------------------------- */

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

static PyObject *
at_exit(PyObject *module, PyObject *unused)
{
	atomic_store(&shutting_down, 1);
	while (atomic_load(&attaching) > 0) {
		Py_BEGIN_ALLOW_THREADS
		struct timespec ts = {0, 100000};
		nanosleep(&ts, NULL);
		Py_END_ALLOW_THREADS
	}
	Py_RETURN_NONE;
}

static int
interpreter_finalizing(void)
{
#if PY_VERSION_HEX >= 0x030D0000
	return Py_IsFinalizing();
#else
	return _Py_IsFinalizing();
#endif
}

/* Runs on libguestpoll's waiter thread when a split wait finished: takes
 * the GIL with the thread's own thread state (made once) and calls the
 * ready callable. */
static void
on_ready(void *arg)
{
	SelectorObject *self = arg;
	PyObject *fn, *res;

	atomic_fetch_add(&attaching, 1);
	if (atomic_load(&shutting_down) || interpreter_finalizing()) {
		atomic_fetch_sub(&attaching, 1);
		return;
	}
	if (!self->waiter_ts) {
		/* Only this thread writes it; the owner reads it once the
		 * thread is joined. */
		self->waiter_ts = PyThreadState_New(self->interp);
		if (!self->waiter_ts) {
			atomic_fetch_sub(&attaching, 1);
			return;
		}
	}
	PyEval_RestoreThread(self->waiter_ts);
	if (!self->closed && self->wstate == WAIT_INFLIGHT) {
		self->wstate = WAIT_READY;
		fn = self->ready_callable;
		self->ready_callable = NULL;
		if (fn) {
			res = PyObject_CallNoArgs(fn);
			if (!res)
				PyErr_WriteUnraisable(fn);
			Py_XDECREF(res);
			Py_DECREF(fn);
		}
	}
	PyEval_SaveThread();
	atomic_fetch_sub(&attaching, 1);
}

/* After the poller is freed (its waiter thread joined): the thread's
 * Python thread state goes too.  GIL held. */
static void
release_waiter_ts(SelectorObject *self)
{
	PyThreadState *ts = self->waiter_ts;

	if (!ts || ts == PyThreadState_Get())
		return; /* never made, or (freed from inside a callback) ours */
	self->waiter_ts = NULL;
	/* Once finalization has begun, the interpreter has deleted every
	 * thread state but the finalizing thread's, ours included. */
	if (interpreter_finalizing())
		return;
	PyThreadState_Clear(ts);
	PyThreadState_Delete(ts);
}

static PyObject *
Selector_wait_start(SelectorObject *self, PyObject *args)
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
	if (timeout_to_ns(timeout_obj, &timeout_ns) < 0)
		return NULL;
	if (self->closed || !self->poller)
		return raise_closed();
	if (timeout_check(timeout_ns) < 0)
		return NULL;
	if (self->wstate != WAIT_IDLE) {
		PyErr_SetString(PyExc_RuntimeError,
		                "a guest wait is already in flight or ready");
		return NULL;
	}
	self->ready_callable = Py_NewRef(fn);
	self->interp = PyThreadState_GetInterpreter(PyThreadState_Get());
	self->wstate = WAIT_INFLIGHT;
	rc = gp_wait_start(self->poller, timeout_ns, on_ready, self);
	if (rc < 0) {
		self->wstate = WAIT_IDLE;
		Py_CLEAR(self->ready_callable);
		return raise_gp(rc);
	}
	Py_RETURN_NONE;
}

/* Guest mode: asks the kernel, without blocking, whether something is
 * ready now; if so the next select() returns it (checked by libguestpoll
 * when collected) and the caller need not hand a wait to the waiter. */
static PyObject *
Selector_poll_ready(SelectorObject *self, PyObject *unused)
{
	int n;

	if (self->closed || !self->poller)
		return raise_closed();
	if (self->wstate != WAIT_IDLE)
		Py_RETURN_TRUE; /* a wait's events are already there or coming
		                 */
	n = gp_wait_poll(self->poller);
	if (n == GP_EINTR)
		n = 0; /* nothing to report now; the wait will look again */
	if (n < 0)
		return raise_gp(n);
	if (n > 0)
		self->wstate = WAIT_READY;
	return PyBool_FromLong(n > 0);
}

/* Ends the split wait in flight without calling its callback, and returns
 * once the waiter is done with it (the next select() collects its events).
 * For a run whose host went away. */
static PyObject *
Selector_wait_cancel(SelectorObject *self, PyObject *unused)
{
	if (self->wstate != WAIT_INFLIGHT || !self->poller)
		Py_RETURN_NONE;
	Py_CLEAR(self->ready_callable);
	gp_notify(self->poller);
	for (int i = 0; self->wstate == WAIT_INFLIGHT; i++) {
		/* on_ready needs the GIL to mark the wait ready. */
		if (i == 50000) { /* 10 s: the waiter must be stuck */
			PyErr_SetString(PyExc_RuntimeError,
			                "the guest wait did not end");
			return NULL;
		}
		Py_BEGIN_ALLOW_THREADS
		struct timespec ts = {0, 200000};
		nanosleep(&ts, NULL);
		Py_END_ALLOW_THREADS
	}
	Py_RETURN_NONE;
}

static PyObject *
Selector_notify(SelectorObject *self, PyObject *unused)
{
	if (self->poller)
		gp_notify(self->poller);
	Py_RETURN_NONE;
}

static PyObject *
Selector_get_wait_state(SelectorObject *self, void *closure)
{
	static const char *const names[] = {"idle", "inflight", "ready"};
	return PyUnicode_FromString(names[self->wstate]);
}

static PyObject *
Selector_get_backend(SelectorObject *self, void *closure)
{
	if (!self->poller)
		Py_RETURN_NONE;
	return PyUnicode_FromString(gp_poller_backend(self->poller));
}

static PyObject *
Selector_get_closed(SelectorObject *self, void *closure)
{
	return PyBool_FromLong(self->closed);
}

/* ---- type and module -------------------------------------------------- */

static PyMethodDef Selector_methods[] = {
        {"register", (PyCFunction)(void (*)(void))Selector_register,
         METH_VARARGS | METH_KEYWORDS,
         "register(fileobj, events, data=None) -> SelectorKey\n\n"
         "Start watching fileobj (an int or an object with fileno()) for "
         "events\n(EVENT_READ | EVENT_WRITE)."},
        {"unregister", (PyCFunction)(void (*)(void))Selector_unregister,
         METH_VARARGS | METH_KEYWORDS,
         "unregister(fileobj) -> SelectorKey\n\nStop watching fileobj."},
        {"modify", (PyCFunction)(void (*)(void))Selector_modify,
         METH_VARARGS | METH_KEYWORDS,
         "modify(fileobj, events, data=None) -> SelectorKey\n\n"
         "Change the events or data of a registered file object."},
        {"select", (PyCFunction)(void (*)(void))Selector_select,
         METH_VARARGS | METH_KEYWORDS,
         "select(timeout=None) -> list of (SelectorKey, events)\n\n"
         "Wait until some registered file objects are ready or the "
         "timeout\n(seconds; None waits forever, <= 0 polls) expires."},
        {"close", (PyCFunction)Selector_close, METH_NOARGS,
         "close()\n\nRelease the poller; the selector is unusable "
         "afterwards."},
        {"get_key", (PyCFunction)(void (*)(void))Selector_get_key,
         METH_VARARGS | METH_KEYWORDS, "get_key(fileobj) -> SelectorKey"},
        {"_map_getitem", (PyCFunction)Selector_map_getitem, METH_O,
         "_map_getitem(fileobj) -> SelectorKey\n\nget_map()[fileobj]: "
         "KeyError if not registered (or closed); the\nfile object's own "
         "errors propagate."},
        {"fileno", (PyCFunction)Selector_fileno, METH_NOARGS,
         "fileno() -> int\n\nThe backend's own descriptor (epoll, kqueue)."},
        {"__enter__", (PyCFunction)Selector_enter, METH_NOARGS, NULL},
        {"__exit__", (PyCFunction)Selector_exit, METH_VARARGS, NULL},
        {"_wait_start", (PyCFunction)Selector_wait_start, METH_VARARGS,
         "_wait_start(timeout, callback)\n\nGuest mode: hand the kernel "
         "wait to the waiter thread, which\ncalls callback() (holding the "
         "GIL, on that thread) when it ends.\nThe next select() returns "
         "that wait's events without blocking."},
        {"_poll_ready", (PyCFunction)Selector_poll_ready, METH_NOARGS,
         "_poll_ready() -> bool\n\nGuest mode: True if something is ready "
         "now (the next select()\nreturns it without blocking)."},
        {"_wait_cancel", (PyCFunction)Selector_wait_cancel, METH_NOARGS,
         "_wait_cancel()\n\nEnd the guest wait in flight without its "
         "callback; the next\nselect() returns its events."},
        {"_notify", (PyCFunction)Selector_notify, METH_NOARGS,
         "_notify()\n\nEnd the current or next wait early.  Thread-safe."},
        {NULL, NULL, 0, NULL}};

static PyMemberDef Selector_members[] = {
        {"_fd_to_key", T_OBJECT, offsetof(SelectorObject, fd_to_key), READONLY,
         "dict: fd -> SelectorKey (read-only view of the state)"},
        {"_guest", T_INT, offsetof(SelectorObject, guest), 0,
         "guest mode: select() never blocks"},
        {"_wstate", T_INT, offsetof(SelectorObject, wstate), READONLY,
         "the split wait: 0 idle, 1 in flight, 2 ready"},
        {"__weaklistoffset__", T_PYSSIZET,
         offsetof(SelectorObject, weakreflist), READONLY, NULL},
#if !GPY_MANAGED_DICT
        {"__dictoffset__", T_PYSSIZET, offsetof(SelectorObject, dict), READONLY,
         NULL},
#endif
        {NULL, 0, 0, 0, NULL}};

static PyGetSetDef Selector_getset[] = {
        {"backend", (getter)Selector_get_backend, NULL,
         "name of the libguestpoll backend (None once closed)", NULL},
        {"closed", (getter)Selector_get_closed, NULL, "True once closed", NULL},
        {"_wait_state", (getter)Selector_get_wait_state, NULL,
         "'idle', 'inflight' or 'ready'", NULL},
        {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL,
         NULL},
        {NULL, NULL, NULL, NULL, NULL}};

static PyType_Slot Selector_slots[] = {
        {Py_tp_doc, "Selector(*, backend=None)\n\n"
                    "A selectors.BaseSelector over libguestpoll (epoll, "
                    "kqueue or poll).\nbackend names one; by default the "
                    "GUESTPOLL_BACKEND environment\nvariable or the best "
                    "the platform has."},
        {Py_tp_new, Selector_new},
        {Py_tp_dealloc, Selector_dealloc},
        {Py_tp_traverse, Selector_traverse},
        {Py_tp_clear, Selector_clear},
        {Py_tp_methods, Selector_methods},
        {Py_tp_members, Selector_members},
        {Py_tp_getset, Selector_getset},
        {0, NULL}};

static PyType_Spec Selector_spec = {
        .name = "guestpoll._guestpoll.Selector",
        .basicsize = sizeof(SelectorObject),
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC
#if GPY_MANAGED_DICT
                 | Py_TPFLAGS_MANAGED_DICT
#endif
        ,
        .slots = Selector_slots,
};

/* ---- module functions ---------------------------------------------- */

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

static PyObject *
call_on_main(PyObject *module, PyObject *fn)
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

static PyMethodDef module_methods[] = {
        {"_at_exit", at_exit, METH_NOARGS,
         "_at_exit()\n\nRegistered with atexit: waiter threads attach no "
         "more."},
        {"_call_on_main", call_on_main, METH_O,
         "_call_on_main(fn)\n\nHave the main thread call fn() soon (at "
         "its next bytecode\nboundary), whatever it is running."},
        {NULL, NULL, 0, NULL}};

static int
module_exec(PyObject *m)
{
	modstate *st = PyModule_GetState(m);
	PyObject *selectors, *type;

	selectors = PyImport_ImportModule("selectors");
	if (!selectors)
		return -1;
	st->SelectorKey = PyObject_GetAttrString(selectors, "SelectorKey");
	Py_DECREF(selectors);
	if (!st->SelectorKey)
		return -1;
	type = PyType_FromModuleAndSpec(m, &Selector_spec, NULL);
	if (!type)
		return -1;
	if (PyModule_AddObject(m, "Selector", type) < 0) {
		Py_DECREF(type);
		return -1;
	}
	if (PyModule_AddStringConstant(m, "libguestpoll_version",
	                               gp_version()) < 0)
		return -1;
	{
		PyObject *atexit = PyImport_ImportModule("atexit"), *fn, *r;
		if (!atexit)
			return -1;
		fn = PyObject_GetAttrString(m, "_at_exit");
		r = fn ? PyObject_CallMethod(atexit, "register", "O", fn)
		       : NULL;
		Py_XDECREF(fn);
		Py_DECREF(atexit);
		if (!r)
			return -1;
		Py_DECREF(r);
	}
	return 0;
}

static int
module_traverse(PyObject *m, visitproc visit, void *arg)
{
	modstate *st = PyModule_GetState(m);
	Py_VISIT(st->SelectorKey);
	return 0;
}

static int
module_clear(PyObject *m)
{
	modstate *st = PyModule_GetState(m);
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

static struct PyModuleDef module_def = {
        PyModuleDef_HEAD_INIT,
        .m_name = "guestpoll._guestpoll",
        .m_doc = "C core of guestpoll: a selectors.BaseSelector over "
                 "libguestpoll.",
        .m_size = sizeof(modstate),
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
	return PyModuleDef_Init(&module_def);
}
