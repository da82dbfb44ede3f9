/*
 * Open-addressing hash map from 64-bit keys to 64-bit values (linear
 * probing, power-of-two capacity, backward-shift deletion). Used for sparse
 * memory pages and the guest kernel's bookkeeping. Key UINT64_MAX is
 * reserved as the empty marker.
 */
#ifndef VTSIM_UTIL_U64MAP_H
#define VTSIM_UTIL_U64MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define U64MAP_EMPTY UINT64_MAX

struct u64map_slot {
	uint64_t key;
	uint64_t val;
};

struct u64map {
	struct u64map_slot *slots;
	size_t cap;   /* slots, power of two */
	size_t count; /* keys present */
};

/* Returns 0, or -1 if memory runs out. */
int u64map_init(struct u64map *m, size_t initial_cap);
void u64map_free(struct u64map *m);
/* Pointer to the value for key, or NULL. Valid until the next insert/remove. */
uint64_t *u64map_get(const struct u64map *m, uint64_t key);
/* Insert or replace. Returns 0, or -1 if memory runs out. */
int u64map_put(struct u64map *m, uint64_t key, uint64_t val);
/* Remove key; returns true if it was present (its value into *old if non-NULL). */
bool u64map_remove(struct u64map *m, uint64_t key, uint64_t *old);

#endif
