from collections.abc import Awaitable, Callable
from typing import Any

from .hosts import GuestRun, Host

class TrioHost(Host):
    """A Host for the Trio run of this thread (TrioToken.run_sync_soon)."""

    token: Any
    nursery: Any
    def __init__(self) -> None: ...

def guest(waiter_thread: bool | None = ...) -> GuestRun:
    """The asyncio guest run of the current Trio run, started on first use."""

async def run_asyncio(async_fn: Any, *args: Any) -> Any:
    """From Trio: await async_fn(*args) run by asyncio."""

async def run_trio(async_fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    """From asyncio inside a Trio run: await a Trio function."""

__all__ = ["TrioHost", "run_asyncio", "run_trio", "guest"]
