"""A host-specific fast path: Trio.

For a Trio host that passes only its ``TrioToken.run_sync_soon``,
guestpoll makes run_sync_soon_not_threadsafe from a Trio system task
(_TrioSoon).  A new host with a fast path of its own gets a module like
this one; the tick driver (_guest.py) only calls ``close()`` on it.
"""

from __future__ import annotations

import collections
import sys
from typing import Any, Callable, Optional

__all__ = ["_TrioSoon", "_trio_soon"]


class _TrioSoon:
    """run_sync_soon_not_threadsafe for a Trio host that passed only its
    ``TrioToken.run_sync_soon``: a Trio system task runs the callbacks, and
    queuing one just reschedules that task, where run_sync_soon writes to
    Trio's wake-up socket and costs Trio an I/O poll (~4 us a tick).  The
    task ends when the run does, or with the Trio run; callbacks still
    queued then are dropped (an unfinished run is then abandoned, as when
    Trio drops run_sync_soon callbacks)."""

    __slots__ = ("_lowlevel", "_finished_error", "_jobs", "_task", "_parked", "_closed")

    def __init__(self, trio: Any) -> None:
        self._lowlevel = trio.lowlevel
        self._finished_error = trio.RunFinishedError
        self._jobs: collections.deque[Callable[[], object]] = collections.deque()
        self._task: Any = None
        self._parked = False
        self._closed = False
        self._lowlevel.spawn_system_task(self._main, name="guestpoll: asyncio guest ticks")

    async def _main(self) -> None:
        lowlevel = self._lowlevel
        self._task = lowlevel.current_task()
        jobs = self._jobs
        try:
            while not self._closed:
                # What was queued before this round; what those queue
                # runs after Trio's other tasks had their turn.
                for _ in range(len(jobs)):
                    jobs.popleft()()
                if self._closed:
                    break
                if jobs:
                    await lowlevel.checkpoint()
                else:
                    self._parked = True
                    await lowlevel.wait_task_rescheduled(_abort_parked)
        finally:
            self._closed = True
            jobs.clear()

    def __call__(self, fn: Callable[[], object]) -> None:
        if self._closed:
            raise self._finished_error("the Trio run hosting this asyncio guest is over")
        self._jobs.append(fn)
        self._unpark()

    def close(self) -> None:
        """The guest run is over: let the task end (host thread only)."""
        self._closed = True
        self._unpark()

    def _unpark(self) -> None:
        if self._parked:
            self._parked = False
            self._lowlevel.reschedule(self._task)


def _abort_parked(raise_cancel: Any) -> Any:
    return sys.modules["trio"].lowlevel.Abort.SUCCEEDED


def _trio_soon(threadsafe: Callable[[Callable[[], None]], object]) -> Optional[_TrioSoon]:
    """A _TrioSoon if *threadsafe* is the run_sync_soon of the Trio run
    going on in this thread, else None."""
    trio = sys.modules.get("trio")
    if trio is None:
        return None
    lowlevel = trio.lowlevel
    token = getattr(threadsafe, "__self__", None)
    if not isinstance(token, lowlevel.TrioToken) or (
        getattr(threadsafe, "__func__", None) is not lowlevel.TrioToken.run_sync_soon
    ):
        return None
    try:
        if lowlevel.current_trio_token() is not token:
            return None
    except RuntimeError:  # not inside a Trio run on this thread
        return None
    return _TrioSoon(trio)
