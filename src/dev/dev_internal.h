/*
 * The device object shared by dev.c (common: creation, MMIO decoding,
 * DMA and MSI through the port, the engine's one callback) and the models
 * nic.c and nvme.c. Not for users of dev.h.
 */
#ifndef VTSIM_DEV_DEV_INTERNAL_H
#define VTSIM_DEV_DEV_INTERNAL_H

#include "dev/dev.h"

#define NIC_RX_QUEUE 64u          /* frames waiting for the engine */
#define NIC_TX_MAX_DESC 64u       /* descriptors of one transmit frame */
#define NVME_MAX_QUEUES 16u       /* queue ids 0 (admin) .. 15 */

struct nic_state {
	uint32_t ctrl, icr, ims, rctl, tctl;
	uint32_t rdbal, rdbah, rdlen, rdh, rdt;
	uint32_t tdbal, tdbah, tdlen, tdh, tdt;
	uint64_t mpc;
	bool rx_halted, tx_halted; /* a blocked DMA stopped the ring */
	/* the transmit frame being gathered: descriptors tdh..tx_fetch-1 */
	uint32_t tx_fetch, tx_len, tx_ndesc;
	bool tx_ready;             /* the frame reached EOP and is on the wire */
	uint64_t tx_word1[NIC_TX_MAX_DESC]; /* their second words, for the DD write-back */
	/* frames arriving from the wire, oldest first */
	uint32_t rxq[NIC_RX_QUEUE];
	unsigned rxq_head, rxq_count;
	bool rx_on_wire;           /* rxq[rxq_head] is the operation in flight */
};

struct nvme_sq {
	bool live;
	uint64_t base;
	uint32_t size, head, tail; /* entries */
	uint16_t cqid;
};

struct nvme_cq {
	bool live, phase, ien;
	uint64_t base;
	uint32_t size, head, tail;
};

/* A command fetched and executed, waiting for its latency to pass. */
struct nvme_done {
	uint16_t sqid, cid, status;
	uint32_t sqhd;
};

struct nvme_state {
	uint32_t cc, csts, aqa;
	uint64_t asq, acq;
	struct nvme_sq sq[NVME_MAX_QUEUES];
	struct nvme_cq cq[NVME_MAX_QUEUES];
	unsigned rr;             /* round-robin arbitration: the SQ served last */
	bool busy;               /* done holds the command in flight */
	bool stalled;            /* its CQ was full: posted at the next CQ head doorbell */
	struct nvme_done done;
};

struct pci_dev {
	enum dev_kind kind;
	char *name;
	uint16_t sid;
	unsigned mask_bits;
	uint64_t dma_mask;
	struct dev_params p;
	struct dma_port port;
	struct counters *ctr;
	uint64_t msi_addr;
	uint32_t msi_data;
	bool msi_enable;
	bool event_pending;      /* port.schedule was called, dev_event not yet */
	union {
		struct nic_state nic;
		struct nvme_state nvme;
	} u;
};

/* A DMA through the port (address truncated to the mask, counted): 0 done,
 * 1 blocked (counted in dev.dma.blocked), -1 error. */
int dev_dma(struct pci_dev *d, uint64_t addr, uint32_t len, bool write, uint64_t *words, char *err);
/* Send the MSI if enabled (counted). 0 / -1. */
int dev_msi(struct pci_dev *d, char *err);
/* Ask for dev_event after delay cycles (one outstanding at a time). 0 / -1. */
int dev_schedule(struct pci_dev *d, uint64_t delay, char *err);

/* The models: 32-bit register access at a 4-byte aligned offset inside the
 * BAR; the event; reset. */
uint32_t nic_reg_read(struct pci_dev *d, uint32_t off);
int nic_reg_write(struct pci_dev *d, uint32_t off, uint32_t val, char *err);
int nic_event(struct pci_dev *d, char *err);
void nic_reset(struct pci_dev *d);
uint32_t nvme_reg_read(struct pci_dev *d, uint32_t off);
int nvme_reg_write(struct pci_dev *d, uint32_t off, uint32_t val, char *err);
int nvme_event(struct pci_dev *d, char *err);
void nvme_reset(struct pci_dev *d);

#endif
