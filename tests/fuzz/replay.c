/*
 * Copyright (c) 2026 The tenantd authors. ISC license, see LICENSE.
 *
 * Corpus replay for builds without libFuzzer: runs a fuzz target's
 * LLVMFuzzerTestOneInput() over every file in the directories (or the
 * single files) named on the command line, so the seed corpora and any
 * crash found by run.sh are regression tests in the ordinary gcc build.
 * Each input gets its own allocation of exactly its size, as under
 * libFuzzer, so a valgrind run of this binary sees overreads too.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
replay_file(const char *path)
{
	struct stat	 st;
	FILE		*f;
	uint8_t		*buf;
	size_t		 n;

	if ((f = fopen(path, "re")) == NULL || fstat(fileno(f), &st) == -1) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		if (f != NULL)
			fclose(f);
		return -1;
	}
	/* One byte more than the file, but only its size is handed on. */
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		fclose(f);
		return -1;
	}
	n = fread(buf, 1, (size_t)st.st_size + 1, f);
	if (ferror(f) || n != (size_t)st.st_size) {
		fprintf(stderr, "replay: %s: short read\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	/* Named first, so a crash shows which input it was. */
	printf("replay: %s\n", path);
	fflush(stdout);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

static int
skip_dots(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

int
main(int argc, char *argv[])
{
	struct dirent	**ents;
	struct stat	  st;
	char		  path[4096];
	int		  i, j, n, count = 0, bad = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s corpus-dir-or-file ...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == -1) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
			    strerror(errno));
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			bad |= replay_file(argv[i]);
			count++;
			continue;
		}
		/* Sorted, so a failure reproduces in the same order. */
		if ((n = scandir(argv[i], &ents, skip_dots, alphasort)) == -1) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
			    strerror(errno));
			return 1;
		}
		for (j = 0; j < n; j++) {
			snprintf(path, sizeof(path), "%s/%s", argv[i],
			    ents[j]->d_name);
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
				bad |= replay_file(path);
				count++;
			}
			free(ents[j]);
		}
		free(ents);
	}
	/* An empty or missing corpus must not pass for a tested one. */
	if (count == 0) {
		fprintf(stderr, "replay: no inputs\n");
		return 1;
	}
	printf("replay: %d inputs, no crash\n", count);
	return bad ? 1 : 0;
}
