import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from outcome import Outcome

_T = TypeVar("_T")
_Callback = Callable[[], object]

class Host:
    """What a guest run needs from its host loop."""

    thread_id: int
    def __init__(self) -> None: ...
    def call_soon_threadsafe(self, fn: _Callback) -> None: ...
    def call_soon(self, fn: _Callback) -> None: ...
    def dispatch(self, fn: _Callback) -> None: ...
    def close(self) -> None: ...
    def after_tick(self, fn: _Callback) -> None: ...
    def scheduling(
        self,
    ) -> tuple[Callable[[_Callback], object], Callable[[_Callback], object] | None]: ...

class CallbackQueue(Host):
    """A thread-safe queue of callables the host thread drains."""

    def run_pending(self) -> int: ...
    def wait(self, timeout: float | None = ...) -> int: ...

class GuestRun:
    """One asyncio run inside a host loop."""

    host: Host
    task: asyncio.Task[Any] | None
    loop: asyncio.AbstractEventLoop | None
    outcome: Outcome[Any] | None
    @property
    def done(self) -> bool: ...
    def add_done_callback(self, fn: Callable[[Outcome[Any]], object]) -> None: ...
    def result(self) -> Any: ...
    def spawn(self, async_fn: Any, *args: Any) -> asyncio.Task[Any]: ...
    def cancel(self) -> None: ...
    def close(self) -> Outcome[Any] | None: ...
    def __enter__(self) -> GuestRun: ...
    def __exit__(self, *exc: object) -> None: ...

def start(
    main: Any = ...,
    *args: Any,
    host: Host | None = ...,
    call_soon_threadsafe: Callable[[_Callback], object] | None = ...,
    call_soon: Callable[[_Callback], object] | None = ...,
    done_callback: Callable[[Outcome[Any]], object] | None = ...,
    debug: bool | None = ...,
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = ...,
) -> GuestRun:
    """Start asyncio.run(main(*args)) as a guest of a host loop on this thread."""

def run(main: Any, *args: Any, debug: bool | None = ...) -> Any:
    """asyncio.run(main(*args)) through a CallbackQueue pumped by this thread."""

def current_run() -> GuestRun: ...
def async_handler(async_fn: Callable[..., Awaitable[Any]]) -> Callable[..., asyncio.Task[Any]]:
    """Decorator: calling the result starts async_fn(*args) as a task of the current run."""

async def call_on_host(fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """From asyncio code: run fn as a host callback (a modal dialog) and return its result."""
