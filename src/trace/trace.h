/*
 * Trace readers: streaming, constant memory, one event at a time.
 *
 * Supported now: Valgrind lackey logs (--tool=lackey --trace-mem=yes,
 * optionally --trace-syscalls=yes), plain text or zstd-compressed (detected
 * by the zstd frame magic, not by the file name).
 */
#ifndef VTSIM_TRACE_TRACE_H
#define VTSIM_TRACE_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "trace/event.h"

struct trace_reader;

/* Maximum length of an error message produced by the readers (bytes). */
#define TRACE_ERR_LEN 512

/*
 * Open a trace. Returns NULL on failure and writes a one-line message
 * naming the file into err (TRACE_ERR_LEN bytes).
 */
struct trace_reader *trace_open(const char *path, char *err);

/*
 * Open a trace held in memory (plain or zstd, detected as for a file).
 * name is used in messages in place of a path. The data must stay valid
 * until trace_close. chunk > 0 caps the bytes handed to the parser per
 * read (tests and fuzzing use it to exercise buffer boundaries); 0 means
 * no cap. Returns NULL with a message in err on failure.
 * (Added to the fixed interface for the fuzz target and the unit tests.)
 */
struct trace_reader *trace_open_mem(const void *data, size_t size, const char *name,
				    size_t chunk, char *err);

/*
 * Read the next event into *ev.
 * Returns 1 for an event, 0 at a clean end of trace, -1 on error with a
 * one-line "FILE:LINE: what is wrong" message in err (TRACE_ERR_LEN bytes).
 * A truncated compressed stream or a malformed line is an error, never
 * silently skipped.
 */
int trace_next(struct trace_reader *tr, struct guest_event *ev, char *err);

/* Lines consumed so far (for progress and error messages). */
uint64_t trace_line(const struct trace_reader *tr);
/* Bytes of the underlying file consumed so far, and its size (for progress). */
uint64_t trace_bytes_read(const struct trace_reader *tr);
uint64_t trace_file_size(const struct trace_reader *tr);
/* Name of the source format ("lackey", "lackey+zstd"). */
const char *trace_format(const struct trace_reader *tr);

void trace_close(struct trace_reader *tr);

/*
 * Checksum of a trace file's bytes as stored (XXH3-64, libxxhash), as 16
 * lower-case hex digits plus NUL into out[17]. Returns 0, or -1 with a
 * message naming the file in err.
 */
int trace_file_checksum(const char *path, char out[17], char *err);

#endif
