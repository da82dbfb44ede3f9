/*
 * .vtt writer (see vtt.h; layouts in vtt_format.h).
 *
 * Notes:
 *  - Handles: encoding guest events as records (memory references against
 *    two address predictions, the next instruction and the last data
 *    address, so a straight run of fetches costs one byte each), one zstd
 *    frame per process through a fixed record buffer and a fixed output
 *    buffer, the per-stream XXH3-64 and counts, and the index with its
 *    checksum over header and index.
 *  - The header's source checksum and format are the caller's (vtt_import
 *    fills them in); the writer does not look at the source.
 *  - Leaves out: appending to a finished file, and seeking back: every
 *    byte is written once, in order, so the output may be any file.
 */
#include "trace/vtt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#include "trace/trace.h"
#include "trace/vtt_format.h"

/* Record bytes gathered before they go to the compressor. */
#define REC_BUF (256u * 1024u)

struct vtt_writer {
	char *name;                 /* for messages: the path, or "<memory>" */
	int fd;                     /* -1: memory */
	unsigned char *mem;         /* memory output */
	size_t mem_len, mem_cap;
	uint64_t pos;               /* bytes written */
	ZSTD_CCtx *cctx;
	unsigned char *rec;         /* REC_BUF record bytes of the open stream */
	size_t rec_len;
	unsigned char *zout;        /* compressor output buffer */
	size_t zout_cap;
	XXH3_state_t *xx;
	unsigned char header[VTT_HEADER_LEN];
	uint32_t root;
	bool in_stream;
	struct vtt_stream_info cur; /* the open stream */
	uint32_t cur_pid;           /* pid of the memory references */
	uint64_t next_fetch, last_data; /* the address predictions */
	struct vtt_stream_info *idx;
	size_t nidx, idx_cap;
	bool failed;                /* a write failed: later calls refuse */
};

static void put_le(unsigned char *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static size_t put_varint(unsigned char *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

static uint64_t zigzag(uint64_t d)
{
	return (d << 1) ^ (uint64_t)-(int64_t)(d >> 63);
}

/* Append bytes to the output. */
static int out_write(struct vtt_writer *w, const void *data, size_t n, char *err)
{
	const unsigned char *p = data;

	if (w->fd < 0) {
		if (w->mem_len + n > w->mem_cap) {
			size_t cap = w->mem_cap ? w->mem_cap : 4096;
			unsigned char *m;

			while (cap < w->mem_len + n)
				cap *= 2;
			m = realloc(w->mem, cap);
			if (!m) {
				snprintf(err, TRACE_ERR_LEN, "%s: out of memory", w->name);
				w->failed = true;
				return -1;
			}
			w->mem = m;
			w->mem_cap = cap;
		}
		memcpy(w->mem + w->mem_len, p, n);
		w->mem_len += n;
		w->pos += n;
		return 0;
	}
	while (n) {
		ssize_t k = write(w->fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			snprintf(err, TRACE_ERR_LEN, "%s: write error at file byte %llu: %s", w->name,
				 (unsigned long long)w->pos, strerror(errno));
			w->failed = true;
			return -1;
		}
		p += k;
		n -= (size_t)k;
		w->pos += (uint64_t)k;
	}
	return 0;
}

static struct vtt_writer *writer_new(const char *name, const struct vtt_meta *m, char *err)
{
	struct vtt_writer *w = calloc(1, sizeof(*w));
	size_t fmt_len = m->source_format ? strlen(m->source_format) : 0;

	if (!w || !(w->name = strdup(name)) || !(w->cctx = ZSTD_createCCtx()) || !(w->rec = malloc(REC_BUF)) ||
	    !(w->zout = malloc(ZSTD_CStreamOutSize())) || !(w->xx = XXH3_createState())) {
		snprintf(err, TRACE_ERR_LEN, "%s: out of memory", name);
		vtt_writer_free(w);
		return NULL;
	}
	w->fd = -1;
	w->zout_cap = ZSTD_CStreamOutSize();
	if (m->root == 0 || fmt_len > VTT_SRC_FMT_LEN) {
		snprintf(err, TRACE_ERR_LEN, "%s: %s", name,
			 m->root == 0 ? "the root pid must not be 0" : "source format name over 16 characters");
		vtt_writer_free(w);
		return NULL;
	}
	if (ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel,
						m->level ? m->level : VTT_DEFAULT_LEVEL)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_windowLog, VTT_WINDOW_LOG))) {
		snprintf(err, TRACE_ERR_LEN, "%s: bad zstd level %d", name, m->level);
		vtt_writer_free(w);
		return NULL;
	}
	memcpy(w->header + VTT_H_MAGIC, VTT_MAGIC, VTT_MAGIC_LEN);
	put_le(w->header + VTT_H_MAJOR, VTT_VERSION_MAJOR, 2);
	put_le(w->header + VTT_H_MINOR, VTT_VERSION_MINOR, 2);
	put_le(w->header + VTT_H_LEN, VTT_HEADER_LEN, 4);
	put_le(w->header + VTT_H_ROOT, m->root, 4);
	w->root = m->root;
	put_le(w->header + VTT_H_FLAGS, 0, 4);
	put_le(w->header + VTT_H_SRC_SUM, m->source_xxh3, 8);
	if (fmt_len)
		memcpy(w->header + VTT_H_SRC_FMT, m->source_format, fmt_len);
	return w;
}

/* Start a file writer; see vtt.h. */
struct vtt_writer *vtt_writer_open(const char *path, const struct vtt_meta *m, char *err)
{
	struct vtt_writer *w = writer_new(path, m, err);

	if (!w)
		return NULL;
	w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (w->fd < 0) {
		snprintf(err, TRACE_ERR_LEN, "%s: cannot create: %s", path, strerror(errno));
		vtt_writer_free(w);
		return NULL;
	}
	if (out_write(w, w->header, VTT_HEADER_LEN, err) < 0) {
		vtt_writer_free(w);
		return NULL;
	}
	return w;
}

/* Start a memory writer; see vtt.h. */
struct vtt_writer *vtt_writer_open_mem(const struct vtt_meta *m, char *err)
{
	struct vtt_writer *w = writer_new("<memory>", m, err);

	if (w && out_write(w, w->header, VTT_HEADER_LEN, err) < 0) {
		vtt_writer_free(w);
		return NULL;
	}
	return w;
}

static int refuse(struct vtt_writer *w, const char *what, char *err)
{
	snprintf(err, TRACE_ERR_LEN, "%s: %s", w->name, what);
	return -1;
}

/* Compress what the record buffer holds; mode ZSTD_e_end closes the frame. */
static int compress(struct vtt_writer *w, ZSTD_EndDirective mode, char *err)
{
	ZSTD_inBuffer in = {w->rec, w->rec_len, 0};
	size_t left;

	XXH3_64bits_update(w->xx, w->rec, w->rec_len);
	w->cur.record_bytes += w->rec_len;
	do {
		ZSTD_outBuffer out = {w->zout, w->zout_cap, 0};

		left = ZSTD_compressStream2(w->cctx, &out, &in, mode);
		if (ZSTD_isError(left)) {
			snprintf(err, TRACE_ERR_LEN, "%s: zstd: %s", w->name, ZSTD_getErrorName(left));
			w->failed = true;
			return -1;
		}
		if (out_write(w, w->zout, out.pos, err) < 0)
			return -1;
	} while (mode == ZSTD_e_end ? left != 0 : in.pos < in.size);
	w->rec_len = 0;
	return 0;
}

/* Make room for one record (and a PID record before it). */
static int room(struct vtt_writer *w, char *err)
{
	if (w->failed)
		return refuse(w, "an earlier write failed", err);
	if (!w->in_stream)
		return refuse(w, "a record outside a stream (vtt_writer_begin first)", err);
	if (w->rec_len + 2 * VTT_REC_MAX > REC_BUF)
		return compress(w, ZSTD_e_continue, err);
	return 0;
}

/* Begin the stream of pid; see vtt.h. */
int vtt_writer_begin(struct vtt_writer *w, uint32_t pid, char *err)
{
	if (w->failed)
		return refuse(w, "an earlier write failed", err);
	if (w->in_stream)
		return refuse(w, "a stream is already open", err);
	if (pid == 0)
		return refuse(w, "a stream's pid must not be 0", err);
	for (size_t i = 0; i < w->nidx; i++)
		if (w->idx[i].pid == pid) {
			snprintf(err, TRACE_ERR_LEN, "%s: process %u has a stream already", w->name, pid);
			return -1;
		}
	if (ZSTD_isError(ZSTD_CCtx_reset(w->cctx, ZSTD_reset_session_only)) ||
	    XXH3_64bits_reset(w->xx) == XXH_ERROR)
		return refuse(w, "cannot reset zstd or xxh3", err);
	memset(&w->cur, 0, sizeof(w->cur));
	w->cur.pid = pid;
	w->cur.offset = w->pos;
	w->cur_pid = pid;
	w->next_fetch = w->last_data = 0;
	w->rec_len = 0;
	w->in_stream = true;
	return 0;
}

static void put_fields(struct vtt_writer *w, unsigned tag, const uint64_t *f, unsigned n)
{
	w->rec[w->rec_len++] = (unsigned char)tag;
	for (unsigned i = 0; i < n; i++)
		w->rec_len += put_varint(w->rec + w->rec_len, f[i]);
}

/* One event; see vtt.h. */
int vtt_writer_event(struct vtt_writer *w, const struct guest_event *ev, char *err)
{
	uint64_t f[6];
	unsigned tag;

	if (room(w, err) < 0)
		return -1;
	switch (ev->kind) {
	case GEV_FETCH:
	case GEV_LOAD:
	case GEV_STORE:
	case GEV_MODIFY: {
		uint64_t pred = ev->kind == GEV_FETCH ? w->next_fetch : w->last_data;
		unsigned code = ev->size <= VTT_TAG_SIZE_MASK ? ev->size : 0;

		if (ev->size == 0 || ev->size > VTT_MEM_SIZE_MAX) {
			snprintf(err, TRACE_ERR_LEN, "%s: a memory reference of %u bytes (the format holds 1..%u)",
				 w->name, ev->size, VTT_MEM_SIZE_MAX);
			return -1;
		}
		if (ev->pid != w->cur_pid) {
			f[0] = ev->pid;
			put_fields(w, VTT_REC_PID, f, 1);
			w->cur_pid = ev->pid;
		}
		if (ev->kind == GEV_FETCH && ev->gva == pred)
			tag = VTT_TAG_SEQ_FETCH | code;
		else
			tag = VTT_TAG_MEM | (unsigned)ev->kind << VTT_TAG_KIND_SHIFT | code;
		w->rec[w->rec_len++] = (unsigned char)tag;
		if (!code)
			w->rec_len += put_varint(w->rec + w->rec_len, ev->size);
		if (tag < VTT_TAG_SEQ_FETCH)
			w->rec_len += put_varint(w->rec + w->rec_len, zigzag(ev->gva - pred));
		if (ev->kind == GEV_FETCH)
			w->next_fetch = ev->gva + ev->size;
		else
			w->last_data = ev->gva;
		w->cur.events++;
		return 0;
	}
	case GEV_MMAP:
		f[0] = ev->pid, f[1] = ev->gva, f[2] = ev->len, f[3] = ev->arg;
		put_fields(w, VTT_REC_MMAP, f, 4);
		break;
	case GEV_MUNMAP:
		f[0] = ev->pid, f[1] = ev->gva, f[2] = ev->len;
		put_fields(w, VTT_REC_MUNMAP, f, 3);
		break;
	case GEV_BRK:
		f[0] = ev->pid, f[1] = ev->gva;
		put_fields(w, VTT_REC_BRK, f, 2);
		break;
	case GEV_PROC_CREATE:
		f[0] = ev->pid, f[1] = ev->gva, f[2] = ev->arg;
		put_fields(w, VTT_REC_PROC_CREATE, f, 3);
		break;
	case GEV_PROC_EXIT:
		f[0] = ev->pid;
		put_fields(w, VTT_REC_PROC_EXIT, f, 1);
		break;
	case GEV_WAIT:
		f[0] = ev->pid, f[1] = ev->gva, f[2] = ev->arg;
		put_fields(w, VTT_REC_WAIT, f, 3);
		break;
	case GEV_EXEC:
		f[0] = ev->pid;
		put_fields(w, VTT_REC_EXEC, f, 1);
		break;
	case GEV_CPUID:
		f[0] = ev->pid, f[1] = ev->arg;
		put_fields(w, VTT_REC_CPUID, f, 2);
		break;
	case GEV_IO:
		f[0] = ev->pid, f[1] = ev->gva, f[2] = ev->size, f[3] = ev->arg, f[4] = ev->len;
		put_fields(w, VTT_REC_IO, f, 5);
		break;
	case GEV_HLT:
		f[0] = ev->pid;
		put_fields(w, VTT_REC_HLT, f, 1);
		break;
	case GEV_MMIO:
		f[0] = ev->pid, f[1] = ev->gva, f[2] = ev->size, f[3] = ev->arg & 1, f[4] = ev->len,
		f[5] = (ev->arg >> 8) & 0xff;
		put_fields(w, VTT_REC_MMIO, f, 6);
		break;
	case GEV_DEVIO:
		f[0] = ev->pid, f[1] = ev->arg, f[2] = ev->gva, f[3] = ev->len, f[4] = ev->size;
		put_fields(w, VTT_REC_DEVIO, f, 5);
		break;
	default:
		snprintf(err, TRACE_ERR_LEN, "%s: an event of unknown kind %u", w->name, (unsigned)ev->kind);
		return -1;
	}
	w->cur.events++;
	return 0;
}

/* Raw record bytes; see vtt.h. */
int vtt_writer_raw(struct vtt_writer *w, const void *rec, size_t n, char *err)
{
	if (n > VTT_REC_MAX)
		return refuse(w, "a raw record over 61 bytes", err);
	if (room(w, err) < 0)
		return -1;
	memcpy(w->rec + w->rec_len, rec, n);
	w->rec_len += n;
	return 0;
}

/* End the open stream; see vtt.h. */
int vtt_writer_end(struct vtt_writer *w, char *err)
{
	if (room(w, err) < 0)
		return -1;
	w->rec[w->rec_len++] = VTT_REC_END;
	if (compress(w, ZSTD_e_end, err) < 0)
		return -1;
	w->cur.compressed = w->pos - w->cur.offset;
	w->cur.xxh3 = XXH3_64bits_digest(w->xx);
	if (w->nidx == w->idx_cap) {
		size_t cap = w->idx_cap ? 2 * w->idx_cap : 8;
		struct vtt_stream_info *v = realloc(w->idx, cap * sizeof(*v));

		if (!v)
			return refuse(w, "out of memory", err);
		w->idx = v;
		w->idx_cap = cap;
	}
	w->idx[w->nidx++] = w->cur;
	w->in_stream = false;
	return 0;
}

/* Write the index; see vtt.h. */
int vtt_writer_finish(struct vtt_writer *w, void **data, size_t *size, char *err)
{
	size_t len = VTT_INDEX_HEAD_LEN + VTT_ENTRY_LEN * w->nidx + VTT_FOOTER_LEN;
	unsigned char *ix;
	XXH3_state_t *st;
	bool root_found = false;
	int rc;

	if (w->failed)
		return refuse(w, "an earlier write failed", err);
	if (w->in_stream)
		return refuse(w, "a stream is still open", err);
	for (size_t i = 0; i < w->nidx; i++)
		root_found |= w->idx[i].pid == w->root;
	if (!root_found)
		return refuse(w, "no stream for the root process", err);
	ix = calloc(1, len);
	st = XXH3_createState();
	if (!ix || !st) {
		free(ix);
		XXH3_freeState(st);
		return refuse(w, "out of memory", err);
	}
	put_le(ix, w->nidx, 4);
	for (size_t i = 0; i < w->nidx; i++) {
		unsigned char *e = ix + VTT_INDEX_HEAD_LEN + VTT_ENTRY_LEN * i;

		put_le(e, w->idx[i].pid, 4);
		put_le(e + 8, w->idx[i].offset, 8);
		put_le(e + 16, w->idx[i].compressed, 8);
		put_le(e + 24, w->idx[i].record_bytes, 8);
		put_le(e + 32, w->idx[i].events, 8);
		put_le(e + 40, w->idx[i].xxh3, 8);
	}
	XXH3_64bits_reset(st);
	XXH3_64bits_update(st, w->header, VTT_HEADER_LEN);
	XXH3_64bits_update(st, ix, len - VTT_FOOTER_LEN);
	put_le(ix + len - VTT_FOOTER_LEN, XXH3_64bits_digest(st), 8);
	put_le(ix + len - VTT_FOOTER_LEN + 8, len, 8);
	memcpy(ix + len - 8, VTT_END_MAGIC, 8);
	XXH3_freeState(st);
	rc = out_write(w, ix, len, err);
	free(ix);
	if (rc < 0)
		return -1;
	if (w->fd >= 0) {
		if (fsync(w->fd) < 0 && errno != EINVAL) {
			snprintf(err, TRACE_ERR_LEN, "%s: fsync: %s", w->name, strerror(errno));
			return -1;
		}
	} else if (data) {
		*data = w->mem;
		*size = w->mem_len;
		w->mem = NULL;
	}
	return 0;
}

/* Free a writer; see vtt.h. */
void vtt_writer_free(struct vtt_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	ZSTD_freeCCtx(w->cctx);
	XXH3_freeState(w->xx);
	free(w->rec);
	free(w->zout);
	free(w->mem);
	free(w->idx);
	free(w->name);
	free(w);
}
