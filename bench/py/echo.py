"""Table py_echo: throughput of an asyncio streams echo server.

The server (asyncio.start_server on 127.0.0.1, StreamReader/StreamWriter,
read / write / drain) runs in this process on the row's event loop; the load
comes from echo_client.py in another process: 100 concurrent connections
doing 64-byte request/response round trips, with plain asyncio, identical
for every row.  The client counts completed round trips per repetition.
Rows: the default asyncio loop (baseline), asyncio.SelectorEventLoop over
guestpoll.Selector, uvloop.

    python echo.py [--quick | --duration S --reps N --warmup S]
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time

import _common
from _common import Row

TITLE = "asyncio echo server, 100 clients x 64-byte request/response (client in another process)"
CLIENTS = 100
SIZE = 64

ROWS = [
    Row("default", "py_echo", TITLE, "default asyncio loop", True, "throughput", "req/s", "higher"),
    Row("guestpoll", "py_echo", TITLE, "asyncio.SelectorEventLoop(guestpoll.Selector())", False,
        "throughput", "req/s", "higher"),
    Row("uvloop", "py_echo", TITLE, "uvloop", False, "throughput", "req/s", "higher"),
]


def _new_loop(kind: str) -> asyncio.AbstractEventLoop:
    if kind == "default":
        return asyncio.new_event_loop()
    if kind == "guestpoll":
        guestpoll = _common.need("guestpoll")
        return asyncio.SelectorEventLoop(guestpoll.Selector())
    uvloop = _common.need("uvloop")
    return uvloop.new_event_loop()


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def _serve(args) -> dict:
    loop = asyncio.get_running_loop()
    server = await asyncio.start_server(_handle, "127.0.0.1", 0, backlog=CLIENTS + 16)
    port = server.sockets[0].getsockname()[1]
    done = loop.create_future()
    client = os.path.join(os.path.dirname(os.path.abspath(__file__)), "echo_client.py")
    cmd = [sys.executable, client, str(port), "--clients", str(CLIENTS), "--size", str(SIZE),
           "--warmup", repr(args.warmup), "--duration", repr(args.duration),
           "--reps", str(args.reps)]

    def drive() -> None:  # a helper thread: spawn the client, wait for its report
        try:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                                  timeout=60 + 2 * (args.warmup + args.reps * args.duration))
            res = (proc.returncode, proc.stdout)
        except BaseException as exc:  # noqa: BLE001 - reported to the loop
            res = exc
        loop.call_soon_threadsafe(done.set_result, res)

    threading.Thread(target=drive, daemon=True).start()
    res = await done
    server.close()
    await server.wait_closed()
    if isinstance(res, BaseException):
        raise res
    rc, out = res
    if rc != 0:
        raise RuntimeError(f"echo client exited with status {rc}")
    return json.loads(out.strip().splitlines()[-1])


def measure(row: Row, args) -> dict:
    loop = _new_loop(row.id)
    try:
        asyncio.set_event_loop(loop)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        report = loop.run_until_complete(_serve(args))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        _common.log(f"  server CPU {100 * cpu / wall:.0f}% of one core over the run; "
                    f"client CPU {report.get('cpu_pct', 0):.0f}%")
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    rates = report["rates"]
    return {
        "median": round(statistics.median(rates), 1),
        "p99": None,
        "reps": [round(r, 1) for r in rates],
        "n": sum(report["counts"]),
    }


if __name__ == "__main__":
    _common.main(ROWS, measure, __file__, __doc__.splitlines()[0])
