/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What one vCPU holds: its allocations, oldest first, and optionally
 * their grouping into jobs.
 *
 * A job is a group of allocations made one after the other and freed
 * together, oldest job first, like the processes of a build: a compiler
 * allocates while it runs and gives everything back when it exits. The
 * newest job takes new allocations until it reaches its size; ending the
 * oldest job marks all of its allocations for freeing (held_pop_oldest()
 * then returns them one by one).
 *
 * A set is used either with jobs (held_start_job(), held_push(),
 * held_end_oldest_job(), held_pop_oldest()) or without them (held_push()
 * without ever starting a job, held_remove() at any index). Pure: no
 * I/O, no locking; one thread uses a set.
 */
#ifndef SG_HELD_H
#define SG_HELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct held_alloc {
	uint64_t frame; /* relative to the region's base frame */
	uint64_t tag; /* unique per allocation: part of its canaries */
	unsigned order;
	bool damaged; /* canaries found lost (counted once) */
};

struct held_job {
	size_t count; /* allocations still held */
	uint64_t bytes; /* their size */
	uint64_t size; /* bytes the job grows to */
};

struct held {
	struct held_alloc *a; /* live: a[first .. first + n), oldest first */
	size_t first, n, cap;
	uint64_t bytes; /* of all live allocations */
	struct held_job *jobs; /* jobs[jfirst .. jfirst + njobs) */
	size_t jfirst, njobs, jcap;
	bool ending; /* the oldest job is being freed */
};

/* Bytes of an allocation of @order. */
uint64_t held_alloc_bytes(unsigned order);

/* The @i-th live allocation, oldest first (@i < h->n). */
static inline struct held_alloc *held_at(struct held *h, size_t i)
{
	return &h->a[h->first + i];
}

/*
 * Whether the newest job takes allocations: there is one, it is below
 * its size and it is not ending.
 */
bool held_job_open(const struct held *h);

/* Start a new newest job of @size bytes. Returns 0 or -ENOMEM. */
int held_start_job(struct held *h, uint64_t size);

/*
 * Append @a, to the newest job if there is one. Returns 0 or -ENOMEM
 * (nothing changed).
 */
int held_push(struct held *h, const struct held_alloc *a);

/*
 * Mark the oldest job as ending: its allocations are the next ones
 * held_pop_oldest() returns. Returns the bytes it holds, 0 when no job
 * holds anything or the oldest one is ending already.
 */
uint64_t held_end_oldest_job(struct held *h);

/*
 * Remove the oldest allocation into *@ret (h->n > 0); with jobs, it
 * leaves its job, and a job left empty is gone.
 */
void held_pop_oldest(struct held *h, struct held_alloc *ret);

/* Remove the @i-th allocation into *@ret, the newest taking its place
 * (sets without jobs only). */
void held_remove(struct held *h, size_t i, struct held_alloc *ret);

/* Free the arrays (NULL allowed); the set is empty afterwards. */
void held_destroy(struct held *h);

#endif
