/*
 * Paging-structure caches and the nested TLB, with hand-worked counts.
 *
 * Notes: the walk tests use the layout of tests/check_walk.c (guest tables
 * at GPA 0x10000-0x13000, data at 0x20000, EPT tables at HPA
 * 0x900000-0x903000, GPA g -> HPA g + HOST_OFF). Every guest table and data
 * page lies in the first 2 MiB of guest-physical memory, so all of them
 * share one EPT PML4E, PDPTE and PDE: once the EPT PDE cache holds that
 * entry, any of their GPAs costs one EPT reference (the EPT PTE). EPT A/D is
 * off and every guest entry already has A = 1, so no A/D writes happen and
 * every count below is entry reads only. The invalidation tests fill the
 * CPU's caches by hand and run the architectural operations (INVLPG, MOV to
 * CR3 through the guest-op queue; INVVPID and INVEPT as VMX instructions).
 * References: reference sheet §5.5, §5.6, §6.5 (SDM Vol. 3A "Paging-
 * Structure Caches", "Invalidation of TLBs and Paging-Structure Caches").
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "arch/ept.h"
#include "arch/paging.h"
#include "cpu/cpu_internal.h"
#include "cpu/vmx.h"
#include "mem/mem.h"
#include "mmu/tlb.h"
#include "mmu/walk.h"
#include "vmcs/vmcs.h"

static struct phys_mem mem;

#define G_PML4 0x10000u
#define G_PDPT 0x11000u
#define G_PD 0x12000u
#define G_PT 0x13000u
#define G_DATA 0x20000u
#define G_DATA2 0x21000u
/* PML4 index 1, PDPT 2, PD 3, PT 4, offset 0x123; LA2 is the next 4 KiB page
 * (PT index 5), mapped to G_DATA2 by the same PT. */
#define LA ((UINT64_C(1) << 39) | (UINT64_C(2) << 30) | (UINT64_C(3) << 21) | (UINT64_C(4) << 12) | 0x123)
#define LA2 (LA + 0x1000)
#define E_PML4 0x900000u
#define E_PDPT 0x901000u
#define E_PD 0x902000u
#define E_PT 0x903000u
#define HOST_OFF 0x4000000u

static const uint64_t TBL = PTE_P | PTE_RW | PTE_US | PTE_A;
static const uint64_t LEAF = PTE_P | PTE_RW | PTE_US | PTE_A;

/* Small caches for the walk tests: [0] guest, [1] EPT; PML4E/PDPTE/PDE. */
static struct tlb pwc[2][PWC_LEVELS], ntlb;

static void setup(void)
{
	ck_assert_int_eq(mem_init(&mem), 0);
	for (int d = 0; d < 2; d++)
		for (int k = 0; k < PWC_LEVELS; k++)
			ck_assert_int_eq(tlb_init_sized(&pwc[d][k], "pwc", 4, 4, 39 - 9 * (unsigned)k, NULL), 0);
	ck_assert_int_eq(tlb_init(&ntlb, "ntlb", 4, 4, NULL), 0);
}

static void teardown(void)
{
	for (int d = 0; d < 2; d++)
		for (int k = 0; k < PWC_LEVELS; k++)
			tlb_destroy(&pwc[d][k]);
	tlb_destroy(&ntlb);
	mem_destroy(&mem);
}

static void build_guest(uint64_t base)
{
	mem_write64(&mem, base + G_PML4 + 8 * 1, G_PDPT | TBL);
	mem_write64(&mem, base + G_PDPT + 8 * 2, G_PD | TBL);
	mem_write64(&mem, base + G_PD + 8 * 3, G_PT | TBL);
	mem_write64(&mem, base + G_PT + 8 * 4, G_DATA | LEAF);
	mem_write64(&mem, base + G_PT + 8 * 5, G_DATA2 | LEAF);
}

static void ept_map(uint64_t gpa)
{
	const uint64_t t = EPTE_R | EPTE_W | EPTE_X;
	mem_write64(&mem, E_PML4 + 8 * pt_index(gpa, 4), E_PDPT | t);
	mem_write64(&mem, E_PDPT + 8 * pt_index(gpa, 3), E_PD | t);
	mem_write64(&mem, E_PD + 8 * pt_index(gpa, 2), E_PT | t);
	mem_write64(&mem, E_PT + 8 * pt_index(gpa, 1), (gpa + HOST_OFF) | t | ((uint64_t)EPTP_MT_WB << EPTE_MT_SHIFT));
}

static uint64_t test_eptp(void)
{
	return E_PML4 | EPTP_MT_WB | (UINT64_C(3) << EPTP_WALK_LEN_SHIFT);
}

static struct paging_ctx native_ctx(void)
{
	struct paging_ctx c = {CR0_PE | CR0_PG | CR0_WP, G_PML4, CR4_PAE, EFER_LME | EFER_LMA | EFER_NXE, false, 0,
			       MODEL_EPT_VPID_CAP};
	return c;
}

static struct paging_ctx ept_ctx(void)
{
	struct paging_ctx c = native_ctx();
	c.ept = true;
	c.eptp = test_eptp();
	return c;
}

static void build_2d(void)
{
	static const uint64_t pages[] = {G_PML4, G_PDPT, G_PD, G_PT, G_DATA, G_DATA2};
	build_guest(HOST_OFF);
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
		ept_map(pages[i]);
}

/* Caches for one configuration (guest PWC, EPT PWC, nested TLB on/off). */
static struct walk_caches caches(bool guest, bool ept, bool nt, uint16_t vpid)
{
	struct walk_caches wc;
	memset(&wc, 0, sizeof(wc));
	for (int k = 0; k < PWC_LEVELS; k++) {
		wc.guest[k] = guest ? &pwc[0][k] : NULL;
		wc.ept[k] = ept ? &pwc[1][k] : NULL;
	}
	wc.ntlb = nt ? &ntlb : NULL;
	wc.tag.vpid = vpid;
	wc.tag.ep4ta = (test_eptp() & PHYS_ADDR_MASK) >> PAGE_SHIFT;
	return wc;
}

START_TEST(test_pwc_2d_cold_is_24_with_guest_pwc_and_ntlb)
{
	build_2d();
	struct paging_ctx c = ept_ctx();
	struct mmu_access a = {LA, ACC_READ, true};
	struct walk_caches wc = caches(true, false, true, 1);
	struct walk_result r;
	/* Empty guest caches (3 misses) and an empty nested TLB (4 misses,
	 * one per guest table; four distinct pages): 4 x (4 + 1) + 4 = 24. */
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, &wc, &r), WALK_OK);
	ck_assert_uint_eq(r.guest_refs + r.ept_refs, 24);
	ck_assert_uint_eq(r.pwc_miss[PWC_GUEST][PWC_PDE] + r.pwc_miss[PWC_GUEST][PWC_PDPTE] +
				  r.pwc_miss[PWC_GUEST][PWC_PML4E],
			  3);
	ck_assert_uint_eq(r.ntlb_miss, 4);
	ck_assert_uint_eq(r.ntlb_hit, 0);
	ck_assert_uint_eq(r.hpa, G_DATA + HOST_OFF + 0x123);
	/* Filled: one entry per guest cache, 4 nested-TLB entries. */
	for (int k = 0; k < PWC_LEVELS; k++)
		ck_assert_uint_eq(tlb_occupancy(&pwc[0][k]), 1);
	ck_assert_uint_eq(tlb_occupancy(&ntlb), 4);
	/* Same walk without caches: 24 as well. */
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, NULL, &r), WALK_OK);
	ck_assert_uint_eq(r.guest_refs + r.ept_refs, 24);
}
END_TEST

START_TEST(test_pwc_2d_cold_with_ept_pwc_is_12)
{
	build_2d();
	struct paging_ctx c = ept_ctx();
	struct mmu_access a = {LA, ACC_READ, true};
	struct walk_caches wc = caches(true, true, true, 1);
	struct walk_result r;
	/* The EPT caches fill during the walk itself. PML4 GPA 0x10000: 3 EPT
	 * cache misses, 4 EPT refs (fills the EPT PML4E/PDPTE/PDE caches),
	 * 1 guest ref. PDPT, PD, PT GPAs (same 2 MiB): EPT PDE-cache hit, 1 EPT
	 * ref + 1 guest ref each. Final GPA 0x20000: EPT PDE hit, 1 ref.
	 * Guest 4, EPT 4 + 3 + 1 = 8, total 12. */
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, &wc, &r), WALK_OK);
	ck_assert_uint_eq(r.guest_refs, 4);
	ck_assert_uint_eq(r.ept_refs, 8);
	ck_assert_uint_eq(r.pwc_hit[PWC_EPT][PWC_PDE], 4);
	ck_assert_uint_eq(r.pwc_miss[PWC_EPT][PWC_PDE], 1);
	ck_assert_uint_eq(r.pwc_miss[PWC_EPT][PWC_PDPTE], 1);
	ck_assert_uint_eq(r.pwc_miss[PWC_EPT][PWC_PML4E], 1);
	ck_assert_uint_eq(r.ntlb_miss, 4);
	ck_assert_uint_eq(r.hpa, G_DATA + HOST_OFF + 0x123);
}
END_TEST

/* Walk LA cold, then the neighbouring page LA2 (same PT) under the same
 * caches; returns the second walk's result. */
static struct walk_result warm_neighbour(bool guest, bool ept, bool nt)
{
	build_2d();
	struct paging_ctx c = ept_ctx();
	struct mmu_access a = {LA, ACC_READ, true};
	struct walk_caches wc = caches(guest, ept, nt, 1);
	struct walk_result r;
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, &wc, &r), WALK_OK);
	a.la = LA2;
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, &wc, &r), WALK_OK);
	ck_assert_uint_eq(r.hpa, G_DATA2 + HOST_OFF + 0x123);
	ck_assert_uint_eq(r.guest_ad_writes + r.ept_ad_writes, 0);
	return r;
}

START_TEST(test_pwc_2d_neighbour_guest_pwc_only_is_9)
{
	/* Guest PDE-cache hit: start at the PT, 1 guest ref. The PT's GPA
	 * 0x13000: full EPT walk, 4 refs. Final GPA 0x21000: 4 refs. 9. */
	struct walk_result r = warm_neighbour(true, false, false);
	ck_assert_uint_eq(r.pwc_hit[PWC_GUEST][PWC_PDE], 1);
	ck_assert_uint_eq(r.pwc_miss[PWC_GUEST][PWC_PDE], 0);
	ck_assert_uint_eq(r.guest_refs, 1);
	ck_assert_uint_eq(r.ept_refs, 8);
}
END_TEST

START_TEST(test_pwc_2d_neighbour_guest_and_ept_pwc_is_3)
{
	/* Guest PDE hit: 1 guest ref. PT GPA: EPT PDE hit, 1 ref. Final GPA:
	 * EPT PDE hit, 1 ref. 3. */
	struct walk_result r = warm_neighbour(true, true, false);
	ck_assert_uint_eq(r.pwc_hit[PWC_GUEST][PWC_PDE], 1);
	ck_assert_uint_eq(r.pwc_hit[PWC_EPT][PWC_PDE], 2);
	ck_assert_uint_eq(r.guest_refs, 1);
	ck_assert_uint_eq(r.ept_refs, 2);
}
END_TEST

START_TEST(test_pwc_2d_neighbour_all_caches_is_2)
{
	/* Guest PDE hit: 1 guest ref. PT GPA 0x13000: nested-TLB hit, 0 EPT
	 * refs. Final GPA: EPT PDE hit, 1 ref (the final GPA is not a paging
	 * structure: no nested-TLB lookup). 2. */
	struct walk_result r = warm_neighbour(true, true, true);
	ck_assert_uint_eq(r.pwc_hit[PWC_GUEST][PWC_PDE], 1);
	ck_assert_uint_eq(r.ntlb_hit, 1);
	ck_assert_uint_eq(r.ntlb_miss, 0);
	ck_assert_uint_eq(r.pwc_hit[PWC_EPT][PWC_PDE], 1);
	ck_assert_uint_eq(r.guest_refs, 1);
	ck_assert_uint_eq(r.ept_refs, 1);
}
END_TEST

START_TEST(test_pwc_2d_neighbour_guest_pwc_and_ntlb_is_5)
{
	/* Guest PDE hit: 1 guest ref; PT GPA: nested-TLB hit, 0; final GPA:
	 * full EPT walk, 4. 5. */
	struct walk_result r = warm_neighbour(true, false, true);
	ck_assert_uint_eq(r.guest_refs, 1);
	ck_assert_uint_eq(r.ept_refs, 4);
}
END_TEST

START_TEST(test_pwc_2d_neighbour_no_caches_is_24)
{
	struct walk_result r = warm_neighbour(false, false, false);
	ck_assert_uint_eq(r.guest_refs + r.ept_refs, 24);
}
END_TEST

START_TEST(test_pwc_native_neighbour_is_1_ref)
{
	build_guest(0);
	struct paging_ctx c = native_ctx();
	struct mmu_access a = {LA, ACC_READ, true};
	struct walk_caches wc = caches(true, false, false, 0);
	struct walk_result r;
	wc.tag.ep4ta = 0; /* linear mappings */
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, &wc, &r), WALK_OK);
	ck_assert_uint_eq(r.guest_refs, 4);
	a.la = LA2;
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, &wc, &r), WALK_OK);
	ck_assert_uint_eq(r.guest_refs, 1);
	ck_assert_uint_eq(r.hpa, G_DATA2 + 0x123);
	/* PD index 4 (2 MiB further) is not mapped: the PDE cache misses, the
	 * PDPTE cache hits, the walk starts at the PD and reads 1 entry, not
	 * present -> #PF. */
	a.la = LA + (UINT64_C(1) << 21);
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, &wc, &r), WALK_PF);
	ck_assert_uint_eq(r.pwc_miss[PWC_GUEST][PWC_PDE], 1);
	ck_assert_uint_eq(r.pwc_hit[PWC_GUEST][PWC_PDPTE], 1);
	ck_assert_uint_eq(r.guest_refs, 1);
}
END_TEST

START_TEST(test_pwc_rights_combined_from_cache)
{
	/* A read-only PDE: the PDE-cache entry carries R/W = 0, so a user
	 * write through a warm walk still faults with P|W|U. */
	build_guest(0);
	mem_write64(&mem, G_PD + 8 * 3, G_PT | (TBL & ~PTE_RW));
	struct paging_ctx c = native_ctx();
	struct mmu_access a = {LA, ACC_READ, true};
	struct walk_caches wc = caches(true, false, false, 0);
	struct walk_result r;
	wc.tag.ep4ta = 0;
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, &wc, &r), WALK_OK);
	a.la = LA2;
	a.kind = ACC_WRITE;
	ck_assert_int_eq(mmu_walk(&mem, &c, &a, &wc, &r), WALK_PF);
	ck_assert_uint_eq(r.pwc_hit[PWC_GUEST][PWC_PDE], 1);
	ck_assert_uint_eq(r.pfec, PFEC_P | PFEC_WR | PFEC_US);
}
END_TEST

/* ---- invalidation through the CPU ---- */

static struct cpu cpu;
static struct sim_params params;
static struct counters ctrs;
static struct vmcs vmcs;

static int stub_zero(void *os, struct cpu *c)
{
	(void)os;
	(void)c;
	return 0;
}

static int stub_next(void *os, struct cpu *c, struct guest_event *ev, char *err)
{
	(void)os;
	(void)c;
	(void)ev;
	(void)err;
	return 0; /* nothing to run */
}

static const struct guest_os_ops stub_ops = {NULL, NULL, NULL, stub_zero, stub_next};

static void cpu_setup(void)
{
	char err[CPU_ERR_LEN];
	ck_assert_int_eq(mem_init(&mem), 0);
	params_defaults(&params);
	params.guest_hz = 0;
	memset(&ctrs, 0, sizeof(ctrs));
	ck_assert_int_eq(cpu_init(&cpu, &params, &mem, &ctrs, err), 0);
	cpu_attach_guest(&cpu, &stub_ops, NULL);
	vmcs_init(&vmcs, 1);
	cpu.vmxon = true;
	cpu.vmcs = &vmcs;
}

static void cpu_teardown(void)
{
	cpu_destroy(&cpu);
	mem_destroy(&mem);
}

/* Put a cache entry for la (or a GPA) into array t with the given tag. */
static void put(struct tlb *t, uint16_t vpid, uint16_t pcid, uint64_t ep4ta, uint64_t addr)
{
	struct tlb_entry e = {
		.vpn = addr >> t->page_shift,
		.pfn = 0x42,
		.ctx = {vpid, pcid, ep4ta},
		.page_shift = t->page_shift,
		.valid = true,
	};
	tlb_insert(t, &e);
}

static bool has(struct tlb *t, uint16_t vpid, uint16_t pcid, uint64_t ep4ta, uint64_t addr)
{
	struct tlb_ctx c = {vpid, pcid, ep4ta};
	return tlb_lookup(t, &c, addr) != NULL;
}

START_TEST(test_pwc_defaults_are_on)
{
	/* Default geometry (params.c): 4/8/32 entries per dimension, 16-entry
	 * nested TLB. */
	ck_assert_ptr_nonnull(cpu.wc.guest[PWC_PDE]);
	ck_assert_ptr_nonnull(cpu.wc.ept[PWC_PML4E]);
	ck_assert_ptr_nonnull(cpu.wc.ntlb);
	ck_assert_uint_eq(cpu.wc.guest[PWC_PML4E]->sets * cpu.wc.guest[PWC_PML4E]->ways, 4);
	ck_assert_uint_eq(cpu.wc.guest[PWC_PDPTE]->sets * cpu.wc.guest[PWC_PDPTE]->ways, 8);
	ck_assert_uint_eq(cpu.wc.guest[PWC_PDE]->sets * cpu.wc.guest[PWC_PDE]->ways, 32);
	ck_assert_uint_eq(cpu.wc.ntlb->sets * cpu.wc.ntlb->ways, 16);
}
END_TEST

START_TEST(test_pwc_zero_entries_is_off)
{
	char err[CPU_ERR_LEN];
	struct cpu c2;
	ck_assert_int_eq(params_set(&params, "pwc.guest.pde.entries=0", err), 0);
	ck_assert_int_eq(params_set(&params, "ntlb.entries=0", err), 0);
	ck_assert_int_eq(params_validate(&params, err), 0);
	ck_assert_int_eq(cpu_init(&c2, &params, &mem, &ctrs, err), 0);
	ck_assert_ptr_null(c2.wc.guest[PWC_PDE]);
	ck_assert_ptr_null(c2.wc.ntlb);
	ck_assert_ptr_nonnull(c2.wc.guest[PWC_PDPTE]);
	cpu_destroy(&c2);
	/* A bad geometry is refused when the cache is on. */
	ck_assert_int_eq(params_set(&params, "pwc.ept.pde.entries=24", err), 0);
	ck_assert_int_eq(params_validate(&params, err), -1);
}
END_TEST

START_TEST(test_pwc_invvpid_single_keeps_other_vpid)
{
	struct tlb *pde = cpu.wc.guest[PWC_PDE], *ept = cpu.wc.ept[PWC_PDE];
	put(pde, 1, 0, 0x900, LA);
	put(pde, 2, 0, 0x900, LA);
	put(ept, 0, 0, 0x900, G_PT);
	/* INVVPID single-context (type 1) for VPID 1: only VPID 1's guest
	 * entry goes; VPID 2's and the guest-physical (EPT) entry stay. */
	ck_assert_int_eq(vmx_invvpid(&cpu, 1, 1, 0), VMX_SUCCEED);
	ck_assert(!has(pde, 1, 0, 0x900, LA));
	ck_assert(has(pde, 2, 0, 0x900, LA));
	ck_assert(has(ept, 0, 0, 0x900, G_PT));
	/* Individual-address (type 0) for VPID 2 at another address drops all
	 * of VPID 2's entries (more than required, allowed). */
	ck_assert_int_eq(vmx_invvpid(&cpu, 0, 2, 0x1000), VMX_SUCCEED);
	ck_assert(!has(pde, 2, 0, 0x900, LA));
	ck_assert(has(ept, 0, 0, 0x900, G_PT));
	/* The VPID-0 flush (VM entry/exit with "enable VPID" = 0) drops VPID 0
	 * guest entries only. */
	put(pde, 0, 0, 0x900, LA);
	put(pde, 3, 0, 0x900, LA);
	cpu_flush_vpid0(&cpu);
	ck_assert(!has(pde, 0, 0, 0x900, LA));
	ck_assert(has(pde, 3, 0, 0x900, LA));
	ck_assert(has(ept, 0, 0, 0x900, G_PT));
}
END_TEST

START_TEST(test_pwc_invept_single_keeps_other_ep4ta)
{
	const uint64_t ep_a = (UINT64_C(0x900000) & PHYS_ADDR_MASK) >> PAGE_SHIFT; /* 0x900 */
	const uint64_t ep_b = 0xa00;
	const uint64_t eptp_a = 0x900000 | EPTP_MT_WB | (UINT64_C(3) << EPTP_WALK_LEN_SHIFT);
	for (int k = 0; k < PWC_LEVELS; k++) {
		put(cpu.wc.ept[k], 0, 0, ep_a, G_PT);
		put(cpu.wc.ept[k], 0, 0, ep_b, G_PT);
	}
	put(cpu.wc.ntlb, 0, 0, ep_a, G_PT);
	put(cpu.wc.ntlb, 0, 0, ep_b, G_PT);
	put(cpu.wc.guest[PWC_PDE], 1, 0, ep_a, LA); /* combined */
	put(cpu.wc.guest[PWC_PDE], 1, 0, ep_b, LA);
	put(cpu.wc.guest[PWC_PDE], 0, 0, 0, LA2);   /* linear (VPID 0): INVEPT keeps it */
	ck_assert_int_eq(vmx_invept(&cpu, 1, eptp_a), VMX_SUCCEED);
	for (int k = 0; k < PWC_LEVELS; k++) {
		ck_assert(!has(cpu.wc.ept[k], 0, 0, ep_a, G_PT));
		ck_assert(has(cpu.wc.ept[k], 0, 0, ep_b, G_PT));
	}
	ck_assert(!has(cpu.wc.ntlb, 0, 0, ep_a, G_PT));
	ck_assert(has(cpu.wc.ntlb, 0, 0, ep_b, G_PT));
	ck_assert(!has(cpu.wc.guest[PWC_PDE], 1, 0, ep_a, LA));
	ck_assert(has(cpu.wc.guest[PWC_PDE], 1, 0, ep_b, LA));
	ck_assert(has(cpu.wc.guest[PWC_PDE], 0, 0, 0, LA2));
	/* VPID operations never touch guest-physical mappings. */
	ck_assert_int_eq(vmx_invvpid(&cpu, 2, 0, 0), VMX_SUCCEED);
	ck_assert(has(cpu.wc.ept[PWC_PDE], 0, 0, ep_b, G_PT));
	ck_assert(has(cpu.wc.ntlb, 0, 0, ep_b, G_PT));
	/* All-context: every EP4TA; linear entries stay. */
	ck_assert_int_eq(vmx_invept(&cpu, 2, 0), VMX_SUCCEED);
	ck_assert_uint_eq(tlb_occupancy(cpu.wc.ept[PWC_PDE]), 0);
	ck_assert_uint_eq(tlb_occupancy(cpu.wc.ntlb), 0);
	ck_assert(has(cpu.wc.guest[PWC_PDE], 0, 0, 0, LA2));
}
END_TEST

START_TEST(test_pwc_invlpg_and_cr3_drop_current_pcid)
{
	struct tlb *pde = cpu.wc.guest[PWC_PDE], *pml4e = cpu.wc.guest[PWC_PML4E];
	/* Native, CR4.PCIDE = 1, current PCID 5. */
	cpu_set_paging(&cpu, CR0_PE | CR0_PG, G_PML4 | 5, CR4_PAE | CR4_PCIDE, EFER_LME | EFER_LMA);
	put(pde, 0, 5, 0, LA);
	put(pml4e, 0, 5, 0, 0);  /* another address: INVLPG drops it too */
	put(pde, 0, 6, 0, LA);   /* another PCID: kept */
	ck_assert_int_eq(cpu_guest_op(&cpu, GOP_INVLPG, LA2, 0), 0);
	ck_assert_int_eq(cpu_run_native(&cpu), RUN_DONE);
	ck_assert(!has(pde, 0, 5, 0, LA));
	ck_assert(!has(pml4e, 0, 5, 0, 0));
	ck_assert(has(pde, 0, 6, 0, LA));
	ck_assert_uint_eq(ctrs.v[CTR_TLB_INVLPG], 1);
	/* MOV to CR3 to PCID 6 without no-flush drops PCID 6's entries; with
	 * no-flush (bit 63) nothing goes. */
	put(pde, 0, 5, 0, LA);
	cpu.halted = false;
	cpu.fe_done = false;
	ck_assert_int_eq(cpu_guest_op(&cpu, GOP_LOAD_CR3, 0, G_PML4 | 6), 0);
	ck_assert_int_eq(cpu_guest_op(&cpu, GOP_LOAD_CR3, 0, CR3_NOFLUSH | G_PML4 | 5), 0);
	ck_assert_int_eq(cpu_run_native(&cpu), RUN_DONE);
	ck_assert_uint_eq(ctrs.v[CTR_TLB_FLUSH_CR3], 1);
	ck_assert(!has(pde, 0, 6, 0, LA));
	ck_assert(has(pde, 0, 5, 0, LA));
}
END_TEST

static Suite *pwc_suite(void)
{
	Suite *s = suite_create("pwc");
	TCase *tc = tcase_create("walk");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pwc_2d_cold_is_24_with_guest_pwc_and_ntlb);
	tcase_add_test(tc, test_pwc_2d_cold_with_ept_pwc_is_12);
	tcase_add_test(tc, test_pwc_2d_neighbour_guest_pwc_only_is_9);
	tcase_add_test(tc, test_pwc_2d_neighbour_guest_and_ept_pwc_is_3);
	tcase_add_test(tc, test_pwc_2d_neighbour_all_caches_is_2);
	tcase_add_test(tc, test_pwc_2d_neighbour_guest_pwc_and_ntlb_is_5);
	tcase_add_test(tc, test_pwc_2d_neighbour_no_caches_is_24);
	tcase_add_test(tc, test_pwc_native_neighbour_is_1_ref);
	tcase_add_test(tc, test_pwc_rights_combined_from_cache);
	suite_add_tcase(s, tc);
	TCase *tc2 = tcase_create("invalidation");
	tcase_add_checked_fixture(tc2, cpu_setup, cpu_teardown);
	tcase_add_test(tc2, test_pwc_defaults_are_on);
	tcase_add_test(tc2, test_pwc_zero_entries_is_off);
	tcase_add_test(tc2, test_pwc_invvpid_single_keeps_other_vpid);
	tcase_add_test(tc2, test_pwc_invept_single_keeps_other_ep4ta);
	tcase_add_test(tc2, test_pwc_invlpg_and_cr3_drop_current_pcid);
	suite_add_tcase(s, tc2);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pwc_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
