#!/bin/sh
# Runs the pytest suite against the extension in the build tree, once per
# backend the platform has.  Called by `make check` (automake TESTS) with
# PYTHON, GP_SRCDIR and GP_BUILDDIR set; also usable by hand.
set -eu
: "${PYTHON:=python3}"
: "${GP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${GP_BUILDDIR:=$(pwd)}"

# Lay the package out as Python expects it: the sources, plus the freshly
# built extension module, in one directory on PYTHONPATH.
site="$GP_BUILDDIR/pyext/site"
rm -rf "$site"
mkdir -p "$site/guestpoll"
for f in "$GP_SRCDIR"/pyext/guestpoll/*; do
	ln -s "$f" "$site/guestpoll/"
done
so="$GP_BUILDDIR/pyext/.libs/_guestpoll.so"
[ -f "$so" ] || { echo "missing $so: build first" >&2; exit 99; }
ln -s "$so" "$site/guestpoll/_guestpoll.so"

"$PYTHON" -c 'import pytest' 2>/dev/null || {
	echo "pytest is not installed for $PYTHON; run ./dev deps" >&2
	exit 99
}

status=0
for backend in epoll poll; do
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
