/*
 * Results database (SQLite). One database file holds every run; a run and
 * all its rows are written in one transaction, so an interrupted program
 * never leaves a half-written run. Schema: docs/schema.md.
 */
#ifndef VTSIM_DB_DB_H
#define VTSIM_DB_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct db;

#define DB_ERR_LEN 512
#define DB_KEY_LEN 33 /* a configuration key: 32 hex digits and the NUL */

/* One named counter value of a run. */
struct db_counter {
	const char *name; /* hierarchical counter name, e.g. "walk.ept.refs" */
	uint64_t value;
};

/* VM exits of one basic reason in a run. */
struct db_exit {
	unsigned reason;    /* basic exit reason number (SDM App. C) */
	const char *name;   /* e.g. "EPT_VIOLATION" */
	uint64_t count;     /* exits */
	uint64_t cycles;    /* cycles charged to these exits (round trip + VMM work) */
};

/* One interval sample: a counter's (cumulative) value at a simulated cycle. */
struct db_sample {
	uint64_t cycle;
	const char *name;   /* counter name */
	uint64_t value;
};

/* One run: its identity, configuration and results. */
struct db_run {
	const char *trace_path;     /* as given on the command line */
	const char *trace_name;     /* base name of the trace file */
	const char *trace_checksum; /* 16 hex digits (XXH3-64 of the file) */
	const char *trace_format;   /* "lackey", "lackey+zstd", ... */
	const char *mode;           /* "native", "ept", ... */
	const char *params_json;    /* every parameter, as a JSON object */
	const char *version;        /* program version (PACKAGE_VERSION) */
	const char *group_id;       /* runs of one `vtsim compare` (or one sweep point) share it; may be NULL */
	int64_t sweep_id;           /* the sweep storing it (db_sweep_open), or 0 */
	int64_t started_unix;       /* seconds since the epoch */
	int64_t finished_unix;
	double wall_seconds;        /* host wall-clock time of the simulation */
	const struct db_counter *counters;
	size_t n_counters;
	const struct db_exit *exits;
	size_t n_exits;
	const struct db_sample *samples; /* interval samples, in cycle order; may be none */
	size_t n_samples;
};

/*
 * Open (creating if needed) the database at path, creating the directory's
 * schema if the file is new. Returns NULL with a one-line message naming the
 * file in err (DB_ERR_LEN bytes) if it cannot be opened or written.
 */
struct db *db_open(const char *path, char *err);

/*
 * Store one run and all its rows (counters, exits, samples) in one transaction. Returns the new run id
 * (> 0), or -1 with a message in err; on error nothing of the run is stored.
 */
int64_t db_store_run(struct db *db, const struct db_run *run, char *err);

/*
 * The same, once per configuration: if a run with run's configuration key
 * (db_config_key) is already stored, store nothing; either way link the run
 * to run->sweep_id when it is not 0. The check and the insert are one
 * transaction, so two processes storing the same configuration at once
 * store it once. Returns the run's id (> 0) and sets *stored to whether it
 * was stored now, or -1 with a message in err.
 */
int64_t db_store_run_once(struct db *db, const struct db_run *run, bool *stored, char *err);

/*
 * The configuration key of a run: XXH3-128 over the program version, the
 * trace checksum, the mode and every parameter (params_json), each followed
 * by a NUL byte, as 32 lower-case hex digits into out. Two runs with the same
 * key simulate the same thing and give the same results. Returns 0, or -1
 * when out of memory.
 */
int db_config_key(const char *version, const char *trace_checksum, const char *mode, const char *params_json,
		  char out[DB_KEY_LEN]);

/*
 * The id of a stored run with configuration key key (the lowest if several),
 * 0 if there is none, -1 on error (message in db_errmsg()).
 */
int64_t db_find_config(struct db *db, const char *key);

/*
 * The sweep called name: created if new, else reused with its grid replaced
 * by grid_json (a rerun of an edited grid). Returns its id (> 0), or -1 with
 * a message in err.
 */
int64_t db_sweep_open(struct db *db, const char *name, const char *grid_json, char *err);

/*
 * Link runs ids[0..n) (already stored) to sweep sweep_id, in one
 * transaction; a link that exists stays. Returns 0, or -1 with err.
 */
int db_sweep_link(struct db *db, int64_t sweep_id, const int64_t *ids, size_t n, char *err);

/*
 * Read counter name of run run_id into *out. Returns 0 if found, 1 if the
 * run has no such counter, -1 on error (message in db_errmsg()).
 */
int db_run_counter(struct db *db, int64_t run_id, const char *name, uint64_t *out);

/* Number of runs stored, or -1 on error (message in db_errmsg()). */
int64_t db_run_count(struct db *db);

/* One-line message of the last db_run_counter()/db_run_count() error. */
const char *db_errmsg(const struct db *db);

/*
 * Create the missing directories leading to the file path (mkdir -p of its
 * directory), e.g. "results" for the default "results/vtsim.db". Returns 0,
 * or -1 with a one-line message naming the directory in err (DB_ERR_LEN).
 * db_open never creates directories; the caller does, with this.
 */
int db_ensure_parent_dir(const char *path, char *err);

/*
 * Merge the database at in_path into db without duplicates: every run of
 * in_path whose configuration key db lacks (the first of each key), with its
 * counters, exits and samples; its sweeps by name (db's grid stays when both
 * have one) with their run links, mapped to db's run ids. One transaction.
 * in_path is opened as any command opens a database (refused if it is not a
 * vtsim database or is newer; upgraded if older) and otherwise only read.
 * Sets *added (runs stored now) and *present (runs of in_path that db had).
 * Returns 0, or -1 with a one-line message in err naming the file.
 */
int db_merge(struct db *db, const char *in_path, int64_t *added, int64_t *present, char *err);

/*
 * One row of db_query: ncol columns, their names and their values as text
 * (NULL for an SQL NULL; numbers as SQLite writes them). Return 0 to go on,
 * non-zero to stop (db_query then returns -1 with err untouched).
 */
typedef int (*db_row_fn)(void *ctx, int ncol, const char *const *names, const char *const *values);

/*
 * Run one SQL statement that only reads (a SELECT; anything that would
 * write is refused) with params[0..nparams) bound as text to ?1, ?2, ...,
 * calling fn for every row. Returns the number of rows, or -1 with a
 * one-line message in err naming the database (a second statement, a
 * statement that writes, an SQLite error).
 */
int64_t db_query(struct db *db, const char *sql, const char *const *params, int nparams, db_row_fn fn, void *ctx,
		 char *err);

/* Tables and views db_export_csv() writes (NULL-terminated); a sweep's
 * pivot view sweep_pivot_<id> too. */
extern const char *const db_export_tables[];

/*
 * Write a table or view of the schema (one of db_export_tables) to out as
 * CSV (RFC 4180: a header row, fields quoted when they hold a comma, quote
 * or line break, quotes doubled), rows in rowid/primary-key order. Returns
 * the number of rows, or -1 with a one-line message in err (DB_ERR_LEN).
 */
int64_t db_export_csv(struct db *db, const char *table, FILE *out, char *err);

/* Close the database; NULL is allowed. */
void db_close(struct db *db);

#endif
