/*
 * Notes: `vtsim explain walk` (see explain.h). The layout is built with
 * plain stores in the architectural bit formats, as a guest kernel, a
 * shadow MMU or an EPT manager would leave it; the walk itself and every
 * cost come from the hardware model (mmu_walk, the paging-structure caches
 * and nested TLB of struct cpu, cpu_pt_access for the cache hierarchy).
 * Layout: guest tables from GPA 0x1000 up, in the order a walk first needs
 * them; data pages at EXPLAIN_DATA_GPA (the explained page) and the next
 * guest page (its neighbour); EPT or shadow tables from HPA 0x200000 up.
 */
#include "cli/explain.h"

#include <inttypes.h>
#include <string.h>

#include "arch/ept.h"
#include "arch/paging.h"

#define GUEST_TABLES_GPA UINT64_C(0x1000)
#define HOST_TABLES_HPA UINT64_C(0x200000)
#define GUEST_TABLE_FLAGS (PTE_P | PTE_RW | PTE_US | PTE_A)
#define GUEST_LEAF_FLAGS (PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D)
#define EPT_TABLE_FLAGS (EPTE_RWX | EPTE_A)
#define EPT_LEAF_FLAGS (EPTE_RWX | ((uint64_t)EPTP_MT_WB << EPTE_MT_SHIFT) | EPTE_IPAT | EPTE_A | EPTE_D)

struct layout {
	struct phys_mem *mem;
	const struct explain_opts *o;
	uint64_t next_guest_table; /* GPA */
	uint64_t next_host_table;  /* HPA */
	uint64_t guest_root;       /* GPA */
	uint64_t host_root;        /* HPA: EPT PML4/PML5 or shadow root */
};

/* Where guest-physical memory lives: GPA = HPA natively. */
static uint64_t guest_ram_hpa(const struct layout *l, uint64_t gpa)
{
	return l->o->mode == MODE_NATIVE ? gpa : gpa + EXPLAIN_HOST_OFFSET;
}

static unsigned leaf_level(unsigned page_shift)
{
	return (page_shift - PAGE_SHIFT) / PT_INDEX_BITS + 1;
}

/* Map la in a 1D table tree rooted at root (the guest's, in guest RAM, or
 * the shadow one, in host memory): missing tables are taken from *next;
 * the leaf at the level of page_shift gets target | flags (0 = not present). */
static void map_1d(struct layout *l, bool guest, uint64_t root, unsigned levels, uint64_t la, unsigned page_shift,
		   uint64_t target, uint64_t leaf_flags)
{
	uint64_t table = root;
	unsigned leaf = leaf_level(page_shift);
	for (unsigned level = levels; level > leaf; level--) {
		uint64_t ea = table + 8 * pt_index(la, (int)level);
		uint64_t at = guest ? guest_ram_hpa(l, ea) : ea;
		uint64_t e = mem_read64(l->mem, at);
		if (!(e & PTE_P)) {
			uint64_t *next = guest ? &l->next_guest_table : &l->next_host_table;
			e = *next | GUEST_TABLE_FLAGS;
			*next += PAGE_SIZE;
			mem_write64(l->mem, at, e);
		}
		table = e & PHYS_ADDR_MASK;
	}
	uint64_t ea = table + 8 * pt_index(la, (int)leaf);
	uint64_t v = leaf_flags ? (target | leaf_flags | (leaf > 1 ? PTE_PS : 0)) : 0;
	mem_write64(l->mem, guest ? guest_ram_hpa(l, ea) : ea, v);
}

/* EPT: back the aligned backing-size range holding gpa. */
static void ept_map(struct layout *l, uint64_t gpa)
{
	unsigned leaf = leaf_level(l->o->backing_page_shift);
	uint64_t table = l->host_root;
	for (unsigned level = l->o->ept_levels; level > leaf; level--) {
		uint64_t ea = table + 8 * pt_index(gpa, (int)level);
		uint64_t e = mem_read64(l->mem, ea);
		if (!(e & EPTE_RWX)) {
			e = l->next_host_table | EPT_TABLE_FLAGS;
			l->next_host_table += PAGE_SIZE;
			mem_write64(l->mem, ea, e);
		}
		table = e & PHYS_ADDR_MASK;
	}
	uint64_t base = gpa & ~((UINT64_C(1) << l->o->backing_page_shift) - 1);
	mem_write64(l->mem, table + 8 * pt_index(gpa, (int)leaf),
		    (base + EXPLAIN_HOST_OFFSET) | EPT_LEAF_FLAGS | (leaf > 1 ? EPTE_PS : 0));
}

/* Shadow: map la (in a guest page of 2^gshift bytes at data_gpa) with an
 * entry of the smaller of the guest page and the backing page, as a shadow
 * MMU must. The leaf carries the guest leaf's rights (gflags), read-only
 * (and D clear) while the guest's D is clear (dirty-bit emulation). */
static void shadow_map(struct layout *l, uint64_t la, uint64_t data_gpa, unsigned gshift, uint64_t gflags)
{
	unsigned s = gshift < l->o->backing_page_shift ? gshift : l->o->backing_page_shift;
	uint64_t in_page = la & ((UINT64_C(1) << gshift) - 1) & ~((UINT64_C(1) << s) - 1);
	/* As src/vmm/shadow.c's set_leaf: P A, the guest's US G XD, and RW D
	 * only when the guest leaf is writable and dirty. */
	uint64_t f = (gflags & (PTE_P | PTE_US | PTE_G | PTE_XD)) | PTE_A;
	if ((gflags & PTE_RW) && (gflags & PTE_D))
		f |= PTE_RW | PTE_D;
	map_1d(l, false, l->host_root, l->o->guest_levels, la, s, data_gpa + in_page + EXPLAIN_HOST_OFFSET, f);
}

static const char *level_name(unsigned level)
{
	static const char *const n[] = {"?", "PTE", "PDE", "PDPTE", "PML4E", "PML5E"};
	return level <= 5 ? n[level] : "?";
}

static const char *page_size_name(unsigned shift)
{
	return shift == 30 ? "1 GiB" : shift == 21 ? "2 MiB" : "4 KiB";
}

static const char *served_name(unsigned lv)
{
	static const char *const n[] = {"L1D", "L2", "LLC", "DRAM"};
	return lv < 4 ? n[lv] : "?";
}

/* A paging entry decoded: flags, then what it points to. */
static void decode_guest(char *buf, size_t len, uint64_t e, unsigned level, bool to_hpa)
{
	if (!(e & PTE_P)) {
		snprintf(buf, len, "not present");
		return;
	}
	bool leaf = level == 1 || (e & PTE_PS);
	snprintf(buf, len, "P%s%s%s%s%s%s%s -> %s %s 0x%" PRIx64, (e & PTE_RW) ? " RW" : " R", (e & PTE_US) ? " US" : " S",
		 (e & PTE_A) ? " A" : "", (e & PTE_D) ? " D" : "", (level > 1 && (e & PTE_PS)) ? " PS" : "",
		 (e & PTE_G) ? " G" : "", (e & PTE_XD) ? " XD" : "", leaf ? "page" : "table", to_hpa ? "HPA" : "GPA",
		 e & PHYS_ADDR_MASK);
}

static void decode_ept(char *buf, size_t len, uint64_t e, unsigned level)
{
	if (!(e & EPTE_RWX)) {
		snprintf(buf, len, "not present");
		return;
	}
	bool leaf = level == 1 || (e & EPTE_PS);
	char mt[24] = "";
	if (leaf)
		snprintf(mt, sizeof(mt), " MT=%u%s", (unsigned)((e & EPTE_MT_MASK) >> EPTE_MT_SHIFT),
			 (e & EPTE_IPAT) ? " IPAT" : "");
	snprintf(buf, len, "%s%s%s%s%s%s%s -> %s HPA 0x%" PRIx64, (e & EPTE_R) ? "R" : "-", (e & EPTE_W) ? "W" : "-",
		 (e & EPTE_X) ? "X" : "-", mt, (e & EPTE_A) ? " A" : "", (e & EPTE_D) ? " D" : "",
		 (level > 1 && (e & EPTE_PS)) ? " PS" : "", leaf ? "page" : "table", e & PHYS_ADDR_MASK);
}

static bool canonical(uint64_t la, unsigned bits)
{
	int64_t s = (int64_t)(la << (64 - bits)) >> (64 - bits);
	return (uint64_t)s == la;
}

/* The guest tables and their host side from a setup file's maps (in file
 * order, tables from GUEST_TABLES_GPA up); EPT and shadow entries for the
 * pages of gva and its neighbour, when the file maps them. */
static void build_from_setup(struct layout *l, const uint64_t va[2])
{
	const struct explain_opts *o = l->o;
	const struct setup *t = o->tables;
	for (unsigned i = 0; i < t->nmaps; i++)
		map_1d(l, true, l->guest_root, o->guest_levels, t->map[i].gva, t->map[i].shift, t->map[i].gpa,
		       t->map[i].flags);
	if (o->mode == MODE_EPT)
		for (uint64_t a = GUEST_TABLES_GPA; a < l->next_guest_table; a += PAGE_SIZE)
			ept_map(l, a);
	for (int i = 0; i < 2; i++) {
		const struct setup_map *m = setup_find_map(t, va[i]);
		if (!m)
			continue;
		if (o->mode == MODE_EPT)
			ept_map(l, m->gpa + (va[i] - m->gva));
		else if (o->mode == MODE_SHADOW)
			shadow_map(l, va[i], m->gpa, m->shift, m->flags);
	}
}

static void build(struct layout *l, uint64_t gva, uint64_t neighbour)
{
	const struct explain_opts *o = l->o;
	const uint64_t gsize = UINT64_C(1) << o->guest_page_shift;
	const uint64_t data[2] = {EXPLAIN_DATA_GPA, EXPLAIN_DATA_GPA + gsize};
	const uint64_t va[2] = {gva, neighbour};

	l->guest_root = l->next_guest_table;
	l->next_guest_table += PAGE_SIZE;
	if (o->mode != MODE_NATIVE) {
		l->host_root = l->next_host_table;
		l->next_host_table += PAGE_SIZE;
	}
	if (o->tables) {
		build_from_setup(l, va);
		return;
	}
	for (int i = 0; i < 2; i++) {
		bool present = !(i == 0 && o->fault && o->mode != MODE_EPT);
		map_1d(l, true, l->guest_root, o->guest_levels, va[i], o->guest_page_shift,
		       data[i], present ? GUEST_LEAF_FLAGS : 0);
	}
	if (o->mode == MODE_EPT) {
		for (uint64_t t = GUEST_TABLES_GPA; t < l->next_guest_table; t += PAGE_SIZE)
			ept_map(l, t);
		for (int i = 0; i < 2; i++)
			if (!(i == 0 && o->fault))
				ept_map(l, data[i] + (va[i] & (gsize - 1)));
	} else if (o->mode == MODE_SHADOW) {
		for (int i = 0; i < 2; i++)
			if (!(i == 0 && o->fault))
				shadow_map(l, va[i], data[i], o->guest_page_shift, GUEST_LEAF_FLAGS);
	}
}

/* Charge a walk's references through the hierarchy (as the CPU does). */
static uint64_t charge(struct cpu *c, struct walk_result *w)
{
	uint64_t cyc = 0;
	for (unsigned i = 0; i < w->nrefs; i++) {
		struct walk_ref *x = &w->ref[i];
		if (x->kind == WREF_READ || x->kind == WREF_AD_WRITE) {
			x->cycles = (uint32_t)cpu_pt_access(c, x->hpa, CTR_CPU_CYCLES_WALK, &x->served);
			cyc += x->cycles;
		}
	}
	return cyc;
}

static void print_step(FILE *out, unsigned n, const struct walk_ref *x, bool ept_mode, bool shadow)
{
	char dec[160], what[64];
	const char *dim = x->dim == PWC_EPT ? "EPT" : shadow ? "shadow" : "guest";
	switch (x->kind) {
	case WREF_PWC_HIT:
		if (x->dim == PWC_EPT)
			fprintf(out, "  -  EPT %s cache hit for GPA 0x%" PRIx64 ": table at HPA 0x%" PRIx64
				     ", the EPT levels above are skipped\n",
				level_name(x->level), x->gpa, x->value);
		else
			fprintf(out, "  -  %s %s cache hit for GVA 0x%" PRIx64 ": table at %s 0x%" PRIx64
				     ", the levels above are skipped\n",
				dim, level_name(x->level), x->gpa, ept_mode ? "GPA" : "HPA", x->value);
		return;
	case WREF_NTLB_HIT:
		fprintf(out, "  -  nested TLB hit: GPA 0x%" PRIx64 " -> HPA 0x%" PRIx64 ", its EPT walk is skipped\n",
			x->gpa, x->value);
		return;
	default:
		break;
	}
	if (x->dim == PWC_EPT) {
		decode_ept(dec, sizeof(dec), x->value, x->level);
		snprintf(what, sizeof(what), "EPT %s for GPA 0x%" PRIx64, level_name(x->level), x->gpa);
		fprintf(out, "%3u  %-34s %12s  0x%-12" PRIx64 " 0x%016" PRIx64 "  %-4s %4u  %s%s\n", n, what, "-", x->hpa,
			x->value, served_name(x->served), x->cycles, x->kind == WREF_AD_WRITE ? "A/D write: " : "",
			dec);
	} else {
		decode_guest(dec, sizeof(dec), x->value, x->level, !ept_mode);
		snprintf(what, sizeof(what), "%s %s", dim, level_name(x->level));
		char gpa[24] = "-";
		if (ept_mode)
			snprintf(gpa, sizeof(gpa), "0x%" PRIx64, x->gpa);
		fprintf(out, "%3u  %-34s %12s  0x%-12" PRIx64 " 0x%016" PRIx64 "  %-4s %4u  %s%s\n", n, what, gpa, x->hpa,
			x->value, served_name(x->served), x->cycles, x->kind == WREF_AD_WRITE ? "A/D write: " : "",
			dec);
	}
}

int explain_walk(const struct explain_opts *o, FILE *out, char *err)
{
	static const char *const kinds[] = {"read", "write", "fetch"};
	const unsigned la_bits = o->guest_levels == 5 ? 57 : 48;
	const struct setup_map *tm = o->tables ? setup_find_map(o->tables, o->gva) : NULL;
	const uint64_t gsize = UINT64_C(1) << (tm ? tm->shift : o->tables ? PAGE_SHIFT : o->guest_page_shift);

	if (!canonical(o->gva, la_bits)) {
		snprintf(err, CPU_ERR_LEN, "GVA 0x%" PRIx64 " is not canonical for %u-level paging (%u-bit linear addresses)",
			 o->gva, o->guest_levels, la_bits);
		return -1;
	}
	uint64_t neighbour = (o->gva & ~(gsize - 1)) + gsize;
	if (!canonical(neighbour, la_bits) || (neighbour >> (la_bits - 1)) != (o->gva >> (la_bits - 1)))
		neighbour = (o->gva & ~(gsize - 1)) - gsize; /* the last page of a half: use the one below */

	struct phys_mem mem;
	struct counters ctr;
	struct cpu cpu;
	memset(&ctr, 0, sizeof(ctr));
	if (mem_init(&mem) < 0) {
		snprintf(err, CPU_ERR_LEN, "out of memory");
		return -1;
	}
	if (cpu_init(&cpu, &o->params, &mem, &ctr, err) < 0) {
		mem_destroy(&mem);
		return -1;
	}
	struct layout l = {&mem, o, GUEST_TABLES_GPA, HOST_TABLES_HPA, 0, 0};
	build(&l, o->gva, neighbour);

	const bool ept = o->mode == MODE_EPT, shadow = o->mode == MODE_SHADOW;
	struct paging_ctx pc = {
		.cr0 = CR0_PE | CR0_PG | CR0_WP,
		.cr3 = shadow ? l.host_root : l.guest_root,
		.cr4 = CR4_PAE | (o->guest_levels == 5 ? CR4_LA57 : 0),
		.efer = EFER_LME | EFER_LMA | EFER_NXE,
		.ept = ept,
		.eptp = ept ? l.host_root | EPTP_MT_WB | ((uint64_t)(o->ept_levels - 1) << EPTP_WALK_LEN_SHIFT) |
				      (o->params.ept_ad ? EPTP_AD : 0)
			    : 0,
		.ept_cap = cpu.caps.ept_vpid_cap,
	};
	struct walk_caches wc = cpu.wc;
	wc.tag.vpid = o->mode == MODE_NATIVE ? 0 : o->vpid;
	wc.tag.pcid = 0;
	wc.tag.ep4ta = ept ? l.host_root >> PAGE_SHIFT : 0;

	fprintf(out, "explain walk: GVA 0x%" PRIx64 ", %s %s access, mode %s, %s caches, profile %s\n", o->gva,
		o->user ? "user" : "supervisor", kinds[o->kind], mode_name(o->mode), o->warm ? "warm" : "cold",
		cpu_profiles[o->params.cpu_profile].name);
	if (o->tables)
		fprintf(out, "guest: %u-level paging, tables from %s (%u maps; the address is %s), CR3 = %s 0x%" PRIx64
			     "\n",
			o->guest_levels, o->tables->path, o->tables->nmaps,
			tm ? "in a mapped page" : "in no map: the walk faults",
			shadow ? "HPA (shadow root)" : ept ? "GPA" : "HPA", pc.cr3);
	else
		fprintf(out, "guest: %u-level paging, %s pages, CR3 = %s 0x%" PRIx64 "\n", o->guest_levels,
			page_size_name(o->guest_page_shift), shadow ? "HPA (shadow root)" : ept ? "GPA" : "HPA", pc.cr3);
	if (ept)
		fprintf(out, "EPT:   %u-level, %s pages, EPTP = 0x%" PRIx64 "%s; guest RAM at GPA g is at HPA g + 0x%" PRIx64
			     "\n",
			o->ept_levels, page_size_name(o->backing_page_shift), pc.eptp,
			o->params.ept_ad ? " (A/D on)" : "", EXPLAIN_HOST_OFFSET);
	if (ept && o->ept_levels == 5 && !o->params.vmx_ept_5level)
		fprintf(out, "note:  the %s profile's IA32_VMX_EPT_VPID_CAP has no 5-level EPT (bit 7): VM entry would "
			     "refuse this EPTP (try --profile sapphirerapids)\n",
			cpu_profiles[o->params.cpu_profile].name);
	if (o->guest_levels == 5 && !o->params.cpu_la57)
		fprintf(out, "note:  the %s profile's core has no 5-level paging (CPUID.(7,0):ECX[16]): the guest could "
			     "not set CR4.LA57 (try --profile sapphirerapids)\n",
			cpu_profiles[o->params.cpu_profile].name);
	if (ept && o->backing_page_shift == 30 && !(pc.ept_cap & EPT_CAP_1G))
		fprintf(out, "note:  this part has no 1 GiB EPT pages (IA32_VMX_EPT_VPID_CAP bit 17 clear, ept.1g=off): "
			     "a 1 GiB EPT leaf is a misconfiguration, and the VMM refuses vmm.backing=1g\n");
	if (shadow && o->tables)
		fprintf(out, "shadow: the VMM's tables (tagged VPID %u), leaves of the smaller of each guest page and the "
			     "%s host backing, with the guest leaf's rights (read-only while its D is clear); guest RAM "
			     "at GPA g is at HPA g + 0x%" PRIx64 "\n",
			o->vpid, page_size_name(o->backing_page_shift), EXPLAIN_HOST_OFFSET);
	else if (shadow)
		fprintf(out, "shadow: the VMM's tables (tagged VPID %u), %s entries (the smaller of the guest page and "
			     "the %s host backing); guest RAM at GPA g is at HPA g + 0x%" PRIx64 "\n",
			o->vpid,
			page_size_name(o->guest_page_shift < o->backing_page_shift ? o->guest_page_shift
										  : o->backing_page_shift),
			page_size_name(o->backing_page_shift), EXPLAIN_HOST_OFFSET);
	if (o->mode != MODE_NATIVE)
		fprintf(out, "tags:  VPID %u%s\n", wc.tag.vpid, ept ? ", EP4TA = EPTP[51:12]" : "");

	struct walk_result w;
	if (o->warm) {
		struct mmu_access pre = {neighbour, o->kind, o->user};
		mmu_walk(&mem, &pc, &pre, &wc, &w);
		uint64_t cyc = charge(&cpu, &w);
		fprintf(out, "warm-up: walked the neighbouring page GVA 0x%" PRIx64 " first (%u references, %" PRIu64
			     " cycles)\n",
			neighbour, w.guest_refs + w.ept_refs + w.guest_ad_writes + w.ept_ad_writes, cyc);
	}
	fprintf(out, "TLB: miss (L1 and L2 hold no entry for this page): the walk starts\n\n");
	fprintf(out, "%3s  %-34s %12s  %-14s %-18s  %-4s %4s  %s\n", "#", "entry read", "entry GPA", "entry HPA",
		"value", "line", "cyc", "decoded");

	struct mmu_access acc = {o->gva, o->kind, o->user};
	enum walk_fault f = mmu_walk(&mem, &pc, &acc, &wc, &w);
	uint64_t cyc = charge(&cpu, &w);
	unsigned n = 0;
	for (unsigned i = 0; i < w.nrefs; i++) {
		const struct walk_ref *x = &w.ref[i];
		if (x->kind == WREF_READ || x->kind == WREF_AD_WRITE)
			n++;
		print_step(out, n, x, ept, shadow);
	}
	unsigned refs = w.guest_refs + w.ept_refs;
	fprintf(out, "\n%u references (%u %s + %u EPT), %u A/D writes, %" PRIu64 " cycles\n", refs, w.guest_refs,
		shadow ? "shadow" : "guest", w.ept_refs, w.guest_ad_writes + w.ept_ad_writes, cyc);
	switch (f) {
	case WALK_OK:
		if (ept)
			fprintf(out, "result: GVA 0x%" PRIx64 " -> GPA 0x%" PRIx64 " -> HPA 0x%" PRIx64
				     " (cached in the TLB as a %s page)\n",
				o->gva, w.gpa, w.hpa, page_size_name(w.page_shift));
		else
			fprintf(out, "result: GVA 0x%" PRIx64 " -> HPA 0x%" PRIx64 " (a %s page)\n", o->gva, w.hpa,
				page_size_name(w.page_shift));
		break;
	case WALK_PF:
		fprintf(out, "fault: #PF, error code 0x%x (%s, %s, %s%s)%s\n", w.pfec,
			(w.pfec & PFEC_P) ? "protection" : "not present", (w.pfec & PFEC_WR) ? "write" : "read",
			(w.pfec & PFEC_US) ? "user" : "supervisor", (w.pfec & PFEC_ID) ? ", fetch" : "",
			shadow ? "; under shadow paging this is a VM exit (reason 0, EXCEPTION_NMI) the VMM sorts out"
			       : "");
		break;
	case WALK_EPT_VIOLATION: {
		const char *what = (w.ept_qual & EPT_QUAL_FETCH) ? "fetch"
				  : (w.ept_qual & EPT_QUAL_WRITE) ? ((w.ept_qual & EPT_QUAL_READ) ? "read+write" : "write")
								  : "read";
		fprintf(out,
			"fault: EPT violation, VM exit reason 48, guest-physical address 0x%" PRIx64
			", qualification 0x%" PRIx64 " (a %s; the GPA was %s%s%s; %s%s)\n",
			w.fault_gpa, w.ept_qual, what, (w.ept_qual & EPT_QUAL_GPA_R) ? "readable" : "not readable",
			(w.ept_qual & EPT_QUAL_GPA_W) ? ", writable" : "", (w.ept_qual & EPT_QUAL_GPA_X) ? ", executable" : "",
			(w.ept_qual & EPT_QUAL_GLA_VALID) ? "linear address valid" : "no linear address",
			(w.ept_qual & EPT_QUAL_GLA_XLATE) ? ", the final translation" : ", a paging-structure access");
		break;
	}
	case WALK_EPT_MISCONFIG:
		fprintf(out, "fault: EPT misconfiguration, VM exit reason 49, GPA 0x%" PRIx64 "\n", w.fault_gpa);
		break;
	}
	cpu_destroy(&cpu);
	mem_destroy(&mem);
	return 0;
}
