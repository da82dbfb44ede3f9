/*
 * Valgrind lackey log parser.
 *
 * Notes:
 *  - Handles the log of `valgrind --tool=lackey --trace-mem=yes
 *    [--trace-syscalls=yes] --log-file=F prog` (checked against valgrind
 *    3.19 on amd64):
 *      "I  04020a80,3"  fetch       " L 1ffefffd38,8"  load
 *      " S addr,size"   store       " M addr,size"     modify
 *    with a hex address (1 to 16 digits) and a decimal size (1..4096);
 *    "==PID== ...", "--PID-- ..." and "**PID** ..." valgrind messages
 *    (skipped; the first ==PID== gives the pid of memory events); blank
 *    lines (skipped); and the system call lines of --trace-syscalls:
 *      SYSCALL[pid,tid](nr) name ( args )[sync] --> Success(0x..)
 *      SYSCALL[pid,tid](nr) name ( args ) --> [pre-success] Success(0x..)
 *      SYSCALL[pid,tid](nr) name ( args ) --> [async] ...
 *      SYSCALL[pid,tid](nr) ... [async] --> Success(0x..)      (completion,
 *          matched per (pid,tid); other threads' lines may come between)
 *      SYSCALL[...] sys_clone ( ... )   clone(fork): process P created child C
 *       --> [pre-success] Success(0x..)        (result on its own line)
 *  - Events: sys_mmap/sys_mmap2 success -> GEV_MMAP (gva = result, len =
 *    arg 2, arg = prot, arg 3, | GEV_MMAP_ANON when the flags, arg 4, hold
 *    MAP_ANONYMOUS 0x20); sys_munmap -> GEV_MUNMAP (arg 1, arg 2);
 *    sys_brk -> GEV_BRK (gva = returned break, also for brk(0) queries);
 *    sys_mremap -> GEV_MUNMAP(old, oldlen) then GEV_MMAP(result, newlen)
 *    with prot taken as PROT_READ|PROT_WRITE (lackey does not log it);
 *    sys_clone/sys_fork/sys_vfork -> GEV_PROC_CREATE (pid = child id from
 *    the result, arg = 1 when the clone flags hold CLONE_VM without
 *    CLONE_VFORK, gva = parent pid; posix_spawn's CLONE_VM|CLONE_VFORK
 *    makes a process, which valgrind runs as a fork: "clone(fork)");
 *    sys_wait4/sys_waitid -> GEV_WAIT at the call line, whatever the result
 *    (valgrind often prints no result for a wait that a SIGCHLD
 *    interrupted): gva = the pid waited for (wait4 pid > 0, waitid P_PID
 *    id), else 0 for any child, arg = 1 with WNOHANG; exit_group -> GEV_PROC_EXIT; exit -> GEV_PROC_EXIT when it ends
 *    the last thread counted for that process (threads counted from the
 *    process's first appearance through CLONE_VM clones). Failure(...)
 *    gives no event; a zero result (the child's side of fork) gives none.
 *    Syscall events carry the SYSCALL line's pid; memory events the pid
 *    of the first ==PID== line (0 before it).
 *  - In multithreaded programs valgrind can print a memory record on the
 *    same line, right after a syscall result ("... Success(0x17d8) I
 *    0494fb42,3"); that record is parsed as well. Anything else after a
 *    result is an error.
 *  - Errors (sticky): "FILE:LINE: what: '<first 40 bytes of the line>'"
 *    for an unknown record type, bad hex, a missing comma, size 0 or over
 *    4096, trailing text, a line over LACKEY_MAX_LINE bytes, a malformed
 *    SYSCALL line for one of the calls above; source errors (truncated or
 *    corrupt zstd, read errors) as "FILE:LINE: what".
 *  - Leaves out: everything about other syscalls (skipped as long as the
 *    SYSCALL[pid,tid](nr) header is well formed), clone3 (valgrind 3.19
 *    does not implement it; glibc falls back to clone), mprotect (a prot
 *    change is not an event kind), per-process pids for memory records of
 *    several processes sharing one log file (use --log-file=F.%p), and
 *    '\r' line ends. Pending tables are fixed (LACKEY_PENDING,
 *    LACKEY_PROCS): more pending tracked syscalls than that is an error;
 *    more live processes just stops thread counting for the newcomers.
 */
#include "trace/lackey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINUX_MAP_ANONYMOUS 0x20u /* uapi asm-generic/mman-common.h */
#define CLONE_VM_FLAG 0x100u
#define CLONE_VFORK_FLAG 0x4000u
#define WNOHANG_FLAG 1u
#define P_PID_TYPE 1u
#define PROT_RW 3u

/* Hex digit value + 1; 0 for a non-hex byte. */
static const uint8_t hexv[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5,
	['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
	['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
	['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

/* Set up a parser; see lackey.h. */
int lackey_init(struct lackey *lk, struct trace_src *src, char *err)
{
	memset(lk, 0, sizeof(*lk));
	lk->src = src;
	/* A plain text of known size smaller than the buffer needs no more. */
	lk->cap = LACKEY_BUF;
	if (!src->is_zstd && src->file_size && src->file_size < LACKEY_BUF)
		lk->cap = (size_t)src->file_size;
	lk->buf = malloc(lk->cap + 2);
	if (!lk->buf) {
		snprintf(err, TRACE_ERR_LEN, "%s: out of memory", src->name);
		return -1;
	}
	lk->buf[0] = '\n';
	return 0;
}

/* Free the parser's buffer; see lackey.h. */
void lackey_fini(struct lackey *lk)
{
	free(lk->buf);
	lk->buf = NULL;
}

/* Record a sticky error about line [p, e) of line number lk->line. */
static int line_error(struct lackey *lk, const char *p, const char *e, const char *what)
{
	char ex[41];
	size_t n = (size_t)(e - p), i;

	if (n > 40)
		n = 40;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		ex[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	ex[n] = '\0';
	snprintf(lk->errmsg, TRACE_ERR_LEN, "%s:%llu: %s: '%s'", lk->src->name,
		 (unsigned long long)lk->line, what, ex);
	lk->failed = 1;
	return -1;
}

static struct guest_event *push(struct lackey *lk)
{
	struct guest_event *ev = &lk->q[(lk->qhead + lk->qlen) % LACKEY_QUEUE];

	lk->qlen++;
	memset(ev, 0, sizeof(*ev));
	return ev;
}

/*
 * Parse a memory record [p, e) strictly. Returns NULL and fills *ev, or a
 * description of what is wrong.
 */
static const char *parse_mem(const char *p, const char *e, struct guest_event *ev)
{
	uint64_t addr = 0, size = 0;
	const char *s;
	unsigned n;

	if (e - p >= 3 && p[0] == 'I' && p[1] == ' ' && p[2] == ' ')
		ev->kind = GEV_FETCH;
	else if (e - p >= 3 && p[0] == ' ' && p[2] == ' ' && p[1] == 'L')
		ev->kind = GEV_LOAD;
	else if (e - p >= 3 && p[0] == ' ' && p[2] == ' ' && p[1] == 'S')
		ev->kind = GEV_STORE;
	else if (e - p >= 3 && p[0] == ' ' && p[2] == ' ' && p[1] == 'M')
		ev->kind = GEV_MODIFY;
	else
		return "unknown record type";
	s = p + 3;
	for (n = 0; s < e && hexv[(unsigned char)*s]; s++, n++)
		addr = addr << 4 | (uint64_t)(hexv[(unsigned char)*s] - 1);
	if (n == 0)
		return "bad hex address";
	if (n > 16)
		return "address over 16 hex digits";
	if (s == e || *s != ',') {
		if (s < e && ((*s >= 'g' && *s <= 'z') || (*s >= 'G' && *s <= 'Z')))
			return "bad hex address";
		return "missing comma after address";
	}
	s++;
	for (n = 0; s < e && *s >= '0' && *s <= '9'; s++, n++) {
		if (n < 8)
			size = size * 10 + (uint64_t)(*s - '0');
	}
	if (n == 0)
		return "bad decimal size";
	if (size == 0 || size > 4096 || n > 8)
		return "size out of range 1..4096";
	if (s != e)
		return "trailing garbage";
	ev->gva = addr;
	ev->size = (uint32_t)size;
	return NULL;
}

/* Decimal number (no sign) at *s; 0 if none or over 64 bits. */
static int get_dec(const char **sp, const char *e, uint64_t *v)
{
	const char *s = *sp;
	uint64_t x = 0;

	if (s >= e || *s < '0' || *s > '9')
		return 0;
	for (; s < e && *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (x > (UINT64_MAX - d) / 10)
			return 0;
		x = x * 10 + d;
	}
	*sp = s;
	*v = x;
	return 1;
}

/* Hex digits (no prefix) at *s; 0 if none or over 16 digits. */
static int get_hex(const char **sp, const char *e, uint64_t *v)
{
	const char *s = *sp;
	uint64_t x = 0;
	unsigned n = 0;

	for (; s < e && hexv[(unsigned char)*s]; s++, n++)
		x = x << 4 | (uint64_t)(hexv[(unsigned char)*s] - 1);
	if (n == 0 || n > 16)
		return 0;
	*sp = s;
	*v = x;
	return 1;
}

/* Decimal, or hex after "0x"; a leading '-' negates (two's complement). */
static int get_num(const char **sp, const char *e, int hex, uint64_t *v)
{
	const char *s = *sp;
	int neg = 0;

	if (s < e && *s == '-') {
		neg = 1;
		s++;
	}
	if (e - s > 2 && s[0] == '0' && s[1] == 'x') {
		s += 2;
		hex = 1;
	}
	if (!(hex ? get_hex(&s, e, v) : get_dec(&s, e, v)))
		return 0;
	if (neg)
		*v = (uint64_t)0 - *v;
	*sp = s;
	return 1;
}

static int starts(const char *s, const char *e, const char *lit)
{
	size_t n = strlen(lit);

	return (size_t)(e - s) >= n && memcmp(s, lit, n) == 0;
}

static const char *find(const char *s, const char *e, const char *lit)
{
	size_t n = strlen(lit);

	for (; (size_t)(e - s) >= n; s++) {
		if (*s == lit[0] && memcmp(s, lit, n) == 0)
			return s;
	}
	return NULL;
}

static enum lackey_call call_of(const char *name, size_t n)
{
	static const struct {
		const char *name;
		enum lackey_call call;
	} tab[] = {
		{ "sys_mmap", LK_MMAP },       { "sys_mmap2", LK_MMAP },
		{ "sys_munmap", LK_MUNMAP },   { "sys_brk", LK_BRK },
		{ "sys_mremap", LK_MREMAP },   { "sys_clone", LK_CLONE },
		{ "sys_fork", LK_FORK },       { "sys_vfork", LK_FORK },
		{ "exit", LK_EXIT },           { "sys_exit", LK_EXIT },
		{ "exit_group", LK_EXIT_GROUP }, { "sys_exit_group", LK_EXIT_GROUP },
		{ "sys_wait4", LK_WAIT4 },     { "sys_waitid", LK_WAITID },
	};
	size_t i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (strlen(tab[i].name) == n && memcmp(tab[i].name, name, n) == 0)
			return tab[i].call;
	}
	return LK_OTHER;
}

static unsigned min_args(enum lackey_call c)
{
	switch (c) {
	case LK_MMAP:
	case LK_MREMAP:
	case LK_WAIT4:
		return 3;
	case LK_WAITID:
		return 4;
	case LK_MUNMAP:
		return 2;
	case LK_BRK:
	case LK_CLONE:
		return 1;
	default:
		return 0;
	}
}

static struct lackey_proc *proc_get(struct lackey *lk, uint32_t pid)
{
	struct lackey_proc *free_slot = NULL;
	unsigned i;

	for (i = 0; i < LACKEY_PROCS; i++) {
		if (lk->procs[i].threads && lk->procs[i].pid == pid)
			return &lk->procs[i];
		if (!lk->procs[i].threads && !free_slot)
			free_slot = &lk->procs[i];
	}
	if (free_slot) {
		free_slot->pid = pid;
		free_slot->threads = 1;
	}
	return free_slot;
}

/* Turn a completed call into events. */
static void finish_call(struct lackey *lk, const struct lackey_call_rec *c, int ok, uint64_t val)
{
	struct guest_event *ev;
	struct lackey_proc *pr;

	if (!ok)
		return;
	switch (c->call) {
	case LK_MMAP:
		ev = push(lk);
		ev->kind = GEV_MMAP;
		ev->gva = val;
		ev->len = c->a[1];
		ev->arg = (uint32_t)c->a[2] | (c->a[3] & LINUX_MAP_ANONYMOUS ? GEV_MMAP_ANON : 0);
		ev->pid = c->pid;
		break;
	case LK_MUNMAP:
		ev = push(lk);
		ev->kind = GEV_MUNMAP;
		ev->gva = c->a[0];
		ev->len = c->a[1];
		ev->pid = c->pid;
		break;
	case LK_BRK:
		ev = push(lk);
		ev->kind = GEV_BRK;
		ev->gva = val;
		ev->pid = c->pid;
		break;
	case LK_MREMAP:
		ev = push(lk);
		ev->kind = GEV_MUNMAP;
		ev->gva = c->a[0];
		ev->len = c->a[1];
		ev->pid = c->pid;
		ev = push(lk);
		ev->kind = GEV_MMAP;
		ev->gva = val;
		ev->len = c->a[2];
		ev->arg = PROT_RW;
		ev->pid = c->pid;
		break;
	case LK_CLONE:
	case LK_FORK:
		if (val == 0 || val > UINT32_MAX)
			break;
		ev = push(lk);
		ev->kind = GEV_PROC_CREATE;
		ev->pid = (uint32_t)val;
		ev->gva = c->pid;
		if (c->call == LK_CLONE && (c->a[0] & CLONE_VM_FLAG) && !(c->a[0] & CLONE_VFORK_FLAG)) {
			ev->arg = 1;
			pr = proc_get(lk, c->pid);
			if (pr)
				pr->threads++;
		} else {
			pr = proc_get(lk, (uint32_t)val);
			if (pr)
				pr->threads = 1;
		}
		break;
	case LK_EXIT:
		/* exit of the last thread counted ends the process */
		pr = proc_get(lk, c->pid);
		if (!pr || --pr->threads > 0)
			break;
		/* fall through */
	case LK_EXIT_GROUP:
		pr = proc_get(lk, c->pid);
		if (pr)
			pr->threads = 0;
		ev = push(lk);
		ev->kind = GEV_PROC_EXIT;
		ev->pid = c->pid;
		break;
	default:
		break;
	}
}

/* A wait4 (pid, status, options, rusage) or waitid (idtype, id, infop,
 * options, rusage) call: GEV_WAIT. Pids are printed as unsigned 32-bit
 * numbers (-1 = 4294967295). */
static void wait_event(struct lackey *lk, const struct lackey_call_rec *c)
{
	struct guest_event *ev = push(lk);
	int32_t target;
	uint64_t options;

	ev->kind = GEV_WAIT;
	ev->pid = c->pid;
	if (c->call == LK_WAITID) {
		target = c->a[0] == P_PID_TYPE ? (int32_t)(uint32_t)c->a[1] : 0;
		options = c->a[3];
	} else {
		target = (int32_t)(uint32_t)c->a[0];
		options = c->a[2];
	}
	ev->gva = target > 0 ? (uint64_t)target : 0;
	ev->arg = (options & WNOHANG_FLAG) ? 1 : 0;
}

/*
 * Parse "Success(0x..)" or "Failure(0x..)" at *sp (two-value results
 * "0x..:0x.." keep the first value).
 */
static int get_result(const char **sp, const char *e, int *ok, uint64_t *val)
{
	const char *s = *sp;

	if (starts(s, e, "Success(0x"))
		*ok = 1;
	else if (starts(s, e, "Failure(0x"))
		*ok = 0;
	else
		return 0;
	s += 10;
	if (!get_hex(&s, e, val))
		return 0;
	if (s < e && *s == ':') {
		uint64_t v2;

		s++;
		if (!get_num(&s, e, 1, &v2))
			return 0;
	}
	if (s >= e || *s != ')')
		return 0;
	*sp = s + 1;
	return 1;
}

static struct lackey_call_rec *pending_find(struct lackey *lk, uint32_t pid, uint32_t tid)
{
	unsigned i;

	for (i = 0; i < LACKEY_PENDING; i++) {
		struct lackey_call_rec *c = &lk->pending[i];

		if (c->call != LK_NONE && c->pid == pid && c->tid == tid)
			return c;
	}
	return NULL;
}

/*
 * The text after " --> " for call c ([s, e) of line [p, e)): "[async] ...",
 * or an optional "[pre-success] "/"[pre-fail] " and a result, perhaps
 * followed by a glued memory record.
 */
static int after_arrow(struct lackey *lk, const struct lackey_call_rec *c, const char *s,
		       const char *p, const char *e)
{
	struct guest_event rec;
	const char *why;
	uint64_t val;
	int ok;

	if (starts(s, e, "[async] ...")) {
		struct lackey_call_rec *slot;
		unsigned i;

		if (c->call == LK_OTHER || c->call == LK_NONE)
			return 0;
		slot = pending_find(lk, c->pid, c->tid);
		for (i = 0; !slot && i < LACKEY_PENDING; i++) {
			if (lk->pending[i].call == LK_NONE)
				slot = &lk->pending[i];
		}
		if (!slot)
			return line_error(lk, p, e, "too many pending system calls");
		*slot = *c;
		return 0;
	}
	if (starts(s, e, "[pre-success] "))
		s += 14;
	else if (starts(s, e, "[pre-fail] "))
		s += 11;
	if (!get_result(&s, e, &ok, &val)) {
		if (c->call == LK_OTHER || c->call == LK_NONE)
			return 0;
		return line_error(lk, p, e, "malformed system call result");
	}
	finish_call(lk, c, ok, val);
	if (s < e && *s == ' ')
		s++;
	if (s == e)
		return 0;
	memset(&rec, 0, sizeof(rec));
	why = parse_mem(s, e, &rec);
	if (why)
		return line_error(lk, p, e, "trailing garbage after system call result");
	rec.pid = lk->log_pid;
	*push(lk) = rec;
	return 0;
}

/* A "SYSCALL[pid,tid](nr) ..." line [p, e). */
static int parse_syscall(struct lackey *lk, const char *p, const char *e)
{
	struct lackey_call_rec c;
	const char *s = p + 8, *name, *arrow;
	uint64_t pid, tid, nr;
	unsigned na = 0;

	if (!get_dec(&s, e, &pid) || pid > UINT32_MAX || !starts(s, e, ","))
		return line_error(lk, p, e, "malformed SYSCALL header");
	s++;
	if (!get_dec(&s, e, &tid) || tid > UINT32_MAX || !starts(s, e, "]("))
		return line_error(lk, p, e, "malformed SYSCALL header");
	s += 2;
	if (!get_dec(&s, e, &nr) || nr > UINT32_MAX || !starts(s, e, ") "))
		return line_error(lk, p, e, "malformed SYSCALL header");
	s += 2;
	memset(&c, 0, sizeof(c));
	c.pid = (uint32_t)pid;
	c.tid = (uint32_t)tid;
	c.nr = (uint32_t)nr;

	if (starts(s, e, "... [async] --> ")) {
		struct lackey_call_rec *pc = pending_find(lk, c.pid, c.tid);

		if (pc && pc->nr == c.nr) {
			c = *pc;
			pc->call = LK_NONE;
		} else {
			if (pc)
				pc->call = LK_NONE; /* stale */
			c.call = LK_OTHER;
		}
		return after_arrow(lk, &c, s + 16, p, e);
	}

	name = s;
	while (s < e && *s != ' ' && *s != '(')
		s++;
	c.call = call_of(name, (size_t)(s - name));
	if (c.call != LK_OTHER) {
		while (s < e && *s == ' ')
			s++;
		if (s == e || *s != '(')
			return line_error(lk, p, e, "malformed system call arguments");
		s++;
		for (;;) {
			uint64_t v;

			while (s < e && *s == ' ')
				s++;
			if (s < e && *s == ')')
				break;
			if (!get_num(&s, e, c.call == LK_CLONE && na == 0, &v))
				return line_error(lk, p, e, "malformed system call arguments");
			if (na < 4)
				c.a[na] = v;
			na++;
			while (s < e && *s == ' ')
				s++;
			if (s < e && *s == ',') {
				s++;
				continue;
			}
			if (s < e && *s == ')')
				break;
			return line_error(lk, p, e, "malformed system call arguments");
		}
		s++;
		if (na < min_args(c.call))
			return line_error(lk, p, e, "too few system call arguments");
		if (c.call == LK_WAIT4 || c.call == LK_WAITID) {
			wait_event(lk, &c);
			c.call = LK_OTHER; /* its result changes nothing */
		}
	}
	arrow = find(s, e, " --> ");
	if (!arrow) {
		lk->awaiting = c; /* the result follows on a " --> " line */
		return 0;
	}
	return after_arrow(lk, &c, arrow + 5, p, e);
}

/* "==PID==", "--PID--" or "**PID**" at the start of [p, e). */
static int parse_message(struct lackey *lk, const char *p, const char *e)
{
	const char *s = p + 2;
	uint64_t pid;

	if (!get_dec(&s, e, &pid) || e - s < 2 || s[0] != p[0] || s[1] != p[0])
		return line_error(lk, p, e, "malformed valgrind message line");
	if (p[0] == '=' && !lk->have_log_pid) {
		lk->have_log_pid = 1;
		lk->log_pid = pid > UINT32_MAX ? 0 : (uint32_t)pid;
	}
	return 0;
}

/* One complete line [p, e) outside the fast path. */
static int parse_line(struct lackey *lk, const char *p, const char *e)
{
	struct guest_event ev;
	const char *why;

	if (p == e)
		return 0;
	if (starts(p, e, " --> ")) {
		struct lackey_call_rec c = lk->awaiting;

		lk->awaiting.call = LK_NONE;
		if (c.call == LK_NONE)
			c.call = LK_OTHER;
		return after_arrow(lk, &c, p + 5, p, e);
	}
	if (p[0] == 'I' || p[0] == ' ') {
		memset(&ev, 0, sizeof(ev));
		why = parse_mem(p, e, &ev);
		if (why)
			return line_error(lk, p, e, why);
		ev.pid = lk->log_pid;
		*push(lk) = ev;
		return 0;
	}
	if ((p[0] == '=' || p[0] == '-' || p[0] == '*') && e - p >= 2 && p[1] == p[0])
		return parse_message(lk, p, e);
	if (starts(p, e, "SYSCALL["))
		return parse_syscall(lk, p, e);
	return line_error(lk, p, e, "unknown record type");
}

/* Move the unparsed tail to the front and read more. */
static int refill(struct lackey *lk)
{
	char what[TRACE_SRC_WHAT_LEN];
	long n;

	if (lk->pos) {
		memmove(lk->buf, lk->buf + lk->pos, lk->end - lk->pos);
		lk->end -= lk->pos;
		lk->pos = 0;
	}
	if (lk->end == lk->cap && lk->cap < LACKEY_BUF) {
		/* the file grew past the size it had when opened */
		char *nb = realloc(lk->buf, LACKEY_BUF + 2);

		if (!nb) {
			snprintf(lk->errmsg, TRACE_ERR_LEN, "%s: out of memory", lk->src->name);
			lk->failed = 1;
			return -1;
		}
		lk->buf = nb;
		lk->cap = LACKEY_BUF;
	}
	n = trace_src_read(lk->src, lk->buf + lk->end, lk->cap - lk->end, what);
	if (n < 0) {
		snprintf(lk->errmsg, TRACE_ERR_LEN, "%s:%llu: %s", lk->src->name,
			 (unsigned long long)lk->line + 1, what);
		lk->failed = 1;
		return -1;
	}
	if (n == 0)
		lk->eof = 1;
	lk->end += (size_t)n;
	lk->buf[lk->end] = '\n';
	return 0;
}

/*
 * Consume one line (or read more text). Returns 1 to go on, 0 at the end
 * of the trace, -1 on error.
 */
static int slow_line(struct lackey *lk)
{
	char *p = lk->buf + lk->pos;
	char *nl = memchr(p + lk->scanned, '\n', lk->end - lk->pos - lk->scanned);

	if (!nl) {
		lk->scanned = lk->end - lk->pos; /* small reads: do not rescan */
		if (lk->end - lk->pos > LACKEY_MAX_LINE) {
			lk->line++;
			return line_error(lk, p, lk->buf + lk->end, "line too long");
		}
		if (!lk->eof)
			return refill(lk) < 0 ? -1 : 1;
		if (lk->end == lk->pos)
			return 0;
		/* A last line without a newline: supply one. */
		nl = lk->buf + lk->end;
		lk->end++;
		lk->buf[lk->end] = '\n';
	}
	lk->line++;
	lk->pos = (size_t)(nl + 1 - lk->buf);
	lk->scanned = 0;
	if ((size_t)(nl - p) > LACKEY_MAX_LINE)
		return line_error(lk, p, nl, "line too long");
	return parse_line(lk, p, nl) < 0 ? -1 : 1;
}

/* Next event; see lackey.h. */
int lackey_next(struct lackey *lk, struct guest_event *ev, char *err)
{
	for (;;) {
		const char *p, *s;
		uint64_t addr;
		unsigned n, t, size;
		enum guest_event_kind kind;
		int r;

		if (lk->failed) {
			memcpy(err, lk->errmsg, TRACE_ERR_LEN);
			return -1;
		}
		if (lk->qlen) {
			*ev = lk->q[lk->qhead];
			lk->qhead = (lk->qhead + 1) % LACKEY_QUEUE;
			lk->qlen--;
			return 1;
		}

		/* Fast path: one well-formed memory record; buf[end] is '\n'. */
		p = lk->buf + lk->pos;
		if (p[0] == 'I') {
			if (p[1] != ' ' || p[2] != ' ')
				goto slow;
			kind = GEV_FETCH;
		} else if (p[0] == ' ') {
			if (p[1] == 'L')
				kind = GEV_LOAD;
			else if (p[1] == 'S')
				kind = GEV_STORE;
			else if (p[1] == 'M')
				kind = GEV_MODIFY;
			else
				goto slow;
			if (p[2] != ' ')
				goto slow;
		} else {
			goto slow;
		}
		s = p + 3;
		addr = 0;
		for (n = 0; (t = hexv[(unsigned char)s[n]]) != 0; n++)
			addr = addr << 4 | (t - 1);
		if (n == 0 || n > 16 || s[n] != ',')
			goto slow;
		s += n + 1;
		size = 0;
		for (n = 0; (unsigned)(s[n] - '0') <= 9 && n < 5; n++)
			size = size * 10 + (unsigned)(s[n] - '0');
		s += n;
		if (*s != '\n' || s >= lk->buf + lk->end || size - 1 >= 4096)
			goto slow;
		lk->pos = (size_t)(s + 1 - lk->buf);
		lk->scanned = 0;
		lk->line++;
		ev->kind = kind;
		ev->size = size;
		ev->gva = addr;
		ev->len = 0;
		ev->pid = lk->log_pid;
		ev->arg = 0;
		return 1;
slow:
		r = slow_line(lk);
		if (r < 0) {
			memcpy(err, lk->errmsg, TRACE_ERR_LEN);
			return -1;
		}
		if (r == 0)
			return 0;
	}
}
