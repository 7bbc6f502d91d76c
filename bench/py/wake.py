"""Table py_wake: host-wakes-guest latency.

A guest asyncio task waits on a fresh future; the host (on its own thread,
between guest ticks) resolves it with ``loop.call_soon(fut.set_result, ...)``;
the task wakes and at once answers by handing the host a callable (the
host's run_sync_soon_threadsafe: q.put in the trivial queue host,
token.run_sync_soon feeding a Trio memory channel in Trio), carrying its
next future.  The host times, with time.perf_counter_ns, from just before
its call_soon to the moment it runs the answer, then wakes the guest again.

Reference row (baseline): a plain asyncio loop running in a separate
thread, woken with loop.call_soon_threadsafe, answering through the same
kind of queue.SimpleQueue the main thread pumps.

    python wake.py [--quick | --duration S --reps N --warmup S] [--row ID]
"""

from __future__ import annotations

import asyncio
import functools
import queue
import threading
import time
from typing import Any, Callable

import _common
import _hosts
from _common import LatencyRecorder, Row

TITLE = "Host wakes guest: loop.call_soon(fut.set_result) from the host until the guest's answer runs"


def _row(id_: str, label: str, baseline: bool = False) -> Row:
    return Row(id_, "py_wake", TITLE, label, baseline, "latency", "us", "lower")


ROWS = [
    _row("thread", "asyncio loop in a thread, call_soon_threadsafe", True),
    _row("aioguest-queue", "aioguest, trivial queue host"),
    _row("guestpoll-queue", "guestpoll, trivial queue host"),
    _row("aioguest-trio", "aioguest inside trio.run"),
    _row("guestpoll-trio", "guestpoll inside trio.run"),
    # Not a guest: the "guest" is a Trio task woken by a trio.Event, with
    # the same answer path, so the cost of Trio's own plumbing (the
    # run_sync_soon entry queue, the memory channel, the scheduling rounds)
    # is in the table: the floor under any asyncio guest inside Trio.
    _row("trio-native", "Trio alone (a Trio task woken by trio.Event, same answer path): the floor inside trio.run"),
]


async def guest(answer: Callable[[Any], object]) -> int:
    """The asyncio side: hand the host (loop, future), wait for the future;
    stop when its result is True."""
    loop = asyncio.get_running_loop()
    n = 0
    while True:
        fut = loop.create_future()
        answer((loop, fut))
        if await fut:
            return n
        n += 1


class Pinger:
    """The host side, shared by every row: on each answer, record the time
    since the previous wake, then wake the guest again with *wake*
    (loop.call_soon, or call_soon_threadsafe for the thread row)."""

    def __init__(self, rec: LatencyRecorder, threadsafe: bool) -> None:
        self.rec = rec
        self.threadsafe = threadsafe
        self.t0 = 0
        self.started = False
        self.done = False

    def on_answer(self, item) -> None:
        t1 = time.perf_counter_ns()
        loop, fut = item
        if self.started:
            self.done = self.rec.record(self.t0, t1)
        else:
            self.started = True
            self.rec.start(t1)
        wake = loop.call_soon_threadsafe if self.threadsafe else loop.call_soon
        self.t0 = time.perf_counter_ns()
        wake(fut.set_result, self.done)


def _thread_row(rec: LatencyRecorder) -> None:
    q: queue.SimpleQueue = queue.SimpleQueue()
    pinger = Pinger(rec, threadsafe=True)
    on_answer, put = pinger.on_answer, q.put

    def answer(item) -> None:  # on the asyncio thread
        put(functools.partial(on_answer, item))

    t = threading.Thread(target=asyncio.run, args=(guest(answer),), daemon=True)
    t.start()
    get = q.get
    while not pinger.done:
        get()()
    t.join()


def _queue_row(start_guest_run, rec: LatencyRecorder) -> None:
    host = _hosts.QueueHost()
    pinger = Pinger(rec, threadsafe=False)
    on_answer, soon = pinger.on_answer, host.run_sync_soon_threadsafe

    def answer(item) -> None:
        soon(functools.partial(on_answer, item))

    host.run(start_guest_run, guest(answer))
    if not pinger.done:
        raise RuntimeError("guest ended early")


def _trio_row(start_guest_run, rec: LatencyRecorder) -> None:
    trio = _common.need("trio")
    pinger = Pinger(rec, threadsafe=False)
    send, recv = trio.open_memory_channel(float("inf"))

    def make_coro(token):
        soon, send_nowait = token.run_sync_soon, send.send_nowait

        def answer(item) -> None:
            soon(send_nowait, item)

        return guest(answer)

    async def host_task(token) -> None:
        on_answer = pinger.on_answer
        receive = recv.receive
        while not pinger.done:
            on_answer(await receive())

    _hosts.run_in_trio(start_guest_run, make_coro, host_task)


class _TrioFuture:
    """What the trio-native row's task waits on: set_result() sets a
    trio.Event (the Trio way to wake a task from host code)."""

    def __init__(self, trio: Any) -> None:
        self.event = trio.Event()
        self.value = None

    def set_result(self, value: Any) -> None:
        self.value = value
        self.event.set()


class _Direct:
    """Stands in for the loop in the trio-native row: the host's "call_soon"
    of set_result is the Event being set right away."""

    @staticmethod
    def call_soon(fn: Callable[..., object], *args: Any) -> None:
        fn(*args)


def _trio_native_row(rec: LatencyRecorder) -> None:
    trio = _common.need("trio")
    pinger = Pinger(rec, threadsafe=False)
    send, recv = trio.open_memory_channel(float("inf"))

    async def trio_guest(answer: Callable[[Any], object]) -> None:
        while True:
            fut = _TrioFuture(trio)
            answer((_Direct, fut))
            await fut.event.wait()
            if fut.value:
                return

    async def main() -> None:
        token = trio.lowlevel.current_trio_token()
        soon, send_nowait = token.run_sync_soon, send.send_nowait

        def answer(item) -> None:
            soon(send_nowait, item)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio_guest, answer)
            on_answer = pinger.on_answer
            receive = recv.receive
            while not pinger.done:
                on_answer(await receive())

    trio.run(main)


def measure(row: Row, args) -> dict:
    rec = LatencyRecorder(args.warmup, args.duration, args.reps)
    if row.id == "thread":
        _thread_row(rec)
    elif row.id == "trio-native":
        _trio_native_row(rec)
    else:
        lib, host = row.id.split("-")
        start = _hosts.start_guest_run_of(lib)
        if host == "queue":
            _queue_row(start, rec)
        else:
            _trio_row(start, rec)
    return rec.result()


if __name__ == "__main__":
    _common.main(ROWS, measure, __file__, __doc__.splitlines()[0])
