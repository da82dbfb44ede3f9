/*
 * Data-cache hierarchy model (src/mem/cache.h) with hand-worked
 * expectations: where a line is after each access, LRU eviction order,
 * inclusive fills, and what a walk's references cost when eight 8-byte
 * entries share a 64-byte line.
 */
#include <check.h>
#include <stdlib.h>

#include "arch/paging.h"
#include "mem/cache.h"
#include "mem/mem.h"
#include "mmu/walk.h"

/* A tiny hierarchy: L1D 2 sets x 2 ways (256 B), L2 4 sets x 2 ways
 * (512 B), LLC 3 sets x 4 ways (768 B: a set count that is not a power of
 * two); latencies 4 / 12 / 44 / 289. */
static struct cache_hier h;

static void setup(void)
{
	char err[256];
	struct cache_config cfg = {{0, 0, 0}, {2, 2, 4}, {4, 12, 44, 289}};
	ck_assert_int_eq(cache_init(&h, &cfg, err), -1); /* 0 KiB */
	ck_assert_str_eq(err, "cache.l1d: 0 KiB is not a whole number of sets of 2 ways of 64-byte lines");
	/* Sizes in KiB cannot express 256 B: build 1 KiB levels and check the
	 * arithmetic on those instead. L1D 1 KiB 2-way = 8 sets; L2 2 KiB
	 * 2-way = 16 sets; LLC 3 KiB 4-way = 12 sets (not a power of two). */
	struct cache_config ok = {{1, 2, 3}, {2, 2, 4}, {4, 12, 44, 289}};
	ck_assert_int_eq(cache_init(&h, &ok, err), 0);
	ck_assert_uint_eq(h.lv[0].sets, 8);
	ck_assert_uint_eq(h.lv[1].sets, 16);
	ck_assert_uint_eq(h.lv[2].sets, 12);
	ck_assert_uint_eq(h.lv[2].set_mask, 0);
}

static void teardown(void)
{
	cache_destroy(&h);
}

START_TEST(test_cache_cold_then_hit)
{
	/* Cold: DRAM, filled everywhere; the same line, any byte: L1D. */
	ck_assert_int_eq(cache_access(&h, 0x1000, CACHE_L1D), CACHE_DRAM);
	ck_assert_int_eq(cache_access(&h, 0x1000, CACHE_L1D), CACHE_L1D);
	ck_assert_int_eq(cache_access(&h, 0x103f, CACHE_L1D), CACHE_L1D);
	/* The next line is another line. */
	ck_assert_int_eq(cache_access(&h, 0x1040, CACHE_L1D), CACHE_DRAM);
}
END_TEST

START_TEST(test_cache_lru_eviction_and_inclusive_refill)
{
	/* L1D set of line n is n % 8: lines 0, 8, 16 share set 0 (2 ways).
	 * In L2 (16 sets) they fall in sets 0, 8, 0: 0 and 16 share, 2 ways. */
	const uint64_t a = 0 * 64, b = 8 * 64, c = 16 * 64;
	ck_assert_int_eq(cache_access(&h, a, CACHE_L1D), CACHE_DRAM);
	ck_assert_int_eq(cache_access(&h, b, CACHE_L1D), CACHE_DRAM);
	ck_assert_int_eq(cache_access(&h, a, CACHE_L1D), CACHE_L1D); /* a is now MRU, b LRU */
	ck_assert_int_eq(cache_access(&h, c, CACHE_L1D), CACHE_DRAM); /* evicts b from L1D */
	ck_assert_int_eq(cache_access(&h, a, CACHE_L1D), CACHE_L1D);
	/* b left L1D but is still in L2 (L2 set 8 holds only b). */
	ck_assert_int_eq(cache_access(&h, b, CACHE_L1D), CACHE_L2);
	/* ... and was refilled into L1D, evicting c (LRU: a was used after c). */
	ck_assert_int_eq(cache_access(&h, b, CACHE_L1D), CACHE_L1D);
	ck_assert_int_eq(cache_access(&h, c, CACHE_L1D), CACHE_L2);
}
END_TEST

START_TEST(test_cache_fetch_fills_from_l2)
{
	/* An instruction fetch fills L2 and LLC, not L1D: a later data load
	 * of that line hits in L2. */
	ck_assert_int_eq(cache_access(&h, 0x5000, CACHE_L2), CACHE_DRAM);
	ck_assert_int_eq(cache_access(&h, 0x5000, CACHE_L1D), CACHE_L2);
	ck_assert_int_eq(cache_access(&h, 0x5000, CACHE_L1D), CACHE_L1D);
}
END_TEST

START_TEST(test_cache_fill_page_and_flush)
{
	/* Clearing a page fills its 64 lines in order: the 1 KiB L1D keeps
	 * the last 16 (lines 48-63), the 2 KiB L2 the last 32, and the 3 KiB
	 * LLC (12 sets x 4 ways; line 448 + i falls in set (4 + i) % 12) the
	 * last four of each set: lines 16-63. */
	cache_fill_page(&h, 0x7000);
	ck_assert_int_eq(cache_access(&h, 0x7000 + 63 * 64, CACHE_L1D), CACHE_L1D);
	ck_assert_int_eq(cache_access(&h, 0x7000 + 48 * 64, CACHE_L1D), CACHE_L1D);
	ck_assert_int_eq(cache_access(&h, 0x7000 + 47 * 64, CACHE_L1D), CACHE_L2);
	ck_assert_int_eq(cache_access(&h, 0x7000 + 16 * 64, CACHE_L1D), CACHE_LLC);
	ck_assert_int_eq(cache_access(&h, 0x7000 + 15 * 64, CACHE_L1D), CACHE_DRAM);
	cache_flush(&h);
	ck_assert_int_eq(cache_access(&h, 0x7000 + 63 * 64, CACHE_L1D), CACHE_DRAM);
}
END_TEST

/* Cycles of a walk's references through the hierarchy, as the CPU charges them. */
static uint64_t walk_cycles(struct cache_hier *ch, struct phys_mem *m, uint64_t la, unsigned served[CACHE_NLEVELS])
{
	struct paging_ctx c = {CR0_PE | CR0_PG | CR0_WP, 0x10000, CR4_PAE, EFER_LME | EFER_LMA | EFER_NXE, false, 0, MODEL_EPT_VPID_CAP};
	struct mmu_access a = {la, ACC_READ, true};
	struct walk_result r;
	uint64_t cyc = 0;
	ck_assert_int_eq(mmu_walk(m, &c, &a, NULL, &r), WALK_OK);
	for (int i = 0; i < CACHE_NLEVELS; i++)
		served[i] = 0;
	for (unsigned i = 0; i < r.nrefs; i++) {
		enum cache_level lv = cache_access(ch, r.ref[i].hpa, CACHE_L1D);
		served[lv]++;
		cyc += ch->cycles[lv];
	}
	return cyc;
}

START_TEST(test_cache_walk_entries_share_lines)
{
	/* Native tables PML4 0x10000 -> PDPT 0x11000 -> PD 0x12000 -> PT
	 * 0x13000; PTEs 4, 5 and 12 map three pages. Entries are accessed.
	 * The Skylake geometry (32 KiB 8-way L1D: the four table lines, all
	 * in L1D set 0, fit its 8 ways). */
	char err[256];
	struct cache_hier sk;
	struct cache_config cfg = {{32, 256, 8192}, {8, 4, 16}, {4, 12, 44, 289}};
	ck_assert_int_eq(cache_init(&sk, &cfg, err), 0);
	struct phys_mem m;
	const uint64_t t = PTE_P | PTE_RW | PTE_US | PTE_A;
	ck_assert_int_eq(mem_init(&m), 0);
	mem_write64(&m, 0x10000, 0x11000 | t);
	mem_write64(&m, 0x11000, 0x12000 | t);
	mem_write64(&m, 0x12000, 0x13000 | t);
	for (int i = 4; i <= 12; i++)
		mem_write64(&m, 0x13000 + 8 * i, (0x100000 + 0x1000 * (uint64_t)i) | t | PTE_D);
	unsigned s[CACHE_NLEVELS];
	/* Cold: four lines from DRAM, 4 x 289. */
	ck_assert_uint_eq(walk_cycles(&sk, &m, 4 << 12, s), 4 * 289);
	ck_assert_uint_eq(s[CACHE_DRAM], 4);
	/* PTE 5 shares PTE 4's line (bytes 32-47 of line 0x13000): 4 L1D hits. */
	ck_assert_uint_eq(walk_cycles(&sk, &m, 5 << 12, s), 4 * 4);
	ck_assert_uint_eq(s[CACHE_L1D], 4);
	/* PTE 12 is in the next line (0x13060): 3 L1D hits and one DRAM read. */
	ck_assert_uint_eq(walk_cycles(&sk, &m, 12 << 12, s), 3 * 4 + 289);
	ck_assert_uint_eq(s[CACHE_DRAM], 1);
	mem_destroy(&m);
	cache_destroy(&sk);
}
END_TEST

static Suite *cache_suite(void)
{
	Suite *s = suite_create("cache");
	TCase *tc = tcase_create("hierarchy");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_cache_cold_then_hit);
	tcase_add_test(tc, test_cache_lru_eviction_and_inclusive_refill);
	tcase_add_test(tc, test_cache_fetch_fills_from_l2);
	tcase_add_test(tc, test_cache_fill_page_and_flush);
	tcase_add_test(tc, test_cache_walk_entries_share_lines);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cache_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
