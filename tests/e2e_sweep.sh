#!/usr/bin/env bash
# End-to-end tests of `vtsim sweep`: a small grid stores exactly its runs,
# a rerun stores nothing more, a sweep killed with kill -9 (the whole
# process group) or stopped with SIGINT resumes to exactly its runs with no
# duplicate and no partial run, failed runs are reported one line each, and
# bad grids are refused with one line naming the file and the line.
set -uo pipefail
: "${VTSIM_SRCDIR:?}" "${VTSIM_BUILDDIR:?}"
vtsim="$VTSIM_BUILDDIR/vtsim"
src="$VTSIM_SRCDIR"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
q() { sqlite3 "$1" "$2"; }
ncounters="$("$vtsim" run --trace "$src/tests/data/trace/fork.lackey" --mode native --db "$work/one.db" >/dev/null 2>&1 &&
	q "$work/one.db" "select count(*) from counter")"

# --- a small grid: 2 traces x 2 points (a range) x 2 modes = 8 runs
cat >"$work/small.ini" <<EOF
; a small grid
[sweep]
name   = small
traces = $src/tests/data/trace/fork.lackey,
         $src/tests/data/trace/threads.lackey
modes  = native, ept

[params]
tlb.l2.ways    = 4
tlb.l2.entries = 256..512 step 256
EOF
db="$work/small.db"
"$vtsim" sweep "$work/small.ini" --db "$db" --jobs 2 >"$work/out" 2>"$work/err"; rc=$?
check "sweep exits 0" '[ $rc -eq 0 ] && [ ! -s "$work/err" ]'
check "sweep stores exactly 8 runs" '[ "$(q "$db" "select count(*) from run")" = 8 ]'
check "the summary counts them" 'grep -q "^sweep small: 8 runs: 8 stored now, 0 stored before, 0 failed, 0 not run; " "$work/out"'
check "8 distinct configuration keys" '[ "$(q "$db" "select count(distinct config_key) from run")" = 8 ]'
check "every run is in the sweep" '[ "$(q "$db" "select count(*) from sweep_run sr join sweep s on s.id = sr.sweep_id where s.name = '\''small'\''")" = 8 ] && [ "$(q "$db" "select count(*) from run where sweep_id = 1")" = 8 ]'
check "the range gave 256 and 512" '[ "$(q "$db" "select group_concat(v) from (select distinct json_extract(params_json, '\''$.\"tlb.l2.entries\"'\'') as v from run order by v)")" = "256,512" ]'
check "the grid is stored as JSON" '[ "$(q "$db" "select json_extract(grid, '\''$.axes[1].values[1]'\'') from sweep where name = '\''small'\''")" = 512 ]'
check "modes of a point share a group (overhead view: 4 rows)" '[ "$(q "$db" "select count(*) from overhead")" = 4 ]'
check "every run has every counter" '[ "$(q "$db" "select count(*) from (select run_id from counter group by run_id having count(*) = $ncounters)")" = 8 ]'
"$vtsim" sweep "$work/small.ini" --db "$db" >"$work/out" 2>"$work/err"; rc=$?
check "a rerun stores nothing more" '[ $rc -eq 0 ] && grep -q "^sweep small: 8 runs: 0 stored now, 8 stored before, 0 failed, 0 not run;" "$work/out" && [ "$(q "$db" "select count(*) from run")" = 8 ]'
"$vtsim" sweep "$work/small.ini" --db "$db" --list >"$work/out" 2>"$work/err"; rc=$?
check "--list shows 8 stored runs with their keys" '[ $rc -eq 0 ] && [ "$(grep -c "	stored	" "$work/out")" = 8 ] && [ "$(cut -f6 "$work/out" | sort | paste -sd,)" = "$(q "$db" "select group_concat(config_key) from (select config_key from run order by config_key)")" ]'
# A run stored by `vtsim run` with the same configuration is not run again.
cat >"$work/one.ini" <<EOF
[sweep]
traces = $src/tests/data/trace/fork.lackey
modes  = native
EOF
"$vtsim" sweep "$work/one.ini" --db "$work/one.db" >"$work/out" 2>&1; rc=$?
check "a configuration stored by vtsim run is skipped" '[ $rc -eq 0 ] && grep -q "^sweep one: 1 runs: 0 stored now, 1 stored before" "$work/out" && [ "$(q "$work/one.db" "select count(*) from run")" = 1 ]'

# --- db merge: two databases into one without duplicates
"$vtsim" db merge "$work/merged.db" "$work/small.db" "$work/one.db" "$work/small.db" >"$work/out" 2>"$work/err"; rc=$?
check "db merge reports each input" '[ $rc -eq 0 ] && [ "$(cat "$work/out")" = "$work/small.db: 8 runs added, 0 already in $work/merged.db
$work/one.db: 1 runs added, 0 already in $work/merged.db
$work/small.db: 0 runs added, 8 already in $work/merged.db" ]'
check "the merged database holds the 9 configurations once" '[ "$(q "$work/merged.db" "select count(*) || \" \" || count(distinct config_key) from run")" = "9 9" ]'
check "the merged runs have the same counters as the inputs" '[ "$(q "$work/merged.db" "select count(*) from counter")" = "$(( $(q "$work/small.db" "select count(*) from counter") + $(q "$work/one.db" "select count(*) from counter") ))" ] && [ "$(q "$work/merged.db" "select sum(value) from counter where name = '\''cpu.cycles'\''")" = "$(( $(q "$work/small.db" "select sum(value) from counter where name = '\''cpu.cycles'\''") + $(q "$work/one.db" "select sum(value) from counter where name = '\''cpu.cycles'\''") ))" ]'
check "the sweeps came along with their runs and pivot views" '[ "$(q "$work/merged.db" "select group_concat(x) from (select name || \":\" || (select count(*) from sweep_run where sweep_id = sweep.id) as x from sweep order by id)")" = "small:8,one:1" ] && [ "$(q "$work/merged.db" "select count(*) from sweep_pivot_1")" = 8 ] && [ "$(q "$work/merged.db" "select count(*) from sweep_pivot_2")" = 1 ]'
"$vtsim" db merge "$work/merged.db" "$work/nosuch.db" >/dev/null 2>"$work/err"; rc=$?
check "db merge of a missing input fails naming it" '[ $rc -eq 1 ] && [ "$(cat "$work/err")" = "vtsim: $work/nosuch.db: No such file or directory" ]'
"$vtsim" db merge "$work/merged.db" >/dev/null 2>"$work/err"; rc=$?
check "db merge needs an input" '[ $rc -eq 2 ] && grep -q "expects OUT and at least one IN" "$work/err"'

# --- the shipped example grid has at least 48 runs
"$vtsim" sweep "$src/results/examples/tlb-sweep.ini" --db "$work/none.db" --list >"$work/out" 2>"$work/err"; rc=$?
check "results/examples/tlb-sweep.ini has 48 runs over the shipped traces" '[ $rc -eq 0 ] && [ "$(wc -l <"$work/out")" = 48 ] && [ "$(cut -f3 "$work/out" | sort -u | paste -sd,)" = "gzip.lackey.zst,pipeline.d,sort.lackey.zst,sqlite3.lackey.zst" ]'
check "--list creates no database" '[ ! -e "$work/none.db" ]'

# --- kill -9 of the sweep's process group mid-sweep, then resume
# 12 runs of ~0.3 s each, one at a time: killed once 2 are stored.
cat >"$work/kill.ini" <<EOF
[sweep]
name   = kill
traces = $src/traces/sort.lackey.zst
modes  = native, shadow, ept
[params]
tlb.l2.ways    = 4
tlb.l2.entries = 128, 256, 512, 1024
EOF
db="$work/kill.db"
n_at_kill=""
setsid "$vtsim" sweep "$work/kill.ini" --db "$db" --jobs 1 >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 1 600); do
	n="$(q "$db" "select count(*) from run" 2>/dev/null || echo 0)"
	if [ "${n:-0}" -ge 2 ]; then
		kill -9 -- "-$pid"
		n_at_kill="$n"
		break
	fi
	sleep 0.05
done
wait "$pid" 2>/dev/null; rc=$?
check "kill -9 hit the sweep mid-way (exit 137)" '[ $rc -eq 137 ] && [ -n "$n_at_kill" ] && [ "$(q "$db" "select count(*) from run")" -lt 12 ]'
check "no run process outlives the killed sweep" '! pgrep -f "sweep $work/kill.ini" >/dev/null'
check "the killed database is intact" '[ "$(q "$db" "pragma integrity_check")" = ok ]'
check "every run stored before the kill is whole" '[ "$(q "$db" "select count(*) from run where id not in (select run_id from counter group by run_id having count(*) = $ncounters)")" = 0 ]'
before="$(q "$db" "select count(*) from run")"
"$vtsim" sweep "$work/kill.ini" --db "$db" --jobs 2 >"$work/out" 2>"$work/err"; rc=$?
check "the rerun completes the sweep" '[ $rc -eq 0 ] && grep -q "^sweep kill: 12 runs: $((12 - before)) stored now, $before stored before, 0 failed, 0 not run;" "$work/out"'
check "exactly 12 runs, no duplicate" '[ "$(q "$db" "select count(*) || \" \" || count(distinct config_key) from run")" = "12 12" ]'
check "the runs are those of a sweep run in one go" '[ "$(q "$db" "select count(*) from sweep_run")" = 12 ]'

# --- kill -9 of the sweep process alone: its run processes die with it
db="$work/orphan.db"
setsid "$vtsim" sweep "$work/kill.ini" --db "$db" --jobs 2 >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 1 600); do
	[ "$(pgrep -c -g "$pid")" -ge 3 ] && break
	sleep 0.02
done
kids="$(pgrep -g "$pid" | grep -vx "$pid" | paste -sd' ')"
kill -9 "$pid"
wait "$pid" 2>/dev/null
sleep 0.3
# (dead ones may stay zombies where init does not reap: state Z)
check "run processes die with a killed sweep" '[ -n "$kids" ] && ! ps -o stat= -p ${kids// /,} | grep -qv "^Z"'

# --- SIGINT (Ctrl-C reaches the whole process group): exit 130, resumable
db="$work/int.db"
setsid "$vtsim" sweep "$work/kill.ini" --db "$db" --jobs 2 >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 1 600); do
	n="$(q "$db" "select count(*) from run" 2>/dev/null || echo 0)"
	if [ "${n:-0}" -ge 1 ]; then
		kill -INT -- "-$pid"
		break
	fi
	sleep 0.05
done
wait "$pid"; rc=$?
check "SIGINT stops the sweep with 130 and says how to resume" '[ $rc -eq 130 ] && grep -q "^vtsim sweep: interrupted; [0-9]* runs stored now, [0-9]* left: run the same command again$" "$work/err"'
"$vtsim" sweep "$work/kill.ini" --db "$db" >"$work/out" 2>"$work/err"; rc=$?
check "after SIGINT the rerun completes exactly 12 runs" '[ $rc -eq 0 ] && [ "$(q "$db" "select count(*) || \" \" || count(distinct config_key) from run")" = "12 12" ]'

# --- a failing run: reported in one line, the others stored, exit 1
printf 'I  0401ab70,3\n L 1fff000708,8\n S 1fff00zz08,8\n' >"$work/bad.lackey"
cat >"$work/fail.ini" <<EOF
[sweep]
traces = $src/tests/data/trace/fork.lackey, bad.lackey
modes  = native, ept
EOF
"$vtsim" sweep "$work/fail.ini" --db "$work/fail.db" --jobs 2 >"$work/out" 2>"$work/err"; rc=$?
check "failed runs make the sweep exit 1 at the end" '[ $rc -eq 1 ] && grep -q "^sweep fail: 4 runs: 2 stored now, 0 stored before, 2 failed, 0 not run;" "$work/out"'
check "each failed run is one line naming the run and the trace line" '[ "$(wc -l <"$work/err")" = 2 ] && grep -q "^vtsim sweep: run 3 (bad.lackey native): $work/bad.lackey:3: " "$work/err" && grep -q "^vtsim sweep: run 4 (bad.lackey ept): $work/bad.lackey:3: " "$work/err"'
check "the good runs are stored" '[ "$(q "$work/fail.db" "select group_concat(x) from (select trace_name || \" \" || mode as x from run order by x)")" = "fork.lackey ept,fork.lackey native" ]'

# --- bad grids: exit 2, one line "vtsim sweep: FILE:LINE: what", nothing run
grid_error() { # name, grid text, expected message after "vtsim sweep: "
	local want="vtsim sweep: $3"
	printf '%s' "$2" >"$work/g.ini"
	"$vtsim" sweep "$work/g.ini" --db "$work/g.db" >/dev/null 2>"$work/err"; rc=$?
	check "bad grid: $1" '[ $rc -eq 2 ] && [ "$(wc -l <"$work/err")" = 1 ] && [ "$(cat "$work/err")" = "$want" ] && [ ! -e "$work/g.db" ]'
}
t="$src/tests/data/trace/fork.lackey"
grid_error "a line that is no key nor section" $'[sweep]\ntraces = '"$t"$'\nthis line is wrong\n' \
	"$work/g.ini:3: expected [section] or NAME = VALUE"
# (the list of nearest names grows with the parameters: its start is checked)
printf '[sweep]\ntraces = %s\n\n[params]\ntlb.l2.entrys = 512\n' "$src/tests/data/trace/fork.lackey" >"$work/g.ini"
"$vtsim" sweep "$work/g.ini" --db "$work/g.db" >/dev/null 2>"$work/err"; rc=$?
check "bad grid: an unknown parameter, with the nearest names" '[ $rc -eq 2 ] && [ "$(wc -l <"$work/err")" = 1 ] && grep -q "^vtsim sweep: $work/g.ini:5: unknown parameter .tlb.l2.entrys.; did you mean one of: tlb\.[a-z0-9_.]*\.entries, " "$work/err" && [ ! -e "$work/g.db" ]'
grid_error "a bad value, on its continuation line" $'[sweep]\ntraces = '"$t"$'\n[params]\nvmx.vpid = on,\n  maybe\n' \
	"$work/g.ini:5: parameter vmx.vpid: 'maybe' is not on or off"
grid_error "an unknown section" $'[sweep]\ntraces = '"$t"$'\n[param]\n' \
	"$work/g.ini:3: unknown section [param] (sections: [sweep], [params])"
grid_error "an unknown [sweep] key" $'[sweep]\ntrace = '"$t"$'\n' \
	"$work/g.ini:2: unknown key 'trace' in [sweep] (keys: name, db, traces, modes)"
grid_error "a key given twice" $'[sweep]\ntraces = '"$t"$'\n[params]\nvmx.vpid = on\nvmx.vpid = off\n' \
	"$work/g.ini:5: 'vmx.vpid' is given twice in [params] (first at line 4)"
grid_error "a missing trace" $'[sweep]\ntraces = '"$t"$',\n  nosuch.lackey\n' \
	"$work/g.ini:3: trace $work/nosuch.lackey: No such file or directory"
grid_error "an unknown mode" $'[sweep]\ntraces = '"$t"$'\nmodes = native, nested\n' \
	"$work/g.ini:3: unknown mode 'nested'; available: native, shadow, ept"
grid_error "a range of a non-integer parameter" $'[sweep]\ntraces = '"$t"$'\n[params]\ncpu.base_cpi = 1..2\n' \
	"$work/g.ini:4: cpu.base_cpi: a range needs an integer parameter"
grid_error "a malformed range" $'[sweep]\ntraces = '"$t"$'\n[params]\ntlb.l2.entries = 512..2048 by 512\n' \
	"$work/g.ini:4: tlb.l2.entries: '512..2048 by 512' is not a range (A..B or A..B step S, decimal integers)"
grid_error "an empty range" $'[sweep]\ntraces = '"$t"$'\n[params]\ntlb.l2.entries = 2048..512\n' \
	"$work/g.ini:4: tlb.l2.entries: range '2048..512' is empty (needs A <= B and a step of at least 1)"
grid_error "a value twice" $'[sweep]\ntraces = '"$t"$'\n[params]\ntlb.l2.entries = 512, 256..512 step 256\n' \
	"$work/g.ini:4: tlb.l2.entries: the value 512 is given twice"
grid_error "a point whose parameters do not fit" $'[sweep]\ntraces = '"$t"$'\n[params]\ntlb.l2.ways = 4\ntlb.l2.entries = 512, 1536\n' \
	"$work/g.ini: the point tlb.l2.ways=4 tlb.l2.entries=1536: tlb.l2: 1536 entries / 4 ways = 384 sets, not a power of two"
grid_error "a key outside a section" $'traces = '"$t"$'\n' \
	"$work/g.ini:1: 'traces' is outside a section ([sweep] or [params])"
grid_error "nothing to run" $'[sweep]\nname = x\n' \
	"$work/g.ini: nothing to run: [sweep] needs traces = FILE, ... or workloads = NAME, ..."
grid_error "an empty list item" $'[sweep]\ntraces = '"$t"$',,'"$t"$'\n' \
	"$work/g.ini:2: 'traces': an empty item in the list"
grid_error "a line too long for inih" $'[sweep]\ntraces = '"$t"$'\n[params]\ntlb.l2.entries = '"$(printf '512, %.0s' $(seq 1 60))"$'512\n' \
	"$work/g.ini:4: line longer than 197 characters (continue a long value on indented lines)"
"$vtsim" sweep "$work/nosuch.ini" >/dev/null 2>"$work/err"; rc=$?
check "a missing grid file" '[ $rc -eq 2 ] && [ "$(cat "$work/err")" = "vtsim sweep: $work/nosuch.ini: No such file or directory" ]'
"$vtsim" sweep "$work/small.ini" --jobs 0 >/dev/null 2>"$work/err"; rc=$?
check "--jobs 0 is refused" '[ $rc -eq 2 ] && grep -q -- "--jobs takes a number of processes from 1 to 1024" "$work/err"'
check "sweep --help" '"$vtsim" sweep --help | grep -q "^Usage: vtsim sweep GRID.ini"'

# --- workloads as well as traces: 2 workloads x 2 points x 2 modes = 8 runs,
# stored as workload:NAME like `vtsim run --workload`; a rerun stores none;
# an unknown workload is refused with the list and its line.
printf '[sweep]\nname = wl\nworkloads = io-loop, matmul\nmodes = native, ept\n[params]\ntlb.l2.entries = 768, 1536\n' >"$work/wl.ini"
wdb="$work/wl.db"
"$vtsim" sweep "$work/wl.ini" --db "$wdb" --jobs 2 >"$work/out" 2>"$work/err"; rc=$?
check "a grid of workloads runs" '[ $rc -eq 0 ] && grep -q "^sweep wl: 8 runs: 8 stored now, 0 stored before, 0 failed, 0 not run; " "$work/out"'
check "workload runs stored as workload:NAME" '[ "$(q "$wdb" "select group_concat(n, '\'','\'') from (select trace_path || '\''/'\'' || mode || '\''='\'' || count(*) as n from run group by trace_path, mode order by trace_path, mode)")" = "workload:io-loop/ept=2,workload:io-loop/native=2,workload:matmul/ept=2,workload:matmul/native=2" ]'
"$vtsim" sweep "$work/wl.ini" --db "$wdb" --jobs 2 >"$work/out" 2>"$work/err"; rc=$?
check "a workload grid resumes: nothing to run again" '[ $rc -eq 0 ] && grep -q "^sweep wl: 8 runs: 0 stored now, 8 stored before, " "$work/out"'
printf '[sweep]\nworkloads = io-loop,\n  nosuch\nmodes = ept\n' >"$work/wl2.ini"
"$vtsim" sweep "$work/wl2.ini" --db "$work/wl2.db" >/dev/null 2>"$work/err"; rc=$?
check "an unknown workload is refused with its line" '[ $rc -eq 2 ] && grep -q "^vtsim sweep: .*wl2.ini:3: unknown workload .nosuch.; available: " "$work/err"'

echo "e2e_sweep: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
