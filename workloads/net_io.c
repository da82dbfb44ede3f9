/*
 * net-io: a network server's loop through the guest kernel's NIC driver:
 * workload.iterations frames (0 = 100) of workload.size bytes (0 = 8192,
 * at most 1 MiB): per frame a net_recv of one frame into a receive buffer
 * (an mmap of size bytes, page-aligned), a load of every 64-byte line of
 * it, and a net_send of a 64-byte reply from a second mapping, whose first
 * 8 bytes come from workload.seed (xorshift) and the frame's number. Device
 * payloads are not simulated, so the buffer reads as zeros. Prints the
 * frames, the bytes received and sent, and the sum of the words read.
 * Without a NIC it prints net_io.error=1 and exits with status 1.
 */
#include "guest.h"

long wl_main(const struct wl_args *a)
{
	uint64_t size = a->size ? a->size : 8192, n = a->iterations ? a->iterations : 100;
	uint64_t seed = a->seed ? a->seed : 1, sum = 0, frames = 0;
	if (size > (1u << 20)) {
		wl_put_u64("net_io.error", 2);
		return 2;
	}
	uint8_t *buf = wl_mmap(size, 0), *reply = wl_mmap(4096, 0);
	if ((long)buf < 0 || (long)reply < 0) {
		wl_put_u64("net_io.error", 3);
		return 3;
	}
	for (uint64_t i = 0; i < n; i++) {
		if (wl_net_recv(buf, size) != (long)size) {
			wl_put_u64("net_io.error", 1);
			return 1;
		}
		for (uint64_t off = 0; off < size; off += 64)
			sum += *(volatile uint64_t *)(buf + off);
		*(volatile uint64_t *)reply = wl_rand(&seed) ^ i;
		if (wl_net_send(reply, 64) != 64) {
			wl_put_u64("net_io.error", 1);
			return 1;
		}
		frames++;
	}
	wl_put_u64("net_io.frames", frames);
	wl_put_u64("net_io.bytes_received", frames * size);
	wl_put_u64("net_io.bytes_sent", frames * 64);
	wl_put_u64("net_io.line_sum", sum);
	return 0;
}
