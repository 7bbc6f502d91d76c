#!/bin/sh
# Runs aioguest's own test suite (tests/ of its sdist, fetched from PyPI
# by pip and kept in GP_PEERS_CACHE) against guestpoll: a package named
# aioguest whose start_guest_run is guestpoll's stands in for it.  The
# tests where guestpoll differs on purpose are expected failures, with
# their reasons (aioguest_divergences.py).  Same variables as
# tests/py/run-pytest.sh: PYTHON, GP_SRCDIR, GP_BUILDDIR; GP_SITE set (even
# empty) names where guestpoll is instead of the build tree (empty: it is
# installed); GP_PEER_BACKENDS, the backends to try (default all).
set -eu
: "${PYTHON:=python3}"
: "${GP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${GP_BUILDDIR:=$(pwd)}"
: "${GP_PEERS_CACHE:=/var/tmp/guestpoll-peers}"
AIOGUEST_VERSION=0.1.0
AIOGUEST=aioguest==$AIOGUEST_VERSION
src=aioguest-$AIOGUEST_VERSION

if [ "${GP_SITE+set}" = set ]; then
	site=$GP_SITE
else
	site=$(sh "$GP_SRCDIR/pyext/mksite.sh" "$GP_SRCDIR" "$GP_BUILDDIR")
fi
mkdir -p "$GP_PEERS_CACHE"
sdist=$(ls "$GP_PEERS_CACHE/$src.tar.gz" 2>/dev/null || true)
if [ -z "$sdist" ]; then
	"$PYTHON" -m pip download -q --disable-pip-version-check --no-deps \
		--no-binary :all: -d "$GP_PEERS_CACHE" "$AIOGUEST" || {
		echo "SKIP: pip could not fetch the $AIOGUEST sdist (no PyPI?)"
		exit 77
	}
	sdist="$GP_PEERS_CACHE/$src.tar.gz"
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/guestpoll-aioguest.XXXXXX")
trap 'rm -rf "$work"' EXIT
tar -xzf "$sdist" -C "$work"
rm -rf "$work/$src/aioguest" # the real package: never imported
cd "$work/$src"
# Its pyproject.toml holds its pytest settings (warnings are errors).
rc=0 ran=0
for backend in ${GP_PEER_BACKENDS:-epoll kqueue poll}; do
	PYTHONPATH="$site" GUESTPOLL_BACKEND=$backend "$PYTHON" -c \
		'import guestpoll; guestpoll.Selector().close()' 2>/dev/null || continue
	ran=$((ran + 1))
	echo "=== aioguest's own tests ($AIOGUEST sdist) against guestpoll, backend $backend"
	PYTHONPATH="$GP_SRCDIR/tests/peers${site:+:$site}" GUESTPOLL_BACKEND=$backend GUESTPOLL_REQUIRE=1 \
		"$PYTHON" -m pytest -p no:cacheprovider -p aioguest_divergences -q -rxX tests || rc=1
done
[ $ran -gt 0 ] || {
	echo "none of the backends ${GP_PEER_BACKENDS:-epoll kqueue poll} works: does guestpoll import? ($PYTHON, site '$site')" >&2
	exit 1
}
exit $rc
