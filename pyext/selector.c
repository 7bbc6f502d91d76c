/* selector.c - guestpoll._guestpoll.Selector: a selectors.BaseSelector
 * implemented in C over a gp_poller, with selectors.EpollSelector's
 * behaviour and errors.  The split wait of guest mode is bridge.c's: this
 * file only asks it, in select(), whether a wait already has the answer.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include "selector.h"

#include <structmember.h>

#include <errno.h>
#include <limits.h>
#include <string.h>
#ifndef _WIN32
#include <fcntl.h>
#endif

#include "../src/platform.h"

#define EVENT_READ  1 /* selectors.EVENT_READ */
#define EVENT_WRITE 2

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

/* Releases the poller.  The GIL is dropped meanwhile, because the waiter
 * thread may be waiting for it inside the ready callback. */
void
gpy_selector_release_poller(SelectorObject *self)
{
	gp_poller *p = self->poller;
	int rc;

	if (!p || self->in_select)
		return;
	self->poller = NULL;
	Py_BEGIN_ALLOW_THREADS
	rc = gp_poller_free(p);
	Py_END_ALLOW_THREADS
	if (rc == GP_EBUSY)
		gpy_bridge_free_later(self, p); /* on its own waiter thread */
}

static PyObject *
Selector_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"backend", NULL};
	const char *backend = NULL;
	gpy_modstate *st = NULL;
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
		if (mod && PyModule_GetDef(mod) == &gpy_module_def)
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
		return gpy_raise_gp(rc);
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
	if (gpy_bridge_traverse(self, visit, arg) < 0)
		return -1;
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
	gpy_bridge_clear(self);
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
	gpy_selector_release_poller(self);
	Selector_clear(self);
	PyMem_Free(self->evbuf);
	PyMem_Free(self->keyvec);
	tp->tp_free(self);
	Py_DECREF(tp);
}

/* ---- the selectors API ---------------------------------------------- */

/* The key table: the fd_to_key dict and keyvec always change together. */
/* 1 if fd names an open file.  Only POSIX reuses a closed descriptor's
 * number for the next open file the way epoll's ENOENT reports it; a
 * Windows socket handle is not a descriptor, so there the answer is 0. */
static int
fd_is_open(int fd)
{
#ifdef _WIN32
	(void)fd;
	return 0;
#else
	return fcntl(fd, F_GETFD) != -1;
#endif
}

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
		return gpy_raise_closed();
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
		return gpy_raise_gp(rc);
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
		gpy_raise_closed();
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
			if (rc == GP_EBADF && fd_is_open(fd)) {
				/* The registered file was closed and its number
				 * reused: epoll (and so EpollSelector) says
				 * ENOENT, FileNotFoundError. */
				errno = ENOENT;
				PyErr_SetFromErrno(PyExc_OSError);
			} else {
				gpy_raise_gp(rc);
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
int
gpy_selector_report(SelectorObject *self, const gp_event *evs, int n,
                    PyObject *list, int *dup)
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
int
gpy_selector_report_rest(SelectorObject *self, PyObject *list, int nrec)
{
	int dup = 0;

	while (nrec >= SELECT_MAX_EVENTS && !dup) {
		int n;
		if (self->closed || !self->poller)
			return 0; /* closed by Python code run meanwhile */
		n = gp_wait(self->poller, self->evbuf, EVBUF_LEN, 0);
		if (n == GP_EINTR || n == GP_EBUSY)
			return 0; /* the rest comes with the next select() */
		if (n < 0) {
			gpy_raise_gp(n);
			return -1;
		}
		if ((nrec = gpy_selector_report(self, self->evbuf, n, list,
		                                &dup)) < 0)
			return -1;
	}
	return 0;
}

int
gpy_selector_wait_timeout(SelectorObject *self, PyObject *obj, int64_t *ns)
{
	if (gpy_timeout_to_ns(obj, ns) < 0)
		return -1;
	if (self->closed || !self->poller) {
		gpy_raise_closed();
		return -1;
	}
	return gpy_timeout_check(*ns);
}

void
gpy_selector_begin_report(SelectorObject *self)
{
	self->stamp++;
}

static int64_t
mono_ns(void)
{
	return gp__now_ns();
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
	if (gpy_selector_wait_timeout(self, timeout_obj, &timeout_ns) < 0)
		return NULL;
	if (!(list = PyList_New(0)))
		return NULL;
	/* A split wait (bridge.c) may have the answer, or forbid waiting. */
	if ((n = gpy_bridge_select(self, list, &timeout_ns)) != 0) {
		if (n < 0)
			Py_CLEAR(list);
		return list;
	}
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
				gpy_selector_release_poller(self);
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
		return gpy_raise_gp(n);
	}
	{
		int dup = 0, nrec;
		gpy_selector_begin_report(self);
		nrec = gpy_selector_report(self, self->evbuf, n, list, &dup);
		if (nrec < 0 || gpy_selector_report_rest(self, list, nrec) < 0)
			Py_CLEAR(list);
	}
	return list;
}

static PyObject *
Selector_close(SelectorObject *self, PyObject *unused)
{
	self->closed = 1;
	keys_clear(self);
	gpy_bridge_close(self);
	if (self->in_select && self->poller)
		gp_notify(self->poller); /* select() releases it on return */
	gpy_selector_release_poller(self);
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
		return gpy_raise_closed();
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
		return gpy_raise_gp(fd);
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

/* ---- the type --------------------------------------------------------- */

static PyMethodDef Selector_methods[] = {
        {"register", (PyCFunction)(void (*)(void))Selector_register,
         METH_VARARGS | METH_KEYWORDS,
         "register($self, /, fileobj, events, data=None)\n--\n\n"
         "Start watching *fileobj* (an int or an object with a ``fileno()``\n"
         "method) for *events*, ``EVENT_READ``, ``EVENT_WRITE`` or both.\n"
         "Returns the new :class:`selectors.SelectorKey`, which holds *data*.\n"
         "Raises :exc:`KeyError` if *fileobj* is registered already and\n"
         ":exc:`ValueError` for an invalid descriptor or *events*."},
        {"unregister", (PyCFunction)(void (*)(void))Selector_unregister,
         METH_VARARGS | METH_KEYWORDS,
         "unregister($self, /, fileobj)\n--\n\n"
         "Stop watching *fileobj*; returns its "
         ":class:`selectors.SelectorKey`.\n"
         "Raises :exc:`KeyError` if it is not registered."},
        {"modify", (PyCFunction)(void (*)(void))Selector_modify,
         METH_VARARGS | METH_KEYWORDS,
         "modify($self, /, fileobj, events, data=None)\n--\n\n"
         "Change the *events* or *data* of a registered *fileobj*; returns\n"
         "the new :class:`selectors.SelectorKey`.  Raises :exc:`KeyError` if\n"
         "it is not registered."},
        {"select", (PyCFunction)(void (*)(void))Selector_select,
         METH_VARARGS | METH_KEYWORDS,
         "select($self, /, timeout=None)\n--\n\n"
         "Wait until some registered file objects are ready or *timeout*\n"
         "expires (seconds; ``None`` waits forever, 0 or less polls).\n"
         "Returns a list of ``(key, events)`` pairs, one per ready\n"
         "registration, *events* being the ready subset of its interest."},
        {"close", (PyCFunction)Selector_close, METH_NOARGS,
         "close($self, /)\n--\n\n"
         "Release the poller; the selector is unusable afterwards."},
        {"get_key", (PyCFunction)(void (*)(void))Selector_get_key,
         METH_VARARGS | METH_KEYWORDS,
         "get_key($self, /, fileobj)\n--\n\n"
         "Return the :class:`selectors.SelectorKey` of a registered\n"
         "*fileobj*; :exc:`KeyError` if it is not registered."},
        {"_map_getitem", (PyCFunction)Selector_map_getitem, METH_O,
         "_map_getitem(fileobj) -> SelectorKey\n\nget_map()[fileobj]: "
         "KeyError if not registered (or closed); the\nfile object's own "
         "errors propagate."},
        {"fileno", (PyCFunction)Selector_fileno, METH_NOARGS,
         "fileno($self, /)\n--\n\n"
         "The backend's own descriptor (epoll, kqueue).  Where the backend\n"
         "has none (poll, iocp), guestpoll.Selector has no fileno attribute,\n"
         "as PollSelector; called anyway, this raises\n"
         ":exc:`io.UnsupportedOperation`."},
        {"__enter__", (PyCFunction)Selector_enter, METH_NOARGS, NULL},
        {"__exit__", (PyCFunction)Selector_exit, METH_VARARGS, NULL},
        GPY_BRIDGE_METHODS{NULL, NULL, 0, NULL}};

static PyMemberDef Selector_members[] = {
        {"_fd_to_key", T_OBJECT, offsetof(SelectorObject, fd_to_key), READONLY,
         "dict: fd -> SelectorKey (read-only view of the state)"},
        GPY_BRIDGE_MEMBERS{"__weaklistoffset__", T_PYSSIZET,
                           offsetof(SelectorObject, weakreflist), READONLY,
                           NULL},
#if !GPY_MANAGED_DICT
        {"__dictoffset__", T_PYSSIZET, offsetof(SelectorObject, dict), READONLY,
         NULL},
#endif
        {NULL, 0, 0, 0, NULL}};

static PyGetSetDef Selector_getset[] = {
        {"backend", (getter)Selector_get_backend, NULL,
         "The name of the libguestpoll backend in use; None once closed.",
         NULL},
        {"closed", (getter)Selector_get_closed, NULL,
         "True once the selector is closed.", NULL},
        GPY_BRIDGE_GETSET{"__dict__", PyObject_GenericGetDict,
                          PyObject_GenericSetDict, NULL, NULL},
        {NULL, NULL, NULL, NULL, NULL}};

static PyType_Slot Selector_slots[] = {
        {Py_tp_doc, "Selector(*, backend=None)\n--\n\n"
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

PyType_Spec gpy_selector_spec = {
        .name = "guestpoll._guestpoll.Selector",
        .basicsize = sizeof(SelectorObject),
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC
#if GPY_MANAGED_DICT
                 | Py_TPFLAGS_MANAGED_DICT
#endif
        ,
        .slots = Selector_slots,
};
