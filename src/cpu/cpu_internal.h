/* Internal interfaces between cpu.c (execution) and vmx.c (VMX transitions). */
#ifndef VTSIM_CPU_CPU_INTERNAL_H
#define VTSIM_CPU_CPU_INTERNAL_H

#include "cpu/cpu.h"

/* Run the current context (native, or VMX non-root) until it finishes, a VM
 * exit happens, an error occurs or the user interrupts. */
enum run_status cpu_run_guest(struct cpu *c);

/* VM exit: record reason/qualification/GPA/GLA/interruption info in the
 * VMCS, save guest state, return to root operation. */
void cpu_vmexit(struct cpu *c, unsigned reason, uint64_t qual, uint64_t gpa, uint64_t gla, uint32_t intr_info);

/* Flush linear and combined mappings of VPID 0 ("enable VPID" = 0 on VM
 * entry and exit, reference sheet §5.6). */
void cpu_flush_vpid0(struct cpu *c);

/* The TLB tag of the running context. */
struct tlb_ctx cpu_tlb_ctx(const struct cpu *c);

#endif
