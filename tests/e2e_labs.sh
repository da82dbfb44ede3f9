#!/usr/bin/env bash
# End-to-end tests of the teaching labs (labs/, docs/lab-format.md):
#  - every lab's hand-worked answer key against vtsim's own answers
#    (`vtsim lab verify`: each keyed command is run and its number
#    extracted), so a model change that alters an answer fails here;
#  - `vtsim lab check` on a right, a partly wrong and a malformed answer
#    file, with the exact grades and messages;
#  - lab setup files read by explain walk --tables, explain dma --setup and
#    run, and their errors, with exact values and messages;
#  - a key whose answer disagrees with vtsim is caught.
set -uo pipefail
: "${VTSIM_SRCDIR:?}" "${VTSIM_BUILDDIR:?}"
vtsim="$VTSIM_BUILDDIR/vtsim"
data="$VTSIM_SRCDIR/tests/data/labs"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
unset VTSIM_LABS
# Commands in keys and hand-outs are relative to the top of the tree.
cd "$VTSIM_SRCDIR" || exit 1

# --- every key against vtsim
"$vtsim" lab verify >"$work/v" 2>"$work/err"; rc=$?
check "lab verify: every key agrees with vtsim (exit 0, nothing on stderr)" '[ $rc -eq 0 ] && [ ! -s "$work/err" ]'
check "lab verify: 55 keyed answers ok" '[ "$(grep -c "^[0-9][a-z]* *ok " "$work/v")" = 55 ]'
check "lab verify: no mismatch" '! grep -q MISMATCH "$work/v"'
check "lab verify: no question is pending" '! grep -q "pending" "$work/v"'
for n in 1 2 3 4 5 6; do
	check "lab $n has a hand-out naming its key's questions" \
		'for q in $(awk "\$1 == \"question\" {print \$2}" labs/lab'$n'/key); do grep -q "\*\*$q\*\*" labs/lab'$n'/README.md || exit 1; done'
done

# --- lab list and show
"$vtsim" lab list >"$work/l" 2>&1; rc=$?
cat >"$work/want" <<'W'
lab 1  Two-dimensional page walks, cold and warm                   8 questions
lab 2  Shadow page tables and the exits they cost                  8 questions
lab 3  VPID on and off: TLB flushes and misses                     7 questions
lab 4  Large pages in the guest and in EPT                        11 questions
lab 5  A misbehaving device: reading a VT-d fault record           8 questions
lab 6  Emulated, assigned and bounced I/O: exits and copies       13 questions

vtsim lab show N: the hand-out; vtsim lab check N ANSWERS: grade an answer file
W
check "lab list: every lab, exactly" '[ $rc -eq 0 ] && cmp -s "$work/l" "$work/want"'
check "lab show 3 prints the hand-out" '"$vtsim" lab show 3 | cmp -s - labs/lab3/README.md'
"$vtsim" lab show 9 >/dev/null 2>"$work/err"; rc=$?
check "lab show 9: no such lab" '[ $rc -eq 1 ] && [ "$(cat "$work/err")" = "vtsim lab show: no lab 9 in $VTSIM_SRCDIR/labs" ]'

# --- lab check: right, partly wrong, malformed
"$vtsim" lab check 1 "$data/lab1-right.txt" >"$work/c" 2>&1; rc=$?
check "lab check: a right file gets 8/8" '[ $rc -eq 0 ] && [ "$(tail -1 "$work/c")" = "grade: 8/8 right" ] && [ "$(grep -c "^[0-9][a-z]* *right$" "$work/c")" = 8 ]'
"$vtsim" lab check 1 "$data/lab1-partly.txt" >"$work/c" 2>&1; rc=$?
check "lab check: a partly wrong file gets 3/8" '[ $rc -eq 0 ] && [ "$(tail -1 "$work/c")" = "grade: 3/8 right" ]'
check "lab check: per question verdicts" '[ "$(sed -n "2,9p" "$work/c" | awk "{print \$1, \$2}" | tr "\n" ";")" = "1a right;1b wrong:;1c right;1d wrong:;1e right;1f wrong:;1g no;1h no;" ]'
check "lab check: a wrong answer says what was expected, why and the command" \
	'grep -qxF "1d   wrong: you wrote 0x4008; expected 0x100004008. The guest PT is at GPA 0x4000; the PTE index is GVA bits 20:12 = 1, so the entry is at GPA 0x4008, and guest RAM at GPA g is at HPA g + 0x100000000. (see: vtsim explain walk --gva 0x7f0000001123 --no-pwc)" "$work/c"'
check "lab check: a missing answer" \
	'grep -qxF "1g   no answer: expected 2. After the neighbouring page'"'"'s walk, the guest PDE cache gives the guest PT, the nested TLB gives that PT'"'"'s HPA, and the EPT PDE cache gives the data GPA'"'"'s EPT PT: only the guest PTE and the EPT PTE are read. (see: vtsim explain walk --gva 0x7f0000001123 --warm)" "$work/c"'
"$vtsim" lab check 1 "$data/lab1-malformed.txt" >"$work/c" 2>"$work/err"; rc=$?
check "lab check: a malformed file, one line naming file and line, exit 1" \
	'[ $rc -eq 1 ] && [ ! -s "$work/c" ] && [ "$(cat "$work/err")" = "vtsim lab check: $data/lab1-malformed.txt:2: expected '"'"'QUESTION = ANSWER'"'"' (e.g. '"'"'1a = 42'"'"'), got '"'"'1b: 20'"'"'" ]'
"$vtsim" lab check 6 "$data/lab6-right.txt" >"$work/c" 2>&1; rc=$?
check "lab check: lab 6 right, the run --io questions included" '[ $rc -eq 0 ] && [ "$(tail -1 "$work/c")" = "grade: 13/13 right" ]'
malformed() { # name, file content, expected message after "FILE:"
	printf '%s\n' "$2" >"$work/a.txt"
	"$vtsim" lab check 1 "$work/a.txt" >/dev/null 2>"$work/err"; rc=$?
	want="vtsim lab check: $work/a.txt:$3"
	check "lab check malformed: $1" '[ $rc -eq 1 ] && [ "$(cat "$work/err")" = "$want" ]'
}
malformed "unknown question" "1z = 3" "1: lab 1 has no question '1z' (its questions: 1a ... 1h)"
malformed "answered twice" $'1a = 24\n# again\n1a = 25' "3: question 1a is answered twice (first on line 1)"
malformed "not a number" "1f = fourteen" "1: question 1f takes a number (0x... or decimal), not 'fourteen'"
malformed "empty answer" "1a =" "1: question 1a has no answer after '='"
"$vtsim" lab check 1 "$work/none.txt" >/dev/null 2>"$work/err"; rc=$?
check "lab check: a missing file" '[ $rc -eq 1 ] && [ "$(cat "$work/err")" = "vtsim lab check: $work/none.txt: No such file or directory" ]'
"$vtsim" lab check x "$data/lab1-right.txt" >/dev/null 2>&1; rc=$?
check "lab check: a bad lab number is a usage error" '[ $rc -eq 2 ]'

# --- a key that disagrees with vtsim is caught
cp -r labs "$work/labs"
sed -i "s/^  answer  14$/  answer  15/" "$work/labs/lab1/key"
VTSIM_LABS="$work/labs" "$vtsim" lab verify 1 >"$work/v" 2>"$work/err"; rc=$?
check "lab verify: a wrong key fails with the disagreement" '[ $rc -eq 1 ] && grep -qxF "1f   MISMATCH: the key says 15, vtsim says 14 (vtsim explain walk --gva 0x7f0000001123)" "$work/v" && [ "$(cat "$work/err")" = "vtsim lab verify: 1 answer of the key disagrees with vtsim" ]'
# A pending question (one whose command is not built yet) is listed, not graded.
awk '/^question 6m/{p=1} p&&/^  (answer|command|extract)/{next} p&&/^  why/{print "  pending needs a command not built yet"} {print}' labs/lab6/key >"$work/labs/lab6/key"
VTSIM_LABS="$work/labs" "$vtsim" lab check 6 "$data/lab6-right.txt" >"$work/c" 2>&1; rc=$?
check "lab check: pending questions are not graded" '[ $rc -eq 0 ] && [ "$(tail -1 "$work/c")" = "grade: 12/12 right (1 pending, not graded)" ]'
printf 'lab 1\ntitle t\nquestion 1a\n  type int\n  answer 3\n' >"$work/labs/lab1/key"
VTSIM_LABS="$work/labs" "$vtsim" lab verify 1 >/dev/null 2>"$work/err"; rc=$?
check "lab verify: an incomplete key block" '[ $rc -eq 1 ] && [ "$(cat "$work/err")" = "vtsim lab verify: $work/labs/lab1/key:3: question 1a needs answer, command, extract and why (or pending)" ]'

# --- setup files: explain walk --tables
pt=labs/lab2/lab2.pt
out="$("$vtsim" explain walk --tables $pt --gva 0x401000 --mode shadow 2>&1)"; rc=$?
check "explain walk --tables: the shadow PTE of a clean page is read-only" \
	'[ $rc -eq 0 ] && grep -q "^  4  shadow PTE .* 0x0000000140001025  DRAM  289  P R US A -> page HPA 0x140001000$" <<<"$out"'
out="$("$vtsim" explain walk --tables $pt --gva 0x404000 --mode native 2>&1)"; rc=$?
check "explain walk --tables: an address no map covers faults" \
	'[ $rc -eq 0 ] && grep -q "^fault: #PF, error code 0x4 (not present, read, user)$" <<<"$out"'
out="$("$vtsim" explain walk --tables labs/lab4/lab4.pt --gva 0x7f0040000123 --no-pwc 2>&1)"; rc=$?
check "explain walk --tables: a 1 GiB guest page over 4 KiB EPT, 14 references" \
	'[ $rc -eq 0 ] && grep -qx "14 references (2 guest + 12 EPT), 0 A/D writes, 2336 cycles" <<<"$out" && grep -qx "result: GVA 0x7f0040000123 -> GPA 0x80000123 -> HPA 0x180000123 (cached in the TLB as a 4 KiB page)" <<<"$out"'
"$vtsim" explain walk --tables $pt --gva 0x401000 --fault >/dev/null 2>"$work/err"; rc=$?
check "explain walk: --tables with --fault is a usage error" '[ $rc -eq 2 ]'
bad_setup() { # name, file body (after the magic line), expected message after "FILE:"
	printf 'vtsim-setup 1\n%s\n' "$2" >"$work/s.pt"
	"$vtsim" explain walk --tables "$work/s.pt" --gva 0x400000 >/dev/null 2>"$work/err"; rc=$?
	want="vtsim explain walk: $work/s.pt:$3"
	check "setup error: $1" '[ $rc -eq 1 ] && [ "$(cat "$work/err")" = "$want" ]'
}
bad_setup "unknown keyword" "mapp 0x400000 0x40000000 4k rw user" "2: unknown keyword 'mapp' (map, read, write, fetch, cpuid, domain, iomap, device, dma)"
bad_setup "misaligned" "map 0x400800 0x40000000 4k rw user" "2: GVA 0x400800 and GPA 0x40000000 must both be aligned to the 4k page"
bad_setup "GPA too low" "map 0x400000 0x5000 4k rw user" "2: GPA 0x5000 is below 0x40000000: the guest's page tables and its kernel's own frames live there"
bad_setup "overlap" $'map 0x400000 0x40000000 4k rw user\nmap 0x400000 0x40001000 4k rw user' "3: GVA 0x400000 overlaps the 4k page at 0x400000 of line 2"
bad_setup "a 2 MiB page over a 4 KiB one" $'map 0x401000 0x40000000 4k rw user\nmap 0x400000 0x40200000 2m rw user' "3: GVA 0x400000 overlaps the 4k page at 0x401000 of line 2"
bad_setup "missing rights" "map 0x400000 0x40000000 4k user" "2: map needs rw or ro, and user or super"
bad_setup "write to a read-only page" $'write 0x400010\nmap 0x400000 0x40000000 4k ro user' "2: a write to GVA 0x400010, which line 3 maps read-only: the process would get SIGSEGV"
bad_setup "user access to a supervisor page" $'map 0x400000 0x40000000 4k rw super\nread 0x400000' "3: GVA 0x400000 is in the supervisor page of line 2: a user access would get SIGSEGV"
bad_setup "domain order" "domain 2" "2: domain 2: domains are declared 1, 2, 3 ... in order (the driver hands out domain-ids from 1); the next is 1"
bad_setup "context field" $'domain 1\ndevice 00:03.0 1 tt=4' "3: tt=4 does not fit the field (at most 3)"
printf 'map 0x400000 0x40000000 4k rw user\n' >"$work/s.pt"
"$vtsim" explain walk --tables "$work/s.pt" --gva 0x400000 >/dev/null 2>"$work/err"; rc=$?
check "setup error: no magic line" '[ $rc -eq 1 ] && [ "$(cat "$work/err")" = "vtsim explain walk: $work/s.pt:1: not a lab setup file: its first line (after comments) must be '"'"'vtsim-setup 1'"'"'" ]'

# --- setup files: explain dma --setup
out="$("$vtsim" explain dma --setup labs/lab5/lab5.dev 2>&1)"; rc=$?
check "explain dma --setup: the card's AW=1 entry is blocked with reason 0x3" \
	'[ $rc -eq 0 ] && grep -qxF "  FRCD0 (0x400) 0x80000003000000180000000040001000  F=1 T=0 (write) FR=0x03 SID=0x0018 FI=0x40001000" <<<"$out" && grep -qxF "  driver: DMA Write from 00:03.0 at 0x40001000: fault reason 0x03 (invalid context-entry programming)" <<<"$out"'
check "explain dma --setup: the entry as the file left it" \
	'grep -qxF "  device 00:03.0 in domain 1: context entry at HPA 0x1007180 = 0x00000000000001010000000001003001 (fields from the file)" <<<"$out"'
sed 's/ aw=1//' labs/lab5/lab5.dev >"$work/fixed.dev"
out="$("$vtsim" explain dma --setup "$work/fixed.dev" 2>&1)"; rc=$?
check "explain dma --setup: fixed, the write reaches HPA 0x140001000 in 6 references" \
	'[ $rc -eq 0 ] && grep -qx "5 references, 5000 cycles" <<<"$out" && grep -qxF "result: IOVA 0x40001000 -> HPA 0x140001000 (a 2 MiB page, RW; cached in the IOTLB for domain 1)" <<<"$out"'
"$vtsim" explain dma --setup labs/lab5/lab5.dev --page 2m >/dev/null 2>&1; rc=$?
check "explain dma: --setup with --page is a usage error" '[ $rc -eq 2 ]'

# --- setup files: run
"$vtsim" run --trace labs/lab3/lab3.pt --mode ept --vpid off --db "$work/r.db" >"$work/r" 2>"$work/err"; rc=$?
check "run of a setup: stored, with its format" '[ $rc -eq 0 ] && [ "$(sqlite3 "$work/r.db" "select trace_format from run")" = vtsim-setup ]'
check "run of a setup: 22 VPID-0 flushes, 11 exits" '[ "$(sqlite3 "$work/r.db" "select group_concat(value) from (select value from counter where name in ('"'"'tlb.flush.vpid0'"'"', '"'"'vmx.exits'"'"') order by name)")" = "22,11" ]'
"$vtsim" run --trace labs/lab4/lab4.pt --mode ept --no-store >/dev/null 2>"$work/err"; rc=$?
check "run of a setup: a 2 MiB map is refused" '[ $rc -eq 1 ] && [ "$(cat "$work/err")" = "vtsim: labs/lab4/lab4.pt:5: a 2 MiB page: vtsim run premaps 4 KiB pages only (explain walk --tables takes any size)" ]'

# --- explain bounce
out="$("$vtsim" explain bounce --bytes 5000 --dir bidirectional 2>&1)"; rc=$?
check "explain bounce: 3 slots, 2 copies of 5000 bytes" '[ $rc -eq 0 ] && grep -qx "total: 1 bounce mapping, 3 slots, 2 copies, 10000 bytes copied, 2442 cycles" <<<"$out"'

echo "e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
