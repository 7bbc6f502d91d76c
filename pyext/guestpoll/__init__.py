"""guestpoll: asyncio's selector over libguestpoll, for running asyncio
inside another event loop.

``guestpoll.Selector`` is a :class:`selectors.BaseSelector` implemented in C
over libguestpoll (epoll on Linux, kqueue on the BSDs and macOS, poll()
elsewhere).  It is a drop-in for :class:`selectors.EpollSelector`::

    loop = asyncio.SelectorEventLoop(guestpoll.Selector())

Its kernel wait can also run on libguestpoll's own waiter thread, which is
what :func:`start_guest_run` builds on: it runs ``asyncio.run(coro)`` as a
guest inside another event loop (Trio, Qt, Tk, GLib, ...), with the same
signature and behaviour as ``aioguest.start_guest_run``.

One call per toolkit, on top of it: :mod:`guestpoll.qt` (PySide6, PyQt6),
:mod:`guestpoll.tk`, :mod:`guestpoll.glib` (PyGObject), :mod:`guestpoll.trio`,
and :mod:`guestpoll.hosts` for any other loop (a game loop, a queue).
"""

from __future__ import annotations

import abc
import selectors
from collections.abc import Iterator, Mapping
from typing import Any

from ._guestpoll import Selector as _CSelector
from ._guestpoll import libguestpoll_version

__all__ = ["Selector", "host_gone", "libguestpoll_version", "start_guest_run"]

#: The package's version: the version of the libguestpoll it is built from
#: (one number for both, kept in include/guestpoll.h).
__version__ = libguestpoll_version


class _SelectorMapping(Mapping):
    """Read-only mapping of registered file objects to their keys."""

    __slots__ = ("_selector",)

    def __init__(self, selector: Selector) -> None:
        self._selector = selector

    def __len__(self) -> int:
        return len(self._selector._fd_to_key)

    def __getitem__(self, fileobj: selectors._FileObject) -> selectors.SelectorKey:
        # As selectors' mapping: KeyError when not registered (also once
        # the selector is closed); fileno()'s own errors propagate.
        return self._selector._map_getitem(fileobj)

    def __iter__(self) -> Iterator[int]:
        return iter(self._selector._fd_to_key)


class _FilenoWhereThereIsOne:
    """``Selector.fileno``: the method where the backend has a descriptor
    (epoll, kqueue); where it has none (poll, iocp), no such attribute, as
    :class:`selectors.PollSelector` and ``SelectSelector`` have none, so
    ``hasattr(sel, "fileno")`` tells (CPython's own selector tests ask so).
    Not a data descriptor: an instance attribute still shadows it."""

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        method = _CSelector.fileno
        if obj is None:
            return method
        backend = obj.backend
        if backend == "poll" or backend == "iocp":
            raise AttributeError(
                f"'Selector' object has no attribute 'fileno' (the {backend} backend has no descriptor)"
            )
        return method.__get__(obj, objtype)


class Selector(_CSelector):
    """A :class:`selectors.BaseSelector` over libguestpoll.

    *backend* is ``"epoll"``, ``"kqueue"``, ``"iocp"`` or ``"poll"``; by
    default the ``GUESTPOLL_BACKEND`` environment variable decides, else the
    best backend of the platform.  The attribute :attr:`backend` names the
    one in use.

    Registration methods may be called from any thread, also while another
    thread is blocked in :meth:`select`; a descriptor registered then is seen
    by that wait.  One :meth:`select` call returns every ready registration,
    as :class:`selectors.EpollSelector` does.
    """

    __slots__ = ()

    fileno = _FilenoWhereThereIsOne()

    def get_map(self) -> Mapping[selectors._FileObject, selectors.SelectorKey] | None:
        """Return a read-only mapping of file objects to keys, or None
        once the selector is closed."""
        if self.closed:
            return None
        return _SelectorMapping(self)


# BaseSelector.register is the selector method, so call ABCMeta's directly.
abc.ABCMeta.register(selectors.BaseSelector, Selector)

from ._guest import host_gone, start_guest_run  # noqa: E402  (needs Selector above)
