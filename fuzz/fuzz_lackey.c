/*
 * libFuzzer target for the lackey trace reader (plain and zstd).
 *
 * Notes:
 *  - Handles: each input is read to its end or first error twice through
 *    trace_open_mem, once in one piece and once handed over in small
 *    chunks (1..17 bytes, chosen from the size), and the two runs must
 *    agree on every event, the result and the error message (zstd input
 *    only when neither run failed); events and
 *    messages are checked for basic sanity (kind in range, memory sizes
 *    1..4096, a one-line message starting "fuzz:"). A disagreement aborts.
 *  - Leaves out: the file path of trace_open (a thin open/read layer over
 *    the same code) and trace_file_checksum.
 *  - Built two ways (fuzz/local.am): with fuzz/replay_main.c as the check
 *    program fuzz/fuzz_lackey_replay over fuzz/corpus/lackey/, and with
 *    `make fuzz-lackey` as a clang -fsanitize=fuzzer,address,undefined
 *    binary.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	int result;
	uint64_t events, hash, lines;
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

static void run_one(const uint8_t *data, size_t size, size_t chunk, struct run *r)
{
	struct trace_reader *tr;
	struct guest_event ev;

	memset(r, 0, sizeof(*r));
	tr = trace_open_mem(data, size, "fuzz", chunk, r->err);
	check(tr != NULL);
	while ((r->result = trace_next(tr, &ev, r->err)) == 1) {
		check(ev.kind < GEV_KIND_COUNT);
		if (ev.kind <= GEV_MODIFY)
			check(ev.size >= 1 && ev.size <= 4096 && ev.len == 0);
		r->events++;
		r->hash = mix(r->hash, ev.kind);
		r->hash = mix(r->hash, ev.gva);
		r->hash = mix(r->hash, ev.size);
		r->hash = mix(r->hash, ev.len);
		r->hash = mix(r->hash, ev.pid);
		r->hash = mix(r->hash, ev.arg);
	}
	check(r->result == 0 || r->result == -1);
	if (r->result < 0) {
		check(strncmp(r->err, "fuzz:", 5) == 0);
		check(strchr(r->err, '\n') == NULL);
		check(memchr(r->err, '\0', TRACE_ERR_LEN) != NULL);
	}
	r->lines = trace_line(tr);
	check(trace_bytes_read(tr) <= size);
	trace_close(tr);
}

/* libFuzzer entry point: read data as a trace, in one piece and chunked. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run a, b;
	int is_zstd = size >= 4 && memcmp(data, "\x28\xb5\x2f\xfd", 4) == 0;

	run_one(data, size, 0, &a);
	run_one(data, size, 1 + size % 17, &b);
	/*
	 * On corrupt zstd input, how much libzstd decodes before it notices
	 * depends on how the input was fed to it (a block may come out before
	 * the frame checksum fails, or not), so only clean runs must agree.
	 */
	if (is_zstd && (a.result < 0 || b.result < 0))
		return 0;
	check(a.result == b.result);
	check(a.events == b.events);
	check(a.hash == b.hash);
	check(a.lines == b.lines);
	check(strcmp(a.err, b.err) == 0);
	return 0;
}
