"""asyncio guest mode: an asyncio run inside another event loop, no greenlet.

This module is the tick driver and start_guest_run(); the package's other
guest modules: _runner.py (asyncio.Runner's life cycle pieces and the
per-CPython-version shims), _abandon.py (what finishes a run whose host is
gone), _trio.py (Trio's fast path).

The host loop runs *ticks*.  A tick makes asyncio loop iterations
(``_run_once``) whose ``select()`` never blocks: it returns the events a
finished background wait collected, or polls with a zero timeout.  While
the next iteration is due at once, the tick runs it too, up to
the run's bound (one for start_guest_run, as aioguest and Trio do); then
the host gets its turn before the next tick (the interleaving contract,
see guestpoll-python(7)).
When the loop has nothing to do before some timeout, the tick hands the
kernel wait, with that timeout, to libguestpoll's waiter thread and returns
to the host; the waiter's ready callback asks the host to run the next tick
with ``run_sync_soon_threadsafe``.  At any moment exactly one of these
holds: a tick is running or scheduled, or one wait is in flight.

``asyncio.run``'s life cycle (main task; cancel the rest; shut down async
generators; shut down the default executor; close) is written as a generator
that yields the awaitables to run to completion, one "phase" each; a phase
is what ``loop.run_until_complete`` would do, spread over ticks.

Abandonment: the host holds the run only through the :class:`_TickHandle`
it was handed (in its queue of callbacks, or in the waiter's callback while
a wait is in flight).  If the host drops it before the run is over, the
handle's finalizer notices, warns, cancels what is running and finishes the
run with blocking waits, logging the result it can no longer deliver: on
the host thread if it is there, else on the main thread (a main-thread
host), or on another live host thread at its next garbage collection, or
on _abandon's finisher thread (host thread gone, or no collection there
within HOST_GRACE).  A host thread other than the main
one that exits with a run unfinished is noticed too (_abandon's watch);
host_gone() is the explicit way.
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import functools
import inspect
import logging
import math
import os
import signal
import sys
import threading
import traceback
import warnings
import weakref
from asyncio import base_events, constants, coroutines, events, exceptions
from asyncio import futures, selector_events, tasks
from typing import Any, Callable, Coroutine, Generator, Optional

import outcome

from . import Selector, _abandon, _hostwatch, _runner, _watchdog
from ._guestpoll import _call_on_main
from ._trio import _TrioSoon, _trio_soon

logger = logging.getLogger("guestpoll")

# The message of the CancelledError an abandoned run's tasks receive; it
# names aioguest too, for code written against that package.
ABANDONED_MESSAGE = "asyncio guest run abandoned by its host (guestpoll, aioguest-compatible)"

# ... and the one a run gets whose host refused to schedule its first tick.
REFUSED_MESSAGE = "the host refused to schedule the asyncio guest run's first tick"

__all__ = ["start_guest_run", "host_gone"]

_WAIT_INFLIGHT = 1  # Selector._wstate while the waiter thread owns the wait

# The interleaving contract.  A tick runs loop iterations back to back
# while the next one is due at once (callbacks ready, events ready), as a
# native loop would, but at most a run's bound of them; then it queues the
# next tick with the host (run_sync_soon_not_threadsafe) and returns, so
# the callbacks the host had queued before that run first.  The bound is a
# count, not a time: where the host gets its turn, counted in guest loop
# iterations, is the same on a fast machine and on a loaded one.  A tick
# also ends early when the loop has to wait (the wait goes to the waiter
# thread or the host's watch) and when a phase of the run ends: the run's
# phases (main task, cancelling the rest, ...) each begin in a new tick.
#
# start_guest_run() is aioguest's drop-in, and aioguest's guest, like
# Trio's, runs one loop iteration per host callback: its bound is
# TICK_ITERATIONS, 1, so a host callback queued by guest code runs before
# the guest's next iteration, as there.  guestpoll.hosts (and the toolkit
# modules over it) define their own contract, hosts.TICK_ITERATIONS (64):
# each hand-back costs a trip through the host's queue, and an I/O round
# trip takes at least two iterations (the event, then the task it wakes):
# one tick, not two or more.
TICK_ITERATIONS = 1

# One subclass per loop class, made on first use (see _guest_class).
_guest_classes: dict[type, type] = {}



class _TickHandle:
    """The host's side of a run: ``handle.tick`` is the callable the host
    is asked to run, and the handle carries the host's callbacks.  The run
    (reachable from its loop, which asyncio keeps as this thread's running
    loop) never refers to the handle or to the host's callbacks, so once
    the host lets go of every ``tick`` it was given, the handle dies, even
    inside a reference cycle through the host's own queue, while the loop,
    its tasks and the life cycle stay intact for an orderly finish."""

    __slots__ = ("_run", "threadsafe", "soon", "done_callback", "__weakref__")

    def __init__(
        self,
        run: "_GuestRun",
        threadsafe: Callable[[Callable[[], None]], object],
        soon: Callable[[Callable[[], None]], object],
        done_callback: Callable[[outcome.Outcome], object],
    ) -> None:
        self._run = run
        self.threadsafe = threadsafe
        self.soon = soon
        self.done_callback = done_callback

    def tick(self) -> None:
        self._run._tick(self)

    def io_ready(self) -> None:
        """The host's watch of the poller's descriptor fired (no-thread path)."""
        self._run._io_ready(self)

    def timer(self) -> None:
        """The host's timer for the loop's next deadline ran out (no-thread path)."""
        self._run._io_timer(self)

    def __del__(self) -> None:
        run = self._run
        if not run._finished:
            run._abandoned()


class _Wakeup:
    """The waiter thread's callback: hands the tick to the host.  If the
    host refuses it (its loop is gone), the refusal is logged and the
    handle dropped right here, so that the abandonment shows at once."""

    __slots__ = ("_handle",)

    def __init__(self, handle: _TickHandle) -> None:
        self._handle: Optional[_TickHandle] = handle

    def __call__(self) -> None:
        handle, self._handle = self._handle, None
        if handle is None:
            return
        try:
            handle.threadsafe(handle.tick)
        except BaseException as exc:
            # Keep no traceback: its frames would keep the handle alive.
            what = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            logger.error("the host refused the asyncio guest's wakeup: %s", what)
        del handle


def _guest_class(cls: type) -> type:
    """A subclass of the loop's class whose call_soon / call_at / stop wake
    the background wait, so that work the host makes due runs promptly.
    It is swapped in as the loop's ``__class__`` for the run."""
    try:
        return _guest_classes[cls]
    except KeyError:
        pass

    # The base methods, called directly: cheaper than super() on a path
    # every loop iteration takes.
    base_call_soon, base_call_at, base_stop = cls.call_soon, cls.call_at, cls.stop

    class GuestLoop(cls):  # type: ignore[valid-type, misc]
        _guestpoll_waiting = False

        def _guestpoll_wake(self) -> None:
            # Once per wait: the tick that follows recomputes everything.
            self._guestpoll_waiting = False
            run = self._guestpoll_run
            if run is not None and run._forked:
                run._refuse_forked()
            if run is None or not run._kick():
                self._selector._notify()

        def call_soon(self, callback, *args, context=None):  # type: ignore[no-untyped-def]
            handle = base_call_soon(self, callback, *args, context=context)
            if self._guestpoll_waiting:
                self._guestpoll_wake()
            return handle

        def call_at(self, when, callback, *args, context=None):  # type: ignore[no-untyped-def]
            handle = base_call_at(self, when, callback, *args, context=context)
            if self._guestpoll_waiting:
                self._guestpoll_wake()
            return handle

        def stop(self) -> None:
            base_stop(self)
            if self._guestpoll_waiting:
                self._guestpoll_wake()

    base_add_signal = getattr(cls, "add_signal_handler", None)
    base_remove_signal = getattr(cls, "remove_signal_handler", None)
    if (
        base_add_signal is not None
        and base_remove_signal is not None
        and issubclass(cls, getattr(asyncio, "SelectorEventLoop", ()))
        and hasattr(cls, "_handle_signal")
    ):
        # A Unix selector loop: its first signal handler installs the
        # loop's self-pipe as the wake-up fd, its last removal sets -1.
        # asyncio.run does just that; as a guest the displaced host's fd
        # is also given back, when that is provably safe (_WakeupFdGuard).

        def add_signal_handler(self, sig, callback, *args):  # type: ignore[no-untyped-def]
            guard = None
            if not self._signal_handlers:
                guard = _WakeupFdGuard.displace(self._csock.fileno())
                if guard is not None:
                    self._guestpoll_wakeup_guard = guard
            try:
                return base_add_signal(self, sig, callback, *args)
            finally:
                if guard is not None and not self._signal_handlers:
                    self._guestpoll_give_back_wakeup_fd()

        def remove_signal_handler(self, sig):  # type: ignore[no-untyped-def]
            guard = self._guestpoll_wakeup_guard
            last = guard is not None and list(self._signal_handlers) == [sig]
            if last:
                guard.before_last_removal()
            try:
                return base_remove_signal(self, sig)
            finally:
                if last and not self._signal_handlers:
                    self._guestpoll_give_back_wakeup_fd()

        def _guestpoll_give_back_wakeup_fd(self) -> None:
            guard, self._guestpoll_wakeup_guard = self._guestpoll_wakeup_guard, None
            if guard is not None:
                guard.give_back()

        GuestLoop._guestpoll_wakeup_guard = None
        GuestLoop.add_signal_handler = add_signal_handler
        GuestLoop.remove_signal_handler = remove_signal_handler
        GuestLoop._guestpoll_give_back_wakeup_fd = _guestpoll_give_back_wakeup_fd

    GuestLoop.__name__ = cls.__name__
    GuestLoop.__qualname__ = cls.__qualname__
    GuestLoop.__module__ = cls.__module__
    _guest_classes[cls] = GuestLoop
    return GuestLoop


def _fd_identity(fd: int) -> Optional[tuple[int, int]]:
    try:
        st = os.fstat(fd)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino)


class _WakeupFdGuard:
    """The host's signal wake-up fd, displaced by the guest loop's first
    signal handler (asyncio.run displaces it the same way).  When the
    loop's last handler goes, asyncio sets the wake-up fd to -1; the guest
    then gives the host's fd back, but only if nobody installed another one
    meanwhile (the wake-up fd was still the loop's own) and the number
    still names the very file it named when it was displaced: a descriptor
    that was closed, or closed and reused, is never installed.  Python
    cannot report a wake-up fd's warn_on_full_buffer setting, so a fd
    given back is installed with warn_on_full_buffer=False (no warnings
    about a full buffer from a descriptor the guest had to reinstall)."""

    __slots__ = ("own", "host", "identity", "current")

    def __init__(self, own: int, host: int) -> None:
        self.own = own
        self.host = host
        self.identity = _fd_identity(host)
        self.current: Optional[int] = None

    @classmethod
    def displace(cls, own: int) -> Optional["_WakeupFdGuard"]:
        """Installs *own* (as add_signal_handler is about to); returns a
        guard if that displaced a host's wake-up fd."""
        try:
            host = signal.set_wakeup_fd(own)
        except (ValueError, OSError):
            return None  # not the main thread: add_signal_handler says so
        if host in (-1, own):
            return None
        return cls(own, host)

    def before_last_removal(self) -> None:
        # Which fd is installed right before asyncio sets -1?
        try:
            self.current = signal.set_wakeup_fd(-1)
        except (ValueError, OSError):
            self.current = None

    def give_back(self) -> None:
        """asyncio has just set -1 (or never installed its own)."""
        try:
            current = self.current
            if current is not None and current not in (-1, self.own):
                # Somebody else's, installed while the guest had handlers:
                # asyncio's -1 would lose it.
                signal.set_wakeup_fd(current, warn_on_full_buffer=False)
                return
            if current == -1:
                return  # the host (or its library) took its fd back itself
            if self.identity is None or _fd_identity(self.host) != self.identity:
                return  # closed, or its number now names another file
            signal.set_wakeup_fd(self.host, warn_on_full_buffer=False)
        except Exception:
            logger.exception("guestpoll: could not give the host's signal wake-up fd back")


class _ProactorWait:
    """The split wait of a proactor loop (Windows' default loop, over an
    I/O completion port), standing in for the loop's ``_selector`` alias of
    its proactor during a guest run: the wait on the port moves to a waiter
    thread, and the completions are processed on the host thread.

    The waiter thread (one per wait; a wait only begins when the loop has
    nothing to do) dequeues at most one completion packet, which wakes it,
    and hands the tick to the host.  The packet goes back into the port
    unchanged (PostQueuedCompletionStatus with the same byte count, key and
    OVERLAPPED address; a proactor reads an operation's status from its
    OVERLAPPED, not from the packet), and the next ``select()`` lets the
    proactor take it with everything else that completed meanwhile.  A
    packet with key 0 and this object's address as its "OVERLAPPED" wakes
    a wait early (_notify); a proactor ignores a packet whose address it
    did not issue, if one ever reaches it.  (Not a null address: Wine 8
    reports a dequeued packet without one as a failure.)

    It offers what the guest driver uses of :class:`guestpoll.Selector`:
    ``select``, ``_guest``, ``_wstate``, ``_wait_start``, ``_wait_cancel``,
    ``_notify`` and ``_poll_ready``."""

    def __init__(self, proactor: Any) -> None:
        import _overlapped  # Windows only

        self._ov = _overlapped
        self._proactor = proactor
        self._iocp = proactor._iocp
        self._guest = 0
        self._cond = threading.Condition(threading.Lock())
        self._callback: Optional[Callable[[], None]] = None
        self._waiting = False  # a waiter thread is in the port's wait
        self._done = False  # its packet (or its timeout) is not taken yet
        self._packet: Any = None
        self._stash: list[Any] = []  # results _poll_ready took early
        self._wake = id(self)  # the wake-up packet's "OVERLAPPED" address

    @property
    def _wstate(self) -> int:
        # In flight until the waiter has taken the callback: from then on
        # the callback brings the next tick, and a tick the host runs
        # meanwhile (even before the callback returns) collects the wait.
        with self._cond:
            if self._waiting or self._callback is not None:
                return _WAIT_INFLIGHT
            return 2 if self._done else 0

    def _ms(self, timeout: Optional[float]) -> int:
        if timeout is None:
            return self._ov.INFINITE
        return min(math.ceil(max(0.0, timeout) * 1e3), self._ov.INFINITE - 1)

    def _wait_start(self, timeout: Optional[float], callback: Callable[[], None]) -> None:
        ms = self._ms(timeout)
        with self._cond:
            if self._waiting or self._done or self._callback is not None:
                raise RuntimeError("a guest wait is already in flight or ready")
            self._callback = callback
            self._waiting = True
        thread = threading.Thread(
            target=self._waiter, args=(ms,), name="guestpoll-proactor-wait", daemon=True
        )
        try:
            thread.start()
        except BaseException:
            with self._cond:
                self._callback = None
                self._waiting = False
            raise

    def _waiter(self, ms: int) -> None:
        try:
            packet = self._ov.GetQueuedCompletionStatus(self._iocp, ms)
        except BaseException as exc:  # the port is gone: the tick finds out
            packet = exc
        with self._cond:
            self._packet = packet
            self._done = True
            self._waiting = False
            callback, self._callback = self._callback, None
            self._cond.notify_all()
        if callback is not None:
            callback()

    def _take(self) -> None:
        """Puts the finished wait's packet back into the port (lock held)."""
        packet, self._packet, self._done = self._packet, None, False
        if isinstance(packet, BaseException):
            raise packet
        if packet is not None:
            _err, transferred, key, address = packet
            if key or address != self._wake:
                self._ov.PostQueuedCompletionStatus(self._iocp, transferred, key, address)

    def _notify(self) -> None:
        with self._cond:
            if self._waiting:
                self._ov.PostQueuedCompletionStatus(self._iocp, 0, 0, self._wake)

    def _wait_cancel(self) -> None:
        """Ends the wait in flight; its callback is not called unless the
        waiter took it already (a host tick it brings then does nothing)."""
        with self._cond:
            self._callback = None
            if self._waiting:
                self._ov.PostQueuedCompletionStatus(self._iocp, 0, 0, self._wake)
            while self._waiting:
                self._cond.wait()
            if self._done:
                self._take()

    def _poll_ready(self) -> bool:
        if self._wstate != 0:
            return True
        results = self._proactor.select(0)
        self._stash.extend(results)
        return bool(results)

    def select(self, timeout: Optional[float] = None) -> list[Any]:
        with self._cond:
            if self._waiting or self._callback is not None:
                if not self._guest:
                    raise RuntimeError("select() while a guest wait is in flight")
                timeout = -1  # a host tick: the wait brings the events
            elif self._done:
                self._take()
                timeout = 0
        results, self._stash = self._stash, []
        if timeout == -1:
            return results
        if self._guest or results:
            timeout = 0
        return results + self._proactor.select(timeout)

    def close(self) -> None:
        self._wait_cancel()


def _is_proactor_loop(loop: Any) -> bool:
    proactor = getattr(loop, "_proactor", None)
    return proactor is not None and hasattr(proactor, "_iocp") and loop._selector is proactor


def _make_loop(loop_factory: Optional[Callable[[], Any]]) -> Any:
    """Creates the guest loop and makes it steerable, or raises
    RuntimeError saying why it cannot be a guest."""
    if loop_factory is None:
        if sys.platform != "win32" or not _runner.HAS_RUN_FOREVER_SETUP:
            # (Before 3.13 the proactor loop overrides run_forever(), which
            # a guest bypasses: the selector loop stays the default there.)
            return asyncio.SelectorEventLoop(Selector())
        # Windows: the loop asyncio.run would make, by the policy: the
        # proactor loop by default, a selector loop if the policy says so.
        loop_factory = events.new_event_loop
    loop = loop_factory()
    why = None
    if not isinstance(loop, asyncio.BaseEventLoop):
        # (aioguest's words, for code that matches them)
        why = (
            "Only instances of asyncio.BaseEventLoop are supported; compiled "
            "loops such as uvloop cannot be run one iteration at a time"
        )
    elif not isinstance(loop, selector_events.BaseSelectorEventLoop) and not _is_proactor_loop(loop):
        why = "only selector event loops and Windows' proactor loop can be guests"
    elif loop.is_closed():
        why = "it is closed"
    elif loop.is_running():
        why = "it is running already"
    elif not _runner.HAS_RUN_FOREVER_SETUP and (
        type(loop).run_forever is not base_events.BaseEventLoop.run_forever
    ):
        why = "its class overrides run_forever(), which guest mode bypasses"
    if why is not None:
        # A refused loop is closed, as the run would have closed it; not
        # one that runs elsewhere (it is not ours) or is closed already.
        close = getattr(loop, "close", None)
        if callable(close) and why != "it is running already":
            close()
        raise RuntimeError(
            f"start_guest_run(): the loop {type(loop).__name__} cannot be a guest: {why}"
        )
    if _is_proactor_loop(loop):
        loop._selector = _ProactorWait(loop._proactor)
        return loop
    old = loop._selector
    if not isinstance(old, Selector):
        # Carry the registrations (the self-pipe at least) over.
        new = Selector()
        try:
            for key in list(old.get_map().values()):
                new.register(key.fileobj, key.events, key.data)
        except BaseException:
            new.close()
            loop.close()
            raise
        old.close()
        loop._selector = new
    return loop


class RunState(enum.Enum):
    """Who drives a guest run.  Orthogonal to it: whether a tick is running
    right now (``_GuestRun._in_tick``, for re-entrant host loops)."""

    #: The host runs the ticks; the run goes on.
    HOST = "host"
    #: guestpoll finishes the run with blocking waits, on the thread
    #: decided when it took over (abandoned run, host_gone(), a second
    #: Ctrl-C, a tick on the wrong thread); ticks the host still runs do
    #: nothing.
    TAKEN_OVER = "taken over"
    #: Over: the outcome was delivered, logged or returned.
    FINISHED = "finished"


class _GuestRun:
    """The state of one guest run: the loop, the life cycle, the phase.
    The loop refers to it (``loop._guestpoll_run``); see _TickHandle."""

    def __init__(self) -> None:
        self._host_thread = threading.get_ident()
        self._pid = os.getpid()
        self._forked = False  # this is a child process forked during the run
        self._host_hooks = False  # _abandon._host_hooks_acquire() installed hooks
        self._handle_ref: Optional[weakref.ref[_TickHandle]] = None
        self._sync = False  # abandoned: finish with blocking waits
        self._discard = False  # the outcome goes nowhere (first tick refused)
        self._loop: Any = None
        self._selector: Any = None
        self._loop_hooks: tuple[Any, ...] = ()  # the loop's asyncgen hooks
        self._orig_class: Optional[type] = None
        self._gen: Optional[Generator[Any, Any, Any]] = None
        self._phase: Optional[tuple[futures.Future, bool]] = None
        self._ended: Optional[outcome.Outcome] = None  # of the last phase
        self._in_tick = False
        self._tick_iterations = TICK_ITERATIONS  # the interleaving bound
        # The wait in flight's callback (it holds the tick handle) and the
        # loop time its timeout ends at.
        self._wakeup: Optional[_Wakeup] = None
        self._wait_deadline = math.inf
        # The no-thread path: the host watches the poller (_hostwatch).
        self._io: Optional[_hostwatch.HostWatch] = None
        self._state = RunState.HOST
        self._keep_result = False  # host_gone(): the outcome is returned
        self._kept: Optional[outcome.Outcome] = None
        self._host_exiting = False  # the host thread is exiting
        self._claimed = False  # abandoned: a thread has taken it to finish (_abandon)
        self._watch: Optional[weakref.ref[_abandon._HostThreadWatch]] = None
        self._set_event_loop = False
        self._interrupt_count = 0
        self._result: Optional[outcome.Outcome] = None
        self.main_task: Optional[tasks.Task] = None

    @property
    def _finished(self) -> bool:
        return self._state is RunState.FINISHED

    @property
    def _abandoning(self) -> bool:
        """guestpoll took the run over, or it is over."""
        return self._state is not RunState.HOST

    # ---- start -------------------------------------------------------------

    def start(
        self,
        coro: Coroutine[Any, Any, Any],
        debug: Optional[bool],
        loop_factory: Any,
        handle: _TickHandle,
        host_watch: Any = None,
        require_watch: bool = False,
    ) -> None:
        try:
            loop = _make_loop(loop_factory)
        except BaseException:
            self._state = RunState.FINISHED  # not abandoned: it never started
            coro.close()
            raise
        try:
            self._loop = loop
            self._selector = loop._selector
            if host_watch is not None:
                self._io = _hostwatch.start(host_watch, self._selector, handle, require_watch)
            self._loop_hooks = (loop._asyncgen_firstiter_hook, loop._asyncgen_finalizer_hook)
            loop._guestpoll_run = self
            if loop_factory is None:
                events.set_event_loop(loop)
                self._set_event_loop = True
            if debug is not None:
                loop.set_debug(debug)
            self._selector._guest = 1
            self._orig_class = type(loop)
            loop.__class__ = _guest_class(type(loop))
            # The main task's context is a copy of the host's, as in
            # asyncio.Runner, minus a host library's claim on sniffio's
            # context variable (Trio sets it in its tasks).
            context = contextvars.copy_context()
            cvar = getattr(sys.modules.get("sniffio"), "current_async_library_cvar", None)
            if cvar is not None:
                context.run(cvar.set, None)
            self._gen = self._lifecycle(coro, context)
            first = self._gen.send(None)
        except BaseException:
            self._state = RunState.FINISHED
            if self._io is not None:
                self._io.stop()
            coro.close()
            self._restore()
            if not loop.is_closed():
                loop.close()
            raise
        self._begin_phase(first)
        if self._finished:
            self._deliver(handle)
            return
        try:
            handle.soon(handle.tick)
        except BaseException:
            # The host refused the first tick: there is no run.  Its error
            # is the caller's; the run is wound down here and now (the main
            # task is cancelled before its first step, so the coroutine is
            # closed, not left unawaited), without an abandonment warning.
            self._finish_abandoned(refused=True)
            raise

    # ---- the life cycle ------------------------------------------------

    def _lifecycle(self, coro: Coroutine[Any, Any, Any], context: Any) -> Generator[Any, Any, Any]:
        """asyncio.run(), with each run_until_complete(x) written as
        ``yield x`` (the driver sends back x's result or throws its error)."""
        loop = self._loop
        try:
            if sys.version_info >= (3, 11):
                task = loop.create_task(coro, context=context)
            else:  # 3.10 copies the current context instead
                task = context.run(loop.create_task, coro)
            self.main_task = task
            sigint = self._install_sigint(task)
            self._interrupt_count = 0
            try:
                return (yield task)
            except exceptions.CancelledError:
                if self._interrupt_count > 0:
                    uncancel = getattr(task, "uncancel", None)
                    if uncancel is not None and uncancel() == 0:
                        raise KeyboardInterrupt() from None
                raise
            finally:
                if sigint is not None and signal.getsignal(signal.SIGINT) is sigint:
                    signal.signal(signal.SIGINT, signal.default_int_handler)
        finally:
            try:
                yield from _runner.cancel_all_tasks(loop)
                yield loop.shutdown_asyncgens()
                if _runner.EXECUTOR_TIMEOUT:
                    yield loop.shutdown_default_executor(constants.THREAD_JOIN_TIMEOUT)
                else:
                    yield loop.shutdown_default_executor()
            finally:
                if self._set_event_loop:
                    events.set_event_loop(None)
                if self._io is not None:
                    self._io.stop()  # before its descriptor is closed
                loop.close()

    def _install_sigint(self, task: tasks.Task) -> Any:
        """asyncio.Runner's Ctrl-C handling (3.11+): the first cancels the
        main task, the second raises KeyboardInterrupt."""
        if not (
            _runner.RUNNER_SIGINT
            and threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            return None
        handler = functools.partial(self._on_sigint, main_task=task)
        try:
            signal.signal(signal.SIGINT, handler)
        except ValueError:
            return None
        return handler

    def _on_sigint(self, signum: int, frame: Any, main_task: tasks.Task) -> None:
        self._interrupt_count += 1
        if self._interrupt_count == 1 and not main_task.done():
            main_task.cancel()
            self._loop.call_soon_threadsafe(lambda: None)
            return
        if not self._in_tick and not self._finished and threading.get_ident() == self._host_thread:
            # In host code, between ticks.  asyncio.Runner lets the
            # KeyboardInterrupt leave run() only after tearing the run down
            # (remaining tasks cancelled, async generators and executor
            # shut down, loop closed): so here, before it reaches the host.
            self._interrupt_now(KeyboardInterrupt())
        raise KeyboardInterrupt()

    def _interrupt_now(self, exc: BaseException) -> None:
        """Fails the phase in progress with *exc* and runs the rest of the
        life cycle at once, with blocking waits; the outcome goes to
        done_callback if the host still holds a tick, else to the log."""
        with _abandon._abandon_lock:
            if self._finished or self._abandoning:
                return
            self._state = RunState.TAKEN_OVER
        try:
            self._sync = True
            self._keep_result = True
            self._loop._guestpoll_waiting = False
            self._selector._wait_cancel()
            self._selector._guest = 0
            if self._phase is not None:
                self._end_phase(exc)
            while not self._finished:
                self._tick(None)
            result, self._kept = self._kept, None
            handle = self._handle_ref() if self._handle_ref is not None else None
            if handle is not None and isinstance(handle.soon, _TrioSoon):
                handle.soon.close()
            if result is not None:
                if handle is not None:
                    handle.done_callback(result)
                else:
                    self._keep_result = False
                    self._result = result
                    self._deliver(None)
        except BaseException:
            logger.exception("guestpoll: tearing down an interrupted guest run failed")

    # ---- phases: run_until_complete spread over ticks ---------------------

    def _begin_phase(self, awaitable: Any) -> None:
        loop = self._loop
        while True:
            try:
                new_task = not futures.isfuture(awaitable)
                fut = tasks.ensure_future(awaitable, loop=loop)
                if new_task:
                    fut._log_destroy_pending = False
                fut.add_done_callback(base_events._run_until_complete_cb)
                self._phase = (fut, new_task)
                self._keep_hooks(self._run_forever_setup)
                return
            except BaseException as exc:
                self._phase = None
                awaitable = self._advance(outcome.Error(exc))
                if awaitable is None:
                    return

    def _run_forever_setup(self) -> None:
        _runner.run_forever_setup(self._loop)

    def _run_forever_cleanup(self) -> None:
        _runner.run_forever_cleanup(self._loop)

    @staticmethod
    def _keep_hooks(fn: Callable[[], None]) -> None:
        # Async generator hooks belong to whoever runs: the tick installs
        # the loop's and puts the host's back, so setup/cleanup must not
        # leave the loop's installed outside a tick.
        hooks = sys.get_asyncgen_hooks()
        try:
            fn()
        finally:
            sys.set_asyncgen_hooks(*hooks)

    def _end_phase(self, exc: Optional[BaseException]) -> None:
        assert self._phase is not None
        fut, new_task = self._phase
        self._phase = None
        try:
            self._keep_hooks(self._run_forever_cleanup)
        finally:
            fut.remove_done_callback(base_events._run_until_complete_cb)
        if exc is not None:
            if new_task and fut.done() and not fut.cancelled():
                fut.exception()  # consumed, as run_until_complete does
            result: outcome.Outcome = outcome.Error(exc)
        elif not fut.done():
            result = outcome.Error(RuntimeError("Event loop stopped before Future completed."))
        else:
            result = outcome.capture(fut.result)
        # The next phase begins in a tick of its own, after the host's turn.
        self._ended = result

    def _next_phase(self) -> None:
        """Feeds the phase that ended to the life cycle, which begins the
        next phase or finishes the run."""
        result, self._ended = self._ended, None
        assert result is not None
        awaitable = self._advance(result)
        if awaitable is not None:
            self._begin_phase(awaitable)

    def _advance(self, result: outcome.Outcome) -> Any:
        """Feeds a phase's outcome to the life cycle; returns the next
        awaitable, or None once the run is over."""
        assert self._gen is not None
        try:
            return result.send(self._gen)
        except StopIteration as stop:
            self._finish(outcome.Value(stop.value))
        except BaseException as exc:
            self._finish(outcome.Error(exc))
        return None

    # ---- ticks --------------------------------------------------------------

    def _wrong_thread(self) -> None:
        """A tick called on another thread than the host's (misuse): say so
        first, and finish the run where its loop, its SIGINT handler and
        its running-loop setting live, on the host thread."""
        current = threading.current_thread()
        error = RuntimeError(
            f"an asyncio guest tick was run on thread {current.name!r} "
            f"(id {current.ident}), not on the run's host thread (id {self._host_thread}), "
            "the one that called start_guest_run(): run_sync_soon_threadsafe and "
            "run_sync_soon_not_threadsafe must call fn() on the host thread.  "
            "The run cannot go on; it is finished on its host thread"
        )
        self._abandoned("because its host ran a tick on the wrong thread")
        raise error

    def _refuse_forked(self) -> None:
        raise RuntimeError(
            f"this asyncio guest run was started in process {self._pid}, and this "
            f"is a child process (pid {os.getpid()}) made by fork() while it ran: "
            "the run's waiter thread does not exist here, so its loop cannot be "
            "used in the child; start a new run (or asyncio.run) in the child instead"
        )

    def _tick(self, handle: Optional[_TickHandle]) -> None:
        if self._forked:
            self._refuse_forked()
        if handle is not None:
            if self._abandoning:
                if self._io is not None:
                    self._io.stop()  # a watch would fire again and again
                return  # taken over or over: the host's ticks do nothing
            if threading.get_ident() != self._host_thread:
                self._wrong_thread()
        if self._finished or self._in_tick:
            # A tick is scheduled or running already (a host loop re-entered
            # from inside a callback); that one carries on.
            return
        self._in_tick = True
        loop = self._loop
        loop._guestpoll_waiting = False
        hooks = sys.get_asyncgen_hooks()
        # sniffio >= 1.3 lets a loop claim the thread (Trio claims it for
        # its whole run); the guest claims it for the tick.
        sniffio_local = getattr(sys.modules.get("sniffio"), "thread_local", None)
        sniffio_name = None
        if sniffio_local is not None:
            sniffio_name = getattr(sniffio_local, "name", None)
            sniffio_local.name = "asyncio"
        sys.set_asyncgen_hooks(*self._loop_hooks)
        refused: Optional[BaseException] = None
        iterations = 0
        bound = self._tick_iterations  # the interleaving contract
        try:
            while True:
                if self._ended is not None:
                    self._next_phase()
                    if self._finished:
                        break
                try:
                    loop._run_once()
                except BaseException as exc:
                    self._end_phase(exc)
                else:
                    if loop._stopping:
                        self._end_phase(None)
                if self._forked:  # fork() was called in that iteration
                    self._refuse_forked()
                if handle is None:
                    break
                # With callbacks ready or a phase over, the next iteration
                # is due: no need to ask _schedule.
                due = True
                if self._ended is None and not loop._ready:
                    try:
                        due = self._schedule(handle)
                    except BaseException as exc:
                        # The wait could not be handed over: that fails
                        # the phase, and teardown goes on.
                        if self._phase is not None:
                            self._end_phase(exc)
                        due = True
                iterations += 1
                if self._ended is not None:
                    iterations = bound  # the host runs between phases
                if not due:
                    break
                # The next iteration is due at once: it runs in this tick
                # up to the bound, else after the host's turn.
                if iterations >= bound:
                    try:
                        handle.soon(handle.tick)
                    except BaseException as exc:
                        refused = exc
                    break
        finally:
            sys.set_asyncgen_hooks(*hooks)
            if sniffio_local is not None:
                sniffio_local.name = sniffio_name
            self._in_tick = False
            if self._io is not None and not self._finished:
                self._io.resume(handle)
        if refused is not None:
            # The host refuses to schedule ticks: the run cannot go on.
            # Finish it here as an abandoned one (warning, logged outcome)
            # rather than leave its loop running on the host thread, and
            # let the host see its error.
            warnings.warn(
                "asyncio guest run got abandoned: its host refused to schedule "
                f"the next tick ({type(refused).__name__}: {refused}); guestpoll "
                "cancels it and finishes it synchronously",
                RuntimeWarning,
                stacklevel=2,
            )
            self._finish_abandoned()
            raise refused
        if self._finished:
            self._deliver(handle)

    def _schedule(self, handle: _TickHandle) -> bool:
        """After a loop iteration: True if the next one is due at once;
        else hands the wait to the waiter (or leaves the wait in flight
        running) and returns False."""
        loop = self._loop
        selector = self._selector
        if loop._ready or loop._stopping:
            timeout: Optional[float] = 0
        elif loop._scheduled:
            timeout = loop._scheduled[0]._when - loop.time()
            timeout = min(max(0.0, timeout), base_events.MAXIMUM_SELECT_TIMEOUT)
        else:
            timeout = None
        if selector._wstate == _WAIT_INFLIGHT:
            # This tick was the host's (see _kick): the wait goes on and
            # its callback brings the next I/O tick, unless the loop now
            # needs to run sooner than that wait would end.
            if timeout == 0:
                return True
            if timeout is not None and loop.time() + timeout < self._wait_deadline - loop._clock_resolution:
                selector._notify()
                return False
            loop._guestpoll_waiting = True
            return False
        # Whatever became ready while this tick ran (often the answer the
        # loop is about to wait for: the peer may have run as soon as the
        # request was written) is taken at once, without a thread hop or a
        # round through the host's loop.
        if timeout == 0 or selector._poll_ready():
            return True
        if self._io is not None:
            # The no-thread path: the host's watch of the poller brings
            # the next tick, or its timer at the loop's next deadline.
            loop._guestpoll_waiting = True
            when = loop._scheduled[0]._when if timeout is not None else None
            self._io.arm(when, loop.time(), handle)
            return False
        wakeup = _Wakeup(handle)
        loop._guestpoll_waiting = True
        try:
            # Called on the waiter thread (with the GIL) when the wait ends.
            selector._wait_start(timeout, wakeup)
        except BaseException:
            loop._guestpoll_waiting = False
            raise
        self._wakeup = wakeup
        self._wait_deadline = math.inf if timeout is None else loop.time() + timeout
        return False

    def _kick(self) -> bool:
        """Host code on the host thread made guest work due while the wait
        is in flight: queue a tick with the host directly, not through the
        waiter thread (the wait goes on, see _schedule).  False if that is
        not possible, and the caller wakes the wait instead."""
        if self._io is not None:
            handle = self._handle_ref() if self._handle_ref is not None else None
        else:
            wakeup = self._wakeup
            handle = wakeup._handle if wakeup is not None else None
        if (
            handle is None
            or self._in_tick
            or (self._io is None and self._selector._wstate != _WAIT_INFLIGHT)
            or threading.get_ident() != self._host_thread
        ):
            return False
        try:
            handle.soon(handle.tick)
        except BaseException:
            return False
        return True

    # ---- the end --------------------------------------------------------

    def _restore(self) -> None:
        loop = self._loop
        if loop is not None and self._orig_class is not None:
            loop.__class__ = self._orig_class
            self._orig_class = None

    def _io_ready(self, handle: _TickHandle) -> None:
        if self._in_tick and not self._abandoning and self._io is not None:
            self._io.pause()  # a nested host loop inside asyncio code
            return
        self._tick(handle)

    def _io_timer(self, handle: _TickHandle) -> None:
        if self._io is not None:
            self._io.fired()
        self._tick(handle)

    def _finish(self, result: outcome.Outcome) -> None:
        self._state = RunState.FINISHED
        if self._io is not None:
            self._io.stop()
        first_wakeup = self.__dict__.pop("_first_wakeup", lambda: None)()  # _watchdog
        if first_wakeup is not None:
            first_wakeup.close()
        _abandon._live_runs.discard(self)
        ref, self._watch = self._watch, None
        watch = ref() if ref is not None else None
        if watch is not None:
            try:
                watch.runs.remove(self)
            except ValueError:
                pass
        self._gen = None
        self._restore()
        self._result = result
        if self._loop is not None:
            self._loop._guestpoll_run = None

    def _deliver(self, handle: Optional[_TickHandle]) -> None:
        # Runs as host code: outside the tick's asyncgen hooks and sniffio.
        _abandon._host_hooks_release(self)
        if handle is not None and isinstance(handle.soon, _TrioSoon):
            handle.soon.close()
        result, self._result = self._result, None
        if result is None or self._discard:
            return
        if self._keep_result:
            self._kept = result  # host_gone() returns it
            return
        if handle is not None and not self._sync:
            handle.done_callback(result)
        elif isinstance(result, outcome.Error):
            logger.error(
                "asyncio guest run was abandoned; couldn't deliver the guest exception:",
                exc_info=(type(result.error), result.error, result.error.__traceback__),
            )
        else:
            logger.error(
                "asyncio guest run was abandoned; couldn't deliver the guest result: %r",
                result.value,
            )

    # ---- abandonment -------------------------------------------------

    def _abandoned(self, why: str = "by its host before it finished") -> None:
        """The host dropped the run's last tick handle before the end (or
        its thread exited): warn, then finish the run."""
        if self._forked:
            return  # nothing can be done for it in a forked child
        with _abandon._abandon_lock:
            if self._finished or self._abandoning:
                return
            self._state = RunState.TAKEN_OVER
        warnings.warn(
            f"asyncio guest run got abandoned {why}; "
            "guestpoll cancels it and finishes it",
            RuntimeWarning,
            stacklevel=2,
        )
        if threading.get_ident() == self._host_thread and not self._host_exiting:
            self._finish_abandoned()
        elif self._host_thread == _abandon._main_ident():
            # Signal handlers and the wake-up fd can only be put back on
            # the main thread: finish the run there, at its next bytecode.
            _call_on_main(self._finish_abandoned)
        else:
            _abandon.hand_over(self)

    def _host_exited(self) -> None:
        """The host thread (not the main one) is exiting with the run
        unfinished: the finisher thread takes it over."""
        self._host_exiting = True
        self._abandoned("because its host thread exited")
        _abandon._finisher.wake()  # a run waiting for this thread: at once

    def _adopt(self) -> None:
        """The calling thread takes the run over from its host thread,
        which is gone or will never run a tick again: the loop becomes
        this thread's running loop for the phase in progress."""
        if not self._host_exiting:
            _abandon._leave_stale_loop(self)
        self._host_thread = threading.get_ident()
        loop = self._loop
        if self._phase is not None:
            events._set_running_loop(loop)
            loop._thread_id = self._host_thread

    def _finish_abandoned(self, refused: bool = False) -> None:
        """Finishes the run synchronously on the calling thread; the
        outcome is logged, or dropped if the host *refused* the run's first
        tick (start_guest_run raises the host's error instead)."""
        if self._finished or self._forked:
            return
        self._state = RunState.TAKEN_OVER
        self._claimed = True  # no other thread is to finish it now
        try:
            if threading.get_ident() != self._host_thread:
                self._adopt()
            self._sync = True
            self._loop._guestpoll_waiting = False
            self._selector._wait_cancel()
            self._selector._guest = 0  # select() blocks from now on
            message = REFUSED_MESSAGE if refused else ABANDONED_MESSAGE
            main = self.main_task
            if main is not None and not main.done():
                main.cancel(message)
            else:
                for task in tasks.all_tasks(self._loop):
                    task.cancel(message)
            self._discard = refused
            while not self._finished:
                self._tick(None)
            self._deliver(None)
        except BaseException:
            logger.exception("guestpoll: finishing an abandoned guest run failed")


def _call_main(main: Any, args: tuple[Any, ...]) -> Any:
    """start_guest_run's first arguments: a coroutine (aioguest's form) or
    an async function and its arguments (Trio's and CPython's proposed
    ``asyncio.start_guest_run(async_fn, *args)``): what to run."""
    if args:
        if not callable(main):
            if coroutines.iscoroutine(main):
                main.close()
            raise TypeError(
                f"start_guest_run() got positional arguments {args!r} for {main!r}, "
                "which is not callable: pass an async function and its arguments, "
                "or a coroutine alone"
            )
        return main(*args)
    if inspect.iscoroutinefunction(main):
        # An async function alone (CPython's proposed form).  One that
        # cannot be called without arguments is refused as asyncio.run
        # refuses any function.
        try:
            inspect.signature(main).bind()
        except (TypeError, ValueError):
            return main
        return main()
    return main


def start_guest_run(
    coro: Any,
    *args: Any,
    run_sync_soon_threadsafe: Callable[[Callable[[], None]], object],
    done_callback: Callable[[outcome.Outcome], object],
    run_sync_soon_not_threadsafe: Optional[Callable[[Callable[[], None]], object]] = None,
    debug: Optional[bool] = None,
    loop_factory: Optional[Callable[[], Any]] = None,
    host_watch: Any = None,
) -> Optional[tasks.Task]:
    """Start ``asyncio.run(coro)`` as a guest of the running host loop.

    *coro* is a coroutine (aioguest's form), or an async function called
    with *args* (the form of Trio's ``start_guest_run`` and of CPython's
    proposed ``asyncio.start_guest_run(async_fn, *args, ...)``).

    The host provides *run_sync_soon_threadsafe(fn)*, which must arrange for
    ``fn()`` to be called soon on the host thread and may be called from any
    thread, and optionally *run_sync_soon_not_threadsafe(fn)*, the same from
    the host thread only (often cheaper; for a Trio host passing only the
    current run's ``TrioToken.run_sync_soon``, guestpoll makes one from a
    Trio system task).  When the run is over,
    *done_callback* is called on the host thread with an
    :class:`outcome.Value` holding ``coro``'s result or an
    :class:`outcome.Error` holding the exception.

    *debug* is passed to the loop's ``set_debug``; *loop_factory*, a callable
    making the event loop: any :class:`asyncio.SelectorEventLoop` (its
    selector is replaced by a :class:`guestpoll.Selector`) or, on Windows,
    an :class:`asyncio.ProactorEventLoop` (its completion-port wait runs on
    a waiter thread; CPython 3.13 or newer).  Without it the loop is a
    selector loop over a :class:`guestpoll.Selector`, except on Windows
    with CPython 3.13 or newer, where it is the loop ``asyncio.run`` would
    make: the proactor loop by default.

    Each host callback (a *tick*) runs one iteration of the asyncio loop,
    as aioguest's and Trio's guest modes do, so a host callback that guest
    code queues runs before the guest's next iteration.

    Returns the main :class:`asyncio.Task`, which wraps *coro*, mostly for
    cancelling it.  The run is not over when that task is: remaining tasks,
    async generators and the default executor are shut down afterwards.
    Errors noticed before the run starts (a non-coroutine, a running event
    loop in this thread, a loop that cannot be a guest) are raised here.

    If *run_sync_soon_not_threadsafe* (or, without it,
    *run_sync_soon_threadsafe*) raises when asked for the first tick,
    that exception is raised here and there is no run; raising later, from
    a tick, it reaches the host and the run is finished as an abandoned one
    (below).

    If the host drops the callbacks it was handed before the run is over,
    the run is *abandoned*: guestpoll warns (:class:`RuntimeWarning`),
    cancels the main task (or, once that is done, every task), finishes the
    run synchronously on the host thread and logs the outcome to the
    ``guestpoll`` logger instead of calling *done_callback*.

    *host_watch* (guestpoll's own; aioguest has no such argument) lets a
    host that can watch a descriptor and run a timer drive the run without
    libguestpoll's waiter thread: an object with ``watch_fd(fd, fn)`` (call
    ``fn()`` on the host thread whenever *fd* is readable, until
    ``unwatch_fd()``) and ``set_timer(delay, fn)`` (call ``fn()`` once,
    *delay* seconds from now, rounded up to the timer's resolution; it
    replaces the timer set before, and ``cancel_timer()`` drops it), all
    four called on the host thread only.  It is used when the backend has a
    pollable descriptor (epoll, kqueue); on poll and IOCP the waiter
    thread runs as without it.  The run keeps only a weak reference to it.
    """
    return _start_guest_run(
        coro,
        args,
        run_sync_soon_threadsafe,
        done_callback,
        run_sync_soon_not_threadsafe,
        debug,
        loop_factory,
        host_watch,
        False,
    )


def _start_guest_run(
    coro: Any,
    args: tuple[Any, ...],
    run_sync_soon_threadsafe: Callable[[Callable[[], None]], object],
    done_callback: Callable[[outcome.Outcome], object],
    run_sync_soon_not_threadsafe: Optional[Callable[[Callable[[], None]], object]],
    debug: Optional[bool],
    loop_factory: Optional[Callable[[], Any]],
    host_watch: Any,
    require_watch: bool,
    tick_iterations: Optional[int] = None,
) -> Optional[tasks.Task]:
    """start_guest_run(); *require_watch*: RuntimeError rather than the
    waiter thread when *host_watch* cannot be used; *tick_iterations*: the
    run's interleaving bound (default TICK_ITERATIONS)."""
    coro = _runner.accept_main(_call_main(coro, args))
    if host_watch is not None and not _hostwatch.supports(host_watch):
        coro.close()
        raise TypeError(
            f"host_watch={host_watch!r} lacks watch_fd, unwatch_fd, set_timer or cancel_timer"
        )
    if _abandon._stale_running:
        _abandon._clear_stale_running_loop()
    if events._get_running_loop() is not None:
        coro.close()
        raise RuntimeError("start_guest_run() cannot be called from a running event loop")
    run = _GuestRun()
    if tick_iterations is not None:
        run._tick_iterations = tick_iterations
    soon = run_sync_soon_not_threadsafe
    if soon is None:
        soon = _trio_soon(run_sync_soon_threadsafe) or run_sync_soon_threadsafe
    handle = _TickHandle(run, run_sync_soon_threadsafe, soon, done_callback)
    run._handle_ref = weakref.ref(handle)
    if _watchdog.needed(run_sync_soon_threadsafe):
        # Warns if the first tick handed over from the waiter thread never runs.
        handle.threadsafe = _watchdog.FirstWakeup(run, handle, run_sync_soon_threadsafe)
        run._first_wakeup = weakref.ref(handle.threadsafe)
    try:
        run.start(coro, debug, loop_factory, handle, host_watch, require_watch)
    finally:
        if run._finished and isinstance(soon, _TrioSoon):
            soon.close()
    if not run._finished:
        _abandon._live_runs.add(run)
        _abandon._watch_host_thread(run)
        _abandon._host_hooks_acquire(run)
    return run.main_task


def host_gone(main_task: tasks.Task) -> Optional[outcome.Outcome]:
    """The host says it is gone: it will run no more ticks of the guest run
    whose main task is *main_task*.  The run is finished at once, on the
    calling thread: its tasks are cancelled (with ``ABANDONED_MESSAGE``),
    the rest of ``asyncio.run``'s life cycle runs with blocking waits, and
    the loop is closed.  Returns the run's outcome (*done_callback* is not
    called); ``None`` if the run was over already.  No
    :class:`RuntimeWarning`: this is the orderly way to abandon a run.  Call it on the host thread, outside
    a tick; ticks still queued with the host do nothing afterwards."""
    if not isinstance(main_task, futures.Future):
        raise TypeError(f"host_gone() expects the main task start_guest_run returned, got {main_task!r}")
    if _abandon._stale_running:
        _abandon._clear_stale_running_loop()
    run = getattr(main_task.get_loop(), "_guestpoll_run", None)
    if run is None or run._finished:
        return None
    if run.main_task is not main_task:
        raise ValueError("host_gone(): not the main task of a guest run")
    if threading.get_ident() != run._host_thread:
        raise RuntimeError("host_gone() must be called on the guest run's host thread")
    if run._in_tick:
        raise RuntimeError("host_gone() cannot be called from inside the guest run")
    with _abandon._abandon_lock:
        if run._abandoning:
            return None
        run._state = RunState.TAKEN_OVER
    run._keep_result = True
    run._finish_abandoned()
    result, run._kept = run._kept, None
    return result
