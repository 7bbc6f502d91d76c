#!/bin/sh
# mksite.sh SRCDIR BUILDDIR: lays the guestpoll package out as Python expects
# it, in BUILDDIR/pyext/site: the package sources plus the freshly built
# extension module.  PYTHONPATH=BUILDDIR/pyext/site then imports the build.
set -eu
src=$1 build=$2
site="$build/pyext/site"
so="$build/pyext/.libs/_guestpoll.so"
[ -f "$so" ] || { echo "missing $so: build first" >&2; exit 99; }
rm -rf "$site"
mkdir -p "$site/guestpoll"
for f in "$src"/pyext/guestpoll/*; do
	ln -s "$f" "$site/guestpoll/"
done
ln -s "$so" "$site/guestpoll/_guestpoll.so"
echo "$site"
