#!/bin/sh
# each-backend.sh PROGRAM [ARGS...] - runs a test program once per backend,
# with GUESTPOLL_BACKEND set (tests/backend_env.h reads it).  Exit 0 if
# every run that was not skipped passed and one ran; 77 (SKIP) if each run
# said its backend is not available here; 1 otherwise.
set -u
status=0
ran=0
for backend in epoll kqueue poll; do
	GUESTPOLL_BACKEND=$backend "$@"
	case $? in
	0) ran=1 ;;
	77) ;;
	*) status=1 ;;
	esac
done
[ $status = 0 ] && [ $ran = 0 ] && exit 77
exit $status
