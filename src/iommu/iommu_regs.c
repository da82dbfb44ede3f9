/*
 * Notes: the register set of one remapping unit (reference sheet §7.1-§7.3,
 * §7.7, §7.8) described as data: for each register its offset, size, the
 * bits a write stores (rw), the bits a write of 1 clears (w1c), and the
 * one write path below applies them before the register's side effect.
 * Registers that depend on the part (IVA/IOTLB at ECAP.IRO, FRCD at
 * CAP.FRO, address fields HAW bits wide) are laid out at iommu_init.
 *
 * What the model leaves out and refuses loudly (the write fails with a
 * message): advanced fault logging (only when CAP.AFL says the part has
 * it), protected-memory regions (PMEN.EPM), 256-bit invalidation
 * descriptors (IQA.DW), scalable mode (RTADDR.TTM), register-based
 * invalidation while queued invalidation is enabled, enabling translation
 * before a root-table pointer was latched or interrupt remapping before an
 * IRTA was latched, disabling queued invalidation with descriptors pending.
 * The model is synchronous: a command's status (GSTS bit, ICC/IVT clear)
 * is visible on the next read, so a driver's poll loop ends at once.
 */
#include "iommu/iommu.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALL32 UINT64_C(0xffffffff)
#define ALL64 (~UINT64_C(0))

uint64_t iommu_reg_get(const struct iommu *u, unsigned off, unsigned size)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)u->regs[off + i] << (8 * i);
	return v;
}

void iommu_reg_set(struct iommu *u, unsigned off, unsigned size, uint64_t val)
{
	for (unsigned i = 0; i < size; i++)
		u->regs[off + i] = (uint8_t)(val >> (8 * i));
}

__attribute__((format(printf, 2, 3))) static int fail(struct iommu *u, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(u->err, sizeof(u->err), fmt, ap);
	va_end(ap);
	return -1;
}

void iommu_config_from_params(const struct sim_params *p, uint64_t mem_bytes, struct iommu_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->cap = p->iommu_cap;
	cfg->ecap = p->iommu_ecap;
	cfg->haw = (unsigned)p->iommu_haw;
	cfg->mem_limit = mem_bytes;
	cfg->cc_entries = (unsigned)p->iommu_cc_entries;
	cfg->cc_ways = (unsigned)p->iommu_cc_ways;
	cfg->iotlb_entries = (unsigned)p->iommu_iotlb_entries;
	cfg->iotlb_ways = (unsigned)p->iommu_iotlb_ways;
	for (int i = 0; i < 3; i++) {
		cfg->ptc_entries[i] = (unsigned)p->iommu_ptc_entries[i];
		cfg->ptc_ways[i] = (unsigned)p->iommu_ptc_ways[i];
	}
	cfg->iec_entries = (unsigned)p->iommu_iec_entries;
	cfg->iec_ways = (unsigned)p->iommu_iec_ways;
	cfg->mem_read_cycles = p->iommu_mem_read_cycles;
	cfg->inv_cycles = p->iommu_inv_cycles;
	cfg->inv_wait_cycles = p->iommu_inv_wait_cycles;
}

static void add_reg(struct iommu *u, enum vtd_reg_id id, const char *name, unsigned off, unsigned size, bool wo,
		    uint64_t rw, uint64_t w1c, unsigned index)
{
	u->reg[u->nregs++] = (struct vtd_reg_desc){id, name, (uint16_t)off, (uint8_t)size, wo, rw, w1c, (uint16_t)index};
}

/* The register set of this part (§7.1), in offset order but for the
 * part-dependent IVA/IOTLB and FRCD blocks. */
static void build_regs(struct iommu *u)
{
	const uint64_t cap = u->cfg.cap, ecap = u->cfg.ecap;
	const uint64_t haw_addr = VTD_GENMASK(u->cfg.haw - 1, 12);
	add_reg(u, VREG_VER, "VER", VTD_REG_VER, 4, false, 0, 0, 0);
	add_reg(u, VREG_CAP, "CAP", VTD_REG_CAP, 8, false, 0, 0, 0);
	add_reg(u, VREG_ECAP, "ECAP", VTD_REG_ECAP, 8, false, 0, 0, 0);
	add_reg(u, VREG_GCMD, "GCMD", VTD_REG_GCMD, 4, true, VTD_GENMASK(31, 23), 0, 0);
	add_reg(u, VREG_GSTS, "GSTS", VTD_REG_GSTS, 4, false, 0, 0, 0);
	add_reg(u, VREG_RTADDR, "RTADDR", VTD_REG_RTADDR, 8, false, haw_addr | VTD_RTADDR_TTM_MASK, 0, 0);
	add_reg(u, VREG_CCMD, "CCMD", VTD_REG_CCMD, 8, false,
		VTD_CCMD_ICC | (UINT64_C(3) << VTD_CCMD_CIRG_SHIFT) | (UINT64_C(3) << VTD_CCMD_FM_SHIFT) |
			VTD_GENMASK(31, 0),
		0, 0);
	add_reg(u, VREG_FSTS, "FSTS", VTD_REG_FSTS, 4, false, 0,
		VTD_FSTS_PFO | VTD_FSTS_IQE | VTD_FSTS_ICE | VTD_FSTS_ITE, 0);
	add_reg(u, VREG_FECTL, "FECTL", VTD_REG_FECTL, 4, false, VTD_FECTL_IM, 0, 0);
	add_reg(u, VREG_FEDATA, "FEDATA", VTD_REG_FEDATA, 4, false, ALL32, 0, 0);
	add_reg(u, VREG_FEADDR, "FEADDR", VTD_REG_FEADDR, 4, false, ALL32 & ~UINT64_C(3), 0, 0);
	add_reg(u, VREG_FEUADDR, "FEUADDR", VTD_REG_FEUADDR, 4, false, ALL32, 0, 0);
	add_reg(u, VREG_AFLOG, "AFLOG", VTD_REG_AFLOG, 8, false, (cap & VTD_CAP_AFL) ? ALL64 : 0, 0, 0);
	if (cap & (VTD_CAP_PLMR | VTD_CAP_PHMR)) {
		add_reg(u, VREG_PMEN, "PMEN", VTD_REG_PMEN, 4, false, VTD_BIT(31), 0, 0);
		add_reg(u, VREG_PLMBASE, "PLMBASE", VTD_REG_PLMBASE, 4, false, ALL32, 0, 0);
		add_reg(u, VREG_PLMLIMIT, "PLMLIMIT", VTD_REG_PLMLIMIT, 4, false, ALL32, 0, 0);
		add_reg(u, VREG_PHMBASE, "PHMBASE", VTD_REG_PHMBASE, 8, false, ALL64, 0, 0);
		add_reg(u, VREG_PHMLIMIT, "PHMLIMIT", VTD_REG_PHMLIMIT, 8, false, ALL64, 0, 0);
	}
	if (ecap & VTD_ECAP_QI) {
		add_reg(u, VREG_IQH, "IQH", VTD_REG_IQH, 8, false, 0, 0, 0);
		add_reg(u, VREG_IQT, "IQT", VTD_REG_IQT, 8, false, VTD_IQ_INDEX_MASK, 0, 0);
		add_reg(u, VREG_IQA, "IQA", VTD_REG_IQA, 8, false, haw_addr | VTD_IQA_DW | VTD_IQA_QS_MASK, 0, 0);
		add_reg(u, VREG_ICS, "ICS", VTD_REG_ICS, 4, false, 0, VTD_ICS_IWC, 0);
		add_reg(u, VREG_IECTL, "IECTL", VTD_REG_IECTL, 4, false, VTD_FECTL_IM, 0, 0);
		add_reg(u, VREG_IEDATA, "IEDATA", VTD_REG_IEDATA, 4, false, ALL32, 0, 0);
		add_reg(u, VREG_IEADDR, "IEADDR", VTD_REG_IEADDR, 4, false, ALL32 & ~UINT64_C(3), 0, 0);
		add_reg(u, VREG_IEUADDR, "IEUADDR", VTD_REG_IEUADDR, 4, false, ALL32, 0, 0);
		add_reg(u, VREG_IQER, "IQER", VTD_REG_IQER, 8, false, 0, 0, 0);
	}
	if (ecap & VTD_ECAP_IR)
		add_reg(u, VREG_IRTA, "IRTA", VTD_REG_IRTA, 8, false,
			haw_addr | ((ecap & VTD_ECAP_EIM) ? VTD_IRTA_EIME : 0) | VTD_IRTA_S_MASK, 0, 0);
	add_reg(u, VREG_IVA, "IVA", u->iva_off, 8, false, VTD_GENMASK(63, 12) | VTD_IVA_IH | VTD_IVA_AM_MASK, 0, 0);
	add_reg(u, VREG_IOTLB, "IOTLB", u->iotlb_off, 8, false,
		VTD_IOTLB_IVT | (UINT64_C(3) << VTD_IOTLB_IIRG_SHIFT) | VTD_IOTLB_DR | VTD_IOTLB_DW |
			VTD_GENMASK(47, 32),
		0, 0);
	for (unsigned i = 0; i < u->nfr; i++) {
		add_reg(u, VREG_FRCD_LO, "FRCD.lo", u->frcd_off + 16 * i, 8, false, 0, 0, i);
		add_reg(u, VREG_FRCD_HI, "FRCD.hi", u->frcd_off + 16 * i + 8, 8, false, 0, VTD_FRCD_HI_F, i);
	}
}

int iommu_init(struct iommu *u, const struct iommu_config *cfg, struct phys_mem *mem, struct counters *ctr,
	       struct vtd_irq_sink sink, char *err)
{
	memset(u, 0, sizeof(*u));
	u->cfg = *cfg;
	u->mem = mem;
	u->ctr = ctr;
	u->sink = sink;
	if (!sink.deliver) {
		snprintf(err, IOMMU_ERR_LEN, "iommu: an interrupt sink is required (the local APIC side that receives "
					     "remapped, posted and fault-event interrupts)");
		return -1;
	}
	if (!VTD_CAP_SAGAW(cfg->cap) || cfg->haw < 32 || cfg->haw > 52) {
		snprintf(err, IOMMU_ERR_LEN, "iommu: CAP 0x%" PRIx64 " has no SAGAW bit or HAW %u is outside 32..52",
			 cfg->cap, cfg->haw);
		return -1;
	}
	if (cfg->ecap & VTD_ECAP_SMTS) {
		snprintf(err, IOMMU_ERR_LEN, "iommu: ECAP.SMTS (scalable mode) is set; only legacy mode is modelled");
		return -1;
	}
	u->iva_off = (uint16_t)(VTD_ECAP_IRO(cfg->ecap) * 16);
	u->iotlb_off = (uint16_t)(u->iva_off + 8);
	u->frcd_off = (uint16_t)(VTD_CAP_FRO(cfg->cap) * 16);
	u->nfr = VTD_CAP_NFR(cfg->cap);
	u->did_bits = 4 + 2 * VTD_CAP_ND(cfg->cap);
	if (u->did_bits > 16)
		u->did_bits = 16;
	if ((unsigned)u->iotlb_off + 8 > VTD_REG_BYTES || (unsigned)u->frcd_off + 16 * u->nfr > VTD_REG_BYTES || u->iva_off < 0xC0 ||
	    u->frcd_off < 0xC0) {
		snprintf(err, IOMMU_ERR_LEN, "iommu: IRO/FRO/NFR of CAP 0x%" PRIx64 " ECAP 0x%" PRIx64
					     " put registers outside 0xC0..0x1000",
			 cfg->cap, cfg->ecap);
		return -1;
	}
	u->reg = calloc(40 + 2 * (size_t)u->nfr, sizeof(*u->reg));
	if (!u->reg) {
		snprintf(err, IOMMU_ERR_LEN, "iommu: out of memory");
		return -1;
	}
	build_regs(u);
	if (vtd_cache_init(&u->cc, "iommu.context_cache", cfg->cc_entries, cfg->cc_ways, err) ||
	    vtd_cache_init(&u->iotlb, "iommu.iotlb", cfg->iotlb_entries, cfg->iotlb_ways, err) ||
	    vtd_cache_init(&u->ptc[0], "iommu.ptcache.pml4e", cfg->ptc_entries[0], cfg->ptc_ways[0], err) ||
	    vtd_cache_init(&u->ptc[1], "iommu.ptcache.pdpe", cfg->ptc_entries[1], cfg->ptc_ways[1], err) ||
	    vtd_cache_init(&u->ptc[2], "iommu.ptcache.pde", cfg->ptc_entries[2], cfg->ptc_ways[2], err) ||
	    vtd_cache_init(&u->iec, "iommu.iec", cfg->iec_entries, cfg->iec_ways, err)) {
		iommu_destroy(u);
		return -1;
	}
	/* Reset values: VER 1.0 (the documented part, iommu.cap), CAP, ECAP;
	 * everything else 0. */
	iommu_reg_set(u, VTD_REG_VER, 4, 0x10);
	iommu_reg_set(u, VTD_REG_CAP, 8, cfg->cap);
	iommu_reg_set(u, VTD_REG_ECAP, 8, cfg->ecap);
	return 0;
}

void iommu_destroy(struct iommu *u)
{
	vtd_cache_destroy(&u->cc);
	vtd_cache_destroy(&u->iotlb);
	for (int i = 0; i < 3; i++)
		vtd_cache_destroy(&u->ptc[i]);
	vtd_cache_destroy(&u->iec);
	free(u->reg);
	u->reg = NULL;
}

const struct vtd_reg_desc *iommu_reg_at(const struct iommu *u, unsigned off)
{
	for (size_t i = 0; i < u->nregs; i++)
		if (off >= u->reg[i].off && off < (unsigned)u->reg[i].off + u->reg[i].size)
			return &u->reg[i];
	return NULL;
}

uint64_t iommu_mmio_read(struct iommu *u, unsigned off, unsigned size)
{
	const struct vtd_reg_desc *d = iommu_reg_at(u, off);
	if (!d || d->write_only || (size != 4 && size != 8) || off + size > (unsigned)d->off + d->size ||
	    (off - d->off) % size)
		return 0;
	return iommu_reg_get(u, off, size);
}

/* ---- side effects ------------------------------------------------------ */

static uint32_t gsts(const struct iommu *u)
{
	return (uint32_t)iommu_reg_get(u, VTD_REG_GSTS, 4);
}

static void set_gsts(struct iommu *u, uint32_t v)
{
	iommu_reg_set(u, VTD_REG_GSTS, 4, v);
}

/* GCMD (§7.3): persistent commands follow the written bit, one-shot
 * commands act when written as 1. */
static int gcmd_write(struct iommu *u, uint32_t cmd)
{
	uint32_t st = gsts(u);
	if (cmd & (VTD_GCMD_SFL | VTD_GCMD_EAFL)) {
		if (u->cfg.cap & VTD_CAP_AFL)
			return fail(u, "iommu: %s: advanced fault logging is not modelled (GCMD at 0x%x)", "SFL/EAFL",
				    VTD_REG_GCMD);
		cmd &= ~(uint32_t)(VTD_GCMD_SFL | VTD_GCMD_EAFL); /* CAP.AFL = 0: the commands do nothing */
	}
	if ((cmd & VTD_GCMD_TE) && !(st & VTD_GCMD_SRTP) && !(cmd & VTD_GCMD_SRTP))
		return fail(u, "iommu: %s with no root-table pointer latched: write RTADDR and set SRTP first (GCMD at 0x%x)",
			    "TE", VTD_REG_GCMD);
	if ((cmd & VTD_GCMD_QIE) && !(u->cfg.ecap & VTD_ECAP_QI))
		return fail(u, "iommu: %s: ECAP.QI is clear on this part (GCMD at 0x%x)", "QIE", VTD_REG_GCMD);
	if ((cmd & (VTD_GCMD_IRE | VTD_GCMD_SIRTP | VTD_GCMD_CFI)) && !(u->cfg.ecap & VTD_ECAP_IR))
		return fail(u, "iommu: %s: ECAP.IR is clear on this part (GCMD at 0x%x)", "IRE/SIRTP/CFI", VTD_REG_GCMD);
	if ((cmd & VTD_GCMD_IRE) && !(st & VTD_GCMD_SIRTP) && !(cmd & VTD_GCMD_SIRTP))
		return fail(u, "iommu: %s with no interrupt-remapping table latched: write IRTA and set SIRTP first "
			       "(GCMD at 0x%x)",
			    "IRE", VTD_REG_GCMD);
	if ((st & VTD_GCMD_QIE) && !(cmd & VTD_GCMD_QIE) &&
	    iommu_reg_get(u, VTD_REG_IQH, 8) != iommu_reg_get(u, VTD_REG_IQT, 8))
		return fail(u, "iommu: %s while descriptors are pending (IQH != IQT) (GCMD at 0x%x)", "clearing QIE",
			    VTD_REG_GCMD);
	if (cmd & VTD_GCMD_SRTP) {
		uint64_t rt = iommu_reg_get(u, VTD_REG_RTADDR, 8);
		if (rt & VTD_RTADDR_TTM_MASK)
			return fail(u, "iommu: %s: RTADDR.TTM selects scalable mode, which is not modelled (0x%x)", "SRTP",
				    VTD_REG_RTADDR);
		u->rta = rt & VTD_GENMASK(63, 12);
		st |= VTD_GCMD_SRTP; /* RTPS */
	}
	if (cmd & VTD_GCMD_SIRTP) {
		u->irta = iommu_reg_get(u, VTD_REG_IRTA, 8);
		st |= VTD_GCMD_SIRTP; /* IRTPS */
	}
	if ((cmd & VTD_GCMD_QIE) && !(st & VTD_GCMD_QIE)) {
		if (iommu_reg_get(u, VTD_REG_IQA, 8) & VTD_IQA_DW)
			return fail(u, "iommu: %s: IQA.DW asks for 256-bit descriptors, which are not modelled (0x%x)", "QIE",
				    VTD_REG_IQA);
		iommu_reg_set(u, VTD_REG_IQH, 8, 0); /* enabling the queue resets its head */
	}
	/* WBF: CAP.RWBF = 0 parts flush nothing; WBFS stays 0. */
	st = (st & ~(uint32_t)VTD_GSTS_PERSISTENT) | (cmd & (uint32_t)VTD_GSTS_PERSISTENT);
	set_gsts(u, st);
	return 0;
}

static int ccmd_write(struct iommu *u, uint64_t v)
{
	if (!(v & VTD_CCMD_ICC))
		return 0;
	if (gsts(u) & VTD_GCMD_QIE) {
		iommu_reg_set(u, VTD_REG_CCMD, 8, v & ~VTD_CCMD_ICC);
		return fail(u, "iommu: %s: register-based invalidation while queued invalidation is enabled (0x%x)", "CCMD",
			    VTD_REG_CCMD);
	}
	unsigned gran = (unsigned)(v >> VTD_CCMD_CIRG_SHIFT) & 3;
	if (gran)
		iommu_inv_context(u, gran, (uint16_t)v, (uint16_t)(v >> VTD_CCMD_SID_SHIFT),
				  (unsigned)(v >> VTD_CCMD_FM_SHIFT) & 3);
	/* CAIG: the granularity performed (0 = the request was invalid). */
	v &= ~(VTD_CCMD_ICC | (UINT64_C(3) << VTD_CCMD_CAIG_SHIFT));
	iommu_reg_set(u, VTD_REG_CCMD, 8, v | ((uint64_t)gran << VTD_CCMD_CAIG_SHIFT));
	return 0;
}

static int iotlb_write(struct iommu *u, uint64_t v)
{
	if (!(v & VTD_IOTLB_IVT))
		return 0;
	if (gsts(u) & VTD_GCMD_QIE) {
		iommu_reg_set(u, u->iotlb_off, 8, v & ~VTD_IOTLB_IVT);
		return fail(u, "iommu: %s: register-based invalidation while queued invalidation is enabled (0x%x)", "IOTLB",
			    u->iotlb_off);
	}
	unsigned gran = (unsigned)(v >> VTD_IOTLB_IIRG_SHIFT) & 3;
	uint64_t iva = iommu_reg_get(u, u->iva_off, 8);
	unsigned am = (unsigned)(iva & VTD_IVA_AM_MASK);
	uint64_t addr = iva & VTD_GENMASK(63, 12);
	if (gran == VTD_INV_DEVICE_OR_PAGE &&
	    (!(u->cfg.cap & VTD_CAP_PSI) || am > VTD_CAP_MAMV(u->cfg.cap) || (addr & ((VTD_BIT(am) << 12) - 1))))
		gran = 0; /* page-selective not supported, or AM too large / ADDR unaligned: not performed */
	if (gran)
		iommu_inv_iotlb(u, gran, (uint16_t)(v >> VTD_IOTLB_DID_SHIFT), addr, am, (iva & VTD_IVA_IH) != 0);
	v &= ~(VTD_IOTLB_IVT | (UINT64_C(3) << VTD_IOTLB_IAIG_SHIFT));
	iommu_reg_set(u, u->iotlb_off, 8, v | ((uint64_t)gran << VTD_IOTLB_IAIG_SHIFT));
	return 0;
}

/* An event-control register: clearing IM with IP set sends the held message. */
static void ectl_write(struct iommu *u, unsigned ctl, uint32_t old, enum vtd_irq_origin origin, unsigned addr_reg,
		       unsigned data_reg)
{
	uint32_t now = (uint32_t)iommu_reg_get(u, ctl, 4);
	if ((old & VTD_FECTL_IP) && (old & VTD_FECTL_IM) && !(now & VTD_FECTL_IM)) {
		iommu_reg_set(u, ctl, 4, now & ~(uint32_t)VTD_FECTL_IP);
		iommu_send_event(u, origin, (uint32_t)iommu_reg_get(u, addr_reg, 4), (uint32_t)iommu_reg_get(u, data_reg, 4));
	} else
		iommu_reg_set(u, ctl, 4, now | (old & VTD_FECTL_IP)); /* IP is read-only */
}

int iommu_mmio_write(struct iommu *u, unsigned off, unsigned size, uint64_t val)
{
	const struct vtd_reg_desc *d = iommu_reg_at(u, off);
	if (!d)
		return fail(u, "iommu: %s write to 0x%x: no register there", "MMIO", off);
	if ((size != 4 && size != 8) || off + size > (unsigned)d->off + d->size || (off - d->off) % size)
		return fail(u, "iommu: bad access size or alignment for %s at 0x%x", d->name, off);
	const unsigned shift = 8 * (off - d->off);
	const uint64_t wmask = (size == 8 ? ALL64 : ALL32) << shift;
	const uint64_t v = val << shift;
	const uint64_t old = d->write_only ? 0 : iommu_reg_get(u, d->off, d->size);
	const uint32_t old_fsts = (uint32_t)iommu_reg_get(u, VTD_REG_FSTS, 4);

	if (d->id == VREG_PMEN && (v & VTD_BIT(31)))
		return fail(u, "iommu: %s.EPM: protected-memory regions are not modelled (0x%x)", d->name, off);
	if (d->id == VREG_IQT) {
		uint64_t qs = iommu_reg_get(u, VTD_REG_IQA, 8) & VTD_IQA_QS_MASK;
		uint64_t entries = UINT64_C(1) << (qs + 8);
		if (((v & VTD_IQ_INDEX_MASK) >> VTD_IQ_INDEX_SHIFT) >= entries)
			return fail(u, "iommu: %s beyond the queue's 2^(QS+8) descriptors (0x%x)", d->name, off);
	}
	if (d->write_only) {
		if (d->id == VREG_GCMD)
			return gcmd_write(u, (uint32_t)(v & d->rw));
		return 0;
	}
	uint64_t now = (old & ~(d->rw & wmask)) | (v & d->rw & wmask);
	now &= ~(v & d->w1c & wmask);
	iommu_reg_set(u, d->off, d->size, now);
	u->inv_cycles = 0;

	switch (d->id) {
	case VREG_CCMD:
		return ccmd_write(u, now);
	case VREG_IOTLB:
		return iotlb_write(u, now);
	case VREG_IQT:
		if (gsts(u) & VTD_GCMD_QIE)
			iommu_qi_process(u);
		return 0;
	case VREG_FSTS:
		iommu_fault_event_update(u, old_fsts);
		return 0;
	case VREG_FRCD_HI:
		if ((old & VTD_FRCD_HI_F) && !(now & VTD_FRCD_HI_F)) {
			iommu_update_ppf(u);
			iommu_fault_event_update(u, old_fsts);
		}
		return 0;
	case VREG_FECTL:
		ectl_write(u, VTD_REG_FECTL, (uint32_t)old, VTD_IRQ_FAULT_EVENT, VTD_REG_FEADDR, VTD_REG_FEDATA);
		return 0;
	case VREG_IECTL:
		ectl_write(u, VTD_REG_IECTL, (uint32_t)old, VTD_IRQ_INV_EVENT, VTD_REG_IEADDR, VTD_REG_IEDATA);
		return 0;
	case VREG_ICS:
		if (!(now & VTD_ICS_IWC)) /* clearing IWC clears a held completion event */
			iommu_reg_set(u, VTD_REG_IECTL, 4, iommu_reg_get(u, VTD_REG_IECTL, 4) & ~VTD_FECTL_IP);
		return 0;
	default:
		return 0;
	}
}
