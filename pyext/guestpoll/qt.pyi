from collections.abc import Awaitable, Callable
from typing import Any

from .hosts import GuestRun, Host
from .hosts import call_on_host as modal
from .hosts import current_run as current_run

API: str

class QtHost(Host):
    """A Host for the Qt event loop of the GUI thread (a QObject and a custom event)."""

    errors: list[BaseException]
    def __init__(self) -> None: ...
    def customEvent(self, event: Any) -> None: ...

def start(main: Any = ..., *args: Any, debug: bool | None = ..., waiter_thread: bool | None = ...) -> GuestRun: ...
def run(main: Any = ..., *args: Any, debug: bool | None = ..., waiter_thread: bool | None = ...) -> Any:
    """app.exec() with asyncio.run(main(*args)) inside it; returns main's result."""

def asyncslot(async_fn: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    """Decorator for slots that are coroutines."""

__all__ = ["QtHost", "run", "start", "asyncslot", "modal", "current_run", "API"]
