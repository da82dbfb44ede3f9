/*
 * `vtsim sweep GRID.ini`: every run of a grid (src/cli/grid.h), each in its
 * own process, --jobs at a time, stored in one database; a configuration
 * already stored is skipped, so an interrupted sweep resumes where it
 * stopped. docs/manual.md, "Sweeps", is the user's description.
 */
#ifndef VTSIM_CLI_SWEEP_H
#define VTSIM_CLI_SWEEP_H

#include <signal.h>

/*
 * The sweep command; argv[0] is "sweep". intr becomes non-zero on SIGINT or
 * SIGTERM (the handler is the caller's, inherited by the run processes).
 * Returns the exit status: 0 every run stored (now or before), 1 a run
 * failed or the database or a trace could not be read (one line each on
 * stderr), 2 a usage error or a bad grid (one line naming file and line),
 * 130 interrupted (every finished run is stored).
 */
int cmd_sweep(int argc, char **argv, volatile sig_atomic_t *intr);

#endif
