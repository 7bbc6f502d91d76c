/* common.c - shared helpers of the libguestpoll C benchmarks.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *progname = "bench";

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: %s [--duration SECONDS] [--reps N] [--warmup SECONDS]\n"
	        "          [--quick] [--only TEXT] [--list] [--cpus LIST]\n"
	        "  --duration  seconds per repetition (default 2)\n"
	        "  --reps      repetitions per row (default 3)\n"
	        "  --warmup    seconds of warm-up per row (default 0.5)\n"
	        "  --quick     smoke test: 0.2 s x 3, warm-up 0.1 s\n"
	        "  --only      run only rows whose name contains TEXT\n"
	        "  --list      name the rows on stderr and run nothing\n"
	        "  --cpus      CPUs to run on, e.g. 0 or 0-1 or 0,2; \"all\" "
	        "keeps\n"
	        "              the inherited affinity.  Default: the first "
	        "CPU\n"
	        "              allowed, so that all threads share one CPU\n"
	        "Prints one JSON object per row on stdout.\n",
	        progname);
}

/* The CPU list in force, reported in every row as "cpus". */
static char cpus_used[128] = "all";

/* Parses "0", "0-3", "0,2-3" into a set.  Returns 0 or -1. */
static int
parse_cpus(const char *s, cpu_set_t *set)
{
	CPU_ZERO(set);
	while (*s) {
		char *end;
		long a = strtol(s, &end, 10), b;

		if (end == s || a < 0 || a >= CPU_SETSIZE)
			return -1;
		b = a;
		if (*end == '-') {
			s = end + 1;
			b = strtol(s, &end, 10);
			if (end == s || b < a || b >= CPU_SETSIZE)
				return -1;
		}
		for (long c = a; c <= b; c++)
			CPU_SET((int)c, set);
		if (*end == ',')
			end++;
		else if (*end)
			return -1;
		s = end;
	}
	return CPU_COUNT(set) ? 0 : -1;
}

static void
apply_cpus(const char *list)
{
	cpu_set_t set;
	size_t len = 0;

	if (list && strcmp(list, "all") == 0)
		return;
	if (list) {
		if (parse_cpus(list, &set) < 0) {
			fprintf(stderr, "%s: bad --cpus list '%s'\n", progname,
			        list);
			exit(2);
		}
	} else {
		/* Default: the first CPU we may run on.  With the threads of
		 * a row spread over CPUs, each cross-CPU wake-up costs what
		 * the (virtual) machine charges for an IPI and an idle exit,
		 * and the scheduler's placement makes runs bimodal. */
		cpu_set_t allowed;
		if (sched_getaffinity(0, sizeof allowed, &allowed) < 0)
			return;
		CPU_ZERO(&set);
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &allowed)) {
				CPU_SET(c, &set);
				break;
			}
	}
	if (sched_setaffinity(0, sizeof set, &set) < 0) {
		fprintf(stderr, "%s: sched_setaffinity: %s\n", progname,
		        strerror(errno));
		exit(1);
	}
	cpus_used[0] = '\0';
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set) && len + 12 < sizeof cpus_used)
			len += (size_t)snprintf(cpus_used + len,
			                        sizeof cpus_used - len, "%s%d",
			                        len ? "," : "", c);
}

static double
parse_double(const char *opt, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s ? s : "", &end);
	if (!s || errno || end == s || *end || !(v >= 0) || v > 3600) {
		fprintf(stderr, "%s: bad value for %s\n", progname, opt);
		exit(2);
	}
	return v;
}

void
bench_parse(int argc, char **argv, struct bench_opts *o)
{
	const char *slash = strrchr(argv[0], '/');

	progname = slash ? slash + 1 : argv[0];
	o->duration = 2.0;
	o->warmup = 0.5;
	o->reps = 3;
	o->only = NULL;
	o->list = 0;
	o->cpus = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--duration") == 0) {
			o->duration = parse_double(a, v);
			i++;
		} else if (strcmp(a, "--warmup") == 0) {
			o->warmup = parse_double(a, v);
			i++;
		} else if (strcmp(a, "--reps") == 0) {
			double r = parse_double(a, v);
			if (r < 1 || r > 1000 || r != (int)r) {
				fprintf(stderr, "%s: bad value for --reps\n",
				        progname);
				exit(2);
			}
			o->reps = (int)r;
			i++;
		} else if (strcmp(a, "--quick") == 0) {
			o->duration = 0.2;
			o->reps = 3;
			o->warmup = 0.1;
		} else if (strcmp(a, "--only") == 0 && v) {
			o->only = v;
			i++;
		} else if (strcmp(a, "--cpus") == 0 && v) {
			o->cpus = v;
			i++;
		} else if (strcmp(a, "--list") == 0) {
			o->list = 1;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		} else {
			usage(stderr);
			exit(2);
		}
	}
	if (o->duration <= 0) {
		fprintf(stderr, "%s: --duration must be > 0\n", progname);
		exit(2);
	}
	apply_cpus(o->cpus);
	/* One line per row, even when stdout is a pipe. */
	setvbuf(stdout, NULL, _IOLBF, 0);
}

int
bench_selected(const struct bench_opts *o, const char *table, const char *row)
{
	if (o->only && !strstr(row, o->only) && !strstr(table, o->only))
		return 0;
	if (o->list) {
		fprintf(stderr, "%s\t%s\n", table, row);
		return 0;
	}
	return 1;
}

void
bench_log(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- statistics ---------------------------------------------------------- */

void
samples_reserve(struct samples *s, size_t n)
{
	int64_t *v;

	if (n <= s->cap)
		return;
	v = realloc(s->v, n * sizeof *v);
	if (!v) {
		bench_log("out of memory (%zu samples)", n);
		exit(1);
	}
	s->v = v;
	s->cap = n;
}

void
samples_free(struct samples *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double
quantile_sorted(int64_t *v, size_t n, double q)
{
	size_t k;

	if (n == 0)
		return NAN;
	qsort(v, n, sizeof *v, cmp_i64);
	if (q == 0.5 && n % 2 == 0)
		return (v[n / 2 - 1] + v[n / 2]) / 2.0;
	/* nearest rank: the smallest value with at least q of the samples
	 * at or below it */
	k = (size_t)ceil(q * (double)n);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return (double)v[k - 1];
}

double
median_double(const double *v, int n)
{
	double *c, m;

	if (n <= 0)
		return NAN;
	c = malloc((size_t)n * sizeof *c);
	if (!c)
		return NAN;
	memcpy(c, v, (size_t)n * sizeof *c);
	qsort(c, (size_t)n, sizeof *c, cmp_double);
	m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2.0;
	free(c);
	return m;
}

/* ---- output -------------------------------------------------------------- */

static void
json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void
json_number(double v)
{
	if (isnan(v) || isinf(v))
		fputs("null", stdout);
	else if (fabs(v) >= 1e5)
		printf("%.1f", v);
	else
		printf("%.4g", v);
}

void
emit_row(const struct row_desc *d, double median, double p99,
         const double *reps, int nreps, long long n, const char *error,
         const char *extra)
{
	fputs("{\"table\": ", stdout);
	json_string(d->table);
	fputs(", \"title\": ", stdout);
	json_string(d->title);
	fputs(", \"row\": ", stdout);
	json_string(d->row);
	printf(", \"baseline\": %s, \"metric\": ",
	       d->baseline ? "true" : "false");
	json_string(d->metric);
	fputs(", \"unit\": ", stdout);
	json_string(d->unit);
	fputs(", \"better\": ", stdout);
	json_string(d->better);
	fputs(", \"median\": ", stdout);
	json_number(median);
	fputs(", \"p99\": ", stdout);
	json_number(p99);
	fputs(", \"reps\": [", stdout);
	for (int i = 0; i < nreps; i++) {
		if (i)
			fputs(", ", stdout);
		json_number(reps[i]);
	}
	printf("], \"n\": %lld, \"error\": ", n);
	if (error)
		json_string(error);
	else
		fputs("null", stdout);
	if (extra)
		fputs(extra, stdout);
	fputs(", \"cpus\": ", stdout);
	json_string(cpus_used);
	fputs("}\n", stdout);
	fflush(stdout);
}

void
emit_error(const struct row_desc *d, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	bench_log("%s / %s: %s", d->table, d->row, msg);
	emit_row(d, NAN, NAN, NULL, 0, 0, msg, NULL);
}

/* ---- descriptors --------------------------------------------------------- */

int
set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return 0;
}

long
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur == RLIM_INFINITY ? 1L << 30 : (long)rl.rlim_cur;
}

int
efd_open_blocking(void)
{
	return eventfd(0, EFD_CLOEXEC);
}

int
efd_signal(int fd)
{
	uint64_t one = 1;
	ssize_t r;

	do
		r = write(fd, &one, sizeof one);
	while (r < 0 && errno == EINTR);
	return r == sizeof one ? 0 : -1;
}

int
efd_wait(int fd)
{
	uint64_t v;
	ssize_t r;

	do
		r = read(fd, &v, sizeof v);
	while (r < 0 && errno == EINTR);
	return r == sizeof v ? 0 : -1;
}

/* ---- the echo partner ---------------------------------------------------- */

static void *
partner_main(void *arg)
{
	struct partner *pt = arg;
	char b;

	for (;;) {
		ssize_t r = read(pt->fd, &b, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r != 1)
			break; /* end of file: the row is over */
		do
			r = write(pt->fd, &b, 1);
		while (r < 0 && errno == EINTR);
		if (r != 1)
			break;
	}
	return NULL;
}

int
partner_start(struct partner *pt, int *mine)
{
	int sv[2], rc;

	pt->started = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	if (set_nonblocking(sv[0]) < 0)
		goto fail;
	pt->fd = sv[1];
	rc = pthread_create(&pt->thread, NULL, partner_main, pt);
	if (rc != 0) {
		errno = rc;
		goto fail;
	}
	pt->started = 1;
	*mine = sv[0];
	return 0;
fail:
	rc = errno;
	close(sv[0]);
	close(sv[1]);
	errno = rc;
	return -1;
}

void
partner_stop(struct partner *pt, int *mine)
{
	if (*mine >= 0) {
		/* shutdown() makes the partner's read() return 0 even if
		 * some other copy of the descriptor were still open. */
		shutdown(*mine, SHUT_RDWR);
		close(*mine);
		*mine = -1;
	}
	if (pt->started) {
		pthread_join(pt->thread, NULL);
		close(pt->fd);
		pt->started = 0;
	}
}
