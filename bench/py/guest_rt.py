"""Table py_guest_rt: guest-mode round trip.

An asyncio task and a partner process play 1-byte ping-pong over a Unix
socketpair.  The asyncio task writes one byte (StreamWriter.write) and
awaits the echo (StreamReader.read(1)); the partner process echoes with
blocking recv/sendall.  The asyncio loop has nothing else to do, so in
every round trip it really waits in the kernel (directly, or on the guest
mode's waiter thread).  Each round trip is timed in the asyncio task with
time.perf_counter_ns.  The task, the partner and the socket are identical
in every row; only what runs the asyncio loop changes.

    python guest_rt.py [--quick | --duration S --reps N --warmup S] [--row ID]
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from typing import Any

import _common
import _hosts
from _common import LatencyRecorder, Row

TITLE = "Guest-mode round trip (1-byte ping-pong with a partner process, asyncio blocks each time)"


def _row(id_: str, label: str, baseline: bool = False) -> Row:
    return Row(id_, "py_guest_rt", TITLE, label, baseline, "latency", "us", "lower")


ROWS = [
    _row("native", "native asyncio.run", True),
    _row("uvloop", "asyncio.run with uvloop"),
    _row("aioguest-queue", "aioguest, trivial queue host"),
    _row("guestpoll-queue", "guestpoll, trivial queue host"),
    _row("aioguest-trio", "aioguest inside trio.run"),
    _row("guestpoll-trio", "guestpoll inside trio.run"),
    # Not a guest: the same ping-pong written for Trio itself, so the
    # floor under any asyncio guest inside Trio is in the table.
    _row("trio-native", "Trio alone (trio sockets, no asyncio): the floor inside trio.run"),
]


# The echo partner is a process of its own (same CPU, by inheritance of the
# affinity): a partner thread in this process would share the GIL with the
# loop under test, and the order in which the two threads then get the GIL
# back made every row bimodal (one process at ~16 us, the next at ~28 us).
_ECHO = """
import socket, sys
s = socket.socket(fileno=int(sys.argv[1]))
while True:
    b = s.recv(1)
    if not b:
        break
    s.sendall(b)
"""


def _start_partner(sock: socket.socket) -> subprocess.Popen:
    """An echo process on the other end of *sock* (closed here after)."""
    proc = subprocess.Popen([sys.executable, "-c", _ECHO, str(sock.fileno())],
                            pass_fds=[sock.fileno()])
    sock.close()
    return proc


async def _timed_round_trips(rec: LatencyRecorder, send: Any, recv: Any) -> None:
    """Sends one byte and awaits the echo until *rec* has enough samples;
    *send(b)* and *recv(n)* are awaitable (asyncio streams or trio sockets)."""
    pc = time.perf_counter_ns
    record = rec.record
    rec.start(pc())
    while True:
        t0 = pc()
        await send(b"x")
        if not await recv(1):
            raise RuntimeError("partner closed the socket")
        t1 = pc()
        if record(t0, t1):
            break


async def ping_pong(rec: LatencyRecorder) -> int:
    """The asyncio side; returns the number of measured round trips."""
    mine, theirs = socket.socketpair()
    partner = _start_partner(theirs)
    reader, writer = await asyncio.open_connection(sock=mine)

    async def send(b: bytes) -> None:
        writer.write(b)

    await _timed_round_trips(rec, send, reader.read)
    writer.close()
    await writer.wait_closed()
    await asyncio.get_running_loop().run_in_executor(None, partner.wait)
    return sum(len(r) for r in rec.samples)


async def trio_ping_pong(rec: LatencyRecorder) -> int:
    """The same ping-pong as ping_pong(), as a Trio task."""
    trio = _common.need("trio")
    mine, theirs = socket.socketpair()
    partner = _start_partner(theirs)
    sock = trio.socket.from_stdlib_socket(mine)
    await _timed_round_trips(rec, sock.send, sock.recv)
    sock.close()
    await trio.to_thread.run_sync(partner.wait)
    return sum(len(r) for r in rec.samples)


def measure(row: Row, args) -> dict:
    rec = LatencyRecorder(args.warmup, args.duration, args.reps)
    kind = row.id
    if kind == "native":
        asyncio.run(ping_pong(rec))
    elif kind == "trio-native":
        _common.need("trio").run(trio_ping_pong, rec)
    elif kind == "uvloop":
        uvloop = _common.need("uvloop")
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(ping_pong(rec))
    else:
        lib, host = kind.split("-")
        start = _hosts.start_guest_run_of(lib)
        if host == "queue":
            _hosts.QueueHost().run(start, ping_pong(rec))
        else:
            _hosts.run_in_trio(start, lambda token: ping_pong(rec))
    return rec.result()


if __name__ == "__main__":
    _common.main(ROWS, measure, __file__, __doc__.splitlines()[0])
