"""The no-thread path (guestpoll.hosts, start_guest_run(host_watch=...)):
a host that watches the poller's descriptor and carries the loop's
deadline on its own timer drives the run, and no waiter thread exists.
The host here is tests/py/hosts.py's SelectHost, which counts what the
guest asks of it; the toolkit hosts run the same path in
test_hosts_gui.py, test_hosts.py (Trio) and test_examples.py."""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import threading
import time

import pytest

import hosts as testhosts

import guestpoll
import guestpoll.hosts as gh


@pytest.fixture
def host():
    if testhosts.nothread_unavailable():
        pytest.skip(testhosts.nothread_unavailable())
    h = testhosts.SelectHost()
    yield h
    h.free()


def start(host, main, *args, **kwargs) -> gh.GuestRun:
    run = gh.start(main, *args, host=host, **kwargs)
    assert run.waiter_thread is False
    return run


def test_round_trips_without_any_thread(host):
    """Socket I/O, sleeps and call_later run; not one thread is started
    (the OS's count of this process's threads stays the same)."""
    if not os.path.isdir("/proc/self/task"):
        pytest.skip("no /proc/self/task to count the process's threads")
    before = testhosts.os_threads()
    seen_threads = []

    async def main():
        a, b = socket.socketpair()
        reader, writer = await asyncio.open_connection(sock=a)
        loop = asyncio.get_running_loop()
        b.setblocking(False)

        def echo():
            b.send(b.recv(16))

        loop.add_reader(b, echo)
        for i in range(200):
            writer.write(b"%d" % (i % 10))
            assert await reader.read(1) == b"%d" % (i % 10)
            seen_threads.append(testhosts.os_threads())
        loop.remove_reader(b)
        fired = []
        loop.call_later(0.02, fired.append, "later")
        await asyncio.sleep(0.03)
        writer.close()
        b.close()
        return fired

    run = start(host, main)
    host.run_until(lambda: run.done)
    assert run.result() == ["later"]
    assert set(seen_threads) == {before}
    assert testhosts.os_threads() == before
    assert host.watch_calls == 1 and host.unwatch_calls == 1
    assert host.watch_fired > 0 and host.timer_fired > 0


def test_timer_carries_the_next_deadline(host):
    """The host's timer is set for the loop's next deadline, never for
    less than what is left, and not re-armed for the same deadline."""

    async def main():
        t0 = time.monotonic()
        await asyncio.sleep(0.05)
        slept = time.monotonic() - t0
        loop = asyncio.get_running_loop()
        handle = loop.call_later(3600, lambda: None)
        a, b = socket.socketpair()
        reader, writer = await asyncio.open_connection(sock=a)
        for _ in range(3):  # three waits for I/O, each with that deadline
            threading.Timer(0.01, b.send, (b"x",)).start()
            await reader.read(1)
        handle.cancel()
        writer.close()
        b.close()
        return slept

    run = start(host, main)
    host.run_until(lambda: run.done)
    assert run.result() >= 0.05
    assert 0.0 < host.timer_delays[0] <= 0.05
    assert len([d for d in host.timer_delays if d > 3000]) == 1
    assert all(d >= 0 for d in host.timer_delays)


def test_host_code_makes_work_due_while_idle(host):
    """A host callback starting a task while the run waits with no
    deadline at all: the task runs at once (the run queues itself a
    tick), nothing waits for a timer or an fd."""
    done = []

    async def job():
        done.append(time.monotonic())

    run = start(host, None)
    host.run_until(lambda: host.watch_calls == 1 and not run.loop._ready)
    for _ in range(3):
        host.run_once(0)
    t0 = time.monotonic()
    host.call_soon(lambda: run.spawn(job))
    host.run_until(lambda: bool(done), timeout=10)
    assert done[0] - t0 < 5  # not a timeout's worth: it ran when due
    run.close()
    assert run.done


def test_call_soon_threadsafe_from_another_thread_wakes_the_run(host):
    got = []

    async def main():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()

        def other_thread():
            while not loop._guestpoll_waiting:  # until the run waits for its host
                time.sleep(0.001)
            loop.call_soon_threadsafe(fut.set_result, "from a thread")

        threading.Thread(target=other_thread).start()
        got.append(await fut)
        return got[0]

    run = start(host, main)
    host.run_until(lambda: run.done)
    assert run.result() == "from a thread"
    assert host.watch_fired > 0


def test_watch_ends_before_the_descriptor_closes(host):
    async def main():
        await asyncio.sleep(0.001)
        return 1

    run = start(host, main)
    host.run_until(lambda: run.done)
    assert host.fd_open_at_unwatch == [True]
    assert host._watch is None and host._timer is None


def test_nested_host_loop_inside_asyncio_code_does_not_spin(host):
    """Asyncio code that runs the host loop itself (a modal dialog called
    directly, not through call_on_host): the run is frozen meanwhile, as
    on the thread path, and the watch is taken off so that a ready fd
    does not fire it again and again; afterwards the run goes on."""
    fires_inside = []

    async def main():
        a, b = socket.socketpair()
        reader, writer = await asyncio.open_connection(sock=a)
        b.sendall(b"ready")  # the poller's fd is readable from now on
        before = host.watch_fired
        t_end = time.monotonic() + 0.2
        while time.monotonic() < t_end:  # the nested loop
            host.run_once(0.01)
        fires_inside.append(host.watch_fired - before)
        data = await reader.read(5)
        writer.close()
        b.close()
        return data

    run = start(host, main)
    host.run_until(lambda: run.done)
    assert run.result() == b"ready"
    assert fires_inside[0] <= 1
    assert host.watch_calls == 2  # paused once, then watched again


def test_waiter_thread_true_uses_the_thread(host):
    async def main():
        await asyncio.sleep(0.001)
        return "thread"

    run = gh.start(main, host=host, waiter_thread=True)
    assert run.waiter_thread is True
    host.run_until(lambda: run.done)
    assert run.result() == "thread"
    assert host.watch_calls == 0


def test_waiter_thread_false_needs_a_watching_host():
    async def main():
        return 1

    coro = main()
    with pytest.raises(RuntimeError, match="cannot watch a descriptor"):
        gh.start(coro, waiter_thread=False)  # a CallbackQueue
    assert coro.cr_frame is None  # closed, not left unawaited


def test_poll_backend_takes_the_thread_or_refuses(monkeypatch):
    """The poll backend has no descriptor to watch: waiter_thread=None
    falls back to the thread, False raises RuntimeError and starts
    nothing."""
    try:
        guestpoll.Selector(backend="poll").close()
    except (OSError, ValueError) as exc:
        pytest.skip(f"no poll backend here: {exc}")
    monkeypatch.setenv("GUESTPOLL_BACKEND", "poll")
    h = testhosts.SelectHost()
    try:

        async def main():
            await asyncio.sleep(0.001)
            return "polled"

        run = gh.start(main, host=h)
        assert run.waiter_thread is True
        h.run_until(lambda: run.done)
        assert run.result() == "polled"
        with pytest.raises(RuntimeError, match="poll backend has no descriptor a host can watch"):
            gh.start(main, host=h, waiter_thread=False)
        assert h.watch_calls == 0
        assert asyncio._get_running_loop() is None
    finally:
        h.free()


def test_start_guest_run_host_watch_argument(host):
    """The plain start_guest_run API takes the host watch too; a host
    watch missing a method is a TypeError before anything starts."""
    box = []

    async def main():
        await asyncio.sleep(0.001)
        return "watched"

    guestpoll.start_guest_run(
        main(),
        run_sync_soon_threadsafe=host.call_soon_threadsafe,
        done_callback=box.append,
        host_watch=host,
    )
    host.run_until(lambda: bool(box))
    assert box[0].unwrap() == "watched"
    assert host.watch_calls == 1 and host.unwatch_calls == 1

    class Half:
        def watch_fd(self, fd, fn):
            pass

    coro = main()
    with pytest.raises(TypeError, match="lacks watch_fd, unwatch_fd, set_timer or cancel_timer"):
        guestpoll.start_guest_run(coro, run_sync_soon_threadsafe=host.call_soon_threadsafe, done_callback=box.append, host_watch=Half())
    assert coro.cr_frame is None


def test_host_dropping_everything_abandons_the_run(caplog):
    """The run holds its host watch weakly: a host thread (not the main
    one) that drops its host and exits abandons the run, which is then
    finished with the usual warning and logged result."""
    if testhosts.nothread_unavailable():
        pytest.skip(testhosts.nothread_unavailable())
    results = {}

    async def main():
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError as exc:
            results["cancelled"] = str(exc)
            raise

    def host_thread():
        h = testhosts.SelectHost()
        run = gh.start(main, host=h)
        results["waiter_thread"] = run.waiter_thread
        for _ in range(5):
            h.run_once(0.01)
        # The host's loop ends without closing the run.

    with pytest.warns(RuntimeWarning, match="asyncio guest run got abandoned"):
        t = threading.Thread(target=host_thread)
        t.start()
        t.join()
        deadline = time.monotonic() + 30
        while "cancelled" not in results and time.monotonic() < deadline:
            gc.collect()
            time.sleep(0.01)
    assert results["waiter_thread"] is False
    assert "abandoned" in results["cancelled"]
