"""Bad input to guestpoll.start_guest_run() and host callbacks that fail.

What test_guest.py and test_guest_abandon.py already cover is not repeated
(None / int / function / coroutine function / Future as the coroutine,
loop factories returning non-loops or non-selector loops, the host
refusing the waiter's wakeup on the main thread).  Every case here checks
the whole cleanup: a clear exception (or a logged error), the loop closed,
the coroutine closed without a "never awaited" warning, no running loop
left on the host thread, and no fd or OS thread leaked.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import logging
import sys
import threading
import time
import types
import warnings
from typing import Any, Iterator

import pytest

import hosts
from hosts import LoopRecorder, QueueHost, guestpoll


@contextlib.contextmanager
def clean_after() -> Iterator[None]:
    """The block leaks no fd and no OS thread, leaves no running loop, and
    emits no "coroutine ... was never awaited" warning."""
    gc.collect()
    fds0, threads0 = hosts.open_fds(), hosts.os_threads()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
        gc.collect()
    never = [str(w.message) for w in caught if "never awaited" in str(w.message)]
    assert not never, never
    assert asyncio._get_running_loop() is None
    deadline = time.monotonic() + 10
    while hosts.os_threads() > threads0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert hosts.os_threads() <= threads0
    hosts.assert_no_more_fds(fds0)


@pytest.fixture(autouse=True)
def _no_stray_loop_state():
    yield
    stray = hosts.clear_stray_running_loop()
    assert stray is None, f"a running loop was left behind: {stray!r}"



# ------------------------------------------------------ not a coroutine


def _gen():
    yield 1


class AwaitableNotCoroutine:
    def __await__(self):
        return iter(())


async def _agen():
    yield 1


NOT_COROUTINES = {
    "awaitable": lambda: AwaitableNotCoroutine(),
    "async-generator": lambda: _agen(),
    "str": lambda: "coro",
    "class": lambda: AwaitableNotCoroutine,
    "bound-method": lambda: asyncio.sleep.__call__,
}


def _outcome_of(fn: Any) -> tuple:
    """("value", what fn() returned) or ("error", the exception's type,
    its message up to the repr of the refused object)."""
    try:
        return ("value", fn())
    except Exception as exc:
        return ("error", type(exc), str(exc).split(", got ")[0])


@pytest.mark.parametrize("name", list(NOT_COROUTINES))
def test_not_a_coroutine_refused_like_asyncio_run(name):
    """Up to 3.13 asyncio.run refuses all of these with ValueError("a
    coroutine was expected"); from 3.14 it runs any awaitable and refuses
    the rest with TypeError.  start_guest_run does what this interpreter's
    asyncio.run does, refusing before it calls anything of the host's."""
    expected = _outcome_of(lambda: asyncio.run(NOT_COROUTINES[name]()))
    obj = NOT_COROUTINES[name]()
    calls: list = []
    with clean_after():
        if expected[0] == "value":
            assert sys.version_info >= (3, 14) and inspect.isawaitable(obj)
            assert _outcome_of(lambda: hosts.run_guest(obj).outcome.unwrap()) == expected
            return
        got = _outcome_of(
            lambda: guestpoll.start_guest_run(
                obj, run_sync_soon_threadsafe=calls.append, done_callback=calls.append
            )
        )
    assert got == expected
    assert calls == []


@types.coroutine
def _gen_coro():
    yield


@pytest.mark.parametrize("make", [_gen, _gen_coro], ids=["generator", "types.coroutine"])
def test_generator_as_asyncio_run_takes_it(make):
    """Generators: asyncio.iscoroutine() accepts them up to 3.11 (the run
    then fails in the task) and refuses them from 3.12 on; 3.14's
    asyncio.run runs a types.coroutine generator (an awaitable) and refuses
    a plain one with TypeError.  guestpoll follows asyncio.run either way."""
    expected = _outcome_of(lambda: asyncio.run(make()))
    with clean_after():
        got = _outcome_of(lambda: hosts.run_guest(make()).outcome.unwrap())
    assert got == expected


# ----------------------------------------------- the host refuses ticks


class HostSaysNo(Exception):
    pass


@pytest.mark.parametrize("which", ["not_threadsafe", "threadsafe-only"])
@pytest.mark.parametrize("exc_type", [HostSaysNo, KeyboardInterrupt])
def test_host_refuses_first_tick(which, exc_type):
    """The host's scheduler raises on its first call, inside
    start_guest_run: that error is raised to the caller, there is no run
    (no done_callback, no abandonment warning, nothing logged), and
    everything is torn down."""
    factory = LoopRecorder()
    exc = exc_type("no ticks")
    done: list = []
    started = []

    def refuse(fn):
        raise exc

    async def main():  # pragma: no cover - must never run
        started.append(True)

    coro = main()
    kwargs: dict[str, Any] = {"done_callback": done.append, "loop_factory": factory}
    if which == "not_threadsafe":
        kwargs["run_sync_soon_threadsafe"] = lambda fn: None
        kwargs["run_sync_soon_not_threadsafe"] = refuse
    else:
        kwargs["run_sync_soon_threadsafe"] = refuse
    with clean_after():
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # no abandonment warning
            with pytest.raises(exc_type) as info:
                guestpoll.start_guest_run(coro, **kwargs)
    assert info.value is exc
    assert done == [] and started == []
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED
    assert len(factory.loops) == 1 and factory.loops[0].is_closed()


@pytest.mark.parametrize("nth", [2, 3, 6])
def test_host_refuses_a_later_tick(nth, caplog, monkeypatch):
    """run_sync_soon_not_threadsafe raises from its nth call on, in a
    tick: the host sees its error; the run is finished right there as an
    abandoned one (warning, outcome logged), not left with its loop
    running on the host thread."""
    # One loop iteration per tick, so that the ten sleep(0) below ask the
    # host for ten ticks (by default they would share one).
    monkeypatch.setattr(guestpoll._guest, "TICK_ITERATIONS", 1)
    factory = LoopRecorder()
    host = QueueHost()
    calls = [0]
    record: list = []

    def soon(fn):
        calls[0] += 1
        if calls[0] >= nth:
            raise HostSaysNo(f"call {calls[0]}")
        host._q.put(fn)

    async def main():
        try:
            for _ in range(10):
                await asyncio.sleep(0)
            await asyncio.sleep(0.01)
            record.append("finished")
        except asyncio.CancelledError:
            record.append("cancelled")
            raise

    coro = main()
    with clean_after():
        host.thread_id = threading.get_ident()
        guestpoll.start_guest_run(
            coro,
            run_sync_soon_threadsafe=host.run_sync_soon_threadsafe,
            run_sync_soon_not_threadsafe=soon,
            done_callback=host.done_callback,
            loop_factory=factory,
        )
        with pytest.warns(RuntimeWarning, match="abandoned"):
            with caplog.at_level(logging.ERROR, logger="guestpoll"):
                with pytest.raises(HostSaysNo):
                    host.run(10)
        del host
    assert record in (["cancelled"], [])  # cancelled, or never started
    assert "couldn't deliver the guest" in caplog.text
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED
    assert factory.loops[0].is_closed()


def test_threadsafe_raising_after_host_stopped_off_main_thread(caplog):
    """The host runs on a worker thread, stops, and from then on its
    run_sync_soon_threadsafe raises (as Trio's does once its run is over):
    the waiter's wakeup is refused and logged, the run is finished on
    guestpoll's finisher thread, and the closed loop left as this thread's
    running loop is cleared when it starts its next guest run."""
    factory = LoopRecorder()
    result: dict = {}

    def host_thread():
        host = QueueHost()
        host.thread_id = threading.get_ident()
        state = {"open": True}

        def threadsafe(fn):
            if not state["open"]:
                raise RuntimeError("host loop is closed")
            host._q.put(fn)

        async def main():
            await asyncio.sleep(0.2)  # a wait on the waiter thread

        guestpoll.start_guest_run(
            main(),
            run_sync_soon_threadsafe=threadsafe,
            done_callback=host.done_callback,
            loop_factory=factory,
        )
        host.run_pending()  # the first tick: main() now sleeps
        state["open"] = False
        del host
        # The wait ends; its wakeup is refused; the finisher thread
        # finishes the run (a hang guard, not a timing assumption).
        deadline = time.monotonic() + 30
        while not (factory.loops and factory.loops[0].is_closed()):
            assert time.monotonic() < deadline, "the abandoned run was not finished"
            time.sleep(0.01)
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            # the next run on this thread clears the finished one's loop
            again = QueueHost()
            again.thread_id = threading.get_ident()

            async def second():
                return "second"

            again.start(second())
            again.run(10)
        result["second"] = again.outcome.value
        result["running"] = asyncio._get_running_loop()

    with clean_after():
        with caplog.at_level(logging.ERROR, logger="guestpoll"):
            t = threading.Thread(target=host_thread)
            t.start()
            t.join(30)
            assert not t.is_alive()
    assert result == {"second": "second", "running": None}
    assert "the host refused the asyncio guest's wakeup" in caplog.text
    assert factory.loops[0].is_closed()


# ----------------------------------------------------- done_callback


@pytest.mark.parametrize("outcome_kind", ["value", "error"])
def test_done_callback_raising(outcome_kind):
    """done_callback's exception reaches the host (it is the host's own
    code, called from a tick); the run is over and clean by then, and the
    next run works."""
    factory = LoopRecorder()
    host = QueueHost()

    class DoneBoom(Exception):
        pass

    def done_callback(result):
        host.outcome = result
        raise DoneBoom

    async def main():
        await asyncio.sleep(0.01)
        if outcome_kind == "error":
            raise LookupError("guest")
        return "value"

    coro = main()
    with clean_after():
        host.thread_id = threading.get_ident()
        guestpoll.start_guest_run(
            coro,
            run_sync_soon_threadsafe=host.run_sync_soon_threadsafe,
            done_callback=done_callback,
            loop_factory=factory,
        )
        with pytest.raises(DoneBoom):
            host._pump_until(lambda: False, time.monotonic() + 10)
        host.run_pending()  # whatever is still queued is harmless
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED
    assert factory.loops[0].is_closed()
    if outcome_kind == "error":
        assert isinstance(host.outcome.error, LookupError)
    else:
        assert host.outcome.value == "value"

    async def again():
        return 7

    assert hosts.run_guest(again()).outcome.value == 7


# ------------------------------------------------------- loop_factory


class FactoryBoom(Exception):
    pass


@pytest.mark.parametrize("exc", [FactoryBoom("x"), KeyboardInterrupt(), MemoryError()], ids=repr)
def test_loop_factory_raising(exc):
    def factory():
        raise exc

    async def main():  # pragma: no cover - must never run
        pass

    coro = main()
    calls: list = []
    with clean_after():
        with pytest.raises(type(exc)) as info:
            guestpoll.start_guest_run(
                coro,
                run_sync_soon_threadsafe=calls.append,
                done_callback=calls.append,
                loop_factory=factory,
            )
    assert info.value is exc
    assert calls == []
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED


def test_loop_factory_returning_closed_loop():
    def factory():
        loop = asyncio.SelectorEventLoop()
        loop.close()
        return loop

    async def main():  # pragma: no cover - must never run
        pass

    coro = main()
    with clean_after():
        with pytest.raises(RuntimeError, match="cannot be a guest: it is closed"):
            guestpoll.start_guest_run(
                coro, run_sync_soon_threadsafe=print, done_callback=print, loop_factory=factory
            )
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED


def test_loop_factory_returning_loop_running_elsewhere():
    """A loop already running in another thread is refused and left
    alone (not closed: it is not ours)."""
    other = asyncio.new_event_loop()
    t = threading.Thread(target=other.run_forever)
    t.start()
    try:
        while not other.is_running():
            time.sleep(0.01)

        async def main():  # pragma: no cover - must never run
            pass

        coro = main()
        with pytest.raises(RuntimeError, match="running already"):
            guestpoll.start_guest_run(
                coro, run_sync_soon_threadsafe=print, done_callback=print, loop_factory=lambda: other
            )
        assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED
        assert other.is_running() and not other.is_closed()
    finally:
        other.call_soon_threadsafe(other.stop)
        t.join(10)
        other.close()


def test_loop_factory_returning_same_loop_twice():
    """A factory that hands out the loop of a finished run: closed by
    then, so refused clearly."""
    loops: list = []

    def factory():
        if not loops:
            loops.append(asyncio.SelectorEventLoop())
        return loops[0]

    async def main():
        return 1

    assert hosts.run_guest(main(), loop_factory=factory).outcome.value == 1
    coro = main()
    with pytest.raises(RuntimeError, match="closed"):
        guestpoll.start_guest_run(
            coro, run_sync_soon_threadsafe=print, done_callback=print, loop_factory=factory
        )
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED


@pytest.mark.parametrize(
    "selector_factory",
    [
        lambda: __import__("selectors").SelectSelector(),
        lambda: __import__("selectors").PollSelector(),
    ],
    ids=["SelectSelector", "PollSelector"],
)
def test_loop_factory_selector_with_registrations_is_carried_over_without_leak(selector_factory):
    """The factory's own selector is replaced: its registrations move to
    the guestpoll one and it is closed (no fd leaked over many runs)."""
    try:
        selector_factory().close()
    except AttributeError as exc:  # no poll() (Windows)
        pytest.skip(f"this selector does not exist here: {exc}")

    async def main():
        return type(asyncio.get_running_loop()._selector).__name__

    with clean_after():
        for _ in range(20):
            host = hosts.run_guest(
                main(), loop_factory=lambda: asyncio.SelectorEventLoop(selector_factory())
            )
            assert host.outcome.value == "Selector"
