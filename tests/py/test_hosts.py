"""guestpoll.hosts (any host loop), guestpoll.trio, and
start_guest_run(async_fn, *args): behaviour, errors, the end of a run."""

from __future__ import annotations

import asyncio
import gc
import queue
import threading
import traceback

import outcome
import pytest

import hosts as testhosts  # noqa: F401  (skips the module without guestpoll)

import guestpoll
import guestpoll.hosts as gh


def pump(run: gh.GuestRun, until=None, guard: float = 30.0) -> None:
    """Drains the run's CallbackQueue until *until()* (default: the run is
    over); fails instead of hanging."""
    import time

    deadline = time.monotonic() + guard
    cond = until or (lambda: run.done)
    while not cond():
        assert time.monotonic() < deadline, "hang guard"
        run.host.wait(timeout=0.5)


# ---- guestpoll.hosts ---------------------------------------------------------


def test_run_returns_result_and_raises_error():
    async def double(x):
        await asyncio.sleep(0.01)
        return 2 * x

    async def fail():
        await asyncio.sleep(0)
        raise KeyError("boom")

    assert gh.run(double, 21) == 42
    with pytest.raises(KeyError) as info:
        gh.run(fail)
    # The traceback reaches into the coroutine.
    assert any(frame.name == "fail" for frame in traceback.extract_tb(info.value.__traceback__))


def test_hosts_runs_batch_due_iterations():
    """Runs started by guestpoll.hosts run up to hosts.TICK_ITERATIONS
    due iterations per host callback (start_guest_run runs one): a host
    callback queued by guest code runs after exactly that many steps."""
    bound = gh.TICK_ITERATIONS
    assert bound == 64
    seen = []
    steps = {"i": -1}

    async def main():
        run = gh.current_run()
        run.host.call_soon(lambda: seen.append(steps["i"]))
        for i in range(2 * bound):
            steps["i"] = i
            await asyncio.sleep(0)

    run = gh.start(main)
    with run:
        pump(run)
    assert run.result() is None
    assert seen == [bound - 1]


def test_start_game_loop_style():
    """A game loop drains the queue once a frame, without blocking."""
    frames = 0
    run = gh.start(asyncio.sleep, 0.05, "slept")
    assert isinstance(run.host, gh.CallbackQueue)
    with run:
        while not run.done:
            frames += 1
            run.host.run_pending()
            run.host.wait(timeout=0.001)  # the frame's own sleep
    assert run.result() == "slept"
    assert frames >= 1
    assert run.outcome == outcome.Value("slept")


def test_done_callbacks_and_result_before_end():
    seen = []
    run = gh.start(asyncio.sleep, 0, 7, done_callback=seen.append)
    with pytest.raises(RuntimeError, match="not over"):
        run.result()
    pump(run)
    run.add_done_callback(seen.append)  # already over: called at once
    assert seen == [outcome.Value(7), outcome.Value(7)]


def test_no_main_lasts_until_closed():
    run = gh.start()
    task = run.spawn(asyncio.sleep, 0.01, "spawned")
    pump(run, lambda: task.done())
    assert task.result() == "spawned" and not run.done
    assert run.close() == outcome.Value(None)
    assert run.result() is None
    assert run.close() is None  # over already
    with pytest.raises(RuntimeError, match="over"):
        run.spawn(asyncio.sleep, 0)


def test_close_ends_the_run_cancelling_tasks():
    cancelled = []

    async def main():
        try:
            await asyncio.sleep(100)
        except asyncio.CancelledError:
            cancelled.append("main")
            raise

    with gh.start(main) as run:
        run.host.run_pending()  # the first tick
    assert cancelled == ["main"]
    assert isinstance(run.outcome, outcome.Error)
    assert isinstance(run.outcome.error, asyncio.CancelledError)


def test_close_from_inside_asyncio_code():
    """From inside a tick the end comes right after it."""
    after = []

    async def main():
        await asyncio.sleep(0)
        assert gh.current_run().close() is None
        after.append("still running in this tick")
        await asyncio.sleep(100)

    run = gh.start(main)
    pump(run)
    assert after == ["still running in this tick"]
    assert isinstance(run.outcome.error, asyncio.CancelledError)


def test_call_soon_threadsafe_host():
    q: queue.SimpleQueue = queue.SimpleQueue()
    run = gh.start(asyncio.sleep, 0.02, "ok", call_soon_threadsafe=q.put)
    while not run.done:
        q.get(timeout=10)()
    assert run.result() == "ok"
    with pytest.raises(TypeError):
        gh.start(call_soon=q.put)
    with pytest.raises(TypeError):
        gh.start(host=gh.CallbackQueue(), call_soon_threadsafe=q.put)


def test_async_handler_fits_arguments_and_keeps_tasks():
    got = []

    @gh.async_handler
    async def no_args():
        got.append("no_args")

    @gh.async_handler
    async def one_arg(event):
        got.append(("one_arg", event))

    class Widget:
        @gh.async_handler
        async def method(self, checked):
            got.append(("method", checked))

    with pytest.raises(RuntimeError, match="no asyncio guest run"):
        no_args()
    run = gh.start()
    # Toolkits pass what their signal carries; extras are dropped.
    tasks = [no_args(True), one_arg("event", "extra"), Widget().method(False, "extra")]
    gc.collect()  # the run keeps the tasks alive
    pump(run, lambda: all(t.done() for t in tasks))
    assert got == ["no_args", ("one_arg", "event"), ("method", False)]
    run.close()


def test_spawned_task_error_goes_to_exception_handler():
    contexts = []

    async def main():
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: contexts.append(ctx))
        task = gh.current_run().spawn(fail)
        await asyncio.wait([task])

    async def fail():
        raise ValueError("lost")

    gh.run(main)
    assert len(contexts) == 1 and isinstance(contexts[0]["exception"], ValueError)


def test_call_on_host_runs_outside_the_tick():
    """A blocking host call that pumps the host (a modal dialog's nested
    loop) keeps asyncio running; its result comes back to asyncio."""
    counter = [0]
    inside = {}

    async def count():
        while True:
            await asyncio.sleep(0.001)
            counter[0] += 1

    def modal_dialog(run: gh.GuestRun, steps: int) -> str:
        # A nested loop of the host, as QDialog.exec() would run one; it
        # closes when asyncio has advanced *steps* times.
        start = counter[0]
        inside["in_tick"] = run.loop._guestpoll_run._in_tick
        pump(run, lambda: counter[0] >= start + steps)
        return f"closed after {counter[0] - start}"

    async def main():
        counter_task = asyncio.create_task(count())
        answer = await gh.call_on_host(modal_dialog, gh.current_run(), 10)
        counter_task.cancel()
        return answer

    result = gh.run(main)
    assert inside["in_tick"] is False
    assert result.startswith("closed after ") and int(result.split()[-1]) >= 10


def test_call_on_host_exception():
    def boom():
        raise OSError("host side")

    async def main():
        with pytest.raises(OSError, match="host side"):
            await gh.call_on_host(boom)
        return "caught"

    assert gh.run(main) == "caught"


def test_host_thread_other_than_main():
    box = []
    t = threading.Thread(target=lambda: box.append(gh.run(asyncio.sleep, 0.01, threading.get_ident())))
    t.start()
    t.join(30)
    assert box == [t.ident]


# ---- start_guest_run(async_fn, *args) ------------------------------------------


def _start(main, *args):
    q: queue.SimpleQueue = queue.SimpleQueue()
    box: list = []
    guestpoll.start_guest_run(main, *args, run_sync_soon_threadsafe=q.put, done_callback=box.append)
    while not box:
        q.get(timeout=10)()
    return box[0]


def test_function_form_runs():
    async def add(a, b):
        await asyncio.sleep(0)
        return a + b

    assert _start(add, 2, 3) == outcome.Value(5)
    assert _start(add(4, 5)) == outcome.Value(9)  # aioguest's form

    async def no_args():
        return "bare"

    assert _start(no_args) == outcome.Value("bare")  # CPython's proposed form



def _asyncio_run_error(obj):
    try:
        asyncio.run(obj)
    except BaseException as exc:
        return type(exc), str(exc)
    return None


@pytest.mark.parametrize(
    "obj",
    [None, 42, "text", lambda: None, asyncio.sleep, print, asyncio.sleep.__call__],
    ids=["None", "int", "str", "function", "needs-args", "builtin", "method-wrapper"],
)
def test_bad_main_errors_match_asyncio_run(obj):
    """What asyncio.run refuses, start_guest_run refuses with the same
    exception type and message."""
    expected = _asyncio_run_error(obj)
    assert expected is not None
    calls: list = []
    with pytest.raises(expected[0]) as info:
        guestpoll.start_guest_run(obj, run_sync_soon_threadsafe=calls.append, done_callback=calls.append)
    assert str(info.value) == expected[1]
    assert calls == [] and asyncio._get_running_loop() is None


def test_arguments_for_a_coroutine_object_are_refused():
    async def main():
        pass

    coro = main()
    with pytest.raises(TypeError, match="not callable"):
        guestpoll.start_guest_run(coro, 1, run_sync_soon_threadsafe=print, done_callback=print)
    assert coro.cr_frame is None  # closed: no "never awaited" warning


def test_function_raising_when_called():
    def broken(x):
        raise ZeroDivisionError(x)

    with pytest.raises(ZeroDivisionError):
        guestpoll.start_guest_run(broken, 1, run_sync_soon_threadsafe=print, done_callback=print)


# ---- the first-wake-up watch ---------------------------------------------------


def test_watch_warns_when_the_host_never_runs_the_tick(monkeypatch):
    """A host whose thread-safe hook keeps what other threads hand it but
    never runs it (as QTimer.singleShot from a thread without a Qt loop):
    the run would hang without a word; guestpoll warns."""
    from guestpoll import _watchdog

    monkeypatch.setattr(_watchdog, "FIRST_WAKEUP_TIMEOUT", 0.2)
    q: queue.SimpleQueue = queue.SimpleQueue()
    host_thread = threading.get_ident()
    warned = threading.Event()
    seen = []

    stuck = []

    def lossy(fn):
        if threading.get_ident() == host_thread:
            q.put(fn)  # only calls from the host thread arrive
        else:
            stuck.append(fn)  # kept, never run (a timer that never fires)

    def showwarning(message, category, *args, **kwargs):
        seen.append((category, str(message)))
        warned.set()

    monkeypatch.setattr("warnings.showwarning", showwarning)
    task = guestpoll.start_guest_run(asyncio.sleep(0.01), run_sync_soon_threadsafe=lossy, done_callback=print)
    q.get(timeout=10)()  # the first tick: hands its wait to the waiter
    assert warned.wait(60), "no warning within the hang guard"
    result = guestpoll.host_gone(task)
    assert isinstance(result.error, asyncio.CancelledError)
    category, message = seen[0]
    assert category is RuntimeWarning
    assert "has not run the tick handed to it 0.2 s ago" in message
    assert "run_sync_soon_threadsafe must make the host thread run fn() soon" in message


def test_watch_is_disarmed_once_the_tick_ran():
    """A host of the caller's own is watched; the watch is disarmed as soon
    as the first handed-over tick runs, and the watcher thread ends once
    nothing is armed."""
    from guestpoll import _watchdog

    q: queue.SimpleQueue = queue.SimpleQueue()
    armed = []
    real_arm = _watchdog._watcher.arm

    def arm(watch):
        armed.append(watch)
        real_arm(watch)

    _watchdog._watcher.arm = arm
    try:
        run = gh.start(asyncio.sleep, 0.01, call_soon_threadsafe=q.put)
        while not run.done:
            q.get(timeout=10)()
    finally:
        del _watchdog._watcher.arm
    assert len(armed) == 1
    assert id(armed[0]) not in _watchdog._watcher.live
    thread = _watchdog._watcher.thread
    if thread is not None:  # it lingers a second, then ends (hang guard: 60 s)
        thread.join(60)
        assert not thread.is_alive()


def test_guestpolls_own_hosts_are_not_watched():
    from guestpoll import _watchdog

    assert not _watchdog.needed(gh.CallbackQueue().call_soon_threadsafe)
    assert _watchdog.needed(queue.SimpleQueue().put)
    assert _watchdog.needed(lambda fn: None)


# ---- guestpoll.trio ----------------------------------------------------------------


def _trio(waiter_thread: bool = True):
    trio = pytest.importorskip("trio")
    if testhosts.trio_unusable():
        pytest.skip(testhosts.trio_unusable())
    if not waiter_thread and testhosts.nothread_unavailable():
        pytest.skip(testhosts.nothread_unavailable())
    return trio


# The Trio tests run on both paths: the waiter thread, and the no-thread
# path (a Trio system task waits for the poller's descriptor).
TRIO_PATHS = pytest.mark.parametrize("waiter_thread", [True, False], ids=["thread", "nothread"])


def _guest_on_path(waiter_thread: bool) -> gh.GuestRun:
    import guestpoll.trio as gt

    run = gt.guest(waiter_thread=waiter_thread)
    assert run.waiter_thread is waiter_thread
    return run


@TRIO_PATHS
def test_trio_both_directions(waiter_thread):
    trio = _trio(waiter_thread)
    import guestpoll.trio as gt

    async def trio_mul(a, b):
        await trio.sleep(0.001)
        return a * b

    async def aio_calc(a, b):
        await asyncio.sleep(0.001)
        return a + b + await gt.run_trio(trio_mul, a, b)

    async def main():
        first = _guest_on_path(waiter_thread)
        results = []
        async with trio.open_nursery() as nursery:
            for i in range(5):
                nursery.start_soon(lambda i=i: _append(results, gt.run_asyncio(aio_calc, i, i)))
        assert gt.guest() is first  # one asyncio loop per Trio run
        return sorted(results), first

    async def _append(results, coro):
        results.append(await coro)

    results, run = trio.run(main)
    assert results == [i + i + i * i for i in range(5)]
    assert run.done  # ended with the Trio run


@TRIO_PATHS
def test_trio_cancellation_crosses_both_ways(waiter_thread):
    trio = _trio(waiter_thread)
    import guestpoll.trio as gt

    log = []
    started = []
    trio_started = threading.Event()  # read from asyncio code, set in Trio

    async def aio_forever():
        started[0].set()  # a Trio event: the asyncio task runs now
        try:
            await asyncio.sleep(100)
        except asyncio.CancelledError:
            log.append("asyncio task cancelled")
            raise

    async def trio_forever():
        trio_started.set()
        try:
            await trio.sleep(100)
        except trio.Cancelled:
            log.append("trio function cancelled")
            raise

    async def aio_cancels_trio():
        running = asyncio.ensure_future(gt.run_trio(trio_forever))
        while not trio_started.is_set():  # until the Trio function runs
            await asyncio.sleep(0.001)
        running.cancel()
        try:
            await running
        except asyncio.CancelledError:
            return "asyncio caller saw CancelledError"

    async def main():
        _guest_on_path(waiter_thread)
        started.append(trio.Event())
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(gt.run_asyncio, aio_forever)
                await started[0].wait()
                scope.cancel()
        assert scope.cancelled_caught
        return await gt.run_asyncio(aio_cancels_trio)

    assert trio.run(main) == "asyncio caller saw CancelledError"
    assert log == ["asyncio task cancelled", "trio function cancelled"]


@TRIO_PATHS
def test_trio_exceptions_keep_tracebacks(waiter_thread):
    trio = _trio(waiter_thread)
    import guestpoll.trio as gt

    async def trio_fails():
        await trio.sleep(0)
        raise LookupError("from trio")

    async def aio_fails():
        await asyncio.sleep(0)
        raise KeyError("from asyncio")

    async def aio_calls_trio():
        try:
            await gt.run_trio(trio_fails)
        except LookupError as exc:
            return [f.name for f in traceback.extract_tb(exc.__traceback__)]

    async def main():
        _guest_on_path(waiter_thread)
        with pytest.raises(KeyError) as info:
            await gt.run_asyncio(aio_fails)
        names = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
        return names, await gt.run_asyncio(aio_calls_trio)

    from_asyncio, from_trio = trio.run(main)
    assert "aio_fails" in from_asyncio
    assert "trio_fails" in from_trio


@TRIO_PATHS
def test_trio_run_ending_ends_the_guest(waiter_thread):
    trio = _trio(waiter_thread)
    import guestpoll.trio as gt

    log = []

    async def background():
        try:
            await asyncio.sleep(100)
        except asyncio.CancelledError:
            log.append("cancelled at the end of the Trio run")
            raise

    async def main():
        run = _guest_on_path(waiter_thread)
        run.spawn(background)
        await trio.sleep(0.01)
        return run

    run = trio.run(main)
    assert run.done and log == ["cancelled at the end of the Trio run"]


def test_run_trio_outside_trio_guest():
    _trio()
    import guestpoll.trio as gt

    async def main():
        with pytest.raises(RuntimeError, match="run_asyncio"):
            await gt.run_trio(asyncio.sleep, 0)
        return "refused"

    assert gh.run(main) == "refused"

