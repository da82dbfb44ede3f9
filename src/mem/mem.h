/*
 * Simulated host-physical memory and frame allocators.
 *
 * Only pages that receive 8-byte stores hold contents: in trace replay those
 * are the paging structures hardware walks (guest page tables, EPT tables).
 * Data pages are never stored, so a guest with tens of GiB of address space
 * costs megabytes. A page that was never written reads as zeros.
 */
#ifndef VTSIM_MEM_MEM_H
#define VTSIM_MEM_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/u64map.h"
#include "util/u64vec.h"

struct phys_mem {
	struct u64map pages; /* frame number -> (uintptr_t) uint64_t[512] */
	uint64_t last_pfn;   /* one-entry lookup cache */
	uint64_t *last_page;
	size_t peak_pages; /* most pages stored at once */
};

/* Returns 0, or -1 if memory runs out. */
int mem_init(struct phys_mem *m);
void mem_destroy(struct phys_mem *m);

/* Load the 8 bytes at hpa (must be 8-byte aligned). Unstored pages read 0. */
uint64_t mem_read64(struct phys_mem *m, uint64_t hpa);
/* Store 8 bytes at hpa (8-byte aligned). Returns 0, or -1 if host memory of
 * the simulator itself runs out. */
int mem_write64(struct phys_mem *m, uint64_t hpa, uint64_t val);
/* Zero the 4 KiB page containing hpa (drops its stored contents). */
void mem_zero_page(struct phys_mem *m, uint64_t hpa);
/* Pages whose contents are stored (pages). */
size_t mem_pages_stored(const struct phys_mem *m);

/*
 * A physical frame allocator over [base, base + size) (bytes, 4 KiB
 * granularity) that hands out naturally aligned blocks of 2^order frames:
 * order 0 (4 KiB), 9 (2 MiB) and 18 (1 GiB), the page sizes of x86-64
 * paging and EPT (reference sheet §5.2, §6.3). Each order has its own free
 * list, reused last-in first-out (as a per-CPU free list hands back the
 * hottest frame first); then blocks are carved from the bump pointer,
 * aligned up to the block size (the frames skipped by the alignment go to
 * the free lists, largest aligned blocks first); then a free larger block is
 * split (an order-0 request splits a 2 MiB block, the other 511 frames go
 * to the order-0 list). Freed blocks are never merged back into larger ones
 * (no buddy coalescing or compaction, which Linux does and KVM relies on
 * for huge pages after long uptimes). Address 0 is never handed out, so 0
 * can mean "none". Used by the guest kernel for guest-physical frames and by
 * the VMM for host-physical frames.
 */
#define FRAME_ORDER_4K 0u
#define FRAME_ORDER_2M 9u
#define FRAME_ORDER_1G 18u
#define FRAME_NR_ORDERS 3 /* free lists: [0] 4 KiB, [1] 2 MiB, [2] 1 GiB */

struct frame_alloc {
	uint64_t base, limit, next; /* bytes */
	struct u64vec free_list[FRAME_NR_ORDERS]; /* freed blocks per order, reused last-in first-out */
	uint64_t in_use; /* frames (4 KiB) */
	uint64_t peak;   /* frames (4 KiB) */
};

void frame_alloc_init(struct frame_alloc *fa, uint64_t base, uint64_t size);
void frame_alloc_destroy(struct frame_alloc *fa);
/* Allocate one 4 KiB frame; returns its address, or 0 when exhausted (or
 * when the simulator runs out of memory for the free lists). */
uint64_t frame_alloc_get(struct frame_alloc *fa);
/* Allocate a block of 2^order frames (order FRAME_ORDER_4K, _2M or _1G)
 * aligned to its size; returns its address, or 0 when no such block is
 * left (the allocator does not compact) or order is not one of these. */
uint64_t frame_alloc_get_order(struct frame_alloc *fa, unsigned order);
/* Return a frame. Returns 0, or -1 if the simulator runs out of memory. */
int frame_alloc_put(struct frame_alloc *fa, uint64_t addr);
/* Return a block obtained with frame_alloc_get_order(fa, order). 0 or -1
 * (simulator out of memory). */
int frame_alloc_put_order(struct frame_alloc *fa, uint64_t addr, unsigned order);

#endif
