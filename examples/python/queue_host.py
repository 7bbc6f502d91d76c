"""asyncio as a guest of the simplest possible host loop: a queue of
callables pumped by the main thread.

Run:  python3 examples/python/queue_host.py

The host keeps doing its own work (here: a heartbeat every 50 ms) while
asyncio, running as a guest in the same thread, serves an echo over a local
socket and sleeps on timers.  Both print what they do.  guestpoll.hosts
gives the queue and the run object; the loop is the host's own.
"""

from __future__ import annotations

import asyncio
import time

import guestpoll.hosts


async def guest_main() -> str:
    """The asyncio side: a TCP echo round trip and a few timers."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(100):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for i in range(3):
        writer.write(f"hello {i}".encode())
        reply = await reader.read(100)
        print(f"guest: echo server answered {reply.decode()!r}")
        await asyncio.sleep(0.08)
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    return "guest finished"


def main() -> None:
    # No host given: guestpoll.hosts makes a CallbackQueue, a thread-safe
    # queue of callables this loop drains (a game loop would call
    # run.host.run_pending() once a frame instead of waiting).
    run = guestpoll.hosts.start(guest_main)

    # The host loop: run queued callables, and do host work on a timer.
    # Leaving the `with` early (an error, Ctrl-C) ends the guest run too.
    next_beat = time.monotonic()
    beats = 0
    with run:
        while not run.done:
            now = time.monotonic()
            if now >= next_beat:
                beats += 1
                print(f"host: heartbeat {beats}")
                next_beat = now + 0.05
            run.host.wait(timeout=max(0.0, next_beat - time.monotonic()))

    print(f"host: the guest run ended with {run.outcome!r}")
    print(f"host: result = {run.result()!r}, {beats} heartbeats meanwhile")


if __name__ == "__main__":
    main()
