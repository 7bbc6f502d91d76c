#!/bin/sh
# Runs examples/glib_host on the poll backend (a test of `make check`).
# Runs from the top build directory, where make check runs its tests.
# SPDX-License-Identifier: MIT OR Apache-2.0
prog=./examples/glib_host
out=$(GUESTPOLL_BACKEND=poll "$prog" "$@")
status=$?
printf '%s\n' "$out"
[ "$status" -eq 0 ] || exit "$status"
case $out in
*"(backend poll)"*) ;;
*)
	echo "$0: $prog did not use the poll backend" >&2
	exit 1
	;;
esac
