/*
 * The guest OS model: the kernel a trace-driven guest runs, written as
 * software against the CPU's architectural interface. It keeps processes
 * with their own x86-64 page tables in guest-physical memory, builds them on
 * demand (a first touch raises #PF; the kernel allocates and zeroes a frame
 * and writes the PTEs with its own stores), and tears them down on munmap,
 * brk shrink, exec and exit, with INVLPG or a full flush as Linux does. A
 * round-robin scheduler runs the processes of a multi-process front end
 * (struct proc_source: a trace set), switching CR3 (optionally with PCIDs)
 * on timer ticks, at exit and when a process blocks in wait.
 */
#ifndef VTSIM_GUEST_GUEST_H
#define VTSIM_GUEST_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/cpu.h"
#include "mem/mem.h"
#include "trace/proc_source.h"
#include "util/u64map.h"
#include "util/u64vec.h"

/*
 * The guest kernel image: what the bootloader (native) or the VMM (VMX)
 * puts in guest-physical memory before the first instruction. Its initial
 * page tables (Linux's swapper_pg_dir) hold only the kernel half: the
 * direct map of all guest memory at GUEST_DIRECT_MAP_BASE with 1 GiB pages
 * (supervisor, global, execute-disable), through one PDPT.
 */
#define GUEST_SWAPPER_PML4 UINT64_C(0x1000) /* GPA; the initial CR3 */
#define GUEST_KERNEL_PDPT UINT64_C(0x2000)  /* GPA of the direct map's PDPT */
#define GUEST_KERNEL_P4D UINT64_C(0x3000)   /* 5-level paging: GPA of the kernel half's PML4 (Linux's p4d) */

/* Address-space ids (PCIDs) the kernel cycles through per CPU, as Linux's
 * TLB_NR_DYN_ASIDS; PCID = ASID + 1. */
#define GUEST_NR_ASIDS 6

enum guest_proc_state {
	PROC_RUNNABLE, /* running, or waiting for the CPU in the run queue */
	PROC_WAITING,  /* blocked in wait4/waitid until a child exits */
	PROC_IO_WAIT,  /* blocked in a device transfer (GEV_DEVIO) until its completion interrupt */
	PROC_ZOMBIE,   /* exited, not yet reaped by its parent */
	PROC_REAPED,   /* gone */
};

/* One process: a schedulable event stream and its address space. Threads
 * (CLONE_VM) are not separate entries: lackey logs them in their process's
 * file, already interleaved by valgrind's own scheduler. */
struct guest_proc {
	uint32_t pid;
	uint64_t pml4;        /* GPA of the top-level table (PML4, or PML5 with 5-level paging), 0 once freed */
	uint8_t levels;       /* paging levels of its address space: 4, or 5 (CR4.LA57) */
	struct u64map tables; /* table key (see guest.c) -> GPA | present-entry count */
	struct u64map pages;  /* VPN -> GPA of the mapped 4 KiB data page */
	struct u64map huge;   /* la >> 21 -> GPA of the mapped 2 MiB page (guest.thp), | PTE_D if dirty */
	struct u64vec vmas;   /* mmap'd regions as pairs: start, end | 1 if marked MADV_HUGEPAGE (GVAs) */
	uint64_t heap_start;  /* the first program break seen (start of the heap region), 0 = none */
	uint64_t brk;         /* program break (GVA), 0 until the first brk */
	bool live;            /* created and not exited: it has an address space */
	enum guest_proc_state state;
	struct guest_proc *parent; /* NULL: the first process, or reparented to init */
	uint32_t wait_pid;    /* PROC_WAITING: the child waited for, 0 = any */
	uint32_t threads;     /* threads created (sharing the address space and stream) */
	struct frontend fe;   /* its event stream */
	bool stream_open;     /* fe is open at the source */
	uint64_t mm_id;       /* address-space generation, new at creation and exec (Linux ctx_id) */
	uint64_t cr3;         /* CR3 while it runs: PML4 | PCID */
	uint64_t pt_pages;    /* page-table pages held now, with the PML4 */
	uint64_t pt_peak;     /* most page-table pages held at once */
	struct guest_proc *run_next; /* run queue link */
};

/* A page the first process's address space holds from boot (a lab setup's
 * map line): the 4 KiB page at gva maps gpa with leaf flags (PTE_* bits). */
struct guest_premap {
	uint64_t gva, gpa, flags;
};

struct guest_os {
	const struct sim_params *p;
	struct counters *ctr;
	struct frame_alloc frames; /* guest-physical frames */
	struct guest_proc proc;    /* the first process (booted by guest_boot); later ones are allocated */
	struct guest_proc **procs; /* every process created, in order; procs[0] = &proc */
	size_t nprocs, procs_cap;
	struct u64map by_pid;      /* pid -> index into procs */
	struct guest_proc *cur;    /* the process the CPU runs (it may have just blocked or exited) */
	struct guest_proc *rq_head, *rq_tail; /* runnable processes waiting for the CPU, FIFO */
	const struct guest_proc *loaded; /* whose page tables CR3 holds; NULL: swapper_pg_dir */
	bool need_resched;         /* a tick ended the running process's slice */
	uint64_t slice_start;      /* core cycle the running process got the CPU */
	uint64_t live_procs;       /* created and not exited */
	uint64_t pt_pages;         /* page-table pages in use, all processes */
	uint64_t next_mm_id;
	unsigned idle_halts_in_a_row; /* idle halts since the last device interrupt */
	uint64_t asid_mm[GUEST_NR_ASIDS]; /* which address space each ASID holds (0: init_mm) */
	unsigned next_asid;
	uint64_t cr0, cr4, efer;   /* the paging mode the kernel runs with */
	struct proc_source src;    /* what the processes execute */
	struct frontend single;    /* guest_init's one stream */
	/* Premapped pages (guest_set_premap): their frames, at or above
	 * own_limit, are the image's, never the kernel's to free. */
	const struct guest_premap *premap;
	size_t npremap;
	uint64_t own_limit;        /* 0 = every frame is the kernel's */
	/* Scheduler settings (guest_set_sched): */
	bool pcid;                 /* PCIDs in CR3 (CR4.PCIDE), no-flush switches */
	uint64_t timeslice_cycles; /* preempt at a tick once a process ran this long; 0 = every tick */
	/* Device drivers (guest_set_devices; src/guest/drivers.c): NULL = no devices. */
	struct guest_drivers *drv;
};

/*
 * A device the platform (or the VMM) shows the guest, as firmware and PCI
 * enumeration would: its kind (src/dev/dev.h), BAR 0 in guest-physical
 * space, the MSI vector its interrupt arrives on (programmed before boot),
 * its source-id and DMA mask. The kernel ioremaps BAR 0 at boot, sets up
 * the device's rings and drives it for GEV_DEVIO system calls (see
 * guest_set_devices).
 */
struct guest_dev_info {
	unsigned kind;          /* enum dev_kind: DEV_NIC or DEV_NVME */
	uint64_t bar_gpa;       /* BAR 0, guest-physical, 4 KiB aligned */
	uint64_t bar_size;      /* bytes */
	uint8_t vector;         /* the guest vector of its MSI */
	uint16_t sid;           /* bus << 8 | dev << 3 | fn */
	unsigned dma_mask_bits; /* 32..64 */
};
#define GUEST_MAX_DEVS 4

/*
 * Where the kernel ioremaps device BARs: Linux x86-64's vmalloc/ioremap
 * area (VMALLOC_START without KASLR). BARs are mapped one after another
 * from here in the order given, each followed by a 4 KiB guard page, with
 * 4 KiB PTEs P|RW|A|D|PCD|PWT|G|XD (uncached, Linux's ioremap of a
 * register BAR).
 */
#define GUEST_IOREMAP_BASE UINT64_C(0xffffc90000000000)

/*
 * Devices, after guest_init and before guest_boot: the n devices of d (at
 * most GUEST_MAX_DEVS, at most one of each kind; copied) are probed at
 * boot: the kernel ioremaps each BAR 0 (at GUEST_IOREMAP_BASE, see above),
 * allocates and zeroes its rings and programs the device with MMIO stores;
 * an NVMe controller's I/O queues are created by admin commands whose
 * completions the kernel waits for (halted) before the first process runs.
 * Each BAR must be 4 KiB aligned, at most 1 MiB, and lie above guest memory.
 * Then GEV_DEVIO system calls drive the devices and GEV_MMAP with
 * GEV_MMAP_DEVICE maps a BAR into a process. 0, or -1 with a message in
 * err (CPU_ERR_LEN). The model's rules: drivers.c's Notes.
 */
int guest_set_devices(struct guest_os *os, const struct guest_dev_info *d, size_t n, char *err);
/* GPA of device i's receive (rx) or transmit descriptor ring, for a NIC
 * once it is probed; 0 otherwise. */
uint64_t guest_dev_ring(const struct guest_os *os, size_t i, bool rx);
/* GEV_DEVIO requests submitted and not yet completed (all devices). */
unsigned guest_io_outstanding(const struct guest_os *os);

/* The guest's IDT and system-call entry points (for cpu_attach_guest). */
extern const struct guest_os_ops guest_os_ops;

/* Set up the kernel's memory (guest.mem_mib of guest-physical memory) and
 * one process that executes the events of src (its children, if the stream
 * creates any, are not traced and left out). Returns 0, or -1 with a
 * message in err (CPU_ERR_LEN). */
int guest_init(struct guest_os *os, const struct sim_params *p, struct counters *ctr, const struct frontend *src,
	       char *err);
/* The same for a multi-process source: the first process is src->root,
 * and each process created gets its stream from src (which must outlive
 * the guest). */
int guest_init_procs(struct guest_os *os, const struct sim_params *p, struct counters *ctr,
		     const struct proc_source *src, char *err);
/* Free the kernel's bookkeeping (streams still open are the source's). */
void guest_destroy(struct guest_os *os);

/*
 * Scheduler settings, after guest_init and before the control registers
 * in os->cr4 are handed to the CPU or the VMCS: pcid sets CR4.PCIDE and
 * tags each address space with a PCID (Linux's per-CPU ASIDs: a switch
 * back to an address space whose PCID is still its own loads CR3 with the
 * no-flush bit); timeslice_cycles is how long a process runs before a
 * timer tick hands the CPU to the next runnable one (0 = at every tick).
 */
void guest_set_sched(struct guest_os *os, bool pcid, uint64_t timeslice_cycles);

/*
 * Premapped pages, after guest_init and before guest_boot: the first
 * process starts with the n pages of m mapped (m must outlive the guest):
 * at boot, after creating its PML4, the kernel builds their tables (zeroed
 * frames of its own) and writes each leaf, gpa | flags, with its own
 * stores, as a MAP_POPULATE of a loaded image would, before the process's
 * first event. The kernel's own frames are then limited to below limit
 * (a multiple of 4 KiB, above 1 MiB); every premapped gpa must be at or
 * above it, 4 KiB aligned and inside guest memory, and every gva a 4 KiB
 * aligned user address: else -1 with a message naming the page in err
 * (CPU_ERR_LEN). Premapped frames are never freed. 0 on success.
 */
int guest_set_premap(struct guest_os *os, const struct guest_premap *m, size_t n, uint64_t limit, char *err);

/*
 * Write the kernel image: calls store(ctx, gpa, value) for every non-zero
 * 8-byte word of it. Returns 0, or the first non-zero result of store.
 */
int guest_image(const struct guest_os *os, int (*store)(void *ctx, uint64_t gpa, uint64_t val), void *ctx);

/*
 * Boot: create the first process and queue the kernel's operations that
 * build its top-level table and load CR3. The process is pid for a guest
 * of one stream (guest_init); with a process source it is the source's
 * root and pid is not used. Control registers for the CPU (native) or the
 * VMCS guest-state area (VMX) are in os->cr0/cr4/efer. Returns 0, or -1
 * (message via cpu_fail).
 */
int guest_boot(struct guest_os *os, struct cpu *cpu, uint32_t pid);

/* Guest-physical memory in use (frames), for stats. */
uint64_t guest_frames_in_use(const struct guest_os *os);

/* The process pid (any state), or NULL. */
const struct guest_proc *guest_find(const struct guest_os *os, uint32_t pid);

/* GPA of the PML4 of live process pid, 0 if there is none. */
uint64_t guest_pml4(const struct guest_os *os, uint32_t pid);

#endif
