/*
 * Notes: the EPT manager. Like KVM's TDP MMU for a fault on an unbacked
 * guest-physical page: walk the EPT tables with ordinary loads, allocate
 * and zero any missing table (entries R|W|X), allocate and zero a host
 * frame, and write the leaf (R|W|X, memory type WB, IPAT, as KVM does for
 * RAM without non-coherent DMA). Making a not-present entry present needs
 * no INVEPT (EPT never caches not-present entries). 4 KiB backing only:
 * 2 MiB / 1 GiB backing is the large-page issue.
 */
#include "vmm/vmm.h"

#include <inttypes.h>

#include "arch/ept.h"
#include "cpu/vmx.h"

#define EPT_TABLE_FLAGS (EPTE_R | EPTE_W | EPTE_X)
#define EPT_LEAF_FLAGS (EPTE_R | EPTE_W | EPTE_X | ((uint64_t)EPTP_MT_WB << EPTE_MT_SHIFT) | EPTE_IPAT)

uint64_t ept_mgr_eptp(uint64_t root, int levels, bool ad)
{
	return (root & PHYS_ADDR_MASK) | EPTP_MT_WB | ((uint64_t)(levels - 1) << EPTP_WALK_LEN_SHIFT) |
	       (ad ? EPTP_AD : 0);
}

static int write_entry(struct vmm *vmm, uint64_t hpa, uint64_t val)
{
	ctr_inc(vmm->ctr, CTR_VMM_EPT_ENTRY_WRITES);
	return vmx_root_write64(vmm->cpu, hpa, val);
}

/* Address of the EPT PTE for gpa, creating missing tables. 0 or -1. */
static int leaf_slot(struct vmm *vmm, uint64_t gpa, uint64_t *slot)
{
	uint64_t table = vmm->ept_root;
	for (int level = vmm->ept_levels; level >= 2; level--) {
		uint64_t ea = table + 8 * pt_index(gpa, level);
		uint64_t e = vmx_root_read64(vmm->cpu, ea);
		if (!(e & EPTE_RWX)) {
			uint64_t t;
			if (vmm_host_frame(vmm, &t) < 0)
				return -1;
			ctr_inc(vmm->ctr, CTR_VMM_EPT_TABLE_PAGES);
			e = t | EPT_TABLE_FLAGS;
			if (write_entry(vmm, ea, e) < 0)
				return -1;
		}
		table = e & PHYS_ADDR_MASK;
	}
	*slot = table + 8 * pt_index(gpa, 1);
	return 0;
}

int ept_mgr_map(struct vmm *vmm, uint64_t gpa)
{
	uint64_t ea;
	if (leaf_slot(vmm, gpa, &ea) < 0)
		return -1;
	if (vmx_root_read64(vmm->cpu, ea) & EPTE_RWX)
		return cpu_fail(vmm->cpu, "EPT manager: GPA 0x%" PRIx64 " is already backed, yet the guest faulted on it",
				gpa);
	uint64_t page;
	if (vmm_host_frame(vmm, &page) < 0)
		return -1;
	ctr_inc(vmm->ctr, CTR_VMM_EPT_BACKED_PAGES);
	return write_entry(vmm, ea, page | EPT_LEAF_FLAGS);
}

int vmm_guest_write64(void *vmmp, uint64_t gpa, uint64_t val)
{
	struct vmm *vmm = vmmp;
	uint64_t ea;
	if (vmm->shadow) {
		uint64_t hpa;
		if (shadow_gpa_to_hpa(&vmm->smmu, gpa, &hpa) < 0)
			return -1;
		return vmx_root_write64(vmm->cpu, hpa, val);
	}
	if (gpa >= vmm->guest_mem_bytes)
		return cpu_fail(vmm->cpu, "guest image word at GPA 0x%" PRIx64 " lies beyond guest memory", gpa);
	if (leaf_slot(vmm, gpa, &ea) < 0)
		return -1;
	uint64_t leaf = vmx_root_read64(vmm->cpu, ea);
	if (!(leaf & EPTE_RWX)) {
		if (ept_mgr_map(vmm, gpa & PAGE_MASK) < 0)
			return -1;
		leaf = vmx_root_read64(vmm->cpu, ea);
	}
	return vmx_root_write64(vmm->cpu, (leaf & PHYS_ADDR_MASK) | (gpa & (PAGE_SIZE - 1)), val);
}
