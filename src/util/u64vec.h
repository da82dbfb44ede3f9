/* A growable array of 64-bit values (frame free lists, page lists). */
#ifndef VTSIM_UTIL_U64VEC_H
#define VTSIM_UTIL_U64VEC_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

struct u64vec {
	uint64_t *v;
	size_t n, cap;
};

/* Append x; returns 0, or -1 if memory runs out (the vector is unchanged). */
static inline int u64vec_push(struct u64vec *a, uint64_t x)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		uint64_t *bigger = realloc(a->v, cap * sizeof(*bigger));
		if (!bigger)
			return -1;
		a->v = bigger;
		a->cap = cap;
	}
	a->v[a->n++] = x;
	return 0;
}

static inline void u64vec_free(struct u64vec *a)
{
	free(a->v);
	a->v = NULL;
	a->n = a->cap = 0;
}

#endif
