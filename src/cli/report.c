/*
 * Notes: the page is built from queries on the database's views
 * (docs/schema.md) and from `vtsim plot` presets drawn as SVG into a
 * temporary directory and inlined (the XML prologue dropped, every id and
 * reference to it prefixed so that several plots share one document). It
 * is written to FILE.tmp and renamed, so a failure never leaves half a
 * page. A short script at the end counts the tables and drawn plots into
 * the page's last line; the page reads the same without it.
 */
#include "config.h"

#include "cli/report.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/dbplot.h"
#include "db/db.h"

#define DEFAULT_DB "results/vtsim.db"
#define REPORT_ERR_LEN PLOT_ERR_LEN

static const char report_help[] =
	"Usage: vtsim report --out FILE.html [--db PATH] [--sweep NAME | --group ID]\n"
	"\n"
	"Write one self-contained HTML page of a sweep (--sweep) or of a comparison\n"
	"(--group: the group a `vtsim compare` printed; default: the latest\n"
	"comparison): the configuration, the results side by side, the plots (SVG,\n"
	"inline), the VM exits by reason and every run, linked to its native\n"
	"baseline and to the other modes of its configuration.\n"
	"\n"
	"  -o, --out FILE      the page (required)\n"
	"  -d, --db PATH       results database (default " DEFAULT_DB ")\n"
	"  -s, --sweep NAME    report this sweep\n"
	"  -g, --group ID      report this comparison\n"
	"  -h, --help          this help\n";

/* ---- rows ------------------------------------------------------------------ */

struct rows {
	int ncol;
	size_t n, cap;
	char **v; /* n * ncol, NULL for SQL NULL */
	bool oom;
};

static int rows_add(void *ctx, int ncol, const char *const *names, const char *const *vals)
{
	(void)names;
	struct rows *r = ctx;
	r->ncol = ncol;
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		char **g = realloc(r->v, cap * (size_t)ncol * sizeof(*g));
		if (!g) {
			r->oom = true;
			return 1;
		}
		r->v = g;
		r->cap = cap;
	}
	for (int c = 0; c < ncol; c++)
		r->v[r->n * (size_t)ncol + (size_t)c] = vals[c] ? strdup(vals[c]) : NULL;
	r->n++;
	return 0;
}

static void rows_free(struct rows *r)
{
	for (size_t i = 0; i < r->n * (size_t)r->ncol; i++)
		free(r->v[i]);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

static const char *at(const struct rows *r, size_t i, int c)
{
	const char *v = r->v[i * (size_t)r->ncol + (size_t)c];
	return v ? v : "";
}

struct report {
	struct db *db;
	const char *db_path;
	FILE *f;
	char sel[8192];      /* the runs: a JSON array of ids, for ?1 */
	char ids[8192];      /* the same as "1,2,3" for --run */
	const char *sweep;
	const char *group;
	char tmpdir[64];
	int nplots;
	char err[REPORT_ERR_LEN];
};

/* Query into r with ?1 = the selection and ?2 = extra (may be NULL). */
static int q(struct report *rp, const char *sql, const char *extra, struct rows *r)
{
	const char *params[2] = {rp->sel, extra};
	memset(r, 0, sizeof(*r));
	int64_t n = db_query(rp->db, sql, params, 2, rows_add, r, rp->err);
	if (n < 0 && r->oom)
		snprintf(rp->err, sizeof(rp->err), "out of memory");
	if (n < 0) {
		rows_free(r);
		return -1;
	}
	return 0;
}

/* ---- HTML --------------------------------------------------------------------- */

static void he(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

static void run_link(FILE *f, const char *id)
{
	fprintf(f, "<a href=\"#run-%s\">run %s</a>", id, id);
}

/* Inline the SVG at path with every id prefixed by "p<k>-". */
static int inline_svg(struct report *rp, const char *path)
{
	FILE *in = fopen(path, "r");
	if (!in) {
		snprintf(rp->err, sizeof(rp->err), "%s: %s", path, strerror(errno));
		return -1;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int c;
	while ((c = fgetc(in)) != EOF) {
		if (len + 1 >= cap) {
			cap = cap ? 2 * cap : 65536;
			char *g = realloc(buf, cap);
			if (!g) {
				free(buf);
				fclose(in);
				snprintf(rp->err, sizeof(rp->err), "out of memory");
				return -1;
			}
			buf = g;
		}
		buf[len++] = (char)c;
	}
	fclose(in);
	if (!buf) {
		snprintf(rp->err, sizeof(rp->err), "%s: empty plot", path);
		return -1;
	}
	buf[len] = '\0';
	const char *s = strstr(buf, "<svg");
	if (!s) {
		free(buf);
		snprintf(rp->err, sizeof(rp->err), "%s: no <svg> element", path);
		return -1;
	}
	char prefix[16];
	snprintf(prefix, sizeof(prefix), "p%d-", rp->nplots);
	static const char *const refs[] = {"id=\"", "href=\"#", "url(#", NULL};
	while (*s) {
		bool done = false;
		for (int k = 0; refs[k] && !done; k++) {
			size_t n = strlen(refs[k]);
			if (!strncmp(s, refs[k], n)) {
				fwrite(s, 1, n, rp->f);
				fputs(prefix, rp->f);
				s += n;
				done = true;
			}
		}
		if (!done)
			fputc(*s++, rp->f);
	}
	free(buf);
	return 0;
}

/* A figure: the preset drawn as SVG and inlined, with a caption. */
static int figure(struct report *rp, const char *preset, const char *runs, const char *counters, const char *caption)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/plot-%d.svg", rp->tmpdir, rp->nplots);
	if (plot_preset(rp->db, rp->db_path, preset, rp->sweep, NULL, runs, NULL, counters, path, rp->err) < 0)
		return -1;
	fputs("<figure>\n", rp->f);
	int rc = inline_svg(rp, path);
	unlink(path);
	rp->nplots++;
	fputs("\n<figcaption>", rp->f);
	he(rp->f, caption);
	fputs("</figcaption>\n</figure>\n", rp->f);
	return rc;
}

static const char style[] =
	"body{font-family:sans-serif;margin:2em auto;max-width:1200px;color:#222}"
	"h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}"
	"table{border-collapse:collapse;margin:1em 0;font-size:.9em}"
	"th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}"
	"td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f3f3f3}"
	"tr:target{background:#fff3b0}figure{margin:1em 0}figure svg{max-width:100%;height:auto}"
	"figcaption{font-size:.9em;color:#555}nav a{margin-right:1em}.meta{color:#555}";

static const char script[] =
	"<script>\n"
	"window.addEventListener('load', function () {\n"
	"  var plots = document.querySelectorAll('figure > svg'), drawn = 0;\n"
	"  plots.forEach(function (s) {\n"
	"    var b = s.getBoundingClientRect();\n"
	"    if (b.width > 0 && b.height > 0 && s.querySelector('path, text')) { drawn++; s.setAttribute('data-drawn', 'yes'); }\n"
	"  });\n"
	"  document.getElementById('summary').textContent = 'This page holds ' +\n"
	"    document.querySelectorAll('table').length + ' tables and ' + plots.length + ' plots (' + drawn + ' drawn).';\n"
	"});\n"
	"</script>\n";

/* ---- sections ------------------------------------------------------------------ */

/* Every parameter of the selected runs; those that differ say so. */
static int section_params(struct report *rp)
{
	struct rows r;
	if (q(rp,
	      "SELECT j.key, group_concat(DISTINCT j.value), count(DISTINCT j.value) FROM run r, json_each(r.params_json) j"
	      " WHERE r.id IN (SELECT value FROM json_each(?1)) GROUP BY j.key ORDER BY j.key",
	      NULL, &r) < 0)
		return -1;
	fputs("<details><summary>Every parameter (docs/parameters.md has units and sources)</summary>\n"
	      "<table class=\"params\"><tr><th>parameter</th><th>value</th></tr>\n",
	      rp->f);
	for (size_t i = 0; i < r.n; i++) {
		fputs("<tr><td>", rp->f);
		he(rp->f, at(&r, i, 0));
		fputs("</td><td>", rp->f);
		he(rp->f, at(&r, i, 1));
		if (strcmp(at(&r, i, 2), "1"))
			fputs(" (varies)", rp->f);
		fputs("</td></tr>\n", rp->f);
	}
	fputs("</table></details>\n", rp->f);
	rows_free(&r);
	return 0;
}

static int section_traces(struct report *rp)
{
	struct rows r;
	if (q(rp,
	      "SELECT trace_name, min(trace_path), trace_checksum, min(trace_format), count(*) FROM run"
	      " WHERE id IN (SELECT value FROM json_each(?1)) GROUP BY trace_checksum, trace_name ORDER BY trace_name",
	      NULL, &r) < 0)
		return -1;
	fputs("<table class=\"traces\"><tr><th>trace</th><th>path</th><th>XXH3-64</th><th>format</th><th>runs</th></tr>\n",
	      rp->f);
	for (size_t i = 0; i < r.n; i++) {
		fputs("<tr>", rp->f);
		for (int c = 0; c < 5; c++) {
			fputs(c == 4 ? "<td class=\"n\">" : "<td>", rp->f);
			he(rp->f, at(&r, i, c));
			fputs("</td>", rp->f);
		}
		fputs("</tr>\n", rp->f);
	}
	fputs("</table>\n", rp->f);
	rows_free(&r);
	return 0;
}

/* Run id is one of this page's. */
static bool in_page(const struct report *rp, const char *id)
{
	size_t n = strlen(id);
	for (const char *p = rp->ids; (p = strstr(p, id)); p += n)
		if ((p == rp->ids || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

/* Every run: its anchor, what it is, links to its baseline and siblings. */
static int section_runs(struct report *rp)
{
	struct rows r;
	if (q(rp,
	      "SELECT r.id, r.trace_name, r.mode, coalesce((SELECT p.point FROM sweep_point p WHERE p.run_id = r.id"
	      "   AND p.sweep_name = ?2), r.group_id, ''),"
	      " (SELECT c.value FROM counter c WHERE c.run_id = r.id AND c.name = 'cpu.cycles'),"
	      " (SELECT printf('%.2f', o.overhead_pct) FROM run_overhead o WHERE o.run_id = r.id),"
	      /* the native baseline: one on this page if there is one, else any */
	      " coalesce((SELECT max(n.id) FROM run n WHERE r.mode <> 'native' AND n.mode = 'native'"
	      "   AND n.trace_checksum = r.trace_checksum AND n.params_json = r.params_json AND n.version = r.version"
	      "   AND n.id IN (SELECT value FROM json_each(?1))),"
	      "   (SELECT o.native_run_id FROM run_overhead o WHERE o.run_id = r.id)),"
	      " (SELECT group_concat(s.id || ':' || s.mode, ' ') FROM run s WHERE s.id <> r.id"
	      "   AND s.trace_checksum = r.trace_checksum AND s.params_json = r.params_json AND s.version = r.version"
	      "   AND s.id IN (SELECT value FROM json_each(?1))),"
	      " printf('%.3f', r.wall_seconds), r.version"
	      " FROM run r WHERE r.id IN (SELECT value FROM json_each(?1)) ORDER BY r.id",

	      rp->sweep, &r) < 0)
		return -1;
	fprintf(rp->f, "<table class=\"runs\"><tr><th>run</th><th>trace</th><th>mode</th><th>%s</th><th>cycles</th>"
		       "<th>overhead over native (%%)</th><th>native baseline</th><th>same configuration, other modes</th>"
		       "<th>wall (s)</th><th>vtsim</th></tr>\n",
		rp->sweep ? "point" : "group");
	for (size_t i = 0; i < r.n; i++) {
		fprintf(rp->f, "<tr id=\"run-%s\"><td>%s</td><td>", at(&r, i, 0), at(&r, i, 0));
		he(rp->f, at(&r, i, 1));
		fputs("</td><td>", rp->f);
		he(rp->f, at(&r, i, 2));
		fputs("</td><td>", rp->f);
		he(rp->f, at(&r, i, 3));
		fprintf(rp->f, "</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td>", at(&r, i, 4), at(&r, i, 5));
		if (*at(&r, i, 6)) {
			if (in_page(rp, at(&r, i, 6)))
				run_link(rp->f, at(&r, i, 6));
			else
				fprintf(rp->f, "run %s (not on this page)", at(&r, i, 6));
		}
		fputs("</td><td>", rp->f);
		char *sib = strdup(at(&r, i, 7));
		for (char *save = NULL, *t = sib ? strtok_r(sib, " ", &save) : NULL; t; t = strtok_r(NULL, " ", &save)) {
			char *colon = strchr(t, ':');
			if (!colon)
				continue;
			*colon = '\0';
			run_link(rp->f, t);
			fprintf(rp->f, " (%s) ", colon + 1);
		}
		free(sib);
		fprintf(rp->f, "</td><td class=\"n\">%s</td><td>%s</td></tr>\n", at(&r, i, 8), at(&r, i, 9));
	}
	fputs("</table>\n", rp->f);
	rows_free(&r);
	return 0;
}

/* Exits: a row per run with exits, a column per reason: count and cycles. */
static int section_exits(struct report *rp)
{
	struct rows reasons, r;
	if (q(rp,
	      "SELECT e.name FROM exit e WHERE e.run_id IN (SELECT value FROM json_each(?1))"
	      " GROUP BY e.reason, e.name ORDER BY sum(e.count) DESC, e.reason",
	      NULL, &reasons) < 0)
		return -1;
	if (q(rp,
	      "SELECT e.run_id, r.trace_name, r.mode, e.name, e.count, e.cycles FROM exit e JOIN run r ON r.id = e.run_id"
	      " WHERE e.run_id IN (SELECT value FROM json_each(?1)) ORDER BY r.trace_name, e.run_id",
	      NULL, &r) < 0) {
		rows_free(&reasons);
		return -1;
	}
	fputs("<table class=\"exits\"><tr><th>run</th><th>trace</th><th>mode</th>", rp->f);
	for (size_t k = 0; k < reasons.n; k++) {
		fputs("<th>", rp->f);
		he(rp->f, at(&reasons, k, 0));
		fputs("<br>count / cycles per exit</th>", rp->f);
	}
	fputs("</tr>\n", rp->f);
	for (size_t i = 0; i < r.n;) {
		size_t j = i;
		while (j < r.n && !strcmp(at(&r, j, 0), at(&r, i, 0)))
			j++;
		fputs("<tr><td>", rp->f);
		run_link(rp->f, at(&r, i, 0));
		fputs("</td><td>", rp->f);
		he(rp->f, at(&r, i, 1));
		fputs("</td><td>", rp->f);
		he(rp->f, at(&r, i, 2));
		fputs("</td>", rp->f);
		for (size_t k = 0; k < reasons.n; k++) {
			const char *cnt = NULL, *cyc = NULL;
			for (size_t m = i; m < j; m++)
				if (!strcmp(at(&r, m, 3), at(&reasons, k, 0))) {
					cnt = at(&r, m, 4);
					cyc = at(&r, m, 5);
				}
			if (cnt && strtoull(cnt, NULL, 10))
				fprintf(rp->f, "<td class=\"n\">%s / %.0f</td>", cnt,
					strtod(cyc, NULL) / strtod(cnt, NULL));
			else
				fputs("<td class=\"n\">0</td>", rp->f);
		}
		fputs("</tr>\n", rp->f);
		i = j;
	}
	fputs("</table>\n", rp->f);
	if (!r.n)
		fputs("<p>No VM exits in these runs.</p>\n", rp->f);
	rows_free(&reasons);
	rows_free(&r);
	return 0;
}

/* A comparison: every counter, a column per run (mode). */
static int section_side_by_side_compare(struct report *rp)
{
	struct rows runs, r;
	if (q(rp,
	      "SELECT r.id, r.mode, (SELECT printf('%.2f', o.overhead_pct) FROM run_overhead o WHERE o.run_id = r.id)"
	      " FROM run r WHERE r.id IN (SELECT value FROM json_each(?1)) ORDER BY r.id",
	      NULL, &runs) < 0)
		return -1;
	if (q(rp,
	      "SELECT c.name, c.run_id, c.value FROM counter c WHERE c.run_id IN (SELECT value FROM json_each(?1))"
	      " ORDER BY c.name, c.run_id",
	      NULL, &r) < 0) {
		rows_free(&runs);
		return -1;
	}
	fputs("<table class=\"side\"><tr><th>counter</th>", rp->f);
	for (size_t k = 0; k < runs.n; k++) {
		fputs("<th>", rp->f);
		he(rp->f, at(&runs, k, 1));
		fputs("<br>", rp->f);
		run_link(rp->f, at(&runs, k, 0));
		fputs("</th>", rp->f);
	}
	fputs("</tr>\n<tr><td>overhead over native (%)</td>", rp->f);
	for (size_t k = 0; k < runs.n; k++)
		fprintf(rp->f, "<td class=\"n\">%s</td>", *at(&runs, k, 2) ? at(&runs, k, 2) : "-");
	fputs("</tr>\n", rp->f);
	for (size_t i = 0; i < r.n;) {
		size_t j = i;
		while (j < r.n && !strcmp(at(&r, j, 0), at(&r, i, 0)))
			j++;
		fputs("<tr><td>", rp->f);
		he(rp->f, at(&r, i, 0));
		fputs("</td>", rp->f);
		for (size_t k = 0; k < runs.n; k++) {
			const char *v = "";
			for (size_t m = i; m < j; m++)
				if (!strcmp(at(&r, m, 1), at(&runs, k, 0)))
					v = at(&r, m, 2);
			fprintf(rp->f, "<td class=\"n\">%s</td>", v);
		}
		fputs("</tr>\n", rp->f);
		i = j;
	}
	fputs("</table>\n", rp->f);
	rows_free(&runs);
	rows_free(&r);
	return 0;
}

/* A sweep: per trace, a row per point, a column per mode (cycles, overhead). */
static int section_side_by_side_sweep(struct report *rp)
{
	struct rows r;
	if (q(rp,
	      "SELECT p.trace_name, p.point, p.mode, p.run_id, p.cycles, printf('%.2f', p.overhead_pct)"
	      " FROM sweep_point p WHERE p.sweep_name = ?2 ORDER BY p.trace_name, p.point,"
	      " CASE p.mode WHEN 'native' THEN 0 WHEN 'shadow' THEN 1 WHEN 'ept' THEN 2 ELSE 3 END",
	      rp->sweep, &r) < 0)
		return -1;
	struct rows modes;
	if (q(rp,
	      "SELECT DISTINCT mode FROM run WHERE id IN (SELECT value FROM json_each(?1))"
	      " ORDER BY CASE mode WHEN 'native' THEN 0 WHEN 'shadow' THEN 1 WHEN 'ept' THEN 2 ELSE 3 END",
	      NULL, &modes) < 0) {
		rows_free(&r);
		return -1;
	}
	for (size_t i = 0; i < r.n;) {
		size_t t_end = i;
		while (t_end < r.n && !strcmp(at(&r, t_end, 0), at(&r, i, 0)))
			t_end++;
		fputs("<h3>", rp->f);
		he(rp->f, at(&r, i, 0));
		fputs("</h3>\n<table class=\"side\"><tr><th>point</th>", rp->f);
		for (size_t k = 0; k < modes.n; k++) {
			fputs("<th>", rp->f);
			he(rp->f, at(&modes, k, 0));
			fputs(" cycles</th>", rp->f);
			if (strcmp(at(&modes, k, 0), "native")) {
				fputs("<th>", rp->f);
				he(rp->f, at(&modes, k, 0));
				fputs(" over native (%)</th>", rp->f);
			}
		}
		fputs("</tr>\n", rp->f);
		for (size_t p = i; p < t_end;) {
			size_t p_end = p;
			while (p_end < t_end && !strcmp(at(&r, p_end, 1), at(&r, p, 1)))
				p_end++;
			fputs("<tr><td>", rp->f);
			he(rp->f, at(&r, p, 1));
			fputs("</td>", rp->f);
			for (size_t k = 0; k < modes.n; k++) {
				size_t m = p;
				while (m < p_end && strcmp(at(&r, m, 2), at(&modes, k, 0)))
					m++;
				bool native = !strcmp(at(&modes, k, 0), "native");
				if (m == p_end) {
					fputs(native ? "<td></td>" : "<td></td><td></td>", rp->f);
					continue;
				}
				fprintf(rp->f, "<td class=\"n\"><a href=\"#run-%s\">%s</a></td>", at(&r, m, 3), at(&r, m, 4));
				if (!native)
					fprintf(rp->f, "<td class=\"n\">%s</td>", at(&r, m, 5));
			}
			fputs("</tr>\n", rp->f);
			p = p_end;
		}
		fputs("</table>\n", rp->f);
		i = t_end;
	}
	rows_free(&modes);
	rows_free(&r);
	return 0;
}

static int section_grid(struct report *rp)
{
	struct rows r;
	if (q(rp,
	      "SELECT json_extract(a.value, '$.name'), (SELECT group_concat(v.value, ', ') FROM json_each(a.value, '$.values') v)"
	      " FROM sweep s, json_each(s.grid, '$.axes') a WHERE s.name = ?2 ORDER BY a.key",
	      rp->sweep, &r) < 0)
		return -1;
	struct rows m;
	if (q(rp, "SELECT (SELECT group_concat(v.value, ', ') FROM json_each(s.grid, '$.modes') v) FROM sweep s WHERE s.name = ?2",
	      rp->sweep, &m) < 0) {
		rows_free(&r);
		return -1;
	}
	fputs("<table class=\"grid\"><tr><th>axis</th><th>values</th></tr>\n<tr><td>mode</td><td>", rp->f);
	he(rp->f, m.n ? at(&m, 0, 0) : "");
	fputs("</td></tr>\n", rp->f);
	for (size_t i = 0; i < r.n; i++) {
		fputs("<tr><td>", rp->f);
		he(rp->f, at(&r, i, 0));
		fputs("</td><td>", rp->f);
		he(rp->f, at(&r, i, 1));
		fputs("</td></tr>\n", rp->f);
	}
	fputs("</table>\n", rp->f);
	rows_free(&m);
	rows_free(&r);
	return 0;
}

/* ---- the page ---------------------------------------------------------------- */

/* The selection (rp->sel, rp->ids) from the sweep or group; error if empty. */
static int select_runs(struct report *rp)
{
	struct rows r;
	const char *params[1] = {rp->sweep ? rp->sweep : rp->group};
	memset(&r, 0, sizeof(r));
	const char *sql = rp->sweep ? "SELECT sr.run_id FROM sweep_run sr JOIN sweep s ON s.id = sr.sweep_id"
				      " WHERE s.name = ?1 ORDER BY sr.run_id"
				    : "SELECT id FROM run WHERE group_id = ?1 ORDER BY id";
	if (db_query(rp->db, sql, params, 1, rows_add, &r, rp->err) < 0) {
		rows_free(&r);
		return -1;
	}
	if (!r.n) {
		snprintf(rp->err, sizeof(rp->err), rp->sweep ? "%s: no sweep named '%s' (or it has no runs)"
							 : "%s: no comparison group '%s'",
			 rp->db_path, params[0]);
		rows_free(&r);
		return -1;
	}
	size_t a = 0, b = 0;
	rp->sel[a++] = '[';
	for (size_t i = 0; i < r.n; i++) {
		if (a + 24 >= sizeof(rp->sel) || b + 24 >= sizeof(rp->ids)) {
			snprintf(rp->err, sizeof(rp->err), "more than %zu runs: too many for one page", i);
			rows_free(&r);
			return -1;
		}
		a += (size_t)snprintf(rp->sel + a, sizeof(rp->sel) - a, "%s%s", i ? "," : "", at(&r, i, 0));
		b += (size_t)snprintf(rp->ids + b, sizeof(rp->ids) - b, "%s%s", i ? "," : "", at(&r, i, 0));
	}
	snprintf(rp->sel + a, sizeof(rp->sel) - a, "]");
	rows_free(&r);
	return 0;
}

static int write_page(struct report *rp)
{
	FILE *f = rp->f;
	struct rows n;
	if (q(rp, "SELECT count(*), min(version) FROM run WHERE id IN (SELECT value FROM json_each(?1))", NULL, &n) < 0)
		return -1;
	char title[512];
	if (rp->sweep)
		snprintf(title, sizeof(title), "vtsim report: sweep %s", rp->sweep);
	else
		snprintf(title, sizeof(title), "vtsim report: comparison %s", rp->group);
	time_t now = time(NULL);
	char when[64];
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", f);
	he(f, title);
	fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", style);
	he(f, title);
	fputs("</h1>\n<p class=\"meta\">", f);
	fprintf(f, "%s runs from database <code>", at(&n, 0, 0));
	he(f, rp->db_path);
	fprintf(f, "</code>, simulated by vtsim %s; page written by vtsim " PACKAGE_VERSION " on %s.</p>\n",
		at(&n, 0, 1), when);
	rows_free(&n);
	fputs("<nav><a href=\"#configuration\">Configuration</a><a href=\"#plots\">Plots</a>"
	      "<a href=\"#results\">Results side by side</a><a href=\"#exits\">VM exits</a><a href=\"#runs\">Runs</a></nav>\n",
	      f);

	fputs("<h2 id=\"configuration\">Configuration</h2>\n", f);
	if (section_traces(rp) < 0 || (rp->sweep && section_grid(rp) < 0) || section_params(rp) < 0)
		return -1;

	fputs("<h2 id=\"plots\">Plots</h2>\n", f);
	if (rp->sweep) {
		if (figure(rp, "overhead", NULL, NULL,
			   "Overhead of each mode over native per trace (mean over the sweep's points).") < 0 ||
		    figure(rp, "sweep", NULL, "cpu.cycles", "Cycles against the sweep's first varying axis, per mode.") < 0 ||
		    figure(rp, "exits", NULL, NULL, "VM exits by reason, latest run of each trace and mode.") < 0)
			return -1;
	} else {
		if (figure(rp, "overhead", rp->ids, NULL, "Overhead of each mode over native.") < 0 ||
		    figure(rp, "exits", rp->ids, NULL, "VM exits by reason per run.") < 0 ||
		    figure(rp, "samples", rp->ids, "walk.count", "Page walks per 1000 cycles over the run, per mode.") < 0)
			return -1;
	}

	fputs("<h2 id=\"results\">Results side by side</h2>\n", f);
	if ((rp->sweep ? section_side_by_side_sweep(rp) : section_side_by_side_compare(rp)) < 0)
		return -1;
	fputs("<h2 id=\"exits\">VM exits by reason</h2>\n", f);
	if (section_exits(rp) < 0)
		return -1;
	fputs("<h2 id=\"runs\">Runs</h2>\n", f);
	if (section_runs(rp) < 0)
		return -1;
	fprintf(f, "<p id=\"summary\" class=\"meta\"></p>\n%s</body>\n</html>\n", script);
	return 0;
}

int cmd_report(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"out", required_argument, NULL, 'o'},   {"db", required_argument, NULL, 'd'},
		{"sweep", required_argument, NULL, 's'}, {"group", required_argument, NULL, 'g'},
		{"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
	};
	struct report rp;
	memset(&rp, 0, sizeof(rp));
	rp.db_path = DEFAULT_DB;
	const char *out = NULL;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "o:d:s:g:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'd': rp.db_path = optarg; break;
		case 's': rp.sweep = optarg; break;
		case 'g': rp.group = optarg; break;
		case 'h': fputs(report_help, stdout); return 0;
		default:
			fprintf(stderr, "vtsim report: bad option\nTry 'vtsim report --help'.\n");
			return 2;
		}
	}
	const char *usage = optind < argc ? "unexpected argument (options only)"
			    : !out	      ? "--out FILE.html is required"
			    : rp.sweep && rp.group ? "--sweep or --group, not both"
						  : NULL;
	if (usage) {
		fprintf(stderr, "vtsim report: %s\nTry 'vtsim report --help'.\n", usage);
		return 2;
	}
	if (access(rp.db_path, F_OK) != 0) {
		fprintf(stderr, "vtsim report: %s: no results database there (runs create it)\n", rp.db_path);
		return 1;
	}
	if (!(rp.db = db_open(rp.db_path, rp.err))) {
		fprintf(stderr, "vtsim report: %s\n", rp.err);
		return 1;
	}
	int status = 1;
	char *tmp = NULL;
	char latest[128] = "";
	if (!rp.sweep && !rp.group) {
		/* The latest comparison. */
		struct rows r;
		memset(&r, 0, sizeof(r));
		if (db_query(rp.db,
			     "SELECT group_id FROM run WHERE group_id IS NOT NULL AND id NOT IN (SELECT run_id FROM sweep_run)"
			     " ORDER BY id DESC LIMIT 1",
			     NULL, 0, rows_add, &r, rp.err) < 0)
			goto out;
		if (!r.n) {
			snprintf(rp.err, sizeof(rp.err), "%s: no comparison stored (say --sweep NAME or --group ID)", rp.db_path);
			rows_free(&r);
			goto out;
		}
		snprintf(latest, sizeof(latest), "%s", at(&r, 0, 0));
		rp.group = latest;
		rows_free(&r);
	}
	if (select_runs(&rp) < 0)
		goto out;
	snprintf(rp.tmpdir, sizeof(rp.tmpdir), "/tmp/vtsim-report-XXXXXX");
	if (!mkdtemp(rp.tmpdir)) {
		snprintf(rp.err, sizeof(rp.err), "cannot create a temporary directory: %s", strerror(errno));
		rp.tmpdir[0] = '\0';
		goto out;
	}
	if (!(tmp = malloc(strlen(out) + 5))) {
		snprintf(rp.err, sizeof(rp.err), "out of memory");
		goto out;
	}
	sprintf(tmp, "%s.tmp", out);
	if (!(rp.f = fopen(tmp, "w"))) {
		snprintf(rp.err, sizeof(rp.err), "%s: cannot write: %s", tmp, strerror(errno));
		goto out;
	}
	int rc = write_page(&rp);
	bool werr = ferror(rp.f);
	if (fclose(rp.f) != 0 || werr) {
		if (rc == 0)
			snprintf(rp.err, sizeof(rp.err), "%s: write error", tmp);
		rc = -1;
	}
	rp.f = NULL;
	if (rc == 0 && rename(tmp, out) != 0) {
		snprintf(rp.err, sizeof(rp.err), "%s: cannot rename to %s: %s", tmp, out, strerror(errno));
		rc = -1;
	}
	if (rc < 0) {
		unlink(tmp);
		goto out;
	}
	printf("report   %s (%d plots)\n", out, rp.nplots);
	status = 0;
out:
	if (status)
		fprintf(stderr, "vtsim report: %s\n", rp.err);
	if (rp.tmpdir[0])
		rmdir(rp.tmpdir);
	free(tmp);
	db_close(rp.db);
	return status;
}
