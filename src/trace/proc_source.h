/*
 * A front end of several processes: one guest event stream per process
 * (struct frontend, src/trace/event.h), handed out as the guest OS creates
 * the processes. A trace set (src/trace/traceset.h) is one; tests build
 * their own from arrays of events.
 */
#ifndef VTSIM_TRACE_PROC_SOURCE_H
#define VTSIM_TRACE_PROC_SOURCE_H

#include <stdint.h>

#include "trace/event.h"

struct proc_source {
	/* The first process (created by no other process of the source). */
	uint32_t root;
	/*
	 * Open the event stream of process pid, which is being created now:
	 * the root at boot, any other at its parent's GEV_PROC_CREATE (or at a
	 * point the source itself chooses, through an event it synthesizes).
	 * Returns 0 with *fe filled (valid until close), 1 if the source has
	 * no stream for pid (the child was not traced; the guest leaves it
	 * out), or -1 with a one-line message in err (512 bytes).
	 */
	int (*open)(void *ctx, uint32_t pid, struct frontend *fe, char *err);
	/* The guest is done with pid's stream (the process has ended). */
	void (*close)(void *ctx, uint32_t pid);
	void *ctx;
};

#endif
