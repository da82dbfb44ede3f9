/*
 * `vtsim explain walk`: one page walk, step by step, for teaching.
 *
 * A fixed, documented memory layout is built in simulated memory in the
 * real bit formats: the guest's paging structures (4- or 5-level, the
 * chosen guest page size) in guest-physical memory, and, per mode, nothing
 * more (native: GPA = HPA), shadow tables the VMM would have built
 * (entries map the smaller of the guest page and the host backing page),
 * or EPT tables (4- or 5-level, the chosen backing page size). Guest RAM
 * at GPA g lives at HPA g + EXPLAIN_HOST_OFFSET. Every entry has A set (and
 * D in leaves), as after earlier use, so a walk makes no A/D writes.
 *
 * The walk runs through the hardware model (src/mmu/walk.c) with the
 * profile's paging-structure caches, nested TLB and data-cache hierarchy;
 * "warm" first walks the neighbouring page (GVA + one guest page) so the
 * caches hold what that walk left, "cold" starts with every cache empty.
 * Each step prints the structure and level, the entry's GPA and HPA, its
 * value decoded, where its line was and its cycles; cache hits print what
 * they skipped. The end is the final HPA, or the fault: the #PF error code,
 * or the EPT-violation exit qualification (reference sheet §3.2).
 */
#ifndef VTSIM_CLI_EXPLAIN_H
#define VTSIM_CLI_EXPLAIN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/run.h"
#include "cpu/params.h"
#include "mmu/walk.h"

/* Host-physical address of guest-physical 0 (4 GiB: 1 GiB aligned, so every backing size fits). */
#define EXPLAIN_HOST_OFFSET UINT64_C(0x100000000)
/* Guest-physical address of the first data page (1 GiB aligned). */
#define EXPLAIN_DATA_GPA UINT64_C(0x40000000)

struct explain_opts {
	uint64_t gva;              /* the address to translate */
	enum sim_mode mode;        /* native, shadow or ept */
	enum access_kind kind;     /* read, write or fetch */
	bool user;                 /* CPL 3 (default) or supervisor */
	bool warm;                 /* walk the neighbouring page first */
	bool fault;                /* leave the data page unmapped: #PF (native, shadow) or EPT violation (ept) */
	unsigned guest_levels;     /* 4, or 5 (CR4.LA57) */
	unsigned ept_levels;       /* 4, or 5 (EPTP bits 5:3 = 4) */
	unsigned guest_page_shift; /* 12, 21 or 30 */
	unsigned backing_page_shift; /* host backing of guest RAM (EPT leaves, or the shadow bound): 12, 21 or 30 */
	uint16_t vpid;             /* the tag the guest caches use (shadow and ept) */
	struct sim_params params;  /* cache geometry and latencies (validated) */
};

/*
 * Print the explained walk to out. Returns 0 (also when the walk faults:
 * the fault is the explanation), or -1 with a one-line message in err
 * (CPU_ERR_LEN): a non-canonical GVA, an unsupported combination.
 */
int explain_walk(const struct explain_opts *o, FILE *out, char *err);

#endif
