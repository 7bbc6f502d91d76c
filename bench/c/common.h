/* common.h - shared helpers of the libguestpoll C benchmarks: options,
 * timing, statistics, the JSON-lines output and the echo partner thread.
 *
 * Every benchmark program prints one JSON object per row on stdout and
 * nothing else; diagnostics go to stderr.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct bench_opts {
	double duration;  /* seconds per repetition */
	double warmup;    /* seconds of warm-up per row */
	int reps;         /* repetitions per row */
	const char *only; /* run only rows whose name contains this */
	int list;         /* print the row names to stderr, run nothing */
	const char *cpus; /* --cpus: the CPU list the process runs on */
};

/* Parses --duration S, --reps N, --warmup S, --quick, --only TEXT, --list,
 * --cpus LIST, --help, and applies the CPU affinity (by default the whole
 * process, so every thread of it, runs on one CPU: the first it may use).
 * Returns, or exits (2 on a usage error, 0 after --help). */
void bench_parse(int argc, char **argv, struct bench_opts *o);

static inline int64_t
bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t
bench_sec_to_ns(double s)
{
	return (int64_t)(s * 1e9);
}

/* Whether the row is selected (--only); with --list, names it on stderr
 * and returns 0. */
int bench_selected(const struct bench_opts *o, const char *table,
                   const char *row);

/* A growing array of samples in nanoseconds. */
struct samples {
	int64_t *v;
	size_t n, cap;
};

void samples_reserve(struct samples *s, size_t n);
static inline void
samples_push(struct samples *s, int64_t x)
{
	if (s->n == s->cap)
		samples_reserve(s, s->cap ? s->cap * 2 : 1 << 16);
	s->v[s->n++] = x;
}
void samples_free(struct samples *s);
/* Sorts v[0..n) in place and returns its q-quantile (0 <= q <= 1, nearest
 * rank), in the units of the samples. */
double quantile_sorted(int64_t *v, size_t n, double q);
double median_double(const double *v, int n);

/* Describes one row of output. */
struct row_desc {
	const char *table;
	const char *title;
	const char *row;
	int baseline;
	const char *metric; /* "latency" or "throughput" */
	const char *unit;   /* "us", "us/wait", "ops/s" */
	const char *better; /* "lower" or "higher" */
};

/* Prints one JSON line.  median/p99 may be NAN for null; reps may be NULL
 * (nreps 0).  error NULL means a successful row.  extra, when not NULL, is
 * appended verbatim before the closing brace (", \"key\": value"). */
void emit_row(const struct row_desc *d, double median, double p99,
              const double *reps, int nreps, long long n, const char *error,
              const char *extra);
/* A row that could not be measured. */
void emit_error(const struct row_desc *d, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Prints a message on stderr with the program name. */
void bench_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- the echo partner ------------------------------------------------- */

/* A thread that does blocking 1-byte read() / write() on its descriptor
 * until end of file.  The same partner serves every ping-pong row. */
struct partner {
	pthread_t thread;
	int fd;
	int started;
};

/* Makes a socketpair: *mine is non-blocking (the event loop's end), the
 * partner's end blocking, and starts the partner on it.  Returns 0 or -1
 * (errno set). */
int partner_start(struct partner *pt, int *mine);
/* Closes *mine (the partner sees end of file), joins the partner, closes
 * its end. */
void partner_stop(struct partner *pt, int *mine);

int set_nonblocking(int fd);
/* Raises RLIMIT_NOFILE's soft limit to its hard limit; returns the limit. */
long raise_nofile(void);

/* ---- a minimal blocking eventfd wrapper -------------------------------- */

int efd_open_blocking(void);
/* Adds 1.  Returns 0 or -1. */
int efd_signal(int fd);
/* Blocks until the counter is non-zero and resets it.  Returns 0 or -1. */
int efd_wait(int fd);

#endif /* BENCH_COMMON_H */
