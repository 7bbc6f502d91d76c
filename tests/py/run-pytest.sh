#!/bin/sh
# Runs the pytest suite against the extension in the build tree, once per
# backend the platform has.  Called by `make check` (automake TESTS) with
# PYTHON, GP_SRCDIR and GP_BUILDDIR set; also usable by hand.
set -eu
: "${PYTHON:=python3}"
: "${GP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${GP_BUILDDIR:=$(pwd)}"

site=$(sh "$GP_SRCDIR/pyext/mksite.sh" "$GP_SRCDIR" "$GP_BUILDDIR")

"$PYTHON" -c 'import pytest' 2>/dev/null || {
	echo "pytest is not installed for $PYTHON; run ./dev deps" >&2
	exit 99
}

status=0
for backend in epoll kqueue poll; do
	if ! PYTHONPATH="$site" GUESTPOLL_BACKEND=$backend "$PYTHON" -c \
		'import guestpoll; guestpoll.Selector().close()' 2>/dev/null; then
		echo "backend $backend: not available on this platform, skipped"
		continue
	fi
	echo "=== pytest, $("$PYTHON" -c 'import sys; print(sys.version.split()[0])'), backend $backend"
	PYTHONPATH="$site" GUESTPOLL_BACKEND=$backend GUESTPOLL_REQUIRE=1 \
		"$PYTHON" -m pytest -p no:cacheprovider -q "$GP_SRCDIR/tests/py" ||
		status=1
done
exit $status
