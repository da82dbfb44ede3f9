/* The VMM's I/O paths: emulated, assigned, bounce; see vio.h. */
#include "vmm/vio.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/paging.h"
#include "arch/vmcs_fields.h"
#include "arch/vmx_controls.h"
#include "arch/vtd.h"
#include "cpu/vmx.h"
#include "cpu/vmx_caps.h"
#include "vmm/vmm.h"

static struct cpu *cpu_of(struct vio *io)
{
	return io->vmm->cpu;
}

const enum dev_kind vio_dev_kind[VIO_NDEVS] = {DEV_NIC, DEV_NVME};
const char *const vio_dev_name[VIO_NDEVS] = {"nic", "nvme"};
const uint16_t vio_dev_sid[VIO_NDEVS] = {PLATFORM_SID_NIC, PLATFORM_SID_NVME};

struct guest_dev_info vio_guest_dev(unsigned i, enum dev_kind kind, uint64_t bar, uint64_t bar_size)
{
	return (struct guest_dev_info){.kind = kind,
				       .bar_gpa = bar,
				       .bar_size = bar_size,
				       .vector = (uint8_t)(VIO_GUEST_VEC_DEV + i),
				       .sid = vio_dev_sid[i],
				       .dma_mask_bits = 64};
}

/* The device whose BAR holds gpa, or -1. */
static int dev_at(const struct vio *io, uint64_t gpa)
{
	if (io->path == IO_NONE)
		return -1;
	for (int i = 0; i < VIO_NDEVS; i++)
		if (gpa >= io->bar_gpa[i] && gpa - io->bar_gpa[i] < io->bar_size[i])
			return i;
	return -1;
}

bool vio_owns_gpa(const struct vio *io, uint64_t gpa)
{
	return dev_at(io, gpa) >= 0;
}

/* ---- the emulated device's port: the VMM's own access to guest memory -- */

/* Payload copies of the back end: emulated, a memcpy between the guest's
 * buffer and the back end's; bounce, the physical device's DMA mapped by
 * swiotlb (map and unmap copy per reference sheet §8.3). */
static int backend_payload(struct vio *io, uint64_t hpa, uint32_t len, bool to_guest)
{
	struct vmm *vmm = io->vmm;
	if (io->path == IO_EMULATED) {
		uint64_t cyc = ((uint64_t)len * vmm->p->vmm_io_copy_cycles_per_kib + 1023) / 1024;
		ctr_add(vmm->ctr, CTR_VMM_IO_COPY_BYTES, len);
		ctr_add(vmm->ctr, CTR_VMM_IO_COPY_CYCLES, cyc);
		cpu_charge(cpu_of(io), CTR_CPU_CYCLES_VMM, cyc);
		return 0;
	}
	enum dma_data_direction dir = to_guest ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
	uint64_t before = vmm->ctr->v[CTR_DMA_BOUNCE_CYCLES];
	uint64_t dma = dma_direct_map_page(&io->sw, &io->phys_dma, hpa, len, dir);
	if (dma == DMA_MAPPING_ERROR)
		return cpu_fail(cpu_of(io), "bounce back end: %s", io->sw.err[0] ? io->sw.err : "DMA mapping failed");
	/* The physical device's transfer to or from dma happens here. */
	dma_direct_unmap_page(&io->sw, &io->phys_dma, dma, len, dir);
	cpu_charge(cpu_of(io), CTR_CPU_CYCLES_VMM, vmm->ctr->v[CTR_DMA_BOUNCE_CYCLES] - before);
	return 0;
}

static int vport_resolve(void *ctx, uint64_t gpa, bool write, uint64_t *hpa, char *err)
{
	(void)write;
	struct vio *io = ctx;
	if (gpa >= io->vmm->guest_mem_bytes) {
		snprintf(err, DEV_ERR_LEN, "emulated device: the guest gave DMA address 0x%" PRIx64 ", beyond its memory",
			 gpa);
		return -1;
	}
	if (vmm_gpa_to_hpa(io->vmm, gpa, hpa) < 0) {
		snprintf(err, DEV_ERR_LEN, "%.250s", cpu_of(io)->err);
		return -1;
	}
	return 0;
}

static uint64_t vport_read64(void *ctx, uint64_t hpa)
{
	return vmx_root_read64(cpu_of(ctx), hpa);
}

static int vport_write64(void *ctx, uint64_t hpa, uint64_t val, char *err)
{
	if (vmx_root_write64(cpu_of(ctx), hpa, val) < 0) {
		snprintf(err, DEV_ERR_LEN, "%.250s", cpu_of(ctx)->err);
		return -1;
	}
	return 0;
}

static int vport_payload(void *ctx, uint64_t hpa, uint32_t bytes, bool to_guest, char *err)
{
	if (backend_payload(ctx, hpa, bytes, to_guest) < 0) {
		snprintf(err, DEV_ERR_LEN, "%.250s", cpu_of(ctx)->err);
		return -1;
	}
	return 0;
}

/* The emulated device's DMA: guest-physical addresses, the VMM's own
 * loads and stores, the back end's copies. */
static int vport_dma(void *ctx, uint16_t sid, uint64_t addr, uint32_t len, bool write, uint64_t *words, char *err)
{
	(void)sid;
	static const struct dma_page_ops ops = {vport_resolve, vport_read64, vport_write64, vport_payload};
	return dma_by_page(&ops, ctx, addr, len, write, words, err);
}

static void vec_set(uint64_t *bits, unsigned v)
{
	bits[v / 64] |= UINT64_C(1) << (v % 64);
}

static int vport_msi(void *ctx, uint16_t sid, uint64_t addr, uint32_t data, char *err)
{
	(void)sid;
	(void)addr;
	(void)err;
	struct vio *io = ctx;
	vec_set(io->inject, data & 0xff);
	return 0;
}

/* The back end's completion is due after delay: the VMM arms the host's
 * timer (its interrupt, VIO_HOST_VEC_BACKEND, exits if the guest runs). */
static int vport_schedule(void *ctx, struct pci_dev *d, uint64_t delay, char *err)
{
	struct vio *io = ctx;
	if (io->ndue == io->due_cap) {
		size_t cap = io->due_cap ? 2 * io->due_cap : 16;
		struct vio_due *n = realloc(io->due, cap * sizeof(*n));
		if (!n) {
			snprintf(err, DEV_ERR_LEN, "out of memory");
			return -1;
		}
		io->due = n;
		io->due_cap = cap;
	}
	uint64_t when = cpu_of(io)->cycles + delay;
	size_t i = io->ndue++;
	while (i > 0 && io->due[i - 1].cycle > when) { /* sorted, earliest first */
		io->due[i] = io->due[i - 1];
		i--;
	}
	io->due[i] = (struct vio_due){when, d};
	if (cpu_host_timer_in(cpu_of(io), delay, VIO_HOST_VEC_BACKEND) < 0) {
		snprintf(err, DEV_ERR_LEN, "%.250s", cpu_of(io)->err);
		return -1;
	}
	return 0;
}

/* ---- the assigned device ------------------------------------------------ */

/* The IOMMU driver runs on the core in root mode: its register accesses
 * are uncached (dev.mmio_*_cycles), its table stores go through the data
 * caches, its table pages are cleared like the VMM's own. */
static void drv_charge(void *ctx, enum iommu_drv_work w, uint64_t hpa)
{
	struct vio *io = ctx;
	struct cpu *c = cpu_of(io);
	switch (w) {
	case IOMMU_DRV_MMIO_READ:
		cpu_charge(c, CTR_CPU_CYCLES_VMM, c->p->dev_mmio_read_cycles);
		break;
	case IOMMU_DRV_MMIO_WRITE:
		cpu_charge(c, CTR_CPU_CYCLES_VMM, c->p->dev_mmio_write_cycles);
		break;
	case IOMMU_DRV_STORE:
		cpu_pt_access(c, hpa, CTR_CPU_CYCLES_VMM, NULL);
		break;
	case IOMMU_DRV_PAGE_ZERO:
		cpu_charge(c, CTR_CPU_CYCLES_VMM, c->p->host_page_zero_cycles);
		cache_fill_page(&c->cache, hpa);
		break;
	}
}

/* The driver waits (polls the wait descriptor's status) while the unit
 * works through its invalidations: those cycles are the core's too. */
static int drv_done(struct vio *io, int rc, uint64_t inv_before)
{
	cpu_charge(cpu_of(io), CTR_CPU_CYCLES_VMM, io->vmm->ctr->v[CTR_IOMMU_INV_CYCLES] - inv_before);
	if (rc < 0)
		return cpu_fail(cpu_of(io), "%s", io->drv.err);
	return 0;
}

static int assigned_init(struct vio *io)
{
	struct vmm *vmm = io->vmm;
	struct cpu *c = cpu_of(io);
	if (vmm->p->io_posted && !(vmx_cap_may_be_1(c->caps.true_pinbased) & PIN_POSTED_INTR))
		return cpu_fail(c, "io.posted=on: this core's VMX capabilities do not allow \"process posted interrupts\" "
				   "(IA32_VMX_TRUE_PINBASED_CTLS bit 39 is 0 with vmx.posted_intr=off, as on the i7-6700K)");
	if (vmm->p->io_posted && !(vmm->p->iommu_cap & VTD_CAP_PI))
		return cpu_fail(c, "io.posted=on: the VT-d unit cannot post interrupts (iommu.cap=0x%" PRIx64
				   " has no PI, bit 59)", vmm->p->iommu_cap);
	platform_init(&io->pf, c, c->mem, vmm->ctr, NULL);
	io->have_pf = true;
	struct iommu_config cfg;
	iommu_config_from_params(vmm->p, vmm->p->host_mem_mib << 20, &cfg);
	if (iommu_init(&io->iommu, &cfg, c->mem, vmm->ctr, platform_irq_sink(&io->pf), io->err) < 0)
		return cpu_fail(c, "VT-d unit: %s", io->err);
	io->have_iommu = true;
	io->pf.iommu = &io->iommu;
	/* Bring-up happens when the VM is created, before the guest runs: its
	 * work is counted (vmm.iommu.*), not charged; from here on it is. */
	if (iommu_drv_init(&io->drv, &io->iommu, c->mem, &vmm->host_frames, vmm->ctr) < 0)
		return cpu_fail(c, "%s", io->drv.err);
	io->have_drv = true;
	io->drv.charge = drv_charge;
	io->drv.charge_ctx = io;
	/* One domain for the VM (a VFIO container): both devices attached. */
	if (iommu_drv_domain_alloc(&io->drv, &io->did) < 0 || iommu_drv_ir_enable(&io->drv, 7, false) < 0)
		return cpu_fail(c, "%s", io->drv.err);
	if (vmm->p->io_posted) {
		/* The posted-interrupt descriptor (64 bytes): PIR, then ON/SN,
		 * NV in bits 279:272, NDST (APIC id 0) from bit 288. Posted
		 * interrupts need virtual-interrupt delivery, which needs the
		 * TPR shadow and a virtual-APIC page (SDM Vol. 3C "VM-Execution
		 * Control Fields"; KVM's APICv set-up). */
		uint64_t pin, proc, proc2;
		if (vmm_host_frame(vmm, &io->pid_hpa) < 0 || vmm_host_frame(vmm, &io->vapic_hpa) < 0 ||
		    vmx_root_write64(c, io->pid_hpa + 32, (uint64_t)VIO_POSTED_INTR_VECTOR << 16) < 0 ||
		    vmm_vmread(vmm, VMCS_PIN_BASED_VM_EXEC_CONTROL, &pin) < 0 ||
		    vmm_vmread(vmm, VMCS_CPU_BASED_VM_EXEC_CONTROL, &proc) < 0 ||
		    vmm_vmread(vmm, VMCS_SECONDARY_VM_EXEC_CONTROL, &proc2) < 0 ||
		    vmm_vmwrite(vmm, VMCS_CPU_BASED_VM_EXEC_CONTROL, proc | CPU_USE_TPR_SHADOW) < 0 ||
		    vmm_vmwrite(vmm, VMCS_VIRTUAL_APIC_ADDR, io->vapic_hpa) < 0 ||
		    vmm_vmwrite(vmm, VMCS_SECONDARY_VM_EXEC_CONTROL, proc2 | SECONDARY_VIRTUAL_INTR_DELIVERY) < 0 ||
		    vmm_vmwrite(vmm, VMCS_PIN_BASED_VM_EXEC_CONTROL, pin | PIN_POSTED_INTR) < 0 ||
		    vmm_vmwrite(vmm, VMCS_POSTED_INTR_NV, VIO_POSTED_INTR_VECTOR) < 0 ||
		    vmm_vmwrite(vmm, VMCS_POSTED_INTR_DESC_ADDR, io->pid_hpa) < 0)
			return -1;
	}
	for (unsigned i = 0; i < VIO_NDEVS; i++) {
		io->bar_hpa[i] = platform_bar_hpa(vmm->p->host_mem_mib << 20, i);
		if (platform_add(&io->pf, vio_dev_kind[i], vio_dev_name[i], vio_dev_sid[i], 64, io->bar_hpa[i],
				 &io->dev[i]) < 0)
			return -1;
		io->bar_size[i] = dev_bar_size(io->dev[i]);
		if (iommu_drv_attach(&io->drv, io->did, vio_dev_sid[i]) < 0)
			return cpu_fail(c, "%s", io->drv.err);
		/* IRTE i: remapped to host vector 0x41 + i, or posted as the
		 * guest's vector; source validation by requester id. */
		struct iommu_irte_sv sv = {VTD_SVT_SID, 0, vio_dev_sid[i]};
		uint64_t msi_addr;
		uint32_t msi_data;
		int rc = vmm->p->io_posted
				 ? iommu_drv_irte_posted(&io->drv, i, io->pid_hpa, (uint8_t)(VIO_GUEST_VEC_DEV + i), false, sv,
							 &msi_addr, &msi_data)
				 : iommu_drv_irte_remapped(&io->drv, i, 0, (uint8_t)(VIO_HOST_VEC_DEV + i), sv, &msi_addr,
							   &msi_data);
		if (rc < 0)
			return cpu_fail(c, "%s", io->drv.err);
		dev_set_msi(io->dev[i], msi_addr, msi_data, true);
	}
	return 0;
}

int vio_init(struct vio *io, struct vmm *vmm, struct guest_dev_info *gd)
{
	memset(io, 0, sizeof(*io));
	io->vmm = vmm;
	io->path = (enum io_path)vmm->p->io_path;
	struct cpu *c = vmm->cpu;
	if (io->path == IO_NONE)
		return 0;
	vmm->vio = io;
	for (unsigned i = 0; i < VIO_NDEVS; i++)
		io->bar_gpa[i] = platform_bar_hpa(vmm->guest_mem_bytes, i);
	if (io->path == IO_ASSIGNED) {
		if (assigned_init(io) < 0)
			return -1;
	} else {
		struct dev_params dp;
		dev_params_from(vmm->p, &dp);
		struct dma_port port = {vport_dma, vport_msi, vport_schedule, io};
		for (unsigned i = 0; i < VIO_NDEVS; i++) {
			io->vdev[i] = dev_create(vio_dev_kind[i], vio_dev_name[i], vio_dev_sid[i], 64, &dp, port, vmm->ctr,
						 io->err);
			if (!io->vdev[i])
				return cpu_fail(c, "%s", io->err);
			dev_set_msi(io->vdev[i], 0xfee00000u, VIO_GUEST_VEC_DEV + i, true);
			io->bar_size[i] = dev_bar_size(io->vdev[i]);
		}
		/* The host's own NIC receives the guest's frames: its interrupt
		 * brings them to the emulated NIC (the back end's tap). */
		cpu_host_net_attach(c, VIO_HOST_VEC_NET);
		if (io->path == IO_BOUNCE) {
			/* The pool sits in host low memory below the guest's (vmm_init
			 * put guest memory above 4 GiB for this path). */
			if (swiotlb_init(&io->sw, c->mem, vmm->ctr, VIO_SWIOTLB_BASE, vmm->p->swiotlb_pool_mib << 20,
					 vmm->p->swiotlb_copy_cycles_per_kib, io->err) < 0)
				return cpu_fail(c, "swiotlb: %s", io->err);
			io->have_sw = true;
			io->phys_dma = (struct dma_dev){.dma_mask = 0xffffffffu, .seg_boundary = 0xffffffffu};
		}
	}
	for (unsigned i = 0; i < VIO_NDEVS; i++)
		gd[i] = vio_guest_dev(i, vio_dev_kind[i], io->bar_gpa[i], io->bar_size[i]);
	return 0;
}

void vio_destroy(struct vio *io)
{
	for (unsigned i = 0; i < VIO_NDEVS; i++)
		if (io->vdev[i])
			dev_destroy(io->vdev[i]);
	if (io->have_sw)
		swiotlb_destroy(&io->sw);
	if (io->have_drv)
		iommu_drv_destroy(&io->drv);
	if (io->have_pf)
		platform_destroy(&io->pf);
	if (io->have_iommu)
		iommu_destroy(&io->iommu);
	free(io->due);
	memset(io, 0, sizeof(*io));
}

int vio_emulate_mmio(struct vio *io, uint64_t gpa)
{
	struct cpu *c = cpu_of(io);
	struct guest_insn insn;
	if (cpu_decode_at_rip(c, &insn) < 0 || (insn.kind != INSN_MOV_LOAD_EAX && insn.kind != INSN_MOV_STORE_EAX))
		return cpu_fail(c, "device-register access at GPA 0x%" PRIx64 " by an instruction the VMM cannot emulate",
				gpa);
	int d = dev_at(io, gpa);
	if (d < 0 || !io->vdev[d])
		return cpu_fail(c, "GPA 0x%" PRIx64 " is no emulated device's register", gpa);
	uint64_t off = gpa - io->bar_gpa[d];
	uint64_t mask = insn.bytes >= 8 ? ~UINT64_C(0) : (UINT64_C(1) << (8 * insn.bytes)) - 1;
	int rc;
	if (insn.kind == INSN_MOV_LOAD_EAX) {
		uint64_t v = 0;
		rc = dev_mmio_read(io->vdev[d], off, insn.bytes, &v, io->err);
		c->gpr[0] = v & mask;
	} else {
		rc = dev_mmio_write(io->vdev[d], off, insn.bytes, c->gpr[0] & mask, io->err);
	}
	if (rc < 0)
		return cpu_fail(c, "%s", io->err);
	ctr_inc(io->vmm->ctr, CTR_VMM_MMIO_EMULATED);
	cpu_charge(c, CTR_CPU_CYCLES_VMM, io->vmm->p->vmm_mmio_emulate_cycles);
	return vmm_skip_instruction(io->vmm, insn.len);
}

int vio_ept_violation(struct vio *io, uint64_t gpa)
{
	if (io->path == IO_ASSIGNED) {
		int d = dev_at(io, gpa);
		ctr_inc(io->vmm->ctr, CTR_VMM_MMIO_MAPPED);
		return ept_mgr_map_mmio(io->vmm, gpa & PAGE_MASK, io->bar_hpa[d] + ((gpa & PAGE_MASK) - io->bar_gpa[d]));
	}
	return vio_emulate_mmio(io, gpa);
}

int vio_shadow_hpa(struct vio *io, uint64_t gpa, uint64_t *hpa)
{
	int d = dev_at(io, gpa);
	if (io->path != IO_ASSIGNED || d < 0)
		return 0;
	*hpa = io->bar_hpa[d] + (gpa - io->bar_gpa[d]);
	return 1;
}

int vio_host_interrupt(struct vio *io, unsigned vector)
{
	struct cpu *c = cpu_of(io);
	switch (vector) {
	case VIO_HOST_VEC_BACKEND: {
		size_t n = 0;
		while (n < io->ndue && io->due[n].cycle <= c->cycles)
			n++;
		for (size_t i = 0; i < n; i++) {
			struct pci_dev *d = io->due[0].dev;
			memmove(io->due, io->due + 1, (io->ndue - 1) * sizeof(*io->due));
			io->ndue--;
			if (dev_event(d, io->err) < 0)
				return cpu_fail(c, "%s", io->err);
		}
		return 1;
	}
	case VIO_HOST_VEC_NET: {
		uint32_t len;
		while (cpu_host_net_take(c, &len))
			if (nic_wire_rx(io->vdev[0], len, io->err) < 0)
				return cpu_fail(c, "%s", io->err);
		return 1;
	}
	case VIO_HOST_VEC_DEV:
	case VIO_HOST_VEC_DEV + 1:
		vec_set(io->inject, VIO_GUEST_VEC_DEV + (vector - VIO_HOST_VEC_DEV));
		return 1;
	case IOMMU_DRV_FAULT_VECTOR: {
		/* The VT-d unit's fault event: the driver reads, reports and
		 * clears the records (vmm.iommu.faults_reported); a device whose
		 * DMA was blocked is left as the fault left it. */
		struct iommu_fault_report rep[8];
		unsigned n = 0;
		bool overflow;
		uint64_t before = io->vmm->ctr->v[CTR_IOMMU_INV_CYCLES];
		do {
			if (drv_done(io, iommu_drv_faults(&io->drv, rep, 8, &n, &overflow), before) < 0)
				return -1;
			if (n && !io->first_fault[0])
				iommu_drv_format_fault(&rep[0], io->first_fault, sizeof(io->first_fault));
		} while (n == 8);
		return 1;
	}
	case VIO_POSTED_INTR_VECTOR:
		/* The notification arrived while the vCPU was not in non-root
		 * operation: send it again to self just before entry, so the core
		 * processes the PIR in the guest (KVM's wake-up + self-IPI). */
		io->repost = true;
		return 1;
	default:
		return 0;
	}
}

int vio_before_entry(struct vio *io)
{
	if (io->repost) {
		io->repost = false;
		cpu_raise_interrupt(cpu_of(io), VIO_POSTED_INTR_VECTOR);
	}
	uint64_t info;
	if (vmm_vmread(io->vmm, VMCS_VM_ENTRY_INTR_INFO, &info) < 0)
		return -1;
	for (int w = 3; w >= 0 && !(info & INTR_INFO_VALID); w--) {
		if (!io->inject[w])
			continue;
		unsigned bit = 63 - (unsigned)__builtin_clzll(io->inject[w]);
		io->inject[w] &= ~(UINT64_C(1) << bit);
		ctr_inc(io->vmm->ctr, CTR_VMM_INTR_INJECTED);
		info = INTR_INFO_VALID | INTR_TYPE_EXT_INTR | (w * 64u + bit);
		if (vmm_vmwrite(io->vmm, VMCS_VM_ENTRY_INTR_INFO, info) < 0)
			return -1;
	}
	/* More waiting: exit as soon as the guest can take the next one
	 * (KVM's enable_irq_window). */
	uint64_t proc;
	if (vmm_vmread(io->vmm, VMCS_CPU_BASED_VM_EXEC_CONTROL, &proc) < 0)
		return -1;
	uint64_t want = vio_pending(io) ? proc | CPU_INTR_WINDOW_EXITING : proc & ~(uint64_t)CPU_INTR_WINDOW_EXITING;
	return want == proc ? 0 : vmm_vmwrite(io->vmm, VMCS_CPU_BASED_VM_EXEC_CONTROL, want);
}

bool vio_pending(const struct vio *io)
{
	return io->repost || (io->inject[0] | io->inject[1] | io->inject[2] | io->inject[3]);
}

int vio_backed(struct vio *io, uint64_t gpa, uint64_t hpa, uint64_t bytes)
{
	if (io->path != IO_ASSIGNED || !io->have_drv)
		return 0;
	uint64_t before = io->vmm->ctr->v[CTR_IOMMU_INV_CYCLES];
	return drv_done(io, iommu_drv_map(&io->drv, io->did, gpa, hpa, bytes, VTD_SL_R | VTD_SL_W), before);
}
