/*
 * Recording a run: a process source (struct proc_source) passed through
 * unchanged to the guest while every event it hands out is kept, one
 * stream per process, and written as a .vtt (src/trace/vtt.h) when the
 * guest is done with that process. Replaying the file gives the guest the
 * same streams, so a run of the recording repeats the recorded run's
 * counters in any mode.
 *
 * A process's events wait in an unlinked temporary file (tmpfile(), in
 * $TMPDIR: 32 bytes per event) until its stream closes, since .vtt
 * streams are written one after another.
 */
#ifndef VTSIM_TRACE_VTT_RECORD_H
#define VTSIM_TRACE_VTT_RECORD_H

#include <stdint.h>

#include "trace/proc_source.h"
#include "trace/vtt.h"

struct vtt_recorder;

/*
 * Record what inner hands out into a .vtt at path (created or truncated),
 * with meta (its root must be inner's). NULL with a one-line message in
 * err (TRACE_ERR_LEN). inner must outlive the recorder.
 */
struct vtt_recorder *vtt_recorder_open(const char *path, const struct proc_source *inner, const struct vtt_meta *meta,
				       char *err);

/* The source to give the guest instead of inner. */
void vtt_recorder_source(struct vtt_recorder *r, struct proc_source *ps);

/*
 * After the run: every stream must have been closed by the guest; writes
 * the index. 0, or -1 with a one-line message naming the file (a write
 * error, a stream left open, an event the format cannot hold).
 */
int vtt_recorder_finish(struct vtt_recorder *r, char *err);

/* Free (after finish, or to abandon a recording: the file is left as is). */
void vtt_recorder_free(struct vtt_recorder *r);

#endif
