/*
 * Unit tests for the frame allocator (src/mem/mem.c): naturally aligned
 * 4 KiB / 2 MiB / 1 GiB blocks, per-order free lists, never address 0.
 * Every address is worked out by hand from mem.h.
 */
#include <check.h>
#include <stdlib.h>

#include "mem/mem.h"

#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)

/* The VMM's host allocator starts at 1 MiB: the first 2 MiB block is at
 * 2 MiB, and the 256 frames skipped (1 MiB - 2 MiB) go to the 4 KiB list,
 * which the next 4 KiB requests use first, last pushed (highest) first. */
START_TEST(test_mem_alloc_2m_aligned_and_gap_reused)
{
	struct frame_alloc fa;
	frame_alloc_init(&fa, MIB, 8 * MIB - MIB);
	ck_assert_uint_eq(frame_alloc_get_order(&fa, FRAME_ORDER_2M), 2 * MIB);
	ck_assert_uint_eq(fa.in_use, 512);
	ck_assert_uint_eq(fa.free_list[0].n, 256);
	ck_assert_uint_eq(frame_alloc_get(&fa), 2 * MIB - 0x1000);
	ck_assert_uint_eq(frame_alloc_get_order(&fa, FRAME_ORDER_2M), 4 * MIB);
	ck_assert_uint_eq(frame_alloc_get_order(&fa, FRAME_ORDER_2M), 6 * MIB);
	/* [8 MiB) is the limit: no third block, and no 1 GiB block at all. */
	ck_assert_uint_eq(frame_alloc_get_order(&fa, FRAME_ORDER_2M), 0);
	ck_assert_uint_eq(frame_alloc_get_order(&fa, FRAME_ORDER_1G), 0);
	ck_assert_uint_eq(fa.in_use, 3 * 512 + 1);
	/* A freed 2 MiB block is reused as one. */
	ck_assert_int_eq(frame_alloc_put_order(&fa, 4 * MIB, FRAME_ORDER_2M), 0);
	ck_assert_uint_eq(fa.in_use, 2 * 512 + 1);
	ck_assert_uint_eq(frame_alloc_get_order(&fa, FRAME_ORDER_2M), 4 * MIB);
	ck_assert_uint_eq(fa.peak, 3 * 512 + 1);
	/* An unknown order is refused. */
	ck_assert_uint_eq(frame_alloc_get_order(&fa, 1), 0);
	frame_alloc_destroy(&fa);
}
END_TEST

/* A 1 GiB block from a 1 MiB base is at 1 GiB; the gap 1 MiB .. 1 GiB is
 * split into 256 frames (1-2 MiB) and 511 2 MiB blocks (2 MiB - 1 GiB). */
START_TEST(test_mem_alloc_1g_gap_split_into_largest_blocks)
{
	struct frame_alloc fa;
	frame_alloc_init(&fa, MIB, 4 * GIB);
	ck_assert_uint_eq(frame_alloc_get_order(&fa, FRAME_ORDER_1G), GIB);
	ck_assert_uint_eq(fa.free_list[0].n, 256);
	ck_assert_uint_eq(fa.free_list[1].n, 511);
	/* The last pushed 2 MiB block (1 GiB - 2 MiB) comes back first. */
	ck_assert_uint_eq(frame_alloc_get_order(&fa, FRAME_ORDER_2M), GIB - 2 * MIB);
	ck_assert_uint_eq(frame_alloc_get_order(&fa, FRAME_ORDER_1G), 2 * GIB);
	ck_assert_uint_eq(fa.in_use, 2 * 262144 + 512);
	frame_alloc_destroy(&fa);
}
END_TEST

/* Base 0: address 0 is never handed out, so the first 2 MiB block is at
 * 2 MiB and the first frame at 4 KiB. When the bump pointer is used up, a
 * 4 KiB request splits a free 2 MiB block (keeping its first frame). */
START_TEST(test_mem_alloc_never_zero_and_splits_when_full)
{
	struct frame_alloc fa;
	frame_alloc_init(&fa, 0, 4 * MIB);
	ck_assert_uint_eq(frame_alloc_get_order(&fa, FRAME_ORDER_2M), 2 * MIB);
	ck_assert_uint_eq(fa.free_list[0].n, 511); /* 4 KiB .. 2 MiB */
	for (int i = 0; i < 511; i++)
		ck_assert_uint_ne(frame_alloc_get(&fa), 0);
	ck_assert_uint_eq(frame_alloc_get(&fa), 0); /* full */
	ck_assert_int_eq(frame_alloc_put_order(&fa, 2 * MIB, FRAME_ORDER_2M), 0);
	ck_assert_uint_eq(frame_alloc_get(&fa), 2 * MIB);
	ck_assert_uint_eq(fa.free_list[0].n, 511);
	ck_assert_uint_eq(fa.free_list[1].n, 0);
	ck_assert_uint_eq(frame_alloc_get_order(&fa, FRAME_ORDER_2M), 0);
	ck_assert_uint_eq(fa.in_use, 512);
	frame_alloc_destroy(&fa);
}
END_TEST

static Suite *mem_suite(void)
{
	Suite *s = suite_create("mem");
	TCase *tc = tcase_create("frame_alloc");
	tcase_add_test(tc, test_mem_alloc_2m_aligned_and_gap_reused);
	tcase_add_test(tc, test_mem_alloc_1g_gap_split_into_largest_blocks);
	tcase_add_test(tc, test_mem_alloc_never_zero_and_splits_when_full);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mem_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
