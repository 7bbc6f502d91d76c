"""Tables py_select_N: the cost of one ``select(0)`` call with N registered
sockets, all of them readable, for N in 1, 10, 100, 1000.

Each of the N socketpairs has one end registered for EVENT_READ and one
unread byte waiting in it, so every call returns N (key, events) pairs.
Rows: selectors.EpollSelector (baseline) and guestpoll.Selector.

    python select_bench.py [--quick | --duration S --reps N --warmup S] [--only py_select_100]
"""

from __future__ import annotations

import resource
import selectors
import socket
import statistics
import time

import _common
from _common import Row, RowError

SIZES = (1, 10, 100, 1000)
BATCH = {1: 2000, 10: 1000, 100: 200, 1000: 20}  # calls between clock reads

ROWS: list[Row] = []
for _n in SIZES:
    _title = f"Selector.select(0) with {_n} ready fd{'s' if _n > 1 else ''}"
    ROWS.append(Row(f"epoll-{_n}", f"py_select_{_n}", _title, "selectors.EpollSelector",
                    True, "time", "us/call", "lower"))
    ROWS.append(Row(f"guestpoll-{_n}", f"py_select_{_n}", _title, "guestpoll.Selector",
                    False, "time", "us/call", "lower"))


def _make_selector(kind: str) -> selectors.BaseSelector:
    if kind == "epoll":
        if not hasattr(selectors, "EpollSelector"):
            raise RowError("selectors.EpollSelector not available on this platform")
        return selectors.EpollSelector()
    guestpoll = _common.need("guestpoll")
    return guestpoll.Selector()


def measure(row: Row, args) -> dict:
    kind, n = row.id.rsplit("-", 1)
    n = int(n)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 2 * n + 64
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            raise RowError(f"RLIMIT_NOFILE hard limit {hard} < {want}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    sel = _make_selector(kind)
    pairs = []
    try:
        for i in range(n):
            a, b = socket.socketpair()
            pairs.append((a, b))
            sel.register(a, selectors.EVENT_READ, i)
            b.send(b"x")  # stays unread: `a` is readable on every call
        got = sel.select(0)
        if len(got) != n or any(ev != selectors.EVENT_READ for _, ev in got):
            raise RuntimeError(f"select(0) returned {len(got)} events, expected {n} readable")

        select = sel.select
        batch = BATCH[n]
        rng = range(batch)
        pc = time.perf_counter_ns

        def run_for(seconds: float) -> tuple[int, int]:
            calls = 0
            t0 = pc()
            end = t0 + int(seconds * 1e9)
            while True:
                for _ in rng:
                    select(0)
                calls += batch
                t1 = pc()
                if t1 >= end:
                    return calls, t1 - t0

        run_for(args.warmup)
        reps = []
        total = 0
        for _ in range(args.reps):
            calls, ns = run_for(args.duration)
            total += calls
            reps.append(ns / calls / 1000.0)
        # Still all readable at the end?
        if len(sel.select(0)) != n:
            raise RuntimeError("fds stopped being readable during the run")
    finally:
        sel.close()
        for a, b in pairs:
            a.close()
            b.close()
    reps_r = [round(v, 4) for v in reps]
    return {"median": round(statistics.median(reps), 4), "p99": None, "reps": reps_r, "n": total}


if __name__ == "__main__":
    _common.main(ROWS, measure, __file__, __doc__.splitlines()[0])
