/*
 * Data-cache hierarchy model for the lines page walks touch: L1D, L2 and
 * LLC arrays of 64-byte lines over host-physical addresses, then DRAM. It
 * answers one question, "where is this line?", so a paging-structure
 * reference costs the load-to-use latency of the level that holds its line
 * and eight 8-byte entries of one line share that cost after the first.
 *
 * What goes through it (src/cpu/cpu.c): every paging-structure reference a
 * walk makes (both dimensions, A/D updates included), the guest kernel's
 * paging-entry stores, the VMM's root-mode loads/stores of EPT and shadow
 * tables, and page clearing; with cache.data_refs on, the trace's data
 * references fill it too (not charged: their cost is in the base CPI) so
 * that page-table lines compete with data as they do on a real core.
 * Instruction fetches fill from L2 down (there is no L1I array).
 *
 * Architecture: page-walk loads, of both dimensions, are served by L1D, L2,
 * L3 or DRAM: Intel's PMU events PAGE_WALKER_LOADS.{DTLB,EPT_DTLB}_{L1,L2,
 * L3,MEMORY} (event 0xBC, Haswell-EP; Linux tools/perf/pmu-events/arch/x86/
 * haswellx/virtual-memory.json) count "page walker loads that hit in the
 * L1+FB" etc. The latencies and geometries are per profile
 * (docs/parameters.md, cpu-parameters.md §3).
 */
#ifndef VTSIM_MEM_CACHE_H
#define VTSIM_MEM_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#define CACHE_LINE_SHIFT 6 /* 64-byte lines */

/* Where a line was found. */
enum cache_level { CACHE_L1D = 0, CACHE_L2, CACHE_LLC, CACHE_DRAM, CACHE_NLEVELS };

/* One set-associative array with true LRU. */
struct cache_array {
	unsigned sets, ways;
	uint64_t set_mask; /* sets - 1 when sets is a power of two, else 0 (index by modulo) */
	uint64_t *tag;     /* sets * ways line numbers + 1; 0 = invalid */
	uint64_t *stamp;   /* last-use stamps */
	uint64_t clock;
	uint64_t mru_line; /* fast path: line number + 1 of the last hit or fill */
};

/* Geometry and latencies of the hierarchy. */
struct cache_config {
	uint64_t kib[3];    /* L1D, L2, LLC capacities (KiB) */
	uint64_t ways[3];   /* associativities */
	uint64_t cycles[CACHE_NLEVELS]; /* load-to-use latency of a hit in L1D, L2, LLC, and of DRAM (cycles) */
};

struct cache_hier {
	struct cache_array lv[3];
	uint64_t cycles[CACHE_NLEVELS];
};

/*
 * Build the hierarchy. Each level's capacity must be a whole number of
 * sets of `ways` 64-byte lines (sets need not be a power of two).
 * Returns 0, or -1 with a one-line message in err (256 bytes).
 */
int cache_init(struct cache_hier *h, const struct cache_config *cfg, char *err);
void cache_destroy(struct cache_hier *h);

/*
 * Access the line holding hpa, starting at level `from` (CACHE_L1D for
 * data and paging structures, CACHE_L2 for instruction fetches). Returns
 * the level that held the line (CACHE_DRAM if none) and fills it into every
 * level from `from` down to the one that held it (an inclusive hierarchy,
 * LRU replacement), so an immediate second access hits in `from`.
 */
enum cache_level cache_access(struct cache_hier *h, uint64_t hpa, enum cache_level from);

/* Fill the 64 lines of the 4 KiB page at hpa (page clearing). */
void cache_fill_page(struct cache_hier *h, uint64_t hpa);

/* Drop every line (tests; a cold start). */
void cache_flush(struct cache_hier *h);

#endif
