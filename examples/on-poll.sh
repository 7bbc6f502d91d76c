# on-poll.sh - sourced by the examples/run-*-poll.sh wrappers (tests of
# `make check`, run from the top build directory; automake TESTS take no
# arguments, hence one wrapper per example).  The wrapper sets prog (the
# example) and expect (text its output must contain on the poll backend);
# this runs the example with GUESTPOLL_BACKEND=poll and checks both.
# SPDX-License-Identifier: MIT OR Apache-2.0
out=$(GUESTPOLL_BACKEND=poll "$prog" "$@")
status=$?
printf '%s\n' "$out"
[ "$status" -eq 0 ] || exit "$status"
case $out in
*"$expect"*) ;;
*)
	echo "$0: $prog did not use the poll backend" >&2
	exit 1
	;;
esac
