/*
 * Notes: VMX operation. VM entry runs the checks of src/cpu/vmx_checks.c
 * against the model's capability MSRs (src/cpu/vmx_caps.c) before it loads
 * anything: bad controls or host state are VMfailValid (error 7 / 8), bad
 * guest state a VM-entry failure exit (reason 33 | bit 31) that loads host
 * state and leaves the guest-state area, the injected event and the launch
 * state untouched. Event injection delivers external interrupts through
 * the guest IDT. VMREAD/VMWRITE/INVEPT/INVVPID themselves cost no cycles in
 * this first cut; the VMM's memory accesses cost what the cache hierarchy
 * says (cpu_pt_access).
 */
#include "cpu/vmx.h"

#include <string.h>

#include "arch/ept.h"
#include "arch/paging.h"
#include "arch/vmx_controls.h"
#include "cpu/cpu_internal.h"
#include "cpu/vmx_caps.h"
#include "cpu/vmx_checks.h"

static enum vmx_status fail_valid(struct cpu *c, enum vm_instruction_error e)
{
	vmcs_put(c->vmcs, VMCS_VM_INSTRUCTION_ERROR, e);
	return VMX_FAIL_VALID;
}

enum vmx_status vmx_on(struct cpu *c)
{
	if (c->vmxon) /* VMXON in VMX root operation */
		return c->vmcs ? fail_valid(c, 15) : VMX_FAIL_INVALID;
	c->vmxon = true;
	return VMX_SUCCEED;
}

enum vmx_status vmx_ptrld(struct cpu *c, struct vmcs *vmcs)
{
	if (!c->vmxon)
		return VMX_FAIL_INVALID;
	if (vmcs->revision != VTSIM_VMCS_REVISION) {
		if (!c->vmcs)
			return VMX_FAIL_INVALID;
		return fail_valid(c, 11); /* VMPTRLD with incorrect VMCS revision id */
	}
	c->vmcs = vmcs;
	return VMX_SUCCEED;
}

enum vmx_status vmx_read(struct cpu *c, uint32_t enc, uint64_t *val)
{
	if (!c->vmcs)
		return VMX_FAIL_INVALID;
	if (!vmcs_field_supported(c->vmcs, enc))
		return fail_valid(c, VMXERR_UNSUPPORTED_VMCS_COMPONENT);
	*val = vmcs_get(c->vmcs, enc);
	return VMX_SUCCEED;
}

enum vmx_status vmx_write(struct cpu *c, uint32_t enc, uint64_t val)
{
	if (!c->vmcs)
		return VMX_FAIL_INVALID;
	if (!vmcs_field_supported(c->vmcs, enc))
		return fail_valid(c, VMXERR_UNSUPPORTED_VMCS_COMPONENT);
	if (VMCS_ENC_TYPE(enc) == VMCS_TYPE_EXIT_INFO)
		return fail_valid(c, VMXERR_VMWRITE_READ_ONLY_VMCS_COMPONENT);
	vmcs_put(c->vmcs, enc, val);
	return VMX_SUCCEED;
}

static enum vmx_status vm_entry(struct cpu *c, bool launch)
{
	struct vmcs *v = c->vmcs;
	if (!v)
		return VMX_FAIL_INVALID;
	if (launch && v->launched)
		return fail_valid(c, VMXERR_VMLAUNCH_NONCLEAR_VMCS);
	if (!launch && !v->launched)
		return fail_valid(c, VMXERR_VMRESUME_NONLAUNCHED_VMCS);
	/* SDM "VM Entries": controls and host state (VMfailValid), then guest
	 * state (a VM-entry failure exit), all before anything is loaded. */
	struct vmx_entry_check chk = vmx_entry_checks(v, &c->caps);
	if (chk.outcome == VMX_ENTRY_FAIL_VALID)
		return fail_valid(c, chk.error);
	if (chk.outcome == VMX_ENTRY_FAIL_GUEST) {
		/* Exit reason and qualification recorded, host state loaded as
		 * on a VM exit; still in root operation, launch state unchanged. */
		vmx_record_entry_failure(v, &chk);
		c->cr3 = vmcs_get(v, VMCS_HOST_CR3);
		return VMX_SUCCEED;
	}

	uint64_t primary = vmcs_get(v, VMCS_CPU_BASED_VM_EXEC_CONTROL);
	uint64_t secondary =
		(primary & CPU_ACTIVATE_SECONDARY_CONTROLS) ? vmcs_get(v, VMCS_SECONDARY_VM_EXEC_CONTROL) : 0;
	bool vpid_on = secondary & SECONDARY_ENABLE_VPID;

	/* The exit this entry ends also owns the root-mode time since it. */
	if (v->launched)
		c->exits[c->last_exit_reason].cycles += c->cycles - c->exit_cycle;

	/* Load guest state. */
	if (v->launched && cpu_resume_at(c, vmcs_get(v, VMCS_GUEST_RIP)) < 0)
		return VMX_SIM_STOP;
	c->rip = vmcs_get(v, VMCS_GUEST_RIP);
	c->cr0 = vmcs_get(v, VMCS_GUEST_CR0);
	c->cr3 = vmcs_get(v, VMCS_GUEST_CR3);
	c->cr4 = vmcs_get(v, VMCS_GUEST_CR4);
	c->efer = vmcs_get(v, VMCS_GUEST_IA32_EFER);
	c->vpid = vpid_on ? (uint16_t)vmcs_get(v, VMCS_VPID) : 0;
	c->ept_on = secondary & SECONDARY_ENABLE_EPT;
	c->intr_window = vmcs_get(v, VMCS_CPU_BASED_VM_EXEC_CONTROL) & CPU_INTR_WINDOW_EXITING;
	c->eptp = vmcs_get(v, VMCS_EPT_POINTER);
	if (!vpid_on)
		cpu_flush_vpid0(c);
	v->launched = true;
	c->nonroot = true;
	ctr_inc(c->ctr, CTR_VMX_ENTRIES);

	/* Event injection (reference sheet §1.4): the valid bit is consumed. */
	uint32_t info = (uint32_t)vmcs_get(v, VMCS_VM_ENTRY_INTR_INFO);
	if (info & INTR_INFO_VALID) {
		vmcs_put(v, VMCS_VM_ENTRY_INTR_INFO, info & ~INTR_INFO_VALID);
		ctr_inc(c->ctr, CTR_VMX_INJECTED_EVENTS);
		unsigned vector = info & INTR_INFO_VECTOR_MASK;
		int rc;
		if ((info & INTR_TYPE_MASK) == INTR_TYPE_EXT_INTR) {
			cpu_enter_kernel(c, vector == VEC_LOCAL_TIMER ? KW_TICK : KW_IO);
			rc = c->os_ops->interrupt(c->os, c, vector);
		} else if ((info & INTR_TYPE_MASK) == INTR_TYPE_HARD_EXCEPTION && vector == VEC_PF) {
			/* #PF: the guest's handler reads CR2 (loaded by the VMM) and the
			 * error code from the VM-entry exception error code. */
			cpu_enter_kernel(c, KW_PF);
			rc = c->os_ops->page_fault(c->os, c, c->cr2,
						   (uint32_t)vmcs_get(v, VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE));
		} else {
			rc = cpu_fail(c, "VM entry: injection of type %u vector %u is not modelled (external interrupts "
					 "and #PF are)", (info & INTR_TYPE_MASK) >> INTR_INFO_TYPE_SHIFT, vector);
		}
		if (rc < 0)
			return VMX_SIM_STOP;
	}

	switch (cpu_run_guest(c)) {
	case RUN_EXITED:
		return VMX_SUCCEED;
	case RUN_DONE:
		cpu_fail(c, "the guest stopped in non-root operation without a VM exit");
		return VMX_SIM_STOP;
	case RUN_ERROR:
	case RUN_INTERRUPTED:
		break;
	}
	return VMX_SIM_STOP;
}

enum vmx_status vmx_launch(struct cpu *c)
{
	return vm_entry(c, true);
}

enum vmx_status vmx_resume(struct cpu *c)
{
	return vm_entry(c, false);
}

void cpu_vmexit(struct cpu *c, unsigned reason, uint64_t qual, uint64_t gpa, uint64_t gla, uint32_t intr_info)
{
	struct vmcs *v = c->vmcs;
	vmcs_put(v, VMCS_EXIT_REASON, reason);
	vmcs_put(v, VMCS_EXIT_QUALIFICATION, qual);
	vmcs_put(v, VMCS_GUEST_PHYSICAL_ADDRESS, gpa);
	vmcs_put(v, VMCS_GUEST_LINEAR_ADDRESS, gla);
	vmcs_put(v, VMCS_VM_EXIT_INTR_INFO, intr_info);
	vmcs_put(v, VMCS_IDT_VECTORING_INFO, 0);
	vmcs_put(v, VMCS_VM_EXIT_INSTRUCTION_LEN, 0);
	c->exit_insn_len = 0;
	/* Save guest state. */
	vmcs_put(v, VMCS_GUEST_RIP, c->rip);
	vmcs_put(v, VMCS_GUEST_CR0, c->cr0);
	vmcs_put(v, VMCS_GUEST_CR3, c->cr3);
	vmcs_put(v, VMCS_GUEST_CR4, c->cr4);
	vmcs_put(v, VMCS_GUEST_IA32_EFER, c->efer);
	/* Load host state (the VMM's paging is not modelled: root-mode
	 * accesses are physical). */
	c->cr3 = vmcs_get(v, VMCS_HOST_CR3);
	c->nonroot = false;
	if (!(vmcs_get(v, VMCS_CPU_BASED_VM_EXEC_CONTROL) & CPU_ACTIVATE_SECONDARY_CONTROLS) ||
	    !(vmcs_get(v, VMCS_SECONDARY_VM_EXEC_CONTROL) & SECONDARY_ENABLE_VPID))
		cpu_flush_vpid0(c);
	/* The exit and the entry that will follow cost one hardware round trip. */
	c->last_exit_reason = reason & EXIT_REASON_BASIC_MASK;
	c->exits[c->last_exit_reason].count++;
	c->exits[c->last_exit_reason].cycles += c->p->vmx_roundtrip_cycles;
	cpu_charge(c, CTR_CPU_CYCLES_VMEXIT, c->p->vmx_roundtrip_cycles);
	c->exit_cycle = c->cycles;
	ctr_inc(c->ctr, CTR_VMX_EXITS);
}

void cpu_vmexit_insn(struct cpu *c, unsigned reason, uint64_t qual, unsigned len)
{
	cpu_vmexit(c, reason, qual, 0, 0, 0);
	vmcs_put(c->vmcs, VMCS_VM_EXIT_INSTRUCTION_LEN, len);
	c->exit_insn_len = len;
}

enum vmx_status vmx_off(struct cpu *c)
{
	if (!c->vmxon || c->nonroot)
		return VMX_FAIL_INVALID;
	if (c->vmcs && c->vmcs->launched)
		c->exits[c->last_exit_reason].cycles += c->cycles - c->exit_cycle;
	c->vmxon = false;
	c->vmcs = NULL;
	return VMX_SUCCEED;
}

enum vmx_status vmx_invept(struct cpu *c, unsigned type, uint64_t eptp)
{
	if (!c->vmcs)
		return VMX_FAIL_INVALID;
	if (type == 1) {
		if (!vmx_eptp_valid(&c->caps, eptp))
			return fail_valid(c, VMXERR_INVALID_OPERAND_TO_INVEPT_INVVPID);
		for (int i = 0; i < c->ntlbs; i++)
			tlb_flush_ep4ta(c->tlbs[i], (eptp & PHYS_ADDR_MASK) >> PAGE_SHIFT);
		cpu_psc_flush_ept(c, (eptp & PHYS_ADDR_MASK) >> PAGE_SHIFT);
	} else if (type == 2) {
		cpu_psc_flush_ept(c, 0);
		for (int i = 0; i < c->ntlbs; i++)
			tlb_flush_all_combined(c->tlbs[i]);
	} else {
		return fail_valid(c, VMXERR_INVALID_OPERAND_TO_INVEPT_INVVPID);
	}
	return VMX_SUCCEED;
}

enum vmx_status vmx_invvpid(struct cpu *c, unsigned type, uint16_t vpid, uint64_t la)
{
	if (!c->vmcs)
		return VMX_FAIL_INVALID;
	if (type > 3 || (type != 2 && vpid == 0) || (type == 0 && !la_is_canonical(la, (c->caps.cr4_fixed1 & CR4_LA57) ? 57 : 48)))
		return fail_valid(c, VMXERR_INVALID_OPERAND_TO_INVEPT_INVVPID);
	/* Paging-structure caches: types 0, 1 and 3 drop every entry of the
	 * VPID (type 0 may: the SDM lets it invalidate more than the address). */
	if (type == 2)
		cpu_psc_flush_all_vpids_but_0(c);
	else
		cpu_psc_flush_vpid(c, vpid);
	for (int i = 0; i < c->ntlbs; i++) {
		struct tlb *t = c->tlbs[i];
		switch (type) {
		case 0:
			tlb_flush_vpid_addr(t, vpid, la);
			break;
		case 1:
			tlb_flush_vpid(t, vpid);
			break;
		case 2:
			tlb_flush_all_vpids_but_0(t);
			break;
		case 3:
			tlb_flush_vpid_nonglobal(t, vpid);
			break;
		}
	}
	return VMX_SUCCEED;
}

int vmx_root_rdmsr(const struct cpu *c, uint32_t msr, uint64_t *val)
{
	if (msr == MSR_IA32_FEATURE_CONTROL)
		return vmx_rdmsr(msr, val);
	return vmx_caps_rdmsr(&c->caps, msr, val);
}

void vmx_root_mov_to_cr2(struct cpu *c, uint64_t val)
{
	c->cr2 = val;
}

uint64_t vmx_root_read64(struct cpu *c, uint64_t hpa)
{
	cpu_pt_access(c, hpa, CTR_CPU_CYCLES_VMM, NULL);
	return mem_read64(c->mem, hpa);
}

int vmx_root_write64(struct cpu *c, uint64_t hpa, uint64_t val)
{
	cpu_pt_access(c, hpa, CTR_CPU_CYCLES_VMM, NULL);
	if (mem_write64(c->mem, hpa, val) < 0)
		return cpu_fail(c, "out of memory storing simulated EPT tables");
	return 0;
}

void vmx_root_zero_page(struct cpu *c, uint64_t hpa)
{
	cpu_charge(c, CTR_CPU_CYCLES_VMM, c->p->host_page_zero_cycles);
	mem_zero_page(c->mem, hpa);
	cache_fill_page(&c->cache, hpa);
}
