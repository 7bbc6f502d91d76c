"""pytest plugin for run-aioguest-suite.sh: the tests of aioguest's own
suite where guestpoll differs on purpose, and those that fail in this
environment whatever implements start_guest_run (a newer Trio), are
marked as expected failures (strict: one that starts passing fails the
run), each with the reason, which pytest prints (-rx)."""

from __future__ import annotations

import pytest

DIVERGENCES = {
    "test_errors": (
        "expects a selector loop over SelectSelector to be refused (aioguest's "
        "worker thread needs a thread-safe selector); guestpoll replaces any "
        "selector loop's selector with its own and runs it "
        "(tests/py/test_guest.py::test_loop_factory_selector_event_loop)"
    ),
    "test_guest_mode_internal_errors": (
        "its third case patches selectors.DefaultSelector.select, which "
        "aioguest's worker thread calls; guestpoll's wait is libguestpoll's "
        "(the loop's selector is a guestpoll.Selector), so the patch is never "
        "called and no error comes (the first two cases pass)"
    ),
}


def _trio_nurseries_strict() -> bool:
    """Whether Trio's nurseries raise ExceptionGroups by default (Trio >=
    0.25); aioguest's Trio tests were written before that."""
    import inspect

    import trio

    param = inspect.signature(trio.run).parameters.get("strict_exception_groups")
    return param is not None and param.default is True


# Tests that fail here whatever implements start_guest_run, because the
# environment changed under them.
ENVIRONMENT = {
    "test_aio_in_trio_cancellation": (
        _trio_nurseries_strict,
        "expects RuntimeError('whoops') out of a Trio nursery, which this Trio "
        "(>= 0.25, strict_exception_groups) wraps in an ExceptionGroup",
    ),
}


def pytest_configure(config: pytest.Config) -> None:
    import aioguest

    import guestpoll

    if aioguest.start_guest_run is not guestpoll.start_guest_run:
        raise pytest.UsageError(f"aioguest is not guestpoll's stand-in here: {aioguest.__file__}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    seen = set()
    for item in items:
        reason = DIVERGENCES.get(item.name)
        if reason is not None:
            seen.add(item.name)
            item.add_marker(pytest.mark.xfail(reason=f"guestpoll differs: {reason}", strict=True))
        env = ENVIRONMENT.get(item.name)
        if env is not None and env[0]():
            item.add_marker(pytest.mark.xfail(reason=f"not guestpoll's: {env[1]}", strict=True))
    missing = set(DIVERGENCES) - seen
    if missing:
        raise pytest.UsageError(f"aioguest's suite no longer has {sorted(missing)}")
