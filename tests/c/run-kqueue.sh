#!/bin/sh
# Runs the C test suite with the kqueue backend forced.  Exit 77 (SKIP) comes
# from the binary when the backend was not built: no native kqueue and no
# libkqueue found by configure (see README, "Backends").
GUESTPOLL_BACKEND=kqueue
export GUESTPOLL_BACKEND
bin=./tests/c/check_guestpoll
test -x "$bin" || bin=$(dirname "$0")/check_guestpoll
exec "$bin" "$@"
