/*
 * The VMM's I/O paths (software): how a guest's devices reach it, per
 * io.path (src/cpu/params.h enum io_path).
 *
 *  - emulated: the VMM emulates the NIC (the same 8254x register interface
 *    as the hardware model, src/dev/nic.c, instantiated as its device
 *    model, as QEMU's e1000 is written from the same datasheet). The guest's
 *    BAR is never mapped, so every register access exits (an EPT violation
 *    under EPT, a #PF under shadow paging) and is emulated; the model's
 *    DMA is the VMM's own access to guest memory, and each payload is
 *    copied between guest memory and the back end (vmm.io.copy.*). Back-end
 *    completions arrive as the host timer's interrupt; the model's MSI is
 *    injected at the next VM entry.
 *  - bounce: the same emulated registers; the back end hands the guest's
 *    buffers to a physical NIC with a 32-bit DMA mask and no remapping, so
 *    swiotlb (src/vmm/swiotlb.c) bounces every buffer above 4 GiB: guest
 *    memory is placed above 4 GiB (host low memory holds the swiotlb pool).
 *  - assigned: the platform's NIC is the guest's: its BAR is mapped by EPT
 *    (or by shadow entries) to the device, so register accesses do not exit;
 *    the VT-d unit remaps its DMA (a domain whose second-level tables map
 *    IOVA = GPA to each page the VMM backs, as VFIO maps pinned guest
 *    memory); its MSI is remapped to a host vector the VMM injects, or, with
 *    io.posted, posted into the guest's posted-interrupt descriptor.
 */
#ifndef VTSIM_VMM_VIO_H
#define VTSIM_VMM_VIO_H

#include <stdbool.h>
#include <stdint.h>

#include "dev/platform.h"
#include "guest/guest.h"
#include "iommu/iommu.h"
#include "vmm/iommu_drv.h"
#include "vmm/swiotlb.h"

struct vmm;

/* Host vectors the VMM uses (Linux arch/x86/include/asm/irq_vectors.h
 * for the posted-interrupt one; the others are free device vectors). */
#define VIO_HOST_VEC_BACKEND 0x40   /* the host timer of the emulated device's back end */
#define VIO_HOST_VEC_DEV 0x41       /* the assigned devices' remapped interrupts: 0x41 + device index */
#define VIO_HOST_VEC_NET 0x43       /* the host's own NIC: frames for the emulated NIC's back end */
#define VIO_POSTED_INTR_VECTOR 0xf2 /* POSTED_INTR_VECTOR: the notification vector */
/* The guest's vectors for its devices (what their MSIs carry): 0x30 + index. */
#define VIO_GUEST_VEC_DEV 0x30
/* The devices every path gives the guest, in this order: the NIC, then the
 * NVMe controller. */
#define VIO_NDEVS 2
/* The bounce path's swiotlb pool: host-physical, from 1 MiB (low memory). */
#define VIO_SWIOTLB_BASE (UINT64_C(1) << 20)

struct vio_due {
	uint64_t cycle;       /* when the back end completes */
	struct pci_dev *dev;  /* whose completion */
};

struct vio {
	struct vmm *vmm;
	enum io_path path;
	uint64_t bar_gpa[VIO_NDEVS]; /* each device's BAR 0 in guest-physical space */
	uint64_t bar_size[VIO_NDEVS];
	/* emulated / bounce */
	struct pci_dev *vdev[VIO_NDEVS]; /* the VMM's device models */
	struct vio_due *due;        /* back-end completions, earliest first */
	size_t ndue, due_cap;
	uint64_t inject[4];         /* guest vectors waiting for injection */
	struct swiotlb sw;          /* bounce */
	bool have_sw;
	struct dma_dev phys_dma;    /* the bounce path's physical device (32-bit mask) */
	/* assigned */
	struct platform pf;
	struct iommu iommu;
	struct iommu_drv drv;
	bool have_pf, have_iommu, have_drv;
	struct pci_dev *dev[VIO_NDEVS]; /* the platform's devices */
	uint64_t bar_hpa[VIO_NDEVS];
	uint16_t did;
	uint64_t pid_hpa;           /* posted-interrupt descriptor */
	uint64_t vapic_hpa;         /* virtual-APIC page (posted interrupts) */
	bool repost;                /* a notification came in root mode: raise it again at entry */
	char first_fault[160];      /* the first DMA fault the driver reported, as it printed it */
	char err[256];
};

/* Set up the I/O path of p->io_path for vmm (after vmm_init, before the
 * guest image is loaded); fills gd[VIO_NDEVS] with the devices the guest
 * sees. 0 / -1 (cpu_fail). */
int vio_init(struct vio *io, struct vmm *vmm, struct guest_dev_info *gd);
/* The device description the guest gets for device i of kind at bar (a
 * GPA) with a BAR of bar_size bytes: source-id, vector, 64-bit DMA. */
struct guest_dev_info vio_guest_dev(unsigned i, enum dev_kind kind, uint64_t bar, uint64_t bar_size);
/* The kinds, names and source-ids of the VIO_NDEVS devices. */
extern const enum dev_kind vio_dev_kind[VIO_NDEVS];
extern const char *const vio_dev_name[VIO_NDEVS];
extern const uint16_t vio_dev_sid[VIO_NDEVS];
void vio_destroy(struct vio *io);

/* Does gpa lie in a device window the VMM knows? */
bool vio_owns_gpa(const struct vio *io, uint64_t gpa);
/* An EPT violation at gpa in a device window: emulate the access and skip
 * the instruction (emulated, bounce) or map the BAR page (assigned). */
int vio_ept_violation(struct vio *io, uint64_t gpa);
/* Shadow paging: the host-physical page behind the device page at gpa, 1
 * with *hpa (assigned); 0: the access is to be emulated. */
int vio_shadow_hpa(struct vio *io, uint64_t gpa, uint64_t *hpa);
/* Emulate the instruction at guest RIP, a device-register access at gpa,
 * and skip it. 0 / -1. */
int vio_emulate_mmio(struct vio *io, uint64_t gpa);
/* A host interrupt of vector for the VMM (an external-interrupt exit, or
 * taken while the guest halts). 1 = handled, 0 = not an I/O vector, -1. */
int vio_host_interrupt(struct vio *io, unsigned vector);
/* Before a VM entry: inject the highest waiting guest vector if no event
 * is being injected already, and ask for an interrupt-window exit while
 * more wait. 0 / -1. */
int vio_before_entry(struct vio *io);
/* Is a guest interrupt waiting for injection (or a posted notification
 * for re-sending)? A halted vCPU with one must not block. */
bool vio_pending(const struct vio *io);
/* The VMM backed [gpa, gpa + bytes) with host memory at hpa: assigned
 * devices' domain maps it too. 0 / -1. */
int vio_backed(struct vio *io, uint64_t gpa, uint64_t hpa, uint64_t bytes);

#endif
