"""The host loops of the guest-mode tables (py_guest_rt, py_wake), written
once and used for both aioguest and guestpoll, so that the two get exactly
the same host.

* the trivial queue host: a queue.SimpleQueue of callables pumped by the
  main thread, run_sync_soon_threadsafe=q.put;
* Trio: trio.run, run_sync_soon_threadsafe=token.run_sync_soon.

Neither passes run_sync_soon_not_threadsafe (both libraries then use the
threadsafe one).
"""

from __future__ import annotations

import queue
from typing import Any, Callable

import _common


def start_guest_run_of(kind: str) -> Callable[..., Any]:
    """guestpoll.start_guest_run or aioguest.start_guest_run."""
    if kind == "guestpoll":
        return _common.need("guestpoll").start_guest_run
    if kind == "aioguest":
        _common.need("greenlet", "greenlet (needed by aioguest)")
        return _common.need("aioguest").start_guest_run
    raise ValueError(kind)


class QueueHost:
    """The trivial host: run queued callables until the guest is done."""

    def __init__(self) -> None:
        self.q: queue.SimpleQueue = queue.SimpleQueue()
        self.run_sync_soon_threadsafe = self.q.put

    def run(self, start_guest_run: Callable[..., Any], coro) -> Any:
        box: list = []
        get = self.q.get
        start_guest_run(coro, run_sync_soon_threadsafe=self.q.put, done_callback=box.append)
        while not box:
            get()()
        return box[0].unwrap()


def run_in_trio(start_guest_run: Callable[..., Any], make_coro: Callable[[Any], Any],
                host_task: Callable[..., Any] | None = None) -> Any:
    """trio.run a host whose main task starts the guest, runs the optional
    ``host_task(trio_token)`` coroutine function alongside, and waits for
    the guest's result.  ``make_coro(token)`` builds the guest coroutine."""
    trio = _common.need("trio")

    async def trio_main() -> Any:
        token = trio.lowlevel.current_trio_token()
        done = trio.Event()
        box: list = []

        def done_callback(result) -> None:
            box.append(result)
            done.set()

        start_guest_run(make_coro(token), run_sync_soon_threadsafe=token.run_sync_soon,
                        done_callback=done_callback)
        if host_task is not None:
            await host_task(token)
        await done.wait()
        return box[0].unwrap()

    return trio.run(trio_main)
