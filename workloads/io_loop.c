/*
 * io-loop: drives a UART-like device through port I/O and the NIC's
 * registers through MMIO: workload.iterations rounds (0 = 1000) of io_core
 * (io_core.h: an OUT to 0x3f8 and an IN from 0x3fd per round, then, when
 * the machine has a NIC, an MMIO store to its IMC and an MMIO load of its
 * STATUS through a mapping of its BAR 0 (mmap_device); a CPUID and a HLT
 * after every 16th). No device sits at those ports in the model, so IN
 * reads all ones (0xff) natively and under the VMM alike. workload.size
 * and workload.seed are not used. Prints the rounds, the sum of the bytes
 * read by IN, whether the NIC was there and the sum of the STATUS values.
 */
#include "guest.h"
#include "io_core.h"

long wl_main(const struct wl_args *a)
{
	uint64_t n = a->iterations ? a->iterations : 1000, nic_sum = 0;
	volatile uint32_t *nic = wl_mmap_device(WL_DEV_NIC, 4096);
	uint64_t acc = io_core(n, nic, &nic_sum);
	wl_put_u64("io_loop.rounds", n);
	wl_put_u64("io_loop.status_sum", acc);
	wl_put_u64("io_loop.nic", nic != 0);
	wl_put_u64("io_loop.nic_status_sum", nic_sum);
	return 0;
}
