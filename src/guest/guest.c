/*
 * Notes: the guest kernel for trace replay.
 *  - Demand paging of anonymous-style memory: every canonical address a
 *    trace touches is mapped read/write/user on first touch (traces come
 *    from programs that ran correctly, so no access is illegal); a
 *    protection fault is therefore a simulator error and stops the run.
 *  - Page-table entries carry P|RW|US|A|D for tables (Linux _PAGE_TABLE)
 *    and P|RW|US|A (+D on a write fault) for 4 KiB data pages, as Linux's
 *    anonymous fault path writes them; NX is not used.
 *  - mmap over existing pages replaces them (MAP_FIXED semantics); munmap,
 *    brk shrink and exit free data pages and page-table pages that become
 *    empty, then invalidate the span of pages unmapped: INVLPG per page up
 *    to guest.tlb_flush_ceiling pages, else one CR3 reload (Linux
 *    flush_tlb_mm_range); a whole address space is flushed once.
 *  - User references to the kernel half (e.g. a legacy vsyscall page) are
 *    refused as trace errors, as the process would get SIGSEGV.
 *  - One address space per trace; threads share it. fork/exec of other
 *    processes (other lackey files) is a later issue.
 *  - The kernel's bookkeeping (which tables exist, their present-entry
 *    counts, which pages are mapped) is its own software state, like
 *    Linux's struct page; every hardware-visible change goes through
 *    cpu_guest_op().
 */
#include "guest/guest.h"

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

/* Key of the level-L table (L = 1 PT ... 3 PDPT) that covers la. */
static inline uint64_t table_key(int level, uint64_t la)
{
	return ((uint64_t)level << 56) | ((la >> (PAGE_SHIFT + PT_INDEX_BITS * level)) & ((UINT64_C(1) << 48) - 1));
}

int guest_init(struct guest_os *os, const struct sim_params *p, struct counters *ctr, const struct frontend *src,
	       char *err)
{
	memset(os, 0, sizeof(*os));
	os->p = p;
	os->ctr = ctr;
	os->src = *src;
	/* Guest-physical frames from 1 MiB up (the first MiB is firmware's, as on a PC). */
	frame_alloc_init(&os->frames, UINT64_C(1) << 20, (p->guest_mem_mib << 20) - (UINT64_C(1) << 20));
	os->cr0 = CR0_PE | CR0_NE | CR0_WP | CR0_PG;
	os->cr4 = CR4_PAE | CR4_PGE;
	os->efer = EFER_LME | EFER_LMA | EFER_NXE;
	if (u64map_init(&os->proc.tables, 64) < 0 || u64map_init(&os->proc.pages, 4096) < 0) {
		snprintf(err, CPU_ERR_LEN, "out of memory");
		guest_destroy(os);
		return -1;
	}
	return 0;
}

void guest_destroy(struct guest_os *os)
{
	u64map_free(&os->proc.tables);
	u64map_free(&os->proc.pages);
	frame_alloc_destroy(&os->frames);
}

uint64_t guest_frames_in_use(const struct guest_os *os)
{
	return os->frames.in_use;
}

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
	if (frame_alloc_put(&os->frames, gpa) < 0)
		return cpu_fail(cpu, "out of memory");
	return 0;
}

/* The kernel-half PML4 entry every address space shares. */
static uint64_t kernel_pml4e(void)
{
	return GUEST_KERNEL_PDPT | KERNEL_TABLE_FLAGS;
}

int guest_image(const struct guest_os *os, int (*store)(void *ctx, uint64_t gpa, uint64_t val), void *ctx)
{
	int rc = store(ctx, GUEST_SWAPPER_PML4 + 8 * pt_index(GUEST_DIRECT_MAP_BASE, 4), kernel_pml4e());
	uint64_t gib = (os->p->guest_mem_mib + 1023) / 1024;
	for (uint64_t i = 0; i < gib && rc == 0; i++)
		rc = store(ctx, GUEST_KERNEL_PDPT + 8 * (pt_index(GUEST_DIRECT_MAP_BASE, 3) + i),
			   (i << 30) | DIRECT_MAP_FLAGS);
	return rc;
}

int guest_boot(struct guest_os *os, struct cpu *cpu, uint32_t pid)
{
	struct guest_proc *pr = &os->proc;
	pr->pid = pid;
	if (alloc_frame(os, cpu, &pr->pml4) < 0)
		return -1;
	ctr_inc(os->ctr, CTR_GUEST_PT_PAGES);
	pr->live = true;
	/* A new address space shares the kernel half (pgd_alloc copies it). */
	if (cpu_guest_op(cpu, GOP_STORE64, pr->pml4 + 8 * pt_index(GUEST_DIRECT_MAP_BASE, 4), kernel_pml4e()) < 0)
		return -1;
	return cpu_guest_op(cpu, GOP_LOAD_CR3, 0, pr->pml4);
}

/* GPA of the level-L table covering la (L = 4 is the PML4), 0 if absent. */
static uint64_t table_gpa(const struct guest_proc *pr, int level, uint64_t la)
{
	if (level == 4)
		return pr->pml4;
	uint64_t *v = u64map_get(&pr->tables, table_key(level, la));
	return v ? *v & ~COUNT_MASK : 0;
}

/* Adjust the present-entry count of the level-L table covering la. */
static uint64_t table_count_add(struct guest_proc *pr, int level, uint64_t la, int delta)
{
	if (level == 4)
		return 1; /* the PML4 lives as long as the process */
	uint64_t *v = u64map_get(&pr->tables, table_key(level, la));
	*v = (*v & ~COUNT_MASK) | ((*v & COUNT_MASK) + (uint64_t)(int64_t)delta);
	return *v & COUNT_MASK;
}

/* Map the 4 KiB page containing la, building missing tables. */
static int map_page(struct guest_os *os, struct cpu *cpu, uint64_t la, bool write)
{
	struct guest_proc *pr = &os->proc;
	for (int level = 4; level >= 2; level--) {
		if (table_gpa(pr, level - 1, la))
			continue;
		uint64_t child;
		if (alloc_frame(os, cpu, &child) < 0)
			return -1;
		if (u64map_put(&pr->tables, table_key(level - 1, la), child) < 0)
			return cpu_fail(cpu, "out of memory");
		uint64_t parent = table_gpa(pr, level, la);
		if (cpu_guest_op(cpu, GOP_STORE64, parent + 8 * pt_index(la, level), child | TABLE_FLAGS) < 0)
			return -1;
		table_count_add(pr, level, la, +1);
		ctr_inc(os->ctr, CTR_GUEST_PT_PAGES);
	}
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

/* Unmap one mapped page; free tables that become empty (not the PML4). */
static int unmap_page(struct guest_os *os, struct cpu *cpu, uint64_t vpn, uint64_t gpa)
{
	struct guest_proc *pr = &os->proc;
	uint64_t la = vpn << PAGE_SHIFT;
	u64map_remove(&pr->pages, vpn, NULL);
	if (cpu_guest_op(cpu, GOP_STORE64, table_gpa(pr, 1, la) + 8 * pt_index(la, 1), 0) < 0 ||
	    free_frame(os, cpu, gpa) < 0)
		return -1;
	ctr_inc(os->ctr, CTR_GUEST_PAGES_UNMAPPED);
	for (int level = 1; level <= 3; level++) {
		if (table_count_add(pr, level, la, -1) != 0)
			break;
		/* The level-L table is empty: clear its parent entry and free it. */
		uint64_t gone = table_gpa(pr, level, la);
		u64map_remove(&pr->tables, table_key(level, la), NULL);
		if (cpu_guest_op(cpu, GOP_STORE64, table_gpa(pr, level + 1, la) + 8 * pt_index(la, level + 1), 0) < 0 ||
		    free_frame(os, cpu, gone) < 0)
			return -1;
		ctr_inc(os->ctr, CTR_GUEST_PT_PAGES_FREED);
	}
	return 0;
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

/* Unmap every page in [start, end) and invalidate the TLB as Linux does:
 * INVLPG per page up to the flush ceiling, else one CR3 reload; a whole
 * address space being torn down (fullmm) is flushed once. */
static int unmap_range(struct guest_os *os, struct cpu *cpu, uint64_t start, uint64_t end, bool fullmm)
{
	struct guest_proc *pr = &os->proc;
	struct u64vec l = {NULL, 0, 0};
	if (end <= start)
		return 0;
	if (mapped_in_range(pr, start, end, &l) < 0) {
		u64vec_free(&l);
		return cpu_fail(cpu, "out of memory");
	}
	const uint64_t *vpns = l.v;
	size_t n = l.n;
	int rc = 0;
	uint64_t lo = UINT64_MAX, hi = 0; /* the gathered range, as Linux's mmu_gather keeps it */
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = unmap_page(os, cpu, vpns[i], *u64map_get(&pr->pages, vpns[i]));
		lo = vpns[i] < lo ? vpns[i] : lo;
		hi = vpns[i] > hi ? vpns[i] : hi;
	}
	if (rc == 0 && n > 0) {
		/* flush_tlb_mm_range: INVLPG every page of the gathered span, or one
		 * full flush when the span exceeds the ceiling (or the whole mm goes). */
		if (fullmm) {
			/* The dying address space is left for init_mm's tables. */
			rc = cpu_guest_op(cpu, GOP_LOAD_CR3, 0, GUEST_SWAPPER_PML4);
		} else if (hi - lo + 1 > os->p->guest_tlb_flush_ceiling) {
			rc = cpu_guest_op(cpu, GOP_LOAD_CR3, 0, pr->pml4);
		} else {
			for (uint64_t v = lo; v <= hi && rc == 0; v++) {
				rc = cpu_guest_op(cpu, GOP_INVLPG, v << PAGE_SHIFT, 0);
				ctr_inc(os->ctr, CTR_GUEST_INVLPG);
			}
		}
	}
	u64vec_free(&l);
	return rc;
}

static int os_page_fault(void *osp, struct cpu *cpu, uint64_t la, uint32_t pfec)
{
	struct guest_os *os = osp;
	if (!os->proc.live)
		return cpu_fail(cpu, "guest kernel: a reference at GVA 0x%" PRIx64 " after process %u exited", la,
				os->proc.pid);
	ctr_inc(os->ctr, CTR_GUEST_PF);
	cpu_charge(cpu, CTR_CPU_CYCLES_GUEST_KERNEL, os->p->guest_pf_cycles);
	if (!(pfec & PFEC_US))
		return cpu_fail(cpu, "guest kernel: page fault in the kernel at GVA 0x%" PRIx64 " (error code 0x%x)", la,
				pfec);
	if (pfec & PFEC_P)
		return cpu_fail(cpu, "guest kernel: protection fault at GVA 0x%" PRIx64 " (error code 0x%x); the "
				     "trace-driven guest maps every page read/write, so the page tables are corrupt",
				la, pfec);
	if (la >= (UINT64_C(1) << 47))
		return cpu_fail(cpu, "guest kernel: user-mode reference to kernel-half GVA 0x%" PRIx64
				     " (a legacy vsyscall page?): the process would get SIGSEGV", la);
	return map_page(os, cpu, la, pfec & PFEC_WR);
}

static int os_interrupt(void *osp, struct cpu *cpu, unsigned vector)
{
	struct guest_os *os = osp;
	if (vector != VEC_LOCAL_TIMER)
		return cpu_fail(cpu, "guest kernel: unexpected interrupt vector 0x%x", vector);
	ctr_inc(os->ctr, CTR_GUEST_TIMER_TICKS);
	cpu_charge(cpu, CTR_CPU_CYCLES_GUEST_KERNEL, os->p->guest_tick_cycles);
	return 0;
}

static int proc_exit(struct guest_os *os, struct cpu *cpu)
{
	struct guest_proc *pr = &os->proc;
	if (!pr->live)
		return 0;
	/* Tear down the whole user half, then the PML4 itself. */
	if (unmap_range(os, cpu, 0, UINT64_C(1) << 47, true) < 0)
		return -1;
	pr->live = false;
	ctr_inc(os->ctr, CTR_GUEST_PT_PAGES_FREED);
	return free_frame(os, cpu, pr->pml4);
}

static int os_event(void *osp, struct cpu *cpu, const struct guest_event *ev)
{
	struct guest_os *os = osp;
	struct guest_proc *pr = &os->proc;
	if (!pr->live)
		return cpu_fail(cpu, "guest kernel: a system call after process %u exited", pr->pid);
	switch (ev->kind) {
	case GEV_MMAP:
		ctr_inc(os->ctr, CTR_GUEST_SYSCALL_MMAP);
		return unmap_range(os, cpu, ev->gva, ev->gva + ev->len, false);
	case GEV_MUNMAP:
		ctr_inc(os->ctr, CTR_GUEST_SYSCALL_MUNMAP);
		return unmap_range(os, cpu, ev->gva, ev->gva + ev->len, false);
	case GEV_BRK:
		ctr_inc(os->ctr, CTR_GUEST_SYSCALL_BRK);
		if (pr->brk && ev->gva < pr->brk) {
			uint64_t start = (ev->gva + PAGE_SIZE - 1) & PAGE_MASK;
			if (unmap_range(os, cpu, start, pr->brk, false) < 0)
				return -1;
		}
		pr->brk = ev->gva;
		return 0;
	case GEV_PROC_CREATE:
		ctr_inc(os->ctr, CTR_GUEST_PROC_CREATE);
		return 0;
	case GEV_PROC_EXIT:
		ctr_inc(os->ctr, CTR_GUEST_PROC_EXIT);
		return proc_exit(os, cpu);
	default:
		return cpu_fail(cpu, "guest kernel: unexpected event kind %d", (int)ev->kind);
	}
}

static int os_shutdown(void *osp, struct cpu *cpu)
{
	return proc_exit(osp, cpu);
}

static int os_next_event(void *osp, struct cpu *cpu, struct guest_event *ev, char *err)
{
	(void)cpu;
	struct guest_os *os = osp;
	return os->src.next(os->src.ctx, ev, err);
}

const struct guest_os_ops guest_os_ops = {
	.page_fault = os_page_fault,
	.interrupt = os_interrupt,
	.os_event = os_event,
	.shutdown = os_shutdown,
	.next_event = os_next_event,
};
