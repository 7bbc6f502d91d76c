"""guestpoll.qt, guestpoll.tk and guestpoll.glib for real: modal dialogs
opened from asyncio code keep asyncio running, the Qt trap is reported,
Tk's two wake-ups work.  Each case runs in a child process (one Qt
binding per process; Tk on a private Xvfb display)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import hosts as testhosts  # (skips the module without guestpoll)
from test_examples import xdisplay  # noqa: F401  (the Xvfb fixture)


def run_child(script: str, env: dict[str, str] | None = None) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout.splitlines()


def assert_advanced(lines: list[str], what: str) -> None:
    """The child prints 'WHAT: result R, counter advanced by N while open'."""
    line = next(line for line in lines if line.startswith(what + ":"))
    advanced = int(line.rsplit(" by ", 1)[1].split()[0])
    assert advanced >= 10, lines


# The asyncio side of every modal test: a counter task, and a dialog run
# through the toolkit's modal() helper; the toolkit's own timer closes
# the dialog once the counter went up by 10 while it was open (so a frozen
# asyncio never closes it: the child's hang guard then fails the test).
COUNTER = """
import asyncio
import guestpoll.hosts
counter = [0]
async def count():
    print("waiter_thread:", guestpoll.hosts.current_run().waiter_thread, flush=True)
    while True:
        await asyncio.sleep(0.002)
        counter[0] += 1
"""

# Each toolkit test runs on both paths: the waiter thread, and the
# no-thread path where the toolkit watches the poller itself.
PATHS = pytest.mark.parametrize("waiter_thread", [True, False], ids=["thread", "nothread"])


def child_on_path(script: str, waiter_thread: bool, env: dict[str, str] | None = None) -> list[str]:
    """Runs *script* with WAITER_THREAD replaced; checks the path taken."""
    if not waiter_thread and testhosts.nothread_unavailable():
        pytest.skip(testhosts.nothread_unavailable())
    lines = run_child(script.replace("WAITER_THREAD", repr(waiter_thread)), env)
    assert f"waiter_thread: {waiter_thread}" in lines, lines
    return [line for line in lines if not line.startswith("waiter_thread:")]

QT_MODAL = COUNTER + """
import sys, guestpoll.qt
API = guestpoll.qt.API
QtCore = __import__(API + ".QtCore", fromlist=["x"])
QtWidgets = __import__(API + ".QtWidgets", fromlist=["x"])
app = QtWidgets.QApplication([])
QtCore.QTimer.singleShot(60000, lambda: app.exit(3))  # hang guard

def close_when(widget_fn, start, done):
    timer = QtCore.QTimer(app)
    def check():
        widget = widget_fn()
        if widget is not None and counter[0] >= start + 10:
            timer.stop()
            done(widget)
    timer.timeout.connect(check)
    timer.start(5)

async def main():
    asyncio.create_task(count())
    await asyncio.sleep(0.01)
    dialog = QtWidgets.QDialog()
    start = counter[0]
    close_when(lambda: dialog if dialog.isVisible() else None, start, lambda d: d.accept())
    code = await guestpoll.qt.modal(dialog.exec)
    print(f"QDialog.exec: result {code}, counter advanced by {counter[0] - start} while open", flush=True)
    box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Question, "title", "sure?",
        QtWidgets.QMessageBox.StandardButton.Yes | QtWidgets.QMessageBox.StandardButton.No)
    start = counter[0]
    close_when(lambda: box if box.isVisible() else None, start,
               lambda b: b.button(QtWidgets.QMessageBox.StandardButton.Yes).click())
    answer = await guestpoll.qt.modal(box.exec)
    yes = answer == QtWidgets.QMessageBox.StandardButton.Yes or answer == QtWidgets.QMessageBox.StandardButton.Yes.value
    print(f"QMessageBox: result yes={yes}, counter advanced by {counter[0] - start} while open", flush=True)
    return "main done"

print(guestpoll.qt.run(main, waiter_thread=WAITER_THREAD), flush=True)
"""


@PATHS
@pytest.mark.parametrize("api", ["PySide6", "PyQt6"])
def test_qt_modal_dialogs_keep_asyncio_running(api: str, waiter_thread: bool) -> None:
    pytest.importorskip(f"{api}.QtWidgets", reason=f"{api} is not installed for this interpreter (pip install {api})")
    lines = child_on_path(QT_MODAL, waiter_thread, {"QT_QPA_PLATFORM": "offscreen", "QT_API": api.lower()})
    assert_advanced(lines, "QDialog.exec")
    assert "QDialog.exec: result 1," in lines[0]
    assert_advanced(lines, "QMessageBox")
    assert "QMessageBox: result yes=True," in lines[1]
    assert lines[-1] == "main done"


QT_TRAP = """
import asyncio, warnings, guestpoll, guestpoll._watchdog
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
guestpoll._watchdog.FIRST_WAKEUP_TIMEOUT = 0.2
app = QApplication([])
seen = []
def showwarning(message, category, *args, **kwargs):
    seen.append((category.__name__, str(message)))
warnings.showwarning = showwarning
async def main():
    await asyncio.sleep(0.01)  # a wait: its wake-up comes from the waiter thread
    return "never"
done = []
task = guestpoll.start_guest_run(main(), run_sync_soon_threadsafe=lambda fn: QTimer.singleShot(0, fn),
                                 done_callback=done.append)
poll = QTimer()
poll.timeout.connect(lambda: app.quit() if seen else None)
poll.start(10)
QTimer.singleShot(60000, app.quit)  # hang guard
app.exec()
print("done_callback:", done)
print("host_gone:", type(guestpoll.host_gone(task).error).__name__)
for category, message in seen:
    print(category + ":", message)
"""


def test_qt_trap_is_reported() -> None:
    """The obvious Qt one-liner host, QTimer.singleShot(0, fn), called from
    the waiter thread: the timer never fires, and guestpoll says so."""
    pytest.importorskip("PySide6.QtWidgets", reason="PySide6 is not installed for this interpreter")
    lines = run_child(QT_TRAP, {"QT_QPA_PLATFORM": "offscreen"})
    assert "done_callback: []" in lines  # the run was stuck indeed
    assert "host_gone: CancelledError" in lines
    warning = next(line for line in lines if line.startswith("RuntimeWarning:"))
    assert "has not run the tick handed to it 0.2 s ago from libguestpoll's waiter thread" in warning
    assert "it calls QTimer.singleShot(), which, called from a thread without a Qt event loop" in warning


TK_MODAL = COUNTER + """
import sys, tkinter as tk
from tkinter import messagebox
import guestpoll.tk
root = tk.Tk()
root.after(60000, lambda: root.destroy())  # hang guard

def close_when(exists, start, done):
    def check():
        if exists() and counter[0] >= start + 10:
            done()
        else:
            root.after(5, check)
    root.after(5, check)

async def main():
    asyncio.create_task(count())
    await asyncio.sleep(0.01)
    top = tk.Toplevel(root)
    start = counter[0]
    close_when(lambda: True, start, top.destroy)
    await guestpoll.tk.modal(root.wait_window, top)
    print(f"wait_window: result closed, counter advanced by {counter[0] - start} while open", flush=True)
    start = counter[0]
    path = ".__tk__messagebox"
    close_when(lambda: bool(root.tk.call("winfo", "exists", path)), start,
               lambda: root.tk.call(path + ".yes", "invoke"))
    answer = await guestpoll.tk.modal(messagebox.askyesno, "title", "sure?", parent=root)
    print(f"messagebox: result {answer}, counter advanced by {counter[0] - start} while open", flush=True)
    return "main done"

print(guestpoll.tk.run(root, main, waiter_thread=WAITER_THREAD), flush=True)
"""


@PATHS
def test_tk_modal_dialogs_keep_asyncio_running(xdisplay: str, waiter_thread: bool) -> None:  # noqa: F811
    pytest.importorskip("tkinter", reason="this Python was built without tkinter")
    if sys.platform == "win32":
        pytest.skip("Tk's messagebox is Windows' native one there, which this test cannot click")
    lines = child_on_path(TK_MODAL, waiter_thread, {"DISPLAY": xdisplay})
    assert_advanced(lines, "wait_window")
    assert_advanced(lines, "messagebox")
    assert "messagebox: result True," in lines[1]
    assert lines[-1] == "main done"


TK_MODES = """
import asyncio, sys, threading, tkinter as tk
import guestpoll.hosts, guestpoll.tk
root = tk.Tk()
host = guestpoll.tk.TkHost(root, mode=sys.argv[1])
foreign = []
real = host.call_soon_threadsafe
def counting(fn):
    if threading.current_thread() is not threading.main_thread():
        foreign.append(1)
    real(fn)
host.call_soon_threadsafe = counting
async def main():
    reader, writer = await asyncio.open_connection(*server_address)
    writer.write(b"ping")
    data = await reader.read(4)
    writer.close()
    await writer.wait_closed()
    for _ in range(5):
        await asyncio.sleep(0.01)
    return data
import socket
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
server_address = srv.getsockname()
def serve():
    conn, _ = srv.accept()
    conn.sendall(conn.recv(4).replace(b"i", b"o"))
    conn.close()
threading.Thread(target=serve, daemon=True).start()
run = guestpoll.hosts.start(main, host=host, waiter_thread=WAITER_THREAD)
assert run.waiter_thread is WAITER_THREAD
run.add_done_callback(lambda _: root.quit())
root.after(60000, root.quit)  # hang guard
with run:
    root.mainloop()
print("result", run.result(), "mode", host.mode, "wake-ups from other threads:", len(foreign) > 0)
"""


@pytest.mark.parametrize("waiter_thread", [True, False], ids=["thread", "nothread"])
@pytest.mark.parametrize("mode", ["filehandler", "after"])
def test_tk_wakeup_modes(xdisplay: str, mode: str, waiter_thread: bool) -> None:  # noqa: F811
    """Both wake-ups of the waiter-thread path reach Tk from the waiter
    thread; on the no-thread path, where Tk watches the poller itself
    (createfilehandler), no wake-up comes from another thread at all."""
    tk = pytest.importorskip("tkinter", reason="this Python was built without tkinter")
    if mode == "filehandler":
        import _tkinter

        if not hasattr(_tkinter.TkappType, "createfilehandler"):
            pytest.skip("Tk's createfilehandler does not exist here (Windows): 'after' only")
    if mode == "after":
        interp = tk.Tcl()
        if not int(interp.eval("set tcl_platform(threaded)")):
            pytest.skip("Tcl is not threaded: the after() wake-up needs a threaded Tcl")
    if not waiter_thread and testhosts.nothread_unavailable():
        pytest.skip(testhosts.nothread_unavailable())
    script = TK_MODES.replace("sys.argv[1]", repr(mode)).replace("WAITER_THREAD", repr(waiter_thread))
    lines = run_child(script, {"DISPLAY": xdisplay})
    assert lines[-1] == f"result b'pong' mode {mode} wake-ups from other threads: {waiter_thread}"


GLIB_MODAL = COUNTER + """
from gi.repository import GLib
import guestpoll.glib

async def main():
    asyncio.create_task(count())
    await asyncio.sleep(0.01)
    nested = GLib.MainLoop()  # what Gtk.Dialog.run runs
    start = counter[0]
    def check():
        if nested.is_running() and counter[0] >= start + 10:
            nested.quit()
            return GLib.SOURCE_REMOVE
        return GLib.SOURCE_CONTINUE
    GLib.timeout_add(5, check)
    await guestpoll.glib.modal(nested.run)
    print(f"nested GLib.MainLoop: result quit, counter advanced by {counter[0] - start} while open", flush=True)
    return "main done"

outer = GLib.MainLoop()
GLib.timeout_add(60000, outer.quit)  # hang guard
print(guestpoll.glib.run(main, loop=outer, waiter_thread=WAITER_THREAD), flush=True)
"""


@PATHS
def test_glib_nested_loop_keeps_asyncio_running(waiter_thread: bool) -> None:
    pytest.importorskip("gi.repository.GLib", reason="PyGObject (gi) is not installed for this interpreter")
    try:
        import gi

        gi.require_version("Gtk", "3.0")
        from gi.repository import Gtk  # noqa: F401

        print("Gtk is importable, but Gtk.Dialog.run needs a display: the GLib nested loop stands in")
    except (ImportError, ValueError):
        print("no Gtk typelib here (gir1.2-gtk-3.0): the nested GLib.MainLoop Gtk.Dialog.run uses stands in")
    lines = child_on_path(GLIB_MODAL, waiter_thread)
    assert_advanced(lines, "nested GLib.MainLoop")
    assert lines[-1] == "main done"


QT_NONE_REFS = """
import asyncio, sys, warnings
warnings.simplefilter("ignore", RuntimeWarning)
import guestpoll.qt
API = guestpoll.qt.API
QtCore = __import__(API + ".QtCore", fromlist=["x"])
app = QtCore.QCoreApplication([])
async def main():
    print("waiter_thread:", guestpoll.hosts.current_run().waiter_thread, flush=True)
    for _ in range(3000):
        await asyncio.sleep(0.0001)  # a wait each: a wake-up, or the host's timer
    return sys.getrefcount(None)
before = sys.getrefcount(None)
after = guestpoll.qt.run(main, waiter_thread=WAITER_THREAD)
print("debt", guestpoll.qt._NONE_DEBT, "lost", before - after, flush=True)
"""


@PATHS
@pytest.mark.parametrize("api", ["PySide6", "PyQt6"])
def test_qt_host_calls_keep_none_alive(api: str, waiter_thread: bool) -> None:
    """PySide6 6.12.0 on CPython <= 3.11 drops a reference to None in every
    Qt call that returns nothing, and the process aborts after a few
    thousand: guestpoll.qt's own calls (a posted event per wake-up, a timer
    per wait) must not run None's count down, on any binding."""
    pytest.importorskip(f"{api}.QtCore", reason=f"{api} is not installed for this interpreter (pip install {api})")
    lines = child_on_path(QT_NONE_REFS, waiter_thread, {"QT_QPA_PLATFORM": "offscreen", "QT_API": api.lower()})
    debt, lost = lines[-1].split()[1], int(lines[-1].split()[3])
    print(f"{api}: None references lost per void Qt call: {debt}; over the run: {lost}")
    # Each of the 3000 waits makes at least one such call (a posted event,
    # or the timer started); a lost reference each would be 3000 or more.
    assert lost < 1000, lines
