"""Shared plumbing for the Python benchmarks of guestpoll.

Every table script (select_bench.py, echo.py, guest_rt.py, wake.py) calls
:func:`main` with its list of :class:`Row` descriptions and a function that
measures one row.  Run without ``--row``, a script runs each of its rows in
a fresh interpreter (``sys.executable script --row ID ...``, same
environment) and forwards the one JSON line each prints; with ``--row ID``
it measures that row in the current process and prints its JSON line.

Standard output carries JSON lines only; diagnostics go to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable, Optional


@dataclass(frozen=True)
class Row:
    id: str  # command-line name, e.g. "guestpoll-trio"
    table: str  # e.g. "py_guest_rt"
    title: str  # the table's title
    label: str  # the row's human-readable name
    baseline: bool
    metric: str  # "latency", "throughput", "time"
    unit: str
    better: str  # "lower" or "higher"


class RowError(Exception):
    """A row that cannot be measured here (a peer is missing, ...); its
    message becomes the row's "error"."""


def need(module: str, label: Optional[str] = None):
    """Imports *module* or raises RowError("<label> not installed")."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        name = label or module
        if module == "guestpoll" or module.startswith("guestpoll."):
            raise RowError(f"{module} not importable: {exc}") from None
        if exc.name is not None and module.split(".")[0] != exc.name.split(".")[0]:
            # Installed, but something it needs is not (or fails).
            raise RowError(f"{name} does not import: {exc}") from None
        raise RowError(f"{name} not installed") from None


def log(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


# ---- command line -----------------------------------------------------------


def add_timing_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--duration", type=float, default=2.0, help="seconds per repetition (2)")
    p.add_argument("--reps", type=int, default=3, help="repetitions per row (3)")
    p.add_argument("--warmup", type=float, default=0.5, help="warm-up seconds (0.5)")
    p.add_argument("--quick", action="store_true", help="0.2 s x 3 repetitions, 0.1 s warm-up")
    p.add_argument("--only", default="", help="run only tables whose id starts with this")
    p.add_argument("--pin", default="", metavar="CPUS",
                   help="pin every row process (all its threads) to these CPUs, e.g. 0 or 0,1 "
                        "(Linux; default: no pinning)")


def fix_timing(args: argparse.Namespace) -> None:
    if args.quick:
        args.duration, args.reps, args.warmup = 0.2, 3, 0.1
    if args.reps < 1 or args.duration <= 0 or args.warmup < 0:
        raise SystemExit("--reps must be >= 1, --duration > 0, --warmup >= 0")


def timing_argv(args: argparse.Namespace) -> list[str]:
    argv = [
        "--duration", repr(args.duration),
        "--reps", str(args.reps),
        "--warmup", repr(args.warmup),
    ]
    if args.pin:
        argv += ["--pin", args.pin]
    if args.quick:
        # Scripts with their own notion of a short run (host_rt.py: fewer
        # repetitions and idle seconds) need to know; the values above
        # are --quick's anyway.
        argv.append("--quick")
    return argv


def apply_pin(args: argparse.Namespace) -> None:
    """Pins this process (threads started later inherit it)."""
    if args.pin:
        cpus = {int(c) for c in args.pin.split(",")}
        os.sched_setaffinity(0, cpus)


# ---- statistics -------------------------------------------------------------


def percentile(sorted_values: list, q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        raise ValueError("no samples")
    k = max(0, min(len(sorted_values) - 1, int(-(-q * len(sorted_values) // 100)) - 1))
    return sorted_values[k]


class LatencyRecorder:
    """Collects per-iteration times (ns) in phases: a warm-up, then *reps*
    repetitions of *duration* seconds each.  The caller measures t0/t1 with
    time.perf_counter_ns and calls record(); it returns True when the last
    repetition is over.  Phase boundaries are checked against t1, so no
    extra clock read happens per iteration."""

    def __init__(self, warmup: float, duration: float, reps: int) -> None:
        self.warmup_ns = int(warmup * 1e9)
        self.duration_ns = int(duration * 1e9)
        self.reps = reps
        self.samples: list[list[int]] = [[] for _ in range(reps)]
        self.phase = -1  # -1: warm-up
        self.end = 0
        self.cur: Optional[list[int]] = None

    def start(self, now_ns: int) -> None:
        self.end = now_ns + self.warmup_ns
        if self.warmup_ns == 0:
            self._next(now_ns)

    def _next(self, now_ns: int) -> bool:
        self.phase += 1
        if self.phase >= self.reps:
            self.cur = None
            return True
        self.cur = self.samples[self.phase]
        self.end = now_ns + self.duration_ns
        return False

    def record(self, t0: int, t1: int) -> bool:
        cur = self.cur
        if cur is not None:
            cur.append(t1 - t0)
        if t1 >= self.end:
            return self._next(t1)
        return False

    @property
    def done(self) -> bool:
        return self.phase >= self.reps

    def result(self) -> dict:
        """median / p99 in microseconds over all measured iterations, plus
        each repetition's median."""
        if not self.done:
            raise RuntimeError("the measurement did not finish")
        allv = sorted(v for rep in self.samples for v in rep)
        if not allv:
            raise RuntimeError("no samples")
        return {
            "median": round(statistics.median(allv) / 1000.0, 3),
            "p99": round(percentile(allv, 99) / 1000.0, 3),
            "reps": [round(statistics.median(rep) / 1000.0, 3) for rep in self.samples],
            "n": len(allv),
        }


# ---- running rows -----------------------------------------------------------


def row_json(row: Row, result: Optional[dict], error: Optional[str]) -> str:
    result = result or {}
    return json.dumps(
        {
            "table": row.table,
            "title": row.title,
            "row": row.label,
            "baseline": row.baseline,
            "metric": row.metric,
            "unit": row.unit,
            "better": row.better,
            "median": result.get("median"),
            "p99": result.get("p99"),
            "reps": result.get("reps", []),
            "n": result.get("n", 0),
            "error": error,
        }
    )


def _run_here(row: Row, measure: Callable[[Row, argparse.Namespace], dict], args) -> None:
    try:
        result = measure(row, args)
        error = None
    except RowError as exc:
        result, error = None, str(exc)
    except Exception as exc:  # a broken row still prints its line
        import traceback

        traceback.print_exc()
        result, error = None, f"{type(exc).__name__}: {exc}"
    sys.stdout.write(row_json(row, result, error) + "\n")
    sys.stdout.flush()


# glibc malloc's settings for every row process.  asyncio's socket
# transports receive into a fresh 256 KiB buffer (sock.recv(256 * 1024))
# that is shrunk to what arrived.  Left to its defaults, glibc serves that
# buffer either with an mmap/munmap pair per receive or from the heap,
# depending on what the process happened to allocate and free before (its
# dynamic mmap threshold rises only when a large mmapped block is freed);
# on a virtual machine the mmap/munmap pair costs ~12 us, so the same row
# measured ~16 us in one process and ~28 us in the next.  Fixed thresholds
# (those a long-running process settles at: mmap above 1 MiB, trim above
# twice that) give every row, guest or not, the same allocator.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 20), "MALLOC_TRIM_THRESHOLD_": str(2 << 20)}


def malloc_env() -> dict:
    """os.environ with MALLOC_ENV added (values already set are kept)."""
    env = dict(os.environ)
    for k, v in MALLOC_ENV.items():
        env.setdefault(k, v)
    return env


def _run_child(row: Row, script: str, args: argparse.Namespace) -> None:
    cmd = [sys.executable, script, "--row", row.id, *timing_argv(args)]
    budget = 90 + 3 * (args.warmup + args.reps * args.duration)
    log(f"[{row.table}] {row.label} ...")
    t = time.monotonic()
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                              timeout=budget, text=True, env=malloc_env())
    except subprocess.TimeoutExpired:
        line = row_json(row, None, f"timed out after {budget:.0f} s")
    else:
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if lines:
            line = lines[-1]
        else:
            line = row_json(row, None, f"row process exited with status {proc.returncode} "
                                       "and printed no result")
        stray = [ln for ln in proc.stdout.splitlines() if ln and not ln.startswith("{")]
        for ln in stray:
            log(f"  (stdout) {ln}")
    try:
        d = json.loads(line)
        brief = f"median={d['median']} p99={d['p99']} reps={d['reps']} n={d['n']} error={d['error']}"
    except (ValueError, KeyError):
        brief = line
    log(f"  ... {time.monotonic() - t:.1f} s: {brief}")
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(rows: list[Row], measure: Callable[[Row, argparse.Namespace], dict],
         script: str, description: str) -> None:
    p = argparse.ArgumentParser(description=description)
    add_timing_args(p)
    p.add_argument("--row", help="measure this one row in this process")
    p.add_argument("--list", action="store_true", help="list the row ids")
    args = p.parse_args()
    fix_timing(args)
    if args.list:
        for r in rows:
            log(f"{r.id:24} {r.table:16} {r.label}")
        return
    if args.row:
        by_id = {r.id: r for r in rows}
        if args.row not in by_id:
            raise SystemExit(f"unknown row {args.row!r}; choose from {', '.join(by_id)}")
        if any(k not in os.environ for k in MALLOC_ENV):
            # Started by hand: measure with the allocator settings the
            # runner uses (glibc reads them at process start only).
            os.execve(sys.executable, [sys.executable, *sys.argv], malloc_env())
        apply_pin(args)
        _run_here(by_id[args.row], measure, args)
        return
    for r in rows:
        if r.table.startswith(args.only):
            _run_child(r, os.path.abspath(script), args)
