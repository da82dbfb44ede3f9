#!/usr/bin/env bash
# End-to-end tests of `vtsim report`: the page of a sweep and of a
# comparison, checked as a file (every table and inline plot there, every
# link between runs resolving, ids unique, nothing loaded from elsewhere)
# and rendered in headless Chromium (Debian's chromium): no console message
# (errors and uncaught exceptions are logged there), and the page's own
# count of its tables and drawn plots equals what the file holds. The
# rendering part is skipped (exit 77), saying why, without chromium.
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
db="$work/r.db"
"$vtsim" sweep "$src/tests/data/sweep/small.ini" --db "$db" --jobs 2 >/dev/null 2>&1
group="$("$vtsim" compare --trace "$src/tests/data/trace/threads.lackey" --db "$db" | sed -n 's/^database .*, group //p')"
check "a sweep and a comparison to report on" '[ "$(sqlite3 "$db" "select count(*) from run")" = 15 ] && [ -n "$group" ]'

# Static checks of a page: tables, plots, links, ids, no outside resources.
page_checks() { # name, file, tables, plots, runs
	local name="$1" f="$2" tables="$3" plots="$4" runs="$5"
	check "$name: $tables tables" '[ "$(grep -o "<table" "$f" | wc -l)" = "$tables" ]'
	check "$name: $plots inline SVG plots" '[ "$(grep -o "<figure>" "$f" | wc -l)" = "$plots" ] && [ "$(grep -o "<svg " "$f" | wc -l)" = "$plots" ] && ! grep -q "<?xml" "$f"'
	check "$name: a row per run, each an anchor" '[ "$(grep -o "<tr id=\"run-[0-9]*\">" "$f" | wc -l)" = "$runs" ]'
	check "$name: every link between runs resolves" '(for l in $(grep -o "href=\"#run-[0-9]*\"" "$f" | sed "s/.*#//; s/\"//" | sort -u); do grep -q "id=\"$l\"" "$f" || exit 1; done) && [ "$(grep -o "href=\"#run-" "$f" | wc -l)" -gt 0 ]'
	check "$name: ids are unique" '[ -z "$(grep -o " id=\"[^\"]*\"" "$f" | sort | uniq -d)" ]'
	check "$name: nothing loaded from elsewhere" '! grep -Eq "(src|href)=\"(https?:|//|file:)" "$f" && ! grep -q "<link " "$f"'
}

"$vtsim" report --db "$db" --sweep small --out "$work/sweep.html" >"$work/out" 2>"$work/err"; rc=$?
check "sweep report written" '[ $rc -eq 0 ] && [ "$(cat "$work/out")" = "report   $work/sweep.html (3 plots)" ] && [ ! -s "$work/err" ]'
# tables: traces, grid, parameters, one side-by-side per trace (2), exits, runs = 7
page_checks "sweep page" "$work/sweep.html" 7 3 12
check "sweep page: title, grid and points" 'grep -q "<h1>vtsim report: sweep small</h1>" "$work/sweep.html" && grep -q "<tr><td>vmx.vpid</td><td>on, off</td></tr>" "$work/sweep.html" && [ "$(grep -c "<tr><td>vmx.vpid=o[nf]*</td>" "$work/sweep.html")" = 4 ]'
ept="$(sqlite3 "$db" "select r.id from run r join sweep_point p on p.run_id = r.id where p.trace_name = 'fork.lackey' and p.mode = 'ept' and p.point = 'vmx.vpid=on'")"
nat="$(sqlite3 "$db" "select r.id from run r join sweep_point p on p.run_id = r.id where p.trace_name = 'fork.lackey' and p.mode = 'native' and p.point = 'vmx.vpid=on'")"
check "sweep page: a run links to its native baseline" 'grep -q "<tr id=\"run-$ept\"><td>$ept</td><td>fork.lackey</td><td>ept</td><td>vmx.vpid=on</td>.*<a href=\"#run-$nat\">run $nat</a></td><td>" "$work/sweep.html"'

"$vtsim" report --db "$db" --group "$group" --out "$work/cmp.html" >/dev/null 2>"$work/err"; rc=$?
check "comparison report written" '[ $rc -eq 0 ] && [ ! -s "$work/err" ]'
# tables: traces, parameters, side by side, exits, runs = 5
page_checks "comparison page" "$work/cmp.html" 5 3 3
ncounters="$(sqlite3 "$db" "select count(*) from counter where run_id = (select min(id) from run where group_id = '$group')")"
check "comparison page: every counter side by side, and the overhead" '[ "$(sed -n "/<table class=\"side\">/,/<\/table>/p" "$work/cmp.html" | grep -c "^<tr><td>")" = $((ncounters + 1)) ] && grep -q "<tr><td>cpu.cycles</td>" "$work/cmp.html"'
"$vtsim" report --db "$db" --out "$work/latest.html" >/dev/null 2>&1; rc=$?
check "without --sweep or --group: the latest comparison" '[ $rc -eq 0 ] && grep -q "<h1>vtsim report: comparison $group</h1>" "$work/latest.html"'

# --- errors: one line, no page left behind
"$vtsim" report --db "$db" --sweep nosuch --out "$work/x.html" >/dev/null 2>"$work/err"; rc=$?
check "an unknown sweep" '[ $rc -eq 1 ] && [ "$(cat "$work/err")" = "vtsim report: $db: no sweep named '"'"'nosuch'"'"' (or it has no runs)" ] && [ ! -e "$work/x.html" ] && [ ! -e "$work/x.html.tmp" ]'
"$vtsim" report --db "$db" --sweep small --group "$group" --out "$work/x.html" >/dev/null 2>"$work/err"; rc=$?
check "--sweep and --group together" '[ $rc -eq 2 ] && grep -q "^vtsim report: --sweep or --group, not both$" "$work/err"'
"$vtsim" report --db "$db" >/dev/null 2>"$work/err"; rc=$?
check "no --out" '[ $rc -eq 2 ] && grep -q "^vtsim report: --out FILE.html is required$" "$work/err"'
"$vtsim" report --db "$db" --sweep small --out "$work/no/dir/x.html" >/dev/null 2>"$work/err"; rc=$?
check "an unwritable page" '[ $rc -eq 1 ] && [ "$(cat "$work/err")" = "vtsim report: $work/no/dir/x.html.tmp: cannot write: No such file or directory" ]'
check "report --help" '"$vtsim" report --help | grep -q "^Usage: vtsim report --out FILE.html"'

# --- rendered in headless Chromium
chromium=""
for c in chromium chromium-browser; do command -v "$c" >/dev/null && chromium="$c" && break; done
if [ -z "$chromium" ]; then
	echo "e2e_report: $pass passed, $fail failed"
	echo "SKIP: the rendering checks need Chromium (Debian package chromium; scripts/install-deps installs it)"
	[ "$fail" -eq 0 ] && exit 77
	exit 1
fi
render() { # page -> $work/dom, $work/console
	timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$work/chromium" \
		--enable-logging=stderr --v=0 --virtual-time-budget=5000 --dump-dom "file://$1" >"$work/dom" 2>"$work/chromium.err"
	local rc=$?
	grep "CONSOLE" "$work/chromium.err" >"$work/console"
	return $rc
}
for p in sweep cmp; do
	f="$work/$p.html"
	tables="$(grep -o "<table" "$f" | wc -l)"
	plots="$(grep -o "<figure>" "$f" | wc -l)"
	render "$f"; rc=$?
	check "$p page loads in Chromium with no console message" '[ $rc -eq 0 ] && [ ! -s "$work/console" ] && grep -q "</html>" "$work/dom"'
	[ -s "$work/console" ] && cat "$work/console"
	check "$p page shows every table and plot ($tables tables, $plots plots drawn)" 'grep -q "<p id=\"summary\" class=\"meta\">This page holds $tables tables and $plots plots ($plots drawn).</p>" "$work/dom" && [ "$(grep -o "data-drawn=\"yes\"" "$work/dom" | wc -l)" = "$plots" ]'
done
# The check itself sees console errors: a page with one fails it.
printf '<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title></head><body><script>console.error("boom")</script></body></html>\n' >"$work/bad.html"
render "$work/bad.html"
check "the console check catches an error" 'grep -q "\"boom\"" "$work/console"'

echo "e2e_report: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
