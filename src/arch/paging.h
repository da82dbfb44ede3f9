/*
 * x86-64 paging: entry layouts, CR bits, page-fault error code.
 *
 * Architecture definitions only, no behaviour. Silicon (src/mmu) and
 * software (src/guest, src/vmm) both include this, as Intel and KVM both
 * read the SDM.
 *
 * Sources: reference sheet §6.1-§6.4 (SDM Vol. 3A "Paging": "4-Level Paging
 * and 5-Level Paging", "Page-Fault Exceptions"; Linux pgtable_types.h,
 * trap_pf.h; Bochs paging.cc).
 */
#ifndef VTSIM_ARCH_PAGING_H
#define VTSIM_ARCH_PAGING_H

#include <stdint.h>

#define PAGE_SHIFT 12
#define PAGE_SIZE (UINT64_C(1) << PAGE_SHIFT) /* bytes */
#define PAGE_MASK (~(PAGE_SIZE - 1))
#define PT_ENTRIES 512                        /* entries per 4 KiB table */
#define PT_INDEX_BITS 9

/*
 * Paging-structure entry, any level (reference sheet §6.3)
 *
 *  [0]      P      present
 *  [1]      R/W    0 = read-only
 *  [2]      U/S    1 = user-mode accesses allowed
 *  [3]      PWT    [4] PCD
 *  [5]      A      accessed (set by the walker)
 *  [6]      D      dirty (leaf only; set by the walker on a write)
 *  [7]      PS     page size (PDPTE: 1 GiB, PDE: 2 MiB; PTE: PAT)
 *  [8]      G      global (leaf only, honoured with CR4.PGE)
 *  [11:9]   ign
 *  [M-1:12] address of the next table or of the page
 *  [51:M]   reserved (must be 0)
 *  [62:59]  protection key (leaf)     [63] XD (reserved unless EFER.NXE)
 */
#define PTE_P (UINT64_C(1) << 0)
#define PTE_RW (UINT64_C(1) << 1)
#define PTE_US (UINT64_C(1) << 2)
#define PTE_PWT (UINT64_C(1) << 3)
#define PTE_PCD (UINT64_C(1) << 4)
#define PTE_A (UINT64_C(1) << 5)
#define PTE_D (UINT64_C(1) << 6)
#define PTE_PS (UINT64_C(1) << 7)
#define PTE_G (UINT64_C(1) << 8)
#define PTE_XD (UINT64_C(1) << 63)

/* MAXPHYADDR modelled: 46 bits, as on Skylake-SP parts (CPUID 0x80000008). */
#define MAXPHYADDR 46
#define PHYS_ADDR_MASK (((UINT64_C(1) << MAXPHYADDR) - 1) & PAGE_MASK)
/* Reserved bits 51:M of any entry (reference sheet §6.3). */
#define PTE_RSVD_HIGH (((UINT64_C(1) << 52) - 1) & ~((UINT64_C(1) << MAXPHYADDR) - 1))
/* PML4E bit 7 (PS) is reserved; 4-level paging has no 512 GiB pages. */
#define PML4E_RSVD (PTE_RSVD_HIGH | PTE_PS)
/* 2 MiB leaf: address bits 20:13 reserved; 1 GiB leaf: bits 29:13. */
#define PDE_2M_RSVD (PTE_RSVD_HIGH | (((UINT64_C(1) << 21) - 1) & ~((UINT64_C(1) << 13) - 1)))
#define PDPTE_1G_RSVD (PTE_RSVD_HIGH | (((UINT64_C(1) << 30) - 1) & ~((UINT64_C(1) << 13) - 1)))

_Static_assert((PTE_RSVD_HIGH & PHYS_ADDR_MASK) == 0, "reserved bits overlap address bits");
_Static_assert((PTE_RSVD_HIGH & (PTE_XD | 0xfffu)) == 0, "reserved bits overlap flag bits");

/* Linear-address index of level L (1 = PT ... 4 = PML4, 5 = PML5). */
static inline unsigned pt_index(uint64_t la, int level)
{
	return (unsigned)(la >> (PAGE_SHIFT + PT_INDEX_BITS * (level - 1))) & (PT_ENTRIES - 1);
}

/* Canonical for a linear-address width of bits (48: 4-level paging, bits
 * 63:47 all equal; 57: 5-level paging, bits 63:56 all equal; §6.3). */
static inline int la_is_canonical(uint64_t la, unsigned bits)
{
	int64_t s = (int64_t)(la << (64 - bits)) >> (64 - bits);
	return (uint64_t)s == la;
}

/* Canonical check for 4-level paging: bits 63:47 all equal (§6.3). */
static inline int la_is_canonical48(uint64_t la)
{
	return la_is_canonical(la, 48);
}

/*
 * Page-fault error code (reference sheet §6.4)
 *  [0] P     1 = protection violation, 0 = not-present page
 *  [1] W/R   write access      [2] U/S  user-mode access
 *  [3] RSVD  reserved bit set  [4] I/D  instruction fetch (with NXE or SMEP)
 *  [5] PK    protection key    [6] SS   shadow-stack access
 */
#define PFEC_P (1u << 0)
#define PFEC_WR (1u << 1)
#define PFEC_US (1u << 2)
#define PFEC_RSVD (1u << 3)
#define PFEC_ID (1u << 4)
#define PFEC_PK (1u << 5)
#define PFEC_SS (1u << 6)

/* Control registers and EFER (reference sheet §6.1, §6.2). */
#define CR0_PE (UINT64_C(1) << 0)
#define CR0_NE (UINT64_C(1) << 5)
#define CR0_WP (UINT64_C(1) << 16)
#define CR0_PG (UINT64_C(1) << 31)
#define CR4_PAE (UINT64_C(1) << 5)
#define CR4_PGE (UINT64_C(1) << 7)
#define CR4_LA57 (UINT64_C(1) << 12)
#define CR4_VMXE (UINT64_C(1) << 13)
#define CR4_PCIDE (UINT64_C(1) << 17)
#define CR4_SMEP (UINT64_C(1) << 20)
#define EFER_LME (UINT64_C(1) << 8)
#define EFER_LMA (UINT64_C(1) << 10)
#define EFER_NXE (UINT64_C(1) << 11)
#define CR3_PCID_MASK UINT64_C(0xfff)
#define CR3_NOFLUSH (UINT64_C(1) << 63) /* MOV-to-CR3 source only, never stored */
/* RFLAGS.IF (SDM Vol. 1 §3.4.3.3): maskable interrupts enabled; a HLT with
 * it clear is never woken by an interrupt. */
#define RFLAGS_IF (UINT64_C(1) << 9)

/* x86 exception vectors used here. */
#define VEC_PF 14

#endif
