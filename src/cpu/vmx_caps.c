/*
 * Notes: the VMX capability MSRs of the modelled Core i7-6700K. Modelled:
 * IA32_VMX_BASIC, the four control-capability MSRs and their TRUE_*
 * versions, PROCBASED_CTLS2, MISC, CR0/CR4 FIXED0/1, VMCS_ENUM,
 * EPT_VPID_CAP, and IA32_FEATURE_CONTROL as firmware leaves it.
 * Allowed-0 settings and the fixed-bit MSRs are the real part's; allowed-1
 * settings are the real part's minus the controls whose behaviour the
 * model does not implement (the table in vmx_caps.h says which controls
 * are modelled, accepted without being modelled, or refused), so a VMM
 * that reads these MSRs never asks for something the model would get
 * silently wrong. Differences from the real MSRs: revision id
 * VTSIM_VMCS_REVISION and region size 4096 (the real part: 4, 1024
 * bytes); no dual-monitor SMM (BASIC[49] = 0); MISC reports only the HLT
 * activity state, no preemption timer (rate 0) and no VMWRITE to
 * read-only fields; VMCS_ENUM covers every field the model's VMCS stores.
 * Left out: IA32_VMX_VMFUNC, PROCBASED_CTLS3 and EXIT_CTLS2 (their
 * controls are not offered, so RDMSR of them is #GP as on the real part).
 */
#include "cpu/vmx_caps.h"

#include "arch/paging.h"
#include "arch/vmx_controls.h"
#include "cpu/vmx.h"
#include "mmu/walk.h"

/*
 * The real part's values (yulyugin/vmlatency dump of an i7-6700K,
 * cpu-parameters.md [VML]); the model's must agree on allowed-0 and the
 * fixed bits, and offer a subset of allowed-1.
 */
#define SKL_TRUE_PINBASED UINT64_C(0x0000007f00000016)
#define SKL_TRUE_PROCBASED UINT64_C(0xfff9fffe04006172)
#define SKL_TRUE_EXIT UINT64_C(0x01ffffff00036dfb)
#define SKL_TRUE_ENTRY UINT64_C(0x0003ffff000011fb)
#define SKL_PROCBASED2 UINT64_C(0x001f7cff00000000)
#define SKL_CR0_FIXED0 UINT64_C(0x80000021)
#define SKL_CR0_FIXED1 UINT64_C(0xffffffff)
#define SKL_CR4_FIXED0 UINT64_C(0x00002000)
#define SKL_CR4_FIXED1 UINT64_C(0x003727ff)
#define SKL_EPT_VPID_CAP UINT64_C(0x00000f0106334141)

/* Pin-based controls (§4.1). */
#define PIN_MODELLED PIN_EXT_INTR_EXITING
#define PIN_ACCEPTED (PIN_NMI_EXITING | PIN_VIRTUAL_NMIS)
#define PIN_REFUSED (PIN_PREEMPTION_TIMER | PIN_POSTED_INTR)
#define PIN_MUST1 PIN_DEFAULT1_BITS
#define PIN_MAY1 (PIN_DEFAULT1_BITS | PIN_MODELLED | PIN_ACCEPTED)

/* Primary processor-based controls (§4.2). With the TRUE MSR, CR3-load
 * and CR3-store exiting may be 0. */
#define PROC_MODELLED                                                                                        \
	(CPU_HLT_EXITING | CPU_INVLPG_EXITING | CPU_CR3_LOAD_EXITING | CPU_ACTIVATE_SECONDARY_CONTROLS |          \
	 CPU_INTR_WINDOW_EXITING)
#define PROC_ACCEPTED                                                                                        \
	(CPU_USE_TSC_OFFSETTING | CPU_MWAIT_EXITING | CPU_RDPMC_EXITING | CPU_RDTSC_EXITING |                  \
	 CPU_CR3_STORE_EXITING | CPU_CR8_LOAD_EXITING | CPU_CR8_STORE_EXITING | CPU_USE_TPR_SHADOW |           \
	 CPU_MOV_DR_EXITING | CPU_UNCOND_IO_EXITING | CPU_USE_IO_BITMAPS | CPU_USE_MSR_BITMAPS |               \
	 CPU_MONITOR_EXITING | CPU_PAUSE_EXITING)
#define PROC_REFUSED (CPU_NMI_WINDOW_EXITING | CPU_MONITOR_TRAP_FLAG)
#define PROC_MUST1 (CPU_DEFAULT1_BITS & ~(CPU_CR3_LOAD_EXITING | CPU_CR3_STORE_EXITING))
#define PROC_MAY1 (CPU_DEFAULT1_BITS | PROC_MODELLED | PROC_ACCEPTED)

/* Secondary processor-based controls (§4.3); none is default-1. */
#define PROC2_MODELLED (SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID)
#define PROC2_ACCEPTED                                                                                     \
	(SECONDARY_DESC_TABLE_EXITING | SECONDARY_ENABLE_RDTSCP | SECONDARY_VIRTUALIZE_X2APIC |              \
	 SECONDARY_WBINVD_EXITING | SECONDARY_UNRESTRICTED_GUEST | SECONDARY_PAUSE_LOOP_EXITING |           \
	 SECONDARY_RDRAND_EXITING | SECONDARY_ENABLE_INVPCID | SECONDARY_RDSEED_EXITING |                   \
	 SECONDARY_CONCEAL_VMX_FROM_PT | SECONDARY_ENABLE_XSAVES)
#define PROC2_REFUSED                                                                                      \
	(SECONDARY_VIRTUALIZE_APIC_ACCESSES | SECONDARY_ENABLE_VMFUNC | SECONDARY_VMCS_SHADOWING |          \
	 SECONDARY_ENABLE_PML | SECONDARY_EPT_VIOLATION_VE)
#define PROC2_MAY1 (PROC2_MODELLED | PROC2_ACCEPTED)

/* VM-exit controls (§4.4). With the TRUE MSR, "save debug controls" may be 0. */
#define EXIT_MODELLED (EXIT_HOST_ADDR_SPACE_SIZE | EXIT_ACK_INTR_ON_EXIT | EXIT_SAVE_IA32_EFER)
#define EXIT_ACCEPTED                                                                                      \
	(EXIT_SAVE_DEBUG_CONTROLS | EXIT_LOAD_IA32_PERF_GLOBAL_CTRL | EXIT_SAVE_IA32_PAT | EXIT_LOAD_IA32_PAT | \
	 EXIT_LOAD_IA32_EFER | EXIT_CLEAR_IA32_BNDCFGS | EXIT_CONCEAL_VMX_FROM_PT)
#define EXIT_REFUSED EXIT_SAVE_PREEMPTION_TIMER
#define EXIT_MUST1 (EXIT_DEFAULT1_BITS & ~EXIT_SAVE_DEBUG_CONTROLS)
#define EXIT_MAY1 (EXIT_DEFAULT1_BITS | EXIT_MODELLED | EXIT_ACCEPTED)

/* VM-entry controls (§4.5). With the TRUE MSR, "load debug controls" may be 0. */
#define ENTRY_MODELLED (ENTRY_IA32E_MODE_GUEST | ENTRY_LOAD_IA32_EFER)
#define ENTRY_ACCEPTED \
	(ENTRY_LOAD_DEBUG_CONTROLS | ENTRY_LOAD_IA32_PERF_GLOBAL_CTRL | ENTRY_LOAD_IA32_PAT | ENTRY_CONCEAL_VMX_FROM_PT)
/* No SMM; the model's VMCS has no guest IA32_BNDCFGS field (0x2812). */
#define ENTRY_REFUSED (ENTRY_SMM | ENTRY_DEACT_DUAL_MONITOR | ENTRY_LOAD_IA32_BNDCFGS)
#define ENTRY_MUST1 (ENTRY_DEFAULT1_BITS & ~ENTRY_LOAD_DEBUG_CONTROLS)
#define ENTRY_MAY1 (ENTRY_DEFAULT1_BITS | ENTRY_MODELLED | ENTRY_ACCEPTED)

/* The three classes of each field are disjoint, and none touches a
 * default-1 bit except the ones the TRUE MSRs let be 0. */
_Static_assert((PIN_MODELLED & PIN_ACCEPTED) == 0 && ((PIN_MODELLED | PIN_ACCEPTED) & PIN_REFUSED) == 0 &&
		       (PIN_DEFAULT1_BITS & (PIN_MODELLED | PIN_ACCEPTED | PIN_REFUSED)) == 0,
	       "pin-based control classes overlap");
_Static_assert((PROC_MODELLED & PROC_ACCEPTED) == 0 && ((PROC_MODELLED | PROC_ACCEPTED) & PROC_REFUSED) == 0 &&
		       (CPU_DEFAULT1_BITS & PROC_REFUSED) == 0 &&
		       (CPU_DEFAULT1_BITS & (PROC_MODELLED | PROC_ACCEPTED)) ==
			       (CPU_CR3_LOAD_EXITING | CPU_CR3_STORE_EXITING),
	       "primary control classes overlap");
_Static_assert((PROC2_MODELLED & PROC2_ACCEPTED) == 0 && ((PROC2_MODELLED | PROC2_ACCEPTED) & PROC2_REFUSED) == 0,
	       "secondary control classes overlap");
_Static_assert((EXIT_MODELLED & EXIT_ACCEPTED) == 0 && ((EXIT_MODELLED | EXIT_ACCEPTED) & EXIT_REFUSED) == 0 &&
		       (EXIT_DEFAULT1_BITS & (EXIT_MODELLED | EXIT_REFUSED)) == 0 &&
		       (EXIT_DEFAULT1_BITS & EXIT_ACCEPTED) == EXIT_SAVE_DEBUG_CONTROLS,
	       "VM-exit control classes overlap");
_Static_assert((ENTRY_MODELLED & ENTRY_ACCEPTED) == 0 && ((ENTRY_MODELLED | ENTRY_ACCEPTED) & ENTRY_REFUSED) == 0 &&
		       (ENTRY_DEFAULT1_BITS & (ENTRY_MODELLED | ENTRY_REFUSED)) == 0 &&
		       (ENTRY_DEFAULT1_BITS & ENTRY_ACCEPTED) == ENTRY_LOAD_DEBUG_CONTROLS,
	       "VM-entry control classes overlap");

/* The model's allowed-0 settings are the real part's; its allowed-1
 * settings are a subset of the real part's. */
#define CAP(must1, may1) (((uint64_t)(may1) << 32) | (uint64_t)(must1))
#define SUBSET_OF(model, hw) ((uint32_t)(model) == (uint32_t)(hw) && (((model) >> 32) & ~((hw) >> 32)) == 0)
_Static_assert(SUBSET_OF(CAP(PIN_MUST1, PIN_MAY1), SKL_TRUE_PINBASED), "pin-based caps exceed the i7-6700K");
_Static_assert(SUBSET_OF(CAP(PROC_MUST1, PROC_MAY1), SKL_TRUE_PROCBASED), "primary caps exceed the i7-6700K");
_Static_assert(SUBSET_OF(CAP(0, PROC2_MAY1), SKL_PROCBASED2), "secondary caps exceed the i7-6700K");
_Static_assert(SUBSET_OF(CAP(EXIT_MUST1, EXIT_MAY1), SKL_TRUE_EXIT), "VM-exit caps exceed the i7-6700K");
_Static_assert(SUBSET_OF(CAP(ENTRY_MUST1, ENTRY_MAY1), SKL_TRUE_ENTRY), "VM-entry caps exceed the i7-6700K");
_Static_assert(MODEL_EPT_VPID_CAP == SKL_EPT_VPID_CAP, "EPT/VPID caps differ from the i7-6700K");

/* Highest index of any VMCS encoding the model stores: 26, the tertiary
 * controls (0x2034). IA32_VMX_VMCS_ENUM[9:1]. */
#define MODEL_VMCS_MAX_INDEX 26u

const struct vmx_caps vmx_model_caps = {
	.basic = (uint64_t)VTSIM_VMCS_REVISION | ((uint64_t)PAGE_SIZE << VMX_BASIC_SIZE_SHIFT) |
		 (VMX_BASIC_MEM_TYPE_WB << VMX_BASIC_MEM_TYPE_SHIFT) | VMX_BASIC_INOUT | VMX_BASIC_TRUE_CTLS,
	.true_pinbased = CAP(PIN_MUST1, PIN_MAY1),
	.true_procbased = CAP(PROC_MUST1, PROC_MAY1),
	.true_exit = CAP(EXIT_MUST1, EXIT_MAY1),
	.true_entry = CAP(ENTRY_MUST1, ENTRY_MAY1),
	.procbased2 = CAP(0, PROC2_MAY1),
	.misc = ((uint64_t)4 << VMX_MISC_CR3_TARGETS_SHIFT) | VMX_MISC_SAVE_EFER_LMA | VMX_MISC_ACTIVITY_HLT,
	.cr0_fixed0 = SKL_CR0_FIXED0,
	.cr0_fixed1 = SKL_CR0_FIXED1,
	.cr4_fixed0 = SKL_CR4_FIXED0,
	.cr4_fixed1 = SKL_CR4_FIXED1,
	.vmcs_enum = (uint64_t)MODEL_VMCS_MAX_INDEX << 1,
	.ept_vpid_cap = MODEL_EPT_VPID_CAP,
};

int vmx_caps_rdmsr(const struct vmx_caps *caps, uint32_t msr, uint64_t *val)
{
	bool true_ctls = caps->basic & VMX_BASIC_TRUE_CTLS;
	uint32_t proc2_may1 = (vmx_cap_may_be_1(caps->true_procbased) & CPU_ACTIVATE_SECONDARY_CONTROLS)
				      ? vmx_cap_may_be_1(caps->procbased2)
				      : 0;

	switch (msr) {
	case MSR_IA32_VMX_BASIC:
		*val = caps->basic;
		return 0;
	/* Without TRUE MSRs the default-1 controls must be 1 (§1.5). */
	case MSR_IA32_VMX_PINBASED_CTLS:
		*val = caps->true_pinbased | PIN_DEFAULT1_BITS;
		return 0;
	case MSR_IA32_VMX_PROCBASED_CTLS:
		*val = caps->true_procbased | CPU_DEFAULT1_BITS;
		return 0;
	case MSR_IA32_VMX_EXIT_CTLS:
		*val = caps->true_exit | EXIT_DEFAULT1_BITS;
		return 0;
	case MSR_IA32_VMX_ENTRY_CTLS:
		*val = caps->true_entry | ENTRY_DEFAULT1_BITS;
		return 0;
	case MSR_IA32_VMX_MISC:
		*val = caps->misc;
		return 0;
	case MSR_IA32_VMX_CR0_FIXED0:
		*val = caps->cr0_fixed0;
		return 0;
	case MSR_IA32_VMX_CR0_FIXED1:
		*val = caps->cr0_fixed1;
		return 0;
	case MSR_IA32_VMX_CR4_FIXED0:
		*val = caps->cr4_fixed0;
		return 0;
	case MSR_IA32_VMX_CR4_FIXED1:
		*val = caps->cr4_fixed1;
		return 0;
	case MSR_IA32_VMX_VMCS_ENUM:
		*val = caps->vmcs_enum;
		return 0;
	/* SDM Appendix A: PROCBASED_CTLS2 exists only if "activate secondary
	 * controls" may be 1; EPT_VPID_CAP only if EPT or VPID may be 1. */
	case MSR_IA32_VMX_PROCBASED_CTLS2:
		if (!(vmx_cap_may_be_1(caps->true_procbased) & CPU_ACTIVATE_SECONDARY_CONTROLS))
			return -1;
		*val = caps->procbased2;
		return 0;
	case MSR_IA32_VMX_EPT_VPID_CAP:
		if (!(proc2_may1 & (SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID)))
			return -1;
		*val = caps->ept_vpid_cap;
		return 0;
	case MSR_IA32_VMX_TRUE_PINBASED_CTLS:
		*val = caps->true_pinbased;
		return true_ctls ? 0 : -1;
	case MSR_IA32_VMX_TRUE_PROCBASED_CTLS:
		*val = caps->true_procbased;
		return true_ctls ? 0 : -1;
	case MSR_IA32_VMX_TRUE_EXIT_CTLS:
		*val = caps->true_exit;
		return true_ctls ? 0 : -1;
	case MSR_IA32_VMX_TRUE_ENTRY_CTLS:
		*val = caps->true_entry;
		return true_ctls ? 0 : -1;
	case MSR_IA32_VMX_VMFUNC:
		if (!(proc2_may1 & SECONDARY_ENABLE_VMFUNC))
			return -1;
		*val = 0; /* no VM function is described by this set */
		return 0;
	default:
		return -1;
	}
}

int vmx_rdmsr(uint32_t msr, uint64_t *val)
{
	if (msr == MSR_IA32_FEATURE_CONTROL) {
		*val = FEATURE_CONTROL_LOCKED | FEATURE_CONTROL_VMX_OUTSIDE_SMX;
		return 0;
	}
	return vmx_caps_rdmsr(&vmx_model_caps, msr, val);
}

bool vmx_ctls_allowed(uint32_t msr, uint32_t value)
{
	uint64_t cap;
	switch (msr) {
	case MSR_IA32_VMX_PINBASED_CTLS:
	case MSR_IA32_VMX_PROCBASED_CTLS:
	case MSR_IA32_VMX_EXIT_CTLS:
	case MSR_IA32_VMX_ENTRY_CTLS:
	case MSR_IA32_VMX_PROCBASED_CTLS2:
	case MSR_IA32_VMX_TRUE_PINBASED_CTLS:
	case MSR_IA32_VMX_TRUE_PROCBASED_CTLS:
	case MSR_IA32_VMX_TRUE_EXIT_CTLS:
	case MSR_IA32_VMX_TRUE_ENTRY_CTLS:
		if (vmx_rdmsr(msr, &cap) < 0)
			return false;
		return vmx_cap_fits(cap, value);
	default:
		return false;
	}
}
