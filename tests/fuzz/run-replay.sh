#!/bin/sh
# Replays the committed fuzz corpus and the regression inputs through
# fuzz_api.c's checks (tests/fuzz/fuzz_replay, no libFuzzer needed), once per
# backend.  A backend this platform lacks is skipped (exit 77 from the
# program).
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=./tests/fuzz/fuzz_replay
test -x "$bin" || bin=$here/fuzz_replay
status=0
ran=0
for backend in epoll kqueue poll; do
	GUESTPOLL_BACKEND=$backend "$bin" "$here/corpus" "$here/regressions"
	rc=$?
	case $rc in
	0) ran=1 ;;
	77) ;;
	*) status=1 ;;
	esac
done
[ $status = 0 ] && [ $ran = 0 ] && exit 77
exit $status
