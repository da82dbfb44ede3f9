/*
 * libFuzzer target for the .vtt reader (src/trace/vtt_read.c).
 *
 * Notes:
 *  - Two kinds of input: one that starts with the .vtt identification
 *    bytes is a whole file; any other is taken for the record bytes of one
 *    stream and wrapped into a file by the writer (vtt_writer_raw, so the
 *    index and checksums are right and the mutations reach the record
 *    decoder rather than stopping at a checksum).
 *  - Handles: each file is opened with vtt_open_mem twice, once in one
 *    piece and once with the compressed bytes handed over in small chunks
 *    (1..17, chosen from the size); both opens must agree (result and
 *    message). An input that opens is read two ways: every stream to its
 *    end in index order, and all streams open at once, one event from each
 *    in turn (how the guest interleaves processes); both must agree on
 *    every stream's events and end when neither met an error (corrupt
 *    zstd data may let a different number of records out before the
 *    error, depending on how it was fed). Events are checked for sanity
 *    (kind in range, memory sizes 1..4096), messages for form (one line,
 *    starting "fuzz:"). A disagreement aborts.
 *  - Leaves out: vtt_open's file path (pread over the same code), and
 *    the writer's encoding of events (the unit tests check it).
 *  - Built two ways (fuzz/local.am): with fuzz/replay_main.c as the check
 *    program fuzz/fuzz_vtt_replay over fuzz/corpus/vtt/, and with
 *    `make fuzz-vtt` as a clang -fsanitize=fuzzer,address,undefined binary
 *    (`make fuzz-vtt-run` runs it for a bounded time, as CI does).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/trace.h"
#include "trace/vtt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Streams followed per input (more are read only in index order). */
#define MAX_FOLLOW 16

struct stream_run {
	int result;
	uint64_t events, hash;
	char err[TRACE_ERR_LEN];
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdull;
}

static void check(int ok)
{
	if (!ok)
		abort();
}

static void check_msg(const char *err)
{
	check(strncmp(err, "fuzz:", 5) == 0);
	check(memchr(err, '\0', TRACE_ERR_LEN) != NULL);
	check(strchr(err, '\n') == NULL);
}

/* Take one event (or the end) of a stream into its run: through next(),
 * or with f given through frontend_next (the batch path), after which
 * vtt_where must name the stream's process. */
static int step(struct frontend *fe, struct stream_run *r, struct vtt *f, uint32_t pid)
{
	struct guest_event ev;

	r->result = f ? frontend_next(fe, &ev, r->err) : fe->next(fe->ctx, &ev, r->err);
	if (r->result != 1)
		return r->result;
	if (f) {
		char where[TRACE_ERR_LEN], want[64];
		int k = snprintf(want, sizeof(want), "fuzz: process %u, record byte ", pid);

		vtt_where(f, where, sizeof(where));
		check(strncmp(where, want, (size_t)k) == 0);
	}
	check(ev.kind < GEV_KIND_COUNT);
	if (ev.kind <= GEV_MODIFY)
		check(ev.size >= 1 && ev.size <= 4096 && ev.len == 0 && ev.arg == 0);
	r->events++;
	r->hash = mix(r->hash, ev.kind);
	r->hash = mix(r->hash, ev.gva);
	r->hash = mix(r->hash, ev.size);
	r->hash = mix(r->hash, ev.len);
	r->hash = mix(r->hash, ev.pid);
	r->hash = mix(r->hash, ev.arg);
	return 1;
}

static void finish(struct stream_run *r)
{
	check(r->result == 0 || r->result == -1);
	if (r->result < 0)
		check_msg(r->err);
}

/* Every stream to its end, one after the other. */
static void read_in_order(struct vtt *f, struct stream_run *runs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct frontend fe;
		uint32_t pid = vtt_stream(f, i)->pid;

		memset(&runs[i], 0, sizeof(runs[i]));
		check(vtt_open_proc(f, pid, &fe, runs[i].err) == 0);
		while (step(&fe, &runs[i], NULL, 0) == 1)
			;
		finish(&runs[i]);
		vtt_close_proc(f, pid);
		if (i < MAX_FOLLOW) {
			char err[TRACE_ERR_LEN];
			check(vtt_open_proc(f, pid, &fe, err) == -1);
			check_msg(err);
		}
	}
}

/* All streams open at once, an event from each in turn (batch: through
 * frontend_next, runs of up to 5 events). */
static void read_interleaved(struct vtt *f, struct stream_run *runs, size_t n, bool batch)
{
	struct frontend fe[MAX_FOLLOW] = {{0}};
	size_t live = n;

	for (size_t i = 0; i < n; i++) {
		memset(&runs[i], 0, sizeof(runs[i]));
		runs[i].result = 1;
		check(vtt_open_proc(f, vtt_stream(f, i)->pid, &fe[i], runs[i].err) == 0);
	}
	for (unsigned round = 0; live; round++) {
		for (size_t i = 0; i < n; i++) {
			unsigned run = batch ? 1 + (round + (unsigned)i) % 5 : 1;

			for (unsigned k = 0; k < run && runs[i].result == 1; k++)
				if (step(&fe[i], &runs[i], batch ? f : NULL, vtt_stream(f, i)->pid) != 1) {
					finish(&runs[i]);
					live--;
				}
		}
	}
	for (size_t i = 0; i < n; i++)
		vtt_close_proc(f, vtt_stream(f, i)->pid);
}

/* Raw record bytes as the one stream of a file; NULL if the writer refuses. */
static void *wrap_records(const uint8_t *data, size_t size, size_t *out_size)
{
	char err[TRACE_ERR_LEN];
	struct vtt_meta m = {1, "fuzz", 0, 1};
	struct vtt_writer *w = vtt_writer_open_mem(&m, err);
	void *out = NULL;

	check(w != NULL);
	check(vtt_writer_begin(w, 1, err) == 0);
	for (size_t at = 0; at < size; at += 32)
		check(vtt_writer_raw(w, data + at, size - at < 32 ? size - at : 32, err) == 0);
	check(vtt_writer_end(w, err) == 0);
	check(vtt_writer_finish(w, &out, out_size, err) == 0);
	vtt_writer_free(w);
	return out;
}

static int test_file(const uint8_t *data, size_t size);

/* libFuzzer entry point: a .vtt, or record bytes wrapped into one. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n;
	void *file;

	if (vtt_sniff(data, size))
		return test_file(data, size);
	file = wrap_records(data, size, &n);
	test_file(file, n);
	free(file);
	return 0;
}

/* A .vtt read whole and chunked, in order and interleaved. */
static int test_file(const uint8_t *data, size_t size)
{
	char err_a[TRACE_ERR_LEN], err_b[TRACE_ERR_LEN], err_c[TRACE_ERR_LEN];
	struct stream_run a[MAX_FOLLOW], b[MAX_FOLLOW], c[MAX_FOLLOW];
	struct vtt *fa = vtt_open_mem(data, size, "fuzz", 0, err_a);
	struct vtt *fb = vtt_open_mem(data, size, "fuzz", 1 + size % 17, err_b);
	struct vtt *fc = vtt_open_mem(data, size, "fuzz", 0, err_c);
	size_t n;

	check((fa == NULL) == (fb == NULL) && (fa == NULL) == (fc == NULL));
	if (!fa) {
		check_msg(err_a);
		check(strcmp(err_a, err_b) == 0);
		check(strcmp(err_a, err_c) == 0);
		return 0;
	}
	n = vtt_streams(fa);
	check(n >= 1 && n == vtt_streams(fb));
	if (n > MAX_FOLLOW) {
		struct stream_run *all = calloc(n, sizeof(*all));

		check(all != NULL);
		read_in_order(fa, all, n);
		free(all);
		vtt_close(fa);
		vtt_close(fb);
		vtt_close(fc);
		return 0;
	}
	read_in_order(fa, a, n);
	read_interleaved(fb, b, n, false);
	/* Through the batches, read whole like fa: the same events, ends and
	 * messages (each stream decodes on its own, whatever the order). */
	read_interleaved(fc, c, n, true);
	for (size_t i = 0; i < n; i++) {
		check(a[i].result == c[i].result);
		check(a[i].events == c[i].events);
		check(a[i].hash == c[i].hash);
		if (a[i].result < 0)
			check(strcmp(a[i].err, c[i].err) == 0);
	}
	for (size_t i = 0; i < n; i++) {
		if (a[i].result < 0 || b[i].result < 0)
			continue;
		check(a[i].result == b[i].result);
		check(a[i].events == b[i].events);
		check(a[i].hash == b[i].hash);
	}
	vtt_close(fa);
	vtt_close(fb);
	vtt_close(fc);
	return 0;
}
