/*
 * Large pages end to end (issue 5, item 3): the VMM's 2 MiB / 1 GiB
 * backing (EPT leaves with PS = 1, contiguous host blocks under shadow
 * paging), the TLB arrays per page size, and the refusals. Machines run
 * tiny synthetic event streams; every expected count is worked out by hand
 * in the comment beside it from the model's rules (DESIGN.md, the
 * reference sheet §5-§6, cpu-parameters.md §1/§6).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "arch/exit_reasons.h"
#include "cli/run.h"
#include "cpu/cpu.h"
#include "cpu/vmx.h"
#include "trace/event_array.h"
#include "vmm/vmm.h"

/* A machine (src/cli/run.h) with its parameters, counters and events. */
struct rig {
	struct sim_params p;
	struct counters ctr;
	struct event_array fe;
	struct machine m;
};

/* Defaults, no timer ticks, no paging-structure caches or nested TLB (so
 * every walk reference counts), and the VMM's backing. */
static void rig_init(struct rig *r, const struct guest_event *ev, size_t n, unsigned backing)
{
	memset(r, 0, sizeof(*r));
	params_defaults(&r->p);
	r->p.guest_hz = 0;
	memset(r->p.pwc_entries, 0, sizeof(r->p.pwc_entries));
	r->p.ntlb_entries = 0;
	r->p.vmm_backing = backing;
	r->fe = event_array_of(ev, n);
}

static enum run_status rig_run(struct rig *r, enum sim_mode mode)
{
	char err[CPU_ERR_LEN];
	struct frontend fe = {event_array_next, &r->fe};
	ck_assert_msg(machine_init(&r->m, &r->p, mode, &fe, &r->ctr, err) == 0, "%s", err);
	return machine_run(&r->m);
}

static void rig_destroy(struct rig *r)
{
	machine_destroy(&r->m);
}

#define LOAD(a) {GEV_LOAD, 8, (a), 0, 1, 0}

/*
 * One load under EPT with 2 MiB backing. The guest's frames all lie in
 * GPA [0, 2 MiB): the image pages 0x1000 / 0x2000, then from 1 MiB the
 * PML4 0x100000, PDPT 0x101000, PD 0x102000, PT 0x103000 and the page
 * 0x104000. Loading the image backs [0, 2 MiB) with one PS PDE: EPT tables
 * root + PDPT + PD, entry writes PML4E + PDPTE + the leaf; host frames
 * zeroed 3 + 512. No EPT violation follows.
 * Walks (no PWCs, no nested TLB), each EPT translation 3 refs (PML4E,
 * PDPTE, PS PDE):
 *  - boot, the kernel zeroes the PML4 through its direct map (a 1 GiB
 *    global guest page): 2 guest refs x (3 + 1) + 3 = 11; the combined
 *    translation is min(1 GiB, 2 MiB) = 2 MiB, filled into the 2 MiB DTLB
 *    and the shared STLB, so every later kernel access to [0, 2 MiB) hits
 *    the 2 MiB DTLB;
 *  - load 1: EPT(PML4 page) 3 + PML4E 1 = 4 -> #PF;
 *  - its retry, a cold 4 KiB guest page under 2 MiB EPT:
 *    4 x (3 + 1) + 3 = 19 references.
 * L1 DTLB hits: PML4E store 1, #PF handler 4 zeroings + 4 stores, load 2,
 * 4 clears at exit = 14, of which the 13 kernel accesses hit 2 MiB entries.
 */
START_TEST(test_large_ept_2m_backing_cold_walk_is_19_refs)
{
	static const struct guest_event ev[] = {LOAD(0x401000), LOAD(0x401008)};
	struct rig m;
	rig_init(&m, ev, 2, PAGE_SIZE_2M);
	ck_assert_int_eq(rig_run(&m, MODE_EPT), RUN_DONE);
	ck_assert_uint_eq(m.m.cpu.exits[EXIT_REASON_EPT_VIOLATION].count, 0);
	ck_assert_uint_eq(m.ctr.v[CTR_VMX_EXITS], 1); /* HLT */
	ck_assert_uint_eq(m.ctr.v[CTR_VMM_BACKED_2M], 1);
	ck_assert_uint_eq(m.ctr.v[CTR_VMM_BACKED_1G], 0);
	ck_assert_uint_eq(m.ctr.v[CTR_VMM_EPT_BACKED_PAGES], 0);
	ck_assert_uint_eq(m.ctr.v[CTR_VMM_EPT_TABLE_PAGES], 3);
	ck_assert_uint_eq(m.ctr.v[CTR_VMM_EPT_ENTRY_WRITES], 3);
	ck_assert_uint_eq(m.ctr.v[CTR_VMM_HOST_PAGES_ZEROED], 3 + 512);
	ck_assert_uint_eq(m.ctr.v[CTR_WALK_COUNT], 3);
	ck_assert_uint_eq(m.ctr.v[CTR_WALK_GUEST_REFS], 2 + 1 + 4);
	ck_assert_uint_eq(m.ctr.v[CTR_WALK_EPT_REFS], (2 * 3 + 3) + 3 + (4 * 3 + 3));
	/* the retry alone: */
	ck_assert_uint_eq(4 + 4 * 3 + 3, 19);
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_L1D_MISS], 3);
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_L1D_HIT], 14);
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_L1D_HIT_2M], 13);
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_L2_MISS], 3);
	ck_assert_uint_eq(tlb_occupancy(&m.m.cpu.dtlb2m), 1);
	/* The host zeroing is charged as VMM work: 3 tables + 512 frames of the
	 * block, 1000 cycles each, and 4 allocations of 200 cycles. */
	ck_assert_uint_ge(m.ctr.v[CTR_CPU_CYCLES_VMM], (3 + 512) * 1000 + 4 * 200);
	rig_destroy(&m);
}
END_TEST

/*
 * A second load 2 MiB of linear addresses further (0x601000: another guest
 * PT page) puts the new PT at GPA 0x105000 and its page at 0x106000, 8 KiB
 * after the first page (0x104000). With 4 KiB backing each fresh frame
 * exits once: 5 + 2 = 7 EPT violations. With 2 MiB backing the range is
 * already backed: none.
 */
START_TEST(test_large_ept_2m_backing_neighbour_needs_no_exit)
{
	static const struct guest_event ev[] = {LOAD(0x401000), LOAD(0x601000)};
	struct rig small, big;
	rig_init(&small, ev, 2, PAGE_SIZE_4K);
	rig_init(&big, ev, 2, PAGE_SIZE_2M);
	ck_assert_int_eq(rig_run(&small, MODE_EPT), RUN_DONE);
	ck_assert_int_eq(rig_run(&big, MODE_EPT), RUN_DONE);
	ck_assert_uint_eq(small.m.cpu.exits[EXIT_REASON_EPT_VIOLATION].count, 7);
	ck_assert_uint_eq(small.ctr.v[CTR_VMM_EPT_BACKED_PAGES], 2 + 7);
	ck_assert_uint_eq(big.m.cpu.exits[EXIT_REASON_EPT_VIOLATION].count, 0);
	ck_assert_uint_eq(big.ctr.v[CTR_VMM_BACKED_2M], 1);
	ck_assert_uint_eq(big.ctr.v[CTR_GUEST_PT_PAGES], 5);
	rig_destroy(&small);
	rig_destroy(&big);
}
END_TEST

/*
 * The STLB with and without 2 MiB entries (cpu-parameters.md §1: Skylake
 * shares 4K+2M, Nehalem holds 4K only), with no L1 2 MiB DTLB so that the
 * direct map's 2 MiB translation is cached in the L1 DTLB as 4 KiB
 * fragments. The same run as above: the #PF handler touches 4 new pages of
 * [0, 2 MiB) (PDPT, PD, PT, data page), each an L1 miss.
 *  - tlb.l2.2m=on: the boot walk put the 2 MiB entry in the STLB; each of
 *    the 4 misses hits it (4 STLB hits, 2 MiB, 8 cycles each) and refills a
 *    fragment: still 3 walks.
 *  - tlb.l2.2m=off: the STLB holds fragments only; each miss walks again
 *    (11 refs each: 2 guest + 3 x 3 EPT): 3 + 4 walks.
 */
START_TEST(test_large_stlb_2m_entries_per_profile)
{
	static const struct guest_event ev[] = {LOAD(0x401000), LOAD(0x401008)};
	struct rig on, off;
	rig_init(&on, ev, 2, PAGE_SIZE_2M);
	rig_init(&off, ev, 2, PAGE_SIZE_2M);
	on.p.tlb_l1d_2m_entries = off.p.tlb_l1d_2m_entries = 0;
	off.p.tlb_l2_2m = false;
	ck_assert_int_eq(rig_run(&on, MODE_EPT), RUN_DONE);
	ck_assert_int_eq(rig_run(&off, MODE_EPT), RUN_DONE);
	ck_assert_ptr_null(on.m.cpu.dtlb2m.e);
	ck_assert_int_eq(on.m.cpu.ntlbs, CPU_NTLBS - 1);
	ck_assert_uint_eq(on.ctr.v[CTR_TLB_L2_HIT], 4);
	ck_assert_uint_eq(on.ctr.v[CTR_TLB_L2_HIT_2M], 4);
	ck_assert_uint_eq(on.ctr.v[CTR_CPU_CYCLES_TLB], 4 * 8);
	ck_assert_uint_eq(on.ctr.v[CTR_WALK_COUNT], 3);
	ck_assert_uint_eq(off.ctr.v[CTR_TLB_L2_HIT], 0);
	ck_assert_uint_eq(off.ctr.v[CTR_WALK_COUNT], 3 + 4);
	ck_assert_uint_eq(off.ctr.v[CTR_WALK_EPT_REFS], on.ctr.v[CTR_WALK_EPT_REFS] + 4 * 9);
	ck_assert_uint_eq(off.ctr.v[CTR_WALK_GUEST_REFS], on.ctr.v[CTR_WALK_GUEST_REFS] + 4 * 2);
	rig_destroy(&on);
	rig_destroy(&off);
}
END_TEST

/*
 * 1 GiB backing: [0, 1 GiB) is one PS PDPTE (EPT tables root + PDPT; the
 * EPT walk is 2 refs), so the cold retry costs 4 x (2 + 1) + 2 = 14. The
 * 262144 frames of the block are zeroed. The Nehalem profile (no 1 GiB EPT
 * pages, cpu-parameters.md §4/§6) refuses it at VM set-up with one line.
 */
START_TEST(test_large_ept_1g_backing_and_nehalem_refusal)
{
	static const struct guest_event ev[] = {LOAD(0x401000)};
	struct rig m;
	rig_init(&m, ev, 1, PAGE_SIZE_1G);
	ck_assert_int_eq(rig_run(&m, MODE_EPT), RUN_DONE);
	ck_assert_uint_eq(m.ctr.v[CTR_VMM_BACKED_1G], 1);
	ck_assert_uint_eq(m.ctr.v[CTR_VMM_EPT_TABLE_PAGES], 2);
	ck_assert_uint_eq(m.ctr.v[CTR_VMM_HOST_PAGES_ZEROED], 2 + 262144);
	/* boot zeroing 2 x (2 + 1) + 2 = 8; #PF walk 2 + 1 = 3; retry 14 */
	ck_assert_uint_eq(m.ctr.v[CTR_WALK_GUEST_REFS] + m.ctr.v[CTR_WALK_EPT_REFS], 8 + 3 + 14);
	rig_destroy(&m);

	struct rig n;
	char err[256], cerr[CPU_ERR_LEN];
	rig_init(&n, ev, 1, PAGE_SIZE_4K);
	ck_assert_int_eq(params_set(&n.p, "cpu.profile=nehalem", err), 0);
	ck_assert_int_eq(params_set(&n.p, "vmm.backing=1g", err), 0);
	struct frontend fe = {event_array_next, &n.fe};
	ck_assert_int_eq(machine_init(&n.m, &n.p, MODE_EPT, &fe, &n.ctr, cerr), -1);
	ck_assert_str_eq(cerr, "vmm.backing=1g: this CPU has no 1 GiB EPT pages (IA32_VMX_EPT_VPID_CAP "
			       "0x00000f0106314141 bit 17 clear: ept.1g=off, as on nehalem); use vmm.backing=2m or 4k");
	uint64_t cap;
	ck_assert_int_eq(vmx_root_rdmsr(&n.m.cpu, MSR_IA32_VMX_EPT_VPID_CAP, &cap), 0);
	ck_assert_uint_eq(cap & EPT_CAP_1G, 0);
	ck_assert_uint_ne(cap & EPT_CAP_2M, 0);
	rig_destroy(&n);
	/* 2m is fine there. */
	rig_init(&n, ev, 1, PAGE_SIZE_4K);
	ck_assert_int_eq(params_set(&n.p, "cpu.profile=nehalem", err), 0);
	ck_assert_int_eq(params_set(&n.p, "vmm.backing=2m", err), 0);
	n.p.guest_hz = 0;
	ck_assert_int_eq(rig_run(&n, MODE_EPT), RUN_DONE);
	ck_assert_uint_eq(n.ctr.v[CTR_VMM_BACKED_2M], 1);
	rig_destroy(&n);
}
END_TEST

/*
 * A guest memory whose size is not a multiple of the backing: 1 GiB
 * backing of a 1536 MiB guest backs [0, 1 GiB) with one PS PDPTE, and a
 * frame at GPA 1 GiB + 0x1000 (the second GiB is not whole) with one 2 MiB
 * PS PDE. vmm_guest_write64 follows both leaves.
 */
START_TEST(test_large_ept_tail_of_memory_gets_2m)
{
	struct rig m;
	rig_init(&m, NULL, 0, PAGE_SIZE_1G);
	m.p.guest_mem_mib = 1536;
	ck_assert_int_eq(rig_run(&m, MODE_EPT), RUN_DONE);
	ck_assert_uint_eq(m.ctr.v[CTR_VMM_BACKED_1G], 1);
	const uint64_t gib = UINT64_C(1) << 30;
	ck_assert_int_eq(vmm_guest_write64(&m.m.vmm, gib + 0x1008, 0xabcd), 0);
	ck_assert_uint_eq(m.ctr.v[CTR_VMM_BACKED_2M], 1);
	ck_assert_uint_eq(m.ctr.v[CTR_VMM_BACKED_1G], 1);
	/* Read it back through the EPT as the hardware would. */
	struct ept_result er;
	ck_assert_int_eq(ept_translate(&m.m.mem, m.m.vmm.eptp, MODEL_EPT_VPID_CAP, gib + 0x1008, ACC_READ, &er),
			 WALK_OK);
	ck_assert_uint_eq(er.page_shift, 21);
	ck_assert_uint_eq(mem_read64(&m.m.mem, er.hpa), 0xabcd);
	ck_assert_int_eq(ept_translate(&m.m.mem, m.m.vmm.eptp, MODEL_EPT_VPID_CAP, 0x2000, ACC_READ, &er), WALK_OK);
	ck_assert_uint_eq(er.page_shift, 30);
	rig_destroy(&m);
}
END_TEST

/*
 * Shadow paging with 2 MiB backing: the guest's seven frames in
 * [0, 2 MiB) (image pages and the five of the first fault) are one
 * contiguous host block; the shadow leaves (still 4 KiB, stage 1) point
 * into it and the consistency checker finds every write-protected guest
 * table through the block's reverse map.
 */
START_TEST(test_large_shadow_2m_backing_is_one_block)
{
	static const struct guest_event ev[] = {LOAD(0x401000), LOAD(0x401008)};
	struct rig small, big;
	rig_init(&small, ev, 2, PAGE_SIZE_4K);
	rig_init(&big, ev, 2, PAGE_SIZE_2M);
	ck_assert_int_eq(rig_run(&small, MODE_SHADOW), RUN_DONE);
	ck_assert_int_eq(rig_run(&big, MODE_SHADOW), RUN_DONE);
	ck_assert_uint_eq(small.ctr.v[CTR_VMM_EPT_BACKED_PAGES], 7);
	ck_assert_uint_eq(small.ctr.v[CTR_VMM_BACKED_2M], 0);
	ck_assert_uint_eq(big.ctr.v[CTR_VMM_EPT_BACKED_PAGES], 0);
	ck_assert_uint_eq(big.ctr.v[CTR_VMM_BACKED_2M], 1);
	/* The same exits either way: backing changes no shadow decision. */
	ck_assert_uint_eq(big.ctr.v[CTR_VMX_EXITS], small.ctr.v[CTR_VMX_EXITS]);
	ck_assert_uint_eq(big.ctr.v[CTR_VMM_SHADOW_ENTRY_WRITES], small.ctr.v[CTR_VMM_SHADOW_ENTRY_WRITES]);
	/* 512 frames zeroed for the block instead of 7 single frames. */
	ck_assert_uint_eq(big.ctr.v[CTR_VMM_HOST_PAGES_ZEROED], small.ctr.v[CTR_VMM_HOST_PAGES_ZEROED] - 7 + 512);
	char err[256];
	ck_assert_msg(shadow_check(&big.m.vmm.smmu, err, sizeof(err)) == 0, "%s", err);
	uint64_t hpa;
	ck_assert_int_eq(shadow_gpa_to_hpa(&big.m.vmm.smmu, 0x104008, &hpa), 0);
	uint64_t base;
	ck_assert_int_eq(shadow_gpa_to_hpa(&big.m.vmm.smmu, 0, &base), 0);
	ck_assert_uint_eq(base & ((UINT64_C(1) << 21) - 1), 0); /* naturally aligned */
	ck_assert_uint_eq(hpa, base + 0x104008);
	rig_destroy(&small);
	rig_destroy(&big);
}
END_TEST

/* The large-page parameters of each profile (cpu-parameters.md §1, §4, §6)
 * and the page-size parameter's words. */
START_TEST(test_large_params_per_profile)
{
	struct sim_params p;
	char err[256], v[64];
	params_defaults(&p);
	ck_assert_uint_eq(p.tlb_l1i_2m_entries, 8); /* Skylake ITLB 2M: 8, fully associative */
	ck_assert_uint_eq(p.tlb_l1i_2m_ways, 8);
	ck_assert_uint_eq(p.tlb_l1d_2m_entries, 32);
	ck_assert_uint_eq(p.tlb_l1d_2m_ways, 4);
	ck_assert(p.tlb_l2_2m);
	ck_assert(p.ept_1g);
	ck_assert_uint_eq(p.vmm_backing, PAGE_SIZE_4K);
	ck_assert_int_eq(params_set(&p, "cpu.profile=nehalem", err), 0);
	ck_assert_uint_eq(p.tlb_l1i_2m_entries, 7); /* 0x55: 7, fully associative */
	ck_assert_uint_eq(p.tlb_l1i_2m_ways, 7);
	ck_assert_uint_eq(p.tlb_l1d_2m_entries, 32); /* 0x5A: 32, 4-way */
	ck_assert_uint_eq(p.tlb_l1d_2m_ways, 4);
	ck_assert(!p.tlb_l2_2m); /* 0xCA: 4K only */
	ck_assert(!p.ept_1g);
	ck_assert_int_eq(params_validate(&p, err), 0);
	ck_assert_int_eq(params_set(&p, "cpu.profile=sapphirerapids", err), 0);
	ck_assert_uint_eq(p.tlb_l1i_2m_entries, 32);
	ck_assert_uint_eq(p.tlb_l1i_2m_ways, 8);
	ck_assert_uint_eq(p.tlb_l1d_2m_entries, 32);
	ck_assert(p.tlb_l2_2m);
	ck_assert(p.ept_1g);
	ck_assert_int_eq(params_set(&p, "vmm.backing=1g", err), 0);
	ck_assert_uint_eq(p.vmm_backing, PAGE_SIZE_1G);
	ck_assert_uint_eq(page_size_shift(p.vmm_backing), 30);
	for (size_t i = 0; i < param_count; i++)
		if (!strcmp(param_table[i].name, "vmm.backing")) {
			params_format(&p, &param_table[i], v, sizeof(v));
			ck_assert_str_eq(v, "1g");
		}
	char *json = params_json(&p);
	ck_assert_ptr_nonnull(strstr(json, "\"vmm.backing\":\"1g\""));
	free(json);
	ck_assert_int_eq(params_set(&p, "vmm.backing=2M", err), -1);
	ck_assert_str_eq(err, "parameter vmm.backing: '2M' is not one of 4k/2m/1g");
	ck_assert_int_eq(params_set(&p, "tlb.l1d_2m.entries=24", err), 0);
	ck_assert_int_eq(params_validate(&p, err), -1);
	ck_assert_str_eq(err, "tlb.l1d_2m: 24 entries / 4 ways = 6 sets, not a power of two");
}
END_TEST

static Suite *large_suite(void)
{
	Suite *s = suite_create("large");
	TCase *tc = tcase_create("stage1");
	tcase_add_test(tc, test_large_ept_2m_backing_cold_walk_is_19_refs);
	tcase_add_test(tc, test_large_ept_2m_backing_neighbour_needs_no_exit);
	tcase_add_test(tc, test_large_stlb_2m_entries_per_profile);
	tcase_add_test(tc, test_large_ept_1g_backing_and_nehalem_refusal);
	tcase_add_test(tc, test_large_ept_tail_of_memory_gets_2m);
	tcase_add_test(tc, test_large_shadow_2m_backing_is_one_block);
	tcase_add_test(tc, test_large_params_per_profile);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(large_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
