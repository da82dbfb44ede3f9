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

/*
 * The plot command; argv[0] is "plot". Returns the exit status: 0 the
 * plot is written, 1 the database, the query or gnuplot failed or there is
 * nothing to draw (one line on stderr), 2 a usage error.
 */
int cmd_plot(int argc, char **argv);

#endif
