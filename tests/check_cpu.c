/*
 * CPU + guest kernel + VMM tests on tiny synthetic event streams, with
 * every expected count worked out by hand from the model's rules (see the
 * comments at each assertion).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "arch/exit_reasons.h"
#include "arch/vmcs_fields.h"
#include "arch/vmx_controls.h"
#include "cpu/cpu.h"
#include "cpu/vmx.h"
#include "guest/guest.h"
#include "trace/event_array.h"
#include "vmm/vmm.h"

struct machine {
	struct sim_params p;
	struct counters ctr;
	struct phys_mem mem;
	struct cpu cpu;
	struct guest_os os;
	struct vmm vmm;
	struct event_array fe;
};

static void machine_init(struct machine *m, const struct guest_event *ev, size_t n)
{
	char err[CPU_ERR_LEN];
	memset(m, 0, sizeof(*m));
	params_defaults(&m->p);
	m->p.guest_hz = 0; /* no timer ticks unless a test wants them */
	ck_assert_int_eq(mem_init(&m->mem), 0);
	ck_assert_int_eq(cpu_init(&m->cpu, &m->p, &m->mem, &m->ctr, err), 0);
	m->fe = event_array_of(ev, n);
	struct frontend fe = {event_array_next, &m->fe};
	ck_assert_int_eq(guest_init(&m->os, &m->p, &m->ctr, &fe, err), 0);
	cpu_attach_guest(&m->cpu, &guest_os_ops, &m->os);
}

static void machine_destroy(struct machine *m, bool vmm)
{
	if (vmm)
		vmm_destroy(&m->vmm);
	guest_destroy(&m->os);
	cpu_destroy(&m->cpu);
	mem_destroy(&m->mem);
}

static enum run_status run_native(struct machine *m)
{
	cpu_set_paging(&m->cpu, m->os.cr0, 0, m->os.cr4, m->os.efer);
	ck_assert_int_eq(guest_boot(&m->os, &m->cpu, 1), 0);
	return cpu_run_native(&m->cpu);
}

static enum run_status run_ept(struct machine *m)
{
	ck_assert_int_eq(vmm_init(&m->vmm, &m->cpu, &m->p, &m->ctr, m->os.cr0, m->os.cr4, m->os.efer), 0);
	ck_assert_int_eq(guest_boot(&m->os, &m->cpu, 1), 0);
	return vmm_run(&m->vmm);
}

#define LOAD(a) {GEV_LOAD, 8, (a), 0, 1, 0}
#define STORE(a) {GEV_STORE, 8, (a), 0, 1, 0}

START_TEST(test_cpu_native_fault_then_tlb_hit)
{
	static const struct guest_event ev[] = {LOAD(0x401000), LOAD(0x401008)};
	struct machine m;
	machine_init(&m, ev, 2);
	ck_assert_int_eq(run_native(&m), RUN_DONE);
	/* Load 1: L1/L2 miss, walk stops at the empty PML4E (1 ref) -> #PF; the
	 * guest builds PDPT, PD, PT and the page; the retry misses again and
	 * walks 4 refs. Load 2 hits the L1 DTLB: no walk. */
	ck_assert_uint_eq(m.ctr.v[CTR_WALK_COUNT], 2);
	ck_assert_uint_eq(m.ctr.v[CTR_WALK_GUEST_REFS], 5);
	ck_assert_uint_eq(m.ctr.v[CTR_WALK_EPT_REFS], 0);
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_L1D_MISS], 2);
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_L2_MISS], 2);
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_L1D_HIT], 1);
	ck_assert_uint_eq(m.ctr.v[CTR_MEM_REFS_LOAD], 2);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PF], 1);
	/* PML4 at boot + PDPT + PD + PT = 4 table pages; 1 data page; every
	 * one zeroed; PML4E + PDPTE + PDE + PTE stores = 4. */
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PT_PAGES], 4);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PAGES_MAPPED], 1);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PTE_WRITES], 4 + 4); /* + 4 clears at exit */
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PAGES_ZEROED], 5);
	ck_assert_uint_eq(m.ctr.v[CTR_VMX_EXITS], 0);
	/* Cycles: walks 5 x 12, one PF 1500, 5 zeroings x 1000, 8 PTE stores x 12. */
	ck_assert_uint_eq(m.cpu.cycles, 5 * 12 + 1500 + 5 * 1000 + 8 * 12);
	machine_destroy(&m, false);
}
END_TEST

START_TEST(test_cpu_ept_first_touch_exits)
{
	static const struct guest_event ev[] = {LOAD(0x401000), LOAD(0x401008)};
	struct machine m;
	machine_init(&m, ev, 2);
	ck_assert_int_eq(run_ept(&m), RUN_DONE);
	/* Each fresh guest frame is first touched by the guest kernel zeroing it:
	 * PML4 (boot), PDPT, PD, PT, data page = 5 EPT violations, then HLT. */
	ck_assert_uint_eq(m.cpu.exits[EXIT_REASON_EPT_VIOLATION].count, 5);
	ck_assert_uint_eq(m.cpu.exits[EXIT_REASON_HLT].count, 1);
	ck_assert_uint_eq(m.ctr.v[CTR_VMX_EXITS], 6);
	ck_assert_uint_eq(m.ctr.v[CTR_VMX_ENTRIES], 6); /* VMLAUNCH + 5 VMRESUME */
	/* Walk 1: EPT(PML4 page) 4 + PML4E 1 -> #PF. Walk 2: cold 2D walk, 24. */
	ck_assert_uint_eq(m.ctr.v[CTR_WALK_COUNT], 2);
	ck_assert_uint_eq(m.ctr.v[CTR_WALK_GUEST_REFS], 5);
	ck_assert_uint_eq(m.ctr.v[CTR_WALK_EPT_REFS], 4 + 20);
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_L1D_HIT], 1);
	/* The VMM backs 5 pages; EPT tables: root + PDPT + PD + PT (all five
	 * GPAs 0x100000-0x104000 share one EPT PT). Entry writes: 3 table
	 * entries + 5 leaves. */
	ck_assert_uint_eq(m.ctr.v[CTR_VMM_EPT_BACKED_PAGES], 5);
	ck_assert_uint_eq(m.ctr.v[CTR_VMM_EPT_TABLE_PAGES], 4);
	ck_assert_uint_eq(m.ctr.v[CTR_VMM_EPT_ENTRY_WRITES], 8);
	/* VPID on: no flushes at transitions. */
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_FLUSH_VPID], 0);
	/* Per-exit cycles: each EPT violation costs the round trip (630) +
	 * dispatch (300) + VMREADs are free + 1..4 EPT table reads (12 each) +
	 * frame work; HLT costs 630 + 300. */
	ck_assert_uint_eq(m.cpu.exits[EXIT_REASON_HLT].cycles, 630 + 300);
	machine_destroy(&m, true);
}
END_TEST

START_TEST(test_cpu_vpid_off_flushes_on_every_transition)
{
	static const struct guest_event ev[] = {LOAD(0x401000), LOAD(0x401008)};
	struct machine m;
	machine_init(&m, ev, 2);
	m.p.vmx_vpid = false;
	ck_assert_int_eq(run_ept(&m), RUN_DONE);
	/* 6 entries and 6 exits, each flushing VPID 0. */
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_FLUSH_VPID], 12);
	ck_assert_uint_eq(m.ctr.v[CTR_WALK_EPT_REFS], 4 + 20);
	machine_destroy(&m, true);
}
END_TEST

START_TEST(test_cpu_vpid_off_loses_translations_across_exits)
{
	/* A, then B (a new page: one EPT violation while zeroing it), then A
	 * again. With VPID the translation of A survives the exits; without,
	 * every transition flushed VPID 0 and A is walked again (24 refs). */
	static const struct guest_event ev[] = {LOAD(0x401000), LOAD(0x402000), LOAD(0x401008)};
	struct machine on, off;
	machine_init(&on, ev, 3);
	machine_init(&off, ev, 3);
	off.p.vmx_vpid = false;
	ck_assert_int_eq(run_ept(&on), RUN_DONE);
	ck_assert_int_eq(run_ept(&off), RUN_DONE);
	/* Both: 5 EPT violations for A's tables and page, 1 for B's page. */
	ck_assert_uint_eq(on.cpu.exits[EXIT_REASON_EPT_VIOLATION].count, 6);
	ck_assert_uint_eq(off.cpu.exits[EXIT_REASON_EPT_VIOLATION].count, 6);
	/* Walks: A faults, A ok, B faults, B ok (+ A again without VPID). */
	ck_assert_uint_eq(on.ctr.v[CTR_WALK_COUNT], 4);
	ck_assert_uint_eq(off.ctr.v[CTR_WALK_COUNT], 5);
	ck_assert_uint_eq(on.ctr.v[CTR_TLB_L1D_HIT], 1);
	ck_assert_uint_eq(off.ctr.v[CTR_TLB_L1D_HIT], 0);
	ck_assert_uint_eq(off.ctr.v[CTR_WALK_GUEST_REFS] + off.ctr.v[CTR_WALK_EPT_REFS],
			  on.ctr.v[CTR_WALK_GUEST_REFS] + on.ctr.v[CTR_WALK_EPT_REFS] + 24);
	machine_destroy(&on, true);
	machine_destroy(&off, true);
}
END_TEST

START_TEST(test_cpu_munmap_invalidates_and_frees_tables)
{
	struct guest_event ev[] = {STORE(0x401000), {GEV_MUNMAP, 0, 0x401000, 0x1000, 1, 0}, LOAD(0x401000)};
	struct machine m;
	machine_init(&m, ev, 3);
	ck_assert_int_eq(run_native(&m), RUN_DONE);
	/* munmap clears the PTE, frees the page, then the PT, PD and PDPT that
	 * became empty, and issues one INVLPG. The load faults again and the
	 * guest rebuilds the three tables and the page. */
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_INVLPG], 1);
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_INVLPG], 1);
	/* CR3 loads: boot, and one full flush when the exiting process's
	 * address space is torn down. */
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_FLUSH_CR3], 2);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PF], 2);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PAGES_UNMAPPED], 2); /* munmap + exit */
	/* Freed: PT, PD, PDPT at munmap; PT, PD, PDPT, PML4 at exit. */
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PT_PAGES_FREED], 3 + 4);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_PT_PAGES], 1 + 3 + 3);
	ck_assert_uint_eq(m.os.frames.in_use, 0);
	machine_destroy(&m, false);
}
END_TEST

START_TEST(test_cpu_timer_ticks_exit_and_inject)
{
	static const struct guest_event ev[] = {LOAD(0x401000), LOAD(0x401008)};
	struct machine m;
	machine_init(&m, ev, 2);
	m.p.guest_hz = 100;
	m.p.cpu_freq_mhz = 1; /* a tick every 10000 cycles */
	cpu_destroy(&m.cpu);
	char err[CPU_ERR_LEN];
	ck_assert_int_eq(cpu_init(&m.cpu, &m.p, &m.mem, &m.ctr, err), 0);
	cpu_attach_guest(&m.cpu, &guest_os_ops, &m.os);
	ck_assert_int_eq(run_ept(&m), RUN_DONE);
	uint64_t ticks = m.cpu.exits[EXIT_REASON_EXTERNAL_INTERRUPT].count;
	ck_assert_uint_gt(ticks, 0);
	/* Every host tick exits and the VMM injects the guest's timer, which the
	 * guest kernel handles after the next VM entry. */
	ck_assert_uint_eq(m.ctr.v[CTR_VMX_INJECTED_EVENTS], ticks);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_TIMER_TICKS], ticks);
	/* At most one tick per period of the run (missed periods coalesce). */
	ck_assert_uint_le(ticks, m.cpu.cycles / 10000);
	/* Each costs the round trip, dispatch, and the host's tick handler. */
	ck_assert_uint_eq(m.cpu.exits[EXIT_REASON_EXTERNAL_INTERRUPT].cycles, ticks * (630 + 300 + 2000));
	machine_destroy(&m, true);
}
END_TEST

START_TEST(test_cpu_munmap_flushes_the_gathered_span)
{
	/* Two pages 10 pages apart unmapped in one munmap: Linux flushes the span
	 * they gather, 11 pages, page by page (below the ceiling of 33). */
	struct guest_event ev[] = {STORE(0x401000), STORE(0x40b000), {GEV_MUNMAP, 0, 0x400000, 0x100000, 1, 0}};
	struct machine m;
	machine_init(&m, ev, 3);
	ck_assert_int_eq(run_native(&m), RUN_DONE);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_INVLPG], 11);
	/* CR3 loads: boot only; at exit nothing is left mapped, so nothing to flush. */
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_FLUSH_CR3], 1);
	machine_destroy(&m, false);
	/* With the ceiling at 10 pages the same munmap reloads CR3 instead. */
	machine_init(&m, ev, 3);
	m.p.guest_tlb_flush_ceiling = 10;
	ck_assert_int_eq(run_native(&m), RUN_DONE);
	ck_assert_uint_eq(m.ctr.v[CTR_GUEST_INVLPG], 0);
	ck_assert_uint_eq(m.ctr.v[CTR_TLB_FLUSH_CR3], 2);
	machine_destroy(&m, false);
}
END_TEST

START_TEST(test_cpu_bad_addresses_stop_the_run)
{
	static const struct guest_event noncanon[] = {LOAD(UINT64_C(0x0000800000000000))};
	static const struct guest_event kernel_half[] = {LOAD(UINT64_C(0xffffffffff600000))};
	struct machine m;
	machine_init(&m, noncanon, 1);
	ck_assert_int_eq(run_native(&m), RUN_ERROR);
	ck_assert_ptr_nonnull(strstr(m.cpu.err, "non-canonical GVA 0x800000000000"));
	machine_destroy(&m, false);
	machine_init(&m, kernel_half, 1);
	ck_assert_int_eq(run_native(&m), RUN_ERROR);
	ck_assert_ptr_nonnull(strstr(m.cpu.err, "kernel-half GVA 0xffffffffff600000"));
	machine_destroy(&m, false);
}
END_TEST

/* The CPU follows the VMCS, not the VMM's habits: controls this VMM does
 * not set still make the exits the SDM says, and its dispatch table, which
 * has no handler for them, stops the run as unexpected. */
START_TEST(test_cpu_exits_follow_vmcs_controls)
{
	static const struct guest_event ev[] = {LOAD(0x401000)};
	struct machine m;
	uint64_t v;
	/* #PF intercepted through the exception bitmap (mask = match = 0). */
	machine_init(&m, ev, 1);
	ck_assert_int_eq(vmm_init(&m.vmm, &m.cpu, &m.p, &m.ctr, m.os.cr0, m.os.cr4, m.os.efer), 0);
	ck_assert_int_eq(vmx_write(&m.cpu, VMCS_EXCEPTION_BITMAP, 1u << 14), VMX_SUCCEED);
	ck_assert_int_eq(guest_boot(&m.os, &m.cpu, 1), 0);
	ck_assert_int_eq(vmm_run(&m.vmm), RUN_ERROR);
	ck_assert_ptr_nonnull(strstr(m.cpu.err, "reason 0 (EXCEPTION_NMI)"));
	vmx_read(&m.cpu, VMCS_EXIT_QUALIFICATION, &v);
	ck_assert_uint_eq(v, 0x401000);
	vmx_read(&m.cpu, VMCS_VM_EXIT_INTR_INFO, &v);
	ck_assert_uint_eq(v, 0x80000b0e); /* valid, error code, hardware exception, vector 14 */
	vmx_read(&m.cpu, VMCS_VM_EXIT_INTR_ERROR_CODE, &v);
	ck_assert_uint_eq(v, 0x4); /* user read of a not-present page */
	machine_destroy(&m, true);

	/* CR3-load exiting: the guest's boot-time MOV to CR3 exits with reason
	 * 28, qualification 3 (CR3, MOV to CR, RAX), the value in RAX and an
	 * instruction length of 3. */
	machine_init(&m, ev, 1);
	ck_assert_int_eq(vmm_init(&m.vmm, &m.cpu, &m.p, &m.ctr, m.os.cr0, m.os.cr4, m.os.efer), 0);
	vmx_read(&m.cpu, VMCS_CPU_BASED_VM_EXEC_CONTROL, &v);
	vmx_write(&m.cpu, VMCS_CPU_BASED_VM_EXEC_CONTROL, v | CPU_CR3_LOAD_EXITING);
	ck_assert_int_eq(guest_boot(&m.os, &m.cpu, 1), 0);
	ck_assert_int_eq(vmm_run(&m.vmm), RUN_ERROR);
	ck_assert_ptr_nonnull(strstr(m.cpu.err, "reason 28 (CR_ACCESS)"));
	vmx_read(&m.cpu, VMCS_EXIT_QUALIFICATION, &v);
	ck_assert_uint_eq(v, 3);
	ck_assert_uint_eq(m.cpu.gpr[0], m.os.proc.pml4);
	vmx_read(&m.cpu, VMCS_VM_EXIT_INSTRUCTION_LEN, &v);
	ck_assert_uint_eq(v, 3);
	machine_destroy(&m, true);

	/* The same MOV to CR3 with its value among the CR3-target values does
	 * not exit. */
	machine_init(&m, ev, 1);
	ck_assert_int_eq(vmm_init(&m.vmm, &m.cpu, &m.p, &m.ctr, m.os.cr0, m.os.cr4, m.os.efer), 0);
	vmx_read(&m.cpu, VMCS_CPU_BASED_VM_EXEC_CONTROL, &v);
	vmx_write(&m.cpu, VMCS_CPU_BASED_VM_EXEC_CONTROL, v | CPU_CR3_LOAD_EXITING);
	vmx_write(&m.cpu, VMCS_CR3_TARGET_COUNT, 1);
	vmx_write(&m.cpu, VMCS_CR3_TARGET_VALUE0, 0x100000); /* the guest's first frame: its PML4 */
	ck_assert_int_eq(guest_boot(&m.os, &m.cpu, 1), 0);
	ck_assert_int_eq(vmm_run(&m.vmm), RUN_DONE);
	ck_assert_uint_eq(m.cpu.exits[EXIT_REASON_CR_ACCESS].count, 0);
	machine_destroy(&m, true);
}
END_TEST

START_TEST(test_vmx_vmread_vmwrite_errors)
{
	struct machine m;
	machine_init(&m, NULL, 0);
	struct vmcs v;
	vmcs_init(&v, VTSIM_VMCS_REVISION);
	uint64_t val;
	ck_assert_int_eq(vmx_read(&m.cpu, VMCS_EXIT_REASON, &val), VMX_FAIL_INVALID); /* no VMXON/VMCS */
	ck_assert_int_eq(vmx_on(&m.cpu), VMX_SUCCEED);
	ck_assert_int_eq(vmx_ptrld(&m.cpu, &v), VMX_SUCCEED);
	/* Unsupported encoding -> error 12; read-only field -> error 13. */
	ck_assert_int_eq(vmx_write(&m.cpu, 0x6C18, 1), VMX_FAIL_VALID);
	ck_assert_int_eq(vmx_read(&m.cpu, VMCS_VM_INSTRUCTION_ERROR, &val), VMX_SUCCEED);
	ck_assert_uint_eq(val, 12);
	ck_assert_int_eq(vmx_write(&m.cpu, VMCS_EXIT_QUALIFICATION, 1), VMX_FAIL_VALID);
	ck_assert_int_eq(vmx_read(&m.cpu, VMCS_VM_INSTRUCTION_ERROR, &val), VMX_SUCCEED);
	ck_assert_uint_eq(val, 13);
	/* _HIGH access of a 64-bit field reads bits 63:32; of a 32-bit field it
	 * is unsupported. */
	ck_assert_int_eq(vmx_write(&m.cpu, VMCS_TSC_OFFSET, UINT64_C(0x1122334455667788)), VMX_SUCCEED);
	ck_assert_int_eq(vmx_read(&m.cpu, VMCS_TSC_OFFSET + 1, &val), VMX_SUCCEED);
	ck_assert_uint_eq(val, 0x11223344);
	ck_assert_int_eq(vmx_read(&m.cpu, VMCS_EXCEPTION_BITMAP + 1, &val), VMX_FAIL_VALID);
	/* 16-bit fields are truncated. */
	ck_assert_int_eq(vmx_write(&m.cpu, VMCS_VPID, 0x12345), VMX_SUCCEED);
	ck_assert_int_eq(vmx_read(&m.cpu, VMCS_VPID, &val), VMX_SUCCEED);
	ck_assert_uint_eq(val, 0x2345);
	/* "enable VPID" with VPID 0 fails VM entry with error 7; so does a bad EPTP. */
	vmx_write(&m.cpu, VMCS_VPID, 0);
	vmx_write(&m.cpu, VMCS_CPU_BASED_VM_EXEC_CONTROL, CPU_ACTIVATE_SECONDARY_CONTROLS);
	vmx_write(&m.cpu, VMCS_SECONDARY_VM_EXEC_CONTROL, SECONDARY_ENABLE_VPID);
	ck_assert_int_eq(vmx_launch(&m.cpu), VMX_FAIL_VALID);
	vmx_read(&m.cpu, VMCS_VM_INSTRUCTION_ERROR, &val);
	ck_assert_uint_eq(val, 7);
	vmx_write(&m.cpu, VMCS_SECONDARY_VM_EXEC_CONTROL, SECONDARY_ENABLE_EPT);
	vmx_write(&m.cpu, VMCS_EPT_POINTER, 0x5000 | 6 | (2u << 3)); /* 3-level walk: invalid */
	ck_assert_int_eq(vmx_launch(&m.cpu), VMX_FAIL_VALID);
	vmx_read(&m.cpu, VMCS_VM_INSTRUCTION_ERROR, &val);
	ck_assert_uint_eq(val, 7);
	/* VMRESUME of a never-launched VMCS: error 5. */
	ck_assert_int_eq(vmx_resume(&m.cpu), VMX_FAIL_VALID);
	vmx_read(&m.cpu, VMCS_VM_INSTRUCTION_ERROR, &val);
	ck_assert_uint_eq(val, 5);
	/* INVVPID single-context with VPID 0: error 28. */
	ck_assert_int_eq(vmx_invvpid(&m.cpu, 1, 0, 0), VMX_FAIL_VALID);
	vmx_read(&m.cpu, VMCS_VM_INSTRUCTION_ERROR, &val);
	ck_assert_uint_eq(val, 28);
	machine_destroy(&m, false);
}
END_TEST

static Suite *cpu_suite(void)
{
	Suite *s = suite_create("cpu");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_cpu_native_fault_then_tlb_hit);
	tcase_add_test(tc, test_cpu_ept_first_touch_exits);
	tcase_add_test(tc, test_cpu_vpid_off_flushes_on_every_transition);
	tcase_add_test(tc, test_cpu_vpid_off_loses_translations_across_exits);
	tcase_add_test(tc, test_cpu_munmap_invalidates_and_frees_tables);
	tcase_add_test(tc, test_cpu_timer_ticks_exit_and_inject);
	tcase_add_test(tc, test_cpu_munmap_flushes_the_gathered_span);
	tcase_add_test(tc, test_cpu_bad_addresses_stop_the_run);
	tcase_add_test(tc, test_cpu_exits_follow_vmcs_controls);
	tcase_add_test(tc, test_vmx_vmread_vmwrite_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cpu_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
