"""asyncio.Runner's life cycle, as the guest mirrors it, and the shims for
each CPython version (3.10 to 3.15; what asyncio.run accepts is asked of
the running interpreter's asyncio.Runner).

What changes with CPython lives here: which private asyncio pieces exist,
which ones the guest calls, and which ones it re-implements.  MIRRORED
names the CPython functions whose behaviour the guest reproduces (the run
life cycle in _guest.py follows them step by step);
tests/py/test_guest_mirror.py fails when the running interpreter's source
of any of them differs from the one this code was checked against.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from asyncio import base_events, coroutines, events, tasks
from typing import Any, Generator

__all__ = [
    "HAS_RUN_FOREVER_SETUP",
    "RUNNER_SIGINT",
    "EXECUTOR_TIMEOUT",
    "MIRRORED",
    "accept_main",
    "cancel_all_tasks",
    "run_forever_setup",
    "run_forever_cleanup",
]

HAS_RUN_FOREVER_SETUP = hasattr(base_events.BaseEventLoop, "_run_forever_setup")
RUNNER_SIGINT = sys.version_info >= (3, 11)  # asyncio.Runner's Ctrl-C rule
EXECUTOR_TIMEOUT = sys.version_info >= (3, 12)

#: The CPython pieces the guest's life cycle mirrors or calls into, as
#: "module:qualified.name"; those missing on an interpreter are skipped.
MIRRORED = (
    "asyncio.runners:run",
    "asyncio.runners:_cancel_all_tasks",
    "asyncio.runners:Runner.run",
    "asyncio.runners:Runner.close",
    "asyncio.runners:Runner._lazy_init",
    "asyncio.runners:Runner._on_sigint",
    "asyncio.base_events:BaseEventLoop.run_until_complete",
    "asyncio.base_events:BaseEventLoop.run_forever",
    "asyncio.base_events:BaseEventLoop._run_forever_setup",
    "asyncio.base_events:BaseEventLoop._run_forever_cleanup",
    "asyncio.base_events:_run_until_complete_cb",
    "asyncio.coroutines:iscoroutine",
)


def run_forever_setup(loop: Any) -> None:
    """What loop.run_forever() does before its first iteration."""
    if HAS_RUN_FOREVER_SETUP:
        loop._run_forever_setup()
        return
    loop._check_closed()
    loop._check_running()
    loop._set_coroutine_origin_tracking(loop._debug)
    loop._thread_id = threading.get_ident()
    events._set_running_loop(loop)


def run_forever_cleanup(loop: Any) -> None:
    """What loop.run_forever() does after its last iteration."""
    if HAS_RUN_FOREVER_SETUP:
        loop._run_forever_cleanup()
        return
    loop._stopping = False
    loop._thread_id = None
    events._set_running_loop(None)
    loop._set_coroutine_origin_tracking(False)


def cancel_all_tasks(loop: Any) -> Generator[Any, Any, None]:
    """asyncio.runners._cancel_all_tasks, with its run_until_complete(x)
    written as ``yield x``."""
    pending = tasks.all_tasks(loop)
    if not pending:
        return
    for task in pending:
        task.cancel()
    yield tasks.gather(*pending, return_exceptions=True)
    for task in pending:
        if task.cancelled():
            continue
        if task.exception() is not None:
            loop.call_exception_handler(
                {
                    "message": "unhandled exception during asyncio.run() shutdown",
                    "exception": task.exception(),
                    "task": task,
                }
            )


class _Accepted(Exception):
    def __init__(self, main: Any) -> None:
        self.main = main


_Runner = getattr(asyncio, "Runner", None)

if _Runner is not None:

    class _ProbeLoop:
        """The loop _RunProbe hands asyncio.Runner.run: the first thing run()
        does with its loop after checking *coro* is create_task(coro), and
        there it stops with what it would have run."""

        def create_task(self, coro: Any, **kwargs: Any) -> None:
            raise _Accepted(coro)

    class _RunProbe(_Runner):  # type: ignore[misc, valid-type]
        """asyncio.Runner, stopped where it would create its main task:
        what its run() accepts, it accepts (possibly wrapped), and what it
        refuses it refuses with the same exception, on every interpreter,
        whether run() checks *coro* before making its loop (3.11 to 3.13)
        or after (3.14)."""

        def _lazy_init(self) -> None:
            self._loop = _ProbeLoop()
            self._context = None


async def _await_main(awaitable: Any) -> Any:
    return await awaitable


def accept_main(coro: Any) -> Any:
    """What this interpreter's asyncio.run would run for *coro*, or the
    exception it raises for it (asyncio.Runner.run's own check, through
    _RunProbe; asyncio.run's on 3.10)."""
    if _Runner is None:
        if not coroutines.iscoroutine(coro):
            raise ValueError(f"a coroutine was expected, got {coro!r}")
        return coro
    try:
        _RunProbe().run(coro)
    except _Accepted as accepted:
        main = accepted.main
    except RuntimeError:
        if events._get_running_loop() is None:
            raise
        main = coro  # refused for the running loop: start_guest_run says so
    if not coroutines.iscoroutine(main):
        main = _await_main(main)
    return main
