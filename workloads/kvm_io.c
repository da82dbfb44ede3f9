/* The bare-metal variant of io-loop for the KVM cross-check: io_core with
 * workload.iterations rounds (0 = 1000), then the final HLT (kvm_crt0.S). */
#include "guest.h"
#include "io_core.h"

long wl_kvm_main(const struct wl_args *a);

long wl_kvm_main(const struct wl_args *a)
{
	return (long)io_core(a->iterations ? a->iterations : 1000);
}
