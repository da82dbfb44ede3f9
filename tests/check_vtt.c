/*
 * Unit tests for the .vtt format (src/trace/vtt_*.c): record bytes and
 * file layout as docs/trace-format.md gives them, round trips of every
 * event kind, several processes read interleaved, every corrupt-input case
 * with its exact message and offset, and import of the shipped traces
 * (event for event against their lackey source).
 *
 * Notes:
 *  - Expected record bytes are worked by hand from the format (comments
 *    give the arithmetic), not taken from the writer.
 *  - Corrupt files are made by editing a good one; where an edit must get
 *    past the header-and-index checksum (to reach a later check), the test
 *    recomputes that checksum with XXH3 as the format defines it.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#include "trace/trace.h"
#include "trace/traceset.h"
#include "trace/vtt.h"
#include "trace/vtt_format.h"

#define MAXEV 64

struct buf {
	unsigned char *p;
	size_t n;
};

static uint64_t rd_le(const unsigned char *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static void wr_le(unsigned char *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* A one-stream file (process pid, root) of n events, with raw record
 * bytes inserted before event `at` (raw may be NULL). */
static struct buf build_raw(uint32_t pid, const struct guest_event *ev, size_t n, const void *raw, size_t raw_len,
			    size_t at)
{
	char err[TRACE_ERR_LEN];
	struct vtt_meta m = {pid, "test", 0x1234, 0};
	struct vtt_writer *w = vtt_writer_open_mem(&m, err);
	struct buf b = {0};
	void *data;

	ck_assert_msg(w != NULL, "%s", err);
	ck_assert_int_eq(vtt_writer_begin(w, pid, err), 0);
	for (size_t i = 0; i <= n; i++) {
		if (raw && i == at)
			ck_assert_int_eq(vtt_writer_raw(w, raw, raw_len, err), 0);
		if (i < n)
			ck_assert_msg(vtt_writer_event(w, &ev[i], err) == 0, "%s", err);
	}
	ck_assert_int_eq(vtt_writer_end(w, err), 0);
	ck_assert_msg(vtt_writer_finish(w, &data, &b.n, err) == 0, "%s", err);
	vtt_writer_free(w);
	b.p = data;
	return b;
}

static struct buf build(uint32_t pid, const struct guest_event *ev, size_t n)
{
	return build_raw(pid, ev, n, NULL, 0, 0);
}

/* FNV-1a of a string into h. */
static uint64_t str_hash(uint64_t h, const char *s)
{
	while (*s)
		h = (h ^ (unsigned char)*s++) * UINT64_C(0x100000001b3);
	return h;
}

/* Read the stream of pid to its end, with fe.next or with frontend_next
 * (the batch path): events (up to max kept) or -1; *where_hash hashes
 * vtt_where after every event and at the end. */
static int read_proc_how(const struct buf *b, uint32_t pid, size_t chunk, struct guest_event *out, int max, char *err,
			 bool batch, uint64_t *where_hash)
{
	struct vtt *f = vtt_open_mem(b->p, b->n, "t.vtt", chunk, err);
	struct frontend fe = {0};
	struct guest_event ev;
	char where[TRACE_ERR_LEN];
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	int n = 0, r;

	if (!f)
		return -2;
	ck_assert_int_eq(vtt_open_proc(f, pid, &fe, err), 0);
	ck_assert_ptr_nonnull(fe.batch);
	while ((r = batch ? frontend_next(&fe, &ev, err) : fe.next(fe.ctx, &ev, err)) == 1) {
		if (n < max)
			out[n] = ev;
		n++;
		vtt_where(f, where, sizeof(where));
		h = str_hash(h, where);
	}
	/* sticky: the same answer again */
	if (r < 0) {
		char again[TRACE_ERR_LEN];
		ck_assert_int_eq(batch ? frontend_next(&fe, &ev, again) : fe.next(fe.ctx, &ev, again), -1);
		ck_assert_str_eq(again, err);
	} else {
		ck_assert_int_eq(batch ? frontend_next(&fe, &ev, err) : fe.next(fe.ctx, &ev, err), 0);
	}
	vtt_where(f, where, sizeof(where));
	*where_hash = str_hash(h, where);
	vtt_close_proc(f, pid);
	vtt_where(f, where, sizeof(where));
	*where_hash = str_hash(*where_hash, where);
	vtt_close(f);
	return r < 0 ? -1 : n;
}

/* Read the stream of pid to its end: events (up to max kept) or -1. Read
 * twice, with fe.next and with frontend_next: the same events, the same
 * answer at the end and vtt_where the same after every event. */
static int read_proc(const struct buf *b, uint32_t pid, size_t chunk, struct guest_event *out, int max, char *err)
{
	struct guest_event *out2 = calloc((size_t)(max > 0 ? max : 1), sizeof(*out2));
	char err2[TRACE_ERR_LEN] = "";
	uint64_t h1 = 0, h2 = 0;
	int n = read_proc_how(b, pid, chunk, out, max, err, false, &h1);
	int n2 = read_proc_how(b, pid, chunk, out2, max, err2, true, &h2);

	ck_assert_ptr_nonnull(out2);
	ck_assert_int_eq(n, n2);
	if (n < 0)
		ck_assert_str_eq(err, err2);
	ck_assert_uint_eq(h1, h2);
	for (int i = 0; i < n && i < max; i++)
		ck_assert_msg(memcmp(&out[i], &out2[i], sizeof(out[i])) == 0, "event %d differs", i);
	free(out2);
	return n;
}

/* Recompute the header-and-index checksum after an edit. */
static void fix_index_sum(struct buf *b)
{
	uint64_t ilen = rd_le(b->p + b->n - 16, 8), hlen = rd_le(b->p + VTT_H_LEN, 4);
	XXH3_state_t *st = XXH3_createState();

	XXH3_64bits_reset(st);
	XXH3_64bits_update(st, b->p, (size_t)hlen);
	XXH3_64bits_update(st, b->p + b->n - ilen, (size_t)ilen - VTT_FOOTER_LEN);
	wr_le(b->p + b->n - VTT_FOOTER_LEN, XXH3_64bits_digest(st), 8);
	XXH3_freeState(st);
}

/* File byte of index entry i. */
static size_t entry_at(const struct buf *b, size_t i)
{
	return b->n - (size_t)rd_le(b->p + b->n - 16, 8) + VTT_INDEX_HEAD_LEN + VTT_ENTRY_LEN * i;
}

/* The record bytes of stream i, decompressed from its frame. */
static struct buf records_of(const struct buf *b, size_t i)
{
	size_t e = entry_at(b, i);
	uint64_t off = rd_le(b->p + e + 8, 8), csize = rd_le(b->p + e + 16, 8), rsize = rd_le(b->p + e + 24, 8);
	struct buf r = {malloc((size_t)rsize + 1), 0};

	r.n = ZSTD_decompress(r.p, (size_t)rsize + 1, b->p + off, (size_t)csize);
	ck_assert(!ZSTD_isError(r.n));
	return r;
}

static void expect_open_error(const struct buf *b, const char *msg)
{
	char err[TRACE_ERR_LEN] = "";
	struct vtt *f = vtt_open_mem(b->p, b->n, "t.vtt", 0, err);

	ck_assert_ptr_null(f);
	ck_assert_str_eq(err, msg);
}

static void expect_read_error(const struct buf *b, uint32_t pid, const char *msg)
{
	struct guest_event ev[MAXEV];
	char err[TRACE_ERR_LEN] = "";

	ck_assert_int_eq(read_proc(b, pid, 0, ev, MAXEV, err), -1);
	ck_assert_str_eq(err, msg);
	/* the same when the compressed bytes come 3 at a time */
	ck_assert_int_eq(read_proc(b, pid, 3, ev, MAXEV, err), -1);
	ck_assert_str_eq(err, msg);
}

#define EV(k, g, sz, p, l, a) ((struct guest_event){.kind = (k), .gva = (g), .size = (sz), .pid = (p), .len = (l), .arg = (a)})

/* Equal events, without an assertion per field (Check records every
 * assertion it passes: millions cost minutes). */
static bool ev_eq(const struct guest_event *a, const struct guest_event *b)
{
	return a->kind == b->kind && a->gva == b->gva && a->size == b->size && a->pid == b->pid && a->len == b->len &&
	       a->arg == b->arg;
}

static void ev_same(const struct guest_event *a, const struct guest_event *b)
{
	ck_assert_int_eq(a->kind, b->kind);
	ck_assert_uint_eq(a->gva, b->gva);
	ck_assert_uint_eq(a->size, b->size);
	ck_assert_uint_eq(a->pid, b->pid);
	ck_assert_uint_eq(a->len, b->len);
	ck_assert_uint_eq(a->arg, b->arg);
}

/* ---- layout ------------------------------------------------------------- */

/* The record bytes of a small stream, worked by hand. */
START_TEST(test_vtt_record_bytes)
{
	const struct guest_event ev[] = {
		EV(GEV_FETCH, 0x1000, 3, 9, 0, 0),  /* 0x03; delta 0x1000 - 0, zigzag 0x2000: 80 40 */
		EV(GEV_FETCH, 0x1003, 2, 9, 0, 0),  /* sequential (0x1000 + 3): 0x42 */
		EV(GEV_LOAD, 0x2000, 8, 9, 0, 0),   /* 0x18; data delta 0x2000 - 0, zigzag 0x4000: 80 80 01 */
		EV(GEV_STORE, 0x1ff8, 16, 9, 0, 0), /* 0x20, size 16: 10; delta -8, zigzag 15: 0f */
		EV(GEV_FETCH, 0x1000, 1, 9, 0, 0),  /* 0x01; delta 0x1000 - 0x1005 = -5, zigzag 9: 09 */
		EV(GEV_MODIFY, 0x1ff8, 4, 7, 0, 0), /* pid 7: 80 07; 0x34; delta 0: 00 */
		EV(GEV_MMAP, 0x7000, 0, 7, 8192, 3), /* 81, pid 07, gva 0x7000: 80 e0 01, len 8192: 80 40, prot 03 */
		EV(GEV_PROC_CREATE, 0x7, 0, 300, 0, 1), /* 84, pid 300: ac 02, parent 07, flags 01 */
	};
	static const unsigned char want[] = {
		0x03, 0x80, 0x40, 0x42, 0x18, 0x80, 0x80, 0x01, 0x20, 0x10, 0x0f, 0x01, 0x09,
		0x80, 0x07, 0x34, 0x00, 0x81, 0x07, 0x80, 0xe0, 0x01, 0x80, 0x40, 0x03, 0x84, 0xac, 0x02, 0x07, 0x01,
		0xff,
	};
	struct buf b = build(9, ev, 8), r = records_of(&b, 0);
	ck_assert_uint_eq(r.n, sizeof(want));
	ck_assert_mem_eq(r.p, want, sizeof(want));
	ck_assert_uint_eq(rd_le(b.p + entry_at(&b, 0) + 24, 8), sizeof(want));
	ck_assert_uint_eq(rd_le(b.p + entry_at(&b, 0) + 32, 8), 8);
	ck_assert_uint_eq(rd_le(b.p + entry_at(&b, 0) + 40, 8), XXH3_64bits(want, sizeof(want)));
	free(r.p);
	free(b.p);
}
END_TEST

/* Header and index bytes as vtt_format.h lays them out. */
START_TEST(test_vtt_header_and_index)
{
	const struct guest_event ev[] = {EV(GEV_FETCH, 0x1000, 3, 5, 0, 0)};
	struct buf b = build(5, ev, 1);
	static const unsigned char head[24] = {0x89, 'V', 'T', 'T', '\r', '\n', 0x1a, '\n', 1, 0, 0, 0,
					      48,   0,   0,   0,   5,    0,    0,    0,    0, 0, 0, 0};

	ck_assert_mem_eq(b.p, head, sizeof(head));
	ck_assert_uint_eq(rd_le(b.p + 24, 8), 0x1234);
	ck_assert_str_eq((const char *)b.p + 32, "test");
	/* index: 1 stream, entry, footer = 8 + 48 + 24 bytes at the end */
	ck_assert_mem_eq(b.p + b.n - 8, "VTTINDEX", 8);
	ck_assert_uint_eq(rd_le(b.p + b.n - 16, 8), 80);
	ck_assert_uint_eq(rd_le(b.p + b.n - 80, 4), 1);
	ck_assert_uint_eq(rd_le(b.p + b.n - 72, 4), 5);                  /* pid */
	ck_assert_uint_eq(rd_le(b.p + b.n - 64, 8), 48);                 /* the stream follows the header */
	ck_assert_uint_eq(rd_le(b.p + b.n - 56, 8), b.n - 80 - 48);      /* and ends at the index */
	ck_assert_uint_eq(rd_le(b.p + b.n - 48, 8), 4);                  /* 03 80 40 ff */
	ck_assert(vtt_sniff(b.p, b.n));
	ck_assert(!vtt_sniff("I  0401", 7));
	free(b.p);
}
END_TEST

/* ---- round trips ------------------------------------------------------------ */

/* Every kind the simulator has, with edge values, in one piece and chunked. */
START_TEST(test_vtt_round_trip_every_kind)
{
	const struct guest_event ev[] = {
		EV(GEV_FETCH, 0xffffffffffffff00u, 15, 1, 0, 0),
		EV(GEV_FETCH, 0xffffffffffffff0fu, 4096, 1, 0, 0), /* sequential, size as a varint */
		EV(GEV_FETCH, 0x0, 1, 1, 0, 0),                   /* wraps back to 0 */
		EV(GEV_LOAD, 0x7ffffffff000u, 16, 1, 0, 0),
		EV(GEV_STORE, 0x0, 2, 1, 0, 0),
		EV(GEV_MODIFY, 0x8000000000000000u, 8, 0, 0, 0),  /* pid 0 (a log without ==PID==) */
		EV(GEV_MMAP, 0x7f0000000000u, 0, 0, 0x100000, 7 | GEV_MMAP_ANON | GEV_MMAP_HUGEPAGE),
		EV(GEV_MUNMAP, 0x7f0000000000u, 0, 4000000000u, 0x1000, 0),
		EV(GEV_BRK, 0x555555560000u, 0, 4, 0, 0),
		EV(GEV_PROC_CREATE, 1, 0, 4294967295u, 0, 1),
		EV(GEV_PROC_EXIT, 0, 0, 77, 0, 0),
		EV(GEV_WAIT, 42, 0, 1, 0, 1),
		EV(GEV_EXEC, 0, 0, 1, 0, 0),
		EV(GEV_CPUID, 0, 0, 1, 0, 0x80000001u),
		EV(GEV_IO, 0x3f8, 1, 1, 0x41, 0),
		EV(GEV_IO, 0xcfc, 4, 1, 0, 1),
		EV(GEV_HLT, 0, 0, 1, 0, 0),
		EV(GEV_MMIO, 0x7f0000000008u, 4, 1, 0, 1 | 6 << 8),          /* a 4-byte read, 6-byte MOV */
		EV(GEV_MMIO, 0xffffffffffffffffu, 8, 1, UINT64_MAX, 15 << 8), /* an 8-byte write, 15 bytes */
		EV(GEV_MMIO, 0x7f00000000d8u, 1, 4294967295u, 0xff, 1 << 8),
		EV(GEV_DEVIO, 0x7f0000010000u, 0, 1, 8192, DEVIO_NET_RX),
		EV(GEV_DEVIO, 0x1000, 0, 1, 64, DEVIO_NET_TX),
		EV(GEV_DEVIO, 0x1000, 4294967295u, 1, 4096, DEVIO_BLK_READ), /* size = the sector */
		EV(GEV_DEVIO, 0xfff, 8, 1, UINT64_MAX, DEVIO_BLK_WRITE),
		EV(GEV_LOAD, 0x1000, 4096, 1, 0, 0),
	};
	const size_t n = sizeof(ev) / sizeof(ev[0]);
	struct buf b = build(1, ev, n);
	struct guest_event out[MAXEV];
	char err[TRACE_ERR_LEN];

	for (size_t chunk = 0; chunk < 8; chunk++) {
		ck_assert_int_eq(read_proc(&b, 1, chunk, out, MAXEV, err), (int)n);
		for (size_t i = 0; i < n; i++)
			ev_same(&out[i], &ev[i]);
	}
	free(b.p);
}
END_TEST

/* Many events: the record buffer and the batch wrap many times. */
START_TEST(test_vtt_round_trip_long)
{
	enum { N = 300000 };
	struct guest_event *ev = malloc(N * sizeof(*ev));
	uint64_t x = 88172645463325252u;
	for (size_t i = 0; i < N; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		unsigned k = (unsigned)(x % 5);
		ev[i] = k == 4 ? EV(GEV_BRK, x >> 8, 0, 3, 0, 0)
			       : EV((enum guest_event_kind)k, (x & 1) ? x : 0x400000 + (x >> 40), 1 + (unsigned)(x % 40),
				    (x & 0x100000) ? 3 : 4, 0, 0);
	}
	struct buf b = build(3, ev, N);
	char err[TRACE_ERR_LEN];
	struct vtt *f = vtt_open_mem(b.p, b.n, "t.vtt", 0, err);
	struct frontend fe;
	struct guest_event got;
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(vtt_open_proc(f, 3, &fe, err), 0);
	size_t i;
	for (i = 0; i < N && fe.next(fe.ctx, &got, err) == 1 && ev_eq(&got, &ev[i]); i++)
		;
	ck_assert_uint_eq(i, N);
	ck_assert_int_eq(fe.next(fe.ctx, &got, err), 0);
	ck_assert_uint_eq(vtt_stream(f, 0)->events, N);
	vtt_close(f); /* closes the open stream too */
	free(b.p);
	free(ev);
}
END_TEST

/* Three processes read interleaved; a stream opened twice; an untraced pid. */
START_TEST(test_vtt_processes)
{
	char err[TRACE_ERR_LEN];
	struct vtt_meta m = {10, "lackey set", 7, 1};
	struct vtt_writer *w = vtt_writer_open_mem(&m, err);
	const uint32_t pids[3] = {10, 11, 12};
	for (int p = 0; p < 3; p++) {
		ck_assert_int_eq(vtt_writer_begin(w, pids[p], err), 0);
		for (unsigned i = 0; i < 1000; i++) {
			struct guest_event e = EV(GEV_LOAD, 0x1000u * pids[p] + i, 8, pids[p], 0, 0);
			ck_assert_int_eq(vtt_writer_event(w, &e, err), 0);
		}
		ck_assert_int_eq(vtt_writer_end(w, err), 0);
	}
	ck_assert_int_eq(vtt_writer_begin(w, 11, err), -1);
	ck_assert_str_eq(err, "<memory>: process 11 has a stream already");
	void *data;
	size_t size;
	ck_assert_int_eq(vtt_writer_finish(w, &data, &size, err), 0);
	vtt_writer_free(w);

	struct vtt *f = vtt_open_mem(data, size, "t.vtt", 0, err);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(vtt_root(f), 10);
	ck_assert_uint_eq(vtt_streams(f), 3);
	ck_assert_str_eq(vtt_source_format(f), "lackey set");
	char sum[17];
	vtt_source_checksum(f, sum);
	ck_assert_str_eq(sum, "0000000000000007");
	struct frontend fe[3];
	for (int p = 0; p < 3; p++)
		ck_assert_int_eq(vtt_open_proc(f, pids[p], &fe[p], err), 0);
	ck_assert_int_eq(vtt_open_proc(f, 99, &fe[0], err), 1);
	ck_assert_int_eq(vtt_open_proc(f, 11, &fe[0], err), -1);
	ck_assert_str_eq(err, "t.vtt: the stream of process 11 is opened twice");
	unsigned bad = 0;
	for (unsigned i = 0; i < 1000; i++)
		for (int p = 2; p >= 0; p--) {
			struct guest_event e;
			bad += fe[p].next(fe[p].ctx, &e, err) != 1 || e.gva != 0x1000u * pids[p] + i || e.pid != pids[p];
		}
	ck_assert_uint_eq(bad, 0);
	char where[256];
	vtt_where(f, where, sizeof(where));
	/* the last event came from process 10: its 1000th load; the first is
	 * 4 bytes (18, delta 0xa000 zigzag 0x14000: 80 80 05), each next one 2
	 * (18 02), so the 1000th starts at 4 + 998 x 2 */
	ck_assert_str_eq(where, "t.vtt: process 10, record byte 2000");
	for (int p = 0; p < 3; p++) {
		struct guest_event e;
		ck_assert_int_eq(fe[p].next(fe[p].ctx, &e, err), 0);
		vtt_close_proc(f, pids[p]);
	}
	vtt_where(f, where, sizeof(where));
	ck_assert_str_eq(where, "t.vtt: process 10, record byte 2000");
	vtt_close(f);

	/* Again through the batches (frontend_next), the streams taken in
	 * turn by uneven runs so that a batch is taken from after another
	 * stream refilled its own, and process 11 through next() alone:
	 * after every event vtt_where names its process and record (event k
	 * starts at record byte 0 for k = 0, else 4 + (k - 1) x 2). */
	f = vtt_open_mem(data, size, "t.vtt", 0, err);
	ck_assert_ptr_nonnull(f);
	for (int p = 0; p < 3; p++) {
		fe[p] = (struct frontend){0};
		ck_assert_int_eq(vtt_open_proc(f, pids[p], &fe[p], err), 0);
		ck_assert_ptr_nonnull(fe[p].batch);
	}
	unsigned taken[3] = {0}, wrong = 0;
	int last_p = -1;
	for (unsigned round = 0; taken[0] + taken[1] + taken[2] < 3000; round++)
		for (int p = 0; p < 3; p++) {
			unsigned run = 1 + (round * 7 + (unsigned)p * 13) % 97;
			for (unsigned k = 0; k < run && taken[p] < 1000; k++, taken[p]++) {
				struct guest_event e;
				char want[256];
				int r = p == 1 ? fe[p].next(fe[p].ctx, &e, err) : frontend_next(&fe[p], &e, err);
				bad += r != 1 || e.gva != 0x1000u * pids[p] + taken[p] || e.pid != pids[p];
				vtt_where(f, where, sizeof(where));
				snprintf(want, sizeof(want), "t.vtt: process %u, record byte %u", pids[p],
					 taken[p] ? 4 + (taken[p] - 1) * 2 : 0);
				wrong += strcmp(where, want) != 0;
				last_p = p;
			}
		}
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_eq(wrong, 0);
	/* the ends change nothing: the last event is still the 1000th of the
	 * stream that ran out last, also once the streams are closed */
	for (int p = 0; p < 3; p++) {
		struct guest_event e;
		ck_assert_int_eq(frontend_next(&fe[p], &e, err), 0);
	}
	char last[256];
	ck_assert_int_ge(last_p, 0);
	snprintf(last, sizeof(last), "t.vtt: process %u, record byte 2000", pids[last_p]);
	vtt_where(f, where, sizeof(where));
	ck_assert_str_eq(where, last);
	for (int p = 0; p < 3; p++)
		vtt_close_proc(f, pids[p]);
	vtt_where(f, where, sizeof(where));
	ck_assert_str_eq(where, last);
	vtt_close(f);
	free(data);
}
END_TEST

/* What the writer refuses. */
START_TEST(test_vtt_writer_refuses)
{
	char err[TRACE_ERR_LEN];
	struct vtt_meta m = {1, "lackey", 0, 0};
	struct vtt_writer *w = vtt_writer_open_mem(&m, err);
	struct guest_event e = EV(GEV_LOAD, 0x1000, 0, 1, 0, 0);
	void *data;
	size_t size;

	ck_assert_int_eq(vtt_writer_event(w, &e, err), -1);
	ck_assert_str_eq(err, "<memory>: a record outside a stream (vtt_writer_begin first)");
	ck_assert_int_eq(vtt_writer_begin(w, 1, err), 0);
	ck_assert_int_eq(vtt_writer_event(w, &e, err), -1);
	ck_assert_str_eq(err, "<memory>: a memory reference of 0 bytes (the format holds 1..4096)");
	e.size = 4097;
	ck_assert_int_eq(vtt_writer_event(w, &e, err), -1);
	ck_assert_str_eq(err, "<memory>: a memory reference of 4097 bytes (the format holds 1..4096)");
	e.kind = GEV_KIND_COUNT;
	ck_assert_int_eq(vtt_writer_event(w, &e, err), -1);
	ck_assert_str_eq(err, "<memory>: an event of unknown kind 16"); /* GEV_KIND_COUNT */
	ck_assert_int_eq(vtt_writer_finish(w, &data, &size, err), -1);
	ck_assert_str_eq(err, "<memory>: a stream is still open");
	ck_assert_int_eq(vtt_writer_end(w, err), 0);
	vtt_writer_free(w);
	m.root = 2;
	w = vtt_writer_open_mem(&m, err);
	ck_assert_int_eq(vtt_writer_begin(w, 1, err), 0);
	ck_assert_int_eq(vtt_writer_end(w, err), 0);
	ck_assert_int_eq(vtt_writer_finish(w, &data, &size, err), -1);
	ck_assert_str_eq(err, "<memory>: no stream for the root process");
	vtt_writer_free(w);
	m.root = 0;
	ck_assert_ptr_null(vtt_writer_open_mem(&m, err));
	ck_assert_str_eq(err, "<memory>: the root pid must not be 0");
}
END_TEST

/* ---- corrupt input: header and index ----------------------------------------- */

static struct buf good(void)
{
	const struct guest_event ev[] = {EV(GEV_FETCH, 0x1000, 3, 1, 0, 0), EV(GEV_LOAD, 0x2000, 8, 1, 0, 0)};
	return build(1, ev, 2);
}

START_TEST(test_vtt_bad_magic)
{
	struct buf b = good();
	b.p[5] = '\r'; /* a CRLF conversion's damage */
	expect_open_error(&b, "t.vtt: file byte 5: bad magic: not a .vtt file, or one altered in transfer");
	b.p[0] = 'I';
	expect_open_error(&b, "t.vtt: file byte 0: bad magic: not a .vtt file, or one altered in transfer");
	free(b.p);
}
END_TEST

START_TEST(test_vtt_truncated)
{
	struct buf b = good();
	char msg[256];
	size_t full = b.n;

	b.n = 30;
	expect_open_error(&b, "t.vtt: file byte 30: truncated: the file ends inside the 48-byte header");
	b.n = 6;
	expect_open_error(&b, "t.vtt: file byte 6: truncated: the file ends inside the 48-byte header");
	for (size_t cut = 48; cut < full; cut += 7) {
		b.n = cut;
		snprintf(msg, sizeof(msg), "t.vtt: file byte %zu: truncated: the file does not end with its index (\"VTTINDEX\")",
			 cut);
		expect_open_error(&b, msg);
	}
	free(b.p);
}
END_TEST

START_TEST(test_vtt_wrong_version)
{
	struct buf b = good();
	b.p[8] = 2;
	expect_open_error(&b, "t.vtt: file byte 8: unsupported .vtt version 2.0 (this vtsim reads version 1.x)");
	b.p[8] = 0;
	b.p[10] = 3;
	expect_open_error(&b, "t.vtt: file byte 8: unsupported .vtt version 0.3 (this vtsim reads version 1.x)");
	/* a later minor version of the same major version is read */
	b.p[8] = 1;
	b.p[10] = 9;
	fix_index_sum(&b);
	struct guest_event ev[MAXEV];
	char err[TRACE_ERR_LEN];
	ck_assert_int_eq(read_proc(&b, 1, 0, ev, MAXEV, err), 2);
	unsigned major, minor;
	struct vtt *f = vtt_open_mem(b.p, b.n, "t.vtt", 0, err);
	vtt_version(f, &major, &minor);
	ck_assert_uint_eq(major, 1);
	ck_assert_uint_eq(minor, 9);
	vtt_close(f);
	free(b.p);
}
END_TEST

START_TEST(test_vtt_bad_index_checksum)
{
	struct buf b = good();
	char msg[256];
	uint64_t ilen = rd_le(b.p + b.n - 16, 8);
	uint64_t stored = rd_le(b.p + b.n - VTT_FOOTER_LEN, 8);

	b.p[32] = 'X'; /* the source format name */
	XXH3_state_t *st = XXH3_createState();
	XXH3_64bits_reset(st);
	XXH3_64bits_update(st, b.p, 48);
	XXH3_64bits_update(st, b.p + b.n - ilen, (size_t)ilen - VTT_FOOTER_LEN);
	snprintf(msg, sizeof(msg),
		 "t.vtt: file byte %zu: header and index checksum mismatch (stored %016llx, computed %016llx)",
		 b.n - VTT_FOOTER_LEN, (unsigned long long)stored, (unsigned long long)XXH3_64bits_digest(st));
	XXH3_freeState(st);
	expect_open_error(&b, msg);
	free(b.p);
}
END_TEST

START_TEST(test_vtt_bad_header_fields)
{
	struct buf b = good();
	char msg[256];

	b.p[20] = 4;
	fix_index_sum(&b);
	expect_open_error(&b, "t.vtt: file byte 20: unknown header flags 0x4");
	b.p[20] = 0;
	b.p[16] = 2; /* root 2: no stream */
	fix_index_sum(&b);
	expect_open_error(&b, "t.vtt: file byte 16: the root process 2 has no stream");
	b.p[16] = 1;
	size_t e = entry_at(&b, 0);
	b.p[e + 8] = 49; /* the stream one byte later than the header's end */
	fix_index_sum(&b);
	snprintf(msg, sizeof(msg),
		 "t.vtt: file byte %zu: index entry 0 (process 1): a stream of %llu bytes at file byte 49 "
		 "(expected one at 48, before the index at %zu)",
		 e, (unsigned long long)rd_le(b.p + e + 16, 8), e - 8);
	expect_open_error(&b, msg);
	free(b.p);
}
END_TEST

/* ---- corrupt input: records ------------------------------------------------------ */

/* Stream checksum: an index that disagrees with the records. */
START_TEST(test_vtt_bad_stream_checksum)
{
	struct buf b = good();
	char msg[256];
	size_t e = entry_at(&b, 0);
	uint64_t right = rd_le(b.p + e + 40, 8);

	/* records: 03 80 40 (fetch), 18 80 80 01 (load), ff: END at byte 7 */
	wr_le(b.p + e + 40, right ^ 1, 8);
	fix_index_sum(&b);
	snprintf(msg, sizeof(msg),
		 "t.vtt: process 1, record byte 7: checksum mismatch: the records hash to %016llx, the index "
		 "gives %016llx",
		 (unsigned long long)right, (unsigned long long)(right ^ 1));
	expect_read_error(&b, 1, msg);
	free(b.p);
}
END_TEST

START_TEST(test_vtt_unknown_record_type)
{
	const struct guest_event ev[] = {EV(GEV_FETCH, 0x1000, 3, 1, 0, 0), EV(GEV_LOAD, 0x2000, 8, 1, 0, 0)};
	struct buf b = build_raw(1, ev, 2, "\x5a", 1, 1);
	/* after 03 80 40 */
	expect_read_error(&b, 1, "t.vtt: process 1, record byte 3: unknown record type 0x5a");
	free(b.p);
	b = build_raw(1, ev, 2, "\xfe", 1, 2);
	expect_read_error(&b, 1, "t.vtt: process 1, record byte 7: unknown record type 0xfe");
	free(b.p);
}
END_TEST

/* Each record type the format defines and vtsim cannot execute yet. */
START_TEST(test_vtt_reserved_record_types)
{
	static const struct {
		unsigned char tag;
		const char *name;
	} r[] = {{0xa0, "CR3 load"}, {0xa1, "INVLPG"}, {0xa4, "DMA"},
		 {0xa5, "interrupt"}, {0xa6, "instruction count"}};
	const struct guest_event ev[] = {EV(GEV_FETCH, 0x1000, 3, 1, 0, 0)};
	char msg[256];

	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		unsigned char rec[3] = {r[i].tag, 1, 0};
		struct buf b = build_raw(1, ev, 1, rec, sizeof(rec), 1);
		snprintf(msg, sizeof(msg),
			 "t.vtt: process 1, record byte 3: record type 0x%02x (%s) is defined by the format but this "
			 "vtsim cannot execute it yet",
			 r[i].tag, r[i].name);
		expect_read_error(&b, 1, msg);
		free(b.p);
	}
}
END_TEST

START_TEST(test_vtt_bad_fields)
{
	const struct guest_event ev[] = {EV(GEV_FETCH, 0x1000, 3, 1, 0, 0)};
	struct buf b;

	/* a load whose size varint says 0 */
	b = build_raw(1, ev, 1, "\x10\x00\x00", 3, 1);
	expect_read_error(&b, 1, "t.vtt: process 1, record byte 3: record type 0x10: memory reference size 0 out of range 1..4096");
	free(b.p);
	/* 4097 = 81 20 */
	b = build_raw(1, ev, 1, "\x10\x81\x20\x00", 4, 1);
	expect_read_error(&b, 1, "t.vtt: process 1, record byte 3: record type 0x10: memory reference size 4097 out of range 1..4096");
	free(b.p);
	/* a delta of 11 bytes */
	b = build_raw(1, ev, 1, "\x11\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12, 1);
	expect_read_error(&b, 1, "t.vtt: process 1, record byte 3: record type 0x11: a field over 64 bits");
	free(b.p);
	/* a 10th byte over 1 */
	b = build_raw(1, ev, 1, "\x11\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 11, 1);
	expect_read_error(&b, 1, "t.vtt: process 1, record byte 3: record type 0x11: a field over 64 bits");
	free(b.p);
	/* a pid of 2^32 = 80 80 80 80 10 */
	b = build_raw(1, ev, 1, "\x80\x80\x80\x80\x80\x10", 6, 1);
	expect_read_error(&b, 1, "t.vtt: process 1, record byte 3: record type 0x80: first field 4294967296 over 4294967295");
	free(b.p);
	/* a memory record cut by the end: its delta runs into the END byte and off the end */
	b = build_raw(1, ev, 1, "\x11", 1, 1);
	expect_read_error(&b, 1, "t.vtt: process 1, record byte 3: record type 0x11: truncated (the records end inside it)");
	free(b.p);
	/* MMIO: pid 1, gva 0, size 3, read, value 0, length 3 */
	b = build_raw(1, ev, 1, "\xa3\x01\x00\x03\x01\x00\x03", 7, 1);
	expect_read_error(&b, 1, "t.vtt: process 1, record byte 3: MMIO record: size 3 (1, 2, 4 or 8) or instruction "
				 "length 3 (1..15)");
	free(b.p);
	/* MMIO with instruction length 0, then 16 */
	b = build_raw(1, ev, 1, "\xa3\x01\x00\x04\x01\x00\x00", 7, 1);
	expect_read_error(&b, 1, "t.vtt: process 1, record byte 3: MMIO record: size 4 (1, 2, 4 or 8) or instruction "
				 "length 0 (1..15)");
	free(b.p);
	b = build_raw(1, ev, 1, "\xa3\x01\x00\x04\x01\x00\x10", 7, 1);
	expect_read_error(&b, 1, "t.vtt: process 1, record byte 3: record type 0xa3: sixth field 16 over 15");
	free(b.p);
	/* MMIO direction 2 */
	b = build_raw(1, ev, 1, "\xa3\x01\x00\x04\x02\x00\x03", 7, 1);
	expect_read_error(&b, 1, "t.vtt: process 1, record byte 3: record type 0xa3: fourth field 2 over 1");
	free(b.p);
	/* device I/O of operation 5, then 0 */
	b = build_raw(1, ev, 1, "\x8a\x01\x05\x00\x40\x00", 6, 1);
	expect_read_error(&b, 1, "t.vtt: process 1, record byte 3: record type 0x8a: second field 5 over 4");
	free(b.p);
	b = build_raw(1, ev, 1, "\x8a\x01\x00\x00\x40\x00", 6, 1);
	expect_read_error(&b, 1, "t.vtt: process 1, record byte 3: device I/O record: operation 0 (1..4)");
	free(b.p);
	/* an mmap record without its last field */
	b = build_raw(1, ev, 1, "\x81\x01\x02", 3, 1);
	expect_read_error(&b, 1, "t.vtt: process 1, record byte 3: record type 0x81: truncated (the records end inside it)");
	free(b.p);
}
END_TEST

START_TEST(test_vtt_records_after_end)
{
	const struct guest_event ev[] = {EV(GEV_FETCH, 0x1000, 3, 1, 0, 0), EV(GEV_FETCH, 0x1003, 3, 1, 0, 0)};
	struct buf b = build_raw(1, ev, 2, "\xff", 1, 1);
	/* 03 80 40, ff at 3, then 43 and the writer's ff */
	expect_read_error(&b, 1, "t.vtt: process 1, record byte 4: records after the END record");
	free(b.p);
}
END_TEST

/* The index says one more event than the records hold. */
START_TEST(test_vtt_event_count_mismatch)
{
	struct buf b = good();
	size_t e = entry_at(&b, 0);
	b.p[e + 32] = 3;
	fix_index_sum(&b);
	expect_read_error(&b, 1, "t.vtt: process 1, record byte 7: 2 events, the index gives 3");
	free(b.p);
}
END_TEST

/* Corrupt compressed data: zstd's own message, at a file byte in the frame. */
START_TEST(test_vtt_corrupt_zstd)
{
	struct buf b = good();
	struct guest_event ev[MAXEV];
	char err[TRACE_ERR_LEN];
	/* the frame header's descriptor byte (after its 4-byte magic): reserved bit 3 set */
	b.p[48 + 4] |= 0x08;
	ck_assert_int_eq(read_proc(&b, 1, 0, ev, MAXEV, err), -1);
	ck_assert_str_eq(err, "t.vtt: process 1, file byte 48: corrupt zstd data: Unsupported frame parameter");
	free(b.p);
	/* the record bytes end one byte short of the index's count */
	b = good();
	size_t e = entry_at(&b, 0);
	b.p[e + 24] = 9;
	fix_index_sum(&b);
	ck_assert_int_eq(read_proc(&b, 1, 0, ev, MAXEV, err), -1);
	ck_assert_str_eq(err, "t.vtt: process 1, record byte 7: the records are 8 bytes, the index gives 9");
	free(b.p);
}
END_TEST

/* A file that shrank after it was opened: the stream ends early. */
START_TEST(test_vtt_file_errors)
{
	char err[TRACE_ERR_LEN];
	ck_assert_ptr_null(vtt_open("/nonexistent/x.vtt", err));
	ck_assert_str_eq(err, "/nonexistent/x.vtt: cannot open: No such file or directory");
	ck_assert_ptr_null(vtt_open("/tmp", err));
	ck_assert_str_eq(err, "/tmp: not a regular file (a .vtt is read from its end first)");
	ck_assert_int_eq(vtt_sniff_file("/nonexistent/x.vtt"), 0);
}
END_TEST

/* ---- import --------------------------------------------------------------------- */

static char *src_path(const char *rel)
{
	const char *srcdir = getenv("VTSIM_SRCDIR");
	char *p = malloc(4096);
	snprintf(p, 4096, "%s/%s", srcdir && *srcdir ? srcdir : ".", rel);
	return p;
}

static char *tmp_path(void)
{
	const char *dir = getenv("TMPDIR");
	char *p = malloc(4096);
	snprintf(p, 4096, "%s/check_vtt.%ld.vtt", dir && *dir ? dir : "/tmp", (long)getpid());
	return p;
}

/* A shipped lackey log: import, then the .vtt gives its events one for one. */
static void import_log_matches(const char *rel, uint64_t want_events)
{
	char *in = src_path(rel), *out = tmp_path(), err[TRACE_ERR_LEN], sum[17], vsum[17];
	struct vtt_import_stats st;
	ck_assert_msg(vtt_import(in, out, &st, err) == 0, "%s", err);
	ck_assert_uint_eq(st.events, want_events);
	ck_assert_uint_eq(st.processes, 1);
	ck_assert_str_eq(st.source_format, "lackey+zstd");
	struct trace_reader *tr = trace_open(in, err);
	struct vtt *f = vtt_open(out, err);
	ck_assert_ptr_nonnull(tr);
	ck_assert_msg(f != NULL, "%s", err);
	ck_assert_uint_eq(vtt_root(f), 1);
	ck_assert_int_eq(trace_file_checksum(in, sum, err), 0);
	vtt_source_checksum(f, vsum);
	ck_assert_str_eq(vsum, sum);
	ck_assert_str_eq(vtt_source_format(f), "lackey+zstd");
	struct frontend fe;
	ck_assert_int_eq(vtt_open_proc(f, 1, &fe, err), 0);
	struct guest_event a, b;
	uint64_t n = 0;
	int ra;
	while ((ra = trace_next(tr, &a, err)) == 1 && fe.next(fe.ctx, &b, err) == 1 && ev_eq(&a, &b))
		n++;
	ck_assert_msg(ra == 0, "event %llu differs or ends early", (unsigned long long)n);
	ck_assert_int_eq(fe.next(fe.ctx, &b, err), 0);
	ck_assert_uint_eq(n, want_events);
	vtt_close(f);
	trace_close(tr);
	unlink(out);
	free(in);
	free(out);
}

/* Events per trace from traces/README.md: every line's event (I+L+S+M and
 * the system-call events of its table). */
START_TEST(test_vtt_import_shipped_logs)
{
	import_log_matches("traces/sort.lackey.zst", 3139999 + 836222 + 420810 + 14532 + 13 + 2 + 3 + 0 + 1);
	import_log_matches("traces/gzip.lackey.zst", 3557332 + 767533 + 356979 + 12685 + 12 + 1 + 1 + 0 + 1);
}
END_TEST

/* The shipped trace set: one stream per process, root first, each the
 * events the set reader hands the guest for that process. */
START_TEST(test_vtt_import_shipped_set)
{
	char *in = src_path("traces/pipeline.d"), *out = tmp_path(), err[TRACE_ERR_LEN];
	struct vtt_import_stats st;
	ck_assert_msg(vtt_import(in, out, &st, err) == 0, "%s", err);
	ck_assert_uint_eq(st.processes, 5);
	ck_assert_str_eq(st.source_format, "lackey+zstd set");
	struct traceset *ts = traceset_open(in, err);
	struct vtt *f = vtt_open(out, err);
	ck_assert_ptr_nonnull(ts);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(vtt_root(f), 20013);
	char vsum[17];
	vtt_source_checksum(f, vsum);
	ck_assert_str_eq(vsum, "335b25d70380ce18");
	static const uint32_t order[5] = {20013, 20014, 20015, 20016, 20017};
	ck_assert_uint_eq(vtt_streams(f), 5);
	uint64_t total = 0;
	for (size_t i = 0; i < 5; i++) {
		struct frontend a, b;
		struct guest_event ea, eb;
		int r;
		ck_assert_uint_eq(vtt_stream(f, i)->pid, order[i]);
		ck_assert_int_eq(traceset_open_proc(ts, order[i], &a, err), 0);
		ck_assert_int_eq(vtt_open_proc(f, order[i], &b, err), 0);
		while ((r = a.next(a.ctx, &ea, err)) == 1 && b.next(b.ctx, &eb, err) == 1 && ev_eq(&ea, &eb))
			total++;
		ck_assert_msg(r == 0, "process %u: event %llu differs or ends early", order[i], (unsigned long long)total);
		ck_assert_int_eq(b.next(b.ctx, &eb, err), 0);
		traceset_close_proc(ts, order[i]);
		vtt_close_proc(f, order[i]);
	}
	/* traces/README.md: 3,809,523 lines, of which I+L+S+M = 3,808,777, plus
	 * the system-call events and the 4 exec events the set reader adds */
	ck_assert_uint_eq(total, st.events);
	ck_assert_uint_eq(total, 3808879);
	vtt_close(f);
	traceset_close(ts);
	unlink(out);
	free(in);
	free(out);
}
END_TEST

START_TEST(test_vtt_import_errors)
{
	char *out = tmp_path(), err[TRACE_ERR_LEN], msg[8192];
	struct vtt_import_stats st;
	ck_assert_int_eq(vtt_import("/nonexistent/t.lackey", out, &st, err), -1);
	ck_assert_str_eq(err, "/nonexistent/t.lackey: cannot open: No such file or directory");
	ck_assert_int_eq(access(out, F_OK), -1);
	/* a bad line: the reader's message, and nothing left behind */
	char *bad = tmp_path();
	strcat(bad, ".lackey");
	FILE *fp = fopen(bad, "w");
	fputs("I  0401ab70,3\n S 1fff00zz08,8\n", fp);
	fclose(fp);
	ck_assert_int_eq(vtt_import(bad, out, &st, err), -1);
	snprintf(msg, sizeof(msg), "%s:2: bad hex address: ' S 1fff00zz08,8'", bad);
	ck_assert_str_eq(err, msg);
	ck_assert_int_eq(access(out, F_OK), -1);
	snprintf(msg, sizeof(msg), "%s.tmp.%ld", out, (long)getpid());
	ck_assert_int_eq(access(msg, F_OK), -1);
	/* a .vtt is not imported again */
	fp = fopen(bad, "w");
	fputs("I  0401ab70,3\n", fp);
	fclose(fp);
	ck_assert_int_eq(vtt_import(bad, out, &st, err), 0);
	ck_assert_int_eq(vtt_import(out, bad, &st, err), -1);
	snprintf(msg, sizeof(msg), "%s: already a .vtt trace", out);
	ck_assert_str_eq(err, msg);
	unlink(bad);
	unlink(out);
	free(bad);
	free(out);
}
END_TEST

static Suite *vtt_suite(void)
{
	Suite *s = suite_create("vtt");
	TCase *tc = tcase_create("format");
	tcase_add_test(tc, test_vtt_record_bytes);
	tcase_add_test(tc, test_vtt_header_and_index);
	tcase_add_test(tc, test_vtt_round_trip_every_kind);
	tcase_add_test(tc, test_vtt_round_trip_long);
	tcase_add_test(tc, test_vtt_processes);
	tcase_add_test(tc, test_vtt_writer_refuses);
	suite_add_tcase(s, tc);
	tc = tcase_create("corrupt");
	tcase_add_test(tc, test_vtt_bad_magic);
	tcase_add_test(tc, test_vtt_truncated);
	tcase_add_test(tc, test_vtt_wrong_version);
	tcase_add_test(tc, test_vtt_bad_index_checksum);
	tcase_add_test(tc, test_vtt_bad_header_fields);
	tcase_add_test(tc, test_vtt_bad_stream_checksum);
	tcase_add_test(tc, test_vtt_unknown_record_type);
	tcase_add_test(tc, test_vtt_reserved_record_types);
	tcase_add_test(tc, test_vtt_bad_fields);
	tcase_add_test(tc, test_vtt_records_after_end);
	tcase_add_test(tc, test_vtt_event_count_mismatch);
	tcase_add_test(tc, test_vtt_corrupt_zstd);
	tcase_add_test(tc, test_vtt_file_errors);
	suite_add_tcase(s, tc);
	tc = tcase_create("import");
	tcase_add_test(tc, test_vtt_import_shipped_logs);
	tcase_add_test(tc, test_vtt_import_shipped_set);
	tcase_add_test(tc, test_vtt_import_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(vtt_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
