"""Runs every Python benchmark table of guestpoll and prints one JSON line
per row on stdout (nothing else; progress goes to stderr).

    python bench/py/run_all.py [--quick | --duration S --reps N --warmup S] [--only PREFIX]

Tables, in order: py_select_1/10/100/1000 (select_bench.py), py_echo
(echo.py), py_guest_rt (guest_rt.py), py_wake (wake.py), py_host_rt and
py_host_idle (host_rt.py).  --only keeps the
tables whose id starts with PREFIX (e.g. --only py_select_100, --only py_wake).
Every row runs in a fresh interpreter (sys.executable, inheriting the
environment: put guestpoll on PYTHONPATH).  Peers that are not installed
(uvloop, aioguest + greenlet, trio) give rows with "median": null and an
"error" saying so.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import _common

HERE = os.path.dirname(os.path.abspath(__file__))
# (script, the table ids it makes)
SCRIPTS = [
    ("select_bench.py", ["py_select_1", "py_select_10", "py_select_100", "py_select_1000"]),
    ("echo.py", ["py_echo"]),
    ("guest_rt.py", ["py_guest_rt"]),
    ("wake.py", ["py_wake"]),
    ("host_rt.py", ["py_host_rt", "py_host_idle"]),
]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _common.add_timing_args(p)
    args = p.parse_args()
    _common.fix_timing(args)
    status = 0
    ran = False
    for script, tables in SCRIPTS:
        if not any(t.startswith(args.only) for t in tables):
            continue
        ran = True
        cmd = [sys.executable, os.path.join(HERE, script), *_common.timing_argv(args)]
        if args.only:
            cmd += ["--only", args.only]
        # The table script writes JSON lines only; let them through as they come.
        rc = subprocess.call(cmd, stdin=subprocess.DEVNULL)
        if rc != 0:
            _common.log(f"run_all: {script} exited with status {rc}")
            status = 1
    if not ran:
        _common.log(f"run_all: no table id starts with {args.only!r}")
        return 2
    return status


if __name__ == "__main__":
    sys.exit(main())
