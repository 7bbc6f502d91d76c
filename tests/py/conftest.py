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


def pytest_configure(config):
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
