/*
 * Replay driver for the libFuzzer targets: runs LLVMFuzzerTestOneInput
 * over files, so the corpus is a regression test without libFuzzer.
 *
 * Notes:
 *  - Handles: arguments that are files or directories (every regular file
 *    in a directory, not recursive); with no argument, the directory
 *    $VTSIM_SRCDIR/fuzz/corpus/<FUZZ_CORPUS> (FUZZ_CORPUS is set at build
 *    time). A target that crashes or aborts fails the run.
 *  - Leaves out: libFuzzer's options, minimisation and timing.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef FUZZ_CORPUS
#define FUZZ_CORPUS "lackey"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Run the target on one file; returns 0, or -1 if it cannot be read. */
static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		perror(path);
		return -1;
	}
	do {
		if (len == cap) {
			uint8_t *nb;

			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				fprintf(stderr, "%s: out of memory\n", path);
				return -1;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		perror(path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

/* Run a file or every regular file of a directory; adds to *count. */
static int run_path(const char *path, unsigned *count)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (stat(path, &st) != 0) {
		perror(path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return run_file(path);
	}
	d = opendir(path);
	if (!d) {
		perror(path);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char sub[4096];

		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		if (stat(sub, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		(*count)++;
		if (run_file(sub) < 0)
			rc = -1;
	}
	closedir(d);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned count = 0;
	int i, rc = 0;

	if (argc < 2) {
		const char *srcdir = getenv("VTSIM_SRCDIR");
		char dir[4096];

		snprintf(dir, sizeof(dir), "%s/fuzz/corpus/%s", srcdir && *srcdir ? srcdir : ".",
			 FUZZ_CORPUS);
		rc = run_path(dir, &count);
	}
	for (i = 1; i < argc; i++) {
		if (run_path(argv[i], &count) < 0)
			rc = -1;
	}
	if (count == 0) {
		fprintf(stderr, "replay: no inputs\n");
		return 1;
	}
	printf("%s: %u inputs replayed%s\n", argv[0], count, rc ? ", some unreadable" : "");
	return rc ? 1 : 0;
}
