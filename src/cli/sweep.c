/*
 * Notes:
 *  - One run, one process. The parent forks a child per run (a fork of
 *    ourselves, no exec: the child has the parsed grid); the child runs the
 *    simulation single-threaded, writes its struct run_result (plain data,
 *    no pointers) or its one-line error down a pipe and _exits without
 *    touching the database. The parent is the only writer: it stores each
 *    result in one transaction (db_store_run_once), so a run is stored
 *    whole or not at all, and a kill -9 of the whole process group loses at
 *    most the runs still simulating.
 *  - Resuming. Before starting, every run's configuration key (version,
 *    trace checksum, mode, parameters: db_config_key) is looked up; a run
 *    already stored, by an earlier sweep or any other command, is skipped
 *    and linked to this sweep. The grid's order is kept, so a rerun does
 *    the remaining runs in the order the first one would have.
 *  - Interruption. SIGINT or SIGTERM (the caller's handler sets *intr): no
 *    new run starts, running children get SIGTERM and stop at their next
 *    interrupt check, a result that arrived complete is still stored.
 *  - The parent dies: each child has PR_SET_PDEATHSIG = SIGKILL (Linux), so
 *    no orphan simulates on; anything else would end at its write (EPIPE).
 */
#include "config.h"

#include "cli/sweep.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "cli/grid.h"
#include "cli/run.h"
#include "cpu/params.h"
#include "db/db.h"
#include "trace/trace.h"
#include "trace/traceset.h"

#define DEFAULT_DB "results/vtsim.db"

static const char sweep_help[] =
	"Usage: vtsim sweep GRID.ini [--jobs N] [--db PATH] [--shard I/N] [--list]\n"
	"       vtsim sweep GRID.ini --emit slurm|parallel [--shards N] [--shard-dir DIR]\n"
	"\n"
	"Run every point of a grid: traces x modes x parameter axes (docs/manual.md,\n"
	"\"Sweeps\"; example: results/examples/tlb-sweep.ini). Each run is one process;\n"
	"N run at once. Every run is stored in the database in one transaction; a\n"
	"configuration already stored (same trace checksum, parameters, mode and\n"
	"vtsim version) is skipped, so a sweep stopped by Ctrl-C or kill resumes\n"
	"where it stopped when run again.\n"
	"\n"
	"  -j, --jobs N      runs at once (default: the number of online CPUs)\n"
	"  -d, --db PATH     results database (default: the grid's db, else " DEFAULT_DB ")\n"
	"      --shard I/N   only the runs whose index modulo N is I (0 <= I < N): one\n"
	"                    of N disjoint shards that together make the grid\n"
	"      --list        print the runs (index, stored or to do, trace, mode,\n"
	"                    parameters, configuration key) and run nothing\n"
	"      --emit slurm  print a Slurm job-array script: one array task per shard,\n"
	"                    each `vtsim sweep --shard I/N --jobs 1` into its own\n"
	"                    database shard in DIR; then `vtsim db merge OUT DIR/*.db`\n"
	"      --emit parallel  print a GNU parallel job list, one shard per line\n"
	"                    (`parallel < LIST`, or with --sshlogin over a shared\n"
	"                    file system); merge the same way\n"
	"      --shards N    shards to emit (default: one per run, at most 1000)\n"
	"      --shard-dir DIR  where shards go (default: the database's path\n"
	"                    without .db, plus .shards)\n"
	"  -h, --help        this help\n"
	"\n"
	"Exit status: 0 every run is stored, 1 a run failed (each failure is one\n"
	"line on stderr) or the database failed, 2 a usage error or a bad grid,\n"
	"130 interrupted (finished runs are kept; run the same command again).\n";

/* What a run process sends back: its status, its error, its results. */
struct child_msg {
	int rc;                 /* sim_run's: 0 done, 1 interrupted, -1 failed (err) */
	char err[CPU_ERR_LEN];
	struct run_result res;
};

/* One run process in flight. */
struct slot {
	pid_t pid;
	int fd;                 /* read end of its pipe; -1 when free */
	size_t run;             /* grid run index */
	size_t got;             /* bytes of msg received */
	struct child_msg msg;
};

struct sweep {
	struct grid g;
	char (*checksum)[17];   /* per trace */
	struct db *db;
	const char *db_path;
	int64_t sweep_id;
	volatile sig_atomic_t *intr;
	bool tty;
	/* counts */
	size_t todo, done, failed, skipped;
	double t0, last_progress;
	bool progress_shown;
	bool db_failed;
	/* run_all's: here so that a run process (a fork) still reaches them */
	struct slot *slots;
	struct pollfd *pfd;
};

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void usage(const char *msg)
{
	fprintf(stderr, "vtsim sweep: %s\nTry 'vtsim sweep --help'.\n", msg);
}

/* ---- progress on a terminal ---------------------------------------------- */

static void clear_progress(struct sweep *s)
{
	if (s->progress_shown)
		fprintf(stderr, "\r%*s\r", 79, "");
	s->progress_shown = false;
}

static void show_progress(struct sweep *s, bool force)
{
	double t = mono();
	if (!s->tty || (!force && t - s->last_progress < 0.25))
		return;
	s->last_progress = t;
	size_t finished = s->done + s->failed;
	double el = t - s->t0, rate = el > 0 ? (double)finished / el : 0.0;
	char eta[32] = "-";
	if (rate > 0) {
		long left = (long)((double)(s->todo - finished) / rate + 0.5);
		snprintf(eta, sizeof(eta), "%ld:%02ld", left / 60, left % 60);
	}
	fprintf(stderr, "\r[sweep %.20s] %zu/%zu done, %zu failed, %zu skipped, %.2f runs/s, ETA %s ", s->g.name,
		s->done, s->todo, s->failed, s->skipped, rate, eta);
	fflush(stderr);
	s->progress_shown = true;
}

/* ---- one run ------------------------------------------------------------------ */

static void describe(const struct sweep *s, size_t run, char *buf, size_t len)
{
	size_t t, pt;
	enum sim_mode m;
	char label[384], name[256];
	grid_run_at(&s->g, run, &t, &pt, &m);
	grid_point_label(&s->g, pt, label, sizeof(label));
	snprintf(buf, len, "run %zu (%s %s%s%s)", run + 1, trace_base_name(s->g.traces[t], name, sizeof(name)),
		 mode_name(m), label[0] ? " " : "", label);
}

/* The child: simulate run and send the result down fd. Never returns. */
static void child_main(struct sweep *s, size_t run, int fd)
{
#ifdef __linux__
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(3); /* the parent died before the line above */
#endif
	static struct child_msg msg;
	size_t t, pt;
	enum sim_mode m;
	struct sim_params p;
	grid_run_at(&s->g, run, &t, &pt, &m);
	if (grid_point_params(&s->g, pt, &p, msg.err) < 0)
		msg.rc = -1;
	else if (!strncmp(s->g.traces[t], "workload:", 9))
		msg.rc = sim_run_workload(&p, m, s->g.traces[t] + 9, NULL, &msg.res, s->intr, NULL, msg.err);
	else
		msg.rc = sim_run(&p, m, s->g.traces[t], &msg.res, s->intr, NULL, NULL, msg.err);
	const char *b = (const char *)&msg;
	size_t left = sizeof(msg);
	while (left) {
		ssize_t n = write(fd, b, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(4);
		b += n;
		left -= (size_t)n;
	}
	_exit(0);
}

static int launch(struct sweep *s, struct slot *slots, int nslots, struct slot *sl, size_t run)
{
	int fds[2];
	if (pipe(fds) < 0) {
		clear_progress(s);
		fprintf(stderr, "vtsim sweep: pipe: %s\n", strerror(errno));
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		clear_progress(s);
		fprintf(stderr, "vtsim sweep: fork: %s\n", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		for (int i = 0; i < nslots; i++)
			if (slots[i].fd >= 0)
				close(slots[i].fd);
		child_main(s, run, fds[1]);
	}
	close(fds[1]);
	sl->pid = pid;
	sl->fd = fds[0];
	sl->run = run;
	sl->got = 0;
	return 0;
}

/* The checksum of what run t of point parameters p runs: the trace file's
 * (computed once), or a workload's image and workload.* values (as
 * sim_run_workload stores it). */
static int source_checksum(const struct sweep *s, size_t t, const struct sim_params *p, char out[17], char *err)
{
	if (strncmp(s->g.traces[t], "workload:", 9)) {
		memcpy(out, s->checksum[t], 17);
		return 0;
	}
	return workload_checksum(s->g.traces[t] + 9, p, out, NULL, err);
}

/* The point's group: the configuration key without the mode, so the modes
 * of one trace and point share it (the overhead view pairs them). */
static int point_group(const struct sweep *s, const struct sim_params *p, size_t t, char group[DB_KEY_LEN])
{
	char sum[17], err[CPU_ERR_LEN];
	if (source_checksum(s, t, p, sum, err) < 0)
		return -1;
	char *json = params_json(p);
	if (!json)
		return -1;
	int rc = db_config_key(PACKAGE_VERSION, sum, "", json, group);
	free(json);
	return rc;
}

/* The run process of sl has closed its pipe: reap it, store its result. */
static void finish(struct sweep *s, struct slot *sl)
{
	int status = 0;
	close(sl->fd);
	sl->fd = -1;
	while (waitpid(sl->pid, &status, 0) < 0 && errno == EINTR)
		;
	char what[512], err[DB_ERR_LEN];
	describe(s, sl->run, what, sizeof(what));
	bool complete = sl->got == sizeof(sl->msg) && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (!complete) {
		if (WIFSIGNALED(status) && *s->intr && (WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGINT))
			return; /* stopped with the sweep */
		clear_progress(s);
		if (WIFSIGNALED(status))
			fprintf(stderr, "vtsim sweep: %s: killed by signal %d (%s)\n", what, WTERMSIG(status),
				strsignal(WTERMSIG(status)));
		else
			fprintf(stderr, "vtsim sweep: %s: the run process exited with status %d before sending its result\n",
				what, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		s->failed++;
		return;
	}
	if (sl->msg.rc == 1)
		return; /* interrupted: nothing to store */
	if (sl->msg.rc < 0) {
		clear_progress(s);
		fprintf(stderr, "vtsim sweep: %s: %s\n", what, sl->msg.err);
		s->failed++;
		return;
	}
	size_t t, pt;
	enum sim_mode m;
	struct sim_params p;
	char group[DB_KEY_LEN];
	grid_run_at(&s->g, sl->run, &t, &pt, &m);
	bool stored = false;
	if (grid_point_params(&s->g, pt, &p, err) < 0 || point_group(s, &p, t, group) < 0 ||
	    run_store(s->db, &p, m, s->g.traces[t], &sl->msg.res, group, s->sweep_id, true, &stored, err) < 0) {
		clear_progress(s);
		fprintf(stderr, "vtsim sweep: %s: %s\n", what, err[0] ? err : "out of memory");
		s->db_failed = true;
		return;
	}
	if (stored) {
		s->done++;
	} else { /* another process stored it meanwhile */
		s->skipped++;
		s->todo--;
	}
}

/* Run queue[0..n) with jobs processes at a time. */
static void run_all(struct sweep *s, const size_t *queue, size_t n, int jobs)
{
	struct slot *slots = s->slots = calloc((size_t)jobs, sizeof(*slots));
	struct pollfd *pfd = s->pfd = calloc((size_t)jobs, sizeof(*pfd));
	if (!slots || !pfd) {
		fprintf(stderr, "vtsim sweep: out of memory\n");
		s->db_failed = true;
		goto out;
	}
	for (int i = 0; i < jobs; i++)
		slots[i].fd = -1;
	size_t next = 0;
	int running = 0;
	bool forwarded = false, stop = false;
	for (;;) {
		stop |= *s->intr || s->db_failed;
		for (int i = 0; i < jobs && !stop && next < n; i++)
			if (slots[i].fd < 0) {
				if (launch(s, slots, jobs, &slots[i], queue[next]) < 0) {
					s->db_failed = stop = true;
					break;
				}
				next++;
				running++;
			}
		if (!running)
			break;
		if (*s->intr && !forwarded) {
			for (int i = 0; i < jobs; i++)
				if (slots[i].fd >= 0)
					kill(slots[i].pid, SIGTERM);
			forwarded = true;
		}
		int np = 0;
		for (int i = 0; i < jobs; i++)
			if (slots[i].fd >= 0)
				pfd[np++] = (struct pollfd){.fd = slots[i].fd, .events = POLLIN};
		/* A timeout: the progress line moves, and a SIGTERM that came
		 * just before poll is forwarded within 250 ms. */
		int rc = poll(pfd, (nfds_t)np, 250);
		if (rc < 0 && errno != EINTR) {
			fprintf(stderr, "vtsim sweep: poll: %s\n", strerror(errno));
			s->db_failed = true;
			*s->intr = 1; /* stop the runs, reap them */
			continue;
		}
		for (int i = 0; i < jobs && rc > 0; i++) {
			struct slot *sl = &slots[i];
			if (sl->fd < 0)
				continue;
			struct pollfd *pf = NULL;
			for (int k = 0; k < np; k++)
				if (pfd[k].fd == sl->fd)
					pf = &pfd[k];
			if (!pf || !pf->revents)
				continue;
			char *dst = (char *)&sl->msg + sl->got;
			size_t room = sizeof(sl->msg) - sl->got;
			char spill[64];
			ssize_t got = read(sl->fd, room ? dst : spill, room ? room : sizeof(spill));
			if (got < 0 && errno == EINTR)
				continue;
			if (got > 0 && room) {
				sl->got += (size_t)got;
				continue;
			}
			if (got > 0) {
				sl->got = sizeof(sl->msg) + 1; /* more than a message: not ours */
				continue;
			}
			finish(s, sl); /* EOF or a read error */
			running--;
		}
		show_progress(s, false);
	}
out:
	free(slots);
	free(pfd);
	s->slots = NULL;
	s->pfd = NULL;
}

static int trace_checksum(const char *path, char out[17], char *err)
{
	return traceset_is_dir(path) ? traceset_checksum(path, out, err) : trace_file_checksum(path, out, err);
}

/* A path as an absolute one (for jobs that start elsewhere); malloc'd. */
static char *absolute(const char *path)
{
	if (path[0] == '/')
		return strdup(path);
	char cwd[4096];
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	char *out = malloc(strlen(cwd) + strlen(path) + 2);
	if (out)
		sprintf(out, "%s/%s", cwd, path);
	return out;
}

/* s single-quoted for a POSIX shell. */
static void shq(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

/* The program itself, for jobs to run: /proc/self/exe, else argv0. */
static char *self_path(const char *argv0)
{
	char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		return strdup(buf);
	}
	return absolute(argv0);
}

/*
 * --emit: a Slurm array script or a GNU parallel job list for nshards shards
 * of the grid at grid_path, shard k into DIR/NAME-shard-k.db.
 */
static int emit(const struct grid *g, const char *what, const char *argv0, const char *grid_path, const char *db_path,
		const char *shard_dir, size_t nshards)
{
	char *exe = self_path(argv0), *grid = absolute(grid_path), *dir = NULL;
	if (shard_dir) {
		dir = absolute(shard_dir);
	} else {
		size_t n = strlen(db_path);
		char *base = strndup(db_path, n > 3 && !strcmp(db_path + n - 3, ".db") ? n - 3 : n);
		char *with = base ? malloc(strlen(base) + 8) : NULL;
		if (with)
			sprintf(with, "%s.shards", base);
		dir = with ? absolute(with) : NULL;
		free(base);
		free(with);
	}
	if (!exe || !grid || !dir) {
		free(exe);
		free(grid);
		free(dir);
		fprintf(stderr, "vtsim sweep: out of memory\n");
		return 1;
	}
	if (!strcmp(what, "slurm")) {
		printf("#!/bin/bash\n"
		       "# Sweep %s: %zu runs in %zu shards, one Slurm array task each (written by\n"
		       "# vtsim " PACKAGE_VERSION " sweep --emit slurm). Submit from any directory:\n"
		       "#   mkdir -p ",
		       g->name, g->nruns, nshards);
		shq(stdout, dir);
		printf(" && sbatch THIS_SCRIPT\n# then merge the shards:\n#   ");
		shq(stdout, exe);
		printf(" db merge OUT.db ");
		shq(stdout, dir);
		printf("/*.db\n"
		       "#SBATCH --job-name=vtsim-%s\n"
		       "#SBATCH --array=0-%zu\n"
		       "#SBATCH --ntasks=1\n"
		       "#SBATCH --cpus-per-task=1\n"
		       "#SBATCH --output=%s/slurm-%%A_%%a.out\n"
		       "set -euo pipefail\n"
		       "i=\"$SLURM_ARRAY_TASK_ID\"\n"
		       "exec ",
		       g->name, nshards - 1, dir);
		shq(stdout, exe);
		printf(" sweep ");
		shq(stdout, grid);
		printf(" --shard \"$i/%zu\" --jobs 1 --db ", nshards);
		shq(stdout, dir);
		printf("/");
		shq(stdout, g->name);
		printf("-shard-\"$i\".db\n");
	} else {
		for (size_t k = 0; k < nshards; k++) {
			shq(stdout, exe);
			printf(" sweep ");
			shq(stdout, grid);
			printf(" --shard %zu/%zu --jobs 1 --db ", k, nshards);
			shq(stdout, dir);
			printf("/");
			shq(stdout, g->name);
			printf("-shard-%zu.db\n", k);
		}
	}
	free(exe);
	free(grid);
	free(dir);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "vtsim sweep: writing the %s %s: %s\n", what, !strcmp(what, "slurm") ? "script" : "job list",
			strerror(errno));
		return 1;
	}
	return 0;
}

/* "I/N" into *i, *n; -1 if not 0 <= I < N. */
static int parse_shard(const char *s, size_t *i, size_t *n)
{
	char *end;
	errno = 0;
	unsigned long long a = strtoull(s, &end, 10);
	if (errno || end == s || *end != '/' || s[0] == '-')
		return -1;
	const char *b = end + 1;
	unsigned long long c = strtoull(b, &end, 10);
	if (errno || end == b || *end || b[0] == '-' || c == 0 || a >= c || c > GRID_MAX_RUNS)
		return -1;
	*i = (size_t)a;
	*n = (size_t)c;
	return 0;
}

int cmd_sweep(int argc, char **argv, volatile sig_atomic_t *intr)
{
	enum { O_SHARD = 256, O_EMIT, O_SHARDS, O_SHARD_DIR };
	static const struct option longopts[] = {
		{"jobs", required_argument, NULL, 'j'},       {"db", required_argument, NULL, 'd'},
		{"list", no_argument, NULL, 'l'},             {"help", no_argument, NULL, 'h'},
		{"shard", required_argument, NULL, O_SHARD},  {"emit", required_argument, NULL, O_EMIT},
		{"shards", required_argument, NULL, O_SHARDS}, {"shard-dir", required_argument, NULL, O_SHARD_DIR},
		{NULL, 0, NULL, 0},
	};
	long jobs = sysconf(_SC_NPROCESSORS_ONLN);
	const char *db_opt = NULL, *emit_what = NULL, *shard_dir = NULL;
	bool list = false;
	size_t shard = 0, nshard = 1, emit_shards = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "j:d:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': {
			char *end;
			errno = 0;
			jobs = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || jobs < 1 || jobs > 1024) {
				usage("--jobs takes a number of processes from 1 to 1024");
				return 2;
			}
			break;
		}
		case 'd':
			db_opt = optarg;
			break;
		case 'l':
			list = true;
			break;
		case O_SHARD:
			if (parse_shard(optarg, &shard, &nshard) < 0) {
				usage("--shard takes I/N with 0 <= I < N, e.g. 0/4");
				return 2;
			}
			break;
		case O_EMIT:
			if (strcmp(optarg, "slurm") && strcmp(optarg, "parallel")) {
				usage("--emit takes slurm or parallel");
				return 2;
			}
			emit_what = optarg;
			break;
		case O_SHARDS: {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' || v < 1 || v > 1000) {
				usage("--shards takes a number from 1 to 1000");
				return 2;
			}
			emit_shards = (size_t)v;
			break;
		}
		case O_SHARD_DIR:
			shard_dir = optarg;
			break;
		case 'h':
			fputs(sweep_help, stdout);
			return 0;
		default:
			usage("bad option");
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(optind == argc ? "expects the grid file (GRID.ini)" : "expects one grid file");
		return 2;
	}
	if (jobs < 1)
		jobs = 1; /* sysconf could not tell */
	if (emit_what && (list || nshard > 1)) {
		usage("--emit writes the shards' commands: not with --list or --shard");
		return 2;
	}
	if (!emit_what && (emit_shards || shard_dir)) {
		usage("--shards and --shard-dir go with --emit");
		return 2;
	}

	struct sweep s;
	memset(&s, 0, sizeof(s));
	s.intr = intr;
	char gerr[GRID_ERR_LEN];
	if (grid_load(&s.g, argv[optind], gerr) < 0) {
		fprintf(stderr, "vtsim sweep: %s\n", gerr);
		grid_free(&s.g);
		return 2;
	}
	if (emit_what) {
		size_t n = emit_shards ? emit_shards : s.g.nruns < 1000 ? s.g.nruns : 1000;
		int rc = emit(&s.g, emit_what, argv[0], argv[optind],
			      db_opt ? db_opt : s.g.db ? s.g.db : DEFAULT_DB, shard_dir, n > s.g.nruns ? s.g.nruns : n);
		grid_free(&s.g);
		return rc;
	}
	int status = 1;
	size_t *queue = NULL;
	int64_t *skipped_ids = NULL;
	char *json = NULL;
	char err[DB_ERR_LEN > CPU_ERR_LEN ? DB_ERR_LEN : CPU_ERR_LEN];
	s.checksum = calloc(s.g.ntraces, sizeof(*s.checksum));
	queue = calloc(s.g.nruns, sizeof(*queue));
	skipped_ids = calloc(s.g.nruns, sizeof(*skipped_ids));
	json = grid_json(&s.g);
	if (!s.checksum || !queue || !skipped_ids || !json) {
		fprintf(stderr, "vtsim sweep: out of memory\n");
		goto out;
	}
	for (size_t t = 0; t < s.g.ntraces; t++)
		if (strncmp(s.g.traces[t], "workload:", 9) && trace_checksum(s.g.traces[t], s.checksum[t], err) < 0) {
			fprintf(stderr, "vtsim sweep: %s\n", err);
			goto out;
		}
	s.db_path = db_opt ? db_opt : s.g.db ? s.g.db : DEFAULT_DB;
	/* --list reads a database but never creates one: without it, every run is to do. */
	if (!(list && access(s.db_path, F_OK) != 0) &&
	    (db_ensure_parent_dir(s.db_path, err) < 0 || !(s.db = db_open(s.db_path, err)))) {
		fprintf(stderr, "vtsim sweep: %s\n", err);
		goto out;
	}
	if (!list && (s.sweep_id = db_sweep_open(s.db, s.g.name, json, err)) < 0) {
		fprintf(stderr, "vtsim sweep: %s\n", err);
		goto out;
	}
	/* What is stored already? */
	size_t nq = 0, nskip = 0;
	for (size_t i = shard; i < s.g.nruns; i += nshard) {
		size_t t, pt;
		enum sim_mode m;
		struct sim_params p;
		char key[DB_KEY_LEN], label[384], name[256];
		grid_run_at(&s.g, i, &t, &pt, &m);
		char sum[17];
		if (grid_point_params(&s.g, pt, &p, err) < 0 || source_checksum(&s, t, &p, sum, err) < 0 ||
		    run_config_key(&p, m, sum, key) < 0) {
			fprintf(stderr, "vtsim sweep: %s\n", err);
			goto out;
		}
		int64_t id = s.db ? db_find_config(s.db, key) : 0;
		if (id < 0) {
			fprintf(stderr, "vtsim sweep: %s\n", db_errmsg(s.db));
			goto out;
		}
		if (id > 0)
			skipped_ids[nskip++] = id;
		else
			queue[nq++] = i;
		if (list) {
			grid_point_label(&s.g, pt, label, sizeof(label));
			printf("%zu\t%s\t%s\t%s\t%s\t%s\n", i + 1, id > 0 ? "stored" : "todo",
			       trace_base_name(s.g.traces[t], name, sizeof(name)), mode_name(m), label, key);
		}
	}
	if (list) {
		status = 0;
		goto out;
	}
	if (db_sweep_link(s.db, s.sweep_id, skipped_ids, nskip, err) < 0) {
		fprintf(stderr, "vtsim sweep: %s\n", err);
		goto out;
	}
	s.skipped = nskip;
	s.todo = nq;
	s.tty = isatty(STDERR_FILENO);
	s.t0 = mono();
	show_progress(&s, true);
	run_all(&s, queue, nq, (size_t)jobs > nq ? (nq ? (int)nq : 1) : (int)jobs);
	clear_progress(&s);
	double el = mono() - s.t0;
	size_t nsel = nq + nskip, left = nsel - s.done - s.skipped - s.failed;
	char label[64] = "";
	if (nshard > 1)
		snprintf(label, sizeof(label), " shard %zu/%zu", shard, nshard);
	printf("sweep %s%s: %zu runs: %zu stored now, %zu stored before, %zu failed, %zu not run; %.1f s with --jobs %ld\n"
	       "database %s, sweep id %" PRId64 "\n",
	       s.g.name, label, nsel, s.done, s.skipped, s.failed, left, el, jobs, s.db_path, s.sweep_id);
	if (s.db_failed)
		status = 1;
	else if (*intr) {
		fprintf(stderr, "vtsim sweep: interrupted; %zu runs stored now, %zu left: run the same command again\n",
			s.done, left);
		status = 130;
	} else {
		status = s.failed ? 1 : 0;
	}
out:
	db_close(s.db);
	free(json);
	free(queue);
	free(skipped_ids);
	free(s.checksum);
	grid_free(&s.g);
	return status;
}
