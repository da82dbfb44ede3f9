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

/*
 * For implementers of a dma_port: where one DMA's pieces go. A request is
 * cut at 4 KiB page boundaries (a remapping unit translates each page on
 * its own); for each piece resolve gives its host-physical address (0
 * done, 1 the request is blocked, -1 error + err), then its structure words
 * move with read64 / write64 (0 / -1 + err) or its payload is handed to
 * payload (may be NULL: nothing to do).
 */
struct dma_page_ops {
	int (*resolve)(void *ctx, uint64_t addr, bool write, uint64_t *hpa, char *err);
	uint64_t (*read64)(void *ctx, uint64_t hpa);
	int (*write64)(void *ctx, uint64_t hpa, uint64_t val, char *err);
	int (*payload)(void *ctx, uint64_t hpa, uint32_t bytes, bool write, char *err);
};
/* Carry out a dma_port request (the dma() contract above) piece by piece
 * with ops. Returns what dma() returns: 0, 1 blocked, -1 error. */
int dma_by_page(const struct dma_page_ops *ops, void *ctx, uint64_t addr, uint32_t len, bool write, uint64_t *words,
		char *err);

struct sim_params;

/*
 * What the devices take from the parameters (src/cpu/params.c), derived
 * once by dev_params_from. Times in the models are core cycles: a
 * duration of t ns is ceil(t x cpu_freq_mhz / 1000) cycles.
 */
struct dev_params {
	uint64_t cpu_freq_mhz;  /* cpu.freq_mhz: core cycles per microsecond */
	uint64_t nic_gbps;      /* nic.gbps: line rate, Gb/s (= bits per ns) */
	uint64_t nvme_read_ns;  /* nvme.read_ns: Read latency */
	uint64_t nvme_write_ns; /* nvme.write_ns: Write latency */
};

void dev_params_from(const struct sim_params *p, struct dev_params *out);

/* Core cycles of t ns at the params' clock, rounded up. */
uint64_t dev_ns_to_cycles(const struct dev_params *p, uint64_t ns);
/* Core cycles a frame of len bytes takes on the NIC's wire: ceil(len x 8 x
 * cpu_freq_mhz / (nic_gbps x 1000)); 1514 bytes at 10 Gb/s and 4000 MHz:
 * ceil(4844.8) = 4845. */
uint64_t dev_wire_cycles(const struct dev_params *p, uint32_t len);

/*
 * A device of the given kind with PCI source-id sid (bus << 8 | dev << 3 |
 * fn) that drives dma_mask_bits address bits (32..64; bus addresses are
 * truncated to them, as a device with fewer address lines does: the
 * driver's DMA mask, e.g. swiotlb, must keep buffers below the limit). name
 * (copied) appears in error messages. Reaches memory and interrupts
 * through port; counts into ctr (dev.* counters). NULL + one line in err
 * (DEV_ERR_LEN) for bad mask bits or when out of memory.
 */
struct pci_dev *dev_create(enum dev_kind kind, const char *name, uint16_t sid, unsigned dma_mask_bits,
			   const struct dev_params *p, struct dma_port port, struct counters *ctr, char *err);
void dev_destroy(struct pci_dev *d);

uint16_t dev_sid(const struct pci_dev *d);
unsigned dev_dma_mask_bits(const struct pci_dev *d);
enum dev_kind dev_kind(const struct pci_dev *d);
const char *dev_name(const struct pci_dev *d);

/* BAR 0 size, bytes: NIC 128 KiB (8254x memory BAR), NVMe 16 KiB. */
uint64_t dev_bar_size(const struct pci_dev *d);

/*
 * MMIO access at BAR 0 offset off of size 4 or 8 bytes (naturally
 * aligned, inside the BAR). An 8-byte access is two 4-byte register
 * accesses, low then high (an NVMe 64-bit register, or two adjacent e1000
 * registers). Reserved offsets read 0 and ignore writes. Returns 0, -1 for
 * a bad offset or size (one line naming the device, offset and size) or
 * an error of the port (a DMA the write started: -1 from the port).
 */
int dev_mmio_read(struct pci_dev *d, uint64_t off, unsigned size, uint64_t *val, char *err);
int dev_mmio_write(struct pci_dev *d, uint64_t off, unsigned size, uint64_t val, char *err);

/* The MSI capability in config space as the OS programs it: message
 * address and data, and the MSI Enable bit. One vector per device (all
 * causes, all NVMe queues). With enable false nothing is sent. */
void dev_set_msi(struct pci_dev *d, uint64_t addr, uint32_t data, bool enable);

/*
 * The callback requested with port.schedule has come due. Each device has
 * one engine and at most one callback outstanding: its timed operations
 * (NIC frames either way, NVMe commands) are served one at a time in the
 * order they became ready (the port gives no clock, so two timers could
 * not be overlapped). 0, or -1 + err (no callback outstanding, or a port
 * error).
 */
int dev_event(struct pci_dev *d, char *err);

/*
 * The network delivers one frame of len bytes (60..16384; else -1 + err)
 * to the NIC: it arrives after its wire time (dev_wire_cycles), then is
 * DMA'd into the next free receive descriptors' buffers; no free
 * descriptor (or the receiver off or halted) -> dropped and counted
 * (dev.nic.rx.missed, the 8254x's MPC). At most 64 frames wait for the
 * engine; more are dropped and counted the same way. -1 + err also for a
 * device that is not a NIC.
 */
int nic_wire_rx(struct pci_dev *d, uint32_t len, char *err);

/* 8254x MPC (missed packets count, 0x4010): frames dropped so far. */
uint64_t nic_missed_packets(const struct pci_dev *d);

#endif
