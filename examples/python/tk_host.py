"""asyncio as a guest of Tkinter's ``mainloop()``: a button starts an asyncio
"download" over a local socket and a label shows its progress.

Run:  python3 examples/python/tk_host.py [--selftest] [--wakeup MODE]

Tk keeps the main thread: ``root.mainloop()`` is the only loop that runs.
asyncio runs as a guest in the same thread; its tasks may touch the widgets
directly (no ``call_soon_threadsafe``, no queue to a GUI thread), because
every asyncio callback runs inside a Tk event handler.

The guest asks Tk to run its next tick with ``run_sync_soon_threadsafe``,
which libguestpoll's waiter thread calls when a background wait ends.  That
needs a real thread-safe wake-up into Tk (polling with ``after()`` on a
timer would add latency and burn CPU while idle).  Two are offered:

``filehandler`` (the default on POSIX)
    The callable goes into a ``queue.SimpleQueue`` and one byte into a
    socketpair whose reading end Tk watches (``createfilehandler``); Tk's
    handler, on the main thread, drains both.  The waiter thread never
    blocks and never calls into Tcl, so this works with any Tcl build.
``event`` (the default where ``createfilehandler`` does not exist: Windows)
    The callable goes into the queue and the waiter thread calls
    ``root.event_generate("<<GuestTick>>", when="tail")``.  With a threaded
    Tcl (``tcl_platform(threaded)``, the norm for Tk 8.6), _tkinter marshals
    that call to the Tk thread and *blocks the calling thread* until Tk's
    main loop has run it; it fails outright if the main thread is not in
    ``mainloop()``.  That is why it is not the default where the other one
    is available.  With a non-threaded Tcl it is unsafe, and refused.

``--selftest`` clicks the button itself (``button.invoke()`` from a Tk
timer, as a user would, through the widget) and quits when the download is
done; every text the label shows is printed as ``label: ...``.
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import socket
import sys
import threading
import tkinter as tk
from collections.abc import Callable

import outcome

import guestpoll

CHUNK = 16 * 1024
CHUNKS = 24


class TkWakeup:
    """``run_sync_soon_threadsafe`` for a Tk root: callables queued from any
    thread run on the Tk thread, in order."""

    def __init__(self, root: tk.Tk, mode: str) -> None:
        self.root = root
        self.mode = mode
        self._todo: queue.SimpleQueue[Callable[[], object]] = queue.SimpleQueue()
        self._main = threading.get_ident()
        if mode == "filehandler":
            self._rsock, self._wsock = socket.socketpair()
            self._rsock.setblocking(False)
            self._wsock.setblocking(False)
            root.tk.createfilehandler(self._rsock, tk.READABLE, self._on_readable)
        else:
            if not bool(int(root.tk.eval("set tcl_platform(threaded)"))):
                raise RuntimeError("--wakeup event needs a threaded Tcl")
            root.bind("<<GuestTick>>", lambda _event: self._drain())
            # Tk drops events generated for a window that has no X window
            # yet (before the first mainloop pass): make it exist now.
            root.winfo_id()
        self.foreign_calls = 0  # wake-ups that came from another thread

    def run_sync_soon_threadsafe(self, fn: Callable[[], object]) -> None:
        """Queues *fn* and wakes Tk; callable from any thread."""
        if threading.get_ident() != self._main:
            self.foreign_calls += 1  # only the waiter thread writes it
        self._todo.put(fn)
        if self.mode == "filehandler":
            try:
                self._wsock.send(b"\0")
            except BlockingIOError:
                pass  # the socket is full of wake-ups already: Tk will drain
        else:
            self.root.event_generate("<<GuestTick>>", when="tail")

    def _on_readable(self, _sock: object, _mask: int) -> None:
        try:
            while self._rsock.recv(4096):
                pass
        except BlockingIOError:
            pass
        self._drain()

    def _drain(self) -> None:
        # Bytes (or events) and queue entries need not pair up one to one:
        # each wake-up runs everything queued so far.
        while True:
            try:
                fn = self._todo.get_nowait()
            except queue.Empty:
                return
            fn()

    def close(self) -> None:
        if self.mode == "filehandler":
            self.root.tk.deletefilehandler(self._rsock)
            self._rsock.close()
            self._wsock.close()


class App:
    """The window: a button that starts the download, a progress label."""

    def __init__(self, root: tk.Tk, selftest: bool) -> None:
        self.root = root
        self.selftest = selftest
        self.text = tk.StringVar(root, "press Download")
        self.text.trace_add("write", lambda *_: print(f"label: {self.text.get()}", flush=True))
        self.label = tk.Label(root, textvariable=self.text, width=40)
        self.button = tk.Button(root, text="Download", command=self.on_click)
        self.label.pack(padx=10, pady=10)
        self.button.pack(padx=10, pady=10)
        self.quit_event: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.port = 0
        self.tk_beats = 0  # Tk's own timer, counted during the download
        self.downloading = False

    # -- the asyncio side ------------------------------------------------

    async def guest_main(self) -> int:
        """Serves the bytes, then waits until the window is done."""
        self.quit_event = asyncio.Event()
        self.loop = asyncio.get_running_loop()
        server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        print(f"guest: asyncio server streaming {CHUNKS} chunks on port {self.port}", flush=True)
        self.button.configure(state="normal")
        if self.selftest:
            # As a user would: click the button (through the widget) from
            # Tk's own event loop, once the window is up.
            self.root.after(50, self.click)
        await self.quit_event.wait()
        server.close()
        await server.wait_closed()
        return self.tk_beats

    async def serve(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """The "remote" end: streams CHUNKS chunks, a little apart."""
        for i in range(CHUNKS):
            writer.write(bytes([i % 256]) * CHUNK)
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.close()
        await writer.wait_closed()

    async def download(self) -> None:
        """The task the button starts: reads the stream, updates the label."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        total = 0
        while data := await reader.read(CHUNK):
            total += len(data)
            self.text.set(f"downloading: {total} bytes")
        writer.close()
        await writer.wait_closed()
        self.downloading = False
        self.text.set(f"done: {total} bytes")
        self.button.configure(state="normal")
        if self.selftest:
            print(f"tk: its own timer ran {self.tk_beats} times during the download", flush=True)
            assert self.quit_event is not None
            self.quit_event.set()

    # -- the Tk side ---------------------------------------------------------

    def click(self) -> None:
        print("tk: clicking Download", flush=True)
        self.button.invoke()

    def on_click(self) -> None:
        """A Tk command: starts the asyncio task (same thread as the loop)."""
        self.button.configure(state="disabled")
        self.downloading = True
        # Host code may call into the guest loop between ticks; the task's
        # first step is due at once, which wakes the guest.
        assert self.loop is not None
        self.loop.create_task(self.download())
        self.root.after(20, self.beat)

    def beat(self) -> None:
        """Tk's own timer, alive while asyncio downloads."""
        if self.downloading:
            self.tk_beats += 1
            self.root.after(20, self.beat)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--selftest", action="store_true", help="click, wait, quit")
    parser.add_argument("--wakeup", choices=("filehandler", "event"), default=None)
    args = parser.parse_args()

    root = tk.Tk()
    if args.wakeup is None:
        args.wakeup = "filehandler" if hasattr(root.tk, "createfilehandler") else "event"
    root.title("guestpoll: asyncio inside Tk")
    print(
        f"tk: Tk {root.tk.call('info', 'patchlevel')}, threaded Tcl: "
        f"{root.tk.eval('set tcl_platform(threaded)')}, wake-up: {args.wakeup}",
        flush=True,
    )
    wakeup = TkWakeup(root, args.wakeup)
    app = App(root, args.selftest)
    app.button.configure(state="disabled")  # until the server is up
    result: list[outcome.Outcome] = []

    def done(res: outcome.Outcome) -> None:
        result.append(res)
        root.quit()

    def on_close() -> None:
        if app.quit_event is not None:
            app.quit_event.set()  # host code into the guest: wakes it
        else:
            root.quit()

    root.protocol("WM_DELETE_WINDOW", on_close)
    task = guestpoll.start_guest_run(
        app.guest_main(),
        run_sync_soon_threadsafe=wakeup.run_sync_soon_threadsafe,
        done_callback=done,
    )
    try:
        root.mainloop()
    finally:
        if not result and task is not None:
            # Tk is done before the guest: say so, and guestpoll finishes
            # the guest run here and now (no tick will come any more).
            print(f"tk: leaving early; guest run: {guestpoll.host_gone(task)!r}", flush=True)
        wakeup.close()
        root.destroy()
    if not result:
        print("tk: the window closed before the guest run ended", flush=True)
        return 1
    result[0].unwrap()
    print(
        f"tk: the guest run ended; {wakeup.foreign_calls} wake-ups came from "
        f"libguestpoll's waiter thread",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
