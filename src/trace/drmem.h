/*
 * DynamoRIO drmemtrace offline traces as a vtsim front end: a single
 * NAME.trace.zip (one thread), or a directory of them (one per thread, as
 * DynamoRIO's DIR/trace/ or a flattened copy such as the shared
 * threadsig.x64.tracedir). Records: drmem_format.h; what becomes which
 * guest event, and what is skipped or refused: the Notes of drmem.c and
 * docs/trace-format.md ("Input formats").
 *
 * Reading is streaming: each thread's zip members are inflated through a
 * fixed buffer (libzip), so memory is constant per thread. Threads become
 * either threads of one guest process per trace pid (DRMEM_AS_THREADS,
 * interleaved in timestamp order in that process's one event stream, each
 * started by a GEV_PROC_CREATE with arg = 1) or one guest process each
 * (DRMEM_AS_PROCESSES, created by the root process). Every error is one
 * line "FILE: member chunk.NNNN, byte N: what" (N = the record's offset in
 * the decompressed member) or "FILE: what" for the archive as a whole.
 */
#ifndef VTSIM_TRACE_DRMEM_H
#define VTSIM_TRACE_DRMEM_H

#include <stddef.h>
#include <stdint.h>

#include "trace/event.h"
#include "trace/proc_source.h"

struct drmem;

/* How a trace's threads become guest tasks (parameter trace.threads). */
enum drmem_threads { DRMEM_AS_THREADS = 0, DRMEM_AS_PROCESSES = 1 };

/* 1 if the file at path starts with a zip local-file header ("PK\3\4"),
 * 0 if not or unreadable (the reader that opens it then says why). */
int drmem_sniff_file(const char *path);
/* 1 if path is a directory holding NAME.trace.zip files (or whose trace/
 * subdirectory does), 0 otherwise. */
int drmem_is_dir(const char *path);

/*
 * Open a .trace.zip or a directory of them: every file's zip directory and
 * member names (chunk.0000 .. chunk.N, nothing else), and its records up to
 * the first timestamp: header (version DRM_VERSION_MIN..MAX), version and
 * file-type markers (x86-64, unfiltered, no kernel traces), tid and pid.
 * Returns NULL with a one-line message in err (TRACE_ERR_LEN).
 */
struct drmem *drmem_open(const char *path, enum drmem_threads how, char *err);
void drmem_close(struct drmem *d);

/* The root process (the one of the earliest thread), threads, processes. */
uint32_t drmem_root(const struct drmem *d);
size_t drmem_threads(const struct drmem *d);
size_t drmem_processes(const struct drmem *d);
/* Record bytes of all members (decompressed) and consumed so far (progress). */
uint64_t drmem_total_bytes(const struct drmem *d);
uint64_t drmem_bytes_read(const struct drmem *d);
/* Bytes of the trace files as stored. */
uint64_t drmem_file_bytes(const struct drmem *d);
/* "drmemtrace" (a file) or "drmemtrace set" (a directory). */
const char *drmem_format(const struct drmem *d);
/* The trace version of the first thread (all must agree). */
unsigned drmem_version(const struct drmem *d);
/* "FILE: member chunk.NNNN, byte N" of the record read last, for messages. */
void drmem_where(const struct drmem *d, char *buf, size_t len);

/*
 * The event stream of guest process pid (see struct proc_source): 0 with
 * *fe filled, 1 if the trace has no such process, -1 with a message if it
 * was opened before. drmem_close_proc ends it.
 */
int drmem_open_proc(struct drmem *d, uint32_t pid, struct frontend *fe, char *err);
void drmem_close_proc(struct drmem *d, uint32_t pid);
void drmem_proc_source(struct drmem *d, struct proc_source *ps);

#endif
