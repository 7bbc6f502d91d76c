import tkinter
from typing import Any

from .hosts import GuestRun, Host
from .hosts import async_handler as async_handler
from .hosts import call_on_host as modal
from .hosts import current_run as current_run

class TkHost(Host):
    """A Host for the Tk interpreter of a widget (a socket Tk watches, or after())."""

    root: tkinter.Misc
    mode: str
    def __init__(self, root: tkinter.Misc, mode: str | None = ...) -> None: ...

def start(
    root: tkinter.Misc, main: Any = ..., *args: Any, debug: bool | None = ..., waiter_thread: bool | None = ...
) -> GuestRun: ...
def run(root: tkinter.Misc, main: Any = ..., *args: Any, debug: bool | None = ..., waiter_thread: bool | None = ...) -> Any:
    """root.mainloop() with asyncio.run(main(*args)) inside it; returns main's result."""

__all__ = ["TkHost", "run", "start", "async_handler", "modal", "current_run"]
