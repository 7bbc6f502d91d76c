"""Drives a download-button example as a user would, for test_examples.py.

Usage: python example_driver.py {qt,tk,glib} EXAMPLE.py

The examples carry no test code: this driver wraps the toolkit entry the
example calls (guestpoll.qt.run, guestpoll.tk.run, guestpoll.glib.start),
and once the toolkit's loop runs it finds the button in the widget tree
(GLib: the application's "download" action), clicks it, reads what the
label shows on each change (printing ``label: TEXT``), and closes the
window (GLib: releases the application) once the label says ``done:``.
"""

from __future__ import annotations

import os
import runpy
import sys

toolkit, example = sys.argv[1], os.path.abspath(sys.argv[2])
sys.argv = [example]
sys.path.insert(0, os.path.dirname(example))


def report(text: str, seen: list[str]) -> bool:
    """Prints a new label text; True once the download is done."""
    if not seen or seen[-1] != text:
        seen.append(text)
        print(f"label: {text}", flush=True)
    return text.startswith("done:")


if toolkit == "qt":
    import guestpoll.qt
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QLabel, QPushButton

    real_run = guestpoll.qt.run

    def qt_run(*args, **kwargs):
        window = QApplication.topLevelWidgets()[0]
        button = window.findChildren(QPushButton)[0]
        label = window.findChildren(QLabel)[0]
        seen: list[str] = []
        poll = QTimer()

        def watch() -> None:
            if report(label.text(), seen):
                poll.stop()
                window.close()  # the last window: the app quits

        def click() -> None:
            print("driver: clicking", button.text(), flush=True)
            button.click()
            poll.timeout.connect(watch)
            poll.start(2)

        QTimer.singleShot(100, click)
        result = real_run(*args, **kwargs)
        print(f"driver: run() returned {result!r}", flush=True)
        return result

    guestpoll.qt.run = qt_run
elif toolkit == "tk":
    import tkinter as tk

    import guestpoll.tk

    real_run = guestpoll.tk.run

    def widgets(w: tk.Misc):
        for child in w.winfo_children():
            yield child
            yield from widgets(child)

    def tk_run(root, *args, **kwargs):
        button = next(w for w in widgets(root) if isinstance(w, tk.Button))
        label = next(w for w in widgets(root) if isinstance(w, tk.Label))
        seen: list[str] = []

        def watch() -> None:
            if report(label.cget("text"), seen):
                root.destroy()  # as the window manager's close button does
            else:
                root.after(2, watch)

        def click() -> None:
            print("driver: clicking", button.cget("text"), flush=True)
            button.invoke()
            watch()

        root.after(100, click)
        result = real_run(root, *args, **kwargs)
        print(f"driver: run() returned {result!r}", flush=True)
        return result

    guestpoll.tk.run = tk_run
elif toolkit == "glib":
    from gi.repository import Gio, GLib

    import guestpoll.glib

    real_start = guestpoll.glib.start

    def glib_start(*args, **kwargs):
        app = Gio.Application.get_default()
        state = {"clicked": False}

        def watch() -> bool:
            action = app.lookup_action("download")
            if not state["clicked"]:
                print("driver: activating download", flush=True)
                app.activate_action("download", None)
                state["clicked"] = True
                return GLib.SOURCE_CONTINUE
            if action.get_enabled():  # enabled again: done
                app.release()
                return GLib.SOURCE_REMOVE
            return GLib.SOURCE_CONTINUE

        GLib.timeout_add(100, watch)
        return real_start(*args, **kwargs)

    guestpoll.glib.start = glib_start
else:
    sys.exit(f"unknown toolkit {toolkit!r}")

runpy.run_path(example, run_name="__main__")
print("driver: the example returned", flush=True)
