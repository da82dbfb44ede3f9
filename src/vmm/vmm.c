/*
 * Notes: VMM set-up and the exit loop. The VMCS is configured as KVM
 * configures it on a Skylake host:
 *  - EPT: external-interrupt and HLT exiting, no CR3-load/store exiting,
 *    no INVLPG exiting, no #PF in the exception bitmap, "enable EPT";
 *  - shadow paging: the same plus CR3-load/store exiting, INVLPG exiting
 *    and every #PF intercepted (exception bitmap bit 14, PFEC mask = match
 *    = 0); guest CR3 in the VMCS is the shadow root;
 *  - "enable VPID" unless vmx.vpid=off.
 * Handled exits: EXTERNAL_INTERRUPT (the host timer; the guest's own timer
 * interrupt is injected back), HLT (the guest waits for an interrupt, or has
 * finished: RFLAGS.IF clear), EPT_VIOLATION
 * (back the page), CPUID, I/O instructions (unconditional I/O exiting; no
 * device yet), and under shadow paging EXCEPTION_NMI (#PF), CR_ACCESS
 * (MOV to/from CR3) and INVLPG. Anything else is unexpected: the VMCS is printed
 * and the run stops with an error.
 */
#include "vmm/vmm.h"
#include "vmm/vio.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "arch/ept.h"
#include "arch/exit_reasons.h"
#include "arch/paging.h"
#include "arch/vmx_controls.h"
#include "cpu/vmx.h"

/* Default-1 settings with the TRUE_* capability MSRs (reference sheet §1.5). */
#define PIN_DEFAULT1 0x00000016u
#define PRIMARY_DEFAULT1_TRUE 0x04006172u
#define EXIT_DEFAULT1_TRUE 0x00036DFBu
#define ENTRY_DEFAULT1_TRUE 0x000011FBu

/* Selectors of Linux's x86-64 GDT (asm/segment.h): __KERNEL_CS, __KERNEL_DS,
 * and the TSS at GDT entry 8; the guest kernel and the host use the same. */
#define SEL_KERNEL_CS 0x10u
#define SEL_KERNEL_DS 0x18u
#define SEL_TSS 0x40u
/* Segment access rights (reference sheet §1.3): 64-bit code (type 11,
 * S, P, L, G), flat data (type 3, S, P, D/B, G), busy 64-bit TSS (type 11,
 * P), and the unusable bit for the null DS/ES/FS/GS and LDTR of a 64-bit
 * kernel. */
#define AR_CODE64 0xa09bu
#define AR_DATA 0xc093u
#define AR_TSS64_BUSY 0x008bu
#define AR_UNUSABLE 0x10000u
#define SEG_LIMIT_FLAT 0xffffffffu
#define TSS64_LIMIT 0x67u /* 104-byte 64-bit TSS */
/* RFLAGS of a guest running with interrupts enabled: bit 1 (fixed) and IF,
 * which an injected external interrupt requires (SDM "Checks on Guest RIP
 * and RFLAGS"); the model never changes it. */
#define GUEST_RFLAGS 0x202u
#define GUEST_ACTIVITY_ACTIVE 0u

/* Handler contract: read the exit through VMREAD only, do the work, and
 * return 0 to resume the guest, or -1 after cpu_fail() to stop the run. */
typedef int (*exit_handler_fn)(struct vmm *vmm);

int vmm_vmread(struct vmm *vmm, uint32_t enc, uint64_t *val)
{
	if (vmx_read(vmm->cpu, enc, val) != VMX_SUCCEED)
		return cpu_fail(vmm->cpu, "VMREAD of %s (0x%04x) failed", vmcs_field_name(enc), enc);
	return 0;
}

int vmm_vmwrite(struct vmm *vmm, uint32_t enc, uint64_t val)
{
	if (vmx_write(vmm->cpu, enc, val) != VMX_SUCCEED)
		return cpu_fail(vmm->cpu, "VMWRITE of %s (0x%04x) failed", vmcs_field_name(enc), enc);
	return 0;
}

static int vmread(struct vmm *vmm, uint32_t enc, uint64_t *val)
{
	return vmm_vmread(vmm, enc, val);
}

static int vmwrite(struct vmm *vmm, uint32_t enc, uint64_t val)
{
	return vmm_vmwrite(vmm, enc, val);
}

static int handle_external_interrupt(struct vmm *vmm)
{
	uint64_t info;
	if (vmread(vmm, VMCS_VM_EXIT_INTR_INFO, &info) < 0)
		return -1;
	if ((info & INTR_INFO_VALID) && (info & INTR_INFO_VECTOR_MASK) != VEC_LOCAL_TIMER && vmm->vio) {
		int h = vio_host_interrupt(vmm->vio, info & INTR_INFO_VECTOR_MASK);
		if (h != 0)
			return h < 0 ? -1 : 0;
	}
	if (!(info & INTR_INFO_VALID) || (info & INTR_INFO_VECTOR_MASK) != VEC_LOCAL_TIMER)
		return cpu_fail(vmm->cpu, "external interrupt exit with unexpected interruption info 0x%" PRIx64, info);
	/* The host's own tick runs, then the guest's virtual timer fires. */
	cpu_charge(vmm->cpu, CTR_CPU_CYCLES_VMM, vmm->p->host_tick_cycles);
	return vmwrite(vmm, VMCS_VM_ENTRY_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_EXT_INTR | VEC_LOCAL_TIMER);
}

/* Skip the instruction that exited (emulated by the VMM): guest RIP +=
 * len, as KVM's skip_emulated_instruction does. */
int vmm_skip_instruction(struct vmm *vmm, uint64_t len)
{
	uint64_t rip;
	if (vmread(vmm, VMCS_GUEST_RIP, &rip) < 0)
		return -1;
	return vmwrite(vmm, VMCS_GUEST_RIP, rip + len);
}

static int skip_instruction(struct vmm *vmm, uint64_t len)
{
	return vmm_skip_instruction(vmm, len);
}

static int skip_exiting_instruction(struct vmm *vmm)
{
	uint64_t len;
	if (vmread(vmm, VMCS_VM_EXIT_INSTRUCTION_LEN, &len) < 0)
		return -1;
	return skip_instruction(vmm, len);
}

static int handle_exception_nmi(struct vmm *vmm)
{
	uint64_t info, qual, code;
	if (vmread(vmm, VMCS_VM_EXIT_INTR_INFO, &info) < 0 || vmread(vmm, VMCS_EXIT_QUALIFICATION, &qual) < 0 ||
	    vmread(vmm, VMCS_VM_EXIT_INTR_ERROR_CODE, &code) < 0)
		return -1;
	if (!vmm->shadow || (info & INTR_TYPE_MASK) != INTR_TYPE_HARD_EXCEPTION ||
	    (info & INTR_INFO_VECTOR_MASK) != VEC_PF)
		return cpu_fail(vmm->cpu, "exception exit with interruption info 0x%" PRIx64 " not handled by this VMM",
				info);
	uint32_t guest_pfec;
	struct guest_insn insn;
	enum shadow_pf_result r = shadow_page_fault(&vmm->smmu, qual, (uint32_t)code, &guest_pfec);
	uint64_t root;
	int reload = r == SHADOW_PF_ERROR ? 0 : shadow_reload_root(&vmm->smmu, &root);
	if (reload < 0 || (reload > 0 && vmwrite(vmm, VMCS_GUEST_CR3, root) < 0))
		return -1;
	switch (r) {
	case SHADOW_PF_FIXED:
		return 0;
	case SHADOW_PF_MMIO:
		return vio_emulate_mmio(vmm->vio, vmm->smmu.mmio_gpa);
	case SHADOW_PF_EMULATED:
		if (cpu_decode_at_rip(vmm->cpu, &insn) < 0)
			return cpu_fail(vmm->cpu, "cannot decode the emulated instruction");
		return skip_instruction(vmm, insn.len);
	case SHADOW_PF_INJECT:
		/* Reflect the fault: CR2, then #PF with the guest's error code. */
		vmx_root_mov_to_cr2(vmm->cpu, qual);
		if (vmwrite(vmm, VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE, guest_pfec) < 0)
			return -1;
		return vmwrite(vmm, VMCS_VM_ENTRY_INTR_INFO,
			       INTR_INFO_VALID | INTR_TYPE_HARD_EXCEPTION | INTR_INFO_DELIVER_CODE | VEC_PF);
	case SHADOW_PF_ERROR:
		break;
	}
	return -1;
}

static int handle_cr_access(struct vmm *vmm)
{
	uint64_t qual;
	if (vmread(vmm, VMCS_EXIT_QUALIFICATION, &qual) < 0)
		return -1;
	/* Reference sheet §3.1: [3:0] CR, [5:4] access type, [11:8] GPR. */
	unsigned cr = qual & 0xf, type = (qual >> 4) & 3, reg = (qual >> 8) & 0xf;
	if (vmm->shadow && cr == 3 && type == 1) {
		/* MOV from CR3: the guest sees its own CR3, not the shadow root. */
		vmm->cpu->gpr[reg] = vmm->smmu.guest_cr3;
		return skip_exiting_instruction(vmm);
	}
	if (!vmm->shadow || cr != 3 || type != 0)
		return cpu_fail(vmm->cpu, "CR access exit (CR%u, type %u) not handled by this VMM", cr, type);
	uint64_t root;
	if (shadow_load_cr3(&vmm->smmu, vmm->cpu->gpr[reg], &root) < 0 || vmwrite(vmm, VMCS_GUEST_CR3, root) < 0)
		return -1;
	return skip_exiting_instruction(vmm);
}

static int handle_invlpg(struct vmm *vmm)
{
	uint64_t la;
	if (vmread(vmm, VMCS_EXIT_QUALIFICATION, &la) < 0)
		return -1;
	if (!vmm->shadow)
		return cpu_fail(vmm->cpu, "INVLPG exit under EPT: this VMM does not intercept INVLPG");
	if (shadow_invlpg(&vmm->smmu, la) < 0)
		return -1;
	return skip_exiting_instruction(vmm);
}

/*
 * CPUID exits always (SDM "Instructions That Cause VM Exits
 * Unconditionally"). The VMM answers as KVM does from the host's values,
 * here the modelled i7-6700K's: leaf 0 gives the highest basic leaf (0x16)
 * and "GenuineIntel", leaf 1 the family/model/stepping 0x506E3 ([IL]
 * 00506E3) with the hypervisor-present bit (ECX[31]); other leaves read 0
 * (not modelled yet).
 */
static int handle_cpuid(struct vmm *vmm)
{
	uint64_t *r = vmm->cpu->gpr; /* RAX, RCX, RDX, RBX = r[0], r[1], r[2], r[3] */
	uint32_t leaf = (uint32_t)r[0];
	r[0] = r[1] = r[2] = r[3] = 0;
	if (leaf == 0) {
		r[0] = 0x16;
		r[3] = 0x756e6547; /* "Genu" */
		r[2] = 0x49656e69; /* "ineI" */
		r[1] = 0x6c65746e; /* "ntel" */
	} else if (leaf == 1) {
		r[0] = 0x506e3;
		r[1] = UINT64_C(1) << 31; /* hypervisor present */
	}
	ctr_inc(vmm->ctr, CTR_VMM_CPUID);
	return skip_exiting_instruction(vmm);
}

/*
 * I/O instruction (qualification, reference sheet §3.4: [2:0] size - 1,
 * [3] IN, [4] string, [6] immediate port, [31:16] port). No device is
 * modelled yet, so every port is unassigned as on a PC with nothing there:
 * OUT is discarded, IN reads all ones (QEMU's unassigned-I/O behaviour).
 */
static int handle_io_instruction(struct vmm *vmm)
{
	uint64_t qual;
	if (vmread(vmm, VMCS_EXIT_QUALIFICATION, &qual) < 0)
		return -1;
	unsigned size = (unsigned)(qual & 7) + 1;
	if (qual & (1u << 4))
		return cpu_fail(vmm->cpu, "string I/O (INS/OUTS) exit: not emulated by this VMM yet");
	if (qual & (1u << 3))
		vmm->cpu->gpr[0] = size == 4 ? 0xffffffffu : (UINT64_C(1) << (8 * size)) - 1;
	ctr_inc(vmm->ctr, CTR_VMM_IO);
	return skip_exiting_instruction(vmm);
}

/*
 * HLT (exit reason 12). With RFLAGS.IF clear no interrupt can wake the
 * guest: its kernel has shut down (CLI; HLT after its last process), and
 * the VM stops. Otherwise the guest waits for an interrupt, as KVM's
 * kvm_emulate_halt: skip the HLT and block the vCPU until the host's next
 * interrupt (the core idles in root mode); the timer tick then exits and
 * is injected into the guest as usual.
 */
static int handle_hlt(struct vmm *vmm)
{
	uint64_t rflags;
	if (vmread(vmm, VMCS_GUEST_RFLAGS, &rflags) < 0)
		return -1;
	if (!(rflags & RFLAGS_IF)) {
		vmm->guest_halted = true;
		return 0;
	}
	ctr_inc(vmm->ctr, CTR_VMM_HLT);
	if (skip_exiting_instruction(vmm) < 0)
		return -1;
	if (vmm->vio && vio_pending(vmm->vio))
		return 0; /* an interrupt waits for injection: the vCPU does not block */
	if (cpu_idle_until_interrupt(vmm->cpu) < 0)
		return -1;
	if (!vmm->vio)
		return 0;
	/* The vCPU blocks in root mode: device events that come due wake it,
	 * and the host handles their interrupts here (KVM's kvm_vcpu_block). */
	if (cpu_run_due_hw_events(vmm->cpu) < 0)
		return -1;
	int v;
	while ((v = cpu_take_interrupt(vmm->cpu)) >= 0) {
		int h = vio_host_interrupt(vmm->vio, (unsigned)v);
		if (h < 0)
			return -1;
		if (h == 0)
			return cpu_fail(vmm->cpu, "host interrupt vector 0x%x has no handler in this VMM", v);
	}
	return 0;
}

static int handle_ept_violation(struct vmm *vmm)
{
	uint64_t qual, gpa;
	if (vmread(vmm, VMCS_EXIT_QUALIFICATION, &qual) < 0 || vmread(vmm, VMCS_GUEST_PHYSICAL_ADDRESS, &gpa) < 0)
		return -1;
	ctr_inc(vmm->ctr, CTR_VMM_EPT_VIOLATIONS);
	if (vmm->shadow)
		return cpu_fail(vmm->cpu, "EPT violation while running with shadow paging");
	if ((qual & (EPT_QUAL_GPA_R | EPT_QUAL_GPA_W | EPT_QUAL_GPA_X)) && !(vmm->vio && vio_owns_gpa(vmm->vio, gpa)))
		return cpu_fail(vmm->cpu, "EPT violation on a present mapping: GPA 0x%" PRIx64 " qualification 0x%" PRIx64
				" (this VMM maps all guest memory R/W/X)", gpa, qual);
	if (vmm->vio && vio_owns_gpa(vmm->vio, gpa))
		return vio_ept_violation(vmm->vio, gpa);
	if (gpa >= vmm->guest_mem_bytes)
		return cpu_fail(vmm->cpu, "guest accessed GPA 0x%" PRIx64 " beyond its %" PRIu64
				" MiB of memory, where no device is", gpa, vmm->p->guest_mem_mib);
	return ept_mgr_map(vmm, gpa & PAGE_MASK);
}

/* Interrupt-window exiting (set by vio_before_entry while device
 * interrupts wait): the next one is injected at this entry. */
static int handle_interrupt_window(struct vmm *vmm)
{
	if (!vmm->vio)
		return cpu_fail(vmm->cpu, "interrupt-window exit, but this VMM asked for none");
	return 0;
}

/* Exit dispatch, indexed by basic exit reason (reference sheet §2.2). */
static const exit_handler_fn exit_handlers[EXIT_REASON_MAX] = {
	[EXIT_REASON_EXCEPTION_NMI] = handle_exception_nmi,
	[EXIT_REASON_EXTERNAL_INTERRUPT] = handle_external_interrupt,
	[EXIT_REASON_HLT] = handle_hlt,
	[EXIT_REASON_INTERRUPT_WINDOW] = handle_interrupt_window,
	[EXIT_REASON_INVLPG] = handle_invlpg,
	[EXIT_REASON_CR_ACCESS] = handle_cr_access,
	[EXIT_REASON_CPUID] = handle_cpuid,
	[EXIT_REASON_IO_INSTRUCTION] = handle_io_instruction,
	[EXIT_REASON_EPT_VIOLATION] = handle_ept_violation,
};

int vmm_host_block(struct vmm *vmm, unsigned order, uint64_t *hpa)
{
	*hpa = frame_alloc_get_order(&vmm->host_frames, order);
	if (!*hpa)
		return cpu_fail(vmm->cpu, "host out of memory: no free %s block left in %" PRIu64 " MiB (raise host.mem_mib)",
				order == FRAME_ORDER_1G ? "1 GiB" : order == FRAME_ORDER_2M ? "2 MiB" : "4 KiB",
				vmm->p->host_mem_mib);
	cpu_charge(vmm->cpu, CTR_CPU_CYCLES_VMM, vmm->p->vmm_frame_alloc_cycles);
	for (uint64_t i = 0; i < UINT64_C(1) << order; i++)
		vmx_root_zero_page(vmm->cpu, *hpa + i * PAGE_SIZE);
	ctr_add(vmm->ctr, CTR_VMM_HOST_PAGES_ZEROED, UINT64_C(1) << order);
	return 0;
}

int vmm_host_frame(struct vmm *vmm, uint64_t *hpa)
{
	return vmm_host_block(vmm, FRAME_ORDER_4K, hpa);
}

int vmm_host_frame_put(struct vmm *vmm, uint64_t hpa)
{
	if (frame_alloc_put(&vmm->host_frames, hpa) < 0)
		return cpu_fail(vmm->cpu, "out of memory");
	return 0;
}

int vmm_init(struct vmm *vmm, struct cpu *cpu, const struct sim_params *p, struct counters *ctr, bool shadow,
	     uint64_t guest_cr0, uint64_t guest_cr3, uint64_t guest_cr4, uint64_t guest_efer)
{
	memset(vmm, 0, sizeof(*vmm));
	vmm->cpu = cpu;
	vmm->p = p;
	vmm->ctr = ctr;
	vmm->shadow = shadow;
	vmm->guest_mem_bytes = p->guest_mem_mib << 20;
	/* Host memory from 1 MiB; on the bounce path the guest's memory and the
	 * VMM's tables go above 4 GiB, below which the host keeps its swiotlb
	 * pool (a host whose low memory is spoken for: where bouncing happens). */
	uint64_t host_base = p->io_path == IO_BOUNCE ? UINT64_C(1) << 32 : UINT64_C(1) << 20;
	if ((p->host_mem_mib << 20) <= host_base)
		return cpu_fail(cpu, "host.mem_mib=%" PRIu64 " leaves no host memory above 4 GiB for io.path=bounce",
				p->host_mem_mib);
	frame_alloc_init(&vmm->host_frames, host_base, (p->host_mem_mib << 20) - host_base);
	vmcs_init(&vmm->vmcs, VTSIM_VMCS_REVISION);

	if (vmx_on(cpu) != VMX_SUCCEED || vmx_ptrld(cpu, &vmm->vmcs) != VMX_SUCCEED)
		return cpu_fail(cpu, "VMXON/VMPTRLD failed");
	uint64_t host_cr3 = frame_alloc_get(&vmm->host_frames);
	if (!host_cr3)
		return cpu_fail(cpu, "host out of memory setting up the VMM");
	uint64_t primary =
		PRIMARY_DEFAULT1_TRUE | CPU_HLT_EXITING | CPU_UNCOND_IO_EXITING | CPU_ACTIVATE_SECONDARY_CONTROLS;
	uint32_t secondary = p->vmx_vpid ? SECONDARY_ENABLE_VPID : 0;
	uint64_t vmcs_cr3 = guest_cr3;
	if (shadow) {
		primary |= CPU_CR3_LOAD_EXITING | CPU_CR3_STORE_EXITING | CPU_INVLPG_EXITING;
		if (shadow_init(&vmm->smmu, vmm) < 0)
			return -1;
		vmm->smmu.levels = (guest_cr4 & CR4_LA57) ? 5 : 4;
		vmm->smmu.guest_cr3 = guest_cr3;
		if (shadow_root_for(&vmm->smmu, guest_cr3, &vmcs_cr3) < 0)
			return -1;
		vmm->smmu.cur_root = vmcs_cr3;
	} else {
		/* KVM reads IA32_VMX_EPT_VPID_CAP and maps no EPT page larger
		 * than the part allows (reference sheet §5.4). */
		uint64_t cap;
		if (vmx_root_rdmsr(cpu, MSR_IA32_VMX_EPT_VPID_CAP, &cap) < 0)
			return cpu_fail(cpu, "RDMSR IA32_VMX_EPT_VPID_CAP failed: this part has no EPT");
		if (p->vmm_backing == PAGE_SIZE_1G && !(cap & EPT_CAP_1G))
			return cpu_fail(cpu, "vmm.backing=1g: this CPU has no 1 GiB EPT pages (IA32_VMX_EPT_VPID_CAP 0x%016" PRIx64
					     " bit 17 clear: ept.1g=off, as on nehalem); use vmm.backing=2m or 4k", cap);
		if (p->vmm_backing == PAGE_SIZE_2M && !(cap & EPT_CAP_2M))
			return cpu_fail(cpu, "vmm.backing=2m: this CPU has no 2 MiB EPT pages (IA32_VMX_EPT_VPID_CAP 0x%016" PRIx64
					     " bit 16 clear); use vmm.backing=4k", cap);
		secondary |= SECONDARY_ENABLE_EPT;
		/* 5-level EPT only if IA32_VMX_EPT_VPID_CAP says the core walks it. */
		vmm->ept_levels = (int)p->ept_levels;
		if (vmm->ept_levels == 5 && !(cap & EPT_CAP_PWL5))
			return cpu_fail(cpu, "VMM: ept.levels=5 but IA32_VMX_EPT_VPID_CAP has no 5-level EPT (bit 7)");
		if (vmm_host_frame(vmm, &vmm->ept_root) < 0)
			return -1;
		ctr_inc(ctr, CTR_VMM_EPT_TABLE_PAGES);
		vmm->eptp = ept_mgr_eptp(vmm->ept_root, vmm->ept_levels, p->ept_ad);
	}

	const struct {
		uint32_t enc;
		uint64_t val;
	} setup[] = {
		{VMCS_PIN_BASED_VM_EXEC_CONTROL, PIN_DEFAULT1 | PIN_EXT_INTR_EXITING},
		{VMCS_CPU_BASED_VM_EXEC_CONTROL, primary},
		{VMCS_SECONDARY_VM_EXEC_CONTROL, secondary},
		{VMCS_VM_EXIT_CONTROLS, EXIT_DEFAULT1_TRUE | EXIT_HOST_ADDR_SPACE_SIZE | EXIT_ACK_INTR_ON_EXIT},
		{VMCS_VM_ENTRY_CONTROLS, ENTRY_DEFAULT1_TRUE | ENTRY_IA32E_MODE_GUEST},
		{VMCS_EXCEPTION_BITMAP, shadow ? 1u << VEC_PF : 0},
		{VMCS_PAGE_FAULT_ERROR_CODE_MASK, 0},
		{VMCS_PAGE_FAULT_ERROR_CODE_MATCH, 0},
		{VMCS_VPID, p->vmx_vpid ? VMM_GUEST_VPID : 0},
		{VMCS_EPT_POINTER, vmm->eptp},
		{VMCS_LINK_POINTER, UINT64_MAX},
		{VMCS_GUEST_CR0, guest_cr0},
		{VMCS_GUEST_CR3, vmcs_cr3},
		/* CR4.VMXE is fixed to 1 in VMX operation (IA32_VMX_CR4_FIXED0);
		 * the guest/host mask and read shadow hide it, as KVM does. */
		{VMCS_GUEST_CR4, guest_cr4 | CR4_VMXE},
		{VMCS_CR4_GUEST_HOST_MASK, CR4_VMXE},
		{VMCS_GUEST_IA32_EFER, guest_efer},
		{VMCS_CR0_READ_SHADOW, guest_cr0},
		{VMCS_CR4_READ_SHADOW, guest_cr4},
		/* A 64-bit guest kernel's segment state (SDM "Checks on Guest
		 * Segment Registers"); bases and GDTR/IDTR stay 0. */
		{VMCS_GUEST_CS_SELECTOR, SEL_KERNEL_CS},
		{VMCS_GUEST_CS_LIMIT, SEG_LIMIT_FLAT},
		{VMCS_GUEST_CS_AR, AR_CODE64},
		{VMCS_GUEST_SS_SELECTOR, SEL_KERNEL_DS},
		{VMCS_GUEST_SS_LIMIT, SEG_LIMIT_FLAT},
		{VMCS_GUEST_SS_AR, AR_DATA},
		{VMCS_GUEST_DS_AR, AR_UNUSABLE},
		{VMCS_GUEST_ES_AR, AR_UNUSABLE},
		{VMCS_GUEST_FS_AR, AR_UNUSABLE},
		{VMCS_GUEST_GS_AR, AR_UNUSABLE},
		{VMCS_GUEST_LDTR_AR, AR_UNUSABLE},
		{VMCS_GUEST_TR_SELECTOR, SEL_TSS},
		{VMCS_GUEST_TR_LIMIT, TSS64_LIMIT},
		{VMCS_GUEST_TR_AR, AR_TSS64_BUSY},
		{VMCS_GUEST_RFLAGS, GUEST_RFLAGS},
		{VMCS_GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_ACTIVE},
		{VMCS_GUEST_INTERRUPTIBILITY, 0},
		{VMCS_HOST_CR0, CR0_PE | CR0_NE | CR0_WP | CR0_PG},
		{VMCS_HOST_CR3, host_cr3},
		{VMCS_HOST_CR4, CR4_PAE | CR4_PGE | CR4_VMXE},
		{VMCS_HOST_IA32_EFER, EFER_LME | EFER_LMA | EFER_NXE},
		/* Host selectors (SDM "Checks on Host Segment and Descriptor-
		 * Table Registers"): CS and TR non-null; DS/ES/FS/GS, bases and
		 * RIP stay 0, which is valid for a 64-bit host. */
		{VMCS_HOST_CS_SELECTOR, SEL_KERNEL_CS},
		{VMCS_HOST_SS_SELECTOR, SEL_KERNEL_DS},
		{VMCS_HOST_TR_SELECTOR, SEL_TSS},
	};
	for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]); i++)
		if (vmwrite(vmm, setup[i].enc, setup[i].val) < 0)
			return -1;
	return 0;
}

void vmm_destroy(struct vmm *vmm)
{
	if (vmm->shadow)
		shadow_destroy(&vmm->smmu);
	frame_alloc_destroy(&vmm->host_frames);
}

/* Report a failed VM entry by its VM-instruction error. */
static enum run_status entry_failed(struct vmm *vmm, enum vmx_status st)
{
	uint64_t err = 0;
	if (st == VMX_SIM_STOP)
		return vmm->cpu->interrupt_flag && *vmm->cpu->interrupt_flag && !vmm->cpu->err[0] ? RUN_INTERRUPTED
													 : RUN_ERROR;
	if (st == VMX_FAIL_VALID)
		vmx_read(vmm->cpu, VMCS_VM_INSTRUCTION_ERROR, &err);
	cpu_fail(vmm->cpu, "VM entry failed: %s, VM-instruction error %" PRIu64,
		 st == VMX_FAIL_VALID ? "VMfailValid" : "VMfailInvalid", err);
	return RUN_ERROR;
}

enum run_status vmm_run(struct vmm *vmm)
{
	/* Before the first entry, drop whatever the processor may cache for
	 * this EPTP and VPID (KVM flushes on vCPU load / new root). */
	bool flushed = vmm->shadow || vmx_invept(vmm->cpu, 1, vmm->eptp) == VMX_SUCCEED;
	if (flushed && vmm->p->vmx_vpid) {
		flushed = vmx_invvpid(vmm->cpu, 1, VMM_GUEST_VPID, 0) == VMX_SUCCEED;
		ctr_inc(vmm->ctr, CTR_VMM_INVVPID);
	}
	if (!flushed) {
		cpu_fail(vmm->cpu, "INVEPT/INVVPID before the first VM entry failed");
		return RUN_ERROR;
	}
	enum vmx_status st = vmx_launch(vmm->cpu);
	for (;;) {
		if (st != VMX_SUCCEED)
			return entry_failed(vmm, st);
		uint64_t reason;
		if (vmread(vmm, VMCS_EXIT_REASON, &reason) < 0)
			return RUN_ERROR;
		cpu_charge(vmm->cpu, CTR_CPU_CYCLES_VMM, vmm->p->vmm_handler_cycles);
		unsigned basic = (unsigned)(reason & EXIT_REASON_BASIC_MASK);
		exit_handler_fn h = basic < EXIT_REASON_MAX ? exit_handlers[basic] : NULL;
		if (!h || (reason & EXIT_REASON_ENTRY_FAILURE)) {
			const char *name = exit_reason_name(basic);
			fprintf(stderr, "vtsim: unexpected VM exit, reason %u (%s)%s\n", basic, name ? name : "reserved",
				(reason & EXIT_REASON_ENTRY_FAILURE) ? ", VM-entry failure" : "");
			vmcs_dump(&vmm->vmcs, stderr);
			cpu_fail(vmm->cpu, "unexpected VM exit reason %u (%s)", basic, name ? name : "reserved");
			return RUN_ERROR;
		}
		if (h(vmm) < 0)
			return RUN_ERROR;
		if (vmm->guest_halted) {
			vmx_off(vmm->cpu);
			return RUN_DONE;
		}
		if (vmm->vio && vio_before_entry(vmm->vio) < 0)
			return RUN_ERROR;
		st = vmx_resume(vmm->cpu);
	}
}
