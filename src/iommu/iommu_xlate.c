/*
 * Notes: DMA-request translation (reference sheet §7.4-§7.6, §7.9), legacy
 * mode. One request:
 *   1. GSTS.TES = 0: the address passes untranslated.
 *   2. Context: the context cache (tagged by source-id; only present,
 *      well-formed entries are cached: CAP.CM = 0) or the root entry at
 *      RTA + 16 bus and the context entry at CTP + 16 devfn, each one
 *      memory reference. Checks in order: root table reachable (0x8),
 *      root P (0x1), root reserved bits (0xA), context table reachable
 *      (0x9), context P (0x2), context reserved bits (0xB), context
 *      programming: TT = 11, TT = 01 without ECAP.DT, TT = 10 without
 *      ECAP.PT, AW not in CAP.SAGAW (0x3).
 *   3. Request type: a translation request or translated request under
 *      TT = 00 is blocked (0xD); TT = 10 passes the address through.
 *   4. Address width: IOVA at or above 2^min(AGAW, MGAW) (0x4).
 *   5. IOTLB (tagged by domain-id, one array for 4 KiB, 2 MiB and 1 GiB
 *      pages as CAP.SLLPS allows), then the second-level paging-structure
 *      caches (SL-PDE, SL-PDPE, SL-PML4E entries, tagged by domain-id,
 *      deepest first), then the walk from the level they leave: one memory
 *      reference per entry; an entry outside memory (0x7), not present
 *      (R = W = 0: 0x5 for a write, 0x6 for a read), reserved bits (0xC),
 *      permission (0x5 / 0x6, rights ANDed over the levels); PS = 1 in an
 *      SL-PDE / SL-PDPE is a 2 MiB / 1 GiB leaf.
 * Reserved bits of a second-level entry follow QEMU (§9 item 8): bits
 * 51:HAW, bit 62 (TM) without ECAP.DT, bit 11 in non-leaves (and in leaves
 * without ECAP.SC), bit 7 in SL-PML4E/PML5E or where CAP.SLLPS lacks the
 * size, bits 20:12 / 29:12 of a 2 MiB / 1 GiB leaf. Bits 6:2 are ignored.
 * "Error accessing" a table means its address is at or above the host
 * memory the unit reaches (cfg.mem_limit): a master abort on real
 * hardware. A device-TLB (TT = 01) is not modelled: the part lacks
 * ECAP.DT, so TT = 01 is invalid programming.
 */
#include "iommu/iommu.h"

static bool reachable(const struct iommu *u, uint64_t addr, unsigned bytes)
{
	return addr < u->cfg.mem_limit && u->cfg.mem_limit - addr >= bytes && (addr >> u->cfg.haw) == 0;
}

static void add_ref(struct vtd_xlate *x, enum vtd_ref_kind kind, unsigned level, uint64_t addr, uint64_t lo,
		    uint64_t hi)
{
	if (x->nrefs < VTD_MAX_REFS)
		x->ref[x->nrefs] = (struct vtd_ref){kind, level, addr, lo, hi};
	x->nrefs++;
}

static uint64_t above_haw(const struct iommu *u)
{
	return VTD_GENMASK(51, u->cfg.haw);
}

/* Reserved bits of a present second-level entry at level (1 = SL-PTE). */
static uint64_t sl_reserved(const struct iommu *u, uint64_t e, unsigned level)
{
	const unsigned sllps = VTD_CAP_SLLPS(u->cfg.cap);
	uint64_t rsvd = above_haw(u);
	if (!(u->cfg.ecap & VTD_ECAP_DT))
		rsvd |= VTD_SL_TM;
	bool ps = level > 1 && (e & VTD_SL_PS);
	bool leaf = level == 1 || ps;
	if (!leaf || !(u->cfg.ecap & VTD_ECAP_SC))
		rsvd |= VTD_SL_SNP;
	if (level >= 4 || (level == 3 && !(sllps & 2)) || (level == 2 && !(sllps & 1)))
		rsvd |= VTD_SL_PS;
	else if (ps)
		rsvd |= VTD_GENMASK(12 + 9 * (level - 1) - 1, 12);
	return e & rsvd;
}

static const enum counter_id fault_ctr[VTD_FR_MAX] = {
	[VTD_FR_ROOT_NOT_PRESENT] = CTR_IOMMU_FAULT_ROOT_NOT_PRESENT,
	[VTD_FR_CONTEXT_NOT_PRESENT] = CTR_IOMMU_FAULT_CONTEXT_NOT_PRESENT,
	[VTD_FR_CONTEXT_INVALID] = CTR_IOMMU_FAULT_CONTEXT_INVALID,
	[VTD_FR_ADDR_BEYOND_AW] = CTR_IOMMU_FAULT_ADDRESS_WIDTH,
	[VTD_FR_WRITE] = CTR_IOMMU_FAULT_WRITE,
	[VTD_FR_READ] = CTR_IOMMU_FAULT_READ,
	[VTD_FR_SL_ACCESS] = CTR_IOMMU_FAULT_SL_ACCESS,
	[VTD_FR_ROOT_ACCESS] = CTR_IOMMU_FAULT_ROOT_ACCESS,
	[VTD_FR_CONTEXT_ACCESS] = CTR_IOMMU_FAULT_CONTEXT_ACCESS,
	[VTD_FR_ROOT_RESERVED] = CTR_IOMMU_FAULT_ROOT_RESERVED,
	[VTD_FR_CONTEXT_RESERVED] = CTR_IOMMU_FAULT_CONTEXT_RESERVED,
	[VTD_FR_SL_RESERVED] = CTR_IOMMU_FAULT_SL_RESERVED,
	[VTD_FR_TRANSLATION_BLOCKED] = CTR_IOMMU_FAULT_TRANSLATION_BLOCKED,
	[VTD_FR_IR_REQUEST_RESERVED] = CTR_IOMMU_FAULT_IR_REQUEST_RESERVED,
	[VTD_FR_IR_INDEX] = CTR_IOMMU_FAULT_IR_INDEX,
	[VTD_FR_IR_NOT_PRESENT] = CTR_IOMMU_FAULT_IR_NOT_PRESENT,
	[VTD_FR_IR_TABLE_ACCESS] = CTR_IOMMU_FAULT_IR_TABLE_ACCESS,
	[VTD_FR_IR_RESERVED] = CTR_IOMMU_FAULT_IR_RESERVED,
	[VTD_FR_IR_COMPAT_BLOCKED] = CTR_IOMMU_FAULT_IR_COMPAT_BLOCKED,
	[VTD_FR_IR_SID] = CTR_IOMMU_FAULT_IR_SID,
	[VTD_FR_IR_PID_ACCESS] = CTR_IOMMU_FAULT_IR_PID_ACCESS,
};

void iommu_count_fault(struct iommu *u, unsigned reason)
{
	if (reason < VTD_FR_MAX && fault_ctr[reason])
		ctr_inc(u->ctr, fault_ctr[reason]);
}

/* The context entry for sid: from the context cache or the tables. Returns
 * VTD_FR_NONE with *lo and *hi, or the fault; *fpd_valid tells whether the
 * entry's FPD governs the fault. */
static enum vtd_fault_reason context_of(struct iommu *u, uint16_t sid, struct vtd_xlate *x, uint64_t *lo, uint64_t *hi,
					bool *fpd_valid)
{
	struct vtd_centry *ce = vtd_cache_lookup(&u->cc, sid, 0, false, 0);
	if (ce) {
		x->cc_hit = true;
		ctr_inc(u->ctr, CTR_IOMMU_CONTEXT_CACHE_HIT);
		*lo = ce->v0;
		*hi = ce->v1;
		*fpd_valid = true;
		return VTD_FR_NONE;
	}
	ctr_inc(u->ctr, CTR_IOMMU_CONTEXT_CACHE_MISS);
	uint64_t ra = u->rta + 16 * VTD_SID_BUS(sid);
	if (!reachable(u, ra, 16))
		return VTD_FR_ROOT_ACCESS;
	uint64_t rlo = mem_read64(u->mem, ra), rhi = mem_read64(u->mem, ra + 8);
	add_ref(x, VTD_REF_ROOT, 0, ra, rlo, rhi);
	if (!(rlo & VTD_ROOT_P))
		return VTD_FR_ROOT_NOT_PRESENT;
	if ((rlo & (VTD_ROOT_LO_RSVD | above_haw(u) | VTD_GENMASK(63, 52))) || rhi)
		return VTD_FR_ROOT_RESERVED;
	uint64_t ca = (rlo & VTD_GENMASK(63, 12)) + 16 * VTD_SID_DEVFN(sid);
	if (!reachable(u, ca, 16))
		return VTD_FR_CONTEXT_ACCESS;
	*lo = mem_read64(u->mem, ca);
	*hi = mem_read64(u->mem, ca + 8);
	add_ref(x, VTD_REF_CONTEXT, 0, ca, *lo, *hi);
	if (!(*lo & VTD_CTX_P))
		return VTD_FR_CONTEXT_NOT_PRESENT;
	if ((*lo & (VTD_CTX_LO_RSVD | above_haw(u) | VTD_GENMASK(63, 52))) || (*hi & VTD_CTX_HI_RSVD))
		return VTD_FR_CONTEXT_RESERVED;
	*fpd_valid = true;
	unsigned tt = (unsigned)((*lo & VTD_CTX_TT_MASK) >> VTD_CTX_TT_SHIFT);
	unsigned aw = (unsigned)(*hi & VTD_CTX_HI_AW_MASK);
	if (tt == VTD_CTX_TT_RESERVED || (tt == VTD_CTX_TT_DEVTLB && !(u->cfg.ecap & VTD_ECAP_DT)) ||
	    (tt == VTD_CTX_TT_PASSTHROUGH && !(u->cfg.ecap & VTD_ECAP_PT)) ||
	    (tt != VTD_CTX_TT_PASSTHROUGH && !(VTD_CAP_SAGAW(u->cfg.cap) & (1u << aw))))
		return VTD_FR_CONTEXT_INVALID;
	struct vtd_centry ne = {.key = sid, .v0 = *lo, .v1 = *hi,
				.did = (uint16_t)((*hi >> VTD_CTX_HI_DID_SHIFT) & ((1u << u->did_bits) - 1))};
	vtd_cache_insert(&u->cc, &ne);
	return VTD_FR_NONE;
}

/* PTcache index of the entries of level L (4 SL-PML4E, 3 SL-PDPE, 2 SL-PDE). */
static struct vtd_cache *ptc_of(struct iommu *u, unsigned level)
{
	return &u->ptc[4 - level];
}

static unsigned level_shift(unsigned level)
{
	return 12 + 9 * (level - 1);
}

static enum vtd_fault_reason walk(struct iommu *u, const struct vtd_request *rq, uint64_t slptptr, unsigned levels,
				  struct vtd_xlate *x)
{
	uint64_t table = slptptr;
	uint8_t perm = VTD_SL_RW;
	unsigned level = levels;
	for (unsigned l = 2; l <= 4 && l <= levels; l++) {
		struct vtd_centry *e = vtd_cache_lookup(ptc_of(u, l), rq->iova >> level_shift(l), (uint8_t)l, true, x->did);
		if (e) {
			table = e->v0;
			perm = e->perm;
			level = l - 1;
			x->ptc_hit_level = l;
			break;
		}
	}
	ctr_inc(u->ctr, x->ptc_hit_level ? CTR_IOMMU_PTCACHE_HIT : CTR_IOMMU_PTCACHE_MISS);
	ctr_inc(u->ctr, CTR_IOMMU_WALKS);
	for (;; level--) {
		uint64_t ea = table + 8 * ((rq->iova >> level_shift(level)) & 511);
		if (!reachable(u, ea, 8))
			return VTD_FR_SL_ACCESS;
		uint64_t e = mem_read64(u->mem, ea);
		add_ref(x, VTD_REF_SL, level, ea, e, 0);
		if (!(e & VTD_SL_RW))
			return rq->write ? VTD_FR_WRITE : VTD_FR_READ;
		if (sl_reserved(u, e, level))
			return VTD_FR_SL_RESERVED;
		perm &= (uint8_t)(e & VTD_SL_RW);
		if (rq->write && !(perm & VTD_SL_W))
			return VTD_FR_WRITE;
		if (!rq->write && !(perm & VTD_SL_R))
			return VTD_FR_READ;
		if (level == 1 || (e & VTD_SL_PS)) {
			unsigned shift = level_shift(level);
			uint64_t page = (e & VTD_SL_ADDR_MASK) & ~((UINT64_C(1) << shift) - 1);
			x->page_shift = shift;
			x->perm = perm;
			x->hpa = page | (rq->iova & ((UINT64_C(1) << shift) - 1));
			struct vtd_centry te = {.key = rq->iova >> shift, .v0 = page, .did = x->did, .shift = (uint8_t)shift,
						.perm = perm};
			vtd_cache_insert(&u->iotlb, &te);
			return VTD_FR_NONE;
		}
		table = e & VTD_SL_ADDR_MASK;
		if (level >= 2 && level <= 4) {
			struct vtd_centry pe = {.key = rq->iova >> level_shift(level), .v0 = table, .did = x->did,
						.shift = (uint8_t)level, .perm = perm};
			vtd_cache_insert(ptc_of(u, level), &pe);
		}
	}
}

enum vtd_fault_reason iommu_translate(struct iommu *u, const struct vtd_request *rq, struct vtd_xlate *x)
{
	*x = (struct vtd_xlate){.page_shift = 12};
	ctr_inc(u->ctr, CTR_IOMMU_REQUESTS);
	if (!(iommu_reg_get(u, VTD_REG_GSTS, 4) & VTD_GCMD_TE)) {
		x->translation_off = true;
		x->hpa = rq->iova;
		x->perm = VTD_SL_RW;
		return VTD_FR_NONE;
	}
	uint64_t lo = 0, hi = 0;
	bool fpd_valid = false;
	enum vtd_fault_reason f = context_of(u, rq->sid, x, &lo, &hi, &fpd_valid);
	if (f == VTD_FR_NONE) {
		unsigned tt = (unsigned)((lo & VTD_CTX_TT_MASK) >> VTD_CTX_TT_SHIFT);
		unsigned aw = (unsigned)(hi & VTD_CTX_HI_AW_MASK);
		x->did = (uint16_t)((hi >> VTD_CTX_HI_DID_SHIFT) & ((1u << u->did_bits) - 1));
		if (rq->at != VTD_AT_UNTRANSLATED && tt == VTD_CTX_TT_UNTRANSLATED) {
			f = VTD_FR_TRANSLATION_BLOCKED;
		} else if (tt == VTD_CTX_TT_PASSTHROUGH || rq->at == VTD_AT_TRANSLATED) {
			x->passthrough = tt == VTD_CTX_TT_PASSTHROUGH;
			x->hpa = rq->iova;
			x->perm = VTD_SL_RW;
		} else {
			unsigned width = vtd_aw_bits(aw);
			if (VTD_CAP_MGAW(u->cfg.cap) < width)
				width = VTD_CAP_MGAW(u->cfg.cap);
			x->levels = vtd_aw_levels(aw);
			if (rq->iova >> width) {
				f = VTD_FR_ADDR_BEYOND_AW;
			} else {
				const unsigned sllps = VTD_CAP_SLLPS(u->cfg.cap);
				x->iotlb_looked = true;
				static const uint8_t shifts[3] = {12, 21, 30};
				for (int i = 0; i < 3 && !x->iotlb_hit; i++) {
					if ((i == 1 && !(sllps & 1)) || (i == 2 && !(sllps & 2)))
						continue;
					struct vtd_centry *e =
						vtd_cache_lookup(&u->iotlb, rq->iova >> shifts[i], shifts[i], true, x->did);
					if (e) {
						x->iotlb_hit = true;
						x->page_shift = shifts[i];
						x->perm = e->perm;
						x->hpa = e->v0 | (rq->iova & ((UINT64_C(1) << shifts[i]) - 1));
					}
				}
				if (x->iotlb_hit) {
					ctr_inc(u->ctr, CTR_IOMMU_IOTLB_HIT);
					if (rq->write && !(x->perm & VTD_SL_W))
						f = VTD_FR_WRITE;
					else if (!rq->write && !(x->perm & VTD_SL_R))
						f = VTD_FR_READ;
				} else {
					ctr_inc(u->ctr, CTR_IOMMU_IOTLB_MISS);
					f = walk(u, rq, lo & VTD_GENMASK(63, 12), x->levels, x);
				}
			}
		}
	}
	unsigned nrefs = x->nrefs;
	x->cycles = nrefs * u->cfg.mem_read_cycles;
	ctr_add(u->ctr, CTR_IOMMU_WALK_REFS, nrefs);
	ctr_add(u->ctr, CTR_IOMMU_CYCLES, x->cycles);
	if (x->nrefs > VTD_MAX_REFS)
		x->nrefs = VTD_MAX_REFS;
	x->fault = f;
	if (f != VTD_FR_NONE) {
		x->hpa = 0;
		iommu_count_fault(u, f);
		x->disp = iommu_record_fault(u, rq->sid, rq->iova, f, !rq->write, fpd_valid && (lo & VTD_CTX_FPD),
					     &x->frcd_index);
	}
	return f;
}
