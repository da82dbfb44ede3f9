/*
 * Notes: invalidation of the unit's caches (reference sheet §7.7), shared
 * by the register-based form (CCMD, IVA/IOTLB registers) and queued
 * invalidation. Granularities:
 *   context cache: global; domain (DID); device (DID and SID, with FM
 *     ignoring SID bit 2, bits 2:1 or bits 2:0).
 *   IOTLB: global (and every paging-structure-cache entry); domain (DID:
 *     its IOTLB and paging-structure-cache entries); page-selective within
 *     a domain (DID, ADDR, AM: the 2^AM pages at ADDR; entries of any page
 *     size that overlap the range; with IH = 0 also the domain's
 *     paging-structure-cache entries whose region overlaps it, with IH = 1
 *     those are kept).
 *   interrupt-entry cache: global (G = 0), or the 2^IM entries from IIDX.
 * Queued invalidation: on an IQT write with QIES set the unit reads the
 * 128-bit descriptors from IQA base + 16 IQH up to IQT (each read one
 * memory reference), acting on each and advancing IQH (wrapping at the
 * queue's 2^(QS+8) entries). An invalid descriptor (unknown or unsupported
 * type, e.g. a device-TLB descriptor without ECAP.DT; reserved bits set;
 * granularity 0; PSI without CAP.PSI, with AM > CAP.MAMV or an unaligned
 * ADDR; IEC IM > ECAP.MHMV) sets FSTS.IQE, stops the queue with IQH at the
 * bad descriptor, and raises a fault event. A wait descriptor writes its
 * status data (SW), sets ICS.IWC and raises the completion event (IF).
 * Costs: iommu.inv_cycles per invalidation, iommu.inv_wait_cycles per wait
 * descriptor, counted in iommu.inv.cycles and u->inv_cycles (the last
 * register write's work, for the software waiting on it).
 */
#include "iommu/iommu.h"

static void charge(struct iommu *u, enum counter_id what, uint64_t cycles)
{
	ctr_inc(u->ctr, what);
	ctr_add(u->ctr, CTR_IOMMU_INV_CYCLES, cycles);
	u->inv_cycles += cycles;
}

void iommu_inv_context(struct iommu *u, unsigned gran, uint16_t did, uint16_t sid, unsigned fm)
{
	static const uint16_t fm_mask[4] = {0xffff, 0xfffb, 0xfff9, 0xfff8};
	charge(u, CTR_IOMMU_INV_CONTEXT, u->cfg.inv_cycles);
	struct vtd_cache *c = &u->cc;
	for (size_t i = 0; i < (size_t)c->sets * c->ways; i++) {
		struct vtd_centry *e = &c->e[i];
		if (!e->valid)
			continue;
		if (gran == VTD_INV_GLOBAL || (gran == VTD_INV_DOMAIN && e->did == did) ||
		    (gran == VTD_INV_DEVICE_OR_PAGE && e->did == did &&
		     ((uint16_t)e->key & fm_mask[fm & 3]) == (sid & fm_mask[fm & 3])))
			e->valid = false;
	}
}

/* Does [base, base + 2^shift) overlap [addr, addr + len)? */
static bool overlaps(uint64_t base, unsigned shift, uint64_t addr, uint64_t len)
{
	uint64_t end = base + (UINT64_C(1) << shift);
	return base < addr + len && addr < end;
}

void iommu_inv_iotlb(struct iommu *u, unsigned gran, uint16_t did, uint64_t addr, unsigned am, bool ih)
{
	charge(u, CTR_IOMMU_INV_IOTLB, u->cfg.inv_cycles);
	const uint64_t len = (UINT64_C(1) << am) << 12;
	for (size_t i = 0; i < (size_t)u->iotlb.sets * u->iotlb.ways; i++) {
		struct vtd_centry *e = &u->iotlb.e[i];
		if (!e->valid)
			continue;
		if (gran == VTD_INV_GLOBAL || (gran == VTD_INV_DOMAIN && e->did == did) ||
		    (gran == VTD_INV_DEVICE_OR_PAGE && e->did == did && overlaps(e->key << e->shift, e->shift, addr, len)))
			e->valid = false;
	}
	if (gran == VTD_INV_DEVICE_OR_PAGE && ih)
		return; /* only leaves changed: the paging-structure caches stay */
	for (int l = 0; l < 3; l++) {
		struct vtd_cache *c = &u->ptc[l];
		for (size_t i = 0; i < (size_t)c->sets * c->ways; i++) {
			struct vtd_centry *e = &c->e[i];
			if (!e->valid)
				continue;
			unsigned shift = 12 + 9 * ((unsigned)e->shift - 1); /* the region an entry of level L maps */
			if (gran == VTD_INV_GLOBAL || (gran == VTD_INV_DOMAIN && e->did == did) ||
			    (gran == VTD_INV_DEVICE_OR_PAGE && e->did == did && overlaps(e->key << shift, shift, addr, len)))
				e->valid = false;
		}
	}
}

void iommu_inv_iec(struct iommu *u, bool global, unsigned index, unsigned im)
{
	charge(u, CTR_IOMMU_INV_IEC, u->cfg.inv_cycles);
	const uint64_t first = index & ~((UINT64_C(1) << im) - 1), n = UINT64_C(1) << im;
	for (size_t i = 0; i < (size_t)u->iec.sets * u->iec.ways; i++) {
		struct vtd_centry *e = &u->iec.e[i];
		if (e->valid && (global || (e->key >= first && e->key < first + n)))
			e->valid = false;
	}
}

/* Act on one descriptor; false if it is invalid (IQE). */
static bool qi_one(struct iommu *u, uint64_t lo, uint64_t hi)
{
	const unsigned g = (unsigned)(lo >> VTD_QI_G_SHIFT) & 3;
	const uint16_t did = (uint16_t)(lo >> VTD_QI_DID_SHIFT);
	switch ((unsigned)(lo & VTD_QI_TYPE_MASK)) {
	case VTD_QI_CC:
		if ((lo & VTD_QI_CC_LO_RSVD) || hi || g == 0)
			return false;
		iommu_inv_context(u, g, did, (uint16_t)(lo >> VTD_QI_CC_SID_SHIFT), (unsigned)(lo >> VTD_QI_CC_FM_SHIFT) & 3);
		return true;
	case VTD_QI_IOTLB: {
		unsigned am = (unsigned)(hi & VTD_QI_IOTLB_AM_MASK);
		uint64_t addr = hi & VTD_GENMASK(63, 12);
		if ((lo & VTD_QI_IOTLB_LO_RSVD) || (hi & VTD_QI_IOTLB_HI_RSVD) || g == 0)
			return false;
		if (g == VTD_INV_DEVICE_OR_PAGE &&
		    (!(u->cfg.cap & VTD_CAP_PSI) || am > VTD_CAP_MAMV(u->cfg.cap) || (addr & ((VTD_BIT(am) << 12) - 1))))
			return false;
		iommu_inv_iotlb(u, g, did, addr, am, (hi & VTD_QI_IOTLB_IH) != 0);
		return true;
	}
	case VTD_QI_IEC: {
		unsigned im = (unsigned)(lo >> VTD_QI_IEC_IM_SHIFT) & 0x1f;
		if ((lo & VTD_QI_IEC_LO_RSVD) || hi || !(u->cfg.ecap & VTD_ECAP_IR) ||
		    ((lo & VTD_QI_IEC_G) && im > VTD_ECAP_MHMV(u->cfg.ecap)))
			return false;
		iommu_inv_iec(u, !(lo & VTD_QI_IEC_G), (unsigned)(lo >> VTD_QI_IEC_IIDX_SHIFT) & 0xffff, im);
		return true;
	}
	case VTD_QI_WAIT: {
		if ((lo & VTD_QI_WAIT_LO_RSVD) || (hi & VTD_QI_WAIT_HI_RSVD) || (lo & VTD_QI_WAIT_PD))
			return false;
		charge(u, CTR_IOMMU_INV_WAIT, u->cfg.inv_wait_cycles);
		if (lo & VTD_QI_WAIT_SW) {
			/* a 32-bit store of the status data at the (4-byte aligned) status address */
			uint64_t a = hi & VTD_GENMASK(63, 2), q = a & ~UINT64_C(7);
			if (a >= u->cfg.mem_limit)
				return false;
			unsigned sh = (unsigned)(a & 4) * 8;
			uint64_t old = mem_read64(u->mem, q);
			uint64_t data = lo >> VTD_QI_WAIT_DATA_SHIFT;
			mem_write64(u->mem, q, (old & ~(UINT64_C(0xffffffff) << sh)) | (data << sh));
		}
		if (lo & VTD_QI_WAIT_IF) {
			uint32_t ics = (uint32_t)iommu_reg_get(u, VTD_REG_ICS, 4);
			iommu_reg_set(u, VTD_REG_ICS, 4, ics | (uint32_t)VTD_ICS_IWC);
			if (!(ics & VTD_ICS_IWC)) {
				uint32_t ctl = (uint32_t)iommu_reg_get(u, VTD_REG_IECTL, 4);
				if (ctl & VTD_FECTL_IM)
					iommu_reg_set(u, VTD_REG_IECTL, 4, ctl | (uint32_t)VTD_FECTL_IP);
				else
					iommu_send_event(u, VTD_IRQ_INV_EVENT, (uint32_t)iommu_reg_get(u, VTD_REG_IEADDR, 4),
							 (uint32_t)iommu_reg_get(u, VTD_REG_IEDATA, 4));
			}
		}
		return true;
	}
	default: /* device-TLB (no ECAP.DT), PASID and page-group types: not in legacy mode here */
		return false;
	}
}

void iommu_qi_process(struct iommu *u)
{
	const uint64_t iqa = iommu_reg_get(u, VTD_REG_IQA, 8);
	const uint64_t base = iqa & VTD_GENMASK(63, 12);
	const uint64_t entries = UINT64_C(1) << ((iqa & VTD_IQA_QS_MASK) + 8);
	uint32_t fsts = (uint32_t)iommu_reg_get(u, VTD_REG_FSTS, 4);
	if (fsts & VTD_FSTS_IQE)
		return; /* the queue stays stopped until software clears IQE */
	uint64_t head = (iommu_reg_get(u, VTD_REG_IQH, 8) & VTD_IQ_INDEX_MASK) >> VTD_IQ_INDEX_SHIFT;
	const uint64_t tail = (iommu_reg_get(u, VTD_REG_IQT, 8) & VTD_IQ_INDEX_MASK) >> VTD_IQ_INDEX_SHIFT;
	while (head != tail) {
		uint64_t a = base + VTD_QI_DESC_BYTES * head;
		bool ok = a + 16 <= u->cfg.mem_limit;
		uint64_t lo = ok ? mem_read64(u->mem, a) : 0, hi = ok ? mem_read64(u->mem, a + 8) : 0;
		ctr_inc(u->ctr, CTR_IOMMU_QI_DESCRIPTORS);
		if (!ok || !qi_one(u, lo, hi)) {
			iommu_reg_set(u, VTD_REG_FSTS, 4, fsts | (uint32_t)VTD_FSTS_IQE);
			iommu_fault_event_update(u, fsts);
			break;
		}
		head = (head + 1) % entries;
		iommu_reg_set(u, VTD_REG_IQH, 8, head << VTD_IQ_INDEX_SHIFT);
	}
}
