/*
 * `vtsim report`: one self-contained HTML page of a comparison (the runs of
 * one `vtsim compare`) or of a sweep: the configuration, the results side
 * by side, the plots inline as SVG (drawn by `vtsim plot`'s presets), the
 * VM exits by reason, and every run with links to its native baseline and
 * to the other modes of its configuration. No file outside the page is
 * needed (no scripts, styles or images from elsewhere).
 */
#ifndef VTSIM_CLI_REPORT_H
#define VTSIM_CLI_REPORT_H

/*
 * The report command; argv[0] is "report". Returns the exit status: 0 the
 * page is written, 1 the database, a plot or the file failed (one line on
 * stderr; no partial page is left), 2 a usage error.
 */
int cmd_report(int argc, char **argv);

#endif
