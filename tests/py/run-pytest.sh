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

# The backends run side by side when there is more than one CPU
# (GP_PYTEST_JOBS=1: one after the other); each run's output is kept in
# its own file and printed whole, in backend order, once all have ended.
jobs=${GP_PYTEST_JOBS:-$(nproc 2>/dev/null || echo 1)}
out=$(mktemp -d "${TMPDIR:-/tmp}/guestpoll-pytest.XXXXXX")
pids=""
trap 'kill $pids 2>/dev/null || true; rm -rf "$out"' EXIT
trap 'exit 130' INT TERM
version=$("$PYTHON" -c 'import sys; print(sys.version.split()[0])')
backends=""
for backend in epoll kqueue poll; do
	if ! PYTHONPATH="$site" GUESTPOLL_BACKEND=$backend "$PYTHON" -c \
		'import guestpoll; guestpoll.Selector().close()' 2>/dev/null; then
		echo "backend $backend: not available on this platform, skipped"
		continue
	fi
	backends="$backends $backend"
	(
		echo "=== pytest, $version, backend $backend"
		PYTHONPATH="$site" GUESTPOLL_BACKEND=$backend GUESTPOLL_REQUIRE=1 \
			"$PYTHON" -m pytest -p no:cacheprovider -q "$GP_SRCDIR/tests/py"
		echo $? >"$out/$backend.rc"
	) >"$out/$backend.log" 2>&1 &
	pids="$pids $!"
	[ "$jobs" -gt 1 ] || { wait $!; cat "$out/$backend.log"; pids=""; }
done
for p in $pids; do wait "$p" || true; done
pids=""
status=0
for backend in $backends; do
	[ "$jobs" -gt 1 ] && cat "$out/$backend.log"
	[ "$(cat "$out/$backend.rc" 2>/dev/null)" = 0 ] || status=1
done
exit $status
