/*
 * Notes: primary fault logging (reference sheet §7.8). The unit owns
 * CAP.NFR fault-recording registers used as a ring: a fault goes into the
 * record after the last one written. In the spec's order:
 *   1. FPD = 1 in the context entry / IRTE that governs the request: the
 *      fault is neither recorded nor reported (counted as suppressed);
 *   2. FSTS.PFO already set: the fault is dropped (hardware records nothing
 *      until software clears PFO);
 *   3. the next record still holds a fault (F = 1): PFO is set and the
 *      fault dropped (overflow);
 *   4. else the record gets FI (page address, or interrupt index << 48),
 *      SID, FR, T and F = 1; FSTS.PPF = 1 and FRI = the oldest pending
 *      record.
 * A fault event (FEDATA/FEADDR message) is raised when the status bits
 * PFO/PPF/IQE/ICE/ITE go from all clear to any set: sent at once if
 * FECTL.IM = 0, else held as FECTL.IP and sent when software clears IM;
 * IP is cleared when software clears every status bit. (Our reading of the
 * spec's "interrupt condition"; the sheet does not spell it out.)
 * Which reasons FPD covers: every fault detected after a present context
 * entry without reserved bits was read (0x3-0x7, 0xC, 0xD), and every IR
 * fault whose IRTE was read (QEMU honours FPD of a not-present IRTE too).
 */
#include "iommu/iommu.h"

static const char *const dma_reason_names[] = {
	[VTD_FR_NONE] = "reserved",
	[VTD_FR_ROOT_NOT_PRESENT] = "root entry not present",
	[VTD_FR_CONTEXT_NOT_PRESENT] = "context entry not present",
	[VTD_FR_CONTEXT_INVALID] = "invalid context-entry programming",
	[VTD_FR_ADDR_BEYOND_AW] = "address beyond the guest address width",
	[VTD_FR_WRITE] = "write access not allowed",
	[VTD_FR_READ] = "read access not allowed",
	[VTD_FR_SL_ACCESS] = "error accessing a second-level paging entry",
	[VTD_FR_ROOT_ACCESS] = "error accessing the root table",
	[VTD_FR_CONTEXT_ACCESS] = "error accessing the context table",
	[VTD_FR_ROOT_RESERVED] = "reserved field set in a root entry",
	[VTD_FR_CONTEXT_RESERVED] = "reserved field set in a context entry",
	[VTD_FR_SL_RESERVED] = "reserved field set in a second-level paging entry",
	[VTD_FR_TRANSLATION_BLOCKED] = "translation request blocked by the context entry's TT",
};

static const char *const ir_reason_names[] = {
	"reserved field set in the interrupt request",
	"interrupt index beyond the table size",
	"IRTE not present",
	"error accessing the interrupt-remapping table",
	"reserved field set in an IRTE",
	"compatibility-format interrupt blocked",
	"source-id verification failed",
	"error accessing the posted-interrupt descriptor",
};

const char *vtd_fault_reason_name(unsigned reason)
{
	if (reason <= VTD_FR_TRANSLATION_BLOCKED)
		return dma_reason_names[reason];
	if (reason >= VTD_FR_IR_REQUEST_RESERVED && reason <= VTD_FR_IR_PID_ACCESS)
		return ir_reason_names[reason - VTD_FR_IR_REQUEST_RESERVED];
	return "reserved";
}

static unsigned frcd_hi_off(const struct iommu *u, unsigned i)
{
	return u->frcd_off + 16 * i + 8;
}

void iommu_update_ppf(struct iommu *u)
{
	uint32_t fsts = (uint32_t)iommu_reg_get(u, VTD_REG_FSTS, 4);
	fsts &= ~(uint32_t)(VTD_FSTS_PPF | VTD_FSTS_FRI_MASK);
	for (unsigned k = 0; k < u->nfr; k++) {
		unsigned i = (u->frcd_next + k) % u->nfr; /* the ring's oldest slot first */
		if (iommu_reg_get(u, frcd_hi_off(u, i), 8) & VTD_FRCD_HI_F) {
			fsts |= (uint32_t)VTD_FSTS_PPF | ((uint32_t)i << VTD_FSTS_FRI_SHIFT);
			break;
		}
	}
	iommu_reg_set(u, VTD_REG_FSTS, 4, fsts);
}

void iommu_send_event(struct iommu *u, enum vtd_irq_origin origin, uint32_t addr, uint32_t data)
{
	struct vtd_irq_msg m = {
		.origin = origin,
		.dest = (addr >> VTD_MSI_ADDR_DEST_SHIFT) & 0xff,
		.vector = (uint8_t)(data & VTD_MSI_DATA_VECTOR_MASK),
		.dlm = (uint8_t)((data >> VTD_MSI_DATA_DLM_SHIFT) & 7),
		.dm_logical = (addr & VTD_MSI_ADDR_DM) != 0,
		.level = (data & VTD_MSI_DATA_TM) != 0,
		.rh = (addr & VTD_MSI_ADDR_RH) != 0,
	};
	ctr_inc(u->ctr, origin == VTD_IRQ_FAULT_EVENT ? CTR_IOMMU_FAULT_EVENTS : CTR_IOMMU_INV_EVENTS);
	u->sink.deliver(u->sink.ctx, &m);
}

void iommu_fault_event_update(struct iommu *u, uint32_t old_fsts)
{
	uint32_t now = (uint32_t)iommu_reg_get(u, VTD_REG_FSTS, 4);
	uint32_t ctl = (uint32_t)iommu_reg_get(u, VTD_REG_FECTL, 4);
	if (!(now & VTD_FSTS_EVENT_BITS)) {
		iommu_reg_set(u, VTD_REG_FECTL, 4, ctl & ~(uint32_t)VTD_FECTL_IP);
		return;
	}
	if (old_fsts & VTD_FSTS_EVENT_BITS)
		return; /* an event is already outstanding for this condition */
	if (ctl & VTD_FECTL_IM)
		iommu_reg_set(u, VTD_REG_FECTL, 4, ctl | VTD_FECTL_IP);
	else
		iommu_send_event(u, VTD_IRQ_FAULT_EVENT, (uint32_t)iommu_reg_get(u, VTD_REG_FEADDR, 4),
				 (uint32_t)iommu_reg_get(u, VTD_REG_FEDATA, 4));
}

enum vtd_fault_disp iommu_record_fault(struct iommu *u, uint16_t sid, uint64_t addr, unsigned reason, bool is_read,
				       bool fpd, unsigned *index)
{
	if (fpd) {
		ctr_inc(u->ctr, CTR_IOMMU_FAULT_SUPPRESSED);
		return VTD_FAULT_SUPPRESSED;
	}
	uint32_t fsts = (uint32_t)iommu_reg_get(u, VTD_REG_FSTS, 4);
	if (fsts & VTD_FSTS_PFO) {
		ctr_inc(u->ctr, CTR_IOMMU_FAULT_OVERFLOW);
		return VTD_FAULT_OVERFLOW;
	}
	unsigned i = u->frcd_next;
	if (iommu_reg_get(u, frcd_hi_off(u, i), 8) & VTD_FRCD_HI_F) {
		iommu_reg_set(u, VTD_REG_FSTS, 4, fsts | VTD_FSTS_PFO);
		ctr_inc(u->ctr, CTR_IOMMU_FAULT_OVERFLOW);
		iommu_fault_event_update(u, fsts);
		return VTD_FAULT_OVERFLOW;
	}
	iommu_reg_set(u, u->frcd_off + 16 * i, 8, addr & VTD_GENMASK(63, 12));
	iommu_reg_set(u, frcd_hi_off(u, i), 8,
		      sid | ((uint64_t)reason << VTD_FRCD_HI_FR_SHIFT) | (is_read ? VTD_FRCD_HI_T : 0) | VTD_FRCD_HI_F);
	u->frcd_next = (i + 1) % u->nfr;
	iommu_update_ppf(u);
	ctr_inc(u->ctr, CTR_IOMMU_FAULT_RECORDED);
	iommu_fault_event_update(u, fsts);
	*index = i;
	return VTD_FAULT_RECORDED;
}
