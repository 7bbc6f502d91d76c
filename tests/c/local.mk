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
	tests/c/run-poll.sh

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
	tests/c/test_stale.c \
	tests/c/test_lifecycle.c

tests_c_backends = epoll kqueue poll

if HAVE_CHECK
check_PROGRAMS += tests/c/check_guestpoll
tests_c_check_guestpoll_SOURCES = $(tests_c_sources)
tests_c_check_guestpoll_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
# What the build has, for the few checks that depend on it (testutil.h).
tests_c_check_guestpoll_CPPFLAGS = $(AM_CPPFLAGS)
if HAVE_KQUEUE
tests_c_check_guestpoll_CPPFLAGS += -DTU_HAVE_KQUEUE=1
endif
if HAVE_LIBKQUEUE
tests_c_check_guestpoll_CPPFLAGS += -DTU_LIBKQUEUE=1
endif
tests_c_check_guestpoll_LDADD = libguestpoll.la $(CHECK_LIBS)
TESTS += tests/c/run-epoll.sh tests/c/run-kqueue.sh tests/c/run-poll.sh

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
check-valgrind:
	@echo "check-valgrind: Check was not found by configure" >&2; exit 1
endif

.PHONY: check-valgrind
