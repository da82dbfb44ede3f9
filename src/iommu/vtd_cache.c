/*
 * Notes: the set-associative arrays behind the context cache, the IOTLB,
 * the second-level paging-structure caches and the interrupt-entry cache.
 * True LRU within a set; the set is key mod sets (sets a power of two).
 * The IOTLB is one array for every page size (FAR App. B, cpu-parameters.md
 * §5: "single IOTLB for all mapping types"): an entry of a 2 MiB page is
 * indexed by IOVA >> 21, so a lookup probes each size's set.
 */
#include "iommu/iommu.h"

#include <stdio.h>
#include <stdlib.h>

int vtd_cache_init(struct vtd_cache *c, const char *name, unsigned entries, unsigned ways, char *err)
{
	c->name = name;
	c->sets = c->ways = 0;
	c->e = NULL;
	c->clock = 0;
	if (entries == 0)
		return 0;
	if (ways == 0 || ways > entries || entries % ways) {
		snprintf(err, IOMMU_ERR_LEN, "%s: %u entries is not a multiple of %u ways", name, entries, ways);
		return -1;
	}
	unsigned sets = entries / ways;
	if (sets & (sets - 1)) {
		snprintf(err, IOMMU_ERR_LEN, "%s: %u entries / %u ways = %u sets, not a power of two", name, entries, ways,
			 sets);
		return -1;
	}
	c->e = calloc(entries, sizeof(*c->e));
	if (!c->e) {
		snprintf(err, IOMMU_ERR_LEN, "%s: out of memory", name);
		return -1;
	}
	c->sets = sets;
	c->ways = ways;
	return 0;
}

void vtd_cache_destroy(struct vtd_cache *c)
{
	free(c->e);
	c->e = NULL;
	c->sets = 0;
}

static struct vtd_centry *set_of(struct vtd_cache *c, uint64_t key)
{
	return &c->e[(size_t)(key & (c->sets - 1)) * c->ways];
}

struct vtd_centry *vtd_cache_lookup(struct vtd_cache *c, uint64_t key, uint8_t shift, bool match_did, uint16_t did)
{
	if (!c->sets)
		return NULL;
	struct vtd_centry *s = set_of(c, key);
	for (unsigned w = 0; w < c->ways; w++) {
		struct vtd_centry *e = &s[w];
		if (e->valid && e->key == key && e->shift == shift && (!match_did || e->did == did)) {
			e->lru = ++c->clock;
			return e;
		}
	}
	return NULL;
}

void vtd_cache_insert(struct vtd_cache *c, const struct vtd_centry *ent)
{
	if (!c->sets)
		return;
	struct vtd_centry *s = set_of(c, ent->key), *victim = NULL;
	for (unsigned w = 0; w < c->ways; w++) {
		struct vtd_centry *e = &s[w];
		if (e->valid && e->key == ent->key && e->shift == ent->shift && e->did == ent->did) {
			victim = e;
			break;
		}
		if (!e->valid) {
			if (!victim || victim->valid)
				victim = e;
		} else if (!victim || (victim->valid && e->lru < victim->lru))
			victim = e;
	}
	*victim = *ent;
	victim->valid = true;
	victim->lru = ++c->clock;
}

unsigned vtd_cache_occupancy(const struct vtd_cache *c)
{
	unsigned n = 0;
	for (size_t i = 0; i < (size_t)c->sets * c->ways; i++)
		n += c->e[i].valid;
	return n;
}
