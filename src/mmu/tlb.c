/*
 * TLB model: set-associative arrays with true LRU (see tlb.h).
 *
 * Notes:
 *  - Replacement is true LRU: every hit and every fill stamps the entry with
 *    a per-array 64-bit clock, and the victim is the valid way with the
 *    smallest stamp (an invalid way is always taken first). Real TLBs use
 *    pseudo-LRU or something undocumented; true LRU is the usual model and
 *    gives hand-checkable eviction orders.
 *  - The set index is the low bits of the VPN (vpn & (sets - 1)); real
 *    STLBs may hash more bits in. No index hashing is modelled.
 *  - An array holds one page size (t->page_shift: 12, 21 or 30), as real
 *    cores keep separate arrays per page size (e.g. Skylake's 4-entry 1 GiB
 *    DTLB), or two (page_shift2: a shared STLB holding 4 KiB and 2 MiB
 *    entries); vpn = la >> the entry's page_shift, and the set is
 *    vpn & (sets - 1) for either size (how a shared STLB really indexes its
 *    2 MiB entries is not published). tlb_insert() accepts only entries of
 *    the array's sizes. A CPU looks its arrays up side by side.
 *  - At most one entry of a size can match a lookup. tlb_insert() enforces
 *    this by dropping every entry of the set that would overlap the new one
 *    (same size and page, VPID and EP4TA, and the same PCID or either entry
 *    global). The SDM lets the CPU use either translation when a page is
 *    global under one PCID and not under another, and invalidating more
 *    than required is always allowed, so this is architecturally legal. In
 *    a shared array a 4 KiB and a 2 MiB entry may both cover la (the guest
 *    changed a page's size without invalidating): the 4 KiB one is used,
 *    which the SDM allows ("either translation").
 *  - Fragments (entries smaller than their linear page, la_shift >
 *    page_shift) make the per-address invalidations scan the whole array
 *    once the array ever held one (t->fragments), since a fragment of the
 *    page may sit in any set.
 *  - ep4ta == 0 marks a linear (non-EPT) mapping. INVEPT never removes such
 *    entries, even tlb_flush_ep4ta(t, 0); an EPT PML4 table at host-physical
 *    address 0 is therefore not supported.
 *  - The same arrays serve as paging-structure caches (src/mmu/walk.h,
 *    struct walk_caches): page_shift 39 / 30 / 21 keys an array by
 *    la[47:39] / la[47:30] / la[47:21], and pfn then holds the next table's
 *    address >> 12 rather than a frame of page_shift size.
 *  - Not modelled: protection keys, memory types, and timing (the caller
 *    charges latencies).
 */
#include "mmu/tlb.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/*
 * VPID and PCID packed into one word so a lookup compares both with one
 * XOR. The VPID is in the low half, so a global entry, which matches any
 * PCID, is compared under the mask 0x0000ffff.
 */
static inline uint32_t ctx_key(uint16_t vpid, uint16_t pcid)
{
	return (uint32_t)vpid | (uint32_t)pcid << 16;
}

/* Size of the caller's error buffer (tlb.h). */
#define TLB_ERR_LEN 256

int tlb_init(struct tlb *t, const char *name, unsigned entries, unsigned ways, char *err)
{
	return tlb_init_sized(t, name, entries, ways, 12, err);
}

int tlb_init_shared(struct tlb *t, const char *name, unsigned entries, unsigned ways, unsigned page_shift,
		    unsigned page_shift2, char *err)
{
	if (tlb_init_sized(t, name, entries, ways, page_shift, err) < 0)
		return -1;
	if (page_shift2 <= page_shift || (page_shift2 != 21 && page_shift2 != 30)) {
		if (err)
			snprintf(err, TLB_ERR_LEN, "%s TLB: second page size 2^%u is not 2 MiB or 1 GiB above 2^%u",
				 t->name, page_shift2, page_shift);
		tlb_destroy(t);
		return -1;
	}
	t->page_shift2 = (uint8_t)page_shift2;
	return 0;
}

int tlb_init_sized(struct tlb *t, const char *name, unsigned entries, unsigned ways, unsigned page_shift,
		   char *err)
{
	unsigned sets;

	memset(t, 0, sizeof(*t));
	if (page_shift != 12 && page_shift != 21 && page_shift != 30 && page_shift != 39) {
		if (err)
			snprintf(err, TLB_ERR_LEN, "%s TLB: page size 2^%u is not 4 KiB, 2 MiB, 1 GiB or 512 GiB",
				 name ? name : "?", page_shift);
		return -1;
	}
	t->page_shift = (uint8_t)page_shift;
	if (!name)
		name = "?";
	if (entries == 0 || ways == 0) {
		if (err)
			snprintf(err, TLB_ERR_LEN, "%s TLB: %u entries / %u ways: both must be non-zero",
				 name, entries, ways);
		return -1;
	}
	sets = entries / ways;
	if (entries % ways != 0 || (sets & (sets - 1)) != 0) {
		if (err)
			snprintf(err, TLB_ERR_LEN,
				 "%s TLB: %u entries / %u ways is not a power-of-two number of sets",
				 name, entries, ways);
		return -1;
	}
	t->e = calloc(entries, sizeof(*t->e));
	if (!t->e) {
		if (err)
			snprintf(err, TLB_ERR_LEN, "%s TLB: cannot allocate %u entries", name, entries);
		return -1;
	}
	t->name = name;
	t->sets = sets;
	t->ways = ways;
	t->clock = 0;
	return 0;
}

void tlb_destroy(struct tlb *t)
{
	free(t->e);
	t->e = NULL;
	t->sets = 0;
	t->ways = 0;
}

static inline struct tlb_entry *set_of(const struct tlb *t, uint64_t vpn)
{
	return t->e + (size_t)(vpn & (t->sets - 1)) * t->ways;
}

/*
 * Hot path. Ways are scanned in order and the scan stops at the first match
 * (at most one entry can match, see Notes). The VPN is compared first, on
 * its own: most ways differ there, so a way costs a load, a compare and a
 * branch that only mispredicts at the hit. When the VPN matches, the rest of
 * the tag is tested without branches: EP4TA and the packed VPID/PCID word
 * are XORed and ORed with the invalid bit into one word that is zero only on
 * a match; a global entry shifts the VPID/PCID mask down to the VPID half.
 * A throwaway timing loop measured this at about 1.5-2.5x faster than testing
 * every way in full with a conditional move (branch-free scan).
 */
static inline bool entry_matches(const struct tlb_entry *e, uint64_t vpn, uint8_t shift, uint64_t ep4ta,
				  uint32_t key)
{
	uint32_t mask = UINT32_MAX >> (16 * (unsigned)e->global);
	uint64_t diff = (e->vpn ^ vpn) | (e->ctx.ep4ta ^ ep4ta) | (uint64_t)(e->page_shift ^ shift) |
			((ctx_key(e->ctx.vpid, e->ctx.pcid) ^ key) & mask) | (uint64_t)!e->valid;
	return diff == 0;
}

/* Look la up among the entries of one page size. */
static struct tlb_entry *lookup_size(struct tlb *t, uint8_t shift, uint64_t ep4ta, uint32_t key, uint64_t la)
{
	const uint64_t vpn = la >> shift;
	struct tlb_entry *set = set_of(t, vpn);
	const unsigned ways = t->ways;
	for (unsigned w = 0; w < ways; w++) {
		struct tlb_entry *e = &set[w];
		if (e->vpn != vpn)
			continue;
		if (entry_matches(e, vpn, shift, ep4ta, key)) {
			e->lru = ++t->clock;
			t->mru = e;
			return e;
		}
	}
	return NULL;
}

struct tlb_entry *tlb_lookup(struct tlb *t, const struct tlb_ctx *ctx, uint64_t la)
{
	const uint64_t ep4ta = ctx->ep4ta;
	const uint32_t key = ctx_key(ctx->vpid, ctx->pcid);

	/* The most recently used entry of the array is the most recent of its
	 * set: hitting it again leaves the LRU order as it is, so its stamp
	 * need not move. (Any insert or other hit replaces t->mru.) Only an
	 * entry of the array's first size is taken here, so that in a shared
	 * array a 4 KiB entry is still preferred over a 2 MiB one. */
	struct tlb_entry *m = t->mru;
	if (m && m->vpn == la >> t->page_shift && entry_matches(m, la >> t->page_shift, t->page_shift, ep4ta, key))
		return m;

	struct tlb_entry *e = lookup_size(t, t->page_shift, ep4ta, key, la);
	if (!e && t->page_shift2)
		e = lookup_size(t, t->page_shift2, ep4ta, key, la);
	return e;
}

/* Would a lookup for one of these entries be able to hit the other? */
static bool overlaps(const struct tlb_entry *a, const struct tlb_entry *b)
{
	return a->valid && a->vpn == b->vpn && a->page_shift == b->page_shift && a->ctx.vpid == b->ctx.vpid &&
	       a->ctx.ep4ta == b->ctx.ep4ta &&
	       (a->ctx.pcid == b->ctx.pcid || a->global || b->global);
}

void tlb_insert(struct tlb *t, const struct tlb_entry *ent)
{
	struct tlb_entry *set = set_of(t, ent->vpn);
	struct tlb_entry *victim = NULL;
	struct tlb_entry *lru = &set[0];

	assert(ent->page_shift == t->page_shift || (t->page_shift2 && ent->page_shift == t->page_shift2));
	if (ent->la_shift > ent->page_shift)
		t->fragments = true;
	for (unsigned w = 0; w < t->ways; w++) {
		struct tlb_entry *e = &set[w];

		if (overlaps(e, ent)) {
			/* Reuse the first overlapping way, drop the others. */
			if (victim)
				e->valid = false;
			else
				victim = e;
		} else if (!e->valid) {
			/* Prefer the lowest invalid way over any valid one. */
			if (lru->valid)
				lru = e;
		} else if (lru->valid && e->lru < lru->lru) {
			lru = e;
		}
	}
	if (!victim)
		victim = lru;
	*victim = *ent;
	victim->valid = true;
	victim->lru = ++t->clock;
	t->mru = victim;
}

/*
 * Invalidation is rare next to lookups, so the whole-array operations are
 * plain scans; the per-address ones scan only the page's set for each size
 * the array holds, or the whole array once it held a fragment (see Notes).
 * Each calls a predicate on every entry whose linear page contains la.
 */

/* Does entry e's linear page (la_shift, or its own size) contain la? */
static inline bool covers(const struct tlb_entry *e, uint64_t la)
{
	unsigned ls = e->la_shift > e->page_shift ? e->la_shift : e->page_shift;
	return e->valid && ((e->vpn << e->page_shift) >> ls) == (la >> ls);
}

enum addr_op { OP_INVLPG, OP_PCID_ADDR, OP_VPID_ADDR };

static void flush_addr(struct tlb *t, enum addr_op op, uint16_t vpid, uint16_t pcid, uint64_t la)
{
	struct tlb_entry *from[2], *to[2];
	int nranges = 0;
	if (t->fragments) {
		from[nranges] = t->e;
		to[nranges++] = t->e + (size_t)t->sets * t->ways;
	} else {
		from[nranges] = set_of(t, la >> t->page_shift);
		to[nranges] = from[nranges] + t->ways;
		nranges++;
		if (t->page_shift2) {
			from[nranges] = set_of(t, la >> t->page_shift2);
			to[nranges] = from[nranges] + t->ways;
			nranges++;
		}
	}
	for (int r = 0; r < nranges; r++) {
		for (struct tlb_entry *e = from[r]; e < to[r]; e++) {
			if (!covers(e, la) || e->ctx.vpid != vpid)
				continue;
			switch (op) {
			case OP_INVLPG:
				if (e->ctx.pcid == pcid || e->global)
					e->valid = false;
				break;
			case OP_PCID_ADDR:
				if (e->ctx.pcid == pcid && !e->global)
					e->valid = false;
				break;
			case OP_VPID_ADDR:
				e->valid = false;
				break;
			}
		}
	}
}

void tlb_invlpg(struct tlb *t, uint16_t vpid, uint16_t pcid, uint64_t la)
{
	flush_addr(t, OP_INVLPG, vpid, pcid, la);
}

void tlb_flush_pcid_addr(struct tlb *t, uint16_t vpid, uint16_t pcid, uint64_t la)
{
	flush_addr(t, OP_PCID_ADDR, vpid, pcid, la);
}

void tlb_flush_pcid_nonglobal(struct tlb *t, uint16_t vpid, uint16_t pcid)
{
	const size_t n = (size_t)t->sets * t->ways;

	for (size_t i = 0; i < n; i++) {
		struct tlb_entry *e = &t->e[i];

		if (e->ctx.vpid == vpid && e->ctx.pcid == pcid && !e->global)
			e->valid = false;
	}
}

void tlb_flush_vpid(struct tlb *t, uint16_t vpid)
{
	const size_t n = (size_t)t->sets * t->ways;

	for (size_t i = 0; i < n; i++)
		if (t->e[i].ctx.vpid == vpid)
			t->e[i].valid = false;
}

void tlb_flush_vpid_nonglobal(struct tlb *t, uint16_t vpid)
{
	const size_t n = (size_t)t->sets * t->ways;

	for (size_t i = 0; i < n; i++)
		if (t->e[i].ctx.vpid == vpid && !t->e[i].global)
			t->e[i].valid = false;
}

void tlb_flush_vpid_addr(struct tlb *t, uint16_t vpid, uint64_t la)
{
	flush_addr(t, OP_VPID_ADDR, vpid, 0, la);
}

void tlb_flush_all_vpids_but_0(struct tlb *t)
{
	const size_t n = (size_t)t->sets * t->ways;

	for (size_t i = 0; i < n; i++)
		if (t->e[i].ctx.vpid != 0)
			t->e[i].valid = false;
}

void tlb_flush_ep4ta(struct tlb *t, uint64_t ep4ta)
{
	const size_t n = (size_t)t->sets * t->ways;

	/* ep4ta == 0 tags linear mappings, which INVEPT does not touch. */
	if (ep4ta == 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (t->e[i].ctx.ep4ta == ep4ta)
			t->e[i].valid = false;
}

void tlb_flush_all_combined(struct tlb *t)
{
	const size_t n = (size_t)t->sets * t->ways;

	for (size_t i = 0; i < n; i++)
		if (t->e[i].ctx.ep4ta != 0)
			t->e[i].valid = false;
}

void tlb_flush_all(struct tlb *t)
{
	const size_t n = (size_t)t->sets * t->ways;

	for (size_t i = 0; i < n; i++)
		t->e[i].valid = false;
}

unsigned tlb_occupancy(const struct tlb *t)
{
	const size_t n = (size_t)t->sets * t->ways;
	unsigned count = 0;

	for (size_t i = 0; i < n; i++)
		count += t->e[i].valid;
	return count;
}
