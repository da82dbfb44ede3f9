/*
 * io-loop: drives a UART-like device through port I/O: workload.iterations
 * rounds (0 = 1000) of io_core (io_core.h: an OUT to 0x3f8 and an IN from
 * 0x3fd per round, a CPUID and a HLT after every 16th). No device sits at
 * those ports in the model, so IN reads all ones (0xff) natively and under
 * the VMM alike. workload.size and workload.seed are not used. Prints the
 * rounds and the sum of the bytes read.
 */
#include "guest.h"
#include "io_core.h"

long wl_main(const struct wl_args *a)
{
	uint64_t n = a->iterations ? a->iterations : 1000;
	uint64_t acc = io_core(n);
	wl_put_u64("io_loop.rounds", n);
	wl_put_u64("io_loop.status_sum", acc);
	return 0;
}
