/*
 * The I/O loop's core, shared by the io-loop workload (user image, run by
 * the Unicorn front end) and its bare-metal variant (kvm_io.c, run as a
 * real KVM guest by tests/kvm_crosscheck.c): the same object code in both.
 *
 * Per iteration i (0-based): OUT of one byte to IO_PORT_DATA, IN of one
 * byte from IO_PORT_STATUS; then, when nic is not NULL (a mapping of the
 * Intel 8254x NIC's BAR 0), one MMIO store of 0 to IMC (0xD8: clears no
 * interrupt mask bit, harmless) with the 6-byte MOV [RDX+0xD8], EAX and
 * one MMIO load of STATUS (0x08) with the 3-byte MOV EAX, [RDX+8]; after
 * every IO_HLT_EVERY-th iteration a CPUID (leaf 0) and a HLT. So n
 * iterations execute n OUTs, n INs, n MMIO stores and n MMIO loads (none
 * without a NIC), floor(n / IO_HLT_EVERY) CPUIDs and as many HLTs.
 */
#ifndef VTSIM_WORKLOADS_IO_CORE_H
#define VTSIM_WORKLOADS_IO_CORE_H

#include <stdint.h>

#define IO_PORT_DATA 0x3f8   /* COM1 transmit holding register */
#define IO_PORT_STATUS 0x3fd /* COM1 line status register */
#define IO_HLT_EVERY 16
#define IO_NIC_IMC 0xd8      /* 8254x Interrupt Mask Clear */
#define IO_NIC_STATUS 0x08   /* 8254x Device Status */
/* The bare-metal variant's NIC registers: a guest-physical address with no
 * KVM memory slot (tests/kvm_crosscheck.c), so each access is a
 * KVM_EXIT_MMIO. */
#define IO_KVM_NIC_GPA 0x10000000

/* Run n iterations; returns the sum of the status bytes read by IN, and
 * adds the STATUS values read by MMIO to *nic_sum (nic != NULL). */
uint64_t io_core(uint64_t n, volatile uint32_t *nic, uint64_t *nic_sum);

#endif
