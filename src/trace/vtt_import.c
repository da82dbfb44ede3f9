/*
 * `vtsim trace import`: a lackey log, a trace set or a drmemtrace trace
 * into a .vtt (see vtt.h).
 *
 * Notes:
 *  - Handles: a single log (plain or zstd), written as the stream of
 *    process 1, the pid `vtsim run` gives the process of a single log (its
 *    children, untraced there, have no stream here either); a trace set,
 *    whose processes are read one after the other from the root down in
 *    the order they are created (breadth first), each stream exactly as
 *    the trace set hands it to the guest, with the events the set reader
 *    adds (exec, lost forks); the source's checksum and format go in the
 *    header.
 *  - A drmemtrace trace (a .trace.zip or a directory of them) is read as a
 *    run reads it with trace.threads = how: its processes one after the
 *    other from the root down, in the order they are created, like a set.
 *  - A process created twice, or created without a log, fails the import
 *    as it fails a run of the set, with the set reader's message.
 *  - The output is written to OUT.tmp.PID beside OUT and renamed over OUT
 *    once complete, so OUT is never half written.
 */
#include "trace/vtt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace/drmem.h"
#include "trace/trace.h"
#include "trace/traceset.h"

static int import_log(const char *in, struct vtt_writer **wp, const char *tmp, struct vtt_import_stats *st,
		      char *err)
{
	char sum[17];
	struct trace_reader *tr;
	struct vtt_writer *w;
	struct guest_event ev;
	int r;

	if (trace_file_checksum(in, sum, err) < 0 || !(tr = trace_open(in, err)))
		return -1;
	snprintf(st->source_format, sizeof(st->source_format), "%s", trace_format(tr));
	struct vtt_meta m = {1, trace_format(tr), strtoull(sum, NULL, 16), 0};
	*wp = w = vtt_writer_open(tmp, &m, err);
	if (!w || vtt_writer_begin(w, 1, err) < 0) {
		trace_close(tr);
		return -1;
	}
	while ((r = trace_next(tr, &ev, err)) == 1) {
		if (vtt_writer_event(w, &ev, err) < 0) {
			r = -1;
			break;
		}
		st->events++;
	}
	st->source_bytes = trace_file_size(tr);
	st->processes = 1;
	trace_close(tr);
	return r < 0 ? -1 : vtt_writer_end(w, err);
}

/* Every process of ps, from root down in creation order (breadth first),
 * each as one stream of w; in names the source in messages. */
static int import_procs(const char *in, const struct proc_source *ps, struct vtt_writer *w,
			struct vtt_import_stats *st, char *err)
{
	uint32_t *queue = NULL;
	size_t nq = 0, cap = 0;
	int rc = -1;

	if (!(queue = malloc(sizeof(*queue) * (cap = 16)))) {
		snprintf(err, TRACE_ERR_LEN, "%s: out of memory", in);
		return -1;
	}
	queue[nq++] = ps->root;
	for (size_t q = 0; q < nq; q++) {
		struct frontend fe;
		struct guest_event ev;
		int r = ps->open(ps->ctx, queue[q], &fe, err);

		if (r > 0)
			continue; /* not traced: a run leaves it out too */
		if (r < 0 || vtt_writer_begin(w, queue[q], err) < 0)
			goto out;
		while ((r = fe.next(fe.ctx, &ev, err)) == 1) {
			if (vtt_writer_event(w, &ev, err) < 0)
				goto out;
			st->events++;
			if (ev.kind == GEV_PROC_CREATE && !(ev.arg & 1)) {
				if (nq == cap) {
					uint32_t *v = realloc(queue, sizeof(*queue) * (cap *= 2));

					if (!v) {
						snprintf(err, TRACE_ERR_LEN, "%s: out of memory", in);
						goto out;
					}
					queue = v;
				}
				queue[nq++] = ev.pid;
			}
		}
		ps->close(ps->ctx, queue[q]);
		if (r < 0 || vtt_writer_end(w, err) < 0)
			goto out;
		st->processes++;
	}
	rc = 0;
out:
	free(queue);
	return rc;
}

static int import_set(const char *in, struct vtt_writer **wp, const char *tmp, struct vtt_import_stats *st,
		      char *err)
{
	char sum[17];
	struct traceset *ts;
	struct proc_source ps;
	int rc = -1;

	if (traceset_checksum(in, sum, err) < 0 || !(ts = traceset_open(in, err)))
		return -1;
	snprintf(st->source_format, sizeof(st->source_format), "%s", traceset_format(ts));
	struct vtt_meta m = {traceset_root(ts), traceset_format(ts), strtoull(sum, NULL, 16), 0};
	traceset_proc_source(ts, &ps);
	if ((*wp = vtt_writer_open(tmp, &m, err)) && import_procs(in, &ps, *wp, st, err) == 0) {
		st->source_bytes = traceset_total_bytes(ts);
		rc = 0;
	}
	traceset_close(ts);
	return rc;
}

static int import_drmem(const char *in, enum drmem_threads how, struct vtt_writer **wp, const char *tmp,
			struct vtt_import_stats *st, char *err)
{
	char sum[17];
	struct drmem *d;
	struct proc_source ps;
	int rc = -1;

	if ((traceset_is_dir(in) ? traceset_checksum(in, sum, err) : trace_file_checksum(in, sum, err)) < 0 ||
	    !(d = drmem_open(in, how, err)))
		return -1;
	snprintf(st->source_format, sizeof(st->source_format), "%s", drmem_format(d));
	struct vtt_meta m = {drmem_root(d), drmem_format(d), strtoull(sum, NULL, 16), 0};
	drmem_proc_source(d, &ps);
	if ((*wp = vtt_writer_open(tmp, &m, err)) && import_procs(in, &ps, *wp, st, err) == 0) {
		st->source_bytes = drmem_file_bytes(d);
		rc = 0;
	}
	drmem_close(d);
	return rc;
}

/* Convert a trace to .vtt; see vtt.h. */
int vtt_import(const char *in, const char *out, struct vtt_import_stats *st, char *err)
{
	return vtt_import_as(in, out, DRMEM_AS_THREADS, st, err);
}

/* The same, drmemtrace threads taken as how says; see vtt.h. */
int vtt_import_as(const char *in, const char *out, unsigned how, struct vtt_import_stats *st, char *err)
{
	size_t n = strlen(out) + 32;
	char *tmp = malloc(n);
	struct vtt_writer *w = NULL;
	struct stat sb;
	int rc;

	memset(st, 0, sizeof(*st));
	if (!tmp) {
		snprintf(err, TRACE_ERR_LEN, "%s: out of memory", out);
		return -1;
	}
	snprintf(tmp, n, "%s.tmp.%ld", out, (long)getpid());
	if (!traceset_is_dir(in) && vtt_sniff_file(in)) {
		snprintf(err, TRACE_ERR_LEN, "%s: already a .vtt trace", in);
		free(tmp);
		return -1;
	}
	if (drmem_is_dir(in) || (!traceset_is_dir(in) && drmem_sniff_file(in)))
		rc = import_drmem(in, (enum drmem_threads)how, &w, tmp, st, err);
	else if (traceset_is_dir(in))
		rc = import_set(in, &w, tmp, st, err);
	else
		rc = import_log(in, &w, tmp, st, err);
	if (rc == 0)
		rc = vtt_writer_finish(w, NULL, NULL, err);
	vtt_writer_free(w);
	if (rc == 0 && rename(tmp, out) < 0) {
		snprintf(err, TRACE_ERR_LEN, "%s: cannot rename %s to it: %s", out, tmp, strerror(errno));
		rc = -1;
	}
	if (rc == 0 && stat(out, &sb) == 0)
		st->out_bytes = (uint64_t)sb.st_size;
	if (rc < 0 && w)
		unlink(tmp);
	free(tmp);
	return rc;
}
