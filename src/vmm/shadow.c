/*
 * Notes: the shadow MMU, after KVM's (arch/x86/kvm/mmu: FNAME(walk_addr),
 * FNAME(fetch), mmu_pte_write, kvm_mmu_get_page, the unsync machinery).
 *  - Memory slots: guest-physical memory is backed by host memory on first
 *    use (zeroed), as KVM backs a memslot: 4 KiB frames, or with
 *    vmm.backing=2m|1g one contiguous host block per aligned 2 MiB / 1 GiB
 *    guest-physical range (the largest that lies inside guest memory).
 *  - A shadow page exists per (guest table frame, level) and per (guest
 *    large page region, level) for the "direct" pages that split a guest
 *    2 MiB / 1 GiB page (the guest's direct map, THP pages) into smaller
 *    shadow leaves (KVM's direct shadow pages for a large guest PTE).
 *  - Shadow leaves map the smaller of the guest page and the host backing
 *    of its range (vmm.backing), as KVM's host_pfn_mapping_level: a guest
 *    2 MiB page over a 2 MiB or 1 GiB host block is one 2 MiB shadow PDE
 *    (PS = 1), over 4 KiB frames a direct PT of 4 KiB leaves. A range that
 *    holds a shadowed (write-protected) guest page table gets no large
 *    leaf (KVM's disallow_lpage); shadowing a table later zaps any large
 *    leaf over it, and the next fault maps 4 KiB there. Large leaves have
 *    their own reverse maps (by level and range).
 *  - Non-leaf shadow entries are P|RW|US|A; a leaf holds the guest's
 *    combined rights (AND of R/W and U/S, OR of XD over the guest walk), G,
 *    and is read-only while its frame is a shadowed guest page table (and
 *    not unsync), or while the guest leaf's D flag is 0 (KVM's dirty-bit
 *    emulation: the first write faults and sets D in the guest PTE).
 *  - The VMM sets the guest's A flags (and D on writes) itself, since the
 *    processor walks the shadow tables, not the guest's.
 *  - A store to a write-protected page table is emulated (the value is the
 *    guest's RAX); the shadow entries that mirror the guest entry are
 *    updated: a last-level one is rebuilt from the new PTE (prefetched, so
 *    the next access needs no exit), higher ones are zapped and refilled by
 *    the next hidden fault. Shadow pages carry the rights of the guest
 *    entries above them (KVM's role.access) so a PTE can be shadowed alone.
 *  - Unsync pages are resynchronised by zapping their present entries
 *    (refilled on demand), where KVM rebuilds each from its guest PTE. A page clear (REP
 *    STOSQ) of a shadowed frame means the guest reuses it: its shadow pages
 *    are zapped and the frame is unprotected (KVM's write-flooding rule).
 *  - After write-protecting a frame or zapping a present entry, the VMM
 *    flushes the guest's translations: INVVPID single-context with VPID,
 *    nothing without it (every VM entry flushes then).
 *  - Left out: guest reserved-bit checks (the guest model writes none),
 *    PCID-tagged roots, prefetching neighbour entries,
 *    and KVM's MMU-page limit (shadow pages live until zapped).
 */
#include "vmm/shadow.h"
#include "vmm/vio.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "arch/paging.h"
#include "cpu/vmx.h"
#include "vmm/vmm.h"

#define NONLEAF_SPTE (PTE_P | PTE_RW | PTE_US | PTE_A)
#define FRAME_MASK PHYS_ADDR_MASK

/* Shadow pages are keyed like KVM's (gfn, role): level, direct, access. */
static inline uint64_t sp_key(uint64_t gfn, int level, bool direct, unsigned access)
{
	return (gfn << 8) | ((uint64_t)access << 4) | ((uint64_t)level << 1) | (direct ? 1 : 0);
}

static struct cpu *cpu_of(const struct shadow_mmu *s)
{
	return s->vmm->cpu;
}

static int oom(struct shadow_mmu *s)
{
	return cpu_fail(cpu_of(s), "out of memory in the shadow MMU");
}

int shadow_init(struct shadow_mmu *s, struct vmm *vmm)
{
	memset(s, 0, sizeof(*s));
	s->vmm = vmm;
	if (u64map_init(&s->memslot, 4096) < 0 || u64map_init(&s->memslot_rev, 4096) < 0 ||
	    u64map_init(&s->by_key, 256) < 0 ||
	    u64map_init(&s->by_hpa, 256) < 0 || u64map_init(&s->protect, 256) < 0 || u64map_init(&s->rmap, 4096) < 0)
		return oom(s);
	for (int i = 0; i < 2; i++)
		if (u64map_init(&s->memslot_large[i], 64) < 0 || u64map_init(&s->memslot_large_rev[i], 64) < 0)
			return oom(s);
	return 0;
}

void shadow_destroy(struct shadow_mmu *s)
{
	for (size_t i = 0; i < s->nsp; i++)
		u64vec_free(&s->sp[i].parents);
	for (size_t i = 0; i < s->nrmaps; i++)
		u64vec_free(&s->rmaps[i]);
	free(s->sp);
	free(s->rmaps);
	u64vec_free(&s->free_slots);
	u64map_free(&s->memslot);
	u64map_free(&s->memslot_rev);
	for (int i = 0; i < 2; i++) {
		u64map_free(&s->memslot_large[i]);
		u64map_free(&s->memslot_large_rev[i]);
	}
	u64map_free(&s->by_key);
	u64map_free(&s->by_hpa);
	u64map_free(&s->protect);
	u64map_free(&s->rmap);
}

/* ---- guest memory as the VMM sees it ------------------------------------ */

/* The host frame backing gfn: 1 with *hfn set, or 0 if gfn is not backed. */
static int slot_hfn(const struct shadow_mmu *s, uint64_t gfn, uint64_t *hfn)
{
	const uint64_t *v = u64map_get(&s->memslot, gfn);
	if (v) {
		*hfn = *v;
		return 1;
	}
	for (int i = 0; i < 2; i++) {
		unsigned bits = PT_INDEX_BITS * (unsigned)(i + 1); /* frames per range: 2^bits */
		v = u64map_get(&s->memslot_large[i], gfn >> bits);
		if (v) {
			*hfn = (*v << bits) | (gfn & ((UINT64_C(1) << bits) - 1));
			return 1;
		}
	}
	return 0;
}

/* The guest frame a host frame backs: 1 with *gfn set, or 0 if none. */
static int slot_gfn(const struct shadow_mmu *s, uint64_t hfn, uint64_t *gfn)
{
	const uint64_t *v = u64map_get(&s->memslot_rev, hfn);
	if (v) {
		*gfn = *v;
		return 1;
	}
	for (int i = 0; i < 2; i++) {
		unsigned bits = PT_INDEX_BITS * (unsigned)(i + 1);
		v = u64map_get(&s->memslot_large_rev[i], hfn >> bits);
		if (v) {
			*gfn = (*v << bits) | (hfn & ((UINT64_C(1) << bits) - 1));
			return 1;
		}
	}
	return 0;
}

/* log2 of the bytes of the host memory backing gfn as one block: 12, 21
 * or 30; 0 if gfn is not backed. */
static unsigned slot_shift(const struct shadow_mmu *s, uint64_t gfn)
{
	if (u64map_get(&s->memslot, gfn))
		return PAGE_SHIFT;
	for (int i = 0; i < 2; i++)
		if (u64map_get(&s->memslot_large[i], gfn >> (PT_INDEX_BITS * (unsigned)(i + 1))))
			return PAGE_SHIFT + PT_INDEX_BITS * (unsigned)(i + 1);
	return 0;
}

/* Back gfn (not backed yet) as shadow_gpa_to_hpa() says. 0 or -1. */
static int back_gfn(struct shadow_mmu *s, uint64_t gfn)
{
	static const enum counter_id count[] = {CTR_VMM_BACKED_2M, CTR_VMM_BACKED_1G};
	const uint64_t guest_frames = s->vmm->guest_mem_bytes >> PAGE_SHIFT;
	for (int i = (int)s->vmm->p->vmm_backing - 1; i >= 0; i--) {
		unsigned bits = PT_INDEX_BITS * (unsigned)(i + 1);
		uint64_t range = gfn >> bits;
		if (((range + 1) << bits) > guest_frames)
			continue; /* the range is not wholly inside guest memory */
		uint64_t block;
		if (vmm_host_block(s->vmm, bits, &block) < 0)
			return -1;
		ctr_inc(s->vmm->ctr, count[i]);
		if (u64map_put(&s->memslot_large[i], range, block >> (PAGE_SHIFT + bits)) < 0 ||
		    u64map_put(&s->memslot_large_rev[i], block >> (PAGE_SHIFT + bits), range) < 0)
			return oom(s);
		return s->vmm->vio ? vio_backed(s->vmm->vio, range << (PAGE_SHIFT + bits), block,
					       UINT64_C(1) << (PAGE_SHIFT + bits))
				   : 0;
	}
	uint64_t frame;
	if (vmm_host_frame(s->vmm, &frame) < 0)
		return -1;
	ctr_inc(s->vmm->ctr, CTR_VMM_EPT_BACKED_PAGES);
	if (u64map_put(&s->memslot, gfn, frame >> PAGE_SHIFT) < 0 ||
	    u64map_put(&s->memslot_rev, frame >> PAGE_SHIFT, gfn) < 0)
		return oom(s);
	return s->vmm->vio ? vio_backed(s->vmm->vio, gfn << PAGE_SHIFT, frame, PAGE_SIZE) : 0;
}

int shadow_gpa_to_hpa(struct shadow_mmu *s, uint64_t gpa, uint64_t *hpa)
{
	uint64_t gfn = gpa >> PAGE_SHIFT;
	uint64_t hfn;
	if (!slot_hfn(s, gfn, &hfn)) {
		if (s->vmm->vio && vio_owns_gpa(s->vmm->vio, gpa) && vio_shadow_hpa(s->vmm->vio, gpa, hpa))
			return 0; /* an assigned device's page */
		if (gpa >= s->vmm->guest_mem_bytes)
			return cpu_fail(cpu_of(s), "guest-physical address 0x%" PRIx64 " beyond the guest's %" PRIu64
						   " MiB of memory", gpa, s->vmm->p->guest_mem_mib);
		if (back_gfn(s, gfn) < 0)
			return -1;
		slot_hfn(s, gfn, &hfn);
	}
	*hpa = (hfn << PAGE_SHIFT) | (gpa & (PAGE_SIZE - 1));
	return 0;
}

static int gread(struct shadow_mmu *s, uint64_t gpa, uint64_t *val)
{
	uint64_t hpa;
	if (shadow_gpa_to_hpa(s, gpa, &hpa) < 0)
		return -1;
	ctr_inc(s->vmm->ctr, CTR_VMM_SHADOW_GUEST_READS);
	*val = vmx_root_read64(cpu_of(s), hpa);
	return 0;
}

static int gwrite(struct shadow_mmu *s, uint64_t gpa, uint64_t val)
{
	uint64_t hpa;
	if (shadow_gpa_to_hpa(s, gpa, &hpa) < 0)
		return -1;
	return vmx_root_write64(cpu_of(s), hpa, val);
}

static int spte_write(struct shadow_mmu *s, uint64_t addr, uint64_t val)
{
	ctr_inc(s->vmm->ctr, CTR_VMM_SHADOW_ENTRY_WRITES);
	return vmx_root_write64(cpu_of(s), addr, val);
}

/* The guest's translations after a change to the shadow tables. */
static void flush_guest_tlb(struct shadow_mmu *s)
{
	if (s->vmm->p->vmx_vpid) {
		vmx_invvpid(cpu_of(s), 1, VMM_GUEST_VPID, 0);
		ctr_inc(s->vmm->ctr, CTR_VMM_INVVPID);
	}
}

/* ---- shadow pages -------------------------------------------------------- */

static int sync_page(struct shadow_mmu *s, struct shadow_page *sp);

static struct shadow_page *sp_by_hpa(struct shadow_mmu *s, uint64_t hpa)
{
	uint64_t *i = u64map_get(&s->by_hpa, hpa >> PAGE_SHIFT);
	return i ? &s->sp[*i] : NULL;
}

static struct shadow_page *sp_find(struct shadow_mmu *s, uint64_t gfn, int level, bool direct, unsigned access)
{
	uint64_t *i = u64map_get(&s->by_key, sp_key(gfn, level, direct, access));
	return i ? &s->sp[*i] : NULL;
}

/* Any indirect shadow page of gfn at level, whatever its access (next one
 * after *acc; start with *acc = 0). */
static struct shadow_page *sp_find_any(struct shadow_mmu *s, uint64_t gfn, int level, unsigned *acc)
{
	for (; *acc < 8; (*acc)++) {
		struct shadow_page *sp = sp_find(s, gfn, level, false, *acc);
		if (sp) {
			(*acc)++;
			return sp;
		}
	}
	return NULL;
}

static struct u64vec *rmap_of(struct shadow_mmu *s, uint64_t gfn, bool create)
{
	uint64_t *i = u64map_get(&s->rmap, gfn);
	if (i)
		return &s->rmaps[*i];
	if (!create)
		return NULL;
	if (s->nrmaps == s->caprmaps) {
		size_t cap = s->caprmaps ? s->caprmaps * 2 : 1024;
		struct u64vec *bigger = realloc(s->rmaps, cap * sizeof(*bigger));
		if (!bigger)
			return NULL;
		s->rmaps = bigger;
		s->caprmaps = cap;
	}
	if (u64map_put(&s->rmap, gfn, s->nrmaps) < 0)
		return NULL;
	s->rmaps[s->nrmaps] = (struct u64vec){NULL, 0, 0};
	return &s->rmaps[s->nrmaps++];
}

static bool gfn_write_protected(struct shadow_mmu *s, uint64_t gfn)
{
	uint64_t *n = u64map_get(&s->protect, gfn);
	if (!n || !*n)
		return false;
	/* An unsync last-level page table stays writable until the next sync. */
	unsigned acc = 0;
	struct shadow_page *pt = sp_find_any(s, gfn, 1, &acc);
	return !(pt && pt->unsync && *n == 1);
}

/* 4 KiB frames in a page of the given level (1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB). */
static inline uint64_t level_frames(int level)
{
	return UINT64_C(1) << (PT_INDEX_BITS * (unsigned)(level - 1));
}

/* Reverse-map key of the large leaves of level that map gfn's range
 * (above every gfn key). */
static inline uint64_t large_rmap_key(int level, uint64_t gfn)
{
	return ((uint64_t)level << 56) | (gfn / level_frames(level));
}

/* Does [gfn, gfn + n) hold a shadowed guest page table (unsync ones too)? */
static bool range_protected(const struct shadow_mmu *s, uint64_t gfn, uint64_t n)
{
	if (s->protect.count < n) {
		for (size_t i = 0; i < s->protect.cap; i++) {
			uint64_t k = s->protect.slots[i].key;
			if (k != U64MAP_EMPTY && k >= gfn && k < gfn + n && s->protect.slots[i].val)
				return true;
		}
		return false;
	}
	for (uint64_t g = gfn; g < gfn + n; g++) {
		const uint64_t *c = u64map_get(&s->protect, g);
		if (c && *c)
			return true;
	}
	return false;
}

/* Zap the large leaves over gfn (a page table of the guest is shadowed in
 * their range now). Returns 1 if one was present, 0 if none. */
static int zap_large_over(struct shadow_mmu *s, uint64_t gfn)
{
	int changed = 0;
	for (int level = 2; level <= 3; level++) {
		struct u64vec *rm = rmap_of(s, large_rmap_key(level, gfn), false);
		uint64_t base = gfn & ~(level_frames(level) - 1), hfn;
		if (!rm || !slot_hfn(s, base, &hfn))
			continue;
		for (size_t i = 0; i < rm->n; i++) {
			uint64_t spte = vmx_root_read64(cpu_of(s), rm->v[i]);
			if ((spte & PTE_P) && (spte & PTE_PS) && ((spte & FRAME_MASK) >> PAGE_SHIFT) == hfn) {
				if (spte_write(s, rm->v[i], 0) < 0)
					return -1;
				changed = 1;
			}
		}
		rm->n = 0;
	}
	return changed;
}

/* Clear R/W in every shadow leaf that maps gfn (KVM's rmap write-protect).
 * Returns 1 if any was writable, 0 if none, -1 on error. */
static int write_protect_gfn(struct shadow_mmu *s, uint64_t gfn)
{
	int changed = zap_large_over(s, gfn);
	if (changed < 0)
		return -1;
	struct u64vec *rm = rmap_of(s, gfn, false);
	uint64_t hfn;
	if (!rm || !slot_hfn(s, gfn, &hfn))
		return changed;
	size_t keep = 0;
	for (size_t i = 0; i < rm->n; i++) {
		uint64_t spte = vmx_root_read64(cpu_of(s), rm->v[i]);
		if (!(spte & PTE_P) || ((spte & FRAME_MASK) >> PAGE_SHIFT) != hfn)
			continue; /* stale reverse mapping: drop it */
		rm->v[keep++] = rm->v[i];
		if (spte & PTE_RW) {
			if (spte_write(s, rm->v[i], spte & ~PTE_RW) < 0)
				return -1;
			changed = 1;
		}
	}
	rm->n = keep;
	return changed;
}

static int sp_slot(struct shadow_mmu *s, size_t *idx)
{
	if (s->free_slots.n) {
		*idx = s->free_slots.v[--s->free_slots.n];
		return 0;
	}
	if (s->nsp == s->capsp) {
		size_t cap = s->capsp ? s->capsp * 2 : 256;
		struct shadow_page *bigger = realloc(s->sp, cap * sizeof(*bigger));
		if (!bigger)
			return -1;
		s->sp = bigger;
		s->capsp = cap;
	}
	*idx = s->nsp++;
	s->sp[*idx].parents = (struct u64vec){NULL, 0, 0};
	return 0;
}

/* The shadow page for (gfn, level, direct, access), created if missing. */
static int sp_get(struct shadow_mmu *s, uint64_t gfn, int level, bool direct, unsigned access,
		  struct shadow_page **out)
{
	*out = sp_find(s, gfn, level, direct, access);
	if (*out)
		return 0;
	uint64_t hpa;
	size_t idx;
	if (vmm_host_frame(s->vmm, &hpa) < 0)
		return -1;
	if (sp_slot(s, &idx) < 0 || u64map_put(&s->by_key, sp_key(gfn, level, direct, access), idx) < 0 ||
	    u64map_put(&s->by_hpa, hpa >> PAGE_SHIFT, idx) < 0)
		return oom(s);
	struct shadow_page *sp = &s->sp[idx];
	sp->hpa = hpa;
	sp->gfn = gfn;
	sp->level = level;
	sp->access = (uint8_t)access;
	sp->direct = direct;
	sp->unsync = false;
	sp->live = true;
	sp->parents.n = 0;
	ctr_inc(s->vmm->ctr, CTR_VMM_SHADOW_PAGES);
	if (++s->live_pages > s->peak_pages)
		s->peak_pages = s->live_pages;
	s->vmm->ctr->v[CTR_VMM_SHADOW_PAGES_PEAK] = s->peak_pages;
	if (!direct) {
		/* A guest page table is now shadowed: write-protect its frame. An
		 * unsync last-level page of the same frame is resynchronised (and
		 * so protected) first: the frame may not stay writable under a
		 * second shadow page (KVM's kvm_mmu_get_page). */
		unsigned next = 0;
		struct shadow_page *other;
		while ((other = sp_find_any(s, gfn, 1, &next)))
			if (other != sp && other->unsync && sync_page(s, other) < 0)
				return -1;
		uint64_t *n = u64map_get(&s->protect, gfn);
		uint64_t count = n ? *n + 1 : 1;
		if (u64map_put(&s->protect, gfn, count) < 0)
			return oom(s);
		int changed = write_protect_gfn(s, gfn);
		if (changed < 0)
			return -1;
		if (changed)
			flush_guest_tlb(s);
	}
	*out = sp;
	return 0;
}

static bool is_root(const struct shadow_mmu *s, uint64_t hpa)
{
	for (unsigned i = 0; i < s->nroots; i++)
		if (s->roots[i].hpa == hpa)
			return true;
	return false;
}

static void vec_remove(struct u64vec *v, uint64_t x)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->v[i] == x) {
			v->v[i] = v->v[--v->n];
			return;
		}
}

static int sp_zap(struct shadow_mmu *s, struct shadow_page *sp);

/* Clear the non-leaf shadow entry at addr that points to child. Frees the
 * child once nothing points to it (and it is not a cached root). */
static int unlink_child(struct shadow_mmu *s, uint64_t addr, uint64_t spte)
{
	struct shadow_page *child = sp_by_hpa(s, spte & FRAME_MASK);
	if (!child)
		return 0;
	vec_remove(&child->parents, addr);
	if (!child->parents.n && !is_root(s, child->hpa))
		return sp_zap(s, child);
	return 0;
}

/* Remove a shadow page: clear the entries pointing to it, release its
 * children, free its frame, unprotect its guest frame. */
static int sp_zap(struct shadow_mmu *s, struct shadow_page *sp)
{
	struct cpu *cpu = cpu_of(s);
	for (size_t i = 0; i < sp->parents.n; i++) {
		uint64_t spte = vmx_root_read64(cpu, sp->parents.v[i]);
		if ((spte & PTE_P) && (spte & FRAME_MASK) == sp->hpa && spte_write(s, sp->parents.v[i], 0) < 0)
			return -1;
	}
	sp->parents.n = 0;
	sp->live = false;
	/* A zapped root leaves the roots cache; if it is in use, the VMM must
	 * load a fresh one before the next entry (KVM's obsolete roots). */
	for (unsigned i = 0; i < s->nroots;) {
		if (s->roots[i].hpa == sp->hpa)
			s->roots[i] = s->roots[--s->nroots];
		else
			i++;
	}
	if (sp->hpa == s->cur_root) {
		s->cur_root = 0;
		s->reload_root = true;
	}
	u64map_remove(&s->by_key, sp_key(sp->gfn, sp->level, sp->direct, sp->access), NULL);
	uint64_t idx;
	u64map_remove(&s->by_hpa, sp->hpa >> PAGE_SHIFT, &idx);
	for (unsigned i = 0; i < PT_ENTRIES; i++) {
		uint64_t addr = sp->hpa + 8 * i;
		uint64_t spte = vmx_root_read64(cpu, addr);
		if (!(spte & PTE_P))
			continue;
		if (sp->level > 1 && (spte & PTE_PS)) {
			/* A large leaf: its range's reverse map forgets it. */
			uint64_t gfn;
			struct u64vec *rm = slot_gfn(s, (spte & FRAME_MASK) >> PAGE_SHIFT, &gfn)
						    ? rmap_of(s, large_rmap_key(sp->level, gfn), false)
						    : NULL;
			if (rm)
				vec_remove(rm, addr);
		} else if (sp->level > 1) {
			if (unlink_child(s, addr, spte) < 0)
				return -1;
		} else {
			/* A leaf: its frame's reverse map must forget this address
			 * before the page's frame is reused for anything else. */
			uint64_t gfn;
			struct u64vec *rm = slot_gfn(s, (spte & FRAME_MASK) >> PAGE_SHIFT, &gfn) ? rmap_of(s, gfn, false)
												  : NULL;
			if (rm)
				vec_remove(rm, addr);
		}
	}
	if (!sp->direct) {
		uint64_t *n = u64map_get(&s->protect, sp->gfn);
		if (n && *n)
			(*n)--;
	}
	vmx_root_zero_page(cpu, sp->hpa);
	if (vmm_host_frame_put(s->vmm, sp->hpa) < 0 || u64vec_push(&s->free_slots, idx) < 0)
		return oom(s);
	ctr_inc(s->vmm->ctr, CTR_VMM_SHADOW_PAGES_ZAPPED);
	s->live_pages--;
	return 0;
}

/* ---- roots ---------------------------------------------------------------- */

int shadow_root_for(struct shadow_mmu *s, uint64_t cr3, uint64_t *root_hpa)
{
	cr3 &= PHYS_ADDR_MASK;
	for (unsigned i = 0; i < s->nroots; i++) {
		if (s->roots[i].guest_cr3 == cr3) {
			s->roots[i].stamp = ++s->clock;
			*root_hpa = s->roots[i].hpa;
			return 0;
		}
	}
	struct shadow_page *sp;
	if (sp_get(s, cr3 >> PAGE_SHIFT, s->levels, false, SP_ACC_ALL, &sp) < 0)
		return -1;
	ctr_inc(s->vmm->ctr, CTR_VMM_SHADOW_ROOTS_CREATED);
	unsigned slot = s->nroots;
	if (s->nroots == s->vmm->p->shadow_root_cache) {
		/* Replace the least recently used root; drop its tables if nothing
		 * else points to them. */
		slot = 0;
		for (unsigned i = 1; i < s->nroots; i++)
			if (s->roots[i].stamp < s->roots[slot].stamp)
				slot = i;
		uint64_t old = s->roots[slot].hpa;
		s->roots[slot].hpa = 0;
		struct shadow_page *osp = sp_by_hpa(s, old);
		if (osp && osp != sp && !osp->parents.n && sp_zap(s, osp) < 0)
			return -1;
	} else {
		s->nroots++;
	}
	s->roots[slot] = (struct shadow_root){cr3, sp->hpa, ++s->clock};
	*root_hpa = sp->hpa;
	return 0;
}

/* ---- the guest's own page walk, done by the VMM in software -------------- */

struct guest_walk {
	int leaf_level;
	uint64_t gpte[6];     /* [level] */
	uint64_t gpte_gpa[6]; /* [level] */
	uint64_t gfn;         /* the 4 KiB guest frame of la */
	bool user, writable, nx, global, dirty;
};

/* Walk the guest's tables for la as the access in pfec would; set the
 * guest's A (and D on a write) flags. Returns 0 (translation allowed),
 * 1 (a true guest fault, *guest_pfec filled) or -1. */
static int guest_walk(struct shadow_mmu *s, uint64_t la, uint32_t pfec, struct guest_walk *w, uint32_t *guest_pfec)
{
	const bool write = pfec & PFEC_WR, user = pfec & PFEC_US, fetch = pfec & PFEC_ID;
	uint64_t table = s->guest_cr3 & PHYS_ADDR_MASK;
	memset(w, 0, sizeof(*w));
	w->user = w->writable = true;
	*guest_pfec = pfec & (PFEC_WR | PFEC_US | PFEC_ID);
	int level;
	for (level = s->levels; level >= 1; level--) {
		uint64_t gpa = table + 8 * pt_index(la, level);
		uint64_t e;
		if (gread(s, gpa, &e) < 0)
			return -1;
		w->gpte[level] = e;
		w->gpte_gpa[level] = gpa;
		if (!(e & PTE_P))
			return 1; /* not present: error code bit 0 clear */
		w->writable &= !!(e & PTE_RW);
		w->user &= !!(e & PTE_US);
		w->nx |= !!(e & PTE_XD);
		if (level == 1 || ((level == 2 || level == 3) && (e & PTE_PS)))
			break;
		table = e & PHYS_ADDR_MASK;
	}
	w->leaf_level = level;
	uint64_t leaf = w->gpte[level];
	w->global = leaf & PTE_G;
	uint64_t span = (UINT64_C(1) << (PT_INDEX_BITS * (level - 1))) - 1; /* 4 KiB frames in the page - 1 */
	w->gfn = ((leaf & PHYS_ADDR_MASK) >> PAGE_SHIFT & ~span) | ((la >> PAGE_SHIFT) & span);
	bool denied = (user && !w->user) || (write && !w->writable && (user || (cpu_of(s)->cr0 & CR0_WP))) ||
		      (fetch && w->nx);
	if (denied) {
		*guest_pfec |= PFEC_P;
		return 1;
	}
	/* Accessed in every entry used, dirty in the leaf on a write. */
	for (int l = s->levels; l >= level; l--) {
		uint64_t set = PTE_A | (l == level && write ? PTE_D : 0);
		if ((w->gpte[l] & set) != set) {
			w->gpte[l] |= set;
			if (gwrite(s, w->gpte_gpa[l], w->gpte[l]) < 0)
				return -1;
		}
	}
	w->dirty = leaf & PTE_D || write;
	return 0;
}

/* ---- filling the shadow ---------------------------------------------------- */

/* Write the shadow leaf at addr mapping guest frame gfn with the combined
 * guest rights: read-only while gfn is a shadowed page table or the guest
 * leaf is not dirty. Records the reverse mapping. */
static int set_leaf(struct shadow_mmu *s, uint64_t addr, uint64_t gfn, unsigned access, bool dirty, bool global)
{
	uint64_t hpa;
	if (shadow_gpa_to_hpa(s, gfn << PAGE_SHIFT, &hpa) < 0)
		return -1;
	bool writable = (access & SP_ACC_WRITE) && dirty && !gfn_write_protected(s, gfn);
	uint64_t spte = (hpa & PHYS_ADDR_MASK) | PTE_P | PTE_A | (access & SP_ACC_USER ? PTE_US : 0) |
			(writable ? PTE_RW | PTE_D : 0) | (global ? PTE_G : 0) | (access & SP_ACC_NX ? PTE_XD : 0);
	struct u64vec *rm = rmap_of(s, gfn, true);
	if (!rm)
		return oom(s);
	bool known = false;
	for (size_t i = 0; i < rm->n && !known; i++)
		known = rm->v[i] == addr;
	if (!known && u64vec_push(rm, addr) < 0)
		return oom(s);
	return spte_write(s, addr, spte);
}

/* Write the large shadow leaf (PS = 1) at addr, a page of level 2 or 3,
 * mapping the guest page whose first frame is gfn (backed by one host
 * block at least that large, with no shadowed guest table in it): the
 * combined guest rights, read-only while the guest leaf is not dirty. */
static int set_large_leaf(struct shadow_mmu *s, uint64_t addr, int level, uint64_t gfn, unsigned access, bool dirty,
			  bool global)
{
	uint64_t hpa;
	if (shadow_gpa_to_hpa(s, gfn << PAGE_SHIFT, &hpa) < 0)
		return -1;
	bool writable = (access & SP_ACC_WRITE) && dirty;
	uint64_t spte = (hpa & PHYS_ADDR_MASK) | PTE_P | PTE_A | PTE_PS | (access & SP_ACC_USER ? PTE_US : 0) |
			(writable ? PTE_RW | PTE_D : 0) | (global ? PTE_G : 0) | (access & SP_ACC_NX ? PTE_XD : 0);
	struct u64vec *rm = rmap_of(s, large_rmap_key(level, gfn), true);
	if (!rm)
		return oom(s);
	bool known = false;
	for (size_t i = 0; i < rm->n && !known; i++)
		known = rm->v[i] == addr;
	if (!known && u64vec_push(rm, addr) < 0)
		return oom(s);
	ctr_inc(s->vmm->ctr, CTR_VMM_SHADOW_LARGE_LEAVES);
	return spte_write(s, addr, spte);
}

/* The level of the shadow leaf for w's guest page: the guest leaf's level,
 * lowered to the host backing's block size, and further while the range
 * holds a shadowed guest page table. 1-3, or -1 on error. */
static int leaf_level(struct shadow_mmu *s, const struct guest_walk *w)
{
	uint64_t hpa;
	if (w->leaf_level == 1 || s->vmm->p->vmm_backing == PAGE_SIZE_4K)
		return 1;
	if (shadow_gpa_to_hpa(s, w->gfn << PAGE_SHIFT, &hpa) < 0) /* back the range first */
		return -1;
	int level = ((int)slot_shift(s, w->gfn) - PAGE_SHIFT) / PT_INDEX_BITS + 1;
	if (level > w->leaf_level)
		level = w->leaf_level;
	while (level > 1 && range_protected(s, w->gfn & ~(level_frames(level) - 1), level_frames(level)))
		level--;
	return level;
}

/* Build the shadow path for la from the guest walk w (KVM's FNAME(fetch)). */
static int fill(struct shadow_mmu *s, uint64_t la, const struct guest_walk *w)
{
	struct cpu *cpu = cpu_of(s);
	struct shadow_page *sp = sp_by_hpa(s, s->cur_root);
	if (!sp)
		return cpu_fail(cpu, "shadow MMU: the current root 0x%" PRIx64 " has no shadow page", s->cur_root);
	unsigned access = SP_ACC_ALL; /* rights of the guest entries walked so far */
	unsigned leaf_access = (w->user ? SP_ACC_USER : 0) | (w->writable ? SP_ACC_WRITE : 0) | (w->nx ? SP_ACC_NX : 0);
	int target = leaf_level(s, w);
	if (target < 0)
		return -1;
	for (int level = s->levels; level >= 2; level--) {
		uint64_t addr = sp->hpa + 8 * pt_index(la, level);
		uint64_t spte = vmx_root_read64(cpu, addr);
		struct shadow_page *child;
		if (level >= w->leaf_level) {
			uint64_t g = w->gpte[level];
			access &= (g & PTE_US ? SP_ACC_USER : 0) | (g & PTE_RW ? SP_ACC_WRITE : 0) | SP_ACC_NX;
			access |= g & PTE_XD ? SP_ACC_NX : 0;
		}
		if (level == target) {
			if (!(spte & PTE_P) || (spte & PTE_PS))
				return set_large_leaf(s, addr, level, w->gfn & ~(level_frames(level) - 1), leaf_access,
						      w->dirty, w->global);
			target = 1; /* a table of smaller leaves hangs here already: fill it */
		}
		if ((spte & PTE_P) && (spte & PTE_PS)) {
			/* A large leaf where smaller ones are due now (a guest page
			 * table was shadowed in its range): replace it. */
			if (spte_write(s, addr, 0) < 0)
				return -1;
			spte = 0;
		}
		if (spte & PTE_P) {
			child = sp_by_hpa(s, spte & FRAME_MASK);
			if (!child)
				return cpu_fail(cpu, "shadow MMU: entry 0x%" PRIx64 " points to no shadow page", spte);
		} else {
			int cl = level - 1;
			int rc;
			uint64_t sp_hpa = sp->hpa; /* sp_get may move the page array */
			if (cl >= w->leaf_level) {
				rc = sp_get(s, (w->gpte[level] & PHYS_ADDR_MASK) >> PAGE_SHIFT, cl, false, access, &child);
			} else {
				uint64_t span = (UINT64_C(1) << (PT_INDEX_BITS * cl)) - 1;
				rc = sp_get(s, w->gfn & ~span, cl, true, access, &child);
			}
			if (rc < 0)
				return -1;
			sp = sp_by_hpa(s, sp_hpa);
			if (spte_write(s, addr, child->hpa | NONLEAF_SPTE) < 0 || u64vec_push(&child->parents, addr) < 0)
				return -1;
		}
		sp = child;
	}
	return set_leaf(s, sp->hpa + 8 * pt_index(la, 1), w->gfn, leaf_access, w->dirty, w->global);
}

/* After the guest's entry at gpa became gpte: update the shadow entries
 * that mirror it (KVM's mmu_pte_write): a last-level entry is rebuilt from
 * the new guest PTE ("prefetched"), higher-level entries are zapped and
 * refilled by the next hidden fault. Returns 1 if a present entry changed
 * (the guest's TLB must then be flushed), 0 if not, -1 on error. */
static int update_mirrors(struct shadow_mmu *s, uint64_t gpa, uint64_t gpte)
{
	struct cpu *cpu = cpu_of(s);
	uint64_t gfn = gpa >> PAGE_SHIFT;
	unsigned idx = (unsigned)((gpa & (PAGE_SIZE - 1)) >> 3);
	int changed = 0;
	for (int level = 1; level <= s->levels; level++) {
		unsigned acc = 0;
		struct shadow_page *sp;
		while ((sp = sp_find_any(s, gfn, level, &acc))) {
			uint64_t addr = sp->hpa + 8 * idx;
			uint64_t spte = vmx_root_read64(cpu, addr);
			changed |= !!(spte & PTE_P);
			if (level == 1 && (gpte & PTE_P) && (gpte & PTE_A)) {
				unsigned a = sp->access & ((gpte & PTE_US ? SP_ACC_USER : 0) |
							   (gpte & PTE_RW ? SP_ACC_WRITE : 0) | SP_ACC_NX);
				a |= gpte & PTE_XD ? SP_ACC_NX : 0;
				if (set_leaf(s, addr, (gpte & PHYS_ADDR_MASK) >> PAGE_SHIFT, a, gpte & PTE_D, gpte & PTE_G) < 0)
					return -1;
				continue;
			}
			if (!(spte & PTE_P))
				continue;
			if (spte_write(s, addr, 0) < 0)
				return -1;
			if (level > 1 && unlink_child(s, addr, spte) < 0)
				return -1;
		}
	}
	return changed;
}

/* Resynchronise an unsync last-level page with its guest table and
 * write-protect it again. */
static int sync_page(struct shadow_mmu *s, struct shadow_page *sp)
{
	for (unsigned i = 0; i < PT_ENTRIES; i++) {
		uint64_t addr = sp->hpa + 8 * i;
		if ((vmx_root_read64(cpu_of(s), addr) & PTE_P) && spte_write(s, addr, 0) < 0)
			return -1;
	}
	sp->unsync = false;
	ctr_inc(s->vmm->ctr, CTR_VMM_SHADOW_SYNCS);
	if (write_protect_gfn(s, sp->gfn) < 0)
		return -1;
	return 0;
}

static int sync_all(struct shadow_mmu *s)
{
	bool any = false;
	for (size_t i = 0; i < s->nsp; i++) {
		if (s->sp[i].live && s->sp[i].unsync) {
			if (sync_page(s, &s->sp[i]) < 0)
				return -1;
			any = true;
		}
	}
	if (any)
		flush_guest_tlb(s);
	return 0;
}

/* ---- exits ------------------------------------------------------------------ */

enum shadow_pf_result shadow_page_fault(struct shadow_mmu *s, uint64_t la, uint32_t pfec, uint32_t *guest_pfec)
{
	struct guest_walk w;
	int g = guest_walk(s, la, pfec, &w, guest_pfec);
	if (g < 0)
		return SHADOW_PF_ERROR;
	if (g > 0) {
		ctr_inc(s->vmm->ctr, CTR_VMM_SHADOW_GUEST_FAULTS);
		return SHADOW_PF_INJECT;
	}
	if ((pfec & PFEC_P) && (pfec & PFEC_WR) && gfn_write_protected(s, w.gfn)) {
		/* A write to a shadowed guest page table. */
		struct guest_insn insn;
		if (cpu_decode_at_rip(cpu_of(s), &insn) < 0) {
			cpu_fail(cpu_of(s), "shadow MMU: a write to guest page table 0x%" PRIx64
					    " that is not a guest-kernel store", w.gfn << PAGE_SHIFT);
			return SHADOW_PF_ERROR;
		}
		unsigned acc = 0;
		struct shadow_page *pt = sp_find_any(s, w.gfn, 1, &acc);
		uint64_t *n = u64map_get(&s->protect, w.gfn);
		if (insn.kind == INSN_REP_STOSQ) {
			/* The guest clears the frame to reuse it: stop shadowing it. */
			for (int level = 1; level <= s->levels; level++) {
				unsigned next = 0;
				struct shadow_page *sp;
				while ((sp = sp_find_any(s, w.gfn, level, &next)))
					if (sp_zap(s, sp) < 0)
						return SHADOW_PF_ERROR;
			}
			ctr_inc(s->vmm->ctr, CTR_VMM_SHADOW_UNSHADOWED);
			flush_guest_tlb(s);
			return fill(s, la, &w) < 0 ? SHADOW_PF_ERROR : SHADOW_PF_FIXED;
		}
		if (s->vmm->p->shadow_unsync && pt && n && *n == 1) {
			/* A last-level table only: let it go unsync and writable. */
			pt->unsync = true;
			ctr_inc(s->vmm->ctr, CTR_VMM_SHADOW_UNSYNCS);
			return fill(s, la, &w) < 0 ? SHADOW_PF_ERROR : SHADOW_PF_FIXED;
		}
		if (insn.kind != INSN_MOV_STORE_RAX || insn.bytes != 8) {
			cpu_fail(cpu_of(s), "shadow MMU: cannot emulate a %u-byte write to a guest page table", insn.bytes);
			return SHADOW_PF_ERROR;
		}
		uint64_t gpa = (w.gfn << PAGE_SHIFT) | (la & (PAGE_SIZE - 1) & ~UINT64_C(7));
		if (gwrite(s, gpa, cpu_of(s)->gpr[0]) < 0)
			return SHADOW_PF_ERROR;
		int z = update_mirrors(s, gpa, cpu_of(s)->gpr[0]);
		if (z < 0)
			return SHADOW_PF_ERROR;
		if (z)
			flush_guest_tlb(s);
		ctr_inc(s->vmm->ctr, CTR_VMM_SHADOW_WRITES_EMULATED);
		return SHADOW_PF_EMULATED;
	}
	uint64_t gpa = (w.gfn << PAGE_SHIFT) | (la & (PAGE_SIZE - 1));
	uint64_t dev_hpa;
	if (s->vmm->vio && vio_owns_gpa(s->vmm->vio, gpa) && !vio_shadow_hpa(s->vmm->vio, gpa, &dev_hpa)) {
		/* No shadow entry is ever made for an emulated device's page: each
		 * access faults and is emulated (KVM marks such sptes as MMIO). */
		s->mmio_gpa = gpa;
		return SHADOW_PF_MMIO;
	}
	ctr_inc(s->vmm->ctr, CTR_VMM_SHADOW_HIDDEN_FAULTS);
	return fill(s, la, &w) < 0 ? SHADOW_PF_ERROR : SHADOW_PF_FIXED;
}

int shadow_reload_root(struct shadow_mmu *s, uint64_t *root_hpa)
{
	if (!s->reload_root)
		return 0;
	s->reload_root = false;
	if (shadow_root_for(s, s->guest_cr3, root_hpa) < 0)
		return -1;
	s->cur_root = *root_hpa;
	flush_guest_tlb(s);
	return 1;
}

int shadow_invlpg(struct shadow_mmu *s, uint64_t la)
{
	struct cpu *cpu = cpu_of(s);
	ctr_inc(s->vmm->ctr, CTR_VMM_SHADOW_INVLPG);
	/* Find the shadow leaf for la and zap it (resynchronised on the next
	 * fault, unsync or not). */
	uint64_t table = s->cur_root;
	for (int level = s->levels; level >= 1; level--) {
		uint64_t addr = table + 8 * pt_index(la, level);
		uint64_t spte = vmx_root_read64(cpu, addr);
		if (!(spte & PTE_P))
			break;
		if (level == 1 || (spte & PTE_PS)) {
			/* the leaf, 4 KiB or large (its reverse map drops it when
			 * next used: the entry no longer matches) */
			if (spte_write(s, addr, 0) < 0)
				return -1;
			break;
		}
		table = spte & FRAME_MASK;
	}
	if (s->vmm->p->vmx_vpid) {
		vmx_invvpid(cpu, 0, VMM_GUEST_VPID, la);
		ctr_inc(s->vmm->ctr, CTR_VMM_INVVPID);
	}
	return 0;
}

int shadow_load_cr3(struct shadow_mmu *s, uint64_t cr3, uint64_t *root_hpa)
{
	ctr_inc(s->vmm->ctr, CTR_VMM_SHADOW_ROOT_SWITCHES);
	if (sync_all(s) < 0)
		return -1;
	s->guest_cr3 = cr3 & ~CR3_NOFLUSH;
	if (shadow_root_for(s, s->guest_cr3, root_hpa) < 0)
		return -1;
	s->cur_root = *root_hpa;
	/* The MOV to CR3 the VMM intercepted would have flushed the guest's
	 * non-global translations (PCIDE = 0). */
	if (s->vmm->p->vmx_vpid) {
		vmx_invvpid(cpu_of(s), 3, VMM_GUEST_VPID, 0);
		ctr_inc(s->vmm->ctr, CTR_VMM_INVVPID);
	}
	return 0;
}

int shadow_check(struct shadow_mmu *s, char *err, size_t len)
{
	struct cpu *cpu = cpu_of(s);
	for (unsigned i = 0; i < s->nroots; i++) {
		struct shadow_page *r = sp_by_hpa(s, s->roots[i].hpa);
		if (!r || !r->live || r->level != s->levels) {
			snprintf(err, len, "cached root %u (guest CR3 0x%" PRIx64 ") is not a live top-level shadow table", i,
				 s->roots[i].guest_cr3);
			return -1;
		}
	}
	/* Large leaves: over one naturally aligned host block at least as
	 * large, and never writable over a shadowed guest page table. */
	for (size_t i = 0; i < s->nsp; i++) {
		const struct shadow_page *sp = &s->sp[i];
		if (!sp->live || sp->level < 2)
			continue;
		for (unsigned e = 0; e < PT_ENTRIES; e++) {
			uint64_t spte = mem_read64(cpu->mem, sp->hpa + 8 * e);
			if (!(spte & PTE_P) || !(spte & PTE_PS))
				continue;
			uint64_t frames = level_frames(sp->level), gfn;
			uint64_t hfn = (spte & FRAME_MASK) >> PAGE_SHIFT;
			if (sp->level > 3 || (hfn & (frames - 1)) || !slot_gfn(s, hfn, &gfn) || (gfn & (frames - 1)) ||
			    slot_shift(s, gfn) < PAGE_SHIFT + PT_INDEX_BITS * (unsigned)(sp->level - 1)) {
				snprintf(err, len, "large shadow leaf 0x%" PRIx64 " (level %d) maps HPA 0x%" PRIx64
						   ", not one host block of its size", sp->hpa + 8 * e, sp->level, hfn << PAGE_SHIFT);
				return -1;
			}
			if ((spte & PTE_RW) && range_protected(s, gfn, frames)) {
				snprintf(err, len, "large shadow leaf 0x%" PRIx64 " maps a write-protected guest page table in "
						   "GPA 0x%" PRIx64 " + %" PRIu64 " KiB writable", sp->hpa + 8 * e,
					 gfn << PAGE_SHIFT, frames * 4);
				return -1;
			}
		}
	}
	for (size_t i = 0; i < s->nsp; i++) {
		const struct shadow_page *sp = &s->sp[i];
		if (!sp->live || sp->level != 1)
			continue;
		for (unsigned e = 0; e < PT_ENTRIES; e++) {
			uint64_t spte = mem_read64(cpu->mem, sp->hpa + 8 * e);
			if (!(spte & PTE_P) || !(spte & PTE_RW))
				continue;
			uint64_t gfn;
			if (slot_gfn(s, (spte & FRAME_MASK) >> PAGE_SHIFT, &gfn) && gfn_write_protected(s, gfn)) {
				snprintf(err, len, "shadow leaf 0x%" PRIx64 " maps write-protected guest page table 0x%" PRIx64
						   " writable", sp->hpa + 8 * e, gfn << PAGE_SHIFT);
				return -1;
			}
		}
	}
	return 0;
}
