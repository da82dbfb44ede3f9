/*
 * Notes: the lab setup reader (see setup.h, docs/lab-format.md). The whole
 * file is read once (setups are small: SETUP_MAX_* bound every list); the
 * checks that need several lines (overlaps, access rights, domain order)
 * run as each line is read, against the lines before it, so every error
 * names the line that made it one.
 */
#include "cli/setup.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/paging.h"
#include "arch/vtd.h"

#define MAX_TOKENS 12

struct reader {
	struct setup *s;
	const char *path;
	unsigned line;
	char *err;
};

__attribute__((format(printf, 2, 3))) static int fail(struct reader *r, const char *fmt, ...)
{
	char msg[SETUP_ERR_LEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(r->err, SETUP_ERR_LEN, "%.200s:%u: %.300s", r->path, r->line, msg);
	return -1;
}

static int number(struct reader *r, const char *tok, const char *what, uint64_t *out)
{
	char *end;
	errno = 0;
	*out = strtoull(tok, &end, 0);
	if (errno || end == tok || *end || tok[0] == '-')
		return fail(r, "%s '%s' is not a number (hex with 0x, or decimal)", what, tok);
	return 0;
}

static int page_shift(struct reader *r, const char *tok, unsigned *shift)
{
	if (!strcmp(tok, "4k"))
		*shift = 12;
	else if (!strcmp(tok, "2m"))
		*shift = 21;
	else if (!strcmp(tok, "1g"))
		*shift = 30;
	else
		return fail(r, "page size '%s': 4k, 2m or 1g", tok);
	return 0;
}

static int sid_parse(struct reader *r, const char *tok, uint16_t *sid)
{
	unsigned b, d, f;
	char tail;
	if (sscanf(tok, "%x:%x.%x%c", &b, &d, &f, &tail) != 3 || b > 0xff || d > 0x1f || f > 7)
		return fail(r, "device '%s': BB:DD.F in hex, e.g. 00:02.0", tok);
	*sid = (uint16_t)((b << 8) | (d << 3) | f);
	return 0;
}

static const char *size_name(unsigned shift)
{
	return shift == 30 ? "1g" : shift == 21 ? "2m" : "4k";
}

/* map GVA GPA SIZE FLAG... */
static int parse_map(struct reader *r, char **t, int n)
{
	struct setup *s = r->s;
	if (n < 4)
		return fail(r, "map takes GVA GPA SIZE FLAGS (e.g. map 0x400000 0x40000000 4k rw user A D)");
	if (s->nmaps == SETUP_MAX_MAPS)
		return fail(r, "more than %d maps", SETUP_MAX_MAPS);
	struct setup_map m = {.flags = PTE_P, .line = r->line};
	if (number(r, t[1], "GVA", &m.gva) < 0 || number(r, t[2], "GPA", &m.gpa) < 0 || page_shift(r, t[3], &m.shift) < 0)
		return -1;
	const uint64_t size = UINT64_C(1) << m.shift;
	if ((m.gva | m.gpa) & (size - 1))
		return fail(r, "GVA 0x%" PRIx64 " and GPA 0x%" PRIx64 " must both be aligned to the %s page", m.gva, m.gpa,
			    size_name(m.shift));
	/* 4-level paging: user addresses below 2^47, kernel ones canonical above. */
	if (m.gva >= (UINT64_C(1) << 47) && m.gva < UINT64_C(0xffff800000000000))
		return fail(r, "GVA 0x%" PRIx64 " is not canonical (48-bit linear addresses)", m.gva);
	if (m.gpa < SETUP_MIN_GPA)
		return fail(r, "GPA 0x%" PRIx64 " is below 0x%" PRIx64 ": the guest's page tables and its kernel's own "
			       "frames live there", m.gpa, SETUP_MIN_GPA);
	if (m.gpa + size > (UINT64_C(1) << MAXPHYADDR))
		return fail(r, "GPA 0x%" PRIx64 " is beyond the %d-bit physical-address width", m.gpa, MAXPHYADDR);
	bool rights = false, mode = false;
	for (int i = 4; i < n; i++) {
		if (!strcmp(t[i], "rw") || !strcmp(t[i], "ro")) {
			if (rights)
				return fail(r, "map: rw or ro, once");
			rights = true;
			m.flags |= !strcmp(t[i], "rw") ? PTE_RW : 0;
		} else if (!strcmp(t[i], "user") || !strcmp(t[i], "super")) {
			if (mode)
				return fail(r, "map: user or super, once");
			mode = true;
			m.flags |= !strcmp(t[i], "user") ? PTE_US : 0;
		} else if (!strcmp(t[i], "nx"))
			m.flags |= PTE_XD;
		else if (!strcmp(t[i], "A"))
			m.flags |= PTE_A;
		else if (!strcmp(t[i], "D"))
			m.flags |= PTE_D;
		else
			return fail(r, "map flag '%s': rw or ro, user or super, then any of nx, A, D", t[i]);
	}
	if (!rights || !mode)
		return fail(r, "map needs rw or ro, and user or super");
	for (unsigned i = 0; i < s->nmaps; i++) {
		const struct setup_map *o = &s->map[i];
		uint64_t osize = UINT64_C(1) << o->shift;
		/* (A larger page always covers a smaller one in its range, so
		 * this also keeps a large leaf from sitting where a table must.) */
		if (m.gva < o->gva + osize && o->gva < m.gva + size)
			return fail(r, "GVA 0x%" PRIx64 " overlaps the %s page at 0x%" PRIx64 " of line %u", m.gva,
				    size_name(o->shift), o->gva, o->line);
	}
	s->map[s->nmaps++] = m;
	return 0;
}

const struct setup_map *setup_find_map(const struct setup *s, uint64_t gva)
{
	for (unsigned i = 0; i < s->nmaps; i++) {
		uint64_t size = UINT64_C(1) << s->map[i].shift;
		if (gva >= s->map[i].gva && gva - s->map[i].gva < size)
			return &s->map[i];
	}
	return NULL;
}

/* read|write|fetch GVA [BYTES], cpuid [LEAF] */
static int parse_access(struct reader *r, char **t, int n)
{
	struct setup *s = r->s;
	struct guest_event ev = {.size = 8};
	bool cpuid = !strcmp(t[0], "cpuid");
	if (s->nacc == SETUP_MAX_ACCESSES)
		return fail(r, "more than %d accesses", SETUP_MAX_ACCESSES);
	if (cpuid) {
		uint64_t leaf = 0;
		if (n > 2 || (n == 2 && number(r, t[1], "leaf", &leaf) < 0))
			return n > 2 ? fail(r, "cpuid takes at most a leaf") : -1;
		if (leaf > UINT32_MAX)
			return fail(r, "cpuid leaf 0x%" PRIx64 " is wider than EAX", leaf);
		ev = (struct guest_event){.kind = GEV_CPUID, .size = 2, .arg = (uint32_t)leaf};
	} else {
		ev.kind = !strcmp(t[0], "read") ? GEV_LOAD : !strcmp(t[0], "write") ? GEV_STORE : GEV_FETCH;
		if (n < 2 || n > 3)
			return fail(r, "%s takes GVA [BYTES]", t[0]);
		uint64_t bytes = ev.kind == GEV_FETCH ? 4 : 8;
		if (number(r, t[1], "GVA", &ev.gva) < 0 || (n == 3 && number(r, t[2], "bytes", &bytes) < 0))
			return -1;
		if (bytes < 1 || bytes > 64)
			return fail(r, "an access is 1 to 64 bytes");
		ev.size = (uint32_t)bytes;
		if (ev.gva >= (UINT64_C(1) << 47))
			return fail(r, "GVA 0x%" PRIx64 " is not a user address (below 0x800000000000): accesses run in "
				       "user mode", ev.gva);
		if ((ev.gva & PAGE_MASK) != ((ev.gva + bytes - 1) & PAGE_MASK))
			return fail(r, "the access at 0x%" PRIx64 " crosses a page boundary (split it in two)", ev.gva);
	}
	if (!(s->nacc & (s->nacc + 1))) { /* grow at 0, 1, 3, 7, ...: capacity 2^k */
		unsigned cap = (s->nacc + 1) * 2;
		struct guest_event *a = realloc(s->acc, cap * sizeof(*a));
		if (a)
			s->acc = a;
		unsigned *l = a ? realloc(s->acc_line, cap * sizeof(*l)) : NULL;
		if (!a || !l)
			return fail(r, "out of memory");
		s->acc_line = l;
	}
	s->acc_line[s->nacc] = r->line;
	s->acc[s->nacc++] = ev;
	return 0;
}

/* domain N, iomap N IOVA HPA SIZE r|w|rw */
static int parse_domain(struct reader *r, char **t, int n)
{
	struct setup *s = r->s;
	uint64_t v;
	if (n != 2 || number(r, t[1], "domain", &v) < 0)
		return n != 2 ? fail(r, "domain takes its number") : -1;
	if (v != s->ndomains + 1)
		return fail(r, "domain %" PRIu64 ": domains are declared 1, 2, 3 ... in order (the driver hands out "
			       "domain-ids from 1); the next is %u", v, s->ndomains + 1);
	if (s->ndomains == SETUP_MAX_DOMAINS)
		return fail(r, "more than %d domains", SETUP_MAX_DOMAINS);
	s->ndomains++;
	return 0;
}

static int domain_ref(struct reader *r, const char *tok, unsigned *dom)
{
	uint64_t v;
	if (number(r, tok, "domain", &v) < 0)
		return -1;
	if (v < 1 || v > r->s->ndomains)
		return fail(r, "domain %" PRIu64 " is not declared (declare it with a domain line first)", v);
	*dom = (unsigned)v;
	return 0;
}

static int parse_iomap(struct reader *r, char **t, int n)
{
	struct setup *s = r->s;
	if (n != 6)
		return fail(r, "iomap takes DOMAIN IOVA HPA SIZE r|w|rw (e.g. iomap 1 0x40000000 0x140000000 2m rw)");
	if (s->niomaps == SETUP_MAX_IOMAPS)
		return fail(r, "more than %d iomaps", SETUP_MAX_IOMAPS);
	struct setup_iomap m = {.line = r->line};
	unsigned shift;
	if (domain_ref(r, t[1], &m.domain) < 0 || number(r, t[2], "IOVA", &m.iova) < 0 ||
	    number(r, t[3], "HPA", &m.hpa) < 0 || page_shift(r, t[4], &shift) < 0)
		return -1;
	m.bytes = UINT64_C(1) << shift;
	if ((m.iova | m.hpa) & (m.bytes - 1))
		return fail(r, "IOVA 0x%" PRIx64 " and HPA 0x%" PRIx64 " must both be aligned to the %s page", m.iova, m.hpa,
			    t[4]);
	if (!strcmp(t[5], "r"))
		m.prot = VTD_SL_R;
	else if (!strcmp(t[5], "w"))
		m.prot = VTD_SL_W;
	else if (!strcmp(t[5], "rw"))
		m.prot = VTD_SL_RW;
	else
		return fail(r, "iomap rights '%s': r, w or rw", t[5]);
	for (unsigned i = 0; i < s->niomaps; i++) {
		const struct setup_iomap *o = &s->iomap[i];
		if (o->domain == m.domain && m.iova < o->iova + o->bytes && o->iova < m.iova + m.bytes)
			return fail(r, "IOVA 0x%" PRIx64 " overlaps the mapping of line %u in domain %u", m.iova, o->line,
				    m.domain);
	}
	s->iomap[s->niomaps++] = m;
	return 0;
}

/* device BB:DD.F N [p=V] [fpd=V] [tt=V] [aw=V] [did=V] */
static int parse_device(struct reader *r, char **t, int n)
{
	struct setup *s = r->s;
	if (n < 3)
		return fail(r, "device takes BB:DD.F DOMAIN [p=0|1] [fpd=0|1] [tt=0..3] [aw=0..7] [did=N]");
	if (s->ndevs == SETUP_MAX_DEVICES)
		return fail(r, "more than %d devices", SETUP_MAX_DEVICES);
	struct setup_device d = {.line = r->line};
	if (sid_parse(r, t[1], &d.sid) < 0 || domain_ref(r, t[2], &d.domain) < 0)
		return -1;
	for (unsigned i = 0; i < s->ndevs; i++)
		if (s->dev[i].sid == d.sid)
			return fail(r, "device %s is already attached on line %u", t[1], s->dev[i].line);
	static const struct {
		const char *name;
		uint64_t max;
	} fields[] = {{"p", 1}, {"fpd", 1}, {"tt", 3}, {"aw", 7}, {"did", 0xffff}};
	bool *set[] = {&d.set_p, &d.set_fpd, &d.set_tt, &d.set_aw, &d.set_did};
	unsigned *val[] = {&d.p, &d.fpd, &d.tt, &d.aw, &d.did};
	for (int i = 3; i < n; i++) {
		char *eq = strchr(t[i], '=');
		size_t k = 0, nf = sizeof(fields) / sizeof(fields[0]);
		if (eq)
			for (k = 0; k < nf; k++)
				if (strlen(fields[k].name) == (size_t)(eq - t[i]) && !strncmp(t[i], fields[k].name, (size_t)(eq - t[i])))
					break;
		if (!eq || k == nf)
			return fail(r, "context-entry field '%s': p=, fpd=, tt=, aw= or did=", t[i]);
		uint64_t v;
		if (number(r, eq + 1, fields[k].name, &v) < 0)
			return -1;
		if (v > fields[k].max)
			return fail(r, "%s=%" PRIu64 " does not fit the field (at most %" PRIu64 ")", fields[k].name, v,
				    fields[k].max);
		if (*set[k])
			return fail(r, "%s= is given twice", fields[k].name);
		*set[k] = true;
		*val[k] = (unsigned)v;
	}
	s->dev[s->ndevs++] = d;
	return 0;
}

/* dma BB:DD.F read|write IOVA */
static int parse_dma(struct reader *r, char **t, int n)
{
	struct setup *s = r->s;
	if (n != 4)
		return fail(r, "dma takes BB:DD.F read|write IOVA");
	if (s->have_dma)
		return fail(r, "a second dma line (the first is line %u)", s->dma_line);
	if (sid_parse(r, t[1], &s->dma_sid) < 0)
		return -1;
	if (strcmp(t[2], "read") && strcmp(t[2], "write"))
		return fail(r, "dma access '%s': read or write", t[2]);
	s->dma_write = !strcmp(t[2], "write");
	if (number(r, t[3], "IOVA", &s->dma_iova) < 0)
		return -1;
	s->have_dma = true;
	s->dma_line = r->line;
	return 0;
}

/* The rights of every access against the maps (whatever their order in the file). */
static int check_accesses(struct reader *r)
{
	const struct setup *s = r->s;
	for (unsigned i = 0; i < s->nacc; i++) {
		const struct guest_event *ev = &s->acc[i];
		const struct setup_map *m = ev->kind == GEV_CPUID ? NULL : setup_find_map(s, ev->gva);
		r->line = s->acc_line[i];
		if (m && !(m->flags & PTE_US))
			return fail(r, "GVA 0x%" PRIx64 " is in the supervisor page of line %u: a user access would get "
				       "SIGSEGV", ev->gva, m->line);
		if (m && ev->kind == GEV_STORE && !(m->flags & PTE_RW))
			return fail(r, "a write to GVA 0x%" PRIx64 ", which line %u maps read-only: the process would get "
				       "SIGSEGV", ev->gva, m->line);
		if (m && ev->kind == GEV_FETCH && (m->flags & PTE_XD))
			return fail(r, "a fetch from GVA 0x%" PRIx64 ", which line %u maps nx: the process would get "
				       "SIGSEGV", ev->gva, m->line);
	}
	return 0;
}

/* The first line that is not blank or a comment, stripped, into buf. */
static bool first_line(FILE *f, char *buf, size_t len, unsigned *lineno)
{
	while (fgets(buf, (int)len, f)) {
		(*lineno)++;
		char *hash = strchr(buf, '#');
		if (hash)
			*hash = '\0';
		size_t n = strlen(buf);
		while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
			buf[--n] = '\0';
		char *p = buf + strspn(buf, " \t");
		if (*p) {
			memmove(buf, p, strlen(p) + 1);
			return true;
		}
	}
	return false;
}

bool setup_sniff_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	char buf[256];
	unsigned line = 0;
	bool yes = first_line(f, buf, sizeof(buf), &line) && !strcmp(buf, SETUP_MAGIC);
	fclose(f);
	return yes;
}

int setup_load(const char *path, struct setup *s, char *err)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->path, sizeof(s->path), "%s", path);
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, SETUP_ERR_LEN, "%.200s: %s", path, strerror(errno));
		return -1;
	}
	struct reader r = {s, path, 0, err};
	char buf[1024];
	int rc = 0;
	if (!first_line(f, buf, sizeof(buf), &r.line) || strcmp(buf, SETUP_MAGIC)) {
		rc = fail(&r, "not a lab setup file: its first line (after comments) must be '%s'", SETUP_MAGIC);
		goto out;
	}
	while (rc == 0 && fgets(buf, sizeof(buf), f)) {
		r.line++;
		if (!strchr(buf, '\n') && !feof(f)) {
			rc = fail(&r, "line longer than %zu characters", sizeof(buf) - 2);
			break;
		}
		char *hash = strchr(buf, '#');
		if (hash)
			*hash = '\0';
		char *t[MAX_TOKENS], *save = NULL;
		int n = 0;
		for (char *tok = strtok_r(buf, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
			if (n == MAX_TOKENS) {
				rc = fail(&r, "more than %d words", MAX_TOKENS);
				break;
			}
			t[n++] = tok;
		}
		if (rc || n == 0)
			continue;
		if (!strcmp(t[0], "map"))
			rc = parse_map(&r, t, n);
		else if (!strcmp(t[0], "read") || !strcmp(t[0], "write") || !strcmp(t[0], "fetch") ||
			 !strcmp(t[0], "cpuid"))
			rc = parse_access(&r, t, n);
		else if (!strcmp(t[0], "domain"))
			rc = parse_domain(&r, t, n);
		else if (!strcmp(t[0], "iomap"))
			rc = parse_iomap(&r, t, n);
		else if (!strcmp(t[0], "device"))
			rc = parse_device(&r, t, n);
		else if (!strcmp(t[0], "dma"))
			rc = parse_dma(&r, t, n);
		else
			rc = fail(&r, "unknown keyword '%s' (map, read, write, fetch, cpuid, domain, iomap, device, dma)", t[0]);
	}
	if (rc == 0 && ferror(f))
		rc = fail(&r, "read error");
	if (rc == 0)
		rc = check_accesses(&r);
out:
	fclose(f);
	if (rc < 0)
		setup_free(s);
	return rc;
}

void setup_free(struct setup *s)
{
	free(s->acc);
	free(s->acc_line);
	s->acc = NULL;
	s->acc_line = NULL;
	s->nacc = 0;
}
