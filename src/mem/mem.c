/*
 * Notes: sparse host-physical memory. Pages are allocated on the first
 * 8-byte store and released when zeroed, so memory use follows the live
 * paging structures. There is no latency here: src/mem/cache.c says where
 * a line is, and src/cpu charges its latency.
 */
#include "mem/mem.h"

#include <stdlib.h>
#include <string.h>

#include "arch/paging.h"

int mem_init(struct phys_mem *m)
{
	m->last_pfn = UINT64_MAX;
	m->last_page = NULL;
	m->peak_pages = 0;
	return u64map_init(&m->pages, 1024);
}

void mem_destroy(struct phys_mem *m)
{
	for (size_t i = 0; i < m->pages.cap; i++)
		if (m->pages.slots[i].key != U64MAP_EMPTY)
			free((void *)(uintptr_t)m->pages.slots[i].val);
	u64map_free(&m->pages);
}

static uint64_t *page_of(struct phys_mem *m, uint64_t pfn)
{
	if (pfn == m->last_pfn)
		return m->last_page;
	uint64_t *v = u64map_get(&m->pages, pfn);
	if (!v)
		return NULL;
	m->last_pfn = pfn;
	m->last_page = (uint64_t *)(uintptr_t)*v;
	return m->last_page;
}

uint64_t mem_read64(struct phys_mem *m, uint64_t hpa)
{
	uint64_t *pg = page_of(m, hpa >> PAGE_SHIFT);
	return pg ? pg[(hpa & (PAGE_SIZE - 1)) >> 3] : 0;
}

int mem_write64(struct phys_mem *m, uint64_t hpa, uint64_t val)
{
	uint64_t pfn = hpa >> PAGE_SHIFT;
	uint64_t *pg = page_of(m, pfn);
	if (!pg) {
		if (val == 0)
			return 0; /* an unstored page already reads as zero */
		pg = calloc(PT_ENTRIES, sizeof(uint64_t));
		if (!pg || u64map_put(&m->pages, pfn, (uint64_t)(uintptr_t)pg) < 0) {
			free(pg);
			return -1;
		}
		m->last_pfn = pfn;
		m->last_page = pg;
		if (m->pages.count > m->peak_pages)
			m->peak_pages = m->pages.count;
	}
	pg[(hpa & (PAGE_SIZE - 1)) >> 3] = val;
	return 0;
}

void mem_zero_page(struct phys_mem *m, uint64_t hpa)
{
	uint64_t pfn = hpa >> PAGE_SHIFT;
	uint64_t old;
	if (u64map_remove(&m->pages, pfn, &old)) {
		free((void *)(uintptr_t)old);
		m->last_pfn = UINT64_MAX;
		m->last_page = NULL;
	}
}

size_t mem_pages_stored(const struct phys_mem *m)
{
	return m->pages.count;
}

void frame_alloc_init(struct frame_alloc *fa, uint64_t base, uint64_t size)
{
	memset(fa, 0, sizeof(*fa));
	fa->limit = (base + size) & PAGE_MASK;
	if (base == 0)
		base = PAGE_SIZE; /* never hand out address 0 */
	fa->base = base & PAGE_MASK;
	fa->next = fa->base;
}

void frame_alloc_destroy(struct frame_alloc *fa)
{
	for (int i = 0; i < FRAME_NR_ORDERS; i++)
		u64vec_free(&fa->free_list[i]);
}

/* Free-list index of an order, or -1 for an order the allocator has not. */
static int order_index(unsigned order)
{
	switch (order) {
	case FRAME_ORDER_4K:
		return 0;
	case FRAME_ORDER_2M:
		return 1;
	case FRAME_ORDER_1G:
		return 2;
	}
	return -1;
}

static const unsigned orders[FRAME_NR_ORDERS] = {FRAME_ORDER_4K, FRAME_ORDER_2M, FRAME_ORDER_1G};

/* Put [from, to) (4 KiB aligned) on the free lists as the largest
 * naturally aligned blocks that fit. 0 or -1 (simulator out of memory). */
static int free_range(struct frame_alloc *fa, uint64_t from, uint64_t to)
{
	while (from < to) {
		int i = FRAME_NR_ORDERS - 1;
		for (; i > 0; i--) {
			uint64_t bytes = PAGE_SIZE << orders[i];
			if ((from & (bytes - 1)) == 0 && to - from >= bytes)
				break;
		}
		if (u64vec_push(&fa->free_list[i], from) < 0)
			return -1;
		from += PAGE_SIZE << orders[i];
	}
	return 0;
}

/* A block of free-list index i, or 0. */
static uint64_t get_block(struct frame_alloc *fa, int i)
{
	const uint64_t bytes = PAGE_SIZE << orders[i];
	if (fa->free_list[i].n)
		return fa->free_list[i].v[--fa->free_list[i].n];
	uint64_t a = (fa->next + bytes - 1) & ~(bytes - 1);
	if (a < fa->next || a > fa->limit || fa->limit - a < bytes) {
		/* No room above the bump pointer: split a larger free block. */
		for (int j = i + 1; j < FRAME_NR_ORDERS; j++) {
			if (!fa->free_list[j].n)
				continue;
			uint64_t big = fa->free_list[j].v[--fa->free_list[j].n];
			if (free_range(fa, big + bytes, big + (PAGE_SIZE << orders[j])) < 0)
				return 0;
			return big;
		}
		return 0;
	}
	if (free_range(fa, fa->next, a) < 0)
		return 0;
	fa->next = a + bytes;
	return a;
}

uint64_t frame_alloc_get_order(struct frame_alloc *fa, unsigned order)
{
	int i = order_index(order);
	if (i < 0)
		return 0;
	uint64_t a = get_block(fa, i);
	if (!a)
		return 0;
	fa->in_use += UINT64_C(1) << order;
	if (fa->in_use > fa->peak)
		fa->peak = fa->in_use;
	return a;
}

uint64_t frame_alloc_get(struct frame_alloc *fa)
{
	return frame_alloc_get_order(fa, FRAME_ORDER_4K);
}

int frame_alloc_put_order(struct frame_alloc *fa, uint64_t addr, unsigned order)
{
	int i = order_index(order);
	if (i < 0 || u64vec_push(&fa->free_list[i], addr & ~((PAGE_SIZE << order) - 1)) < 0)
		return -1;
	fa->in_use -= UINT64_C(1) << order;
	return 0;
}

int frame_alloc_put(struct frame_alloc *fa, uint64_t addr)
{
	return frame_alloc_put_order(fa, addr, FRAME_ORDER_4K);
}
