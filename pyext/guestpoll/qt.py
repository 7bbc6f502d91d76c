"""asyncio inside a Qt application (PySide6 or PyQt6), in one call.

::

    app = QApplication(sys.argv)
    window = MyWindow()            # slots decorated with @guestpoll.qt.asyncslot
    window.show()
    guestpoll.qt.run()             # app.exec() with asyncio running inside it

The binding is the one already imported (PySide6 first), else the one the
``QT_API`` environment variable names (``pyside6`` or ``pyqt6``), else
PySide6 if it imports, else PyQt6.

By default no thread waits for asyncio: a ``QSocketNotifier`` watches the
poller's descriptor and a precise single-shot ``QTimer`` carries the
loop's next deadline (the no-thread path, see :mod:`guestpoll.hosts`).
With ``waiter_thread=True`` (and on the poll backend), the wake-up from
libguestpoll's waiter thread posts a custom ``QEvent`` to
a ``QObject`` living in the GUI thread (``QCoreApplication.postEvent`` is
thread-safe from any thread, also threads Qt did not create); its
``customEvent`` runs the queued callables.  That is the GUI thread's own
event queue, so a modal dialog's nested loop (``QDialog.exec()``,
``QMessageBox``) runs asyncio too.  (``QTimer.singleShot`` would not do:
called from a thread without a Qt event loop, its timer never fires.)
"""

from __future__ import annotations

import os
import queue
import sys
import traceback
from typing import Any, Callable, Optional

from . import hosts
from .hosts import GuestRun, async_handler, call_on_host, current_run

__all__ = ["QtHost", "run", "start", "asyncslot", "modal", "current_run", "API"]


def _binding() -> str:
    for name in ("PySide6", "PyQt6"):
        if name in sys.modules:
            return name
    wanted = os.environ.get("QT_API", "").lower()
    order = ["PyQt6", "PySide6"] if wanted == "pyqt6" else ["PySide6", "PyQt6"]
    for name in order:
        try:
            __import__(name + ".QtCore")
        except ImportError:
            continue
        return name
    raise ImportError("guestpoll.qt needs PySide6 or PyQt6 (pip install PySide6-Essentials)")


#: The Qt binding in use: "PySide6" or "PyQt6".
API = _binding()
if API == "PySide6":
    from PySide6.QtCore import QCoreApplication, QEvent, QObject, QSocketNotifier, Qt, QTimer
else:
    from PyQt6.QtCore import QCoreApplication, QEvent, QObject, QSocketNotifier, Qt, QTimer  # type: ignore[no-redef]

_EVENT_TYPE = QEvent.Type(QEvent.registerEventType())


def _none_debt() -> int:
    """How many references to None one call of a Qt method that returns
    nothing loses.  PySide6 6.12.0 on CPython 3.11 and older drops one in
    every such call (setObjectName, postEvent, QTimer.start, ...), so that
    after a few thousand calls the process aborts ("Fatal Python error:
    none_dealloc"); 3.12 made None immortal, PyQt6 and PySide6 6.11 do not
    do it.  Measured, not assumed from version numbers."""
    if API != "PySide6" or sys.version_info >= (3, 12):
        return 0
    probe = QObject()
    calls = 16
    before = sys.getrefcount(None)
    for _ in range(calls):
        probe.setObjectName("guestpoll")
    lost = before - sys.getrefcount(None)
    return lost // calls if lost > 0 else 0


_NONE_DEBT = _none_debt()
if _NONE_DEBT:
    import ctypes
    import warnings

    _incref = ctypes.pythonapi.Py_IncRef
    _incref.argtypes = [ctypes.py_object]
    _incref.restype = None

    def _repay() -> None:
        # Gives back the reference to None the Qt call just dropped.
        for _ in range(_NONE_DEBT):
            _incref(None)

    warnings.warn(
        f"this PySide6 ({getattr(sys.modules.get('PySide6'), '__version__', '?')}) on CPython "
        f"{sys.version_info[0]}.{sys.version_info[1]} drops a reference to None in every call of a Qt "
        "method that returns nothing, and the process aborts after a few thousand such calls "
        "('Fatal Python error: none_dealloc'); guestpoll.qt makes up for its own calls, not for "
        "the application's: use PyQt6, another PySide6 release, or CPython 3.12 or newer",
        RuntimeWarning,
        stacklevel=2,
    )
else:

    def _repay() -> None:
        pass


class QtHost(QObject, hosts.Host):  # type: ignore[misc]
    """A :class:`guestpoll.hosts.Host` for the Qt event loop of the thread
    that makes it (the GUI thread): a queue of callables and a custom event
    posted to this object to drain it."""

    _guestpoll_trusted_wakeup = True

    def __init__(self) -> None:
        QObject.__init__(self)
        hosts.Host.__init__(self)
        self._todo: queue.SimpleQueue[Callable[[], object]] = queue.SimpleQueue()
        self._notifier: Any = None
        self._timer: Any = None
        self._timer_fn: Optional[Callable[[], object]] = None
        #: BaseExceptions (KeyboardInterrupt, SystemExit) a callable raised;
        #: run() raises the first once the Qt loop has returned.
        self.errors: list[BaseException] = []

    def call_soon_threadsafe(self, fn: Callable[[], object]) -> None:
        self._todo.put(fn)
        # Thread-safe; Qt owns (and deletes) the event once posted.
        QCoreApplication.postEvent(self, QEvent(_EVENT_TYPE))
        _repay()

    def customEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        """Runs what is queued so far (one event per callable, so a later
        event may find nothing left).  An exception never reaches Qt (PyQt6
        would abort): an Exception is printed, a KeyboardInterrupt or
        SystemExit ends the Qt loop and is raised by run()."""
        while True:
            try:
                fn = self._todo.get_nowait()
            except queue.Empty:
                return
            self._run(fn)

    def _run(self, fn: Callable[[], object]) -> None:
        try:
            self.dispatch(fn)
        except Exception:
            traceback.print_exc()
        except BaseException as exc:
            self.errors.append(exc)
            QCoreApplication.exit(1)
            _repay()

    # ---- the no-thread path -------------------------------------------

    def watch_fd(self, fd: int, fn: Callable[[], object]) -> None:
        self.unwatch_fd()
        notifier = QSocketNotifier(fd, QSocketNotifier.Type.Read, self)
        notifier.activated.connect(lambda *_: self._run(fn))
        self._notifier = notifier

    def unwatch_fd(self) -> None:
        notifier, self._notifier = self._notifier, None
        if notifier is not None:
            notifier.setEnabled(False)
            _repay()
            try:
                notifier.activated.disconnect()  # drops fn (and the run's tick handle)
            except (RuntimeError, TypeError):
                pass
            notifier.deleteLater()  # it may be the sender of the running slot
            _repay()

    def set_timer(self, delay: float, fn: Callable[[], object]) -> None:
        if self._timer is None:
            self._timer = QTimer(self)
            self._timer.setSingleShot(True)
            self._timer.setTimerType(Qt.TimerType.PreciseTimer)
            _repay()
            _repay()
            self._timer.timeout.connect(self._timer_fired)
        self._timer_fn = fn
        self._timer.start(self.milliseconds(delay))
        _repay()

    def cancel_timer(self) -> None:
        self._timer_fn = None
        if self._timer is not None:
            self._timer.stop()
            _repay()

    def _timer_fired(self) -> None:
        fn, self._timer_fn = self._timer_fn, None
        if fn is not None:
            self._run(fn)

    def close(self) -> None:
        self.unwatch_fd()
        self.cancel_timer()


def start(main: Any = None, *args: Any, debug: Optional[bool] = None, waiter_thread: Optional[bool] = None) -> GuestRun:
    """Starts ``asyncio.run(main(*args))`` (or, with *main* None, a run that
    lasts as long as the Qt loop) inside the Qt event loop of this (the GUI)
    thread; returns the :class:`~guestpoll.hosts.GuestRun`.  The run is
    closed when the application is about to quit (``aboutToQuit``).
    *waiter_thread*: see :func:`guestpoll.hosts.start`."""
    app = QCoreApplication.instance()
    if app is None:
        raise RuntimeError("guestpoll.qt: create the QApplication first")
    guest = hosts.start(main, *args, host=QtHost(), debug=debug, waiter_thread=waiter_thread)
    if not guest.done:
        app.aboutToQuit.connect(guest.close)
        guest.add_done_callback(lambda _: _disconnect(app.aboutToQuit, guest.close))
    return guest


def _disconnect(signal: Any, slot: Callable[..., Any]) -> None:
    try:
        signal.disconnect(slot)
    except (RuntimeError, TypeError):
        pass


def run(main: Any = None, *args: Any, debug: Optional[bool] = None, waiter_thread: Optional[bool] = None) -> Any:
    """Runs the application's event loop (``app.exec()``) with
    ``asyncio.run(main(*args))`` inside it, and returns main's result.

    When *main* returns, the Qt loop is quit; when the Qt loop ends first
    (the last window closed, ``app.quit()``), the run is ended: its tasks
    are cancelled, and main's outcome is returned or raised (a
    CancelledError unless main handles it).  With *main* None, asyncio runs
    until the Qt loop ends (tasks come from :func:`asyncslot` and
    :meth:`GuestRun.spawn`) and None is returned.  *waiter_thread*: see
    :func:`guestpoll.hosts.start`."""
    app = QCoreApplication.instance()
    if app is None:
        raise RuntimeError("guestpoll.qt.run(): create the QApplication first")
    guest = start(main, *args, debug=debug, waiter_thread=waiter_thread)
    host = guest.host
    assert isinstance(host, QtHost)
    guest.add_done_callback(lambda _: (app.exit(0), _repay()))
    try:
        if not guest.done:
            app.exec()
    finally:
        guest.close()
    if host.errors:
        raise host.errors[0]
    return guest.result()


def asyncslot(async_fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator for slots that are coroutines: connect the decorated
    function or method to a signal, and each emission starts it as a task
    of the running guest (arguments the signal carries and the function
    does not take, such as ``clicked``'s *checked*, are dropped).
    Returns the task."""
    return async_handler(async_fn)


#: ``await guestpoll.qt.modal(dialog.exec)``: runs a modal dialog (or any
#: blocking call) from asyncio code and returns its result; asyncio keeps
#: running in the dialog's nested event loop.  See
#: :func:`guestpoll.hosts.call_on_host`.
modal = call_on_host
