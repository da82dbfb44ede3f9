/* Notes: a plain binary heap keyed by (cycle, seq). */
#include "cpu/evq.h"

#include <stdbool.h>
#include <stdlib.h>

static bool before(const struct timed_event *a, const struct timed_event *b)
{
	return a->cycle < b->cycle || (a->cycle == b->cycle && a->seq < b->seq);
}

void evq_init(struct evq *q)
{
	q->h = NULL;
	q->n = q->cap = 0;
	q->seq = 0;
}

void evq_destroy(struct evq *q)
{
	free(q->h);
	evq_init(q);
}

int evq_push(struct evq *q, uint64_t cycle, enum timed_event_kind kind, uint64_t data)
{
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 16;
		struct timed_event *h = realloc(q->h, cap * sizeof(*h));
		if (!h)
			return -1;
		q->h = h;
		q->cap = cap;
	}
	size_t i = q->n++;
	struct timed_event ev = {cycle, q->seq++, kind, data};
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!before(&ev, &q->h[parent]))
			break;
		q->h[i] = q->h[parent];
		i = parent;
	}
	q->h[i] = ev;
	return 0;
}

int evq_pop(struct evq *q, struct timed_event *out)
{
	if (!q->n)
		return -1;
	*out = q->h[0];
	struct timed_event last = q->h[--q->n];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		const struct timed_event *best = &last;
		if (l < q->n && before(&q->h[l], best)) {
			m = l;
			best = &q->h[l];
		}
		if (r < q->n && before(&q->h[r], best))
			m = r;
		if (m == i)
			break;
		q->h[i] = q->h[m];
		i = m;
	}
	if (q->n)
		q->h[i] = last;
	return 0;
}
