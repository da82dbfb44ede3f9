/*
 * Unit tests for the TLB model (src/mmu/tlb.c). Every expectation is worked
 * out by hand from tlb.h and the reference sheet (§5.5, §5.6, §6.5).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mmu/tlb.h"

#define PG(vpn) ((uint64_t)(vpn) << 12)
#define EPT_A 0x1234ull
#define EPT_B 0x5678ull

static struct tlb tlb;

static void setup_array(unsigned entries, unsigned ways)
{
	char err[256] = "";

	ck_assert_msg(tlb_init(&tlb, "test", entries, ways, err) == 0, "%s", err);
}

static void teardown(void)
{
	tlb_destroy(&tlb);
}

static struct tlb_ctx ctx(uint16_t vpid, uint16_t pcid, uint64_t ep4ta)
{
	struct tlb_ctx c = {.vpid = vpid, .pcid = pcid, .ep4ta = ep4ta};

	return c;
}

/* Insert a 4 KiB mapping vpn -> pfn in context (vpid, pcid, ep4ta). */
static void put(uint64_t vpn, uint64_t pfn, uint16_t vpid, uint16_t pcid, uint64_t ep4ta, bool global)
{
	struct tlb_entry e = {
		.vpn = vpn, .pfn = pfn, .ctx = ctx(vpid, pcid, ep4ta), .page_shift = 12,
		.global = global, .writable = true, .user = true,
	};

	tlb_insert(&tlb, &e);
}

/* Look up vpn; returns the pfn, or -1 on a miss. Marks the entry MRU. */
static int64_t get(uint64_t vpn, uint16_t vpid, uint16_t pcid, uint64_t ep4ta)
{
	struct tlb_ctx c = ctx(vpid, pcid, ep4ta);
	struct tlb_entry *e = tlb_lookup(&tlb, &c, PG(vpn));

	return e ? (int64_t)e->pfn : -1;
}

/*
 * Is exactly this entry (tags and global flag) still cached? Scans the
 * array directly so the LRU state is left alone.
 */
static bool present(uint64_t vpn, uint16_t vpid, uint16_t pcid, uint64_t ep4ta, bool global)
{
	for (unsigned i = 0; i < tlb.sets * tlb.ways; i++) {
		const struct tlb_entry *e = &tlb.e[i];

		if (e->valid && e->vpn == vpn && e->ctx.vpid == vpid && e->ctx.pcid == pcid &&
		    e->ctx.ep4ta == ep4ta && e->global == global)
			return true;
	}
	return false;
}

START_TEST(test_tlb_hit_after_insert)
{
	struct tlb_entry in = {
		.vpn = 0x7f001, .pfn = 0xabcde, .ctx = ctx(3, 5, EPT_A), .page_shift = 12,
		.writable = true, .user = false, .nx = true, .dirty = true,
	};
	struct tlb_ctx c = ctx(3, 5, EPT_A);
	struct tlb_entry *e;

	setup_array(64, 4);
	ck_assert_ptr_null(tlb_lookup(&tlb, &c, 0x7f001000));
	tlb_insert(&tlb, &in);
	/* The inserted page hits. */
	e = tlb_lookup(&tlb, &c, 0x7f001000);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->pfn, 0xabcde);
	ck_assert(e->valid && e->writable && !e->user && e->nx && e->dirty && !e->global);
	ck_assert_uint_eq(e->page_shift, 12);
	/* Neighbouring pages miss. */
	ck_assert_ptr_null(tlb_lookup(&tlb, &c, 0x7f000000));
	ck_assert_ptr_null(tlb_lookup(&tlb, &c, 0x7f002000));
}
END_TEST

START_TEST(test_tlb_miss_other_vpid)
{
	setup_array(64, 4);
	put(0x10, 0x99, 1, 0, 0, false);
	ck_assert_int_eq(get(0x10, 1, 0, 0), 0x99);
	ck_assert_int_eq(get(0x10, 2, 0, 0), -1);
	ck_assert_int_eq(get(0x10, 0, 0, 0), -1);
	/* Same VPID, different EP4TA (combined vs linear) also misses. */
	ck_assert_int_eq(get(0x10, 1, 0, EPT_A), -1);
}
END_TEST

START_TEST(test_tlb_vpids_coexist)
{
	setup_array(64, 4);
	put(0x10, 0x100, 1, 0, EPT_A, false);
	put(0x10, 0x200, 2, 0, EPT_A, false);
	ck_assert_uint_eq(tlb_occupancy(&tlb), 2);
	ck_assert_int_eq(get(0x10, 1, 0, EPT_A), 0x100);
	ck_assert_int_eq(get(0x10, 2, 0, EPT_A), 0x200);
}
END_TEST

START_TEST(test_tlb_pcids_coexist)
{
	setup_array(64, 4);
	put(0x10, 0x100, 1, 7, 0, false);
	put(0x10, 0x200, 1, 8, 0, false);
	ck_assert_uint_eq(tlb_occupancy(&tlb), 2);
	ck_assert_int_eq(get(0x10, 1, 7, 0), 0x100);
	ck_assert_int_eq(get(0x10, 1, 8, 0), 0x200);
	ck_assert_int_eq(get(0x10, 1, 9, 0), -1);
}
END_TEST

START_TEST(test_tlb_global_any_pcid)
{
	setup_array(64, 4);
	put(0x20, 0x300, 1, 7, EPT_A, true);
	ck_assert_int_eq(get(0x20, 1, 7, EPT_A), 0x300);
	ck_assert_int_eq(get(0x20, 1, 0, EPT_A), 0x300);
	ck_assert_int_eq(get(0x20, 1, 0xfff, EPT_A), 0x300);
	/* Not under another VPID, nor another EP4TA. */
	ck_assert_int_eq(get(0x20, 2, 7, EPT_A), -1);
	ck_assert_int_eq(get(0x20, 0, 7, EPT_A), -1);
	ck_assert_int_eq(get(0x20, 1, 7, EPT_B), -1);
}
END_TEST

START_TEST(test_tlb_insert_replaces_same_page)
{
	setup_array(64, 4);
	put(0x10, 0x100, 1, 7, 0, false);
	put(0x10, 0x101, 1, 7, 0, false);
	ck_assert_uint_eq(tlb_occupancy(&tlb), 1);
	ck_assert_int_eq(get(0x10, 1, 7, 0), 0x101);
	/*
	 * A global fill for the page drops the overlapping non-global entries
	 * of the same VPID and EP4TA (both PCIDs), so no lookup sees two.
	 */
	put(0x10, 0x200, 1, 8, 0, false);
	put(0x10, 0x300, 1, 9, EPT_A, false);
	ck_assert_uint_eq(tlb_occupancy(&tlb), 3);
	put(0x10, 0x400, 1, 9, 0, true);
	ck_assert_uint_eq(tlb_occupancy(&tlb), 2);
	ck_assert(present(0x10, 1, 9, 0, true));
	ck_assert(present(0x10, 1, 9, EPT_A, false));
	ck_assert_int_eq(get(0x10, 1, 7, 0), 0x400);
	ck_assert_int_eq(get(0x10, 1, 8, 0), 0x400);
	ck_assert_int_eq(get(0x10, 1, 9, EPT_A), 0x300);
	/* A non-global fill under another PCID replaces the global. */
	put(0x10, 0x500, 1, 3, 0, false);
	ck_assert_uint_eq(tlb_occupancy(&tlb), 2);
	ck_assert_int_eq(get(0x10, 1, 3, 0), 0x500);
	ck_assert_int_eq(get(0x10, 1, 7, 0), -1);
}
END_TEST

/*
 * 16 entries, 4 ways: 4 sets, set = vpn & 3. VPNs 0, 4, 8, 12, 16, 20 all
 * fall in set 0. Clock stamps are shown as (n).
 */
START_TEST(test_tlb_lru_eviction)
{
	setup_array(16, 4);
	ck_assert_uint_eq(tlb.sets, 4);
	put(1, 0x1001, 1, 0, 0, false);  /* set 1, must survive everything */
	put(0, 0x1000, 1, 0, 0, false);  /* (2) */
	put(4, 0x1004, 1, 0, 0, false);  /* (3) */
	put(8, 0x1008, 1, 0, 0, false);  /* (4) */
	put(12, 0x100c, 1, 0, 0, false); /* (5) set 0 full */
	ck_assert_int_eq(get(0, 1, 0, 0), 0x1000); /* 0 -> (6): LRU is now 4 */
	put(16, 0x1010, 1, 0, 0, false); /* evicts 4 */
	ck_assert(!present(4, 1, 0, 0, false));
	ck_assert(present(0, 1, 0, 0, false));
	ck_assert(present(8, 1, 0, 0, false));
	ck_assert(present(12, 1, 0, 0, false));
	ck_assert(present(16, 1, 0, 0, false));
	/* Order now 8 (4), 12 (5), 0 (6), 16 (7). */
	put(20, 0x1014, 1, 0, 0, false); /* evicts 8 */
	ck_assert(!present(8, 1, 0, 0, false));
	ck_assert(present(12, 1, 0, 0, false));
	/* Touch 12: order 0 (6), 16 (7), 20 (8), 12 (9). */
	ck_assert_int_eq(get(12, 1, 0, 0), 0x100c);
	put(24, 0x1018, 1, 0, 0, false); /* evicts 0 */
	ck_assert(!present(0, 1, 0, 0, false));
	ck_assert(present(12, 1, 0, 0, false));
	ck_assert(present(16, 1, 0, 0, false));
	ck_assert(present(20, 1, 0, 0, false));
	ck_assert(present(24, 1, 0, 0, false));
	/* A miss does not touch anything. */
	ck_assert_int_eq(get(28, 1, 0, 0), -1);
	put(28, 0x101c, 1, 0, 0, false); /* evicts 16 */
	ck_assert(!present(16, 1, 0, 0, false));
	ck_assert_int_eq(get(1, 1, 0, 0), 0x1001);
	ck_assert_uint_eq(tlb_occupancy(&tlb), 5);
}
END_TEST

/* An invalidated way is refilled before any valid way is evicted. */
START_TEST(test_tlb_invalid_way_refilled_first)
{
	setup_array(4, 4);
	put(0, 0x10, 1, 0, 0, false);
	put(1, 0x11, 1, 0, 0, false);
	put(2, 0x12, 1, 0, 0, false);
	put(3, 0x13, 1, 0, 0, false);
	tlb_flush_vpid_addr(&tlb, 1, PG(2)); /* 2 is the second-newest */
	put(4, 0x14, 1, 0, 0, false);
	ck_assert(present(0, 1, 0, 0, false));
	ck_assert(present(1, 1, 0, 0, false));
	ck_assert(present(3, 1, 0, 0, false));
	ck_assert(present(4, 1, 0, 0, false));
	ck_assert_uint_eq(tlb_occupancy(&tlb), 4);
}
END_TEST

START_TEST(test_tlb_geometry_errors)
{
	struct tlb t;
	char err[256];

	ck_assert_int_eq(tlb_init(&t, "l2", 1000, 12, err), -1);
	ck_assert_str_eq(err, "l2 TLB: 1000 entries / 12 ways is not a power-of-two number of sets");
	ck_assert_int_eq(tlb_init(&t, "l1d", 48, 4, err), -1); /* 12 sets */
	ck_assert_str_eq(err, "l1d TLB: 48 entries / 4 ways is not a power-of-two number of sets");
	ck_assert_int_eq(tlb_init(&t, "l1i", 0, 4, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "l1i TLB"));
	ck_assert_int_eq(tlb_init(&t, "l1i", 64, 0, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "non-zero"));

	ck_assert_int_eq(tlb_init(&t, "l2", 1536, 12, err), 0);
	ck_assert_uint_eq(t.sets, 128);
	ck_assert_uint_eq(t.ways, 12);
	ck_assert_uint_eq(tlb_occupancy(&t), 0);
	tlb_destroy(&t);
	ck_assert_int_eq(tlb_init(&t, "l1d", 64, 4, err), 0);
	ck_assert_uint_eq(t.sets, 16);
	tlb_destroy(&t);
	ck_assert_int_eq(tlb_init(&t, "fa", 48, 48, err), 0); /* one set */
	ck_assert_uint_eq(t.sets, 1);
	tlb_destroy(&t);
	ck_assert_int_eq(tlb_init(&t, "dm", 8, 1, err), 0); /* direct-mapped */
	ck_assert_uint_eq(t.sets, 8);
	tlb_destroy(&t);
}
END_TEST

/* 48 entries, 48 ways: any 48 pages fit; the 49th evicts the LRU. */
START_TEST(test_tlb_fully_associative)
{
	setup_array(48, 48);
	for (uint64_t i = 0; i < 48; i++)
		put(i * 0x1001, 0x5000 + i, 1, 0, 0, false);
	ck_assert_uint_eq(tlb_occupancy(&tlb), 48);
	/* Touch all but page 5 in order: 5 is then the LRU. */
	for (uint64_t i = 0; i < 48; i++)
		if (i != 5)
			ck_assert_int_eq(get(i * 0x1001, 1, 0, 0), (int64_t)(0x5000 + i));
	put(0xdeadb, 0x6000, 1, 0, 0, false);
	ck_assert_uint_eq(tlb_occupancy(&tlb), 48);
	ck_assert(!present(5 * 0x1001, 1, 0, 0, false));
	ck_assert_int_eq(get(0xdeadb, 1, 0, 0), 0x6000);
	/* Next LRU is page 0 (touched first). */
	put(0xbeef, 0x6001, 1, 0, 0, false);
	ck_assert(!present(0, 1, 0, 0, false));
	ck_assert(present(1 * 0x1001, 1, 0, 0, false));
}
END_TEST

START_TEST(test_tlb_occupancy)
{
	setup_array(64, 4);
	ck_assert_uint_eq(tlb_occupancy(&tlb), 0);
	for (uint64_t i = 0; i < 10; i++)
		put(i, i, 1, 0, 0, false);
	ck_assert_uint_eq(tlb_occupancy(&tlb), 10);
	/* Five more pages in set 0 (vpn & 15 == 0): set 0 holds at most 4. */
	for (uint64_t i = 1; i <= 5; i++)
		put(i * 16, i, 1, 0, 0, false);
	ck_assert_uint_eq(tlb_occupancy(&tlb), 10 - 1 + 4);
	tlb_flush_all(&tlb);
	ck_assert_uint_eq(tlb_occupancy(&tlb), 0);
	ck_assert_int_eq(get(3, 1, 0, 0), -1);
}
END_TEST

/*
 * The invalidation tests share one population in a fully associative
 * array (nothing is evicted). Page A = vpn 0x40, page B = vpn 0x41.
 *
 *   #   page  vpid pcid ep4ta  global
 *   0   A     1    1    0      no
 *   1   A     1    2    0      no
 *   2   A     1    1    EPT_A  no
 *   3   A     1    5    EPT_B  yes
 *   4   A     2    1    0      no
 *   5   A     2    1    EPT_A  yes
 *   6   A     0    1    0      no
 *   7   A     0    0    EPT_A  yes
 *   8   B     1    1    0      no
 *   9   B     1    1    EPT_B  yes
 *  10   B     2    2    EPT_B  no
 *  11   B     0    0    0      yes
 */
#define A 0x40
#define B 0x41
#define NPOP 12

static const struct {
	uint64_t vpn;
	uint16_t vpid, pcid;
	uint64_t ep4ta;
	bool global;
} pop[NPOP] = {
	{A, 1, 1, 0, false},	 {A, 1, 2, 0, false},	  {A, 1, 1, EPT_A, false}, {A, 1, 5, EPT_B, true},
	{A, 2, 1, 0, false},	 {A, 2, 1, EPT_A, true},  {A, 0, 1, 0, false},	   {A, 0, 0, EPT_A, true},
	{B, 1, 1, 0, false},	 {B, 1, 1, EPT_B, true},  {B, 2, 2, EPT_B, false}, {B, 0, 0, 0, true},
};

static void populate(void)
{
	setup_array(32, 32);
	for (unsigned i = 0; i < NPOP; i++)
		put(pop[i].vpn, 0x900 + i, pop[i].vpid, pop[i].pcid, pop[i].ep4ta, pop[i].global);
	ck_assert_uint_eq(tlb_occupancy(&tlb), NPOP);
}

/* Check that exactly the entries whose bit is set in `gone` were removed. */
static void expect_removed(unsigned gone)
{
	unsigned n = 0;

	for (unsigned i = 0; i < NPOP; i++) {
		bool removed = gone & (1u << i);

		n += !removed;
		ck_assert_msg(present(pop[i].vpn, pop[i].vpid, pop[i].pcid, pop[i].ep4ta, pop[i].global) ==
				      !removed,
			      "entry #%u should have been %s", i, removed ? "removed" : "kept");
	}
	ck_assert_uint_eq(tlb_occupancy(&tlb), n);
}

#define BIT(n) (1u << (n))

START_TEST(test_tlb_invlpg)
{
	populate();
	/* Page A, VPID 1, PCID 1: #0, #2 (any EP4TA) and the global #3. */
	tlb_invlpg(&tlb, 1, 1, PG(A));
	expect_removed(BIT(0) | BIT(2) | BIT(3));
	/* #1 (other PCID, non-global) is kept. */
	ck_assert_int_eq(get(A, 1, 2, 0), 0x901);
}
END_TEST

START_TEST(test_tlb_invlpg_vpid0)
{
	populate();
	/* Page B, VPID 0, PCID 3: only the global #11. */
	tlb_invlpg(&tlb, 0, 3, PG(B));
	expect_removed(BIT(11));
}
END_TEST

START_TEST(test_tlb_flush_pcid_addr)
{
	populate();
	/* INVPCID type 0, page A, VPID 1, PCID 1: #0, #2; global #3 kept. */
	tlb_flush_pcid_addr(&tlb, 1, 1, PG(A));
	expect_removed(BIT(0) | BIT(2));
	/* PCID 5 on page A: #3 is global, so nothing. */
	tlb_flush_pcid_addr(&tlb, 1, 5, PG(A));
	expect_removed(BIT(0) | BIT(2));
}
END_TEST

START_TEST(test_tlb_flush_pcid_nonglobal)
{
	populate();
	/* MOV to CR3, VPID 1, PCID 1: #0, #2, #8; global #9 kept. */
	tlb_flush_pcid_nonglobal(&tlb, 1, 1);
	expect_removed(BIT(0) | BIT(2) | BIT(8));
	ck_assert_int_eq(get(B, 1, 1, EPT_B), 0x909);
	/* VPID 0, PCID 0: no non-global entries there. */
	tlb_flush_pcid_nonglobal(&tlb, 0, 0);
	expect_removed(BIT(0) | BIT(2) | BIT(8));
}
END_TEST

START_TEST(test_tlb_flush_vpid)
{
	populate();
	/* All of VPID 1, globals included. */
	tlb_flush_vpid(&tlb, 1);
	expect_removed(BIT(0) | BIT(1) | BIT(2) | BIT(3) | BIT(8) | BIT(9));
	/* VPID 0 flush (VM entry/exit with "enable VPID" = 0). */
	tlb_flush_vpid(&tlb, 0);
	expect_removed(BIT(0) | BIT(1) | BIT(2) | BIT(3) | BIT(8) | BIT(9) | BIT(6) | BIT(7) |
		       BIT(11));
}
END_TEST

START_TEST(test_tlb_flush_vpid_nonglobal)
{
	populate();
	tlb_flush_vpid_nonglobal(&tlb, 1);
	expect_removed(BIT(0) | BIT(1) | BIT(2) | BIT(8));
}
END_TEST

START_TEST(test_tlb_flush_vpid_addr)
{
	populate();
	/* INVVPID type 0, VPID 1, page A: all PCIDs, EP4TAs, globals. */
	tlb_flush_vpid_addr(&tlb, 1, PG(A));
	expect_removed(BIT(0) | BIT(1) | BIT(2) | BIT(3));
}
END_TEST

START_TEST(test_tlb_flush_all_vpids_but_0)
{
	populate();
	tlb_flush_all_vpids_but_0(&tlb);
	expect_removed(BIT(0) | BIT(1) | BIT(2) | BIT(3) | BIT(4) | BIT(5) | BIT(8) | BIT(9) |
		       BIT(10));
}
END_TEST

START_TEST(test_tlb_flush_ep4ta)
{
	populate();
	/* INVEPT single-context EPT_A: #2, #5, #7, any VPID, global or not. */
	tlb_flush_ep4ta(&tlb, EPT_A);
	expect_removed(BIT(2) | BIT(5) | BIT(7));
	/* EP4TA 0 is the linear tag: INVEPT never touches it. */
	tlb_flush_ep4ta(&tlb, 0);
	expect_removed(BIT(2) | BIT(5) | BIT(7));
}
END_TEST

START_TEST(test_tlb_flush_all_combined)
{
	populate();
	tlb_flush_all_combined(&tlb);
	expect_removed(BIT(2) | BIT(3) | BIT(5) | BIT(7) | BIT(9) | BIT(10));
}
END_TEST

START_TEST(test_tlb_flush_all)
{
	populate();
	tlb_flush_all(&tlb);
	expect_removed(BIT(NPOP) - 1);
}
END_TEST

/* ---- page sizes: 2 MiB arrays, a shared 4K+2M array, fragments --------- */

#define MIB2 (UINT64_C(1) << 21)

/* An entry of page_shift for la -> hpa (la_shift 0: not a fragment). */
static struct tlb_entry sized(uint64_t la, uint64_t hpa, unsigned page_shift, unsigned la_shift)
{
	struct tlb_entry e = {
		.vpn = la >> page_shift, .pfn = hpa >> page_shift, .ctx = ctx(1, 0, 0),
		.page_shift = (uint8_t)page_shift, .la_shift = (uint8_t)la_shift, .writable = true, .user = true,
	};
	return e;
}

/* A 2 MiB array (Skylake L1 DTLB 2M: 32 entries, 4-way = 8 sets): an entry
 * covers all 512 4 KiB pages of its page; set = (la >> 21) & 7; INVLPG of
 * any address in the page removes it; INVLPG elsewhere does not. */
START_TEST(test_tlb_2m_array_hit_miss_invlpg)
{
	char err[256] = "";
	ck_assert_msg(tlb_init_sized(&tlb, "l1d_2m", 32, 4, 21, err) == 0, "%s", err);
	struct tlb_entry e = sized(5 * MIB2, 0x40000000, 21, 0);
	tlb_insert(&tlb, &e);
	struct tlb_ctx c = ctx(1, 0, 0);
	struct tlb_entry *hit = tlb_lookup(&tlb, &c, 5 * MIB2 + 0x1ff123);
	ck_assert_ptr_nonnull(hit);
	ck_assert_uint_eq((hit->pfn << hit->page_shift) | ((5 * MIB2 + 0x1ff123) & (MIB2 - 1)), 0x401ff123);
	ck_assert_ptr_null(tlb_lookup(&tlb, &c, 6 * MIB2));  /* the next 2 MiB page */
	ck_assert_ptr_null(tlb_lookup(&tlb, &c, 13 * MIB2)); /* same set (13 & 7 = 5), other page */
	tlb_invlpg(&tlb, 1, 0, 6 * MIB2);
	ck_assert_uint_eq(tlb_occupancy(&tlb), 1);
	tlb_invlpg(&tlb, 1, 0, 5 * MIB2 + 0x80000);
	ck_assert_uint_eq(tlb_occupancy(&tlb), 0);
	/* tlb_init_shared() rejects a second size that is not larger. */
	tlb_destroy(&tlb);
	ck_assert_int_eq(tlb_init_shared(&tlb, "l2", 1536, 12, 12, 12, err), -1);
	ck_assert_str_eq(err, "l2 TLB: second page size 2^12 is not 2 MiB or 1 GiB above 2^12");
	ck_assert_msg(tlb_init_sized(&tlb, "l1d_2m", 32, 4, 21, err) == 0, "%s", err);
}
END_TEST

/* A shared STLB (Skylake 1536 entries 12-way = 128 sets, 4 KiB + 2 MiB):
 * both sizes live side by side, each in the set of its own page number; a
 * lookup finds the 4 KiB entry first, then the 2 MiB one. Every
 * per-address invalidation reaches both sizes. */
START_TEST(test_tlb_shared_4k_2m)
{
	char err[256] = "";
	ck_assert_msg(tlb_init_shared(&tlb, "l2", 1536, 12, 12, 21, err) == 0, "%s", err);
	struct tlb_entry big = sized(3 * MIB2, 0x80000000, 21, 0);
	struct tlb_entry small = sized(3 * MIB2 + 0x5000, 0x7000, 12, 0);
	tlb_insert(&tlb, &big);
	tlb_insert(&tlb, &small);
	ck_assert_uint_eq(tlb_occupancy(&tlb), 2);
	struct tlb_ctx c = ctx(1, 0, 0);
	struct tlb_entry *e = tlb_lookup(&tlb, &c, 3 * MIB2 + 0x5010);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->page_shift, 12); /* the 4 KiB entry wins */
	ck_assert_uint_eq(e->pfn, 0x7);
	e = tlb_lookup(&tlb, &c, 3 * MIB2 + 0x6010);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->page_shift, 21);
	/* The 4 KiB entry with vpn 3 (la 0x3000) is another page than the
	 * 2 MiB entry with vpn 3: both coexist, neither hits for the other. */
	struct tlb_entry low = sized(0x3000, 0x9000, 12, 0);
	tlb_insert(&tlb, &low);
	ck_assert_uint_eq(tlb_occupancy(&tlb), 3);
	ck_assert_ptr_null(tlb_lookup(&tlb, &c, 0x4000));
	/* INVVPID individual-address inside the 2 MiB page, away from the
	 * 4 KiB entry: only the 2 MiB entry goes. */
	tlb_flush_vpid_addr(&tlb, 1, 3 * MIB2 + 0x100000);
	ck_assert_uint_eq(tlb_occupancy(&tlb), 2);
	ck_assert_ptr_null(tlb_lookup(&tlb, &c, 3 * MIB2 + 0x6010));
	/* INVLPG of the 4 KiB page removes it; INVPCID type 0 of la 0x3000
	 * removes the other. */
	tlb_invlpg(&tlb, 1, 0, 3 * MIB2 + 0x5000);
	tlb_flush_pcid_addr(&tlb, 1, 0, 0x3000);
	ck_assert_uint_eq(tlb_occupancy(&tlb), 0);
	/* A whole-array flush takes both sizes. */
	tlb_insert(&tlb, &big);
	tlb_insert(&tlb, &small);
	tlb_flush_vpid(&tlb, 1);
	ck_assert_uint_eq(tlb_occupancy(&tlb), 0);
}
END_TEST

/* Fragments: three 4 KiB pieces of one 2 MiB linear page (a 2 MiB guest
 * page under 4 KiB EPT pages, la_shift 21) sit in different sets of a
 * 64-entry 4-way array; INVLPG of any address of the 2 MiB page removes all
 * three (SDM: every entry for the page), and leaves a plain 4 KiB entry of
 * the next 2 MiB page. */
START_TEST(test_tlb_invlpg_removes_every_fragment)
{
	setup_array(64, 4);
	for (unsigned i = 0; i < 3; i++) {
		struct tlb_entry f = sized(7 * MIB2 + i * 0x1000, 0x200000 + i * 0x1000, 12, 21);
		tlb_insert(&tlb, &f);
	}
	struct tlb_entry other = sized(8 * MIB2, 0x5000, 12, 0);
	tlb_insert(&tlb, &other);
	ck_assert(tlb.fragments);
	ck_assert_uint_eq(tlb_occupancy(&tlb), 4);
	tlb_invlpg(&tlb, 1, 0, 7 * MIB2 + 0x1ff000);
	ck_assert_uint_eq(tlb_occupancy(&tlb), 1);
	struct tlb_ctx c = ctx(1, 0, 0);
	ck_assert_ptr_nonnull(tlb_lookup(&tlb, &c, 8 * MIB2));
}
END_TEST

static Suite *tlb_suite(void)
{
	Suite *s = suite_create("tlb");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_tlb_hit_after_insert);
	tcase_add_test(tc, test_tlb_miss_other_vpid);
	tcase_add_test(tc, test_tlb_vpids_coexist);
	tcase_add_test(tc, test_tlb_pcids_coexist);
	tcase_add_test(tc, test_tlb_global_any_pcid);
	tcase_add_test(tc, test_tlb_insert_replaces_same_page);
	tcase_add_test(tc, test_tlb_lru_eviction);
	tcase_add_test(tc, test_tlb_invalid_way_refilled_first);
	tcase_add_test(tc, test_tlb_geometry_errors);
	tcase_add_test(tc, test_tlb_fully_associative);
	tcase_add_test(tc, test_tlb_occupancy);
	tcase_add_test(tc, test_tlb_invlpg);
	tcase_add_test(tc, test_tlb_invlpg_vpid0);
	tcase_add_test(tc, test_tlb_flush_pcid_addr);
	tcase_add_test(tc, test_tlb_flush_pcid_nonglobal);
	tcase_add_test(tc, test_tlb_flush_vpid);
	tcase_add_test(tc, test_tlb_flush_vpid_nonglobal);
	tcase_add_test(tc, test_tlb_flush_vpid_addr);
	tcase_add_test(tc, test_tlb_flush_all_vpids_but_0);
	tcase_add_test(tc, test_tlb_flush_ep4ta);
	tcase_add_test(tc, test_tlb_flush_all_combined);
	tcase_add_test(tc, test_tlb_flush_all);
	tcase_add_test(tc, test_tlb_2m_array_hit_miss_invlpg);
	tcase_add_test(tc, test_tlb_shared_4k_2m);
	tcase_add_test(tc, test_tlb_invlpg_removes_every_fragment);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(tlb_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
