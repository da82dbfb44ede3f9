/*
 * Trace sets: the per-process lackey logs of one multi-process run, a
 * directory written by
 *
 *   valgrind --tool=lackey --trace-mem=yes --trace-syscalls=yes \
 *            --trace-children=yes --log-file=DIR/PREFIX.%p [.%n] prog ...
 *
 * holding PREFIX.PID or PREFIX.PID.N files, each plain text or zstd
 * (detected by content, as for single traces; a ".zst" suffix is allowed).
 * The reader finds the first process, orders each process's logs, and hands
 * out one event stream per process (struct proc_source) as the guest OS
 * creates the processes. What valgrind writes on fork and exec, and what
 * the reader makes of it, is in the Notes of traceset.c.
 */
#ifndef VTSIM_TRACE_TRACESET_H
#define VTSIM_TRACE_TRACESET_H

#include <stddef.h>
#include <stdint.h>

#include "trace/event.h"
#include "trace/proc_source.h"

struct traceset;

/* 1 if path names a directory (a trace set), 0 otherwise (a file, or
 * nothing: trace_open reports that). */
int traceset_is_dir(const char *path);

/*
 * Open the trace set in directory dir: list and name-check its files, read
 * every file's valgrind preamble (pid, parent pid, fork continuation or
 * fresh start), order each process's logs and find the root process.
 * Returns NULL with a one-line message naming dir or the file at fault in
 * err (TRACE_ERR_LEN): an unreadable directory or file, a name outside the
 * PREFIX.PID[.N][.zst] pattern, mixed prefixes, a log whose preamble has
 * no pid or parent pid or the wrong pid, no root or two roots, a process
 * not descending from the root.
 */
struct traceset *traceset_open(const char *dir, char *err);
void traceset_close(struct traceset *ts);

/* The first process (its parent is outside the set). */
uint32_t traceset_root(const struct traceset *ts);
/* Processes (distinct pids) and files in the set. */
size_t traceset_processes(const struct traceset *ts);
size_t traceset_files(const struct traceset *ts);
/* Bytes of all files as stored, and consumed so far (for progress). */
uint64_t traceset_total_bytes(const struct traceset *ts);
uint64_t traceset_bytes_read(const struct traceset *ts);
/* "lackey set" or "lackey+zstd set" (any file compressed). */
const char *traceset_format(const struct traceset *ts);
/* "DIR/FILE:LINE" of the event handed out last, for messages. */
void traceset_where(const struct traceset *ts, char *buf, size_t len);

/*
 * The event stream of process pid, which the guest creates now (see
 * struct proc_source). The stream is the process's logs in order, with
 * events the reader adds where valgrind's logs lost them: GEV_EXEC where a
 * log starts a new program, and the creation of (and wait for) children
 * whose fork fell in a part of the log that exec overwrote. Returns 0, or
 * -1 with a message: no log for pid (the creating event's file and line
 * named), or pid created twice. traceset_close_proc ends it.
 */
int traceset_open_proc(struct traceset *ts, uint32_t pid, struct frontend *fe, char *err);
void traceset_close_proc(struct traceset *ts, uint32_t pid);

/* The set as a proc_source for the guest (guest_init_procs). */
void traceset_proc_source(struct traceset *ts, struct proc_source *ps);

/*
 * Checksum of a trace set as stored: XXH3-64 over its files (every
 * regular file whose name does not start with '.') in strcmp order of
 * their names, each contributing its name, a NUL byte, its size as 8
 * little-endian bytes and its bytes. 16 lower-case hex digits plus NUL
 * into out[17]. Returns 0, or -1 with a message naming the file in err.
 */
int traceset_checksum(const char *dir, char out[17], char *err);

#endif
