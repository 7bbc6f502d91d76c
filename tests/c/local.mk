## tests/c fragment: the Check test suite, one binary run once per backend.
##
##   make check            runs tests/c/run-epoll.sh, run-kqueue.sh and
##                         run-poll.sh (each forces GUESTPOLL_BACKEND; a
##                         backend this build lacks is reported as SKIP)
##   make check-valgrind   the same binary under valgrind, CK_FORK=no,
##                         failing on any memory error or leak

EXTRA_DIST += \
	tests/c/run-epoll.sh \
	tests/c/run-kqueue.sh \
	tests/c/run-poll.sh \
	tests/c/run-min.sh

tests_c_sources = \
	tests/c/check_main.c \
	tests/c/testutil.c \
	tests/c/testutil.h \
	tests/c/test_basic.c \
	tests/c/test_errors.c \
	tests/c/test_modes.c \
	tests/c/test_wait.c \
	tests/c/test_threads.c \
	tests/c/test_split.c \
	tests/c/test_cancel.c \
	tests/c/test_stale.c \
	tests/c/test_lifecycle.c

tests_c_backends = epoll kqueue poll

# The same test sources built against minicheck (tests/c/minicheck.[ch]),
# the runner used where Check is missing (Windows).  With Check present it
# is a second binary, run once for the default backend, so that the runner
# itself is exercised here; without Check it is the only one.
tests_c_min_sources = $(tests_c_sources) tests/c/minicheck.c tests/c/minicheck.h

# What the build has, for the few checks that depend on it (testutil.h).
tests_c_cppflags = $(AM_CPPFLAGS)
if HAVE_KQUEUE
tests_c_cppflags += -DTU_HAVE_KQUEUE=1
endif
if HAVE_LIBKQUEUE
tests_c_cppflags += -DTU_LIBKQUEUE=1
endif

if HAVE_CHECK
check_PROGRAMS += tests/c/check_guestpoll tests/c/check_guestpoll_min
tests_c_check_guestpoll_SOURCES = $(tests_c_sources)
tests_c_check_guestpoll_CPPFLAGS = $(tests_c_cppflags)
tests_c_check_guestpoll_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_c_check_guestpoll_LDADD = libguestpoll.la $(CHECK_LIBS)
tests_c_check_guestpoll_min_SOURCES = $(tests_c_min_sources)
tests_c_check_guestpoll_min_CPPFLAGS = $(tests_c_cppflags) -DGP_TEST_MINICHECK
tests_c_check_guestpoll_min_LDADD = libguestpoll.la
TESTS += tests/c/run-epoll.sh tests/c/run-kqueue.sh tests/c/run-poll.sh tests/c/run-min.sh

if HAVE_VALGRIND
tests_c_valgrind_flags = \
	--leak-check=full \
	--show-leak-kinds=definite,indirect,possible \
	--errors-for-leak-kinds=definite,indirect,possible \
	--error-exitcode=1 \
	--track-fds=no

# Each backend in turn; a backend the platform lacks (exit 77) is skipped.
check-valgrind: tests/c/check_guestpoll$(EXEEXT)
	@fail=0; \
	for b in $(tests_c_backends); do \
	  echo "== valgrind: tests/c/check_guestpoll, backend $$b"; \
	  rc=0; \
	  CK_FORK=no GUESTPOLL_BACKEND=$$b \
	    $(LIBTOOL) --mode=execute $(VALGRIND) $(tests_c_valgrind_flags) \
	    ./tests/c/check_guestpoll$(EXEEXT) || rc=$$?; \
	  if test $$rc = 77; then echo "SKIP: backend $$b"; \
	  elif test $$rc != 0; then echo "FAIL: backend $$b (exit $$rc)"; fail=1; \
	  else echo "PASS: backend $$b"; fi; \
	done; \
	test $$fail = 0
else
check-valgrind:
	@echo "check-valgrind: valgrind was not found by configure" >&2; exit 1
endif
else
# No Check: the minicheck build is the test binary (run-*.sh run it).
check_PROGRAMS += tests/c/check_guestpoll
tests_c_check_guestpoll_SOURCES = $(tests_c_min_sources)
tests_c_check_guestpoll_CPPFLAGS = $(tests_c_cppflags) -DGP_TEST_MINICHECK
tests_c_check_guestpoll_CFLAGS = $(AM_CFLAGS)
tests_c_check_guestpoll_LDADD = libguestpoll.la
TESTS += tests/c/run-epoll.sh tests/c/run-kqueue.sh tests/c/run-poll.sh

check-valgrind:
	@echo "check-valgrind: Check was not found by configure" >&2; exit 1
endif

.PHONY: check-valgrind
