/*
 * Guest OS model with processes, and trace sets: hand-made streams of two
 * or three processes (fork, exit, wait, exec, threads, preemption, PCIDs)
 * with every expected count worked out by hand from the model's rules in
 * src/guest/guest.c; hand-written trace sets for the reader's rules and
 * errors; the real logs in tests/data/traceset/ and the shipped trace set
 * traces/pipeline.d, counted with grep (see their READMEs).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#include "arch/paging.h"
#include "cpu/cpu.h"
#include "dev/dev.h"
#include "guest/guest.h"
#include "mem/mem.h"
#include "trace/event_array.h"
#include "trace/proc_source.h"
#include "trace/trace.h"
#include "trace/traceset.h"

/* ---- a process source over arrays of events ---------------------------- */

#define MAXP 12

struct tsrc {
	uint32_t pid[MAXP];
	struct event_array a[MAXP];
	int opened[MAXP], closed[MAXP];
	size_t n;
};

static void tsrc_add(struct tsrc *s, uint32_t pid, const struct guest_event *ev, size_t n)
{
	ck_assert_uint_lt(s->n, MAXP);
	s->pid[s->n] = pid;
	s->a[s->n] = event_array_of(ev, n);
	s->n++;
}

static int tsrc_open(void *ctx, uint32_t pid, struct frontend *fe, char *err)
{
	struct tsrc *s = ctx;
	(void)err;
	for (size_t i = 0; i < s->n; i++) {
		if (s->pid[i] == pid) {
			s->opened[i]++;
			fe->next = event_array_next;
			fe->ctx = &s->a[i];
			return 0;
		}
	}
	return 1; /* not traced */
}

static void tsrc_close(void *ctx, uint32_t pid)
{
	struct tsrc *s = ctx;
	for (size_t i = 0; i < s->n; i++)
		if (s->pid[i] == pid)
			s->closed[i]++;
}

static struct proc_source tsrc_source(struct tsrc *s)
{
	struct proc_source ps = {s->pid[0], tsrc_open, tsrc_close, s};
	return ps;
}

/* ---- a native machine ---------------------------------------------------- */

struct rig {
	struct sim_params p;
	struct counters ctr;
	struct phys_mem mem;
	struct cpu cpu;
	struct guest_os os;
};

static int mem_store(void *mem, uint64_t gpa, uint64_t val)
{
	return mem_write64(mem, gpa, val);
}

static void rig_init(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	params_defaults(&r->p);
	r->p.guest_hz = 0; /* no timer ticks unless a test wants them */
	/* No paging-structure caches or nested TLB: the hand-worked counts
	 * below test other behaviour (those caches: tests/check_pwc.c). */
	memset(r->p.pwc_entries, 0, sizeof(r->p.pwc_entries));
	r->p.ntlb_entries = 0;
}

/* Assemble the machine as the command does natively, and boot. */
static void rig_start(struct rig *r, const struct proc_source *ps, bool pcid, uint64_t slice)
{
	char err[CPU_ERR_LEN];
	ck_assert_int_eq(mem_init(&r->mem), 0);
	ck_assert_int_eq(cpu_init(&r->cpu, &r->p, &r->mem, &r->ctr, err), 0);
	ck_assert_int_eq(guest_init_procs(&r->os, &r->p, &r->ctr, ps, err), 0);
	guest_set_sched(&r->os, pcid, slice);
	cpu_attach_guest(&r->cpu, &guest_os_ops, &r->os);
	ck_assert_int_eq(guest_image(&r->os, mem_store, &r->mem), 0);
	cpu_set_paging(&r->cpu, r->os.cr0, GUEST_SWAPPER_PML4, r->os.cr4, r->os.efer);
	ck_assert_int_eq(guest_boot(&r->os, &r->cpu, 0), 0);
}

static void rig_destroy(struct rig *r)
{
	guest_destroy(&r->os);
	cpu_destroy(&r->cpu);
	mem_destroy(&r->mem);
}

#define C(r, id) ((r).ctr.v[id])

#define LD(pid, a) {GEV_LOAD, 8, (a), 0, (pid), 0}
#define ST(pid, a) {GEV_STORE, 8, (a), 0, (pid), 0}
#define FE(pid, a) {GEV_FETCH, 1, (a), 0, (pid), 0}
#define FORK(parent, child) {GEV_PROC_CREATE, 0, (parent), 0, (child), 0}
#define THREAD(parent, tid) {GEV_PROC_CREATE, 0, (parent), 0, (tid), 1}
#define WAITANY(pid) {GEV_WAIT, 0, 0, 0, (pid), 0}
#define WAITPID(pid, c) {GEV_WAIT, 0, (c), 0, (pid), 0}
#define NOHANG(pid) {GEV_WAIT, 0, 0, 0, (pid), 1}
#define EXEC(pid) {GEV_EXEC, 0, 0, 0, (pid), 0}
#define EXIT(pid) {GEV_PROC_EXIT, 0, 0, 0, (pid), 0}
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- whole runs on hand-made streams ------------------------------------ */

START_TEST(test_guest_fork_wait_exit)
{
	static const struct guest_event root[] = {LD(1, 0x401000), FORK(1, 2), WAITANY(1), LD(1, 0x401008), EXIT(1)};
	static const struct guest_event child[] = {ST(2, 0x601000), EXIT(2)};
	struct tsrc s = {0};
	struct rig r;
	tsrc_add(&s, 1, root, N(root));
	tsrc_add(&s, 2, child, N(child));
	struct proc_source ps = tsrc_source(&s);
	rig_init(&r);
	rig_start(&r, &ps, false, 0);
	ck_assert_int_eq(cpu_run_native(&r.cpu), RUN_DONE);
	/* Process 1: boot PML4; its load faults (PDPT, PD, PT, page); fork
	 * gives 2 a PML4 and queues it; the wait blocks (2 is alive): switch 1,
	 * CR3 load 2. Process 2's store faults (3 tables, page); its exit
	 * unmaps the page, frees PT, PD, PDPT, PML4 and loads swapper_pg_dir
	 * (CR3 load 3), reaps it for the waiting parent and wakes 1: switch 2,
	 * CR3 load 4. 1's second load hits its own tables (no fault); its exit
	 * frees 4 tables and loads swapper_pg_dir (CR3 load 5). */
	ck_assert_uint_eq(C(r, CTR_GUEST_CONTEXT_SWITCHES), 2);
	ck_assert_uint_eq(C(r, CTR_GUEST_CR3_LOADS), 5);
	ck_assert_uint_eq(C(r, CTR_GUEST_CR3_NOFLUSH), 0);
	ck_assert_uint_eq(C(r, CTR_TLB_FLUSH_CR3), 5);
	ck_assert_uint_eq(C(r, CTR_GUEST_PF), 2);
	ck_assert_uint_eq(C(r, CTR_GUEST_PT_PAGES), 8);
	ck_assert_uint_eq(C(r, CTR_GUEST_PT_PAGES_FREED), 8);
	ck_assert_uint_eq(C(r, CTR_GUEST_PT_PAGES_PEAK), 8);
	ck_assert_uint_eq(C(r, CTR_GUEST_PROC_PT_PAGES_PEAK), 4);
	ck_assert_uint_eq(C(r, CTR_GUEST_PAGES_MAPPED), 2);
	ck_assert_uint_eq(C(r, CTR_GUEST_PAGES_UNMAPPED), 2);
	ck_assert_uint_eq(C(r, CTR_GUEST_PROC_CREATE), 1);
	ck_assert_uint_eq(C(r, CTR_GUEST_PROC_EXIT), 2);
	ck_assert_uint_eq(C(r, CTR_GUEST_PROC_PEAK), 2);
	ck_assert_uint_eq(C(r, CTR_GUEST_SYSCALL_WAIT), 1);
	ck_assert_uint_eq(C(r, CTR_GUEST_WAIT_BLOCKED), 1);
	ck_assert_uint_eq(guest_frames_in_use(&r.os), 0);
	ck_assert_int_eq(guest_find(&r.os, 1)->state, PROC_REAPED);
	ck_assert_int_eq(guest_find(&r.os, 2)->state, PROC_REAPED);
	ck_assert_int_eq(s.opened[0], 1);
	ck_assert_int_eq(s.closed[0], 1);
	ck_assert_int_eq(s.opened[1], 1);
	ck_assert_int_eq(s.closed[1], 1);
	rig_destroy(&r);
}
END_TEST

START_TEST(test_guest_exec_replaces_the_address_space)
{
	static const struct guest_event root[] = {LD(1, 0x401000), EXEC(1), LD(1, 0x401000), EXIT(1)};
	struct tsrc s = {0};
	struct rig r;
	tsrc_add(&s, 1, root, N(root));
	struct proc_source ps = tsrc_source(&s);
	rig_init(&r);
	rig_start(&r, &ps, false, 0);
	ck_assert_int_eq(cpu_run_native(&r.cpu), RUN_DONE);
	/* Tables: PML4 + 3 before exec; exec allocates the new PML4 (5 in use at
	 * once: the peak), switches CR3 to it and frees the old 3 + PML4 with no
	 * flush; the load faults again (3 tables, page); exit frees 4. */
	ck_assert_uint_eq(C(r, CTR_GUEST_PROC_EXEC), 1);
	ck_assert_uint_eq(C(r, CTR_GUEST_PT_PAGES), 8);
	ck_assert_uint_eq(C(r, CTR_GUEST_PT_PAGES_FREED), 8);
	ck_assert_uint_eq(C(r, CTR_GUEST_PT_PAGES_PEAK), 5);
	ck_assert_uint_eq(C(r, CTR_GUEST_PROC_PT_PAGES_PEAK), 4);
	ck_assert_uint_eq(C(r, CTR_GUEST_PF), 2);
	ck_assert_uint_eq(C(r, CTR_GUEST_PAGES_UNMAPPED), 2);
	ck_assert_uint_eq(C(r, CTR_GUEST_INVLPG), 0);
	/* CR3: boot, exec's new PML4, swapper_pg_dir at exit. */
	ck_assert_uint_eq(C(r, CTR_GUEST_CR3_LOADS), 3);
	ck_assert_uint_eq(C(r, CTR_GUEST_CONTEXT_SWITCHES), 0);
	ck_assert_uint_eq(guest_frames_in_use(&r.os), 0);
	rig_destroy(&r);
}
END_TEST

START_TEST(test_guest_wait_rules)
{
	/* 1 forks 2 and 3 and waits for 3; 2 exits first and stays a zombie;
	 * 3's exit wakes 1, whose wait for any child then reaps 2 without
	 * blocking, and whose WNOHANG wait finds no child (ECHILD). */
	static const struct guest_event p1[] = {FORK(1, 2), FORK(1, 3), WAITPID(1, 3), WAITANY(1), NOHANG(1), EXIT(1)};
	static const struct guest_event p2[] = {LD(2, 0x401000), EXIT(2)};
	static const struct guest_event p3[] = {LD(3, 0x401000), EXIT(3)};
	struct tsrc s = {0};
	struct rig r;
	tsrc_add(&s, 1, p1, N(p1));
	tsrc_add(&s, 2, p2, N(p2));
	tsrc_add(&s, 3, p3, N(p3));
	struct proc_source ps = tsrc_source(&s);
	rig_init(&r);
	rig_start(&r, &ps, false, 0);
	ck_assert_int_eq(cpu_run_native(&r.cpu), RUN_DONE);
	/* Switches 1 -> 2 -> 3 -> 1. CR3: boot, to 2, 2's exit, to 3, 3's
	 * exit, to 1; 1 mapped nothing, so its exit flushes nothing. */
	ck_assert_uint_eq(C(r, CTR_GUEST_CONTEXT_SWITCHES), 3);
	ck_assert_uint_eq(C(r, CTR_GUEST_CR3_LOADS), 6);
	ck_assert_uint_eq(C(r, CTR_GUEST_SYSCALL_WAIT), 3);
	ck_assert_uint_eq(C(r, CTR_GUEST_WAIT_BLOCKED), 1);
	ck_assert_uint_eq(C(r, CTR_GUEST_PROC_PEAK), 3);
	ck_assert_uint_eq(C(r, CTR_GUEST_PT_PAGES), 1 + 4 + 4);
	ck_assert_uint_eq(C(r, CTR_GUEST_PT_PAGES_FREED), 9);
	for (uint32_t pid = 1; pid <= 3; pid++)
		ck_assert_int_eq(guest_find(&r.os, pid)->state, PROC_REAPED);
	ck_assert_uint_eq(guest_frames_in_use(&r.os), 0);
	rig_destroy(&r);

	/* A parent that exits first: its child goes to init, runs, and is reaped
	 * at its exit. A thread and an untraced child are counted, no more: a
	 * wait then finds no child. */
	static const struct guest_event q1[] = {THREAD(1, 7), FORK(1, 9), WAITANY(1), FORK(1, 2), EXIT(1)};
	static const struct guest_event q2[] = {LD(2, 0x401000), EXIT(2)};
	struct tsrc t = {0};
	tsrc_add(&t, 1, q1, N(q1));
	tsrc_add(&t, 2, q2, N(q2));
	ps = tsrc_source(&t);
	rig_init(&r);
	rig_start(&r, &ps, false, 0);
	ck_assert_int_eq(cpu_run_native(&r.cpu), RUN_DONE);
	ck_assert_uint_eq(C(r, CTR_GUEST_PROC_CREATE), 3);
	ck_assert_uint_eq(guest_find(&r.os, 1)->threads, 1);
	ck_assert_ptr_null(guest_find(&r.os, 7));
	ck_assert_ptr_null(guest_find(&r.os, 9));
	ck_assert_uint_eq(C(r, CTR_GUEST_WAIT_BLOCKED), 0);
	ck_assert_ptr_null(guest_find(&r.os, 2)->parent);
	ck_assert_int_eq(guest_find(&r.os, 2)->state, PROC_REAPED);
	ck_assert_uint_eq(C(r, CTR_GUEST_CONTEXT_SWITCHES), 1);
	ck_assert_uint_eq(guest_frames_in_use(&r.os), 0);
	rig_destroy(&r);
}
END_TEST

START_TEST(test_guest_errors)
{
	static const struct guest_event after_exit[] = {EXIT(1), LD(1, 0x401000)};
	static const struct guest_event twice[] = {FORK(1, 2), FORK(1, 2), EXIT(1)};
	static const struct guest_event p2[] = {EXIT(2)};
	struct tsrc s = {0};
	struct rig r;
	tsrc_add(&s, 1, after_exit, N(after_exit));
	struct proc_source ps = tsrc_source(&s);
	rig_init(&r);
	rig_start(&r, &ps, false, 0);
	ck_assert_int_eq(cpu_run_native(&r.cpu), RUN_ERROR);
	ck_assert_str_eq(r.cpu.err, "guest kernel: process 1 has a load event (GVA 0x401000) after its exit");
	rig_destroy(&r);

	struct tsrc t = {0};
	tsrc_add(&t, 1, twice, N(twice));
	tsrc_add(&t, 2, p2, N(p2));
	ps = tsrc_source(&t);
	rig_init(&r);
	rig_start(&r, &ps, false, 0);
	ck_assert_int_eq(cpu_run_native(&r.cpu), RUN_ERROR);
	ck_assert_str_eq(r.cpu.err, "guest kernel: process 2 created twice");
	rig_destroy(&r);
}
END_TEST

/* ---- the scheduler driven by hand ----------------------------------------- */

/* The value of the last MOV to CR3 the kernel queued (0: none); the queue
 * is dropped unexecuted (these tests look at software decisions only). */
static uint64_t take_cr3(struct rig *r)
{
	uint64_t v = 0;
	for (size_t i = r->cpu.ops_head; i < r->cpu.ops_tail; i++)
		if (r->cpu.ops[i].kind == GOP_LOAD_CR3)
			v = r->cpu.ops[i].val;
	r->cpu.ops_head = r->cpu.ops_tail = 0;
	return v;
}

/* The next event the guest hands the CPU; system-call events are then
 * delivered as the CPU does. Returns the pid of the process it belongs to
 * (a fork's is its parent, in gva), 0 at the end. */
static uint32_t step(struct rig *r, enum guest_event_kind *kind)
{
	struct guest_event ev;
	int n = guest_os_ops.next_event(&r->os, &r->cpu, &ev, r->cpu.err);
	ck_assert_msg(n >= 0, "%s", r->cpu.err);
	if (n == 0)
		return 0;
	if (kind)
		*kind = ev.kind;
	if (ev.kind > GEV_MODIFY)
		ck_assert_msg(guest_os_ops.os_event(&r->os, &r->cpu, &ev) == 0, "%s", r->cpu.err);
	return ev.kind == GEV_PROC_CREATE ? (uint32_t)ev.gva : ev.pid;
}

static void tick(struct rig *r)
{
	ck_assert_int_eq(guest_os_ops.interrupt(&r->os, &r->cpu, VEC_LOCAL_TIMER), 0);
}

START_TEST(test_guest_round_robin_with_pcids)
{
	static const struct guest_event a[] = {FORK(1, 2), FE(1, 0x1000), FE(1, 0x1001), FE(1, 0x1002), EXIT(1)};
	static const struct guest_event b[] = {FE(2, 0x2000), FE(2, 0x2001), EXIT(2)};
	struct tsrc s = {0};
	struct rig r;
	tsrc_add(&s, 1, a, N(a));
	tsrc_add(&s, 2, b, N(b));
	struct proc_source ps = tsrc_source(&s);
	rig_init(&r);
	rig_start(&r, &ps, true, 0);
	ck_assert(r.os.cr4 & CR4_PCIDE);
	uint64_t pml4a = guest_pml4(&r.os, 1);
	/* Boot: process 1 takes ASID 1 (ASID 0 is init_mm's): PCID 2, a flush. */
	ck_assert_uint_eq(take_cr3(&r), pml4a | 2);
	ck_assert_uint_eq(step(&r, NULL), 1); /* the fork */
	uint64_t pml4b = guest_pml4(&r.os, 2);
	ck_assert_uint_ne(pml4b, 0);
	ck_assert_uint_eq(take_cr3(&r), 0);
	/* A tick with 2 runnable ends 1's slice: 2 runs with ASID 2 (flush). */
	tick(&r);
	ck_assert_uint_eq(step(&r, NULL), 2);
	ck_assert_uint_eq(take_cr3(&r), pml4b | 3);
	/* Back and forth: each address space still owns its ASID: no flush. */
	tick(&r);
	ck_assert_uint_eq(step(&r, NULL), 1);
	ck_assert_uint_eq(take_cr3(&r), pml4a | 2 | CR3_NOFLUSH);
	tick(&r);
	ck_assert_uint_eq(step(&r, NULL), 2);
	ck_assert_uint_eq(take_cr3(&r), pml4b | 3 | CR3_NOFLUSH);
	/* No tick: 2 runs on to its exit (it mapped nothing: no flush), then 1. */
	ck_assert_uint_eq(step(&r, NULL), 2);
	ck_assert_uint_eq(take_cr3(&r), 0);
	ck_assert_uint_eq(step(&r, NULL), 1);
	ck_assert_uint_eq(take_cr3(&r), pml4a | 2 | CR3_NOFLUSH);
	/* Alone, 1 is not preempted by ticks. */
	tick(&r);
	ck_assert_uint_eq(step(&r, NULL), 1);
	ck_assert_uint_eq(step(&r, NULL), 1); /* exit */
	ck_assert_uint_eq(step(&r, NULL), 0);
	ck_assert_uint_eq(C(r, CTR_GUEST_CONTEXT_SWITCHES), 4);
	ck_assert_uint_eq(C(r, CTR_GUEST_CR3_LOADS), 5);
	ck_assert_uint_eq(C(r, CTR_GUEST_CR3_NOFLUSH), 3);
	ck_assert_uint_eq(C(r, CTR_GUEST_TIMER_TICKS), 4);
	rig_destroy(&r);
}
END_TEST

START_TEST(test_guest_timeslice)
{
	static const struct guest_event a[] = {FORK(1, 2), FE(1, 0x1000), FE(1, 0x1001), EXIT(1)};
	static const struct guest_event b[] = {FE(2, 0x2000), EXIT(2)};
	struct tsrc s = {0};
	struct rig r;
	tsrc_add(&s, 1, a, N(a));
	tsrc_add(&s, 2, b, N(b));
	struct proc_source ps = tsrc_source(&s);
	rig_init(&r);
	rig_start(&r, &ps, false, 1000);
	ck_assert_uint_eq(step(&r, NULL), 1);
	r.cpu.cycles += 999; /* a tick before the slice is over: 1 runs on */
	tick(&r);
	ck_assert_uint_eq(step(&r, NULL), 1);
	r.cpu.cycles += 1; /* 1000 cycles into the slice (the tick handler's own cycles count too) */
	tick(&r);
	ck_assert_uint_eq(step(&r, NULL), 2);
	rig_destroy(&r);
}
END_TEST

START_TEST(test_guest_asid_reuse)
{
	/* 1 forks 2 and waits for it, then 3, ... up to 8; each child runs once
	 * and exits, waking 1. ASIDs are handed out in turn from 1 (0 is init_mm's):
	 * 1 owns ASID 1; children 2..6 take 2, 3, 4, 5, 0 and 1 comes back to
	 * its own ASID without a flush; 7 takes ASID 1, evicting 1, whose
	 * return then takes ASID 2 with a flush; 8 takes 3; 1 finds ASID 2. */
	static struct guest_event p1[7 + 7 + 1];
	static struct guest_event kids[7][2];
	struct tsrc s = {0};
	struct rig r;
	size_t n = 0;
	for (uint32_t c = 2; c <= 8; c++) {
		p1[n++] = (struct guest_event){GEV_PROC_CREATE, 0, 1, 0, c, 0};
		p1[n++] = (struct guest_event){GEV_WAIT, 0, c, 0, 1, 0};
	}
	p1[n++] = (struct guest_event){GEV_PROC_EXIT, 0, 0, 0, 1, 0};
	tsrc_add(&s, 1, p1, n);
	for (uint32_t c = 2; c <= 8; c++) {
		kids[c - 2][0] = (struct guest_event){GEV_FETCH, 1, 0x1000, 0, c, 0};
		kids[c - 2][1] = (struct guest_event){GEV_PROC_EXIT, 0, 0, 0, c, 0};
		tsrc_add(&s, c, kids[c - 2], 2);
	}
	struct proc_source ps = tsrc_source(&s);
	rig_init(&r);
	rig_start(&r, &ps, true, 0);
	uint64_t pml4_1 = guest_pml4(&r.os, 1);
	ck_assert_uint_eq(take_cr3(&r), pml4_1 | 2);
	ck_assert_uint_eq(step(&r, NULL), 1); /* fork 2 */
	ck_assert_uint_eq(step(&r, NULL), 1); /* wait for 2: 1 blocks */
	static const uint64_t kid_pcid[] = {3, 4, 5, 6, 1, 2, 4};
	static const uint64_t back[] = {2 | CR3_NOFLUSH, 2 | CR3_NOFLUSH, 2 | CR3_NOFLUSH, 2 | CR3_NOFLUSH,
					2 | CR3_NOFLUSH, 3, 3 | CR3_NOFLUSH};
	for (uint32_t c = 2; c <= 8; c++) {
		enum guest_event_kind k;
		ck_assert_uint_eq(step(&r, &k), c); /* its fetch, after the switch */
		ck_assert_uint_eq(take_cr3(&r), guest_pml4(&r.os, c) | kid_pcid[c - 2]);
		ck_assert_uint_eq(step(&r, &k), c);
		ck_assert_int_eq(k, GEV_PROC_EXIT);
		ck_assert_uint_eq(step(&r, &k), 1); /* the next fork, or the exit */
		ck_assert_int_eq(k, c < 8 ? GEV_PROC_CREATE : GEV_PROC_EXIT);
		ck_assert_uint_eq(take_cr3(&r), pml4_1 | back[c - 2]);
		if (c < 8)
			ck_assert_uint_eq(step(&r, NULL), 1); /* and its wait */
	}
	ck_assert_uint_eq(step(&r, NULL), 0);
	ck_assert_uint_eq(C(r, CTR_GUEST_CR3_NOFLUSH), 6);
	ck_assert_uint_eq(C(r, CTR_GUEST_CONTEXT_SWITCHES), 14);
	rig_destroy(&r);
}
END_TEST

/* ---- trace sets ------------------------------------------------------------ */

static char tmpdir[256];

static void mktmp(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/check_guest.XXXXXX", t && *t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void rmtmp(void)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A subdirectory of the temporary directory, returned as a path. */
static const char *subdir(const char *name)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	return path;
}

static void put(const char *dir, const char *name, const char *text, bool zstd)
{
	char path[512];
	size_t n = strlen(text);
	void *z = NULL;
	const void *data = text;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (zstd) {
		z = malloc(ZSTD_compressBound(n));
		n = ZSTD_compress(z, ZSTD_compressBound(n), text, n, 3);
		ck_assert(!ZSTD_isError(n));
		data = z;
	}
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, n, f), n);
	fclose(f);
	free(z);
}

/* A valgrind preamble of process pid, child of ppid. */
static const char *pre(char *buf, size_t len, unsigned pid, unsigned ppid)
{
	snprintf(buf, len,
		 "==%u== Lackey, an example Valgrind tool\n==%u== Command: x\n==%u== Parent PID: %u\n==%u== \n", pid,
		 pid, pid, ppid, pid);
	return buf;
}

/* pre() + body. */
static void put_log(const char *dir, const char *name, unsigned pid, unsigned ppid, const char *body, bool zstd)
{
	char text[4096], p[256];
	snprintf(text, sizeof(text), "%s%s", pre(p, sizeof(p), pid, ppid), body);
	put(dir, name, text, zstd);
}

/* Process p's fork of c (chex: c in hex), as valgrind logs it. */
#define FORK_LINES(p, c, chex)                                                                                    \
	"SYSCALL[" #p ",1](56) sys_clone ( 1200011, 0x0, 0x0, 0x4a29a10, 0x0 )   clone(fork): process " #p          \
	" created child " #c "\n --> [pre-success] Success(0x" #chex ") \n"

/* Read pid's stream to the end: its event kinds into out (at most max). */
static size_t read_stream(struct traceset *ts, uint32_t pid, enum guest_event_kind *out, uint32_t *pids,
			  size_t max)
{
	char err[TRACE_ERR_LEN];
	struct frontend fe;
	struct guest_event ev;
	size_t n = 0;
	int r;
	ck_assert_msg(traceset_open_proc(ts, pid, &fe, err) == 0, "%s", err);
	while ((r = fe.next(fe.ctx, &ev, err)) == 1) {
		ck_assert_uint_lt(n, max);
		pids[n] = ev.kind == GEV_PROC_CREATE ? ev.pid : ev.kind == GEV_WAIT ? (uint32_t)ev.gva : ev.pid;
		out[n++] = ev.kind;
	}
	ck_assert_msg(r == 0, "%s", err);
	traceset_close_proc(ts, pid);
	return n;
}

START_TEST(test_traceset_fork_exec_and_orphans)
{
	char err[TRACE_ERR_LEN];
	enum guest_event_kind k[32];
	uint32_t pid[32];
	struct traceset *ts;
	const char *d;
	mktmp();

	/* --log-file=trace.%p: the child's log starts fresh (it exec'd). */
	d = subdir("plain");
	put_log(d, "trace.100", 100, 99,
		"I  00401000,3\n" FORK_LINES(100, 101, 65)
		"SYSCALL[100,1](61) sys_wait4 ( 4294967295, 0x1fff00090c, 0, 0x0 ) --> [async] ... \n"
		"SYSCALL[100,1](231) exit_group( 0 ) --> [pre-success] Success(0x0) \n==100== Exit code: 0\n", false);
	put_log(d, "trace.101.zst", 101, 100,
		"I  00402000,2\n L 1ffefff000,8\nSYSCALL[101,1](231) exit_group( 0 ) --> [pre-success] Success(0x0) \n",
		true);
	ts = traceset_open(d, err);
	ck_assert_msg(ts != NULL, "%s", err);
	ck_assert_uint_eq(traceset_root(ts), 100);
	ck_assert_uint_eq(traceset_processes(ts), 2);
	ck_assert_str_eq(traceset_format(ts), "lackey+zstd set");
	ck_assert_uint_eq(read_stream(ts, 100, k, pid, 32), 4);
	ck_assert_int_eq(k[0], GEV_FETCH);
	ck_assert_int_eq(k[1], GEV_PROC_CREATE);
	ck_assert_uint_eq(pid[1], 101);
	ck_assert_int_eq(k[2], GEV_WAIT);
	ck_assert_uint_eq(pid[2], 0);
	ck_assert_int_eq(k[3], GEV_PROC_EXIT);
	ck_assert_uint_eq(read_stream(ts, 101, k, pid, 32), 4);
	ck_assert_int_eq(k[0], GEV_EXEC);
	ck_assert_int_eq(k[1], GEV_FETCH);
	ck_assert_int_eq(k[2], GEV_LOAD);
	ck_assert_int_eq(k[3], GEV_PROC_EXIT);
	ck_assert_uint_eq(traceset_bytes_read(ts), traceset_total_bytes(ts));
	traceset_close(ts);

	/* --log-file=t.%p.%n: 201's fork continuation (201.2) comes first, then
	 * the exec'd program (201.1). */
	d = subdir("seq");
	put_log(d, "t.200.1", 200, 199, FORK_LINES(200, 201, c9), false);
	put_log(d, "t.201.2", 201, 200,
		" --> [pre-success] Success(0x0) \nI  00401000,3\n"
		"SYSCALL[201,1](59) sys_execve ( 0x10a004(/bin/true), 0x1fff000570, 0x1fff000728 )\n", false);
	put_log(d, "t.201.1", 201, 200, "I  00403000,1\n", false);
	ts = traceset_open(d, err);
	ck_assert_msg(ts != NULL, "%s", err);
	ck_assert_uint_eq(traceset_files(ts), 3);
	ck_assert_str_eq(traceset_format(ts), "lackey set");
	ck_assert_uint_eq(read_stream(ts, 200, k, pid, 32), 1);
	ck_assert_uint_eq(read_stream(ts, 201, k, pid, 32), 3);
	ck_assert_int_eq(k[0], GEV_FETCH);
	ck_assert_int_eq(k[1], GEV_EXEC);
	ck_assert_int_eq(k[2], GEV_FETCH);
	traceset_close(ts);

	/* The root exec'd (its log starts fresh) after forking 301 and 302, whose
	 * forks its log no longer shows: they are created and waited for first. */
	d = subdir("orphans");
	put_log(d, "trace.300", 300, 1, "I  00401000,3\n", false);
	put_log(d, "trace.301", 301, 300, "I  00401000,3\n", false);
	put_log(d, "trace.302", 302, 300, " --> [pre-success] Success(0x0) \n", false);
	ts = traceset_open(d, err);
	ck_assert_msg(ts != NULL, "%s", err);
	ck_assert_uint_eq(read_stream(ts, 300, k, pid, 32), 6);
	ck_assert_int_eq(k[0], GEV_PROC_CREATE);
	ck_assert_uint_eq(pid[0], 301);
	ck_assert_int_eq(k[1], GEV_PROC_CREATE);
	ck_assert_uint_eq(pid[1], 302);
	ck_assert_int_eq(k[2], GEV_WAIT);
	ck_assert_uint_eq(pid[2], 301);
	ck_assert_int_eq(k[3], GEV_WAIT);
	ck_assert_uint_eq(pid[3], 302);
	ck_assert_int_eq(k[4], GEV_EXEC);
	ck_assert_int_eq(k[5], GEV_FETCH);
	/* 301 exec'd (fresh); 302 only forked. */
	ck_assert_uint_eq(read_stream(ts, 301, k, pid, 32), 2);
	ck_assert_int_eq(k[0], GEV_EXEC);
	ck_assert_uint_eq(read_stream(ts, 302, k, pid, 32), 0);
	/* A second creation of the same process is an error. */
	struct frontend fe;
	ck_assert_int_eq(traceset_open_proc(ts, 302, &fe, err), -1);
	ck_assert_ptr_nonnull(strstr(err, ": process 302 is created twice (again at "));
	traceset_close(ts);
	rmtmp();
}
END_TEST

/* traceset_open of dir fails with a message containing want. */
static void open_fails(const char *dir, const char *want)
{
	char err[TRACE_ERR_LEN];
	struct traceset *ts = traceset_open(dir, err);
	ck_assert_ptr_null(ts);
	ck_assert_msg(strstr(err, want) != NULL, "got '%s', want '%s'", err, want);
}

START_TEST(test_traceset_errors)
{
	char err[TRACE_ERR_LEN], want[600];
	const char *d;
	mktmp();

	/* A child created with no log: the message names the creating line. */
	d = subdir("missing");
	put_log(d, "trace.100", 100, 99, "I  00401000,3\n" FORK_LINES(100, 101, 65), false);
	struct traceset *ts = traceset_open(d, err);
	ck_assert_msg(ts != NULL, "%s", err);
	struct frontend fe;
	struct guest_event ev;
	ck_assert_int_eq(traceset_open_proc(ts, 100, &fe, err), 0);
	ck_assert_int_eq(fe.next(fe.ctx, &ev, err), 1);
	ck_assert_int_eq(fe.next(fe.ctx, &ev, err), 1);
	ck_assert_int_eq(ev.kind, GEV_PROC_CREATE);
	ck_assert_int_eq(traceset_open_proc(ts, 101, &fe, err), -1);
	snprintf(want, sizeof(want), "%s: no log for process 101, created at %s/trace.100:7", d, d);
	ck_assert_str_eq(err, want);
	traceset_close(ts);

	d = subdir("tworoots");
	put_log(d, "trace.100", 100, 99, "", false);
	put_log(d, "trace.200", 200, 199, "", false);
	open_fails(d, "two root processes: 100 (parent 99) and 200 (parent 199) both have their parent outside the set");

	d = subdir("noroot");
	put_log(d, "trace.1", 1, 2, "", false);
	put_log(d, "trace.2", 2, 1, "", false);
	open_fails(d, "no root process");

	d = subdir("apart");
	put_log(d, "trace.100", 100, 99, "", false);
	put_log(d, "trace.200", 200, 201, "", false);
	put_log(d, "trace.201", 201, 200, "", false);
	open_fails(d, "/trace.200: process 200 (parent 201) does not descend from the root process 100");

	d = subdir("badname");
	put_log(d, "trace.100", 100, 99, "", false);
	put(d, "README", "hello\n", false);
	open_fails(d, "'README' is not a per-process log name");

	d = subdir("prefixes");
	put_log(d, "a.100", 100, 99, "", false);
	put_log(d, "b.101", 101, 100, "", false);
	open_fails(d, "'a.100' and 'b.101' have different prefixes");

	d = subdir("same");
	put_log(d, "trace.100", 100, 99, "", false);
	put_log(d, "trace.100.zst", 100, 99, "", true);
	open_fails(d, "'trace.100' and 'trace.100.zst' are the same log");

	d = subdir("wrongpid");
	put_log(d, "trace.100", 101, 99, "", false);
	open_fails(d, "/trace.100: the log of process 101, not of process 100 as its name says");

	d = subdir("noparent");
	put(d, "trace.100", "==100== Lackey\n==100== \nI  00401000,3\n", false);
	open_fails(d, "/trace.100: no '==100== Parent PID:' line in the valgrind preamble");

	d = subdir("nopreamble");
	put(d, "trace.100", "I  00401000,3\n", false);
	open_fails(d, "/trace.100: no valgrind preamble");

	d = subdir("order");
	put_log(d, "t.5.2", 5, 4, "I  00401000,3\n", false);
	put_log(d, "t.5.1", 5, 4, " --> [pre-success] Success(0x0) \n", false);
	open_fails(d, "/t.5.1: continues a fork, but process 5 has a log numbered higher (t.5.2)");

	d = subdir("dangling");
	put_log(d, "trace.100", 100, 99, "", false);
	snprintf(want, sizeof(want), "%s/trace.101", d);
	ck_assert_int_eq(symlink("nowhere", want), 0);
	open_fails(d, "/trace.101: cannot open: No such file or directory");

	d = subdir("corrupt");
	put(d, "trace.100.zst", "\x28\xb5\x2f\xfd garbage, not a zstd frame", false);
	open_fails(d, "/trace.100.zst: ");

	d = subdir("empty");
	open_fails(d, "no logs in the directory");
	snprintf(want, sizeof(want), "%s/nothing", tmpdir);
	open_fails(want, "/nothing: cannot open directory: No such file or directory");
	ck_assert_int_eq(traceset_is_dir(want), 0);
	ck_assert_int_eq(traceset_is_dir(tmpdir), 1);
	rmtmp();
}
END_TEST

START_TEST(test_traceset_checksum)
{
	char err[TRACE_ERR_LEN], sum[17], sum2[17], want[17], path[512];
	mktmp();
	const char *d = subdir("sum");
	put(d, "trace.2", "bb\n", false);
	put(d, "trace.10", "a\n", false);
	put(d, ".hidden", "ignored", false);
	ck_assert_int_eq(traceset_checksum(d, sum, err), 0);
	/* By hand: names in strcmp order ("trace.10" < "trace.2"), each with a
	 * NUL, its size as 8 little-endian bytes, and its bytes. */
	static const char bytes[] = "trace.10\0\2\0\0\0\0\0\0\0a\ntrace.2\0\3\0\0\0\0\0\0\0bb\n";
	snprintf(want, sizeof(want), "%016llx", (unsigned long long)XXH3_64bits(bytes, sizeof(bytes) - 1));
	ck_assert_str_eq(sum, want);
	/* A renamed file changes it. */
	char a[512];
	snprintf(a, sizeof(a), "%s/trace.10", d);
	snprintf(path, sizeof(path), "%s/trace.11", d);
	ck_assert_int_eq(rename(a, path), 0);
	ck_assert_int_eq(traceset_checksum(d, sum2, err), 0);
	ck_assert_str_ne(sum, sum2);
	rmtmp();
}
END_TEST

/* The lackey reader's events for waits and posix_spawn (src/trace/lackey.c). */
START_TEST(test_lackey_waits_and_spawn)
{
	static const char in[] =
		"==100== x\n"
		/* wait4(-1, ..., 0): any child; the async completion gives nothing */
		"SYSCALL[100,1](61) sys_wait4 ( 4294967295, 0x1fff00090c, 0, 0x0 ) --> [async] ... \n"
		"SYSCALL[100,1](61) ... [async] --> Success(0x65) \n"
		/* wait4(5135, ..., WNOHANG) */
		"SYSCALL[100,1](61) sys_wait4 ( 5135, 0x0, 1, 0x0 )[sync] --> Success(0x0) \n"
		/* waitid(P_PID, 5134, ..., WEXITED), waitid(P_ALL, 0, ..., WEXITED|WNOHANG) */
		"SYSCALL[100,1](247) sys_waitid( 1, 5134, 0x1fff000560, 4, 0x0 ) --> [async] ... \n"
		"SYSCALL[100,1](247) sys_waitid( 0, 0, 0x1fff000560, 5, 0x0 ) --> [pre-fail] Failure(0xa) \n"
		/* posix_spawn: CLONE_VM|CLONE_VFORK|SIGCHLD, run by valgrind as a fork */
		"SYSCALL[100,1](56) sys_clone ( 4111, 0x4844ff0, 0x0, 0x0, 0x0 )   clone(fork): process 100 created child "
		"5134\n --> [pre-success] Success(0x140e) \n"
		/* a thread */
		"SYSCALL[100,1](56) sys_clone ( 3d0f00, 0x522bf70, 0x522c990, 0x522c990, 0x522c6c0 ) --> [pre-success] "
		"Success(0x65) \n";
	static const struct {
		enum guest_event_kind kind;
		uint64_t gva;
		uint32_t pid, arg;
	} want[] = {
		{GEV_WAIT, 0, 100, 0},    {GEV_WAIT, 5135, 100, 1},       {GEV_WAIT, 5134, 100, 0},
		{GEV_WAIT, 0, 100, 1},    {GEV_PROC_CREATE, 100, 5134, 0}, {GEV_PROC_CREATE, 100, 0x65, 1},
	};
	char err[TRACE_ERR_LEN];
	struct guest_event ev;
	struct trace_reader *tr = trace_open_mem(in, sizeof(in) - 1, "w.lackey", 0, err);
	ck_assert_ptr_nonnull(tr);
	for (size_t i = 0; i < N(want); i++) {
		ck_assert_int_eq(trace_next(tr, &ev, err), 1);
		ck_assert_int_eq(ev.kind, want[i].kind);
		ck_assert_uint_eq(ev.gva, want[i].gva);
		ck_assert_uint_eq(ev.pid, want[i].pid);
		ck_assert_uint_eq(ev.arg, want[i].arg);
	}
	ck_assert_int_eq(trace_next(tr, &ev, err), 0);
	trace_close(tr);

	static const char bad[] = "SYSCALL[100,1](61) sys_wait4 ( 4294967295, 0x0 ) --> [async] ... \n";
	tr = trace_open_mem(bad, sizeof(bad) - 1, "w.lackey", 0, err);
	ck_assert_ptr_nonnull(tr);
	ck_assert_int_eq(trace_next(tr, &ev, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "w.lackey:1: too few system call arguments"));
	trace_close(tr);
}
END_TEST

/* ---- real trace sets --------------------------------------------------------- */

struct walk {
	uint64_t k[GEV_KIND_COUNT];
	uint64_t procs;
};

/* Read process pid's stream, and the streams of the processes it creates. */
static void walk(struct traceset *ts, uint32_t pid, struct walk *w)
{
	char err[TRACE_ERR_LEN];
	struct frontend fe;
	struct guest_event ev;
	int r;
	ck_assert_msg(traceset_open_proc(ts, pid, &fe, err) == 0, "%s", err);
	w->procs++;
	while ((r = fe.next(fe.ctx, &ev, err)) == 1) {
		w->k[ev.kind]++;
		if (ev.kind == GEV_PROC_CREATE && !(ev.arg & 1))
			walk(ts, ev.pid, w);
	}
	ck_assert_msg(r == 0, "%s", err);
	traceset_close_proc(ts, pid);
}

static void srcpath(char *buf, size_t len, const char *rel)
{
	const char *srcdir = getenv("VTSIM_SRCDIR");
	snprintf(buf, len, "%s/%s", srcdir && *srcdir ? srcdir : ".", rel);
}

#define CK_WALK(w, I, L, S, M, MM, MU, BRK, PC, PE, WT, EX)                                                       \
	do {                                                                                                      \
		ck_assert_uint_eq((w).k[GEV_FETCH], I);                                                          \
		ck_assert_uint_eq((w).k[GEV_LOAD], L);                                                           \
		ck_assert_uint_eq((w).k[GEV_STORE], S);                                                          \
		ck_assert_uint_eq((w).k[GEV_MODIFY], M);                                                         \
		ck_assert_uint_eq((w).k[GEV_MMAP], MM);                                                          \
		ck_assert_uint_eq((w).k[GEV_MUNMAP], MU);                                                        \
		ck_assert_uint_eq((w).k[GEV_BRK], BRK);                                                          \
		ck_assert_uint_eq((w).k[GEV_PROC_CREATE], PC);                                                   \
		ck_assert_uint_eq((w).k[GEV_PROC_EXIT], PE);                                                     \
		ck_assert_uint_eq((w).k[GEV_WAIT], WT);                                                          \
		ck_assert_uint_eq((w).k[GEV_EXEC], EX);                                                          \
	} while (0)

START_TEST(test_traceset_real_logs)
{
	char path[4096], err[TRACE_ERR_LEN];
	struct walk w = {{0}, 0};
	srcpath(path, sizeof(path), "tests/data/traceset/lswc");
	struct traceset *ts = traceset_open(path, err);
	ck_assert_msg(ts != NULL, "%s", err);
	ck_assert_uint_eq(traceset_root(ts), 3150);
	ck_assert_uint_eq(traceset_files(ts), 3);
	walk(ts, traceset_root(ts), &w);
	ck_assert_uint_eq(w.procs, 3);
	/* grep counts (tests/data/traceset/README.md); the two children start
	 * fresh, so each gets an exec. */
	CK_WALK(w, 191 + 345 + 148, 42 + 86 + 33, 20 + 51 + 11, 2 + 2 + 1, 45, 3, 9, 2, 3, 3, 2);
	ck_assert_uint_eq(traceset_bytes_read(ts), traceset_total_bytes(ts));
	traceset_close(ts);
}
END_TEST

START_TEST(test_traceset_shipped_pipeline)
{
	char path[4096], err[TRACE_ERR_LEN];
	struct walk w = {{0}, 0};
	srcpath(path, sizeof(path), "traces/pipeline.d");
	struct traceset *ts = traceset_open(path, err);
	ck_assert_msg(ts != NULL, "%s", err);
	ck_assert_uint_eq(traceset_root(ts), 20013);
	ck_assert_uint_eq(traceset_processes(ts), 5);
	ck_assert_uint_eq(traceset_files(ts), 9);
	walk(ts, traceset_root(ts), &w);
	ck_assert_uint_eq(w.procs, 5);
	/* zstdcat traces/pipeline.d/... | grep -c (traces/README.md): 4 clone(fork)
	 * results, 5 exit_group, 5 wait4 calls, and one exec per child between its
	 * fork continuation (.2) and its program (.1). */
	CK_WALK(w, 2742590, 723335, 329335, 13517, 62, 7, 15, 4, 5, 5, 4);
	ck_assert_uint_eq(traceset_bytes_read(ts), traceset_total_bytes(ts));
	traceset_close(ts);

	/* The whole set on the native machine, no timer ticks. sh forks cut,
	 * sort, uniq and sort -rn (queued in that order) and blocks in its first
	 * wait4; each child then runs to its exit in turn (the first exit wakes
	 * sh, queued behind the other three); sh reaps the other three without
	 * blocking. Switches: sh -> cut -> sort -> uniq -> sort -rn -> sh = 5.
	 * CR3 loads: boot 1, per child: switch, exec, exit = 12, back to sh 1,
	 * sh's exit 1 = 15, and one full flush in each sort, whose munmap of its
	 * 8 MiB buffer (8523776 bytes at 0x4a2c000) gathers a span of more than
	 * guest.tlb_flush_ceiling = 33 pages: 17; with no ceiling, 15. */
	ts = traceset_open(path, err);
	ck_assert_msg(ts != NULL, "%s", err);
	struct proc_source ps;
	traceset_proc_source(ts, &ps);
	struct rig r;
	rig_init(&r);
	rig_start(&r, &ps, false, 0);
	ck_assert_msg(cpu_run_native(&r.cpu) == RUN_DONE, "%s", r.cpu.err);
	ck_assert_uint_eq(C(r, CTR_CPU_INSTRUCTIONS), 2742590);
	ck_assert_uint_eq(C(r, CTR_GUEST_CONTEXT_SWITCHES), 5);
	ck_assert_uint_eq(C(r, CTR_GUEST_CR3_LOADS), 17);
	ck_assert_uint_eq(C(r, CTR_GUEST_PROC_CREATE), 4);
	ck_assert_uint_eq(C(r, CTR_GUEST_PROC_EXEC), 4);
	ck_assert_uint_eq(C(r, CTR_GUEST_PROC_EXIT), 5);
	ck_assert_uint_eq(C(r, CTR_GUEST_PROC_PEAK), 5);
	ck_assert_uint_eq(C(r, CTR_GUEST_SYSCALL_WAIT), 5);
	ck_assert_uint_eq(C(r, CTR_GUEST_WAIT_BLOCKED), 1);
	ck_assert_uint_eq(C(r, CTR_GUEST_SYSCALL_MMAP), 62);
	ck_assert_uint_eq(C(r, CTR_GUEST_PT_PAGES), C(r, CTR_GUEST_PT_PAGES_FREED));
	ck_assert_uint_eq(C(r, CTR_GUEST_PAGES_MAPPED), C(r, CTR_GUEST_PAGES_UNMAPPED));
	ck_assert_uint_eq(guest_frames_in_use(&r.os), 0);
	uint64_t invlpg = C(r, CTR_GUEST_INVLPG);
	rig_destroy(&r);
	traceset_close(ts);

	ts = traceset_open(path, err);
	ck_assert_msg(ts != NULL, "%s", err);
	traceset_proc_source(ts, &ps);
	rig_init(&r);
	r.p.guest_tlb_flush_ceiling = UINT64_C(1) << 40;
	rig_start(&r, &ps, false, 0);
	ck_assert_msg(cpu_run_native(&r.cpu) == RUN_DONE, "%s", r.cpu.err);
	ck_assert_uint_eq(C(r, CTR_GUEST_CR3_LOADS), 15);
	ck_assert_uint_gt(C(r, CTR_GUEST_INVLPG), invlpg + 2 * 33);
	rig_destroy(&r);
	traceset_close(ts);
}
END_TEST


/* ---- device drivers (src/guest/drivers.c) ------------------------------- *
 *
 * The CPU side that executes MMIO and ring operations and delivers device
 * interrupts is not needed here: these tests drive the kernel's entry
 * points as the CPU would (next_event, os_event, interrupt) and read the
 * operations the drivers queue, every one worked out by hand from
 * drivers.c's Notes. Guest memory is 1 GiB, so the bump allocator hands
 * out frames 0x100000, 0x101000, ... in order.
 */

#define NIC_BAR UINT64_C(0xfebc0000)
#define NVME_BAR UINT64_C(0xfebf0000)
#define NIC_VEC 0x40
#define NVME_VEC 0x41
#define IOREMAP_LEAF (PTE_P | PTE_RW | PTE_A | PTE_D | PTE_PCD | PTE_PWT | PTE_G | PTE_XD)
#define DEVIO(pid, op, a, l, sect) {GEV_DEVIO, (sect), (a), (l), (pid), (op)}

static const struct guest_dev_info nic_dev = {DEV_NIC, NIC_BAR, 0x20000, NIC_VEC, 0x18, 64};
static const struct guest_dev_info nvme_dev = {DEV_NVME, NVME_BAR, 0x4000, NVME_VEC, 0x20, 64};

/* Boot a one-process guest with the devices given; nothing executes. */
static void rig_start_devs(struct rig *r, const struct proc_source *ps, const struct guest_dev_info *d, size_t n)
{
	char err[CPU_ERR_LEN];
	r->p.guest_mem_mib = 1024;
	ck_assert_int_eq(mem_init(&r->mem), 0);
	ck_assert_int_eq(cpu_init(&r->cpu, &r->p, &r->mem, &r->ctr, err), 0);
	ck_assert_int_eq(guest_init_procs(&r->os, &r->p, &r->ctr, ps, err), 0);
	ck_assert_msg(guest_set_devices(&r->os, d, n, err) == 0, "%s", err);
	cpu_attach_guest(&r->cpu, &guest_os_ops, &r->os);
	ck_assert_int_eq(guest_image(&r->os, mem_store, &r->mem), 0);
	cpu_set_paging(&r->cpu, r->os.cr0, GUEST_SWAPPER_PML4, r->os.cr4, r->os.efer);
	ck_assert_int_eq(guest_boot(&r->os, &r->cpu, 0), 0);
}

/* Operations of kind k queued at or after index from. */
static size_t ops_of(const struct rig *r, size_t from, enum guest_op_kind k)
{
	size_t n = 0;
	for (size_t i = from; i < r->cpu.ops_tail; i++)
		n += r->cpu.ops[i].kind == k;
	return n;
}

/* The nth (from 0) operation of kind k at or after from. */
static const struct guest_op *op_nth(const struct rig *r, size_t from, enum guest_op_kind k, size_t nth)
{
	for (size_t i = from; i < r->cpu.ops_tail; i++)
		if (r->cpu.ops[i].kind == k && nth-- == 0)
			return &r->cpu.ops[i];
	ck_abort_msg("no operation %d number %zu", (int)k, nth);
	return NULL;
}

static void ck_op(const struct guest_op *op, uint64_t addr, uint64_t val)
{
	ck_assert_uint_eq(op->addr, addr);
	ck_assert_uint_eq(op->val, val);
}

/* next_event as the CPU calls it: the kind of event it returns. */
static int next_kind(struct rig *r, struct guest_event *ev)
{
	ck_assert_int_eq(guest_os_ops.next_event(&r->os, &r->cpu, ev, r->cpu.err), 1);
	return ev->kind;
}

START_TEST(test_guest_nic_driver)
{
	static const struct guest_event root[] = {
		DEVIO(1, DEVIO_NET_RX, 0x10000000, 8192, 0), DEVIO(1, DEVIO_NET_TX, 0x10000000, 64, 0), EXIT(1)};
	struct tsrc s = {0};
	struct rig r;
	struct guest_event ev;
	tsrc_add(&s, 1, root, N(root));
	struct proc_source ps = tsrc_source(&s);
	rig_init(&r);
	rig_start_devs(&r, &ps, &nic_dev, 1);
	const uint64_t io = GUEST_IOREMAP_BASE, rx = 0x103000, tx = 0x104000;
	/* Boot. ioremap: PDPT 0x100000, PD 0x101000, PT 0x102000 (zeroed),
	 * PDPT[0] -> PD, swapper PML4[402] -> PDPT, PD[0] -> PT, 32 PTEs for
	 * the 128 KiB BAR. Rings 0x103000 (RX), 0x104000 (TX), zeroed; 13 MMIO
	 * stores. The process: PML4 0x105000 (zeroed), its ioremap entry and
	 * its direct-map entry; CR3 load. */
	ck_assert_uint_eq(ops_of(&r, 0, GOP_ZERO_PAGE), 6);
	ck_assert_uint_eq(ops_of(&r, 0, GOP_STORE64), 3 + 32 + 2);
	ck_assert_uint_eq(ops_of(&r, 0, GOP_MMIO_WRITE32), 13);
	ck_assert_uint_eq(ops_of(&r, 0, GOP_MMIO_READ32), 0);
	ck_assert_uint_eq(ops_of(&r, 0, GOP_LOAD_CR3), 1);
	ck_assert_uint_eq(pt_index(GUEST_IOREMAP_BASE, 4), 402);
	ck_op(op_nth(&r, 0, GOP_STORE64, 0), 0x100000, 0x101000 | PTE_P | PTE_RW | PTE_A | PTE_D);
	ck_op(op_nth(&r, 0, GOP_STORE64, 1), GUEST_SWAPPER_PML4 + 8 * 402, 0x100000 | PTE_P | PTE_RW | PTE_A | PTE_D);
	ck_op(op_nth(&r, 0, GOP_STORE64, 2), 0x101000, 0x102000 | PTE_P | PTE_RW | PTE_A | PTE_D);
	ck_op(op_nth(&r, 0, GOP_STORE64, 3), 0x102000, NIC_BAR | IOREMAP_LEAF);
	ck_op(op_nth(&r, 0, GOP_STORE64, 34), 0x102000 + 8 * 31, (NIC_BAR + 31 * 4096) | IOREMAP_LEAF);
	ck_op(op_nth(&r, 0, GOP_STORE64, 35), 0x105000 + 8 * 402, 0x100000 | PTE_P | PTE_RW | PTE_A | PTE_D);
	static const uint64_t probe[13][2] = {
		{0x2800, rx}, {0x2804, 0}, {0x2808, 4096}, {0x2810, 0}, {0x2818, 0},
		{0x3800, tx}, {0x3804, 0}, {0x3808, 4096}, {0x3810, 0}, {0x3818, 0},
		{0x100, 0x22}, {0x400, 0x2}, {0xd0, 0x81},
	};
	for (size_t i = 0; i < 13; i++)
		ck_op(op_nth(&r, 0, GOP_MMIO_WRITE32, i), io + probe[i][0], probe[i][1]);
	ck_assert_uint_eq(C(r, CTR_GUEST_IO_KERNEL_PT_PAGES), 3);
	ck_assert_uint_eq(C(r, CTR_GUEST_IO_MMIO), 13);

	/* RX of 8192 bytes into 0x10000000: both pages fault in (PDPT
	 * 0x106000, PD 0x107000, PT 0x108000, pages 0x109000 and 0x10a000),
	 * four 2048-B descriptors, RDT = 4; the process blocks. */
	size_t m = r.cpu.ops_tail;
	ck_assert_int_eq(next_kind(&r, &ev), GEV_DEVIO);
	ck_assert_int_eq(guest_os_ops.os_event(&r.os, &r.cpu, &ev), 0);
	ck_assert_uint_eq(ops_of(&r, m, GOP_ZERO_PAGE), 5);
	ck_assert_uint_eq(ops_of(&r, m, GOP_STORE64), 5);
	ck_assert_uint_eq(ops_of(&r, m, GOP_RING_STORE64), 8);
	static const uint64_t bufs[4] = {0x109000, 0x109800, 0x10a000, 0x10a800};
	for (size_t i = 0; i < 4; i++) {
		ck_op(op_nth(&r, m, GOP_RING_STORE64, 2 * i), rx + 16 * i, bufs[i]);
		ck_op(op_nth(&r, m, GOP_RING_STORE64, 2 * i + 1), rx + 16 * i + 8, 0);
	}
	ck_assert_uint_eq(ops_of(&r, m, GOP_MMIO_WRITE32), 1);
	ck_op(op_nth(&r, m, GOP_MMIO_WRITE32, 0), io + 0x2818, 4);
	ck_assert_int_eq(guest_find(&r.os, 1)->state, PROC_IO_WAIT);
	ck_assert_uint_eq(guest_io_outstanding(&r.os), 1);
	/* Nothing runnable, I/O outstanding: the idle loop halts. */
	ck_assert_int_eq(next_kind(&r, &ev), GEV_HLT);
	ck_assert_int_eq(next_kind(&r, &ev), GEV_HLT);
	ck_assert_uint_eq(C(r, CTR_GUEST_IO_IDLE_HALTS), 2);

	/* The RX interrupt: ICR, the 4 status words, RDT = 4; 1 wakes. */
	m = r.cpu.ops_tail;
	ck_assert_int_eq(guest_os_ops.interrupt(&r.os, &r.cpu, NIC_VEC), 0);
	ck_assert_uint_eq(r.cpu.ops_tail - m, 6);
	ck_op(op_nth(&r, m, GOP_MMIO_READ32, 0), io + 0xc0, 0);
	for (size_t i = 0; i < 4; i++)
		ck_op(op_nth(&r, m, GOP_RING_LOAD64, i), rx + 16 * i + 8, 0);
	ck_op(op_nth(&r, m, GOP_MMIO_WRITE32, 0), io + 0x2818, 4);
	ck_assert_int_eq(guest_find(&r.os, 1)->state, PROC_RUNNABLE);
	ck_assert_uint_eq(guest_io_outstanding(&r.os), 0);

	/* TX of 64 bytes from the same page: present, one descriptor with
	 * CMD = EOP | IFCS | RS, TDT = 1. */
	m = r.cpu.ops_tail;
	ck_assert_int_eq(next_kind(&r, &ev), GEV_DEVIO);
	ck_assert_int_eq(guest_os_ops.os_event(&r.os, &r.cpu, &ev), 0);
	ck_assert_uint_eq(r.cpu.ops_tail - m, 3);
	ck_op(op_nth(&r, m, GOP_RING_STORE64, 0), tx, 0x109000);
	ck_op(op_nth(&r, m, GOP_RING_STORE64, 1), tx + 8, 64 | UINT64_C(0x0b) << 24);
	ck_op(op_nth(&r, m, GOP_MMIO_WRITE32, 0), io + 0x3818, 1);
	ck_assert_int_eq(next_kind(&r, &ev), GEV_HLT);
	/* The TX interrupt: ICR and the last descriptor's status word. */
	m = r.cpu.ops_tail;
	ck_assert_int_eq(guest_os_ops.interrupt(&r.os, &r.cpu, NIC_VEC), 0);
	ck_assert_uint_eq(r.cpu.ops_tail - m, 2);
	ck_op(op_nth(&r, m, GOP_MMIO_READ32, 0), io + 0xc0, 0);
	ck_op(op_nth(&r, m, GOP_RING_LOAD64, 0), tx + 8, 0);
	/* A spurious one: ICR only. */
	m = r.cpu.ops_tail;
	ck_assert_int_eq(guest_os_ops.interrupt(&r.os, &r.cpu, NIC_VEC), 0);
	ck_assert_uint_eq(r.cpu.ops_tail - m, 1);
	/* Exit; then nothing is left. */
	ck_assert_int_eq(next_kind(&r, &ev), GEV_PROC_EXIT);
	ck_assert_int_eq(guest_os_ops.os_event(&r.os, &r.cpu, &ev), 0);
	ck_assert_int_eq(guest_os_ops.next_event(&r.os, &r.cpu, &ev, r.cpu.err), 0);

	ck_assert_uint_eq(C(r, CTR_GUEST_IO_REQUESTS), 2);
	ck_assert_uint_eq(C(r, CTR_GUEST_IO_BYTES), 8192 + 64);
	ck_assert_uint_eq(C(r, CTR_GUEST_IO_INTERRUPTS), 3);
	ck_assert_uint_eq(C(r, CTR_GUEST_IO_SPURIOUS), 1);
	ck_assert_uint_eq(C(r, CTR_GUEST_IO_IDLE_HALTS), 3);
	ck_assert_uint_eq(C(r, CTR_GUEST_IO_DESCRIPTORS), 5);
	ck_assert_uint_eq(C(r, CTR_GUEST_IO_PAGES_FAULTED), 2);
	ck_assert_uint_eq(C(r, CTR_GUEST_IO_MMIO), 13 + 1 + 2 + 1 + 1 + 1);
	/* The kernel keeps its 3 ioremap tables and 2 rings. */
	ck_assert_uint_eq(guest_frames_in_use(&r.os), 5);
	rig_destroy(&r);
}
END_TEST

START_TEST(test_guest_nvme_driver)
{
	static const struct guest_event root[] = {
		DEVIO(1, DEVIO_BLK_READ, 0x10000000, 16384, 8), DEVIO(1, DEVIO_BLK_WRITE, 0x10000200, 1024, 40), EXIT(1)};
	struct tsrc s = {0};
	struct rig r;
	struct guest_event ev;
	tsrc_add(&s, 1, root, N(root));
	struct proc_source ps = tsrc_source(&s);
	rig_init(&r);
	rig_start_devs(&r, &ps, &nvme_dev, 1);
	const uint64_t io = GUEST_IOREMAP_BASE;
	/* ioremap tables 0x100000-0x102000, 4 PTEs; admin SQ 0x103000, admin
	 * CQ 0x104000, I/O SQ 0x105000, I/O CQ 0x106000; the process's PML4
	 * 0x107000. AQA, ASQ, ACQ (two halves each), CC, a CSTS load, then
	 * Create I/O CQ (CID 0) in admin slot 0 and SQ 0's tail doorbell = 1. */
	ck_assert_uint_eq(ops_of(&r, 0, GOP_ZERO_PAGE), 8);
	ck_assert_uint_eq(ops_of(&r, 0, GOP_STORE64), 3 + 4 + 2);
	ck_assert_uint_eq(ops_of(&r, 0, GOP_MMIO_WRITE32), 7);
	ck_assert_uint_eq(ops_of(&r, 0, GOP_MMIO_READ32), 1);
	ck_assert_uint_eq(ops_of(&r, 0, GOP_RING_STORE64), 8);
	static const uint64_t probe[7][2] = {
		{0x24, 0x000f000f}, {0x28, 0x103000}, {0x2c, 0}, {0x30, 0x104000}, {0x34, 0}, {0x14, 0x460001}, {0x1000, 1},
	};
	for (size_t i = 0; i < 7; i++)
		ck_op(op_nth(&r, 0, GOP_MMIO_WRITE32, i), io + probe[i][0], probe[i][1]);
	ck_op(op_nth(&r, 0, GOP_MMIO_READ32, 0), io + 0x1c, 0);
	/* Create I/O CQ: CDW0 opcode 5, PRP1 the CQ, CDW10 = 63 << 16 | 1, CDW11 = IEN | PC. */
	const uint64_t cq_cmd[8] = {0x05, 0, 0, 0x106000, 0, (UINT64_C(63) << 16 | 1) | UINT64_C(3) << 32, 0, 0};
	for (size_t i = 0; i < 8; i++)
		ck_op(op_nth(&r, 0, GOP_RING_STORE64, i), 0x103000 + 8 * i, cq_cmd[i]);
	/* The probe waits: the kernel idles even though process 1 could run. */
	ck_assert_int_eq(next_kind(&r, &ev), GEV_HLT);
	size_t m = r.cpu.ops_tail;
	ck_assert_int_eq(guest_os_ops.interrupt(&r.os, &r.cpu, NVME_VEC), 0);
	/* Its completion: CQ entry 0's DW2-3, CQ 0 head = 1; then Create I/O SQ
	 * (CID 1: CDW11 = CQID 1 << 16 | PC) in admin slot 1, tail = 2. */
	ck_assert_uint_eq(r.cpu.ops_tail - m, 1 + 1 + 8 + 1);
	ck_op(op_nth(&r, m, GOP_RING_LOAD64, 0), 0x104000 + 8, 0);
	ck_op(op_nth(&r, m, GOP_MMIO_WRITE32, 0), io + 0x1004, 1);
	const uint64_t sq_cmd[8] = {0x01 | 1 << 16, 0, 0, 0x105000, 0, (UINT64_C(63) << 16 | 1) | UINT64_C(0x10001) << 32,
				    0, 0};
	for (size_t i = 0; i < 8; i++)
		ck_op(op_nth(&r, m, GOP_RING_STORE64, i), 0x103000 + 64 + 8 * i, sq_cmd[i]);
	ck_op(op_nth(&r, m, GOP_MMIO_WRITE32, 1), io + 0x1000, 2);
	ck_assert_int_eq(next_kind(&r, &ev), GEV_HLT);
	m = r.cpu.ops_tail;
	ck_assert_int_eq(guest_os_ops.interrupt(&r.os, &r.cpu, NVME_VEC), 0);
	ck_assert_uint_eq(r.cpu.ops_tail - m, 2);
	ck_op(op_nth(&r, m, GOP_RING_LOAD64, 0), 0x104000 + 16 + 8, 0);
	ck_op(op_nth(&r, m, GOP_MMIO_WRITE32, 0), io + 0x1004, 2);
	ck_assert_uint_eq(guest_io_outstanding(&r.os), 0);

	/* Read 16 KiB at sector 8 into 0x10000000: tables 0x108000-0x10a000,
	 * pages 0x10b000-0x10e000 faulted in; PRP1 = 0x10b000, PRP2 = a PRP
	 * list at 0x10f000 (not zeroed) holding the other 3 pages; CID 2,
	 * NSID 1, SLBA 8, NLB 31; I/O SQ 1 tail doorbell (0x1008) = 1. */
	m = r.cpu.ops_tail;
	ck_assert_int_eq(next_kind(&r, &ev), GEV_DEVIO);
	ck_assert_int_eq(guest_os_ops.os_event(&r.os, &r.cpu, &ev), 0);
	ck_assert_uint_eq(ops_of(&r, m, GOP_ZERO_PAGE), 7);
	ck_assert_uint_eq(ops_of(&r, m, GOP_RING_STORE64), 3 + 8);
	for (size_t i = 0; i < 3; i++)
		ck_op(op_nth(&r, m, GOP_RING_STORE64, i), 0x10f000 + 8 * i, 0x10c000 + 0x1000 * i);
	const uint64_t rd[8] = {0x02 | 2 << 16 | UINT64_C(1) << 32, 0, 0, 0x10b000, 0x10f000, 8, 31, 0};
	for (size_t i = 0; i < 8; i++)
		ck_op(op_nth(&r, m, GOP_RING_STORE64, 3 + i), 0x105000 + 8 * i, rd[i]);
	ck_assert_uint_eq(ops_of(&r, m, GOP_MMIO_WRITE32), 1);
	ck_op(op_nth(&r, m, GOP_MMIO_WRITE32, 0), io + 0x1008, 1);
	ck_assert_uint_eq(guest_frames_in_use(&r.os), 3 + 4 + 1 + 3 + 4 + 1);
	ck_assert_int_eq(next_kind(&r, &ev), GEV_HLT);
	/* Completion: I/O CQ entry 0, CQ 1 head doorbell (0x100c) = 1; the PRP list goes back. */
	m = r.cpu.ops_tail;
	ck_assert_int_eq(guest_os_ops.interrupt(&r.os, &r.cpu, NVME_VEC), 0);
	ck_assert_uint_eq(r.cpu.ops_tail - m, 2);
	ck_op(op_nth(&r, m, GOP_RING_LOAD64, 0), 0x106000 + 8, 0);
	ck_op(op_nth(&r, m, GOP_MMIO_WRITE32, 0), io + 0x100c, 1);
	ck_assert_uint_eq(guest_frames_in_use(&r.os), 3 + 4 + 1 + 3 + 4);
	/* Write 1 KiB from 0x10000200 at sector 40: one page, PRP2 = 0. */
	m = r.cpu.ops_tail;
	ck_assert_int_eq(next_kind(&r, &ev), GEV_DEVIO);
	ck_assert_int_eq(guest_os_ops.os_event(&r.os, &r.cpu, &ev), 0);
	ck_assert_uint_eq(r.cpu.ops_tail - m, 9);
	const uint64_t wr[8] = {0x01 | 3 << 16 | UINT64_C(1) << 32, 0, 0, 0x10b200, 0, 40, 1, 0};
	for (size_t i = 0; i < 8; i++)
		ck_op(op_nth(&r, m, GOP_RING_STORE64, i), 0x105000 + 64 + 8 * i, wr[i]);
	ck_op(op_nth(&r, m, GOP_MMIO_WRITE32, 0), io + 0x1008, 2);
	ck_assert_int_eq(next_kind(&r, &ev), GEV_HLT);
	ck_assert_int_eq(guest_os_ops.interrupt(&r.os, &r.cpu, NVME_VEC), 0);
	ck_op(&r.cpu.ops[r.cpu.ops_tail - 1], io + 0x100c, 2);
	ck_assert_int_eq(next_kind(&r, &ev), GEV_PROC_EXIT);
	ck_assert_int_eq(guest_os_ops.os_event(&r.os, &r.cpu, &ev), 0);
	ck_assert_int_eq(guest_os_ops.next_event(&r.os, &r.cpu, &ev, r.cpu.err), 0);
	ck_assert_uint_eq(C(r, CTR_GUEST_IO_REQUESTS), 2);
	ck_assert_uint_eq(C(r, CTR_GUEST_IO_BYTES), 16384 + 1024);
	ck_assert_uint_eq(C(r, CTR_GUEST_IO_INTERRUPTS), 4);
	ck_assert_uint_eq(C(r, CTR_GUEST_IO_IDLE_HALTS), 4);
	ck_assert_uint_eq(C(r, CTR_GUEST_IO_DESCRIPTORS), 4);
	ck_assert_uint_eq(C(r, CTR_GUEST_IO_PAGES_FAULTED), 4);
	ck_assert_uint_eq(guest_frames_in_use(&r.os), 3 + 4);
	rig_destroy(&r);
}
END_TEST

START_TEST(test_guest_mmap_device_and_errors)
{
	static const struct guest_event root[] = {
		{GEV_MMAP, 0, 0x7f0000000000, 8192, 1, 3 | GEV_MMAP_DEVICE}, EXIT(1)};
	struct tsrc s = {0};
	struct rig r;
	char err[CPU_ERR_LEN];
	tsrc_add(&s, 1, root, N(root));
	struct proc_source ps = tsrc_source(&s);
	const struct guest_dev_info both[2] = {nic_dev, nvme_dev};
	rig_init(&r);
	rig_start_devs(&r, &ps, both, 2);
	/* Both BARs in the ioremap area, the NVMe one after the NIC's 32 pages
	 * and a guard page: 32 + 4 PTEs in one PT. */
	ck_assert_uint_eq(C(r, CTR_GUEST_IO_KERNEL_PT_PAGES), 3);
	ck_assert_uint_eq(ops_of(&r, 0, GOP_MMIO_WRITE32), 13 + 7);
	ck_op(op_nth(&r, 0, GOP_MMIO_WRITE32, 13), GUEST_IOREMAP_BASE + 0x21000 + 0x24, 0x000f000f);
	/* mmap of the NIC's BAR (device 0), 2 pages: PDPT, PD, PT and the two
	 * leaves at once (no fault later). */
	struct guest_event ev;
	while (next_kind(&r, &ev) == GEV_HLT) /* the NVMe probe, completed by hand */
		ck_assert_int_eq(guest_os_ops.interrupt(&r.os, &r.cpu, NVME_VEC), 0);
	size_t m = r.cpu.ops_tail;
	ck_assert_int_eq(ev.kind, GEV_MMAP);
	ck_assert_int_eq(guest_os_ops.os_event(&r.os, &r.cpu, &ev), 0);
	ck_assert_uint_eq(ops_of(&r, m, GOP_STORE64), 3 + 2);
	const uint64_t user_io = PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D | PTE_PCD | PTE_PWT;
	ck_assert_uint_eq(op_nth(&r, m, GOP_STORE64, 3)->val, NIC_BAR | user_io);
	ck_assert_uint_eq(op_nth(&r, m, GOP_STORE64, 4)->val, (NIC_BAR + 4096) | user_io);
	ck_assert_uint_eq(C(r, CTR_GUEST_IO_USER_PAGES), 2);
	const uint64_t kernel_frames = 3 + 2 + 4; /* ioremap tables, NIC rings, NVMe queues */
	ck_assert_uint_eq(guest_frames_in_use(&r.os), kernel_frames + 1 + 3); /* + the PML4, PDPT, PD, PT */
	/* (Not run on the CPU: the drivers' MMIO needs the device windows the
	 * run wiring maps.) Exit unmaps the two pages without freeing them:
	 * only the tables go. */
	ck_assert_int_eq(next_kind(&r, &ev), GEV_PROC_EXIT);
	ck_assert_int_eq(guest_os_ops.os_event(&r.os, &r.cpu, &ev), 0);
	ck_assert_uint_eq(C(r, CTR_GUEST_PAGES_UNMAPPED), 2);
	ck_assert_uint_eq(guest_frames_in_use(&r.os), kernel_frames);
	rig_destroy(&r);

	/* Refused set-ups. */
	struct guest_os os;
	struct counters ctr = {0};
	struct sim_params p;
	struct frontend fe = {event_array_next, NULL};
	params_defaults(&p);
	p.guest_mem_mib = 1024;
	ck_assert_int_eq(guest_init(&os, &p, &ctr, &fe, err), 0);
	struct guest_dev_info bad = nic_dev;
	bad.bar_gpa = 0x3ffff000; /* inside guest memory */
	ck_assert_int_eq(guest_set_devices(&os, &bad, 1, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "above guest memory"));
	bad = nic_dev;
	bad.vector = 0xec;
	ck_assert_int_eq(guest_set_devices(&os, &bad, 1, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "timer"));
	const struct guest_dev_info two[2] = {nic_dev, nic_dev};
	ck_assert_int_eq(guest_set_devices(&os, two, 2, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "a second NIC"));
	ck_assert_int_eq(guest_set_devices(&os, both, 2, err), 0);
	guest_destroy(&os);
}
END_TEST


/* 5-level paging: the ioremap area's entry goes into the kernel's PML4
 * (p4d) that the shared PML5 entry points at, so a new address space
 * copies nothing more; a buffer in a THP region is pinned as a 2 MiB page
 * (one fault) and its PRP entries name that page's 4 KiB pieces. */
START_TEST(test_guest_drivers_la57_and_thp)
{
	static const struct guest_event root[] = {
		{GEV_MMAP, 0, 0x10000000, 4 << 20, 1, 3 | GEV_MMAP_ANON | GEV_MMAP_HUGEPAGE},
		DEVIO(1, DEVIO_BLK_READ, 0x10000000, 8192, 0), EXIT(1)};
	struct tsrc s = {0};
	struct rig r;
	struct guest_event ev;
	tsrc_add(&s, 1, root, N(root));
	struct proc_source ps = tsrc_source(&s);
	rig_init(&r);
	r.p.guest_paging_levels = 5;
	r.p.guest_thp = GUEST_THP_MADVISE;
	rig_start_devs(&r, &ps, &nvme_dev, 1);
	ck_op(op_nth(&r, 0, GOP_STORE64, 1), GUEST_KERNEL_P4D + 8 * 402, 0x100000 | PTE_P | PTE_RW | PTE_A | PTE_D);
	/* ioremap: 3 + 4 PTEs; the process's PML5 (0x107000): only its kernel entry. */
	ck_assert_uint_eq(ops_of(&r, 0, GOP_STORE64), 3 + 4 + 1);
	ck_op(op_nth(&r, 0, GOP_STORE64, 7), 0x107000 + 8 * 511, GUEST_KERNEL_P4D | PTE_P | PTE_RW | PTE_A | PTE_D);
	while (next_kind(&r, &ev) == GEV_HLT)
		ck_assert_int_eq(guest_os_ops.interrupt(&r.os, &r.cpu, NVME_VEC), 0);
	ck_assert_int_eq(guest_os_ops.os_event(&r.os, &r.cpu, &ev), 0); /* the mmap */
	size_t m = r.cpu.ops_tail;
	ck_assert_int_eq(next_kind(&r, &ev), GEV_DEVIO);
	ck_assert_int_eq(guest_os_ops.os_event(&r.os, &r.cpu, &ev), 0);
	/* The 2 MiB frame at 0x200000 (the first 2 MiB-aligned one past the
	 * kernel's 8 frames), cleared page by page; P4D, PDPT, PD built. */
	ck_assert_uint_eq(C(r, CTR_GUEST_THP_MAPPED), 1);
	ck_assert_uint_eq(C(r, CTR_GUEST_IO_PAGES_FAULTED), 1);
	ck_assert_uint_eq(ops_of(&r, m, GOP_ZERO_PAGE), 512 + 3);
	ck_assert_uint_eq(op_nth(&r, m, GOP_RING_STORE64, 3)->val, 0x200000);
	ck_assert_uint_eq(op_nth(&r, m, GOP_RING_STORE64, 4)->val, 0x201000);
	ck_assert_uint_eq(ops_of(&r, m, GOP_RING_STORE64), 8);
	rig_destroy(&r);
}
END_TEST


/* ---- the drivers against src/dev's models ------------------------------- *
 *
 * A bench that stands in for the CPU side (not yet there): it executes the
 * operations the kernel queues (stores and zeroing into memory, ring loads
 * and stores at their GPA, MMIO through the kernel's own ioremap tables,
 * read from memory, to the device whose BAR the PTE names), gives the
 * devices a port onto that memory (bus address = GPA, no IOMMU), delivers
 * their MSIs to the kernel's interrupt entry, calls the wire for a receive
 * as the CPU does on reaching the event, and runs the devices' callbacks in
 * time order whenever the kernel halts.
 */

struct bench {
	struct rig r;
	struct pci_dev *dev[2];
	uint64_t due[2];      /* a callback's cycle, UINT64_MAX = none */
	uint64_t now;         /* the bench's clock, cycles */
	unsigned msi[8], nmsi; /* vectors sent, not yet delivered */
	uint64_t halts, wire_rx;
};

static int bench_dma(void *ctx, uint16_t sid, uint64_t addr, uint32_t len, bool write, uint64_t *words, char *err)
{
	struct bench *b = ctx;
	(void)sid;
	(void)err;
	for (uint32_t i = 0; words && i < len / 8; i++) {
		if (write)
			ck_assert_int_eq(mem_write64(&b->r.mem, addr + 8 * i, words[i]), 0);
		else
			words[i] = mem_read64(&b->r.mem, addr + 8 * i);
	}
	return 0;
}

static int bench_msi(void *ctx, uint16_t sid, uint64_t addr, uint32_t data, char *err)
{
	struct bench *b = ctx;
	(void)sid;
	(void)err;
	ck_assert_uint_eq(addr, 0xfee00000);
	ck_assert_uint_lt(b->nmsi, 8);
	b->msi[b->nmsi++] = data & 0xff;
	return 0;
}

static int bench_schedule(void *ctx, struct pci_dev *d, uint64_t delay, char *err)
{
	struct bench *b = ctx;
	(void)err;
	b->due[d == b->dev[1]] = b->now + delay;
	return 0;
}

/* The GPA a kernel linear address of the ioremap area maps (4-level). */
static uint64_t bench_ioremap_gpa(struct bench *b, uint64_t la)
{
	uint64_t t = GUEST_SWAPPER_PML4;
	for (int level = 4; level >= 1; level--) {
		uint64_t e = mem_read64(&b->r.mem, t + 8 * pt_index(la, level));
		ck_assert_msg(e & PTE_P, "ioremap of 0x%lx not present at level %d", (unsigned long)la, level);
		if (level == 1) {
			ck_assert_uint_eq(e & (PTE_PCD | PTE_PWT), PTE_PCD | PTE_PWT);
			return (e & PHYS_ADDR_MASK) | (la & 0xfff);
		}
		t = e & PHYS_ADDR_MASK;
	}
	return 0;
}

/* Execute what the kernel queued. */
static void bench_ops(struct bench *b)
{
	char err[DEV_ERR_LEN];
	struct cpu *c = &b->r.cpu;
	for (size_t i = c->ops_head; i < c->ops_tail; i++) {
		const struct guest_op *op = &c->ops[i];
		uint64_t gpa, v;
		switch (op->kind) {
		case GOP_ZERO_PAGE:
			mem_zero_page(&b->r.mem, op->addr);
			break;
		case GOP_STORE64:
		case GOP_RING_STORE64:
			ck_assert_int_eq(mem_write64(&b->r.mem, op->addr, op->val), 0);
			break;
		case GOP_RING_LOAD64:
			(void)mem_read64(&b->r.mem, op->addr);
			break;
		case GOP_MMIO_READ32:
		case GOP_MMIO_WRITE32:
			gpa = bench_ioremap_gpa(b, op->addr);
			for (int k = 0; k < 2; k++) {
				struct pci_dev *d = b->dev[k];
				uint64_t base = k ? NVME_BAR : NIC_BAR;
				if (!d || gpa < base || gpa >= base + dev_bar_size(d))
					continue;
				int rc = op->kind == GOP_MMIO_WRITE32 ? dev_mmio_write(d, gpa - base, 4, op->val, err)
								      : dev_mmio_read(d, gpa - base, 4, &v, err);
				ck_assert_msg(rc == 0, "%s", err);
			}
			break;
		default:
			break;
		}
	}
	c->ops_head = c->ops_tail = 0;
}

/* Run the guest to its end. */
static void bench_run(struct bench *b)
{
	char err[CPU_ERR_LEN];
	struct guest_event ev;
	for (;;) {
		bench_ops(b);
		if (b->nmsi) {
			unsigned v = b->msi[0];
			memmove(b->msi, b->msi + 1, --b->nmsi * sizeof(b->msi[0]));
			ck_assert_int_eq(guest_os_ops.interrupt(&b->r.os, &b->r.cpu, v), 0);
			continue;
		}
		int n = guest_os_ops.next_event(&b->r.os, &b->r.cpu, &ev, err);
		ck_assert_msg(n >= 0, "%s", err);
		if (n == 0)
			break;
		if (ev.kind == GEV_HLT) {
			b->halts++;
			int k = b->due[0] <= b->due[1] ? 0 : 1;
			ck_assert_msg(b->due[k] != UINT64_MAX, "the kernel halts and no device has work: a hang");
			b->now = b->due[k];
			b->due[k] = UINT64_MAX;
			ck_assert_msg(dev_event(b->dev[k], err) == 0, "%s", err);
			continue;
		}
		if (ev.kind == GEV_DEVIO && ev.arg == DEVIO_NET_RX) {
			ck_assert_msg(nic_wire_rx(b->dev[0], (uint32_t)ev.len, err) == 0, "%s", err);
			b->wire_rx++;
		}
		ck_assert_msg(guest_os_ops.os_event(&b->r.os, &b->r.cpu, &ev) == 0, "%s", b->r.cpu.err);
	}
	bench_ops(b);
}

START_TEST(test_guest_drivers_with_device_models)
{
	static const struct guest_event root[] = {
		DEVIO(1, DEVIO_NET_RX, 0x10000000, 8192, 0), DEVIO(1, DEVIO_NET_TX, 0x10002000, 64, 0),
		DEVIO(1, DEVIO_BLK_READ, 0x10000000, 16384, 8), DEVIO(1, DEVIO_NET_RX, 0x10000000, 4096, 0),
		DEVIO(1, DEVIO_BLK_WRITE, 0x10001000, 512, 1000), EXIT(1)};
	static struct bench b;
	struct tsrc s = {0};
	char err[DEV_ERR_LEN];
	struct dev_params dp;
	const struct guest_dev_info both[2] = {nic_dev, nvme_dev};
	memset(&b, 0, sizeof(b));
	b.due[0] = b.due[1] = UINT64_MAX;
	tsrc_add(&s, 1, root, N(root));
	struct proc_source ps = tsrc_source(&s);
	rig_init(&b.r);
	dev_params_from(&b.r.p, &dp);
	struct dma_port port = {bench_dma, bench_msi, bench_schedule, &b};
	for (int k = 0; k < 2; k++) {
		b.dev[k] = dev_create(both[k].kind, k ? "nvme" : "nic", both[k].sid, 64, &dp, port, &b.r.ctr, err);
		ck_assert_msg(b.dev[k] != NULL, "%s", err);
		dev_set_msi(b.dev[k], 0xfee00000, both[k].vector, true);
	}
	rig_start_devs(&b.r, &ps, both, 2);
	bench_run(&b);
	/* The frames and commands went through: probe (Create I/O CQ and SQ),
	 * RX 8 KiB, TX 64 B, Read 16 KiB, RX 4 KiB, Write 512 B. */
	ck_assert_uint_eq(C(b.r, CTR_DEV_NIC_RX_FRAMES), 2);
	ck_assert_uint_eq(C(b.r, CTR_DEV_NIC_RX_BYTES), 8192 + 4096);
	ck_assert_uint_eq(C(b.r, CTR_DEV_NIC_RX_MISSED), 0);
	ck_assert_uint_eq(C(b.r, CTR_DEV_NIC_TX_FRAMES), 1);
	ck_assert_uint_eq(C(b.r, CTR_DEV_NIC_TX_BYTES), 64);
	ck_assert_uint_eq(C(b.r, CTR_DEV_NVME_CMDS), 4);
	ck_assert_uint_eq(C(b.r, CTR_DEV_NVME_ERRORS), 0);
	ck_assert_uint_eq(C(b.r, CTR_DEV_NVME_READ_BYTES), 16384);
	ck_assert_uint_eq(C(b.r, CTR_DEV_NVME_WRITE_BYTES), 512);
	ck_assert_uint_eq(C(b.r, CTR_DEV_DMA_BLOCKED), 0);
	/* One MSI per completion, each handled: 2 admin + 3 NIC + 2 I/O. */
	ck_assert_uint_eq(C(b.r, CTR_DEV_MSI), 7);
	ck_assert_uint_eq(C(b.r, CTR_GUEST_IO_INTERRUPTS), 7);
	ck_assert_uint_eq(C(b.r, CTR_GUEST_IO_SPURIOUS), 0);
	ck_assert_uint_eq(C(b.r, CTR_GUEST_IO_REQUESTS), 5);
	ck_assert_uint_eq(C(b.r, CTR_GUEST_IO_BYTES), 8192 + 64 + 16384 + 4096 + 512);
	ck_assert_uint_eq(b.wire_rx, 2);
	/* Every completion is one device callback (the engine's one timed step:
	 * an admin command, a frame's wire time, a command's latency), which
	 * the kernel waits for halted: 7 halts, all the idle loop's. */
	ck_assert_uint_eq(b.halts, 7);
	ck_assert_uint_eq(C(b.r, CTR_GUEST_IO_IDLE_HALTS), 7);
	/* What the devices wrote back, read in memory. RX ring 0x103000: the
	 * first frame's 4 descriptors, 2048 B each, DD, EOP on the last; the
	 * second frame's 2 after them. TX ring 0x104000: 64 B, CMD 0x0b, DD. */
	const uint64_t dd = UINT64_C(1) << 32, eop = UINT64_C(2) << 32;
	for (int i = 0; i < 6; i++)
		ck_assert_uint_eq(mem_read64(&b.r.mem, 0x103000 + 16 * i + 8), 2048 | dd | (i == 3 || i == 5 ? eop : 0));
	ck_assert_uint_eq(mem_read64(&b.r.mem, 0x104000 + 8), 64 | UINT64_C(0x0b) << 24 | dd);
	/* Frames: ioremap tables 0x100000-0x102000, NIC rings 0x103000 and
	 * 0x104000, NVMe admin SQ 0x105000, admin CQ 0x106000, I/O SQ 0x107000,
	 * I/O CQ 0x108000. Admin CQ entries: CID 0 and 1, phase 1, status 0;
	 * I/O CQ: CID 2 and 3. DW3 = CID | P << 16 | status << 17. */
	for (int i = 0; i < 2; i++) {
		ck_assert_uint_eq(mem_read64(&b.r.mem, 0x106000 + 16 * i + 8) >> 32, (uint64_t)i | 1u << 16);
		ck_assert_uint_eq(mem_read64(&b.r.mem, 0x108000 + 16 * i + 8) >> 32, (uint64_t)(i + 2) | 1u << 16);
	}
	ck_assert_int_eq(guest_find(&b.r.os, 1)->state, PROC_REAPED);
	ck_assert_uint_eq(guest_io_outstanding(&b.r.os), 0);
	for (int k = 0; k < 2; k++)
		dev_destroy(b.dev[k]);
	rig_destroy(&b.r);
}
END_TEST

static Suite *guest_suite(void)
{
	Suite *s = suite_create("guest");
	TCase *tc = tcase_create("processes");
	tcase_add_test(tc, test_guest_fork_wait_exit);
	tcase_add_test(tc, test_guest_exec_replaces_the_address_space);
	tcase_add_test(tc, test_guest_wait_rules);
	tcase_add_test(tc, test_guest_errors);
	tcase_add_test(tc, test_guest_round_robin_with_pcids);
	tcase_add_test(tc, test_guest_timeslice);
	tcase_add_test(tc, test_guest_asid_reuse);
	suite_add_tcase(s, tc);
	tc = tcase_create("drivers");
	tcase_add_test(tc, test_guest_nic_driver);
	tcase_add_test(tc, test_guest_nvme_driver);
	tcase_add_test(tc, test_guest_mmap_device_and_errors);
	tcase_add_test(tc, test_guest_drivers_la57_and_thp);
	tcase_add_test(tc, test_guest_drivers_with_device_models);
	suite_add_tcase(s, tc);
	tc = tcase_create("traceset");
	tcase_add_test(tc, test_traceset_fork_exec_and_orphans);
	tcase_add_test(tc, test_traceset_errors);
	tcase_add_test(tc, test_traceset_checksum);
	tcase_add_test(tc, test_lackey_waits_and_spawn);
	tcase_add_test(tc, test_traceset_real_logs);
	tcase_add_test(tc, test_traceset_shipped_pipeline);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(guest_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
