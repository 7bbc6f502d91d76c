"""asyncio as a guest of Qt's ``QApplication.exec()``, through a modal dialog.

Run:  python3 examples/python/qt_host.py [--selftest]
      (QT_QPA_PLATFORM=offscreen to run without a display)

Qt keeps the main thread; asyncio runs as a guest in the same thread, so
its tasks may touch widgets directly.  The case this example is about: a
Qt slot opens a modal dialog with ``QDialog.exec()``, which runs a *nested*
Qt event loop and does not return until the dialog closes.  An asyncio
loop that pumps Qt from one of its own callbacks stalls here (that callback
does not return); a guest does not, because its ticks are plain Qt events
and the nested loop dispatches them like any other.  Here an asyncio counter
keeps advancing while the dialog is open, and an asyncio task closes it.

The wake-up: libguestpoll's waiter thread calls ``run_sync_soon_threadsafe``
when a background wait ends.  It puts the callable into a queue and posts a
custom ``QEvent`` to a ``QObject`` that lives in the GUI thread:
``QCoreApplication.postEvent()`` is thread-safe from any thread, including
threads Qt did not create, and the object's ``customEvent()`` runs the
queued callables on the GUI thread.  (A signal with a queued connection
would do the same, but PySide6 6.12's ``Signal.emit()`` drops a reference
to ``True`` on each call, which crashes Python < 3.12 sooner or later.)

``--selftest`` opens the dialog from a Qt timer (as a click would) and
quits when done, printing each step.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import queue
import sys
import threading
from collections.abc import Callable

import outcome
import PySide6
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer, Slot, qVersion
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

import guestpoll

STEP = 0.02  # the asyncio counter's period, seconds
OPEN_FOR = 10  # counter steps the dialog stays open


class QtWakeup(QObject):
    """``run_sync_soon_threadsafe`` for Qt: a queue of callables, and a
    custom event posted to a QObject of the GUI thread to drain it."""

    _EVENT = QEvent.Type(QEvent.registerEventType())

    def __init__(self) -> None:
        super().__init__()  # created on, and so living in, the GUI thread
        self._main = threading.get_ident()
        self._todo: queue.SimpleQueue[Callable[[], object]] = queue.SimpleQueue()
        self.foreign_calls = 0  # wake-ups that came from another thread

    def run_sync_soon_threadsafe(self, fn: Callable[[], object]) -> None:
        """Queues *fn* for the GUI thread; callable from any thread."""
        if threading.get_ident() != self._main:
            self.foreign_calls += 1
        self._todo.put(fn)
        # Thread-safe; Qt owns (and deletes) the event once posted.
        QCoreApplication.postEvent(self, QEvent(self._EVENT))

    def customEvent(self, event: QEvent) -> None:
        """On the GUI thread: runs what is queued so far (one event per
        callable, so a later event may find nothing left)."""
        while True:
            try:
                fn = self._todo.get_nowait()
            except queue.Empty:
                return
            fn()


class Window(QWidget):
    """The main window: the asyncio counter and a button opening the dialog."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("guestpoll: asyncio inside Qt")
        self.counter_label = QLabel("asyncio counter: 0")
        self.button = QPushButton("Open modal dialog")
        self.button.clicked.connect(self.open_dialog)
        layout = QVBoxLayout(self)
        layout.addWidget(self.counter_label)
        layout.addWidget(self.button)
        self.counter = 0
        self.dialog: QDialog | None = None
        self.dialog_opened: asyncio.Event | None = None  # made in guest_main
        self.quit_event: asyncio.Event | None = None

    @Slot()
    def open_dialog(self) -> None:
        """A Qt slot: runs the modal dialog, a nested Qt event loop."""
        dialog = QDialog(self)
        dialog.setWindowTitle("modal")
        dialog.setModal(True)
        QVBoxLayout(dialog).addWidget(QLabel("asyncio keeps running; it will close me"))
        self.dialog = dialog
        start = self.counter
        print(f"qt: opening the modal dialog (QDialog.exec()) at counter {start}", flush=True)
        if self.dialog_opened is not None:
            self.dialog_opened.set()  # host code into the guest: wakes it
        code = dialog.exec()  # the nested event loop runs here
        self.dialog = None
        end = self.counter
        how = "accepted" if code == int(QDialog.DialogCode.Accepted.value) else "rejected"
        print(f"qt: QDialog.exec() returned {code} ({how}); the asyncio counter went "
              f"from {start} to {end} while the dialog was open", flush=True)

    # -- the asyncio side ------------------------------------------------

    async def guest_main(self, selftest: bool) -> int:
        """Counts; closes each modal dialog once it has been open for
        OPEN_FOR steps; ends when quit_event is set: by main() once the
        window is closed, or in self-test mode after one dialog."""
        self.dialog_opened = asyncio.Event()
        self.quit_event = asyncio.Event()
        counting = asyncio.create_task(self.count())
        closing = asyncio.create_task(self.close_dialogs(selftest))
        if selftest:
            # As a click would, from Qt's side (a Qt timer, not a guest tick).
            QTimer.singleShot(100, self.button.click)
        await self.quit_event.wait()
        for task in (counting, closing):
            task.cancel()
        await asyncio.gather(counting, closing, return_exceptions=True)
        return self.counter

    async def count(self) -> None:
        while True:
            await asyncio.sleep(STEP)
            self.counter += 1
            self.counter_label.setText(f"asyncio counter: {self.counter}")
            where = " (modal dialog open)" if self.dialog is not None else ""
            print(f"asyncio: counter {self.counter}{where}", flush=True)

    async def close_dialogs(self, selftest: bool) -> None:
        assert self.dialog_opened is not None and self.quit_event is not None
        while True:
            await self.dialog_opened.wait()
            self.dialog_opened.clear()
            opened_at = self.counter
            while self.counter < opened_at + OPEN_FOR:
                await asyncio.sleep(STEP)
            assert self.dialog is not None
            print(f"asyncio: closing the modal dialog at counter {self.counter}", flush=True)
            self.dialog.accept()
            if selftest:
                # Let the dialog's nested loop unwind first, then end.
                while self.dialog is not None:
                    await asyncio.sleep(STEP)
                self.quit_event.set()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--selftest", action="store_true", help="open the dialog, quit when done")
    args = parser.parse_args()
    if args.selftest:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    app = QApplication(sys.argv[:1])
    wakeup = QtWakeup()
    window = Window()
    window.show()
    result: list[outcome.Outcome] = []

    def done(res: outcome.Outcome) -> None:
        result.append(res)
        app.quit()

    task = guestpoll.start_guest_run(
        window.guest_main(args.selftest),
        run_sync_soon_threadsafe=wakeup.run_sync_soon_threadsafe,
        done_callback=done,
    )
    print(f"qt: PySide6 {PySide6.__version__}, Qt {qVersion()}, platform "
          f"{app.platformName()}: running QApplication.exec()", flush=True)
    try:
        app.exec()
        if not result:
            # The window was closed (Qt quits on the last one): ask the guest
            # to end, and run Qt's loop until it has (done() quits it again).
            assert window.quit_event is not None
            window.quit_event.set()
            app.exec()
    finally:
        if not result and task is not None:
            # Qt is done before the guest: say so, and guestpoll finishes
            # the guest run here and now (no tick will come any more).
            print(f"qt: leaving early; guest run: {guestpoll.host_gone(task)!r}", flush=True)
    if not result:
        return 1
    counter = result[0].unwrap()
    print(f"qt: the guest run ended at counter {counter}; {wakeup.foreign_calls} "
          "wake-ups came from libguestpoll's waiter thread", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
