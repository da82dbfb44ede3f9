/*
 * Benchmark: simulated guest memory references per second per mode, on
 * the shipped traces, end to end (trace decompression + lackey parsing +
 * simulation) and for the simulation alone (events decoded into memory
 * first), with the peak RSS of each run. Each measurement runs in its own
 * child process so RSS is per run; each is taken 3 times and the fastest
 * kept (the machine's noise only ever adds time). A trace set (directory)
 * or a .vtt is measured end to end only. Prints a table; asserts nothing.
 *
 * Usage: bench_sim [TRACE...]   (default: the traces in $VTSIM_SRCDIR/traces)
 */
#define _DEFAULT_SOURCE /* wait4 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/run.h"
#include "trace/event_array.h"
#include "trace/trace.h"
#include "trace/vtt.h"

static int load_events(const char *path, struct event_array *f)
{
	char err[TRACE_ERR_LEN];
	struct trace_reader *tr = trace_open(path, err);
	if (!tr) {
		fprintf(stderr, "bench_sim: %s\n", err);
		return -1;
	}
	struct guest_event ev;
	int rc;
	while ((rc = trace_next(tr, &ev, err)) == 1) {
		if (event_array_push(f, &ev) < 0) {
			fprintf(stderr, "bench_sim: out of memory\n");
			return -1;
		}
	}
	trace_close(tr);
	if (rc < 0)
		fprintf(stderr, "bench_sim: %s\n", err);
	return rc;
}

static uint64_t refs_of(const struct run_result *r)
{
	return r->ctr.v[CTR_MEM_REFS_FETCH] + r->ctr.v[CTR_MEM_REFS_LOAD] + r->ctr.v[CTR_MEM_REFS_STORE] +
	       r->ctr.v[CTR_MEM_REFS_MODIFY];
}

/* Run one measurement in a child; returns refs, seconds and peak RSS (KiB). */
static int measure(const char *path, enum sim_mode mode, bool sim_only, uint64_t *refs, double *secs, long *rss_kib)
{
	int pfd[2];
	if (pipe(pfd) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(pfd[0]);
		struct sim_params p;
		params_defaults(&p);
		struct run_result *r = calloc(1, sizeof(*r));
		char err[CPU_ERR_LEN];
		int rc;
		if (sim_only) {
			struct event_array f = {0};
			if (load_events(path, &f) < 0)
				_exit(1);
			struct frontend fe = {event_array_next, &f, NULL};
			rc = sim_run_frontend(&p, mode, &fe, r, NULL, err);
		} else {
			rc = sim_run(&p, mode, path, r, NULL, NULL, NULL, err);
		}
		if (rc != 0) {
			fprintf(stderr, "bench_sim: %s\n", err);
			_exit(1);
		}
		uint64_t out[2] = {refs_of(r), 0};
		memcpy(&out[1], &r->wall_seconds, sizeof(double));
		if (write(pfd[1], out, sizeof(out)) != (ssize_t)sizeof(out))
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	uint64_t in[2];
	ssize_t got = read(pfd[0], in, sizeof(in));
	close(pfd[0]);
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) || got != sizeof(in))
		return -1;
	*refs = in[0];
	memcpy(secs, &in[1], sizeof(double));
	*rss_kib = ru.ru_maxrss;
	return 0;
}

int main(int argc, char **argv)
{
	const char *src = getenv("VTSIM_SRCDIR");
	static const char *const defaults[] = {"sort.lackey.zst", "gzip.lackey.zst", "sqlite3.lackey.zst", "pipeline.d"};
	enum { NDEF = sizeof(defaults) / sizeof(defaults[0]) };
	char paths[NDEF][4096];
	const char **traces;
	int n;
	if (argc > 1) {
		traces = (const char **)(argv + 1);
		n = argc - 1;
	} else {
		static const char *list[NDEF];
		for (int i = 0; i < NDEF; i++) {
			snprintf(paths[i], sizeof(paths[i]), "%s/traces/%s", src ? src : ".", defaults[i]);
			list[i] = paths[i];
		}
		traces = list;
		n = NDEF;
	}
	printf("%-22s %-7s %12s %10s %10s %9s %10s %9s\n", "trace", "mode", "refs", "e2e s", "e2e Mref/s", "sim s",
	       "sim Mref/s", "RSS MiB");
	for (int t = 0; t < n; t++) {
		const char *name = strrchr(traces[t], '/') ? strrchr(traces[t], '/') + 1 : traces[t];
		struct stat st;
		/* a set or a .vtt (several streams) is measured end to end only */
		bool set = (stat(traces[t], &st) == 0 && S_ISDIR(st.st_mode)) || vtt_sniff_file(traces[t]);
		for (int m = 0; m < MODE_COUNT; m++) {
			uint64_t refs = 0, refs2 = 0;
			double e2e = 1e30, sim = 1e30;
			long rss = 0;
			for (int rep = 0; rep < 3; rep++) {
				uint64_t r;
				double s_;
				long k;
				if (measure(traces[t], (enum sim_mode)m, false, &r, &s_, &k) < 0) {
					fprintf(stderr, "bench_sim: %s %s failed\n", name, mode_name((enum sim_mode)m));
					return 1;
				}
				refs = r;
				e2e = s_ < e2e ? s_ : e2e;
				rss = k > rss ? k : rss;
				if (!set) {
					if (measure(traces[t], (enum sim_mode)m, true, &r, &s_, &k) < 0) {
						fprintf(stderr, "bench_sim: %s %s failed\n", name,
							mode_name((enum sim_mode)m));
						return 1;
					}
					refs2 = r;
					sim = s_ < sim ? s_ : sim;
				}
			}
			if (set)
				printf("%-22s %-7s %12" PRIu64 " %10.3f %10.1f %9s %10s %9.1f\n", name,
				       mode_name((enum sim_mode)m), refs, e2e, (double)refs / e2e / 1e6, "-", "-",
				       (double)rss / 1024.0);
			else
				printf("%-22s %-7s %12" PRIu64 " %10.3f %10.1f %9.3f %10.1f %9.1f\n", name,
				       mode_name((enum sim_mode)m), refs, e2e, (double)refs / e2e / 1e6, sim,
				       (double)refs2 / sim / 1e6, (double)rss / 1024.0);
		}
	}
	return 0;
}
