/*
 * The VMM's IOMMU driver: ordinary software against the VT-d interface,
 * as Linux's intel-iommu is. It reaches the remapping unit only through
 * MMIO reads and writes of its registers (iommu_mmio_read / _write, the
 * moral equivalent of readl/writeq on an ioremapped page) and the tables it
 * builds in simulated host memory in the real formats (reference sheet
 * §7.4-§7.10): the root table, a context table per bus, one second-level
 * page table tree per domain, the invalidation queue, the interrupt-
 * remapping table. It never looks into the unit's caches or state.
 *
 * Policy (following Linux drivers/iommu/intel where it has one):
 *  - one domain per assigned device: domain-ids from 1 (0 is never handed
 *    out, as Linux reserves it), the AW of the largest supported AGAW up to
 *    48 bits (SAGAW), a tree of that many levels;
 *  - mappings use 2 MiB / 1 GiB leaves when IOVA, HPA and length allow and
 *    CAP.SLLPS has the size; making entries present needs no invalidation
 *    (CAP.CM = 0); removing them is followed by a page-selective IOTLB
 *    invalidation (IH = 1: only leaves changed; address and mask per Linux's
 *    aligned-PSI rule; domain-selective when the mask exceeds CAP.MAMV) and
 *    a wait descriptor the driver polls;
 *  - all invalidation goes through the queue (one 4 KiB page, 256
 *    descriptors), which is enabled at init;
 *  - faults: the driver reads FSTS, walks the pending records from FRI,
 *    reports each (source-id as bus:dev.fn, address, type, reason by name),
 *    clears F, then clears PFO.
 * Costs: the driver counts its work (table pages, entry writes, MMIO
 * accesses, faults reported); the unit counts invalidation cycles. A VMM
 * that runs the driver on a CPU sets charge (below) to be told of each
 * piece of work, as src/vmm/vio.c does; tests and explain leave it NULL.
 */
#ifndef VTSIM_VMM_IOMMU_DRV_H
#define VTSIM_VMM_IOMMU_DRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iommu/iommu.h"
#include "mem/mem.h"
#include "stats/counters.h"

#define IOMMU_DRV_MAX_DOMAINS 64
/* Fault-event interrupt the driver programs: vector (assumed: any free
 * vector works; Linux allocates one; not 0xEC, the local timer's) to APIC
 * id 0, fixed, edge. */
#define IOMMU_DRV_FAULT_VECTOR 0x44
#define IOMMU_DRV_QUEUE_ENTRIES 256u /* one 4 KiB page, QS = 0 */

struct iommu_drv_domain {
	uint16_t did;     /* 0 = free slot */
	uint64_t slpt;    /* HPA of the top second-level table */
};

/* The driver's work, for charge(). */
enum iommu_drv_work {
	IOMMU_DRV_MMIO_READ,   /* a register read */
	IOMMU_DRV_MMIO_WRITE,  /* a register write */
	IOMMU_DRV_STORE,       /* an 8-byte store to a table, descriptor or IRTE at hpa */
	IOMMU_DRV_PAGE_ZERO,   /* a table page at hpa cleared */
};

struct iommu_drv {
	void (*charge)(void *ctx, enum iommu_drv_work w, uint64_t hpa); /* NULL: nobody is charged */
	void *charge_ctx;
	struct iommu *hw;          /* for MMIO only */
	struct phys_mem *mem;
	struct frame_alloc *fa;    /* host frames for tables */
	struct counters *ctr;
	uint64_t cap, ecap;        /* read from the registers at init */
	unsigned iva_off, iotlb_off, frcd_off, nfr;
	unsigned aw, levels;       /* the domains' address width (context AW) and walk length */
	bool large_pages;          /* use 2 MiB / 1 GiB leaves when allowed (default on) */
	uint64_t root;             /* HPA of the root table */
	uint64_t ctx[256];         /* HPA of each bus's context table, 0 = none */
	uint64_t queue;            /* HPA of the invalidation queue */
	unsigned tail;             /* next descriptor index */
	uint64_t status;           /* HPA of the wait-descriptor status dword */
	uint32_t seq;              /* last status value asked for */
	uint64_t irt;              /* HPA of the interrupt-remapping table, 0 = IR off */
	unsigned irt_entries;
	bool x2apic;               /* IRTA.EIME */
	struct iommu_drv_domain dom[IOMMU_DRV_MAX_DOMAINS];
	uint16_t next_did;
	char err[256];
};

/* A contiguous guest-physical range and the host memory behind it. */
struct iommu_mem_range {
	uint64_t gpa, hpa, bytes; /* 4 KiB aligned */
};

/* One fault record as the driver read it. */
struct iommu_fault_report {
	uint16_t sid;
	uint64_t addr;     /* page address (DMA) */
	unsigned reason;
	bool read;         /* T = 1 */
	bool interrupt;    /* an interrupt-remapping fault: index = addr >> 48 */
	unsigned record;   /* the FRCD it came from */
};

/*
 * Bring the unit up (sheet §7.3 bring-up order): root table, SRTP, queue,
 * QIE, global context-cache and IOTLB invalidation with a wait, the fault
 * event's message, TE. 0, or -1 with a message in d->err (the unit refused
 * a write, or host memory ran out).
 */
int iommu_drv_init(struct iommu_drv *d, struct iommu *hw, struct phys_mem *mem, struct frame_alloc *fa,
		   struct counters *ctr);
/* Free the driver's bookkeeping (the tables stay in simulated memory). */
void iommu_drv_destroy(struct iommu_drv *d);

/* A new domain with an empty second-level tree; its domain-id in *did. 0 / -1. */
int iommu_drv_domain_alloc(struct iommu_drv *d, uint16_t *did);
/* Point source-id sid's context entry at domain did (TT = 00). If the device
 * was attached elsewhere, the old entry is cleared and invalidated first
 * (device-selective context cache, domain-selective IOTLB). 0 / -1. */
int iommu_drv_attach(struct iommu_drv *d, uint16_t did, uint16_t sid);
/* Clear sid's context entry and invalidate (context cache for the device,
 * IOTLB for its domain), with a wait. 0 / -1. */
int iommu_drv_detach(struct iommu_drv *d, uint16_t sid);
/* Map [iova, iova + bytes) to [hpa, ...) with rights prot (VTD_SL_R |
 * VTD_SL_W). Refuses an IOVA already mapped or beyond the domain's width.
 * 0 / -1. */
int iommu_drv_map(struct iommu_drv *d, uint16_t did, uint64_t iova, uint64_t hpa, uint64_t bytes, uint64_t prot);
/* Map a guest's memory map GPA -> HPA read/write (IOVA = GPA). 0 / -1. */
int iommu_drv_map_guest(struct iommu_drv *d, uint16_t did, const struct iommu_mem_range *r, size_t n);
/* Unmap [iova, iova + bytes): clear the leaves (a large leaf only whole),
 * then invalidate the IOTLB page-selectively and wait. 0 / -1. */
int iommu_drv_unmap(struct iommu_drv *d, uint16_t did, uint64_t iova, uint64_t bytes);

/*
 * The fault handler: read and clear every pending fault record (from FRI,
 * in ring order) into out (at most max), then clear PFO. *n = records read,
 * *overflow = PFO was set. 0 / -1.
 */
int iommu_drv_faults(struct iommu_drv *d, struct iommu_fault_report *out, unsigned max, unsigned *n,
		     bool *overflow);
/* One line: "DMA Read from 00:02.0 at 0x7000: fault reason 0x06 (read
 * access not allowed)" or "interrupt from 00:02.0, index 5: fault reason
 * 0x26 (source-id verification failed)". */
void iommu_drv_format_fault(const struct iommu_fault_report *f, char *buf, size_t len);

/* Interrupt remapping: a table of 2^(s+1) entries (s <= 15), x2APIC mode if
 * x2apic (needs ECAP.EIM); IRTA, SIRTP, global IEC invalidation, IRE;
 * compatibility-format interrupts stay blocked (CFI = 0). 0 / -1. */
int iommu_drv_ir_enable(struct iommu_drv *d, unsigned s, bool x2apic);
/* Source validation of an IRTE: svt (VTD_SVT_*), sq, sid (SVT = 10: start
 * bus << 8 | end bus). */
struct iommu_irte_sv {
	unsigned svt, sq;
	uint16_t sid;
};
/* Write IRTE index in remapped format (fixed delivery, physical, edge) and
 * invalidate it; *msi_addr / *msi_data receive the remappable-format MSI
 * the device must send (HANDLE = index, SHV = 0). 0 / -1. */
int iommu_drv_irte_remapped(struct iommu_drv *d, unsigned index, uint32_t dest, uint8_t vector,
			    struct iommu_irte_sv sv, uint64_t *msi_addr, uint32_t *msi_data);
/* The same in posted format: post vv into the descriptor at pda (64-byte
 * aligned), urgent if urg; needs CAP.PI. 0 / -1. */
int iommu_drv_irte_posted(struct iommu_drv *d, unsigned index, uint64_t pda, uint8_t vv, bool urg,
			  struct iommu_irte_sv sv, uint64_t *msi_addr, uint32_t *msi_data);
/* Clear IRTE index and invalidate it. 0 / -1. */
int iommu_drv_irte_clear(struct iommu_drv *d, unsigned index);

#endif
