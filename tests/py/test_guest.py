"""guestpoll.start_guest_run(): asyncio as a guest of a plain queue host.

The host is hosts.QueueHost: a queue of callables pumped on one thread, with
host timers; every run has a timeout that fails the test instead of hanging.
"Host code" below means a callable the host loop runs between guest ticks
(a host timer or a queued host callback), never code inside a guest task.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import logging
import os
import re
try:
    import resource
except ImportError:  # Windows: sockets are handles, with no RLIMIT_NOFILE
    resource = None
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings

import outcome
import pytest

import hosts
from hosts import QueueHost, guestpoll, run_guest, run_queue_host
from known_issues import LAZY_EXECUTOR

ON_MAIN_THREAD = threading.current_thread() is threading.main_thread()
needs_main_thread = pytest.mark.skipif(
    not ON_MAIN_THREAD, reason="signals need the main thread"
)

# A "prompt" wake-up must come well before the guest's own 30 s timeout;
# 15 s leaves room for a loaded machine (and for Wine under load, where a
# guest run costs 3-10 times what it does on Linux).
LONG = 30.0
PROMPT = 15.0


def assert_value(host, expected=None):
    assert isinstance(host.outcome, outcome.Value), host.outcome
    if expected is not None:
        assert host.outcome.value == expected
    return host.outcome.value


def assert_error(host, exc_type):
    assert isinstance(host.outcome, outcome.Error), host.outcome
    assert type(host.outcome.error) is exc_type, repr(host.outcome.error)
    return host.outcome.error


@contextlib.contextmanager
def no_never_awaited_warning():
    """Fails if a 'coroutine ... was never awaited' RuntimeWarning is
    emitted in the block (or while collecting garbage at its end)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
        gc.collect()
    bad = [w for w in caught if "never awaited" in str(w.message)]
    assert not bad, [str(w.message) for w in bad]


@pytest.fixture(autouse=True)
def _no_stray_loop_state():
    """Every test must leave no running loop behind."""
    yield
    stray = hosts.clear_stray_running_loop()
    assert stray is None, f"a running loop was left behind: {stray!r}"


# ---------------------------------------------------------------- basics


@pytest.mark.parametrize("thread", [False, True], ids=["main-thread", "host-thread"])
@pytest.mark.parametrize("not_threadsafe", [True, False], ids=["nts", "ts-only"])
def test_return_value(thread, not_threadsafe):
    seen = {}

    async def main():
        seen["task"] = asyncio.current_task()
        seen["thread"] = threading.get_ident()
        await asyncio.sleep(0.01)  # a real background wait
        await asyncio.sleep(0)
        return "result"

    box = {}

    def start(host):
        box["task"] = host.start(main(), not_threadsafe=not_threadsafe)

    host = run_queue_host(start, thread=thread)
    assert_value(host, "result")
    task = box["task"]
    assert isinstance(task, asyncio.Task)
    assert task is seen["task"]
    assert task.done() and task.result() == "result"
    assert seen["thread"] == host.thread_id == host.done_thread
    if thread:
        assert host.thread_id != threading.get_ident()
    if not_threadsafe:
        assert host.not_threadsafe_calls > 0
    else:
        assert host.not_threadsafe_calls == 0
    assert host.threadsafe_calls > 0


@pytest.mark.parametrize("thread", [False, True], ids=["main-thread", "host-thread"])
def test_exception_is_delivered(thread):
    err = ValueError("boom")

    async def main():
        await asyncio.sleep(0.01)
        raise err

    host = run_guest(main(), thread=thread)
    assert assert_error(host, ValueError) is err


def test_exception_before_first_await():
    err = LookupError("early")

    async def main():
        raise err

    host = run_guest(main())
    assert host.outcome.error is err


def test_start_returns_pending_main_task_and_running_loop_in_host():
    seen = {}

    async def main():
        seen["loop"] = asyncio.get_running_loop()
        await asyncio.sleep(0.05)
        return 7

    def start(host):
        task = host.start(main())
        seen["task"] = task
        # Right after start, in host code: the guest loop is the running one.
        seen["loop_after_start"] = asyncio.get_running_loop()
        seen["task_loop"] = task.get_loop()
        seen["current_task_after_start"] = asyncio.current_task()
        host.call_later(0.01, host_cb)

    def host_cb():
        seen["loop_in_host_cb"] = asyncio.get_running_loop()
        seen["current_task_in_host_cb"] = asyncio.current_task()
        seen["main_task_done_in_host_cb"] = seen["task"].done()

    host = run_queue_host(start)
    assert_value(host, 7)
    loop = seen["loop"]
    assert seen["loop_after_start"] is loop
    assert seen["task_loop"] is loop
    assert seen["loop_in_host_cb"] is loop
    assert seen["current_task_after_start"] is None
    assert seen["current_task_in_host_cb"] is None
    assert seen["main_task_done_in_host_cb"] is False
    assert asyncio._get_running_loop() is None


def test_done_callback_after_main_task_and_once():
    order = []

    async def main():
        asyncio.current_task().add_done_callback(lambda t: order.append("main task done"))
        await asyncio.sleep(0)
        return 1

    host = QueueHost()
    host.on_done.append(lambda o: order.append("done_callback"))
    run_queue_host(lambda h: h.start(main()), host=host)
    assert order == ["main task done", "done_callback"]
    assert host.done_count == 1


def test_contextvars_do_not_leak_into_host():
    import contextvars

    var = contextvars.ContextVar("var", default="host")

    async def main():
        var.set("guest")
        await asyncio.sleep(0.01)
        return var.get()

    host = run_guest(main())
    assert_value(host, "guest")
    assert var.get() == "host"


# ---------------------------------------------------------------- I/O


def test_socketpair_io():
    payload = os.urandom(1 << 20)  # more than the socket buffers hold

    async def main():
        a, b = socket.socketpair()
        with a, b:
            a.setblocking(False)
            b.setblocking(False)
            loop = asyncio.get_running_loop()

            async def reader():
                chunks, n = [], 0
                while n < len(payload):
                    data = await loop.sock_recv(b, 65536)
                    assert data
                    chunks.append(data)
                    n += len(data)
                return b"".join(chunks)

            rtask = asyncio.create_task(reader())
            await loop.sock_sendall(a, payload)
            got = await asyncio.wait_for(rtask, LONG)
            # And back the other way, through streams.
            r, w = await asyncio.open_connection(sock=b.dup())
            ra, wa = await asyncio.open_connection(sock=a.dup())
            w.write(b"pong\n")
            await w.drain()
            line = await asyncio.wait_for(ra.readline(), LONG)
            w.close()
            wa.close()
            await w.wait_closed()
            await wa.wait_closed()
            return got == payload, line

    host = run_guest(main())
    assert_value(host, (True, b"pong\n"))


@pytest.fixture
def many_fds():
    if resource is None:  # no descriptor limit to raise
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4096
    if soft != resource.RLIM_INFINITY and soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {want}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_tcp_echo_1000_concurrent_connections(many_fds):
    nconn = 1000

    async def handle(reader, writer):
        try:
            while True:
                data = await reader.read(4096)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    connected = 0

    async def client(port, i, gate):
        nonlocal connected
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            connected += 1
            if connected == nconn:
                gate.set()
            await gate.wait()  # all connections are open at once
            msg = f"hello {i}\n".encode() * 8
            writer.write(msg)
            await writer.drain()
            got = await reader.readexactly(len(msg))
            assert got == msg
            writer.write_eof()
            assert await reader.read() == b""
            return i
        finally:
            writer.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=nconn + 24)
        async with server:
            port = server.sockets[0].getsockname()[1]
            gate = asyncio.Event()
            tasks = [asyncio.create_task(client(port, i, gate)) for i in range(nconn)]
            results = await asyncio.wait_for(asyncio.gather(*tasks), 60)
            return connected, sorted(results) == list(range(nconn))

    host = run_guest(main(), timeout=90)  # below the conftest watchdog (120 s)
    assert_value(host, (nconn, True))


@pytest.mark.parametrize("data_first", [False, True], ids=["data-later", "data-already-there"])
def test_host_add_reader_while_guest_waits(data_first):
    """Host code registers a reader while the guest's wait is in flight
    (no call_soon involved): the pending wait must see it."""
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)

    async def main():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()

        def readable():
            loop.remove_reader(b)
            fut.set_result(b.recv(100))

        hostbox["host"].call_later(0.05, loop.add_reader, b, readable)
        if data_first:
            a.send(b"x")
        else:
            threading.Timer(0.15, a.send, (b"x",)).start()
        t0 = time.monotonic()
        data = await fut  # no timeout: the loop has no timer to wake it
        return data, time.monotonic() - t0

    hostbox = {}

    def start(host):
        hostbox["host"] = host
        host.start(main())

    with a, b:
        host = run_queue_host(start, timeout=LONG)
    data, elapsed = assert_value(host)
    assert data == b"x"
    assert elapsed < PROMPT


def test_guest_runs_in_several_host_threads_at_once():
    """Independent host threads, each with its own guest run, concurrently."""
    nthreads = 4

    async def main(i):
        a, b = socket.socketpair()
        with a, b:
            loop = asyncio.get_running_loop()
            a.setblocking(False)
            b.setblocking(False)
            total = 0
            for n in range(20):
                await asyncio.sleep(0.002)
                await loop.sock_sendall(a, b"%d," % n)
                total += len(await loop.sock_recv(b, 100))
            return i, threading.get_ident(), total

    results = {}
    errors = []

    def worker(i):
        try:
            results[i] = run_queue_host(lambda h: h.start(main(i)), timeout=LONG)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(nthreads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(LONG + 10)
    assert not errors, errors
    idents = set()
    for i in range(nthreads):
        idx, ident, total = assert_value(results[i])
        assert idx == i and ident == results[i].thread_id
        assert total == sum(len(b"%d," % n) for n in range(20))
        idents.add(ident)
    assert len(idents) == nthreads


# ------------------------------------------- the host wakes the guest directly


def _waiting_guest(setup, *, wait=LONG):
    """Runs a guest that hands something to host code via *setup(host,
    loop, box)* and then waits up to *wait* s for box['fut'] or
    box['event']; returns (host, elapsed guest wait)."""
    box = {}

    async def main():
        loop = asyncio.get_running_loop()
        box["loop"] = loop
        setup(hostbox["host"], loop, box)
        t0 = time.monotonic()
        if "event" in box:
            await asyncio.wait_for(box["event"].wait(), wait)
            res = "event"
        else:
            res = await asyncio.wait_for(box["fut"], wait)
        box["elapsed"] = time.monotonic() - t0
        return res

    hostbox = {}

    def start(host):
        hostbox["host"] = host
        host.start(main())

    host = run_queue_host(start, timeout=LONG + 20)
    return host, box


def test_host_sets_event():
    def setup(host, loop, box):
        box["event"] = asyncio.Event()
        host.call_later(0.05, box["event"].set)

    host, box = _waiting_guest(setup)
    assert_value(host, "event")
    assert box["elapsed"] < PROMPT


def test_host_call_soon():
    def setup(host, loop, box):
        box["fut"] = loop.create_future()
        host.call_later(0.05, lambda: loop.call_soon(box["fut"].set_result, "soon"))

    host, box = _waiting_guest(setup)
    assert_value(host, "soon")
    assert box["elapsed"] < PROMPT


def test_host_sets_future_result_directly():
    def setup(host, loop, box):
        box["fut"] = loop.create_future()
        host.call_later(0.05, lambda: box["fut"].set_result("direct"))

    host, box = _waiting_guest(setup)
    assert_value(host, "direct")
    assert box["elapsed"] < PROMPT


def test_host_call_soon_repeatedly_while_guest_waits():
    """Several separate wake-ups from the host, each while the guest is
    back in a long wait."""
    got = []

    async def main():
        loop = asyncio.get_running_loop()
        q = asyncio.Queue()
        for i in range(5):
            hostbox["host"].call_later(0.02 * (i + 1), loop.call_soon, q.put_nowait, i)
        t0 = time.monotonic()
        for _ in range(5):
            got.append(await asyncio.wait_for(q.get(), LONG))
        return time.monotonic() - t0

    hostbox = {}

    def start(host):
        hostbox["host"] = host
        host.start(main())

    host = run_queue_host(start, timeout=LONG + 20)
    assert assert_value(host) < PROMPT
    assert got == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("bound", [None, 1, 5])
def test_due_iterations_share_a_tick(bound, monkeypatch):
    """Loop iterations due at once run in the same tick, up to
    TICK_ITERATIONS of them (one host round trip for many)."""
    if bound is not None:
        monkeypatch.setattr(guestpoll._guest, "TICK_ITERATIONS", bound)
    bound = guestpoll._guest.TICK_ITERATIONS

    async def main():
        for _ in range(200):
            await asyncio.sleep(0)
        return "ok"

    host = run_queue_host(lambda h: h.start(main()))
    assert_value(host, "ok")
    # 201 iterations for the main task, then one tick per later phase;
    # the count of ticks follows from the bound alone.
    assert 201 // bound <= host.callbacks_run <= 201 // bound + 8, host.callbacks_run


@pytest.mark.parametrize("bound", [None, 1, 7, 64])
def test_interleaving_is_counted_in_iterations(bound, monkeypatch):
    """The contract: a tick runs at most TICK_ITERATIONS loop iterations,
    then the host runs what it had queued before the next tick.  Where
    the host gets its turn is fixed in guest loop iterations, whatever
    the machine's speed or load."""
    if bound is not None:
        monkeypatch.setattr(guestpoll._guest, "TICK_ITERATIONS", bound)
    bound = guestpoll._guest.TICK_ITERATIONS
    seen = []
    state = {"i": -1}

    def start(host):
        async def main():
            # Iteration 1 runs this step: it queues two host callbacks.
            host.call_soon(lambda: seen.append(state["i"]))
            host.call_soon(lambda: host.call_soon(lambda: seen.append(state["i"])))
            for i in range(3 * bound + 5):
                state["i"] = i
                await asyncio.sleep(0)  # step i + 2 runs in iteration i + 2

        host.start(main())

    host = run_queue_host(start)
    assert_value(host, None)
    # The host's first turn comes after iteration `bound`, its second
    # after iteration 2 * bound: what they saw is exact.
    assert seen == [bound - 1, 2 * bound - 1]


def test_one_iteration_per_tick_as_aioguest():
    """start_guest_run's contract is aioguest's (and Trio's): one loop
    iteration per host callback, so a host callback that guest code
    queues runs before the guest's next step, on any machine."""
    assert guestpoll._guest.TICK_ITERATIONS == 1
    seen = []
    steps = {"i": -1}

    def start(host):
        async def main():
            host.call_soon(lambda: seen.append(steps["i"]))
            for i in range(5):
                steps["i"] = i
                await asyncio.sleep(0)
            return seen[:]

        host.start(main())

    host = run_queue_host(start)
    # Step 0 ran in the first tick; the host's callback ran before step 1.
    assert assert_value(host) == [0]


def test_busy_guest_gives_the_host_turns():
    """A guest whose tasks are always ready still lets the host run
    after every TICK_ITERATIONS iterations."""
    bound = guestpoll._guest.TICK_ITERATIONS
    turns = []
    n = 20 * bound

    async def busy():
        for _ in range(n):
            await asyncio.sleep(0)
        return n

    def start(host):
        def host_turn():
            turns.append(1)
            if not host.done:
                host.call_soon(host_turn)

        host.start(busy())
        host.call_soon(host_turn)

    host = run_queue_host(start)
    assert assert_value(host) == n
    # One host turn per tick: at least n / bound of them while the main
    # task ran, and ticks did batch iterations.
    assert n // bound <= len(turns) <= n // bound + 10, len(turns)


def test_host_call_soon_ticks_without_ending_the_wait():
    """Host code on the host thread that makes guest work due queues the
    guest's tick with the host directly (run_sync_soon_not_threadsafe):
    the wait in flight is not ended for it, so no threadsafe callback comes
    from the waiter thread, and that same wait still delivers I/O that
    arrives afterwards."""
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    seen = {}

    async def main():
        loop = asyncio.get_running_loop()
        host = hostbox["host"]
        soon = loop.create_future()
        data = loop.create_future()
        loop.add_reader(b, lambda: data.done() or data.set_result(b.recv(10)))

        def host_wakes():
            seen["threadsafe_before"] = host.threadsafe_calls
            seen["state_before"] = loop._selector._wait_state
            loop.call_soon(soon.set_result, "soon")

        host.call_later(0.05, host_wakes)
        await soon
        seen["threadsafe_after"] = host.threadsafe_calls
        seen["state_after"] = loop._selector._wait_state
        # The same wait is still in flight when the data comes.
        threading.Timer(0.05, a.send, (b"io",)).start()
        got = await asyncio.wait_for(data, LONG)
        loop.remove_reader(b)
        return got

    hostbox = {}

    def start(host):
        hostbox["host"] = host
        host.start(main())

    with a, b:
        host = run_queue_host(start, timeout=LONG + 20)
    assert assert_value(host) == b"io"
    assert seen["state_before"] == "inflight"
    assert seen["state_after"] == "inflight"
    assert seen["threadsafe_after"] == seen["threadsafe_before"]


def test_call_soon_on_another_thread_ends_the_wait():
    """call_soon on the guest loop from a thread that is not the host's
    must not queue a tick with run_sync_soon_not_threadsafe (the host
    records that as an error): it ends the wait in flight instead, and the
    waiter thread's callback brings the tick.  The guest has no timer, so
    without that wake-up it would sleep until the host's timeout."""

    async def main():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        before = hostbox["host"].threadsafe_calls
        threading.Timer(0.05, loop.call_soon, (fut.set_result, "woken")).start()
        t0 = time.monotonic()
        got = await fut
        return got, time.monotonic() - t0, hostbox["host"].threadsafe_calls - before

    hostbox = {}

    def start(host):
        hostbox["host"] = host
        host.start(main())

    host = run_queue_host(start, timeout=LONG + 20)
    got, elapsed, threadsafe = assert_value(host)
    assert got == "woken"
    assert elapsed < PROMPT
    assert threadsafe >= 1


def test_host_cancels_main_task():
    log = []

    async def main():
        try:
            await asyncio.sleep(LONG)
        except asyncio.CancelledError:
            log.append("cancelled")
            raise

    box = {}

    def start(host):
        box["t0"] = time.monotonic()
        task = host.start(main())
        host.call_later(0.05, task.cancel)

    host = run_queue_host(start, timeout=LONG + 20)
    assert_error(host, asyncio.CancelledError)
    assert log == ["cancelled"]
    assert host.done_time - box["t0"] < PROMPT


def test_host_cancels_main_task_right_after_start():
    async def main():
        await asyncio.sleep(LONG)

    t0 = time.monotonic()
    with no_never_awaited_warning():
        host = run_queue_host(lambda h: h.start(main()).cancel(), timeout=LONG)
    assert_error(host, asyncio.CancelledError)
    assert host.done_time - t0 < PROMPT


def test_host_cancels_very_long_sleep():
    """A sleep beyond asyncio's maximum select timeout (one day)."""

    async def main():
        await asyncio.sleep(10**7)

    def start(host):
        t = host.start(main())
        host.call_later(0.05, t.cancel)

    host = run_queue_host(start, timeout=LONG)
    assert_error(host, asyncio.CancelledError)


def test_host_cancels_other_task():
    async def main():
        child = asyncio.create_task(asyncio.sleep(LONG))
        hostbox["host"].call_later(0.05, child.cancel)
        t0 = time.monotonic()
        try:
            await child
        except asyncio.CancelledError:
            return ("child cancelled", time.monotonic() - t0 < PROMPT)
        return "not cancelled"

    hostbox = {}

    def start(host):
        hostbox["host"] = host
        host.start(main())

    host = run_queue_host(start, timeout=LONG + 20)
    assert_value(host, ("child cancelled", True))


def test_host_stops_loop():
    log = []

    async def main():
        hostbox["host"].call_later(0.05, asyncio.get_running_loop().stop)
        try:
            await asyncio.sleep(LONG)
        except asyncio.CancelledError:
            log.append("main cancelled")
            raise
        return "finished"  # pragma: no cover

    hostbox = {}

    def start(host):
        hostbox["host"] = host
        hostbox["t0"] = time.monotonic()
        host.start(main())

    host = QueueHost()
    host.on_done.append(lambda o: log.append("done"))
    run_queue_host(start, timeout=LONG + 20, host=host)
    err = assert_error(host, RuntimeError)
    assert str(err) == "Event loop stopped before Future completed."
    # As asyncio.run: the unfinished main task is cancelled by the shutdown.
    assert log == ["main cancelled", "done"]
    assert host.done_time - hostbox["t0"] < PROMPT


def test_guest_stops_loop_itself():
    async def main():
        asyncio.get_running_loop().stop()
        await asyncio.sleep(LONG)

    host = run_guest(main(), timeout=LONG + 20)
    err = assert_error(host, RuntimeError)
    assert str(err) == "Event loop stopped before Future completed."


# ---------------------------------------------------------------- timers


def test_host_call_later_first_timer():
    """The guest waits with no timer at all; a host call_later must fire
    on time."""
    box = {}

    async def main():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        hostbox["host"].call_later(0.02, arm, loop, fut)
        return await fut  # no timeout: the loop has no timer

    def arm(loop, fut):
        box["armed"] = loop.time()
        loop.call_later(0.1, fut.set_result, "fired")

    hostbox = {}

    def start(host):
        hostbox["host"] = host
        box["t0"] = time.monotonic()
        host.start(main())

    host = run_queue_host(start, timeout=20)
    assert_value(host, "fired")
    assert 0.1 <= host.done_time - box["t0"] < PROMPT


def test_host_call_at_new_earliest_timer():
    """The guest waits on a long timer; the host adds an earlier one with
    call_at: it fires on time, not when the long one would."""
    fired = []

    async def main():
        loop = asyncio.get_running_loop()
        hostbox["host"].call_later(0.02, arm, loop)
        t0 = time.monotonic()
        await asyncio.sleep(0)
        ev = asyncio.Event()
        hostbox["ev"] = ev
        await asyncio.wait_for(ev.wait(), LONG)  # a 30 s timer is the earliest
        return time.monotonic() - t0

    def arm(loop):
        hostbox["when"] = loop.time() + 0.1
        loop.call_at(hostbox["when"], lambda: (fired.append(loop.time()), hostbox["ev"].set()))

    hostbox = {}

    def start(host):
        hostbox["host"] = host
        host.start(main())

    host = run_queue_host(start, timeout=LONG + 20)
    elapsed = assert_value(host)
    assert elapsed < PROMPT
    assert len(fired) == 1
    # Timers never fire early (clock resolution aside).
    assert fired[0] >= hostbox["when"] - 0.01


def test_host_call_later_not_earliest_timer():
    """The host adds a timer later than the guest's own earliest: both fire,
    in order, each on time."""
    fired = []

    async def main():
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        done = loop.create_future()
        loop.call_later(0.1, lambda: fired.append(("guest", loop.time() - t0)))
        hostbox["host"].call_later(
            0.02,
            lambda: loop.call_later(
                0.25,
                lambda: (fired.append(("host", loop.time() - t0)), done.set_result(None)),
            ),
        )
        await asyncio.wait_for(done, LONG)
        return loop.time() - t0

    hostbox = {}

    def start(host):
        hostbox["host"] = host
        host.start(main())

    host = run_queue_host(start, timeout=LONG + 20)
    total = assert_value(host)
    assert [name for name, _ in fired] == ["guest", "host"]
    assert fired[0][1] >= 0.1 - 0.01
    assert fired[1][1] >= 0.27 - 0.01
    assert total < PROMPT


def test_early_wake_with_nothing_due_goes_back_to_sleep():
    """A host call_soon of a no-op wakes the wait early; with nothing due
    the guest must wait again rather than spin (the host counts ticks)."""

    async def main():
        loop = asyncio.get_running_loop()
        for i in range(5):
            hostbox["host"].call_later(0.05 * (i + 1), loop.call_soon, lambda: None)
        t0 = time.monotonic()
        await asyncio.sleep(0.6)
        return time.monotonic() - t0

    hostbox = {}

    def start(host):
        hostbox["host"] = host
        host.start(main())

    host = run_queue_host(start, timeout=LONG)
    elapsed = assert_value(host)
    assert elapsed >= 0.6 - 0.01
    # A handful of ticks per wake-up is fine; spinning would be thousands.
    assert host.callbacks_run < 200, host.callbacks_run


def test_idle_guest_does_not_spin():
    async def main():
        await asyncio.sleep(0.5)

    host = run_guest(main())
    assert_value(host)
    assert host.callbacks_run < 50, host.callbacks_run


# --------------------------------------------- threads, executors, processes


def test_call_soon_threadsafe_from_foreign_thread():
    async def main():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        me = threading.get_ident()

        def other():
            time.sleep(0.05)
            loop.call_soon_threadsafe(fut.set_result, threading.get_ident())

        th = threading.Thread(target=other)
        th.start()
        t0 = time.monotonic()
        try:
            who = await asyncio.wait_for(fut, LONG)
        finally:
            th.join()
        return who != me, time.monotonic() - t0 < PROMPT

    host = run_guest(main(), timeout=LONG + 20)
    assert_value(host, (True, True))


@LAZY_EXECUTOR
def test_run_in_executor_and_executor_shutdown():
    threads = []

    def work(x):
        threads.append(threading.current_thread())
        time.sleep(0.05)
        return x * 2

    async def main():
        loop = asyncio.get_running_loop()
        results = await asyncio.gather(*(loop.run_in_executor(None, work, i) for i in range(4)))
        return results

    host = QueueHost()
    # The default executor is shut down (its threads joined) before done.
    host.on_done.append(lambda o: host.errors.extend(
        f"executor thread {t.name} alive at done" for t in threads if t.is_alive()
    ))
    run_queue_host(lambda h: h.start(main()), host=host)
    assert_value(host, [0, 2, 4, 6])
    assert threads and all(t is not threading.main_thread() for t in threads)


@LAZY_EXECUTOR
def test_executor_shutdown_waits_for_running_job():
    """A job still running in the default executor when main returns is
    waited for (shutdown_default_executor) before done_callback."""
    log = []

    def slow():
        time.sleep(0.3)
        log.append("job finished")

    async def main():
        asyncio.get_running_loop().run_in_executor(None, slow)
        await asyncio.sleep(0)
        return "main"

    host = QueueHost()
    host.on_done.append(lambda o: log.append("done"))
    run_queue_host(lambda h: h.start(main()), host=host)
    assert_value(host, "main")
    assert log == ["job finished", "done"]


@pytest.mark.parametrize("thread", [False, True], ids=["main-thread", "host-thread"])
@pytest.mark.selector_subprocess
def test_subprocess_with_pipes(thread):
    async def main():
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "import sys; sys.stdout.write(sys.stdin.read().upper()); sys.exit(3)",
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(proc.communicate(b"hello guest"), LONG)
        return out, proc.returncode

    host = run_guest(main(), timeout=LONG + 20, thread=thread)
    assert_value(host, (b"HELLO GUEST", 3))


# ------------------------------------------------------------ hooks, sniffio


def test_current_task_none_in_host_callbacks_and_hooks_split():
    """Between ticks the host's asyncgen hooks are installed; inside guest
    tasks the loop's."""
    seen = {}

    def host_firstiter(agen):
        seen.setdefault("host_firstiter", []).append(agen)

    def host_finalizer(agen):  # pragma: no cover - not expected to run
        seen.setdefault("host_finalizer", []).append(agen)

    async def main():
        loop = asyncio.get_running_loop()
        hooks = sys.get_asyncgen_hooks()
        seen["guest_hooks"] = hooks
        seen["loop"] = loop
        hostbox["host"].call_later(0.02, in_host)
        await asyncio.sleep(0.1)
        seen["guest_hooks_later"] = sys.get_asyncgen_hooks()
        return "ok"

    def in_host():
        seen["host_hooks_between"] = sys.get_asyncgen_hooks()
        seen["task_between"] = asyncio.current_task()

        async def host_agen():
            yield 1

        agen = host_agen()
        agen.asend(None).close()  # first iteration runs the firstiter hook
        seen["host_agen"] = agen

    hostbox = {}
    old = sys.get_asyncgen_hooks()
    sys.set_asyncgen_hooks(firstiter=host_firstiter, finalizer=host_finalizer)
    try:
        def start(host):
            hostbox["host"] = host
            host.start(main())

        host = run_queue_host(start)
        after = sys.get_asyncgen_hooks()
    finally:
        sys.set_asyncgen_hooks(*old)
    assert_value(host, "ok")
    loop = seen["loop"]
    for hooks in (seen["guest_hooks"], seen["guest_hooks_later"]):
        assert hooks.firstiter == loop._asyncgen_firstiter_hook
        assert hooks.finalizer == loop._asyncgen_finalizer_hook
    assert seen["host_hooks_between"] == (host_firstiter, host_finalizer)
    assert after == (host_firstiter, host_finalizer)
    assert seen["task_between"] is None
    assert seen["host_firstiter"] == [seen["host_agen"]]
    assert seen["host_agen"] not in loop._asyncgens


def test_unfinished_guest_asyncgen_finalized_before_done():
    log = []
    keep = []

    async def agen():
        try:
            yield 1
            yield 2
        finally:
            log.append(("agen finally", asyncio.get_running_loop() is loopbox["loop"]))

    async def main():
        loopbox["loop"] = asyncio.get_running_loop()
        g = agen()
        keep.append(g)  # still referenced: only shutdown_asyncgens closes it
        assert await g.__anext__() == 1
        return "main"

    loopbox = {}
    host = QueueHost()
    host.on_done.append(lambda o: log.append("done"))
    run_queue_host(lambda h: h.start(main()), host=host)
    assert_value(host, "main")
    assert log == [("agen finally", True), "done"]


def test_dropped_guest_asyncgen_finalized_by_guest_loop():
    log = []

    async def agen():
        try:
            yield 1
            yield 2
        finally:
            log.append(("finally", asyncio.current_task() is not None))

    async def main():
        g = agen()
        await g.__anext__()
        del g
        gc.collect()  # the loop's finalizer hook schedules aclose()
        for _ in range(5):
            await asyncio.sleep(0)
        return list(log)

    host = run_guest(main())
    assert_value(host, [("finally", True)])


def test_sniffio_in_guest_and_host():
    sniffio = pytest.importorskip("sniffio", minversion="1.3", reason="sniffio < 1.3 has no thread_local")
    seen = {}

    async def main():
        seen["guest"] = sniffio.current_async_library()
        hostbox["host"].call_later(0.02, in_host)
        await asyncio.sleep(0.1)
        seen["guest2"] = sniffio.current_async_library()

    def in_host():
        try:
            seen["host"] = sniffio.current_async_library()
        except sniffio.AsyncLibraryNotFoundError:
            seen["host"] = None
        seen["host_name"] = getattr(sniffio.thread_local, "name", None)

    hostbox = {}

    def start(host):
        hostbox["host"] = host
        host.start(main())

    old = getattr(sniffio.thread_local, "name", None)
    sniffio.thread_local.name = "queuehost"
    try:
        host = run_queue_host(start)
        after = sniffio.thread_local.name
    finally:
        sniffio.thread_local.name = old
    assert_value(host)
    assert seen["guest"] == seen["guest2"] == "asyncio"
    assert seen["host"] == "queuehost"
    assert after == "queuehost"


# ---------------------------------------------------------------- signals


@pytest.fixture
def wakeup_fd_guard():
    """Leaves the process's wakeup fd as it found it."""
    old = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(old)
    yield
    signal.set_wakeup_fd(old)


def _peek_wakeup_fd():
    fd = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(fd)
    return fd


@needs_main_thread
@pytest.mark.parametrize(
    "use_signals",
    [False, pytest.param(True, marks=pytest.mark.posix_signals)],
    ids=["no-handler", "add_signal_handler"],
)
@pytest.mark.parametrize("prior", [False, True], ids=["no-host-fd", "host-fd"])
def test_wakeup_fd_restored(wakeup_fd_guard, use_signals, prior):
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    with a, b:
        before = a.fileno() if prior else -1
        signal.set_wakeup_fd(before)
        seen = {}

        async def main():
            loop = asyncio.get_running_loop()
            if use_signals:
                loop.add_signal_handler(signal.SIGUSR1, lambda: None)
                seen["during"] = _peek_wakeup_fd()
            await asyncio.sleep(0.01)

        host = run_guest(main())
        assert_value(host)
        if use_signals:
            # asyncio's own fd while the handler was installed.
            assert seen["during"] not in (-1, before)
        assert _peek_wakeup_fd() == before
        if use_signals:
            assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


@needs_main_thread
@pytest.mark.posix_signals
def test_sigalrm_via_add_signal_handler(wakeup_fd_guard):
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL
    fd_before = _peek_wakeup_fd()

    async def main():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        loop.add_signal_handler(
            signal.SIGALRM, lambda: fut.done() or fut.set_result(threading.get_ident())
        )
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        t0 = time.monotonic()
        try:
            who = await asyncio.wait_for(fut, LONG)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        return who, time.monotonic() - t0

    host = run_guest(main(), timeout=LONG + 20)
    who, elapsed = assert_value(host)
    assert who == threading.get_ident()  # the handler ran on the host thread
    assert elapsed < PROMPT
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL
    assert _peek_wakeup_fd() == fd_before


@needs_main_thread
@pytest.mark.skipif(
    sys.version_info < (3, 11),
    reason="Python 3.10's asyncio.run() has no SIGINT handling (asyncio.Runner is 3.11+)",
)
@pytest.mark.parametrize("sender", ["host", "foreign-thread"])
@pytest.mark.posix_signals
def test_sigint_cancels_main_task_and_raises_keyboardinterrupt(
    wakeup_fd_guard, default_sigint, sender
):
    log = []

    async def main():
        log.append(("handler installed", signal.getsignal(signal.SIGINT) is not signal.default_int_handler))
        if sender == "host":
            hostbox["host"].call_later(0.05, os.kill, os.getpid(), signal.SIGINT)
        else:
            # Directed at the host (main) thread: a process-directed kill()
            # may be taken by any thread, and then nothing wakes a host
            # blocked in queue.get() (asyncio.run() blocked in epoll_wait()
            # is in the same position), so whether the test is prompt would
            # be the kernel's choice.
            threading.Timer(
                0.05, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT)
            ).start()
        try:
            await asyncio.sleep(LONG)
        except asyncio.CancelledError:
            log.append("main cancelled")
            raise

    hostbox = {}

    def start(host):
        hostbox["host"] = host
        hostbox["t0"] = time.monotonic()
        host.start(main())

    try:
        host = run_queue_host(start, timeout=LONG + 20)
    except KeyboardInterrupt:  # escaped into the host: a failure, not an abort
        pytest.fail("KeyboardInterrupt escaped into the host loop")
    assert_error(host, KeyboardInterrupt)
    assert log == [("handler installed", True), "main cancelled"]
    assert host.done_time - hostbox["t0"] < PROMPT
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@needs_main_thread
def test_custom_sigint_handler_left_alone():
    calls = []

    def custom(signum, frame):
        calls.append(signum)

    async def main():
        return signal.getsignal(signal.SIGINT)

    old = signal.signal(signal.SIGINT, custom)
    try:
        host = run_guest(main())
        after = signal.getsignal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, old)
    assert assert_value(host) is custom
    assert after is custom


# ---------------------------------------------------------------- teardown


def test_leftover_tasks_cancelled_before_done():
    log = []

    async def bg(name):
        try:
            await asyncio.sleep(LONG)
        except asyncio.CancelledError:
            log.append(f"{name} cancelled")
            await asyncio.sleep(0.01)  # cleanup may still await
            log.append(f"{name} cleaned up")
            raise

    async def main():
        asyncio.create_task(bg("a"))
        asyncio.create_task(bg("b"))
        await asyncio.sleep(0.01)
        return "main"

    host = QueueHost()
    host.on_done.append(lambda o: log.append("done"))
    t0 = time.monotonic()
    run_queue_host(lambda h: h.start(main()), host=host, timeout=LONG + 20)
    assert_value(host, "main")
    assert sorted(log[:4]) == ["a cancelled", "a cleaned up", "b cancelled", "b cleaned up"]
    assert log[4:] == ["done"]
    assert time.monotonic() - t0 < PROMPT


def test_slow_cancellation_of_background_task_is_awaited():
    log = []

    async def stubborn():
        try:
            await asyncio.sleep(LONG)
        except asyncio.CancelledError:
            log.append("cancel received")
            await asyncio.sleep(0.2)  # takes its time, then ends normally
            log.append("stubborn finished")
            return "swallowed"

    async def main():
        asyncio.create_task(stubborn())
        await asyncio.sleep(0.01)
        return "main"

    host = QueueHost()
    host.on_done.append(lambda o: log.append("done"))
    run_queue_host(lambda h: h.start(main()), host=host, timeout=LONG)
    assert_value(host, "main")
    assert log == ["cancel received", "stubborn finished", "done"]


def test_asyncgen_error_during_shutdown_reported():
    contexts = []
    keep = []
    err = OSError("agen cleanup failed")

    async def agen():
        try:
            yield 1
        finally:
            raise err

    async def main():
        asyncio.get_running_loop().set_exception_handler(lambda l, c: contexts.append(c))
        g = agen()
        keep.append(g)
        await g.__anext__()
        return "main"

    host = run_guest(main())
    assert_value(host, "main")
    found = [c for c in contexts if c.get("exception") is err]
    assert len(found) == 1, contexts
    assert "asynchronous generator" in found[0]["message"]
    assert found[0]["asyncgen"] is keep[0]


def test_failing_background_task_reported_at_shutdown():
    contexts = []
    err = ZeroDivisionError("in cleanup")

    async def bg():
        try:
            await asyncio.sleep(LONG)
        except asyncio.CancelledError:
            raise err

    async def main():
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda loop, ctx: contexts.append(ctx))
        box["task"] = asyncio.create_task(bg())
        await asyncio.sleep(0.01)
        return "main"

    box = {}
    host = run_guest(main(), timeout=LONG + 20)
    assert_value(host, "main")
    shutdown = [c for c in contexts if c.get("message") == "unhandled exception during asyncio.run() shutdown"]
    assert len(shutdown) == 1, contexts
    assert shutdown[0]["exception"] is err
    assert shutdown[0]["task"] is box["task"]


def test_loop_closed_and_running_loop_cleared_at_done():
    seen = {}

    async def main():
        seen["loop"] = asyncio.get_running_loop()
        await asyncio.sleep(0)

    def on_done(o):
        seen["closed_at_done"] = seen["loop"].is_closed()
        seen["running_at_done"] = asyncio._get_running_loop()

    host = QueueHost()
    host.on_done.append(on_done)
    run_queue_host(lambda h: h.start(main()), host=host)
    assert_value(host)
    assert seen["closed_at_done"] is True
    assert seen["running_at_done"] is None
    assert asyncio._get_running_loop() is None
    loop = seen["loop"]
    assert loop._selector is None or loop._selector.closed
    # The class swap, if any, is undone.
    assert type(loop) is asyncio.SelectorEventLoop  # the platform's own class


def test_done_callback_runs_as_host_code():
    """done_callback is host code: the host's async generator hooks and
    sniffio state are in place, no guest task is current."""
    sniffio = pytest.importorskip("sniffio", minversion="1.3", reason="sniffio < 1.3 has no thread_local")
    seen = {}

    def host_firstiter(agen):
        pass

    def host_finalizer(agen):
        pass

    async def main():
        await asyncio.sleep(0)

    def on_done(o):
        seen["hooks"] = sys.get_asyncgen_hooks()
        seen["sniffio"] = getattr(sniffio.thread_local, "name", None)
        seen["task"] = asyncio.current_task() if asyncio._get_running_loop() else None

    old_hooks = sys.get_asyncgen_hooks()
    old_name = getattr(sniffio.thread_local, "name", None)
    sys.set_asyncgen_hooks(firstiter=host_firstiter, finalizer=host_finalizer)
    sniffio.thread_local.name = "queuehost"
    try:
        host = QueueHost()
        host.on_done.append(on_done)
        run_queue_host(lambda h: h.start(main()), host=host)
    finally:
        sys.set_asyncgen_hooks(*old_hooks)
        sniffio.thread_local.name = old_name
    assert_value(host)
    assert seen["task"] is None
    assert seen["sniffio"] == "queuehost"
    assert seen["hooks"] == (host_firstiter, host_finalizer)


def _policy_loop():
    return asyncio.get_event_loop_policy()._local._loop


def test_event_loop_policy_default_factory():
    seen = {}

    async def main():
        seen["loop"] = asyncio.get_running_loop()
        seen["policy_loop"] = _policy_loop()

    asyncio.set_event_loop(None)
    host = run_guest(main())
    assert_value(host)
    # asyncio.run: set_event_loop(loop) for the run, set_event_loop(None) after.
    assert seen["policy_loop"] is seen["loop"]
    assert _policy_loop() is None


def test_event_loop_policy_untouched_with_loop_factory():
    seen = {}

    async def main():
        seen["loop"] = asyncio.get_running_loop()
        seen["policy_loop"] = _policy_loop()

    other = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(other)
        host = run_guest(main(), loop_factory=asyncio.SelectorEventLoop)
        after = _policy_loop()
    finally:
        asyncio.set_event_loop(None)
        other.close()
    assert_value(host)
    assert seen["policy_loop"] is other
    assert after is other


# -------------------------------------------------------------- error cases


def _dummy_host_kwargs():
    calls = []
    return calls, dict(
        run_sync_soon_threadsafe=calls.append,
        done_callback=lambda o: calls.append(("done", o)),
    )


def _refusal(fn):
    """The type of the exception fn() raises (ValueError or TypeError)."""
    with pytest.raises((ValueError, TypeError)) as info:
        fn()
    return type(info.value)


@pytest.mark.parametrize(
    "obj",
    [None, 42, lambda: None, asyncio.sleep],
    ids=["None", "int", "function", "coroutine-function"],
)
def test_non_coroutine_refused_as_asyncio_run_does(obj):
    """ValueError up to 3.13, TypeError from 3.14 (not an awaitable)."""
    calls, kw = _dummy_host_kwargs()
    expected = _refusal(lambda: asyncio.run(obj))
    assert _refusal(lambda: guestpoll.start_guest_run(obj, **kw)) is expected
    assert calls == []
    assert asyncio._get_running_loop() is None


def test_future_as_main_as_asyncio_run_does():
    """A Future (of another loop) is refused with ValueError up to 3.13;
    from 3.14 asyncio.run awaits any awaitable, and awaiting a Future of
    another loop fails the run (RuntimeError)."""

    def attempt(run):
        loop = asyncio.new_event_loop()
        try:
            run(loop.create_future())
        except Exception as exc:
            return type(exc)
        finally:
            loop.close()
        return None  # pragma: no cover - the future never completes

    expected = attempt(asyncio.run)
    assert expected is (RuntimeError if sys.version_info >= (3, 14) else ValueError)
    calls, kw = _dummy_host_kwargs()
    if expected is ValueError:
        assert attempt(lambda fut: guestpoll.start_guest_run(fut, **kw)) is ValueError
        assert calls == []
    else:
        assert attempt(lambda fut: run_guest(fut).outcome.unwrap()) is expected


def test_start_inside_running_asyncio_loop():
    state = {}

    async def guest():  # pragma: no cover - must never run
        state["ran"] = True

    async def outer():
        calls, kw = _dummy_host_kwargs()
        coro = guest()
        state["coro"] = coro
        with pytest.raises(RuntimeError) as info:
            guestpoll.start_guest_run(coro, **kw)
        state["exc"] = info.value
        state["calls"] = calls
        state["running_after"] = asyncio.get_running_loop()

    with no_never_awaited_warning():
        outer_loop_runner = asyncio.new_event_loop()
        try:
            outer_loop_runner.run_until_complete(outer())
        finally:
            outer_loop_runner.close()
    assert "ran" not in state
    assert inspect.getcoroutinestate(state.pop("coro")) == inspect.CORO_CLOSED
    assert state["calls"] == []
    assert state["running_after"] is not None


def test_second_run_from_host_code_refused():
    """While one run is active its loop is the running loop of the host
    thread, so starting another there is refused like asyncio.run().  The
    order follows from handshakes: the host tries both from its own
    callbacks (outside any tick) and only then lets the first run end."""
    seen = {}

    async def second():  # pragma: no cover - must never run
        seen["second ran"] = True

    async def main():
        loop = asyncio.get_running_loop()
        release = loop.create_future()
        hostbox["release"] = lambda: loop.call_soon_threadsafe(release.set_result, None)
        hostbox["host"].call_soon(try_second)
        await release
        return "first"

    def try_second():
        coro = second()
        seen["coro"] = coro
        try:
            guestpoll.start_guest_run(
                coro, run_sync_soon_threadsafe=lambda fn: None, done_callback=lambda o: None
            )
        except RuntimeError as exc:
            seen["error"] = exc
        hostbox["host"].call_soon(try_asyncio_run)

    hostbox = {}

    def try_asyncio_run():
        coro = second()
        try:
            asyncio.run(coro)
        except RuntimeError as exc:
            seen["asyncio.run error"] = exc
        finally:
            coro.close()
            hostbox["release"]()

    def start(host):
        hostbox["host"] = host
        host.start(main())

    with no_never_awaited_warning():
        host = run_queue_host(start)
    assert_value(host, "first")
    assert "running event loop" in str(seen["asyncio.run error"])
    assert isinstance(seen.get("error"), RuntimeError)
    assert "second ran" not in seen
    assert inspect.getcoroutinestate(seen["coro"]) == inspect.CORO_CLOSED


def test_consecutive_runs_in_one_thread():
    async def main(i):
        await asyncio.sleep(0.001)
        return i

    for i in range(3):
        assert_value(run_guest(main(i)), i)


class NotALoop:
    closed = False

    def close(self):
        self.closed = True


class AbstractOnlyLoop(asyncio.AbstractEventLoop):
    """An event loop type that is not an asyncio.BaseEventLoop (as a
    compiled loop like uvloop would be)."""

    closed = False

    def close(self):
        self.closed = True

    def is_closed(self):
        return self.closed


class NotSelectorLoop(asyncio.BaseEventLoop):
    """A BaseEventLoop without a selector (as a proactor loop)."""


def _check_refused(factory, match):
    made = []

    def loop_factory():
        loop = factory()
        made.append(loop)
        return loop

    async def guest():  # pragma: no cover - must never run
        pass

    hooks = sys.get_asyncgen_hooks()
    before_policy = _policy_loop()
    calls, kw = _dummy_host_kwargs()
    coro = guest()
    with pytest.raises(RuntimeError, match=match):
        guestpoll.start_guest_run(coro, loop_factory=loop_factory, **kw)
    state = inspect.getcoroutinestate(coro)
    coro.close()  # whatever happened, no warning leaks into other tests
    # As for every other refusal, the coroutine is closed (never awaited).
    assert state == inspect.CORO_CLOSED
    assert calls == []
    assert asyncio._get_running_loop() is None
    assert sys.get_asyncgen_hooks() == hooks
    assert _policy_loop() is before_policy
    return made


def test_loop_factory_returning_non_loop():
    made = _check_refused(NotALoop, "BaseEventLoop")
    assert len(made) == 1


def test_loop_factory_returning_abstract_only_loop():
    # The words of aioguest's refusal, which code written for it may match.
    made = _check_refused(AbstractOnlyLoop, "Only instances of asyncio.BaseEventLoop are supported")
    assert len(made) == 1


def test_loop_factory_returning_non_selector_loop():
    made = _check_refused(NotSelectorLoop, "selector")
    assert len(made) == 1 and made[0].is_closed()


@pytest.mark.skipif(sys.version_info >= (3, 13), reason="3.13+ loops hook _run_forever_setup instead")
def test_loop_factory_overriding_run_forever_refused_before_313():
    class Custom(asyncio.SelectorEventLoop):
        def run_forever(self):  # pragma: no cover
            return super().run_forever()

    made = _check_refused(Custom, "run_forever")
    assert made[0].is_closed()


@pytest.mark.parametrize(
    "factory",
    [
        pytest.param(asyncio.SelectorEventLoop, id="SelectorEventLoop"),
        pytest.param(
            lambda: asyncio.SelectorEventLoop(selectors.PollSelector()),
            id="PollSelector",
            marks=pytest.mark.skipif(
                not hasattr(selectors, "PollSelector"), reason="no poll() here: no PollSelector"
            ),
        ),
        pytest.param(lambda: asyncio.SelectorEventLoop(selectors.SelectSelector()), id="SelectSelector"),
    ],
)
def test_loop_factory_selector_event_loop(factory):
    seen = {}

    async def main():
        loop = asyncio.get_running_loop()
        seen["selector"] = loop._selector
        seen["loop"] = loop
        # I/O still works over the replaced selector (self-pipe included).
        fut = loop.create_future()
        threading.Timer(0.02, loop.call_soon_threadsafe, (fut.set_result, "x")).start()
        return await asyncio.wait_for(fut, LONG)

    host = run_guest(main(), loop_factory=factory, timeout=LONG + 20)
    assert_value(host, "x")
    assert isinstance(seen["selector"], guestpoll.Selector)
    assert isinstance(seen["loop"], asyncio.SelectorEventLoop)
    assert seen["loop"].is_closed()


def test_loop_factory_subclass_works():
    class MyLoop(asyncio.SelectorEventLoop):
        made = 0

    async def main():
        return type(asyncio.get_running_loop())

    host = run_guest(main(), loop_factory=MyLoop)
    cls = assert_value(host)
    assert issubclass(cls, MyLoop)


@pytest.mark.parametrize("debug", [True, False])
def test_debug_flag(debug):
    async def main():
        return asyncio.get_running_loop().get_debug(), sys.get_coroutine_origin_tracking_depth()

    depth_before = sys.get_coroutine_origin_tracking_depth()
    got_debug, depth = assert_value(run_guest(main(), debug=debug))
    assert got_debug is debug
    if debug:
        assert depth > 0  # debug mode tracks coroutine origins, as in asyncio.run
    assert sys.get_coroutine_origin_tracking_depth() == depth_before


def test_run_state_is_collectable_after_done():
    """Nothing keeps the loop, the main coroutine's frame or its locals
    alive once the run is over and the host dropped its references."""
    import weakref

    class Marker:
        pass

    refs = {}

    async def main():
        marker = Marker()
        refs["marker"] = weakref.ref(marker)
        refs["loop"] = weakref.ref(asyncio.get_running_loop())
        await asyncio.sleep(0.01)
        return None

    host = run_guest(main())
    assert_value(host)
    del host
    gc.collect()
    assert refs["marker"]() is None
    assert refs["loop"]() is None


def test_debug_slow_callback_warning(caplog):
    async def main():
        loop = asyncio.get_running_loop()
        loop.slow_callback_duration = 0.05
        time.sleep(0.1)  # a blocking step
        await asyncio.sleep(0)

    with caplog.at_level(logging.WARNING, logger="asyncio"):
        host = run_guest(main(), debug=True)
    assert_value(host)
    assert any("took" in r.getMessage() for r in caplog.records), caplog.records


# ------------------------------------------------------- internal errors


class _RaisingSelector:
    """Wraps the loop's selector; select() raises (once, or always)."""

    def __init__(self, inner, exc, once):
        self._inner = inner
        self._exc = exc
        self._once = once
        self.raised = 0

    def select(self, timeout=None):
        if self._exc is not None:
            self.raised += 1
            exc = self._exc
            if self._once:
                self._exc = None
            raise exc
        return self._inner.select(timeout)

    def __getattr__(self, name):
        return getattr(self._inner, name)


@pytest.mark.parametrize("once", [True, False], ids=["once", "always"])
def test_selector_select_raising_reaches_done_callback(once):
    err = OSError(5, "injected select failure")
    log = []

    async def main():
        loop = asyncio.get_running_loop()
        loop._selector = _RaisingSelector(loop._selector, err, once)
        try:
            await asyncio.sleep(0)  # the next iteration selects at once
            await asyncio.sleep(LONG)
        finally:
            log.append("main finally")

    host = run_guest(main(), timeout=LONG + 20)
    exc = assert_error(host, OSError)
    if once:
        assert exc is err
        assert log == ["main finally"]  # cancelled by the shutdown
    else:
        assert exc.args == err.args


def test_corrupt_ready_queue_reaches_done_callback():
    async def main():
        loop = asyncio.get_running_loop()
        loop._ready.append("not a handle")
        await asyncio.sleep(LONG)

    host = run_guest(main(), timeout=LONG + 20)
    assert_error(host, AttributeError)


def test_corrupt_ready_queue_from_host_code():
    async def main():
        loop = asyncio.get_running_loop()
        hostbox["host"].call_later(0.02, lambda: (loop._ready.append(None), loop.call_soon(lambda: None)))
        await asyncio.sleep(LONG)

    hostbox = {}

    def start(host):
        hostbox["host"] = host
        host.start(main())

    host = run_queue_host(start, timeout=LONG + 20)
    assert_error(host, AttributeError)


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
@pytest.mark.parametrize("where", ["main", "background"])
def test_keyboardinterrupt_systemexit_in_guest_task(exc_type, where):
    err = exc_type()
    log = []

    async def raiser():
        await asyncio.sleep(0.01)
        raise err

    async def main():
        if where == "main":
            await raiser()
        else:
            asyncio.create_task(raiser())
            try:
                await asyncio.sleep(LONG)
            finally:
                log.append("main finally")

    try:
        host = run_guest(main(), timeout=LONG + 20)
    except BaseException as escaped:  # must be delivered, not raised
        pytest.fail(f"{escaped!r} escaped into the host")
    got = assert_error(host, exc_type)
    assert got is err
    if where == "background":
        assert log == ["main finally"]


# ------------------------------------------- differential: like asyncio.run


class _Scenarios:
    """Coroutine functions main(log) whose observable behaviour (outcome
    and the log, which also receives the loop's exception handler calls)
    must be the same under asyncio.run() and as a guest run."""

    @staticmethod
    def _install_handler(log):
        def handler(loop, ctx):
            exc = ctx.get("exception")
            msg = re.sub(r" at 0x[0-9a-fA-F]+", "", str(ctx.get("message")))
            log.append(("handler", msg, type(exc).__name__ if exc else None))

        asyncio.get_running_loop().set_exception_handler(handler)

    @classmethod
    async def returns(cls, log):
        await asyncio.sleep(0.001)
        return "value"

    @classmethod
    async def raises(cls, log):
        await asyncio.sleep(0.001)
        raise ValueError("main failed")

    @classmethod
    async def cancels_itself(cls, log):
        asyncio.current_task().cancel()
        try:
            await asyncio.sleep(1)
        except asyncio.CancelledError:
            log.append("main saw cancel")
            raise

    @classmethod
    async def main_stops_loop(cls, log):
        asyncio.get_running_loop().stop()
        try:
            await asyncio.sleep(1)
        finally:
            log.append("main finally")

    @classmethod
    async def call_soon_stop_then_return(cls, log):
        asyncio.get_running_loop().call_soon(asyncio.get_running_loop().stop)
        return "returned"

    @classmethod
    async def background_stops_loop_while_cancelled(cls, log):
        cls._install_handler(log)

        async def bg():
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                log.append("bg cancelled")
                asyncio.get_running_loop().stop()
                raise

        asyncio.create_task(bg())
        await asyncio.sleep(0.001)
        return "main"

    @classmethod
    async def background_raises_while_cancelled(cls, log):
        cls._install_handler(log)

        async def bg():
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                raise KeyError("bg")

        asyncio.create_task(bg())
        await asyncio.sleep(0.001)
        return "main"

    @classmethod
    async def background_failed_before_end(cls, log):
        cls._install_handler(log)

        async def bg():
            raise KeyError("unretrieved")

        t = asyncio.create_task(bg())
        await asyncio.sleep(0.01)
        log.append(("bg done", t.done()))
        del t
        gc.collect()  # "Task exception was never retrieved"
        return "main"

    @classmethod
    async def keyboardinterrupt_in_background(cls, log):
        async def bg():
            await asyncio.sleep(0.001)
            raise KeyboardInterrupt

        asyncio.create_task(bg())
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            log.append("main cancelled")
            raise

    @classmethod
    async def systemexit_in_main(cls, log):
        await asyncio.sleep(0)
        raise SystemExit(3)

    @classmethod
    async def asyncgen_stops_loop_at_shutdown(cls, log):
        async def agen():
            try:
                yield 1
            finally:
                log.append("agen closing")
                asyncio.get_running_loop().stop()

        g = agen()
        log.append(await g.__anext__())
        cls._keep = g
        return "main"

    @classmethod
    async def asyncgen_raises_at_shutdown(cls, log):
        cls._install_handler(log)

        async def agen():
            try:
                yield 1
            finally:
                raise RuntimeError("agen")

        g = agen()
        await g.__anext__()
        cls._keep = g
        return "main"

    @classmethod
    async def task_created_during_cancellation(cls, log):
        cls._install_handler(log)

        async def late():
            log.append("late task ran")

        async def bg():
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                asyncio.get_running_loop().create_task(late())
                await asyncio.sleep(0)
                log.append("bg cleaned up")
                raise

        asyncio.create_task(bg())
        await asyncio.sleep(0.001)
        return "main"

    @classmethod
    async def main_awaits_cancelled_child(cls, log):
        child = asyncio.create_task(asyncio.sleep(10))
        asyncio.get_running_loop().call_later(0.01, child.cancel)
        try:
            await child
        except asyncio.CancelledError:
            log.append("child cancelled")
        return asyncio.current_task().cancelling() if hasattr(asyncio.Task, "cancelling") else 0

    @classmethod
    async def executor_job_at_end(cls, log):
        asyncio.get_running_loop().run_in_executor(None, time.sleep, 0.05)
        return "main"


SCENARIOS = sorted(
    name for name, v in vars(_Scenarios).items() if isinstance(v, classmethod) and name != "_install_handler"
)


def _describe(result, log):
    if isinstance(result, outcome.Value):
        res = ("value", result.value)
    else:
        exc = result.error
        res = ("error", type(exc).__name__, str(exc))
    return res, log


@pytest.mark.parametrize("name", SCENARIOS)
def test_same_as_asyncio_run(name):
    fn = getattr(_Scenarios, name)
    ref_log = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        ref = outcome.capture(asyncio.run, fn(ref_log))
        asyncio.set_event_loop(None)
        _Scenarios._keep = None
        gc.collect()
        log = []
        host = run_guest(fn(log), timeout=LONG)
        _Scenarios._keep = None
        gc.collect()
    assert _describe(host.outcome, log) == _describe(ref, ref_log)


# ---------------------------------------------------------------- fairness


def test_spinning_guest_does_not_starve_host():
    """A guest task doing ``while True: await asyncio.sleep(0)`` must not
    starve the host: a chain of 200 host callbacks, each queued by the
    previous one, runs to its end while the spinner spins."""
    counts = {"spins": 0, "host": 0}
    box = {}

    async def spinner():
        while True:
            counts["spins"] += 1
            await asyncio.sleep(0)

    async def main():
        box["stop"] = asyncio.Event()
        asyncio.create_task(spinner())  # cancelled at shutdown
        box["host"].call_soon(host_step)
        await box["stop"].wait()
        return counts["spins"]

    def host_step():
        counts["host"] += 1
        if counts["host"] < 200:
            box["host"].call_soon(host_step)
        else:
            box["stop"].set()

    def start(host):
        box["host"] = host
        host.start(main())

    host = run_queue_host(start, timeout=LONG)
    spins = assert_value(host)
    assert counts["host"] == 200
    assert spins >= 20  # the guest made progress too, interleaved


# ---------------------------------------------------------- re-entrancy


def test_nested_host_loop_inside_guest_step():
    """A guest task runs a nested host loop (like a modal dialog) for a
    while; the guest keeps working afterwards and the run completes."""

    async def main():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        loop.call_later(0.01, fut.set_result, "timer")
        deadline = time.monotonic() + 0.1
        while time.monotonic() < deadline:  # nested host loop
            hostbox["host"].run_pending()
            time.sleep(0.005)
        return await asyncio.wait_for(fut, LONG)

    hostbox = {}

    def start(host):
        hostbox["host"] = host
        host.start(main())

    host = run_queue_host(start, timeout=LONG + 20)
    assert_value(host, "timer")


# ---------------------------------------------------------------- leaks


def _short_run(i):
    async def main():
        if i % 2:
            await asyncio.sleep(0.0001)  # a background wait
        else:
            await asyncio.sleep(0)
        return i

    return main()


def test_many_consecutive_runs_do_not_leak():
    """GUESTPOLL_TEST_RUNS guest runs one after the other (all of them,
    however long they take: no time budget, so the outcome does not
    depend on the machine's speed) leave no descriptor, thread or memory
    behind."""
    nruns = int(os.environ.get("GUESTPOLL_TEST_RUNS", "3000"))
    host = QueueHost()

    def one(i):
        h = QueueHost()
        h.thread_id = threading.get_ident()
        h.start(_short_run(i))
        h.run(10)
        assert h.outcome.value == i

    for i in range(50):  # warm-up: caches, lazily created objects
        one(i)
    gc.collect()
    fds0 = hosts.open_fds()
    threads0 = threading.active_count()
    tasks0 = hosts.os_threads()
    rss0 = hosts.rss_bytes()
    t0 = time.monotonic()
    for i in range(nruns):
        one(i)
    gc.collect()
    print(f"{nruns} guest runs in {time.monotonic() - t0:.1f} s")
    hosts.assert_no_more_fds(fds0)
    assert threading.active_count() <= threads0
    # Waiter threads are joined (allow a straggler still exiting).
    deadline = time.monotonic() + 30
    while hosts.os_threads() > tasks0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert hosts.os_threads() <= tasks0
    grown = hosts.rss_bytes() - rss0
    # Under ASan (GUESTPOLL_SANITIZED=1) RSS grows by design (quarantine).
    if os.environ.get("GUESTPOLL_SANITIZED", "") in ("", "0"):
        assert grown < 32 * 1024 * 1024, f"RSS grew by {grown} bytes over {nruns} runs"
    del host
