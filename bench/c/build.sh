#!/bin/sh
# build.sh BUILDDIR OUTDIR - builds the C benchmarks of libguestpoll.
#
# BUILDDIR is an autotools build directory of libguestpoll (its static
# archive BUILDDIR/.libs/libguestpoll.a is linked in); the binaries go to
# OUTDIR.  Peers (libev, libuv, libevent) are optional: each one found
# defines HAVE_LIBEV / HAVE_LIBUV / HAVE_LIBEVENT; without it its row is
# printed with an error instead of a number.  What was found is told on
# stderr.  CC and CFLAGS may be overridden from the environment.
#
# SPDX-License-Identifier: MIT OR Apache-2.0
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 BUILDDIR OUTDIR" >&2
	exit 2
fi
builddir=$1
outdir=$2
here=$(cd "$(dirname "$0")" && pwd)
srcdir=$(cd "$here/../.." && pwd)
lib=$builddir/.libs/libguestpoll.a
CC=${CC:-cc}
CFLAGS=${CFLAGS:--O2}
std="-std=c11 -D_GNU_SOURCE -Wall -Wextra"

if [ ! -f "$lib" ]; then
	echo "build.sh: $lib not found (build libguestpoll first: make -C $builddir)" >&2
	exit 1
fi
mkdir -p "$outdir"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# Peers.  Each adds to peer_cflags / peer_libs.
peer_cflags=
peer_libs=

for pc in libuv libevent; do
	if pkg-config --exists "$pc" 2>/dev/null; then
		def=$(echo "HAVE_$pc" | tr 'a-z' 'A-Z')
		peer_cflags="$peer_cflags -D$def $(pkg-config --cflags "$pc")"
		peer_libs="$peer_libs $(pkg-config --libs "$pc")"
		echo "build.sh: $pc: found, version $(pkg-config --modversion "$pc")" >&2
	else
		case $pc in
		libuv) pkg=libuv1-dev ;;
		*) pkg=libevent-dev ;;
		esac
		echo "build.sh: $pc: not found (install $pkg); its row will report an error" >&2
	fi
done
# libev: no pkg-config file on Debian; try to compile and link against it.
# It comes last on the link line: Debian's libev also exports libev's
# emulation of the libevent 1.x API (event_base_new, event_add, ...), and
# with libevent linked first those names resolve to the real libevent.
# (c_pingpong checks at run time that libevent reports the epoll method.)
cat >"$tmp/ev.c" <<'EOC'
#include <ev.h>
int main(void) { struct ev_loop *l = ev_loop_new(0); ev_loop_destroy(l); return 0; }
EOC
if $CC $CFLAGS -o "$tmp/ev" "$tmp/ev.c" -lev >/dev/null 2>&1; then
	peer_cflags="$peer_cflags -DHAVE_LIBEV"
	peer_libs="$peer_libs -lev"
	echo "build.sh: libev: found" >&2
else
	echo "build.sh: libev: not found (install libev-dev); its row will report an error" >&2
fi

echo "build.sh: libguestpoll: $lib" >&2

common="$here/common.c"
set -x
# shellcheck disable=SC2086
$CC $CFLAGS $std -I"$srcdir/include" $peer_cflags -o "$outdir/c_pingpong" \
	"$here/pingpong.c" "$here/pingpong_libev.c" "$here/pingpong_libuv.c" \
	"$here/pingpong_libevent.c" "$common" "$lib" $peer_libs -lpthread -lm
# shellcheck disable=SC2086
$CC $CFLAGS $std -I"$srcdir/include" -o "$outdir/c_scale" \
	"$here/scale.c" "$common" "$lib" -lpthread -lm
# shellcheck disable=SC2086
$CC $CFLAGS $std -I"$srcdir/include" -o "$outdir/c_churn" \
	"$here/churn.c" "$common" "$lib" -lpthread -lm
