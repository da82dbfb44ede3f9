/*
 * .vtt reader (see vtt.h; layouts in vtt_format.h).
 *
 * Notes:
 *  - Handles: format detection by the first 4 bytes; the header (magic,
 *    version rule: same major version, header_len skips fields a later
 *    minor version adds, flags must be 0); the index at the end (its
 *    XXH3-64 over header and index, contiguous streams, distinct pids,
 *    the root's stream); one decoder per open stream (pread at its own
 *    position, so processes are read in whatever order the guest runs
 *    them), each with a fixed compressed-input buffer, a fixed record
 *    buffer, a zstd window of at most 2^VTT_WINDOW_LOG bytes and its
 *    running XXH3-64; at a stream's END record, its length, event count
 *    and checksum against the index.
 *  - Errors are one line, sticky per stream: "NAME: file byte N: ..." for
 *    the header, index and compressed data, "NAME: process P, record byte
 *    N: ..." for records (N counts the process's decompressed records).
 *    Record types the format defines but this vtsim cannot execute
 *    (CR3 load, INVLPG, DMA, interrupt, instruction counts)
 *    stop the stream with their name; nothing is skipped.
 *  - A stream's checksum is known to be right only at its end: events
 *    before a corrupt byte have already been handed out (as with a lackey
 *    log, whose bad line comes after good ones); a run that meets the
 *    error fails and stores nothing.
 *  - Leaves out: reading from a pipe (the index is at the end), and
 *    streams split over several zstd frames (the writer makes one).
 */
#include "trace/vtt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#include "trace/trace.h"
#include "trace/vtt_format.h"

/* Compressed bytes read per pread, and decompressed records held. */
#define SR_IN (64u * 1024u)
#define SR_OUT (256u * 1024u)
/* Memory references decoded at a time. */
#define SR_BATCH 512u
/* Most streams an index may list (a guard against a corrupt count). */
#define MAX_STREAMS (1u << 20)

enum { ST_UNOPENED, ST_OPEN, ST_CLOSED };

struct vtt_sr;

struct vtt {
	char *name;
	int fd;                        /* -1: memory */
	const unsigned char *mem;
	size_t chunk;
	uint64_t size;
	unsigned major, minor;
	uint32_t root;
	uint64_t src_sum;
	char src_fmt[VTT_SRC_FMT_LEN + 1];
	struct vtt_stream_info *streams;
	size_t nstreams;
	unsigned char *state;          /* per stream: ST_* */
	struct vtt_sr **open;          /* per stream: its decoder while open */
	uint64_t consumed;             /* compressed bytes read, all streams */
	const void *last;              /* the vtt_sr that handed out the last event (the batch's mark) */
	uint32_t last_pid;             /* and where, once that stream is closed */
	uint64_t last_off;
	bool have_last;
};

/* One open stream. */
struct vtt_sr {
	struct vtt *f;
	size_t idx;
	uint32_t pid;
	uint64_t fpos, fend;           /* next compressed byte to read, end of the frame */
	ZSTD_DStream *zds;
	unsigned char *in;             /* SR_IN compressed bytes */
	ZSTD_inBuffer zin;
	bool zdone;                    /* the frame is decoded to its end */
	unsigned char *out;            /* SR_OUT record bytes; [opos, oend) not parsed yet */
	size_t opos, oend;
	uint64_t out_base;             /* record byte of out[0] */
	uint64_t produced;             /* record bytes decompressed */
	XXH3_state_t *xx;
	uint32_t cur_pid;              /* pid of memory references */
	uint64_t next_fetch, last_data; /* address predictions */
	uint64_t events;               /* decoded, with the batch */
	uint64_t ev_off;               /* record byte of the last event the slow path handed out */
	struct guest_event batch[SR_BATCH]; /* decoded memory references, [fb.i, fb.n) not handed out */
	size_t batch_start;            /* out[batch_start] is the record of batch[0] */
	size_t batch_last;             /* out[batch_last] the record of batch[fb.n - 1] */
	uint64_t batch_base;           /* out_base when the batch was decoded */
	uint32_t batch_pid;            /* the pid every batch entry holds (with len = arg = 0) */
	bool batch_filled;             /* batch_pid, len and arg are written in every entry */
	struct guest_event_batch fb;   /* the batch as consumers see it (struct frontend's batch) */
	bool ended;
	bool failed;
	char errmsg[TRACE_ERR_LEN];
};

static uint64_t sr_last_off(const struct vtt_sr *s);

static const char *const reserved_names[] = {
	[VTT_REC_CR3_LOAD - 0xa0] = "CR3 load", [VTT_REC_INVLPG - 0xa0] = "INVLPG",
	[VTT_REC_HLT - 0xa0] = "HLT",           [VTT_REC_MMIO - 0xa0] = "MMIO access",
	[VTT_REC_DMA - 0xa0] = "DMA",           [VTT_REC_INTERRUPT - 0xa0] = "interrupt",
	[VTT_REC_INSNS - 0xa0] = "instruction count",
};

static uint64_t get_le(const unsigned char *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

/* ---- detection ------------------------------------------------------------ */

/* Identification bytes in memory; see vtt.h. */
bool vtt_sniff(const void *data, size_t size)
{
	return size >= VTT_SNIFF_LEN && memcmp(data, VTT_MAGIC, VTT_SNIFF_LEN) == 0;
}

/* Identification bytes of a file; see vtt.h. */
int vtt_sniff_file(const char *path)
{
	unsigned char b[VTT_SNIFF_LEN];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	do
		n = pread(fd, b, sizeof(b), 0);
	while (n < 0 && errno == EINTR);
	close(fd);
	return n == (ssize_t)sizeof(b) && vtt_sniff(b, sizeof(b));
}

/* ---- raw bytes --------------------------------------------------------------- */

/* Read up to n bytes at file byte off: the count, or -1 with errno. */
static ssize_t raw_pread(const struct vtt *f, void *dst, size_t n, uint64_t off)
{
	if (f->chunk && n > f->chunk)
		n = f->chunk;
	if (f->fd < 0) {
		if (off >= f->size)
			return 0;
		if (n > f->size - off)
			n = (size_t)(f->size - off);
		memcpy(dst, f->mem + off, n);
		return (ssize_t)n;
	}
	for (;;) {
		ssize_t k = pread(f->fd, dst, n, (off_t)off);

		if (k >= 0 || errno != EINTR)
			return k;
	}
}

/* Read exactly n bytes at off (header, index): 0, or -1 with a message. */
static int read_exact(const struct vtt *f, void *dst, size_t n, uint64_t off, char *err)
{
	unsigned char *p = dst;

	while (n) {
		ssize_t k = raw_pread(f, p, n, off);

		if (k < 0) {
			snprintf(err, TRACE_ERR_LEN, "%s: file byte %llu: read error: %s", f->name,
				 (unsigned long long)off, strerror(errno));
			return -1;
		}
		if (k == 0) {
			snprintf(err, TRACE_ERR_LEN, "%s: file byte %llu: truncated: the file ends here", f->name,
				 (unsigned long long)off);
			return -1;
		}
		p += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

/* ---- header and index ------------------------------------------------------- */

static int bad(const struct vtt *f, char *err, uint64_t off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int bad(const struct vtt *f, char *err, uint64_t off, const char *fmt, ...)
{
	char what[TRACE_ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(err, TRACE_ERR_LEN, "%.200s: file byte %llu: %.280s", f->name, (unsigned long long)off, what);
	return -1;
}

static int read_header(struct vtt *f, unsigned char *h, char *err)
{
	size_t have = f->size < VTT_HEADER_LEN ? (size_t)f->size : VTT_HEADER_LEN;
	uint32_t flags, hlen;

	if (have && read_exact(f, h, have, 0, err) < 0)
		return -1;
	for (size_t i = 0; i < VTT_MAGIC_LEN && i < have; i++)
		if (h[i] != (unsigned char)VTT_MAGIC[i])
			return bad(f, err, i, "bad magic: not a .vtt file, or one altered in transfer");
	if (have < VTT_HEADER_LEN)
		return bad(f, err, have, "truncated: the file ends inside the %u-byte header", VTT_HEADER_LEN);
	f->major = (unsigned)get_le(h + VTT_H_MAJOR, 2);
	f->minor = (unsigned)get_le(h + VTT_H_MINOR, 2);
	if (f->major != VTT_VERSION_MAJOR)
		return bad(f, err, VTT_H_MAJOR, "unsupported .vtt version %u.%u (this vtsim reads version %u.x)",
			   f->major, f->minor, VTT_VERSION_MAJOR);
	hlen = (uint32_t)get_le(h + VTT_H_LEN, 4);
	if (hlen < VTT_HEADER_LEN || hlen > f->size)
		return bad(f, err, VTT_H_LEN, "bad header length %u (at least %u, within the file)", hlen,
			   VTT_HEADER_LEN);
	f->root = (uint32_t)get_le(h + VTT_H_ROOT, 4);
	if (f->root == 0)
		return bad(f, err, VTT_H_ROOT, "the root pid is 0");
	flags = (uint32_t)get_le(h + VTT_H_FLAGS, 4);
	if (flags)
		return bad(f, err, VTT_H_FLAGS, "unknown header flags 0x%x", flags);
	f->src_sum = get_le(h + VTT_H_SRC_SUM, 8);
	memcpy(f->src_fmt, h + VTT_H_SRC_FMT, VTT_SRC_FMT_LEN);
	f->src_fmt[VTT_SRC_FMT_LEN] = '\0';
	for (size_t i = 0; f->src_fmt[i]; i++)
		if (f->src_fmt[i] < 0x20 || f->src_fmt[i] > 0x7e)
			return bad(f, err, VTT_H_SRC_FMT + i, "the source format name is not printable ASCII");
	return 0;
}

static int read_index(struct vtt *f, const unsigned char *h, char *err)
{
	uint64_t hlen = get_le(h + VTT_H_LEN, 4), ilen, istart, n, expect;
	unsigned char foot[VTT_FOOTER_LEN], *ix;
	XXH3_state_t *st;
	uint64_t sum;

	if (f->size < hlen + VTT_INDEX_HEAD_LEN + VTT_ENTRY_LEN + VTT_FOOTER_LEN ||
	    read_exact(f, foot, VTT_FOOTER_LEN, f->size - VTT_FOOTER_LEN, err) < 0 ||
	    memcmp(foot + 16, VTT_END_MAGIC, 8) != 0)
		return bad(f, err, f->size, "truncated: the file does not end with its index (\"%s\")", VTT_END_MAGIC);
	ilen = get_le(foot + 8, 8);
	if (ilen < VTT_INDEX_HEAD_LEN + VTT_ENTRY_LEN + VTT_FOOTER_LEN || ilen > f->size - hlen ||
	    (ilen - VTT_INDEX_HEAD_LEN - VTT_FOOTER_LEN) % VTT_ENTRY_LEN != 0)
		return bad(f, err, f->size - 16, "bad index length %llu", (unsigned long long)ilen);
	n = (ilen - VTT_INDEX_HEAD_LEN - VTT_FOOTER_LEN) / VTT_ENTRY_LEN;
	if (n > MAX_STREAMS)
		return bad(f, err, f->size - 16, "an index of %llu streams (at most %u)", (unsigned long long)n,
			   MAX_STREAMS);
	istart = f->size - ilen;
	ix = malloc((size_t)ilen);
	st = XXH3_createState();
	if (!ix || !st) {
		free(ix);
		XXH3_freeState(st);
		snprintf(err, TRACE_ERR_LEN, "%s: out of memory", f->name);
		return -1;
	}
	if (read_exact(f, ix, (size_t)ilen, istart, err) < 0)
		goto fail;
	XXH3_64bits_reset(st);
	XXH3_64bits_update(st, h, VTT_HEADER_LEN);
	if (hlen > VTT_HEADER_LEN) {
		/* fields of a later minor version: covered, not interpreted */
		unsigned char more[256];

		for (uint64_t off = VTT_HEADER_LEN; off < hlen;) {
			size_t k = hlen - off < sizeof(more) ? (size_t)(hlen - off) : sizeof(more);

			if (read_exact(f, more, k, off, err) < 0)
				goto fail;
			XXH3_64bits_update(st, more, k);
			off += k;
		}
	}
	XXH3_64bits_update(st, ix, (size_t)ilen - VTT_FOOTER_LEN);
	sum = get_le(ix + ilen - VTT_FOOTER_LEN, 8);
	if (sum != XXH3_64bits_digest(st)) {
		bad(f, err, f->size - VTT_FOOTER_LEN,
		    "header and index checksum mismatch (stored %016llx, computed %016llx)", (unsigned long long)sum,
		    (unsigned long long)XXH3_64bits_digest(st));
		goto fail;
	}
	if (get_le(ix, 4) != n || get_le(ix + 4, 4) != 0) {
		bad(f, err, istart, "the index counts %llu streams in room for %llu",
		    (unsigned long long)get_le(ix, 4), (unsigned long long)n);
		goto fail;
	}
	f->nstreams = (size_t)n;
	f->streams = calloc((size_t)n, sizeof(*f->streams));
	f->state = calloc((size_t)n, 1);
	f->open = calloc((size_t)n, sizeof(*f->open));
	if (!f->streams || !f->state || !f->open) {
		snprintf(err, TRACE_ERR_LEN, "%s: out of memory", f->name);
		goto fail;
	}
	expect = hlen;
	for (size_t i = 0; i < n; i++) {
		const unsigned char *e = ix + VTT_INDEX_HEAD_LEN + VTT_ENTRY_LEN * i;
		uint64_t at = istart + VTT_INDEX_HEAD_LEN + VTT_ENTRY_LEN * i;
		struct vtt_stream_info *s = &f->streams[i];

		s->pid = (uint32_t)get_le(e, 4);
		s->offset = get_le(e + 8, 8);
		s->compressed = get_le(e + 16, 8);
		s->record_bytes = get_le(e + 24, 8);
		s->events = get_le(e + 32, 8);
		s->xxh3 = get_le(e + 40, 8);
		if (s->pid == 0 || get_le(e + 4, 4) != 0) {
			bad(f, err, at, "index entry %zu: pid 0 or reserved bits set", i);
			goto fail;
		}
		for (size_t j = 0; j < i; j++)
			if (f->streams[j].pid == s->pid) {
				bad(f, err, at, "index entry %zu: a second stream for process %u", i, s->pid);
				goto fail;
			}
		if (s->offset != expect || s->compressed == 0 || s->compressed > istart - expect ||
		    s->record_bytes == 0) {
			bad(f, err, at, "index entry %zu (process %u): a stream of %llu bytes at file byte %llu "
				       "(expected one at %llu, before the index at %llu)",
			    i, s->pid, (unsigned long long)s->compressed, (unsigned long long)s->offset,
			    (unsigned long long)expect, (unsigned long long)istart);
			goto fail;
		}
		expect += s->compressed;
	}
	if (expect != istart) {
		bad(f, err, expect, "%llu bytes between the last stream and the index",
		    (unsigned long long)(istart - expect));
		goto fail;
	}
	for (size_t i = 0; i < n; i++)
		if (f->streams[i].pid == f->root) {
			free(ix);
			XXH3_freeState(st);
			return 0;
		}
	bad(f, err, VTT_H_ROOT, "the root process %u has no stream", f->root);
fail:
	free(ix);
	XXH3_freeState(st);
	return -1;
}

static struct vtt *finish_open(struct vtt *f, char *err)
{
	unsigned char h[VTT_HEADER_LEN];

	if (read_header(f, h, err) == 0 && read_index(f, h, err) == 0)
		return f;
	vtt_close(f);
	return NULL;
}

/* Open a file; see vtt.h. */
struct vtt *vtt_open(const char *path, char *err)
{
	struct vtt *f = calloc(1, sizeof(*f));
	struct stat st;

	if (!f || !(f->name = strdup(path))) {
		snprintf(err, TRACE_ERR_LEN, "%s: out of memory", path);
		free(f);
		return NULL;
	}
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0) {
		snprintf(err, TRACE_ERR_LEN, "%s: cannot open: %s", path, strerror(errno));
		vtt_close(f);
		return NULL;
	}
	if (fstat(f->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, TRACE_ERR_LEN, "%s: not a regular file (a .vtt is read from its end first)", path);
		vtt_close(f);
		return NULL;
	}
	f->size = (uint64_t)st.st_size;
	return finish_open(f, err);
}

/* Open bytes in memory; see vtt.h. */
struct vtt *vtt_open_mem(const void *data, size_t size, const char *name, size_t chunk, char *err)
{
	struct vtt *f = calloc(1, sizeof(*f));

	if (!name)
		name = "<memory>";
	if (!f || !(f->name = strdup(name))) {
		snprintf(err, TRACE_ERR_LEN, "%s: out of memory", name);
		free(f);
		return NULL;
	}
	f->fd = -1;
	f->mem = data;
	f->size = size;
	f->chunk = chunk;
	return finish_open(f, err);
}

static void sr_free(struct vtt_sr *s)
{
	if (!s)
		return;
	ZSTD_freeDStream(s->zds);
	XXH3_freeState(s->xx);
	free(s->in);
	free(s->out);
	free(s);
}

/* Close; see vtt.h. */
void vtt_close(struct vtt *f)
{
	if (!f)
		return;
	for (size_t i = 0; f->open && i < f->nstreams; i++)
		sr_free(f->open[i]);
	if (f->fd >= 0)
		close(f->fd);
	free(f->streams);
	free(f->state);
	free(f->open);
	free(f->name);
	free(f);
}

uint32_t vtt_root(const struct vtt *f)
{
	return f->root;
}

size_t vtt_streams(const struct vtt *f)
{
	return f->nstreams;
}

const struct vtt_stream_info *vtt_stream(const struct vtt *f, size_t i)
{
	return i < f->nstreams ? &f->streams[i] : NULL;
}

void vtt_version(const struct vtt *f, unsigned *major, unsigned *minor)
{
	*major = f->major;
	*minor = f->minor;
}

const char *vtt_source_format(const struct vtt *f)
{
	return f->src_fmt;
}

void vtt_source_checksum(const struct vtt *f, char out[17])
{
	snprintf(out, 17, "%016llx", (unsigned long long)f->src_sum);
}

uint64_t vtt_file_size(const struct vtt *f)
{
	return f->size;
}

uint64_t vtt_bytes_read(const struct vtt *f)
{
	return f->consumed;
}

/* Where the last event came from; see vtt.h. */
void vtt_where(const struct vtt *f, char *buf, size_t len)
{
	const struct vtt_sr *last = f->last;

	if (last)
		snprintf(buf, len, "%s: process %u, record byte %llu", f->name, last->pid,
			 (unsigned long long)sr_last_off(last));
	else if (f->have_last)
		snprintf(buf, len, "%s: process %u, record byte %llu", f->name, f->last_pid,
			 (unsigned long long)f->last_off);
	else
		snprintf(buf, len, "%s", f->name);
}

/* ---- one stream ---------------------------------------------------------------- */

static int sr_fail(struct vtt_sr *s, uint64_t rec_off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int sr_fail_file(struct vtt_sr *s, uint64_t file_off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A record error: "NAME: process P, record byte N: what". */
static int sr_fail(struct vtt_sr *s, uint64_t rec_off, const char *fmt, ...)
{
	char what[TRACE_ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(s->errmsg, TRACE_ERR_LEN, "%.200s: process %u, record byte %llu: %.260s", s->f->name, s->pid,
		 (unsigned long long)rec_off, what);
	s->failed = true;
	s->opos = s->oend = 0;
	return -1;
}

/* A compressed-data error: "NAME: process P, file byte N: what". */
static int sr_fail_file(struct vtt_sr *s, uint64_t file_off, const char *fmt, ...)
{
	char what[TRACE_ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(s->errmsg, TRACE_ERR_LEN, "%.200s: process %u, file byte %llu: %.260s", s->f->name, s->pid,
		 (unsigned long long)file_off, what);
	s->failed = true;
	s->opos = s->oend = 0;
	return -1;
}

/* Decompress until the record buffer is full or the frame is done. */
static int refill(struct vtt_sr *s)
{
	size_t tail = s->oend - s->opos;
	const struct vtt_stream_info *si = &s->f->streams[s->idx];

	memmove(s->out, s->out + s->opos, tail);
	s->out_base += s->opos;
	s->opos = 0;
	s->oend = tail;
	while (!s->zdone && s->oend < SR_OUT) {
		ZSTD_outBuffer ob = {s->out + s->oend, SR_OUT - s->oend, 0};
		size_t r;

		if (s->zin.pos == s->zin.size && s->fpos < s->fend) {
			uint64_t want = s->fend - s->fpos;
			ssize_t k = raw_pread(s->f, s->in, want < SR_IN ? (size_t)want : SR_IN, s->fpos);

			if (k < 0)
				return sr_fail_file(s, s->fpos, "read error: %s", strerror(errno));
			if (k == 0)
				return sr_fail_file(s, s->fpos, "truncated: the file ends inside the stream");
			s->zin.src = s->in;
			s->zin.size = (size_t)k;
			s->zin.pos = 0;
			s->fpos += (uint64_t)k;
			s->f->consumed += (uint64_t)k;
		}
		r = ZSTD_decompressStream(s->zds, &ob, &s->zin);
		if (ZSTD_isError(r))
			return sr_fail_file(s, s->fpos - (s->zin.size - s->zin.pos), "corrupt zstd data: %s",
					    ZSTD_getErrorName(r));
		XXH3_64bits_update(s->xx, ob.dst, ob.pos);
		s->produced += ob.pos;
		s->oend += ob.pos;
		if (s->produced > si->record_bytes)
			return sr_fail(s, si->record_bytes, "the records run past the %llu bytes the index gives",
				       (unsigned long long)si->record_bytes);
		if (r == 0) {
			if (s->zin.pos < s->zin.size || s->fpos < s->fend)
				return sr_fail_file(s, s->fpos - (s->zin.size - s->zin.pos),
						    "data after the stream's zstd frame");
			s->zdone = true;
		} else if (ob.pos == 0 && s->zin.pos == s->zin.size && s->fpos == s->fend) {
			return sr_fail_file(s, s->fend, "truncated zstd frame: the stream's %llu bytes end inside it",
					    (unsigned long long)si->compressed);
		}
	}
	return 0;
}

/* LEB128 varint at *p (< e): 0, or -1 cut off by e, -2 over 64 bits. */
static inline int get_varint(const unsigned char **p, const unsigned char *e, uint64_t *v)
{
	const unsigned char *q = *p;
	uint64_t x = 0;

	for (unsigned shift = 0; q < e; shift += 7) {
		unsigned b = *q++;

		if (shift == 63 && b > 1)
			return -2;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*p = q;
			*v = x;
			return 0;
		}
		if (shift == 63)
			return -2;
	}
	return -1;
}

/* The record at rec_off ended at its end of data or had a bad varint. */
static int field_error(struct vtt_sr *s, uint64_t rec_off, unsigned tag, int r)
{
	if (r == -2)
		return sr_fail(s, rec_off, "record type 0x%02x: a field over 64 bits", tag);
	return sr_fail(s, rec_off, "record type 0x%02x: truncated (the records end inside it)", tag);
}

/* The END record at rec_off: the stream must stop there and match its index entry. */
static int sr_end(struct vtt_sr *s, uint64_t rec_off)
{
	const struct vtt_stream_info *si = &s->f->streams[s->idx];
	uint64_t sum;

	if (s->opos < s->oend || (!s->zdone && (refill(s) < 0 || s->opos < s->oend)))
		return s->failed ? -1 : sr_fail(s, rec_off + 1, "records after the END record");
	if (s->produced != si->record_bytes)
		return sr_fail(s, rec_off, "the records are %llu bytes, the index gives %llu",
			       (unsigned long long)s->produced, (unsigned long long)si->record_bytes);
	sum = XXH3_64bits_digest(s->xx);
	if (sum != si->xxh3)
		return sr_fail(s, rec_off, "checksum mismatch: the records hash to %016llx, the index gives %016llx",
			       (unsigned long long)sum, (unsigned long long)si->xxh3);
	if (s->events != si->events)
		return sr_fail(s, rec_off, "%llu events, the index gives %llu", (unsigned long long)s->events,
			       (unsigned long long)si->events);
	s->ended = true;
	return 0;
}

/* Fields of a non-memory record, each checked against its limit. */
static int get_fields(struct vtt_sr *s, const unsigned char **p, const unsigned char *e, uint64_t rec_off,
		      unsigned tag, uint64_t *f, const uint64_t *max, unsigned n)
{
	static const char *const what[] = {"first", "second", "third", "fourth", "fifth", "sixth"};

	for (unsigned i = 0; i < n; i++) {
		int r = get_varint(p, e, &f[i]);

		if (r < 0)
			return field_error(s, rec_off, tag, r);
		if (f[i] > max[i])
			return sr_fail(s, rec_off, "record type 0x%02x: %s field %llu over %llu", tag, what[i],
				       (unsigned long long)f[i], (unsigned long long)max[i]);
	}
	return 0;
}

/*
 * Front-end callback of one stream, every case: refills, every record type,
 * errors, the END record. sr_next takes the common case itself.
 */
static __attribute__((noinline)) int sr_next_slow(void *ctx, struct guest_event *ev, char *err)
{
	static const uint64_t U32 = UINT32_MAX, U64 = UINT64_MAX;
	struct vtt_sr *s = ctx;
	const unsigned char *p, *e;
	uint64_t rec_off, f[6];
	unsigned tag;

	if (s->failed)
		goto fail;
	if (s->ended)
		return 0;
	for (;;) {
		if (s->oend - s->opos < VTT_REC_MAX && !s->zdone && refill(s) < 0)
			goto fail;
		p = s->out + s->opos;
		e = s->out + s->oend;
		rec_off = s->out_base + s->opos;
		if (p == e) {
			sr_fail(s, rec_off, "truncated: the records end without an END record");
			goto fail;
		}
		tag = *p++;
		if (tag <= VTT_TAG_SEQ_LAST) {
			unsigned kind = tag < VTT_TAG_SEQ_FETCH ? tag >> VTT_TAG_KIND_SHIFT : GEV_FETCH;
			uint64_t size = tag & VTT_TAG_SIZE_MASK, gva;
			int r;

			if (!size) {
				if ((r = get_varint(&p, e, &size)) < 0) {
					field_error(s, rec_off, tag, r);
					goto fail;
				}
				if (size == 0 || size > VTT_MEM_SIZE_MAX) {
					sr_fail(s, rec_off, "record type 0x%02x: memory reference size %llu out of range 1..%u",
						tag, (unsigned long long)size, VTT_MEM_SIZE_MAX);
					goto fail;
				}
			}
			gva = kind == GEV_FETCH ? s->next_fetch : s->last_data;
			if (tag < VTT_TAG_SEQ_FETCH) {
				uint64_t d;

				if ((r = get_varint(&p, e, &d)) < 0) {
					field_error(s, rec_off, tag, r);
					goto fail;
				}
				gva += (d >> 1) ^ (uint64_t)-(int64_t)(d & 1);
			}
			if (kind == GEV_FETCH)
				s->next_fetch = gva + size;
			else
				s->last_data = gva;
			ev->kind = (enum guest_event_kind)kind;
			ev->size = (uint32_t)size;
			ev->gva = gva;
			ev->len = 0;
			ev->pid = s->cur_pid;
			ev->arg = 0;
			goto event;
		}
		memset(ev, 0, sizeof(*ev));
		switch (tag) {
		case VTT_REC_PID: {
			const uint64_t max[] = {U32};

			if (get_fields(s, &p, e, rec_off, tag, f, max, 1) < 0)
				goto fail;
			s->cur_pid = (uint32_t)f[0];
			s->opos = (size_t)(p - s->out);
			continue; /* the next record */
		}
		case VTT_REC_MMAP: {
			const uint64_t max[] = {U32, U64, U64, U32};

			if (get_fields(s, &p, e, rec_off, tag, f, max, 4) < 0)
				goto fail;
			*ev = (struct guest_event){.kind = GEV_MMAP, .pid = (uint32_t)f[0], .gva = f[1], .len = f[2],
						   .arg = (uint32_t)f[3]};
			break;
		}
		case VTT_REC_MUNMAP: {
			const uint64_t max[] = {U32, U64, U64};

			if (get_fields(s, &p, e, rec_off, tag, f, max, 3) < 0)
				goto fail;
			*ev = (struct guest_event){.kind = GEV_MUNMAP, .pid = (uint32_t)f[0], .gva = f[1], .len = f[2]};
			break;
		}
		case VTT_REC_BRK: {
			const uint64_t max[] = {U32, U64};

			if (get_fields(s, &p, e, rec_off, tag, f, max, 2) < 0)
				goto fail;
			*ev = (struct guest_event){.kind = GEV_BRK, .pid = (uint32_t)f[0], .gva = f[1]};
			break;
		}
		case VTT_REC_PROC_CREATE:
		case VTT_REC_WAIT: {
			const uint64_t max[] = {U32, U32, U32};

			if (get_fields(s, &p, e, rec_off, tag, f, max, 3) < 0)
				goto fail;
			*ev = (struct guest_event){.kind = tag == VTT_REC_WAIT ? GEV_WAIT : GEV_PROC_CREATE,
						   .pid = (uint32_t)f[0], .gva = f[1], .arg = (uint32_t)f[2]};
			break;
		}
		case VTT_REC_PROC_EXIT:
		case VTT_REC_EXEC: {
			const uint64_t max[] = {U32};

			if (get_fields(s, &p, e, rec_off, tag, f, max, 1) < 0)
				goto fail;
			*ev = (struct guest_event){.kind = tag == VTT_REC_EXEC ? GEV_EXEC : GEV_PROC_EXIT,
						   .pid = (uint32_t)f[0]};
			break;
		}
		case VTT_REC_CPUID: {
			const uint64_t max[] = {U32, U32};

			if (get_fields(s, &p, e, rec_off, tag, f, max, 2) < 0)
				goto fail;
			*ev = (struct guest_event){.kind = GEV_CPUID, .pid = (uint32_t)f[0], .arg = (uint32_t)f[1]};
			break;
		}
		case VTT_REC_IO: {
			const uint64_t max[] = {U32, U64, U32, U32, U64};

			if (get_fields(s, &p, e, rec_off, tag, f, max, 5) < 0)
				goto fail;
			*ev = (struct guest_event){.kind = GEV_IO, .pid = (uint32_t)f[0], .gva = f[1], .size = (uint32_t)f[2],
						   .arg = (uint32_t)f[3], .len = f[4]};
			break;
		}
		case VTT_REC_MMIO: {
			const uint64_t max[] = {U32, U64, 8, 1, U64, 15};

			if (get_fields(s, &p, e, rec_off, tag, f, max, 6) < 0)
				goto fail;
			if ((f[2] & (f[2] - 1)) || !f[2] || !f[5]) {
				sr_fail(s, rec_off, "MMIO record: size %llu (1, 2, 4 or 8) or instruction length %llu (1..15)",
					(unsigned long long)f[2], (unsigned long long)f[5]);
				goto fail;
			}
			*ev = (struct guest_event){.kind = GEV_MMIO, .pid = (uint32_t)f[0], .gva = f[1], .size = (uint32_t)f[2],
						   .arg = (uint32_t)(f[3] | f[5] << 8), .len = f[4]};
			break;
		}
		case VTT_REC_DEVIO: {
			const uint64_t max[] = {U32, DEVIO_BLK_WRITE, U64, U64, U32};

			if (get_fields(s, &p, e, rec_off, tag, f, max, 5) < 0)
				goto fail;
			if (!f[1]) {
				sr_fail(s, rec_off, "device I/O record: operation 0 (1..4)");
				goto fail;
			}
			*ev = (struct guest_event){.kind = GEV_DEVIO, .pid = (uint32_t)f[0], .arg = (uint32_t)f[1], .gva = f[2],
						   .len = f[3], .size = (uint32_t)f[4]};
			break;
		}
		case VTT_REC_HLT: {
			const uint64_t max[] = {U32};

			if (get_fields(s, &p, e, rec_off, tag, f, max, 1) < 0)
				goto fail;
			*ev = (struct guest_event){.kind = GEV_HLT, .pid = (uint32_t)f[0]};
			break;
		}
		case VTT_REC_END:
			s->opos = (size_t)(p - s->out);
			if (sr_end(s, rec_off) < 0)
				goto fail;
			return 0;
		default:
			if (tag >= VTT_REC_CR3_LOAD && tag <= VTT_REC_INSNS)
				sr_fail(s, rec_off, "record type 0x%02x (%s) is defined by the format but this vtsim cannot "
						    "execute it yet",
					tag, reserved_names[tag - VTT_REC_CR3_LOAD]);
			else
				sr_fail(s, rec_off, "unknown record type 0x%02x", tag);
			goto fail;
		}
		goto event;
	}
event:
	s->opos = (size_t)(p - s->out);
	s->events++;
	s->ev_off = rec_off;
	s->fb.i = s->fb.n = 0;
	s->f->last = s;
	return 1;
fail:
	memcpy(err, s->errmsg, TRACE_ERR_LEN);
	return -1;
}

/* A varint of at most 10 bytes from a buffer known to hold them: true, or
 * false for one over 64 bits (the slow path then reports it). */
static inline bool fast_varint(const unsigned char **pp, uint64_t *v)
{
	const unsigned char *p = *pp;
	uint64_t x = p[0];

	if (x < 0x80) {
		*pp = p + 1;
		*v = x;
		return true;
	}
	x &= 0x7f;
	for (unsigned i = 1; i < 10; i++) {
		uint64_t b = p[i];

		x |= (b & 0x7f) << (7 * i);
		if (b < 0x80) {
			if (i == 9 && b > 1)
				return false;
			*pp = p + i + 1;
			*v = x;
			return true;
		}
	}
	return false;
}

/*
 * Decode the memory references that follow in the buffer into the batch,
 * as long as whole records are there: the loop keeps the predictions in
 * registers. Stops at the
 * first other record or at anything wrong with a memory reference (the
 * slow path decodes that record again and says what is wrong). Record
 * offsets are not kept per event: sr_last_off finds one by walking the
 * batch's records, which stay in the buffer while the batch is in use.
 */
static void decode_batch(struct vtt_sr *s)
{
	const unsigned char *p = s->out + s->opos, *last = p;
	uint64_t nf = s->next_fetch, ld = s->last_data;
	struct guest_event *ev = s->batch, *const ev_end = s->batch + SR_BATCH;

	/* The fields every memory reference shares are written once, not per event. */
	if (!s->batch_filled || s->batch_pid != s->cur_pid) {
		for (size_t i = 0; i < SR_BATCH; i++) {
			s->batch[i].len = 0;
			s->batch[i].pid = s->cur_pid;
			s->batch[i].arg = 0;
		}
		s->batch_pid = s->cur_pid;
		s->batch_filled = true;
	}

	if (s->oend - s->opos >= VTT_REC_MAX) {
		/* Records may start at or before lim: each has its VTT_REC_MAX bytes there. */
		const unsigned char *lim = s->out + s->oend - VTT_REC_MAX;

		while (ev < ev_end && p <= lim) {
			const unsigned char *q = p + 1;
			unsigned tag = *p, kind;
			uint64_t size = tag & VTT_TAG_SIZE_MASK, gva, d;

			if (tag > VTT_TAG_SEQ_LAST)
				break;
			if (!size && (!fast_varint(&q, &size) || size == 0 || size > VTT_MEM_SIZE_MAX))
				break;
			if (tag < VTT_TAG_SEQ_FETCH) {
				if (!fast_varint(&q, &d))
					break;
				d = (d >> 1) ^ (uint64_t)-(int64_t)(d & 1);
				kind = tag >> VTT_TAG_KIND_SHIFT;
				if (kind == GEV_FETCH) {
					gva = nf + d;
					nf = gva + size;
				} else {
					gva = ld + d;
					ld = gva;
				}
			} else {
				kind = GEV_FETCH;
				gva = nf;
				nf = gva + size;
			}
			ev->kind = (enum guest_event_kind)kind;
			ev->size = (uint32_t)size;
			ev->gva = gva;
			ev++;
			last = p;
			p = q;
		}
	}
	s->batch_base = s->out_base;
	s->batch_start = s->opos;
	s->batch_last = (size_t)(last - s->out);
	s->opos = (size_t)(p - s->out);
	s->next_fetch = nf;
	s->last_data = ld;
	s->fb.i = 0;
	s->fb.n = (size_t)(ev - s->batch);
	s->events += s->fb.n;
}

/* The batch is used up: refill the record buffer if needed, decode the
 * next batch, or take one record the slow way. */
static __attribute__((noinline)) int sr_next_batch(struct vtt_sr *s, struct guest_event *ev, char *err)
{
	if (s->fb.n) {
		/* Its last event is the one handed out last, until another is:
		 * its offset is kept before the buffer moves. */
		s->ev_off = s->batch_base + s->batch_last;
		s->fb.i = s->fb.n = 0;
	}
	if (!s->zdone && s->oend - s->opos < VTT_REC_MAX && !s->failed)
		refill(s); /* a failure is the slow path's to report */
	decode_batch(s);
	if (s->fb.n) {
		*ev = s->batch[0];
		s->fb.i = 1;
		s->f->last = s;
		return 1;
	}
	return sr_next_slow(s, ev, err);
}

/*
 * Front-end callback of one stream: events come from the batch of decoded
 * memory references (which frontend_next takes from without this call);
 * when it is used up, sr_next_batch makes the next one.
 * A failed or ended stream keeps no bytes in its buffer.
 */
static int sr_next(void *ctx, struct guest_event *ev, char *err)
{
	struct vtt_sr *s = ctx;

	if (s->fb.i < s->fb.n) {
		*ev = s->batch[s->fb.i++];
		s->f->last = s;
		return 1;
	}
	return sr_next_batch(s, ev, err);
}

/* Bytes of a varint the batch decoder accepted. */
static size_t varint_len(const unsigned char *p)
{
	size_t n = 1;

	while (*p++ & 0x80)
		n++;
	return n;
}

/* Record byte of the event handed out last: batch[fb.i - 1]'s record is
 * found by walking the batch's records from its first, which decode_batch
 * left in the buffer. */
static uint64_t sr_last_off(const struct vtt_sr *s)
{
	const unsigned char *p;

	if (!s->fb.i)
		return s->ev_off;
	p = s->out + s->batch_start;
	for (size_t k = 1; k < s->fb.i; k++) {
		unsigned tag = *p++;

		if (!(tag & VTT_TAG_SIZE_MASK))
			p += varint_len(p);
		if (tag < VTT_TAG_SEQ_FETCH)
			p += varint_len(p);
	}
	return s->batch_base + (uint64_t)(p - s->out);
}

/* Open pid's stream; see vtt.h. */
int vtt_open_proc(struct vtt *f, uint32_t pid, struct frontend *fe, char *err)
{
	size_t i;
	struct vtt_sr *s;

	for (i = 0; i < f->nstreams && f->streams[i].pid != pid; i++)
		;
	if (i == f->nstreams)
		return 1;
	if (f->state[i] != ST_UNOPENED) {
		snprintf(err, TRACE_ERR_LEN, "%s: the stream of process %u is opened twice", f->name, pid);
		return -1;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->zds = ZSTD_createDStream()) || !(s->in = malloc(SR_IN)) || !(s->out = malloc(SR_OUT)) ||
	    !(s->xx = XXH3_createState()) ||
	    ZSTD_isError(ZSTD_DCtx_setParameter(s->zds, ZSTD_d_windowLogMax, VTT_WINDOW_LOG)) ||
	    XXH3_64bits_reset(s->xx) == XXH_ERROR) {
		sr_free(s);
		snprintf(err, TRACE_ERR_LEN, "%s: out of memory", f->name);
		return -1;
	}
	s->f = f;
	s->idx = i;
	s->pid = pid;
	s->cur_pid = pid;
	s->fpos = f->streams[i].offset;
	s->fend = s->fpos + f->streams[i].compressed;
	s->zin.src = s->in;
	s->fb.ev = s->batch;
	s->fb.mark = &f->last;
	s->fb.self = s;
	f->open[i] = s;
	f->state[i] = ST_OPEN;
	fe->next = sr_next;
	fe->ctx = s;
	fe->batch = &s->fb;
	return 0;
}

/* The guest is done with pid's stream; see vtt.h. */
void vtt_close_proc(struct vtt *f, uint32_t pid)
{
	for (size_t i = 0; i < f->nstreams; i++) {
		struct vtt_sr *s = f->open[i];

		if (f->streams[i].pid != pid || !s)
			continue;
		if (f->last == s) {
			f->last = NULL;
			f->have_last = true;
			f->last_pid = s->pid;
			f->last_off = sr_last_off(s);
		}
		sr_free(s);
		f->open[i] = NULL;
		f->state[i] = ST_CLOSED;
	}
}

static int ps_open(void *ctx, uint32_t pid, struct frontend *fe, char *err)
{
	return vtt_open_proc(ctx, pid, fe, err);
}

static void ps_close(void *ctx, uint32_t pid)
{
	vtt_close_proc(ctx, pid);
}

/* The file as a proc_source; see vtt.h. */
void vtt_proc_source(struct vtt *f, struct proc_source *ps)
{
	ps->root = f->root;
	ps->open = ps_open;
	ps->close = ps_close;
	ps->ctx = f;
}
