/*
 * mmap-churn: workload.iterations rounds (0 = 500) of mmap of
 * workload.size bytes (0 = 256 KiB), a store to every 4 KiB page of it,
 * and munmap of the whole; every fourth round unmaps the two halves in
 * two calls. Prints the rounds and the pages touched.
 */
#include "guest.h"

long wl_main(const struct wl_args *a)
{
	uint64_t n = a->iterations ? a->iterations : 500;
	uint64_t size = a->size ? a->size : 256 * 1024;
	uint64_t pages = size >> 12;
	if (pages < 2)
		pages = 2;
	uint64_t touched = 0;
	for (uint64_t r = 0; r < n; r++) {
		char *p = wl_mmap(pages << 12, 0);
		for (uint64_t i = 0; i < pages; i++, touched++)
			p[i << 12] = (char)r;
		if (r % 4 == 3) {
			uint64_t half = (pages / 2) << 12;
			wl_munmap(p, half);
			wl_munmap(p + half, (pages << 12) - half);
		} else {
			wl_munmap(p, pages << 12);
		}
	}
	wl_put_u64("mmap_churn.rounds", n);
	wl_put_u64("mmap_churn.pages_touched", touched);
	return 0;
}
