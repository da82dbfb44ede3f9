/*
 * Sweep grids: an INI file (parsed by Debian's libinih) naming a sweep,
 * its output database, the traces, the modes and any number of parameter
 * axes. The runs of a grid are the cross product traces (and workloads) x axis values x
 * modes, in that nesting order (the last axis varies fastest among the
 * axes, the mode fastest of all). The format is in docs/manual.md,
 * "Sweeps"; an example is results/examples/tlb-sweep.ini:
 *
 *   [sweep]
 *   name   = tlb-sweep
 *   db     = ../tlb-sweep.db               ; relative to the grid's directory
 *   traces = ../../traces/sort.lackey.zst,
 *            ../../traces/pipeline.d       ; an indented line continues a value
 *   workloads = pointer-chase, matmul      ; execution-driven guests (docs/workloads.md)
 *   modes  = native, shadow, ept
 *
 *   [params]
 *   cpu.profile    = nehalem, skylake
 *   tlb.l2.entries = 256, 512..2048 step 512 ; lists and integer ranges
 *
 * Every error is one line, "GRID:LINE: what" (or "GRID: what" for a point of
 * the grid whose parameters do not fit together, naming the point).
 */
#ifndef VTSIM_CLI_GRID_H
#define VTSIM_CLI_GRID_H

#include <stddef.h>
#include <stdint.h>

#include "cli/run.h"

#define GRID_ERR_LEN 640
#define GRID_MAX_RUNS 1000000   /* a grid of more runs is refused */
#define GRID_MAX_AXIS_VALUES 100000

/* One parameter axis: a param_table name and its values, as text. */
struct grid_axis {
	char *name;      /* e.g. "tlb.l2.entries" */
	char **values;   /* e.g. "512", "1024"; each accepted by params_set */
	size_t n;
	int line;        /* where the axis is given in the grid file */
};

struct grid {
	char *path;      /* the grid file as given */
	char *name;      /* [sweep] name; default: the file's base name without .ini */
	char *db;        /* [sweep] db resolved against the grid's directory, or NULL */
	char **traces;   /* [sweep] traces resolved against the grid's directory, then each of
			  * [sweep] workloads as "workload:NAME" (what `vtsim run --workload` stores) */
	size_t ntraces;
	enum sim_mode modes[MODE_COUNT]; /* in the order given */
	size_t nmodes;
	struct grid_axis *axes; /* [params], in file order; cpu.profile is always axes[0] when given */
	size_t naxes;
	size_t npoints;  /* product of the axes' sizes (1 without axes) */
	size_t nruns;    /* ntraces * npoints * nmodes */
};

/*
 * Parse the grid file at path into *g. Checks every key, every parameter
 * name and value (params_set), every range, that every trace exists, and
 * that every point's parameters pass params_validate. Returns 0, or -1 with
 * a one-line message in err (GRID_ERR_LEN) naming the file and line;
 * grid_free is safe after either.
 */
int grid_load(struct grid *g, const char *path, char *err);

void grid_free(struct grid *g);

/*
 * The run with index i (0 <= i < g->nruns): its trace index, point index
 * (into the axes' cross product) and mode.
 */
void grid_run_at(const struct grid *g, size_t i, size_t *trace, size_t *point, enum sim_mode *mode);

/* The value index of axis a at point (0 <= point < g->npoints). */
size_t grid_point_value(const struct grid *g, size_t point, size_t a);

/*
 * The parameters of point: the defaults, then cpu.profile if it is an axis,
 * then every other axis in file order. Returns 0, or -1 with the
 * parameter's message in err (256 bytes); grid_load has checked every point.
 */
int grid_point_params(const struct grid *g, size_t point, struct sim_params *p, char *err);

/* "tlb.l2.entries=512 vmx.vpid=off" for point into buf (empty without axes). */
void grid_point_label(const struct grid *g, size_t point, char *buf, size_t len);

/*
 * The grid as one JSON object for the sweep table:
 * {"name":..,"traces":[..],"modes":[..],"axes":[{"name":..,"values":[..]},..]}
 * malloc'd; NULL when out of memory.
 */
char *grid_json(const struct grid *g);

#endif
