/*
 * Notes: guest execution. One loop takes, in order: due timed events
 * (timer ticks), queued guest-kernel operations, and the front end's next
 * event. A memory reference goes L1 TLB -> L2 TLB -> page walk; a fault
 * either goes to the guest kernel (#PF, delivered through its IDT) or, in
 * VMX non-root operation, becomes a VM exit. The faulting instruction is
 * retried after the handler, as on hardware, and counted once.
 *
 * Cycles (first cut, every number a parameter of src/cpu/params.c):
 *  base CPI per instruction; tlb.l2.hit_cycles per L1 miss that hits the
 *  L2 TLB; each paging-structure read or A/D write of a walk, and each
 *  guest-kernel paging store, the latency of the cache level holding its
 *  64-byte line (src/mem/cache.h: L1D, L2, LLC or DRAM); page zeroing
 *  and fault handling as the guest and VMM parameters say; a VM exit costs
 *  vmx.roundtrip_cycles.
 * TLB arrays per page size (struct cpu): a 2 MiB translation fills the L1
 * 2 MiB array and, where the STLB holds 2 MiB entries (tlb.l2.2m), the
 * STLB; a 1 GiB data translation fills the 1 GiB DTLB only (no STLB 1 GiB
 * array is modelled: Skylake client has none). A size with no array is
 * cached as 4 KiB fragments, and so are 1 GiB code translations.
 * Approximations: the guest kernel's own stores use a direct
 * map whose translation is not modelled natively (assumed TLB-resident,
 * 1 GiB pages) and costs one EPT translation per store under EPT (no
 * guest-physical TLB yet); data references and fetches fill the cache
 * hierarchy (cache.data_refs) but their own latency is in the base CPI.
 * Paging-structure caches and the nested TLB (struct walk_caches) cut the
 * references a walk makes; a hit costs nothing beyond the references it
 * saves (no lookup latency is charged).
 */
#include "cpu/cpu_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/ept.h"
#include "arch/paging.h"
#include "arch/vmx_controls.h"

int cpu_init(struct cpu *c, const struct sim_params *p, struct phys_mem *mem, struct counters *ctr, char *err)
{
	memset(c, 0, sizeof(*c));
	c->p = p;
	c->mem = mem;
	c->ctr = ctr;
	evq_init(&c->evq);
	c->caps = vmx_model_caps;
	if (!p->ept_1g)
		c->caps.ept_vpid_cap &= ~EPT_CAP_1G;
	if (tlb_init(&c->itlb, "l1i", (unsigned)p->tlb_l1i_entries, (unsigned)p->tlb_l1i_ways, err) < 0 ||
	    tlb_init(&c->dtlb, "l1d", (unsigned)p->tlb_l1d_entries, (unsigned)p->tlb_l1d_ways, err) < 0 ||
	    (p->tlb_l2_2m ? tlb_init_shared(&c->stlb, "l2", (unsigned)p->tlb_l2_entries, (unsigned)p->tlb_l2_ways, 12,
					    21, err)
			  : tlb_init(&c->stlb, "l2", (unsigned)p->tlb_l2_entries, (unsigned)p->tlb_l2_ways, err)) < 0 ||
	    (p->tlb_l1i_2m_entries &&
	     tlb_init_sized(&c->itlb2m, "l1i_2m", (unsigned)p->tlb_l1i_2m_entries, (unsigned)p->tlb_l1i_2m_ways, 21,
			    err) < 0) ||
	    (p->tlb_l1d_2m_entries &&
	     tlb_init_sized(&c->dtlb2m, "l1d_2m", (unsigned)p->tlb_l1d_2m_entries, (unsigned)p->tlb_l1d_2m_ways, 21,
			    err) < 0) ||
	    (p->tlb_l1d_1g_entries &&
	     tlb_init_sized(&c->dtlb1g, "l1d_1g", (unsigned)p->tlb_l1d_1g_entries, (unsigned)p->tlb_l1d_1g_ways, 30,
			    err) < 0)) {
		cpu_destroy(c);
		return -1;
	}
	if (p->guest_hz) {
		c->tick_period = p->cpu_freq_mhz * 1000000u / p->guest_hz;
		if (evq_push(&c->evq, c->tick_period, TEV_TIMER_TICK, 0) < 0) {
			snprintf(err, CPU_ERR_LEN, "out of memory");
			cpu_destroy(c);
			return -1;
		}
	}
	static const char *const pwc_names[2][PWC_LEVELS] = {{"pwc.guest.pml4e", "pwc.guest.pdpte", "pwc.guest.pde"},
							      {"pwc.ept.pml4e", "pwc.ept.pdpte", "pwc.ept.pde"}};
	for (int d = 0; d < 2; d++) {
		for (int k = 0; k < PWC_LEVELS; k++) {
			if (!p->pwc_entries[d][k])
				continue;
			if (tlb_init_sized(&c->pwc[d][k], pwc_names[d][k], (unsigned)p->pwc_entries[d][k],
					   (unsigned)p->pwc_ways[d][k], 39 - 9 * (unsigned)k, err) < 0) {
				cpu_destroy(c);
				return -1;
			}
			if (d == PWC_GUEST)
				c->wc.guest[k] = &c->pwc[d][k];
			else
				c->wc.ept[k] = &c->pwc[d][k];
		}
	}
	if (p->ntlb_entries) {
		if (tlb_init(&c->ntlb, "ntlb", (unsigned)p->ntlb_entries, (unsigned)p->ntlb_ways, err) < 0) {
			cpu_destroy(c);
			return -1;
		}
		c->wc.ntlb = &c->ntlb;
	}
	if (p->cpu_la57)
		c->caps.cr4_fixed1 |= CR4_LA57;
	if (p->vmx_ept_5level)
		c->caps.ept_vpid_cap |= EPT_CAP_PWL5;
	if (p->vmx_posted_intr) {
		/* Allowed-1 settings live in the MSRs' high halves. */
		c->caps.true_pinbased |= (uint64_t)PIN_POSTED_INTR << 32;
		c->caps.procbased2 |= (uint64_t)SECONDARY_VIRTUAL_INTR_DELIVERY << 32;
	}
	struct cache_config cc;
	memcpy(cc.kib, p->cache_kib, sizeof(cc.kib));
	memcpy(cc.ways, p->cache_ways, sizeof(cc.ways));
	memcpy(cc.cycles, p->cache_cycles, sizeof(cc.cycles));
	if (cache_init(&c->cache, &cc, err) < 0) {
		cpu_destroy(c);
		return -1;
	}
	/* Arrays with 0 entries (Nehalem has no 1 GiB array: CPUID 80000001
	 * EDX.PDPE1GB clear, [IL] 00106A2_Nehalem-EP_CPUID.txt) take no part in
	 * lookups, fills or invalidations; their translations are cached as
	 * 4 KiB fragments. */
	struct tlb *all[CPU_NTLBS] = {&c->itlb, &c->dtlb, &c->stlb, &c->itlb2m, &c->dtlb2m, &c->dtlb1g};
	c->ntlbs = 0;
	for (int i = 0; i < CPU_NTLBS; i++)
		if (all[i]->e)
			c->tlbs[c->ntlbs++] = all[i];
	c->progress_every = c->progress_countdown = 1u << 20;
	c->base_cpi_milli = (uint64_t)(p->cpu_base_cpi * 1000.0 + 0.5);
	return 0;
}

void cpu_destroy(struct cpu *c)
{
	tlb_destroy(&c->itlb);
	tlb_destroy(&c->dtlb);
	tlb_destroy(&c->stlb);
	tlb_destroy(&c->itlb2m);
	tlb_destroy(&c->dtlb2m);
	tlb_destroy(&c->dtlb1g);
	for (int d = 0; d < 2; d++)
		for (int k = 0; k < PWC_LEVELS; k++)
			tlb_destroy(&c->pwc[d][k]);
	tlb_destroy(&c->ntlb);
	memset(&c->wc, 0, sizeof(c->wc));
	cache_destroy(&c->cache);
	evq_destroy(&c->evq);
	free(c->ops);
	c->ops = NULL;
	free(c->cbs);
	c->cbs = NULL;
	u64vec_free(&c->cbs_free);
	u64vec_free(&c->host_net_q);
}

void cpu_attach_guest(struct cpu *c, const struct guest_os_ops *ops, void *os)
{
	c->os_ops = ops;
	c->os = os;
}

int cpu_fail(struct cpu *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return -1;
}

void cpu_charge(struct cpu *c, enum counter_id bucket, uint64_t cycles)
{
	c->cycles += cycles;
	ctr_add(c->ctr, bucket, cycles);
	if (bucket == CTR_CPU_CYCLES_GUEST_KERNEL)
		ctr_add(c->ctr, (enum counter_id)(CTR_CPU_CYCLES_GUEST_KERNEL_PROC + c->kernel_work), cycles);
}

int cpu_map_mmio(struct cpu *c, const struct mmio_window *w)
{
	if (c->nmmio == CPU_MAX_MMIO)
		return cpu_fail(c, "more than %d device windows", CPU_MAX_MMIO);
	for (unsigned i = 0; i < c->nmmio; i++)
		if (w->base < c->mmio[i].base + c->mmio[i].size && c->mmio[i].base < w->base + w->size)
			return cpu_fail(c, "device window at HPA 0x%" PRIx64 " overlaps another", w->base);
	c->mmio[c->nmmio++] = *w;
	return 0;
}

const struct mmio_window *cpu_mmio_at(const struct cpu *c, uint64_t hpa)
{
	for (unsigned i = 0; i < c->nmmio; i++)
		if (hpa >= c->mmio[i].base && hpa - c->mmio[i].base < c->mmio[i].size)
			return &c->mmio[i];
	return NULL;
}

int cpu_callback_in(struct cpu *c, uint64_t delay, void (*fn)(void *ctx), void *ctx)
{
	size_t i;
	if (c->cbs_free.n) {
		i = c->cbs_free.v[--c->cbs_free.n];
	} else {
		if (c->ncbs == c->cbs_cap) {
			size_t cap = c->cbs_cap ? c->cbs_cap * 2 : 64;
			struct cpu_callback *n = realloc(c->cbs, cap * sizeof(*n));
			if (!n)
				return cpu_fail(c, "out of memory in the event queue");
			c->cbs = n;
			c->cbs_cap = cap;
		}
		i = c->ncbs++;
	}
	c->cbs[i] = (struct cpu_callback){fn, ctx};
	if (evq_push(&c->evq, c->cycles + delay, TEV_CALLBACK, i) < 0)
		return cpu_fail(c, "out of memory in the event queue");
	return 0;
}

void cpu_host_net_attach(struct cpu *c, uint8_t vector)
{
	c->host_net_vector = vector;
}

int cpu_host_net_take(struct cpu *c, uint32_t *len)
{
	if (c->host_net_head == c->host_net_q.n)
		return 0;
	*len = (uint32_t)c->host_net_q.v[c->host_net_head++];
	if (c->host_net_head == c->host_net_q.n) /* all taken: start over at the front */
		c->host_net_q.n = c->host_net_head = 0;
	return 1;
}

/* The network sends the frame a process is receiving (see cpu.h). */
static int net_deliver(struct cpu *c, uint32_t len)
{
	if (c->net_rx)
		return c->net_rx(c->net_rx_ctx, len, c->err) < 0 ? -1 : 0;
	if (!c->host_net_vector)
		return cpu_fail(c, "a network receive, but the machine has no NIC (give it one with --io emulated, assigned "
				   "or bounce)");
	if (u64vec_push(&c->host_net_q, len) < 0)
		return cpu_fail(c, "out of memory");
	cpu_raise_interrupt(c, c->host_net_vector);
	return 0;
}

int cpu_host_timer_in(struct cpu *c, uint64_t delay, uint8_t vector)
{
	if (evq_push(&c->evq, c->cycles + delay, TEV_HOST_TIMER, vector) < 0)
		return cpu_fail(c, "out of memory in the event queue");
	return 0;
}

void cpu_raise_interrupt(struct cpu *c, uint8_t vector)
{
	c->irr[vector / 64] |= UINT64_C(1) << (vector % 64);
}

/* The highest requested vector, or -1. */
static int irr_highest(const struct cpu *c)
{
	for (int w = 3; w >= 0; w--)
		if (c->irr[w])
			return w * 64 + 63 - __builtin_clzll(c->irr[w]);
	return -1;
}

static void irr_clear(struct cpu *c, unsigned v)
{
	c->irr[v / 64] &= ~(UINT64_C(1) << (v % 64));
}

int cpu_take_interrupt(struct cpu *c)
{
	int v = irr_highest(c);
	if (v >= 0)
		irr_clear(c, (unsigned)v);
	return v;
}

/* Run one due hardware event that raises no guest-visible interrupt by
 * itself: a device callback or the host timer. */
static void run_hw_event(struct cpu *c, const struct timed_event *te)
{
	if (te->kind == TEV_HOST_TIMER) {
		cpu_raise_interrupt(c, (uint8_t)te->data);
		return;
	}
	struct cpu_callback cb = c->cbs[te->data];
	/* Free the slot before the call, which may queue another. */
	if (u64vec_push(&c->cbs_free, te->data) < 0) {
		cpu_fail(c, "out of memory in the event queue");
		return;
	}
	cb.fn(cb.ctx);
}

int cpu_run_due_hw_events(struct cpu *c)
{
	for (;;) {
		const struct timed_event *te = evq_peek(&c->evq);
		if (!te || te->cycle > c->cycles || te->kind == TEV_TIMER_TICK)
			return c->err[0] ? -1 : 0;
		struct timed_event ev;
		evq_pop(&c->evq, &ev);
		run_hw_event(c, &ev);
		if (c->err[0])
			return -1;
	}
}

void cpu_set_paging(struct cpu *c, uint64_t cr0, uint64_t cr3, uint64_t cr4, uint64_t efer)
{
	c->cr0 = cr0;
	c->cr3 = cr3;
	c->cr4 = cr4;
	c->efer = efer;
}

struct tlb_ctx cpu_tlb_ctx(const struct cpu *c)
{
	struct tlb_ctx t = {
		.vpid = c->nonroot ? c->vpid : 0,
		.pcid = (c->cr4 & CR4_PCIDE) ? (uint16_t)(c->cr3 & CR3_PCID_MASK) : 0,
		.ep4ta = (c->nonroot && c->ept_on) ? (c->eptp & PHYS_ADDR_MASK) >> PAGE_SHIFT : 0,
	};
	return t;
}

void cpu_psc_flush_pcid(struct cpu *c, uint16_t vpid, uint16_t pcid)
{
	for (int k = 0; k < PWC_LEVELS; k++)
		if (c->wc.guest[k])
			tlb_flush_pcid_nonglobal(c->wc.guest[k], vpid, pcid);
}

void cpu_psc_flush_vpid(struct cpu *c, uint16_t vpid)
{
	for (int k = 0; k < PWC_LEVELS; k++)
		if (c->wc.guest[k])
			tlb_flush_vpid(c->wc.guest[k], vpid);
}

void cpu_psc_flush_all_vpids_but_0(struct cpu *c)
{
	for (int k = 0; k < PWC_LEVELS; k++)
		if (c->wc.guest[k])
			tlb_flush_all_vpids_but_0(c->wc.guest[k]);
}

void cpu_psc_flush_ept(struct cpu *c, uint64_t ep4ta)
{
	struct tlb *all[2 * PWC_LEVELS + 1];
	int n = 0;

	for (int k = 0; k < PWC_LEVELS; k++) {
		all[n++] = c->wc.guest[k];
		all[n++] = c->wc.ept[k];
	}
	all[n++] = c->wc.ntlb;
	for (int i = 0; i < n; i++) {
		if (!all[i])
			continue;
		if (ep4ta)
			tlb_flush_ep4ta(all[i], ep4ta);
		else
			tlb_flush_all_combined(all[i]);
	}
}

void cpu_flush_vpid0(struct cpu *c)
{
	cpu_psc_flush_vpid(c, 0);
	for (int i = 0; i < c->ntlbs; i++)
		tlb_flush_vpid(c->tlbs[i], 0);
	ctr_inc(c->ctr, CTR_TLB_FLUSH_VPID);
}

int cpu_guest_op(struct cpu *c, enum guest_op_kind kind, uint64_t addr, uint64_t val)
{
	if (c->ops_tail == c->ops_cap) {
		if (c->ops_head > 0) { /* compact */
			memmove(c->ops, c->ops + c->ops_head, (c->ops_tail - c->ops_head) * sizeof(*c->ops));
			c->ops_tail -= c->ops_head;
			c->ops_head = 0;
		}
		if (c->ops_tail == c->ops_cap) {
			size_t cap = c->ops_cap ? c->ops_cap * 2 : 256;
			struct guest_op *ops = realloc(c->ops, cap * sizeof(*ops));
			if (!ops)
				return cpu_fail(c, "out of memory queueing guest kernel operations");
			c->ops = ops;
			c->ops_cap = cap;
		}
	}
	c->ops[c->ops_tail++] = (struct guest_op){kind, addr, val, c->kernel_work};
	return 0;
}

static void tlbs_invlpg(struct cpu *c, uint64_t la);

/* Charge a walk's references and count them per dimension. */
uint64_t cpu_pt_access(struct cpu *c, uint64_t hpa, enum counter_id bucket, uint8_t *served)
{
	enum cache_level lv = cache_access(&c->cache, hpa, CACHE_L1D);
	ctr_inc(c->ctr, (enum counter_id)(CTR_CACHE_PT_L1D + lv));
	if (served)
		*served = (uint8_t)lv;
	cpu_charge(c, bucket, c->cache.cycles[lv]);
	return c->cache.cycles[lv];
}

/* Count a walk and charge its memory references through the cache
 * hierarchy, each at the latency of the level holding its line; every
 * step records where its line was and what it cost. */
static void charge_walk(struct cpu *c, struct walk_result *w)
{
	uint64_t cyc[2] = {0, 0};
	ctr_inc(c->ctr, CTR_WALK_COUNT);
	ctr_add(c->ctr, CTR_WALK_GUEST_REFS, w->guest_refs);
	ctr_add(c->ctr, CTR_WALK_EPT_REFS, w->ept_refs);
	ctr_add(c->ctr, CTR_WALK_GUEST_AD_WRITES, w->guest_ad_writes);
	ctr_add(c->ctr, CTR_WALK_EPT_AD_WRITES, w->ept_ad_writes);
	for (unsigned i = 0; i < w->nrefs; i++) {
		struct walk_ref *x = &w->ref[i];
		if (x->kind != WREF_READ && x->kind != WREF_AD_WRITE)
			continue;
		x->cycles = (uint32_t)cpu_pt_access(c, x->hpa, CTR_CPU_CYCLES_WALK, &x->served);
		cyc[x->dim] += x->cycles;
	}
	/* The same cycles split by dimension (the breakdown, not more time). */
	ctr_add(c->ctr, CTR_CPU_CYCLES_WALK_GUEST, cyc[PWC_GUEST]);
	ctr_add(c->ctr, CTR_CPU_CYCLES_WALK_EPT, cyc[PWC_EPT]);
	for (int d = 0; d < 2; d++) {
		for (int k = 0; k < PWC_LEVELS; k++) {
			enum counter_id hit = CTR_WALK_PWC_GUEST_PML4E_HIT + 2 * (PWC_LEVELS * d + k);
			ctr_add(c->ctr, hit, w->pwc_hit[d][k]);
			ctr_add(c->ctr, hit + 1, w->pwc_miss[d][k]);
		}
	}
	ctr_add(c->ctr, CTR_WALK_NTLB_HIT, w->ntlb_hit);
	ctr_add(c->ctr, CTR_WALK_NTLB_MISS, w->ntlb_miss);
}

/* Base CPI of one instruction, kept exact in thousandths of a cycle. */
static void charge_base(struct cpu *c)
{
	c->base_milli += c->base_cpi_milli;
	uint64_t whole = c->base_milli / 1000;
	c->base_milli -= whole * 1000;
	cpu_charge(c, CTR_CPU_CYCLES_BASE, whole);
}

enum xlate_result { XLATE_OK, XLATE_PF_HANDLED, XLATE_EXIT, XLATE_ERROR };

/* A TLB entry permits the access without a walk. */
static inline bool entry_permits(const struct tlb_entry *e, enum access_kind kind, bool user)
{
	if (user && !e->user)
		return false;
	switch (kind) {
	case ACC_READ:
		return e->readable;
	case ACC_WRITE:
		return e->writable && e->dirty; /* else protection, or D must be set by a walk */
	case ACC_FETCH:
		return !e->nx;
	}
	return false;
}

/* #PF in VMX non-root: does the exception bitmap with the #PF error-code
 * mask/match make it exit (reference sheet §4.7)? */
static bool pf_exits(const struct vmcs *v, uint32_t pfec)
{
	bool bit = vmcs_get(v, VMCS_EXCEPTION_BITMAP) & (1u << VEC_PF);
	uint32_t mask = (uint32_t)vmcs_get(v, VMCS_PAGE_FAULT_ERROR_CODE_MASK);
	uint32_t match = (uint32_t)vmcs_get(v, VMCS_PAGE_FAULT_ERROR_CODE_MATCH);
	return ((pfec & mask) == match) ? bit : !bit;
}

/* Deliver a fault of a walk: #PF to the guest kernel, or a VM exit. */
static enum xlate_result deliver_fault(struct cpu *c, const struct walk_result *w, uint64_t la)
{
	ctr_inc(c->ctr, CTR_WALK_FAULTS);
	switch (w->fault) {
	case WALK_PF:
		/* A #PF invalidates the TLB entries for the faulting address
		 * (SDM "Invalidation of TLBs and Paging-Structure Caches"),
		 * and the paging-structure-cache entries that would be used
		 * for it: tlbs_invlpg() drops all of the current PCID's (more
		 * than required, which the SDM allows). */
		tlbs_invlpg(c, la);
		if (c->nonroot && pf_exits(c->vmcs, w->pfec)) {
			/* Exit qualification = the linear address; CR2 is not written. */
			cpu_vmexit(c, EXIT_REASON_EXCEPTION_NMI, la, 0, 0,
				   INTR_INFO_VALID | INTR_TYPE_HARD_EXCEPTION | INTR_INFO_DELIVER_CODE | VEC_PF);
			vmcs_put(c->vmcs, VMCS_VM_EXIT_INTR_ERROR_CODE, w->pfec);
			return XLATE_EXIT;
		}
		cpu_enter_kernel(c, KW_PF);
		if (c->os_ops->page_fault(c->os, c, la, w->pfec) < 0)
			return XLATE_ERROR;
		return XLATE_PF_HANDLED;
	case WALK_EPT_VIOLATION:
		cpu_vmexit(c, EXIT_REASON_EPT_VIOLATION, w->ept_qual, w->fault_gpa, la, 0);
		return XLATE_EXIT;
	case WALK_EPT_MISCONFIG:
		cpu_vmexit(c, EXIT_REASON_EPT_MISCONFIG, 0, w->fault_gpa, la, 0);
		return XLATE_EXIT;
	case WALK_OK:
		break;
	}
	return XLATE_OK;
}

/* A write that found an entry whose only lack is D: the walk sets it. */
static void note_refusal(struct cpu *c, const struct tlb_entry *e, enum access_kind kind)
{
	if (kind == ACC_WRITE && e->writable && !e->dirty)
		ctr_inc(c->ctr, CTR_TLB_DIRTY_ASSIST);
}

/* Host-physical address of la through a TLB entry. */
static inline uint64_t entry_hpa(const struct tlb_entry *e, uint64_t la)
{
	return (e->pfn << e->page_shift) | (la & ((UINT64_C(1) << e->page_shift) - 1));
}

/* The L1 array a translation of page_shift goes to: the 4 KiB one, or
 * the 2 MiB / 1 GiB one of the access's side when the CPU has it. */
static struct tlb *l1_array(struct cpu *c, bool fetch, unsigned page_shift)
{
	if (page_shift == 21 && (fetch ? c->itlb2m.e : c->dtlb2m.e))
		return fetch ? &c->itlb2m : &c->dtlb2m;
	if (page_shift == 30 && !fetch && c->dtlb1g.e)
		return &c->dtlb1g;
	return fetch ? &c->itlb : &c->dtlb;
}

/* Insert the translation of la in *ent (page_shift = its size, pfn of that
 * size) into t, as a 4 KiB fragment if t holds no entries of that size. */
static void fill(struct tlb *t, const struct tlb_entry *ent, uint64_t la)
{
	if (ent->page_shift == t->page_shift || ent->page_shift == t->page_shift2) {
		tlb_insert(t, ent);
		return;
	}
	struct tlb_entry frag = *ent;
	frag.page_shift = PAGE_SHIFT;
	frag.vpn = la >> PAGE_SHIFT;
	frag.pfn = entry_hpa(ent, la) >> PAGE_SHIFT;
	if (!frag.la_shift)
		frag.la_shift = ent->page_shift;
	tlb_insert(t, &frag);
}

/* Count an L1 hit and its page size. */
static void count_l1_hit(struct cpu *c, bool fetch, const struct tlb_entry *e)
{
	ctr_inc(c->ctr, fetch ? CTR_TLB_L1I_HIT : CTR_TLB_L1D_HIT);
	if (e->page_shift == 21)
		ctr_inc(c->ctr, fetch ? CTR_TLB_L1I_HIT_2M : CTR_TLB_L1D_HIT_2M);
	else if (e->page_shift == 30)
		ctr_inc(c->ctr, CTR_TLB_L1D_HIT_1G);
}

/* Translate one page-sized piece of an access (user: CPL 3) into *hpa. An
 * entry that does not permit the access counts as a miss at its level and
 * a walk decides. The L1 arrays of the access's side (4 KiB, 2 MiB, and
 * 1 GiB for data) are looked up side by side; on a miss the L2 TLB (4 KiB,
 * and 2 MiB with tlb.l2.2m) refills the L1 array of the entry's size; on a
 * miss there too the walk's translation fills the L1 array of its size and,
 * for 4 KiB (and 2 MiB with tlb.l2.2m), the L2 TLB. */
static enum xlate_result translate(struct cpu *c, uint64_t la, enum access_kind kind, bool user, uint64_t *hpa)
{
	const bool fetch = kind == ACC_FETCH;
	struct tlb *l1 = fetch ? &c->itlb : &c->dtlb;
	struct tlb *l1_2m = fetch ? &c->itlb2m : &c->dtlb2m;
	struct tlb_ctx tc = cpu_tlb_ctx(c);
	struct tlb_entry *e = tlb_lookup(l1, &tc, la);
	if (!e && l1_2m->e)
		e = tlb_lookup(l1_2m, &tc, la);
	if (!e && !fetch && c->dtlb1g.e)
		e = tlb_lookup(&c->dtlb1g, &tc, la);

	if (e && entry_permits(e, kind, user)) {
		count_l1_hit(c, fetch, e);
		*hpa = entry_hpa(e, la);
		return XLATE_OK;
	}
	ctr_inc(c->ctr, fetch ? CTR_TLB_L1I_MISS : CTR_TLB_L1D_MISS);
	if (e) {
		note_refusal(c, e, kind);
	} else {
		struct tlb_entry *e2 = tlb_lookup(&c->stlb, &tc, la);
		if (e2 && entry_permits(e2, kind, user)) {
			ctr_inc(c->ctr, CTR_TLB_L2_HIT);
			if (e2->page_shift == 21)
				ctr_inc(c->ctr, CTR_TLB_L2_HIT_2M);
			cpu_charge(c, CTR_CPU_CYCLES_TLB, c->p->tlb_l2_hit_cycles);
			*hpa = entry_hpa(e2, la);
			struct tlb_entry copy = *e2; /* the fill may evict e2's way */
			fill(l1_array(c, fetch, copy.page_shift), &copy, la);
			return XLATE_OK;
		}
		ctr_inc(c->ctr, CTR_TLB_L2_MISS);
		if (e2)
			note_refusal(c, e2, kind);
	}

	struct paging_ctx pc = {c->cr0, c->cr3, c->cr4, c->efer, c->nonroot && c->ept_on, c->eptp,
				c->caps.ept_vpid_cap};
	struct mmu_access acc = {la, kind, user};
	struct walk_result w;
	struct walk_caches wc = c->wc;
	wc.tag = tc;
	mmu_walk(c->mem, &pc, &acc, &wc, &w);
	charge_walk(c, &w);
	if (w.fault != WALK_OK)
		return deliver_fault(c, &w, la);

	*hpa = w.hpa;
	struct tlb_entry ne = {
		.vpn = la >> w.page_shift,
		.pfn = w.hpa >> w.page_shift,
		.ctx = tc,
		.page_shift = w.page_shift,
		.la_shift = w.guest_page_shift,
		.valid = true,
		.global = w.global,
		.readable = w.readable,
		.writable = w.writable,
		.user = w.user,
		.nx = w.nx,
		.dirty = w.dirty,
	};
	/* The STLB takes 4 KiB translations, 2 MiB ones if it holds them
	 * (tlb.l2.2m), and fragments of any size the L1 side has no array
	 * for; the 1 GiB DTLB has no STLB behind it (Skylake client has no
	 * 1 GiB STLB entries; Nehalem refills 2 MiB translations by a walk). */
	struct tlb *t = l1_array(c, fetch, w.page_shift);
	if (w.page_shift == PAGE_SHIFT || w.page_shift == c->stlb.page_shift2 || t->page_shift == PAGE_SHIFT)
		fill(&c->stlb, &ne, la);
	fill(t, &ne, la);
	return XLATE_OK;
}

/* Execute one memory event of the front end. */
static enum xlate_result exec_mem(struct cpu *c, const struct guest_event *ev)
{
	static const enum access_kind kinds[] = {[GEV_FETCH] = ACC_FETCH, [GEV_LOAD] = ACC_READ,
						 [GEV_STORE] = ACC_WRITE, [GEV_MODIFY] = ACC_WRITE};
	enum access_kind kind = kinds[ev->kind];
	uint64_t end = ev->gva + (ev->size ? ev->size - 1 : 0);
	const unsigned la_bits = (c->cr4 & CR4_LA57) ? 57 : 48;
	if (!la_is_canonical(ev->gva, la_bits) || !la_is_canonical(end, la_bits)) {
		cpu_fail(c, "non-canonical GVA 0x%" PRIx64 " (%u bytes): the access would raise #GP", ev->gva, ev->size);
		return XLATE_ERROR;
	}
	uint64_t first = ev->gva & PAGE_MASK;
	uint64_t last = end & PAGE_MASK;
	uint64_t hpa, hpa_last = 0;
	enum xlate_result r = translate(c, ev->gva, kind, true, &hpa);
	if (r == XLATE_OK && last != first)
		r = translate(c, last, kind, true, &hpa_last);
	if (r != XLATE_OK)
		return r;
	if (c->nmmio && (cpu_mmio_at(c, hpa) || (last != first && cpu_mmio_at(c, hpa_last)))) {
		cpu_fail(c, "an ordinary %s at GVA 0x%" PRIx64 " reached device registers (HPA 0x%" PRIx64
			    "): a trace's device accesses are MMIO records", kind == ACC_FETCH ? "fetch" : "access",
			 ev->gva, hpa);
		return XLATE_ERROR;
	}
	if (c->p->cache_data_refs) {
		/* Data lines compete with page-table lines (not charged). */
		enum cache_level from = kind == ACC_FETCH ? CACHE_L2 : CACHE_L1D;
		ctr_inc(c->ctr, (enum counter_id)(CTR_CACHE_DATA_L1D + cache_access(&c->cache, hpa, from)));
		if (last != first)
			ctr_inc(c->ctr, (enum counter_id)(CTR_CACHE_DATA_L1D + cache_access(&c->cache, hpa_last, from)));
	}

	/* The reference completed: count it once. */
	static const enum counter_id ref_ctr[] = {[GEV_FETCH] = CTR_MEM_REFS_FETCH, [GEV_LOAD] = CTR_MEM_REFS_LOAD,
						  [GEV_STORE] = CTR_MEM_REFS_STORE,
						  [GEV_MODIFY] = CTR_MEM_REFS_MODIFY};
	ctr_inc(c->ctr, ref_ctr[ev->kind]);
	if (last != first)
		ctr_inc(c->ctr, CTR_MEM_REFS_SPLIT);
	if (ev->kind == GEV_FETCH) {
		ctr_inc(c->ctr, CTR_CPU_INSTRUCTIONS);
	}
	return XLATE_OK;
}

/* A guest-kernel access to guest-physical memory: a supervisor write
 * through the kernel's direct map, translated like any other access. */
static enum xlate_result kernel_write(struct cpu *c, uint64_t gpa, uint64_t *hpa)
{
	return translate(c, GUEST_DIRECT_MAP_BASE + gpa, ACC_WRITE, false, hpa);
}

static enum xlate_result kernel_read(struct cpu *c, uint64_t gpa, uint64_t *hpa)
{
	return translate(c, GUEST_DIRECT_MAP_BASE + gpa, ACC_READ, false, hpa);
}

/* A load or store that reached host-physical address hpa, which must be a
 * device register: the window's device decodes it. *val: the value stored,
 * or receives the value loaded. */
static enum xlate_result mmio_access(struct cpu *c, uint64_t la, uint64_t hpa, unsigned size, bool read, uint64_t *val)
{
	const struct mmio_window *w = cpu_mmio_at(c, hpa);
	if (!w) {
		cpu_fail(c, "device-register access at linear 0x%" PRIx64 " reached HPA 0x%" PRIx64
			    ", which no device decodes", la, hpa);
		return XLATE_ERROR;
	}
	int rc = read ? w->read(w->ctx, hpa - w->base, size, val, c->err)
		      : w->write(w->ctx, hpa - w->base, size, *val, c->err);
	if (rc < 0)
		return XLATE_ERROR;
	ctr_inc(c->ctr, read ? CTR_CPU_MMIO_READS : CTR_CPU_MMIO_WRITES);
	cpu_charge(c, c->item == ITEM_OP ? CTR_CPU_CYCLES_GUEST_KERNEL : CTR_CPU_CYCLES_BASE,
		   read ? c->p->dev_mmio_read_cycles : c->p->dev_mmio_write_cycles);
	return XLATE_OK;
}

/* A load or store of a device register at linear address la (user: CPL 3). */
static enum xlate_result exec_mmio(struct cpu *c, uint64_t la, unsigned size, bool read, bool user, uint64_t *val)
{
	if (size != 1 && size != 2 && size != 4 && size != 8) {
		cpu_fail(c, "device-register access of %u bytes at 0x%" PRIx64, size, la);
		return XLATE_ERROR;
	}
	if ((la & PAGE_MASK) != ((la + size - 1) & PAGE_MASK)) {
		cpu_fail(c, "device-register access at 0x%" PRIx64 " crosses a page", la);
		return XLATE_ERROR;
	}
	if (!read)
		c->gpr[0] = *val; /* MOV [mem], EAX/RAX: a VMM emulating the store reads RAX */
	uint64_t hpa;
	enum xlate_result r = translate(c, la, read ? ACC_READ : ACC_WRITE, user, &hpa);
	if (r != XLATE_OK)
		return r;
	r = mmio_access(c, la, hpa, size, read, val);
	if (r == XLATE_OK && read)
		c->gpr[0] = *val;
	return r;
}

/* INVLPG: the page's TLB entries of the current PCID and its global ones,
 * and every paging-structure-cache entry of the current VPID and PCID
 * (reference sheet §6.5). */
static void tlbs_invlpg(struct cpu *c, uint64_t la)
{
	struct tlb_ctx tc = cpu_tlb_ctx(c);
	cpu_psc_flush_pcid(c, tc.vpid, tc.pcid);
	for (int i = 0; i < c->ntlbs; i++)
		tlb_invlpg(c->tlbs[i], tc.vpid, tc.pcid, la);
}

/* MOV to CR3 (reference sheet §6.5). */
static void mov_to_cr3(struct cpu *c, uint64_t val)
{
	bool noflush = (c->cr4 & CR4_PCIDE) && (val & CR3_NOFLUSH);
	c->cr3 = val & ~CR3_NOFLUSH;
	if (noflush)
		return;
	struct tlb_ctx tc = cpu_tlb_ctx(c); /* the new PCID (0 without PCIDE) */
	cpu_psc_flush_pcid(c, tc.vpid, tc.pcid);
	for (int i = 0; i < c->ntlbs; i++)
		tlb_flush_pcid_nonglobal(c->tlbs[i], tc.vpid, tc.pcid);
	ctr_inc(c->ctr, CTR_TLB_FLUSH_CR3);
}

/* MOV to CR3 exits with "CR3-load exiting" unless the value is one of the
 * first CR3-target-count target values (reference sheet §3.1). */
static bool cr3_load_exits(const struct vmcs *v, uint64_t val)
{
	if (!(vmcs_get(v, VMCS_CPU_BASED_VM_EXEC_CONTROL) & CPU_CR3_LOAD_EXITING))
		return false;
	uint64_t n = vmcs_get(v, VMCS_CR3_TARGET_COUNT);
	for (uint64_t i = 0; i < n && i < 4; i++)
		if (vmcs_get(v, VMCS_CR3_TARGET_VALUE0 + 2 * (uint32_t)i) == val)
			return false;
	return true;
}

static enum xlate_result exec_op(struct cpu *c, const struct guest_op *op)
{
	cpu_enter_kernel(c, (enum kernel_work)op->work);
	uint64_t hpa;
	enum xlate_result r;
	switch (op->kind) {
	case GOP_ZERO_PAGE:
		c->gpr[0] = 0;                       /* REP STOSQ [rdi]: RAX = 0, */
		c->gpr[1] = PAGE_SIZE / 8;           /* RCX = 512 quadwords */
		if ((r = kernel_write(c, op->addr, &hpa)) != XLATE_OK)
			return r;
		mem_zero_page(c->mem, hpa);
		cache_fill_page(&c->cache, hpa);
		ctr_inc(c->ctr, CTR_GUEST_PAGES_ZEROED);
		cpu_charge(c, CTR_CPU_CYCLES_GUEST_KERNEL, c->p->guest_page_zero_cycles);
		return XLATE_OK;
	case GOP_STORE64:
		c->gpr[0] = op->val; /* MOV [rdi], RAX: a VMM emulating the store reads RAX */
		if ((r = kernel_write(c, op->addr, &hpa)) != XLATE_OK)
			return r;
		if (mem_write64(c->mem, hpa, op->val) < 0) {
			cpu_fail(c, "out of memory storing simulated page tables");
			return XLATE_ERROR;
		}
		ctr_inc(c->ctr, CTR_GUEST_PTE_WRITES);
		cpu_pt_access(c, hpa, CTR_CPU_CYCLES_GUEST_KERNEL, NULL);
		return XLATE_OK;
	case GOP_RING_STORE64:
	case GOP_RING_LOAD64:
		if (op->kind == GOP_RING_STORE64) {
			c->gpr[0] = op->val;
			r = kernel_write(c, op->addr, &hpa);
		} else {
			r = kernel_read(c, op->addr, &hpa);
		}
		if (r != XLATE_OK)
			return r;
		if (op->kind == GOP_RING_STORE64 && mem_write64(c->mem, hpa, op->val) < 0) {
			cpu_fail(c, "out of memory storing a DMA descriptor");
			return XLATE_ERROR;
		}
		if (op->kind == GOP_RING_LOAD64)
			c->gpr[0] = mem_read64(c->mem, hpa);
		cpu_pt_access(c, hpa, CTR_CPU_CYCLES_GUEST_KERNEL, NULL);
		return XLATE_OK;
	case GOP_MMIO_READ32:
	case GOP_MMIO_WRITE32: {
		uint64_t v = op->val & 0xffffffffu;
		return exec_mmio(c, op->addr, 4, op->kind == GOP_MMIO_READ32, false, &v);
	}
	case GOP_INVLPG:
		if (c->nonroot && (vmcs_get(c->vmcs, VMCS_CPU_BASED_VM_EXEC_CONTROL) & CPU_INVLPG_EXITING)) {
			/* Exit qualification: the linear-address operand (§3.3). */
			cpu_vmexit_insn(c, EXIT_REASON_INVLPG, op->addr, GOP_INSN_LEN);
			return XLATE_EXIT;
		}
		tlbs_invlpg(c, op->addr);
		ctr_inc(c->ctr, CTR_TLB_INVLPG);
		return XLATE_OK;
	case GOP_LOAD_CR3:
		if (c->nonroot && cr3_load_exits(c->vmcs, op->val)) {
			/* MOV to CR3 from RAX: qualification CR 3, access type 0, GPR 0
			 * (reference sheet §3.1); the value is in the guest's RAX. */
			c->gpr[0] = op->val;
			cpu_vmexit_insn(c, EXIT_REASON_CR_ACCESS, 3, GOP_INSN_LEN);
			return XLATE_EXIT;
		}
		mov_to_cr3(c, op->val);
		return XLATE_OK;
	}
	return XLATE_OK;
}

/* Does an I/O access to [port, port + size) exit? Reference sheet §3.4:
 * with "use I/O bitmaps" any set bit for those ports in bitmap A
 * (0x0000-0x7FFF) or B (0x8000-0xFFFF), or a range wrapping past 0xFFFF;
 * else "unconditional I/O exiting". */
static bool io_exits(struct cpu *c, const struct vmcs *v, unsigned port, unsigned size)
{
	uint64_t primary = vmcs_get(v, VMCS_CPU_BASED_VM_EXEC_CONTROL);
	if (!(primary & CPU_USE_IO_BITMAPS))
		return primary & CPU_UNCOND_IO_EXITING;
	if (port + size > 0x10000)
		return true;
	for (unsigned p = port; p < port + size; p++) {
		uint64_t bitmap = vmcs_get(v, p < 0x8000 ? VMCS_IO_BITMAP_A : VMCS_IO_BITMAP_B);
		unsigned bit = p & 0x7fff;
		uint64_t word = mem_read64(c->mem, (bitmap & PHYS_ADDR_MASK) + 8 * (bit / 64));
		if (word & (UINT64_C(1) << (bit % 64)))
			return true;
	}
	return false;
}

/* Idle until the next timed event (the timer tick that wakes a halted
 * core); cycles charged to cpu.cycles.idle. A core with no timer would
 * sleep for ever: a simulation error. 0 or -1 (cpu_fail). */
int cpu_idle_until_interrupt(struct cpu *c)
{
	if (c->irr[0] | c->irr[1] | c->irr[2] | c->irr[3])
		return 0; /* an interrupt is already requested: HLT falls through */
	const struct timed_event *te = evq_peek(&c->evq);
	if (!te)
		return cpu_fail(c, "HLT with no timer interrupt pending (guest.hz=0): the core would never wake");
	if (te->cycle > c->cycles)
		cpu_charge(c, CTR_CPU_CYCLES_IDLE, te->cycle - c->cycles);
	return 0;
}

/* CPUID, IN/OUT and HLT: they exit in VMX non-root operation as the
 * controls say (CPUID always); natively CPUID and IN/OUT cost
 * cpu.cpuid_cycles / cpu.io_cycles, and HLT idles until the next timer
 * interrupt (which is then delivered before the next instruction). */
static enum xlate_result exec_insn(struct cpu *c, const struct guest_event *ev)
{
	if (ev->kind == GEV_HLT) {
		if (c->nonroot && (vmcs_get(c->vmcs, VMCS_CPU_BASED_VM_EXEC_CONTROL) & CPU_HLT_EXITING)) {
			cpu_vmexit_insn(c, EXIT_REASON_HLT, 0, 1);
			return XLATE_EXIT;
		}
		ctr_inc(c->ctr, CTR_CPU_HLT);
		return cpu_idle_until_interrupt(c) < 0 ? XLATE_ERROR : XLATE_OK;
	}
	if (ev->kind == GEV_CPUID) {
		if (c->nonroot) {
			c->gpr[0] = ev->arg; /* EAX: the leaf */
			cpu_vmexit_insn(c, EXIT_REASON_CPUID, 0, 2);
			return XLATE_EXIT;
		}
		ctr_inc(c->ctr, CTR_CPU_CPUID);
		cpu_charge(c, CTR_CPU_CYCLES_BASE, c->p->cpu_cpuid_cycles);
		return XLATE_OK;
	}
	unsigned port = (unsigned)ev->gva & 0xffff, size = ev->size;
	bool in = ev->arg & 1;
	if (size != 1 && size != 2 && size != 4) {
		cpu_fail(c, "I/O access of %u bytes: IN/OUT move 1, 2 or 4", size);
		return XLATE_ERROR;
	}
	if (c->nonroot && io_exits(c, c->vmcs, port, size)) {
		/* Qualification (§3.4): size - 1, direction, port in DX (bit 6 = 0),
		 * port number in bits 31:16; RDX holds the port, RAX the value. */
		c->gpr[2] = port;
		if (!in)
			c->gpr[0] = ev->len;
		cpu_vmexit_insn(c, EXIT_REASON_IO_INSTRUCTION, (size - 1) | (in ? 1u << 3 : 0) | ((uint64_t)port << 16),
				1);
		return XLATE_EXIT;
	}
	ctr_inc(c->ctr, CTR_CPU_IO);
	cpu_charge(c, CTR_CPU_CYCLES_BASE, c->p->cpu_io_cycles);
	return XLATE_OK;
}

/* A timer tick is due: deliver it to the guest, or exit if the VMM owns
 * external interrupts ("external-interrupt exiting"). */
static enum xlate_result deliver_tick(struct cpu *c)
{
	struct timed_event te;
	evq_pop(&c->evq, &te);
	/* Periodic tick; periods that passed while the CPU was busy elsewhere
	 * coalesce into this one (one pending LAPIC timer interrupt). */
	uint64_t next = te.cycle + c->tick_period;
	if (next <= c->cycles)
		next += (c->cycles - next) / c->tick_period * c->tick_period + c->tick_period;
	if (evq_push(&c->evq, next, TEV_TIMER_TICK, 0) < 0) {
		cpu_fail(c, "out of memory in the event queue");
		return XLATE_ERROR;
	}
	if (c->nonroot &&
	    (vmcs_get(c->vmcs, VMCS_PIN_BASED_VM_EXEC_CONTROL) & PIN_EXT_INTR_EXITING)) {
		uint32_t info = 0;
		if (vmcs_get(c->vmcs, VMCS_VM_EXIT_CONTROLS) & EXIT_ACK_INTR_ON_EXIT)
			info = INTR_INFO_VALID | INTR_TYPE_EXT_INTR | VEC_LOCAL_TIMER;
		cpu_vmexit(c, EXIT_REASON_EXTERNAL_INTERRUPT, 0, 0, 0, info);
		return XLATE_EXIT;
	}
	cpu_enter_kernel(c, KW_TICK);
	if (c->os_ops->interrupt(c->os, c, VEC_LOCAL_TIMER) < 0)
		return XLATE_ERROR;
	return XLATE_OK;
}

/* Posted-interrupt processing (SDM Vol. 3C "Posted-Interrupt Processing";
 * reference sheet §7.10 for the descriptor's layout: PIR bits 255:0, ON
 * bit 256): clear ON, take and clear the PIR, and deliver each vector to
 * the guest, highest first, as virtual-interrupt delivery would. */
static enum xlate_result posted_interrupts(struct cpu *c)
{
	uint64_t pid = vmcs_get(c->vmcs, VMCS_POSTED_INTR_DESC_ADDR) & PHYS_ADDR_MASK;
	uint64_t on = mem_read64(c->mem, pid + 32);
	if (mem_write64(c->mem, pid + 32, on & ~UINT64_C(1)) < 0) {
		cpu_fail(c, "out of memory");
		return XLATE_ERROR;
	}
	uint64_t pir[4];
	for (int w = 0; w < 4; w++) {
		pir[w] = mem_read64(c->mem, pid + 8 * (uint64_t)w);
		if (pir[w] && mem_write64(c->mem, pid + 8 * (uint64_t)w, 0) < 0) {
			cpu_fail(c, "out of memory");
			return XLATE_ERROR;
		}
	}
	for (int w = 3; w >= 0; w--) {
		while (pir[w]) {
			unsigned bit = 63 - (unsigned)__builtin_clzll(pir[w]);
			pir[w] &= ~(UINT64_C(1) << bit);
			ctr_inc(c->ctr, CTR_INTR_POSTED);
			cpu_enter_kernel(c, KW_IO);
			if (c->os_ops->interrupt(c->os, c, (unsigned)w * 64 + bit) < 0)
				return XLATE_ERROR;
		}
	}
	return XLATE_OK;
}

/* A requested interrupt is delivered at this instruction boundary. */
static enum xlate_result deliver_interrupt(struct cpu *c)
{
	unsigned v = (unsigned)cpu_take_interrupt(c);
	if (c->nonroot) {
		uint64_t pin = vmcs_get(c->vmcs, VMCS_PIN_BASED_VM_EXEC_CONTROL);
		if ((pin & PIN_POSTED_INTR) && v == (vmcs_get(c->vmcs, VMCS_POSTED_INTR_NV) & 0xff))
			return posted_interrupts(c);
		if (pin & PIN_EXT_INTR_EXITING) {
			uint32_t info = 0;
			if (vmcs_get(c->vmcs, VMCS_VM_EXIT_CONTROLS) & EXIT_ACK_INTR_ON_EXIT)
				info = INTR_INFO_VALID | INTR_TYPE_EXT_INTR | v;
			else
				cpu_raise_interrupt(c, (uint8_t)v); /* not acknowledged: it stays requested */
			ctr_inc(c->ctr, CTR_INTR_EXITING);
			cpu_vmexit(c, EXIT_REASON_EXTERNAL_INTERRUPT, 0, 0, 0, info);
			return XLATE_EXIT;
		}
	}
	ctr_inc(c->ctr, CTR_INTR_DELIVERED);
	cpu_enter_kernel(c, KW_IO);
	return c->os_ops->interrupt(c->os, c, v) < 0 ? XLATE_ERROR : XLATE_OK;
}

/* Bytes of guest code an event stands for: an instruction record's size,
 * CPUID 2 (0F A2), IN/OUT with DX 1 (EC..EF), HLT 1 (F4), a system call 2 (SYSCALL);
 * data references are part of their instruction. */
static unsigned event_insn_len(const struct guest_event *ev)
{
	switch (ev->kind) {
	case GEV_FETCH:
		return ev->size;
	case GEV_LOAD:
	case GEV_STORE:
	case GEV_MODIFY:
		return 0;
	case GEV_CPUID:
		return 2;
	case GEV_IO:
	case GEV_HLT:
		return 1;
	case GEV_MMIO:
		return (ev->arg >> 8) & 0xff;
	default:
		return 2;
	}
}

/* The item that was executing completed: advance RIP past it. */
static void retire_item(struct cpu *c)
{
	if (c->item == ITEM_OP) {
		/* Counted once, when it completes (by the CPU or emulated by a VMM). */
		enum guest_op_kind k = c->ops[c->ops_head].kind;
		if (k == GOP_ZERO_PAGE || k == GOP_STORE64 || k == GOP_RING_LOAD64 || k == GOP_RING_STORE64 ||
		    k == GOP_MMIO_READ32 || k == GOP_MMIO_WRITE32)
			ctr_inc(c->ctr, CTR_MEM_REFS_KERNEL);
		c->ops_head++;
		c->rip += GOP_INSN_LEN;
		if (c->net_rx_armed && c->net_rx_wait_ops)
			c->net_rx_wait_ops--;
	} else if (c->item == ITEM_EVENT) {
		if (c->ev.kind == GEV_MMIO) {
			/* The access is its instruction: it retires here, executed by
			 * the core or emulated by a VMM. */
			charge_base(c);
			ctr_inc(c->ctr, CTR_CPU_INSTRUCTIONS);
		}
		c->have_ev = false;
		c->rip += event_insn_len(&c->ev);
	}
	c->item = ITEM_NONE;
}

/* Length of the item executing now (0 if none). */
static unsigned item_len(const struct cpu *c)
{
	if (c->item == ITEM_OP)
		return GOP_INSN_LEN;
	if (c->item == ITEM_EVENT)
		return event_insn_len(&c->ev);
	return 0;
}

int cpu_resume_at(struct cpu *c, uint64_t new_rip)
{
	if (new_rip == c->rip)
		return 0; /* retry the item that exited, if any */
	unsigned len = item_len(c);
	if (len && new_rip == c->rip + len) {
		retire_item(c); /* the VMM emulated it and skipped it */
		return 0;
	}
	return cpu_fail(c, "VM entry with guest RIP moved from 0x%" PRIx64 " to 0x%" PRIx64
			   ": only skipping an emulated instruction is modelled", c->rip, new_rip);
}

int cpu_decode_at_rip(const struct cpu *c, struct guest_insn *out)
{
	memset(out, 0, sizeof(*out));
	if (c->item == ITEM_EVENT && c->ev.kind == GEV_MMIO) {
		out->kind = (c->ev.arg & 1) ? INSN_MOV_LOAD_EAX : INSN_MOV_STORE_EAX;
		out->len = event_insn_len(&c->ev);
		out->dst = c->ev.gva;
		out->bytes = c->ev.size;
		return 0;
	}
	if (c->item != ITEM_OP)
		return -1;
	const struct guest_op *op = &c->ops[c->ops_head];
	out->len = GOP_INSN_LEN;
	out->dst = GUEST_DIRECT_MAP_BASE + op->addr;
	switch (op->kind) {
	case GOP_STORE64:
	case GOP_RING_STORE64:
		out->kind = INSN_MOV_STORE_RAX;
		out->bytes = 8;
		return 0;
	case GOP_ZERO_PAGE:
		out->kind = INSN_REP_STOSQ;
		out->bytes = PAGE_SIZE;
		return 0;
	case GOP_INVLPG:
		out->kind = INSN_INVLPG;
		out->dst = op->addr;
		return 0;
	case GOP_LOAD_CR3:
		out->kind = INSN_MOV_TO_CR3;
		out->dst = 0;
		return 0;
	case GOP_RING_LOAD64:
		out->kind = INSN_MOV_LOAD_EAX;
		out->bytes = 8;
		return 0;
	case GOP_MMIO_READ32:
	case GOP_MMIO_WRITE32:
		out->kind = op->kind == GOP_MMIO_READ32 ? INSN_MOV_LOAD_EAX : INSN_MOV_STORE_EAX;
		out->dst = op->addr;
		out->bytes = 4;
		return 0;
	}
	return -1;
}

enum run_status cpu_run_guest(struct cpu *c)
{
	const bool vmx = c->nonroot;
	for (;;) {
		enum xlate_result r = XLATE_OK;
		if (c->net_rx_armed && c->net_rx_wait_ops == 0) {
			c->net_rx_armed = false;
			if (net_deliver(c, c->net_rx_len) < 0)
				return RUN_ERROR;
		}
		if (vmx && c->intr_window && c->ops_head == c->ops_tail) {
			/* "Interrupt-window exiting": the guest can take an interrupt
			 * again (no interrupt handler's work is pending; the model has
			 * no RFLAGS.IF of its own), so exit before the next
			 * instruction (SDM Vol. 3C "Interrupt-Window Exiting"). */
			cpu_vmexit(c, EXIT_REASON_INTERRUPT_WINDOW, 0, 0, 0, 0);
			return RUN_EXITED;
		}
		const struct timed_event *te = evq_peek(&c->evq);

		if (te && te->cycle <= c->cycles) {
			if (te->kind == TEV_TIMER_TICK) {
				r = deliver_tick(c);
			} else {
				struct timed_event ev;
				evq_pop(&c->evq, &ev);
				run_hw_event(c, &ev);
				if (c->err[0])
					r = XLATE_ERROR;
			}
		} else if (c->irr[0] | c->irr[1] | c->irr[2] | c->irr[3]) {
			r = deliver_interrupt(c);
		} else if (c->ops_head < c->ops_tail) {
			c->item = ITEM_OP;
			r = exec_op(c, &c->ops[c->ops_head]);
			if (r == XLATE_OK)
				retire_item(c);
		} else if (c->have_ev) {
			c->item = ITEM_EVENT;
			if (c->ev.kind <= GEV_MODIFY) {
				r = exec_mem(c, &c->ev);
				if (r == XLATE_OK) {
					if (c->ev.kind == GEV_FETCH)
						charge_base(c);
					retire_item(c);
				}
			} else if (c->ev.kind == GEV_CPUID || c->ev.kind == GEV_IO || c->ev.kind == GEV_HLT) {
				r = exec_insn(c, &c->ev);
				if (r == XLATE_OK)
					retire_item(c);
			} else if (c->ev.kind == GEV_MMIO) {
				uint64_t v = c->ev.len;
				r = exec_mmio(c, c->ev.gva, c->ev.size, c->ev.arg & 1, true, &v);
				if (r == XLATE_OK)
					retire_item(c);
			} else {
				bool rx = c->ev.kind == GEV_DEVIO && c->ev.arg == DEVIO_NET_RX;
				uint32_t rx_len = (uint32_t)c->ev.len;
				if (rx && !c->net_rx && !c->host_net_vector) {
					net_deliver(c, rx_len); /* the one-line "no NIC" error */
					return RUN_ERROR;
				}
				retire_item(c);
				cpu_enter_kernel(c, KW_PROC);
				if (c->os_ops->os_event(c->os, c, &c->ev) < 0)
					r = XLATE_ERROR;
				if (rx) {
					/* The frame comes once the driver has posted its buffers:
					 * when the operations it just queued have retired. */
					c->net_rx_armed = true;
					c->net_rx_len = rx_len;
					c->net_rx_wait_ops = c->ops_tail - c->ops_head;
				}
			}
		} else if (!c->fe_done) {
			cpu_enter_kernel(c, KW_PROC); /* the scheduler may exit or switch processes */
			int n = c->os_ops->next_event(c->os, c, &c->ev, c->err);
			if (n < 0)
				return RUN_ERROR;
			if (n == 0) {
				c->fe_done = true;
				cpu_enter_kernel(c, KW_PROC);
				if (c->os_ops->shutdown(c->os, c) < 0)
					r = XLATE_ERROR;
			} else {
				c->have_ev = true;
			}
			if (--c->progress_countdown == 0) {
				c->progress_countdown = c->progress_every;
				if (c->interrupt_flag && *c->interrupt_flag)
					return RUN_INTERRUPTED;
				if (c->progress)
					c->progress(c->progress_ctx, c);
			}
		} else {
			/* All work done and every operation retired: the guest halts. */
			c->halted = true;
			if (!vmx)
				return RUN_DONE;
			if (vmcs_get(c->vmcs, VMCS_CPU_BASED_VM_EXEC_CONTROL) & CPU_HLT_EXITING) {
				/* The guest kernel's last act is CLI; HLT (Linux's
				 * native_halt after stopping the CPU): RFLAGS.IF is clear
				 * in the state saved at the exit, so no interrupt can
				 * wake it and the VMM knows the guest is done. */
				vmcs_put(c->vmcs, VMCS_GUEST_RFLAGS, vmcs_get(c->vmcs, VMCS_GUEST_RFLAGS) & ~RFLAGS_IF);
				cpu_vmexit(c, EXIT_REASON_HLT, 0, 0, 0, 0);
				return RUN_EXITED;
			}
			cpu_fail(c, "the guest halted with \"HLT exiting\" off: the VMM would never run again");
			return RUN_ERROR;
		}
		if (r == XLATE_EXIT)
			return RUN_EXITED;
		if (r == XLATE_ERROR)
			return RUN_ERROR;
	}
}

enum run_status cpu_run_native(struct cpu *c)
{
	c->nonroot = false;
	return cpu_run_guest(c);
}
