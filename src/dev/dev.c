/*
 * DMA-capable PCI devices: what the NIC and NVMe models share.
 *
 * Notes:
 *  - MMIO: 4- or 8-byte naturally aligned accesses inside BAR 0; an 8-byte
 *    access is two 4-byte register accesses, low half first.
 *  - DMA: every request goes through the port; the bus address is
 *    truncated to the device's DMA mask bits (a device drives only that
 *    many address lines). Payload is counted, never copied.
 *  - Interrupts: one MSI vector, sent when the model raises a cause the
 *    OS has enabled, if MSI is enabled in config space. No INTx.
 *  - Time: one engine per device, one callback outstanding (dev.h).
 */
#include "dev/dev_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/params.h"
#include "dev/e1000_regs.h"
#include "dev/nvme_regs.h"

void dev_params_from(const struct sim_params *p, struct dev_params *out)
{
	out->cpu_freq_mhz = p->cpu_freq_mhz;
	out->nic_gbps = p->nic_gbps;
	out->nvme_read_ns = p->nvme_read_ns;
	out->nvme_write_ns = p->nvme_write_ns;
}

uint64_t dev_ns_to_cycles(const struct dev_params *p, uint64_t ns)
{
	return (ns * p->cpu_freq_mhz + 999) / 1000;
}

uint64_t dev_wire_cycles(const struct dev_params *p, uint32_t len)
{
	uint64_t num = (uint64_t)len * 8 * p->cpu_freq_mhz;
	uint64_t den = p->nic_gbps * 1000;
	return (num + den - 1) / den;
}

struct pci_dev *dev_create(enum dev_kind kind, const char *name, uint16_t sid, unsigned dma_mask_bits,
			   const struct dev_params *p, struct dma_port port, struct counters *ctr, char *err)
{
	if (dma_mask_bits < 32 || dma_mask_bits > 64) {
		snprintf(err, DEV_ERR_LEN, "device %s: DMA mask of %u bits (32..64 allowed)", name, dma_mask_bits);
		return NULL;
	}
	if (kind != DEV_NIC && kind != DEV_NVME) {
		snprintf(err, DEV_ERR_LEN, "device %s: unknown kind %d", name, (int)kind);
		return NULL;
	}
	struct pci_dev *d = calloc(1, sizeof(*d));
	char *n = d ? strdup(name) : NULL;
	if (!n) {
		free(d);
		snprintf(err, DEV_ERR_LEN, "device %s: out of memory", name);
		return NULL;
	}
	d->kind = kind;
	d->name = n;
	d->sid = sid;
	d->mask_bits = dma_mask_bits;
	d->dma_mask = dma_mask_bits == 64 ? UINT64_MAX : (UINT64_C(1) << dma_mask_bits) - 1;
	d->p = *p;
	d->port = port;
	d->ctr = ctr;
	if (kind == DEV_NIC)
		nic_reset(d);
	else
		nvme_reset(d);
	return d;
}

void dev_destroy(struct pci_dev *d)
{
	if (!d)
		return;
	free(d->name);
	free(d);
}

uint16_t dev_sid(const struct pci_dev *d)
{
	return d->sid;
}

unsigned dev_dma_mask_bits(const struct pci_dev *d)
{
	return d->mask_bits;
}

enum dev_kind dev_kind(const struct pci_dev *d)
{
	return d->kind;
}

const char *dev_name(const struct pci_dev *d)
{
	return d->name;
}

uint64_t dev_bar_size(const struct pci_dev *d)
{
	return d->kind == DEV_NIC ? E1000_BAR_SIZE : NVME_BAR_SIZE;
}

void dev_set_msi(struct pci_dev *d, uint64_t addr, uint32_t data, bool enable)
{
	d->msi_addr = addr;
	d->msi_data = data;
	d->msi_enable = enable;
}

static int check_access(const struct pci_dev *d, uint64_t off, unsigned size, const char *what, char *err)
{
	if ((size != 4 && size != 8) || off % size || off >= dev_bar_size(d) || dev_bar_size(d) - off < size) {
		snprintf(err, DEV_ERR_LEN, "device %s: bad MMIO %s at BAR offset 0x%" PRIx64 " of %u bytes (BAR %" PRIu64
			 " bytes; 4 or 8 bytes, aligned)", d->name, what, off, size, dev_bar_size(d));
		return -1;
	}
	return 0;
}

static uint32_t reg_read(struct pci_dev *d, uint32_t off)
{
	return d->kind == DEV_NIC ? nic_reg_read(d, off) : nvme_reg_read(d, off);
}

static int reg_write(struct pci_dev *d, uint32_t off, uint32_t val, char *err)
{
	return d->kind == DEV_NIC ? nic_reg_write(d, off, val, err) : nvme_reg_write(d, off, val, err);
}

int dev_mmio_read(struct pci_dev *d, uint64_t off, unsigned size, uint64_t *val, char *err)
{
	if (check_access(d, off, size, "read", err) < 0)
		return -1;
	ctr_inc(d->ctr, CTR_DEV_MMIO_READS);
	uint64_t v = reg_read(d, (uint32_t)off);
	if (size == 8)
		v |= (uint64_t)reg_read(d, (uint32_t)off + 4) << 32;
	*val = v;
	return 0;
}

int dev_mmio_write(struct pci_dev *d, uint64_t off, unsigned size, uint64_t val, char *err)
{
	if (check_access(d, off, size, "write", err) < 0)
		return -1;
	ctr_inc(d->ctr, CTR_DEV_MMIO_WRITES);
	if (reg_write(d, (uint32_t)off, (uint32_t)val, err) < 0)
		return -1;
	if (size == 8 && reg_write(d, (uint32_t)off + 4, (uint32_t)(val >> 32), err) < 0)
		return -1;
	return 0;
}

int dev_dma(struct pci_dev *d, uint64_t addr, uint32_t len, bool write, uint64_t *words, char *err)
{
	ctr_inc(d->ctr, CTR_DEV_DMA_REQUESTS);
	ctr_add(d->ctr, CTR_DEV_DMA_BYTES, len);
	int rc = d->port.dma(d->port.ctx, d->sid, addr & d->dma_mask, len, write, words, err);
	if (rc == 1)
		ctr_inc(d->ctr, CTR_DEV_DMA_BLOCKED);
	return rc;
}

int dev_msi(struct pci_dev *d, char *err)
{
	if (!d->msi_enable)
		return 0;
	ctr_inc(d->ctr, CTR_DEV_MSI);
	return d->port.msi(d->port.ctx, d->sid, d->msi_addr, d->msi_data, err);
}

int dev_schedule(struct pci_dev *d, uint64_t delay, char *err)
{
	d->event_pending = true;
	return d->port.schedule(d->port.ctx, d, delay, err);
}

int dev_event(struct pci_dev *d, char *err)
{
	if (!d->event_pending) {
		snprintf(err, DEV_ERR_LEN, "device %s: dev_event with no callback outstanding", d->name);
		return -1;
	}
	d->event_pending = false;
	return d->kind == DEV_NIC ? nic_event(d, err) : nvme_event(d, err);
}

int dma_by_page(const struct dma_page_ops *ops, void *ctx, uint64_t addr, uint32_t len, bool write, uint64_t *words,
		char *err)
{
	const uint64_t page = UINT64_C(4096);
	uint64_t done = 0;
	while (done < len) {
		uint64_t a = addr + done;
		uint64_t chunk = page - (a & (page - 1));
		if (chunk > len - done)
			chunk = len - done;
		uint64_t hpa;
		int rc = ops->resolve(ctx, a, write, &hpa, err);
		if (rc != 0)
			return rc;
		if (words) {
			for (uint64_t i = 0; i < chunk / 8; i++) {
				uint64_t *w = &words[done / 8 + i];
				if (!write)
					*w = ops->read64(ctx, hpa + 8 * i);
				else if (ops->write64(ctx, hpa + 8 * i, *w, err) < 0)
					return -1;
			}
		} else if (ops->payload && ops->payload(ctx, hpa, (uint32_t)chunk, write, err) < 0) {
			return -1;
		}
		done += chunk;
	}
	return 0;
}
