/*
 * Unit tests for sweep grids (src/cli/grid.c): lists, ranges, continued
 * values, the order of runs and points, cpu.profile applied first, paths
 * relative to the grid, the JSON stored in the sweep table.
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/grid.h"
#include "cpu/params.h"

static char tmpdir[PATH_MAX];
static char gridpath[PATH_MAX + 16];

static void setup(void)
{
	const char *t = getenv("TMPDIR");
	char trace[PATH_MAX + 16];
	snprintf(tmpdir, sizeof(tmpdir), "%s/check_grid.XXXXXX", t && *t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(gridpath, sizeof(gridpath), "%s/g.ini", tmpdir);
	/* Two empty "traces": the grid only checks that they exist. */
	snprintf(trace, sizeof(trace), "%s/a.lackey", tmpdir);
	fclose(fopen(trace, "w"));
	snprintf(trace, sizeof(trace), "%s/b.lackey", tmpdir);
	fclose(fopen(trace, "w"));
}

static void teardown(void)
{
	char p[PATH_MAX + 16];
	snprintf(p, sizeof(p), "%s/a.lackey", tmpdir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/b.lackey", tmpdir);
	unlink(p);
	unlink(gridpath);
	rmdir(tmpdir);
}

static void write_grid(const char *text)
{
	FILE *f = fopen(gridpath, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(test_grid_lists_ranges_and_order)
{
	struct grid g;
	char err[GRID_ERR_LEN], label[256];
	write_grid("[sweep]\n"
		   "name = t1\n"
		   "traces = a.lackey,\n"
		   "         b.lackey   ; continued\n"
		   "modes = ept, native\n"
		   "[params]\n"
		   "ept.ad = off\n"
		   "guest.hz = 64, 256..1024 step 384, 2048\n"
		   "vmx.vpid = on, off\n");
	ck_assert_msg(grid_load(&g, gridpath, err) == 0, "%s", err);
	ck_assert_str_eq(g.name, "t1");
	ck_assert_ptr_null(g.db);
	ck_assert_uint_eq(g.ntraces, 2);
	ck_assert_str_eq(strrchr(g.traces[1], '/'), "/b.lackey");
	ck_assert_uint_eq(g.nmodes, 2);
	ck_assert_int_eq(g.modes[0], MODE_EPT);
	ck_assert_int_eq(g.modes[1], MODE_NATIVE);
	ck_assert_uint_eq(g.naxes, 3);
	/* 256..1024 step 384 is 256, 640, 1024. */
	ck_assert_uint_eq(g.axes[1].n, 5);
	ck_assert_str_eq(g.axes[1].values[0], "64");
	ck_assert_str_eq(g.axes[1].values[1], "256");
	ck_assert_str_eq(g.axes[1].values[2], "640");
	ck_assert_str_eq(g.axes[1].values[3], "1024");
	ck_assert_str_eq(g.axes[1].values[4], "2048");
	ck_assert_int_eq(g.axes[1].line, 8);
	ck_assert_uint_eq(g.npoints, 10);
	ck_assert_uint_eq(g.nruns, 40);
	/* Run order: trace, then point (last axis fastest), then mode. */
	size_t t, pt;
	enum sim_mode m;
	grid_run_at(&g, 0, &t, &pt, &m);
	ck_assert(t == 0 && pt == 0 && m == MODE_EPT);
	grid_run_at(&g, 1, &t, &pt, &m);
	ck_assert(t == 0 && pt == 0 && m == MODE_NATIVE);
	grid_run_at(&g, 3, &t, &pt, &m);
	ck_assert(t == 0 && pt == 1 && m == MODE_NATIVE);
	grid_run_at(&g, 39, &t, &pt, &m);
	ck_assert(t == 1 && pt == 9 && m == MODE_NATIVE);
	grid_point_label(&g, 1, label, sizeof(label));
	ck_assert_str_eq(label, "ept.ad=off guest.hz=64 vmx.vpid=off");
	grid_point_label(&g, 4, label, sizeof(label));
	ck_assert_str_eq(label, "ept.ad=off guest.hz=640 vmx.vpid=on");
	struct sim_params p;
	ck_assert_int_eq(grid_point_params(&g, 4, &p, err), 0);
	ck_assert_uint_eq(p.guest_hz, 640);
	ck_assert(!p.ept_ad);
	ck_assert(p.vmx_vpid);
	grid_free(&g);
}
END_TEST

START_TEST(test_grid_profile_first_and_defaults)
{
	struct grid g;
	char err[GRID_ERR_LEN];
	/* cpu.profile resets every parameter, so it applies first wherever it
	 * is written; the sweep is named after the file; modes default to all. */
	write_grid("[params]\n"
		   "guest.hz = 300\n"
		   "cpu.profile = nehalem, skylake\n"
		   "[sweep]\n"
		   "traces = a.lackey\n"
		   "db = ./out.db\n");
	ck_assert_msg(grid_load(&g, gridpath, err) == 0, "%s", err);
	ck_assert_str_eq(g.name, "g");
	ck_assert_uint_eq(g.nmodes, 3);
	ck_assert_str_eq(g.axes[0].name, "cpu.profile");
	ck_assert_str_eq(g.axes[1].name, "guest.hz");
	char want[PATH_MAX + 16];
	snprintf(want, sizeof(want), "%s/out.db", tmpdir);
	ck_assert_str_eq(g.db, want); /* relative to the grid, cleaned: out.db is new, its directory the same */
	struct sim_params p;
	ck_assert_int_eq(grid_point_params(&g, 0, &p, err), 0);
	ck_assert_str_eq(cpu_profiles[p.cpu_profile].name, "nehalem");
	ck_assert_uint_eq(p.guest_hz, 300);
	ck_assert_uint_eq(p.tlb_l2_entries, 512); /* nehalem's */
	char *json = grid_json(&g);
	ck_assert_ptr_nonnull(json);
	char wantj[PATH_MAX + 256];
	ck_assert_int_gt(snprintf(wantj, sizeof(wantj),
				  "{\"name\":\"g\",\"traces\":[\"%s/a.lackey\"],\"modes\":[\"native\",\"shadow\",\"ept\"],"
				  "\"axes\":[{\"name\":\"cpu.profile\",\"values\":[\"nehalem\",\"skylake\"]},"
				  "{\"name\":\"guest.hz\",\"values\":[\"300\"]}]}",
				  tmpdir),
			 0);
	ck_assert_str_eq(json, wantj);
	free(json);
	grid_free(&g);
}
END_TEST

START_TEST(test_grid_range_edges)
{
	struct grid g;
	char err[GRID_ERR_LEN];
	/* A range whose step passes B stops before it; A..A is one value. */
	write_grid("[sweep]\ntraces = a.lackey\n[params]\nguest.hz = 100..350 step 100, 1000..1000\n");
	ck_assert_msg(grid_load(&g, gridpath, err) == 0, "%s", err);
	ck_assert_uint_eq(g.axes[0].n, 4);
	ck_assert_str_eq(g.axes[0].values[2], "300");
	ck_assert_str_eq(g.axes[0].values[3], "1000");
	grid_free(&g);
	/* A range at the top of 64 bits does not wrap; the parameter's own
	 * range refuses its first value, naming the line. */
	write_grid("[sweep]\ntraces = a.lackey\n[params]\n"
		   "guest.tlb_flush_ceiling = 18446744073709551613..18446744073709551615 step 2\n");
	ck_assert_int_eq(grid_load(&g, gridpath, err), -1);
	char want[PATH_MAX + 160];
	snprintf(want, sizeof(want),
		 "%s:4: parameter guest.tlb_flush_ceiling: 18446744073709551613 is outside [0, 1099511627776] pages",
		 gridpath);
	ck_assert_str_eq(err, want);
	grid_free(&g);
	/* More than GRID_MAX_AXIS_VALUES values in one range. */
	write_grid("[sweep]\ntraces = a.lackey\n[params]\nguest.hz = 0..100000\n");
	ck_assert_int_eq(grid_load(&g, gridpath, err), -1);
	snprintf(want, sizeof(want), "%s:4: guest.hz: range '0..100000' has more than 100000 values", gridpath);
	ck_assert_str_eq(err, want);
	grid_free(&g);
}
END_TEST

static Suite *grid_suite(void)
{
	Suite *s = suite_create("grid");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_grid_lists_ranges_and_order);
	tcase_add_test(tc, test_grid_profile_first_and_defaults);
	tcase_add_test(tc, test_grid_range_edges);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(grid_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
