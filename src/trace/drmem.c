/*
 * DynamoRIO drmemtrace offline traces (drmem.h; records in drmem_format.h).
 *
 * Notes:
 *  - Archives are read with libzip; a thread's members chunk.0000 ..
 *    chunk.N (numbered without gaps, nothing else in the archive) are one
 *    record stream. Every member but the last ends with a chunk-footer
 *    marker and the last with the footer record; a member whose length is
 *    not a whole number of records, a chunk without its footer marker or a
 *    trace without its footer record is truncated, an error.
 *  - Records that become guest events (each with the pid of its guest
 *    process):
 *      instruction fetches of every kind (plain, branches, calls, returns,
 *      sysenter, taken/untaken jumps) -> GEV_FETCH at the PC with the
 *      instruction's length (1..15 bytes); an instruction bundle expands to
 *      one GEV_FETCH per bundled instruction, each following the previous;
 *      INSTR_NO_FETCH (a rep-string iteration after the first) -> GEV_FETCH
 *      too, as lackey logs every iteration of such an instruction;
 *      READ -> GEV_LOAD, WRITE -> GEV_STORE with their sizes;
 *      software prefetches of every kind -> GEV_LOAD (an x86 PREFETCHh is
 *      translated like a load and walks the page tables on a TLB miss; the
 *      guest maps the page on first touch as for any reference, where real
 *      hardware drops a prefetch to an unmapped page);
 *      DATA_FLUSH (CLFLUSH, CLFLUSHOPT, CLWB) -> GEV_LOAD of its line (the
 *      SDM checks a flush's permissions as a load's);
 *      a reference of size 0 (DynamoRIO's size for the XSAVE family, whose
 *      area size depends on XCR0) -> a 1-byte reference to the area's
 *      start: its first page is touched, any further page it spans is not.
 *  - Skipped, as they carry no memory behaviour: ENCODING records
 *    (instruction bytes), and the markers timestamp (used to interleave
 *    threads), cpu id, kernel event / transfer (signal delivery and
 *    return: the handler's own instructions are ordinary records), signal
 *    number, uncompleted instruction (one a signal interrupted: DynamoRIO
 *    records no fetch for it), function id / return address / argument /
 *    return value, file type / version / cache line size / page size /
 *    chunk instruction count / record ordinal / chunk footer (checked
 *    where they say something about the layout), rseq abort / entry,
 *    window id, physical / virtual address pairs (vtsim translates
 *    itself), system call number / index / failed / maybe blocking,
 *    branch target, direct thread switch, core wait / idle, vector length,
 *    (un)schedule and timeout hints, instruction count, and user markers
 *    (sub-type 100 and up).
 *  - Refused with an error naming the file, member and offset: versions
 *    outside DRM_VERSION_MIN..MAX; a file type other than unfiltered
 *    x86-64 user code (filtered, bimodal warm-up, kernel system-call
 *    traces, other architectures, unknown bits); the markers that bracket
 *    kernel code (system-call trace start/end, context-switch start/end),
 *    the raw-trace split value and filter endpoint; hardware prefetches
 *    (added by cache simulators, not by the program), maybe-fetched
 *    instructions (online traces), ARM instruction-cache and ranged
 *    flushes; unknown record types and unknown marker sub-types below 100
 *    (a later DynamoRIO may give them memory behaviour); a thread, pid or
 *    exit record of another thread; a reference after the thread's exit
 *    or before its first timestamp; an access larger than 4096 bytes.
 *  - Threads: sorted by first timestamp (the main thread, tid = pid, first
 *    on a tie, then by tid). As threads (the default) each trace pid is one
 *    guest process whose stream interleaves its threads at their timestamp
 *    markers: at every timestamp the thread whose next segment is the
 *    oldest continues (ties: the sort order), which is the serial order
 *    DynamoRIO's own schedule files record; a thread's first segment
 *    starts with GEV_PROC_CREATE (arg = 1, pid = tid, gva = the process).
 *    As processes each thread is a guest process with pid = its tid.
 *    Either way the process of the earliest thread is the root, and it
 *    creates every other process (GEV_PROC_CREATE, arg = 0) at its first
 *    segment that starts no earlier than that process's first timestamp
 *    (the trace does not say who created whom), or before its own end. A
 *    process exits (GEV_PROC_EXIT) when its last thread ends with an exit
 *    record; without one its stream just ends.
 *  - Not read: the schedule files beside the traces (serial_schedule.bin,
 *    cpu_schedule.bin.zip), derived from the same timestamps; drmemtrace
 *    has no mmap/munmap/brk events, so the guest demand-pages what is
 *    touched and unmaps nothing before exit.
 */
#include "trace/drmem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zip.h>

#include "trace/drmem_format.h"
#include "trace/trace.h"

/* Decompressed bytes buffered per thread. */
#define DM_BUF (64u * 1024u)

struct dm_thread {
	struct drmem *d;
	char *path;
	zip_t *za;
	zip_uint64_t *members; /* archive index of chunk.0000, chunk.0001, ... */
	size_t nmembers, mi;   /* mi: the member being read */
	zip_file_t *zf;
	unsigned char *buf;
	size_t len, pos;       /* buffered bytes [pos, len) */
	uint64_t moff;         /* member offset of buf[0] */
	uint64_t rec_off;      /* member offset of the record read last */
	size_t rec_member;     /* its member */
	bool chunk_footer;     /* the record read last was a chunk footer */
	uint64_t tid, pid;
	unsigned version;
	uint64_t filetype;
	bool have_filetype;
	uint64_t first_ts, ts; /* first timestamp; that of the segment read now or next */
	uint64_t pc_next;      /* the address after the last instruction */
	bool have_pc;
	unsigned char blen[8]; /* lengths of a bundle being expanded */
	unsigned bn, bi;
	bool primed, exited, ended, started;
	size_t proc;           /* index of its process */
};

struct dm_proc {
	struct drmem *d;
	uint32_t pid;          /* guest pid */
	size_t *thr;           /* its threads, in sort order; thr[0] is the main one */
	size_t nthr;
	uint64_t first_ts;
	bool opened, closed;
	struct dm_thread *cur;
	bool last_exited, exit_sent;
};

struct drmem {
	char *path;
	bool is_dir;
	enum drmem_threads how;
	struct dm_thread *th;  /* sorted */
	size_t nth;
	struct dm_proc *pr;    /* pr[0] is the root; the rest in creation order */
	size_t npr;
	size_t next_create;    /* the next process the root creates */
	uint64_t total_bytes, bytes_read, file_bytes;
	const struct dm_thread *last;
};

/* ---- messages ------------------------------------------------------------ */

static const char *member_name(const struct dm_thread *t, size_t m)
{
	const char *n = m < t->nmembers ? zip_get_name(t->za, t->members[m], 0) : NULL;
	return n ? n : "?";
}

/* "FILE: member M, byte N: what" for the record read last. */
static int th_fail(const struct dm_thread *t, char *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int th_fail(const struct dm_thread *t, char *err, const char *fmt, ...)
{
	char what[TRACE_ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(err, TRACE_ERR_LEN, "%.200s: member %.40s, byte %" PRIu64 ": %.240s", t->path,
		 member_name(t, t->rec_member), t->rec_off, what);
	return -1;
}

/* ---- one thread's records -------------------------------------------------- */

struct dm_rec {
	unsigned type, size;
	uint64_t addr;
};

static inline uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void th_close_member(struct dm_thread *t)
{
	if (t->zf)
		zip_fclose(t->zf);
	t->zf = NULL;
}

/* The next record: 1, 0 after the last member, -1 with a message. */
static int th_read(struct dm_thread *t, struct dm_rec *r, char *err)
{
	for (;;) {
		if (!t->zf) {
			if (t->mi >= t->nmembers)
				return 0;
			t->zf = zip_fopen_index(t->za, t->members[t->mi], 0);
			if (!t->zf) {
				t->rec_member = t->mi;
				t->rec_off = 0;
				return th_fail(t, err, "cannot open: %s", zip_strerror(t->za));
			}
			t->len = t->pos = 0;
			t->moff = 0;
		}
		if (t->len - t->pos >= DRM_RECORD_BYTES) {
			const unsigned char *p = t->buf + t->pos;
			if (t->chunk_footer && t->rec_member == t->mi) {
				t->rec_off = t->moff + t->pos;
				return th_fail(t, err, "a record after the chunk footer");
			}
			r->type = (unsigned)p[0] | (unsigned)p[1] << 8;
			r->size = (unsigned)p[2] | (unsigned)p[3] << 8;
			r->addr = le64(p + 4);
			t->rec_off = t->moff + t->pos;
			t->rec_member = t->mi;
			t->pos += DRM_RECORD_BYTES;
			t->d->bytes_read += DRM_RECORD_BYTES;
			t->d->last = t;
			return 1;
		}
		size_t rem = t->len - t->pos;
		memmove(t->buf, t->buf + t->pos, rem);
		t->moff += t->pos;
		t->pos = 0;
		t->len = rem;
		zip_int64_t n = zip_fread(t->zf, t->buf + t->len, DM_BUF - t->len);
		if (n < 0) {
			t->rec_member = t->mi;
			t->rec_off = t->moff + t->len;
			return th_fail(t, err, "cannot read: %s", zip_file_strerror(t->zf));
		}
		if (n > 0) {
			t->len += (size_t)n;
			continue;
		}
		t->rec_member = t->mi;
		t->rec_off = t->moff;
		if (rem)
			return th_fail(t, err, "truncated: the member ends %zu bytes into a %d-byte record", rem,
				       DRM_RECORD_BYTES);
		th_close_member(t);
		if (t->mi + 1 < t->nmembers && !t->chunk_footer)
			return th_fail(t, err, "truncated: the member ends without a chunk footer");
		t->chunk_footer = false;
		t->mi++;
	}
}

/* Check a file-type marker's bits. */
static int check_filetype(struct dm_thread *t, uint64_t ft, char *err)
{
	if (t->have_filetype && ft != t->filetype)
		return th_fail(t, err, "file type 0x%" PRIx64 " differs from the earlier 0x%" PRIx64, ft, t->filetype);
	if (ft & (DRM_FILE_FILTERED | DRM_FILE_IFILTERED | DRM_FILE_DFILTERED | DRM_FILE_BIMODAL_FILTERED_WARMUP))
		return th_fail(t, err, "file type 0x%" PRIx64 ": a filtered trace (references left out) is not supported",
			       ft);
	if (ft & DRM_FILE_KERNEL_SYSCALLS)
		return th_fail(t, err, "file type 0x%" PRIx64 ": kernel system-call traces are not supported", ft);
	if (!(ft & DRM_FILE_ARCH_X86_64))
		return th_fail(t, err, "file type 0x%" PRIx64 ": not an x86-64 trace (vtsim models x86-64 only)", ft);
	if (ft & ~DRM_FILE_ACCEPTED)
		return th_fail(t, err, "file type 0x%" PRIx64 " has bits this vtsim does not know (0x%" PRIx64 ")", ft,
			       ft & ~DRM_FILE_ACCEPTED);
	t->filetype = ft;
	t->have_filetype = true;
	return 0;
}

/* A marker: 0 skipped, 2 timestamp, -1 refused. */
static int th_marker(struct dm_thread *t, const struct dm_rec *r, char *err)
{
	switch (r->size) {
	case DRM_MK_TIMESTAMP:
		t->ts = r->addr;
		return 2;
	case DRM_MK_CHUNK_FOOTER:
		if (t->mi + 1 >= t->nmembers)
			return th_fail(t, err, "a chunk footer in the last member (it ends with the footer record)");
		t->chunk_footer = true;
		return 0;
	case DRM_MK_VERSION:
		if (r->addr != t->version)
			return th_fail(t, err, "version marker %" PRIu64 " differs from the header's version %u", r->addr,
				       t->version);
		return 0;
	case DRM_MK_FILETYPE:
		return check_filetype(t, r->addr, err);
	case DRM_MK_SPLIT_VALUE:
		return th_fail(t, err, "a split-value marker: this is a raw trace; run DynamoRIO's raw2trace first");
	case DRM_MK_FILTER_ENDPOINT:
		return th_fail(t, err, "a filter endpoint marker: filtered traces are not supported");
	case DRM_MK_SYSCALL_TRACE_START:
	case DRM_MK_SYSCALL_TRACE_END:
		return th_fail(t, err, "marker %u brackets kernel system-call code: kernel traces are not supported",
			       r->size);
	case DRM_MK_CONTEXT_SWITCH_START:
	case DRM_MK_CONTEXT_SWITCH_END:
		return th_fail(t, err, "marker %u brackets kernel context-switch code: kernel traces are not supported",
			       r->size);
	case DRM_MK_KERNEL_EVENT:
	case DRM_MK_KERNEL_XFER:
	case DRM_MK_CPU_ID:
	case DRM_MK_FUNC_ID:
	case DRM_MK_FUNC_RETADDR:
	case DRM_MK_FUNC_ARG:
	case DRM_MK_FUNC_RETVAL:
	case DRM_MK_CACHE_LINE_SIZE:
	case DRM_MK_INSTRUCTION_COUNT:
	case DRM_MK_RSEQ_ABORT:
	case DRM_MK_WINDOW_ID:
	case DRM_MK_PHYSICAL_ADDRESS:
	case DRM_MK_PHYSICAL_ADDRESS_NOT_AVAILABLE:
	case DRM_MK_VIRTUAL_ADDRESS:
	case DRM_MK_PAGE_SIZE:
	case DRM_MK_SYSCALL_IDX:
	case DRM_MK_CHUNK_INSTR_COUNT:
	case DRM_MK_RECORD_ORDINAL:
	case DRM_MK_RSEQ_ENTRY:
	case DRM_MK_SYSCALL:
	case DRM_MK_MAYBE_BLOCKING_SYSCALL:
	case DRM_MK_BRANCH_TARGET:
	case DRM_MK_SYSCALL_FAILED:
	case DRM_MK_DIRECT_THREAD_SWITCH:
	case DRM_MK_CORE_WAIT:
	case DRM_MK_CORE_IDLE:
	case DRM_MK_VECTOR_LENGTH:
	case DRM_MK_SYSCALL_UNSCHEDULE:
	case DRM_MK_SYSCALL_SCHEDULE:
	case DRM_MK_SYSCALL_ARG_TIMEOUT:
	case DRM_MK_SIGNAL_NUMBER:
	case DRM_MK_UNCOMPLETED_INSTRUCTION:
		return 0;
	default:
		if (r->size >= DRM_MK_USER_FIRST)
			return 0;
		return th_fail(t, err, "unknown marker type %u (this vtsim knows 0..%d and user markers from %d)", r->size,
			       DRM_MK_KNOWN_COUNT - 1, DRM_MK_USER_FIRST);
	}
}

static int th_ref(struct dm_thread *t, const struct dm_rec *r, enum guest_event_kind kind, struct guest_event *ev,
		  char *err)
{
	if (!t->primed)
		return th_fail(t, err, "a memory reference before the thread's first timestamp");
	if (t->exited)
		return th_fail(t, err, "a memory reference after the thread's exit record");
	if (r->size > 4096)
		return th_fail(t, err, "an access of %u bytes (vtsim takes 1..4096)", r->size);
	ev->kind = kind;
	ev->size = r->size ? r->size : 1;
	ev->gva = r->addr;
	return 1;
}

static int th_fetch(struct dm_thread *t, uint64_t pc, unsigned len, struct guest_event *ev, char *err)
{
	if (!t->primed)
		return th_fail(t, err, "an instruction before the thread's first timestamp");
	if (t->exited)
		return th_fail(t, err, "an instruction after the thread's exit record");
	if (len < 1 || len > DRM_MAX_INSTR_LEN)
		return th_fail(t, err, "an instruction of %u bytes (x86 takes 1..%d)", len, DRM_MAX_INSTR_LEN);
	ev->kind = GEV_FETCH;
	ev->size = len;
	ev->gva = pc;
	t->pc_next = pc + len;
	t->have_pc = true;
	return 1;
}

/*
 * The thread's next step: 1 with an event in *ev (kind, size, gva only),
 * 2 at a timestamp (t->ts is the new segment's), 0 after the footer, -1.
 */
static int th_next(struct dm_thread *t, struct guest_event *ev, char *err)
{
	struct dm_rec r;
	int rc;

	if (t->bi < t->bn) {
		unsigned len = t->blen[t->bi++];
		return th_fetch(t, t->pc_next, len, ev, err);
	}
	for (;;) {
		rc = th_read(t, &r, err);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			snprintf(err, TRACE_ERR_LEN, "%.200s: truncated: the trace ends after member %.40s without its footer record",
				 t->path, member_name(t, t->nmembers - 1));
			return -1;
		}
		switch (r.type) {
		case DRM_READ:
			return th_ref(t, &r, GEV_LOAD, ev, err);
		case DRM_WRITE:
			return th_ref(t, &r, GEV_STORE, ev, err);
		case DRM_PREFETCH:
		case DRM_PREFETCHT0:
		case DRM_PREFETCHT1:
		case DRM_PREFETCHT2:
		case DRM_PREFETCHNTA:
		case DRM_PREFETCH_READ:
		case DRM_PREFETCH_WRITE:
		case DRM_PREFETCH_INSTR:
			return th_ref(t, &r, GEV_LOAD, ev, err);
		case DRM_DATA_FLUSH:
			if (r.size == 0)
				return th_fail(t, err, "a ranged data flush (ARM cacheflush) is not supported");
			return th_ref(t, &r, GEV_LOAD, ev, err);
		case DRM_INSTR:
		case DRM_INSTR_DIRECT_JUMP:
		case DRM_INSTR_INDIRECT_JUMP:
		case DRM_INSTR_CONDITIONAL_JUMP:
		case DRM_INSTR_DIRECT_CALL:
		case DRM_INSTR_INDIRECT_CALL:
		case DRM_INSTR_RETURN:
		case DRM_INSTR_NO_FETCH:
		case DRM_INSTR_SYSENTER:
		case DRM_INSTR_TAKEN_JUMP:
		case DRM_INSTR_UNTAKEN_JUMP:
			return th_fetch(t, r.addr, r.size, ev, err);
		case DRM_INSTR_BUNDLE:
			if (!t->have_pc)
				return th_fail(t, err, "an instruction bundle with no instruction before it");
			if (r.size < 1 || r.size > 8)
				return th_fail(t, err, "an instruction bundle of %u instructions (1..8)", r.size);
			for (unsigned i = 0; i < r.size; i++)
				t->blen[i] = (unsigned char)(r.addr >> (8 * i));
			t->bn = r.size;
			t->bi = 1;
			return th_fetch(t, t->pc_next, t->blen[0], ev, err);
		case DRM_ENCODING:
			continue;
		case DRM_THREAD:
			if (t->tid && r.addr != t->tid)
				return th_fail(t, err, "a record of thread %" PRIu64 " in the trace of thread %" PRIu64, r.addr,
					       t->tid);
			t->tid = r.addr;
			continue;
		case DRM_PID:
			if (t->pid && r.addr != t->pid)
				return th_fail(t, err, "pid %" PRIu64 " in a trace of pid %" PRIu64, r.addr, t->pid);
			t->pid = r.addr;
			continue;
		case DRM_THREAD_EXIT:
			if (r.addr != t->tid)
				return th_fail(t, err, "an exit of thread %" PRIu64 " in the trace of thread %" PRIu64, r.addr,
					       t->tid);
			t->exited = true;
			continue;
		case DRM_HEADER:
			return th_fail(t, err, "a second header record");
		case DRM_FOOTER:
			if (t->mi + 1 < t->nmembers)
				return th_fail(t, err, "the footer record before the last member");
			rc = th_read(t, &r, err);
			if (rc < 0)
				return -1;
			if (rc > 0)
				return th_fail(t, err, "a record after the footer");
			t->ended = true;
			return 0;
		case DRM_MARKER:
			rc = th_marker(t, &r, err);
			if (rc != 0)
				return rc;
			continue;
		case DRM_HARDWARE_PREFETCH:
			return th_fail(t, err, "a hardware prefetch record (added by a cache simulator, not by the program)");
		case DRM_INSTR_MAYBE_FETCH:
			return th_fail(t, err, "a maybe-fetched instruction (online traces only)");
		case DRM_INSTR_FLUSH:
		case DRM_INSTR_FLUSH_END:
		case DRM_DATA_FLUSH_END:
			return th_fail(t, err, "an ARM cache flush record (type %u) is not supported", r.type);
		default:
			if (r.type >= DRM_PREFETCH_FIRST_NT && r.type <= DRM_PREFETCH_LAST_NT)
				return th_ref(t, &r, GEV_LOAD, ev, err);
			return th_fail(t, err, "unknown record type %u (this vtsim knows 0..%d)", r.type, DRM_TYPE_COUNT - 1);
		}
	}
}

/* Read a thread's records up to its first timestamp (see drmem_open). */
static int th_prime(struct dm_thread *t, char *err)
{
	struct dm_rec r;
	struct guest_event ev;
	int rc = th_read(t, &r, err);

	if (rc < 0)
		return -1;
	if (rc == 0) {
		snprintf(err, TRACE_ERR_LEN, "%.200s: member %.40s is empty (no header record)", t->path,
			 member_name(t, 0));
		return -1;
	}
	if (r.type != DRM_HEADER)
		return th_fail(t, err, "record type %u where the header record (type %d) starts a trace", r.type,
			       DRM_HEADER);
	if (r.addr < DRM_VERSION_MIN || r.addr > DRM_VERSION_MAX)
		return th_fail(t, err, "unsupported drmemtrace version %" PRIu64 " (this vtsim reads versions %d..%d)",
			       r.addr, DRM_VERSION_MIN, DRM_VERSION_MAX);
	t->version = (unsigned)r.addr;
	rc = th_next(t, &ev, err);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return th_fail(t, err, "the trace ends before its first timestamp");
	/* rc == 1 cannot happen: th_ref and th_fetch refuse events before priming. */
	if (!t->have_filetype)
		return th_fail(t, err, "no file-type marker before the first timestamp");
	if (!t->tid || t->tid > UINT32_MAX || !t->pid || t->pid > UINT32_MAX)
		return th_fail(t, err, "thread %" PRIu64 " of pid %" PRIu64 ": no thread or pid record before the first "
				       "timestamp, or one outside 1..2^32-1",
			       t->tid, t->pid);
	t->first_ts = t->ts;
	t->primed = true;
	return 0;
}

static int member_cmp(const void *a, const void *b)
{
	const zip_uint64_t *x = a, *y = b;
	return (*x > *y) - (*x < *y);
}

/* Open one archive: its members, then its header (th_prime). */
static int th_open(struct drmem *d, struct dm_thread *t, const char *path, char *err)
{
	int zerr = 0;
	struct stat sb;

	t->d = d;
	if (!(t->path = strdup(path)) || !(t->buf = malloc(DM_BUF))) {
		snprintf(err, TRACE_ERR_LEN, "%.200s: out of memory", path);
		return -1;
	}
	if (stat(path, &sb) < 0) {
		snprintf(err, TRACE_ERR_LEN, "%.200s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	d->file_bytes += (uint64_t)sb.st_size;
	t->za = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
	if (!t->za) {
		zip_error_t ze;
		zip_error_init_with_code(&ze, zerr);
		snprintf(err, TRACE_ERR_LEN, "%.200s: not a readable zip archive: %.200s", path, zip_error_strerror(&ze));
		zip_error_fini(&ze);
		return -1;
	}
	zip_int64_t n = zip_get_num_entries(t->za, 0);
	if (n <= 0) {
		snprintf(err, TRACE_ERR_LEN, "%.200s: an empty zip archive (a drmemtrace trace holds chunk.NNNN members)",
			 path);
		return -1;
	}
	/* members[k] = (chunk number << 32) | index while sorting. */
	if (!(t->members = calloc((size_t)n, sizeof(*t->members)))) {
		snprintf(err, TRACE_ERR_LEN, "%.200s: out of memory", path);
		return -1;
	}
	for (zip_int64_t i = 0; i < n; i++) {
		const char *name = zip_get_name(t->za, (zip_uint64_t)i, 0);
		char *end;
		unsigned long num;
		zip_stat_t st;

		if (!name || strncmp(name, "chunk.", 6) || name[6] < '0' || name[6] > '9' ||
		    ((num = strtoul(name + 6, &end, 10)), *end) || num >= (unsigned long)n || i > UINT32_MAX) {
			snprintf(err, TRACE_ERR_LEN,
				 "%.200s: unexpected member '%.60s' (a drmemtrace trace holds chunk.0000 .. chunk.%04" PRId64
				 " only)",
				 path, name ? name : "?", n - 1);
			return -1;
		}
		if (zip_stat_index(t->za, (zip_uint64_t)i, 0, &st) < 0 || !(st.valid & ZIP_STAT_SIZE)) {
			snprintf(err, TRACE_ERR_LEN, "%.200s: member %.60s: %.200s", path, name, zip_strerror(t->za));
			return -1;
		}
		d->total_bytes += st.size;
		t->members[i] = ((zip_uint64_t)num << 32) | (zip_uint64_t)i;
	}
	qsort(t->members, (size_t)n, sizeof(*t->members), member_cmp);
	for (zip_int64_t i = 0; i < n; i++) {
		if ((t->members[i] >> 32) != (zip_uint64_t)i) {
			snprintf(err, TRACE_ERR_LEN, "%.200s: member chunk.%04" PRId64 " is missing or given twice", path, i);
			return -1;
		}
		t->members[i] &= UINT32_MAX;
	}
	t->nmembers = (size_t)n;
	return th_prime(t, err);
}

static void th_free(struct dm_thread *t)
{
	th_close_member(t);
	if (t->za)
		zip_discard(t->za);
	t->za = NULL;
	free(t->members);
	free(t->buf);
	free(t->path);
	t->members = NULL;
	t->buf = NULL;
	t->path = NULL;
}

/* ---- the trace: files, threads, processes ------------------------------- */

/* "a/b" in new memory, or NULL. */
static char *join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", a, b);
	return p;
}

static bool has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n > m && !strcmp(s + n - m, suf);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The NAME.trace.zip files of dir, sorted: count, 0 if none, -1. */
static long list_dir(const char *dir, char ***out, char *err)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0, cap = 0;

	*out = NULL;
	if (!dp) {
		snprintf(err, TRACE_ERR_LEN, "%.200s: cannot open directory: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(dp))) {
		struct stat sb;
		char *p;

		if (de->d_name[0] == '.' || !has_suffix(de->d_name, ".trace.zip"))
			continue;
		if (!(p = join(dir, de->d_name)))
			goto oom;
		if (stat(p, &sb) < 0 || !S_ISREG(sb.st_mode)) {
			free(p);
			continue;
		}
		if (n == cap) {
			char **nv = realloc(v, sizeof(*v) * (cap = cap ? 2 * cap : 16));
			if (!nv) {
				free(p);
				goto oom;
			}
			v = nv;
		}
		v[n++] = p;
	}
	closedir(dp);
	if (n)
		qsort(v, n, sizeof(*v), str_cmp);
	*out = v;
	return (long)n;
oom:
	closedir(dp);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	snprintf(err, TRACE_ERR_LEN, "%.200s: out of memory", dir);
	return -1;
}

/* The files of a trace directory: dir itself, else dir/trace. */
static long find_files(const char *dir, char ***out, char *err)
{
	long n = list_dir(dir, out, err);
	char *sub;

	if (n != 0)
		return n;
	free(*out);
	if (!(sub = join(dir, "trace"))) {
		snprintf(err, TRACE_ERR_LEN, "%.200s: out of memory", dir);
		return -1;
	}
	struct stat sb;
	n = stat(sub, &sb) == 0 && S_ISDIR(sb.st_mode) ? list_dir(sub, out, err) : 0;
	free(sub);
	return n;
}

int drmem_sniff_file(const char *path)
{
	unsigned char m[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, m, sizeof(m));
	close(fd);
	return n == 4 && m[0] == 'P' && m[1] == 'K' && m[2] == 3 && m[3] == 4;
}

int drmem_is_dir(const char *path)
{
	struct stat sb;
	char err[TRACE_ERR_LEN], **files;

	if (stat(path, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return 0;
	long n = find_files(path, &files, err);
	for (long i = 0; i < n; i++)
		free(files[i]);
	free(files);
	return n > 0;
}

/* Sort order of threads: first timestamp, the main thread first, tid. */
static int thread_cmp(const void *a, const void *b)
{
	const struct dm_thread *x = a, *y = b;
	if (x->first_ts != y->first_ts)
		return x->first_ts < y->first_ts ? -1 : 1;
	bool xm = x->tid == x->pid, ym = y->tid == y->pid;
	if (xm != ym)
		return xm ? -1 : 1;
	return (x->tid > y->tid) - (x->tid < y->tid);
}

/* Group the sorted threads into processes (see Notes). */
static int build_procs(struct drmem *d, char *err)
{
	if (!(d->pr = calloc(d->nth, sizeof(*d->pr)))) {
		snprintf(err, TRACE_ERR_LEN, "%.200s: out of memory", d->path);
		return -1;
	}
	for (size_t i = 0; i < d->nth; i++) {
		struct dm_thread *t = &d->th[i];
		for (size_t j = 0; j < i; j++)
			if (d->th[j].tid == t->tid) {
				snprintf(err, TRACE_ERR_LEN, "%.200s: thread %" PRIu64 " is also traced in %.200s", t->path,
					 t->tid, d->th[j].path);
				return -1;
			}
		uint32_t gpid = (uint32_t)(d->how == DRMEM_AS_PROCESSES ? t->tid : t->pid);
		size_t p;
		for (p = 0; p < d->npr && d->pr[p].pid != gpid; p++)
			;
		if (p == d->npr) {
			d->pr[p] = (struct dm_proc){.d = d, .pid = gpid, .first_ts = t->first_ts};
			if (!(d->pr[p].thr = calloc(d->nth, sizeof(size_t)))) {
				snprintf(err, TRACE_ERR_LEN, "%.200s: out of memory", d->path);
				return -1;
			}
			d->npr++;
		}
		d->pr[p].thr[d->pr[p].nthr++] = i;
		t->proc = p;
	}
	d->next_create = 1;
	return 0;
}

struct drmem *drmem_open(const char *path, enum drmem_threads how, char *err)
{
	struct drmem *d = calloc(1, sizeof(*d));
	char **files = NULL;
	long n = 0;
	struct stat sb;

	if (!d || !(d->path = strdup(path))) {
		snprintf(err, TRACE_ERR_LEN, "%.200s: out of memory", path);
		free(d);
		return NULL;
	}
	d->how = how;
	if (stat(path, &sb) < 0) {
		snprintf(err, TRACE_ERR_LEN, "%.200s: cannot open: %s", path, strerror(errno));
		goto fail;
	}
	if (S_ISDIR(sb.st_mode)) {
		d->is_dir = true;
		n = find_files(path, &files, err);
		if (n < 0)
			goto fail;
		if (n == 0) {
			snprintf(err, TRACE_ERR_LEN, "%.200s: no NAME.trace.zip files in the directory or in its trace/",
				 path);
			goto fail;
		}
	} else {
		if (!(files = malloc(sizeof(*files))) || !(files[0] = strdup(path))) {
			snprintf(err, TRACE_ERR_LEN, "%.200s: out of memory", path);
			goto fail;
		}
		n = 1;
	}
	if (!(d->th = calloc((size_t)n, sizeof(*d->th)))) {
		snprintf(err, TRACE_ERR_LEN, "%.200s: out of memory", path);
		goto fail;
	}
	for (long i = 0; i < n; i++) {
		d->nth++;
		if (th_open(d, &d->th[i], files[i], err) < 0)
			goto fail;
	}
	qsort(d->th, d->nth, sizeof(*d->th), thread_cmp);
	if (build_procs(d, err) < 0)
		goto fail;
	for (long i = 0; i < n; i++)
		free(files[i]);
	free(files);
	return d;
fail:
	if (files)
		for (long i = 0; i < n; i++)
			free(files[i]);
	free(files);
	drmem_close(d);
	return NULL;
}

void drmem_close(struct drmem *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nth; i++)
		th_free(&d->th[i]);
	for (size_t i = 0; i < d->npr; i++)
		free(d->pr[i].thr);
	free(d->th);
	free(d->pr);
	free(d->path);
	free(d);
}

uint32_t drmem_root(const struct drmem *d)
{
	return d->pr[0].pid;
}

size_t drmem_threads(const struct drmem *d)
{
	return d->nth;
}

size_t drmem_processes(const struct drmem *d)
{
	return d->npr;
}

uint64_t drmem_total_bytes(const struct drmem *d)
{
	return d->total_bytes;
}

uint64_t drmem_bytes_read(const struct drmem *d)
{
	return d->bytes_read;
}

uint64_t drmem_file_bytes(const struct drmem *d)
{
	return d->file_bytes;
}

const char *drmem_format(const struct drmem *d)
{
	return d->is_dir ? "drmemtrace set" : "drmemtrace";
}

unsigned drmem_version(const struct drmem *d)
{
	return d->th[0].version;
}

void drmem_where(const struct drmem *d, char *buf, size_t len)
{
	const struct dm_thread *t = d->last;
	if (!t)
		snprintf(buf, len, "%s", d->path);
	else
		snprintf(buf, len, "%s: member %s, byte %" PRIu64, t->path, member_name(t, t->rec_member), t->rec_off);
}

/* ---- process streams ----------------------------------------------------- */

/* The thread of p whose next segment is the oldest (ties: sort order). */
static struct dm_thread *pick(struct dm_proc *p)
{
	struct dm_thread *best = NULL;
	for (size_t i = 0; i < p->nthr; i++) {
		struct dm_thread *t = &p->d->th[p->thr[i]];
		if (!t->ended && (!best || t->ts < best->ts))
			best = t;
	}
	return best;
}

static int emit_create(struct dm_proc *p, uint32_t child, uint32_t arg, struct guest_event *ev)
{
	*ev = (struct guest_event){.kind = GEV_PROC_CREATE, .gva = p->pid, .pid = child, .arg = arg};
	return 1;
}

static int proc_next(void *ctx, struct guest_event *ev, char *err)
{
	struct dm_proc *p = ctx;
	struct drmem *d = p->d;
	bool root = p == &d->pr[0];

	for (;;) {
		if (!p->cur) {
			struct dm_thread *t = pick(p);
			if (root && d->next_create < d->npr && (!t || d->pr[d->next_create].first_ts <= t->ts))
				return emit_create(p, d->pr[d->next_create++].pid, 0, ev);
			if (!t) {
				if (p->last_exited && !p->exit_sent) {
					p->exit_sent = true;
					*ev = (struct guest_event){.kind = GEV_PROC_EXIT, .pid = p->pid};
					return 1;
				}
				return 0;
			}
			p->cur = t;
			if (!t->started) {
				t->started = true;
				if (t != &d->th[p->thr[0]])
					return emit_create(p, (uint32_t)t->tid, 1, ev);
			}
		}
		int r = th_next(p->cur, ev, err);
		if (r == 1) {
			ev->len = 0;
			ev->pid = p->pid;
			ev->arg = 0;
			return 1;
		}
		if (r < 0)
			return -1;
		if (r == 0)
			p->last_exited = p->cur->exited;
		p->cur = NULL; /* a timestamp or the thread's end: choose again */
	}
}

int drmem_open_proc(struct drmem *d, uint32_t pid, struct frontend *fe, char *err)
{
	for (size_t i = 0; i < d->npr; i++) {
		struct dm_proc *p = &d->pr[i];
		if (p->pid != pid)
			continue;
		if (p->opened) {
			snprintf(err, TRACE_ERR_LEN, "%.200s: process %u created twice", d->path, pid);
			return -1;
		}
		p->opened = true;
		fe->next = proc_next;
		fe->ctx = p;
		fe->batch = NULL;
		return 0;
	}
	return 1;
}

void drmem_close_proc(struct drmem *d, uint32_t pid)
{
	for (size_t i = 0; i < d->npr; i++) {
		struct dm_proc *p = &d->pr[i];
		if (p->pid != pid || p->closed)
			continue;
		p->closed = true;
		for (size_t k = 0; k < p->nthr; k++) {
			struct dm_thread *t = &d->th[p->thr[k]];
			th_close_member(t);
		}
	}
}

static int ps_open(void *ctx, uint32_t pid, struct frontend *fe, char *err)
{
	return drmem_open_proc(ctx, pid, fe, err);
}

static void ps_close(void *ctx, uint32_t pid)
{
	drmem_close_proc(ctx, pid);
}

void drmem_proc_source(struct drmem *d, struct proc_source *ps)
{
	ps->root = d->pr[0].pid;
	ps->open = ps_open;
	ps->close = ps_close;
	ps->ctx = d;
}
