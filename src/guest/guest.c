/*
 * Notes: the guest kernel for trace replay.
 *  - Demand paging of anonymous-style memory: every canonical address a
 *    trace touches is mapped read/write/user on first touch (traces come
 *    from programs that ran correctly, so no access is illegal); a
 *    protection fault is therefore a simulator error and stops the run.
 *  - Page-table entries carry P|RW|US|A|D for tables (Linux _PAGE_TABLE)
 *    and P|RW|US|A (+D on a write fault) for 4 KiB data pages, as Linux's
 *    anonymous fault path writes them; NX is not used.
 *  - Transparent huge pages (guest.thp, Linux mm/huge_memory.c): the kernel
 *    keeps each process's regions (mmap'd VMAs as the front end reports
 *    them, and the heap [first break, break)); the stack and anything else
 *    touched are no region (the trace-driven guest does not know them) and
 *    get 4 KiB pages, and so do file mappings (Linux gives huge pages at
 *    fault time to anonymous memory only). With thp=always (madvise: only
 *    regions marked GEV_MMAP_HUGEPAGE) a fault whose aligned 2 MiB range
 *    lies wholly in one anonymous region (or the heap) and has no page
 *    table yet takes a 2 MiB guest frame
 *    (order 9), clears its 512 pages through the direct map
 *    (clear_huge_page) and writes a PDE with PS = 1
 *    (do_huge_pmd_anonymous_page); without a free 2 MiB frame it falls
 *    back to 4 KiB. An unmap that covers part of a huge page first splits
 *    it (split_huge_pmd): a new page table with 512 PTEs for the same
 *    frames, the PDE pointed at it, INVLPG of the 2 MiB page; a huge page
 *    covered whole is unmapped whole. No khugepaged (no collapse), no
 *    mprotect (front ends report none), no 1 GiB guest pages.
 *  - mmap over existing pages replaces them (MAP_FIXED semantics); munmap,
 *    brk shrink and exit free data pages and page-table pages that become
 *    empty, then invalidate the span of pages unmapped: INVLPG per page up
 *    to guest.tlb_flush_ceiling pages, else one CR3 reload (Linux
 *    flush_tlb_mm_range); a whole address space is flushed once.
 *  - User references to the kernel half (e.g. a legacy vsyscall page) are
 *    refused as trace errors, as the process would get SIGSEGV.
 *  - Processes: a table of every process created; each has its own PML4
 *    (sharing the kernel-half entry, as pgd_alloc copies it) and page
 *    tables built on demand. Threads (CLONE_VM clones) share their
 *    process's address space and event stream, as lackey logs them in one
 *    file in the order valgrind ran them; only their count is kept.
 *  - fork/clone/vfork (GEV_PROC_CREATE of a process): the child gets a
 *    fresh PML4 and demand paging, its event stream from the source, and
 *    the parent's program break; it joins the tail of the run queue and the
 *    parent runs on (sched_child_runs_first = 0). Linux instead copies the
 *    parent's page tables for anonymous memory (dup_mmap ->
 *    copy_page_range: a PTE store per present page, both sides
 *    write-protected, a TLB flush of the parent) and takes a COW fault on
 *    the first write of either side, while file-backed pages are refaulted
 *    by the child as here. We approximate that by the child faulting in
 *    (and zeroing) every page it touches: no copy at fork, no
 *    write-protection, no parent flush, a zeroing instead of a copy per
 *    COW page, and no sharing of frames. vfork and posix_spawn
 *    (CLONE_VM|CLONE_VFORK) are a fork here, as valgrind ran them: Linux
 *    would share the parent's mm until exec and suspend the parent.
 *  - execve (GEV_EXEC): exec_mmap: a new PML4, CR3 switched to it, then the
 *    old address space torn down without a TLB flush (it is no longer
 *    loaded; its PCID is retired with it); the break is forgotten.
 *  - exit (GEV_PROC_EXIT, or the end of a process's stream, which is death
 *    by a signal, e.g. SIGPIPE: torn down alike, but only exit events count
 *    in guest.proc.exit): the whole user half is unmapped, CR3 goes to
 *    swapper_pg_dir if anything was mapped, the PML4 is freed; a stream
 *    must have no event after its exit. The process stays a zombie until
 *    its parent waits for it; its children go to init (reaped at once).
 *  - wait4/waitid (GEV_WAIT): reaps a zombie child that matches; else,
 *    without WNOHANG and with a live matching child, blocks the process
 *    until such a child exits (the exit reaps it and wakes the parent);
 *    with no matching child it returns at once (ECHILD). Device I/O
 *    (GEV_DEVIO) blocks the process until its completion interrupt, and
 *    while nothing can run but I/O is outstanding the idle loop halts
 *    (next_event gives GEV_HLT); see drivers.c. Other blocking (pipes,
 *    sleeps) is not modelled: a reader runs whenever it is scheduled.
 *  - Scheduling: round robin over one FIFO run queue. A timer tick
 *    (os_interrupt) marks the running process for preemption when another
 *    is runnable and it has run guest.timeslice_ms (0: at every tick, as
 *    CFS with two or more runnable tasks at HZ=250: a 6 ms latency shared
 *    is shorter than the 4 ms tick); the switch happens when the process
 *    asks for its next event (the instruction in flight, which the CPU
 *    holds, completes first), as Linux preempts on return from the
 *    interrupt. A process that blocks or ends hands over at once.
 *  - Context switch = switch_mm: a MOV to CR3 of the next process's PML4.
 *    Without PCIDs every load flushes. With guest.pcid, CR4.PCIDE is set
 *    and each address space gets one of GUEST_NR_ASIDS ASIDs per CPU
 *    (PCID = ASID + 1) as Linux's choose_new_asid: a switch back to an
 *    address space that still owns its ASID sets CR3 bit 63 (no flush);
 *    otherwise the next ASID in turn is taken and the load flushes it. The
 *    cost of the switch code itself (registers, FPU, scheduler) is not
 *    charged; its TLB and walk effects are.
 *  - Premapped pages (guest_set_premap, a lab setup's maps): the first
 *    process's address space gets them at boot, tables and leaves written
 *    by the kernel's own stores with the flags given, before its first
 *    event; their frames lie above the kernel's own (which are then
 *    limited to below them) and are never freed.
 *  - The kernel's bookkeeping (which tables exist, their present-entry
 *    counts, which pages are mapped, the process table) is its own software
 *    state, like Linux's struct page and task_struct; every
 *    hardware-visible change goes through cpu_guest_op().
 */
#include "guest/guest.h"
#include "guest/guest_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/paging.h"
#include "util/u64vec.h"

#define TABLE_FLAGS (PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D)
#define KERNEL_TABLE_FLAGS (PTE_P | PTE_RW | PTE_A | PTE_D)
#define DIRECT_MAP_FLAGS (PTE_P | PTE_RW | PTE_A | PTE_D | PTE_PS | PTE_G | PTE_XD)
#define PAGE_FLAGS (PTE_P | PTE_RW | PTE_US | PTE_A)
#define COUNT_MASK UINT64_C(0xfff)
#define USER_TOP (UINT64_C(1) << 47)

/* How an unmapping invalidates the TLB. */
enum flush_mode {
	FLUSH_SPAN, /* munmap/brk of the running process: INVLPG the span, or reload CR3 */
	FLUSH_EXIT, /* the running process's whole address space: CR3 to swapper_pg_dir */
	FLUSH_NONE, /* an address space no longer loaded (exec's old one) */
};

/* Key of the level-L table (L = 1 PT ... 3 PDPT, 4 PML4 under 5-level paging) that covers la. */
static inline uint64_t table_key(int level, uint64_t la)
{
	return ((uint64_t)level << 56) | ((la >> (PAGE_SHIFT + PT_INDEX_BITS * level)) & ((UINT64_C(1) << 48) - 1));
}

/* ---- set-up ----------------------------------------------------------- */

static int single_open(void *ctx, uint32_t pid, struct frontend *fe, char *err)
{
	struct guest_os *os = ctx;
	(void)err;
	if (pid != os->src.root)
		return 1; /* a child of the traced process: not traced */
	*fe = os->single;
	return 0;
}

static void single_close(void *ctx, uint32_t pid)
{
	(void)ctx;
	(void)pid;
}

static int init_common(struct guest_os *os, const struct sim_params *p, struct counters *ctr, char *err)
{
	os->p = p;
	os->ctr = ctr;
	/* Guest-physical frames from 1 MiB up (the first MiB is firmware's, as on a PC). */
	frame_alloc_init(&os->frames, UINT64_C(1) << 20, (p->guest_mem_mib << 20) - (UINT64_C(1) << 20));
	os->cr0 = CR0_PE | CR0_NE | CR0_WP | CR0_PG;
	os->cr4 = CR4_PAE | CR4_PGE | (p->guest_paging_levels == 5 ? CR4_LA57 : 0);
	os->efer = EFER_LME | EFER_LMA | EFER_NXE;
	os->next_asid = 1; /* ASID 0 is init_mm's, as at Linux boot */
	if (u64map_init(&os->by_pid, 64) < 0) {
		snprintf(err, CPU_ERR_LEN, "out of memory");
		guest_destroy(os);
		return -1;
	}
	return 0;
}

/* One traced process; see guest.h. */
int guest_init(struct guest_os *os, const struct sim_params *p, struct counters *ctr, const struct frontend *src,
	       char *err)
{
	memset(os, 0, sizeof(*os));
	os->single = *src;
	os->src = (struct proc_source){0, single_open, single_close, os};
	return init_common(os, p, ctr, err);
}

/* Processes from a multi-process source; see guest.h. */
int guest_init_procs(struct guest_os *os, const struct sim_params *p, struct counters *ctr,
		     const struct proc_source *src, char *err)
{
	memset(os, 0, sizeof(*os));
	os->src = *src;
	return init_common(os, p, ctr, err);
}

/* PCIDs and time slice; see guest.h. */
void guest_set_sched(struct guest_os *os, bool pcid, uint64_t timeslice_cycles)
{
	os->pcid = pcid;
	os->timeslice_cycles = timeslice_cycles;
	if (pcid)
		os->cr4 |= CR4_PCIDE;
	else
		os->cr4 &= ~CR4_PCIDE;
}

/* Free the bookkeeping; see guest.h. */
void guest_destroy(struct guest_os *os)
{
	for (size_t i = 0; i < os->nprocs; i++) {
		struct guest_proc *pr = os->procs[i];
		u64map_free(&pr->tables);
		u64map_free(&pr->pages);
		u64map_free(&pr->huge);
		u64vec_free(&pr->vmas);
		if (pr != &os->proc)
			free(pr);
	}
	free(os->procs);
	os->procs = NULL;
	drivers_free(os);
	os->nprocs = 0;
	u64map_free(&os->by_pid);
	frame_alloc_destroy(&os->frames);
}

/* Frames in use; see guest.h. */
uint64_t guest_frames_in_use(const struct guest_os *os)
{
	return os->frames.in_use;
}

/* Process by pid; see guest.h. */
const struct guest_proc *guest_find(const struct guest_os *os, uint32_t pid)
{
	uint64_t *v = u64map_get(&os->by_pid, pid);
	return v ? os->procs[*v] : NULL;
}

/* PML4 of a live process; see guest.h. */
uint64_t guest_pml4(const struct guest_os *os, uint32_t pid)
{
	const struct guest_proc *pr = guest_find(os, pid);
	return pr && pr->live ? pr->pml4 : 0;
}

/* ---- frames and page-table pages -------------------------------------- */

static int alloc_frame(struct guest_os *os, struct cpu *cpu, uint64_t *gpa)
{
	*gpa = frame_alloc_get(&os->frames);
	if (!*gpa)
		return cpu_fail(cpu, "guest out of memory: all %" PRIu64 " MiB of guest-physical memory in use "
				     "(raise guest.mem_mib)", os->p->guest_mem_mib);
	return cpu_guest_op(cpu, GOP_ZERO_PAGE, *gpa, 0);
}

static int free_frame(struct guest_os *os, struct cpu *cpu, uint64_t gpa)
{
	if (os->own_limit && gpa >= os->own_limit)
		return 0; /* a premapped page's frame: the image's, not the kernel's */
	if (gpa >= os->p->guest_mem_mib << 20)
		return 0; /* a device's register page (mmap of a BAR): not a frame */
	if (frame_alloc_put(&os->frames, gpa) < 0)
		return cpu_fail(cpu, "out of memory");
	return 0;
}

static void peak(struct guest_os *os, enum counter_id id, uint64_t v)
{
	if (os->ctr->v[id] < v)
		os->ctr->v[id] = v;
}

/* A page-table page of pr: allocated (zeroed) and counted. */
static int pt_alloc(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr, uint64_t *gpa)
{
	if (alloc_frame(os, cpu, gpa) < 0)
		return -1;
	ctr_inc(os->ctr, CTR_GUEST_PT_PAGES);
	if (++pr->pt_pages > pr->pt_peak) {
		pr->pt_peak = pr->pt_pages;
		peak(os, CTR_GUEST_PROC_PT_PAGES_PEAK, pr->pt_peak);
	}
	peak(os, CTR_GUEST_PT_PAGES_PEAK, ++os->pt_pages);
	return 0;
}

static int pt_free(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr, uint64_t gpa)
{
	ctr_inc(os->ctr, CTR_GUEST_PT_PAGES_FREED);
	pr->pt_pages--;
	os->pt_pages--;
	return free_frame(os, cpu, gpa);
}

/* Paging levels of every address space: 4, or 5 with CR4.LA57. */
static int paging_levels(const struct guest_os *os)
{
	return (os->cr4 & CR4_LA57) ? 5 : 4;
}

/* The kernel-half top-level entry every address space shares: with 4
 * levels the PML4E of the direct map (-> its PDPT), with 5 the PML5E
 * (-> the kernel PML4, Linux's p4d, whose entry points at that PDPT). */
static uint64_t kernel_top_entry(const struct guest_os *os)
{
	return (paging_levels(os) == 5 ? GUEST_KERNEL_P4D : GUEST_KERNEL_PDPT) | KERNEL_TABLE_FLAGS;
}

/* The kernel image; see guest.h. */
int guest_image(const struct guest_os *os, int (*store)(void *ctx, uint64_t gpa, uint64_t val), void *ctx)
{
	const int top = paging_levels(os);
	int rc = store(ctx, GUEST_SWAPPER_PML4 + 8 * pt_index(GUEST_DIRECT_MAP_BASE, top), kernel_top_entry(os));
	if (rc == 0 && top == 5)
		rc = store(ctx, GUEST_KERNEL_P4D + 8 * pt_index(GUEST_DIRECT_MAP_BASE, 4),
			   GUEST_KERNEL_PDPT | KERNEL_TABLE_FLAGS);
	uint64_t gib = (os->p->guest_mem_mib + 1023) / 1024;
	for (uint64_t i = 0; i < gib && rc == 0; i++)
		rc = store(ctx, GUEST_KERNEL_PDPT + 8 * (pt_index(GUEST_DIRECT_MAP_BASE, 3) + i),
			   (i << 30) | DIRECT_MAP_FLAGS);
	return rc;
}

/* A new, empty address space for pr (pgd_alloc): a PML4 sharing the
 * kernel half. The bookkeeping maps must be initialised and empty. */
static int mm_create(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr)
{
	if (pt_alloc(os, cpu, pr, &pr->pml4) < 0)
		return -1;
	pr->mm_id = ++os->next_mm_id;
	pr->levels = (uint8_t)paging_levels(os);
	unsigned io_index;
	uint64_t io_entry;
	if (drivers_top_entry(os, &io_index, &io_entry) &&
	    cpu_guest_op(cpu, GOP_STORE64, pr->pml4 + 8 * io_index, io_entry) < 0)
		return -1;
	return cpu_guest_op(cpu, GOP_STORE64, pr->pml4 + 8 * pt_index(GUEST_DIRECT_MAP_BASE, pr->levels),
			    kernel_top_entry(os));
}

/* ---- page tables ------------------------------------------------------- */

/* GPA of the level-L table covering la (L = pr->levels is the top-level
 * table: the PML4, or the PML5), 0 if absent. */
static uint64_t table_gpa(const struct guest_proc *pr, int level, uint64_t la)
{
	if (level == pr->levels)
		return pr->pml4;
	uint64_t *v = u64map_get(&pr->tables, table_key(level, la));
	return v ? *v & ~COUNT_MASK : 0;
}

/* Adjust the present-entry count of the level-L table covering la. */
static uint64_t table_count_add(struct guest_proc *pr, int level, uint64_t la, int delta)
{
	if (level == pr->levels)
		return 1; /* the top-level table lives as long as the address space */
	uint64_t *v = u64map_get(&pr->tables, table_key(level, la));
	*v = (*v & ~COUNT_MASK) | ((*v & COUNT_MASK) + (uint64_t)(int64_t)delta);
	return *v & COUNT_MASK;
}

/* Build the missing tables above level `level` for la, down to the
 * level-`level` table (1: the PT a 4 KiB page needs, 2: the PD of a 2 MiB
 * page), each zeroed and linked by a guest-kernel store. */
static int build_tables(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr, uint64_t la, int level)
{
	for (int l = pr->levels; l > level; l--) {
		if (table_gpa(pr, l - 1, la))
			continue;
		uint64_t child;
		if (pt_alloc(os, cpu, pr, &child) < 0)
			return -1;
		if (u64map_put(&pr->tables, table_key(l - 1, la), child) < 0)
			return cpu_fail(cpu, "out of memory");
		uint64_t parent = table_gpa(pr, l, la);
		if (cpu_guest_op(cpu, GOP_STORE64, parent + 8 * pt_index(la, l), child | TABLE_FLAGS) < 0)
			return -1;
		table_count_add(pr, l, la, +1);
	}
	return 0;
}

/* Map the 4 KiB page containing la, building missing tables. */
static int map_page(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr, uint64_t la, bool write)
{
	if (build_tables(os, cpu, pr, la, 1) < 0)
		return -1;
	uint64_t page;
	if (alloc_frame(os, cpu, &page) < 0)
		return -1;
	if (u64map_put(&pr->pages, la >> PAGE_SHIFT, page) < 0)
		return cpu_fail(cpu, "out of memory");
	uint64_t pt = table_gpa(pr, 1, la);
	if (cpu_guest_op(cpu, GOP_STORE64, pt + 8 * pt_index(la, 1), page | PAGE_FLAGS | (write ? PTE_D : 0)) < 0)
		return -1;
	table_count_add(pr, 1, la, +1);
	ctr_inc(os->ctr, CTR_GUEST_PAGES_MAPPED);
	return 0;
}

/* ---- for the device drivers (guest_internal.h) ------------------------- */

int guest_alloc_frame(struct guest_os *os, struct cpu *cpu, uint64_t *gpa)
{
	return alloc_frame(os, cpu, gpa);
}

int guest_alloc_frame_raw(struct guest_os *os, struct cpu *cpu, uint64_t *gpa)
{
	*gpa = frame_alloc_get(&os->frames);
	if (!*gpa)
		return cpu_fail(cpu, "guest out of memory: all %" PRIu64 " MiB of guest-physical memory in use "
				     "(raise guest.mem_mib)", os->p->guest_mem_mib);
	return 0;
}

int guest_free_frame(struct guest_os *os, struct cpu *cpu, uint64_t gpa)
{
	return free_frame(os, cpu, gpa);
}

int guest_map_io_page(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr, uint64_t la, uint64_t gpa,
		      uint64_t flags)
{
	if (build_tables(os, cpu, pr, la, 1) < 0)
		return -1;
	if (u64map_put(&pr->pages, la >> PAGE_SHIFT, gpa) < 0)
		return cpu_fail(cpu, "out of memory");
	if (cpu_guest_op(cpu, GOP_STORE64, table_gpa(pr, 1, la) + 8 * pt_index(la, 1), gpa | flags) < 0)
		return -1;
	table_count_add(pr, 1, la, +1);
	ctr_inc(os->ctr, CTR_GUEST_PAGES_MAPPED);
	return 0;
}

/* Premapped pages; see guest.h. */
int guest_set_premap(struct guest_os *os, const struct guest_premap *m, size_t n, uint64_t limit, char *err)
{
	const uint64_t mem = os->p->guest_mem_mib << 20;
	if (limit <= (UINT64_C(1) << 20) || (limit & (PAGE_SIZE - 1)) || limit > mem) {
		snprintf(err, CPU_ERR_LEN, "premapped pages: the kernel's frames must end between 1 MiB and guest memory "
			 "(%" PRIu64 " MiB), 4 KiB aligned, not at 0x%" PRIx64, os->p->guest_mem_mib, limit);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if ((m[i].gva | m[i].gpa) & (PAGE_SIZE - 1) || m[i].gva >= USER_TOP) {
			snprintf(err, CPU_ERR_LEN, "premapped page GVA 0x%" PRIx64 ": a 4 KiB aligned user address and GPA, "
				 "please", m[i].gva);
			return -1;
		}
		if (m[i].gpa < limit || m[i].gpa + PAGE_SIZE > mem) {
			snprintf(err, CPU_ERR_LEN, "premapped page GVA 0x%" PRIx64 " -> GPA 0x%" PRIx64 ": the GPA must lie in "
				 "[0x%" PRIx64 ", 0x%" PRIx64 ") (guest.mem_mib %" PRIu64 ")", m[i].gva, m[i].gpa, limit, mem,
				 os->p->guest_mem_mib);
			return -1;
		}
	}
	frame_alloc_destroy(&os->frames);
	frame_alloc_init(&os->frames, UINT64_C(1) << 20, limit - (UINT64_C(1) << 20));
	os->premap = m;
	os->npremap = n;
	os->own_limit = limit;
	return 0;
}

/* Boot: the premapped pages into pr's fresh address space (map_page with
 * the page and flags given). */
static int premap_pages(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr)
{
	for (size_t i = 0; i < os->npremap; i++) {
		const struct guest_premap *m = &os->premap[i];
		uint64_t la = m->gva;
		for (int level = pr->levels; level >= 2; level--) {
			if (table_gpa(pr, level - 1, la))
				continue;
			uint64_t child;
			if (pt_alloc(os, cpu, pr, &child) < 0)
				return -1;
			if (u64map_put(&pr->tables, table_key(level - 1, la), child) < 0)
				return cpu_fail(cpu, "out of memory");
			if (cpu_guest_op(cpu, GOP_STORE64, table_gpa(pr, level, la) + 8 * pt_index(la, level),
					 child | TABLE_FLAGS) < 0)
				return -1;
			table_count_add(pr, level, la, +1);
		}
		if (u64map_put(&pr->pages, la >> PAGE_SHIFT, m->gpa) < 0)
			return cpu_fail(cpu, "out of memory");
		if (cpu_guest_op(cpu, GOP_STORE64, table_gpa(pr, 1, la) + 8 * pt_index(la, 1), m->gpa | m->flags) < 0)
			return -1;
		table_count_add(pr, 1, la, +1);
		ctr_inc(os->ctr, CTR_GUEST_PAGES_MAPPED);
	}
	return 0;
}

/* ---- regions and transparent huge pages -------------------------------- */

#define HPAGE_SIZE (UINT64_C(1) << 21)
#define HPAGE_MASK (~(HPAGE_SIZE - 1))
/* Flags in a region's end (page-aligned, so its low bits are free). */
#define VMA_HUGEPAGE UINT64_C(1) /* marked MADV_HUGEPAGE */
#define VMA_ANON UINT64_C(2)     /* anonymous (MAP_ANONYMOUS) */
#define VMA_FLAGS (VMA_HUGEPAGE | VMA_ANON)

/* Remove [start, end) from pr's regions (cutting or splitting those that
 * overlap it). 0 or -1 (out of memory). */
static int vma_remove(struct guest_proc *pr, uint64_t start, uint64_t end)
{
	size_t n = pr->vmas.n;
	for (size_t i = 0; i < n; i += 2) {
		uint64_t s0 = pr->vmas.v[i], e0 = pr->vmas.v[i + 1] & ~VMA_FLAGS;
		uint64_t flag = pr->vmas.v[i + 1] & VMA_FLAGS;
		if (e0 <= start || s0 >= end)
			continue;
		if (s0 < start && e0 > end) { /* a hole in the middle: two regions */
			pr->vmas.v[i + 1] = start | flag;
			if (u64vec_push(&pr->vmas, end) < 0 || u64vec_push(&pr->vmas, e0 | flag) < 0)
				return -1;
		} else if (s0 < start) {
			pr->vmas.v[i + 1] = start | flag;
		} else if (e0 > end) {
			pr->vmas.v[i] = end;
		} else {
			pr->vmas.v[i] = pr->vmas.v[i + 1] = 0; /* gone: left as an empty region */
		}
	}
	/* Drop the empty ones. */
	size_t keep = 0;
	for (size_t i = 0; i < pr->vmas.n; i += 2) {
		if (pr->vmas.v[i] == (pr->vmas.v[i + 1] & ~VMA_FLAGS))
			continue;
		pr->vmas.v[keep++] = pr->vmas.v[i];
		pr->vmas.v[keep++] = pr->vmas.v[i + 1];
	}
	pr->vmas.n = keep;
	return 0;
}

/* Does la's aligned 2 MiB range lie wholly in one region of pr that the
 * THP policy lets have huge pages? */
static bool thp_allowed(const struct guest_os *os, const struct guest_proc *pr, uint64_t la)
{
	const uint64_t h = la & HPAGE_MASK;
	if (os->p->guest_thp == GUEST_THP_NEVER)
		return false;
	for (size_t i = 0; i < pr->vmas.n; i += 2) {
		uint64_t s0 = pr->vmas.v[i], e0 = pr->vmas.v[i + 1] & ~VMA_FLAGS;
		if (la < s0 || la >= e0)
			continue;
		bool marked = pr->vmas.v[i + 1] & VMA_HUGEPAGE, anon = pr->vmas.v[i + 1] & VMA_ANON;
		return anon && h >= s0 && h + HPAGE_SIZE <= e0 && (marked || os->p->guest_thp == GUEST_THP_ALWAYS);
	}
	/* The heap: an anonymous region with no madvise marking. */
	return os->p->guest_thp == GUEST_THP_ALWAYS && pr->heap_start && la >= pr->heap_start && la < pr->brk &&
	       h >= pr->heap_start && h + HPAGE_SIZE <= pr->brk;
}

/* A huge-page fault at la (do_huge_pmd_anonymous_page): 1 if a 2 MiB page
 * was mapped, 0 if no 2 MiB frame is free (the caller maps 4 KiB), -1. */
static int map_huge(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr, uint64_t la, bool write)
{
	uint64_t frame = frame_alloc_get_order(&os->frames, FRAME_ORDER_2M);
	if (!frame) {
		ctr_inc(os->ctr, CTR_GUEST_THP_FALLBACK);
		return 0;
	}
	if (build_tables(os, cpu, pr, la, 2) < 0)
		return -1;
	/* clear_huge_page: the 512 pages, one by one, through the direct map. */
	for (uint64_t i = 0; i < PT_ENTRIES; i++)
		if (cpu_guest_op(cpu, GOP_ZERO_PAGE, frame + i * PAGE_SIZE, 0) < 0)
			return -1;
	if (u64map_put(&pr->huge, la >> 21, frame | (write ? PTE_D : 0)) < 0)
		return cpu_fail(cpu, "out of memory");
	uint64_t pd = table_gpa(pr, 2, la);
	if (cpu_guest_op(cpu, GOP_STORE64, pd + 8 * pt_index(la, 2), frame | PAGE_FLAGS | PTE_PS | (write ? PTE_D : 0)) < 0)
		return -1;
	table_count_add(pr, 2, la, +1);
	ctr_inc(os->ctr, CTR_GUEST_THP_MAPPED);
	return 1;
}

/* split_huge_pmd of the huge page at h: a page table of 512 PTEs mapping
 * the same frames (dirty if the PDE was), the PDE pointed at it, and (for
 * a loaded address space) INVLPG of the 2 MiB page. */
static int split_huge(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr, uint64_t h, bool invlpg)
{
	uint64_t v = *u64map_get(&pr->huge, h >> 21);
	uint64_t frame = v & PHYS_ADDR_MASK, dirty = v & PTE_D;
	uint64_t pt;
	u64map_remove(&pr->huge, h >> 21, NULL);
	if (pt_alloc(os, cpu, pr, &pt) < 0)
		return -1;
	if (u64map_put(&pr->tables, table_key(1, h), pt | PT_ENTRIES) < 0)
		return cpu_fail(cpu, "out of memory");
	for (uint64_t i = 0; i < PT_ENTRIES; i++) {
		if (u64map_put(&pr->pages, (h >> PAGE_SHIFT) + i, frame + i * PAGE_SIZE) < 0)
			return cpu_fail(cpu, "out of memory");
		if (cpu_guest_op(cpu, GOP_STORE64, pt + 8 * i, (frame + i * PAGE_SIZE) | PAGE_FLAGS | dirty) < 0)
			return -1;
	}
	if (cpu_guest_op(cpu, GOP_STORE64, table_gpa(pr, 2, h) + 8 * pt_index(h, 2), pt | TABLE_FLAGS) < 0)
		return -1;
	ctr_inc(os->ctr, CTR_GUEST_THP_SPLIT);
	if (invlpg) {
		ctr_inc(os->ctr, CTR_GUEST_INVLPG);
		return cpu_guest_op(cpu, GOP_INVLPG, h, 0);
	}
	return 0;
}

/* Free the tables from level `level` up that became empty after an entry
 * of the level-`level` table covering la was cleared (not the top-level
 * one). */
static int free_empty_tables(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr, uint64_t la, int level)
{
	for (; level < pr->levels; level++) {
		if (table_count_add(pr, level, la, -1) != 0)
			break;
		uint64_t gone = table_gpa(pr, level, la);
		u64map_remove(&pr->tables, table_key(level, la), NULL);
		if (cpu_guest_op(cpu, GOP_STORE64, table_gpa(pr, level + 1, la) + 8 * pt_index(la, level + 1), 0) < 0 ||
		    pt_free(os, cpu, pr, gone) < 0)
			return -1;
	}
	return 0;
}

/* Unmap the huge page at h whole (zap_huge_pmd): clear the PDE, free the
 * 2 MiB frame and the tables that became empty. */
static int unmap_huge(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr, uint64_t h)
{
	uint64_t frame = *u64map_get(&pr->huge, h >> 21) & PHYS_ADDR_MASK;
	u64map_remove(&pr->huge, h >> 21, NULL);
	if (cpu_guest_op(cpu, GOP_STORE64, table_gpa(pr, 2, h) + 8 * pt_index(h, 2), 0) < 0)
		return -1;
	if (frame_alloc_put_order(&os->frames, frame, FRAME_ORDER_2M) < 0)
		return cpu_fail(cpu, "out of memory");
	ctr_inc(os->ctr, CTR_GUEST_THP_UNMAPPED);
	return free_empty_tables(os, cpu, pr, h, 2);
}

/* The huge pages of pr that meet [start, end), in address order, into *out. */
static int huge_in_range(struct guest_proc *pr, uint64_t start, uint64_t end, struct u64vec *out)
{
	if (!pr->huge.count)
		return 0;
	for (size_t i = 0; i < pr->huge.cap; i++) {
		uint64_t k = pr->huge.slots[i].key;
		if (k != U64MAP_EMPTY && (k << 21) < end && (k << 21) + HPAGE_SIZE > start && u64vec_push(out, k << 21) < 0)
			return -1;
	}
	/* insertion sort: few entries */
	for (size_t i = 1; i < out->n; i++)
		for (size_t j = i; j > 0 && out->v[j - 1] > out->v[j]; j--) {
			uint64_t t = out->v[j];
			out->v[j] = out->v[j - 1];
			out->v[j - 1] = t;
		}
	return 0;
}

/* Unmap one mapped page; free tables that become empty (not the top-level one). */
static int unmap_page(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr, uint64_t vpn, uint64_t gpa)
{
	uint64_t la = vpn << PAGE_SHIFT;
	u64map_remove(&pr->pages, vpn, NULL);
	if (cpu_guest_op(cpu, GOP_STORE64, table_gpa(pr, 1, la) + 8 * pt_index(la, 1), 0) < 0 ||
	    free_frame(os, cpu, gpa) < 0)
		return -1;
	ctr_inc(os->ctr, CTR_GUEST_PAGES_UNMAPPED);
	/* Tables that become empty: their parent entries cleared, freed. */
	return free_empty_tables(os, cpu, pr, la, 1);
}

/* Collect the mapped VPNs in [start, end) into *out. */
static int mapped_in_range(struct guest_proc *pr, uint64_t start, uint64_t end, struct u64vec *out)
{
	uint64_t first = start >> PAGE_SHIFT, last = (end + PAGE_SIZE - 1) >> PAGE_SHIFT; /* [first, last) */
	uint64_t span = last - first;
	if (span / PT_ENTRIES > pr->pages.count) {
		/* A huge range with few pages: scan the mapped pages instead. */
		for (size_t i = 0; i < pr->pages.cap; i++) {
			uint64_t k = pr->pages.slots[i].key;
			if (k != U64MAP_EMPTY && k >= first && k < last && u64vec_push(out, k) < 0)
				return -1;
		}
		return 0;
	}
	for (uint64_t v = first; v < last; v++) {
		if (!(v & (PT_ENTRIES - 1)) || v == first) {
			/* Skip 2 MiB regions without a page table. */
			if (!table_gpa(pr, 1, v << PAGE_SHIFT)) {
				v |= PT_ENTRIES - 1;
				continue;
			}
		}
		if (u64map_get(&pr->pages, v) && u64vec_push(out, v) < 0)
			return -1;
	}
	return 0;
}

static int load_cr3(struct guest_os *os, struct cpu *cpu, uint64_t val)
{
	ctr_inc(os->ctr, CTR_GUEST_CR3_LOADS);
	if (val & CR3_NOFLUSH)
		ctr_inc(os->ctr, CTR_GUEST_CR3_NOFLUSH);
	return cpu_guest_op(cpu, GOP_LOAD_CR3, 0, val);
}

/* Unmap every page of pr in [start, end) and invalidate the TLB as Linux
 * does (see enum flush_mode); the span flush gathers the range as Linux's
 * mmu_gather keeps it. */
static int unmap_range(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr, uint64_t start, uint64_t end,
		       enum flush_mode mode)
{
	struct u64vec l = {NULL, 0, 0}, huge = {NULL, 0, 0};
	if (end <= start)
		return 0;
	if (huge_in_range(pr, start, end, &huge) < 0) {
		u64vec_free(&huge);
		return cpu_fail(cpu, "out of memory");
	}
	/* Huge pages the range covers in part are split first; the others
	 * are unmapped whole. */
	int rc = 0;
	size_t nhuge = 0;
	for (size_t i = 0; i < huge.n && rc == 0; i++) {
		uint64_t h = huge.v[i];
		if (h >= start && h + HPAGE_SIZE <= end)
			huge.v[nhuge++] = h;
		else
			rc = split_huge(os, cpu, pr, h, mode == FLUSH_SPAN);
	}
	if (rc == 0 && mapped_in_range(pr, start, end, &l) < 0)
		rc = cpu_fail(cpu, "out of memory");
	const uint64_t *vpns = l.v;
	size_t n = rc == 0 ? l.n : 0;
	uint64_t lo = UINT64_MAX, hi = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = unmap_page(os, cpu, pr, vpns[i], *u64map_get(&pr->pages, vpns[i]));
		lo = vpns[i] < lo ? vpns[i] : lo;
		hi = vpns[i] > hi ? vpns[i] : hi;
	}
	for (size_t i = 0; i < nhuge && rc == 0; i++) {
		rc = unmap_huge(os, cpu, pr, huge.v[i]);
		lo = (huge.v[i] >> PAGE_SHIFT) < lo ? huge.v[i] >> PAGE_SHIFT : lo;
		hi = ((huge.v[i] >> PAGE_SHIFT) + PT_ENTRIES - 1) > hi ? (huge.v[i] >> PAGE_SHIFT) + PT_ENTRIES - 1 : hi;
	}
	if (rc == 0 && n + nhuge > 0) {
		if (mode == FLUSH_EXIT) {
			/* The dying address space is left for init_mm's tables. */
			rc = load_cr3(os, cpu, GUEST_SWAPPER_PML4);
			os->loaded = NULL;
		} else if (mode == FLUSH_NONE) {
			/* Not loaded: nothing cached under its (retired) PCID is used again. */
		} else if (n == 0 && (hi - lo + 1) / PT_ENTRIES <= os->p->guest_tlb_flush_ceiling) {
			/* Only huge pages: the flush strides by 2 MiB (mmu_gather's
			 * cleared_pmds, tlb_get_unmap_shift = PMD_SHIFT). */
			for (uint64_t v = lo; v <= hi && rc == 0; v += PT_ENTRIES) {
				rc = cpu_guest_op(cpu, GOP_INVLPG, v << PAGE_SHIFT, 0);
				ctr_inc(os->ctr, CTR_GUEST_INVLPG);
			}
		} else if (hi - lo + 1 > os->p->guest_tlb_flush_ceiling) {
			rc = load_cr3(os, cpu, pr->cr3); /* no bit 63: flushes the current PCID */
		} else {
			for (uint64_t v = lo; v <= hi && rc == 0; v++) {
				rc = cpu_guest_op(cpu, GOP_INVLPG, v << PAGE_SHIFT, 0);
				ctr_inc(os->ctr, CTR_GUEST_INVLPG);
			}
		}
	}
	u64vec_free(&l);
	u64vec_free(&huge);
	return rc;
}

/* Tear down pr's whole address space (user half, then the PML4). */
static int mm_destroy(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr, enum flush_mode mode)
{
	if (unmap_range(os, cpu, pr, 0, USER_TOP, mode) < 0 || pt_free(os, cpu, pr, pr->pml4) < 0)
		return -1;
	pr->pml4 = 0;
	return 0;
}

/* ---- processes and scheduling ----------------------------------------- */

static void rq_push(struct guest_os *os, struct guest_proc *pr)
{
	pr->run_next = NULL;
	if (os->rq_tail)
		os->rq_tail->run_next = pr;
	else
		os->rq_head = pr;
	os->rq_tail = pr;
}

static struct guest_proc *rq_pop(struct guest_os *os)
{
	struct guest_proc *pr = os->rq_head;
	if (pr) {
		os->rq_head = pr->run_next;
		if (!os->rq_head)
			os->rq_tail = NULL;
		pr->run_next = NULL;
	}
	return pr;
}

/* switch_mm: load pr's page tables, with Linux's choice of ASID when PCIDs are on. */
static int switch_mm(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr)
{
	uint64_t cr3 = pr->pml4, noflush = 0;
	if (os->pcid) {
		unsigned asid;
		for (asid = 0; asid < GUEST_NR_ASIDS && os->asid_mm[asid] != pr->mm_id; asid++)
			;
		if (asid < GUEST_NR_ASIDS) {
			noflush = CR3_NOFLUSH; /* its translations are still its own */
		} else {
			asid = os->next_asid;
			os->next_asid = (asid + 1) % GUEST_NR_ASIDS;
			os->asid_mm[asid] = pr->mm_id;
		}
		cr3 |= asid + 1;
	}
	pr->cr3 = cr3;
	os->loaded = pr;
	return load_cr3(os, cpu, cr3 | noflush);
}

/* Give the CPU to next. */
static int context_switch(struct guest_os *os, struct cpu *cpu, struct guest_proc *next)
{
	if (next != os->cur)
		ctr_inc(os->ctr, CTR_GUEST_CONTEXT_SWITCHES);
	os->cur = next;
	os->slice_start = cpu->cycles;
	return os->loaded == next ? 0 : switch_mm(os, cpu, next);
}

/* A process struct for pid with empty bookkeeping maps, in the table. */
static struct guest_proc *proc_alloc(struct guest_os *os, struct cpu *cpu, uint32_t pid)
{
	struct guest_proc *pr = os->nprocs == 0 ? &os->proc : calloc(1, sizeof(*pr));
	if (!pr) {
		cpu_fail(cpu, "out of memory");
		return NULL;
	}
	if (os->nprocs == os->procs_cap) {
		size_t cap = os->procs_cap ? 2 * os->procs_cap : 16;
		struct guest_proc **v = realloc(os->procs, cap * sizeof(*v));
		if (!v)
			goto oom;
		os->procs = v;
		os->procs_cap = cap;
	}
	memset(pr, 0, sizeof(*pr));
	pr->pid = pid;
	if (u64map_init(&pr->tables, 64) < 0 || u64map_init(&pr->pages, 1024) < 0 || u64map_init(&pr->huge, 16) < 0 ||
	    u64map_put(&os->by_pid, pid, os->nprocs) < 0) {
		u64map_free(&pr->tables);
		u64map_free(&pr->pages);
		u64map_free(&pr->huge);
		goto oom;
	}
	os->procs[os->nprocs++] = pr;
	return pr;
oom:
	if (pr != &os->proc)
		free(pr);
	cpu_fail(cpu, "out of memory");
	return NULL;
}

/* Start pid's life: its stream is fe; its address space is created now. */
static int proc_start(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr, const struct frontend *fe)
{
	pr->fe = *fe;
	pr->stream_open = true;
	pr->live = true;
	pr->state = PROC_RUNNABLE;
	os->live_procs++;
	peak(os, CTR_GUEST_PROC_PEAK, os->live_procs);
	return mm_create(os, cpu, pr);
}

/* Boot the first process; see guest.h. */
int guest_boot(struct guest_os *os, struct cpu *cpu, uint32_t pid)
{
	struct frontend fe = {0};
	char err[CPU_ERR_LEN];
	if (os->src.open == single_open)
		os->src.root = pid;
	struct guest_proc *pr = proc_alloc(os, cpu, os->src.root);
	if (!pr)
		return -1;
	int r = os->src.open(os->src.ctx, pr->pid, &fe, err);
	if (r < 0)
		return cpu_fail(cpu, "%s", err);
	if (r > 0)
		return cpu_fail(cpu, "the front end has no event stream for the first process %u", pr->pid);
	if (drivers_boot(os, cpu) < 0) /* device probes, before init runs */
		return -1;
	if (proc_start(os, cpu, pr, &fe) < 0 || premap_pages(os, cpu, pr) < 0)
		return -1;
	os->cur = pr;
	os->slice_start = cpu->cycles;
	return switch_mm(os, cpu, pr);
}

/* The guest is done with pr's stream. */
static void stream_close(struct guest_os *os, struct guest_proc *pr)
{
	if (pr->stream_open) {
		pr->stream_open = false;
		os->src.close(os->src.ctx, pr->pid);
	}
}

/* Is pr blocked in a wait that child satisfies? */
static bool waits_for(const struct guest_proc *pr, const struct guest_proc *child)
{
	return pr->state == PROC_WAITING && (pr->wait_pid == 0 || pr->wait_pid == child->pid);
}

/* Process pr ends: its address space goes, it becomes a zombie for its
 * parent (reaped at once if the parent waits for it or is init). */
static int proc_exit(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr)
{
	if (!pr->live)
		return 0;
	if (mm_destroy(os, cpu, pr, os->loaded == pr ? FLUSH_EXIT : FLUSH_NONE) < 0)
		return -1;
	if (os->loaded == pr)
		os->loaded = NULL; /* nothing of it may be used again (CR3 still points at the freed PML4) */
	u64map_free(&pr->tables);
	u64map_free(&pr->pages);
	u64map_free(&pr->huge);
	u64vec_free(&pr->vmas);
	pr->live = false;
	pr->state = PROC_ZOMBIE;
	os->live_procs--;
	stream_close(os, pr);
	/* Its children go to init, which reaps the zombies among them. */
	for (size_t i = 0; i < os->nprocs; i++) {
		struct guest_proc *c = os->procs[i];
		if (c->parent == pr) {
			c->parent = NULL;
			if (c->state == PROC_ZOMBIE)
				c->state = PROC_REAPED;
		}
	}
	struct guest_proc *parent = pr->parent;
	if (!parent) {
		pr->state = PROC_REAPED;
	} else if (waits_for(parent, pr)) {
		pr->state = PROC_REAPED;
		parent->state = PROC_RUNNABLE;
		rq_push(os, parent);
	}
	return 0;
}

/* An exit event: the stream must end here. */
static int proc_exit_event(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr)
{
	static const char *const kinds[GEV_KIND_COUNT] = {
		[GEV_FETCH] = "fetch", [GEV_LOAD] = "load", [GEV_STORE] = "store", [GEV_MODIFY] = "modify",
		[GEV_MMAP] = "mmap", [GEV_MUNMAP] = "munmap", [GEV_BRK] = "brk", [GEV_PROC_CREATE] = "clone",
		[GEV_PROC_EXIT] = "exit", [GEV_WAIT] = "wait", [GEV_EXEC] = "execve", [GEV_CPUID] = "cpuid",
		[GEV_IO] = "port I/O", [GEV_HLT] = "hlt", [GEV_MMIO] = "MMIO", [GEV_DEVIO] = "device I/O",
	};
	struct guest_event ev;
	ctr_inc(os->ctr, CTR_GUEST_PROC_EXIT);
	int r = pr->fe.next(pr->fe.ctx, &ev, cpu->err);
	if (r < 0)
		return -1;
	if (r > 0)
		return cpu_fail(cpu, "guest kernel: process %u has a %s event (GVA 0x%" PRIx64 ") after its exit",
				pr->pid, ev.kind < GEV_KIND_COUNT && kinds[ev.kind] ? kinds[ev.kind] : "?", ev.gva);
	return proc_exit(os, cpu, pr);
}

/* fork/clone: a thread is counted; a process gets its stream and address space. */
static int proc_create(struct guest_os *os, struct cpu *cpu, struct guest_proc *parent, const struct guest_event *ev)
{
	struct frontend fe = {0};
	char err[CPU_ERR_LEN];
	ctr_inc(os->ctr, CTR_GUEST_PROC_CREATE);
	if (ev->arg & 1) {
		parent->threads++;
		return 0;
	}
	if (guest_find(os, ev->pid))
		return cpu_fail(cpu, "guest kernel: process %u created twice", ev->pid);
	int r = os->src.open(os->src.ctx, ev->pid, &fe, err);
	if (r < 0)
		return cpu_fail(cpu, "%s", err);
	if (r > 0)
		return 0; /* not traced: left out */
	struct guest_proc *pr = proc_alloc(os, cpu, ev->pid);
	if (!pr) {
		os->src.close(os->src.ctx, ev->pid);
		return -1;
	}
	pr->parent = parent;
	pr->brk = parent->brk;
	pr->heap_start = parent->heap_start;
	for (size_t i = 0; i < parent->vmas.n; i++) /* dup_mmap copies the regions */
		if (u64vec_push(&pr->vmas, parent->vmas.v[i]) < 0)
			return cpu_fail(cpu, "out of memory");
	if (proc_start(os, cpu, pr, &fe) < 0)
		return -1;
	rq_push(os, pr);
	return 0;
}

/* execve: exec_mmap switches to a new address space, then drops the old. */
static int proc_exec(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr)
{
	struct u64map tables, pages, huge;
	ctr_inc(os->ctr, CTR_GUEST_PROC_EXEC);
	if (u64map_init(&tables, 64) < 0 || u64map_init(&pages, 1024) < 0 || u64map_init(&huge, 16) < 0) {
		u64map_free(&tables);
		u64map_free(&pages);
		return cpu_fail(cpu, "out of memory");
	}
	struct guest_proc old = *pr; /* the old address space, for the teardown */
	pr->tables = tables;
	pr->pages = pages;
	pr->huge = huge;
	pr->vmas = (struct u64vec){NULL, 0, 0};
	pr->pt_pages = 0; /* the new tables; the old ones count down in old (pt_peak spans both) */
	pr->brk = 0;
	pr->heap_start = 0;
	if (mm_create(os, cpu, pr) < 0 || switch_mm(os, cpu, pr) < 0)
		goto fail;
	int rc = mm_destroy(os, cpu, &old, FLUSH_NONE);
	u64map_free(&old.tables);
	u64map_free(&old.pages);
	u64map_free(&old.huge);
	u64vec_free(&old.vmas);
	return rc;
fail:
	u64map_free(&old.tables);
	u64map_free(&old.pages);
	u64map_free(&old.huge);
	u64vec_free(&old.vmas);
	return -1;
}

/* wait4/waitid. */
static int proc_wait(struct guest_os *os, struct guest_proc *pr, const struct guest_event *ev)
{
	bool any = false;
	ctr_inc(os->ctr, CTR_GUEST_SYSCALL_WAIT);
	for (size_t i = 0; i < os->nprocs; i++) {
		struct guest_proc *c = os->procs[i];
		if (c->parent != pr || (ev->gva && c->pid != ev->gva))
			continue;
		if (c->state == PROC_ZOMBIE) {
			c->state = PROC_REAPED;
			return 0;
		}
		any |= c->live;
	}
	if (!any || (ev->arg & 1))
		return 0; /* ECHILD, or WNOHANG */
	pr->state = PROC_WAITING;
	pr->wait_pid = (uint32_t)ev->gva;
	ctr_inc(os->ctr, CTR_GUEST_WAIT_BLOCKED);
	return 0;
}

/* ---- entry points ------------------------------------------------------ */

/* handle_mm_fault of a not-present user page: a 2 MiB page where THP
 * allows it, else 4 KiB. */
static int fault_in(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr, uint64_t la, bool write)
{
	if (thp_allowed(os, pr, la) && !table_gpa(pr, 1, la)) {
		int r = map_huge(os, cpu, pr, la, write);
		if (r != 0)
			return r < 0 ? -1 : 0;
	}
	return map_page(os, cpu, pr, la, write);
}

static int os_page_fault(void *osp, struct cpu *cpu, uint64_t la, uint32_t pfec)
{
	struct guest_os *os = osp;
	struct guest_proc *pr = os->cur;
	if (!pr || !pr->live)
		return cpu_fail(cpu, "guest kernel: a reference at GVA 0x%" PRIx64 " after process %u exited", la,
				pr ? pr->pid : 0);
	ctr_inc(os->ctr, CTR_GUEST_PF);
	cpu_charge(cpu, CTR_CPU_CYCLES_GUEST_KERNEL, os->p->guest_pf_cycles);
	if (!(pfec & PFEC_US))
		return cpu_fail(cpu, "guest kernel: page fault in the kernel at GVA 0x%" PRIx64 " (error code 0x%x)", la,
				pfec);
	if (pfec & PFEC_P)
		return cpu_fail(cpu, "guest kernel: protection fault at GVA 0x%" PRIx64 " (error code 0x%x); the "
				     "trace-driven guest maps every page read/write, so the page tables are corrupt",
				la, pfec);
	if (la >= USER_TOP)
		return cpu_fail(cpu, "guest kernel: user-mode reference to kernel-half GVA 0x%" PRIx64
				     " (a legacy vsyscall page?): the process would get SIGSEGV", la);
	return fault_in(os, cpu, pr, la, pfec & PFEC_WR);
}

/* get_user_pages; see guest_internal.h. */
int guest_pin_user(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr, uint64_t la, bool write,
		   uint64_t *gpa, bool *faulted)
{
	*faulted = false;
	for (;;) {
		uint64_t *v = u64map_get(&pr->pages, la >> PAGE_SHIFT);
		if (v) {
			*gpa = *v | (la & (PAGE_SIZE - 1));
			return 0;
		}
		v = u64map_get(&pr->huge, la >> 21);
		if (v) {
			*gpa = (*v & PHYS_ADDR_MASK) + (la & (HPAGE_SIZE - 1));
			return 0;
		}
		if (*faulted)
			return cpu_fail(cpu, "guest kernel: GVA 0x%" PRIx64 " not mapped after faulting it in", la);
		if (la >= USER_TOP)
			return cpu_fail(cpu, "guest kernel: a transfer to kernel-half GVA 0x%" PRIx64 " (EFAULT)", la);
		if (fault_in(os, cpu, pr, la, write) < 0)
			return -1;
		*faulted = true;
	}
}

static int os_interrupt(void *osp, struct cpu *cpu, unsigned vector)
{
	struct guest_os *os = osp;
	if (vector != VEC_LOCAL_TIMER) {
		int r = drivers_interrupt(os, cpu, vector);
		if (r != 0)
			return r < 0 ? -1 : 0;
		return cpu_fail(cpu, "guest kernel: unexpected interrupt vector 0x%x", vector);
	}
	ctr_inc(os->ctr, CTR_GUEST_TIMER_TICKS);
	/* scheduler_tick: the slice is over once another process is runnable. */
	if (os->rq_head && cpu->cycles - os->slice_start >= os->timeslice_cycles)
		os->need_resched = true;
	cpu_charge(cpu, CTR_CPU_CYCLES_GUEST_KERNEL, os->p->guest_tick_cycles);
	return 0;
}

static int os_event(void *osp, struct cpu *cpu, const struct guest_event *ev)
{
	struct guest_os *os = osp;
	struct guest_proc *pr = os->cur;
	if (!pr || !pr->live)
		return cpu_fail(cpu, "guest kernel: a system call after process %u exited", pr ? pr->pid : 0);
	switch (ev->kind) {
	case GEV_MMAP: {
		ctr_inc(os->ctr, CTR_GUEST_SYSCALL_MMAP);
		uint64_t end = (ev->gva + ev->len + PAGE_SIZE - 1) & PAGE_MASK;
		bool device = ev->arg & GEV_MMAP_DEVICE;
		if (unmap_range(os, cpu, pr, ev->gva, ev->gva + ev->len, FLUSH_SPAN) < 0)
			return -1;
		if (vma_remove(pr, ev->gva, end) < 0 || u64vec_push(&pr->vmas, ev->gva) < 0 ||
		    u64vec_push(&pr->vmas, end | (ev->arg & GEV_MMAP_HUGEPAGE && !device ? VMA_HUGEPAGE : 0) |
						   (ev->arg & GEV_MMAP_ANON && !device ? VMA_ANON : 0)) < 0)
			return cpu_fail(cpu, "out of memory");
		return device ? drivers_mmap_device(os, cpu, pr, ev) : 0;
	}
	case GEV_DEVIO:
		return drivers_devio(os, cpu, pr, ev);
	case GEV_MUNMAP:
		ctr_inc(os->ctr, CTR_GUEST_SYSCALL_MUNMAP);
		if (vma_remove(pr, ev->gva, (ev->gva + ev->len + PAGE_SIZE - 1) & PAGE_MASK) < 0)
			return cpu_fail(cpu, "out of memory");
		return unmap_range(os, cpu, pr, ev->gva, ev->gva + ev->len, FLUSH_SPAN);
	case GEV_BRK:
		ctr_inc(os->ctr, CTR_GUEST_SYSCALL_BRK);
		if (!pr->heap_start)
			pr->heap_start = ev->gva; /* brk(0) at start-up: the heap starts here */
		if (pr->brk && ev->gva < pr->brk) {
			uint64_t start = (ev->gva + PAGE_SIZE - 1) & PAGE_MASK;
			if (unmap_range(os, cpu, pr, start, pr->brk, FLUSH_SPAN) < 0)
				return -1;
		}
		pr->brk = ev->gva;
		return 0;
	case GEV_PROC_CREATE:
		return proc_create(os, cpu, pr, ev);
	case GEV_PROC_EXIT:
		return proc_exit_event(os, cpu, pr);
	case GEV_WAIT:
		return proc_wait(os, pr, ev);
	case GEV_EXEC:
		return proc_exec(os, cpu, pr);
	default:
		return cpu_fail(cpu, "guest kernel: unexpected event kind %d", (int)ev->kind);
	}
}

static int os_shutdown(void *osp, struct cpu *cpu)
{
	struct guest_os *os = osp;
	/* Nothing is left to run: end whatever still lives. */
	for (size_t i = 0; i < os->nprocs; i++)
		if (proc_exit(os, cpu, os->procs[i]) < 0)
			return -1;
	return 0;
}

/* The idle loop: HLT until an interrupt (a device's completion) wakes
 * someone. A kernel that halts GUEST_IO_STALL_HALTS times in a row with
 * no device interrupt between (each halt lasts at least until the next
 * timer tick) waits for a completion that will not come: a model error,
 * reported rather than ticked through for ever. */
#define GUEST_IO_STALL_HALTS 10000
static int idle_halt(struct guest_os *os, struct cpu *cpu, struct guest_event *ev)
{
	if (++os->idle_halts_in_a_row > GUEST_IO_STALL_HALTS)
		return cpu_fail(cpu, "guest kernel: %u idle halts without a device interrupt: the I/O it waits for "
				     "never completes", GUEST_IO_STALL_HALTS);
	ctr_inc(os->ctr, CTR_GUEST_IO_IDLE_HALTS);
	*ev = (struct guest_event){.kind = GEV_HLT, .pid = os->cur ? os->cur->pid : 0};
	return 1;
}

/* A blocked process wakes; see guest_internal.h. */
void guest_wake(struct guest_os *os, struct guest_proc *pr)
{
	pr->state = PROC_RUNNABLE;
	rq_push(os, pr);
}

/* schedule(): the running process's next event; a process that ended,
 * blocked or was preempted hands the CPU to the head of the run queue. */
static int os_next_event(void *osp, struct cpu *cpu, struct guest_event *ev, char *err)
{
	struct guest_os *os = osp;
	for (;;) {
		struct guest_proc *pr = os->cur;
		if (drivers_probing(os))
			return idle_halt(os, cpu, ev);
		if (pr && pr->state == PROC_RUNNABLE && !(os->need_resched && os->rq_head)) {
			int r = frontend_next(&pr->fe, ev, err);
			if (r != 0)
				return r;
			/* Its stream ended without an exit: it dies here. */
			if (proc_exit(os, cpu, pr) < 0)
				return -1;
			continue;
		}
		os->need_resched = false;
		struct guest_proc *next = rq_pop(os);
		if (!next) {
			if (pr && pr->state == PROC_RUNNABLE)
				continue;
			if (guest_io_outstanding(os))
				return idle_halt(os, cpu, ev);
			if (os->live_procs)
				return cpu_fail(cpu, "guest kernel: %" PRIu64 " processes alive and none can run "
						     "(all wait for children that cannot exit)", os->live_procs);
			return 0;
		}
		if (pr && pr->state == PROC_RUNNABLE)
			rq_push(os, pr); /* preempted: to the back of the queue */
		if (context_switch(os, cpu, next) < 0)
			return -1;
	}
}

const struct guest_os_ops guest_os_ops = {
	.page_fault = os_page_fault,
	.interrupt = os_interrupt,
	.os_event = os_event,
	.shutdown = os_shutdown,
	.next_event = os_next_event,
};
