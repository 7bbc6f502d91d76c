"""Hosts that go away: on a worker thread, by exiting, or by saying so.

Issue 13, items 1, 9 and 10.  An abandoned run whose host thread is not
the main thread is finished on guestpoll's finisher thread, without the
host thread ever calling into guestpoll again: RuntimeWarning, tasks
cancelled with ABANDONED_MESSAGE (their running loop is the run's loop),
the life cycle run to the end, the undeliverable outcome logged.  The
explicit way is ``guestpoll.host_gone(main_task)``.

Every wait below is an Event handshake with a generous hang guard.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import warnings

import pytest

from hosts import guestpoll
from hosts import LoopRecorder, QueueHost

ABANDONED_MESSAGE = guestpoll._guest.ABANDONED_MESSAGE

HANG_GUARD = 30.0



def guest_that_records(record, in_wait, *, idle=False):
    """A guest whose main task and one other task record how they end,
    with the running loop each sees while handling the cancellation."""

    async def other():
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError as exc:
            record.append(("other cancelled", str(exc), asyncio.get_running_loop()))
            raise

    async def main():
        loop = asyncio.get_running_loop()
        record.append(("loop", loop))
        asyncio.create_task(other())
        await asyncio.sleep(0)
        in_wait.set()
        try:
            if idle:
                await loop.create_future()  # nothing will ever set it
            else:
                while True:
                    await asyncio.sleep(0.02)
        except asyncio.CancelledError as exc:
            record.append(("main cancelled", str(exc), asyncio.get_running_loop()))
            await asyncio.sleep(0)  # teardown may still await
            return "main result"

    return main()


def check_finished(record, caught, log, factory):
    loop = record[0][1]
    assert ("main cancelled", ABANDONED_MESSAGE, loop) in record
    # The other task is cancelled by asyncio.run's own teardown.
    assert [r[2] for r in record if r[0] == "other cancelled"] == [loop]
    assert any(
        issubclass(w.category, RuntimeWarning) and "asyncio guest run got abandoned" in str(w.message)
        for w in caught
    ), [str(w.message) for w in caught]
    assert "couldn't deliver the guest result: 'main result'" in log.text
    assert factory.loops[0].is_closed()


class LogEvent(logging.Handler):
    """Collects the guestpoll logger's messages; ``event`` is set once
    one contains *needle* (the finisher thread logs the outcome last)."""

    def __init__(self, needle):
        super().__init__()
        self.needle = needle
        self.event = threading.Event()
        self.text = ""

    def emit(self, record):
        self.text += record.getMessage() + "\n"
        if self.needle in record.getMessage():
            self.event.set()

    def wait(self):
        assert self.event.wait(HANG_GUARD), self.text


@pytest.fixture
def log():
    handler = LogEvent("couldn't deliver")
    logger = logging.getLogger("guestpoll")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def test_worker_host_refuses_wakeup_and_never_calls_again(log):
    """Item 1: the host (a worker thread) stops; its threadsafe hook
    raises from then on; the thread stays alive and never calls into
    guestpoll again.  The run is finished anyway, elsewhere."""
    factory = LoopRecorder()
    record: list = []
    in_wait = threading.Event()
    release = threading.Event()
    errors: list = []

    def host_thread():
        try:
            host = QueueHost()
            host.thread_id = threading.get_ident()
            host.start(guest_that_records(record, in_wait), not_threadsafe=False, loop_factory=factory)
            while not in_wait.is_set():
                host._q.get(timeout=HANG_GUARD)()
            host.refuse_wakeups()
            release.wait(HANG_GUARD)  # alive, and never back in guestpoll
        except BaseException as exc:
            errors.append(exc)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = threading.Thread(target=host_thread)
        t.start()
        try:
            log.wait()
        finally:
            release.set()
            t.join(HANG_GUARD)
    assert not errors, errors
    check_finished(record, caught, log, factory)
    assert "the host refused the asyncio guest's wakeup" in log.text


@pytest.mark.parametrize("idle", [False, True])
def test_host_thread_exits_while_its_guest_runs(idle, log):
    """Item 9 (and item 10's idle guest): a worker thread pumps its queue
    for a while, then returns with the run unfinished -- also when the
    guest waits for something that never comes, which no tick can notice.
    The thread's exit is noticed; the run is finished; nothing is left
    for the garbage collector to tear apart."""
    factory = LoopRecorder()
    record: list = []
    in_wait = threading.Event()
    errors: list = []

    def host_thread():
        try:
            q: queue.SimpleQueue = queue.SimpleQueue()
            guestpoll.start_guest_run(
                guest_that_records(record, in_wait, idle=idle),
                run_sync_soon_threadsafe=q.put,
                done_callback=lambda o: errors.append(f"done_callback called: {o!r}"),
                loop_factory=factory,
            )
            while not in_wait.is_set():
                q.get(timeout=HANG_GUARD)()
            # ... and the host loop returns, its thread exits.
        except BaseException as exc:
            errors.append(exc)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = threading.Thread(target=host_thread)
        t.start()
        t.join(HANG_GUARD)
        log.wait()
    assert not errors, errors
    check_finished(record, caught, log, factory)
    assert any("host thread exited" in str(w.message) for w in caught)


@pytest.mark.parametrize("thread", [False, True])
def test_host_gone_finishes_an_idle_run_at_once(thread):
    """Item 10: a host whose guest is idle (nothing a tick could notice)
    says it is gone; the run is finished right there and its outcome
    returned; the thread has no running loop left, asyncio.run works on
    it, and ticks the host still held do nothing."""
    factory = LoopRecorder()
    result: dict = {}

    def body():
        record: list = []
        in_wait = threading.Event()
        host = QueueHost()
        host.thread_id = threading.get_ident()
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # no abandonment warning
            task = host.start(guest_that_records(record, in_wait, idle=True), loop_factory=factory)
            while not in_wait.is_set():
                host._q.get(timeout=HANG_GUARD)()
            result["outcome"] = guestpoll.host_gone(task)
            result["again"] = guestpoll.host_gone(task)
        result["record"] = record
        result["running"] = asyncio._get_running_loop()
        result["stale ticks"] = host.run_pending()
        result["done_count"] = host.done_count
        result["asyncio.run"] = asyncio.run(asyncio.sleep(0, "fine"))

    if thread:
        t = threading.Thread(target=body)
        t.start()
        t.join(HANG_GUARD)
    else:
        body()
    assert result["outcome"].unwrap() == "main result"
    assert result["again"] is None
    loop = result["record"][0][1]
    assert ("main cancelled", ABANDONED_MESSAGE, loop) in result["record"]
    assert [r[2] for r in result["record"] if r[0] == "other cancelled"] == [loop]
    assert result["running"] is None
    assert result["done_count"] == 0
    assert result["asyncio.run"] == "fine"
    assert factory.loops[0].is_closed()


def test_host_gone_refuses_misuse():
    errors: dict = {}

    async def main():
        task = asyncio.current_task()
        try:
            guestpoll.host_gone(task)
        except RuntimeError as exc:
            errors["in tick"] = str(exc)
        await asyncio.sleep(0)
        return 1

    host = QueueHost()
    host.thread_id = threading.get_ident()
    task = host.start(main())

    def other_thread():
        try:
            guestpoll.host_gone(task)
        except RuntimeError as exc:
            errors["other thread"] = str(exc)

    t = threading.Thread(target=other_thread)
    t.start()
    t.join(HANG_GUARD)
    host.run(HANG_GUARD)
    assert host.outcome.unwrap() == 1
    assert "host thread" in errors["other thread"]
    assert "inside the guest run" in errors["in tick"]
    with pytest.raises(TypeError):
        guestpoll.host_gone(42)
    assert guestpoll.host_gone(task) is None  # over already


# ---------------------------------------------------------------- fork()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
@pytest.mark.parametrize("where", ["in the task", "host code"])
def test_forked_child_gets_a_clear_error(where):
    """Item 11: a child forked while a guest runs that keeps using the
    inherited guest loop gets a RuntimeError saying so, not a hang (the
    child exits 3 if its host loop waits 10 s for a tick that never
    comes, as the old code did)."""
    parent = os.getpid()
    q: queue.SimpleQueue = queue.SimpleQueue()
    done: list = []
    box: dict = {}

    async def main():
        loop = asyncio.get_running_loop()
        box["loop"] = loop
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads
            pid = os.fork()
        if pid == 0 and where == "host code":
            q.put(lambda: loop.call_soon(print, "never"))
            await loop.create_future()  # the child's host code comes first
        await asyncio.sleep(0.01)
        return pid

    guestpoll.start_guest_run(main(), run_sync_soon_threadsafe=q.put, done_callback=done.append)
    try:
        while not done:
            q.get(timeout=10)()
    except BaseException as exc:
        if os.getpid() != parent:
            ok = isinstance(exc, RuntimeError) and "fork()" in str(exc)
            os._exit(0 if ok else 3)
        raise
    finally:
        if os.getpid() != parent:
            os._exit(4)  # the child must never get here
    pid = done[0].unwrap()
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
