"""Tables py_host_rt and py_host_idle: asyncio inside toolkit host loops.

py_host_rt: an asyncio task plays 1-byte ping-pong with a partner process
over a Unix socketpair (guest_rt.ping_pong: the same task, partner and
socket as py_guest_rt), while asyncio runs inside a host loop: Qt
(offscreen), Tk (under Xvfb), GLib (GLib.MainLoop), Trio (trio.run) and a
plain queue host (guestpoll.hosts.CallbackQueue).  Per host: guestpoll on
the waiter-thread path and on the no-thread path (each row asserts
GuestRun.waiter_thread, so it cannot measure the other path), aioguest
woken by the host's own run-soon call (the same adapter object guestpoll
uses), and the toolkit's peer (qasync, async-tkinter-loop, PyGObject's
gi.events, trio-asyncio); and native asyncio.run as the baseline.  Each
repetition is a fresh process (warm-up, then one measured stretch); a
row reports the median of the repetitions' medians, their min-max, the
p99 over every round trip of every repetition, and round trips per second
(median over the repetitions).  The repetitions go round the rows (rep 1
of every row, then rep 2, ...), so that a slow stretch of the machine
falls on all rows alike.

py_host_idle: the host loop runs with asyncio sleeping (its main task
awaits one long asyncio.sleep) and the process's CPU time (getrusage:
every thread) is read every second for N seconds (5; --quick 1), on the
host's own timer; the row gives CPU milliseconds per wall second (median
over the 1 s windows, and their min-max).  Per host, the bare host loop
without asyncio is the floor.

Both tables are measured twice, the mode in every row's label:
[pinned] (the row process, its threads and its partner process on the
CPUs of --pin, default 0) and [unpinned] (no affinity, as users run it).

    python host_rt.py [--quick | --duration S --reps N --warmup S]
                      [--only PREFIX] [--pin CPUS] [--hosts qt,tk,...]
                      [--modes pinned,unpinned] [--idle-seconds N]

A full run (bench/run) uses max(--reps, 5) repetitions of min(--duration,
1.0) s each.  Tk needs an X display: DISPLAY, else a private Xvfb this
script starts (and stops); without either, the Tk rows say so.
"""

from __future__ import annotations

import argparse
import array
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Optional

import _common
import _hosts
from _common import LatencyRecorder, Row, RowError

RT_TITLE = "asyncio inside host loops: round trip (1-byte ping-pong with a partner process)"
IDLE_TITLE = "asyncio inside host loops: idle CPU (asyncio sleeping; CPU ms per wall second)"

# (id, label, how aioguest is woken there, the peer's name or None)
HOSTS = [
    ("qt", "Qt (offscreen)", "posted QEvent", "qasync"),
    # The other binding, for the qasync comparison: under PySide6 6.12.0
    # on CPython <= 3.11 every void method call leaks a reference to None
    # and qasync aborts within a repetition (bench/README.md).
    ("qtpyqt6", "Qt/PyQt6 (offscreen)", "posted QEvent", "qasync"),
    ("tk", "Tk (Xvfb)", "Tk filehandler", "async-tkinter-loop"),
    ("glib", "GLib (MainLoop)", "GLib.idle_add", "PyGObject gi.events"),
    ("trio", "Trio (trio.run)", "token.run_sync_soon", "trio-asyncio"),
    ("queue", "queue host (CallbackQueue)", "CallbackQueue", None),
]
MODES = ["pinned", "unpinned"]


def _impls(host: str, peer: Optional[str], table: str) -> list[tuple[str, str]]:
    out = []
    if table == "py_host_idle":
        out.append(("floor", "host loop alone, no asyncio (floor)"))
    if host == "qtpyqt6":  # only the pair the peer goal compares
        return out + [("nothread", "guestpoll, no-thread"), ("peer", f"{peer} (peer)")]
    out.append(("thread", "guestpoll, waiter thread"))
    if host != "queue":  # the queue host has only the thread path
        out.append(("nothread", "guestpoll, no-thread"))
    out.append(("aioguest", f"aioguest ({dict((h[0], h[2]) for h in HOSTS)[host]})"))
    if peer:
        out.append(("peer", f"{peer} (peer)"))
    return out


def make_rows(modes: list[str], hosts: list[str]) -> list[Row]:
    rows = []
    for table, title, unit, metric in (("py_host_rt", RT_TITLE, "us", "latency"),
                                       ("py_host_idle", IDLE_TITLE, "ms/s", "cpu")):
        for mode in modes:
            native = "native asyncio.run, no host" + (" (asyncio sleeping)" if table == "py_host_idle" else "")
            rows.append(Row(f"{table}:native:native:{mode}", table, title, f"[{mode}] {native}",
                            table == "py_host_rt", metric, unit, "lower"))
            for host, hlabel, _, peer in HOSTS:
                if host not in hosts:
                    continue
                for impl, ilabel in _impls(host, peer, table):
                    rows.append(Row(f"{table}:{host}:{impl}:{mode}", table, title,
                                    f"[{mode}] {hlabel}: {ilabel}", False, metric, unit, "lower"))
    return rows


# ---- in the row process -------------------------------------------------------


def _set_affinity(mode: str, pin: str) -> None:
    if not hasattr(os, "sched_setaffinity"):
        if mode == "pinned":
            raise RowError("no os.sched_setaffinity here: cannot pin")
        return
    if mode == "pinned":
        os.sched_setaffinity(0, {int(c) for c in pin.split(",")})
    else:
        # Whatever started us may have been pinned: undo it.
        os.sched_setaffinity(0, range(os.cpu_count() or 1))


def _run_impl(host: _hosts.LoopHost, impl: str, main: Callable[[], Any]) -> Any:
    if impl == "native":
        assert isinstance(host, _hosts.NativeLoop)
        return host.run(main)
    if impl in ("thread", "nothread"):
        return host.guestpoll(main, impl == "thread")
    if impl == "aioguest":
        return host.aioguest(main)
    if impl == "peer":
        return host.peer(main)
    raise ValueError(impl)


def _make_host(host_id: str) -> _hosts.LoopHost:
    host = _hosts.LOOP_HOSTS[host_id]()
    if host_id == "qtpyqt6" and getattr(host, "binding", None) != "PyQt6":
        raise RowError(f"QT_API=pyqt6, but guestpoll.qt picked {getattr(host, 'binding', None)}: PyQt6 not installed?")
    return host


def _note(host: _hosts.LoopHost) -> str:
    binding = getattr(host, "binding", None)
    return f"binding {binding}" if binding else ""


def measure_rt(host_id: str, impl: str, args: argparse.Namespace) -> dict:
    import guest_rt

    rec = LatencyRecorder(args.warmup, args.duration, 1)
    host = _make_host(host_id)

    async def main() -> int:
        return await guest_rt.ping_pong(rec)

    _run_impl(host, impl, main)
    res = rec.result()
    samples = rec.samples[0]
    res["per_s"] = round(len(samples) / (sum(samples) / 1e9), 1)
    res["note"] = _note(host)
    if args.raw:
        with open(args.raw, "wb") as f:
            array.array("q", samples).tofile(f)
    return res


class IdleSampler:
    """Reads this process's CPU time (every thread) on the host's own
    timer: at *settle* seconds, then every *window* seconds, *count*
    windows in all; then calls *on_done*."""

    def __init__(self, host: _hosts.LoopHost, settle: float, window: float, count: int,
                 on_done: Optional[Callable[[], object]] = None) -> None:
        self.host, self.settle, self.window, self.count = host, settle, window, count
        self.on_done = on_done
        self.values: list[float] = []
        self._last: Optional[tuple[float, float]] = None

    @staticmethod
    def _cpu() -> float:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return ru.ru_utime + ru.ru_stime

    def start(self) -> None:
        self.host.call_later(self.settle, self._tick)

    def _tick(self) -> None:
        now, cpu = time.perf_counter(), self._cpu()
        if self._last is not None:
            self.values.append(1000.0 * (cpu - self._last[1]) / (now - self._last[0]))
        self._last = (now, cpu)
        if len(self.values) < self.count:
            self.host.call_later(self.window, self._tick)
        elif self.on_done is not None:
            self.on_done()

    @property
    def complete(self) -> bool:
        return len(self.values) >= self.count


def measure_idle(host_id: str, impl: str, args: argparse.Namespace) -> dict:
    host = _make_host(host_id)
    settle, window, count = max(args.warmup, 0.3), 1.0, args.idle_seconds
    if impl == "floor":
        sampler = IdleSampler(host, settle, window, count, on_done=host.quit)
        sampler.start()
        host.loop()
    else:
        import asyncio

        # One long sleep, long enough for the sampler's windows plus slack
        # for late timers; the run then ends by itself.
        sleep_for = settle + count * window + 0.5
        sampler = IdleSampler(host, settle, window, count)

        async def main() -> None:
            await asyncio.sleep(sleep_for)

        sampler.start()
        _run_impl(host, impl, main)
    if not sampler.complete:
        raise RuntimeError(f"only {len(sampler.values)} of {count} idle windows were sampled "
                           "(the host's timers did not fire in time)")
    vals = [round(v, 4) for v in sampler.values]
    return {"median": round(statistics.median(vals), 4), "p99": None, "reps": vals,
            "n": len(vals), "spread": [min(vals), max(vals)], "note": _note(host)}


def run_row(row_id: str, args: argparse.Namespace) -> None:
    table, host_id, impl, mode = row_id.split(":")
    row = {r.id: r for r in make_rows(MODES, [h[0] for h in HOSTS])}[row_id]
    result: Optional[dict] = None
    error: Optional[str] = None
    try:
        if os.environ.get("GP_BENCH_ROW_ERROR"):
            raise RowError(os.environ["GP_BENCH_ROW_ERROR"])
        _set_affinity(mode, args.pin or "0")
        if table == "py_host_rt":
            result = measure_rt(host_id, impl, args)
        else:
            result = measure_idle(host_id, impl, args)
    except RowError as exc:
        error = str(exc)
    except BaseException as exc:  # a broken row still prints its line
        import traceback

        traceback.print_exc()
        error = f"{type(exc).__name__}: {exc}"
    line = json.loads(_common.row_json(row, result, error))
    line["group"] = mode
    for k in ("per_s", "spread", "note"):
        if result and result.get(k) not in (None, ""):
            line[k] = result[k]
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()
    # Some toolkits leave threads behind (executors, binding internals):
    # the result is out, do not wait for them.
    os._exit(0)


# ---- the driver -------------------------------------------------------------


class Driver:
    """Runs the row processes and aggregates their repetitions."""

    def __init__(self, args: argparse.Namespace, rows: list[Row]) -> None:
        self.args = args
        self.rows = rows
        self.script = os.path.abspath(__file__)
        self.tmp = tempfile.mkdtemp(prefix="guestpoll-host-rt.")
        self.xvfb: Any = None
        self.display: Optional[str] = os.environ.get("DISPLAY") or None
        self.display_error: Optional[str] = None

    def close(self) -> None:
        if self.xvfb is not None:
            self.xvfb.terminate()
            try:
                self.xvfb.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.xvfb.kill()
                self.xvfb.wait()
            self.xvfb = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    def ensure_display(self) -> None:
        if self.display or self.display_error:
            return
        if shutil.which("Xvfb") is None:
            self.display_error = "DISPLAY is unset and Xvfb is not installed (Debian: apt-get install xvfb): no Tk rows"
            return
        try:
            self.xvfb, self.display = _hosts.start_xvfb()
            _common.log(f"host_rt: started Xvfb on {self.display}")
        except RuntimeError as exc:
            self.display_error = f"DISPLAY is unset and a private Xvfb did not start: {exc}"

    def env_for(self, row: Row) -> dict:
        env = _common.malloc_env()
        host = row.id.split(":")[1]
        if host in ("qt", "qtpyqt6"):
            env["QT_QPA_PLATFORM"] = "offscreen"
        if host == "qtpyqt6":
            env["QT_API"] = "pyqt6"
        if host == "tk":
            self.ensure_display()
            if self.display:
                env["DISPLAY"] = self.display
            else:
                env["GP_BENCH_ROW_ERROR"] = self.display_error or "no X display"
        return env

    def child(self, row: Row, raw: Optional[str], timing: list[str]) -> dict:
        a = self.args
        cmd = [sys.executable, self.script, "--row", row.id, *timing]
        if a.pin:
            cmd += ["--pin", a.pin]
        if raw:
            cmd += ["--raw", raw]
        if row.table == "py_host_rt":
            budget = 60 + 3 * (a.warmup + a.duration)
        else:
            budget = 60 + 3 * (a.warmup + a.idle_seconds)
        try:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                  timeout=budget, text=True, errors="replace", env=self.env_for(row))
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {budget:.0f} s"}
        if proc.stderr:
            sys.stderr.write(proc.stderr)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        for ln in proc.stdout.splitlines():
            if ln and not ln.startswith("{"):
                _common.log(f"  (stdout) {ln}")
        if not lines:
            # A crash (a toolkit's abort): its own words, not just a status.
            errs = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
            fatal = [ln for ln in errs if ln.startswith("Fatal Python error")]
            said = fatal[0] if fatal else (errs[-1] if errs else "")
            return {"error": f"row process exited with status {proc.returncode} and printed no result"
                             + (f": {said}" if said else "")}
        return json.loads(lines[-1])

    def timing(self) -> list[str]:
        a = self.args
        return ["--duration", repr(a.duration), "--warmup", repr(a.warmup), "--reps", "1",
                "--idle-seconds", str(a.idle_seconds)]

    def run(self) -> None:
        a = self.args
        rt = [r for r in self.rows if r.table == "py_host_rt"]
        idle = [r for r in self.rows if r.table == "py_host_idle"]
        timing = self.timing()
        # py_host_rt: a.reps fresh processes per row, round the rows.
        reps: dict[str, list[dict]] = {r.id: [] for r in rt}
        for k in range(a.reps if rt else 0):
            for r in rt:
                raw = os.path.join(self.tmp, f"{len(reps[r.id])}-{r.id.replace(':', '_')}.raw")
                t = time.monotonic()
                d = self.child(r, raw, timing)
                d["raw"] = raw
                reps[r.id].append(d)
                _common.log(f"[py_host_rt rep {k + 1}/{a.reps}] {r.label}: median={d.get('median')} "
                            f"p99={d.get('p99')} error={d.get('error')} ({time.monotonic() - t:.1f} s)")
        for r in rt:
            self.emit(r, self.aggregate(r, reps[r.id]))
        for r in idle:
            t = time.monotonic()
            d = self.child(r, None, timing)
            _common.log(f"[py_host_idle] {r.label}: median={d.get('median')} windows={d.get('reps')} "
                        f"error={d.get('error')} ({time.monotonic() - t:.1f} s)")
            d.setdefault("group", r.id.split(":")[3])
            self.emit(r, d)

    def aggregate(self, row: Row, reps: list[dict]) -> dict:
        good = [d for d in reps if d.get("median") is not None and not d.get("error")]
        errors = [d["error"] for d in reps if d.get("error")]
        out: dict = {"group": row.id.split(":")[3]}
        if errors:
            out["error"] = errors[0] if not good else f"{len(errors)} of {len(reps)} repetitions failed: {errors[0]}"
        if not good:
            return out
        samples: list[int] = []
        for d in good:
            try:
                with open(d["raw"], "rb") as f:
                    arr = array.array("q")
                    arr.frombytes(f.read())
                samples.extend(arr)
            except OSError:
                pass
        meds = [d["median"] for d in good]
        out.update({
            "median": round(statistics.median(meds), 3),
            "p99": round(_common.percentile(sorted(samples), 99) / 1000.0, 3) if samples else None,
            "reps": meds,
            "n": len(samples),
            "spread": [min(meds), max(meds)],
            "per_s": round(statistics.median(d["per_s"] for d in good if d.get("per_s")), 1),
        })
        notes = {d.get("note") for d in good if d.get("note")}
        if notes:
            out["note"] = "; ".join(sorted(notes))
        return out

    def emit(self, row: Row, d: dict) -> None:
        line = json.loads(_common.row_json(row, d if d.get("median") is not None else None, d.get("error")))
        for k in ("group", "per_s", "spread", "note"):
            if d.get(k) not in (None, ""):
                line[k] = d[k]
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _common.add_timing_args(p)
    p.add_argument("--hosts", default=",".join(h[0] for h in HOSTS),
                   help="comma-separated hosts (default: qt,tk,glib,trio,queue)")
    p.add_argument("--modes", default="pinned,unpinned", help="pinned, unpinned or both (default)")
    p.add_argument("--idle-seconds", type=int, default=None,
                   help="py_host_idle: seconds (1 s windows) per row (5; --quick 1)")
    p.add_argument("--row", help="measure this one row in this process")
    p.add_argument("--raw", help=argparse.SUPPRESS)
    p.add_argument("--list", action="store_true", help="list the row ids")
    args = p.parse_args()
    _common.fix_timing(args)
    if args.idle_seconds is None:
        args.idle_seconds = 1 if args.quick else 5
    if args.row:
        if any(k not in os.environ for k in _common.MALLOC_ENV):
            os.execve(sys.executable, [sys.executable, *sys.argv], _common.malloc_env())
        run_row(args.row, args)
        return 0
    if not args.quick:
        # Fresh processes per repetition: at least 5 of them, of at most
        # 1 s each, to keep the whole run to a few minutes per mode.
        args.reps = max(args.reps, 5)
        args.duration = min(args.duration, 1.0)
    modes = [m for m in args.modes.split(",") if m]
    hosts = [h for h in args.hosts.split(",") if h]
    bad = [m for m in modes if m not in MODES] + [h for h in hosts if h not in {x[0] for x in HOSTS}]
    if bad:
        raise SystemExit(f"unknown mode or host: {', '.join(bad)}")
    rows = [r for r in make_rows(modes, hosts) if r.table.startswith(args.only)]
    if args.list:
        for r in rows:
            _common.log(f"{r.id:36} {r.label}")
        return 0
    driver = Driver(args, rows)

    def on_signal(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    try:
        driver.run()
    finally:
        driver.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
