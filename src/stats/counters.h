/*
 * Counters: an enum-indexed array with a table of hierarchical name, unit
 * and description (src/stats/counters.c). A misspelled counter is a compile
 * error, never a silent new counter.
 */
#ifndef VTSIM_STATS_COUNTERS_H
#define VTSIM_STATS_COUNTERS_H

#include <stdint.h>

enum counter_id {
	/* time */
	CTR_CPU_CYCLES,
	CTR_CPU_CYCLES_BASE,
	CTR_CPU_CYCLES_TLB,
	CTR_CPU_CYCLES_WALK,
	CTR_CPU_CYCLES_WALK_GUEST,
	CTR_CPU_CYCLES_WALK_EPT,
	CTR_CPU_CYCLES_GUEST_KERNEL,
	CTR_CPU_CYCLES_GUEST_KERNEL_PROC, /* [enum kernel_work] order */
	CTR_CPU_CYCLES_GUEST_KERNEL_PF,
	CTR_CPU_CYCLES_GUEST_KERNEL_TICK,
	CTR_CPU_CYCLES_VMEXIT,
	CTR_CPU_CYCLES_VMM,
	CTR_CPU_INSTRUCTIONS,
	CTR_CPU_CPUID,
	CTR_CPU_IO,
	/* guest memory references from the front end */
	CTR_MEM_REFS_FETCH,
	CTR_MEM_REFS_LOAD,
	CTR_MEM_REFS_STORE,
	CTR_MEM_REFS_MODIFY,
	CTR_MEM_REFS_SPLIT,
	CTR_MEM_REFS_KERNEL,
	/* TLBs */
	CTR_TLB_L1I_HIT,
	CTR_TLB_L1I_MISS,
	CTR_TLB_L1D_HIT,
	CTR_TLB_L1D_MISS,
	CTR_TLB_L2_HIT,
	CTR_TLB_L2_MISS,
	CTR_TLB_DIRTY_ASSIST,
	CTR_TLB_FLUSH_VPID,
	CTR_TLB_INVLPG,
	CTR_TLB_FLUSH_CR3,
	/* page walks */
	CTR_WALK_COUNT,
	CTR_WALK_GUEST_REFS,
	CTR_WALK_EPT_REFS,
	CTR_WALK_GUEST_AD_WRITES,
	CTR_WALK_EPT_AD_WRITES,
	CTR_WALK_FAULTS,
	/* guest OS model */
	CTR_GUEST_PF,
	CTR_GUEST_PAGES_MAPPED,
	CTR_GUEST_PAGES_UNMAPPED,
	CTR_GUEST_PAGES_ZEROED,
	CTR_GUEST_PT_PAGES,
	CTR_GUEST_PT_PAGES_FREED,
	CTR_GUEST_PTE_WRITES,
	CTR_GUEST_INVLPG,
	CTR_GUEST_SYSCALL_MMAP,
	CTR_GUEST_SYSCALL_MUNMAP,
	CTR_GUEST_SYSCALL_BRK,
	CTR_GUEST_PROC_CREATE,
	CTR_GUEST_PROC_EXIT,
	CTR_GUEST_TIMER_TICKS,
	/* VMX transitions */
	CTR_VMX_EXITS,
	CTR_VMX_ENTRIES,
	CTR_VMX_INJECTED_EVENTS,
	/* VMM */
	CTR_VMM_EPT_VIOLATIONS,
	CTR_VMM_EPT_BACKED_PAGES,
	CTR_VMM_EPT_TABLE_PAGES,
	CTR_VMM_EPT_ENTRY_WRITES,
	CTR_VMM_HOST_PAGES_ZEROED,
	CTR_VMM_INVVPID,
	CTR_VMM_CPUID,
	CTR_VMM_IO,
	CTR_VMM_SHADOW_HIDDEN_FAULTS,
	CTR_VMM_SHADOW_GUEST_FAULTS,
	CTR_VMM_SHADOW_WRITES_EMULATED,
	CTR_VMM_SHADOW_UNSHADOWED,
	CTR_VMM_SHADOW_UNSYNCS,
	CTR_VMM_SHADOW_SYNCS,
	CTR_VMM_SHADOW_INVLPG,
	CTR_VMM_SHADOW_ROOT_SWITCHES,
	CTR_VMM_SHADOW_ROOTS_CREATED,
	CTR_VMM_SHADOW_PAGES,
	CTR_VMM_SHADOW_PAGES_ZAPPED,
	CTR_VMM_SHADOW_PAGES_PEAK,
	CTR_VMM_SHADOW_ENTRY_WRITES,
	CTR_VMM_SHADOW_GUEST_READS,
	/* simulated memory */
	CTR_MEM_HOST_PAGES_STORED,
	/* guest OS model: processes and scheduling (multi-process guests) */
	CTR_GUEST_CONTEXT_SWITCHES,
	CTR_GUEST_PROC_EXEC,
	CTR_GUEST_SYSCALL_WAIT,
	CTR_GUEST_WAIT_BLOCKED,
	CTR_GUEST_CR3_LOADS,
	CTR_GUEST_CR3_NOFLUSH,
	CTR_GUEST_PROC_PEAK,
	CTR_GUEST_PT_PAGES_PEAK,
	CTR_GUEST_PROC_PT_PAGES_PEAK,
	/* paging-structure caches and nested TLB (order: enum pwc_dim x enum
	 * pwc_level of src/mmu/walk.h, hit then miss) */
	CTR_WALK_PWC_GUEST_PML4E_HIT,
	CTR_WALK_PWC_GUEST_PML4E_MISS,
	CTR_WALK_PWC_GUEST_PDPTE_HIT,
	CTR_WALK_PWC_GUEST_PDPTE_MISS,
	CTR_WALK_PWC_GUEST_PDE_HIT,
	CTR_WALK_PWC_GUEST_PDE_MISS,
	CTR_WALK_PWC_EPT_PML4E_HIT,
	CTR_WALK_PWC_EPT_PML4E_MISS,
	CTR_WALK_PWC_EPT_PDPTE_HIT,
	CTR_WALK_PWC_EPT_PDPTE_MISS,
	CTR_WALK_PWC_EPT_PDE_HIT,
	CTR_WALK_PWC_EPT_PDE_MISS,
	CTR_WALK_NTLB_HIT,
	CTR_WALK_NTLB_MISS,
	/* data-cache hierarchy, [enum cache_level] order */
	CTR_CACHE_PT_L1D,
	CTR_CACHE_PT_L2,
	CTR_CACHE_PT_LLC,
	CTR_CACHE_PT_DRAM,
	CTR_CACHE_DATA_L1D,
	CTR_CACHE_DATA_L2,
	CTR_CACHE_DATA_LLC,
	CTR_CACHE_DATA_DRAM,
	/* large pages: TLB hits per page size (included in the hits above) and
	 * the VMM's large EPT / host backing */
	CTR_TLB_L1I_HIT_2M,
	CTR_TLB_L1D_HIT_2M,
	CTR_TLB_L1D_HIT_1G,
	CTR_TLB_L2_HIT_2M,
	CTR_VMM_BACKED_2M,
	CTR_VMM_BACKED_1G,
	CTR_GUEST_THP_MAPPED,
	CTR_GUEST_THP_UNMAPPED,
	CTR_GUEST_THP_SPLIT,
	CTR_GUEST_THP_FALLBACK,
	CTR_VMM_SHADOW_LARGE_LEAVES,
	CTR_COUNT
};

/* Name, unit and description of a counter. */
struct counter_info {
	const char *name; /* hierarchical, e.g. "tlb.l1d.miss" */
	const char *unit; /* "cycles", "refs", "events", "pages", ... */
	const char *desc;
};

extern const struct counter_info counter_table[CTR_COUNT];

/* A run's counters. */
struct counters {
	uint64_t v[CTR_COUNT];
};

static inline void ctr_add(struct counters *c, enum counter_id id, uint64_t n)
{
	c->v[id] += n;
}

static inline void ctr_inc(struct counters *c, enum counter_id id)
{
	c->v[id]++;
}

/* Look a counter up by its name; returns -1 if there is none. */
int counter_by_name(const char *name);

#endif
