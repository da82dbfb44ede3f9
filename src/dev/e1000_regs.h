/*
 * Intel 8254x (e1000) registers and legacy descriptors, the subset the NIC
 * model implements. PCI/PCI-X Family of Gigabit Ethernet Controllers
 * Software Developer's Manual 317453, §13 (registers), §3.2.3 (receive
 * descriptor), §3.3.3 (legacy transmit descriptor); offsets and bits as
 * in Linux drivers/net/ethernet/intel/e1000/e1000_hw.h.
 */
#ifndef VTSIM_DEV_E1000_REGS_H
#define VTSIM_DEV_E1000_REGS_H

#include <stdint.h>

#define E1000_BAR_SIZE (128u * 1024) /* memory BAR 0 */

/* Registers (32 bits each), spec order. */
#define E1000_CTRL 0x0000u   /* Device Control */
#define E1000_STATUS 0x0008u /* Device Status, read-only */
#define E1000_ICR 0x00C0u    /* Interrupt Cause Read, read-to-clear */
#define E1000_ICS 0x00C8u    /* Interrupt Cause Set, write-only */
#define E1000_IMS 0x00D0u    /* Interrupt Mask Set (reads the mask) */
#define E1000_IMC 0x00D8u    /* Interrupt Mask Clear, write-only */
#define E1000_RCTL 0x0100u   /* Receive Control */
#define E1000_TCTL 0x0400u   /* Transmit Control */
#define E1000_MPC 0x4010u    /* Missed Packets Count, read-to-clear */
#define E1000_RDBAL 0x2800u  /* Receive Descriptor Base Low */
#define E1000_RDBAH 0x2804u  /* Receive Descriptor Base High */
#define E1000_RDLEN 0x2808u  /* Receive Descriptor Length, bytes (multiple of 128) */
#define E1000_RDH 0x2810u    /* Receive Descriptor Head */
#define E1000_RDT 0x2818u    /* Receive Descriptor Tail */
#define E1000_TDBAL 0x3800u  /* Transmit Descriptor Base Low */
#define E1000_TDBAH 0x3804u  /* Transmit Descriptor Base High */
#define E1000_TDLEN 0x3808u  /* Transmit Descriptor Length */
#define E1000_TDH 0x3810u    /* Transmit Descriptor Head */
#define E1000_TDT 0x3818u    /* Transmit Descriptor Tail */

/* CTRL: bit 26 RST (device reset, self-clearing). */
#define E1000_CTRL_RST (UINT32_C(1) << 26)

/*
 * STATUS, as this model reads it: 0x83 = link up, full duplex, 1000 Mb/s.
 *  [0]   FD     full duplex
 *  [1]   LU     link up
 *  [7:6] SPEED  10b = 1000 Mb/s (the register has no code above 1000)
 */
#define E1000_STATUS_FD (UINT32_C(1) << 0)
#define E1000_STATUS_LU (UINT32_C(1) << 1)
#define E1000_STATUS_SPEED_1000 (UINT32_C(2) << 6)

/* ICR / ICS / IMS / IMC cause bits. */
#define E1000_ICR_TXDW (UINT32_C(1) << 0) /* transmit descriptor written back */
#define E1000_ICR_RXO (UINT32_C(1) << 6)  /* receiver overrun (frame missed) */
#define E1000_ICR_RXT0 (UINT32_C(1) << 7) /* receiver timer: a frame was received */

/*
 * RCTL
 *  [1]     EN    receiver enable
 *  [17:16] BSIZE with BSEX = 0: 00 2048, 01 1024, 10 512, 11 256 bytes;
 *                with BSEX = 1: 01 16384, 10 8192, 11 4096 (00 reserved)
 *  [25]    BSEX  buffer size extension (x16)
 */
#define E1000_RCTL_EN (UINT32_C(1) << 1)
#define E1000_RCTL_BSIZE_SHIFT 16
#define E1000_RCTL_BSIZE_MASK (UINT32_C(3) << E1000_RCTL_BSIZE_SHIFT)
#define E1000_RCTL_BSEX (UINT32_C(1) << 25)

/* TCTL: [1] EN transmit enable. */
#define E1000_TCTL_EN (UINT32_C(1) << 1)

/*
 * Legacy receive descriptor (16 bytes, two little-endian words):
 *  word 0  [63:0]  buffer address
 *  word 1  [15:0]  length   [31:16] checksum   [39:32] status
 *          [47:40] errors   [63:48] special
 *  status: [0] DD descriptor done, [1] EOP end of packet
 */
#define E1000_RXD_LEN_SHIFT 0
#define E1000_RXD_STATUS_SHIFT 32
#define E1000_RXD_STA_DD 0x01u
#define E1000_RXD_STA_EOP 0x02u

/*
 * Legacy transmit descriptor (16 bytes, two little-endian words):
 *  word 0  [63:0]  buffer address
 *  word 1  [15:0]  length   [23:16] CSO   [31:24] CMD
 *          [39:32] STA      [47:40] CSS   [63:48] special
 *  CMD: [0] EOP end of packet, [1] IFCS insert FCS, [3] RS report status
 *  STA: [0] DD descriptor done
 */
#define E1000_TXD_LEN_MASK UINT64_C(0xFFFF)
#define E1000_TXD_CMD_SHIFT 24
#define E1000_TXD_STA_SHIFT 32
#define E1000_TXD_CMD_EOP 0x01u
#define E1000_TXD_CMD_IFCS 0x02u
#define E1000_TXD_CMD_RS 0x08u
#define E1000_TXD_STA_DD 0x01u

#define E1000_DESC_BYTES 16u

_Static_assert((E1000_RCTL_EN & (E1000_RCTL_BSIZE_MASK | E1000_RCTL_BSEX)) == 0, "RCTL fields overlap");
_Static_assert((E1000_RCTL_BSIZE_MASK & E1000_RCTL_BSEX) == 0, "RCTL fields overlap");
_Static_assert((E1000_ICR_TXDW & E1000_ICR_RXO) == 0 && (E1000_ICR_RXO & E1000_ICR_RXT0) == 0, "ICR causes overlap");
_Static_assert((E1000_TXD_CMD_EOP | E1000_TXD_CMD_IFCS | E1000_TXD_CMD_RS) == 0x0B, "TX CMD bits");

#endif
