/*
 * Notes: `vtsim lab` (see lab.h, docs/lab-format.md). Keys and answer
 * files are small and read whole; `lab verify` runs each keyed command as
 * a child process of this very executable (fork + execv, no shell: a key's
 * command is split at blanks and quotes nothing), so the check exercises
 * exactly what a student types.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include "cli/lab.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define LINE_MAX_LEN 1024

__attribute__((format(printf, 4, 5))) static int fail_at(char *err, const char *path, unsigned line, const char *fmt, ...)
{
	char msg[LAB_ERR_LEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		snprintf(err, LAB_ERR_LEN, "%.200s:%u: %.290s", path, line, msg);
	else
		snprintf(err, LAB_ERR_LEN, "%.200s: %.290s", path, msg);
	return -1;
}

/* Trim blanks (and the newline) at both ends, in place. */
static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

static bool parse_number(const char *s, uint64_t *v)
{
	char buf[128], *end;
	snprintf(buf, sizeof(buf), "%s", s);
	char *t = trim(buf);
	if (!*t || *t == '-' || *t == '+')
		return false;
	errno = 0;
	*v = strtoull(t, &end, 0);
	return !errno && end != t && !*end;
}

static bool valid_id(const char *id)
{
	size_t n = strlen(id), i = 0;
	while (i < n && isdigit((unsigned char)id[i]))
		i++;
	return i > 0 && n < 8 && (n == i || (n == i + 1 && islower((unsigned char)id[i])));
}

static const char *type_names[] = {[LAB_INT] = "int", [LAB_HEX] = "hex", [LAB_WORD] = "word", [LAB_LIST] = "list"};

static int key_field(struct lab_key *k, struct lab_question *q, const char *field, const char *val, unsigned line,
		     char *err)
{
	struct {
		const char *name;
		char *dst;
		size_t len;
	} text[] = {{"answer", q->answer, sizeof(q->answer)},   {"command", q->command, sizeof(q->command)},
		    {"extract", q->extract, sizeof(q->extract)}, {"why", q->why, sizeof(q->why)},
		    {"baseline", q->baseline, sizeof(q->baseline)},
		    {"pending", q->pending, sizeof(q->pending)}};
	if (!strcmp(field, "type")) {
		for (int t = 0; t <= LAB_LIST; t++)
			if (!strcmp(val, type_names[t])) {
				q->type = (enum lab_type)t;
				return 0;
			}
		return fail_at(err, k->path, line, "type '%s': int, hex, word or list", val);
	}
	for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++) {
		if (strcmp(field, text[i].name))
			continue;
		if (text[i].dst[0])
			return fail_at(err, k->path, line, "question %s: %s given twice", q->id, field);
		if (strlen(val) >= text[i].len)
			return fail_at(err, k->path, line, "question %s: %s longer than %zu characters", q->id, field,
				       text[i].len - 1);
		memcpy(text[i].dst, val, strlen(val) + 1);
		return 0;
	}
	return fail_at(err, k->path, line, "unknown field '%s' (type, answer, command, extract, baseline, why, pending)",
		       field);
}

/* A question block is complete: graded ones have answer, command,
 * extract and why; pending ones none of answer, command, extract. */
static int key_question_done(const struct lab_key *k, const struct lab_question *q, char *err)
{
	if (q->pending[0]) {
		if (q->answer[0] || q->command[0] || q->extract[0])
			return fail_at(err, k->path, q->line, "question %s is pending: it has no answer, command or extract",
				       q->id);
		return 0;
	}
	if (!q->answer[0] || !q->command[0] || !q->extract[0] || !q->why[0])
		return fail_at(err, k->path, q->line, "question %s needs answer, command, extract and why (or pending)",
			       q->id);
	if (strncmp(q->command, "vtsim ", 6) || (q->baseline[0] && strncmp(q->baseline, "vtsim ", 6)))
		return fail_at(err, k->path, q->line, "question %s: its commands must start with 'vtsim '", q->id);
	if (q->baseline[0] && q->type != LAB_INT)
		return fail_at(err, k->path, q->line, "question %s: a baseline needs type int", q->id);
	uint64_t v;
	if ((q->type == LAB_INT || q->type == LAB_HEX) && !parse_number(q->answer, &v))
		return fail_at(err, k->path, q->line, "question %s: answer '%s' is not a number", q->id, q->answer);
	regex_t re;
	if (regcomp(&re, q->extract, REG_EXTENDED | REG_NEWLINE))
		return fail_at(err, k->path, q->line, "question %s: extract is not a POSIX extended regex", q->id);
	size_t groups = re.re_nsub;
	regfree(&re);
	if (groups < 1)
		return fail_at(err, k->path, q->line, "question %s: extract needs a group ( ) around the answer", q->id);
	return 0;
}

int lab_key_load(const char *labs_dir, unsigned n, struct lab_key *k, char *err)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->path, sizeof(k->path), "%.400s/lab%u/key", labs_dir, n);
	FILE *f = fopen(k->path, "r");
	if (!f) {
		if (errno == ENOENT) {
			snprintf(err, LAB_ERR_LEN, "no lab %u in %.400s", n, labs_dir);
			return -1;
		}
		return fail_at(err, k->path, 0, "%s", strerror(errno));
	}
	char buf[LINE_MAX_LEN];
	unsigned line = 0;
	int rc = 0;
	struct lab_question *q = NULL;
	bool have_lab = false;
	while (rc == 0 && fgets(buf, sizeof(buf), f)) {
		line++;
		if (!strchr(buf, '\n') && !feof(f)) {
			rc = fail_at(err, k->path, line, "line longer than %d characters", LINE_MAX_LEN - 2);
			break;
		}
		char *s = trim(buf);
		if (!*s || *s == '#')
			continue;
		char *val = s + strcspn(s, " \t");
		if (*val)
			*val++ = '\0';
		val = trim(val);
		if (!strcmp(s, "lab")) {
			uint64_t v;
			if (have_lab || q || !parse_number(val, &v) || v != n)
				rc = fail_at(err, k->path, line, "'lab %u' must come once, first", n);
			have_lab = true;
		} else if (!have_lab) {
			rc = fail_at(err, k->path, line, "the key must start with 'lab %u'", n);
		} else if (!strcmp(s, "title")) {
			if (q || k->title[0] || !*val)
				rc = fail_at(err, k->path, line, "one title, before the questions");
			else
				snprintf(k->title, sizeof(k->title), "%s", val);
		} else if (!strcmp(s, "question")) {
			if (q && key_question_done(k, q, err) < 0) {
				rc = -1;
				break;
			}
			if (!valid_id(val)) {
				rc = fail_at(err, k->path, line, "question id '%s': digits and at most one letter, e.g. 2c", val);
				break;
			}
			for (unsigned i = 0; i < k->nq; i++)
				if (!strcmp(k->q[i].id, val))
					rc = fail_at(err, k->path, line, "question %s again (first on line %u)", val, k->q[i].line);
			if (rc == 0 && k->nq == LAB_MAX_QUESTIONS)
				rc = fail_at(err, k->path, line, "more than %d questions", LAB_MAX_QUESTIONS);
			if (rc == 0) {
				q = &k->q[k->nq++];
				snprintf(q->id, sizeof(q->id), "%s", val);
				q->line = line;
			}
		} else if (!q) {
			rc = fail_at(err, k->path, line, "'%s' before the first question", s);
		} else {
			rc = key_field(k, q, s, val, line, err);
		}
	}
	fclose(f);
	if (rc == 0 && q)
		rc = key_question_done(k, q, err);
	if (rc == 0 && (!k->title[0] || !k->nq))
		rc = fail_at(err, k->path, line, "a key needs a title and at least one question");
	return rc;
}

/* Compare one item: as numbers when both are, else as words. */
static bool item_matches(const char *a, const char *b)
{
	uint64_t x, y;
	if (parse_number(a, &x) && parse_number(b, &y))
		return x == y;
	return !strcasecmp(a, b);
}

bool lab_value_matches(const struct lab_question *q, const char *value)
{
	char v[512], a[512];
	snprintf(v, sizeof(v), "%s", value);
	snprintf(a, sizeof(a), "%s", q->answer);
	uint64_t x, y;
	switch (q->type) {
	case LAB_INT:
	case LAB_HEX:
		return parse_number(v, &x) && parse_number(a, &y) && x == y;
	case LAB_WORD:
		return !strcasecmp(trim(v), trim(a));
	case LAB_LIST: {
		char *sv = NULL, *sa = NULL;
		char *tv = strtok_r(v, ",", &sv), *ta = strtok_r(a, ",", &sa);
		while (tv && ta) {
			if (!item_matches(trim(tv), trim(ta)))
				return false;
			tv = strtok_r(NULL, ",", &sv);
			ta = strtok_r(NULL, ",", &sa);
		}
		return !tv && !ta;
	}
	}
	return false;
}

int lab_list(const char *labs_dir, FILE *out, char *err)
{
	struct lab_key *k = malloc(sizeof(*k));
	if (!k) {
		snprintf(err, LAB_ERR_LEN, "out of memory");
		return -1;
	}
	unsigned n;
	for (n = 1;; n++) {
		char dir[600];
		struct stat st;
		snprintf(dir, sizeof(dir), "%.400s/lab%u", labs_dir, n);
		if (stat(dir, &st) < 0)
			break;
		if (lab_key_load(labs_dir, n, k, err) < 0) {
			free(k);
			return -1;
		}
		unsigned pending = 0;
		for (unsigned i = 0; i < k->nq; i++)
			pending += k->q[i].pending[0] != 0;
		fprintf(out, "lab %u  %-58s %2u questions", n, k->title, k->nq);
		if (pending)
			fprintf(out, " (%u pending)", pending);
		fprintf(out, "\n");
	}
	free(k);
	if (n == 1) {
		snprintf(err, LAB_ERR_LEN, "no lab in %.400s (labs are labN/ directories)", labs_dir);
		return -1;
	}
	fprintf(out, "\nvtsim lab show N: the hand-out; vtsim lab check N ANSWERS: grade an answer file\n");
	return 0;
}

int lab_show(const char *labs_dir, unsigned n, FILE *out, char *err)
{
	char path[600];
	snprintf(path, sizeof(path), "%.400s/lab%u/README.md", labs_dir, n);
	FILE *f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT)
			snprintf(err, LAB_ERR_LEN, "no lab %u in %.400s", n, labs_dir);
		else
			fail_at(err, path, 0, "%s", strerror(errno));
		return -1;
	}
	char buf[4096];
	size_t got;
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, got, out);
	int bad = ferror(f);
	fclose(f);
	if (bad)
		return fail_at(err, path, 0, "read error");
	return 0;
}

static const struct lab_question *find_q(const struct lab_key *k, const char *id)
{
	for (unsigned i = 0; i < k->nq; i++)
		if (!strcasecmp(k->q[i].id, id))
			return &k->q[i];
	return NULL;
}

int lab_check(const char *labs_dir, unsigned n, const char *answers, FILE *out, unsigned *right, unsigned *graded,
	      char *err)
{
	struct lab_key *k = malloc(sizeof(*k));
	if (!k) {
		snprintf(err, LAB_ERR_LEN, "out of memory");
		return -1;
	}
	char (*given)[512] = calloc(LAB_MAX_QUESTIONS, sizeof(*given));
	unsigned given_line[LAB_MAX_QUESTIONS] = {0};
	int rc = -1;
	FILE *f = NULL;
	if (!given) {
		snprintf(err, LAB_ERR_LEN, "out of memory");
		goto out;
	}
	if (lab_key_load(labs_dir, n, k, err) < 0)
		goto out;
	f = fopen(answers, "r");
	if (!f) {
		fail_at(err, answers, 0, "%s", strerror(errno));
		goto out;
	}
	char buf[LINE_MAX_LEN];
	unsigned line = 0;
	while (fgets(buf, sizeof(buf), f)) {
		line++;
		if (!strchr(buf, '\n') && !feof(f)) {
			fail_at(err, answers, line, "line longer than %d characters", LINE_MAX_LEN - 2);
			goto out;
		}
		char *hash = strchr(buf, '#');
		if (hash)
			*hash = '\0';
		char *s = trim(buf);
		if (!*s)
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			fail_at(err, answers, line, "expected 'QUESTION = ANSWER' (e.g. '%s = %s'), got '%.60s'", k->q[0].id,
				k->q[0].pending[0] ? "..." : k->q[0].answer[0] ? "42" : "...", s);
			goto out;
		}
		*eq = '\0';
		char *id = trim(s), *val = trim(eq + 1);
		const struct lab_question *q = find_q(k, id);
		if (!q) {
			fail_at(err, answers, line, "lab %u has no question '%.20s' (its questions: %s ... %s)", n, id,
				k->q[0].id, k->q[k->nq - 1].id);
			goto out;
		}
		unsigned qi = (unsigned)(q - k->q);
		if (given_line[qi]) {
			fail_at(err, answers, line, "question %s is answered twice (first on line %u)", q->id, given_line[qi]);
			goto out;
		}
		if (!*val) {
			fail_at(err, answers, line, "question %s has no answer after '='", q->id);
			goto out;
		}
		uint64_t v;
		if ((q->type == LAB_INT || q->type == LAB_HEX) && !parse_number(val, &v)) {
			fail_at(err, answers, line, "question %s takes a number (0x... or decimal), not '%.60s'", q->id, val);
			goto out;
		}
		if (strlen(val) >= sizeof(given[0])) {
			fail_at(err, answers, line, "the answer to %s is longer than %zu characters", q->id, sizeof(given[0]) - 1);
			goto out;
		}
		snprintf(given[qi], sizeof(given[qi]), "%s", val);
		given_line[qi] = line;
	}
	if (ferror(f)) {
		fail_at(err, answers, line, "read error");
		goto out;
	}
	*right = *graded = 0;
	unsigned pending = 0;
	fprintf(out, "lab %u: %s (answers from %s)\n", n, k->title, answers);
	for (unsigned i = 0; i < k->nq; i++) {
		const struct lab_question *q = &k->q[i];
		if (q->pending[0]) {
			pending++;
			fprintf(out, "%-4s pending: not graded (%s)\n", q->id, q->pending);
			continue;
		}
		(*graded)++;
		if (given_line[i] && lab_value_matches(q, given[i])) {
			(*right)++;
			fprintf(out, "%-4s right\n", q->id);
		} else {
			char see[1100];
			snprintf(see, sizeof(see), "%s%s%s", q->command, q->baseline[0] ? ", minus " : "", q->baseline);
			if (given_line[i])
				fprintf(out, "%-4s wrong: you wrote %s; expected %s. %s (see: %s)\n", q->id, given[i], q->answer,
					q->why, see);
			else
				fprintf(out, "%-4s no answer: expected %s. %s (see: %s)\n", q->id, q->answer, q->why, see);
		}
	}
	fprintf(out, "grade: %u/%u right", *right, *graded);
	if (pending)
		fprintf(out, " (%u pending, not graded)", pending);
	fprintf(out, "\n");
	rc = 0;
out:
	if (f)
		fclose(f);
	free(given);
	free(k);
	return rc;
}

/* Run "vtsim ARGS..." as self ARGS... in dir; its standard output into
 * *buf (malloc'd, NUL-terminated). 0, or -1 with a message in err. */
static int run_self(const char *self, const char *dir, const char *command, char **buf, char *err)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "%s", command);
	char *argv[64], *save = NULL;
	int argc = 0;
	for (char *t = strtok_r(cmd, " \t", &save); t && argc < 63; t = strtok_r(NULL, " \t", &save))
		argv[argc++] = t;
	argv[0] = (char *)self;
	argv[argc] = NULL;
	int fd[2];
	if (pipe(fd) < 0) {
		snprintf(err, LAB_ERR_LEN, "pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(fd[0]);
		close(fd[1]);
		snprintf(err, LAB_ERR_LEN, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if (chdir(dir) < 0 || dup2(fd[1], 1) < 0)
			_exit(126);
		close(fd[0]);
		close(fd[1]);
		execv(self, argv);
		_exit(127);
	}
	close(fd[1]);
	size_t len = 0, cap = 1 << 14;
	char *b = malloc(cap);
	ssize_t got = 0;
	while (b && (got = read(fd[0], b + len, cap - len - 1)) > 0) {
		len += (size_t)got;
		if (cap - len < 4096) {
			char *nb = realloc(b, cap * 2);
			if (!nb) {
				free(b);
				b = NULL;
				break;
			}
			b = nb;
			cap *= 2;
		}
	}
	close(fd[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!b) {
		snprintf(err, LAB_ERR_LEN, "out of memory");
		return -1;
	}
	b[len] = '\0';
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		free(b);
		snprintf(err, LAB_ERR_LEN, "'%.300s' failed (exit %d)", command, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return -1;
	}
	*buf = b;
	return 0;
}

/* vtsim's answer: the extract's first group, or (list) every match's, joined by ", ". */
static int extract_value(const struct lab_question *q, const char *text, char *val, size_t len)
{
	regex_t re;
	if (regcomp(&re, q->extract, REG_EXTENDED | REG_NEWLINE))
		return -1;
	regmatch_t m[2];
	const char *p = text;
	size_t used = 0;
	int found = 0;
	val[0] = '\0';
	while (regexec(&re, p, 2, m, p == text ? 0 : REG_NOTBOL) == 0 && m[1].rm_so >= 0) {
		int w = snprintf(val + used, len - used, "%s%.*s", found ? ", " : "", (int)(m[1].rm_eo - m[1].rm_so),
				 p + m[1].rm_so);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
		found++;
		if (q->type != LAB_LIST || m[0].rm_eo == 0)
			break;
		p += m[0].rm_eo;
	}
	regfree(&re);
	return found ? 0 : -1;
}

/* Run command and extract vtsim's answer into val. 0 / -1 (message in err). */
static int measure(const struct lab_question *q, const char *self, const char *dir, const char *command, char *val,
		   size_t len, char *err)
{
	char *text;
	if (run_self(self, dir, command, &text, err) < 0)
		return -1;
	int ex = extract_value(q, text, val, len);
	free(text);
	if (ex < 0) {
		snprintf(err, LAB_ERR_LEN, "the output of '%.300s' has no match for its extract", command);
		return -1;
	}
	return 0;
}

int lab_verify(const char *labs_dir, unsigned n, const char *self, FILE *out, unsigned *mismatches, char *err)
{
	struct lab_key *k = malloc(sizeof(*k));
	if (!k) {
		snprintf(err, LAB_ERR_LEN, "out of memory");
		return -1;
	}
	int rc = -1;
	char dir[PATH_MAX];
	if (lab_key_load(labs_dir, n, k, err) < 0)
		goto out;
	if (!realpath(labs_dir, dir)) {
		fail_at(err, labs_dir, 0, "%s", strerror(errno));
		goto out;
	}
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	*mismatches = 0;
	fprintf(out, "lab %u: %s: vtsim's answers against the key (%s)\n", n, k->title, k->path);
	for (unsigned i = 0; i < k->nq; i++) {
		const struct lab_question *q = &k->q[i];
		if (q->pending[0]) {
			fprintf(out, "%-4s pending (%s)\n", q->id, q->pending);
			continue;
		}
		char val[512], base[512];
		if (measure(q, self, dir, q->command, val, sizeof(val), err) < 0 ||
		    (q->baseline[0] && measure(q, self, dir, q->baseline, base, sizeof(base), err) < 0)) {
			char e2[LAB_ERR_LEN];
			snprintf(e2, sizeof(e2), "%s", err);
			fail_at(err, k->path, q->line, "question %s: %.400s", q->id, e2);
			goto out;
		}
		if (q->baseline[0]) {
			uint64_t a, b;
			if (!parse_number(val, &a) || !parse_number(base, &b)) {
				fail_at(err, k->path, q->line, "question %s: extracted '%.40s' and '%.40s', not numbers", q->id, val,
					base);
				goto out;
			}
			snprintf(val, sizeof(val), "%" PRId64, (int64_t)(a - b));
		}
		if (lab_value_matches(q, val)) {
			fprintf(out, "%-4s ok %s\n", q->id, val);
		} else {
			(*mismatches)++;
			fprintf(out, "%-4s MISMATCH: the key says %s, vtsim says %s (%s)\n", q->id, q->answer, val, q->command);
		}
	}
	rc = 0;
out:
	free(k);
	return rc;
}
