/*
 * Simulation parameters: one validated configuration struct, described by a
 * table (name, type, default, unit, source) in params.c. `--set name=value`
 * changes any of them; `vtsim params` lists them; every run stores all of
 * them as JSON. Each component derives what it needs once, at set-up.
 *
 * Defaults describe a Skylake-class client core (Core i7-6700K / i5-6400T):
 * see docs/parameters.md and ../shared/reference/cpu-parameters.md.
 */
#ifndef VTSIM_CPU_PARAMS_H
#define VTSIM_CPU_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* io.path: none (no devices), or how a VMX guest's devices reach it. */
enum io_path { IO_NONE = 0, IO_EMULATED, IO_ASSIGNED, IO_BOUNCE };

struct sim_params {
	/* core */
	unsigned cpu_profile;         /* index into cpu_profiles[]: the base the other values came from */
	double cpu_base_cpi;          /* cycles per instruction before memory effects */
	uint64_t cpu_freq_mhz;        /* core clock, MHz (turns HZ into cycles) */
	uint64_t cpu_cpuid_cycles;    /* CPUID executed natively */
	uint64_t cpu_io_cycles;       /* an IN/OUT to an unassigned port executed natively */
	uint64_t dev_mmio_read_cycles;  /* an uncached load from a device register (PCIe round trip) */
	uint64_t dev_mmio_write_cycles; /* an uncached (posted) store to a device register */
	bool cpu_la57;                /* the core has 5-level paging (CPUID.(7,0):ECX[16]; CR4_FIXED1 bit 12) */
	bool vmx_ept_5level;          /* IA32_VMX_EPT_VPID_CAP bit 7: 5-level EPT walks */
	bool vmx_posted_intr;         /* "process posted interrupts" and "virtual-interrupt delivery" may be 1 */
	/* TLBs */
	uint64_t tlb_l1i_entries, tlb_l1i_ways;
	uint64_t tlb_l1d_entries, tlb_l1d_ways;
	uint64_t tlb_l1i_2m_entries, tlb_l1i_2m_ways; /* L1 ITLB for 2 MiB pages; 0 entries = none */
	uint64_t tlb_l1d_2m_entries, tlb_l1d_2m_ways; /* L1 DTLB for 2 MiB pages; 0 entries = none */
	uint64_t tlb_l1d_1g_entries, tlb_l1d_1g_ways;
	uint64_t tlb_l2_entries, tlb_l2_ways;
	bool tlb_l2_2m;               /* the L2 TLB (STLB) holds 2 MiB entries beside 4 KiB ones */
	uint64_t tlb_l2_hit_cycles;   /* extra cycles of an L1 miss that hits the L2 TLB */
	/* paging-structure caches, [enum pwc_dim][enum pwc_level] of mmu/walk.h
	 * (guest/EPT x PML4E/PDPTE/PDE), and the nested TLB; 0 entries = off */
	uint64_t pwc_entries[2][3], pwc_ways[2][3];
	uint64_t ntlb_entries, ntlb_ways;
	/* memory: the data-cache hierarchy every paging-structure access goes
	 * through (src/mem/cache.h): [0] L1D, [1] L2, [2] LLC; cycles[3] = DRAM */
	uint64_t cache_kib[3], cache_ways[3];
	uint64_t cache_cycles[4];     /* load-to-use latency of a hit at each level, and of DRAM */
	bool cache_data_refs;         /* the trace's data references fill the hierarchy too */
	uint64_t host_mem_mib;        /* host-physical memory, MiB */
	uint64_t guest_mem_mib;       /* guest-physical memory, MiB */
	/* VMX */
	bool vmx_vpid;                /* "enable VPID" */
	bool ept_ad;                  /* EPTP[6]: EPT accessed/dirty flags */
	uint64_t ept_levels;          /* the VMM's EPT page-walk length: 4 or 5 */
	bool ept_1g;                  /* the part has 1 GiB EPT pages (IA32_VMX_EPT_VPID_CAP bit 17) */
	uint64_t vmx_roundtrip_cycles; /* VM exit + VM entry hardware round trip */
	/* VMM software */
	bool shadow_unsync;           /* KVM's unsync last-level shadow pages */
	uint64_t shadow_root_cache;   /* shadow roots kept per guest CR3 */
	unsigned io_path;             /* enum io_path: how the guest's devices reach it (io.path) */
	bool io_posted;               /* assigned devices' interrupts posted (VT-d posted format) */
	uint64_t vmm_mmio_emulate_cycles; /* the VMM's emulation of one device-register access */
	uint64_t vmm_io_copy_cycles_per_kib; /* an emulated device's back end copying a buffer */
	unsigned vmm_backing;         /* host page size behind guest memory: enum page_size_choice */
	uint64_t vmm_handler_cycles;  /* fixed software cost of dispatching one exit */
	uint64_t vmm_frame_alloc_cycles; /* host allocator work per host frame */
	uint64_t host_page_zero_cycles;  /* clearing one 4 KiB host frame */
	uint64_t host_tick_cycles;    /* host timer-interrupt handler */
	/* guest OS model */
	uint64_t guest_pf_cycles;     /* #PF delivery + guest handler entry/exit, excluding zeroing and PTE stores */
	uint64_t guest_page_zero_cycles; /* clearing one 4 KiB guest frame */
	uint64_t guest_tick_cycles;   /* guest timer-interrupt handler */
	uint64_t guest_hz;            /* guest timer interrupts per second */
	uint64_t guest_tlb_flush_ceiling; /* munmap of more pages than this flushes the whole TLB */
	bool guest_pcid;              /* the guest kernel tags address spaces with PCIDs (CR4.PCIDE) */
	uint64_t guest_paging_levels; /* the guest kernel's paging: 4, or 5 (CR4.LA57) */
	unsigned guest_thp;           /* transparent huge pages: enum guest_thp_mode */
	uint64_t guest_timeslice_ms;  /* a process runs this long before a tick preempts it; 0 = every tick */
	/* VT-d remapping unit (src/iommu) */
	uint64_t iommu_cap, iommu_ecap; /* CAP / ECAP register values (reference sheet §7.2) */
	uint64_t iommu_haw;           /* host address width (ACPI DMAR), bits */
	uint64_t iommu_cc_entries, iommu_cc_ways;       /* context cache */
	uint64_t iommu_iotlb_entries, iommu_iotlb_ways; /* IOTLB */
	uint64_t iommu_ptc_entries[3], iommu_ptc_ways[3]; /* SL-PML4E / SL-PDPE / SL-PDE caches; 0 entries = none */
	uint64_t iommu_iec_entries, iommu_iec_ways;     /* interrupt-entry cache */
	uint64_t iommu_mem_read_cycles; /* one memory reference of the unit */
	uint64_t iommu_inv_cycles;      /* one invalidation (descriptor or register command) */
	uint64_t iommu_inv_wait_cycles; /* one invalidation-wait descriptor */
	/* swiotlb (src/vmm/swiotlb.c) */
	uint64_t swiotlb_pool_mib;      /* bounce pool in low memory */
	uint64_t swiotlb_copy_cycles_per_kib; /* bounce copy cost */
	/* DMA-capable devices (src/dev) */
	uint64_t nic_gbps;              /* NIC line rate, Gb/s: a frame's wire time */
	uint64_t nvme_read_ns;          /* NVMe Read command latency */
	uint64_t nvme_write_ns;         /* NVMe Write command latency */
	/* trace front ends */
	unsigned trace_threads;       /* drmemtrace threads as guest threads or processes: enum drmem_threads */
	/* execution-driven workloads (vtsim run/compare --workload, docs/workloads.md) */
	uint64_t workload_size;       /* working-set bytes; 0 = the workload's own default */
	uint64_t workload_iterations; /* iterations; 0 = the workload's own default */
	uint64_t workload_seed;       /* seed of the workload's pseudo-random generator */
};

/* Values of a page-size parameter (vmm.backing): index i is the page of
 * 2^(12 + 9 i) bytes, written 4k, 2m, 1g. */
enum page_size_choice { PAGE_SIZE_4K = 0, PAGE_SIZE_2M = 1, PAGE_SIZE_1G = 2 };

/* Values of guest.thp (Linux /sys/kernel/mm/transparent_hugepage/enabled). */
enum guest_thp_mode { GUEST_THP_NEVER = 0, GUEST_THP_ALWAYS = 1, GUEST_THP_MADVISE = 2 };

/* log2 of the bytes of a page-size choice: 12, 21 or 30. */
static inline unsigned page_size_shift(unsigned choice)
{
	return 12 + 9 * choice;
}

/* PARAM_PROFILE: the name of one of cpu_profiles[] (cpu.profile only).
 * PARAM_CHOICE: one of the words of the unit ("4k/2m/1g": the words
 * separated by '/'), stored as its index (an unsigned).
 * PARAM_HEX: a uint64_t register value, shown in hex (0x...), quoted in JSON.
 * PARAM_BYTES: a uint64_t count of bytes, written as an integer with an
 * optional binary suffix K/KiB, M/MiB, G/GiB or T/TiB ("1GiB" =
 * 1073741824); formatted as the plain integer. */
enum param_type { PARAM_U64, PARAM_DOUBLE, PARAM_BOOL, PARAM_PROFILE, PARAM_CHOICE, PARAM_HEX, PARAM_BYTES };


struct param_info {
	const char *name;    /* e.g. "tlb.l2.entries" */
	enum param_type type;
	size_t offset;       /* into struct sim_params */
	const char *def;     /* default, as text */
	const char *unit;
	const char *source;  /* where the default comes from; "assumed: ..." if no source */
	uint64_t min, max;   /* accepted range (integers and booleans) */
};

extern const struct param_info param_table[];
extern const size_t param_count;

/*
 * A CPU profile: the values of one microarchitecture for the parameters a
 * source (or an explicit assumption) covers, each with its source, from
 * the "Proposed profiles" table of cpu-parameters.md §6. Every other
 * parameter keeps its default. The defaults are the skylake profile.
 */
struct profile_value {
	const char *param;   /* a param_table name */
	const char *value;   /* as text, as for --set */
	const char *source;  /* "assumed: ..." when no source gives it */
};

struct cpu_profile {
	const char *name;    /* "nehalem", "skylake", "sapphirerapids" */
	const char *part;    /* the reference part */
	const struct profile_value *values;
	size_t count;
};

extern const struct cpu_profile cpu_profiles[];
extern const size_t cpu_profile_count;

/* The profile called name, or NULL. */
const struct cpu_profile *params_find_profile(const char *name);

/* The profile's entry for param, or NULL if the profile keeps its default. */
const struct profile_value *profile_value_of(const struct cpu_profile *pr, const char *param);

/* The profile names as "nehalem, skylake, sapphirerapids" into buf. */
void params_profile_names(char *buf, size_t len);

/* Fill *p with every default (the skylake profile). */
void params_defaults(struct sim_params *p);

/*
 * Apply one "name=value" assignment. Returns 0, or -1 with a one-line
 * message in err (256 bytes): unknown name (with the nearest names), bad
 * value, out of range, unknown profile (with the list).
 *
 * "cpu.profile=P" resets every parameter to the defaults and then to
 * profile P's values: apply it before any other assignment.
 */
int params_set(struct sim_params *p, const char *assignment, char *err);

/* Cross-parameter validation (TLB geometry, memory sizes). 0 or -1 + err. */
int params_validate(const struct sim_params *p, char *err);

/* Every parameter as one JSON object, sorted by name; malloc'd, caller frees. */
char *params_json(const struct sim_params *p);

/* The value of a parameter as text into buf (64 bytes). */
void params_format(const struct sim_params *p, const struct param_info *pi, char *buf, size_t len);

#endif
