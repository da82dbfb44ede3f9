/*
 * Notes: the Unicorn front end (Unicorn Engine 2.0.1, Debian's).
 *  - Flat execution: Unicorn 2.0.1 identity-maps guest-virtual to physical
 *    even with paging on and its fetch hook does not fire for ordinary
 *    fetches, so each process's Unicorn runs in 64-bit mode without paging,
 *    with memory mapped at the GVAs the program uses (image, stack, mmap
 *    regions); translation is the simulator's.
 *  - Instructions come from UC_HOOK_CODE (address, size), data references
 *    from UC_HOOK_MEM_READ / UC_HOOK_MEM_WRITE in execution order (a
 *    read-modify-write instruction gives a load then a store; string
 *    instructions one reference per element). Stack pushes are stores.
 *  - CPUID, IN and OUT are seen by UC_HOOK_INSN after the code hook;
 *    Unicorn itself computes CPUID's registers (the program must not
 *    depend on them), IN reads all ones (no device is modelled: the VMM's
 *    handler and a PC with nothing at the port read the same). HLT stops
 *    uc_emu_start with RIP after the F4 byte, which is how it is found.
 *    The program executes IN/OUT/HLT directly: the model treats the
 *    process as having I/O privilege (iopl(3)) and lets HLT through,
 *    which real hardware allows at CPL 0 only (the KVM variant of io-loop
 *    runs the same code at CPL 0).
 *  - The image and the stack are mapped without events, as a lackey trace
 *    starts after exec: the guest OS model demand-pages them on first
 *    touch. mmap hands out addresses upwards from UCFE_MMAP_BASE (2 MiB
 *    aligned for mappings of 2 MiB or more) and never reuses them.
 *  - yield emits nothing (the guest OS model preempts on timer ticks only;
 *    a lackey trace shows no event for sched_yield either).
 *  - wait takes one child's pid (no "any child"): the slice stops at the
 *    wait, and the result is read when the guest runs the parent again,
 *    which it does only after the child's exit was executed.
 *  - Devices (ucfe_set_devices): mmap_device maps the range with
 *    uc_mmio_map at the next mmap address and emits GEV_MMAP | GEV_MMAP_DEVICE
 *    (size = the device). Unicorn fires the memory hook, then the MMIO
 *    callback, for each access there: the hook ignores MMIO ranges and the
 *    callback turns its instruction's GEV_FETCH (already buffered by the
 *    code hook) into the GEV_MMIO, in place (arg bits 15:8 = the code
 *    hook's instruction size), so the access is the instruction. An
 *    instruction with two MMIO accesses (MOVS between two BARs) is refused.
 *    Loads return ucfe_set_mmio_read's answer (default: reset values).
 *  - net_recv / net_send / blk_read / blk_write emit GEV_DEVIO (size = the
 *    sector) once the buffer is checked to be mapped page by page; the
 *    buffer's bytes are not changed (payloads are not simulated). They
 *    return len at once: the guest kernel blocks the process until the
 *    transfer completes, which orders everything after it.
 */
#include "frontend/ucfe.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicorn/unicorn.h>

#include "trace/event.h"

#define ERR_LEN 512
#define PAGE 4096u
#define PROT_R 1u /* Linux PROT_READ */
#define PROT_W 2u /* Linux PROT_WRITE */
#define CONSOLE_MAX (UINT64_C(1) << 24) /* bytes kept from all writes */
#define WRITE_MAX (UINT64_C(1) << 20)   /* bytes one write may pass */
#define MMAP_MAX (UINT64_C(1) << 40)    /* bytes one mmap may ask for */

/* System-call numbers: workloads/guest.h. */
enum {
	SYS_EXIT = 0, SYS_WRITE, SYS_MMAP, SYS_MUNMAP, SYS_SPAWN, SYS_WAIT, SYS_YIELD,
	SYS_MMAP_DEVICE, SYS_NET_RECV, SYS_NET_SEND, SYS_BLK_READ, SYS_BLK_WRITE,
};
#define WL_MAP_HUGEPAGE 1
#define MMIO_MAX 8                      /* device mappings per process */
#define DEVIO_MAX (UINT64_C(1) << 21)   /* bytes one transfer may move */

/* One device mapping of a process (uc_mmio_map's user data). */
struct ucmmio {
	struct ucproc *p;
	uint64_t start, len;
	unsigned dev;
};

struct ucproc {
	struct ucfe *fe;
	uint32_t pid, parent;
	uc_engine *uc;             /* NULL once the guest closed the stream */
	uc_hook hooks[6];
	struct guest_event *buf;   /* events not yet handed out: [head, n) */
	size_t head, n, cap;
	uint64_t rip;              /* where the next slice starts */
	bool stop_req;             /* uc_emu_stop was called in this slice */
	bool exited;               /* its exit system call ran */
	bool reaped;               /* its parent's wait returned its status */
	uint32_t wait_pid;         /* a wait for this child is pending */
	int64_t status;            /* exit status */
	uint64_t mmap_next;        /* next mmap address */
	uint64_t *maps;            /* live mappings as pairs start, end */
	size_t nmaps, maps_cap;
	struct ucmmio mmio[MMIO_MAX]; /* device mappings (len 0: a free slot) */
	size_t fetch_at;           /* buf index of the instruction's fetch, SIZE_MAX once an MMIO took it */
};

struct ucfe {
	const struct workload *w;
	const struct workload_image *img;
	struct workload_header hdr;
	struct ucfe_args args;
	struct ucproc **procs; /* procs[i] has pid i + 1 */
	uint32_t nprocs, procs_cap;
	char *console;
	size_t console_len, console_cap;
	char err[ERR_LEN];     /* a hook's error, reported by the next next() */
	unsigned devices;      /* 1 << UCFE_DEV_*: the machine's devices */
	uint64_t (*mmio_read)(void *ctx, unsigned dev, uint64_t off, unsigned size);
	void *mmio_ctx;
};

static int fail(struct ucfe *u, const struct ucproc *p, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Record a one-line error "workload W, process P: ..." (the first one wins). */
static int fail(struct ucfe *u, const struct ucproc *p, const char *fmt, ...)
{
	if (u->err[0])
		return -1;
	char msg[ERR_LEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p)
		snprintf(u->err, ERR_LEN, "workload %s, process %u: %.440s", u->w->name, p->pid, msg);
	else
		snprintf(u->err, ERR_LEN, "workload %s: %.460s", u->w->name, msg);
	return -1;
}

static struct ucproc *proc_of(const struct ucfe *u, uint32_t pid)
{
	return pid >= 1 && pid <= u->nprocs ? u->procs[pid - 1] : NULL;
}

/* Append one event; the buffer grows (an instruction may add several
 * after the slice is full: its references, a system call's events). */
static void push(struct ucproc *p, enum guest_event_kind kind, uint32_t size, uint64_t gva, uint64_t len,
		 uint32_t arg)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 2 * UCFE_SLICE_EVENTS;
		struct guest_event *b = realloc(p->buf, cap * sizeof(*b));
		if (!b) {
			fail(p->fe, p, "out of memory buffering events");
			uc_emu_stop(p->uc);
			p->stop_req = true;
			return;
		}
		p->buf = b;
		p->cap = cap;
	}
	p->buf[p->n++] = (struct guest_event){kind, size, gva, len, p->pid, arg};
}

static void stop(struct ucproc *p)
{
	if (!p->stop_req) {
		uc_emu_stop(p->uc);
		p->stop_req = true;
	}
}

/* ---- hooks ---------------------------------------------------------------- */

static void hook_code(uc_engine *uc, uint64_t addr, uint32_t size, void *ud)
{
	struct ucproc *p = ud;
	(void)uc;
	if (p->stop_req)
		return;
	if (p->n - p->head >= UCFE_SLICE_EVENTS) {
		/* Stopped before it executes: the next slice starts with it. */
		stop(p);
		return;
	}
	push(p, GEV_FETCH, size, addr, 0, 0);
	p->fetch_at = p->n - 1;
}

static const struct ucmmio *mmio_at(const struct ucproc *p, uint64_t addr)
{
	for (size_t i = 0; i < MMIO_MAX; i++)
		if (p->mmio[i].len && addr - p->mmio[i].start < p->mmio[i].len)
			return &p->mmio[i];
	return NULL;
}

static void hook_mem(uc_engine *uc, uc_mem_type type, uint64_t addr, int size, int64_t value, void *ud)
{
	struct ucproc *p = ud;
	(void)uc;
	(void)value;
	if (mmio_at(p, addr))
		return; /* the MMIO callback makes the event */
	push(p, type == UC_MEM_WRITE ? GEV_STORE : GEV_LOAD, (uint32_t)size, addr, 0, 0);
}

/* An MMIO access: its instruction's fetch becomes the GEV_MMIO. */
static void mmio_event(struct ucmmio *m, uint64_t off, unsigned size, bool read, uint64_t value)
{
	struct ucproc *p = m->p;
	if (p->fetch_at >= p->n || p->buf[p->fetch_at].kind != GEV_FETCH) {
		fail(p->fe, p, "an instruction with a second MMIO access at GVA 0x%" PRIx64 " (one per instruction, "
			       "please)", m->start + off);
		stop(p);
		return;
	}
	struct guest_event *ev = &p->buf[p->fetch_at];
	uint32_t insn_len = ev->size;
	*ev = (struct guest_event){GEV_MMIO, size, m->start + off, read ? 0 : value, p->pid,
				   (read ? 1u : 0u) | insn_len << 8};
	p->fetch_at = SIZE_MAX;
}

static uint64_t mmio_read_cb(uc_engine *uc, uint64_t off, unsigned size, void *ud)
{
	struct ucmmio *m = ud;
	struct ucfe *u = m->p->fe;
	(void)uc;
	mmio_event(m, off, size, true, 0);
	return u->mmio_read ? u->mmio_read(u->mmio_ctx, m->dev, off, size) : ucfe_reset_value(m->dev, off, size);
}

static void mmio_write_cb(uc_engine *uc, uint64_t off, unsigned size, uint64_t value, void *ud)
{
	(void)uc;
	mmio_event(ud, off, size, false, value);
}

/* Reset values; see ucfe.h. */
uint64_t ucfe_reset_value(unsigned dev, uint64_t off, unsigned size)
{
	uint64_t regs[2] = {0, 0}; /* the 16 bytes at 0x00..0x0f */
	if (dev == UCFE_DEV_NIC) {
		regs[1] = 0x83; /* STATUS at 0x08: FD | LU | SPEED 1000 */
	} else if (dev == UCFE_DEV_NVME) {
		regs[0] = UINT64_C(0x00000020140103ff); /* CAP, as src/dev/nvme.c reports it */
		regs[1] = 0x00010400;                   /* VS 1.4; INTMS at 0x0c: 0 */
	}
	if (off + size > 16 || size > 8)
		return 0;
	uint64_t v = 0;
	for (unsigned i = 0; i < size; i++) /* little-endian bytes off .. off + size - 1 */
		v |= ((regs[(off + i) / 8] >> (8 * ((off + i) % 8))) & 0xff) << (8 * i);
	return v;
}

void ucfe_set_devices(struct ucfe *u, unsigned mask)
{
	u->devices = mask;
}

void ucfe_set_mmio_read(struct ucfe *u, uint64_t (*read)(void *ctx, unsigned dev, uint64_t off, unsigned size),
			void *ctx)
{
	u->mmio_read = read;
	u->mmio_ctx = ctx;
}

static int hook_cpuid(uc_engine *uc, void *ud)
{
	struct ucproc *p = ud;
	uint64_t rax;
	uc_reg_read(uc, UC_X86_REG_RAX, &rax);
	push(p, GEV_CPUID, 0, 0, 0, (uint32_t)rax);
	return 0; /* Unicorn computes the registers */
}

static uint32_t hook_in(uc_engine *uc, uint32_t port, int size, void *ud)
{
	struct ucproc *p = ud;
	(void)uc;
	push(p, GEV_IO, (uint32_t)size, port, 0, 1);
	return size == 4 ? UINT32_MAX : (UINT32_C(1) << (8 * size)) - 1; /* nothing at the port */
}

static void hook_out(uc_engine *uc, uint32_t port, int size, uint32_t value, void *ud)
{
	struct ucproc *p = ud;
	(void)uc;
	push(p, GEV_IO, (uint32_t)size, port, value, 0);
}

/* ---- processes -------------------------------------------------------------- */

static void hook_syscall(uc_engine *uc, void *ud);


static int map_mem(struct ucproc *p, uint64_t start, uint64_t len, uint32_t prot)
{
	uc_err e = uc_mem_map(p->uc, start, len, prot);
	if (e != UC_ERR_OK)
		return fail(p->fe, p, "Unicorn cannot map [0x%" PRIx64 ", 0x%" PRIx64 "): %s", start, start + len,
			    uc_strerror(e));
	return 0;
}

/* A new process: its own Unicorn with the image and a stack, about to
 * run from rip with RDI = rdi, RSI = rsi. NULL on error (message in u->err). */
static struct ucproc *proc_new(struct ucfe *u, uint32_t parent, uint64_t rip, uint64_t rdi, uint64_t rsi,
			       bool args_on_stack)
{
	if (u->nprocs == u->procs_cap) {
		uint32_t cap = u->procs_cap ? 2 * u->procs_cap : 16;
		struct ucproc **v = realloc(u->procs, cap * sizeof(*v));
		if (!v) {
			fail(u, NULL, "out of memory");
			return NULL;
		}
		u->procs = v;
		u->procs_cap = cap;
	}
	struct ucproc *p = calloc(1, sizeof(*p));
	if (!p) {
		fail(u, NULL, "out of memory");
		return NULL;
	}
	u->procs[u->nprocs++] = p;
	p->fe = u;
	p->pid = u->nprocs;
	p->parent = parent;
	p->rip = rip;
	p->mmap_next = UCFE_MMAP_BASE;
	p->fetch_at = SIZE_MAX;
	uc_err e = uc_open(UC_ARCH_X86, UC_MODE_64, &p->uc);
	if (e != UC_ERR_OK) {
		p->uc = NULL;
		fail(u, p, "uc_open failed: %s", uc_strerror(e));
		return NULL;
	}
	const struct workload_header *h = &u->hdr;
	uint64_t lo = h->load_addr & ~(uint64_t)(PAGE - 1), hi = (h->mem_end + PAGE - 1) & ~(uint64_t)(PAGE - 1);
	uint64_t sp = UCFE_STACK_TOP - 64;
	if (map_mem(p, lo, hi - lo, UC_PROT_ALL) < 0 ||
	    map_mem(p, UCFE_STACK_TOP - UCFE_STACK_BYTES, UCFE_STACK_BYTES, UC_PROT_READ | UC_PROT_WRITE) < 0)
		return NULL;
	if (uc_mem_write(p->uc, h->load_addr, u->img->bytes, u->img->size) != UC_ERR_OK) {
		fail(u, p, "cannot load the image");
		return NULL;
	}
	if (args_on_stack) {
		uint64_t a[4] = {u->args.size, u->args.iterations, u->args.seed, 0}; /* struct wl_args */
		if (uc_mem_write(p->uc, sp, a, sizeof(a)) != UC_ERR_OK) {
			fail(u, p, "cannot write the arguments");
			return NULL;
		}
		rdi = sp;
	}
	sp -= 8;
	if (uc_reg_write(p->uc, UC_X86_REG_RSP, &sp) != UC_ERR_OK || uc_reg_write(p->uc, UC_X86_REG_RDI, &rdi) ||
	    uc_reg_write(p->uc, UC_X86_REG_RSI, &rsi)) {
		fail(u, p, "cannot set the registers");
		return NULL;
	}
	if (uc_hook_add(p->uc, &p->hooks[0], UC_HOOK_CODE, (void *)hook_code, p, 1, 0) ||
	    uc_hook_add(p->uc, &p->hooks[1], UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE, (void *)hook_mem, p, 1, 0) ||
	    uc_hook_add(p->uc, &p->hooks[2], UC_HOOK_INSN, (void *)hook_syscall, p, 1, 0, UC_X86_INS_SYSCALL) ||
	    uc_hook_add(p->uc, &p->hooks[3], UC_HOOK_INSN, (void *)hook_cpuid, p, 1, 0, UC_X86_INS_CPUID) ||
	    uc_hook_add(p->uc, &p->hooks[4], UC_HOOK_INSN, (void *)hook_in, p, 1, 0, UC_X86_INS_IN) ||
	    uc_hook_add(p->uc, &p->hooks[5], UC_HOOK_INSN, (void *)hook_out, p, 1, 0, UC_X86_INS_OUT)) {
		fail(u, p, "cannot install the Unicorn hooks");
		return NULL;
	}
	return p;
}

/* ---- system calls ---------------------------------------------------------------- */

static void set_rax(struct ucproc *p, uint64_t v)
{
	uc_reg_write(p->uc, UC_X86_REG_RAX, &v);
}

static void sys_write(struct ucproc *p, uint64_t buf, uint64_t len)
{
	struct ucfe *u = p->fe;
	if (len > WRITE_MAX || u->console_len + len > CONSOLE_MAX) {
		set_rax(p, (uint64_t)-1);
		return;
	}
	if (u->console_len + len + 1 > u->console_cap) {
		size_t cap = u->console_cap ? u->console_cap : 4096;
		while (cap < u->console_len + len + 1)
			cap *= 2;
		char *c = realloc(u->console, cap);
		if (!c) {
			fail(u, p, "out of memory keeping the console output");
			stop(p);
			return;
		}
		u->console = c;
		u->console_cap = cap;
	}
	if (uc_mem_read(p->uc, buf, u->console + u->console_len, len) != UC_ERR_OK) {
		set_rax(p, (uint64_t)-1); /* EFAULT */
		return;
	}
	u->console_len += len;
	u->console[u->console_len] = '\0';
	set_rax(p, len);
}

static void sys_mmap(struct ucproc *p, uint64_t len, uint64_t flags)
{
	len = (len + PAGE - 1) & ~(uint64_t)(PAGE - 1);
	uint64_t start = p->mmap_next;
	if (len >= (UINT64_C(1) << 21))
		start = (start + (UINT64_C(1) << 21) - 1) & ~((UINT64_C(1) << 21) - 1);
	if (len == 0 || len > MMAP_MAX || start + len > UCFE_MMAP_LIMIT || (flags & ~(uint64_t)WL_MAP_HUGEPAGE)) {
		set_rax(p, (uint64_t)-1); /* EINVAL / ENOMEM */
		return;
	}
	if (p->nmaps + 2 > p->maps_cap) {
		size_t cap = p->maps_cap ? 2 * p->maps_cap : 32;
		uint64_t *m = realloc(p->maps, cap * sizeof(*m));
		if (!m) {
			fail(p->fe, p, "out of memory");
			stop(p);
			return;
		}
		p->maps = m;
		p->maps_cap = cap;
	}
	if (map_mem(p, start, len, UC_PROT_READ | UC_PROT_WRITE) < 0) {
		stop(p);
		return;
	}
	p->maps[p->nmaps++] = start;
	p->maps[p->nmaps++] = start + len;
	p->mmap_next = start + len;
	push(p, GEV_MMAP, 0, start, len,
	     PROT_R | PROT_W | GEV_MMAP_ANON | ((flags & WL_MAP_HUGEPAGE) ? GEV_MMAP_HUGEPAGE : 0));
	set_rax(p, start);
}

/* Room for one more mapping pair in p->maps. 0 / -1 (stopped). */
static int maps_room(struct ucproc *p)
{
	if (p->nmaps + 2 > p->maps_cap) {
		size_t cap = p->maps_cap ? 2 * p->maps_cap : 32;
		uint64_t *m = realloc(p->maps, cap * sizeof(*m));
		if (!m) {
			fail(p->fe, p, "out of memory");
			stop(p);
			return -1;
		}
		p->maps = m;
		p->maps_cap = cap;
	}
	return 0;
}

/* mmap of device dev's BAR 0: an MMIO range in Unicorn. */
static void sys_mmap_device(struct ucproc *p, uint64_t dev, uint64_t len)
{
	len = (len + PAGE - 1) & ~(uint64_t)(PAGE - 1);
	uint64_t start = p->mmap_next;
	size_t slot;
	for (slot = 0; slot < MMIO_MAX && p->mmio[slot].len; slot++)
		;
	if (dev > UCFE_DEV_NVME || !(p->fe->devices & (1u << dev)) || len == 0 || len > UCFE_DEV_MAP_MAX ||
	    slot == MMIO_MAX || start + len > UCFE_MMAP_LIMIT) {
		set_rax(p, (uint64_t)-1); /* ENODEV / EINVAL / ENOMEM */
		return;
	}
	if (maps_room(p) < 0)
		return;
	p->mmio[slot] = (struct ucmmio){p, start, len, (unsigned)dev};
	uc_err e = uc_mmio_map(p->uc, start, len, mmio_read_cb, &p->mmio[slot], mmio_write_cb, &p->mmio[slot]);
	if (e != UC_ERR_OK) {
		p->mmio[slot].len = 0;
		fail(p->fe, p, "Unicorn cannot map device registers at [0x%" PRIx64 ", 0x%" PRIx64 "): %s", start,
		     start + len, uc_strerror(e));
		stop(p);
		return;
	}
	p->maps[p->nmaps++] = start;
	p->maps[p->nmaps++] = start + len;
	p->mmap_next = start + len;
	push(p, GEV_MMAP, (uint32_t)dev, start, len, PROT_R | PROT_W | GEV_MMAP_DEVICE);
	set_rax(p, start);
}

/* A transfer through a device driver: net_recv/net_send/blk_read/blk_write. */
static void sys_devio(struct ucproc *p, enum gev_devio_op op, uint64_t buf, uint64_t len, uint64_t sector)
{
	const bool blk = op == DEVIO_BLK_READ || op == DEVIO_BLK_WRITE;
	unsigned dev = blk ? UCFE_DEV_NVME : UCFE_DEV_NIC;
	uint8_t b;
	if (!(p->fe->devices & (1u << dev)) || len == 0 || len > (blk ? DEVIO_MAX : UCFE_DEV_MAP_MAX) ||
	    (blk && (len % 512 || sector > UINT32_MAX)) || buf + len < buf) {
		set_rax(p, (uint64_t)-1); /* ENODEV / EINVAL */
		return;
	}
	for (uint64_t a = buf & ~(uint64_t)(PAGE - 1); a < buf + len; a += PAGE)
		if (uc_mem_read(p->uc, a < buf ? buf : a, &b, 1) != UC_ERR_OK || mmio_at(p, a < buf ? buf : a)) {
			set_rax(p, (uint64_t)-1); /* EFAULT */
			return;
		}
	push(p, GEV_DEVIO, blk ? (uint32_t)sector : 0, buf, len, op);
	set_rax(p, len);
}

static void sys_munmap(struct ucproc *p, uint64_t addr, uint64_t len)
{
	len = (len + PAGE - 1) & ~(uint64_t)(PAGE - 1);
	size_t i;
	for (i = 0; i < p->nmaps; i += 2)
		if (addr >= p->maps[i] && addr < p->maps[i + 1])
			break;
	if ((addr & (PAGE - 1)) || len == 0 || i == p->nmaps || addr + len > p->maps[i + 1]) {
		set_rax(p, (uint64_t)-1); /* EINVAL: not inside one mapping */
		return;
	}
	const struct ucmmio *dm = mmio_at(p, addr);
	if (dm && (addr != dm->start || len != dm->len)) {
		set_rax(p, (uint64_t)-1); /* a device mapping goes whole or not at all */
		return;
	}
	uc_err e = uc_mem_unmap(p->uc, addr, len);
	if (e != UC_ERR_OK) {
		fail(p->fe, p, "Unicorn cannot unmap [0x%" PRIx64 ", 0x%" PRIx64 "): %s", addr, addr + len,
		     uc_strerror(e));
		stop(p);
		return;
	}
	uint64_t s = p->maps[i], end = p->maps[i + 1];
	for (size_t k = 0; k < MMIO_MAX; k++)
		if (p->mmio[k].len && p->mmio[k].start == s)
			p->mmio[k].len = 0; /* a device mapping goes whole (checked below) */
	if (s == addr && end == addr + len) { /* whole: drop it */
		p->maps[i] = p->maps[p->nmaps - 2];
		p->maps[i + 1] = p->maps[p->nmaps - 1];
		p->nmaps -= 2;
	} else if (s == addr) {
		p->maps[i] = addr + len;
	} else if (end == addr + len) {
		p->maps[i + 1] = addr;
	} else { /* a hole: two mappings (room was kept by sys_mmap's growth) */
		if (p->nmaps + 2 > p->maps_cap) {
			uint64_t *m = realloc(p->maps, 2 * p->maps_cap * sizeof(*m));
			if (!m) {
				fail(p->fe, p, "out of memory");
				stop(p);
				return;
			}
			p->maps = m;
			p->maps_cap *= 2;
		}
		p->maps[i + 1] = addr;
		p->maps[p->nmaps++] = addr + len;
		p->maps[p->nmaps++] = end;
	}
	push(p, GEV_MUNMAP, 0, addr, len, 0);
	set_rax(p, 0);
}

static void sys_spawn(struct ucproc *p, uint64_t fn, uint64_t arg)
{
	struct ucfe *u = p->fe;
	const struct workload_header *h = &u->hdr;
	if (!h->child_entry || fn < h->load_addr || fn >= h->file_end) {
		set_rax(p, (uint64_t)-1); /* not code of the image */
		return;
	}
	struct ucproc *c = proc_new(u, p->pid, h->child_entry, fn, arg, false);
	if (!c) {
		stop(p);
		return;
	}
	/* The guest kernel's fork: the child (pid) made by gva = the parent. */
	push(p, GEV_PROC_CREATE, 0, p->pid, 0, 0);
	p->buf[p->n - 1].pid = c->pid;
	set_rax(p, c->pid);
}

static void sys_wait(struct ucproc *p, uint64_t pid)
{
	struct ucproc *c = pid <= UINT32_MAX ? proc_of(p->fe, (uint32_t)pid) : NULL;
	push(p, GEV_WAIT, 0, pid, 0, 0);
	if (!c || c->parent != p->pid || c->reaped) {
		set_rax(p, (uint64_t)-1); /* ECHILD */
		return;
	}
	/* The result is known once the guest has run the child to its exit. */
	p->wait_pid = c->pid;
	stop(p);
}

static void hook_syscall(uc_engine *uc, void *ud)
{
	struct ucproc *p = ud;
	uint64_t nr, a0, a1, a2;
	uc_reg_read(uc, UC_X86_REG_RAX, &nr);
	uc_reg_read(uc, UC_X86_REG_RDI, &a0);
	uc_reg_read(uc, UC_X86_REG_RSI, &a1);
	uc_reg_read(uc, UC_X86_REG_RDX, &a2);
	switch (nr) {
	case SYS_EXIT:
		p->exited = true;
		p->status = (int64_t)a0;
		push(p, GEV_PROC_EXIT, 0, 0, 0, 0);
		stop(p);
		return;
	case SYS_WRITE:
		sys_write(p, a0, a1);
		return;
	case SYS_MMAP:
		sys_mmap(p, a0, a1);
		return;
	case SYS_MUNMAP:
		sys_munmap(p, a0, a1);
		return;
	case SYS_SPAWN:
		sys_spawn(p, a0, a1);
		return;
	case SYS_WAIT:
		sys_wait(p, a0);
		return;
	case SYS_YIELD:
		set_rax(p, 0);
		return;
	case SYS_MMAP_DEVICE:
		sys_mmap_device(p, a0, a1);
		return;
	case SYS_NET_RECV:
		sys_devio(p, DEVIO_NET_RX, a0, a1, 0);
		return;
	case SYS_NET_SEND:
		sys_devio(p, DEVIO_NET_TX, a0, a1, 0);
		return;
	case SYS_BLK_READ:
		sys_devio(p, DEVIO_BLK_READ, a0, a1, a2);
		return;
	case SYS_BLK_WRITE:
		sys_devio(p, DEVIO_BLK_WRITE, a0, a1, a2);
		return;
	default: {
		uint64_t rip;
		uc_reg_read(uc, UC_X86_REG_RIP, &rip);
		fail(p->fe, p, "unknown system call %" PRIu64 " at RIP 0x%" PRIx64 " (workloads/guest.h lists 0-11)", nr,
		     rip);
		stop(p);
	}
	}
}

/* ---- the streams ----------------------------------------------------------------- */

/* Run p's Unicorn for one slice. 0, or -1 (message in u->err). */
static int run_slice(struct ucproc *p)
{
	struct ucfe *u = p->fe;
	if (p->wait_pid) {
		struct ucproc *c = proc_of(u, p->wait_pid);
		if (!c->exited)
			return fail(u, p, "the guest ran process %u on after its wait for child %u, which has not exited",
				    p->pid, c->pid);
		c->reaped = true;
		p->wait_pid = 0;
		set_rax(p, (uint64_t)c->status);
	}
	p->stop_req = false;
	uc_err e = uc_emu_start(p->uc, p->rip, 0, 0, 0);
	uc_reg_read(p->uc, UC_X86_REG_RIP, &p->rip);
	if (u->err[0])
		return -1;
	if (e != UC_ERR_OK)
		return fail(u, p, "%s at RIP 0x%" PRIx64, uc_strerror(e), p->rip);
	if (!p->stop_req) {
		/* Unicorn stopped by itself: a HLT (its fetch is buffered). */
		uint8_t b = 0;
		if (p->rip == 0 || uc_mem_read(p->uc, p->rip - 1, &b, 1) != UC_ERR_OK || b != 0xf4)
			return fail(u, p, "execution stopped at RIP 0x%" PRIx64 " for no known reason", p->rip);
		push(p, GEV_HLT, 0, 0, 0, 0);
		if (u->err[0])
			return -1;
	}
	return 0;
}

static int stream_next(void *ctx, struct guest_event *ev, char *err)
{
	struct ucproc *p = ctx;
	struct ucfe *u = p->fe;
	while (p->head == p->n) {
		p->head = p->n = 0;
		if (p->exited || !p->uc)
			return 0;
		if (run_slice(p) < 0) {
			snprintf(err, ERR_LEN, "%s", u->err);
			return -1;
		}
	}
	*ev = p->buf[p->head++];
	return 1;
}

static int src_open(void *ctx, uint32_t pid, struct frontend *fe, char *err)
{
	struct ucfe *u = ctx;
	struct ucproc *p = proc_of(u, pid);
	if (!p || !p->uc) {
		snprintf(err, ERR_LEN, "workload %s: the guest opened process %u, which the program did not create",
			 u->w->name, pid);
		return -1;
	}
	fe->next = stream_next;
	fe->ctx = p;
	return 0;
}

/* The guest is done with pid: its Unicorn goes (its exit status stays). */
static void src_close(void *ctx, uint32_t pid)
{
	struct ucfe *u = ctx;
	struct ucproc *p = proc_of(u, pid);
	if (p && p->uc) {
		uc_close(p->uc);
		p->uc = NULL;
		free(p->buf);
		p->buf = NULL;
		p->head = p->n = p->cap = 0;
		free(p->maps);
		p->maps = NULL;
		p->nmaps = p->maps_cap = 0;
	}
}

struct ucfe *ucfe_open(const struct workload *w, const struct ucfe_args *args, char *err)
{
	struct ucfe *u = calloc(1, sizeof(*u));
	if (!u) {
		snprintf(err, ERR_LEN, "out of memory");
		return NULL;
	}
	u->w = w;
	u->args = *args;
	u->img = workload_image_find(w->name);
	if (!u->img) {
		snprintf(err, ERR_LEN, "workload %s: its image is missing from this build", w->name);
		free(u);
		return NULL;
	}
	if (workload_header(u->img, &u->hdr, err) < 0) {
		free(u);
		return NULL;
	}
	if (!proc_new(u, 0, u->hdr.entry, 0, 0, true)) {
		snprintf(err, ERR_LEN, "%s", u->err);
		ucfe_close(u);
		return NULL;
	}
	return u;
}

void ucfe_proc_source(struct ucfe *u, struct proc_source *ps)
{
	*ps = (struct proc_source){1, src_open, src_close, u};
}

const char *ucfe_console(const struct ucfe *u)
{
	return u->console ? u->console : "";
}

uint32_t ucfe_processes(const struct ucfe *u)
{
	return u->nprocs;
}

void ucfe_close(struct ucfe *u)
{
	if (!u)
		return;
	for (uint32_t i = 0; i < u->nprocs; i++) {
		src_close(u, i + 1);
		free(u->procs[i]);
	}
	free(u->procs);
	free(u->console);
	free(u);
}
