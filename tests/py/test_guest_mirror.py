"""The CPython pieces guestpoll's guest life cycle mirrors have not changed.

guestpoll/_runner.py lists (MIRRORED) the asyncio functions whose behaviour
the guest reproduces step by step (asyncio.run, asyncio.Runner, the
loop's run_until_complete/run_forever, ...).  This test fails when the
running interpreter's source of any of them differs from the version the
mirror was last checked against: read what changed, bring _runner.py and
_guest.py in line, then record the new digests printed by the failure.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import sys
import textwrap

import pytest

from hosts import guestpoll  # noqa: F401  (skips without guestpoll)

from guestpoll import _runner

CHECKED = {
    # checked against CPython 3.10.13
    (3, 10): {
        'asyncio.runners:run': '7e6a9adc0f1b2e23',
        'asyncio.runners:_cancel_all_tasks': 'a217fa877b04e831',
        'asyncio.runners:Runner.run': None,
        'asyncio.runners:Runner.close': None,
        'asyncio.runners:Runner._lazy_init': None,
        'asyncio.runners:Runner._on_sigint': None,
        'asyncio.base_events:BaseEventLoop.run_until_complete': 'd3e623f8c1d46f9a',
        'asyncio.base_events:BaseEventLoop.run_forever': 'c4809c0dd79b591d',
        'asyncio.base_events:BaseEventLoop._run_forever_setup': None,
        'asyncio.base_events:BaseEventLoop._run_forever_cleanup': None,
        'asyncio.base_events:_run_until_complete_cb': 'ccd2de9ff9c5b958',
        'asyncio.coroutines:iscoroutine': '30de685d01022c0c',
    },
    # checked against CPython 3.11.7
    (3, 11): {
        'asyncio.runners:run': 'e95032235870b8b4',
        'asyncio.runners:_cancel_all_tasks': 'a217fa877b04e831',
        'asyncio.runners:Runner.run': '1ee742981b1fbce4',
        'asyncio.runners:Runner.close': 'dcf0d1d55939cd45',
        'asyncio.runners:Runner._lazy_init': '2d5f6160236344d7',
        'asyncio.runners:Runner._on_sigint': '03fdb9f20e9dbd97',
        'asyncio.base_events:BaseEventLoop.run_until_complete': 'd3e623f8c1d46f9a',
        'asyncio.base_events:BaseEventLoop.run_forever': 'c4809c0dd79b591d',
        'asyncio.base_events:BaseEventLoop._run_forever_setup': None,
        'asyncio.base_events:BaseEventLoop._run_forever_cleanup': None,
        'asyncio.base_events:_run_until_complete_cb': 'ccd2de9ff9c5b958',
        'asyncio.coroutines:iscoroutine': '30de685d01022c0c',
    },
    # checked against CPython 3.12.1
    (3, 12): {
        'asyncio.runners:run': '1d6f76b5598da653',
        'asyncio.runners:_cancel_all_tasks': 'a217fa877b04e831',
        'asyncio.runners:Runner.run': '1ee742981b1fbce4',
        'asyncio.runners:Runner.close': 'aa0b834a45b31015',
        'asyncio.runners:Runner._lazy_init': '2d5f6160236344d7',
        'asyncio.runners:Runner._on_sigint': '03fdb9f20e9dbd97',
        'asyncio.base_events:BaseEventLoop.run_until_complete': 'd3e623f8c1d46f9a',
        'asyncio.base_events:BaseEventLoop.run_forever': 'c4809c0dd79b591d',
        'asyncio.base_events:BaseEventLoop._run_forever_setup': None,
        'asyncio.base_events:BaseEventLoop._run_forever_cleanup': None,
        'asyncio.base_events:_run_until_complete_cb': 'ccd2de9ff9c5b958',
        'asyncio.coroutines:iscoroutine': '30de685d01022c0c',
    },
    # checked against CPython 3.13.0; 3.13.2 (the Windows build the Wine
    # stage runs) added one docstring line to run()
    (3, 13): {
        'asyncio.runners:run': ('1d6f76b5598da653', '6e2b44864d0f2201'),
        'asyncio.runners:_cancel_all_tasks': 'a217fa877b04e831',
        'asyncio.runners:Runner.run': '1ee742981b1fbce4',
        'asyncio.runners:Runner.close': 'aa0b834a45b31015',
        'asyncio.runners:Runner._lazy_init': '2d5f6160236344d7',
        'asyncio.runners:Runner._on_sigint': '03fdb9f20e9dbd97',
        'asyncio.base_events:BaseEventLoop.run_until_complete': 'd3e623f8c1d46f9a',
        'asyncio.base_events:BaseEventLoop.run_forever': 'dae051b79b3c3273',
        'asyncio.base_events:BaseEventLoop._run_forever_setup': '0d27658bcfac2b38',
        'asyncio.base_events:BaseEventLoop._run_forever_cleanup': '1046ea35a9b1260b',
        'asyncio.base_events:_run_until_complete_cb': 'ccd2de9ff9c5b958',
        'asyncio.coroutines:iscoroutine': '30de685d01022c0c',
    },
    # checked against CPython 3.14.10 (Debian sid): Runner.run takes any
    # awaitable and checks coro after _lazy_init (_runner.accept_main asks
    # it, whatever the order); run_forever calls _run_forever_setup outside
    # its try, as the guest does
    (3, 14): {
        'asyncio.runners:run': '6e2b44864d0f2201',
        'asyncio.runners:_cancel_all_tasks': 'a217fa877b04e831',
        'asyncio.runners:Runner.run': '46550fd97dda6c05',
        'asyncio.runners:Runner.close': 'aa0b834a45b31015',
        'asyncio.runners:Runner._lazy_init': '2d5f6160236344d7',
        'asyncio.runners:Runner._on_sigint': '03fdb9f20e9dbd97',
        'asyncio.base_events:BaseEventLoop.run_until_complete': 'd3e623f8c1d46f9a',
        'asyncio.base_events:BaseEventLoop.run_forever': '6c53609b58611ea0',
        'asyncio.base_events:BaseEventLoop._run_forever_setup': '0c8c5218e2efcba5',
        'asyncio.base_events:BaseEventLoop._run_forever_cleanup': '798ea7cd9827c584',
        'asyncio.base_events:_run_until_complete_cb': 'ccd2de9ff9c5b958',
        'asyncio.coroutines:iscoroutine': '30de685d01022c0c',
    },
}
# checked against CPython 3.15.2 (Debian sid): the same as 3.14
CHECKED[(3, 15)] = CHECKED[(3, 14)]


def digest(spec):
    module, qualname = spec.split(":")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None  # absent on this interpreter
    source = textwrap.dedent(inspect.getsource(obj))
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def test_mirrored_asyncio_pieces_unchanged():
    now = {spec: digest(spec) for spec in _runner.MIRRORED}
    version = sys.version_info[:2]
    if version not in CHECKED:
        pytest.fail(
            f"guestpoll's asyncio mirror was never checked against CPython "
            f"{sys.version.split()[0]}: review guestpoll/_runner.py, then record {now!r}"
        )
    def accepted(k, v):
        known = CHECKED[version].get(k)
        return v in known if isinstance(known, tuple) else v == known

    changed = {k: (CHECKED[version].get(k), v) for k, v in now.items() if not accepted(k, v)}
    assert not changed, (
        f"asyncio pieces mirrored by guestpoll changed in CPython {sys.version.split()[0]} "
        f"(recorded, now): {changed}"
    )
