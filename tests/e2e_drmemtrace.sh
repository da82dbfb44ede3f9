#!/usr/bin/env bash
# End-to-end tests of DynamoRIO drmemtrace input (issue 7, item 5) on the
# shared samples, read in place from $VTSIM_DRMEMTRACE
# (../shared/traces/drmemtrace): a comparison of each in native, shadow and
# ept; threadsig with its threads as threads and as processes; import to
# .vtt with every counter and exit identical to the direct read in every
# mode; trace info; corrupt archives (one line naming the file, nothing
# stored). Instruction counts are the fetch counts of tests/check_drmem.c.
set -uo pipefail
: "${VTSIM_SRCDIR:?}" "${VTSIM_BUILDDIR:?}" "${VTSIM_DRMEMTRACE:?}"
vtsim="$VTSIM_BUILDDIR/vtsim"
S="$VTSIM_DRMEMTRACE"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
if [ ! -d "$S/threadsig.x64.tracedir" ]; then
	echo "FAIL the drmemtrace samples are not at $S"
	echo "e2e_drmemtrace: 0 passed, 1 failed"
	exit 1
fi

ctr() { sqlite3 "$1" "select value from counter c join run r on r.id = c.run_id where r.id = $2 and c.name = '$3'"; }

# Direct read and its .vtt: every (mode, counter) pair and every exit equal.
same_as_vtt() { # db
	local q_src q_eq q_ex q_exn n
	q_src="select count(*) from counter c join run r on r.id = c.run_id where r.trace_format <> 'vtt'"
	q_eq="select count(*) from counter a join run ra on ra.id = a.run_id join run rb on rb.mode = ra.mode and rb.trace_format = 'vtt' join counter b on b.run_id = rb.id and b.name = a.name and b.value = a.value where ra.trace_format <> 'vtt'"
	q_ex="select count(*) from exit a join run ra on ra.id = a.run_id join run rb on rb.mode = ra.mode and rb.trace_format = 'vtt' join exit b on b.run_id = rb.id and b.reason = a.reason and b.count = a.count and b.cycles = a.cycles where ra.trace_format <> 'vtt'"
	q_exn="select count(*) from exit e join run r on r.id = e.run_id where r.trace_format <> 'vtt'"
	n="$(sqlite3 "$1" "$q_src")"
	[ "$(sqlite3 "$1" "select group_concat(mode) from (select mode from run order by id)")" = "native,shadow,ept,native,shadow,ept" ] &&
		[ "$n" -gt 300 ] && [ "$(sqlite3 "$1" "$q_eq")" = "$n" ] &&
		[ "$(sqlite3 "$1" "$q_exn")" -gt 0 ] && [ "$(sqlite3 "$1" "$q_ex")" = "$(sqlite3 "$1" "$q_exn")" ]
}

# --- each sample: compare in every mode, then its .vtt
for spec in "allasm_x86_64.trace.zip|thread|133|1|drmemtrace" "simple_app.trace.zip|thread|136412|1|drmemtrace" \
	"threadsig.x64.tracedir|thread|650702|1|drmemtrace set" "threadsig.x64.tracedir|process|650702|9|drmemtrace set"; do
	IFS='|' read -r src how instr procs fmt <<<"$spec"
	name="${src%%.*}-$how"
	db="$work/$name.db"
	"$vtsim" compare --trace "$S/$src" --set trace.threads="$how" --db "$db" >"$work/out" 2>"$work/err"; rc=$?
	check "$src ($how): compare in native, shadow and ept" '[ $rc -eq 0 ] && [ ! -s "$work/err" ] && [ "$(sqlite3 "$db" "select group_concat(mode) from (select mode from run order by id)")" = "native,shadow,ept" ]'
	check "$src ($how): format and instructions" '[ "$(sqlite3 "$db" "select distinct trace_format from run")" = "$fmt" ] && [ "$(sqlite3 "$db" "select group_concat(value) from (select value from counter where name = '\''cpu.instructions'\'' order by run_id)")" = "$instr,$instr,$instr" ]'
	check "$src ($how): $procs guest processes at the peak" 'grep -q "^processes (peak) *$procs *$procs *$procs$" "$work/out"'
	"$vtsim" trace import --threads "$how" "$S/$src" "$work/$name.vtt" >"$work/imp" 2>"$work/err"; rc=$?
	check "$src ($how): trace import" '[ $rc -eq 0 ] && [ ! -s "$work/err" ] && grep -q "^imported   $S/$src ($fmt, [0-9]* bytes)$" "$work/imp" && grep -q "^processes  $procs$" "$work/imp"'
	"$vtsim" compare --trace "$work/$name.vtt" --db "$db" >/dev/null 2>&1; rc=$?
	check "$src ($how): the .vtt replays with every counter and exit identical in native, shadow and ept" '[ $rc -eq 0 ] && same_as_vtt "$db"'
done

# Threads as threads: one process, eight threads created; as processes: nine.
db="$work/threadsig-thread.db"
check "threadsig as threads: 8 thread creations, 1 exit" '[ "$(ctr "$db" 1 guest.proc.create)" = 8 ] && [ "$(ctr "$db" 1 guest.proc.exit)" = 1 ]'
db="$work/threadsig-process.db"
check "threadsig as processes: 8 creations, 9 exits" '[ "$(ctr "$db" 1 guest.proc.create)" = 8 ] && [ "$(ctr "$db" 1 guest.proc.exit)" = 9 ]'

# --- trace info
"$vtsim" trace info "$S/threadsig.x64.tracedir" >"$work/info" 2>&1; rc=$?
check "trace info of the threadsig directory" '[ $rc -eq 0 ] && grep -q "^format *drmemtrace set, version 7$" "$work/info" && grep -q "^threads *9, as threads$" "$work/info" && grep -q "^processes *1 (root 872805)$" "$work/info" && grep -q "^fetch *650702$" "$work/info" && grep -q "^load *172208$" "$work/info" && grep -q "^store *100150$" "$work/info"'
"$vtsim" trace info --threads process "$S/threadsig.x64.tracedir" >"$work/info" 2>&1; rc=$?
check "trace info --threads process" '[ $rc -eq 0 ] && grep -q "^processes *9 (root 872805)$" "$work/info" && grep -q "^  process 872884 *221887 events$" "$work/info"'
"$vtsim" trace info "$S/allasm_x86_64.trace.zip" >"$work/info" 2>&1; rc=$?
check "trace info of allasm" '[ $rc -eq 0 ] && grep -q "^format *drmemtrace, version 6$" "$work/info" && grep -q "^fetch *133$" "$work/info" && grep -q "^distinct 4 KiB pages *1 " "$work/info"'

# --- corrupt and foreign archives: one line naming the file, nothing stored
db="$work/bad.db"
head -c 1000 "$S/allasm_x86_64.trace.zip" >"$work/cut.trace.zip"
"$vtsim" run --trace "$work/cut.trace.zip" --mode ept --db "$db" >/dev/null 2>"$work/err"; rc=$?
check "a truncated archive: one line" '[ $rc -eq 1 ] && [ "$(cat "$work/err")" = "vtsim: $work/cut.trace.zip: not a readable zip archive: Not a zip archive" ]'
"$vtsim" run --trace "$S/threadsig.x64.tracedir/cpu_schedule.bin.zip" --mode ept --db "$db" >/dev/null 2>"$work/err"; rc=$?
check "a zip that is not a drmemtrace trace: one line" '[ $rc -eq 1 ] && [ "$(wc -l <"$work/err")" = 1 ] && grep -q "^vtsim: $S/threadsig.x64.tracedir/cpu_schedule.bin.zip: unexpected member " "$work/err"'
"$vtsim" trace import "$work/cut.trace.zip" "$work/cut.vtt" >/dev/null 2>"$work/err"; rc=$?
check "trace import of a truncated archive: the reader's line, nothing written" '[ $rc -eq 1 ] && [ "$(wc -l <"$work/err")" = 1 ] && [ -z "$(ls "$work" | grep "^cut.vtt")" ]'
check "nothing stored for the bad archives" '[ "$(sqlite3 "$db" "select count(*) from run" 2>/dev/null || echo 0)" = 0 ]'
"$vtsim" trace info --threads sideways "$S/allasm_x86_64.trace.zip" >/dev/null 2>"$work/err"; rc=$?
check "--threads takes thread or process" '[ $rc -eq 2 ]'

echo "e2e_drmemtrace: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
