/*
 * Notes: the parameter table. Sources are cited by the keys of
 * ../shared/reference/cpu-parameters.md and docs/parameters.md; values no
 * source gives are marked "assumed" and are meant to be swept.
 */
#include "cpu/params.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define P(field) offsetof(struct sim_params, field)

const struct param_info param_table[] = {
	{"cpu.base_cpi", PARAM_DOUBLE, P(cpu_base_cpi), "1.0", "cycles/insn",
	 "assumed: one cycle per instruction before translation effects (first cut; no published per-trace CPI)", 0, 0},
	{"cpu.freq_mhz", PARAM_U64, P(cpu_freq_mhz), "4000", "MHz",
	 "Core i7-6700K base clock 4.0 GHz (cpu-parameters.md §6, skylake)", 100, 10000},
	{"cpu.cpuid_cycles", PARAM_U64, P(cpu_cpuid_cycles), "100", "cycles",
	 "assumed: CPUID latency on Skylake-class cores is about 100-200 cycles (leaf-dependent); not in cpu-parameters.md",
	 0, 1000000},
	{"cpu.io_cycles", PARAM_U64, P(cpu_io_cycles), "1000", "cycles",
	 "assumed: an uncached port access on the LPC bus takes about 1 us; not in cpu-parameters.md", 0, 10000000},
	{"tlb.l1i.entries", PARAM_U64, P(tlb_l1i_entries), "128", "entries",
	 "Skylake i5-6400T ITLB 4K 128 entries 8-way, CPUID leaf 2 0xB6 ([IL] 00506E3_Skylake_CPUID.txt)", 1, 1 << 20},
	{"tlb.l1i.ways", PARAM_U64, P(tlb_l1i_ways), "8", "ways", "same source", 1, 1 << 20},
	{"tlb.l1d.entries", PARAM_U64, P(tlb_l1d_entries), "64", "entries",
	 "Skylake DTLB 4K 64 entries 4-way ([IL] 00506E3_Skylake_CPUID.txt)", 1, 1 << 20},
	{"tlb.l1d.ways", PARAM_U64, P(tlb_l1d_ways), "4", "ways", "same source", 1, 1 << 20},
	{"tlb.l1d_1g.entries", PARAM_U64, P(tlb_l1d_1g_entries), "4", "entries",
	 "Skylake DTLB for 1 GiB pages: 4 entries 4-way ([IL] 00506E3_Skylake_CPUID.txt); the Skylake client STLB holds no 1 GiB entries",
	 1, 1 << 20},
	{"tlb.l1d_1g.ways", PARAM_U64, P(tlb_l1d_1g_ways), "4", "ways", "same source", 1, 1 << 20},
	{"tlb.l2.entries", PARAM_U64, P(tlb_l2_entries), "1536", "entries",
	 "Skylake STLB 1536 entries ([IL] 00506E3_Skylake_CPUID.txt; Intel forum on descriptor 0xC3)", 1, 1 << 24},
	{"tlb.l2.ways", PARAM_U64, P(tlb_l2_ways), "12", "ways",
	 "Skylake STLB 12-way (WikiChip Skylake client; AIDA on SKX) - secondary", 1, 1 << 24},
	{"tlb.l2.hit_cycles", PARAM_U64, P(tlb_l2_hit_cycles), "8", "cycles",
	 "assumed: Haswell STLB-hit load 12 cycles minus 4-cycle L1 hit (PC Watch Haswell review, cpu-parameters.md §1)", 0, 1000},
	{"pwc.guest.pml4e.entries", PARAM_U64, P(pwc_entries[0][0]), "4", "entries",
	 "assumed: no measured Intel PML4E-cache size; ChampSim default (PML4 1 set x 4 ways), the skylake row of cpu-parameters.md §6 (SDM \"Paging-Structure Caches\"; keyed by la[47:39]; 0 = off)", 0, 1 << 16},
	{"pwc.guest.pml4e.ways", PARAM_U64, P(pwc_ways[0][0]), "4", "ways", "same source", 1, 1 << 16},
	{"pwc.guest.pdpte.entries", PARAM_U64, P(pwc_entries[0][1]), "8", "entries",
	 "assumed: no measured Intel PDPTE-cache size; ChampSim default (PDPT 2 sets x 4 ways), the skylake row of cpu-parameters.md §6 (SDM \"Paging-Structure Caches\"; keyed by la[47:30]; 0 = off)", 0, 1 << 16},
	{"pwc.guest.pdpte.ways", PARAM_U64, P(pwc_ways[0][1]), "4", "ways", "same source", 1, 1 << 16},
	{"pwc.guest.pde.entries", PARAM_U64, P(pwc_entries[0][2]), "32", "entries",
	 "assumed: no measured Intel PDE-cache size; ChampSim default (PD 4 sets x 8 ways), the skylake row of cpu-parameters.md §6 (SDM \"Paging-Structure Caches\"; keyed by la[47:21]; 0 = off)", 0, 1 << 16},
	{"pwc.guest.pde.ways", PARAM_U64, P(pwc_ways[0][2]), "8", "ways", "same source", 1, 1 << 16},
	{"pwc.ept.pml4e.entries", PARAM_U64, P(pwc_entries[1][0]), "4", "entries",
	 "assumed: the guest-dimension PML4E-cache geometry again (no source gives EPT-dimension sizes; keyed by GPA[47:39], tagged by EP4TA; 0 = off)", 0, 1 << 16},
	{"pwc.ept.pml4e.ways", PARAM_U64, P(pwc_ways[1][0]), "4", "ways", "same source", 1, 1 << 16},
	{"pwc.ept.pdpte.entries", PARAM_U64, P(pwc_entries[1][1]), "8", "entries",
	 "assumed: the guest-dimension PDPTE-cache geometry again (no source gives EPT-dimension sizes; keyed by GPA[47:30], tagged by EP4TA; 0 = off)", 0, 1 << 16},
	{"pwc.ept.pdpte.ways", PARAM_U64, P(pwc_ways[1][1]), "4", "ways", "same source", 1, 1 << 16},
	{"pwc.ept.pde.entries", PARAM_U64, P(pwc_entries[1][2]), "32", "entries",
	 "assumed: the guest-dimension PDE-cache geometry again (no source gives EPT-dimension sizes; keyed by GPA[47:21], tagged by EP4TA; 0 = off)", 0, 1 << 16},
	{"pwc.ept.pde.ways", PARAM_U64, P(pwc_ways[1][2]), "8", "ways", "same source", 1, 1 << 16},
	{"ntlb.entries", PARAM_U64, P(ntlb_entries), "16", "entries",
	 "assumed size; the structure (GPA->HPA of guest paging-structure pages, tagged by EP4TA) is the nested TLB of Bhargava et al., ASPLOS 2008 (0 = off)", 0, 1 << 16},
	{"ntlb.ways", PARAM_U64, P(ntlb_ways), "16", "ways", "assumed: fully associative", 1, 1 << 16},
	{"mem.ref_cycles", PARAM_U64, P(mem_ref_cycles), "12", "cycles",
	 "first cut: every paging-structure access costs an L2 hit, Skylake client 12 cycles (Intel Opt. Manual table, cpu-parameters.md §3); the page-table cache model of a later issue replaces it",
	 0, 100000},
	{"host.mem_mib", PARAM_U64, P(host_mem_mib), "65536", "MiB", "assumed: a 64 GiB host", 16, UINT64_C(1) << 26},
	{"guest.mem_mib", PARAM_U64, P(guest_mem_mib), "16384", "MiB",
	 "assumed: a 16 GiB guest (at most 512 GiB: the guest's direct map is one PDPT of 1 GiB pages)", 16,
	 UINT64_C(1) << 19},
	{"vmx.vpid", PARAM_BOOL, P(vmx_vpid), "on", "on/off",
	 "\"enable VPID\" secondary control; KVM enables it whenever the CPU has it (SDM: VPIDs)", 0, 1},
	{"ept.ad", PARAM_BOOL, P(ept_ad), "on", "on/off",
	 "EPTP bit 6; Skylake reports EPT A/D (IA32_VMX_EPT_VPID_CAP 0x...06334141, [VML]) and KVM enables it", 0, 1},
	{"vmx.roundtrip_cycles", PARAM_U64, P(vmx_roundtrip_cycles), "630", "cycles",
	 "Skylake i7-6700K VMRESUME->CPUID->exit loop 608-671 TSC cycles ([VML] yulyugin/vmlatency)", 0, 1000000},
	{"shadow.unsync", PARAM_BOOL, P(shadow_unsync), "off", "on/off",
	 "KVM's unsync shadow pages: last-level guest page tables stay writable until the guest's INVLPG or CR3 load (arch/x86/kvm/mmu)",
	 0, 1},
	{"shadow.root_cache", PARAM_U64, P(shadow_root_cache), "4", "roots",
	 "KVM keeps the current shadow root and KVM_MMU_NUM_PREV_ROOTS = 3 previous ones", 1, 8},
	{"vmm.handler_cycles", PARAM_U64, P(vmm_handler_cycles), "300", "cycles",
	 "assumed: exit dispatch and handler entry in the VMM, beyond the counted operations", 0, 1000000},
	{"vmm.frame_alloc_cycles", PARAM_U64, P(vmm_frame_alloc_cycles), "200", "cycles",
	 "assumed: host page allocator fast path", 0, 1000000},
	{"host.page_zero_cycles", PARAM_U64, P(host_page_zero_cycles), "1000", "cycles",
	 "assumed: clearing 4 KiB at about 4 bytes/cycle", 0, 1000000},
	{"host.tick_cycles", PARAM_U64, P(host_tick_cycles), "2000", "cycles",
	 "assumed: host timer-interrupt handler", 0, 10000000},
	{"guest.pf_cycles", PARAM_U64, P(guest_pf_cycles), "1500", "cycles",
	 "assumed: #PF delivery, handler entry/exit and VMA lookup of a minor anonymous fault, excluding zeroing and PTE stores",
	 0, 10000000},
	{"guest.page_zero_cycles", PARAM_U64, P(guest_page_zero_cycles), "1000", "cycles",
	 "assumed: clearing 4 KiB at about 4 bytes/cycle", 0, 1000000},
	{"guest.tick_cycles", PARAM_U64, P(guest_tick_cycles), "2000", "cycles",
	 "assumed: guest timer-interrupt handler", 0, 10000000},
	{"guest.hz", PARAM_U64, P(guest_hz), "250", "Hz", "Debian kernel CONFIG_HZ=250", 0, 100000},
	{"guest.tlb_flush_ceiling", PARAM_U64, P(guest_tlb_flush_ceiling), "33", "pages",
	 "Linux arch/x86/mm/tlb.c tlb_single_page_flush_ceiling = 33", 0, UINT64_C(1) << 40},
	{"guest.pcid", PARAM_BOOL, P(guest_pcid), "off", "on/off",
	 "Linux x86-64 uses PCIDs when the CPU has them (arch/x86/mm/tlb.c, TLB_NR_DYN_ASIDS = 6 per CPU, "
	 "no-flush CR3 loads); off by default so that results stay comparable with runs before multi-process guests",
	 0, 1},
	{"guest.timeslice_ms", PARAM_U64, P(guest_timeslice_ms), "0", "ms",
	 "0 = preempt at every timer tick when another process is runnable: CFS with two or more runnable tasks "
	 "(sched_latency 6 ms / nr_running) at CONFIG_HZ=250 (4 ms ticks) has a slice shorter than a tick",
	 0, 100000},
};
const size_t param_count = sizeof(param_table) / sizeof(param_table[0]);

static const struct param_info *find_param(const char *name, size_t len)
{
	for (size_t i = 0; i < param_count; i++)
		if (strlen(param_table[i].name) == len && strncmp(param_table[i].name, name, len) == 0)
			return &param_table[i];
	return NULL;
}

static int parse_value(struct sim_params *p, const struct param_info *pi, const char *v, char *err)
{
	char *end;
	void *field = (char *)p + pi->offset;
	switch (pi->type) {
	case PARAM_BOOL:
		if (!strcmp(v, "on") || !strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes"))
			*(bool *)field = true;
		else if (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no"))
			*(bool *)field = false;
		else {
			snprintf(err, 256, "parameter %s: '%s' is not on or off", pi->name, v);
			return -1;
		}
		return 0;
	case PARAM_DOUBLE: {
		errno = 0;
		double d = strtod(v, &end);
		if (errno || end == v || *end || !(d >= 0.0) || d > 1e6) {
			snprintf(err, 256, "parameter %s: '%s' is not a number in [0, 1e6]", pi->name, v);
			return -1;
		}
		*(double *)field = d;
		return 0;
	}
	case PARAM_U64: {
		errno = 0;
		if (*v == '-' || *v == '\0') {
			snprintf(err, 256, "parameter %s: '%s' is not a non-negative integer", pi->name, v);
			return -1;
		}
		uint64_t u = strtoull(v, &end, 0);
		if (errno || *end) {
			snprintf(err, 256, "parameter %s: '%s' is not a non-negative integer", pi->name, v);
			return -1;
		}
		if (u < pi->min || u > pi->max) {
			snprintf(err, 256, "parameter %s: %" PRIu64 " is outside [%" PRIu64 ", %" PRIu64 "] %s",
				 pi->name, u, pi->min, pi->max, pi->unit);
			return -1;
		}
		*(uint64_t *)field = u;
		return 0;
	}
	}
	return -1;
}

void params_defaults(struct sim_params *p)
{
	char err[256];
	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < param_count; i++)
		if (parse_value(p, &param_table[i], param_table[i].def, err) < 0)
			abort(); /* a bad default is a programming error caught by every test */
}

int params_set(struct sim_params *p, const char *assignment, char *err)
{
	const char *eq = strchr(assignment, '=');
	if (!eq || eq == assignment) {
		snprintf(err, 256, "--set '%s': expected NAME=VALUE (see `vtsim params`)", assignment);
		return -1;
	}
	const struct param_info *pi = find_param(assignment, (size_t)(eq - assignment));
	if (!pi) {
		/* Suggest names sharing the first component. */
		const char *dot = memchr(assignment, '.', (size_t)(eq - assignment));
		size_t plen = dot ? (size_t)(dot - assignment) + 1 : (size_t)(eq - assignment);
		char hint[160] = "";
		size_t used = 0;
		for (size_t i = 0; i < param_count && used + 40 < sizeof(hint); i++)
			if (strncmp(param_table[i].name, assignment, plen) == 0)
				used += (size_t)snprintf(hint + used, sizeof(hint) - used, "%s%s", used ? ", " : "",
							 param_table[i].name);
		snprintf(err, 256, "--set: unknown parameter '%.*s'%s%s (see `vtsim params`)", (int)(eq - assignment),
			 assignment, used ? "; did you mean one of: " : "", hint);
		return -1;
	}
	return parse_value(p, pi, eq + 1, err);
}

/* Geometry of one set-associative array called name (entries > 0). */
static int check_geometry(const char *name, uint64_t entries, uint64_t ways, char *err)
{
	if (ways > entries || entries % ways) {
		snprintf(err, 256, "%s: %" PRIu64 " entries is not a multiple of %" PRIu64 " ways", name, entries,
			 ways);
		return -1;
	}
	uint64_t sets = entries / ways;
	if (sets & (sets - 1)) {
		snprintf(err, 256, "%s: %" PRIu64 " entries / %" PRIu64 " ways = %" PRIu64
			 " sets, not a power of two", name, entries, ways, sets);
		return -1;
	}
	return 0;
}

static int check_tlb(const char *name, uint64_t entries, uint64_t ways, char *err)
{
	char full[32];
	snprintf(full, sizeof(full), "tlb.%s", name);
	return check_geometry(full, entries, ways, err);
}

int params_validate(const struct sim_params *p, char *err)
{
	if (check_tlb("l1i", p->tlb_l1i_entries, p->tlb_l1i_ways, err) ||
	    check_tlb("l1d", p->tlb_l1d_entries, p->tlb_l1d_ways, err) ||
	    check_tlb("l1d_1g", p->tlb_l1d_1g_entries, p->tlb_l1d_1g_ways, err) ||
	    check_tlb("l2", p->tlb_l2_entries, p->tlb_l2_ways, err))
		return -1;
	for (int d = 0; d < 2; d++)
		for (int l = 0; l < 3; l++) {
			static const char *const names[2][3] = {
				{"pwc.guest.pml4e", "pwc.guest.pdpte", "pwc.guest.pde"},
				{"pwc.ept.pml4e", "pwc.ept.pdpte", "pwc.ept.pde"}};
			if (p->pwc_entries[d][l] &&
			    check_geometry(names[d][l], p->pwc_entries[d][l], p->pwc_ways[d][l], err))
				return -1;
		}
	if (p->ntlb_entries && check_geometry("ntlb", p->ntlb_entries, p->ntlb_ways, err))
		return -1;
	if (p->guest_mem_mib > p->host_mem_mib) {
		snprintf(err, 256, "guest.mem_mib (%" PRIu64 ") exceeds host.mem_mib (%" PRIu64 ")", p->guest_mem_mib,
			 p->host_mem_mib);
		return -1;
	}
	return 0;
}

void params_format(const struct sim_params *p, const struct param_info *pi, char *buf, size_t len)
{
	const void *field = (const char *)p + pi->offset;
	switch (pi->type) {
	case PARAM_BOOL:
		snprintf(buf, len, "%s", *(const bool *)field ? "on" : "off");
		break;
	case PARAM_DOUBLE:
		snprintf(buf, len, "%g", *(const double *)field);
		break;
	case PARAM_U64:
		snprintf(buf, len, "%" PRIu64, *(const uint64_t *)field);
		break;
	}
}

static int by_name(const void *a, const void *b)
{
	const struct param_info *const *x = a, *const *y = b;
	return strcmp((*x)->name, (*y)->name);
}

char *params_json(const struct sim_params *p)
{
	const struct param_info *sorted[sizeof(param_table) / sizeof(param_table[0])];
	for (size_t i = 0; i < param_count; i++)
		sorted[i] = &param_table[i];
	qsort(sorted, param_count, sizeof(sorted[0]), by_name);
	size_t cap = 64 + param_count * 96, used = 0;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	used += (size_t)snprintf(s + used, cap - used, "{");
	for (size_t i = 0; i < param_count; i++) {
		char v[64];
		params_format(p, sorted[i], v, sizeof(v));
		bool quote = sorted[i]->type == PARAM_BOOL;
		used += (size_t)snprintf(s + used, cap - used, "%s\"%s\":%s%s%s", i ? "," : "", sorted[i]->name,
					 quote ? "\"" : "", v, quote ? "\"" : "");
	}
	snprintf(s + used, cap - used, "}");
	return s;
}
