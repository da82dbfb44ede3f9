#!/usr/bin/env bash
# Wall time of the shipped example grid (results/examples/tlb-sweep.ini,
# 48 runs) swept with --jobs 1 and with --jobs 2, each into a fresh
# database, the speed-up, and the CPU time the sweep and its run processes
# used (so that other load on the machine shows: CPU / wall below the
# number of jobs means the runs waited for a core). `make bench-sweep`;
# never part of `make check`, and it asserts no timing.
# Usage: bench/sweep_jobs.sh [VTSIM [GRID [REPEATS]]]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
vtsim="${1:-./vtsim}"
grid="${2:-$here/results/examples/tlb-sweep.ini}"
repeats="${3:-1}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
runs="$("$vtsim" sweep "$grid" --db "$work/list.db" --list | wc -l)"
echo "grid $grid: $runs runs, $(nproc) online CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
TIMEFORMAT='%R %U %S'
declare -A wall
for jobs in 1 2; do
	: >"$work/times"
	for _ in $(seq 1 "$repeats"); do
		rm -f "$work"/b.db*
		{ time "$vtsim" sweep "$grid" --db "$work/b.db" --jobs "$jobs" >"$work/out"; } 2>>"$work/times"
		stored="$(sqlite3 "$work/b.db" "select count(*) from run")"
		[ "$stored" = "$runs" ] || { echo "bench: --jobs $jobs stored $stored of $runs runs" >&2; exit 1; }
	done
	# The best (lowest wall) repeat.
	read -r r u s < <(sort -n "$work/times" | head -1)
	wall[$jobs]="$r"
	awk -v j="$jobs" -v r="$r" -v u="$u" -v s="$s" -v n="$repeats" 'BEGIN {
		printf "--jobs %d: %6.2f s wall (best of %d), %6.2f s CPU, %.2f cores busy\n", j, r, n, u + s, (u + s) / r }'
done
awk -v a="${wall[1]}" -v b="${wall[2]}" 'BEGIN { printf "speed-up --jobs 2 over --jobs 1: %.2fx\n", a / b }'
