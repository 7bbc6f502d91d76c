"""asyncio inside any host loop, in one call: the layer the toolkit
modules (:mod:`guestpoll.qt`, :mod:`guestpoll.tk`, :mod:`guestpoll.glib`,
:mod:`guestpoll.trio`) are built on, and the helper for loops of your own
(a game loop, a plain queue of callables).

A *host* is anything that can run a callable soon on its own thread:
``Host.call_soon_threadsafe(fn)`` (any thread) and ``Host.call_soon(fn)``
(host thread only).  :func:`start` starts an asyncio run as a guest of a
host and returns a :class:`GuestRun`: the main task, the outcome once it
is there, callbacks for it, and :meth:`GuestRun.close` to end the run when
the host's loop ends.  Without a host, :func:`start` makes a
:class:`CallbackQueue`, which the host loop drains each turn (a game
loop's frame: ``run.host.run_pending()``) or blocks on
(``run.host.wait()``).

Inside a run, :func:`async_handler` turns an ``async def`` into a plain
callable for a toolkit's callbacks (button commands, Qt slots): each call
starts a task.  :func:`call_on_host` runs a blocking host call (a modal
dialog) from asyncio code without freezing asyncio: the call runs as a
host callback, so the dialog's nested loop keeps running the guest.

Two paths.  A host whose loop can watch a descriptor and run a timer
(Qt, Tk, GLib and Trio can; see :meth:`Host.watch_fd`) drives the run
*without a thread*: it watches the poller's own descriptor (epoll or
kqueue) and carries the loop's next deadline on its timer, so a guest
round trip costs what a native one does.  Other hosts, and the poll and
IOCP backends, take the *waiter-thread* path: libguestpoll's waiter
thread does the kernel wait and wakes the host with
:meth:`Host.call_soon_threadsafe`.  ``waiter_thread=`` on :func:`start`
(and on each toolkit's ``start``/``run``) chooses: None (the default) the
no-thread path where possible, True the thread, False no thread or
RuntimeError.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import inspect
import math
import queue
import threading
from asyncio import events
from typing import Any, Awaitable, Callable, Optional

import outcome

from ._guest import _start_guest_run, host_gone

__all__ = [
    "Host",
    "CallbackQueue",
    "GuestRun",
    "start",
    "run",
    "current_run",
    "async_handler",
    "call_on_host",
]

_Callback = Callable[[], object]

#: The interleaving bound of runs started here (and by guestpoll.qt, tk,
#: glib and trio): a host callback runs up to this many asyncio loop
#: iterations back to back while the next one is due at once, then the
#: host gets its turn (see guestpoll-python(7), "The interleaving
#: contract").  guestpoll.start_guest_run, aioguest's drop-in, runs one,
#: as aioguest does; here an I/O round trip (the event, then the task it
#: wakes) takes one host callback instead of two or more.
TICK_ITERATIONS = 64


class Host:
    """What a guest run needs from its host loop.

    Subclasses implement :meth:`call_soon_threadsafe`; :meth:`call_soon`
    defaults to it.  Both queue ``self.dispatch(fn)``-style work: the
    callable they are given must run on the host thread, soon, once, and
    *outside* any asyncio code (as a callback of the host's own loop).
    Callables queued this way go through :meth:`dispatch`, which runs
    what must follow a guest tick (a :meth:`GuestRun.close` asked for
    from inside asyncio code).  :meth:`close` is called once the run is
    over: release what the host set up (a descriptor watch, an object).
    """

    # guestpoll's own hosts wake their loop correctly from any thread: no
    # first-wake-up watch for them (see _watchdog); subclasses written
    # outside guestpoll are watched.
    _guestpoll_trusted_wakeup = False

    def __init__(self) -> None:
        self._after: collections.deque[_Callback] = collections.deque()
        self.thread_id = threading.get_ident()

    def call_soon_threadsafe(self, fn: _Callback) -> None:
        """Run ``fn()`` soon on the host thread; callable from any thread."""
        raise NotImplementedError

    def call_soon(self, fn: _Callback) -> None:
        """Run ``fn()`` soon on the host thread; host thread only."""
        self.call_soon_threadsafe(fn)

    def dispatch(self, fn: _Callback) -> None:
        """Runs *fn* (a queued callable), then what was deferred to the
        end of a tick.  Hosts call this for each callable they run."""
        try:
            fn()
        finally:
            after = self._after
            while after:
                after.popleft()()

    def close(self) -> None:
        """The run is over: release the host's resources."""

    def after_tick(self, fn: _Callback) -> None:
        """Runs *fn* on the host thread once the current guest tick is
        over (called from inside one)."""
        self._after.append(fn)

    def scheduling(self) -> tuple[Callable[[_Callback], object], Optional[Callable[[_Callback], object]]]:
        """The two callables handed to :func:`guestpoll.start_guest_run`:
        run_sync_soon_threadsafe and run_sync_soon_not_threadsafe."""
        return self.call_soon_threadsafe, self.call_soon

    # ---- the no-thread path: optional ------------------------------------
    # A host implements all four, on its own loop, host thread only; then
    # can_watch_fd is True and runs need no waiter thread.

    def watch_fd(self, fd: int, fn: _Callback) -> None:
        """Runs ``self.dispatch(fn)`` on the host thread whenever *fd* is
        readable (level-triggered: again and again while it stays
        readable), until :meth:`unwatch_fd`.  One watch per host; a new
        one replaces the old."""
        raise NotImplementedError

    def unwatch_fd(self) -> None:
        """Ends the watch :meth:`watch_fd` set up (no-op without one)."""
        raise NotImplementedError

    def set_timer(self, delay: float, fn: _Callback) -> None:
        """Runs ``self.dispatch(fn)`` once, *delay* seconds from now
        (rounded up to the timer's resolution, never early), replacing
        the timer set before."""
        raise NotImplementedError

    def cancel_timer(self) -> None:
        """Drops the timer :meth:`set_timer` set (no-op without one)."""
        raise NotImplementedError

    @property
    def can_watch_fd(self) -> bool:
        """Whether this host implements the no-thread path's methods."""
        return type(self).watch_fd is not Host.watch_fd

    @staticmethod
    def milliseconds(delay: float) -> int:
        """*delay* seconds as whole milliseconds, rounded up (a timer that
        fires early would make the guest wake up for nothing), within
        what 32-bit millisecond timers accept."""
        return min(max(0, math.ceil(delay * 1e3)), 2**31 - 1)


class _FunctionHost(Host):
    """A host made of the caller's two scheduling callables."""

    def __init__(self, threadsafe: Callable[[_Callback], object], soon: Optional[Callable[[_Callback], object]]) -> None:
        super().__init__()
        self._threadsafe = threadsafe
        self._soon = soon

    def call_soon_threadsafe(self, fn: _Callback) -> None:
        self._threadsafe(functools.partial(self.dispatch, fn))

    def call_soon(self, fn: _Callback) -> None:
        if self._soon is None:
            self.call_soon_threadsafe(fn)
        else:
            self._soon(functools.partial(self.dispatch, fn))


class CallbackQueue(Host):
    """The simplest host: a thread-safe queue of callables that the host
    thread drains.  A game loop calls :meth:`run_pending` once a frame; a
    loop with nothing else to do blocks in :meth:`wait`."""

    _guestpoll_trusted_wakeup = True

    def __init__(self) -> None:
        super().__init__()
        self._q: queue.SimpleQueue[_Callback] = queue.SimpleQueue()

    def call_soon_threadsafe(self, fn: _Callback) -> None:
        self._q.put(fn)

    def run_pending(self) -> int:
        """Runs the callables queued so far, without waiting; returns how
        many ran.  Host thread only."""
        n = 0
        for _ in range(self._q.qsize()):
            try:
                fn = self._q.get_nowait()
            except queue.Empty:
                break
            n += 1
            self.dispatch(fn)
        return n

    def wait(self, timeout: Optional[float] = None) -> int:
        """Blocks until a callable is queued (at most *timeout* seconds),
        then runs it and the others queued so far; returns how many ran."""
        try:
            fn = self._q.get(timeout=timeout)
        except queue.Empty:
            return 0
        self.dispatch(fn)
        return 1 + self.run_pending()


# The runs of each host thread, newest last: async_handler and
# call_on_host find theirs here.
_runs: dict[int, list["GuestRun"]] = {}
_runs_lock = threading.Lock()


async def _until_closed() -> None:
    # The main task of a run started without one: it waits until the
    # run is closed (its host's loop ended).
    await asyncio.get_running_loop().create_future()


class GuestRun:
    """One asyncio run inside a host loop, as :func:`start` returns it.

    ``task``: the main task (None if the run ended during :func:`start`);
    ``loop``: the run's event loop; ``host``: the :class:`Host`;
    ``outcome``: an :class:`outcome.Outcome` once the run is over, else
    None.  Used as a context manager, it closes the run on exit: wrap the
    host's loop in ``with`` and the run ends with it."""

    def __init__(
        self,
        host: Host,
        main: Any,
        args: tuple[Any, ...],
        debug: Optional[bool],
        loop_factory: Any,
        waiter_thread: Optional[bool] = None,
    ) -> None:
        self.host = host
        self.outcome: Optional[outcome.Outcome] = None
        self.loop: Any = None
        self._no_main = main is None
        self._callbacks: list[Callable[[outcome.Outcome], object]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False
        if main is None:
            main = _until_closed
        if callable(main) and not inspect.iscoroutine(main) and not hasattr(main, "__await__"):
            main, args = main(*args), ()  # an async function and its arguments
        if waiter_thread is False and not host.can_watch_fd:
            if inspect.iscoroutine(main):
                main.close()
            raise RuntimeError(
                f"waiter_thread=False: {type(host).__name__} cannot watch a descriptor "
                "(it does not implement Host.watch_fd), so its runs need the waiter thread"
            )
        watch = host if host.can_watch_fd and not waiter_thread else None
        threadsafe, soon = host.scheduling()
        #: False when the run takes the no-thread path (the host watches
        #: the poller), True when libguestpoll's waiter thread waits for it.
        self.waiter_thread = True
        self.task: Optional[asyncio.Task[Any]] = _start_guest_run(
            main,
            args,
            threadsafe,
            self._done,
            soon,
            debug,
            loop_factory,
            watch,
            waiter_thread is False,
            TICK_ITERATIONS,
        )
        if self.task is not None:
            run = getattr(self.task.get_loop(), "_guestpoll_run", None)
            self.waiter_thread = run is None or run._io is None
        if self.outcome is None and self.task is not None:
            self.loop = self.task.get_loop()
            with _runs_lock:
                _runs.setdefault(host.thread_id, []).append(self)

    # ---- the outcome ---------------------------------------------------------

    @property
    def done(self) -> bool:
        """True once the run is over (the outcome is there)."""
        return self.outcome is not None

    def _done(self, result: outcome.Outcome) -> None:
        if self.outcome is not None:
            return
        if self._no_main and isinstance(result, outcome.Error) and isinstance(result.error, asyncio.CancelledError):
            result = outcome.Value(None)  # closed, as a run without main ends
        self.outcome = result
        with _runs_lock:
            runs = _runs.get(self.host.thread_id)
            if runs is not None and self in runs:
                runs.remove(self)
                if not runs:
                    del _runs[self.host.thread_id]
        try:
            self.host.close()
        finally:
            callbacks, self._callbacks = self._callbacks, []
            for cb in callbacks:
                cb(result)

    def add_done_callback(self, fn: Callable[[outcome.Outcome], object]) -> None:
        """Calls ``fn(outcome)`` on the host thread when the run is over
        (at once if it is over already)."""
        if self.outcome is not None:
            fn(self.outcome)
        else:
            self._callbacks.append(fn)

    def result(self) -> Any:
        """The main coroutine's result, or its exception raised; a run
        started without a main coroutine gives None.  RuntimeError if the
        run is not over."""
        if self.outcome is None:
            raise RuntimeError("the asyncio guest run is not over")
        return self.outcome.unwrap()

    # ---- host code into the run ------------------------------------------

    def spawn(self, async_fn: Any, *args: Any) -> asyncio.Task[Any]:
        """Starts ``async_fn(*args)`` (or a coroutine object) as a task of
        the run, from host code or from asyncio code; returns the task.
        The run keeps the task alive; an exception it ends with goes to
        the loop's exception handler at once."""
        if self.loop is None or self.outcome is not None or self._closing:
            if inspect.iscoroutine(async_fn):
                async_fn.close()
            raise RuntimeError("the asyncio guest run is over")
        coro = async_fn(*args) if not inspect.iscoroutine(async_fn) else async_fn
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.loop.call_exception_handler(
                {"message": "unhandled exception in a task started by a host callback", "exception": task.exception(), "task": task}
            )

    # ---- the end -------------------------------------------------------------

    def cancel(self) -> None:
        """Cancels the main task: the run ends once it has wound down."""
        if self.task is not None:
            self.task.cancel()

    def close(self) -> Optional[outcome.Outcome]:
        """The host's loop ended (or is about to): end the run now.  Its
        tasks are cancelled, ``asyncio.run``'s teardown runs, done
        callbacks get the outcome, which is returned (None if the run
        was over already).  From inside the run's own asyncio code the
        end comes right after the current tick, and None is returned."""
        if self.outcome is not None or self.task is None:
            return None
        if self._in_tick():
            if not self._closing:
                self._closing = True
                self.host.after_tick(self.close)
            return None
        self._closing = True
        result = host_gone(self.task)
        if result is not None:
            self._done(result)
        return self.outcome

    def _in_tick(self) -> bool:
        # The run's loop stays this thread's running loop between ticks
        # (as in asyncio.run); whether asyncio code runs now is the tick's.
        state = getattr(self.loop, "_guestpoll_run", None)
        return bool(state is not None and state._in_tick)

    def __enter__(self) -> "GuestRun":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.outcome is None else f"done: {self.outcome!r}"
        return f"<GuestRun {state} host={type(self.host).__name__}>"


def start(
    main: Any = None,
    *args: Any,
    host: Optional[Host] = None,
    call_soon_threadsafe: Optional[Callable[[_Callback], object]] = None,
    call_soon: Optional[Callable[[_Callback], object]] = None,
    done_callback: Optional[Callable[[outcome.Outcome], object]] = None,
    debug: Optional[bool] = None,
    loop_factory: Optional[Callable[[], Any]] = None,
    waiter_thread: Optional[bool] = None,
) -> GuestRun:
    """Starts ``asyncio.run(main(*args))`` as a guest of a host loop on
    this thread and returns its :class:`GuestRun`.

    *main* is an async function (called with *args*), a coroutine, or None
    for a run without a main coroutine: it lasts until
    :meth:`GuestRun.close`, with tasks started by :func:`async_handler`
    and :meth:`GuestRun.spawn`.  The host is *host* (a :class:`Host`), or
    one made of *call_soon_threadsafe* (and optionally *call_soon*, its
    host-thread-only twin), or else a new :class:`CallbackQueue`, which
    the caller then drains (``run.host.run_pending()`` or
    ``run.host.wait()``).  *done_callback(outcome)* is called on the host
    thread at the end.  *debug* and *loop_factory* are
    :func:`guestpoll.start_guest_run`'s.  *waiter_thread*: None (the
    default) drives the run without a waiter thread when the host can
    watch a descriptor (:attr:`Host.can_watch_fd`) and the backend has one
    (epoll, kqueue), else with it; True always with the thread; False
    never (RuntimeError when that is impossible).
    :attr:`GuestRun.waiter_thread` says which it was."""
    if host is None:
        if call_soon_threadsafe is not None:
            host = _FunctionHost(call_soon_threadsafe, call_soon)
        else:
            if call_soon is not None:
                raise TypeError("call_soon needs call_soon_threadsafe")
            host = CallbackQueue()
    elif call_soon_threadsafe is not None or call_soon is not None:
        raise TypeError("pass either host or call_soon_threadsafe/call_soon, not both")
    guest = GuestRun(host, main, args, debug, loop_factory, waiter_thread)
    if done_callback is not None:
        guest.add_done_callback(done_callback)
    return guest


def run(main: Any, *args: Any, debug: Optional[bool] = None) -> Any:
    """``asyncio.run(main(*args))`` through a :class:`CallbackQueue` host
    pumped by the calling thread: the smallest host loop there is, for
    tests and for code that wants the guest machinery without a toolkit.
    Returns main's result or raises its exception."""
    guest = start(main, *args, debug=debug)
    queue_host = guest.host
    assert isinstance(queue_host, CallbackQueue)
    with guest:
        while not guest.done:
            queue_host.wait()
    return guest.result()


def current_run() -> GuestRun:
    """The guest run of the running asyncio code, else the newest run
    hosted by this thread.  RuntimeError if there is none."""
    loop = events._get_running_loop()
    with _runs_lock:
        runs = list(_runs.get(threading.get_ident(), ()))
    if loop is not None:
        for guest in runs:
            if guest.loop is loop:
                return guest
    if runs:
        return runs[-1]
    raise RuntimeError(
        "no asyncio guest run on this thread: start one first "
        "(guestpoll.hosts.start, or the toolkit's guestpoll.qt/tk/glib.run)"
    )


def _fit(fn: Callable[..., Any]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """How many of a toolkit's callback arguments *fn* takes: toolkits pass
    what their signal carries (a ``checked`` flag, an event), and a handler
    written without it must still work (Qt's own slots drop extra ones)."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return lambda args: args
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return lambda args: args
    n = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
    return lambda args: args[:n]


def async_handler(async_fn: Callable[..., Awaitable[Any]]) -> Callable[..., asyncio.Task[Any]]:
    """Decorator: a plain callable that starts ``async_fn(*args)`` as a
    task of the current guest run (:func:`current_run`) and returns the
    task, for toolkit callbacks (Tk commands, Qt slots, GLib signals).
    Extra arguments the toolkit passes and *async_fn* does not take are
    dropped.  Works on functions and methods."""
    fit = _fit(async_fn)

    @functools.wraps(async_fn)
    def handler(*args: Any) -> asyncio.Task[Any]:
        return current_run().spawn(async_fn, *fit(args))

    return handler


async def call_on_host(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """From asyncio code: runs ``fn(*args, **kwargs)`` as a host callback, outside
    the guest's tick, and returns its result (or raises its exception).
    For blocking host calls that run a nested loop, a modal dialog above
    all: asyncio keeps running while it is open, because the nested loop
    runs the guest's ticks like any other host callback."""
    guest = current_run()
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[Any] = loop.create_future()

    def call() -> None:
        if fut.cancelled():
            return
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            if not fut.done():
                fut.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        if not fut.done():
            fut.set_result(result)

    guest.host.call_soon(call)
    return await fut
