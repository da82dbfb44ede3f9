/* The bare-metal variant of io-loop for the KVM cross-check: io_core with
 * workload.iterations rounds (0 = 1000) and the NIC's registers at
 * IO_KVM_NIC_GPA (no memory there: every access exits), then the final HLT
 * (kvm_crt0.S). */
#include "guest.h"
#include "io_core.h"

long wl_kvm_main(const struct wl_args *a);

long wl_kvm_main(const struct wl_args *a)
{
	uint64_t nic_sum = 0;
	return (long)io_core(a->iterations ? a->iterations : 1000, (volatile uint32_t *)IO_KVM_NIC_GPA, &nic_sum);
}
