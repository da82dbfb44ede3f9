/*
 * Notes: swiotlb (see swiotlb.h), following kernel/dma/swiotlb.c of Linux
 * mainline function by function: swiotlb_init_io_tlb_pool (free-run
 * lists), swiotlb_search_pool_area, swiotlb_tbl_map_single,
 * swiotlb_release_slots, swiotlb_bounce, the sync and unmap directions,
 * and dma-direct's map/unmap. One pool, one area, no dynamic pools.
 */
#include "vmm/swiotlb.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "arch/paging.h"

#define INVALID_PHYS_ADDR (~UINT64_C(0))

static unsigned nr_slots(uint64_t val)
{
	return (unsigned)((val + IO_TLB_SIZE - 1) >> IO_TLB_SHIFT);
}

static unsigned io_tlb_offset(unsigned val)
{
	return val & (IO_TLB_SEGSIZE - 1);
}

static uint64_t get_max_slots(uint64_t boundary_mask)
{
	if (boundary_mask == ~UINT64_C(0))
		return UINT64_C(1) << (64 - IO_TLB_SHIFT);
	return nr_slots(boundary_mask + 1);
}

int swiotlb_init(struct swiotlb *s, struct phys_mem *mem, struct counters *ctr, uint64_t start, uint64_t bytes,
		 uint64_t copy_cycles_per_kib, char *err)
{
	s->slots = NULL;
	s->err[0] = '\0';
	if ((start & (PAGE_SIZE - 1)) || bytes % ((uint64_t)IO_TLB_SEGSIZE * IO_TLB_SIZE) ||
	    (bytes >> IO_TLB_SHIFT) < IO_TLB_MIN_SLABS || start + bytes > SWIOTLB_LOW_LIMIT) {
		snprintf(err, 256,
			 "swiotlb: pool of 0x%" PRIx64 " bytes at 0x%" PRIx64 " must be page aligned, whole 256 KiB "
			 "segments, at least 1 MiB and end below 4 GiB",
			 bytes, start);
		return -1;
	}
	s->mem = mem;
	s->ctr = ctr;
	s->start = start;
	s->end = start + bytes;
	s->nslabs = (unsigned)(bytes >> IO_TLB_SHIFT);
	s->used = s->index = 0;
	s->copy_cycles_per_kib = copy_cycles_per_kib;
	s->slots = malloc(sizeof(*s->slots) * s->nslabs);
	if (!s->slots) {
		snprintf(err, 256, "swiotlb: out of memory");
		return -1;
	}
	for (unsigned i = 0; i < s->nslabs; i++)
		s->slots[i] = (struct swiotlb_slot){INVALID_PHYS_ADDR, 0, (uint16_t)(IO_TLB_SEGSIZE - io_tlb_offset(i)), 0};
	return 0;
}

void swiotlb_destroy(struct swiotlb *s)
{
	free(s->slots);
	s->slots = NULL;
}

bool is_swiotlb_buffer(const struct swiotlb *s, uint64_t addr)
{
	return addr >= s->start && addr < s->end;
}

static unsigned align_offset(const struct dma_dev *dev, unsigned align_mask, uint64_t addr)
{
	return (unsigned)(addr & dev->min_align_mask & (align_mask | (IO_TLB_SIZE - 1)));
}

void phys_copy(struct phys_mem *m, uint64_t dst, uint64_t src, uint64_t bytes)
{
	while (bytes) {
		if (!(dst & 7) && !(src & 7) && bytes >= 8) {
			mem_write64(m, dst, mem_read64(m, src));
			dst += 8;
			src += 8;
			bytes -= 8;
			continue;
		}
		uint64_t b = (mem_read64(m, src & ~UINT64_C(7)) >> (8 * (src & 7))) & 0xff;
		uint64_t w = mem_read64(m, dst & ~UINT64_C(7)), sh = 8 * (dst & 7);
		mem_write64(m, dst & ~UINT64_C(7), (w & ~(UINT64_C(0xff) << sh)) | (b << sh));
		dst++;
		src++;
		bytes--;
	}
}

/* swiotlb_bounce: copy between the bounce buffer at tlb_addr and its
 * original, toward the device (TO_DEVICE) or back (FROM_DEVICE). */
static void bounce(struct swiotlb *s, const struct dma_dev *dev, uint64_t tlb_addr, uint64_t size,
		   enum dma_data_direction dir)
{
	unsigned index = (unsigned)((tlb_addr - s->start) >> IO_TLB_SHIFT);
	uint64_t orig = s->slots[index].orig;
	uint64_t alloc_size = s->slots[index].alloc_size;
	if (orig == INVALID_PHYS_ADDR)
		return;
	uint64_t tlb_offset = (tlb_addr & (IO_TLB_SIZE - 1)) - align_offset(dev, 0, orig);
	orig += tlb_offset;
	alloc_size -= tlb_offset;
	if (size > alloc_size)
		size = alloc_size; /* Linux warns "Buffer overflow detected" and truncates */
	if (!size)
		return;
	if (dir == DMA_TO_DEVICE)
		phys_copy(s->mem, tlb_addr, orig, size);
	else
		phys_copy(s->mem, orig, tlb_addr, size);
	ctr_inc(s->ctr, CTR_DMA_BOUNCE_COPIES);
	ctr_add(s->ctr, CTR_DMA_BOUNCE_BYTES, size);
	ctr_add(s->ctr, CTR_DMA_BOUNCE_CYCLES, (size * s->copy_cycles_per_kib + 1023) / 1024);
}

static int search(struct swiotlb *s, const struct dma_dev *dev, uint64_t orig, uint64_t alloc_size,
		  unsigned alloc_align_mask)
{
	const uint64_t boundary_mask = dev->seg_boundary;
	const uint64_t tbl_dma_addr = s->start & boundary_mask;
	const uint64_t max_slots = get_max_slots(boundary_mask);
	unsigned iotlb_align_mask = dev->min_align_mask;
	const unsigned nslots = nr_slots(alloc_size);
	const unsigned offset = align_offset(dev, 0, orig);
	if (!alloc_align_mask && !iotlb_align_mask && alloc_size >= PAGE_SIZE)
		alloc_align_mask = PAGE_SIZE - 1;
	alloc_align_mask |= IO_TLB_SIZE - 1;
	iotlb_align_mask &= ~alloc_align_mask;
	const unsigned stride =
		(unsigned)get_max_slots(alloc_align_mask > iotlb_align_mask ? alloc_align_mask : iotlb_align_mask);
	if (nslots > s->nslabs - s->used)
		return -1;
	unsigned index = s->index >= s->nslabs ? 0 : s->index, slot_index;
	for (unsigned checked = 0; checked < s->nslabs;) {
		slot_index = index;
		uint64_t tlb_addr = tbl_dma_addr + ((uint64_t)slot_index << IO_TLB_SHIFT);
		if ((tlb_addr & alloc_align_mask) ||
		    (orig && (tlb_addr & iotlb_align_mask) != (orig & iotlb_align_mask))) {
			index = index + 1 >= s->nslabs ? 0 : index + 1;
			checked++;
			continue;
		}
		/* iommu_is_span_boundary */
		uint64_t sh = (nr_slots(tbl_dma_addr) + (uint64_t)slot_index) & (max_slots - 1);
		if (!(sh + nslots > max_slots) && s->slots[slot_index].list >= nslots)
			goto found;
		index = index + stride >= s->nslabs ? index + stride - s->nslabs : index + stride;
		checked += stride;
	}
	return -1;
found:
	for (unsigned i = slot_index; i < slot_index + nslots; i++) {
		s->slots[i].list = 0;
		s->slots[i].alloc_size = (uint32_t)(alloc_size - (offset + ((uint64_t)(i - slot_index) << IO_TLB_SHIFT)));
	}
	unsigned count = 0;
	for (int i = (int)slot_index - 1; i >= 0 && io_tlb_offset((unsigned)i) != IO_TLB_SEGSIZE - 1 && s->slots[i].list;
	     i--)
		s->slots[i].list = (uint16_t)++count;
	index += nslots;
	s->index = index >= s->nslabs ? index - s->nslabs : index;
	s->used += nslots;
	return (int)slot_index;
}

uint64_t swiotlb_tbl_map_single(struct swiotlb *s, const struct dma_dev *dev, uint64_t orig, uint64_t mapping_size,
				unsigned alloc_align_mask, enum dma_data_direction dir)
{
	(void)dir; /* the map copies toward the device whatever the direction (§8.3) */
	unsigned offset = align_offset(dev, alloc_align_mask, orig);
	uint64_t size = (mapping_size + offset + alloc_align_mask) & ~(uint64_t)alloc_align_mask;
	int index = size > (uint64_t)IO_TLB_SEGSIZE * IO_TLB_SIZE ? -1 : search(s, dev, orig, size, alloc_align_mask);
	if (index < 0) {
		ctr_inc(s->ctr, CTR_DMA_BOUNCE_FULL);
		snprintf(s->err, sizeof(s->err),
			 "swiotlb buffer is full (sz: %" PRIu64 " bytes), total %u (slots), used %u (slots)", size,
			 s->nslabs, s->used);
		return DMA_MAPPING_ERROR;
	}
	unsigned pad_slots = offset >> IO_TLB_SHIFT;
	offset &= IO_TLB_SIZE - 1;
	index += (int)pad_slots;
	s->slots[index].pad_slots = (uint16_t)pad_slots;
	for (unsigned i = 0; i < nr_slots(size) - pad_slots; i++)
		s->slots[index + (int)i].orig = orig + ((uint64_t)i << IO_TLB_SHIFT);
	uint64_t tlb_addr = s->start + ((uint64_t)index << IO_TLB_SHIFT) + offset;
	ctr_inc(s->ctr, CTR_DMA_BOUNCE_MAPS);
	ctr_add(s->ctr, CTR_DMA_BOUNCE_SLOTS, nr_slots(size));
	bounce(s, dev, tlb_addr, mapping_size, DMA_TO_DEVICE);
	return tlb_addr;
}

static void release_slots(struct swiotlb *s, const struct dma_dev *dev, uint64_t tlb_addr)
{
	unsigned offset = align_offset(dev, 0, tlb_addr);
	int index = (int)((tlb_addr - offset - s->start) >> IO_TLB_SHIFT);
	index -= s->slots[index].pad_slots;
	unsigned nslots = nr_slots(s->slots[index].alloc_size + offset);
	unsigned count = 0;
	unsigned next_seg = ((unsigned)index + IO_TLB_SEGSIZE) & ~(IO_TLB_SEGSIZE - 1); /* ALIGN(index + 1, SEGSIZE) */
	if ((unsigned)index + nslots < next_seg)
		count = s->slots[(unsigned)index + nslots].list;
	for (int i = index + (int)nslots - 1; i >= index; i--)
		s->slots[i] = (struct swiotlb_slot){INVALID_PHYS_ADDR, 0, (uint16_t)++count, 0};
	for (int i = index - 1; i >= 0 && io_tlb_offset((unsigned)i) != IO_TLB_SEGSIZE - 1 && s->slots[i].list; i--)
		s->slots[i].list = (uint16_t)++count;
	s->used -= nslots;
}

void swiotlb_tbl_unmap_single(struct swiotlb *s, const struct dma_dev *dev, uint64_t tlb_addr, uint64_t mapping_size,
			      enum dma_data_direction dir, bool skip_cpu_sync)
{
	if (!skip_cpu_sync && (dir == DMA_FROM_DEVICE || dir == DMA_BIDIRECTIONAL))
		bounce(s, dev, tlb_addr, mapping_size, DMA_FROM_DEVICE);
	release_slots(s, dev, tlb_addr);
}

void swiotlb_sync_single_for_device(struct swiotlb *s, const struct dma_dev *dev, uint64_t tlb_addr, uint64_t size,
				    enum dma_data_direction dir)
{
	if (dir == DMA_TO_DEVICE || dir == DMA_BIDIRECTIONAL)
		bounce(s, dev, tlb_addr, size, DMA_TO_DEVICE);
}

void swiotlb_sync_single_for_cpu(struct swiotlb *s, const struct dma_dev *dev, uint64_t tlb_addr, uint64_t size,
				 enum dma_data_direction dir)
{
	if (dir == DMA_FROM_DEVICE || dir == DMA_BIDIRECTIONAL)
		bounce(s, dev, tlb_addr, size, DMA_FROM_DEVICE);
}

bool dma_capable(const struct dma_dev *dev, uint64_t addr, uint64_t size)
{
	uint64_t limit = dev->dma_mask;
	if (dev->bus_dma_limit && (!limit || dev->bus_dma_limit < limit))
		limit = dev->bus_dma_limit;
	return size && addr + size - 1 >= addr && addr + size - 1 <= limit;
}

uint64_t dma_direct_map_page(struct swiotlb *s, const struct dma_dev *dev, uint64_t phys, uint64_t size,
			     enum dma_data_direction dir)
{
	if (!dev->force_bounce && dma_capable(dev, phys, size))
		return phys; /* phys_to_dma is the identity: no IOMMU, no DMA offset */
	if (!s) {
		return DMA_MAPPING_ERROR;
	}
	uint64_t a = swiotlb_tbl_map_single(s, dev, phys, size, 0, dir);
	if (a == DMA_MAPPING_ERROR)
		return a;
	if (!dma_capable(dev, a, size)) {
		swiotlb_tbl_unmap_single(s, dev, a, size, dir, true);
		snprintf(s->err, sizeof(s->err), "swiotlb addr 0x%" PRIx64 "+%" PRIu64 " overflow (mask 0x%" PRIx64 ")", a,
			 size, dev->dma_mask);
		return DMA_MAPPING_ERROR;
	}
	return a;
}

void dma_direct_unmap_page(struct swiotlb *s, const struct dma_dev *dev, uint64_t dma_addr, uint64_t size,
			   enum dma_data_direction dir)
{
	if (s && is_swiotlb_buffer(s, dma_addr))
		swiotlb_tbl_unmap_single(s, dev, dma_addr, size, dir, false);
}
