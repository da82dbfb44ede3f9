/*
 * Page walkers: x86-64 guest paging (4- or 5-level) and EPT (4- or 5-level),
 * combined into the two-dimensional walk when EPT is on. They read the
 * paging structures from simulated memory in their real bit formats, set
 * A/D flags there, and fill one result record: entries per level, memory
 * references per dimension, and the fault.
 *
 * Architecture: reference sheet §6.3-§6.4 (SDM Vol. 3A "Hierarchical Paging
 * Structures", "Access Rights", "Accessed and Dirty Flags", "Page-Fault
 * Exceptions"), §5.2-§5.3 and §3.2 (SDM Vol. 3C "EPT Translation
 * Mechanism", "EPT Misconfigurations", "EPT Violations", "Exit
 * Qualification for EPT Violations").
 */
#ifndef VTSIM_MMU_WALK_H
#define VTSIM_MMU_WALK_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/ept.h"
#include "mem/mem.h"
#include "mmu/tlb.h"

/*
 * IA32_VMX_EPT_VPID_CAP of the modelled core: Core i7-6700K (Skylake
 * client), 0x00000f0106334141 ([VML] dump, reference sheet §5.4 and
 * cpu-parameters.md §4): execute-only, 4-level walks, UC/WB, 2 MiB and
 * 1 GiB pages, INVEPT single/all, EPT A/D, INVVPID of all four types; no
 * 5-level EPT and no advanced EPT-violation information (bit 22), so
 * qualification bits 9-11 stay 0. The walker and VM entry both honour it.
 */
#define MODEL_EPT_VPID_CAP                                                                                     \
	(EPT_CAP_EXEC_ONLY | EPT_CAP_PWL4 | EPT_CAP_UC | EPT_CAP_WB | EPT_CAP_2M | EPT_CAP_1G | EPT_CAP_INVEPT | \
	 EPT_CAP_AD | EPT_CAP_INVEPT_SINGLE | EPT_CAP_INVEPT_ALL | VPID_CAP_INVVPID | VPID_CAP_INDIV |          \
	 VPID_CAP_SINGLE | VPID_CAP_ALL | VPID_CAP_SINGLE_GLOBALS)

enum access_kind { ACC_READ = 0, ACC_WRITE = 1, ACC_FETCH = 2 };

/* One access to translate. */
struct mmu_access {
	uint64_t la;           /* linear (guest-virtual) address */
	enum access_kind kind;
	bool user;             /* CPL 3 */
};

/* What the walker needs of the processor state. */
struct paging_ctx {
	uint64_t cr0, cr3, cr4, efer;
	bool ept;     /* VMX non-root with "enable EPT": guest tables live in GPA space */
	uint64_t eptp;
	/* IA32_VMX_EPT_VPID_CAP of the part (reference sheet §5.4):
	 * MODEL_EPT_VPID_CAP, less 1 GiB pages or plus 5-level walks as the
	 * profile's part has them (struct cpu caps). A 2 MiB /
	 * 1 GiB EPT leaf without bit 16 / 17 has bit 7 set where no large page
	 * is allowed: a misconfiguration (§5.3 item 3). */
	uint64_t ept_cap;
};

enum walk_fault {
	WALK_OK = 0,
	WALK_PF,              /* guest page fault: pfec holds the error code */
	WALK_EPT_VIOLATION,   /* exit reason 48: ept_qual, fault_gpa */
	WALK_EPT_MISCONFIG,   /* exit reason 49: fault_gpa */
};

/* Result of one EPT translation (GPA -> HPA). */
struct ept_result {
	enum walk_fault fault; /* WALK_OK, WALK_EPT_VIOLATION or WALK_EPT_MISCONFIG */
	uint64_t hpa;          /* translation of the GPA (valid if WALK_OK) */
	uint64_t rwx;          /* AND of bits 2:0 over the entries walked (qualification bits 5:3) */
	uint8_t page_shift;    /* 12, 21 or 30 */
	bool dirty;            /* leaf D after this access (true when EPT A/D is off) */
	unsigned refs;         /* EPT entry reads (refs) */
	unsigned ad_writes;    /* EPT A/D flag updates (refs) */
	int level;             /* level where the walk stopped (1 = PTE) */
};

/*
 * Translate gpa through the EPT paging structures rooted at eptp for an
 * access of the given kind (R needs R, W needs W, fetch needs X; with
 * EPTP[6] A is set in every entry used and D in the leaf on a write), on a
 * part whose IA32_VMX_EPT_VPID_CAP is cap (see struct paging_ctx). Returns
 * r->fault. Reference sheet §5.2, §5.3.
 */
enum walk_fault ept_translate(struct phys_mem *m, uint64_t eptp, uint64_t cap, uint64_t gpa, enum access_kind kind,
			      struct ept_result *r);

/* Index of a paging-structure cache by the level of the entry it caches. */
enum pwc_level { PWC_PML4E = 0, PWC_PDPTE = 1, PWC_PDE = 2, PWC_LEVELS = 3 };
/* Dimension of a paging-structure cache. */
enum pwc_dim { PWC_GUEST = 0, PWC_EPT = 1 };

/*
 * Translation caches a walk may use (SDM Vol. 3A "Paging-Structure Caches",
 * Vol. 3C "Caching Translation Information" under VMX; reference sheet
 * §6.5). Each is a struct tlb whose page_shift is the prefix it is keyed by
 * (39, 30, 21: la[47:39], la[47:30], la[47:21], or the same bits of a GPA)
 * and whose entries hold the next table's address >> 12 in pfn and the
 * combined rights of the entries above in writable/user/nx (guest) or
 * readable/writable/!nx = R/W/X (EPT). NULL = the cache is off.
 *  - guest[]: guest (native) PML4E/PDPTE/PDE caches, tagged with tag
 *    (VPID, PCID and, under EPT, the EP4TA: combined mappings); the table
 *    address is guest-physical under EPT.
 *  - ept[]: EPT PML4E/PDPTE/PDE caches keyed by GPA, tagged by EP4TA only
 *    (guest-physical mappings: VPID 0, PCID 0).
 *  - ntlb: nested TLB (Bhargava et al., ASPLOS 2008): GPA -> HPA of the
 *    4 KiB pages holding guest paging structures, tagged by EP4TA only, with
 *    the EPT rights of the page in readable/writable/!nx.
 */
struct walk_caches {
	struct tlb *guest[PWC_LEVELS];
	struct tlb *ept[PWC_LEVELS];
	struct tlb *ntlb;
	struct tlb_ctx tag; /* the guest caches' tag (ep4ta 0 without EPT) */
};

/* What one step of a walk did, in order (struct walk_result ref[]). */
enum walk_ref_kind {
	WREF_READ = 0,  /* a paging-structure entry read from memory (a reference) */
	WREF_AD_WRITE,  /* an A/D-flag update written back to an entry (a reference) */
	WREF_PWC_HIT,   /* a paging-structure-cache hit: the reads down to `level` were skipped */
	WREF_NTLB_HIT,  /* a nested-TLB hit: the EPT walk for gpa was skipped */
};

/*
 * One step of a walk. READ and AD_WRITE steps are memory references at
 * hpa; the caller charges each through the cache model (src/mem/cache.h)
 * and records where the line was (served, enum cache_level) and its cost.
 */
struct walk_ref {
	uint64_t hpa;      /* host-physical address of the entry (READ, AD_WRITE); NTLB hit: the HPA it gave;
			    * PWC hit: the table it gave (0 for a guest cache under EPT: that is a GPA) */
	uint64_t gpa;      /* guest steps: the entry's GPA under EPT (equals hpa natively), a guest PWC hit:
			    * the linear address; EPT steps: the GPA being translated */
	uint64_t value;    /* the entry as read, or as written back (AD_WRITE); a hit: the table or HPA it gave */
	uint8_t kind;      /* enum walk_ref_kind */
	uint8_t dim;       /* enum pwc_dim: PWC_GUEST (guest, native or shadow tables) or PWC_EPT */
	uint8_t level;     /* level of the entry, 5 (PML5E) .. 1 (PTE); PWC hit: level of the entry it cached */
	uint8_t served;    /* filled by the caller: enum cache_level that held the line */
	uint32_t cycles;   /* filled by the caller: cycles charged */
};

/* Steps a walk can take at most: 5 guest reads and A/D writes, and six
 * EPT translations of 5 reads and 5 A/D writes each, plus cache hits. */
#define WALK_MAX_REFS 96

/* Result of a full (one- or two-dimensional) walk. */
struct walk_result {
	enum walk_fault fault;
	uint32_t pfec;         /* #PF error code (WALK_PF), reference sheet §6.4 */
	uint64_t ept_qual;     /* EPT-violation exit qualification, reference sheet §3.2 */
	uint64_t fault_gpa;    /* guest-physical address of an EPT violation/misconfiguration */
	uint64_t gpa;          /* guest-physical translation of la (native: equals hpa) */
	uint64_t hpa;          /* host-physical translation of la */
	uint8_t page_shift;    /* page size of the translation: 12, 21 or 30 (under EPT the
				* smaller of the guest page and the EPT page) */
	uint8_t guest_page_shift; /* size of the guest (linear) page: 12, 21 or 30 */
	/* Rights and flags for the TLB. Under EPT they combine both dimensions
	 * (SDM "Caching Translation Information" under VMX): readable = EPT R;
	 * writable = guest R/W AND EPT W; nx = guest XD OR NOT EPT X; dirty =
	 * guest D AND (with EPT A/D) the EPT leaf's D. */
	bool readable, writable, user, nx, dirty, global;
	int levels;            /* guest paging levels (4 or 5) */
	uint64_t entry[5];     /* guest entries read, [0] = top level */
	unsigned guest_refs;   /* guest (native) paging-structure entry reads */
	unsigned ept_refs;     /* EPT entry reads, all translations of the walk */
	unsigned guest_ad_writes, ept_ad_writes;
	/* Translation-cache lookups (only caches that are on are looked up;
	 * a walk stops at the first, longest-prefix, hit). */
	unsigned pwc_hit[2][PWC_LEVELS], pwc_miss[2][PWC_LEVELS]; /* [enum pwc_dim][enum pwc_level] */
	unsigned ntlb_hit, ntlb_miss;
	/* Every step in order (must stay last: a walk clears only what is above). */
	unsigned nrefs;
	struct walk_ref ref[WALK_MAX_REFS];
};

/*
 * Translate acc->la under ctx. Without EPT this is the native walk: one
 * reference per level (4 on a cold 4-level walk). With EPT every guest
 * paging-structure address and the final GPA are translated through EPT:
 * a cold 4-level x 4-level walk makes 4 x (4 + 1) + 4 = 24 references.
 * Guest A/D flags are set once the guest dimension succeeds, before the
 * final GPA is translated (the SDM allows either order). Returns r->fault.
 *
 * With caches (may be NULL: every walk starts from CR3 / the EPTP), the
 * walk follows SDM "Using the Paging-Structure Caches to Translate Linear
 * Addresses": the longest-prefix guest cache hit gives the table to start
 * at (PDE cache: 1 guest reference, PDPTE: 2, PML4E: 3); each guest table's
 * GPA is looked up in the nested TLB, then in the EPT caches, before an EPT
 * walk; the final GPA uses the EPT caches. Caches are filled from entries
 * that are present, free of reserved bits and accessed (A is set before
 * filling): guest caches when the guest dimension succeeds, EPT caches and
 * the nested TLB when an EPT translation succeeds.
 */
enum walk_fault mmu_walk(struct phys_mem *m, const struct paging_ctx *ctx, const struct mmu_access *acc,
			 const struct walk_caches *caches, struct walk_result *r);

#endif
