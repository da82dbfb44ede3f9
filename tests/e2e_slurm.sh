#!/usr/bin/env bash
# `vtsim sweep --emit slurm` through a real single-node Slurm: the test
# starts munged, slurmctld and slurmd (Debian's munge and slurm-wlm) on this
# machine with a private configuration in a temporary directory (loopback
# addresses, ports chosen from this process's id, SlurmUser root), submits
# the emitted job-array script with sbatch --wait, merges the shards and
# checks the merged database equals the same grid swept locally. Everything
# it started is stopped at the end. Skipped (exit 77), saying exactly what is
# missing, when the programs are not installed, when not root (slurmd runs
# jobs as root here), or when the daemons cannot start on this machine.
set -uo pipefail
: "${VTSIM_SRCDIR:?}" "${VTSIM_BUILDDIR:?}"
vtsim="$VTSIM_BUILDDIR/vtsim"
src="$VTSIM_SRCDIR"
skip() { echo "SKIP: $1"; exit 77; }
missing=()
for p in munged munge slurmctld slurmd sbatch sinfo scontrol; do
	command -v "$p" >/dev/null || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] || skip "not installed: ${missing[*]} (Debian packages munge and slurm-wlm; scripts/install-deps installs them)"
[ "$(id -u)" -eq 0 ] || skip "not root: this test runs slurmctld and slurmd as SlurmUser=root (uid $(id -u))"

work="$(mktemp -d)"
chmod 755 "$work"
export SLURM_CONF="$work/slurm.conf"
munge_pid=""
stop() {
	if [ -f "$work/slurmctld.pid" ] || [ -f "$work/slurmd.pid" ]; then
		timeout 20 scontrol shutdown >/dev/null 2>&1
		for f in slurmctld slurmd; do
			p="$(cat "$work/$f.pid" 2>/dev/null)"
			for _ in $(seq 1 50); do [ -n "$p" ] && kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
			[ -n "$p" ] && kill -0 "$p" 2>/dev/null && kill -9 "$p"
		done
	fi
	munge_pid="$(cat "$work/munged.pid" 2>/dev/null)"
	[ -n "$munge_pid" ] && kill "$munge_pid" 2>/dev/null
	rm -rf "$work"
}
trap stop EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
dump() {
	sqlite3 "$1" "select r.config_key, r.trace_checksum, r.mode, r.params_json, r.version, c.name, c.value
		from run r join counter c on c.run_id = r.id order by 1, 6;
		select r.config_key, e.reason, e.name, e.count, e.cycles from run r join exit e on e.run_id = r.id order by 1, 2;
		select r.config_key, x.cycle, x.name, x.value from run r join sample x on x.run_id = r.id order by 1, 2, 3;
		select s.name, r.config_key from sweep s join sweep_run sr on sr.sweep_id = s.id
		join run r on r.id = sr.run_id order by 1, 2;"
}

# --- a private munge and a one-node Slurm
mkdir -p "$work/state" "$work/spool" "$work/log" "$work/shards"
head -c 1024 /dev/urandom >"$work/munge.key"
chmod 600 "$work/munge.key"
munged --force -S "$work/munge.sock" --key-file="$work/munge.key" --pid-file="$work/munged.pid" \
	--log-file="$work/log/munged.log" --seed-file="$work/munged.seed" 2>"$work/log/munged.err" ||
	skip "munged does not start here: $(tail -1 "$work/log/munged.err")"
host="$(hostname -s)"
port=$((20000 + ($$ % 20000) * 2))
cat >"$SLURM_CONF" <<CONF
ClusterName=vtsimtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$work/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
SwitchType=switch/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=vtsim Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -f "$SLURM_CONF" 2>"$work/log/slurmctld.err" ||
	skip "slurmctld does not start here: $(tail -1 "$work/log/slurmctld.err") $(tail -1 "$work/log/slurmctld.log" 2>/dev/null)"
slurmd -f "$SLURM_CONF" 2>"$work/log/slurmd.err" ||
	skip "slurmd does not start here: $(tail -1 "$work/log/slurmd.err") $(tail -1 "$work/log/slurmd.log" 2>/dev/null)"
state=""
for _ in $(seq 1 150); do
	state="$(sinfo -h -o %t 2>/dev/null)"
	[ "$state" = idle ] && break
	sleep 0.2
done
[ "$state" = idle ] ||
	skip "the Slurm node did not become idle in 30 s (state '${state}'): $(tail -1 "$work/log/slurmd.log" 2>/dev/null) / $(tail -1 "$work/log/slurmctld.log" 2>/dev/null)"
ok "a one-node Slurm is up (munged, slurmctld, slurmd)"

# --- the grid through a job array
grid="$src/tests/data/sweep/small.ini"
"$vtsim" sweep "$grid" --emit slurm --shards 3 --db "$work/merged.db" --shard-dir "$work/shards" >"$work/job.sh" 2>"$work/err"; rc=$?
check "--emit slurm writes an array job of 3 tasks" '[ $rc -eq 0 ] && grep -qx "#SBATCH --array=0-2" "$work/job.sh" && grep -qx "#SBATCH --cpus-per-task=1" "$work/job.sh" && grep -q -- " --shard \"\$i/3\" --jobs 1 --db " "$work/job.sh"'
(cd "$work" && timeout 300 sbatch --wait --parsable job.sh >"$work/jobid" 2>"$work/sbatch.err"); rc=$?
check "sbatch --wait: every array task succeeds" '[ $rc -eq 0 ] && [ -n "$(cat "$work/jobid")" ]'
[ $rc -eq 0 ] || { echo "sbatch: $(cat "$work/sbatch.err")"; tail -5 "$work/log/slurmctld.log" "$work/log/slurmd.log" "$work"/shards/slurm-*.out 2>/dev/null; }
check "each task stored its shard" '[ "$(cat "$work"/shards/slurm-*.out | grep -c "^sweep small shard [0-2]/3: 4 runs: 4 stored now, 0 stored before, 0 failed, 0 not run;")" = 3 ] && [ "$(ls "$work"/shards/small-shard-*.db | wc -l)" = 3 ]'
"$vtsim" db merge "$work/merged.db" "$work"/shards/small-shard-*.db >"$work/out" 2>&1; rc=$?
check "the shards merge into 12 runs" '[ $rc -eq 0 ] && [ "$(sqlite3 "$work/merged.db" "select count(*) || \" \" || count(distinct config_key) from run")" = "12 12" ]'
"$vtsim" sweep "$grid" --db "$work/local.db" --jobs 2 >/dev/null 2>&1
dump "$work/local.db" >"$work/local.txt"
dump "$work/merged.db" >"$work/merged.txt"
check "the merged database equals a local run of the grid" '[ -s "$work/local.txt" ] && cmp -s "$work/local.txt" "$work/merged.txt"'

echo "e2e_slurm: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
