/*
 * Notes: the guest kernel's device drivers (software; the devices they
 * drive are src/dev's models, reached only through MMIO and memory).
 *  - Probe (guest_boot, before the first process, CR3 = swapper_pg_dir):
 *    each BAR 0 is ioremapped at GUEST_IOREMAP_BASE (guest.h): one PDPT
 *    and one PD for the area, a PT per 2 MiB used, zeroed frames linked by
 *    the kernel's own stores, leaves P|RW|A|D|PCD|PWT|G|XD. With 4-level
 *    paging the area's PML4 entry goes into swapper_pg_dir and into every
 *    PML4 created after (Linux preallocates the vmalloc area's top-level
 *    entries so pgd_alloc copies them); with 5-level paging the kernel half
 *    already shares one PML5 entry, and the area's entry goes into the
 *    kernel's PML4 (p4d) that entry points at.
 *  - NIC (e1000_configure): one page each for a 256-descriptor RX ring and
 *    a 256-descriptor TX ring, zeroed; MMIO stores RDBAL, RDBAH, RDLEN,
 *    RDH = 0, RDT = 0, TDBAL, TDBAH, TDLEN, TDH = 0, TDT = 0, RCTL = EN |
 *    LPE (long packets: frames are up to a few KiB) with BSIZE 00 = 2048-B
 *    receive buffers, TCTL = EN, IMS = RXT0 | TXDW: 13 stores.
 *  - NVMe (nvme_pci_configure_admin_queue, nvme_create_io_queues): a
 *    16-entry admin SQ and CQ and a 64-entry I/O SQ and CQ (one zeroed page
 *    each); MMIO stores AQA, ASQ low/high, ACQ low/high, CC = EN | IOSQES 6
 *    | IOCQES 4 (MPS 0 = 4 KiB pages, CSS 0 = NVM command set), one CSTS
 *    load (nvme_wait_ready's first poll: the driver assumes RDY from then
 *    on), then admin Create I/O CQ (qid 1, IEN, PC, IV 0) and Create I/O SQ
 *    (qid 1 on CQ 1, PC): each 8 queue-entry stores and an SQ 0 tail
 *    doorbell; the kernel halts (next_event gives GEV_HLT) until each one's
 *    completion interrupt, which loads the CQ entry and writes the CQ 0
 *    head doorbell. Namespace 1, 512-B LBAs, are assumed (no Identify).
 *  - GEV_DEVIO (a system call on the process's buffer [gva, gva + len)):
 *    the buffer's pages are pinned (get_user_pages: absent pages are
 *    faulted in, zeroed, as on a first touch, dirty when the device
 *    writes them); the driver builds ring entries with 8-byte stores
 *    through the direct map, rings the doorbell, and the process blocks
 *    (PROC_IO_WAIT) until the completion interrupt wakes it.
 *      NIC RX: one descriptor per piece of the buffer, a piece being a
 *      physically contiguous run cut at 2048-B boundaries (RCTL.BSIZE; a
 *      page-aligned buffer gives full 2048-B buffers; a piece shorter than
 *      2048 B is a model approximation, the 8254x writes up to BSIZE into
 *      every buffer): stores addr and a zero status word, then RDT = the new
 *      tail. NIC TX: one descriptor per physically contiguous piece (at most
 *      a page), length = the piece, CMD = IFCS (+ EOP | RS on the last);
 *      then TDT. The frame is the whole buffer: zero-copy, no skb copy.
 *      NVMe Read/Write: NSID 1, SLBA = ev->size (512-B sectors), NLB =
 *      len / 512 - 1, PRP1 = the first byte's GPA, PRP2 = the second page or
 *      a PRP list (a kernel page from the dma_pool, not cleared, filled by
 *      the driver's stores; no chaining: at most 513 pages, ~2 MiB, as a
 *      controller's MDTS would cap it); then the SQ 1 tail doorbell.
 *  - Interrupts (os_ops.interrupt with a device's vector): NIC: ICR load
 *    (read-to-clear), a status-word load of each completed RX descriptor
 *    (or of the TX frame's last descriptor, the one with RS), and for RX
 *    an RDT store (e1000_clean_rx_irq returns the cleaned descriptors; the
 *    buffers were the process's, so nothing is refilled). NVMe: a load of
 *    the CQ entry's status half (DW2-3: SQ head, CID, phase, status) and
 *    the CQ head doorbell store.
 *  - The driver cannot see what its loads return (the CPU executes queued
 *    operations later): each device's outstanding requests complete in
 *    the order they were submitted, one per interrupt (no coalescing; an
 *    interrupt with nothing outstanding is counted as spurious and its
 *    ICR load still made); the status words are read but assumed good.
 *  - DMA addresses are guest-physical: what they become (host-physical,
 *    remapped by the IOMMU, bounced) is the platform's and the VMM's
 *    business; the device's DMA mask is not checked here.
 *  - Pinning takes no page references: the process is blocked for the
 *    transfer and an address space is never shared, so its pages cannot go.
 *  - GEV_MMAP | GEV_MMAP_DEVICE (mmap of a BAR's resource0 file / UIO): the
 *    range's pages are mapped at once (io_remap_pfn_range) to BAR 0's pages
 *    from its start, P|RW|US|A|D|PCD|PWT; munmap and exit unmap them like
 *    any page but never free them (they are not frames).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/paging.h"
#include "dev/dev.h"
#include "guest/guest_internal.h"

#define IOREMAP_FLAGS (PTE_P | PTE_RW | PTE_A | PTE_D | PTE_PCD | PTE_PWT | PTE_G | PTE_XD)
#define IOREMAP_TABLE_FLAGS (PTE_P | PTE_RW | PTE_A | PTE_D)
#define USER_IO_FLAGS (PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D | PTE_PCD | PTE_PWT)
#define BAR_MAX (UINT64_C(1) << 20)

/* Intel 8254x registers (317453 §13) and bits. */
enum {
	E1000_CTRL = 0x0,
	E1000_STATUS = 0x8,
	E1000_ICR = 0xc0,
	E1000_IMS = 0xd0,
	E1000_IMC = 0xd8,
	E1000_RCTL = 0x100,
	E1000_TCTL = 0x400,
	E1000_RDBAL = 0x2800,
	E1000_RDBAH = 0x2804,
	E1000_RDLEN = 0x2808,
	E1000_RDH = 0x2810,
	E1000_RDT = 0x2818,
	E1000_TDBAL = 0x3800,
	E1000_TDBAH = 0x3804,
	E1000_TDLEN = 0x3808,
	E1000_TDH = 0x3810,
	E1000_TDT = 0x3818,
};
#define E1000_RCTL_EN (1u << 1)
#define E1000_RCTL_LPE (1u << 5)
#define E1000_TCTL_EN (1u << 1)
#define E1000_ICR_TXDW (1u << 0)
#define E1000_ICR_RXT0 (1u << 7)
#define E1000_TXD_CMD_EOP 0x01u
#define E1000_TXD_CMD_IFCS 0x02u
#define E1000_TXD_CMD_RS 0x08u
#define E1000_RX_BUF 2048u /* RCTL.BSIZE = 00, BSEX = 0 */
#define NIC_RING 256u      /* descriptors per ring: one 4 KiB page of 16-B descriptors */

/* NVMe 1.4 §3.1 registers, §5 admin opcodes, §6 NVM opcodes. */
enum {
	NVME_CC = 0x14,
	NVME_CSTS = 0x1c,
	NVME_AQA = 0x24,
	NVME_ASQ = 0x28,
	NVME_ACQ = 0x30,
	NVME_DB = 0x1000,
};
#define NVME_CC_EN 1u
#define NVME_CC_IOSQES(n) ((uint32_t)(n) << 16)
#define NVME_CC_IOCQES(n) ((uint32_t)(n) << 20)
#define NVME_ADM_CREATE_SQ 0x01u
#define NVME_ADM_CREATE_CQ 0x05u
#define NVME_CMD_WRITE 0x01u
#define NVME_CMD_READ 0x02u
#define NVME_ADMIN_DEPTH 16u
#define NVME_IO_DEPTH 64u
#define NVME_PRP_MAX (PAGE_SIZE / 8) /* entries in one PRP list page */

#define REQ_MAX 64u /* outstanding requests per device */

/* One outstanding request, in submission order. */
struct drv_req {
	struct guest_proc *pr; /* NULL: the kernel's own (an NVMe admin command) */
	uint32_t op;           /* enum gev_devio_op, 0 for an admin command */
	uint32_t first, n;     /* NIC: its first descriptor and how many; NVMe: the SQ slot */
	uint64_t prp_list;     /* NVMe: the PRP list page to give back, 0 = none */
};

struct drv_dev {
	struct guest_dev_info info;
	uint64_t mmio;                 /* kernel linear address of BAR 0 (ioremap) */
	struct drv_req q[REQ_MAX];     /* outstanding, FIFO */
	unsigned qhead, qn;
	/* NIC */
	uint64_t rx_ring, tx_ring;     /* GPAs */
	uint32_t rx_tail, tx_tail;     /* next descriptor software fills */
	uint32_t rx_used, tx_used;     /* descriptors the device holds */
	/* NVMe */
	uint64_t asq, acq, sq, cq;     /* GPAs */
	uint32_t asq_tail, acq_head, sq_tail, cq_head;
	uint16_t next_cid;
	unsigned probe_step;           /* admin commands still to complete before the device is ready */
};

struct guest_drivers {
	struct drv_dev dev[GUEST_MAX_DEVS];
	size_t n;
	uint64_t pdpt, pd;             /* the ioremap area's tables (GPA) */
	uint64_t pt[512];              /* its PTs per 2 MiB of the area, 0 = none */
	unsigned outstanding;          /* user requests, all devices */
};

/* ---- set-up -------------------------------------------------------------- */

/* The rings of device i; see guest.h. */
uint64_t guest_dev_ring(const struct guest_os *os, size_t i, bool rx)
{
	if (!os->drv || i >= os->drv->n)
		return 0;
	return rx ? os->drv->dev[i].rx_ring : os->drv->dev[i].tx_ring;
}

/* Devices; see guest.h. */
int guest_set_devices(struct guest_os *os, const struct guest_dev_info *d, size_t n, char *err)
{
	const uint64_t mem = os->p->guest_mem_mib << 20;
	bool seen[2] = {false, false};
	if (n > GUEST_MAX_DEVS) {
		snprintf(err, CPU_ERR_LEN, "%zu devices: the guest drives at most %d", n, GUEST_MAX_DEVS);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (d[i].kind != DEV_NIC && d[i].kind != DEV_NVME) {
			snprintf(err, CPU_ERR_LEN, "device %zu: unknown kind %u (0 = NIC, 1 = NVMe)", i, d[i].kind);
			return -1;
		}
		if (seen[d[i].kind]) {
			snprintf(err, CPU_ERR_LEN, "device %zu: a second %s (the guest drives one of each)", i,
				 d[i].kind == DEV_NIC ? "NIC" : "NVMe controller");
			return -1;
		}
		seen[d[i].kind] = true;
		if ((d[i].bar_gpa | d[i].bar_size) & (PAGE_SIZE - 1) || !d[i].bar_size || d[i].bar_size > BAR_MAX ||
		    d[i].bar_gpa < mem) {
			snprintf(err, CPU_ERR_LEN, "device %zu: BAR 0 at GPA 0x%" PRIx64 ", 0x%" PRIx64 " bytes: it must be "
				 "4 KiB aligned, 4 KiB to 1 MiB long and above guest memory (0x%" PRIx64 ")", i,
				 d[i].bar_gpa, d[i].bar_size, mem);
			return -1;
		}
		if (d[i].vector < 0x20 || d[i].vector == VEC_LOCAL_TIMER) {
			snprintf(err, CPU_ERR_LEN, "device %zu: MSI vector 0x%x is an exception's or the timer's", i,
				 d[i].vector);
			return -1;
		}
		for (size_t j = 0; j < i; j++)
			if (d[j].vector == d[i].vector) {
				snprintf(err, CPU_ERR_LEN, "devices %zu and %zu share vector 0x%x", j, i, d[i].vector);
				return -1;
			}
	}
	drivers_free(os);
	if (!n)
		return 0;
	struct guest_drivers *g = calloc(1, sizeof(*g));
	if (!g) {
		snprintf(err, CPU_ERR_LEN, "out of memory");
		return -1;
	}
	uint64_t la = GUEST_IOREMAP_BASE;
	for (size_t i = 0; i < n; i++) {
		g->dev[i].info = d[i];
		g->dev[i].mmio = la;
		la += d[i].bar_size + PAGE_SIZE; /* a guard page after each, as vmalloc leaves */
	}
	g->n = n;
	os->drv = g;
	return 0;
}

void drivers_free(struct guest_os *os)
{
	free(os->drv);
	os->drv = NULL;
}

unsigned guest_io_outstanding(const struct guest_os *os)
{
	return os->drv ? os->drv->outstanding : 0;
}

bool drivers_probing(const struct guest_os *os)
{
	if (!os->drv)
		return false;
	for (size_t i = 0; i < os->drv->n; i++)
		if (os->drv->dev[i].probe_step)
			return true;
	return false;
}

static int paging_levels(const struct guest_os *os)
{
	return (os->cr4 & CR4_LA57) ? 5 : 4;
}

int drivers_top_entry(const struct guest_os *os, unsigned *index, uint64_t *entry)
{
	if (!os->drv || paging_levels(os) == 5)
		return 0;
	*index = pt_index(GUEST_IOREMAP_BASE, 4);
	*entry = os->drv->pdpt | IOREMAP_TABLE_FLAGS;
	return 1;
}

/* ---- register and ring access ------------------------------------------- */

static int mmio_write(struct guest_os *os, struct cpu *cpu, const struct drv_dev *d, uint32_t reg, uint32_t val)
{
	ctr_inc(os->ctr, CTR_GUEST_IO_MMIO);
	return cpu_guest_op(cpu, GOP_MMIO_WRITE32, d->mmio + reg, val);
}

static int mmio_read(struct guest_os *os, struct cpu *cpu, const struct drv_dev *d, uint32_t reg)
{
	ctr_inc(os->ctr, CTR_GUEST_IO_MMIO);
	return cpu_guest_op(cpu, GOP_MMIO_READ32, d->mmio + reg, 0);
}

static int ring_store(struct cpu *cpu, uint64_t gpa, uint64_t val)
{
	return cpu_guest_op(cpu, GOP_RING_STORE64, gpa, val);
}

static int ring_load(struct cpu *cpu, uint64_t gpa)
{
	return cpu_guest_op(cpu, GOP_RING_LOAD64, gpa, 0);
}

static struct drv_dev *dev_of_kind(struct guest_os *os, unsigned kind)
{
	for (size_t i = 0; os->drv && i < os->drv->n; i++)
		if (os->drv->dev[i].info.kind == kind)
			return &os->drv->dev[i];
	return NULL;
}

static int req_push(struct cpu *cpu, struct drv_dev *d, const struct drv_req *r)
{
	if (d->qn == REQ_MAX)
		return cpu_fail(cpu, "guest kernel: more than %u transfers outstanding on one device", REQ_MAX);
	d->q[(d->qhead + d->qn++) % REQ_MAX] = *r;
	return 0;
}

/* ---- probe ---------------------------------------------------------------- */

/* ioremap: the area's tables (first use) and BAR 0's PTEs. */
static int ioremap(struct guest_os *os, struct cpu *cpu, const struct drv_dev *d)
{
	struct guest_drivers *g = os->drv;
	if (!g->pdpt) {
		uint64_t top = paging_levels(os) == 5 ? GUEST_KERNEL_P4D : GUEST_SWAPPER_PML4;
		if (guest_alloc_frame(os, cpu, &g->pdpt) < 0 || guest_alloc_frame(os, cpu, &g->pd) < 0 ||
		    cpu_guest_op(cpu, GOP_STORE64, g->pdpt + 8 * pt_index(GUEST_IOREMAP_BASE, 3),
				 g->pd | IOREMAP_TABLE_FLAGS) < 0 ||
		    cpu_guest_op(cpu, GOP_STORE64, top + 8 * pt_index(GUEST_IOREMAP_BASE, 4),
				 g->pdpt | IOREMAP_TABLE_FLAGS) < 0)
			return -1;
		ctr_add(os->ctr, CTR_GUEST_IO_KERNEL_PT_PAGES, 2);
	}
	for (uint64_t off = 0; off < d->info.bar_size; off += PAGE_SIZE) {
		uint64_t la = d->mmio + off;
		unsigned pde = pt_index(la, 2);
		if (!g->pt[pde]) {
			if (guest_alloc_frame(os, cpu, &g->pt[pde]) < 0 ||
			    cpu_guest_op(cpu, GOP_STORE64, g->pd + 8 * pde, g->pt[pde] | IOREMAP_TABLE_FLAGS) < 0)
				return -1;
			ctr_inc(os->ctr, CTR_GUEST_IO_KERNEL_PT_PAGES);
		}
		if (cpu_guest_op(cpu, GOP_STORE64, g->pt[pde] + 8 * pt_index(la, 1), (d->info.bar_gpa + off) | IOREMAP_FLAGS) <
		    0)
			return -1;
	}
	return 0;
}

static int nic_probe(struct guest_os *os, struct cpu *cpu, struct drv_dev *d)
{
	if (guest_alloc_frame(os, cpu, &d->rx_ring) < 0 || guest_alloc_frame(os, cpu, &d->tx_ring) < 0)
		return -1;
	const uint32_t bytes = NIC_RING * 16;
	const struct {
		uint32_t reg, val;
	} w[] = {
		{E1000_RDBAL, (uint32_t)d->rx_ring}, {E1000_RDBAH, (uint32_t)(d->rx_ring >> 32)}, {E1000_RDLEN, bytes},
		{E1000_RDH, 0}, {E1000_RDT, 0},
		{E1000_TDBAL, (uint32_t)d->tx_ring}, {E1000_TDBAH, (uint32_t)(d->tx_ring >> 32)}, {E1000_TDLEN, bytes},
		{E1000_TDH, 0}, {E1000_TDT, 0},
		{E1000_RCTL, E1000_RCTL_EN | E1000_RCTL_LPE}, {E1000_TCTL, E1000_TCTL_EN},
		{E1000_IMS, E1000_ICR_RXT0 | E1000_ICR_TXDW},
	};
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (mmio_write(os, cpu, d, w[i].reg, w[i].val) < 0)
			return -1;
	return 0;
}

/* Submit a 64-B command (its 8 quadwords) to the admin SQ (qid 0) or the
 * I/O SQ (qid 1), and ring that queue's tail doorbell. */
static int nvme_submit(struct guest_os *os, struct cpu *cpu, struct drv_dev *d, unsigned qid, const uint64_t cmd[8],
		       uint32_t *slot)
{
	uint64_t base = qid ? d->sq : d->asq;
	uint32_t *tail = qid ? &d->sq_tail : &d->asq_tail;
	uint32_t depth = qid ? NVME_IO_DEPTH : NVME_ADMIN_DEPTH;
	*slot = *tail;
	for (unsigned i = 0; i < 8; i++)
		if (ring_store(cpu, base + 64 * *tail + 8 * i, cmd[i]) < 0)
			return -1;
	*tail = (*tail + 1) % depth;
	ctr_inc(os->ctr, CTR_GUEST_IO_DESCRIPTORS);
	return mmio_write(os, cpu, d, NVME_DB + 4 * (2 * qid), *tail);
}

/* The next admin command of the probe: Create I/O CQ 1, then SQ 1. */
static int nvme_probe_step(struct guest_os *os, struct cpu *cpu, struct drv_dev *d)
{
	uint64_t cmd[8] = {0};
	uint16_t cid = d->next_cid++;
	if (d->probe_step == 2) {
		/* CDW10: QSIZE - 1 | QID; CDW11: IV 0 | IEN | PC. */
		cmd[0] = NVME_ADM_CREATE_CQ | (uint32_t)cid << 16;
		cmd[3] = d->cq;
		cmd[5] = ((uint64_t)(NVME_IO_DEPTH - 1) << 16 | 1) | ((uint64_t)(1u << 1 | 1u) << 32);
	} else {
		/* CDW11: CQID 1 | QPRIO 0 | PC. */
		cmd[0] = NVME_ADM_CREATE_SQ | (uint32_t)cid << 16;
		cmd[3] = d->sq;
		cmd[5] = ((uint64_t)(NVME_IO_DEPTH - 1) << 16 | 1) | ((uint64_t)(1u << 16 | 1u) << 32);
	}
	struct drv_req r = {NULL, 0, 0, 0, 0};
	if (nvme_submit(os, cpu, d, 0, cmd, &r.first) < 0)
		return -1;
	return req_push(cpu, d, &r);
}

static int nvme_probe(struct guest_os *os, struct cpu *cpu, struct drv_dev *d)
{
	if (guest_alloc_frame(os, cpu, &d->asq) < 0 || guest_alloc_frame(os, cpu, &d->acq) < 0 ||
	    guest_alloc_frame(os, cpu, &d->sq) < 0 || guest_alloc_frame(os, cpu, &d->cq) < 0)
		return -1;
	const uint32_t cc = NVME_CC_EN | NVME_CC_IOSQES(6) | NVME_CC_IOCQES(4);
	if (mmio_write(os, cpu, d, NVME_AQA, (NVME_ADMIN_DEPTH - 1) << 16 | (NVME_ADMIN_DEPTH - 1)) < 0 ||
	    mmio_write(os, cpu, d, NVME_ASQ, (uint32_t)d->asq) < 0 ||
	    mmio_write(os, cpu, d, NVME_ASQ + 4, (uint32_t)(d->asq >> 32)) < 0 ||
	    mmio_write(os, cpu, d, NVME_ACQ, (uint32_t)d->acq) < 0 ||
	    mmio_write(os, cpu, d, NVME_ACQ + 4, (uint32_t)(d->acq >> 32)) < 0 || mmio_write(os, cpu, d, NVME_CC, cc) < 0 ||
	    mmio_read(os, cpu, d, NVME_CSTS) < 0)
		return -1;
	d->probe_step = 2;
	return nvme_probe_step(os, cpu, d);
}

int drivers_boot(struct guest_os *os, struct cpu *cpu)
{
	if (!os->drv)
		return 0;
	for (size_t i = 0; i < os->drv->n; i++) {
		struct drv_dev *d = &os->drv->dev[i];
		if (ioremap(os, cpu, d) < 0 || (d->info.kind == DEV_NIC ? nic_probe(os, cpu, d) : nvme_probe(os, cpu, d)) < 0)
			return -1;
	}
	return 0;
}

/* ---- transfers --------------------------------------------------------- */

/* A piece of a pinned buffer: guest-physical, contiguous. */
struct piece {
	uint64_t gpa, len;
};

/* Pin [gva, gva + len) of pr page by page; pieces (physically contiguous
 * runs, each cut at multiples of unit bytes of GPA when unit != 0) go to
 * out[] (at most max; -1 beyond). *npieces set; pages[] (optional, at
 * most maxpages) gets each page's GPA. */
static int pin_buffer(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr, uint64_t gva, uint64_t len,
		      bool write, uint64_t unit, struct piece *out, size_t max, size_t *npieces)
{
	size_t n = 0;
	for (uint64_t a = gva; a < gva + len;) {
		uint64_t gpa;
		bool faulted;
		if (guest_pin_user(os, cpu, pr, a, write, &gpa, &faulted) < 0)
			return -1;
		if (faulted)
			ctr_inc(os->ctr, CTR_GUEST_IO_PAGES_FAULTED);
		uint64_t end = (a & PAGE_MASK) + PAGE_SIZE;
		if (end > gva + len)
			end = gva + len;
		uint64_t chunk = end - a;
		while (chunk) {
			uint64_t take = chunk;
			if (unit && take > unit - (gpa % unit))
				take = unit - (gpa % unit);
			bool joins = n && out[n - 1].gpa + out[n - 1].len == gpa &&
				     (!unit || (out[n - 1].gpa / unit == gpa / unit));
			if (joins) {
				out[n - 1].len += take;
			} else {
				if (n == max)
					return cpu_fail(cpu, "guest kernel: a transfer of %" PRIu64 " bytes needs more than %zu "
							     "ring entries", len, max);
				out[n++] = (struct piece){gpa, take};
			}
			gpa += take;
			chunk -= take;
		}
		a = end;
	}
	*npieces = n;
	return 0;
}

static int nic_devio(struct guest_os *os, struct cpu *cpu, struct drv_dev *d, struct guest_proc *pr,
		     const struct guest_event *ev)
{
	const bool rx = ev->arg == DEVIO_NET_RX;
	struct piece p[NIC_RING];
	size_t n;
	uint32_t used = rx ? d->rx_used : d->tx_used;
	if (pin_buffer(os, cpu, pr, ev->gva, ev->len, rx, rx ? E1000_RX_BUF : 0, p, NIC_RING - 1 - used, &n) < 0)
		return -1;
	uint64_t ring = rx ? d->rx_ring : d->tx_ring;
	uint32_t *tail = rx ? &d->rx_tail : &d->tx_tail;
	struct drv_req r = {pr, ev->arg, *tail, (uint32_t)n, 0};
	for (size_t i = 0; i < n; i++) {
		uint64_t desc = ring + 16 * *tail, w1;
		if (rx) {
			w1 = 0; /* length, checksum, status (DD), errors, special: the device writes them */
		} else {
			uint32_t cmd = E1000_TXD_CMD_IFCS | (i + 1 == n ? E1000_TXD_CMD_EOP | E1000_TXD_CMD_RS : 0);
			w1 = p[i].len | (uint64_t)cmd << 24;
		}
		if (ring_store(cpu, desc, p[i].gpa) < 0 || ring_store(cpu, desc + 8, w1) < 0)
			return -1;
		*tail = (*tail + 1) % NIC_RING;
	}
	ctr_add(os->ctr, CTR_GUEST_IO_DESCRIPTORS, n);
	if (rx)
		d->rx_used += (uint32_t)n;
	else
		d->tx_used += (uint32_t)n;
	if (req_push(cpu, d, &r) < 0)
		return -1;
	return mmio_write(os, cpu, d, rx ? E1000_RDT : E1000_TDT, *tail);
}

static int nvme_devio(struct guest_os *os, struct cpu *cpu, struct drv_dev *d, struct guest_proc *pr,
		      const struct guest_event *ev)
{
	const bool read = ev->arg == DEVIO_BLK_READ;
	if (!ev->len || ev->len % 512 || ev->len / 512 > 0x10000 || (ev->gva & 3))
		return cpu_fail(cpu, "guest kernel: a block transfer of %" PRIu64 " bytes at GVA 0x%" PRIx64 ": a multiple "
				     "of 512 up to 32 MiB, from a 4-byte aligned buffer, please", ev->len, ev->gva);
	if (d->qn >= NVME_IO_DEPTH - 1)
		return cpu_fail(cpu, "guest kernel: more than %u block transfers outstanding (the I/O queue's depth)",
				NVME_IO_DEPTH - 1);
	/* Pages, not pieces: PRP entries name pages. */
	struct piece p[NVME_PRP_MAX + 1];
	size_t n;
	if (pin_buffer(os, cpu, pr, ev->gva, ev->len, read, PAGE_SIZE, p, NVME_PRP_MAX + 1, &n) < 0)
		return -1;
	uint64_t cmd[8] = {0};
	struct drv_req r = {pr, ev->arg, 0, 1, 0};
	uint16_t cid = d->next_cid++;
	cmd[0] = (read ? NVME_CMD_READ : NVME_CMD_WRITE) | (uint32_t)cid << 16 | (uint64_t)1 << 32; /* NSID 1 */
	cmd[3] = p[0].gpa;
	if (n == 2) {
		cmd[4] = p[1].gpa;
	} else if (n > 2) {
		if (guest_alloc_frame_raw(os, cpu, &r.prp_list) < 0)
			return -1;
		for (size_t i = 1; i < n; i++)
			if (ring_store(cpu, r.prp_list + 8 * (i - 1), p[i].gpa) < 0)
				return -1;
		cmd[4] = r.prp_list;
	}
	cmd[5] = ev->size;                 /* CDW10-11: SLBA */
	cmd[6] = (uint32_t)(ev->len / 512 - 1); /* CDW12: NLB, 0-based */
	if (req_push(cpu, d, &r) < 0)
		return -1;
	return nvme_submit(os, cpu, d, 1, cmd, &d->q[(d->qhead + d->qn - 1) % REQ_MAX].first);
}

int drivers_devio(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr, const struct guest_event *ev)
{
	static const char *const names[] = {"?", "net RX", "net TX", "block read", "block write"};
	if (ev->arg < DEVIO_NET_RX || ev->arg > DEVIO_BLK_WRITE)
		return cpu_fail(cpu, "guest kernel: device I/O of unknown operation %u", ev->arg);
	unsigned kind = ev->arg <= DEVIO_NET_TX ? DEV_NIC : DEV_NVME;
	struct drv_dev *d = dev_of_kind(os, kind);
	if (!d)
		return cpu_fail(cpu, "guest kernel: a %s system call, but the machine has no %s", names[ev->arg],
				kind == DEV_NIC ? "NIC" : "NVMe controller");
	if (!ev->len || ev->gva + ev->len > (UINT64_C(1) << 47) || ev->gva + ev->len < ev->gva)
		return cpu_fail(cpu, "guest kernel: a %s of %" PRIu64 " bytes at GVA 0x%" PRIx64 ": not a user buffer",
				names[ev->arg], ev->len, ev->gva);
	if ((kind == DEV_NIC ? nic_devio(os, cpu, d, pr, ev) : nvme_devio(os, cpu, d, pr, ev)) < 0)
		return -1;
	ctr_inc(os->ctr, CTR_GUEST_IO_REQUESTS);
	ctr_add(os->ctr, CTR_GUEST_IO_BYTES, ev->len);
	os->drv->outstanding++;
	pr->state = PROC_IO_WAIT;
	return 0;
}

/* ---- interrupts ---------------------------------------------------------- */

static int nic_irq(struct guest_os *os, struct cpu *cpu, struct drv_dev *d)
{
	if (mmio_read(os, cpu, d, E1000_ICR) < 0) /* read-to-clear */
		return -1;
	if (!d->qn) {
		ctr_inc(os->ctr, CTR_GUEST_IO_SPURIOUS);
		return 0;
	}
	struct drv_req r = d->q[d->qhead];
	const bool rx = r.op == DEVIO_NET_RX;
	uint64_t ring = rx ? d->rx_ring : d->tx_ring;
	for (uint32_t i = rx ? 0 : r.n - 1; i < r.n; i++)
		if (ring_load(cpu, ring + 16 * ((r.first + i) % NIC_RING) + 8) < 0)
			return -1;
	if (rx) {
		d->rx_used -= r.n;
		if (mmio_write(os, cpu, d, E1000_RDT, d->rx_tail) < 0)
			return -1;
	} else {
		d->tx_used -= r.n;
	}
	d->qhead = (d->qhead + 1) % REQ_MAX;
	d->qn--;
	os->drv->outstanding--;
	guest_wake(os, r.pr);
	return 0;
}

static int nvme_irq(struct guest_os *os, struct cpu *cpu, struct drv_dev *d)
{
	if (!d->qn) {
		ctr_inc(os->ctr, CTR_GUEST_IO_SPURIOUS);
		return 0;
	}
	struct drv_req r = d->q[d->qhead];
	d->qhead = (d->qhead + 1) % REQ_MAX;
	d->qn--;
	const unsigned qid = r.pr ? 1 : 0;
	uint64_t cq = qid ? d->cq : d->acq;
	uint32_t *head = qid ? &d->cq_head : &d->acq_head;
	uint32_t depth = qid ? NVME_IO_DEPTH : NVME_ADMIN_DEPTH;
	if (ring_load(cpu, cq + 16 * *head + 8) < 0) /* DW2-3: SQ head, SQ id, CID, phase, status */
		return -1;
	*head = (*head + 1) % depth;
	if (mmio_write(os, cpu, d, NVME_DB + 4 * (2 * qid + 1), *head) < 0)
		return -1;
	if (r.prp_list && guest_free_frame(os, cpu, r.prp_list) < 0)
		return -1;
	if (!r.pr) {
		if (--d->probe_step)
			return nvme_probe_step(os, cpu, d);
		return 0;
	}
	os->drv->outstanding--;
	guest_wake(os, r.pr);
	return 0;
}

int drivers_interrupt(struct guest_os *os, struct cpu *cpu, unsigned vector)
{
	for (size_t i = 0; os->drv && i < os->drv->n; i++) {
		struct drv_dev *d = &os->drv->dev[i];
		if (d->info.vector != vector)
			continue;
		ctr_inc(os->ctr, CTR_GUEST_IO_INTERRUPTS);
		os->idle_halts_in_a_row = 0;
		return (d->info.kind == DEV_NIC ? nic_irq(os, cpu, d) : nvme_irq(os, cpu, d)) < 0 ? -1 : 1;
	}
	return 0;
}

/* ---- user mappings of a BAR ------------------------------------------------ */

int drivers_mmap_device(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr, const struct guest_event *ev)
{
	struct drv_dev *d = ev->size <= DEV_NVME ? dev_of_kind(os, ev->size) : NULL;
	if (!d)
		return cpu_fail(cpu, "guest kernel: mmap of device %u's registers, but the machine has no such device",
				ev->size);
	if ((ev->gva & (PAGE_SIZE - 1)) || !ev->len || ev->len > d->info.bar_size || ev->gva + ev->len > (UINT64_C(1) << 47))
		return cpu_fail(cpu, "guest kernel: mmap of device %u's BAR (0x%" PRIx64 " bytes) at GVA 0x%" PRIx64
				     ", 0x%" PRIx64 " bytes: a page-aligned user range no longer than the BAR, please",
				ev->size, d->info.bar_size, ev->gva, ev->len);
	for (uint64_t off = 0; off < ev->len; off += PAGE_SIZE) {
		if (guest_map_io_page(os, cpu, pr, ev->gva + off, d->info.bar_gpa + off, USER_IO_FLAGS) < 0)
			return -1;
		ctr_inc(os->ctr, CTR_GUEST_IO_USER_PAGES);
	}
	return 0;
}
