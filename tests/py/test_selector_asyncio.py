"""asyncio.SelectorEventLoop(guestpoll.Selector()) runs asyncio programs.

Like test_selector.py, every test runs against selectors.EpollSelector (the
reference) and guestpoll.Selector through the ``selector_cls`` fixture.
Only 127.0.0.1 is used.
"""

import asyncio
import concurrent.futures
import os
import signal
import socket
import sys
import threading
import time

import pytest

from known_issues import LAZY_EXECUTOR


def run(main, selector_cls):
    """Run main(sel) to completion on asyncio.SelectorEventLoop(sel), with the
    asyncio.run() lifecycle; return its result. Checks that the loop really
    used sel and closed it."""
    sel = selector_cls()

    async def checked():
        loop = asyncio.get_running_loop()
        assert isinstance(loop, asyncio.SelectorEventLoop)
        assert loop._selector is sel
        return await main(sel)

    if sys.version_info >= (3, 12):
        result = asyncio.run(checked(), loop_factory=lambda: asyncio.SelectorEventLoop(sel))
    else:
        loop = asyncio.SelectorEventLoop(sel)
        try:
            asyncio.set_event_loop(loop)
            result = loop.run_until_complete(checked())
        finally:
            try:
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(
                        asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                asyncio.set_event_loop(None)
                loop.close()
    assert sel.get_map() is None, "loop.close() did not close the selector"
    return result


def test_echo_server_many_clients(selector_cls):
    n_clients = 50
    big = bytes(range(256)) * 1024  # 256 KiB: needs write readiness

    async def handle(reader, writer):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                writer.write(line)
                await writer.drain()
        finally:
            writer.close()
            await writer.wait_closed()

    async def client(port, i):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        msgs = [f"client {i} message {j}\n".encode() for j in range(5)]
        if i % 10 == 0:
            msgs.append(big.replace(b"\n", b"_") + b"\n")
        for m in msgs:
            writer.write(m)
        await writer.drain()
        got = []
        for _ in msgs:
            got.append(await reader.readuntil(b"\n"))
        writer.write_eof()
        assert await reader.read() == b""
        writer.close()
        await writer.wait_closed()
        assert got == msgs
        return i

    async def main(sel):
        server = await asyncio.start_server(handle, "127.0.0.1", 0, limit=1 << 20)
        port = server.sockets[0].getsockname()[1]
        async with server:
            done = await asyncio.wait_for(
                asyncio.gather(*(client(port, i) for i in range(n_clients))), 30)
        return done

    assert run(main, selector_cls) == list(range(n_clients))


def test_low_level_socket_api(selector_cls):
    async def main(sel):
        loop = asyncio.get_running_loop()
        with socket.create_server(("127.0.0.1", 0)) as srv:
            srv.setblocking(False)
            cli = socket.socket()
            cli.setblocking(False)
            with cli:
                _, (conn, _) = await asyncio.gather(
                    loop.sock_connect(cli, srv.getsockname()), loop.sock_accept(srv))
                with conn:
                    conn.setblocking(False)
                    payload = os.urandom(1 << 20)
                    recv = bytearray()

                    async def receive():
                        while len(recv) < len(payload):
                            chunk = await loop.sock_recv(conn, 65536)
                            assert chunk
                            recv.extend(chunk)

                    await asyncio.gather(loop.sock_sendall(cli, payload), receive())
                    assert bytes(recv) == payload
        return "ok"

    assert run(main, selector_cls) == "ok"


def test_add_reader_add_writer(selector_cls):
    async def main(sel):
        loop = asyncio.get_running_loop()
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        with a, b:
            readable = loop.create_future()
            writable = loop.create_future()
            loop.add_writer(a, lambda: writable.done() or writable.set_result("w"))
            assert await asyncio.wait_for(writable, 5) == "w"
            assert loop.remove_writer(a)
            loop.add_reader(a, lambda: readable.done() or readable.set_result(a.recv(10)))
            loop.call_later(0.05, b.send, b"hey")
            assert await asyncio.wait_for(readable, 5) == b"hey"
            assert loop.remove_reader(a)
            assert not loop.remove_reader(a)
            # reader and writer on the same fd share one registration
            hits = []
            loop.add_reader(b, hits.append, "r")
            loop.add_writer(b, hits.append, "w")
            a.send(b"x")
            await asyncio.sleep(0.05)
            loop.remove_reader(b)
            loop.remove_writer(b)
            assert "r" in hits and "w" in hits
            assert b.fileno() not in sel.get_map()
        return "ok"

    assert run(main, selector_cls) == "ok"


@pytest.mark.selector_subprocess
def test_subprocess_pipes(selector_cls):
    code = (
        "import sys\n"
        "data = sys.stdin.buffer.read()\n"
        "sys.stdout.buffer.write(data.upper())\n"
        "sys.stderr.write('to stderr')\n"
        "sys.exit(3)\n"
    )
    lines_code = (
        "import sys, time\n"
        "for i in range(5):\n"
        "    print('line', i, flush=True)\n"
        "    time.sleep(0.01)\n"
    )

    async def main(sel):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", code,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        data = b"hello guestpoll " * 20000  # > pipe buffer both ways
        out, err = await asyncio.wait_for(proc.communicate(data), 30)
        assert out == data.upper()
        assert err == b"to stderr"
        assert proc.returncode == 3

        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", lines_code, stdout=asyncio.subprocess.PIPE)
        lines = []
        async for line in proc.stdout:
            lines.append(line.decode().strip())
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        return lines

    assert run(main, selector_cls) == [f"line {i}" for i in range(5)]


def test_timers_fire_in_order_and_not_early(selector_cls):
    delays = [0.05, 0.01, 0.03, 0.0, 0.02, 0.04, 0.015]

    async def main(sel):
        loop = asyncio.get_running_loop()
        fired = []
        done = loop.create_future()
        start = loop.time()
        t0 = time.monotonic()

        def cb(delay):
            fired.append((delay, loop.time() - start, time.monotonic() - t0))
            if len(fired) == len(delays) + 1:
                done.set_result(None)

        for d in delays:
            loop.call_later(d, cb, d)
        loop.call_at(start + 0.035, cb, 0.035)
        await asyncio.wait_for(done, 10)

        t0 = time.monotonic()
        await asyncio.sleep(0.1)
        slept = time.monotonic() - t0
        return fired, slept

    fired, slept = run(main, selector_cls)
    assert [d for d, _, _ in fired] == sorted(delays + [0.035])
    for delay, at, wall in fired:
        # asyncio may run a timer up to its clock resolution early
        assert at >= delay - 1e-3, (delay, at)
        assert wall >= delay - 1e-3, (delay, wall)
        assert at < delay + 2.0
    assert 0.1 - 1e-3 <= slept < 2.1


def test_wait_for_timeout(selector_cls):
    async def main(sel):
        t0 = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.sleep(10), 0.1)
        return time.monotonic() - t0

    dt = run(main, selector_cls)
    assert 0.1 - 1e-3 <= dt < 2.1


def test_call_soon_threadsafe_wakes_loop(selector_cls):
    async def main(sel):
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        t0 = time.monotonic()
        # nothing else is scheduled: the loop sleeps in select(None) until
        # the thread's call wakes it
        t = threading.Thread(
            target=lambda: (time.sleep(0.1), loop.call_soon_threadsafe(fut.set_result, 42)))
        t.start()
        try:
            value = await asyncio.wait_for(fut, 10)
        finally:
            t.join()
        return value, time.monotonic() - t0

    value, dt = run(main, selector_cls)
    assert value == 42
    assert dt < 5.0


@LAZY_EXECUTOR
def test_run_in_executor(selector_cls):
    def blocking(x):
        time.sleep(0.05)
        return x * 2, threading.get_ident()

    async def main(sel):
        loop = asyncio.get_running_loop()
        results = await asyncio.wait_for(
            asyncio.gather(*(loop.run_in_executor(None, blocking, i) for i in range(8))), 20)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            own = await loop.run_in_executor(pool, blocking, 100)
        if sys.version_info >= (3, 9):
            thr = await asyncio.to_thread(blocking, 7)
        else:  # pragma: no cover
            thr = blocking(7)
        return results, own, thr, threading.get_ident()

    results, own, thr, main_ident = run(main, selector_cls)
    assert [r for r, _ in results] == [i * 2 for i in range(8)]
    assert all(ident != main_ident for _, ident in results)
    assert own[0] == 200 and thr[0] == 14


@pytest.mark.posix_signals
def test_signal_handler(selector_cls):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers need the main thread")

    async def main(sel):
        loop = asyncio.get_running_loop()
        got = loop.create_future()
        loop.add_signal_handler(signal.SIGUSR1, lambda: got.done() or got.set_result("sig"))
        try:
            threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGUSR1)).start()
            return await asyncio.wait_for(got, 10)
        finally:
            loop.remove_signal_handler(signal.SIGUSR1)

    assert run(main, selector_cls) == "sig"


def test_udp_echo(selector_cls):
    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data, addr):
            self.transport.sendto(data[::-1], addr)

    class Client(asyncio.DatagramProtocol):
        def __init__(self, n):
            self.n = n
            self.got = []
            self.done = asyncio.get_running_loop().create_future()

        def datagram_received(self, data, addr):
            self.got.append(data)
            if len(self.got) == self.n and not self.done.done():
                self.done.set_result(None)

    async def main(sel):
        loop = asyncio.get_running_loop()
        server, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
        addr = server.get_extra_info("sockname")
        client, proto = await loop.create_datagram_endpoint(
            lambda: Client(20), remote_addr=addr)
        try:
            for i in range(20):
                client.sendto(f"datagram {i}".encode())
            await asyncio.wait_for(proto.done, 10)
        finally:
            client.close()
            server.close()
        return sorted(proto.got)

    assert run(main, selector_cls) == sorted(f"datagram {i}".encode()[::-1] for i in range(20))


def test_many_concurrent_tasks(selector_cls):
    async def main(sel):
        loop = asyncio.get_running_loop()
        slept = []

        async def worker(i):
            delay = (i % 10) * 0.005
            t0 = loop.time()
            await asyncio.sleep(delay)
            slept.append((delay, loop.time() - t0))
            return i

        results = await asyncio.wait_for(asyncio.gather(*(worker(i) for i in range(500))), 20)
        return results, slept

    results, slept = run(main, selector_cls)
    assert results == list(range(500))
    assert len(slept) == 500
    assert all(dt >= delay - 1e-3 for delay, dt in slept)
