// SPDX-License-Identifier: GPL-2.0-or-later
#include "held.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ha_types.h"

#define MIN_CAP 1024

uint64_t held_alloc_bytes(unsigned order)
{
	return (uint64_t)HA_FRAME_SIZE << order;
}

/*
 * Make room for one more element at the end of a[first .. first + n):
 * move the live elements to the front when at least half of the array
 * lies before them, else double it. Returns 0 or -ENOMEM.
 */
static int make_room(void **arr, size_t *first, size_t n, size_t *cap,
		     size_t elem)
{
	size_t ncap;
	void *p;

	if (*first + n < *cap)
		return 0;
	if (*first && *first >= *cap / 2) {
		memmove(*arr, (char *)*arr + *first * elem, n * elem);
		*first = 0;
		return 0;
	}
	ncap = *cap ? *cap * 2 : MIN_CAP;
	p = realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static struct held_job *newest(struct held *h)
{
	return h->njobs ? &h->jobs[h->jfirst + h->njobs - 1] : NULL;
}

bool held_job_open(const struct held *h)
{
	const struct held_job *j;

	if (!h->njobs)
		return false;
	j = &h->jobs[h->jfirst + h->njobs - 1];
	return j->bytes < j->size && !(h->njobs == 1 && h->ending);
}

int held_start_job(struct held *h, uint64_t size)
{
	void *p = h->jobs;
	int r;

	r = make_room(&p, &h->jfirst, h->njobs, &h->jcap, sizeof(*h->jobs));
	h->jobs = p;
	if (r < 0)
		return r;
	h->jobs[h->jfirst + h->njobs++] =
		(struct held_job){ .count = 0, .bytes = 0, .size = size };
	return 0;
}

int held_push(struct held *h, const struct held_alloc *a)
{
	uint64_t bytes = held_alloc_bytes(a->order);
	struct held_job *j;
	void *p = h->a;
	int r;

	r = make_room(&p, &h->first, h->n, &h->cap, sizeof(*h->a));
	h->a = p;
	if (r < 0)
		return r;
	h->a[h->first + h->n++] = *a;
	h->bytes += bytes;
	j = newest(h);
	if (j) {
		j->count++;
		j->bytes += bytes;
	}
	return 0;
}

uint64_t held_end_oldest_job(struct held *h)
{
	struct held_job *j;

	if (!h->njobs || h->ending)
		return 0;
	j = &h->jobs[h->jfirst];
	if (!j->count)
		return 0;
	h->ending = true;
	return j->bytes;
}

void held_pop_oldest(struct held *h, struct held_alloc *ret)
{
	uint64_t bytes;

	*ret = h->a[h->first];
	bytes = held_alloc_bytes(ret->order);
	h->first++;
	h->n--;
	if (!h->n)
		h->first = 0;
	h->bytes -= bytes;
	if (h->njobs) {
		struct held_job *j = &h->jobs[h->jfirst];

		j->count--;
		j->bytes -= bytes;
		if (!j->count) {
			h->jfirst++;
			h->njobs--;
			h->ending = false;
			if (!h->njobs)
				h->jfirst = 0;
		}
	}
}

void held_remove(struct held *h, size_t i, struct held_alloc *ret)
{
	*ret = h->a[h->first + i];
	h->a[h->first + i] = h->a[h->first + --h->n];
	h->bytes -= held_alloc_bytes(ret->order);
}

void held_destroy(struct held *h)
{
	if (!h)
		return;
	free(h->a);
	free(h->jobs);
	memset(h, 0, sizeof(*h));
}
