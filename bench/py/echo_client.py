"""The load generator of the py_echo table (runs in its own process).

Plain asyncio (the default event loop, asyncio.Protocol for low client-side
overhead), the same for every server row: CLIENTS connections to
HOST:PORT, each sending a SIZE-byte message and waiting for all of it to
come back before sending the next.  After the warm-up it counts completed
round trips in each of REPS windows of DURATION seconds and prints one JSON
object: {"rates": [req/s per window], "counts": [...]}.

    python echo_client.py PORT [--host 127.0.0.1] [--clients 100] [--size 64]
                          [--warmup S] [--duration S] [--reps N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time


class Client(asyncio.Protocol):
    def __init__(self, msg: bytes, counter: list, lost: asyncio.Future) -> None:
        self.msg = msg
        self.size = len(msg)
        self.counter = counter
        self.lost = lost
        self.pending = 0
        self.stopping = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport
        transport.write(self.msg)

    def data_received(self, data: bytes) -> None:
        self.pending += len(data)
        if self.pending >= self.size:
            if self.pending != self.size:
                raise RuntimeError("echo returned more than was sent")
            self.pending = 0
            self.counter[0] += 1
            if self.stopping:
                self.transport.close()
            else:
                self.transport.write(self.msg)

    def connection_lost(self, exc) -> None:  # type: ignore[override]
        if not self.lost.done():
            self.lost.set_result(exc)


async def run(args) -> dict:
    loop = asyncio.get_running_loop()
    msg = bytes(range(256))[: args.size] * (1 + args.size // 256)
    msg = msg[: args.size]
    counter = [0]
    clients = []
    lost = []
    for _ in range(args.clients):
        fut = loop.create_future()
        _, proto = await loop.create_connection(
            lambda f=fut: Client(msg, counter, f), args.host, args.port
        )
        clients.append(proto)
        lost.append(fut)

    await asyncio.sleep(args.warmup)
    counts, rates = [], []
    c0, t0 = counter[0], time.perf_counter()
    cpu0, wall0 = time.process_time(), t0
    for _ in range(args.reps):
        await asyncio.sleep(args.duration)
        c1, t1 = counter[0], time.perf_counter()
        counts.append(c1 - c0)
        rates.append((c1 - c0) / (t1 - t0))
        c0, t0 = c1, t1
    cpu_pct = 100 * (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    for c in clients:
        c.stopping = True
    await asyncio.wait_for(asyncio.gather(*lost), 10)
    return {"rates": rates, "counts": counts, "cpu_pct": cpu_pct}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--clients", type=int, default=100)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--warmup", type=float, default=0.5)
    p.add_argument("--duration", type=float, default=2.0)
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args()
    result = asyncio.run(run(args))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
