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
their tracebacks.  The asyncio loop is woken with the Trio run's
``TrioToken.run_sync_soon``.

What maps to what, for trio-asyncio users: ``async with
trio_asyncio.open_loop()`` is not needed (the loop comes with the first
call); ``await trio_asyncio.aio_as_trio(fn)(*args)`` is ``await
run_asyncio(fn, *args)``; ``await trio_asyncio.trio_as_aio(fn)(*args)``
is ``await run_trio(fn, *args)``.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

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

    def call_soon_threadsafe(self, fn: Callable[[], object]) -> None:
        self.token.run_sync_soon(fn)

    def scheduling(self) -> tuple[Callable[[Callable[[], object]], object], None]:
        # The token's own bound method: start_guest_run recognises it and
        # queues host-thread ticks through a Trio system task.
        return self.token.run_sync_soon, None

    def after_tick(self, fn: Callable[[], object]) -> None:
        self.token.run_sync_soon(fn)


_GUEST: trio.lowlevel.RunVar[GuestRun] = trio.lowlevel.RunVar("guestpoll_asyncio_guest")


def guest() -> GuestRun:
    """The asyncio guest run of the current Trio run, started now if there
    is none yet; it ends with the Trio run."""
    try:
        current = _GUEST.get()
    except LookupError:
        current = None
    if current is not None and not current.done:
        return current
    host = TrioHost()
    current = hosts.start(None, host=host)
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

