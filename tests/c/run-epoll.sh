#!/bin/sh
# Runs the C test suite with the epoll backend forced.  Exit 77 (SKIP) comes
# from the binary when the backend is not available on this platform.
GUESTPOLL_BACKEND=epoll
export GUESTPOLL_BACKEND
bin=./tests/c/check_guestpoll
test -x "$bin" || bin=$(dirname "$0")/check_guestpoll
exec "$bin" "$@"
