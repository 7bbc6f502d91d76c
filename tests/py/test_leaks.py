"""Leak checks: many Selector register/unregister cycles and many guest runs
with flat memory, and no growth in open fds or OS threads.

Memory is watched two ways:

* tracemalloc (Python allocations, the extension's PyMem ones included):
  the net growth over the second half of the cycles, compared with the
  first half's end, must stay under a small bound (if it does not, a third
  window must: see traced_growth);
* RSS (/proc/self/statm): a bound for the whole loop that is generous for
  the allocator's caching but far below what a per-cycle leak of even a
  few dozen bytes would give.  Skipped under ASan (GUESTPOLL_SANITIZED=1),
  whose quarantine makes RSS grow by design.

Counts (environment variables, printed by each test):
GUESTPOLL_LEAK_CYCLES  Selector cycles, default 100000 (10^5).
GUESTPOLL_LEAK_RUNS    guest runs, default 10000 (10^4): 3-15 s per
                       interpreter and backend, ASan build included, so the
                       full count runs everywhere.
"""

from __future__ import annotations

import gc
import os
import selectors
import socket
import threading
import time
import tracemalloc

import pytest

import hosts
from hosts import QueueHost, guestpoll

SANITIZED = os.environ.get("GUESTPOLL_SANITIZED", "") not in ("", "0")
R = selectors.EVENT_READ
W = selectors.EVENT_WRITE

CYCLES = int(os.environ.get("GUESTPOLL_LEAK_CYCLES", "100000"))
RUNS = int(os.environ.get("GUESTPOLL_LEAK_RUNS", "10000"))

# Net tracemalloc growth allowed over the second half of a loop: a leak of
# one small object per cycle would be megabytes.
TRACED_BOUND = 64 * 1024
RSS_BOUND = 8 * 1024 * 1024


def traced_growth(step, n: int) -> list[int]:
    """Runs step(i) for n cycles under tracemalloc, in two halves, and
    returns the net traced growth of each half.  If the second half grew
    beyond TRACED_BOUND, one more half is run and its growth appended: a
    leak grows in every window, while a one-off allocation (a cache or
    table of the interpreter growing once; seen on Debian's 3.11.2 after
    other tests: ~1 MB once, flat over the following 20000 runs) does not.
    The caller checks the last window."""
    half = n // 2
    windows: list[int] = []
    tracemalloc.start()
    try:
        i = 0
        for w in range(3):
            gc.collect()
            start, _ = tracemalloc.get_traced_memory()
            for _ in range(half):
                step(i)
                i += 1
            gc.collect()
            end, _ = tracemalloc.get_traced_memory()
            windows.append(end - start)
            if w == 1 and windows[-1] < TRACED_BOUND:
                break
    finally:
        tracemalloc.stop()
    return windows


def settle_threads(limit: int, timeout: float = 10.0) -> int:
    """Waiter threads end asynchronously once their poller is freed."""
    deadline = time.monotonic() + timeout
    while hosts.os_threads() > limit and time.monotonic() < deadline:
        time.sleep(0.01)
    return hosts.os_threads()


def report(capsys, line: str) -> None:
    """Prints a measurement past pytest's capture, so that CI logs show
    the figures."""
    with capsys.disabled():
        print(f"\n[leaks] {line}", flush=True)


class Payload:
    """Registration data whose instances tracemalloc would show leaking."""

    __slots__ = ("i",)

    def __init__(self, i: int) -> None:
        self.i = i


def selector_cycle(sel, a, b, i: int) -> None:
    obj = a if i & 1 else a.fileno()
    sel.register(obj, R, Payload(i))
    if i % 4 == 0:
        sel.modify(obj, R | W, Payload(-i))
    if i % 8 == 0:
        sel.select(0)
        sel.get_key(a)
        len(sel.get_map())
    if i % 16 == 0:
        # error paths must not leak either
        try:
            sel.register(a, W)
        except KeyError:
            pass
        try:
            sel.modify(a, 0)
        except ValueError:
            pass
        try:
            sel.get_key(2**40)
        except KeyError:
            pass
    sel.unregister(a)


def test_selector_register_unregister_cycles_flat(guestpoll, capsys):
    a, b = socket.socketpair()
    sel = guestpoll.Selector()
    try:
        for i in range(2000):  # warm-up: caches, the key table's size
            selector_cycle(sel, a, b, i)
        gc.collect()
        fds0, threads0 = hosts.open_fds(), hosts.os_threads()
        rss0 = hosts.rss_bytes()
        t0 = time.monotonic()
        windows = traced_growth(lambda i: selector_cycle(sel, a, b, i), CYCLES)
        elapsed = time.monotonic() - t0
        rss = hosts.rss_bytes() - rss0
        fds1, threads1 = hosts.open_fds(), hosts.os_threads()
    finally:
        sel.close()
        a.close()
        b.close()
    report(
        capsys,
        f"{CYCLES} Selector cycles in {elapsed:.1f} s: traced memory growth per half "
        f"{windows} B, RSS {rss:+d} B, fds {fds0}->{fds1}, threads {threads0}->{threads1}"
    )
    assert windows[-1] < TRACED_BOUND, f"traced memory grew by {windows} B per {CYCLES // 2} cycles"
    hosts.assert_no_more_fds(fds0, fds1)
    assert threads1 <= threads0
    if not SANITIZED:
        assert rss < RSS_BOUND, f"RSS grew by {rss} B over {CYCLES} cycles"


def test_selector_create_close_cycles_flat(guestpoll, capsys):
    """Selectors made and dropped (closed, or only collected): their
    pollers, fds and waiter threads go with them."""
    a, b = socket.socketpair()
    try:

        def once(i: int) -> None:
            sel = guestpoll.Selector()
            sel.register(a, R, i)
            if i % 3 == 0:
                sel._wait_start(0, lambda: None)  # starts the waiter thread
            if i % 2:
                sel.close()

        for i in range(50):
            once(i)
        gc.collect()
        fds0, threads0 = hosts.open_fds(), settle_threads(hosts.os_threads())
        windows = traced_growth(once, 2000)
        threads1 = settle_threads(threads0)
        fds1 = hosts.open_fds()
    finally:
        a.close()
        b.close()
    report(
        capsys,
        f"2000 Selectors made and dropped: traced memory growth per half {windows} B, "
        f"fds {fds0}->{fds1}, threads {threads0}->{threads1}"
    )
    assert windows[-1] < TRACED_BOUND, windows
    hosts.assert_no_more_fds(fds0, fds1)
    assert threads1 <= threads0


async def trivial(i: int) -> int:
    return i


def guest_run(i: int) -> None:
    host = QueueHost()
    host.thread_id = threading.get_ident()
    host.start(trivial(i))
    host.run(10)
    assert host.outcome.value == i


def test_guest_runs_flat(capsys):
    """RUNS guest runs of a trivial coroutine on the QueueHost."""
    for i in range(100):  # warm-up: lazily made classes, caches
        guest_run(i)
    gc.collect()
    fds0 = hosts.open_fds()
    threads0 = settle_threads(hosts.os_threads())
    rss0 = hosts.rss_bytes()
    t0 = time.monotonic()
    windows = traced_growth(guest_run, RUNS)
    elapsed = time.monotonic() - t0
    threads1 = settle_threads(threads0)
    fds1 = hosts.open_fds()
    rss = hosts.rss_bytes() - rss0
    report(
        capsys,
        f"{RUNS} guest runs in {elapsed:.1f} s: traced memory growth per half {windows} B, "
        f"RSS {rss:+d} B, fds {fds0}->{fds1}, threads {threads0}->{threads1}"
    )
    assert windows[-1] < TRACED_BOUND, f"traced memory grew by {windows} B per {RUNS // 2} runs"
    hosts.assert_no_more_fds(fds0, fds1)
    assert threads1 <= threads0
    if not SANITIZED:
        assert rss < 4 * RSS_BOUND, f"RSS grew by {rss} B over {RUNS} runs"
