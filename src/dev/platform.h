/*
 * The platform around the core (hardware): the root complex that routes a
 * device's DMA to memory (directly, or through the VT-d remapping unit
 * when one is present and its translation is enabled), its MSIs to the
 * local APIC (through interrupt remapping when enabled), and the core's
 * loads and stores of a BAR to the device (an MMIO window of the CPU). It
 * also holds the network the NIC is cabled to.
 *
 * Timing: the cycles the remapping unit spends translating a device's
 * requests (iommu.mem_read_cycles per reference it makes, see iommu.h) are
 * added to the delay of the device's next completion: an IOTLB miss makes
 * the transfer finish later, as [PCIEB] measures.
 *
 * Addresses: BAR 0 of device i sits at platform_bar_hpa(mem_bytes, i) in
 * host-physical space, above the top of memory on a 1 GiB boundary, 1 MiB
 * apart (64-bit BARs placed above memory, as firmware does for large
 * address spaces).
 */
#ifndef VTSIM_DEV_PLATFORM_H
#define VTSIM_DEV_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/cpu.h"
#include "dev/dev.h"
#include "iommu/iommu.h"

#define PLATFORM_MAX_DEVS 4
#define PLATFORM_BAR_STRIDE (UINT64_C(1) << 20)

/* Source-ids of the platform's devices: the NIC at 00:03.0, the NVMe
 * controller at 00:04.0 (QEMU's default slots for a first NIC and disk). */
#define PLATFORM_SID_NIC 0x0018
#define PLATFORM_SID_NVME 0x0020

struct platform {
	struct cpu *cpu;
	struct phys_mem *mem;
	struct counters *ctr;
	struct iommu *iommu;          /* NULL: no remapping unit */
	struct pci_dev *dev[PLATFORM_MAX_DEVS];
	uint64_t bar[PLATFORM_MAX_DEVS];
	unsigned ndev;
	struct pci_dev *nic;          /* the one the network is cabled to, or NULL */
	uint64_t xlate_cycles[PLATFORM_MAX_DEVS]; /* per device: the unit's cycles on its DMA since it last scheduled */
	struct platform_cb {
		struct platform *pf;
		struct pci_dev *d;
		bool pending;
	} cb[PLATFORM_MAX_DEVS];      /* each device's one outstanding completion callback */
	char err[DEV_ERR_LEN];
};

/* BAR 0 of device i above memory of mem_bytes (bytes). */
static inline uint64_t platform_bar_hpa(uint64_t mem_bytes, unsigned i)
{
	uint64_t top = (mem_bytes + (UINT64_C(1) << 30) - 1) & ~((UINT64_C(1) << 30) - 1);
	return top + i * PLATFORM_BAR_STRIDE;
}

/* A platform for cpu with memory mem; iommu may be NULL. Installs itself as
 * the CPU's network (cpu->net_rx) once a NIC is added. */
void platform_init(struct platform *pf, struct cpu *cpu, struct phys_mem *mem, struct counters *ctr,
		   struct iommu *iommu);
void platform_destroy(struct platform *pf);

/*
 * Plug in a device of kind with requester id sid and a DMA mask of
 * mask_bits; its BAR 0 goes at bar_hpa and becomes an MMIO window of the
 * CPU. *out gets the device (owned by the platform). 0, or -1 with a
 * message in the CPU's err.
 */
int platform_add(struct platform *pf, enum dev_kind kind, const char *name, uint16_t sid, unsigned mask_bits,
		 uint64_t bar_hpa, struct pci_dev **out);

/* The interrupt sink the remapping unit delivers to (the local APIC). */
struct vtd_irq_sink platform_irq_sink(struct platform *pf);

#endif
