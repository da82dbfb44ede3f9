/*
 * Notes: linear probing with a 64-bit mixer (splitmix64 finaliser); load
 * factor kept at or below 1/2; deletion shifts the following cluster back so
 * no tombstones accumulate during long runs.
 */
#include "util/u64map.h"

#include <stdlib.h>

static inline size_t slot_of(uint64_t key, size_t cap)
{
	key ^= key >> 30;
	key *= UINT64_C(0xbf58476d1ce4e5b9);
	key ^= key >> 27;
	key *= UINT64_C(0x94d049bb133111eb);
	key ^= key >> 31;
	return (size_t)key & (cap - 1);
}

int u64map_init(struct u64map *m, size_t initial_cap)
{
	size_t cap = 16;
	while (cap < initial_cap)
		cap <<= 1;
	m->slots = malloc(cap * sizeof(*m->slots));
	if (!m->slots)
		return -1;
	for (size_t i = 0; i < cap; i++)
		m->slots[i].key = U64MAP_EMPTY;
	m->cap = cap;
	m->count = 0;
	return 0;
}

void u64map_free(struct u64map *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->count = 0;
}

uint64_t *u64map_get(const struct u64map *m, uint64_t key)
{
	size_t i = slot_of(key, m->cap);
	for (;;) {
		struct u64map_slot *s = &m->slots[i];
		if (s->key == key)
			return &s->val;
		if (s->key == U64MAP_EMPTY)
			return NULL;
		i = (i + 1) & (m->cap - 1);
	}
}

static int grow(struct u64map *m)
{
	struct u64map bigger;
	if (u64map_init(&bigger, m->cap * 2) < 0)
		return -1;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key != U64MAP_EMPTY)
			u64map_put(&bigger, m->slots[i].key, m->slots[i].val);
	free(m->slots);
	*m = bigger;
	return 0;
}

int u64map_put(struct u64map *m, uint64_t key, uint64_t val)
{
	if ((m->count + 1) * 2 > m->cap && grow(m) < 0)
		return -1;
	size_t i = slot_of(key, m->cap);
	for (;;) {
		struct u64map_slot *s = &m->slots[i];
		if (s->key == key) {
			s->val = val;
			return 0;
		}
		if (s->key == U64MAP_EMPTY) {
			s->key = key;
			s->val = val;
			m->count++;
			return 0;
		}
		i = (i + 1) & (m->cap - 1);
	}
}

bool u64map_remove(struct u64map *m, uint64_t key, uint64_t *old)
{
	size_t mask = m->cap - 1;
	size_t i = slot_of(key, m->cap);
	for (;;) {
		if (m->slots[i].key == U64MAP_EMPTY)
			return false;
		if (m->slots[i].key == key)
			break;
		i = (i + 1) & mask;
	}
	if (old)
		*old = m->slots[i].val;
	/* Backward-shift: move later members of the cluster into the hole. */
	size_t hole = i;
	size_t j = i;
	for (;;) {
		j = (j + 1) & mask;
		if (m->slots[j].key == U64MAP_EMPTY)
			break;
		size_t home = slot_of(m->slots[j].key, m->cap);
		/* Move j into the hole unless its home lies cyclically in (hole, j]. */
		bool stays = (hole <= j) ? (hole < home && home <= j) : (hole < home || home <= j);
		if (!stays) {
			m->slots[hole] = m->slots[j];
			hole = j;
		}
	}
	m->slots[hole].key = U64MAP_EMPTY;
	m->count--;
	return true;
}
