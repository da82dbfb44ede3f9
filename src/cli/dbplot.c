/*
 * Notes: every preset is a query on the database (the views of
 * docs/schema.md) whose rows become series: a series is a name and points
 * (x as text, y as a number). A plot with numeric x draws lines; with
 * categorical x, bars (clustered, or stacked for exits). The series go to
 * gnuplot as datablocks in one script (a temporary file); gnuplot
 * (Debian's gnuplot-nox: pngcairo and svg terminals) draws the file. An
 * empty result is an error, never an empty picture.
 */
#include "config.h"

#include "cli/dbplot.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/run.h"
#include "cpu/params.h"
#include "db/db.h"
#include "stats/counters.h"

#define DEFAULT_DB "results/vtsim.db"

static const char plot_help[] =
	"Usage: vtsim plot PRESET --out FILE.png|FILE.svg [--db PATH] [options]\n"
	"       vtsim plot --sql QUERY --out FILE.png|FILE.svg [--db PATH] [options]\n"
	"\n"
	"Draw a plot of the results database with gnuplot. Presets:\n"
	"  overhead   overhead of each mode over native per trace (grouped bars;\n"
	"             the mean over configurations when there are several)\n"
	"  exits      VM exits by reason (stacked bars): the latest run of each trace\n"
	"             and mode, or --run\n"
	"  sweep      a sweep axis against a counter, a line per mode (and per value of\n"
	"             the other axes that vary), a panel per trace; needs --sweep\n"
	"  samples    interval samples over simulated time (per 1000 cycles); needs --run\n"
	"--sql QUERY: any query that only reads, of two columns (x, y) or three\n"
	"(series, x, y); numeric x gives lines, other x bars.\n"
	"\n"
	"  -o, --out FILE        the plot, .png (cairo) or .svg (required)\n"
	"  -d, --db PATH         results database (default " DEFAULT_DB ")\n"
	"  -s, --sweep NAME      only the runs of this sweep (overhead, exits, sweep)\n"
	"  -t, --trace NAME      only this trace (its base name, e.g. sort.lackey.zst)\n"
	"  -r, --run ID[,ID...]  runs (overhead: these and their native runs; exits,\n"
	"                        samples)\n"
	"  -a, --axis NAME       sweep: the x axis (default: the first that varies)\n"
	"  -c, --counter NAME[,NAME...]  sweep: the y counter (default cpu.cycles);\n"
	"                        samples: counters (default tlb.l2.miss,walk.count,\n"
	"                        vmx.exits,guest.pf)\n"
	"      --sql QUERY       the query (instead of a preset)\n"
	"      --title T, --xlabel X, --ylabel Y   --sql: texts (default: the\n"
	"                        column names)\n"
	"      --style lines|bars  --sql: force the style\n"
	"  -h, --help            this help\n";

/* ---- rows of a query ------------------------------------------------------ */

#define TABLE_MAX_COLS 8

struct table {
	int ncol;
	char *names[TABLE_MAX_COLS];
	size_t nrows, cap;
	char **cell; /* nrows * ncol, NULL for SQL NULL */
	bool oom;
};

static int table_row(void *ctx, int ncol, const char *const *names, const char *const *vals)
{
	struct table *t = ctx;
	if (ncol > TABLE_MAX_COLS || ncol < 1 || (t->ncol && ncol != t->ncol))
		return 1;
	if (!t->ncol) {
		t->ncol = ncol;
		for (int c = 0; c < ncol; c++)
			t->names[c] = strdup(names[c] ? names[c] : "");
	}
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		char **g = realloc(t->cell, cap * (size_t)ncol * sizeof(*g));
		if (!g) {
			t->oom = true;
			return 1;
		}
		t->cell = g;
		t->cap = cap;
	}
	for (int c = 0; c < ncol; c++)
		t->cell[t->nrows * (size_t)ncol + (size_t)c] = vals[c] ? strdup(vals[c]) : NULL;
	t->nrows++;
	return 0;
}

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->nrows * (size_t)t->ncol; i++)
		free(t->cell[i]);
	free(t->cell);
	for (int c = 0; c < TABLE_MAX_COLS; c++)
		free(t->names[c]);
	memset(t, 0, sizeof(*t));
}

static const char *cell(const struct table *t, size_t r, int c)
{
	return t->cell[r * (size_t)t->ncol + (size_t)c];
}

/* Run sql with params into *t; ncol > 0: the rows must have that many
 * columns (a preset's own query); 0: 2 or 3 (--sql). */
static int query(struct db *db, const char *sql, const char *const *params, int np, struct table *t, int ncol,
		 char *err)
{
	memset(t, 0, sizeof(*t));
	err[0] = '\0';
	int64_t n = db_query(db, sql, params, np, table_row, t, err);
	if (n < 0 && !err[0])
		snprintf(err, PLOT_ERR_LEN, t->oom ? "out of memory" : "the query gives more than %d columns",
			 TABLE_MAX_COLS);
	if (n >= 0 && n > 0 && ((ncol && t->ncol != ncol) || (!ncol && t->ncol != 2 && t->ncol != 3))) {
		snprintf(err, PLOT_ERR_LEN, "the query gives %d column%s; it must give 2 (x, y) or 3 (series, x, y)",
			 t->ncol, t->ncol == 1 ? "" : "s");
		n = -1;
	}
	if (n < 0) {
		table_free(t); /* the rows read before the error */
		return -1;
	}
	return 0;
}

/* ---- series ------------------------------------------------------------------ */

struct series {
	char *name;
	size_t n;
	char **x;   /* as text */
	double *y;  /* NAN: missing */
};

struct plot {
	struct series *s;
	size_t ns;
	char **xcat;  /* categorical x values in order of appearance */
	size_t nxcat;
	bool numeric; /* every x is a number */
	bool oom;
};

static struct series *series_get(struct plot *p, const char *name)
{
	for (size_t i = 0; i < p->ns; i++)
		if (!strcmp(p->s[i].name, name))
			return &p->s[i];
	struct series *g = realloc(p->s, (p->ns + 1) * sizeof(*g));
	if (!g) {
		p->oom = true;
		return NULL;
	}
	p->s = g;
	memset(&g[p->ns], 0, sizeof(g[0]));
	if (!(g[p->ns].name = strdup(name))) {
		p->oom = true;
		return NULL;
	}
	return &g[p->ns++];
}

static bool is_number(const char *s)
{
	if (!s || !*s)
		return false;
	char *end;
	strtod(s, &end);
	return *end == '\0';
}

static void plot_add(struct plot *p, const char *series, const char *x, double y)
{
	struct series *s = series_get(p, series);
	if (!s)
		return;
	char **gx = realloc(s->x, (s->n + 1) * sizeof(*gx));
	double *gy = gx ? realloc(s->y, (s->n + 1) * sizeof(*gy)) : NULL;
	if (gx)
		s->x = gx;
	if (gy)
		s->y = gy;
	if (!gx || !gy || !(s->x[s->n] = strdup(x))) {
		p->oom = true;
		return;
	}
	s->y[s->n++] = y;
	for (size_t i = 0; i < p->nxcat; i++)
		if (!strcmp(p->xcat[i], x))
			return;
	char **gc = realloc(p->xcat, (p->nxcat + 1) * sizeof(*gc));
	if (!gc || !(gc[p->nxcat] = strdup(x))) {
		if (gc)
			p->xcat = gc;
		p->oom = true;
		return;
	}
	p->xcat = gc;
	p->nxcat++;
}

static void plot_free(struct plot *p)
{
	for (size_t i = 0; i < p->ns; i++) {
		for (size_t k = 0; k < p->s[i].n; k++)
			free(p->s[i].x[k]);
		free(p->s[i].x);
		free(p->s[i].y);
		free(p->s[i].name);
	}
	free(p->s);
	for (size_t i = 0; i < p->nxcat; i++)
		free(p->xcat[i]);
	free(p->xcat);
	memset(p, 0, sizeof(*p));
}

static void plot_finish(struct plot *p)
{
	p->numeric = p->nxcat > 0;
	for (size_t i = 0; i < p->nxcat; i++)
		p->numeric &= is_number(p->xcat[i]);
}

/* The y of series s at categorical x, or NAN. */
static double y_at(const struct series *s, const char *x)
{
	for (size_t k = 0; k < s->n; k++)
		if (!strcmp(s->x[k], x))
			return s->y[k];
	return NAN;
}

/* ---- gnuplot ------------------------------------------------------------------ */

/* gnuplot string literal: single quotes, a quote doubled. */
static void gq(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		if (*s == '\n')
			fputc(' ', f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

/* A data column text: double-quoted, without quotes or line breaks inside. */
static void dq(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++)
		fputc(*s == '"' || *s == '\n' ? '\'' : *s, f);
	fputc('"', f);
}

static void put_y(FILE *f, double y)
{
	if (isnan(y))
		fputs(" NaN", f);
	else
		fprintf(f, " %.10g", y);
}

static const char *terminal(const char *file, int w, int h, char *buf, size_t len)
{
	const char *dot = strrchr(file, '.');
	if (dot && !strcmp(dot, ".png"))
		snprintf(buf, len, "pngcairo size %d,%d noenhanced font 'sans,10'", w, h);
	else if (dot && !strcmp(dot, ".svg"))
		snprintf(buf, len, "svg size %d,%d noenhanced font 'sans,10' background '#ffffff'", w, h);
	else
		return NULL;
	return buf;
}

static void gp_head(FILE *f, const char *term, const char *out)
{
	fprintf(f, "set terminal %s\nset output ", term);
	gq(f, out);
	fputs("\nset datafile missing 'NaN'\nset grid ytics\nset border 3\nset tics nomirror\n", f);
}

/* Run gnuplot on script path; 0 or -1 with err. */
static int run_gnuplot(const char *script, const char *out, char *err)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, PLOT_ERR_LEN, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		execlp("gnuplot", "gnuplot", script, (char *)NULL);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			snprintf(err, PLOT_ERR_LEN, "gnuplot did not finish: %s", strerror(errno));
			return -1;
		}
	if (!WIFEXITED(status)) {
		snprintf(err, PLOT_ERR_LEN, "gnuplot was killed by signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		return -1;
	}
	if (WEXITSTATUS(status) == 127) {
		snprintf(err, PLOT_ERR_LEN, "gnuplot not found (install Debian's gnuplot-nox)");
		return -1;
	}
	if (WEXITSTATUS(status) != 0) {
		snprintf(err, PLOT_ERR_LEN, "gnuplot failed writing %s (status %d)", out, WEXITSTATUS(status));
		return -1;
	}
	return 0;
}

/* Datablock $D<i> of series s: "x y" rows (numeric x) or "index y label". */
static void datablock(FILE *f, int i, const struct plot *p, const struct series *s)
{
	fprintf(f, "$D%d << EOD\n", i);
	for (size_t k = 0; k < s->n; k++) {
		if (p->numeric) {
			fprintf(f, "%s", s->x[k]);
		} else {
			size_t idx = 0;
			while (idx < p->nxcat && strcmp(p->xcat[idx], s->x[k]))
				idx++;
			fprintf(f, "%zu", idx);
		}
		put_y(f, s->y[k]);
		fputc('\n', f);
	}
	fputs("EOD\n", f);
}

/* x is all powers of two spanning at least 4x: a log2 axis reads better. */
static bool powers_of_two(const struct plot *p)
{
	if (!p->numeric || p->nxcat < 3)
		return false;
	double lo = INFINITY, hi = 0;
	for (size_t i = 0; i < p->nxcat; i++) {
		double v = strtod(p->xcat[i], NULL);
		if (v <= 0 || v != floor(v) || ((uint64_t)v & ((uint64_t)v - 1)))
			return false;
		lo = fmin(lo, v);
		hi = fmax(hi, v);
	}
	return hi / lo >= 4;
}

/* One panel of lines: one per series (numeric or categorical x). */
static void gp_lines(FILE *f, const struct plot *p, int first_block)
{
	if (powers_of_two(p))
		fputs("set logscale x 2\nset xtics (", f);
	else
		fputs("unset logscale x\n", f);
	if (powers_of_two(p)) {
		for (size_t i = 0; i < p->nxcat; i++)
			fprintf(f, "%s'%s' %s", i ? ", " : "", p->xcat[i], p->xcat[i]);
		fputs(")\n", f);
	} else if (!p->numeric) {
		fputs("set xtics (", f);
		for (size_t i = 0; i < p->nxcat; i++) {
			fprintf(f, "%s", i ? ", " : "");
			gq(f, p->xcat[i]);
			fprintf(f, " %zu", i);
		}
		fprintf(f, ")\nset xrange [-0.5:%zu.5]\n", p->nxcat - 1);
	} else {
		fputs("set xtics autofreq\n", f);
	}
	/* Points only where they can be told apart. */
	size_t most = 0;
	for (size_t i = 0; i < p->ns; i++)
		most = p->s[i].n > most ? p->s[i].n : most;
	fputs("plot ", f);
	for (size_t i = 0; i < p->ns; i++) {
		fprintf(f, "%s$D%zu using 1:2 with %s title ", i ? ", \\\n     " : "", (size_t)first_block + i,
			most <= 40 ? "linespoints lw 2 pt 7 ps 0.8" : "lines lw 1.5");
		gq(f, p->s[i].name);
	}
	fputc('\n', f);
}

/* Bars: rows = categorical x, one column per series (clustered or stacked). */
static void gp_bars(FILE *f, const struct plot *p, bool stacked, int block)
{
	fprintf(f, "$B%d << EOD\n\"x\"", block);
	for (size_t i = 0; i < p->ns; i++) {
		fputc(' ', f);
		dq(f, p->s[i].name);
	}
	fputc('\n', f);
	for (size_t r = 0; r < p->nxcat; r++) {
		dq(f, p->xcat[r]);
		for (size_t i = 0; i < p->ns; i++)
			put_y(f, y_at(&p->s[i], p->xcat[r]));
		fputc('\n', f);
	}
	fputs("EOD\n", f);
	fprintf(f, "set style data histograms\nset style histogram %s\nset style fill solid 0.85 border -1\n"
		   "set boxwidth 0.8\nset xtics rotate by -25\n",
		stacked ? "rowstacked" : "clustered gap 1");
	/* Bars start at 0 unless a value is negative. */
	bool negative = false;
	for (size_t i = 0; i < p->ns; i++)
		for (size_t k = 0; k < p->s[i].n; k++)
			negative |= p->s[i].y[k] < 0;
	fputs(negative ? "set xzeroaxis\n" : "set yrange [0:*]\n", f);
	fprintf(f, "plot for [c=2:%zu] $B%d using c:xtic(1) title columnheader(c)\n", p->ns + 1, block);
}

/* Write the script (lines or bars), run gnuplot. */
static int draw(const char *out, const char *title, const char *xlabel, const char *ylabel, struct plot *const *panels,
		const char *const *panel_titles, size_t npanels, bool bars, bool stacked, char *err)
{
	for (size_t k = 0; k < npanels; k++)
		plot_finish(panels[k]);
	int cols = npanels > 1 ? 2 : 1, rows = (int)((npanels + (size_t)cols - 1) / (size_t)cols);
	int w = bars ? 1000 : 560 * cols + (cols == 1 ? 240 : 0), h = bars ? 560 : 380 * rows + 60;
	char tb[160];
	const char *term = terminal(out, w, h, tb, sizeof(tb));
	if (!term) {
		snprintf(err, PLOT_ERR_LEN, "--out %s: the file must end in .png or .svg", out);
		return -1;
	}
	char path[] = "/tmp/vtsim-plot-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		snprintf(err, PLOT_ERR_LEN, "cannot write a temporary gnuplot script: %s", strerror(errno));
		if (fd >= 0)
			close(fd), unlink(path);
		return -1;
	}
	gp_head(f, term, out);
	fputs("set key outside right top vertical\n", f);
	fputs("set xlabel ", f);
	gq(f, xlabel);
	fputs("\nset ylabel ", f);
	gq(f, ylabel);
	fputc('\n', f);
	if (npanels > 1) {
		fprintf(f, "set multiplot layout %d,%d title ", rows, cols);
		gq(f, title);
		fputs(" font 'sans,12'\n", f);
	}
	int block = 0;
	for (size_t k = 0; k < npanels; k++) {
		fputs("set title ", f);
		gq(f, npanels > 1 ? panel_titles[k] : title);
		fputc('\n', f);
		if (bars) {
			gp_bars(f, panels[k], stacked, (int)k);
		} else {
			for (size_t i = 0; i < panels[k]->ns; i++)
				datablock(f, block + (int)i, panels[k], &panels[k]->s[i]);
			gp_lines(f, panels[k], block);
			block += (int)panels[k]->ns;
		}
	}
	if (npanels > 1)
		fputs("unset multiplot\n", f);
	bool werr = ferror(f);
	if (fclose(f) != 0 || werr) {
		snprintf(err, PLOT_ERR_LEN, "writing %s: %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	int rc = run_gnuplot(path, out, err);
	unlink(path);
	return rc;
}

/* ---- presets ------------------------------------------------------------------ */

struct opts {
	const char *db, *out, *sweep, *trace, *runs, *axis, *counters, *sql, *title, *xlabel, *ylabel, *style;
};

/* Runs of the selection: -s / -t as ?1, ?2 (NULL = any). */
#define SEL_WHERE                                                                                                   \
	"(?1 IS NULL OR r.id IN (SELECT sr.run_id FROM sweep_run sr JOIN sweep s ON s.id = sr.sweep_id"               \
	" WHERE s.name = ?1)) AND (?2 IS NULL OR r.trace_name = ?2)"

/* The distinct cpu.profile of the runs in `from_where` ("profile nehalem, skylake"). */
static void profiles(struct db *db, const char *from_where, const char *const *params, int np, char *buf,
		     size_t len)
{
	char sql[1024], err[PLOT_ERR_LEN];
	struct table t;
	snprintf(sql, sizeof(sql),
		 "SELECT group_concat(p, ', ') FROM (SELECT DISTINCT json_extract(r.params_json, '$.\"cpu.profile\"') AS p"
		 " %s ORDER BY p)",
		 from_where);
	buf[0] = '\0';
	if (query(db, sql, params, np, &t, 1, err) == 0 && t.nrows && cell(&t, 0, 0))
		snprintf(buf, len, "profile %s", cell(&t, 0, 0));
	table_free(&t);
}

static const char *mode_order_sql = "CASE r.mode WHEN 'native' THEN 0 WHEN 'shadow' THEN 1 WHEN 'ept' THEN 2 ELSE 3 END";


static double num(const char *s)
{
	return s ? strtod(s, NULL) : NAN;
}

static int no_rows(const struct opts *o, const char *what, char *err)
{
	snprintf(err, PLOT_ERR_LEN, "nothing to plot: no %s%s%s%s%s", what, o->sweep ? " in sweep " : "",
		 o->sweep ? o->sweep : "", o->trace ? " of trace " : "", o->trace ? o->trace : "");
	return -1;
}

/* Parse "1,2,3" into a SQL list "1,2,3" of run ids; -1 if not integers. */
static int id_list(const char *s, char *out, size_t len)
{
	size_t used = 0;
	out[0] = '\0';
	for (const char *p = s; *p;) {
		char *end;
		errno = 0;
		long long v = strtoll(p, &end, 10);
		if (errno || end == p || v <= 0 || (*end && *end != ','))
			return -1;
		int n = snprintf(out + used, len - used, "%s%lld", used ? "," : "", v);
		if (n < 0 || (size_t)n >= len - used)
			return -1;
		used += (size_t)n;
		p = *end ? end + 1 : end;
	}
	return used ? 0 : -1;
}

/* (a) overhead of each mode over native per trace: grouped bars. */
static int preset_overhead(struct db *db, const struct opts *o, char *err)
{
	const char *params[2] = {o->sweep, o->trace};
	char sql[2048], prof[256], title[512], ids[1024] = "", only[1100] = "", from[1400];
	if (o->runs && id_list(o->runs, ids, sizeof(ids)) < 0) {
		snprintf(err, PLOT_ERR_LEN, "--run takes run ids, e.g. 3,4,5");
		return -1;
	}
	if (ids[0])
		snprintf(only, sizeof(only), " AND (r.id IN (%s) OR o.native_run_id IN (%s))", ids, ids);
	snprintf(sql, sizeof(sql),
		 "SELECT r.trace_name, r.mode, avg(o.overhead_pct), count(*) FROM run_overhead o"
		 " JOIN run r ON r.id = o.run_id WHERE " SEL_WHERE "%s"
		 " GROUP BY r.trace_name, r.mode ORDER BY r.trace_name, %s",
		 only, mode_order_sql);
	snprintf(from, sizeof(from), "FROM run_overhead o JOIN run r ON r.id = o.run_id WHERE " SEL_WHERE "%s", only);
	struct table t;
	struct plot p = {0};
	if (query(db, sql, params, 2, &t, 4, err) < 0)
		return -1;
	if (!t.nrows) {
		table_free(&t);
		return no_rows(o, "run with a native run of the same configuration", err);
	}
	long maxn = 0;
	/* series = mode, x = trace */
	for (size_t r = 0; r < t.nrows; r++) {
		plot_add(&p, cell(&t, r, 1), cell(&t, r, 0), num(cell(&t, r, 2)));
		maxn = labs(strtol(cell(&t, r, 3), NULL, 10)) > maxn ? strtol(cell(&t, r, 3), NULL, 10) : maxn;
	}
	table_free(&t);
	profiles(db, from, params, 2, prof, sizeof(prof));
	snprintf(title, sizeof(title), "Overhead over native per trace%s%s%s%s%s", prof[0] ? ", " : "", prof,
		 o->sweep ? ", sweep " : "", o->sweep ? o->sweep : "",
		 maxn > 1 ? " (mean over the sweep's configurations)" : "");
	struct plot *pp = &p;
	int rc = p.oom ? (snprintf(err, PLOT_ERR_LEN, "out of memory"), -1)
		       : draw(o->out, title, "trace", "overhead over native (% of native cycles)", &pp, NULL, 1, true,
			      false, err);
	plot_free(&p);
	return rc;
}

/* (b) VM exits by reason: stacked bars per run. */
static int preset_exits(struct db *db, const struct opts *o, char *err)
{
	const char *params[2] = {o->sweep, o->trace};
	char ids[1024], sql[2048], prof[256], title[512], from[1200];
	if (o->runs) {
		if (id_list(o->runs, ids, sizeof(ids)) < 0) {
			snprintf(err, PLOT_ERR_LEN, "--run takes run ids, e.g. 3,4,5");
			return -1;
		}
	} else {
		struct table t;
		snprintf(sql, sizeof(sql),
			 "SELECT max(r.id) FROM run r WHERE r.mode <> 'native' AND " SEL_WHERE
			 " GROUP BY r.trace_name, r.mode ORDER BY r.trace_name, %s",
			 mode_order_sql);
		if (query(db, sql, params, 2, &t, 1, err) < 0)
			return -1;
		size_t used = 0;
		ids[0] = '\0';
		for (size_t r = 0; r < t.nrows && used + 24 < sizeof(ids); r++)
			used += (size_t)snprintf(ids + used, sizeof(ids) - used, "%s%s", r ? "," : "", cell(&t, r, 0));
		size_t n = t.nrows;
		table_free(&t);
		if (!n)
			return no_rows(o, "VMX-mode run", err);
	}
	snprintf(sql, sizeof(sql),
		 "SELECT r.id, r.trace_name || ' ' || r.mode || ' (run ' || r.id || ')', e.name, e.count"
		 " FROM run r JOIN exit e ON e.run_id = r.id WHERE r.id IN (%s)"
		 " ORDER BY r.trace_name, %s, r.id,"
		 " (SELECT -sum(e2.count) FROM exit e2 WHERE e2.name = e.name AND e2.run_id IN (%s)), e.name",
		 ids, mode_order_sql, ids);
	struct table t;
	if (query(db, sql, NULL, 0, &t, 4, err) < 0)
		return -1;
	if (!t.nrows) {
		table_free(&t);
		snprintf(err, PLOT_ERR_LEN, "nothing to plot: runs %.300s have no VM exits", ids);
		return -1;
	}
	/* series = reason (in order of total count), x = run */
	struct plot p = {0};
	for (size_t r = 0; r < t.nrows; r++)
		plot_add(&p, cell(&t, r, 2), cell(&t, r, 1), num(cell(&t, r, 3)));
	table_free(&t);
	snprintf(from, sizeof(from), "FROM run r WHERE r.id IN (%s)", ids);
	profiles(db, from, NULL, 0, prof, sizeof(prof));
	snprintf(title, sizeof(title), "VM exits by reason%s%s%s%s%s", prof[0] ? ", " : "", prof,
		 o->runs ? "" : ", latest run of each trace and mode", o->sweep ? " in sweep " : "",
		 o->sweep ? o->sweep : "");
	struct plot *pp = &p;
	int rc = p.oom ? (snprintf(err, PLOT_ERR_LEN, "out of memory"), -1)
		       : draw(o->out, title, "run (trace, mode)", "VM exits (count)", &pp, NULL, 1, true, true, err);
	plot_free(&p);
	return rc;
}

static const struct param_info *param_named(const char *name)
{
	for (size_t i = 0; i < param_count; i++)
		if (!strcmp(param_table[i].name, name))
			return &param_table[i];
	return NULL;
}

/* (c) a sweep axis against a counter: lines per mode, a panel per trace. */
static int preset_sweep(struct db *db, const struct opts *o, char *err)
{
	if (!o->sweep) {
		snprintf(err, PLOT_ERR_LEN, "the sweep preset needs --sweep NAME");
		return -2;
	}
	const char *counter = o->counters ? o->counters : "cpu.cycles";
	int ci = counter_by_name(counter);
	if (ci < 0) {
		snprintf(err, PLOT_ERR_LEN, "unknown counter '%s' (vtsim db export --csv --table counter lists them)",
			 counter);
		return -1;
	}
	/* The sweep's axes: name and number of values, in grid order. */
	const char *sp[1] = {o->sweep};
	struct table ax;
	if (query(db,
		  "SELECT json_extract(a.value, '$.name'), json_array_length(a.value, '$.values') FROM sweep s,"
		  " json_each(s.grid, '$.axes') a WHERE s.name = ?1 ORDER BY a.key",
		  sp, 1, &ax, 2, err) < 0)
		return -1;
	struct table sw;
	if (query(db, "SELECT id FROM sweep WHERE name = ?1", sp, 1, &sw, 1, err) < 0) {
		table_free(&ax);
		return -1;
	}
	bool found = sw.nrows > 0;
	table_free(&sw);
	if (!found) {
		table_free(&ax);
		snprintf(err, PLOT_ERR_LEN, "no sweep named '%s' in %s", o->sweep, o->db);
		return -1;
	}
	const char *axis = o->axis;
	for (size_t r = 0; r < ax.nrows && !axis; r++)
		if (strtol(cell(&ax, r, 1), NULL, 10) > 1)
			axis = cell(&ax, r, 0);
	/* The other axes that vary make more lines (JSON list for the query). */
	char others[1024] = "[";
	size_t used = 1;
	for (size_t r = 0; r < ax.nrows; r++) {
		const char *name = cell(&ax, r, 0);
		if (strtol(cell(&ax, r, 1), NULL, 10) > 1 && (!axis || strcmp(axis, name)) &&
		    used + strlen(name) + 4 < sizeof(others))
			used += (size_t)snprintf(others + used, sizeof(others) - used, "%s\"%s\"", used > 1 ? "," : "", name);
	}
	snprintf(others + used, sizeof(others) - used, "]");
	bool axis_ok = false;
	for (size_t r = 0; r < ax.nrows && axis; r++)
		axis_ok |= !strcmp(axis, cell(&ax, r, 0));
	char axis_buf[128];
	snprintf(axis_buf, sizeof(axis_buf), "%s", axis ? axis : "");
	table_free(&ax);
	if (!axis_ok) {
		snprintf(err, PLOT_ERR_LEN, axis ? "sweep %s has no axis '%s'" : "sweep %s has no axis with more than one value%s",
			 o->sweep, axis ? axis : "");
		return -1;
	}
	axis = axis_buf;
	const char *params[5] = {o->sweep, axis, counter, o->trace, others};
	struct table t;
	if (query(db,
		  "SELECT r.trace_name, r.mode || coalesce(' ' || (SELECT group_concat(x2.axis || '=' || x2.value, ' ')"
		  " FROM sweep_axis x2 WHERE x2.sweep_id = x.sweep_id AND x2.run_id = r.id"
		  " AND x2.axis IN (SELECT value FROM json_each(?5))), ''), x.value, c.value"
		  " FROM sweep_axis x JOIN run r ON r.id = x.run_id"
		  " JOIN counter c ON c.run_id = r.id AND c.name = ?3"
		  " WHERE x.sweep_name = ?1 AND x.axis = ?2 AND (?4 IS NULL OR r.trace_name = ?4)"
		  " ORDER BY r.trace_name, CASE r.mode WHEN 'native' THEN 0 WHEN 'shadow' THEN 1 WHEN 'ept' THEN 2 ELSE 3 END,"
		  " 2, CAST(x.value AS REAL), x.value",
		  params, 5, &t, 4, err) < 0)
		return -1;
	if (!t.nrows) {
		table_free(&t);
		return no_rows(o, "run with that counter", err);
	}
	/* A panel per trace. */
	struct plot *panels[64];
	const char *names[64];
	size_t np = 0;
	int rc = 0;
	for (size_t r = 0; r < t.nrows; r++) {
		const char *tr = cell(&t, r, 0);
		if (!np || strcmp(names[np - 1], tr)) {
			if (np == 64) {
				snprintf(err, PLOT_ERR_LEN, "more than 64 traces: choose one with --trace");
				rc = -1;
				break;
			}
			panels[np] = calloc(1, sizeof(struct plot));
			if (!panels[np]) {
				snprintf(err, PLOT_ERR_LEN, "out of memory");
				rc = -1;
				break;
			}
			names[np++] = tr;
		}
		plot_add(panels[np - 1], cell(&t, r, 1), cell(&t, r, 2), num(cell(&t, r, 3)));
	}
	char prof[256], title[640], xlabel[256], ylabel[256];
	const struct param_info *pi = param_named(axis);
	snprintf(xlabel, sizeof(xlabel), "%s (%s)", axis, pi ? pi->unit : "value");
	snprintf(ylabel, sizeof(ylabel), "%s (%s)", counter, counter_table[ci].unit);
	const char *pp2[2] = {o->sweep, o->trace};
	profiles(db, "FROM run r WHERE " SEL_WHERE, pp2, 2, prof, sizeof(prof));
	snprintf(title, sizeof(title), "%s against %s, sweep %s%s%s%s%s", counter, axis, o->sweep, prof[0] ? ", " : "",
		 prof, np == 1 ? ", trace " : "", np == 1 ? names[0] : "");
	for (size_t k = 0; k < np && rc == 0; k++)
		if (panels[k]->oom) {
			snprintf(err, PLOT_ERR_LEN, "out of memory");
			rc = -1;
		}
	if (rc == 0)
		rc = draw(o->out, title, xlabel, ylabel, panels, names, np, false, false, err);
	for (size_t k = 0; k < np; k++) {
		plot_free(panels[k]);
		free(panels[k]);
	}
	table_free(&t);
	return rc;
}

/* (d) interval samples: each counter's increase per 1000 cycles over time. */
static int preset_samples(struct db *db, const struct opts *o, char *err)
{
	char ids[1024];
	if (!o->runs || id_list(o->runs, ids, sizeof(ids)) < 0) {
		snprintf(err, PLOT_ERR_LEN, "the samples preset needs --run ID[,ID...]");
		return -2;
	}
	const char *counters = o->counters ? o->counters : "tlb.l2.miss,walk.count,vmx.exits,guest.pf";
	char list[1024] = "[";
	size_t used = 1, nc = 0;
	char *dup = strdup(counters);
	if (!dup) {
		snprintf(err, PLOT_ERR_LEN, "out of memory");
		return -1;
	}
	for (char *save = NULL, *c = strtok_r(dup, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
		bool sampled = false;
		for (int k = 0; k < RUN_SAMPLED_COUNTERS; k++)
			sampled |= !strcmp(counter_table[run_sampled_counters[k]].name, c);
		if (!sampled) {
			char names[512];
			size_t u = 0;
			for (int k = 0; k < RUN_SAMPLED_COUNTERS; k++)
				u += (size_t)snprintf(names + u, sizeof(names) - u, "%s%s", k ? ", " : "",
						      counter_table[run_sampled_counters[k]].name);
			snprintf(err, PLOT_ERR_LEN, "counter '%s' is not sampled; sampled: %s", c, names);
			free(dup);
			return -1;
		}
		if (used + strlen(c) + 4 < sizeof(list))
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s\"%s\"", nc++ ? "," : "", c);
	}
	free(dup);
	snprintf(list + used, sizeof(list) - used, "]");
	char sql[2048];
	snprintf(sql, sizeof(sql),
		 "SELECT x.run_id, r.trace_name || ' ' || r.mode, x.name, x.cycle,"
		 " 1000.0 * (x.value - coalesce(lag(x.value) OVER w, 0)) / (x.cycle - coalesce(lag(x.cycle) OVER w, 0))"
		 " FROM sample x JOIN run r ON r.id = x.run_id"
		 " WHERE x.run_id IN (%s) AND x.name IN (SELECT value FROM json_each(?1))"
		 " WINDOW w AS (PARTITION BY x.run_id, x.name ORDER BY x.cycle)"
		 " ORDER BY x.run_id, (SELECT key FROM json_each(?1) WHERE value = x.name), x.cycle",
		 ids);
	const char *params[1] = {list};
	struct table t;
	if (query(db, sql, params, 1, &t, 5, err) < 0)
		return -1;
	if (!t.nrows) {
		table_free(&t);
		snprintf(err, PLOT_ERR_LEN, "nothing to plot: runs %.200s have no interval samples of %.200s", ids, counters);
		return -1;
	}
	struct plot p = {0};
	bool several = strchr(ids, ',') != NULL;
	for (size_t r = 0; r < t.nrows; r++) {
		char series[256], x[64];
		if (several)
			snprintf(series, sizeof(series), "run %s (%s) %s", cell(&t, r, 0), cell(&t, r, 1), cell(&t, r, 2));
		else
			snprintf(series, sizeof(series), "%s", cell(&t, r, 2));
		snprintf(x, sizeof(x), "%.6f", num(cell(&t, r, 3)) / 1e6);
		plot_add(&p, series, x, num(cell(&t, r, 4)));
	}
	char prof[256], title[640], from[1200];
	snprintf(from, sizeof(from), "FROM run r WHERE r.id IN (%s)", ids);
	profiles(db, from, NULL, 0, prof, sizeof(prof));
	if (several)
		snprintf(title, sizeof(title), "Events per 1000 cycles over time%s%.200s (runs %.200s)", prof[0] ? ", " : "",
			 prof, ids);
	else
		snprintf(title, sizeof(title), "Events per 1000 cycles over time, %.200s%s%.200s (run %.100s)",
			 cell(&t, 0, 1), prof[0] ? ", " : "", prof, ids);
	table_free(&t);
	struct plot *pp = &p;
	int rc = p.oom ? (snprintf(err, PLOT_ERR_LEN, "out of memory"), -1)
		       : draw(o->out, title, "simulated time (million cycles)", "events per 1000 cycles", &pp, NULL, 1,
			      false, false, err);
	plot_free(&p);
	return rc;
}

/* --sql: two columns (x, y) or three (series, x, y). */
static int plot_sql(struct db *db, const struct opts *o, char *err)
{
	struct table t;
	if (query(db, o->sql, NULL, 0, &t, 0, err) < 0)
		return -1;
	if (!t.nrows) {
		table_free(&t);
		snprintf(err, PLOT_ERR_LEN, "nothing to plot: the query gives no rows");
		return -1;
	}
	struct plot p = {0};
	int xc = t.ncol == 3 ? 1 : 0;
	for (size_t r = 0; r < t.nrows; r++) {
		const char *x = cell(&t, r, xc), *y = cell(&t, r, xc + 1);
		if (y && !is_number(y)) {
			snprintf(err, PLOT_ERR_LEN, "row %zu: y '%s' is not a number", r + 1, y);
			table_free(&t);
			plot_free(&p);
			return -1;
		}
		plot_add(&p, t.ncol == 3 ? (cell(&t, r, 0) ? cell(&t, r, 0) : "NULL") : t.names[1], x ? x : "NULL",
			 num(y));
	}
	plot_finish(&p);
	bool bars = o->style ? !strcmp(o->style, "bars") : !p.numeric;
	char title[256];
	snprintf(title, sizeof(title), "%.200s", o->sql);
	struct plot *pp = &p;
	int rc = p.oom ? (snprintf(err, PLOT_ERR_LEN, "out of memory"), -1)
		       : draw(o->out, o->title ? o->title : title, o->xlabel ? o->xlabel : t.names[xc],
			      o->ylabel ? o->ylabel : t.names[xc + 1], &pp, NULL, 1, bars, false, err);
	table_free(&t);
	plot_free(&p);
	return rc;
}

int plot_preset(struct db *db, const char *db_path, const char *preset, const char *sweep, const char *trace,
		const char *runs, const char *axis, const char *counters, const char *out, char *err)
{
	struct opts o = {.db = db_path, .out = out, .sweep = sweep, .trace = trace, .runs = runs, .axis = axis,
			 .counters = counters};
	int rc = !strcmp(preset, "overhead") ? preset_overhead(db, &o, err)
		 : !strcmp(preset, "exits")  ? preset_exits(db, &o, err)
		 : !strcmp(preset, "sweep")  ? preset_sweep(db, &o, err)
		 : !strcmp(preset, "samples") ? preset_samples(db, &o, err)
					      : (snprintf(err, PLOT_ERR_LEN, "unknown preset '%s'", preset), -1);
	return rc < 0 ? -1 : 0;
}

int cmd_plot(int argc, char **argv)
{
	enum { O_SQL = 256, O_TITLE, O_XLABEL, O_YLABEL, O_STYLE };
	static const struct option longopts[] = {
		{"out", required_argument, NULL, 'o'},     {"db", required_argument, NULL, 'd'},
		{"sweep", required_argument, NULL, 's'},   {"trace", required_argument, NULL, 't'},
		{"run", required_argument, NULL, 'r'},     {"axis", required_argument, NULL, 'a'},
		{"counter", required_argument, NULL, 'c'}, {"sql", required_argument, NULL, O_SQL},
		{"title", required_argument, NULL, O_TITLE}, {"xlabel", required_argument, NULL, O_XLABEL},
		{"ylabel", required_argument, NULL, O_YLABEL}, {"style", required_argument, NULL, O_STYLE},
		{"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
	};
	struct opts o = {.db = DEFAULT_DB};
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "o:d:s:t:r:a:c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': o.out = optarg; break;
		case 'd': o.db = optarg; break;
		case 's': o.sweep = optarg; break;
		case 't': o.trace = optarg; break;
		case 'r': o.runs = optarg; break;
		case 'a': o.axis = optarg; break;
		case 'c': o.counters = optarg; break;
		case O_SQL: o.sql = optarg; break;
		case O_TITLE: o.title = optarg; break;
		case O_XLABEL: o.xlabel = optarg; break;
		case O_YLABEL: o.ylabel = optarg; break;
		case O_STYLE:
			if (strcmp(optarg, "lines") && strcmp(optarg, "bars")) {
				fprintf(stderr, "vtsim plot: --style takes lines or bars\nTry 'vtsim plot --help'.\n");
				return 2;
			}
			o.style = optarg;
			break;
		case 'h': fputs(plot_help, stdout); return 0;
		default:
			fprintf(stderr, "vtsim plot: bad option\nTry 'vtsim plot --help'.\n");
			return 2;
		}
	}
	const char *preset = optind < argc ? argv[optind] : NULL;
	const char *usage = NULL;
	if (optind + 1 < argc)
		usage = "one preset only";
	else if (!preset == !o.sql)
		usage = "say what to plot: a preset (overhead, exits, sweep, samples) or --sql QUERY";
	else if (!o.out)
		usage = "--out FILE.png or FILE.svg is required";
	else if (preset && strcmp(preset, "overhead") && strcmp(preset, "exits") && strcmp(preset, "sweep") &&
		 strcmp(preset, "samples"))
		usage = "unknown preset (available: overhead, exits, sweep, samples)";
	if (usage) {
		fprintf(stderr, "vtsim plot: %s\nTry 'vtsim plot --help'.\n", usage);
		return 2;
	}
	char err[PLOT_ERR_LEN];
	if (access(o.db, F_OK) != 0) {
		fprintf(stderr, "vtsim plot: %s: no results database there (runs create it)\n", o.db);
		return 1;
	}
	struct db *db = db_open(o.db, err);
	if (!db) {
		fprintf(stderr, "vtsim plot: %s\n", err);
		return 1;
	}
	int rc = o.sql ? plot_sql(db, &o, err)
		 : !strcmp(preset, "overhead") ? preset_overhead(db, &o, err)
		 : !strcmp(preset, "exits")    ? preset_exits(db, &o, err)
		 : !strcmp(preset, "sweep")    ? preset_sweep(db, &o, err)
					       : preset_samples(db, &o, err);
	db_close(db);
	if (rc == -2) {
		fprintf(stderr, "vtsim plot: %s\nTry 'vtsim plot --help'.\n", err);
		return 2;
	}
	if (rc < 0) {
		fprintf(stderr, "vtsim plot: %s\n", err);
		return 1;
	}
	printf("plot     %s\n", o.out);
	return 0;
}
