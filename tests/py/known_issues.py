"""Failures that are not guestpoll's, each marked where it occurs with its
cause.  The condition of each mark is the broken state itself, checked when
the test starts, so a mark never covers a test that could pass (strict:
an unexpected pass fails the run), and the test runs normally wherever
the state is fine."""

from __future__ import annotations

import pytest

#: CPython 3.15 (lazy imports, PEP 810) once PySide6 is loaded: shiboken6
#: (6.12) replaces ``builtins.__import__`` with its own, and through it the
#: lazy ``from .thread import ThreadPoolExecutor`` of concurrent.futures is
#: never resolved: ``concurrent.futures.ThreadPoolExecutor`` stays a
#: ``lazy_import`` object, and asyncio's default executor fails with
#: "TypeError: 'lazy_import' object is not callable" on any event loop
#: (selectors.EpollSelector's as guestpoll's).  The pytest process loads
#: PySide6 when test_examples.py checks that the Qt example can run.
LAZY_EXECUTOR = pytest.mark.xfail(
    "sys.version_info >= (3, 15)"
    " and not isinstance(sys.modules['concurrent.futures'].ThreadPoolExecutor, type)",
    reason="CPython 3.15 with PySide6 loaded: concurrent.futures.ThreadPoolExecutor "
    "is an unresolved lazy_import (shiboken6's __import__ hook), so asyncio's default "
    "executor fails on every loop, the stdlib selector's too",
    strict=True,
)
