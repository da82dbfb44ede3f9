/*
 * Notes: the EPT manager. Like KVM's TDP MMU for a fault on an unbacked
 * guest-physical page: walk the EPT tables with ordinary loads, allocate
 * and zero any missing table (entries R|W|X), allocate and zero host
 * memory, and write the leaf (R|W|X, memory type WB, IPAT, as KVM does for
 * RAM without non-coherent DMA). Making a not-present entry present needs
 * no INVEPT (EPT never caches not-present entries).
 * Large backing (vmm.backing=2m|1g, KVM over a huge-page memslot,
 * host_pfn_mapping_level / kvm_mmu_hugepage_adjust): the leaf is made at
 * the largest level whose page is no larger than the backing, whose aligned
 * guest-physical range lies wholly inside guest memory, and whose entry is
 * not present yet (no smaller mapping exists in the range), with PS = 1 and
 * one naturally aligned host block behind it; failing all, a 4 KiB leaf. So
 * with 1g a range at the end of guest memory that is not a whole GiB gets
 * 2 MiB leaves, and with either a range below a table the manager built
 * earlier gets smaller leaves (KVM's huge-page recovery, which would
 * collapse them later, is not modelled). A 2 MiB / 1 GiB leaf needs
 * IA32_VMX_EPT_VPID_CAP bit 16 / 17 (reference sheet §5.4); vmm_init
 * refuses vmm.backing=1g on a part without bit 17.
 */
#include "vmm/vio.h"
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

/* Bytes of the page an EPT leaf at level maps (level 1 = PTE). */
static inline uint64_t level_bytes(int level)
{
	return UINT64_C(1) << (PAGE_SHIFT + PT_INDEX_BITS * (unsigned)(level - 1));
}

/* Write a leaf for gpa at level (PS = 1 above level 1) over a fresh zeroed
 * host block of its size. 0 or -1. */
static int map_leaf(struct vmm *vmm, uint64_t ea, int level, uint64_t gpa_base)
{
	static const enum counter_id count[] = {[1] = CTR_VMM_EPT_BACKED_PAGES, [2] = CTR_VMM_BACKED_2M,
						[3] = CTR_VMM_BACKED_1G};
	uint64_t block;
	if (vmm_host_block(vmm, PT_INDEX_BITS * (unsigned)(level - 1), &block) < 0)
		return -1;
	ctr_inc(vmm->ctr, count[level]);
	if (write_entry(vmm, ea, block | EPT_LEAF_FLAGS | (level > 1 ? EPTE_PS : 0)) < 0)
		return -1;
	return vmm->vio ? vio_backed(vmm->vio, gpa_base, block, level_bytes(level)) : 0;
}

/* Map gpa: over fresh host memory (mmio_hpa = 0), or to the device page at
 * mmio_hpa with a 4 KiB read/write leaf of memory type UC (EPT bits 5:3 =
 * 0, reference sheet §5.2), as KVM maps an assigned device's BAR. */
static int ept_install(struct vmm *vmm, uint64_t gpa, uint64_t mmio_hpa)
{
	const uint64_t backing = UINT64_C(1) << page_size_shift(vmm->p->vmm_backing);
	uint64_t table = vmm->ept_root;
	for (int level = vmm->ept_levels; level >= 1; level--) {
		uint64_t ea = table + 8 * pt_index(gpa, level);
		uint64_t e = vmx_root_read64(vmm->cpu, ea);
		uint64_t bytes = level_bytes(level);
		if (mmio_hpa && level == 1 && !(e & EPTE_RWX))
			return write_entry(vmm, ea, (mmio_hpa & PAGE_MASK) | EPTE_R | EPTE_W);
		if (!mmio_hpa && !(e & EPTE_RWX) && level <= 3 && bytes <= backing) {
			uint64_t base = gpa & ~(bytes - 1);
			if (level == 1 || base + bytes <= vmm->guest_mem_bytes)
				return map_leaf(vmm, ea, level, base);
		}
		if (level == 1 || (e & EPTE_PS))
			return cpu_fail(vmm->cpu,
					"EPT manager: GPA 0x%" PRIx64 " is already backed, yet the guest faulted on it", gpa);
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
	return cpu_fail(vmm->cpu, "EPT manager: no level for GPA 0x%" PRIx64, gpa); /* not reached */
}

int ept_mgr_map(struct vmm *vmm, uint64_t gpa)
{
	return ept_install(vmm, gpa, 0);
}

int ept_mgr_map_mmio(struct vmm *vmm, uint64_t gpa, uint64_t hpa)
{
	return ept_install(vmm, gpa, hpa);
}

/* The HPA the EPT maps gpa to, following a leaf at any level: 1 with *hpa
 * set, 0 if gpa is not backed. */
static int ept_lookup(struct vmm *vmm, uint64_t gpa, uint64_t *hpa)
{
	uint64_t table = vmm->ept_root;
	for (int level = vmm->ept_levels; level >= 1; level--) {
		uint64_t e = vmx_root_read64(vmm->cpu, table + 8 * pt_index(gpa, level));
		if (!(e & EPTE_RWX))
			return 0;
		if (level == 1 || (e & EPTE_PS)) {
			uint64_t off = level_bytes(level) - 1;
			*hpa = (e & PHYS_ADDR_MASK & ~off) | (gpa & off);
			return 1;
		}
		table = e & PHYS_ADDR_MASK;
	}
	return 0;
}

int vmm_gpa_to_hpa(struct vmm *vmm, uint64_t gpa, uint64_t *hpa)
{
	if (vmm->shadow)
		return shadow_gpa_to_hpa(&vmm->smmu, gpa, hpa);
	if (gpa >= vmm->guest_mem_bytes)
		return cpu_fail(vmm->cpu, "GPA 0x%" PRIx64 " lies beyond guest memory", gpa);
	if (!ept_lookup(vmm, gpa, hpa)) {
		if (ept_mgr_map(vmm, gpa & PAGE_MASK) < 0)
			return -1;
		ept_lookup(vmm, gpa, hpa);
	}
	return 0;
}

int vmm_guest_write64(void *vmmp, uint64_t gpa, uint64_t val)
{
	struct vmm *vmm = vmmp;
	uint64_t hpa;
	if (vmm_gpa_to_hpa(vmm, gpa, &hpa) < 0)
		return -1;
	return vmx_root_write64(vmm->cpu, hpa, val);
}
