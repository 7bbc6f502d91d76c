"""The Python examples run for real and print what they promise."""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python"


def run_example(name: str, *args: str, env: dict[str, str] | None = None) -> str:
    """Runs examples/python/NAME with this interpreter; returns its stdout
    after checking that it exited 0.  *env* adds to the environment."""
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
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
    import hosts

    if hosts.trio_unusable():
        pytest.skip(hosts.trio_unusable())
    out = run_example("trio_host.py", "20")
    for i in range(20):
        assert f"trio: sent 'ping {i}', asyncio answered 'pong {i}'" in out
    assert "trio: asyncio served 20 pings" in out


# ---- GUI and main-loop hosts --------------------------------------------


def _start_xvfb() -> tuple[subprocess.Popen, str]:
    """Starts Xvfb on a display it picks itself (-displayfd) and returns
    (process, ":N") once the server is ready to accept clients."""
    rfd, wfd = os.pipe()
    try:
        proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(wfd), "-nolisten", "tcp", "-screen", "0", "640x480x24"],
            pass_fds=(wfd,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    finally:
        os.close(wfd)
    with os.fdopen(rfd, "rb") as r:
        number = b""
        # Xvfb writes the display number once it is ready (or closes the
        # pipe by dying); a generous bound in case it does neither.
        while not number.endswith(b"\n"):
            ready, _, _ = select.select([r], [], [], 30.0)
            if not ready:
                proc.kill()
                pytest.fail("Xvfb did not report its display within 30 s")
            chunk = os.read(r.fileno(), 16)
            if not chunk:
                break
            number += chunk
    if not number.strip():
        proc.kill()
        pytest.fail(f"Xvfb failed to start (exit status {proc.wait()})")
    return proc, ":" + number.decode().strip()


@pytest.fixture(scope="module")
def xdisplay():
    """An X display for the Tk example: a private Xvfb server, or the one
    GUESTPOLL_TEST_DISPLAY names (the Wine stage starts Xvfb on the Linux
    side, where a Windows Python cannot start it)."""
    given = os.environ.get("GUESTPOLL_TEST_DISPLAY")
    if given:
        yield given
        return
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (Debian: apt-get install xvfb)")
    proc, display = _start_xvfb()
    try:
        yield display
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("wakeup", ["filehandler", "event"])
def test_tk_host_example(xdisplay: str, wakeup: str) -> None:
    """The button starts the asyncio download; the label shows growing
    progress, then the total; Tk's own timer ran meanwhile, and the guest's
    wake-ups came from the waiter thread through the chosen mechanism."""
    pytest.importorskip("tkinter", reason="this Python was built without tkinter")
    if wakeup == "filehandler":
        import _tkinter

        if not hasattr(_tkinter.TkappType, "createfilehandler"):
            pytest.skip("Tk's createfilehandler does not exist here (Windows): 'event' only")
    out = run_example("tk_host.py", "--selftest", "--wakeup", wakeup, env={"DISPLAY": xdisplay})
    assert f"wake-up: {wakeup}" in out
    lines = out.splitlines()
    assert lines.index("tk: clicking Download") < lines.index("label: done: 393216 bytes")
    progress = [int(line.split()[2]) for line in lines if line.startswith("label: downloading: ")]
    assert len(progress) >= 3, out
    assert progress == sorted(set(progress)), "progress must only grow"
    assert progress[-1] == 393216
    assert lines.index("label: done: 393216 bytes") > lines.index(f"label: downloading: {progress[-1]} bytes")
    beats = int(re.search(r"tk: its own timer ran (\d+) times during the download", out).group(1))
    assert beats >= 1, "Tk's own timer must keep running while asyncio downloads"
    foreign = int(re.search(r"(\d+) wake-ups came from libguestpoll's waiter thread", out).group(1))
    assert foreign >= 1


def test_qt_host_example() -> None:
    """A Qt slot runs a modal QDialog.exec() (a nested Qt loop); the asyncio
    counter keeps advancing inside it, and an asyncio task closes it."""
    pytest.importorskip(
        "PySide6.QtWidgets",
        reason="PySide6 is not installed for this interpreter (pip install PySide6-Essentials)",
    )
    out = run_example("qt_host.py", "--selftest", env={"QT_QPA_PLATFORM": "offscreen"})
    lines = out.splitlines()
    opened = next(i for i, line in enumerate(lines) if line.startswith("qt: opening the modal dialog"))
    returned = next(i for i, line in enumerate(lines) if line.startswith("qt: QDialog.exec() returned"))
    start = int(lines[opened].rsplit(" ", 1)[1])
    # While exec() ran: only asyncio's lines, the counter going up by one.
    during = lines[opened + 1 : returned]
    counts = [int(m.group(1)) for m in map(re.compile(r"asyncio: counter (\d+) \(modal dialog open\)").match, during) if m]
    assert len(counts) >= 10, out
    assert counts == list(range(start + 1, start + 1 + len(counts))), out
    # An asyncio task closed it (the nested loop may run one more tick
    # before exec() returns).
    assert any(line.startswith("asyncio: closing the modal dialog at counter ") for line in during), out
    m = re.match(r"qt: QDialog.exec\(\) returned 1 \(accepted\); the asyncio counter went from (\d+) to (\d+)", lines[returned])
    assert m is not None, lines[returned]
    assert int(m.group(1)) == start and int(m.group(2)) - start >= 10
    foreign = int(re.search(r"(\d+) wake-ups came from libguestpoll's waiter thread", out).group(1))
    assert foreign >= 1


def test_glib_host_example() -> None:
    """asyncio echo rounds and a GLib timer take turns in GLib.MainLoop."""
    pytest.importorskip(
        "gi.repository.GLib",
        reason="PyGObject (gi) is not installed for this interpreter "
        "(Debian: python3-gi; pip: PyGObject)",
    )
    out = run_example("glib_host.py", "8")
    lines = out.splitlines()
    echoes = [i for i, line in enumerate(lines) if line.startswith("asyncio: echo round ")]
    ticks = [i for i, line in enumerate(lines) if line.startswith("glib: timer tick ")]
    for n in range(8):
        assert f"asyncio: echo round {n}: sent 'hello {n}', got 'HELLO {n}'" in lines
    # Interleaved: the timer fired between the echoes, and echoes came
    # between timer ticks (the rounds are 40 ms apart, the timer 25 ms).
    assert sum(echoes[0] < i < echoes[-1] for i in ticks) >= 3, out
    assert ticks and any(ticks[0] < i < ticks[-1] for i in echoes), out
    assert "glib: the guest run ended after 8 echo rounds" in out
    foreign = int(re.search(r"(\d+) wake-ups came from libguestpoll's waiter thread", out).group(1))
    assert foreign >= 1
