/*
 * VMX instructions as the VMM executes them (root operation only).
 * Status follows the SDM's conventions ("VMsucceed", "VMfailInvalid",
 * "VMfailValid(error)"): on VMfailValid the error number is in the
 * VM-instruction error field (0x4400) of the current VMCS.
 * Sources: reference sheet §1.1, §2.3, §4.6, §5.5, §5.6 (SDM Vol. 3C
 * "VMX Instruction Reference", "VM Entries", "Checks on VMX Controls").
 */
#ifndef VTSIM_CPU_VMX_H
#define VTSIM_CPU_VMX_H

#include <stdint.h>

#include "cpu/cpu.h"

enum vmx_status {
	VMX_SUCCEED = 0,
	VMX_FAIL_INVALID, /* no current VMCS */
	VMX_FAIL_VALID,   /* error number in VM-instruction error */
	VMX_SIM_STOP,     /* not architectural: the simulation stopped (error or interrupt), see cpu->err */
};

/* IA32_VMX_BASIC revision identifier of the modelled processor. */
#define VTSIM_VMCS_REVISION 0x12u

/* VMXON: enter VMX root operation (CR4.VMXE is assumed set). */
enum vmx_status vmx_on(struct cpu *c);
/* VMXOFF: leave VMX operation (the time since the last exit is that exit's). */
enum vmx_status vmx_off(struct cpu *c);
/* VMPTRLD: make vmcs current (its revision must match). */
enum vmx_status vmx_ptrld(struct cpu *c, struct vmcs *vmcs);
/* VMREAD: error 12 for an unsupported encoding. */
enum vmx_status vmx_read(struct cpu *c, uint32_t enc, uint64_t *val);
/* VMWRITE: error 12 unsupported, error 13 for a read-only (VM-exit
 * information) field, since IA32_VMX_MISC[29] = 0 here. */
enum vmx_status vmx_write(struct cpu *c, uint32_t enc, uint64_t val);

/*
 * VMLAUNCH / VMRESUME: run the VM-entry checks (src/cpu/vmx_checks.h:
 * controls -> error 7, host state -> error 8, guest state -> VMX_SUCCEED
 * with exit reason 0x80000021 recorded and the CPU still in root
 * operation), load guest state, deliver an injected event, and run the
 * guest until a VM exit, which returns VMX_SUCCEED with the exit recorded in
 * the VMCS. VMLAUNCH needs a clear VMCS (error 4), VMRESUME a launched one
 * (error 5). VMX_SIM_STOP if the simulation had to stop inside the guest.
 */
enum vmx_status vmx_launch(struct cpu *c);
enum vmx_status vmx_resume(struct cpu *c);

/* INVEPT type 1 (single-context, EP4TA of eptp) or 2 (all-context). Error 28
 * for another type. */
enum vmx_status vmx_invept(struct cpu *c, unsigned type, uint64_t eptp);
/* INVVPID types 0-3 (reference sheet §5.5); error 28 for VPID 0 with types
 * 0, 1, 3, a non-canonical address with type 0, or another type. */
enum vmx_status vmx_invvpid(struct cpu *c, unsigned type, uint16_t vpid, uint64_t la);

/* RDMSR in root operation of a VMX capability MSR or IA32_FEATURE_CONTROL:
 * the profile's values (struct cpu caps). 0, or -1 for an MSR the
 * processor does not have (#GP). */
int vmx_root_rdmsr(const struct cpu *c, uint32_t msr, uint64_t *val);

/* MOV to CR2 in root operation: VM entry does not load CR2, so a VMM that
 * injects #PF puts the faulting address there first, as KVM does. */
void vmx_root_mov_to_cr2(struct cpu *c, uint64_t val);

/* Root-mode physical memory accesses of VMM software, charged as VMM work:
 * a load or store costs the latency of the cache level holding its line
 * (cpu_pt_access); clearing a page costs host.page_zero_cycles and leaves
 * its lines in the caches. */
uint64_t vmx_root_read64(struct cpu *c, uint64_t hpa);
int vmx_root_write64(struct cpu *c, uint64_t hpa, uint64_t val);
void vmx_root_zero_page(struct cpu *c, uint64_t hpa);

#endif
