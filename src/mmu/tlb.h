/*
 * TLB model: configurable set-associative arrays with true LRU, entries
 * tagged with VPID, PCID and EP4TA as the SDM describes.
 *
 * Architecture (reference sheet §5.5, §5.6, §6.5; SDM Vol. 3A "Caching
 * Translation Information", Vol. 3C "Virtual-Processor Identifiers (VPIDs)"
 * and "Caching Translation Information" under VMX):
 *  - an entry maps one page (4 KiB now; page_shift kept per entry so 2 MiB /
 *    1 GiB entries fit later) of one (VPID, PCID) context; combined
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
void tlb_destroy(struct tlb *t);

/*
 * Look up linear address la (page number la >> t->page_shift) in context ctx. Returns the
 * matching entry (and marks it most recently used), or NULL on a miss.
 * A global entry matches any PCID of the same VPID and EP4TA.
 */
struct tlb_entry *tlb_lookup(struct tlb *t, const struct tlb_ctx *ctx, uint64_t la);

/* Insert (replacing the LRU way of the set, or an entry for the same page). */
void tlb_insert(struct tlb *t, const struct tlb_entry *ent);

/* Invalidation operations, with the SDM semantics (reference sheet §5.5, §6.5). */

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
