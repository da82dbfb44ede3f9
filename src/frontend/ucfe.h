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
 * (workloads/guest.h) add GEV_MMAP, GEV_MUNMAP, GEV_PROC_CREATE, GEV_WAIT
 * and GEV_PROC_EXIT. Unicorn runs the program flat (its memory is mapped
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

/* The process source the guest OS model runs (valid until ucfe_close). */
void ucfe_proc_source(struct ucfe *u, struct proc_source *ps);

/* What the program wrote to the console (NUL-terminated), all processes in
 * the order they wrote it. */
const char *ucfe_console(const struct ucfe *u);

/* Processes created, the first one included. */
uint32_t ucfe_processes(const struct ucfe *u);

void ucfe_close(struct ucfe *u);

#endif
