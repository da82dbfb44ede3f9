/*
 * A front end over events held in memory: tests feed hand-made streams
 * through it, and the benchmark measures the simulator without the cost
 * of decompressing and parsing a trace.
 */
#ifndef VTSIM_TRACE_EVENT_ARRAY_H
#define VTSIM_TRACE_EVENT_ARRAY_H

#include <stddef.h>

#include "trace/event.h"

struct event_array {
	struct guest_event *ev;
	size_t n;   /* events held */
	size_t i;   /* next to hand out */
	size_t cap; /* allocated (0 for a borrowed array) */
};

/* A cursor over a borrowed array of n events. */
static inline struct event_array event_array_of(const struct guest_event *ev, size_t n)
{
	struct event_array a = {(struct guest_event *)ev, n, 0, 0};
	return a;
}

/* Append a copy of *ev (owned arrays only); 0, or -1 if memory runs out. */
int event_array_push(struct event_array *a, const struct guest_event *ev);
/* Front-end callback (struct frontend in src/trace/event.h): 1 event, 0 at the end. */
int event_array_next(void *ctx, struct guest_event *ev, char *err);
/* Free an owned array. */
void event_array_free(struct event_array *a);

#endif
