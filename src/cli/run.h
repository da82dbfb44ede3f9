/*
 * One simulation run: assemble the hardware (memory, CPU), the software
 * (guest OS model, and the VMM for VMX modes) and a trace front end, run it
 * to the end, and collect the results. Used by `vtsim run`, `vtsim compare`,
 * the benchmarks and the end-to-end tests.
 */
#ifndef VTSIM_CLI_RUN_H
#define VTSIM_CLI_RUN_H

#include <signal.h>
#include <stdint.h>

#include "arch/exit_reasons.h"
#include "cpu/cpu.h"
#include "cpu/params.h"
#include "db/db.h"
#include "guest/guest.h"
#include "mem/mem.h"
#include "stats/counters.h"
#include "dev/platform.h"
#include "vmm/vio.h"
#include "vmm/vmm.h"

enum sim_mode { MODE_NATIVE = 0, MODE_SHADOW, MODE_EPT, MODE_COUNT };

/* "native" / "shadow" / "ept"; mode_parse returns -1 for anything else. */
const char *mode_name(enum sim_mode m);
int mode_parse(const char *s, enum sim_mode *out, char *err);

/* One simulated machine: memory, CPU, guest kernel, and the VMM in VMX modes. */
struct machine {
	enum sim_mode mode;
	struct phys_mem mem;
	struct cpu cpu;
	struct guest_os os;
	struct vmm vmm;
	bool have_vmm;
	struct vio vio;          /* VMX modes: the VMM's I/O path (io.path) */
	struct platform pf;      /* native: the devices the kernel drives itself */
	bool have_pf;
};

/*
 * Assemble a machine for mode with parameters p: the guest kernel image is
 * loaded (by the bootloader natively, by the VMM in VMX modes), the VMM
 * has set its VMCS up, the first process's creation is queued. The caller
 * may still adjust the VMCS (VMWRITE through m->cpu) before machine_run.
 * Counters go to *ctr. Returns 0, or -1 with a message in err (CPU_ERR_LEN);
 * machine_destroy is safe after either.
 */
int machine_init(struct machine *m, const struct sim_params *p, enum sim_mode mode, const struct frontend *fe,
		 struct counters *ctr, char *err);
/* The same for a multi-process guest: the processes' streams come from ps
 * (a trace set, src/trace/traceset.h), which must outlive the machine. */
int machine_init_procs(struct machine *m, const struct sim_params *p, enum sim_mode mode,
		       const struct proc_source *ps, struct counters *ctr, char *err);
/* Run to the end: RUN_DONE, RUN_ERROR (message in m->cpu.err) or RUN_INTERRUPTED. */
enum run_status machine_run(struct machine *m);
void machine_destroy(struct machine *m);

/*
 * Interval samples: the values of run_sampled_counters[] (cumulative) at
 * evenly spaced points of the run, every `every` guest events (trace
 * records); when RUN_MAX_SAMPLES are taken, every other one is dropped and
 * the spacing doubles, so a run of any length keeps between half and all of
 * them; the last sample is at the end of the run.
 */
#define RUN_MAX_SAMPLES 256
#define RUN_SAMPLED_COUNTERS 8
#define RUN_SAMPLE_FIRST_EVERY (1u << 12)
extern const enum counter_id run_sampled_counters[RUN_SAMPLED_COUNTERS];

struct run_result {
	struct counters ctr;
	struct exit_stat exits[EXIT_REASON_MAX];
	char checksum[17];       /* XXH3-64 of the trace file, hex */
	char format[32];         /* trace format name */
	uint64_t trace_bytes;    /* size of the trace file */
	double wall_seconds;     /* host time of the simulation */
	int64_t started_unix, finished_unix;
	uint32_t nsamples;
	uint64_t sample_cycle[RUN_MAX_SAMPLES];  /* simulated cycle of each sample */
	uint64_t sample_value[RUN_MAX_SAMPLES][RUN_SAMPLED_COUNTERS];
};

/* Progress callback: bytes of the trace consumed, of total, and events so far. */
typedef void (*run_progress_fn)(void *ctx, uint64_t done_bytes, uint64_t total_bytes, uint64_t cycles);

/*
 * Run trace_path in mode with parameters p: a trace file (a lackey log, a
 * .vtt, src/trace/vtt.h, or a DynamoRIO drmemtrace .trace.zip,
 * src/trace/drmem.h, or a lab setup file, src/cli/setup.h: its 4 KiB maps
 * premapped by the guest kernel at boot, its accesses the event stream;
 * told apart by content), or a directory holding a
 * drmemtrace trace (NAME.trace.zip files, one per thread; p->trace_threads
 * says how they become guest tasks) or else a trace set (one lackey log per
 * process, src/trace/traceset.h); a directory's checksum covers every
 * file's name and bytes. Returns 0 on success, 1 if
 * interrupted (*intr became non-zero; nothing to store), -1 on error with a
 * one-line message in err (CPU_ERR_LEN) naming the file and line (for a
 * .vtt the byte offset) where the trace is at fault.
 */
int sim_run(const struct sim_params *p, enum sim_mode mode, const char *trace_path, struct run_result *out,
	    volatile sig_atomic_t *intr, run_progress_fn progress, void *progress_ctx, char *err);

/*
 * The same with an already-open event source (benchmarks, tests): no trace
 * file, so out->checksum/format/trace_bytes stay empty and errors carry no
 * file:line prefix.
 */
int sim_run_frontend(const struct sim_params *p, enum sim_mode mode, const struct frontend *fe,
		     struct run_result *out, volatile sig_atomic_t *intr, char *err);

/*
 * Store r, the result of running trace_path in mode with parameters p, in db
 * as one run (one transaction): every counter, the exits by reason, the
 * parameters as JSON, PACKAGE_VERSION. group is shared by the runs of one
 * comparison or sweep point (may be NULL); sweep_id is the sweep storing it
 * or 0. With once, a configuration already stored is not stored again
 * (db_store_run_once) and *stored tells whether it was stored now. Returns
 * the run id, or -1 with a one-line message in err (DB_ERR_LEN).
 */
int64_t run_store(struct db *db, const struct sim_params *p, enum sim_mode mode, const char *trace_path,
		  const struct run_result *r, const char *group, int64_t sweep_id, bool once, bool *stored, char *err);

/*
 * The configuration key (db_config_key) of running a trace whose checksum
 * is checksum in mode with parameters p, into key. Returns 0, or -1 when out
 * of memory.
 */
int run_config_key(const struct sim_params *p, enum sim_mode mode, const char *checksum, char key[DB_KEY_LEN]);

/* The last component of path, trailing slashes dropped ("pipeline.d" for
 * "traces/pipeline.d/"), into buf (len bytes); returns buf. */
const char *trace_base_name(const char *path, char *buf, size_t len);

/*
 * The checksum a workload run stores as its trace checksum: XXH3-64 of the
 * workload's image and of workload.size/iterations/seed of p, as 16 hex
 * digits into out (and the value into *sum, may be NULL). 0, or -1 with a
 * message in err (CPU_ERR_LEN).
 */
int workload_checksum(const char *name, const struct sim_params *p, char out[17], uint64_t *sum, char *err);

/*
 * Run workload w (src/frontend/workload.h) execution-driven in mode with
 * parameters p: the Unicorn front end (src/frontend/ucfe.h) executes it
 * with the workload.* parameters, one stream per guest process. Its
 * checksum is the XXH3-64 of the image and of the workload.* values
 * (format "unicorn", trace_bytes = image bytes). *console (may be NULL)
 * gets what the program wrote, malloc'd (the caller frees it), on success.
 * With record (a path; NULL = none) every event the guest was handed is
 * written to a .vtt there (src/trace/vtt_record.h; source format
 * "unicorn", the checksum above): replaying it repeats this run's
 * counters in any mode. Returns 0, 1 if interrupted, or -1 with a
 * one-line message in err (CPU_ERR_LEN) naming the workload or the file.
 */
int sim_run_workload(const struct sim_params *p, enum sim_mode mode, const char *workload, const char *record,
		     struct run_result *out, volatile sig_atomic_t *intr, char **console, char *err);

#endif
