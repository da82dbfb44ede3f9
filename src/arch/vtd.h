/*
 * VT-d (Intel Virtualization Technology for Directed I/O), legacy
 * (non-scalable) mode: register offsets and fields, root and context
 * entries, second-level paging entries, invalidation descriptors, fault
 * records and reasons, interrupt-remapping table entries and interrupt
 * request formats. Definitions only: the remapping hardware (src/iommu)
 * and the VMM's driver (src/vmm/iommu_drv.c) both include it, as the
 * silicon and Linux both follow the spec.
 *
 * Sources: reference sheet §7.1-§7.11 (../shared/reference/vtx-vtd-facts.md,
 * itself from Linux drivers/iommu/intel, QEMU hw/i386/intel_iommu_internal.h
 * and Xen drivers/passthrough/vtd, cross-checked). Section numbers below are
 * the sheet's.
 */
#ifndef VTSIM_ARCH_VTD_H
#define VTSIM_ARCH_VTD_H

#include <stdint.h>

#define VTD_BIT(n) (UINT64_C(1) << (n))
/* Bits hi..lo set (hi >= lo, both < 64). */
#define VTD_GENMASK(hi, lo) (((~UINT64_C(0)) >> (63 - (hi))) & ~(VTD_BIT(lo) - 1))

/* ---- §7.1 register map (byte offsets from the unit's MMIO base) -------- */
#define VTD_REG_VER 0x00      /* 32  version: 7:4 major, 3:0 minor */
#define VTD_REG_CAP 0x08      /* 64  capabilities, §7.2 */
#define VTD_REG_ECAP 0x10     /* 64  extended capabilities, §7.2 */
#define VTD_REG_GCMD 0x18     /* 32  global command (write-only), §7.3 */
#define VTD_REG_GSTS 0x1C     /* 32  global status (read-only), §7.3 */
#define VTD_REG_RTADDR 0x20   /* 64  root-table address */
#define VTD_REG_CCMD 0x28     /* 64  context command, §7.7 */
#define VTD_REG_FSTS 0x34     /* 32  fault status, §7.8 */
#define VTD_REG_FECTL 0x38    /* 32  fault-event control */
#define VTD_REG_FEDATA 0x3C   /* 32  fault-event MSI data */
#define VTD_REG_FEADDR 0x40   /* 32  fault-event MSI address */
#define VTD_REG_FEUADDR 0x44  /* 32  fault-event MSI upper address */
#define VTD_REG_AFLOG 0x58    /* 64  advanced fault log */
#define VTD_REG_PMEN 0x64     /* 32  protected-memory enable */
#define VTD_REG_PLMBASE 0x68  /* 32 */
#define VTD_REG_PLMLIMIT 0x6C /* 32 */
#define VTD_REG_PHMBASE 0x70  /* 64 */
#define VTD_REG_PHMLIMIT 0x78 /* 64 */
#define VTD_REG_IQH 0x80      /* 64  invalidation-queue head */
#define VTD_REG_IQT 0x88      /* 64  invalidation-queue tail */
#define VTD_REG_IQA 0x90      /* 64  invalidation-queue address */
#define VTD_REG_ICS 0x9C      /* 32  invalidation completion status */
#define VTD_REG_IECTL 0xA0    /* 32  invalidation-completion event control */
#define VTD_REG_IEDATA 0xA4   /* 32 */
#define VTD_REG_IEADDR 0xA8   /* 32 */
#define VTD_REG_IEUADDR 0xAC  /* 32 */
#define VTD_REG_IQER 0xB0     /* 64  invalidation-queue error record */
#define VTD_REG_IRTA 0xB8     /* 64  interrupt-remapping table address */
/* IVA at ECAP.IRO * 16, IOTLB at ECAP.IRO * 16 + 8; FRCD[i] at
 * CAP.FRO * 16 + 16 i (128 bits each, low qword first). */

/* ---- §7.2 CAP --------------------------------------------------------- */
#define VTD_CAP_ND(c) ((unsigned)((c) & 7))                     /* 2:0 domains = 2^(4 + 2 ND) */
#define VTD_CAP_AFL VTD_BIT(3)
#define VTD_CAP_RWBF VTD_BIT(4)
#define VTD_CAP_PLMR VTD_BIT(5)
#define VTD_CAP_PHMR VTD_BIT(6)
#define VTD_CAP_CM VTD_BIT(7)
#define VTD_CAP_SAGAW(c) ((unsigned)(((c) >> 8) & 0x1f))        /* 12:8 bit AW set: AW supported */
#define VTD_CAP_MGAW(c) ((unsigned)(((c) >> 16) & 0x3f) + 1)    /* 21:16 MGAW - 1 */
#define VTD_CAP_ZLR VTD_BIT(22)
#define VTD_CAP_FRO(c) ((unsigned)(((c) >> 24) & 0x3ff))        /* 33:24 in 16-byte units */
#define VTD_CAP_SLLPS(c) ((unsigned)(((c) >> 34) & 0xf))        /* 37:34 bit 0 2 MiB, bit 1 1 GiB */
#define VTD_CAP_PSI VTD_BIT(39)
#define VTD_CAP_NFR(c) ((unsigned)(((c) >> 40) & 0xff) + 1)     /* 47:40 records - 1 */
#define VTD_CAP_MAMV(c) ((unsigned)(((c) >> 48) & 0x3f))        /* 53:48 */
#define VTD_CAP_DWD VTD_BIT(54)
#define VTD_CAP_DRD VTD_BIT(55)
#define VTD_CAP_FL1GP VTD_BIT(56)
#define VTD_CAP_PI VTD_BIT(59)

/* ---- §7.2 ECAP -------------------------------------------------------- */
#define VTD_ECAP_C VTD_BIT(0)   /* page-walk coherency */
#define VTD_ECAP_QI VTD_BIT(1)  /* queued invalidation */
#define VTD_ECAP_DT VTD_BIT(2)  /* device-TLB */
#define VTD_ECAP_IR VTD_BIT(3)  /* interrupt remapping */
#define VTD_ECAP_EIM VTD_BIT(4) /* x2APIC interrupt mode */
#define VTD_ECAP_PT VTD_BIT(6)  /* pass-through */
#define VTD_ECAP_SC VTD_BIT(7)  /* snoop control */
#define VTD_ECAP_IRO(e) ((unsigned)(((e) >> 8) & 0x3ff))  /* 17:8 in 16-byte units */
#define VTD_ECAP_MHMV(e) ((unsigned)(((e) >> 20) & 0xf)) /* 23:20 */
#define VTD_ECAP_SMTS VTD_BIT(43)

/* ---- §7.3 GCMD / GSTS (same positions) ------------------------------- */
#define VTD_GCMD_TE VTD_BIT(31)    /* translation enable (persistent) / TES */
#define VTD_GCMD_SRTP VTD_BIT(30)  /* set root-table pointer (one-shot) / RTPS */
#define VTD_GCMD_SFL VTD_BIT(29)   /* set fault log (one-shot) / FLS */
#define VTD_GCMD_EAFL VTD_BIT(28)  /* enable advanced fault logging / AFLS */
#define VTD_GCMD_WBF VTD_BIT(27)   /* write-buffer flush (one-shot) / WBFS */
#define VTD_GCMD_QIE VTD_BIT(26)   /* queued-invalidation enable / QIES */
#define VTD_GCMD_IRE VTD_BIT(25)   /* interrupt-remapping enable / IRES */
#define VTD_GCMD_SIRTP VTD_BIT(24) /* set interrupt-remap table pointer (one-shot) / IRTPS */
#define VTD_GCMD_CFI VTD_BIT(23)   /* compatibility-format interrupts allowed / CFIS */
/* The persistent commands: software writes GCMD = GSTS & this | one command. */
#define VTD_GSTS_PERSISTENT (VTD_GCMD_TE | VTD_GCMD_EAFL | VTD_GCMD_QIE | VTD_GCMD_IRE | VTD_GCMD_CFI)

/* RTADDR: 63:12 root-table address; 11:10 translation-table mode (00 legacy). */
#define VTD_RTADDR_TTM_MASK VTD_GENMASK(11, 10)

/* ---- §7.7 CCMD, IVA, IOTLB registers ---------------------------------- */
/*
 * CCMD (0x28)
 *  [63]     ICC   invalidate context cache (write 1 to start; cleared when done)
 *  [62:61]  CIRG  requested granularity: 1 global, 2 domain, 3 device
 *  [60:59]  CAIG  actual granularity
 *  [33:32]  FM    function mask   [31:16] SID   [15:0] DID
 */
#define VTD_CCMD_ICC VTD_BIT(63)
#define VTD_CCMD_CIRG_SHIFT 61
#define VTD_CCMD_CAIG_SHIFT 59
#define VTD_CCMD_FM_SHIFT 32
#define VTD_CCMD_SID_SHIFT 16
/*
 * IVA (IRO * 16): [63:12] ADDR  [6] IH  [5:0] AM
 * IOTLB (IRO * 16 + 8)
 *  [63]     IVT   invalidate IOTLB (start / busy)
 *  [61:60]  IIRG  requested granularity: 1 global, 2 domain, 3 page
 *  [58:57]  IAIG  actual granularity
 *  [49] DR  [48] DW  drain reads / writes
 *  [47:32]  DID
 */
#define VTD_IVA_IH VTD_BIT(6)
#define VTD_IVA_AM_MASK UINT64_C(0x3f)
#define VTD_IOTLB_IVT VTD_BIT(63)
#define VTD_IOTLB_IIRG_SHIFT 60
#define VTD_IOTLB_IAIG_SHIFT 57
#define VTD_IOTLB_DR VTD_BIT(49)
#define VTD_IOTLB_DW VTD_BIT(48)
#define VTD_IOTLB_DID_SHIFT 32

/* Invalidation granularities (CCMD CIRG, IOTLB IIRG, descriptor G). */
enum vtd_inv_gran { VTD_INV_GLOBAL = 1, VTD_INV_DOMAIN = 2, VTD_INV_DEVICE_OR_PAGE = 3 };

/* ---- §7.7 queued-invalidation descriptors (128 bits, low qword first) --- */
#define VTD_QI_TYPE_MASK UINT64_C(0xf)
#define VTD_QI_CC 1   /* context-cache invalidate */
#define VTD_QI_IOTLB 2
#define VTD_QI_DEVTLB 3
#define VTD_QI_IEC 4
#define VTD_QI_WAIT 5
#define VTD_QI_DESC_BYTES 16
/*
 * Context-cache descriptor, low qword
 *  [3:0] type 1  [5:4] G  [31:16] DID  [47:32] SID  [49:48] FM
 * IOTLB descriptor
 *  low:  [3:0] type 2  [5:4] G  [6] DW  [7] DR  [31:16] DID
 *  high: [5:0] AM  [6] IH  [63:12] ADDR
 * Interrupt-entry-cache descriptor, low qword
 *  [3:0] type 4  [4] G (0 global, 1 index-selective)  [31:27] IM  [47:32] IIDX
 * Invalidation-wait descriptor
 *  low:  [3:0] type 5  [4] IF  [5] SW  [6] FN  [7] PD  [63:32] status data
 *  high: [63:2] status address
 */
#define VTD_QI_G_SHIFT 4
#define VTD_QI_DID_SHIFT 16
#define VTD_QI_CC_SID_SHIFT 32
#define VTD_QI_CC_FM_SHIFT 48
#define VTD_QI_IOTLB_DW VTD_BIT(6)
#define VTD_QI_IOTLB_DR VTD_BIT(7)
#define VTD_QI_IOTLB_AM_MASK UINT64_C(0x3f)
#define VTD_QI_IOTLB_IH VTD_BIT(6)
#define VTD_QI_IEC_G VTD_BIT(4)
#define VTD_QI_IEC_IM_SHIFT 27
#define VTD_QI_IEC_IIDX_SHIFT 32
#define VTD_QI_WAIT_IF VTD_BIT(4)
#define VTD_QI_WAIT_SW VTD_BIT(5)
#define VTD_QI_WAIT_FN VTD_BIT(6)
#define VTD_QI_WAIT_PD VTD_BIT(7)
#define VTD_QI_WAIT_DATA_SHIFT 32
/* Reserved bits of the low / high qwords, per type (reference sheet §7.7
 * lists the fields; every other bit is reserved). */
#define VTD_QI_CC_LO_RSVD (VTD_GENMASK(63, 50) | VTD_GENMASK(15, 6))
#define VTD_QI_IOTLB_LO_RSVD (VTD_GENMASK(63, 32) | VTD_GENMASK(15, 8))
#define VTD_QI_IOTLB_HI_RSVD VTD_GENMASK(11, 7)
#define VTD_QI_IEC_LO_RSVD (VTD_GENMASK(63, 48) | VTD_GENMASK(26, 5))
#define VTD_QI_WAIT_LO_RSVD VTD_GENMASK(31, 8)
#define VTD_QI_WAIT_HI_RSVD VTD_GENMASK(1, 0)

/* IQH / IQT: [18:4] descriptor index (128-bit descriptors). */
#define VTD_IQ_INDEX_SHIFT 4
#define VTD_IQ_INDEX_MASK VTD_GENMASK(18, 4)
/* IQA: [63:12] base  [11] DW (256-bit descriptors)  [2:0] QS (2^QS pages). */
#define VTD_IQA_DW VTD_BIT(11)
#define VTD_IQA_QS_MASK UINT64_C(0x7)
#define VTD_ICS_IWC VTD_BIT(0)

/* ---- §7.8 FSTS, FECTL, FRCD ------------------------------------------ */
#define VTD_FSTS_PFO VTD_BIT(0) /* primary fault overflow (RW1C) */
#define VTD_FSTS_PPF VTD_BIT(1) /* primary pending fault (RO) */
#define VTD_FSTS_AFO VTD_BIT(2)
#define VTD_FSTS_APF VTD_BIT(3)
#define VTD_FSTS_IQE VTD_BIT(4) /* invalidation-queue error (RW1C) */
#define VTD_FSTS_ICE VTD_BIT(5)
#define VTD_FSTS_ITE VTD_BIT(6)
#define VTD_FSTS_FRI_SHIFT 8    /* 15:8 fault record index */
#define VTD_FSTS_FRI_MASK VTD_GENMASK(15, 8)
/* The status bits whose 0 -> 1 change raises a fault event. */
#define VTD_FSTS_EVENT_BITS (VTD_FSTS_PFO | VTD_FSTS_PPF | VTD_FSTS_IQE | VTD_FSTS_ICE | VTD_FSTS_ITE)
#define VTD_FECTL_IM VTD_BIT(31) /* interrupt mask (also IECTL) */
#define VTD_FECTL_IP VTD_BIT(30) /* interrupt pending (also IECTL) */
/*
 * Fault-recording register FRCD[i] (128 bits), §7.8
 *  [11:0]    reserved
 *  [63:12]   FI  page address of the faulting request (IR faults: the
 *                interrupt index in 63:48)
 *  [79:64]   SID source-id of the requester
 *  [95:80]   reserved in legacy mode (95 PP: PASID present)
 *  [103:96]  FR  fault reason (§7.9)
 *  [123:104] PV  PASID value
 *  [126]     T   0 = write request, 1 = read request
 *  [127]     F   fault (valid); software writes 1 to clear
 * As two qwords: lo = bits 63:0, hi = bits 127:64.
 */
#define VTD_FRCD_HI_SID_MASK UINT64_C(0xffff)
#define VTD_FRCD_HI_FR_SHIFT 32
#define VTD_FRCD_HI_FR_MASK (UINT64_C(0xff) << VTD_FRCD_HI_FR_SHIFT)
#define VTD_FRCD_HI_T VTD_BIT(62)
#define VTD_FRCD_HI_F VTD_BIT(63)
#define VTD_FRCD_IR_INDEX_SHIFT 48

/* ---- §7.9 fault reasons ----------------------------------------------- */
enum vtd_fault_reason {
	VTD_FR_NONE = 0x0,
	VTD_FR_ROOT_NOT_PRESENT = 0x1,
	VTD_FR_CONTEXT_NOT_PRESENT = 0x2,
	VTD_FR_CONTEXT_INVALID = 0x3,     /* invalid context-entry programming (AW, TT) */
	VTD_FR_ADDR_BEYOND_AW = 0x4,      /* address beyond MGAW / AGAW */
	VTD_FR_WRITE = 0x5,               /* write, W = 0 */
	VTD_FR_READ = 0x6,                /* read, R = 0 */
	VTD_FR_SL_ACCESS = 0x7,           /* error accessing a second-level paging entry */
	VTD_FR_ROOT_ACCESS = 0x8,         /* error accessing the root table */
	VTD_FR_CONTEXT_ACCESS = 0x9,      /* error accessing the context table */
	VTD_FR_ROOT_RESERVED = 0xA,
	VTD_FR_CONTEXT_RESERVED = 0xB,
	VTD_FR_SL_RESERVED = 0xC,
	VTD_FR_TRANSLATION_BLOCKED = 0xD, /* translation(-request) blocked by context TT */
	VTD_FR_IR_REQUEST_RESERVED = 0x20,
	VTD_FR_IR_INDEX = 0x21,           /* index >= table size */
	VTD_FR_IR_NOT_PRESENT = 0x22,
	VTD_FR_IR_TABLE_ACCESS = 0x23,
	VTD_FR_IR_RESERVED = 0x24,
	VTD_FR_IR_COMPAT_BLOCKED = 0x25,
	VTD_FR_IR_SID = 0x26,             /* source-id verification failed */
	VTD_FR_IR_PID_ACCESS = 0x27,      /* posted-descriptor access error (newer specs; §9 "not confirmed") */
	VTD_FR_MAX = 0x28
};

/* ---- §7.4 root and context entries (legacy mode) ---------------------- */
/*
 * Root entry (128 bits), indexed by bus
 *  [0]      P    present
 *  [11:1]   reserved
 *  [63:12]  CTP  context-table pointer (HAW-1:12; above HAW reserved)
 *  [127:64] reserved (legacy mode)
 */
#define VTD_ROOT_P VTD_BIT(0)
#define VTD_ROOT_LO_RSVD VTD_GENMASK(11, 1)
/*
 * Context entry (128 bits), indexed by devfn
 *  lo [0]      P    present
 *  lo [1]      FPD  fault processing disable
 *  lo [3:2]    TT   00 untranslated only, 01 + device-TLB, 10 pass-through, 11 reserved
 *  lo [11:4]   reserved
 *  lo [63:12]  SLPTPTR  second-level page-table root (HAW-1:12)
 *  hi [2:0]    AW   address width (§7.5)
 *  hi [6:3]    AVAIL (ignored)
 *  hi [7]      reserved
 *  hi [23:8]   DID  domain-id (only the low 4 + 2 ND bits implemented)
 *  hi [63:24]  reserved
 */
#define VTD_CTX_P VTD_BIT(0)
#define VTD_CTX_FPD VTD_BIT(1)
#define VTD_CTX_TT_SHIFT 2
#define VTD_CTX_TT_MASK (UINT64_C(3) << VTD_CTX_TT_SHIFT)
#define VTD_CTX_TT_UNTRANSLATED 0u
#define VTD_CTX_TT_DEVTLB 1u
#define VTD_CTX_TT_PASSTHROUGH 2u
#define VTD_CTX_TT_RESERVED 3u
#define VTD_CTX_LO_RSVD VTD_GENMASK(11, 4)
#define VTD_CTX_HI_AW_MASK UINT64_C(0x7)
#define VTD_CTX_HI_DID_SHIFT 8
#define VTD_CTX_HI_RSVD (VTD_GENMASK(63, 24) | VTD_BIT(7))

/* Source-id = bus << 8 | device << 3 | function. */
#define VTD_SID(bus, dev, fn) ((uint16_t)(((bus) << 8) | ((dev) << 3) | (fn)))
#define VTD_SID_BUS(sid) ((unsigned)((sid) >> 8))
#define VTD_SID_DEVFN(sid) ((unsigned)((sid) & 0xff))

/* ---- §7.5 AGAW: AW value -> levels and width -------------------------- */
/* AW 1/2/3 = 39/48/57-bit, 3/4/5 levels (QEMU vtd_ce_get_level = 2 + AW). */
static inline unsigned vtd_aw_levels(unsigned aw)
{
	return 2 + aw;
}
static inline unsigned vtd_aw_bits(unsigned aw)
{
	return 30 + 9 * aw;
}

/* ---- §7.6 second-level paging entries --------------------------------- */
/*
 *  [0] R  [1] W  [6:2] ignored in legacy mode (QEMU; Linux/Xen call them
 *  reserved, §9 item 8: we follow QEMU and software writes 0)
 *  [7]      PS  large page in an SL-PDE (2 MiB) / SL-PDPE (1 GiB); reserved
 *               in SL-PML4E/PML5E and where CAP.SLLPS lacks the size
 *  [11]     SNP snoop (leaf; reserved without ECAP.SC and in non-leaves)
 *  [HAW-1:12] address   [51:HAW] reserved   [61:52] ignored
 *  [62]     TM  transient mapping (reserved without ECAP.DT)   [63] ignored
 * Present = R | W.
 */
#define VTD_SL_R VTD_BIT(0)
#define VTD_SL_W VTD_BIT(1)
#define VTD_SL_RW (VTD_SL_R | VTD_SL_W)
#define VTD_SL_PS VTD_BIT(7)
#define VTD_SL_SNP VTD_BIT(11)
#define VTD_SL_TM VTD_BIT(62)
#define VTD_SL_ADDR_MASK VTD_GENMASK(51, 12)

/* ---- §7.10 interrupt-remapping table entry (IRTE, 128 bits) ----------- */
/*
 * Remapped format (IM = 0), low qword
 *  [0] P  [1] FPD  [2] DM  [3] RH  [4] TM  [7:5] DLM  [11:8] AVAIL
 *  [14:12] reserved  [15] IM = 0  [23:16] V vector  [31:24] reserved
 *  [63:32] DST (x2APIC: 32-bit id; xAPIC: id in 47:40, rest reserved)
 * High qword
 *  [15:0] SID  [17:16] SQ  [19:18] SVT  [63:20] reserved
 * Posted format (IM = 1), low qword
 *  [0] P  [1] FPD  [7:2] reserved  [11:8] AVAIL  [13:12] reserved
 *  [14] URG  [15] IM = 1  [23:16] VV  [37:24] reserved
 *  [63:38] PDA bits 31:6
 * High qword
 *  [15:0] SID  [17:16] SQ  [19:18] SVT  [31:20] reserved  [63:32] PDA bits 63:32
 */
#define VTD_IRTE_P VTD_BIT(0)
#define VTD_IRTE_FPD VTD_BIT(1)
#define VTD_IRTE_DM VTD_BIT(2)
#define VTD_IRTE_RH VTD_BIT(3)
#define VTD_IRTE_TM VTD_BIT(4)
#define VTD_IRTE_DLM_SHIFT 5
#define VTD_IRTE_IM VTD_BIT(15)
#define VTD_IRTE_URG VTD_BIT(14)
#define VTD_IRTE_V_SHIFT 16
#define VTD_IRTE_DST_SHIFT 32
#define VTD_IRTE_LO_RSVD (VTD_GENMASK(14, 12) | VTD_GENMASK(31, 24))
#define VTD_IRTE_LO_XAPIC_RSVD (VTD_GENMASK(39, 32) | VTD_GENMASK(63, 48))
#define VTD_IRTE_HI_RSVD VTD_GENMASK(63, 20)
#define VTD_IRTE_PI_LO_RSVD (VTD_GENMASK(7, 2) | VTD_GENMASK(13, 12) | VTD_GENMASK(37, 24))
#define VTD_IRTE_PI_HI_RSVD VTD_GENMASK(31, 20)
#define VTD_IRTE_PDA_LO_SHIFT 38
#define VTD_IRTE_SQ_SHIFT 16
#define VTD_IRTE_SVT_SHIFT 18
#define VTD_SVT_NONE 0u
#define VTD_SVT_SID 1u   /* verify SID under SQ */
#define VTD_SVT_BUS 2u   /* verify bus in [SID 15:8, SID 7:0] */
/* IRTA: [63:12] table base  [11] EIME  [3:0] S (2^(S+1) entries). */
#define VTD_IRTA_EIME VTD_BIT(11)
#define VTD_IRTA_S_MASK UINT64_C(0xf)
#define VTD_IRTE_BYTES 16

/*
 * Posted-interrupt descriptor (64 bytes, 64-byte aligned), §7.10
 *  bits 255:0 PIR; 256 ON; 257 SN; 279:272 NV; 319:288 NDST.
 * As the qword at +32: [0] ON  [1] SN  [23:16] NV  [63:32] NDST.
 */
#define VTD_PID_CTL_OFFSET 32
#define VTD_PID_ON VTD_BIT(0)
#define VTD_PID_SN VTD_BIT(1)
#define VTD_PID_NV_SHIFT 16
#define VTD_PID_NDST_SHIFT 32

/* ---- §7.11 interrupt request formats ---------------------------------- */
#define VTD_MSI_ADDR_BASE UINT64_C(0xfee00000)
#define VTD_MSI_ADDR_BASE_MASK UINT64_C(0xfff00000)
/* Compatibility format (address bit 4 = 0). */
#define VTD_MSI_ADDR_DM VTD_BIT(2)
#define VTD_MSI_ADDR_RH VTD_BIT(3)
#define VTD_MSI_ADDR_DEST_SHIFT 12
#define VTD_MSI_DATA_VECTOR_MASK 0xffu
#define VTD_MSI_DATA_DLM_SHIFT 8
#define VTD_MSI_DATA_TM (1u << 15)
/* Remappable format (address bit 4 = 1): HANDLE[14:0] in 19:5, HANDLE[15]
 * in bit 2, SHV in bit 3; data 15:0 SUBHANDLE, 31:16 reserved. */
#define VTD_MSI_ADDR_IF VTD_BIT(4)
#define VTD_MSI_ADDR_SHV VTD_BIT(3)
#define VTD_MSI_ADDR_HANDLE15 VTD_BIT(2)
#define VTD_MSI_ADDR_HANDLE_SHIFT 5
#define VTD_MSI_ADDR_HANDLE_MASK VTD_GENMASK(19, 5)
#define VTD_MSI_DATA_RSVD 0xffff0000u
/* I/O APIC RTE in remappable format: [7:0] vector [10:8] delivery mode
 * [11] INDEX[15] [15] trigger [16] mask [47:17] reserved [48] format = 1
 * [63:49] INDEX[14:0]. */
#define VTD_RTE_INDEX15 VTD_BIT(11)
#define VTD_RTE_FORMAT VTD_BIT(48)
#define VTD_RTE_INDEX_SHIFT 49
#define VTD_RTE_RSVD VTD_GENMASK(47, 17)

_Static_assert((VTD_CTX_LO_RSVD & (VTD_CTX_P | VTD_CTX_FPD | VTD_CTX_TT_MASK)) == 0, "context reserved mask overlaps");
_Static_assert((VTD_IRTE_LO_RSVD & (VTD_IRTE_IM | VTD_IRTE_P)) == 0, "IRTE reserved mask overlaps");
_Static_assert((VTD_FSTS_EVENT_BITS & VTD_FSTS_FRI_MASK) == 0, "FSTS masks overlap");
_Static_assert(VTD_GENMASK(3, 0) == 0xf && VTD_GENMASK(63, 63) == VTD_BIT(63), "VTD_GENMASK");

#endif
