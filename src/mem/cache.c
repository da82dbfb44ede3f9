/*
 * Data-cache hierarchy model (see cache.h).
 *
 * Notes:
 *  - Inclusive fill: a line found at level k is filled into every level
 *    above k; evictions are not propagated (no back-invalidation), so the
 *    LLC may drop a line L1D still holds. Real Intel LLCs were inclusive up
 *    to Skylake client and are not on Sapphire Rapids; for "where is this
 *    page-table line" the difference is small and is not modelled.
 *  - True LRU per set, as in the TLB model; no prefetchers, no write-back
 *    traffic, no coherence, no other cores sharing the LLC.
 *  - Physically indexed and tagged by hpa >> 6; the set is line % sets
 *    (a mask when sets is a power of two). Real LLCs hash addresses across
 *    slices; not modelled.
 */
#include "mem/cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_ERR_LEN 256

static const char *const level_names[] = {"cache.l1d", "cache.l2", "cache.llc"};

static int array_init(struct cache_array *a, const char *name, uint64_t kib, uint64_t ways, char *err)
{
	uint64_t lines = kib * 1024 >> CACHE_LINE_SHIFT;

	memset(a, 0, sizeof(*a));
	if (ways == 0 || lines == 0 || lines % ways != 0) {
		snprintf(err, CACHE_ERR_LEN, "%s: %llu KiB is not a whole number of sets of %llu ways of 64-byte lines",
			 name, (unsigned long long)kib, (unsigned long long)ways);
		return -1;
	}
	a->sets = (unsigned)(lines / ways);
	a->ways = (unsigned)ways;
	a->set_mask = (a->sets & (a->sets - 1)) == 0 ? a->sets - 1 : 0;
	a->tag = calloc(lines, sizeof(*a->tag));
	a->stamp = calloc(lines, sizeof(*a->stamp));
	if (!a->tag || !a->stamp) {
		snprintf(err, CACHE_ERR_LEN, "%s: out of memory for %llu lines", name, (unsigned long long)lines);
		return -1;
	}
	return 0;
}

int cache_init(struct cache_hier *h, const struct cache_config *cfg, char *err)
{
	memset(h, 0, sizeof(*h));
	for (int i = 0; i < 3; i++) {
		if (array_init(&h->lv[i], level_names[i], cfg->kib[i], cfg->ways[i], err) < 0) {
			cache_destroy(h);
			return -1;
		}
	}
	memcpy(h->cycles, cfg->cycles, sizeof(h->cycles));
	return 0;
}

void cache_destroy(struct cache_hier *h)
{
	for (int i = 0; i < 3; i++) {
		free(h->lv[i].tag);
		free(h->lv[i].stamp);
	}
	memset(h, 0, sizeof(*h));
}

static inline size_t set_base(const struct cache_array *a, uint64_t line)
{
	uint64_t set = a->set_mask ? (line & a->set_mask) : line % a->sets;
	return (size_t)set * a->ways;
}

/* Look line up in a; on a hit stamp it and return true. */
static bool array_lookup(struct cache_array *a, uint64_t line)
{
	uint64_t key = line + 1;
	if (a->mru_line == key)
		return true; /* already the most recently used line of its set */
	size_t b = set_base(a, line);
	for (unsigned w = 0; w < a->ways; w++) {
		if (a->tag[b + w] == key) {
			a->stamp[b + w] = ++a->clock;
			a->mru_line = key;
			return true;
		}
	}
	return false;
}

/* Fill line into a, replacing an invalid way or the LRU one. */
static void array_fill(struct cache_array *a, uint64_t line)
{
	size_t b = set_base(a, line);
	size_t victim = b;
	for (unsigned w = 0; w < a->ways; w++) {
		if (a->tag[b + w] == 0) {
			victim = b + w;
			break;
		}
		if (a->stamp[b + w] < a->stamp[victim])
			victim = b + w;
	}
	a->tag[victim] = line + 1;
	a->stamp[victim] = ++a->clock;
	a->mru_line = line + 1;
}

enum cache_level cache_access(struct cache_hier *h, uint64_t hpa, enum cache_level from)
{
	uint64_t line = hpa >> CACHE_LINE_SHIFT;
	int k;
	for (k = (int)from; k < 3; k++)
		if (array_lookup(&h->lv[k], line))
			break;
	for (int i = (int)from; i < k; i++)
		array_fill(&h->lv[i], line);
	return (enum cache_level)k;
}

void cache_fill_page(struct cache_hier *h, uint64_t hpa)
{
	uint64_t base = hpa & ~UINT64_C(4095);
	for (uint64_t off = 0; off < 4096; off += UINT64_C(1) << CACHE_LINE_SHIFT)
		cache_access(h, base + off, CACHE_L1D);
}

void cache_flush(struct cache_hier *h)
{
	for (int i = 0; i < 3; i++) {
		struct cache_array *a = &h->lv[i];
		memset(a->tag, 0, (size_t)a->sets * a->ways * sizeof(*a->tag));
		memset(a->stamp, 0, (size_t)a->sets * a->ways * sizeof(*a->stamp));
		a->clock = 0;
		a->mru_line = 0;
	}
}
