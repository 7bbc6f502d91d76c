"""The split-wait bridge of guestpoll.Selector over libguestpoll's
gp_wait_cancel()/gp_wait_state() (issue 13: the extension keeps no copy of
the split-wait state; item 12: a selector freed inside its own ready
callback)."""

from __future__ import annotations

import gc
import os
import threading

import pytest


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_wait_cancel_ends_the_wait_without_its_callback(guestpoll):
    """_wait_cancel() of a wait that would never end returns with the wait
    over: its callback is never called, the state is idle at once and a new
    wait can start (the old mirror left the wait 'ready')."""
    sel = guestpoll.Selector()
    called = []
    try:
        sel._wait_start(None, lambda: called.append("first"))
        assert sel._wait_state == "inflight"
        sel._wait_cancel()
        assert sel._wait_state == "idle"
        assert sel._wstate == 0
        done = threading.Event()
        sel._wait_start(0, done.set)
        assert done.wait(30)
        assert sel._wait_state == "ready"
        assert sel.select(0) == []
        assert sel._wait_state == "idle"
        sel._wait_cancel()  # nothing in flight: nothing to do
    finally:
        sel.close()
    assert called == []


def test_wait_cancel_after_the_wait_ended(guestpoll, socketpair):
    """A wait that ended (callback called) and was not collected: cancel
    drops its records; readiness shows again in the next select()."""
    a, _ = socketpair()
    sel = guestpoll.Selector()
    try:
        key = sel.register(a, 2)
        done = threading.Event()
        sel._wait_start(None, done.set)
        assert done.wait(30)
        sel._wait_cancel()
        assert sel._wait_state == "idle"
        assert sel.select(0) == [(key, 2)]
    finally:
        sel.close()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_selector_freed_inside_its_own_ready_callback(guestpoll):
    """The last reference to a Selector dropped in its own ready callback,
    on the waiter thread: the poller cannot be freed under that thread
    (libguestpoll refuses); the extension frees it from the main thread
    soon after.  No crash (run under ASan/valgrind), nothing leaked."""
    gc.collect()
    before = open_fds()
    for _ in range(20):
        box = [guestpoll.Selector()]
        done = threading.Event()

        def ready(box=box, done=done):
            box.clear()  # the last reference: freed here, on the waiter
            done.set()

        box[0]._wait_start(0, ready)
        assert done.wait(30)
    # The deferred frees run as pending calls of the main thread.
    for _ in range(1000):
        if open_fds() == before:
            break
        threading.Event().wait(0.01)
    assert open_fds() == before
