#!/usr/bin/env bash
# End-to-end tests of `vtsim plot`: every preset and --sql on a small sweep,
# read back from the SVG gnuplot writes (titles, axis labels with units,
# legends, tick labels, number of series) and as PNG (signature and size);
# and the errors, each one line with its exit status.
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
q() { sqlite3 "$db" "$1"; }
# The texts of an SVG, one per line; its number of plotted series.
texts() { grep -o "<text>[^<]*</text>" "$1" | sed 's/<[^>]*>//g; s/^ *//; s/&amp;/\&/g; s/&#39;/'"'"'/g; s/&lt;/</g; s/&gt;/>/g'; }
nseries() { grep -c '<g id="gnuplot_plot_[0-9]*[a-z]*"' "$1"; }
has() { texts "$1" | grep -qxF -- "$2"; }
# PNG width and height from its IHDR chunk.
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%dx%d", $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8 }'; }

db="$work/p.db"
"$vtsim" sweep "$src/tests/data/sweep/small.ini" --db "$db" --jobs 2 >/dev/null 2>&1
check "the small sweep is stored (12 runs)" '[ "$(q "select count(*) from run")" = 12 ]'

# --- (a) overhead per mode per trace: grouped bars
"$vtsim" plot overhead --db "$db" --sweep small --out "$work/ov.svg" >"$work/out" 2>"$work/err"; rc=$?
f="$work/ov.svg"
check "overhead: written" '[ $rc -eq 0 ] && [ "$(cat "$work/out")" = "plot     $f" ] && [ ! -s "$work/err" ]'
check "overhead: title names the profile and the sweep" 'has "$f" "Overhead over native per trace, profile skylake, sweep small (mean over the sweep'"'"'s configurations)"'
check "overhead: axes with units" 'has "$f" "overhead over native (% of native cycles)" && has "$f" "trace"'
check "overhead: a bar group per trace, a bar per mode" 'has "$f" fork.lackey && has "$f" threads.lackey && has "$f" shadow && has "$f" ept && ! has "$f" native && [ "$(nseries "$f")" = 2 ]'
"$vtsim" plot overhead --db "$db" --trace fork.lackey --out "$work/ov.png" >/dev/null 2>&1; rc=$?
check "overhead: PNG, 1000x560" '[ $rc -eq 0 ] && [ "$(head -c 8 "$work/ov.png" | od -An -tx1 | tr -d " ")" = 89504e470d0a1a0a ] && [ "$(png_size "$work/ov.png")" = 1000x560 ]'

# --- (b) exits by reason: stacked bars, the latest run of each trace and mode
"$vtsim" plot exits --db "$db" --sweep small --out "$work/ex.svg" >/dev/null 2>"$work/err"; rc=$?
f="$work/ex.svg"
nreasons="$(q "select count(distinct name) from exit where run_id in (select max(id) from run where mode <> 'native' group by trace_name, mode)")"
check "exits: written" '[ $rc -eq 0 ] && [ ! -s "$work/err" ]'
check "exits: title and axes" 'has "$f" "VM exits by reason, profile skylake, latest run of each trace and mode in sweep small" && has "$f" "VM exits (count)" && has "$f" "run (trace, mode)"'
check "exits: a stack per reason" '[ "$(nseries "$f")" = "$nreasons" ] && has "$f" EXCEPTION_NMI && has "$f" EPT_VIOLATION'
r="$(q "select max(id) from run where trace_name = 'fork.lackey' and mode = 'ept'")"
check "exits: a bar per run, named" 'has "$f" "fork.lackey ept (run $r)" && [ "$(texts "$f" | grep -c " (run [0-9]*)$")" = 4 ]'
"$vtsim" plot exits --db "$db" --run "$r" --out "$work/ex1.svg" >/dev/null 2>&1; rc=$?
check "exits --run: one bar" '[ $rc -eq 0 ] && [ "$(texts "$work/ex1.svg" | grep -c " (run [0-9]*)$")" = 1 ] && has "$work/ex1.svg" "VM exits by reason, profile skylake"'

# --- (c) a sweep axis against a counter: lines per mode, a panel per trace
"$vtsim" plot sweep --db "$db" --sweep small --counter walk.count --out "$work/sw.svg" >/dev/null 2>"$work/err"; rc=$?
f="$work/sw.svg"
check "sweep: written" '[ $rc -eq 0 ] && [ ! -s "$work/err" ]'
check "sweep: title, panels per trace" 'has "$f" "walk.count against vmx.vpid, sweep small, profile skylake" && has "$f" fork.lackey && has "$f" threads.lackey'
check "sweep: axes with units" 'has "$f" "vmx.vpid (on/off)" && has "$f" "walk.count (walks)"'
check "sweep: a line per mode per panel, x ticks on and off" '[ "$(nseries "$f")" = 6 ] && [ "$(texts "$f" | grep -cx native)" = 2 ] && has "$f" on && has "$f" off'
"$vtsim" plot sweep --db "$db" --sweep small --trace threads.lackey --out "$work/sw.png" >/dev/null 2>&1; rc=$?
check "sweep: one trace, PNG 800x440" '[ $rc -eq 0 ] && [ "$(png_size "$work/sw.png")" = 800x440 ]'

# --- (d) interval samples over time
r="$(q "select max(id) from run where trace_name = 'threads.lackey' and mode = 'ept'")"
ns="$(q "select count(distinct cycle) from sample where run_id = $r")"
check "runs store interval samples, the last at the end" '[ "$ns" -ge 1 ] && [ "$(q "select max(cycle) from sample where run_id = $r")" = "$(q "select value from counter where run_id = $r and name = '\''cpu.cycles'\''")" ] && [ "$(q "select value from sample where run_id = $r and name = '\''walk.count'\'' order by cycle desc limit 1")" = "$(q "select value from counter where run_id = $r and name = '\''walk.count'\''")" ]'
"$vtsim" plot samples --db "$db" --run "$r" --out "$work/sm.svg" >/dev/null 2>"$work/err"; rc=$?
f="$work/sm.svg"
check "samples: title with trace, mode, profile and run" '[ $rc -eq 0 ] && has "$f" "Events per 1000 cycles over time, threads.lackey ept, profile skylake (run $r)"'
check "samples: axes and a line per counter" 'has "$f" "simulated time (million cycles)" && has "$f" "events per 1000 cycles" && [ "$(nseries "$f")" = 4 ] && has "$f" tlb.l2.miss && has "$f" guest.pf'

# --- --sql: 2 or 3 columns
"$vtsim" plot --db "$db" --sql "select trace_name, mode, avg(cycles) from run_summary group by 1, 2" --out "$work/s3.svg" >/dev/null 2>&1; rc=$?
check "--sql of 3 columns: bars per series with the column names as labels" '[ $rc -eq 0 ] && [ "$(nseries "$work/s3.svg")" = 2 ] && has "$work/s3.svg" mode && has "$work/s3.svg" "avg(cycles)" && has "$work/s3.svg" ept'
"$vtsim" plot --db "$db" --sql "select cycle, value from sample where run_id = $r and name = 'cpu.instructions'" --title "instructions" --xlabel "cycle (cycles)" --ylabel "instructions (count)" --out "$work/s2.svg" >/dev/null 2>&1; rc=$?
check "--sql of 2 numeric columns: a line, our labels" '[ $rc -eq 0 ] && [ "$(nseries "$work/s2.svg")" = 1 ] && has "$work/s2.svg" instructions && has "$work/s2.svg" "cycle (cycles)" && has "$work/s2.svg" "instructions (count)"'

# --- errors
plot_error() { # name, expected status, expected stderr first line, args...
	local name="$1" want_rc="$2" want="$3"
	shift 3
	"$vtsim" plot "$@" >/dev/null 2>"$work/err"; local got=$?
	check "error: $name" '[ $got -eq $want_rc ] && [ "$(head -1 "$work/err")" = "$want" ] && [ "$(wc -l <"$work/err")" -le 2 ]'
}
plot_error "unknown preset" 2 "vtsim plot: unknown preset (available: overhead, exits, sweep, samples)" pie --db "$db" --out "$work/x.png"
plot_error "no --out" 2 "vtsim plot: --out FILE.png or FILE.svg is required" overhead --db "$db"
plot_error "neither preset nor --sql" 2 "vtsim plot: say what to plot: a preset (overhead, exits, sweep, samples) or --sql QUERY" --db "$db" --out "$work/x.png"
plot_error "a bad extension" 1 "vtsim plot: --out $work/x.pdf: the file must end in .png or .svg" overhead --db "$db" --out "$work/x.pdf"
plot_error "a missing database" 1 "vtsim plot: $work/none.db: no results database there (runs create it)" overhead --db "$work/none.db" --out "$work/x.png"
plot_error "a query that writes" 1 "vtsim plot: $db: query: only a statement that reads rows is allowed" --db "$db" --sql "delete from run" --out "$work/x.png"
plot_error "two statements" 1 "vtsim plot: $db: query: one statement only (more after 'select 1, 2;')" --db "$db" --sql "select 1, 2; select 3, 4" --out "$work/x.png"
plot_error "four columns" 1 "vtsim plot: the query gives 4 columns; it must give 2 (x, y) or 3 (series, x, y)" --db "$db" --sql "select 1, 2, 3, 4" --out "$work/x.png"
plot_error "no rows" 1 "vtsim plot: nothing to plot: the query gives no rows" --db "$db" --sql "select 1, 2 where 0" --out "$work/x.png"
plot_error "a y that is no number" 1 "vtsim plot: row 1: y 'ept' is not a number" --db "$db" --sql "select 1, 'ept'" --out "$work/x.png"
plot_error "sweep without --sweep" 2 "vtsim plot: the sweep preset needs --sweep NAME" sweep --db "$db" --out "$work/x.png"
plot_error "an unknown sweep" 1 "vtsim plot: no sweep named 'big' in $db" sweep --sweep big --db "$db" --out "$work/x.png"
plot_error "an unknown axis" 1 "vtsim plot: sweep small has no axis 'tlb.l2.entries'" sweep --sweep small --axis tlb.l2.entries --db "$db" --out "$work/x.png"
plot_error "an unknown counter" 1 "vtsim plot: unknown counter 'walk.counts' (vtsim db export --csv --table counter lists them)" sweep --sweep small --counter walk.counts --db "$db" --out "$work/x.png"
plot_error "a counter not sampled" 1 "vtsim plot: counter 'cpu.cycles' is not sampled; sampled: cpu.instructions, tlb.l1d.miss, tlb.l2.miss, walk.count, walk.guest.refs, walk.ept.refs, vmx.exits, guest.pf" samples --run "$r" --counter cpu.cycles --db "$db" --out "$work/x.png"
plot_error "samples without --run" 2 "vtsim plot: the samples preset needs --run ID[,ID...]" samples --db "$db" --out "$work/x.png"
plot_error "overhead of a trace not there" 1 "vtsim plot: nothing to plot: no run with a native run of the same configuration of trace gzip" overhead --trace gzip --db "$db" --out "$work/x.png"
check "no file is left by a failed plot" '[ ! -e "$work/x.png" ] && [ ! -e "$work/x.pdf" ]'
check "plot --help" '"$vtsim" plot --help | grep -q "^Usage: vtsim plot PRESET"'

echo "e2e_plot: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
