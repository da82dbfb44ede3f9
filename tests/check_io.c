/*
 * The three I/O paths end to end (issue 6, items 5 and 7): the net-io
 * workload (one 8 KiB frame received, one 64-byte reply sent) on a machine
 * with the NIC and the NVMe controller, natively and under shadow paging
 * and EPT, with io.path = emulated, assigned and bounce.
 *
 * The figures, worked out from the drivers (src/guest/drivers.c) and the
 * device models (src/dev):
 *  - register accesses of the guest kernel: the NIC's bring-up writes 13
 *    registers (RDBAL RDBAH RDLEN RDH RDT TDBAL TDBAH TDLEN TDH TDT RCTL TCTL
 *    IMS); the NVMe bring-up writes AQA, ASQ (2 halves), ACQ (2 halves), CC
 *    and reads CSTS (7), then submits Create I/O CQ and Create I/O SQ (a
 *    tail doorbell each) and takes their two completions (a head doorbell
 *    each): 11. The receive: RDT when posting, ICR and RDT in the
 *    interrupt handler (3); the send: TDT, ICR (2). In all 13 + 11 + 5 = 29,
 *    of them 3 loads (CSTS, ICR twice).
 *  - device DMA: the NVMe admin commands: 2 SQE fetches + 2 CQE write-backs
 *    (4); the 8 KiB frame in 2048-byte receive buffers: 4 descriptors
 *    fetched, 4 payload writes of 2048, 4 write-backs (12); the reply: a
 *    descriptor, a 64-byte payload read, a write-back (3): 19 requests, of
 *    8536 bytes (4 x 64 + 2 x 16 + 12 x 16 + 8192 + 64 = 256 + 32 + 192 +
 *    8192 + 64).
 *  - each is one page or less, so the VT-d unit sees 19 requests; they touch
 *    7 distinct pages (the admin SQ and CQ, the RX and TX rings, the two
 *    pages of the receive buffer, the reply's page): 7 IOTLB misses, 12 hits.
 *  - bounce: every payload is mapped through swiotlb per reference sheet
 *    §8.3: each of the 4 receive pieces (FROM_DEVICE) is copied at map and
 *    at unmap (8 copies, 16384 bytes), the reply (TO_DEVICE) at map (1
 *    copy, 64 bytes): 9 copies, 16448 bytes.
 *  - emulated: the back end copies each payload once: 8192 + 64 = 8256.
 */
#include <check.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "arch/vmcs_fields.h"
#include "arch/vmx_controls.h"
#include "cli/run.h"
#include "cpu/vmx.h"
#include "trace/event_array.h"

/* net-io, one 8 KiB frame, in mode with the settings path and then more
 * (NULL-terminated, may be NULL). */
static void run_io_with(enum sim_mode mode, const char *path, const char *const *more, struct run_result *r)
{
	struct sim_params p;
	char err[CPU_ERR_LEN], perr[256];
	params_defaults(&p);
	const char *sets[] = {"workload.iterations=1", "workload.size=8192", path};
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		ck_assert_msg(params_set(&p, sets[i], perr) == 0, "%s", perr);
	for (; more && *more; more++)
		ck_assert_msg(params_set(&p, *more, perr) == 0, "%s", perr);
	char *console = NULL;
	ck_assert_msg(sim_run_workload(&p, mode, "net-io", NULL, r, NULL, &console, err) == 0, "%s", err);
	ck_assert_str_eq(console, "net_io.frames=1\nnet_io.bytes_received=8192\nnet_io.bytes_sent=64\nnet_io.line_sum=0\n");
	free(console);
}

static void run_io(enum sim_mode mode, const char *path, struct run_result *r)
{
	run_io_with(mode, path, NULL, r);
}

/* What every path shares: the guest's requests and the devices' work. */
static void check_common(const struct run_result *r)
{
	ck_assert_uint_eq(r->ctr.v[CTR_GUEST_IO_REQUESTS], 2);
	ck_assert_uint_eq(r->ctr.v[CTR_GUEST_IO_BYTES], 8256);
	ck_assert_uint_eq(r->ctr.v[CTR_GUEST_IO_MMIO], 29);
	ck_assert_uint_eq(r->ctr.v[CTR_DEV_DMA_REQUESTS], 19);
	ck_assert_uint_eq(r->ctr.v[CTR_DEV_DMA_BYTES], 8536);
	ck_assert_uint_eq(r->ctr.v[CTR_DEV_NIC_RX_FRAMES], 1);
	ck_assert_uint_eq(r->ctr.v[CTR_DEV_NIC_RX_BYTES], 8192);
	ck_assert_uint_eq(r->ctr.v[CTR_DEV_NIC_TX_FRAMES], 1);
	ck_assert_uint_eq(r->ctr.v[CTR_DEV_NIC_TX_BYTES], 64);
	ck_assert_uint_eq(r->ctr.v[CTR_DEV_NVME_CMDS], 2);
	/* The 4 completions (2 admin, the frame, the reply) reach the guest. */
	ck_assert_uint_eq(r->ctr.v[CTR_GUEST_IO_INTERRUPTS], 4);
}

/* Natively the kernel's accesses reach the devices: 26 stores, 3 loads,
 * 4 interrupts through the IDT, no IOMMU, no copies. */
START_TEST(test_io_native)
{
	struct run_result r;
	run_io(MODE_NATIVE, "io.path=emulated", &r);
	check_common(&r);
	ck_assert_uint_eq(r.ctr.v[CTR_CPU_MMIO_WRITES], 26);
	ck_assert_uint_eq(r.ctr.v[CTR_CPU_MMIO_READS], 3);
	ck_assert_uint_eq(r.ctr.v[CTR_INTR_DELIVERED], 4);
	ck_assert_uint_eq(r.ctr.v[CTR_VMX_EXITS], 0);
	ck_assert_uint_eq(r.ctr.v[CTR_IOMMU_REQUESTS], 0);
	ck_assert_uint_eq(r.ctr.v[CTR_VMM_IO_COPY_BYTES], 0);
	ck_assert_uint_eq(r.ctr.v[CTR_DMA_BOUNCE_COPIES], 0);
}
END_TEST

/* Emulated: each of the 29 register accesses exits and is emulated (an EPT
 * violation under EPT, a #PF under shadow paging), none reaches hardware;
 * the 4 device interrupts are injected; the back end copies 8256 bytes. */
START_TEST(test_io_emulated)
{
	static const enum sim_mode modes[] = {MODE_EPT, MODE_SHADOW};
	for (size_t m = 0; m < 2; m++) {
		struct run_result r;
		run_io(modes[m], "io.path=emulated", &r);
		check_common(&r);
		ck_assert_uint_eq(r.ctr.v[CTR_VMM_MMIO_EMULATED], 29);
		ck_assert_uint_eq(r.ctr.v[CTR_CPU_MMIO_READS] + r.ctr.v[CTR_CPU_MMIO_WRITES], 0);
		ck_assert_uint_eq(r.ctr.v[CTR_VMM_INTR_INJECTED], 4);
		ck_assert_uint_eq(r.ctr.v[CTR_VMM_IO_COPY_BYTES], 8256);
		ck_assert_uint_eq(r.ctr.v[CTR_IOMMU_REQUESTS], 0);
		ck_assert_uint_eq(r.ctr.v[CTR_DMA_BOUNCE_COPIES], 0);
		/* Every emulated access was an exit of the mode's kind. */
		unsigned reason = modes[m] == MODE_EPT ? EXIT_REASON_EPT_VIOLATION : EXIT_REASON_EXCEPTION_NMI;
		ck_assert_uint_ge(r.exits[reason].count, 29);
	}
}
END_TEST

/* Assigned: no register access exits for data: the guest's 29 accesses
 * reach the devices through the BAR pages the VMM mapped (the NIC's pages
 * 0x0000, 0x2000 and 0x3000 of its BAR: ICR/IMS/RCTL/TCTL, the RX and the TX
 * registers; the NVMe controller's 0x0000 and 0x1000: its registers and its
 * doorbells: 5 EPT violations, one per page); the VT-d unit remaps the 19
 * DMA requests (7 IOTLB misses, 12 hits); nothing is copied. */
START_TEST(test_io_assigned)
{
	struct run_result r;
	run_io(MODE_EPT, "io.path=assigned", &r);
	check_common(&r);
	ck_assert_uint_eq(r.ctr.v[CTR_VMM_MMIO_EMULATED], 0);
	ck_assert_uint_eq(r.ctr.v[CTR_VMM_MMIO_MAPPED], 5);
	ck_assert_uint_eq(r.ctr.v[CTR_CPU_MMIO_WRITES], 26);
	ck_assert_uint_eq(r.ctr.v[CTR_CPU_MMIO_READS], 3);
	ck_assert_uint_eq(r.ctr.v[CTR_IOMMU_REQUESTS], 19);
	ck_assert_uint_eq(r.ctr.v[CTR_IOMMU_IOTLB_MISS], 7);
	ck_assert_uint_eq(r.ctr.v[CTR_IOMMU_IOTLB_HIT], 12);
	ck_assert_uint_eq(r.ctr.v[CTR_DEV_DMA_BLOCKED], 0);
	ck_assert_uint_eq(r.ctr.v[CTR_VMM_IO_COPY_BYTES], 0);
	ck_assert_uint_eq(r.ctr.v[CTR_DMA_BOUNCE_COPIES], 0);
	/* Remapped interrupts: each reaches the VMM on a host vector (an exit
	 * when the guest runs, taken in root mode while it halts) and is injected. */
	ck_assert_uint_eq(r.ctr.v[CTR_VMM_INTR_INJECTED], 4);
	ck_assert_uint_eq(r.ctr.v[CTR_INTR_POSTED], 0);

	/* Shadow paging maps the BAR pages with shadow entries: no emulation. */
	run_io(MODE_SHADOW, "io.path=assigned", &r);
	check_common(&r);
	ck_assert_uint_eq(r.ctr.v[CTR_VMM_MMIO_EMULATED], 0);
	ck_assert_uint_eq(r.ctr.v[CTR_CPU_MMIO_READS] + r.ctr.v[CTR_CPU_MMIO_WRITES], 29);
	ck_assert_uint_eq(r.ctr.v[CTR_IOMMU_REQUESTS], 19);
}
END_TEST

/* Assigned with posted interrupts, on a core that processes them
 * (vmx.posted_intr) and a unit that posts them (CAP.PI, here a server
 * unit's CAP/ECAP as Linux printed them: cap 8d2078c106f0466 ecap f020df):
 * the 4 completions are posted into the descriptor and delivered to the
 * guest by posted-interrupt processing or, when the notification finds the
 * vCPU halted, at the next entry: none exits, none is injected. */
START_TEST(test_io_assigned_posted)
{
	static const char *const posted[] = {"io.posted=on", "vmx.posted_intr=on", "iommu.cap=0x8d2078c106f0466",
					     "iommu.ecap=0xf020df", NULL};
	struct run_result r;
	run_io_with(MODE_EPT, "io.path=assigned", posted, &r);
	check_common(&r);
	ck_assert_uint_eq(r.ctr.v[CTR_INTR_POSTED], 4);
	ck_assert_uint_eq(r.ctr.v[CTR_INTR_EXITING], 0);
	ck_assert_uint_eq(r.ctr.v[CTR_VMM_INTR_INJECTED], 0);
	ck_assert_uint_eq(r.exits[EXIT_REASON_EXTERNAL_INTERRUPT].count, 0);
	ck_assert_uint_eq(r.ctr.v[CTR_VMM_MMIO_EMULATED], 0);
}
END_TEST

/* Bounce: emulated registers; the back end's swiotlb copies each byte per
 * §8.3: 9 copies of 16448 bytes in all, through slots below 4 GiB. */
START_TEST(test_io_bounce)
{
	struct run_result r;
	run_io(MODE_EPT, "io.path=bounce", &r);
	check_common(&r);
	ck_assert_uint_eq(r.ctr.v[CTR_VMM_MMIO_EMULATED], 29);
	ck_assert_uint_eq(r.ctr.v[CTR_DMA_BOUNCE_COPIES], 9);
	ck_assert_uint_eq(r.ctr.v[CTR_DMA_BOUNCE_BYTES], 16448);
	ck_assert_uint_eq(r.ctr.v[CTR_DMA_BOUNCE_FULL], 0);
	ck_assert_uint_eq(r.ctr.v[CTR_VMM_IO_COPY_BYTES], 0);
	ck_assert_uint_eq(r.ctr.v[CTR_IOMMU_REQUESTS], 0);
}
END_TEST

/* Interrupts waiting for injection (src/vmm/vio.c): one is injected per
 * VM entry; while an event already fills the entry's injection field the
 * vector waits and the VMM asks for "interrupt-window exiting"; the core
 * then exits (reason 7) before the guest's next instruction once no
 * interrupt handler's work is pending; with the field free the vector is
 * injected and the control cleared. */
START_TEST(test_io_interrupt_window)
{
	static const struct guest_event ev[] = {{GEV_LOAD, 8, 0x401000, 0, 1, 0}};
	struct sim_params p;
	struct counters ctr;
	struct machine m;
	char err[CPU_ERR_LEN], perr[256];
	params_defaults(&p);
	ck_assert_int_eq(params_set(&p, "io.path=emulated", perr), 0);
	memset(&ctr, 0, sizeof(ctr));
	struct event_array a = event_array_of(ev, 1);
	struct frontend fe = {event_array_next, &a, NULL};
	ck_assert_msg(machine_init(&m, &p, MODE_EPT, &fe, &ctr, err) == 0, "%s", err);
	struct cpu *c = &m.cpu;
	uint64_t proc, info;
	/* A tick being injected; the NIC's vector waits. */
	const uint64_t tick = INTR_INFO_VALID | INTR_TYPE_EXT_INTR | VEC_LOCAL_TIMER;
	ck_assert_int_eq(vmx_write(c, VMCS_VM_ENTRY_INTR_INFO, tick), VMX_SUCCEED);
	m.vio.inject[0] = UINT64_C(1) << 0x30;
	ck_assert_int_eq(vio_before_entry(&m.vio), 0);
	vmx_read(c, VMCS_VM_ENTRY_INTR_INFO, &info);
	vmx_read(c, VMCS_CPU_BASED_VM_EXEC_CONTROL, &proc);
	ck_assert_uint_eq(info, tick);
	ck_assert(proc & CPU_INTR_WINDOW_EXITING);
	ck_assert(vio_pending(&m.vio));
	/* The core exits at once when no handler's work is pending (here the
	 * boot's queued operations are set aside: none retires). */
	ck_assert_int_eq(vmx_write(c, VMCS_VM_ENTRY_INTR_INFO, 0), VMX_SUCCEED);
	size_t head = c->ops_head;
	c->ops_head = c->ops_tail;
	ck_assert_int_eq(vmx_launch(c), VMX_SUCCEED);
	uint64_t reason;
	vmx_read(c, VMCS_EXIT_REASON, &reason);
	ck_assert_uint_eq(reason, EXIT_REASON_INTERRUPT_WINDOW);
	ck_assert_uint_eq(ctr.v[CTR_CPU_INSTRUCTIONS], 0);
	c->ops_head = head;
	/* The field is free now: the NIC's vector goes in, the control comes off. */
	ck_assert_int_eq(vio_before_entry(&m.vio), 0);
	vmx_read(c, VMCS_VM_ENTRY_INTR_INFO, &info);
	vmx_read(c, VMCS_CPU_BASED_VM_EXEC_CONTROL, &proc);
	ck_assert_uint_eq(info, INTR_INFO_VALID | INTR_TYPE_EXT_INTR | 0x30);
	ck_assert(!(proc & CPU_INTR_WINDOW_EXITING));
	ck_assert(!vio_pending(&m.vio));
	ck_assert_uint_eq(ctr.v[CTR_VMM_INTR_INJECTED], 1);
	machine_destroy(&m);
}
END_TEST

/* A device that never completes: the NIC's context entry is cleared
 * behind the guest's back, so its first descriptor fetch is blocked by the
 * VT-d unit (context entry not present, recorded), its receive ring halts
 * and no interrupt comes. The guest kernel halts, waits, and after 10000
 * idle halts without a device interrupt says so instead of ticking on. */
START_TEST(test_io_stalled_device_fails)
{
	static const struct guest_event ev[] = {
		{GEV_MMAP, 0, 0x10000000, 8192, 1, 3 | GEV_MMAP_ANON},
		{GEV_DEVIO, 0, 0x10000000, 8192, 1, DEVIO_NET_RX},
	};
	struct sim_params p;
	struct counters ctr;
	struct machine m;
	char err[CPU_ERR_LEN], perr[256];
	params_defaults(&p);
	ck_assert_int_eq(params_set(&p, "io.path=assigned", perr), 0);
	memset(&ctr, 0, sizeof(ctr));
	struct event_array a = event_array_of(ev, 2);
	struct frontend fe = {event_array_next, &a, NULL};
	ck_assert_msg(machine_init(&m, &p, MODE_EPT, &fe, &ctr, err) == 0, "%s", err);
	ck_assert_int_eq(iommu_drv_detach(&m.vio.drv, PLATFORM_SID_NIC), 0);
	ck_assert_int_eq(machine_run(&m), RUN_ERROR);
	/* The blocked request: the fetch of the first receive descriptor. */
	char want[CPU_ERR_LEN];
	snprintf(want, sizeof(want),
		 "guest kernel: 10000 idle halts without a device interrupt: the I/O it waits for never completes (the "
		 "VT-d unit blocked a DMA: DMA Read from 00:03.0 at 0x%" PRIx64 ": fault reason 0x02 (context entry not "
		 "present))",
		 guest_dev_ring(&m.os, 0, true));
	ck_assert_uint_ne(guest_dev_ring(&m.os, 0, true), 0);
	ck_assert_str_eq(m.cpu.err, want);
	ck_assert_uint_eq(ctr.v[CTR_VMM_IOMMU_FAULTS_REPORTED], 1);
	ck_assert_uint_eq(ctr.v[CTR_DEV_DMA_BLOCKED], 1);
	ck_assert_uint_eq(ctr.v[CTR_IOMMU_FAULT_CONTEXT_NOT_PRESENT], 1);
	/* 2 while the kernel waits for its two NVMe admin commands at boot
	 * (each ended by the completion's interrupt), then the 10000. */
	ck_assert_uint_eq(ctr.v[CTR_GUEST_IO_IDLE_HALTS], 10002);
	machine_destroy(&m);
}
END_TEST

/* Refusals, each one line: posted interrupts on a core without them; a
 * device I/O system call on a machine without devices. */
START_TEST(test_io_refusals)
{
	struct sim_params p;
	struct run_result r;
	char err[CPU_ERR_LEN], perr[256];
	params_defaults(&p);
	ck_assert_int_eq(params_set(&p, "io.path=assigned", perr), 0);
	ck_assert_int_eq(params_set(&p, "io.posted=on", perr), 0);
	ck_assert_int_eq(params_set(&p, "workload.iterations=1", perr), 0);
	ck_assert_int_eq(sim_run_workload(&p, MODE_EPT, "net-io", NULL, &r, NULL, NULL, err), -1);
	ck_assert_str_eq(err, "workload net-io: io.posted=on: this core's VMX capabilities do not allow \"process posted "
			      "interrupts\" (IA32_VMX_TRUE_PINBASED_CTLS bit 39 is 0 with vmx.posted_intr=off, as on the "
			      "i7-6700K)");
	ck_assert_int_eq(params_set(&p, "vmx.posted_intr=on", perr), 0);
	ck_assert_int_eq(sim_run_workload(&p, MODE_EPT, "net-io", NULL, &r, NULL, NULL, err), -1);
	ck_assert_str_eq(err, "workload net-io: io.posted=on: the VT-d unit cannot post interrupts (iommu.cap=0xd2008c40660462 "
			      "has no PI, bit 59)");
	/* io.posted belongs to the assigned path only. */
	ck_assert_int_eq(params_set(&p, "io.path=bounce", perr), 0);
	ck_assert_int_eq(params_validate(&p, perr), -1);
	ck_assert_str_eq(perr, "io.posted=on posts an assigned device's interrupts: it needs io.path=assigned");
	ck_assert_int_eq(params_set(&p, "io.posted=off", perr), 0);
	ck_assert_int_eq(params_set(&p, "host.mem_mib=4096", perr), 0);
	ck_assert_int_eq(params_set(&p, "guest.mem_mib=1024", perr), 0);
	ck_assert_int_eq(sim_run_workload(&p, MODE_EPT, "net-io", NULL, &r, NULL, NULL, err), -1);
	ck_assert_str_eq(err, "workload net-io: host.mem_mib=4096 leaves no host memory above 4 GiB for io.path=bounce");
}
END_TEST

static Suite *io_suite(void)
{
	Suite *s = suite_create("io");
	TCase *tc = tcase_create("paths");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_io_native);
	tcase_add_test(tc, test_io_emulated);
	tcase_add_test(tc, test_io_assigned);
	tcase_add_test(tc, test_io_assigned_posted);
	tcase_add_test(tc, test_io_bounce);
	tcase_add_test(tc, test_io_interrupt_window);
	tcase_add_test(tc, test_io_stalled_device_fails);
	tcase_add_test(tc, test_io_refusals);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(io_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
