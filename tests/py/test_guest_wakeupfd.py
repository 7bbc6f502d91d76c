"""The host's signal wake-up fd around a guest run (issue 13, item 8).

asyncio.run leaves the wake-up fd alone unless the loop installs signal
handlers: then its first handler installs the loop's self-pipe and its
last removal sets -1.  A guest run does the same, and in addition gives
a displaced host fd back -- but only when the wake-up fd is still the
loop's own at that moment and the number still names the same file.
Each test runs the same coroutine under asyncio.run and as a guest.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
import threading

import pytest

import hosts
from hosts import guestpoll  # noqa: F401  (skips without guestpoll)

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGUSR1"), reason="needs SIGUSR1 and set_wakeup_fd on sockets"
)


def run_asyncio(coro):
    return asyncio.run(coro)


def run_as_guest(coro):
    host = hosts.run_guest(coro)
    return host.outcome.unwrap()


RUNNERS = {"asyncio.run": run_asyncio, "guest": run_as_guest}


@contextlib.contextmanager
def host_wakeup_fd(*, full=False):
    """A socketpair whose write end is installed as the wake-up fd with
    warn_on_full_buffer=False (as Trio does); *full*: its buffer full."""
    assert threading.current_thread() is threading.main_thread()
    r, w = socket.socketpair()
    r.setblocking(False)
    w.setblocking(False)
    if full:
        w.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        with contextlib.suppress(BlockingIOError):
            while True:
                w.send(b"x" * 4096)
    old = signal.set_wakeup_fd(w.fileno(), warn_on_full_buffer=False)
    try:
        yield w
    finally:
        signal.set_wakeup_fd(old)
        r.close()
        w.close()


def current_wakeup_fd():
    fd = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(fd)
    return fd


@pytest.fixture
def sigusr1():
    calls = []
    old = signal.signal(signal.SIGUSR1, lambda *a: calls.append(a[0]))
    yield calls
    signal.signal(signal.SIGUSR1, old)


@pytest.mark.parametrize("runner", RUNNERS)
def test_host_fd_keeps_its_warn_on_full_buffer_setting(runner, sigusr1, monkeypatch):
    """A signal arriving while the host's (full) wake-up fd is installed
    with warn_on_full_buffer=False stays silent, as under asyncio.run."""
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)

    async def main():
        signal.raise_signal(signal.SIGUSR1)
        await asyncio.sleep(0)
        return "ok"

    with host_wakeup_fd(full=True):
        assert RUNNERS[runner](main()) == "ok"
    assert sigusr1 == [signal.SIGUSR1]
    assert [str(u.exc_value) for u in unraisable] == []


@pytest.mark.parametrize("runner", RUNNERS)
def test_wakeup_fd_installed_during_the_run_is_kept(runner):
    """The host installs a new wake-up fd while the run goes on: it is
    still installed when the run is over, as after asyncio.run."""
    with host_wakeup_fd() as w1:
        r2, w2 = socket.socketpair()
        w2.setblocking(False)
        try:

            async def main():
                await asyncio.sleep(0)
                signal.set_wakeup_fd(w2.fileno(), warn_on_full_buffer=False)
                await asyncio.sleep(0)
                return "ok"

            assert RUNNERS[runner](main()) == "ok"
            assert current_wakeup_fd() == w2.fileno()
            signal.set_wakeup_fd(w1.fileno(), warn_on_full_buffer=False)
        finally:
            r2.close()
            w2.close()


@pytest.mark.parametrize("handler", [False, True])
@pytest.mark.parametrize("reuse", [False, True])
@pytest.mark.parametrize("runner", RUNNERS)
def test_host_fd_closed_by_its_owner_is_never_reinstalled(runner, reuse, handler):
    """The guest's signal handler (if *handler*) displaces the host's
    wake-up fd; the host (like Trio at the end of its run) restores -1 and closes its
    socket; the number may be reused by an unrelated socket.  Nothing is
    installed afterwards: not the reused number (which would write signal
    bytes into somebody's connection), not a closed one (EBADF)."""
    box = {}
    with host_wakeup_fd() as w:
        number = w.fileno()

        async def main():
            loop = asyncio.get_running_loop()
            if handler:
                loop.add_signal_handler(signal.SIGUSR1, lambda: None)
            await asyncio.sleep(0)
            # The host lets go of its fd, as Trio does when its run ends.
            signal.set_wakeup_fd(-1)
            w.close()
            if reuse:
                a, b = socket.socketpair()
                box["pair"] = (a, b)
                box["reused"] = number in (a.fileno(), b.fileno())
            await asyncio.sleep(0)
            if handler:
                loop.remove_signal_handler(signal.SIGUSR1)
            return "ok"

        try:
            assert RUNNERS[runner](main()) == "ok"
            assert current_wakeup_fd() == -1
            if reuse:
                assert box["reused"]
        finally:
            for s in box.get("pair", ()):
                s.close()


def test_displaced_fd_is_given_back_when_safe():
    """Guest mode's one addition to asyncio.run's rules: a host fd that
    the guest's signal handlers displaced, still open and still naming the
    same socket, is reinstalled when the loop's last handler goes (a Trio
    host keeps its Ctrl-C handling); asyncio.run would leave -1."""

    async def main():
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, lambda: None)
        await asyncio.sleep(0)
        return "ok"  # loop.close() removes the handler

    with host_wakeup_fd() as w:
        assert run_as_guest(main()) == "ok"
        assert current_wakeup_fd() == w.fileno()
