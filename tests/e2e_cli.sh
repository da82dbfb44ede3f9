#!/usr/bin/env bash
# End-to-end tests of the vtsim command on a shipped real trace: the
# acceptance commands of the foundation issue, and the error paths (bad
# trace line, bad option, unwritable database) with their exact messages.
set -uo pipefail
: "${VTSIM_SRCDIR:?}" "${VTSIM_BUILDDIR:?}"
vtsim="$VTSIM_BUILDDIR/vtsim"
trace="$VTSIM_SRCDIR/traces/sort.lackey.zst"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

# --- compare stores both runs and prints the side-by-side table
db="$work/r.db"
out="$("$vtsim" compare --trace "$trace" --db "$db" 2>"$work/err")"; rc=$?
check "compare exits 0" '[ $rc -eq 0 ]'
check "compare prints overhead row" 'grep -q "^overhead over native" <<<"$out"'
check "compare prints exits by reason" 'grep -q "exit EPT_VIOLATION" <<<"$out"'
check "three runs stored" '[ "$(sqlite3 "$db" "select count(*) from run")" = 3 ]'
check "modes stored" '[ "$(sqlite3 "$db" "select group_concat(mode) from (select mode from run order by id)")" = "native,shadow,ept" ]'
check "overhead view has the shadow and ept runs" '[ "$(sqlite3 "$db" "select group_concat(mode) from (select mode from overhead order by run_id)")" = "shadow,ept" ]'
# The stored cycles equal the printed ones.
printed_ept="$(awk '$1 == "cycles" {print $4; exit}' <<<"$out")"
stored_ept="$(sqlite3 "$db" "select value from counter c join run r on r.id = c.run_id where r.mode = 'ept' and c.name = 'cpu.cycles'")"
check "stored cycles = printed cycles" '[ -n "$printed_ept" ] && [ "$printed_ept" = "$stored_ept" ]'
# Native and EPT replay the same instructions; only EPT has EPT refs and exits.
check "same instructions both modes" '[ "$(sqlite3 "$db" "select count(distinct value) from counter where name = '\''cpu.instructions'\''")" = 1 ]'
check "shadow exits on #PF, CR3 loads and INVLPG" '[ "$(sqlite3 "$db" "select group_concat(name) from (select e.name from exit e join run r on r.id = e.run_id where r.mode = '\''shadow'\'' order by e.reason)")" = "EXCEPTION_NMI,HLT,INVLPG,CR_ACCESS" ]'
check "native has no VM exits" '[ "$(sqlite3 "$db" "select value from counter c join run r on r.id = c.run_id where r.mode = '\''native'\'' and c.name = '\''vmx.exits'\''")" = 0 ]'
check "ept exits stored by reason" '[ "$(sqlite3 "$db" "select count(*) from exit e join run r on r.id = e.run_id where r.mode = '\''ept'\'' and e.name = '\''EPT_VIOLATION'\''")" = 1 ]'
# Runs are deterministic: a second run gives the same cycles.
"$vtsim" run --trace "$trace" --mode ept --db "$db" >/dev/null 2>&1
check "deterministic cycles" '[ "$(sqlite3 "$db" "select count(distinct value) from counter c join run r on r.id = c.run_id where r.mode = '\''ept'\'' and c.name = '\''cpu.cycles'\''")" = 1 ]'

# --- db export --csv
"$vtsim" db export --csv --db "$db" >"$work/sum.csv" 2>"$work/err"; rc=$?
check "db export --csv writes run_summary with a header" '[ $rc -eq 0 ] && [ "$(head -1 "$work/sum.csv")" = "id,group_id,trace_name,mode,cycles,instructions,exits" ] && [ "$(($(wc -l <"$work/sum.csv") - 1))" = "$(sqlite3 "$db" "select count(*) from run")" ]'
"$vtsim" db export --csv --db "$db" --table overhead --out "$work/ov.csv" 2>/dev/null; rc=$?
check "db export of the overhead view matches sqlite3" '[ $rc -eq 0 ] && [ "$(tail -n +2 "$work/ov.csv" | cut -d, -f1 | paste -sd,)" = "$(sqlite3 "$db" "select group_concat(run_id) from (select run_id from overhead)")" ]'
"$vtsim" db export --csv --db "$db" --table nosuch >/dev/null 2>"$work/err"; rc=$?
check "db export refuses an unknown table" '[ $rc -eq 1 ] && grep -q "no table or view .nosuch." "$work/err"'
"$vtsim" db export --csv --db "$work/none.db" >/dev/null 2>"$work/err"; rc=$?
check "db export of a missing database fails without creating it" '[ $rc -eq 1 ] && [ ! -e "$work/none.db" ] && grep -q "no results database" "$work/err"'

# --- --plot draws with gnuplot
"$vtsim" compare --trace "$trace" --no-store --plot "$work/cmp.png" >/dev/null 2>"$work/err"; rc=$?
check "compare --plot writes a PNG" '[ $rc -eq 0 ] && [ "$(head -c 4 "$work/cmp.png" | od -An -tx1 | tr -d " ")" = "89504e47" ]'
"$vtsim" compare --trace "$trace" --no-store --modes native,ept --plot "$work/cmp.svg" >/dev/null 2>"$work/err"; rc=$?
check "compare --plot writes an SVG" '[ $rc -eq 0 ] && grep -q "<svg" "$work/cmp.svg"'
"$vtsim" compare --trace "$trace" --no-store --modes native --plot "$work/cmp.pdf" >/dev/null 2>"$work/err"; rc=$?
check "--plot refuses an unknown extension" '[ $rc -eq 1 ] && grep -q "must end in .png or .svg" "$work/err"'

# --- a malformed trace line: one-line error with file:line, status != 0, no row
bad_trace="$work/bad.lackey"
printf 'I  0401ab70,3\n L 1fff000708,8\n S 1fff00zz08,8\nI  0401ab73,5\n' >"$bad_trace"
n_before="$(sqlite3 "$db" "select count(*) from run")"
"$vtsim" run --trace "$bad_trace" --mode native --db "$db" >"$work/out" 2>"$work/err"; rc=$?
check "malformed trace exits non-zero" '[ $rc -ne 0 ]'
check "malformed trace error is one line naming file:3" '[ "$(wc -l <"$work/err")" = 1 ] && grep -q "^vtsim: $bad_trace:3: " "$work/err"'
check "malformed trace stores nothing" '[ "$(sqlite3 "$db" "select count(*) from run")" = "$n_before" ]'
# A truncated compressed trace.
head -c 2000 "$trace" >"$work/trunc.zst"
"$vtsim" run --trace "$work/trunc.zst" --mode ept --db "$db" >/dev/null 2>"$work/err"; rc=$?
check "truncated zstd trace fails with one line" '[ $rc -ne 0 ] && [ "$(wc -l <"$work/err")" = 1 ] && grep -q "trunc.zst" "$work/err"'
check "truncated trace stores nothing" '[ "$(sqlite3 "$db" "select count(*) from run")" = "$n_before" ]'

# --- a trace set (a directory of per-process logs, traces/pipeline.d)
set_dir="$VTSIM_SRCDIR/traces/pipeline.d"
"$vtsim" compare --trace "$set_dir/" --db "$db" >/dev/null 2>"$work/err"; rc=$?
check "a trace set runs in every mode" '[ $rc -eq 0 ]'
check "a trace set is stored with its name, checksum and format" '[ "$(sqlite3 "$db" "select distinct trace_name || '\'' '\'' || trace_checksum || '\'' '\'' || trace_format from run where trace_name = '\''pipeline.d'\''")" = "pipeline.d 335b25d70380ce18 lackey+zstd set" ]'
check "a trace set runs its five processes in every mode" '[ "$(sqlite3 "$db" "select group_concat(c.value) from counter c join run r on r.id = c.run_id where r.trace_name = '\''pipeline.d'\'' and c.name = '\''guest.proc.peak'\''")" = "5,5,5" ]'
mkdir "$work/set" && cp "$set_dir/trace.20013.1.zst" "$work/set/"
"$vtsim" run --trace "$work/set" --mode native --no-store >/dev/null 2>"$work/err"; rc=$?
check "a set without a child's log fails with one line" '[ $rc -ne 0 ] && [ "$(wc -l <"$work/err")" = 1 ] && grep -q "no log for process 20014, created at $work/set/trace.20013.1.zst:" "$work/err"'

# --- CPU profiles: --profile P is a base that every --set overrides
out="$("$vtsim" compare --trace "$trace" --modes native,ept --profile nehalem --db "$db" 2>"$work/err")"; rc=$?
check "compare --profile nehalem exits 0" '[ $rc -eq 0 ]'
check "the compare header names the profile" 'grep -q "^params   profile=nehalem " <<<"$out"'
check "the profile is stored in params_json" '[ "$(sqlite3 "$db" "select count(*) from run where params_json like '\''%\"cpu.profile\":\"nehalem\"%'\'' and params_json like '\''%\"mem.dram_cycles\":181,%'\''")" = 2 ]'
check "nehalem changes ept cycles against skylake" '[ "$(sqlite3 "$db" "select count(distinct c.value) from counter c join run r on r.id = c.run_id where r.mode = '\''ept'\'' and r.trace_name = '\''sort.lackey.zst'\'' and c.name = '\''cpu.cycles'\''")" = 2 ]'
check "skylake (the defaults) is stored by name" '[ "$(sqlite3 "$db" "select count(*) from run where params_json like '\''%\"cpu.profile\":\"skylake\"%'\''")" -gt 0 ]'
"$vtsim" run --trace "$trace" --mode native --no-store --set mem.dram_cycles=333 --profile nehalem >"$work/out" 2>"$work/err"; rc=$?
check "--set overrides the profile whatever the order" '[ $rc -eq 0 ] && grep -q "^params   profile=nehalem .*cache 4/10/42/333 cycles$" "$work/out"'
"$vtsim" run --trace "$trace" --mode ept --profile zen4 >/dev/null 2>"$work/err"; rc=$?
check "an unknown profile is refused with the list" '[ $rc -eq 2 ] && grep -q "unknown profile .zen4.; available: nehalem, skylake, sapphirerapids" "$work/err"'
"$vtsim" run --trace "$trace" --mode ept --set cpu.profile=zen4 >/dev/null 2>"$work/err"; rc=$?
check "an unknown profile via --set is refused" '[ $rc -eq 2 ] && grep -q "unknown profile .zen4." "$work/err"'
check "params --profile shows the profile's values" '"$vtsim" params --profile nehalem | grep "^vmx.roundtrip_cycles .*950.*vmlatency" >/dev/null'
check "params lists each profile's value" '"$vtsim" params | grep "^vmx.roundtrip_cycles  *630  *950  *630  *500 " >/dev/null'

# --- explain walk: the reference list against the hand-worked one
# Layout (src/cli/explain.c): guest tables PML4 GPA 0x1000, PDPT 0x2000, PD
# 0x3000, PT 0x4000; guest RAM at HPA GPA + 0x100000000; EPT PML4 HPA
# 0x200000, then PDPT 0x201000, PD 0x202000, PT 0x203000 (for GPAs below
# 2 MiB) and PD 0x204000, PT 0x205000 for the data GPA 0x40000123 (EPT
# PDPTE index 1). GVA 0x7f0000001123: guest indices 254, 0, 0, 1, so the
# guest entries are at GPA 0x17f0, 0x2000, 0x3000, 0x4008. With every cache
# off each guest entry's GPA takes a 4-step EPT walk (its EPT PTE at
# 0x203000 + 8 x page number), then the guest read; the data GPA 4 more.
explain_refs() { awk '$1 ~ /^[0-9]+$/ && $2 ~ /^(EPT|guest|shadow)$/ { if ($2 == "EPT") printf "%s:%s ", $3, $8; else printf "%s:%s:%s ", $2, $3, $5 }'; }
off="--set pwc.guest.pml4e.entries=0 --set pwc.guest.pdpte.entries=0 --set pwc.guest.pde.entries=0 --set pwc.ept.pml4e.entries=0 --set pwc.ept.pdpte.entries=0 --set pwc.ept.pde.entries=0 --set ntlb.entries=0"
"$vtsim" explain walk --gva 0x7f0000001123 $off >"$work/x" 2>"$work/err"; rc=$?
want="PML4E:0x200000 PDPTE:0x201000 PDE:0x202000 PTE:0x203008 guest:PML4E:0x1000017f0 "
want+="PML4E:0x200000 PDPTE:0x201000 PDE:0x202000 PTE:0x203010 guest:PDPTE:0x100002000 "
want+="PML4E:0x200000 PDPTE:0x201000 PDE:0x202000 PTE:0x203018 guest:PDE:0x100003000 "
want+="PML4E:0x200000 PDPTE:0x201000 PDE:0x202000 PTE:0x203020 guest:PTE:0x100004008 "
want+="PML4E:0x200000 PDPTE:0x201008 PDE:0x204000 PTE:0x205000 "
check "explain: cold 2D walk, caches off, lists the 24 hand-worked references" '[ $rc -eq 0 ] && [ "$(explain_refs <"$work/x")" = "$want" ]'
# Lines from DRAM: 0x200000, 0x201000, 0x202000, 0x203000 (all four EPT
# PTEs share it), the four guest entries, 0x204000 and 0x205000 = 10 x 289;
# the other 14 hit L1D, 4 cycles each: 2890 + 56 = 2946.
check "explain: 24 references, 2946 cycles" 'grep -q "^24 references (4 guest + 20 EPT), 0 A/D writes, 2946 cycles$" "$work/x"'
check "explain: the final translation" 'grep -q "^result: GVA 0x7f0000001123 -> GPA 0x40000123 -> HPA 0x140000123 (cached in the TLB as a 4 KiB page)$" "$work/x"'
# Warm, default caches: the neighbouring page's walk left the guest PDE
# cache entry (start at the PT), the nested-TLB entry for the PT's GPA and
# the EPT PDE-cache entry for the data GPA's PT: 1 guest + 1 EPT reference,
# both lines in L1D (the neighbour's entries share them).
"$vtsim" explain walk --gva 0x7f0000001123 --warm >"$work/x" 2>"$work/err"; rc=$?
check "explain: warm 2D walk is 2 references" '[ $rc -eq 0 ] && [ "$(explain_refs <"$work/x")" = "guest:PTE:0x100004008 PTE:0x205000 " ] && grep -q "^2 references (1 guest + 1 EPT), 0 A/D writes, 8 cycles$" "$work/x"'
check "explain: warm walk shows the hits that skipped references" 'grep -q "guest PDE cache hit" "$work/x" && grep -q "nested TLB hit: GPA 0x4008 -> HPA 0x100004008" "$work/x" && grep -q "EPT PDE cache hit for GPA 0x40000123" "$work/x"'
# A 2 MiB guest page under 2 MiB EPT pages, caches off: 3 x (3 + 1) + 3 = 15.
"$vtsim" explain walk --gva 0x7f0000001123 --guest-page 2m --backing 2m $off >"$work/x" 2>"$work/err"; rc=$?
check "explain: 2 MiB under 2 MiB EPT is 15 references" '[ $rc -eq 0 ] && grep -q "^15 references (3 guest + 12 EPT)" "$work/x" && grep -q "as a 2 MiB page" "$work/x"'
# 5-level paging under 5-level EPT, caches off: 5 x (5 + 1) + 5 = 35.
"$vtsim" explain walk --gva 0x7f0000001123 --levels 5 --ept-levels 5 --profile sapphirerapids $off >"$work/x" 2>"$work/err"; rc=$?
check "explain: 5-level under 5-level EPT is 35 references" '[ $rc -eq 0 ] && grep -q "^35 references (5 guest + 30 EPT)" "$work/x" && ! grep -q "^note" "$work/x"'
"$vtsim" explain walk --gva 0x7f0000001123 --fault --access write >"$work/x" 2>"$work/err"; rc=$?
check "explain: EPT violation with its qualification" '[ $rc -eq 0 ] && grep -q "^fault: EPT violation, VM exit reason 48, guest-physical address 0x40000123, qualification 0x182 " "$work/x"'
"$vtsim" explain walk --gva 0x7f0000001123 --mode native --fault >"$work/x" 2>"$work/err"; rc=$?
check "explain: native #PF error code" '[ $rc -eq 0 ] && grep -q "^fault: #PF, error code 0x4 (not present, read, user)$" "$work/x"'
"$vtsim" explain walk --gva 0x800000000000 >/dev/null 2>"$work/err"; rc=$?
check "explain: a non-canonical GVA is refused" '[ $rc -eq 1 ] && grep -q "not canonical for 4-level paging" "$work/err"'
"$vtsim" explain walk --gva 0x1000 --guest-page 3m >/dev/null 2>"$work/err"; rc=$?
check "explain: a bad page size is refused" '[ $rc -eq 2 ] && grep -q "takes 4k, 2m or 1g" "$work/err"'
# --- explain dma: one DMA request through the VT-d unit, against the hand-worked list
# The driver's host frames come from 0x1000000 in order: root table 0x1000000,
# invalidation queue 0x1001000, wait status 0x1002000, domain 1's SL-PML4
# 0x1003000, bus 0's context table 0x1004000, then SL-PDPT 0x1005000, SL-PD
# 0x1006000, SL-PT 0x1007000 for the window at IOVA 0x40000000. Device 00:02.0
# (devfn 0x10): root entry 0 at 0x1000000 = 0x1004001 (P); context entry at
# 0x1004000 + 16 x 0x10 = 0x1004100, low qword 0x1003001 (P, TT 00), high 0x102
# (AW 2, DID 1). IOVA 0x40001123: SL indices 0, 1, 0, 1, so the entries are at
# 0x1003000, 0x1005008, 0x1006000, 0x1007008, each R|W (3) over the next table,
# the PTE over HPA 0x140001000. 6 references x iommu.mem_read_cycles 1000.
dma_refs() { awk '$1 ~ /^[0-9]+$/ { for (i = 2; i < NF; i++) if ($i ~ /^0x[0-9a-f]+$/) { printf "%s:%s ", $i, $(i + 1); break } }'; }
"$vtsim" explain dma >"$work/x" 2>"$work/err"; rc=$?
want="0x1000000:0x0000000001004001 0x1004100:0x0000000001003001 0x1003000:0x0000000001005003 "
want+="0x1005008:0x0000000001006003 0x1006000:0x0000000001007003 0x1007008:0x0000000140001003 "
check "explain dma: cold, the 6 hand-worked references" '[ $rc -eq 0 ] && [ "$(dma_refs <"$work/x")" = "$want" ]'
check "explain dma: context entry decoded" 'grep -q "P TT=00 (untranslated) AW=2 (48-bit, 4-level) DID=1 -> SL table 0x1003000 (high qword 0x102)" "$work/x"'
check "explain dma: misses, 6000 cycles, the HPA" 'grep -q "^context cache: miss for source-id 0x0010" "$work/x" && grep -q "^IOTLB: miss for domain 1, IOVA 0x40001123: second-level walk, 4 levels$" "$work/x" && grep -q "^6 references, 6000 cycles$" "$work/x" && grep -q "^result: IOVA 0x40001123 -> HPA 0x140001123 (a 4 KiB page, RW; cached in the IOTLB for domain 1)$" "$work/x"'
# Warm: the neighbouring page 0x40002000 left the context entry and the
# SL-PDE for IOVA[47:21] cached: one reference, the SL-PTE.
"$vtsim" explain dma --warm >"$work/x" 2>"$work/err"; rc=$?
check "explain dma: warm is the SL-PTE alone" '[ $rc -eq 0 ] && [ "$(dma_refs <"$work/x")" = "0x1007008:0x0000000140001003 " ] && grep -q "^context cache: hit" "$work/x" && grep -q "SL-PDE cache hit" "$work/x" && grep -q "^1 references, 1000 cycles$" "$work/x"'
# 1 GiB pages: the window is two 1 GiB leaves, SL-PDPE[1] at 0x1005008 maps
# HPA 0x140000000 (R|W|PS = 0x83): 4 references.
"$vtsim" explain dma --page 1g >"$work/x" 2>"$work/err"; rc=$?
check "explain dma: a 1 GiB leaf is 4 references" '[ $rc -eq 0 ] && grep -q "0x1005008    0x0000000140000083" "$work/x" && grep -q "^4 references, 4000 cycles$" "$work/x" && grep -q "(a 1 GiB page" "$work/x"'
# Outside the domain: IOVA 0x80000000 has SL-PDPE index 2, not present: a
# write faults with 0x05 after 4 references; FRCD0 (0x400) reads hi
# 0x8000000500000010 (F, T = 0, FR 5, SID 0x0010), lo 0x80000000.
"$vtsim" explain dma --iova 0x80000000 --access write >"$work/x" 2>"$work/err"; rc=$?
want="0x1000000:0x0000000001004001 0x1004100:0x0000000001003001 0x1003000:0x0000000001005003 0x1005010:0x0000000000000000 "
check "explain dma: blocked, the 4 references" '[ $rc -eq 0 ] && [ "$(dma_refs <"$work/x")" = "$want" ]'
check "explain dma: the fault and its record" 'grep -q "^blocked: the DMA write of IOVA 0x80000000 faults with reason 0x05 (write access not allowed)$" "$work/x" && grep -q "FSTS  (0x034) 0x00000002  PPF=1 PFO=0 FRI=0" "$work/x" && grep -q "FRCD0 (0x400) 0x80000005000000100000000080000000  F=1 T=0 (write) FR=0x05 SID=0x0010 FI=0x80000000" "$work/x"'
check "explain dma: the driver's report" 'grep -q "driver: DMA Write from 00:02.0 at 0x80000000: fault reason 0x05 (write access not allowed)" "$work/x" && grep -q "vector 0x44 to APIC 0" "$work/x"'
"$vtsim" explain dma --device 00:03.0 >"$work/x" 2>"$work/err"; rc=$?
check "explain dma: another device has no context entry" '[ $rc -eq 0 ] && grep -q "reason 0x02 (context entry not present)" "$work/x" && grep -q "DMA Read from 00:03.0 at 0x40001000" "$work/x"'
"$vtsim" explain dma --device 0:2 >/dev/null 2>"$work/err"; rc=$?
check "explain dma: a bad device is refused" '[ $rc -eq 2 ] && grep -q "takes BB:DD.F" "$work/err"'

# --- 5-level paging needs a core that has it
"$vtsim" run --trace "$trace" --mode native --no-store --set guest.paging_levels=5 >/dev/null 2>"$work/err"; rc=$?
check "guest.paging_levels=5 on skylake is refused" '[ $rc -eq 2 ] && grep -q "guest.paging_levels=5 needs a core with 5-level paging" "$work/err"'
"$vtsim" run --trace "$trace" --mode ept --no-store --profile sapphirerapids --set guest.paging_levels=5 --set ept.levels=5 >"$work/out" 2>"$work/err"; rc=$?
check "a 5-level guest under 5-level EPT runs on sapphirerapids" '[ $rc -eq 0 ] && grep -q "^cycles" "$work/out"'

# --- usage errors: status 2 and a message saying what is wrong
"$vtsim" run --trace "$trace" --mode nested >/dev/null 2>"$work/err"; rc=$?
check "an unknown mode is refused with the list" '[ $rc -eq 2 ] && grep -q "unknown mode .nested.; available: native, shadow, ept" "$work/err"'
"$vtsim" run --trace "$trace" --mode ept --set tlb.l2.entrys=5 >/dev/null 2>"$work/err"; rc=$?
check "unknown parameter named" '[ $rc -eq 2 ] && grep -q "unknown parameter .tlb.l2.entrys." "$work/err"'
"$vtsim" run --trace "$trace" --mode ept --set tlb.l2.entries=1200 >/dev/null 2>"$work/err"; rc=$?
check "bad TLB geometry refused" '[ $rc -eq 2 ] && grep -q "not a power of two" "$work/err"'
"$vtsim" run --mode ept >/dev/null 2>"$work/err"; rc=$?
check "missing --trace" '[ $rc -eq 2 ] && grep -q -- "--trace is required" "$work/err"'
"$vtsim" run --trace "$work/nonexistent.lackey" --mode native --no-store >/dev/null 2>"$work/err"; rc=$?
check "missing trace file named" '[ $rc -eq 1 ] && grep -q "nonexistent.lackey" "$work/err"'

# --- execution-driven workloads (issue 7): vtsim compare --workload
out="$("$vtsim" compare --workload process-churn --set workload.iterations=24 --db "$db" 2>"$work/err")"; rc=$?
check "compare --workload prints native/shadow/ept" '[ $rc -eq 0 ] && grep -q "^ *native *shadow *ept$" <<<"$out"'
check "compare --workload prints the program's console first" '[ "$(head -1 <<<"$out")" = "console  process_churn.processes=24" ]'
check "compare --workload names the workload and its arguments" 'grep -q "^workload process-churn (unicorn, image [0-9]* bytes, xxh3 [0-9a-f]*) size=0 iterations=24 seed=1" <<<"$out"'
check "workload runs stored as workload:NAME" '[ "$(sqlite3 "$db" "select count(*) from run where trace_path = '\''workload:process-churn'\'' and trace_name = '\''process-churn'\'' and trace_format = '\''unicorn'\''")" = 3 ]'
shadow_ov="$(awk '$1 == "overhead" {sub("%", "", $5); print int($5); exit}' <<<"$out")"
ept_ov="$(awk '$1 == "overhead" {sub("%", "", $6); print int($6); exit}' <<<"$out")"
check "process churn: EPT overhead far below shadow's" '[ -n "$shadow_ov" ] && [ -n "$ept_ov" ] && [ "$shadow_ov" -gt $((10 * ept_ov + 10)) ]'
"$vtsim" run --workload io-loop --mode ept --set workload.iterations=32 --no-store >"$work/out" 2>&1; rc=$?
check "io-loop under EPT: 64 I/O exits, 3 HLT exits" '[ $rc -eq 0 ] && grep -q "^  exit IO_INSTRUCTION  *64$" "$work/out" && grep -q "^  exit HLT  *3$" "$work/out"'
"$vtsim" run --workload mmap-churn --mode shadow --set workload.iterations=8 --record "$work/mc.vtt" --no-store >"$work/out" 2>&1; rc=$?
"$vtsim" run --trace "$work/mc.vtt" --mode shadow --no-store >"$work/out2" 2>&1; rc2=$?
check "run --workload --record writes a .vtt whose replay prints the same table" '[ $rc -eq 0 ] && [ $rc2 -eq 0 ] && diff <(sed -n "/^cycles/,\$p" "$work/out") <(sed -n "/^cycles/,\$p" "$work/out2") >/dev/null'
"$vtsim" compare --workload io-loop --record "$work/x.vtt" --no-store >/dev/null 2>"$work/err"; rc=$?
check "--record is refused with compare" '[ $rc -eq 2 ] && grep -q -- "--record takes one run: use it with run" "$work/err"'
"$vtsim" run --workload io-loop --trace "$trace" --mode ept --no-store >/dev/null 2>"$work/err"; rc=$?
check "--trace and --workload exclude each other" '[ $rc -eq 2 ] && grep -q -- "--trace and --workload exclude each other" "$work/err"'
"$vtsim" run --workload dhrystone --mode ept --no-store >/dev/null 2>"$work/err"; rc=$?
check "an unknown workload is refused with the list" '[ $rc -eq 2 ] && grep -q "unknown workload .dhrystone.; available: matmul, pointer-chase, hash-lookup, process-churn, mmap-churn, io-loop" "$work/err"'
"$vtsim" run --workload io-loop --mode native --set guest.hz=0 --no-store >/dev/null 2>"$work/err"; rc=$?
check "a HLT with no timer fails with one line" '[ $rc -eq 1 ] && [ "$(wc -l <"$work/err")" = 1 ] && grep -q "^vtsim: workload io-loop: HLT with no timer interrupt pending" "$work/err"'

# --- an unwritable database: one-line error naming it, status 1
touch "$work/file"
"$vtsim" run --trace "$trace" --mode native --db "$work/file/sub/x.db" >/dev/null 2>"$work/err"; rc=$?
check "unwritable database named" '[ $rc -eq 1 ] && [ "$(wc -l <"$work/err")" = 1 ] && grep -q "$work/file" "$work/err"'

# --- .vtt: import, replay with every counter identical, trace info, corrupt files
for src in sort.lackey.zst gzip.lackey.zst sqlite3.lackey.zst pipeline.d; do
	name="${src%%.*}"
	"$vtsim" trace import "$VTSIM_SRCDIR/traces/$src" "$work/$name.vtt" >"$work/imp" 2>"$work/err"; rc=$?
	check "trace import $src" '[ $rc -eq 0 ] && grep -q "^into *$work/$name.vtt (vtt 1.0, [0-9]* bytes)$" "$work/imp" && [ ! -s "$work/err" ]'
	vdb="$work/vtt-$name.db"
	"$vtsim" compare --trace "$VTSIM_SRCDIR/traces/$src" --db "$vdb" >/dev/null 2>&1; rc1=$?
	"$vtsim" compare --trace "$work/$name.vtt" --db "$vdb" >/dev/null 2>&1; rc2=$?
	# Pairs (mode, counter) of the source's runs and the .vtt's runs with equal values: all of them.
	q_src="select count(*) from counter c join run r on r.id = c.run_id where r.trace_format <> 'vtt'"
	q_vtt="select count(*) from counter c join run r on r.id = c.run_id where r.trace_format = 'vtt'"
	q_eq="select count(*) from counter a join run ra on ra.id = a.run_id join run rb on rb.mode = ra.mode and rb.trace_format = 'vtt' join counter b on b.run_id = rb.id and b.name = a.name and b.value = a.value where ra.trace_format <> 'vtt'"
	q_ex="select count(*) from exit a join run ra on ra.id = a.run_id join run rb on rb.mode = ra.mode and rb.trace_format = 'vtt' join exit b on b.run_id = rb.id and b.reason = a.reason and b.count = a.count and b.cycles = a.cycles where ra.trace_format <> 'vtt'"
	q_exn="select count(*) from exit e join run r on r.id = e.run_id where r.trace_format <> 'vtt'"
	n_src="$(sqlite3 "$vdb" "$q_src")"
	check "$src: the .vtt replays with every counter identical in native, shadow and ept" '[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && [ "$(sqlite3 "$vdb" "select group_concat(mode) from (select mode from run where trace_format = '\''vtt'\'' order by id)")" = "native,shadow,ept" ] && [ "$n_src" -gt 300 ] && [ "$(sqlite3 "$vdb" "$q_vtt")" = "$n_src" ] && [ "$(sqlite3 "$vdb" "$q_eq")" = "$n_src" ]'
	check "$src: the .vtt replays with identical exits by reason" '[ "$(sqlite3 "$vdb" "$q_exn")" -gt 0 ] && [ "$(sqlite3 "$vdb" "$q_ex")" = "$(sqlite3 "$vdb" "$q_exn")" ]'
done
# mmap's anonymous flag survives the import: transparent huge pages come out the same.
"$vtsim" run --trace "$trace" --mode ept --set guest.thp=always --no-store >"$work/a" 2>&1
"$vtsim" run --trace "$work/sort.vtt" --mode ept --set guest.thp=always --no-store >"$work/b" 2>&1
check "guest.thp=always: the .vtt gives the source's table" '[ "$(grep -v "^trace " "$work/a")" = "$(grep -v "^trace " "$work/b")" ] && grep -q "^cycles " "$work/a"'
"$vtsim" trace info "$work/pipeline.vtt" >"$work/info" 2>&1; rc=$?
check "trace info of a .vtt: format, source, processes" '[ $rc -eq 0 ] && grep -q "^format *vtt 1.0$" "$work/info" && grep -q "^source *lackey+zstd set, xxh3 335b25d70380ce18$" "$work/info" && grep -q "^processes *5 (root 20013)$" "$work/info"'
check "trace info of a .vtt: event counts as in traces/README.md" 'grep -q "^fetch *2742590$" "$work/info" && grep -q "^modify *13517$" "$work/info" && grep -q "^exec *4$" "$work/info"'
"$vtsim" trace info "$work/sort.vtt" >"$work/info" 2>&1
"$vtsim" trace info "$trace" >"$work/info2" 2>&1
check "trace info: a .vtt counts what its lackey source counts" '[ -n "$(grep "^fetch *3139999$" "$work/info")" ] && [ "$(grep -A12 "^fetch " "$work/info")" = "$(grep -A12 "^fetch " "$work/info2")" ] && [ "$(grep "^distinct" "$work/info" | cut -c1-26)" = "$(grep "^distinct" "$work/info2" | cut -c1-26)" ]'
"$vtsim" trace import "$work/sort.vtt" "$work/again.vtt" >/dev/null 2>"$work/err"; rc=$?
check "trace import refuses a .vtt" '[ $rc -eq 1 ] && [ "$(cat "$work/err")" = "vtsim: $work/sort.vtt: already a .vtt trace" ] && [ ! -e "$work/again.vtt" ]'
"$vtsim" trace import "$bad_trace" "$work/bad.vtt" >/dev/null 2>"$work/err"; rc=$?
check "trace import of a bad log: the reader's line, nothing written" '[ $rc -eq 1 ] && grep -q "^vtsim: $bad_trace:3: " "$work/err" && [ -z "$(ls "$work" | grep "^bad.vtt")" ]'
# Corrupt files (fuzz/corpus/vtt, written by fuzz/vtt_corpus.c): one line
# naming the file and the byte offset, status 1, no run stored.
corpus="$VTSIM_SRCDIR/fuzz/corpus/vtt"
n_before="$(sqlite3 "$db" "select count(*) from run")"
while IFS='|' read -r f want; do
	"$vtsim" run --trace "$corpus/$f" --mode ept --db "$db" >/dev/null 2>"$work/err"; rc=$?
	check "corrupt .vtt $f: $want" '[ $rc -eq 1 ] && [ "$(wc -l <"$work/err")" = 1 ] && [ "$(cat "$work/err")" = "vtsim: $corpus/$f: $want" ]'
done <<'EOF'
truncated.vtt|file byte 207: truncated: the file does not end with its index ("VTTINDEX")
version2.vtt|file byte 8: unsupported .vtt version 2.0 (this vtsim reads version 1.x)
bad_magic.vtt|file byte 4: bad magic: not a .vtt file, or one altered in transfer
bad_index_sum.vtt|file byte 193: header and index checksum mismatch (stored 885ed3f1cb9ab2af, computed 04ad9645f522af50)
bad_stream_sum.vtt|process 1, record byte 87: checksum mismatch: the records hash to e954c8f269a2c01d, the index gives e954c8f269a2c01c
unknown_type.vtt|process 1, record byte 15: unknown record type 0x5a
invlpg.vtt|process 1, record byte 15: record type 0xa1 (INVLPG) is defined by the format but this vtsim cannot execute it yet
after_end.vtt|process 1, record byte 16: records after the END record
EOF
check "corrupt .vtt files store nothing" '[ "$(sqlite3 "$db" "select count(*) from run")" = "$n_before" ]'
"$vtsim" run --trace "$corpus/set.vtt" --mode shadow --no-store >"$work/out" 2>"$work/err"; rc=$?
check "a small three-process .vtt runs" '[ $rc -eq 0 ] && grep -q "^processes (peak) *3$" "$work/out" && grep -q "^instructions *6$" "$work/out"'

# --- trace info and params
"$vtsim" trace info "$trace" >"$work/info" 2>&1; rc=$?
check "trace info works" '[ $rc -eq 0 ] && grep -q "^fetch " "$work/info" && grep -q "^format *lackey+zstd" "$work/info"'
check "params lists sources" '"$vtsim" params | grep "^vmx.roundtrip_cycles .*630.*vmlatency" >/dev/null'
check "docs/parameters.md is what vtsim params --markdown prints" '"$vtsim" params --markdown | cmp -s - "$VTSIM_SRCDIR/docs/parameters.md"'
for c in run compare trace params db explain; do
	check "$c --help" '"$vtsim" $c --help >/dev/null'
done

echo "e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
