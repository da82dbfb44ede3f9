/*
 * Lab setup files: small guest page tables, access sequences and device
 * set-ups written by hand, for the teaching labs (labs/) and anyone who
 * wants `vtsim explain` or `vtsim run` on a layout of their own. The
 * format is line-oriented text, documented in docs/lab-format.md:
 *
 *   vtsim-setup 1                         the first line that is not a comment
 *   map GVA GPA SIZE FLAG...              a guest mapping (SIZE 4k, 2m or 1g;
 *                                         flags rw|ro, user|super, nx, A, D)
 *   read GVA [BYTES] | write GVA [BYTES] | fetch GVA    one access (run)
 *   cpuid [LEAF]                          a CPUID instruction (run; it exits)
 *   domain N                              a VT-d domain the driver allocates
 *   iomap N IOVA HPA SIZE r|w|rw          a second-level mapping of domain N
 *   device BB:DD.F N [FIELD=V]...         a device attached to domain N; the
 *                                         fields (p, fpd, tt, aw, did) say how
 *                                         its context entry differs from the
 *                                         driver's
 *   dma BB:DD.F read|write IOVA           the request `explain dma` sends
 *
 * '#' starts a comment; numbers are hex with 0x or decimal. Every error is
 * one line "FILE:LINE: what is wrong" (setup_load). Who reads what:
 * `explain walk --tables` the maps; `explain dma --setup` the device
 * lines and the dma line; `run --trace` the maps (premapped by the guest
 * kernel at boot, 4 KiB pages only) and the accesses (the event stream).
 */
#ifndef VTSIM_CLI_SETUP_H
#define VTSIM_CLI_SETUP_H

#include <stdbool.h>
#include <stdint.h>

#include "trace/event.h"

#define SETUP_ERR_LEN 512
#define SETUP_MAGIC "vtsim-setup 1"
#define SETUP_MAX_MAPS 64
/* Mapped GPAs start here (1 GiB): below it `explain walk` puts the guest's
 * page tables and `run`'s guest kernel takes its own frames. */
#define SETUP_MIN_GPA UINT64_C(0x40000000)
#define SETUP_MAX_ACCESSES 4096
#define SETUP_MAX_DOMAINS 8
#define SETUP_MAX_IOMAPS 32
#define SETUP_MAX_DEVICES 16

/* One guest mapping: GVA -> GPA, a page of 2^shift bytes, leaf flags in
 * the x86-64 format (PTE_P always; PTE_RW, PTE_US, PTE_XD, PTE_A, PTE_D as
 * listed; PTE_PS is added by whoever writes a large leaf). */
struct setup_map {
	uint64_t gva, gpa;
	unsigned shift; /* 12, 21 or 30 */
	uint64_t flags;
	unsigned line;
};

/* A second-level mapping of a domain: IOVA -> HPA, bytes, VTD_SL_R/W. */
struct setup_iomap {
	unsigned domain; /* 1-based, as declared */
	uint64_t iova, hpa, bytes, prot;
	unsigned line;
};

/* A device attached to a domain, and its context entry as set up: each
 * field with its set_* flag differs from what the driver writes. */
struct setup_device {
	uint16_t sid;
	unsigned domain;
	bool set_p, set_fpd, set_tt, set_aw, set_did;
	unsigned p, fpd, tt, aw, did;
	unsigned line;
};

struct setup {
	char path[256];
	struct setup_map map[SETUP_MAX_MAPS];
	unsigned nmaps;
	struct guest_event *acc; /* the access sequence, in order (GEV_LOAD/STORE/FETCH/CPUID) */
	unsigned *acc_line;      /* the line of each access */
	unsigned nacc;
	unsigned ndomains;
	struct setup_iomap iomap[SETUP_MAX_IOMAPS];
	unsigned niomaps;
	struct setup_device dev[SETUP_MAX_DEVICES];
	unsigned ndevs;
	bool have_dma;           /* a dma line */
	uint16_t dma_sid;
	bool dma_write;
	uint64_t dma_iova;
	unsigned dma_line;
};

/* Does path start (after comments and blank lines) with SETUP_MAGIC? */
bool setup_sniff_file(const char *path);

/*
 * Read path into s (zeroed first). Returns 0, or -1 with "PATH:LINE: ..."
 * in err (SETUP_ERR_LEN): an unknown keyword, a bad number, a misaligned
 * or overlapping mapping, a domain or device out of order, an access the
 * mapping forbids (a write to a read-only page, a user access to a
 * supervisor page, a fetch from an nx page: the process would get
 * SIGSEGV). setup_free releases the access sequence.
 */
int setup_load(const char *path, struct setup *s, char *err);
void setup_free(struct setup *s);

/* The mapping covering gva, or NULL. */
const struct setup_map *setup_find_map(const struct setup *s, uint64_t gva);

#endif
