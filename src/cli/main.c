/*
 * The vtsim command: run, compare, trace info/import, db export, params, explain, lab.
 * Exit status: 0 success, 1 a run or input failed (one-line message on
 * stderr), 2 a usage error, 130 interrupted (finished runs are kept).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/dbplot.h"
#include "cli/explain.h"
#include "cli/lab.h"
#include "vmm/swiotlb.h"
#include "cli/report.h"
#include "cli/plot.h"
#include "cli/run.h"
#include "cli/sweep.h"
#include "cpu/params.h"
#include "db/db.h"
#include "frontend/workload.h"
#include "stats/counters.h"
#include "trace/drmem.h"
#include "trace/trace.h"
#include "trace/traceset.h"
#include "trace/vtt.h"
#include "trace/vtt_format.h"
#include "util/u64map.h"
#include "vmcs/vmcs.h"

#define DEFAULT_DB "results/vtsim.db"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void die_usage(const char *cmd, const char *msg)
{
	fprintf(stderr, "vtsim%s%s: %s\nTry 'vtsim%s%s --help'.\n", cmd ? " " : "", cmd ? cmd : "", msg,
		cmd ? " " : "", cmd ? cmd : "");
	exit(2);
}

/* ---- progress on a terminal ------------------------------------------- */

struct progress {
	const char *label;
	double last;
	bool shown;
};

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void show_progress(void *ctx, uint64_t done, uint64_t total, uint64_t cycles)
{
	struct progress *pg = ctx;
	double t = mono();
	if (t - pg->last < 0.25)
		return;
	pg->last = t;
	pg->shown = true;
	fprintf(stderr, "\r[%s] %5.1f%% of %.1f MiB read, %.3g cycles simulated ", pg->label,
		total ? 100.0 * (double)done / (double)total : 0.0, (double)total / 1048576.0, (double)cycles);
	fflush(stderr);
}

static void end_progress(struct progress *pg)
{
	if (pg->shown)
		fprintf(stderr, "\r%*s\r", 78, "");
	pg->shown = false;
}

/* ---- options shared by run and compare --------------------------------- */

struct run_opts {
	const char *trace;
	const char *workload; /* --workload NAME instead of a trace */
	const char *record;   /* --record FILE.vtt (run --workload) */
	char source[300];     /* what ran: the trace path, or "workload:NAME" */
	const char *plot;
	const char *db_path;
	bool store;
	struct sim_params params;
	enum sim_mode modes[MODE_COUNT];
	int nmodes;
};

static void add_modes(struct run_opts *o, const char *cmd, const char *list)
{
	char buf[256], err[CPU_ERR_LEN];
	snprintf(buf, sizeof(buf), "%s", list);
	o->nmodes = 0;
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		enum sim_mode m;
		if (mode_parse(tok, &m, err) < 0)
			die_usage(cmd, err);
		for (int i = 0; i < o->nmodes; i++)
			if (o->modes[i] == m)
				die_usage(cmd, "a mode is listed twice");
		o->modes[o->nmodes++] = m;
	}
	if (!o->nmodes)
		die_usage(cmd, "--modes needs at least one mode");
}

/* One --set: a cpu.profile assignment becomes the profile (applied first),
 * anything else is kept in order in sets. */
static void add_set(const char *arg, const char **profile, char **sets, int *nsets)
{
	if (!strncmp(arg, "cpu.profile=", 12))
		*profile = arg + 12;
	else
		sets[(*nsets)++] = (char *)arg;
}

/* Refuse leftover arguments (extra_args), then apply the profile (a base,
 * whatever its place on the command line) and every --set in order; a bad
 * one ends the command with exit 2. Frees sets. */
static void apply_params(struct sim_params *p, const char *profile, char **sets, int nsets, bool extra_args,
			 const char *cmd)
{
	if (extra_args)
		die_usage(cmd, "unexpected argument (options only)");
	char err[256];
	if (profile) {
		char a[128];
		snprintf(a, sizeof(a), "cpu.profile=%s", profile);
		if (params_set(p, a, err) < 0)
			die_usage(cmd, err);
	}
	for (int i = 0; i < nsets; i++)
		if (params_set(p, sets[i], err) < 0)
			die_usage(cmd, err);
	free(sets);
}

/* A whole option value as a number (0x... hex, 0... octal or decimal,
 * strtoull's rules): true with *out, false if anything is left over or
 * it does not fit. */
static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	*out = strtoull(s, &end, 0);
	return !errno && end != s && !*end;
}

static void parse_run_opts(int argc, char **argv, const char *cmd, struct run_opts *o, const char *help)
{
	static const struct option longopts[] = {
		{"trace", required_argument, NULL, 't'}, {"mode", required_argument, NULL, 'm'},
		{"modes", required_argument, NULL, 'M'}, {"vpid", required_argument, NULL, 'v'},
		{"set", required_argument, NULL, 's'},   {"db", required_argument, NULL, 'd'},
		{"no-store", no_argument, NULL, 'n'},    {"help", no_argument, NULL, 'h'},
		{"plot", required_argument, NULL, 'p'},  {"profile", required_argument, NULL, 'P'},
		{"workload", required_argument, NULL, 'w'},
		{"record", required_argument, NULL, 'r'},
		{"io", required_argument, NULL, 'I'},
		{NULL, 0, NULL, 0},
	};
	char err[256];
	bool is_run = !strcmp(cmd, "run");
	/* The profile is a base: applied first, whatever its place on the
	 * command line, so that every --set (and --vpid) overrides it. */
	const char *profile = NULL;
	char **sets = calloc((size_t)argc + 1, sizeof(*sets));
	int nsets = 0;
	if (!sets)
		die_usage(cmd, "out of memory");
	memset(o, 0, sizeof(*o));
	o->db_path = DEFAULT_DB;
	o->store = true;
	params_defaults(&o->params);
	if (!is_run) {
		o->modes[0] = MODE_NATIVE;
		o->modes[1] = MODE_SHADOW;
		o->modes[2] = MODE_EPT;
		o->nmodes = 3;
	}
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "t:m:s:d:h", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			o->trace = optarg;
			break;
		case 'w':
			o->workload = optarg;
			break;
		case 'r':
			if (!is_run)
				die_usage(cmd, "--record takes one run: use it with run");
			o->record = optarg;
			break;
		case 'm':
			if (!is_run)
				die_usage(cmd, "use --modes with compare");
			add_modes(o, cmd, optarg);
			if (o->nmodes != 1)
				die_usage(cmd, "--mode takes one mode (use compare for several)");
			break;
		case 'M':
			if (is_run)
				die_usage(cmd, "use --mode with run");
			add_modes(o, cmd, optarg);
			break;
		case 'v': {
			struct sim_params scratch;
			char a[64];
			snprintf(a, sizeof(a), "vmx.vpid=%s", optarg);
			if (params_set(&scratch, a, err) < 0)
				die_usage(cmd, "--vpid takes on or off");
			sets[nsets++] = scratch.vmx_vpid ? "vmx.vpid=on" : "vmx.vpid=off";
			break;
		}
		case 's':
			add_set(optarg, &profile, sets, &nsets);
			break;
		case 'I': {
			static const char *const io_sets[] = {"io.path=emulated", "io.path=assigned", "io.path=bounce"};
			int k = !strcmp(optarg, "emulated") ? 0 : !strcmp(optarg, "assigned") ? 1 : !strcmp(optarg, "bounce") ? 2 : -1;
			if (k < 0)
				die_usage(cmd, "--io takes emulated, assigned or bounce");
			sets[nsets++] = (char *)io_sets[k];
			break;
		}
		case 'P':
			profile = optarg;
			break;
		case 'd':
			o->db_path = optarg;
			break;
		case 'n':
			o->store = false;
			break;
		case 'p':
			o->plot = optarg;
			break;
		case 'h':
			fputs(help, stdout);
			exit(0);
		default:
			die_usage(cmd, "bad option");
		}
	}
	apply_params(&o->params, profile, sets, nsets, optind < argc, cmd);
	if (o->trace && o->workload)
		die_usage(cmd, "--trace and --workload exclude each other: run one of them");
	if (!o->trace && !o->workload)
		die_usage(cmd, "--trace is required (or --workload W)");
	if (o->workload && !workload_find(o->workload, err))
		die_usage(cmd, err);
	if (o->record && !o->workload)
		die_usage(cmd, "--record records a --workload run (a trace is already a recording: see trace import)");
	if (o->workload)
		snprintf(o->source, sizeof(o->source), "workload:%s", o->workload);
	else
		snprintf(o->source, sizeof(o->source), "%s", o->trace);
	if (is_run && o->nmodes != 1)
		die_usage(cmd, "--mode is required (native, shadow or ept)");
	if (params_validate(&o->params, err) < 0)
		die_usage(cmd, err);
}

/* ---- storing ------------------------------------------------------------ */

static struct db *open_db(const char *path)
{
	char err[DB_ERR_LEN];
	if (db_ensure_parent_dir(path, err) < 0) {
		fprintf(stderr, "vtsim: %s\n", err);
		return NULL;
	}
	struct db *db = db_open(path, err);
	if (!db)
		fprintf(stderr, "vtsim: %s\n", err);
	return db;
}

/* The last component of path (trace_base_name); valid until the next call. */
static const char *base_name(const char *path)
{
	static char buf[256];
	return trace_base_name(path, buf, sizeof(buf));
}

static int64_t store_run(struct db *db, const struct run_opts *o, enum sim_mode mode, const struct run_result *r,
			 const char *group)
{
	char err[DB_ERR_LEN];
	int64_t id = run_store(db, &o->params, mode, o->source, r, group, 0, false, NULL, err);
	if (id < 0)
		fprintf(stderr, "vtsim: %s\n", err);
	return id;
}

/* ---- the side-by-side table --------------------------------------------- */

static void print_table(const struct run_opts *o, const struct run_result *res, const int64_t *ids)
{
	const int n = o->nmodes;
	const struct run_result *native = NULL;
	for (int i = 0; i < n; i++)
		if (o->modes[i] == MODE_NATIVE)
			native = &res[i];

	if (o->workload)
		printf("workload %s (%s, image %" PRIu64 " bytes, xxh3 %s) size=%" PRIu64 " iterations=%" PRIu64
		       " seed=%" PRIu64 " (0 = the workload's default)\n",
		       o->workload, res[0].format, res[0].trace_bytes, res[0].checksum, o->params.workload_size,
		       o->params.workload_iterations, o->params.workload_seed);
	else
		printf("trace    %s (%s, %.1f MiB, xxh3 %s)\n", o->trace, res[0].format,
		       (double)res[0].trace_bytes / 1048576.0, res[0].checksum);
	static const char *const backing[] = {[PAGE_SIZE_4K] = "4k", [PAGE_SIZE_2M] = "2m", [PAGE_SIZE_1G] = "1g"};
	printf("params   profile=%s vpid=%s ept.ad=%s shadow.unsync=%s vmm.backing=%s tlb l1i %" PRIu64 "/%" PRIu64
	       "w l1d %" PRIu64 "/%" PRIu64 "w l2 %" PRIu64 "/%" PRIu64 "w, cache %" PRIu64 "/%" PRIu64 "/%" PRIu64
	       "/%" PRIu64 " cycles\n\n",
	       cpu_profiles[o->params.cpu_profile].name, o->params.vmx_vpid ? "on" : "off", o->params.ept_ad ? "on" : "off",
	       o->params.shadow_unsync ? "on" : "off", backing[o->params.vmm_backing], o->params.tlb_l1i_entries,
	       o->params.tlb_l1i_ways, o->params.tlb_l1d_entries, o->params.tlb_l1d_ways, o->params.tlb_l2_entries,
	       o->params.tlb_l2_ways, o->params.cache_cycles[0], o->params.cache_cycles[1], o->params.cache_cycles[2],
	       o->params.cache_cycles[3]);
	printf("%-28s", "");
	for (int i = 0; i < n; i++)
		printf("%18s", mode_name(o->modes[i]));
	printf("\n");

	static const struct {
		const char *label;
		enum counter_id id;
	} rows[] = {
		{"cycles", CTR_CPU_CYCLES},
		{"instructions", CTR_CPU_INSTRUCTIONS},
		{"  cycles: base", CTR_CPU_CYCLES_BASE},
		{"  cycles: L2 TLB hits", CTR_CPU_CYCLES_TLB},
		{"  cycles: page walks", CTR_CPU_CYCLES_WALK},
		{"    guest dimension", CTR_CPU_CYCLES_WALK_GUEST},
		{"    EPT dimension", CTR_CPU_CYCLES_WALK_EPT},
		{"  cycles: guest kernel", CTR_CPU_CYCLES_GUEST_KERNEL},
		{"    page faults", CTR_CPU_CYCLES_GUEST_KERNEL_PF},
		{"    system calls, processes", CTR_CPU_CYCLES_GUEST_KERNEL_PROC},
		{"    timer ticks", CTR_CPU_CYCLES_GUEST_KERNEL_TICK},
		{"  cycles: VM exit/entry", CTR_CPU_CYCLES_VMEXIT},
		{"  cycles: VMM", CTR_CPU_CYCLES_VMM},
		{"L1 ITLB misses", CTR_TLB_L1I_MISS},
		{"L1 DTLB misses", CTR_TLB_L1D_MISS},
		{"L2 TLB misses", CTR_TLB_L2_MISS},
		{"page walks", CTR_WALK_COUNT},
		{"walk refs: guest dimension", CTR_WALK_GUEST_REFS},
		{"walk refs: EPT dimension", CTR_WALK_EPT_REFS},
		{"walk refs: A/D writes", CTR_WALK_GUEST_AD_WRITES},
		{"guest kernel writes", CTR_MEM_REFS_KERNEL},
		{"guest page faults", CTR_GUEST_PF},
		{"processes (peak)", CTR_GUEST_PROC_PEAK},
		{"context switches", CTR_GUEST_CONTEXT_SWITCHES},
		{"guest PT pages (peak)", CTR_GUEST_PT_PAGES_PEAK},
		{"shadow PT pages (peak)", CTR_VMM_SHADOW_PAGES_PEAK},
		{"EPT table pages", CTR_VMM_EPT_TABLE_PAGES},
		{"shadow: hidden faults", CTR_VMM_SHADOW_HIDDEN_FAULTS},
		{"shadow: guest faults", CTR_VMM_SHADOW_GUEST_FAULTS},
		{"shadow: PTE writes emulated", CTR_VMM_SHADOW_WRITES_EMULATED},
		{"VMM: INVVPID", CTR_VMM_INVVPID},
		{"TLB flushes: VPID 0", CTR_TLB_FLUSH_VPID},
		{"VM exits", CTR_VMX_EXITS},
	};
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		printf("%-28s", rows[r].label);
		for (int i = 0; i < n; i++)
			printf("%18" PRIu64, res[i].ctr.v[rows[r].id]);
		printf("\n");
		if (rows[r].id == CTR_CPU_CYCLES && native) {
			printf("%-28s", "overhead over native");
			for (int i = 0; i < n; i++) {
				double nat = (double)native->ctr.v[CTR_CPU_CYCLES];
				double ov = nat > 0 ? 100.0 * ((double)res[i].ctr.v[CTR_CPU_CYCLES] - nat) / nat : 0.0;
				printf("%17.2f%%", ov);
			}
			printf("\n");
		}
		if (rows[r].id == CTR_WALK_EPT_REFS) {
			/* Hit rates of the paging-structure caches per level and dimension
			 * and of the nested TLB (hits / lookups, %). */
			static const struct {
				const char *label;
				enum counter_id hit;
			} rates[] = {
				{"PWC hit %: guest PML4E", CTR_WALK_PWC_GUEST_PML4E_HIT},
				{"PWC hit %: guest PDPTE", CTR_WALK_PWC_GUEST_PDPTE_HIT},
				{"PWC hit %: guest PDE", CTR_WALK_PWC_GUEST_PDE_HIT},
				{"PWC hit %: EPT PML4E", CTR_WALK_PWC_EPT_PML4E_HIT},
				{"PWC hit %: EPT PDPTE", CTR_WALK_PWC_EPT_PDPTE_HIT},
				{"PWC hit %: EPT PDE", CTR_WALK_PWC_EPT_PDE_HIT},
				{"nested TLB hit %", CTR_WALK_NTLB_HIT},
			};
			for (size_t k = 0; k < sizeof(rates) / sizeof(rates[0]); k++) {
				printf("%-28s", rates[k].label);
				for (int i = 0; i < n; i++) {
					uint64_t h = res[i].ctr.v[rates[k].hit], m = res[i].ctr.v[rates[k].hit + 1];
					if (h + m)
						printf("%18.1f", 100.0 * (double)h / (double)(h + m));
					else
						printf("%18s", "-");
				}
				printf("\n");
			}
			printf("%-28s", "walk refs per walk");
			for (int i = 0; i < n; i++) {
				uint64_t w = res[i].ctr.v[CTR_WALK_COUNT];
				uint64_t refs = res[i].ctr.v[CTR_WALK_GUEST_REFS] + res[i].ctr.v[CTR_WALK_EPT_REFS];
				printf("%18.2f", w ? (double)refs / (double)w : 0.0);
			}
			printf("\n");
			/* Where paging-structure accesses found their lines (% of all). */
			static const char *const served[] = {"PT accesses in L1D %", "PT accesses in L2 %",
							     "PT accesses in LLC %", "PT accesses in DRAM %"};
			for (int lv = 0; lv < CACHE_NLEVELS; lv++) {
				printf("%-28s", served[lv]);
				for (int i = 0; i < n; i++) {
					uint64_t all = 0;
					for (int k = 0; k < CACHE_NLEVELS; k++)
						all += res[i].ctr.v[CTR_CACHE_PT_L1D + k];
					if (all)
						printf("%18.1f",
						       100.0 * (double)res[i].ctr.v[CTR_CACHE_PT_L1D + lv] / (double)all);
					else
						printf("%18s", "-");
				}
				printf("\n");
			}
			printf("%-28s", "cycles per walk ref");
			for (int i = 0; i < n; i++) {
				uint64_t refs = res[i].ctr.v[CTR_WALK_GUEST_REFS] + res[i].ctr.v[CTR_WALK_EPT_REFS] +
						res[i].ctr.v[CTR_WALK_GUEST_AD_WRITES] + res[i].ctr.v[CTR_WALK_EPT_AD_WRITES];
				printf("%18.2f", refs ? (double)res[i].ctr.v[CTR_CPU_CYCLES_WALK] / (double)refs : 0.0);
			}
			printf("\n");
		}
	}
	for (unsigned e = 0; e < EXIT_REASON_MAX; e++) {
		bool any = false;
		for (int i = 0; i < n; i++)
			any |= res[i].exits[e].count != 0;
		if (!any)
			continue;
		char label[64];
		snprintf(label, sizeof(label), "  exit %s", exit_reason_name(e));
		printf("%-28s", label);
		for (int i = 0; i < n; i++)
			printf("%18" PRIu64, res[i].exits[e].count);
		printf("\n%-28s", "    cycles");
		for (int i = 0; i < n; i++)
			printf("%18" PRIu64, res[i].exits[e].cycles);
		printf("\n");
	}
	if (o->params.io_path != IO_NONE) {
		/* The I/O path (io.path): device work, interrupts, copies. */
		static const char *const paths[] = {"none", "emulated", "assigned", "bounce"};
		printf("I/O path: %s%s\n", paths[o->params.io_path],
		       o->params.io_path == IO_ASSIGNED ? (o->params.io_posted ? " (interrupts posted)" : " (interrupts remapped)")
							: "");
		static const struct {
			const char *label;
			enum counter_id id;
		} io_rows[] = {
			{"I/O requests", CTR_GUEST_IO_REQUESTS},
			{"I/O bytes", CTR_GUEST_IO_BYTES},
			{"  cycles: guest I/O IRQs", CTR_CPU_CYCLES_GUEST_KERNEL_IO},
			{"MMIO reaching the device", CTR_CPU_MMIO_READS},
			{"  (stores)", CTR_CPU_MMIO_WRITES},
			{"MMIO emulated by the VMM", CTR_VMM_MMIO_EMULATED},
			{"BAR pages mapped by EPT", CTR_VMM_MMIO_MAPPED},
			{"interrupts: native IDT", CTR_INTR_DELIVERED},
			{"interrupts: exiting", CTR_INTR_EXITING},
			{"interrupts: posted", CTR_INTR_POSTED},
			{"interrupts: injected", CTR_VMM_INTR_INJECTED},
			{"device DMA requests", CTR_DEV_DMA_REQUESTS},
			{"device DMA bytes", CTR_DEV_DMA_BYTES},
			{"iommu.requests", CTR_IOMMU_REQUESTS},
			{"iommu.iotlb.hit", CTR_IOMMU_IOTLB_HIT},
			{"iommu.iotlb.miss", CTR_IOMMU_IOTLB_MISS},
			{"iommu.walk.refs", CTR_IOMMU_WALK_REFS},
			{"VMM copy bytes", CTR_VMM_IO_COPY_BYTES},
			{"dma.bounce.copies", CTR_DMA_BOUNCE_COPIES},
			{"dma.bounce.bytes", CTR_DMA_BOUNCE_BYTES},
		};
		for (size_t r = 0; r < sizeof(io_rows) / sizeof(io_rows[0]); r++) {
			printf("%-28s", io_rows[r].label);
			for (int i = 0; i < n; i++)
				printf("%18" PRIu64, res[i].ctr.v[io_rows[r].id]);
			printf("\n");
		}
		printf("%-28s", "IOTLB hit %");
		for (int i = 0; i < n; i++) {
			uint64_t h = res[i].ctr.v[CTR_IOMMU_IOTLB_HIT], m = res[i].ctr.v[CTR_IOMMU_IOTLB_MISS];
			if (h + m)
				printf("%18.1f", 100.0 * (double)h / (double)(h + m));
			else
				printf("%18s", "-");
		}
		printf("\n");
	}
	if (ids) {
		printf("%-28s", "stored as run id");
		for (int i = 0; i < n; i++)
			printf("%18" PRId64, ids[i]);
		printf("\n");
	}
}

static const char run_help[] =
	"Usage: vtsim run --trace T | --workload W --mode native|shadow|ept [options]\n"
	"       vtsim compare --trace T | --workload W [--modes native,shadow,ept] [options]\n"
	"\n"
	"Run a trace (a Valgrind lackey log, plain or zstd-compressed, a trace\n"
	"set: a directory of per-process logs from --trace-children=yes\n"
	"--log-file=DIR/trace.%p[.%n], or a .vtt from `vtsim trace import`; the\n"
	"format is told by content) in one mode (run) or in several side by side\n"
	"(compare), print the results and store every run in the SQLite database.\n"
	"\n"
	"  -t, --trace T        the trace file (lackey or .vtt) or trace-set directory\n"
	"      --workload W     run guest program W execution-driven in Unicorn instead:\n"
	"                       matmul, pointer-chase, hash-lookup, process-churn,\n"
	"                       mmap-churn, io-loop (docs/workloads.md; its arguments\n"
	"                       are --set workload.size=BYTES, workload.iterations=N,\n"
	"                       workload.seed=N)\n"
	"      --record F.vtt   run --workload: write every event the guest executed to\n"
	"                       a .vtt; `run --trace F.vtt` repeats the run's counters\n"
	"  -m, --mode M         run: native, shadow or ept\n"
	"      --modes M,M      compare: modes to run (default native,shadow,ept)\n"
	"      --vpid on|off    \"enable VPID\" for VMX modes (default on); off flushes\n"
	"                       the TLB on every VM entry and exit\n"
	"      --io PATH        give the guest a NIC (and disk) and reach them by PATH:\n"
	"                       emulated, assigned (VT-d) or bounce (swiotlb); the same\n"
	"                       as --set io.path=PATH; natively the kernel drives them\n"
	"      --profile P      start from CPU profile P (nehalem, skylake = the\n"
	"                       defaults, sapphirerapids); every --set overrides it\n"
	"  -s, --set NAME=VAL   set a parameter (repeatable; `vtsim params` lists them)\n"
	"  -d, --db PATH        results database (default " DEFAULT_DB ")\n"
	"      --no-store       do not store the runs\n"
	"      --plot FILE      draw overhead over native and exits by reason per mode\n"
	"                       with gnuplot (FILE.png or FILE.svg)\n"
	"  -h, --help           this help\n";

static int cmd_run(int argc, char **argv, const char *cmd)
{
	struct run_opts o;
	parse_run_opts(argc, argv, cmd, &o, run_help);
	struct db *db = NULL;
	if (o.store && !(db = open_db(o.db_path)))
		return 1;

	char group[40];
	snprintf(group, sizeof(group), "%" PRIx64 "-%x", (uint64_t)time(NULL), (unsigned)getpid());
	struct run_result *res = calloc((size_t)o.nmodes, sizeof(*res));
	int64_t ids[MODE_COUNT];
	int stored = 0, status = 0;
	bool tty = isatty(STDERR_FILENO);
	char *console = NULL; /* the workload's console output, from the first run */
	for (int i = 0; i < o.nmodes && !status; i++) {
		char err[CPU_ERR_LEN];
		struct progress pg = {mode_name(o.modes[i]), 0, false};
		int rc;
		if (o.workload) {
			char *out = NULL;
			rc = sim_run_workload(&o.params, o.modes[i], o.workload, o.record, &res[i], &interrupted, &out, err);
			if (!console)
				console = out;
			else
				free(out);
		} else {
			rc = sim_run(&o.params, o.modes[i], o.trace, &res[i], &interrupted, tty ? show_progress : NULL, &pg,
				     err);
		}
		end_progress(&pg);
		if (rc == 1) {
			fprintf(stderr, "vtsim: interrupted during the %s run; %d finished run%s stored\n",
				mode_name(o.modes[i]), stored, stored == 1 ? "" : "s");
			status = 130;
		} else if (rc < 0) {
			fprintf(stderr, "vtsim: %s\n", err);
			status = 1;
		} else if (db) {
			ids[i] = store_run(db, &o, o.modes[i], &res[i], group);
			if (ids[i] < 0)
				status = 1;
			else
				stored++;
		}
	}
	if (!status) {
		if (console && *console) {
			/* What the guest program printed (the same in every mode). */
			printf("console  ");
			for (const char *c = console; *c; c++)
				printf(c[0] == '\n' && c[1] ? "\n         " : "%c", *c);
			printf("%s", console[strlen(console) - 1] == '\n' ? "" : "\n");
		}
		print_table(&o, res, db ? ids : NULL);
		if (db)
			printf("\ndatabase %s, group %s\n", o.db_path, group);
		if (o.plot) {
			char err[CPU_ERR_LEN], title[512];
			snprintf(title, sizeof(title), "%s (vpid=%s, shadow.unsync=%s)",
				 o.workload ? o.workload : base_name(o.trace),
				 o.params.vmx_vpid ? "on" : "off", o.params.shadow_unsync ? "on" : "off");
			if (plot_compare(o.plot, o.modes, res, o.nmodes, title, err) < 0) {
				fprintf(stderr, "vtsim: %s\n", err);
				status = 1;
			} else {
				printf("plot     %s\n", o.plot);
			}
		}
	}
	free(console);
	free(res);
	db_close(db);
	return status;
}

/* ---- trace info / import ------------------------------------------------ */

static const char *const event_names[GEV_KIND_COUNT] = {
	"fetch", "load", "store", "modify", "mmap", "munmap", "brk", "process/thread create", "process exit",
	"wait", "exec", "cpuid", "port I/O", "hlt", "MMIO", "device I/O"};

/* trace info of a .vtt: every stream read to its END (checksums verified). */
static int trace_info_vtt(const char *path, const char *sum)
{
	char err[TRACE_ERR_LEN], src_sum[17];
	struct vtt *f = vtt_open(path, err);
	if (!f) {
		fprintf(stderr, "vtsim: %s\n", err);
		return 1;
	}
	uint64_t counts[GEV_KIND_COUNT] = {0}, pages_total = 0, record_bytes = 0;
	struct progress pg = {"trace info", 0, false};
	bool tty = isatty(STDERR_FILENO);
	int rc = 0;
	for (size_t i = 0; i < vtt_streams(f) && rc == 0; i++) {
		const struct vtt_stream_info *si = vtt_stream(f, i);
		struct frontend fe;
		struct guest_event ev;
		struct u64map pages;
		uint64_t n = 0;
		if (u64map_init(&pages, 1 << 16) < 0) {
			snprintf(err, sizeof(err), "out of memory");
			rc = -1;
			break;
		}
		if (vtt_open_proc(f, si->pid, &fe, err) < 0) {
			u64map_free(&pages);
			rc = -1;
			break;
		}
		while ((rc = fe.next(fe.ctx, &ev, err)) == 1) {
			counts[ev.kind]++;
			if (ev.kind <= GEV_MODIFY && u64map_put(&pages, ev.gva >> 12, 1) < 0) {
				snprintf(err, sizeof(err), "out of memory");
				rc = -1;
				break;
			}
			if (interrupted) {
				rc = -2;
				break;
			}
			if (tty && !(++n & 0xfffff))
				show_progress(&pg, vtt_bytes_read(f), vtt_file_size(f), 0);
		}
		vtt_close_proc(f, si->pid);
		pages_total += pages.count;
		record_bytes += si->record_bytes;
		u64map_free(&pages);
	}
	end_progress(&pg);
	if (rc == 0) {
		unsigned major, minor;
		vtt_version(f, &major, &minor);
		vtt_source_checksum(f, src_sum);
		printf("trace      %s\nformat     vtt %u.%u\nsize       %" PRIu64 " bytes\nxxh3-64    %s\n"
		       "source     %s, xxh3 %s\nrecords    %" PRIu64 " bytes (checksums verified)\n"
		       "processes  %zu (root %u)\n",
		       path, major, minor, vtt_file_size(f), sum, vtt_source_format(f), src_sum, record_bytes,
		       vtt_streams(f), vtt_root(f));
		for (size_t i = 0; i < vtt_streams(f); i++) {
			const struct vtt_stream_info *si = vtt_stream(f, i);
			printf("  process %-10u %" PRIu64 " events, %" PRIu64 " record bytes, %" PRIu64
			       " compressed bytes\n",
			       si->pid, si->events, si->record_bytes, si->compressed);
		}
		for (int k = 0; k < GEV_KIND_COUNT; k++)
			printf("%-22s %" PRIu64 "\n", event_names[k], counts[k]);
		printf("%-22s %" PRIu64 " (%.1f MiB; summed over processes)\n", "distinct 4 KiB pages", pages_total,
		       (double)pages_total / 256.0);
	} else if (rc == -2) {
		fprintf(stderr, "vtsim: interrupted\n");
	} else {
		fprintf(stderr, "vtsim: %s\n", err);
	}
	vtt_close(f);
	return rc == 0 ? 0 : rc == -2 ? 130 : 1;
}

/* trace info of a drmemtrace trace: every process read from the root
 * down in creation order, as a run and an import read them. */
static int trace_info_drmem(const char *path, unsigned how)
{
	char err[TRACE_ERR_LEN], sum[17];
	struct drmem *d;
	if ((traceset_is_dir(path) ? traceset_checksum(path, sum, err) : trace_file_checksum(path, sum, err)) < 0 ||
	    !(d = drmem_open(path, (enum drmem_threads)how, err))) {
		fprintf(stderr, "vtsim: %s\n", err);
		return 1;
	}
	uint64_t counts[GEV_KIND_COUNT] = {0}, pages_total = 0;
	struct proc_source ps;
	struct progress pg = {"trace info", 0, false};
	bool tty = isatty(STDERR_FILENO);
	size_t nq = 0, cap = drmem_processes(d) + 1;
	uint32_t *queue = malloc(cap * sizeof(*queue));
	uint64_t *per = calloc(cap, sizeof(*per));
	int rc = 0;
	drmem_proc_source(d, &ps);
	if (!queue || !per) {
		snprintf(err, sizeof(err), "out of memory");
		rc = -1;
	} else {
		queue[nq++] = ps.root;
	}
	for (size_t q = 0; q < nq && rc == 0; q++) {
		struct frontend fe;
		struct guest_event ev;
		struct u64map pages;
		uint64_t n = 0;
		if (u64map_init(&pages, 1 << 16) < 0) {
			snprintf(err, sizeof(err), "out of memory");
			rc = -1;
			break;
		}
		if ((rc = ps.open(ps.ctx, queue[q], &fe, err)) != 0) {
			u64map_free(&pages);
			rc = rc > 0 ? 0 : -1;
			continue;
		}
		while ((rc = fe.next(fe.ctx, &ev, err)) == 1) {
			counts[ev.kind]++;
			per[q]++;
			if (ev.kind == GEV_PROC_CREATE && !(ev.arg & 1) && nq < cap)
				queue[nq++] = ev.pid;
			if (ev.kind <= GEV_MODIFY && u64map_put(&pages, ev.gva >> 12, 1) < 0) {
				snprintf(err, sizeof(err), "out of memory");
				rc = -1;
				break;
			}
			if (interrupted) {
				rc = -2;
				break;
			}
			if (tty && !(++n & 0xfffff))
				show_progress(&pg, drmem_bytes_read(d), drmem_total_bytes(d), 0);
		}
		ps.close(ps.ctx, queue[q]);
		pages_total += pages.count;
		u64map_free(&pages);
	}
	end_progress(&pg);
	if (rc == 0) {
		printf("trace      %s\nformat     %s, version %u\nsize       %" PRIu64 " bytes\nxxh3-64    %s\n"
		       "records    %" PRIu64 " bytes (decompressed)\nthreads    %zu, as %s\nprocesses  %zu (root %u)\n",
		       path, drmem_format(d), drmem_version(d), drmem_file_bytes(d), sum, drmem_total_bytes(d),
		       drmem_threads(d), how == DRMEM_AS_PROCESSES ? "processes" : "threads", drmem_processes(d),
		       drmem_root(d));
		for (size_t i = 0; i < nq; i++)
			printf("  process %-10u %" PRIu64 " events\n", queue[i], per[i]);
		for (int k = 0; k < GEV_KIND_COUNT; k++)
			printf("%-22s %" PRIu64 "\n", event_names[k], counts[k]);
		printf("%-22s %" PRIu64 " (%.1f MiB; summed over processes)\n", "distinct 4 KiB pages", pages_total,
		       (double)pages_total / 256.0);
	} else if (rc == -2) {
		fprintf(stderr, "vtsim: interrupted\n");
	} else {
		fprintf(stderr, "vtsim: %s\n", err);
	}
	free(queue);
	free(per);
	drmem_close(d);
	return rc == 0 ? 0 : rc == -2 ? 130 : 1;
}

static int trace_info(const char *path, unsigned how)
{
	char err[TRACE_ERR_LEN], sum[17];
	if (drmem_is_dir(path) || (!traceset_is_dir(path) && drmem_sniff_file(path)))
		return trace_info_drmem(path, how);
	if (trace_file_checksum(path, sum, err) < 0) {
		fprintf(stderr, "vtsim: %s\n", err);
		return 1;
	}
	if (vtt_sniff_file(path))
		return trace_info_vtt(path, sum);
	struct trace_reader *tr = trace_open(path, err);
	if (!tr) {
		fprintf(stderr, "vtsim: %s\n", err);
		return 1;
	}
	uint64_t counts[GEV_KIND_COUNT] = {0};
	struct u64map pages;
	if (u64map_init(&pages, 1 << 16) < 0) {
		trace_close(tr);
		fprintf(stderr, "vtsim: out of memory\n");
		return 1;
	}
	struct guest_event ev;
	int rc;
	struct progress pg = {"trace info", 0, false};
	bool tty = isatty(STDERR_FILENO);
	while ((rc = trace_next(tr, &ev, err)) == 1) {
		counts[ev.kind]++;
		if (ev.kind <= GEV_MODIFY && u64map_put(&pages, ev.gva >> 12, 1) < 0) {
			rc = -1;
			snprintf(err, sizeof(err), "out of memory");
			break;
		}
		if (interrupted) {
			rc = -2;
			break;
		}
		if (tty && !(trace_line(tr) & 0xfffff))
			show_progress(&pg, trace_bytes_read(tr), trace_file_size(tr), 0);
	}
	end_progress(&pg);
	if (rc == 0) {
		printf("trace      %s\nformat     %s\nsize       %" PRIu64 " bytes\nxxh3-64    %s\nlines      %" PRIu64
		       "\n",
		       path, trace_format(tr), trace_file_size(tr), sum, trace_line(tr));
		for (int k = 0; k < GEV_KIND_COUNT; k++)
			printf("%-22s %" PRIu64 "\n", event_names[k], counts[k]);
		printf("%-22s %zu (%.1f MiB)\n", "distinct 4 KiB pages", pages.count, (double)pages.count / 256.0);
	} else if (rc == -2) {
		fprintf(stderr, "vtsim: interrupted\n");
	} else {
		fprintf(stderr, "vtsim: %s\n", err);
	}
	u64map_free(&pages);
	trace_close(tr);
	return rc == 0 ? 0 : rc == -2 ? 130 : 1;
}

static int trace_import(const char *in, const char *out, unsigned how)
{
	char err[TRACE_ERR_LEN];
	struct vtt_import_stats st;
	if (vtt_import_as(in, out, how, &st, err) < 0) {
		fprintf(stderr, "vtsim: %s\n", err);
		return 1;
	}
	printf("imported   %s (%s, %" PRIu64 " bytes)\ninto       %s (vtt %u.%u, %" PRIu64 " bytes)\n"
	       "processes  %" PRIu64 "\nevents     %" PRIu64 "\n",
	       in, st.source_format, st.source_bytes, out, VTT_VERSION_MAJOR, VTT_VERSION_MINOR, st.out_bytes,
	       st.processes, st.events);
	return 0;
}

static int cmd_trace(int argc, char **argv)
{
	static const char help[] =
		"Usage: vtsim trace info [--threads thread|process] TRACE\n"
		"       vtsim trace import [--threads thread|process] IN OUT.vtt\n"
		"\n"
		"info: read a trace to its end and print its format, checksum, event counts\n"
		"and footprint (distinct 4 KiB pages touched); for a .vtt also where it came\n"
		"from and its processes, with every stream's checksum verified; for a\n"
		"drmemtrace trace its threads and processes.\n"
		"\n"
		"import: convert IN (a lackey log, plain or zstd, a trace-set directory, or\n"
		"a DynamoRIO drmemtrace .trace.zip or directory of them) to vtsim's own\n"
		"format, OUT.vtt (docs/trace-format.md): replaying it gives the same\n"
		"counters as replaying IN, several times faster.\n"
		"\n"
		"--threads: how a drmemtrace trace's threads become guest tasks, as the\n"
		"run parameter trace.threads: thread (default; threads of one process per\n"
		"pid) or process (a process per thread). Other formats ignore it.\n";
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(help, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	unsigned how = DRMEM_AS_THREADS;
	int a = 2;
	if (argc >= 3 && !strcmp(argv[2], "--threads")) {
		if (argc < 4)
			die_usage(!strcmp(argv[1], "info") ? "trace info" : "trace import", "--threads needs thread or process");
		if (!strcmp(argv[3], "thread"))
			how = DRMEM_AS_THREADS;
		else if (!strcmp(argv[3], "process"))
			how = DRMEM_AS_PROCESSES;
		else
			die_usage(!strcmp(argv[1], "info") ? "trace info" : "trace import",
				  "--threads takes thread or process");
		a = 4;
	}
	if (!strcmp(argv[1], "info")) {
		if (argc - a != 1)
			die_usage("trace info", "expects exactly one TRACE");
		return trace_info(argv[a], how);
	}
	if (!strcmp(argv[1], "import")) {
		if (argc - a != 2)
			die_usage("trace import", "expects IN and OUT.vtt");
		return trace_import(argv[a], argv[a + 1], how);
	}
	die_usage("trace", "unknown subcommand (available: info, import)");
	return 2;
}

/* ---- db export ------------------------------------------------------------ */

/* vtsim db merge OUT IN...: argv[0] is "merge". */
static int db_merge_cmd(int argc, char **argv, const char *help)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(help, stdout);
			return 0;
		} else if (argv[i][0] == '-') {
			die_usage("db merge", "takes no options: OUT IN...");
		}
	if (argc < 3)
		die_usage("db merge", "expects OUT and at least one IN");
	struct db *db = open_db(argv[1]);
	if (!db)
		return 1;
	int status = 0;
	for (int i = 2; i < argc && !status; i++) {
		char err[DB_ERR_LEN];
		int64_t added, present;
		if (db_merge(db, argv[i], &added, &present, err) < 0) {
			fprintf(stderr, "vtsim: %s\n", err);
			status = 1;
		} else {
			printf("%s: %" PRId64 " runs added, %" PRId64 " already in %s\n", argv[i], added, present, argv[1]);
		}
	}
	db_close(db);
	return status;
}

static int cmd_db(int argc, char **argv)
{
	static const char help[] =
		"Usage: vtsim db export --csv [--table NAME] [--db PATH] [--out FILE]\n"
		"       vtsim db merge OUT IN...\n"
		"\n"
		"export: write a table or view of the results database as CSV (RFC 4180,\n"
		"with a header row) to standard output or FILE. NAME is one of: run,\n"
		"counter, exit, sweep, sweep_run, sample, run_summary (default), overhead,\n"
		"run_overhead, trace_overhead, sweep_axis, sweep_point, sweep_pivot_ID.\n"
		"merge: add to OUT (created if new) every run of each IN whose configuration\n"
		"OUT lacks, with its rows and sweeps (e.g. the shards of a sweep run on\n"
		"several machines); one transaction per IN, so a rerun after a failure\n"
		"adds the rest. docs/schema.md describes every column.\n";
	static const struct option longopts[] = {
		{"csv", no_argument, NULL, 'c'},         {"table", required_argument, NULL, 't'},
		{"db", required_argument, NULL, 'd'},    {"out", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
	};
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(help, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "merge"))
		return db_merge_cmd(argc - 1, argv + 1, help);
	if (strcmp(argv[1], "export"))
		die_usage("db", "unknown subcommand (available: export, merge)");
	const char *table = "run_summary", *path = DEFAULT_DB, *out_path = NULL;
	bool csv = false;
	optind = 1;
	int c;
	while ((c = getopt_long(argc - 1, argv + 1, "t:d:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			csv = true;
			break;
		case 't':
			table = optarg;
			break;
		case 'd':
			path = optarg;
			break;
		case 'o':
			out_path = optarg;
			break;
		case 'h':
			fputs(help, stdout);
			return 0;
		default:
			die_usage("db export", "bad option");
		}
	}
	if (optind < argc - 1)
		die_usage("db export", "unexpected argument (options only)");
	if (!csv)
		die_usage("db export", "say the format: --csv (the only one so far)");
	if (access(path, F_OK) != 0) {
		fprintf(stderr, "vtsim: %s: no results database there (runs create it)\n", path);
		return 1;
	}
	char err[DB_ERR_LEN];
	struct db *db = db_open(path, err);
	if (!db) {
		fprintf(stderr, "vtsim: %s\n", err);
		return 1;
	}
	FILE *out = stdout;
	if (out_path && !(out = fopen(out_path, "w"))) {
		fprintf(stderr, "vtsim: %s: cannot write: %s\n", out_path, strerror(errno));
		db_close(db);
		return 1;
	}
	int64_t rows = db_export_csv(db, table, out, err);
	if (out != stdout && fclose(out) != 0 && rows >= 0) {
		snprintf(err, sizeof(err), "%s: write error", out_path);
		rows = -1;
	}
	db_close(db);
	if (rows < 0) {
		if (out_path)
			remove(out_path); /* never leave a half-written file */
		fprintf(stderr, "vtsim: %s\n", err);
		return 1;
	}
	if (out_path)
		fprintf(stderr, "vtsim: %" PRId64 " rows of %s written to %s\n", rows, table, out_path);
	return 0;
}

/* ---- params ------------------------------------------------------------- */

/* *p = profile pr's values. */
static void profile_params(const struct cpu_profile *pr, struct sim_params *p)
{
	char a[128], err[256];
	snprintf(a, sizeof(a), "cpu.profile=%s", pr->name);
	if (params_set(p, a, err) < 0)
		abort(); /* the profile exists */
}

static void print_profiles_markdown(void)
{
	printf("\n## CPU profiles\n\n"
	       "`--profile P` (or `--set cpu.profile=P`) starts a run from profile P; every `--set` overrides it.\n"
	       "The values come from the \"Proposed profiles\" table of `../shared/reference/cpu-parameters.md` (§6);\n"
	       "a profile keeps the default of every parameter it does not list. skylake is the defaults.\n");
	for (size_t k = 0; k < cpu_profile_count; k++) {
		const struct cpu_profile *pr = &cpu_profiles[k];
		printf("\n### `%s`: %s\n\n| parameter | value | source |\n|---|---|---|\n", pr->name, pr->part);
		for (size_t i = 0; i < pr->count; i++)
			printf("| `%s` | %s | %s |\n", pr->values[i].param, pr->values[i].value, pr->values[i].source);
	}
}

static int cmd_params(int argc, char **argv)
{
	static const char help[] =
		"Usage: vtsim params [--markdown] [--profile P]\n\n"
		"List every parameter with its default, its value in each CPU profile, its unit\n"
		"and source. --profile P lists P's values with their sources instead.\n"
		"Change one for a run with --set NAME=VALUE. --markdown prints docs/parameters.md.";
	bool markdown = false;
	const struct cpu_profile *only = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			puts(help);
			return 0;
		} else if (!strcmp(argv[i], "--markdown")) {
			markdown = true;
		} else if (!strcmp(argv[i], "--profile") && i + 1 < argc) {
			only = params_find_profile(argv[++i]);
			if (!only) {
				char names[128], msg[256];
				params_profile_names(names, sizeof(names));
				snprintf(msg, sizeof(msg), "unknown profile '%s'; available: %s", argv[i], names);
				die_usage("params", msg);
			}
		} else {
			die_usage("params", "takes no arguments but --markdown and --profile P");
		}
	}
	if (markdown && !only) {
		printf("# Parameters\n\nGenerated by `vtsim params --markdown` (a test checks this file matches).\n"
		       "Change any of them for a run with `--set NAME=VALUE`. Defaults describe a Skylake-class client\n"
		       "core; source keys ([IL], [VML], ...) are those of\n"
		       "`../shared/reference/cpu-parameters.md`. \"assumed\" marks a value no source gives: sweep it.\n"
		       "The profile columns give each CPU profile's value (sources: [CPU profiles](#cpu-profiles)).\n\n"
		       "| parameter | default |");
		for (size_t k = 0; k < cpu_profile_count; k++)
			printf(" %s |", cpu_profiles[k].name);
		printf(" unit | source |\n|---|---|");
		for (size_t k = 0; k < cpu_profile_count; k++)
			printf("---|");
		printf("---|---|\n");
	} else if (markdown) {
		printf("# Parameters of profile `%s`\n\n%s.\n\n| parameter | value | unit | source |\n|---|---|---|---|\n",
		       only->name, only->part);
	} else if (only) {
		printf("profile %s: %s\n\n", only->name, only->part);
	} else {
		printf("%-26s %10s", "parameter", "default");
		for (size_t k = 0; k < cpu_profile_count; k++)
			printf(" %*s", k + 1 == cpu_profile_count ? 14 : 8, cpu_profiles[k].name);
		printf(" %-11s %s\n", "unit", "source");
	}
	struct sim_params p;
	params_defaults(&p);
	for (size_t i = 0; i < param_count; i++) {
		const struct param_info *pi = &param_table[i];
		char v[64];
		params_format(&p, pi, v, sizeof(v));
		if (only) {
			const struct profile_value *pv = profile_value_of(only, pi->name);
			struct sim_params q;
			profile_params(only, &q);
			params_format(&q, pi, v, sizeof(v));
			const char *src = pv ? pv->source : pi->source;
			if (markdown)
				printf("| `%s` | %s | %s | %s |\n", pi->name, v, pi->unit, src);
			else
				printf("%-26s %10s %-11s %s\n", pi->name, v, pi->unit, src);
			continue;
		}
		if (markdown)
			printf("| `%s` | %s |", pi->name, v);
		else
			printf("%-26s %10s", pi->name, v);
		for (size_t k = 0; k < cpu_profile_count; k++) {
			char pv[64];
			struct sim_params q;
			profile_params(&cpu_profiles[k], &q);
			params_format(&q, pi, pv, sizeof(pv));
			if (markdown)
				printf(" %s |", pv);
			else
				printf(" %*s", k + 1 == cpu_profile_count ? 14 : 8, pv);
		}
		if (markdown)
			printf(" %s | %s |\n", pi->unit, pi->source);
		else
			printf(" %-11s %s\n", pi->unit, pi->source);
	}
	if (markdown && !only)
		print_profiles_markdown();
	return 0;
}

/* ---- explain ------------------------------------------------------------ */

static const char explain_help[] =
	"Usage: vtsim explain walk --gva ADDR [options]\n"
	"       vtsim explain dma [--iova ADDR] [options]   (vtsim explain dma --help)\n"
	"       vtsim explain bounce [options]              (vtsim explain bounce --help)\n"
	"\n"
	"Print one page walk step by step, for teaching: each memory reference in\n"
	"order (which table and level, the entry's GPA and HPA, its value decoded,\n"
	"where its cache line was and its cycles), each paging-structure-cache or\n"
	"nested-TLB hit that skipped references, and the final HPA or the fault\n"
	"(#PF error code, EPT-violation exit qualification). The tables are a fixed\n"
	"layout in the real bit formats (docs/manual.md, \"Explaining a walk\").\n"
	"\n"
	"  -g, --gva ADDR        the guest-virtual address (hex with 0x, or decimal)\n"
	"  -m, --mode M          native, shadow or ept (default ept)\n"
	"  -a, --access A        read, write or fetch (default read)\n"
	"      --supervisor      a CPL-0 access (default: user, CPL 3)\n"
	"      --warm            walk the neighbouring page first, so the paging-\n"
	"                        structure caches, nested TLB and data caches are warm\n"
	"                        (default: cold, everything empty)\n"
	"      --fault           leave the page unmapped: #PF natively and under\n"
	"                        shadow paging, an EPT violation under EPT\n"
	"      --levels N        guest paging levels, 4 or 5 (LA57) (default 4)\n"
	"      --ept-levels N    EPT levels, 4 or 5 (default 4)\n"
	"      --guest-page S    the guest page size: 4k, 2m or 1g (default 4k)\n"
	"      --backing S       the host backing of guest RAM (EPT pages; shadow\n"
	"                        entries map the smaller of the two): 4k, 2m or 1g\n"
	"      --vpid N          the VPID tagging the guest's caches (default 1)\n"
	"      --profile P       CPU profile (cache sizes and latencies)\n"
	"      --no-pwc          every paging-structure cache and the nested TLB off\n"
	"                        (pwc.*.entries=0, ntlb.entries=0): textbook walks\n"
	"      --tables FILE     the guest page tables from a lab setup file's map\n"
	"                        lines instead of the fixed layout (docs/lab-format.md)\n"
	"  -s, --set NAME=VAL    set a parameter (pwc.*, ntlb.*, cache.*, ept.ad ...)\n";

static unsigned parse_page_size(const char *s, const char *what)
{
	if (!strcmp(s, "4k") || !strcmp(s, "4K"))
		return 12;
	if (!strcmp(s, "2m") || !strcmp(s, "2M"))
		return 21;
	if (!strcmp(s, "1g") || !strcmp(s, "1G"))
		return 30;
	char msg[128];
	snprintf(msg, sizeof(msg), "%s takes 4k, 2m or 1g, not '%s'", what, s);
	die_usage("explain walk", msg);
	return 0;
}

static const char explain_dma_help[] =
	"Usage: vtsim explain dma [--iova ADDR] [options]\n"
	"\n"
	"Send one DMA request through the VT-d remapping unit and print its path:\n"
	"the context-cache lookup, the root and context entries, the IOTLB lookup,\n"
	"each second-level entry read (address, value, decoding, cycles) and the\n"
	"final HPA; or, for an IOVA outside the device's domain, the blocked access,\n"
	"FSTS and the fault-recording register as they read, and the driver's\n"
	"report. The VMM's IOMMU driver builds the tables through the unit's\n"
	"registers: device 00:02.0 alone in domain 1, IOVA = GPA 0x40000000.. mapped\n"
	"to HPA GPA + 0x100000000 (docs/manual.md, \"Explaining a DMA\").\n"
	"\n"
	"  -i, --iova ADDR       the DMA address (default 0x40001123, inside the domain;\n"
	"                        e.g. 0x80000000 is outside it)\n"
	"  -a, --access A        read or write (default read)\n"
	"  -d, --device B:D.F    the requester (default 00:02.0; another device has no\n"
	"                        context entry)\n"
	"      --page S          the driver's mapping: 4k (a 2 MiB window), 2m or 1g\n"
	"                        (two pages) (default 4k)\n"
	"      --warm            send a DMA to the neighbouring page first, so the\n"
	"                        context cache and paging-structure caches are warm\n"
	"      --setup FILE      domains, mappings, devices (and the request, from its\n"
	"                        dma line) from a lab setup file (docs/lab-format.md)\n"
	"      --profile P       CPU profile (iommu.* values)\n"
	"  -s, --set NAME=VAL    set a parameter (iommu.cap, iommu.ptcache.*, ...)\n";

static int cmd_explain_dma(int argc, char **argv)
{
	enum { O_PAGE = 256, O_WARM, O_PROFILE, O_SETUP };
	static const struct option longopts[] = {
		{"setup", required_argument, NULL, O_SETUP},
		{"iova", required_argument, NULL, 'i'},   {"access", required_argument, NULL, 'a'},
		{"device", required_argument, NULL, 'd'}, {"page", required_argument, NULL, O_PAGE},
		{"warm", no_argument, NULL, O_WARM},      {"profile", required_argument, NULL, O_PROFILE},
		{"set", required_argument, NULL, 's'},    {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *cmd = "explain dma";
	struct explain_dma_opts o = {.iova = 0x40001123, .sid = 0x0010, .page_shift = 12};
	const char *profile = NULL, *setup_path = NULL;
	bool have_iova = false, have_access = false, have_device = false, have_page = false;
	char **sets = calloc((size_t)argc + 1, sizeof(*sets));
	int nsets = 0;
	char err[CPU_ERR_LEN];
	if (!sets)
		die_usage(cmd, "out of memory");
	params_defaults(&o.params);
	optind = 1;
	int c;
	while ((c = getopt_long(argc - 1, argv + 1, "i:a:d:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (!parse_u64(optarg, &o.iova))
				die_usage(cmd, "--iova takes an address (0x... or decimal)");
			have_iova = true;
			break;
		case 'a':
			if (!strcmp(optarg, "read"))
				o.write = false;
			else if (!strcmp(optarg, "write"))
				o.write = true;
			else
				die_usage(cmd, "--access takes read or write");
			have_access = true;
			break;
		case 'd': {
			unsigned b, dv, f;
			char tail;
			if (sscanf(optarg, "%x:%x.%x%c", &b, &dv, &f, &tail) != 3 || b > 0xff || dv > 0x1f || f > 7)
				die_usage(cmd, "--device takes BB:DD.F in hex, e.g. 00:02.0");
			o.sid = (uint16_t)((b << 8) | (dv << 3) | f);
			have_device = true;
			break;
		}
		case O_PAGE:
			o.page_shift = parse_page_size(optarg, "--page");
			have_page = true;
			break;
		case O_SETUP:
			setup_path = optarg;
			break;
		case O_WARM:
			o.warm = true;
			break;
		case O_PROFILE:
			profile = optarg;
			break;
		case 's':
			add_set(optarg, &profile, sets, &nsets);
			break;
		case 'h':
			fputs(explain_dma_help, stdout);
			exit(0);
		default:
			die_usage(cmd, "bad option");
		}
	}
	apply_params(&o.params, profile, sets, nsets, optind < argc - 1, cmd);
	if (params_validate(&o.params, err) < 0)
		die_usage(cmd, err);
	if (setup_path && have_page)
		die_usage(cmd, "--setup gives the mappings and their page sizes: not with --page");
	struct setup st;
	char serr[SETUP_ERR_LEN];
	if (setup_path) {
		if (setup_load(setup_path, &st, serr) < 0) {
			fprintf(stderr, "vtsim explain dma: %s\n", serr);
			return 1;
		}
		/* The file's dma line, where the command line does not say otherwise. */
		if (st.have_dma) {
			o.iova = have_iova ? o.iova : st.dma_iova;
			o.sid = have_device ? o.sid : st.dma_sid;
			o.write = have_access ? o.write : st.dma_write;
		} else if (!have_iova || !have_device) {
			setup_free(&st);
			die_usage(cmd, "the setup file has no dma line: give --iova and --device");
		}
		o.setup = &st;
	}
	int rc = explain_dma(&o, stdout, err);
	if (setup_path)
		setup_free(&st);
	if (rc < 0) {
		fprintf(stderr, "vtsim explain dma: %s\n", err);
		return 1;
	}
	return 0;
}

static const char explain_bounce_help[] =
	"Usage: vtsim explain bounce [--bytes N] [--dir D] [--addr A] [--mask-bits B]\n"
	"\n"
	"Map one buffer for DMA through the swiotlb, as Linux's dma-direct does for a\n"
	"device without IOMMU remapping, and print what happens: whether the device\n"
	"can reach the buffer, the bounce slots taken, and the copies of the map and\n"
	"of the unmap (bytes and cycles) (reference sheet section 8.3).\n"
	"\n"
	"  -b, --bytes N         the buffer's length (default 8192)\n"
	"  -d, --dir D           to-device, from-device or bidirectional\n"
	"                        (default from-device)\n"
	"  -a, --addr A          the buffer's HPA (default 0x140000000, above 4 GiB)\n"
	"      --mask-bits B     the device's DMA mask width, 32 or 64 (default 32)\n"
	"      --profile P       CPU profile\n"
	"  -s, --set NAME=VAL    set a parameter (swiotlb.pool_mib, swiotlb.copy_cycles_per_kib)\n";

static int cmd_explain_bounce(int argc, char **argv)
{
	enum { O_MASK = 256, O_PROFILE };
	static const struct option longopts[] = {
		{"bytes", required_argument, NULL, 'b'}, {"dir", required_argument, NULL, 'd'},
		{"addr", required_argument, NULL, 'a'},  {"mask-bits", required_argument, NULL, O_MASK},
		{"profile", required_argument, NULL, O_PROFILE}, {"set", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
	};
	const char *cmd = "explain bounce";
	struct explain_bounce_opts o = {.addr = UINT64_C(0x140000000), .bytes = 8192, .dir = 2, .mask_bits = 32};
	const char *profile = NULL;
	char **sets = calloc((size_t)argc + 1, sizeof(*sets));
	int nsets = 0;
	char err[CPU_ERR_LEN];
	if (!sets)
		die_usage(cmd, "out of memory");
	params_defaults(&o.params);
	optind = 1;
	int c;
	while ((c = getopt_long(argc - 1, argv + 1, "b:d:a:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
		case 'a': {
			uint64_t v;
			if (!parse_u64(optarg, &v) || optarg[0] == '-')
				die_usage(cmd, c == 'b' ? "--bytes takes a length" : "--addr takes an address (0x... or decimal)");
			*(c == 'b' ? &o.bytes : &o.addr) = v;
			break;
		}
		case 'd':
			if (!strcmp(optarg, "to-device"))
				o.dir = 1;
			else if (!strcmp(optarg, "from-device"))
				o.dir = 2;
			else if (!strcmp(optarg, "bidirectional"))
				o.dir = 0;
			else
				die_usage(cmd, "--dir takes to-device, from-device or bidirectional");
			break;
		case O_MASK:
			if (strcmp(optarg, "32") && strcmp(optarg, "64"))
				die_usage(cmd, "--mask-bits takes 32 or 64");
			o.mask_bits = (unsigned)atoi(optarg);
			break;
		case O_PROFILE:
			profile = optarg;
			break;
		case 's':
			add_set(optarg, &profile, sets, &nsets);
			break;
		case 'h':
			fputs(explain_bounce_help, stdout);
			exit(0);
		default:
			die_usage(cmd, "bad option");
		}
	}
	apply_params(&o.params, profile, sets, nsets, optind < argc - 1, cmd);
	if (o.bytes < 1 || o.bytes > (uint64_t)IO_TLB_SIZE * IO_TLB_SEGSIZE)
		die_usage(cmd, "--bytes takes 1 to 262144 (one swiotlb segment: 128 slots of 2 KiB)");
	if (o.addr + o.bytes < o.addr)
		die_usage(cmd, "--addr + --bytes wraps around");
	if (params_validate(&o.params, err) < 0)
		die_usage(cmd, err);
	if (explain_bounce(&o, stdout, err) < 0) {
		fprintf(stderr, "vtsim explain bounce: %s\n", err);
		return 1;
	}
	return 0;
}

static int cmd_explain(int argc, char **argv)
{
	enum { O_SUPERVISOR = 256, O_WARM, O_FAULT, O_LEVELS, O_EPT_LEVELS, O_GPAGE, O_BACKING, O_VPID, O_PROFILE,
	       O_TABLES, O_NO_PWC };
	static const struct option longopts[] = {
		{"gva", required_argument, NULL, 'g'},
		{"mode", required_argument, NULL, 'm'},
		{"access", required_argument, NULL, 'a'},
		{"supervisor", no_argument, NULL, O_SUPERVISOR},
		{"warm", no_argument, NULL, O_WARM},
		{"fault", no_argument, NULL, O_FAULT},
		{"levels", required_argument, NULL, O_LEVELS},
		{"ept-levels", required_argument, NULL, O_EPT_LEVELS},
		{"guest-page", required_argument, NULL, O_GPAGE},
		{"backing", required_argument, NULL, O_BACKING},
		{"vpid", required_argument, NULL, O_VPID},
		{"profile", required_argument, NULL, O_PROFILE},
		{"tables", required_argument, NULL, O_TABLES},
		{"no-pwc", no_argument, NULL, O_NO_PWC},
		{"set", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *cmd = "explain walk";
	const char *tables = NULL;
	bool have_gpage = false;
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(explain_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "dma"))
		return cmd_explain_dma(argc, argv);
	if (!strcmp(argv[1], "bounce"))
		return cmd_explain_bounce(argc, argv);
	if (strcmp(argv[1], "walk"))
		die_usage("explain", "unknown subcommand (available: walk, dma, bounce)");
	struct explain_opts o = {
		.mode = MODE_EPT, .kind = ACC_READ, .user = true, .guest_levels = 4, .ept_levels = 4,
		.guest_page_shift = 12, .backing_page_shift = 12, .vpid = 1,
	};
	bool have_gva = false;
	const char *profile = NULL;
	char **sets = calloc((size_t)argc + 8, sizeof(*sets));
	int nsets = 0;
	bool no_pwc = false;
	char err[CPU_ERR_LEN], *end;
	if (!sets)
		die_usage(cmd, "out of memory");
	params_defaults(&o.params);
	optind = 1;
	int c;
	while ((c = getopt_long(argc - 1, argv + 1, "g:m:a:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'g':
			if (!parse_u64(optarg, &o.gva))
				die_usage(cmd, "--gva takes an address (0x... or decimal)");
			have_gva = true;
			break;
		case 'm':
			if (mode_parse(optarg, &o.mode, err) < 0)
				die_usage(cmd, err);
			break;
		case 'a':
			if (!strcmp(optarg, "read"))
				o.kind = ACC_READ;
			else if (!strcmp(optarg, "write"))
				o.kind = ACC_WRITE;
			else if (!strcmp(optarg, "fetch"))
				o.kind = ACC_FETCH;
			else
				die_usage(cmd, "--access takes read, write or fetch");
			break;
		case O_SUPERVISOR:
			o.user = false;
			break;
		case O_WARM:
			o.warm = true;
			break;
		case O_FAULT:
			o.fault = true;
			break;
		case O_LEVELS:
		case O_EPT_LEVELS: {
			unsigned v = !strcmp(optarg, "4") ? 4 : !strcmp(optarg, "5") ? 5 : 0;
			if (!v)
				die_usage(cmd, c == O_LEVELS ? "--levels takes 4 or 5" : "--ept-levels takes 4 or 5");
			*(c == O_LEVELS ? &o.guest_levels : &o.ept_levels) = v;
			break;
		}
		case O_GPAGE:
			o.guest_page_shift = parse_page_size(optarg, "--guest-page");
			have_gpage = true;
			break;
		case O_TABLES:
			tables = optarg;
			break;
		case O_NO_PWC: {
			/* Ahead of any --set, which may turn one back on; once. */
			if (no_pwc)
				break;
			no_pwc = true;
			static char *const off[] = {"pwc.guest.pml4e.entries=0", "pwc.guest.pdpte.entries=0",
						    "pwc.guest.pde.entries=0",   "pwc.ept.pml4e.entries=0",
						    "pwc.ept.pdpte.entries=0",   "pwc.ept.pde.entries=0",
						    "ntlb.entries=0"};
			memmove(sets + 7, sets, (size_t)nsets * sizeof(*sets));
			memcpy(sets, off, sizeof(off));
			nsets += 7;
			break;
		}
		case O_BACKING:
			o.backing_page_shift = parse_page_size(optarg, "--backing");
			break;
		case O_VPID: {
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 0);
			if (errno || end == optarg || *end || v < 1 || v > 0xffff)
				die_usage(cmd, "--vpid takes 1 to 65535 (VPID 0 is the host's)");
			o.vpid = (uint16_t)v;
			break;
		}
		case O_PROFILE:
			profile = optarg;
			break;
		case 's':
			add_set(optarg, &profile, sets, &nsets);
			break;
		case 'h':
			fputs(explain_help, stdout);
			exit(0);
		default:
			die_usage(cmd, "bad option");
		}
	}
	apply_params(&o.params, profile, sets, nsets, optind < argc - 1, cmd);
	if (!have_gva)
		die_usage(cmd, "--gva is required");
	if (tables && (o.fault || have_gpage))
		die_usage(cmd, "--tables gives the guest tables: map the page (or leave it out, for a fault) and its "
			       "size in the file, not with --fault or --guest-page");
	if (params_validate(&o.params, err) < 0)
		die_usage(cmd, err);
	struct setup st;
	char serr[SETUP_ERR_LEN];
	if (tables) {
		if (setup_load(tables, &st, serr) < 0) {
			fprintf(stderr, "vtsim explain walk: %s\n", serr);
			return 1;
		}
		o.tables = &st;
	}
	int rc = explain_walk(&o, stdout, err);
	if (tables)
		setup_free(&st);
	if (rc < 0) {
		fprintf(stderr, "vtsim explain walk: %s\n", err);
		return 1;
	}
	return 0;
}

/* ---- lab ---------------------------------------------------------------- */

static const char lab_help[] =
	"Usage: vtsim lab list\n"
	"       vtsim lab show N\n"
	"       vtsim lab check N ANSWERS\n"
	"       vtsim lab verify [N]\n"
	"\n"
	"The teaching labs: exercises on 2D page walks, shadow paging, VPID, large\n"
	"pages and VT-d, each a hand-out and an answer key (docs/lab-format.md).\n"
	"\n"
	"  list              every lab with its title and number of questions\n"
	"  show N            print lab N's hand-out\n"
	"  check N ANSWERS   grade an answer file ('2a = 24' per line) question by\n"
	"                    question: what was expected and the command that shows\n"
	"                    it for each wrong answer, then the grade\n"
	"  verify [N]        run every keyed command of lab N (or of every lab) and\n"
	"                    compare vtsim's answers with the key (for teachers and\n"
	"                    the tests: a model change that alters an answer shows)\n"
	"\n"
	"The labs are read from $VTSIM_LABS if set, else from " VTSIM_LABS_DIR ".\n"
	"Exit status: 0 done (check: whatever the grade; verify: every answer\n"
	"agrees), 1 a malformed file or a disagreement, 2 a usage error.\n";

static unsigned lab_number(const char *s)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 99)
		die_usage("lab", "N is a lab number (vtsim lab list shows them)");
	return (unsigned)v;
}

static int cmd_lab(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(lab_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *dir = getenv("VTSIM_LABS");
	if (!dir || !*dir)
		dir = VTSIM_LABS_DIR;
	char err[LAB_ERR_LEN];
	const char *sub = argv[1];
	int rc = 0;
	if (!strcmp(sub, "list")) {
		if (argc != 2)
			die_usage("lab", "list takes no argument");
		rc = lab_list(dir, stdout, err);
	} else if (!strcmp(sub, "show")) {
		if (argc != 3)
			die_usage("lab", "show takes a lab number");
		rc = lab_show(dir, lab_number(argv[2]), stdout, err);
	} else if (!strcmp(sub, "check")) {
		if (argc != 4)
			die_usage("lab", "check takes a lab number and an answer file");
		unsigned right, graded;
		rc = lab_check(dir, lab_number(argv[2]), argv[3], stdout, &right, &graded, err);
	} else if (!strcmp(sub, "verify")) {
		if (argc > 3)
			die_usage("lab", "verify takes at most a lab number");
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n < 0) {
			fprintf(stderr, "vtsim lab verify: cannot find this executable (/proc/self/exe): %s\n", strerror(errno));
			return 1;
		}
		self[n] = '\0';
		unsigned first = argc == 3 ? lab_number(argv[2]) : 1, last = first, bad = 0;
		if (argc == 2) {
			/* every lab: up to the first number without a key */
			struct lab_key *k = malloc(sizeof(*k));
			if (!k)
				die_usage("lab", "out of memory");
			while (lab_key_load(dir, last + 1, k, err) == 0)
				last++;
			free(k);
		}
		for (unsigned lab = first; lab <= last && rc == 0; lab++) {
			unsigned mism = 0;
			rc = lab_verify(dir, lab, self, stdout, &mism, err);
			bad += mism;
		}
		if (rc == 0 && bad) {
			fprintf(stderr, "vtsim lab verify: %u answer%s of the key disagree%s with vtsim\n", bad,
				bad == 1 ? "" : "s", bad == 1 ? "s" : "");
			return 1;
		}
	} else {
		die_usage("lab", "unknown subcommand (list, show, check, verify)");
	}
	if (rc < 0) {
		fprintf(stderr, "vtsim lab %s: %s\n", sub, err);
		return 1;
	}
	return 0;
}

static const char main_help[] =
	"Usage: vtsim COMMAND [options]\n"
	"\n"
	"A cycle-approximate simulator of Intel VT-x, EPT and VPID.\n"
	"\n"
	"Commands:\n"
	"  compare --trace T     run a trace natively, under shadow paging and under EPT,\n"
	"                        side by side (stored)\n"
	"  run --trace T --mode M  one run (native, shadow or ept)\n"
	"  sweep GRID.ini        every run of a grid of traces, modes and parameters,\n"
	"                        in parallel, resumable (stored)\n"
	"  plot PRESET|--sql Q   gnuplot plots of the database (PNG or SVG)\n"
	"  report --out F.html   one HTML page of a comparison or a sweep\n"
	"  compare|run --workload W  the same for a guest program run in Unicorn\n"
	"  trace info T          what a trace holds\n"
	"  trace import IN OUT.vtt  convert a lackey log or trace set to .vtt\n"
	"  db export --csv       a table or view of the results database as CSV\n"
	"  params                every parameter, its default, per-profile value, unit\n"
	"                        and source\n"
	"  explain walk --gva A  one page walk step by step (teaching)\n"
	"  explain dma [--iova A]  one DMA request through the VT-d unit step by step\n"
	"  lab list|show N|check N ANSWERS  the teaching labs and their grading\n"
	"\n"
	"Every command takes --help. Results go to " DEFAULT_DB " (sqlite3).\n";

int main(int argc, char **argv)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (argc < 2) {
		fputs(main_help, stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(main_help, stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version")) {
		puts(PACKAGE_STRING);
		return 0;
	}
	if (!strcmp(cmd, "run") || !strcmp(cmd, "compare"))
		return cmd_run(argc - 1, argv + 1, cmd);
	if (!strcmp(cmd, "trace"))
		return cmd_trace(argc - 1, argv + 1);
	if (!strcmp(cmd, "params"))
		return cmd_params(argc - 1, argv + 1);
	if (!strcmp(cmd, "explain"))
		return cmd_explain(argc - 1, argv + 1);
	if (!strcmp(cmd, "db"))
		return cmd_db(argc - 1, argv + 1);
	if (!strcmp(cmd, "sweep"))
		return cmd_sweep(argc - 1, argv + 1, &interrupted);
	if (!strcmp(cmd, "plot"))
		return cmd_plot(argc - 1, argv + 1);
	if (!strcmp(cmd, "report"))
		return cmd_report(argc - 1, argv + 1);
	if (!strcmp(cmd, "lab"))
		return cmd_lab(argc - 1, argv + 1);
	die_usage(NULL, "unknown command (run, compare, sweep, plot, report, trace, db, params, explain, lab)");
	return 2;
}
