/*
 * gnuplot drawing of a comparison: overhead over native per mode, and VM
 * exits by reason per mode (stacked), side by side in one PNG or SVG.
 */
#ifndef VTSIM_CLI_PLOT_H
#define VTSIM_CLI_PLOT_H

#include "cli/run.h"

/*
 * Draw res[0..n) (modes[i] for each) into file; the format follows the
 * name: .png (cairo) or .svg. title names the trace and parameters.
 * Returns 0, or -1 with a one-line message in err (CPU_ERR_LEN): unknown
 * extension, gnuplot missing or failing, file not writable.
 */
int plot_compare(const char *file, const enum sim_mode *modes, const struct run_result *res, int n,
		 const char *title, char *err);

#endif
