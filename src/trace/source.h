/*
 * Byte sources for the trace readers (internal to src/trace): a file or a
 * memory block, plain or zstd-compressed, read through fixed buffers.
 */
#ifndef VTSIM_TRACE_SOURCE_H
#define VTSIM_TRACE_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include <zstd.h>

/* Size of a source's short error description (without name or line). */
#define TRACE_SRC_WHAT_LEN 256

/* Size of the raw (compressed or plain) input buffer. */
#define TRACE_SRC_INBUF (128u * 1024u)

struct trace_src {
	char *name;                  /* path or caller's name, for messages */
	int fd;                      /* -1 for a memory source */
	const unsigned char *mem;    /* memory source */
	size_t mem_len, mem_pos;
	size_t chunk;                /* cap per read, 0 = none */
	int is_zstd;
	ZSTD_DStream *zds;
	unsigned char *inbuf;        /* raw input (inbuf_cap bytes) */
	size_t inbuf_cap;            /* TRACE_SRC_INBUF, less for a small memory block */
	ZSTD_inBuffer in;            /* window into inbuf: [pos, size) pending */
	size_t zret;                 /* last ZSTD_decompressStream hint, 0 = frame done */
	int in_eof;                  /* raw input exhausted */
	int failed;                  /* an error waits behind decoded bytes */
	char fail_what[TRACE_SRC_WHAT_LEN];
	uint64_t file_size;
	uint64_t bytes_read;         /* raw bytes taken from the file or block */
};

/*
 * Open a file (path) or a memory block (data, size, name) and sniff the
 * zstd frame magic. Return 0, or -1 with "NAME: what" in err
 * (TRACE_ERR_LEN bytes).
 */
int trace_src_open_file(struct trace_src *s, const char *path, char *err);
int trace_src_open_mem(struct trace_src *s, const void *data, size_t size, const char *name,
		       size_t chunk, char *err);

/*
 * Read up to cap decoded bytes into dst. Returns the count (> 0), 0 at a
 * clean end, or -1 with a short description (no name, no line) in what
 * (TRACE_SRC_WHAT_LEN bytes): a read error, a corrupt or truncated zstd stream
 * with its compressed byte offset. Bytes decoded before an error are
 * returned first; the error comes on the next call and on every later one.
 */
long trace_src_read(struct trace_src *s, char *dst, size_t cap, char *what);

/* Release everything; safe on a zeroed or half-opened source. */
void trace_src_close(struct trace_src *s);

#endif
