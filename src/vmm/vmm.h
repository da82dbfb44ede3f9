/*
 * The VMM: ordinary software written against the VMX interface, as KVM is.
 * It sets up a VMCS with VMWRITE (SDM encodings), launches the guest, and
 * handles each VM exit by reading the exit reason and qualification with
 * VMREAD, dispatching through a table indexed by exit reason. Its EPT
 * manager builds EPT tables in simulated host memory in the real format.
 */
#ifndef VTSIM_VMM_VMM_H
#define VTSIM_VMM_VMM_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/cpu.h"
#include "mem/mem.h"
#include "vmcs/vmcs.h"
#include "vmm/shadow.h"

/* The VPID this VMM gives its guest when "enable VPID" is on. */
#define VMM_GUEST_VPID 1

struct vio;

struct vmm {
	struct cpu *cpu;
	const struct sim_params *p;
	struct counters *ctr;
	struct frame_alloc host_frames; /* host-physical frames the VMM hands out */
	struct vmcs vmcs;
	bool shadow;                    /* shadow paging instead of EPT */
	struct shadow_mmu smmu;         /* the shadow MMU (shadow paging) */
	uint64_t ept_root;              /* HPA of the EPT PML4 (PML5 with 5-level EPT) */
	int ept_levels;                 /* EPT page-walk length: 4, or 5 (ept.levels) */
	uint64_t eptp;
	uint64_t guest_mem_bytes;       /* size of guest-physical memory (bytes) */
	bool guest_halted;              /* the guest finished: stop the VM */
	struct vio *vio;                /* its I/O path (src/vmm/vio.h), NULL: no devices */
};

/*
 * Set up VMX operation and a VMCS for a guest that starts with the given
 * control registers, run with EPT or (shadow = true) with shadow paging,
 * and "enable VPID" per p->vmx_vpid. Returns 0, or -1 with a message in
 * cpu->err.
 */
int vmm_init(struct vmm *vmm, struct cpu *cpu, const struct sim_params *p, struct counters *ctr, bool shadow,
	     uint64_t guest_cr0, uint64_t guest_cr3, uint64_t guest_cr4, uint64_t guest_efer);

/* A zeroed host frame for the VMM's own use (EPT or shadow tables, guest
 * memory), charged as VMM work; and its return. 0 or -1 (cpu_fail). */
int vmm_host_frame(struct vmm *vmm, uint64_t *hpa);
/* A zeroed, naturally aligned host block of 2^order frames (order 0, 9 or
 * 18: 4 KiB, 2 MiB, 1 GiB) backing guest memory: one allocation
 * (vmm.frame_alloc_cycles) and 2^order frames cleared (host.page_zero_cycles
 * each). 0 or -1 (cpu_fail: host memory has no such block left). */
int vmm_host_block(struct vmm *vmm, unsigned order, uint64_t *hpa);
int vmm_host_frame_put(struct vmm *vmm, uint64_t hpa);
void vmm_destroy(struct vmm *vmm);

/* Run the guest until it halts. Returns RUN_DONE, RUN_ERROR (message in
 * cpu->err; an unexpected exit also prints the VMCS on stderr) or
 * RUN_INTERRUPTED. */
enum run_status vmm_run(struct vmm *vmm);

/* EPT manager (src/vmm/ept_mgr.c): back the guest-physical page gpa with
 * fresh zeroed host memory, creating missing EPT tables: a 4 KiB leaf, or
 * with vmm.backing=2m|1g one leaf (PS = 1) for the aligned 2 MiB / 1 GiB
 * range around gpa when it lies inside guest memory and has no mapping yet.
 * 0 or -1 (cpu_fail). */
int ept_mgr_map(struct vmm *vmm, uint64_t gpa);
/* Map the guest-physical page gpa to the device page at hpa (a 4 KiB
 * read/write leaf, memory type UC): an assigned device's BAR. 0 / -1. */
int ept_mgr_map_mmio(struct vmm *vmm, uint64_t gpa, uint64_t hpa);
/* The HPA behind gpa (inside guest memory), backing its page first if
 * needed (EPT manager or shadow MMU). 0 / -1 (cpu_fail). */
int vmm_gpa_to_hpa(struct vmm *vmm, uint64_t gpa, uint64_t *hpa);
/* Skip len bytes of the guest's instruction (guest RIP += len), after
 * emulating it. 0 / -1. */
int vmm_skip_instruction(struct vmm *vmm, uint64_t len);
/* VMREAD / VMWRITE that report a failure with cpu_fail. 0 / -1. */
int vmm_vmread(struct vmm *vmm, uint32_t enc, uint64_t *val);
int vmm_vmwrite(struct vmm *vmm, uint32_t enc, uint64_t val);
/* Write 8 bytes of guest-physical memory from the VMM (loading the guest
 * image, as QEMU or Firecracker load a kernel), backing the page first if
 * needed; follows an EPT leaf of any size. vmmp is a struct vmm *. 0 or -1
 * (cpu_fail). */
int vmm_guest_write64(void *vmmp, uint64_t gpa, uint64_t val);
/* The EPT pointer of a WB EPT of levels (4 or 5) rooted at root, with A/D if
 * ad (EPTP bits 5:3 = levels - 1; reference sheet §5.1). */
uint64_t ept_mgr_eptp(uint64_t root, int levels, bool ad);

#endif
