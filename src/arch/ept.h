/*
 * EPT: EPT pointer, EPT paging-structure entries, EPT-violation exit
 * qualification. Definitions only.
 *
 * Sources: reference sheet §5.1-§5.4 and §3.2 (SDM Vol. 3C "The Extended
 * Page Table Mechanism (EPT)", "EPT Misconfigurations", "EPT Violations",
 * "Exit Qualification for EPT Violations"; Linux vmx.h, Bochs paging.cc).
 */
#ifndef VTSIM_ARCH_EPT_H
#define VTSIM_ARCH_EPT_H

#include <stdint.h>

#include "arch/paging.h"

/*
 * EPT pointer, VMCS 0x201A (reference sheet §5.1)
 *  [2:0]    memory type for EPT paging-structure accesses (0 UC, 6 WB)
 *  [5:3]    page-walk length - 1 (3 = 4-level, 4 = 5-level)
 *  [6]      enable accessed/dirty flags
 *  [7]      supervisor shadow-stack access rights
 *  [11:8]   reserved
 *  [M-1:12] physical address of the EPT PML4 table
 *  [63:M]   reserved
 */
#define EPTP_MT_MASK UINT64_C(0x7)
#define EPTP_MT_UC 0
#define EPTP_MT_WB 6
#define EPTP_WALK_LEN_SHIFT 3
#define EPTP_WALK_LEN_MASK (UINT64_C(0x7) << EPTP_WALK_LEN_SHIFT)
#define EPTP_AD (UINT64_C(1) << 6)
#define EPTP_SSS (UINT64_C(1) << 7)
#define EPTP_RSVD (UINT64_C(0xf00) | ~((UINT64_C(1) << MAXPHYADDR) - 1))

/*
 * EPT entry (reference sheet §5.2)
 *  [0] R  [1] W  [2] X (supervisor X with mode-based execute)
 *  [5:3]    EPT memory type (leaf)   [6] IPAT (leaf)
 *  [7]      PS: 1 GiB (PDPTE) / 2 MiB (PDE) leaf; reserved in PML4E
 *  [8]      A (EPTP[6])   [9] D (leaf, EPTP[6])   [10] user X (MBEC)
 *  [M-1:12] address    [51:M] reserved    [63] suppress #VE
 */
#define EPTE_R (UINT64_C(1) << 0)
#define EPTE_W (UINT64_C(1) << 1)
#define EPTE_X (UINT64_C(1) << 2)
#define EPTE_RWX (EPTE_R | EPTE_W | EPTE_X)
#define EPTE_MT_SHIFT 3
#define EPTE_MT_MASK (UINT64_C(0x7) << EPTE_MT_SHIFT)
#define EPTE_IPAT (UINT64_C(1) << 6)
#define EPTE_PS (UINT64_C(1) << 7)
#define EPTE_A (UINT64_C(1) << 8)
#define EPTE_D (UINT64_C(1) << 9)
#define EPTE_UX (UINT64_C(1) << 10)
#define EPTE_SUPPRESS_VE (UINT64_C(1) << 63)
/* Non-leaf reserved bits: 7:3 (PML4E) or 6:3 (PDPTE/PDE) and 51:M. */
#define EPTE_PML4_RSVD (UINT64_C(0xf8) | PTE_RSVD_HIGH)
#define EPTE_NONLEAF_RSVD (UINT64_C(0x78) | PTE_RSVD_HIGH)
#define EPTE_LEAF_RSVD (PTE_RSVD_HIGH)

_Static_assert((EPTE_PML4_RSVD & EPTE_RWX) == 0, "EPT reserved mask overlaps R/W/X");
_Static_assert((EPTE_MT_MASK & (EPTE_IPAT | EPTE_PS)) == 0, "EPT memory type overlaps IPAT/PS");

/*
 * IA32_VMX_EPT_VPID_CAP (MSR 0x48C) bits the model reports (§5.4).
 */
#define EPT_CAP_EXEC_ONLY (UINT64_C(1) << 0)
#define EPT_CAP_PWL4 (UINT64_C(1) << 6)
#define EPT_CAP_PWL5 (UINT64_C(1) << 7)
#define EPT_CAP_UC (UINT64_C(1) << 8)
#define EPT_CAP_WB (UINT64_C(1) << 14)
#define EPT_CAP_2M (UINT64_C(1) << 16)
#define EPT_CAP_1G (UINT64_C(1) << 17)
#define EPT_CAP_INVEPT (UINT64_C(1) << 20)
#define EPT_CAP_AD (UINT64_C(1) << 21)
#define EPT_CAP_ADV_EXIT_INFO (UINT64_C(1) << 22)
#define EPT_CAP_INVEPT_SINGLE (UINT64_C(1) << 25)
#define EPT_CAP_INVEPT_ALL (UINT64_C(1) << 26)
#define VPID_CAP_INVVPID (UINT64_C(1) << 32)
#define VPID_CAP_INDIV (UINT64_C(1) << 40)
#define VPID_CAP_SINGLE (UINT64_C(1) << 41)
#define VPID_CAP_ALL (UINT64_C(1) << 42)
#define VPID_CAP_SINGLE_GLOBALS (UINT64_C(1) << 43)

/*
 * EPT-violation exit qualification (reference sheet §3.2)
 *  [0]  data read        [1] data write       [2] instruction fetch
 *  [3]  GPA readable (AND of R over walked entries)
 *  [4]  GPA writable     [5] GPA executable   [6] user-mode executable
 *  [7]  guest-linear-address field valid
 *  [8]  1 = access to the translation of the linear address,
 *       0 = access to a guest paging-structure entry (valid if bit 7)
 *  [9]  linear address is user-mode   [10] writable   [11] execute-disable
 *       (9-11: advanced EPT-violation info, only when bits 7 and 8 are 1)
 *  [12] NMI unblocking due to IRET
 */
#define EPT_QUAL_READ (UINT64_C(1) << 0)
#define EPT_QUAL_WRITE (UINT64_C(1) << 1)
#define EPT_QUAL_FETCH (UINT64_C(1) << 2)
#define EPT_QUAL_GPA_R (UINT64_C(1) << 3)
#define EPT_QUAL_GPA_W (UINT64_C(1) << 4)
#define EPT_QUAL_GPA_X (UINT64_C(1) << 5)
#define EPT_QUAL_GPA_UX (UINT64_C(1) << 6)
#define EPT_QUAL_GLA_VALID (UINT64_C(1) << 7)
#define EPT_QUAL_GLA_XLATE (UINT64_C(1) << 8)
#define EPT_QUAL_GLA_USER (UINT64_C(1) << 9)
#define EPT_QUAL_GLA_WRITABLE (UINT64_C(1) << 10)
#define EPT_QUAL_GLA_XD (UINT64_C(1) << 11)
#define EPT_QUAL_NMI_UNBLOCK (UINT64_C(1) << 12)

#endif
