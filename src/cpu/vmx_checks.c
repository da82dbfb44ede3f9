/*
 * Notes: VM-entry checks (SDM Vol. 3C "Checks on VMX Controls and
 * Host-State Area", "Checking and Loading Guest State"; reference sheet
 * §4.6, §1.3-§1.5, §2.2-§2.3, §5.1, §6.1) in three phases, each with its
 * own result type; vmx.c runs them before it loads anything.
 *
 * Modelled: every control field against its capability MSR (TRUE_* when
 * IA32_VMX_BASIC[55] = 1) with the secondary controls counted as 0 when
 * primary bit 31 = 0; the CR3-target count; the alignment and MAXPHYADDR
 * of the I/O- and MSR-bitmap, virtual-APIC, APIC-access, posted-interrupt
 * descriptor, PML, VMREAD/VMWRITE-bitmap, #VE-information and MSR-list
 * addresses when their control uses them; the control dependencies
 * (virtual NMIs, TPR shadow, virtual-interrupt delivery, posted
 * interrupts, VPID != 0, EPTP, controls that need EPT, TSC multiplier,
 * save-timer); no SMM entry; the VM-entry event-injection fields. Host:
 * CR0/CR4 fixed bits, CR3 width, SYSENTER/base/RIP canonical, selectors,
 * PAT/EFER/PERF_GLOBAL_CTRL when loaded, the address-space-size rules for
 * a host in IA-32e mode. Guest: CR0/CR4 fixed bits (PE/PG free with
 * unrestricted guest), PG => PE, IA-32e mode guest vs CR0.PG, CR4.PAE,
 * CR4.PCIDE and EFER, CR3 width, DR7/DEBUGCTL/PAT/EFER/PERF_GLOBAL_CTRL
 * when loaded, every segment-register rule (selectors,
 * bases, virtual-8086 limits, access rights of CS/SS/DS/ES/FS/GS/TR/LDTR,
 * G vs limit), GDTR/IDTR, RIP, RFLAGS, activity state (active and HLT
 * only, per IA32_VMX_MISC), interruptibility, pending debug exceptions,
 * the VMCS link pointer, PDPTE fields under EPT with PAE paging.
 *
 * Left out: checks that read memory (the TPR threshold against the
 * virtual-APIC page's VTPR; PDPTEs loaded from guest CR3 without EPT);
 * VM-function, tertiary-control, SPP-pointer and ENCLS/PCONFIG details
 * (those controls are refused by the model's capability MSRs); SMM
 * (the processor is never in SMM: "entry to SMM" and "deactivate
 * dual-monitor treatment" must be 0 and SMI blocking is reserved); the
 * implementation-specific failure with qualification 3 (NMI injection
 * with STI blocking). Differences from hardware: the VMCS link pointer
 * must be all ones (the model has no shadow VMCS and no VMCS region in
 * memory for it to name; real parts accept a valid VMCS pointer there,
 * reference sheet §9 item 15); IA32_DEBUGCTL, IA32_PERF_GLOBAL_CTRL (4
 * general-purpose + 3 fixed counters) and pending-debug bit 16 (no RTM)
 * use this part's valid bits as assumed here, not read from a manual;
 * bits 63:32 of CR0/CR4 fields fail the fixed-1 check, as in KVM's nested
 * checks. Canonical means 57-bit when the profile's core has LA57, else 48-bit.
 */
#include "cpu/vmx_checks.h"

#include "arch/ept.h"
#include "arch/exit_reasons.h"
#include "arch/paging.h"
#include "arch/vmx_controls.h"

/* Physical-address bits beyond MAXPHYADDR (reference sheet §0). */
#define PA_BEYOND_MAXPHYADDR (~((UINT64_C(1) << MAXPHYADDR) - 1))
#define ALIGN_4K UINT64_C(0x1000)
#define ALIGN_64 UINT64_C(64)
#define ALIGN_16 UINT64_C(16)
#define MSR_LIST_ENTRY_BYTES UINT64_C(16)

/*
 * VM-entry interruption information (0x4016), reference sheet §1.4
 *  [7:0] vector  [10:8] type  [11] deliver error code
 *  [30:12] reserved  [31] valid
 */
#define INTR_INFO_RSVD UINT32_C(0x7ffff000)
#define VEC_NMI 2u
#define VEC_DB 1u
#define VEC_MC 18u
#define MAX_INSN_LEN 15u
/* Exceptions that push an error code: #DF 8, #TS 10, #NP 11, #SS 12,
 * #GP 13, #PF 14, #AC 17 (SDM "Checks on VM-Entry Control Fields"). */
#define EXC_WITH_ERROR_CODE ((1u << 8) | (1u << 10) | (1u << 11) | (1u << 12) | (1u << 13) | (1u << 14) | (1u << 17))
#define ERROR_CODE_RSVD UINT32_C(0xffff0000)
/* TPR threshold bits 31:4 (SDM "Checks on VMX Controls"). */
#define TPR_THRESHOLD_RSVD UINT32_C(0xfffffff0)
#define POSTED_INTR_NV_RSVD UINT32_C(0xff00)

_Static_assert((INTR_INFO_RSVD & (INTR_INFO_VALID | INTR_INFO_DELIVER_CODE | INTR_TYPE_MASK |
				  INTR_INFO_VECTOR_MASK)) == 0,
	       "interruption-information reserved bits overlap its fields");

/* CR4.PCIDE, CR0.PE/PG, CR4.PAE: src/arch/paging.h. */

/*
 * RFLAGS (SDM "Checks on Guest RIP and RFLAGS")
 *  [1] fixed 1   [3], [5], [15], [63:22] reserved 0
 *  [8] TF        [9] IF        [17] VM
 */
#define RFLAGS_FIXED1 (UINT64_C(1) << 1)
#define RFLAGS_TF (UINT64_C(1) << 8)
#define RFLAGS_IF (UINT64_C(1) << 9)
#define RFLAGS_VM (UINT64_C(1) << 17)
#define RFLAGS_RSVD UINT64_C(0xffffffffffc08028)
_Static_assert((RFLAGS_RSVD & (RFLAGS_FIXED1 | RFLAGS_TF | RFLAGS_IF | RFLAGS_VM)) == 0,
	       "RFLAGS reserved bits overlap defined flags");

/*
 * Segment access rights (reference sheet §1.3)
 *  [3:0] type  [4] S  [6:5] DPL  [7] P  [11:8] reserved  [12] AVL
 *  [13] L  [14] D/B  [15] G  [16] unusable  [31:17] reserved
 */
#define AR_TYPE_MASK 0xfu
#define AR_TYPE_ACCESSED 0x1u  /* code/data type bit 0 */
#define AR_TYPE_READABLE 0x2u  /* code type bit 1 */
#define AR_TYPE_CODE 0x8u      /* type bit 3 */
#define AR_S (1u << 4)
#define AR_DPL_SHIFT 5
#define AR_DPL_MASK (3u << AR_DPL_SHIFT)
#define AR_P (1u << 7)
#define AR_RSVD_11_8 (0xfu << 8)
#define AR_L (1u << 13)
#define AR_DB (1u << 14)
#define AR_G (1u << 15)
#define AR_UNUSABLE (1u << 16)
#define AR_RSVD_31_17 0xfffe0000u
#define AR_V86 0xf3u /* present, DPL 3, S, read/write accessed data */
_Static_assert((AR_TYPE_MASK & (AR_S | AR_DPL_MASK | AR_P)) == 0, "access-rights fields overlap");
_Static_assert(((AR_RSVD_11_8 | AR_RSVD_31_17) & (AR_TYPE_MASK | AR_S | AR_DPL_MASK | AR_P | AR_L | AR_DB | AR_G |
						  AR_UNUSABLE)) == 0,
	       "access-rights reserved bits overlap defined bits");

/* Segment types used by the checks. */
#define SEG_TYPE_DATA_RW_ACCESSED 3u      /* also "CS type 3" with unrestricted guest */
#define SEG_TYPE_DATA_RW_DOWN_ACCESSED 7u
#define SEG_TYPE_CODE_X_ACCESSED 9u
#define SEG_TYPE_CODE_XR_ACCESSED 11u
#define SEG_TYPE_CODE_XC_ACCESSED 13u
#define SEG_TYPE_CODE_XRC_ACCESSED 15u
#define SEG_TYPE_LDT 2u
#define SEG_TYPE_TSS16_BUSY 3u
#define SEG_TYPE_TSS_BUSY 11u             /* 32-bit / 64-bit busy TSS */

/* Selector: [1:0] RPL, [2] TI. */
#define SEL_RPL_MASK 0x3u
#define SEL_TI 0x4u

/* Segment register numbers of the guest-state encodings (§1.2). */
enum seg_reg { SEG_ES = 0, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_LDTR, SEG_TR, SEG_NREGS };

/* Limit bits that decide the granularity check. */
#define LIMIT_LOW_12 0xfffu
#define LIMIT_HIGH_12 0xfff00000u
#define DESC_TABLE_LIMIT_RSVD 0xffff0000u

/* Guest interruptibility state (§1.3): bits 0-3 defined; bit 4 (enclave
 * interruption) is reserved here, the model has no SGX. */
#define INTR_STATE_STI (1u << 0)
#define INTR_STATE_MOV_SS (1u << 1)
#define INTR_STATE_SMI (1u << 2)
#define INTR_STATE_NMI (1u << 3)
#define INTR_STATE_RSVD 0xfffffff0u

/* Guest activity state (§1.3). */
enum activity_state { ACTIVITY_ACTIVE = 0, ACTIVITY_HLT = 1, ACTIVITY_SHUTDOWN = 2, ACTIVITY_WAIT_SIPI = 3 };

/*
 * Pending debug exceptions (SDM "Guest Non-Register State")
 *  [3:0] B3-B0  [12] enabled breakpoint  [14] BS  [16] RTM (no RTM here)
 *  everything else reserved
 */
#define PENDING_DBG_BS (UINT64_C(1) << 14)
#define PENDING_DBG_RSVD UINT64_C(0xffffffffffffaff0)
_Static_assert((PENDING_DBG_RSVD & (PENDING_DBG_BS | 0xfu | (UINT64_C(1) << 12))) == 0,
	       "pending-debug reserved bits overlap defined bits");

/* IA32_DEBUGCTL valid bits of this part, assumed (Linux msr-index.h
 * DEBUGCTLMSR_*): LBR 0, BTF 1, TR 6, BTS 7, BTINT 8, BTS_OFF_OS 9,
 * BTS_OFF_USR 10, FREEZE_LBRS_ON_PMI 11, FREEZE_PERFMON_ON_PMI 12,
 * FREEZE_IN_SMM 14, RTM_DEBUG 15. */
#define DEBUGCTL_BTF (UINT64_C(1) << 1)
#define DEBUGCTL_VALID UINT64_C(0xdfc3)
/* IA32_PERF_GLOBAL_CTRL valid bits, assumed: 4 general-purpose counters
 * (3:0, per thread with Hyper-Threading) and 3 fixed counters (34:32). */
#define PERF_GLOBAL_CTRL_VALID UINT64_C(0x70000000f)
/* IA32_EFER valid bits (§6.1): SCE 0, LME 8, LMA 10, NXE 11. */
#define EFER_SCE (UINT64_C(1) << 0)
#define EFER_VALID (EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)
/* DR7 bits 63:32 must be 0. */
#define DR7_RSVD_HIGH UINT64_C(0xffffffff00000000)
/* Bits 63:32 of 32-bit-only fields (RIP outside 64-bit mode, bases). */
#define HIGH_32 UINT64_C(0xffffffff00000000)
/* PDPTE with P = 1 under PAE paging: bits 2:1, 8:5 and 63:MAXPHYADDR
 * reserved (SDM "Checks on Guest Page-Directory-Pointer-Table Entries"). */
#define PDPTE_RSVD (UINT64_C(0x1e6) | PA_BEYOND_MAXPHYADDR)

#define VMCS_LINK_POINTER_NONE UINT64_MAX

/* ---- helpers --------------------------------------------------------- */

/* A physical address of a VMX data structure: aligned, within MAXPHYADDR. */
static bool pa_ok(uint64_t pa, uint64_t align)
{
	return (pa & (align - 1)) == 0 && (pa & PA_BEYOND_MAXPHYADDR) == 0;
}

/* An MSR list of count 16-byte entries: address aligned, first and last
 * byte within MAXPHYADDR (the arithmetic is wider than MAXPHYADDR). */
static bool msr_list_ok(uint64_t pa, uint32_t count)
{
	if (count == 0)
		return true;
	return pa_ok(pa, ALIGN_16) && ((pa + (uint64_t)count * MSR_LIST_ENTRY_BYTES - 1) & PA_BEYOND_MAXPHYADDR) == 0;
}

/* Canonical for the processor's linear-address width: 57 bits when it
 * supports 5-level paging (IA32_VMX_CR4_FIXED1 allows CR4.LA57), else 48
 * (SDM "Checks on Host Segment and Descriptor-Table Registers" and the
 * guest-state checks say "canonical" relative to that width). */
static bool canonical(const struct vmx_caps *caps, uint64_t la)
{
	return la_is_canonical(la, (caps->cr4_fixed1 & CR4_LA57) ? 57 : 48);
}

/* Every byte of an IA32_PAT value is a valid memory type: 0 UC, 1 WC,
 * 4 WT, 5 WP, 6 WB, 7 UC- (SDM "Checks on Host Control Registers and MSRs"). */
static bool pat_ok(uint64_t pat)
{
	for (int i = 0; i < 8; i++) {
		unsigned t = (unsigned)(pat >> (8 * i)) & 0xffu;
		if (t == 2 || t == 3 || t > 7)
			return false;
	}
	return true;
}

/* Bits fixed by IA32_VMX_CRn_FIXED0 (must be 1) and FIXED1 (may be 1). */
static bool fixed_ok(uint64_t val, uint64_t fixed0, uint64_t fixed1)
{
	return (val & fixed0) == fixed0 && (val & ~fixed1) == 0;
}

/* The capability that governs a control field: the TRUE_* MSR when
 * IA32_VMX_BASIC[55] = 1, else the non-TRUE one (default-1 bits forced). */
static uint64_t ctl_cap(const struct vmx_caps *caps, uint64_t true_cap, uint32_t default1)
{
	return (caps->basic & VMX_BASIC_TRUE_CTLS) ? true_cap : (true_cap | default1);
}

bool vmx_eptp_valid(const struct vmx_caps *caps, uint64_t eptp)
{
	uint64_t cap = caps->ept_vpid_cap;
	uint64_t mt = eptp & EPTP_MT_MASK;
	if (!((mt == EPTP_MT_UC && (cap & EPT_CAP_UC)) || (mt == EPTP_MT_WB && (cap & EPT_CAP_WB))))
		return false;
	uint64_t len = (eptp & EPTP_WALK_LEN_MASK) >> EPTP_WALK_LEN_SHIFT;
	if (!((len == 3 && (cap & EPT_CAP_PWL4)) || (len == 4 && (cap & EPT_CAP_PWL5))))
		return false;
	if ((eptp & EPTP_AD) && !(cap & EPT_CAP_AD))
		return false;
	/* Bit 7 (supervisor shadow-stack rights) needs cap bit 23; this
	 * model's capability never has it, so it is reserved here. */
	if (eptp & (EPTP_RSVD | EPTP_SSS))
		return false;
	return true;
}

/* ---- phase 1: VMX controls ------------------------------------------- */

/* Checks on the VM-entry event-injection fields (SDM "Checks on VM-Entry
 * Control Fields", reference sheet §1.4). */
static enum vmx_ctl_fail check_event_injection(const struct vmcs *v, const struct vmx_caps *caps, uint32_t proc2)
{
	uint32_t info = (uint32_t)vmcs_get(v, VMCS_VM_ENTRY_INTR_INFO);
	if (!(info & INTR_INFO_VALID))
		return VMX_CTL_OK;
	if (info & INTR_INFO_RSVD)
		return VMX_CTL_EVENT_RESERVED;

	unsigned type = (info & INTR_TYPE_MASK) >> INTR_INFO_TYPE_SHIFT;
	unsigned vector = info & INTR_INFO_VECTOR_MASK;
	/* Type 1 is reserved; type 7 (other event: pending MTF) exists only
	 * with the 1-setting of "monitor trap flag". */
	if (type == EVT_RESERVED ||
	    (type == EVT_OTHER && !(vmx_cap_may_be_1(caps->true_procbased) & CPU_MONITOR_TRAP_FLAG)))
		return VMX_CTL_EVENT_TYPE;
	if ((type == EVT_NMI && vector != VEC_NMI) || (type == EVT_HW_EXCEPTION && vector > 31) ||
	    (type == EVT_OTHER && vector != 0))
		return VMX_CTL_EVENT_VECTOR;

	/* Deliver-error-code must be 1 for a hardware exception that pushes
	 * one, in protected mode ("unrestricted guest" = 0 or guest CR0.PE =
	 * 1); 0 otherwise. IA32_VMX_BASIC[56] frees the vector condition. */
	bool dc = info & INTR_INFO_DELIVER_CODE;
	bool hw = type == EVT_HW_EXCEPTION;
	bool prot = !(proc2 & SECONDARY_UNRESTRICTED_GUEST) || (vmcs_get(v, VMCS_GUEST_CR0) & CR0_PE);
	bool any_vector = caps->basic & VMX_BASIC_ANY_ERROR_CODE;
	bool pushes = vector < 32 && (EXC_WITH_ERROR_CODE & (1u << vector));
	bool must1 = hw && prot && !any_vector && pushes;
	bool must0 = !hw || !prot || (!any_vector && !pushes);
	if ((must1 && !dc) || (must0 && dc))
		return VMX_CTL_EVENT_DELIVER_CODE;
	if (dc && ((uint32_t)vmcs_get(v, VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE) & ERROR_CODE_RSVD))
		return VMX_CTL_EVENT_ERROR_CODE;

	if (type == EVT_SW_INTR || type == EVT_PRIV_SW_EXCEPTION || type == EVT_SW_EXCEPTION) {
		uint64_t len = vmcs_get(v, VMCS_VM_ENTRY_INSTRUCTION_LEN);
		if (len > MAX_INSN_LEN || (len == 0 && !(caps->misc & VMX_MISC_ZERO_LEN_INJECT)))
			return VMX_CTL_EVENT_INSN_LEN;
	}
	return VMX_CTL_OK;
}

static enum vmx_ctl_fail check_execution_controls(const struct vmcs *v, const struct vmx_caps *caps, uint32_t pin,
						  uint32_t proc, uint32_t proc2, uint32_t exit)
{
	if (!vmx_cap_fits(ctl_cap(caps, caps->true_pinbased, PIN_DEFAULT1_BITS), pin))
		return VMX_CTL_PIN_RESERVED;
	if (!vmx_cap_fits(ctl_cap(caps, caps->true_procbased, CPU_DEFAULT1_BITS), proc))
		return VMX_CTL_PROC_RESERVED;
	if ((proc & CPU_ACTIVATE_SECONDARY_CONTROLS) && !vmx_cap_fits(caps->procbased2, proc2))
		return VMX_CTL_PROC2_RESERVED;

	uint64_t max_targets = (caps->misc & VMX_MISC_CR3_TARGETS_MASK) >> VMX_MISC_CR3_TARGETS_SHIFT;
	if (vmcs_get(v, VMCS_CR3_TARGET_COUNT) > max_targets)
		return VMX_CTL_CR3_TARGET_COUNT;

	if ((proc & CPU_USE_IO_BITMAPS) &&
	    (!pa_ok(vmcs_get(v, VMCS_IO_BITMAP_A), ALIGN_4K) || !pa_ok(vmcs_get(v, VMCS_IO_BITMAP_B), ALIGN_4K)))
		return VMX_CTL_IO_BITMAP_ADDR;
	if ((proc & CPU_USE_MSR_BITMAPS) && !pa_ok(vmcs_get(v, VMCS_MSR_BITMAP), ALIGN_4K))
		return VMX_CTL_MSR_BITMAP_ADDR;

	if (proc & CPU_USE_TPR_SHADOW) {
		if (!pa_ok(vmcs_get(v, VMCS_VIRTUAL_APIC_ADDR), ALIGN_4K))
			return VMX_CTL_VIRTUAL_APIC_ADDR;
		if (!(proc2 & SECONDARY_VIRTUAL_INTR_DELIVERY) &&
		    ((uint32_t)vmcs_get(v, VMCS_TPR_THRESHOLD) & TPR_THRESHOLD_RSVD))
			return VMX_CTL_TPR_THRESHOLD;
	} else if (proc2 & (SECONDARY_VIRTUALIZE_X2APIC | SECONDARY_APIC_REGISTER_VIRT |
			    SECONDARY_VIRTUAL_INTR_DELIVERY)) {
		return VMX_CTL_NEEDS_TPR_SHADOW;
	}

	if ((pin & PIN_VIRTUAL_NMIS) && !(pin & PIN_NMI_EXITING))
		return VMX_CTL_VNMI_WITHOUT_NMI_EXITING;
	if ((proc & CPU_NMI_WINDOW_EXITING) && !(pin & PIN_VIRTUAL_NMIS))
		return VMX_CTL_NMI_WINDOW_WITHOUT_VNMI;

	if ((proc2 & SECONDARY_VIRTUALIZE_APIC_ACCESSES) && !pa_ok(vmcs_get(v, VMCS_APIC_ACCESS_ADDR), ALIGN_4K))
		return VMX_CTL_APIC_ACCESS_ADDR;
	if ((proc2 & SECONDARY_VIRTUALIZE_X2APIC) && (proc2 & SECONDARY_VIRTUALIZE_APIC_ACCESSES))
		return VMX_CTL_X2APIC_AND_APIC_ACCESSES;
	if ((proc2 & SECONDARY_VIRTUAL_INTR_DELIVERY) && !(pin & PIN_EXT_INTR_EXITING))
		return VMX_CTL_VID_WITHOUT_EXT_INTR_EXITING;

	if (pin & PIN_POSTED_INTR) {
		if (!(proc2 & SECONDARY_VIRTUAL_INTR_DELIVERY) || !(exit & EXIT_ACK_INTR_ON_EXIT))
			return VMX_CTL_POSTED_INTR_CONTROLS;
		if ((uint32_t)vmcs_get(v, VMCS_POSTED_INTR_NV) & POSTED_INTR_NV_RSVD)
			return VMX_CTL_POSTED_INTR_VECTOR;
		if (!pa_ok(vmcs_get(v, VMCS_POSTED_INTR_DESC_ADDR), ALIGN_64))
			return VMX_CTL_POSTED_INTR_DESC_ADDR;
	}

	if ((proc2 & SECONDARY_ENABLE_VPID) && vmcs_get(v, VMCS_VPID) == 0)
		return VMX_CTL_VPID_ZERO;
	if ((proc2 & SECONDARY_ENABLE_EPT) && !vmx_eptp_valid(caps, vmcs_get(v, VMCS_EPT_POINTER)))
		return VMX_CTL_EPTP;
	if (!(proc2 & SECONDARY_ENABLE_EPT) &&
	    (proc2 & (SECONDARY_UNRESTRICTED_GUEST | SECONDARY_ENABLE_PML | SECONDARY_MODE_BASED_EPT_EXEC |
		      SECONDARY_EPT_SUB_PAGE_WRITE)))
		return VMX_CTL_NEEDS_EPT;
	if ((proc2 & SECONDARY_ENABLE_PML) && !pa_ok(vmcs_get(v, VMCS_PML_ADDRESS), ALIGN_4K))
		return VMX_CTL_PML_ADDR;
	if ((proc2 & SECONDARY_VMCS_SHADOWING) &&
	    (!pa_ok(vmcs_get(v, VMCS_VMREAD_BITMAP), ALIGN_4K) || !pa_ok(vmcs_get(v, VMCS_VMWRITE_BITMAP), ALIGN_4K)))
		return VMX_CTL_VMCS_SHADOW_BITMAP_ADDR;
	if ((proc2 & SECONDARY_EPT_VIOLATION_VE) && !pa_ok(vmcs_get(v, VMCS_VE_INFO_ADDR), ALIGN_4K))
		return VMX_CTL_VE_INFO_ADDR;
	if ((proc2 & SECONDARY_TSC_SCALING) && vmcs_get(v, VMCS_TSC_MULTIPLIER) == 0)
		return VMX_CTL_TSC_MULTIPLIER_ZERO;
	return VMX_CTL_OK;
}

static enum vmx_ctl_fail check_exit_controls(const struct vmcs *v, const struct vmx_caps *caps, uint32_t pin,
					     uint32_t exit)
{
	if (!vmx_cap_fits(ctl_cap(caps, caps->true_exit, EXIT_DEFAULT1_BITS), exit))
		return VMX_CTL_EXIT_RESERVED;
	if ((exit & EXIT_SAVE_PREEMPTION_TIMER) && !(pin & PIN_PREEMPTION_TIMER))
		return VMX_CTL_SAVE_TIMER_WITHOUT_TIMER;
	if (!msr_list_ok(vmcs_get(v, VMCS_EXIT_MSR_STORE_ADDR), (uint32_t)vmcs_get(v, VMCS_VM_EXIT_MSR_STORE_COUNT)))
		return VMX_CTL_EXIT_MSR_STORE_ADDR;
	if (!msr_list_ok(vmcs_get(v, VMCS_EXIT_MSR_LOAD_ADDR), (uint32_t)vmcs_get(v, VMCS_VM_EXIT_MSR_LOAD_COUNT)))
		return VMX_CTL_EXIT_MSR_LOAD_ADDR;
	return VMX_CTL_OK;
}

static enum vmx_ctl_fail check_entry_controls(const struct vmcs *v, const struct vmx_caps *caps, uint32_t entry,
					      uint32_t proc2)
{
	if (!vmx_cap_fits(ctl_cap(caps, caps->true_entry, ENTRY_DEFAULT1_BITS), entry))
		return VMX_CTL_ENTRY_RESERVED;
	/* The processor is never in SMM. */
	if (entry & (ENTRY_SMM | ENTRY_DEACT_DUAL_MONITOR))
		return VMX_CTL_ENTRY_SMM_OUTSIDE_SMM;
	if (!msr_list_ok(vmcs_get(v, VMCS_ENTRY_MSR_LOAD_ADDR), (uint32_t)vmcs_get(v, VMCS_VM_ENTRY_MSR_LOAD_COUNT)))
		return VMX_CTL_ENTRY_MSR_LOAD_ADDR;
	return check_event_injection(v, caps, proc2);
}

struct vmx_ctl_result vmx_check_controls(const struct vmcs *v, const struct vmx_caps *caps)
{
	uint32_t pin = (uint32_t)vmcs_get(v, VMCS_PIN_BASED_VM_EXEC_CONTROL);
	uint32_t proc = (uint32_t)vmcs_get(v, VMCS_CPU_BASED_VM_EXEC_CONTROL);
	uint32_t proc2 =
		(proc & CPU_ACTIVATE_SECONDARY_CONTROLS) ? (uint32_t)vmcs_get(v, VMCS_SECONDARY_VM_EXEC_CONTROL) : 0;
	uint32_t exit = (uint32_t)vmcs_get(v, VMCS_VM_EXIT_CONTROLS);
	uint32_t entry = (uint32_t)vmcs_get(v, VMCS_VM_ENTRY_CONTROLS);

	struct vmx_ctl_result r = {check_execution_controls(v, caps, pin, proc, proc2, exit)};
	if (r.fail == VMX_CTL_OK)
		r.fail = check_exit_controls(v, caps, pin, exit);
	if (r.fail == VMX_CTL_OK)
		r.fail = check_entry_controls(v, caps, entry, proc2);
	return r;
}

/* ---- phase 2: host state --------------------------------------------- */

/* SDM "Checks on Host Control Registers and MSRs". */
static enum vmx_host_fail check_host_regs(const struct vmcs *v, const struct vmx_caps *caps, uint32_t exit,
					  bool host64)
{
	if (!fixed_ok(vmcs_get(v, VMCS_HOST_CR0), caps->cr0_fixed0, caps->cr0_fixed1))
		return VMX_HOST_CR0_FIXED;
	if (!fixed_ok(vmcs_get(v, VMCS_HOST_CR4), caps->cr4_fixed0, caps->cr4_fixed1))
		return VMX_HOST_CR4_FIXED;
	if (vmcs_get(v, VMCS_HOST_CR3) & PA_BEYOND_MAXPHYADDR)
		return VMX_HOST_CR3;
	if (!canonical(caps, vmcs_get(v, VMCS_HOST_SYSENTER_ESP)) || !canonical(caps, vmcs_get(v, VMCS_HOST_SYSENTER_EIP)))
		return VMX_HOST_SYSENTER;
	if ((exit & EXIT_LOAD_IA32_PERF_GLOBAL_CTRL) &&
	    (vmcs_get(v, VMCS_HOST_IA32_PERF_GLOBAL_CTRL) & ~PERF_GLOBAL_CTRL_VALID))
		return VMX_HOST_PERF_GLOBAL_CTRL;
	if ((exit & EXIT_LOAD_IA32_PAT) && !pat_ok(vmcs_get(v, VMCS_HOST_IA32_PAT)))
		return VMX_HOST_PAT;
	if (exit & EXIT_LOAD_IA32_EFER) {
		uint64_t efer = vmcs_get(v, VMCS_HOST_IA32_EFER);
		if ((efer & ~EFER_VALID) || ((efer & EFER_LMA) != 0) != host64 || ((efer & EFER_LME) != 0) != host64)
			return VMX_HOST_EFER;
	}
	return VMX_HOST_OK;
}

/* SDM "Checks on Host Segment and Descriptor-Table Registers". */
static enum vmx_host_fail check_host_segments(const struct vmcs *v, const struct vmx_caps *caps, bool host64)
{
	static const uint32_t sels[] = {VMCS_HOST_ES_SELECTOR, VMCS_HOST_CS_SELECTOR, VMCS_HOST_SS_SELECTOR,
					VMCS_HOST_DS_SELECTOR, VMCS_HOST_FS_SELECTOR, VMCS_HOST_GS_SELECTOR,
					VMCS_HOST_TR_SELECTOR};
	static const uint32_t bases[] = {VMCS_HOST_FS_BASE, VMCS_HOST_GS_BASE, VMCS_HOST_GDTR_BASE,
					 VMCS_HOST_IDTR_BASE, VMCS_HOST_TR_BASE};
	for (size_t i = 0; i < sizeof(sels) / sizeof(sels[0]); i++)
		if (vmcs_get(v, sels[i]) & (SEL_RPL_MASK | SEL_TI))
			return VMX_HOST_SELECTOR_RPL_TI;
	if (vmcs_get(v, VMCS_HOST_CS_SELECTOR) == 0)
		return VMX_HOST_CS_NULL;
	if (vmcs_get(v, VMCS_HOST_TR_SELECTOR) == 0)
		return VMX_HOST_TR_NULL;
	if (!host64 && vmcs_get(v, VMCS_HOST_SS_SELECTOR) == 0)
		return VMX_HOST_SS_NULL;
	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++)
		if (!canonical(caps, vmcs_get(v, bases[i])))
			return VMX_HOST_BASE;
	return VMX_HOST_OK;
}

/* SDM "Checks Related to Address-Space Size". The VMM runs in IA-32e
 * mode (IA32_EFER.LMA = 1 at VM entry). */
static enum vmx_host_fail check_host_addr_space(const struct vmcs *v, const struct vmx_caps *caps, uint32_t exit,
						 uint32_t entry)
{
	const bool cpu_in_ia32e = true;
	bool host64 = exit & EXIT_HOST_ADDR_SPACE_SIZE;
	if (cpu_in_ia32e && !host64)
		return VMX_HOST_ADDR_SPACE_SIZE;
	if (!host64) {
		if (entry & ENTRY_IA32E_MODE_GUEST)
			return VMX_HOST_IA32E_GUEST_32BIT_HOST;
		if (vmcs_get(v, VMCS_HOST_CR4) & CR4_PCIDE)
			return VMX_HOST_CR4_PCIDE;
		if (vmcs_get(v, VMCS_HOST_RIP) & HIGH_32)
			return VMX_HOST_RIP;
		return VMX_HOST_OK;
	}
	if (!(vmcs_get(v, VMCS_HOST_CR4) & CR4_PAE))
		return VMX_HOST_CR4_PAE;
	if (!canonical(caps, vmcs_get(v, VMCS_HOST_RIP)))
		return VMX_HOST_RIP;
	return VMX_HOST_OK;
}

struct vmx_host_result vmx_check_host_state(const struct vmcs *v, const struct vmx_caps *caps)
{
	uint32_t exit = (uint32_t)vmcs_get(v, VMCS_VM_EXIT_CONTROLS);
	uint32_t entry = (uint32_t)vmcs_get(v, VMCS_VM_ENTRY_CONTROLS);
	bool host64 = exit & EXIT_HOST_ADDR_SPACE_SIZE;

	struct vmx_host_result r = {check_host_regs(v, caps, exit, host64)};
	if (r.fail == VMX_HOST_OK)
		r.fail = check_host_segments(v, caps, host64);
	if (r.fail == VMX_HOST_OK)
		r.fail = check_host_addr_space(v, caps, exit, entry);
	return r;
}

/* ---- phase 3: guest state -------------------------------------------- */

struct seg {
	uint16_t sel;
	uint64_t base;
	uint32_t limit;
	uint32_t ar;
};

/* What the guest checks need besides the VMCS. */
struct guest_ctx {
	const struct vmcs *v;
	const struct vmx_caps *caps;
	uint32_t pin, proc2, entry;
	bool ia32e, ug, v86;
	uint64_t cr0, rflags;
	uint32_t intr_info; /* VM-entry interruption information, 0 if not valid */
	struct seg s[SEG_NREGS];
};

static void read_seg(const struct vmcs *v, enum seg_reg n, struct seg *s)
{
	uint32_t i = 2u * (uint32_t)n;
	s->sel = (uint16_t)vmcs_get(v, VMCS_GUEST_ES_SELECTOR + i);
	s->base = vmcs_get(v, VMCS_GUEST_ES_BASE + i);
	s->limit = (uint32_t)vmcs_get(v, VMCS_GUEST_ES_LIMIT + i);
	s->ar = (uint32_t)vmcs_get(v, VMCS_GUEST_ES_AR + i);
}

static unsigned ar_type(uint32_t ar)
{
	return ar & AR_TYPE_MASK;
}

static unsigned ar_dpl(uint32_t ar)
{
	return (ar & AR_DPL_MASK) >> AR_DPL_SHIFT;
}

static bool usable(const struct seg *s)
{
	return !(s->ar & AR_UNUSABLE);
}

/* G: limit[11:0] not all ones => G = 0; limit[31:20] not zero => G = 1. */
static bool limit_g_ok(const struct seg *s)
{
	if ((s->limit & LIMIT_LOW_12) != LIMIT_LOW_12 && (s->ar & AR_G))
		return false;
	if ((s->limit & LIMIT_HIGH_12) && !(s->ar & AR_G))
		return false;
	return true;
}

/* Checks shared by CS and usable SS/DS/ES/FS/GS: S = 1, P = 1, reserved
 * bits 11:8 and 31:17 zero. */
static bool code_data_ar_common_ok(const struct seg *s)
{
	return (s->ar & AR_S) && (s->ar & AR_P) && !(s->ar & (AR_RSVD_11_8 | AR_RSVD_31_17));
}

/* SDM "Checks on Guest Control Registers, Debug Registers, and MSRs". */
static enum vmx_guest_fail check_guest_regs(const struct guest_ctx *g)
{
	const struct vmcs *v = g->v;
	uint64_t fixed0 = g->caps->cr0_fixed0;
	if (g->ug)
		fixed0 &= ~(CR0_PE | CR0_PG);
	if (!fixed_ok(g->cr0, fixed0, g->caps->cr0_fixed1))
		return VMX_GUEST_CR0_FIXED;
	if ((g->cr0 & CR0_PG) && !(g->cr0 & CR0_PE))
		return VMX_GUEST_CR0_PG_WITHOUT_PE;
	uint64_t cr4 = vmcs_get(v, VMCS_GUEST_CR4);
	if (!fixed_ok(cr4, g->caps->cr4_fixed0, g->caps->cr4_fixed1))
		return VMX_GUEST_CR4_FIXED;
	if (g->ia32e && (!(g->cr0 & CR0_PG) || !(cr4 & CR4_PAE)))
		return VMX_GUEST_IA32E_PG_PAE;
	if (!g->ia32e && (cr4 & CR4_PCIDE))
		return VMX_GUEST_PCIDE;
	if (vmcs_get(v, VMCS_GUEST_CR3) & PA_BEYOND_MAXPHYADDR)
		return VMX_GUEST_CR3;
	if (g->entry & ENTRY_LOAD_DEBUG_CONTROLS) {
		if (vmcs_get(v, VMCS_GUEST_IA32_DEBUGCTL) & ~DEBUGCTL_VALID)
			return VMX_GUEST_DEBUGCTL;
		if (vmcs_get(v, VMCS_GUEST_DR7) & DR7_RSVD_HIGH)
			return VMX_GUEST_DR7;
	}
	if (!canonical(g->caps, vmcs_get(v, VMCS_GUEST_SYSENTER_ESP)) || !canonical(g->caps, vmcs_get(v, VMCS_GUEST_SYSENTER_EIP)))
		return VMX_GUEST_SYSENTER;
	if ((g->entry & ENTRY_LOAD_IA32_PERF_GLOBAL_CTRL) &&
	    (vmcs_get(v, VMCS_GUEST_IA32_PERF_GLOBAL_CTRL) & ~PERF_GLOBAL_CTRL_VALID))
		return VMX_GUEST_PERF_GLOBAL_CTRL;
	if ((g->entry & ENTRY_LOAD_IA32_PAT) && !pat_ok(vmcs_get(v, VMCS_GUEST_IA32_PAT)))
		return VMX_GUEST_PAT;
	if (g->entry & ENTRY_LOAD_IA32_EFER) {
		uint64_t efer = vmcs_get(v, VMCS_GUEST_IA32_EFER);
		if ((efer & ~EFER_VALID) || ((efer & EFER_LMA) != 0) != g->ia32e ||
		    ((g->cr0 & CR0_PG) && ((efer & EFER_LME) != 0) != g->ia32e))
			return VMX_GUEST_EFER;
	}
	return VMX_GUEST_OK;
}

/* Virtual-8086 guest: CS/SS/DS/ES/FS/GS base = selector << 4, limit
 * 0xffff, access rights 0xf3. */
static enum vmx_guest_fail check_guest_v86_segments(const struct guest_ctx *g)
{
	for (int n = SEG_ES; n <= SEG_GS; n++) {
		const struct seg *s = &g->s[n];
		if (s->base != (uint64_t)s->sel << 4 || s->limit != 0xffff || s->ar != AR_V86)
			return VMX_GUEST_V86_SEGMENT;
	}
	return VMX_GUEST_OK;
}

/* CS, SS, DS, ES, FS, GS access rights outside virtual-8086 mode. */
static enum vmx_guest_fail check_guest_code_data_ar(const struct guest_ctx *g)
{
	const struct seg *cs = &g->s[SEG_CS], *ss = &g->s[SEG_SS];
	unsigned cs_type = ar_type(cs->ar);

	switch (cs_type) {
	case SEG_TYPE_CODE_X_ACCESSED:
	case SEG_TYPE_CODE_XR_ACCESSED:
		if (ar_dpl(cs->ar) != ar_dpl(ss->ar))
			return VMX_GUEST_CS_AR;
		break;
	case SEG_TYPE_CODE_XC_ACCESSED:
	case SEG_TYPE_CODE_XRC_ACCESSED:
		if (ar_dpl(cs->ar) > ar_dpl(ss->ar))
			return VMX_GUEST_CS_AR;
		break;
	case SEG_TYPE_DATA_RW_ACCESSED:
		if (!g->ug || ar_dpl(cs->ar) != 0)
			return VMX_GUEST_CS_AR;
		break;
	default:
		return VMX_GUEST_CS_AR;
	}
	if (!code_data_ar_common_ok(cs) || (g->ia32e && (cs->ar & AR_L) && (cs->ar & AR_DB)))
		return VMX_GUEST_CS_AR;
	if (!limit_g_ok(cs))
		return VMX_GUEST_SEG_LIMIT_G;

	/* SS.DPL is loaded even when SS is unusable: it becomes the CPL. */
	if (!g->ug && ar_dpl(ss->ar) != (ss->sel & SEL_RPL_MASK))
		return VMX_GUEST_SS_AR;
	if ((cs_type == SEG_TYPE_DATA_RW_ACCESSED || !(g->cr0 & CR0_PE)) && ar_dpl(ss->ar) != 0)
		return VMX_GUEST_SS_AR;
	if (usable(ss)) {
		unsigned t = ar_type(ss->ar);
		if ((t != SEG_TYPE_DATA_RW_ACCESSED && t != SEG_TYPE_DATA_RW_DOWN_ACCESSED) ||
		    !code_data_ar_common_ok(ss))
			return VMX_GUEST_SS_AR;
		if (!limit_g_ok(ss))
			return VMX_GUEST_SEG_LIMIT_G;
	}

	static const enum seg_reg data[] = {SEG_DS, SEG_ES, SEG_FS, SEG_GS};
	for (size_t i = 0; i < sizeof(data) / sizeof(data[0]); i++) {
		const struct seg *s = &g->s[data[i]];
		if (!usable(s))
			continue;
		unsigned t = ar_type(s->ar);
		if (!(t & AR_TYPE_ACCESSED) || ((t & AR_TYPE_CODE) && !(t & AR_TYPE_READABLE)) ||
		    !code_data_ar_common_ok(s))
			return VMX_GUEST_DATA_SEG_AR;
		/* Data and non-conforming code (types 0-11): DPL >= RPL. */
		if (!g->ug && t <= SEG_TYPE_CODE_XR_ACCESSED && ar_dpl(s->ar) < (s->sel & SEL_RPL_MASK))
			return VMX_GUEST_DATA_SEG_AR;
		if (!limit_g_ok(s))
			return VMX_GUEST_SEG_LIMIT_G;
	}
	return VMX_GUEST_OK;
}

/* TR (always) and LDTR (if usable): system segments. */
static enum vmx_guest_fail check_guest_system_segments(const struct guest_ctx *g)
{
	const struct seg *tr = &g->s[SEG_TR], *ldtr = &g->s[SEG_LDTR];
	unsigned t = ar_type(tr->ar);
	bool type_ok = g->ia32e ? t == SEG_TYPE_TSS_BUSY : (t == SEG_TYPE_TSS16_BUSY || t == SEG_TYPE_TSS_BUSY);
	if (!type_ok || (tr->ar & AR_S) || !(tr->ar & AR_P) || (tr->ar & (AR_RSVD_11_8 | AR_RSVD_31_17)) ||
	    !usable(tr))
		return VMX_GUEST_TR_AR;
	if (!limit_g_ok(tr))
		return VMX_GUEST_SEG_LIMIT_G;
	if (usable(ldtr)) {
		if (ar_type(ldtr->ar) != SEG_TYPE_LDT || (ldtr->ar & AR_S) || !(ldtr->ar & AR_P) ||
		    (ldtr->ar & (AR_RSVD_11_8 | AR_RSVD_31_17)))
			return VMX_GUEST_LDTR_AR;
		if (!limit_g_ok(ldtr))
			return VMX_GUEST_SEG_LIMIT_G;
	}
	return VMX_GUEST_OK;
}

/* SDM "Checks on Guest Segment Registers". */
static enum vmx_guest_fail check_guest_segments(const struct guest_ctx *g)
{
	const struct seg *s = g->s;

	/* Selectors. */
	if ((s[SEG_TR].sel & SEL_TI) || (usable(&s[SEG_LDTR]) && (s[SEG_LDTR].sel & SEL_TI)))
		return VMX_GUEST_SEL_TI;
	if (!g->v86 && !g->ug && (s[SEG_SS].sel & SEL_RPL_MASK) != (s[SEG_CS].sel & SEL_RPL_MASK))
		return VMX_GUEST_SS_RPL;

	/* Bases (the virtual-8086 rule is checked with the limits below). */
	if (!canonical(g->caps, s[SEG_TR].base) || !canonical(g->caps, s[SEG_FS].base) || !canonical(g->caps, s[SEG_GS].base) ||
	    (usable(&s[SEG_LDTR]) && !canonical(g->caps, s[SEG_LDTR].base)))
		return VMX_GUEST_SEG_BASE;
	if ((s[SEG_CS].base & HIGH_32) || (usable(&s[SEG_SS]) && (s[SEG_SS].base & HIGH_32)) ||
	    (usable(&s[SEG_DS]) && (s[SEG_DS].base & HIGH_32)) || (usable(&s[SEG_ES]) && (s[SEG_ES].base & HIGH_32)))
		return VMX_GUEST_SEG_BASE;

	enum vmx_guest_fail f = g->v86 ? check_guest_v86_segments(g) : check_guest_code_data_ar(g);
	if (f != VMX_GUEST_OK)
		return f;
	return check_guest_system_segments(g);
}

/* SDM "Checks on Guest Descriptor-Table Registers". */
static enum vmx_guest_fail check_guest_desc_tables(const struct guest_ctx *g)
{
	const struct vmcs *v = g->v;
	if (!canonical(g->caps, vmcs_get(v, VMCS_GUEST_GDTR_BASE)) || !canonical(g->caps, vmcs_get(v, VMCS_GUEST_IDTR_BASE)))
		return VMX_GUEST_DESC_TABLE;
	if ((vmcs_get(v, VMCS_GUEST_GDTR_LIMIT) | vmcs_get(v, VMCS_GUEST_IDTR_LIMIT)) & DESC_TABLE_LIMIT_RSVD)
		return VMX_GUEST_DESC_TABLE;
	return VMX_GUEST_OK;
}

/* SDM "Checks on Guest RIP and RFLAGS". */
static enum vmx_guest_fail check_guest_rip_rflags(const struct guest_ctx *g)
{
	uint64_t rip = vmcs_get(g->v, VMCS_GUEST_RIP);
	if (g->ia32e && (g->s[SEG_CS].ar & AR_L)) {
		if (!canonical(g->caps, rip))
			return VMX_GUEST_RIP;
	} else if (rip & HIGH_32) {
		return VMX_GUEST_RIP;
	}
	if ((g->rflags & RFLAGS_RSVD) || !(g->rflags & RFLAGS_FIXED1))
		return VMX_GUEST_RFLAGS_RESERVED;
	if ((g->rflags & RFLAGS_VM) && (g->ia32e || !(g->cr0 & CR0_PE)))
		return VMX_GUEST_RFLAGS_VM;
	if ((g->intr_info & INTR_INFO_VALID) &&
	    (g->intr_info & INTR_TYPE_MASK) >> INTR_INFO_TYPE_SHIFT == EVT_EXT_INTR && !(g->rflags & RFLAGS_IF))
		return VMX_GUEST_RFLAGS_IF;
	return VMX_GUEST_OK;
}

/* Events that may be injected into a guest entering an inactive state. */
static bool injectable_in(enum activity_state st, unsigned type, unsigned vector)
{
	switch (st) {
	case ACTIVITY_HLT:
		return type == EVT_EXT_INTR || type == EVT_NMI ||
		       (type == EVT_HW_EXCEPTION && (vector == VEC_DB || vector == VEC_MC)) ||
		       (type == EVT_OTHER && vector == 0);
	case ACTIVITY_SHUTDOWN:
		return type == EVT_NMI || (type == EVT_HW_EXCEPTION && vector == VEC_MC);
	case ACTIVITY_WAIT_SIPI:
		return false;
	case ACTIVITY_ACTIVE:
		break;
	}
	return true;
}

/* SDM "Checks on Guest Non-Register State". */
static enum vmx_guest_fail check_guest_non_register(const struct guest_ctx *g)
{
	const struct vmcs *v = g->v;
	uint64_t act = vmcs_get(v, VMCS_GUEST_ACTIVITY_STATE);
	uint32_t intr = (uint32_t)vmcs_get(v, VMCS_GUEST_INTERRUPTIBILITY);
	bool inject = g->intr_info & INTR_INFO_VALID;
	unsigned type = (g->intr_info & INTR_TYPE_MASK) >> INTR_INFO_TYPE_SHIFT;
	unsigned vector = g->intr_info & INTR_INFO_VECTOR_MASK;

	/* Activity state: active, or an inactive state IA32_VMX_MISC[8:6] lists. */
	static const uint64_t misc_bit[] = {
		[ACTIVITY_HLT] = VMX_MISC_ACTIVITY_HLT,
		[ACTIVITY_SHUTDOWN] = VMX_MISC_ACTIVITY_SHUTDOWN,
		[ACTIVITY_WAIT_SIPI] = VMX_MISC_ACTIVITY_WAIT_SIPI,
	};
	if (act > ACTIVITY_WAIT_SIPI || (act != ACTIVITY_ACTIVE && !(g->caps->misc & misc_bit[act])))
		return VMX_GUEST_ACTIVITY_STATE;
	if (act == ACTIVITY_HLT && ar_dpl(g->s[SEG_SS].ar) != 0)
		return VMX_GUEST_ACTIVITY_HLT_DPL;
	if (act != ACTIVITY_ACTIVE && (intr & (INTR_STATE_STI | INTR_STATE_MOV_SS)))
		return VMX_GUEST_ACTIVITY_BLOCKING;
	if (inject && !injectable_in((enum activity_state)act, type, vector))
		return VMX_GUEST_ACTIVITY_EVENT;

	/* Interruptibility state. */
	if ((intr & INTR_STATE_RSVD) || ((intr & INTR_STATE_STI) && (intr & INTR_STATE_MOV_SS)) ||
	    ((intr & INTR_STATE_STI) && !(g->rflags & RFLAGS_IF)))
		return VMX_GUEST_INTERRUPTIBILITY;
	if (inject && type == EVT_EXT_INTR && (intr & (INTR_STATE_STI | INTR_STATE_MOV_SS)))
		return VMX_GUEST_INTERRUPTIBILITY;
	if (inject && type == EVT_NMI && (intr & INTR_STATE_MOV_SS))
		return VMX_GUEST_INTERRUPTIBILITY;
	if (intr & INTR_STATE_SMI) /* never in SMM */
		return VMX_GUEST_INTERRUPTIBILITY;
	if (inject && type == EVT_NMI && (g->pin & PIN_VIRTUAL_NMIS) && (intr & INTR_STATE_NMI))
		return VMX_GUEST_INTERRUPTIBILITY;

	/* Pending debug exceptions: reserved bits, and BS must reflect a
	 * single-step trap held pending by blocking or HLT. */
	uint64_t pdbg = vmcs_get(v, VMCS_GUEST_PENDING_DBG_EXCEPTIONS);
	if (pdbg & PENDING_DBG_RSVD)
		return VMX_GUEST_PENDING_DBG;
	if ((intr & (INTR_STATE_STI | INTR_STATE_MOV_SS)) || act == ACTIVITY_HLT) {
		bool tf = g->rflags & RFLAGS_TF;
		bool btf = vmcs_get(v, VMCS_GUEST_IA32_DEBUGCTL) & DEBUGCTL_BTF;
		bool bs = pdbg & PENDING_DBG_BS;
		if ((tf && !btf && !bs) || ((!tf || btf) && bs))
			return VMX_GUEST_PENDING_DBG;
	}

	/* VMCS link pointer: no shadow VMCS is modelled, so all ones. */
	if (vmcs_get(v, VMCS_LINK_POINTER) != VMCS_LINK_POINTER_NONE)
		return VMX_GUEST_LINK_POINTER;
	return VMX_GUEST_OK;
}

/* SDM "Checks on Guest Page-Directory-Pointer-Table Entries": PAE paging
 * (CR0.PG, CR4.PAE, not IA-32e) with EPT takes the PDPTE fields. */
static enum vmx_guest_fail check_guest_pdptes(const struct guest_ctx *g)
{
	if (!(g->proc2 & SECONDARY_ENABLE_EPT) || g->ia32e || !(g->cr0 & CR0_PG) ||
	    !(vmcs_get(g->v, VMCS_GUEST_CR4) & CR4_PAE))
		return VMX_GUEST_OK;
	for (uint32_t i = 0; i < 4; i++) {
		uint64_t e = vmcs_get(g->v, VMCS_GUEST_PDPTE0 + 2 * i);
		if ((e & PTE_P) && (e & PDPTE_RSVD))
			return VMX_GUEST_PDPTE;
	}
	return VMX_GUEST_OK;
}

struct vmx_guest_result vmx_check_guest_state(const struct vmcs *v, const struct vmx_caps *caps)
{
	uint32_t proc = (uint32_t)vmcs_get(v, VMCS_CPU_BASED_VM_EXEC_CONTROL);
	struct guest_ctx g = {
		.v = v,
		.caps = caps,
		.pin = (uint32_t)vmcs_get(v, VMCS_PIN_BASED_VM_EXEC_CONTROL),
		.proc2 = (proc & CPU_ACTIVATE_SECONDARY_CONTROLS) ? (uint32_t)vmcs_get(v, VMCS_SECONDARY_VM_EXEC_CONTROL)
								   : 0,
		.entry = (uint32_t)vmcs_get(v, VMCS_VM_ENTRY_CONTROLS),
		.cr0 = vmcs_get(v, VMCS_GUEST_CR0),
		.rflags = vmcs_get(v, VMCS_GUEST_RFLAGS),
		.intr_info = (uint32_t)vmcs_get(v, VMCS_VM_ENTRY_INTR_INFO),
	};
	g.ia32e = g.entry & ENTRY_IA32E_MODE_GUEST;
	g.ug = g.proc2 & SECONDARY_UNRESTRICTED_GUEST;
	g.v86 = g.rflags & RFLAGS_VM;
	if (!(g.intr_info & INTR_INFO_VALID))
		g.intr_info = 0;
	for (int n = 0; n < SEG_NREGS; n++)
		read_seg(v, (enum seg_reg)n, &g.s[n]);

	/* The SDM allows any order; RIP/RFLAGS come before the segments so
	 * that RFLAGS.VM in IA-32e mode is reported as such rather than as a
	 * bad virtual-8086 segment. */
	static enum vmx_guest_fail (*const phases[])(const struct guest_ctx *) = {
		check_guest_regs,	 check_guest_rip_rflags,   check_guest_segments,
		check_guest_desc_tables, check_guest_non_register, check_guest_pdptes,
	};
	struct vmx_guest_result r = {VMX_GUEST_OK};
	for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]) && r.fail == VMX_GUEST_OK; i++)
		r.fail = phases[i](&g);
	return r;
}

uint64_t vmx_guest_fail_qualification(enum vmx_guest_fail f)
{
	/* Reference sheet §2.2: 2 = PDPTE load, 4 = VMCS link pointer. */
	switch (f) {
	case VMX_GUEST_LINK_POINTER:
		return 4;
	case VMX_GUEST_PDPTE:
		return 2;
	default:
		return 0;
	}
}

/* ---- all phases ------------------------------------------------------ */

struct vmx_entry_check vmx_entry_checks(const struct vmcs *v, const struct vmx_caps *caps)
{
	struct vmx_entry_check c = {.outcome = VMX_ENTRY_PASS};
	c.ctl = vmx_check_controls(v, caps);
	if (c.ctl.fail != VMX_CTL_OK) {
		c.outcome = VMX_ENTRY_FAIL_VALID;
		c.error = VMXERR_ENTRY_INVALID_CONTROL_FIELD;
		return c;
	}
	c.host = vmx_check_host_state(v, caps);
	if (c.host.fail != VMX_HOST_OK) {
		c.outcome = VMX_ENTRY_FAIL_VALID;
		c.error = VMXERR_ENTRY_INVALID_HOST_STATE_FIELD;
		return c;
	}
	c.guest = vmx_check_guest_state(v, caps);
	if (c.guest.fail != VMX_GUEST_OK) {
		c.outcome = VMX_ENTRY_FAIL_GUEST;
		c.exit_reason = EXIT_REASON_INVALID_GUEST_STATE | EXIT_REASON_ENTRY_FAILURE;
		c.qualification = vmx_guest_fail_qualification(c.guest.fail);
	}
	return c;
}

void vmx_record_entry_failure(struct vmcs *v, const struct vmx_entry_check *chk)
{
	vmcs_put(v, VMCS_EXIT_REASON, chk->exit_reason);
	vmcs_put(v, VMCS_EXIT_QUALIFICATION, chk->qualification);
}

/* ---- names ----------------------------------------------------------- */

static const char *const ctl_names[VMX_CTL_NFAILS] = {
	[VMX_CTL_OK] = "ok",
	[VMX_CTL_PIN_RESERVED] = "pin-based controls not allowed by IA32_VMX_TRUE_PINBASED_CTLS",
	[VMX_CTL_PROC_RESERVED] = "primary processor-based controls not allowed by IA32_VMX_TRUE_PROCBASED_CTLS",
	[VMX_CTL_PROC2_RESERVED] = "secondary processor-based controls not allowed by IA32_VMX_PROCBASED_CTLS2",
	[VMX_CTL_CR3_TARGET_COUNT] = "CR3-target count above IA32_VMX_MISC[24:16]",
	[VMX_CTL_IO_BITMAP_ADDR] = "I/O-bitmap address unaligned or beyond MAXPHYADDR",
	[VMX_CTL_MSR_BITMAP_ADDR] = "MSR-bitmap address unaligned or beyond MAXPHYADDR",
	[VMX_CTL_VIRTUAL_APIC_ADDR] = "virtual-APIC address unaligned or beyond MAXPHYADDR",
	[VMX_CTL_TPR_THRESHOLD] = "TPR threshold bits 31:4 set",
	[VMX_CTL_NEEDS_TPR_SHADOW] = "x2APIC/APIC-register virtualization or virtual-interrupt delivery without TPR shadow",
	[VMX_CTL_VNMI_WITHOUT_NMI_EXITING] = "virtual NMIs without NMI exiting",
	[VMX_CTL_NMI_WINDOW_WITHOUT_VNMI] = "NMI-window exiting without virtual NMIs",
	[VMX_CTL_APIC_ACCESS_ADDR] = "APIC-access address unaligned or beyond MAXPHYADDR",
	[VMX_CTL_X2APIC_AND_APIC_ACCESSES] = "virtualize x2APIC mode with virtualize APIC accesses",
	[VMX_CTL_VID_WITHOUT_EXT_INTR_EXITING] = "virtual-interrupt delivery without external-interrupt exiting",
	[VMX_CTL_POSTED_INTR_CONTROLS] = "posted interrupts without virtual-interrupt delivery or acknowledge on exit",
	[VMX_CTL_POSTED_INTR_VECTOR] = "posted-interrupt notification vector above 255",
	[VMX_CTL_POSTED_INTR_DESC_ADDR] = "posted-interrupt descriptor unaligned or beyond MAXPHYADDR",
	[VMX_CTL_VPID_ZERO] = "enable VPID with VPID 0",
	[VMX_CTL_EPTP] = "invalid EPT pointer",
	[VMX_CTL_NEEDS_EPT] = "unrestricted guest, PML, mode-based execute or sub-page permissions without EPT",
	[VMX_CTL_PML_ADDR] = "PML address unaligned or beyond MAXPHYADDR",
	[VMX_CTL_VMCS_SHADOW_BITMAP_ADDR] = "VMREAD/VMWRITE-bitmap address unaligned or beyond MAXPHYADDR",
	[VMX_CTL_VE_INFO_ADDR] = "#VE-information address unaligned or beyond MAXPHYADDR",
	[VMX_CTL_TSC_MULTIPLIER_ZERO] = "TSC scaling with multiplier 0",
	[VMX_CTL_EXIT_RESERVED] = "VM-exit controls not allowed by IA32_VMX_TRUE_EXIT_CTLS",
	[VMX_CTL_SAVE_TIMER_WITHOUT_TIMER] = "save preemption-timer value without the preemption timer",
	[VMX_CTL_EXIT_MSR_STORE_ADDR] = "VM-exit MSR-store address unaligned or beyond MAXPHYADDR",
	[VMX_CTL_EXIT_MSR_LOAD_ADDR] = "VM-exit MSR-load address unaligned or beyond MAXPHYADDR",
	[VMX_CTL_ENTRY_RESERVED] = "VM-entry controls not allowed by IA32_VMX_TRUE_ENTRY_CTLS",
	[VMX_CTL_ENTRY_SMM_OUTSIDE_SMM] = "entry to SMM or deactivate dual-monitor treatment outside SMM",
	[VMX_CTL_ENTRY_MSR_LOAD_ADDR] = "VM-entry MSR-load address unaligned or beyond MAXPHYADDR",
	[VMX_CTL_EVENT_RESERVED] = "VM-entry interruption information: reserved bits 30:12 set",
	[VMX_CTL_EVENT_TYPE] = "VM-entry interruption information: reserved interruption type",
	[VMX_CTL_EVENT_VECTOR] = "VM-entry interruption information: vector invalid for its type",
	[VMX_CTL_EVENT_DELIVER_CODE] = "VM-entry interruption information: deliver-error-code bit wrong",
	[VMX_CTL_EVENT_ERROR_CODE] = "VM-entry exception error code bits 31:16 set",
	[VMX_CTL_EVENT_INSN_LEN] = "VM-entry instruction length invalid for a software event",
};

static const char *const host_names[VMX_HOST_NFAILS] = {
	[VMX_HOST_OK] = "ok",
	[VMX_HOST_CR0_FIXED] = "host CR0 against IA32_VMX_CR0_FIXED0/1",
	[VMX_HOST_CR4_FIXED] = "host CR4 against IA32_VMX_CR4_FIXED0/1",
	[VMX_HOST_CR3] = "host CR3 beyond MAXPHYADDR",
	[VMX_HOST_SYSENTER] = "host SYSENTER_ESP/EIP not canonical",
	[VMX_HOST_PERF_GLOBAL_CTRL] = "host IA32_PERF_GLOBAL_CTRL reserved bits",
	[VMX_HOST_PAT] = "host IA32_PAT invalid memory type",
	[VMX_HOST_EFER] = "host IA32_EFER reserved bits or LMA/LME vs address-space size",
	[VMX_HOST_SELECTOR_RPL_TI] = "host selector RPL or TI not 0",
	[VMX_HOST_CS_NULL] = "host CS selector 0",
	[VMX_HOST_TR_NULL] = "host TR selector 0",
	[VMX_HOST_SS_NULL] = "host SS selector 0 with a 32-bit host",
	[VMX_HOST_BASE] = "host FS/GS/GDTR/IDTR/TR base not canonical",
	[VMX_HOST_ADDR_SPACE_SIZE] = "host address-space size 0 in IA-32e mode",
	[VMX_HOST_IA32E_GUEST_32BIT_HOST] = "IA-32e mode guest with a 32-bit host",
	[VMX_HOST_CR4_PAE] = "64-bit host without CR4.PAE",
	[VMX_HOST_RIP] = "host RIP not canonical",
	[VMX_HOST_CR4_PCIDE] = "32-bit host with CR4.PCIDE",
};

static const char *const guest_names[VMX_GUEST_NFAILS] = {
	[VMX_GUEST_OK] = "ok",
	[VMX_GUEST_CR0_FIXED] = "guest CR0 against IA32_VMX_CR0_FIXED0/1",
	[VMX_GUEST_CR0_PG_WITHOUT_PE] = "guest CR0.PG without CR0.PE",
	[VMX_GUEST_CR4_FIXED] = "guest CR4 against IA32_VMX_CR4_FIXED0/1",
	[VMX_GUEST_IA32E_PG_PAE] = "IA-32e mode guest without CR0.PG or CR4.PAE",
	[VMX_GUEST_PCIDE] = "guest CR4.PCIDE outside IA-32e mode",
	[VMX_GUEST_CR3] = "guest CR3 beyond MAXPHYADDR",
	[VMX_GUEST_DEBUGCTL] = "guest IA32_DEBUGCTL reserved bits",
	[VMX_GUEST_DR7] = "guest DR7 bits 63:32",
	[VMX_GUEST_SYSENTER] = "guest SYSENTER_ESP/EIP not canonical",
	[VMX_GUEST_PERF_GLOBAL_CTRL] = "guest IA32_PERF_GLOBAL_CTRL reserved bits",
	[VMX_GUEST_PAT] = "guest IA32_PAT invalid memory type",
	[VMX_GUEST_EFER] = "guest IA32_EFER reserved bits or LMA/LME vs IA-32e mode guest",
	[VMX_GUEST_SEL_TI] = "guest TR/LDTR selector TI set",
	[VMX_GUEST_SS_RPL] = "guest SS.RPL differs from CS.RPL",
	[VMX_GUEST_SEG_BASE] = "guest segment base not canonical or above 4 GiB",
	[VMX_GUEST_V86_SEGMENT] = "guest virtual-8086 segment base/limit/access rights",
	[VMX_GUEST_CS_AR] = "guest CS access rights",
	[VMX_GUEST_SS_AR] = "guest SS access rights",
	[VMX_GUEST_DATA_SEG_AR] = "guest DS/ES/FS/GS access rights",
	[VMX_GUEST_TR_AR] = "guest TR access rights",
	[VMX_GUEST_LDTR_AR] = "guest LDTR access rights",
	[VMX_GUEST_SEG_LIMIT_G] = "guest segment granularity inconsistent with its limit",
	[VMX_GUEST_DESC_TABLE] = "guest GDTR/IDTR base or limit",
	[VMX_GUEST_RIP] = "guest RIP",
	[VMX_GUEST_RFLAGS_RESERVED] = "guest RFLAGS reserved bits (bit 1 must be 1)",
	[VMX_GUEST_RFLAGS_VM] = "guest RFLAGS.VM in IA-32e mode or with CR0.PE = 0",
	[VMX_GUEST_RFLAGS_IF] = "guest RFLAGS.IF = 0 while injecting an external interrupt",
	[VMX_GUEST_ACTIVITY_STATE] = "guest activity state not supported",
	[VMX_GUEST_ACTIVITY_HLT_DPL] = "guest HLT state with SS.DPL != 0",
	[VMX_GUEST_ACTIVITY_BLOCKING] = "guest inactive with STI/MOV-SS blocking",
	[VMX_GUEST_ACTIVITY_EVENT] = "event not injectable in the guest's activity state",
	[VMX_GUEST_INTERRUPTIBILITY] = "guest interruptibility state",
	[VMX_GUEST_PENDING_DBG] = "guest pending debug exceptions",
	[VMX_GUEST_LINK_POINTER] = "VMCS link pointer not all ones",
	[VMX_GUEST_PDPTE] = "guest PDPTE reserved bits",
};

const char *vmx_ctl_fail_name(enum vmx_ctl_fail f)
{
	return (unsigned)f < VMX_CTL_NFAILS && ctl_names[f] ? ctl_names[f] : "unknown";
}

const char *vmx_host_fail_name(enum vmx_host_fail f)
{
	return (unsigned)f < VMX_HOST_NFAILS && host_names[f] ? host_names[f] : "unknown";
}

const char *vmx_guest_fail_name(enum vmx_guest_fail f)
{
	return (unsigned)f < VMX_GUEST_NFAILS && guest_names[f] ? guest_names[f] : "unknown";
}
