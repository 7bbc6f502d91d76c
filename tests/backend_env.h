/* backend_env.h - the backend a test program runs on, shared by the
 * stress, fuzz and fault programs (tests/each-backend.sh runs them once per
 * backend): the one the GUESTPOLL_BACKEND environment variable names, as
 * gp_poller_new() reads it, checked up front so that a backend this
 * platform lacks is a skip (exit 77, automake's SKIP) and an unknown name
 * a setup error (exit 99).
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef TESTS_BACKEND_ENV_H
#define TESTS_BACKEND_ENV_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guestpoll.h"

/* GP_BACKEND_DEFAULT when GUESTPOLL_BACKEND is unset, empty or "default";
 * else the named backend's id, or exit as above. */
static inline int
tb_backend_from_env(const char *prog)
{
	const char *name = getenv("GUESTPOLL_BACKEND");

	if (!name || !*name || strcmp(name, "default") == 0)
		return GP_BACKEND_DEFAULT;
	for (int b = 1; gp_backend_name(b); b++) {
		if (strcmp(name, gp_backend_name(b)) != 0)
			continue;
		if (!gp_backend_available(b)) {
			printf("%s: backend %s not available here, skipped\n",
			       prog, name);
			exit(77);
		}
		return b;
	}
	fprintf(stderr, "%s: GUESTPOLL_BACKEND=%s: not a backend name\n", prog,
	        name);
	exit(99);
}

#endif /* TESTS_BACKEND_ENV_H */
