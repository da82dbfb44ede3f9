/*
 * NIC: the legacy receive and transmit rings of an Intel 8254x (e1000),
 * SDM 317453 §3.2 (receive), §3.3 (transmit), §13 (registers).
 *
 * Notes:
 *  - Registers: CTRL (RST only), STATUS (reads 0x83: link up, full
 *    duplex, 1000 Mb/s), ICR/ICS/IMS/IMC, RCTL (EN, BSIZE/BSEX), TCTL
 *    (EN), the ring registers, MPC. Everything else reads 0 and ignores
 *    writes (no EEPROM, PHY, MAC filters, statistics beyond MPC,
 *    interrupt throttling or delay timers: an interrupt cause is signalled
 *    at once).
 *  - Transmit: a TDT write (with TCTL.EN) makes the device fetch
 *    descriptors from TDH on: one 16-byte structure read each, then a
 *    payload read of its length; the frame ends at the descriptor with
 *    CMD.EOP. The frame then takes its wire time (dev_wire_cycles:
 *    nic.gbps, no preamble or inter-frame gap); at completion descriptors
 *    with CMD.RS get STA.DD written back (an 8-byte structure write of
 *    their second word), TDH moves past the frame, and ICR.TXDW is raised
 *    if a descriptor was written back. No checksum or TCP segmentation
 *    offload (context descriptors are not recognised: every descriptor is
 *    legacy).
 *  - Receive: a frame from the wire (nic_wire_rx) arrives after its wire
 *    time; it then needs ceil(len / buffer size) free descriptors (RDH up
 *    to RDT - 1); if fewer are free, or the receiver is off, it is dropped
 *    (dev.nic.rx.missed, MPC) with no DMA. A real 8254x holds frames in a
 *    48-64 KiB on-chip FIFO until descriptors come; the model has no FIFO
 *    for descriptors to catch up with. Otherwise, per descriptor: a 16-byte
 *    structure read (buffer address), a payload write of up to one
 *    buffer, a write-back of the second word (length, status DD, EOP on
 *    the last); RDH advances; ICR.RXT0 is raised.
 *  - The two directions share the device's one engine (dev.h): a frame
 *    waits for the one on the wire before it.
 *  - A DMA the port reports blocked (e.g. a VT-d fault) stops that ring:
 *    counted (dev.dma.blocked), the frame is dropped, TDH/RDH stay where
 *    they were, no write-back and no interrupt; the ring stays halted
 *    until the driver clears TCTL.EN/RCTL.EN or resets the device
 *    (CTRL.RST). A real 8254x gets a master abort and stalls the queue
 *    much the same way; Linux's e1000 watchdog then reports "Detected Tx
 *    Unit Hang" and resets the adapter.
 */
#include <stdio.h>
#include <string.h>

#include "dev/dev_internal.h"
#include "dev/e1000_regs.h"

void nic_reset(struct pci_dev *d)
{
	memset(&d->u.nic, 0, sizeof(d->u.nic));
}

static uint32_t ring_count(uint32_t rdlen)
{
	return rdlen / E1000_DESC_BYTES;
}

static uint64_t rx_base(const struct nic_state *n)
{
	return (uint64_t)n->rdbah << 32 | n->rdbal;
}

static uint64_t tx_base(const struct nic_state *n)
{
	return (uint64_t)n->tdbah << 32 | n->tdbal;
}

/* RCTL.BSIZE/BSEX decode; 0 for the reserved BSEX = 1, BSIZE = 00. */
static uint32_t rx_buffer_size(uint32_t rctl)
{
	static const uint32_t plain[4] = {2048, 1024, 512, 256};
	static const uint32_t ext[4] = {0, 16384, 8192, 4096};
	unsigned b = (rctl & E1000_RCTL_BSIZE_MASK) >> E1000_RCTL_BSIZE_SHIFT;
	return (rctl & E1000_RCTL_BSEX) ? ext[b] : plain[b];
}

/* Raise causes; send the MSI if one of them is enabled in IMS. */
static int raise(struct pci_dev *d, uint32_t cause, char *err)
{
	struct nic_state *n = &d->u.nic;
	n->icr |= cause;
	if (n->icr & n->ims & cause)
		return dev_msi(d, err);
	return 0;
}

static void tx_drop_gather(struct nic_state *n)
{
	n->tx_fetch = n->tdh;
	n->tx_len = 0;
	n->tx_ndesc = 0;
}

/* Gather the next transmit frame from TDH/tx_fetch up to TDT; once its EOP
 * descriptor is read, put it on the wire. */
static int tx_start(struct pci_dev *d, char *err)
{
	struct nic_state *n = &d->u.nic;
	uint32_t cnt = ring_count(n->tdlen);
	if (!(n->tctl & E1000_TCTL_EN) || n->tx_halted || cnt == 0)
		return 0;
	while (n->tx_fetch != n->tdt && n->tx_fetch < cnt) {
		uint64_t w[2];
		int rc = dev_dma(d, tx_base(n) + (uint64_t)n->tx_fetch * E1000_DESC_BYTES, E1000_DESC_BYTES, false, w, err);
		if (rc < 0)
			return -1;
		if (rc == 1 || n->tx_ndesc == NIC_TX_MAX_DESC) {
			/* blocked, or a frame of more descriptors than the model keeps: halt */
			n->tx_halted = true;
			tx_drop_gather(n);
			return 0;
		}
		uint32_t len = (uint32_t)(w[1] & E1000_TXD_LEN_MASK);
		uint32_t cmd = (uint32_t)(w[1] >> E1000_TXD_CMD_SHIFT) & 0xFF;
		n->tx_word1[n->tx_ndesc++] = w[1];
		n->tx_fetch = (n->tx_fetch + 1) % cnt;
		if (len) {
			rc = dev_dma(d, w[0], len, false, NULL, err);
			if (rc < 0)
				return -1;
			if (rc == 1) {
				n->tx_halted = true;
				tx_drop_gather(n);
				return 0;
			}
		}
		n->tx_len += len;
		if (cmd & E1000_TXD_CMD_EOP) {
			n->tx_ready = true;
			return dev_schedule(d, dev_wire_cycles(&d->p, n->tx_len), err);
		}
	}
	return 0; /* no EOP yet: the rest of the frame comes with a later TDT */
}

/* Start the next timed operation if the engine is free: a received frame
 * first, else a transmit frame. */
static int nic_next(struct pci_dev *d, char *err)
{
	struct nic_state *n = &d->u.nic;
	if (d->event_pending || n->tx_ready || n->rx_on_wire)
		return 0;
	if (n->rxq_count) {
		n->rx_on_wire = true;
		return dev_schedule(d, dev_wire_cycles(&d->p, n->rxq[n->rxq_head]), err);
	}
	return tx_start(d, err);
}

static int tx_complete(struct pci_dev *d, char *err)
{
	struct nic_state *n = &d->u.nic;
	uint32_t cnt = ring_count(n->tdlen);
	bool written = false;
	n->tx_ready = false;
	for (uint32_t i = 0; i < n->tx_ndesc && cnt; i++) {
		uint64_t w = n->tx_word1[i];
		if (!((w >> E1000_TXD_CMD_SHIFT) & E1000_TXD_CMD_RS))
			continue;
		w |= (uint64_t)E1000_TXD_STA_DD << E1000_TXD_STA_SHIFT;
		uint64_t at = tx_base(n) + (uint64_t)((n->tdh + i) % cnt) * E1000_DESC_BYTES + 8;
		int rc = dev_dma(d, at, 8, true, &w, err);
		if (rc < 0)
			return -1;
		if (rc == 1) {
			n->tx_halted = true;
			tx_drop_gather(n);
			return 0;
		}
		written = true;
	}
	ctr_inc(d->ctr, CTR_DEV_NIC_TX_FRAMES);
	ctr_add(d->ctr, CTR_DEV_NIC_TX_BYTES, n->tx_len);
	n->tdh = n->tx_fetch;
	n->tx_len = 0;
	n->tx_ndesc = 0;
	return written ? raise(d, E1000_ICR_TXDW, err) : 0;
}

static void rx_missed(struct pci_dev *d)
{
	ctr_inc(d->ctr, CTR_DEV_NIC_RX_MISSED);
	d->u.nic.mpc++;
}

/* The frame of len bytes has arrived: into the descriptors at RDH. */
static int rx_deliver(struct pci_dev *d, uint32_t len, char *err)
{
	struct nic_state *n = &d->u.nic;
	uint32_t cnt = ring_count(n->rdlen);
	uint32_t bsize = rx_buffer_size(n->rctl);
	if (!(n->rctl & E1000_RCTL_EN) || n->rx_halted || cnt == 0 || bsize == 0 || n->rdh >= cnt || n->rdt >= cnt) {
		rx_missed(d);
		return 0;
	}
	uint32_t free_desc = (n->rdt + cnt - n->rdh) % cnt;
	uint32_t need = (len + bsize - 1) / bsize;
	if (free_desc < need) {
		rx_missed(d);
		return 0;
	}
	for (uint32_t done = 0; done < len;) {
		uint32_t chunk = len - done < bsize ? len - done : bsize;
		uint64_t at = rx_base(n) + (uint64_t)n->rdh * E1000_DESC_BYTES;
		uint64_t w[2];
		int rc = dev_dma(d, at, E1000_DESC_BYTES, false, w, err);
		if (rc == 0)
			rc = dev_dma(d, w[0], chunk, true, NULL, err);
		if (rc == 0) {
			done += chunk;
			uint64_t sta = E1000_RXD_STA_DD | (done == len ? E1000_RXD_STA_EOP : 0);
			uint64_t wb = (uint64_t)chunk << E1000_RXD_LEN_SHIFT | sta << E1000_RXD_STATUS_SHIFT;
			rc = dev_dma(d, at + 8, 8, true, &wb, err);
		}
		if (rc < 0)
			return -1;
		if (rc == 1) {
			n->rx_halted = true;
			rx_missed(d);
			return 0;
		}
		n->rdh = (n->rdh + 1) % cnt;
	}
	ctr_inc(d->ctr, CTR_DEV_NIC_RX_FRAMES);
	ctr_add(d->ctr, CTR_DEV_NIC_RX_BYTES, len);
	return raise(d, E1000_ICR_RXT0, err);
}

int nic_event(struct pci_dev *d, char *err)
{
	struct nic_state *n = &d->u.nic;
	int rc = 0;
	if (n->tx_ready) {
		rc = tx_complete(d, err);
	} else if (n->rx_on_wire) {
		uint32_t len = n->rxq[n->rxq_head];
		n->rx_on_wire = false;
		n->rxq_head = (n->rxq_head + 1) % NIC_RX_QUEUE;
		n->rxq_count--;
		rc = rx_deliver(d, len, err);
	}
	/* else: the device was reset while the operation was in flight */
	if (rc < 0)
		return -1;
	return nic_next(d, err);
}

int nic_wire_rx(struct pci_dev *d, uint32_t len, char *err)
{
	if (d->kind != DEV_NIC) {
		snprintf(err, DEV_ERR_LEN, "device %s: nic_wire_rx on a device that is not a NIC", d->name);
		return -1;
	}
	if (len < 60 || len > 16384) {
		snprintf(err, DEV_ERR_LEN, "device %s: received frame of %u bytes (60..16384)", d->name, len);
		return -1;
	}
	struct nic_state *n = &d->u.nic;
	if (n->rxq_count == NIC_RX_QUEUE) {
		rx_missed(d);
		return 0;
	}
	n->rxq[(n->rxq_head + n->rxq_count) % NIC_RX_QUEUE] = len;
	n->rxq_count++;
	return nic_next(d, err);
}

uint64_t nic_missed_packets(const struct pci_dev *d)
{
	return d->kind == DEV_NIC ? d->u.nic.mpc : 0;
}

uint32_t nic_reg_read(struct pci_dev *d, uint32_t off)
{
	struct nic_state *n = &d->u.nic;
	uint32_t v;
	switch (off) {
	case E1000_CTRL: return n->ctrl;
	case E1000_STATUS: return E1000_STATUS_FD | E1000_STATUS_LU | E1000_STATUS_SPEED_1000;
	case E1000_ICR:
		v = n->icr;
		n->icr = 0;
		return v;
	case E1000_IMS: return n->ims;
	case E1000_RCTL: return n->rctl;
	case E1000_TCTL: return n->tctl;
	case E1000_MPC:
		v = n->mpc > UINT32_MAX ? UINT32_MAX : (uint32_t)n->mpc;
		n->mpc = 0;
		return v;
	case E1000_RDBAL: return n->rdbal;
	case E1000_RDBAH: return n->rdbah;
	case E1000_RDLEN: return n->rdlen;
	case E1000_RDH: return n->rdh;
	case E1000_RDT: return n->rdt;
	case E1000_TDBAL: return n->tdbal;
	case E1000_TDBAH: return n->tdbah;
	case E1000_TDLEN: return n->tdlen;
	case E1000_TDH: return n->tdh;
	case E1000_TDT: return n->tdt;
	default: return 0;
	}
}

int nic_reg_write(struct pci_dev *d, uint32_t off, uint32_t val, char *err)
{
	struct nic_state *n = &d->u.nic;
	switch (off) {
	case E1000_CTRL:
		if (val & E1000_CTRL_RST) {
			nic_reset(d);
			val &= ~E1000_CTRL_RST;
		}
		n->ctrl = val;
		return 0;
	case E1000_ICR: n->icr &= ~val; return 0; /* write 1 to clear */
	case E1000_ICS: return raise(d, val, err);
	case E1000_IMS:
		n->ims |= val;
		return (n->icr & val) ? dev_msi(d, err) : 0;
	case E1000_IMC: n->ims &= ~val; return 0;
	case E1000_RCTL:
		if (!(val & E1000_RCTL_EN))
			n->rx_halted = false;
		n->rctl = val;
		return 0;
	case E1000_TCTL:
		if (!(val & E1000_TCTL_EN) && !n->tx_ready) {
			n->tx_halted = false;
			tx_drop_gather(n);
		}
		n->tctl = val;
		return nic_next(d, err);
	case E1000_RDBAL: n->rdbal = val & ~UINT32_C(0xF); return 0;
	case E1000_RDBAH: n->rdbah = val; return 0;
	case E1000_RDLEN: n->rdlen = val & UINT32_C(0xFFF80); return 0;
	case E1000_RDH: n->rdh = val & 0xFFFF; return 0;
	case E1000_RDT: n->rdt = val & 0xFFFF; return 0;
	case E1000_TDBAL: n->tdbal = val & ~UINT32_C(0xF); return 0;
	case E1000_TDBAH: n->tdbah = val; return 0;
	case E1000_TDLEN: n->tdlen = val & UINT32_C(0xFFF80); return 0;
	case E1000_TDH:
		n->tdh = val & 0xFFFF;
		if (!n->tx_ready)
			tx_drop_gather(n);
		return 0;
	case E1000_TDT:
		n->tdt = val & 0xFFFF;
		return nic_next(d, err);
	default: return 0;
	}
}
