"""Imported at start-up by every interpreter run-cpython-asyncio.sh starts
(this folder is first on PYTHONPATH): guestpoll's Selector becomes the
default selector, so asyncio's selector loops, and CPython's own tests of
them and of selectors.DefaultSelector, run over it."""

import selectors

import guestpoll

selectors.DefaultSelector = guestpoll.Selector  # type: ignore[misc]
