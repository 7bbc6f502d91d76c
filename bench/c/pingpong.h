/* pingpong.h - what c_pingpong's peer-library rows (pingpong_libev.c,
 * pingpong_libuv.c, pingpong_libevent.c) share with pingpong.c.  Each peer
 * lives in a file of its own because the libraries' headers clash (libev's
 * ev.h and libevent's event2/event.h both define EV_READ, with different
 * values).
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef BENCH_PINGPONG_H
#define BENCH_PINGPONG_H

/* The row's error message, filled by pp_fail. */
extern char pp_errbuf[256];
/* Formats into pp_errbuf; returns -1. */
int pp_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reads the echoed byte from the event loop's (non-blocking) end: 0 or -1.
 */
int pp_read_byte(int fd);

/* Each peer: NULL when built with the library, else why not. */
extern const char *const pp_libev_missing;
extern const char *const pp_libuv_missing;
extern const char *const pp_libevent_missing;

/* setup: makes the loop watch fd for reading; wait_read: runs the loop
 * until the watcher's callback has read the byte; teardown: frees all. */
int pp_libev_setup(void **ctx, int fd);
int pp_libev_wait_read(void *ctx);
void pp_libev_teardown(void *ctx);
int pp_libuv_setup(void **ctx, int fd);
int pp_libuv_wait_read(void *ctx);
void pp_libuv_teardown(void *ctx);
int pp_libevent_setup(void **ctx, int fd);
int pp_libevent_wait_read(void *ctx);
void pp_libevent_teardown(void *ctx);

#endif /* BENCH_PINGPONG_H */
