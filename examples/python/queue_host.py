"""asyncio as a guest of the simplest possible host loop: a queue of
callables pumped by the main thread.

Run:  python3 examples/python/queue_host.py

The host keeps doing its own work (here: a heartbeat every 50 ms) while
asyncio, running as a guest in the same thread, serves an echo over a local
socket and sleeps on timers.  Both print what they do.
"""

from __future__ import annotations

import asyncio
import queue
import time

import guestpoll


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
    todo: queue.SimpleQueue = queue.SimpleQueue()
    outcome_box: list = []

    def done(result) -> None:  # called on the host thread at the end
        outcome_box.append(result)

    task = guestpoll.start_guest_run(
        guest_main(),
        run_sync_soon_threadsafe=todo.put,  # any thread may queue work
        done_callback=done,
    )

    # The host loop: run queued callables, and do host work on a timer.
    next_beat = time.monotonic()
    beats = 0
    try:
        while not outcome_box:
            now = time.monotonic()
            if now >= next_beat:
                beats += 1
                print(f"host: heartbeat {beats}")
                next_beat = now + 0.05
            try:
                fn = todo.get(timeout=max(0.0, next_beat - time.monotonic()))
            except queue.Empty:
                continue
            fn()
    finally:
        if not outcome_box and task is not None:
            # The host loop is leaving early (an error, Ctrl-C): say so, and
            # guestpoll finishes the guest run here and now.
            print(f"host: leaving early; the guest run ended with {guestpoll.host_gone(task)!r}")

    print(f"host: the guest run ended with {outcome_box[0]!r}")
    print(f"host: result = {outcome_box[0].unwrap()!r}, {beats} heartbeats meanwhile")


if __name__ == "__main__":
    main()
