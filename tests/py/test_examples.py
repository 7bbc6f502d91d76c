"""The Python examples run for real and print what they promise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python"


def run_example(name: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_queue_host_example() -> None:
    out = run_example("queue_host.py")
    for i in range(3):
        assert f"guest: echo server answered 'hello {i}'" in out
    assert "host: result = 'guest finished'" in out
    # The host kept beating while the guest slept on its timers.
    beats = [line for line in out.splitlines() if line.startswith("host: heartbeat")]
    assert len(beats) >= 3


def test_trio_host_example() -> None:
    pytest.importorskip("trio")
    out = run_example("trio_host.py", "20")
    for i in range(20):
        assert f"trio: sent 'ping {i}', asyncio answered 'pong {i}'" in out
    assert "trio: asyncio served 20 pings" in out
