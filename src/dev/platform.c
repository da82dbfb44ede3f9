/* The platform's routing of DMA, MSIs and BAR accesses; see platform.h. */
#include "dev/platform.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/paging.h"

static struct platform *pf_of(void *ctx)
{
	return ctx;
}

/* A DMA request's pieces: translated by the remapping unit when its
 * translation is enabled (GSTS.TES), else host-physical as given. */
struct pf_req {
	struct platform *pf;
	unsigned dev;  /* index of the requester */
	uint16_t sid;
	bool remap;
};

static int pf_resolve(void *ctx, uint64_t addr, bool write, uint64_t *hpa, char *err)
{
	(void)err;
	struct pf_req *r = ctx;
	*hpa = addr;
	if (!r->remap)
		return 0;
	struct vtd_request rq = {.sid = r->sid, .iova = addr, .write = write, .at = VTD_AT_UNTRANSLATED};
	struct vtd_xlate x;
	enum vtd_fault_reason f = iommu_translate(r->pf->iommu, &rq, &x);
	r->pf->xlate_cycles[r->dev] += x.cycles;
	if (f != VTD_FR_NONE)
		return 1; /* blocked; the unit recorded the fault */
	*hpa = x.hpa;
	return 0;
}

static uint64_t pf_read64(void *ctx, uint64_t hpa)
{
	return mem_read64(((struct pf_req *)ctx)->pf->mem, hpa);
}

static int pf_write64(void *ctx, uint64_t hpa, uint64_t val, char *err)
{
	if (mem_write64(((struct pf_req *)ctx)->pf->mem, hpa, val) < 0) {
		snprintf(err, DEV_ERR_LEN, "out of memory");
		return -1;
	}
	return 0;
}

/* One DMA request of a device: a device reaches host-physical memory only
 * below its DMA mask; payloads hold no contents (nothing to move). */
static int pf_dma(void *ctx, uint16_t sid, uint64_t addr, uint32_t len, bool write, uint64_t *words, char *err)
{
	static const struct dma_page_ops ops = {pf_resolve, pf_read64, pf_write64, NULL};
	struct platform *pf = pf_of(ctx);
	unsigned di = 0;
	while (di < pf->ndev && dev_sid(pf->dev[di]) != sid)
		di++;
	if (di == pf->ndev) {
		snprintf(err, DEV_ERR_LEN, "DMA from source-id 0x%04x, which no device on the platform has", sid);
		return -1;
	}
	unsigned bits = dev_dma_mask_bits(pf->dev[di]);
	if (len == 0)
		return 0;
	if (bits < 64 && (addr + len - 1) >> bits) {
		snprintf(err, DEV_ERR_LEN,
			 "device %02x:%02x.%x was given bus address 0x%" PRIx64 " (%u bytes), beyond its %u-bit DMA mask: "
			 "its driver should have bounced or remapped it",
			 sid >> 8, (sid >> 3) & 0x1f, sid & 7, addr, len, bits);
		return -1;
	}
	struct pf_req r = {pf, di, sid, pf->iommu && (iommu_reg_get(pf->iommu, VTD_REG_GSTS, 4) & VTD_GCMD_TE)};
	return dma_by_page(&ops, &r, addr, len, write, words, err);
}

/* The one core's local APIC (APIC id 0) takes fixed or lowest-priority,
 * edge-triggered interrupts of vectors 16-255; anything else is not
 * modelled and fails the run rather than being taken as such. */
static int pf_interrupt(struct platform *pf, uint32_t dest, unsigned dlm, bool level, unsigned vector)
{
	if (dlm > 1 || dest != 0 || level || vector < 16)
		return cpu_fail(pf->cpu, "an interrupt message to APIC %u, delivery mode %u, %s-triggered, vector %u: "
					 "only fixed or lowest-priority edge interrupts of vectors 16-255 to APIC 0 are "
					 "modelled", dest, dlm, level ? "level" : "edge", vector);
	cpu_raise_interrupt(pf->cpu, (uint8_t)vector);
	return 0;
}

static void pf_deliver(void *ctx, const struct vtd_irq_msg *m)
{
	pf_interrupt(pf_of(ctx), m->dest, m->dlm, m->level, m->vector); /* a failure is in the CPU's err */
}

struct vtd_irq_sink platform_irq_sink(struct platform *pf)
{
	return (struct vtd_irq_sink){pf, pf_deliver};
}

/* An MSI: remapped (or posted) by the unit when interrupt remapping is on,
 * else a compatibility-format message: vector = data[7:0] (SDM Vol. 3A
 * "Message Signalled Interrupts": address 0xFEEx_xxxx, fixed delivery). */
static int pf_msi(void *ctx, uint16_t sid, uint64_t addr, uint32_t data, char *err)
{
	struct platform *pf = pf_of(ctx);
	if ((addr >> 20) != 0xfee) {
		snprintf(err, DEV_ERR_LEN, "MSI from %02x:%02x.%x to 0x%" PRIx64 ", outside the interrupt range 0xFEEx_xxxx",
			 sid >> 8, (sid >> 3) & 0x1f, sid & 7, addr);
		return -1;
	}
	if (pf->iommu && (iommu_reg_get(pf->iommu, VTD_REG_GSTS, 4) & VTD_GCMD_IRE)) {
		struct vtd_ir_result r;
		iommu_msi(pf->iommu, sid, addr, data, &r); /* delivered to the sink, or blocked and recorded */
		return 0;
	}
	/* Compatibility format (SDM Vol. 3A "Message Signalled Interrupts"):
	 * destination id in address bits 19:12, vector in data bits 7:0,
	 * delivery mode 10:8, trigger mode bit 15. */
	if (pf_interrupt(pf, (uint32_t)(addr >> 12) & 0xff, (data >> 8) & 7, (data >> 15) & 1, data & 0xff) < 0) {
		snprintf(err, DEV_ERR_LEN, "%.250s", pf->cpu->err);
		return -1;
	}
	return 0;
}

static void pf_fire(void *ctx)
{
	struct platform_cb *cb = ctx;
	cb->pending = false;
	if (dev_event(cb->d, cb->pf->err) < 0)
		cpu_fail(cb->pf->cpu, "%s", cb->pf->err);
}

/* A device's completion is due after delay, plus the remapping unit's
 * cycles on its requests since it last scheduled. Each device has one
 * callback outstanding at a time (src/dev: one engine per device). */
static int pf_schedule(void *ctx, struct pci_dev *d, uint64_t delay, char *err)
{
	struct platform *pf = pf_of(ctx);
	unsigned i = 0;
	while (i < pf->ndev && pf->dev[i] != d)
		i++;
	if (i == pf->ndev || pf->cb[i].pending) {
		snprintf(err, DEV_ERR_LEN, "%s asked for a second completion callback while one is outstanding",
			 dev_name(d));
		return -1;
	}
	delay += pf->xlate_cycles[i];
	pf->xlate_cycles[i] = 0;
	pf->cb[i] = (struct platform_cb){pf, d, true};
	if (cpu_callback_in(pf->cpu, delay, pf_fire, &pf->cb[i]) < 0) {
		pf->cb[i].pending = false;
		snprintf(err, DEV_ERR_LEN, "%.250s", pf->cpu->err);
		return -1;
	}
	return 0;
}

static int pf_mmio_read(void *ctx, uint64_t off, unsigned size, uint64_t *val, char *err)
{
	return dev_mmio_read(ctx, off, size, val, err);
}

static int pf_mmio_write(void *ctx, uint64_t off, unsigned size, uint64_t val, char *err)
{
	return dev_mmio_write(ctx, off, size, val, err);
}

static int pf_net_rx(void *ctx, uint32_t len, char *err)
{
	struct platform *pf = pf_of(ctx);
	return nic_wire_rx(pf->nic, len, err);
}

void platform_init(struct platform *pf, struct cpu *cpu, struct phys_mem *mem, struct counters *ctr,
		   struct iommu *iommu)
{
	memset(pf, 0, sizeof(*pf));
	pf->cpu = cpu;
	pf->mem = mem;
	pf->ctr = ctr;
	pf->iommu = iommu;
}

void platform_destroy(struct platform *pf)
{
	for (unsigned i = 0; i < pf->ndev; i++)
		dev_destroy(pf->dev[i]);
	pf->ndev = 0;
}

int platform_add(struct platform *pf, enum dev_kind kind, const char *name, uint16_t sid, unsigned mask_bits,
		 uint64_t bar_hpa, struct pci_dev **out)
{
	if (pf->ndev == PLATFORM_MAX_DEVS)
		return cpu_fail(pf->cpu, "more than %d devices on the platform", PLATFORM_MAX_DEVS);
	struct dev_params dp;
	dev_params_from(pf->cpu->p, &dp);
	struct dma_port port = {pf_dma, pf_msi, pf_schedule, pf};
	struct pci_dev *d = dev_create(kind, name, sid, mask_bits, &dp, port, pf->ctr, pf->err);
	if (!d)
		return cpu_fail(pf->cpu, "%s", pf->err);
	struct mmio_window w = {bar_hpa, dev_bar_size(d), pf_mmio_read, pf_mmio_write, d};
	if (cpu_map_mmio(pf->cpu, &w) < 0) {
		dev_destroy(d);
		return -1;
	}
	pf->bar[pf->ndev] = bar_hpa;
	pf->dev[pf->ndev++] = d;
	if (kind == DEV_NIC && !pf->nic) {
		pf->nic = d;
		pf->cpu->net_rx = pf_net_rx;
		pf->cpu->net_rx_ctx = pf;
	}
	*out = d;
	return 0;
}
