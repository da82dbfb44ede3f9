/*
 * Notes: VMM set-up and the exit loop. The VMCS is configured as KVM
 * configures it on a Skylake host with EPT: external-interrupt exiting,
 * HLT exiting, no CR3-load/store exiting, no INVLPG exiting, no #PF in the
 * exception bitmap, "enable EPT", and "enable VPID" unless vmx.vpid=off.
 * Handled exits now: EXTERNAL_INTERRUPT (the host timer; the guest's own
 * timer interrupt is injected back), HLT (the guest finished), and
 * EPT_VIOLATION (back the page). Anything else is unexpected: the VMCS is
 * printed and the run stops with an error.
 */
#include "vmm/vmm.h"

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
#define GUEST_VPID 1

/* Handler contract: read the exit through VMREAD only, do the work, and
 * return 0 to resume the guest, or -1 after cpu_fail() to stop the run. */
typedef int (*exit_handler_fn)(struct vmm *vmm);

static int vmread(struct vmm *vmm, uint32_t enc, uint64_t *val)
{
	if (vmx_read(vmm->cpu, enc, val) != VMX_SUCCEED)
		return cpu_fail(vmm->cpu, "VMREAD of %s (0x%04x) failed", vmcs_field_name(enc), enc);
	return 0;
}

static int vmwrite(struct vmm *vmm, uint32_t enc, uint64_t val)
{
	if (vmx_write(vmm->cpu, enc, val) != VMX_SUCCEED)
		return cpu_fail(vmm->cpu, "VMWRITE of %s (0x%04x) failed", vmcs_field_name(enc), enc);
	return 0;
}

static int handle_external_interrupt(struct vmm *vmm)
{
	uint64_t info;
	if (vmread(vmm, VMCS_VM_EXIT_INTR_INFO, &info) < 0)
		return -1;
	if (!(info & INTR_INFO_VALID) || (info & INTR_INFO_VECTOR_MASK) != VEC_LOCAL_TIMER)
		return cpu_fail(vmm->cpu, "external interrupt exit with unexpected interruption info 0x%" PRIx64, info);
	/* The host's own tick runs, then the guest's virtual timer fires. */
	cpu_charge(vmm->cpu, CTR_CPU_CYCLES_VMM, vmm->p->host_tick_cycles);
	return vmwrite(vmm, VMCS_VM_ENTRY_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_EXT_INTR | VEC_LOCAL_TIMER);
}

static int handle_hlt(struct vmm *vmm)
{
	/* The trace-driven guest halts only when its workload has ended. */
	vmm->guest_halted = true;
	return 0;
}

static int handle_ept_violation(struct vmm *vmm)
{
	uint64_t qual, gpa;
	if (vmread(vmm, VMCS_EXIT_QUALIFICATION, &qual) < 0 || vmread(vmm, VMCS_GUEST_PHYSICAL_ADDRESS, &gpa) < 0)
		return -1;
	ctr_inc(vmm->ctr, CTR_VMM_EPT_VIOLATIONS);
	if (qual & (EPT_QUAL_GPA_R | EPT_QUAL_GPA_W | EPT_QUAL_GPA_X))
		return cpu_fail(vmm->cpu, "EPT violation on a present mapping: GPA 0x%" PRIx64 " qualification 0x%" PRIx64
				" (this VMM maps all guest memory R/W/X)", gpa, qual);
	if (gpa >= vmm->guest_mem_bytes)
		return cpu_fail(vmm->cpu, "guest accessed GPA 0x%" PRIx64 " beyond its %" PRIu64
				" MiB of memory (no MMIO region is modelled yet)", gpa, vmm->p->guest_mem_mib);
	return ept_mgr_map(vmm, gpa & PAGE_MASK);
}

/* Exit dispatch, indexed by basic exit reason (reference sheet §2.2). */
static const exit_handler_fn exit_handlers[EXIT_REASON_MAX] = {
	[EXIT_REASON_EXTERNAL_INTERRUPT] = handle_external_interrupt,
	[EXIT_REASON_HLT] = handle_hlt,
	[EXIT_REASON_EPT_VIOLATION] = handle_ept_violation,
};

int vmm_init(struct vmm *vmm, struct cpu *cpu, const struct sim_params *p, struct counters *ctr,
	     uint64_t guest_cr0, uint64_t guest_cr3, uint64_t guest_cr4, uint64_t guest_efer)
{
	memset(vmm, 0, sizeof(*vmm));
	vmm->cpu = cpu;
	vmm->p = p;
	vmm->ctr = ctr;
	vmm->guest_mem_bytes = p->guest_mem_mib << 20;
	frame_alloc_init(&vmm->host_frames, UINT64_C(1) << 20, (p->host_mem_mib << 20) - (UINT64_C(1) << 20));
	vmcs_init(&vmm->vmcs, VTSIM_VMCS_REVISION);

	if (vmx_on(cpu) != VMX_SUCCEED || vmx_ptrld(cpu, &vmm->vmcs) != VMX_SUCCEED)
		return cpu_fail(cpu, "VMXON/VMPTRLD failed");
	uint64_t host_cr3 = frame_alloc_get(&vmm->host_frames);
	vmm->ept_root = frame_alloc_get(&vmm->host_frames);
	if (!host_cr3 || !vmm->ept_root)
		return cpu_fail(cpu, "host out of memory setting up the VMM");
	vmx_root_zero_page(cpu, vmm->ept_root);
	ctr_inc(ctr, CTR_VMM_EPT_TABLE_PAGES);
	vmm->eptp = ept_mgr_eptp(vmm->ept_root, p->ept_ad);

	uint32_t secondary = SECONDARY_ENABLE_EPT | (p->vmx_vpid ? SECONDARY_ENABLE_VPID : 0);
	const struct {
		uint32_t enc;
		uint64_t val;
	} setup[] = {
		{VMCS_PIN_BASED_VM_EXEC_CONTROL, PIN_DEFAULT1 | PIN_EXT_INTR_EXITING},
		{VMCS_CPU_BASED_VM_EXEC_CONTROL,
		 PRIMARY_DEFAULT1_TRUE | CPU_HLT_EXITING | CPU_ACTIVATE_SECONDARY_CONTROLS},
		{VMCS_SECONDARY_VM_EXEC_CONTROL, secondary},
		{VMCS_VM_EXIT_CONTROLS, EXIT_DEFAULT1_TRUE | EXIT_HOST_ADDR_SPACE_SIZE | EXIT_ACK_INTR_ON_EXIT},
		{VMCS_VM_ENTRY_CONTROLS, ENTRY_DEFAULT1_TRUE | ENTRY_IA32E_MODE_GUEST},
		{VMCS_EXCEPTION_BITMAP, 0},
		{VMCS_VPID, p->vmx_vpid ? GUEST_VPID : 0},
		{VMCS_EPT_POINTER, vmm->eptp},
		{VMCS_LINK_POINTER, UINT64_MAX},
		{VMCS_GUEST_CR0, guest_cr0},
		{VMCS_GUEST_CR3, guest_cr3},
		{VMCS_GUEST_CR4, guest_cr4},
		{VMCS_GUEST_IA32_EFER, guest_efer},
		{VMCS_CR0_READ_SHADOW, guest_cr0},
		{VMCS_CR4_READ_SHADOW, guest_cr4},
		{VMCS_HOST_CR0, CR0_PE | CR0_NE | CR0_WP | CR0_PG},
		{VMCS_HOST_CR3, host_cr3},
		{VMCS_HOST_CR4, CR4_PAE | CR4_PGE | CR4_VMXE},
		{VMCS_HOST_IA32_EFER, EFER_LME | EFER_LMA | EFER_NXE},
	};
	for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]); i++)
		if (vmwrite(vmm, setup[i].enc, setup[i].val) < 0)
			return -1;
	return 0;
}

void vmm_destroy(struct vmm *vmm)
{
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
		st = vmx_resume(vmm->cpu);
	}
}
