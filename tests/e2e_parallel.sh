#!/usr/bin/env bash
# `vtsim sweep --emit parallel`: the job list of a small grid run by GNU
# parallel (through its --sshlogin path, with ":" = this machine, so no ssh
# is needed), the shards merged with `vtsim db merge`, and the merged
# database checked equal to the same grid swept locally: the same runs
# (configuration keys), counters, exits and samples, and the sweep's links.
# Skipped (exit 77) when GNU parallel is not installed (Debian: parallel).
set -uo pipefail
: "${VTSIM_SRCDIR:?}" "${VTSIM_BUILDDIR:?}"
vtsim="$VTSIM_BUILDDIR/vtsim"
src="$VTSIM_SRCDIR"
if ! command -v parallel >/dev/null; then
	echo "SKIP: GNU parallel is not installed (Debian package parallel; scripts/install-deps installs it)"
	exit 77
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
# Everything a run is, by configuration key (ids differ between databases).
dump() {
	sqlite3 "$1" "select r.config_key, r.trace_checksum, r.mode, r.params_json, r.version, c.name, c.value
		from run r join counter c on c.run_id = r.id order by 1, 6;
		select r.config_key, e.reason, e.name, e.count, e.cycles from run r join exit e on e.run_id = r.id order by 1, 2;
		select r.config_key, x.cycle, x.name, x.value from run r join sample x on x.run_id = r.id order by 1, 2, 3;
		select s.name, r.config_key from sweep s join sweep_run sr on sr.sweep_id = s.id
		join run r on r.id = sr.run_id order by 1, 2;"
}

grid="$src/tests/data/sweep/small.ini"
"$vtsim" sweep "$grid" --emit parallel --shards 4 --db "$work/merged.db" >"$work/jobs" 2>"$work/err"; rc=$?
check "--emit parallel writes one job per shard" '[ $rc -eq 0 ] && [ "$(wc -l <"$work/jobs")" = 4 ] && [ "$(grep -c -- " --shard [0-3]/4 --jobs 1 --db '"'"'$work/merged.shards'"'"'/'"'"'small'"'"'-shard-[0-3].db$" "$work/jobs")" = 4 ]'
parallel --will-cite --halt now,fail=1 --sshlogin 2/: <"$work/jobs" >"$work/pout" 2>"$work/perr"; rc=$?
check "GNU parallel runs every shard (--sshlogin 2/:)" '[ $rc -eq 0 ] && [ "$(grep -c "^sweep small shard [0-3]/4: 3 runs: 3 stored now, 0 stored before, 0 failed, 0 not run;" "$work/pout")" = 4 ]'
"$vtsim" db merge "$work/merged.db" "$work"/merged.shards/*.db >"$work/out" 2>"$work/err"; rc=$?
check "the four shards merge into 12 runs" '[ $rc -eq 0 ] && [ "$(grep -c ": 3 runs added, 0 already in" "$work/out")" = 4 ] && [ "$(sqlite3 "$work/merged.db" "select count(*) || \" \" || count(distinct config_key) from run")" = "12 12" ]'
"$vtsim" sweep "$grid" --db "$work/local.db" --jobs 2 >/dev/null 2>&1
dump "$work/local.db" >"$work/local.txt"
dump "$work/merged.db" >"$work/merged.txt"
check "the merged database equals a local run of the grid" '[ -s "$work/local.txt" ] && cmp -s "$work/local.txt" "$work/merged.txt"'
check "the comparison covers counters, exits and samples" '[ "$(sqlite3 "$work/merged.db" "select (select count(*) from counter) > 0 and (select count(*) from exit) > 0 and (select count(*) from sample) > 0")" = 1 ]'
"$vtsim" sweep "$grid" --shard 4/4 >/dev/null 2>"$work/err"; rc=$?
check "--shard I/N needs I < N" '[ $rc -eq 2 ] && grep -q -- "--shard takes I/N with 0 <= I < N" "$work/err"'
"$vtsim" sweep "$grid" --emit parallel --list >/dev/null 2>"$work/err"; rc=$?
check "--emit does not go with --list" '[ $rc -eq 2 ] && grep -q -- "--emit writes the shards'"'"' commands: not with --list or --shard" "$work/err"'

echo "e2e_parallel: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
