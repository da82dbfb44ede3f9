/*
 * Writes the seed and regression corpus of the .vtt fuzz target
 * (fuzz/corpus/vtt/), with the writer and byte edits: `make fuzz-vtt-corpus`.
 * The end-to-end tests run some of these files through `vtsim run` too.
 *
 *   one.vtt            one process (pid 1): fetches, loads, stores, a modify,
 *                      mmap, munmap, brk, CPUID, port I/O, exit
 *   set.vtt            three processes: root 100 creates 101 and 102 and waits
 *   unknown_type.vtt   one.vtt's process with record type 0x5a after 4 events
 *   invlpg.vtt         the same with an INVLPG record (0xa1): defined, not executable
 *                      (HLT, 0xa2, is executable since the Unicorn front end)
 *   bad_stream_sum.vtt one.vtt with the stream's XXH3-64 in the index changed
 *                      (and the index checksum made right again)
 *   bad_index_sum.vtt  one.vtt with a byte of the source format changed
 *   version2.vtt       one.vtt with major version 2
 *   bad_magic.vtt      one.vtt with its magic's CR LF made LF LF
 *   truncated.vtt      one.vtt without its last 10 bytes
 *   after_end.vtt      a stream with records after its END record
 *   devices.vtt        one process driving devices: mmap of the NIC's BAR,
 *                      MMIO stores and loads in it (0xa3), net RX/TX and a
 *                      block read (device I/O, 0x8a), exit
 *
 * Usage: vtt_corpus DIR
 *
 * Notes: event addresses are those of a small x86-64 Linux process (text
 * at 0x401000, stack near 0x7ffd00000000), so the good files and the
 * failing ones up to their error also run in the simulator.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "trace/trace.h"
#include "trace/vtt.h"
#include "trace/vtt_format.h"

#define EV(k, g, sz, p, l, a) ((struct guest_event){.kind = (k), .gva = (g), .size = (sz), .pid = (p), .len = (l), .arg = (a)})

static const struct guest_event one[] = {
	EV(GEV_FETCH, 0x401000, 4, 1, 0, 0),
	EV(GEV_FETCH, 0x401004, 3, 1, 0, 0),
	EV(GEV_STORE, 0x7ffd0000eff8, 8, 1, 0, 0),
	EV(GEV_FETCH, 0x401007, 5, 1, 0, 0),
	EV(GEV_LOAD, 0x404020, 8, 1, 0, 0),
	EV(GEV_MMAP, 0x7f0000000000, 0, 1, 0x10000, 3),
	EV(GEV_FETCH, 0x40100c, 3, 1, 0, 0),
	EV(GEV_MODIFY, 0x7f0000000010, 4, 1, 0, 0),
	EV(GEV_BRK, 0x405000, 0, 1, 0, 0),
	EV(GEV_FETCH, 0x401010, 2, 1, 0, 0),
	EV(GEV_LOAD, 0x404ff8, 16, 1, 0, 0),
	EV(GEV_CPUID, 0, 0, 1, 0, 1),
	EV(GEV_IO, 0x3f8, 1, 1, 0x41, 0),
	EV(GEV_MUNMAP, 0x7f0000000000, 0, 1, 0x10000, 0),
	EV(GEV_FETCH, 0x401012, 2, 1, 0, 0),
	EV(GEV_PROC_EXIT, 0, 0, 1, 0, 0),
};
#define NONE (sizeof(one) / sizeof(one[0]))

struct buf {
	unsigned char *p;
	size_t n;
};

static void die(const char *err)
{
	fprintf(stderr, "vtt_corpus: %s\n", err);
	exit(1);
}

static struct buf write_one(const void *raw, size_t raw_len, size_t at)
{
	char err[TRACE_ERR_LEN];
	struct vtt_meta m = {1, "lackey", 0x0123456789abcdefu, 0};
	struct vtt_writer *w = vtt_writer_open_mem(&m, err);
	struct buf b;
	void *data;

	if (!w || vtt_writer_begin(w, 1, err) < 0)
		die(err);
	for (size_t i = 0; i <= NONE; i++) {
		if (raw && i == at && vtt_writer_raw(w, raw, raw_len, err) < 0)
			die(err);
		if (i < NONE && vtt_writer_event(w, &one[i], err) < 0)
			die(err);
	}
	if (vtt_writer_end(w, err) < 0 || vtt_writer_finish(w, &data, &b.n, err) < 0)
		die(err);
	vtt_writer_free(w);
	b.p = data;
	return b;
}

static struct buf write_set(void)
{
	char err[TRACE_ERR_LEN];
	struct vtt_meta m = {100, "lackey set", 0xfedcba9876543210u, 0};
	struct vtt_writer *w = vtt_writer_open_mem(&m, err);
	struct buf b;
	void *data;
	const struct guest_event root[] = {
		EV(GEV_FETCH, 0x401000, 4, 100, 0, 0),       EV(GEV_STORE, 0x7ffd0000eff8, 8, 100, 0, 0),
		EV(GEV_PROC_CREATE, 100, 0, 101, 0, 0),      EV(GEV_PROC_CREATE, 100, 0, 102, 0, 0),
		EV(GEV_FETCH, 0x401004, 3, 100, 0, 0),       EV(GEV_WAIT, 0, 0, 100, 0, 0),
		EV(GEV_WAIT, 0, 0, 100, 0, 0),               EV(GEV_PROC_EXIT, 0, 0, 100, 0, 0),
	};
	const struct guest_event kid[] = {
		EV(GEV_FETCH, 0x401100, 4, 0, 0, 0),   EV(GEV_LOAD, 0x7ffd0000eff8, 8, 0, 0, 0),
		EV(GEV_EXEC, 0, 0, 0, 0, 0),           EV(GEV_FETCH, 0x402000, 4, 0, 0, 0),
		EV(GEV_STORE, 0x7ffd0000aff0, 8, 0, 0, 0), EV(GEV_PROC_EXIT, 0, 0, 0, 0, 0),
	};

	if (!w || vtt_writer_begin(w, 100, err) < 0)
		die(err);
	for (size_t i = 0; i < sizeof(root) / sizeof(root[0]); i++)
		if (vtt_writer_event(w, &root[i], err) < 0)
			die(err);
	if (vtt_writer_end(w, err) < 0)
		die(err);
	for (uint32_t pid = 101; pid <= 102; pid++) {
		if (vtt_writer_begin(w, pid, err) < 0)
			die(err);
		for (size_t i = 0; i < sizeof(kid) / sizeof(kid[0]); i++) {
			struct guest_event e = kid[i];

			e.pid = pid;
			if (vtt_writer_event(w, &e, err) < 0)
				die(err);
		}
		if (vtt_writer_end(w, err) < 0)
			die(err);
	}
	if (vtt_writer_finish(w, &data, &b.n, err) < 0)
		die(err);
	vtt_writer_free(w);
	b.p = data;
	return b;
}

static struct buf write_devices(void)
{
	char err[TRACE_ERR_LEN];
	struct vtt_meta m = {1, "unicorn", 0x0123456789abcdefu, 0};
	struct vtt_writer *w = vtt_writer_open_mem(&m, err);
	struct buf b;
	void *data;
	const struct guest_event ev[] = {
		EV(GEV_FETCH, 0x401000, 4, 1, 0, 0),
		EV(GEV_MMAP, 0x7f0000000000, 0, 1, 0x20000, 3 | GEV_MMAP_DEVICE),
		EV(GEV_MMIO, 0x7f00000000d8, 4, 1, 0xffffffff, 6 << 8), /* IMC store, a 6-byte MOV */
		EV(GEV_MMIO, 0x7f0000000008, 4, 1, 0, 1 | 6 << 8),      /* STATUS load */
		EV(GEV_FETCH, 0x401004, 3, 1, 0, 0),
		EV(GEV_DEVIO, 0x7f0000100000, 0, 1, 8192, DEVIO_NET_RX),
		EV(GEV_LOAD, 0x7f0000100000, 8, 1, 0, 0),
		EV(GEV_DEVIO, 0x7f0000102000, 0, 1, 64, DEVIO_NET_TX),
		EV(GEV_DEVIO, 0x7f0000100000, 8, 1, 4096, DEVIO_BLK_READ),
		EV(GEV_PROC_EXIT, 0, 0, 1, 0, 0),
	};

	if (!w || vtt_writer_begin(w, 1, err) < 0)
		die(err);
	for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++)
		if (vtt_writer_event(w, &ev[i], err) < 0)
			die(err);
	if (vtt_writer_end(w, err) < 0 || vtt_writer_finish(w, &data, &b.n, err) < 0)
		die(err);
	vtt_writer_free(w);
	b.p = data;
	return b;
}

static uint64_t rd_le(const unsigned char *p)
{
	uint64_t v = 0;
	for (unsigned i = 8; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static void fix_index_sum(struct buf *b)
{
	uint64_t ilen = rd_le(b->p + b->n - 16), sum;
	XXH3_state_t *st = XXH3_createState();

	XXH3_64bits_reset(st);
	XXH3_64bits_update(st, b->p, VTT_HEADER_LEN);
	XXH3_64bits_update(st, b->p + b->n - ilen, (size_t)ilen - VTT_FOOTER_LEN);
	sum = XXH3_64bits_digest(st);
	for (unsigned i = 0; i < 8; i++)
		b->p[b->n - VTT_FOOTER_LEN + i] = (unsigned char)(sum >> (8 * i));
	XXH3_freeState(st);
}

static void save(const char *dir, const char *name, const struct buf *b)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(b->p, 1, b->n, f) != b->n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	struct buf b;

	if (argc != 2) {
		fprintf(stderr, "usage: vtt_corpus DIR\n");
		return 2;
	}
	b = write_one(NULL, 0, 0);
	save(argv[1], "one.vtt", &b);
	b.n -= 10;
	save(argv[1], "truncated.vtt", &b);
	b.n += 10;
	b.p[8] = 2;
	save(argv[1], "version2.vtt", &b);
	b.p[8] = 1;
	b.p[4] = '\n';
	save(argv[1], "bad_magic.vtt", &b);
	b.p[4] = '\r';
	b.p[33] ^= 0x20;
	save(argv[1], "bad_index_sum.vtt", &b);
	b.p[33] ^= 0x20;
	/* the stream's XXH3-64: index entry 0, bytes 40..47 */
	b.p[b.n - (size_t)rd_le(b.p + b.n - 16) + VTT_INDEX_HEAD_LEN + 40] ^= 0x01;
	fix_index_sum(&b);
	save(argv[1], "bad_stream_sum.vtt", &b);
	free(b.p);
	b = write_one("\x5a", 1, 4);
	save(argv[1], "unknown_type.vtt", &b);
	free(b.p);
	b = write_one("\xa1\x01\x00", 3, 4);
	save(argv[1], "invlpg.vtt", &b);
	free(b.p);
	b = write_one("\xff", 1, 4);
	save(argv[1], "after_end.vtt", &b);
	free(b.p);
	b = write_set();
	save(argv[1], "set.vtt", &b);
	free(b.p);
	b = write_devices();
	save(argv[1], "devices.vtt", &b);
	free(b.p);
	return 0;
}
