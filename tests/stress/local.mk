## tests/stress fragment: the racing stress test (see gp_stress.c).
##
##   make check                 runs it in CI mode (10^6 operations per backend)
##   GP_STRESS_OPS=10000000 make check TESTS=tests/stress/run-stress.sh
##                              the long mode

EXTRA_DIST += tests/stress/run-stress.sh

# POSIX only: pipes and POSIX threads (the Windows build skips it).
if !GP_WINDOWS
check_PROGRAMS += tests/stress/gp_stress
tests_stress_gp_stress_SOURCES = tests/stress/gp_stress.c
tests_stress_gp_stress_LDADD = libguestpoll.la
TESTS += tests/stress/run-stress.sh
endif
