/*
 * The real-hardware cross-check (issue 7, item 6): io-loop's bare-metal
 * variant (workloads/kvm_io.c: the same io_core object code as the io-loop
 * workload) runs as a real KVM guest through the KVM API, and its exits to
 * user space are counted: KVM_EXIT_IO, KVM_EXIT_HLT, KVM_EXIT_MMIO. The
 * simulator runs the io-loop workload with the same iterations in EPT mode
 * with emulated I/O; its I/O-instruction and HLT exits must equal KVM's,
 * its MMIO accesses the VMM emulated (EPT violations on the NIC's BAR page,
 * counter vmm.mmio.emulated) less the guest kernel's own driver accesses
 * (guest.io.mmio) must equal KVM_EXIT_MMIO, and all must equal the counts
 * worked out from the program.
 *
 * Notes:
 *  - The KVM guest: one memory slot of GUEST_BYTES at GPA 0, the first GiB
 *    identity-mapped with 2 MiB pages (PML4 0x1000, PDPT 0x2000, PD 0x3000), a
 *    64-bit code segment at CPL 0, the image at its load address, the
 *    struct wl_args at ARGS_GPA, the stack below STACK_TOP. No in-kernel
 *    irqchip or PIT is created, so every port access and every HLT exits
 *    to user space (KVM handles CPUID in the kernel: not counted).
 *  - IN reads all ones, as the simulator's VMM (and a PC with nothing at
 *    the port) answers.
 *  - MMIO: io_core's IMC store and STATUS load per round go to
 *    IO_KVM_NIC_GPA (workloads/io_core.h), mapped by the guest's page
 *    tables but in no memory slot, so each is a KVM_EXIT_MMIO; loads read
 *    0x83 (STATUS with the link up, the front end's default). The
 *    simulator's io-loop does its MMIO only when the run gives the machine
 *    a NIC: the run sets io.path=emulated.
 *  - The simulator counts the guest kernel's final HLT as an HLT exit; the
 *    KVM guest ends with the HLT at the header's final_hlt, also counted.
 *    The guest kernel's idle halts while it brings the NVMe controller up
 *    (guest.io.idle_halts) are its own, not io-loop's, and are subtracted.
 *  - Exit status: 0 pass, 1 fail, 77 skip (automake) when /dev/kvm is
 *    absent or unusable, with the reason on stdout.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/run.h"
#include "frontend/workload.h"

#define GUEST_BYTES (UINT64_C(8) << 20)
#define ARGS_GPA UINT64_C(0x100000)
#define STACK_TOP UINT64_C(0x200000)
#define ITERATIONS 64
#define NIC_GPA UINT64_C(0x10000000) /* IO_KVM_NIC_GPA of workloads/io_core.h */
#define NIC_STATUS_RESET 0x83u
#define HLT_EVERY 16 /* IO_HLT_EVERY of workloads/io_core.h */
#define MAX_EXITS 100000
#define SKIP 77

struct kvm_counts {
	uint64_t io, hlt, mmio, mmio_writes, mmio_bad;
};

static int passed, failed;

static void check(int ok, const char *what, uint64_t got, uint64_t want)
{
	printf("%s %s: %" PRIu64 " (expected %" PRIu64 ")\n", ok ? "ok  " : "FAIL", what, got, want);
	if (ok)
		passed++;
	else
		failed++;
}

static void put64(uint8_t *mem, uint64_t gpa, uint64_t v)
{
	memcpy(mem + gpa, &v, sizeof(v));
}

/* Run the image in a KVM guest. 0 with the counts, SKIP (reason printed)
 * if KVM cannot run a guest here, 1 on a failure of the run itself. */
static int run_kvm(const struct workload_image *img, const struct workload_header *h, struct kvm_counts *n)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		printf("kvm_crosscheck: skipped: cannot open /dev/kvm: %s\n", strerror(errno));
		return SKIP;
	}
	int rc = SKIP, vm = -1, vcpu = -1;
	uint8_t *mem = MAP_FAILED;
	struct kvm_run *run = MAP_FAILED;
	long run_size = 0;
	int api = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION) {
		printf("kvm_crosscheck: skipped: KVM API version %d, not %d\n", api, KVM_API_VERSION);
		goto out;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		printf("kvm_crosscheck: skipped: KVM_CREATE_VM: %s\n", strerror(errno));
		goto out;
	}
	mem = mmap(NULL, GUEST_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		printf("kvm_crosscheck: skipped: no %" PRIu64 " bytes of guest memory: %s\n", GUEST_BYTES, strerror(errno));
		goto out;
	}
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = GUEST_BYTES, .userspace_addr = (uintptr_t)mem};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		printf("kvm_crosscheck: skipped: KVM_SET_USER_MEMORY_REGION: %s\n", strerror(errno));
		goto out;
	}
	/* Identity map of the first GiB (the slot and the NIC's page) with 2 MiB
	 * pages; image, arguments. */
	put64(mem, 0x1000, 0x2000 | 3);
	put64(mem, 0x2000, 0x3000 | 3);
	for (uint64_t i = 0; i < 512; i++)
		put64(mem, 0x3000 + 8 * i, (i << 21) | 0x83); /* P, RW, PS */
	memcpy(mem + h->load_addr, img->bytes, img->size);
	put64(mem, ARGS_GPA, 0);                  /* size */
	put64(mem, ARGS_GPA + 8, ITERATIONS);    /* iterations */
	put64(mem, ARGS_GPA + 16, 1);            /* seed */

	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vcpu < 0 || run_size <= 0) {
		printf("kvm_crosscheck: skipped: KVM_CREATE_VCPU: %s\n", strerror(errno));
		goto out;
	}
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED) {
		printf("kvm_crosscheck: skipped: mmap of kvm_run: %s\n", strerror(errno));
		goto out;
	}
	struct kvm_sregs sregs;
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) {
		printf("kvm_crosscheck: skipped: KVM_GET_SREGS: %s\n", strerror(errno));
		goto out;
	}
	struct kvm_segment code = {.base = 0, .limit = 0xffffffff, .selector = 0x10, .type = 11, .present = 1,
				   .dpl = 0, .db = 0, .s = 1, .l = 1, .g = 1};
	struct kvm_segment data = {.base = 0, .limit = 0xffffffff, .selector = 0x18, .type = 3, .present = 1,
				   .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1};
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.cr3 = 0x1000;
	sregs.cr4 = 1u << 5;                      /* PAE */
	sregs.cr0 = 0x80000000u | 0x20u | 0x11u; /* PG, NE, ET, PE */
	sregs.efer = 0x500;                       /* LME, LMA */
	struct kvm_regs regs = {.rip = h->entry, .rsp = STACK_TOP, .rdi = ARGS_GPA, .rflags = 2};
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0 || ioctl(vcpu, KVM_SET_REGS, &regs) < 0) {
		printf("kvm_crosscheck: skipped: KVM_SET_SREGS/REGS: %s\n", strerror(errno));
		goto out;
	}
	uint64_t exits = 0;
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			if (exits == 0) {
				printf("kvm_crosscheck: skipped: KVM_RUN cannot run a guest here: %s\n", strerror(errno));
				goto out;
			}
			printf("kvm_crosscheck: KVM_RUN failed after %" PRIu64 " exits: %s\n", exits, strerror(errno));
			rc = 1;
			goto out;
		}
		if (++exits > MAX_EXITS) {
			printf("kvm_crosscheck: the guest did not reach its final HLT in %d exits\n", MAX_EXITS);
			rc = 1;
			goto out;
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			n->io += run->io.count;
			if (run->io.direction == KVM_EXIT_IO_IN)
				memset((uint8_t *)run + run->io.data_offset, 0xff, (size_t)run->io.size * run->io.count);
			break;
		case KVM_EXIT_MMIO:
			n->mmio++;
			n->mmio_writes += run->mmio.is_write;
			/* the IMC store of 0 or the STATUS load, 4 bytes each */
			if (run->mmio.len != 4 ||
			    run->mmio.phys_addr != NIC_GPA + (run->mmio.is_write ? 0xd8 : 0x08) ||
			    (run->mmio.is_write && memcmp(run->mmio.data, "\0\0\0\0", 4) != 0))
				n->mmio_bad++;
			if (!run->mmio.is_write) {
				uint32_t v = NIC_STATUS_RESET;
				memset(run->mmio.data, 0, sizeof(run->mmio.data));
				memcpy(run->mmio.data, &v, sizeof(v));
			}
			break;
		case KVM_EXIT_HLT:
			n->hlt++;
			if (ioctl(vcpu, KVM_GET_REGS, &regs) < 0) {
				printf("kvm_crosscheck: KVM_GET_REGS: %s\n", strerror(errno));
				rc = 1;
				goto out;
			}
			if (regs.rip == h->final_hlt + 1) {
				rc = 0;
				goto out;
			}
			break;
		default:
			ioctl(vcpu, KVM_GET_REGS, &regs);
			printf("kvm_crosscheck: unexpected KVM exit %u at RIP 0x%llx (hardware entry failure reason "
			       "0x%llx)\n",
			       run->exit_reason, (unsigned long long)regs.rip,
			       (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			rc = exits == 1 ? SKIP : 1;
			goto out;
		}
	}
out:
	if (run != MAP_FAILED)
		munmap(run, (size_t)run_size);
	if (mem != MAP_FAILED)
		munmap(mem, GUEST_BYTES);
	if (vcpu >= 0)
		close(vcpu);
	if (vm >= 0)
		close(vm);
	close(kvm);
	return rc;
}

int main(void)
{
	char err[CPU_ERR_LEN];
	const struct workload_image *img = workload_image_find("kvm-io");
	struct workload_header h;
	if (!img) {
		printf("kvm_crosscheck: the kvm-io image is missing from this build\n");
		return 1;
	}
	if (workload_header(img, &h, err) < 0) {
		printf("kvm_crosscheck: %s\n", err);
		return 1;
	}
	if (h.mem_end > GUEST_BYTES || !h.final_hlt || NIC_GPA < GUEST_BYTES) {
		printf("kvm_crosscheck: the kvm-io image does not fit the %" PRIu64 "-byte guest or has no final HLT\n",
		       GUEST_BYTES);
		return 1;
	}
	struct kvm_counts k = {0, 0, 0, 0, 0};
	int rc = run_kvm(img, &h, &k);
	if (rc != 0)
		return rc;

	struct sim_params p;
	params_defaults(&p);
	p.workload_iterations = ITERATIONS;
	p.io_path = IO_EMULATED; /* the NIC is there, emulated: its MMIO exits */
	struct run_result r;
	if (sim_run_workload(&p, MODE_EPT, "io-loop", NULL, &r, NULL, NULL, err) < 0) {
		printf("kvm_crosscheck: the simulator failed: %s\n", err);
		return 1;
	}
	uint64_t want_io = 2 * ITERATIONS, want_hlt = ITERATIONS / HLT_EVERY + 1;
	/* The guest kernel's own halts (waiting for its NVMe admin commands at
	 * boot) and its driver's own register accesses are not io-loop's: the
	 * bare-metal variant has no kernel. */
	uint64_t sim_io = r.exits[EXIT_REASON_IO_INSTRUCTION].count;
	uint64_t sim_hlt = r.exits[EXIT_REASON_HLT].count - r.ctr.v[CTR_GUEST_IO_IDLE_HALTS];
	uint64_t sim_mmio = r.ctr.v[CTR_VMM_MMIO_EMULATED] - r.ctr.v[CTR_GUEST_IO_MMIO];
	printf("KVM: %" PRIu64 " KVM_EXIT_IO, %" PRIu64 " KVM_EXIT_HLT, %" PRIu64 " KVM_EXIT_MMIO; simulator (ept, io.path="
	       "emulated): %" PRIu64 " I/O-instruction exits, %" PRIu64 " HLT exits (+ %" PRIu64 " of its kernel), %" PRIu64
	       " MMIO exits emulated (+ %" PRIu64 " of its kernel's drivers)\n",
	       k.io, k.hlt, k.mmio, sim_io, sim_hlt, r.ctr.v[CTR_GUEST_IO_IDLE_HALTS], sim_mmio, r.ctr.v[CTR_GUEST_IO_MMIO]);
	check(k.io == want_io, "KVM_EXIT_IO = 2 x iterations", k.io, want_io);
	check(k.hlt == want_hlt, "KVM_EXIT_HLT = iterations / 16 + the final HLT", k.hlt, want_hlt);
	check(k.mmio == 2 * ITERATIONS, "KVM_EXIT_MMIO = 2 x iterations", k.mmio, 2 * ITERATIONS);
	check(k.mmio_writes == ITERATIONS, "KVM_EXIT_MMIO writes (IMC) = iterations", k.mmio_writes, ITERATIONS);
	check(k.mmio_bad == 0, "KVM_EXIT_MMIO at other addresses, sizes or values", k.mmio_bad, 0);
	check(sim_io == k.io, "simulator I/O-instruction exits = KVM_EXIT_IO", sim_io, k.io);
	check(sim_hlt == k.hlt, "simulator HLT exits less its kernel's idle halts = KVM_EXIT_HLT", sim_hlt, k.hlt);
	check(r.ctr.v[CTR_VMM_IO] == k.io, "simulator vmm.io = KVM_EXIT_IO", r.ctr.v[CTR_VMM_IO], k.io);
	check(r.ctr.v[CTR_VMM_MMIO_EMULATED] >= r.ctr.v[CTR_GUEST_IO_MMIO] && sim_mmio == k.mmio,
	      "simulator vmm.mmio.emulated - guest.io.mmio = KVM_EXIT_MMIO", sim_mmio, k.mmio);
	printf("kvm_crosscheck: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
