/*
 * The I/O loop's core, shared by the io-loop workload (user image, run by
 * the Unicorn front end) and its bare-metal variant (kvm_io.c, run as a
 * real KVM guest by tests/kvm_crosscheck.c): the same object code in both.
 *
 * Per iteration i (0-based): OUT of one byte to IO_PORT_DATA, IN of one
 * byte from IO_PORT_STATUS; after every IO_HLT_EVERY-th iteration a CPUID
 * (leaf 0) and a HLT. So n iterations execute n OUTs, n INs,
 * floor(n / IO_HLT_EVERY) CPUIDs and as many HLTs.
 */
#ifndef VTSIM_WORKLOADS_IO_CORE_H
#define VTSIM_WORKLOADS_IO_CORE_H

#include <stdint.h>

#define IO_PORT_DATA 0x3f8   /* COM1 transmit holding register */
#define IO_PORT_STATUS 0x3fd /* COM1 line status register */
#define IO_HLT_EVERY 16

/* Run n iterations; returns the sum of the status bytes read. */
uint64_t io_core(uint64_t n);

#endif
