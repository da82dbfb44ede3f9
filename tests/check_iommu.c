/*
 * Unit tests for the VT-d remapping hardware (src/iommu). The tables are
 * written by hand in simulated memory in the reference sheet's formats
 * (§7.4, §7.6, §7.10); the unit is programmed only through its registers.
 * Every expected value is worked out from the sheet and the part's CAP/ECAP
 * (iommu.cap 0xd2008c40660462, iommu.ecap 0xf050da: FRCD at 0x400, one
 * record, IVA/IOTLB at 0x500/0x508, SAGAW 4-level only, MGAW 39, HAW 39,
 * 2 MiB and 1 GiB pages; host memory 64 GiB = 0x1000000000).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/vtd.h"
#include "iommu/iommu.h"
#include "util/u64map.h"

/* Fixed layout (host-physical). */
#define ROOT_HPA 0x10000u
#define CTX0_HPA 0x11000u   /* context table of bus 0 */
#define SL_POOL 0x100000u   /* second-level tables are taken from here */
#define MEM_END UINT64_C(0x1000000000) /* 64 GiB: host.mem_mib default */
#define SID_A VTD_SID(0, 2, 0) /* 00:02.0 = 0x0010 */
#define SID_B VTD_SID(0, 3, 0) /* 00:03.0 = 0x0018 */
#define DID_A 1
#define DID_B 2
#define FRCD0 0x400u

struct rig {
	struct sim_params p;
	struct phys_mem mem;
	struct counters ctr;
	struct iommu u;
	uint64_t next_table;
	unsigned msgs;
	struct vtd_irq_msg last;
};

static struct rig R;

static void sink(void *ctx, const struct vtd_irq_msg *m)
{
	struct rig *r = ctx;
	r->msgs++;
	r->last = *m;
}

static void w32(unsigned off, uint64_t v)
{
	ck_assert_msg(iommu_mmio_write(&R.u, off, 4, v) == 0, "%s", R.u.err);
}

static void w64(unsigned off, uint64_t v)
{
	ck_assert_msg(iommu_mmio_write(&R.u, off, 8, v) == 0, "%s", R.u.err);
}

static uint64_t r32(unsigned off)
{
	return iommu_mmio_read(&R.u, off, 4);
}

static uint64_t r64(unsigned off)
{
	return iommu_mmio_read(&R.u, off, 8);
}

/* The driver's handshake (§7.3): GCMD = persistent status | command. */
static void gcmd(uint32_t cmd)
{
	uint32_t st = (uint32_t)r32(VTD_REG_GSTS) & (uint32_t)VTD_GSTS_PERSISTENT;
	w32(VTD_REG_GCMD, st | cmd);
}

static void rig_setup_cfg(void (*tweak)(struct iommu_config *))
{
	char err[IOMMU_ERR_LEN] = "";
	memset(&R, 0, sizeof(R));
	params_defaults(&R.p);
	ck_assert_int_eq(mem_init(&R.mem), 0);
	struct iommu_config cfg;
	iommu_config_from_params(&R.p, R.p.host_mem_mib << 20, &cfg);
	if (tweak)
		tweak(&cfg);
	ck_assert_msg(iommu_init(&R.u, &cfg, &R.mem, &R.ctr, (struct vtd_irq_sink){&R, sink}, err) == 0, "%s", err);
	R.next_table = SL_POOL;
}

static void rig_setup(void)
{
	rig_setup_cfg(NULL);
}

static void rig_teardown(void)
{
	iommu_destroy(&R.u);
	mem_destroy(&R.mem);
}

static uint64_t new_table(void)
{
	uint64_t t = R.next_table;
	R.next_table += 0x1000;
	return t;
}

static void set_root(unsigned bus, uint64_t ctp)
{
	mem_write64(&R.mem, ROOT_HPA + 16 * bus, ctp | VTD_ROOT_P);
}

/* Context entry for devfn in the bus-0 table: present, TT = 00, AW = 2
 * (48-bit, 4-level), the given DID and root. */
static void set_ctx(uint16_t sid, uint64_t slpt, uint16_t did)
{
	mem_write64(&R.mem, CTX0_HPA + 16 * VTD_SID_DEVFN(sid), slpt | VTD_CTX_P);
	mem_write64(&R.mem, CTX0_HPA + 16 * VTD_SID_DEVFN(sid) + 8, 2 | ((uint64_t)did << VTD_CTX_HI_DID_SHIFT));
}

/* Map iova -> hpa with a leaf at level leaf (1 = 4 KiB, 2 = 2 MiB, 3 =
 * 1 GiB) in the 4-level tree at root; non-leaves get R/W. */
static void map(uint64_t root, uint64_t iova, uint64_t hpa, unsigned leaf, uint64_t perm)
{
	uint64_t t = root;
	for (unsigned level = 4; level > leaf; level--) {
		uint64_t ea = t + 8 * ((iova >> (12 + 9 * (level - 1))) & 511);
		uint64_t e = mem_read64(&R.mem, ea);
		if (!(e & VTD_SL_RW)) {
			e = new_table() | VTD_SL_RW;
			mem_write64(&R.mem, ea, e);
		}
		t = e & VTD_SL_ADDR_MASK;
	}
	mem_write64(&R.mem, t + 8 * ((iova >> (12 + 9 * (leaf - 1))) & 511), hpa | perm | (leaf > 1 ? VTD_SL_PS : 0));
}

/* Root and context tables, device A in domain A with a 4-level tree at
 * 0x20000 (so its PML4 is at a known address), translation on. */
static uint64_t SLPT_A;
static void enable(void)
{
	set_root(0, CTX0_HPA);
	SLPT_A = 0x20000;
	set_ctx(SID_A, SLPT_A, DID_A);
	w64(VTD_REG_RTADDR, ROOT_HPA);
	gcmd(VTD_GCMD_SRTP);
	gcmd(VTD_GCMD_TE);
}

static enum vtd_fault_reason dma(uint16_t sid, uint64_t iova, bool write, struct vtd_xlate *x)
{
	struct vtd_request rq = {sid, iova, write, VTD_AT_UNTRANSLATED};
	return iommu_translate(&R.u, &rq, x);
}

/* The fault record a driver would read (FRCD0 as dwords, §7.8), then cleared. */
static void expect_record(uint64_t page, uint16_t sid, unsigned reason, bool read)
{
	uint64_t lo = r64(FRCD0), hi = r64(FRCD0 + 8);
	ck_assert_uint_eq(lo, page);
	ck_assert_uint_eq(hi, VTD_FRCD_HI_F | (read ? VTD_FRCD_HI_T : 0) | ((uint64_t)reason << 32) | sid);
	ck_assert_uint_eq(r32(VTD_REG_FSTS), VTD_FSTS_PPF); /* FRI 0 */
	w32(FRCD0 + 12, VTD_BIT(31));                        /* clear F as Linux does (dword at +12) */
	ck_assert_uint_eq(r32(VTD_REG_FSTS), 0);
}

/* Global IOTLB invalidation by register (also drops the paging-structure
 * caches): what software must do after changing present entries. */
static void inv_iotlb_global(void)
{
	w64(0x508, VTD_IOTLB_IVT | (UINT64_C(1) << 60));
	ck_assert_uint_eq((r64(0x508) >> 57) & 3, 1); /* IAIG global */
}

static void expect_fault(uint16_t sid, uint64_t iova, bool write, unsigned reason)
{
	struct vtd_xlate x;
	ck_assert_uint_eq(dma(sid, iova, write, &x), reason);
	ck_assert_int_eq(x.disp, VTD_FAULT_RECORDED);
	expect_record(iova & ~UINT64_C(0xfff), sid, reason, !write);
}

/* ---- registers ------------------------------------------------------- */

START_TEST(test_iommu_registers_reset_and_masks)
{
	ck_assert_uint_eq(r32(VTD_REG_VER), 0x10);
	ck_assert_uint_eq(r64(VTD_REG_CAP), UINT64_C(0xd2008c40660462));
	ck_assert_uint_eq(r64(VTD_REG_ECAP), UINT64_C(0xf050da));
	ck_assert_uint_eq(r32(VTD_REG_CAP + 4), 0xd2008c);     /* a 64-bit register read as its high dword */
	ck_assert_uint_eq(R.u.frcd_off, 0x400);
	ck_assert_uint_eq(R.u.iva_off, 0x500);
	ck_assert_uint_eq(R.u.nfr, 1);
	ck_assert_uint_eq(R.u.did_bits, 8);
	/* CAP is read-only: a write is accepted and changes nothing. */
	w64(VTD_REG_CAP, 0);
	ck_assert_uint_eq(r64(VTD_REG_CAP), UINT64_C(0xd2008c40660462));
	/* RTADDR keeps 38:12 (HAW 39) and 11:10. */
	w64(VTD_REG_RTADDR, ~UINT64_C(0));
	ck_assert_uint_eq(r64(VTD_REG_RTADDR), UINT64_C(0x7ffffffc00));
	/* GCMD is write-only. */
	ck_assert_uint_eq(r32(VTD_REG_GCMD), 0);
	/* A hole refuses writes loudly. */
	ck_assert_int_eq(iommu_mmio_write(&R.u, 0x300, 4, 1), -1);
	ck_assert_str_eq(R.u.err, "iommu: MMIO write to 0x300: no register there");
	ck_assert_ptr_nonnull(iommu_reg_at(&R.u, 0x508));
	ck_assert_str_eq(iommu_reg_at(&R.u, 0x508)->name, "IOTLB");
	ck_assert_str_eq(iommu_reg_at(&R.u, 0x40C)->name, "FRCD.hi");
}
END_TEST

START_TEST(test_iommu_gcmd_handshakes)
{
	/* TE before a root pointer is latched fails. */
	ck_assert_int_eq(iommu_mmio_write(&R.u, VTD_REG_GCMD, 4, VTD_GCMD_TE), -1);
	ck_assert_uint_eq(r32(VTD_REG_GSTS), 0);
	w64(VTD_REG_RTADDR, ROOT_HPA);
	gcmd(VTD_GCMD_SRTP);
	ck_assert_uint_eq(r32(VTD_REG_GSTS), 0x40000000); /* RTPS */
	ck_assert_uint_eq(R.u.rta, ROOT_HPA);
	gcmd(VTD_GCMD_TE);
	ck_assert_uint_eq(r32(VTD_REG_GSTS), 0xC0000000); /* TES | RTPS */
	/* queued invalidation: IQT = 0, IQA, QIE -> QIES, IQH reset */
	w64(VTD_REG_IQT, 0);
	w64(VTD_REG_IQA, 0x30000);
	gcmd(VTD_GCMD_QIE);
	ck_assert_uint_eq(r32(VTD_REG_GSTS), 0xC4000000);
	/* IRE before SIRTP fails; SIRTP then IRE */
	ck_assert_int_eq(iommu_mmio_write(&R.u, VTD_REG_GCMD, 4, 0x84000000 | VTD_GCMD_IRE), -1);
	w64(VTD_REG_IRTA, 0x40000 | VTD_IRTA_EIME | 7);
	gcmd(VTD_GCMD_SIRTP);
	ck_assert_uint_eq(r32(VTD_REG_GSTS), 0xC5000000);
	ck_assert_uint_eq(R.u.irta, 0x40000 | VTD_IRTA_EIME | 7);
	gcmd(VTD_GCMD_IRE);
	ck_assert_uint_eq(r32(VTD_REG_GSTS), 0xC7000000);
	/* turning TE off keeps the others */
	w32(VTD_REG_GCMD, 0x06000000);
	ck_assert_uint_eq(r32(VTD_REG_GSTS), 0x47000000);
	/* features the model lacks fail with a message */
	ck_assert_int_eq(iommu_mmio_write(&R.u, VTD_REG_PMEN, 4, VTD_BIT(31)), -1);
	ck_assert_str_eq(R.u.err, "iommu: PMEN.EPM: protected-memory regions are not modelled (0x64)");
	ck_assert_int_eq(iommu_mmio_write(&R.u, VTD_REG_CCMD, 8, VTD_CCMD_ICC | (UINT64_C(1) << 61)), -1);
}
END_TEST

/* ---- translation ------------------------------------------------------ */

START_TEST(test_iommu_translation_off_passes_through)
{
	struct vtd_xlate x;
	ck_assert_uint_eq(dma(SID_A, 0x123456, true, &x), VTD_FR_NONE);
	ck_assert(x.translation_off);
	ck_assert_uint_eq(x.hpa, 0x123456);
	ck_assert_uint_eq(x.nrefs, 0);
}
END_TEST

/* A cold 4 KiB translation: root, context, SL-PML4E, SL-PDPE, SL-PDE,
 * SL-PTE = 6 references, 6000 cycles; the same page again hits the context
 * cache and the IOTLB (0 references); the next page hits the SL-PDE cache
 * (1 reference). */
START_TEST(test_iommu_walk_4k_refs_and_caches)
{
	enable();
	map(SLPT_A, 0x7000, 0x5550000, 1, VTD_SL_RW);
	map(SLPT_A, 0x8000, 0x6660000, 1, VTD_SL_R);
	struct vtd_xlate x;
	ck_assert_uint_eq(dma(SID_A, 0x7abc, true, &x), VTD_FR_NONE);
	ck_assert_uint_eq(x.hpa, 0x5550abc);
	ck_assert_uint_eq(x.nrefs, 6);
	ck_assert_uint_eq(x.cycles, 6000);
	ck_assert_int_eq(x.ref[0].kind, VTD_REF_ROOT);
	ck_assert_uint_eq(x.ref[0].addr, ROOT_HPA);
	ck_assert_int_eq(x.ref[1].kind, VTD_REF_CONTEXT);
	ck_assert_uint_eq(x.ref[1].addr, CTX0_HPA + 16 * 0x10);
	ck_assert_uint_eq(x.ref[2].addr, SLPT_A); /* PML4 index 0 */
	ck_assert_uint_eq(x.ref[2].level, 4);
	ck_assert_uint_eq(x.ref[5].addr, SL_POOL + 0x2000 + 8 * 7); /* the PT's entry 7 */
	ck_assert_uint_eq(x.ref[5].lo, 0x5550000 | VTD_SL_RW);
	ck_assert_uint_eq(x.did, DID_A);
	ck_assert_uint_eq(x.levels, 4);
	ck_assert(!x.cc_hit && !x.iotlb_hit);

	ck_assert_uint_eq(dma(SID_A, 0x7000, false, &x), VTD_FR_NONE);
	ck_assert(x.cc_hit && x.iotlb_hit);
	ck_assert_uint_eq(x.nrefs, 0);
	ck_assert_uint_eq(x.hpa, 0x5550000);

	ck_assert_uint_eq(dma(SID_A, 0x8010, false, &x), VTD_FR_NONE);
	ck_assert(x.cc_hit && !x.iotlb_hit);
	ck_assert_uint_eq(x.ptc_hit_level, 2);
	ck_assert_uint_eq(x.nrefs, 1);
	ck_assert_uint_eq(x.hpa, 0x6660010);

	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_REQUESTS], 3);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_CONTEXT_CACHE_HIT], 2);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_CONTEXT_CACHE_MISS], 1);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_IOTLB_HIT], 1);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_IOTLB_MISS], 2);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_WALK_REFS], 7);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_CYCLES], 7000);
}
END_TEST

/* 2 MiB and 1 GiB leaves (CAP.SLLPS = 11b): 3 and 2 second-level references. */
START_TEST(test_iommu_large_pages)
{
	enable();
	map(SLPT_A, 0x40000000, 0x80000000, 3, VTD_SL_RW);  /* 1 GiB at 1 GiB */
	map(SLPT_A, 0x200000, 0x3400000, 2, VTD_SL_RW);     /* 2 MiB at 2 MiB */
	struct vtd_xlate x;
	ck_assert_uint_eq(dma(SID_A, 0x4abcdef0, false, &x), VTD_FR_NONE);
	ck_assert_uint_eq(x.hpa, 0x8abcdef0);
	ck_assert_uint_eq(x.page_shift, 30);
	ck_assert_uint_eq(x.nrefs, 2 + 2);
	ck_assert_uint_eq(dma(SID_A, 0x3fffff, true, &x), VTD_FR_NONE);
	ck_assert_uint_eq(x.hpa, 0x35fffff);
	ck_assert_uint_eq(x.page_shift, 21);
	ck_assert_uint_eq(x.ptc_hit_level, 4); /* the SL-PML4E for IOVA[47:39] = 0 was cached */
	ck_assert_uint_eq(x.nrefs, 2);         /* SL-PDPE, SL-PDE */
	/* the IOTLB holds both sizes: another address in each page hits */
	ck_assert_uint_eq(dma(SID_A, 0x40000008, false, &x), VTD_FR_NONE);
	ck_assert(x.iotlb_hit);
	ck_assert_uint_eq(x.hpa, 0x80000008);
	ck_assert_uint_eq(dma(SID_A, 0x200008, false, &x), VTD_FR_NONE);
	ck_assert(x.iotlb_hit);
	ck_assert_uint_eq(x.hpa, 0x3400008);
}
END_TEST

/* ---- every DMA fault reason legacy mode can produce (§7.9) ---------- */

START_TEST(test_iommu_fault_0x1_root_not_present)
{
	enable();
	expect_fault(VTD_SID(1, 0, 0), 0x1000, false, VTD_FR_ROOT_NOT_PRESENT); /* root entry of bus 1 is 0 */
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_FAULT_ROOT_NOT_PRESENT], 1);
}
END_TEST

START_TEST(test_iommu_fault_0x2_context_not_present)
{
	enable();
	expect_fault(VTD_SID(0, 4, 1), 0x2000, true, VTD_FR_CONTEXT_NOT_PRESENT);
}
END_TEST

START_TEST(test_iommu_fault_0x3_context_invalid)
{
	enable();
	/* AW = 1 (39-bit, 3-level): SAGAW has only bit 10 (4-level). */
	mem_write64(&R.mem, CTX0_HPA + 16 * VTD_SID_DEVFN(SID_B), SL_POOL | VTD_CTX_P);
	mem_write64(&R.mem, CTX0_HPA + 16 * VTD_SID_DEVFN(SID_B) + 8, 1 | ((uint64_t)DID_B << 8));
	expect_fault(SID_B, 0x3000, false, VTD_FR_CONTEXT_INVALID);
	/* TT = 11 (reserved) */
	mem_write64(&R.mem, CTX0_HPA + 16 * VTD_SID_DEVFN(SID_B), SL_POOL | VTD_CTX_P | (3 << 2));
	mem_write64(&R.mem, CTX0_HPA + 16 * VTD_SID_DEVFN(SID_B) + 8, 2 | ((uint64_t)DID_B << 8));
	expect_fault(SID_B, 0x3000, false, VTD_FR_CONTEXT_INVALID);
	/* TT = 01 (device-TLB) without ECAP.DT */
	mem_write64(&R.mem, CTX0_HPA + 16 * VTD_SID_DEVFN(SID_B), SL_POOL | VTD_CTX_P | (1 << 2));
	expect_fault(SID_B, 0x3000, true, VTD_FR_CONTEXT_INVALID);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_FAULT_CONTEXT_INVALID], 3);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_CONTEXT_CACHE_MISS], 3); /* invalid entries are not cached */
}
END_TEST

START_TEST(test_iommu_fault_0x4_address_width)
{
	enable();
	/* AGAW is 48 bits, but MGAW is 39: 2^39 faults, 2^39 - 1 walks. */
	expect_fault(SID_A, UINT64_C(1) << 39, false, VTD_FR_ADDR_BEYOND_AW);
	struct vtd_xlate x;
	ck_assert_uint_eq(dma(SID_A, (UINT64_C(1) << 39) - 1, false, &x), VTD_FR_READ); /* not mapped */
}
END_TEST

START_TEST(test_iommu_fault_0x5_0x6_permissions)
{
	enable();
	map(SLPT_A, 0x10000, 0x900000, 1, VTD_SL_R);   /* read-only */
	map(SLPT_A, 0x11000, 0x901000, 1, VTD_SL_W);   /* write-only */
	expect_fault(SID_A, 0x10008, true, VTD_FR_WRITE);
	expect_fault(SID_A, 0x11008, false, VTD_FR_READ);
	expect_fault(SID_A, 0x12000, true, VTD_FR_WRITE); /* not present: R = W = 0 */
	expect_fault(SID_A, 0x12000, false, VTD_FR_READ);
	/* rights are ANDed over levels: a read-only SL-PDE makes its pages read-only */
	map(SLPT_A, 0x400000, 0x902000, 1, VTD_SL_RW);
	uint64_t pdpt = mem_read64(&R.mem, SLPT_A) & VTD_SL_ADDR_MASK;
	uint64_t pd = mem_read64(&R.mem, pdpt) & VTD_SL_ADDR_MASK;
	mem_write64(&R.mem, pd + 8 * 2, (mem_read64(&R.mem, pd + 8 * 2) & ~VTD_SL_W));
	expect_fault(SID_A, 0x400000, true, VTD_FR_WRITE);
	struct vtd_xlate x;
	ck_assert_uint_eq(dma(SID_A, 0x400000, false, &x), VTD_FR_NONE);
	ck_assert_uint_eq(x.perm, VTD_SL_R);
	/* an IOTLB hit checks the cached rights */
	expect_fault(SID_A, 0x400010, true, VTD_FR_WRITE);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_FAULT_WRITE], 4);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_FAULT_READ], 2);
}
END_TEST

START_TEST(test_iommu_fault_0x7_sl_access)
{
	enable();
	/* an SL-PML4E pointing at 64 GiB, past host memory (but below HAW) */
	mem_write64(&R.mem, SLPT_A, MEM_END | VTD_SL_RW);
	expect_fault(SID_A, 0x5000, false, VTD_FR_SL_ACCESS);
}
END_TEST

START_TEST(test_iommu_fault_0x8_root_access)
{
	w64(VTD_REG_RTADDR, MEM_END);
	gcmd(VTD_GCMD_SRTP);
	gcmd(VTD_GCMD_TE);
	expect_fault(SID_A, 0x6000, true, VTD_FR_ROOT_ACCESS);
}
END_TEST

START_TEST(test_iommu_fault_0x9_context_access)
{
	enable();
	set_root(2, MEM_END + 0x1000);
	expect_fault(VTD_SID(2, 0, 0), 0x7000, false, VTD_FR_CONTEXT_ACCESS);
}
END_TEST

START_TEST(test_iommu_fault_0xa_root_reserved)
{
	enable();
	mem_write64(&R.mem, ROOT_HPA + 16 * 3, CTX0_HPA | VTD_ROOT_P | VTD_BIT(5)); /* bit 5 of 11:1 */
	expect_fault(VTD_SID(3, 0, 0), 0x8000, false, VTD_FR_ROOT_RESERVED);
	mem_write64(&R.mem, ROOT_HPA + 16 * 3, (UINT64_C(1) << 39) | VTD_ROOT_P); /* CTP above HAW */
	expect_fault(VTD_SID(3, 0, 0), 0x8000, false, VTD_FR_ROOT_RESERVED);
	mem_write64(&R.mem, ROOT_HPA + 16 * 3, CTX0_HPA | VTD_ROOT_P);
	mem_write64(&R.mem, ROOT_HPA + 16 * 3 + 8, 1); /* upper half in legacy mode */
	expect_fault(VTD_SID(3, 0, 0), 0x8000, false, VTD_FR_ROOT_RESERVED);
}
END_TEST

START_TEST(test_iommu_fault_0xb_context_reserved)
{
	enable();
	mem_write64(&R.mem, CTX0_HPA + 16 * VTD_SID_DEVFN(SID_B), SL_POOL | VTD_CTX_P);
	mem_write64(&R.mem, CTX0_HPA + 16 * VTD_SID_DEVFN(SID_B) + 8, 2 | VTD_BIT(7) | ((uint64_t)DID_B << 8));
	expect_fault(SID_B, 0x9000, true, VTD_FR_CONTEXT_RESERVED);
	mem_write64(&R.mem, CTX0_HPA + 16 * VTD_SID_DEVFN(SID_B), SL_POOL | VTD_CTX_P | VTD_BIT(4)); /* lo 11:4 */
	mem_write64(&R.mem, CTX0_HPA + 16 * VTD_SID_DEVFN(SID_B) + 8, 2 | ((uint64_t)DID_B << 8));
	expect_fault(SID_B, 0x9000, true, VTD_FR_CONTEXT_RESERVED);
}
END_TEST

START_TEST(test_iommu_fault_0xc_sl_reserved)
{
	enable();
	map(SLPT_A, 0xa000, 0x700000, 1, VTD_SL_RW);
	uint64_t pdpt = mem_read64(&R.mem, SLPT_A) & VTD_SL_ADDR_MASK;
	/* SNP (bit 11) in a non-leaf SL-PDPE */
	mem_write64(&R.mem, pdpt, mem_read64(&R.mem, pdpt) | VTD_SL_SNP);
	expect_fault(SID_A, 0xa000, false, VTD_FR_SL_RESERVED);
	mem_write64(&R.mem, pdpt, mem_read64(&R.mem, pdpt) & ~VTD_SL_SNP);
	/* PS in the SL-PML4E (the valid SL-PML4E was cached: invalidate first) */
	mem_write64(&R.mem, SLPT_A, mem_read64(&R.mem, SLPT_A) | VTD_SL_PS);
	inv_iotlb_global();
	expect_fault(SID_A, 0xa000, false, VTD_FR_SL_RESERVED);
	mem_write64(&R.mem, SLPT_A, mem_read64(&R.mem, SLPT_A) & ~VTD_SL_PS);
	/* a 2 MiB leaf with bit 12 set (20:12 reserved) */
	map(SLPT_A, 0x600000, 0x801000, 2, VTD_SL_RW);
	expect_fault(SID_A, 0x600000, true, VTD_FR_SL_RESERVED);
	/* an address bit above HAW (bit 39) in a leaf */
	map(SLPT_A, 0xb000, UINT64_C(1) << 39, 1, VTD_SL_RW);
	expect_fault(SID_A, 0xb000, true, VTD_FR_SL_RESERVED);
	/* SNP in a leaf is allowed: ECAP.SC = 1 */
	map(SLPT_A, 0xc000, 0x702000, 1, VTD_SL_RW | VTD_SL_SNP);
	struct vtd_xlate x;
	ck_assert_uint_eq(dma(SID_A, 0xc000, true, &x), VTD_FR_NONE);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_FAULT_SL_RESERVED], 4);
}
END_TEST

START_TEST(test_iommu_fault_0xd_translation_blocked)
{
	enable();
	map(SLPT_A, 0xd000, 0x703000, 1, VTD_SL_RW);
	struct vtd_request rq = {SID_A, 0xd000, false, VTD_AT_TRANSLATED};
	struct vtd_xlate x;
	ck_assert_uint_eq(iommu_translate(&R.u, &rq, &x), VTD_FR_TRANSLATION_BLOCKED);
	expect_record(0xd000, SID_A, VTD_FR_TRANSLATION_BLOCKED, true);
	rq.at = VTD_AT_TRANSLATION_REQ;
	ck_assert_uint_eq(iommu_translate(&R.u, &rq, &x), VTD_FR_TRANSLATION_BLOCKED);
	expect_record(0xd000, SID_A, VTD_FR_TRANSLATION_BLOCKED, true);
}
END_TEST

/* Pass-through (TT = 10, ECAP.PT = 1): the IOVA is the HPA. */
START_TEST(test_iommu_passthrough)
{
	enable();
	mem_write64(&R.mem, CTX0_HPA + 16 * VTD_SID_DEVFN(SID_B), VTD_CTX_P | (2 << 2));
	mem_write64(&R.mem, CTX0_HPA + 16 * VTD_SID_DEVFN(SID_B) + 8, 2 | ((uint64_t)DID_B << 8));
	struct vtd_xlate x;
	ck_assert_uint_eq(dma(SID_B, 0x12345678, true, &x), VTD_FR_NONE);
	ck_assert(x.passthrough);
	ck_assert_uint_eq(x.hpa, 0x12345678);
	ck_assert_uint_eq(x.nrefs, 2);
}
END_TEST

/* ---- fault recording (§7.8) ------------------------------------------ */

/* One record (NFR = 0): the second fault overflows (PFO, dropped), a third
 * with PFO set is dropped too; only the first raised a fault event. After
 * F and PFO are cleared, a fault is recorded again. */
START_TEST(test_iommu_fault_overflow_sets_pfo_and_drops)
{
	enable();
	w32(VTD_REG_FEDATA, 0x00a5);       /* vector 0xa5, fixed */
	w32(VTD_REG_FEADDR, 0xfee01000);   /* APIC id 1 */
	struct vtd_xlate x;
	ck_assert_uint_eq(dma(SID_A, 0x1000, false, &x), VTD_FR_READ);
	ck_assert_int_eq(x.disp, VTD_FAULT_RECORDED);
	ck_assert_uint_eq(R.msgs, 1);
	ck_assert_int_eq(R.last.origin, VTD_IRQ_FAULT_EVENT);
	ck_assert_uint_eq(R.last.vector, 0xa5);
	ck_assert_uint_eq(R.last.dest, 1);
	ck_assert_uint_eq(dma(SID_A, 0x2000, true, &x), VTD_FR_WRITE);
	ck_assert_int_eq(x.disp, VTD_FAULT_OVERFLOW);
	ck_assert_uint_eq(r32(VTD_REG_FSTS), VTD_FSTS_PFO | VTD_FSTS_PPF);
	ck_assert_uint_eq(r64(FRCD0), 0x1000); /* the first record is kept */
	ck_assert_uint_eq(r64(FRCD0 + 8), VTD_FRCD_HI_F | VTD_FRCD_HI_T | (UINT64_C(6) << 32) | SID_A);
	ck_assert_uint_eq(dma(SID_A, 0x3000, true, &x), VTD_FR_WRITE);
	ck_assert_int_eq(x.disp, VTD_FAULT_OVERFLOW);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_FAULT_RECORDED], 1);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_FAULT_OVERFLOW], 2);
	ck_assert_uint_eq(R.msgs, 1);
	/* clear F: PPF drops, PFO stays, still dropping */
	w32(FRCD0 + 12, VTD_BIT(31));
	ck_assert_uint_eq(r32(VTD_REG_FSTS), VTD_FSTS_PFO);
	ck_assert_uint_eq(dma(SID_A, 0x4000, true, &x), VTD_FR_WRITE);
	ck_assert_int_eq(x.disp, VTD_FAULT_OVERFLOW);
	/* clear PFO (write 1): recorded again, and a new event */
	w32(VTD_REG_FSTS, VTD_FSTS_PFO);
	ck_assert_uint_eq(r32(VTD_REG_FSTS), 0);
	ck_assert_uint_eq(dma(SID_A, 0x5000, true, &x), VTD_FR_WRITE);
	ck_assert_int_eq(x.disp, VTD_FAULT_RECORDED);
	ck_assert_uint_eq(R.msgs, 2);
	expect_record(0x5000, SID_A, VTD_FR_WRITE, false);
}
END_TEST

/* Four records (NFR = 3): filled in order, FRI the oldest pending. */
static void four_records(struct iommu_config *c)
{
	c->cap = (c->cap & ~VTD_GENMASK(47, 40)) | (UINT64_C(3) << 40);
}

static void rig_setup_ring(void)
{
	rig_setup_cfg(four_records);
}

START_TEST(test_iommu_fault_ring_and_fri)
{
	enable();
	struct vtd_xlate x;
	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_eq(dma(SID_A, 0x1000 * (i + 1), false, &x), VTD_FR_READ);
	ck_assert_uint_eq(r32(VTD_REG_FSTS), VTD_FSTS_PPF); /* FRI 0 */
	ck_assert_uint_eq(r64(FRCD0 + 32), 0x3000);           /* record 2 */
	w32(FRCD0 + 12, VTD_BIT(31));                         /* clear record 0 */
	ck_assert_uint_eq(r32(VTD_REG_FSTS), VTD_FSTS_PPF | (1 << 8)); /* FRI 1 */
	ck_assert_int_eq(dma(SID_A, 0x4000, false, &x), VTD_FR_READ);
	ck_assert_uint_eq(x.frcd_index, 3);
	ck_assert_int_eq(dma(SID_A, 0x5000, false, &x), VTD_FR_READ); /* wraps into the freed record 0 */
	ck_assert_uint_eq(x.frcd_index, 0);
	ck_assert_int_eq(dma(SID_A, 0x6000, false, &x), VTD_FR_READ); /* record 1 still full */
	ck_assert_int_eq(x.disp, VTD_FAULT_OVERFLOW);
	ck_assert_uint_eq(r32(VTD_REG_FSTS), VTD_FSTS_PPF | VTD_FSTS_PFO | (1 << 8));
}
END_TEST

/* FPD = 1 in the context entry: the fault is neither recorded nor reported. */
START_TEST(test_iommu_fpd_suppresses)
{
	enable();
	mem_write64(&R.mem, CTX0_HPA + 16 * VTD_SID_DEVFN(SID_A), SLPT_A | VTD_CTX_P | VTD_CTX_FPD);
	struct vtd_xlate x;
	ck_assert_uint_eq(dma(SID_A, 0x1000, true, &x), VTD_FR_WRITE);
	ck_assert_int_eq(x.disp, VTD_FAULT_SUPPRESSED);
	ck_assert_uint_eq(r32(VTD_REG_FSTS), 0);
	ck_assert_uint_eq(r64(FRCD0 + 8), 0);
	ck_assert_uint_eq(R.msgs, 0);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_FAULT_SUPPRESSED], 1);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_FAULT_WRITE], 1);
}
END_TEST

/* FECTL.IM = 1 holds the event as IP; clearing IM sends it. */
START_TEST(test_iommu_fault_event_masked)
{
	enable();
	w32(VTD_REG_FECTL, VTD_FECTL_IM);
	w32(VTD_REG_FEDATA, 0x30);
	w32(VTD_REG_FEADDR, 0xfee00000);
	struct vtd_xlate x;
	dma(SID_A, 0x1000, true, &x);
	ck_assert_uint_eq(R.msgs, 0);
	ck_assert_uint_eq(r32(VTD_REG_FECTL), VTD_FECTL_IM | VTD_FECTL_IP);
	w32(VTD_REG_FECTL, 0);
	ck_assert_uint_eq(R.msgs, 1);
	ck_assert_uint_eq(R.last.vector, 0x30);
	ck_assert_uint_eq(r32(VTD_REG_FECTL), 0);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_FAULT_EVENTS], 1);
}
END_TEST

/* ---- invalidation (§7.7) --------------------------------------------- */

/* Two domains map the same IOVA; a page-selective IOTLB invalidation of
 * domain A (through the queue, with a wait descriptor) leaves domain B's
 * entry: A walks again from the root (IH = 0 dropped A's paging-structure
 * entries: 4 SL references), B hits. */
START_TEST(test_iommu_psi_leaves_other_domains)
{
	enable();
	uint64_t slpt_b = 0x28000;
	set_ctx(SID_B, slpt_b, DID_B);
	map(SLPT_A, 0x1000, 0xa01000, 1, VTD_SL_RW);
	map(slpt_b, 0x1000, 0xb01000, 1, VTD_SL_RW);
	struct vtd_xlate x;
	ck_assert_uint_eq(dma(SID_A, 0x1000, false, &x), VTD_FR_NONE);
	ck_assert_uint_eq(dma(SID_B, 0x1000, false, &x), VTD_FR_NONE);
	ck_assert_uint_eq(x.hpa, 0xb01000);
	/* queue at 0x30000, 1 page (QS = 0: 256 descriptors) */
	w64(VTD_REG_IQT, 0);
	w64(VTD_REG_IQA, 0x30000);
	gcmd(VTD_GCMD_QIE);
	mem_write64(&R.mem, 0x30000, VTD_QI_IOTLB | (3 << 4) | ((uint64_t)DID_A << 16)); /* PSI, DID A */
	mem_write64(&R.mem, 0x30008, 0x1000);                                            /* ADDR, AM 0, IH 0 */
	mem_write64(&R.mem, 0x30010, VTD_QI_WAIT | VTD_QI_WAIT_SW | (UINT64_C(0x600d) << 32));
	mem_write64(&R.mem, 0x30018, 0x31004);                                           /* status address */
	w64(VTD_REG_IQT, 2 << 4);
	ck_assert_uint_eq(r64(VTD_REG_IQH), 2 << 4);
	ck_assert_uint_eq(mem_read64(&R.mem, 0x31000), UINT64_C(0x600d) << 32); /* the high dword of the qword */
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_INV_IOTLB], 1);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_INV_WAIT], 1);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_INV_CYCLES], 2000);
	ck_assert_uint_eq(dma(SID_B, 0x1000, false, &x), VTD_FR_NONE);
	ck_assert(x.iotlb_hit);
	ck_assert_uint_eq(x.nrefs, 0);
	ck_assert_uint_eq(dma(SID_A, 0x1000, false, &x), VTD_FR_NONE);
	ck_assert(!x.iotlb_hit && x.cc_hit);
	ck_assert_uint_eq(x.ptc_hit_level, 0);
	ck_assert_uint_eq(x.nrefs, 4);
	ck_assert_uint_eq(x.hpa, 0xa01000);
}
END_TEST

/* PSI with IH = 1 keeps the paging-structure caches (1 reference after), and
 * the address mask covers 2^AM pages. */
START_TEST(test_iommu_psi_mask_and_ih)
{
	enable();
	for (uint64_t p = 0; p < 4; p++)
		map(SLPT_A, 0x10000 + p * 0x1000, 0xc00000 + p * 0x1000, 1, VTD_SL_RW);
	struct vtd_xlate x;
	for (uint64_t p = 0; p < 4; p++)
		dma(SID_A, 0x10000 + p * 0x1000, false, &x);
	/* register-based PSI: IVA = ADDR 0x10000 | IH | AM 1 (2 pages), IOTLB = IVT | IIRG 3 | DID */
	w64(0x500, 0x10000 | VTD_IVA_IH | 1);
	w64(0x508, VTD_IOTLB_IVT | (UINT64_C(3) << 60) | ((uint64_t)DID_A << 32));
	ck_assert_uint_eq(r64(0x508), (UINT64_C(3) << 60) | (UINT64_C(3) << 57) | ((uint64_t)DID_A << 32)); /* IVT clear, IAIG 3 */
	ck_assert_uint_eq(dma(SID_A, 0x10000, false, &x), VTD_FR_NONE);
	ck_assert(!x.iotlb_hit);
	ck_assert_uint_eq(x.nrefs, 1); /* SL-PDE cache kept */
	ck_assert_uint_eq(dma(SID_A, 0x11000, false, &x), VTD_FR_NONE);
	ck_assert(!x.iotlb_hit);
	ck_assert_uint_eq(dma(SID_A, 0x12000, false, &x), VTD_FR_NONE);
	ck_assert(x.iotlb_hit); /* outside the 2-page range */
	/* an unaligned ADDR for AM = 1 is not performed: IAIG = 0 */
	w64(0x500, 0x11000 | 1);
	w64(0x508, VTD_IOTLB_IVT | (UINT64_C(3) << 60) | ((uint64_t)DID_A << 32));
	ck_assert_uint_eq((r64(0x508) >> 57) & 3, 0);
}
END_TEST

/* Context cache: device-selective with a function mask, domain, global
 * (register form, CAIG reported). */
START_TEST(test_iommu_context_cache_invalidation)
{
	enable();
	uint16_t sid_a1 = VTD_SID(0, 2, 1);
	set_ctx(sid_a1, SLPT_A, DID_A);
	map(SLPT_A, 0x1000, 0xd01000, 1, VTD_SL_RW);
	struct vtd_xlate x;
	dma(SID_A, 0x1000, false, &x);
	dma(sid_a1, 0x1000, false, &x);
	ck_assert_uint_eq(vtd_cache_occupancy(&R.u.cc), 2);
	/* device-selective, SID 00:02.0, FM 0: only that function */
	w64(VTD_REG_CCMD, VTD_CCMD_ICC | (UINT64_C(3) << 61) | ((uint64_t)SID_A << 16) | DID_A);
	ck_assert_uint_eq(r64(VTD_REG_CCMD) >> 59, 0xf); /* ICC clear, CIRG 62:61 = 11b, CAIG 60:59 = 11b */
	ck_assert_uint_eq(vtd_cache_occupancy(&R.u.cc), 1);
	dma(SID_A, 0x1000, false, &x);
	ck_assert(!x.cc_hit);
	/* FM = 3 ignores SID bits 2:0: both functions go */
	w64(VTD_REG_CCMD, VTD_CCMD_ICC | (UINT64_C(3) << 61) | (UINT64_C(3) << 32) | ((uint64_t)SID_A << 16) | DID_A);
	ck_assert_uint_eq(vtd_cache_occupancy(&R.u.cc), 0);
	dma(SID_A, 0x1000, false, &x);
	/* domain-selective of another domain keeps it; of its own drops it */
	w64(VTD_REG_CCMD, VTD_CCMD_ICC | (UINT64_C(2) << 61) | DID_B);
	ck_assert_uint_eq(vtd_cache_occupancy(&R.u.cc), 1);
	w64(VTD_REG_CCMD, VTD_CCMD_ICC | (UINT64_C(2) << 61) | DID_A);
	ck_assert_uint_eq(vtd_cache_occupancy(&R.u.cc), 0);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_INV_CONTEXT], 4);
}
END_TEST

/* An invalid descriptor (device-TLB without ECAP.DT) sets IQE, stops the
 * queue at it and raises a fault event; clearing IQE lets it run again. */
START_TEST(test_iommu_qi_invalid_descriptor)
{
	enable();
	w32(VTD_REG_FEDATA, 0x40);
	w32(VTD_REG_FEADDR, 0xfee00000);
	w64(VTD_REG_IQT, 0);
	w64(VTD_REG_IQA, 0x30000);
	gcmd(VTD_GCMD_QIE);
	mem_write64(&R.mem, 0x30000, VTD_QI_CC | (1 << 4)); /* global context-cache */
	mem_write64(&R.mem, 0x30010, VTD_QI_DEVTLB);
	mem_write64(&R.mem, 0x30020, VTD_QI_IOTLB | (1 << 4));
	w64(VTD_REG_IQT, 3 << 4);
	ck_assert_uint_eq(r64(VTD_REG_IQH), 1 << 4);
	ck_assert_uint_eq(r32(VTD_REG_FSTS), VTD_FSTS_IQE);
	ck_assert_uint_eq(R.msgs, 1);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_INV_CONTEXT], 1);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_INV_IOTLB], 0);
	/* software fixes the descriptor, clears IQE, rewrites IQT */
	mem_write64(&R.mem, 0x30010, VTD_QI_IOTLB | (2 << 4) | (DID_A << 16));
	w32(VTD_REG_FSTS, VTD_FSTS_IQE);
	w64(VTD_REG_IQT, 3 << 4);
	ck_assert_uint_eq(r64(VTD_REG_IQH), 3 << 4);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_INV_IOTLB], 2);
}
END_TEST

/* ---- isolation: 100,000 random DMA requests of one device ------------- */

/* xorshift64* (deterministic) */
static uint64_t rng_state;
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

#define ISO_PAGES 256
struct iso_map {
	uint64_t iova, hpa;
	uint8_t perm;
};

/* Domain A maps 256 random 4 KiB pages (distinct IOVAs below 2^39, random
 * HPAs in the upper half of host memory, random R/W/RW); domain B maps a
 * disjoint set. Device A then issues 100,000 requests: half at its own
 * pages, a quarter at B's pages, a quarter anywhere below 2^40. Every
 * success must land in A's mapping of that IOVA with the right; every
 * fault must be the predicted reason and be either recorded with the right
 * contents or counted as an overflow. The "driver" clears the record after
 * every third fault, so both outcomes occur. */
START_TEST(test_iommu_isolation_property)
{
	enable();
	uint64_t slpt_b = 0x28000;
	set_ctx(SID_B, slpt_b, DID_B);
	static struct iso_map all[2 * ISO_PAGES];
	struct iso_map *a = all, *b = all + ISO_PAGES;
	rng_state = UINT64_C(0x9e3779b97f4a7c15);
	for (int k = 0; k < 2 * ISO_PAGES; k++) {
		struct iso_map *m = &all[k];
		bool dup;
		do {
			m->iova = (rnd() % (UINT64_C(1) << 27)) << 12;
			dup = false;
			for (int j = 0; j < k && !dup; j++)
				dup = all[j].iova == m->iova;
		} while (dup);
		m->hpa = ((rnd() % (UINT64_C(1) << 23)) << 12) + (UINT64_C(1) << 35);
		m->perm = (uint8_t)(1 + rnd() % 3);
		map(k < ISO_PAGES ? SLPT_A : slpt_b, m->iova, m->hpa, 1, m->perm);
	}
	struct u64map amap; /* A's IOVA page -> index */
	ck_assert_int_eq(u64map_init(&amap, 1024), 0);
	for (int i = 0; i < ISO_PAGES; i++)
		ck_assert_int_eq(u64map_put(&amap, a[i].iova, (uint64_t)i), 0);
	uint64_t ok = 0, faults = 0, recorded = 0, overflowed = 0, bad = 0;
	char first_bad[160] = "";
	/* (ck_assert costs a message to the runner per call: the loop counts
	 * violations and the test asserts once after it) */
#define VIOLATION(...)                                                                  \
	do {                                                                            \
		if (!bad++)                                                             \
			snprintf(first_bad, sizeof(first_bad), __VA_ARGS__);            \
	} while (0)
	for (unsigned n = 0; n < 100000; n++) {
		uint64_t r = rnd(), iova;
		bool write = r & 1;
		switch ((r >> 1) & 3) {
		case 0:
		case 1:
			iova = a[(r >> 3) % ISO_PAGES].iova | ((r >> 20) & 0xfff);
			break;
		case 2:
			iova = b[(r >> 3) % ISO_PAGES].iova | ((r >> 20) & 0xfff);
			break;
		default:
			iova = (r >> 8) & ((UINT64_C(1) << 40) - 1);
			break;
		}
		const uint64_t *ix = u64map_get(&amap, iova & ~UINT64_C(0xfff));
		const struct iso_map *m = ix ? &a[*ix] : NULL;
		unsigned expect = (iova >> 39)                                 ? VTD_FR_ADDR_BEYOND_AW
				  : m && (m->perm & (write ? VTD_SL_W : VTD_SL_R)) ? VTD_FR_NONE
				  : write                                          ? VTD_FR_WRITE
										   : VTD_FR_READ;
		struct vtd_xlate x;
		unsigned f = dma(SID_A, iova, write, &x);
		if (f != expect)
			VIOLATION("request %u IOVA 0x%llx: fault 0x%x, expected 0x%x", n, (unsigned long long)iova, f, expect);
		if (f == VTD_FR_NONE) {
			if (!m || x.hpa != (m->hpa | (iova & 0xfff))) /* never outside A's mapping */
				VIOLATION("request %u IOVA 0x%llx reached HPA 0x%llx", n, (unsigned long long)iova,
					  (unsigned long long)x.hpa);
			ok++;
			continue;
		}
		faults++;
		if (x.disp == VTD_FAULT_RECORDED) {
			recorded++;
			if (iommu_mmio_read(&R.u, FRCD0, 8) != (iova & ~UINT64_C(0xfff)) ||
			    iommu_mmio_read(&R.u, FRCD0 + 8, 8) !=
				    (VTD_FRCD_HI_F | (write ? 0 : VTD_FRCD_HI_T) | ((uint64_t)f << 32) | SID_A))
				VIOLATION("request %u IOVA 0x%llx: wrong fault record", n, (unsigned long long)iova);
		} else if (x.disp == VTD_FAULT_OVERFLOW) {
			overflowed++;
		} else
			VIOLATION("request %u: fault neither recorded nor overflowed", n);
		if (faults % 3 == 0) { /* the driver's fault handler: clear F, then PFO */
			iommu_mmio_write(&R.u, FRCD0 + 12, 4, VTD_BIT(31));
			iommu_mmio_write(&R.u, VTD_REG_FSTS, 4, VTD_FSTS_PFO);
		}
	}
#undef VIOLATION
	ck_assert_msg(bad == 0, "%llu violations; first: %s", (unsigned long long)bad, first_bad);
	ck_assert_uint_eq(ok + faults, 100000);
	ck_assert_uint_eq(recorded + overflowed, faults);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_FAULT_RECORDED], recorded);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_FAULT_OVERFLOW], overflowed);
	ck_assert(ok > 20000 && recorded > 10000 && overflowed > 10000);
	u64map_free(&amap);
	/* nothing cached for domain A points outside A's pages */
	for (size_t i = 0; i < (size_t)R.u.iotlb.sets * R.u.iotlb.ways; i++) {
		const struct vtd_centry *e = &R.u.iotlb.e[i];
		if (!e->valid || e->did != DID_A)
			continue;
		bool found = false;
		for (int j = 0; j < ISO_PAGES && !found; j++)
			found = a[j].hpa == e->v0 && a[j].iova == e->key << 12;
		ck_assert(found);
	}
}
END_TEST


/* ---- interrupt remapping (§7.10, §7.11) ------------------------------ */

#define IRT_HPA 0x40000u
/* IR on: 256 entries (S = 7), x2APIC mode, queue on for IEC invalidation. */
static void ir_enable(void)
{
	w64(VTD_REG_IRTA, IRT_HPA | VTD_IRTA_EIME | 7);
	gcmd(VTD_GCMD_SIRTP);
	gcmd(VTD_GCMD_IRE);
}

static void set_irte(unsigned index, uint64_t lo, uint64_t hi)
{
	mem_write64(&R.mem, IRT_HPA + 16 * index, lo);
	mem_write64(&R.mem, IRT_HPA + 16 * index + 8, hi);
}

/* Remapped IRTE: present, vector, x2APIC destination, SVT/SQ/SID. */
static uint64_t irte_lo(uint8_t vector, uint32_t dest)
{
	return VTD_IRTE_P | ((uint64_t)vector << 16) | ((uint64_t)dest << 32);
}

static uint64_t msi_addr(unsigned handle)
{
	return 0xfee00000 | VTD_MSI_ADDR_IF | ((uint64_t)(handle & 0x7fff) << 5) | ((handle & 0x8000) ? 4 : 0);
}

/* The IR fault record: index in 63:48, T = 0 (a write). */
static void expect_ir_fault(uint16_t sid, uint64_t addr, uint32_t data, unsigned index, unsigned reason)
{
	struct vtd_ir_result r;
	ck_assert_uint_eq(iommu_msi(&R.u, sid, addr, data, &r), reason);
	ck_assert_int_eq(r.disp, VTD_FAULT_RECORDED);
	expect_record((uint64_t)index << 48, sid, reason, false);
}

/* SVT = 01, SQ = 00: the IRTE names 00:02.0; 00:02.1 is refused (0x26). */
START_TEST(test_iommu_ir_svt01_rejects_mismatching_sid)
{
	ir_enable();
	set_irte(10, irte_lo(0x61, 7), SID_A | ((uint64_t)VTD_SVT_SID << 18));
	struct vtd_ir_result r;
	ck_assert_uint_eq(iommu_msi(&R.u, SID_A, msi_addr(10), 0, &r), VTD_FR_NONE);
	ck_assert_uint_eq(R.last.vector, 0x61);
	ck_assert_uint_eq(R.last.dest, 7);
	ck_assert_int_eq(R.last.origin, VTD_IRQ_REMAPPED);
	expect_ir_fault(VTD_SID(0, 2, 1), msi_addr(10), 0, 10, VTD_FR_IR_SID);
	/* SQ = 01 ignores SID bit 2: 00:02.4 passes, 00:02.1 still fails */
	set_irte(11, irte_lo(0x62, 7), SID_A | (UINT64_C(1) << 16) | ((uint64_t)VTD_SVT_SID << 18));
	ck_assert_uint_eq(iommu_msi(&R.u, VTD_SID(0, 2, 4), msi_addr(11), 0, &r), VTD_FR_NONE);
	expect_ir_fault(VTD_SID(0, 2, 1), msi_addr(11), 0, 11, VTD_FR_IR_SID);
	/* SVT = 00: anyone */
	set_irte(12, irte_lo(0x63, 7), 0);
	ck_assert_uint_eq(iommu_msi(&R.u, VTD_SID(9, 9, 1), msi_addr(12), 0, &r), VTD_FR_NONE);
}
END_TEST

START_TEST(test_iommu_ir_faults)
{
	ir_enable();
	set_irte(3, irte_lo(0x50, 1), 0);
	/* 0x20: data bits 31:16 set in a remappable request */
	expect_ir_fault(SID_A, msi_addr(3), 0x10000, 3, VTD_FR_IR_REQUEST_RESERVED);
	/* 0x21: index 256 with S = 7 (256 entries); HANDLE + SUBHANDLE with SHV */
	expect_ir_fault(SID_A, msi_addr(256), 0, 256, VTD_FR_IR_INDEX);
	expect_ir_fault(SID_A, msi_addr(250) | VTD_MSI_ADDR_SHV, 6, 256, VTD_FR_IR_INDEX);
	/* 0x22: IRTE 4 not present */
	expect_ir_fault(SID_A, msi_addr(4), 0, 4, VTD_FR_IR_NOT_PRESENT);
	/* 0x24: reserved bit 12; SVT = 11; IM = 1 (posted) without CAP.PI */
	set_irte(5, irte_lo(0x50, 1) | VTD_BIT(12), 0);
	expect_ir_fault(SID_A, msi_addr(5), 0, 5, VTD_FR_IR_RESERVED);
	set_irte(6, irte_lo(0x50, 1), UINT64_C(3) << 18);
	expect_ir_fault(SID_A, msi_addr(6), 0, 6, VTD_FR_IR_RESERVED);
	set_irte(7, VTD_IRTE_P | VTD_IRTE_IM | (0x50 << 16), 0);
	expect_ir_fault(SID_A, msi_addr(7), 0, 7, VTD_FR_IR_RESERVED);
	/* 0x25: compatibility format with CFI = 0 */
	expect_ir_fault(SID_A, 0xfee02000, 0x33, 0, VTD_FR_IR_COMPAT_BLOCKED);
	/* FPD in the IRTE suppresses */
	set_irte(8, VTD_IRTE_FPD, 0);
	struct vtd_ir_result r;
	ck_assert_uint_eq(iommu_msi(&R.u, SID_A, msi_addr(8), 0, &r), VTD_FR_IR_NOT_PRESENT);
	ck_assert_int_eq(r.disp, VTD_FAULT_SUPPRESSED);
	ck_assert_uint_eq(r32(VTD_REG_FSTS), 0);
	/* 0x23: the table beyond host memory */
	w64(VTD_REG_IRTA, MEM_END | 7);
	gcmd(VTD_GCMD_SIRTP);
	expect_ir_fault(SID_A, msi_addr(1), 0, 1, VTD_FR_IR_TABLE_ACCESS);
}
END_TEST

/* Compatibility format passes with CFI = 1 (EIME = 0), and when IR is off. */
START_TEST(test_iommu_ir_compat)
{
	struct vtd_ir_result r;
	ck_assert_uint_eq(iommu_msi(&R.u, SID_A, 0xfee02000, 0x4033, &r), VTD_FR_NONE); /* IR off */
	ck_assert(r.compat);
	ck_assert_uint_eq(R.last.dest, 2);
	ck_assert_uint_eq(R.last.vector, 0x33);
	ck_assert_uint_eq(R.last.dlm, 0);
	w64(VTD_REG_IRTA, IRT_HPA | 7); /* xAPIC mode */
	gcmd(VTD_GCMD_SIRTP);
	gcmd(VTD_GCMD_IRE);
	gcmd(VTD_GCMD_CFI);
	ck_assert_uint_eq(iommu_msi(&R.u, SID_A, 0xfee03000, 0x34, &r), VTD_FR_NONE);
	ck_assert(r.compat);
	ck_assert_uint_eq(R.last.dest, 3);
	/* xAPIC-mode IRTE: destination in bits 47:40 */
	set_irte(2, VTD_IRTE_P | (0x70 << 16) | (UINT64_C(5) << 40), 0);
	ck_assert_uint_eq(iommu_msi(&R.u, SID_A, msi_addr(2), 0, &r), VTD_FR_NONE);
	ck_assert_uint_eq(R.last.dest, 5);
	set_irte(3, VTD_IRTE_P | (0x70 << 16) | (UINT64_C(5) << 32), 0); /* bits 39:32 reserved in xAPIC mode */
	expect_ir_fault(SID_A, msi_addr(3), 0, 3, VTD_FR_IR_RESERVED);
}
END_TEST

/* The interrupt-entry cache keeps a changed IRTE until an IEC invalidation;
 * index-selective invalidation of 2^IM entries from IIDX. */
START_TEST(test_iommu_iec_invalidation)
{
	ir_enable();
	w64(VTD_REG_IQT, 0);
	w64(VTD_REG_IQA, 0x30000);
	gcmd(VTD_GCMD_QIE);
	set_irte(20, irte_lo(0x80, 1), 0);
	set_irte(21, irte_lo(0x81, 1), 0);
	set_irte(22, irte_lo(0x82, 1), 0);
	struct vtd_ir_result r;
	for (unsigned i = 20; i < 23; i++)
		iommu_msi(&R.u, SID_A, msi_addr(i), 0, &r);
	set_irte(20, irte_lo(0x90, 1), 0);
	set_irte(21, irte_lo(0x91, 1), 0);
	set_irte(22, irte_lo(0x92, 1), 0);
	ck_assert_uint_eq(iommu_msi(&R.u, SID_A, msi_addr(21), 0, &r), VTD_FR_NONE);
	ck_assert_uint_eq(r.msg.vector, 0x81); /* stale: cached */
	/* index-selective, IIDX 21, IM 1: entries 20 and 21 */
	mem_write64(&R.mem, 0x30000, VTD_QI_IEC | VTD_QI_IEC_G | (UINT64_C(1) << 27) | (UINT64_C(21) << 32));
	w64(VTD_REG_IQT, 1 << 4);
	iommu_msi(&R.u, SID_A, msi_addr(20), 0, &r);
	ck_assert_uint_eq(r.msg.vector, 0x90);
	iommu_msi(&R.u, SID_A, msi_addr(21), 0, &r);
	ck_assert_uint_eq(r.msg.vector, 0x91);
	iommu_msi(&R.u, SID_A, msi_addr(22), 0, &r);
	ck_assert_uint_eq(r.msg.vector, 0x82);
	/* global */
	mem_write64(&R.mem, 0x30010, VTD_QI_IEC);
	w64(VTD_REG_IQT, 2 << 4);
	iommu_msi(&R.u, SID_A, msi_addr(22), 0, &r);
	ck_assert_uint_eq(r.msg.vector, 0x92);
	ck_assert_uint_eq(R.ctr.v[CTR_IOMMU_INV_IEC], 2);
}
END_TEST

/* An I/O APIC entry in remappable format: INDEX[14:0] in 63:49, INDEX[15] in 11. */
START_TEST(test_iommu_ir_ioapic)
{
	ir_enable();
	set_irte(33, irte_lo(0x55, 4) | VTD_IRTE_TM, VTD_SID(0, 0x1f, 0) | ((uint64_t)VTD_SVT_SID << 18));
	struct vtd_ir_result r;
	uint64_t rte = VTD_RTE_FORMAT | (UINT64_C(33) << 49) | VTD_BIT(15) | 0x55;
	ck_assert_uint_eq(iommu_ioapic(&R.u, VTD_SID(0, 0x1f, 0), rte, &r), VTD_FR_NONE);
	ck_assert_uint_eq(R.last.vector, 0x55);
	ck_assert_uint_eq(R.last.dest, 4);
	ck_assert(R.last.level);
	ck_assert_uint_eq(iommu_ioapic(&R.u, VTD_SID(0, 0x1f, 0), rte | VTD_BIT(20), &r), VTD_FR_IR_REQUEST_RESERVED);
}
END_TEST

static Suite *iommu_suite(void)
{
	Suite *s = suite_create("iommu");
	TCase *tc = tcase_create("registers");
	tcase_add_checked_fixture(tc, rig_setup, rig_teardown);
	tcase_add_test(tc, test_iommu_registers_reset_and_masks);
	tcase_add_test(tc, test_iommu_gcmd_handshakes);
	suite_add_tcase(s, tc);
	tc = tcase_create("translate");
	tcase_add_checked_fixture(tc, rig_setup, rig_teardown);
	tcase_add_test(tc, test_iommu_translation_off_passes_through);
	tcase_add_test(tc, test_iommu_walk_4k_refs_and_caches);
	tcase_add_test(tc, test_iommu_large_pages);
	tcase_add_test(tc, test_iommu_passthrough);
	suite_add_tcase(s, tc);
	tc = tcase_create("faults");
	tcase_add_checked_fixture(tc, rig_setup, rig_teardown);
	tcase_add_test(tc, test_iommu_fault_0x1_root_not_present);
	tcase_add_test(tc, test_iommu_fault_0x2_context_not_present);
	tcase_add_test(tc, test_iommu_fault_0x3_context_invalid);
	tcase_add_test(tc, test_iommu_fault_0x4_address_width);
	tcase_add_test(tc, test_iommu_fault_0x5_0x6_permissions);
	tcase_add_test(tc, test_iommu_fault_0x7_sl_access);
	tcase_add_test(tc, test_iommu_fault_0x8_root_access);
	tcase_add_test(tc, test_iommu_fault_0x9_context_access);
	tcase_add_test(tc, test_iommu_fault_0xa_root_reserved);
	tcase_add_test(tc, test_iommu_fault_0xb_context_reserved);
	tcase_add_test(tc, test_iommu_fault_0xc_sl_reserved);
	tcase_add_test(tc, test_iommu_fault_0xd_translation_blocked);
	tcase_add_test(tc, test_iommu_fault_overflow_sets_pfo_and_drops);
	tcase_add_test(tc, test_iommu_fpd_suppresses);
	tcase_add_test(tc, test_iommu_fault_event_masked);
	suite_add_tcase(s, tc);
	tc = tcase_create("fault_ring");
	tcase_add_checked_fixture(tc, rig_setup_ring, rig_teardown);
	tcase_add_test(tc, test_iommu_fault_ring_and_fri);
	suite_add_tcase(s, tc);
	tc = tcase_create("invalidation");
	tcase_add_checked_fixture(tc, rig_setup, rig_teardown);
	tcase_add_test(tc, test_iommu_psi_leaves_other_domains);
	tcase_add_test(tc, test_iommu_psi_mask_and_ih);
	tcase_add_test(tc, test_iommu_context_cache_invalidation);
	tcase_add_test(tc, test_iommu_qi_invalid_descriptor);
	suite_add_tcase(s, tc);
	tc = tcase_create("interrupt_remapping");
	tcase_add_checked_fixture(tc, rig_setup, rig_teardown);
	tcase_add_test(tc, test_iommu_ir_svt01_rejects_mismatching_sid);
	tcase_add_test(tc, test_iommu_ir_faults);
	tcase_add_test(tc, test_iommu_ir_compat);
	tcase_add_test(tc, test_iommu_iec_invalidation);
	tcase_add_test(tc, test_iommu_ir_ioapic);
	suite_add_tcase(s, tc);
	tc = tcase_create("isolation");
	tcase_add_checked_fixture(tc, rig_setup, rig_teardown);
	tcase_add_test(tc, test_iommu_isolation_property);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(iommu_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
