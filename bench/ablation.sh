#!/usr/bin/env bash
# The paging-structure-cache ablation of issue 5 on the shipped traces:
# native vs EPT with (a) no PWCs, (b) guest-dimension PWCs, (c) both
# dimensions, (d) plus the nested TLB, (e) plus 2 MiB EPT backing.
# Prints one markdown table: references per walk, walk cycles, and the
# overhead of EPT over native for each configuration.
# Usage: bench/ablation.sh [VTSIM] [TRACE...]   (run from the build dir)
set -euo pipefail
vtsim=${1:-./vtsim}
shift || true
srcdir=${VTSIM_SRCDIR:-$(dirname "$0")/..}
traces=("$@")
[ ${#traces[@]} -gt 0 ] || traces=("$srcdir"/traces/sort.lackey.zst "$srcdir"/traces/gzip.lackey.zst "$srcdir"/traces/sqlite3.lackey.zst "$srcdir"/traces/pipeline.d)
g0="--set pwc.guest.pml4e.entries=0 --set pwc.guest.pdpte.entries=0 --set pwc.guest.pde.entries=0"
e0="--set pwc.ept.pml4e.entries=0 --set pwc.ept.pdpte.entries=0 --set pwc.ept.pde.entries=0"
n0="--set ntlb.entries=0"
declare -A cfg=(
	[a]="$g0 $e0 $n0"
	[b]="$e0 $n0"
	[c]="$n0"
	[d]=""
	[e]="--set vmm.backing=2m"
)
# Column c (1 = label) of the compare row whose label is k.
row() { awk -v k="$1" -v c="$2" '{ l = $0; sub(/^ +/, "", l) } index(l, k) == 1 && substr(l, length(k) + 1, 2) == "  " { split(l, f, /  +/); print f[c] }'; }
echo "| trace | config | native refs/walk | EPT refs/walk | EPT walk cycles | EPT cycles/walk | translation overhead | EPT exit + VMM cycles | EPT overhead over native |"
echo "|---|---|---|---|---|---|---|---|---|"
for t in "${traces[@]}"; do
	for k in a b c d e; do
		# shellcheck disable=SC2086
		out=$("$vtsim" compare --trace "$t" --modes native,ept --no-store ${cfg[$k]})
		nrpw=$(row "walk refs per walk" 2 <<<"$out")
		erpw=$(row "walk refs per walk" 3 <<<"$out")
		ewc=$(row "cycles: page walks" 3 <<<"$out")
		ntlb=$(row "cycles: L2 TLB hits" 2 <<<"$out")
		etlb=$(row "cycles: L2 TLB hits" 3 <<<"$out")
		nwc=$(row "cycles: page walks" 2 <<<"$out")
		ncyc=$(row "cycles" 2 <<<"$out")
		exits=$(row "cycles: VM exit/entry" 3 <<<"$out")
		vmm=$(row "cycles: VMM" 3 <<<"$out")
		ewalks=$(row "page walks" 3 <<<"$out")
		ov=$(row "overhead over native" 3 <<<"$out")
		cpw=$(awk -v a="$ewc" -v b="$ewalks" 'BEGIN { printf "%.1f", b ? a / b : 0 }')
		# Translation overhead: EPT's walk + STLB-hit cycles beyond native's, over native cycles.
		xov=$(awk -v e="$ewc" -v et="$etlb" -v n="$nwc" -v nt="$ntlb" -v c="$ncyc" 'BEGIN { printf "%.2f%%", 100 * (e + et - n - nt) / c }')
		echo "| $(basename "$t") | $k | $nrpw | $erpw | $ewc | $cpw | $xov | $((exits + vmm)) | $ov |"
	done
done
