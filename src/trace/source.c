/*
 * Trace byte sources: a file or a memory block, plain or zstd.
 *
 * Notes:
 *  - Handles: sniffing the zstd frame magic (0xFD2FB528, little-endian) in
 *    the first four bytes, whatever the name; streaming decompression with
 *    ZSTD_decompressStream through one fixed input buffer, so memory does
 *    not grow with the trace; several concatenated frames and skippable
 *    frames (libzstd handles both); truncated streams (input ends inside a
 *    frame) and corrupt streams (libzstd error), each reported with the
 *    compressed byte offset; EINTR on read.
 *  - Leaves out: other compressors (gzip, xz), seeking, and telling a
 *    missing file apart from an unreadable one beyond strerror's words.
 *  - A memory source may hand out at most `chunk` bytes per read so that
 *    tests and the fuzzer reach the line-buffer boundary code.
 */
#include "trace/source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace/trace.h"

#define ZSTD_MAGIC_LE 0xFD2FB528u

/* Raw read from the file or memory block: bytes (>= 0) or -1 with what. */
static long raw_read(struct trace_src *s, unsigned char *dst, size_t cap, char *what)
{
	if (s->chunk && cap > s->chunk)
		cap = s->chunk;
	if (s->fd < 0) {
		size_t n = s->mem_len - s->mem_pos;

		if (n > cap)
			n = cap;
		memcpy(dst, s->mem + s->mem_pos, n);
		s->mem_pos += n;
		s->bytes_read += n;
		return (long)n;
	}
	for (;;) {
		ssize_t n = read(s->fd, dst, cap);

		if (n >= 0) {
			s->bytes_read += (uint64_t)n;
			return (long)n;
		}
		if (errno != EINTR) {
			snprintf(what, TRACE_SRC_WHAT_LEN, "read error at byte %llu: %s",
				 (unsigned long long)s->bytes_read, strerror(errno));
			return -1;
		}
	}
}

/* Fill inbuf with the first bytes and decide plain or zstd. */
static int sniff(struct trace_src *s, char *err)
{
	char what[TRACE_SRC_WHAT_LEN];

	s->inbuf_cap = TRACE_SRC_INBUF;
	if (s->fd < 0 && s->mem_len + 4 < s->inbuf_cap)
		s->inbuf_cap = s->mem_len + 4;
	s->inbuf = malloc(s->inbuf_cap);
	if (!s->inbuf) {
		snprintf(err, TRACE_ERR_LEN, "%s: out of memory", s->name);
		return -1;
	}
	s->in.src = s->inbuf;
	s->in.size = 0;
	s->in.pos = 0;
	while (s->in.size < 4) {
		long n = raw_read(s, s->inbuf + s->in.size, s->inbuf_cap - s->in.size, what);

		if (n < 0) {
			snprintf(err, TRACE_ERR_LEN, "%s: %s", s->name, what);
			return -1;
		}
		if (n == 0) {
			s->in_eof = 1;
			break;
		}
		s->in.size += (size_t)n;
	}
	if (s->in.size >= 4) {
		const unsigned char *b = s->inbuf;
		uint32_t magic = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
				 (uint32_t)b[3] << 24;

		if (magic == ZSTD_MAGIC_LE) {
			s->is_zstd = 1;
			s->zds = ZSTD_createDStream();
			if (!s->zds || ZSTD_isError(ZSTD_initDStream(s->zds))) {
				snprintf(err, TRACE_ERR_LEN, "%s: cannot set up zstd", s->name);
				return -1;
			}
			s->zret = 1;
		}
	}
	return 0;
}

static char *dup_name(const char *name)
{
	size_t n = strlen(name) + 1;
	char *p = malloc(n);

	if (p)
		memcpy(p, name, n);
	return p;
}

/* Open a file source; see source.h. */
int trace_src_open_file(struct trace_src *s, const char *path, char *err)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->name = dup_name(path);
	if (!s->name) {
		snprintf(err, TRACE_ERR_LEN, "%s: out of memory", path);
		return -1;
	}
	s->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0) {
		snprintf(err, TRACE_ERR_LEN, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(s->fd, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			snprintf(err, TRACE_ERR_LEN, "%s: is a directory", path);
			return -1;
		}
		if (S_ISREG(st.st_mode))
			s->file_size = (uint64_t)st.st_size;
	}
	return sniff(s, err);
}

/* Open a memory source; see source.h. */
int trace_src_open_mem(struct trace_src *s, const void *data, size_t size, const char *name,
		       size_t chunk, char *err)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->name = dup_name(name ? name : "<memory>");
	if (!s->name) {
		snprintf(err, TRACE_ERR_LEN, "%s: out of memory", name ? name : "<memory>");
		return -1;
	}
	s->mem = size ? data : (const unsigned char *)"";
	s->mem_len = size;
	s->chunk = chunk;
	s->file_size = size;
	return sniff(s, err);
}

/* Refill inbuf when it is empty; sets in_eof at the end of the input. */
static int refill_in(struct trace_src *s, char *what)
{
	long n;

	if (s->in.pos < s->in.size || s->in_eof)
		return 0;
	n = raw_read(s, s->inbuf, s->inbuf_cap, what);
	if (n < 0)
		return -1;
	s->in.pos = 0;
	s->in.size = (size_t)n;
	if (n == 0)
		s->in_eof = 1;
	return 0;
}

/* Keep an error to give after the bytes already decoded. */
static long fail(struct trace_src *s, size_t got, char *what)
{
	s->failed = 1;
	memcpy(s->fail_what, what, TRACE_SRC_WHAT_LEN);
	return got ? (long)got : -1;
}

static long read_zstd(struct trace_src *s, char *dst, size_t cap, char *what)
{
	ZSTD_outBuffer out = { dst, cap, 0 };

	while (out.pos == 0) {
		size_t ret;

		if (refill_in(s, what) < 0)
			return fail(s, out.pos, what);
		if (s->in.pos == s->in.size && s->zret == 0)
			return 0; /* every frame complete and flushed */
		ret = ZSTD_decompressStream(s->zds, &out, &s->in);
		if (ZSTD_isError(ret)) {
			uint64_t off = s->bytes_read - (s->in.size - s->in.pos);

			snprintf(what, TRACE_SRC_WHAT_LEN, "corrupt zstd stream at byte %llu: %s",
				 (unsigned long long)off, ZSTD_getErrorName(ret));
			return fail(s, out.pos, what);
		}
		s->zret = ret;
		if (out.pos == 0 && s->in.pos == s->in.size && s->in_eof && ret != 0) {
			snprintf(what, TRACE_SRC_WHAT_LEN, "truncated zstd stream at byte %llu",
				 (unsigned long long)s->bytes_read);
			return fail(s, 0, what);
		}
	}
	return (long)out.pos;
}

/* Read decoded bytes; see source.h. */
long trace_src_read(struct trace_src *s, char *dst, size_t cap, char *what)
{
	if (s->failed) {
		memcpy(what, s->fail_what, TRACE_SRC_WHAT_LEN);
		return -1;
	}
	if (s->chunk && cap > s->chunk)
		cap = s->chunk;
	if (s->is_zstd)
		return read_zstd(s, dst, cap, what);
	if (s->in.pos < s->in.size) {
		size_t n = s->in.size - s->in.pos;

		if (n > cap)
			n = cap;
		memcpy(dst, s->inbuf + s->in.pos, n);
		s->in.pos += n;
		return (long)n;
	}
	if (s->in_eof)
		return 0;
	{
		long n = raw_read(s, (unsigned char *)dst, cap, what);

		if (n == 0)
			s->in_eof = 1;
		if (n < 0)
			return fail(s, 0, what);
		return n;
	}
}

/* Release a source; see source.h. */
void trace_src_close(struct trace_src *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	ZSTD_freeDStream(s->zds);
	s->zds = NULL;
	free(s->inbuf);
	s->inbuf = NULL;
	free(s->name);
	s->name = NULL;
}
