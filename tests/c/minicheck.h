/* minicheck.h - the subset of Check's API that the libguestpoll tests use,
 * for platforms without Check (Windows under mingw).
 *
 * Selected by GP_TEST_MINICHECK (configure defines it when Check is not
 * found; the Linux build also compiles a minicheck binary so that this
 * runner is exercised in CI).  The tests include testutil.h, which includes
 * <check.h> or this header.
 *
 * Differences from Check: every test runs in this process, one after the
 * other (no fork).  A failed assertion longjmps back to the runner, which
 * reports file:line and the message and goes on with the next test; what
 * the failed test had open stays open.  A test that overruns its tcase's
 * timeout ends the whole run (a thread cannot be killed safely): the run
 * prints what it has and exits 1.  tu_skip() marks a test as skipped.
 * CK_RUN_SUITE and CK_RUN_CASE select suites and test cases as in Check;
 * MC_VERBOSE=1 prints every test's result and time.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef GUESTPOLL_MINICHECK_H
#define GUESTPOLL_MINICHECK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- tests, test cases, suites, runner ---------------------------------- */

typedef struct mc_test {
	const char *name;
	void (*fn)(int _i);
	const char *file;
	int line;
} TTest;

typedef struct mc_tcase TCase;
typedef struct mc_suite Suite;
typedef struct mc_runner SRunner;

enum print_output { CK_SILENT, CK_MINIMAL, CK_NORMAL, CK_VERBOSE, CK_ENV };

#if defined(__GNUC__)
#define MC_UNUSED __attribute__((unused))
#else
#define MC_UNUSED
#endif
/* mingw's plain "printf" format is msvcrt's, without %jd; the tests are
 * built with __USE_MINGW_ANSI_STDIO, whose printf is C99's. */
#if defined(__MINGW32__)
#define MC_FORMAT(a, b) __attribute__((format(gnu_printf, a, b)))
#elif defined(__GNUC__)
#define MC_FORMAT(a, b) __attribute__((format(printf, a, b)))
#else
#define MC_FORMAT(a, b)
#endif

#define START_TEST(name)                                                       \
	static void name##_fn(int _i MC_UNUSED);                               \
	static const TTest name##_mc = {#name, name##_fn, __FILE__, __LINE__}; \
	static const TTest *const name = &name##_mc;                           \
	static void name##_fn(int _i)
#define END_TEST

Suite *suite_create(const char *name);
TCase *tcase_create(const char *name);
void suite_add_tcase(Suite *s, TCase *tc);
void tcase_set_timeout(TCase *tc, double seconds);
void mc_tcase_add(TCase *tc, const TTest *t, int start, int end);
#define tcase_add_test(tc, t)            mc_tcase_add((tc), (t), 0, 1)
#define tcase_add_loop_test(tc, t, s, e) mc_tcase_add((tc), (t), (s), (e))

SRunner *srunner_create(Suite *s);
void srunner_add_suite(SRunner *sr, Suite *s);
void srunner_run_all(SRunner *sr, enum print_output mode);
int srunner_ntests_failed(SRunner *sr);
void srunner_free(SRunner *sr);

/* Marks the running test as skipped (it should return right after). */
void mc_skip(const char *fmt, ...) MC_FORMAT(1, 2);

/* ---- assertions ---------------------------------------------------------- */

/* Reports a failure of the running test and leaves it (longjmp).  Called
 * on any other thread (which the tests never do) it reports the failure
 * and ends the process with exit status 1. */
_Noreturn void mc_fail(const char *file, int line, const char *fmt, ...)
        MC_FORMAT(3, 4);

#define ck_assert_msg(expr, ...)                                               \
	((expr) ? (void)0                                                      \
	        : mc_fail(__FILE__, __LINE__,                                  \
	                  "Assertion '" #expr "' failed: " __VA_ARGS__))
#define ck_assert(expr)                                                        \
	((expr) ? (void)0                                                      \
	        : mc_fail(__FILE__, __LINE__, "Assertion '%s' failed", #expr))
#define ck_abort_msg(...) mc_fail(__FILE__, __LINE__, __VA_ARGS__)

#define MC_CMP_(T, fmt, X, OP, Y)                                              \
	do {                                                                   \
		T mc_x_ = (X);                                                 \
		T mc_y_ = (Y);                                                 \
		if (!(mc_x_ OP mc_y_))                                         \
			mc_fail(__FILE__, __LINE__,                            \
			        "Assertion '%s' failed: %s == " fmt            \
			        ", %s == " fmt,                                \
			        #X " " #OP " " #Y, #X, mc_x_, #Y, mc_y_);      \
	} while (0)

#define ck_assert_int_eq(X, Y)  MC_CMP_(intmax_t, "%jd", X, ==, Y)
#define ck_assert_int_ne(X, Y)  MC_CMP_(intmax_t, "%jd", X, !=, Y)
#define ck_assert_int_lt(X, Y)  MC_CMP_(intmax_t, "%jd", X, <, Y)
#define ck_assert_int_le(X, Y)  MC_CMP_(intmax_t, "%jd", X, <=, Y)
#define ck_assert_int_gt(X, Y)  MC_CMP_(intmax_t, "%jd", X, >, Y)
#define ck_assert_int_ge(X, Y)  MC_CMP_(intmax_t, "%jd", X, >=, Y)
#define ck_assert_uint_eq(X, Y) MC_CMP_(uintmax_t, "%ju", X, ==, Y)
#define ck_assert_uint_ne(X, Y) MC_CMP_(uintmax_t, "%ju", X, !=, Y)
#define ck_assert_uint_lt(X, Y) MC_CMP_(uintmax_t, "%ju", X, <, Y)
#define ck_assert_uint_le(X, Y) MC_CMP_(uintmax_t, "%ju", X, <=, Y)
#define ck_assert_uint_gt(X, Y) MC_CMP_(uintmax_t, "%ju", X, >, Y)
#define ck_assert_uint_ge(X, Y) MC_CMP_(uintmax_t, "%ju", X, >=, Y)
#define ck_assert_ptr_eq(X, Y)  MC_CMP_(const void *, "%p", X, ==, Y)
#define ck_assert_ptr_ne(X, Y)  MC_CMP_(const void *, "%p", X, !=, Y)

#define ck_assert_str_eq(X, Y)                                                 \
	do {                                                                   \
		const char *mc_x_ = (X);                                       \
		const char *mc_y_ = (Y);                                       \
		if (!mc_x_ || !mc_y_ || strcmp(mc_x_, mc_y_) != 0)             \
			mc_fail(__FILE__, __LINE__,                            \
			        "Assertion '%s == %s' failed: %s == \"%s\", "  \
			        "%s == \"%s\"",                                \
			        #X, #Y, #X, mc_x_ ? mc_x_ : "(null)", #Y,      \
			        mc_y_ ? mc_y_ : "(null)");                     \
	} while (0)

#endif /* GUESTPOLL_MINICHECK_H */
