/*
 * Unit tests for the execution-driven front end (src/frontend): the
 * workload images, the Unicorn front end's event streams, and whole runs
 * of the workloads (vtsim run --workload) in every mode.
 *
 * Notes: expected counts are worked out from the programs' source
 * (the programs in workloads/, io_core.c):
 *  - io-loop, n rounds: n OUTs and n INs (2n port accesses), floor(n/16)
 *    CPUIDs and HLTs; the machine's final halt adds one HLT exit in VMX
 *    modes.
 *  - demand paging: a process touches the page of its image (every image
 *    is under 4 KiB with its .bss), one stack page (UCFE_STACK_TOP - 64 and
 *    the frames below it), and the pages its program writes.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/run.h"
#include "frontend/ucfe.h"
#include "frontend/workload.h"
#include "trace/vtt.h"
#include "trace/vtt_record.h"

/* Run workload w in mode with "name=value" settings (NULL-terminated). */
static int run_wl(const char *w, enum sim_mode mode, const char *const *sets, struct run_result *r, char **console,
		  char *err)
{
	struct sim_params p;
	char perr[256];
	params_defaults(&p);
	for (; sets && *sets; sets++)
		ck_assert_msg(params_set(&p, *sets, perr) == 0, "%s", perr);
	return sim_run_workload(&p, mode, w, NULL, r, NULL, console, err);
}

START_TEST(test_frontend_images_have_headers)
{
	char err[256];
	struct workload_header h;
	/* Every runnable workload and the bare-metal variant are embedded, load
	 * at 0x400000 and start right after the 64-byte header. */
	for (size_t i = 0; i < workload_count; i++) {
		const struct workload_image *img = workload_image_find(workloads[i].name);
		ck_assert_msg(img != NULL, "%s", workloads[i].name);
		ck_assert_msg(workload_header(img, &h, err) == 0, "%s", err);
		ck_assert_uint_eq(h.load_addr, 0x400000);
		ck_assert_uint_eq(h.entry, 0x400040);
		ck_assert_uint_ne(h.child_entry, 0);
		ck_assert_uint_eq(h.final_hlt, 0);
		ck_assert_uint_lt(h.mem_end, 0x401000); /* one page */
	}
	const struct workload_image *kvm = workload_image_find("kvm-io");
	ck_assert_ptr_nonnull(kvm);
	ck_assert_int_eq(workload_header(kvm, &h, err), 0);
	ck_assert_uint_eq(h.child_entry, 0);
	ck_assert_uint_gt(h.final_hlt, h.entry);
	ck_assert_ptr_null(workload_find("kvm-io", err)); /* not runnable in the simulator */
	ck_assert_ptr_null(workload_find("nope", err));
	ck_assert_str_eq(err, "unknown workload 'nope'; available: matmul, pointer-chase, hash-lookup, process-churn, "
			      "mmap-churn, io-loop, net-io, disk-read");
	/* A corrupt image is refused with one line. */
	unsigned char bad[64] = {0};
	struct workload_image b = {"bad", bad, sizeof(bad)};
	ck_assert_int_eq(workload_header(&b, &h, err), -1);
	ck_assert_str_eq(err, "workload image bad: no VTWLIMG1 header (not built from workloads/link.ld?)");
}
END_TEST

/* The io-loop stream of 16 rounds, pulled event by event: every port
 * access, the CPUID and the HLT come right after their instruction's fetch
 * (OUT DX, AL and IN AL, DX: 1 byte; CPUID 2; HLT 1), and the stream ends
 * with the exit. */
START_TEST(test_frontend_io_loop_stream)
{
	char err[512];
	struct ucfe_args a = {0, 16, 1};
	const struct workload *w = workload_find("io-loop", err);
	struct ucfe *u = ucfe_open(w, &a, err);
	ck_assert_msg(u != NULL, "%s", err);
	struct proc_source ps;
	ucfe_proc_source(u, &ps);
	ck_assert_uint_eq(ps.root, 1);
	struct frontend fe;
	ck_assert_int_eq(ps.open(ps.ctx, 1, &fe, err), 0);
	struct guest_event ev, prev = {0};
	uint64_t n[GEV_KIND_COUNT] = {0}, outs = 0, ins = 0, events = 0;
	int r;
	while ((r = fe.next(fe.ctx, &ev, err)) == 1) {
		if (events++ == 0) {
			ck_assert_int_eq(ev.kind, GEV_FETCH);
			ck_assert_uint_eq(ev.gva, 0x400040); /* _start */
		}
		ck_assert_uint_eq(ev.pid, 1);
		n[ev.kind]++;
		if (ev.kind == GEV_IO) {
			ck_assert_int_eq(prev.kind, GEV_FETCH);
			ck_assert_uint_eq(prev.size, 1);
			ck_assert_uint_eq(ev.size, 1);
			if (ev.arg == 0) {
				ck_assert_uint_eq(ev.gva, 0x3f8);
				ck_assert_uint_eq(ev.len, 'a' + outs % 26);
				outs++;
			} else {
				ck_assert_uint_eq(ev.arg, 1);
				ck_assert_uint_eq(ev.gva, 0x3fd);
				ins++;
			}
		} else if (ev.kind == GEV_CPUID) {
			ck_assert_int_eq(prev.kind, GEV_FETCH);
			ck_assert_uint_eq(prev.size, 2);
			ck_assert_uint_eq(ev.arg, 0);
		} else if (ev.kind == GEV_HLT) {
			ck_assert_int_eq(prev.kind, GEV_FETCH);
			ck_assert_uint_eq(prev.size, 1);
		}
		prev = ev;
	}
	ck_assert_msg(r == 0, "%s", err);
	ck_assert_int_eq(prev.kind, GEV_PROC_EXIT);
	ck_assert_uint_eq(outs, 16);
	ck_assert_uint_eq(ins, 16);
	ck_assert_uint_eq(n[GEV_CPUID], 1);
	ck_assert_uint_eq(n[GEV_HLT], 1);
	ck_assert_uint_eq(n[GEV_PROC_EXIT], 1);
	ck_assert_uint_eq(n[GEV_MMAP] + n[GEV_MUNMAP] + n[GEV_PROC_CREATE] + n[GEV_WAIT], 0);
	/* The stream stays ended. */
	ck_assert_int_eq(fe.next(fe.ctx, &ev, err), 0);
	ps.close(ps.ctx, 1);
	ck_assert_str_eq(ucfe_console(u), "io_loop.rounds=16\nio_loop.status_sum=4080\nio_loop.nic=0\n"
					  "io_loop.nic_status_sum=0\n");
	ck_assert_uint_eq(ucfe_processes(u), 1);
	ucfe_close(u);
}
END_TEST

/* io-loop, 32 rounds: natively 64 port accesses, 2 CPUIDs, 2 HLTs that
 * idle; in VMX modes 64 I/O-instruction exits, 2 CPUID exits and 2 + 1
 * HLT exits (the final one stops the VM), and the same instructions. */
START_TEST(test_frontend_io_loop_exits)
{
	static const char *const sets[] = {"workload.iterations=32", NULL};
	struct run_result r;
	char err[CPU_ERR_LEN], *con;
	ck_assert_msg(run_wl("io-loop", MODE_NATIVE, sets, &r, &con, err) == 0, "%s", err);
	/* 32 x 0xff; the run has no NIC yet (src/cli/run.c wires none), so no MMIO */
	ck_assert_str_eq(con, "io_loop.rounds=32\nio_loop.status_sum=8160\nio_loop.nic=0\nio_loop.nic_status_sum=0\n");
	free(con);
	uint64_t insns = r.ctr.v[CTR_CPU_INSTRUCTIONS];
	ck_assert_uint_eq(r.ctr.v[CTR_CPU_IO], 64);
	ck_assert_uint_eq(r.ctr.v[CTR_CPU_CPUID], 2);
	ck_assert_uint_eq(r.ctr.v[CTR_CPU_HLT], 2);
	ck_assert_uint_gt(r.ctr.v[CTR_CPU_CYCLES_IDLE], 0);
	ck_assert_uint_eq(r.ctr.v[CTR_VMX_EXITS], 0);
	/* Each HLT idles to a tick: the run lasts past the second tick (guest.hz
	 * 250 at 4 GHz: every 16,000,000 cycles). */
	ck_assert_uint_ge(r.ctr.v[CTR_CPU_CYCLES], 32000000);
	for (enum sim_mode m = MODE_SHADOW; m <= MODE_EPT; m++) {
		ck_assert_msg(run_wl("io-loop", m, sets, &r, NULL, err) == 0, "%s", err);
		ck_assert_uint_eq(r.ctr.v[CTR_CPU_INSTRUCTIONS], insns);
		ck_assert_uint_eq(r.exits[EXIT_REASON_IO_INSTRUCTION].count, 64);
		ck_assert_uint_eq(r.exits[EXIT_REASON_CPUID].count, 2);
		ck_assert_uint_eq(r.exits[EXIT_REASON_HLT].count, 3);
		ck_assert_uint_eq(r.ctr.v[CTR_VMM_HLT], 2);
		ck_assert_uint_eq(r.ctr.v[CTR_VMM_IO], 64);
		ck_assert_uint_eq(r.ctr.v[CTR_CPU_HLT], 0);
		ck_assert_uint_eq(r.ctr.v[CTR_CPU_IO], 0);
		ck_assert_uint_gt(r.ctr.v[CTR_CPU_CYCLES_IDLE], 0);
	}
}
END_TEST

/* mmap-churn, 8 rounds of 16 KiB (4 pages): 8 mmaps, 8 + 2 munmaps
 * (rounds 3 and 7 unmap in two halves), 32 data pages + the image page +
 * a stack page faulted in, every one unmapped by the end. */
START_TEST(test_frontend_mmap_churn_counts)
{
	static const char *const sets[] = {"workload.iterations=8", "workload.size=16KiB", NULL};
	for (enum sim_mode m = MODE_NATIVE; m < MODE_COUNT; m++) {
		struct run_result r;
		char err[CPU_ERR_LEN], *con;
		ck_assert_msg(run_wl("mmap-churn", m, sets, &r, &con, err) == 0, "%s", err);
		ck_assert_str_eq(con, "mmap_churn.rounds=8\nmmap_churn.pages_touched=32\n");
		free(con);
		ck_assert_uint_eq(r.ctr.v[CTR_GUEST_SYSCALL_MMAP], 8);
		ck_assert_uint_eq(r.ctr.v[CTR_GUEST_SYSCALL_MUNMAP], 10);
		ck_assert_uint_eq(r.ctr.v[CTR_GUEST_PF], 34);
		ck_assert_uint_eq(r.ctr.v[CTR_GUEST_PAGES_MAPPED], 34);
		ck_assert_uint_eq(r.ctr.v[CTR_GUEST_PAGES_UNMAPPED], 34);
		ck_assert_uint_eq(r.ctr.v[CTR_MEM_REFS_STORE] >= 32, 1);
	}
}
END_TEST

/* process-churn, 6 processes of 8 KiB (2 pages) each: 6 creations, 6
 * waits, 7 exits (with the first process), at most 1 + 4 alive; child k
 * exits with (k + (k + 1)) & 0xff, so the statuses add up to
 * 1 + 3 + 5 + 7 + 9 + 11 = 36; each child faults in its image, stack and
 * 2 data pages, the first process its image and stack: 6 x 4 + 2 = 26. */
START_TEST(test_frontend_process_churn_counts)
{
	static const char *const sets[] = {"workload.iterations=6", "workload.size=8KiB", NULL};
	for (enum sim_mode m = MODE_NATIVE; m < MODE_COUNT; m++) {
		struct run_result r;
		char err[CPU_ERR_LEN], *con;
		ck_assert_msg(run_wl("process-churn", m, sets, &r, &con, err) == 0, "%s", err);
		ck_assert_str_eq(con, "process_churn.processes=6\nprocess_churn.status_sum=36\n");
		free(con);
		ck_assert_uint_eq(r.ctr.v[CTR_GUEST_PROC_CREATE], 6);
		ck_assert_uint_eq(r.ctr.v[CTR_GUEST_PROC_EXIT], 7);
		ck_assert_uint_eq(r.ctr.v[CTR_GUEST_SYSCALL_WAIT], 6);
		ck_assert_uint_eq(r.ctr.v[CTR_GUEST_PROC_PEAK], 5);
		ck_assert_uint_eq(r.ctr.v[CTR_GUEST_PF], 26);
		ck_assert_uint_eq(r.ctr.v[CTR_GUEST_SYSCALL_MMAP], 6);
	}
}
END_TEST

/* The acceptance shapes on small sizes: process churn costs shadow paging
 * far more than EPT; a pointer chase over 16 MiB makes EPT walks reference
 * more paging-structure entries than shadow walks. */
START_TEST(test_frontend_modes_compare)
{
	static const char *const churn[] = {"workload.iterations=24", NULL};
	static const char *const chase[] = {"workload.size=16MiB", "workload.iterations=100000", NULL};
	struct run_result r[MODE_COUNT];
	char err[CPU_ERR_LEN];
	for (enum sim_mode m = MODE_NATIVE; m < MODE_COUNT; m++)
		ck_assert_msg(run_wl("process-churn", m, churn, &r[m], NULL, err) == 0, "%s", err);
	uint64_t nat = r[MODE_NATIVE].ctr.v[CTR_CPU_CYCLES];
	uint64_t sh = r[MODE_SHADOW].ctr.v[CTR_CPU_CYCLES] - nat, ept = r[MODE_EPT].ctr.v[CTR_CPU_CYCLES] - nat;
	ck_assert_msg(sh > 10 * ept, "shadow overhead %lu cycles, EPT %lu", (unsigned long)sh, (unsigned long)ept);
	for (enum sim_mode m = MODE_NATIVE; m < MODE_COUNT; m++)
		ck_assert_msg(run_wl("pointer-chase", m, chase, &r[m], NULL, err) == 0, "%s", err);
	uint64_t sh_refs = r[MODE_SHADOW].ctr.v[CTR_WALK_GUEST_REFS];
	uint64_t ept_refs = r[MODE_EPT].ctr.v[CTR_WALK_GUEST_REFS] + r[MODE_EPT].ctr.v[CTR_WALK_EPT_REFS];
	ck_assert_msg(ept_refs > sh_refs, "EPT %lu walk refs, shadow %lu", (unsigned long)ept_refs,
		      (unsigned long)sh_refs);
	ck_assert_uint_eq(r[MODE_SHADOW].ctr.v[CTR_CPU_INSTRUCTIONS], r[MODE_EPT].ctr.v[CTR_CPU_INSTRUCTIONS]);
}
END_TEST

/* workload.size takes binary suffixes; a HLT with no timer is an error. */
START_TEST(test_frontend_params_and_errors)
{
	struct sim_params p;
	char err[CPU_ERR_LEN];
	params_defaults(&p);
	ck_assert_int_eq(params_set(&p, "workload.size=1GiB", err), 0);
	ck_assert_uint_eq(p.workload_size, 1073741824);
	ck_assert_int_eq(params_set(&p, "workload.size=64K", err), 0);
	ck_assert_uint_eq(p.workload_size, 65536);
	ck_assert_int_eq(params_set(&p, "workload.size=4096", err), 0);
	ck_assert_uint_eq(p.workload_size, 4096);
	ck_assert_int_eq(params_set(&p, "workload.size=1.5G", err), -1);
	ck_assert_str_eq(err, "parameter workload.size: '1.5G' is not a byte count (an integer with K, M, G or T, "
			      "e.g. 1GiB)");
	ck_assert_int_eq(params_set(&p, "workload.size=2TiB", err), -1);
	ck_assert_str_eq(err, "parameter workload.size: 2199023255552 is outside [0, 1099511627776] bytes");
	ck_assert_int_eq(params_set(&p, "workload.seed=18446744073709551615", err), 0);

	static const char *const no_timer[] = {"workload.iterations=16", "guest.hz=0", NULL};
	struct run_result r;
	ck_assert_int_eq(run_wl("io-loop", MODE_NATIVE, no_timer, &r, NULL, err), -1);
	ck_assert_str_eq(err, "workload io-loop: HLT with no timer interrupt pending (guest.hz=0): the core would "
			      "never wake");
	ck_assert_int_eq(run_wl("mandelbrot", MODE_NATIVE, NULL, &r, NULL, err), -1);
	ck_assert_str_eq(err, "unknown workload 'mandelbrot'; available: matmul, pointer-chase, hash-lookup, "
			      "process-churn, mmap-churn, io-loop, net-io, disk-read");
}
END_TEST

/* Run each workload in every mode with settings sets: record the native
 * run, replay the .vtt in each mode, compare every counter and exit. */
static void record_replay_all(const char *const *sets, const char *const *names, size_t nnames)
{
	const char *tmpdir = getenv("TMPDIR");
	char path[512];
	snprintf(path, sizeof(path), "%s/check_frontend_%ld.vtt", tmpdir && *tmpdir ? tmpdir : "/tmp", (long)getpid());
	struct sim_params p;
	char perr[256];
	params_defaults(&p);
	for (const char *const *s = sets; *s; s++)
		ck_assert_msg(params_set(&p, *s, perr) == 0, "%s", perr);
	for (size_t i = 0; i < nnames; i++) {
		uint64_t insns = 0;
		for (enum sim_mode m = MODE_NATIVE; m < MODE_COUNT; m++) {
			struct run_result r, replay;
			char err[CPU_ERR_LEN], *con;
			/* record in the native run; the file is the same whatever the mode */
			ck_assert_msg(sim_run_workload(&p, m, names[i], m == MODE_NATIVE ? path : NULL, &r, NULL, &con,
						       err) == 0,
				      "%s: %s", names[i], err);
			ck_assert_msg(con[0] != '\0', "%s printed nothing", names[i]);
			free(con);
			if (m == MODE_NATIVE)
				insns = r.ctr.v[CTR_CPU_INSTRUCTIONS];
			ck_assert_uint_eq(r.ctr.v[CTR_CPU_INSTRUCTIONS], insns);
			ck_assert_uint_gt(insns, 100);
			ck_assert_msg(sim_run(&p, m, path, &replay, NULL, NULL, NULL, err) == 0, "%s replay: %s",
				      names[i], err);
			for (int c = 0; c < CTR_COUNT; c++)
				ck_assert_msg(replay.ctr.v[c] == r.ctr.v[c], "%s %s: counter %s %lu recorded, %lu replayed",
					      names[i], mode_name(m), counter_table[c].name,
					      (unsigned long)r.ctr.v[c], (unsigned long)replay.ctr.v[c]);
			ck_assert_msg(memcmp(replay.exits, r.exits, sizeof(r.exits)) == 0, "%s %s: exits differ",
				      names[i], mode_name(m));
			ck_assert_str_eq(replay.format, "vtt");
		}
	}
	unlink(path);
}

/* Every workload runs to its end in every mode at a small size, with the
 * same instruction count in each mode; recorded (--record) in one mode,
 * its .vtt replays with every counter and every exit count and cycle equal
 * to the execution-driven run's, in every mode. */
START_TEST(test_frontend_every_workload_record_replay)
{
	static const char *const sets[] = {"workload.size=64KiB", "workload.iterations=3", NULL};
	const char *names[64];
	size_t n = 0;
	ck_assert_uint_le(workload_count, 64);
	for (size_t i = 0; i < workload_count; i++)
		if (!workloads[i].needs_devices) /* test_frontend_device_workloads_record_replay */
			names[n++] = workloads[i].name;
	record_replay_all(sets, names, n);
}
END_TEST

/* The device workloads on each I/O path: the MMIO and DEVIO records replay
 * the register accesses, exits, DMA, interrupts and copies exactly. */
START_TEST(test_frontend_device_workloads_record_replay)
{
	static const char *const names[] = {"io-loop", "net-io", "disk-read"};
	static const char *const paths[] = {"io.path=emulated", "io.path=assigned", "io.path=bounce"};
	for (size_t k = 0; k < 3; k++) {
		const char *sets[] = {"workload.size=16KiB", "workload.iterations=3", paths[k], NULL};
		record_replay_all(sets, names, 3);
	}
}
END_TEST


/* ---- devices: MMIO and device I/O system calls ---------------------------- */

/* Open workload name with args and the devices of mask; its first stream. */
static struct ucfe *open_wl(const char *name, uint64_t size, uint64_t iterations, uint64_t seed, unsigned mask,
			    struct frontend *fe)
{
	char err[512];
	struct ucfe_args a = {size, iterations, seed};
	const struct workload *w = workload_find(name, err);
	ck_assert_msg(w != NULL, "%s", err);
	struct ucfe *u = ucfe_open(w, &a, err);
	ck_assert_msg(u != NULL, "%s", err);
	ucfe_set_devices(u, mask);
	struct proc_source ps;
	ucfe_proc_source(u, &ps);
	ck_assert_int_eq(ps.open(ps.ctx, 1, fe, err), 0);
	return u;
}

/* GVA of the first occurrence of bytes pat in the io-loop image. */
static uint64_t image_find(const char *name, const unsigned char *pat, size_t n)
{
	const struct workload_image *img = workload_image_find(name);
	ck_assert_ptr_nonnull(img);
	for (size_t i = 0; i + n <= img->size; i++)
		if (!memcmp(img->bytes + i, pat, n))
			return 0x400000 + i;
	ck_abort_msg("pattern not in image %s", name);
	return 0;
}

static uint64_t seven(void *ctx, unsigned dev, uint64_t off, unsigned size)
{
	(void)ctx;
	ck_assert_uint_eq(dev, UCFE_DEV_NIC);
	ck_assert_uint_eq(off, 8);
	ck_assert_uint_eq(size, 4);
	return 7;
}

/* io-loop, 16 rounds, with a NIC: the mmap of its BAR (4 KiB at the first
 * mmap address, device 0, uncached), and per round after the OUT and IN
 * an MMIO store of 0 to IMC (0xD8) by the 6-byte MOV [RDX+0xD8], EAX and
 * an MMIO load of STATUS (0x08) by the 3-byte MOV EAX, [RDX+8]: each the
 * instruction itself (no fetch of those two instructions in the stream;
 * the store follows the fetch of the instruction right before it). The
 * STATUS loads read 0x83 (link up, full duplex, 1000 Mb/s): 16 x 131 =
 * 2096; with a read hook answering 7: 112. */
START_TEST(test_frontend_io_loop_mmio_stream)
{
	static const unsigned char st[] = {0x89, 0x82, 0xd8, 0, 0, 0}, ld[] = {0x8b, 0x42, 0x08};
	const uint64_t store_at = image_find("io-loop", st, sizeof(st));
	const uint64_t load_at = image_find("io-loop", ld, sizeof(ld));
	for (int hook = 0; hook < 2; hook++) {
		struct frontend fe;
		struct ucfe *u = open_wl("io-loop", 0, 16, 1, 1u << UCFE_DEV_NIC, &fe);
		if (hook)
			ucfe_set_mmio_read(u, seven, NULL);
		struct guest_event ev, prev = {0};
		uint64_t n[GEV_KIND_COUNT] = {0}, stores = 0, loads = 0;
		char err[512];
		int r;
		while ((r = fe.next(fe.ctx, &ev, err)) == 1) {
			n[ev.kind]++;
			if (ev.kind == GEV_MMAP) {
				ck_assert_uint_eq(ev.gva, UCFE_MMAP_BASE);
				ck_assert_uint_eq(ev.len, 4096);
				ck_assert_uint_eq(ev.size, UCFE_DEV_NIC);
				ck_assert_uint_eq(ev.arg, 3 | GEV_MMAP_DEVICE);
			}
			if (ev.kind == GEV_FETCH)
				ck_assert_msg(ev.gva != store_at && ev.gva != load_at, "a fetch of an MMIO instruction");
			if (ev.kind == GEV_MMIO && !(ev.arg & 1)) {
				ck_assert_uint_eq(ev.gva, UCFE_MMAP_BASE + 0xd8);
				ck_assert_uint_eq(ev.size, 4);
				ck_assert_uint_eq(ev.len, 0);
				ck_assert_uint_eq(ev.arg, 6 << 8);
				ck_assert_int_eq(prev.kind, GEV_FETCH);
				ck_assert_uint_eq(prev.gva + prev.size, store_at);
				stores++;
			} else if (ev.kind == GEV_MMIO) {
				ck_assert_uint_eq(ev.gva, UCFE_MMAP_BASE + 8);
				ck_assert_uint_eq(ev.size, 4);
				ck_assert_uint_eq(ev.len, 0);
				ck_assert_uint_eq(ev.arg, 1 | 3 << 8);
				loads++;
			}
			prev = ev;
		}
		ck_assert_msg(r == 0, "%s", err);
		ck_assert_uint_eq(stores, 16);
		ck_assert_uint_eq(loads, 16);
		ck_assert_uint_eq(n[GEV_MMAP], 1);
		ck_assert_uint_eq(n[GEV_IO], 32);
		ck_assert_uint_eq(n[GEV_CPUID], 1);
		ck_assert_uint_eq(n[GEV_HLT], 1);
		ck_assert_str_eq(ucfe_console(u), hook ? "io_loop.rounds=16\nio_loop.status_sum=4080\nio_loop.nic=1\n"
							 "io_loop.nic_status_sum=112\n"
						       : "io_loop.rounds=16\nio_loop.status_sum=4080\nio_loop.nic=1\n"
							 "io_loop.nic_status_sum=2096\n");
		ucfe_close(u);
	}
	/* The reset values the default read gives. */
	ck_assert_uint_eq(ucfe_reset_value(UCFE_DEV_NIC, 8, 4), 0x83);
	ck_assert_uint_eq(ucfe_reset_value(UCFE_DEV_NIC, 0, 4), 0);
	ck_assert_uint_eq(ucfe_reset_value(UCFE_DEV_NVME, 8, 4), 0x10400);
	ck_assert_uint_eq(ucfe_reset_value(UCFE_DEV_NVME, 0, 8), UINT64_C(0x00000020140103ff));
	ck_assert_uint_eq(ucfe_reset_value(UCFE_DEV_NVME, 2, 2), 0x1401);
	ck_assert_uint_eq(ucfe_reset_value(UCFE_DEV_NVME, 0x1c, 4), 0);
}
END_TEST

/* net-io, 5 frames of 8 KiB with a NIC: two mmaps (the 8 KiB receive
 * buffer at UCFE_MMAP_BASE, the reply page after it), then per frame a
 * DEVIO_NET_RX of the buffer, 128 loads (one per 64-byte line, in order),
 * an 8-byte store to the reply page and a DEVIO_NET_TX of 64 bytes of it.
 * Without a NIC the first receive fails and the program says so. */
START_TEST(test_frontend_net_io_stream)
{
	struct frontend fe;
	struct ucfe *u = open_wl("net-io", 8192, 5, 9, 1u << UCFE_DEV_NIC, &fe);
	const uint64_t buf = UCFE_MMAP_BASE, reply = UCFE_MMAP_BASE + 8192;
	struct guest_event ev;
	uint64_t n[GEV_KIND_COUNT] = {0}, line = 0, rx = 0, tx = 0, reply_stores = 0;
	char err[512];
	int r;
	while ((r = fe.next(fe.ctx, &ev, err)) == 1) {
		n[ev.kind]++;
		if (ev.kind == GEV_DEVIO && ev.arg == DEVIO_NET_RX) {
			ck_assert_uint_eq(ev.gva, buf);
			ck_assert_uint_eq(ev.len, 8192);
			ck_assert_uint_eq(ev.size, 0);
			ck_assert_uint_eq(line, 128 * rx); /* the previous frame was read whole */
			rx++;
		} else if (ev.kind == GEV_DEVIO) {
			ck_assert_uint_eq(ev.arg, DEVIO_NET_TX);
			ck_assert_uint_eq(ev.gva, reply);
			ck_assert_uint_eq(ev.len, 64);
			tx++;
			ck_assert_uint_eq(tx, rx);
		} else if (ev.kind == GEV_LOAD && ev.gva >= buf && ev.gva < buf + 8192) {
			ck_assert_uint_eq(ev.gva, buf + 64 * (line % 128));
			ck_assert_uint_eq(ev.size, 8);
			line++;
		} else if (ev.kind == GEV_STORE && ev.gva == reply) {
			reply_stores++;
		}
	}
	ck_assert_msg(r == 0, "%s", err);
	ck_assert_uint_eq(rx, 5);
	ck_assert_uint_eq(tx, 5);
	ck_assert_uint_eq(line, 5 * 128);
	ck_assert_uint_eq(reply_stores, 5);
	ck_assert_uint_eq(n[GEV_MMAP], 2);
	ck_assert_uint_eq(n[GEV_MMIO], 0);
	ck_assert_str_eq(ucfe_console(u), "net_io.frames=5\nnet_io.bytes_received=40960\nnet_io.bytes_sent=320\n"
					  "net_io.line_sum=0\n");
	ucfe_close(u);
	u = open_wl("net-io", 8192, 5, 9, 0, &fe);
	while ((r = fe.next(fe.ctx, &ev, err)) == 1)
		ck_assert_int_ne(ev.kind, GEV_DEVIO);
	ck_assert_str_eq(ucfe_console(u), "net_io.error=1\n");
	ucfe_close(u);
}
END_TEST

/* xorshift64* of workloads/guest.h (wl_rand). */
static uint64_t wl_rand_ref(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * UINT64_C(0x2545F4914F6CDD1D);
}

/* disk-read, 6 reads of 16 KiB with an NVMe controller: each a
 * DEVIO_BLK_READ of the buffer at sector 8 x block, block = wl_rand %
 * ((256 MiB - 16 KiB) / 4 KiB) from seed 5, then a load of each of its 4
 * pages' first word. */
START_TEST(test_frontend_disk_read_stream)
{
	struct frontend fe;
	struct ucfe *u = open_wl("disk-read", 16384, 6, 5, 1u << UCFE_DEV_NVME, &fe);
	uint64_t seed = 5, reads = 0, page_loads = 0, blocks = 0;
	struct guest_event ev;
	char err[512], want[256];
	int r;
	while ((r = fe.next(fe.ctx, &ev, err)) == 1) {
		if (ev.kind == GEV_DEVIO) {
			uint64_t block = wl_rand_ref(&seed) % (((UINT64_C(256) << 20) - 16384) / 4096);
			ck_assert_uint_eq(ev.arg, DEVIO_BLK_READ);
			ck_assert_uint_eq(ev.gva, UCFE_MMAP_BASE);
			ck_assert_uint_eq(ev.len, 16384);
			ck_assert_uint_eq(ev.size, block * 8);
			blocks += block;
			reads++;
		} else if (ev.kind == GEV_LOAD && ev.gva >= UCFE_MMAP_BASE && ev.gva < UCFE_MMAP_BASE + 16384) {
			ck_assert_uint_eq(ev.gva, UCFE_MMAP_BASE + 4096 * (page_loads % 4));
			page_loads++;
		}
	}
	ck_assert_msg(r == 0, "%s", err);
	ck_assert_uint_eq(reads, 6);
	ck_assert_uint_eq(page_loads, 24);
	snprintf(want, sizeof(want), "disk_read.reads=6\ndisk_read.bytes=98304\ndisk_read.block_sum=%lu\n"
		 "disk_read.word_sum=0\n", (unsigned long)blocks);
	ck_assert_str_eq(ucfe_console(u), want);
	ucfe_close(u);
}
END_TEST

/* The new system calls' refusals: no event, -1. mmap_device of a device
 * the machine lacks is io-loop's no-NIC path (checked above); a device
 * mapping is not unmapped in part. */
START_TEST(test_frontend_device_syscalls_refused)
{
	struct frontend fe;
	struct guest_event ev;
	char err[512];
	/* disk-read with only a NIC: the first read fails. */
	struct ucfe *u = open_wl("disk-read", 16384, 2, 1, 1u << UCFE_DEV_NIC, &fe);
	while (fe.next(fe.ctx, &ev, err) == 1)
		ck_assert_int_ne(ev.kind, GEV_DEVIO);
	ck_assert_str_eq(ucfe_console(u), "disk_read.error=1\n");
	ucfe_close(u);
	/* a size that is not a multiple of 512: refused by the program itself */
	u = open_wl("disk-read", 1000, 2, 1, 1u << UCFE_DEV_NVME, &fe);
	while (fe.next(fe.ctx, &ev, err) == 1)
		;
	ck_assert_str_eq(ucfe_console(u), "disk_read.error=2\n");
	ucfe_close(u);
}
END_TEST


/* --record of the device workloads, at the stream level (the CPU side that
 * executes them is the run's): io-loop with a NIC and net-io, recorded
 * through the .vtt recorder and read back, give exactly the events a
 * fresh front end gives: the MMIO and DEVIO records carry every field. */
START_TEST(test_frontend_device_streams_record)
{
	static const struct {
		const char *name;
		uint64_t size, iterations;
		unsigned mask;
		uint64_t mmio, devio; /* events of those kinds */
	} wl[] = {
		{"io-loop", 0, 20, 1u << UCFE_DEV_NIC, 40, 0},
		{"net-io", 4096, 7, 1u << UCFE_DEV_NIC, 0, 14},
		{"disk-read", 8192, 3, 1u << UCFE_DEV_NVME, 0, 3},
	};
	const char *tmpdir = getenv("TMPDIR");
	char path[512], err[512];
	snprintf(path, sizeof(path), "%s/check_frontend_dev_%ld.vtt", tmpdir && *tmpdir ? tmpdir : "/tmp", (long)getpid());
	for (size_t i = 0; i < sizeof(wl) / sizeof(wl[0]); i++) {
		struct frontend fe;
		struct ucfe *u = open_wl(wl[i].name, wl[i].size, wl[i].iterations, 3, wl[i].mask, &fe);
		struct proc_source inner, rec;
		ucfe_proc_source(u, &inner);
		struct vtt_meta m = {1, "unicorn", 0x1234, 0};
		struct vtt_recorder *r = vtt_recorder_open(path, &inner, &m, err);
		ck_assert_msg(r != NULL, "%s", err);
		vtt_recorder_source(r, &rec);
		struct frontend rfe;
		ck_assert_int_eq(rec.open(rec.ctx, 1, &rfe, err), 0);
		struct guest_event ev;
		uint64_t n = 0;
		int rc;
		while ((rc = rfe.next(rfe.ctx, &ev, err)) == 1)
			n++;
		ck_assert_msg(rc == 0, "%s", err);
		rec.close(rec.ctx, 1);
		ck_assert_msg(vtt_recorder_finish(r, err) == 0, "%s", err);
		vtt_recorder_free(r);
		ucfe_close(u);

		struct vtt *f = vtt_open(path, err);
		ck_assert_msg(f != NULL, "%s", err);
		struct frontend vfe;
		ck_assert_int_eq(vtt_open_proc(f, 1, &vfe, err), 0);
		u = open_wl(wl[i].name, wl[i].size, wl[i].iterations, 3, wl[i].mask, &fe);
		struct guest_event a, b;
		uint64_t got = 0, kinds[GEV_KIND_COUNT] = {0};
		while ((rc = fe.next(fe.ctx, &a, err)) == 1) {
			ck_assert_int_eq(vfe.next(vfe.ctx, &b, err), 1);
			ck_assert_msg(a.kind == b.kind && a.size == b.size && a.gva == b.gva && a.len == b.len &&
					      a.pid == b.pid && a.arg == b.arg,
				      "%s event %lu differs", wl[i].name, (unsigned long)got);
			kinds[a.kind]++;
			got++;
		}
		ck_assert_int_eq(rc, 0);
		ck_assert_int_eq(vfe.next(vfe.ctx, &b, err), 0);
		ck_assert_uint_eq(got, n);
		ck_assert_uint_eq(kinds[GEV_MMIO], wl[i].mmio);
		ck_assert_uint_eq(kinds[GEV_DEVIO], wl[i].devio);
		vtt_close(f);
		ucfe_close(u);
	}
	unlink(path);
}
END_TEST

static Suite *frontend_suite(void)
{
	Suite *s = suite_create("frontend");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_frontend_images_have_headers);
	tcase_add_test(tc, test_frontend_io_loop_stream);
	tcase_add_test(tc, test_frontend_io_loop_exits);
	tcase_add_test(tc, test_frontend_mmap_churn_counts);
	tcase_add_test(tc, test_frontend_process_churn_counts);
	tcase_add_test(tc, test_frontend_modes_compare);
	tcase_add_test(tc, test_frontend_params_and_errors);
	tcase_add_test(tc, test_frontend_every_workload_record_replay);
	tcase_add_test(tc, test_frontend_device_workloads_record_replay);
	suite_add_tcase(s, tc);
	tc = tcase_create("devices");
	tcase_add_test(tc, test_frontend_io_loop_mmio_stream);
	tcase_add_test(tc, test_frontend_net_io_stream);
	tcase_add_test(tc, test_frontend_disk_read_stream);
	tcase_add_test(tc, test_frontend_device_syscalls_refused);
	tcase_add_test(tc, test_frontend_device_streams_record);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(frontend_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
