"""guestpoll.start_guest_run() with Trio as the host loop.

asyncio runs as a guest of ``trio.run``: ``token.run_sync_soon`` is the
thread-safe scheduler, and (in the "nts" variants) a wrapper of it that
checks it is called on the Trio thread is the not-thread-safe one.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time

import outcome
import pytest

trio = pytest.importorskip("trio")
sniffio = pytest.importorskip("sniffio")

import hosts  # noqa: E402
from hosts import guestpoll, trio_guest_run  # noqa: E402

if hosts.trio_unusable():
    print("SKIP:", hosts.trio_unusable())
    pytest.skip(hosts.trio_unusable(), allow_module_level=True)

LONG = 30.0
PROMPT = 5.0

nts_param = pytest.mark.parametrize("not_threadsafe", [True, False], ids=["nts", "ts-only"])


@pytest.fixture(autouse=True)
def _no_stray_loop_state():
    yield
    stray = hosts.clear_stray_running_loop()
    assert stray is None, f"a running loop was left behind: {stray!r}"


def test_trio_return_value_and_main_task_both_variants():
    seen = {}

    async def guest():
        seen["task"] = asyncio.current_task()
        await asyncio.sleep(0.01)
        return "from asyncio"

    async def trio_main():
        results = []
        for nts in (True, False):
            results.append(
                await trio_guest_run(
                    guest(), not_threadsafe=nts, on_start=lambda t: seen.setdefault("started", []).append(t)
                )
            )
        return results

    results = trio.run(trio_main)
    assert results == [outcome.Value("from asyncio")] * 2
    assert seen["started"][-1] is seen["task"]
    assert all(isinstance(t, asyncio.Task) for t in seen["started"])


@nts_param
def test_trio_exception(not_threadsafe):
    err = KeyError("guest")

    async def guest():
        await asyncio.sleep(0.01)
        raise err

    async def trio_main():
        return await trio_guest_run(guest(), not_threadsafe=not_threadsafe)

    result = trio.run(trio_main)
    assert isinstance(result, outcome.Error)
    assert result.error is err


@nts_param
def test_trio_ping_pong(not_threadsafe):
    nmsg = 100
    trio_log, guest_log = [], []

    async def trio_main():
        token = trio.lowlevel.current_trio_token()
        to_trio, from_guest = trio.open_memory_channel(nmsg)
        box = {}

        async def guest():
            q = asyncio.Queue()
            box["queue"] = q
            token.run_sync_soon(box["trio_ready"].set)
            for _ in range(nmsg):
                msg = await asyncio.wait_for(q.get(), LONG)
                guest_log.append(msg)
                token.run_sync_soon(to_trio.send_nowait, msg + 1)
            return "guest done"

        box["trio_ready"] = trio.Event()

        async def trio_side():
            await box["trio_ready"].wait()
            loop = box["task"].get_loop()
            q = box["queue"]
            value = 0
            for _ in range(nmsg):
                loop.call_soon(q.put_nowait, value)
                with trio.fail_after(LONG):
                    value = await from_guest.receive()
                trio_log.append(value)
                value += 1

        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio_side)
            return await trio_guest_run(
                guest(),
                not_threadsafe=not_threadsafe,
                on_start=lambda t: box.__setitem__("task", t),
            )

    result = trio.run(trio_main)
    assert result == outcome.Value("guest done")
    assert guest_log == list(range(0, 2 * nmsg, 2))
    assert trio_log == list(range(1, 2 * nmsg, 2))


@nts_param
def test_trio_cancellation_crosses_loops(not_threadsafe):
    """Trio cancels its scope; the Trio side cancels the asyncio main task;
    done_callback gets Error(CancelledError)."""
    log = []

    async def guest():
        try:
            await asyncio.sleep(LONG)
        except asyncio.CancelledError:
            log.append("asyncio main cancelled")
            await asyncio.sleep(0.01)  # cleanup across a tick
            raise

    async def trio_main():
        token = trio.lowlevel.current_trio_token()
        done = trio.Event()
        box = {}

        def done_callback(result):
            box["outcome"] = result
            done.set()

        kwargs = {}
        if not_threadsafe:
            kwargs["run_sync_soon_not_threadsafe"] = token.run_sync_soon
        t0 = time.monotonic()
        with trio.move_on_after(0.1) as scope:
            task = guestpoll.start_guest_run(
                guest(),
                run_sync_soon_threadsafe=token.run_sync_soon,
                done_callback=done_callback,
                **kwargs,
            )
            try:
                await done.wait()
            finally:
                if not done.is_set():
                    log.append("trio cancelled")
                    task.cancel()
                    with trio.CancelScope(shield=True), trio.fail_after(LONG):
                        await done.wait()
        assert scope.cancelled_caught
        return box["outcome"], time.monotonic() - t0

    result, elapsed = trio.run(trio_main)
    assert isinstance(result, outcome.Error)
    assert isinstance(result.error, asyncio.CancelledError)
    assert log == ["trio cancelled", "asyncio main cancelled"]
    assert elapsed < PROMPT


def test_trio_sniffio_and_running_loop():
    seen = {"guest": set(), "trio": set()}

    async def guest():
        box["active"] = True
        for _ in range(20):
            seen["guest"].add(sniffio.current_async_library())
            await asyncio.sleep(0.005)
        box["active"] = False  # the run is over soon after this
        return asyncio.get_running_loop()

    box = {}

    async def trio_main():
        stop = trio.Event()

        async def trio_side():
            while not stop.is_set():
                seen["trio"].add(sniffio.current_async_library())
                # Host code between ticks sees the guest loop as running.
                if box.get("active"):
                    box.setdefault("loops", set()).add(asyncio.get_running_loop())
                    box.setdefault("current", set()).add(asyncio.current_task())
                await trio.sleep(0.003)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio_side)
            result = await trio_guest_run(guest(), on_start=lambda t: box.__setitem__("task", t))
            stop.set()
        return result, box

    result, box = trio.run(trio_main)
    loop = result.unwrap()
    assert seen["guest"] == {"asyncio"}
    assert seen["trio"] == {"trio"}
    assert box["loops"] == {loop}
    assert box["current"] == {None}


def test_trio_asyncgens_stay_with_their_loop():
    """An async generator started in a Trio task between guest ticks is
    Trio's (its hooks, its finalizer); one started in the guest is
    asyncio's.  Both are left unfinished and finalized by their owner."""
    log = []

    async def agen(name):
        try:
            yield 1
            yield 2
        finally:
            try:
                lib = sniffio.current_async_library()
            except sniffio.AsyncLibraryNotFoundError:
                lib = None
            log.append((name, lib))

    async def guest():
        box["loop"] = asyncio.get_running_loop()
        g = agen("guest-agen")
        await g.__anext__()
        box["guest_agen_registered"] = g in box["loop"]._asyncgens
        box["trio_done"] = asyncio.Event()
        await asyncio.wait_for(box["trio_done"].wait(), LONG)
        del g
        gc.collect()
        for _ in range(5):
            await asyncio.sleep(0)
        return "guest"

    box = {}

    async def trio_main():
        trio_hooks = sys.get_asyncgen_hooks()

        async def trio_side():
            while "trio_done" not in box:
                await trio.sleep(0.001)
            box["hooks_in_trio_task"] = sys.get_asyncgen_hooks()
            g = agen("trio-agen")
            await g.__anext__()
            box["trio_agen_in_loop"] = g in box["loop"]._asyncgens
            del g
            gc.collect()
            for _ in range(5):
                await trio.sleep(0)
            box["loop"].call_soon(box["trio_done"].set)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio_side)
            result = await trio_guest_run(guest())
        return trio_hooks, result

    trio_hooks, result = trio.run(trio_main)
    assert result == outcome.Value("guest")
    assert box["hooks_in_trio_task"] == trio_hooks
    loop = box["loop"]
    assert box["hooks_in_trio_task"].firstiter != loop._asyncgen_firstiter_hook
    assert box["trio_agen_in_loop"] is False
    assert box["guest_agen_registered"] is True
    assert sorted(log) == [("guest-agen", "asyncio"), ("trio-agen", "trio")]


def test_trio_tcp_between_loops():
    """A Trio client talks to an asyncio server running in the guest."""
    nclients = 20

    async def handle(reader, writer):
        data = await reader.readline()
        writer.write(data.upper())
        await writer.drain()
        writer.close()

    async def guest():
        box["stop"] = asyncio.Event()
        box["loop"] = asyncio.get_running_loop()
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        async with server:
            box["port"] = server.sockets[0].getsockname()[1]
            await asyncio.wait_for(box["stop"].wait(), LONG)
        return "served"

    box = {}

    async def trio_main():
        replies = []

        async def one(i):
            stream = await trio.open_tcp_stream("127.0.0.1", box["port"])
            async with stream:
                await stream.send_all(f"msg {i}\n".encode())
                data = b""
                while not data.endswith(b"\n"):
                    chunk = await stream.receive_some(100)
                    assert chunk
                    data += chunk
                replies.append(data)

        async def trio_side():
            while "port" not in box:
                await trio.sleep(0.001)
            with trio.fail_after(LONG):
                async with trio.open_nursery() as n:
                    for i in range(nclients):
                        n.start_soon(one, i)
            box["loop"].call_soon(box["stop"].set)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio_side)
            result = await trio_guest_run(guest())
        return result, sorted(replies)

    result, replies = trio.run(trio_main)
    assert result == outcome.Value("served")
    assert replies == sorted(f"MSG {i}\n".encode() for i in range(nclients))


def test_trio_guest_wait_and_trio_sleep_overlap():
    """Both loops sleep at the same time: the waits overlap rather than
    run one after the other."""

    async def guest():
        await asyncio.sleep(0.3)
        return time.monotonic()

    async def trio_main():
        t0 = time.monotonic()
        trio_end = []

        async def trio_side():
            await trio.sleep(0.3)
            trio_end.append(time.monotonic())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio_side)
            result = await trio_guest_run(guest())
        return t0, result.unwrap(), trio_end[0]

    t0, guest_end, trio_end = trio.run(trio_main)
    assert guest_end - t0 >= 0.29 and trio_end - t0 >= 0.29
    assert max(guest_end, trio_end) - t0 < 0.3 + PROMPT / 2


def test_trio_guest_on_worker_thread():
    """trio.run (host) on a non-main thread, asyncio guest inside it."""

    async def guest():
        await asyncio.sleep(0.01)
        return threading.get_ident()

    res = {}

    def worker():
        async def trio_main():
            return await trio_guest_run(guest())

        try:
            res["outcome"] = trio.run(trio_main)
            res["thread"] = threading.get_ident()
        except BaseException as exc:  # pragma: no cover - reported below
            res["error"] = exc

    t = threading.Thread(target=worker)
    t.start()
    t.join(LONG + 10)
    assert not t.is_alive()
    assert "error" not in res, res.get("error")
    assert res["outcome"] == outcome.Value(res["thread"])


def _guest_tick_tasks():
    """The Trio system tasks guestpoll runs ticks in (see _TrioSoon)."""
    root = trio.lowlevel.current_root_task()
    return [
        t
        for n in root.child_nurseries
        for t in n.child_tasks
        if t.name == "guestpoll: asyncio guest ticks"
    ]


@nts_param
def test_trio_token_only_ticks_in_a_system_task(not_threadsafe):
    """Given only the current run's token.run_sync_soon, guestpoll runs the
    ticks it schedules from the Trio thread in a system task of its own,
    which ends with the guest run; given a not-threadsafe hook, none."""
    seen = {}

    async def guest():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        seen["wake"] = lambda: loop.call_soon(fut.set_result, "woken")
        return await fut

    async def trio_main():
        async with trio.open_nursery() as nursery:

            async def waker():
                while "wake" not in seen:
                    await trio.sleep(0.001)
                seen["during"] = len(_guest_tick_tasks())
                seen["wake"]()

            nursery.start_soon(waker)
            result = await trio_guest_run(guest(), not_threadsafe=not_threadsafe)
        await trio.testing.wait_all_tasks_blocked()
        seen["after"] = len(_guest_tick_tasks())
        return result

    import trio.testing

    assert trio.run(trio_main) == outcome.Value("woken")
    assert seen["during"] == (0 if not_threadsafe else 1)
    assert seen["after"] == 0


def test_trio_run_ends_before_its_guest():
    """trio.run returns while the guest still runs (its ticks queued in the
    system task): the run is abandoned, cancelled and finished, with a
    warning, and nothing hangs."""
    record = []

    async def guest():
        try:
            while True:
                await asyncio.sleep(0)
        except asyncio.CancelledError as exc:
            record.append(str(exc))
            raise

    async def trio_main():
        token = trio.lowlevel.current_trio_token()
        guestpoll.start_guest_run(
            guest(), run_sync_soon_threadsafe=token.run_sync_soon, done_callback=record.append
        )
        await trio.sleep(0.01)
        assert len(_guest_tick_tasks()) == 1

    with pytest.warns(RuntimeWarning, match="abandoned"):
        trio.run(trio_main)
        deadline = time.monotonic() + 10
        while not record and time.monotonic() < deadline:
            gc.collect()
            time.sleep(0.01)
    assert record == [guestpoll._guest.ABANDONED_MESSAGE]
    assert asyncio._get_running_loop() is None


@nts_param
def test_trio_busy_guest_leaves_trio_tasks_running(not_threadsafe):
    """A guest whose tasks are always ready (sleep(0) in a loop) still lets
    Trio's own tasks run all along."""
    trio_turns = []

    async def trio_main():
        async with trio.open_nursery() as nursery:

            async def ticker():
                while True:
                    trio_turns.append(time.monotonic())
                    await trio.sleep(0)

            nursery.start_soon(ticker)
            result = await trio_guest_run(hosts.busy_guest(0.3), not_threadsafe=not_threadsafe)
            nursery.cancel_scope.cancel()
        return result

    result = trio.run(trio_main)
    assert result.unwrap() > 0
    assert len(trio_turns) >= 20, len(trio_turns)
