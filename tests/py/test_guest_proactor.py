"""Windows' default event loop, the proactor, as an asyncio guest.

With asyncio's default policy on Windows, ``start_guest_run(coro)`` (no
loop_factory) runs the loop ``asyncio.run`` would make: a
``ProactorEventLoop``, whose I/O completion port wait moves to a waiter
thread while the completions are processed on the host thread.  These
tests run under that default policy (conftest.py makes the rest of the
suite use the selector loop) and check what only the proactor loop can do
on Windows: subprocesses and pipes.  Skipped where asyncio has no proactor
loop (every platform but Windows).
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time

import outcome
import pytest

import hosts
from hosts import guestpoll, run_guest

if not hasattr(asyncio, "ProactorEventLoop"):
    pytest.skip("asyncio has no ProactorEventLoop here (Windows only)", allow_module_level=True)

from asyncio import windows_events  # noqa: E402

LONG = 20.0


@pytest.fixture(autouse=True)
def default_policy():
    """asyncio's default policy (the proactor loop), as a Windows user has
    it; conftest.py's policy is put back afterwards."""
    old = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(None)
    try:
        yield
    finally:
        asyncio.set_event_loop_policy(old)


def value(host):
    assert isinstance(host.outcome, outcome.Value), host.outcome
    assert not host.errors, host.errors
    return host.outcome.value


def test_default_loop_is_the_proactor():
    async def main():
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0.01)
        return type(loop).__name__, isinstance(loop, windows_events.ProactorEventLoop)

    assert value(run_guest(main())) == ("ProactorEventLoop", True)


def test_subprocess_output():
    """A child Python prints; the guest reads its stdout pipe and exit code."""

    async def main():
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "print('hello from the child')",
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), LONG)
        return out.strip(), proc.returncode

    assert value(run_guest(main(), timeout=LONG * 2)) == (b"hello from the child", 0)


def test_subprocess_pipes_both_ways():
    """Lines go to the child through its stdin pipe and come back through
    its stdout pipe, one at a time (each needs a wait on the port)."""
    child = (
        "import sys\n"
        "for line in sys.stdin:\n"
        "    sys.stdout.write(line.upper()); sys.stdout.flush()\n"
    )

    async def main():
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            child,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        got = []
        for word in (b"one", b"two", b"three"):
            proc.stdin.write(word + b"\n")
            await proc.stdin.drain()
            got.append((await asyncio.wait_for(proc.stdout.readline(), LONG)).strip())
        proc.stdin.close()
        await asyncio.wait_for(proc.wait(), LONG)
        return got, proc.returncode

    assert value(run_guest(main(), timeout=LONG * 2)) == ([b"ONE", b"TWO", b"THREE"], 0)


def test_named_pipe_server_and_client():
    """The proactor's own named-pipe server and client, inside one run."""
    address = r"\\.\pipe\guestpoll-test-%d-%d" % (id(object()), int(time.monotonic() * 1e6))

    async def main():
        loop = asyncio.get_running_loop()
        got = loop.create_future()

        class Server(asyncio.Protocol):
            def connection_made(self, transport):
                self.transport = transport

            def data_received(self, data):
                self.transport.write(data[::-1])

        class Client(asyncio.Protocol):
            def data_received(self, data):
                if not got.done():
                    got.set_result(data)

        servers = await loop.start_serving_pipe(Server, address)
        try:
            transport, _ = await loop.create_pipe_connection(Client, address)
            transport.write(b"guestpoll")
            data = await asyncio.wait_for(got, LONG)
            transport.close()
        finally:
            for server in servers:
                server.close()
        return data

    assert value(run_guest(main(), timeout=LONG * 2)) == b"guestpoll"[::-1]


def test_call_soon_threadsafe_from_another_thread_wakes_the_wait():
    """The guest waits on the port with nothing due; another thread's
    call_soon_threadsafe must end that wait (a packet into the port)."""

    async def main():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        t0 = time.monotonic()
        threading.Timer(0.2, loop.call_soon_threadsafe, (fut.set_result, "woken")).start()
        result = await asyncio.wait_for(fut, LONG)
        return result, time.monotonic() - t0 < LONG / 2

    assert value(run_guest(main())) == ("woken", True)


def test_host_call_soon_while_the_guest_waits():
    """Host code on the host thread makes guest work due while the wait is
    in flight: the guest runs it without waiting for the port."""
    box = {}

    async def main():
        loop = asyncio.get_running_loop()
        box["loop"] = loop
        box["fut"] = loop.create_future()
        return await asyncio.wait_for(box["fut"], LONG)

    def start(host):
        host.start(main())
        # Once the guest waits, host code resolves its future.
        host.call_later(0.2, lambda: box["loop"].call_soon(box["fut"].set_result, "from host"))

    host = hosts.run_queue_host(start, LONG)
    assert value(host) == "from host"


def test_timers_fire_while_the_port_is_idle():
    async def main():
        t0 = time.monotonic()
        await asyncio.sleep(0.3)
        return time.monotonic() - t0

    elapsed = value(run_guest(main()))
    assert 0.25 <= elapsed < LONG


def test_host_gone_cancels_a_run_waiting_on_the_port():
    """host_gone() while the wait is in flight: the waiter is ended (a
    packet into the port), the run finishes on the host thread."""
    box = {}

    async def main():
        await asyncio.sleep(3600)

    def start(host):
        task = host.start(main())

        def gone():
            box["result"] = guestpoll.host_gone(task)
            host.done_callback(box["result"])

        host.call_later(0.2, gone)

    host = hosts.run_queue_host(start, LONG)
    assert isinstance(host.outcome, outcome.Error)
    assert isinstance(host.outcome.error, asyncio.CancelledError)


def test_host_runs_the_tick_before_the_wakeup_returns():
    """A host whose run_sync_soon_threadsafe returns only once the host
    thread ran the callable (as Tk's event_generate called from another
    thread does): the tick runs while the waiter is still inside its
    callback, and must collect the wait rather than wait for another."""

    class BlockingHost(hosts.QueueHost):
        def run_sync_soon_threadsafe(self, fn):
            if self.thread_id is None or threading.get_ident() == self.thread_id:
                return super().run_sync_soon_threadsafe(fn)
            ran = threading.Event()

            def call():
                try:
                    fn()
                finally:
                    ran.set()

            super().run_sync_soon_threadsafe(call)
            assert ran.wait(LONG), "the host did not run the tick"

    async def main():
        for _ in range(10):
            await asyncio.sleep(0.01)
        return "done"

    host = BlockingHost()
    hosts.run_queue_host(lambda h: h.start(main()), LONG, host=host)
    assert value(host) == "done"
