/*
 * Notes: the data go to a temporary directory as two whitespace tables
 * (overhead.dat, exits.dat) with a gnuplot script beside them; gnuplot
 * (Debian's gnuplot-nox) runs the script. Nothing of the plot is drawn by
 * us.
 */
#include "cli/plot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmcs/vmcs.h"

static const char *terminal_for(const char *file)
{
	const char *dot = strrchr(file, '.');
	if (!dot)
		return NULL;
	if (!strcmp(dot, ".png"))
		return "pngcairo size 1100,480 noenhanced font 'sans,10'";
	if (!strcmp(dot, ".svg"))
		return "svg size 1100,480 noenhanced font 'sans,10'";
	return NULL;
}

/* gnuplot string literal: single quotes, a quote doubled. */
static void put_quoted(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		fputc(*s, f);
	}
	fputc('\'', f);
}

int plot_compare(const char *file, const enum sim_mode *modes, const struct run_result *res, int n,
		 const char *title, char *err)
{
	const char *term = terminal_for(file);
	if (!term) {
		snprintf(err, CPU_ERR_LEN, "--plot %s: the file must end in .png or .svg", file);
		return -1;
	}
	char dir[] = "/tmp/vtsim-plot-XXXXXX";
	if (!mkdtemp(dir)) {
		snprintf(err, CPU_ERR_LEN, "--plot: cannot create a temporary directory: %s", strerror(errno));
		return -1;
	}
	char path[3][sizeof(dir) + 16];
	snprintf(path[0], sizeof(path[0]), "%s/overhead.dat", dir);
	snprintf(path[1], sizeof(path[1]), "%s/exits.dat", dir);
	snprintf(path[2], sizeof(path[2]), "%s/plot.gp", dir);
	FILE *ov = fopen(path[0], "w"), *ex = fopen(path[1], "w"), *gp = fopen(path[2], "w");
	int rc = -1;
	if (!ov || !ex || !gp) {
		snprintf(err, CPU_ERR_LEN, "--plot: cannot write in %s: %s", dir, strerror(errno));
		goto out;
	}

	double native = 0;
	for (int i = 0; i < n; i++)
		if (modes[i] == MODE_NATIVE)
			native = (double)res[i].ctr.v[CTR_CPU_CYCLES];
	fprintf(ov, "# mode overhead_percent cycles\n");
	for (int i = 0; i < n; i++) {
		double c = (double)res[i].ctr.v[CTR_CPU_CYCLES];
		fprintf(ov, "%s %.4f %.0f\n", mode_name(modes[i]), native > 0 ? 100.0 * (c - native) / native : 0.0, c);
	}
	/* exits.dat: one row per mode, one column per reason any mode had. */
	unsigned reasons[EXIT_REASON_MAX];
	int nr = 0;
	for (unsigned e = 0; e < EXIT_REASON_MAX; e++)
		for (int i = 0; i < n; i++)
			if (res[i].exits[e].count) {
				reasons[nr++] = e;
				break;
			}
	fprintf(ex, "mode");
	for (int r = 0; r < nr; r++)
		fprintf(ex, " %s", exit_reason_name(reasons[r]));
	fprintf(ex, "\n");
	for (int i = 0; i < n; i++) {
		fprintf(ex, "%s", mode_name(modes[i]));
		for (int r = 0; r < nr; r++)
			fprintf(ex, " %llu", (unsigned long long)res[i].exits[reasons[r]].count);
		fprintf(ex, "\n");
	}

	fprintf(gp, "set terminal %s\nset output ", term);
	put_quoted(gp, file);
	fprintf(gp, "\nset multiplot layout 1,2 title ");
	put_quoted(gp, title);
	fprintf(gp, "\nset style data histograms\nset style fill solid 0.8 border -1\nset boxwidth 0.7\n"
		    "set grid ytics\nset key top left\n"
		    "set title 'Overhead over native'\nset ylabel 'overhead (%% of native cycles)'\nset yrange [0:*]\n"
		    "plot '%s' using 2:xtic(1) title 'cycles over native' lc rgb '#4472c4'\n",
		path[0]);
	fprintf(gp, "set title 'VM exits by reason'\nset ylabel 'exits (count)'\n"
		    "set style histogram rowstacked\nset key outside right top vertical\n");
	if (nr == 0) {
		fprintf(gp, "set label 1 'no VM exits' at graph 0.5, graph 0.5 center\n"
			    "plot '%s' using 2:xtic(1) notitle lc rgb '#ffffff'\n",
			path[0]);
	} else {
		fprintf(gp, "plot for [c=2:%d] '%s' using c:xtic(1) title columnheader(c)\n", nr + 1, path[1]);
	}
	fprintf(gp, "unset multiplot\n");
	fclose(ov);
	fclose(ex);
	fclose(gp);
	ov = ex = gp = NULL;

	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, CPU_ERR_LEN, "--plot: fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		execlp("gnuplot", "gnuplot", path[2], (char *)NULL);
		_exit(127);
	}
	int status;
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status)) {
		snprintf(err, CPU_ERR_LEN, "--plot: gnuplot did not finish");
	} else if (WEXITSTATUS(status) == 127) {
		snprintf(err, CPU_ERR_LEN, "--plot: gnuplot not found (install Debian's gnuplot-nox)");
	} else if (WEXITSTATUS(status) != 0) {
		snprintf(err, CPU_ERR_LEN, "--plot: gnuplot failed writing %s (status %d)", file, WEXITSTATUS(status));
	} else {
		rc = 0;
	}
out:
	if (ov)
		fclose(ov);
	if (ex)
		fclose(ex);
	if (gp)
		fclose(gp);
	for (int i = 0; i < 3; i++)
		unlink(path[i]);
	rmdir(dir);
	return rc;
}
