"""asyncio inside a GLib main loop (PyGObject: GTK, Gio, D-Bus services),
in one call.

::

    guestpoll.glib.run(main)       # a GLib.MainLoop with asyncio inside it

By default (on Unix) no thread waits for asyncio: a ``unix_fd_add``
source watches the poller's descriptor and a ``timeout_add`` source
carries the loop's next deadline (the no-thread path, see
:mod:`guestpoll.hosts`), both at the host's priority.

With the waiter thread (``waiter_thread=True``, the poll backend, Windows)
the wake-up is ``GLib.idle_add``, which GLib documents as callable from
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

try:  # GLib 2.80 moved the Unix-only calls to GLibUnix
    from gi.repository import GLibUnix

    _fd_add = GLibUnix.fd_add_full
except (ImportError, AttributeError):
    _fd_add = getattr(GLib, "unix_fd_add_full", None)

from . import hosts
from .hosts import GuestRun, async_handler, call_on_host, current_run

__all__ = ["GLibHost", "run", "start", "async_handler", "modal", "current_run"]


class GLibHost(hosts.Host):
    """A :class:`guestpoll.hosts.Host` for GLib's default main context."""

    _guestpoll_trusted_wakeup = True

    def __init__(self, priority: int = GLib.PRIORITY_DEFAULT) -> None:
        super().__init__()
        self.priority = priority
        self._watch_id: Optional[int] = None
        self._timer_id: Optional[int] = None

    def call_soon_threadsafe(self, fn: Callable[[], object]) -> None:
        GLib.idle_add(self._once, fn, priority=self.priority)

    def _once(self, fn: Callable[[], object]) -> bool:
        self.dispatch(fn)
        return GLib.SOURCE_REMOVE

    # ---- the no-thread path (Unix) ------------------------------------

    @property
    def can_watch_fd(self) -> bool:
        return _fd_add is not None

    def watch_fd(self, fd: int, fn: Callable[[], object]) -> None:
        assert _fd_add is not None
        self.unwatch_fd()
        self._watch_id = _fd_add(self.priority, fd, GLib.IOCondition.IN, self._fd_ready, fn)

    def _fd_ready(self, _fd: int, _condition: Any, fn: Callable[[], object]) -> bool:
        self.dispatch(fn)
        return GLib.SOURCE_CONTINUE

    def unwatch_fd(self) -> None:
        source, self._watch_id = self._watch_id, None
        if source is not None:
            GLib.source_remove(source)

    def set_timer(self, delay: float, fn: Callable[[], object]) -> None:
        self.cancel_timer()
        self._timer_id = GLib.timeout_add(self.milliseconds(delay), self._timer_fired, fn, priority=self.priority)

    def _timer_fired(self, fn: Callable[[], object]) -> bool:
        self._timer_id = None
        self.dispatch(fn)
        return GLib.SOURCE_REMOVE

    def cancel_timer(self) -> None:
        source, self._timer_id = self._timer_id, None
        if source is not None:
            GLib.source_remove(source)

    def close(self) -> None:
        self.unwatch_fd()
        self.cancel_timer()


def start(main: Any = None, *args: Any, debug: Optional[bool] = None, waiter_thread: Optional[bool] = None) -> GuestRun:
    """Starts ``asyncio.run(main(*args))`` (or, with *main* None, a run that
    lasts until closed) inside GLib's default main context; returns the
    :class:`~guestpoll.hosts.GuestRun`.  Run the main loop yourself
    (``GLib.MainLoop().run()``, ``Gio.Application.run()``) inside
    ``with guestpoll.glib.start(...):`` to close the run when it returns.
    *waiter_thread*: see :func:`guestpoll.hosts.start`."""
    return hosts.start(main, *args, host=GLibHost(), debug=debug, waiter_thread=waiter_thread)


def run(
    main: Any = None,
    *args: Any,
    loop: Optional[GLib.MainLoop] = None,
    debug: Optional[bool] = None,
    waiter_thread: Optional[bool] = None,
) -> Any:
    """Runs *loop* (default: a new ``GLib.MainLoop()``) with
    ``asyncio.run(main(*args))`` inside it and returns main's result.  When
    *main* returns, the loop is quit; when the loop ends first
    (``loop.quit()``), the run is ended and main's outcome returned or
    raised.  With *main* None, asyncio runs until the loop ends.
    *waiter_thread*: see :func:`guestpoll.hosts.start`."""
    if loop is None:
        loop = GLib.MainLoop()
    guest = start(main, *args, debug=debug, waiter_thread=waiter_thread)
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
