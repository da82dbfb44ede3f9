/*
 * `vtsim explain walk`: one page walk, step by step, for teaching.
 *
 * A fixed, documented memory layout is built in simulated memory in the
 * real bit formats: the guest's paging structures (4- or 5-level, the
 * chosen guest page size) in guest-physical memory, and, per mode, nothing
 * more (native: GPA = HPA), shadow tables the VMM would have built
 * (entries map the smaller of the guest page and the host backing page),
 * or EPT tables (4- or 5-level, the chosen backing page size). Guest RAM
 * at GPA g lives at HPA g + EXPLAIN_HOST_OFFSET. Every entry has A set (and
 * D in leaves), as after earlier use, so a walk makes no A/D writes.
 *
 * With a setup file (--tables, src/cli/setup.h) the guest's tables hold
 * the file's maps instead, built in file order from GPA 0x1000 up with
 * the file's leaf flags; EPT backs every guest table and the pages of the
 * address and its neighbour (when the file maps them); shadow leaves copy
 * the guest leaf's rights, read-only while its D is clear.
 *
 * The walk runs through the hardware model (src/mmu/walk.c) with the
 * profile's paging-structure caches, nested TLB and data-cache hierarchy;
 * "warm" first walks the neighbouring page (GVA + one guest page) so the
 * caches hold what that walk left, "cold" starts with every cache empty.
 * Each step prints the structure and level, the entry's GPA and HPA, its
 * value decoded, where its line was and its cycles; cache hits print what
 * they skipped. The end is the final HPA, or the fault: the #PF error code,
 * or the EPT-violation exit qualification (reference sheet §3.2).
 */
#ifndef VTSIM_CLI_EXPLAIN_H
#define VTSIM_CLI_EXPLAIN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/run.h"
#include "cli/setup.h"
#include "cpu/params.h"
#include "mmu/walk.h"

/* Host-physical address of guest-physical 0 (4 GiB: 1 GiB aligned, so every backing size fits). */
#define EXPLAIN_HOST_OFFSET UINT64_C(0x100000000)
/* Guest-physical address of the first data page (1 GiB aligned). */
#define EXPLAIN_DATA_GPA UINT64_C(0x40000000)

struct explain_opts {
	uint64_t gva;              /* the address to translate */
	enum sim_mode mode;        /* native, shadow or ept */
	enum access_kind kind;     /* read, write or fetch */
	bool user;                 /* CPL 3 (default) or supervisor */
	bool warm;                 /* walk the neighbouring page first */
	bool fault;                /* leave the data page unmapped: #PF (native, shadow) or EPT violation (ept) */
	unsigned guest_levels;     /* 4, or 5 (CR4.LA57) */
	unsigned ept_levels;       /* 4, or 5 (EPTP bits 5:3 = 4) */
	unsigned guest_page_shift; /* 12, 21 or 30 */
	unsigned backing_page_shift; /* host backing of guest RAM (EPT leaves, or the shadow bound): 12, 21 or 30 */
	uint16_t vpid;             /* the tag the guest caches use (shadow and ept) */
	struct sim_params params;  /* cache geometry and latencies (validated) */
	const struct setup *tables; /* NULL: the fixed layout; else the guest tables come from its maps
				     * (guest_page_shift and fault are then unused) */
};

/*
 * Print the explained walk to out. Returns 0 (also when the walk faults:
 * the fault is the explanation), or -1 with a one-line message in err
 * (CPU_ERR_LEN): a non-canonical GVA, an unsupported combination.
 */
int explain_walk(const struct explain_opts *o, FILE *out, char *err);


/*
 * `vtsim explain dma`: one DMA request through the VT-d remapping unit,
 * step by step. The VMM's IOMMU driver (src/vmm/iommu_drv.c) brings the
 * unit up and builds every table through its registers, in a fixed layout:
 * its host frames from EXPLAIN_DMA_TABLES (root table, invalidation queue,
 * wait status, the domain's SL-PML4, the context table of bus 0, then the
 * second-level tables in the order the mapping needs them); device
 * 00:02.0 alone in domain 1 (another requester, --device, has no context
 * entry); the domain maps a window of
 * guest-physical memory at IOVA = GPA EXPLAIN_DATA_GPA to HPA GPA +
 * EXPLAIN_HOST_OFFSET with pages of the chosen size (4 KiB: a 2 MiB window
 * of 512 pages; 2 MiB / 1 GiB: two pages). "Warm" first sends a DMA to the
 * neighbouring page. The request then runs through iommu_translate; each
 * memory reference of the unit is printed with its address, value and
 * decoding; cache hits say what they skipped. A request outside the window
 * is blocked: the fault, FSTS and the fault-recording register as they
 * read, and the driver's report.
 *
 * With a setup file (--setup, src/cli/setup.h) the driver builds the
 * file's domains (domain N gets domain-id N) with its iomaps (2 MiB and
 * 1 GiB leaves where the file says so) and attaches its devices; a device
 * line's context-entry fields (p, fpd, tt, aw, did) are then written over
 * the driver's entry, as a buggy driver would leave it (before any DMA, so
 * nothing is cached yet).
 */
#define EXPLAIN_DMA_TABLES UINT64_C(0x1000000)
/* The device the driver attaches to domain 1: 00:02.0. */
#define EXPLAIN_DMA_SID 0x0010

struct explain_dma_opts {
	uint64_t iova;
	bool write;
	uint16_t sid;            /* the requester (EXPLAIN_DMA_SID is the attached device) */
	unsigned page_shift;     /* the driver's mapping: 12, 21 or 30 */
	bool warm;
	struct sim_params params; /* iommu.* (validated) */
	const struct setup *setup; /* NULL: the fixed layout above; else its domains, iomaps and devices */
};

/* Print the explained request to out. 0 (also when the request faults), or
 * -1 with a message in err (CPU_ERR_LEN): the unit or driver refused. */
int explain_dma(const struct explain_dma_opts *o, FILE *out, char *err);

/*
 * `vtsim explain bounce`: one buffer mapped for DMA by the swiotlb
 * (src/vmm/swiotlb.c) for a device whose DMA mask may not reach it, with
 * no IOMMU: whether it bounces, the slots, and each copy of the map and the
 * unmap (reference sheet §8.3), with bytes and cycles. The pool is
 * swiotlb.pool_mib at EXPLAIN_BOUNCE_POOL (low memory).
 */
#define EXPLAIN_BOUNCE_POOL UINT64_C(0x4000000)

struct explain_bounce_opts {
	uint64_t addr;            /* HPA of the buffer */
	uint64_t bytes;           /* its length */
	unsigned dir;             /* enum dma_data_direction */
	unsigned mask_bits;       /* the device's DMA mask: 32 = DMA_BIT_MASK(32), 64 */
	struct sim_params params; /* swiotlb.* (validated) */
};

/* Print the explained mapping to out. 0 (also when the mapping fails: that
 * is the explanation), or -1 with a message in err (CPU_ERR_LEN). */
int explain_bounce(const struct explain_bounce_opts *o, FILE *out, char *err);

#endif
