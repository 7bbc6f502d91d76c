#!/bin/sh
# Runs the C test suite built against minicheck (the runner used where Check
# is missing) with the platform's default backend.
bin=./tests/c/check_guestpoll_min
test -x "$bin" || bin=$(dirname "$0")/check_guestpoll_min
exec "$bin" "$@"
