/*
 * Notes: the VMM's IOMMU driver (see iommu_drv.h). Every access to the unit
 * is an MMIO read or write (counted in vmm.iommu.mmio); every table entry,
 * descriptor and IRTE is a store to simulated host memory (counted in
 * vmm.iommu.entry_writes). 128-bit entries are written high qword first
 * and the qword holding the present bit last, so the unit never sees a
 * half-written present entry. Polls of status bits end at once because the
 * unit is synchronous; a poll that would never end fails with a message.
 */
#include "vmm/iommu_drv.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arch/paging.h"
#include "arch/vtd.h"

__attribute__((format(printf, 2, 3))) static int drv_fail(struct iommu_drv *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
	return -1;
}

static uint64_t rd(struct iommu_drv *d, unsigned off, unsigned size)
{
	ctr_inc(d->ctr, CTR_VMM_IOMMU_MMIO);
	if (d->charge)
		d->charge(d->charge_ctx, IOMMU_DRV_MMIO_READ, 0);
	return iommu_mmio_read(d->hw, off, size);
}

static int wr(struct iommu_drv *d, unsigned off, unsigned size, uint64_t v)
{
	ctr_inc(d->ctr, CTR_VMM_IOMMU_MMIO);
	if (d->charge)
		d->charge(d->charge_ctx, IOMMU_DRV_MMIO_WRITE, 0);
	if (iommu_mmio_write(d->hw, off, size, v) < 0)
		return drv_fail(d, "IOMMU driver: %s", d->hw->err);
	return 0;
}

static int store(struct iommu_drv *d, uint64_t hpa, uint64_t v)
{
	ctr_inc(d->ctr, CTR_VMM_IOMMU_ENTRY_WRITES);
	if (d->charge)
		d->charge(d->charge_ctx, IOMMU_DRV_STORE, hpa);
	if (mem_write64(d->mem, hpa, v) < 0)
		return drv_fail(d, "IOMMU driver: simulator out of memory");
	return 0;
}

/* A zeroed host page for a table. */
static int table_page(struct iommu_drv *d, uint64_t *hpa)
{
	*hpa = frame_alloc_get(d->fa);
	if (!*hpa)
		return drv_fail(d, "IOMMU driver: host memory exhausted allocating a table page");
	mem_zero_page(d->mem, *hpa);
	ctr_inc(d->ctr, CTR_VMM_IOMMU_TABLE_PAGES);
	if (d->charge)
		d->charge(d->charge_ctx, IOMMU_DRV_PAGE_ZERO, *hpa);
	return 0;
}

/* The GCMD handshake (§7.3): GCMD = persistent status | command, then poll
 * GSTS until the status bit reads `want`. */
static int gcmd(struct iommu_drv *d, uint32_t cmd, uint32_t status_bit, bool want)
{
	uint32_t st = (uint32_t)rd(d, VTD_REG_GSTS, 4) & (uint32_t)VTD_GSTS_PERSISTENT;
	if (want)
		st |= cmd;
	else
		st &= ~cmd;
	if (wr(d, VTD_REG_GCMD, 4, want ? st | cmd : st) < 0)
		return -1;
	if (((rd(d, VTD_REG_GSTS, 4) & status_bit) != 0) != want)
		return drv_fail(d, "IOMMU driver: GSTS bit 0x%x did not change after GCMD 0x%x", status_bit, cmd);
	return 0;
}

/* Queue one descriptor (the tail write that submits it comes later). */
static int queue_desc(struct iommu_drv *d, uint64_t lo, uint64_t hi)
{
	uint64_t a = d->queue + VTD_QI_DESC_BYTES * d->tail;
	if (store(d, a + 8, hi) < 0 || store(d, a, lo) < 0)
		return -1;
	d->tail = (d->tail + 1) % IOMMU_DRV_QUEUE_ENTRIES;
	return 0;
}

/* Append a wait descriptor, submit everything (IQT), and poll its status. */
static int queue_sync(struct iommu_drv *d)
{
	d->seq++;
	if (queue_desc(d, VTD_QI_WAIT | VTD_QI_WAIT_SW | VTD_QI_WAIT_FN | ((uint64_t)d->seq << VTD_QI_WAIT_DATA_SHIFT),
		       d->status) < 0 ||
	    wr(d, VTD_REG_IQT, 8, (uint64_t)d->tail << VTD_IQ_INDEX_SHIFT) < 0)
		return -1;
	if (rd(d, VTD_REG_FSTS, 4) & VTD_FSTS_IQE)
		return drv_fail(d, "IOMMU driver: invalidation queue error (FSTS.IQE) at IQH 0x%" PRIx64,
				rd(d, VTD_REG_IQH, 8));
	if ((uint32_t)mem_read64(d->mem, d->status) != d->seq)
		return drv_fail(d, "IOMMU driver: wait descriptor %u never completed", d->seq);
	return 0;
}

int iommu_drv_init(struct iommu_drv *d, struct iommu *hw, struct phys_mem *mem, struct frame_alloc *fa,
		   struct counters *ctr)
{
	memset(d, 0, sizeof(*d));
	d->hw = hw;
	d->mem = mem;
	d->fa = fa;
	d->ctr = ctr;
	d->large_pages = true;
	d->next_did = 1;
	d->cap = rd(d, VTD_REG_CAP, 8);
	d->ecap = rd(d, VTD_REG_ECAP, 8);
	d->iva_off = VTD_ECAP_IRO(d->ecap) * 16;
	d->iotlb_off = d->iva_off + 8;
	d->frcd_off = VTD_CAP_FRO(d->cap) * 16;
	d->nfr = VTD_CAP_NFR(d->cap);
	/* The largest supported AGAW up to 48 bits, else the smallest above. */
	const unsigned sagaw = VTD_CAP_SAGAW(d->cap);
	d->aw = 0;
	for (unsigned aw = 1; aw <= 3; aw++)
		if ((sagaw & (1u << aw)) && (d->aw == 0 || vtd_aw_bits(aw) <= 48))
			d->aw = aw;
	if (!d->aw)
		return drv_fail(d, "IOMMU driver: CAP.SAGAW 0x%x offers no 39/48/57-bit AGAW", sagaw);
	d->levels = vtd_aw_levels(d->aw);
	if (d->cap & VTD_CAP_CM)
		return drv_fail(d, "IOMMU driver: caching mode (CAP.CM) units are not supported by this driver");
	if (!(d->ecap & VTD_ECAP_QI))
		return drv_fail(d, "IOMMU driver: the unit has no queued invalidation (ECAP.QI), which this driver needs");
	uint64_t status_page;
	if (table_page(d, &d->root) < 0 || table_page(d, &d->queue) < 0 || table_page(d, &status_page) < 0)
		return -1;
	d->status = status_page;
	if (wr(d, VTD_REG_RTADDR, 8, d->root) < 0 || gcmd(d, VTD_GCMD_SRTP, VTD_GCMD_SRTP, true) < 0)
		return -1;
	if (wr(d, VTD_REG_IQT, 8, 0) < 0 || wr(d, VTD_REG_IQA, 8, d->queue) < 0 ||
	    gcmd(d, VTD_GCMD_QIE, VTD_GCMD_QIE, true) < 0)
		return -1;
	if (queue_desc(d, VTD_QI_CC | ((uint64_t)VTD_INV_GLOBAL << VTD_QI_G_SHIFT), 0) < 0 ||
	    queue_desc(d, VTD_QI_IOTLB | ((uint64_t)VTD_INV_GLOBAL << VTD_QI_G_SHIFT), 0) < 0 || queue_sync(d) < 0)
		return -1;
	if (wr(d, VTD_REG_FEDATA, 4, IOMMU_DRV_FAULT_VECTOR) < 0 || wr(d, VTD_REG_FEADDR, 4, VTD_MSI_ADDR_BASE) < 0 ||
	    wr(d, VTD_REG_FEUADDR, 4, 0) < 0 || wr(d, VTD_REG_FECTL, 4, 0) < 0)
		return -1;
	return gcmd(d, VTD_GCMD_TE, VTD_GCMD_TE, true);
}

void iommu_drv_destroy(struct iommu_drv *d)
{
	(void)d; /* tables live in simulated memory; nothing malloc'd */
}

static struct iommu_drv_domain *domain_of(struct iommu_drv *d, uint16_t did)
{
	for (int i = 0; i < IOMMU_DRV_MAX_DOMAINS; i++)
		if (d->dom[i].did == did && did)
			return &d->dom[i];
	return NULL;
}

int iommu_drv_domain_alloc(struct iommu_drv *d, uint16_t *did)
{
	const unsigned ndid = 1u << (4 + 2 * VTD_CAP_ND(d->cap));
	for (int i = 0; i < IOMMU_DRV_MAX_DOMAINS; i++) {
		if (d->dom[i].did)
			continue;
		if (d->next_did >= ndid)
			return drv_fail(d, "IOMMU driver: the unit has only %u domain-ids (CAP.ND)", ndid);
		if (table_page(d, &d->dom[i].slpt) < 0)
			return -1;
		d->dom[i].did = d->next_did++;
		*did = d->dom[i].did;
		return 0;
	}
	return drv_fail(d, "IOMMU driver: more than %d domains", IOMMU_DRV_MAX_DOMAINS);
}

static uint64_t ctx_addr(struct iommu_drv *d, uint16_t sid)
{
	return d->ctx[VTD_SID_BUS(sid)] + 16 * VTD_SID_DEVFN(sid);
}

int iommu_drv_detach(struct iommu_drv *d, uint16_t sid)
{
	if (!d->ctx[VTD_SID_BUS(sid)] || !(mem_read64(d->mem, ctx_addr(d, sid)) & VTD_CTX_P))
		return drv_fail(d, "IOMMU driver: %02x:%02x.%x is not attached", VTD_SID_BUS(sid), VTD_SID_DEVFN(sid) >> 3,
				VTD_SID_DEVFN(sid) & 7);
	uint16_t old = (uint16_t)(mem_read64(d->mem, ctx_addr(d, sid) + 8) >> VTD_CTX_HI_DID_SHIFT);
	if (store(d, ctx_addr(d, sid), 0) < 0 || store(d, ctx_addr(d, sid) + 8, 0) < 0)
		return -1;
	const uint64_t cc = VTD_QI_CC | ((uint64_t)VTD_INV_DEVICE_OR_PAGE << VTD_QI_G_SHIFT) |
			    ((uint64_t)old << VTD_QI_DID_SHIFT) | ((uint64_t)sid << VTD_QI_CC_SID_SHIFT);
	const uint64_t tlb = VTD_QI_IOTLB | ((uint64_t)VTD_INV_DOMAIN << VTD_QI_G_SHIFT) | ((uint64_t)old << VTD_QI_DID_SHIFT);
	if (queue_desc(d, cc, 0) < 0 || queue_desc(d, tlb, 0) < 0)
		return -1;
	return queue_sync(d);
}

int iommu_drv_attach(struct iommu_drv *d, uint16_t did, uint16_t sid)
{
	struct iommu_drv_domain *dom = domain_of(d, did);
	if (!dom)
		return drv_fail(d, "IOMMU driver: no domain %u", did);
	unsigned bus = VTD_SID_BUS(sid);
	if (!d->ctx[bus]) {
		if (table_page(d, &d->ctx[bus]) < 0 || store(d, d->root + 16 * bus + 8, 0) < 0 ||
		    store(d, d->root + 16 * bus, d->ctx[bus] | VTD_ROOT_P) < 0)
			return -1;
	} else if ((mem_read64(d->mem, ctx_addr(d, sid)) & VTD_CTX_P) && iommu_drv_detach(d, sid) < 0)
		return -1;
	/* Not present -> present: with CAP.CM = 0 nothing was cached, no invalidation. */
	if (store(d, ctx_addr(d, sid) + 8, d->aw | ((uint64_t)did << VTD_CTX_HI_DID_SHIFT)) < 0 ||
	    store(d, ctx_addr(d, sid), dom->slpt | ((uint64_t)VTD_CTX_TT_UNTRANSLATED << VTD_CTX_TT_SHIFT) | VTD_CTX_P) < 0)
		return -1;
	return 0;
}

static unsigned shift_of(unsigned level)
{
	return 12 + 9 * (level - 1);
}

/* The entry for iova at level `leaf` in dom's tree, creating tables above it
 * if create; 0 with *ea, or -1 (a large leaf is in the way, out of memory). */
static int entry_at(struct iommu_drv *d, struct iommu_drv_domain *dom, uint64_t iova, unsigned leaf, bool create,
		    uint64_t *ea)
{
	uint64_t t = dom->slpt;
	for (unsigned level = d->levels; level > leaf; level--) {
		uint64_t a = t + 8 * ((iova >> shift_of(level)) & 511);
		uint64_t e = mem_read64(d->mem, a);
		if (e & VTD_SL_RW) {
			if (e & VTD_SL_PS)
				return drv_fail(d, "IOMMU driver: IOVA 0x%" PRIx64 " lies in a %s leaf", iova,
						level == 3 ? "1 GiB" : "2 MiB");
		} else {
			if (!create) {
				*ea = 0;
				return 0;
			}
			uint64_t nt;
			if (table_page(d, &nt) < 0 || store(d, a, nt | VTD_SL_RW) < 0)
				return -1;
			e = nt | VTD_SL_RW;
		}
		t = e & VTD_SL_ADDR_MASK;
	}
	*ea = t + 8 * ((iova >> shift_of(leaf)) & 511);
	return 0;
}

int iommu_drv_map(struct iommu_drv *d, uint16_t did, uint64_t iova, uint64_t hpa, uint64_t bytes, uint64_t prot)
{
	struct iommu_drv_domain *dom = domain_of(d, did);
	if (!dom)
		return drv_fail(d, "IOMMU driver: no domain %u", did);
	if ((iova | hpa | bytes) & (PAGE_SIZE - 1) || !(prot & VTD_SL_RW) || (prot & ~VTD_SL_RW))
		return drv_fail(d, "IOMMU driver: map 0x%" PRIx64 " bytes at IOVA 0x%" PRIx64 " -> 0x%" PRIx64
				   ": not 4 KiB aligned, or bad rights 0x%" PRIx64,
				bytes, iova, hpa, prot);
	unsigned width = vtd_aw_bits(d->aw);
	if (VTD_CAP_MGAW(d->cap) < width)
		width = VTD_CAP_MGAW(d->cap);
	if (bytes && ((iova + bytes - 1) >> width))
		return drv_fail(d, "IOMMU driver: IOVA range ends past the unit's %u-bit address width", width);
	const unsigned sllps = VTD_CAP_SLLPS(d->cap);
	for (uint64_t done = 0; done < bytes;) {
		uint64_t i = iova + done, h = hpa + done, left = bytes - done;
		unsigned leaf = 1;
		for (unsigned l = 3; l >= 2 && d->large_pages; l--) {
			uint64_t size = UINT64_C(1) << shift_of(l);
			if ((sllps & (1u << (l - 2))) && !((i | h) & (size - 1)) && left >= size) {
				leaf = l;
				break;
			}
		}
		uint64_t ea = 0;
		if (entry_at(d, dom, i, leaf, true, &ea) < 0)
			return -1;
		if (mem_read64(d->mem, ea) & VTD_SL_RW)
			return drv_fail(d, "IOMMU driver: IOVA 0x%" PRIx64 " of domain %u is already mapped", i, did);
		if (store(d, ea, h | prot | (leaf > 1 ? VTD_SL_PS : 0)) < 0)
			return -1;
		done += UINT64_C(1) << shift_of(leaf);
	}
	return 0;
}

int iommu_drv_map_guest(struct iommu_drv *d, uint16_t did, const struct iommu_mem_range *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (iommu_drv_map(d, did, r[i].gpa, r[i].hpa, r[i].bytes, VTD_SL_RW) < 0)
			return -1;
	return 0;
}

int iommu_drv_unmap(struct iommu_drv *d, uint16_t did, uint64_t iova, uint64_t bytes)
{
	struct iommu_drv_domain *dom = domain_of(d, did);
	if (!dom)
		return drv_fail(d, "IOMMU driver: no domain %u", did);
	if ((iova | bytes) & (PAGE_SIZE - 1) || !bytes)
		return drv_fail(d, "IOMMU driver: unmap of 0x%" PRIx64 " bytes at 0x%" PRIx64 " is not whole pages", bytes,
				iova);
	for (uint64_t done = 0; done < bytes;) {
		uint64_t i = iova + done;
		/* find the leaf: walk down until a leaf or a hole */
		uint64_t t = dom->slpt, ea = 0, e = 0;
		unsigned level;
		for (level = d->levels; level >= 1; level--) {
			ea = t + 8 * ((i >> shift_of(level)) & 511);
			e = mem_read64(d->mem, ea);
			if (!(e & VTD_SL_RW) || level == 1 || (e & VTD_SL_PS))
				break;
			t = e & VTD_SL_ADDR_MASK;
		}
		if (!(e & VTD_SL_RW))
			return drv_fail(d, "IOMMU driver: IOVA 0x%" PRIx64 " of domain %u is not mapped", i, did);
		uint64_t size = UINT64_C(1) << shift_of(level);
		if ((i & (size - 1)) || bytes - done < size)
			return drv_fail(d, "IOMMU driver: unmap covers part of a %s leaf at 0x%" PRIx64
					   " (split it by unmapping whole leaves)",
					level == 3 ? "1 GiB" : "2 MiB", i & ~(size - 1));
		if (store(d, ea, 0) < 0)
			return -1;
		done += size;
	}
	/* Page-selective invalidation covering [iova, iova + bytes): the
	 * smallest aligned power-of-two block of pages (Linux's aligned-PSI
	 * rule), domain-selective if its mask exceeds CAP.MAMV. IH = 1: only
	 * leaves were cleared. */
	const uint64_t first = iova >> PAGE_SHIFT, last = (iova + bytes - 1) >> PAGE_SHIFT;
	unsigned am = 0;
	while ((first >> am) != (last >> am))
		am++;
	uint64_t lo, hi = 0;
	if ((d->cap & VTD_CAP_PSI) && am <= VTD_CAP_MAMV(d->cap)) {
		lo = VTD_QI_IOTLB | ((uint64_t)VTD_INV_DEVICE_OR_PAGE << VTD_QI_G_SHIFT) | ((uint64_t)did << VTD_QI_DID_SHIFT);
		hi = ((first >> am) << am << PAGE_SHIFT) | VTD_QI_IOTLB_IH | am;
	} else
		lo = VTD_QI_IOTLB | ((uint64_t)VTD_INV_DOMAIN << VTD_QI_G_SHIFT) | ((uint64_t)did << VTD_QI_DID_SHIFT);
	if (queue_desc(d, lo, hi) < 0)
		return -1;
	return queue_sync(d);
}

int iommu_drv_faults(struct iommu_drv *d, struct iommu_fault_report *out, unsigned max, unsigned *n, bool *overflow)
{
	*n = 0;
	uint32_t fsts = (uint32_t)rd(d, VTD_REG_FSTS, 4);
	*overflow = (fsts & VTD_FSTS_PFO) != 0;
	if (fsts & VTD_FSTS_PPF) {
		unsigned i = (fsts & VTD_FSTS_FRI_MASK) >> VTD_FSTS_FRI_SHIFT;
		for (unsigned k = 0; k < d->nfr; k++, i = (i + 1) % d->nfr) {
			unsigned off = d->frcd_off + 16 * i;
			uint32_t top = (uint32_t)rd(d, off + 12, 4); /* bits 127:96 */
			if (!(top & VTD_BIT(31)))
				break;
			uint32_t sid_dw = (uint32_t)rd(d, off + 8, 4); /* bits 95:64 */
			uint64_t addr = rd(d, off, 8);
			struct iommu_fault_report f = {
				.sid = (uint16_t)sid_dw,
				.addr = addr,
				.reason = top & 0xff,
				.read = (top & VTD_BIT(30)) != 0,
				.interrupt = (top & 0xff) >= VTD_FR_IR_REQUEST_RESERVED && (top & 0xff) < 0x30,
				.record = i,
			};
			if (*n < max)
				out[(*n)++] = f;
			ctr_inc(d->ctr, CTR_VMM_IOMMU_FAULTS_REPORTED);
			if (wr(d, off + 12, 4, VTD_BIT(31)) < 0)
				return -1;
		}
	}
	if ((fsts & (VTD_FSTS_PFO | VTD_FSTS_IQE | VTD_FSTS_ICE | VTD_FSTS_ITE)) &&
	    wr(d, VTD_REG_FSTS, 4, fsts & (VTD_FSTS_PFO | VTD_FSTS_IQE | VTD_FSTS_ICE | VTD_FSTS_ITE)) < 0)
		return -1;
	return 0;
}

void iommu_drv_format_fault(const struct iommu_fault_report *f, char *buf, size_t len)
{
	unsigned bus = VTD_SID_BUS(f->sid), dev = VTD_SID_DEVFN(f->sid) >> 3, fn = VTD_SID_DEVFN(f->sid) & 7;
	if (f->interrupt)
		snprintf(buf, len, "interrupt from %02x:%02x.%x, index %u: fault reason 0x%02x (%s)", bus, dev, fn,
			 (unsigned)(f->addr >> VTD_FRCD_IR_INDEX_SHIFT), f->reason, vtd_fault_reason_name(f->reason));
	else
		snprintf(buf, len, "DMA %s from %02x:%02x.%x at 0x%" PRIx64 ": fault reason 0x%02x (%s)",
			 f->read ? "Read" : "Write", bus, dev, fn, f->addr, f->reason, vtd_fault_reason_name(f->reason));
}

int iommu_drv_ir_enable(struct iommu_drv *d, unsigned s, bool x2apic)
{
	if (!(d->ecap & VTD_ECAP_IR))
		return drv_fail(d, "IOMMU driver: the unit has no interrupt remapping (ECAP.IR)");
	if (x2apic && !(d->ecap & VTD_ECAP_EIM))
		return drv_fail(d, "IOMMU driver: x2APIC mode needs ECAP.EIM");
	if (s > 15)
		return drv_fail(d, "IOMMU driver: IRTA.S %u is more than 15", s);
	const uint64_t bytes = (UINT64_C(2) << s) * VTD_IRTE_BYTES;
	if (bytes <= PAGE_SIZE) {
		if (table_page(d, &d->irt) < 0)
			return -1;
	} else {
		/* up to 1 MiB (S = 15): one naturally aligned 2 MiB block */
		d->irt = frame_alloc_get_order(d->fa, FRAME_ORDER_2M);
		if (!d->irt)
			return drv_fail(d, "IOMMU driver: no 2 MiB block for a %" PRIu64 "-byte remapping table", bytes);
		for (uint64_t o = 0; o < bytes; o += PAGE_SIZE)
			mem_zero_page(d->mem, d->irt + o);
		ctr_add(d->ctr, CTR_VMM_IOMMU_TABLE_PAGES, bytes / PAGE_SIZE);
	}
	d->irt_entries = 2u << s;
	d->x2apic = x2apic;
	if (wr(d, VTD_REG_IRTA, 8, d->irt | (x2apic ? VTD_IRTA_EIME : 0) | s) < 0 ||
	    gcmd(d, VTD_GCMD_SIRTP, VTD_GCMD_SIRTP, true) < 0 || queue_desc(d, VTD_QI_IEC, 0) < 0 || queue_sync(d) < 0 ||
	    gcmd(d, VTD_GCMD_IRE, VTD_GCMD_IRE, true) < 0)
		return -1;
	return 0;
}

static int write_irte(struct iommu_drv *d, unsigned index, uint64_t lo, uint64_t hi, uint64_t *msi_addr,
		      uint32_t *msi_data)
{
	if (!d->irt || index >= d->irt_entries)
		return drv_fail(d, "IOMMU driver: IRTE %u outside the remapping table (%u entries; enabled: %s)", index,
				d->irt_entries, d->irt ? "yes" : "no");
	uint64_t a = d->irt + VTD_IRTE_BYTES * (uint64_t)index;
	if (store(d, a, 0) < 0 || store(d, a + 8, hi) < 0 || store(d, a, lo) < 0)
		return -1;
	if (queue_desc(d, VTD_QI_IEC | VTD_QI_IEC_G | ((uint64_t)index << VTD_QI_IEC_IIDX_SHIFT), 0) < 0 ||
	    queue_sync(d) < 0)
		return -1;
	if (msi_addr) {
		*msi_addr = VTD_MSI_ADDR_BASE | VTD_MSI_ADDR_IF | ((uint64_t)(index & 0x7fff) << VTD_MSI_ADDR_HANDLE_SHIFT) |
			    ((index & 0x8000) ? VTD_MSI_ADDR_HANDLE15 : 0);
		*msi_data = 0;
	}
	return 0;
}

static uint64_t sv_bits(struct iommu_irte_sv sv)
{
	return sv.sid | ((uint64_t)(sv.sq & 3) << VTD_IRTE_SQ_SHIFT) | ((uint64_t)(sv.svt & 3) << VTD_IRTE_SVT_SHIFT);
}

int iommu_drv_irte_remapped(struct iommu_drv *d, unsigned index, uint32_t dest, uint8_t vector,
			    struct iommu_irte_sv sv, uint64_t *msi_addr, uint32_t *msi_data)
{
	if (!d->x2apic && dest > 0xff)
		return drv_fail(d, "IOMMU driver: APIC id %u needs x2APIC mode", dest);
	uint64_t dst = d->x2apic ? (uint64_t)dest << VTD_IRTE_DST_SHIFT : (uint64_t)dest << 40;
	uint64_t lo = VTD_IRTE_P | ((uint64_t)vector << VTD_IRTE_V_SHIFT) | dst;
	return write_irte(d, index, lo, sv_bits(sv), msi_addr, msi_data);
}

int iommu_drv_irte_posted(struct iommu_drv *d, unsigned index, uint64_t pda, uint8_t vv, bool urg,
			  struct iommu_irte_sv sv, uint64_t *msi_addr, uint32_t *msi_data)
{
	if (!(d->cap & VTD_CAP_PI))
		return drv_fail(d, "IOMMU driver: the unit cannot post interrupts (CAP.PI = 0)");
	if (pda & 63)
		return drv_fail(d, "IOMMU driver: posted-interrupt descriptor 0x%" PRIx64 " is not 64-byte aligned", pda);
	uint64_t lo = VTD_IRTE_P | VTD_IRTE_IM | (urg ? VTD_IRTE_URG : 0) | ((uint64_t)vv << VTD_IRTE_V_SHIFT) |
		      (((pda >> 6) & 0x3ffffff) << VTD_IRTE_PDA_LO_SHIFT);
	uint64_t hi = sv_bits(sv) | (pda & VTD_GENMASK(63, 32));
	return write_irte(d, index, lo, hi, msi_addr, msi_data);
}

int iommu_drv_irte_clear(struct iommu_drv *d, unsigned index)
{
	return write_irte(d, index, 0, 0, NULL, NULL);
}
