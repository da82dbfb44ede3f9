/*
 * Trace readers: the public interface of trace.h.
 *
 * Notes:
 *  - Handles: opening a file or a memory block, picking the decoder
 *    (zstd by its frame magic, else plain text), and handing the byte
 *    stream to the lackey parser, the only format so far; the XXH3-64
 *    checksum of a file's stored bytes.
 *  - Leaves out: telling formats apart by content beyond compression
 *    (every trace is taken for a lackey log until a second format, such as
 *    .vtt, needs a sniffing rule here).
 */
#include "trace/trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "trace/lackey.h"
#include "trace/source.h"

struct trace_reader {
	struct trace_src src;
	struct lackey lk;
};

static struct trace_reader *finish_open(struct trace_reader *tr, int rc, char *err)
{
	if (rc == 0 && lackey_init(&tr->lk, &tr->src, err) == 0)
		return tr;
	lackey_fini(&tr->lk);
	trace_src_close(&tr->src);
	free(tr);
	return NULL;
}

/* Open a trace file; see trace.h. */
struct trace_reader *trace_open(const char *path, char *err)
{
	struct trace_reader *tr = calloc(1, sizeof(*tr));

	if (!tr) {
		snprintf(err, TRACE_ERR_LEN, "%s: out of memory", path);
		return NULL;
	}
	return finish_open(tr, trace_src_open_file(&tr->src, path, err), err);
}

/* Open a trace held in memory; see trace.h. */
struct trace_reader *trace_open_mem(const void *data, size_t size, const char *name,
				    size_t chunk, char *err)
{
	struct trace_reader *tr = calloc(1, sizeof(*tr));

	if (!tr) {
		snprintf(err, TRACE_ERR_LEN, "%s: out of memory", name ? name : "<memory>");
		return NULL;
	}
	return finish_open(tr, trace_src_open_mem(&tr->src, data, size, name, chunk, err), err);
}

/* Next event; see trace.h. */
int trace_next(struct trace_reader *tr, struct guest_event *ev, char *err)
{
	return lackey_next(&tr->lk, ev, err);
}

/* Lines consumed; see trace.h. */
uint64_t trace_line(const struct trace_reader *tr)
{
	return tr->lk.line;
}

/* Raw bytes consumed; see trace.h. */
uint64_t trace_bytes_read(const struct trace_reader *tr)
{
	return tr->src.bytes_read;
}

/* File size (0 when unknown, e.g. a pipe); see trace.h. */
uint64_t trace_file_size(const struct trace_reader *tr)
{
	return tr->src.file_size;
}

/* Format name; see trace.h. */
const char *trace_format(const struct trace_reader *tr)
{
	return tr->src.is_zstd ? "lackey+zstd" : "lackey";
}

/* Close a reader (NULL is allowed); see trace.h. */
void trace_close(struct trace_reader *tr)
{
	if (!tr)
		return;
	lackey_fini(&tr->lk);
	trace_src_close(&tr->src);
	free(tr);
}

/* XXH3-64 of a file's bytes; see trace.h. */
int trace_file_checksum(const char *path, char out[17], char *err)
{
	enum { BUFSZ = 1 << 20 };
	XXH3_state_t *st = NULL;
	unsigned char *buf = NULL;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, TRACE_ERR_LEN, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	st = XXH3_createState();
	buf = malloc(BUFSZ);
	if (!st || !buf || XXH3_64bits_reset(st) == XXH_ERROR) {
		snprintf(err, TRACE_ERR_LEN, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf, BUFSZ);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, TRACE_ERR_LEN, "%s: read error: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		XXH3_64bits_update(st, buf, (size_t)n);
	}
	snprintf(out, 17, "%016llx", (unsigned long long)XXH3_64bits_digest(st));
	rc = 0;
out:
	free(buf);
	XXH3_freeState(st);
	close(fd);
	return rc;
}
