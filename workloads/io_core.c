/* The I/O loop's core; see io_core.h. Built with -mgeneral-regs-only so
 * the bare-metal variant needs no FPU/SSE set-up. */
#include "io_core.h"

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "d"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "d"(port));
	return v;
}

static inline void cpuid0(void)
{
	uint32_t a = 0, b, c = 0, d;
	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
}

/* Fixed registers and encodings: 89 82 D8 00 00 00 (6 bytes) and 8B 42 08 (3). */
static inline void nic_write_imc(volatile uint32_t *nic, uint32_t v)
{
	__asm__ volatile("movl %%eax, 0xd8(%%rdx)" : : "a"(v), "d"(nic) : "memory");
}

static inline uint32_t nic_read_status(volatile uint32_t *nic)
{
	uint32_t v;
	__asm__ volatile("movl 0x8(%%rdx), %%eax" : "=a"(v) : "d"(nic) : "memory");
	return v;
}

uint64_t io_core(uint64_t n, volatile uint32_t *nic, uint64_t *nic_sum)
{
	uint64_t acc = 0;
	for (uint64_t i = 0; i < n; i++) {
		outb(IO_PORT_DATA, (uint8_t)('a' + i % 26));
		acc += inb(IO_PORT_STATUS);
		if (nic) {
			nic_write_imc(nic, 0);
			*nic_sum += nic_read_status(nic);
		}
		if ((i + 1) % IO_HLT_EVERY == 0) {
			cpuid0();
			__asm__ volatile("hlt");
		}
	}
	return acc;
}
