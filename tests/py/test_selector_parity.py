"""guestpoll.Selector against selectors.EpollSelector of the running
interpreter, side by side (issue 13, items 4, 5 and 13).

* select() returns every ready registration in one call, however many
  (EpollSelector sizes its buffer to the registrations).
* Instances take attributes, which shadow methods (mock.patch.object).
* The exceptions are the stdlib's: select() timeouts (NaN, inf, too large),
  register() checks the events before the file object, get_map() lookups
  let the file object's own errors through.
* A differential fuzz target (Hypothesis, derandomized, bounded) runs random
  operation sequences with good and bad arguments against both selectors
  and requires the same results and the same exception types.  The one
  deliberate difference it allows is documented in
  test_selector_badinput.py: modify() with a mask that register() would
  refuse raises there (and leaves the registration alone).
"""

from __future__ import annotations

import os
try:
    import resource
except ImportError:  # Windows: sockets are handles, with no RLIMIT_NOFILE
    resource = None
import selectors
import socket
import subprocess
import sys
import textwrap
import threading
import unittest.mock

import pytest

R = selectors.EVENT_READ
W = selectors.EVENT_WRITE
RW = R | W

EpollSelector = getattr(selectors, "EpollSelector", None)
needs_epoll = pytest.mark.skipif(EpollSelector is None, reason="selectors.EpollSelector is not available")


class FilenoRaises:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def fileno(self) -> int:
        raise self.exc

    def __repr__(self) -> str:
        return f"FilenoRaises({self.exc!r})"


class FilenoReturns:
    def __init__(self, value: object) -> None:
        self.value = value

    def fileno(self) -> object:
        return self.value

    def __repr__(self) -> str:
        return f"FilenoReturns({self.value!r})"


# ------------------------------------------------ item 4: every ready event


def raise_nofile(want: int) -> None:
    if resource is None:  # no descriptor limit to raise
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            reason = f"RLIMIT_NOFILE hard limit {hard} < {want} descriptors needed"
            print("SKIP:", reason)
            pytest.skip(reason)
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


@pytest.fixture(scope="module")
def many_pairs():
    """3,000 socketpairs (6,000 writable ends)."""
    n = 3000
    raise_nofile(2 * n + 200)
    pairs = [socket.socketpair() for _ in range(n)]
    yield pairs
    for a, b in pairs:
        a.close()
        b.close()


def test_select_returns_every_ready_registration(selector, many_pairs):
    if getattr(selector, "backend", None) == "kqueue" and sys.platform == "linux":
        pytest.xfail(
            "libkqueue (kqueue on Linux) asks epoll for as many events as there "
            "are kevent slots and drops those without a slot when a descriptor "
            "watched for both read and write needs two: the same descriptors "
            "miss every select() (its linux_kevent_copyout)"
        )
    ends = [s for pair in many_pairs for s in pair]
    for s in ends:
        selector.register(s, W)
    for _ in range(2):  # and again: nothing was consumed
        ready = selector.select(0)
        assert len(ready) == len(ends)
        assert {key.fd for key, _ in ready} == {s.fileno() for s in ends}
        assert all(ev == W for _, ev in ready)
    # Some readable too: each is reported once, with both bits.
    for a, _ in many_pairs[:1500]:
        a.send(b"x")
    for _, b in many_pairs[:1500]:
        selector.modify(b, RW)
    ready = selector.select(0)
    assert len(ready) == len(ends)
    assert sum(1 for _, ev in ready if ev == RW) == 1500
    for a, b in many_pairs[:1500]:
        b.recv(1)


@pytest.mark.parametrize("backend", ["epoll", "poll", "iocp"])
def test_split_wait_collects_every_ready_registration(guestpoll, many_pairs, backend):
    """The guest path: a wait run by the waiter thread, then select()."""
    try:
        sel = guestpoll.Selector(backend=backend)
    except ValueError as exc:
        reason = f"no {backend} backend on this platform ({exc})"
        print("SKIP:", reason)
        pytest.skip(reason)
    try:
        ends = [s for pair in many_pairs for s in pair]
        for s in ends:
            sel.register(s, W)
        done = threading.Event()
        sel._wait_start(None, done.set)
        assert done.wait(60)
        ready = sel.select(0)
        assert len(ready) == len(ends)
        assert len({key.fd for key, _ in ready}) == len(ends)
    finally:
        sel.close()


# ---------------------------------------------- item 5: instance attributes


def test_instance_attributes_shadow_methods(selector, socketpair):
    a, _ = socketpair()
    with unittest.mock.patch.object(selector, "modify") as modify:
        selector.modify(a, W, "data")
    modify.assert_called_once_with(a, W, "data")
    # The patch is undone: the real method is back.
    assert "modify" not in vars(selector)
    with pytest.raises(KeyError):
        selector.modify(a, W)
    selector.register = unittest.mock.Mock(return_value="mocked")
    assert selector.register(a, R) == "mocked"
    del selector.register
    assert selector.register(a, R).fd == a.fileno()
    selector.anything = 42
    assert selector.anything == 42


# ------------------------------------------------ item 13: the exceptions


@pytest.mark.parametrize(
    "timeout,exc",
    [
        (float("nan"), ValueError),
        (float("inf"), OverflowError),
        (3e6, OverflowError),
        (2147483.648, OverflowError),
        (2147484, OverflowError),
        (2**63, OverflowError),
        (2**1000, OverflowError),
        (10**400, OverflowError),
        ("1", TypeError),
        (1j, TypeError),
    ],
    ids=repr,
)
def test_select_timeout_errors(selector, timeout, exc):
    with pytest.raises(exc):
        selector.select(timeout)


@pytest.mark.parametrize("timeout", [float("-inf"), -(2**1000), -1e308, -1, 0, 0.0, False], ids=repr)
def test_select_timeout_polls(selector, timeout):
    assert selector.select(timeout) == []


@pytest.mark.parametrize("fileobj", [2**31, 2**64, -1, object(), FilenoReturns(2**40), FilenoRaises(RuntimeError("x"))], ids=repr)
@pytest.mark.parametrize("events", [0, 4, -1, None], ids=repr)
def test_register_checks_events_first(selector, fileobj, events):
    with pytest.raises(ValueError, match="Invalid events"):
        selector.register(fileobj, events)


@pytest.mark.parametrize(
    "lookup",
    [
        lambda m, f: f in m,
        lambda m, f: m[f],
        lambda m, f: m.get(f),
    ],
    ids=["in", "getitem", "get"],
)
def test_map_lookup_propagates_fileno_errors(selector, lookup):
    with pytest.raises(RuntimeError, match="boom"):
        lookup(selector.get_map(), FilenoRaises(RuntimeError("boom")))
    with pytest.raises(ValueError):
        lookup(selector.get_map(), object())


def test_map_of_closed_selector(selector_cls, socketpair):
    a, _ = socketpair()
    sel = selector_cls()
    sel.register(a, R)
    m = sel.get_map()
    sel.close()
    assert a not in m
    with pytest.raises(KeyError):
        m[a]
    with pytest.raises(RuntimeError, match="boom"):
        m[FilenoRaises(RuntimeError("boom"))]


# ------------------------------------------------------- the bridge (C side)


def test_waiter_thread_states_leave_the_owner_alone(guestpoll):
    """The waiter thread's Python thread state lives and dies on that
    thread.  One deleted from the owner's thread after the waiter is joined
    (as guestpoll did for a while) makes CPython 3.12 unbind the owner's own
    PyGILState state; tracemalloc's allocator hook then deadlocks the owner
    at its next raw allocation (threading.Lock()).  In a child process, so
    that a deadlock is a failed test, not a hung suite."""
    site = os.path.dirname(os.path.dirname(guestpoll.__file__))
    prog = textwrap.dedent(
        f"""
        import sys, threading, tracemalloc
        sys.path.insert(0, {site!r})
        import guestpoll
        tracemalloc.start()
        for i in range(50):
            sel = guestpoll.Selector()
            done = threading.Event()
            sel._wait_start(0, done.set)
            assert done.wait(30)
            sel.select(0)
            sel.close()  # joins the waiter thread
            threading.Lock()  # a raw allocation with the GIL held
        print("ok")
        """
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", prog], capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the child deadlocked (no answer in 60 s)")
    assert proc.stdout == "ok\n", proc.stdout + proc.stderr


@pytest.mark.skipif(sys.version_info < (3, 12), reason="Py_mod_multiple_interpreters is 3.12+")
def test_refuses_subinterpreters(guestpoll):
    """The bridge uses the main interpreter's pending calls: the module says
    it does not support subinterpreters at all.  Checked in a subinterpreter
    that shares the main GIL and checks extensions (a module without the
    declaration loads there; one with its own GIL would refuse both)."""
    site = os.path.dirname(os.path.dirname(guestpoll.__file__))
    code = f"import sys; sys.path.insert(0, {site!r}); import guestpoll._guestpoll"
    if sys.version_info >= (3, 13):
        prog = textwrap.dedent(
            f"""
            import _interpreters as interpreters
            config = interpreters.new_config("legacy", check_multi_interp_extensions=True)
            err = interpreters.run_string(interpreters.create(config), {code!r})
            print("refused" if err is not None and "does not support loading in subinterpreters" in err.msg else repr(err))
            """
        )
    else:
        prog = textwrap.dedent(
            f"""
            import _testcapi
            rc = _testcapi.run_in_subinterp_with_config(
                {code!r}, use_main_obmalloc=True, allow_fork=True, allow_exec=True,
                allow_threads=True, allow_daemon_threads=True,
                check_multi_interp_extensions=True, gil=1)  # 1: the shared GIL
            print("refused" if rc else "imported")
            """
        )
    # In a child process: a failed subinterpreter import must not disturb
    # this one.
    proc = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, timeout=60)
    if "ModuleNotFoundError" in proc.stderr or "AttributeError" in proc.stderr:
        pytest.skip("no low-level subinterpreter API here: " + proc.stderr.strip().splitlines()[-1])
    assert proc.stdout == "refused\n", proc.stdout + proc.stderr
    if sys.version_info < (3, 13):
        assert "does not support loading in subinterpreters" in proc.stderr


def test_exit_with_callbacks_running(guestpoll):
    """The interpreter exits while waiter threads deliver ready callbacks
    (and the selectors are never closed): no hang, no crash."""
    site = os.path.dirname(os.path.dirname(guestpoll.__file__))
    prog = textwrap.dedent(
        f"""
        import sys, threading
        sys.path.insert(0, {site!r})
        import guestpoll
        sels = [guestpoll.Selector() for _ in range(8)]
        def again(sel):
            def ready():
                sel.select(0)
                sel._wait_start(0, ready)
            return ready
        for sel in sels:
            sel._wait_start(0, again(sel))
        import time
        time.sleep(0.05)
        print("exiting")
        """
    )
    proc = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "exiting\n"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork()")
def test_fork_child_frees_inherited_selector(guestpoll):
    """A child of fork() has none of the parent's waiter threads (Python
    deleted their thread states): closing an inherited selector whose waiter
    had delivered callbacks, and using a new one, works."""
    site = os.path.dirname(os.path.dirname(guestpoll.__file__))
    prog = textwrap.dedent(
        f"""
        import os, sys, threading
        sys.path.insert(0, {site!r})
        import guestpoll
        sel = guestpoll.Selector()
        done = threading.Event()
        sel._wait_start(0, done.set)
        assert done.wait(30)
        sel.select(0)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                sel.close()
                new = guestpoll.Selector()
                ready = threading.Event()
                new._wait_start(0, ready.set)
                assert ready.wait(30)
                new.select(0)
                new.close()
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        sel.close()
        print(os.waitstatus_to_exitcode(status))
        """
    )
    proc = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "0\n", proc.stderr


# --------------------------------------------- the differential fuzz target

try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover
    st = None

EVENTS = [0, 1, 2, 3, 4, -1, 2**31, None, 1.0, "1", True]
DATA = [None, "x", 1]
TIMEOUTS = [0, 0.0, -1, -1.5, False, float("-inf"), -(2**1000), float("nan"), float("inf"), 3e6, 2**1000, "x", 1j]
N_PAIRS = 3


def register_mask_error(events):
    """The exception register() raises for this mask, or None."""
    try:
        if (not events) or (events & ~RW):
            return ValueError
    except TypeError:
        return TypeError
    return None


def normalize(value):
    if isinstance(value, selectors.SelectorKey):
        return ("key", value.fileobj, value.fd, value.events, value.data)
    if isinstance(value, list):  # select()
        return sorted((normalize(k), ev) for k, ev in value)
    return value


def outcome(fn):
    try:
        return ("ok", normalize(fn()))
    except Exception as exc:  # noqa: BLE001 - the type is the result
        return ("raised", type(exc))


@needs_epoll
@pytest.mark.skipif(st is None, reason="hypothesis is not installed")
def test_differential_fuzz_against_epollselector(guestpoll, socketpair):
    pairs = [socketpair() for _ in range(N_PAIRS)]
    for a, _ in pairs[:2]:
        a.send(b"x")  # the partner ends are readable as well as writable
    socks = [s for pair in pairs for s in pair]
    # File objects, good and bad; the same objects go to both selectors.
    fileobjs = socks + [s.fileno() for s in socks] + [FilenoReturns(s.fileno()) for s in socks[:2]]
    fileobjs += [
        -1,
        2**31,
        2**64,
        19999,  # not open: OSError(EBADF)
        object(),
        "3",
        3.5,
        float("nan"),
        FilenoRaises(RuntimeError("boom")),
        FilenoRaises(ValueError("bad")),
        FilenoRaises(OSError("os")),
        FilenoReturns("x"),
        FilenoReturns(-3),
        FilenoReturns(2**40),
        FilenoReturns(None),
    ]
    fo = st.integers(0, len(fileobjs) - 1)
    ev = st.integers(0, len(EVENTS) - 1)
    da = st.integers(0, len(DATA) - 1)
    op = st.one_of(
        st.tuples(st.just("register"), fo, ev, da),
        st.tuples(st.just("modify"), fo, ev, da),
        st.tuples(st.just("unregister"), fo),
        st.tuples(st.just("get_key"), fo),
        st.tuples(st.just("map_in"), fo),
        st.tuples(st.just("map_getitem"), fo),
        st.tuples(st.just("map_get"), fo),
        st.tuples(st.just("map_len")),
        st.tuples(st.just("map_fds")),
        st.tuples(st.just("select"), st.integers(0, len(TIMEOUTS) - 1)),
        st.tuples(st.just("close")),
    )

    def call(sel, o):
        name = o[0]
        if name in ("register", "modify"):
            return getattr(sel, name)(fileobjs[o[1]], EVENTS[o[2]], DATA[o[3]])
        if name in ("unregister", "get_key"):
            return getattr(sel, name)(fileobjs[o[1]])
        if name == "map_in":
            return fileobjs[o[1]] in sel.get_map()
        if name == "map_getitem":
            return sel.get_map()[fileobjs[o[1]]]
        if name == "map_get":
            return sel.get_map().get(fileobjs[o[1]])
        if name == "map_len":
            return len(sel.get_map())
        if name == "map_fds":
            return sorted(sel.get_map())
        if name == "select":
            return sel.select(TIMEOUTS[o[1]])
        assert name == "close"
        return sel.close()

    def ref_registered(ref, fileobj):
        try:
            return ref._fd_to_key[ref._fileobj_lookup(fileobj)]
        except Exception:  # noqa: BLE001
            return None

    @settings(
        max_examples=500,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(op, max_size=25))
    def run(ops):
        ref = EpollSelector()
        gp = guestpoll.Selector()
        try:
            for o in ops:
                if o[0] == "modify" and register_mask_error(EVENTS[o[2]]):
                    old = ref_registered(ref, fileobjs[o[1]])
                    if old is not None:
                        # The deliberate difference: guestpoll refuses the
                        # mask as register() would, and changes nothing.
                        assert outcome(lambda: call(gp, o)) == ("raised", register_mask_error(EVENTS[o[2]])), o
                        assert normalize(gp.get_key(fileobjs[o[1]])) == normalize(old)
                        continue
                want = outcome(lambda: call(ref, o))
                got = outcome(lambda: call(gp, o))
                assert got == want, (o, ops)
        finally:
            ref.close()
            gp.close()

    run()
