#!/bin/sh
# Runs the failure-injection scenario (gp_fault) once per backend.  Built
# only by ./configure --enable-fault-injection (./dev test does that in its
# ASan stage, where LeakSanitizer also checks that no failure path leaks).
here=$(cd "$(dirname "$0")" && pwd)
bin=./tests/fault/gp_fault
test -x "$bin" || bin=$here/gp_fault
exec sh "$here/../each-backend.sh" "$bin"
