"""asyncio inside a Tkinter application, in one call.

::

    root = tk.Tk()
    button = tk.Button(root, text="Go", command=guestpoll.tk.async_handler(go))
    guestpoll.tk.run(root)         # root.mainloop() with asyncio inside it

By default, where Tk can watch a descriptor (``createfilehandler``: every
POSIX Tk), no thread waits for asyncio: Tk watches the poller's own
descriptor and an ``after`` timer carries the loop's next deadline (the
no-thread path, see :mod:`guestpoll.hosts`).

With the waiter thread (``waiter_thread=True``, the poll backend,
Windows), its wake-up: where Tk can watch a
descriptor (``createfilehandler``: every POSIX Tk), the callable goes into
a queue and one byte into a socket pair whose reading end Tk watches; the
waiter thread never calls into Tcl and never blocks.  Elsewhere (Windows)
it is ``root.after(0, ...)`` called from the waiter thread, which a
threaded Tcl marshals to the Tk thread (the waiter then waits until Tk's
loop has taken the call; a non-threaded Tcl cannot be woken from another
thread at all, and is refused).  Both go through Tk's own event queue, so
the nested loops of ``messagebox``, ``wait_window`` and friends run
asyncio too.
"""

from __future__ import annotations

import queue
import socket
import tkinter
from typing import Any, Callable, Optional

from . import hosts
from .hosts import GuestRun, async_handler, call_on_host, current_run

__all__ = ["TkHost", "run", "start", "async_handler", "modal", "current_run"]


class TkHost(hosts.Host):
    """A :class:`guestpoll.hosts.Host` for the Tk interpreter of *root*
    (any widget of it); make it on the Tk thread.  *mode* is
    ``"filehandler"`` (the default where Tk has ``createfilehandler``) or
    ``"after"``."""

    _guestpoll_trusted_wakeup = True

    def __init__(self, root: tkinter.Misc, mode: Optional[str] = None) -> None:
        super().__init__()
        self.root = root
        if mode is None:
            mode = "filehandler" if hasattr(root.tk, "createfilehandler") else "after"
        self.mode = mode
        self._todo: queue.SimpleQueue[Callable[[], object]] = queue.SimpleQueue()
        self._closed = False
        self._watched: Optional[int] = None
        self._after_id: Optional[str] = None
        if mode == "filehandler":
            self._rsock, self._wsock = socket.socketpair()
            self._rsock.setblocking(False)
            self._wsock.setblocking(False)
            root.tk.createfilehandler(self._rsock, tkinter.READABLE, self._on_readable)
        elif mode == "after":
            if not bool(int(root.tk.eval("set tcl_platform(threaded)"))):
                raise RuntimeError("guestpoll.tk: a non-threaded Tcl without createfilehandler cannot be woken from another thread")
        else:
            raise ValueError(f"mode must be 'filehandler' or 'after', not {mode!r}")

    def call_soon_threadsafe(self, fn: Callable[[], object]) -> None:
        self._todo.put(fn)
        if self.mode == "filehandler":
            try:
                self._wsock.send(b"\0")
            except BlockingIOError:
                pass  # full of wake-ups already: Tk will drain
        else:
            self.root.after(0, self._drain)

    def call_soon(self, fn: Callable[[], object]) -> None:
        if self.mode == "filehandler":
            self.call_soon_threadsafe(fn)
        else:
            self._todo.put(fn)
            self.root.after(0, self._drain)

    def _on_readable(self, _sock: object, _mask: int) -> None:
        try:
            while self._rsock.recv(4096):
                pass
        except BlockingIOError:
            pass
        self._drain()

    def _drain(self) -> None:
        # Wake-ups and queued callables need not pair up one to one: each
        # wake-up runs everything queued so far.
        for _ in range(self._todo.qsize()):
            try:
                fn = self._todo.get_nowait()
            except queue.Empty:
                return
            if self.mode == "filehandler" and not self._todo.empty():
                # fn may run a nested loop (a modal dialog) and not return
                # for a while: the callables queued after it must not wait
                # for it, so the nested loop gets a wake-up of its own.
                try:
                    self._wsock.send(b"\0")
                except BlockingIOError:
                    pass
            self.dispatch(fn)

    # ---- the no-thread path (where Tk has createfilehandler) ----------

    @property
    def can_watch_fd(self) -> bool:
        return hasattr(self.root.tk, "createfilehandler")

    def watch_fd(self, fd: int, fn: Callable[[], object]) -> None:
        self.unwatch_fd()
        self.root.tk.createfilehandler(fd, tkinter.READABLE, lambda _fd, _mask: self.dispatch(fn))
        self._watched = fd

    def unwatch_fd(self) -> None:
        fd, self._watched = self._watched, None
        if fd is not None:
            try:
                self.root.tk.deletefilehandler(fd)
            except tkinter.TclError:
                pass

    def set_timer(self, delay: float, fn: Callable[[], object]) -> None:
        self.cancel_timer()

        def fired() -> None:
            self._after_id = None
            self.dispatch(fn)

        self._after_id = self.root.after(self.milliseconds(delay), fired)

    def cancel_timer(self) -> None:
        after_id, self._after_id = self._after_id, None
        if after_id is not None:
            try:
                self.root.after_cancel(after_id)
            except tkinter.TclError:
                pass

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.unwatch_fd()
        self.cancel_timer()
        if self.mode == "filehandler":
            try:
                self.root.tk.deletefilehandler(self._rsock)
            except tkinter.TclError:
                pass
            self._rsock.close()
            self._wsock.close()


def start(
    root: tkinter.Misc, main: Any = None, *args: Any, debug: Optional[bool] = None, waiter_thread: Optional[bool] = None
) -> GuestRun:
    """Starts ``asyncio.run(main(*args))`` (or, with *main* None, a run that
    lasts until closed) inside the Tk event loop of *root*; returns the
    :class:`~guestpoll.hosts.GuestRun`.  The run is closed when *root* is
    destroyed; use the run as a context manager around ``mainloop()`` to
    close it when the loop returns.  *waiter_thread*: see
    :func:`guestpoll.hosts.start`."""
    guest = hosts.start(main, *args, host=TkHost(root), debug=debug, waiter_thread=waiter_thread)
    if not guest.done:
        top = root.winfo_toplevel()
        binding = top.bind("<Destroy>", lambda event: guest.close() if event.widget is top else None, add="+")
        guest.add_done_callback(lambda _: _unbind(top, binding))
    return guest


def _unbind(top: tkinter.Misc, binding: str) -> None:
    try:
        # unbind(sequence, funcid) would drop every binding of the sequence
        # on older Pythons: remove only this one's script.
        script = top.bind("<Destroy>")
        kept = "\n".join(line for line in script.split("\n") if binding not in line)
        top.bind("<Destroy>", kept)
        top.deletecommand(binding)
    except tkinter.TclError:
        pass


def run(
    root: tkinter.Misc, main: Any = None, *args: Any, debug: Optional[bool] = None, waiter_thread: Optional[bool] = None
) -> Any:
    """Runs ``root.mainloop()`` with ``asyncio.run(main(*args))`` inside it
    and returns main's result.  When *main* returns, the Tk loop is quit;
    when the Tk loop ends first (the window closed, ``root.quit()``), the
    run is ended and main's outcome returned or raised (CancelledError
    unless main handles it).  With *main* None, asyncio runs until the Tk
    loop ends, and None is returned.  *waiter_thread*: see
    :func:`guestpoll.hosts.start`."""
    guest = start(root, main, *args, debug=debug, waiter_thread=waiter_thread)
    guest.add_done_callback(lambda _: _quit(root))
    with guest:
        if not guest.done:
            root.mainloop()
    return guest.result()


def _quit(root: tkinter.Misc) -> None:
    try:
        root.quit()
    except tkinter.TclError:
        pass


#: ``await guestpoll.tk.modal(messagebox.askyesno, "Title", "Sure?")``: runs
#: a modal dialog (or any blocking call: ``wait_window``) from asyncio
#: code and returns its result; asyncio keeps running in the dialog's
#: nested loop.  See :func:`guestpoll.hosts.call_on_host`.
modal = call_on_host
