/*
 * Unit tests for the results database (src/db/db.c). Every test works in
 * its own temporary directory and reads back with raw SQLite queries.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/db.h"

static char tmpdir[PATH_MAX];
static char dbpath[PATH_MAX + 16];

static void rm_tree(const char *path)
{
	struct stat sb;
	DIR *d;
	struct dirent *de;
	char sub[PATH_MAX];

	if (lstat(path, &sb) != 0)
		return;
	if (S_ISDIR(sb.st_mode)) {
		d = opendir(path);
		if (d) {
			while ((de = readdir(d))) {
				if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
					continue;
				snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
				rm_tree(sub);
			}
			closedir(d);
		}
		rmdir(path);
	} else {
		unlink(path);
	}
}

static void setup(void)
{
	const char *t = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/check_db.XXXXXX", t && *t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(dbpath, sizeof(dbpath), "%s/vtsim.db", tmpdir);
}

static void teardown(void)
{
	rm_tree(tmpdir);
}

/* Run one query on a raw connection; return column 0 of the first row. */
static int64_t q_int(const char *sql)
{
	sqlite3 *s;
	sqlite3_stmt *st;
	int64_t v;

	ck_assert_int_eq(sqlite3_open_v2(dbpath, &s, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_msg(sqlite3_prepare_v2(s, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
		      sqlite3_errmsg(s));
	ck_assert_msg(sqlite3_step(st) == SQLITE_ROW, "%s: no row", sql);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(s);
	return v;
}

static double q_real(const char *sql)
{
	sqlite3 *s;
	sqlite3_stmt *st;
	double v;

	ck_assert_int_eq(sqlite3_open_v2(dbpath, &s, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_msg(sqlite3_prepare_v2(s, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
		      sqlite3_errmsg(s));
	ck_assert_msg(sqlite3_step(st) == SQLITE_ROW, "%s: no row", sql);
	ck_assert_int_eq(sqlite3_column_type(st, 0), SQLITE_FLOAT);
	v = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(s);
	return v;
}

/* Column 0 of the first row as text, into buf. */
static const char *q_text(const char *sql, char *buf, size_t len)
{
	sqlite3 *s;
	sqlite3_stmt *st;
	const unsigned char *t;

	ck_assert_int_eq(sqlite3_open_v2(dbpath, &s, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_msg(sqlite3_prepare_v2(s, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
		      sqlite3_errmsg(s));
	ck_assert_msg(sqlite3_step(st) == SQLITE_ROW, "%s: no row", sql);
	t = sqlite3_column_text(st, 0);
	snprintf(buf, len, "%s", t ? (const char *)t : "(null)");
	sqlite3_finalize(st);
	sqlite3_close(s);
	return buf;
}

/* Execute SQL on a raw read-write connection (to build odd databases). */
static void raw_exec(const char *sql)
{
	sqlite3 *s;
	char *msg = NULL;

	ck_assert_int_eq(sqlite3_open(dbpath, &s), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(s, sql, NULL, NULL, &msg) == SQLITE_OK, "%s: %s", sql,
		      msg ? msg : "?");
	sqlite3_free(msg);
	sqlite3_close(s);
}

static const struct db_counter base_counters[] = {
	{"cpu.cycles", 123456789},
	{"cpu.instructions", 1000000},
	{"walk.ept.refs", UINT64_C(4611686018427387904)}, /* 2^62 */
	{"vmx.exits", 10},
};

static const struct db_exit base_exits[] = {
	{48, "EPT_VIOLATION", 7, 7000},
	{10, "CPUID", 3, 300},
};

static struct db_run make_run(const char *mode, const char *group, const char *checksum)
{
	struct db_run r = {
		.trace_path = "traces/ls.lackey.zst",
		.trace_name = "ls.lackey.zst",
		.trace_checksum = checksum,
		.trace_format = "lackey+zstd",
		.mode = mode,
		.params_json = "{\"tlb.l2.entries\":1536}",
		.version = "0.1.0",
		.group_id = group,
		.started_unix = 1700000000,
		.finished_unix = 1700000003,
		.wall_seconds = 2.5,
		.counters = base_counters,
		.n_counters = sizeof(base_counters) / sizeof(base_counters[0]),
		.exits = base_exits,
		.n_exits = sizeof(base_exits) / sizeof(base_exits[0]),
	};
	return r;
}

static void assert_no_rows(void)
{
	ck_assert_int_eq(q_int("SELECT count(*) FROM run"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM counter"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM exit"), 0);
}

START_TEST(test_db_store_reads_back)
{
	char err[DB_ERR_LEN], buf[256], key[DB_KEY_LEN];
	struct db *db = db_open(dbpath, err);
	struct db_run r = make_run("ept", "g1", "0123456789abcdef");
	uint64_t v = 0;
	int64_t id;

	ck_assert_msg(db != NULL, "%s", err);
	id = db_store_run(db, &r, err);
	ck_assert_msg(id > 0, "%s", err);

	ck_assert_int_eq(q_int("SELECT CAST(value AS INTEGER) FROM meta"
			       " WHERE key = 'schema_version'"), 3);
	ck_assert_str_eq(q_text("PRAGMA journal_mode", buf, sizeof(buf)), "wal");
	ck_assert_int_eq(q_int("SELECT count(*) FROM run"), 1);
	ck_assert_int_eq(q_int("SELECT id FROM run"), id);
	ck_assert_str_eq(q_text("SELECT trace_path FROM run", buf, sizeof(buf)),
			 "traces/ls.lackey.zst");
	ck_assert_str_eq(q_text("SELECT trace_name FROM run", buf, sizeof(buf)), "ls.lackey.zst");
	ck_assert_str_eq(q_text("SELECT trace_checksum FROM run", buf, sizeof(buf)),
			 "0123456789abcdef");
	ck_assert_str_eq(q_text("SELECT trace_format FROM run", buf, sizeof(buf)), "lackey+zstd");
	ck_assert_str_eq(q_text("SELECT mode FROM run", buf, sizeof(buf)), "ept");
	ck_assert_str_eq(q_text("SELECT params_json FROM run", buf, sizeof(buf)),
			 "{\"tlb.l2.entries\":1536}");
	ck_assert_str_eq(q_text("SELECT version FROM run", buf, sizeof(buf)), "0.1.0");
	ck_assert_str_eq(q_text("SELECT group_id FROM run", buf, sizeof(buf)), "g1");
	ck_assert_str_eq(q_text("SELECT status FROM run", buf, sizeof(buf)), "done");
	ck_assert_int_eq(q_int("SELECT sweep_id IS NULL FROM run"), 1);
	ck_assert_int_eq(db_config_key("0.1.0", "0123456789abcdef", "ept", "{\"tlb.l2.entries\":1536}", key), 0);
	ck_assert_str_eq(q_text("SELECT config_key FROM run", buf, sizeof(buf)), key);
	ck_assert_int_eq(q_int("SELECT started_unix FROM run"), 1700000000);
	ck_assert_int_eq(q_int("SELECT finished_unix FROM run"), 1700000003);
	ck_assert_double_eq(q_real("SELECT wall_seconds FROM run"), 2.5);

	ck_assert_int_eq(q_int("SELECT count(*) FROM counter"), 4);
	ck_assert_int_eq(q_int("SELECT value FROM counter WHERE name = 'cpu.cycles'"), 123456789);
	ck_assert_int_eq(q_int("SELECT value FROM counter WHERE name = 'cpu.instructions'"),
			 1000000);
	ck_assert_int_eq(q_int("SELECT value FROM counter WHERE name = 'walk.ept.refs'"),
			 INT64_C(4611686018427387904));
	ck_assert_int_eq(q_int("SELECT count(*) FROM counter WHERE run_id <> (SELECT id FROM run)"),
			 0);

	ck_assert_int_eq(q_int("SELECT count(*) FROM exit"), 2);
	ck_assert_str_eq(q_text("SELECT name FROM exit WHERE reason = 48", buf, sizeof(buf)),
			 "EPT_VIOLATION");
	ck_assert_int_eq(q_int("SELECT count FROM exit WHERE reason = 48"), 7);
	ck_assert_int_eq(q_int("SELECT cycles FROM exit WHERE reason = 48"), 7000);
	ck_assert_int_eq(q_int("SELECT count FROM exit WHERE reason = 10"), 3);
	ck_assert_int_eq(q_int("SELECT cycles FROM exit WHERE reason = 10"), 300);

	ck_assert_int_eq(q_int("SELECT cycles FROM run_summary"), 123456789);
	ck_assert_int_eq(q_int("SELECT instructions FROM run_summary"), 1000000);
	ck_assert_int_eq(q_int("SELECT exits FROM run_summary"), 10);
	ck_assert_int_eq(q_int("SELECT count(*) FROM sample"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM sweep"), 0);

	/* The read helpers. */
	ck_assert_int_eq(db_run_counter(db, id, "walk.ept.refs", &v), 0);
	ck_assert_uint_eq(v, UINT64_C(4611686018427387904));
	ck_assert_int_eq(db_run_counter(db, id, "no.such.counter", &v), 1);
	ck_assert_int_eq(db_run_counter(db, id + 1, "cpu.cycles", &v), 1);
	ck_assert_int_eq(db_run_count(db), 1);
	db_close(db);
}
END_TEST

START_TEST(test_db_overhead_view)
{
	char err[DB_ERR_LEN], buf[64];
	struct db *db = db_open(dbpath, err);
	struct db_counter nc[] = {{"cpu.cycles", 1000000}, {"cpu.instructions", 500000}};
	struct db_counter ec[] = {{"cpu.cycles", 1234567}, {"cpu.instructions", 500000}};
	struct db_run native = make_run("native", "cmp-1", "00000000000000aa");
	struct db_run ept = make_run("ept", "cmp-1", "00000000000000aa");
	struct db_run other_group = make_run("ept", "cmp-2", "00000000000000aa");
	struct db_run other_trace = make_run("ept", "cmp-1", "00000000000000bb");
	struct db_run no_group = make_run("ept", NULL, "00000000000000aa");
	int64_t nid, eid;

	ck_assert_msg(db != NULL, "%s", err);
	native.counters = nc;
	native.n_counters = 2;
	native.exits = NULL;
	native.n_exits = 0;
	ept.counters = ec;
	ept.n_counters = 2;
	other_group.counters = ec;
	other_group.n_counters = 2;
	other_trace.counters = ec;
	other_trace.n_counters = 2;
	no_group.counters = ec;
	no_group.n_counters = 2;

	nid = db_store_run(db, &native, err);
	ck_assert_msg(nid > 0, "%s", err);
	eid = db_store_run(db, &ept, err);
	ck_assert_msg(eid > nid, "%s", err);
	ck_assert_msg(db_store_run(db, &other_group, err) > 0, "%s", err);
	ck_assert_msg(db_store_run(db, &other_trace, err) > 0, "%s", err);
	ck_assert_msg(db_store_run(db, &no_group, err) > 0, "%s", err);
	ck_assert_int_eq(db_run_count(db), 5);
	db_close(db);

	/* Only the ept run of cmp-1 on trace aa has a native baseline. */
	ck_assert_int_eq(q_int("SELECT count(*) FROM overhead"), 1);
	ck_assert_int_eq(q_int("SELECT run_id FROM overhead"), eid);
	ck_assert_int_eq(q_int("SELECT native_run_id FROM overhead"), nid);
	ck_assert_str_eq(q_text("SELECT mode FROM overhead", buf, sizeof(buf)), "ept");
	ck_assert_int_eq(q_int("SELECT cycles FROM overhead"), 1234567);
	ck_assert_int_eq(q_int("SELECT native_cycles FROM overhead"), 1000000);
	/* 100 * (1234567 - 1000000) / 1000000 = 23.4567 */
	ck_assert_double_eq_tol(q_real("SELECT overhead_pct FROM overhead"), 23.4567, 1e-12);
	ck_assert_double_eq(q_real("SELECT overhead_pct FROM overhead"),
			    100.0 * (1234567.0 - 1000000.0) / 1000000.0);

	/* The native run itself has 0 exits in run_summary, not NULL. */
	snprintf(buf, sizeof(buf), "SELECT exits FROM run_summary WHERE id = %lld",
		 (long long)nid);
	ck_assert_int_eq(q_int(buf), 0);
}
END_TEST

START_TEST(test_db_open_unwritable)
{
	char err[DB_ERR_LEN], path[PATH_MAX + 32];
	FILE *f;
	struct db *db;

	db = db_open("/proc/nonexistent/x.db", err);
	ck_assert_ptr_null(db);
	ck_assert_msg(strstr(err, "/proc/nonexistent/x.db") != NULL, "%s", err);
	ck_assert_ptr_null(strchr(err, '\n'));

	/* A directory component that is a regular file. */
	snprintf(path, sizeof(path), "%s/file", tmpdir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/file/x.db", tmpdir);
	db = db_open(path, err);
	ck_assert_ptr_null(db);
	ck_assert_msg(strstr(err, path) != NULL, "%s", err);
	ck_assert_msg(strstr(err, "unable to open database file") != NULL, "%s", err);

	/* A missing directory is the caller's job, not db_open's. */
	snprintf(path, sizeof(path), "%s/results/vtsim.db", tmpdir);
	db = db_open(path, err);
	ck_assert_ptr_null(db);
	ck_assert_msg(strstr(err, path) != NULL, "%s", err);
}
END_TEST

START_TEST(test_db_store_all_or_nothing)
{
	char err[DB_ERR_LEN];
	struct db *db = db_open(dbpath, err);
	struct db_counter dup_c[] = {{"cpu.cycles", 1}, {"tlb.l2.miss", 2}, {"cpu.cycles", 3}};
	struct db_exit dup_e[] = {{48, "EPT_VIOLATION", 1, 10}, {48, "EPT_VIOLATION", 2, 20}};
	struct db_run r = make_run("ept", "g", "0123456789abcdef");

	ck_assert_msg(db != NULL, "%s", err);

	/* Two counters of one name: the run, its first counters, nothing stays. */
	r.counters = dup_c;
	r.n_counters = 3;
	ck_assert_int_eq(db_store_run(db, &r, err), -1);
	ck_assert_msg(strstr(err, dbpath) != NULL, "%s", err);
	ck_assert_msg(strstr(err, "UNIQUE constraint failed") != NULL, "%s", err);
	ck_assert_ptr_null(strchr(err, '\n'));
	assert_no_rows();

	/* Two exits of one reason: the counters already inserted go too. */
	r = make_run("ept", "g", "0123456789abcdef");
	r.exits = dup_e;
	r.n_exits = 2;
	ck_assert_int_eq(db_store_run(db, &r, err), -1);
	ck_assert_msg(strstr(err, "UNIQUE constraint failed") != NULL, "%s", err);
	assert_no_rows();

	/* A missing required field. */
	r = make_run("ept", "g", "0123456789abcdef");
	r.trace_path = NULL;
	ck_assert_int_eq(db_store_run(db, &r, err), -1);
	ck_assert_msg(strstr(err, "NOT NULL constraint failed") != NULL, "%s", err);
	assert_no_rows();

	/* A value SQLite cannot hold as a signed 64-bit integer. */
	r = make_run("ept", "g", "0123456789abcdef");
	dup_c[2].name = "walk.count";
	dup_c[2].value = UINT64_MAX;
	r.counters = dup_c;
	r.n_counters = 3;
	ck_assert_int_eq(db_store_run(db, &r, err), -1);
	ck_assert_msg(strstr(err, "walk.count") != NULL, "%s", err);
	assert_no_rows();

	/* The connection is still usable afterwards. */
	r = make_run("ept", "g", "0123456789abcdef");
	ck_assert_msg(db_store_run(db, &r, err) > 0, "%s", err);
	ck_assert_int_eq(db_run_count(db), 1);
	db_close(db);
	ck_assert_int_eq(q_int("SELECT count(*) FROM counter"), 4);
	ck_assert_int_eq(q_int("SELECT count(*) FROM exit"), 2);
}
END_TEST

START_TEST(test_db_newer_schema_refused)
{
	char err[DB_ERR_LEN], buf[64];
	struct db *db;

	raw_exec("CREATE TABLE meta (key TEXT PRIMARY KEY, value NOT NULL);"
		 "INSERT INTO meta VALUES('schema_version', 99);");
	db = db_open(dbpath, err);
	ck_assert_ptr_null(db);
	ck_assert_msg(strstr(err, dbpath) != NULL, "%s", err);
	ck_assert_msg(strstr(err, "schema version 99 is newer") != NULL, "%s", err);
	/* Nothing was written: not even the journal mode changed. */
	ck_assert_str_eq(q_text("PRAGMA journal_mode", buf, sizeof(buf)), "delete");
	ck_assert_int_eq(q_int("SELECT count(*) FROM sqlite_schema"), 2);
}
END_TEST

START_TEST(test_db_foreign_file_refused)
{
	char err[DB_ERR_LEN];
	struct db *db;
	FILE *f;

	raw_exec("CREATE TABLE foo (x);");
	db = db_open(dbpath, err);
	ck_assert_ptr_null(db);
	ck_assert_msg(strstr(err, "not a vtsim results database") != NULL, "%s", err);

	/* Not an SQLite file at all. */
	f = fopen(dbpath, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 100; i++)
		fputs("this is not a database\n", f);
	fclose(f);
	db = db_open(dbpath, err);
	ck_assert_ptr_null(db);
	ck_assert_msg(strstr(err, dbpath) != NULL, "%s", err);
	ck_assert_msg(strstr(err, "not a database") != NULL, "%s", err);
}
END_TEST

START_TEST(test_db_reopen_keeps_runs)
{
	char err[DB_ERR_LEN];
	struct db_run r = make_run("native", "g", "0123456789abcdef");
	struct db *db = db_open(dbpath, err);
	int64_t id1, id2;
	uint64_t v;

	ck_assert_msg(db != NULL, "%s", err);
	id1 = db_store_run(db, &r, err);
	ck_assert_msg(id1 > 0, "%s", err);
	db_close(db);

	db = db_open(dbpath, err);
	ck_assert_msg(db != NULL, "%s", err);
	ck_assert_int_eq(db_run_count(db), 1);
	id2 = db_store_run(db, &r, err);
	ck_assert_msg(id2 > id1, "%s", err);
	ck_assert_int_eq(db_run_counter(db, id1, "cpu.cycles", &v), 0);
	ck_assert_uint_eq(v, 123456789);
	db_close(db);
	ck_assert_int_eq(q_int("SELECT count(*) FROM meta"), 1);

	/* Deleting a run deletes its rows (foreign keys, ON DELETE CASCADE). */
	raw_exec("PRAGMA foreign_keys = ON; DELETE FROM run WHERE id = 1;");
	ck_assert_int_eq(q_int("SELECT count(*) FROM counter"), 4);
	ck_assert_int_eq(q_int("SELECT count(*) FROM exit"), 2);
}
END_TEST

START_TEST(test_db_ensure_parent_dir)
{
	char err[DB_ERR_LEN], path[PATH_MAX + 32];
	struct stat sb;
	struct db *db;
	FILE *f;

	ck_assert_int_eq(db_ensure_parent_dir("vtsim.db", err), 0);

	snprintf(path, sizeof(path), "%s/results/vtsim.db", tmpdir);
	ck_assert_msg(db_ensure_parent_dir(path, err) == 0, "%s", err);
	snprintf(path, sizeof(path), "%s/results", tmpdir);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert(S_ISDIR(sb.st_mode));
	snprintf(path, sizeof(path), "%s/results/vtsim.db", tmpdir);
	ck_assert_msg(db_ensure_parent_dir(path, err) == 0, "%s", err); /* exists: fine */
	db = db_open(path, err);
	ck_assert_msg(db != NULL, "%s", err);
	db_close(db);

	/* Several levels. */
	snprintf(path, sizeof(path), "%s/a//b/c/vtsim.db", tmpdir);
	ck_assert_msg(db_ensure_parent_dir(path, err) == 0, "%s", err);
	snprintf(path, sizeof(path), "%s/a/b/c", tmpdir);
	ck_assert_int_eq(stat(path, &sb), 0);

	/* A component that is a file. */
	snprintf(path, sizeof(path), "%s/file", tmpdir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/file/sub/vtsim.db", tmpdir);
	ck_assert_int_eq(db_ensure_parent_dir(path, err), -1);
	snprintf(path, sizeof(path), "%s/file", tmpdir);
	ck_assert_msg(strstr(err, path) != NULL, "%s", err);

	ck_assert_int_eq(db_ensure_parent_dir("/proc/nonexistent/x.db", err), -1);
	ck_assert_msg(strstr(err, "/proc/nonexistent") != NULL, "%s", err);
}
END_TEST

#define N_WRITERS 3
#define RUNS_PER_WRITER 20

/* Several processes storing runs at once all succeed (WAL, BEGIN IMMEDIATE, busy timeout). */
START_TEST(test_db_concurrent_writers)
{
	char err[DB_ERR_LEN];
	struct db *db = db_open(dbpath, err);
	pid_t pids[N_WRITERS];
	int status;

	ck_assert_msg(db != NULL, "%s", err);
	db_close(db);
	for (int w = 0; w < N_WRITERS; w++) {
		pids[w] = fork();
		ck_assert_int_ge(pids[w], 0);
		if (pids[w] == 0) {
			struct db_run r = make_run("ept", "g", "0123456789abcdef");
			struct db *cdb = db_open(dbpath, err);
			int bad = !cdb;

			for (int i = 0; cdb && i < RUNS_PER_WRITER; i++)
				if (db_store_run(cdb, &r, err) < 0)
					bad = 1;
			if (bad)
				fprintf(stderr, "writer %d: %s\n", w, err);
			db_close(cdb);
			_exit(bad);
		}
	}
	for (int w = 0; w < N_WRITERS; w++) {
		ck_assert_int_eq(waitpid(pids[w], &status, 0), pids[w]);
		ck_assert(WIFEXITED(status));
		ck_assert_int_eq(WEXITSTATUS(status), 0);
	}
	ck_assert_int_eq(q_int("SELECT count(*) FROM run"), N_WRITERS * RUNS_PER_WRITER);
	ck_assert_int_eq(q_int("SELECT count(*) FROM counter"), N_WRITERS * RUNS_PER_WRITER * 4);
}
END_TEST

/* The version 1 schema as vtsim 0.1.0 wrote it (before migrations). */
static const char v1_schema[] =
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value NOT NULL);"
	"CREATE TABLE sweep (id INTEGER PRIMARY KEY, name TEXT, grid TEXT);"
	"CREATE TABLE run (id INTEGER PRIMARY KEY, group_id TEXT, sweep_id INTEGER REFERENCES sweep(id),"
	" trace_path TEXT NOT NULL, trace_name TEXT NOT NULL, trace_checksum TEXT NOT NULL,"
	" trace_format TEXT NOT NULL, mode TEXT NOT NULL, params_json TEXT NOT NULL, version TEXT NOT NULL,"
	" started_unix INTEGER NOT NULL, finished_unix INTEGER NOT NULL, wall_seconds REAL NOT NULL,"
	" status TEXT NOT NULL DEFAULT 'done');"
	"CREATE INDEX run_group ON run(group_id, trace_checksum, mode);"
	"CREATE INDEX run_sweep ON run(sweep_id);"
	"CREATE TABLE counter (run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,"
	" name TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (run_id, name)) WITHOUT ROWID;"
	"CREATE INDEX counter_name ON counter(name);"
	"CREATE TABLE exit (run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE, reason INTEGER NOT NULL,"
	" name TEXT NOT NULL, count INTEGER NOT NULL, cycles INTEGER NOT NULL,"
	" PRIMARY KEY (run_id, reason)) WITHOUT ROWID;"
	"CREATE TABLE sample (run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,"
	" cycle INTEGER NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL);"
	"CREATE INDEX sample_run ON sample(run_id, name, cycle);"
	"CREATE VIEW run_summary AS SELECT r.id AS id FROM run r;"
	"CREATE VIEW overhead AS SELECT r.id AS run_id FROM run r;"
	"INSERT INTO meta VALUES('schema_version', 1);";

START_TEST(test_db_migrates_v1)
{
	char err[DB_ERR_LEN], buf[64], k1[DB_KEY_LEN], k2[DB_KEY_LEN];
	struct db *db;

	raw_exec(v1_schema);
	raw_exec("INSERT INTO run VALUES(1, 'g', NULL, 't/a', 'a', '00000000000000aa', 'lackey', 'native',"
		 " '{\"x\":1}', '0.1.0', 1, 2, 0.5, 'done');"
		 "INSERT INTO run VALUES(2, 'g', NULL, 't/a', 'a', '00000000000000aa', 'lackey', 'ept',"
		 " '{\"x\":1}', '0.1.0', 1, 2, 0.5, 'done');"
		 "INSERT INTO counter VALUES(1, 'cpu.cycles', 100), (2, 'cpu.cycles', 150);");
	db = db_open(dbpath, err);
	ck_assert_msg(db != NULL, "%s", err);
	db_close(db);
	ck_assert_int_eq(q_int("SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'schema_version'"), 3);
	/* The runs kept their rows and got their configuration keys. */
	ck_assert_int_eq(q_int("SELECT count(*) FROM run"), 2);
	ck_assert_int_eq(q_int("SELECT sum(value) FROM counter"), 250);
	ck_assert_int_eq(db_config_key("0.1.0", "00000000000000aa", "native", "{\"x\":1}", k1), 0);
	ck_assert_int_eq(db_config_key("0.1.0", "00000000000000aa", "ept", "{\"x\":1}", k2), 0);
	ck_assert_str_eq(q_text("SELECT config_key FROM run WHERE id = 1", buf, sizeof(buf)), k1);
	ck_assert_str_eq(q_text("SELECT config_key FROM run WHERE id = 2", buf, sizeof(buf)), k2);
	ck_assert_int_eq(q_int("SELECT count(*) FROM sqlite_schema WHERE name IN"
			       " ('sweep_run', 'run_config', 'sweep_name', 'sweep_run_run')"), 4);
	/* ... and version 3's views, which pair the migrated ept run with its native one. */
	ck_assert_int_eq(q_int("SELECT native_run_id FROM run_overhead WHERE run_id = 2"), 1);
	ck_assert_double_eq(q_real("SELECT overhead_pct FROM run_overhead WHERE run_id = 2"), 50.0);
	/* A store after the upgrade finds the migrated run by its key. */
	db = db_open(dbpath, err);
	ck_assert_msg(db != NULL, "%s", err);
	ck_assert_int_eq(db_find_config(db, k2), 2);
	db_close(db);
}
END_TEST

START_TEST(test_db_migration_is_all_or_nothing)
{
	char err[DB_ERR_LEN];
	struct db *db;

	/* A v1 file that the migration cannot upgrade (a sweep name twice
	 * breaks the new unique index): refused, and left as version 1. */
	raw_exec(v1_schema);
	raw_exec("INSERT INTO sweep VALUES(1, 's', '{}'), (2, 's', '{}');");
	db = db_open(dbpath, err);
	ck_assert_ptr_null(db);
	ck_assert_msg(strstr(err, "migrating schema 1 -> 2") != NULL, "%s", err);
	ck_assert_int_eq(q_int("SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'schema_version'"), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM sqlite_schema WHERE name = 'sweep_run'"), 0);
	ck_assert_int_eq(q_int("SELECT count(*) FROM pragma_table_info('run') WHERE name = 'config_key'"), 0);
}
END_TEST

START_TEST(test_db_config_key)
{
	char a[DB_KEY_LEN], b[DB_KEY_LEN], c[DB_KEY_LEN];

	ck_assert_int_eq(db_config_key("0.1.0", "0123456789abcdef", "ept", "{}", a), 0);
	ck_assert_int_eq(db_config_key("0.1.0", "0123456789abcdef", "ept", "{}", b), 0);
	ck_assert_str_eq(a, b);
	ck_assert_uint_eq(strlen(a), 32);
	ck_assert_uint_eq(strspn(a, "0123456789abcdef"), 32);
	/* Every input counts, and the parts are separated. */
	ck_assert_int_eq(db_config_key("0.1.1", "0123456789abcdef", "ept", "{}", c), 0);
	ck_assert_str_ne(a, c);
	ck_assert_int_eq(db_config_key("0.1.0", "0123456789abcdef", "native", "{}", c), 0);
	ck_assert_str_ne(a, c);
	ck_assert_int_eq(db_config_key("0.1.0", "0123456789abcdee", "ept", "{}", c), 0);
	ck_assert_str_ne(a, c);
	ck_assert_int_eq(db_config_key("0.1.0", "0123456789abcdef", "ept", "{ }", c), 0);
	ck_assert_str_ne(a, c);
	ck_assert_int_eq(db_config_key("ab", "c", "", "", b), 0);
	ck_assert_int_eq(db_config_key("a", "bc", "", "", c), 0);
	ck_assert_str_ne(b, c);
}
END_TEST

START_TEST(test_db_store_once_and_sweeps)
{
	char err[DB_ERR_LEN], buf[64];
	struct db *db = db_open(dbpath, err);
	struct db_run r = make_run("ept", "g1", "0123456789abcdef");
	bool stored = true;
	int64_t sweep, id1, id2, id3;

	ck_assert_msg(db != NULL, "%s", err);
	sweep = db_sweep_open(db, "s1", "{\"a\":1}", err);
	ck_assert_msg(sweep > 0, "%s", err);
	r.sweep_id = sweep;
	id1 = db_store_run_once(db, &r, &stored, err);
	ck_assert_msg(id1 > 0, "%s", err);
	ck_assert(stored);
	/* The same configuration again: not stored, the same id. */
	id2 = db_store_run_once(db, &r, &stored, err);
	ck_assert_int_eq(id2, id1);
	ck_assert(!stored);
	ck_assert_int_eq(q_int("SELECT count(*) FROM run"), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM counter"), 4);
	/* db_store_run stores every time (vtsim run twice is two runs). */
	r.sweep_id = 0;
	id3 = db_store_run(db, &r, err);
	ck_assert_int_eq(id3, id1 + 1);
	ck_assert_int_eq(db_find_config(db, q_text("SELECT config_key FROM run WHERE id = 2", buf, sizeof(buf))),
			 id1);
	ck_assert_int_eq(db_find_config(db, "00000000000000000000000000000000"), 0);
	/* The sweep: reopened by name with a new grid, same id. */
	ck_assert_int_eq(db_sweep_open(db, "s1", "{\"a\":2}", err), sweep);
	ck_assert_int_eq(q_int("SELECT count(*) FROM sweep"), 1);
	ck_assert_str_eq(q_text("SELECT grid FROM sweep", buf, sizeof(buf)), "{\"a\":2}");
	ck_assert_int_eq(db_sweep_open(db, "s2", "{}", err), sweep + 1);
	/* Links: the run stored for s1 is in s1; links are idempotent. */
	ck_assert_int_eq(q_int("SELECT count(*) FROM sweep_run"), 1);
	ck_assert_int_eq(q_int("SELECT sweep_id FROM run WHERE id = 1"), sweep);
	int64_t ids[2] = {id1, id3};
	ck_assert_msg(db_sweep_link(db, sweep + 1, ids, 2, err) == 0, "%s", err);
	ck_assert_msg(db_sweep_link(db, sweep + 1, ids, 2, err) == 0, "%s", err);
	ck_assert_int_eq(q_int("SELECT count(*) FROM sweep_run"), 3);
	/* A store once into s2 of the stored configuration links it there. */
	r.sweep_id = sweep;
	ck_assert_int_eq(db_store_run_once(db, &r, &stored, err), id1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM sweep_run"), 3);
	/* Linking a run that does not exist fails and links nothing. */
	int64_t bad[2] = {id1, 999}, s3 = db_sweep_open(db, "s3", "{}", err);
	ck_assert_int_eq(s3, sweep + 2);
	ck_assert_int_eq(db_sweep_link(db, s3, bad, 2, err), -1);
	ck_assert_msg(strstr(err, "FOREIGN KEY") != NULL, "%s", err);
	ck_assert_int_eq(q_int("SELECT count(*) FROM sweep_run"), 3);
	db_close(db);
}
END_TEST

/* Store run mode of trace checksum with params json and cpu.cycles cycles. */
static int64_t store_cfg(struct db *db, const char *mode, const char *checksum, const char *json, uint64_t cycles,
			 int64_t sweep)
{
	char err[DB_ERR_LEN];
	struct db_counter c[2] = {{"cpu.cycles", cycles}, {"walk.count", cycles / 100}};
	struct db_run r = make_run(mode, NULL, checksum);
	bool stored;
	r.params_json = json;
	r.counters = c;
	r.n_counters = 2;
	r.sweep_id = sweep;
	int64_t id = db_store_run_once(db, &r, &stored, err);
	ck_assert_msg(id > 0, "%s", err);
	return id;
}

START_TEST(test_db_views_v3)
{
	char err[DB_ERR_LEN], buf[256];
	struct db *db = db_open(dbpath, err);
	ck_assert_msg(db != NULL, "%s", err);
	int64_t sw = db_sweep_open(db, "tlb", "{\"name\":\"tlb\",\"traces\":[\"t\"],\"modes\":[\"native\",\"ept\"],"
					      "\"axes\":[{\"name\":\"tlb.l2.entries\",\"values\":[\"512\",\"1024\"]},"
					      "{\"name\":\"vmx.vpid\",\"values\":[\"off\"]}]}",
				   err);
	ck_assert_msg(sw == 1, "%s", err);
	const char *p512 = "{\"tlb.l2.entries\":512,\"vmx.vpid\":\"off\"}";
	const char *p1024 = "{\"tlb.l2.entries\":1024,\"vmx.vpid\":\"off\"}";
	store_cfg(db, "native", "000000000000000a", p512, 1000, sw);  /* 1 */
	store_cfg(db, "ept", "000000000000000a", p512, 1250, sw);     /* 2: +25% */
	store_cfg(db, "native", "000000000000000a", p1024, 800, sw);  /* 3 */
	store_cfg(db, "ept", "000000000000000a", p1024, 1200, sw);    /* 4: +50% */
	store_cfg(db, "ept", "000000000000000b", p512, 999, 0);       /* 5: no native of its trace */
	/* run_overhead pairs each run with the native run of its configuration. */
	ck_assert_int_eq(q_int("SELECT count(*) FROM run_overhead"), 2);
	ck_assert_int_eq(q_int("SELECT native_run_id FROM run_overhead WHERE run_id = 2"), 1);
	ck_assert_int_eq(q_int("SELECT native_run_id FROM run_overhead WHERE run_id = 4"), 3);
	ck_assert_double_eq(q_real("SELECT overhead_pct FROM run_overhead WHERE run_id = 2"), 25.0);
	ck_assert_double_eq(q_real("SELECT overhead_pct FROM run_overhead WHERE run_id = 4"), 50.0);
	/* trace_overhead: per trace and mode over its configurations. */
	ck_assert_int_eq(q_int("SELECT configurations FROM trace_overhead WHERE mode = 'ept'"), 2);
	ck_assert_double_eq(q_real("SELECT min_overhead_pct FROM trace_overhead"), 25.0);
	ck_assert_double_eq(q_real("SELECT avg_overhead_pct FROM trace_overhead"), 37.5);
	ck_assert_double_eq(q_real("SELECT max_overhead_pct FROM trace_overhead"), 50.0);
	/* sweep_axis: 4 runs x 2 axes; sweep_point: the point as text. */
	ck_assert_int_eq(q_int("SELECT count(*) FROM sweep_axis"), 8);
	ck_assert_str_eq(q_text("SELECT value FROM sweep_axis WHERE run_id = 3 AND axis = 'tlb.l2.entries'", buf,
				sizeof(buf)),
			 "1024");
	ck_assert_str_eq(q_text("SELECT point FROM sweep_point WHERE run_id = 4", buf, sizeof(buf)),
			 "tlb.l2.entries=1024 vmx.vpid=off");
	ck_assert_double_eq(q_real("SELECT overhead_pct FROM sweep_point WHERE run_id = 4"), 50.0);
	/* sweep_pivot_1: a column per axis. */
	ck_assert_str_eq(q_text("SELECT group_concat(name, ',') FROM pragma_table_info('sweep_pivot_1')", buf,
				sizeof(buf)),
			 "run_id,trace_name,mode,tlb.l2.entries,vmx.vpid,cycles,overhead_pct");
	ck_assert_str_eq(q_text("SELECT group_concat(\"tlb.l2.entries\" || '/' || mode || '/' || cycles, ' ')"
				" FROM sweep_pivot_1",
				buf, sizeof(buf)),
			 "512/native/1000 512/ept/1250 1024/native/800 1024/ept/1200");
	/* A rerun of an edited grid replaces the pivot's columns. */
	ck_assert_int_eq(db_sweep_open(db, "tlb", "{\"axes\":[{\"name\":\"vmx.vpid\",\"values\":[\"off\"]}]}", err), 1);
	ck_assert_str_eq(q_text("SELECT group_concat(name, ',') FROM pragma_table_info('sweep_pivot_1')", buf,
				sizeof(buf)),
			 "run_id,trace_name,mode,vmx.vpid,cycles,overhead_pct");
	/* Views export as CSV; so does a pivot, and nothing else by that prefix. */
	FILE *f = tmpfile();
	ck_assert_int_eq(db_export_csv(db, "sweep_pivot_1", f, err), 4);
	ck_assert_int_eq(db_export_csv(db, "trace_overhead", f, err), 1);
	ck_assert_int_eq(db_export_csv(db, "sweep_pivot_2", f, err), -1);
	ck_assert_int_eq(db_export_csv(db, "sweep_pivot_1; DROP TABLE run", f, err), -1);
	fclose(f);
	db_close(db);
}
END_TEST

START_TEST(test_db_merge)
{
	char err[DB_ERR_LEN], in1[PATH_MAX + 16], in2[PATH_MAX + 16];
	int64_t added, present;
	struct db *a, *b, *out;

	snprintf(in1, sizeof(in1), "%s/in1.db", tmpdir);
	snprintf(in2, sizeof(in2), "%s/in2.db", tmpdir);
	/* Two shards of sweep "s": in1 has runs A, B; in2 has B (again), C, and a
	 * duplicate of C stored by `vtsim run` (same key, not linked). */
	a = db_open(in1, err);
	ck_assert_msg(a != NULL, "%s", err);
	int64_t sa = db_sweep_open(a, "s", "{\"axes\":[]}", err);
	store_cfg(a, "native", "000000000000000a", "{}", 100, sa);
	store_cfg(a, "ept", "000000000000000a", "{}", 150, sa);
	db_close(a);
	b = db_open(in2, err);
	ck_assert_msg(b != NULL, "%s", err);
	db_sweep_open(b, "other", "{\"axes\":[]}", err); /* ids differ between shards */
	int64_t sb = db_sweep_open(b, "s", "{\"axes\":[]}", err);
	ck_assert_int_eq(sb, 2);
	store_cfg(b, "ept", "000000000000000a", "{}", 150, sb);
	store_cfg(b, "shadow", "000000000000000a", "{}", 170, sb);
	struct db_run dup = make_run("shadow", NULL, "000000000000000a");
	dup.params_json = "{}";
	ck_assert_int_gt(db_store_run(b, &dup, err), 0);
	db_close(b);

	out = db_open(dbpath, err);
	ck_assert_msg(out != NULL, "%s", err);
	ck_assert_msg(db_merge(out, in1, &added, &present, err) == 0, "%s", err);
	ck_assert_int_eq(added, 2);
	ck_assert_int_eq(present, 0);
	ck_assert_msg(db_merge(out, in2, &added, &present, err) == 0, "%s", err);
	ck_assert_int_eq(added, 1);
	ck_assert_int_eq(present, 2);
	/* Again: nothing new. */
	ck_assert_msg(db_merge(out, in1, &added, &present, err) == 0, "%s", err);
	ck_assert_int_eq(added, 0);
	ck_assert_int_eq(present, 2);
	db_close(out);
	ck_assert_int_eq(q_int("SELECT count(*) FROM run"), 3);
	ck_assert_int_eq(q_int("SELECT count(DISTINCT config_key) FROM run"), 3);
	ck_assert_int_eq(q_int("SELECT count(*) FROM counter"), 6);
	ck_assert_int_eq(q_int("SELECT value FROM counter c JOIN run r ON r.id = c.run_id"
			       " WHERE r.mode = 'shadow' AND c.name = 'cpu.cycles'"),
			 170);
	/* Sweep "s" has its three runs; "other" came along, empty. */
	ck_assert_int_eq(q_int("SELECT count(*) FROM sweep"), 2);
	ck_assert_int_eq(q_int("SELECT count(*) FROM sweep_run sr JOIN sweep s ON s.id = sr.sweep_id"
			       " WHERE s.name = 's'"),
			 3);
	ck_assert_int_eq(q_int("SELECT count(*) FROM run r JOIN sweep s ON s.id = r.sweep_id WHERE s.name = 's'"), 3);
	ck_assert_int_eq(q_int("SELECT count(*) FROM sweep_pivot_1"), 3);
	ck_assert_double_eq(q_real("SELECT overhead_pct FROM run_overhead WHERE mode = 'shadow'"), 70.0);
	/* The inputs are unchanged. */
	char saved[PATH_MAX + 16];
	memcpy(saved, dbpath, sizeof(saved));
	snprintf(dbpath, sizeof(dbpath), "%s", in2);
	ck_assert_int_eq(q_int("SELECT count(*) FROM run"), 3);
	memcpy(dbpath, saved, sizeof(saved));
}
END_TEST

START_TEST(test_db_merge_refuses)
{
	char err[DB_ERR_LEN], in[PATH_MAX + 16];
	int64_t added = 7, present = 7;
	struct db *out = db_open(dbpath, err);
	ck_assert_msg(out != NULL, "%s", err);

	snprintf(in, sizeof(in), "%s/none.db", tmpdir);
	ck_assert_int_eq(db_merge(out, in, &added, &present, err), -1);
	ck_assert_msg(strstr(err, "none.db: No such file or directory") != NULL, "%s", err);
	ck_assert_int_eq(access(in, F_OK), -1); /* not created */
	ck_assert_int_eq(db_merge(out, dbpath, &added, &present, err), -1);
	ck_assert_msg(strstr(err, "is the output database itself") != NULL, "%s", err);
	FILE *f = fopen(in, "w");
	fputs("not a database, not at all, not even close to one; just text\n", f);
	fclose(f);
	ck_assert_int_eq(db_merge(out, in, &added, &present, err), -1);
	ck_assert_msg(strstr(err, "none.db: reading schema: file is not a database") != NULL, "%s", err);
	ck_assert_int_eq(added, 0);
	ck_assert_int_eq(present, 0);
	db_close(out);
	ck_assert_int_eq(q_int("SELECT count(*) FROM run"), 0);
}
END_TEST

START_TEST(test_db_samples)
{
	char err[DB_ERR_LEN], out[PATH_MAX + 16];
	struct db_sample smp[3] = {{1000, "walk.count", 5}, {2000, "walk.count", 9}, {2000, "vmx.exits", 2}};
	struct db_run r = make_run("ept", "g", "0123456789abcdef");
	int64_t added, present;
	struct db *db = db_open(dbpath, err);
	ck_assert_msg(db != NULL, "%s", err);
	r.samples = smp;
	r.n_samples = 3;
	ck_assert_int_gt(db_store_run(db, &r, err), 0);
	/* A sample that does not fit is refused with the whole run. */
	smp[2].value = UINT64_MAX;
	ck_assert_int_eq(db_store_run(db, &r, err), -1);
	ck_assert_msg(strstr(err, "sample 'vmx.exits': value 18446744073709551615 does not fit") != NULL, "%s", err);
	db_close(db);
	ck_assert_int_eq(q_int("SELECT count(*) FROM run"), 1);
	ck_assert_int_eq(q_int("SELECT count(*) FROM sample"), 3);
	ck_assert_int_eq(q_int("SELECT value FROM sample WHERE cycle = 2000 AND name = 'walk.count'"), 9);
	/* Merging copies them. */
	snprintf(out, sizeof(out), "%s/out.db", tmpdir);
	db = db_open(out, err);
	ck_assert_msg(db != NULL, "%s", err);
	ck_assert_msg(db_merge(db, dbpath, &added, &present, err) == 0, "%s", err);
	db_close(db);
	snprintf(dbpath, sizeof(dbpath), "%s", out);
	ck_assert_int_eq(q_int("SELECT count(*) || sum(value) FROM sample"), 316);
}
END_TEST

static Suite *db_suite(void)
{
	Suite *s = suite_create("db");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_db_store_reads_back);
	tcase_add_test(tc, test_db_overhead_view);
	tcase_add_test(tc, test_db_open_unwritable);
	tcase_add_test(tc, test_db_store_all_or_nothing);
	tcase_add_test(tc, test_db_newer_schema_refused);
	tcase_add_test(tc, test_db_foreign_file_refused);
	tcase_add_test(tc, test_db_reopen_keeps_runs);
	tcase_add_test(tc, test_db_ensure_parent_dir);
	tcase_add_test(tc, test_db_concurrent_writers);
	tcase_add_test(tc, test_db_migrates_v1);
	tcase_add_test(tc, test_db_migration_is_all_or_nothing);
	tcase_add_test(tc, test_db_config_key);
	tcase_add_test(tc, test_db_store_once_and_sweeps);
	tcase_add_test(tc, test_db_views_v3);
	tcase_add_test(tc, test_db_merge);
	tcase_add_test(tc, test_db_merge_refuses);
	tcase_add_test(tc, test_db_samples);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(db_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
