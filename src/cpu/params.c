/*
 * Notes: the parameter table. Sources are cited by the keys of
 * ../shared/reference/cpu-parameters.md and docs/parameters.md; values no
 * source gives are marked "assumed" and are meant to be swept.
 */
#include "cpu/params.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define P(field) offsetof(struct sim_params, field)

const struct param_info param_table[] = {
	{"cpu.profile", PARAM_PROFILE, P(cpu_profile), "skylake", "name",
	 "the CPU profile the other values start from (nehalem, skylake, sapphirerapids; cpu-parameters.md §6); "
	 "`--profile P` or `--set cpu.profile=P` applies it before any other --set",
	 0, 0},
	{"cpu.base_cpi", PARAM_DOUBLE, P(cpu_base_cpi), "1.0", "cycles/insn",
	 "assumed: one cycle per instruction before translation effects (first cut; no published per-trace CPI)", 0, 0},
	{"cpu.freq_mhz", PARAM_U64, P(cpu_freq_mhz), "4000", "MHz",
	 "Core i7-6700K base clock 4.0 GHz (cpu-parameters.md §6, skylake)", 100, 10000},
	{"cpu.cpuid_cycles", PARAM_U64, P(cpu_cpuid_cycles), "100", "cycles",
	 "assumed: CPUID latency on Skylake-class cores is about 100-200 cycles (leaf-dependent); not in cpu-parameters.md",
	 0, 1000000},
	{"cpu.io_cycles", PARAM_U64, P(cpu_io_cycles), "1000", "cycles",
	 "assumed: an uncached port access on the LPC bus takes about 1 us; not in cpu-parameters.md", 0, 10000000},
	{"dev.mmio_read_cycles", PARAM_U64, P(dev_mmio_read_cycles), "2400", "cycles",
	 "derived: 600 ns, the median PCIe read round trip of [PCIEB] (NFP6000 64 B DMA reads, cpu-parameters.md \"DMA "
	 "read latency\"; an MMIO read crosses the same link the other way), at 4.0 GHz",
	 0, 100000000},
	{"dev.mmio_write_cycles", PARAM_U64, P(dev_mmio_write_cycles), "100", "cycles",
	 "assumed: an uncached store is posted (PCIe memory writes need no completion); the core waits only for its "
	 "write-combining/UC store to drain",
	 0, 100000000},
	{"cpu.la57", PARAM_BOOL, P(cpu_la57), "off", "on/off",
	 "Skylake has no 5-level paging: CPUID.(EAX=7,ECX=0):ECX = 0 and IA32_VMX_CR4_FIXED1 = 0x003767FF, bit 12 (LA57) "
	 "clear ([IL] 00506E3_Skylake_CPUID.txt); with it on, CR4_FIXED1 allows LA57 and canonical means 57 bits",
	 0, 1},
	{"vmx.ept_5level", PARAM_BOOL, P(vmx_ept_5level), "off", "on/off",
	 "IA32_VMX_EPT_VPID_CAP bit 7 (5-level EPT): clear on Skylake, 0x00000F0106334141 ([IL] 00506E3_Skylake_CPUID.txt "
	 "MSR 0x48C; [VML])",
	 0, 1},
	{"vmx.posted_intr", PARAM_BOOL, P(vmx_posted_intr), "off", "on/off",
	 "\"process posted interrupts\" (IA32_VMX_TRUE_PINBASED_CTLS allowed-1 bit 7) with \"virtual-interrupt "
	 "delivery\" (IA32_VMX_PROCBASED_CTLS2 allowed-1 bit 9): neither on the i7-6700K (0x0000007F00000016, "
	 "0x001F7CFF00000000, [VML])",
	 0, 1},
	{"tlb.l1i.entries", PARAM_U64, P(tlb_l1i_entries), "128", "entries",
	 "Skylake i5-6400T ITLB 4K 128 entries 8-way, CPUID leaf 2 0xB6 ([IL] 00506E3_Skylake_CPUID.txt)", 1, 1 << 20},
	{"tlb.l1i.ways", PARAM_U64, P(tlb_l1i_ways), "8", "ways", "same source", 1, 1 << 20},
	{"tlb.l1d.entries", PARAM_U64, P(tlb_l1d_entries), "64", "entries",
	 "Skylake DTLB 4K 64 entries 4-way ([IL] 00506E3_Skylake_CPUID.txt)", 1, 1 << 20},
	{"tlb.l1d.ways", PARAM_U64, P(tlb_l1d_ways), "4", "ways", "same source", 1, 1 << 20},
	{"tlb.l1i_2m.entries", PARAM_U64, P(tlb_l1i_2m_entries), "8", "entries",
	 "Skylake i5-6400T ITLB 2M/4M 8 entries fully associative, CPUID leaf 2 0x76 ([IL] 00506E3_Skylake_CPUID.txt, "
	 "cpu-parameters.md §1); 0 = no 2 MiB ITLB (2 MiB code translations are cached as 4 KiB fragments)",
	 0, 1 << 20},
	{"tlb.l1i_2m.ways", PARAM_U64, P(tlb_l1i_2m_ways), "8", "ways", "same source", 1, 1 << 20},
	{"tlb.l1d_2m.entries", PARAM_U64, P(tlb_l1d_2m_entries), "32", "entries",
	 "Skylake DTLB 2M/4M 32 entries 4-way (cpu-parameters.md §6 skylake row; Skylake-X AIDA table [IL] "
	 "0050654_SkylakeX_NewMemLat.txt, Haswell/Sandy Bridge descriptors 0x5A-class 32 4-way) - secondary; "
	 "0 = no 2 MiB DTLB (2 MiB translations are cached as 4 KiB fragments)",
	 0, 1 << 20},
	{"tlb.l1d_2m.ways", PARAM_U64, P(tlb_l1d_2m_ways), "4", "ways", "same source", 1, 1 << 20},
	{"tlb.l1d_1g.entries", PARAM_U64, P(tlb_l1d_1g_entries), "4", "entries",
	 "Skylake DTLB for 1 GiB pages: 4 entries 4-way ([IL] 00506E3_Skylake_CPUID.txt); the Skylake client STLB holds no 1 GiB entries "
	 "(0 = no 1 GiB array, as on Nehalem: 1 GiB translations are cached as 4 KiB fragments)",
	 0, 1 << 20},
	{"tlb.l1d_1g.ways", PARAM_U64, P(tlb_l1d_1g_ways), "4", "ways", "same source", 1, 1 << 20},
	{"tlb.l2.entries", PARAM_U64, P(tlb_l2_entries), "1536", "entries",
	 "Skylake STLB 1536 entries ([IL] 00506E3_Skylake_CPUID.txt; Intel forum on descriptor 0xC3)", 1, 1 << 24},
	{"tlb.l2.ways", PARAM_U64, P(tlb_l2_ways), "12", "ways",
	 "Skylake STLB 12-way (WikiChip Skylake client; AIDA on SKX) - secondary", 1, 1 << 24},
	{"tlb.l2.2m", PARAM_BOOL, P(tlb_l2_2m), "on", "on/off",
	 "Skylake STLB is shared by 4 KiB and 2 MiB pages, descriptor 0xC3 ([IL] 00506E3_Skylake_CPUID.txt; Intel forum; "
	 "cpu-parameters.md §1); off = 4 KiB only (Nehalem 0xCA): a 2 MiB translation that misses the L1 2 MiB arrays walks",
	 0, 1},
	{"tlb.l2.hit_cycles", PARAM_U64, P(tlb_l2_hit_cycles), "8", "cycles",
	 "assumed: Haswell STLB-hit load 12 cycles minus 4-cycle L1 hit (PC Watch Haswell review, cpu-parameters.md §1)", 0, 1000},
	{"pwc.guest.pml4e.entries", PARAM_U64, P(pwc_entries[0][0]), "4", "entries",
	 "assumed: no measured Intel PML4E-cache size; ChampSim default (PML4 1 set x 4 ways), the skylake row of cpu-parameters.md §6 (SDM \"Paging-Structure Caches\"; keyed by la[47:39]; 0 = off)", 0, 1 << 16},
	{"pwc.guest.pml4e.ways", PARAM_U64, P(pwc_ways[0][0]), "4", "ways", "same source", 1, 1 << 16},
	{"pwc.guest.pdpte.entries", PARAM_U64, P(pwc_entries[0][1]), "8", "entries",
	 "assumed: no measured Intel PDPTE-cache size; ChampSim default (PDPT 2 sets x 4 ways), the skylake row of cpu-parameters.md §6 (SDM \"Paging-Structure Caches\"; keyed by la[47:30]; 0 = off)", 0, 1 << 16},
	{"pwc.guest.pdpte.ways", PARAM_U64, P(pwc_ways[0][1]), "4", "ways", "same source", 1, 1 << 16},
	{"pwc.guest.pde.entries", PARAM_U64, P(pwc_entries[0][2]), "32", "entries",
	 "assumed: no measured Intel PDE-cache size; ChampSim default (PD 4 sets x 8 ways), the skylake row of cpu-parameters.md §6 (SDM \"Paging-Structure Caches\"; keyed by la[47:21]; 0 = off)", 0, 1 << 16},
	{"pwc.guest.pde.ways", PARAM_U64, P(pwc_ways[0][2]), "8", "ways", "same source", 1, 1 << 16},
	{"pwc.ept.pml4e.entries", PARAM_U64, P(pwc_entries[1][0]), "4", "entries",
	 "assumed: the guest-dimension PML4E-cache geometry again (no source gives EPT-dimension sizes; keyed by GPA[47:39], tagged by EP4TA; 0 = off)", 0, 1 << 16},
	{"pwc.ept.pml4e.ways", PARAM_U64, P(pwc_ways[1][0]), "4", "ways", "same source", 1, 1 << 16},
	{"pwc.ept.pdpte.entries", PARAM_U64, P(pwc_entries[1][1]), "8", "entries",
	 "assumed: the guest-dimension PDPTE-cache geometry again (no source gives EPT-dimension sizes; keyed by GPA[47:30], tagged by EP4TA; 0 = off)", 0, 1 << 16},
	{"pwc.ept.pdpte.ways", PARAM_U64, P(pwc_ways[1][1]), "4", "ways", "same source", 1, 1 << 16},
	{"pwc.ept.pde.entries", PARAM_U64, P(pwc_entries[1][2]), "32", "entries",
	 "assumed: the guest-dimension PDE-cache geometry again (no source gives EPT-dimension sizes; keyed by GPA[47:21], tagged by EP4TA; 0 = off)", 0, 1 << 16},
	{"pwc.ept.pde.ways", PARAM_U64, P(pwc_ways[1][2]), "8", "ways", "same source", 1, 1 << 16},
	{"ntlb.entries", PARAM_U64, P(ntlb_entries), "16", "entries",
	 "assumed size; the structure (GPA->HPA of guest paging-structure pages, tagged by EP4TA) is the nested TLB of Bhargava et al., ASPLOS 2008 (0 = off)", 0, 1 << 16},
	{"ntlb.ways", PARAM_U64, P(ntlb_ways), "16", "ways", "assumed: fully associative", 1, 1 << 16},
	{"cache.l1d.kib", PARAM_U64, P(cache_kib[0]), "32", "KiB",
	 "Skylake client L1D 32 KiB 8-way, 64-byte lines, CPUID leaf 4 of the i5-6400T (same core), [IL] 00506E3_Skylake_CPUID.txt", 1, 1 << 20},
	{"cache.l1d.ways", PARAM_U64, P(cache_ways[0]), "8", "ways", "same source", 1, 1024},
	{"cache.l1d.cycles", PARAM_U64, P(cache_cycles[0]), "4", "cycles",
	 "Skylake load-to-use L1D hit 4 cycles (i5-6400T 4.04, [IL] 00506E3_Skylake_NewMemLat.txt; cpu-parameters.md §3)", 0,
	 100000},
	{"cache.l2.kib", PARAM_U64, P(cache_kib[1]), "256", "KiB", "Skylake client L2 256 KiB 4-way, CPUID leaf 4 of the i5-6400T (same core), [IL] 00506E3_Skylake_CPUID.txt; Intel Opt. Manual table \"256KB/4\"", 1,
	 1 << 24},
	{"cache.l2.ways", PARAM_U64, P(cache_ways[1]), "4", "ways", "same source", 1, 1024},
	{"cache.l2.cycles", PARAM_U64, P(cache_cycles[1]), "12", "cycles",
	 "Skylake client L2 hit 12 cycles (Intel Opt. Manual table; i5-6400T measures 14.07, [IL]; cpu-parameters.md §3, §6)",
	 0, 100000},
	{"cache.llc.kib", PARAM_U64, P(cache_kib[2]), "8192", "KiB",
	 "Core i7-6700K L3 8 MiB (spec table, silentpcreview.com) 16-way (Intel Opt. Manual \"up to 2MB per core / up to 16 ways\") - secondary; the whole LLC serves the one simulated core", 1, 1 << 24},
	{"cache.llc.ways", PARAM_U64, P(cache_ways[2]), "16", "ways", "same source", 1, 1024},
	{"cache.llc.cycles", PARAM_U64, P(cache_cycles[2]), "44", "cycles",
	 "Skylake client L3 hit 44 cycles (Intel Opt. Manual table; i5-6400T 46.8, [IL]; cpu-parameters.md §3, §6)", 0,
	 100000},
	{"mem.dram_cycles", PARAM_U64, P(cache_cycles[3]), "289", "cycles",
	 "derived: 72 ns (i5-6400T 72.2 ns, [IL] 00506E3_Skylake_NewMemLat.txt) at the i7-6700K's 4.0 GHz "
	 "(cpu-parameters.md §6)",
	 0, 1000000},
	{"cache.data_refs", PARAM_BOOL, P(cache_data_refs), "on", "on/off",
	 "the trace's loads and stores fill L1D/L2/LLC and fetches L2/LLC (not charged: the base CPI covers them), so "
	 "page-table lines compete with data as on a real core; off = only paging-structure accesses use the caches",
	 0, 1},
	{"host.mem_mib", PARAM_U64, P(host_mem_mib), "65536", "MiB", "assumed: a 64 GiB host", 16, UINT64_C(1) << 26},
	{"guest.mem_mib", PARAM_U64, P(guest_mem_mib), "16384", "MiB",
	 "assumed: a 16 GiB guest (at most 512 GiB: the guest's direct map is one PDPT of 1 GiB pages)", 16,
	 UINT64_C(1) << 19},
	{"vmx.vpid", PARAM_BOOL, P(vmx_vpid), "on", "on/off",
	 "\"enable VPID\" secondary control; KVM enables it whenever the CPU has it (SDM: VPIDs)", 0, 1},
	{"ept.ad", PARAM_BOOL, P(ept_ad), "on", "on/off",
	 "EPTP bit 6; Skylake reports EPT A/D (IA32_VMX_EPT_VPID_CAP 0x...06334141, [VML]) and KVM enables it", 0, 1},
	{"ept.levels", PARAM_U64, P(ept_levels), "4", "levels",
	 "the VMM's EPT page-walk length (EPTP bits 5:3 + 1); KVM uses 4 unless the guest's physical addresses need 5 "
	 "(arch/x86/kvm/vmx/vmx.c); 5 needs vmx.ept_5level",
	 4, 5},
	{"ept.1g", PARAM_BOOL, P(ept_1g), "on", "on/off",
	 "the part has 1 GiB EPT pages, IA32_VMX_EPT_VPID_CAP bit 17: Skylake i7-6700K 0x...06334141 ([VML] decoded with "
	 "[LNX] vmx.h, cpu-parameters.md §4); off: the CPU reports bit 17 clear and a 1 GiB EPT leaf is a misconfiguration",
	 0, 1},
	{"vmx.roundtrip_cycles", PARAM_U64, P(vmx_roundtrip_cycles), "630", "cycles",
	 "Skylake i7-6700K VMRESUME->CPUID->exit loop 608-671 TSC cycles ([VML] yulyugin/vmlatency)", 0, 1000000},
	{"shadow.unsync", PARAM_BOOL, P(shadow_unsync), "off", "on/off",
	 "KVM's unsync shadow pages: last-level guest page tables stay writable until the guest's INVLPG or CR3 load (arch/x86/kvm/mmu)",
	 0, 1},
	{"shadow.root_cache", PARAM_U64, P(shadow_root_cache), "4", "roots",
	 "KVM keeps the current shadow root and KVM_MMU_NUM_PREV_ROOTS = 3 previous ones", 1, 8},
	{"io.path", PARAM_CHOICE, P(io_path), "none", "none/emulated/assigned/bounce",
	 "none: the platform has no devices; with devices (NIC 00:03.0, NVMe 00:04.0): emulated = the VMM emulates "
	 "them (every register access exits, its back end copies each buffer); assigned = the devices are the guest's "
	 "through VT-d (IOVA = GPA remapped, interrupts remapped or posted, no exits for data); bounce = emulated "
	 "registers, and the back end hands guest buffers to a 32-bit-DMA-mask device without remapping, bounced by "
	 "swiotlb (guest memory above 4 GiB). Natively the kernel drives the devices directly (64-bit masks, no IOMMU)",
	 0, 0},
	{"io.posted", PARAM_BOOL, P(io_posted), "off", "on/off",
	 "assigned devices: IRTEs in posted format and \"process posted interrupts\" on, so a device interrupt reaches "
	 "the running guest without an exit; needs VT-d CAP.PI and the VMX control, which the i7-6700K lacks "
	 "(IA32_VMX_TRUE_PINBASED_CTLS allowed-1 0x7f) and no profile models yet: on is refused with a message",
	 0, 1},
	{"vmm.mmio_emulate_cycles", PARAM_U64, P(vmm_mmio_emulate_cycles), "1500", "cycles",
	 "assumed: fetching and decoding the faulting instruction and dispatching to the device model (KVM's "
	 "x86_emulate_instruction + the MMIO bus), beyond vmm.handler_cycles",
	 0, 100000000},
	{"vmm.io_copy_cycles_per_kib", PARAM_U64, P(vmm_io_copy_cycles_per_kib), "250", "cycles/KiB",
	 "assumed as swiotlb.copy_cycles_per_kib: an emulated device's back end copying between guest memory and its "
	 "buffers is a memcpy of the same kind",
	 0, 100000000},
	{"vmm.backing", PARAM_CHOICE, P(vmm_backing), "4k", "4k/2m/1g",
	 "assumed: 4 KiB host pages behind guest memory (no THP or hugetlbfs), so results stay comparable with earlier "
	 "runs; 2m / 1g: the VMM backs each aligned 2 MiB / 1 GiB guest-physical range inside guest memory with one "
	 "contiguous host block and one EPT leaf, as KVM does over a huge-page memslot (arch/x86/kvm/mmu "
	 "host_pfn_mapping_level); 1g needs ept.1g under EPT",
	 0, 0},
	{"vmm.handler_cycles", PARAM_U64, P(vmm_handler_cycles), "300", "cycles",
	 "assumed: exit dispatch and handler entry in the VMM, beyond the counted operations", 0, 1000000},
	{"vmm.frame_alloc_cycles", PARAM_U64, P(vmm_frame_alloc_cycles), "200", "cycles",
	 "assumed: host page allocator fast path", 0, 1000000},
	{"host.page_zero_cycles", PARAM_U64, P(host_page_zero_cycles), "1000", "cycles",
	 "assumed: clearing 4 KiB at about 4 bytes/cycle", 0, 1000000},
	{"host.tick_cycles", PARAM_U64, P(host_tick_cycles), "2000", "cycles",
	 "assumed: host timer-interrupt handler", 0, 10000000},
	{"guest.pf_cycles", PARAM_U64, P(guest_pf_cycles), "1500", "cycles",
	 "assumed: #PF delivery, handler entry/exit and VMA lookup of a minor anonymous fault, excluding zeroing and PTE stores",
	 0, 10000000},
	{"guest.page_zero_cycles", PARAM_U64, P(guest_page_zero_cycles), "1000", "cycles",
	 "assumed: clearing 4 KiB at about 4 bytes/cycle", 0, 1000000},
	{"guest.tick_cycles", PARAM_U64, P(guest_tick_cycles), "2000", "cycles",
	 "assumed: guest timer-interrupt handler", 0, 10000000},
	{"guest.hz", PARAM_U64, P(guest_hz), "250", "Hz", "Debian kernel CONFIG_HZ=250", 0, 100000},
	{"guest.tlb_flush_ceiling", PARAM_U64, P(guest_tlb_flush_ceiling), "33", "pages",
	 "Linux arch/x86/mm/tlb.c tlb_single_page_flush_ceiling = 33", 0, UINT64_C(1) << 40},
	{"guest.pcid", PARAM_BOOL, P(guest_pcid), "off", "on/off",
	 "Linux x86-64 uses PCIDs when the CPU has them (arch/x86/mm/tlb.c, TLB_NR_DYN_ASIDS = 6 per CPU, "
	 "no-flush CR3 loads); off by default so that results stay comparable with runs before multi-process guests",
	 0, 1},
	{"guest.paging_levels", PARAM_U64, P(guest_paging_levels), "4", "levels",
	 "the guest kernel's paging: 4, or 5 with CR4.LA57 (Linux CONFIG_X86_5LEVEL uses 5 levels when the CPU has LA57); "
	 "5 needs cpu.la57",
	 4, 5},
	{"guest.thp", PARAM_CHOICE, P(guest_thp), "never", "never/always/madvise",
	 "Linux transparent_hugepage/enabled (mm/huge_memory.c): always = a fault in an mmap'd region or the heap whose "
	 "aligned 2 MiB range lies wholly inside it maps a 2 MiB page (do_huge_pmd_anonymous_page); madvise = only "
	 "regions marked MADV_HUGEPAGE (lackey traces mark none); never (the default, as the results before large "
	 "pages) = 4 KiB pages only",
	 0, 0},
	{"guest.timeslice_ms", PARAM_U64, P(guest_timeslice_ms), "0", "ms",
	 "0 = preempt at every timer tick when another process is runnable: CFS with two or more runnable tasks "
	 "(sched_latency 6 ms / nr_running) at CONFIG_HZ=250 (4 ms ticks) has a slice shorter than a tick",
	 0, 100000},
	{"iommu.cap", PARAM_HEX, P(iommu_cap), "0xd2008c40660462", "bits",
	 "VT-d CAP of the Skylake client platform's remapping unit (ACPI DMAR table \"INTEL SKL\"; Linux dmesg \"dmar0: "
	 "reg_base_addr fed90000 ver 1:0 cap d2008c40660462 ecap f050da\"): 256 domain-ids (ND 2), SAGAW 48-bit "
	 "4-level only, MGAW 39, FRO 0x40 (FRCD at 0x400), one fault record (NFR 0), 2 MiB + 1 GiB second-level pages, "
	 "PSI with MAMV 18, CM 0, PI 0 (reference sheet §7.2 decodes it)",
	 0, UINT64_MAX},
	{"iommu.ecap", PARAM_HEX, P(iommu_ecap), "0xf050da", "bits",
	 "VT-d ECAP of the same unit (same dmesg line): QI, IR, EIM, PT, SC, IRO 0x50 (IVA at 0x500, IOTLB at 0x508), "
	 "MHMV 15; no page-walk coherency (C 0), no device-TLB (DT 0), no scalable mode",
	 0, UINT64_MAX},
	{"iommu.haw", PARAM_U64, P(iommu_haw), "39", "bits",
	 "host address width of the same platform (Linux dmesg \"DMAR: Host address width 39\", from the ACPI DMAR table)",
	 32, 52},
	{"iommu.context_cache.entries", PARAM_U64, P(iommu_cc_entries), "16", "entries",
	 "assumed: no published context-cache size (cpu-parameters.md §5, §6: 16, sweep it); 0 = none", 0, 1 << 16},
	{"iommu.context_cache.ways", PARAM_U64, P(iommu_cc_ways), "16", "ways", "assumed: fully associative", 1, 1 << 16},
	{"iommu.iotlb.entries", PARAM_U64, P(iommu_iotlb_entries), "64", "entries",
	 "assumed: 64 4 KiB entries, the HSW/BDW-EP IOTLB-reach bound (pcie-bench [PCIEB]) and the \"speculated 64\" of "
	 "[FAR] App. B (cpu-parameters.md §5, §6 skylake); one array for all page sizes ([FAR]); 0 = none",
	 0, 1 << 20},
	{"iommu.iotlb.ways", PARAM_U64, P(iommu_iotlb_ways), "64", "ways", "assumed: fully associative (no source gives it)", 1, 1 << 20},
	{"iommu.ptcache.pml4e.entries", PARAM_U64, P(iommu_ptc_entries[0]), "4", "entries",
	 "assumed: cpu-parameters.md §6 skylake \"IO PTcache L1/L2/L3 4/8/64\" (Cascade Lake has level 1-3 caches, sizes not "
	 "public, [FNS] §2); SL-PML4E entries keyed by IOVA[47:39] and domain-id; 0 = none",
	 0, 1 << 16},
	{"iommu.ptcache.pml4e.ways", PARAM_U64, P(iommu_ptc_ways[0]), "4", "ways", "assumed: fully associative", 1, 1 << 16},
	{"iommu.ptcache.pdpe.entries", PARAM_U64, P(iommu_ptc_entries[1]), "8", "entries",
	 "assumed: cpu-parameters.md §6 skylake; SL-PDPE entries keyed by IOVA[47:30] and domain-id; 0 = none", 0, 1 << 16},
	{"iommu.ptcache.pdpe.ways", PARAM_U64, P(iommu_ptc_ways[1]), "8", "ways", "assumed: fully associative", 1, 1 << 16},
	{"iommu.ptcache.pde.entries", PARAM_U64, P(iommu_ptc_entries[2]), "64", "entries",
	 "assumed: cpu-parameters.md §6 skylake (PTcache-L3 likely 64-128 entries, [FNS] footnote 3); SL-PDE entries keyed by "
	 "IOVA[47:21] and domain-id; 0 = none",
	 0, 1 << 16},
	{"iommu.ptcache.pde.ways", PARAM_U64, P(iommu_ptc_ways[2]), "64", "ways", "assumed: fully associative", 1, 1 << 16},
	{"iommu.iec.entries", PARAM_U64, P(iommu_iec_entries), "64", "entries",
	 "assumed: no published interrupt-entry-cache size; 0 = none", 0, 1 << 16},
	{"iommu.iec.ways", PARAM_U64, P(iommu_iec_ways), "64", "ways", "assumed: fully associative", 1, 1 << 16},
	{"iommu.mem_read_cycles", PARAM_U64, P(iommu_mem_read_cycles), "1000", "cycles",
	 "derived: one memory read of the remapping unit, 250 ns at 4.0 GHz: cpu-parameters.md §6 skylake \"IOTLB miss penalty "
	 "250 ns\" (HSW-BDW +213-280 ns per miss, [PCIEB]) taken as one read per miss, the upper levels being cached; "
	 "charged per reference, not through the core's caches (the unit sits outside them; [FNS] l_m = 197 ns per read)",
	 0, 10000000},
	{"iommu.inv_cycles", PARAM_U64, P(iommu_inv_cycles), "1000", "cycles",
	 "assumed: half of cpu-parameters.md §6 \"PSI+wait cost 2000 cycles\" (no source found; sweep it): one context-cache, "
	 "IOTLB or IEC invalidation, queued or by register",
	 0, 10000000},
	{"iommu.inv_wait_cycles", PARAM_U64, P(iommu_inv_wait_cycles), "1000", "cycles",
	 "assumed: the other half of cpu-parameters.md §6 \"PSI+wait cost 2000 cycles\": one invalidation-wait descriptor with "
	 "its status write",
	 0, 10000000},
	{"swiotlb.pool_mib", PARAM_U64, P(swiotlb_pool_mib), "64", "MiB",
	 "Linux IO_TLB_DEFAULT_SIZE = 64 MiB = 32768 slots of 2 KiB, allocated in low memory (kernel/dma/swiotlb.c, reference "
	 "sheet §8.1); at least 1 MiB (IO_TLB_MIN_SLABS)",
	 1, 4096},
	{"swiotlb.copy_cycles_per_kib", PARAM_U64, P(swiotlb_copy_cycles_per_kib), "250", "cycles/KiB",
	 "assumed: a bounce copy at about 4 bytes/cycle, the rate host.page_zero_cycles assumes", 0, 1000000},
	{"nic.gbps", PARAM_U64, P(nic_gbps), "10", "Gb/s",
	 "assumed: a 10 Gb/s port (82599 / X710-class server NIC; Intel 82599 datasheet 331520: 10 GbE); the e1000 "
	 "register subset is kept but not its 1 Gb/s line rate. A frame of len bytes takes len x 8 / nic.gbps ns on the "
	 "wire (preamble, SFD and inter-frame gap, 20 bytes a frame on real Ethernet, are not counted)",
	 1, 1000},
	{"nvme.read_ns", PARAM_U64, P(nvme_read_ns), "10000", "ns",
	 "Intel Optane SSD DC P4800X product brief: read latency < 10 us (QD1, 4 KiB); the controller completes a "
	 "Read this long after fetching it, whatever its length (no transfer time is added)",
	 0, 1000000000},
	{"nvme.write_ns", PARAM_U64, P(nvme_write_ns), "10000", "ns",
	 "Intel Optane SSD DC P4800X product brief: write latency < 10 us (QD1, 4 KiB); as nvme.read_ns for Write",
	 0, 1000000000},
	{"trace.threads", PARAM_CHOICE, P(trace_threads), "thread", "thread/process",
	 "how the threads of a DynamoRIO drmemtrace trace become guest tasks: thread = threads of one guest process per "
	 "traced pid, sharing its address space, interleaved in timestamp order; process = a guest process (own address "
	 "space) per thread. Other trace formats ignore it (a .vtt keeps the choice made at import)",
	 0, 0},
	{"workload.size", PARAM_BYTES, P(workload_size), "0", "bytes",
	 "assumed: the working set of an execution-driven workload (--workload; K/M/G/T suffixes, binary); 0 = the "
	 "workload's own default, chosen so that a compare of the three modes takes seconds (docs/workloads.md)",
	 0, UINT64_C(1) << 40},
	{"workload.iterations", PARAM_U64, P(workload_iterations), "0", "iterations",
	 "assumed: the iterations of an execution-driven workload (loads, lookups, processes, rounds; docs/workloads.md); "
	 "0 = the workload's own default",
	 0, UINT64_C(1) << 40},
	{"workload.seed", PARAM_U64, P(workload_seed), "1", "seed",
	 "assumed: the seed of the workload's xorshift64* generator (workloads/guest.h); runs with the same seed "
	 "execute the same instructions",
	 0, UINT64_MAX},
};
const size_t param_count = sizeof(param_table) / sizeof(param_table[0]);

/*
 * CPU profiles: cpu-parameters.md §6 "Proposed profiles", for the
 * parameters vtsim has. Each profile gives the same parameters, so that
 * `vtsim params` can show them side by side; the skylake values are the
 * defaults (a test checks it). Not modelled: page-walker counts. The VT-d
 * rows (IOTLB entries, IO PTcache, IOTLB miss penalty) are all assumed or
 * derived there.
 */
#define PWC_ASSUMED(row) \
	"assumed: no measured Intel paging-structure-cache size; cpu-parameters.md §6 " row " row"

static const struct profile_value nehalem_values[] = {
	{"cpu.freq_mhz", "2670", "Xeon X5550 2.67 GHz, the clock of its latency dump ([IL] 00106A2_Nehalem-EP_MemLatX64.txt)"},
	{"cpu.la57", "off", "no 5-level paging: it first shipped with Ice Lake (SDM Vol. 3A \"4-Level Paging and 5-Level Paging\")"},
	{"vmx.ept_5level", "off", "Nehalem i5-760 IA32_VMX_EPT_VPID_CAP 0x00000f0106114141: bit 7 clear ([VML])"},
	{"tlb.l1i.entries", "64",
	 "Nehalem-EP ITLB 4K 64 entries 4-way per logical CPU, CPUID leaf 2 0xB2 ([IL] 00106A2_Nehalem-EP_CPUID.txt + [LNX])"},
	{"tlb.l1i.ways", "4", "same source"},
	{"tlb.l1d.entries", "64", "Nehalem-EP DTLB 4K 64 entries 4-way, descriptor 0x03 ([IL] 00106A2_Nehalem-EP_CPUID.txt + [LNX])"},
	{"tlb.l1d.ways", "4", "same source"},
	{"tlb.l1i_2m.entries", "7",
	 "Nehalem-EP ITLB 2M/4M 7 entries fully associative per logical CPU, descriptor 0x55 ([IL] 00106A2_Nehalem-EP_CPUID.txt + [LNX])"},
	{"tlb.l1i_2m.ways", "7", "same source (fully associative)"},
	{"tlb.l1d_2m.entries", "32", "Nehalem-EP DTLB 2M/4M 32 entries 4-way, descriptor 0x5A ([IL] 00106A2_Nehalem-EP_CPUID.txt + [LNX])"},
	{"tlb.l1d_2m.ways", "4", "same source"},
	{"tlb.l1d_1g.entries", "0",
	 "no 1 GiB pages: CPUID 80000001 EDX=28100000, PDPE1GB clear ([IL] 00106A2_Nehalem-EP_CPUID.txt); "
	 "1 GiB translations are cached as 4 KiB fragments"},
	{"tlb.l1d_1g.ways", "4", "unused: no 1 GiB array (the default, kept valid)"},
	{"tlb.l2.entries", "512", "Nehalem-EP STLB 512 entries 4-way, 4K only, descriptor 0xCA ([IL] + [LNX]; H&P 5e Core i7)"},
	{"tlb.l2.ways", "4", "same source"},
	{"tlb.l2.2m", "off", "Nehalem-EP STLB holds 4 KiB pages only, descriptor 0xCA ([IL] 00106A2_Nehalem-EP_CPUID.txt + [LNX])"},
	{"tlb.l2.hit_cycles", "7",
	 "assumed: cpu-parameters.md §6 nehalem (H&P 5e gives a 2-cycle L1 refill from the STLB, not a load-to-use penalty)"},
	{"pwc.guest.pml4e.entries", "4", PWC_ASSUMED("nehalem")},
	{"pwc.guest.pdpte.entries", "4",
	 PWC_ASSUMED("nehalem") " (vusec/revanc uses 4 PDPTEs as an eviction guideline on Ivy Bridge and older)"},
	{"pwc.guest.pde.entries", "32", PWC_ASSUMED("nehalem")},
	{"pwc.ept.pml4e.entries", "4", PWC_ASSUMED("nehalem") ", EPT dimension as the guest one"},
	{"pwc.ept.pdpte.entries", "4", PWC_ASSUMED("nehalem") ", EPT dimension as the guest one"},
	{"pwc.ept.pde.entries", "32", PWC_ASSUMED("nehalem") ", EPT dimension as the guest one"},
	{"cache.l1d.kib", "32",
	 "Nehalem-EP L1D 32 KiB 8-way, CPUID leaf 4 ([IL] 00106A2_Nehalem-EP_CPUID.txt)"},
	{"cache.l1d.ways", "8",
	 "same source"},
	{"cache.l1d.cycles", "4",
	 "Nehalem-EP X5550 L1D 4 cycles ([IL] 00106A2_Nehalem-EP_MemLatX64.txt; cpu-parameters.md §3)"},
	{"cache.l2.kib", "256",
	 "Nehalem-EP L2 256 KiB 8-way, CPUID leaf 4 ([IL] 00106A2_Nehalem-EP_CPUID.txt)"},
	{"cache.l2.ways", "8",
	 "same source"},
	{"cache.l2.cycles", "10",
	 "Nehalem-EP X5550 L2 10 cycles ([IL] 00106A2_Nehalem-EP_MemLatX64.txt)"},
	{"cache.llc.kib", "8192",
	 "Xeon X5550 L3 8 MiB 16-way shared, CPUID leaf 4 ([IL] 00106A2_Nehalem-EP_CPUID.txt)"},
	{"cache.llc.ways", "16",
	 "same source"},
	{"cache.llc.cycles", "42",
	 "derived: X5550 L3 41-45 cycles random within 2 MiB ([IL] 00106A2_Nehalem-EP_MemLatX64.txt; cpu-parameters.md §6)"},
	{"mem.dram_cycles", "181",
	 "Xeon X5550 DRAM 67.6 ns = 181 cycles at 2.67 GHz ([IL] 00106A2_Nehalem-EP_MemLatX64.txt)"},
	{"ept.ad", "off",
	 "Nehalem i5-760 IA32_VMX_EPT_VPID_CAP 0x00000f0106114141: no EPT A/D flags ([VML] decoded with [LNX] vmx.h)"},
	{"ept.1g", "off",
	 "Nehalem i5-760 IA32_VMX_EPT_VPID_CAP 0x00000f0106114141: 2 MiB EPT pages only, bit 17 clear ([VML] decoded "
	 "with [LNX] vmx.h; cpu-parameters.md §6 \"EPT large pages\")"},
	{"vmx.roundtrip_cycles", "950",
	 "Nehalem i5-760 VMRESUME->CPUID->exit loop about 950 (933-982) TSC cycles ([VML] yulyugin/vmlatency)"},
	{"iommu.iotlb.entries", "128", "assumed: cpu-parameters.md §6 nehalem (SNB-EP IOTLB-reach bound, [PCIEB])"},
	{"iommu.iotlb.ways", "128", "assumed: fully associative"},
	{"iommu.ptcache.pml4e.entries", "0", "assumed: cpu-parameters.md §6 nehalem \"IO PTcache 0\""},
	{"iommu.ptcache.pdpe.entries", "0", "assumed: cpu-parameters.md §6 nehalem"},
	{"iommu.ptcache.pde.entries", "0", "assumed: cpu-parameters.md §6 nehalem"},
	{"iommu.mem_read_cycles", "614",
	 "derived: cpu-parameters.md §6 nehalem \"IOTLB miss penalty 230 ns\" (SNB-EP +227-240 ns, [PCIEB]) at 2.67 GHz"},
};

static const struct profile_value skylake_values[] = {
	{"cpu.freq_mhz", "4000", "Core i7-6700K base clock 4.0 GHz (cpu-parameters.md §6, skylake)"},
	{"cpu.la57", "off", "CPUID.(EAX=7,ECX=0):ECX = 0, IA32_VMX_CR4_FIXED1 0x003767FF ([IL] 00506E3_Skylake_CPUID.txt)"},
	{"vmx.ept_5level", "off", "IA32_VMX_EPT_VPID_CAP 0x00000F0106334141, bit 7 clear ([IL] 00506E3_Skylake_CPUID.txt MSR 0x48C)"},
	{"tlb.l1i.entries", "128", "Skylake i5-6400T ITLB 4K 128 entries 8-way, CPUID leaf 2 0xB6 ([IL] 00506E3_Skylake_CPUID.txt)"},
	{"tlb.l1i.ways", "8", "same source"},
	{"tlb.l1d.entries", "64", "Skylake DTLB 4K 64 entries 4-way ([IL] 00506E3_Skylake_CPUID.txt)"},
	{"tlb.l1d.ways", "4", "same source"},
	{"tlb.l1i_2m.entries", "8", "Skylake i5-6400T ITLB 2M/4M 8 entries fully associative, descriptor 0x76 ([IL] 00506E3_Skylake_CPUID.txt)"},
	{"tlb.l1i_2m.ways", "8", "same source (fully associative)"},
	{"tlb.l1d_2m.entries", "32",
	 "Skylake DTLB 2M 32 entries 4-way (cpu-parameters.md §6; Skylake-X AIDA table [IL] 0050654_SkylakeX_NewMemLat.txt) - secondary"},
	{"tlb.l1d_2m.ways", "4", "same source"},
	{"tlb.l1d_1g.entries", "4", "Skylake DTLB 1G 4 entries 4-way ([IL] 00506E3_Skylake_CPUID.txt)"},
	{"tlb.l2.entries", "1536", "Skylake STLB 1536 entries ([IL] 00506E3_Skylake_CPUID.txt; Intel forum on descriptor 0xC3)"},
	{"tlb.l2.ways", "12", "Skylake STLB 12-way (WikiChip Skylake client; AIDA on SKX) - secondary"},
	{"tlb.l2.2m", "on", "Skylake STLB shared by 4 KiB and 2 MiB pages, descriptor 0xC3 ([IL] 00506E3_Skylake_CPUID.txt; Intel forum)"},
	{"tlb.l2.hit_cycles", "8", "assumed: Haswell STLB-hit load 12 cycles minus 4-cycle L1 hit (PC Watch Haswell review)"},
	{"pwc.guest.pml4e.entries", "4", PWC_ASSUMED("skylake") " (ChampSim default)"},
	{"pwc.guest.pdpte.entries", "8", PWC_ASSUMED("skylake") " (ChampSim default)"},
	{"pwc.guest.pde.entries", "32", PWC_ASSUMED("skylake") " (ChampSim default)"},
	{"pwc.ept.pml4e.entries", "4", PWC_ASSUMED("skylake") ", EPT dimension as the guest one"},
	{"pwc.ept.pdpte.entries", "8", PWC_ASSUMED("skylake") ", EPT dimension as the guest one"},
	{"pwc.ept.pde.entries", "32", PWC_ASSUMED("skylake") ", EPT dimension as the guest one"},
	{"cache.l1d.kib", "32",
	 "Skylake client L1D 32 KiB 8-way, CPUID leaf 4 of the i5-6400T (same core), [IL] 00506E3_Skylake_CPUID.txt"},
	{"cache.l1d.ways", "8",
	 "same source"},
	{"cache.l1d.cycles", "4",
	 "Skylake L1D 4 cycles (i5-6400T 4.04, [IL] 00506E3_Skylake_NewMemLat.txt)"},
	{"cache.l2.kib", "256",
	 "Skylake client L2 256 KiB 4-way, CPUID leaf 4 of the i5-6400T (same core), [IL] 00506E3_Skylake_CPUID.txt"},
	{"cache.l2.ways", "4",
	 "same source"},
	{"cache.l2.cycles", "12",
	 "Skylake client L2 12 cycles (Intel Opt. Manual table; i5-6400T 14.07, [IL])"},
	{"cache.llc.kib", "8192",
	 "Core i7-6700K L3 8 MiB (spec table, silentpcreview.com) 16-way (Intel Opt. Manual) - secondary"},
	{"cache.llc.ways", "16",
	 "same source"},
	{"cache.llc.cycles", "44",
	 "Skylake client L3 44 cycles (Intel Opt. Manual table; i5-6400T 46.8, [IL])"},
	{"mem.dram_cycles", "289",
	 "derived: 72 ns (i5-6400T 72.2 ns, [IL]) at 4.0 GHz (cpu-parameters.md §6)"},
	{"ept.ad", "on", "Skylake IA32_VMX_EPT_VPID_CAP 0x...06334141: EPT A/D ([VML] decoded with [LNX] vmx.h)"},
	{"ept.1g", "on", "Skylake IA32_VMX_EPT_VPID_CAP 0x...06334141: 2 MiB and 1 GiB EPT pages ([VML] decoded with [LNX] vmx.h)"},
	{"vmx.roundtrip_cycles", "630", "Skylake i7-6700K VMRESUME->CPUID->exit loop 608-671 TSC cycles ([VML] yulyugin/vmlatency)"},
	{"iommu.iotlb.entries", "64", "assumed: cpu-parameters.md §6 skylake (HSW/BDW-EP IOTLB-reach bound, [PCIEB]; [FAR])"},
	{"iommu.iotlb.ways", "64", "assumed: fully associative"},
	{"iommu.ptcache.pml4e.entries", "4", "assumed: cpu-parameters.md §6 skylake"},
	{"iommu.ptcache.pdpe.entries", "8", "assumed: cpu-parameters.md §6 skylake"},
	{"iommu.ptcache.pde.entries", "64", "assumed: cpu-parameters.md §6 skylake"},
	{"iommu.mem_read_cycles", "1000",
	 "derived: cpu-parameters.md §6 skylake \"IOTLB miss penalty 250 ns\" (HSW-BDW +213-280 ns, [PCIEB]) at 4.0 GHz"},
};

static const struct profile_value sapphirerapids_values[] = {
	{"cpu.freq_mhz", "3800", "Xeon Platinum 8480, 3.8 GHz max boost (chipsandcheese.com/p/a-peek-at-sapphire-rapids)"},
	{"cpu.la57", "on",
	 "Sapphire Rapids w7-2475X: CPUID.(EAX=7,ECX=0):ECX = 0xBB417FEE (bit 16 LA57), CPUID 0x80000008 EAX = 0x3934 "
	 "(57 linear bits), IA32_VMX_CR4_FIXED1 0x03F77FFF (bit 12) ([IL] 00806F8_SapphireRapids_05_CPUID.txt)"},
	{"vmx.ept_5level", "on",
	 "Sapphire Rapids w7-2475X IA32_VMX_EPT_VPID_CAP 0x00010F0106F341C1, bit 7 set ([IL] "
	 "00806F8_SapphireRapids_05_CPUID.txt MSR 0x48C)"},
	{"vmx.posted_intr", "on",
	 "assumed from Linux KVM: IPI virtualization, which works through posted-interrupt descriptors and needs APICv "
	 "(virtual-interrupt delivery, posted interrupts), is enabled on Sapphire Rapids, the first part with it "
	 "(arch/x86/kvm/vmx/vmx.c enable_ipiv; the [IL] dump lists no VMX control MSRs)"},
	{"tlb.l1i.entries", "256",
	 "Sapphire Rapids ITLB 4K 256 entries 8-way, CPUID leaf 0x18 ([IL] 00806F8_SapphireRapids_05_CPUID.txt + [L18])"},
	{"tlb.l1i.ways", "8", "same source"},
	{"tlb.l1d.entries", "64",
	 "Sapphire Rapids load DTLB 4K 64 entries 4-way, leaf 0x18 ([IL] 00806F8_SapphireRapids_05_CPUID.txt + [L18]); "
	 "AIDA gives Golden Cove 96 6-way ([IL] 0090672_AlderLake_01_BC_NewMemLat.txt): sweep it"},
	{"tlb.l1d.ways", "4", "same source"},
	{"tlb.l1i_2m.entries", "32",
	 "Sapphire Rapids ITLB 2M/4M 32 entries 8-way, leaf 0x18 ([IL] 00806F8_SapphireRapids_05_CPUID.txt + [L18])"},
	{"tlb.l1i_2m.ways", "8", "same source"},
	{"tlb.l1d_2m.entries", "32",
	 "Sapphire Rapids load DTLB 2M/4M 32 entries 4-way, leaf 0x18 ([IL] 00806F8_SapphireRapids_05_CPUID.txt + [L18]); "
	 "the store DTLB is not modelled"},
	{"tlb.l1d_2m.ways", "4", "same source"},
	{"tlb.l1d_1g.entries", "8",
	 "Sapphire Rapids load DTLB 1G 8 entries fully associative, leaf 0x18 ([IL] 00806F8_SapphireRapids_05_CPUID.txt + [L18]); "
	 "the 16-entry store DTLB is not modelled"},
	{"tlb.l1d_1g.ways", "8", "same source"},
	{"tlb.l2.entries", "2048",
	 "Sapphire Rapids STLB 1024 8-way 4K/2M + 1024 8-way 4K/1G, leaf 0x18 ([IL] 00806F8_SapphireRapids_05_CPUID.txt + [L18]): "
	 "both arrays hold 4 KiB entries, modelled as one array of their 128 sets x 16 ways"},
	{"tlb.l2.ways", "16", "same source"},
	{"tlb.l2.2m", "on",
	 "Sapphire Rapids STLB 1024 8-way 4K/2M/4M, leaf 0x18 ([IL] 00806F8_SapphireRapids_05_CPUID.txt + [L18]); "
	 "modelled as the one 2048-entry array holding 2 MiB entries (the 4K/1G half holds none on the part)"},
	{"tlb.l2.hit_cycles", "8", "assumed: cpu-parameters.md §6 sapphirerapids"},
	{"pwc.guest.pml4e.entries", "4", PWC_ASSUMED("sapphirerapids")},
	{"pwc.guest.pdpte.entries", "8", PWC_ASSUMED("sapphirerapids")},
	{"pwc.guest.pde.entries", "32", PWC_ASSUMED("sapphirerapids")},
	{"pwc.ept.pml4e.entries", "4", PWC_ASSUMED("sapphirerapids") ", EPT dimension as the guest one"},
	{"pwc.ept.pdpte.entries", "8", PWC_ASSUMED("sapphirerapids") ", EPT dimension as the guest one"},
	{"pwc.ept.pde.entries", "32", PWC_ASSUMED("sapphirerapids") ", EPT dimension as the guest one"},
	{"cache.l1d.kib", "48",
	 "Sapphire Rapids L1D 48 KiB 12-way, CPUID leaf 4 of the w7-2475X (same core), [IL] 00806F8_SapphireRapids_05_CPUID.txt"},
	{"cache.l1d.ways", "12",
	 "same source"},
	{"cache.l1d.cycles", "5",
	 "Golden Cove L1D 5 cycles (i9-12900K P-core 5.00, [IL] 0090672_AlderLake_01_BC_NewMemLat.txt; SPR 5 secondary)"},
	{"cache.l2.kib", "2048",
	 "Sapphire Rapids L2 2 MiB 16-way, CPUID leaf 4, [IL] 00806F8_SapphireRapids_05_CPUID.txt"},
	{"cache.l2.ways", "16",
	 "same source"},
	{"cache.l2.cycles", "16",
	 "Sapphire Rapids L2 16 cycles (SST Spatter SPR config citing chips-and-cheese/AnandTech, cpu-parameters.md §3) - secondary"},
	{"cache.llc.kib", "107520",
	 "Xeon Platinum 8480 L3 56 x 1.875 MiB = 105 MiB, 15-way: 1.875 MiB 15-way per core from CPUID leaf 4 ([IL] 00806F8_SapphireRapids_05_CPUID.txt), 105 MB per socket (servethehome.com SPR review p.7) - the whole LLC serves the one simulated core"},
	{"cache.llc.ways", "15",
	 "same source"},
	{"cache.llc.cycles", "80",
	 "assumed: cpu-parameters.md §6 sapphirerapids (no measured SPR L3 latency found)"},
	{"mem.dram_cycles", "418",
	 "assumed: 110 ns (cpu-parameters.md §6) at 3.8 GHz"},
	{"ept.ad", "on",
	 "Sapphire Rapids w7-2475X IA32_VMX_EPT_VPID_CAP 0x00010F0106F341C1: bit 21 (EPT A/D) set ([IL] "
	 "00806F8_SapphireRapids_05_CPUID.txt MSR 0x48C)"},
	{"ept.1g", "on",
	 "Sapphire Rapids w7-2475X IA32_VMX_EPT_VPID_CAP 0x00010F0106F341C1: bit 17 (1 GiB EPT pages) set ([IL] "
	 "00806F8_SapphireRapids_05_CPUID.txt MSR 0x48C)"},
	{"vmx.roundtrip_cycles", "500",
	 "assumed: no Sapphire Rapids measurement; Cascade Lake Gold 6252N 439-532 TSC cycles ([VML] yulyugin/vmlatency)"},
	{"iommu.iotlb.entries", "64", "assumed: cpu-parameters.md §6 sapphirerapids"},
	{"iommu.iotlb.ways", "64", "assumed: fully associative"},
	{"iommu.ptcache.pml4e.entries", "4", "assumed: cpu-parameters.md §6 sapphirerapids"},
	{"iommu.ptcache.pdpe.entries", "8", "assumed: cpu-parameters.md §6 sapphirerapids"},
	{"iommu.ptcache.pde.entries", "128", "assumed: cpu-parameters.md §6 sapphirerapids (PTcache-L3 64-128, [FNS] footnote 3)"},
	{"iommu.ptcache.pde.ways", "128", "assumed: fully associative"},
	{"iommu.mem_read_cycles", "749",
	 "derived: Cascade Lake l_m = 197 ns per IOMMU memory read ([FNS] §2.2; cpu-parameters.md §6 \"200 ns\") at 3.8 GHz"},
};

#define PROFILE(n, part) {#n, part, n##_values, sizeof(n##_values) / sizeof(n##_values[0])}

const struct cpu_profile cpu_profiles[] = {
	PROFILE(nehalem, "Xeon X5550 (Nehalem-EP), 2.67 GHz"),
	PROFILE(skylake, "Core i7-6700K, 4.0 GHz (TLB and latency rows from i5-6400T); the defaults"),
	PROFILE(sapphirerapids, "Xeon Platinum 8480, 3.8 GHz max boost"),
};
const size_t cpu_profile_count = sizeof(cpu_profiles) / sizeof(cpu_profiles[0]);

const struct cpu_profile *params_find_profile(const char *name)
{
	for (size_t i = 0; i < cpu_profile_count; i++)
		if (!strcmp(cpu_profiles[i].name, name))
			return &cpu_profiles[i];
	return NULL;
}

const struct profile_value *profile_value_of(const struct cpu_profile *pr, const char *param)
{
	for (size_t i = 0; i < pr->count; i++)
		if (!strcmp(pr->values[i].param, param))
			return &pr->values[i];
	return NULL;
}

void params_profile_names(char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < cpu_profile_count && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", cpu_profiles[i].name);
}

static const struct param_info *find_param(const char *name, size_t len)
{
	for (size_t i = 0; i < param_count; i++)
		if (strlen(param_table[i].name) == len && strncmp(param_table[i].name, name, len) == 0)
			return &param_table[i];
	return NULL;
}

static int parse_value(struct sim_params *p, const struct param_info *pi, const char *v, char *err)
{
	char *end;
	void *field = (char *)p + pi->offset;
	switch (pi->type) {
	case PARAM_PROFILE: {
		const struct cpu_profile *pr = params_find_profile(v);
		if (!pr) {
			char names[128];
			params_profile_names(names, sizeof(names));
			snprintf(err, 256, "unknown profile '%s'; available: %s", v, names);
			return -1;
		}
		*(unsigned *)field = (unsigned)(pr - cpu_profiles);
		return 0;
	}
	case PARAM_CHOICE: {
		size_t n = strlen(v);
		unsigned i = 0;
		for (const char *w = pi->unit; *w; i++) {
			size_t len = strcspn(w, "/");
			if (len == n && !strncmp(w, v, n)) {
				*(unsigned *)field = i;
				return 0;
			}
			w += len + (w[len] == '/');
		}
		snprintf(err, 256, "parameter %s: '%s' is not one of %s", pi->name, v, pi->unit);
		return -1;
	}
	case PARAM_BOOL:
		if (!strcmp(v, "on") || !strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes"))
			*(bool *)field = true;
		else if (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no"))
			*(bool *)field = false;
		else {
			snprintf(err, 256, "parameter %s: '%s' is not on or off", pi->name, v);
			return -1;
		}
		return 0;
	case PARAM_DOUBLE: {
		errno = 0;
		double d = strtod(v, &end);
		if (errno || end == v || *end || !(d >= 0.0) || d > 1e6) {
			snprintf(err, 256, "parameter %s: '%s' is not a number in [0, 1e6]", pi->name, v);
			return -1;
		}
		*(double *)field = d;
		return 0;
	}
	case PARAM_BYTES: {
		static const struct {
			const char *suffix;
			unsigned shift;
		} sfx[] = {{"", 0},   {"K", 10},  {"KiB", 10}, {"M", 20},  {"MiB", 20},
			   {"G", 30}, {"GiB", 30}, {"T", 40},   {"TiB", 40}};
		errno = 0;
		uint64_t u = (*v >= '0' && *v <= '9') ? strtoull(v, &end, 10) : 0;
		size_t k = 0;
		if (*v >= '0' && *v <= '9' && !errno)
			for (k = 0; k < sizeof(sfx) / sizeof(sfx[0]) && strcmp(end, sfx[k].suffix); k++)
				;
		if (!(*v >= '0' && *v <= '9') || errno || k == sizeof(sfx) / sizeof(sfx[0]) ||
		    (sfx[k].shift && u > (UINT64_MAX >> sfx[k].shift))) {
			snprintf(err, 256, "parameter %s: '%s' is not a byte count (an integer with K, M, G or T, e.g. 1GiB)",
				 pi->name, v);
			return -1;
		}
		u <<= sfx[k].shift;
		if (u < pi->min || u > pi->max) {
			snprintf(err, 256, "parameter %s: %" PRIu64 " is outside [%" PRIu64 ", %" PRIu64 "] %s", pi->name, u,
				 pi->min, pi->max, pi->unit);
			return -1;
		}
		*(uint64_t *)field = u;
		return 0;
	}
	case PARAM_HEX:
	case PARAM_U64: {
		errno = 0;
		if (*v == '-' || *v == '\0') {
			snprintf(err, 256, "parameter %s: '%s' is not a non-negative integer", pi->name, v);
			return -1;
		}
		uint64_t u = strtoull(v, &end, 0);
		if (errno || *end) {
			snprintf(err, 256, "parameter %s: '%s' is not a non-negative integer", pi->name, v);
			return -1;
		}
		if (u < pi->min || u > pi->max) {
			snprintf(err, 256, "parameter %s: %" PRIu64 " is outside [%" PRIu64 ", %" PRIu64 "] %s",
				 pi->name, u, pi->min, pi->max, pi->unit);
			return -1;
		}
		*(uint64_t *)field = u;
		return 0;
	}
	}
	return -1;
}

void params_defaults(struct sim_params *p)
{
	char err[256];
	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < param_count; i++)
		if (parse_value(p, &param_table[i], param_table[i].def, err) < 0)
			abort(); /* a bad default is a programming error caught by every test */
}

int params_set(struct sim_params *p, const char *assignment, char *err)
{
	const char *eq = strchr(assignment, '=');
	if (!eq || eq == assignment) {
		snprintf(err, 256, "--set '%s': expected NAME=VALUE (see `vtsim params`)", assignment);
		return -1;
	}
	const struct param_info *pi = find_param(assignment, (size_t)(eq - assignment));
	if (!pi) {
		/* Suggest names sharing the first component. */
		const char *dot = memchr(assignment, '.', (size_t)(eq - assignment));
		size_t plen = dot ? (size_t)(dot - assignment) + 1 : (size_t)(eq - assignment);
		char hint[160] = "";
		size_t used = 0;
		for (size_t i = 0; i < param_count && used + 40 < sizeof(hint); i++)
			if (strncmp(param_table[i].name, assignment, plen) == 0)
				used += (size_t)snprintf(hint + used, sizeof(hint) - used, "%s%s", used ? ", " : "",
							 param_table[i].name);
		snprintf(err, 256, "--set: unknown parameter '%.*s'%s%s (see `vtsim params`)", (int)(eq - assignment),
			 assignment, used ? "; did you mean one of: " : "", hint);
		return -1;
	}
	if (pi->type != PARAM_PROFILE)
		return parse_value(p, pi, eq + 1, err);
	if (parse_value(p, pi, eq + 1, err) < 0)
		return -1;
	/* A profile is a base: the defaults, then its values. */
	const struct cpu_profile *pr = &cpu_profiles[p->cpu_profile];
	params_defaults(p);
	for (size_t i = 0; i < pr->count; i++) {
		const struct param_info *v = find_param(pr->values[i].param, strlen(pr->values[i].param));
		if (!v || parse_value(p, v, pr->values[i].value, err) < 0)
			abort(); /* a bad profile table is a programming error caught by the tests */
	}
	p->cpu_profile = (unsigned)(pr - cpu_profiles);
	return 0;
}

/* Geometry of one set-associative array called name (entries > 0). */
static int check_geometry(const char *name, uint64_t entries, uint64_t ways, char *err)
{
	if (ways > entries || entries % ways) {
		snprintf(err, 256, "%s: %" PRIu64 " entries is not a multiple of %" PRIu64 " ways", name, entries,
			 ways);
		return -1;
	}
	uint64_t sets = entries / ways;
	if (sets & (sets - 1)) {
		snprintf(err, 256, "%s: %" PRIu64 " entries / %" PRIu64 " ways = %" PRIu64
			 " sets, not a power of two", name, entries, ways, sets);
		return -1;
	}
	return 0;
}

static int check_tlb(const char *name, uint64_t entries, uint64_t ways, char *err)
{
	char full[32];
	snprintf(full, sizeof(full), "tlb.%s", name);
	return check_geometry(full, entries, ways, err);
}

int params_validate(const struct sim_params *p, char *err)
{
	if (check_tlb("l1i", p->tlb_l1i_entries, p->tlb_l1i_ways, err) ||
	    check_tlb("l1d", p->tlb_l1d_entries, p->tlb_l1d_ways, err) ||
	    (p->tlb_l1i_2m_entries && check_tlb("l1i_2m", p->tlb_l1i_2m_entries, p->tlb_l1i_2m_ways, err)) ||
	    (p->tlb_l1d_2m_entries && check_tlb("l1d_2m", p->tlb_l1d_2m_entries, p->tlb_l1d_2m_ways, err)) ||
	    (p->tlb_l1d_1g_entries && check_tlb("l1d_1g", p->tlb_l1d_1g_entries, p->tlb_l1d_1g_ways, err)) ||
	    check_tlb("l2", p->tlb_l2_entries, p->tlb_l2_ways, err))
		return -1;
	for (int d = 0; d < 2; d++)
		for (int l = 0; l < 3; l++) {
			static const char *const names[2][3] = {
				{"pwc.guest.pml4e", "pwc.guest.pdpte", "pwc.guest.pde"},
				{"pwc.ept.pml4e", "pwc.ept.pdpte", "pwc.ept.pde"}};
			if (p->pwc_entries[d][l] &&
			    check_geometry(names[d][l], p->pwc_entries[d][l], p->pwc_ways[d][l], err))
				return -1;
		}
	if (p->ntlb_entries && check_geometry("ntlb", p->ntlb_entries, p->ntlb_ways, err))
		return -1;
	static const char *const iommu_names[] = {"iommu.context_cache", "iommu.iotlb", "iommu.ptcache.pml4e",
						  "iommu.ptcache.pdpe", "iommu.ptcache.pde", "iommu.iec"};
	const uint64_t ie[] = {p->iommu_cc_entries, p->iommu_iotlb_entries, p->iommu_ptc_entries[0],
			       p->iommu_ptc_entries[1], p->iommu_ptc_entries[2], p->iommu_iec_entries};
	const uint64_t iw[] = {p->iommu_cc_ways, p->iommu_iotlb_ways, p->iommu_ptc_ways[0],
			       p->iommu_ptc_ways[1], p->iommu_ptc_ways[2], p->iommu_iec_ways};
	for (int i = 0; i < 6; i++)
		if (ie[i] && check_geometry(iommu_names[i], ie[i], iw[i], err))
			return -1;
	if (p->guest_paging_levels == 5 && !p->cpu_la57) {
		snprintf(err, 256, "guest.paging_levels=5 needs a core with 5-level paging (cpu.la57=on; the %s profile has "
				   "none)", cpu_profiles[p->cpu_profile].name);
		return -1;
	}
	if (p->ept_levels == 5 && !p->vmx_ept_5level) {
		snprintf(err, 256, "ept.levels=5 needs a core with 5-level EPT (vmx.ept_5level=on; the %s profile has none)",
			 cpu_profiles[p->cpu_profile].name);
		return -1;
	}
	static const char *const cache_names[] = {"cache.l1d", "cache.l2", "cache.llc"};
	for (int i = 0; i < 3; i++) {
		uint64_t lines = p->cache_kib[i] * 1024 / 64;
		if (lines % p->cache_ways[i]) {
			snprintf(err, 256,
				 "%s: %" PRIu64 " KiB (%" PRIu64 " 64-byte lines) is not a whole number of sets of "
				 "%" PRIu64 " ways",
				 cache_names[i], p->cache_kib[i], lines, p->cache_ways[i]);
			return -1;
		}
	}
	if (p->guest_mem_mib > p->host_mem_mib) {
		snprintf(err, 256, "guest.mem_mib (%" PRIu64 ") exceeds host.mem_mib (%" PRIu64 ")", p->guest_mem_mib,
			 p->host_mem_mib);
		return -1;
	}
	if (p->io_posted && p->io_path != IO_ASSIGNED) {
		snprintf(err, 256, "io.posted=on posts an assigned device's interrupts: it needs io.path=assigned");
		return -1;
	}
	return 0;
}

void params_format(const struct sim_params *p, const struct param_info *pi, char *buf, size_t len)
{
	const void *field = (const char *)p + pi->offset;
	switch (pi->type) {
	case PARAM_PROFILE: {
		unsigned i = *(const unsigned *)field;
		snprintf(buf, len, "%s", i < cpu_profile_count ? cpu_profiles[i].name : "?");
		break;
	}
	case PARAM_CHOICE: {
		/* the index-th word of the unit */
		const char *w = pi->unit;
		for (unsigned i = *(const unsigned *)field; i > 0 && *w; i--)
			w += strcspn(w, "/") + (w[strcspn(w, "/")] == '/');
		snprintf(buf, len, "%.*s", (int)strcspn(w, "/"), w);
		break;
	}
	case PARAM_BOOL:
		snprintf(buf, len, "%s", *(const bool *)field ? "on" : "off");
		break;
	case PARAM_DOUBLE:
		snprintf(buf, len, "%g", *(const double *)field);
		break;
	case PARAM_U64:
	case PARAM_BYTES:
		snprintf(buf, len, "%" PRIu64, *(const uint64_t *)field);
		break;
	case PARAM_HEX:
		snprintf(buf, len, "0x%" PRIx64, *(const uint64_t *)field);
		break;
	}
}

static int by_name(const void *a, const void *b)
{
	const struct param_info *const *x = a, *const *y = b;
	return strcmp((*x)->name, (*y)->name);
}

char *params_json(const struct sim_params *p)
{
	const struct param_info *sorted[sizeof(param_table) / sizeof(param_table[0])];
	for (size_t i = 0; i < param_count; i++)
		sorted[i] = &param_table[i];
	qsort(sorted, param_count, sizeof(sorted[0]), by_name);
	size_t cap = 64 + param_count * 96, used = 0;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	used += (size_t)snprintf(s + used, cap - used, "{");
	for (size_t i = 0; i < param_count; i++) {
		char v[64];
		params_format(p, sorted[i], v, sizeof(v));
		bool quote = sorted[i]->type == PARAM_BOOL || sorted[i]->type == PARAM_PROFILE ||
			     sorted[i]->type == PARAM_CHOICE || sorted[i]->type == PARAM_HEX;
		used += (size_t)snprintf(s + used, cap - used, "%s\"%s\":%s%s%s", i ? "," : "", sorted[i]->name,
					 quote ? "\"" : "", v, quote ? "\"" : "");
	}
	snprintf(s + used, cap - used, "}");
	return s;
}
