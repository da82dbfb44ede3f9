/*
 * The .vtt trace format (docs/trace-format.md; layouts in vtt_format.h):
 * vtsim's own binary trace, one zstd-compressed record stream per process,
 * an index at the end, XXH3-64 checksums of every stream's records and of
 * the header and index.
 *
 * Reading is streaming in constant memory per live process: a .vtt is a
 * multi-process front end (struct proc_source) whose streams are opened as
 * the guest creates the processes, each decoded on its own. Every error is
 * one line naming the file and a byte offset: "file byte N" in the file as
 * stored, or "process P, record byte N" in that process's decompressed
 * record stream.
 */
#ifndef VTSIM_TRACE_VTT_H
#define VTSIM_TRACE_VTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace/event.h"
#include "trace/proc_source.h"

/* ---- reading ------------------------------------------------------------- */

struct vtt;

/* One stream as the index describes it. */
struct vtt_stream_info {
	uint32_t pid;
	uint64_t offset;       /* file byte of its zstd frame */
	uint64_t compressed;   /* bytes of the frame */
	uint64_t record_bytes; /* decompressed */
	uint64_t events;
	uint64_t xxh3;         /* of the record bytes */
};

/*
 * 1 if the file at path starts with the .vtt identification bytes (format
 * detection by content, not name), 0 if not (or if it cannot be read:
 * the reader that opens it then says why).
 */
int vtt_sniff_file(const char *path);
/* The same for bytes in memory. */
bool vtt_sniff(const void *data, size_t size);

/*
 * Open a .vtt file: read and check the header (magic, version, flags) and
 * the index (its checksum, stream layout). Returns NULL with a one-line
 * message naming the file and the byte offset in err (TRACE_ERR_LEN):
 * truncated, bad magic, unsupported version, bad index.
 */
struct vtt *vtt_open(const char *path, char *err);
/*
 * The same over bytes in memory, named name in messages (they must stay
 * valid until vtt_close). chunk > 0 caps the compressed bytes handed to
 * the decoder per read (tests and fuzzing reach buffer boundaries).
 */
struct vtt *vtt_open_mem(const void *data, size_t size, const char *name, size_t chunk, char *err);
void vtt_close(struct vtt *f);

uint32_t vtt_root(const struct vtt *f);
size_t vtt_streams(const struct vtt *f);
const struct vtt_stream_info *vtt_stream(const struct vtt *f, size_t i);
void vtt_version(const struct vtt *f, unsigned *major, unsigned *minor);
/* The source it was made from: format name and XXH3-64 (16 hex + NUL). */
const char *vtt_source_format(const struct vtt *f);
void vtt_source_checksum(const struct vtt *f, char out[17]);
/* File size, and compressed bytes consumed so far (for progress). */
uint64_t vtt_file_size(const struct vtt *f);
uint64_t vtt_bytes_read(const struct vtt *f);
/* "FILE: process P, record byte N" of the event handed out last (or of the
 * file when none was), for messages. */
void vtt_where(const struct vtt *f, char *buf, size_t len);

/*
 * The event stream of process pid (see struct proc_source): 0 with *fe
 * filled, 1 if the file has no stream for pid (a child that was not
 * traced), -1 with a message if pid's stream was opened before. The
 * stream's next() returns 1, 0 after its END record once its length,
 * event count and checksum match the index, or -1 with a one-line message
 * (corrupt or truncated zstd data, unknown record type, a record type this
 * vtsim cannot execute yet, bad field, checksum mismatch). Any number of
 * streams may be open at once.
 */
int vtt_open_proc(struct vtt *f, uint32_t pid, struct frontend *fe, char *err);
void vtt_close_proc(struct vtt *f, uint32_t pid);
/* The file as a proc_source for the guest (guest_init_procs). */
void vtt_proc_source(struct vtt *f, struct proc_source *ps);

/* ---- writing ------------------------------------------------------------- */

struct vtt_writer;

struct vtt_meta {
	uint32_t root;               /* the first process */
	const char *source_format;   /* up to 16 ASCII characters */
	uint64_t source_xxh3;
	int level;                   /* zstd level; 0 = VTT_DEFAULT_LEVEL */
};

/* zstd level of `vtsim trace import` (decompression speed does not depend
 * on it; 9 gives files close to level 19's at a fraction of the time). */
#define VTT_DEFAULT_LEVEL 9

/*
 * Start a .vtt at path (created or truncated) or in memory. Returns NULL
 * with a message in err. Then, per process: vtt_writer_begin, its events,
 * vtt_writer_end; last vtt_writer_finish, which writes the index. Every
 * call returns 0, or -1 with a one-line message naming the output (and
 * the event, for an event the format cannot hold: a kind out of range, a
 * memory size outside 1..4096).
 */
struct vtt_writer *vtt_writer_open(const char *path, const struct vtt_meta *m, char *err);
struct vtt_writer *vtt_writer_open_mem(const struct vtt_meta *m, char *err);
int vtt_writer_begin(struct vtt_writer *w, uint32_t pid, char *err);
int vtt_writer_event(struct vtt_writer *w, const struct guest_event *ev, char *err);
/* Raw record bytes into the current stream (tests: records this writer
 * never produces, e.g. the types vtsim cannot execute yet). */
int vtt_writer_raw(struct vtt_writer *w, const void *rec, size_t n, char *err);
int vtt_writer_end(struct vtt_writer *w, char *err);
/* Write the index; for a memory writer hand over the bytes (*data to be
 * freed by the caller), for a file writer data/size may be NULL. */
int vtt_writer_finish(struct vtt_writer *w, void **data, size_t *size, char *err);
/* Free a writer (after finish, or to abandon one; a file is left as is). */
void vtt_writer_free(struct vtt_writer *w);

/* ---- import -------------------------------------------------------------- */

struct vtt_import_stats {
	char source_format[32];
	uint64_t source_bytes;
	uint64_t processes;
	uint64_t events;
	uint64_t out_bytes;
};

/*
 * Convert a trace vtsim reads (a lackey log, plain or zstd, a trace-set
 * directory, or a drmemtrace .trace.zip or directory of them, whose
 * threads become threads of one process per pid) into the .vtt at out: one stream per process, in the order
 * the guest creates them (a single log becomes process 1, as `vtsim run`
 * names it). Replaying out gives the same events to the guest as replaying
 * in. The file is written under a temporary name beside out and renamed
 * at the end; on error nothing is left. Returns 0, or -1 with the reader's
 * or writer's one-line message.
 */
int vtt_import(const char *in, const char *out, struct vtt_import_stats *st, char *err);
/* The same with a drmemtrace trace's threads taken as how (enum
 * drmem_threads of trace/drmem.h: as threads or as processes); other
 * formats ignore it. */
int vtt_import_as(const char *in, const char *out, unsigned how, struct vtt_import_stats *st, char *err);

#endif
