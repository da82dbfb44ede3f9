/*
 * The guest ABI of vtsim's workloads: freestanding x86-64 programs that the
 * Unicorn front end (src/frontend/ucfe.c) runs flat, in 64-bit user mode,
 * with every reference going through the simulator's MMU model.
 *
 * Image (docs/workloads.md): linked at WL_LOAD_ADDR by workloads/link.ld,
 * flattened with objcopy -O binary; its first bytes are struct wl_header.
 * Entry: _start (crt0.S) with RDI = the address of a struct wl_args on the
 * stack; RSP 16-byte aligned below it.
 *
 * System calls: the `syscall` instruction, number in RAX, arguments in
 * RDI, RSI, RDX, result in RAX (negative = error, as Linux). RCX and R11
 * are clobbered as the instruction defines.
 *
 *   nr  name     arguments              result
 *   0   exit     status                 does not return; the process ends
 *   1   write    buf, len               len (the bytes go to the console,
 *                                       printed after the run)
 *   2   mmap     len, flags             GVA of a fresh zeroed anonymous
 *                                       mapping of len bytes (rounded up to
 *                                       4 KiB); flags: WL_MAP_HUGEPAGE
 *   3   munmap   addr, len              0, or -1 (not page-aligned, or not
 *                                       inside one earlier mapping)
 *   4   spawn    fn, arg                pid of a new process of the same
 *                                       image that runs fn(arg) on a fresh
 *                                       address space and exits with its
 *                                       result
 *   5   wait     pid                    the exit status of child pid, once
 *                                       it has exited; -1 if no such child
 *   6   yield    -                      0 (a hint: the guest kernel
 *                                       preempts on timer ticks only)
 *   7   mmap_device dev, len           GVA of an uncached mapping of the
 *                                       first len bytes of device dev's
 *                                       BAR 0 (WL_DEV_NIC, WL_DEV_NVME), as
 *                                       mmap of a PCI resource0 file: its
 *                                       loads and stores are MMIO to the
 *                                       device's registers; -1 (ENODEV) if
 *                                       the machine has no such device, or
 *                                       len is 0 or over 1 MiB
 *   8   net_recv buf, len              receive one frame of len bytes into
 *                                       buf, blocking until it arrives; len,
 *                                       or -1 (no NIC, len 0 or over 1 MiB,
 *                                       or buf not mapped)
 *   9   net_send buf, len              send buf as one frame; len or -1
 *   10  blk_read buf, len, sector      read len bytes (a multiple of 512,
 *                                       at most 2 MiB) at byte offset
 *                                       sector * 512 of the NVMe disk into
 *                                       buf, blocking until done; len or -1
 *   11  blk_write buf, len, sector     write them from buf; len or -1
 *
 * Device payloads are not simulated: net_recv and blk_read leave the
 * buffer's bytes as they were (the program must not depend on them).
 */
#ifndef VTSIM_WORKLOADS_GUEST_H
#define VTSIM_WORKLOADS_GUEST_H

#define WL_LOAD_ADDR 0x400000
#define WL_MAGIC 0x31474d494c575456ULL /* "VTWLIMG1" */

#define WL_SYS_EXIT 0
#define WL_SYS_WRITE 1
#define WL_SYS_MMAP 2
#define WL_SYS_MUNMAP 3
#define WL_SYS_SPAWN 4
#define WL_SYS_WAIT 5
#define WL_SYS_YIELD 6
#define WL_SYS_MMAP_DEVICE 7
#define WL_SYS_NET_RECV 8
#define WL_SYS_NET_SEND 9
#define WL_SYS_BLK_READ 10
#define WL_SYS_BLK_WRITE 11

#define WL_DEV_NIC 0  /* Intel 8254x (e1000) */
#define WL_DEV_NVME 1 /* NVMe controller */

#define WL_MAP_HUGEPAGE 1 /* mark the mapping MADV_HUGEPAGE (guest.thp=madvise) */

#ifndef __ASSEMBLER__
#include <stdint.h>

/* The first 64 bytes of an image (crt0.S), all little-endian u64. */
struct wl_header {
	uint64_t magic;       /* WL_MAGIC */
	uint64_t load_addr;   /* GVA of the image's first byte */
	uint64_t entry;       /* _start */
	uint64_t child_entry; /* __wl_child: RDI = fn, RSI = arg; exits with fn(arg) */
	uint64_t file_end;    /* GVA past the last byte of the file */
	uint64_t mem_end;     /* GVA past .bss */
	uint64_t final_hlt;   /* GVA of the bare-metal variant's last HLT (0 in user images) */
	uint64_t reserved;
};

/* What the front end passes to main (workload.* parameters). */
struct wl_args {
	uint64_t size;       /* workload.size, bytes */
	uint64_t iterations; /* workload.iterations */
	uint64_t seed;       /* workload.seed */
	uint64_t reserved;
};

static inline long wl_syscall3(long nr, long a, long b, long c)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return ret;
}

static inline __attribute__((noreturn)) void wl_exit(long status)
{
	wl_syscall3(WL_SYS_EXIT, status, 0, 0);
	__builtin_unreachable();
}

static inline long wl_write(const void *buf, unsigned long len)
{
	return wl_syscall3(WL_SYS_WRITE, (long)buf, (long)len, 0);
}

static inline void *wl_mmap(unsigned long len, long flags)
{
	return (void *)wl_syscall3(WL_SYS_MMAP, (long)len, flags, 0);
}

static inline long wl_munmap(void *addr, unsigned long len)
{
	return wl_syscall3(WL_SYS_MUNMAP, (long)addr, (long)len, 0);
}

static inline long wl_spawn(long (*fn)(uint64_t), uint64_t arg)
{
	return wl_syscall3(WL_SYS_SPAWN, (long)fn, (long)arg, 0);
}

static inline long wl_wait(long pid)
{
	return wl_syscall3(WL_SYS_WAIT, pid, 0, 0);
}

static inline void wl_yield(void)
{
	wl_syscall3(WL_SYS_YIELD, 0, 0, 0);
}

/* NULL if the machine has no such device. */
static inline volatile uint32_t *wl_mmap_device(long dev, unsigned long len)
{
	long r = wl_syscall3(WL_SYS_MMAP_DEVICE, dev, (long)len, 0);
	return r < 0 ? (volatile uint32_t *)0 : (volatile uint32_t *)r;
}

static inline long wl_net_recv(void *buf, unsigned long len)
{
	return wl_syscall3(WL_SYS_NET_RECV, (long)buf, (long)len, 0);
}

static inline long wl_net_send(const void *buf, unsigned long len)
{
	return wl_syscall3(WL_SYS_NET_SEND, (long)buf, (long)len, 0);
}

static inline long wl_blk_read(void *buf, unsigned long len, unsigned long sector)
{
	return wl_syscall3(WL_SYS_BLK_READ, (long)buf, (long)len, (long)sector);
}

static inline long wl_blk_write(const void *buf, unsigned long len, unsigned long sector)
{
	return wl_syscall3(WL_SYS_BLK_WRITE, (long)buf, (long)len, (long)sector);
}

/* xorshift64*: the workloads' one pseudo-random generator. */
static inline uint64_t wl_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* lib.c */
void *memset(void *d, int c, unsigned long n);
void *memcpy(void *d, const void *s, unsigned long n);
/* Console output: a string, "name=value\n" with value in decimal. */
void wl_puts(const char *s);
void wl_put_u64(const char *name, uint64_t v);

/* The program's main, called by _start; its result is the exit status. */
long wl_main(const struct wl_args *a);
#endif

#endif
