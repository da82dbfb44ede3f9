/*
 * The guest event stream: what every front end (lackey reader, later the
 * .vtt reader and the Unicorn CPU) produces and the CPU model consumes.
 * Nothing downstream knows which front end produced an event.
 */
#ifndef VTSIM_TRACE_EVENT_H
#define VTSIM_TRACE_EVENT_H

#include <stddef.h>
#include <stdint.h>

enum guest_event_kind {
	GEV_FETCH = 0,   /* instruction fetch at gva, size bytes; one instruction */
	GEV_LOAD,        /* data load at gva, size bytes */
	GEV_STORE,       /* data store at gva, size bytes */
	GEV_MODIFY,      /* load then store of the same gva (lackey 'M') */
	GEV_MMAP,        /* mmap succeeded: [gva, gva+len) mapped, prot in arg */
	GEV_MUNMAP,      /* munmap of [gva, gva+len) */
	GEV_BRK,         /* program break moved to gva (len = 0) */
	GEV_PROC_CREATE, /* a process or thread (pid) was created by gva = parent pid; arg = 1 for a thread */
	GEV_PROC_EXIT,   /* process pid exits (exit_group) */
	/* Added for multi-process guests (trace sets, src/trace/traceset.h): */
	GEV_WAIT,        /* process pid waits for a child (wait4/waitid): gva = the child's pid, 0 = any
			  * child; arg = 1 with WNOHANG (never blocks) */
	GEV_EXEC,        /* process pid replaced its program (execve succeeded): a new address space */
	/* Instructions that a VMM may intercept (execution-driven front ends;
	 * lackey logs carry none): */
	GEV_CPUID,       /* CPUID with EAX = arg (the leaf); 2-byte instruction */
	GEV_IO,          /* IN/OUT with the port in DX: gva = port, size = 1, 2 or 4 bytes,
			  * arg = 1 for IN, 0 for OUT, len = the value written by OUT; 1-byte instruction */
	GEV_HLT,         /* HLT: the CPU idles until the next interrupt (natively: the next timer
			  * tick; in VMX non-root with "HLT exiting": exit reason 12, the VMM skips it and
			  * the host idles until its next interrupt); 1-byte instruction, no operands */
	GEV_MMIO,        /* a load (arg bit 0 = 1) or store (arg bit 0 = 0) of size 1, 2, 4 or 8 bytes at gva
			  * that reaches a device register (an uncached mapping of a device BAR, see
			  * GEV_MMAP_DEVICE); len = the value stored; arg bits 15:8 = the instruction's
			  * length in bytes (1..15): the access IS the instruction (no FETCH record precedes it) */
	GEV_DEVIO,       /* a system call asking the kernel's driver for a transfer between the process's
			  * buffer [gva, gva + len) and a device: arg = enum gev_devio_op; the kernel pins the
			  * buffer, programs the device and blocks the process until the completion interrupt */
	GEV_KIND_COUNT
};

/* GEV_DEVIO operations: which device and which direction. */
enum gev_devio_op {
	DEVIO_NET_RX = 1, /* receive one frame of len bytes from the network into the buffer */
	DEVIO_NET_TX = 2, /* send the buffer as one frame */
	DEVIO_BLK_READ = 3,  /* read len bytes (a multiple of 512) from the block device at byte offset size * 512 */
	DEVIO_BLK_WRITE = 4, /* write them */
};

/* One guest event. Addresses are guest-virtual (GVA); sizes in bytes. */
struct guest_event {
	enum guest_event_kind kind;
	uint32_t size;  /* access size in bytes (memory events) */
	uint64_t gva;   /* address (memory events), start (mmap/munmap), new break (brk) */
	uint64_t len;   /* length in bytes (mmap/munmap) */
	uint32_t pid;   /* process the event belongs to (0 if the source has none) */
	uint32_t arg;   /* mmap: PROT_* bits | GEV_MMAP_HUGEPAGE; proc create: 1 = thread (shares the address space) */
};

/* mmap arg flags beside the PROT_* bits:
 *  - GEV_MMAP_ANON: an anonymous mapping (MAP_ANONYMOUS), the only kind
 *    Linux gives transparent huge pages at fault time; the lackey reader
 *    sets it from sys_mmap's flags argument (mremap results carry none:
 *    lackey logs do not say what was moved);
 *  - GEV_MMAP_HUGEPAGE: the program marked the region for transparent huge
 *    pages (madvise(MADV_HUGEPAGE), which guest.thp=madvise honours).
 *    Lackey logs carry no madvise calls, so their reader never sets it. */
#define GEV_MMAP_ANON (UINT32_C(1) << 30)
#define GEV_MMAP_HUGEPAGE (UINT32_C(1) << 31)
/* GEV_MMAP of a device's registers (as mmap of a PCI BAR's sysfs resource
 * file or of /dev/uioN): [gva, gva + len) maps BAR 0 of device number size
 * (0 = the NIC, 1 = the NVMe controller) from its start, uncached. */
#define GEV_MMAP_DEVICE (UINT32_C(1) << 29)

/*
 * Events a source has decoded and not handed out yet, which a consumer may
 * take without a call per event (see frontend_next). The source owns it:
 * its next() hands out ev[i] first while i < n (so a consumer that only
 * calls next() reads the same stream), refills the batch when it is used
 * up, and reads i to know which event went out last.
 * Taking an event stores self in *mark, so a source with several streams
 * (a multi-process .vtt) knows which stream handed out the last event
 * even when no call of its own was made (error locations).
 */
struct guest_event_batch {
	const struct guest_event *ev; /* ev[i], ..., ev[n - 1] are the stream's next events */
	size_t i, n;
	const void **mark;            /* never NULL */
	const void *self;
};

/* A source of guest events (trace reader, in-memory array, the Unicorn
 * front end's per-process streams). */
struct frontend {
	/* 1 = event, 0 = end of stream, -1 = error (one-line message in err, 512 bytes) */
	int (*next)(void *ctx, struct guest_event *ev, char *err);
	void *ctx;
	/* NULL, or the source's batch; next() alone is always a correct way to
	 * read, the batch only saves the call. Consumers that take from it
	 * zero the struct before a proc_source open fills it (a source that
	 * has no batch may leave the field as it was). */
	struct guest_event_batch *batch;
};

/* The next event of fe, as fe->next gives it: from its batch while that
 * holds events, else through next(), which refills the batch. */
static inline int frontend_next(const struct frontend *fe, struct guest_event *ev, char *err)
{
	struct guest_event_batch *b = fe->batch;

	if (b) {
		size_t i = b->i;

		if (i < b->n) {
			const struct guest_event *e = b->ev + i;

			b->i = i + 1;
			*ev = *e;
			*b->mark = b->self;
			return 1;
		}
	}
	return fe->next(fe->ctx, ev, err);
}

#endif
