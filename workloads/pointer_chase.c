/*
 * pointer-chase: a TLB-hostile dependent-load chain. A region of
 * workload.size bytes (0 = 64 MiB; the number of 4 KiB pages is rounded
 * down to a power of two, at least 2) is mapped with one mmap; each page
 * holds one node, a pointer at a fixed pseudo-random 64-byte line of the
 * page. Node p points to the node of page (A p + C) mod pages, a
 * full-period LCG (A = 1 mod 4, C odd), so the chain is one cycle through
 * every page and consecutive loads fall on distant pages. The set-up
 * writes every node once (one store per page); then workload.iterations
 * loads (0 = 1000000) follow the chain from page workload.seed mod pages.
 * Prints the pages, the loads and the page the chain ended on.
 */
#include "guest.h"

#define LCG_A 0x5851F42D4C957F2Dull /* = 1 mod 4 */
#define LCG_C 0x14057B7EF767814Full /* odd */

static inline uint64_t line_of(uint64_t p)
{
	return (p * 0x9E3779B97F4A7C15ull) >> 58; /* 0..63 */
}

long wl_main(const struct wl_args *a)
{
	uint64_t size = a->size ? a->size : 64ull << 20;
	uint64_t iters = a->iterations ? a->iterations : 1000000;
	uint64_t pages = 2;
	while (pages * 2 <= (size >> 12))
		pages *= 2;
	uint64_t mask = pages - 1;
	char *region = wl_mmap(pages << 12, 0);
	if ((long)region == -1) {
		wl_puts("pointer-chase: mmap of the region failed\n");
		return 1;
	}
	for (uint64_t p = 0; p < pages; p++) {
		uint64_t q = (LCG_A * p + LCG_C) & mask;
		*(void **)(region + (p << 12) + (line_of(p) << 6)) = region + (q << 12) + (line_of(q) << 6);
	}
	uint64_t p0 = a->seed & mask;
	void **cur = (void **)(region + (p0 << 12) + (line_of(p0) << 6));
	for (uint64_t i = 0; i < iters; i++)
		cur = (void **)*cur;
	wl_put_u64("pointer_chase.pages", pages);
	wl_put_u64("pointer_chase.loads", iters);
	wl_put_u64("pointer_chase.end_page", (uint64_t)((char *)cur - region) >> 12);
	return 0;
}
