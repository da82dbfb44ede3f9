/* Counter names, units and descriptions. */
#include "stats/counters.h"

#include <string.h>

const struct counter_info counter_table[CTR_COUNT] = {
	[CTR_CPU_CYCLES] = {"cpu.cycles", "cycles", "total simulated core cycles"},
	[CTR_CPU_CYCLES_BASE] = {"cpu.cycles.base", "cycles", "base CPI times instructions"},
	[CTR_CPU_CYCLES_TLB] = {"cpu.cycles.tlb", "cycles", "L2 TLB hit penalties"},
	[CTR_CPU_CYCLES_WALK] = {"cpu.cycles.walk", "cycles", "page-walk memory references (both dimensions)"},
	[CTR_CPU_CYCLES_GUEST_KERNEL] = {"cpu.cycles.guest_kernel", "cycles",
					 "guest kernel work: page faults, page zeroing, PTE stores, timer ticks"},
	[CTR_CPU_CYCLES_VMEXIT] = {"cpu.cycles.vmexit", "cycles", "VM exit + VM entry hardware round trips"},
	[CTR_CPU_CYCLES_VMM] = {"cpu.cycles.vmm", "cycles", "VMM handler work (counted operations)"},
	[CTR_CPU_INSTRUCTIONS] = {"cpu.instructions", "insns", "guest instructions (one per fetch record)"},
	[CTR_MEM_REFS_FETCH] = {"mem.refs.fetch", "refs", "instruction fetches"},
	[CTR_MEM_REFS_LOAD] = {"mem.refs.load", "refs", "data loads"},
	[CTR_MEM_REFS_STORE] = {"mem.refs.store", "refs", "data stores"},
	[CTR_MEM_REFS_MODIFY] = {"mem.refs.modify", "refs", "load-then-store (lackey M)"},
	[CTR_MEM_REFS_SPLIT] = {"mem.refs.split", "refs", "references that cross a 4 KiB page boundary (translated twice)"},
	[CTR_MEM_REFS_KERNEL] = {"mem.refs.kernel", "refs",
				 "guest-kernel writes through its direct map (paging-entry stores, page zeroing)"},
	[CTR_TLB_L1I_HIT] = {"tlb.l1i.hit", "lookups", "L1 ITLB hits"},
	[CTR_TLB_L1I_MISS] = {"tlb.l1i.miss", "lookups", "L1 ITLB misses"},
	[CTR_TLB_L1D_HIT] = {"tlb.l1d.hit", "lookups", "L1 DTLB hits"},
	[CTR_TLB_L1D_MISS] = {"tlb.l1d.miss", "lookups", "L1 DTLB misses"},
	[CTR_TLB_L2_HIT] = {"tlb.l2.hit", "lookups", "L2 (STLB) hits after an L1 miss"},
	[CTR_TLB_L2_MISS] = {"tlb.l2.miss", "lookups", "L2 (STLB) misses: a page walk follows"},
	[CTR_TLB_DIRTY_ASSIST] = {"tlb.dirty_assist", "events",
				  "writes that hit a TLB entry with D = 0 and re-walked to set D"},
	[CTR_TLB_FLUSH_VPID] = {"tlb.flush.vpid0", "events",
				"VPID-0 flushes on VM entry/exit with \"enable VPID\" = 0"},
	[CTR_TLB_INVLPG] = {"tlb.invlpg", "events", "INVLPG executed by the guest"},
	[CTR_TLB_FLUSH_CR3] = {"tlb.flush.cr3", "events", "MOV to CR3 flushes"},
	[CTR_WALK_COUNT] = {"walk.count", "walks", "page walks started on a TLB miss"},
	[CTR_WALK_GUEST_REFS] = {"walk.guest.refs", "refs", "guest (or native) paging-structure entry reads"},
	[CTR_WALK_EPT_REFS] = {"walk.ept.refs", "refs", "EPT paging-structure entry reads during 2D walks"},
	[CTR_WALK_GUEST_AD_WRITES] = {"walk.guest.ad_writes", "refs", "guest paging-entry A/D bit updates"},
	[CTR_WALK_EPT_AD_WRITES] = {"walk.ept.ad_writes", "refs", "EPT entry A/D bit updates"},
	[CTR_WALK_FAULTS] = {"walk.faults", "walks", "walks that ended in #PF, EPT violation or misconfiguration"},
	[CTR_GUEST_PF] = {"guest.pf", "faults", "page faults taken by the guest kernel"},
	[CTR_GUEST_PAGES_MAPPED] = {"guest.pages.mapped", "pages", "data pages mapped on demand"},
	[CTR_GUEST_PAGES_UNMAPPED] = {"guest.pages.unmapped", "pages", "data pages unmapped (munmap, brk, exit)"},
	[CTR_GUEST_PAGES_ZEROED] = {"guest.pages.zeroed", "pages", "pages zeroed by the guest kernel"},
	[CTR_GUEST_PT_PAGES] = {"guest.pt.pages", "pages", "guest page-table pages allocated"},
	[CTR_GUEST_PT_PAGES_FREED] = {"guest.pt.pages_freed", "pages", "guest page-table pages freed"},
	[CTR_GUEST_PTE_WRITES] = {"guest.pte.writes", "stores", "paging-entry stores by the guest kernel"},
	[CTR_GUEST_INVLPG] = {"guest.invlpg", "insns", "INVLPG issued by the guest kernel"},
	[CTR_GUEST_SYSCALL_MMAP] = {"guest.syscall.mmap", "calls", "mmap system calls"},
	[CTR_GUEST_SYSCALL_MUNMAP] = {"guest.syscall.munmap", "calls", "munmap system calls"},
	[CTR_GUEST_SYSCALL_BRK] = {"guest.syscall.brk", "calls", "brk system calls"},
	[CTR_GUEST_PROC_CREATE] = {"guest.proc.create", "events", "processes or threads created"},
	[CTR_GUEST_PROC_EXIT] = {"guest.proc.exit", "events", "processes exited"},
	[CTR_GUEST_TIMER_TICKS] = {"guest.timer.ticks", "events", "guest timer interrupts handled"},
	[CTR_VMX_EXITS] = {"vmx.exits", "exits", "VM exits, all reasons"},
	[CTR_VMX_ENTRIES] = {"vmx.entries", "entries", "VM entries (VMLAUNCH + VMRESUME)"},
	[CTR_VMX_INJECTED_EVENTS] = {"vmx.injected", "events", "events injected on VM entry"},
	[CTR_VMM_EPT_VIOLATIONS] = {"vmm.ept.violations", "exits", "EPT violations handled by the EPT manager"},
	[CTR_VMM_EPT_BACKED_PAGES] = {"vmm.ept.backed_pages", "pages", "guest-physical pages backed with host frames"},
	[CTR_VMM_EPT_TABLE_PAGES] = {"vmm.ept.table_pages", "pages", "EPT paging-structure pages allocated"},
	[CTR_VMM_EPT_ENTRY_WRITES] = {"vmm.ept.entry_writes", "stores", "EPT entries written by the VMM"},
	[CTR_VMM_HOST_PAGES_ZEROED] = {"vmm.host.pages_zeroed", "pages", "host frames zeroed before use"},
	[CTR_MEM_HOST_PAGES_STORED] = {"mem.host.pages_stored.peak", "pages",
				       "most host-physical pages stored at once (paging structures; data pages are never stored)"},
};

int counter_by_name(const char *name)
{
	for (int i = 0; i < CTR_COUNT; i++)
		if (counter_table[i].name && strcmp(counter_table[i].name, name) == 0)
			return i;
	return -1;
}
