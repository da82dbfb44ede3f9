/*
 * Benchmark: trace reading speed, lackey text against .vtt. Each source
 * (a lackey log, plain or zstd, or a trace-set directory) is imported into
 * a temporary .vtt (vtt_import, as `vtsim trace import`), then both are
 * read to their end with no simulation: the lackey log with trace_open /
 * trace_next (zstd decompression + text parsing), a set through the set
 * reader process by process, the .vtt process by process with
 * vtt_open_proc (zstd decompression + record decoding + checksum). Both
 * end in the same thing: struct guest_event values handed to a consumer
 * the way the guest takes them (frontend_next: a source's batch where it
 * has one, else its next()). Each read is taken REPS times (default 7),
 * lackey and .vtt in turn so that a change in the machine's load falls on
 * both, and the fastest kept, in CPU time of the process
 * (CLOCK_PROCESS_CPUTIME_ID: a shared machine's other load stays out).
 * Prints events, seconds, millions of events per second, the speed-up,
 * whether it meets issue 7's target (.vtt replay at least 3x faster than
 * parsing the lackey text it came from) and both file sizes; asserts
 * nothing (a test never depends on the machine's speed).
 *
 * Usage: bench_trace [TRACE...]   (default: the traces in $VTSIM_SRCDIR/traces)
 * Environment: BENCH_TRACE_REPS=N reads each N times (1..100).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "trace/trace.h"
#include "trace/traceset.h"
#include "trace/vtt.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Drain one stream as the guest takes events (frontend_next: the source's
 * batch when it has one, else its next()); the sum of the addresses keeps
 * the loop honest. */
static int drain(struct frontend *fe, uint64_t *events, uint64_t *sum)
{
	struct guest_event ev;
	char err[TRACE_ERR_LEN];
	int r;
	while ((r = frontend_next(fe, &ev, err)) == 1) {
		(*events)++;
		*sum += ev.gva;
	}
	if (r < 0)
		fprintf(stderr, "bench_trace: %s\n", err);
	return r;
}

static int lackey_next_fe(void *ctx, struct guest_event *ev, char *err)
{
	return trace_next(ctx, ev, err);
}

/* Read a lackey log or set to its end: events, or -1. */
static int read_source(const char *path, uint64_t *events, uint64_t *sum)
{
	char err[TRACE_ERR_LEN];
	if (!traceset_is_dir(path)) {
		struct trace_reader *tr = trace_open(path, err);
		if (!tr) {
			fprintf(stderr, "bench_trace: %s\n", err);
			return -1;
		}
		struct frontend fe = {lackey_next_fe, tr, NULL};
		int r = drain(&fe, events, sum);
		trace_close(tr);
		return r;
	}
	/* A set: every process, in the import's order (from the root down). */
	struct traceset *ts = traceset_open(path, err);
	if (!ts) {
		fprintf(stderr, "bench_trace: %s\n", err);
		return -1;
	}
	uint32_t queue[256];
	size_t nq = 0;
	int r = 0;
	queue[nq++] = traceset_root(ts);
	for (size_t q = 0; q < nq && r == 0; q++) {
		struct frontend fe = {0};
		struct guest_event ev;
		if (traceset_open_proc(ts, queue[q], &fe, err) < 0) {
			fprintf(stderr, "bench_trace: %s\n", err);
			r = -1;
			break;
		}
		while ((r = fe.next(fe.ctx, &ev, err)) == 1) {
			(*events)++;
			*sum += ev.gva;
			if (ev.kind == GEV_PROC_CREATE && !(ev.arg & 1) && nq < 256)
				queue[nq++] = ev.pid;
		}
		if (r < 0)
			fprintf(stderr, "bench_trace: %s\n", err);
		traceset_close_proc(ts, queue[q]);
	}
	traceset_close(ts);
	return r;
}

static int read_vtt(const char *path, uint64_t *events, uint64_t *sum)
{
	char err[TRACE_ERR_LEN];
	struct vtt *f = vtt_open(path, err);
	int r = 0;
	if (!f) {
		fprintf(stderr, "bench_trace: %s\n", err);
		return -1;
	}
	for (size_t i = 0; i < vtt_streams(f) && r == 0; i++) {
		struct frontend fe = {0};
		if (vtt_open_proc(f, vtt_stream(f, i)->pid, &fe, err) < 0) {
			fprintf(stderr, "bench_trace: %s\n", err);
			r = -1;
			break;
		}
		r = drain(&fe, events, sum);
		vtt_close_proc(f, vtt_stream(f, i)->pid);
	}
	vtt_close(f);
	return r;
}

/* One timed read into *best (the fastest so far): 0, or -1 on error. */
static int timed(int (*rd)(const char *, uint64_t *, uint64_t *), const char *path, uint64_t *events,
		 uint64_t *sum, double *best)
{
	*events = *sum = 0;
	double t0 = now();
	if (rd(path, events, sum) < 0)
		return -1;
	double t = now() - t0;
	*best = t < *best ? t : *best;
	return 0;
}

int main(int argc, char **argv)
{
	const char *src = getenv("VTSIM_SRCDIR");
	static const char *const defaults[] = {"sort.lackey.zst", "gzip.lackey.zst", "sqlite3.lackey.zst", "pipeline.d"};
	enum { NDEF = sizeof(defaults) / sizeof(defaults[0]) };
	char paths[NDEF][4096];
	const char *list[NDEF];
	const char **traces = list;
	int n = NDEF;
	if (argc > 1) {
		traces = (const char **)(argv + 1);
		n = argc - 1;
	} else {
		for (int i = 0; i < NDEF; i++) {
			snprintf(paths[i], sizeof(paths[i]), "%s/traces/%s", src ? src : ".", defaults[i]);
			list[i] = paths[i];
		}
	}
	const char *tmpdir = getenv("TMPDIR");
	const char *reps_env = getenv("BENCH_TRACE_REPS");
	int reps = reps_env ? atoi(reps_env) : 7;
	if (reps < 1 || reps > 100) {
		fprintf(stderr, "bench_trace: BENCH_TRACE_REPS must be 1..100\n");
		return 2;
	}
	printf("%-20s %10s %10s %9s %10s %9s %8s %6s %12s %12s\n", "trace", "events", "lackey s", "Mev/s", "vtt s",
	       "Mev/s", "speedup", ">=3x", "source B", "vtt B");
	for (int t = 0; t < n; t++) {
		const char *name = strrchr(traces[t], '/') ? strrchr(traces[t], '/') + 1 : traces[t];
		char out[4096], err[TRACE_ERR_LEN];
		struct vtt_import_stats st;
		snprintf(out, sizeof(out), "%s/bench_trace.%ld.vtt", tmpdir && *tmpdir ? tmpdir : "/tmp",
			 (long)getpid());
		if (vtt_import(traces[t], out, &st, err) < 0) {
			fprintf(stderr, "bench_trace: %s\n", err);
			return 1;
		}
		uint64_t ev1, ev2, s1, s2;
		double t1 = 1e30, t2 = 1e30;
		int rc = 0;
		for (int rep = 0; rep < reps && rc == 0; rep++)
			rc = timed(read_source, traces[t], &ev1, &s1, &t1) < 0 || timed(read_vtt, out, &ev2, &s2, &t2) < 0;
		unlink(out);
		if (rc)
			return 1;
		if (ev1 != ev2 || s1 != s2) {
			fprintf(stderr, "bench_trace: %s: the .vtt gives other events than its source\n", name);
			return 1;
		}
		printf("%-20s %10" PRIu64 " %10.4f %9.1f %10.4f %9.1f %7.2fx %6s %12" PRIu64 " %12" PRIu64 "\n", name,
		       ev1, t1, (double)ev1 / t1 / 1e6, t2, (double)ev2 / t2 / 1e6, t1 / t2, t1 >= 3 * t2 ? "yes" : "NO",
		       st.source_bytes, st.out_bytes);
	}
	return 0;
}
