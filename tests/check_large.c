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
#include "trace/traceset.h"
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
	struct frontend fe = {event_array_next, &r->fe, NULL};
	ck_assert_msg(machine_init(&r->m, &r->p, mode, &fe, &r->ctr, err) == 0, "%s", err);
	return machine_run(&r->m);
}

static void rig_destroy(struct rig *r)
{
	machine_destroy(&r->m);
}

#define LOAD(a) {GEV_LOAD, 8, (a), 0, 1, 0}
#define STORE(a) {GEV_STORE, 8, (a), 0, 1, 0}
/* An anonymous read/write mmap of len bytes at a (MAP_PRIVATE|MAP_ANONYMOUS). */
#define MMAP_ANON(a, len) {GEV_MMAP, 0, (a), (len), 1, 3 | GEV_MMAP_ANON}
#define MUNMAP(a, len) {GEV_MUNMAP, 0, (a), (len), 1, 0}
/* A 2 MiB-aligned user address (PML4 index 254, PDPT 0, PD 0). */
#define HUGE_VA UINT64_C(0x7f0000000000)
#define MIB (UINT64_C(1) << 20)

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
	struct frontend fe = {event_array_next, &n.fe, NULL};
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


/* ---- stage 2: guest THP and shadow large leaves ------------------------- */

/*
 * guest.thp=always, native: a first touch of a 4 MiB anonymous mmap region
 * (2 MiB aligned) maps a 2 MiB page (do_huge_pmd_anonymous_page).
 * Boot: PML4 zeroed through the 1 GiB direct map (a 2-ref walk, then the
 * 1 GiB DTLB), its kernel PML4E stored. The load: walk 1 ref (PML4E) ->
 * #PF; the handler zeroes the PDPT and the PD and stores PML4E and PDPTE,
 * clears the 512 pages of the 2 MiB frame (512 x guest.page_zero_cycles)
 * and stores one PDE with PS = 1; every kernel access hits the 1 GiB DTLB.
 * The retry walks PML4E, PDPTE, PDE: 3 refs (a cold 2 MiB guest page), and
 * fills the 2 MiB DTLB; a load 1 MiB further hits it. At exit the huge page
 * goes whole: PDE, PDPTE, PML4E cleared (3 stores), frames all freed.
 */
START_TEST(test_large_thp_first_touch_maps_2m_native)
{
	static const struct guest_event ev[] = {MMAP_ANON(HUGE_VA, 4 * MIB), LOAD(HUGE_VA + 0x1234),
						LOAD(HUGE_VA + MIB)};
	struct rig m;
	rig_init(&m, ev, 3, PAGE_SIZE_4K);
	m.p.guest_thp = GUEST_THP_ALWAYS;
	ck_assert_int_eq(rig_run(&m, MODE_NATIVE), RUN_DONE);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PF], 1);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_THP_MAPPED], 1);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PAGES_MAPPED], 0);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PAGES_ZEROED], 1 + 2 + 512);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PT_PAGES], 3);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PTE_WRITES], 1 + 3 + 3);
	ck_assert_uint_eq(m.ctr.v[CTR_WALK_COUNT], 3);
	ck_assert_uint_eq(m.ctr.v[CTR_WALK_GUEST_REFS], 2 + 1 + 3);
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_L1D_MISS], 1 + 2);
	/* kernel: 1 + (2 + 2 + 512 + 1) + 3 = 521 hits on the 1 GiB entry;
	 * the second load hits the 2 MiB entry. */
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_L1D_HIT_1G], 521);
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_L1D_HIT_2M], 1);
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_L1D_HIT], 522);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_THP_UNMAPPED], 1);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PT_PAGES_FREED], 3);
	ck_assert_uint_eq(m.m.os.frames.in_use, 0);
	rig_destroy(&m);

	/* never (the default) maps the same load with 4 KiB pages; madvise
	 * maps 2 MiB only where the region is marked. */
	static const struct guest_event marked[] = {
		{GEV_MMAP, 0, HUGE_VA, 4 * MIB, 1, 3 | GEV_MMAP_ANON | GEV_MMAP_HUGEPAGE}, LOAD(HUGE_VA)};
	struct rig n, a, b;
	rig_init(&n, ev, 2, PAGE_SIZE_4K);
	rig_init(&a, ev, 2, PAGE_SIZE_4K);
	rig_init(&b, marked, 2, PAGE_SIZE_4K);
	a.p.guest_thp = b.p.guest_thp = GUEST_THP_MADVISE;
	ck_assert_int_eq(rig_run(&n, MODE_NATIVE), RUN_DONE);
	ck_assert_int_eq(rig_run(&a, MODE_NATIVE), RUN_DONE);
	ck_assert_int_eq(rig_run(&b, MODE_NATIVE), RUN_DONE);
	ck_assert_uint_eq(n.ctr.v[CTR_GUEST_THP_MAPPED], 0);
	ck_assert_uint_eq(n.ctr.v[CTR_GUEST_PAGES_MAPPED], 1);
	ck_assert_uint_eq(a.ctr.v[CTR_GUEST_THP_MAPPED], 0);
	ck_assert_uint_eq(b.ctr.v[CTR_GUEST_THP_MAPPED], 1);
	rig_destroy(&n);
	rig_destroy(&a);
	rig_destroy(&b);
}
END_TEST

/*
 * A region too small or misaligned for a whole 2 MiB range, and a file
 * mapping, get 4 KiB pages under thp=always.
 */
START_TEST(test_large_thp_needs_a_whole_anonymous_range)
{
	static const struct guest_event ev[] = {
		MMAP_ANON(HUGE_VA + 0x1000, 2 * MIB),                 /* [+4 KiB, +2 MiB + 4 KiB): no whole range */
		LOAD(HUGE_VA + 0x1000),
		{GEV_MMAP, 0, HUGE_VA + 4 * MIB, 4 * MIB, 1, 3}, /* a file mapping */
		LOAD(HUGE_VA + 4 * MIB)};
	struct rig m;
	rig_init(&m, ev, 4, PAGE_SIZE_4K);
	m.p.guest_thp = GUEST_THP_ALWAYS;
	ck_assert_int_eq(rig_run(&m, MODE_NATIVE), RUN_DONE);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_THP_MAPPED], 0);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PAGES_MAPPED], 2);
	rig_destroy(&m);
}
END_TEST

/*
 * munmap of one 4 KiB page inside a huge page splits it first
 * (split_huge_pmd): a new PT (zeroed), 512 PTE stores for the same frames
 * (dirty: the store mapped the huge page dirty), the PDE pointed at the PT,
 * INVLPG of the 2 MiB page; then the page's PTE is cleared, its frame freed
 * and INVLPG'd. The next load elsewhere in the old huge page misses every
 * TLB (the INVLPG removed the 2 MiB entries from the L1 2 MiB DTLB and the
 * STLB) and walks the 4 levels: 4 refs.
 */
START_TEST(test_large_thp_partial_munmap_splits)
{
	static const struct guest_event ev[] = {MMAP_ANON(HUGE_VA, 4 * MIB), STORE(HUGE_VA),
						MUNMAP(HUGE_VA + 0x1000, 0x1000), LOAD(HUGE_VA + 0x2000)};
	struct rig m;
	rig_init(&m, ev, 4, PAGE_SIZE_4K);
	m.p.guest_thp = GUEST_THP_ALWAYS;
	ck_assert_int_eq(rig_run(&m, MODE_NATIVE), RUN_DONE);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_THP_MAPPED], 1);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_THP_SPLIT], 1);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_THP_UNMAPPED], 0);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_INVLPG], 2);
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_INVLPG], 2);
	/* PT pages: PML4, PDPT, PD, the split's PT. */
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PT_PAGES], 4);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PAGES_ZEROED], 1 + 2 + 512 + 1);
	/* Stores: boot 1; fault 3; split 512 + 1; munmap's clear 1; at exit the
	 * other 511 PTEs, then PDE, PDPTE, PML4E = 514. */
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PTE_WRITES], 1 + 3 + 513 + 1 + 514);
	/* Walks: boot 2 refs, store #PF 1, retry 3, the load after the split 4. */
	ck_assert_uint_eq(m.ctr.v[CTR_WALK_COUNT], 4);
	ck_assert_uint_eq(m.ctr.v[CTR_WALK_GUEST_REFS], 2 + 1 + 3 + 4);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PAGES_UNMAPPED], 1 + 511);
	ck_assert_uint_eq(m.m.os.frames.in_use, 0);
	rig_destroy(&m);
}
END_TEST

/*
 * EPT splinters (walk.c, nothing new in the VMM): a 2 MiB guest page.
 * With 2 MiB backing, the first load: boot zeroing 11 refs, the #PF walk
 * 3 + 1 = 4, the zeroing of the huge frame (GPA [2 MiB, 4 MiB), a new
 * range): its first walk 2 + 2 x 3 + 3 = 11 ends in an EPT violation, the
 * VMM backs the range, the retry is 11 refs and the 2 MiB combined entry
 * serves the other 511 zeroings; the retry of the load is a cold 2 MiB
 * guest page under 2 MiB EPT: 3 x (3 + 1) + 3 = 15. A load 1 MiB further
 * then hits the 2 MiB DTLB (0 refs). With 4 KiB backing the combined
 * entries are 4 KiB (splinters): that load walks 3 x (4 + 1) + 4 = 19.
 */
START_TEST(test_large_thp_under_ept_splinters)
{
	static const struct guest_event one[] = {MMAP_ANON(HUGE_VA, 4 * MIB), LOAD(HUGE_VA)};
	static const struct guest_event two[] = {MMAP_ANON(HUGE_VA, 4 * MIB), LOAD(HUGE_VA), LOAD(HUGE_VA + MIB)};
	struct rig r[4];
	for (int i = 0; i < 4; i++) {
		rig_init(&r[i], i & 1 ? two : one, i & 1 ? 3 : 2, i < 2 ? PAGE_SIZE_2M : PAGE_SIZE_4K);
		r[i].p.guest_thp = GUEST_THP_ALWAYS;
		ck_assert_int_eq(rig_run(&r[i], MODE_EPT), RUN_DONE);
	}
#define REFS(x) ((x).ctr.v[CTR_WALK_GUEST_REFS] + (x).ctr.v[CTR_WALK_EPT_REFS])
	ck_assert_uint_eq(REFS(r[0]), 11 + 4 + 11 + 11 + 15);
	ck_assert_uint_eq(r[0].m.cpu.exits[EXIT_REASON_EPT_VIOLATION].count, 1);
	ck_assert_uint_eq(REFS(r[1]) - REFS(r[0]), 0);
	ck_assert_uint_eq(r[1].ctr.v[CTR_TLB_L1D_HIT_2M] - r[0].ctr.v[CTR_TLB_L1D_HIT_2M], 1);
	ck_assert_uint_eq(REFS(r[3]) - REFS(r[2]), 19);
	for (int i = 0; i < 4; i++)
		rig_destroy(&r[i]);
#undef REFS
}
END_TEST

/*
 * Shadow paging of the same 2 MiB guest page. 4 KiB backing: KVM's direct
 * shadow page, a PT of 4 KiB shadow leaves under the guest PDE, and the
 * 512 zeroings of the huge frame through the guest's 1 GiB direct map take
 * 512 hidden faults, each a 4 KiB leaf (plus one direct PT for that 2 MiB
 * of the direct map). 2 MiB backing: the range [2 MiB, 4 MiB) holds no
 * guest page table, so the direct map gets one 2 MiB shadow leaf there (1
 * hidden fault) and the user's page one 2 MiB shadow PDE (no direct PT).
 * Shadow entries written: user 4 (PDPT, PD, direct PT, leaf) vs 3; direct
 * map 1 + 512 vs 1: 513 more with 4 KiB; shadow pages 2 more; hidden
 * faults 511 more.
 */
START_TEST(test_large_thp_shadow_leaves_follow_backing)
{
	static const struct guest_event ev[] = {MMAP_ANON(HUGE_VA, 4 * MIB), LOAD(HUGE_VA + 0x1234)};
	struct rig small, big;
	rig_init(&small, ev, 2, PAGE_SIZE_4K);
	rig_init(&big, ev, 2, PAGE_SIZE_2M);
	small.p.guest_thp = big.p.guest_thp = GUEST_THP_ALWAYS;
	ck_assert_int_eq(rig_run(&small, MODE_SHADOW), RUN_DONE);
	ck_assert_int_eq(rig_run(&big, MODE_SHADOW), RUN_DONE);
	ck_assert_uint_eq(small.ctr.v[CTR_GUEST_THP_MAPPED], 1);
	ck_assert_uint_eq(big.ctr.v[CTR_GUEST_THP_MAPPED], 1);
	ck_assert_uint_eq(small.ctr.v[CTR_VMM_SHADOW_LARGE_LEAVES], 0);
	ck_assert_uint_eq(big.ctr.v[CTR_VMM_SHADOW_LARGE_LEAVES], 2);
	ck_assert_uint_eq(small.ctr.v[CTR_VMM_SHADOW_ENTRY_WRITES] - big.ctr.v[CTR_VMM_SHADOW_ENTRY_WRITES], 513);
	ck_assert_uint_eq(small.ctr.v[CTR_VMM_SHADOW_PAGES] - big.ctr.v[CTR_VMM_SHADOW_PAGES], 2);
	ck_assert_uint_eq(small.ctr.v[CTR_VMM_SHADOW_HIDDEN_FAULTS] - big.ctr.v[CTR_VMM_SHADOW_HIDDEN_FAULTS], 511);
	char err[256];
	ck_assert_msg(shadow_check(&small.m.vmm.smmu, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(shadow_check(&big.m.vmm.smmu, err, sizeof(err)) == 0, "%s", err);
	rig_destroy(&small);
	rig_destroy(&big);
}
END_TEST

/*
 * Under shadow paging with 2 MiB backing, the guest's split of its huge
 * page (INVLPG exits; the PDE store to the write-protected PD is emulated
 * and now points to a PT) leaves no 2 MiB shadow PDE behind: a later load
 * in the old huge page takes one hidden fault, filled with a 4 KiB shadow
 * leaf under a new shadow page (the guest's PT), and no large leaf. The
 * same run without that load is the baseline.
 */
START_TEST(test_large_thp_shadow_split_zaps_the_large_leaf)
{
	static const struct guest_event with[] = {MMAP_ANON(HUGE_VA, 4 * MIB), STORE(HUGE_VA),
						  MUNMAP(HUGE_VA + 0x1000, 0x1000), LOAD(HUGE_VA + 0x2000)};
	struct rig a, c;
	rig_init(&a, with, 4, PAGE_SIZE_2M);
	rig_init(&c, with, 3, PAGE_SIZE_2M);
	a.p.guest_thp = c.p.guest_thp = GUEST_THP_ALWAYS;
	ck_assert_int_eq(rig_run(&a, MODE_SHADOW), RUN_DONE);
	ck_assert_int_eq(rig_run(&c, MODE_SHADOW), RUN_DONE);
	ck_assert_uint_eq(a.ctr.v[CTR_GUEST_THP_SPLIT], 1);
	/* the split's INVLPG of the 2 MiB page and the unmapped page's INVLPG */
	ck_assert_uint_eq(a.m.cpu.exits[EXIT_REASON_INVLPG].count, 2);
	ck_assert_uint_eq(a.ctr.v[CTR_VMM_SHADOW_HIDDEN_FAULTS] - c.ctr.v[CTR_VMM_SHADOW_HIDDEN_FAULTS], 1);
	ck_assert_uint_eq(a.ctr.v[CTR_VMM_SHADOW_PAGES] - c.ctr.v[CTR_VMM_SHADOW_PAGES], 1);
	ck_assert_uint_eq(a.ctr.v[CTR_VMM_SHADOW_LARGE_LEAVES], c.ctr.v[CTR_VMM_SHADOW_LARGE_LEAVES]);
	/* the user's 2 MiB page and the direct map's [2 MiB, 4 MiB) */
	ck_assert_uint_eq(c.ctr.v[CTR_VMM_SHADOW_LARGE_LEAVES], 2);
	char err[256];
	ck_assert_msg(shadow_check(&a.m.vmm.smmu, err, sizeof(err)) == 0, "%s", err);
	rig_destroy(&a);
	rig_destroy(&c);
}
END_TEST

/* The shadow MMU stays consistent on the shipped multi-process trace with
 * large backing and THP (shadow_check: large leaves over whole host blocks,
 * none writable over a shadowed guest table), with and without unsync. */
START_TEST(test_large_shadow_consistent_on_pipeline)
{
	char path[4096], err[256];
	snprintf(path, sizeof(path), "%s/traces/pipeline.d", getenv("VTSIM_SRCDIR"));
	static const unsigned backing[] = {PAGE_SIZE_2M, PAGE_SIZE_1G, PAGE_SIZE_2M};
	for (int i = 0; i < 3; i++) {
		struct traceset *ts = traceset_open(path, err);
		ck_assert_msg(ts != NULL, "%s", err);
		struct proc_source ps;
		traceset_proc_source(ts, &ps);
		struct rig r;
		rig_init(&r, NULL, 0, backing[i]);
		r.p.guest_thp = GUEST_THP_ALWAYS;
		r.p.shadow_unsync = i == 2;
		char cerr[CPU_ERR_LEN];
		ck_assert_msg(machine_init_procs(&r.m, &r.p, MODE_SHADOW, &ps, &r.ctr, cerr) == 0, "%s", cerr);
		ck_assert_int_eq(machine_run(&r.m), RUN_DONE);
		ck_assert_msg(shadow_check(&r.m.vmm.smmu, err, sizeof(err)) == 0, "variant %d: %s", i, err);
		ck_assert_uint_gt(r.ctr.v[CTR_VMM_SHADOW_LARGE_LEAVES], 0);
		rig_destroy(&r);
		traceset_close(ts);
	}
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
	TCase *t2 = tcase_create("stage2");
	tcase_add_test(t2, test_large_thp_first_touch_maps_2m_native);
	tcase_add_test(t2, test_large_thp_needs_a_whole_anonymous_range);
	tcase_add_test(t2, test_large_thp_partial_munmap_splits);
	tcase_add_test(t2, test_large_thp_under_ept_splinters);
	tcase_add_test(t2, test_large_thp_shadow_leaves_follow_backing);
	tcase_add_test(t2, test_large_thp_shadow_split_zaps_the_large_leaf);
	tcase_add_test(t2, test_large_shadow_consistent_on_pipeline);
	suite_add_tcase(s, t2);
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
