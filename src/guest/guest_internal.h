/*
 * Inside the guest kernel: what its memory manager (guest.c) lends its
 * device drivers (drivers.c), and the drivers' entry points the rest of
 * the kernel calls. Not for use outside src/guest.
 */
#ifndef VTSIM_GUEST_GUEST_INTERNAL_H
#define VTSIM_GUEST_GUEST_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "guest/guest.h"

/* ---- guest.c, for the drivers ------------------------------------------ */

/* A zeroed guest-physical frame of the kernel's own (GOP_ZERO_PAGE). 0 / -1 (cpu_fail). */
int guest_alloc_frame(struct guest_os *os, struct cpu *cpu, uint64_t *gpa);
/* The same without clearing (a dma_pool page the driver fills whole). */
int guest_alloc_frame_raw(struct guest_os *os, struct cpu *cpu, uint64_t *gpa);
/* Give a frame back. 0 / -1. */
int guest_free_frame(struct guest_os *os, struct cpu *cpu, uint64_t gpa);
/*
 * get_user_pages: the guest-physical address of user address la of pr,
 * faulting the page in as a first touch would (4 KiB, or a 2 MiB page
 * where THP allows it; zeroed; dirty if write) when it is not present.
 * *faulted = whether it was. 0 / -1.
 */
int guest_pin_user(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr, uint64_t la, bool write,
		   uint64_t *gpa, bool *faulted);
/* io_remap_pfn_range of one page: map user page la of pr to gpa (a device
 * BAR page, not a frame) with leaf flags, building missing tables. 0 / -1. */
int guest_map_io_page(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr, uint64_t la, uint64_t gpa,
		      uint64_t flags);
/* A blocked process becomes runnable (to the run queue's tail). */
void guest_wake(struct guest_os *os, struct guest_proc *pr);

/* ---- drivers.c, for the kernel ------------------------------------------- */

/* Boot, with CR3 = swapper_pg_dir: ioremap, rings, device set-up. 0 / -1. */
int drivers_boot(struct guest_os *os, struct cpu *cpu);
/* The kernel-half top-level entry of the ioremap area every new address
 * space copies (4-level paging): 1 and *index, *entry set; 0 = none. */
int drivers_top_entry(const struct guest_os *os, unsigned *index, uint64_t *entry);
/* A device's interrupt (vector); 1 = handled, 0 = not a device vector, -1. */
int drivers_interrupt(struct guest_os *os, struct cpu *cpu, unsigned vector);
/* GEV_DEVIO of pr. 0 / -1. */
int drivers_devio(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr, const struct guest_event *ev);
/* GEV_MMAP with GEV_MMAP_DEVICE of pr (after the range was unmapped). 0 / -1. */
int drivers_mmap_device(struct guest_os *os, struct cpu *cpu, struct guest_proc *pr, const struct guest_event *ev);
/* The kernel must idle (HLT) rather than run a process: a probe waits for
 * a device. */
bool drivers_probing(const struct guest_os *os);
/* Free the drivers' bookkeeping. */
void drivers_free(struct guest_os *os);

#endif
