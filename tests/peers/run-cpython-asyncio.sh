#!/bin/sh
# Runs CPython's own test_asyncio and test_selectors (the interpreter's
# test package) with guestpoll.Selector as selectors.DefaultSelector, on
# every backend: asyncio's selector loops then run over guestpoll's
# selector, and the interpreter's selector tests test it.  Skips (77),
# saying why, where the interpreter has no test package (Debian ships it
# apart, as libpythonX.Y-testsuite).  Same variables as
# tests/py/run-pytest.sh: PYTHON, GP_SRCDIR, GP_BUILDDIR; GP_PEER_BACKENDS.
set -eu
: "${PYTHON:=python3}"
: "${GP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${GP_BUILDDIR:=$(pwd)}"

site=$(sh "$GP_SRCDIR/pyext/mksite.sh" "$GP_SRCDIR" "$GP_BUILDDIR")
"$PYTHON" -c 'import test.test_asyncio, test.test_selectors' 2>/dev/null || {
	echo "SKIP: $PYTHON has no test package (CPython's own tests; Debian: libpythonX.Y-testsuite)"
	exit 77
}
pp="$GP_SRCDIR/tests/peers/cpython:$site"
rc=0 ran=0
for backend in ${GP_PEER_BACKENDS:-epoll kqueue poll}; do
	PYTHONPATH="$site" GUESTPOLL_BACKEND=$backend "$PYTHON" -c \
		'import guestpoll; guestpoll.Selector().close()' 2>/dev/null || continue
	ran=$((ran + 1))
	PYTHONPATH="$pp" GUESTPOLL_BACKEND=$backend "$PYTHON" -c '
import asyncio, selectors, guestpoll
assert selectors.DefaultSelector is guestpoll.Selector
loop = asyncio.new_event_loop()
assert type(loop._selector) is guestpoll.Selector, loop._selector
loop.close()'
	echo "=== CPython's test_asyncio and test_selectors over guestpoll.Selector, backend $backend"
	# SIGINT back to its default first: a shell ignores it in the commands
	# it starts in the background (CI runs so), Python then leaves it
	# ignored, and test_runners' Ctrl-C tests wait forever for it, over
	# any selector.
	(cd "${TMPDIR:-/tmp}" && PYTHONPATH="$pp" GUESTPOLL_BACKEND=$backend GUESTPOLL_REQUIRE=1 \
		"$PYTHON" -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.executable, [sys.executable] + sys.argv[1:])' \
		-m test -j2 test_asyncio test_selectors) || rc=1
done
[ $ran -gt 0 ] || {
	echo "none of the backends ${GP_PEER_BACKENDS:-epoll kqueue poll} works: does guestpoll import?" >&2
	exit 1
}
exit $rc
