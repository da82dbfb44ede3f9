/*
 * Unit tests for the drmemtrace reader (src/trace/drmem.c): the shared
 * DynamoRIO samples read event for event in both thread modes, import to
 * .vtt stream for stream, and small archives built here (libzip) for each
 * record kind and each refused or corrupt input, with its exact message.
 *
 * Notes:
 *  - The samples are read in place from $VTSIM_DRMEMTRACE (set by
 *    `make check` to ../shared/traces/drmemtrace beside the source tree);
 *    a missing directory fails the sample cases, it does not skip them.
 *  - The expected sample figures were worked out once by an independent
 *    Python script (zipfile + struct, written for this test and not part
 *    of vtsim) that parses every record of every member and applies the
 *    mapping of docs/trace-format.md: fetch = record types 10-16, 29, 31,
 *    48, 49; load = 0, 2-9, 20, 32-46; store = 1; sizes 0 -> 1. For the
 *    threads mode it also splits each thread at its timestamp markers,
 *    sorts all segments by (timestamp, thread order, segment number),
 *    puts a creation before each non-main thread's first segment and an
 *    exit at the end, and hashes the events in that order:
 *      h = h * 1000003 + x (mod 2^64) for x in (kind, gva, size, pid, arg)
 *    (a creation hashed as (7, tid, pid, 1), the exit as (8, 0, 0, pid, 0)).
 *    Its output:
 *      allasm:     tid 1992554: fetch 133, no data; 134 events, hash 0xb7aceb716aaa9522
 *      simple_app: tid 1438993: fetch 136412 load 31507 store 12338;
 *                  180258 events, hash 0x8c48f9375fe0c861
 *      threadsig:  9 threads (table below); 923069 events, hash 0x9e84433e27bdc33f
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zip.h>

#include "trace/drmem.h"
#include "trace/drmem_format.h"
#include "trace/trace.h"
#include "trace/vtt.h"

/* ---- helpers -------------------------------------------------------------- */

static char *sample(const char *name)
{
	static char path[4][1024];
	static int k;
	const char *dir = getenv("VTSIM_DRMEMTRACE");
	struct stat sb;

	ck_assert_msg(dir && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode),
		      "the drmemtrace samples are not at VTSIM_DRMEMTRACE=%s (../shared/traces/drmemtrace)",
		      dir ? dir : "(unset)");
	k = (k + 1) % 4;
	snprintf(path[k], sizeof(path[k]), "%s/%s", dir, name);
	return path[k];
}

static uint64_t hash_step(uint64_t h, uint64_t x)
{
	return h * 1000003u + x;
}

/* Python's per-event hash (see Notes). */
static uint64_t hash_event(uint64_t h, const struct guest_event *ev)
{
	if (ev->kind == GEV_PROC_CREATE)
		return hash_step(hash_step(hash_step(hash_step(h, 7), ev->pid), ev->gva), ev->arg);
	if (ev->kind == GEV_PROC_EXIT)
		return hash_step(hash_step(hash_step(hash_step(hash_step(h, 8), 0), 0), ev->pid), 0);
	h = hash_step(h, (uint64_t)ev->kind);
	h = hash_step(h, ev->gva);
	h = hash_step(h, ev->size);
	h = hash_step(h, ev->pid);
	return hash_step(h, ev->arg);
}

struct counts {
	uint32_t pid;
	uint64_t kind[GEV_KIND_COUNT];
	uint64_t events, hash;
};

/*
 * Read every process of a proc_source from the root down (creation order),
 * as a run and an import do: per-process counts into c[] (at most max).
 * Returns the number of processes, or -1 with the reader's message in err.
 */
static int read_procs(const struct proc_source *ps, struct counts *c, int max, char *err)
{
	uint32_t queue[64];
	int nq = 0;

	queue[nq++] = ps->root;
	for (int q = 0; q < nq; q++) {
		struct frontend fe;
		struct guest_event ev;
		int r = ps->open(ps->ctx, queue[q], &fe, err);

		ck_assert_int_eq(r == 1, 0);
		if (r < 0)
			return -1;
		ck_assert_int_lt(q, max);
		memset(&c[q], 0, sizeof(c[q]));
		c[q].pid = queue[q];
		while ((r = fe.next(fe.ctx, &ev, err)) == 1) {
			c[q].kind[ev.kind]++;
			c[q].events++;
			c[q].hash = hash_event(c[q].hash, &ev);
			if (ev.kind == GEV_PROC_CREATE && !(ev.arg & 1)) {
				ck_assert_int_lt(nq, 64);
				queue[nq++] = ev.pid;
			}
		}
		ps->close(ps->ctx, queue[q]);
		if (r < 0)
			return -1;
	}
	return nq;
}

static int read_drmem(const char *path, enum drmem_threads how, struct counts *c, int max, char *err)
{
	struct drmem *d = drmem_open(path, how, err);
	struct proc_source ps;

	if (!d)
		return -1;
	drmem_proc_source(d, &ps);
	int n = read_procs(&ps, c, max, err);
	drmem_close(d);
	return n;
}

/* ---- the shared samples ----------------------------------------------------- */

START_TEST(test_drmem_sample_allasm)
{
	char err[TRACE_ERR_LEN];
	struct counts c[2];
	const char *p = sample("allasm_x86_64.trace.zip");

	ck_assert_int_eq(drmem_sniff_file(p), 1);
	ck_assert_int_eq(drmem_is_dir(p), 0);
	ck_assert_msg(read_drmem(p, DRMEM_AS_THREADS, c, 2, err) == 1, "%s", err);
	ck_assert_uint_eq(c[0].pid, 1992554);
	ck_assert_uint_eq(c[0].kind[GEV_FETCH], 133);
	ck_assert_uint_eq(c[0].kind[GEV_LOAD] + c[0].kind[GEV_STORE] + c[0].kind[GEV_PROC_CREATE], 0);
	ck_assert_uint_eq(c[0].kind[GEV_PROC_EXIT], 1);
	ck_assert_uint_eq(c[0].events, 134);
	ck_assert_uint_eq(c[0].hash, UINT64_C(0xb7aceb716aaa9522));
	/* One thread: both modes read the same. */
	ck_assert_msg(read_drmem(p, DRMEM_AS_PROCESSES, c, 2, err) == 1, "%s", err);
	ck_assert_uint_eq(c[0].hash, UINT64_C(0xb7aceb716aaa9522));
}
END_TEST

START_TEST(test_drmem_sample_simple_app)
{
	char err[TRACE_ERR_LEN];
	struct counts c[2];
	struct drmem *d = drmem_open(sample("simple_app.trace.zip"), DRMEM_AS_THREADS, err);

	ck_assert_msg(d != NULL, "%s", err);
	ck_assert_uint_eq(drmem_version(d), 4);
	ck_assert_uint_eq(drmem_threads(d), 1);
	ck_assert_uint_eq(drmem_total_bytes(d), 2302812); /* unzip -l: chunk.0000's length */
	ck_assert_uint_eq(drmem_file_bytes(d), 195895);
	ck_assert_str_eq(drmem_format(d), "drmemtrace");
	drmem_close(d);
	ck_assert_msg(read_drmem(sample("simple_app.trace.zip"), DRMEM_AS_THREADS, c, 2, err) == 1, "%s", err);
	ck_assert_uint_eq(c[0].pid, 1438993);
	ck_assert_uint_eq(c[0].kind[GEV_FETCH], 136412);
	ck_assert_uint_eq(c[0].kind[GEV_LOAD], 31507);
	ck_assert_uint_eq(c[0].kind[GEV_STORE], 12338);
	ck_assert_uint_eq(c[0].kind[GEV_PROC_EXIT], 1);
	ck_assert_uint_eq(c[0].events, 180258);
	ck_assert_uint_eq(c[0].hash, UINT64_C(0x8c48f9375fe0c861));
}
END_TEST

/* The Python script's per-thread table for threadsig, in sort order. */
static const struct {
	uint32_t tid;
	uint64_t fetch, load, store;
} threadsig[9] = {
	{872805, 22052, 6303, 3559},   {872884, 156444, 41274, 24168}, {872894, 124021, 32775, 19174},
	{872901, 48615, 12833, 7400},  {872902, 61550, 16232, 9388},   {872903, 78051, 20590, 11964},
	{872904, 45355, 11990, 6910},  {872905, 65121, 17160, 9997},   {872906, 49493, 13051, 7590},
};

START_TEST(test_drmem_sample_threadsig_threads)
{
	char err[TRACE_ERR_LEN];
	struct counts c[2];
	const char *p = sample("threadsig.x64.tracedir");
	uint64_t f = 0, l = 0, s = 0;

	ck_assert_int_eq(drmem_is_dir(p), 1);
	for (int i = 0; i < 9; i++) {
		f += threadsig[i].fetch;
		l += threadsig[i].load;
		s += threadsig[i].store;
	}
	ck_assert_msg(read_drmem(p, DRMEM_AS_THREADS, c, 2, err) == 1, "%s", err);
	ck_assert_uint_eq(c[0].pid, 872805);
	ck_assert_uint_eq(c[0].kind[GEV_FETCH], f);
	ck_assert_uint_eq(c[0].kind[GEV_LOAD], l);
	ck_assert_uint_eq(c[0].kind[GEV_STORE], s);
	ck_assert_uint_eq(c[0].kind[GEV_PROC_CREATE], 8);
	ck_assert_uint_eq(c[0].kind[GEV_PROC_EXIT], 1);
	ck_assert_uint_eq(c[0].events, 923069);
	/* The interleaving at timestamps, the creations and the exit, in order. */
	ck_assert_uint_eq(c[0].hash, UINT64_C(0x9e84433e27bdc33f));
}
END_TEST

START_TEST(test_drmem_sample_threadsig_processes)
{
	char err[TRACE_ERR_LEN];
	struct counts c[10];
	struct drmem *d = drmem_open(sample("threadsig.x64.tracedir"), DRMEM_AS_PROCESSES, err);

	ck_assert_msg(d != NULL, "%s", err);
	ck_assert_uint_eq(drmem_version(d), 7);
	ck_assert_uint_eq(drmem_threads(d), 9);
	ck_assert_uint_eq(drmem_processes(d), 9);
	ck_assert_uint_eq(drmem_root(d), 872805);
	ck_assert_str_eq(drmem_format(d), "drmemtrace set");
	drmem_close(d);
	ck_assert_msg(read_drmem(sample("threadsig.x64.tracedir"), DRMEM_AS_PROCESSES, c, 10, err) == 9, "%s", err);
	for (int i = 0; i < 9; i++) {
		ck_assert_uint_eq(c[i].pid, threadsig[i].tid);
		ck_assert_uint_eq(c[i].kind[GEV_FETCH], threadsig[i].fetch);
		ck_assert_uint_eq(c[i].kind[GEV_LOAD], threadsig[i].load);
		ck_assert_uint_eq(c[i].kind[GEV_STORE], threadsig[i].store);
		/* the root creates the other eight; each exits at its exit record */
		ck_assert_uint_eq(c[i].kind[GEV_PROC_CREATE], i == 0 ? 8 : 0);
		ck_assert_uint_eq(c[i].kind[GEV_PROC_EXIT], 1);
	}
}
END_TEST

/* Import: each stream of the .vtt is event for event the direct read. */
START_TEST(test_drmem_import_matches_direct)
{
	char err[TRACE_ERR_LEN], out[] = "/tmp/check_drmem_XXXXXX";
	int fd = mkstemp(out);
	struct counts direct[10], imported[10];
	struct vtt_import_stats st;

	ck_assert_int_ge(fd, 0);
	close(fd);
	for (int how = DRMEM_AS_THREADS; how <= DRMEM_AS_PROCESSES; how++) {
		int n = read_drmem(sample("threadsig.x64.tracedir"), how, direct, 10, err);
		ck_assert_msg(n == (how ? 9 : 1), "%s", err);
		ck_assert_msg(vtt_import_as(sample("threadsig.x64.tracedir"), out, (unsigned)how, &st, err) == 0, "%s",
			      err);
		ck_assert_str_eq(st.source_format, "drmemtrace set");
		ck_assert_uint_eq(st.processes, (uint64_t)n);
		ck_assert_uint_eq(st.events, how ? 923069 - 1 + 9 : 923069); /* 8 creations either way; 9 exits as processes */
		struct vtt *f = vtt_open(out, err);
		struct proc_source ps;
		ck_assert_msg(f != NULL, "%s", err);
		ck_assert_str_eq(vtt_source_format(f), "drmemtrace set");
		vtt_proc_source(f, &ps);
		ck_assert_msg(read_procs(&ps, imported, 10, err) == n, "%s", err);
		vtt_close(f);
		for (int i = 0; i < n; i++) {
			ck_assert_uint_eq(imported[i].pid, direct[i].pid);
			ck_assert_uint_eq(imported[i].events, direct[i].events);
			ck_assert_uint_eq(imported[i].hash, direct[i].hash);
		}
	}
	unlink(out);
}
END_TEST

/* ---- archives built here ------------------------------------------------------ */

struct recs {
	unsigned char b[4096];
	size_t n;
};

static void rec(struct recs *r, unsigned type, unsigned size, uint64_t addr)
{
	ck_assert_uint_le(r->n + DRM_RECORD_BYTES, sizeof(r->b));
	unsigned char *p = r->b + r->n;
	p[0] = (unsigned char)type;
	p[1] = (unsigned char)(type >> 8);
	p[2] = (unsigned char)size;
	p[3] = (unsigned char)(size >> 8);
	for (int i = 0; i < 8; i++)
		p[4 + i] = (unsigned char)(addr >> (8 * i));
	r->n += DRM_RECORD_BYTES;
}

static void marker(struct recs *r, unsigned sub, uint64_t v)
{
	rec(r, DRM_MARKER, sub, v);
}

/* A thread's opening: header (version), version and file-type markers,
 * tid 7 and pid 7, the first timestamp 1000. */
static void opening(struct recs *r, unsigned version, uint64_t filetype)
{
	rec(r, DRM_HEADER, 0, version);
	marker(r, DRM_MK_VERSION, version);
	marker(r, DRM_MK_FILETYPE, filetype);
	rec(r, DRM_THREAD, 4, 7);
	rec(r, DRM_PID, 4, 7);
	marker(r, DRM_MK_CACHE_LINE_SIZE, 64);
	marker(r, DRM_MK_TIMESTAMP, 1000);
	marker(r, DRM_MK_CPU_ID, 3);
}

static void closing(struct recs *r)
{
	rec(r, DRM_THREAD_EXIT, 4, 7);
	rec(r, DRM_FOOTER, 0, 0);
}

struct member {
	const char *name;
	const struct recs *r;
	size_t cut; /* bytes left off the end */
};

static char tmpdir[64];

/* Write a zip of the members (stored, not compressed, when store) as
 * tmpdir/name; returns its path. */
static const char *write_zip(const char *name, const struct member *m, size_t n, bool store)
{
	static char path[128];
	int zerr;
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
	ck_assert_ptr_nonnull(za);
	for (size_t i = 0; i < n; i++) {
		zip_source_t *s = zip_source_buffer(za, m[i].r->b, m[i].r->n - m[i].cut, 0);
		ck_assert_ptr_nonnull(s);
		zip_int64_t idx = zip_file_add(za, m[i].name, s, ZIP_FL_OVERWRITE);
		ck_assert_int_ge(idx, 0);
		if (store)
			ck_assert_int_eq(zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0), 0);
	}
	ck_assert_int_eq(zip_close(za), 0);
	return path;
}

/* Open path as threads and read the root's stream to its end: the
 * events into ev (at most max), their count, or -1 with the message. */
static int read_all(const char *path, struct guest_event *ev, int max, char *err)
{
	struct drmem *d = drmem_open(path, DRMEM_AS_THREADS, err);
	struct frontend fe;
	int n = 0, r;

	if (!d)
		return -1;
	ck_assert_int_eq(drmem_open_proc(d, drmem_root(d), &fe, err), 0);
	while (n < max && (r = fe.next(fe.ctx, &ev[n], err)) == 1)
		n++;
	drmem_close(d);
	return r < 0 ? -1 : n;
}

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_drmem_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Every record kind the reader maps, across two members. */
START_TEST(test_drmem_record_kinds)
{
	struct recs a = {0}, b = {0};
	struct guest_event ev[32];
	char err[TRACE_ERR_LEN];

	opening(&a, 6, 0xe40);
	rec(&a, DRM_ENCODING, 4, 0x90909090);            /* skipped */
	rec(&a, DRM_INSTR, 4, 0x401000);                 /* fetch 4 */
	rec(&a, DRM_READ, 8, 0x7000);                    /* load 8 */
	rec(&a, DRM_INSTR_BUNDLE, 2, 0x0302);            /* fetches 0x401004 (2), 0x401006 (3) */
	rec(&a, DRM_WRITE, 0, 0x7100);                   /* XSAVE-style size 0 -> store 1 */
	marker(&a, DRM_MK_CHUNK_FOOTER, 0);
	marker(&b, DRM_MK_RECORD_ORDINAL, 20);
	marker(&b, DRM_MK_TIMESTAMP, 1001);
	rec(&b, DRM_INSTR_TAKEN_JUMP, 2, 0x401009);      /* fetch 2 */
	rec(&b, DRM_PREFETCHT0, 1, 0x8000);              /* load 1 */
	rec(&b, DRM_PREFETCH_FIRST_NT, 0, 0x8100);       /* load 1 */
	rec(&b, DRM_DATA_FLUSH, 64, 0x8200);             /* load 64 */
	rec(&b, DRM_INSTR_NO_FETCH, 3, 0x40100b);        /* fetch 3 */
	marker(&b, 150, 1);                              /* a user marker: skipped */
	marker(&b, DRM_MK_SIGNAL_NUMBER, 26);            /* skipped */
	closing(&b);
	struct member m[] = {{"chunk.0001", &b, 0}, {"chunk.0000", &a, 0}}; /* order in the archive does not matter */
	const char *p = write_zip("kinds.trace.zip", m, 2, false);
	static const struct {
		enum guest_event_kind kind;
		uint64_t gva;
		uint32_t size;
	} want[] = {
		{GEV_FETCH, 0x401000, 4}, {GEV_LOAD, 0x7000, 8},  {GEV_FETCH, 0x401004, 2}, {GEV_FETCH, 0x401006, 3},
		{GEV_STORE, 0x7100, 1},   {GEV_FETCH, 0x401009, 2}, {GEV_LOAD, 0x8000, 1},  {GEV_LOAD, 0x8100, 1},
		{GEV_LOAD, 0x8200, 64},   {GEV_FETCH, 0x40100b, 3},
	};
	int n = read_all(p, ev, 32, err);
	ck_assert_msg(n == 11, "%d events: %s", n, err);
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(ev[i].kind, want[i].kind);
		ck_assert_uint_eq(ev[i].gva, want[i].gva);
		ck_assert_uint_eq(ev[i].size, want[i].size);
		ck_assert_uint_eq(ev[i].pid, 7);
	}
	ck_assert_int_eq(ev[10].kind, GEV_PROC_EXIT);
	ck_assert_uint_eq(ev[10].pid, 7);
}
END_TEST

/* One refused or corrupt input: build it, expect the message. */
static void expect_error(const char *name, const struct member *m, size_t n, const char *want_tail)
{
	char err[TRACE_ERR_LEN], want[TRACE_ERR_LEN];
	struct guest_event ev[64];
	const char *p = write_zip(name, m, n, false);

	ck_assert_int_eq(read_all(p, ev, 64, err), -1);
	snprintf(want, sizeof(want), "%s: %s", p, want_tail);
	ck_assert_str_eq(err, want);
}

START_TEST(test_drmem_bad_version)
{
	struct recs a = {0};
	opening(&a, 99, 0xe40);
	closing(&a);
	struct member m[] = {{"chunk.0000", &a, 0}};
	expect_error("v99.trace.zip", m, 1,
		     "member chunk.0000, byte 0: unsupported drmemtrace version 99 (this vtsim reads versions 2..7)");
	struct recs b = {0};
	opening(&b, 1, 0xe40);
	closing(&b);
	m[0].r = &b;
	expect_error("v1.trace.zip", m, 1,
		     "member chunk.0000, byte 0: unsupported drmemtrace version 1 (this vtsim reads versions 2..7)");
}
END_TEST

START_TEST(test_drmem_truncated_member)
{
	struct recs a = {0};
	opening(&a, 6, 0xe40);
	rec(&a, DRM_INSTR, 4, 0x401000);
	closing(&a);
	/* The footer record loses its last 5 bytes: 12 records + 7 bytes. */
	struct member m[] = {{"chunk.0000", &a, 5}};
	expect_error("cut.trace.zip", m, 1,
		     "member chunk.0000, byte 120: truncated: the member ends 7 bytes into a 12-byte record");
	/* The whole footer missing. */
	m[0].cut = DRM_RECORD_BYTES;
	expect_error("nofooter.trace.zip", m, 1,
		     "truncated: the trace ends after member chunk.0000 without its footer record");
}
END_TEST

START_TEST(test_drmem_chunk_layout)
{
	struct recs a = {0}, b = {0};
	opening(&a, 6, 0xe40);
	rec(&a, DRM_INSTR, 4, 0x401000);
	closing(&b);
	/* chunk.0000 without its chunk footer: 9 records, 108 bytes. */
	struct member m[] = {{"chunk.0000", &a, 0}, {"chunk.0001", &b, 0}};
	expect_error("nochunkfooter.trace.zip", m, 2,
		     "member chunk.0000, byte 108: truncated: the member ends without a chunk footer");
	/* A member missing from the sequence: chunk.0002 in an archive of two. */
	struct member gap[] = {{"chunk.0000", &a, 0}, {"chunk.0002", &b, 0}};
	expect_error("gap.trace.zip", gap, 2,
		     "unexpected member 'chunk.0002' (a drmemtrace trace holds chunk.0000 .. chunk.0001 only)");
	struct member odd[] = {{"chunk.0000", &a, 0}, {"modules.log", &b, 0}};
	expect_error("odd.trace.zip", odd, 2,
		     "unexpected member 'modules.log' (a drmemtrace trace holds chunk.0000 .. chunk.0001 only)");
	/* A record after a chunk footer. */
	struct recs c = {0};
	opening(&c, 6, 0xe40);
	marker(&c, DRM_MK_CHUNK_FOOTER, 0);
	rec(&c, DRM_INSTR, 4, 0x401000);
	struct member after[] = {{"chunk.0000", &c, 0}, {"chunk.0001", &b, 0}};
	expect_error("after.trace.zip", after, 2, "member chunk.0000, byte 108: a record after the chunk footer");
}
END_TEST

START_TEST(test_drmem_refused_records)
{
	static const struct {
		unsigned type, size;
		const char *tail;
	} cases[] = {
		{60, 0, "member chunk.0000, byte 96: unknown record type 60 (this vtsim knows 0..49)"},
		{DRM_MARKER, 42, "member chunk.0000, byte 96: unknown marker type 42 (this vtsim knows 0..41 and user markers from 100)"},
		{DRM_MARKER, DRM_MK_SYSCALL_TRACE_START,
		 "member chunk.0000, byte 96: marker 27 brackets kernel system-call code: kernel traces are not supported"},
		{DRM_MARKER, DRM_MK_CONTEXT_SWITCH_START,
		 "member chunk.0000, byte 96: marker 34 brackets kernel context-switch code: kernel traces are not supported"},
		{DRM_MARKER, DRM_MK_SPLIT_VALUE,
		 "member chunk.0000, byte 96: a split-value marker: this is a raw trace; run DynamoRIO's raw2trace first"},
		{DRM_HARDWARE_PREFETCH, 1,
		 "member chunk.0000, byte 96: a hardware prefetch record (added by a cache simulator, not by the program)"},
		{DRM_INSTR_FLUSH, 4, "member chunk.0000, byte 96: an ARM cache flush record (type 18) is not supported"},
		{DRM_DATA_FLUSH, 0, "member chunk.0000, byte 96: a ranged data flush (ARM cacheflush) is not supported"},
		{DRM_INSTR, 16, "member chunk.0000, byte 96: an instruction of 16 bytes (x86 takes 1..15)"},
		{DRM_READ, 4097, "member chunk.0000, byte 96: an access of 4097 bytes (vtsim takes 1..4096)"},
		{DRM_INSTR_BUNDLE, 2, "member chunk.0000, byte 96: an instruction bundle with no instruction before it"},
		{DRM_THREAD, 4, "member chunk.0000, byte 96: a record of thread 5 in the trace of thread 7"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct recs a = {0};
		opening(&a, 6, 0xe40);
		rec(&a, cases[i].type, cases[i].size, 5);
		closing(&a);
		struct member m[] = {{"chunk.0000", &a, 0}};
		expect_error("refused.trace.zip", m, 1, cases[i].tail);
	}
	/* A reference after the thread's exit record. */
	struct recs b = {0};
	opening(&b, 6, 0xe40);
	rec(&b, DRM_THREAD_EXIT, 4, 7);
	rec(&b, DRM_READ, 4, 0x7000);
	rec(&b, DRM_FOOTER, 0, 0);
	struct member m[] = {{"chunk.0000", &b, 0}};
	expect_error("afterexit.trace.zip", m, 1,
		     "member chunk.0000, byte 108: a memory reference after the thread's exit record");
}
END_TEST

START_TEST(test_drmem_file_types)
{
	static const struct {
		uint64_t ft;
		const char *tail;
	} cases[] = {
		{0xe40 | 0x80, "member chunk.0000, byte 24: file type 0xec0: a filtered trace (references left out) is not supported"},
		{0x1e40, "member chunk.0000, byte 24: file type 0x1e40: kernel system-call traces are not supported"},
		{0x208, "member chunk.0000, byte 24: file type 0x208: not an x86-64 trace (vtsim models x86-64 only)"},
		{0x4040, "member chunk.0000, byte 24: file type 0x4040 has bits this vtsim does not know (0x4000)"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct recs a = {0};
		opening(&a, 6, cases[i].ft);
		closing(&a);
		struct member m[] = {{"chunk.0000", &a, 0}};
		expect_error("ft.trace.zip", m, 1, cases[i].tail);
	}
}
END_TEST

/* Corrupt archives: libzip's own findings, one line naming the file. */
START_TEST(test_drmem_corrupt_zip)
{
	struct recs a = {0};
	char err[TRACE_ERR_LEN], want[TRACE_ERR_LEN];
	opening(&a, 6, 0xe40);
	rec(&a, DRM_INSTR, 4, 0x401000);
	closing(&a);
	struct member m[] = {{"chunk.0000", &a, 0}};
	const char *p = write_zip("good.trace.zip", m, 1, true);
	FILE *f = fopen(p, "r+b");
	unsigned char buf[4096];
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf), f);
	/* Flip a byte of the stored instruction address (0x401000 = 00 10 40). */
	unsigned char pat[] = {0x0a, 0x00, 0x04, 0x00, 0x00, 0x10, 0x40};
	size_t at = 0;
	for (size_t i = 0; i + sizeof(pat) <= n && !at; i++)
		if (!memcmp(buf + i, pat, sizeof(pat)))
			at = i + 5;
	ck_assert_uint_ne(at, 0);
	ck_assert_int_eq(fseek(f, (long)at, SEEK_SET), 0);
	ck_assert_int_eq(fputc(0x11, f), 0x11);
	fclose(f);
	struct guest_event ev[16];
	ck_assert_int_eq(read_all(p, ev, 16, err), -1);
	/* The whole member (132 bytes) came in the first read; libzip checks the CRC at its end. */
	snprintf(want, sizeof(want), "%s: member chunk.0000, byte 132: cannot read: CRC error", p);
	ck_assert_str_eq(err, want);

	/* Cut the archive in half: its central directory is gone. */
	ck_assert_int_eq(truncate(p, (off_t)(n / 2)), 0);
	ck_assert_ptr_null(drmem_open(p, DRMEM_AS_THREADS, err));
	snprintf(want, sizeof(want), "%s: not a readable zip archive: Not a zip archive", p);
	ck_assert_str_eq(err, want);
}
END_TEST

static Suite *drmem_suite(void)
{
	Suite *s = suite_create("drmem");
	TCase *tc = tcase_create("samples");
	tcase_add_test(tc, test_drmem_sample_allasm);
	tcase_add_test(tc, test_drmem_sample_simple_app);
	tcase_add_test(tc, test_drmem_sample_threadsig_threads);
	tcase_add_test(tc, test_drmem_sample_threadsig_processes);
	tcase_add_test(tc, test_drmem_import_matches_direct);
	suite_add_tcase(s, tc);
	tc = tcase_create("built");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_drmem_record_kinds);
	tcase_add_test(tc, test_drmem_bad_version);
	tcase_add_test(tc, test_drmem_truncated_member);
	tcase_add_test(tc, test_drmem_chunk_layout);
	tcase_add_test(tc, test_drmem_refused_records);
	tcase_add_test(tc, test_drmem_file_types);
	tcase_add_test(tc, test_drmem_corrupt_zip);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(drmem_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
