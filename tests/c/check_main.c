/* check_main.c - runs the libguestpoll Check suites for one backend.
 *
 * The backend is the one GUESTPOLL_BACKEND names (run-epoll.sh,
 * run-kqueue.sh and run-poll.sh set it), or the platform's default when
 * unset.  If that backend is not available here, the program says why and
 * exits 77, which automake reports as SKIP.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

int
main(void)
{
	const char *env = getenv("GUESTPOLL_BACKEND");
	gp_poller *p = NULL;
	SRunner *sr;
	int id = -1, r, failed;

	tu_init();
	if (!env || !*env)
		env = gp_backend_name(GP_BACKEND_DEFAULT);
	/* The library's registry names the backends (ids 0, 1, ...). */
	for (int i = 0; gp_backend_name(i); i++)
		if (strcmp(env, gp_backend_name(i)) == 0)
			id = i;
	if (id < 0) {
		fprintf(stderr, "GUESTPOLL_BACKEND=%s: not a backend name\n",
		        env);
		return 99;
	}
	if (id == GP_BACKEND_KQUEUE && !gp_backend_available(id)) {
		printf("backend kqueue: not built (configure found no native "
		       "kqueue and no libkqueue); skipping\n");
		return 77;
	}
	if (id != GP_BACKEND_DEFAULT && !gp_backend_available(id)) {
		printf("backend %s: not available on this platform "
		       "(gp_backend_available() == 0); skipping\n",
		       gp_backend_name(id));
		return 77;
	}
	r = gp_poller_new(&p, NULL);
	if (r != 0) {
		fprintf(stderr, "gp_poller_new with GUESTPOLL_BACKEND=%s: %s\n",
		        env, gp_strerror(r));
		return 99;
	}
	snprintf(tu_backend, sizeof tu_backend, "%s", gp_poller_backend(p));
	gp_poller_free(p);
	if (id != GP_BACKEND_DEFAULT &&
	    strcmp(tu_backend, gp_backend_name(id)) != 0) {
		fprintf(stderr, "GUESTPOLL_BACKEND=%s but the poller uses %s\n",
		        env, tu_backend);
		return 99;
	}
	printf("libguestpoll %s: testing backend %s%s\n", gp_version(),
	       tu_backend, id == GP_BACKEND_DEFAULT ? " (default)" : "");
	fflush(stdout);

	sr = srunner_create(basic_suite());
	srunner_add_suite(sr, errors_suite());
	srunner_add_suite(sr, modes_suite());
	srunner_add_suite(sr, wait_suite());
	srunner_add_suite(sr, threads_suite());
	srunner_add_suite(sr, split_suite());
	srunner_add_suite(sr, cancel_suite());
	srunner_add_suite(sr, stale_suite());
	srunner_add_suite(sr, lifecycle_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
