## tests/fault fragment: failure injection (see gp_fault.c, src/fault.h).
## Built and run by make check only in a build configured with
## --enable-fault-injection (./dev test's sanitizer stage).

EXTRA_DIST += tests/fault/run-fault.sh tests/fault/gp_fault.c

if GP_FAULT_INJECTION
if !GP_WINDOWS
check_PROGRAMS += tests/fault/gp_fault
tests_fault_gp_fault_SOURCES = tests/fault/gp_fault.c
tests_fault_gp_fault_LDADD = libguestpoll.la
TESTS += tests/fault/run-fault.sh
endif
endif
