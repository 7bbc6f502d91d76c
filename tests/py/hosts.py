"""Test hosts for the guest-mode tests (test_guest.py, test_guest_trio.py).

``QueueHost`` is the smallest host event loop there is: a
``queue.SimpleQueue`` of callables plus a heap of host timers, pumped by
``run()`` until the guest's ``done_callback`` fired.  It never hangs: a run
that is not done after *timeout* seconds fails with :class:`HostTimeout`
(after trying to wind the guest down by cancelling its main task, so one
broken test does not leave a waiting run behind).

``run_queue_host(start_fn, timeout)`` is the usual entry point: it makes a
host, calls ``start_fn(host)`` on the host thread (typically
``host.start(coro)``), pumps until done and returns the host, whose
``outcome`` is what ``done_callback`` received.  ``thread=True`` runs the
whole host loop on a worker thread instead of the calling thread.

For Trio, ``trio_guest_run()`` starts a guest run from inside a Trio task,
with ``token.run_sync_soon`` as the thread-safe scheduler, and waits for it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import mmap
import os
import queue
import threading
import time
from typing import Any, Callable, Optional

import pytest

if os.environ.get("GUESTPOLL_REQUIRE", "") not in ("", "0"):
    import guestpoll  # noqa: F401  (a failed import must fail the run)
else:
    guestpoll = pytest.importorskip("guestpoll")

import guestpoll.hosts as guestpoll_hosts  # noqa: E402

DEFAULT_TIMEOUT = 30.0


class HostTimeout(AssertionError):
    """The guest run did not finish in time (the test would have hung)."""


class HostError(AssertionError):
    """The guest misused the host API (wrong thread, done twice, ...)."""


class LoopRecorder:
    """A loop_factory that remembers the loops it made (``.loops``)."""

    def __init__(self) -> None:
        self.loops: list = []

    def __call__(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.SelectorEventLoop()
        self.loops.append(loop)
        return loop


class QueueHost:
    """A host loop: a queue of callables and a heap of host timers."""

    def __init__(self) -> None:
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._timers: list = []
        self._seq = itertools.count()
        self.thread_id: Optional[int] = None
        self.outcome: Any = None
        self.done_count = 0
        self.done_time: Optional[float] = None
        self.done_thread: Optional[int] = None
        self.main_task: Any = None
        self.errors: list[str] = []
        # Host callbacks run by the pump (guest ticks and host callbacks).
        self.callbacks_run = 0
        # Called with the outcome inside done_callback, for tests that must
        # observe the state at that exact moment.
        self.on_done: list[Callable[[Any], None]] = []
        # Callbacks queued through each of the two scheduling hooks.
        self.threadsafe_calls = 0
        self.not_threadsafe_calls = 0
        # Once set (refuse_wakeups()), the thread-safe hook raises, as a
        # host whose loop has ended does (Trio's RunFinishedError).
        self.refusing = False

    # ---- the API handed to start_guest_run -----------------------------

    def run_sync_soon_threadsafe(self, fn: Callable[[], object]) -> None:
        if self.refusing:
            raise RuntimeError("host loop is closed")
        self.threadsafe_calls += 1
        self._q.put(fn)

    def refuse_wakeups(self) -> None:
        """The host's loop ends: from now on run_sync_soon_threadsafe
        raises RuntimeError("host loop is closed")."""
        self.refusing = True

    def run_sync_soon_not_threadsafe(self, fn: Callable[[], object]) -> None:
        if self.thread_id is not None and threading.get_ident() != self.thread_id:
            self.errors.append("run_sync_soon_not_threadsafe called off the host thread")
        self.not_threadsafe_calls += 1
        self._q.put(fn)

    def done_callback(self, result: Any) -> None:
        self.done_count += 1
        if self.done_count > 1:
            self.errors.append(f"done_callback called {self.done_count} times")
        if self.thread_id is not None and threading.get_ident() != self.thread_id:
            self.errors.append("done_callback called off the host thread")
        self.done_thread = threading.get_ident()
        self.done_time = time.monotonic()
        self.outcome = result
        for hook in self.on_done:
            hook(result)

    def start(self, coro: Any, *, not_threadsafe: bool = True, **kwargs: Any) -> Any:
        """guestpoll.start_guest_run(coro) with this host's hooks; the main
        task is remembered (for the timeout rescue) and returned."""
        if not_threadsafe:
            kwargs["run_sync_soon_not_threadsafe"] = self.run_sync_soon_not_threadsafe
        task = guestpoll.start_guest_run(
            coro,
            run_sync_soon_threadsafe=self.run_sync_soon_threadsafe,
            done_callback=self.done_callback,
            **kwargs,
        )
        self.main_task = task
        return task

    # ---- host-side scheduling (host thread only) ---------------------------

    def call_soon(self, fn: Callable[..., object], *args: Any) -> None:
        self._q.put(lambda: fn(*args))

    def call_later(self, delay: float, fn: Callable[..., object], *args: Any) -> None:
        heapq.heappush(
            self._timers, (time.monotonic() + delay, next(self._seq), lambda: fn(*args))
        )

    @property
    def done(self) -> bool:
        return self.done_count > 0

    # ---- the loop ----------------------------------------------------------------

    def _run_due_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, fn = heapq.heappop(self._timers)
            self.callbacks_run += 1
            fn()

    def _pump_until(self, stop: Callable[[], bool], deadline: float) -> bool:
        while not stop():
            self._run_due_timers()
            if stop():
                break
            now = time.monotonic()
            if now >= deadline:
                return False
            wait = deadline - now
            if self._timers:
                wait = min(wait, max(0.0, self._timers[0][0] - now))
            try:
                fn = self._q.get(timeout=wait)
            except queue.Empty:
                continue
            self.callbacks_run += 1
            fn()
        return True

    def run_pending(self) -> int:
        """Runs the callbacks queued right now (and due timers), without
        waiting; for nested host loops.  Returns how many ran."""
        n = 0
        self._run_due_timers()
        while True:
            try:
                fn = self._q.get_nowait()
            except queue.Empty:
                return n
            n += 1
            self.callbacks_run += 1
            fn()

    def run(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Pumps until done_callback fired; HostTimeout after *timeout* s."""
        self.thread_id = threading.get_ident()
        try:
            finished = self._pump_until(lambda: self.done, time.monotonic() + timeout)
        except BaseException:
            # A host callback raised: try to wind the guest down so later
            # tests do not inherit a half-finished run, then re-raise.
            try:
                self._rescue()
            except BaseException:
                pass
            raise
        if not finished:
            self._rescue()
            raise HostTimeout(
                f"guest run not done after {timeout} s "
                f"(outcome after rescue attempt: {self.outcome!r})"
            )
        # Whatever is still queued (a tick scheduled before the end) must be
        # harmless: run it.
        self.run_pending()
        if self.errors:
            raise HostError("; ".join(self.errors))

    def _rescue(self) -> None:
        task = self.main_task
        if task is not None and not task.done():
            task.cancel()
            self._pump_until(lambda: self.done, time.monotonic() + 5)


def run_queue_host(
    start_fn: Callable[[QueueHost], object],
    timeout: float = DEFAULT_TIMEOUT,
    *,
    thread: bool = False,
    host: Optional[QueueHost] = None,
) -> QueueHost:
    """Makes a QueueHost, calls ``start_fn(host)`` on the host thread,
    pumps until the run is done and returns the host.  Fails (HostTimeout)
    instead of hanging.  With ``thread=True`` the host loop, including
    ``start_fn``, runs on a new thread; exceptions are re-raised here."""
    if host is None:
        host = QueueHost()

    def body() -> None:
        host.thread_id = threading.get_ident()
        start_fn(host)
        host.run(timeout)

    if not thread:
        body()
        return host
    failure: list[BaseException] = []

    def worker() -> None:
        try:
            body()
        except BaseException as exc:  # handed to the test thread
            failure.append(exc)

    t = threading.Thread(target=worker, name="queue-host", daemon=True)
    t.start()
    t.join(timeout + 15)
    if t.is_alive():
        raise HostTimeout("host thread did not finish")
    if failure:
        raise failure[0]
    return host


def clear_stray_running_loop() -> Optional[object]:
    """If a failed test left a running loop set in this thread, unset it
    (so that later tests are not refused) and return it."""
    import asyncio

    stray = asyncio._get_running_loop()
    if stray is not None:
        asyncio.events._set_running_loop(None)
    return stray


def run_guest(coro: Any, timeout: float = DEFAULT_TIMEOUT, **kwargs: Any) -> QueueHost:
    """Shortcut: run one coroutine as a guest of a fresh QueueHost."""
    thread = kwargs.pop("thread", False)
    return run_queue_host(lambda h: h.start(coro, **kwargs), timeout, thread=thread)


# ---- Trio ------------------------------------------------------------------------


async def trio_guest_run(
    coro: Any,
    *,
    not_threadsafe: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    on_start: Optional[Callable[[Any], object]] = None,
    **kwargs: Any,
) -> Any:
    """From inside a Trio task: runs *coro* as an asyncio guest of this Trio
    run and returns the outcome given to done_callback.  *on_start(task)* is
    called right after start_guest_run returned the main task."""
    import trio

    token = trio.lowlevel.current_trio_token()
    trio_thread = threading.get_ident()
    done = trio.Event()
    box: dict[str, Any] = {}
    errors: list[str] = []

    def done_callback(result: Any) -> None:
        if threading.get_ident() != trio_thread:
            errors.append("done_callback called off the Trio thread")
        if "outcome" in box:
            errors.append("done_callback called twice")
        box["outcome"] = result
        done.set()

    def not_threadsafe_fn(fn: Callable[[], object]) -> None:
        if threading.get_ident() != trio_thread:
            errors.append("run_sync_soon_not_threadsafe called off the Trio thread")
        token.run_sync_soon(fn)

    if not_threadsafe:
        kwargs["run_sync_soon_not_threadsafe"] = not_threadsafe_fn
    task = guestpoll.start_guest_run(
        coro,
        run_sync_soon_threadsafe=token.run_sync_soon,
        done_callback=done_callback,
        **kwargs,
    )
    if on_start is not None:
        on_start(task)
    with trio.move_on_after(timeout) as scope:
        await done.wait()
    if scope.cancelled_caught:
        if task is not None and not task.done():
            task.cancel()
            with trio.move_on_after(5):
                await done.wait()
        raise HostTimeout(f"guest run under Trio not done after {timeout} s")
    if errors:
        raise HostError("; ".join(errors))
    return box["outcome"]


# ---- process state probes ------------------------------------------------


async def busy_guest(seconds: float) -> int:
    """A guest coroutine whose task is always ready: sleep(0) in a loop for
    *seconds*; returns how many iterations it made."""
    import asyncio

    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        await asyncio.sleep(0)
        n += 1
    return n


_trio_broken: list = []


def trio_unusable() -> Optional[str]:
    """None if ``trio.run`` works in this process, else why not (Trio's
    Windows backend fails under Wine 8's socket emulation, for one)."""
    if not _trio_broken:
        import trio

        try:
            trio.run(trio.sleep, 0)
            _trio_broken.append(None)
        except OSError as exc:
            _trio_broken.append(f"trio.run(trio.sleep, 0) itself fails here: {exc!r}")
    return _trio_broken[0]


def open_fds() -> int | None:
    """Descriptors this process has open, or None where that count says
    nothing about guestpoll: on Windows sockets are handles, and under Wine
    /proc/self/fd lists Wine's own descriptors (wineserver pipes that come
    and go with threads, on Wine's schedule)."""
    if os.name != "posix":
        return None
    return len(os.listdir("/proc/self/fd"))


def assert_no_more_fds(fds0: int | None, fds1: int | None = None) -> None:
    """No more descriptors open (*fds1*, or now) than *fds0*, both from
    open_fds(), where descriptors can be counted."""
    if fds0 is not None:
        if fds1 is None:
            fds1 = open_fds()
        assert fds1 is not None and fds1 <= fds0, f"descriptors {fds0} -> {fds1}"


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def rss_bytes() -> int:
    """Resident set size from /proc/self/statm (Linux; under Wine, that of
    the Linux process running Windows' Python); skips the test without it."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except OSError as exc:
        pytest.skip(f"no /proc/self/statm to read the RSS from: {exc}")
    return pages * mmap.PAGESIZE


class SelectHost(guestpoll_hosts.Host):  # type: ignore[misc]
    """A host loop that can watch a descriptor and run timers (the
    no-thread path): a ``selectors`` loop over the watched fd and a socket
    pair for its thread-safe queue, plus one host timer.  It counts what
    the guest asked of it: ``watch_calls``, ``unwatch_calls``,
    ``timer_delays`` (every set_timer delay), ``watch_fired`` and
    ``timer_fired``; ``fd_open_at_unwatch`` records whether the watched fd
    was still open when the watch ended (it must be: closing it first
    would leave a host watching a dead or reused descriptor)."""

    _guestpoll_trusted_wakeup = True

    def __init__(self) -> None:
        import selectors
        import socket

        super().__init__()
        self._sel = selectors.DefaultSelector()
        self._rsock, self._wsock = socket.socketpair()
        self._rsock.setblocking(False)
        self._wsock.setblocking(False)
        self._sel.register(self._rsock, selectors.EVENT_READ, None)
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._watch: Optional[tuple[int, Callable[[], object]]] = None
        self._timer: Optional[tuple[float, Callable[[], object]]] = None
        self.watch_calls = 0
        self.unwatch_calls = 0
        self.timer_delays: list[float] = []
        self.watch_fired = 0
        self.timer_fired = 0
        self.fd_open_at_unwatch: list[bool] = []

    # ---- Host ------------------------------------------------------------

    def call_soon_threadsafe(self, fn: Callable[[], object]) -> None:
        self._q.put(fn)
        try:
            self._wsock.send(b"\0")
        except BlockingIOError:
            pass

    def watch_fd(self, fd: int, fn: Callable[[], object]) -> None:
        import selectors

        self.unwatch_fd()
        self.watch_calls += 1
        self._sel.register(fd, selectors.EVENT_READ, fn)
        self._watch = (fd, fn)

    def unwatch_fd(self) -> None:
        if self._watch is not None:
            fd = self._watch[0]
            self.unwatch_calls += 1
            try:
                os.fstat(fd)
                self.fd_open_at_unwatch.append(True)
            except OSError:
                self.fd_open_at_unwatch.append(False)
            self._sel.unregister(fd)
            self._watch = None

    def set_timer(self, delay: float, fn: Callable[[], object]) -> None:
        self.timer_delays.append(delay)
        self._timer = (time.monotonic() + delay, fn)

    def cancel_timer(self) -> None:
        self._timer = None

    def close(self) -> None:
        self.unwatch_fd()
        self.cancel_timer()

    # ---- the loop ----------------------------------------------------------

    def run_once(self, timeout: Optional[float]) -> None:
        """One turn: waits for the watched fd, the queue or the timer (at
        most *timeout* seconds), then runs what is due."""
        if self._timer is not None:
            left = max(0.0, self._timer[0] - time.monotonic())
            timeout = left if timeout is None else min(timeout, left)
        for key, _ in self._sel.select(timeout):
            if key.fileobj is self._rsock:
                try:
                    while self._rsock.recv(4096):
                        pass
                except BlockingIOError:
                    pass
            elif self._watch is not None and key.data is self._watch[1]:
                self.watch_fired += 1
                self.dispatch(key.data)
        for _ in range(self._q.qsize()):
            self.dispatch(self._q.get_nowait())
        if self._timer is not None and self._timer[0] <= time.monotonic():
            fn = self._timer[1]
            self._timer = None
            self.timer_fired += 1
            self.dispatch(fn)

    def run_until(self, stop: Callable[[], bool], timeout: float = DEFAULT_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not stop():
            left = deadline - time.monotonic()
            if left <= 0:
                raise HostTimeout(f"not done after {timeout} s")
            self.run_once(min(left, 1.0))

    def free(self) -> None:
        """Closes the host's own descriptors (after the run)."""
        self._sel.close()
        self._rsock.close()
        self._wsock.close()


def default_backend() -> str:
    """The backend a new guestpoll.Selector() uses here (GUESTPOLL_BACKEND)."""
    sel = guestpoll.Selector()
    try:
        return str(sel.backend)
    finally:
        sel.close()


def nothread_unavailable() -> Optional[str]:
    """Why runs cannot take the no-thread path here, or None."""
    name = default_backend()
    if name in ("epoll", "kqueue"):
        return None
    return f"the {name} backend has no descriptor a host can watch: its runs take the waiter thread"
