/*
 * hash-lookup: an open-addressing hash table of 16-byte slots (key,
 * value) in workload.size bytes (0 = 4 MiB; the largest power of two of
 * slots that fits), filled half full, then workload.iterations lookups
 * (0 = 200000) of seeded pseudo-random keys, every other one present,
 * probing linearly. Key i is odd and a hash of i and workload.seed; an
 * absent key is even. Prints the slots, the lookups and the hits (exactly
 * half the lookups, rounded up).
 */
#include "guest.h"

struct slot {
	uint64_t key; /* 0 = empty */
	uint64_t val;
};

static uint64_t mix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	k ^= k >> 33;
	return k;
}

long wl_main(const struct wl_args *a)
{
	uint64_t size = a->size ? a->size : 4ull << 20;
	uint64_t iters = a->iterations ? a->iterations : 200000;
	uint64_t slots = 4;
	while (slots * 2 * sizeof(struct slot) <= size)
		slots *= 2;
	struct slot *t = wl_mmap(slots * sizeof(struct slot), 0);
	uint64_t mask = slots - 1, n = slots / 2, salt = a->seed * 0x9E3779B97F4A7C15ull;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t k = (mix(i + salt) << 1) | 1;
		uint64_t h = mix(k) & mask;
		while (t[h].key && t[h].key != k)
			h = (h + 1) & mask;
		t[h].key = k;
		t[h].val = i;
	}
	uint64_t hits = 0, q = a->seed | 1;
	for (uint64_t i = 0; i < iters; i++) {
		uint64_t r = wl_rand(&q);
		uint64_t k = (i & 1) ? (r << 1) | 2 : (mix(r % n + salt) << 1) | 1;
		uint64_t h = mix(k) & mask;
		while (t[h].key) {
			if (t[h].key == k) {
				hits++;
				break;
			}
			h = (h + 1) & mask;
		}
	}
	wl_put_u64("hash_lookup.slots", slots);
	wl_put_u64("hash_lookup.lookups", iters);
	wl_put_u64("hash_lookup.hits", hits);
	return 0;
}
