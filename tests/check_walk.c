/*
 * Walker tests with hand-worked expectations: paging structures are built
 * by hand in simulated memory, in the real bit formats, and every expected
 * reference count, error code and exit qualification is worked out from
 * the reference sheet (§3.2, §5.2, §5.3, §6.3, §6.4).
 */
#include <check.h>
#include <stdlib.h>

#include "arch/ept.h"
#include "arch/paging.h"
#include "mem/mem.h"
#include "mmu/walk.h"

static struct phys_mem mem;

/* A fixed layout: guest tables at GPA 0x10000 (PML4), 0x11000 (PDPT),
 * 0x12000 (PD), 0x13000 (PT); data page at GPA 0x20000. */
#define G_PML4 0x10000u
#define G_PDPT 0x11000u
#define G_PD 0x12000u
#define G_PT 0x13000u
#define G_DATA 0x20000u
/* The test linear address: PML4 index 1, PDPT 2, PD 3, PT 4, offset 0x123. */
#define LA ((UINT64_C(1) << 39) | (UINT64_C(2) << 30) | (UINT64_C(3) << 21) | (UINT64_C(4) << 12) | 0x123)
/* EPT tables (HPA) and the host offset of guest memory: GPA g -> HPA g + HOST_OFF. */
#define E_PML4 0x900000u
#define E_PDPT 0x901000u
#define E_PD 0x902000u
#define E_PT 0x903000u
#define HOST_OFF 0x4000000u

static const uint64_t TBL = PTE_P | PTE_RW | PTE_US | PTE_A;

static void setup(void)
{
	ck_assert_int_eq(mem_init(&mem), 0);
}

static void teardown(void)
{
	mem_destroy(&mem);
}

/* Build the guest tables at base + G_* (base 0 natively, HOST_OFF under EPT). */
static void build_guest(uint64_t base, uint64_t leaf_flags)
{
	mem_write64(&mem, base + G_PML4 + 8 * 1, G_PDPT | TBL);
	mem_write64(&mem, base + G_PDPT + 8 * 2, G_PD | TBL);
	mem_write64(&mem, base + G_PD + 8 * 3, G_PT | TBL);
	mem_write64(&mem, base + G_PT + 8 * 4, G_DATA | leaf_flags);
}

/* EPT mapping the 4 KiB GPA page gpa -> gpa + HOST_OFF, tables at E_*. */
static void ept_map(uint64_t gpa, uint64_t leaf_rwx)
{
	const uint64_t t = EPTE_R | EPTE_W | EPTE_X;
	mem_write64(&mem, E_PML4 + 8 * pt_index(gpa, 4), E_PDPT | t);
	mem_write64(&mem, E_PDPT + 8 * pt_index(gpa, 3), E_PD | t);
	mem_write64(&mem, E_PD + 8 * pt_index(gpa, 2), E_PT | t);
	mem_write64(&mem, E_PT + 8 * pt_index(gpa, 1),
		    (gpa + HOST_OFF) | leaf_rwx | ((uint64_t)EPTP_MT_WB << EPTE_MT_SHIFT));
}

static uint64_t eptp(bool ad)
{
	return E_PML4 | EPTP_MT_WB | (UINT64_C(3) << EPTP_WALK_LEN_SHIFT) | (ad ? EPTP_AD : 0);
}

static struct paging_ctx native_ctx(void)
{
	struct paging_ctx c = {CR0_PE | CR0_PG | CR0_WP, G_PML4, CR4_PAE, EFER_LME | EFER_LMA | EFER_NXE, false, 0,
			       MODEL_EPT_VPID_CAP};
	return c;
}

static struct paging_ctx ept_ctx(bool ad)
{
	struct paging_ctx c = native_ctx();
	c.ept = true;
	c.eptp = eptp(ad);
	return c;
}

START_TEST(test_walk_native_cold_is_4_refs)
{
	build_guest(0, PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D);
	struct paging_ctx c = native_ctx();
	struct mmu_access a = {LA, ACC_READ, true};
	struct walk_result r;
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_OK);
	ck_assert_uint_eq(r.guest_refs, 4);
	ck_assert_uint_eq(r.ept_refs, 0);
	ck_assert_uint_eq(r.guest_ad_writes, 0);
	ck_assert_uint_eq(r.hpa, G_DATA | 0x123);
	ck_assert_uint_eq(r.page_shift, 12);
}
END_TEST

START_TEST(test_walk_2d_cold_is_24_refs)
{
	/* Guest tables in guest-physical memory, reached through EPT. */
	build_guest(HOST_OFF, PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D);
	uint64_t pages[] = {G_PML4, G_PDPT, G_PD, G_PT, G_DATA};
	for (int i = 0; i < 5; i++)
		ept_map(pages[i], EPTE_RWX);
	struct paging_ctx c = ept_ctx(false);
	struct mmu_access a = {LA, ACC_READ, true};
	struct walk_result r;
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_OK);
	/* 4 guest levels x (4 EPT refs + 1 guest ref) + 4 EPT refs for the final GPA. */
	ck_assert_uint_eq(r.guest_refs, 4);
	ck_assert_uint_eq(r.ept_refs, 20);
	ck_assert_uint_eq(r.guest_refs + r.ept_refs, 24);
	ck_assert_uint_eq(r.gpa, G_DATA | 0x123);
	ck_assert_uint_eq(r.hpa, (G_DATA + HOST_OFF) | 0x123);
	/* The steps in order, as `vtsim explain walk` and the cache model see
	 * them: for each guest level the 4 EPT reads translating the table
	 * entry's GPA, then the guest read; then 4 EPT reads for the data GPA. */
	ck_assert_uint_eq(r.nrefs, 24);
	const uint64_t ept_tables[4] = {E_PML4, E_PDPT, E_PD, E_PT};
	unsigned n = 0;
	for (int g = 0; g < 5; g++) {
		uint64_t gpa = g < 4 ? pages[g] + 8 * pt_index(LA, 4 - g) : (G_DATA | 0x123);
		for (int l = 4; l >= 1; l--, n++) {
			const struct walk_ref *x = &r.ref[n];
			ck_assert_uint_eq(x->kind, WREF_READ);
			ck_assert_uint_eq(x->dim, PWC_EPT);
			ck_assert_uint_eq(x->level, l);
			ck_assert_uint_eq(x->gpa, gpa);
			ck_assert_uint_eq(x->hpa, ept_tables[4 - l] + 8 * pt_index(gpa, l));
			ck_assert_uint_eq(x->value, mem_read64(&mem, x->hpa));
		}
		if (g == 4)
			break;
		const struct walk_ref *x = &r.ref[n++];
		ck_assert_uint_eq(x->kind, WREF_READ);
		ck_assert_uint_eq(x->dim, PWC_GUEST);
		ck_assert_uint_eq(x->level, 4 - g);
		ck_assert_uint_eq(x->gpa, gpa);
		ck_assert_uint_eq(x->hpa, gpa + HOST_OFF);
	}
	ck_assert_uint_eq(n, 24);
}
END_TEST

START_TEST(test_walk_2d_with_ept_ad_sets_accessed_once)
{
	build_guest(HOST_OFF, PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D);
	uint64_t pages[] = {G_PML4, G_PDPT, G_PD, G_PT, G_DATA};
	for (int i = 0; i < 5; i++)
		ept_map(pages[i], EPTE_RWX);
	struct paging_ctx c = ept_ctx(true);
	struct mmu_access a = {LA, ACC_READ, true};
	struct walk_result r;
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_OK);
	ck_assert_uint_eq(r.guest_refs + r.ept_refs, 24);
	/* The first EPT translation sets A in its 4 entries; later ones share
	 * PML4E/PDPTE/PDE (already A) and set A only in their own leaf: 4 more
	 * leaves. Guest paging-structure reads count as writes with EPT A/D, so
	 * the four table pages' leaves also get D (same store as A). */
	ck_assert_uint_eq(r.ept_ad_writes, 4 + 4);
	uint64_t leaf = mem_read64(&mem, E_PT + 8 * pt_index(G_PML4, 1));
	ck_assert(leaf & EPTE_A);
	ck_assert(leaf & EPTE_D);
	uint64_t data_leaf = mem_read64(&mem, E_PT + 8 * pt_index(G_DATA, 1));
	ck_assert(data_leaf & EPTE_A);
	ck_assert(!(data_leaf & EPTE_D)); /* a read does not dirty the data page */
	/* A second identical walk finds every A already set: no writes. */
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_OK);
	ck_assert_uint_eq(r.ept_ad_writes, 0);
}
END_TEST

START_TEST(test_walk_sets_guest_accessed_and_dirty)
{
	/* Entries without A: a write sets A at all four levels and D in the PTE. */
	mem_write64(&mem, G_PML4 + 8, G_PDPT | PTE_P | PTE_RW | PTE_US);
	mem_write64(&mem, G_PDPT + 16, G_PD | PTE_P | PTE_RW | PTE_US);
	mem_write64(&mem, G_PD + 24, G_PT | PTE_P | PTE_RW | PTE_US);
	mem_write64(&mem, G_PT + 32, G_DATA | PTE_P | PTE_RW | PTE_US);
	struct paging_ctx c = native_ctx();
	struct mmu_access a = {LA, ACC_WRITE, true};
	struct walk_result r;
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_OK);
	ck_assert_uint_eq(r.guest_ad_writes, 4);
	ck_assert_uint_eq(mem_read64(&mem, G_PML4 + 8), G_PDPT | PTE_P | PTE_RW | PTE_US | PTE_A);
	ck_assert_uint_eq(mem_read64(&mem, G_PT + 32), G_DATA | PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D);
	ck_assert(r.dirty);
}
END_TEST

/* Guest #PF error codes (reference sheet §6.4). */
START_TEST(test_walk_pf_error_codes)
{
	struct paging_ctx c = native_ctx();
	struct walk_result r;
	struct mmu_access a = {LA, ACC_READ, true};

	/* Not present: user read -> U/S only (0x4). */
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_PF);
	ck_assert_uint_eq(r.pfec, 0x4);
	ck_assert_uint_eq(r.guest_refs, 1);

	/* Read-only leaf: user write -> P | W/R | U/S = 0x7. */
	build_guest(0, PTE_P | PTE_US | PTE_A);
	a.kind = ACC_WRITE;
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_PF);
	ck_assert_uint_eq(r.pfec, 0x7);

	/* Supervisor write to a read-only page: P | W/R = 0x3 with CR0.WP = 1,
	 * allowed with CR0.WP = 0. */
	a.user = false;
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_PF);
	ck_assert_uint_eq(r.pfec, 0x3);
	c.cr0 &= ~CR0_WP;
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_OK);
	c.cr0 |= CR0_WP;

	/* SMEP: a supervisor fetch from a user page -> P | I/D = 0x11. */
	build_guest(0, PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D);
	a.kind = ACC_FETCH;
	c.cr4 |= CR4_SMEP;
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_PF);
	ck_assert_uint_eq(r.pfec, 0x11);
	c.cr4 &= ~CR4_SMEP;
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_OK);

	/* Without NXE and SMEP, I/D is never reported: a user fetch from a
	 * supervisor page -> P | U/S = 0x5. */
	build_guest(0, PTE_P | PTE_RW | PTE_A);
	c.efer &= ~EFER_NXE;
	a.user = true;
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_PF);
	ck_assert_uint_eq(r.pfec, 0x5);
	c.efer |= EFER_NXE;

	/* XD leaf with EFER.NXE: user fetch -> P | U/S | I/D = 0x15. */
	build_guest(0, PTE_P | PTE_RW | PTE_US | PTE_A | PTE_XD);
	a.kind = ACC_FETCH;
	a.user = true;
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_PF);
	ck_assert_uint_eq(r.pfec, 0x15);

	/* Supervisor page, user read -> P | U/S = 0x5. */
	build_guest(0, PTE_P | PTE_RW | PTE_A);
	a.kind = ACC_READ;
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_PF);
	ck_assert_uint_eq(r.pfec, 0x5);

	/* Reserved bit 51 in the PDE: P | U/S | RSVD = 0xd, walk stops at the PD. */
	build_guest(0, PTE_P | PTE_RW | PTE_US | PTE_A);
	mem_write64(&mem, G_PD + 24, G_PT | TBL | (UINT64_C(1) << 51));
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_PF);
	ck_assert_uint_eq(r.pfec, 0xd);
	ck_assert_uint_eq(r.guest_refs, 3);

	/* XD set while EFER.NXE = 0 is a reserved bit too. */
	build_guest(0, PTE_P | PTE_RW | PTE_US | PTE_A | PTE_XD);
	c.efer &= ~EFER_NXE;
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_PF);
	ck_assert_uint_eq(r.pfec, 0xd);
}
END_TEST

/* EPT-violation qualification for an access to a GPA EPT does not map. */
START_TEST(test_walk_ept_violation_qualification)
{
	build_guest(HOST_OFF, PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D);
	uint64_t tables[] = {G_PML4, G_PDPT, G_PD, G_PT};
	for (int i = 0; i < 4; i++)
		ept_map(tables[i], EPTE_RWX);
	/* G_DATA is not mapped: its EPT PTE is 0 (the PT exists). */
	struct paging_ctx c = ept_ctx(false);
	struct walk_result r;
	static const struct {
		enum access_kind kind;
		uint64_t qual;
	} cases[] = {
		/* bit 0/1/2 the access; bits 5:3 = 0 (not present); bit 7 GLA valid;
		 * bit 8 translation of the GLA; bits 9-11 stay 0: the modelled core
		 * (i7-6700K) lacks advanced EPT-violation information. */
		{ACC_READ, 0x181},
		{ACC_WRITE, 0x182},
		{ACC_FETCH, 0x184},
	};
	for (int i = 0; i < 3; i++) {
		struct mmu_access a = {LA, cases[i].kind, true};
		ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_EPT_VIOLATION);
		ck_assert_uint_eq(r.ept_qual, cases[i].qual);
		ck_assert_uint_eq(r.fault_gpa, G_DATA | 0x123);
		/* 4 levels x 5 refs, then the final translation stops at the EPT PTE: 4. */
		ck_assert_uint_eq(r.guest_refs + r.ept_refs, 24);
	}
}
END_TEST

START_TEST(test_walk_ept_violation_on_guest_table)
{
	/* The PD page is not mapped in EPT: the walk faults on a paging-structure
	 * access, so bit 8 = 0, and bits 9-11 are not reported. */
	build_guest(HOST_OFF, PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D);
	ept_map(G_PML4, EPTE_RWX);
	ept_map(G_PDPT, EPTE_RWX);
	struct paging_ctx c = ept_ctx(false);
	struct mmu_access a = {LA, ACC_READ, true};
	struct walk_result r;
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_EPT_VIOLATION);
	ck_assert_uint_eq(r.ept_qual, 0x81);
	ck_assert_uint_eq(r.fault_gpa, G_PD + 8 * 3);
	ck_assert_uint_eq(r.guest_refs, 2);
	ck_assert_uint_eq(r.ept_refs, 4 + 4 + 4);
	/* With EPT A/D the access is treated as a write: bits 0 and 1 both. */
	c = ept_ctx(true);
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_EPT_VIOLATION);
	ck_assert_uint_eq(r.ept_qual, 0x83);
}
END_TEST

START_TEST(test_walk_ept_permission_bits_in_qualification)
{
	/* Data page mapped read+execute only: a write violates with bits 3 and
	 * 5 set (readable, executable) and bit 4 clear. */
	build_guest(HOST_OFF, PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D);
	uint64_t tables[] = {G_PML4, G_PDPT, G_PD, G_PT};
	for (int i = 0; i < 4; i++)
		ept_map(tables[i], EPTE_RWX);
	ept_map(G_DATA, EPTE_R | EPTE_X);
	struct paging_ctx c = ept_ctx(false);
	struct mmu_access a = {LA, ACC_WRITE, true};
	struct walk_result r;
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_EPT_VIOLATION);
	ck_assert_uint_eq(r.ept_qual, 0x182 | (0x5 << 3));
	/* A read succeeds, and the combined rights for the TLB are the AND of
	 * both dimensions: not writable although the guest PTE is. */
	a.kind = ACC_READ;
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_OK);
	ck_assert(r.readable);
	ck_assert(!r.writable);
	ck_assert(!r.nx);
	/* Read/write without execute: nx in the combined rights. */
	ept_map(G_DATA, EPTE_R | EPTE_W);
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_OK);
	ck_assert(r.writable);
	ck_assert(r.nx);
}
END_TEST

START_TEST(test_walk_guest_ad_update_needs_ept_write)
{
	/* Guest entries without A, guest table pages mapped read+execute in EPT
	 * (EPT A/D off): the reads succeed, the A update of the PML4E is a data
	 * write to its GPA and violates: bit 1, rights R|X in bits 5:3, bit 7,
	 * bit 8 = 0 (a paging-structure access) = 0xaa. */
	mem_write64(&mem, HOST_OFF + G_PML4 + 8, G_PDPT | PTE_P | PTE_RW | PTE_US);
	mem_write64(&mem, HOST_OFF + G_PDPT + 16, G_PD | PTE_P | PTE_RW | PTE_US);
	mem_write64(&mem, HOST_OFF + G_PD + 24, G_PT | PTE_P | PTE_RW | PTE_US);
	mem_write64(&mem, HOST_OFF + G_PT + 32, G_DATA | PTE_P | PTE_RW | PTE_US);
	uint64_t tables[] = {G_PML4, G_PDPT, G_PD, G_PT};
	for (int i = 0; i < 4; i++)
		ept_map(tables[i], EPTE_R | EPTE_X);
	ept_map(G_DATA, EPTE_RWX);
	struct paging_ctx c = ept_ctx(false);
	struct mmu_access a = {LA, ACC_READ, true};
	struct walk_result r;
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_EPT_VIOLATION);
	ck_assert_uint_eq(r.ept_qual, 0xaa);
	ck_assert_uint_eq(r.fault_gpa, G_PML4 + 8);
	ck_assert_uint_eq(r.guest_ad_writes, 0);
}
END_TEST

START_TEST(test_walk_ept_misconfigurations)
{
	struct ept_result er;
	const uint64_t t = EPTE_RWX;
	mem_write64(&mem, E_PML4, E_PDPT | t);
	mem_write64(&mem, E_PDPT, E_PD | t);
	mem_write64(&mem, E_PD, E_PT | t);
	/* write-only leaf (010b) */
	mem_write64(&mem, E_PT, 0x5000 | EPTE_W | (6u << 3));
	ck_assert_int_eq(ept_translate(&mem, eptp(false), MODEL_EPT_VPID_CAP, 0, ACC_READ, &er), WALK_EPT_MISCONFIG);
	/* write+execute without read (110b) */
	mem_write64(&mem, E_PT, 0x5000 | EPTE_W | EPTE_X | (6u << 3));
	ck_assert_int_eq(ept_translate(&mem, eptp(false), MODEL_EPT_VPID_CAP, 0, ACC_READ, &er), WALK_EPT_MISCONFIG);
	/* leaf memory type 2 (reserved) */
	mem_write64(&mem, E_PT, 0x5000 | EPTE_RWX | (2u << 3));
	ck_assert_int_eq(ept_translate(&mem, eptp(false), MODEL_EPT_VPID_CAP, 0, ACC_READ, &er), WALK_EPT_MISCONFIG);
	/* reserved bit 7 (PS) in the PML4E */
	mem_write64(&mem, E_PT, 0x5000 | EPTE_RWX | (6u << 3));
	mem_write64(&mem, E_PML4, E_PDPT | t | EPTE_PS);
	ck_assert_int_eq(ept_translate(&mem, eptp(false), MODEL_EPT_VPID_CAP, 0, ACC_READ, &er), WALK_EPT_MISCONFIG);
	ck_assert_uint_eq(er.refs, 1);
	/* a good entry translates, 4 refs */
	mem_write64(&mem, E_PML4, E_PDPT | t);
	ck_assert_int_eq(ept_translate(&mem, eptp(false), MODEL_EPT_VPID_CAP, 0x123, ACC_READ, &er), WALK_OK);
	ck_assert_uint_eq(er.hpa, 0x5123);
	ck_assert_uint_eq(er.refs, 4);
	/* execute-only (100b) is allowed: this core reports the capability */
	mem_write64(&mem, E_PT, 0x5000 | EPTE_X | (6u << 3));
	ck_assert_int_eq(ept_translate(&mem, eptp(false), MODEL_EPT_VPID_CAP, 0, ACC_FETCH, &er), WALK_OK);
	ck_assert_int_eq(ept_translate(&mem, eptp(false), MODEL_EPT_VPID_CAP, 0, ACC_READ, &er), WALK_EPT_VIOLATION);
	ck_assert_uint_eq(er.rwx, EPTE_X);
}
END_TEST

START_TEST(test_walk_large_pages)
{
	/* A 2 MiB guest page: the walk stops at the PD, 3 references. */
	mem_write64(&mem, G_PML4 + 8, G_PDPT | TBL);
	mem_write64(&mem, G_PDPT + 16, G_PD | TBL);
	mem_write64(&mem, G_PD + 24, 0x40000000 | TBL | PTE_PS | PTE_D);
	struct paging_ctx c = native_ctx();
	struct mmu_access a = {LA, ACC_READ, true};
	struct walk_result r;
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_OK);
	ck_assert_uint_eq(r.guest_refs, 3);
	ck_assert_uint_eq(r.page_shift, 21);
	ck_assert_uint_eq(r.hpa, 0x40000000 | (LA & 0x1fffff));
	/* A 2 MiB leaf with address bit 13 set has a reserved bit. */
	mem_write64(&mem, G_PD + 24, 0x40002000 | TBL | PTE_PS);
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_PF);
	ck_assert_uint_eq(r.pfec, 0xd);
	/* A 1 GiB page: 2 references. */
	mem_write64(&mem, G_PDPT + 16, 0x80000000 | TBL | PTE_PS);
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_OK);
	ck_assert_uint_eq(r.guest_refs, 2);
	ck_assert_uint_eq(r.hpa, 0x80000000 | (LA & 0x3fffffff));
}
END_TEST

/* Large EPT leaves (reference sheet §5.2, §5.3): a 2 MiB guest page under a
 * 2 MiB EPT page is 3 x (3 + 1) + 3 = 15 cold references (the issue's
 * acceptance figure): each of the 3 guest tables' GPAs and the final GPA
 * take a 3-level EPT walk that stops at the PS = 1 PDE. A 1 GiB EPT leaf
 * stops at the PDPTE (2 refs), but on a part without IA32_VMX_EPT_VPID_CAP
 * bit 17 (Nehalem, cpu-parameters.md §4) its bit 7 is reserved: an EPT
 * misconfiguration. */
START_TEST(test_walk_large_ept_leaves)
{
	const uint64_t t = EPTE_R | EPTE_W | EPTE_X, leaf = EPTE_RWX | ((uint64_t)EPTP_MT_WB << EPTE_MT_SHIFT);
	/* EPT: GPA [0, 2 MiB) -> HPA HOST_OFF (a 2 MiB-aligned block) and GPA
	 * [0x40000000, +2 MiB) -> HPA 0x80000000, both as PS PDEs. */
	mem_write64(&mem, E_PML4, E_PDPT | t);
	mem_write64(&mem, E_PDPT, E_PD | t);
	mem_write64(&mem, E_PD, HOST_OFF | leaf | EPTE_PS);
	mem_write64(&mem, E_PDPT + 8, E_PT | t); /* E_PT serves as the second PD */
	mem_write64(&mem, E_PT, 0x80000000u | leaf | EPTE_PS);
	/* Guest: PML4, PDPT, PD (in GPA [0, 2 MiB)), PDE 3 a 2 MiB page at GPA 0x40000000. */
	mem_write64(&mem, HOST_OFF + G_PML4 + 8, G_PDPT | TBL);
	mem_write64(&mem, HOST_OFF + G_PDPT + 16, G_PD | TBL);
	mem_write64(&mem, HOST_OFF + G_PD + 24, 0x40000000u | TBL | PTE_PS | PTE_D);
	struct paging_ctx c = ept_ctx(false);
	struct mmu_access a = {LA, ACC_READ, true};
	struct walk_result r;
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_OK);
	ck_assert_uint_eq(r.guest_refs, 3);
	ck_assert_uint_eq(r.ept_refs, 3 * 3 + 3);
	ck_assert_uint_eq(r.guest_refs + r.ept_refs, 15);
	ck_assert_uint_eq(r.page_shift, 21);
	ck_assert_uint_eq(r.guest_page_shift, 21);
	ck_assert_uint_eq(r.hpa, 0x80000000u | (LA & 0x1fffff));
	/* Under 4 KiB EPT pages the same guest page splinters to 4 KiB. */
	mem_write64(&mem, E_PT, (E_PT + 0x1000) | t);
	mem_write64(&mem, E_PT + 0x1000 + 8 * pt_index(0x40000000u | (LA & 0x1fffff), 1),
		    0x90000000u | leaf);
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_OK);
	ck_assert_uint_eq(r.ept_refs, 3 * 3 + 4);
	ck_assert_uint_eq(r.page_shift, 12);
	ck_assert_uint_eq(r.guest_page_shift, 21);
	ck_assert_uint_eq(r.hpa, 0x90000000u | (LA & 0xfff));

	/* A 1 GiB EPT leaf for GPA [0, 1 GiB): each EPT walk is 2 refs. */
	struct ept_result er;
	mem_write64(&mem, E_PDPT, 0x40000000u | leaf | EPTE_PS);
	ck_assert_int_eq(ept_translate(&mem, c.eptp, c.ept_cap, 0x12345, ACC_READ, &er), WALK_OK);
	ck_assert_uint_eq(er.refs, 2);
	ck_assert_uint_eq(er.page_shift, 30);
	ck_assert_uint_eq(er.hpa, 0x40012345u);
	/* Without bit 17 the same entry is a misconfiguration, found at the
	 * PDPTE (2 refs), and so is a walk that meets it. */
	c.ept_cap = MODEL_EPT_VPID_CAP & ~EPT_CAP_1G;
	ck_assert_int_eq(ept_translate(&mem, c.eptp, c.ept_cap, 0x12345, ACC_READ, &er), WALK_EPT_MISCONFIG);
	ck_assert_uint_eq(er.refs, 2);
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_EPT_MISCONFIG);
	ck_assert_uint_eq(r.fault_gpa, G_PML4 + 8);
	/* 2 MiB leaves are still fine on that part. */
	mem_write64(&mem, E_PDPT, E_PD | t);
	ck_assert_int_eq(ept_translate(&mem, c.eptp, c.ept_cap, 0x12345, ACC_READ, &er), WALK_OK);
	ck_assert_uint_eq(er.refs, 3);
}
END_TEST

/* 5-level paging under 5-level EPT: every level of both dimensions. */
START_TEST(test_walk_5level_by_5level_cold_is_35_refs)
{
	/* Guest tables (GPA): PML5 0x30000 -> PML4 0x31000 -> PDPT 0x32000 ->
	 * PD 0x33000 -> PT 0x34000 -> page 0x35000; GPA g is at HPA g + HOST_OFF.
	 * EPT: 5 levels at HPAs 0x800000.. 0x804000, one path covering GPAs
	 * below 2 MiB. */
	const uint64_t la = (UINT64_C(1) << 48) | (UINT64_C(1) << 39) | (UINT64_C(2) << 30) | (UINT64_C(3) << 21) |
			    (UINT64_C(4) << 12) | 0x10;
	const uint64_t g[6] = {0x30000, 0x31000, 0x32000, 0x33000, 0x34000, 0x35000};
	for (int level = 5; level >= 1; level--) {
		uint64_t table = g[5 - level], next = g[6 - level];
		mem_write64(&mem, HOST_OFF + table + 8 * pt_index(la, level),
			    next | (level == 1 ? PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D : TBL));
	}
	const uint64_t e[5] = {0x800000, 0x801000, 0x802000, 0x803000, 0x804000};
	for (int i = 0; i < 6; i++) {
		for (int level = 5; level >= 2; level--)
			mem_write64(&mem, e[5 - level] + 8 * pt_index(g[i], level), e[6 - level] | EPTE_RWX);
		mem_write64(&mem, e[4] + 8 * pt_index(g[i], 1),
			    (g[i] + HOST_OFF) | EPTE_RWX | ((uint64_t)EPTP_MT_WB << EPTE_MT_SHIFT));
	}
	struct paging_ctx c = native_ctx();
	c.cr3 = g[0];
	c.cr4 |= CR4_LA57;
	c.ept = true;
	c.eptp = e[0] | EPTP_MT_WB | (UINT64_C(4) << EPTP_WALK_LEN_SHIFT); /* 5-level EPT */
	struct mmu_access a = {la, ACC_READ, true};
	struct walk_result r;
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_OK);
	/* 5 guest levels x (5 EPT refs + 1 guest ref) + 5 for the final GPA = 35. */
	ck_assert_uint_eq(r.guest_refs, 5);
	ck_assert_uint_eq(r.ept_refs, 30);
	ck_assert_uint_eq(r.guest_refs + r.ept_refs, 35);
	ck_assert_uint_eq(r.hpa, (g[5] + HOST_OFF) | 0x10);
	/* Natively the same 5-level guest walk is 5 references. */
	struct paging_ctx n = native_ctx();
	n.cr3 = g[0] + HOST_OFF;
	n.cr4 |= CR4_LA57;
	for (int level = 5; level >= 2; level--) {
		uint64_t table = g[5 - level] + HOST_OFF, next = g[6 - level] + HOST_OFF;
		mem_write64(&mem, table + 8 * pt_index(la, level), next | TBL);
	}
	mem_write64(&mem, g[4] + HOST_OFF + 8 * pt_index(la, 1), (g[5] + HOST_OFF) | TBL | PTE_D);
	ck_assert_int_eq(mmu_walk(&mem, &n, &a, NULL, &r), WALK_OK);
	ck_assert_uint_eq(r.guest_refs, 5);
}
END_TEST

/*
 * A 2 MiB guest page under 2 MiB EPT pages. Guest walk: PML4E, PDPTE and
 * the PDE leaf, 3 guest references. Each guest table's GPA (all below
 * 2 MiB) is translated by a 3-level EPT walk (EPT PML4E, PDPTE, the 2 MiB
 * PDE leaf): 3 x 3. The final GPA 0x40000000 + offset: 3 more.
 * 3 x (3 + 1) + 3 = 15 references, and the translation is a 2 MiB one.
 */
START_TEST(test_walk_2m_guest_under_2m_ept_is_15_refs)
{
	const uint64_t big = 0x40000000;            /* GPA of the guest's 2 MiB page */
	const uint64_t mt = (uint64_t)EPTP_MT_WB << EPTE_MT_SHIFT;
	mem_write64(&mem, HOST_OFF + G_PML4 + 8 * pt_index(LA, 4), G_PDPT | TBL);
	mem_write64(&mem, HOST_OFF + G_PDPT + 8 * pt_index(LA, 3), G_PD | TBL);
	mem_write64(&mem, HOST_OFF + G_PD + 8 * pt_index(LA, 2), big | TBL | PTE_PS | PTE_D);
	/* EPT: GPA [0, 2 MiB) -> HPA HOST_OFF, GPA [1 GiB, 1 GiB + 2 MiB) ->
	 * HPA 1 GiB + HOST_OFF, both 2 MiB leaves (E_PT serves as the second PD). */
	mem_write64(&mem, E_PML4, E_PDPT | EPTE_RWX);
	mem_write64(&mem, E_PDPT + 8 * 0, E_PD | EPTE_RWX);
	mem_write64(&mem, E_PD + 8 * 0, HOST_OFF | EPTE_RWX | EPTE_PS | mt);
	mem_write64(&mem, E_PDPT + 8 * 1, E_PT | EPTE_RWX);
	mem_write64(&mem, E_PT + 8 * 0, (big + HOST_OFF) | EPTE_RWX | EPTE_PS | mt);
	struct paging_ctx c = ept_ctx(false);
	struct mmu_access a = {LA, ACC_READ, true};
	struct walk_result r;
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_OK);
	ck_assert_uint_eq(r.guest_refs, 3);
	ck_assert_uint_eq(r.ept_refs, 12);
	ck_assert_uint_eq(r.guest_refs + r.ept_refs, 15);
	ck_assert_uint_eq(r.page_shift, 21);
	ck_assert_uint_eq(r.gpa, big | (LA & 0x1fffff));
	ck_assert_uint_eq(r.hpa, (big + HOST_OFF) | (LA & 0x1fffff));
	/* The same guest page under 4 KiB EPT would cost 3 x (4 + 1) + 4 = 19
	 * and be cached as 4 KiB: the smaller of the two page sizes. */
}
END_TEST

static Suite *walk_suite(void)
{
	Suite *s = suite_create("walk");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_walk_native_cold_is_4_refs);
	tcase_add_test(tc, test_walk_2d_cold_is_24_refs);
	tcase_add_test(tc, test_walk_2d_with_ept_ad_sets_accessed_once);
	tcase_add_test(tc, test_walk_sets_guest_accessed_and_dirty);
	tcase_add_test(tc, test_walk_pf_error_codes);
	tcase_add_test(tc, test_walk_ept_violation_qualification);
	tcase_add_test(tc, test_walk_ept_violation_on_guest_table);
	tcase_add_test(tc, test_walk_ept_permission_bits_in_qualification);
	tcase_add_test(tc, test_walk_ept_misconfigurations);
	tcase_add_test(tc, test_walk_guest_ad_update_needs_ept_write);
	tcase_add_test(tc, test_walk_large_pages);
	tcase_add_test(tc, test_walk_large_ept_leaves);
	tcase_add_test(tc, test_walk_5level_by_5level_cold_is_35_refs);
	tcase_add_test(tc, test_walk_2m_guest_under_2m_ept_is_15_refs);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(walk_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
