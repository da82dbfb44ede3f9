/*
 * Valgrind lackey log parser (internal to src/trace; the public interface
 * is trace.h). One reader holds one fixed line buffer and small fixed
 * tables, whatever the size of the trace.
 */
#ifndef VTSIM_TRACE_LACKEY_H
#define VTSIM_TRACE_LACKEY_H

#include <stddef.h>
#include <stdint.h>

#include "trace/event.h"
#include "trace/source.h"
#include "trace/trace.h"

/* Longest accepted line, in bytes, without its newline. */
#define LACKEY_MAX_LINE (64u * 1024u)
/* Line buffer: decoded text is read into it in pieces this big at most. */
#define LACKEY_BUF (1024u * 1024u)
/* Events one line can produce (mremap gives two, plus a glued record). */
#define LACKEY_QUEUE 4
/* System calls waiting for their "[async] -->" completion line. */
#define LACKEY_PENDING 64
/* Processes whose thread count is tracked (to see the last thread exit). */
#define LACKEY_PROCS 64

/* The system calls that produce events; LK_OTHER for every other one. */
enum lackey_call {
	LK_NONE = 0,
	LK_OTHER,
	LK_MMAP,
	LK_MUNMAP,
	LK_BRK,
	LK_MREMAP,
	LK_CLONE,
	LK_FORK,
	LK_EXIT,
	LK_EXIT_GROUP,
	LK_WAIT4,       /* wait4 and waitid: an event at the call, whatever its result */
	LK_WAITID,
};

/* A system call seen on a SYSCALL line whose result has not come yet. */
struct lackey_call_rec {
	enum lackey_call call;  /* LK_NONE = free slot */
	uint32_t pid, tid, nr;
	uint64_t a[4];          /* first four arguments */
};

struct lackey_proc {
	uint32_t pid;
	uint32_t threads;       /* 0 = free slot */
};

struct lackey {
	struct trace_src *src;
	char *buf;              /* cap + 2 bytes: room for a final '\n' and a sentinel */
	size_t cap;             /* LACKEY_BUF, less for a small plain text */
	size_t pos, end;        /* unparsed text is buf[pos, end); buf[end] == '\n' */
	size_t scanned;         /* buf[pos, pos + scanned) is known to hold no '\n' */
	int eof;                /* the source is exhausted */
	uint64_t line;          /* lines consumed */
	uint32_t log_pid;       /* from the first ==PID== line, else 0 */
	int have_log_pid;
	struct guest_event q[LACKEY_QUEUE];
	unsigned qhead, qlen;
	struct lackey_call_rec pending[LACKEY_PENDING];
	struct lackey_call_rec awaiting; /* result expected on a " --> " line */
	struct lackey_proc procs[LACKEY_PROCS];
	int failed;             /* sticky: every later call repeats errmsg */
	char errmsg[TRACE_ERR_LEN];
};

/* Set up a parser over an open source; 0, or -1 with a message in err. */
int lackey_init(struct lackey *lk, struct trace_src *src, char *err);
/* Next event: 1, 0 at the end, -1 with "FILE:LINE: ..." in err. */
int lackey_next(struct lackey *lk, struct guest_event *ev, char *err);
/* Free the parser's buffer (not the source). */
void lackey_fini(struct lackey *lk);

#endif
