/*
 * The VMM's shadow-paging MMU (software, like KVM's shadow MMU): shadow page
 * tables in host memory map guest-virtual to host-physical addresses; the
 * processor walks them (no EPT). Guest page-table pages are write-protected
 * through the shadow entries, so the guest kernel's stores to them fault
 * (#PF exit) and are emulated; hidden faults are filled without the guest
 * seeing them; true guest faults are reflected by #PF injection; CR3 loads
 * switch shadow roots (a small cache of roots per guest CR3); INVLPG
 * invalidates. With shadow.unsync=on, last-level guest page tables may go
 * "unsync": writable, resynchronised at the guest's INVLPG and CR3 loads.
 */
#ifndef VTSIM_VMM_SHADOW_H
#define VTSIM_VMM_SHADOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/u64map.h"
#include "util/u64vec.h"

struct vmm;

#define SP_ACC_USER 1u
#define SP_ACC_WRITE 2u
#define SP_ACC_NX 4u
#define SP_ACC_ALL (SP_ACC_USER | SP_ACC_WRITE)

/* One shadow page table. */
struct shadow_page {
	uint64_t hpa;    /* host frame holding the 512 shadow entries */
	uint64_t gfn;    /* guest table's frame; for a direct page, the first gfn it maps */
	int level;       /* 1 (PT) .. 4 (PML4) */
	uint8_t access;  /* rights of the guest entries above it: SP_ACC_* (KVM's role.access) */
	bool direct;     /* splits a guest large page (no guest table behind it) */
	bool unsync;     /* a last-level page left writable (shadow.unsync=on) */
	bool live;
	struct u64vec parents; /* HPAs of the shadow entries that point to this page */
};

#define SHADOW_ROOTS_MAX 8

struct shadow_root {
	uint64_t guest_cr3; /* guest's CR3 (page-aligned) */
	uint64_t hpa;       /* shadow PML4 */
	uint64_t stamp;     /* last use, for LRU replacement */
};

struct shadow_mmu {
	struct vmm *vmm;
	int levels;              /* the guest's paging levels (4, or 5 with CR4.LA57): shadow tables mirror them */
	struct u64map memslot;   /* gfn -> host frame number backing it (4 KiB backing) */
	struct u64map memslot_rev; /* host frame number -> gfn */
	/* vmm.backing=2m|1g: [0] 2 MiB, [1] 1 GiB guest-physical range number
	 * (gpa >> 21 / >> 30) -> host block number (hpa >> 21 / >> 30), and
	 * back */
	struct u64map memslot_large[2], memslot_large_rev[2];
	struct u64map by_key;    /* (gfn, level, direct) -> shadow page index */
	struct u64map by_hpa;    /* shadow page host frame number -> index */
	struct u64map protect;   /* gfn -> number of indirect shadow pages of it */
	struct u64map rmap;      /* gfn -> index into rmaps: shadow leaves mapping it */
	struct u64vec *rmaps;
	size_t nrmaps, caprmaps;
	struct shadow_page *sp;
	size_t nsp, capsp;
	struct u64vec free_slots;
	struct shadow_root roots[SHADOW_ROOTS_MAX];
	unsigned nroots;
	uint64_t clock;
	uint64_t cur_root;       /* HPA of the shadow root in use */
	bool reload_root;        /* the root in use was zapped: load a fresh one before entry */
	uint64_t guest_cr3;      /* the guest's own CR3 value */
	uint64_t live_pages, peak_pages; /* shadow pages (4 KiB each) */
	uint64_t mmio_gpa;  /* SHADOW_PF_MMIO: the device page's GPA */
};

/* Set up the MMU for vmm. 0, or -1 (out of memory, via cpu_fail). */
int shadow_init(struct shadow_mmu *s, struct vmm *vmm);
void shadow_destroy(struct shadow_mmu *s);

/* Host-physical address backing gpa, backing it on first use with zeroed
 * host memory: a 4 KiB frame, or with vmm.backing=2m|1g one contiguous
 * host block for the whole aligned 2 MiB / 1 GiB range around gpa (the
 * largest no larger than the backing that lies inside guest memory), as a
 * huge-page memslot gives KVM. 0 or -1 (cpu_fail). */
int shadow_gpa_to_hpa(struct shadow_mmu *s, uint64_t gpa, uint64_t *hpa);

/* The shadow root for guest CR3 value cr3 (from the roots cache, or a new
 * one). 0 or -1 (cpu_fail). */
int shadow_root_for(struct shadow_mmu *s, uint64_t cr3, uint64_t *root_hpa);

/* What a #PF exit turned out to be. */
enum shadow_pf_result {
	SHADOW_PF_FIXED,     /* hidden fault filled (or protection relaxed): retry */
	SHADOW_PF_EMULATED,  /* a write to a guest page table was emulated: skip the instruction */
	SHADOW_PF_INJECT,    /* a true guest fault: inject #PF with *guest_pfec */
	SHADOW_PF_MMIO,      /* an access to an emulated device's page (GPA in s->mmio_gpa): emulate it */
	SHADOW_PF_ERROR,
};

/* Handle a #PF exit at la with hardware error code pfec. */
enum shadow_pf_result shadow_page_fault(struct shadow_mmu *s, uint64_t la, uint32_t pfec, uint32_t *guest_pfec);

/* If the root in use was zapped, build a fresh one for the guest's CR3
 * into *root_hpa and return 1 (the VMM loads it into the VMCS); 0 if the
 * root is fine; -1 on error. */
int shadow_reload_root(struct shadow_mmu *s, uint64_t *root_hpa);

/* The guest's INVLPG la (intercepted): sync or zap the shadow leaf. 0 or -1. */
int shadow_invlpg(struct shadow_mmu *s, uint64_t la);

/* The guest's MOV to CR3 (intercepted): switch roots, resync unsync pages.
 * *root_hpa receives the shadow root to load. 0 or -1. */
int shadow_load_cr3(struct shadow_mmu *s, uint64_t cr3, uint64_t *root_hpa);

/* Consistency check for tests: every cached root is a live shadow PML4,
 * every large shadow leaf (PS = 1) maps one naturally aligned host block of
 * at least its size, and no shadow leaf, 4 KiB or large, maps a
 * write-protected guest page table writable. Reads memory without
 * charging cycles. 0, or -1 with a message in err. */
int shadow_check(struct shadow_mmu *s, char *err, size_t len);

#endif
