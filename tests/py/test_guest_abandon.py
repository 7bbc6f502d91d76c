"""A host that stops running the guest's ticks before the run is over.

guestpoll notices when the host drops the last tick it was handed: it warns
(RuntimeWarning), cancels what is running with a message naming the
abandonment, finishes the run synchronously on the host thread, tears the
loop down, and logs the result it can no longer deliver.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import queue
import threading
import time
import warnings

import pytest

import guestpoll
from guestpoll._guest import ABANDONED_MESSAGE


def collect_until(predicate, timeout=5.0):
    """Runs the garbage collector until predicate() holds (an abandoned run
    with a wait in flight is only noticed once that wait has ended)."""
    deadline = time.monotonic() + timeout
    while True:
        for _ in range(3):
            gc.collect()
        if predicate() or time.monotonic() > deadline:
            return predicate()
        time.sleep(0.02)


def crashing_host(guest_fn):
    """A queue host whose loop dies when a host callback raises; it then
    drops its queue, and with it every tick it was holding."""
    todo: queue.SimpleQueue = queue.SimpleQueue()
    done = []

    def in_host(fn):
        todo.put(fn)

    guestpoll.start_guest_run(
        guest_fn(in_host),
        run_sync_soon_threadsafe=todo.put,
        done_callback=done.append,
    )
    try:
        deadline = time.monotonic() + 10
        while not done:
            assert time.monotonic() < deadline, "host timed out"
            todo.get(timeout=10)()
    finally:
        del todo, in_host
    return done


def abandon_scenario(main_exits, create_task, slow_cancel):
    """Runs one abandoned guest and returns (record, cancel messages).
    The order of events follows from handshakes, never from how long a
    sleep takes: the short sleeps only make the run's waits end now and
    then (an abandoned run with a wait in flight is noticed when it ends)."""
    record = []
    messages = []
    box = {}

    async def other_task():
        try:
            # Never set, unless a slow-cancelling main task lets this one
            # complete while it takes its time.
            await box["main_cancelled"].wait()
            record.append("other completed")
        except asyncio.CancelledError as exc:
            messages.append(str(exc))
            if slow_cancel:
                try:
                    await asyncio.sleep(0.01)
                except asyncio.CancelledError as exc2:
                    messages.append(str(exc2))
            record.append("other cancelled")

    async def guest(in_host):
        box["main_cancelled"] = asyncio.Event()
        other = None
        if create_task:
            other = asyncio.create_task(other_task())
            await asyncio.sleep(0)
        in_host(lambda: 1 / 0)  # the host's loop dies on this
        try:
            if not main_exits:
                for _ in range(1000):  # 50 s: a hang guard
                    await asyncio.sleep(0.05)
            record.append("completed")
        except asyncio.CancelledError as exc:
            messages.append(str(exc))
            if slow_cancel:
                box["main_cancelled"].set()
                if other is not None:
                    await asyncio.wait([other])
                else:
                    await asyncio.sleep(0.01)
            record.append("cancelled")

    def expected_done():
        if not create_task:
            return bool(record)
        return len(record) == 2

    with pytest.warns(RuntimeWarning, match="asyncio guest run got abandoned"):
        with pytest.raises(ZeroDivisionError):
            crashing_host(guest)
        assert collect_until(expected_done, timeout=30), record
    return record, messages


def expected_record(main_exits, create_task, slow_cancel):
    if not create_task:
        return ["completed" if main_exits else "cancelled"]
    if main_exits:
        # The main task was done: every task still running is cancelled.
        return ["completed", "other cancelled"]
    if slow_cancel:
        # Only the main task is cancelled; the other one completes
        # while the main task takes its time to cancel.
        return ["other completed", "cancelled"]
    return ["cancelled", "other cancelled"]


@pytest.mark.parametrize("slow_cancel", [False, True])
@pytest.mark.parametrize("create_task", [False, True])
@pytest.mark.parametrize("main_exits", [False, True])
def test_abandoned_run_is_finished(main_exits, create_task, slow_cancel):
    record, messages = abandon_scenario(main_exits, create_task, slow_cancel)
    assert record == expected_record(main_exits, create_task, slow_cancel)
    # Whoever was cancelled because of the abandonment was told so.
    if (create_task and main_exits) or not main_exits:
        assert ABANDONED_MESSAGE in messages
    assert "aioguest" in ABANDONED_MESSAGE  # code written for aioguest checks it
    # The loop was torn down: nothing runs in this thread any more.
    assert asyncio._get_running_loop() is None
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


def on_a_thread(body, box, timeout=30.0):
    """Runs body() on a new thread and waits for it; an exception it left
    in box['error'] is raised here, on the test thread."""
    t = threading.Thread(target=body)
    t.start()
    t.join(timeout)
    assert not t.is_alive()
    if "error" in box:
        raise box["error"]


@pytest.mark.parametrize("slow_cancel", [False, True])
@pytest.mark.parametrize("create_task", [False, True])
@pytest.mark.parametrize("main_exits", [False, True])
def test_abandoned_run_on_another_thread(main_exits, create_task, slow_cancel):
    box = {}

    def body():
        try:
            box["result"] = abandon_scenario(main_exits, create_task, slow_cancel)
            box["running"] = asyncio._get_running_loop()
        except BaseException as exc:  # reported below, on the test thread
            box["error"] = exc

    on_a_thread(body, box)
    record, _ = box["result"]
    # Finished on that thread, exactly as on the main thread.
    assert record == expected_record(main_exits, create_task, slow_cancel)
    assert box["running"] is None


@pytest.mark.parametrize("value", [42, RuntimeError("hi")])
def test_abandoned_run_logs_undeliverable_result(value, caplog):
    async def guest(in_host):
        in_host(lambda: 1 / 0)
        try:
            for _ in range(100):
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            pass
        if isinstance(value, BaseException):
            raise value
        return value

    caplog.set_level(logging.ERROR, logger="guestpoll")
    with pytest.warns(RuntimeWarning, match="asyncio guest run got abandoned"):
        with pytest.raises(ZeroDivisionError):
            crashing_host(guest)
        assert collect_until(lambda: "couldn't deliver" in caplog.text)
    if isinstance(value, BaseException):
        assert "couldn't deliver the guest exception" in caplog.text
        assert "RuntimeError: hi" in caplog.text
    else:
        assert "couldn't deliver the guest result: 42" in caplog.text


def test_finished_run_is_not_abandoned():
    """A run that ended normally never warns when its host goes away."""

    async def guest(in_host):
        await asyncio.sleep(0.01)
        return "fine"

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        done = crashing_host(guest)
        for _ in range(3):
            gc.collect()
    assert done[0].unwrap() == "fine"


def test_abandoned_while_waiting_is_noticed_when_the_wait_ends():
    """A wait in flight holds the run; the abandonment shows once it ends."""
    record = []

    async def guest(in_host):
        in_host(lambda: 1 / 0)
        try:
            await asyncio.sleep(0.3)  # the host dies during this wait
            record.append("slept")
        except asyncio.CancelledError:
            record.append("cancelled")

    with pytest.warns(RuntimeWarning, match="asyncio guest run got abandoned"):
        with pytest.raises(ZeroDivisionError):
            crashing_host(guest)
        assert collect_until(lambda: bool(record))
    assert record in (["slept"], ["cancelled"])
    assert asyncio._get_running_loop() is None


def test_new_run_after_abandoned_one():
    """The thread is usable again: a new guest run works."""
    abandon_scenario(main_exits=False, create_task=False, slow_cancel=False)
    q: queue.SimpleQueue = queue.SimpleQueue()
    done = []

    async def guest():
        await asyncio.sleep(0)
        return 7

    guestpoll.start_guest_run(guest(), run_sync_soon_threadsafe=q.put, done_callback=done.append)
    while not done:
        q.get(timeout=10)()
    assert done[0].unwrap() == 7


def test_host_refusing_the_wakeup_on_the_main_thread(caplog):
    """The host stops and refuses the waiter's callback (like Trio's
    RunFinishedError): the tick dies on the waiter thread, and the run is
    finished on the host (main) thread at its next opportunity."""
    assert threading.current_thread() is threading.main_thread()
    todo: queue.SimpleQueue = queue.SimpleQueue()
    state = {"open": True}
    record = []

    def threadsafe(fn):
        if not state["open"]:
            raise RuntimeError("host loop is closed")
        todo.put(fn)

    async def guest():
        try:
            await asyncio.sleep(0.2)
            record.append("slept")
        except asyncio.CancelledError:
            record.append("cancelled")

    guestpoll.start_guest_run(guest(), run_sync_soon_threadsafe=threadsafe, done_callback=record.append)
    # Run ticks until the guest sleeps in a wait on the waiter thread.
    todo.get(timeout=10)()
    while not todo.empty():
        todo.get()()
    state["open"] = False
    with pytest.warns(RuntimeWarning, match="asyncio guest run got abandoned"):
        deadline = time.monotonic() + 10
        while not record and time.monotonic() < deadline:
            time.sleep(0.01)  # pending calls run between bytecodes here
    # The main task had not seen its sleep end: it is cancelled.
    assert record == ["cancelled"]
    assert "the host refused the asyncio guest's wakeup: RuntimeError: host loop is closed" in caplog.text
    assert todo.empty()
    assert asyncio._get_running_loop() is None


def refusing_host_on_a_thread(guest, after):
    """On a new host thread: a queue host that stops at its first host
    callback's error and from then on refuses ticks handed over from the
    waiter thread (like aioguest's test host, whose queue is gone), so the
    abandonment is noticed off the host thread.  The host thread then runs
    ``after(box)``.  Returns the box: 'record', 'ran_on' (the threads the
    guest's cancellation handling ran on), 'host' (the host thread's id),
    'error'."""
    box: dict = {"record": [], "ran_on": set()}

    async def main():
        loop = asyncio.get_running_loop()
        box["loop"] = loop
        box["in_host"](lambda: 1 / 0)
        try:
            # Short waits, held by the waiter thread: when one ends, the
            # host refuses the tick it is handed.  (30 s: a hang guard.)
            for _ in range(600):
                await asyncio.sleep(0.05)
            box["record"].append("slept")
        except asyncio.CancelledError:
            box["ran_on"].add(threading.get_ident())
            await asyncio.sleep(0.05)  # a slow cancellation: blocking waits
            box["ran_on"].add(threading.get_ident())
            box["record"].append("cancelled")

    def body():
        box["host"] = threading.get_ident()
        todo: queue.SimpleQueue = queue.SimpleQueue()
        state = {"open": True}

        def threadsafe(fn):
            if not state["open"]:
                raise RuntimeError("host loop is closed")
            todo.put(fn)

        box["in_host"] = todo.put
        try:
            guestpoll.start_guest_run(main(), run_sync_soon_threadsafe=threadsafe, done_callback=print)
            try:
                while True:
                    todo.get(timeout=10)()
            except ZeroDivisionError:
                pass
            state["open"] = False
            del todo, threadsafe
            box["in_host"] = None
            after(box)
        except BaseException as exc:  # reported on the test thread
            box["error"] = exc

    with pytest.warns(RuntimeWarning, match="asyncio guest run got abandoned"):
        on_a_thread(body, box, 60)
    return box


def test_refused_tick_on_a_live_host_thread_is_finished_there(monkeypatch):
    """Found abandoned on the waiter thread while the host thread lives
    on: the host thread's next garbage collection finishes the run there,
    synchronously (its tasks run on it; when gc.collect() returns the run
    is over), and its running loop is reset (as with aioguest)."""
    from guestpoll import _abandon

    # The finisher's fallback is not what this test is about.
    monkeypatch.setattr(_abandon, "HOST_GRACE", 60.0)

    def after(box):
        deadline = time.monotonic() + 30
        while not box["record"] and time.monotonic() < deadline:
            time.sleep(0.02)
            gc.collect()
        box["running_after"] = asyncio._get_running_loop()
        box["closed_after"] = box["loop"].is_closed()

    box = refusing_host_on_a_thread(lambda: None, after)
    assert box["record"] == ["cancelled"]
    assert box["ran_on"] == {box["host"]}
    assert box["closed_after"]  # the whole run was over when gc returned
    assert box["running_after"] is None


def test_refused_tick_on_a_host_thread_that_collects_nothing(monkeypatch):
    """The host thread lives on but collects no garbage: after HOST_GRACE
    the finisher thread finishes the run without it; the host thread's
    running loop (a thread-local only it can reset) is reset at its next
    collection."""
    from guestpoll import _abandon

    monkeypatch.setattr(_abandon, "HOST_GRACE", 0.2)

    def after(box):
        # Waits, without collecting, until the run is over.
        deadline = time.monotonic() + 30
        while not box["loop"].is_closed() and time.monotonic() < deadline:
            time.sleep(0.02)
        box["running_before"] = asyncio._get_running_loop()
        gc.collect()
        box["running_after"] = asyncio._get_running_loop()

    # Only explicit collections: none runs on the host thread before its own.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        box = refusing_host_on_a_thread(lambda: None, after)
    finally:
        if was_enabled:
            gc.enable()
    assert box["record"] == ["cancelled"]
    assert box["host"] not in box["ran_on"]  # finished on the finisher thread
    assert box["running_before"] is box["loop"]
    assert box["running_after"] is None
