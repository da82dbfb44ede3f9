/*
 * Tests of the VMM side of DMA (src/vmm): the IOMMU driver programming the
 * remapping unit through registers and tables only, interrupt remapping
 * and posting through the driver, and swiotlb (reference sheet §7, §8).
 * Expected values are worked out by hand from the sheet, the part's
 * CAP/ECAP (iommu.cap 0xd2008c40660462, iommu.ecap 0xf050da) and the
 * driver's documented policy.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/vtd.h"
#include "iommu/iommu.h"
#include "vmm/iommu_drv.h"
#include "vmm/swiotlb.h"

#define TABLES_BASE UINT64_C(0x1000000) /* the driver's host frames: 16 MiB.. */
#define SID_A VTD_SID(0, 2, 0)
#define SID_B VTD_SID(0, 3, 0)

#define MAX_MSGS 16
struct rig {
	struct sim_params p;
	struct phys_mem mem;
	struct counters ctr;
	struct frame_alloc fa;
	struct iommu u;
	struct iommu_drv d;
	unsigned msgs;
	struct vtd_irq_msg msg[MAX_MSGS];
};

static struct rig R;

static void sink(void *ctx, const struct vtd_irq_msg *m)
{
	struct rig *r = ctx;
	if (r->msgs < MAX_MSGS)
		r->msg[r->msgs] = *m;
	r->msgs++;
}

static void setup_cfg(void (*tweak)(struct iommu_config *))
{
	char err[IOMMU_ERR_LEN] = "";
	memset(&R, 0, sizeof(R));
	params_defaults(&R.p);
	ck_assert_int_eq(mem_init(&R.mem), 0);
	frame_alloc_init(&R.fa, TABLES_BASE, UINT64_C(256) << 20);
	struct iommu_config cfg;
	iommu_config_from_params(&R.p, R.p.host_mem_mib << 20, &cfg);
	if (tweak)
		tweak(&cfg);
	ck_assert_msg(iommu_init(&R.u, &cfg, &R.mem, &R.ctr, (struct vtd_irq_sink){&R, sink}, err) == 0, "%s", err);
	ck_assert_msg(iommu_drv_init(&R.d, &R.u, &R.mem, &R.fa, &R.ctr) == 0, "%s", R.d.err);
}

static void setup(void)
{
	setup_cfg(NULL);
}

static void with_pi(struct iommu_config *c)
{
	c->cap |= VTD_CAP_PI;
}

static void setup_pi(void)
{
	setup_cfg(with_pi);
}

static void teardown(void)
{
	iommu_drv_destroy(&R.d);
	iommu_destroy(&R.u);
	frame_alloc_destroy(&R.fa);
	mem_destroy(&R.mem);
}

static enum vtd_fault_reason dma(uint16_t sid, uint64_t iova, bool write, struct vtd_xlate *x)
{
	struct vtd_request rq = {sid, iova, write, VTD_AT_UNTRANSLATED};
	return iommu_translate(&R.u, &rq, x);
}

/* ---- the driver ------------------------------------------------------- */

/* Bring-up: root table, queue and status page (3 pages); SRTP, QIE, a
 * global context-cache + global IOTLB invalidation with a wait, TE. */
START_TEST(test_drv_init_brings_the_unit_up)
{
	ck_assert_uint_eq(iommu_mmio_read(&R.u, VTD_REG_GSTS, 4), 0xC4000000); /* TES | RTPS | QIES */
	ck_assert_uint_eq(R.d.aw, 2);
	ck_assert_uint_eq(R.d.levels, 4);
	ck_assert_uint_eq(R.d.root, TABLES_BASE);
	ck_assert_uint_eq(R.ctr.v[CTR_VMM_IOMMU_TABLE_PAGES], 3);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_INV_CONTEXT], 1);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_INV_IOTLB], 1);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_INV_WAIT], 1);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_QI_DESCRIPTORS], 3);
	ck_assert_uint_eq(iommu_mmio_read(&R.u, VTD_REG_IQH, 8), 3 << 4);
	ck_assert_uint_eq(iommu_mmio_read(&R.u, VTD_REG_FEDATA, 4), IOMMU_DRV_FAULT_VECTOR);
}
END_TEST

/* A guest memory map: GPA [0, 1 GiB + 2 MiB) at HPA 9 GiB (1 GiB aligned)
 * and GPA [2 GiB, +12 KiB) at HPA 0x300001000. Leaves: one 1 GiB, one
 * 2 MiB, three 4 KiB; new tables: SL-PDPT, the PD of GPA 1 GiB, the PD and
 * PT of GPA 2 GiB = 4 pages, 4 pointers + 5 leaves = 9 entry writes. */
START_TEST(test_drv_maps_a_guest_memory_map)
{
	uint16_t did;
	ck_assert_int_eq(iommu_drv_domain_alloc(&R.d, &did), 0);
	ck_assert_uint_eq(did, 1);
	ck_assert_int_eq(iommu_drv_attach(&R.d, did, SID_A), 0);
	uint64_t pages0 = R.ctr.v[CTR_VMM_IOMMU_TABLE_PAGES], writes0 = R.ctr.v[CTR_VMM_IOMMU_ENTRY_WRITES];
	const struct iommu_mem_range map[] = {
		{0, UINT64_C(0x240000000), UINT64_C(0x40200000)},
		{UINT64_C(0x80000000), UINT64_C(0x300001000), 0x3000},
	};
	ck_assert_msg(iommu_drv_map_guest(&R.d, did, map, 2) == 0, "%s", R.d.err);
	ck_assert_uint_eq(R.ctr.v[CTR_VMM_IOMMU_TABLE_PAGES] - pages0, 4);
	ck_assert_uint_eq(R.ctr.v[CTR_VMM_IOMMU_ENTRY_WRITES] - writes0, 9);
	struct vtd_xlate x;
	ck_assert_uint_eq(dma(SID_A, 0x1234, true, &x), VTD_FR_NONE);
	ck_assert_uint_eq(x.hpa, UINT64_C(0x240001234));
	ck_assert_uint_eq(x.page_shift, 30);
	ck_assert_uint_eq(x.nrefs, 4); /* root, context, SL-PML4E, SL-PDPE */
	ck_assert_uint_eq(dma(SID_A, 0x40100008, false, &x), VTD_FR_NONE);
	ck_assert_uint_eq(x.hpa, UINT64_C(0x280100008));
	ck_assert_uint_eq(x.page_shift, 21);
	ck_assert_uint_eq(dma(SID_A, 0x80002008, true, &x), VTD_FR_NONE);
	ck_assert_uint_eq(x.hpa, UINT64_C(0x300003008));
	ck_assert_uint_eq(x.page_shift, 12);
	/* just past each range */
	ck_assert_uint_eq(dma(SID_A, 0x40200000, false, &x), VTD_FR_READ);
	ck_assert_uint_eq(dma(SID_A, 0x80003000, false, &x), VTD_FR_READ);
	/* mapping an IOVA twice is refused */
	ck_assert_int_eq(iommu_drv_map(&R.d, did, 0x80000000, 0x5000000, 0x1000, VTD_SL_RW), -1);
	ck_assert_str_eq(R.d.err, "IOMMU driver: IOVA 0x80000000 of domain 1 is already mapped");
}
END_TEST

/* The fault handler reads the record and names everything. */
START_TEST(test_drv_reports_faults)
{
	uint16_t did;
	ck_assert_int_eq(iommu_drv_domain_alloc(&R.d, &did), 0);
	ck_assert_int_eq(iommu_drv_attach(&R.d, did, SID_A), 0);
	ck_assert_int_eq(iommu_drv_map(&R.d, did, 0x10000, 0x7000000, 0x1000, VTD_SL_R), 0);
	struct vtd_xlate x;
	ck_assert_uint_eq(dma(SID_A, 0x10abc, true, &x), VTD_FR_WRITE);
	ck_assert_uint_eq(R.msgs, 1);
	ck_assert_int_eq(R.msg[0].origin, VTD_IRQ_FAULT_EVENT);
	ck_assert_uint_eq(R.msg[0].vector, IOMMU_DRV_FAULT_VECTOR);
	ck_assert_uint_eq(dma(SID_B, 0x20000, false, &x), VTD_FR_CONTEXT_NOT_PRESENT); /* overflows: one record */
	struct iommu_fault_report f[4];
	unsigned n;
	bool ovf;
	ck_assert_int_eq(iommu_drv_faults(&R.d, f, 4, &n, &ovf), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert(ovf);
	char line[160];
	iommu_drv_format_fault(&f[0], line, sizeof(line));
	ck_assert_str_eq(line, "DMA Write from 00:02.0 at 0x10000: fault reason 0x05 (write access not allowed)");
	ck_assert_uint_eq(iommu_mmio_read(&R.u, VTD_REG_FSTS, 4), 0); /* F and PFO cleared */
	ck_assert_uint_eq(dma(SID_B, 0x20000, false, &x), VTD_FR_CONTEXT_NOT_PRESENT);
	ck_assert_int_eq(iommu_drv_faults(&R.d, f, 4, &n, &ovf), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert(!ovf);
	iommu_drv_format_fault(&f[0], line, sizeof(line));
	ck_assert_str_eq(line, "DMA Read from 00:03.0 at 0x20000: fault reason 0x02 (context entry not present)");
	ck_assert_uint_eq(R.ctr.v[CTR_VMM_IOMMU_FAULTS_REPORTED], 2);
}
END_TEST

/* Unmap: leaves cleared, then a PSI whose mask covers the range (pages
 * 0x80001-0x80002 need AM = 2 from 0x80000000), IH = 1, and a wait. */
START_TEST(test_drv_unmap_invalidates_page_selectively)
{
	uint16_t did;
	ck_assert_int_eq(iommu_drv_domain_alloc(&R.d, &did), 0);
	ck_assert_int_eq(iommu_drv_attach(&R.d, did, SID_A), 0);
	ck_assert_int_eq(iommu_drv_map(&R.d, did, 0x80000000, 0x9000000, 0x4000, VTD_SL_RW), 0);
	struct vtd_xlate x;
	for (uint64_t p = 0; p < 4; p++)
		ck_assert_uint_eq(dma(SID_A, 0x80000000 + p * 0x1000, false, &x), VTD_FR_NONE);
	uint64_t inv0 = R.ctr.v[CTR_IOMMU_INV_IOTLB];
	unsigned tail = R.d.tail;
	ck_assert_int_eq(iommu_drv_unmap(&R.d, did, 0x80001000, 0x2000), 0);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_INV_IOTLB] - inv0, 1);
	uint64_t desc = R.d.queue + 16 * tail;
	ck_assert_uint_eq(mem_read64(&R.mem, desc), VTD_QI_IOTLB | (3 << 4) | ((uint64_t)did << 16));
	ck_assert_uint_eq(mem_read64(&R.mem, desc + 8), 0x80000000 | VTD_QI_IOTLB_IH | 2);
	ck_assert_uint_eq(dma(SID_A, 0x80001000, false, &x), VTD_FR_READ); /* gone, not served stale */
	ck_assert_uint_eq(dma(SID_A, 0x80002000, false, &x), VTD_FR_READ);
	ck_assert_uint_eq(dma(SID_A, 0x80003000, false, &x), VTD_FR_NONE);
	ck_assert(!x.iotlb_hit);       /* inside the 4-page invalidated block */
	ck_assert_uint_eq(x.nrefs, 1); /* IH = 1 kept the SL-PDE cache */
	ck_assert_int_eq(iommu_drv_unmap(&R.d, did, 0x80001000, 0x1000), -1);
	ck_assert_str_eq(R.d.err, "IOMMU driver: IOVA 0x80001000 of domain 1 is not mapped");
	/* part of a large leaf is refused */
	ck_assert_int_eq(iommu_drv_map(&R.d, did, 0x200000, 0x400000, 0x200000, VTD_SL_RW), 0);
	ck_assert_int_eq(iommu_drv_unmap(&R.d, did, 0x201000, 0x1000), -1);
}
END_TEST

/* One domain per device: B cannot reach A's pages; detaching A makes its
 * context entry not present (and the context cache was invalidated). */
START_TEST(test_drv_domains_isolate_and_detach)
{
	uint16_t da, db;
	ck_assert_int_eq(iommu_drv_domain_alloc(&R.d, &da), 0);
	ck_assert_int_eq(iommu_drv_domain_alloc(&R.d, &db), 0);
	ck_assert_uint_eq(db, 2);
	ck_assert_int_eq(iommu_drv_attach(&R.d, da, SID_A), 0);
	ck_assert_int_eq(iommu_drv_attach(&R.d, db, SID_B), 0);
	ck_assert_int_eq(iommu_drv_map(&R.d, da, 0x1000, 0xa000000, 0x1000, VTD_SL_RW), 0);
	ck_assert_int_eq(iommu_drv_map(&R.d, db, 0x2000, 0xb000000, 0x1000, VTD_SL_RW), 0);
	struct vtd_xlate x;
	ck_assert_uint_eq(dma(SID_A, 0x1000, true, &x), VTD_FR_NONE);
	ck_assert_uint_eq(x.hpa, 0xa000000);
	ck_assert_uint_eq(dma(SID_B, 0x1000, true, &x), VTD_FR_WRITE);
	ck_assert_uint_eq(dma(SID_A, 0x2000, false, &x), VTD_FR_READ);
	ck_assert_int_eq(iommu_drv_detach(&R.d, SID_A), 0);
	ck_assert_uint_eq(dma(SID_A, 0x1000, true, &x), VTD_FR_CONTEXT_NOT_PRESENT);
	/* re-attach A to B's domain: it now reaches B's page */
	ck_assert_int_eq(iommu_drv_attach(&R.d, db, SID_A), 0);
	ck_assert_uint_eq(dma(SID_A, 0x2000, false, &x), VTD_FR_NONE);
	ck_assert_uint_eq(x.hpa, 0xb000000);
}
END_TEST

/* ---- interrupt remapping through the driver --------------------------- */

START_TEST(test_drv_ir_remapped_and_sid_check)
{
	ck_assert_msg(iommu_drv_ir_enable(&R.d, 7, true) == 0, "%s", R.d.err);
	ck_assert_uint_eq(iommu_mmio_read(&R.u, VTD_REG_GSTS, 4), 0xC7000000); /* + IRES | IRTPS */
	uint64_t addr;
	uint32_t data;
	struct iommu_irte_sv sv = {VTD_SVT_SID, 0, SID_A};
	ck_assert_int_eq(iommu_drv_irte_remapped(&R.d, 5, 3, 0x41, sv, &addr, &data), 0);
	ck_assert_uint_eq(addr, 0xfee000b0); /* 0xFEE00000 | IF (bit 4) | HANDLE 5 << 5 */
	ck_assert_uint_eq(data, 0);
	struct vtd_ir_result r;
	ck_assert_uint_eq(iommu_msi(&R.u, SID_A, addr, data, &r), VTD_FR_NONE);
	ck_assert_uint_eq(R.msgs, 1);
	ck_assert_int_eq(R.msg[0].origin, VTD_IRQ_REMAPPED);
	ck_assert_uint_eq(R.msg[0].vector, 0x41);
	ck_assert_uint_eq(R.msg[0].dest, 3);
	ck_assert_uint_eq(r.nrefs, 1);
	ck_assert_uint_eq(iommu_msi(&R.u, SID_A, addr, data, &r), VTD_FR_NONE);
	ck_assert(r.iec_hit);
	ck_assert_uint_eq(r.nrefs, 0);
	/* SVT = 01, SQ = 00: another requester is refused with 0x26 */
	ck_assert_uint_eq(iommu_msi(&R.u, SID_B, addr, data, &r), VTD_FR_IR_SID);
	ck_assert_uint_eq(R.msgs, 3); /* two remapped, then the fault event */
	ck_assert_int_eq(R.msg[2].origin, VTD_IRQ_FAULT_EVENT);
	struct iommu_fault_report f[2];
	unsigned n;
	bool ovf;
	ck_assert_int_eq(iommu_drv_faults(&R.d, f, 2, &n, &ovf), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(f[0].addr, UINT64_C(5) << 48);
	char line[160];
	iommu_drv_format_fault(&f[0], line, sizeof(line));
	ck_assert_str_eq(line, "interrupt from 00:03.0, index 5: fault reason 0x26 (source-id verification failed)");
	/* SQ = 11 ignores function bits 2:0: 00:02.5 passes, 00:03.0 still fails */
	sv.sq = 3;
	ck_assert_int_eq(iommu_drv_irte_remapped(&R.d, 5, 3, 0x42, sv, &addr, &data), 0);
	ck_assert_uint_eq(iommu_msi(&R.u, VTD_SID(0, 2, 5), addr, data, &r), VTD_FR_NONE);
	ck_assert_uint_eq(r.msg.vector, 0x42); /* the driver invalidated the IEC entry */
	ck_assert_uint_eq(iommu_msi(&R.u, SID_B, addr, data, &r), VTD_FR_IR_SID);
	/* SVT = 10: requester bus within [1, 3] */
	struct iommu_irte_sv bus = {VTD_SVT_BUS, 0, (1 << 8) | 3};
	ck_assert_int_eq(iommu_drv_irte_remapped(&R.d, 6, 1, 0x43, bus, &addr, &data), 0);
	ck_assert_uint_eq(iommu_msi(&R.u, VTD_SID(2, 0, 0), addr, data, &r), VTD_FR_NONE);
	ck_assert_uint_eq(iommu_msi(&R.u, VTD_SID(4, 0, 0), addr, data, &r), VTD_FR_IR_SID);
	ck_assert_uint_eq(iommu_msi(&R.u, VTD_SID(0, 2, 0), addr, data, &r), VTD_FR_IR_SID);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_FAULT_IR_SID], 4);
}
END_TEST

/* Posting (CAP.PI): PIR[VV] set; ON 0 -> 1 with a notification of NV to
 * NDST; with ON already set no notification; SN = 1 suppresses unless URG. */
START_TEST(test_drv_ir_posted_notifies_only_when_needed)
{
	ck_assert_int_eq(iommu_drv_ir_enable(&R.d, 7, true), 0);
	const uint64_t pda = 0x8000040;
	mem_write64(&R.mem, pda + 32, (UINT64_C(2) << 32) | (UINT64_C(0xf2) << 16)); /* NDST 2, NV 0xf2 */
	uint64_t addr;
	uint32_t data;
	struct iommu_irte_sv sv = {VTD_SVT_SID, 0, SID_A};
	ck_assert_msg(iommu_drv_irte_posted(&R.d, 9, pda, 0x51, false, sv, &addr, &data) == 0, "%s", R.d.err);
	struct vtd_ir_result r;
	ck_assert_uint_eq(iommu_msi(&R.u, SID_A, addr, data, &r), VTD_FR_NONE);
	ck_assert(r.posted && r.notified);
	ck_assert_uint_eq(mem_read64(&R.mem, pda + 8), UINT64_C(1) << 17); /* vector 0x51 = 64 + 17 */
	ck_assert_uint_eq(mem_read64(&R.mem, pda + 32) & VTD_PID_ON, VTD_PID_ON);
	ck_assert_uint_eq(R.msgs, 1);
	ck_assert_int_eq(R.msg[0].origin, VTD_IRQ_POSTED_NOTIFY);
	ck_assert_uint_eq(R.msg[0].vector, 0xf2);
	ck_assert_uint_eq(R.msg[0].dest, 2);
	ck_assert_uint_eq(r.nrefs, 3); /* IRTE, PIR qword, control qword */
	/* ON already set: posted, no notification */
	ck_assert_uint_eq(iommu_msi(&R.u, SID_A, addr, data, &r), VTD_FR_NONE);
	ck_assert(r.posted && !r.notified);
	ck_assert_uint_eq(R.msgs, 1);
	/* the CPU consumed it (ON = 0) and the vCPU is not running (SN = 1) */
	mem_write64(&R.mem, pda + 32, (UINT64_C(2) << 32) | (UINT64_C(0xf2) << 16) | VTD_PID_SN);
	ck_assert_uint_eq(iommu_msi(&R.u, SID_A, addr, data, &r), VTD_FR_NONE);
	ck_assert(r.posted && !r.notified);
	/* URG overrides SN */
	ck_assert_int_eq(iommu_drv_irte_posted(&R.d, 9, pda, 0x51, true, sv, &addr, &data), 0);
	ck_assert_uint_eq(iommu_msi(&R.u, SID_A, addr, data, &r), VTD_FR_NONE);
	ck_assert(r.notified);
	ck_assert_uint_eq(R.msgs, 2);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_IR_POSTED], 4);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_IR_NOTIFICATIONS], 2);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_IR_NOTIFY_SUPPRESSED], 2);
}
END_TEST

START_TEST(test_drv_ir_posted_needs_cap_pi)
{
	ck_assert_int_eq(iommu_drv_ir_enable(&R.d, 7, true), 0);
	uint64_t addr;
	uint32_t data;
	ck_assert_int_eq(iommu_drv_irte_posted(&R.d, 9, 0x8000040, 0x51, false, (struct iommu_irte_sv){0, 0, 0}, &addr,
						&data),
			 -1);
	ck_assert_str_eq(R.d.err, "IOMMU driver: the unit cannot post interrupts (CAP.PI = 0)");
}
END_TEST

/* ---- swiotlb ---------------------------------------------------------- */

#define POOL UINT64_C(0x4000000) /* 64 MiB, in low memory */
static struct swiotlb S;
static const struct dma_dev DEV32 = {.dma_mask = 0xffffffff, .seg_boundary = 0xffffffff};

static void sw_setup(void)
{
	char err[256];
	memset(&R, 0, sizeof(R));
	ck_assert_int_eq(mem_init(&R.mem), 0);
	ck_assert_msg(swiotlb_init(&S, &R.mem, &R.ctr, POOL, UINT64_C(64) << 20, 250, err) == 0, "%s", err);
	ck_assert_uint_eq(S.nslabs, 32768);
}

static void sw_teardown(void)
{
	swiotlb_destroy(&S);
	mem_destroy(&R.mem);
}

/* 5000 bytes at a 2 KiB-aligned buffer above 4 GiB, 32-bit device: bounced
 * into ceil(5000 / 2048) = 3 slots; a mapping of a page or more is page
 * aligned, so the next 5000-byte mapping starts at slot 4 (0x4002000) and
 * slot 3 is left as a one-slot free run. */
START_TEST(test_swiotlb_5000_bytes_take_3_slots)
{
	uint64_t a = dma_direct_map_page(&S, &DEV32, UINT64_C(0x100000800), 5000, DMA_TO_DEVICE);
	ck_assert_uint_eq(a, POOL);
	ck_assert_uint_eq(S.used, 3);
	ck_assert_uint_eq(R.ctr.v[CTR_DMA_BOUNCE_SLOTS], 3);
	ck_assert_uint_eq(S.slots[0].list, 0);
	ck_assert_uint_eq(S.slots[2].list, 0);
	ck_assert_uint_eq(S.slots[3].list, 125);
	ck_assert_uint_eq(S.slots[0].alloc_size, 5000);
	ck_assert_uint_eq(S.slots[2].alloc_size, 5000 - 4096);
	uint64_t b = dma_direct_map_page(&S, &DEV32, UINT64_C(0x100003800), 5000, DMA_TO_DEVICE);
	ck_assert_uint_eq(b, POOL + 0x2000);
	ck_assert_uint_eq(S.slots[3].list, 1);
	ck_assert_uint_eq(S.used, 6);
	dma_direct_unmap_page(&S, &DEV32, a, 5000, DMA_TO_DEVICE);
	dma_direct_unmap_page(&S, &DEV32, b, 5000, DMA_TO_DEVICE);
	ck_assert_uint_eq(S.used, 0);
	ck_assert_uint_eq(S.slots[0].list, 128); /* the segment is whole again */
	ck_assert_uint_eq(S.slots[127].list, 1);
}
END_TEST

/* The §8.3 table, with real data: each direction's copies and bytes. */
START_TEST(test_swiotlb_copy_directions)
{
	const uint64_t orig = UINT64_C(0x200000000), size = 4096;
	static const enum dma_data_direction dirs[3] = {DMA_TO_DEVICE, DMA_FROM_DEVICE, DMA_BIDIRECTIONAL};
	/* copies by map, sync_for_device, sync_for_cpu, unmap */
	static const unsigned want[3][4] = {{1, 1, 0, 0}, {1, 0, 1, 1}, {1, 1, 1, 1}};
	for (int d = 0; d < 3; d++) {
		for (uint64_t o = 0; o < size; o += 8)
			mem_write64(&R.mem, orig + o, 0x1111000000000000 + o); /* the CPU's data */
		uint64_t c0 = R.ctr.v[CTR_DMA_BOUNCE_COPIES];
		uint64_t a = dma_direct_map_page(&S, &DEV32, orig, size, dirs[d]);
		ck_assert_uint_eq(R.ctr.v[CTR_DMA_BOUNCE_COPIES] - c0, want[d][0]);
		ck_assert_uint_eq(mem_read64(&R.mem, a + 8), 0x1111000000000008); /* map copied to the bounce */
		for (uint64_t o = 0; o < size; o += 8)
			mem_write64(&R.mem, a + o, 0x2222000000000000 + o); /* the device writes the bounce */
		c0 = R.ctr.v[CTR_DMA_BOUNCE_COPIES];
		swiotlb_sync_single_for_device(&S, &DEV32, a, size, dirs[d]);
		ck_assert_uint_eq(R.ctr.v[CTR_DMA_BOUNCE_COPIES] - c0, want[d][1]);
		for (uint64_t o = 0; o < size; o += 8)
			mem_write64(&R.mem, a + o, 0x2222000000000000 + o);
		c0 = R.ctr.v[CTR_DMA_BOUNCE_COPIES];
		swiotlb_sync_single_for_cpu(&S, &DEV32, a, size, dirs[d]);
		ck_assert_uint_eq(R.ctr.v[CTR_DMA_BOUNCE_COPIES] - c0, want[d][2]);
		c0 = R.ctr.v[CTR_DMA_BOUNCE_COPIES];
		dma_direct_unmap_page(&S, &DEV32, a, size, dirs[d]);
		ck_assert_uint_eq(R.ctr.v[CTR_DMA_BOUNCE_COPIES] - c0, want[d][3]);
		/* the device's data reached the CPU only where a copy back exists */
		ck_assert_uint_eq(mem_read64(&R.mem, orig + 8), d == 0 ? 0x1111000000000008 : 0x2222000000000008);
	}
	/* 2 + 3 + 4 = 9 copies of 4096 bytes; 250 cycles per KiB */
	ck_assert_uint_eq(R.ctr.v[CTR_DMA_BOUNCE_COPIES], 9);
	ck_assert_uint_eq(R.ctr.v[CTR_DMA_BOUNCE_BYTES], 9 * 4096);
	ck_assert_uint_eq(R.ctr.v[CTR_DMA_BOUNCE_CYCLES], 9 * 1000);
	ck_assert_uint_eq(R.ctr.v[CTR_DMA_BOUNCE_MAPS], 3);
}
END_TEST

/* A reachable buffer is not bounced; a forced device bounces anyway. */
START_TEST(test_swiotlb_only_when_needed)
{
	ck_assert_uint_eq(dma_direct_map_page(&S, &DEV32, 0x7000000, 4096, DMA_TO_DEVICE), 0x7000000);
	ck_assert_uint_eq(dma_direct_map_page(&S, &DEV32, 0xfffff000, 4096, DMA_TO_DEVICE), 0xfffff000);
	ck_assert_uint_eq(dma_direct_map_page(&S, &DEV32, 0xfffff001, 4096, DMA_TO_DEVICE), POOL); /* ends past 4 GiB */
	struct dma_dev forced = DEV32;
	forced.force_bounce = true;
	/* the search resumes after the last allocation (slots 0-1): slot 2 */
	ck_assert_uint_eq(dma_direct_map_page(&S, &forced, 0x7000000, 100, DMA_TO_DEVICE), POOL + 0x1000);
	ck_assert_uint_eq(R.ctr.v[CTR_DMA_BOUNCE_MAPS], 2);
}
END_TEST

/* min_align_mask 0xfff (NVMe): the bounce address keeps the original's low
 * 12 bits: offset 0xa34 & 0x7ff = 0x234 into a slot whose bit 11 matches
 * the original's (set): slot 1, so 0x4000800 + 0x234 = 0x4000a34. */
START_TEST(test_swiotlb_min_align_mask)
{
	struct dma_dev nvme = DEV32;
	nvme.min_align_mask = 0xfff;
	uint64_t a = swiotlb_tbl_map_single(&S, &nvme, UINT64_C(0x100000a34), 100, 0, DMA_FROM_DEVICE);
	ck_assert_uint_eq(a, POOL + 0xa34);
	ck_assert_uint_eq(S.used, 1);
	ck_assert_uint_eq(S.slots[0].list, 1); /* slot 0 stays free */
	swiotlb_tbl_unmap_single(&S, &nvme, a, 100, DMA_FROM_DEVICE, false);
	ck_assert_uint_eq(S.used, 0);
	ck_assert_uint_eq(S.slots[0].list, 128);
}
END_TEST

/* At most one 128-slot segment (256 KiB) per mapping; a full pool says so. */
START_TEST(test_swiotlb_limits)
{
	ck_assert_uint_eq(swiotlb_tbl_map_single(&S, &DEV32, UINT64_C(0x100000000), 256 * 1024 + 1, 0, DMA_TO_DEVICE),
			  DMA_MAPPING_ERROR);
	ck_assert_str_eq(S.err, "swiotlb buffer is full (sz: 262145 bytes), total 32768 (slots), used 0 (slots)");
	ck_assert_uint_ne(swiotlb_tbl_map_single(&S, &DEV32, UINT64_C(0x100000000), 256 * 1024, 0, DMA_TO_DEVICE),
			  DMA_MAPPING_ERROR);
	ck_assert_uint_eq(S.used, 128);
	ck_assert_uint_eq(R.ctr.v[CTR_DMA_BOUNCE_FULL], 1);
	char err[256];
	struct swiotlb small;
	ck_assert_int_eq(swiotlb_init(&small, &R.mem, &R.ctr, 0xff000000, UINT64_C(32) << 20, 250, err), -1);
	ck_assert_int_eq(swiotlb_init(&small, &R.mem, &R.ctr, 0x10000000, UINT64_C(1) << 20, 250, err), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(swiotlb_tbl_map_single(&small, &DEV32, UINT64_C(0x100000000), 256 * 1024, 0, DMA_TO_DEVICE),
				  0x10000000 + (uint64_t)i * 256 * 1024);
	ck_assert_uint_eq(swiotlb_tbl_map_single(&small, &DEV32, UINT64_C(0x100000000), 2048, 0, DMA_TO_DEVICE),
			  DMA_MAPPING_ERROR);
	swiotlb_destroy(&small);
}
END_TEST

static Suite *dma_suite(void)
{
	Suite *s = suite_create("dma");
	TCase *tc = tcase_create("driver");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_drv_init_brings_the_unit_up);
	tcase_add_test(tc, test_drv_maps_a_guest_memory_map);
	tcase_add_test(tc, test_drv_reports_faults);
	tcase_add_test(tc, test_drv_unmap_invalidates_page_selectively);
	tcase_add_test(tc, test_drv_domains_isolate_and_detach);
	tcase_add_test(tc, test_drv_ir_remapped_and_sid_check);
	tcase_add_test(tc, test_drv_ir_posted_needs_cap_pi);
	suite_add_tcase(s, tc);
	tc = tcase_create("posted");
	tcase_add_checked_fixture(tc, setup_pi, teardown);
	tcase_add_test(tc, test_drv_ir_posted_notifies_only_when_needed);
	suite_add_tcase(s, tc);
	tc = tcase_create("swiotlb");
	tcase_add_checked_fixture(tc, sw_setup, sw_teardown);
	tcase_add_test(tc, test_swiotlb_5000_bytes_take_3_slots);
	tcase_add_test(tc, test_swiotlb_copy_directions);
	tcase_add_test(tc, test_swiotlb_only_when_needed);
	tcase_add_test(tc, test_swiotlb_min_align_mask);
	tcase_add_test(tc, test_swiotlb_limits);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(dma_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
