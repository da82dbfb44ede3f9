/*
 * TLB model: configurable set-associative arrays with true LRU, entries
 * tagged with VPID, PCID and EP4TA as the SDM describes.
 *
 * Architecture (reference sheet §5.5, §5.6, §6.5; SDM Vol. 3A "Caching
 * Translation Information", Vol. 3C "Virtual-Processor Identifiers (VPIDs)"
 * and "Caching Translation Information" under VMX):
 *  - an entry maps one page (4 KiB, 2 MiB or 1 GiB: page_shift) of one
 *    (VPID, PCID) context; combined
 *    (guest-linear -> HPA under EPT) entries also carry the EP4TA
 *    (EPTP bits 51:12); linear entries carry ep4ta = 0.
 *  - global entries (G = 1 with CR4.PGE) match under any PCID of their VPID.
 *  - the cached rights are AND(R/W), AND(U/S), OR(XD) of the walk and the
 *    leaf's D flag.
 */
#ifndef VTSIM_MMU_TLB_H
#define VTSIM_MMU_TLB_H

#include <stdbool.h>
#include <stdint.h>

/* Tag of the translation context an entry belongs to. */
struct tlb_ctx {
	uint16_t vpid;  /* 0 = VMX root / host or "enable VPID" = 0 */
	uint16_t pcid;  /* 12 bits; 0 when CR4.PCIDE = 0 */
	uint64_t ep4ta; /* EPTP bits 51:12 for combined mappings, else 0 */
};

/* One cached translation. */
struct tlb_entry {
	uint64_t vpn;        /* linear address >> page_shift */
	uint64_t pfn;        /* host-physical address >> page_shift */
	struct tlb_ctx ctx;
	uint8_t page_shift;  /* 12, 21 or 30 */
	/* Size of the linear page in the paging structures (12, 21 or 30; 0 =
	 * page_shift). Larger than page_shift for a fragment: a piece of a
	 * larger page (a 2 MiB guest page backed by 4 KiB EPT pages, or a
	 * size with no array of its own). INVLPG of any address in the linear
	 * page removes every fragment of it (SDM "Invalidation of TLBs and
	 * Paging-Structure Caches": all entries for the page, whatever their
	 * size). */
	uint8_t la_shift;
	bool valid;
	bool global;         /* G = 1 and CR4.PGE = 1 */
	bool readable;       /* EPT R of a combined mapping (always true for linear ones) */
	bool writable;       /* AND of R/W over the walk (and EPT W) */
	bool user;           /* AND of U/S */
	bool nx;             /* OR of XD (or NOT EPT X) */
	bool dirty;          /* leaf D flag at fill time */
	uint64_t lru;        /* last-use stamp (internal) */
};

/* One set-associative array. */
struct tlb {
	const char *name;   /* "l1i", "l1d", "l2" */
	unsigned sets;      /* power of two */
	unsigned ways;
	struct tlb_entry *e; /* sets * ways entries, set-major */
	uint64_t clock;      /* LRU stamp source */
	uint8_t page_shift;  /* page size this array caches: 12, 21 or 30 */
	uint8_t page_shift2; /* a second page size it also caches (STLB 4K+2M: 21), 0 = none */
	bool fragments;      /* an entry with la_shift > page_shift was ever inserted */
	struct tlb_entry *mru; /* the entry last hit or filled (lookup fast path) */
};

/*
 * Create an array of `entries` entries, `ways`-way set-associative
 * (entries / ways sets, which must be a power of two; ways == entries gives
 * a fully associative array). Returns 0, or -1 with a message in err
 * (256 bytes) for a bad geometry.
 */
int tlb_init(struct tlb *t, const char *name, unsigned entries, unsigned ways, char *err);
/* The same for an array of larger pages (page_shift 21 or 30; tlb_init
 * gives 12, 4 KiB pages), or a paging-structure cache keyed by la[47:21],
 * la[47:30] or la[47:39] (page_shift 21, 30 or 39; see walk.h). */
int tlb_init_sized(struct tlb *t, const char *name, unsigned entries, unsigned ways, unsigned page_shift,
		   char *err);
/* An array shared by two page sizes, as Skylake's STLB holds 4 KiB and
 * 2 MiB entries in one 1536-entry 12-way array (cpu-parameters.md §1):
 * page_shift 12 and page_shift2 21. An entry is indexed by its own page
 * number (la >> its page_shift); a lookup probes the set of each size, the
 * smaller first. 0, or -1 with a message in err. */
int tlb_init_shared(struct tlb *t, const char *name, unsigned entries, unsigned ways, unsigned page_shift,
		    unsigned page_shift2, char *err);
void tlb_destroy(struct tlb *t);

/*
 * Look up linear address la (page number la >> t->page_shift, then
 * la >> t->page_shift2 in a shared array) in context ctx. Returns the
 * matching entry (and marks it most recently used), or NULL on a miss.
 * A global entry matches any PCID of the same VPID and EP4TA.
 */
struct tlb_entry *tlb_lookup(struct tlb *t, const struct tlb_ctx *ctx, uint64_t la);

/* Insert (replacing the LRU way of the set, or an entry for the same page);
 * ent->page_shift must be one the array holds. */
void tlb_insert(struct tlb *t, const struct tlb_entry *ent);

/* Invalidation operations, with the SDM semantics (reference sheet §5.5, §6.5).
 * "The page's entries" are those whose linear page (la_shift) contains la,
 * whatever their size. */

/* INVLPG la in context (vpid, pcid): the page's entries of that PCID and
 * global entries for that page of that VPID (any PCID, any EP4TA). */
void tlb_invlpg(struct tlb *t, uint16_t vpid, uint16_t pcid, uint64_t la);
/* INVPCID individual-address (type 0): the page's non-global entries of
 * (vpid, pcid), any EP4TA; globals are kept (unlike INVLPG). */
void tlb_flush_pcid_addr(struct tlb *t, uint16_t vpid, uint16_t pcid, uint64_t la);
/* MOV to CR3 (PCIDE = 0, or PCIDE = 1 without no-flush): non-global entries
 * of (vpid, pcid). */
void tlb_flush_pcid_nonglobal(struct tlb *t, uint16_t vpid, uint16_t pcid);
/* All entries of a VPID, globals included (INVVPID single-context; VPID-0
 * flush on VM entry/exit with "enable VPID" = 0). */
void tlb_flush_vpid(struct tlb *t, uint16_t vpid);
/* INVVPID single-context-retaining-globals: non-global entries of a VPID. */
void tlb_flush_vpid_nonglobal(struct tlb *t, uint16_t vpid);
/* INVVPID individual-address: entries for la of that VPID (all PCIDs, all
 * EP4TAs, globals included). */
void tlb_flush_vpid_addr(struct tlb *t, uint16_t vpid, uint64_t la);
/* INVVPID all-context: every VPID except 0. */
void tlb_flush_all_vpids_but_0(struct tlb *t);
/* INVEPT single-context: combined entries tagged with this EP4TA. */
void tlb_flush_ep4ta(struct tlb *t, uint64_t ep4ta);
/* INVEPT all-context: every combined entry (ep4ta != 0). */
void tlb_flush_all_combined(struct tlb *t);
/* Everything. */
void tlb_flush_all(struct tlb *t);

/* Number of valid entries (tests, stats). */
unsigned tlb_occupancy(const struct tlb *t);

#endif
