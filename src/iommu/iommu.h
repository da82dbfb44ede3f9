/*
 * The DMA-remapping hardware: one VT-d remapping unit in legacy
 * (non-scalable) mode, as the silicon a driver programs.
 *
 * Software reaches it only as real software does: 32/64-bit MMIO reads and
 * writes of its registers (iommu_mmio_read / iommu_mmio_write; reference
 * sheet §7.1) and the tables it reads from simulated physical memory (root
 * and context tables §7.4, second-level paging structures §7.6, the
 * invalidation queue §7.7, the interrupt-remapping table §7.10, posted-
 * interrupt descriptors). Devices reach it with DMA requests
 * (iommu_translate) and interrupt requests (iommu_msi, iommu_ioapic).
 * Interrupts it produces (remapped, posted notifications, fault and
 * invalidation-completion events) go to an interrupt sink, the interface the
 * CPU / local APIC side implements.
 *
 * The unit's model is split by concern:
 *   iommu_regs.c   register set as data, the one write path, GCMD/GSTS
 *   iommu_xlate.c  context and second-level walk, context cache, IOTLB,
 *                  paging-structure caches
 *   iommu_inv.c    register-based and queued invalidation
 *   iommu_fault.c  primary fault recording, fault events
 *   iommu_ir.c     interrupt remapping, interrupt-entry cache, posting
 *   vtd_cache.c    the set-associative arrays the four caches use
 *
 * Timing: the unit charges each memory reference it makes (root entry,
 * context entry, second-level entry, IRTE, posted descriptor, invalidation
 * descriptor) iommu.mem_read_cycles, NOT through the core's data caches
 * (src/mem/cache.h): the remapping unit sits in the system agent / IIO,
 * outside the core's L1/L2, and measured IOMMU memory reads cost DRAM-class
 * latency (cpu-parameters.md §5, [FNS] l_m = 197 ns per read). Cache hits
 * cost nothing extra (hidden in the base DMA latency, [FNS] l_0). Each
 * invalidation descriptor or register command costs iommu.inv_cycles and a
 * wait descriptor iommu.inv_wait_cycles (cpu-parameters.md §6 "PSI+wait
 * 2000 cycles", assumed). Cycles are reported per request in the result
 * records and summed in counters; nothing here advances a clock.
 */
#ifndef VTSIM_IOMMU_IOMMU_H
#define VTSIM_IOMMU_IOMMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/vtd.h"
#include "cpu/params.h"
#include "mem/mem.h"
#include "stats/counters.h"

/* Bytes of register space a unit decodes (one 4 KiB MMIO page). */
#define VTD_REG_BYTES 0x1000u
#define IOMMU_ERR_LEN 256

/* ---- the set-associative arrays of the caches (vtd_cache.c) ---------- */
struct vtd_centry {
	uint64_t key;   /* SID, IOVA >> shift, or interrupt index */
	uint64_t v0, v1; /* payload: entry qwords, or HPA / table address */
	uint64_t lru;
	uint16_t did;   /* domain-id tag (context cache: the entry's DID) */
	uint8_t shift;  /* IOTLB: page shift 12/21/30; PTcache: level */
	uint8_t perm;   /* VTD_SL_R | VTD_SL_W accumulated over the walk */
	bool valid;
};

struct vtd_cache {
	const char *name;
	unsigned sets, ways; /* entries = sets * ways; 0 sets = no cache */
	struct vtd_centry *e;
	uint64_t clock;
};

/* entries / ways sets, a power of two; entries 0 = no cache. 0, or -1 + err. */
int vtd_cache_init(struct vtd_cache *c, const char *name, unsigned entries, unsigned ways, char *err);
void vtd_cache_destroy(struct vtd_cache *c);
/* The entry with this key, shift and (if match_did) did, marked most
 * recently used; NULL on a miss or without a cache. */
struct vtd_centry *vtd_cache_lookup(struct vtd_cache *c, uint64_t key, uint8_t shift, bool match_did, uint16_t did);
/* Insert (replacing the same key or the set's LRU way); no-op without a cache. */
void vtd_cache_insert(struct vtd_cache *c, const struct vtd_centry *ent);
unsigned vtd_cache_occupancy(const struct vtd_cache *c);

/* ---- configuration ---------------------------------------------------- */
struct iommu_config {
	uint64_t cap, ecap;   /* CAP / ECAP register values (§7.2) */
	unsigned haw;         /* host address width (ACPI DMAR), bits */
	uint64_t mem_limit;   /* bytes: table/entry accesses at or above are "errors accessing" (0x7/0x8/0x9/0x23) */
	unsigned cc_entries, cc_ways;       /* context cache */
	unsigned iotlb_entries, iotlb_ways; /* IOTLB (all page sizes in one array) */
	unsigned ptc_entries[3], ptc_ways[3]; /* SL-PML4E, SL-PDPE, SL-PDE caches */
	unsigned iec_entries, iec_ways;     /* interrupt-entry cache */
	uint64_t mem_read_cycles;  /* one memory reference of the unit */
	uint64_t inv_cycles;       /* one invalidation (descriptor or register command) */
	uint64_t inv_wait_cycles;  /* one invalidation-wait descriptor (with its status write) */
};

/* The configuration of the profile's part from the parameters (iommu.*),
 * with host memory of mem_bytes. */
void iommu_config_from_params(const struct sim_params *p, uint64_t mem_bytes, struct iommu_config *cfg);

/* ---- interrupts the unit delivers ------------------------------------- */
enum vtd_irq_origin {
	VTD_IRQ_REMAPPED,      /* a remappable request through its IRTE */
	VTD_IRQ_COMPAT,        /* a compatibility-format request passed through (CFIS = 1, or IR off) */
	VTD_IRQ_POSTED_NOTIFY, /* notification event of a posted interrupt (NV to NDST) */
	VTD_IRQ_FAULT_EVENT,   /* FEDATA/FEADDR message */
	VTD_IRQ_INV_EVENT,     /* IEDATA/IEADDR message (invalidation wait with IF) */
};

/* One interrupt message to the local APIC(s). */
struct vtd_irq_msg {
	enum vtd_irq_origin origin;
	uint32_t dest;       /* APIC id (xAPIC 8 bits, x2APIC 32 bits) */
	uint8_t vector;
	uint8_t dlm;         /* delivery mode: 0 fixed, 1 lowest priority, 2 SMI, 4 NMI, 5 INIT, 7 ExtINT */
	bool dm_logical;     /* destination mode */
	bool level;          /* trigger mode */
	bool rh;             /* redirection hint */
	uint16_t sid;        /* requester (remapped / compat / posted) */
	uint16_t index;      /* interrupt index (remapped / posted) */
};

/* The interface the CPU / VMM side implements (later: the local APIC). */
struct vtd_irq_sink {
	void *ctx;
	void (*deliver)(void *ctx, const struct vtd_irq_msg *m);
};

/* ---- DMA requests ----------------------------------------------------- */
/* PCIe address type of a request: only untranslated requests are served in
 * legacy mode without a device-TLB; the others meet fault 0xD under TT = 00. */
enum vtd_addr_type { VTD_AT_UNTRANSLATED = 0, VTD_AT_TRANSLATION_REQ = 1, VTD_AT_TRANSLATED = 2 };

struct vtd_request {
	uint16_t sid;   /* source-id (requester id) */
	uint64_t iova;  /* DMA address */
	bool write;     /* write (else read) */
	enum vtd_addr_type at;
};

enum vtd_ref_kind { VTD_REF_ROOT, VTD_REF_CONTEXT, VTD_REF_SL, VTD_REF_IRTE, VTD_REF_PID, VTD_REF_QI };

/* One memory reference of the unit. */
struct vtd_ref {
	enum vtd_ref_kind kind;
	unsigned level;  /* SL: 5..1 (SL-PML5E..SL-PTE); else 0 */
	uint64_t addr;   /* host-physical address of the entry */
	uint64_t lo, hi; /* its value (hi: 128-bit entries only) */
};

/* What happened to a fault (§7.8). */
enum vtd_fault_disp {
	VTD_FAULT_RECORDED,   /* written into FRCD[index] */
	VTD_FAULT_OVERFLOW,   /* all records full or PFO set: PFO set, record dropped */
	VTD_FAULT_SUPPRESSED, /* FPD = 1 in the context entry / IRTE */
};

#define VTD_MAX_REFS 8

/*
 * Result record of one DMA request: the path it took and what it cost.
 * Shapes: cycles in core cycles, refs are memory references of the unit.
 */
struct vtd_xlate {
	enum vtd_fault_reason fault; /* VTD_FR_NONE on success */
	enum vtd_fault_disp disp;    /* when fault != NONE */
	unsigned frcd_index;         /* when disp == RECORDED */
	bool translation_off;        /* GSTS.TES = 0: the address passed untranslated */
	bool passthrough;            /* context TT = 10 */
	bool cc_hit, iotlb_hit;
	bool iotlb_looked;           /* the request got as far as the IOTLB */
	unsigned ptc_hit_level;      /* level of the paging-structure-cache hit (4 PML4E, 3 PDPE, 2 PDE), 0 = none */
	uint16_t did;
	unsigned levels;             /* walk length from the context AW */
	uint64_t hpa;
	unsigned page_shift;         /* 12, 21 or 30 */
	uint8_t perm;                /* VTD_SL_R / VTD_SL_W of the translation */
	unsigned nrefs;
	struct vtd_ref ref[VTD_MAX_REFS];
	uint64_t cycles;
};

/* ---- interrupt requests ----------------------------------------------- */
struct vtd_ir_result {
	enum vtd_fault_reason fault;
	enum vtd_fault_disp disp;
	bool compat;         /* passed through in compatibility format */
	bool iec_hit;
	bool posted;         /* IM = 1: PIR written */
	bool notified;       /* posted and a notification event was sent */
	uint16_t index;
	struct vtd_irq_msg msg; /* what was delivered (remapped / compat / notification) */
	unsigned nrefs;
	struct vtd_ref ref[VTD_MAX_REFS];
	uint64_t cycles;
};

/* ---- the unit --------------------------------------------------------- */
enum vtd_reg_id {
	VREG_VER, VREG_CAP, VREG_ECAP, VREG_GCMD, VREG_GSTS, VREG_RTADDR, VREG_CCMD, VREG_FSTS, VREG_FECTL,
	VREG_FEDATA, VREG_FEADDR, VREG_FEUADDR, VREG_AFLOG, VREG_PMEN, VREG_PLMBASE, VREG_PLMLIMIT, VREG_PHMBASE,
	VREG_PHMLIMIT, VREG_IQH, VREG_IQT, VREG_IQA, VREG_ICS, VREG_IECTL, VREG_IEDATA, VREG_IEADDR, VREG_IEUADDR,
	VREG_IQER, VREG_IRTA, VREG_IVA, VREG_IOTLB, VREG_FRCD_LO, VREG_FRCD_HI
};

/* One register as data: where it is and which bits software may change. */
struct vtd_reg_desc {
	enum vtd_reg_id id;
	const char *name;
	uint16_t off;     /* byte offset */
	uint8_t size;     /* 4 or 8 bytes */
	bool write_only;  /* reads return 0 (GCMD) */
	uint64_t rw;      /* bits a write stores */
	uint64_t w1c;     /* bits a write of 1 clears */
	uint16_t index;   /* FRCD record number */
};

struct iommu {
	struct iommu_config cfg;
	struct phys_mem *mem;
	struct counters *ctr;
	struct vtd_irq_sink sink;
	uint8_t regs[VTD_REG_BYTES];   /* register contents, little-endian */
	struct vtd_reg_desc *reg;      /* the register set, as data */
	size_t nregs;
	uint16_t iva_off, iotlb_off, frcd_off; /* from ECAP.IRO and CAP.FRO */
	unsigned nfr;                  /* fault-recording registers */
	unsigned frcd_next;            /* the record the next fault goes into */
	unsigned did_bits;             /* 4 + 2 ND */
	uint64_t rta;                  /* root-table address latched by SRTP */
	uint64_t irta;                 /* IRTA latched by SIRTP */
	struct vtd_cache cc, iotlb, ptc[3], iec;
	uint64_t inv_cycles;           /* cycles of the last register write's invalidation work */
	char err[IOMMU_ERR_LEN];
};

/*
 * Build a unit with its registers at reset (GSTS = 0: translation,
 * queued invalidation and interrupt remapping off). The sink receives
 * every interrupt the unit produces and is required. The CAP value must
 * describe legacy mode (SAGAW non-empty, FRO/IRO inside the 4 KiB page).
 * Returns 0, or -1 with a one-line message in err (IOMMU_ERR_LEN).
 */
int iommu_init(struct iommu *u, const struct iommu_config *cfg, struct phys_mem *mem, struct counters *ctr,
	       struct vtd_irq_sink sink, char *err);
void iommu_destroy(struct iommu *u);

/*
 * MMIO: a 4- or 8-byte access at a byte offset. 64-bit registers may be
 * accessed whole or as either dword (as Linux reads FRCD). Reads of holes
 * return 0. A write to a hole, of a bad size, or one asking for a feature
 * the model lacks (advanced fault logging, protected memory, 256-bit
 * descriptors, scalable mode, register invalidation while the queue is
 * enabled...) returns -1 with a message in u->err and changes nothing the
 * spec would not. Side effects (GCMD handshakes §7.3, invalidations §7.7,
 * queue processing, fault-record clearing §7.8) happen within the write.
 */
uint64_t iommu_mmio_read(struct iommu *u, unsigned off, unsigned size);
int iommu_mmio_write(struct iommu *u, unsigned off, unsigned size, uint64_t val);

/* The register descriptor at a byte offset (tests, explain), or NULL. */
const struct vtd_reg_desc *iommu_reg_at(const struct iommu *u, unsigned off);

/*
 * One DMA request (iommu_xlate.c). Fills *x (the path, the references, the
 * cycles) and returns x->fault: VTD_FR_NONE with x->hpa, or the §7.9 fault
 * reason, after recording it (§7.8) unless FPD suppressed it. Checks follow
 * the spec's order: root entry (present, reserved, access), context entry
 * (present, reserved, programming), request type against TT, address width,
 * then the IOTLB or the walk with per-level reserved and permission checks.
 */
enum vtd_fault_reason iommu_translate(struct iommu *u, const struct vtd_request *rq, struct vtd_xlate *x);

/*
 * An interrupt request: a DWORD write of data to MSI address addr by sid
 * (iommu_ir.c, §7.11), or an I/O APIC redirection-table entry rte sent by
 * the I/O APIC whose source-id is sid. Remapped through the IRTE (§7.10),
 * posted, or passed in compatibility format, then delivered to the sink;
 * on a fault the request is blocked and the fault recorded. Returns
 * r->fault.
 */
enum vtd_fault_reason iommu_msi(struct iommu *u, uint16_t sid, uint64_t addr, uint32_t data, struct vtd_ir_result *r);
enum vtd_fault_reason iommu_ioapic(struct iommu *u, uint16_t sid, uint64_t rte, struct vtd_ir_result *r);

/* The spec name of a fault reason ("root entry not present"...), or "reserved". */
const char *vtd_fault_reason_name(unsigned reason);

/* ---- internal (shared by the unit's files) ---------------------------- */
uint64_t iommu_reg_get(const struct iommu *u, unsigned off, unsigned size);
void iommu_reg_set(struct iommu *u, unsigned off, unsigned size, uint64_t val);
/* Record a fault (§7.8); returns its disposition and sets *index. is_read is
 * the request type T; addr the page address (or index << 48). */
enum vtd_fault_disp iommu_record_fault(struct iommu *u, uint16_t sid, uint64_t addr, unsigned reason, bool is_read,
				       bool fpd, unsigned *index);
/* FSTS changed from old: raise or clear the fault event (FECTL IP/IM). */
void iommu_fault_event_update(struct iommu *u, uint32_t old_fsts);
/* Recompute FSTS.PPF and FRI from the FRCD F bits. */
void iommu_update_ppf(struct iommu *u);
/* Send an interrupt message the unit generates itself (fault /
 * invalidation event) from an MSI address/data pair in compatibility format. */
void iommu_send_event(struct iommu *u, enum vtd_irq_origin origin, uint32_t addr, uint32_t data);
/* Invalidations (iommu_inv.c), shared by the registers and the queue. */
void iommu_inv_context(struct iommu *u, unsigned gran, uint16_t did, uint16_t sid, unsigned fm);
void iommu_inv_iotlb(struct iommu *u, unsigned gran, uint16_t did, uint64_t addr, unsigned am, bool ih);
void iommu_inv_iec(struct iommu *u, bool global, unsigned index, unsigned im);
/* Count a fault under its reason's counter. */
void iommu_count_fault(struct iommu *u, unsigned reason);
/* Process the invalidation queue from IQH to IQT (after an IQT write). */
void iommu_qi_process(struct iommu *u);

#endif
