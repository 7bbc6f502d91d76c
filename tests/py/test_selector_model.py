"""guestpoll.Selector and selectors.EpollSelector side by side, driven by a
Hypothesis state machine over random operation sequences.

Each step does the same thing to both selectors: register / unregister /
modify / get_key / get_map / select(0), on a few slots that hold a
socketpair, addressed by the socket object, its fd number or a fresh
object with fileno(); the sockets become readable (data sent by the peer),
unwritable (send buffer filled) and writable again, are drained, have
their peer closed, and are closed and re-created so that fd numbers are
reused.  Both selectors must give the same results and raise the same
exception types, and their maps must stay equal.

Left out on purpose: modify() with an invalid event mask (EpollSelector
does not check it; see test_selector_badinput.py) and, with the poll
backend, closing a registered socket before unregistering it (poll()
knows fd numbers only, an inherent difference).

Run time is bounded: GUESTPOLL_HYPOTHESIS_EXAMPLES (default 600) examples
of at most 50 steps, about 10 s per backend; the count is printed.
"""

from __future__ import annotations

import os
import selectors
import socket
import tempfile
from typing import Any, Callable, Optional

import pytest

hypothesis = pytest.importorskip(
    "hypothesis", reason="hypothesis is not installed for this interpreter (./dev deps installs it)"
)
import hypothesis.configuration  # noqa: E402

# Hypothesis keeps caches (and, without database=None, examples) under
# ./.hypothesis: not in the build tree (make distcheck wants it clean) nor
# the source tree.  HYPOTHESIS_STORAGE_DIRECTORY chooses another place.
_USER = os.getuid() if hasattr(os, "getuid") else "win"  # Windows: a per-user temp dir
hypothesis.configuration.set_hypothesis_home_dir(
    os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY")
    or os.path.join(tempfile.gettempdir(), f"guestpoll-hypothesis-{_USER}")
)

from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import (  # noqa: E402
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

R = selectors.EVENT_READ
W = selectors.EVENT_WRITE
RW = R | W

NSLOTS = 4
EXAMPLES = int(os.environ.get("GUESTPOLL_HYPOTHESIS_EXAMPLES", "600"))
STEPS = 50


class FileLike:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        return self.fd

    def __repr__(self) -> str:
        return f"FileLike({self.fd})"


def outcome(fn: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(*args)
    except Exception as exc:  # noqa: BLE001 - the type is compared
        return "raised", type(exc)


def key_tuple(key: Any) -> Any:
    if not isinstance(key, selectors.SelectorKey):
        return key
    return (id(key.fileobj), key.fd, key.events, key.data)


def comparable(result: tuple[str, Any]) -> Any:
    kind, value = result
    return kind, key_tuple(value)


stats = {"examples": 0, "steps": 0}


def make_machine(guestpoll_mod: Any, backend: str) -> type:
    class SelectorPair(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            stats["examples"] += 1
            self.ref = selectors.EpollSelector()
            self.gp = guestpoll_mod.Selector()
            # slot -> [a, b] (a is what gets registered; b its peer, or None
            # once closed); None: nothing open in that slot.
            self.slots: list[Optional[list[Any]]] = [None] * NSLOTS
            self.closed_registered: list[Any] = []

        def teardown(self) -> None:
            self.ref.close()
            self.gp.close()
            for pair in self.slots:
                if pair is not None:
                    for s in pair:
                        if s is not None:
                            s.close()

        # ---- helpers -------------------------------------------------

        def both(self, name: str, *args: Any) -> tuple[str, Any]:
            stats["steps"] += 1
            r = outcome(getattr(self.ref, name), *args)
            g = outcome(getattr(self.gp, name), *args)
            assert comparable(r) == comparable(g), (name, args, r, g)
            return g

        def obj(self, slot: int, how: str) -> Any:
            pair = self.slots[slot]
            if pair is None:
                return None
            a = pair[0]
            if how == "socket":
                return a
            if how == "fd":
                return a.fileno()
            return FileLike(a.fileno())

        # ---- sockets ---------------------------------------------------

        @rule(slot=st.integers(0, NSLOTS - 1))
        def open_pair(self, slot: int) -> None:
            """(Re)creates the slot's socketpair; the old one is unregistered
            from both selectors first, then closed, so its fd numbers are
            free for the new pair."""
            old = self.slots[slot]
            if old is not None:
                self.both("unregister", old[0])  # KeyError if it was not
                for s in old:
                    if s is not None:
                        s.close()
            a, b = socket.socketpair()
            a.setblocking(False)
            b.setblocking(False)
            self.slots[slot] = [a, b]

        @precondition(lambda self: backend == "epoll")
        @rule(slot=st.integers(0, NSLOTS - 1))
        def close_registered(self, slot: int) -> None:
            """epoll only: the socket is closed while still registered;
            it stays in both maps (found by identity) until unregistered."""
            pair = self.slots[slot]
            if pair is None:
                return
            self.slots[slot] = None
            pair[0].close()
            if pair[1] is not None:
                pair[1].close()
            self.closed_registered.append(pair[0])

        @rule(data=st.data())
        def unregister_closed(self, data: Any) -> None:
            if not self.closed_registered:
                return
            a = data.draw(st.sampled_from(self.closed_registered))
            self.closed_registered.remove(a)
            for name in ("get_key", "unregister", "get_key"):
                self.both(name, a)

        @rule(slot=st.integers(0, NSLOTS - 1), n=st.integers(1, 4096))
        def peer_sends(self, slot: int, n: int) -> None:
            pair = self.slots[slot]
            if pair is not None and pair[1] is not None:
                try:
                    pair[1].send(b"x" * n)
                except BlockingIOError:
                    pass

        @rule(slot=st.integers(0, NSLOTS - 1))
        def drain(self, slot: int) -> None:
            pair = self.slots[slot]
            if pair is None:
                return
            for s in pair:
                if s is None:
                    continue
                try:
                    while s.recv(1 << 16):
                        pass
                except (BlockingIOError, ConnectionResetError):
                    pass

        @rule(slot=st.integers(0, NSLOTS - 1))
        def fill(self, slot: int) -> None:
            """Fills a's send buffer: a is no longer writable."""
            pair = self.slots[slot]
            if pair is None or pair[1] is None:
                return
            try:
                while True:
                    pair[0].send(b"y" * 65536)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                pass

        @rule(slot=st.integers(0, NSLOTS - 1))
        def close_peer(self, slot: int) -> None:
            pair = self.slots[slot]
            if pair is not None and pair[1] is not None:
                pair[1].close()
                pair[1] = None

        # ---- the selectors API --------------------------------------

        @rule(
            slot=st.integers(0, NSLOTS - 1),
            how=st.sampled_from(["socket", "fd", "filelike"]),
            events=st.one_of(
                st.sampled_from([R, W, RW]),
                st.sampled_from([0, 4, -1, 1 << 40, None, True, False, 1.5, "1"]),
            ),
            data=st.one_of(st.none(), st.integers(-3, 3), st.text(max_size=3)),
        )
        def register(self, slot: int, how: str, events: Any, data: Any) -> None:
            obj = self.obj(slot, how)
            if obj is not None:
                self.both("register", obj, events, data)

        @rule(slot=st.integers(0, NSLOTS - 1), how=st.sampled_from(["socket", "fd", "filelike"]))
        def unregister(self, slot: int, how: str) -> None:
            obj = self.obj(slot, how)
            if obj is not None:
                self.both("unregister", obj)

        @rule(
            slot=st.integers(0, NSLOTS - 1),
            how=st.sampled_from(["socket", "fd", "filelike"]),
            events=st.sampled_from([R, W, RW]),
            data=st.one_of(st.none(), st.integers(-3, 3)),
        )
        def modify(self, slot: int, how: str, events: int, data: Any) -> None:
            obj = self.obj(slot, how)
            if obj is not None:
                self.both("modify", obj, events, data)

        @rule(slot=st.integers(0, NSLOTS - 1), how=st.sampled_from(["socket", "fd", "filelike"]))
        def get_key(self, slot: int, how: str) -> None:
            obj = self.obj(slot, how)
            if obj is not None:
                self.both("get_key", obj)

        @rule(fd=st.one_of(st.integers(-5, 2000), st.sampled_from([2**31, 2**63, -(2**63)])))
        def lookup_any_number(self, fd: int) -> None:
            self.both("get_key", fd)
            self.both("unregister", fd)

        @rule()
        def select0(self) -> None:
            stats["steps"] += 1
            r = sorted((k.fd, ev, key_tuple(k)) for k, ev in self.ref.select(0))
            g = sorted((k.fd, ev, key_tuple(k)) for k, ev in self.gp.select(0))
            assert r == g

        @invariant()
        def maps_equal(self) -> None:
            rm, gm = self.ref.get_map(), self.gp.get_map()
            assert len(rm) == len(gm)
            assert {fd: key_tuple(k) for fd, k in rm.items()} == {
                fd: key_tuple(k) for fd, k in gm.items()
            }
            assert sorted(rm) == sorted(gm)
            for pair in self.slots:
                if pair is not None:
                    assert (pair[0] in rm) == (pair[0] in gm)

    return SelectorPair


def test_selector_matches_epollselector(guestpoll, capsys):
    if not hasattr(selectors, "EpollSelector"):
        pytest.skip("no selectors.EpollSelector to compare with")
    with guestpoll.Selector() as probe:
        backend = probe.backend
    machine = make_machine(guestpoll, backend)
    stats["examples"] = stats["steps"] = 0
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    with capsys.disabled():
        print(
            f"\n[hypothesis] guestpoll ({backend}) vs EpollSelector: "
            f"{stats['examples']} examples, {stats['steps']} compared calls"
        )
    assert stats["examples"] >= min(EXAMPLES, 50)
