#!/bin/sh
# Runs the failure-injection scenario (gp_fault) once per backend.  Built
# only by ./configure --enable-fault-injection (./dev test does that in its
# sanitizer stage, where ASan also checks that no failure path leaks).
set -u
bin=./tests/fault/gp_fault
test -x "$bin" || bin=$(dirname "$0")/gp_fault
status=0
ran=0
for backend in epoll kqueue poll; do
	"$bin" --backend "$backend"
	case $? in
	0) ran=1 ;;
	77) ;;
	*) status=1 ;;
	esac
done
[ $status = 0 ] && [ $ran = 0 ] && exit 77
exit $status
