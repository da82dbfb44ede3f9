/*
 * VM-execution, VM-exit and VM-entry control bits. Definitions only.
 * Source: reference sheet §4.1-§4.5 (Linux vmxfeatures.h, Bochs
 * vmx_ctrls.h; SDM Vol. 3C "VM-Execution Control Fields").
 */
#ifndef VTSIM_ARCH_VMX_CONTROLS_H
#define VTSIM_ARCH_VMX_CONTROLS_H

/* Pin-based (0x4000), §4.1 */
#define PIN_EXT_INTR_EXITING (1u << 0)
#define PIN_NMI_EXITING (1u << 3)
#define PIN_VIRTUAL_NMIS (1u << 5)
#define PIN_PREEMPTION_TIMER (1u << 6)
#define PIN_POSTED_INTR (1u << 7)
/* Bits 1, 2, 4: reserved, default 1 (§1.5). */
#define PIN_DEFAULT1_BITS ((1u << 1) | (1u << 2) | (1u << 4))

/* Primary processor-based (0x4002), §4.2 */
#define CPU_INTR_WINDOW_EXITING (1u << 2)
#define CPU_USE_TSC_OFFSETTING (1u << 3)
#define CPU_HLT_EXITING (1u << 7)
#define CPU_INVLPG_EXITING (1u << 9)
#define CPU_MWAIT_EXITING (1u << 10)
#define CPU_RDPMC_EXITING (1u << 11)
#define CPU_RDTSC_EXITING (1u << 12)
#define CPU_CR3_LOAD_EXITING (1u << 15)
#define CPU_CR3_STORE_EXITING (1u << 16)
#define CPU_ACTIVATE_TERTIARY_CONTROLS (1u << 17)
#define CPU_CR8_LOAD_EXITING (1u << 19)
#define CPU_CR8_STORE_EXITING (1u << 20)
#define CPU_USE_TPR_SHADOW (1u << 21)
#define CPU_NMI_WINDOW_EXITING (1u << 22)
#define CPU_MOV_DR_EXITING (1u << 23)
#define CPU_UNCOND_IO_EXITING (1u << 24)
#define CPU_USE_IO_BITMAPS (1u << 25)
#define CPU_MONITOR_TRAP_FLAG (1u << 27)
#define CPU_USE_MSR_BITMAPS (1u << 28)
#define CPU_MONITOR_EXITING (1u << 29)
#define CPU_PAUSE_EXITING (1u << 30)
#define CPU_ACTIVATE_SECONDARY_CONTROLS (1u << 31)
/* Bits 1, 4-6, 8, 13-16, 26: reserved, default 1 (§1.5); 15 and 16 are
 * CR3-load/store exiting, which the TRUE MSR lets be 0. */
#define CPU_DEFAULT1_BITS 0x0401e172u

/* Secondary processor-based (0x401E), §4.3 */
#define SECONDARY_VIRTUALIZE_APIC_ACCESSES (1u << 0)
#define SECONDARY_ENABLE_EPT (1u << 1)
#define SECONDARY_DESC_TABLE_EXITING (1u << 2)
#define SECONDARY_ENABLE_RDTSCP (1u << 3)
#define SECONDARY_VIRTUALIZE_X2APIC (1u << 4)
#define SECONDARY_ENABLE_VPID (1u << 5)
#define SECONDARY_WBINVD_EXITING (1u << 6)
#define SECONDARY_UNRESTRICTED_GUEST (1u << 7)
#define SECONDARY_APIC_REGISTER_VIRT (1u << 8)
#define SECONDARY_VIRTUAL_INTR_DELIVERY (1u << 9)
#define SECONDARY_PAUSE_LOOP_EXITING (1u << 10)
#define SECONDARY_RDRAND_EXITING (1u << 11)
#define SECONDARY_ENABLE_INVPCID (1u << 12)
#define SECONDARY_ENABLE_VMFUNC (1u << 13)
#define SECONDARY_VMCS_SHADOWING (1u << 14)
#define SECONDARY_ENCLS_EXITING (1u << 15)
#define SECONDARY_RDSEED_EXITING (1u << 16)
#define SECONDARY_ENABLE_PML (1u << 17)
#define SECONDARY_EPT_VIOLATION_VE (1u << 18)
#define SECONDARY_CONCEAL_VMX_FROM_PT (1u << 19)
#define SECONDARY_ENABLE_XSAVES (1u << 20)
#define SECONDARY_MODE_BASED_EPT_EXEC (1u << 22)
#define SECONDARY_EPT_SUB_PAGE_WRITE (1u << 23)
#define SECONDARY_PT_USE_GPA (1u << 24)
#define SECONDARY_TSC_SCALING (1u << 25)

/* VM-exit controls (0x400C), §4.4 */
#define EXIT_SAVE_DEBUG_CONTROLS (1u << 2)
#define EXIT_HOST_ADDR_SPACE_SIZE (1u << 9)
#define EXIT_LOAD_IA32_PERF_GLOBAL_CTRL (1u << 12)
#define EXIT_ACK_INTR_ON_EXIT (1u << 15)
#define EXIT_SAVE_IA32_PAT (1u << 18)
#define EXIT_LOAD_IA32_PAT (1u << 19)
#define EXIT_SAVE_IA32_EFER (1u << 20)
#define EXIT_LOAD_IA32_EFER (1u << 21)
#define EXIT_SAVE_PREEMPTION_TIMER (1u << 22)
#define EXIT_CLEAR_IA32_BNDCFGS (1u << 23)
#define EXIT_CONCEAL_VMX_FROM_PT (1u << 24)
/* Bits 0-8, 10, 11, 13, 14, 16, 17: reserved, default 1 (§1.5). */
#define EXIT_DEFAULT1_BITS 0x00036dffu

/* VM-entry controls (0x4012), §4.5 */
#define ENTRY_LOAD_DEBUG_CONTROLS (1u << 2)
#define ENTRY_IA32E_MODE_GUEST (1u << 9)
#define ENTRY_SMM (1u << 10)
#define ENTRY_DEACT_DUAL_MONITOR (1u << 11)
#define ENTRY_LOAD_IA32_PERF_GLOBAL_CTRL (1u << 13)
#define ENTRY_LOAD_IA32_PAT (1u << 14)
#define ENTRY_LOAD_IA32_EFER (1u << 15)
#define ENTRY_LOAD_IA32_BNDCFGS (1u << 16)
#define ENTRY_CONCEAL_VMX_FROM_PT (1u << 17)
/* Bits 0-8, 12: reserved, default 1 (§1.5). */
#define ENTRY_DEFAULT1_BITS 0x000011ffu

#endif
