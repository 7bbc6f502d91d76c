"""The host loops of the guest-mode tables (py_guest_rt, py_wake), written
once and used for both aioguest and guestpoll, so that the two get exactly
the same host.

* the trivial queue host: a queue.SimpleQueue of callables pumped by the
  main thread, run_sync_soon_threadsafe=q.put;
* Trio: trio.run, run_sync_soon_threadsafe=token.run_sync_soon.

Neither passes run_sync_soon_not_threadsafe (both libraries then use the
threadsafe one).

And the toolkit host loops of the host tables (py_host_rt, py_host_idle):
one LoopHost class per toolkit (Qt, Tk, GLib, Trio, the CallbackQueue,
native asyncio), each running guestpoll, aioguest, the toolkit's peer or
nothing at all in the same host set-up; and start_xvfb() for Tk.
"""

from __future__ import annotations

import queue
from typing import Any, Callable

import _common


def start_guest_run_of(kind: str) -> Callable[..., Any]:
    """guestpoll.start_guest_run or aioguest.start_guest_run."""
    if kind == "guestpoll":
        return _common.need("guestpoll").start_guest_run
    if kind == "aioguest":
        _common.need("greenlet", "greenlet (needed by aioguest)")
        return _common.need("aioguest").start_guest_run
    raise ValueError(kind)


class QueueHost:
    """The trivial host: run queued callables until the guest is done."""

    def __init__(self) -> None:
        self.q: queue.SimpleQueue = queue.SimpleQueue()
        self.run_sync_soon_threadsafe = self.q.put

    def run(self, start_guest_run: Callable[..., Any], coro) -> Any:
        box: list = []
        get = self.q.get
        start_guest_run(coro, run_sync_soon_threadsafe=self.q.put, done_callback=box.append)
        while not box:
            get()()
        return box[0].unwrap()


def run_in_trio(start_guest_run: Callable[..., Any], make_coro: Callable[[Any], Any],
                host_task: Callable[..., Any] | None = None) -> Any:
    """trio.run a host whose main task starts the guest, runs the optional
    ``host_task(trio_token)`` coroutine function alongside, and waits for
    the guest's result.  ``make_coro(token)`` builds the guest coroutine."""
    trio = _common.need("trio")

    async def trio_main() -> Any:
        token = trio.lowlevel.current_trio_token()
        done = trio.Event()
        box: list = []

        def done_callback(result) -> None:
            box.append(result)
            done.set()

        start_guest_run(make_coro(token), run_sync_soon_threadsafe=token.run_sync_soon,
                        done_callback=done_callback)
        if host_task is not None:
            await host_task(token)
        await done.wait()
        return box[0].unwrap()

    return trio.run(trio_main)


# ---- toolkit host loops (py_host_rt, py_host_idle) ---------------------------
#
# One class per host loop, each with the same few operations, so that every
# integration of a toolkit (guestpoll on either path, aioguest, the
# toolkit's peer, and no asyncio at all) runs in the very same host set-up:
#
#   call_later(delay, fn)   the host's own timer (QTimer, Tk after, GLib
#                           timeout, a Trio task, the queue loop's deadline)
#   loop() / quit()         run the bare host loop / end it (the floor rows)
#   guestpoll(main, wt)     the toolkit's one-call guestpoll entry with
#                           waiter_thread=wt; returns main()'s result
#   aioguest(main)          aioguest.start_guest_run woken by the host's own
#                           run-soon call (the guestpoll Host object's
#                           call_soon_threadsafe: the same adapter)
#   peer(main)              the toolkit's own asyncio integration
#
# *main* is always an async function without arguments.


def _need_keyword(fn: Callable[..., Any], what: str) -> None:
    import inspect

    if "waiter_thread" not in inspect.signature(fn).parameters:
        raise _common.RowError(f"{what} takes no waiter_thread keyword: this guestpoll has no no-thread path yet")


def checked_path(main: Callable[[], Any], expect: bool) -> Callable[[], Any]:
    """*main*, first asserting that the guest run it runs in took the
    waiter-thread path *expect* (GuestRun.waiter_thread), so that a row can
    never measure the other path."""

    async def on_the_right_path() -> Any:
        hosts = _common.need("guestpoll.hosts")
        took = getattr(hosts.current_run(), "waiter_thread", None)
        if took is None:
            raise _common.RowError("GuestRun has no waiter_thread attribute: this guestpoll has no no-thread path yet")
        if bool(took) is not expect:
            raise _common.RowError(f"asked for waiter_thread={expect}, the run took waiter_thread={took}")
        return await main()

    return on_the_right_path


class LoopHost:
    """The operations above; subclasses fill them in."""

    name = ""

    def call_later(self, delay: float, fn: Callable[[], object]) -> None:
        raise NotImplementedError

    def loop(self) -> None:
        raise NotImplementedError

    def quit(self) -> None:
        raise NotImplementedError

    def guestpoll(self, main: Callable[[], Any], waiter_thread: bool) -> Any:
        raise NotImplementedError

    def aioguest(self, main: Callable[[], Any]) -> Any:
        raise NotImplementedError

    def peer(self, main: Callable[[], Any]) -> Any:
        raise _common.RowError(f"{self.name} has no peer")

    def _aioguest_in_loop(self, main: Callable[[], Any], threadsafe: Callable[[Callable[[], object]], object]) -> Any:
        start = start_guest_run_of("aioguest")
        box: list = []

        def done(result: Any) -> None:
            box.append(result)
            self.quit()

        start(main(), run_sync_soon_threadsafe=threadsafe, done_callback=done)
        if not box:
            self.loop()
        if not box:
            raise RuntimeError("the host loop ended before the aioguest run")
        return box[0].unwrap()


class QtLoop(LoopHost):
    """A QApplication on the offscreen platform (the caller sets
    QT_QPA_PLATFORM), with the binding guestpoll.qt picks."""

    name = "Qt"

    def __init__(self) -> None:
        import importlib

        self.gq = _common.need("guestpoll.qt", "guestpoll.qt (PySide6 or PyQt6)")
        self.binding = self.gq.API
        widgets = importlib.import_module(self.binding + ".QtWidgets")
        self.QTimer = importlib.import_module(self.binding + ".QtCore").QTimer
        self.app = widgets.QApplication.instance() or widgets.QApplication([])

    def call_later(self, delay: float, fn: Callable[[], object]) -> None:
        self.QTimer.singleShot(int(delay * 1000), fn)

    def loop(self) -> None:
        self.app.exec()

    def quit(self) -> None:
        self.app.exit(0)

    def guestpoll(self, main: Callable[[], Any], waiter_thread: bool) -> Any:
        _need_keyword(self.gq.run, "guestpoll.qt.run")
        return self.gq.run(checked_path(main, waiter_thread), waiter_thread=waiter_thread)

    def aioguest(self, main: Callable[[], Any]) -> Any:
        return self._aioguest_in_loop(main, self.gq.QtHost().call_soon_threadsafe)

    def peer(self, main: Callable[[], Any]) -> Any:
        import os

        os.environ["QT_API"] = self.binding.lower()  # qasync: the same binding
        qasync = _common.need("qasync")
        return qasync.run(main())


class TkLoop(LoopHost):
    """A withdrawn Tk root (the caller provides DISPLAY)."""

    name = "Tk"

    def __init__(self) -> None:
        import tkinter

        self.gt = _common.need("guestpoll.tk")
        self.root = tkinter.Tk()
        self.root.withdraw()

    def call_later(self, delay: float, fn: Callable[[], object]) -> None:
        self.root.after(int(delay * 1000), fn)

    def loop(self) -> None:
        self.root.mainloop()

    def quit(self) -> None:
        self.root.quit()

    def guestpoll(self, main: Callable[[], Any], waiter_thread: bool) -> Any:
        _need_keyword(self.gt.run, "guestpoll.tk.run")
        return self.gt.run(self.root, checked_path(main, waiter_thread), waiter_thread=waiter_thread)

    def aioguest(self, main: Callable[[], Any]) -> Any:
        adapter = self.gt.TkHost(self.root)
        try:
            return self._aioguest_in_loop(main, adapter.call_soon_threadsafe)
        finally:
            adapter.close()

    def peer(self, main: Callable[[], Any]) -> Any:
        import asyncio

        import outcome

        atl = _common.need("async_tkinter_loop", "async-tkinter-loop")
        box: list = []
        root = self.root

        async def then_close() -> None:
            # async-tkinter-loop's loop runs until the root is destroyed.
            try:
                box.append(outcome.Value(await main()))
            except BaseException as exc:  # noqa: BLE001 (handed back below)
                box.append(outcome.Error(exc))
            finally:
                root.destroy()

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.create_task(then_close())
            atl.async_mainloop(root, event_loop=loop)
        finally:
            loop.close()
            asyncio.set_event_loop(None)
        if not box:
            raise RuntimeError("async-tkinter-loop ended before the main task")
        return box[0].unwrap()


class GLibLoop(LoopHost):
    """A GLib.MainLoop on the default main context."""

    name = "GLib"

    def __init__(self) -> None:
        self.gg = _common.need("guestpoll.glib", "guestpoll.glib (PyGObject)")
        from gi.repository import GLib

        self.GLib = GLib
        self.ml = GLib.MainLoop()

    def call_later(self, delay: float, fn: Callable[[], object]) -> None:
        def once() -> bool:
            fn()
            return False

        self.GLib.timeout_add(int(delay * 1000), once)

    def loop(self) -> None:
        self.ml.run()

    def quit(self) -> None:
        self.ml.quit()

    def guestpoll(self, main: Callable[[], Any], waiter_thread: bool) -> Any:
        _need_keyword(self.gg.run, "guestpoll.glib.run")
        return self.gg.run(checked_path(main, waiter_thread), loop=self.ml, waiter_thread=waiter_thread)

    def aioguest(self, main: Callable[[], Any]) -> Any:
        return self._aioguest_in_loop(main, self.gg.GLibHost().call_soon_threadsafe)

    def peer(self, main: Callable[[], Any]) -> Any:
        import asyncio

        import gi

        try:
            import gi.events
        except ImportError:
            raise _common.RowError(f"PyGObject {gi.__version__} has no gi.events (asyncio support needs >= 3.50)") from None
        policy = gi.events.GLibEventLoopPolicy()
        asyncio.set_event_loop_policy(policy)
        try:
            # PyGObject's documented form: asyncio.run() refuses the
            # policy's loop (the thread already has a main context).
            return policy.get_event_loop().run_until_complete(main())
        finally:
            asyncio.set_event_loop_policy(None)


class TrioLoop(LoopHost):
    """trio.run; timers asked for before the run start with it."""

    name = "Trio"

    def __init__(self) -> None:
        self.trio = _common.need("trio")
        self._pending: list = []
        self._nursery: Any = None

    async def _later(self, delay: float, fn: Callable[[], object]) -> None:
        await self.trio.sleep(delay)
        fn()

    def call_later(self, delay: float, fn: Callable[[], object]) -> None:
        if self._nursery is None:
            self._pending.append((delay, fn))
        else:
            self._nursery.start_soon(self._later, delay, fn)

    def _run(self, part: Callable[[], Any]) -> Any:
        trio = self.trio
        box: list = []

        async def trio_main() -> None:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for delay, fn in self._pending:
                    nursery.start_soon(self._later, delay, fn)
                self._pending = []
                box.append(await part())
                nursery.cancel_scope.cancel()
            self._nursery = None

        trio.run(trio_main)
        return box[0] if box else None

    def loop(self) -> None:
        self._run(self.trio.sleep_forever)

    def quit(self) -> None:
        self._nursery.cancel_scope.cancel()

    def guestpoll(self, main: Callable[[], Any], waiter_thread: bool) -> Any:
        gtr = _common.need("guestpoll.trio")
        _need_keyword(gtr.guest, "guestpoll.trio.guest")

        async def part() -> Any:
            gtr.guest(waiter_thread=waiter_thread)  # before the first run_asyncio
            return await gtr.run_asyncio(checked_path(main, waiter_thread))

        return self._run(part)

    def aioguest(self, main: Callable[[], Any]) -> Any:
        start = start_guest_run_of("aioguest")
        trio = self.trio

        async def part() -> Any:
            token = trio.lowlevel.current_trio_token()
            done = trio.Event()
            box: list = []

            def done_callback(result: Any) -> None:
                box.append(result)
                done.set()

            start(main(), run_sync_soon_threadsafe=token.run_sync_soon, done_callback=done_callback)
            await done.wait()
            return box[0].unwrap()

        return self._run(part)

    def peer(self, main: Callable[[], Any]) -> Any:
        try:
            import trio_asyncio
        except ImportError as exc:
            raise _common.RowError(f"trio-asyncio does not import: {exc}") from None

        async def part() -> Any:
            async with trio_asyncio.open_loop():
                return await trio_asyncio.aio_as_trio(main)()

        return self._run(part)


class QueueLoop(LoopHost):
    """guestpoll.hosts.CallbackQueue drained by this thread, with a deadline
    list for timers (a game loop's frame timer, in effect)."""

    name = "queue"

    def __init__(self) -> None:
        import heapq
        import time

        self.hosts = _common.need("guestpoll.hosts")
        self.cq = self.hosts.CallbackQueue()
        self._heapq = heapq
        self._now = time.monotonic
        self._timers: list = []
        self._seq = 0
        self._stop = False

    def call_later(self, delay: float, fn: Callable[[], object]) -> None:
        self._seq += 1
        self._heapq.heappush(self._timers, (self._now() + delay, self._seq, fn))

    def loop(self) -> None:
        timers, now = self._timers, self._now
        self._stop = False
        while not self._stop:
            if timers:
                timeout = timers[0][0] - now()
                if timeout > 0:
                    self.cq.wait(timeout)
                else:
                    self.cq.run_pending()
            else:
                self.cq.wait()
            t = now()
            while timers and timers[0][0] <= t and not self._stop:
                self._heapq.heappop(timers)[2]()

    def quit(self) -> None:
        self._stop = True

    def guestpoll(self, main: Callable[[], Any], waiter_thread: bool) -> Any:
        _need_keyword(self.hosts.start, "guestpoll.hosts.start")
        run = self.hosts.start(checked_path(main, waiter_thread), host=self.cq, waiter_thread=waiter_thread)
        run.add_done_callback(lambda _: self.quit())
        with run:
            if not run.done:
                self.loop()
        return run.result()

    def aioguest(self, main: Callable[[], Any]) -> Any:
        return self._aioguest_in_loop(main, self.cq.call_soon_threadsafe)


class NativeLoop(LoopHost):
    """Plain asyncio.run: no host (the baseline)."""

    name = "native"

    def __init__(self) -> None:
        self._pending: list = []
        self._loop: Any = None

    def call_later(self, delay: float, fn: Callable[[], object]) -> None:
        if self._loop is None:
            self._pending.append((delay, fn))
        else:
            self._loop.call_later(delay, fn)

    def run(self, main: Callable[[], Any]) -> Any:
        import asyncio

        async def with_timers() -> Any:
            self._loop = asyncio.get_running_loop()
            for delay, fn in self._pending:
                self._loop.call_later(delay, fn)
            self._pending = []
            return await main()

        return asyncio.run(with_timers())


LOOP_HOSTS: dict[str, Callable[[], LoopHost]] = {
    "qt": QtLoop,
    "qtpyqt6": QtLoop,  # the row process runs with QT_API=pyqt6
    "tk": TkLoop,
    "glib": GLibLoop,
    "trio": TrioLoop,
    "queue": QueueLoop,
    "native": NativeLoop,
}


def start_xvfb(timeout: float = 30.0) -> tuple[Any, str]:
    """Starts a private Xvfb that picks its own display (-displayfd);
    returns (process, ":N") once it accepts clients.  RuntimeError if it
    does not start."""
    import os
    import select
    import subprocess

    rfd, wfd = os.pipe()
    try:
        proc = subprocess.Popen(["Xvfb", "-displayfd", str(wfd), "-nolisten", "tcp", "-screen", "0", "640x480x24"],
                                pass_fds=(wfd,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    finally:
        os.close(wfd)
    number = b""
    try:
        while not number.endswith(b"\n"):
            ready, _, _ = select.select([rfd], [], [], timeout)
            if not ready:
                proc.kill()
                proc.wait()
                raise RuntimeError(f"Xvfb did not report a display within {timeout:.0f} s")
            chunk = os.read(rfd, 16)
            if not chunk:
                break
            number += chunk
    finally:
        os.close(rfd)
    if not number.strip():
        raise RuntimeError(f"Xvfb failed to start (exit status {proc.wait()})")
    return proc, ":" + number.decode().strip()
