"""asyncio inside a GLib main loop (PyGObject: GTK, Gio, D-Bus services),
in one call.

::

    guestpoll.glib.run(main)       # a GLib.MainLoop with asyncio inside it

The wake-up is ``GLib.idle_add``, which GLib documents as callable from
any thread (it attaches a source to the default main context and wakes
it), at the default priority rather than the idle one so that a busy
program cannot starve asyncio, and run once whatever the callable
returns.  A nested main loop (``Gtk.Dialog.run``, a second
``GLib.MainLoop().run()``) dispatches the same context, so asyncio runs
inside it too.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from gi.repository import GLib

from . import hosts
from .hosts import GuestRun, async_handler, call_on_host, current_run

__all__ = ["GLibHost", "run", "start", "async_handler", "modal", "current_run"]


class GLibHost(hosts.Host):
    """A :class:`guestpoll.hosts.Host` for GLib's default main context."""

    _guestpoll_trusted_wakeup = True

    def __init__(self, priority: int = GLib.PRIORITY_DEFAULT) -> None:
        super().__init__()
        self.priority = priority

    def call_soon_threadsafe(self, fn: Callable[[], object]) -> None:
        GLib.idle_add(self._once, fn, priority=self.priority)

    def _once(self, fn: Callable[[], object]) -> bool:
        self.dispatch(fn)
        return GLib.SOURCE_REMOVE


def start(main: Any = None, *args: Any, debug: Optional[bool] = None) -> GuestRun:
    """Starts ``asyncio.run(main(*args))`` (or, with *main* None, a run that
    lasts until closed) inside GLib's default main context; returns the
    :class:`~guestpoll.hosts.GuestRun`.  Run the main loop yourself
    (``GLib.MainLoop().run()``, ``Gio.Application.run()``) inside
    ``with guestpoll.glib.start(...):`` to close the run when it returns."""
    return hosts.start(main, *args, host=GLibHost(), debug=debug)


def run(main: Any = None, *args: Any, loop: Optional[GLib.MainLoop] = None, debug: Optional[bool] = None) -> Any:
    """Runs *loop* (default: a new ``GLib.MainLoop()``) with
    ``asyncio.run(main(*args))`` inside it and returns main's result.  When
    *main* returns, the loop is quit; when the loop ends first
    (``loop.quit()``), the run is ended and main's outcome returned or
    raised.  With *main* None, asyncio runs until the loop ends."""
    if loop is None:
        loop = GLib.MainLoop()
    guest = start(main, *args, debug=debug)
    guest.add_done_callback(lambda _: loop.quit())
    with guest:
        if not guest.done:
            loop.run()
    return guest.result()


#: ``await guestpoll.glib.modal(dialog.run)``: runs a blocking call with a
#: nested main loop (``Gtk.Dialog.run``, ``GLib.MainLoop().run``) from
#: asyncio code and returns its result; asyncio keeps running inside it.
#: See :func:`guestpoll.hosts.call_on_host`.
modal = call_on_host
