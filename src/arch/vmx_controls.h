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
#define CPU_CR8_LOAD_EXITING (1u << 19)
#define CPU_CR8_STORE_EXITING (1u << 20)
#define CPU_USE_TPR_SHADOW (1u << 21)
#define CPU_UNCOND_IO_EXITING (1u << 24)
#define CPU_USE_IO_BITMAPS (1u << 25)
#define CPU_USE_MSR_BITMAPS (1u << 28)
#define CPU_ACTIVATE_SECONDARY_CONTROLS (1u << 31)

/* Secondary processor-based (0x401E), §4.3 */
#define SECONDARY_ENABLE_EPT (1u << 1)
#define SECONDARY_ENABLE_VPID (1u << 5)
#define SECONDARY_UNRESTRICTED_GUEST (1u << 7)
#define SECONDARY_ENABLE_INVPCID (1u << 12)

/* VM-exit controls (0x400C), §4.4 */
#define EXIT_HOST_ADDR_SPACE_SIZE (1u << 9)
#define EXIT_ACK_INTR_ON_EXIT (1u << 15)
#define EXIT_SAVE_IA32_EFER (1u << 20)
#define EXIT_LOAD_IA32_EFER (1u << 21)

/* VM-entry controls (0x4012), §4.5 */
#define ENTRY_IA32E_MODE_GUEST (1u << 9)
#define ENTRY_LOAD_IA32_EFER (1u << 15)

#endif
