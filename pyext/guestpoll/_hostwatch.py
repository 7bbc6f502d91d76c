"""The no-thread path of a guest run: the host watches the poller.

On the waiter-thread path (_guest.py), a tick that finds nothing to do
hands the kernel wait to libguestpoll's waiter thread, whose wake-up
crosses back to the host thread with ``run_sync_soon_threadsafe``: a
cross-thread wake-up on every round trip.  A host whose own loop can
watch a descriptor and run a timer (Qt, Tk, GLib, Trio) needs no thread:
it watches the poller's own descriptor (``Selector.fileno()``: the epoll
or kqueue fd, readable whenever one of the run's registrations is ready,
a ``call_soon_threadsafe`` was made or a signal arrived) and carries the
loop's next deadline on its timer, and either runs the next tick.  The
poll backend and IOCP have no such descriptor: those runs take the
thread path.

The host side is four methods (the *host watch*, see
``start_guest_run(host_watch=...)``): ``watch_fd(fd, fn)``,
``unwatch_fd()``, ``set_timer(delay, fn)``, ``cancel_timer()``, all
called on the host thread.  The run refers to its host watch only
weakly, so that a host which lets go of everything still abandons the
run (the tick handle is held by the host's watch and timer callbacks,
never by the run).
"""

from __future__ import annotations

import math
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable, Optional

if TYPE_CHECKING:
    from ._guest import _TickHandle

__all__ = ["HostWatch", "watchable_fd", "supports", "start"]

_Callback = Callable[[], object]


def watchable_fd(selector: Any) -> Optional[int]:
    """The descriptor a host can watch for *selector*, or None (the poll
    backend, IOCP, a proactor's wait: the waiter thread is needed)."""
    from . import Selector

    if not isinstance(selector, Selector):
        return None
    try:
        return int(selector.fileno())
    except (AttributeError, OSError, ValueError):  # no fileno (poll, iocp); closed
        return None


def supports(host: Any) -> bool:
    """Whether *host* offers the four host-watch methods."""
    return all(callable(getattr(host, name, None)) for name in ("watch_fd", "unwatch_fd", "set_timer", "cancel_timer"))


class HostWatch:
    """One run's use of its host's watch: the fd watch, the one timer and
    the loop time it is armed for.  Host thread only."""

    __slots__ = ("_host", "_thread", "fd", "_armed", "_paused", "_stopped")

    def __init__(self, host: Any, fd: int) -> None:
        self._host = weakref.ref(host)
        self._thread = threading.get_ident()
        self.fd = fd
        self._armed = math.inf  # the loop time the host's timer is set for
        self._paused = False
        self._stopped = False

    def _live_host(self) -> Any:
        if self._stopped or threading.get_ident() != self._thread:
            return None  # only the host thread may touch the host's loop
        return self._host()

    def watch(self, handle: "_TickHandle") -> None:
        host = self._live_host()
        if host is not None:
            host.watch_fd(self.fd, handle.io_ready)

    def arm(self, when: Optional[float], now: float, handle: "_TickHandle") -> None:
        """The loop waits until loop time *when* (None: no deadline), or
        until the poller's descriptor is readable."""
        target = math.inf if when is None else when
        if target == self._armed:
            return
        host = self._live_host()
        if host is None:
            return
        self._armed = target
        if when is None:
            host.cancel_timer()
        else:
            host.set_timer(max(0.0, when - now), handle.timer)

    def fired(self) -> None:
        """The timer ran out: nothing is armed any more."""
        self._armed = math.inf

    def pause(self) -> None:
        """The watch fired while a tick runs (a nested host loop inside
        asyncio code): the tick in progress cannot be re-entered, and a
        level-triggered watch would fire again at once, so it is taken
        off until that tick ends."""
        host = self._live_host()
        if host is not None and not self._paused:
            self._paused = True
            host.unwatch_fd()

    def resume(self, handle: Optional["_TickHandle"]) -> None:
        if not self._paused:
            return
        self._paused = False
        if handle is not None:
            self.watch(handle)

    def stop(self) -> None:
        """The run is over (or taken over): the host stops watching."""
        host = self._live_host()
        self._stopped = True
        if host is None:
            return
        self._armed = math.inf
        try:
            host.cancel_timer()
        finally:
            host.unwatch_fd()


def start(host: Any, selector: Any, handle: "_TickHandle", required: bool) -> Optional[HostWatch]:
    """Begins the no-thread path if *host* can watch *selector*'s
    descriptor; None means the waiter thread.  *required*: RuntimeError
    instead of the thread path."""
    fd = watchable_fd(selector)
    if fd is None:
        if required:
            backend = getattr(selector, "backend", type(selector).__name__)
            raise RuntimeError(
                f"the {backend} backend has no descriptor a host can watch: "
                "this run needs the waiter thread (waiter_thread=None or True)"
            )
        return None
    watch = HostWatch(host, fd)
    watch.watch(handle)
    return watch

