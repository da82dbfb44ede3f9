/*
 * `vtsim lab`: the teaching labs (labs/labN/) and their grading.
 *
 * A lab is a directory labs/labN (N = 1, 2, ...) holding README.md (the
 * hand-out), key (the answer key) and the setup files its commands use.
 * Formats (docs/lab-format.md):
 *
 * key, one block per question, each line "FIELD VALUE":
 *   lab N / title TEXT                 once, first
 *   question ID                        starts a block (ID: digits and a letter, e.g. 2c)
 *     type int|hex|word|list           int, hex: a number (0x.. or decimal), compared as one;
 *                                      word: a word, case-insensitive; list: comma-separated
 *                                      numbers or words, in order
 *     answer VALUE                     the hand-worked answer
 *     command vtsim ...                the run that shows it (run by `lab verify`, from the
 *                                      directory that holds labs/)
 *     extract REGEX                    POSIX extended regex over the command's output; its
 *                                      first group is vtsim's answer (list: every match, in order)
 *     baseline vtsim ...               (int only) vtsim's answer is the command's value minus
 *                                      this command's (what an access sequence adds to a run)
 *     why TEXT                         one line shown to a student who got it wrong
 *     pending TEXT                     instead of answer/command/extract: not gradable yet (the
 *                                      run that would answer it does not exist; TEXT names it)
 *
 * answer file (a student's): "ID = VALUE" per line, '#' comments, blank
 * lines. Every error in either is one line "FILE:LINE: what is wrong".
 */
#ifndef VTSIM_CLI_LAB_H
#define VTSIM_CLI_LAB_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define LAB_ERR_LEN 512
#define LAB_MAX_QUESTIONS 32
#define LAB_MAX_LIST 16

enum lab_type { LAB_INT, LAB_HEX, LAB_WORD, LAB_LIST };

struct lab_question {
	char id[8];
	enum lab_type type;
	char answer[512];   /* as written in the key */
	char command[512];  /* "vtsim ..." */
	char extract[256];
	char baseline[512]; /* optional "vtsim ...": vtsim's answer is the command's value minus this one's */
	char why[512];
	char pending[256];  /* non-empty: not gradable yet */
	unsigned line;      /* where the block starts in the key */
};

struct lab_key {
	unsigned lab;
	char title[128];
	char path[512];
	struct lab_question q[LAB_MAX_QUESTIONS];
	unsigned nq;
};

/* Read labs_dir/labN/key. 0, or -1 with "FILE:LINE: ..." in err (a
 * missing lab: "no lab N in DIR"). */
int lab_key_load(const char *labs_dir, unsigned n, struct lab_key *k, char *err);

/* Does a value (an answer or a measurement) match the key's answer, by the
 * question's type? */
bool lab_value_matches(const struct lab_question *q, const char *value);

/* `lab list`: one line per lab (number, title, questions, pending). 0 / -1. */
int lab_list(const char *labs_dir, FILE *out, char *err);
/* `lab show N`: the hand-out. 0 / -1. */
int lab_show(const char *labs_dir, unsigned n, FILE *out, char *err);
/*
 * `lab check N ANSWERS`: grade the answer file question by question on out:
 * "ID  right", "ID  wrong: you wrote V; expected A. WHY (see: COMMAND)",
 * "ID  no answer: expected A. ...", "ID  pending: not graded (TEXT)", then
 * "grade: R/G right (P pending, not graded)". *right and *graded get the
 * counts. 0 once graded (whatever the grade), -1 with "FILE:LINE: ..." in
 * err for a malformed answer file (a line that is not ID = VALUE, an
 * unknown or repeated question, a value of the wrong type).
 */
int lab_check(const char *labs_dir, unsigned n, const char *answers, FILE *out, unsigned *right, unsigned *graded,
	      char *err);
/*
 * `lab verify N`: run every keyed command with the executable self (its
 * "vtsim" replaced), from the parent of labs_dir, extract vtsim's answer
 * and compare it with the key: "ID  ok VALUE" or "ID  MISMATCH: the key says
 * A, vtsim says V (COMMAND)". *mismatches gets their count. 0 when every
 * command ran, -1 with a message in err when one could not run or its
 * output had no match for its extract.
 */
int lab_verify(const char *labs_dir, unsigned n, const char *self, FILE *out, unsigned *mismatches, char *err);

#endif
