/*
 * Bounce buffering as Linux's swiotlb does it (reference sheet §8; Linux
 * kernel/dma/swiotlb.c and the dma-direct path, mainline): software in the
 * VMM or guest kernel, for a device whose DMA mask cannot reach a buffer
 * when no IOMMU remaps its DMA. Data really moves: the copies read and
 * write simulated memory byte-exactly (data pages that hold no contents
 * read as zeros, so a trace replay's copies store nothing).
 *
 * Constants (§8.1): 2 KiB slots (IO_TLB_SHIFT 11), mappings within one
 * 128-slot segment (IO_TLB_SEGSIZE, at most 256 KiB), a pool of
 * swiotlb.pool_mib (default 64 MiB = 32768 slots) in low memory (below
 * 4 GiB), page aligned, one area (one simulated CPU).
 * Slot search (swiotlb_search_pool_area): from the area's index, a slot
 * whose bounce address is aligned to alloc_align_mask | 2 KiB - 1 (with a
 * page alignment for mappings of a page or more when neither the caller
 * nor min_align_mask asks for one) and keeps the original's address bits
 * under min_align_mask above the slot offset; stepping by the alignment's
 * stride; not crossing the device's segment boundary; whose free-run
 * length ("list") holds the slots needed.
 * Copies (§8.3): map copies original -> bounce for every direction;
 * sync_for_device copies original -> bounce for TO_DEVICE and
 * BIDIRECTIONAL; sync_for_cpu and unmap copy bounce -> original for
 * FROM_DEVICE and BIDIRECTIONAL (unmap unless skip_cpu_sync).
 * Counters: dma.bounce.{maps,slots,copies,bytes,cycles,full}; each copy
 * costs swiotlb.copy_cycles_per_kib.
 */
#ifndef VTSIM_VMM_SWIOTLB_H
#define VTSIM_VMM_SWIOTLB_H

#include <stdbool.h>
#include <stdint.h>

#include "mem/mem.h"
#include "stats/counters.h"

#define IO_TLB_SHIFT 11
#define IO_TLB_SIZE (1u << IO_TLB_SHIFT) /* bytes per slot */
#define IO_TLB_SEGSIZE 128u              /* slots per segment */
#define IO_TLB_MIN_SLABS ((1u << 20) >> IO_TLB_SHIFT)
#define SWIOTLB_LOW_LIMIT (UINT64_C(1) << 32) /* "low memory": the pool must end below 4 GiB */
#define DMA_MAPPING_ERROR (~UINT64_C(0))

/* include/linux/dma-direction.h */
enum dma_data_direction { DMA_BIDIRECTIONAL = 0, DMA_TO_DEVICE = 1, DMA_FROM_DEVICE = 2, DMA_NONE = 3 };

/* What the DMA layer knows of a device. */
struct dma_dev {
	uint64_t dma_mask;       /* DMA_BIT_MASK(32) for a 32-bit device */
	uint64_t bus_dma_limit;  /* 0 = none */
	uint64_t seg_boundary;   /* dma_get_seg_boundary: 0xffffffff by default */
	unsigned min_align_mask; /* dma_get_min_align_mask: 0 by default (NVMe: 4095) */
	bool force_bounce;       /* swiotlb=force, or a confidential guest */
};

struct swiotlb_slot {
	uint64_t orig;       /* original address, ~0 = free */
	uint32_t alloc_size; /* bytes from this slot to the end of its allocation */
	uint16_t list;       /* free slots from here to the segment's end (0 = used) */
	uint16_t pad_slots;
};

struct swiotlb {
	struct phys_mem *mem;
	struct counters *ctr;
	uint64_t start, end;   /* pool [start, end), host-physical */
	unsigned nslabs, used, index;
	struct swiotlb_slot *slots;
	uint64_t copy_cycles_per_kib;
	char err[256];
};

/* A pool of bytes at start (page aligned, a whole number of 128-slot
 * segments, at least 1 MiB, ending at or below 4 GiB). 0, or -1 + err (256
 * bytes). */
int swiotlb_init(struct swiotlb *s, struct phys_mem *mem, struct counters *ctr, uint64_t start, uint64_t bytes,
		 uint64_t copy_cycles_per_kib, char *err);
void swiotlb_destroy(struct swiotlb *s);

/* swiotlb_tbl_map_single: bounce mapping_size bytes at orig; the bounce
 * address, or DMA_MAPPING_ERROR ("swiotlb buffer is full", counted). */
uint64_t swiotlb_tbl_map_single(struct swiotlb *s, const struct dma_dev *dev, uint64_t orig, uint64_t mapping_size,
				unsigned alloc_align_mask, enum dma_data_direction dir);
/* __swiotlb_tbl_unmap_single: copy back per direction, free the slots. */
void swiotlb_tbl_unmap_single(struct swiotlb *s, const struct dma_dev *dev, uint64_t tlb_addr, uint64_t mapping_size,
			      enum dma_data_direction dir, bool skip_cpu_sync);
void swiotlb_sync_single_for_device(struct swiotlb *s, const struct dma_dev *dev, uint64_t tlb_addr, uint64_t size,
				    enum dma_data_direction dir);
void swiotlb_sync_single_for_cpu(struct swiotlb *s, const struct dma_dev *dev, uint64_t tlb_addr, uint64_t size,
				 enum dma_data_direction dir);
bool is_swiotlb_buffer(const struct swiotlb *s, uint64_t addr);

/* dma_capable: addr + size - 1 within min_not_zero(dma_mask, bus_dma_limit). */
bool dma_capable(const struct dma_dev *dev, uint64_t addr, uint64_t size);
/* The dma-direct path (§8.2): the DMA address for phys, bouncing if forced
 * or the device cannot reach it; DMA_MAPPING_ERROR if the bounce fails or
 * the bounce slot itself is unreachable ("swiotlb addr overflow"). */
uint64_t dma_direct_map_page(struct swiotlb *s, const struct dma_dev *dev, uint64_t phys, uint64_t size,
			     enum dma_data_direction dir);
void dma_direct_unmap_page(struct swiotlb *s, const struct dma_dev *dev, uint64_t dma_addr, uint64_t size,
			   enum dma_data_direction dir);

/* Copy bytes between host-physical ranges of simulated memory (the CPU's
 * memcpy); exposed for tests. */
void phys_copy(struct phys_mem *m, uint64_t dst, uint64_t src, uint64_t bytes);

#endif
