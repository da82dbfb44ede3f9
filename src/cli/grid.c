/*
 * Notes: the INI syntax is libinih's (Debian's libinih-dev): sections,
 * NAME = VALUE, comments starting a line with ';' or '#' and inline after
 * " ;", a value continued on indented lines. Our reader feeds inih one line
 * at a time, so it knows the line of every handler call and sees what inih
 * would pass over silently: a line longer than its buffer (which inih would
 * split into two) and an empty section with an unknown name. Everything
 * about values (lists, ranges, parameter names and values, paths) is ours,
 * checked after the whole file is read so that every message can name the
 * line of the item at fault.
 */
#include "cli/grid.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cpu/params.h"
#include "frontend/workload.h"

/* One piece of a value: the text of one line (a key line or a continuation). */
struct piece {
	char *text;
	int line;
};

/* One key as read: [section] name, its value as pieces, and its line. */
struct entry {
	char section[8]; /* "sweep" or "params" */
	char *name;
	struct piece *pieces;
	size_t npieces;
	int line;
};

struct parse {
	const char *path;
	FILE *f;
	int line;         /* lines read so far: the line inih is looking at */
	bool indented;    /* that line starts with white space (a continuation) */
	struct entry *entries;
	size_t nentries;
	int err_line;     /* the first error found by the reader or the handler */
	char err[GRID_ERR_LEN];
};

__attribute__((format(printf, 3, 4)))
static void parse_fail(struct parse *ps, int line, const char *fmt, ...)
{
	if (ps->err_line)
		return;
	ps->err_line = line;
	int n = snprintf(ps->err, sizeof(ps->err), "%s:%d: ", ps->path, line);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ps->err + n, sizeof(ps->err) - (size_t)n, fmt, ap);
	va_end(ap);
}

/* fgets for inih that counts lines and stops at a line it would misread. */
static char *grid_reader(char *str, int num, void *stream)
{
	struct parse *ps = stream;
	if (ps->err_line || !fgets(str, num, ps->f))
		return NULL;
	ps->line++;
	size_t len = strlen(str);
	if (len == (size_t)num - 1 && str[len - 1] != '\n' && !feof(ps->f)) {
		parse_fail(ps, ps->line, "line longer than %d characters (continue a long value on indented lines)",
			   num - 3);
		return NULL;
	}
	ps->indented = str[0] == ' ' || str[0] == '\t';
	const char *s = str;
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '[') {
		const char *e = strchr(s, ']');
		if (e) {
			int n = (int)(e - s - 1);
			if (!((n == 5 && !strncmp(s + 1, "sweep", 5)) || (n == 6 && !strncmp(s + 1, "params", 6)))) {
				parse_fail(ps, ps->line, "unknown section [%.*s] (sections: [sweep], [params])", n,
					   s + 1);
				return NULL;
			}
		}
	}
	return str;
}

static struct entry *find_entry(struct parse *ps, const char *section, const char *name)
{
	for (size_t i = 0; i < ps->nentries; i++)
		if (!strcmp(ps->entries[i].section, section) && !strcmp(ps->entries[i].name, name))
			return &ps->entries[i];
	return NULL;
}

static bool add_piece(struct entry *e, const char *text, int line)
{
	struct piece *p = realloc(e->pieces, (e->npieces + 1) * sizeof(*p));
	if (!p)
		return false;
	e->pieces = p;
	if (!(p[e->npieces].text = strdup(text)))
		return false;
	p[e->npieces++].line = line;
	return true;
}

static const char *const sweep_keys[] = {"name", "db", "traces", "workloads", "modes", NULL};

/* inih's handler: one NAME = VALUE line, or one continuation line. */
static int grid_handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *ps = user;
	int line = ps->line;
	if (!*section) {
		parse_fail(ps, line, "'%s' is outside a section ([sweep] or [params])", name);
		return 0;
	}
	struct entry *e = find_entry(ps, section, name);
	if (e && ps->indented && e == &ps->entries[ps->nentries - 1]) {
		if (strchr(value, '=')) {
			parse_fail(ps, line, "an indented line continues the value of '%s'; start a new key at the "
				   "beginning of its line", name);
			return 0;
		}
		/* inih strips an inline comment (';' after white space) from a key
		 * line but not from a continuation line: strip it the same way. */
		char *v = strdup(value);
		if (v) {
			for (char *c = v + 1; *c; c++)
				if (*c == ';' && isspace((unsigned char)c[-1])) {
					*c = '\0';
					break;
				}
			for (size_t n = strlen(v); n && isspace((unsigned char)v[n - 1]); n--)
				v[n - 1] = '\0';
		}
		bool added = v && add_piece(e, v, line);
		free(v);
		if (!added) {
			parse_fail(ps, line, "out of memory");
			return 0;
		}
		return 1;
	}
	if (e) {
		parse_fail(ps, line, "'%s' is given twice in [%s] (first at line %d)", name, section, e->line);
		return 0;
	}
	if (!strcmp(section, "sweep")) {
		bool known = false;
		for (int i = 0; sweep_keys[i]; i++)
			known |= !strcmp(sweep_keys[i], name);
		if (!known) {
			parse_fail(ps, line, "unknown key '%s' in [sweep] (keys: name, db, traces, modes)", name);
			return 0;
		}
	}
	struct entry *grown = realloc(ps->entries, (ps->nentries + 1) * sizeof(*grown));
	if (!grown) {
		parse_fail(ps, line, "out of memory");
		return 0;
	}
	ps->entries = grown;
	e = &ps->entries[ps->nentries];
	memset(e, 0, sizeof(*e));
	snprintf(e->section, sizeof(e->section), "%s", section);
	e->line = line;
	if (!(e->name = strdup(name)) || !add_piece(e, value, line)) {
		free(e->name);
		free(e->pieces);
		parse_fail(ps, line, "out of memory");
		return 0;
	}
	ps->nentries++;
	return 1;
}

/* ---- items: the comma-separated values of an entry, each with its line ---- */

struct item {
	char *text; /* trimmed, non-empty */
	int line;
};

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static void free_items(struct item *it, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(it[i].text);
	free(it);
}

/* Split e's pieces at commas. A trailing comma at the end of a line (before
 * a continuation) is allowed; any other empty item is an error. */
static int split_items(struct parse *ps, const struct entry *e, struct item **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	for (size_t p = 0; p < e->npieces; p++) {
		char *buf = strdup(e->pieces[p].text);
		if (!buf) {
			parse_fail(ps, e->pieces[p].line, "out of memory");
			free_items(*out, *n);
			*out = NULL;
			*n = 0;
			return -1;
		}
		size_t len = strlen(buf);
		bool trailing = len && buf[len - 1] == ',' && p + 1 < e->npieces;
		if (trailing)
			buf[len - 1] = '\0';
		/* strtok_r would merge ",," silently: walk by hand. */
		char *s = buf;
		for (;;) {
			char *comma = strchr(s, ',');
			if (comma)
				*comma = '\0';
			char *t = trim(s);
			if (!*t) {
				parse_fail(ps, e->pieces[p].line, "'%s': an empty item in the list", e->name);
				goto fail;
			}
			struct item *grown = realloc(*out, (*n + 1) * sizeof(**out));
			if (grown)
				*out = grown;
			if (!grown || !(t = strdup(t))) {
				parse_fail(ps, e->pieces[p].line, "out of memory");
				goto fail;
			}
			(*out)[*n].text = t;
			(*out)[(*n)++].line = e->pieces[p].line;
			if (!comma)
				break;
			s = comma + 1;
		}
		free(buf);
		continue;
fail:
		free(buf);
		free_items(*out, *n);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

/* ---- paths ----------------------------------------------------------------- */

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* a and b name the same file, or (when it does not exist yet, e.g. a new
 * database) the same name in the same directory. */
static bool same_place(const char *a, const char *b)
{
	if (same_file(a, b))
		return true;
	const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');
	if (!sa || !sb || strcmp(sa, sb))
		return false;
	char *da = strndup(a, (size_t)(sa - a)), *db = strndup(b, (size_t)(sb - b));
	bool same = da && db && same_file(*da ? da : "/", *db ? db : "/");
	free(da);
	free(db);
	return same;
}

/* p with "." components and "dir/.." pairs removed; malloc'd. */
static char *clean_path(const char *p)
{
	size_t len = strlen(p);
	char *buf = strdup(p), **comp = calloc(len + 1, sizeof(*comp)), *out = malloc(len + 2);
	if (!buf || !comp || !out) {
		free(buf);
		free(comp);
		free(out);
		return NULL;
	}
	size_t n = 0;
	for (char *save = NULL, *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..") && n && strcmp(comp[n - 1], ".."))
			n--;
		else
			comp[n++] = c;
	}
	size_t used = 0;
	if (p[0] == '/')
		out[used++] = '/';
	for (size_t i = 0; i < n; i++)
		used += (size_t)sprintf(out + used, "%s%s", i ? "/" : "", comp[i]);
	if (!used)
		out[used++] = '.';
	out[used] = '\0';
	free(buf);
	free(comp);
	return out;
}

/* rel resolved against the grid's directory: as written when absolute or
 * when the grid is in the current directory; lexically cleaned when the
 * cleaned path names the same place (symbolic links could make it another).
 * malloc'd. */
static char *resolve(const char *grid_path, const char *rel)
{
	const char *slash = strrchr(grid_path, '/');
	if (rel[0] == '/' || !slash)
		return strdup(rel);
	size_t dlen = (size_t)(slash - grid_path);
	char *joined = malloc(dlen + strlen(rel) + 2);
	if (!joined)
		return NULL;
	sprintf(joined, "%.*s/%s", (int)dlen, grid_path, rel);
	char *clean = clean_path(joined);
	if (clean && strcmp(clean, joined) && same_place(clean, joined)) {
		free(joined);
		return clean;
	}
	free(clean);
	return joined;
}

/* ---- values ------------------------------------------------------------------ */

static const struct param_info *param_named(const char *name)
{
	for (size_t i = 0; i < param_count; i++)
		if (!strcmp(param_table[i].name, name))
			return &param_table[i];
	return NULL;
}

/* params_set's message without its "--set: " prefix (the grid is no --set). */
static const char *set_msg(const char *err)
{
	return strncmp(err, "--set: ", 7) ? err : err + 7;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static int push_value(struct parse *ps, struct grid_axis *ax, const char *v, int line)
{
	for (size_t i = 0; i < ax->n; i++)
		if (!strcmp(ax->values[i], v)) {
			parse_fail(ps, line, "%s: the value %s is given twice", ax->name, v);
			return -1;
		}
	if (ax->n >= GRID_MAX_AXIS_VALUES) {
		parse_fail(ps, line, "%s: more than %d values", ax->name, GRID_MAX_AXIS_VALUES);
		return -1;
	}
	struct sim_params scratch;
	char a[320], err[256];
	params_defaults(&scratch);
	snprintf(a, sizeof(a), "%s=%s", ax->name, v);
	if (params_set(&scratch, a, err) < 0) {
		parse_fail(ps, line, "%s", set_msg(err));
		return -1;
	}
	char **grown = realloc(ax->values, (ax->n + 1) * sizeof(*grown));
	if (!grown || !(grown[ax->n] = strdup(v))) {
		if (grown)
			ax->values = grown;
		parse_fail(ps, line, "out of memory");
		return -1;
	}
	ax->values = grown;
	ax->n++;
	return 0;
}

/* One item of an axis: a value, or an integer range "A..B" or "A..B step S". */
static int axis_item(struct parse *ps, struct grid_axis *ax, const struct param_info *pi, const struct item *it)
{
	char *dots = strstr(it->text, "..");
	if (!dots)
		return push_value(ps, ax, it->text, it->line);
	if (pi->type != PARAM_U64) {
		parse_fail(ps, it->line, "%s: a range needs an integer parameter", ax->name);
		return -1;
	}
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", it->text);
	buf[dots - it->text] = '\0';
	char *lo_s = trim(buf), *hi_s = buf + (dots - it->text) + 2, *step_s = NULL;
	char *sp = strstr(hi_s, "step");
	if (sp) {
		*sp = '\0';
		step_s = trim(sp + 4);
		if (sp[4] && !isspace((unsigned char)sp[4]))
			step_s = NULL;
	}
	hi_s = trim(hi_s);
	if (!all_digits(lo_s) || !all_digits(hi_s) || (sp && (!step_s || !all_digits(step_s)))) {
		parse_fail(ps, it->line, "%s: '%s' is not a range (A..B or A..B step S, decimal integers)", ax->name,
			   it->text);
		return -1;
	}
	errno = 0;
	uint64_t lo = strtoull(lo_s, NULL, 10), hi = strtoull(hi_s, NULL, 10);
	uint64_t step = step_s ? strtoull(step_s, NULL, 10) : 1;
	if (errno || lo > hi || step == 0) {
		parse_fail(ps, it->line, "%s: range '%s' is empty (needs A <= B and a step of at least 1)", ax->name,
			   it->text);
		return -1;
	}
	if ((hi - lo) / step >= GRID_MAX_AXIS_VALUES) {
		parse_fail(ps, it->line, "%s: range '%s' has more than %d values", ax->name, it->text,
			   GRID_MAX_AXIS_VALUES);
		return -1;
	}
	for (uint64_t v = lo;; v += step) {
		char num[32];
		snprintf(num, sizeof(num), "%" PRIu64, v);
		if (push_value(ps, ax, num, it->line) < 0)
			return -1;
		if (hi - v < step)
			break;
	}
	return 0;
}

static int build_axis(struct parse *ps, struct grid *g, const struct entry *e)
{
	const struct param_info *pi = param_named(e->name);
	if (!pi) {
		/* params_set names the nearest parameters. */
		struct sim_params scratch;
		char a[320], err[256];
		params_defaults(&scratch);
		snprintf(a, sizeof(a), "%s=0", e->name);
		params_set(&scratch, a, err);
		parse_fail(ps, e->line, "%s", set_msg(err));
		return -1;
	}
	struct item *it;
	size_t n;
	if (split_items(ps, e, &it, &n) < 0)
		return -1;
	struct grid_axis *grown = realloc(g->axes, (g->naxes + 1) * sizeof(*grown));
	if (!grown) {
		free_items(it, n);
		parse_fail(ps, e->line, "out of memory");
		return -1;
	}
	g->axes = grown;
	struct grid_axis *ax = &g->axes[g->naxes++];
	memset(ax, 0, sizeof(*ax));
	ax->line = e->line;
	int rc = (ax->name = strdup(e->name)) ? 0 : -1;
	if (rc < 0)
		parse_fail(ps, e->line, "out of memory");
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = axis_item(ps, ax, pi, &it[i]);
	free_items(it, n);
	return rc;
}

static int build_sweep_key(struct parse *ps, struct grid *g, const struct entry *e)
{
	struct item *it;
	size_t n;
	if (split_items(ps, e, &it, &n) < 0)
		return -1;
	int rc = 0;
	if (!strcmp(e->name, "name") || !strcmp(e->name, "db")) {
		if (n != 1) {
			parse_fail(ps, e->line, "'%s' takes one value, not a list", e->name);
			rc = -1;
		} else if (!strcmp(e->name, "name")) {
			if (!(g->name = strdup(it[0].text)))
				rc = -1;
		} else if (!(g->db = resolve(ps->path, it[0].text))) {
			rc = -1;
		}
	} else if (!strcmp(e->name, "traces") || !strcmp(e->name, "workloads")) {
		/* Traces and workloads share the list of what runs: a workload is
		 * "workload:NAME", as `vtsim run --workload` stores it. */
		const bool wl = !strcmp(e->name, "workloads");
		char **grown = realloc(g->traces, (g->ntraces + n) * sizeof(*grown));
		rc = grown ? 0 : -1;
		if (grown)
			g->traces = grown;
		for (size_t i = 0; i < n && rc == 0 && wl; i++) {
			char werr[256];
			if (!workload_find(it[i].text, werr)) {
				parse_fail(ps, it[i].line, "%s", werr);
				rc = -2;
				break;
			}
			size_t len = strlen(it[i].text) + sizeof("workload:");
			char *w = malloc(len);
			if (!w) {
				rc = -1;
				break;
			}
			snprintf(w, len, "workload:%s", it[i].text);
			for (size_t j = 0; j < g->ntraces && rc == 0; j++)
				if (!strcmp(g->traces[j], w)) {
					parse_fail(ps, it[i].line, "workload %s is listed twice", it[i].text);
					rc = -2;
				}
			g->traces[g->ntraces++] = w;
		}
		for (size_t i = 0; i < n && rc == 0 && !wl; i++) {
			char *p = resolve(ps->path, it[i].text);
			struct stat sb;
			if (!p) {
				rc = -1;
				break;
			}
			g->traces[g->ntraces++] = p;
			if (stat(p, &sb) != 0) {
				parse_fail(ps, it[i].line, "trace %s: %s", p, strerror(errno));
				rc = -2;
			}
			for (size_t j = 0; j + 1 < g->ntraces && rc == 0; j++)
				if (same_file(g->traces[j], p)) {
					parse_fail(ps, it[i].line, "trace %s is listed twice", p);
					rc = -2;
				}
		}
	} else { /* modes */
		for (size_t i = 0; i < n && rc == 0; i++) {
			enum sim_mode m;
			char err[CPU_ERR_LEN];
			if (mode_parse(it[i].text, &m, err) < 0) {
				parse_fail(ps, it[i].line, "%s", err);
				rc = -2;
				break;
			}
			for (size_t j = 0; j < g->nmodes; j++)
				if (g->modes[j] == m) {
					parse_fail(ps, it[i].line, "mode %s is listed twice", it[i].text);
					rc = -2;
				}
			if (rc == 0)
				g->modes[g->nmodes++] = m;
		}
	}
	if (rc == -1)
		parse_fail(ps, e->line, "out of memory");
	free_items(it, n);
	return rc < 0 ? -1 : 0;
}

/* ---- the grid ---------------------------------------------------------------- */

void grid_run_at(const struct grid *g, size_t i, size_t *trace, size_t *point, enum sim_mode *mode)
{
	*mode = g->modes[i % g->nmodes];
	i /= g->nmodes;
	*point = i % g->npoints;
	*trace = i / g->npoints;
}

size_t grid_point_value(const struct grid *g, size_t point, size_t a)
{
	for (size_t k = g->naxes; k-- > a + 1;)
		point /= g->axes[k].n;
	return point % g->axes[a].n;
}

int grid_point_params(const struct grid *g, size_t point, struct sim_params *p, char *err)
{
	params_defaults(p);
	for (size_t a = 0; a < g->naxes; a++) {
		char s[320];
		snprintf(s, sizeof(s), "%s=%s", g->axes[a].name, g->axes[a].values[grid_point_value(g, point, a)]);
		if (params_set(p, s, err) < 0)
			return -1;
	}
	return 0;
}

void grid_point_label(const struct grid *g, size_t point, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t a = 0; a < g->naxes && used < len; a++) {
		int n = snprintf(buf + used, len - used, "%s%s=%s", a ? " " : "", g->axes[a].name,
				 g->axes[a].values[grid_point_value(g, point, a)]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

int grid_load(struct grid *g, const char *path, char *err)
{
	memset(g, 0, sizeof(*g));
	err[0] = '\0';
	struct parse ps = {.path = path};
	if (!(g->path = strdup(path))) {
		snprintf(err, GRID_ERR_LEN, "%s: out of memory", path);
		return -1;
	}
	if (!(ps.f = fopen(path, "r"))) {
		snprintf(err, GRID_ERR_LEN, "%s: %s", path, strerror(errno));
		return -1;
	}
	int rc = ini_parse_stream(grid_reader, &ps, grid_handler, &ps);
	bool read_error = ferror(ps.f);
	fclose(ps.f);
	if (read_error) {
		snprintf(err, GRID_ERR_LEN, "%s: read error", path);
		rc = -1;
	} else if (rc > 0 && (!ps.err_line || rc < ps.err_line)) {
		/* inih's own: a line that is neither [section] nor NAME = VALUE. */
		ps.err_line = 0;
		parse_fail(&ps, rc, "expected [section] or NAME = VALUE");
	} else if (rc == -2) {
		snprintf(err, GRID_ERR_LEN, "%s: out of memory", path);
	}
	if (rc == 0 && !ps.err_line) {
		/* [params] in file order, cpu.profile first: it resets the others. */
		for (int pass = 0; pass < 2 && !ps.err_line; pass++)
			for (size_t i = 0; i < ps.nentries && !ps.err_line; i++) {
				const struct entry *e = &ps.entries[i];
				if (!strcmp(e->section, "sweep")) {
					if (pass == 0)
						build_sweep_key(&ps, g, e);
				} else if ((pass == 0) == !strcmp(e->name, "cpu.profile")) {
					build_axis(&ps, g, e);
				}
			}
	}
	for (size_t i = 0; i < ps.nentries; i++) {
		for (size_t p = 0; p < ps.entries[i].npieces; p++)
			free(ps.entries[i].pieces[p].text);
		free(ps.entries[i].pieces);
		free(ps.entries[i].name);
	}
	free(ps.entries);
	if (ps.err_line) {
		snprintf(err, GRID_ERR_LEN, "%s", ps.err);
		return -1;
	}
	if (rc != 0)
		return -1;

	if (!g->ntraces) {
		snprintf(err, GRID_ERR_LEN, "%s: nothing to run: [sweep] needs traces = FILE, ... or workloads = NAME, ...",
			 path);
		return -1;
	}
	if (!g->nmodes) {
		g->modes[0] = MODE_NATIVE;
		g->modes[1] = MODE_SHADOW;
		g->modes[2] = MODE_EPT;
		g->nmodes = 3;
	}
	if (!g->name) {
		const char *b = strrchr(path, '/');
		b = b ? b + 1 : path;
		size_t n = strlen(b);
		if (n > 4 && !strcmp(b + n - 4, ".ini"))
			n -= 4;
		if (!(g->name = strndup(b, n))) {
			snprintf(err, GRID_ERR_LEN, "%s: out of memory", path);
			return -1;
		}
	}
	g->npoints = 1;
	for (size_t a = 0; a < g->naxes; a++) {
		if (g->npoints > GRID_MAX_RUNS / g->axes[a].n) {
			snprintf(err, GRID_ERR_LEN, "%s:%d: the grid has more than %d points", path, g->axes[a].line,
				 GRID_MAX_RUNS);
			return -1;
		}
		g->npoints *= g->axes[a].n;
	}
	if (g->npoints > GRID_MAX_RUNS / g->ntraces / g->nmodes) {
		snprintf(err, GRID_ERR_LEN, "%s: the grid has more than %d runs", path, GRID_MAX_RUNS);
		return -1;
	}
	g->nruns = g->ntraces * g->npoints * g->nmodes;
	/* Every point's parameters must fit together before any run starts. */
	for (size_t pt = 0; pt < g->npoints; pt++) {
		struct sim_params p;
		char perr[256], label[256];
		if (grid_point_params(g, pt, &p, perr) < 0 || params_validate(&p, perr) < 0) {
			grid_point_label(g, pt, label, sizeof(label));
			snprintf(err, GRID_ERR_LEN, "%s: the point %s: %s", path, label, perr);
			return -1;
		}
	}
	return 0;
}

void grid_free(struct grid *g)
{
	for (size_t a = 0; a < g->naxes; a++) {
		for (size_t v = 0; v < g->axes[a].n; v++)
			free(g->axes[a].values[v]);
		free(g->axes[a].values);
		free(g->axes[a].name);
	}
	free(g->axes);
	for (size_t t = 0; t < g->ntraces; t++)
		free(g->traces[t]);
	free(g->traces);
	free(g->name);
	free(g->db);
	free(g->path);
	memset(g, 0, sizeof(*g));
}

/* ---- JSON ---------------------------------------------------------------------- */

struct sbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *g = realloc(b->s, cap);
		if (!g) {
			b->oom = true;
			return;
		}
		b->s = g;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, "\"", 1);
	for (; *s; s++) {
		char esc[8];
		if (*s == '"' || *s == '\\') {
			esc[0] = '\\';
			esc[1] = *s;
			sb_put(b, esc, 2);
		} else if ((unsigned char)*s < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned char)*s);
			sb_put(b, esc, 6);
		} else {
			sb_put(b, s, 1);
		}
	}
	sb_put(b, "\"", 1);
}

char *grid_json(const struct grid *g)
{
	struct sbuf b = {0};
	sb_put(&b, "{\"name\":", 8);
	sb_str(&b, g->name);
	sb_put(&b, ",\"traces\":[", 11);
	for (size_t t = 0; t < g->ntraces; t++) {
		if (t)
			sb_put(&b, ",", 1);
		sb_str(&b, g->traces[t]);
	}
	sb_put(&b, "],\"modes\":[", 11);
	for (size_t m = 0; m < g->nmodes; m++) {
		if (m)
			sb_put(&b, ",", 1);
		sb_str(&b, mode_name(g->modes[m]));
	}
	sb_put(&b, "],\"axes\":[", 10);
	for (size_t a = 0; a < g->naxes; a++) {
		sb_put(&b, a ? ",{\"name\":" : "{\"name\":", a ? 9 : 8);
		sb_str(&b, g->axes[a].name);
		sb_put(&b, ",\"values\":[", 11);
		for (size_t v = 0; v < g->axes[a].n; v++) {
			if (v)
				sb_put(&b, ",", 1);
			sb_str(&b, g->axes[a].values[v]);
		}
		sb_put(&b, "]}", 2);
	}
	sb_put(&b, "]}", 2);
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}
