from typing import Any

from .hosts import GuestRun, Host
from .hosts import async_handler as async_handler
from .hosts import call_on_host as modal
from .hosts import current_run as current_run

class GLibHost(Host):
    """A Host for GLib's default main context (GLib.idle_add)."""

    priority: int
    def __init__(self, priority: int = ...) -> None: ...

def start(main: Any = ..., *args: Any, debug: bool | None = ..., waiter_thread: bool | None = ...) -> GuestRun: ...
def run(main: Any = ..., *args: Any, loop: Any = ..., debug: bool | None = ..., waiter_thread: bool | None = ...) -> Any:
    """A GLib.MainLoop with asyncio.run(main(*args)) inside it; returns main's result."""

__all__ = ["GLibHost", "run", "start", "async_handler", "modal", "current_run"]
