/*
 * `vtsim plot`: gnuplot drawings of queries on the results database, PNG
 * (pngcairo) or SVG. Presets:
 *   overhead  overhead of each mode over native, per trace (grouped bars)
 *   exits     VM exits by reason, per run (stacked bars)
 *   sweep     a sweep axis against a counter, one line per mode (a panel per trace)
 *   samples   interval samples of counters over simulated time (lines)
 * and --sql for any query of two columns (x, y) or three (series, x, y).
 * docs/manual.md, "Plots", describes them.
 */
#ifndef VTSIM_CLI_DBPLOT_H
#define VTSIM_CLI_DBPLOT_H

#include "db/db.h"

#define PLOT_ERR_LEN 768

/*
 * Draw preset ("overhead", "exits", "sweep", "samples") from the open
 * database db (db_path names it in messages) into out (.png or .svg), with
 * the command's filters (NULL: none): sweep name, trace name, run ids
 * ("3,4"), sweep axis, counters. Returns 0, or -1 with a one-line message
 * in err (PLOT_ERR_LEN). Used by `vtsim report`.
 */
int plot_preset(struct db *db, const char *db_path, const char *preset, const char *sweep, const char *trace,
		const char *runs, const char *axis, const char *counters, const char *out, char *err);

/*
 * The plot command; argv[0] is "plot". Returns the exit status: 0 the
 * plot is written, 1 the database, the query or gnuplot failed or there is
 * nothing to draw (one line on stderr), 2 a usage error.
 */
int cmd_plot(int argc, char **argv);

#endif
