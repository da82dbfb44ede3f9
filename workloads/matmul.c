/*
 * matmul: a dense kernel. C = A x B for n x n matrices of doubles, repeated
 * workload.iterations times (0 = 2); the three matrices take at most
 * workload.size bytes (0 = 96 KiB: n = 64), n = floor(sqrt(size / 24)),
 * at least 2. Prints n and a checksum of C.
 */
#include "guest.h"

static uint64_t isqrt(uint64_t x)
{
	uint64_t r = 0;
	while ((r + 1) * (r + 1) <= x)
		r++;
	return r;
}

long wl_main(const struct wl_args *a)
{
	uint64_t size = a->size ? a->size : 96 * 1024;
	uint64_t reps = a->iterations ? a->iterations : 2;
	uint64_t n = isqrt(size / 24);
	if (n < 2)
		n = 2;
	double *m = wl_mmap(3 * n * n * sizeof(double), 0);
	double *A = m, *B = m + n * n, *C = m + 2 * n * n;
	uint64_t s = a->seed | 1;
	for (uint64_t i = 0; i < n * n; i++) {
		A[i] = (double)(wl_rand(&s) % 16);
		B[i] = (double)(wl_rand(&s) % 16);
	}
	for (uint64_t r = 0; r < reps; r++)
		for (uint64_t i = 0; i < n; i++)
			for (uint64_t j = 0; j < n; j++) {
				double acc = 0;
				for (uint64_t k = 0; k < n; k++)
					acc += A[i * n + k] * B[k * n + j];
				C[i * n + j] = acc + (double)r;
			}
	uint64_t sum = 0;
	for (uint64_t i = 0; i < n * n; i++)
		sum += (uint64_t)C[i];
	wl_put_u64("matmul.n", n);
	wl_put_u64("matmul.checksum", sum);
	wl_munmap(m, 3 * n * n * sizeof(double));
	return 0;
}
