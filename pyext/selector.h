/* selector.h - guestpoll._guestpoll.Selector: the object, and what the
 * bridge (bridge.c) uses of it.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef GPY_SELECTOR_H
#define GPY_SELECTOR_H

#include "module.h"

#include "bridge.h"

/* Events gathered per kernel wait.  When a wait fills it, select() polls
 * again (timeout 0) with the same buffer until a wait brings less or only
 * repeats, so one select() reports every ready registration. */
#define SELECT_MAX_EVENTS 1024
/* The event array has room for those plus a gp_notify() record. */
#define EVBUF_LEN (SELECT_MAX_EVENTS + 1)

/* Instances have a __dict__, as EpollSelector's do, so that an instance
 * attribute (sel.register = Mock()) shadows a method: CPython manages it
 * from 3.13 on (public API to visit and clear it), before that the type
 * names its offset. */
#if PY_VERSION_HEX >= 0x030D0000
#define GPY_MANAGED_DICT 1
#else
#define GPY_MANAGED_DICT 0
#endif

typedef struct SelectorObject {
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
	int in_select;            /* threads inside select() with the GIL off */
	struct gpy_bridge bridge; /* the split wait (bridge.c) */
	PyObject *weakreflist;
#if !GPY_MANAGED_DICT
	PyObject *dict; /* instance attributes (mock.patch.object) */
#endif
} SelectorObject;

extern PyType_Spec gpy_selector_spec;

/* For the bridge.  A wait's timeout argument to nanoseconds (-1 forever,
 * 0 poll) in EpollSelector.select()'s order: the conversion's errors, then
 * a closed selector (ValueError), then a timeout too large
 * (OverflowError). */
int gpy_selector_wait_timeout(SelectorObject *self, PyObject *obj, int64_t *ns);
/* Starts a select() call's report (a new stamp). */
void gpy_selector_begin_report(SelectorObject *self);
/* Appends the events of evs[0..n) as (key, events) pairs to list; returns
 * the number of records other than a notification, or -1. */
int gpy_selector_report(SelectorObject *self, const gp_event *evs, int n,
                        PyObject *list, int *dup);
/* Frees the poller unless a select() still uses it (it frees it then). */
void gpy_selector_release_poller(SelectorObject *self);
/* After a full kernel wait of nrec records: polls for the rest. */
int gpy_selector_report_rest(SelectorObject *self, PyObject *list, int nrec);

#endif /* GPY_SELECTOR_H */
