/*
 * The discrete-event queue: timed events ordered by cycle (binary min-heap;
 * equal cycles leave in insertion order). Timer ticks now; device
 * completions and interrupts in later issues.
 */
#ifndef VTSIM_CPU_EVQ_H
#define VTSIM_CPU_EVQ_H

#include <stddef.h>
#include <stdint.h>

enum timed_event_kind {
	TEV_TIMER_TICK = 0, /* the guest's periodic timer interrupt */
	TEV_CALLBACK,       /* a hardware callback (cpu_callback_in): data = its index */
	TEV_HOST_TIMER,     /* the host's one-shot timer a VMM armed: data = the vector it raises */
};

struct timed_event {
	uint64_t cycle;   /* when it is due (core cycles) */
	uint64_t seq;     /* insertion order, breaks ties */
	enum timed_event_kind kind;
	uint64_t data;
};

struct evq {
	struct timed_event *h;
	size_t n, cap;
	uint64_t seq;
};

void evq_init(struct evq *q);
void evq_destroy(struct evq *q);
/* Returns 0, or -1 if memory runs out. */
int evq_push(struct evq *q, uint64_t cycle, enum timed_event_kind kind, uint64_t data);
/* Earliest event, or NULL if empty. */
static inline const struct timed_event *evq_peek(const struct evq *q)
{
	return q->n ? &q->h[0] : NULL;
}
/* Remove the earliest event into *out; returns 0, or -1 if empty. */
int evq_pop(struct evq *q, struct timed_event *out);

#endif
