"""Bad input to guestpoll.Selector: it must fail the way selectors does.

Every test taking ``selector_cls`` / ``selector`` runs against
selectors.EpollSelector (the reference, which validates the test) and
guestpoll.Selector.  The expected exception types are the stdlib's; where
guestpoll deliberately differs, the test says so and checks both sides:

* ``modify()`` with an invalid event mask: EpollSelector does not check the
  mask at all (it stores ``key.events == 0``, ``-1`` or ``4`` and asks the
  kernel for nothing or for everything); guestpoll raises ValueError as
  ``register()`` does and as the ``BaseSelector.modify`` documentation says,
  leaving the registration as it was.
* ``select()`` from two threads at once: epoll lets both wait; guestpoll's
  poller has one wait at a time and the second gets OSError(EBUSY) at once.
* guestpoll owns one descriptor more than EpollSelector (its wake-up
  eventfd, or a pipe): registering that number by accident fails with an
  OSError (FileExistsError with epoll) where EpollSelector would accept it.

Python code that the selector calls (``fileno()``, the event mask's and the
data's operators, ``SelectorKey()`` itself) may change the selector behind
its back, directly or by letting another thread run; guestpoll must neither
crash nor end up with a key that the kernel does not watch (or the reverse).
"""

from __future__ import annotations

import errno
import gc
import os
import selectors
import socket
import sys
import threading
import time

import pytest

R = selectors.EVENT_READ
W = selectors.EVENT_WRITE
RW = R | W


def is_stdlib(sel_or_cls) -> bool:
    cls = sel_or_cls if isinstance(sel_or_cls, type) else type(sel_or_cls)
    stdlib = getattr(selectors, "EpollSelector", None)
    return stdlib is not None and issubclass(cls, stdlib)


class FilenoRaises:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def fileno(self) -> int:
        raise self.exc


class FilenoReturns:
    def __init__(self, value: object) -> None:
        self.value = value

    def fileno(self) -> object:
        return self.value


class Index:
    """int() accepts it (through __index__), as selectors' int(fileno())."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __index__(self) -> int:
        return self.n


class Boom(Exception):
    pass


def outcome_of(fn, *args):
    """('ok', result) or ('raised', exception type)."""
    try:
        return "ok", fn(*args)
    except Exception as exc:  # noqa: BLE001 - the type is the result
        return "raised", type(exc)


def kernel_view(sel):
    """{fd: events} that select(0) reports; every registered fd must be a
    writable socket for this to be the registration's W bit."""
    return {key.fd: ev for key, ev in sel.select(0)}


def assert_consistent(sel, writable_fds):
    """The key table and the kernel agree: the fds of writable_fds that
    select(0) reports writable are exactly those registered for W."""
    keys = dict(sel.get_map()) if sel.get_map() is not None else {}
    want = {fd for fd, key in keys.items() if key.events & W and fd in writable_fds}
    got = {fd for fd, ev in kernel_view(sel).items() if ev & W}
    assert got == want, (got, want, keys)


# ------------------------------------------------------------ descriptors


HUGE = [2**31, 2**31 + 5, 2**63, 2**64, 2**100]


@pytest.mark.parametrize("fd", HUGE, ids=repr)
@pytest.mark.parametrize("method", ["get_key", "unregister", "modify"])
def test_lookup_of_huge_fd_is_keyerror(selector, socketpair, method, fd):
    """An fd that cannot be registered is simply not registered: KeyError,
    not OverflowError (both as a number and through fileno())."""
    a, _ = socketpair()
    selector.register(a, R)
    for obj in (fd, FilenoReturns(fd)):
        args = (obj, W) if method == "modify" else (obj,)
        with pytest.raises(KeyError):
            getattr(selector, method)(*args)
    assert list(selector.get_map()) == [a.fileno()]


@pytest.mark.parametrize("fd", HUGE, ids=repr)
def test_register_huge_fd_through_fileno_overflowerror(selector, fd):
    with pytest.raises(OverflowError):
        selector.register(FilenoReturns(fd), R)
    assert len(selector.get_map()) == 0


@pytest.mark.parametrize("fd", [-1, -2, -(2**31), -(2**31) - 1, -(2**64), -(2**100)], ids=repr)
@pytest.mark.parametrize("method", ["register", "get_key", "unregister", "modify"])
def test_negative_fd_valueerror_everywhere(selector, method, fd):
    for obj in (fd, FilenoReturns(fd), FilenoReturns(Index(fd))):
        args = (obj, R) if method in ("register", "modify") else (obj,)
        with pytest.raises(ValueError, match="Invalid file descriptor"):
            getattr(selector, method)(*args)
    assert len(selector.get_map()) == 0


# Exceptions fileno() may raise.  selectors turns AttributeError, TypeError
# and ValueError (subclasses included) into ValueError("Invalid file
# object"); everything else propagates as it is.
FILENO_ERRORS = [
    (AttributeError("x"), ValueError),
    (TypeError("x"), ValueError),
    (ValueError("x"), ValueError),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"), ValueError),
    (KeyError("x"), KeyError),
    (IndexError("x"), IndexError),
    (RuntimeError("x"), RuntimeError),
    (RecursionError("x"), RecursionError),
    (OverflowError("x"), OverflowError),
    (OSError(errno.EBADF, "x"), OSError),
    (StopIteration(), StopIteration),
    (MemoryError(), MemoryError),
    (Boom("x"), Boom),
]


@pytest.mark.parametrize("exc,expected", FILENO_ERRORS, ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else v.__name__)
@pytest.mark.parametrize("method", ["register", "get_key", "unregister", "modify"])
def test_fileno_raising(selector, socketpair, method, exc, expected):
    a, _ = socketpair()
    selector.register(a, R)  # something registered, for the identity search
    args = (FilenoRaises(exc), W) if method in ("register", "modify") else (FilenoRaises(exc),)
    with pytest.raises(expected) as info:
        getattr(selector, method)(*args)
    assert type(info.value) is expected
    if expected is KeyError and method != "register":
        pass  # selectors' lookups re-raise a KeyError as "not registered"
    elif expected is not ValueError:
        assert info.value is exc  # propagated unchanged
    else:
        assert "Invalid file object" in str(info.value)
    assert list(selector.get_map()) == [a.fileno()]


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(3), GeneratorExit()], ids=repr)
def test_fileno_raising_base_exception_propagates(selector, exc):
    with pytest.raises(type(exc)) as info:
        selector.register(FilenoRaises(exc), R)
    assert info.value is exc
    with pytest.raises(type(exc)):
        selector.get_key(FilenoRaises(exc))
    assert len(selector.get_map()) == 0


@pytest.mark.parametrize(
    "convert",
    [float, str, lambda n: str(n).encode(), Index, lambda n: n + 0.75, bool],
    ids=["float", "str", "bytes", "__index__", "float-fraction", "bool"],
)
def test_fileno_returning_non_int_is_converted_with_int(selector, socketpair, convert):
    """selectors calls int(fileobj.fileno()): whatever int() accepts is the
    fd it gives.  (bool: True is fd 1; both selectors treat it as such.)"""
    a, _ = socketpair()
    value = convert(a.fileno())
    fd = int(value)
    obj = FilenoReturns(value)
    plain = outcome_of(selector.register, fd, R)
    if plain[0] == "ok":
        selector.unregister(fd)
    got = outcome_of(selector.register, obj, R)
    if plain[0] == "raised":
        assert got == plain
        return
    assert got[0] == "ok", got
    key = got[1]
    assert key.fd == fd and key.fileobj is obj
    assert selector.get_key(obj) is not None
    assert selector.get_key(fd) == key
    assert selector.unregister(obj) == key


def test_fileno_not_callable_or_wrong_signature(selector):
    class NotCallable:
        fileno = 5

    class NeedsArg:
        def fileno(self, arg):  # pragma: no cover - never called right
            return 5

    for obj in (NotCallable(), NeedsArg()):
        with pytest.raises(ValueError, match="Invalid file object"):
            selector.register(obj, R)


def test_closed_socket_object(selector, socketpair):
    """A closed socket's fileno() is -1: registering it is a ValueError; a
    socket closed after registering is still found by identity."""
    a, _ = socketpair()
    a.close()
    with pytest.raises(ValueError):
        selector.register(a, R)
    c, _ = socketpair()
    key = selector.register(c, R, "c")
    c.close()
    assert selector.get_key(c) == key
    assert selector.modify(c, R, "new data").data == "new data"
    assert selector.unregister(c).fd == key.fd
    assert len(selector.get_map()) == 0


@pytest.mark.fd_sockets
def test_closed_fd_number(selector, socketpair):
    a, _ = socketpair()
    fd = os.dup(a.fileno())
    os.close(fd)
    for obj in (fd, FilenoReturns(fd)):
        with pytest.raises(OSError) as info:
            selector.register(obj, R)
        assert info.value.errno == errno.EBADF
        with pytest.raises(KeyError):
            selector.get_key(obj)
        with pytest.raises(KeyError):
            selector.modify(obj, W)
        with pytest.raises(KeyError):
            selector.unregister(obj)
    assert len(selector.get_map()) == 0


def test_modify_after_fd_closed_and_reused(selector, backend, socketpair):
    """The registered fd is closed and its number given to a new socket:
    epoll refuses to modify a registration whose file is gone (ENOENT) and
    the selector drops it.  poll() knows numbers only (an inherent
    difference): the modify applies to the new socket.  kqueue may do
    either (gp_add(3)): libkqueue keeps the closed descriptor's knotes and
    behaves as poll, a native kqueue drops them and behaves as epoll."""
    a, _ = socketpair()
    fd = a.fileno()
    selector.register(fd, R)
    a.close()
    c, _ = socketpair()
    if c.fileno() != fd:
        pytest.skip("the fd number was not reused")
    if backend == "kqueue":
        try:
            selector.modify(fd, W)
        except OSError as e:  # as epoll: the registration was dropped
            assert e.errno in (errno.ENOENT, errno.EBADF)
        else:
            assert kernel_view(selector) == {fd: W}  # as poll
            selector.unregister(fd)
    elif backend == "poll":
        selector.modify(fd, W)
        assert kernel_view(selector) == {fd: W}
        selector.unregister(fd)
    else:
        with pytest.raises(OSError):
            selector.modify(fd, W)
    assert len(selector.get_map()) == 0
    key = selector.register(c, W)
    assert {k.fd: ev for k, ev in selector.select(0)} == {fd: W}
    assert selector.unregister(c) == key


# ------------------------------------------------------------- event masks


BAD_MASKS = [0, -1, -2, 4, 8, 1 << 31, 1 << 64, (1 << 70) | R, False, None]


@pytest.mark.parametrize("events", BAD_MASKS, ids=repr)
def test_register_bad_mask_valueerror(selector, socketpair, events):
    a, _ = socketpair()
    with pytest.raises(ValueError, match="Invalid events"):
        selector.register(a, events)
    assert len(selector.get_map()) == 0
    assert selector.select(0) == []


@pytest.mark.parametrize("events", [1.0, "1", b"\x01", [1], object(), 1j], ids=repr)
@pytest.mark.parametrize("method", ["register", "modify"])
def test_non_int_mask_typeerror(selector, socketpair, method, events):
    a, _ = socketpair()
    if method == "modify":
        key = selector.register(a, W)
    with pytest.raises(TypeError):
        getattr(selector, method)(a, events)
    if method == "modify":
        assert selector.get_key(a) == key
        assert kernel_view(selector) == {a.fileno(): W}
    else:
        assert len(selector.get_map()) == 0


@pytest.mark.parametrize("events", [True, R, W, RW], ids=repr)
def test_valid_masks_incl_bool(selector, socketpair, events):
    a, _ = socketpair()
    key = selector.register(a, events)
    assert key.events == events
    assert kernel_view(selector) == ({a.fileno(): W} if events & W else {})


@pytest.mark.parametrize("events", BAD_MASKS, ids=repr)
def test_modify_bad_mask(selector, socketpair, events):
    """Deliberate difference (see the module docstring)."""
    a, _ = socketpair()
    key = selector.register(a, W, "data")
    if is_stdlib(selector):
        # The reference does not validate modify()'s mask: note what it
        # does, so that a change in the stdlib shows up here.
        try:
            new = selector.modify(a, events, "data")
        except TypeError:
            assert events is None  # None & EVENT_READ
        else:
            assert new.events == events
        return
    with pytest.raises(ValueError, match="Invalid events"):
        selector.modify(a, events, "other")
    assert selector.get_key(a) == key
    assert kernel_view(selector) == {a.fileno(): W}


# ---------------------------------------------------------- select timeouts


@pytest.mark.parametrize("timeout", [-(10**400), -1e308, float("-inf"), -1, 0, True, False], ids=repr)
def test_select_non_positive_timeouts_poll(selector, socketpair, timeout):
    a, _ = socketpair()
    selector.register(a, W)
    t0 = time.monotonic()
    assert kernel_view(selector) == {a.fileno(): W}
    selector.unregister(a)
    assert selector.select(timeout) == []
    assert time.monotonic() - t0 < 5


@pytest.mark.parametrize(
    "timeout,exc",
    [(10**400, OverflowError), (float("nan"), ValueError), ("1", TypeError), (1j, TypeError), (b"", TypeError)],
    ids=repr,
)
def test_select_bad_timeout(selector, timeout, exc):
    with pytest.raises(exc):
        selector.select(timeout)


# ---------------------------------------------------------- use after close


CLOSED_CALLS = {
    "register": (lambda s, a: s.register(a, R), ValueError),
    "register-new": (lambda s, a: s.register(a.fileno() + 1000, R), ValueError),
    "unregister": (lambda s, a: s.unregister(a), KeyError),
    "modify": (lambda s, a: s.modify(a, W), KeyError),
    "modify-bad-mask": (lambda s, a: s.modify(a, 0), KeyError),
    "get_key": (lambda s, a: s.get_key(a), RuntimeError),
    "select(0)": (lambda s, a: s.select(0), ValueError),
    "select(None)": (lambda s, a: s.select(None), ValueError),
    "select(1)": (lambda s, a: s.select(1), ValueError),
    "fileno": (lambda s, a: s.fileno(), ValueError),
    "get_map": (lambda s, a: s.get_map(), None),
    "close": (lambda s, a: s.close(), None),
    "__enter__": (lambda s, a: s.__enter__(), None),
    "__exit__": (lambda s, a: s.__exit__(None, None, None), None),
}


@pytest.mark.parametrize("registered", [True, False], ids=["registered", "empty"])
@pytest.mark.parametrize("call", list(CLOSED_CALLS))
def test_use_after_close(selector_cls, socketpair, call, registered):
    a, _ = socketpair()
    sel = selector_cls()
    if registered:
        sel.register(a, R)
    sel.close()
    fn, exc = CLOSED_CALLS[call]
    for _ in range(2):  # and again: the failure changed nothing
        if exc is None:
            result = fn(sel, a)
            if call == "get_map":
                assert result is None
            if call == "__enter__":
                assert result is sel
        else:
            with pytest.raises(exc):
                fn(sel, a)
    assert sel.get_map() is None


def test_guest_bridge_after_close(guestpoll):
    sel = guestpoll.Selector()
    sel.close()
    assert sel.closed and sel.backend is None
    with pytest.raises(ValueError):
        sel._wait_start(1.0, lambda: None)
    with pytest.raises(ValueError):
        sel._poll_ready()
    sel._wait_cancel()  # nothing in flight: no-op
    sel._notify()  # no-op
    assert sel._wait_state == "idle"


def test_close_with_wait_in_flight(guestpoll):
    """close() while the waiter thread holds a wait: the callback is
    dropped, the poller freed once the waiter let go; no crash, no leak."""
    from hosts import assert_no_more_fds, open_fds, os_threads

    fds0, threads0 = open_fds(), os_threads()
    called = []
    for _ in range(20):
        sel = guestpoll.Selector()
        sel._wait_start(30.0, lambda: called.append(1))
        assert sel._wait_state == "inflight"
        sel.close()
        assert sel._wait_state == "idle"
        with pytest.raises(ValueError):
            sel.select(0)
        del sel
    gc.collect()
    deadline = time.monotonic() + 10
    while os_threads() > threads0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert called == []
    assert_no_more_fds(fds0)
    assert os_threads() <= threads0


# ----------------------------------------------- Python code changing things


def test_modify_data_eq_unregisters(selector, socketpair, guestpoll):
    """The data's comparison runs Python code that unregisters the fd (the
    same as another thread doing it meanwhile).  The key that modify() was
    looking at is gone: guestpoll raises KeyError and keeps table and
    kernel in agreement (it used to read the freed key).  The stdlib
    re-inserts the stale key without a kernel registration; only guestpoll
    is held to this."""
    if is_stdlib(selector):
        pytest.skip("EpollSelector resurrects the key (a stdlib bug)")
    a, _ = socketpair()

    class Evil:
        def __ne__(self, other):
            selector.unregister(a)
            return True

        __eq__ = None  # type: ignore[assignment]
        __hash__ = None  # type: ignore[assignment]

    selector.register(a, W, Evil())  # the only reference to the key
    gc.collect()
    with pytest.raises(KeyError):
        selector.modify(a, W, "new")
    assert len(selector.get_map()) == 0
    assert_consistent(selector, {a.fileno()})
    # and re-registered meanwhile: a clear error, the new registration kept
    c, _ = socketpair()

    class Swap:
        def __ne__(self, other):
            selector.unregister(c)
            selector.register(c, R, "anew")
            return True

    selector.register(c, W, Swap())
    with pytest.raises(RuntimeError, match="registered anew"):
        selector.modify(c, W, "mine")
    assert selector.get_key(c).data == "anew"
    assert_consistent(selector, {c.fileno()})


def test_mask_operators_change_the_registration(selector, socketpair):
    """The event mask is an int subclass whose operators unregister (or
    close) while register()/modify() inspect it.  No crash; no key without
    a kernel registration or the reverse."""
    a, _ = socketpair()
    writable = {a.fileno()}

    class EvilMask(int):
        action = None

        def __and__(self, other):
            if EvilMask.action is not None:
                act, EvilMask.action = EvilMask.action, None
                act()
            return int(self) & other

        __rand__ = __and__

        def __bool__(self):
            return int(self) != 0

    # modify(): the fd disappears while its new mask is checked.
    selector.register(a, R)
    EvilMask.action = lambda: selector.unregister(a)
    outcome = outcome_of(selector.modify, a, EvilMask(W))
    assert_consistent(selector, writable)
    if not is_stdlib(selector):
        assert outcome == ("raised", KeyError)
    # register(): the selector is closed while the mask is checked.
    sel2 = type(selector)()
    EvilMask.action = sel2.close
    outcome = outcome_of(sel2.register, a, EvilMask(W))
    assert outcome[0] == "raised" and issubclass(outcome[1], (ValueError, KeyError)), outcome
    assert sel2.get_map() is None
    sel2.close()


@pytest.mark.parametrize("method", ["register", "unregister", "modify", "get_key"])
def test_fileno_closes_selector(selector_cls, socketpair, method):
    """fileno() closes the selector: the call fails as on a closed
    selector (which exception depends on the method, as after close())."""
    a, _ = socketpair()
    sel = selector_cls()
    sel.register(a, R)

    class Closer:
        def fileno(self):
            sel.close()
            return a.fileno()

    args = (Closer(), W) if method in ("register", "modify") else (Closer(),)
    with pytest.raises((ValueError, KeyError, RuntimeError)):
        getattr(sel, method)(*args)
    assert sel.get_map() is None
    with pytest.raises(ValueError):
        sel.select(0)


# ------------------------------------------------------------------ threads


def test_concurrent_select_in_two_threads(selector, socketpair):
    """Deliberate difference (see the module docstring): one wait at a
    time in guestpoll; the second select() fails at once with EBUSY."""
    a, _ = socketpair()
    selector.register(a, R)
    results: list = []
    t = threading.Thread(target=lambda: results.append(selector.select(2.0)))
    t.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    if is_stdlib(selector):
        assert selector.select(0.1) == []
    else:
        with pytest.raises(OSError) as info:
            selector.select(0.1)
        assert info.value.errno == errno.EBUSY
        assert time.monotonic() - t0 < 1.5
    t.join(10)
    assert results == [[]]
    assert selector.select(0) == []  # usable afterwards


@pytest.fixture
def fast_switching():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


ALLOWED_RACE_ERRORS = (KeyError, ValueError, RuntimeError)


# The two tests below are for guestpoll only: the stdlib selectors are not
# thread-safe (a key and the kernel's registration change in two unlocked
# steps), so EpollSelector, run the same way, raises OSError (EBADF,
# ENOENT), reports keys with events 0 and keeps keys after unregister() or
# close().  guestpoll promises registration from any thread at any time.


@pytest.fixture
def gp_selector(guestpoll):
    sel = guestpoll.Selector()
    yield sel
    sel.close()


def test_threads_churn_while_selecting(gp_selector, fast_switching):
    """Four threads register, modify, unregister, look up, pass bad input,
    and close and re-create sockets (so fd numbers are reused), while this
    thread loops over blocking select() calls.  Every result must have the
    right shape; no exception but the documented ones; at the end the key
    table and the kernel agree."""
    stop = threading.Event()
    errors: list = []
    selector = gp_selector
    allowed = ALLOWED_RACE_ERRORS

    def worker(seed: int) -> None:
        import random

        rnd = random.Random(seed)
        mine: list = []  # (registered socket, its peer)
        try:
            while not stop.is_set():
                op = rnd.randrange(10)
                if (op < 2 and len(mine) < 12) or not mine:
                    a, b = socket.socketpair()
                    a.setblocking(False)
                    b.setblocking(False)
                    try:
                        selector.register(a, rnd.choice((R, W, RW)), seed)
                        mine.append((a, b))
                    except allowed:
                        a.close()
                        b.close()
                    continue
                pair = rnd.choice(mine)
                a = pair[0]
                try:
                    if op == 2:
                        selector.modify(a, rnd.choice((R, W, RW)), rnd.random())
                    elif op == 3:
                        mine.remove(pair)
                        selector.unregister(a)
                        a.close()
                        pair[1].close()
                    elif op == 4:
                        selector.get_key(a)
                        dict(selector.get_map())
                    elif op == 5:
                        # closed before unregister: the number may be reused
                        # by another thread's socket in between
                        mine.remove(pair)
                        a.close()
                        pair[1].close()
                        selector.unregister(a)
                    elif op == 6:
                        with pytest.raises(ValueError):
                            selector.register(-1, R)
                        with pytest.raises(KeyError):
                            selector.get_key(2**40)
                    elif op == 7:
                        with pytest.raises(ValueError):
                            selector.register(a, rnd.choice((0, 4, -1)))
                    elif op == 8:
                        pair[1].send(b"x")  # a becomes readable
                    else:
                        try:
                            a.recv(100)
                        except BlockingIOError:
                            pass
                except allowed:
                    pass
            for a, b in mine:
                selector.unregister(a)
                a.close()
                b.close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 1.5
    selects = 0
    try:
        while time.monotonic() < deadline:
            for key, events in selector.select(0.002):
                assert type(key) is selectors.SelectorKey
                assert events & ~key.events == 0, (key, events)
                assert events, (key, events)
            selects += 1
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors
    assert selects > 10
    assert len(selector.get_map()) == 0
    assert selector.select(0) == []


def test_close_races_registration(guestpoll, fast_switching):
    """close() from one thread while another registers, modifies and
    unregisters: only the documented errors, never a crash or an OSError
    from a poller that is gone."""
    allowed = ALLOWED_RACE_ERRORS
    a, b = socket.socketpair()
    try:
        for i in range(150):
            sel = guestpoll.Selector()
            errors: list = []
            started = threading.Event()

            def churn() -> None:
                started.set()
                try:
                    for j in range(200):
                        sel.register(a, RW, j)
                        sel.modify(a, R, j)
                        sel.select(0)
                        sel.unregister(a)
                except allowed:
                    pass
                except BaseException as exc:
                    errors.append(exc)

            t = threading.Thread(target=churn)
            t.start()
            started.wait(10)
            time.sleep((i % 7) * 1e-4)
            sel.close()
            t.join(30)
            assert not t.is_alive()
            assert not errors, errors
            assert sel.get_map() is None
            with pytest.raises(ValueError):
                sel.register(a, R)
    finally:
        a.close()
        b.close()
