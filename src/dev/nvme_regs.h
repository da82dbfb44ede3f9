/*
 * NVM Express 1.4 controller registers and queue entries, the subset the
 * NVMe model implements (NVM Express Base Specification 1.4: §3.1
 * controller registers, §4.2 submission queue entry, §4.3 PRP entries,
 * §4.6 completion queue entry, §5 admin commands, §4.6.1.2 status codes;
 * NVM Command Set: Read 02h, Write 01h).
 */
#ifndef VTSIM_DEV_NVME_REGS_H
#define VTSIM_DEV_NVME_REGS_H

#include <stdint.h>

#define NVME_BAR_SIZE (16u * 1024)
#define NVME_PAGE 4096u /* CC.MPS = 0: memory page size 4 KiB (CAP.MPSMIN = MPSMAX = 0) */

/* Registers. */
#define NVME_REG_CAP 0x00u  /* Controller Capabilities, 64-bit, read-only */
#define NVME_REG_VS 0x08u   /* Version */
#define NVME_REG_INTMS 0x0Cu /* Interrupt Mask Set (MSI-X only: not modelled, reads 0) */
#define NVME_REG_INTMC 0x10u /* Interrupt Mask Clear */
#define NVME_REG_CC 0x14u   /* Controller Configuration */
#define NVME_REG_CSTS 0x1Cu /* Controller Status, read-only */
#define NVME_REG_AQA 0x24u  /* Admin Queue Attributes */
#define NVME_REG_ASQ 0x28u  /* Admin SQ Base Address, 64-bit */
#define NVME_REG_ACQ 0x30u  /* Admin CQ Base Address, 64-bit */
#define NVME_DOORBELL_BASE 0x1000u
/* CAP.DSTRD = 0: doorbells 4 bytes apart. */
#define NVME_SQ_TDBL(y) (NVME_DOORBELL_BASE + (2u * (y)) * 4u)
#define NVME_CQ_HDBL(y) (NVME_DOORBELL_BASE + (2u * (y) + 1u) * 4u)

/*
 * CAP as this model reports it: 0x00000020140103FF
 *  [15:0]  MQES   0x3FF: queues of up to 1024 entries (0-based)
 *  [16]    CQR    1: queues must be physically contiguous
 *  [18:17] AMS    0: round robin only
 *  [31:24] TO     20: 10 s ready timeout (500 ms units; assumed, RDY is immediate anyway)
 *  [35:32] DSTRD  0: doorbell stride 4 bytes
 *  [44:37] CSS    bit 37: NVM command set
 *  [51:48] MPSMIN 0: 4 KiB;  [55:52] MPSMAX 0: 4 KiB
 */
#define NVME_CAP_MQES 0x3FFu
#define NVME_CAP_VALUE                                                                                               \
	((uint64_t)NVME_CAP_MQES | (UINT64_C(1) << 16) | (UINT64_C(20) << 24) | (UINT64_C(1) << 37))
#define NVME_VS_VALUE 0x00010400u /* 1.4.0 */

/*
 * CC
 *  [0]     EN      enable
 *  [6:4]   CSS     I/O command set (0 = NVM)
 *  [10:7]  MPS     memory page size 2^(12 + MPS) (only 0 accepted)
 *  [15:14] SHN     shutdown notification
 *  [19:16] IOSQES  I/O SQ entry size 2^n: must be 6 (64 bytes) to create an I/O SQ
 *  [23:20] IOCQES  I/O CQ entry size 2^n: must be 4 (16 bytes) to create an I/O CQ
 */
#define NVME_CC_EN (UINT32_C(1) << 0)
#define NVME_CC_MPS(cc) (((cc) >> 7) & 0xFu)
#define NVME_CC_SHN(cc) (((cc) >> 14) & 0x3u)
#define NVME_CC_IOSQES(cc) (((cc) >> 16) & 0xFu)
#define NVME_CC_IOCQES(cc) (((cc) >> 20) & 0xFu)

/* CSTS: [0] RDY, [1] CFS controller fatal status, [3:2] SHST (10b complete). */
#define NVME_CSTS_RDY (UINT32_C(1) << 0)
#define NVME_CSTS_CFS (UINT32_C(1) << 1)
#define NVME_CSTS_SHST_DONE (UINT32_C(2) << 2)

/* AQA: [11:0] ASQS, [27:16] ACQS (0-based entries). */
#define NVME_AQA_ASQS(a) ((a) & 0xFFFu)
#define NVME_AQA_ACQS(a) (((a) >> 16) & 0xFFFu)

/*
 * Submission queue entry, 64 bytes = 8 words (CDWn = dword n):
 *  word 0  CDW0 [7:0] opcode, [31:16] CID;  CDW1 NSID
 *  word 3  PRP1 (bytes 24-31)     word 4  PRP2 (bytes 32-39)
 *  word 5  CDW10 | CDW11 << 32    word 6  CDW12 | CDW13 << 32
 *  word 7  CDW14 | CDW15 << 32
 */
#define NVME_SQE_BYTES 64u
#define NVME_SQE_WORDS 8u
#define NVME_CQE_BYTES 16u
#define NVME_CQE_WORDS 2u

/*
 * Completion queue entry, 16 bytes = 2 words:
 *  DW0 command specific   DW1 reserved
 *  DW2 [15:0] SQ head pointer, [31:16] SQ identifier
 *  DW3 [15:0] CID, [16] phase tag P, [31:17] status field:
 *      [24:17] SC status code, [27:25] SCT status code type, [31] DNR
 */
#define NVME_CQE_P (UINT32_C(1) << 16)
#define NVME_CQE_SC_SHIFT 17
#define NVME_CQE_SCT_SHIFT 25

/* Status: SCT << 8 | SC. Generic (SCT 0) and command specific (SCT 1). */
#define NVME_SC_SUCCESS 0x000u
#define NVME_SC_INVALID_OPCODE 0x001u
#define NVME_SC_INVALID_FIELD 0x002u
#define NVME_SC_DATA_XFER_ERROR 0x004u
#define NVME_SC_INVALID_NS 0x00Bu
#define NVME_SC_PRP_OFFSET_INVALID 0x013u
#define NVME_SC_LBA_RANGE 0x080u
#define NVME_SC_CQ_INVALID 0x100u
#define NVME_SC_QID_INVALID 0x101u
#define NVME_SC_QSIZE_INVALID 0x102u
#define NVME_SC_QUEUE_DELETION 0x10Cu
#define NVME_SC_IV_INVALID 0x108u

/* Opcodes. Admin: */
#define NVME_ADMIN_DELETE_SQ 0x00u
#define NVME_ADMIN_CREATE_SQ 0x01u
#define NVME_ADMIN_DELETE_CQ 0x04u
#define NVME_ADMIN_CREATE_CQ 0x05u
/* NVM command set: */
#define NVME_CMD_WRITE 0x01u
#define NVME_CMD_READ 0x02u

/* Create I/O CQ: CDW10 [15:0] QID, [31:16] QSIZE (0-based); CDW11 [0] PC,
 * [1] IEN, [31:16] IV. Create I/O SQ: CDW11 [0] PC, [2:1] QPRIO, [31:16] CQID. */
#define NVME_Q_PC 0x1u
#define NVME_CQ_IEN 0x2u

_Static_assert(NVME_CAP_VALUE == UINT64_C(0x00000020140103FF), "CAP as documented above");
_Static_assert(NVME_CQE_SCT_SHIFT == NVME_CQE_SC_SHIFT + 8, "SC is 8 bits, SCT follows");

/* Namespace 1: 512-byte LBAs (LBADS 9). */
#define NVME_LBA_BYTES 512u
#define NVME_NS_BLOCKS (UINT64_C(1) << 31) /* assumed: a 1 TiB namespace (contents are not stored) */

#endif
