"""Diagnostic (not part of run_all): where a guest-mode round trip of
py_guest_rt spends its time, phase by phase.

Same ping-pong as guest_rt.py, plus timestamps (perf_counter_ns) at each
hand-off, and the median of each phase over all round trips:

  write      asyncio task wrote its byte (start of the round trip)
  p_recv     partner thread's recv() returned (it holds the GIL again)
  p_sent     partner thread's sendall() returned
  wakeup     the guest library called the host's run_sync_soon_threadsafe
             (its waiter / worker thread saw the byte, holds the GIL)
  tick1      the host started the tick it was handed (queue host only)
  tick2      the host started the next tick
  done       the task has the echo (end of the round trip)

    python breakdown_rt.py [--seconds S] [native|aioguest|guestpoll ...]
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import socket
import statistics
import sys
import threading
import time

import _hosts

pc = time.perf_counter_ns


def run(kind: str, seconds: float) -> None:
    marks: dict[str, list[int]] = {k: [] for k in
                                   ("write", "p_recv", "p_sent", "wakeup", "tick", "done")}
    state = {"on": False}

    def partner(sock: socket.socket) -> None:
        pr, ps = marks["p_recv"], marks["p_sent"]
        while True:
            b = sock.recv(1)
            pr.append(pc())
            if not b:
                break
            sock.sendall(b)
            ps.append(pc())
        sock.close()

    async def ping_pong() -> None:
        mine, theirs = socket.socketpair()
        th = threading.Thread(target=partner, args=(theirs,), daemon=True)
        th.start()
        reader, writer = await asyncio.open_connection(sock=mine)
        end = pc() + int(seconds * 1e9)
        w, d = marks["write"], marks["done"]
        state["on"] = True
        while True:
            t0 = pc()
            w.append(t0)
            writer.write(b"x")
            await reader.read(1)
            t1 = pc()
            d.append(t1)
            if t1 > end:
                break
        state["on"] = False
        writer.close()
        await writer.wait_closed()
        await asyncio.get_running_loop().run_in_executor(None, th.join)

    if kind == "native":
        asyncio.run(ping_pong())
    else:
        start = _hosts.start_guest_run_of(kind)
        q: queue.SimpleQueue = queue.SimpleQueue()
        wk, tk = marks["wakeup"], marks["tick"]
        main_ident = threading.get_ident()

        def threadsafe(fn) -> None:
            if threading.get_ident() != main_ident:
                wk.append(pc())
            q.put(fn)

        box: list = []
        start(ping_pong(), run_sync_soon_threadsafe=threadsafe, done_callback=box.append)
        get = q.get
        while not box:
            fn = get()
            tk.append(pc())
            fn()
        box[0].unwrap()

    # Attribute each mark to the round trip [write_i, done_i] it falls in.
    import bisect

    writes, dones = marks["write"], marks["done"]
    n = len(dones)
    writes = writes[:n]
    per: dict[str, list[int]] = {}
    rows = []
    for name in ("p_recv", "p_sent", "wakeup", "tick"):
        ts = sorted(marks[name])
        firsts, seconds_ = [], []
        for i in range(n // 10, n):  # skip the first 10 % as warm-up
            a, b = writes[i], dones[i]
            j = bisect.bisect_left(ts, a)
            inside = []
            while j < len(ts) and ts[j] <= b:
                inside.append(ts[j] - a)
                j += 1
            if inside:
                firsts.append(inside[0])
                if name == "tick" and len(inside) > 1:
                    seconds_.append(inside[1])
        if firsts:
            per[name] = firsts
        if seconds_:
            per["tick2"] = seconds_
        if name == "tick":
            per["ticks_per_rt"] = [0]
            cnt = []
            for i in range(n // 10, n):
                a, b = writes[i], dones[i]
                cnt.append(bisect.bisect_right(ts, b) - bisect.bisect_left(ts, a))
            rows.append(f"ticks per round trip (median): {statistics.median(cnt) if cnt else 0}")
    total = [dones[i] - writes[i] for i in range(n // 10, n)]
    print(f"== {kind}: {len(total)} round trips, median {statistics.median(total)/1000:.1f} us")
    order = ["p_recv", "p_sent", "wakeup", "tick", "tick2"]
    prev = 0.0
    for name in order:
        if name in per:
            m = statistics.median(per[name]) / 1000
            print(f"  {name:8} at +{m:7.1f} us   (step {m - prev:+6.1f})")
            prev = m
    m = statistics.median(total) / 1000
    print(f"  {'done':8} at +{m:7.1f} us   (step {m - prev:+6.1f})")
    for r in rows:
        print("  " + r)
    sys.stdout.flush()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("kinds", nargs="*", default=["native", "aioguest", "guestpoll"])
    a = p.parse_args()
    for k in a.kinds:
        run(k, a.seconds)


if __name__ == "__main__":
    main()
