/* Internal interfaces between cpu.c (execution) and vmx.c (VMX transitions). */
#ifndef VTSIM_CPU_CPU_INTERNAL_H
#define VTSIM_CPU_CPU_INTERNAL_H

#include "cpu/cpu.h"

/* The guest kernel is entered for work w (its cycles are charged to it). */
static inline void cpu_enter_kernel(struct cpu *c, enum kernel_work w)
{
	c->kernel_work = (uint8_t)w;
}

/* Run the current context (native, or VMX non-root) until it finishes, a VM
 * exit happens, an error occurs or the user interrupts. */
enum run_status cpu_run_guest(struct cpu *c);

/* VM exit: record reason/qualification/GPA/GLA/interruption info in the
 * VMCS, save guest state, return to root operation. */
void cpu_vmexit(struct cpu *c, unsigned reason, uint64_t qual, uint64_t gpa, uint64_t gla, uint32_t intr_info);

/* VM exit caused by executing an instruction of len bytes (INVLPG, MOV CR):
 * records the VM-exit instruction length so the VMM can skip it. */
void cpu_vmexit_insn(struct cpu *c, unsigned reason, uint64_t qual, unsigned len);

/* A VM entry found guest RIP moved: retire the item that exited if it moved
 * by the exit's instruction length. 0, or -1 (cpu_fail) otherwise. */
int cpu_resume_at(struct cpu *c, uint64_t new_rip);

/* Flush linear and combined mappings of VPID 0 ("enable VPID" = 0 on VM
 * entry and exit, reference sheet §5.6). */
void cpu_flush_vpid0(struct cpu *c);

/*
 * Paging-structure-cache invalidation (SDM Vol. 3A "Invalidation of TLBs
 * and Paging-Structure Caches", Vol. 3C "Invalidating Cached Translation
 * Information"; reference sheet §5.5, §6.5). Caches that are off are
 * skipped.
 */
/* INVLPG, MOV to CR3, #PF: guest-cache entries of (vpid, pcid), any address. */
void cpu_psc_flush_pcid(struct cpu *c, uint16_t vpid, uint16_t pcid);
/* INVVPID types 0, 1, 3 and the VPID-0 flush: guest-cache entries of a VPID. */
void cpu_psc_flush_vpid(struct cpu *c, uint16_t vpid);
/* INVVPID type 2: guest-cache entries of every VPID but 0. */
void cpu_psc_flush_all_vpids_but_0(struct cpu *c);
/* INVEPT: the EPT caches, nested-TLB entries and combined guest-cache
 * entries of ep4ta (single-context), or of every EP4TA (ep4ta = 0,
 * all-context). */
void cpu_psc_flush_ept(struct cpu *c, uint64_t ep4ta);

/* The TLB tag of the running context. */
struct tlb_ctx cpu_tlb_ctx(const struct cpu *c);

#endif
