/*
 * Trace sets: a directory of per-process lackey logs as one multi-process
 * front end.
 *
 * Notes:
 *  - What valgrind 3.19 (amd64) writes with --trace-children=yes and
 *    --log-file=DIR/trace.%p, found by experiment (traces/README.md shows
 *    the commands):
 *     * Every valgrind instance opens its log with O_TRUNC and starts it
 *       with a preamble: "==P== <tool banner>", "==P== Command: ...",
 *       "==P== Parent PID: Q", "==P== " (P the pid, Q its parent then).
 *     * fork/clone(fork) (and vfork, posix_spawn's CLONE_VM|CLONE_VFORK,
 *       which valgrind runs as a fork): the parent's log gets "SYSCALL[P,1]
 *       ... clone(fork): process P created child C" and the result line
 *       " --> [pre-success] Success(0xC)". In the child, valgrind reopens
 *       the log under the child's pid (the file name is expanded again),
 *       prints a full preamble (with the parent's Command: line and
 *       "Parent PID: P") and then the child's side of the call,
 *       " --> [pre-success] Success(0x0)": the first record line of a
 *       forked child's log is a " --> " result. Threads (CLONE_VM) log in
 *       their process's file, with no "created child" text.
 *     * execve: the SYSCALL line of a successful execve has no result;
 *       the new program runs under a new valgrind instance with the same
 *       pid, which reopens the same file name with O_TRUNC: the log of the
 *       process before the exec is lost, the execve line with it, and the
 *       file holds only the new program, from its first instruction (a
 *       fresh start, no " --> " line first), with "Command:" the new one.
 *       There is no other marker.
 *     * With --log-file=DIR/trace.%p.%n, %n is a counter of each valgrind
 *       instance: the first process writes PREFIX.P.1; a forked child
 *       reopens with the next number of its parent's instance (P.2, and
 *       P.3 for a grandchild forked before any exec); every exec starts a
 *       new instance at 1. So a forked child that execs keeps its pre-exec
 *       log (C.2, ending with the execve line) and writes the new program
 *       to C.1; only a second exec in one process (or an exec of the first
 *       process) still overwrites a log.
 *  - What the reader makes of it: names PREFIX.PID or PREFIX.PID.N, with an
 *    optional .zst suffix (content decides compression), one PREFIX for
 *    all files, %n used by all files or by none; dotfiles are ignored, any
 *    other name is an error. A process's logs are read in descending N (the
 *    fork continuation first, then the exec'd program); only the first may
 *    be a fork continuation. The root is the one process whose preamble's
 *    parent is not in the set; every process must descend from it through
 *    the "Parent PID" links.
 *  - Events the reader adds to a process's stream, where the logs lost
 *    them: GEV_EXEC before every log that starts fresh, except the root's
 *    first (a non-root process starts as a fork copy, so a fresh log means
 *    its program was replaced); and for children whose fork was lost in an
 *    overwritten log (the preamble names the process as parent, but none
 *    of its logs says "created child C"; found by scanning its logs when it
 *    starts), GEV_PROC_CREATE of each, in pid order, then a blocking
 *    GEV_WAIT for each, before that GEV_EXEC (which the root then gets
 *    too): the shell pattern `a; exec b`. A child forked and not waited
 *    for (`a & exec b`) therefore runs before, not beside, b.
 *  - Errors, one line each: unreadable directory or file, bad names, a log
 *    without preamble pid or parent pid, or of another pid than its name,
 *    no root or two roots, a process outside the root's tree; at run time
 *    a child created with no log ("no log for process C") and a process
 *    created twice.
 *  - Streams are opened when the guest creates the process and closed at
 *    its end: memory is one lackey reader (1 MiB line buffer plus the zstd
 *    window) per live process, not per file.
 *  - Leaves out: sets of several runs in one directory, pid reuse within a
 *    set, and children reparented before their exec (the preamble then
 *    names init: "two roots").
 */
#include "trace/traceset.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "trace/source.h"
#include "trace/trace.h"
#include "util/u64map.h"

/* Decoded bytes read at most to find a log's preamble and first record. */
#define PREAMBLE_MAX (64u * 1024u)
/* Buffer of the scan for "created child" lines. */
#define SCAN_BUF (1024u * 1024u)
#define SCAN_KEY "created child "

struct ts_file {
	char *name;        /* within the directory */
	char *path;        /* dir/name */
	uint32_t pid, seq; /* from the name; seq 0 without %n */
	uint32_t ppid;     /* "Parent PID:" of the preamble */
	bool fork_cont;    /* the first record line is a " --> " result */
	bool zstd;
	uint64_t size;
};

enum { TS_UNOPENED, TS_OPEN, TS_CLOSED };

struct ts_proc {
	struct traceset *ts;
	uint32_t pid, ppid;
	size_t first, nseg;    /* its logs: ts->files[first, first + nseg), in reading order */
	uint32_t *kids;        /* processes whose preamble names it as parent, ascending */
	size_t nkids;
	int state;
	/* the stream */
	size_t seg;            /* log being read, or to be opened next */
	bool seg_prepared;     /* the added events before log seg are queued */
	struct trace_reader *tr;
	uint32_t *orphans;     /* children created by a lost part of its logs */
	size_t norphans;
	size_t orphans_at;     /* before which log they are created */
	struct guest_event *pend; /* added events waiting to be handed out */
	size_t npend, ipend;
	size_t wfile;          /* for traceset_where: file and line when no reader is open */
	uint64_t wline;
};

struct traceset {
	char *dir;
	struct ts_file *files;
	size_t nfiles;
	struct ts_proc *procs;
	size_t nprocs;
	struct u64map by_pid; /* pid -> index into procs */
	uint32_t root;
	uint64_t total_bytes, done_bytes;
	bool any_zstd;
	const struct ts_proc *last; /* handed out the last event */
};

/* ---- directory listing ------------------------------------------------ */

struct name_list {
	char **v;
	size_t n, cap;
};

static void names_free(struct name_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names of the entries of dir not starting with '.', sorted. */
static int list_dir(const char *dir, struct name_list *l, char *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	memset(l, 0, sizeof(*l));
	if (!d) {
		snprintf(err, TRACE_ERR_LEN, "%s: cannot open directory: %s", dir, strerror(errno));
		return -1;
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (l->n == l->cap) {
			size_t cap = l->cap ? 2 * l->cap : 16;
			char **v = realloc(l->v, cap * sizeof(*v));

			if (!v)
				goto oom;
			l->v = v;
			l->cap = cap;
		}
		l->v[l->n] = strdup(de->d_name);
		if (!l->v[l->n])
			goto oom;
		l->n++;
		errno = 0;
	}
	if (errno) {
		snprintf(err, TRACE_ERR_LEN, "%s: cannot read directory: %s", dir, strerror(errno));
		closedir(d);
		names_free(l);
		return -1;
	}
	closedir(d);
	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), cmp_str);
	return 0;
oom:
	snprintf(err, TRACE_ERR_LEN, "%s: out of memory", dir);
	closedir(d);
	names_free(l);
	return -1;
}

/* dir/name (no second '/' when dir ends with one). */
static char *join_path(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = malloc(a + b + 2);

	if (p) {
		memcpy(p, dir, a);
		if (a == 0 || dir[a - 1] != '/')
			p[a++] = '/';
		memcpy(p + a, name, b + 1);
	}
	return p;
}

/* 1 if path names a directory; see traceset.h. */
int traceset_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- names and preambles ---------------------------------------------- */

/* The trailing ".DIGITS" component of name[0, *len): its value, and *len
 * cut before it. 0 if there is none (or it does not fit 32 bits). */
static int take_number(const char *name, size_t *len, uint32_t *v)
{
	size_t e = *len, s = e;
	uint64_t x = 0;

	while (s > 0 && name[s - 1] >= '0' && name[s - 1] <= '9')
		s--;
	if (s == e || s < 2 || name[s - 1] != '.' || e - s > 10)
		return 0;
	for (size_t i = s; i < e; i++)
		x = x * 10 + (uint64_t)(name[i] - '0');
	if (x == 0 || x > UINT32_MAX)
		return 0;
	*v = (uint32_t)x;
	*len = s - 1;
	return 1;
}

/* Valgrind message line "==P== ...", "--P-- ..." or "**P** ...": 1 and
 * *pid, *rest (the text after the marker and one space, may be e). */
static int message_line(const char *p, const char *e, uint64_t *pid, const char **rest)
{
	const char *s = p + 2;
	uint64_t x = 0;

	if (e - p < 4 || (p[0] != '=' && p[0] != '-' && p[0] != '*') || p[1] != p[0])
		return 0;
	if (s == e || *s < '0' || *s > '9')
		return 0;
	for (; s < e && *s >= '0' && *s <= '9'; s++) {
		if (x > UINT32_MAX)
			return 0;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	if (e - s < 2 || s[0] != p[0] || s[1] != p[0])
		return 0;
	s += 2;
	if (s < e && *s == ' ')
		s++;
	*pid = x;
	*rest = s;
	return 1;
}

/* Read f's preamble: pid, parent pid, and whether the log continues a fork. */
static int read_preamble(struct ts_file *f, char *err)
{
	char what[TRACE_SRC_WHAT_LEN];
	struct trace_src src;
	char *buf;
	size_t len = 0;
	bool have_pid = false, have_ppid = false;
	uint64_t pid = 0;

	memset(&src, 0, sizeof(src));
	src.fd = -1;
	if (trace_src_open_file(&src, f->path, err) < 0) {
		trace_src_close(&src);
		return -1;
	}
	f->zstd = src.is_zstd;
	buf = malloc(PREAMBLE_MAX);
	if (!buf) {
		snprintf(err, TRACE_ERR_LEN, "%s: out of memory", f->path);
		trace_src_close(&src);
		return -1;
	}
	while (len < PREAMBLE_MAX) {
		long n = trace_src_read(&src, buf + len, PREAMBLE_MAX - len, what);

		if (n < 0) {
			snprintf(err, TRACE_ERR_LEN, "%s: %s", f->path, what);
			free(buf);
			trace_src_close(&src);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	trace_src_close(&src);

	f->fork_cont = false;
	for (const char *p = buf, *end = buf + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end, *rest;
		uint64_t mpid;

		if (!nl && len == PREAMBLE_MAX)
			break; /* a line cut by the buffer */
		if (message_line(p, e, &mpid, &rest)) {
			if (p[0] == '=' && !have_pid) {
				have_pid = true;
				pid = mpid;
			}
			if (p[0] == '=' && mpid == pid && (size_t)(e - rest) > 12 &&
			    memcmp(rest, "Parent PID: ", 12) == 0 && !have_ppid) {
				uint64_t q = 0;
				const char *s = rest + 12;

				for (; s < e && *s >= '0' && *s <= '9' && q <= UINT32_MAX; s++)
					q = q * 10 + (uint64_t)(*s - '0');
				if (s > rest + 12 && q <= UINT32_MAX) {
					have_ppid = true;
					f->ppid = (uint32_t)q;
				}
			}
		} else if (e > p) {
			f->fork_cont = (size_t)(e - p) >= 5 && memcmp(p, " --> ", 5) == 0;
			break;
		}
		p = e + 1;
	}
	free(buf);
	if (!have_pid) {
		snprintf(err, TRACE_ERR_LEN, "%s: no valgrind preamble ('==PID==' lines): not a lackey log", f->path);
		return -1;
	}
	if (pid != f->pid) {
		snprintf(err, TRACE_ERR_LEN, "%s: the log of process %llu, not of process %u as its name says", f->path,
			 (unsigned long long)pid, f->pid);
		return -1;
	}
	if (!have_ppid) {
		snprintf(err, TRACE_ERR_LEN, "%s: no '==%u== Parent PID:' line in the valgrind preamble", f->path,
			 f->pid);
		return -1;
	}
	return 0;
}

/* ---- opening ---------------------------------------------------------- */

static int cmp_file(const void *a, const void *b)
{
	const struct ts_file *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq > y->seq ? -1 : 1; /* descending %n: the fork continuation first */
	return strcmp(x->name, y->name);
}

static struct ts_proc *proc_of(const struct traceset *ts, uint32_t pid)
{
	uint64_t *v = u64map_get(&ts->by_pid, pid);

	return v ? &ts->procs[*v] : NULL;
}

/* Parse the names into ts->files. */
static int parse_names(struct traceset *ts, struct name_list *l, char *err)
{
	size_t two = 0, plen = 0;
	const char *prefix = NULL;

	ts->files = calloc(l->n ? l->n : 1, sizeof(*ts->files));
	if (!ts->files) {
		snprintf(err, TRACE_ERR_LEN, "%s: out of memory", ts->dir);
		return -1;
	}
	/* %n in use when every name has two trailing numbers. */
	for (size_t i = 0; i < l->n; i++) {
		size_t len = strlen(l->v[i]);
		uint32_t a, b;

		if (len > 4 && strcmp(l->v[i] + len - 4, ".zst") == 0)
			len -= 4;
		if (take_number(l->v[i], &len, &a) && take_number(l->v[i], &len, &b))
			two++;
	}
	for (size_t i = 0; i < l->n; i++) {
		struct ts_file *f = &ts->files[i];
		const char *name = l->v[i];
		size_t len = strlen(name);
		uint32_t seq = 0, pid = 0;

		if (len > 4 && strcmp(name + len - 4, ".zst") == 0)
			len -= 4;
		if (!take_number(name, &len, two == l->n ? &seq : &pid) ||
		    (two == l->n && !take_number(name, &len, &pid))) {
			snprintf(err, TRACE_ERR_LEN,
				 "%s: '%s' is not a per-process log name (PREFIX.PID or PREFIX.PID.N, optionally .zst, "
				 "as --log-file=PREFIX.%%p[.%%n] writes)", ts->dir, name);
			return -1;
		}
		if (!prefix) {
			prefix = name;
			plen = len;
		} else if (len != plen || memcmp(name, prefix, len) != 0) {
			snprintf(err, TRACE_ERR_LEN, "%s: '%s' and '%s' have different prefixes (one run per directory)",
				 ts->dir, prefix, name);
			return -1;
		}
		f->pid = pid;
		f->seq = seq;
		f->name = l->v[i];
		l->v[i] = NULL;
		ts->nfiles++;
		f->path = join_path(ts->dir, f->name);
		if (!f->path) {
			snprintf(err, TRACE_ERR_LEN, "%s: out of memory", ts->dir);
			return -1;
		}
	}
	return 0;
}

/* Group the sorted files into processes; find parents, kids and the root. */
static int build_procs(struct traceset *ts, char *err)
{
	size_t i, n = 0, roots = 0;

	for (i = 0; i < ts->nfiles; i++)
		if (i == 0 || ts->files[i].pid != ts->files[i - 1].pid)
			n++;
	ts->procs = calloc(n ? n : 1, sizeof(*ts->procs));
	if (!ts->procs || u64map_init(&ts->by_pid, 2 * n + 16) < 0) {
		snprintf(err, TRACE_ERR_LEN, "%s: out of memory", ts->dir);
		return -1;
	}
	for (i = 0; i < ts->nfiles; i++) {
		const struct ts_file *f = &ts->files[i];
		struct ts_proc *pr;

		if (i > 0 && f->pid == ts->files[i - 1].pid) {
			const struct ts_file *g = &ts->files[i - 1];

			if (f->seq == g->seq) {
				snprintf(err, TRACE_ERR_LEN, "%s: '%s' and '%s' are the same log", ts->dir, g->name,
					 f->name);
				return -1;
			}
			if (f->fork_cont) {
				snprintf(err, TRACE_ERR_LEN,
					 "%s: continues a fork, but process %u has a log numbered higher (%s)", f->path,
					 f->pid, g->name);
				return -1;
			}
			ts->procs[ts->nprocs - 1].nseg++;
			continue;
		}
		pr = &ts->procs[ts->nprocs];
		pr->ts = ts;
		pr->pid = f->pid;
		pr->ppid = f->ppid;
		pr->first = i;
		pr->nseg = 1;
		if (u64map_put(&ts->by_pid, pr->pid, ts->nprocs) < 0) {
			snprintf(err, TRACE_ERR_LEN, "%s: out of memory", ts->dir);
			return -1;
		}
		ts->nprocs++;
	}
	for (i = 0; i < ts->nprocs; i++) {
		struct ts_proc *pr = &ts->procs[i], *parent = proc_of(ts, pr->ppid);

		if (!parent || parent == pr) {
			if (roots++) {
				const struct ts_proc *r = proc_of(ts, ts->root);

				snprintf(err, TRACE_ERR_LEN,
					 "%s: two root processes: %u (parent %u) and %u (parent %u) both have their "
					 "parent outside the set", ts->dir, r->pid, r->ppid, pr->pid, pr->ppid);
				return -1;
			}
			ts->root = pr->pid;
			continue;
		}
		uint32_t *k = realloc(parent->kids, (parent->nkids + 1) * sizeof(*k));

		if (!k) {
			snprintf(err, TRACE_ERR_LEN, "%s: out of memory", ts->dir);
			return -1;
		}
		parent->kids = k;
		k[parent->nkids++] = pr->pid;
	}
	if (!roots) {
		snprintf(err, TRACE_ERR_LEN, "%s: no root process (every log's parent is in the set)", ts->dir);
		return -1;
	}
	/* Every process descends from the root: a breadth-first walk. */
	uint32_t *queue = malloc(ts->nprocs * sizeof(*queue));
	size_t head = 0, tail = 0;

	if (!queue) {
		snprintf(err, TRACE_ERR_LEN, "%s: out of memory", ts->dir);
		return -1;
	}
	queue[tail++] = ts->root;
	while (head < tail) {
		const struct ts_proc *pr = proc_of(ts, queue[head++]);

		for (i = 0; i < pr->nkids && tail < ts->nprocs; i++)
			queue[tail++] = pr->kids[i];
	}
	free(queue);
	if (tail != ts->nprocs) {
		for (i = 0; i < ts->nprocs; i++) {
			const struct ts_proc *pr = &ts->procs[i];
			const struct ts_proc *p = pr;
			size_t hops = 0;

			while (p && p->pid != ts->root && hops++ <= ts->nprocs)
				p = proc_of(ts, p->ppid);
			if (!p || p->pid != ts->root) {
				snprintf(err, TRACE_ERR_LEN,
					 "%s: process %u (parent %u) does not descend from the root process %u",
					 ts->files[pr->first].path, pr->pid, pr->ppid, ts->root);
				return -1;
			}
		}
	}
	return 0;
}

/* Open a trace set; see traceset.h. */
struct traceset *traceset_open(const char *dir, char *err)
{
	struct traceset *ts = calloc(1, sizeof(*ts));
	struct name_list l;

	if (!ts || !(ts->dir = strdup(dir))) {
		free(ts);
		snprintf(err, TRACE_ERR_LEN, "%s: out of memory", dir);
		return NULL;
	}
	if (list_dir(dir, &l, err) < 0) {
		traceset_close(ts);
		return NULL;
	}
	if (l.n == 0) {
		snprintf(err, TRACE_ERR_LEN, "%s: no logs in the directory (an empty trace set)", dir);
		goto fail;
	}
	if (parse_names(ts, &l, err) < 0)
		goto fail;
	names_free(&l);
	for (size_t i = 0; i < ts->nfiles; i++) {
		struct ts_file *f = &ts->files[i];
		struct stat st;

		if (stat(f->path, &st) < 0) {
			snprintf(err, TRACE_ERR_LEN, "%s: cannot open: %s", f->path, strerror(errno));
			goto fail;
		}
		if (!S_ISREG(st.st_mode)) {
			snprintf(err, TRACE_ERR_LEN, "%s: not a regular file", f->path);
			goto fail;
		}
		f->size = (uint64_t)st.st_size;
		ts->total_bytes += f->size;
		if (read_preamble(f, err) < 0)
			goto fail;
		ts->any_zstd |= f->zstd;
	}
	qsort(ts->files, ts->nfiles, sizeof(*ts->files), cmp_file);
	if (build_procs(ts, err) < 0)
		goto fail;
	return ts;
fail:
	names_free(&l);
	traceset_close(ts);
	return NULL;
}

/* Close a set and every stream still open; NULL is allowed. */
void traceset_close(struct traceset *ts)
{
	if (!ts)
		return;
	for (size_t i = 0; i < ts->nprocs; i++) {
		struct ts_proc *pr = &ts->procs[i];

		trace_close(pr->tr);
		free(pr->kids);
		free(pr->orphans);
		free(pr->pend);
	}
	for (size_t i = 0; i < ts->nfiles; i++) {
		free(ts->files[i].name);
		free(ts->files[i].path);
	}
	if (ts->by_pid.slots)
		u64map_free(&ts->by_pid);
	free(ts->procs);
	free(ts->files);
	free(ts->dir);
	free(ts);
}

uint32_t traceset_root(const struct traceset *ts)
{
	return ts->root;
}

size_t traceset_processes(const struct traceset *ts)
{
	return ts->nprocs;
}

size_t traceset_files(const struct traceset *ts)
{
	return ts->nfiles;
}

uint64_t traceset_total_bytes(const struct traceset *ts)
{
	return ts->total_bytes;
}

/* Bytes consumed: logs finished plus the position of every open reader. */
uint64_t traceset_bytes_read(const struct traceset *ts)
{
	uint64_t n = ts->done_bytes;

	for (size_t i = 0; i < ts->nprocs; i++)
		if (ts->procs[i].tr)
			n += trace_bytes_read(ts->procs[i].tr);
	return n;
}

const char *traceset_format(const struct traceset *ts)
{
	return ts->any_zstd ? "lackey+zstd set" : "lackey set";
}

/* File and line of the last event handed out; see traceset.h. */
void traceset_where(const struct traceset *ts, char *buf, size_t len)
{
	const struct ts_proc *pr = ts->last;

	if (!pr) {
		snprintf(buf, len, "%s", ts->dir);
		return;
	}
	snprintf(buf, len, "%s:%llu", ts->files[pr->wfile].path,
		 (unsigned long long)(pr->tr ? trace_line(pr->tr) : pr->wline));
}

/* ---- per-process streams ---------------------------------------------- */

static int add_pid(uint32_t **v, size_t *n, uint32_t pid)
{
	uint32_t *w = realloc(*v, (*n + 1) * sizeof(*w));

	if (!w)
		return -1;
	w[(*n)++] = pid;
	*v = w;
	return 0;
}

/* Add to *found every pid of a "created child PID" text in the log at path. */
static int scan_children(const char *path, struct u64map *found, char *err)
{
	const size_t klen = sizeof(SCAN_KEY) - 1, carry = sizeof(SCAN_KEY) - 1 + 11;
	char what[TRACE_SRC_WHAT_LEN];
	struct trace_src src;
	char *buf;
	size_t keep = 0;
	int rc = -1;

	memset(&src, 0, sizeof(src));
	src.fd = -1;
	if (trace_src_open_file(&src, path, err) < 0) {
		trace_src_close(&src);
		return -1;
	}
	buf = malloc(SCAN_BUF);
	if (!buf) {
		snprintf(err, TRACE_ERR_LEN, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		long n = trace_src_read(&src, buf + keep, SCAN_BUF - keep, what);
		const char *p, *end;

		if (n < 0) {
			snprintf(err, TRACE_ERR_LEN, "%s: %s", path, what);
			goto out;
		}
		end = buf + keep + (size_t)n;
		for (p = buf; (size_t)(end - p) > klen;) {
			const char *q = memchr(p, 'c', (size_t)(end - p - klen));
			const char *d;
			uint64_t pid = 0;

			if (!q)
				break;
			p = q + 1;
			if (memcmp(q, SCAN_KEY, klen) != 0)
				continue;
			for (d = q + klen; d < end && *d >= '0' && *d <= '9' && d - q < (ptrdiff_t)(klen + 11); d++)
				pid = pid * 10 + (uint64_t)(*d - '0');
			if (d == end && n > 0)
				break; /* the number may go on: seen again after the carry */
			if (d > q + klen && pid <= UINT32_MAX && u64map_put(found, pid, 1) < 0) {
				snprintf(err, TRACE_ERR_LEN, "%s: out of memory", path);
				goto out;
			}
		}
		if (n == 0)
			break;
		keep = (size_t)(end - buf) < carry ? (size_t)(end - buf) : carry;
		memmove(buf, end - keep, keep);
	}
	rc = 0;
out:
	free(buf);
	trace_src_close(&src);
	return rc;
}

/* Children whose fork no log of pr shows: created where the logs were lost. */
static int find_orphans(struct traceset *ts, struct ts_proc *pr, char *err)
{
	struct u64map found;
	int rc = 0;

	pr->orphans_at = 0;
	for (size_t i = 0; i < pr->nseg; i++) {
		if (!ts->files[pr->first + i].fork_cont) {
			pr->orphans_at = i;
			break;
		}
	}
	if (pr->nkids == 0)
		return 0;
	if (u64map_init(&found, 64) < 0) {
		snprintf(err, TRACE_ERR_LEN, "%s: out of memory", ts->dir);
		return -1;
	}
	for (size_t i = 0; i < pr->nseg && rc == 0; i++)
		rc = scan_children(ts->files[pr->first + i].path, &found, err);
	for (size_t i = 0; i < pr->nkids && rc == 0; i++) {
		if (!u64map_get(&found, pr->kids[i]) && add_pid(&pr->orphans, &pr->norphans, pr->kids[i]) < 0) {
			snprintf(err, TRACE_ERR_LEN, "%s: out of memory", ts->dir);
			rc = -1;
		}
	}
	u64map_free(&found);
	return rc;
}

/* Queue the events the reader adds before log seg of pr. */
static int prepare_segment(struct ts_proc *pr)
{
	const struct traceset *ts = pr->ts;
	const struct ts_file *f = &ts->files[pr->first + pr->seg];
	bool orphans_here = pr->seg == pr->orphans_at && pr->norphans > 0;
	bool exec = !f->fork_cont && (pr->seg > 0 || pr->pid != ts->root || orphans_here);
	size_t n = (orphans_here ? 2 * pr->norphans : 0) + (exec ? 1 : 0);

	pr->npend = pr->ipend = 0;
	pr->wfile = pr->first + pr->seg;
	pr->wline = 0;
	if (n == 0)
		return 0;
	free(pr->pend);
	pr->pend = calloc(n, sizeof(*pr->pend));
	if (!pr->pend)
		return -1;
	if (orphans_here) {
		for (size_t i = 0; i < pr->norphans; i++) {
			struct guest_event *ev = &pr->pend[pr->npend++];

			ev->kind = GEV_PROC_CREATE;
			ev->pid = pr->orphans[i];
			ev->gva = pr->pid;
		}
		for (size_t i = 0; i < pr->norphans; i++) {
			struct guest_event *ev = &pr->pend[pr->npend++];

			ev->kind = GEV_WAIT;
			ev->pid = pr->pid;
			ev->gva = pr->orphans[i];
		}
	}
	if (exec) {
		struct guest_event *ev = &pr->pend[pr->npend++];

		ev->kind = GEV_EXEC;
		ev->pid = pr->pid;
	}
	return 0;
}

/* Close the reader of the log being read, keeping its position for messages. */
static void end_segment(struct ts_proc *pr)
{
	if (!pr->tr)
		return;
	pr->wline = trace_line(pr->tr);
	pr->ts->done_bytes += trace_bytes_read(pr->tr);
	trace_close(pr->tr);
	pr->tr = NULL;
}

/* Front-end callback of one process's stream. */
static int proc_next(void *ctx, struct guest_event *ev, char *err)
{
	struct ts_proc *pr = ctx;
	struct traceset *ts = pr->ts;

	for (;;) {
		if (pr->ipend < pr->npend) {
			*ev = pr->pend[pr->ipend++];
			ts->last = pr;
			return 1;
		}
		if (!pr->tr) {
			if (pr->seg == pr->nseg)
				return 0;
			if (!pr->seg_prepared) {
				if (prepare_segment(pr) < 0) {
					snprintf(err, TRACE_ERR_LEN, "%s: out of memory", ts->dir);
					return -1;
				}
				pr->seg_prepared = true;
				continue;
			}
			pr->tr = trace_open(ts->files[pr->first + pr->seg].path, err);
			if (!pr->tr)
				return -1;
			continue;
		}
		int r = trace_next(pr->tr, ev, err);

		if (r != 0) {
			ts->last = pr;
			return r;
		}
		end_segment(pr);
		pr->seg++;
		pr->seg_prepared = false;
	}
}

/* Open the stream of a process being created; see traceset.h. */
int traceset_open_proc(struct traceset *ts, uint32_t pid, struct frontend *fe, char *err)
{
	struct ts_proc *pr = proc_of(ts, pid);
	char where[TRACE_ERR_LEN];

	traceset_where(ts, where, sizeof(where));
	if (!pr) {
		snprintf(err, TRACE_ERR_LEN, "%.200s: no log for process %u, created at %.200s", ts->dir, pid, where);
		return -1;
	}
	if (pr->state != TS_UNOPENED) {
		snprintf(err, TRACE_ERR_LEN, "%.200s: process %u is created twice (again at %.200s)", ts->dir, pid,
			 where);
		return -1;
	}
	if (find_orphans(ts, pr, err) < 0)
		return -1;
	pr->state = TS_OPEN;
	pr->seg = 0;
	pr->seg_prepared = false;
	pr->wfile = pr->first;
	fe->next = proc_next;
	fe->ctx = pr;
	fe->batch = NULL;
	return 0;
}

/* The guest is done with pid's stream; see traceset.h. */
void traceset_close_proc(struct traceset *ts, uint32_t pid)
{
	struct ts_proc *pr = proc_of(ts, pid);

	if (!pr || pr->state != TS_OPEN)
		return;
	end_segment(pr);
	pr->state = TS_CLOSED;
	free(pr->pend);
	pr->pend = NULL;
	pr->npend = pr->ipend = 0;
}

static int ps_open(void *ctx, uint32_t pid, struct frontend *fe, char *err)
{
	return traceset_open_proc(ctx, pid, fe, err);
}

static void ps_close(void *ctx, uint32_t pid)
{
	traceset_close_proc(ctx, pid);
}

/* The set as a proc_source; see traceset.h. */
void traceset_proc_source(struct traceset *ts, struct proc_source *ps)
{
	ps->root = ts->root;
	ps->open = ps_open;
	ps->close = ps_close;
	ps->ctx = ts;
}

/* ---- checksum --------------------------------------------------------- */

/* XXH3-64 of a set as stored; see traceset.h. */
int traceset_checksum(const char *dir, char out[17], char *err)
{
	enum { BUFSZ = 1 << 20 };
	struct name_list l;
	XXH3_state_t *st = NULL;
	unsigned char *buf = NULL;
	int rc = -1;

	if (list_dir(dir, &l, err) < 0)
		return -1;
	st = XXH3_createState();
	buf = malloc(BUFSZ);
	if (!st || !buf || XXH3_64bits_reset(st) == XXH_ERROR) {
		snprintf(err, TRACE_ERR_LEN, "%s: out of memory", dir);
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		char *path = join_path(dir, l.v[i]);
		unsigned char size_le[8];
		struct stat sb;
		FILE *f;

		if (!path) {
			snprintf(err, TRACE_ERR_LEN, "%s: out of memory", dir);
			goto out;
		}
		f = fopen(path, "rb");
		if (!f || fstat(fileno(f), &sb) < 0) {
			snprintf(err, TRACE_ERR_LEN, "%s: cannot open: %s", path, strerror(errno));
			if (f)
				fclose(f);
			free(path);
			goto out;
		}
		if (!S_ISREG(sb.st_mode)) {
			snprintf(err, TRACE_ERR_LEN, "%s: not a regular file", path);
			fclose(f);
			free(path);
			goto out;
		}
		for (int b = 0; b < 8; b++)
			size_le[b] = (unsigned char)((uint64_t)sb.st_size >> (8 * b));
		XXH3_64bits_update(st, l.v[i], strlen(l.v[i]) + 1);
		XXH3_64bits_update(st, size_le, sizeof(size_le));
		for (;;) {
			size_t n = fread(buf, 1, BUFSZ, f);

			XXH3_64bits_update(st, buf, n);
			if (n < BUFSZ)
				break;
		}
		if (ferror(f)) {
			snprintf(err, TRACE_ERR_LEN, "%s: read error", path);
			fclose(f);
			free(path);
			goto out;
		}
		fclose(f);
		free(path);
	}
	snprintf(out, 17, "%016llx", (unsigned long long)XXH3_64bits_digest(st));
	rc = 0;
out:
	free(buf);
	XXH3_freeState(st);
	names_free(&l);
	return rc;
}
