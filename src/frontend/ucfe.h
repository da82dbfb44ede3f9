/*
 * The Unicorn front end: runs a workload (src/frontend/workload.h) in
 * Unicorn Engine and hands the simulator the events it executes, through
 * the multi-process source interface (struct proc_source): one pull-based
 * stream per guest process, each process its own uc_engine.
 *
 * Every guest instruction is a GEV_FETCH (address and size from the code
 * hook); loads and stores are GEV_LOAD / GEV_STORE (memory hooks) with
 * their guest-virtual addresses; CPUID, IN/OUT and HLT add GEV_CPUID,
 * GEV_IO and GEV_HLT after the instruction's fetch; the guest system calls
 * (workloads/guest.h) add GEV_MMAP, GEV_MUNMAP, GEV_PROC_CREATE, GEV_WAIT,
 * GEV_PROC_EXIT and, for the machine's devices (ucfe_set_devices), GEV_MMAP
 * with GEV_MMAP_DEVICE and GEV_DEVIO. A load or store in a device mapping
 * is a GEV_MMIO in place of its instruction's GEV_FETCH (the access is the
 * instruction; its length is in arg bits 15:8). Unicorn runs the program flat (its memory is mapped
 * at the GVAs the program uses, no paging in Unicorn): the simulator's MMU
 * model does all translation. Nothing downstream knows this front end.
 *
 * Pull-based: a stream's next event comes from a buffer that is refilled
 * by running the process's Unicorn for a slice, stopped (uc_emu_stop) once
 * UCFE_SLICE_EVENTS events are buffered, at an exit or a wait (whose
 * result depends on what the other processes do first).
 */
#ifndef VTSIM_FRONTEND_UCFE_H
#define VTSIM_FRONTEND_UCFE_H

#include <stddef.h>
#include <stdint.h>

#include "frontend/workload.h"
#include "trace/proc_source.h"

/* Events buffered per process before its Unicorn is stopped. */
#define UCFE_SLICE_EVENTS 4096

/* Guest-virtual layout of every process (docs/workloads.md). */
#define UCFE_STACK_TOP UINT64_C(0x7ffff0000000)  /* stack grows down from here */
#define UCFE_STACK_BYTES (UINT64_C(256) << 10)
#define UCFE_MMAP_BASE UINT64_C(0x100000000000) /* first mmap address (16 TiB) */
#define UCFE_MMAP_LIMIT UINT64_C(0x700000000000) /* mmap addresses stay below */

/* The workload.* parameters as the program receives them (struct wl_args). */
struct ucfe_args {
	uint64_t size;       /* bytes; 0 = the workload's default */
	uint64_t iterations; /* 0 = the workload's default */
	uint64_t seed;
};

struct ucfe;

/*
 * Prepare workload w with args: its first process (pid 1) is loaded and
 * ready to run when the guest opens its stream. Returns the front end, or
 * NULL with a one-line message in err (512 bytes).
 */
struct ucfe *ucfe_open(const struct workload *w, const struct ucfe_args *args, char *err);

/* Device numbers of the mmap_device system call (workloads/guest.h) and of
 * GEV_MMAP_DEVICE: enum dev_kind's values. */
#define UCFE_DEV_NIC 0
#define UCFE_DEV_NVME 1
#define UCFE_DEV_MAP_MAX (UINT64_C(1) << 20) /* bytes one mmap_device may map */

/*
 * The devices the machine has, as a mask of 1 << UCFE_DEV_*: the program's
 * mmap_device, net_* and blk_* system calls fail (-1, ENODEV) for any
 * other, without an event. Default: none. Set before the first stream is
 * read.
 */
void ucfe_set_devices(struct ucfe *u, unsigned mask);

/*
 * What the program's MMIO loads return: read(ctx, dev, offset in BAR 0,
 * size in bytes). The front end runs ahead of the simulation, so the value
 * cannot come from the simulated device at that moment; the run wiring may
 * answer from a device model's registers as they are. NULL (the default):
 * the register's reset value with the link up, ucfe_reset_value().
 */
void ucfe_set_mmio_read(struct ucfe *u, uint64_t (*read)(void *ctx, unsigned dev, uint64_t off, unsigned size),
			void *ctx);

/*
 * The default read: 8254x STATUS (0x08) = 0x83 (FD, LU: link up, full
 * duplex; SPEED = 10b: 1000 Mb/s; 317453 §13.4.2), other NIC registers 0;
 * NVMe VS (0x08) = 0x00010400 (1.4), CAP (0x00, 0x04) = MQES 1023, CQR,
 * TO 20 (10 s), DSTRD 0, CSS NVM, MPSMIN/MPSMAX 0 (4 KiB), i.e. 0x140103ff
 * and 0x00000020; other NVMe registers 0. (The values src/dev's models
 * report.)
 */
uint64_t ucfe_reset_value(unsigned dev, uint64_t off, unsigned size);

/* The process source the guest OS model runs (valid until ucfe_close). */
void ucfe_proc_source(struct ucfe *u, struct proc_source *ps);

/* What the program wrote to the console (NUL-terminated), all processes in
 * the order they wrote it. */
const char *ucfe_console(const struct ucfe *u);

/* Processes created, the first one included. */
uint32_t ucfe_processes(const struct ucfe *u);

void ucfe_close(struct ucfe *u);

#endif
