/* Notes: the table of runnable workloads and the image header reader. */
#include "frontend/workload.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define WL_MAGIC UINT64_C(0x31474d494c575456) /* "VTWLIMG1", workloads/guest.h */
#define WL_HEADER_BYTES 64

const struct workload workloads[] = {
	{"matmul", "dense n x n double matrix multiply; size = bytes of the 3 matrices (0: 96 KiB, n = 64), "
		   "iterations = multiplications (0: 2)",
	 false},
	{"pointer-chase", "dependent loads over a random cycle of one node per 4 KiB page; size = region bytes "
			  "(0: 64 MiB), iterations = loads (0: 200000)",
	 false},
	{"hash-lookup", "open-addressing hash table, half full; size = table bytes (0: 4 MiB), iterations = lookups "
			"(0: 200000)",
	 false},
	{"process-churn", "short-lived processes, 4 alive at a time, each touching every page of an mmap; "
			  "iterations = processes (0: 100), size = bytes each maps (0: 64 KiB)",
	 false},
	{"mmap-churn", "mmap, touch every page, munmap; iterations = rounds (0: 500), size = bytes per mapping "
		       "(0: 256 KiB)",
	 false},
	{"io-loop", "OUT 0x3f8 / IN 0x3fd per round, with a NIC also an MMIO store to its IMC and a load of its STATUS; "
		    "CPUID + HLT after every 16th; iterations = rounds (0: 1000)",
	 false},
	{"net-io", "per frame: receive it through the NIC driver, read every 64-byte line, send a 64-byte reply; "
		   "size = frame bytes (0: 8192), iterations = frames (0: 100), seed",
	 true},
	{"disk-read", "NVMe reads at seeded random 4 KiB-aligned offsets, touching each page read; size = bytes per "
		      "read (0: 16 KiB, a multiple of 512), iterations = reads (0: 100), seed",
	 true},
};
const size_t workload_count = sizeof(workloads) / sizeof(workloads[0]);

void workload_names(char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < workload_count && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", workloads[i].name);
}

const struct workload *workload_find(const char *name, char *err)
{
	for (size_t i = 0; i < workload_count; i++)
		if (!strcmp(workloads[i].name, name))
			return &workloads[i];
	char names[200];
	workload_names(names, sizeof(names));
	snprintf(err, 256, "unknown workload '%s'; available: %s", name, names);
	return NULL;
}

const struct workload_image *workload_image_find(const char *name)
{
	for (size_t i = 0; i < workload_image_count; i++)
		if (!strcmp(workload_images[i].name, name))
			return &workload_images[i];
	return NULL;
}

static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

int workload_header(const struct workload_image *img, struct workload_header *h, char *err)
{
	if (img->size < WL_HEADER_BYTES || le64(img->bytes) != WL_MAGIC) {
		snprintf(err, 256, "workload image %s: no VTWLIMG1 header (not built from workloads/link.ld?)", img->name);
		return -1;
	}
	h->load_addr = le64(img->bytes + 8);
	h->entry = le64(img->bytes + 16);
	h->child_entry = le64(img->bytes + 24);
	h->file_end = le64(img->bytes + 32);
	h->mem_end = le64(img->bytes + 40);
	h->final_hlt = le64(img->bytes + 48);
	if (h->file_end - h->load_addr != img->size || h->mem_end < h->file_end || h->entry < h->load_addr ||
	    h->entry >= h->file_end) {
		snprintf(err, 256,
			 "workload image %s: header says [0x%" PRIx64 ", 0x%" PRIx64 ") with entry 0x%" PRIx64
			 ", but the image has %zu bytes",
			 img->name, h->load_addr, h->file_end, h->entry, img->size);
		return -1;
	}
	return 0;
}
