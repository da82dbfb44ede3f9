/*
 * disk-read: random reads through the guest kernel's NVMe driver:
 * workload.iterations reads (0 = 100) of workload.size bytes (0 = 16 KiB;
 * a multiple of 512, at most 2 MiB) into one buffer (an mmap of size
 * bytes), each at a 4 KiB-aligned byte offset drawn from workload.seed
 * (xorshift) in the disk's first DISK_SPAN bytes; after each read, a load
 * of the first word of every 4 KiB page of the buffer. Device payloads are
 * not simulated, so the buffer reads as zeros. Prints the reads, the bytes
 * read and the sum of the 4 KiB block numbers read from. Without an NVMe
 * controller it prints disk_read.error=1 and exits with status 1.
 */
#include "guest.h"

#define DISK_SPAN (256ul << 20) /* bytes of the disk the offsets fall in */

long wl_main(const struct wl_args *a)
{
	uint64_t size = a->size ? a->size : 16384, n = a->iterations ? a->iterations : 100;
	uint64_t seed = a->seed ? a->seed : 1, blocks = 0, sum = 0;
	if (size % 512 || size > (2u << 20)) {
		wl_put_u64("disk_read.error", 2);
		return 2;
	}
	uint8_t *buf = wl_mmap(size, 0);
	if ((long)buf < 0) {
		wl_put_u64("disk_read.error", 3);
		return 3;
	}
	for (uint64_t i = 0; i < n; i++) {
		uint64_t block = wl_rand(&seed) % ((DISK_SPAN - size) / 4096);
		if (wl_blk_read(buf, size, block * 8) != (long)size) {
			wl_put_u64("disk_read.error", 1);
			return 1;
		}
		for (uint64_t off = 0; off < size; off += 4096)
			sum += *(volatile uint64_t *)(buf + off);
		blocks += block;
	}
	wl_put_u64("disk_read.reads", n);
	wl_put_u64("disk_read.bytes", n * size);
	wl_put_u64("disk_read.block_sum", blocks);
	wl_put_u64("disk_read.word_sum", sum);
	return 0;
}
