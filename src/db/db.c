/*
 * Results database over SQLite.
 *
 * Notes:
 *  - Schema version. The `meta` table holds key 'schema_version'. A new
 *    (empty) file gets the version 1 schema and then every migration, so a
 *    new database and an upgraded one are built by the same statements. An
 *    older file is migrated step by step (1 -> 2 -> ...) when it is opened;
 *    either way it is one transaction, so a failed or killed upgrade leaves
 *    the file as it was. A file whose version is newer than ours is refused
 *    before anything is written to it (not even the journal mode), so an old
 *    vtsim never touches a newer database. A file with tables but no `meta`
 *    is not ours and is refused too.
 *  - Configuration keys. Every run carries db_config_key() of its version,
 *    trace checksum, mode and parameters; sweeps skip a configuration that
 *    is stored, and the check and the insert share one transaction.
 *  - Concurrency. Every connection uses WAL, a 10 s busy timeout and
 *    foreign keys. Writers take the write lock up front (BEGIN IMMEDIATE),
 *    so two processes storing runs at once serialise on the busy timeout
 *    instead of failing with SQLITE_BUSY on a lock upgrade.
 *  - All-or-nothing. db_store_run inserts the run, its counters and its
 *    exits inside one transaction and rolls back on any failure, so a
 *    constraint violation, a full disk or a killed process never leaves a
 *    partial run.
 *  - Integers. SQLite INTEGER is signed 64-bit. A counter, exit count or
 *    cycle total above INT64_MAX is refused (the run fails) rather than
 *    stored as a negative number that would poison the views.
 *  - Errors are one line, "<database file>: <what>: <SQLite message>".
 *    Functions without an err argument leave theirs in db_errmsg().
 */
#include "db/db.h"

#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <xxhash.h>

#define DB_SCHEMA_VERSION 3
#define DB_BUSY_TIMEOUT_MS 10000

struct db {
	sqlite3 *sql;
	char *path;
	sqlite3_stmt *ins_run;
	sqlite3_stmt *ins_counter;
	sqlite3_stmt *ins_exit;
	sqlite3_stmt *ins_sample;
	sqlite3_stmt *get_counter;
	sqlite3_stmt *count_runs;
	sqlite3_stmt *find_config;
	sqlite3_stmt *link_sweep;
	char errmsg[DB_ERR_LEN];
};

/* Version 1, as vtsim 0.1.0 created it; migrations take it to the current one. */
static const char schema_v1_sql[] =
	"CREATE TABLE meta (\n"
	"	key TEXT PRIMARY KEY,\n"
	"	value NOT NULL\n"
	");\n"
	"CREATE TABLE sweep (\n"
	"	id INTEGER PRIMARY KEY,\n"
	"	name TEXT,\n"
	"	grid TEXT\n"
	");\n"
	"CREATE TABLE run (\n"
	"	id INTEGER PRIMARY KEY,\n"
	"	group_id TEXT,\n"
	"	sweep_id INTEGER REFERENCES sweep(id),\n"
	"	trace_path TEXT NOT NULL,\n"
	"	trace_name TEXT NOT NULL,\n"
	"	trace_checksum TEXT NOT NULL,\n"
	"	trace_format TEXT NOT NULL,\n"
	"	mode TEXT NOT NULL,\n"
	"	params_json TEXT NOT NULL,\n"
	"	version TEXT NOT NULL,\n"
	"	started_unix INTEGER NOT NULL,\n"
	"	finished_unix INTEGER NOT NULL,\n"
	"	wall_seconds REAL NOT NULL,\n"
	"	status TEXT NOT NULL DEFAULT 'done'\n"
	");\n"
	"CREATE INDEX run_group ON run(group_id, trace_checksum, mode);\n"
	"CREATE INDEX run_sweep ON run(sweep_id);\n"
	"CREATE TABLE counter (\n"
	"	run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,\n"
	"	name TEXT NOT NULL,\n"
	"	value INTEGER NOT NULL,\n"
	"	PRIMARY KEY (run_id, name)\n"
	") WITHOUT ROWID;\n"
	"CREATE INDEX counter_name ON counter(name);\n"
	"CREATE TABLE exit (\n"
	"	run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,\n"
	"	reason INTEGER NOT NULL,\n"
	"	name TEXT NOT NULL,\n"
	"	count INTEGER NOT NULL,\n"
	"	cycles INTEGER NOT NULL,\n"
	"	PRIMARY KEY (run_id, reason)\n"
	") WITHOUT ROWID;\n"
	"CREATE TABLE sample (\n"
	"	run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,\n"
	"	cycle INTEGER NOT NULL,\n"
	"	name TEXT NOT NULL,\n"
	"	value INTEGER NOT NULL\n"
	");\n"
	"CREATE INDEX sample_run ON sample(run_id, name, cycle);\n"
	"CREATE VIEW run_summary AS\n"
	"SELECT r.id AS id, r.group_id AS group_id, r.trace_name AS trace_name,\n"
	"	r.mode AS mode,\n"
	"	(SELECT c.value FROM counter c\n"
	"	 WHERE c.run_id = r.id AND c.name = 'cpu.cycles') AS cycles,\n"
	"	(SELECT c.value FROM counter c\n"
	"	 WHERE c.run_id = r.id AND c.name = 'cpu.instructions') AS instructions,\n"
	"	(SELECT coalesce(sum(e.count), 0) FROM exit e\n"
	"	 WHERE e.run_id = r.id) AS exits\n"
	"FROM run r;\n"
	"CREATE VIEW overhead AS\n"
	"SELECT r.id AS run_id, r.group_id AS group_id, r.trace_name AS trace_name,\n"
	"	r.mode AS mode, rc.value AS cycles, n.id AS native_run_id,\n"
	"	nc.value AS native_cycles,\n"
	"	100.0 * (rc.value - nc.value) / nc.value AS overhead_pct\n"
	"FROM run r\n"
	"JOIN run n ON n.id = (SELECT max(n2.id) FROM run n2\n"
	"	WHERE n2.group_id = r.group_id\n"
	"	AND n2.trace_checksum = r.trace_checksum\n"
	"	AND n2.mode = 'native')\n"
	"JOIN counter rc ON rc.run_id = r.id AND rc.name = 'cpu.cycles'\n"
	"JOIN counter nc ON nc.run_id = n.id AND nc.name = 'cpu.cycles'\n"
	"WHERE r.mode <> 'native';\n";

/* Write "<path>: <formatted text>" into err (DB_ERR_LEN bytes), on one line. */
__attribute__((format(printf, 3, 4)))
static void set_err(char *err, const char *path, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err)
		return;
	n = snprintf(err, DB_ERR_LEN, "%s: ", path ? path : "(null)");
	if (n < 0)
		n = 0;
	if (n < DB_ERR_LEN - 1) {
		va_start(ap, fmt);
		vsnprintf(err + n, (size_t)(DB_ERR_LEN - n), fmt, ap);
		va_end(ap);
	}
	for (char *p = err; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

/* Run statements that return no rows we need; 0 or -1 with err set. */
static int exec(struct db *db, const char *sql, const char *what, char *err)
{
	if (sqlite3_exec(db->sql, sql, NULL, NULL, NULL) != SQLITE_OK) {
		set_err(err, db->path, "%s: %s", what, sqlite3_errmsg(db->sql));
		return -1;
	}
	return 0;
}

/* Roll back the open transaction, if any, keeping the caller's error. */
static void rollback(struct db *db)
{
	if (!sqlite3_get_autocommit(db->sql))
		sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
}

int db_config_key(const char *version, const char *trace_checksum, const char *mode, const char *params_json,
		  char out[DB_KEY_LEN])
{
	const char *parts[4] = {version, trace_checksum, mode, params_json};
	XXH3_state_t *st = XXH3_createState();
	if (!st || XXH3_128bits_reset(st) == XXH_ERROR) {
		XXH3_freeState(st);
		return -1;
	}
	for (int i = 0; i < 4; i++)
		XXH3_128bits_update(st, parts[i], strlen(parts[i]) + 1); /* with its NUL: "ab","c" != "a","bc" */
	XXH128_hash_t h = XXH3_128bits_digest(st);
	XXH3_freeState(st);
	snprintf(out, DB_KEY_LEN, "%016llx%016llx", (unsigned long long)h.high64, (unsigned long long)h.low64);
	return 0;
}

/*
 * Version 2: configuration keys and sweep membership.
 *  - run.config_key, computed here for the runs already stored;
 *  - sweep names are unique (a rerun of a grid reuses its sweep);
 *  - sweep_run links a sweep to every run of its grid, including runs
 *    stored earlier by another sweep or command with the same key.
 */
static int migrate_1_to_2(struct db *db, char *err)
{
	static const char ddl[] =
		"ALTER TABLE run ADD COLUMN config_key TEXT;\n"
		"CREATE INDEX run_config ON run(config_key);\n"
		"CREATE UNIQUE INDEX sweep_name ON sweep(name);\n"
		"CREATE TABLE sweep_run (\n"
		"	sweep_id INTEGER NOT NULL REFERENCES sweep(id) ON DELETE CASCADE,\n"
		"	run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,\n"
		"	PRIMARY KEY (sweep_id, run_id)\n"
		") WITHOUT ROWID;\n"
		"CREATE INDEX sweep_run_run ON sweep_run(run_id);\n"
		"INSERT INTO sweep_run(sweep_id, run_id) SELECT sweep_id, id FROM run WHERE sweep_id IS NOT NULL;\n";
	sqlite3_stmt *sel = NULL, *upd = NULL;
	int rc;

	if (exec(db, ddl, "migrating schema 1 -> 2", err))
		return -1;
	if (sqlite3_prepare_v2(db->sql, "SELECT id, version, trace_checksum, mode, params_json FROM run", -1, &sel,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db->sql, "UPDATE run SET config_key = ? WHERE id = ?", -1, &upd, NULL) != SQLITE_OK) {
		set_err(err, db->path, "migrating schema 1 -> 2: %s", sqlite3_errmsg(db->sql));
		goto fail;
	}
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
		char key[DB_KEY_LEN];
		const char *col[4];
		for (int i = 0; i < 4; i++)
			col[i] = (const char *)sqlite3_column_text(sel, i + 1);
		if (db_config_key(col[0], col[1], col[2], col[3], key) < 0) {
			set_err(err, db->path, "migrating schema 1 -> 2: out of memory");
			goto fail;
		}
		sqlite3_bind_text(upd, 1, key, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(upd, 2, sqlite3_column_int64(sel, 0));
		if (sqlite3_step(upd) != SQLITE_DONE)
			break;
		sqlite3_reset(upd);
	}
	if (rc != SQLITE_DONE) {
		set_err(err, db->path, "migrating schema 1 -> 2: computing configuration keys: %s",
			sqlite3_errmsg(db->sql));
		goto fail;
	}
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	return 0;
fail:
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	return -1;
}

/*
 * (Re)create view sweep_pivot_<id>: one row per run of the sweep, one
 * column per axis of its grid (the run's value of that parameter), and its
 * cycles and overhead over native. Called inside the caller's transaction.
 */
static int make_pivot(struct db *db, int64_t sweep_id, char *err)
{
	sqlite3_stmt *st = NULL;
	char *sql = sqlite3_mprintf("DROP VIEW IF EXISTS sweep_pivot_%lld;"
				    " CREATE VIEW sweep_pivot_%lld AS SELECT r.id AS run_id,"
				    " r.trace_name AS trace_name, r.mode AS mode",
				    (long long)sweep_id, (long long)sweep_id);
	int rc = sqlite3_prepare_v2(db->sql,
				    "SELECT json_extract(a.value, '$.name') FROM sweep s,"
				    " json_each(s.grid, '$.axes') a WHERE s.id = ? ORDER BY a.key",
				    -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, sweep_id);
		while (sql && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *axis = (const char *)sqlite3_column_text(st, 0);
			char *more = sqlite3_mprintf("%s, json_extract(r.params_json, '$.\"%q\"') AS \"%w\"", sql,
						     axis ? axis : "", axis ? axis : "");
			sqlite3_free(sql);
			sql = more;
		}
		if (rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (sql && rc == SQLITE_OK) {
		char *more = sqlite3_mprintf(
			"%s, (SELECT c.value FROM counter c WHERE c.run_id = r.id AND c.name = 'cpu.cycles') AS cycles,"
			" (SELECT o.overhead_pct FROM run_overhead o WHERE o.run_id = r.id) AS overhead_pct"
			" FROM sweep_run sr JOIN run r ON r.id = sr.run_id WHERE sr.sweep_id = %lld",
			sql, (long long)sweep_id);
		sqlite3_free(sql);
		sql = more;
	}
	if (!sql) {
		set_err(err, db->path, "creating view sweep_pivot_%lld: out of memory", (long long)sweep_id);
		return -1;
	}
	if (rc != SQLITE_OK || sqlite3_exec(db->sql, sql, NULL, NULL, NULL) != SQLITE_OK) {
		set_err(err, db->path, "creating view sweep_pivot_%lld: %s", (long long)sweep_id,
			sqlite3_errmsg(db->sql));
		sqlite3_free(sql);
		return -1;
	}
	sqlite3_free(sql);
	return 0;
}

/* make_pivot for every sweep. */
static int make_pivots(struct db *db, char *err)
{
	sqlite3_stmt *st = NULL;
	int64_t *ids = NULL;
	size_t n = 0;
	int rc = sqlite3_prepare_v2(db->sql, "SELECT id FROM sweep ORDER BY id", -1, &st, NULL);
	while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		int64_t *g = realloc(ids, (n + 1) * sizeof(*ids));
		if (!g) {
			rc = SQLITE_NOMEM;
			break;
		}
		ids = g;
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK) {
		set_err(err, db->path, "listing sweeps: %s", rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(db->sql));
		free(ids);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (make_pivot(db, ids[i], err)) {
			free(ids);
			return -1;
		}
	free(ids);
	return 0;
}

/*
 * Version 3: views for the common questions.
 *  - run_overhead: each non-native run against the native run of the same
 *    configuration (trace checksum, parameters, version), whatever command
 *    or sweep stored either;
 *  - trace_overhead: per trace and mode, over every configuration;
 *  - sweep_axis: the value of each axis of each run of each sweep (long form);
 *  - sweep_point: each run of each sweep with its point as text;
 *  - sweep_pivot_<id>: per sweep, one column per axis (make_pivot).
 */
static int migrate_2_to_3(struct db *db, char *err)
{
	static const char ddl[] =
		"CREATE INDEX run_native ON run(trace_checksum, mode);\n"
		"CREATE VIEW run_overhead AS\n"
		"SELECT r.id AS run_id, r.trace_name AS trace_name, r.trace_checksum AS trace_checksum,\n"
		"	r.mode AS mode, r.params_json AS params_json, rc.value AS cycles,\n"
		"	n.id AS native_run_id, nc.value AS native_cycles,\n"
		"	100.0 * (rc.value - nc.value) / nc.value AS overhead_pct\n"
		"FROM run r\n"
		"JOIN run n ON n.id = (SELECT max(n2.id) FROM run n2\n"
		"	WHERE n2.trace_checksum = r.trace_checksum AND n2.mode = 'native'\n"
		"	AND n2.params_json = r.params_json AND n2.version = r.version)\n"
		"JOIN counter rc ON rc.run_id = r.id AND rc.name = 'cpu.cycles'\n"
		"JOIN counter nc ON nc.run_id = n.id AND nc.name = 'cpu.cycles'\n"
		"WHERE r.mode <> 'native';\n"
		"CREATE VIEW trace_overhead AS\n"
		"SELECT trace_name, trace_checksum, mode, count(*) AS configurations,\n"
		"	min(overhead_pct) AS min_overhead_pct, avg(overhead_pct) AS avg_overhead_pct,\n"
		"	max(overhead_pct) AS max_overhead_pct\n"
		"FROM run_overhead GROUP BY trace_checksum, trace_name, mode;\n"
		"CREATE VIEW sweep_axis AS\n"
		"SELECT s.id AS sweep_id, s.name AS sweep_name, sr.run_id AS run_id,\n"
		"	a.key AS axis_index, json_extract(a.value, '$.name') AS axis,\n"
		"	json_extract(r.params_json, '$.\"' || json_extract(a.value, '$.name') || '\"') AS value\n"
		"FROM sweep s JOIN json_each(s.grid, '$.axes') a\n"
		"JOIN sweep_run sr ON sr.sweep_id = s.id JOIN run r ON r.id = sr.run_id;\n"
		"CREATE VIEW sweep_point AS\n"
		"SELECT s.id AS sweep_id, s.name AS sweep_name, r.id AS run_id, r.trace_name AS trace_name,\n"
		"	r.mode AS mode,\n"
		"	(SELECT group_concat(x.axis || '=' || x.value, ' ') FROM (SELECT axis, value FROM sweep_axis x\n"
		"	 WHERE x.sweep_id = s.id AND x.run_id = r.id ORDER BY x.axis_index) x) AS point,\n"
		"	(SELECT c.value FROM counter c WHERE c.run_id = r.id AND c.name = 'cpu.cycles') AS cycles,\n"
		"	(SELECT o.overhead_pct FROM run_overhead o WHERE o.run_id = r.id) AS overhead_pct\n"
		"FROM sweep s JOIN sweep_run sr ON sr.sweep_id = s.id JOIN run r ON r.id = sr.run_id;\n";

	if (exec(db, ddl, "migrating schema 2 -> 3", err))
		return -1;
	return make_pivots(db, err);
}

/* migrations[v - 1] takes the schema from version v to v + 1. */
static int (*const migrations[DB_SCHEMA_VERSION - 1])(struct db *, char *) = {
	migrate_1_to_2,
	migrate_2_to_3,
};

/*
 * Read the schema version: DB_SCHEMA_VERSION or another positive number
 * from `meta`, 0 for a new (empty) database; -1 with err set on an SQLite
 * error or a database that is not a vtsim results database.
 */
static int64_t read_version(struct db *db, char *err)
{
	sqlite3_stmt *st = NULL;
	int64_t n_objects = 0, has_meta = 0, version = -1;
	int rc;

	rc = sqlite3_prepare_v2(db->sql,
				"SELECT count(*), coalesce(sum(type = 'table' AND name = 'meta'), 0)"
				" FROM sqlite_schema",
				-1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		n_objects = sqlite3_column_int64(st, 0);
		has_meta = sqlite3_column_int64(st, 1);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_OK) {
		set_err(err, db->path, "reading schema: %s", sqlite3_errmsg(db->sql));
		return -1;
	}
	if (n_objects == 0)
		return 0;
	if (!has_meta) {
		set_err(err, db->path, "not a vtsim results database (no meta table)");
		return -1;
	}

	rc = sqlite3_prepare_v2(db->sql,
				"SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'schema_version'",
				-1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			version = sqlite3_column_int64(st, 0);
			rc = SQLITE_OK;
		} else if (rc == SQLITE_DONE) {
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK) {
		set_err(err, db->path, "reading schema version: %s", sqlite3_errmsg(db->sql));
		return -1;
	}
	if (version < 1) {
		set_err(err, db->path, "not a vtsim results database (no valid schema_version in meta)");
		return -1;
	}
	if (version > DB_SCHEMA_VERSION) {
		set_err(err, db->path,
			"schema version %lld is newer than this vtsim supports (%d); use a newer vtsim",
			(long long)version, DB_SCHEMA_VERSION);
		return -1;
	}
	return version;
}

/* Create the schema in a new database, or upgrade an older one. */
static int setup_schema(struct db *db, char *err)
{
	char sql[128];
	int64_t version;

	if (exec(db, "BEGIN IMMEDIATE", "starting schema transaction", err))
		return -1;
	/* Again, under the write lock: another process may have created it. */
	version = read_version(db, err);
	if (version < 0)
		goto fail;
	if (version == DB_SCHEMA_VERSION) {
		rollback(db);
		return 0;
	}
	if (version == 0) {
		if (exec(db, schema_v1_sql, "creating schema", err) ||
		    exec(db, "INSERT INTO meta(key, value) VALUES('schema_version', 1)", "creating schema", err))
			goto fail;
		version = 1;
	}
	for (; version < DB_SCHEMA_VERSION; version++)
		if (migrations[version - 1](db, err))
			goto fail;
	snprintf(sql, sizeof(sql), "UPDATE meta SET value = %d WHERE key = 'schema_version'", DB_SCHEMA_VERSION);
	if (exec(db, sql, "upgrading schema", err) || exec(db, "COMMIT", "upgrading schema", err))
		goto fail;
	return 0;
fail:
	rollback(db);
	return -1;
}

static int prepare(struct db *db, sqlite3_stmt **st, const char *sql, char *err)
{
	if (sqlite3_prepare_v3(db->sql, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) !=
	    SQLITE_OK) {
		set_err(err, db->path, "preparing statement: %s", sqlite3_errmsg(db->sql));
		return -1;
	}
	return 0;
}

/*
 * Open (creating if needed) the results database at path: WAL mode, a 10 s
 * busy timeout, foreign keys on, schema created if the file is new. Returns
 * NULL with a one-line message naming the file in err if it cannot be
 * opened or written, is not a vtsim database, or has a newer schema.
 */
struct db *db_open(const char *path, char *err)
{
	struct db *db;
	int64_t version;
	int rc;

	if (err)
		err[0] = '\0';
	if (!path || !*path) {
		set_err(err, "(database)", "empty database path");
		return NULL;
	}
	db = calloc(1, sizeof(*db));
	if (!db || !(db->path = strdup(path))) {
		free(db);
		set_err(err, path, "out of memory");
		return NULL;
	}

	/* URI file names only so that db_merge can ATTACH any path. */
	rc = sqlite3_open_v2(path, &db->sql, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, NULL);
	if (rc != SQLITE_OK) {
		set_err(err, path, "%s",
			db->sql ? sqlite3_errmsg(db->sql) : sqlite3_errstr(rc));
		goto fail;
	}
	/* SQLite silently falls back to read-only for a write-protected file. */
	if (sqlite3_db_readonly(db->sql, "main") == 1) {
		set_err(err, path, "database file is not writable");
		goto fail;
	}
	sqlite3_extended_result_codes(db->sql, 1);
	sqlite3_busy_timeout(db->sql, DB_BUSY_TIMEOUT_MS);
	if (exec(db, "PRAGMA foreign_keys = ON", "enabling foreign keys", err))
		goto fail;

	/* Refuse a foreign or newer database before writing anything to it. */
	version = read_version(db, err);
	if (version < 0)
		goto fail;
	if (exec(db, "PRAGMA journal_mode = WAL", "setting WAL mode", err))
		goto fail;
	if (setup_schema(db, err))
		goto fail;

	if (prepare(db, &db->ins_run,
		    "INSERT INTO run(group_id, trace_path, trace_name, trace_checksum,"
		    " trace_format, mode, params_json, version, started_unix,"
		    " finished_unix, wall_seconds, status, sweep_id, config_key)"
		    " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'done', ?, ?)", err) ||
	    prepare(db, &db->ins_counter,
		    "INSERT INTO counter(run_id, name, value) VALUES(?, ?, ?)", err) ||
	    prepare(db, &db->ins_exit,
		    "INSERT INTO exit(run_id, reason, name, count, cycles) VALUES(?, ?, ?, ?, ?)",
		    err) ||
	    prepare(db, &db->ins_sample, "INSERT INTO sample(run_id, cycle, name, value) VALUES(?, ?, ?, ?)", err) ||
	    prepare(db, &db->get_counter,
		    "SELECT value FROM counter WHERE run_id = ? AND name = ?", err) ||
	    prepare(db, &db->count_runs, "SELECT count(*) FROM run", err) ||
	    prepare(db, &db->find_config, "SELECT min(id) FROM run WHERE config_key = ?", err) ||
	    prepare(db, &db->link_sweep, "INSERT OR IGNORE INTO sweep_run(sweep_id, run_id) VALUES(?, ?)", err))
		goto fail;
	return db;
fail:
	db_close(db);
	return NULL;
}

/* Step an INSERT to completion and reset it; 0 or -1 with err set. */
static int step_insert(struct db *db, sqlite3_stmt *st, const char *what, char *err)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE)
		set_err(err, db->path, "%s: %s", what, sqlite3_errmsg(db->sql));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int bind_u64(struct db *db, sqlite3_stmt *st, int col, uint64_t v, const char *what,
		    const char *name, char *err)
{
	if (v > (uint64_t)INT64_MAX) {
		set_err(err, db->path, "%s '%s': value %llu does not fit a signed 64-bit integer",
			what, name ? name : "(null)", (unsigned long long)v);
		return -1;
	}
	sqlite3_bind_int64(st, col, (sqlite3_int64)v);
	return 0;
}

/* Link run_id to sweep_id inside the caller's transaction; 0 or -1 with err. */
static int link_run(struct db *db, int64_t sweep_id, int64_t run_id, char *err)
{
	sqlite3_bind_int64(db->link_sweep, 1, sweep_id);
	sqlite3_bind_int64(db->link_sweep, 2, run_id);
	return step_insert(db, db->link_sweep, "linking run to sweep", err);
}

/* The lowest run id with configuration key key, 0 if none, -1 with err set. */
static int64_t find_config(struct db *db, const char *key, char *err)
{
	int64_t id = -1;
	sqlite3_bind_text(db->find_config, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(db->find_config) == SQLITE_ROW)
		id = sqlite3_column_int64(db->find_config, 0); /* min() of no row is NULL: 0 */
	else
		set_err(err, db->path, "looking up configuration %s: %s", key, sqlite3_errmsg(db->sql));
	sqlite3_reset(db->find_config);
	sqlite3_clear_bindings(db->find_config);
	return id;
}

/*
 * Store one run, its counters and its exits in one transaction (BEGIN
 * IMMEDIATE ... COMMIT); with once, nothing if its configuration key is
 * stored. Returns the run id (> 0), or -1 with a one-line message naming the
 * database file and the SQLite error in err; on error the transaction is
 * rolled back and nothing of the run remains.
 */
static int64_t store(struct db *db, const struct db_run *run, bool once, bool *stored, char *err)
{
	sqlite3_stmt *st;
	int64_t id;
	char key[DB_KEY_LEN];

	if (err)
		err[0] = '\0';
	*stored = false;
	if (!db || !run) {
		set_err(err, db ? db->path : "(database)", "no database or no run");
		return -1;
	}
	if ((run->n_counters && !run->counters) || (run->n_exits && !run->exits) ||
	    (run->n_samples && !run->samples)) {
		set_err(err, db->path, "storing run: counters, exits or samples missing");
		return -1;
	}
	if (db_config_key(run->version, run->trace_checksum, run->mode, run->params_json, key) < 0) {
		set_err(err, db->path, "storing run: out of memory");
		return -1;
	}
	if (exec(db, "BEGIN IMMEDIATE", "starting transaction", err))
		return -1;
	if (once) {
		id = find_config(db, key, err);
		if (id < 0)
			goto fail;
		if (id > 0) {
			if (run->sweep_id && link_run(db, run->sweep_id, id, err))
				goto fail;
			if (exec(db, "COMMIT", "committing run", err))
				goto fail;
			return id;
		}
	}

	st = db->ins_run;
	sqlite3_bind_text(st, 1, run->group_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, run->trace_path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, run->trace_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, run->trace_checksum, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, run->trace_format, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, run->mode, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, run->params_json, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, run->version, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, run->started_unix);
	sqlite3_bind_int64(st, 10, run->finished_unix);
	sqlite3_bind_double(st, 11, run->wall_seconds);
	if (run->sweep_id)
		sqlite3_bind_int64(st, 12, run->sweep_id);
	sqlite3_bind_text(st, 13, key, -1, SQLITE_STATIC);
	if (step_insert(db, st, "storing run", err))
		goto fail;
	id = sqlite3_last_insert_rowid(db->sql);

	st = db->ins_counter;
	for (size_t i = 0; i < run->n_counters; i++) {
		const struct db_counter *c = &run->counters[i];

		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, c->name, -1, SQLITE_STATIC);
		if (bind_u64(db, st, 3, c->value, "counter", c->name, err)) {
			sqlite3_clear_bindings(st);
			goto fail;
		}
		if (step_insert(db, st, "storing counters", err))
			goto fail;
	}

	st = db->ins_exit;
	for (size_t i = 0; i < run->n_exits; i++) {
		const struct db_exit *e = &run->exits[i];

		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)e->reason);
		sqlite3_bind_text(st, 3, e->name, -1, SQLITE_STATIC);
		if (bind_u64(db, st, 4, e->count, "exit count", e->name, err) ||
		    bind_u64(db, st, 5, e->cycles, "exit cycles", e->name, err)) {
			sqlite3_clear_bindings(st);
			goto fail;
		}
		if (step_insert(db, st, "storing exits", err))
			goto fail;
	}

	st = db->ins_sample;
	for (size_t i = 0; i < run->n_samples; i++) {
		const struct db_sample *x = &run->samples[i];

		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 3, x->name, -1, SQLITE_STATIC);
		if (bind_u64(db, st, 2, x->cycle, "sample cycle", x->name, err) ||
		    bind_u64(db, st, 4, x->value, "sample", x->name, err)) {
			sqlite3_clear_bindings(st);
			goto fail;
		}
		if (step_insert(db, st, "storing samples", err))
			goto fail;
	}

	if (run->sweep_id && link_run(db, run->sweep_id, id, err))
		goto fail;
	if (exec(db, "COMMIT", "committing run", err))
		goto fail;
	*stored = true;
	return id;
fail:
	rollback(db);
	return -1;
}

int64_t db_store_run(struct db *db, const struct db_run *run, char *err)
{
	bool stored;
	return store(db, run, false, &stored, err);
}

int64_t db_store_run_once(struct db *db, const struct db_run *run, bool *stored, char *err)
{
	return store(db, run, true, stored, err);
}

int64_t db_find_config(struct db *db, const char *key)
{
	return db ? find_config(db, key, db->errmsg) : -1;
}

int64_t db_sweep_open(struct db *db, const char *name, const char *grid_json, char *err)
{
	sqlite3_stmt *st = NULL;
	int64_t id = -1;

	if (exec(db, "BEGIN IMMEDIATE", "starting transaction", err))
		return -1;
	if (sqlite3_prepare_v2(db->sql,
			       "INSERT INTO sweep(name, grid) VALUES(?1, ?2)"
			       " ON CONFLICT(name) DO UPDATE SET grid = ?2",
			       -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, grid_json, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(db->sql, "SELECT id FROM sweep WHERE name = ?", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		goto fail;
	id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (make_pivot(db, id, err) || exec(db, "COMMIT", "registering sweep", err))
		goto fail_set;
	return id;
fail:
	set_err(err, db->path, "registering sweep '%s': %s", name, sqlite3_errmsg(db->sql));
fail_set:
	sqlite3_finalize(st);
	rollback(db);
	return -1;
}

int db_sweep_link(struct db *db, int64_t sweep_id, const int64_t *ids, size_t n, char *err)
{
	if (exec(db, "BEGIN IMMEDIATE", "starting transaction", err))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (link_run(db, sweep_id, ids[i], err)) {
			rollback(db);
			return -1;
		}
	if (exec(db, "COMMIT", "linking runs to sweep", err)) {
		rollback(db);
		return -1;
	}
	return 0;
}

/*
 * Read counter name of run run_id into *out. Returns 0 if found, 1 if the
 * run has no such counter, -1 on error (message in db_errmsg()).
 */
int db_run_counter(struct db *db, int64_t run_id, const char *name, uint64_t *out)
{
	sqlite3_stmt *st;
	int rc, ret;

	if (!db || !name || !out)
		return -1;
	st = db->get_counter;
	sqlite3_bind_int64(st, 1, run_id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = (uint64_t)sqlite3_column_int64(st, 0);
		ret = 0;
	} else if (rc == SQLITE_DONE) {
		ret = 1;
	} else {
		set_err(db->errmsg, db->path, "reading counter '%s' of run %lld: %s", name,
			(long long)run_id, sqlite3_errmsg(db->sql));
		ret = -1;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}

/* Number of runs stored, or -1 on error (message in db_errmsg()). */
int64_t db_run_count(struct db *db)
{
	int64_t n = -1;
	int rc;

	if (!db)
		return -1;
	rc = sqlite3_step(db->count_runs);
	if (rc == SQLITE_ROW)
		n = sqlite3_column_int64(db->count_runs, 0);
	else
		set_err(db->errmsg, db->path, "counting runs: %s", sqlite3_errmsg(db->sql));
	sqlite3_reset(db->count_runs);
	return n;
}

/* The last error of db_run_counter() or db_run_count(), or "". */
const char *db_errmsg(const struct db *db)
{
	return db ? db->errmsg : "no database";
}

/*
 * Create the directories leading to path, like `mkdir -p "$(dirname path)"`.
 * Returns 0 if they exist afterwards, -1 with a one-line message naming the
 * directory in err otherwise. A path without a '/' needs nothing.
 */
int db_ensure_parent_dir(const char *path, char *err)
{
	char *dir, *slash, *p, saved;
	struct stat sb;
	int ret = -1;

	if (err)
		err[0] = '\0';
	if (!path || !(slash = strrchr(path, '/')))
		return 0;
	dir = strndup(path, (size_t)(slash - path));
	if (!dir) {
		set_err(err, path, "out of memory");
		return -1;
	}
	/* Walk forward, creating each missing component; "a//b" and "/a" work. */
	p = dir;
	for (;;) {
		while (*p == '/')
			p++;
		while (*p && *p != '/')
			p++;
		saved = *p;
		*p = '\0';
		if (*dir && (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))) {
			if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
				set_err(err, dir, "cannot create directory: %s", strerror(errno));
				goto out;
			}
			if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
				set_err(err, dir, "not a directory");
				goto out;
			}
		}
		*p = saved;
		if (!*p)
			break;
	}
	ret = 0;
out:
	free(dir);
	return ret;
}

int64_t db_query(struct db *db, const char *sql, const char *const *params, int nparams, db_row_fn fn, void *ctx,
		 char *err)
{
	sqlite3_stmt *st = NULL;
	const char *tail = NULL;
	int64_t rows = 0;
	int rc;

	if (sqlite3_prepare_v2(db->sql, sql, -1, &st, &tail) != SQLITE_OK) {
		set_err(err, db->path, "query: %s", sqlite3_errmsg(db->sql));
		return -1;
	}
	if (!st) {
		set_err(err, db->path, "query: no statement");
		return -1;
	}
	while (tail && (*tail == ' ' || *tail == '\t' || *tail == '\n' || *tail == '\r' || *tail == ';'))
		tail++;
	if (tail && *tail) {
		set_err(err, db->path, "query: one statement only (more after '%.40s')", sqlite3_sql(st));
		sqlite3_finalize(st);
		return -1;
	}
	if (!sqlite3_stmt_readonly(st) || sqlite3_column_count(st) == 0) {
		set_err(err, db->path, "query: only a statement that reads rows is allowed");
		sqlite3_finalize(st);
		return -1;
	}
	for (int i = 0; i < nparams; i++)
		sqlite3_bind_text(st, i + 1, params[i], -1, SQLITE_STATIC);
	int ncol = sqlite3_column_count(st);
	const char **names = calloc((size_t)ncol, sizeof(*names)), **vals = calloc((size_t)ncol, sizeof(*vals));
	if (!names || !vals) {
		set_err(err, db->path, "query: out of memory");
		rows = -1;
		goto out;
	}
	for (int c = 0; c < ncol; c++)
		names[c] = sqlite3_column_name(st, c);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int c = 0; c < ncol; c++)
			vals[c] = (const char *)sqlite3_column_text(st, c);
		if (fn(ctx, ncol, names, vals)) {
			rows = -1;
			goto out;
		}
		rows++;
	}
	if (rc != SQLITE_DONE) {
		set_err(err, db->path, "query: %s", sqlite3_errmsg(db->sql));
		rows = -1;
	}
out:
	free(names);
	free(vals);
	sqlite3_finalize(st);
	return rows;
}

/* path percent-encoded for an SQLite URI ("file:" + path). */
static char *uri_path(const char *path)
{
	size_t n = strlen(path);
	char *u = malloc(5 + 3 * n + 1), *o = u;
	if (!u)
		return NULL;
	o += sprintf(o, "file:");
	for (const char *p = path; *p; p++) {
		if (*p == '%' || *p == '?' || *p == '#')
			o += sprintf(o, "%%%02X", (unsigned char)*p);
		else
			*o++ = *p;
	}
	*o = '\0';
	return u;
}

int db_merge(struct db *db, const char *in_path, int64_t *added, int64_t *present, char *err)
{
	struct stat a, b;
	char in_err[DB_ERR_LEN];
	sqlite3_stmt *st = NULL;
	int64_t max_before = 0, n_src = 0;
	char *uri = NULL;
	bool attached = false;

	*added = *present = 0;
	if (stat(in_path, &a) != 0) {
		set_err(err, in_path, "%s", strerror(errno));
		return -1;
	}
	if (stat(db->path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
		set_err(err, in_path, "is the output database itself");
		return -1;
	}
	/* Open it as any command would: refused if foreign or newer, upgraded
	 * if older (the upgrade keeps every row). */
	struct db *in = db_open(in_path, in_err);
	if (!in) {
		snprintf(err, DB_ERR_LEN, "%s", in_err);
		return -1;
	}
	db_close(in);
	if (!(uri = uri_path(in_path))) {
		set_err(err, in_path, "out of memory");
		return -1;
	}
	if (sqlite3_prepare_v2(db->sql, "ATTACH ? AS src", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, uri, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	st = NULL;
	attached = true;
	if (exec(db, "BEGIN IMMEDIATE", "starting merge", err))
		goto out;
	if (sqlite3_prepare_v2(db->sql, "SELECT (SELECT coalesce(max(id), 0) FROM main.run), (SELECT count(*) FROM src.run)",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		goto fail;
	max_before = sqlite3_column_int64(st, 0);
	n_src = sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	st = NULL;

	static const char runs_sql[] =
		/* The first run of each configuration key of IN that OUT lacks. */
		"INSERT INTO main.run(group_id, trace_path, trace_name, trace_checksum, trace_format, mode,\n"
		"	params_json, version, started_unix, finished_unix, wall_seconds, status, config_key)\n"
		"SELECT group_id, trace_path, trace_name, trace_checksum, trace_format, mode, params_json,\n"
		"	version, started_unix, finished_unix, wall_seconds, status, config_key FROM src.run s\n"
		"WHERE s.id = (SELECT min(s2.id) FROM src.run s2 WHERE s2.config_key = s.config_key)\n"
		"	AND NOT EXISTS (SELECT 1 FROM main.run m WHERE m.config_key = s.config_key)\n"
		"ORDER BY s.id;\n";
	if (exec(db, runs_sql, "merging runs", err))
		goto out;
	*added = sqlite3_changes(db->sql);
	*present = n_src - *added;
	char *rest = sqlite3_mprintf(
		/* Every run of IN -> its run in OUT; new = its rows are to be copied. */
		"CREATE TEMP TABLE merge_map(src_id INTEGER PRIMARY KEY, dst_id INTEGER NOT NULL, new INTEGER NOT NULL);\n"
		"INSERT INTO temp.merge_map SELECT s.id, m.id, m.id > %lld AND s.id =\n"
		"	(SELECT min(s2.id) FROM src.run s2 WHERE s2.config_key = s.config_key)\n"
		"FROM src.run s JOIN main.run m ON m.id = (SELECT min(m2.id) FROM main.run m2\n"
		"	WHERE m2.config_key = s.config_key);\n"
		"INSERT INTO main.counter(run_id, name, value) SELECT mm.dst_id, c.name, c.value\n"
		"	FROM src.counter c JOIN temp.merge_map mm ON mm.src_id = c.run_id WHERE mm.new;\n"
		"INSERT INTO main.exit(run_id, reason, name, count, cycles) SELECT mm.dst_id, e.reason, e.name,\n"
		"	e.count, e.cycles FROM src.exit e JOIN temp.merge_map mm ON mm.src_id = e.run_id WHERE mm.new;\n"
		"INSERT INTO main.sample(run_id, cycle, name, value) SELECT mm.dst_id, x.cycle, x.name, x.value\n"
		"	FROM src.sample x JOIN temp.merge_map mm ON mm.src_id = x.run_id WHERE mm.new ORDER BY x.rowid;\n"
		/* Sweeps by name (OUT's grid stays when both have the sweep). */
		"INSERT INTO main.sweep(name, grid) SELECT name, grid FROM src.sweep WHERE true\n"
		"	ON CONFLICT(name) DO NOTHING;\n"
		"INSERT OR IGNORE INTO main.sweep_run(sweep_id, run_id) SELECT ms.id, mm.dst_id\n"
		"	FROM src.sweep_run sr JOIN src.sweep ss ON ss.id = sr.sweep_id\n"
		"	JOIN main.sweep ms ON ms.name = ss.name JOIN temp.merge_map mm ON mm.src_id = sr.run_id;\n"
		"UPDATE main.run SET sweep_id = (SELECT ms.id FROM temp.merge_map mm JOIN src.run s ON s.id = mm.src_id\n"
		"	JOIN src.sweep ss ON ss.id = s.sweep_id JOIN main.sweep ms ON ms.name = ss.name\n"
		"	WHERE mm.dst_id = main.run.id AND mm.new) WHERE id > %lld;\n"
		"DROP TABLE temp.merge_map;\n",
		(long long)max_before, (long long)max_before);
	if (!rest) {
		set_err(err, db->path, "merging %s: out of memory", in_path);
		goto out;
	}
	int rc = exec(db, rest, "merging rows", err);
	sqlite3_free(rest);
	if (rc || make_pivots(db, err) || exec(db, "COMMIT", "committing merge", err))
		goto out;
	exec(db, "DETACH src", "detaching", err);
	free(uri);
	return 0;
fail:
	set_err(err, db->path, "merging %s: %s", in_path, sqlite3_errmsg(db->sql));
out:
	sqlite3_finalize(st);
	rollback(db);
	sqlite3_exec(db->sql, "DROP TABLE IF EXISTS temp.merge_map", NULL, NULL, NULL);
	if (attached)
		sqlite3_exec(db->sql, "DETACH src", NULL, NULL, NULL);
	free(uri);
	*added = *present = 0;
	return -1;
}

/* Close the database (NULL is allowed). Finalizes every statement. */
const char *const db_export_tables[] = {"run",          "counter",        "exit",        "sweep",
				       "sweep_run",    "sample",         "run_summary", "overhead",
				       "run_overhead", "trace_overhead", "sweep_axis",  "sweep_point", NULL};

static void csv_field(FILE *out, const char *v)
{
	if (!strpbrk(v, ",\"\r\n")) {
		fputs(v, out);
		return;
	}
	fputc('"', out);
	for (; *v; v++) {
		if (*v == '"')
			fputc('"', out);
		fputc(*v, out);
	}
	fputc('"', out);
}

int64_t db_export_csv(struct db *db, const char *table, FILE *out, char *err)
{
	bool known = false;
	for (int i = 0; db_export_tables[i]; i++)
		known |= !strcmp(db_export_tables[i], table);
	/* A sweep's pivot view, sweep_pivot_<id>, when it exists. */
	if (!known && !strncmp(table, "sweep_pivot_", 12) && table[12] && strlen(table) < 40 &&
	    strspn(table + 12, "0123456789") == strlen(table + 12)) {
		sqlite3_stmt *q;
		if (sqlite3_prepare_v2(db->sql, "SELECT 1 FROM sqlite_schema WHERE type = 'view' AND name = ?", -1, &q,
				       NULL) == SQLITE_OK) {
			sqlite3_bind_text(q, 1, table, -1, SQLITE_STATIC);
			known = sqlite3_step(q) == SQLITE_ROW;
		}
		sqlite3_finalize(q);
	}
	if (!known) {
		set_err(err, db->path, "no table or view '%s' to export", table);
		return -1;
	}
	/* The name is one of ours, so it can be spliced into the statement. */
	char sql[128];
	snprintf(sql, sizeof(sql), "SELECT * FROM %s", table);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL) != SQLITE_OK) {
		set_err(err, db->path, "export of %s: %s", table, sqlite3_errmsg(db->sql));
		return -1;
	}
	int ncol = sqlite3_column_count(st);
	for (int c = 0; c < ncol; c++) {
		if (c)
			fputc(',', out);
		csv_field(out, sqlite3_column_name(st, c));
	}
	fputc('\n', out);
	int64_t rows = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int c = 0; c < ncol; c++) {
			if (c)
				fputc(',', out);
			const unsigned char *v = sqlite3_column_text(st, c);
			if (v)
				csv_field(out, (const char *)v); /* NULL stays an empty field */
		}
		fputc('\n', out);
		rows++;
	}
	if (rc != SQLITE_DONE) {
		set_err(err, db->path, "export of %s: %s", table, sqlite3_errmsg(db->sql));
		rows = -1;
	}
	sqlite3_finalize(st);
	if (rows >= 0 && ferror(out)) {
		set_err(err, db->path, "export of %s: write error", table);
		rows = -1;
	}
	return rows;
}

void db_close(struct db *db)
{
	if (!db)
		return;
	sqlite3_finalize(db->ins_run);
	sqlite3_finalize(db->ins_counter);
	sqlite3_finalize(db->ins_exit);
	sqlite3_finalize(db->ins_sample);
	sqlite3_finalize(db->get_counter);
	sqlite3_finalize(db->count_runs);
	sqlite3_finalize(db->find_config);
	sqlite3_finalize(db->link_sweep);
	sqlite3_close(db->sql);
	free(db->path);
	free(db);
}
