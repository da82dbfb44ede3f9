/*
 * The guest OS model: the kernel a trace-driven guest runs, written as
 * software against the CPU's architectural interface. It keeps processes
 * with their own x86-64 page tables in guest-physical memory, builds them on
 * demand (a first touch raises #PF; the kernel allocates and zeroes a frame
 * and writes the PTEs with its own stores), and tears them down on munmap,
 * brk shrink and exit, with INVLPG or a full flush as Linux does.
 */
#ifndef VTSIM_GUEST_GUEST_H
#define VTSIM_GUEST_GUEST_H

#include <stdint.h>

#include "cpu/cpu.h"
#include "mem/mem.h"
#include "util/u64map.h"

/*
 * The guest kernel image: what the bootloader (native) or the VMM (VMX)
 * puts in guest-physical memory before the first instruction. Its initial
 * page tables (Linux's swapper_pg_dir) hold only the kernel half: the
 * direct map of all guest memory at GUEST_DIRECT_MAP_BASE with 1 GiB pages
 * (supervisor, global, execute-disable), through one PDPT.
 */
#define GUEST_SWAPPER_PML4 UINT64_C(0x1000) /* GPA; the initial CR3 */
#define GUEST_KERNEL_PDPT UINT64_C(0x2000)  /* GPA of the direct map's PDPT */

/* One process: an address space. */
struct guest_proc {
	uint32_t pid;
	uint64_t pml4;        /* GPA of the top-level table */
	struct u64map tables; /* table key (see guest.c) -> GPA | present-entry count */
	struct u64map pages;  /* VPN -> GPA of the mapped 4 KiB data page */
	uint64_t brk;         /* program break (GVA), 0 until the first brk */
	bool live;
};

struct guest_os {
	const struct sim_params *p;
	struct counters *ctr;
	struct frame_alloc frames; /* guest-physical frames */
	struct guest_proc proc;    /* the traced process (one address space per trace) */
	uint64_t cr0, cr4, efer;   /* the paging mode the kernel runs with */
	struct frontend src;       /* what the traced process executes */
};

/* The guest's IDT and system-call entry points (for cpu_attach_guest). */
extern const struct guest_os_ops guest_os_ops;

/* Set up the kernel's memory (guest.mem_mib of guest-physical memory) and
 * the process that executes the events of src. Returns 0, or -1 with a
 * message in err (CPU_ERR_LEN). */
int guest_init(struct guest_os *os, const struct sim_params *p, struct counters *ctr, const struct frontend *src,
	       char *err);
void guest_destroy(struct guest_os *os);

/*
 * Write the kernel image: calls store(ctx, gpa, value) for every non-zero
 * 8-byte word of it. Returns 0, or the first non-zero result of store.
 */
int guest_image(const struct guest_os *os, int (*store)(void *ctx, uint64_t gpa, uint64_t val), void *ctx);

/*
 * Boot: create the first process (pid) and queue the kernel's operations
 * that build its top-level table and load CR3. Control registers for the
 * CPU (native) or the VMCS guest-state area (VMX) are in os->cr0/cr4/efer.
 * Returns 0, or -1 (message via cpu_fail).
 */
int guest_boot(struct guest_os *os, struct cpu *cpu, uint32_t pid);

/* Guest-physical memory in use (frames), for stats. */
uint64_t guest_frames_in_use(const struct guest_os *os);

#endif
