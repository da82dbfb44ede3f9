/*
 * VM-entry checks of VMLAUNCH/VMRESUME, in the SDM's three phases, run on
 * the current VMCS before anything is loaded:
 *
 *  1. VMX controls (SDM Vol. 3C "Checks on VMX Controls", reference sheet
 *     §4.6): failure is VMfailValid, VM-instruction error 7.
 *  2. Host-state area ("Checks on Host Control Registers and MSRs",
 *     "... Host Segment and Descriptor-Table Registers", "Checks Related
 *     to Address-Space Size"): VMfailValid, error 8.
 *  3. Guest-state area ("Checks on the Guest State Area"): a VM exit with
 *     exit reason 33 | bit 31 (0x80000021) and exit qualification 0, 2
 *     (PDPTEs) or 4 (VMCS link pointer); the guest state is not loaded,
 *     the processor stays in VMX root operation (reference sheet §2.2,
 *     SDM "VM-Entry Failures During or After Loading Guest State").
 *
 * Each phase returns its own result type, so a host-state failure cannot
 * be returned from a guest-state check: the compiler rejects it. The
 * failure value names the rule that failed (the first one in SDM order).
 */
#ifndef VTSIM_CPU_VMX_CHECKS_H
#define VTSIM_CPU_VMX_CHECKS_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/vmcs_fields.h"
#include "cpu/vmx_caps.h"
#include "vmcs/vmcs.h"

/* Phase 1: VMX controls. */
enum vmx_ctl_fail {
	VMX_CTL_OK = 0,
	/* VM-execution controls (SDM "VM-Execution Control Fields") */
	VMX_CTL_PIN_RESERVED,            /* pin-based outside IA32_VMX_TRUE_PINBASED_CTLS */
	VMX_CTL_PROC_RESERVED,           /* primary outside IA32_VMX_TRUE_PROCBASED_CTLS */
	VMX_CTL_PROC2_RESERVED,          /* secondary outside IA32_VMX_PROCBASED_CTLS2 */
	VMX_CTL_CR3_TARGET_COUNT,        /* > IA32_VMX_MISC[24:16] */
	VMX_CTL_IO_BITMAP_ADDR,          /* not 4 KiB aligned or beyond MAXPHYADDR */
	VMX_CTL_MSR_BITMAP_ADDR,
	VMX_CTL_VIRTUAL_APIC_ADDR,       /* "use TPR shadow" */
	VMX_CTL_TPR_THRESHOLD,           /* bits 31:4 set without virtual-interrupt delivery */
	VMX_CTL_NEEDS_TPR_SHADOW,        /* x2APIC virt., APIC-register virt. or VID without it */
	VMX_CTL_VNMI_WITHOUT_NMI_EXITING,
	VMX_CTL_NMI_WINDOW_WITHOUT_VNMI,
	VMX_CTL_APIC_ACCESS_ADDR,
	VMX_CTL_X2APIC_AND_APIC_ACCESSES,
	VMX_CTL_VID_WITHOUT_EXT_INTR_EXITING,
	VMX_CTL_POSTED_INTR_CONTROLS,    /* without VID or "acknowledge interrupt on exit" */
	VMX_CTL_POSTED_INTR_VECTOR,      /* notification vector bits 15:8 set */
	VMX_CTL_POSTED_INTR_DESC_ADDR,   /* not 64-byte aligned or beyond MAXPHYADDR */
	VMX_CTL_VPID_ZERO,
	VMX_CTL_EPTP,                    /* reference sheet §5.1 */
	VMX_CTL_NEEDS_EPT,               /* unrestricted guest, PML, MBEC or SPP without EPT */
	VMX_CTL_PML_ADDR,
	VMX_CTL_VMCS_SHADOW_BITMAP_ADDR,
	VMX_CTL_VE_INFO_ADDR,
	VMX_CTL_TSC_MULTIPLIER_ZERO,
	/* VM-exit controls (SDM "VM-Exit Control Fields") */
	VMX_CTL_EXIT_RESERVED,           /* outside IA32_VMX_TRUE_EXIT_CTLS */
	VMX_CTL_SAVE_TIMER_WITHOUT_TIMER,
	VMX_CTL_EXIT_MSR_STORE_ADDR,
	VMX_CTL_EXIT_MSR_LOAD_ADDR,
	/* VM-entry controls (SDM "VM-Entry Control Fields") */
	VMX_CTL_ENTRY_RESERVED,          /* outside IA32_VMX_TRUE_ENTRY_CTLS */
	VMX_CTL_ENTRY_SMM_OUTSIDE_SMM,
	VMX_CTL_ENTRY_MSR_LOAD_ADDR,
	VMX_CTL_EVENT_RESERVED,          /* interruption-information bits 30:12 */
	VMX_CTL_EVENT_TYPE,              /* reserved interruption type */
	VMX_CTL_EVENT_VECTOR,            /* NMI != 2, exception > 31, other event != 0 */
	VMX_CTL_EVENT_DELIVER_CODE,      /* deliver-error-code bit wrong for type/vector/mode */
	VMX_CTL_EVENT_ERROR_CODE,        /* error code bits 31:16 set */
	VMX_CTL_EVENT_INSN_LEN,          /* software event with length 0 or > 15 */
	VMX_CTL_NFAILS
};
struct vmx_ctl_result {
	enum vmx_ctl_fail fail;
};

/* Phase 2: host-state area. */
enum vmx_host_fail {
	VMX_HOST_OK = 0,
	VMX_HOST_CR0_FIXED,              /* IA32_VMX_CR0_FIXED0/1 */
	VMX_HOST_CR4_FIXED,              /* IA32_VMX_CR4_FIXED0/1 (CR4.VMXE = 1) */
	VMX_HOST_CR3,                    /* bits beyond MAXPHYADDR */
	VMX_HOST_SYSENTER,               /* SYSENTER_ESP/EIP not canonical */
	VMX_HOST_PERF_GLOBAL_CTRL,       /* reserved bits, "load IA32_PERF_GLOBAL_CTRL" */
	VMX_HOST_PAT,                    /* invalid memory type, "load IA32_PAT" */
	VMX_HOST_EFER,                   /* reserved bits or LMA/LME != address-space size */
	VMX_HOST_SELECTOR_RPL_TI,        /* RPL or TI of a host selector != 0 */
	VMX_HOST_CS_NULL,
	VMX_HOST_TR_NULL,
	VMX_HOST_SS_NULL,                /* with a 32-bit host */
	VMX_HOST_BASE,                   /* FS/GS/GDTR/IDTR/TR base not canonical */
	VMX_HOST_ADDR_SPACE_SIZE,        /* 0 while the processor is in IA-32e mode */
	VMX_HOST_IA32E_GUEST_32BIT_HOST, /* "IA-32e mode guest" with a 32-bit host */
	VMX_HOST_CR4_PAE,                /* 64-bit host without CR4.PAE */
	VMX_HOST_RIP,                    /* not canonical (64-bit host) / bits 63:32 (32-bit) */
	VMX_HOST_CR4_PCIDE,              /* 32-bit host with CR4.PCIDE */
	VMX_HOST_NFAILS
};
struct vmx_host_result {
	enum vmx_host_fail fail;
};

/* Phase 3: guest-state area. */
enum vmx_guest_fail {
	VMX_GUEST_OK = 0,
	/* control registers, debug registers, MSRs */
	VMX_GUEST_CR0_FIXED,             /* IA32_VMX_CR0_FIXED0/1 (PE/PG free with UG) */
	VMX_GUEST_CR0_PG_WITHOUT_PE,
	VMX_GUEST_CR4_FIXED,
	VMX_GUEST_IA32E_PG_PAE,          /* "IA-32e mode guest" without CR0.PG or CR4.PAE */
	VMX_GUEST_PCIDE,                 /* CR4.PCIDE outside IA-32e mode */
	VMX_GUEST_CR3,
	VMX_GUEST_DEBUGCTL,
	VMX_GUEST_DR7,
	VMX_GUEST_SYSENTER,
	VMX_GUEST_PERF_GLOBAL_CTRL,
	VMX_GUEST_PAT,
	VMX_GUEST_EFER,                  /* reserved bits or LMA/LME vs IA-32e mode guest */
	/* segment registers */
	VMX_GUEST_SEL_TI,                /* TR or usable LDTR with TI = 1 */
	VMX_GUEST_SS_RPL,                /* SS.RPL != CS.RPL */
	VMX_GUEST_SEG_BASE,
	VMX_GUEST_V86_SEGMENT,           /* virtual-8086 base/limit/access rights */
	VMX_GUEST_CS_AR,
	VMX_GUEST_SS_AR,
	VMX_GUEST_DATA_SEG_AR,           /* DS, ES, FS, GS */
	VMX_GUEST_TR_AR,
	VMX_GUEST_LDTR_AR,
	VMX_GUEST_SEG_LIMIT_G,           /* G inconsistent with the limit */
	VMX_GUEST_DESC_TABLE,            /* GDTR/IDTR base or limit */
	/* RIP and RFLAGS */
	VMX_GUEST_RIP,
	VMX_GUEST_RFLAGS_RESERVED,       /* reserved bits set or bit 1 clear */
	VMX_GUEST_RFLAGS_VM,
	VMX_GUEST_RFLAGS_IF,             /* IF = 0 while injecting an external interrupt */
	/* non-register state */
	VMX_GUEST_ACTIVITY_STATE,
	VMX_GUEST_ACTIVITY_HLT_DPL,
	VMX_GUEST_ACTIVITY_BLOCKING,     /* not active with STI/MOV-SS blocking */
	VMX_GUEST_ACTIVITY_EVENT,        /* event not injectable in that activity state */
	VMX_GUEST_INTERRUPTIBILITY,
	VMX_GUEST_PENDING_DBG,
	VMX_GUEST_LINK_POINTER,          /* exit qualification 4 */
	VMX_GUEST_PDPTE,                 /* exit qualification 2 */
	VMX_GUEST_NFAILS
};
struct vmx_guest_result {
	enum vmx_guest_fail fail;
};

/* Exit qualification of a guest-state failure (reference sheet §2.2):
 * 4 for the VMCS link pointer, 2 for the PDPTEs, otherwise 0. */
uint64_t vmx_guest_fail_qualification(enum vmx_guest_fail f);

/* Short descriptions of each rule, for messages. */
const char *vmx_ctl_fail_name(enum vmx_ctl_fail f);
const char *vmx_host_fail_name(enum vmx_host_fail f);
const char *vmx_guest_fail_name(enum vmx_guest_fail f);

/*
 * EPT pointer checks of VM entry and INVEPT (reference sheet §5.1, SDM
 * "Extended-Page-Table Pointer (EPTP)"): memory type UC or WB and allowed
 * by IA32_VMX_EPT_VPID_CAP (bits 8, 14), walk length 4 (cap bit 6) or 5
 * (bit 7), A/D enable only with cap bit 21, bit 7 only with cap bit 23,
 * bits 11:8 and 63:MAXPHYADDR zero.
 */
bool vmx_eptp_valid(const struct vmx_caps *caps, uint64_t eptp);

/*
 * Phase 1, SDM "Checks on VMX Controls" (VM-execution, VM-exit, VM-entry
 * control fields, including the VM-entry event-injection fields).
 * Secondary controls count as 0 when primary bit 31 is 0.
 */
struct vmx_ctl_result vmx_check_controls(const struct vmcs *v, const struct vmx_caps *caps);

/*
 * Phase 2, SDM "Checks on Host Control Registers and MSRs", "Checks on
 * Host Segment and Descriptor-Table Registers", "Checks Related to
 * Address-Space Size". The model's VMM runs in IA-32e mode (a 64-bit
 * host), so "host address-space size" must be 1.
 */
struct vmx_host_result vmx_check_host_state(const struct vmcs *v, const struct vmx_caps *caps);

/*
 * Phase 3, SDM "Checks on the Guest State Area": "Checks on Guest Control
 * Registers, Debug Registers, and MSRs", "Checks on Guest Segment
 * Registers", "... Descriptor-Table Registers", "... RIP and RFLAGS",
 * "... Non-Register State", "Checks on Guest Page-Directory-Pointer-Table
 * Entries" (only with EPT: the PDPTE fields).
 */
struct vmx_guest_result vmx_check_guest_state(const struct vmcs *v, const struct vmx_caps *caps);

/* What VMLAUNCH/VMRESUME report after the three phases. */
enum vmx_entry_outcome {
	VMX_ENTRY_PASS = 0,     /* every check passed: load guest state and enter */
	VMX_ENTRY_FAIL_VALID,   /* VMfailValid(error): controls or host state */
	VMX_ENTRY_FAIL_GUEST,   /* VM-entry failure exit: exit_reason, qualification */
};

struct vmx_entry_check {
	enum vmx_entry_outcome outcome;
	enum vm_instruction_error error; /* FAIL_VALID: 7 or 8 */
	uint32_t exit_reason;            /* FAIL_GUEST: 33 | bit 31 */
	uint64_t qualification;          /* FAIL_GUEST: 0, 2 or 4 */
	/* Which rule failed, per phase (phases after the failing one are not run). */
	struct vmx_ctl_result ctl;
	struct vmx_host_result host;
	struct vmx_guest_result guest;
};

/* Run the three phases in order and translate the first failure. */
struct vmx_entry_check vmx_entry_checks(const struct vmcs *v, const struct vmx_caps *caps);

/*
 * Record a guest-state VM-entry failure in the VMCS as the SDM says ("VM-
 * Entry Failures During or After Loading Guest State"): exit reason and
 * exit qualification only. Every other exit-information field, the
 * guest-state area, the valid bit of the VM-entry interruption information
 * and the launch state are left as they were. The caller then loads host
 * state as on a VM exit and stays in VMX root operation.
 */
void vmx_record_entry_failure(struct vmcs *v, const struct vmx_entry_check *chk);

#endif
