/*
 * Benchmark: speed of execution-driven runs (vtsim run --workload) per
 * workload and mode: guest instructions per second and guest memory
 * references (fetches, loads, stores) per second of the whole run (Unicorn
 * executing the program + the simulation), and, for workloads of one
 * process, of the Unicorn front end alone (its stream drained without a
 * simulator). Each measurement is the fastest of 3 (the machine's noise
 * only ever adds time). Prints a table; asserts nothing.
 *
 * Usage: bench_workloads [--set NAME=VALUE]... [WORKLOAD...]
 *        (default: every workload with its default arguments; the device
 *        workloads, net-io and disk-read, with io.path=emulated unless
 *        --set io.path says otherwise)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/run.h"
#include "frontend/ucfe.h"
#include "frontend/workload.h"

#define REPS 3

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t refs_of(const struct run_result *r)
{
	return r->ctr.v[CTR_MEM_REFS_FETCH] + r->ctr.v[CTR_MEM_REFS_LOAD] + r->ctr.v[CTR_MEM_REFS_STORE] +
	       r->ctr.v[CTR_MEM_REFS_MODIFY];
}

/* The front end alone: drain the first process's stream. Returns seconds,
 * or a negative value if the workload has more than one process. */
static double frontend_only(const struct workload *w, const struct sim_params *p, uint64_t *insns)
{
	char err[512];
	struct ucfe_args a = {p->workload_size, p->workload_iterations, p->workload_seed};
	struct ucfe *u = ucfe_open(w, &a, err);
	if (!u) {
		fprintf(stderr, "bench_workloads: %s\n", err);
		exit(1);
	}
	if (p->io_path != IO_NONE)
		ucfe_set_devices(u, (1u << UCFE_DEV_NIC) | (1u << UCFE_DEV_NVME));
	struct proc_source ps;
	ucfe_proc_source(u, &ps);
	struct frontend fe;
	if (ps.open(ps.ctx, ps.root, &fe, err) < 0) {
		fprintf(stderr, "bench_workloads: %s\n", err);
		exit(1);
	}
	struct guest_event ev;
	double t0 = now();
	int r;
	*insns = 0;
	while ((r = fe.next(fe.ctx, &ev, err)) == 1) {
		if (ev.kind == GEV_PROC_CREATE) {
			ucfe_close(u);
			return -1.0;
		}
		*insns += ev.kind == GEV_FETCH;
	}
	double t = now() - t0;
	if (r < 0) {
		fprintf(stderr, "bench_workloads: %s\n", err);
		exit(1);
	}
	ucfe_close(u);
	return t;
}

int main(int argc, char **argv)
{
	struct sim_params p;
	params_defaults(&p);
	const char *names[64];
	int n = 0;
	for (int i = 1; i < argc; i++) {
		char err[256];
		if (!strcmp(argv[i], "--set") && i + 1 < argc) {
			if (params_set(&p, argv[++i], err) < 0) {
				fprintf(stderr, "bench_workloads: %s\n", err);
				return 2;
			}
		} else if (n < 64) {
			if (!workload_find(argv[i], err)) {
				fprintf(stderr, "bench_workloads: %s\n", err);
				return 2;
			}
			names[n++] = argv[i];
		}
	}
	if (n == 0)
		for (size_t i = 0; i < workload_count; i++)
			names[n++] = workloads[i].name;
	printf("%-14s %-7s %12s %12s %8s %12s %12s %14s\n", "workload", "mode", "guest insns", "mem refs", "run s",
	       "M insn/s", "M refs/s", "Unicorn M insn/s");
	for (int k = 0; k < n; k++) {
		char err[CPU_ERR_LEN];
		const struct workload *w = workload_find(names[k], err);
		struct sim_params pw = p; /* a device workload gets emulated devices unless --set io.path says */
		if (w->needs_devices && pw.io_path == IO_NONE)
			pw.io_path = IO_EMULATED;
		uint64_t fe_insns = 0;
		double fe_s = 1e30;
		for (int rep = 0; rep < REPS; rep++) {
			double s = frontend_only(w, &pw, &fe_insns);
			if (s < 0) {
				fe_s = -1;
				break;
			}
			fe_s = s < fe_s ? s : fe_s;
		}
		for (int m = 0; m < MODE_COUNT; m++) {
			struct run_result *r = calloc(1, sizeof(*r));
			double best = 1e30;
			for (int rep = 0; rep < REPS; rep++) {
				if (sim_run_workload(&pw, (enum sim_mode)m, w->name, NULL, r, NULL, NULL, err) != 0) {
					fprintf(stderr, "bench_workloads: %s\n", err);
					return 1;
				}
				best = r->wall_seconds < best ? r->wall_seconds : best;
			}
			uint64_t insns = r->ctr.v[CTR_CPU_INSTRUCTIONS], refs = refs_of(r);
			char fe[32] = "-";
			if (fe_s > 0 && m == 0)
				snprintf(fe, sizeof(fe), "%.1f", (double)fe_insns / fe_s / 1e6);
			printf("%-14s %-7s %12" PRIu64 " %12" PRIu64 " %8.3f %12.2f %12.2f %14s\n", w->name,
			       mode_name((enum sim_mode)m), insns, refs, best, (double)insns / best / 1e6,
			       (double)refs / best / 1e6, fe);
			free(r);
		}
	}
	return 0;
}
