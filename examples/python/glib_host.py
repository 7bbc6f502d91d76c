"""asyncio as a guest of a GLib main loop (PyGObject): a GLib timer and
asyncio socket I/O take turns on one thread.

Run:  python3 examples/python/glib_host.py [ROUNDS]

``GLib.MainLoop.run()`` owns the main thread, as it does in a GTK program
or a D-Bus service.  asyncio runs as a guest in the same thread: a TCP echo
server and client (asyncio streams) exchange ROUNDS messages, a little
apart, while a GLib timeout keeps firing; both print what they do.

The wake-up: ``run_sync_soon_threadsafe`` is ``GLib.idle_add`` (GLib
documents it as callable from any thread: it attaches a source to the
default main context and wakes that context up), with two adjustments: the
callable runs once whatever it returns (an idle callback that returns a
true value would be called again), and at the default priority rather than
the idle one, so a busy GLib program cannot starve asyncio.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable

import outcome
from gi.repository import GLib

import guestpoll

TIMER_MS = 25
PAUSE = 0.04  # between echo rounds, seconds


class GLibWakeup:
    """``run_sync_soon_threadsafe`` for the default GLib main context."""

    def __init__(self) -> None:
        self._main = threading.get_ident()
        self.foreign_calls = 0  # wake-ups that came from another thread

    def run_sync_soon_threadsafe(self, fn: Callable[[], object]) -> None:
        """Runs *fn* once on the GLib thread, soon; callable from any thread."""
        if threading.get_ident() != self._main:
            self.foreign_calls += 1

        def once() -> bool:
            fn()
            return GLib.SOURCE_REMOVE

        GLib.idle_add(once, priority=GLib.PRIORITY_DEFAULT)


async def guest_main(rounds: int) -> int:
    """An asyncio echo server and client, ROUNDS round trips."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.readline():
            writer.write(data.upper())
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for i in range(rounds):
        writer.write(f"hello {i}\n".encode())
        reply = (await reader.readline()).decode().strip()
        print(f"asyncio: echo round {i}: sent 'hello {i}', got {reply!r}", flush=True)
        assert reply == f"HELLO {i}"
        await asyncio.sleep(PAUSE)
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    return rounds


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    loop = GLib.MainLoop()
    wakeup = GLibWakeup()
    ticks = 0
    result: list[outcome.Outcome] = []

    def on_timer() -> bool:
        nonlocal ticks
        ticks += 1
        print(f"glib: timer tick {ticks}", flush=True)
        return GLib.SOURCE_CONTINUE

    def done(res: outcome.Outcome) -> None:
        result.append(res)
        loop.quit()

    timer = GLib.timeout_add(TIMER_MS, on_timer)
    print(f"glib: GLib {GLib.MAJOR_VERSION}.{GLib.MINOR_VERSION}.{GLib.MICRO_VERSION}, "
          f"timer every {TIMER_MS} ms; asyncio echoes {rounds} rounds", flush=True)
    task = guestpoll.start_guest_run(
        guest_main(rounds),
        run_sync_soon_threadsafe=wakeup.run_sync_soon_threadsafe,
        done_callback=done,
    )
    try:
        loop.run()
    finally:
        GLib.source_remove(timer)
        if not result and task is not None:
            # GLib is done before the guest: say so, and guestpoll finishes
            # the guest run here and now (no tick will come any more).
            print(f"glib: leaving early; guest run: {guestpoll.host_gone(task)!r}", flush=True)
    if not result:
        return 1
    served = result[0].unwrap()
    print(f"glib: the guest run ended after {served} echo rounds; {ticks} timer "
          f"ticks meanwhile; {wakeup.foreign_calls} wake-ups came from "
          "libguestpoll's waiter thread", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
