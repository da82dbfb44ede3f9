/*
 * The guest programs vtsim can run execution-driven (workloads/, guest ABI
 * in workloads/guest.h, docs/workloads.md): flat x86-64 images built with
 * the host compiler and embedded into the program at build time.
 */
#ifndef VTSIM_FRONTEND_WORKLOAD_H
#define VTSIM_FRONTEND_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One embedded flat image (generated: src/frontend/workload_images.c). */
struct workload_image {
	const char *name;           /* "matmul", ..., "kvm-io" */
	const unsigned char *bytes; /* the image, starting with struct wl_header */
	size_t size;                /* bytes */
};

extern const struct workload_image workload_images[];
extern const size_t workload_image_count;

/* A workload that `vtsim run/compare --workload NAME` runs. */
struct workload {
	const char *name;    /* as on the command line */
	const char *summary; /* one line: what it does and what size/iterations mean */
	bool needs_devices;  /* drives the NIC or the NVMe controller: runs only with io.path set */
};

/* The runnable workloads, in the order `vtsim workloads` lists them. */
extern const struct workload workloads[];
extern const size_t workload_count;

/* The workload called name, or NULL with a one-line message in err (256
 * bytes) listing the available names. */
const struct workload *workload_find(const char *name, char *err);

/* The names of the runnable workloads as "matmul, pointer-chase, ..." into buf. */
void workload_names(char *buf, size_t len);

/* The embedded image called name ("kvm-io": the bare-metal I/O-loop
 * variant), or NULL. */
const struct workload_image *workload_image_find(const char *name);

/*
 * The header at the start of an image (all fields little-endian u64;
 * workloads/guest.h struct wl_header). workload_header checks the magic,
 * that the image fits below mem_end and starts at load_addr. Returns 0, or
 * -1 with a one-line message in err (256 bytes).
 */
struct workload_header {
	uint64_t load_addr, entry, child_entry, file_end, mem_end, final_hlt;
};
int workload_header(const struct workload_image *img, struct workload_header *h, char *err);

#endif
