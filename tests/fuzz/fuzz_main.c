/* fuzz_main.c - replays fuzz inputs without libFuzzer: each argument is a
 * file or a directory of files, each file one input for
 * LLVMFuzzerTestOneInput().  make check runs the committed corpus and the
 * regression inputs through it with every backend, so that a finding stays
 * fixed on any compiler.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _GNU_SOURCE

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../backend_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long len;

	if (!f) {
		perror(path);
		return -1;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		perror(path);
		fclose(f);
		return -1;
	}
	buf = malloc(len ? (size_t)len : 1);
	if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
		perror(path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)len); /* aborts on a violation */
	free(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	int backend = tb_backend_from_env("fuzz_main"), n = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		DIR *d;
		struct dirent *e;

		if (stat(argv[i], &st) < 0) {
			perror(argv[i]);
			return 99;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (run_file(argv[i]) < 0)
				return 99;
			n++;
			continue;
		}
		if (!(d = opendir(argv[i]))) {
			perror(argv[i]);
			return 99;
		}
		while ((e = readdir(d))) {
			char path[4096];
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s/%s", argv[i],
			         e->d_name);
			if (run_file(path) < 0) {
				closedir(d);
				return 99;
			}
			n++;
		}
		closedir(d);
	}
	printf("fuzz_main: backend %s: %d inputs replayed, no violation\n",
	       gp_backend_name(backend), n);
	return 0;
}
