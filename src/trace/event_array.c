/* Notes: a plain growable array; never fails once filled. */
#include "trace/event_array.h"

#include <stdlib.h>

int event_array_push(struct event_array *a, const struct guest_event *ev)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 4096;
		struct guest_event *bigger = realloc(a->ev, cap * sizeof(*bigger));
		if (!bigger)
			return -1;
		a->ev = bigger;
		a->cap = cap;
	}
	a->ev[a->n++] = *ev;
	return 0;
}

int event_array_next(void *ctx, struct guest_event *ev, char *err)
{
	(void)err;
	struct event_array *a = ctx;
	if (a->i == a->n)
		return 0;
	*ev = a->ev[a->i++];
	return 1;
}

void event_array_free(struct event_array *a)
{
	if (a->cap)
		free(a->ev);
	a->ev = NULL;
	a->n = a->i = a->cap = 0;
}
