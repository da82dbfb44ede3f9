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
	u64vec_free(&fa->free_list);
}

uint64_t frame_alloc_get(struct frame_alloc *fa)
{
	uint64_t a;
	if (fa->free_list.n) {
		a = fa->free_list.v[--fa->free_list.n];
	} else if (fa->next < fa->limit) {
		a = fa->next;
		fa->next += PAGE_SIZE;
	} else {
		return 0;
	}
	if (++fa->in_use > fa->peak)
		fa->peak = fa->in_use;
	return a;
}

int frame_alloc_put(struct frame_alloc *fa, uint64_t addr)
{
	if (u64vec_push(&fa->free_list, addr & PAGE_MASK) < 0)
		return -1;
	fa->in_use--;
	return 0;
}
