"""Trap detection: a host that never runs the guest's ticks.

The first time a run hands a tick to its host from another thread
(libguestpoll's waiter thread, through run_sync_soon_threadsafe), a
watcher thread waits FIRST_WAKEUP_TIMEOUT seconds for that tick to start.
If it does not, the host's run_sync_soon_threadsafe most likely does
nothing when called off the host thread -- the classic case is
``QTimer.singleShot(0, fn)``, whose timer belongs to the calling thread,
which has no Qt event loop, so it never fires -- and the run would hang
without a word: the watcher warns (RuntimeWarning) and names the cause.
Once that first tick ran, the plain callable is put back: later
wake-ups cost nothing extra.  One watcher thread serves the process; it
ends once nothing was armed for a second.
"""

from __future__ import annotations

import functools
import heapq
import os
import threading
import time
import warnings
import weakref
from typing import Any, Callable, Optional

__all__ = ["FIRST_WAKEUP_TIMEOUT", "FirstWakeup", "needed"]

#: Seconds a tick handed to the host from another thread may wait for the
#: host to start it before guestpoll warns (the run's first such tick only).
FIRST_WAKEUP_TIMEOUT = 5.0


def _hint(threadsafe: Callable[..., object]) -> str:
    """The likely cause, read from what the host passed."""
    code = getattr(getattr(threadsafe, "__func__", threadsafe), "__code__", None)
    names = set(code.co_names) if code is not None else set()
    module = getattr(threadsafe, "__module__", "") or ""
    if "singleShot" in names or "QTimer" in names:
        return (
            "it calls QTimer.singleShot(), which, called from a thread without a Qt event "
            "loop (libguestpoll's waiter thread), starts a timer that never fires; use "
            "guestpoll.qt, or post an event to a QObject of the GUI thread"
        )
    if module.startswith(("PySide", "PyQt", "shiboken")):
        return "a Qt call from a thread without a Qt event loop does not reach the GUI thread; use guestpoll.qt"
    return (
        "run_sync_soon_threadsafe must make the host thread run fn() soon when called "
        "from any thread; the ready-made hosts are guestpoll.qt, guestpoll.tk, "
        "guestpoll.glib, guestpoll.trio and guestpoll.hosts"
    )


def needed(threadsafe: Callable[..., object]) -> bool:
    """False for the wake-ups known to reach their host: the methods of
    guestpoll's own hosts (guestpoll.hosts and the toolkit modules mark
    their classes) and a TrioToken's run_sync_soon."""
    owner = getattr(threadsafe, "__self__", None)
    if owner is None:
        return True
    if getattr(owner, "_guestpoll_trusted_wakeup", False):
        return False
    cls = type(owner)
    return not (cls.__name__ == "TrioToken" and cls.__module__.startswith("trio"))


class _Watch:
    """One armed watch: what the watcher thread needs to warn, and nothing
    the host must be able to drop (not the host's callable, not the tick
    handle)."""

    __slots__ = ("run", "hint", "deadline", "timeout")

    def __init__(self, run: Any, hint: str, timeout: float) -> None:
        self.run = weakref.ref(run)
        self.hint = hint
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout

    def close(self) -> None:
        _watcher.disarm(self)

    def warn(self) -> None:
        run = self.run()
        if run is None or run._finished:
            return
        del run
        warnings.warn(
            f"the asyncio guest run's host has not run the tick handed to it {self.timeout:g} s "
            f"ago from libguestpoll's waiter thread: the run is stuck.  Likely cause: "
            f"{self.hint} (or the host thread is blocked)",
            RuntimeWarning,
            stacklevel=1,
        )


class _Watcher:
    """One daemon thread for every armed watch of the process, started on
    demand.  Arming and disarming only touch a dict and a heap under a
    lock (no thread switch on a run's path); the thread wakes when the
    earliest deadline passes, and ends once nothing has been armed for
    LINGER seconds."""

    LINGER = 1.0

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.live: dict[int, _Watch] = {}
        self.heap: list[tuple[float, int]] = []
        self.thread: Optional[threading.Thread] = None

    def arm(self, watch: _Watch) -> None:
        with self.lock:
            self.live[id(watch)] = watch
            heapq.heappush(self.heap, (watch.deadline, id(watch)))
            if self.thread is None:
                self.thread = threading.Thread(target=self.main, name="guestpoll: first wake-up watch", daemon=True)
                self.thread.start()

    def disarm(self, watch: _Watch) -> None:
        with self.lock:
            if self.live.get(id(watch)) is watch:
                del self.live[id(watch)]

    def main(self) -> None:
        due: list[_Watch] = []
        with self.lock:
            while True:
                now = time.monotonic()
                while self.heap and (self.heap[0][0] <= now or self.heap[0][1] not in self.live):
                    _, key = heapq.heappop(self.heap)
                    watch = self.live.get(key)
                    if watch is not None and watch.deadline <= now:
                        del self.live[key]
                        due.append(watch)
                if due:
                    self.lock.release()
                    try:
                        for watch in due:
                            watch.warn()
                    finally:
                        due.clear()
                        self.lock.acquire()
                    continue
                if not self.heap:
                    self.cond.wait(self.LINGER)
                    if not self.heap:
                        self.thread = None
                        return
                    continue
                self.cond.wait(self.heap[0][0] - now)

    def after_fork(self) -> None:
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.live = {}
        self.heap = []
        self.thread = None


_watcher = _Watcher()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_watcher.after_fork)


class FirstWakeup:
    """Stands in for a run's run_sync_soon_threadsafe (``handle.threadsafe``)
    until the first tick it hands over from another thread has started.
    It refers to the run and to the tick handle only weakly: the host's
    hold on the handle is what keeps a run alive (see _guest)."""

    __slots__ = ("_handle", "_run", "_threadsafe", "_host_thread", "_watch", "__weakref__")

    def __init__(self, run: Any, handle: Any, threadsafe: Callable[[Callable[[], None]], object]) -> None:
        self._run = weakref.ref(run)
        self._handle = weakref.ref(handle)
        self._threadsafe = threadsafe
        self._host_thread = threading.get_ident()
        self._watch: Optional[_Watch] = None

    def __call__(self, fn: Callable[[], None]) -> object:
        if self._watch is not None or threading.get_ident() == self._host_thread:
            return self._threadsafe(fn)
        run = self._run()
        if run is None:
            return self._threadsafe(fn)
        from . import _watchdog  # the constant, as a test may have set it

        self._watch = _Watch(run, _hint(self._threadsafe), _watchdog.FIRST_WAKEUP_TIMEOUT)
        _watcher.arm(self._watch)
        del run
        try:
            return self._threadsafe(functools.partial(self._ran, fn))
        except BaseException:
            self.close()
            raise

    def _ran(self, fn: Callable[[], None]) -> None:
        handle = self._handle()
        if handle is not None and handle.threadsafe is self:
            handle.threadsafe = self._threadsafe
        del handle
        self.close()
        fn()

    def close(self) -> None:
        """The tick ran, or the run is over: end the watch."""
        watch = self._watch
        if watch is not None:
            watch.close()

    def __del__(self) -> None:
        self.close()
