import asyncio
import selectors
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Protocol

from _typeshed import FileDescriptorLike
from outcome import Outcome
from typing_extensions import TypeAlias

from typing_extensions import Self

libguestpoll_version: str
__version__: str

_FileObject: TypeAlias = FileDescriptorLike

class Selector(selectors.BaseSelector):
    """A selectors.BaseSelector over libguestpoll."""

    def __init__(self, *, backend: str | None = ...) -> None: ...
    @property
    def backend(self) -> str | None: ...
    @property
    def closed(self) -> bool: ...
    def register(
        self, fileobj: _FileObject, events: int, data: Any = ...
    ) -> selectors.SelectorKey: ...
    def unregister(self, fileobj: _FileObject) -> selectors.SelectorKey: ...
    def modify(
        self, fileobj: _FileObject, events: int, data: Any = ...
    ) -> selectors.SelectorKey: ...
    def select(
        self, timeout: float | None = ...
    ) -> list[tuple[selectors.SelectorKey, int]]: ...
    def close(self) -> None: ...
    def get_key(self, fileobj: _FileObject) -> selectors.SelectorKey: ...
    def get_map(self) -> Mapping[_FileObject, selectors.SelectorKey] | None: ...  # type: ignore[override]
    def _map_getitem(self, fileobj: _FileObject) -> selectors.SelectorKey: ...  # get_map()[fileobj]
    def fileno(self) -> int: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *args: object) -> None: ...
    # guest-mode bridge (private)
    _guest: int
    @property
    def _wstate(self) -> int: ...  # 0 idle, 1 in flight, 2 ready
    @property
    def _fd_to_key(self) -> dict[int, selectors.SelectorKey]: ...
    @property
    def _wait_state(self) -> str: ...
    def _wait_start(self, timeout: float | None, callback: Callable[[], object]) -> None: ...
    def _notify(self) -> None: ...
    def _poll_ready(self) -> bool: ...
    def _wait_cancel(self) -> None: ...

class HostWatch(Protocol):
    """What ``host_watch=`` needs: a host loop that watches a descriptor
    and runs one timer (the no-thread path); host thread only."""

    def watch_fd(self, fd: int, fn: Callable[[], object], /) -> None: ...
    def unwatch_fd(self) -> None: ...
    def set_timer(self, delay: float, fn: Callable[[], object], /) -> None: ...
    def cancel_timer(self) -> None: ...

def start_guest_run(
    coro: Coroutine[Any, Any, Any] | Callable[..., Awaitable[Any]],
    *args: Any,
    run_sync_soon_threadsafe: Callable[[Callable[[], object]], object],
    done_callback: Callable[[Outcome[Any]], object],
    run_sync_soon_not_threadsafe: Callable[[Callable[[], object]], object] | None = ...,
    debug: bool | None = ...,
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = ...,
    host_watch: HostWatch | None = ...,
) -> asyncio.Task[Any] | None:
    """Start ``asyncio.run(coro)`` as a guest of the running host loop
    (aioguest's signature), or ``asyncio.run(async_fn(*args))`` (the form
    of CPython's proposed ``asyncio.start_guest_run``).  *coro* is accepted or refused exactly as this
    interpreter's ``asyncio.run`` would, with the same exception.  Each
    host callback runs one asyncio loop iteration, as with aioguest and
    Trio's guest mode, so host callbacks queued by guest code run before
    its next iteration; see guestpoll-python(7) for the interleaving
    contract and for abandoned runs.  Returns the main task."""

def host_gone(main_task: asyncio.Task[Any]) -> Outcome[Any] | None:
    """The host will run no more ticks of the guest run whose main task is
    *main_task*: finish the run at once on the calling (host) thread --
    tasks cancelled, asyncio.run's teardown, loop closed -- and return its
    outcome instead of calling done_callback; None if it was over already.
    Raises RuntimeError off the host thread or from inside a tick."""
