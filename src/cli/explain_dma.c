/*
 * Notes: `vtsim explain dma` (see explain.h). The hardware is the unit of
 * src/iommu with the profile's parameters; the software is the VMM's
 * driver; this file only sets them up, sends the request and decodes what
 * the unit's result record says it read. Host memory is the default
 * host.mem_mib, so every table is reachable.
 */
#include <inttypes.h>
#include <string.h>

#include "arch/paging.h"
#include "arch/vtd.h"
#include "cli/explain.h"
#include "iommu/iommu.h"
#include "vmm/iommu_drv.h"

struct irq_log {
	unsigned n;
	struct vtd_irq_msg last;
};

static void log_irq(void *ctx, const struct vtd_irq_msg *m)
{
	struct irq_log *l = ctx;
	l->n++;
	l->last = *m;
}

static const char *size_name(unsigned shift)
{
	return shift == 30 ? "1 GiB" : shift == 21 ? "2 MiB" : "4 KiB";
}

static const char *sl_name(unsigned level)
{
	static const char *const n[] = {"?", "SL-PTE", "SL-PDE", "SL-PDPE", "SL-PML4E", "SL-PML5E"};
	return level <= 5 ? n[level] : "?";
}

static void decode_ref(const struct vtd_ref *r, uint64_t iova, char *what, size_t wl, char *dec, size_t dl)
{
	switch (r->kind) {
	case VTD_REF_ROOT:
		snprintf(what, wl, "root entry[%" PRIu64 "]", (r->addr & 0xfff) / 16);
		if (!(r->lo & VTD_ROOT_P))
			snprintf(dec, dl, "not present");
		else
			snprintf(dec, dl, "P -> context table 0x%" PRIx64, r->lo & VTD_GENMASK(63, 12));
		return;
	case VTD_REF_CONTEXT: {
		snprintf(what, wl, "context entry[0x%02" PRIx64 "]", (r->addr & 0xfff) / 16);
		if (!(r->lo & VTD_CTX_P)) {
			snprintf(dec, dl, "not present");
			return;
		}
		static const char *const tt[] = {"untranslated", "device-TLB", "pass-through", "reserved"};
		unsigned aw = (unsigned)(r->hi & VTD_CTX_HI_AW_MASK);
		snprintf(dec, dl, "P%s TT=%u%u (%s) AW=%u (%u-bit, %u-level) DID=%u -> SL table 0x%" PRIx64,
			 (r->lo & VTD_CTX_FPD) ? " FPD" : "", (unsigned)((r->lo >> 3) & 1), (unsigned)((r->lo >> 2) & 1), tt[(r->lo >> 2) & 3], aw,
			 vtd_aw_bits(aw), vtd_aw_levels(aw), (unsigned)((r->hi >> 8) & 0xffff), r->lo & VTD_GENMASK(63, 12));
		return;
	}
	case VTD_REF_SL: {
		unsigned idx = (unsigned)((iova >> (12 + 9 * (r->level - 1))) & 511);
		snprintf(what, wl, "%s[%u]", sl_name(r->level), idx);
		if (!(r->lo & VTD_SL_RW)) {
			snprintf(dec, dl, "not present (R = W = 0)");
			return;
		}
		bool leaf = r->level == 1 || (r->lo & VTD_SL_PS);
		snprintf(dec, dl, "%s%s%s%s -> %s 0x%" PRIx64, (r->lo & VTD_SL_R) ? "R" : "-", (r->lo & VTD_SL_W) ? "W" : "-",
			 (r->level > 1 && (r->lo & VTD_SL_PS)) ? " PS" : "", (r->lo & VTD_SL_SNP) ? " SNP" : "",
			 leaf ? "page" : "table", r->lo & VTD_SL_ADDR_MASK);
		return;
	}
	default:
		snprintf(what, wl, "?");
		snprintf(dec, dl, "?");
		return;
	}
}

static void print_request(struct iommu *u, const struct vtd_request *rq, struct vtd_xlate *x, FILE *out)
{
	iommu_translate(u, rq, x);
	if (!x->cc_hit)
		fprintf(out, "context cache: miss for source-id 0x%04x: the unit reads the root and context entries\n",
			rq->sid);
	else
		fprintf(out, "context cache: hit for source-id 0x%04x (domain %u): root and context entries skipped\n",
			rq->sid, x->did);
	unsigned n = 0;
	bool said_iotlb = false;
	for (unsigned i = 0; i <= x->nrefs; i++) {
		bool sl = i < x->nrefs && x->ref[i].kind == VTD_REF_SL;
		if (!said_iotlb && x->iotlb_looked && (sl || i == x->nrefs)) {
			said_iotlb = true;
			if (x->iotlb_hit)
				fprintf(out, "IOTLB: hit for domain %u, IOVA page 0x%" PRIx64 " (%s): no walk\n", x->did,
					rq->iova >> x->page_shift, size_name(x->page_shift));
			else {
				fprintf(out, "IOTLB: miss for domain %u, IOVA 0x%" PRIx64 ": second-level walk, %u levels\n",
					x->did, rq->iova, x->levels);
				if (x->ptc_hit_level)
					fprintf(out, "  -  %s cache hit for IOVA 0x%" PRIx64 " (domain %u): the levels above are "
						     "skipped\n",
						sl_name(x->ptc_hit_level), rq->iova, x->did);
			}
		}
		if (i == x->nrefs)
			break;
		char what[48], dec[200];
		const struct vtd_ref *r = &x->ref[i];
		decode_ref(r, rq->iova, what, sizeof(what), dec, sizeof(dec));
		if (r->kind == VTD_REF_CONTEXT)
			snprintf(dec + strlen(dec), sizeof(dec) - strlen(dec), " (high qword 0x%" PRIx64 ")", r->hi);
		fprintf(out, "%3u  %-22s 0x%-10" PRIx64 " 0x%016" PRIx64 " %5" PRIu64 "  %s\n", ++n, what, r->addr, r->lo,
			u->cfg.mem_read_cycles, dec);
	}
	fprintf(out, "%u references, %" PRIu64 " cycles\n", x->nrefs, x->cycles);
}

/* Send the request of o and print its path, its result or its fault. 0, or
 * -1 with a message in err. */
static int send_and_explain(const struct explain_dma_opts *o, struct iommu *u, struct iommu_drv *d,
			    const struct irq_log *irqs, const struct iommu_config *cfg, FILE *out, char *err)
{
	struct vtd_xlate x;
	fprintf(out, "\n%3s  %-22s %-12s %-18s %5s  %s\n", "#", "entry read", "entry HPA", "value (low qword)", "cyc",
		"decoded");
	struct vtd_request rq = {o->sid, o->iova, o->write, VTD_AT_UNTRANSLATED};
	print_request(u, &rq, &x, out);
	if (x.fault == VTD_FR_NONE) {
		fprintf(out, "result: IOVA 0x%" PRIx64 " -> HPA 0x%" PRIx64 " (a %s page, %s%s; cached in the IOTLB for domain %u)\n",
			o->iova, x.hpa, size_name(x.page_shift), (x.perm & VTD_SL_R) ? "R" : "-",
			(x.perm & VTD_SL_W) ? "W" : "-", x.did);
		return 0;
	}
	fprintf(out, "blocked: the DMA %s of IOVA 0x%" PRIx64 " faults with reason 0x%02x (%s)\n", o->write ? "write" : "read",
		o->iova, x.fault, vtd_fault_reason_name(x.fault));
	if (x.disp == VTD_FAULT_RECORDED)
		fprintf(out, "the unit records it in FRCD%u and, FECTL.IM being 0, sends the fault event: vector 0x%02x to APIC %u\n",
			x.frcd_index, irqs->last.vector, irqs->last.dest);
	uint32_t fsts = (uint32_t)iommu_mmio_read(u, VTD_REG_FSTS, 4);
	unsigned fri = (fsts >> VTD_FSTS_FRI_SHIFT) & 0xff;
	unsigned off = VTD_CAP_FRO(cfg->cap) * 16 + 16 * fri;
	uint64_t lo = iommu_mmio_read(u, off, 8), hi = iommu_mmio_read(u, off + 8, 8);
	fprintf(out, "fault record as the driver reads it:\n");
	fprintf(out, "  FSTS  (0x%03x) 0x%08x  PPF=%u PFO=%u FRI=%u\n", VTD_REG_FSTS, fsts, (fsts & VTD_FSTS_PPF) != 0,
		(fsts & VTD_FSTS_PFO) != 0, fri);
	fprintf(out, "  FRCD%u (0x%03x) 0x%016" PRIx64 "%016" PRIx64 "  F=%u T=%u (%s) FR=0x%02x SID=0x%04x FI=0x%" PRIx64 "\n", fri,
		off, hi, lo, (unsigned)(hi >> 63), (unsigned)((hi >> 62) & 1), (hi & VTD_FRCD_HI_T) ? "read" : "write",
		(unsigned)((hi >> 32) & 0xff), (unsigned)(hi & 0xffff), lo);
	struct iommu_fault_report f[4];
	unsigned n = 0;
	bool ovf = false;
	if (iommu_drv_faults(d, f, 4, &n, &ovf) < 0) {
		snprintf(err, CPU_ERR_LEN, "%s", d->err);
		return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		char line[200];
		iommu_drv_format_fault(&f[i], line, sizeof(line));
		fprintf(out, "  driver: %s\n", line);
	}
	fprintf(out, "  the driver clears F (writes 1 to FRCD%u bit 127); FSTS now reads 0x%08x\n", fri,
		(uint32_t)iommu_mmio_read(u, VTD_REG_FSTS, 4));
	return 0;
}

/* The devices of o->setup, as the driver (and the file's fields) set them
 * up, then the request; see explain.h. */
static int explain_dma_setup(const struct explain_dma_opts *o, struct phys_mem *mem, struct frame_alloc *fa,
			     struct iommu *u, const struct irq_log *irqs, const struct iommu_config *cfg,
			     struct counters *ctr, FILE *out, char *err)
{
	const struct setup *st = o->setup;
	struct iommu_drv d;
	if (iommu_drv_init(&d, u, mem, fa, ctr) < 0)
		goto drv_err;
	for (unsigned i = 0; i < st->ndomains; i++) {
		uint16_t did;
		if (iommu_drv_domain_alloc(&d, &did) < 0)
			goto drv_err;
	}
	for (unsigned i = 0; i < st->niomaps; i++) {
		const struct setup_iomap *m = &st->iomap[i];
		unsigned shift = m->bytes == (UINT64_C(1) << 30) ? 30 : m->bytes == (UINT64_C(1) << 21) ? 21 : 12;
		if ((shift == 21 && !(VTD_CAP_SLLPS(cfg->cap) & 1)) || (shift == 30 && !(VTD_CAP_SLLPS(cfg->cap) & 2))) {
			snprintf(err, CPU_ERR_LEN, "%.200s:%u: the unit has no %s second-level pages (CAP.SLLPS of iommu.cap 0x%" PRIx64
				 ")", st->path, m->line, size_name(shift), cfg->cap);
			return -1;
		}
		if (iommu_drv_map(&d, (uint16_t)m->domain, m->iova, m->hpa, m->bytes, m->prot) < 0) {
			snprintf(err, CPU_ERR_LEN, "%.200s:%u: %.250s", st->path, m->line, d.err);
			return -1;
		}
	}
	for (unsigned i = 0; i < st->ndevs; i++) {
		const struct setup_device *v = &st->dev[i];
		if (iommu_drv_attach(&d, (uint16_t)v->domain, v->sid) < 0) {
			snprintf(err, CPU_ERR_LEN, "%.200s:%u: %.250s", st->path, v->line, d.err);
			return -1;
		}
		/* The fields the file sets, written over the driver's entry. */
		uint64_t at = d.ctx[VTD_SID_BUS(v->sid)] + 16 * VTD_SID_DEVFN(v->sid);
		uint64_t lo = mem_read64(mem, at), hi = mem_read64(mem, at + 8);
		if (v->set_p)
			lo = (lo & ~VTD_CTX_P) | (v->p ? VTD_CTX_P : 0);
		if (v->set_fpd)
			lo = (lo & ~VTD_CTX_FPD) | (v->fpd ? VTD_CTX_FPD : 0);
		if (v->set_tt)
			lo = (lo & ~VTD_CTX_TT_MASK) | ((uint64_t)v->tt << VTD_CTX_TT_SHIFT);
		if (v->set_aw)
			hi = (hi & ~VTD_CTX_HI_AW_MASK) | v->aw;
		if (v->set_did)
			hi = (hi & ~(UINT64_C(0xffff) << VTD_CTX_HI_DID_SHIFT)) | ((uint64_t)v->did << VTD_CTX_HI_DID_SHIFT);
		if (mem_write64(mem, at, lo) < 0 || mem_write64(mem, at + 8, hi) < 0) {
			snprintf(err, CPU_ERR_LEN, "out of memory");
			return -1;
		}
	}
	fprintf(out, "explain dma: device %02x:%02x.%x (source-id 0x%04x), DMA %s of IOVA 0x%" PRIx64 ", %s caches, profile %s\n",
		VTD_SID_BUS(o->sid), VTD_SID_DEVFN(o->sid) >> 3, VTD_SID_DEVFN(o->sid) & 7, o->sid,
		o->write ? "write" : "read", o->iova, o->warm ? "warm" : "cold", cpu_profiles[o->params.cpu_profile].name);
	fprintf(out, "unit:   VT-d legacy mode, CAP 0x%" PRIx64 ", ECAP 0x%" PRIx64 ", MGAW %u, root table at HPA 0x%" PRIx64
		     ", each memory reference %" PRIu64 " cycles\n",
		cfg->cap, cfg->ecap, VTD_CAP_MGAW(cfg->cap), d.root, cfg->mem_read_cycles);
	fprintf(out, "driver: set up from %s: %u domain%s (%u-level tables, AW %u), %u mapping%s\n", st->path, st->ndomains,
		st->ndomains == 1 ? "" : "s", d.levels, d.aw, st->niomaps, st->niomaps == 1 ? "" : "s");
	for (unsigned i = 0; i < st->niomaps; i++) {
		const struct setup_iomap *m = &st->iomap[i];
		fprintf(out, "  domain %u: IOVA 0x%" PRIx64 "-0x%" PRIx64 " -> HPA 0x%" PRIx64 " (%s, %s%s)\n", m->domain, m->iova,
			m->iova + m->bytes - 1, m->hpa,
			size_name(m->bytes == (UINT64_C(1) << 30) ? 30 : m->bytes == (UINT64_C(1) << 21) ? 21 : 12),
			(m->prot & VTD_SL_R) ? "R" : "-", (m->prot & VTD_SL_W) ? "W" : "-");
	}
	for (unsigned i = 0; i < st->ndevs; i++) {
		const struct setup_device *v = &st->dev[i];
		uint64_t at = d.ctx[VTD_SID_BUS(v->sid)] + 16 * VTD_SID_DEVFN(v->sid);
		fprintf(out, "  device %02x:%02x.%x in domain %u: context entry at HPA 0x%" PRIx64 " = 0x%016" PRIx64 "%016" PRIx64
			     "%s\n",
			VTD_SID_BUS(v->sid), VTD_SID_DEVFN(v->sid) >> 3, VTD_SID_DEVFN(v->sid) & 7, v->domain, at,
			mem_read64(mem, at + 8), mem_read64(mem, at),
			(v->set_p || v->set_fpd || v->set_tt || v->set_aw || v->set_did) ? " (fields from the file)" : "");
	}
	if (o->warm) {
		/* The neighbouring 4 KiB page in the same mapping of the device's domain. */
		const struct setup_iomap *m = NULL;
		unsigned dom = 0;
		for (unsigned i = 0; i < st->ndevs; i++)
			if (st->dev[i].sid == o->sid)
				dom = st->dev[i].domain;
		for (unsigned i = 0; i < st->niomaps; i++)
			if (st->iomap[i].domain == dom && o->iova - st->iomap[i].iova < st->iomap[i].bytes)
				m = &st->iomap[i];
		if (!m || m->bytes == PAGE_SIZE) {
			snprintf(err, CPU_ERR_LEN, "--warm: IOVA 0x%" PRIx64 " has no neighbouring page in a mapping of the "
				 "device's domain to warm the caches with", o->iova);
			return -1;
		}
		uint64_t nb = (o->iova & PAGE_MASK) + PAGE_SIZE;
		if (nb - m->iova >= m->bytes)
			nb = (o->iova & PAGE_MASK) - PAGE_SIZE;
		struct vtd_xlate x;
		struct vtd_request pre = {o->sid, nb, false, VTD_AT_UNTRANSLATED};
		iommu_translate(u, &pre, &x);
		fprintf(out, "warm-up: a DMA read of the neighbouring page IOVA 0x%" PRIx64 " first (%u references, %" PRIu64
			     " cycles)\n",
			nb, x.nrefs, x.cycles);
	}
	return send_and_explain(o, u, &d, irqs, cfg, out, err);
drv_err:
	snprintf(err, CPU_ERR_LEN, "%s", d.err);
	return -1;
}

int explain_dma(const struct explain_dma_opts *o, FILE *out, char *err)
{
	struct phys_mem mem;
	struct counters ctr;
	struct frame_alloc fa;
	struct iommu u;
	struct iommu_drv d;
	struct irq_log irqs = {0, {0}};
	struct iommu_config cfg;
	int rc = -1;
	memset(&ctr, 0, sizeof(ctr));
	if (mem_init(&mem) < 0) {
		snprintf(err, CPU_ERR_LEN, "out of memory");
		return -1;
	}
	frame_alloc_init(&fa, EXPLAIN_DMA_TABLES, UINT64_C(256) << 20);
	iommu_config_from_params(&o->params, o->params.host_mem_mib << 20, &cfg);
	if (iommu_init(&u, &cfg, &mem, &ctr, (struct vtd_irq_sink){&irqs, log_irq}, err) < 0)
		goto out_mem;
	if (o->setup) {
		rc = explain_dma_setup(o, &mem, &fa, &u, &irqs, &cfg, &ctr, out, err);
		goto out_unit;
	}
	uint16_t did;
	const uint64_t ps = UINT64_C(1) << o->page_shift;
	const uint64_t window = o->page_shift == 12 ? UINT64_C(1) << 21 : 2 * ps;
	const uint64_t base = EXPLAIN_DATA_GPA;
	if (iommu_drv_init(&d, &u, &mem, &fa, &ctr) < 0 || iommu_drv_domain_alloc(&d, &did) < 0 ||
	    iommu_drv_attach(&d, did, EXPLAIN_DMA_SID) < 0) {
		snprintf(err, CPU_ERR_LEN, "%s", d.err);
		goto out_unit;
	}
	d.large_pages = o->page_shift > 12;
	if ((o->page_shift == 21 && !(VTD_CAP_SLLPS(cfg.cap) & 1)) || (o->page_shift == 30 && !(VTD_CAP_SLLPS(cfg.cap) & 2))) {
		snprintf(err, CPU_ERR_LEN, "the unit has no %s second-level pages (CAP.SLLPS of iommu.cap 0x%" PRIx64 ")",
			 size_name(o->page_shift), cfg.cap);
		goto out_unit;
	}
	if (iommu_drv_map(&d, did, base, base + EXPLAIN_HOST_OFFSET, window, VTD_SL_RW) < 0) {
		snprintf(err, CPU_ERR_LEN, "%s", d.err);
		goto out_unit;
	}
	const unsigned mgaw = VTD_CAP_MGAW(cfg.cap);
	fprintf(out, "explain dma: device %02x:%02x.%x (source-id 0x%04x), DMA %s of IOVA 0x%" PRIx64 ", %s caches, profile %s\n",
		VTD_SID_BUS(o->sid), VTD_SID_DEVFN(o->sid) >> 3, VTD_SID_DEVFN(o->sid) & 7, o->sid,
		o->write ? "write" : "read", o->iova, o->warm ? "warm" : "cold", cpu_profiles[o->params.cpu_profile].name);
	fprintf(out, "unit:   VT-d legacy mode, CAP 0x%" PRIx64 ", ECAP 0x%" PRIx64 ", MGAW %u, root table at HPA 0x%" PRIx64
		     ", each memory reference %" PRIu64 " cycles\n",
		cfg.cap, cfg.ecap, mgaw, d.root, cfg.mem_read_cycles);
	fprintf(out, "driver: device 00:02.0 alone in domain %u, %u-level tables (AW %u); maps IOVA = GPA 0x%" PRIx64 "-0x%" PRIx64
		     " to HPA GPA + 0x%" PRIx64 " with %s pages read/write\n",
		did, d.levels, d.aw, base, base + window - 1, EXPLAIN_HOST_OFFSET, size_name(o->page_shift));
	struct vtd_xlate x;
	if (o->warm) {
		uint64_t nb = (o->iova & ~(ps - 1)) + ps;
		if (nb < base || nb >= base + window)
			nb = (o->iova & ~(ps - 1)) - ps;
		if (nb < base || nb >= base + window)
			nb = base;
		struct vtd_request pre = {o->sid, nb, false, VTD_AT_UNTRANSLATED};
		iommu_translate(&u, &pre, &x);
		fprintf(out, "warm-up: a DMA read of the neighbouring page IOVA 0x%" PRIx64 " first (%u references, %" PRIu64
			     " cycles)\n",
			nb, x.nrefs, x.cycles);
	}
	rc = send_and_explain(o, &u, &d, &irqs, &cfg, out, err);
out_unit:
	iommu_destroy(&u);
out_mem:
	frame_alloc_destroy(&fa);
	mem_destroy(&mem);
	return rc;
}
