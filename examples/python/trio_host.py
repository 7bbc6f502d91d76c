"""asyncio as a guest of Trio: a Trio task and an asyncio task play
ping-pong across the two loops, in one thread.

Run:  python3 examples/python/trio_host.py [rounds]
"""

from __future__ import annotations

import asyncio
import sys

import outcome
import trio

import guestpoll


async def trio_main(rounds: int) -> None:
    token = trio.lowlevel.current_trio_token()
    to_trio_send, to_trio_recv = trio.open_memory_channel[str](1)
    run_done = trio.Event()
    result: list[outcome.Outcome] = []
    to_asyncio: asyncio.Queue[str] | None = None

    async def asyncio_player() -> int:
        nonlocal to_asyncio
        to_asyncio = asyncio.Queue()
        # Tell Trio we are ready (from the guest: hand a callable to Trio).
        token.run_sync_soon(to_trio_send.send_nowait, "ready")
        served = 0
        while True:
            msg = await to_asyncio.get()
            if msg == "stop":
                return served
            served += 1
            token.run_sync_soon(to_trio_send.send_nowait, msg.replace("ping", "pong"))

    def done(res: outcome.Outcome) -> None:
        result.append(res)
        run_done.set()

    task = guestpoll.start_guest_run(
        asyncio_player(),
        run_sync_soon_threadsafe=token.run_sync_soon,
        run_sync_soon_not_threadsafe=lambda fn: token.run_sync_soon(fn),
        done_callback=done,
    )
    try:
        assert await to_trio_recv.receive() == "ready"
        assert to_asyncio is not None
        for i in range(rounds):
            # From Trio, put into the asyncio queue: between guest ticks the
            # host may call into the guest loop directly.
            to_asyncio.put_nowait(f"ping {i}")
            reply = await to_trio_recv.receive()
            print(f"trio: sent 'ping {i}', asyncio answered {reply!r}")
            assert reply == f"pong {i}"
        to_asyncio.put_nowait("stop")
        await run_done.wait()
    finally:
        if not result and task is not None:
            # Trio is leaving early (an error, Ctrl-C): say so, and
            # guestpoll finishes the guest run here and now.
            print(f"trio: leaving early; guest run: {guestpoll.host_gone(task)!r}")
    print(f"trio: asyncio served {result[0].unwrap()} pings")


if __name__ == "__main__":
    trio.run(trio_main, int(sys.argv[1]) if len(sys.argv) > 1 else 5)
