/*
 * Unit tests for the DMA-capable devices (src/dev): an e1000 NIC and an
 * NVMe controller driven through their registers, behind a fake dma_port
 * over simulated memory that records every request. Expected values are
 * worked out by hand from the 8254x SDM (317453) and NVMe 1.4 layouts, at
 * the default parameters: cpu.freq_mhz 4000, nic.gbps 10, nvme.read_ns =
 * nvme.write_ns = 10000.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/params.h"
#include "dev/dev.h"
#include "dev/e1000_regs.h"
#include "dev/nvme_regs.h"
#include "mem/mem.h"

#define SID_NIC 0x0010 /* 00:02.0 */
#define SID_NVME 0x0018 /* 00:03.0 */
#define MSI_ADDR UINT64_C(0xFEE00000)
#define MSI_DATA 0x4021u
#define MAX_REQS 256

struct req {
	uint16_t sid;
	uint64_t addr;
	uint32_t len;
	bool write, structure;
};

struct fake {
	struct phys_mem mem;
	struct counters ctr;
	struct dev_params p;
	struct req reqs[MAX_REQS];
	unsigned nreq;
	unsigned nmsi;
	uint64_t msi_addr;
	uint32_t msi_data;
	unsigned nsched;
	uint64_t last_delay;
	struct pci_dev *sched_dev;
	uint64_t blk_lo, blk_hi; /* requests in [lo, hi) are blocked */
	bool blk_payload_only;
};

static struct fake F;
static struct pci_dev *D;
static char err[DEV_ERR_LEN];

static int fake_dma(void *ctx, uint16_t sid, uint64_t addr, uint32_t len, bool write, uint64_t *words, char *e)
{
	struct fake *f = ctx;
	(void)e;
	ck_assert_uint_lt(f->nreq, MAX_REQS);
	f->reqs[f->nreq++] = (struct req){sid, addr, len, write, words != NULL};
	if (addr >= f->blk_lo && addr < f->blk_hi && (!words || !f->blk_payload_only))
		return 1;
	if (words) {
		ck_assert_uint_eq(addr % 8, 0);
		ck_assert_uint_eq(len % 8, 0);
		ck_assert_uint_le(len, 64);
		for (uint32_t i = 0; i < len / 8; i++) {
			if (write)
				ck_assert_int_eq(mem_write64(&f->mem, addr + 8 * i, words[i]), 0);
			else
				words[i] = mem_read64(&f->mem, addr + 8 * i);
		}
	}
	return 0;
}

static int fake_msi(void *ctx, uint16_t sid, uint64_t addr, uint32_t data, char *e)
{
	struct fake *f = ctx;
	(void)e;
	(void)sid;
	f->nmsi++;
	f->msi_addr = addr;
	f->msi_data = data;
	return 0;
}

static int fake_schedule(void *ctx, struct pci_dev *d, uint64_t delay, char *e)
{
	struct fake *f = ctx;
	(void)e;
	f->nsched++;
	f->last_delay = delay;
	f->sched_dev = d;
	return 0;
}

static struct dma_port fake_port(void)
{
	return (struct dma_port){fake_dma, fake_msi, fake_schedule, &F};
}

static void setup_common(void)
{
	memset(&F, 0, sizeof(F));
	ck_assert_int_eq(mem_init(&F.mem), 0);
	struct sim_params sp;
	params_defaults(&sp);
	dev_params_from(&sp, &F.p);
}

static void setup_nic(void)
{
	setup_common();
	D = dev_create(DEV_NIC, "nic0", SID_NIC, 64, &F.p, fake_port(), &F.ctr, err);
	ck_assert_msg(D != NULL, "%s", err);
	dev_set_msi(D, MSI_ADDR, MSI_DATA, true);
}

static void setup_nvme(void)
{
	setup_common();
	D = dev_create(DEV_NVME, "nvme0", SID_NVME, 64, &F.p, fake_port(), &F.ctr, err);
	ck_assert_msg(D != NULL, "%s", err);
	dev_set_msi(D, MSI_ADDR, MSI_DATA, true);
}

static void teardown(void)
{
	dev_destroy(D);
	D = NULL;
	mem_destroy(&F.mem);
}

static void w32(uint64_t off, uint64_t v)
{
	ck_assert_msg(dev_mmio_write(D, off, 4, v, err) == 0, "%s", err);
}

static void w64(uint64_t off, uint64_t v)
{
	ck_assert_msg(dev_mmio_write(D, off, 8, v, err) == 0, "%s", err);
}

static uint64_t r32(uint64_t off)
{
	uint64_t v = 0;
	ck_assert_msg(dev_mmio_read(D, off, 4, &v, err) == 0, "%s", err);
	return v;
}

static uint64_t r64(uint64_t off)
{
	uint64_t v = 0;
	ck_assert_msg(dev_mmio_read(D, off, 8, &v, err) == 0, "%s", err);
	return v;
}

static void fire(void)
{
	ck_assert_ptr_eq(F.sched_dev, D);
	ck_assert_msg(dev_event(D, err) == 0, "%s", err);
}

static void check_req(unsigned i, uint64_t addr, uint32_t len, bool write, bool structure, uint16_t sid)
{
	ck_assert_uint_lt(i, F.nreq);
	ck_assert_uint_eq(F.reqs[i].addr, addr);
	ck_assert_uint_eq(F.reqs[i].len, len);
	ck_assert_int_eq(F.reqs[i].write, write);
	ck_assert_int_eq(F.reqs[i].structure, structure);
	ck_assert_uint_eq(F.reqs[i].sid, sid);
}

/* ---- common ---- */

START_TEST(test_dev_create_and_accessors)
{
	setup_common();
	ck_assert_ptr_null(dev_create(DEV_NIC, "nic9", 1, 31, &F.p, fake_port(), &F.ctr, err));
	ck_assert_str_eq(err, "device nic9: DMA mask of 31 bits (32..64 allowed)");
	ck_assert_ptr_null(dev_create(DEV_NVME, "nvme9", 1, 65, &F.p, fake_port(), &F.ctr, err));
	ck_assert_str_eq(err, "device nvme9: DMA mask of 65 bits (32..64 allowed)");
	D = dev_create(DEV_NVME, "nvme1", 0x0120, 32, &F.p, fake_port(), &F.ctr, err);
	ck_assert_ptr_nonnull(D);
	ck_assert_uint_eq(dev_sid(D), 0x0120);
	ck_assert_uint_eq(dev_dma_mask_bits(D), 32);
	ck_assert_int_eq(dev_kind(D), DEV_NVME);
	ck_assert_str_eq(dev_name(D), "nvme1");
	ck_assert_uint_eq(dev_bar_size(D), 16384);
	struct pci_dev *n = dev_create(DEV_NIC, "nic1", 0x0121, 64, &F.p, fake_port(), &F.ctr, err);
	ck_assert_ptr_nonnull(n);
	ck_assert_uint_eq(dev_bar_size(n), 131072);
	dev_destroy(n);
	teardown();
}
END_TEST

START_TEST(test_dev_params_and_times)
{
	setup_common();
	ck_assert_uint_eq(F.p.cpu_freq_mhz, 4000);
	ck_assert_uint_eq(F.p.nic_gbps, 10);
	ck_assert_uint_eq(F.p.nvme_read_ns, 10000);
	ck_assert_uint_eq(F.p.nvme_write_ns, 10000);
	/* 1514 B = 12112 bits = 1211.2 ns at 10 Gb/s = 4844.8 cycles at 4 GHz, rounded up */
	ck_assert_uint_eq(dev_wire_cycles(&F.p, 1514), 4845);
	/* 8192 B = 65536 bits = 6553.6 ns = 26214.4 cycles */
	ck_assert_uint_eq(dev_wire_cycles(&F.p, 8192), 26215);
	ck_assert_uint_eq(dev_ns_to_cycles(&F.p, 10000), 40000);
	struct sim_params sp;
	params_defaults(&sp);
	ck_assert_int_eq(params_set(&sp, "nic.gbps=25", err), 0);
	ck_assert_int_eq(params_set(&sp, "cpu.freq_mhz=3000", err), 0);
	struct dev_params p;
	dev_params_from(&sp, &p);
	/* 1514 x 8 x 3000 / 25000 = 1453.44 -> 1454 */
	ck_assert_uint_eq(dev_wire_cycles(&p, 1514), 1454);
	mem_destroy(&F.mem);
}
END_TEST

START_TEST(test_dev_mmio_bad_access)
{
	setup_nic();
	uint64_t v;
	ck_assert_int_eq(dev_mmio_read(D, 0x20000, 4, &v, err), -1);
	ck_assert_str_eq(err, "device nic0: bad MMIO read at BAR offset 0x20000 of 4 bytes (BAR 131072 bytes; 4 or 8 bytes, aligned)");
	ck_assert_int_eq(dev_mmio_write(D, 0x8, 2, 0, err), -1);
	ck_assert_str_eq(err, "device nic0: bad MMIO write at BAR offset 0x8 of 2 bytes (BAR 131072 bytes; 4 or 8 bytes, aligned)");
	ck_assert_int_eq(dev_mmio_read(D, 0x4, 8, &v, err), -1);
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_MMIO_READS], 0);
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_MMIO_WRITES], 0);
	teardown();
}
END_TEST

/* ---- NIC ---- */

#define TX_RING 0x10000u
#define TX_BUF 0x20000u
#define RX_RING 0x30000u
#define RX_BUF 0x40000u

START_TEST(test_dev_nic_status)
{
	setup_nic();
	/* FD (bit 0) | LU (bit 1) | SPEED = 10b (bits 7:6): 0x83 */
	ck_assert_uint_eq(r32(E1000_STATUS), 0x83);
	ck_assert_uint_eq(r32(0x5000), 0); /* reserved */
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_MMIO_READS], 2);
	teardown();
}
END_TEST

static void nic_tx_ring(void)
{
	w32(E1000_TDBAL, TX_RING);
	w32(E1000_TDBAH, 0);
	w32(E1000_TDLEN, 8 * E1000_DESC_BYTES);
	w32(E1000_TDH, 0);
	w32(E1000_TDT, 0);
	w32(E1000_IMS, E1000_ICR_TXDW);
	w32(E1000_TCTL, E1000_TCTL_EN);
}

static void tx_desc(unsigned i, uint64_t buf, uint16_t len, uint8_t cmd)
{
	mem_write64(&F.mem, TX_RING + 16 * i, buf);
	mem_write64(&F.mem, TX_RING + 16 * i + 8, len | (uint64_t)cmd << 24);
}

START_TEST(test_dev_nic_tx_one_frame)
{
	setup_nic();
	nic_tx_ring();
	tx_desc(0, TX_BUF, 1514, E1000_TXD_CMD_EOP | E1000_TXD_CMD_IFCS | E1000_TXD_CMD_RS);
	ck_assert_uint_eq(F.nreq, 0);
	w32(E1000_TDT, 1);
	/* one descriptor read (16 bytes = 2 words), one payload read of 1514 */
	ck_assert_uint_eq(F.nreq, 2);
	check_req(0, TX_RING, 16, false, true, SID_NIC);
	check_req(1, TX_BUF, 1514, false, false, SID_NIC);
	ck_assert_uint_eq(F.nsched, 1);
	ck_assert_uint_eq(F.last_delay, 4845);
	ck_assert_uint_eq(r32(E1000_TDH), 0); /* not before the frame is on the wire */
	ck_assert_uint_eq(F.nmsi, 0);
	fire();
	/* DD written back: the second word, STA (bits 39:32) = 1 */
	ck_assert_uint_eq(F.nreq, 3);
	check_req(2, TX_RING + 8, 8, true, true, SID_NIC);
	ck_assert_uint_eq(mem_read64(&F.mem, TX_RING + 8), 1514 | (uint64_t)0x0B << 24 | UINT64_C(1) << 32);
	ck_assert_uint_eq(r32(E1000_TDH), 1);
	ck_assert_uint_eq(F.nmsi, 1);
	ck_assert_uint_eq(F.msi_addr, MSI_ADDR);
	ck_assert_uint_eq(F.msi_data, MSI_DATA);
	ck_assert_uint_eq(r32(E1000_ICR), E1000_ICR_TXDW);
	ck_assert_uint_eq(r32(E1000_ICR), 0); /* read to clear */
	ck_assert_uint_eq(F.nsched, 1);      /* nothing more to do */
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_NIC_TX_FRAMES], 1);
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_NIC_TX_BYTES], 1514);
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_DMA_REQUESTS], 3);
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_DMA_BYTES], 16 + 1514 + 8);
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_MSI], 1);
	ck_assert_int_eq(dev_event(D, err), -1); /* no callback outstanding */
	ck_assert_str_eq(err, "device nic0: dev_event with no callback outstanding");
	teardown();
}
END_TEST

START_TEST(test_dev_nic_tx_two_descriptor_frame_and_no_rs)
{
	setup_nic();
	nic_tx_ring();
	/* frame 1: header 54 + payload 1460 in two descriptors, RS on the last;
	 * frame 2: 60 bytes without RS */
	tx_desc(0, TX_BUF, 54, 0);
	tx_desc(1, TX_BUF + 0x1000, 1460, E1000_TXD_CMD_EOP | E1000_TXD_CMD_RS);
	tx_desc(2, TX_BUF + 0x2000, 60, E1000_TXD_CMD_EOP);
	w32(E1000_TDT, 1); /* only the first half: no EOP yet, nothing on the wire */
	ck_assert_uint_eq(F.nreq, 2);
	ck_assert_uint_eq(F.nsched, 0);
	w32(E1000_TDT, 3);
	ck_assert_uint_eq(F.nreq, 4); /* the second descriptor; the third waits for the engine */
	check_req(2, TX_RING + 16, 16, false, true, SID_NIC);
	check_req(3, TX_BUF + 0x1000, 1460, false, false, SID_NIC);
	ck_assert_uint_eq(F.last_delay, 4845);
	fire();
	/* write-back of descriptor 1 only, then frame 2 gathered: 60 B = 192 cycles */
	check_req(4, TX_RING + 24, 8, true, true, SID_NIC);
	check_req(5, TX_RING + 32, 16, false, true, SID_NIC);
	check_req(6, TX_BUF + 0x2000, 60, false, false, SID_NIC);
	ck_assert_uint_eq(F.nsched, 2);
	ck_assert_uint_eq(F.last_delay, 192);
	ck_assert_uint_eq(r32(E1000_TDH), 2);
	ck_assert_uint_eq(F.nmsi, 1);
	fire();
	ck_assert_uint_eq(F.nreq, 7); /* no RS: no write-back */
	ck_assert_uint_eq(r32(E1000_TDH), 3);
	ck_assert_uint_eq(F.nmsi, 1); /* and no TXDW */
	ck_assert_uint_eq(r32(E1000_ICR), E1000_ICR_TXDW);
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_NIC_TX_FRAMES], 2);
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_NIC_TX_BYTES], 1574);
	teardown();
}
END_TEST

static void nic_rx_ring(uint32_t rctl, uint32_t rdt)
{
	for (unsigned i = 0; i < 8; i++) {
		mem_write64(&F.mem, RX_RING + 16 * i, RX_BUF + 0x800 * i);
		mem_write64(&F.mem, RX_RING + 16 * i + 8, 0);
	}
	w64(E1000_RDBAL, RX_RING); /* RDBAL and RDBAH in one 8-byte write */
	w32(E1000_RDLEN, 8 * E1000_DESC_BYTES);
	w32(E1000_RDH, 0);
	w32(E1000_RDT, rdt);
	w32(E1000_IMS, E1000_ICR_RXT0);
	w32(E1000_RCTL, rctl);
}

START_TEST(test_dev_nic_rx_spans_descriptors)
{
	setup_nic();
	nic_rx_ring(E1000_RCTL_EN, 7); /* BSIZE 00, BSEX 0: 2048-byte buffers; 7 free */
	ck_assert_uint_eq(r64(E1000_RDBAL), RX_RING);
	ck_assert_msg(nic_wire_rx(D, 8192, err) == 0, "%s", err);
	ck_assert_uint_eq(F.nreq, 0); /* still on the wire */
	ck_assert_uint_eq(F.nsched, 1);
	ck_assert_uint_eq(F.last_delay, 26215);
	fire();
	ck_assert_uint_eq(F.nreq, 12);
	for (unsigned i = 0; i < 4; i++) {
		check_req(3 * i, RX_RING + 16 * i, 16, false, true, SID_NIC);
		check_req(3 * i + 1, RX_BUF + 0x800 * i, 2048, true, false, SID_NIC);
		check_req(3 * i + 2, RX_RING + 16 * i + 8, 8, true, true, SID_NIC);
		uint64_t sta = i == 3 ? 0x03 : 0x01; /* DD, and EOP on the last */
		ck_assert_uint_eq(mem_read64(&F.mem, RX_RING + 16 * i + 8), 2048 | sta << 32);
	}
	ck_assert_uint_eq(mem_read64(&F.mem, RX_RING + 16 * 4 + 8), 0);
	ck_assert_uint_eq(r32(E1000_RDH), 4);
	ck_assert_uint_eq(r32(E1000_ICR), E1000_ICR_RXT0);
	ck_assert_uint_eq(F.nmsi, 1);
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_NIC_RX_FRAMES], 1);
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_NIC_RX_BYTES], 8192);
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_NIC_RX_MISSED], 0);
	/* BSEX = 1, BSIZE = 10b: 8192-byte buffers, the same frame in one */
	w32(E1000_RCTL, E1000_RCTL_EN | E1000_RCTL_BSEX | (2u << E1000_RCTL_BSIZE_SHIFT));
	ck_assert_int_eq(nic_wire_rx(D, 8192, err), 0);
	fire();
	ck_assert_uint_eq(F.nreq, 15);
	check_req(13, RX_BUF + 0x800 * 4, 8192, true, false, SID_NIC);
	ck_assert_uint_eq(mem_read64(&F.mem, RX_RING + 16 * 4 + 8), 8192 | UINT64_C(0x03) << 32);
	ck_assert_uint_eq(r32(E1000_RDH), 5);
	teardown();
}
END_TEST

START_TEST(test_dev_nic_rx_missed)
{
	setup_nic();
	nic_rx_ring(E1000_RCTL_EN, 0); /* RDH = RDT: no free descriptor */
	ck_assert_int_eq(nic_wire_rx(D, 1514, err), 0);
	fire();
	ck_assert_uint_eq(F.nreq, 0);
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_NIC_RX_MISSED], 1);
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_NIC_RX_FRAMES], 0);
	ck_assert_uint_eq(F.nmsi, 0);
	/* three free, a frame needing four (8192 / 2048) is missed whole */
	w32(E1000_RDT, 3);
	ck_assert_int_eq(nic_wire_rx(D, 8192, err), 0);
	fire();
	ck_assert_uint_eq(F.nreq, 0);
	ck_assert_uint_eq(nic_missed_packets(D), 2);
	ck_assert_uint_eq(r32(E1000_MPC), 2);
	ck_assert_uint_eq(r32(E1000_MPC), 0); /* read to clear */
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_NIC_RX_MISSED], 2);
	ck_assert_int_eq(nic_wire_rx(D, 59, err), -1);
	ck_assert_str_eq(err, "device nic0: received frame of 59 bytes (60..16384)");
	teardown();
}
END_TEST

START_TEST(test_dev_nic_blocked_dma_halts_ring)
{
	setup_nic();
	nic_tx_ring();
	tx_desc(0, TX_BUF, 1514, E1000_TXD_CMD_EOP | E1000_TXD_CMD_RS);
	tx_desc(1, TX_BUF, 1514, E1000_TXD_CMD_EOP | E1000_TXD_CMD_RS);
	F.blk_lo = TX_BUF;
	F.blk_hi = TX_BUF + 0x1000;
	w32(E1000_TDT, 1);
	ck_assert_uint_eq(F.nreq, 2);
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_DMA_BLOCKED], 1);
	ck_assert_uint_eq(F.nsched, 0);
	ck_assert_uint_eq(r32(E1000_TDH), 0);
	w32(E1000_TDT, 2); /* halted: nothing fetched */
	ck_assert_uint_eq(F.nreq, 2);
	/* the driver resets the ring: TCTL.EN 0, TDH = TDT = 0, EN 1 */
	F.blk_hi = 0;
	w32(E1000_TCTL, 0);
	w32(E1000_TDT, 0);
	w32(E1000_TDH, 0);
	w32(E1000_TCTL, E1000_TCTL_EN);
	w32(E1000_TDT, 1);
	ck_assert_uint_eq(F.nreq, 4);
	ck_assert_uint_eq(F.nsched, 1);
	fire();
	ck_assert_uint_eq(r32(E1000_TDH), 1);
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_NIC_TX_FRAMES], 1);
	teardown();
}
END_TEST

START_TEST(test_dev_nic_interrupt_mask_and_ics)
{
	setup_nic();
	w32(E1000_ICS, E1000_ICR_RXT0); /* masked: no message */
	ck_assert_uint_eq(F.nmsi, 0);
	w32(E1000_IMS, E1000_ICR_RXT0); /* unmasking a pending cause sends it */
	ck_assert_uint_eq(F.nmsi, 1);
	w32(E1000_IMC, E1000_ICR_RXT0);
	ck_assert_uint_eq(r32(E1000_IMS), 0);
	ck_assert_uint_eq(r32(E1000_ICR), E1000_ICR_RXT0);
	dev_set_msi(D, MSI_ADDR, MSI_DATA, false);
	w32(E1000_IMS, E1000_ICR_RXT0);
	w32(E1000_ICS, E1000_ICR_RXT0); /* MSI disabled in config space */
	ck_assert_uint_eq(F.nmsi, 1);
	teardown();
}
END_TEST

START_TEST(test_dev_dma_mask_truncates)
{
	setup_common();
	/* a 32-bit device drives 32 address lines: a descriptor ring the driver
	 * put at 4 GiB + 0x10000 is fetched at 0x10000 */
	D = dev_create(DEV_NIC, "nic32", SID_NIC, 32, &F.p, fake_port(), &F.ctr, err);
	ck_assert_ptr_nonnull(D);
	nic_tx_ring();
	w32(E1000_TDBAH, 1);
	tx_desc(0, TX_BUF, 60, E1000_TXD_CMD_EOP);
	w32(E1000_TDT, 1);
	check_req(0, TX_RING, 16, false, true, SID_NIC);
	check_req(1, TX_BUF, 60, false, false, SID_NIC);
	teardown();
}
END_TEST

/* ---- NVMe ---- */

#define ASQ 0x100000u
#define ACQ 0x101000u
#define IOCQ 0x102000u
#define IOSQ 0x103000u
#define QSIZE 4u

struct nvme_host {
	unsigned sq_tail[2];
	unsigned cq_head[2];
};

static struct nvme_host H;

static void nvme_enable(void)
{
	memset(&H, 0, sizeof(H));
	w32(NVME_REG_AQA, (QSIZE - 1) << 16 | (QSIZE - 1));
	w64(NVME_REG_ASQ, ASQ);
	w64(NVME_REG_ACQ, ACQ);
	w32(NVME_REG_CC, NVME_CC_EN | 6u << 16 | 4u << 20);
	ck_assert_uint_eq(r32(NVME_REG_CSTS), NVME_CSTS_RDY);
}

/* Put a command in SQ q (0 admin, 1 the I/O SQ) and ring its doorbell. */
static void submit(unsigned q, uint8_t opc, uint16_t cid, uint32_t nsid, uint64_t prp1, uint64_t prp2, uint32_t cdw10,
		   uint32_t cdw11, uint32_t cdw12)
{
	uint64_t base = q ? IOSQ : ASQ;
	uint64_t w[8] = {opc | (uint64_t)cid << 16 | (uint64_t)nsid << 32, 0, 0, prp1, prp2, cdw10 | (uint64_t)cdw11 << 32, cdw12, 0};
	for (unsigned i = 0; i < 8; i++)
		mem_write64(&F.mem, base + 64 * H.sq_tail[q] + 8 * i, w[i]);
	H.sq_tail[q] = (H.sq_tail[q] + 1) % QSIZE;
	w32(NVME_SQ_TDBL(q), H.sq_tail[q]);
}

/* DW3 of the completion in CQ q's slot. */
static uint32_t cqe_dw3(unsigned q, unsigned slot)
{
	return (uint32_t)(mem_read64(&F.mem, (q ? IOCQ : ACQ) + 16 * slot + 8) >> 32);
}

static uint32_t cqe_dw2(unsigned q, unsigned slot)
{
	return (uint32_t)mem_read64(&F.mem, (q ? IOCQ : ACQ) + 16 * slot + 8);
}

static void nvme_create_queues(void)
{
	nvme_enable();
	/* Create I/O CQ 1: QSIZE 4, PC | IEN, IV 0 */
	submit(0, NVME_ADMIN_CREATE_CQ, 1, 0, IOCQ, 0, 1 | (QSIZE - 1) << 16, NVME_Q_PC | NVME_CQ_IEN, 0);
	ck_assert_uint_eq(F.last_delay, 0);
	fire();
	ck_assert_uint_eq(cqe_dw3(0, 0), 1 | NVME_CQE_P); /* CID 1, phase 1, success */
	ck_assert_uint_eq(cqe_dw2(0, 0), 1);              /* SQ head 1, SQ id 0 */
	/* Create I/O SQ 1 on CQ 1 */
	submit(0, NVME_ADMIN_CREATE_SQ, 2, 0, IOSQ, 0, 1 | (QSIZE - 1) << 16, NVME_Q_PC | 1u << 16, 0);
	fire();
	ck_assert_uint_eq(cqe_dw3(0, 1), 2 | NVME_CQE_P);
	ck_assert_uint_eq(cqe_dw2(0, 1), 2);
	/* 2 SQE reads (64 bytes = 8 words) and 2 CQE writes (16 bytes) */
	ck_assert_uint_eq(F.nreq, 4);
	check_req(0, ASQ, 64, false, true, SID_NVME);
	check_req(1, ACQ, 16, true, true, SID_NVME);
	check_req(2, ASQ + 64, 64, false, true, SID_NVME);
	check_req(3, ACQ + 16, 16, true, true, SID_NVME);
	ck_assert_uint_eq(F.nmsi, 2);
	w32(NVME_CQ_HDBL(0), 2);
	F.nreq = 0;
	F.nmsi = 0;
}

START_TEST(test_dev_nvme_registers)
{
	setup_nvme();
	ck_assert_uint_eq(r64(NVME_REG_CAP), UINT64_C(0x00000020140103FF));
	ck_assert_uint_eq(r32(NVME_REG_CAP + 4), 0x20);
	ck_assert_uint_eq(r32(NVME_REG_VS), 0x00010400);
	ck_assert_uint_eq(r32(NVME_REG_CSTS), 0);
	nvme_enable();
	ck_assert_uint_eq(r64(NVME_REG_ASQ), ASQ);
	ck_assert_uint_eq(r32(NVME_REG_ACQ), ACQ);
	w32(NVME_REG_CC, 0); /* reset: RDY follows at once */
	ck_assert_uint_eq(r32(NVME_REG_CSTS), 0);
	ck_assert_uint_eq(r32(NVME_REG_AQA), 0x00030003);
	teardown();
}
END_TEST

START_TEST(test_dev_nvme_read_prp_list)
{
	setup_nvme();
	nvme_create_queues();
	/* 12 KiB read (NLB 23) to 0x200000, page aligned: PRP1 + a list of 2
	 * entries at 0x300000 */
	mem_write64(&F.mem, 0x300000, 0x205000);
	mem_write64(&F.mem, 0x300008, 0x207000);
	submit(1, NVME_CMD_READ, 0x10, 1, 0x200000, 0x300000, 0, 0, 23);
	ck_assert_uint_eq(F.nreq, 5);
	check_req(0, IOSQ, 64, false, true, SID_NVME);
	check_req(1, 0x200000, 4096, true, false, SID_NVME); /* PRP1's page */
	check_req(2, 0x300000, 16, false, true, SID_NVME);   /* the list: one read of 2 entries */
	check_req(3, 0x205000, 4096, true, false, SID_NVME);
	check_req(4, 0x207000, 4096, true, false, SID_NVME);
	ck_assert_uint_eq(F.last_delay, 40000); /* 10 us at 4 GHz */
	fire();
	ck_assert_uint_eq(F.nreq, 6);
	check_req(5, IOCQ, 16, true, true, SID_NVME);
	ck_assert_uint_eq(cqe_dw3(1, 0), 0x10 | NVME_CQE_P);
	ck_assert_uint_eq(cqe_dw2(1, 0), 1 | 1u << 16); /* SQ head 1, SQ id 1 */
	ck_assert_uint_eq(F.nmsi, 1);
	ck_assert_uint_eq(F.msi_data, MSI_DATA);
	/* 8 KiB read (NLB 15), PRP1 page aligned: PRP2 is the second page */
	submit(1, NVME_CMD_READ, 0x11, 1, 0x210000, 0x212000, 100, 0, 15);
	ck_assert_uint_eq(F.nreq, 9);
	check_req(6, IOSQ + 64, 64, false, true, SID_NVME);
	check_req(7, 0x210000, 4096, true, false, SID_NVME);
	check_req(8, 0x212000, 4096, true, false, SID_NVME);
	fire();
	ck_assert_uint_eq(cqe_dw3(1, 1), 0x11 | NVME_CQE_P);
	/* a 4 KiB write at a page offset of 0x200: PRP1 holds 3584 bytes, PRP2 512 */
	submit(1, NVME_CMD_WRITE, 0x12, 1, 0x220200, 0x230000, 8, 0, 7);
	check_req(11, 0x220200, 3584, false, false, SID_NVME);
	check_req(12, 0x230000, 512, false, false, SID_NVME);
	fire();
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_NVME_READ_BYTES], 20480);
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_NVME_WRITE_BYTES], 4096);
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_NVME_CMDS], 5);
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_NVME_ERRORS], 0);
	teardown();
}
END_TEST

START_TEST(test_dev_nvme_prp_list_chain)
{
	setup_nvme();
	nvme_create_queues();
	/* 12 KiB with the list starting 16 bytes before its page's end
	 * (0x300FF0): two entries fit there, three are needed after PRP1 with
	 * offset 0x800, so the page's last entry points to the next list page. */
	mem_write64(&F.mem, 0x300FF0, 0x241000);
	mem_write64(&F.mem, 0x300FF8, 0x310000); /* next list page */
	mem_write64(&F.mem, 0x310000, 0x242000);
	mem_write64(&F.mem, 0x310008, 0x243000);
	submit(1, NVME_CMD_READ, 7, 1, 0x240800, 0x300FF0, 0, 0, 23);
	ck_assert_uint_eq(F.nreq, 7);
	check_req(1, 0x240800, 2048, true, false, SID_NVME);
	check_req(2, 0x300FF0, 16, false, true, SID_NVME);
	check_req(3, 0x241000, 4096, true, false, SID_NVME);
	check_req(4, 0x310000, 16, false, true, SID_NVME);
	check_req(5, 0x242000, 4096, true, false, SID_NVME);
	check_req(6, 0x243000, 2048, true, false, SID_NVME);
	fire();
	ck_assert_uint_eq(cqe_dw3(1, 0), 7 | NVME_CQE_P);
	teardown();
}
END_TEST

START_TEST(test_dev_nvme_phase_flips_after_wrap)
{
	setup_nvme();
	nvme_create_queues();
	for (unsigned i = 0; i < 5; i++) {
		submit(1, NVME_CMD_READ, (uint16_t)(0x20 + i), 1, 0x200000, 0, i, 0, 0);
		fire();
		unsigned slot = i % QSIZE;
		uint32_t p = i < QSIZE ? NVME_CQE_P : 0; /* 1 on the first pass, 0 after the wrap */
		ck_assert_uint_eq(cqe_dw3(1, slot), (0x20 + i) | p);
		ck_assert_uint_eq(cqe_dw2(1, slot), ((i + 1) % QSIZE) | 1u << 16);
		/* the host consumes each entry */
		H.cq_head[1] = (H.cq_head[1] + 1) % QSIZE;
		w32(NVME_CQ_HDBL(1), H.cq_head[1]);
	}
	ck_assert_uint_eq(F.nmsi, 5);
	teardown();
}
END_TEST

START_TEST(test_dev_nvme_cq_full_holds_completion)
{
	setup_nvme();
	nvme_create_queues();
	/* CQ of 4 entries holds 3 completions the host has not consumed */
	for (unsigned i = 0; i < 3; i++) {
		submit(1, NVME_CMD_READ, (uint16_t)i, 1, 0x200000, 0, 0, 0, 0);
		fire();
	}
	submit(1, NVME_CMD_READ, 3, 1, 0x200000, 0, 0, 0, 0);
	fire();
	ck_assert_uint_eq(F.nmsi, 3); /* the fourth is held */
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_NVME_CMDS], 5);
	w32(NVME_CQ_HDBL(1), 1);
	ck_assert_uint_eq(F.nmsi, 4);
	ck_assert_uint_eq(cqe_dw3(1, 3), 3 | NVME_CQE_P);
	teardown();
}
END_TEST

START_TEST(test_dev_nvme_blocked_payload_is_data_transfer_error)
{
	setup_nvme();
	nvme_create_queues();
	F.blk_lo = 0x200000;
	F.blk_hi = 0x201000;
	F.blk_payload_only = true;
	submit(1, NVME_CMD_READ, 0x30, 1, 0x200000, 0, 0, 0, 7);
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_DMA_BLOCKED], 1);
	fire();
	/* status field: SC 0x04, SCT 0 -> DW3 bits 24:17 = 0x04 */
	ck_assert_uint_eq(cqe_dw3(1, 0), 0x30 | NVME_CQE_P | 0x04u << 17);
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_NVME_ERRORS], 1);
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_NVME_READ_BYTES], 0);
	ck_assert_uint_eq(F.nmsi, 1);
	teardown();
}
END_TEST

START_TEST(test_dev_nvme_prp_offset_invalid)
{
	setup_nvme();
	nvme_create_queues();
	/* 12 KiB with a list pointer that is not qword aligned: SC 0x13, no list read */
	submit(1, NVME_CMD_READ, 0x40, 1, 0x200000, 0x300004, 0, 0, 23);
	ck_assert_uint_eq(F.nreq, 2); /* the SQE and PRP1's page */
	ck_assert_uint_eq(F.last_delay, 0);
	fire();
	ck_assert_uint_eq(cqe_dw3(1, 0), 0x40 | NVME_CQE_P | 0x13u << 17);
	/* a list page whose last entry points at itself with an offset: refused */
	mem_write64(&F.mem, 0x300FF8, 0x300FF8);
	submit(1, NVME_CMD_READ, 0x41, 1, 0x200000, 0x300FF8, 0, 0, 23);
	fire();
	ck_assert_uint_eq(cqe_dw3(1, 1), 0x41 | NVME_CQE_P | 0x13u << 17);
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_NVME_ERRORS], 2);
	teardown();
}
END_TEST

START_TEST(test_dev_nvme_admin_errors)
{
	setup_nvme();
	nvme_enable();
	/* PC = 0: Invalid Field in Command (SCT 0, SC 0x02) */
	submit(0, NVME_ADMIN_CREATE_CQ, 1, 0, IOCQ, 0, 1 | 3u << 16, NVME_CQ_IEN, 0);
	fire();
	ck_assert_uint_eq(cqe_dw3(0, 0), 1 | NVME_CQE_P | 0x02u << 17);
	/* IV 1 with one vector: Invalid Interrupt Vector (SCT 1, SC 0x08) */
	submit(0, NVME_ADMIN_CREATE_CQ, 2, 0, IOCQ, 0, 1 | 3u << 16, NVME_Q_PC | NVME_CQ_IEN | 1u << 16, 0);
	fire();
	ck_assert_uint_eq(cqe_dw3(0, 1), 2 | NVME_CQE_P | 0x08u << 17 | 1u << 25);
	/* SQ on a CQ that does not exist: Completion Queue Invalid (SCT 1, SC 0) */
	submit(0, NVME_ADMIN_CREATE_SQ, 3, 0, IOSQ, 0, 1 | 3u << 16, NVME_Q_PC | 1u << 16, 0);
	fire();
	ck_assert_uint_eq(cqe_dw3(0, 2), 3 | NVME_CQE_P | 1u << 25);
	ck_assert_uint_eq(F.ctr.v[CTR_DEV_NVME_ERRORS], 3);
	teardown();
}
END_TEST

static Suite *dev_suite(void)
{
	Suite *s = suite_create("dev");
	TCase *tc = tcase_create("common");
	tcase_add_test(tc, test_dev_create_and_accessors);
	tcase_add_test(tc, test_dev_params_and_times);
	tcase_add_test(tc, test_dev_mmio_bad_access);
	suite_add_tcase(s, tc);
	tc = tcase_create("nic");
	tcase_add_test(tc, test_dev_nic_status);
	tcase_add_test(tc, test_dev_nic_tx_one_frame);
	tcase_add_test(tc, test_dev_nic_tx_two_descriptor_frame_and_no_rs);
	tcase_add_test(tc, test_dev_nic_rx_spans_descriptors);
	tcase_add_test(tc, test_dev_nic_rx_missed);
	tcase_add_test(tc, test_dev_nic_blocked_dma_halts_ring);
	tcase_add_test(tc, test_dev_nic_interrupt_mask_and_ics);
	tcase_add_test(tc, test_dev_dma_mask_truncates);
	suite_add_tcase(s, tc);
	tc = tcase_create("nvme");
	tcase_add_test(tc, test_dev_nvme_registers);
	tcase_add_test(tc, test_dev_nvme_read_prp_list);
	tcase_add_test(tc, test_dev_nvme_prp_list_chain);
	tcase_add_test(tc, test_dev_nvme_phase_flips_after_wrap);
	tcase_add_test(tc, test_dev_nvme_cq_full_holds_completion);
	tcase_add_test(tc, test_dev_nvme_blocked_payload_is_data_transfer_error);
	tcase_add_test(tc, test_dev_nvme_prp_offset_invalid);
	tcase_add_test(tc, test_dev_nvme_admin_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(dev_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
