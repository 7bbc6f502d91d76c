"""Parity with asyncio.run / asyncio.Runner on the same interpreter
(issue 13, items 3, 6 and 14), compared side by side where possible."""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
import queue
import signal
import sys
import threading
import types

import pytest

import hosts
from hosts import QueueHost, guestpoll

HANG_GUARD = 30.0


# ------------------------------------------------------ item 6: what runs


async def _coro():
    return "coro"


@types.coroutine
def _types_coroutine():
    yield from ()
    return "types.coroutine"


def _plain_generator():
    yield 1


class _Awaitable:
    def __await__(self):
        return (yield from asyncio.sleep(0, "awaitable").__await__())


INPUTS = {
    "coroutine": _coro,
    "types.coroutine": _types_coroutine,
    "plain generator": _plain_generator,
    "awaitable": _Awaitable,
    "int": lambda: 42,
    "None": lambda: None,
}
# An async function alone is not in INPUTS: asyncio.run refuses it, and
# start_guest_run runs it (CPython's proposed start_guest_run(async_fn,
# *args) form; test_hosts.py::test_function_form_runs).


def _result_of(fn):
    try:
        return ("value", fn())
    except BaseException as exc:  # the type and the message are compared
        # (up to the repr of the refused object, which holds its address):
        # refused at the start and failed in the run differ in the message.
        return ("error", type(exc), str(exc).split(", got ")[0])


def _asyncio_run(main):
    return _result_of(lambda: asyncio.run(main))


def _guest_run(main):
    def run():
        host = hosts.run_guest(main)
        return host.outcome.unwrap()

    return _result_of(run)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # never-awaited coroutines
@pytest.mark.parametrize("kind", INPUTS)
def test_main_accepted_and_refused_as_asyncio_run_does(kind):
    assert _guest_run(INPUTS[kind]()) == _asyncio_run(INPUTS[kind]())


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.skipif(not hasattr(asyncio, "Runner"), reason="asyncio.Runner is 3.11+")
@pytest.mark.parametrize("kind", INPUTS)
def test_main_check_is_the_interpreters_own(kind, monkeypatch):
    """start_guest_run asks this interpreter's asyncio.Runner.run what it
    accepts: given Runner.run with CPython 3.14's rule (any awaitable runs,
    anything else is a TypeError, checked after the loop is made), it
    follows that rule too."""
    original = asyncio.Runner.run

    def run_314(self, coro, *, context=None):
        self._lazy_init()  # 3.14 makes the loop before it checks coro
        if not asyncio.iscoroutine(coro):
            if not inspect.isawaitable(coro):
                raise TypeError("An asyncio.Future, a coroutine or an awaitable is required")

            async def wrapped(awaitable):
                return await awaitable

            coro = wrapped(coro)
        return original(self, coro, context=context)

    monkeypatch.setattr(asyncio.Runner, "run", run_314)
    expected = _asyncio_run(INPUTS[kind]())
    assert _guest_run(INPUTS[kind]()) == expected
    if kind in ("types.coroutine", "awaitable"):
        assert expected[0] == "value"
    if kind == "int":
        assert expected[:2] == ("error", TypeError)


# ---------------------------------------------- item 14: ticks on the wrong thread


def test_tick_on_the_wrong_thread_says_so_and_leaves_nothing_behind(default_sigint):
    """A host whose run_sync_soon hooks run fn() on another thread than
    the one that started the run (documented misuse): that thread gets a
    RuntimeError that names the problem; the run is finished on its host
    (main) thread, leaving no running loop and no SIGINT handler there."""
    assert threading.current_thread() is threading.main_thread()
    errors = []
    ran = threading.Event()
    log = []

    def wrong_thread(fn):
        def body():
            try:
                fn()
            except BaseException as exc:
                errors.append(exc)
            finally:
                ran.set()

        threading.Thread(target=body).start()

    async def main():
        log.append("main ran")
        await asyncio.sleep(0)

    sigint_before = signal.getsignal(signal.SIGINT)
    with pytest.warns(RuntimeWarning, match="abandoned"):
        guestpoll.start_guest_run(
            main(), run_sync_soon_threadsafe=wrong_thread, done_callback=log.append
        )
        assert ran.wait(HANG_GUARD)
        # The run is finished on the main thread at its next bytecodes.
        for _ in range(1000):
            if asyncio._get_running_loop() is None:
                break
            threading.Event().wait(0.01)
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError), errors
    assert "thread" in str(errors[0]) and "host thread" in str(errors[0])
    assert asyncio._get_running_loop() is None
    assert signal.getsignal(signal.SIGINT) is sigint_before
    assert "main ran" not in log  # nothing ran on the wrong thread


# -------------------------------- item 3: the host's async generators


@pytest.mark.parametrize("cleanup", ["awaits", "returns"])
def test_host_asyncgen_finalized_while_the_guest_runs(cleanup, monkeypatch):
    """Host code with no asyncgen hooks of its own starts an async
    generator while a guest runs, then drops it.  Its cleanup awaiting
    something is reported as aioguest reports it ("awaited something
    during finalization"), not as "ignored GeneratorExit"; a cleanup that
    just returns runs quietly."""
    assert sys.get_asyncgen_hooks() == (None, None)
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: unraisable.append(str(u.exc_value)))
    log = []

    async def host_agen():
        try:
            yield 1
        finally:
            log.append("cleanup")
            if cleanup == "awaits":
                await asyncio.sleep(0)

    def start(host):
        async def main():
            await asyncio.sleep(0)
            host.call_soon(host_code)
            await asyncio.sleep(0.01)
            return "ok"

        def host_code():
            g = host_agen()
            with pytest.raises(StopIteration):
                g.asend(None).send(None)
            del g
            gc.collect()
            log.append("dropped")

        host.start(main())

    host = hosts.run_queue_host(start)
    assert host.outcome.unwrap() == "ok"
    assert log == ["cleanup", "dropped"]
    if cleanup == "awaits":
        assert len(unraisable) == 1 and "awaited something during finalization" in unraisable[0], unraisable
    else:
        assert unraisable == []
    assert sys.get_asyncgen_hooks() == (None, None)  # the host's (none) again


# ------------------------------------------- item 14: a second Ctrl-C


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.Runner's Ctrl-C rule is 3.11+")
@pytest.mark.parametrize("runner", ["asyncio.run", "guest"])
def test_second_ctrl_c_tears_the_run_down_before_the_host_sees_it(runner, default_sigint):
    """The first Ctrl-C cancels the main task; the second raises
    KeyboardInterrupt, which reaches the caller only once the run is torn
    down (other tasks cancelled, loop closed, SIGINT handler back), as
    with asyncio.Runner.  As a guest the second one arrives in host code."""
    assert threading.current_thread() is threading.main_thread()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    record = []
    box = {}

    async def other():
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            record.append("other cancelled")
            raise

    async def main(second_ctrl_c):
        box["loop"] = asyncio.get_running_loop()
        asyncio.create_task(other())
        await asyncio.sleep(0)
        signal.raise_signal(signal.SIGINT)  # the first Ctrl-C
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            record.append("main cancelled")
        second_ctrl_c()
        await asyncio.Event().wait()  # takes its time: only Ctrl-C ends it

    with pytest.raises(KeyboardInterrupt):
        try:
            if runner == "asyncio.run":
                asyncio.run(main(lambda: signal.raise_signal(signal.SIGINT)))
            else:
                hostbox = {}

                def start(host):
                    hostbox["host"] = host
                    host.start(main(lambda: host.call_soon(signal.raise_signal, signal.SIGINT)))

                try:
                    hosts.run_queue_host(start)
                finally:
                    box["outcome"] = hostbox["host"].outcome
        finally:
            # Seen where the KeyboardInterrupt arrives:
            box["record"] = list(record)
            box["closed"] = box["loop"].is_closed()
            box["handler"] = signal.getsignal(signal.SIGINT)
            box["running"] = asyncio._get_running_loop()
    assert box["record"] == ["main cancelled", "other cancelled"]
    assert box["closed"]
    assert box["handler"] is signal.default_int_handler
    assert box["running"] is None
    if runner == "guest":
        assert isinstance(box["outcome"].error, KeyboardInterrupt)
