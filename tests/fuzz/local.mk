## tests/fuzz fragment: the API fuzzer (fuzz_api.c) and its corpus.
##
##   make check          replays tests/fuzz/corpus and tests/fuzz/regressions
##                       through the harness's checks on every backend
##                       (fuzz_replay: any compiler, no libFuzzer)
##   ./configure CC=clang --enable-fuzzer && make fuzz-run FUZZ_SECONDS=60
##                       fuzzes each backend for FUZZ_SECONDS with libFuzzer,
##                       starting from the committed corpus (new inputs go to
##                       a scratch directory; a failing input is written to
##                       tests/fuzz/ as crash-*)

EXTRA_DIST += tests/fuzz/run-replay.sh tests/fuzz/corpus tests/fuzz/regressions

# POSIX only: the harness drives pipes (the Windows build skips it).
if !GP_WINDOWS
check_PROGRAMS += tests/fuzz/fuzz_replay
tests_fuzz_fuzz_replay_SOURCES = tests/fuzz/fuzz_api.c tests/fuzz/fuzz_main.c
tests_fuzz_fuzz_replay_LDADD = libguestpoll.la
TESTS += tests/fuzz/run-replay.sh
endif

FUZZ_SECONDS = 60
if GP_FUZZER
noinst_PROGRAMS += tests/fuzz/fuzz_api
tests_fuzz_fuzz_api_SOURCES = tests/fuzz/fuzz_api.c
tests_fuzz_fuzz_api_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_api_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_fuzz_api_LDADD = libguestpoll_core.la

fuzz-run: tests/fuzz/fuzz_api$(EXEEXT)
	@fail=0; \
	for b in epoll kqueue poll; do \
	  if ! GUESTPOLL_BACKEND=$$b ./tests/fuzz/fuzz_replay$(EXEEXT) /dev/null >/dev/null 2>&1; then \
	    echo "fuzz-run: backend $$b not available here, skipped"; continue; fi; \
	  scratch=`mktemp -d`; \
	  echo "== libFuzzer: backend $$b, $(FUZZ_SECONDS) s"; \
	  GUESTPOLL_BACKEND=$$b ./tests/fuzz/fuzz_api$(EXEEXT) \
	    -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=tests/fuzz/ "$$scratch" $(srcdir)/tests/fuzz/corpus \
	    $(srcdir)/tests/fuzz/regressions >tests/fuzz/fuzz-$$b.log 2>&1 || fail=1; \
	  grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)|fuzz_api:|SUMMARY' \
	    tests/fuzz/fuzz-$$b.log; \
	  rm -rf "$$scratch"; \
	done; \
	test $$fail = 0
else
fuzz-run:
	@echo "fuzz-run: configure with CC=clang --enable-fuzzer" >&2; exit 1
endif
CLEANFILES += tests/fuzz/fuzz-*.log
.PHONY: fuzz-run
