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
 * granularity): bump allocation, then reuse of freed frames (LIFO, as a
 * per-CPU free list hands back the hottest frame first). Address 0 is never
 * handed out, so 0 can mean "none". Used by the guest kernel for
 * guest-physical frames and by the VMM for host-physical frames.
 */
struct frame_alloc {
	uint64_t base, limit, next; /* bytes */
	struct u64vec free_list; /* freed frames, reused last-in first-out */
	uint64_t in_use; /* frames */
	uint64_t peak;   /* frames */
};

void frame_alloc_init(struct frame_alloc *fa, uint64_t base, uint64_t size);
void frame_alloc_destroy(struct frame_alloc *fa);
/* Allocate one 4 KiB frame; returns its address, or 0 when exhausted. */
uint64_t frame_alloc_get(struct frame_alloc *fa);
/* Return a frame. Returns 0, or -1 if the simulator runs out of memory. */
int frame_alloc_put(struct frame_alloc *fa, uint64_t addr);

#endif
