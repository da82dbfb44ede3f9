/*
 * VMX capability MSRs and VM-entry checks, tested on a bare struct vmcs
 * (no guest runs). Expected values come from the SDM's bit definitions
 * (reference sheet §1.5, §2.2-§2.3, §4, §5.1, §6.1), worked out by hand
 * in the comments, not from the code under test.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "arch/ept.h"
#include "arch/exit_reasons.h"
#include "arch/paging.h"
#include "arch/vmcs_fields.h"
#include "arch/vmx_controls.h"
#include "cpu/vmx.h"
#include "cpu/vmx_caps.h"
#include "cpu/vmx_checks.h"

/* Segment access rights (reference sheet §1.3). */
#define AR_CODE64 0xa09bu   /* type 11 (exec/read, accessed), S, DPL 0, P, L, G */
#define AR_DATA 0xc093u     /* type 3 (read/write, accessed), S, DPL 0, P, D/B, G */
#define AR_TSS64 0x008bu    /* type 11 (busy TSS), P */
#define AR_UNUSABLE 0x10000u

static const struct vmx_caps *caps = &vmx_model_caps;

/*
 * A VMCS a KVM-like VMM would set up for a 64-bit guest on a 64-bit host
 * (the fields vmm_init writes with the proposed patch): every check passes.
 */
static void valid_vmcs(struct vmcs *v)
{
	const struct {
		uint32_t enc;
		uint64_t val;
	} f[] = {
		{VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16 | PIN_EXT_INTR_EXITING},
		{VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | CPU_HLT_EXITING | CPU_ACTIVATE_SECONDARY_CONTROLS},
		{VMCS_SECONDARY_VM_EXEC_CONTROL, SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID},
		{VMCS_VM_EXIT_CONTROLS, 0x00036dfb | EXIT_HOST_ADDR_SPACE_SIZE | EXIT_ACK_INTR_ON_EXIT},
		{VMCS_VM_ENTRY_CONTROLS, 0x000011fb | ENTRY_IA32E_MODE_GUEST},
		{VMCS_VPID, 1},
		{VMCS_EPT_POINTER, 0x5000 | 0x5e}, /* WB, 4-level, A/D */
		{VMCS_LINK_POINTER, UINT64_MAX},
		{VMCS_GUEST_CR0, CR0_PE | CR0_NE | CR0_WP | CR0_PG},
		{VMCS_GUEST_CR4, CR4_PAE | CR4_PGE | CR4_VMXE},
		{VMCS_CR4_GUEST_HOST_MASK, CR4_VMXE},
		{VMCS_CR4_READ_SHADOW, CR4_PAE | CR4_PGE},
		{VMCS_GUEST_IA32_EFER, EFER_LME | EFER_LMA | EFER_NXE},
		{VMCS_GUEST_CS_SELECTOR, 0x10},
		{VMCS_GUEST_CS_LIMIT, 0xffffffff},
		{VMCS_GUEST_CS_AR, AR_CODE64},
		{VMCS_GUEST_SS_SELECTOR, 0x18},
		{VMCS_GUEST_SS_LIMIT, 0xffffffff},
		{VMCS_GUEST_SS_AR, AR_DATA},
		{VMCS_GUEST_DS_AR, AR_UNUSABLE},
		{VMCS_GUEST_ES_AR, AR_UNUSABLE},
		{VMCS_GUEST_FS_AR, AR_UNUSABLE},
		{VMCS_GUEST_GS_AR, AR_UNUSABLE},
		{VMCS_GUEST_LDTR_AR, AR_UNUSABLE},
		{VMCS_GUEST_TR_SELECTOR, 0x40},
		{VMCS_GUEST_TR_LIMIT, 0x67},
		{VMCS_GUEST_TR_AR, AR_TSS64},
		{VMCS_GUEST_RFLAGS, 0x202},
		{VMCS_GUEST_ACTIVITY_STATE, 0},
		{VMCS_GUEST_INTERRUPTIBILITY, 0},
		{VMCS_HOST_CR0, CR0_PE | CR0_NE | CR0_WP | CR0_PG},
		{VMCS_HOST_CR3, 0x1000},
		{VMCS_HOST_CR4, CR4_PAE | CR4_PGE | CR4_VMXE},
		{VMCS_HOST_IA32_EFER, EFER_LME | EFER_LMA | EFER_NXE},
		{VMCS_HOST_CS_SELECTOR, 0x10},
		{VMCS_HOST_SS_SELECTOR, 0x18},
		{VMCS_HOST_TR_SELECTOR, 0x40},
	};
	vmcs_init(v, VTSIM_VMCS_REVISION);
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		vmcs_put(v, f[i].enc, f[i].val);
}

static uint64_t rdmsr(uint32_t msr)
{
	uint64_t val = 0;
	ck_assert_int_eq(vmx_rdmsr(msr, &val), 0);
	return val;
}

/* The three phases of the model's checks on v. */
static struct vmx_entry_check entry(const struct vmcs *v)
{
	return vmx_entry_checks(v, caps);
}

static void assert_error(const struct vmcs *v, unsigned err)
{
	struct vmx_entry_check c = entry(v);
	ck_assert_int_eq(c.outcome, VMX_ENTRY_FAIL_VALID);
	ck_assert_uint_eq(c.error, err);
}

static void assert_guest_fail(const struct vmcs *v, enum vmx_guest_fail f, uint64_t qual)
{
	struct vmx_entry_check c = entry(v);
	ck_assert_msg(c.outcome == VMX_ENTRY_FAIL_GUEST, "outcome %d (ctl '%s', host '%s')", c.outcome,
		      vmx_ctl_fail_name(c.ctl.fail), vmx_host_fail_name(c.host.fail));
	ck_assert_msg(c.guest.fail == f, "guest check '%s', expected '%s'", vmx_guest_fail_name(c.guest.fail),
		      vmx_guest_fail_name(f));
	ck_assert_uint_eq(c.exit_reason, 0x80000021);
	ck_assert_uint_eq(c.qualification, qual);
}

/* ---- capability MSRs ------------------------------------------------- */

START_TEST(test_vmx_basic_msr)
{
	uint64_t b = rdmsr(MSR_IA32_VMX_BASIC);
	ck_assert_uint_eq(b & 0x7fffffff, VTSIM_VMCS_REVISION);
	ck_assert_uint_eq((b >> 32) & 0x1fff, 4096);     /* region size, bits 44:32 */
	ck_assert_uint_eq((b >> 50) & 0xf, 6);           /* WB, bits 53:50 */
	ck_assert_uint_eq((b >> 48) & 1, 0);             /* full-width addresses */
	ck_assert_uint_eq((b >> 49) & 1, 0);             /* no dual-monitor SMM */
	ck_assert_uint_eq((b >> 54) & 1, 1);             /* INS/OUTS information */
	ck_assert_uint_eq((b >> 55) & 1, 1);             /* TRUE_* MSRs */
	ck_assert_uint_eq((b >> 56) & 1, 0);             /* error code tied to the vector */
	ck_assert_uint_eq(b, UINT64_C(0x00d8100000000012));
	ck_assert_uint_eq(rdmsr(MSR_IA32_FEATURE_CONTROL), 0x5); /* locked, VMX outside SMX */
}
END_TEST

START_TEST(test_vmx_control_msrs_allowed_bits)
{
	uint64_t m;
	/* Pin-based: bits 1, 2, 4 must be 1 even with the TRUE MSR; external-
	 * interrupt (0), NMI exiting (3), virtual NMIs (5) may be 1; the
	 * preemption timer (6) and posted interrupts (7) may not. */
	m = rdmsr(MSR_IA32_VMX_TRUE_PINBASED_CTLS);
	ck_assert_uint_eq((uint32_t)m, 0x16);
	ck_assert(vmx_cap_may_be_1(m) & (1u << 0));
	ck_assert(vmx_cap_may_be_1(m) & (1u << 3));
	ck_assert(vmx_cap_may_be_1(m) & (1u << 5));
	ck_assert(!(vmx_cap_may_be_1(m) & (1u << 6)));
	ck_assert(!(vmx_cap_may_be_1(m) & (1u << 7)));
	ck_assert_uint_eq(rdmsr(MSR_IA32_VMX_PINBASED_CTLS), m);

	/* Primary: without TRUE, CR3-load/store exiting (15, 16) must be 1
	 * (0x0401e172); with TRUE they may be 0 (0x04006172). HLT (7) and
	 * interrupt-window (2) may be 1; NMI-window (22), MTF (27), tertiary
	 * (17) not. */
	m = rdmsr(MSR_IA32_VMX_PROCBASED_CTLS);
	ck_assert_uint_eq((uint32_t)m, 0x0401e172);
	m = rdmsr(MSR_IA32_VMX_TRUE_PROCBASED_CTLS);
	ck_assert_uint_eq((uint32_t)m, 0x04006172);
	ck_assert(vmx_cap_may_be_1(m) & (1u << 7));
	ck_assert(vmx_cap_may_be_1(m) & (1u << 31));
	ck_assert(vmx_cap_may_be_1(m) & (1u << 2));
	ck_assert(!(vmx_cap_may_be_1(m) & (1u << 17)));
	ck_assert(!(vmx_cap_may_be_1(m) & (1u << 22)));
	ck_assert(!(vmx_cap_may_be_1(m) & (1u << 27)));
	ck_assert_uint_eq(m, UINT64_C(0xf7b9fffe04006172));

	/* Secondary: nothing must be 1; EPT (1), VPID (5), unrestricted guest
	 * (7) may be 1; virtualize APIC accesses (0), PML (17) may not. */
	m = rdmsr(MSR_IA32_VMX_PROCBASED_CTLS2);
	ck_assert_uint_eq((uint32_t)m, 0);
	ck_assert(vmx_cap_may_be_1(m) & (1u << 1));
	ck_assert(vmx_cap_may_be_1(m) & (1u << 5));
	ck_assert(vmx_cap_may_be_1(m) & (1u << 7));
	ck_assert(!(vmx_cap_may_be_1(m) & (1u << 0)));
	ck_assert(!(vmx_cap_may_be_1(m) & (1u << 17)));
	ck_assert_uint_eq(m, UINT64_C(0x00191cfe00000000));

	/* VM-exit: 0x36dff without TRUE, 0x36dfb with (save debug controls,
	 * bit 2, may be 0); host address-space size (9) and acknowledge
	 * interrupt (15) may be 1; save preemption timer (22) may not. */
	ck_assert_uint_eq((uint32_t)rdmsr(MSR_IA32_VMX_EXIT_CTLS), 0x00036dff);
	m = rdmsr(MSR_IA32_VMX_TRUE_EXIT_CTLS);
	ck_assert_uint_eq((uint32_t)m, 0x00036dfb);
	ck_assert(vmx_cap_may_be_1(m) & (1u << 9));
	ck_assert(vmx_cap_may_be_1(m) & (1u << 15));
	ck_assert(!(vmx_cap_may_be_1(m) & (1u << 22)));

	/* VM-entry: 0x11ff without TRUE, 0x11fb with (load debug controls, bit
	 * 2, may be 0); IA-32e mode guest (9), load EFER (15) may be 1; entry
	 * to SMM (10) and deactivate dual-monitor (11) may not. */
	ck_assert_uint_eq((uint32_t)rdmsr(MSR_IA32_VMX_ENTRY_CTLS), 0x000011ff);
	m = rdmsr(MSR_IA32_VMX_TRUE_ENTRY_CTLS);
	ck_assert_uint_eq((uint32_t)m, 0x000011fb);
	ck_assert(vmx_cap_may_be_1(m) & (1u << 9));
	ck_assert(vmx_cap_may_be_1(m) & (1u << 15));
	ck_assert(!(vmx_cap_may_be_1(m) & (1u << 10)));
	ck_assert(!(vmx_cap_may_be_1(m) & (1u << 11)));
}
END_TEST

START_TEST(test_vmx_misc_fixed_and_ept_msrs)
{
	uint64_t misc = rdmsr(MSR_IA32_VMX_MISC);
	ck_assert_uint_eq((misc >> 16) & 0x1ff, 4); /* CR3-target values */
	ck_assert_uint_eq((misc >> 29) & 1, 0);     /* no VMWRITE to exit-information fields */
	ck_assert_uint_eq((misc >> 6) & 7, 1);      /* HLT only, no shutdown / wait-for-SIPI */
	ck_assert_uint_eq((misc >> 5) & 1, 1);      /* exits store EFER.LMA */
	/* CR0: PE, NE, PG fixed to 1; CR4: VMXE fixed to 1 (reference sheet §6.1). */
	ck_assert_uint_eq(rdmsr(MSR_IA32_VMX_CR0_FIXED0), 0x80000021);
	ck_assert_uint_eq(rdmsr(MSR_IA32_VMX_CR0_FIXED1), 0xffffffff);
	ck_assert_uint_eq(rdmsr(MSR_IA32_VMX_CR4_FIXED0), 0x2000);
	/* Skylake client: no UMIP (11), LA57 (12), SMXE (14), PKE (22). */
	ck_assert_uint_eq(rdmsr(MSR_IA32_VMX_CR4_FIXED1), 0x003727ff);
	ck_assert_uint_eq(rdmsr(MSR_IA32_VMX_VMCS_ENUM), 26u << 1);
	/* The real i7-6700K's EPT/VPID capabilities (reference sheet §5.4). */
	ck_assert_uint_eq(rdmsr(MSR_IA32_VMX_EPT_VPID_CAP), UINT64_C(0x00000f0106334141));
	/* MSRs the model does not have: #GP. */
	uint64_t val;
	ck_assert_int_eq(vmx_rdmsr(MSR_IA32_VMX_VMFUNC, &val), -1); /* no VM functions */
	ck_assert_int_eq(vmx_rdmsr(0x492, &val), -1);               /* no tertiary controls */
	ck_assert_int_eq(vmx_rdmsr(0x10, &val), -1);                /* not a VMX MSR */
}
END_TEST

START_TEST(test_vmx_ctls_allowed_helper)
{
	uint32_t primary = 0x04006172 | CPU_HLT_EXITING;
	ck_assert(vmx_ctls_allowed(MSR_IA32_VMX_TRUE_PROCBASED_CTLS, primary));
	ck_assert(!vmx_ctls_allowed(MSR_IA32_VMX_TRUE_PROCBASED_CTLS, primary | CPU_NMI_WINDOW_EXITING));
	ck_assert(!vmx_ctls_allowed(MSR_IA32_VMX_TRUE_PROCBASED_CTLS, primary & ~(1u << 1)));
	/* The non-TRUE MSR insists on CR3-load/store exiting. */
	ck_assert(!vmx_ctls_allowed(MSR_IA32_VMX_PROCBASED_CTLS, primary));
	ck_assert(vmx_ctls_allowed(MSR_IA32_VMX_PROCBASED_CTLS, primary | CPU_CR3_LOAD_EXITING | CPU_CR3_STORE_EXITING));
	ck_assert(vmx_ctls_allowed(MSR_IA32_VMX_PROCBASED_CTLS2, SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID));
	ck_assert(!vmx_ctls_allowed(MSR_IA32_VMX_PROCBASED_CTLS2, SECONDARY_ENABLE_PML));
	ck_assert(!vmx_ctls_allowed(MSR_IA32_VMX_MISC, 0)); /* not a control-capability MSR */
}
END_TEST

/* ---- all phases ------------------------------------------------------ */

START_TEST(test_vmx_valid_vmcs_passes_all_phases)
{
	struct vmcs v;
	valid_vmcs(&v);
	struct vmx_entry_check c = entry(&v);
	ck_assert_int_eq(c.outcome, VMX_ENTRY_PASS);
	ck_assert_int_eq(vmx_check_controls(&v, caps).fail, VMX_CTL_OK);
	ck_assert_int_eq(vmx_check_host_state(&v, caps).fail, VMX_HOST_OK);
	ck_assert_int_eq(vmx_check_guest_state(&v, caps).fail, VMX_GUEST_OK);
	/* An injected timer interrupt (valid, type 0, vector 0xec) and an
	 * injected #PF with its error code are both well-formed. */
	vmcs_put(&v, VMCS_VM_ENTRY_INTR_INFO, 0x800000ec);
	ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
	vmcs_put(&v, VMCS_VM_ENTRY_INTR_INFO, 0x80000b0e);
	vmcs_put(&v, VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE, 0x4);
	ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
}
END_TEST

START_TEST(test_vmx_phases_run_in_order)
{
	struct vmcs v;
	/* Bad controls and bad host state and bad guest state: error 7. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16 | PIN_PREEMPTION_TIMER);
	vmcs_put(&v, VMCS_HOST_CR4, CR4_PAE);
	vmcs_put(&v, VMCS_GUEST_RFLAGS, 0);
	assert_error(&v, 7);
	ck_assert_int_eq(entry(&v).host.fail, VMX_HOST_OK); /* not run */
	/* Bad host and guest state: error 8. */
	vmcs_put(&v, VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16);
	assert_error(&v, 8);
	/* Bad guest state only: the entry-failure exit. */
	vmcs_put(&v, VMCS_HOST_CR4, CR4_PAE | CR4_VMXE);
	assert_guest_fail(&v, VMX_GUEST_RFLAGS_RESERVED, 0);
}
END_TEST

/* ---- phase 1: controls, error 7 -------------------------------------- */

START_TEST(test_vmx_forbidden_control_fails_error7)
{
	struct vmcs v;
	uint64_t proc;
	/* NMI-window exiting: allowed-1 = 0 in IA32_VMX_TRUE_PROCBASED_CTLS. */
	valid_vmcs(&v);
	proc = vmcs_get(&v, VMCS_CPU_BASED_VM_EXEC_CONTROL);
	vmcs_put(&v, VMCS_CPU_BASED_VM_EXEC_CONTROL, proc | CPU_NMI_WINDOW_EXITING);
	assert_error(&v, 7);
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_PROC_RESERVED);
	/* Activate VMX-preemption timer (pin bit 6). */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16 | PIN_EXT_INTR_EXITING | PIN_PREEMPTION_TIMER);
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_PIN_RESERVED);
	/* Enable PML (secondary bit 17), refused by IA32_VMX_PROCBASED_CTLS2. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_SECONDARY_VM_EXEC_CONTROL, SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_PML);
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_PROC2_RESERVED);
	/* ... but secondary controls count as 0 when primary bit 31 is 0. */
	vmcs_put(&v, VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | CPU_HLT_EXITING);
	ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
	/* Bit 18 of the primary controls is reserved to 0. */
	valid_vmcs(&v);
	proc = vmcs_get(&v, VMCS_CPU_BASED_VM_EXEC_CONTROL);
	vmcs_put(&v, VMCS_CPU_BASED_VM_EXEC_CONTROL, proc | (1u << 18));
	assert_error(&v, 7);
	/* VM-exit "save preemption-timer value", VM-entry "entry to SMM". */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_VM_EXIT_CONTROLS, vmcs_get(&v, VMCS_VM_EXIT_CONTROLS) | EXIT_SAVE_PREEMPTION_TIMER);
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_EXIT_RESERVED);
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_VM_ENTRY_CONTROLS, vmcs_get(&v, VMCS_VM_ENTRY_CONTROLS) | ENTRY_SMM);
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_ENTRY_RESERVED);
}
END_TEST

START_TEST(test_vmx_must_be_one_control_left_zero_fails_error7)
{
	struct vmcs v;
	/* Pin bit 1 (default 1, must be 1 even with TRUE MSRs). */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x14 | PIN_EXT_INTR_EXITING);
	assert_error(&v, 7);
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_PIN_RESERVED);
	/* Primary bit 26 (default 1). */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_CPU_BASED_VM_EXEC_CONTROL, vmcs_get(&v, VMCS_CPU_BASED_VM_EXEC_CONTROL) & ~(1u << 26));
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_PROC_RESERVED);
	/* VM-exit bit 0 and VM-entry bit 12 (default 1). */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_VM_EXIT_CONTROLS, vmcs_get(&v, VMCS_VM_EXIT_CONTROLS) & ~1u);
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_EXIT_RESERVED);
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_VM_ENTRY_CONTROLS, vmcs_get(&v, VMCS_VM_ENTRY_CONTROLS) & ~(1u << 12));
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_ENTRY_RESERVED);
	/* Without TRUE MSRs (BASIC[55] = 0), CR3-load/store exiting must be 1. */
	struct vmx_caps no_true = vmx_model_caps;
	no_true.basic &= ~VMX_BASIC_TRUE_CTLS;
	valid_vmcs(&v);
	ck_assert_int_eq(vmx_check_controls(&v, &no_true).fail, VMX_CTL_PROC_RESERVED);
	uint64_t proc = vmcs_get(&v, VMCS_CPU_BASED_VM_EXEC_CONTROL);
	vmcs_put(&v, VMCS_CPU_BASED_VM_EXEC_CONTROL, proc | CPU_CR3_LOAD_EXITING | CPU_CR3_STORE_EXITING);
	/* ... and so must the exit/entry debug-control bits (bit 2). */
	ck_assert_int_eq(vmx_check_controls(&v, &no_true).fail, VMX_CTL_EXIT_RESERVED);
}
END_TEST

START_TEST(test_vmx_control_field_values)
{
	struct vmcs v;
	/* CR3-target count above 4. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_CR3_TARGET_COUNT, 5);
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_CR3_TARGET_COUNT);
	vmcs_put(&v, VMCS_CR3_TARGET_COUNT, 4);
	ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
	/* "enable VPID" with VPID 0. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_VPID, 0);
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_VPID_ZERO);
	assert_error(&v, 7);
	/* EPTP with a 3-level walk. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_EPT_POINTER, 0x5000 | 6 | (2u << 3));
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_EPTP);
	/* Unrestricted guest without EPT. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_SECONDARY_VM_EXEC_CONTROL, SECONDARY_ENABLE_VPID | SECONDARY_UNRESTRICTED_GUEST);
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_NEEDS_EPT);
	/* I/O bitmaps: B not 4 KiB aligned; MSR bitmap beyond MAXPHYADDR (46). */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_CPU_BASED_VM_EXEC_CONTROL,
		 vmcs_get(&v, VMCS_CPU_BASED_VM_EXEC_CONTROL) | CPU_USE_IO_BITMAPS | CPU_USE_MSR_BITMAPS);
	vmcs_put(&v, VMCS_IO_BITMAP_A, 0x10000);
	vmcs_put(&v, VMCS_IO_BITMAP_B, 0x11800);
	vmcs_put(&v, VMCS_MSR_BITMAP, 0x12000);
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_IO_BITMAP_ADDR);
	vmcs_put(&v, VMCS_IO_BITMAP_B, 0x11000);
	ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
	vmcs_put(&v, VMCS_MSR_BITMAP, UINT64_C(1) << 46);
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_MSR_BITMAP_ADDR);
	/* TPR shadow: virtual-APIC page aligned, TPR threshold bits 31:4 clear. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_CPU_BASED_VM_EXEC_CONTROL,
		 vmcs_get(&v, VMCS_CPU_BASED_VM_EXEC_CONTROL) | CPU_USE_TPR_SHADOW);
	vmcs_put(&v, VMCS_VIRTUAL_APIC_ADDR, 0x13000);
	ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
	vmcs_put(&v, VMCS_TPR_THRESHOLD, 0x10);
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_TPR_THRESHOLD);
	vmcs_put(&v, VMCS_TPR_THRESHOLD, 0xf);
	vmcs_put(&v, VMCS_VIRTUAL_APIC_ADDR, 0x13008);
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_VIRTUAL_APIC_ADDR);
	/* Virtualize x2APIC mode needs "use TPR shadow". */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_SECONDARY_VM_EXEC_CONTROL,
		 SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID | SECONDARY_VIRTUALIZE_X2APIC);
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_NEEDS_TPR_SHADOW);
	/* Virtual NMIs need NMI exiting. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16 | PIN_EXT_INTR_EXITING | PIN_VIRTUAL_NMIS);
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_VNMI_WITHOUT_NMI_EXITING);
	vmcs_put(&v, VMCS_PIN_BASED_VM_EXEC_CONTROL,
		 0x16 | PIN_EXT_INTR_EXITING | PIN_VIRTUAL_NMIS | PIN_NMI_EXITING);
	ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
	/* VM-exit MSR-store list: 16-byte aligned, last byte within MAXPHYADDR. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_VM_EXIT_MSR_STORE_COUNT, 2);
	vmcs_put(&v, VMCS_EXIT_MSR_STORE_ADDR, 0x14008);
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_EXIT_MSR_STORE_ADDR);
	vmcs_put(&v, VMCS_EXIT_MSR_STORE_ADDR, (UINT64_C(1) << 46) - 16);
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_EXIT_MSR_STORE_ADDR);
	vmcs_put(&v, VMCS_EXIT_MSR_STORE_ADDR, (UINT64_C(1) << 46) - 32);
	ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
}
END_TEST

/* Rules whose controls the model refuses, with a capability set that
 * offers them (posted interrupts, virtual-interrupt delivery, NMI window,
 * PML, APIC accesses). */
START_TEST(test_vmx_dependencies_of_refused_controls)
{
	struct vmx_caps all = vmx_model_caps;
	all.true_pinbased |= (uint64_t)(PIN_PREEMPTION_TIMER | PIN_POSTED_INTR) << 32;
	all.true_procbased |= (uint64_t)(CPU_NMI_WINDOW_EXITING | CPU_INTR_WINDOW_EXITING) << 32;
	all.procbased2 |= (uint64_t)(SECONDARY_VIRTUAL_INTR_DELIVERY | SECONDARY_APIC_REGISTER_VIRT |
				     SECONDARY_ENABLE_PML | SECONDARY_VIRTUALIZE_APIC_ACCESSES)
			  << 32;
	all.true_exit |= (uint64_t)EXIT_SAVE_PREEMPTION_TIMER << 32;
	struct vmcs v;
	uint32_t tpr_proc = 0x04006172 | CPU_ACTIVATE_SECONDARY_CONTROLS | CPU_USE_TPR_SHADOW;

	/* NMI-window exiting needs virtual NMIs. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_CPU_BASED_VM_EXEC_CONTROL,
		 vmcs_get(&v, VMCS_CPU_BASED_VM_EXEC_CONTROL) | CPU_NMI_WINDOW_EXITING);
	ck_assert_int_eq(vmx_check_controls(&v, &all).fail, VMX_CTL_NMI_WINDOW_WITHOUT_VNMI);
	ck_assert_int_eq(vmx_check_controls(&v, caps).fail, VMX_CTL_PROC_RESERVED);

	/* Virtual-interrupt delivery: needs TPR shadow, then external-interrupt exiting. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_SECONDARY_VM_EXEC_CONTROL,
		 SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID | SECONDARY_VIRTUAL_INTR_DELIVERY);
	ck_assert_int_eq(vmx_check_controls(&v, &all).fail, VMX_CTL_NEEDS_TPR_SHADOW);
	vmcs_put(&v, VMCS_CPU_BASED_VM_EXEC_CONTROL, tpr_proc);
	vmcs_put(&v, VMCS_VIRTUAL_APIC_ADDR, 0x13000);
	vmcs_put(&v, VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16);
	ck_assert_int_eq(vmx_check_controls(&v, &all).fail, VMX_CTL_VID_WITHOUT_EXT_INTR_EXITING);
	vmcs_put(&v, VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16 | PIN_EXT_INTR_EXITING);
	/* With VID the TPR threshold bits 31:4 are not checked. */
	vmcs_put(&v, VMCS_TPR_THRESHOLD, 0x20);
	ck_assert_int_eq(vmx_check_controls(&v, &all).fail, VMX_CTL_OK);

	/* Posted interrupts: need VID and "acknowledge interrupt on exit",
	 * a vector below 256 and a 64-byte aligned descriptor. */
	vmcs_put(&v, VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16 | PIN_EXT_INTR_EXITING | PIN_POSTED_INTR);
	vmcs_put(&v, VMCS_VM_EXIT_CONTROLS, 0x00036dfb | EXIT_HOST_ADDR_SPACE_SIZE);
	ck_assert_int_eq(vmx_check_controls(&v, &all).fail, VMX_CTL_POSTED_INTR_CONTROLS);
	vmcs_put(&v, VMCS_VM_EXIT_CONTROLS, 0x00036dfb | EXIT_HOST_ADDR_SPACE_SIZE | EXIT_ACK_INTR_ON_EXIT);
	vmcs_put(&v, VMCS_POSTED_INTR_NV, 0x1f2);
	ck_assert_int_eq(vmx_check_controls(&v, &all).fail, VMX_CTL_POSTED_INTR_VECTOR);
	vmcs_put(&v, VMCS_POSTED_INTR_NV, 0xf2);
	vmcs_put(&v, VMCS_POSTED_INTR_DESC_ADDR, 0x15020);
	ck_assert_int_eq(vmx_check_controls(&v, &all).fail, VMX_CTL_POSTED_INTR_DESC_ADDR);
	vmcs_put(&v, VMCS_POSTED_INTR_DESC_ADDR, 0x15040);
	ck_assert_int_eq(vmx_check_controls(&v, &all).fail, VMX_CTL_OK);
	/* The model's own capabilities refuse the posted-interrupt control first. */
	ck_assert_int_eq(vmx_check_controls(&v, caps).fail, VMX_CTL_PIN_RESERVED);

	/* Virtualize x2APIC mode excludes virtualize APIC accesses; the
	 * APIC-access page must be aligned. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_CPU_BASED_VM_EXEC_CONTROL, tpr_proc);
	vmcs_put(&v, VMCS_VIRTUAL_APIC_ADDR, 0x13000);
	vmcs_put(&v, VMCS_SECONDARY_VM_EXEC_CONTROL,
		 SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID | SECONDARY_VIRTUALIZE_APIC_ACCESSES);
	vmcs_put(&v, VMCS_APIC_ACCESS_ADDR, 0xfee00800);
	ck_assert_int_eq(vmx_check_controls(&v, &all).fail, VMX_CTL_APIC_ACCESS_ADDR);
	vmcs_put(&v, VMCS_APIC_ACCESS_ADDR, 0xfee00000);
	vmcs_put(&v, VMCS_SECONDARY_VM_EXEC_CONTROL, SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID |
							     SECONDARY_VIRTUALIZE_APIC_ACCESSES |
							     SECONDARY_VIRTUALIZE_X2APIC);
	ck_assert_int_eq(vmx_check_controls(&v, &all).fail, VMX_CTL_X2APIC_AND_APIC_ACCESSES);

	/* PML needs EPT and an aligned log page. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_SECONDARY_VM_EXEC_CONTROL, SECONDARY_ENABLE_VPID | SECONDARY_ENABLE_PML);
	ck_assert_int_eq(vmx_check_controls(&v, &all).fail, VMX_CTL_NEEDS_EPT);
	vmcs_put(&v, VMCS_SECONDARY_VM_EXEC_CONTROL, SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID | SECONDARY_ENABLE_PML);
	vmcs_put(&v, VMCS_PML_ADDRESS, 0x16100);
	ck_assert_int_eq(vmx_check_controls(&v, &all).fail, VMX_CTL_PML_ADDR);

	/* "Save preemption-timer value" needs the timer. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_VM_EXIT_CONTROLS, vmcs_get(&v, VMCS_VM_EXIT_CONTROLS) | EXIT_SAVE_PREEMPTION_TIMER);
	ck_assert_int_eq(vmx_check_controls(&v, &all).fail, VMX_CTL_SAVE_TIMER_WITHOUT_TIMER);
	vmcs_put(&v, VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16 | PIN_EXT_INTR_EXITING | PIN_PREEMPTION_TIMER);
	ck_assert_int_eq(vmx_check_controls(&v, &all).fail, VMX_CTL_OK);
}
END_TEST

START_TEST(test_vmx_event_injection_fields)
{
	struct vmcs v;
	valid_vmcs(&v);
	/* Hardware exception (type 3) #GP (13) without its error code. */
	vmcs_put(&v, VMCS_VM_ENTRY_INTR_INFO, 0x80000000 | (3u << 8) | 13);
	assert_error(&v, 7);
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_EVENT_DELIVER_CODE);
	/* #UD (6) with an error code. */
	vmcs_put(&v, VMCS_VM_ENTRY_INTR_INFO, 0x80000000 | (1u << 11) | (3u << 8) | 6);
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_EVENT_DELIVER_CODE);
	/* Error codes for #DF 8, #TS 10, #NP 11, #SS 12, #GP 13, #PF 14, #AC 17. */
	static const unsigned with_code[] = {8, 10, 11, 12, 13, 14, 17};
	for (size_t i = 0; i < sizeof(with_code) / sizeof(with_code[0]); i++) {
		vmcs_put(&v, VMCS_VM_ENTRY_INTR_INFO, 0x80000000 | (1u << 11) | (3u << 8) | with_code[i]);
		ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
	}
	/* Error code bits 31:16 must be 0. */
	vmcs_put(&v, VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE, 0x10000);
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_EVENT_ERROR_CODE);
	vmcs_put(&v, VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE, 0);
	/* Hardware exception vector above 31; NMI (type 2) with vector 3. */
	vmcs_put(&v, VMCS_VM_ENTRY_INTR_INFO, 0x80000000 | (3u << 8) | 32);
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_EVENT_VECTOR);
	vmcs_put(&v, VMCS_VM_ENTRY_INTR_INFO, 0x80000000 | (2u << 8) | 3);
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_EVENT_VECTOR);
	/* Type 1 is reserved; type 7 needs "monitor trap flag", refused here. */
	vmcs_put(&v, VMCS_VM_ENTRY_INTR_INFO, 0x80000000 | (1u << 8) | 0x20);
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_EVENT_TYPE);
	vmcs_put(&v, VMCS_VM_ENTRY_INTR_INFO, 0x80000000 | (7u << 8));
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_EVENT_TYPE);
	/* Reserved bit 12. */
	vmcs_put(&v, VMCS_VM_ENTRY_INTR_INFO, 0x80000000 | (1u << 12) | 0xec);
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_EVENT_RESERVED);
	/* Software interrupt (type 4) needs an instruction length of 1-15. */
	vmcs_put(&v, VMCS_VM_ENTRY_INTR_INFO, 0x80000000 | (4u << 8) | 0x80);
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_EVENT_INSN_LEN);
	vmcs_put(&v, VMCS_VM_ENTRY_INSTRUCTION_LEN, 2);
	ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
	vmcs_put(&v, VMCS_VM_ENTRY_INSTRUCTION_LEN, 16);
	ck_assert_int_eq(entry(&v).ctl.fail, VMX_CTL_EVENT_INSN_LEN);
	/* The valid bit clear: nothing is checked. */
	vmcs_put(&v, VMCS_VM_ENTRY_INTR_INFO, (7u << 8) | 0xff);
	ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
}
END_TEST

START_TEST(test_vmx_eptp_validity)
{
	/* WB, 4-level, A/D: KVM's 0x5e; UC 4-level without A/D. */
	ck_assert(vmx_eptp_valid(caps, 0x5000 | 0x5e));
	ck_assert(vmx_eptp_valid(caps, 0x5000 | (3u << 3)));
	ck_assert(!vmx_eptp_valid(caps, 0x5000 | 6 | (4u << 3)));        /* 5-level: no cap bit 7 */
	ck_assert(!vmx_eptp_valid(caps, 0x5000 | 1 | (3u << 3)));        /* WC */
	ck_assert(!vmx_eptp_valid(caps, 0x5000 | 0x5e | (1u << 7)));     /* shadow-stack bit */
	ck_assert(!vmx_eptp_valid(caps, 0x5000 | 0x5e | 0x100));         /* bit 8 reserved */
	ck_assert(!vmx_eptp_valid(caps, (UINT64_C(1) << 46) | 0x5e));    /* beyond MAXPHYADDR */
	struct vmx_caps no_ad = vmx_model_caps;
	no_ad.ept_vpid_cap &= ~EPT_CAP_AD;
	ck_assert(!vmx_eptp_valid(&no_ad, 0x5000 | 0x5e));
	ck_assert(vmx_eptp_valid(&no_ad, 0x5000 | 0x1e));
}
END_TEST

/* ---- phase 2: host state, error 8 ------------------------------------ */

START_TEST(test_vmx_host_state_fails_error8)
{
	struct vmcs v;
	/* Host CR4.VMXE = 0 (IA32_VMX_CR4_FIXED0 bit 13). */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_HOST_CR4, CR4_PAE | CR4_PGE);
	assert_error(&v, 8);
	ck_assert_int_eq(entry(&v).host.fail, VMX_HOST_CR4_FIXED);
	/* Host CR4 bit 22 (PKE): not in IA32_VMX_CR4_FIXED1 on this part. */
	vmcs_put(&v, VMCS_HOST_CR4, CR4_PAE | CR4_VMXE | (UINT64_C(1) << 22));
	ck_assert_int_eq(entry(&v).host.fail, VMX_HOST_CR4_FIXED);
	/* Host CR0.NE = 0. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_HOST_CR0, CR0_PE | CR0_PG);
	ck_assert_int_eq(entry(&v).host.fail, VMX_HOST_CR0_FIXED);
	/* Host CR3 beyond MAXPHYADDR. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_HOST_CR3, UINT64_C(1) << 46);
	ck_assert_int_eq(entry(&v).host.fail, VMX_HOST_CR3);
	/* "Host address-space size" = 0 with the VMM in IA-32e mode. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_VM_EXIT_CONTROLS, 0x00036dfb | EXIT_ACK_INTR_ON_EXIT);
	ck_assert_int_eq(entry(&v).host.fail, VMX_HOST_ADDR_SPACE_SIZE);
	assert_error(&v, 8);
	/* Selectors: RPL or TI set, CS 0, TR 0. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_HOST_DS_SELECTOR, 0x1b);
	ck_assert_int_eq(entry(&v).host.fail, VMX_HOST_SELECTOR_RPL_TI);
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_HOST_TR_SELECTOR, 0x44);
	ck_assert_int_eq(entry(&v).host.fail, VMX_HOST_SELECTOR_RPL_TI);
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_HOST_CS_SELECTOR, 0);
	ck_assert_int_eq(entry(&v).host.fail, VMX_HOST_CS_NULL);
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_HOST_TR_SELECTOR, 0);
	ck_assert_int_eq(entry(&v).host.fail, VMX_HOST_TR_NULL);
	/* A 64-bit host may have SS = 0. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_HOST_SS_SELECTOR, 0);
	ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
	/* Non-canonical bases and RIP. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_HOST_GS_BASE, UINT64_C(0x0000800000000000));
	ck_assert_int_eq(entry(&v).host.fail, VMX_HOST_BASE);
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_HOST_RIP, UINT64_C(0xffff7fffffffffff));
	ck_assert_int_eq(entry(&v).host.fail, VMX_HOST_RIP);
	vmcs_put(&v, VMCS_HOST_RIP, UINT64_C(0xffffffff81000000));
	ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
	/* With "load IA32_EFER", host EFER.LMA/LME must match the 64-bit host. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_VM_EXIT_CONTROLS, vmcs_get(&v, VMCS_VM_EXIT_CONTROLS) | EXIT_LOAD_IA32_EFER);
	ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
	vmcs_put(&v, VMCS_HOST_IA32_EFER, EFER_LME | EFER_NXE);
	ck_assert_int_eq(entry(&v).host.fail, VMX_HOST_EFER);
	/* With "load IA32_PAT", every byte a valid memory type (2 is not). */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_VM_EXIT_CONTROLS, vmcs_get(&v, VMCS_VM_EXIT_CONTROLS) | EXIT_LOAD_IA32_PAT);
	vmcs_put(&v, VMCS_HOST_IA32_PAT, UINT64_C(0x0007040600070406));
	ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
	vmcs_put(&v, VMCS_HOST_IA32_PAT, UINT64_C(0x0007040600070402));
	ck_assert_int_eq(entry(&v).host.fail, VMX_HOST_PAT);
}
END_TEST

/* ---- phase 3: guest state, exit reason 33 | bit 31 --------------------- */

START_TEST(test_vmx_guest_control_registers)
{
	struct vmcs v;
	/* CR0.PG without PE: the fixed-0 check without unrestricted guest ... */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_GUEST_CR0, CR0_NE | CR0_WP | CR0_PG);
	assert_guest_fail(&v, VMX_GUEST_CR0_FIXED, 0);
	/* ... and the PG => PE rule with it. */
	vmcs_put(&v, VMCS_SECONDARY_VM_EXEC_CONTROL,
		 SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID | SECONDARY_UNRESTRICTED_GUEST);
	assert_guest_fail(&v, VMX_GUEST_CR0_PG_WITHOUT_PE, 0);
	/* Guest CR4.VMXE = 0 (IA32_VMX_CR4_FIXED0). */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_GUEST_CR4, CR4_PAE | CR4_PGE);
	assert_guest_fail(&v, VMX_GUEST_CR4_FIXED, 0);
	/* IA-32e mode guest without CR4.PAE. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_GUEST_CR4, CR4_VMXE);
	assert_guest_fail(&v, VMX_GUEST_IA32E_PG_PAE, 0);
	/* Guest CR3 beyond MAXPHYADDR. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_GUEST_CR3, UINT64_C(1) << 50);
	assert_guest_fail(&v, VMX_GUEST_CR3, 0);
	/* With "load IA32_EFER", LMA must equal "IA-32e mode guest". */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_VM_ENTRY_CONTROLS, vmcs_get(&v, VMCS_VM_ENTRY_CONTROLS) | ENTRY_LOAD_IA32_EFER);
	ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
	vmcs_put(&v, VMCS_GUEST_IA32_EFER, EFER_LME | EFER_NXE);
	assert_guest_fail(&v, VMX_GUEST_EFER, 0);
	/* Without it, the EFER field is not checked. */
	vmcs_put(&v, VMCS_VM_ENTRY_CONTROLS, vmcs_get(&v, VMCS_VM_ENTRY_CONTROLS) & ~ENTRY_LOAD_IA32_EFER);
	ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
	/* With "load debug controls", DR7 bits 63:32 must be 0. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_VM_ENTRY_CONTROLS, vmcs_get(&v, VMCS_VM_ENTRY_CONTROLS) | ENTRY_LOAD_DEBUG_CONTROLS);
	vmcs_put(&v, VMCS_GUEST_DR7, UINT64_C(0x100000400));
	assert_guest_fail(&v, VMX_GUEST_DR7, 0);
}
END_TEST

START_TEST(test_vmx_guest_rflags_rip)
{
	struct vmcs v;
	/* RFLAGS bit 1 clear. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_GUEST_RFLAGS, 0x200);
	assert_guest_fail(&v, VMX_GUEST_RFLAGS_RESERVED, 0);
	/* Reserved bit 3. */
	vmcs_put(&v, VMCS_GUEST_RFLAGS, 0x20a);
	assert_guest_fail(&v, VMX_GUEST_RFLAGS_RESERVED, 0);
	/* RFLAGS.VM in IA-32e mode. */
	vmcs_put(&v, VMCS_GUEST_RFLAGS, 0x20202);
	assert_guest_fail(&v, VMX_GUEST_RFLAGS_VM, 0);
	/* IF = 0 while an external interrupt is injected. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_GUEST_RFLAGS, 0x2);
	ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
	vmcs_put(&v, VMCS_VM_ENTRY_INTR_INFO, 0x800000ec);
	assert_guest_fail(&v, VMX_GUEST_RFLAGS_IF, 0);
	/* 64-bit code segment: RIP must be canonical. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_GUEST_RIP, UINT64_C(0x0000800000000000));
	assert_guest_fail(&v, VMX_GUEST_RIP, 0);
	vmcs_put(&v, VMCS_GUEST_RIP, UINT64_C(0xffffffff81000000));
	ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
	/* Compatibility-mode CS (L = 0): RIP bits 63:32 must be 0. */
	vmcs_put(&v, VMCS_GUEST_CS_AR, 0xc09b);
	assert_guest_fail(&v, VMX_GUEST_RIP, 0);
}
END_TEST

START_TEST(test_vmx_guest_segments)
{
	struct vmcs v;
	/* CS type 3 (data) without unrestricted guest. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_GUEST_CS_AR, 0xa093);
	assert_guest_fail(&v, VMX_GUEST_CS_AR, 0);
	/* CS not present. */
	vmcs_put(&v, VMCS_GUEST_CS_AR, AR_CODE64 & ~0x80u);
	assert_guest_fail(&v, VMX_GUEST_CS_AR, 0);
	/* 64-bit CS with D/B set. */
	vmcs_put(&v, VMCS_GUEST_CS_AR, AR_CODE64 | (1u << 14));
	assert_guest_fail(&v, VMX_GUEST_CS_AR, 0);
	/* CS DPL 3 while SS DPL 0. */
	vmcs_put(&v, VMCS_GUEST_CS_AR, AR_CODE64 | (3u << 5));
	assert_guest_fail(&v, VMX_GUEST_CS_AR, 0);
	/* G = 1 with a limit whose bits 11:0 are not all ones. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_GUEST_CS_LIMIT, 0xfffff000);
	assert_guest_fail(&v, VMX_GUEST_SEG_LIMIT_G, 0);
	/* Usable SS of a code type. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_GUEST_SS_AR, 0xc09b);
	assert_guest_fail(&v, VMX_GUEST_SS_AR, 0);
	/* SS.RPL differs from CS.RPL. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_GUEST_SS_SELECTOR, 0x1b);
	assert_guest_fail(&v, VMX_GUEST_SS_RPL, 0);
	/* A null, unusable SS is fine for a 64-bit guest; its DPL still counts. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_GUEST_SS_SELECTOR, 0);
	vmcs_put(&v, VMCS_GUEST_SS_AR, AR_UNUSABLE);
	ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
	/* A usable DS must be accessed, S = 1 and present. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_GUEST_DS_SELECTOR, 0x18);
	vmcs_put(&v, VMCS_GUEST_DS_AR, AR_DATA);
	vmcs_put(&v, VMCS_GUEST_DS_LIMIT, 0xffffffff);
	ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
	vmcs_put(&v, VMCS_GUEST_DS_AR, AR_DATA & ~1u);
	assert_guest_fail(&v, VMX_GUEST_DATA_SEG_AR, 0);
	/* TR unusable, TR of a 32-bit busy-TSS type for a 64-bit guest is fine
	 * (11), a 16-bit busy TSS (3) is not, nor is TI = 1. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_GUEST_TR_AR, AR_TSS64 | AR_UNUSABLE);
	assert_guest_fail(&v, VMX_GUEST_TR_AR, 0);
	vmcs_put(&v, VMCS_GUEST_TR_AR, 0x83);
	assert_guest_fail(&v, VMX_GUEST_TR_AR, 0);
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_GUEST_TR_SELECTOR, 0x44);
	assert_guest_fail(&v, VMX_GUEST_SEL_TI, 0);
	/* A usable LDTR must be of type 2. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_GUEST_LDTR_SELECTOR, 0x50);
	vmcs_put(&v, VMCS_GUEST_LDTR_AR, 0x82);
	vmcs_put(&v, VMCS_GUEST_LDTR_LIMIT, 0xfff);
	ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
	vmcs_put(&v, VMCS_GUEST_LDTR_AR, 0x89);
	assert_guest_fail(&v, VMX_GUEST_LDTR_AR, 0);
	/* Non-canonical FS base; GDTR limit above 0xffff. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_GUEST_FS_BASE, UINT64_C(0x0000800000000000));
	assert_guest_fail(&v, VMX_GUEST_SEG_BASE, 0);
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_GUEST_GDTR_LIMIT, 0x10000);
	assert_guest_fail(&v, VMX_GUEST_DESC_TABLE, 0);
}
END_TEST

/* A real-mode guest (CR0.PE = PG = 0) passes only with unrestricted guest. */
START_TEST(test_vmx_unrestricted_guest_relaxes_cr0)
{
	struct vmcs v;
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_VM_ENTRY_CONTROLS, 0x000011fb);
	vmcs_put(&v, VMCS_GUEST_CR0, CR0_NE | (1u << 4));
	vmcs_put(&v, VMCS_GUEST_CR4, CR4_VMXE);
	vmcs_put(&v, VMCS_GUEST_CS_SELECTOR, 0xf000);
	vmcs_put(&v, VMCS_GUEST_CS_BASE, 0xffff0000);
	vmcs_put(&v, VMCS_GUEST_CS_LIMIT, 0xffff);
	vmcs_put(&v, VMCS_GUEST_CS_AR, 0x93);
	vmcs_put(&v, VMCS_GUEST_SS_SELECTOR, 0);
	vmcs_put(&v, VMCS_GUEST_SS_LIMIT, 0xffff);
	vmcs_put(&v, VMCS_GUEST_SS_AR, 0x93);
	vmcs_put(&v, VMCS_GUEST_TR_LIMIT, 0xffff);
	vmcs_put(&v, VMCS_GUEST_RIP, 0xfff0);
	vmcs_put(&v, VMCS_GUEST_RFLAGS, 0x2);
	assert_guest_fail(&v, VMX_GUEST_CR0_FIXED, 0);
	vmcs_put(&v, VMCS_SECONDARY_VM_EXEC_CONTROL,
		 SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID | SECONDARY_UNRESTRICTED_GUEST);
	ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
	/* With CR0.PE = 0 (or a CS of type 3), SS.DPL must be 0. */
	vmcs_put(&v, VMCS_GUEST_SS_AR, 0xf3);
	assert_guest_fail(&v, VMX_GUEST_SS_AR, 0);
}
END_TEST

START_TEST(test_vmx_guest_non_register_state)
{
	struct vmcs v;
	/* VMCS link pointer not all ones: qualification 4. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_LINK_POINTER, 0);
	assert_guest_fail(&v, VMX_GUEST_LINK_POINTER, 4);
	/* Activity state 2 (shutdown) is not in IA32_VMX_MISC; 4 is undefined. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_GUEST_ACTIVITY_STATE, 2);
	assert_guest_fail(&v, VMX_GUEST_ACTIVITY_STATE, 0);
	vmcs_put(&v, VMCS_GUEST_ACTIVITY_STATE, 4);
	assert_guest_fail(&v, VMX_GUEST_ACTIVITY_STATE, 0);
	/* HLT is supported, with SS.DPL = 0, and takes an external interrupt
	 * but not a #PF. */
	vmcs_put(&v, VMCS_GUEST_ACTIVITY_STATE, 1);
	ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
	vmcs_put(&v, VMCS_VM_ENTRY_INTR_INFO, 0x800000ec);
	ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
	vmcs_put(&v, VMCS_VM_ENTRY_INTR_INFO, 0x80000b0e);
	assert_guest_fail(&v, VMX_GUEST_ACTIVITY_EVENT, 0);
	/* Interruptibility: STI and MOV-SS blocking together; bit 4 reserved;
	 * STI blocking with IF = 0; SMI blocking outside SMM. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_GUEST_INTERRUPTIBILITY, 0x3);
	assert_guest_fail(&v, VMX_GUEST_INTERRUPTIBILITY, 0);
	vmcs_put(&v, VMCS_GUEST_INTERRUPTIBILITY, 0x10);
	assert_guest_fail(&v, VMX_GUEST_INTERRUPTIBILITY, 0);
	vmcs_put(&v, VMCS_GUEST_INTERRUPTIBILITY, 0x4);
	assert_guest_fail(&v, VMX_GUEST_INTERRUPTIBILITY, 0);
	vmcs_put(&v, VMCS_GUEST_INTERRUPTIBILITY, 0x1);
	vmcs_put(&v, VMCS_GUEST_RFLAGS, 0x2);
	assert_guest_fail(&v, VMX_GUEST_INTERRUPTIBILITY, 0);
	/* STI blocking with IF = 1 is fine, but not with an injected interrupt. */
	vmcs_put(&v, VMCS_GUEST_RFLAGS, 0x202);
	ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
	vmcs_put(&v, VMCS_VM_ENTRY_INTR_INFO, 0x800000ec);
	assert_guest_fail(&v, VMX_GUEST_INTERRUPTIBILITY, 0);
	/* Pending debug exceptions: reserved bit 4. */
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_GUEST_PENDING_DBG_EXCEPTIONS, 0x10);
	assert_guest_fail(&v, VMX_GUEST_PENDING_DBG, 0);
}
END_TEST

/* PAE paging under EPT takes the PDPTE fields: reserved bits -> qual 2. */
START_TEST(test_vmx_guest_pdptes)
{
	struct vmcs v;
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_VM_ENTRY_CONTROLS, 0x000011fb); /* not IA-32e */
	vmcs_put(&v, VMCS_GUEST_CS_AR, 0xc09b);           /* 32-bit code */
	vmcs_put(&v, VMCS_GUEST_RIP, 0x1000);
	vmcs_put(&v, VMCS_GUEST_PDPTE1, 0x7001);
	ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
	vmcs_put(&v, VMCS_GUEST_PDPTE1, 0x7003); /* R/W is reserved in a PDPTE */
	assert_guest_fail(&v, VMX_GUEST_PDPTE, 2);
	vmcs_put(&v, VMCS_GUEST_PDPTE1, 0x7002); /* not present: not checked */
	ck_assert_int_eq(entry(&v).outcome, VMX_ENTRY_PASS);
}
END_TEST

/* The failure is recorded as the SDM says: exit reason and qualification
 * only; guest state, the injected event's valid bit and the launch state
 * stay as they were. */
START_TEST(test_vmx_entry_failure_recorded_in_vmcs)
{
	struct vmcs v;
	valid_vmcs(&v);
	vmcs_put(&v, VMCS_LINK_POINTER, 0x1000);
	vmcs_put(&v, VMCS_VM_ENTRY_INTR_INFO, 0x800000ec);
	vmcs_put(&v, VMCS_VM_EXIT_INTR_INFO, 0x800000ec); /* from an earlier exit */
	vmcs_put(&v, VMCS_GUEST_RIP, 0x401000);
	struct vmx_entry_check c = entry(&v);
	ck_assert_int_eq(c.outcome, VMX_ENTRY_FAIL_GUEST);
	vmx_record_entry_failure(&v, &c);
	ck_assert_uint_eq(vmcs_get(&v, VMCS_EXIT_REASON), 0x80000021);
	ck_assert_uint_eq(vmcs_get(&v, VMCS_EXIT_REASON) & EXIT_REASON_BASIC_MASK, EXIT_REASON_INVALID_GUEST_STATE);
	ck_assert_uint_eq(vmcs_get(&v, VMCS_EXIT_QUALIFICATION), 4);
	ck_assert_uint_eq(vmcs_get(&v, VMCS_VM_ENTRY_INTR_INFO), 0x800000ec);
	ck_assert_uint_eq(vmcs_get(&v, VMCS_VM_EXIT_INTR_INFO), 0x800000ec);
	ck_assert_uint_eq(vmcs_get(&v, VMCS_GUEST_RIP), 0x401000);
	ck_assert(!v.launched);
}
END_TEST

START_TEST(test_vmx_failure_names_and_qualifications)
{
	for (int f = 0; f < VMX_CTL_NFAILS; f++)
		ck_assert_str_ne(vmx_ctl_fail_name((enum vmx_ctl_fail)f), "unknown");
	for (int f = 0; f < VMX_HOST_NFAILS; f++)
		ck_assert_str_ne(vmx_host_fail_name((enum vmx_host_fail)f), "unknown");
	for (int f = 0; f < VMX_GUEST_NFAILS; f++) {
		ck_assert_str_ne(vmx_guest_fail_name((enum vmx_guest_fail)f), "unknown");
		uint64_t q = vmx_guest_fail_qualification((enum vmx_guest_fail)f);
		ck_assert_uint_eq(q, f == VMX_GUEST_LINK_POINTER ? 4 : f == VMX_GUEST_PDPTE ? 2 : 0);
	}
	ck_assert_str_eq(vmx_ctl_fail_name(VMX_CTL_NFAILS), "unknown");
}
END_TEST

static Suite *vmx_suite(void)
{
	Suite *s = suite_create("vmx");
	TCase *tc = tcase_create("caps");
	tcase_add_test(tc, test_vmx_basic_msr);
	tcase_add_test(tc, test_vmx_control_msrs_allowed_bits);
	tcase_add_test(tc, test_vmx_misc_fixed_and_ept_msrs);
	tcase_add_test(tc, test_vmx_ctls_allowed_helper);
	suite_add_tcase(s, tc);

	tc = tcase_create("entry_checks");
	tcase_add_test(tc, test_vmx_valid_vmcs_passes_all_phases);
	tcase_add_test(tc, test_vmx_phases_run_in_order);
	tcase_add_test(tc, test_vmx_forbidden_control_fails_error7);
	tcase_add_test(tc, test_vmx_must_be_one_control_left_zero_fails_error7);
	tcase_add_test(tc, test_vmx_control_field_values);
	tcase_add_test(tc, test_vmx_dependencies_of_refused_controls);
	tcase_add_test(tc, test_vmx_event_injection_fields);
	tcase_add_test(tc, test_vmx_eptp_validity);
	tcase_add_test(tc, test_vmx_host_state_fails_error8);
	tcase_add_test(tc, test_vmx_guest_control_registers);
	tcase_add_test(tc, test_vmx_guest_rflags_rip);
	tcase_add_test(tc, test_vmx_guest_segments);
	tcase_add_test(tc, test_vmx_unrestricted_guest_relaxes_cr0);
	tcase_add_test(tc, test_vmx_guest_non_register_state);
	tcase_add_test(tc, test_vmx_guest_pdptes);
	tcase_add_test(tc, test_vmx_entry_failure_recorded_in_vmcs);
	tcase_add_test(tc, test_vmx_failure_names_and_qualifications);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(vmx_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
