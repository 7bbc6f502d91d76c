/* minicheck.c - a minimal in-process runner for the Check API subset in
 * minicheck.h.  See there for how it differs from Check.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <pthread.h>
#include <time.h>
#endif

#include "minicheck.h"

struct mc_entry {
	const TTest *test;
	int start, end;
};

struct mc_tcase {
	const char *name;
	double timeout;
	struct mc_entry *tests;
	size_t ntests, cap;
	struct mc_tcase *next;
};

struct mc_suite {
	const char *name;
	struct mc_tcase *first, *last;
	struct mc_suite *next;
};

struct mc_runner {
	struct mc_suite *first, *last;
	int run, failed, skipped;
};

/* The state of the running test.  One runner per process, used from the
 * main thread only, plus the watchdog thread which reads the deadline. */
static struct {
	jmp_buf env;
	int in_test;
	int skipped;
	char skip_reason[256];
#ifdef _WIN32
	DWORD thread;
#else
	pthread_t thread;
#endif
	const char *test_name;
	const char *tcase_name;
	int iteration;
	atomic_llong deadline_ms; /* 0: no test running */
	atomic_int watchdog_started;
} mc;

static long long
mc_now_ms(void)
{
#ifdef _WIN32
	return (long long)GetTickCount64();
#else
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
#endif
}

static int
mc_on_runner_thread(void)
{
#ifdef _WIN32
	return mc.in_test && GetCurrentThreadId() == mc.thread;
#else
	return mc.in_test && pthread_equal(pthread_self(), mc.thread);
#endif
}

void
mc_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("%s:%d:F:%s:%s:%d: ", file, line,
	       mc.tcase_name ? mc.tcase_name : "?",
	       mc.test_name ? mc.test_name : "?", mc.iteration);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!mc_on_runner_thread()) {
		printf("minicheck: assertion failed outside the test's own "
		       "thread; ending the run\n");
		fflush(stdout);
		exit(1);
	}
	longjmp(mc.env, 1);
}

void
mc_skip(const char *fmt, ...)
{
	va_list ap;

	mc.skipped = 1;
	va_start(ap, fmt);
	vsnprintf(mc.skip_reason, sizeof mc.skip_reason, fmt, ap);
	va_end(ap);
}

/* ---- the watchdog ------------------------------------------------------ */

#ifdef _WIN32
static DWORD WINAPI
mc_watchdog(LPVOID arg)
#else
static void *
mc_watchdog(void *arg)
#endif
{
	(void)arg;
	for (;;) {
		long long d = atomic_load(&mc.deadline_ms);
		if (d != 0 && mc_now_ms() > d) {
			printf("%s:F:%s:%s:%d: test timeout expired; the run "
			       "ends here (a minicheck test cannot be "
			       "interrupted)\n",
			       "minicheck", mc.tcase_name, mc.test_name,
			       mc.iteration);
			fflush(stdout);
			_Exit(1);
		}
#ifdef _WIN32
		Sleep(100);
#else
		struct timespec ts = {0, 100000000};
		nanosleep(&ts, NULL);
#endif
	}
#ifndef _WIN32
	return NULL;
#endif
}

static void
mc_watchdog_start(void)
{
	if (atomic_exchange(&mc.watchdog_started, 1))
		return;
#ifdef _WIN32
	HANDLE h = CreateThread(NULL, 0, mc_watchdog, NULL, 0, NULL);
	if (h)
		CloseHandle(h);
#else
	pthread_t th;
	if (pthread_create(&th, NULL, mc_watchdog, NULL) == 0)
		pthread_detach(th);
#endif
}

/* ---- building suites ---------------------------------------------------- */

static void *
mc_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	if (!p) {
		fprintf(stderr, "minicheck: out of memory\n");
		exit(2);
	}
	return p;
}

Suite *
suite_create(const char *name)
{
	Suite *s = mc_xcalloc(1, sizeof *s);
	s->name = name;
	return s;
}

TCase *
tcase_create(const char *name)
{
	TCase *tc = mc_xcalloc(1, sizeof *tc);
	const char *env = getenv("CK_DEFAULT_TIMEOUT");

	tc->name = name;
	tc->timeout = env && *env ? atof(env) : 4.0;
	return tc;
}

void
suite_add_tcase(Suite *s, TCase *tc)
{
	if (s->last)
		s->last->next = tc;
	else
		s->first = tc;
	s->last = tc;
}

void
tcase_set_timeout(TCase *tc, double seconds)
{
	const char *mult = getenv("CK_TIMEOUT_MULTIPLIER");

	tc->timeout = seconds;
	if (mult && *mult && atof(mult) > 0)
		tc->timeout *= atof(mult);
}

void
mc_tcase_add(TCase *tc, const TTest *t, int start, int end)
{
	if (tc->ntests == tc->cap) {
		size_t cap = tc->cap ? tc->cap * 2 : 16;
		struct mc_entry *e = realloc(tc->tests, cap * sizeof *e);
		if (!e) {
			fprintf(stderr, "minicheck: out of memory\n");
			exit(2);
		}
		tc->tests = e;
		tc->cap = cap;
	}
	tc->tests[tc->ntests].test = t;
	tc->tests[tc->ntests].start = start;
	tc->tests[tc->ntests].end = end;
	tc->ntests++;
}

SRunner *
srunner_create(Suite *s)
{
	SRunner *sr = mc_xcalloc(1, sizeof *sr);
	if (s)
		srunner_add_suite(sr, s);
	return sr;
}

void
srunner_add_suite(SRunner *sr, Suite *s)
{
	if (sr->last)
		sr->last->next = s;
	else
		sr->first = s;
	sr->last = s;
}

/* ---- running ------------------------------------------------------------- */

/* Runs one iteration; returns 0 passed, 1 failed, 2 skipped. */
static int
mc_run_one(const TCase *tc, const TTest *t, int i, int verbose)
{
	volatile long long t0 = mc_now_ms();
	int result;

	mc.test_name = t->name;
	mc.tcase_name = tc->name;
	mc.iteration = i;
	mc.skipped = 0;
	mc.skip_reason[0] = '\0';
#ifdef _WIN32
	mc.thread = GetCurrentThreadId();
#else
	mc.thread = pthread_self();
#endif
	atomic_store(&mc.deadline_ms,
	             mc_now_ms() + (long long)(tc->timeout * 1000.0));
	mc.in_test = 1;
	if (setjmp(mc.env) == 0) {
		t->fn(i);
		result = mc.skipped ? 2 : 0;
	} else {
		result = 1;
	}
	mc.in_test = 0;
	atomic_store(&mc.deadline_ms, 0);
	if (result == 2)
		printf("%s:%d:S:%s:%s:%d: skipped: %s\n", t->file, t->line,
		       tc->name, t->name, i, mc.skip_reason);
	if (verbose)
		printf("%s:%s:%d: %s (%lld ms)\n", tc->name, t->name, i,
		       result == 0   ? "Passed"
		       : result == 1 ? "Failed"
		                     : "Skipped",
		       mc_now_ms() - t0);
	fflush(stdout);
	return result;
}

void
srunner_run_all(SRunner *sr, enum print_output mode)
{
	const char *want_suite = getenv("CK_RUN_SUITE");
	const char *want_case = getenv("CK_RUN_CASE");
	const char *v = getenv("MC_VERBOSE");
	int verbose = mode == CK_VERBOSE || (v && *v && strcmp(v, "0") != 0);
	int passed;

#ifdef _WIN32
	/* The Windows C library buffers _IOLBF fully: no buffering at all,
	 * so that a run ended by a timeout still shows its last lines. */
	setvbuf(stdout, NULL, _IONBF, 0);
#else
	setvbuf(stdout, NULL, _IOLBF, 0);
#endif
	mc_watchdog_start();
	printf("Running suite(s):");
	for (Suite *s = sr->first; s; s = s->next)
		if (!want_suite || !*want_suite || !strcmp(want_suite, s->name))
			printf(" %s", s->name);
	printf("\n");
	fflush(stdout);
	for (Suite *s = sr->first; s; s = s->next) {
		if (want_suite && *want_suite && strcmp(want_suite, s->name))
			continue;
		for (TCase *tc = s->first; tc; tc = tc->next) {
			if (want_case && *want_case &&
			    strcmp(want_case, tc->name))
				continue;
			for (size_t k = 0; k < tc->ntests; k++) {
				const struct mc_entry *e = &tc->tests[k];
				for (int i = e->start; i < e->end; i++) {
					int r = mc_run_one(tc, e->test, i,
					                   verbose);
					if (r == 2) {
						sr->skipped++;
						continue;
					}
					sr->run++;
					sr->failed += r;
				}
			}
		}
	}
	passed = sr->run - sr->failed;
	/* Check's summary line (skipped tests not counted), then ours. */
	printf("%d%%: Checks: %d, Failures: %d, Errors: 0\n",
	       sr->run ? passed * 100 / sr->run : 100, sr->run, sr->failed);
	printf("minicheck: passed %d, failed %d, skipped %d\n", passed,
	       sr->failed, sr->skipped);
	fflush(stdout);
}

int
srunner_ntests_failed(SRunner *sr)
{
	return sr->failed;
}

void
srunner_free(SRunner *sr)
{
	Suite *s = sr->first;

	while (s) {
		Suite *sn = s->next;
		TCase *tc = s->first;
		while (tc) {
			TCase *tn = tc->next;
			free(tc->tests);
			free(tc);
			tc = tn;
		}
		free(s);
		s = sn;
	}
	free(sr);
}
