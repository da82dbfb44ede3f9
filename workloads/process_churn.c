/*
 * process-churn: workload.iterations short-lived processes (0 = 100), four
 * alive at a time: each maps workload.size bytes (0 = 64 KiB), writes one
 * word to every 4 KiB page of it, sums them and exits with the sum's low
 * byte; the parent spawns four, waits for each in turn and spawns the
 * next. A spawned process starts on a fresh copy of the image (its
 * globals are not the parent's): its argument carries its index (low 32
 * bits) and its pages (high 32 bits). Prints the processes and the sum of
 * their exit statuses.
 */
#include "guest.h"

#define BATCH 4

static long child(uint64_t arg)
{
	uint64_t pages = arg >> 32, index = arg & 0xffffffffu;
	uint64_t *p = wl_mmap(pages << 12, 0);
	uint64_t sum = 0;
	for (uint64_t i = 0; i < pages; i++)
		p[i * 512] = index + i;
	for (uint64_t i = 0; i < pages; i++)
		sum += p[i * 512];
	return (long)(sum & 0xff);
}

long wl_main(const struct wl_args *a)
{
	uint64_t n = a->iterations ? a->iterations : 100;
	uint64_t pages = (a->size ? a->size : 64 * 1024) >> 12;
	if (pages == 0)
		pages = 1;
	if (pages > 0xffffffffu)
		pages = 0xffffffffu;
	long pids[BATCH];
	uint64_t status_sum = 0, done = 0, started = 0;
	while (done < n) {
		uint64_t batch = 0;
		while (batch < BATCH && started < n)
			pids[batch++] = wl_spawn(child, (pages << 32) | started++);
		for (uint64_t i = 0; i < batch; i++, done++) {
			long st = wl_wait(pids[i]);
			if (st < 0) {
				wl_puts("process-churn: wait failed\n");
				return 1;
			}
			status_sum += (uint64_t)st;
		}
	}
	wl_put_u64("process_churn.processes", n);
	wl_put_u64("process_churn.status_sum", status_sum);
	return 0;
}
