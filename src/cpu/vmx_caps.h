/*
 * VMX capability MSRs of the modelled processor (Core i7-6700K, Skylake
 * client) as RDMSR returns them, and the helpers that read their
 * allowed-0 / allowed-1 halves.
 *
 * Source: reference sheet §1.5 (SDM Vol. 3D Appendix A "VMX Capability
 * Reporting Facility"), §4.1-§4.5 (control bits), §5.4 (EPT/VPID caps),
 * §6.1 (CR0/CR4 fixed bits); hardware values of the real part from a
 * yulyugin/vmlatency dump (cpu-parameters.md [VML]).
 *
 * Control-capability MSR (PINBASED/PROCBASED/EXIT/ENTRY_CTLS, their TRUE_*
 * versions, PROCBASED_CTLS2), §1.5:
 *  [31:0]   allowed-0 settings: a 1 here means the control must be 1
 *  [63:32]  allowed-1 settings: a 0 here means the control must be 0
 *
 * IA32_VMX_BASIC (0x480):
 *  [30:0]   VMCS revision identifier      [44:32] VMCS region size
 *  [48]     addresses limited to 32 bits  [49]    dual-monitor SMM
 *  [53:50]  VMCS memory type (6 = WB)     [54]    INS/OUTS instruction info
 *  [55]     TRUE_* control MSRs exist     [56]    error code on any vector
 *
 * IA32_VMX_MISC (0x485):
 *  [4:0]    preemption-timer rate         [5]     exits store EFER.LMA
 *  [8:6]    HLT / shutdown / wait-for-SIPI activity states
 *  [24:16]  CR3-target values             [27:25] MSR-list size 512*(N+1)
 *  [29]     VMWRITE to exit-info fields   [30]    injection with length 0
 *
 * What the model offers (allowed-1), control by control:
 *  modelled   the model implements the control's behaviour
 *  accepted   the 1-setting is allowed but not modelled: the event it
 *             intercepts or changes never happens in the model's guest (a
 *             trace-driven long-mode Linux that executes no I/O, MSR, CR8,
 *             DR, RDTSC, PAUSE, MWAIT... instructions and receives no NMI),
 *             so the 1-setting changes nothing observable
 *  refused    allowed-1 = 0 although the real part has it: its behaviour
 *             would be visible and is not modelled
 *
 *  pin-based    modelled: external-interrupt exiting
 *               accepted: NMI exiting, virtual NMIs
 *               refused:  preemption timer (no timer), posted interrupts
 *                         (not on this client part either)
 *  primary      modelled: HLT, INVLPG, CR3-load exiting (+ CR3-target
 *                         values), activate secondary controls
 *               accepted: TSC offsetting, MWAIT, RDPMC, RDTSC, CR3-store,
 *                         CR8-load/store, TPR shadow, MOV-DR, unconditional
 *                         I/O, I/O bitmaps, MSR bitmaps, MONITOR, PAUSE
 *               refused:  interrupt-window and NMI-window exiting (they
 *                         exit at once on an open window: not modelled),
 *                         monitor trap flag
 *  secondary    modelled: enable EPT, enable VPID
 *               accepted: descriptor-table exiting, RDTSCP, virtualize
 *                         x2APIC mode, WBINVD exiting, unrestricted guest
 *                         (the guest-state checks honour it; the guest
 *                         always pages), PAUSE-loop exiting, RDRAND
 *                         exiting, INVPCID, RDSEED exiting, conceal VMX
 *                         from PT, XSAVES
 *               refused:  virtualize APIC accesses (an access to the
 *                         APIC-access page would have to exit), VM
 *                         functions, VMCS shadowing, PML, EPT-violation #VE
 *  VM-exit      modelled: host address-space size, acknowledge interrupt
 *                         on exit, save IA32_EFER (every exit saves it)
 *               accepted: save debug controls, load PERF_GLOBAL_CTRL,
 *                         save/load PAT, load EFER (root-mode MSRs are not
 *                         modelled), clear BNDCFGS, conceal VMX from PT
 *               refused:  save preemption-timer value
 *  VM-entry     modelled: IA-32e mode guest, load IA32_EFER (the model
 *                         loads the EFER field on every entry)
 *               accepted: load debug controls, load PERF_GLOBAL_CTRL, load
 *                         PAT, conceal VMX from PT
 *               refused:  entry to SMM, deactivate dual-monitor treatment
 *                         (no SMM; IA32_VMX_BASIC[49] = 0), load BNDCFGS
 *                         (the model's VMCS has no guest BNDCFGS field)
 */
#ifndef VTSIM_CPU_VMX_CAPS_H
#define VTSIM_CPU_VMX_CAPS_H

#include <stdbool.h>
#include <stdint.h>

/* MSR indices (§1.5). */
#define MSR_IA32_FEATURE_CONTROL 0x0000003au
#define MSR_IA32_VMX_BASIC 0x00000480u
#define MSR_IA32_VMX_PINBASED_CTLS 0x00000481u
#define MSR_IA32_VMX_PROCBASED_CTLS 0x00000482u
#define MSR_IA32_VMX_EXIT_CTLS 0x00000483u
#define MSR_IA32_VMX_ENTRY_CTLS 0x00000484u
#define MSR_IA32_VMX_MISC 0x00000485u
#define MSR_IA32_VMX_CR0_FIXED0 0x00000486u
#define MSR_IA32_VMX_CR0_FIXED1 0x00000487u
#define MSR_IA32_VMX_CR4_FIXED0 0x00000488u
#define MSR_IA32_VMX_CR4_FIXED1 0x00000489u
#define MSR_IA32_VMX_VMCS_ENUM 0x0000048au
#define MSR_IA32_VMX_PROCBASED_CTLS2 0x0000048bu
#define MSR_IA32_VMX_EPT_VPID_CAP 0x0000048cu
#define MSR_IA32_VMX_TRUE_PINBASED_CTLS 0x0000048du
#define MSR_IA32_VMX_TRUE_PROCBASED_CTLS 0x0000048eu
#define MSR_IA32_VMX_TRUE_EXIT_CTLS 0x0000048fu
#define MSR_IA32_VMX_TRUE_ENTRY_CTLS 0x00000490u
#define MSR_IA32_VMX_VMFUNC 0x00000491u

/* IA32_FEATURE_CONTROL: lock (bit 0), VMX outside SMX (bit 2). */
#define FEATURE_CONTROL_LOCKED (UINT64_C(1) << 0)
#define FEATURE_CONTROL_VMX_OUTSIDE_SMX (UINT64_C(1) << 2)

/* IA32_VMX_BASIC fields. */
#define VMX_BASIC_REVISION_MASK UINT64_C(0x7fffffff)
#define VMX_BASIC_SIZE_SHIFT 32
#define VMX_BASIC_SIZE_MASK (UINT64_C(0x1fff) << VMX_BASIC_SIZE_SHIFT)
#define VMX_BASIC_32BIT_ADDR (UINT64_C(1) << 48)
#define VMX_BASIC_DUAL_MONITOR (UINT64_C(1) << 49)
#define VMX_BASIC_MEM_TYPE_SHIFT 50
#define VMX_BASIC_MEM_TYPE_MASK (UINT64_C(0xf) << VMX_BASIC_MEM_TYPE_SHIFT)
#define VMX_BASIC_MEM_TYPE_WB UINT64_C(6)
#define VMX_BASIC_INOUT (UINT64_C(1) << 54)
#define VMX_BASIC_TRUE_CTLS (UINT64_C(1) << 55)
#define VMX_BASIC_ANY_ERROR_CODE (UINT64_C(1) << 56)

/* IA32_VMX_MISC fields. */
#define VMX_MISC_TIMER_RATE_MASK UINT64_C(0x1f)
#define VMX_MISC_SAVE_EFER_LMA (UINT64_C(1) << 5)
#define VMX_MISC_ACTIVITY_HLT (UINT64_C(1) << 6)
#define VMX_MISC_ACTIVITY_SHUTDOWN (UINT64_C(1) << 7)
#define VMX_MISC_ACTIVITY_WAIT_SIPI (UINT64_C(1) << 8)
#define VMX_MISC_CR3_TARGETS_SHIFT 16
#define VMX_MISC_CR3_TARGETS_MASK (UINT64_C(0x1ff) << VMX_MISC_CR3_TARGETS_SHIFT)
#define VMX_MISC_MSR_LIST_SHIFT 25
#define VMX_MISC_MSR_LIST_MASK (UINT64_C(0x7) << VMX_MISC_MSR_LIST_SHIFT)
#define VMX_MISC_VMWRITE_ANY_FIELD (UINT64_C(1) << 29)
#define VMX_MISC_ZERO_LEN_INJECT (UINT64_C(1) << 30)

_Static_assert((VMX_BASIC_REVISION_MASK & VMX_BASIC_SIZE_MASK) == 0, "BASIC fields overlap");
_Static_assert((VMX_BASIC_SIZE_MASK & VMX_BASIC_MEM_TYPE_MASK) == 0, "BASIC fields overlap");
_Static_assert((VMX_MISC_CR3_TARGETS_MASK & (VMX_MISC_MSR_LIST_MASK | VMX_MISC_ACTIVITY_WAIT_SIPI)) == 0,
	       "MISC fields overlap");

/*
 * One set of capability MSR values. The model's own is vmx_model_caps;
 * the entry checks take the set as a parameter so that tests can also
 * exercise rules whose controls the model refuses (posted interrupts,
 * PML...). Only the TRUE_* control MSRs are stored: the non-TRUE ones are
 * the same with the default-1 bits forced into allowed-0 (§1.5).
 */
struct vmx_caps {
	uint64_t basic;
	uint64_t true_pinbased;
	uint64_t true_procbased;
	uint64_t true_exit;
	uint64_t true_entry;
	uint64_t procbased2;
	uint64_t misc;
	uint64_t cr0_fixed0, cr0_fixed1;
	uint64_t cr4_fixed0, cr4_fixed1;
	uint64_t vmcs_enum;
	uint64_t ept_vpid_cap;
};

extern const struct vmx_caps vmx_model_caps;

/* Bits that must be 1 (allowed-0 settings, low dword). */
static inline uint32_t vmx_cap_must_be_1(uint64_t cap)
{
	return (uint32_t)cap;
}

/* Bits that may be 1 (allowed-1 settings, high dword). */
static inline uint32_t vmx_cap_may_be_1(uint64_t cap)
{
	return (uint32_t)(cap >> 32);
}

/* A control value fits a capability MSR: every must-be-1 bit set, no bit
 * outside may-be-1 (SDM "VMX Capability Reporting Facility", §1.5). */
static inline bool vmx_cap_fits(uint64_t cap, uint32_t value)
{
	uint32_t must1 = vmx_cap_must_be_1(cap);
	return (value & must1) == must1 && (value & ~vmx_cap_may_be_1(cap)) == 0;
}

/*
 * RDMSR of a VMX MSR from caps: 0 with *val set, or -1 for an MSR this
 * processor does not have (the caller raises #GP). As the SDM's Appendix A
 * ("VMX Capability Reporting Facility") says: the TRUE_* MSRs exist only
 * with IA32_VMX_BASIC[55], PROCBASED_CTLS2 only if "activate secondary
 * controls" may be 1, EPT_VPID_CAP only if EPT or VPID may be 1, VMFUNC
 * only if "enable VM functions" may be 1.
 */
int vmx_caps_rdmsr(const struct vmx_caps *caps, uint32_t msr, uint64_t *val);

/* RDMSR of the modelled processor (vmx_model_caps), plus
 * IA32_FEATURE_CONTROL as firmware leaves it (locked, VMX outside SMX). */
int vmx_rdmsr(uint32_t msr, uint64_t *val);

/*
 * True if value is an allowed setting of the control field described by
 * the control-capability MSR msr of the model (PINBASED/PROCBASED/EXIT/
 * ENTRY_CTLS, their TRUE_* versions, or PROCBASED_CTLS2); false for any
 * other MSR.
 */
bool vmx_ctls_allowed(uint32_t msr, uint32_t value);

#endif
