/* Notes: assembly of one run; no policy of its own beyond wiring. */
#include "config.h"

#include "cli/run.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <xxhash.h>

#include "arch/paging.h"
#include "cli/setup.h"
#include "frontend/ucfe.h"
#include "trace/drmem.h"
#include "trace/event_array.h"
#include "trace/trace.h"
#include "trace/traceset.h"
#include "trace/vtt_record.h"
#include "trace/vtt.h"
#include "vmcs/vmcs.h"

static const char *const mode_names[MODE_COUNT] = {[MODE_NATIVE] = "native", [MODE_SHADOW] = "shadow",
						   [MODE_EPT] = "ept"};

const char *mode_name(enum sim_mode m)
{
	return mode_names[m];
}

int mode_parse(const char *s, enum sim_mode *out, char *err)
{
	for (int m = 0; m < MODE_COUNT; m++) {
		if (!strcmp(s, mode_names[m])) {
			*out = (enum sim_mode)m;
			return 0;
		}
	}
	snprintf(err, CPU_ERR_LEN, "unknown mode '%s'; available: native, shadow, ept", s);
	return -1;
}

struct trace_fe {
	struct trace_reader *tr;
	run_progress_fn progress;
	void *progress_ctx;
};

static int fe_next(void *ctx, struct guest_event *ev, char *err)
{
	struct trace_fe *f = ctx;
	return trace_next(f->tr, ev, err);
}

static void fe_progress(void *ctx, const struct cpu *cpu)
{
	struct trace_fe *f = ctx;
	if (f->progress)
		f->progress(f->progress_ctx, trace_bytes_read(f->tr), trace_file_size(f->tr), cpu->cycles);
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int mem_store(void *memp, uint64_t gpa, uint64_t val)
{
	return mem_write64(memp, gpa, val);
}

/* What a lab setup adds to a run: premapped pages (NULL: none). */
struct premaps {
	const struct guest_premap *m;
	size_t n;
};

/* Natively the kernel drives the platform's devices itself: 64-bit DMA,
 * no IOMMU, their MSIs programmed with the kernel's vectors; guest-physical
 * is host-physical, so the BARs sit above the kernel's memory. */
static int native_devices(struct machine *m, const struct sim_params *p, struct counters *ctr,
			  struct guest_dev_info *gd)
{
	platform_init(&m->pf, &m->cpu, &m->mem, ctr, NULL);
	m->have_pf = true;
	for (unsigned i = 0; i < VIO_NDEVS; i++) {
		uint64_t bar = platform_bar_hpa(p->guest_mem_mib << 20, i);
		struct pci_dev *d;
		if (platform_add(&m->pf, vio_dev_kind[i], vio_dev_name[i], vio_dev_sid[i], 64, bar, &d) < 0)
			return -1;
		dev_set_msi(d, 0xfee00000u, VIO_GUEST_VEC_DEV + i, true);
		gd[i] = vio_guest_dev(i, vio_dev_kind[i], bar, dev_bar_size(d));
	}
	return 0;
}

/* machine_init for one stream (fe) or a process source (ps). */
static int machine_assemble(struct machine *m, const struct sim_params *p, enum sim_mode mode,
			    const struct frontend *fe, const struct proc_source *ps, const struct premaps *pm,
			    struct counters *ctr, char *err)
{
	memset(m, 0, sizeof(*m));
	m->mode = mode;
	err[0] = '\0';
	if (mem_init(&m->mem) < 0 || cpu_init(&m->cpu, p, &m->mem, ctr, err) < 0 ||
	    (ps ? guest_init_procs(&m->os, p, ctr, ps, err) : guest_init(&m->os, p, ctr, fe, err)) < 0) {
		if (!err[0])
			snprintf(err, CPU_ERR_LEN, "out of memory");
		return -1;
	}
	if (pm && guest_set_premap(&m->os, pm->m, pm->n, SETUP_MIN_GPA, err) < 0)
		return -1;
	guest_set_sched(&m->os, p->guest_pcid, p->guest_timeslice_ms * p->cpu_freq_mhz * 1000);
	cpu_attach_guest(&m->cpu, &guest_os_ops, &m->os);
	int rc;
	struct guest_dev_info gd[VIO_NDEVS];
	if (mode == MODE_NATIVE) {
		/* The bootloader puts the kernel image in memory. */
		rc = guest_image(&m->os, mem_store, &m->mem) < 0 ? cpu_fail(&m->cpu, "out of memory") : 0;
		cpu_set_paging(&m->cpu, m->os.cr0, GUEST_SWAPPER_PML4, m->os.cr4, m->os.efer);
		if (rc == 0 && p->io_path != IO_NONE)
			rc = native_devices(m, p, ctr, gd);
	} else {
		m->have_vmm = true;
		rc = vmm_init(&m->vmm, &m->cpu, p, ctr, mode == MODE_SHADOW, m->os.cr0, GUEST_SWAPPER_PML4, m->os.cr4,
			      m->os.efer);
		if (rc == 0)
			rc = vio_init(&m->vio, &m->vmm, gd);
		if (rc == 0)
			rc = guest_image(&m->os, vmm_guest_write64, &m->vmm);
	}
	if (rc == 0 && p->io_path != IO_NONE && guest_set_devices(&m->os, gd, VIO_NDEVS, m->cpu.err) < 0)
		rc = -1;
	if (rc == 0)
		rc = guest_boot(&m->os, &m->cpu, 1);
	if (rc < 0)
		memcpy(err, m->cpu.err, CPU_ERR_LEN);
	return rc;
}

int machine_init(struct machine *m, const struct sim_params *p, enum sim_mode mode, const struct frontend *fe,
		 struct counters *ctr, char *err)
{
	return machine_assemble(m, p, mode, fe, NULL, NULL, ctr, err);
}

int machine_init_procs(struct machine *m, const struct sim_params *p, enum sim_mode mode,
		       const struct proc_source *ps, struct counters *ctr, char *err)
{
	return machine_assemble(m, p, mode, NULL, ps, NULL, ctr, err);
}

enum run_status machine_run(struct machine *m)
{
	if (!m->have_vmm)
		return cpu_run_native(&m->cpu);
	enum run_status st = vmm_run(&m->vmm);
	if (st == RUN_ERROR && m->vio.first_fault[0]) {
		/* What the IOMMU driver reported is likely why: say it too. */
		size_t n = strlen(m->cpu.err);
		snprintf(m->cpu.err + n, CPU_ERR_LEN - n, " (the VT-d unit blocked a DMA: %s)", m->vio.first_fault);
	}
	return st;
}

void machine_destroy(struct machine *m)
{
	if (m->have_vmm) {
		vio_destroy(&m->vio);
		vmm_destroy(&m->vmm);
	}
	if (m->have_pf)
		platform_destroy(&m->pf);
	guest_destroy(&m->os);
	cpu_destroy(&m->cpu);
	mem_destroy(&m->mem);
}

const enum counter_id run_sampled_counters[RUN_SAMPLED_COUNTERS] = {
	CTR_CPU_INSTRUCTIONS, CTR_TLB_L1D_MISS, CTR_TLB_L2_MISS, CTR_WALK_COUNT,
	CTR_WALK_GUEST_REFS,  CTR_WALK_EPT_REFS, CTR_VMX_EXITS,  CTR_GUEST_PF,
};

/* The CPU's progress hook during a run: take a sample, then call the front
 * end's own progress function. */
struct sampler {
	struct cpu *cpu;
	struct run_result *out;
	void (*inner)(void *, const struct cpu *);
	void *inner_ctx;
};

static void take_sample(struct sampler *s)
{
	struct run_result *o = s->out;
	if (o->nsamples == RUN_MAX_SAMPLES) {
		/* Keep the 2nd, 4th, ...: still evenly spaced, twice as far apart. */
		for (uint32_t i = 0; i < RUN_MAX_SAMPLES / 2; i++) {
			o->sample_cycle[i] = o->sample_cycle[2 * i + 1];
			memcpy(o->sample_value[i], o->sample_value[2 * i + 1], sizeof(o->sample_value[i]));
		}
		o->nsamples = RUN_MAX_SAMPLES / 2;
		s->cpu->progress_every *= 2;
		s->cpu->progress_countdown = s->cpu->progress_every;
	}
	o->sample_cycle[o->nsamples] = s->cpu->cycles;
	for (int k = 0; k < RUN_SAMPLED_COUNTERS; k++)
		o->sample_value[o->nsamples][k] = s->cpu->ctr->v[run_sampled_counters[k]];
	o->nsamples++;
}

static void sampler_progress(void *ctx, const struct cpu *cpu)
{
	struct sampler *s = ctx;
	take_sample(s);
	if (s->inner)
		s->inner(s->inner_ctx, cpu);
}

/* Build the machine, run it over fe (or the processes of ps), collect the
 * results into out. Returns 0, 1 (interrupted) or -1 with the simulator's
 * message in cpu_err. */
static int run_machine(const struct sim_params *p, enum sim_mode mode, const struct frontend *fe,
		       const struct proc_source *ps, const struct premaps *pm, void (*progress)(void *, const struct cpu *),
		       void *progress_ctx, struct run_result *out, volatile sig_atomic_t *intr, char *cpu_err)
{
	struct machine *m = malloc(sizeof(*m));
	if (!m) {
		snprintf(cpu_err, CPU_ERR_LEN, "out of memory");
		return -1;
	}
	cpu_err[0] = '\0';
	int rc = -1;
	if (machine_assemble(m, p, mode, fe, ps, pm, &out->ctr, cpu_err) == 0) {
		struct sampler smp = {&m->cpu, out, progress, progress_ctx};
		m->cpu.interrupt_flag = intr;
		m->cpu.progress = sampler_progress;
		m->cpu.progress_ctx = &smp;
		/* The front end's progress comes more often than before (every
		 * 2^12 events, then less as samples are thinned): it rate-limits. */
		m->cpu.progress_every = m->cpu.progress_countdown = RUN_SAMPLE_FIRST_EVERY;
		out->started_unix = (int64_t)time(NULL);
		double t0 = now_seconds();
		enum run_status st = machine_run(m);
		out->wall_seconds = now_seconds() - t0;
		out->finished_unix = (int64_t)time(NULL);
		if (st == RUN_DONE) {
			take_sample(&smp); /* the end */
			out->ctr.v[CTR_CPU_CYCLES] = m->cpu.cycles;
			out->ctr.v[CTR_MEM_HOST_PAGES_STORED] = m->mem.peak_pages;
			memcpy(out->exits, m->cpu.exits, sizeof(out->exits));
			rc = 0;
		} else if (st == RUN_INTERRUPTED) {
			rc = 1;
		} else {
			memcpy(cpu_err, m->cpu.err, CPU_ERR_LEN);
		}
	}
	machine_destroy(m);
	free(m);
	return rc;
}

int sim_run_frontend(const struct sim_params *p, enum sim_mode mode, const struct frontend *fe,
		     struct run_result *out, volatile sig_atomic_t *intr, char *err)
{
	memset(out, 0, sizeof(*out));
	if (params_validate(p, err) < 0)
		return -1;
	return run_machine(p, mode, fe, NULL, NULL, NULL, NULL, out, intr, err);
}

struct set_fe {
	struct traceset *ts;
	run_progress_fn progress;
	void *progress_ctx;
};

static void set_progress(void *ctx, const struct cpu *cpu)
{
	struct set_fe *f = ctx;
	if (f->progress)
		f->progress(f->progress_ctx, traceset_bytes_read(f->ts), traceset_total_bytes(f->ts), cpu->cycles);
}

/* A run's error message: the reader's own "FILE:LINE: ..." as it is, or
 * the simulator's prefixed with where in the trace it happened. */
static void locate_error(char *err, const char *cpu_err, const char *trace_path, const char *where)
{
	if (strncmp(cpu_err, trace_path, strlen(trace_path)) == 0)
		memcpy(err, cpu_err, CPU_ERR_LEN);
	else
		snprintf(err, CPU_ERR_LEN, "%.220s: %.280s", where, cpu_err);
}

/* sim_run of a trace set (a directory of per-process logs). */
static int sim_run_set(const struct sim_params *p, enum sim_mode mode, const char *dir, struct run_result *out,
		       volatile sig_atomic_t *intr, run_progress_fn progress, void *progress_ctx, char *err)
{
	if (traceset_checksum(dir, out->checksum, err) < 0)
		return -1;
	struct traceset *ts = traceset_open(dir, err);
	if (!ts)
		return -1;
	snprintf(out->format, sizeof(out->format), "%s", traceset_format(ts));
	out->trace_bytes = traceset_total_bytes(ts);

	struct set_fe fe_ctx = {ts, progress, progress_ctx};
	struct proc_source ps;
	traceset_proc_source(ts, &ps);
	char cpu_err[CPU_ERR_LEN], where[CPU_ERR_LEN];
	int rc = run_machine(p, mode, NULL, &ps, NULL, set_progress, &fe_ctx, out, intr, cpu_err);
	if (rc < 0) {
		traceset_where(ts, where, sizeof(where));
		locate_error(err, cpu_err, dir, where);
	}
	traceset_close(ts);
	return rc;
}

struct vtt_fe {
	struct vtt *f;
	run_progress_fn progress;
	void *progress_ctx;
};

static void vtt_progress(void *ctx, const struct cpu *cpu)
{
	struct vtt_fe *f = ctx;
	if (f->progress)
		f->progress(f->progress_ctx, vtt_bytes_read(f->f), vtt_file_size(f->f), cpu->cycles);
}

/* sim_run of a .vtt file (one stream per process). */
static int sim_run_vtt(const struct sim_params *p, enum sim_mode mode, const char *path, struct run_result *out,
		       volatile sig_atomic_t *intr, run_progress_fn progress, void *progress_ctx, char *err)
{
	if (trace_file_checksum(path, out->checksum, err) < 0)
		return -1;
	struct vtt *f = vtt_open(path, err);
	if (!f)
		return -1;
	snprintf(out->format, sizeof(out->format), "vtt");
	out->trace_bytes = vtt_file_size(f);

	struct vtt_fe fe_ctx = {f, progress, progress_ctx};
	struct proc_source ps;
	vtt_proc_source(f, &ps);
	char cpu_err[CPU_ERR_LEN], where[CPU_ERR_LEN];
	int rc = run_machine(p, mode, NULL, &ps, NULL, vtt_progress, &fe_ctx, out, intr, cpu_err);
	if (rc < 0) {
		vtt_where(f, where, sizeof(where));
		locate_error(err, cpu_err, path, where);
	}
	vtt_close(f);
	return rc;
}

struct drmem_fe {
	struct drmem *d;
	run_progress_fn progress;
	void *progress_ctx;
};

static void drmem_progress(void *ctx, const struct cpu *cpu)
{
	struct drmem_fe *f = ctx;
	if (f->progress)
		f->progress(f->progress_ctx, drmem_bytes_read(f->d), drmem_total_bytes(f->d), cpu->cycles);
}

/* sim_run of a drmemtrace trace (a .trace.zip or a directory of them). */
static int sim_run_drmem(const struct sim_params *p, enum sim_mode mode, const char *path, struct run_result *out,
			 volatile sig_atomic_t *intr, run_progress_fn progress, void *progress_ctx, char *err)
{
	if ((traceset_is_dir(path) ? traceset_checksum(path, out->checksum, err)
				   : trace_file_checksum(path, out->checksum, err)) < 0)
		return -1;
	struct drmem *d = drmem_open(path, (enum drmem_threads)p->trace_threads, err);
	if (!d)
		return -1;
	snprintf(out->format, sizeof(out->format), "%s", drmem_format(d));
	out->trace_bytes = drmem_file_bytes(d);

	struct drmem_fe fe_ctx = {d, progress, progress_ctx};
	struct proc_source ps;
	drmem_proc_source(d, &ps);
	char cpu_err[CPU_ERR_LEN], where[CPU_ERR_LEN];
	int rc = run_machine(p, mode, NULL, &ps, NULL, drmem_progress, &fe_ctx, out, intr, cpu_err);
	if (rc < 0) {
		drmem_where(d, where, sizeof(where));
		locate_error(err, cpu_err, path, where);
	}
	drmem_close(d);
	return rc;
}

/* sim_run of a lab setup file: its maps premapped, its accesses replayed. */
static int sim_run_setup(const struct sim_params *p, enum sim_mode mode, const char *path, struct run_result *out,
			 volatile sig_atomic_t *intr, char *err)
{
	if (trace_file_checksum(path, out->checksum, err) < 0)
		return -1;
	struct setup *s = malloc(sizeof(*s));
	if (!s) {
		snprintf(err, CPU_ERR_LEN, "out of memory");
		return -1;
	}
	char serr[SETUP_ERR_LEN];
	if (setup_load(path, s, serr) < 0) {
		snprintf(err, CPU_ERR_LEN, "%s", serr);
		free(s);
		return -1;
	}
	int rc = -1;
	struct guest_premap pm[SETUP_MAX_MAPS];
	for (unsigned i = 0; i < s->nmaps; i++) {
		const struct setup_map *m = &s->map[i];
		if (m->shift != PAGE_SHIFT) {
			snprintf(err, CPU_ERR_LEN, "%.200s:%u: a %s page: vtsim run premaps 4 KiB pages only (explain walk "
				 "--tables takes any size)", path, m->line, m->shift == 21 ? "2 MiB" : "1 GiB");
			goto out;
		}
		if (m->gva >= (UINT64_C(1) << 47)) {
			snprintf(err, CPU_ERR_LEN, "%.200s:%u: GVA 0x%" PRIx64 " is a kernel address: vtsim run premaps "
				 "user pages only", path, m->line, m->gva);
			goto out;
		}
		if (m->gpa + PAGE_SIZE > (p->guest_mem_mib << 20)) {
			snprintf(err, CPU_ERR_LEN, "%.200s:%u: GPA 0x%" PRIx64 " is beyond guest memory (guest.mem_mib %" PRIu64
				 ")", path, m->line, m->gpa, p->guest_mem_mib);
			goto out;
		}
		pm[i] = (struct guest_premap){m->gva, m->gpa, m->flags};
	}
	if (!s->nacc) {
		snprintf(err, CPU_ERR_LEN, "%.200s: no access to run (read, write, fetch or cpuid lines)", path);
		goto out;
	}
	snprintf(out->format, sizeof(out->format), "vtsim-setup");
	struct stat sb;
	out->trace_bytes = stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
	/* The accesses as an event stream; its cursor says where an error is. */
	struct event_array sf = event_array_of(s->acc, s->nacc);
	struct frontend fe = {event_array_next, &sf, NULL};
	struct premaps pms = {pm, s->nmaps};
	char cpu_err[CPU_ERR_LEN], where[CPU_ERR_LEN];
	rc = run_machine(p, mode, &fe, NULL, &pms, NULL, NULL, out, intr, cpu_err);
	if (rc < 0) {
		if (sf.i > 0)
			snprintf(where, sizeof(where), "%.200s:%u", path, s->acc_line[sf.i - 1]);
		else
			snprintf(where, sizeof(where), "%.200s", path);
		locate_error(err, cpu_err, path, where);
	}
out:
	setup_free(s);
	free(s);
	return rc;
}

int sim_run(const struct sim_params *p, enum sim_mode mode, const char *trace_path, struct run_result *out,
	    volatile sig_atomic_t *intr, run_progress_fn progress, void *progress_ctx, char *err)
{
	memset(out, 0, sizeof(*out));
	if (params_validate(p, err) < 0)
		return -1;
	if (drmem_is_dir(trace_path) || (!traceset_is_dir(trace_path) && drmem_sniff_file(trace_path)))
		return sim_run_drmem(p, mode, trace_path, out, intr, progress, progress_ctx, err);
	if (traceset_is_dir(trace_path))
		return sim_run_set(p, mode, trace_path, out, intr, progress, progress_ctx, err);
	if (vtt_sniff_file(trace_path))
		return sim_run_vtt(p, mode, trace_path, out, intr, progress, progress_ctx, err);
	if (setup_sniff_file(trace_path))
		return sim_run_setup(p, mode, trace_path, out, intr, err);
	if (trace_file_checksum(trace_path, out->checksum, err) < 0)
		return -1;
	struct trace_reader *tr = trace_open(trace_path, err);
	if (!tr)
		return -1;
	snprintf(out->format, sizeof(out->format), "%s", trace_format(tr));
	out->trace_bytes = trace_file_size(tr);

	struct trace_fe fe_ctx = {tr, progress, progress_ctx};
	struct frontend fe = {fe_next, &fe_ctx, NULL};
	char cpu_err[CPU_ERR_LEN], where[CPU_ERR_LEN];
	int rc = run_machine(p, mode, &fe, NULL, NULL, fe_progress, &fe_ctx, out, intr, cpu_err);
	if (rc < 0) {
		snprintf(where, sizeof(where), "%.200s:%" PRIu64, trace_path, trace_line(tr));
		locate_error(err, cpu_err, trace_path, where);
	}
	trace_close(tr);
	return rc;
}

const char *trace_base_name(const char *path, char *buf, size_t len)
{
	size_t n = strlen(path), s;
	while (n > 1 && path[n - 1] == '/')
		n--;
	for (s = n; s > 0 && path[s - 1] != '/'; s--)
		;
	snprintf(buf, len, "%.*s", (int)(n - s), path + s);
	return buf;
}

int run_config_key(const struct sim_params *p, enum sim_mode mode, const char *checksum, char key[DB_KEY_LEN])
{
	char *json = params_json(p);
	if (!json)
		return -1;
	int rc = db_config_key(PACKAGE_VERSION, checksum, mode_name(mode), json, key);
	free(json);
	return rc;
}

int64_t run_store(struct db *db, const struct sim_params *p, enum sim_mode mode, const char *trace_path,
		  const struct run_result *r, const char *group, int64_t sweep_id, bool once, bool *stored, char *err)
{
	struct db_counter ctrs[CTR_COUNT];
	struct db_exit exits[EXIT_REASON_MAX];
	size_t nexits = 0;
	for (int i = 0; i < CTR_COUNT; i++)
		ctrs[i] = (struct db_counter){counter_table[i].name, r->ctr.v[i]};
	for (unsigned i = 0; i < EXIT_REASON_MAX; i++)
		if (r->exits[i].count)
			exits[nexits++] = (struct db_exit){i, exit_reason_name(i), r->exits[i].count, r->exits[i].cycles};
	char *json = params_json(p), name[256];
	struct db_sample *smp = malloc(((size_t)r->nsamples * RUN_SAMPLED_COUNTERS + 1) * sizeof(*smp));
	if (!json || !smp) {
		free(json);
		free(smp);
		snprintf(err, DB_ERR_LEN, "out of memory");
		return -1;
	}
	size_t nsmp = 0;
	for (uint32_t i = 0; i < r->nsamples; i++)
		for (int k = 0; k < RUN_SAMPLED_COUNTERS; k++)
			smp[nsmp++] = (struct db_sample){r->sample_cycle[i], counter_table[run_sampled_counters[k]].name,
							 r->sample_value[i][k]};
	struct db_run run = {
		.trace_path = trace_path,
		/* a workload run ("workload:NAME") is named by its workload */
		.trace_name = strncmp(trace_path, "workload:", 9) ? trace_base_name(trace_path, name, sizeof(name))
								 : trace_path + 9,
		.trace_checksum = r->checksum,
		.trace_format = r->format,
		.mode = mode_name(mode),
		.params_json = json,
		.version = PACKAGE_VERSION,
		.group_id = group,
		.sweep_id = sweep_id,
		.started_unix = r->started_unix,
		.finished_unix = r->finished_unix,
		.wall_seconds = r->wall_seconds,
		.counters = ctrs,
		.n_counters = CTR_COUNT,
		.exits = exits,
		.n_exits = nexits,
		.samples = smp,
		.n_samples = nsmp,
	};
	bool now;
	int64_t id = once ? db_store_run_once(db, &run, &now, err) : db_store_run(db, &run, err);
	if (stored)
		*stored = once ? now : id > 0;
	free(json);
	free(smp);
	return id;
}

int workload_checksum(const char *name, const struct sim_params *p, char out[17], uint64_t *sum, char *err)
{
	const struct workload_image *img = workload_image_find(name);
	if (!img) {
		snprintf(err, CPU_ERR_LEN, "workload %s: no image built", name);
		return -1;
	}
	XXH3_state_t *st = XXH3_createState();
	if (!st) {
		snprintf(err, CPU_ERR_LEN, "out of memory");
		return -1;
	}
	XXH3_64bits_reset(st);
	XXH3_64bits_update(st, img->bytes, img->size);
	uint64_t a[3] = {p->workload_size, p->workload_iterations, p->workload_seed};
	XXH3_64bits_update(st, a, sizeof(a));
	uint64_t h = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	snprintf(out, 17, "%016llx", (unsigned long long)h);
	if (sum)
		*sum = h;
	return 0;
}

int sim_run_workload(const struct sim_params *p, enum sim_mode mode, const char *workload, const char *record,
		     struct run_result *out, volatile sig_atomic_t *intr, char **console, char *err)
{
	memset(out, 0, sizeof(*out));
	if (console)
		*console = NULL;
	if (params_validate(p, err) < 0)
		return -1;
	const struct workload *w = workload_find(workload, err);
	if (!w)
		return -1;
	if (w->needs_devices && p->io_path == IO_NONE) {
		snprintf(err, CPU_ERR_LEN,
			 "workload %s drives the machine's devices: give it them with --io emulated, assigned or bounce",
			 w->name);
		return -1;
	}
	struct ucfe_args args = {p->workload_size, p->workload_iterations, p->workload_seed};
	struct ucfe *u = ucfe_open(w, &args, err);
	if (!u)
		return -1;
	if (p->io_path != IO_NONE) /* the machine has the NIC and the NVMe controller */
		ucfe_set_devices(u, (1u << UCFE_DEV_NIC) | (1u << UCFE_DEV_NVME));
	const struct workload_image *img = workload_image_find(w->name);
	uint64_t sum;
	if (workload_checksum(w->name, p, out->checksum, &sum, err) < 0) {
		ucfe_close(u);
		return -1;
	}
	snprintf(out->format, sizeof(out->format), "unicorn");
	out->trace_bytes = img->size;

	struct proc_source ps;
	ucfe_proc_source(u, &ps);
	struct vtt_recorder *rec = NULL;
	if (record) {
		const struct vtt_meta meta = {ps.root, "unicorn", sum, 0};
		rec = vtt_recorder_open(record, &ps, &meta, err);
		if (!rec) {
			ucfe_close(u);
			return -1;
		}
		vtt_recorder_source(rec, &ps);
	}
	char cpu_err[CPU_ERR_LEN];
	int rc = run_machine(p, mode, NULL, &ps, NULL, NULL, NULL, out, intr, cpu_err);
	if (rc == 0 && rec && vtt_recorder_finish(rec, err) < 0) {
		vtt_recorder_free(rec);
		ucfe_close(u);
		return -1;
	}
	vtt_recorder_free(rec);
	if (rc < 0) {
		if (!strncmp(cpu_err, "workload ", 9))
			memcpy(err, cpu_err, CPU_ERR_LEN);
		else
			snprintf(err, CPU_ERR_LEN, "workload %.100s: %.400s", w->name, cpu_err);
	} else if (rc == 0 && console) {
		*console = strdup(ucfe_console(u));
		if (!*console) {
			snprintf(err, CPU_ERR_LEN, "out of memory");
			rc = -1;
		}
	}
	ucfe_close(u);
	return rc;
}
