/* The workloads' small runtime: what gcc may call (memset, memcpy) and
 * console output through the write system call. */
#include "guest.h"

void *memset(void *d, int c, unsigned long n)
{
	unsigned char *p = d;
	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, unsigned long n)
{
	unsigned char *p = d;
	const unsigned char *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

void wl_puts(const char *s)
{
	unsigned long n = 0;
	while (s[n])
		n++;
	wl_write(s, n);
}

void wl_put_u64(const char *name, uint64_t v)
{
	char buf[96];
	unsigned long n = 0;
	while (name[n] && n < 64) {
		buf[n] = name[n];
		n++;
	}
	buf[n++] = '=';
	char digits[20];
	int k = 0;
	do {
		digits[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (k)
		buf[n++] = digits[--k];
	buf[n++] = '\n';
	wl_write(buf, n);
}
