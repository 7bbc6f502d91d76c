"""Shared pytest fixtures for the guestpoll Python tests.

Environment variables:

GUESTPOLL_REQUIRE=1
    ``import guestpoll`` must work: a failed import makes every test that
    needs guestpoll fail (instead of being skipped).
GUESTPOLL_BACKEND=epoll|poll
    Read by libguestpoll itself; the fixtures only report it.
GUESTPOLL_TEST_TIMEOUT=<seconds>
    Per-test watchdog (default 120): a test that hangs longer dumps every
    thread's traceback and ends the process, rather than hanging the run.
"""

import asyncio
import faulthandler
import os
import selectors
import signal
import socket
import sys

import pytest

try:
    import guestpoll as _guestpoll
    _GUESTPOLL_IMPORT_ERROR = None
except Exception as exc:  # ImportError, or an error raised while importing
    _guestpoll = None
    _GUESTPOLL_IMPORT_ERROR = exc

GUESTPOLL_REQUIRED = os.environ.get("GUESTPOLL_REQUIRE", "") not in ("", "0")


def _default_loop_name():
    loop = asyncio.new_event_loop()
    try:
        return type(loop).__name__, isinstance(loop, asyncio.SelectorEventLoop)
    finally:
        loop.close()


# Where asyncio's default loop is not a selector loop (Windows: the
# proactor), the suite's guest runs, which use the policy's loop when no
# loop_factory is given, would not test guestpoll.Selector at all: they get
# the selector loop instead, so that they run on guestpoll.Selector (IOCP).
# The proactor loop as a guest, the Windows default, has its own tests
# (test_guest_proactor.py), which restore the default policy.
DEFAULT_LOOP, _DEFAULT_IS_SELECTOR = _default_loop_name()
if not _DEFAULT_IS_SELECTOR and hasattr(asyncio, "WindowsSelectorEventLoopPolicy"):
    asyncio.set_event_loop_policy(asyncio.WindowsSelectorEventLoopPolicy())


def pytest_report_header(config):
    if _guestpoll is None:
        where = f"NOT importable ({_GUESTPOLL_IMPORT_ERROR!r})"
    else:
        where = getattr(_guestpoll, "__file__", "?")
    return [
        f"guestpoll: {where}",
        f"GUESTPOLL_BACKEND={os.environ.get('GUESTPOLL_BACKEND', '')!r} "
        f"GUESTPOLL_REQUIRE={os.environ.get('GUESTPOLL_REQUIRE', '')!r}",
    ] + ([] if _DEFAULT_IS_SELECTOR else [
        f"asyncio's default loop here is {DEFAULT_LOOP}: guest runs without a "
        "loop_factory use the selector loop, except in test_guest_proactor.py"
    ])


@pytest.fixture(scope="session")
def guestpoll():
    """The guestpoll module; skipped if it does not import, unless
    GUESTPOLL_REQUIRE=1, in which case that is a failure."""
    if _guestpoll is None:
        msg = f"import guestpoll failed: {_GUESTPOLL_IMPORT_ERROR!r}"
        if GUESTPOLL_REQUIRED:
            pytest.fail("GUESTPOLL_REQUIRE is set but " + msg, pytrace=False)
        pytest.skip(msg)
    return _guestpoll


@pytest.fixture(params=["stdlib-epoll", "guestpoll"])
def selector_cls(request):
    """Selector class under test: the stdlib reference (selectors.EpollSelector)
    and guestpoll.Selector. Tests using this fixture run against both, so the
    stdlib validates the test and guestpoll must behave the same."""
    if request.param == "stdlib-epoll":
        cls = getattr(selectors, "EpollSelector", None)
        if cls is None:
            pytest.skip("selectors.EpollSelector is not available here")
        return cls
    return request.getfixturevalue("guestpoll").Selector


def selector_backend(sel):
    """Name of the kernel interface behind a selector instance: 'epoll' or
    'poll' (or whatever guestpoll reports)."""
    if isinstance(sel, getattr(selectors, "EpollSelector", ())):
        return "epoll"
    if isinstance(sel, getattr(selectors, "PollSelector", ())):
        return "poll"
    name = getattr(sel, "backend", None)
    if name is None:
        name = os.environ.get("GUESTPOLL_BACKEND") or "epoll"
    return name


@pytest.fixture
def default_sigint():
    """Python's own SIGINT handler, which asyncio.Runner only replaces if
    it is installed (a background job may have inherited SIG_IGN), put
    back as it was afterwards."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


@pytest.fixture
def selector(selector_cls):
    """A fresh selector instance, closed after the test."""
    sel = selector_cls()
    try:
        yield sel
    finally:
        sel.close()


@pytest.fixture
def backend(selector):
    return selector_backend(selector)


@pytest.fixture
def socketpair():
    """Factory: socketpair() -> (a, b), non-blocking AF_UNIX stream sockets,
    closed after the test."""
    made = []

    def make():
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        made.extend((a, b))
        return a, b

    yield make
    for s in made:
        s.close()


_watchdog_fd = None


# ---- what the platform can do ----------------------------------------------
#
# Tests that need a capability some platform lacks carry one of these marks;
# where the capability is missing (probed here, not guessed from the
# platform's name) they skip with the reason printed.  Windows (also under
# Wine) lacks them all.


def _probe_fd_sockets():
    s = socket.socket()
    try:
        os.close(os.dup(s.fileno()))
        return None
    except OSError as exc:
        return (
            f"a socket is not a file descriptor here (os.dup of its fileno: {exc}): "
            "descriptor numbers, dup() and reuse of a closed number are POSIX's"
        )
    finally:
        s.close()


def _probe_unix_socketpair():
    a, b = socket.socketpair()
    with a, b:
        if a.family == getattr(socket, "AF_UNIX", None):
            return None
        return (
            "socket.socketpair() is a TCP connection over loopback here: data and "
            "send-buffer space reach the other end asynchronously, so readiness "
            "right after send()/recv() is not what an AF_UNIX pair shows"
        )


def _probe_pipes():
    if _guestpoll is None:
        return None  # the guestpoll fixture decides
    r, w = os.pipe()
    sel = _guestpoll.Selector()
    try:
        sel.register(r, selectors.EVENT_READ)
        return None
    except OSError as exc:
        return f"guestpoll's {sel.backend} backend watches sockets only; an os.pipe(): {exc}"
    finally:
        sel.close()
        os.close(r)
        os.close(w)


def _probe_posix_signals():
    missing = [n for n in ("SIGALRM", "SIGUSR1", "pthread_kill", "setitimer") if not hasattr(signal, n)]
    if not missing:
        return None
    return (
        f"no POSIX signals to send this process (signal lacks {', '.join(missing)}; "
        "os.kill(os.getpid(), SIGINT) would terminate it)"
    )


def _probe_proc_fds():
    if os.name == "posix" and os.path.isdir("/proc/self/fd"):
        return None
    return "no /proc/self/fd listing this process's descriptors (sockets are handles here)"


def _probe_selector_subprocess():
    from asyncio import base_events

    if asyncio.SelectorEventLoop._make_subprocess_transport is not (
        base_events.BaseEventLoop._make_subprocess_transport
    ):
        return None
    return (
        "asyncio's selector loop cannot run subprocesses here (NotImplementedError on "
        "Windows); the proactor loop as guest can (test_guest_proactor.py)"
    )


def _probe_fork():
    return None if hasattr(os, "fork") else "no os.fork() here"


CAPABILITIES = {
    "fd_sockets": _probe_fd_sockets,
    "unix_socketpair": _probe_unix_socketpair,
    "non_sockets": _probe_pipes,
    "posix_signals": _probe_posix_signals,
    "proc_fds": _probe_proc_fds,
    "fork": _probe_fork,
    "selector_subprocess": _probe_selector_subprocess,
}
_missing: dict = {}


def missing_capability(name):
    """None if the platform has the capability *name*, else why not."""
    if name not in _missing:
        _missing[name] = CAPABILITIES[name]()
    return _missing[name]


def pytest_runtest_setup(item):
    for name in CAPABILITIES:
        if item.get_closest_marker(name) is None:
            continue
        why = missing_capability(name)
        if why is not None:
            print(f"SKIP ({name}): {why}")
            pytest.skip(f"{name}: {why}")


def pytest_configure(config):
    for name in CAPABILITIES:
        config.addinivalue_line("markers", f"{name}: needs the {name} capability (conftest.py)")
    # Output capture is suspended here: keep a copy of the real stderr for
    # the watchdog's traceback.
    global _watchdog_fd
    try:
        _watchdog_fd = os.dup(sys.__stderr__.fileno())
    except (AttributeError, OSError, ValueError):
        _watchdog_fd = None


@pytest.fixture(autouse=True)
def _watchdog():
    timeout = float(os.environ.get("GUESTPOLL_TEST_TIMEOUT", "120"))
    if timeout > 0 and _watchdog_fd is not None:
        faulthandler.dump_traceback_later(timeout, exit=True, file=_watchdog_fd)
    try:
        yield
    finally:
        if timeout > 0 and _watchdog_fd is not None:
            faulthandler.cancel_dump_traceback_later()
