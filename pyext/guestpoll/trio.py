"""asyncio inside Trio, both directions, in one call.

From Trio code::

    result = await guestpoll.trio.run_asyncio(fetch, url)   # an asyncio coroutine

and from asyncio code running that way::

    result = await guestpoll.trio.run_trio(trio_fn, arg)    # a Trio function

Each Trio run gets one asyncio loop, started as a guest at the first
:func:`run_asyncio` and ended with the Trio run (a Trio system task owns
it).  Cancellation crosses in both directions: a cancelled Trio caller
cancels the asyncio task (and waits for it to wind down); a cancelled
asyncio caller cancels the Trio function's cancel scope.  Exceptions keep
their tracebacks.  By default no thread waits for asyncio: a Trio system
task waits until the poller's descriptor is readable
(``trio.lowlevel.wait_readable``), another until the loop's next deadline
comes (a cancel scope's deadline), and either runs the asyncio loop's next tick (the
no-thread path, see :mod:`guestpoll.hosts`; :func:`guest` chooses).
With the waiter thread, its wake-up is the Trio run's
``TrioToken.run_sync_soon``.

What maps to what, for trio-asyncio users: ``async with
trio_asyncio.open_loop()`` is not needed (the loop comes with the first
call); ``await trio_asyncio.aio_as_trio(fn)(*args)`` is ``await
run_asyncio(fn, *args)``; ``await trio_asyncio.trio_as_aio(fn)(*args)``
is ``await run_trio(fn, *args)``.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any, Callable, Optional

import outcome
import trio

from . import hosts
from .hosts import GuestRun

__all__ = ["TrioHost", "run_asyncio", "run_trio", "guest"]


class TrioHost(hosts.Host):
    """A :class:`guestpoll.hosts.Host` for the Trio run of this thread:
    ``TrioToken.run_sync_soon``, with guestpoll's Trio fast path for the
    host-thread side."""

    _guestpoll_trusted_wakeup = True

    def __init__(self) -> None:
        super().__init__()
        self.token = trio.lowlevel.current_trio_token()
        self.nursery: Any = None  # where run_trio starts Trio functions
        # The no-thread path: system tasks watch the fd and run the timer.
        self._watch: Optional[_Watch] = None

    def call_soon_threadsafe(self, fn: Callable[[], object]) -> None:
        self.token.run_sync_soon(fn)

    def scheduling(self) -> tuple[Callable[[Callable[[], object]], object], None]:
        # The token's own bound method: start_guest_run recognises it and
        # queues host-thread ticks through a Trio system task.
        return self.token.run_sync_soon, None

    def after_tick(self, fn: Callable[[], object]) -> None:
        self.token.run_sync_soon(fn)

    # ---- the no-thread path -------------------------------------------

    def watch_fd(self, fd: int, fn: Callable[[], object]) -> None:
        self.unwatch_fd()
        self._watch = _Watch(self, fd, fn)
        trio.lowlevel.spawn_system_task(self._watch.main, name="guestpoll: asyncio guest's poller watch")

    def unwatch_fd(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.stop()

    def set_timer(self, delay: float, fn: Callable[[], object]) -> None:
        if self._watch is None:
            raise RuntimeError("TrioHost.set_timer() needs watch_fd() first")
        self._watch.set_deadline(trio.current_time() + delay, fn)

    def cancel_timer(self) -> None:
        if self._watch is not None:
            self._watch.set_deadline(math.inf, None)

    def close(self) -> None:
        self.unwatch_fd()


class _Watch:
    """The system tasks of :meth:`TrioHost.watch_fd`: one waits until the
    fd is readable and runs *fn*, again and again; the other, started at
    the first timer, sleeps under a cancel scope whose deadline is the
    timer's and runs the timer's callable.  Two tasks, so that the fd's
    wait (every round trip) needs no cancel scope of its own, and moving
    the timer is just setting a deadline."""

    def __init__(self, host: TrioHost, fd: int, fn: Callable[[], object]) -> None:
        self.host = host
        self.fd = fd
        self.fn: Optional[Callable[[], object]] = fn
        self.waiting = False  # the fd task is in wait_readable
        self.deadline = math.inf
        self.timer_fn: Optional[Callable[[], object]] = None
        self.timer_scope: Optional[trio.CancelScope] = None
        self.timer_task = False
        self.stopped = False

    async def main(self) -> None:
        while not self.stopped:
            self.waiting = True
            try:
                await trio.lowlevel.wait_readable(self.fd)
            except trio.ClosedResourceError:
                return  # stop()
            finally:
                self.waiting = False
            fn = self.fn
            if fn is not None:
                self.host.dispatch(fn)

    def set_deadline(self, deadline: float, fn: Optional[Callable[[], object]]) -> None:
        self.deadline = deadline
        self.timer_fn = fn
        if self.timer_scope is not None:
            self.timer_scope.deadline = deadline
        elif not self.timer_task and fn is not None:
            self.timer_task = True
            trio.lowlevel.spawn_system_task(self._timer, name="guestpoll: asyncio guest's timer")

    async def _timer(self) -> None:
        while not self.stopped:
            with trio.CancelScope(deadline=self.deadline) as scope:
                self.timer_scope = scope
                try:
                    await trio.sleep_forever()
                finally:
                    self.timer_scope = None
            if self.stopped:
                return
            if trio.current_time() >= self.deadline:
                fn, self.timer_fn, self.deadline = self.timer_fn, None, math.inf
                if fn is not None:
                    self.host.dispatch(fn)

    def stop(self) -> None:
        self.stopped = True
        self.fn = self.timer_fn = None
        if self.waiting:
            # Trio forgets the fd at once (its waiter gets
            # ClosedResourceError): the fd is closed right after this.
            trio.lowlevel.notify_closing(self.fd)
        if self.timer_scope is not None:
            self.timer_scope.cancel()


_GUEST: trio.lowlevel.RunVar[GuestRun] = trio.lowlevel.RunVar("guestpoll_asyncio_guest")


def guest(waiter_thread: Optional[bool] = None) -> GuestRun:
    """The asyncio guest run of the current Trio run, started now if there
    is none yet; it ends with the Trio run.  *waiter_thread* applies when
    it is started here (see :func:`guestpoll.hosts.start`): call
    ``guest(waiter_thread=True)`` before the first :func:`run_asyncio` to
    choose the thread path."""
    try:
        current = _GUEST.get()
    except LookupError:
        current = None
    if current is not None and not current.done:
        return current
    host = TrioHost()
    current = hosts.start(None, host=host, waiter_thread=waiter_thread)
    _GUEST.set(current)
    trio.lowlevel.spawn_system_task(_keep, current, name="guestpoll: asyncio guest of this Trio run")
    return current


async def _keep(run: GuestRun) -> None:
    host = run.host
    assert isinstance(host, TrioHost)
    try:
        async with trio.open_nursery() as nursery:
            host.nursery = nursery
            await trio.sleep_forever()
    finally:
        host.nursery = None
        run.close()  # the Trio run is ending: so does the asyncio one


async def run_asyncio(async_fn: Any, *args: Any) -> Any:
    """From Trio: runs ``async_fn(*args)`` (or a coroutine object) as a task
    of this Trio run's asyncio guest loop and returns its result, or raises
    its exception.  If the calling Trio task is cancelled, the asyncio task
    is cancelled and awaited; then the Trio cancellation goes on."""
    run = guest()
    coro = async_fn(*args) if not asyncio.iscoroutine(async_fn) else async_fn
    assert run.loop is not None
    task = run.loop.create_task(coro)
    finished = trio.Event()
    task.add_done_callback(lambda _: finished.set())
    try:
        await finished.wait()
    except BaseException:
        task.cancel()
        with trio.CancelScope(shield=True):
            await finished.wait()
        if not task.cancelled():
            task.exception()  # retrieved: Trio's exception wins
        raise
    return task.result()


async def run_trio(async_fn: Callable[..., Any], *args: Any) -> Any:
    """From asyncio code inside a Trio run (:func:`run_asyncio`): runs the
    Trio function ``async_fn(*args)`` in a Trio task and returns its result,
    or raises its exception.  If the awaiting asyncio task is cancelled, the
    Trio function's cancel scope is cancelled, and the asyncio side gets
    CancelledError once it has finished."""
    run = hosts.current_run()
    host = run.host
    if not isinstance(host, TrioHost) or host.nursery is None:
        raise RuntimeError("run_trio() must be awaited from asyncio code started by guestpoll.trio.run_asyncio")
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[Any] = loop.create_future()
    result: list[outcome.Outcome] = []
    scope = trio.CancelScope()

    async def in_trio() -> None:
        with scope:
            result.append(await outcome.acapture(async_fn, *args))
        if not result:  # cancelled (by us, or as the Trio run ends)
            if not fut.done():
                fut.cancel()
            return
        if fut.cancelled():
            return
        res = result[0]
        if isinstance(res, outcome.Error):
            if isinstance(res.error, trio.Cancelled):
                fut.cancel()
            else:
                fut.set_exception(res.error)
        else:
            fut.set_result(res.value)

    host.nursery.start_soon(in_trio, name=f"guestpoll.trio.run_trio({getattr(async_fn, '__qualname__', async_fn)!r})")
    try:
        return await asyncio.shield(fut)
    except asyncio.CancelledError:
        if not fut.done():
            scope.cancel()
            try:
                await fut
            except BaseException:
                pass
        raise

