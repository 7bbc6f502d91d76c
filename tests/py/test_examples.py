"""The Python examples run for real and print what they promise."""

from __future__ import annotations

import os
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



# ---- the download-button programs: one per toolkit ----------------------
#
# The same program for every toolkit: a window with a button that starts an
# asyncio download over a local socket (download_helper.py, shared) and a
# label showing its progress.  tests/py/example_driver.py clicks the button
# and reads the label from the widget, as a user would; the examples hold
# no test code.  Each must be no longer than the peer library's version
# (users-and-peers.md, section 3): lines of code, without blank lines,
# comments and docstrings, and without the shared helper.

DRIVER = Path(__file__).resolve().parent / "example_driver.py"
PEER_LINES = {"qt_host.py": 23, "tk_host.py": 15, "glib_host.py": 21, "trio_host.py": 20}
TOTAL = 24 * 16 * 1024  # download_helper.TOTAL


def code_lines(path: Path) -> int:
    """Lines holding code: no blank, comment-only or docstring lines."""
    import ast
    import io
    import tokenize

    src = path.read_text()
    doc: set[int] = set()
    for node in ast.walk(ast.parse(src)):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                doc.update(range(first.lineno, first.end_lineno + 1))
    lines: set[int] = set()
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type not in skip:
            lines.update(n for n in range(tok.start[0], tok.end[0] + 1) if n not in doc)
    return len(lines)


@pytest.mark.parametrize("name", sorted(PEER_LINES))
def test_download_example_lines(name: str) -> None:
    n = code_lines(EXAMPLES / name)
    print(f"{name}: {n} lines of code (peer: {PEER_LINES[name]})")
    assert n <= PEER_LINES[name]


def drive(toolkit: str, name: str, env: dict[str, str]) -> list[str]:
    proc = subprocess.run(
        [sys.executable, str(DRIVER), toolkit, str(EXAMPLES / name)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout.splitlines()


def assert_download_shown(lines: list[str]) -> None:
    """The label went from growing progress to the total."""
    labels = [line[len("label: "):] for line in lines if line.startswith("label: ")]
    progress = [int(text.split()[1]) for text in labels if text.startswith("downloading: ")]
    assert len(progress) >= 3, lines
    assert progress == sorted(set(progress)) and progress[-1] == TOTAL, lines
    assert labels[-1] == f"done: {TOTAL} bytes", lines


def test_tk_host_example(xdisplay: str) -> None:
    pytest.importorskip("tkinter", reason="this Python was built without tkinter")
    lines = drive("tk", "tk_host.py", {"DISPLAY": xdisplay})
    assert "driver: clicking Download" in lines
    assert_download_shown(lines)
    # The window closed: mainloop returned, run() ended the guest run.
    assert "driver: run() returned None" in lines and lines[-1] == "driver: the example returned"


@pytest.mark.parametrize("api", ["PySide6", "PyQt6"])
def test_qt_host_example(api: str) -> None:
    pytest.importorskip(
        f"{api}.QtWidgets", reason=f"{api} is not installed for this interpreter (pip install {api})"
    )
    if api == "PyQt6":
        # The example imports PySide6 as a user of that binding would; the
        # same program with PyQt6's imports must behave the same.
        src = (EXAMPLES / "qt_host.py").read_text().replace("PySide6", "PyQt6")
        tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"qt_host_pyqt6_{os.getpid()}"
        tmp.mkdir(exist_ok=True)
        (tmp / "qt_host.py").write_text(src)
        (tmp / "download_helper.py").write_text((EXAMPLES / "download_helper.py").read_text())
        driver = DRIVER.read_text().replace("PySide6", "PyQt6")
        (tmp / "example_driver.py").write_text(driver)
        proc = subprocess.run(
            [sys.executable, str(tmp / "example_driver.py"), "qt", str(tmp / "qt_host.py")],
            check=False, capture_output=True, text=True, timeout=60,
            env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_API": "pyqt6"},
        )
        shutil.rmtree(tmp, ignore_errors=True)
        assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        lines = proc.stdout.splitlines()
    else:
        lines = drive("qt", "qt_host.py", {"QT_QPA_PLATFORM": "offscreen"})
    assert "driver: clicking Download" in lines
    assert_download_shown(lines)
    assert "driver: run() returned None" in lines


def test_glib_host_example() -> None:
    pytest.importorskip(
        "gi.repository.Gio",
        reason="PyGObject (gi) is not installed for this interpreter (Debian: python3-gi; pip: PyGObject)",
    )
    lines = drive("glib", "glib_host.py", {})
    assert "driver: activating download" in lines
    assert_download_shown(lines)
    assert lines[-1] == "driver: the example returned"


def test_trio_host_example() -> None:
    pytest.importorskip("trio")
    import hosts

    if hosts.trio_unusable():
        pytest.skip(hosts.trio_unusable())
    lines = run_example("trio_host.py").splitlines()
    assert_download_shown(lines)
