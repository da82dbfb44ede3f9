/*
 * CPU + guest kernel + VMM tests on tiny synthetic event streams, with
 * every expected count worked out by hand from the model's rules (see the
 * comments at each assertion).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "arch/exit_reasons.h"
#include "arch/paging.h"
#include "arch/vmcs_fields.h"
#include "arch/vmx_controls.h"
#include "cpu/cpu.h"
#include "cpu/vmx.h"
#include "cpu/vmx_caps.h"
#include "cpu/vmx_checks.h"
#include "guest/guest.h"
#include "trace/event_array.h"
#include "trace/traceset.h"
#include "cli/run.h"
#include "vmm/vmm.h"

/* A machine (src/cli/run.h) with its parameters, counters and events. */
struct rig {
	struct sim_params p;
	struct counters ctr;
	struct event_array fe;
	struct machine m;
};

static void rig_init(struct rig *r, const struct guest_event *ev, size_t n)
{
	memset(r, 0, sizeof(*r));
	params_defaults(&r->p);
	r->p.guest_hz = 0; /* no timer ticks unless a test wants them */
	/* No paging-structure caches or nested TLB: the hand-worked counts
	 * below test other behaviour (those caches: tests/check_pwc.c). */
	memset(r->p.pwc_entries, 0, sizeof(r->p.pwc_entries));
	r->p.ntlb_entries = 0;
	/* A flat 12 cycles per paging-structure access wherever its line is
	 * (the cache hierarchy itself: tests/check_cache.c). */
	for (int i = 0; i < 4; i++)
		r->p.cache_cycles[i] = 12;
	r->fe = event_array_of(ev, n);
}

/* Assemble the machine (image loaded, first process queued), not run yet. */
static void rig_start(struct rig *r, enum sim_mode mode)
{
	char err[CPU_ERR_LEN];
	struct frontend fe = {event_array_next, &r->fe, NULL};
	ck_assert_int_eq(machine_init(&r->m, &r->p, mode, &fe, &r->ctr, err), 0);
}

static enum run_status rig_run(struct rig *r, enum sim_mode mode)
{
	rig_start(r, mode);
	return machine_run(&r->m);
}

static void rig_destroy(struct rig *r)
{
	machine_destroy(&r->m);
}

#define LOAD(a) {GEV_LOAD, 8, (a), 0, 1, 0}
#define STORE(a) {GEV_STORE, 8, (a), 0, 1, 0}

START_TEST(test_cpu_native_fault_then_tlb_hit)
{
	static const struct guest_event ev[] = {LOAD(0x401000), LOAD(0x401008)};
	struct rig m;
	rig_init(&m, ev, 2);
	ck_assert_int_eq(rig_run(&m, MODE_NATIVE), RUN_DONE);
	/* Boot: the bootloader put swapper_pg_dir (PML4 0x1000 -> PDPT 0x2000,
	 * 1 GiB direct-map pages) in memory. The kernel zeroes the new PML4
	 * (GPA 0x100000) through the direct map: L1/L2 miss, a 2-ref walk to the
	 * global 1 GiB page, filled into the 1 GiB DTLB; its store of the kernel
	 * PML4E hits; the MOV to CR3 keeps the global entry.
	 * Load 1: miss, walk stops at the empty PML4E (1 ref) -> #PF; the kernel's
	 * 4 zeroings and 4 stores (PDPT, PD, PT, page) all hit the 1 GiB entry;
	 * the retry misses and walks 4 refs. Load 2 hits. Exit: 4 stores clear
	 * PTE, PDE, PDPTE, PML4E (hits), then CR3 goes back to swapper_pg_dir. */
	ck_assert_uint_eq(m.ctr.v[CTR_WALK_COUNT], 3);
	ck_assert_uint_eq(m.ctr.v[CTR_WALK_GUEST_REFS], 2 + 1 + 4);
	ck_assert_uint_eq(m.ctr.v[CTR_WALK_EPT_REFS], 0);
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_L1D_MISS], 3);
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_L2_MISS], 3);
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_L1D_HIT], 1 + 8 + 1 + 4);
	ck_assert_uint_eq(m.ctr.v[CTR_MEM_REFS_LOAD], 2);
	ck_assert_uint_eq(m.ctr.v[CTR_MEM_REFS_KERNEL], 2 + 8 + 4);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PF], 1);
	/* PML4 at boot + PDPT + PD + PT = 4 table pages; 1 data page; every one
	 * zeroed; stores: kernel PML4E, 4 entries, 4 clears at exit. */
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PT_PAGES], 4);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PAGES_MAPPED], 1);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PTE_WRITES], 1 + 4 + 4);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PAGES_ZEROED], 5);
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_FLUSH_CR3], 2);
	ck_assert_uint_eq(m.ctr.v[CTR_VMX_EXITS], 0);
	/* Cycles: 7 walk refs x 12, one PF 1500, 5 zeroings x 1000, 9 stores x 12. */
	ck_assert_uint_eq(m.m.cpu.cycles, 7 * 12 + 1500 + 5 * 1000 + 9 * 12);
	/* The guest kernel's part by what it was doing: the #PF handler (entry,
	 * 4 zeroings, 4 entry stores); process events (the new PML4 zeroed,
	 * its kernel PML4E stored, the 4 clears at exit); no ticks. */
	ck_assert_uint_eq(m.ctr.v[CTR_CPU_CYCLES_GUEST_KERNEL_PF], 1500 + 4 * 1000 + 4 * 12);
	ck_assert_uint_eq(m.ctr.v[CTR_CPU_CYCLES_GUEST_KERNEL_PROC], 1000 + 1 * 12 + 4 * 12);
	ck_assert_uint_eq(m.ctr.v[CTR_CPU_CYCLES_GUEST_KERNEL_TICK], 0);
	ck_assert_uint_eq(m.ctr.v[CTR_CPU_CYCLES_GUEST_KERNEL], 1500 + 5 * 1000 + 9 * 12);
	rig_destroy(&m);
}
END_TEST

/* 5-level paging (guest.paging_levels = 5, the sapphirerapids profile): the
 * same two loads as test_cpu_native_fault_then_tlb_hit. Boot: the kernel
 * zeroes the new PML5 through the direct map, a 3-ref walk (PML5E -> the
 * kernel PML4 at 0x3000 -> PDPT 1 GiB leaf); its store of the kernel PML5E
 * hits. Load 1: the walk stops at the empty PML5E (1 ref) -> #PF; the
 * kernel zeroes and links a PML4, PDPT, PD and PT and the page (5 zeroings,
 * 5 stores); the retry walks 5 refs. Load 2 hits. Exit: 5 clears. */
START_TEST(test_cpu_native_la57_fault_then_tlb_hit)
{
	static const struct guest_event ev[] = {LOAD(0x401000), LOAD(0x401008)};
	char err[256];
	struct rig m;
	rig_init(&m, ev, 2);
	ck_assert_int_eq(params_set(&m.p, "cpu.profile=sapphirerapids", err), 0);
	ck_assert_int_eq(params_set(&m.p, "guest.paging_levels=5", err), 0);
	m.p.guest_hz = 0;
	memset(m.p.pwc_entries, 0, sizeof(m.p.pwc_entries));
	m.p.ntlb_entries = 0;
	for (int i = 0; i < 4; i++)
		m.p.cache_cycles[i] = 12;
	ck_assert_int_eq(params_validate(&m.p, err), 0);
	ck_assert_int_eq(rig_run(&m, MODE_NATIVE), RUN_DONE);
	ck_assert_uint_eq(m.m.cpu.cr4 & CR4_LA57, CR4_LA57);
	ck_assert_uint_eq(m.ctr.v[CTR_WALK_COUNT], 3);
	ck_assert_uint_eq(m.ctr.v[CTR_WALK_GUEST_REFS], 3 + 1 + 5);
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_L1D_HIT], 1 + 10 + 1 + 5);
	ck_assert_uint_eq(m.ctr.v[CTR_MEM_REFS_KERNEL], 2 + 10 + 5);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PT_PAGES], 5);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PAGES_ZEROED], 6);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PTE_WRITES], 1 + 5 + 5);
	ck_assert_uint_eq(m.m.cpu.cycles, 9 * 12 + 1500 + 6 * 1000 + 11 * 12);
	rig_destroy(&m);
}
END_TEST

/* A 5-level guest under shadow paging and under 5-level EPT runs to the
 * end with the same guest-visible counts: the shadow tables mirror the 5
 * levels (the consistency check passes, roots are level-5 shadow pages)
 * and the VMM's EPTP has walk length 5 (EPTP[5:3] = 4). The 35-reference
 * cold 5 x 5 walk itself is tests/check_walk.c's. */
START_TEST(test_cpu_la57_shadow_and_5level_ept)
{
	static const struct guest_event ev[] = {LOAD(0x401000), STORE(0x7f0000001000), LOAD(0x401008)};
	char err[256];
	for (int mode = MODE_SHADOW; mode <= MODE_EPT; mode++) {
		struct rig m;
		rig_init(&m, ev, 3);
		ck_assert_int_eq(params_set(&m.p, "cpu.profile=sapphirerapids", err), 0);
		ck_assert_int_eq(params_set(&m.p, "guest.paging_levels=5", err), 0);
		ck_assert_int_eq(params_set(&m.p, "ept.levels=5", err), 0);
		m.p.guest_hz = 0;
		ck_assert_int_eq(params_validate(&m.p, err), 0);
		ck_assert_int_eq(rig_run(&m, (enum sim_mode)mode), RUN_DONE);
		ck_assert_uint_eq(m.ctr.v[CTR_MEM_REFS_LOAD], 2);
		ck_assert_uint_eq(m.ctr.v[CTR_MEM_REFS_STORE], 1);
		ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PF], 2);
		if (mode == MODE_SHADOW) {
			ck_assert_msg(shadow_check(&m.m.vmm.smmu, err, sizeof(err)) == 0, "%s", err);
			ck_assert_int_eq(m.m.vmm.smmu.levels, 5);
		} else {
			ck_assert_uint_eq((m.m.vmm.eptp & EPTP_WALK_LEN_MASK) >> EPTP_WALK_LEN_SHIFT, 4);
			ck_assert_int_eq(m.m.vmm.ept_levels, 5);
		}
		rig_destroy(&m);
	}
}
END_TEST

/* Nehalem has no 1 GiB DTLB (tlb.l1d_1g.entries = 0): the same two loads
 * as above, but every 1 GiB direct-map translation is cached as a 4 KiB
 * fragment in the L1 DTLB and the L2 TLB, so each new kernel page walks. */
START_TEST(test_cpu_no_1g_array_caches_4k_fragments)
{
	static const struct guest_event ev[] = {LOAD(0x401000), LOAD(0x401008)};
	struct rig m;
	rig_init(&m, ev, 2);
	m.p.tlb_l1d_1g_entries = 0;
	ck_assert_int_eq(rig_run(&m, MODE_NATIVE), RUN_DONE);
	ck_assert_int_eq(m.m.cpu.ntlbs, CPU_NTLBS - 1);
	ck_assert_ptr_null(m.m.cpu.dtlb1g.e);
	/* The 3 walks of the test above, plus one 2-ref walk of the direct map
	 * for each new kernel page the fault zeroes (PDPT, PD, PT, data page):
	 * its 4 zeroings miss instead of hitting the 1 GiB entry. */
	ck_assert_uint_eq(m.ctr.v[CTR_WALK_COUNT], 3 + 4);
	ck_assert_uint_eq(m.ctr.v[CTR_WALK_GUEST_REFS], 2 + 1 + 4 + 4 * 2);
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_L1D_MISS], 3 + 4);
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_L2_MISS], 3 + 4);
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_L1D_HIT], 1 + 4 + 1 + 4);
	ck_assert_uint_eq(m.m.cpu.cycles, 15 * 12 + 1500 + 5 * 1000 + 9 * 12);
	rig_destroy(&m);
}
END_TEST

/* Each profile sets the values of cpu-parameters.md §6 (docs/parameters.md). */
START_TEST(test_params_profiles_set_documented_values)
{
	struct sim_params p;
	char err[256];

	ck_assert_int_eq(params_set(&p, "cpu.profile=nehalem", err), 0);
	ck_assert_int_eq(params_validate(&p, err), 0);
	ck_assert_str_eq(cpu_profiles[p.cpu_profile].name, "nehalem");
	ck_assert_uint_eq(p.cpu_freq_mhz, 2670);
	ck_assert_uint_eq(p.tlb_l1i_entries, 64);
	ck_assert_uint_eq(p.tlb_l1i_ways, 4);
	ck_assert_uint_eq(p.tlb_l1d_entries, 64);
	ck_assert_uint_eq(p.tlb_l1d_ways, 4);
	ck_assert_uint_eq(p.tlb_l1d_1g_entries, 0);
	ck_assert_uint_eq(p.tlb_l2_entries, 512);
	ck_assert_uint_eq(p.tlb_l2_ways, 4);
	ck_assert_uint_eq(p.tlb_l2_hit_cycles, 7);
	ck_assert_uint_eq(p.pwc_entries[0][0], 4);
	ck_assert_uint_eq(p.pwc_entries[0][1], 4);
	ck_assert_uint_eq(p.pwc_entries[0][2], 32);
	ck_assert_uint_eq(p.pwc_entries[1][0], 4);
	ck_assert_uint_eq(p.pwc_entries[1][1], 4);
	ck_assert_uint_eq(p.pwc_entries[1][2], 32);
	ck_assert_uint_eq(p.cache_kib[0], 32);
	ck_assert_uint_eq(p.cache_ways[1], 8);
	ck_assert_uint_eq(p.cache_cycles[1], 10);
	ck_assert_uint_eq(p.cache_cycles[3], 181);
	ck_assert(!p.ept_ad);
	ck_assert_uint_eq(p.vmx_roundtrip_cycles, 950);
	ck_assert_uint_eq(p.guest_hz, 250); /* not in the profile: the default */

	ck_assert_int_eq(params_set(&p, "cpu.profile=sapphirerapids", err), 0);
	ck_assert_int_eq(params_validate(&p, err), 0);
	ck_assert_str_eq(cpu_profiles[p.cpu_profile].name, "sapphirerapids");
	ck_assert_uint_eq(p.cpu_freq_mhz, 3800);
	ck_assert_uint_eq(p.tlb_l1i_entries, 256);
	ck_assert_uint_eq(p.tlb_l1i_ways, 8);
	ck_assert_uint_eq(p.tlb_l1d_entries, 64);
	ck_assert_uint_eq(p.tlb_l1d_ways, 4);
	ck_assert_uint_eq(p.tlb_l1d_1g_entries, 8);
	ck_assert_uint_eq(p.tlb_l1d_1g_ways, 8);
	ck_assert_uint_eq(p.tlb_l2_entries, 2048);
	ck_assert_uint_eq(p.tlb_l2_ways, 16);
	ck_assert_uint_eq(p.tlb_l2_hit_cycles, 8);
	ck_assert_uint_eq(p.pwc_entries[0][0], 4);
	ck_assert_uint_eq(p.pwc_entries[0][1], 8);
	ck_assert_uint_eq(p.pwc_entries[0][2], 32);
	ck_assert_uint_eq(p.pwc_entries[1][1], 8);
	ck_assert_uint_eq(p.cache_kib[0], 48);
	ck_assert_uint_eq(p.cache_ways[0], 12);
	ck_assert_uint_eq(p.cache_kib[2], 107520);
	ck_assert_uint_eq(p.cache_ways[2], 15);
	ck_assert_uint_eq(p.cache_cycles[1], 16);
	ck_assert(p.ept_ad);
	ck_assert_uint_eq(p.vmx_roundtrip_cycles, 500);

	/* A later --set overrides the profile; a profile resets earlier sets. */
	ck_assert_int_eq(params_set(&p, "cache.l2.cycles=40", err), 0);
	ck_assert_uint_eq(p.cache_cycles[1], 40);
	ck_assert_uint_eq(p.tlb_l2_entries, 2048);
	ck_assert_int_eq(params_set(&p, "cpu.profile=sapphirerapids", err), 0);
	ck_assert_uint_eq(p.cache_cycles[1], 16);

	ck_assert_int_eq(params_set(&p, "cpu.profile=zen4", err), -1);
	ck_assert_str_eq(err, "unknown profile 'zen4'; available: nehalem, skylake, sapphirerapids");

	/* Every profile entry names a parameter, parses and carries a source. */
	for (size_t k = 0; k < cpu_profile_count; k++)
		for (size_t i = 0; i < cpu_profiles[k].count; i++) {
			char a[128];
			snprintf(a, sizeof(a), "%s=%s", cpu_profiles[k].values[i].param, cpu_profiles[k].values[i].value);
			ck_assert_msg(params_set(&p, a, err) == 0, "%s: %s", cpu_profiles[k].name, err);
			ck_assert(cpu_profiles[k].values[i].source && *cpu_profiles[k].values[i].source);
		}
	char *json;
	ck_assert_int_eq(params_set(&p, "cpu.profile=nehalem", err), 0);
	json = params_json(&p);
	ck_assert_ptr_nonnull(strstr(json, "\"cpu.profile\":\"nehalem\""));
	free(json);
}
END_TEST

/* skylake is the defaults, field by field, so earlier results stay valid. */
START_TEST(test_params_skylake_is_the_defaults)
{
	struct sim_params d, p;
	char err[256];

	params_defaults(&d);
	ck_assert_int_eq(params_set(&p, "cpu.profile=skylake", err), 0);
	for (size_t i = 0; i < param_count; i++) {
		char a[64], b[64];
		params_format(&d, &param_table[i], a, sizeof(a));
		params_format(&p, &param_table[i], b, sizeof(b));
		ck_assert_msg(!strcmp(a, b), "%s: default %s, skylake %s", param_table[i].name, a, b);
	}
	ck_assert_int_eq(memcmp(&d, &p, sizeof(d)), 0);
	/* and every value the skylake table lists is the default text */
	const struct cpu_profile *sk = params_find_profile("skylake");
	ck_assert_ptr_nonnull(sk);
	for (size_t i = 0; i < sk->count; i++)
		for (size_t j = 0; j < param_count; j++)
			if (!strcmp(param_table[j].name, sk->values[i].param))
				ck_assert_str_eq(param_table[j].def, sk->values[i].value);
}
END_TEST

START_TEST(test_cpu_ept_first_touch_exits)
{
	static const struct guest_event ev[] = {LOAD(0x401000), LOAD(0x401008)};
	struct rig m;
	rig_init(&m, ev, 2);
	ck_assert_int_eq(rig_run(&m, MODE_EPT), RUN_DONE);
	/* The VMM loaded the image (GPA pages 0x1000, 0x2000: backed before
	 * launch). Each fresh guest frame is then first touched by the kernel
	 * zeroing it: PML4, PDPT, PD, PT, data page = 5 EPT violations, then HLT. */
	ck_assert_uint_eq(m.m.cpu.exits[EXIT_REASON_EPT_VIOLATION].count, 5);
	ck_assert_uint_eq(m.m.cpu.exits[EXIT_REASON_HLT].count, 1);
	ck_assert_uint_eq(m.ctr.v[CTR_VMX_EXITS], 6);
	ck_assert_uint_eq(m.ctr.v[CTR_VMX_ENTRIES], 6); /* VMLAUNCH + 5 VMRESUME */
	/* Kernel zeroing of a fresh frame: a 2D walk of the direct map (2 guest
	 * refs, 3 x 4 EPT refs) that faults on the last EPT PTE, and the same
	 * walk again after the VMM backed it; the combined mapping is 4 KiB
	 * (1 GiB guest page, 4 KiB EPT page), so each new frame walks. 5 frames
	 * = 10 walks; the kernel's stores then hit. Load 1: EPT(PML4 page) 4 +
	 * PML4E 1 -> #PF; the retry is a cold 4 x 4 walk: 4 + 20. */
	ck_assert_uint_eq(m.ctr.v[CTR_WALK_COUNT], 10 + 2);
	ck_assert_uint_eq(m.ctr.v[CTR_WALK_GUEST_REFS], 10 * 2 + 1 + 4);
	ck_assert_uint_eq(m.ctr.v[CTR_WALK_EPT_REFS], 10 * 12 + 4 + 20);
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_L1D_MISS], 12);
	/* hits: kernel PML4E store, 4 entry stores, load 2, 4 clears at exit */
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_L1D_HIT], 1 + 4 + 1 + 4);
	/* The VMM backs 2 image pages + 5 frames; EPT tables: root + PDPT + PD
	 * + PT (all GPAs below 2 MiB share one EPT PT). Entry writes: 3 table
	 * entries + 7 leaves. */
	ck_assert_uint_eq(m.ctr.v[CTR_VMM_EPT_BACKED_PAGES], 7);
	ck_assert_uint_eq(m.ctr.v[CTR_VMM_EPT_TABLE_PAGES], 4);
	ck_assert_uint_eq(m.ctr.v[CTR_VMM_EPT_ENTRY_WRITES], 10);
	/* VPID on: no flushes at transitions. */
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_FLUSH_VPID], 0);
	/* HLT costs the round trip 630 + dispatch 300. */
	ck_assert_uint_eq(m.m.cpu.exits[EXIT_REASON_HLT].cycles, 630 + 300);
	rig_destroy(&m);
}
END_TEST

START_TEST(test_cpu_vpid_off_flushes_on_every_transition)
{
	static const struct guest_event ev[] = {LOAD(0x401000), LOAD(0x401008)};
	struct rig m;
	rig_init(&m, ev, 2);
	m.p.vmx_vpid = false;
	ck_assert_int_eq(rig_run(&m, MODE_EPT), RUN_DONE);
	/* 6 entries and 6 exits, each flushing VPID 0. */
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_FLUSH_VPID], 12);
	/* As with VPID (144 EPT refs), plus what the flushes throw away: after
	 * each of the 4 exits while the fault of load 1 is handled, the next
	 * kernel store misses its (4 KiB, combined) direct-map entry and walks
	 * again (12 EPT refs each); at exit, 3 of the 4 clears miss (12 each). */
	ck_assert_uint_eq(m.ctr.v[CTR_WALK_EPT_REFS], 144 + 4 * 12 + 3 * 12);
	rig_destroy(&m);
}
END_TEST

START_TEST(test_cpu_vpid_off_loses_translations_across_exits)
{
	/* A, then B (a new page: one EPT violation while zeroing it), then A
	 * again. With VPID the translations survive the exits; without, every
	 * transition flushed VPID 0 and they are walked again. */
	static const struct guest_event ev[] = {LOAD(0x401000), LOAD(0x402000), LOAD(0x401008)};
	struct rig on, off;
	rig_init(&on, ev, 3);
	rig_init(&off, ev, 3);
	off.p.vmx_vpid = false;
	ck_assert_int_eq(rig_run(&on, MODE_EPT), RUN_DONE);
	ck_assert_int_eq(rig_run(&off, MODE_EPT), RUN_DONE);
	/* Both: 5 EPT violations for A's tables and page, 1 for B's page. */
	ck_assert_uint_eq(on.m.cpu.exits[EXIT_REASON_EPT_VIOLATION].count, 6);
	ck_assert_uint_eq(off.m.cpu.exits[EXIT_REASON_EPT_VIOLATION].count, 6);
	/* With VPID: the 12 walks of the previous test, then B: #PF walk, its
	 * page's zeroing (2 walks), the retry = 16; A again hits.
	 * Without: 4 more kernel-store walks while A's fault is handled (16 so
	 * far), B's #PF walk, zeroing (2), its PTE store (flushed: 1), the
	 * retry (1), A again (flushed: 1), and 3 of the 4 clears at exit = 25. */
	ck_assert_uint_eq(on.ctr.v[CTR_WALK_COUNT], 16);
	ck_assert_uint_eq(off.ctr.v[CTR_WALK_COUNT], 25);
	ck_assert_uint_eq(off.ctr.v[CTR_TLB_FLUSH_VPID], 2 * 7);
	rig_destroy(&on);
	rig_destroy(&off);
}
END_TEST

START_TEST(test_cpu_munmap_invalidates_and_frees_tables)
{
	struct guest_event ev[] = {STORE(0x401000), {GEV_MUNMAP, 0, 0x401000, 0x1000, 1, 0}, LOAD(0x401000)};
	struct rig m;
	rig_init(&m, ev, 3);
	ck_assert_int_eq(rig_run(&m, MODE_NATIVE), RUN_DONE);
	/* munmap clears the PTE, frees the page, then the PT, PD and PDPT that
	 * became empty, and issues one INVLPG. The load faults again and the
	 * guest rebuilds the three tables and the page. */
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_INVLPG], 1);
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_INVLPG], 1);
	/* CR3 loads: boot, and one full flush when the exiting process's
	 * address space is torn down. */
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_FLUSH_CR3], 2);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PF], 2);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PAGES_UNMAPPED], 2); /* munmap + exit */
	/* Freed: PT, PD, PDPT at munmap; PT, PD, PDPT, PML4 at exit. */
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PT_PAGES_FREED], 3 + 4);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PT_PAGES], 1 + 3 + 3);
	ck_assert_uint_eq(m.m.os.frames.in_use, 0);
	rig_destroy(&m);
}
END_TEST

START_TEST(test_cpu_timer_ticks_exit_and_inject)
{
	static const struct guest_event ev[] = {LOAD(0x401000), LOAD(0x401008)};
	struct rig m;
	rig_init(&m, ev, 2);
	m.p.guest_hz = 100;
	m.p.cpu_freq_mhz = 1; /* a tick every 10000 cycles */
	ck_assert_int_eq(rig_run(&m, MODE_EPT), RUN_DONE);
	uint64_t ticks = m.m.cpu.exits[EXIT_REASON_EXTERNAL_INTERRUPT].count;
	ck_assert_uint_gt(ticks, 0);
	/* Every host tick exits and the VMM injects the guest's timer, which the
	 * guest kernel handles after the next VM entry. */
	ck_assert_uint_eq(m.ctr.v[CTR_VMX_INJECTED_EVENTS], ticks);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_TIMER_TICKS], ticks);
	/* At most one tick per period of the run (missed periods coalesce). */
	ck_assert_uint_le(ticks, m.m.cpu.cycles / 10000);
	/* Each costs the round trip, dispatch, and the host's tick handler. */
	ck_assert_uint_eq(m.m.cpu.exits[EXIT_REASON_EXTERNAL_INTERRUPT].cycles, ticks * (630 + 300 + 2000));
	rig_destroy(&m);
}
END_TEST

START_TEST(test_cpu_munmap_flushes_the_gathered_span)
{
	/* Two pages 10 pages apart unmapped in one munmap: Linux flushes the span
	 * they gather, 11 pages, page by page (below the ceiling of 33). */
	struct guest_event ev[] = {STORE(0x401000), STORE(0x40b000), {GEV_MUNMAP, 0, 0x400000, 0x100000, 1, 0}};
	struct rig m;
	rig_init(&m, ev, 3);
	ck_assert_int_eq(rig_run(&m, MODE_NATIVE), RUN_DONE);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_INVLPG], 11);
	/* CR3 loads: boot only; at exit nothing is left mapped, so nothing to flush. */
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_FLUSH_CR3], 1);
	rig_destroy(&m);
	/* With the ceiling at 10 pages the same munmap reloads CR3 instead. */
	rig_init(&m, ev, 3);
	m.p.guest_tlb_flush_ceiling = 10;
	ck_assert_int_eq(rig_run(&m, MODE_NATIVE), RUN_DONE);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_INVLPG], 0);
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_FLUSH_CR3], 2);
	rig_destroy(&m);
}
END_TEST

START_TEST(test_cpu_bad_addresses_stop_the_run)
{
	static const struct guest_event noncanon[] = {LOAD(UINT64_C(0x0000800000000000))};
	static const struct guest_event kernel_half[] = {LOAD(UINT64_C(0xffffffffff600000))};
	struct rig m;
	rig_init(&m, noncanon, 1);
	ck_assert_int_eq(rig_run(&m, MODE_NATIVE), RUN_ERROR);
	ck_assert_ptr_nonnull(strstr(m.m.cpu.err, "non-canonical GVA 0x800000000000"));
	rig_destroy(&m);
	rig_init(&m, kernel_half, 1);
	ck_assert_int_eq(rig_run(&m, MODE_NATIVE), RUN_ERROR);
	ck_assert_ptr_nonnull(strstr(m.m.cpu.err, "kernel-half GVA 0xffffffffff600000"));
	rig_destroy(&m);
}
END_TEST

/* The CPU follows the VMCS, not the VMM's habits: controls the EPT VMM
 * does not set still make the exits the SDM says, and the VMM, which does
 * not handle them under EPT, stops the run with an error. */
START_TEST(test_cpu_exits_follow_vmcs_controls)
{
	static const struct guest_event ev[] = {LOAD(0x401000)};
	struct rig m;
	uint64_t v;
	/* #PF intercepted through the exception bitmap (mask = match = 0). */
	rig_init(&m, ev, 1);
	rig_start(&m, MODE_EPT);
	ck_assert_int_eq(vmx_write(&m.m.cpu, VMCS_EXCEPTION_BITMAP, 1u << 14), VMX_SUCCEED);
	ck_assert_int_eq(machine_run(&m.m), RUN_ERROR);
	ck_assert_ptr_nonnull(strstr(m.m.cpu.err, "exception exit with interruption info 0x80000b0e not handled"));
	vmx_read(&m.m.cpu, VMCS_EXIT_QUALIFICATION, &v);
	ck_assert_uint_eq(v, 0x401000);
	vmx_read(&m.m.cpu, VMCS_VM_EXIT_INTR_INFO, &v);
	ck_assert_uint_eq(v, 0x80000b0e); /* valid, error code, hardware exception, vector 14 */
	vmx_read(&m.m.cpu, VMCS_VM_EXIT_INTR_ERROR_CODE, &v);
	ck_assert_uint_eq(v, 0x4); /* user read of a not-present page */
	rig_destroy(&m);

	/* CR3-load exiting: the guest's boot-time MOV to CR3 exits with reason
	 * 28, qualification 3 (CR3, MOV to CR, RAX), the value in RAX and an
	 * instruction length of 3. */
	rig_init(&m, ev, 1);
	rig_start(&m, MODE_EPT);
	vmx_read(&m.m.cpu, VMCS_CPU_BASED_VM_EXEC_CONTROL, &v);
	vmx_write(&m.m.cpu, VMCS_CPU_BASED_VM_EXEC_CONTROL, v | CPU_CR3_LOAD_EXITING);
	ck_assert_int_eq(machine_run(&m.m), RUN_ERROR);
	ck_assert_ptr_nonnull(strstr(m.m.cpu.err, "CR access exit (CR3, type 0) not handled"));
	vmx_read(&m.m.cpu, VMCS_EXIT_QUALIFICATION, &v);
	ck_assert_uint_eq(v, 3);
	/* Decoded as reference sheet §3.1 says: CR 3, access type 0 (MOV to CR),
	 * register 0 (RAX), which holds the new CR3. */
	ck_assert_uint_eq(v & 0xf, 3);
	ck_assert_uint_eq((v >> 4) & 3, 0);
	ck_assert_uint_eq((v >> 8) & 0xf, 0);
	ck_assert_uint_eq(m.m.cpu.gpr[0], m.m.os.proc.pml4);
	vmx_read(&m.m.cpu, VMCS_VM_EXIT_INSTRUCTION_LEN, &v);
	ck_assert_uint_eq(v, 3);
	rig_destroy(&m);

	/* INVLPG exiting: the munmap's INVLPG exits with reason 14, the linear
	 * address as qualification (§3.3) and an instruction length of 3. */
	{
		struct guest_event unmap[] = {STORE(0x401000), {GEV_MUNMAP, 0, 0x401000, 0x1000, 1, 0}};
		struct rig i;
		rig_init(&i, unmap, 2);
		rig_start(&i, MODE_EPT);
		vmx_read(&i.m.cpu, VMCS_CPU_BASED_VM_EXEC_CONTROL, &v);
		vmx_write(&i.m.cpu, VMCS_CPU_BASED_VM_EXEC_CONTROL, v | CPU_INVLPG_EXITING);
		ck_assert_int_eq(machine_run(&i.m), RUN_ERROR);
		ck_assert_ptr_nonnull(strstr(i.m.cpu.err, "INVLPG exit under EPT"));
		vmx_read(&i.m.cpu, VMCS_EXIT_REASON, &v);
		ck_assert_uint_eq(v, 14);
		vmx_read(&i.m.cpu, VMCS_EXIT_QUALIFICATION, &v);
		ck_assert_uint_eq(v, 0x401000);
		vmx_read(&i.m.cpu, VMCS_VM_EXIT_INSTRUCTION_LEN, &v);
		ck_assert_uint_eq(v, 3);
		rig_destroy(&i);
	}

	/* The same MOV to CR3 with its value among the CR3-target values does
	 * not exit. */
	rig_init(&m, ev, 1);
	rig_start(&m, MODE_EPT);
	vmx_read(&m.m.cpu, VMCS_CPU_BASED_VM_EXEC_CONTROL, &v);
	vmx_write(&m.m.cpu, VMCS_CPU_BASED_VM_EXEC_CONTROL, v | CPU_CR3_LOAD_EXITING);
	vmx_write(&m.m.cpu, VMCS_CR3_TARGET_COUNT, 1);
	vmx_write(&m.m.cpu, VMCS_CR3_TARGET_VALUE0, 0x100000); /* the guest's first frame: its PML4 */
	vmx_write(&m.m.cpu, VMCS_CR3_TARGET_VALUE1, GUEST_SWAPPER_PML4); /* loaded at exit */
	vmx_write(&m.m.cpu, VMCS_CR3_TARGET_COUNT, 2);
	ck_assert_int_eq(machine_run(&m.m), RUN_DONE);
	ck_assert_uint_eq(m.m.cpu.exits[EXIT_REASON_CR_ACCESS].count, 0);
	rig_destroy(&m);
}
END_TEST

/* Shadow paging: a guest PTE store into a write-protected page table. */
START_TEST(test_shadow_pte_write_is_emulated_once)
{
	static const struct guest_event a_only[] = {LOAD(0x401000)};
	static const struct guest_event a_then_b[] = {LOAD(0x401000), STORE(0x402000), LOAD(0x402008)};
	struct rig one, two;
	rig_init(&one, a_only, 1);
	rig_init(&two, a_then_b, 3);
	ck_assert_int_eq(rig_run(&one, MODE_SHADOW), RUN_DONE);
	ck_assert_int_eq(rig_run(&two, MODE_SHADOW), RUN_DONE);
	/* B's page shares A's page tables. The store to B: #PF exit, a true guest
	 * fault (injected); the guest zeroes a fresh frame through its direct
	 * map: one hidden fault; it writes B's PTE into the page table the VMM
	 * shadows and write-protects: one #PF exit, emulated, and the shadow PTE
	 * rebuilt from the new guest PTE. The retried store and the load of B
	 * then need no exit. At exit B's PTE is cleared: one more emulated store. */
	uint64_t pf1 = one.m.cpu.exits[EXIT_REASON_EXCEPTION_NMI].count;
	uint64_t pf2 = two.m.cpu.exits[EXIT_REASON_EXCEPTION_NMI].count;
	ck_assert_uint_eq(pf2 - pf1, 4);
	ck_assert_uint_eq(two.ctr.v[CTR_VMM_SHADOW_GUEST_FAULTS] - one.ctr.v[CTR_VMM_SHADOW_GUEST_FAULTS], 1);
	ck_assert_uint_eq(two.ctr.v[CTR_VMM_SHADOW_HIDDEN_FAULTS] - one.ctr.v[CTR_VMM_SHADOW_HIDDEN_FAULTS], 1);
	ck_assert_uint_eq(two.ctr.v[CTR_VMM_SHADOW_WRITES_EMULATED] - one.ctr.v[CTR_VMM_SHADOW_WRITES_EMULATED], 2);
	/* Every guest fault the guest kernel saw was injected by the VMM. */
	ck_assert_uint_eq(two.ctr.v[CTR_GUEST_PF], two.ctr.v[CTR_VMM_SHADOW_GUEST_FAULTS]);
	ck_assert_uint_eq(two.ctr.v[CTR_VMX_INJECTED_EVENTS], two.ctr.v[CTR_GUEST_PF]);
	/* The guest's MOV to CR3 at boot and at exit both exited. */
	ck_assert_uint_eq(two.m.cpu.exits[EXIT_REASON_CR_ACCESS].count, 2);
	rig_destroy(&one);
	rig_destroy(&two);
}
END_TEST

/* With shadow.unsync=on a last-level table goes unsync instead: the PTE
 * stores to it stop exiting, and it is resynchronised when the guest
 * reloads CR3. */
START_TEST(test_shadow_unsync_leaf_tables)
{
	/* A, B and C share one page table; unmapping B and C (a 63-page span,
	 * over the flush ceiling of 33) makes the guest reload CR3. */
	static const struct guest_event ev[] = {LOAD(0x401000), STORE(0x402000), STORE(0x440000),
						{GEV_MUNMAP, 0, 0x402000, 0x3f000, 1, 0}, LOAD(0x401008)};
	struct rig sync, unsync;
	rig_init(&sync, ev, 5);
	rig_init(&unsync, ev, 5);
	unsync.p.shadow_unsync = true;
	ck_assert_int_eq(rig_run(&sync, MODE_SHADOW), RUN_DONE);
	ck_assert_int_eq(rig_run(&unsync, MODE_SHADOW), RUN_DONE);
	ck_assert_uint_eq(sync.ctr.v[CTR_VMM_SHADOW_UNSYNCS], 0);
	ck_assert_uint_eq(sync.ctr.v[CTR_VMM_SHADOW_SYNCS], 0);
	/* B's PTE store makes the table unsync; C's store and the two clears
	 * then go straight to memory; the CR3 reload resynchronises it (its
	 * entries are refilled on use: A's load takes a hidden fault); at exit
	 * the clear of A's PTE makes it unsync again before the table is freed. */
	ck_assert_uint_eq(unsync.ctr.v[CTR_VMM_SHADOW_UNSYNCS], 2);
	ck_assert_uint_eq(unsync.ctr.v[CTR_VMM_SHADOW_SYNCS], 1);
	/* The synchronous variant emulates those 5 stores: B's and C's PTEs,
	 * their clears, and A's clear. */
	ck_assert_uint_eq(sync.ctr.v[CTR_VMM_SHADOW_WRITES_EMULATED], unsync.ctr.v[CTR_VMM_SHADOW_WRITES_EMULATED] + 5);
	ck_assert_uint_eq(sync.m.cpu.exits[EXIT_REASON_CR_ACCESS].count, 3);
	rig_destroy(&sync);
	rig_destroy(&unsync);
}
END_TEST

/* munmap under shadow paging: the guest's INVLPG exits. */
START_TEST(test_shadow_invlpg_exits)
{
	struct guest_event ev[] = {STORE(0x401000), {GEV_MUNMAP, 0, 0x401000, 0x1000, 1, 0}, LOAD(0x401000)};
	struct rig m;
	rig_init(&m, ev, 3);
	ck_assert_int_eq(rig_run(&m, MODE_SHADOW), RUN_DONE);
	ck_assert_uint_eq(m.m.cpu.exits[EXIT_REASON_INVLPG].count, 1);
	ck_assert_uint_eq(m.ctr.v[CTR_VMM_SHADOW_INVLPG], 1);
	/* VPID on: the VMM replaces the guest's INVLPG by INVVPID of that address. */
	ck_assert_uint_ge(m.ctr.v[CTR_VMM_INVVPID], 1);
	/* The load after munmap faults in the guest again (injected). */
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PF], 2);
	ck_assert_uint_eq(m.ctr.v[CTR_VMM_SHADOW_GUEST_FAULTS], 2);
	rig_destroy(&m);
}
END_TEST

/* The shadow MMU stays consistent on the real multi-process trace under
 * every variant: cached roots are live (a frame reused after a process's
 * exit unshadows its old root), and no shadowed guest page table is mapped
 * writable unless unsync. */
START_TEST(test_shadow_consistent_on_pipeline)
{
	char path[4096], err[256];
	snprintf(path, sizeof(path), "%s/traces/pipeline.d", getenv("VTSIM_SRCDIR"));
	static const struct {
		bool unsync, pcid;
		uint64_t roots;
		bool caches; /* paging-structure caches and nested TLB at their defaults */
	} v[] = {{false, false, 4, false}, {true, true, 4, false}, {true, true, 8, false}, {true, false, 1, false},
		 {true, true, 4, true}};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct traceset *ts = traceset_open(path, err);
		ck_assert_msg(ts != NULL, "%s", err);
		struct proc_source ps;
		traceset_proc_source(ts, &ps);
		struct rig r;
		rig_init(&r, NULL, 0);
		if (v[i].caches) {
			params_defaults(&r.p);
			r.p.guest_hz = 0;
		}
		r.p.shadow_unsync = v[i].unsync;
		r.p.guest_pcid = v[i].pcid;
		r.p.shadow_root_cache = v[i].roots;
		char cerr[CPU_ERR_LEN];
		ck_assert_int_eq(machine_init_procs(&r.m, &r.p, MODE_SHADOW, &ps, &r.ctr, cerr), 0);
		ck_assert_int_eq(machine_run(&r.m), RUN_DONE);
		ck_assert_msg(shadow_check(&r.m.vmm.smmu, err, sizeof(err)) == 0, "variant %zu: %s", i, err);
		ck_assert_uint_eq(r.ctr.v[CTR_GUEST_PROC_PEAK], 5);
		rig_destroy(&r);
		traceset_close(ts);
	}
}
END_TEST

#define CPUID(leaf) {GEV_CPUID, 0, 0, 0, 1, (leaf)}
#define OUT(port, size, v) {GEV_IO, (size), (port), (v), 1, 0}
#define IN(port, size) {GEV_IO, (size), (port), 0, 1, 1}

/* CPUID always exits; IN/OUT exit with "unconditional I/O exiting", and
 * the qualification says size, direction and port (reference sheet §3.4). */
START_TEST(test_cpu_cpuid_and_io_exits)
{
	static const struct guest_event ev[] = {CPUID(0), OUT(0x80, 1, 0x55), IN(0x3f8, 4)};
	struct rig m;
	/* Natively: no exits; CPUID 100 and each port access 1000 cycles. */
	rig_init(&m, ev, 3);
	ck_assert_int_eq(rig_run(&m, MODE_NATIVE), RUN_DONE);
	ck_assert_uint_eq(m.ctr.v[CTR_CPU_CPUID], 1);
	ck_assert_uint_eq(m.ctr.v[CTR_CPU_IO], 2);
	ck_assert_uint_eq(m.ctr.v[CTR_CPU_CYCLES_BASE], 100 + 2 * 1000);
	rig_destroy(&m);
	/* Under EPT every one of them exits and the VMM emulates it. */
	rig_init(&m, ev, 3);
	ck_assert_int_eq(rig_run(&m, MODE_EPT), RUN_DONE);
	ck_assert_uint_eq(m.m.cpu.exits[EXIT_REASON_CPUID].count, 1);
	ck_assert_uint_eq(m.m.cpu.exits[EXIT_REASON_IO_INSTRUCTION].count, 2);
	ck_assert_uint_eq(m.ctr.v[CTR_VMM_CPUID], 1);
	ck_assert_uint_eq(m.ctr.v[CTR_VMM_IO], 2);
	/* The last IN from an unassigned port read all ones. */
	ck_assert_uint_eq(m.m.cpu.gpr[0], 0xffffffff);
	rig_destroy(&m);
}
END_TEST

/* Launch the VMM's VMCS and play the VMM only for EPT violations, until
 * the first exit of another reason; returns that exit reason. */
static uint64_t run_to_first_other_exit(struct rig *m)
{
	uint64_t reason, gpa;
	ck_assert_int_eq(vmx_launch(&m->m.cpu), VMX_SUCCEED);
	for (;;) {
		vmx_read(&m->m.cpu, VMCS_EXIT_REASON, &reason);
		if (reason != EXIT_REASON_EPT_VIOLATION)
			return reason;
		vmx_read(&m->m.cpu, VMCS_GUEST_PHYSICAL_ADDRESS, &gpa);
		ck_assert_int_eq(ept_mgr_map(&m->m.vmm, gpa & ~UINT64_C(0xfff)), 0);
		ck_assert_int_eq(vmx_resume(&m->m.cpu), VMX_SUCCEED);
	}
}

START_TEST(test_cpu_io_exit_qualification)
{
	static const struct guest_event out80[] = {OUT(0x80, 1, 0x55)};
	static const struct guest_event in3f8[] = {IN(0x3f8, 4)};
	static const struct guest_event cpuid1[] = {CPUID(1)};
	struct rig m;
	uint64_t v;
	/* OUT DX, AL to port 0x80: size - 1 = 0, OUT, port 0x80 << 16. */
	rig_init(&m, out80, 1);
	rig_start(&m, MODE_EPT);
	ck_assert_uint_eq(run_to_first_other_exit(&m), EXIT_REASON_IO_INSTRUCTION);
	vmx_read(&m.m.cpu, VMCS_EXIT_QUALIFICATION, &v);
	ck_assert_uint_eq(v, 0x00800000);
	ck_assert_uint_eq(m.m.cpu.gpr[0], 0x55); /* the value, in AL */
	ck_assert_uint_eq(m.m.cpu.gpr[2], 0x80); /* the port, in DX */
	vmx_read(&m.m.cpu, VMCS_VM_EXIT_INSTRUCTION_LEN, &v);
	ck_assert_uint_eq(v, 1);
	rig_destroy(&m);
	/* IN EAX, DX from port 0x3f8: size - 1 = 3, bit 3 IN, port 0x3f8 << 16. */
	rig_init(&m, in3f8, 1);
	rig_start(&m, MODE_EPT);
	ck_assert_uint_eq(run_to_first_other_exit(&m), EXIT_REASON_IO_INSTRUCTION);
	vmx_read(&m.m.cpu, VMCS_EXIT_QUALIFICATION, &v);
	ck_assert_uint_eq(v, 0x03f8000b);
	rig_destroy(&m);
	/* With "use I/O bitmaps" and only port 0x3f8's bit set (bitmap A at a
	 * free host frame), OUT to 0x80 no longer exits: the guest runs to HLT. */
	rig_init(&m, out80, 1);
	rig_start(&m, MODE_EPT);
	vmx_read(&m.m.cpu, VMCS_CPU_BASED_VM_EXEC_CONTROL, &v);
	vmx_write(&m.m.cpu, VMCS_CPU_BASED_VM_EXEC_CONTROL, (v & ~CPU_UNCOND_IO_EXITING) | CPU_USE_IO_BITMAPS);
	uint64_t bitmap_a, bitmap_b;
	ck_assert_int_eq(vmm_host_frame(&m.m.vmm, &bitmap_a), 0);
	ck_assert_int_eq(vmm_host_frame(&m.m.vmm, &bitmap_b), 0);
	mem_write64(&m.m.mem, bitmap_a + 8 * (0x3f8 / 64), UINT64_C(1) << (0x3f8 % 64));
	vmx_write(&m.m.cpu, VMCS_IO_BITMAP_A, bitmap_a);
	vmx_write(&m.m.cpu, VMCS_IO_BITMAP_B, bitmap_b);
	ck_assert_uint_eq(run_to_first_other_exit(&m), EXIT_REASON_HLT);
	ck_assert_uint_eq(m.ctr.v[CTR_CPU_IO], 1);
	rig_destroy(&m);
	/* CPUID exits with the leaf in EAX and a 2-byte instruction length. */
	rig_init(&m, cpuid1, 1);
	rig_start(&m, MODE_EPT);
	ck_assert_uint_eq(run_to_first_other_exit(&m), EXIT_REASON_CPUID);
	ck_assert_uint_eq(m.m.cpu.gpr[0], 1);
	vmx_read(&m.m.cpu, VMCS_VM_EXIT_INSTRUCTION_LEN, &v);
	ck_assert_uint_eq(v, 2);
	rig_destroy(&m);
}
END_TEST

START_TEST(test_vmx_vmread_vmwrite_errors)
{
	struct rig m;
	rig_init(&m, NULL, 0);
	rig_start(&m, MODE_NATIVE); /* a processor in VMX-off operation, not run */
	struct vmcs v;
	vmcs_init(&v, VTSIM_VMCS_REVISION);
	uint64_t val;
	ck_assert_int_eq(vmx_read(&m.m.cpu, VMCS_EXIT_REASON, &val), VMX_FAIL_INVALID); /* no VMXON/VMCS */
	ck_assert_int_eq(vmx_on(&m.m.cpu), VMX_SUCCEED);
	ck_assert_int_eq(vmx_ptrld(&m.m.cpu, &v), VMX_SUCCEED);
	/* Unsupported encoding -> error 12; read-only field -> error 13. */
	ck_assert_int_eq(vmx_write(&m.m.cpu, 0x6C18, 1), VMX_FAIL_VALID);
	ck_assert_int_eq(vmx_read(&m.m.cpu, VMCS_VM_INSTRUCTION_ERROR, &val), VMX_SUCCEED);
	ck_assert_uint_eq(val, 12);
	ck_assert_int_eq(vmx_write(&m.m.cpu, VMCS_EXIT_QUALIFICATION, 1), VMX_FAIL_VALID);
	ck_assert_int_eq(vmx_read(&m.m.cpu, VMCS_VM_INSTRUCTION_ERROR, &val), VMX_SUCCEED);
	ck_assert_uint_eq(val, 13);
	/* _HIGH access of a 64-bit field reads bits 63:32; of a 32-bit field it
	 * is unsupported. */
	ck_assert_int_eq(vmx_write(&m.m.cpu, VMCS_TSC_OFFSET, UINT64_C(0x1122334455667788)), VMX_SUCCEED);
	ck_assert_int_eq(vmx_read(&m.m.cpu, VMCS_TSC_OFFSET + 1, &val), VMX_SUCCEED);
	ck_assert_uint_eq(val, 0x11223344);
	ck_assert_int_eq(vmx_read(&m.m.cpu, VMCS_EXCEPTION_BITMAP + 1, &val), VMX_FAIL_VALID);
	/* 16-bit fields are truncated. */
	ck_assert_int_eq(vmx_write(&m.m.cpu, VMCS_VPID, 0x12345), VMX_SUCCEED);
	ck_assert_int_eq(vmx_read(&m.m.cpu, VMCS_VPID, &val), VMX_SUCCEED);
	ck_assert_uint_eq(val, 0x2345);
	/* Controls with every default-1 bit set, so the control checks reach the
	 * rules under test: "enable VPID" with VPID 0 fails VM entry with error
	 * 7, and so does an EPTP with a 3-level walk. */
	vmx_write(&m.m.cpu, VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16);
	vmx_write(&m.m.cpu, VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | CPU_ACTIVATE_SECONDARY_CONTROLS);
	vmx_write(&m.m.cpu, VMCS_VM_EXIT_CONTROLS, 0x36dfb | EXIT_HOST_ADDR_SPACE_SIZE);
	vmx_write(&m.m.cpu, VMCS_VM_ENTRY_CONTROLS, 0x11fb | ENTRY_IA32E_MODE_GUEST);
	vmx_write(&m.m.cpu, VMCS_VPID, 0);
	vmx_write(&m.m.cpu, VMCS_SECONDARY_VM_EXEC_CONTROL, SECONDARY_ENABLE_VPID);
	ck_assert_int_eq(vmx_entry_checks(&v, &vmx_model_caps).ctl.fail, VMX_CTL_VPID_ZERO);
	ck_assert_int_eq(vmx_launch(&m.m.cpu), VMX_FAIL_VALID);
	vmx_read(&m.m.cpu, VMCS_VM_INSTRUCTION_ERROR, &val);
	ck_assert_uint_eq(val, 7);
	vmx_write(&m.m.cpu, VMCS_SECONDARY_VM_EXEC_CONTROL, SECONDARY_ENABLE_EPT);
	vmx_write(&m.m.cpu, VMCS_EPT_POINTER, 0x5000 | 6 | (2u << 3)); /* 3-level walk: invalid */
	ck_assert_int_eq(vmx_entry_checks(&v, &vmx_model_caps).ctl.fail, VMX_CTL_EPTP);
	ck_assert_int_eq(vmx_launch(&m.m.cpu), VMX_FAIL_VALID);
	vmx_read(&m.m.cpu, VMCS_VM_INSTRUCTION_ERROR, &val);
	ck_assert_uint_eq(val, 7);
	/* VMRESUME of a never-launched VMCS: error 5. */
	ck_assert_int_eq(vmx_resume(&m.m.cpu), VMX_FAIL_VALID);
	vmx_read(&m.m.cpu, VMCS_VM_INSTRUCTION_ERROR, &val);
	ck_assert_uint_eq(val, 5);
	/* INVVPID single-context with VPID 0: error 28. */
	ck_assert_int_eq(vmx_invvpid(&m.m.cpu, 1, 0, 0), VMX_FAIL_VALID);
	vmx_read(&m.m.cpu, VMCS_VM_INSTRUCTION_ERROR, &val);
	ck_assert_uint_eq(val, 28);
	rig_destroy(&m);
}
END_TEST

/* VMLAUNCH runs the three VM-entry check phases (src/cpu/vmx_checks.h) on
 * the VMM's own VMCS: a control the capability MSR forbids fails with
 * error 7, host CR4.VMXE = 0 with error 8, and bad guest state makes a
 * VM-entry failure exit (0x80000021, qualification 0 or 4 for the link
 * pointer) without entering the guest; fixed, the run goes through. */
START_TEST(test_vmx_vmlaunch_runs_entry_checks)
{
	static const struct guest_event ev[] = {LOAD(0x401000)};
	struct rig m;
	uint64_t v, saved;
	rig_init(&m, ev, 1);
	rig_start(&m, MODE_EPT);
	struct cpu *c = &m.m.cpu;
	/* NMI-window exiting: allowed-1 = 0 in IA32_VMX_TRUE_PROCBASED_CTLS. */
	vmx_read(c, VMCS_CPU_BASED_VM_EXEC_CONTROL, &saved);
	vmx_write(c, VMCS_CPU_BASED_VM_EXEC_CONTROL, saved | CPU_NMI_WINDOW_EXITING);
	ck_assert_int_eq(vmx_launch(c), VMX_FAIL_VALID);
	vmx_read(c, VMCS_VM_INSTRUCTION_ERROR, &v);
	ck_assert_uint_eq(v, 7);
	vmx_write(c, VMCS_CPU_BASED_VM_EXEC_CONTROL, saved);
	/* Host CR4.VMXE = 0 (IA32_VMX_CR4_FIXED0). */
	vmx_read(c, VMCS_HOST_CR4, &saved);
	vmx_write(c, VMCS_HOST_CR4, saved & ~CR4_VMXE);
	ck_assert_int_eq(vmx_launch(c), VMX_FAIL_VALID);
	vmx_read(c, VMCS_VM_INSTRUCTION_ERROR, &v);
	ck_assert_uint_eq(v, 8);
	vmx_write(c, VMCS_HOST_CR4, saved);
	/* Guest RFLAGS bit 1 clear: exit reason 33 | bit 31, still in root
	 * operation, nothing entered, the VMCS still clear. */
	vmx_read(c, VMCS_GUEST_RFLAGS, &saved);
	vmx_write(c, VMCS_GUEST_RFLAGS, saved & ~UINT64_C(2));
	ck_assert_int_eq(vmx_launch(c), VMX_SUCCEED);
	vmx_read(c, VMCS_EXIT_REASON, &v);
	ck_assert_uint_eq(v, 0x80000021);
	vmx_read(c, VMCS_EXIT_QUALIFICATION, &v);
	ck_assert_uint_eq(v, 0);
	ck_assert(!c->nonroot);
	ck_assert(!m.m.vmm.vmcs.launched);
	ck_assert_uint_eq(m.ctr.v[CTR_VMX_ENTRIES], 0);
	vmx_write(c, VMCS_GUEST_RFLAGS, saved);
	/* VMCS link pointer not all ones: qualification 4 (VMLAUNCH again: the
	 * failed entry left the launch state clear). */
	vmx_write(c, VMCS_LINK_POINTER, 0);
	ck_assert_int_eq(vmx_launch(c), VMX_SUCCEED);
	vmx_read(c, VMCS_EXIT_QUALIFICATION, &v);
	ck_assert_uint_eq(v, 4);
	vmx_write(c, VMCS_LINK_POINTER, UINT64_MAX);
	/* The VMM's loop treats an entry failure as unexpected; with the VMCS
	 * repaired the same machine runs to the end. */
	ck_assert_int_eq(machine_run(&m.m), RUN_DONE);
	rig_destroy(&m);
}
END_TEST

/* The profile decides LA57 and 5-level EPT: Skylake has neither
 * (CPUID.(7,0):ECX = 0, EPT cap bit 7 clear), Sapphire Rapids both (CR4
 * FIXED1 bit 12, EPT cap 0x00010F0106F341C1 bit 7); the capability MSRs,
 * the EPTP check, INVVPID's canonical check and the parameter checks
 * follow. */
START_TEST(test_profile_decides_la57_and_5level_ept)
{
	struct sim_params p;
	struct phys_mem mem;
	struct counters ctr;
	struct cpu c;
	struct vmcs v;
	char err[CPU_ERR_LEN];
	uint64_t val;
	const uint64_t eptp5 = 0x5000 | EPTP_MT_WB | (UINT64_C(4) << EPTP_WALK_LEN_SHIFT);
	const uint64_t la57_only = UINT64_C(0x0000800000000000); /* canonical in 57 bits, not in 48 */

	ck_assert_int_eq(mem_init(&mem), 0);
	params_defaults(&p);
	ck_assert_int_eq(cpu_init(&c, &p, &mem, &ctr, err), 0);
	ck_assert_int_eq(vmx_root_rdmsr(&c, MSR_IA32_VMX_EPT_VPID_CAP, &val), 0);
	ck_assert_uint_eq(val, UINT64_C(0x00000f0106334141));
	ck_assert_int_eq(vmx_root_rdmsr(&c, MSR_IA32_VMX_CR4_FIXED1, &val), 0);
	ck_assert_uint_eq(val & CR4_LA57, 0);
	ck_assert(!vmx_eptp_valid(&c.caps, eptp5));
	vmcs_init(&v, 1);
	c.vmxon = true;
	c.vmcs = &v;
	ck_assert_int_eq(vmx_invvpid(&c, 0, 1, la57_only), VMX_FAIL_VALID);
	cpu_destroy(&c);
	ck_assert_int_eq(params_set(&p, "guest.paging_levels=5", err), 0);
	ck_assert_int_eq(params_validate(&p, err), -1);
	ck_assert_str_eq(err, "guest.paging_levels=5 needs a core with 5-level paging (cpu.la57=on; the skylake profile "
			      "has none)");
	ck_assert_int_eq(params_set(&p, "ept.levels=5", err), 0);
	ck_assert_int_eq(params_set(&p, "guest.paging_levels=4", err), 0);
	ck_assert_int_eq(params_validate(&p, err), -1);
	ck_assert_str_eq(err, "ept.levels=5 needs a core with 5-level EPT (vmx.ept_5level=on; the skylake profile has none)");

	ck_assert_int_eq(params_set(&p, "cpu.profile=sapphirerapids", err), 0);
	ck_assert_int_eq(params_set(&p, "guest.paging_levels=5", err), 0);
	ck_assert_int_eq(params_set(&p, "ept.levels=5", err), 0);
	ck_assert_int_eq(params_validate(&p, err), 0);
	ck_assert_int_eq(cpu_init(&c, &p, &mem, &ctr, err), 0);
	ck_assert_int_eq(vmx_root_rdmsr(&c, MSR_IA32_VMX_EPT_VPID_CAP, &val), 0);
	ck_assert_uint_eq(val, UINT64_C(0x00000f0106334141) | EPT_CAP_PWL5);
	ck_assert_int_eq(vmx_root_rdmsr(&c, MSR_IA32_VMX_CR4_FIXED1, &val), 0);
	ck_assert_uint_eq(val & CR4_LA57, CR4_LA57);
	ck_assert(vmx_eptp_valid(&c.caps, eptp5));
	c.vmxon = true;
	c.vmcs = &v;
	ck_assert_int_eq(vmx_invvpid(&c, 0, 1, la57_only), VMX_SUCCEED);
	cpu_destroy(&c);
	mem_destroy(&mem);
}
END_TEST

static Suite *cpu_suite(void)
{
	Suite *s = suite_create("cpu");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_cpu_native_fault_then_tlb_hit);
	tcase_add_test(tc, test_cpu_native_la57_fault_then_tlb_hit);
	tcase_add_test(tc, test_cpu_la57_shadow_and_5level_ept);
	tcase_add_test(tc, test_cpu_no_1g_array_caches_4k_fragments);
	tcase_add_test(tc, test_cpu_ept_first_touch_exits);
	tcase_add_test(tc, test_params_profiles_set_documented_values);
	tcase_add_test(tc, test_params_skylake_is_the_defaults);
	tcase_add_test(tc, test_profile_decides_la57_and_5level_ept);
	tcase_add_test(tc, test_cpu_vpid_off_flushes_on_every_transition);
	tcase_add_test(tc, test_cpu_vpid_off_loses_translations_across_exits);
	tcase_add_test(tc, test_cpu_munmap_invalidates_and_frees_tables);
	tcase_add_test(tc, test_cpu_timer_ticks_exit_and_inject);
	tcase_add_test(tc, test_cpu_munmap_flushes_the_gathered_span);
	tcase_add_test(tc, test_cpu_bad_addresses_stop_the_run);
	tcase_add_test(tc, test_cpu_exits_follow_vmcs_controls);
	tcase_add_test(tc, test_shadow_pte_write_is_emulated_once);
	tcase_add_test(tc, test_shadow_unsync_leaf_tables);
	tcase_add_test(tc, test_shadow_invlpg_exits);
	tcase_add_test(tc, test_shadow_consistent_on_pipeline);
	tcase_add_test(tc, test_cpu_cpuid_and_io_exits);
	tcase_add_test(tc, test_cpu_io_exit_qualification);
	tcase_add_test(tc, test_vmx_vmread_vmwrite_errors);
	tcase_add_test(tc, test_vmx_vmlaunch_runs_entry_checks);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cpu_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
