/*
 * Notes: interrupt remapping (reference sheet §7.10, §7.11). An interrupt
 * request is a DWORD write to 0xFEEx_xxxx (MSI/MSI-X), or an I/O APIC
 * redirection entry the I/O APIC forwards. With GSTS.IRES = 0 every
 * request passes in compatibility format. With IRES = 1:
 *   - compatibility format (address bit 4 = 0, or RTE bit 48 = 0) passes
 *     only if GSTS.CFIS = 1 and IRTA.EIME = 0, else fault 0x25;
 *   - remappable format: reserved request bits (data 31:16, an upper
 *     address, RTE 47:17) fault 0x20; index = HANDLE + (SHV ? SUBHANDLE : 0)
 *     (RTE: INDEX); index >= 2^(S+1) faults 0x21; the IRTE comes from the
 *     interrupt-entry cache (by index; present, well-formed entries only)
 *     or from IRTA + 16 index (one memory reference; outside memory: 0x23);
 *     not present 0x22; reserved bits 0x24 (IM = 1 without CAP.PI, SVT =
 *     11, the format's reserved fields, xAPIC-mode DST bits outside 47:40);
 *     source validation (SVT = 01: requester-id equals SID but for the bits
 *     SQ ignores; SVT = 10: requester bus within [SID 15:8, SID 7:0]) fails
 *     with 0x26.
 *   - remapped format delivers the IRTE's vector, destination and modes to
 *     the sink; posted format sets PIR[VV] in the posted-interrupt
 *     descriptor and, only if ON was 0 and (SN = 0 or URG = 1), sets ON and
 *     sends the notification vector NV to NDST (two memory references:
 *     the PIR qword and the control qword, each read-modify-write).
 * Faults are recorded with the interrupt index in FI bits 63:48 and T = 0
 * (an interrupt request is a write); FPD of the IRTE suppresses them,
 * including for a not-present IRTE (as QEMU does). Fault 0x27 (posted
 * descriptor outside memory) comes from newer specs (sheet §9).
 */
#include "iommu/iommu.h"

static bool reachable(const struct iommu *u, uint64_t addr, unsigned bytes)
{
	return addr < u->cfg.mem_limit && u->cfg.mem_limit - addr >= bytes && (addr >> u->cfg.haw) == 0;
}

static void add_ref(struct vtd_ir_result *r, enum vtd_ref_kind kind, uint64_t addr, uint64_t lo, uint64_t hi)
{
	if (r->nrefs < VTD_MAX_REFS)
		r->ref[r->nrefs] = (struct vtd_ref){kind, 0, addr, lo, hi};
	r->nrefs++;
}

static void deliver(struct iommu *u, struct vtd_ir_result *r)
{
	u->sink.deliver(u->sink.ctx, &r->msg);
}

static enum vtd_fault_reason finish(struct iommu *u, struct vtd_ir_result *r, uint16_t sid, enum vtd_fault_reason f,
				    bool fpd)
{
	ctr_add(u->ctr, CTR_IOMMU_IR_REFS, r->nrefs);
	r->cycles = r->nrefs * u->cfg.mem_read_cycles;
	if (r->nrefs > VTD_MAX_REFS)
		r->nrefs = VTD_MAX_REFS;
	r->fault = f;
	if (f != VTD_FR_NONE) {
		unsigned idx = 0;
		iommu_count_fault(u, f);
		r->disp = iommu_record_fault(u, sid, (uint64_t)r->index << VTD_FRCD_IR_INDEX_SHIFT, f, false, fpd, &idx);
	}
	return f;
}

static uint64_t irte_reserved(const struct iommu *u, uint64_t lo, uint64_t hi)
{
	if (lo & VTD_IRTE_IM) {
		if (!(u->cfg.cap & VTD_CAP_PI))
			return VTD_IRTE_IM;
		return (lo & VTD_IRTE_PI_LO_RSVD) | (hi & VTD_IRTE_PI_HI_RSVD);
	}
	uint64_t r = (lo & VTD_IRTE_LO_RSVD) | (hi & VTD_IRTE_HI_RSVD);
	if (!(u->irta & VTD_IRTA_EIME))
		r |= lo & VTD_IRTE_LO_XAPIC_RSVD;
	return r;
}

static enum vtd_fault_reason remap_index(struct iommu *u, uint16_t sid, unsigned index, struct vtd_ir_result *r)
{
	r->index = (uint16_t)index;
	const uint64_t entries = UINT64_C(2) << (u->irta & VTD_IRTA_S_MASK);
	if (index >= entries)
		return finish(u, r, sid, VTD_FR_IR_INDEX, false);
	uint64_t lo, hi;
	struct vtd_centry *ce = vtd_cache_lookup(&u->iec, index, 0, false, 0);
	if (ce) {
		r->iec_hit = true;
		ctr_inc(u->ctr, CTR_IOMMU_IEC_HIT);
		lo = ce->v0;
		hi = ce->v1;
	} else {
		ctr_inc(u->ctr, CTR_IOMMU_IEC_MISS);
		uint64_t ea = (u->irta & VTD_GENMASK(63, 12)) + VTD_IRTE_BYTES * (uint64_t)index;
		if (!reachable(u, ea, 16))
			return finish(u, r, sid, VTD_FR_IR_TABLE_ACCESS, false);
		lo = mem_read64(u->mem, ea);
		hi = mem_read64(u->mem, ea + 8);
		add_ref(r, VTD_REF_IRTE, ea, lo, hi);
		if (!(lo & VTD_IRTE_P))
			return finish(u, r, sid, VTD_FR_IR_NOT_PRESENT, (lo & VTD_IRTE_FPD) != 0);
		if (irte_reserved(u, lo, hi) || ((hi >> VTD_IRTE_SVT_SHIFT) & 3) == 3)
			return finish(u, r, sid, VTD_FR_IR_RESERVED, (lo & VTD_IRTE_FPD) != 0);
		struct vtd_centry ne = {.key = index, .v0 = lo, .v1 = hi};
		vtd_cache_insert(&u->iec, &ne);
	}
	const bool fpd = (lo & VTD_IRTE_FPD) != 0;
	const unsigned svt = (unsigned)(hi >> VTD_IRTE_SVT_SHIFT) & 3, sq = (unsigned)(hi >> VTD_IRTE_SQ_SHIFT) & 3;
	const uint16_t esid = (uint16_t)hi;
	static const uint16_t sq_mask[4] = {0xffff, 0xfffb, 0xfff9, 0xfff8};
	if ((svt == VTD_SVT_SID && (sid & sq_mask[sq]) != (esid & sq_mask[sq])) ||
	    (svt == VTD_SVT_BUS && (VTD_SID_BUS(sid) < (unsigned)(esid >> 8) || VTD_SID_BUS(sid) > (unsigned)(esid & 0xff))))
		return finish(u, r, sid, VTD_FR_IR_SID, fpd);
	const bool x2apic = (u->irta & VTD_IRTA_EIME) != 0;
	if (!(lo & VTD_IRTE_IM)) {
		r->msg = (struct vtd_irq_msg){
			.origin = VTD_IRQ_REMAPPED,
			.dest = x2apic ? (uint32_t)(lo >> VTD_IRTE_DST_SHIFT) : (uint32_t)(lo >> 40) & 0xff,
			.vector = (uint8_t)(lo >> VTD_IRTE_V_SHIFT),
			.dlm = (uint8_t)((lo >> VTD_IRTE_DLM_SHIFT) & 7),
			.dm_logical = (lo & VTD_IRTE_DM) != 0,
			.level = (lo & VTD_IRTE_TM) != 0,
			.rh = (lo & VTD_IRTE_RH) != 0,
			.sid = sid,
			.index = (uint16_t)index,
		};
		ctr_inc(u->ctr, CTR_IOMMU_IR_REMAPPED);
		finish(u, r, sid, VTD_FR_NONE, fpd);
		deliver(u, r);
		return VTD_FR_NONE;
	}
	/* posted format */
	const uint64_t pda = ((lo >> VTD_IRTE_PDA_LO_SHIFT) << 6) | (hi & VTD_GENMASK(63, 32));
	const unsigned vv = (unsigned)(lo >> VTD_IRTE_V_SHIFT) & 0xff;
	if (!reachable(u, pda, 64))
		return finish(u, r, sid, VTD_FR_IR_PID_ACCESS, fpd);
	uint64_t pa = pda + 8 * (vv / 64), pir = mem_read64(u->mem, pa);
	mem_write64(u->mem, pa, pir | (UINT64_C(1) << (vv % 64)));
	add_ref(r, VTD_REF_PID, pa, pir, 0);
	uint64_t ca = pda + VTD_PID_CTL_OFFSET, ctl = mem_read64(u->mem, ca);
	add_ref(r, VTD_REF_PID, ca, ctl, 0);
	r->posted = true;
	ctr_inc(u->ctr, CTR_IOMMU_IR_POSTED);
	const bool urg = (lo & VTD_IRTE_URG) != 0;
	if (!(ctl & VTD_PID_ON) && (!(ctl & VTD_PID_SN) || urg)) {
		mem_write64(u->mem, ca, ctl | VTD_PID_ON);
		uint32_t ndst = (uint32_t)(ctl >> VTD_PID_NDST_SHIFT);
		r->notified = true;
		r->msg = (struct vtd_irq_msg){
			.origin = VTD_IRQ_POSTED_NOTIFY,
			.dest = x2apic ? ndst : (ndst >> 8) & 0xff,
			.vector = (uint8_t)(ctl >> VTD_PID_NV_SHIFT),
			.sid = sid,
			.index = (uint16_t)index,
		};
		ctr_inc(u->ctr, CTR_IOMMU_IR_NOTIFICATIONS);
		finish(u, r, sid, VTD_FR_NONE, fpd);
		deliver(u, r);
		return VTD_FR_NONE;
	}
	ctr_inc(u->ctr, CTR_IOMMU_IR_NOTIFY_SUPPRESSED);
	return finish(u, r, sid, VTD_FR_NONE, fpd);
}

/* A compatibility-format request: pass it, or block it (0x25). */
static enum vtd_fault_reason compat(struct iommu *u, uint16_t sid, struct vtd_irq_msg m, struct vtd_ir_result *r)
{
	const uint32_t st = (uint32_t)iommu_reg_get(u, VTD_REG_GSTS, 4);
	if ((st & VTD_GCMD_IRE) && (!(st & VTD_GCMD_CFI) || (u->irta & VTD_IRTA_EIME)))
		return finish(u, r, sid, VTD_FR_IR_COMPAT_BLOCKED, false);
	r->compat = true;
	r->msg = m;
	ctr_inc(u->ctr, CTR_IOMMU_IR_COMPAT);
	finish(u, r, sid, VTD_FR_NONE, false);
	deliver(u, r);
	return VTD_FR_NONE;
}

enum vtd_fault_reason iommu_msi(struct iommu *u, uint16_t sid, uint64_t addr, uint32_t data, struct vtd_ir_result *r)
{
	*r = (struct vtd_ir_result){0};
	ctr_inc(u->ctr, CTR_IOMMU_IR_REQUESTS);
	const uint32_t st = (uint32_t)iommu_reg_get(u, VTD_REG_GSTS, 4);
	if ((addr & VTD_MSI_ADDR_BASE_MASK) != VTD_MSI_ADDR_BASE || !(st & VTD_GCMD_IRE) || !(addr & VTD_MSI_ADDR_IF)) {
		if ((addr & VTD_MSI_ADDR_BASE_MASK) != VTD_MSI_ADDR_BASE) /* upper address bits set: not a valid request */
			return finish(u, r, sid, VTD_FR_IR_REQUEST_RESERVED, false);
		struct vtd_irq_msg m = {
			.origin = VTD_IRQ_COMPAT,
			.dest = (uint32_t)(addr >> VTD_MSI_ADDR_DEST_SHIFT) & 0xff,
			.vector = (uint8_t)(data & VTD_MSI_DATA_VECTOR_MASK),
			.dlm = (uint8_t)((data >> VTD_MSI_DATA_DLM_SHIFT) & 7),
			.dm_logical = (addr & VTD_MSI_ADDR_DM) != 0,
			.level = (data & VTD_MSI_DATA_TM) != 0,
			.rh = (addr & VTD_MSI_ADDR_RH) != 0,
			.sid = sid,
		};
		return compat(u, sid, m, r);
	}
	unsigned handle = (unsigned)((addr & VTD_MSI_ADDR_HANDLE_MASK) >> VTD_MSI_ADDR_HANDLE_SHIFT) |
			  ((addr & VTD_MSI_ADDR_HANDLE15) ? 0x8000u : 0);
	unsigned index = handle + ((addr & VTD_MSI_ADDR_SHV) ? (data & 0xffff) : 0);
	r->index = (uint16_t)index;
	if (data & VTD_MSI_DATA_RSVD)
		return finish(u, r, sid, VTD_FR_IR_REQUEST_RESERVED, false);
	return remap_index(u, sid, index & 0xffff, r);
}

enum vtd_fault_reason iommu_ioapic(struct iommu *u, uint16_t sid, uint64_t rte, struct vtd_ir_result *r)
{
	*r = (struct vtd_ir_result){0};
	ctr_inc(u->ctr, CTR_IOMMU_IR_REQUESTS);
	const uint32_t st = (uint32_t)iommu_reg_get(u, VTD_REG_GSTS, 4);
	if (!(st & VTD_GCMD_IRE) || !(rte & VTD_RTE_FORMAT)) {
		struct vtd_irq_msg m = {
			.origin = VTD_IRQ_COMPAT,
			.dest = (uint32_t)(rte >> 56),
			.vector = (uint8_t)rte,
			.dlm = (uint8_t)((rte >> 8) & 7),
			.dm_logical = (rte & VTD_BIT(11)) != 0,
			.level = (rte & VTD_BIT(15)) != 0,
			.sid = sid,
		};
		return compat(u, sid, m, r);
	}
	unsigned index = (unsigned)((rte >> VTD_RTE_INDEX_SHIFT) & 0x7fff) | ((rte & VTD_RTE_INDEX15) ? 0x8000u : 0);
	r->index = (uint16_t)index;
	if (rte & VTD_RTE_RSVD)
		return finish(u, r, sid, VTD_FR_IR_REQUEST_RESERVED, false);
	return remap_index(u, sid, index, r);
}
