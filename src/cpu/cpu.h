/*
 * The processor model ("silicon"): one logical CPU with VMX root and
 * non-root operation, VM entry and VM exit, TLBs, the page walkers, the
 * event queue and the core clock.
 *
 * Software reaches it only through its architectural interface:
 *  - the VMM (src/vmm): VMREAD/VMWRITE, VMLAUNCH/VMRESUME, INVEPT/INVVPID
 *    (src/cpu/vmx.h), and physical loads/stores in root mode;
 *  - the guest OS (src/guest): the events the CPU delivers to it through
 *    its IDT (#PF, interrupts) and system-call entry (struct guest_os_ops),
 *    and the operations its code performs (stores to guest-physical memory,
 *    page zeroing, INVLPG, MOV to CR3: cpu_guest_op()).
 * The CPU never calls VMM policy: a VM exit records the reason and
 * qualification in the VMCS and returns from VMLAUNCH/VMRESUME.
 */
#ifndef VTSIM_CPU_CPU_H
#define VTSIM_CPU_CPU_H

#include <stdbool.h>
#include <signal.h>
#include <stdint.h>

#include "arch/exit_reasons.h"
#include "cpu/evq.h"
#include "cpu/params.h"
#include "cpu/vmx_caps.h"
#include "mem/cache.h"
#include "mem/mem.h"
#include "mmu/tlb.h"
#include "mmu/walk.h"
#include "stats/counters.h"
#include "trace/event.h"
#include "util/u64vec.h"
#include "vmcs/vmcs.h"

#define CPU_ERR_LEN 512
#define CPU_NTLBS 6

/* Linux's LOCAL_TIMER_VECTOR (arch/x86/include/asm/irq_vectors.h). */
#define VEC_LOCAL_TIMER 0xec
/* Base of the guest kernel's direct map of guest-physical memory (Linux
 * x86-64 page_offset_base without KASLR): the guest kernel's stores to its
 * page tables and its page zeroing are supervisor writes to linear address
 * GUEST_DIRECT_MAP_BASE + GPA, translated like any other access. */
#define GUEST_DIRECT_MAP_BASE UINT64_C(0xffff888000000000)

struct cpu;

/*
 * Entry points of the guest OS, as its IDT and system-call entry would give
 * them. Each returns 0, or -1 after writing a message with cpu_fail().
 * The handler's hardware-visible effects are issued with cpu_guest_op();
 * they execute, in order, before the interrupted instruction is retried.
 */
struct guest_os_ops {
	/* #PF (vector 14): CR2 = la, error code pfec. */
	int (*page_fault)(void *os, struct cpu *cpu, uint64_t la, uint32_t pfec);
	/* A maskable interrupt delivered through the guest IDT. */
	int (*interrupt)(void *os, struct cpu *cpu, unsigned vector);
	/* A system call or process event of the front end (mmap, munmap, ...). */
	int (*os_event)(void *os, struct cpu *cpu, const struct guest_event *ev);
	/* The guest has no more events: it shuts its processes down. */
	int (*shutdown)(void *os, struct cpu *cpu);
	/* What the running process does next: its next instruction, memory
	 * reference or system call (the guest's scheduler decides which
	 * process runs). 1 = an event in *ev, 0 = no process has anything left,
	 * -1 = error with a one-line message in err (CPU_ERR_LEN). */
	int (*next_event)(void *os, struct cpu *cpu, struct guest_event *ev, char *err);
};

/* Operations the guest kernel's code performs on hardware-visible state. */
enum guest_op_kind {
	GOP_ZERO_PAGE, /* clear the 4 KiB guest-physical page at addr (through the direct map) */
	GOP_STORE64,   /* 8-byte store of val to guest-physical addr (a paging entry), from RAX */
	GOP_INVLPG,    /* INVLPG addr (linear) */
	GOP_LOAD_CR3,  /* MOV to CR3 of val (bit 63 = no-flush hint with PCIDE) */
	/* A driver's work on a device (src/guest's device drivers): */
	GOP_MMIO_READ32,   /* MOV EAX, [addr]: 4-byte load from the kernel linear address addr (an ioremap of a BAR) */
	GOP_MMIO_WRITE32,  /* MOV [addr], EAX: 4-byte store of val to the kernel linear address addr */
	GOP_RING_LOAD64,   /* 8-byte load from guest-physical addr (a DMA descriptor), through the direct map */
	GOP_RING_STORE64,  /* 8-byte store of val to guest-physical addr (a DMA descriptor), through the direct map */
};

/* Length in bytes of each guest-kernel operation's instruction (INVLPG m8
 * and MOV CR3, RAX are both 3 bytes; used as the guest RIP step). */
#define GOP_INSN_LEN 3

/* What the guest kernel is doing, for the breakdown of its cycles
 * (cpu.cycles.guest_kernel.{proc,pf,tick}): set when the CPU enters it. */
enum kernel_work {
	KW_PROC = 0, /* system calls and process events (mmap, munmap, fork, exec, exit, shutdown) */
	KW_PF,       /* the #PF handler */
	KW_TICK,     /* the timer-interrupt handler */
	KW_IO,       /* device interrupt handlers */
};

struct guest_op {
	enum guest_op_kind kind;
	uint64_t addr;
	uint64_t val;
	uint8_t work; /* enum kernel_work of the code that queued it */
};

/*
 * A decoded guest instruction, as a VMM's instruction emulator obtains it
 * by fetching and decoding the bytes at guest RIP (KVM's x86 emulator).
 * The model does not decode x86 bytes: the guest kernel's operations are
 * handed over in decoded form. Operands are in the guest's registers
 * (cpu->gpr): RAX the value stored, RCX the repeat count.
 */
enum guest_insn_kind {
	INSN_MOV_STORE_RAX, /* MOV [dst], RAX: an 8-byte store */
	INSN_REP_STOSQ,     /* REP STOSQ to [dst]: RCX quadwords of RAX (page clearing) */
	INSN_INVLPG,        /* INVLPG [dst] */
	INSN_MOV_TO_CR3,    /* MOV CR3, RAX */
	INSN_MOV_LOAD_EAX,  /* MOV EAX/RAX, [dst]: a load of bytes bytes (MMIO emulation) */
	INSN_MOV_STORE_EAX, /* MOV [dst], EAX/RAX: a store of bytes bytes from RAX (MMIO emulation) */
};

struct guest_insn {
	enum guest_insn_kind kind;
	unsigned len;   /* bytes */
	uint64_t dst;   /* linear address of the memory operand */
	unsigned bytes; /* bytes written (stores) */
};

/*
 * A window of host-physical addresses a device decodes (a PCI BAR as the
 * root complex routes it): loads and stores that reach an address in it go
 * to the device's registers, not to memory. read / write: offset from base,
 * size 4 or 8 bytes; 0, or -1 with a one-line message in err (CPU_ERR_LEN).
 */
struct mmio_window {
	uint64_t base, size; /* bytes */
	int (*read)(void *ctx, uint64_t off, unsigned size, uint64_t *val, char *err);
	int (*write)(void *ctx, uint64_t off, unsigned size, uint64_t val, char *err);
	void *ctx;
};
#define CPU_MAX_MMIO 8
/* Hardware callbacks due at a cycle (device transfers completing). */
struct cpu_callback {
	void (*fn)(void *ctx);
	void *ctx;
};

/* Per basic exit reason: how many exits and the cycles they cost. */
struct exit_stat {
	uint64_t count;
	uint64_t cycles; /* round trip + root-mode work until the next VM entry */
};

struct cpu {
	const struct sim_params *p;
	struct counters *ctr;
	struct phys_mem *mem;
	/* TLB arrays per page size, as real cores have them (cpu-parameters.md
	 * §1): 4 KiB L1 instruction and data, unified L2 (STLB, 4 KiB, and
	 * 2 MiB too with tlb.l2.2m); 2 MiB L1 instruction and data; 1 GiB L1
	 * data. An array with 0 entries is left out (e == NULL). */
	struct tlb itlb, dtlb, stlb;
	struct tlb itlb2m, dtlb2m;
	struct tlb dtlb1g;
	struct tlb *tlbs[CPU_NTLBS]; /* the arrays present, for invalidations */
	int ntlbs;                   /* how many: CPU_NTLBS less the arrays left out */
	/* The VMX capability MSRs this part reports: vmx_model_caps, less 1 GiB
	 * EPT pages without ept.1g (Nehalem, cpu-parameters.md §4), with LA57 in
	 * CR4_FIXED1 (cpu.la57) and 5-level EPT (vmx.ept_5level) where the
	 * profile's core has them. */
	struct vmx_caps caps;
	/* Paging-structure caches [enum pwc_dim][enum pwc_level] and the nested
	 * TLB; wc points at the ones that are on (parameters with 0 entries
	 * leave a pointer NULL). Guest caches: VPID/PCID/EP4TA-tagged, flushed
	 * like linear and combined mappings; EPT caches and the nested TLB:
	 * guest-physical mappings, flushed only by INVEPT. */
	struct tlb pwc[2][PWC_LEVELS];
	struct tlb ntlb;
	struct walk_caches wc;
	/* The data-cache hierarchy paging-structure accesses go through. */
	struct cache_hier cache;

	uint64_t cycles; /* the core clock */
	struct evq evq;
	uint64_t tick_period; /* cycles between timer ticks, 0 = none */
	uint64_t base_cpi_milli, base_milli; /* base CPI in 1/1000 cycles, and the carried fraction */

	/* Architectural registers of the running context (guest while in
	 * non-root operation; the VMM's own paging is not modelled). */
	uint64_t cr0, cr2, cr3, cr4, efer;
	/* Guest RIP: advances by each retired item's length (an instruction
	 * record's size, GOP_INSN_LEN per kernel operation); saved in and
	 * loaded from the VMCS guest RIP field, so a VMM that emulates an
	 * instruction skips it by adding the VM-exit instruction length. */
	uint64_t rip;
	/* Guest general-purpose registers as the VMM reads them after an exit
	 * (RAX = gpr[0] ... R15 = gpr[15]); only RAX carries values now (the
	 * source of a MOV to CR3). */
	uint64_t gpr[16];

	/* VMX */
	bool vmxon;
	bool nonroot;
	struct vmcs *vmcs;     /* current VMCS (VMPTRLD), or NULL */
	uint16_t vpid;         /* tag of the running context */
	bool ept_on;
	bool intr_window;      /* "interrupt-window exiting" of the running VMCS */
	uint64_t eptp;
	uint64_t exit_cycle;   /* when the last VM exit happened */
	unsigned last_exit_reason;
	struct exit_stat exits[EXIT_REASON_MAX];

	/* The platform around the core: device windows, due device callbacks,
	 * and the local APIC's requested interrupts (IRR, one bit per vector). */
	struct mmio_window mmio[CPU_MAX_MMIO];
	unsigned nmmio;
	struct cpu_callback *cbs; /* indexed by a TEV_CALLBACK event's data */
	size_t ncbs, cbs_cap;
	struct u64vec cbs_free;   /* slots whose callback has run, for reuse */
	uint64_t irr[4];
	/* The network. A process's receive (GEV_DEVIO DEVIO_NET_RX) makes it
	 * send a frame of len bytes once the receive system call's kernel
	 * operations have retired (its buffers are posted): to the platform's
	 * NIC through net_rx (0 / -1 with a message in err), or, when the NIC
	 * is the host's own (a VMM emulating the guest's), into the host NIC's
	 * receive queue, raising host_net_vector. Neither: no network. */
	int (*net_rx)(void *ctx, uint32_t len, char *err);
	void *net_rx_ctx;
	uint8_t host_net_vector;     /* 0: the host has no NIC */
	struct u64vec host_net_q;    /* frames (bytes) the host NIC received, FIFO from host_net_head */
	size_t host_net_head;
	bool net_rx_armed;           /* a receive waits for its operations to retire */
	size_t net_rx_wait_ops;      /* how many are left */
	uint32_t net_rx_len;

	/* guest software attached to the CPU */
	const struct guest_os_ops *os_ops;
	void *os;

	/* in-flight guest work */
	struct guest_event ev; /* the instruction/event being executed */
	bool have_ev;
	enum { ITEM_NONE, ITEM_OP, ITEM_EVENT } item; /* what executes now */
	unsigned exit_insn_len; /* VM-exit instruction length of the last exit (0: not an instruction exit) */
	uint8_t kernel_work;    /* enum kernel_work: what guest-kernel cycles are charged to */
	bool fe_done;          /* front end reached its end; shutdown issued */
	bool halted;           /* the guest finished all its work */
	struct guest_op *ops;  /* guest kernel operations, FIFO */
	size_t ops_head, ops_tail, ops_cap;

	volatile sig_atomic_t *interrupt_flag; /* set by SIGINT: stop soon */
	void (*progress)(void *ctx, const struct cpu *cpu);
	void *progress_ctx;
	uint64_t progress_every;     /* events between progress calls and interrupt checks (2^20 by cpu_init) */
	uint64_t progress_countdown;

	char err[CPU_ERR_LEN];
};

/*
 * Set up a processor with the TLB geometry of p, in VMX-off operation.
 * Returns 0, or -1 with a message in err (CPU_ERR_LEN).
 */
int cpu_init(struct cpu *c, const struct sim_params *p, struct phys_mem *mem, struct counters *ctr, char *err);
void cpu_destroy(struct cpu *c);

/* Attach the guest software. */
void cpu_attach_guest(struct cpu *c, const struct guest_os_ops *ops, void *os);

/* Record a fatal simulation error (printf-style); returns -1. */
int cpu_fail(struct cpu *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Result of running guest code. */
enum run_status {
	RUN_EXITED = 0,  /* a VM exit happened (VMX), see the VMCS */
	RUN_DONE,        /* native: the guest finished its work */
	RUN_ERROR,       /* simulation error: message in c->err */
	RUN_INTERRUPTED, /* the user asked to stop */
};

/*
 * Run the guest natively (no VMX): its page walks are one-dimensional and
 * its CR3 loads, INVLPGs and page faults go straight to the hardware and
 * the guest kernel. Returns RUN_DONE, RUN_ERROR or RUN_INTERRUPTED.
 */
enum run_status cpu_run_native(struct cpu *c);

/*
 * Guest kernel code: queue one hardware-visible operation. Executed in
 * order, before the interrupted instruction is retried; under EPT each
 * guest-physical access is translated through EPT and may cause an EPT
 * violation exit, after which execution resumes at that operation.
 * Returns 0, or -1 (out of memory; message via cpu_fail).
 */
int cpu_guest_op(struct cpu *c, enum guest_op_kind kind, uint64_t addr, uint64_t val);

/* Decode the guest instruction at guest RIP (the item that caused the last
 * exit). Returns 0, or -1 if it is not a guest-kernel instruction. */
int cpu_decode_at_rip(const struct cpu *c, struct guest_insn *out);

/*
 * One paging-structure access by hardware or software (a walk step, a
 * guest-kernel paging-entry store, a VMM load/store of EPT or shadow
 * tables) to host-physical address hpa: looked up in the cache hierarchy,
 * counted (cache.pt.*) and charged to bucket at the latency of the level
 * that held its line. Returns the cycles charged; *served (may be NULL)
 * gets the level (enum cache_level).
 */
uint64_t cpu_pt_access(struct cpu *c, uint64_t hpa, enum counter_id bucket, uint8_t *served);

/* Add a device window (the platform's BAR decode). 0, or -1 (cpu_fail: too
 * many windows, or an overlap). */
int cpu_map_mmio(struct cpu *c, const struct mmio_window *w);
/* The window holding host-physical address hpa, or NULL. */
const struct mmio_window *cpu_mmio_at(const struct cpu *c, uint64_t hpa);
/* Hardware: call fn(ctx) delay cycles from now (in the event queue, before
 * the next instruction once due). 0 or -1 (cpu_fail: out of memory). */
int cpu_callback_in(struct cpu *c, uint64_t delay, void (*fn)(void *ctx), void *ctx);
/*
 * An interrupt message reaches the local APIC (a fixed, edge interrupt of
 * vector, from a device's MSI, remapped or as a posted-interrupt
 * notification, or a host timer): it is requested (IRR) and delivered at
 * the next instruction boundary, highest vector first: natively through
 * the guest IDT; in VMX non-root operation as an "external interrupt" exit
 * (with "external-interrupt exiting"), or, when it is the posted-interrupt
 * notification vector and "process posted interrupts" is on, by posted-
 * interrupt processing (SDM Vol. 3C "Posted-Interrupt Processing": clear
 * ON, take the PIR's vectors and deliver them to the guest without an
 * exit). In root operation it stays requested until the VMM takes it
 * (vmx_root_take_interrupt) or the guest runs again.
 */
void cpu_raise_interrupt(struct cpu *c, uint8_t vector);
/* Root-mode software (the host's NIC driver in the VMM): the host's NIC
 * signals received frames on vector (its MSI, as the host programs it). */
void cpu_host_net_attach(struct cpu *c, uint8_t vector);
/* The next frame the host's NIC received: 1 with *len (bytes), 0 if none. */
int cpu_host_net_take(struct cpu *c, uint32_t *len);
/* Root-mode software (the VMM): arm the host's one-shot local APIC timer
 * (TSC-deadline mode) to raise vector delay cycles from now. 0 / -1. */
int cpu_host_timer_in(struct cpu *c, uint64_t delay, uint8_t vector);
/* The highest requested vector, taken out of the IRR (the VMM's host
 * interrupt handler acknowledging it), or -1 if none is requested. */
int cpu_take_interrupt(struct cpu *c);
/* Run the hardware events that are due now (device callbacks, the host
 * timer), leaving the interrupts they raise requested; guest timer ticks
 * stay queued. 0, or -1 (an error in c->err). */
int cpu_run_due_hw_events(struct cpu *c);

/* Charge the running software's own work (cycles) to a counter; guest
 * kernel cycles also go to the sub-counter of c->kernel_work. */
void cpu_charge(struct cpu *c, enum counter_id bucket, uint64_t cycles);

/* HLT's wait: the core idles (cycles to cpu.cycles.idle) until the next
 * timed event, the timer tick that wakes it, delivered next. Used by a
 * guest HLT that does not exit, and by a VMM blocking a halted vCPU in
 * root mode (as KVM's kvm_vcpu_halt). 0, or -1 (cpu_fail) without a timer. */
int cpu_idle_until_interrupt(struct cpu *c);

/* Load the guest context's initial registers (native boot, or VMM set-up
 * through the VMCS guest-state area in VMX). */
void cpu_set_paging(struct cpu *c, uint64_t cr0, uint64_t cr3, uint64_t cr4, uint64_t efer);

#endif
