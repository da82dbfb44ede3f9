/* Notes: recording a process source into a .vtt; see vtt_record.h. The
 * kept events are raw struct guest_event images in a temporary file of
 * this process only (never read by anything else). */
#include "trace/vtt_record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/trace.h"

struct rec_stream {
	struct vtt_recorder *r;
	uint32_t pid;
	FILE *tmp;         /* the events so far; NULL once written */
	struct frontend inner;
	struct rec_stream *next;
};

struct vtt_recorder {
	struct proc_source inner;
	struct vtt_writer *w;
	char path[4096];
	struct rec_stream *streams;
	char err[TRACE_ERR_LEN]; /* the first error (sticky) */
};

static void fail(struct vtt_recorder *r, const char *msg)
{
	if (!r->err[0])
		snprintf(r->err, sizeof(r->err), "%.200s: %.300s", r->path, msg);
}

static int rec_next(void *ctx, struct guest_event *ev, char *err)
{
	struct rec_stream *s = ctx;
	int rc = s->inner.next(s->inner.ctx, ev, err);
	if (rc == 1 && fwrite(ev, sizeof(*ev), 1, s->tmp) != 1) {
		fail(s->r, "cannot keep the recorded events in a temporary file (TMPDIR full?)");
		snprintf(err, TRACE_ERR_LEN, "%s", s->r->err);
		return -1;
	}
	return rc;
}

static int rec_open(void *ctx, uint32_t pid, struct frontend *fe, char *err)
{
	struct vtt_recorder *r = ctx;
	struct frontend inner;
	int rc = r->inner.open(r->inner.ctx, pid, &inner, err);
	if (rc != 0)
		return rc;
	struct rec_stream *s = calloc(1, sizeof(*s));
	FILE *tmp = s ? tmpfile() : NULL;
	if (!tmp) {
		free(s);
		r->inner.close(r->inner.ctx, pid);
		fail(r, "cannot create a temporary file for a process's events");
		snprintf(err, TRACE_ERR_LEN, "%s", r->err);
		return -1;
	}
	*s = (struct rec_stream){r, pid, tmp, inner, r->streams};
	r->streams = s;
	*fe = (struct frontend){rec_next, s, NULL};
	return 0;
}

/* Write the kept events of s as its stream. */
static void write_stream(struct vtt_recorder *r, struct rec_stream *s)
{
	char err[TRACE_ERR_LEN];
	struct guest_event ev;
	if (r->err[0])
		return;
	if (fflush(s->tmp) != 0 || fseek(s->tmp, 0, SEEK_SET) != 0) {
		fail(r, "cannot read back a temporary file of recorded events");
		return;
	}
	if (vtt_writer_begin(r->w, s->pid, err) < 0) {
		fail(r, err);
		return;
	}
	while (fread(&ev, sizeof(ev), 1, s->tmp) == 1)
		if (vtt_writer_event(r->w, &ev, err) < 0) {
			fail(r, err);
			return;
		}
	if (ferror(s->tmp)) {
		fail(r, "cannot read back a temporary file of recorded events");
		return;
	}
	if (vtt_writer_end(r->w, err) < 0)
		fail(r, err);
}

static void rec_close(void *ctx, uint32_t pid)
{
	struct vtt_recorder *r = ctx;
	for (struct rec_stream *s = r->streams; s; s = s->next) {
		if (s->pid != pid || !s->tmp)
			continue;
		write_stream(r, s);
		fclose(s->tmp);
		s->tmp = NULL;
	}
	r->inner.close(r->inner.ctx, pid);
}

struct vtt_recorder *vtt_recorder_open(const char *path, const struct proc_source *inner, const struct vtt_meta *meta,
				       char *err)
{
	struct vtt_recorder *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, TRACE_ERR_LEN, "out of memory");
		return NULL;
	}
	r->inner = *inner;
	snprintf(r->path, sizeof(r->path), "%s", path);
	r->w = vtt_writer_open(path, meta, err);
	if (!r->w) {
		free(r);
		return NULL;
	}
	return r;
}

void vtt_recorder_source(struct vtt_recorder *r, struct proc_source *ps)
{
	*ps = (struct proc_source){r->inner.root, rec_open, rec_close, r};
}

int vtt_recorder_finish(struct vtt_recorder *r, char *err)
{
	for (struct rec_stream *s = r->streams; s; s = s->next)
		if (s->tmp)
			fail(r, "a process's stream was still open at the end of the run");
	if (!r->err[0] && vtt_writer_finish(r->w, NULL, NULL, err) < 0)
		return -1;
	if (r->err[0]) {
		snprintf(err, TRACE_ERR_LEN, "%s", r->err);
		return -1;
	}
	return 0;
}

void vtt_recorder_free(struct vtt_recorder *r)
{
	if (!r)
		return;
	while (r->streams) {
		struct rec_stream *s = r->streams;
		r->streams = s->next;
		if (s->tmp)
			fclose(s->tmp);
		free(s);
	}
	vtt_writer_free(r->w);
	free(r);
}
