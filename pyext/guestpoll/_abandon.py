"""Abandoned guest runs, and the other ways a host goes away.

The tick driver (_guest.py) notices an abandoned run (its tick handle
dies, or its host refuses a tick) and calls ``_GuestRun._abandoned()``;
this module holds what must outlive a host thread or work without it:
the finisher thread that finishes abandoned runs of other host threads,
the thread-local watch that notices a host thread's exit, the loops left
as a live host thread's stale "running loop" (and the garbage that resets
them there), the finalizer for async
generators of hook-less hosts, and the fork() handler.
"""

from __future__ import annotations

import collections
import os
import sys
import threading
import time
import weakref
from asyncio import events
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from ._guest import _GuestRun


def _main_ident() -> Optional[int]:
    return threading.main_thread().ident


_abandon_lock = threading.Lock()

# Loops of runs taken over by another thread (the finisher), by the id of
# the host thread where they may still be set as the running loop (a
# thread-local that only that thread can reset): it is reset the next time
# that thread calls start_guest_run() or host_gone(), or collects garbage
# (_StaleLoopSweep).
_stale_running: dict[int, Any] = {}


def _clear_stale_running_loop() -> None:
    with _abandon_lock:
        loop = _stale_running.pop(threading.get_ident(), None)
    if loop is not None and events._get_running_loop() is loop:
        events._set_running_loop(None)


class _StaleLoopSweep:
    """Cyclic garbage made when another thread takes over a run whose host
    thread lives on: the collector finalizes it on the thread that
    collects, and when that is the host thread, the run's loop stops being
    its running loop there (host code that goes on to call asyncio.run()
    or asyncio.get_running_loop() sees no loop, as after aioguest's run,
    whose greenlet is finalized the same way).  Finalized on another
    thread, it leaves a successor for the next collection, until the host
    thread has reset the loop or has exited (its _HostThreadWatch is gone).
    A host thread that runs no Python code keeps the stale loop, harmlessly,
    until it does."""

    __slots__ = ("_ident", "_alive", "_cycle")

    def __init__(self, ident: int, alive: "weakref.ref[Any]") -> None:
        self._ident = ident
        self._alive = alive
        self._cycle: Any = self

    def __del__(self) -> None:
        ident = self._ident
        if threading.get_ident() == ident:
            _clear_stale_running_loop()
            return
        with _abandon_lock:
            pending = ident in _stale_running
            if pending and self._alive() is None:
                del _stale_running[ident]  # the thread exited
                pending = False
        if pending:
            _StaleLoopSweep(ident, self._alive)


def _leave_stale_loop(run: "_GuestRun") -> None:
    """The calling thread takes *run* over from its live host thread."""
    alive = run._watch
    with _abandon_lock:
        _stale_running[run._host_thread] = run._loop
    if alive is not None:
        _StaleLoopSweep(run._host_thread, alive)


# How long a live host thread has to take its abandoned run back (by
# collecting garbage: _TakeBack) before the finisher thread finishes it.
HOST_GRACE = 1.0


def _claim(run: "_GuestRun") -> bool:
    """True for the one caller that is to finish *run*."""
    with _abandon_lock:
        if run._claimed or run._finished:
            return False
        run._claimed = True
        return True


class _Finisher:
    """A daemon thread, started on demand, that finishes the abandoned
    runs of host threads other than the main one: at once for a host
    thread that exited, after HOST_GRACE for one that lives on and has not
    taken the run back meanwhile (_TakeBack).  The run goes on here, with
    its loop as this thread's running loop.  The thread ends when it has
    nothing left to do."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._runs: list[tuple[float, _GuestRun]] = []
        self._thread: Optional[threading.Thread] = None

    def submit(self, run: "_GuestRun", delay: float = 0.0) -> None:
        with self._cond:
            self._runs.append((time.monotonic() + delay, run))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._main, name="guestpoll: abandoned guest runs", daemon=True
                )
                self._thread.start()
            else:
                self._cond.notify()

    def wake(self) -> None:
        """A run's host thread exited, or took its run back."""
        with self._cond:
            self._cond.notify()

    def _next(self) -> Optional[tuple[float, "_GuestRun"]]:
        with self._cond:
            while self._runs:
                now = time.monotonic()
                for entry in self._runs:
                    due, run = entry
                    if due <= now or run._host_exiting or run._claimed or run._finished:
                        self._runs.remove(entry)
                        return entry
                self._cond.wait(min(due for due, _ in self._runs) - now)
            self._thread = None
            return None

    def _main(self) -> None:
        while True:
            entry = self._next()
            if entry is None:
                return
            run = entry[1]
            del entry
            if _claim(run):
                run._finish_abandoned()
                # The finished run's loop is no longer this thread's running loop.
                if events._get_running_loop() is run._loop:
                    events._set_running_loop(None)
            del run


class _TakeBack:
    """Cyclic garbage made when a run of a live host thread (not the main
    one) is found abandoned on another thread (the waiter's, when the host
    refused the next tick): finalized by a collection on the host thread,
    it finishes the run there and then, as if it had been noticed there,
    and as aioguest finishes a run whose greenlet that thread collects.
    Finalized on another thread, it leaves a successor for the next
    collection, until the run is claimed here or by the finisher (after
    HOST_GRACE).  Not taken while the host thread runs another loop."""

    __slots__ = ("_run", "_cycle")

    def __init__(self, run: "_GuestRun") -> None:
        self._run = run
        self._cycle: Any = self

    def __del__(self) -> None:
        run = self._run
        if run._claimed or run._finished or run._host_exiting or run._forked:
            return
        if threading.get_ident() != run._host_thread:
            _TakeBack(run)
            return
        running = events._get_running_loop()
        if (running is None or running is run._loop) and _claim(run):
            _finisher.wake()
            run._finish_abandoned()


def hand_over(run: "_GuestRun") -> None:
    """*run*, of a host thread other than the main one, was found abandoned
    off that thread: it is finished on the host thread if that thread
    collects garbage within HOST_GRACE, else (or once it exits) on the
    finisher thread."""
    if run._host_exiting:
        _finisher.submit(run)
        return
    _TakeBack(run)
    _finisher.submit(run, HOST_GRACE)


_finisher = _Finisher()


class _HostThreadWatch:
    """Kept in a thread-local of each host thread other than the main
    one: when that thread exits, its thread-local data goes, and with it
    this object, whose finalizer hands the thread's unfinished runs to the
    finisher thread."""

    __slots__ = ("runs", "__weakref__")

    def __init__(self) -> None:
        self.runs: list[_GuestRun] = []

    def __del__(self) -> None:
        runs, self.runs = self.runs, []
        for run in runs:
            if not run._finished:
                run._host_exited()


_host_thread_local = threading.local()


def _host_agen_finalizer(agen: Any) -> None:
    """The finalizer of async generators that host code (with no asyncgen
    hooks of its own) started while a guest runs: as Python does without
    hooks, close the generator in one step; but one that awaits in its
    cleanup is reported as such (as aioguest does), not as having
    "ignored GeneratorExit"."""
    closer = agen.aclose()
    try:
        closer.send(None)  # a yield in the cleanup raises RuntimeError here
    except StopIteration:
        return
    raise RuntimeError(
        f"Non-asyncio async generator {agen!r} awaited something during "
        "finalization; install a finalization hook to support this, or "
        "wrap it in 'async with aclosing(...):'"
    )


def _host_hooks_acquire(run: "_GuestRun") -> None:
    """Between the ticks of a run whose host has no asyncgen hooks, async
    generators started by host code get _host_agen_finalizer (aioguest
    keeps asyncio's hooks installed for the whole thread and tells the
    host's generators apart; here the host's turn has hooks of its own)."""
    hooks = sys.get_asyncgen_hooks()
    count = getattr(_host_thread_local, "agen_hook_runs", 0)
    if count == 0 and (hooks.firstiter is not None or hooks.finalizer is not None):
        return
    if count == 0:
        sys.set_asyncgen_hooks(None, _host_agen_finalizer)
    _host_thread_local.agen_hook_runs = count + 1
    run._host_hooks = True


def _host_hooks_release(run: "_GuestRun") -> None:
    if not run._host_hooks or threading.get_ident() != run._host_thread or run._host_exiting:
        return
    run._host_hooks = False
    count = getattr(_host_thread_local, "agen_hook_runs", 0) - 1
    _host_thread_local.agen_hook_runs = max(count, 0)
    if count <= 0:
        hooks = sys.get_asyncgen_hooks()
        if hooks.firstiter is None and hooks.finalizer is _host_agen_finalizer:
            sys.set_asyncgen_hooks(None, None)

# Runs started and not finished, for the fork() handler below.
_live_runs: "weakref.WeakSet[_GuestRun]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """In a child made by fork(): no inherited run can go on (its waiter
    thread is gone); they refuse to, with a RuntimeError.  The finisher
    thread is gone too."""
    global _abandon_lock
    _abandon_lock = threading.Lock()
    _finisher.__init__()  # type: ignore[misc]
    for run in list(_live_runs):
        run._forked = True
    _live_runs.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _watch_host_thread(run: "_GuestRun") -> None:
    if threading.current_thread() is threading.main_thread():
        return
    watch = getattr(_host_thread_local, "watch", None)
    if watch is None:
        watch = _host_thread_local.watch = _HostThreadWatch()
    watch.runs.append(run)
    run._watch = weakref.ref(watch)  # only the thread-local holds it
