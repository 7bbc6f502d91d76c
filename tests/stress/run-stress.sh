#!/bin/sh
# Runs the racing stress test (gp_stress) once per backend.  CI mode by
# default: 10^6 operations per backend; GP_STRESS_OPS=10000000 is the long
# mode.
here=$(cd "$(dirname "$0")" && pwd)
bin=./tests/stress/gp_stress
test -x "$bin" || bin=$here/gp_stress
exec sh "$here/../each-backend.sh" "$bin" --ops "${GP_STRESS_OPS:-1000000}"
