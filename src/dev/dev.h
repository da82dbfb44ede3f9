/*
 * DMA-capable PCI devices: the endpoints of the platform (hardware). A
 * device decodes MMIO accesses to its BAR 0, reads and writes its rings
 * and buffers in memory by DMA through a dma_port (the platform decides
 * what a bus address means: host-physical directly, remapped by the VT-d
 * unit, or, for a VMM's emulated device, the VMM's own access to guest
 * memory), signals completions with MSI messages, and asks for a callback
 * when a transfer's time has passed.
 *
 * Two models, each a register-level subset of a real part:
 *  - NIC: Intel 8254x (e1000) legacy receive and transmit descriptor rings
 *    (PCI/PCI-X Family of Gigabit Ethernet Controllers Software Developer's
 *    Manual, 317453: §3.2.3 receive descriptor, §3.3.3 legacy transmit
 *    descriptor, §13 registers); see nic.c.
 *  - NVMe: an NVM Express controller with an admin queue pair and I/O
 *    queue pairs created by admin commands, Read/Write with PRP1/PRP2 and
 *    PRP lists (NVM Express Base Specification 1.4: §3.1 controller
 *    registers, §4.2 submission queue entry, §4.6 completion queue entry,
 *    §4.3 PRP entries); see nvme.c.
 *
 * Payload data is not stored (data pages hold no contents, src/mem/mem.h):
 * a payload DMA is translated, checked and counted, not copied. Descriptor
 * and queue-entry words are real and read/written through the port.
 */
#ifndef VTSIM_DEV_DEV_H
#define VTSIM_DEV_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include "stats/counters.h"

#define DEV_ERR_LEN 256

struct pci_dev;

/*
 * How a device reaches memory and the interrupt controller; provided by
 * the platform (src/cli/platform.c natively, src/vmm for VMX modes).
 *  - dma: a DMA read (write = false) or write of len bytes at bus address
 *    addr by source-id sid. words != NULL: a structure access (descriptor,
 *    queue entry, PRP list), addr 8-byte aligned, len a multiple of 8 up to
 *    64, words[] read into or written from; words == NULL: payload (len up
 *    to 2 MiB; counted and translated, not stored). Returns 0 done, 1
 *    blocked (the request was aborted, e.g. a remapping fault the platform
 *    recorded; the device reports an error for it), -1 simulation error
 *    (one line in err, DEV_ERR_LEN).
 *  - msi: the device sends an MSI (a DWORD write of data to addr). 0 / -1.
 *  - schedule: call dev_event(d) delay cycles from now. 0 / -1.
 */
struct dma_port {
	int (*dma)(void *ctx, uint16_t sid, uint64_t addr, uint32_t len, bool write, uint64_t *words, char *err);
	int (*msi)(void *ctx, uint16_t sid, uint64_t addr, uint32_t data, char *err);
	int (*schedule)(void *ctx, struct pci_dev *d, uint64_t delay, char *err);
	void *ctx;
};

enum dev_kind { DEV_NIC, DEV_NVME };

#endif
