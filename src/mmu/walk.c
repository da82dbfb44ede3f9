/*
 * Notes: the walkers are one loop each with one error exit, parameterised
 * by the level count. They model:
 *  - guest paging: P, reserved bits (51:M, XD without EFER.NXE, PS in a
 *    PML4E/PML5E, reserved address bits of 2 MiB / 1 GiB leaves), rights
 *    (R/W with CR0.WP, U/S, XD with NXE, SMEP), 4 KiB / 2 MiB / 1 GiB leaves,
 *    A in every entry and D in the leaf on writes;
 *  - EPT: not-present entries, R/W/X checks, misconfigurations (write-only,
 *    write+execute, reserved bits, bad leaf memory type), EPT A/D;
 *  - the 2D walk with the exit qualification of SDM Table 27-7.
 * Left out: protection keys, shadow stacks, mode-based execute control,
 * sub-page permissions, PAE/32-bit paging, #VE, a PML5E cache (5-level
 * walks use the PML4E/PDPTE/PDE caches keyed by la[56:39] etc.), and
 * timing (the caller charges references).
 * Paging-structure caches (walk.h, struct walk_caches): guest entries are
 * cached only when the whole guest dimension succeeds (an entry above a
 * faulting one is not cached: allowed, caching is optional); EPT entries
 * and nested-TLB entries only when their EPT translation succeeds. A
 * nested-TLB hit that lacks the needed right falls back to a full EPT
 * walk, which reports the violation with the rights of the entries.
 * Guest A/D updates are made when the guest dimension succeeds, before the
 * final EPT translation, which may still fault (the SDM allows this).
 */
#include "mmu/walk.h"

#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "arch/ept.h"
#include "arch/paging.h"

static int ept_levels(uint64_t eptp)
{
	return (int)((eptp & EPTP_WALK_LEN_MASK) >> EPTP_WALK_LEN_SHIFT) + 1;
}

static bool ept_misconfigured(uint64_t e, int level, bool leaf, uint64_t cap)
{
	unsigned rwx = (unsigned)(e & EPTE_RWX);
	if (rwx == 2 || rwx == 6)
		return true; /* write without read */
	if (rwx == 4 && !(cap & EPT_CAP_EXEC_ONLY))
		return true;
	if (!leaf)
		return e & (level >= 4 ? EPTE_PML4_RSVD : EPTE_NONLEAF_RSVD);
	if ((level == 3 && !(cap & EPT_CAP_1G)) || (level == 2 && !(cap & EPT_CAP_2M)))
		return true; /* PS = 1 where the part allows no large page: a reserved bit */
	if (e & EPTE_LEAF_RSVD)
		return true;
	if (level == 3 && (e & (((UINT64_C(1) << 30) - 1) & ~(PAGE_SIZE - 1))))
		return true; /* 1 GiB leaf: address bits 29:12 reserved */
	if (level == 2 && (e & (((UINT64_C(1) << 21) - 1) & ~(PAGE_SIZE - 1))))
		return true; /* 2 MiB leaf: address bits 20:12 reserved */
	unsigned mt = (unsigned)((e & EPTE_MT_MASK) >> EPTE_MT_SHIFT);
	return mt == 2 || mt == 3 || mt == 7;
}

/* Append one step to the walk's record (w may be NULL: ept_translate). */
static inline void rec(struct walk_result *w, enum walk_ref_kind kind, enum pwc_dim dim, int level, uint64_t hpa,
		       uint64_t gpa, uint64_t value)
{
	if (!w)
		return;
	assert(w->nrefs < WALK_MAX_REFS);
	struct walk_ref *x = &w->ref[w->nrefs++];
	x->hpa = hpa;
	x->gpa = gpa;
	x->value = value;
	x->kind = (uint8_t)kind;
	x->dim = (uint8_t)dim;
	x->level = (uint8_t)level;
	x->served = 0;
	x->cycles = 0;
}

/* Shift of the prefix a paging-structure cache of this level is keyed by:
 * PML4E 39, PDPTE 30, PDE 21. The entry it caches is at level 4 - k. */
static inline unsigned pwc_shift(int k)
{
	return 39 - PT_INDEX_BITS * (unsigned)k;
}

static inline uint64_t rwx_of(const struct tlb_entry *e)
{
	return (e->readable ? EPTE_R : 0) | (e->writable ? EPTE_W : 0) | (e->nx ? 0 : EPTE_X);
}

/* Fill a cache entry (pfn = next table >> 12; EPT rights as R/W/!X). */
static void pwc_fill(struct tlb *t, const struct tlb_ctx *tag, uint64_t addr, int k, uint64_t table, bool r,
		     bool w, bool u, bool nx)
{
	struct tlb_entry ne = {
		.vpn = addr >> pwc_shift(k),
		.pfn = table >> PAGE_SHIFT,
		.ctx = *tag,
		.page_shift = (uint8_t)pwc_shift(k),
		.valid = true,
		.readable = r,
		.writable = w,
		.user = u,
		.nx = nx,
	};
	tlb_insert(t, &ne);
}

/* ept_translate() on a part with capability cap, with the EPT-dimension
 * paging-structure caches (ept[] of wc, may be NULL); lookups are counted
 * in w (may be NULL). */
static enum walk_fault ept_walk(struct phys_mem *m, uint64_t eptp, uint64_t cap, uint64_t gpa, enum access_kind kind,
				const struct walk_caches *wc, struct walk_result *w, struct ept_result *r)
{
	static const uint64_t need[] = {[ACC_READ] = EPTE_R, [ACC_WRITE] = EPTE_W, [ACC_FETCH] = EPTE_X};
	const bool ad = eptp & EPTP_AD;
	const struct tlb_ctx tag = {0, 0, (eptp & PHYS_ADDR_MASK) >> PAGE_SHIFT};
	uint64_t table = eptp & PHYS_ADDR_MASK;
	uint64_t addrs[5];
	uint64_t next[6], rwx_at[6]; /* per level: the table it points to, rights so far */
	int n = 0;
	int start = ept_levels(eptp);

	r->refs = 0;
	r->ad_writes = 0;
	r->rwx = EPTE_RWX;
	for (int k = PWC_PDE; wc && k >= PWC_PML4E; k--) {
		struct tlb *t = wc->ept[k];
		if (!t)
			continue;
		struct tlb_entry *e = tlb_lookup(t, &tag, gpa);
		if (e) {
			start = 3 - k;
			table = e->pfn << PAGE_SHIFT;
			if (w)
				w->pwc_hit[PWC_EPT][k]++;
			rec(w, WREF_PWC_HIT, PWC_EPT, start + 1, table, gpa, table);
			r->rwx = rwx_of(e);
			break;
		}
		if (w)
			w->pwc_miss[PWC_EPT][k]++;
	}
	for (int level = start; level >= 1; level--) {
		uint64_t ea = table + 8 * pt_index(gpa, level);
		uint64_t e = mem_read64(m, ea);
		r->refs++;
		r->level = level;
		rec(w, WREF_READ, PWC_EPT, level, ea, gpa, e);
		if (!(e & EPTE_RWX)) {
			r->rwx = 0;
			r->fault = WALK_EPT_VIOLATION;
			return r->fault;
		}
		bool leaf = level == 1 || ((level == 2 || level == 3) && (e & EPTE_PS));
		if (ept_misconfigured(e, level, leaf, cap)) {
			r->fault = WALK_EPT_MISCONFIG;
			return r->fault;
		}
		r->rwx &= e & EPTE_RWX;
		addrs[n++] = ea;
		if (leaf) {
			r->page_shift = (uint8_t)(PAGE_SHIFT + PT_INDEX_BITS * (level - 1));
			uint64_t off_mask = (UINT64_C(1) << r->page_shift) - 1;
			r->hpa = (e & PHYS_ADDR_MASK & ~off_mask) | (gpa & off_mask);
			if (!(r->rwx & need[kind])) {
				r->fault = WALK_EPT_VIOLATION;
				return r->fault;
			}
			r->dirty = !ad || (e & EPTE_D) || kind == ACC_WRITE;
			if (ad) {
				for (int i = 0; i < n; i++) {
					uint64_t v = mem_read64(m, addrs[i]);
					uint64_t nv = v | EPTE_A | (i == n - 1 && kind == ACC_WRITE ? EPTE_D : 0);
					if (nv != v) {
						mem_write64(m, addrs[i], nv);
						r->ad_writes++;
						rec(w, WREF_AD_WRITE, PWC_EPT, start - i, addrs[i], gpa, nv);
					}
				}
			}
			/* Every non-leaf entry read is present, valid and (with
			 * A/D) accessed now: cache it. */
			for (int l = start; wc && l > level; l--) {
				int k = 4 - l;
				if (k >= PWC_PML4E && k <= PWC_PDE && wc->ept[k])
					pwc_fill(wc->ept[k], &tag, gpa, k, next[l], rwx_at[l] & EPTE_R,
						 rwx_at[l] & EPTE_W, false, !(rwx_at[l] & EPTE_X));
			}
			r->fault = WALK_OK;
			return r->fault;
		}
		table = e & PHYS_ADDR_MASK;
		next[level] = table;
		rwx_at[level] = r->rwx;
	}
	r->fault = WALK_EPT_MISCONFIG; /* not reached: level 1 is always a leaf */
	return r->fault;
}

enum walk_fault ept_translate(struct phys_mem *m, uint64_t eptp, uint64_t cap, uint64_t gpa, enum access_kind kind,
			      struct ept_result *r)
{
	return ept_walk(m, eptp, cap, gpa, kind, NULL, NULL, r);
}

static uint64_t guest_rsvd_mask(int level, bool leaf, const struct paging_ctx *ctx)
{
	uint64_t m = PTE_RSVD_HIGH;
	if (!(ctx->efer & EFER_NXE))
		m |= PTE_XD;
	if (level >= 4)
		m |= PTE_PS;
	else if (leaf && level == 3)
		m = (m | PDPTE_1G_RSVD);
	else if (leaf && level == 2)
		m = (m | PDE_2M_RSVD);
	return m;
}

/* EPT violation qualification bits 2:0 and 5:3 for a translation. */
static uint64_t ept_qual_access(enum access_kind kind, const struct ept_result *er)
{
	static const uint64_t acc[] = {[ACC_READ] = EPT_QUAL_READ, [ACC_WRITE] = EPT_QUAL_WRITE,
				       [ACC_FETCH] = EPT_QUAL_FETCH};
	return acc[kind] | (er->rwx << 3);
}

/* Translate a GPA the walk uses (result in *er); on a fault fill the walk
 * result and return false. A guest paging-structure address (table) is
 * looked up in the nested TLB first; a hit that grants the access costs no
 * reference, anything else walks (and fills it on success). */
static bool ept_step(struct phys_mem *m, const struct paging_ctx *ctx, const struct walk_caches *wc, bool table,
		     uint64_t gpa, enum access_kind kind, uint64_t extra_qual, struct walk_result *r,
		     struct ept_result *er)
{
	static const uint64_t need[] = {[ACC_READ] = EPTE_R, [ACC_WRITE] = EPTE_W, [ACC_FETCH] = EPTE_X};
	struct tlb *nt = (wc && table) ? wc->ntlb : NULL;
	const struct tlb_ctx tag = {0, 0, (ctx->eptp & PHYS_ADDR_MASK) >> PAGE_SHIFT};

	if (nt) {
		struct tlb_entry *e = tlb_lookup(nt, &tag, gpa);
		if (e && (rwx_of(e) & need[kind])) {
			/* Filled by a successful translation of the same kind of
			 * access (with EPT A/D: a write, so D is already set). */
			r->ntlb_hit++;
			memset(er, 0, sizeof(*er));
			er->hpa = (e->pfn << PAGE_SHIFT) | (gpa & (PAGE_SIZE - 1));
			rec(r, WREF_NTLB_HIT, PWC_EPT, 1, er->hpa, gpa, er->hpa);
			er->rwx = rwx_of(e);
			er->page_shift = PAGE_SHIFT;
			er->dirty = true;
			er->fault = WALK_OK;
			return true;
		}
		r->ntlb_miss++;
	}
	ept_walk(m, ctx->eptp, ctx->ept_cap, gpa, kind, wc, r, er);
	if (nt && er->fault == WALK_OK) {
		struct tlb_entry ne = {
			.vpn = gpa >> PAGE_SHIFT,
			.pfn = er->hpa >> PAGE_SHIFT,
			.ctx = tag,
			.page_shift = PAGE_SHIFT,
			.valid = true,
			.readable = er->rwx & EPTE_R,
			.writable = er->rwx & EPTE_W,
			.nx = !(er->rwx & EPTE_X),
		};
		tlb_insert(nt, &ne);
	}
	r->ept_refs += er->refs;
	r->ept_ad_writes += er->ad_writes;
	if (er->fault == WALK_OK)
		return true;
	r->fault = er->fault;
	r->fault_gpa = gpa;
	r->ept_qual =
		er->fault == WALK_EPT_VIOLATION ? ept_qual_access(kind, er) | EPT_QUAL_GLA_VALID | extra_qual : 0;
	return false;
}

enum walk_fault mmu_walk(struct phys_mem *m, const struct paging_ctx *ctx, const struct mmu_access *acc,
			 const struct walk_caches *caches, struct walk_result *r)
{
	const bool write = acc->kind == ACC_WRITE;
	const bool fetch = acc->kind == ACC_FETCH;
	/* Guest paging-structure accesses are reads, or writes with EPT A/D (SDM §28.2.3.2). */
	const enum access_kind pse_kind = (ctx->eptp & EPTP_AD) ? ACC_WRITE : ACC_READ;
	uint64_t table = ctx->cr3 & PHYS_ADDR_MASK; /* GPA under EPT, else HPA */
	uint64_t entry_hpa[5], entry_gpa[5];
	uint64_t table_rwx[5]; /* EPT rights of each guest table's page */
	bool cw[5], cu[5], cnx[5]; /* combined rights down to each entry */
	int level, start;

	memset(r, 0, offsetof(struct walk_result, ref)); /* the steps are written as they are taken */
	r->levels = (ctx->cr4 & CR4_LA57) ? 5 : 4;
	r->readable = r->writable = r->user = true;
	r->pfec = (write ? PFEC_WR : 0) | (acc->user ? PFEC_US : 0) |
		  (fetch && ((ctx->efer & EFER_NXE) || (ctx->cr4 & CR4_SMEP)) ? PFEC_ID : 0);

	/* Longest prefix first: a PDE-cache hit starts at the PT. */
	start = r->levels;
	for (int k = PWC_PDE; caches && k >= PWC_PML4E; k--) {
		struct tlb *t = caches->guest[k];
		if (!t)
			continue;
		struct tlb_entry *e = tlb_lookup(t, &caches->tag, acc->la);
		if (e) {
			r->pwc_hit[PWC_GUEST][k]++;
			start = 3 - k;
			table = e->pfn << PAGE_SHIFT;
			rec(r, WREF_PWC_HIT, PWC_GUEST, start + 1, ctx->ept ? 0 : table, acc->la, table);
			r->writable = e->writable;
			r->user = e->user;
			r->nx = e->nx;
			break;
		}
		r->pwc_miss[PWC_GUEST][k]++;
	}

	for (level = start; level >= 1; level--) {
		int i = r->levels - level;
		uint64_t ea = table + 8 * pt_index(acc->la, level);
		uint64_t hpa = ea;
		table_rwx[i] = EPTE_RWX;
		if (ctx->ept) {
			/* With EPT A/D such an access is treated as a write, and a
			 * violation reports both bits 0 and 1 (SDM Table 27-7, footnote). */
			struct ept_result er;
			if (!ept_step(m, ctx, caches, true, ea, pse_kind, pse_kind == ACC_WRITE ? EPT_QUAL_READ : 0,
				      r, &er))
				return r->fault;
			hpa = er.hpa;
			table_rwx[i] = er.rwx;
		}
		uint64_t e = mem_read64(m, hpa);
		r->guest_refs++;
		rec(r, WREF_READ, PWC_GUEST, level, hpa, ea, e);
		r->entry[i] = e;
		entry_hpa[i] = hpa;
		entry_gpa[i] = ea;
		if (!(e & PTE_P)) {
			r->fault = WALK_PF; /* not present: error-code bit 0 stays 0 */
			return r->fault;
		}
		bool leaf = level == 1 || ((level == 2 || level == 3) && (e & PTE_PS));
		if (e & guest_rsvd_mask(level, leaf, ctx)) {
			r->pfec |= PFEC_P | PFEC_RSVD;
			r->fault = WALK_PF;
			return r->fault;
		}
		r->writable &= !!(e & PTE_RW);
		r->user &= !!(e & PTE_US);
		r->nx |= (ctx->efer & EFER_NXE) && (e & PTE_XD);
		cw[i] = r->writable;
		cu[i] = r->user;
		cnx[i] = r->nx;
		if (leaf) {
			r->page_shift = (uint8_t)(PAGE_SHIFT + PT_INDEX_BITS * (level - 1));
			r->guest_page_shift = r->page_shift;
			uint64_t off_mask = (UINT64_C(1) << r->page_shift) - 1;
			r->gpa = (e & PHYS_ADDR_MASK & ~off_mask) | (acc->la & off_mask);
			r->dirty = e & PTE_D;
			r->global = (e & PTE_G) && (ctx->cr4 & CR4_PGE);
			break;
		}
		table = e & PHYS_ADDR_MASK;
	}

	/* Access rights (SDM "Access Rights"). */
	bool denied = false;
	if (acc->user && !r->user)
		denied = true;
	else if (write && !r->writable && (acc->user || (ctx->cr0 & CR0_WP)))
		denied = true;
	else if (fetch && r->nx)
		denied = true;
	else if (fetch && !acc->user && r->user && (ctx->cr4 & CR4_SMEP))
		denied = true;
	if (denied) {
		r->pfec |= PFEC_P;
		r->fault = WALK_PF;
		return r->fault;
	}

	/* Accessed flags in every entry used, dirty in the leaf on a write. */
	int used = r->levels - level + 1;
	for (int i = r->levels - start; i < used; i++) {
		uint64_t set = PTE_A | (i == used - 1 && write ? PTE_D : 0);
		if ((r->entry[i] & set) == set)
			continue;
		if (ctx->ept && !(table_rwx[i] & EPTE_W)) {
			/* The A/D update is a data write to the guest table: it needs EPT W
			 * (the translation made for the read gave its rights). */
			r->fault = WALK_EPT_VIOLATION;
			r->fault_gpa = entry_gpa[i];
			r->ept_qual = EPT_QUAL_WRITE | (table_rwx[i] << 3) | EPT_QUAL_GLA_VALID;
			return r->fault;
		}
		r->entry[i] |= set;
		mem_write64(m, entry_hpa[i], r->entry[i]);
		r->guest_ad_writes++;
		rec(r, WREF_AD_WRITE, PWC_GUEST, r->levels - i, entry_hpa[i], entry_gpa[i], r->entry[i]);
	}
	if (write)
		r->dirty = true;

	/* Cache the non-leaf entries read (present, no reserved bits, A = 1). */
	for (int l = start; caches && l > level; l--) {
		int k = 4 - l, i = r->levels - l;
		if (k >= PWC_PML4E && k <= PWC_PDE && caches->guest[k])
			pwc_fill(caches->guest[k], &caches->tag, acc->la, k, r->entry[i] & PHYS_ADDR_MASK, true,
				 cw[i], cu[i], cnx[i]);
	}

	/* The final guest-physical address. */
	if (ctx->ept) {
		uint64_t q = EPT_QUAL_GLA_XLATE;
		if (ctx->ept_cap & EPT_CAP_ADV_EXIT_INFO)
			q |= (r->user ? EPT_QUAL_GLA_USER : 0) | (r->writable ? EPT_QUAL_GLA_WRITABLE : 0) |
			     (r->nx ? EPT_QUAL_GLA_XD : 0);
		struct ept_result er;
		if (!ept_step(m, ctx, caches, false, r->gpa, acc->kind, q, r, &er))
			return r->fault;
		r->hpa = er.hpa;
		/* The combined mapping is no larger than either page (a 1 GiB guest
		 * page backed by 4 KiB EPT pages is cached as 4 KiB). */
		if (er.page_shift < r->page_shift)
			r->page_shift = er.page_shift;
		r->readable = er.rwx & EPTE_R;
		r->writable &= !!(er.rwx & EPTE_W);
		r->nx |= !(er.rwx & EPTE_X);
		r->dirty &= er.dirty;
	} else {
		r->hpa = r->gpa;
	}
	r->fault = WALK_OK;
	return r->fault;
}
