/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test fixture for the guest suites (test_guest, test_guest_reclaimed,
 * test_guest_concurrency): a guest over freshly allocated metadata, plus
 * a record of which frames the test holds so that every handed-out frame
 * can be checked against it, and a small seedable generator for the
 * tests' random choices.
 */
#ifndef HA_TEST_GUEST_FIXTURE_H
#define HA_TEST_GUEST_FIXTURE_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>

#include "fixture_util.h"
#include "ha_guest.h"

#define GFIX_BASE_FRAME (1ull << 20) /* 4 GiB: any 4 MiB aligned base */

static inline uint64_t gfix_rng_next(uint64_t *s)
{
	/* splitmix64: tiny, seedable, good enough for test choices */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A number in 0..@n - 1. */
static inline unsigned gfix_rng_below(uint64_t *s, unsigned n)
{
	return (unsigned)(gfix_rng_next(s) % n);
}

struct gfix {
	struct ha_guest g;
	unsigned char *meta;
	uint64_t meta_len;
	struct ha_local *local;
	unsigned cores;
	uint64_t frames;
	uint8_t *held; /* per frame: 1 while the test holds it */
	uint64_t nheld; /* frames held */
};

/* A held allocation, for tests that free in a different order. */
struct gfix_held {
	ha_frame_t frame;
	unsigned order;
	unsigned core;
};

/* Zeroed metadata for @frames frames and private state for @cores CPUs,
 * no frame held; the guest is not initialised. */
void gfix_alloc(struct gfix *f, uint64_t frames, unsigned cores);

/* gfix_alloc(), then ha_guest_init() in @mode at GFIX_BASE_FRAME, which
 * must return HA_OK. */
void gfix_init(struct gfix *f, uint64_t frames, unsigned cores,
	       enum ha_init_mode mode);

/* Free everything gfix_alloc() allocated. */
void gfix_fini(struct gfix *f);

/* Record that the test now holds (@hold) or gave back the 2^@order
 * frames at @fr; fails the test if any of them already was (or was not)
 * held. */
void gfix_mark(struct gfix *f, ha_frame_t fr, unsigned order, bool hold);

/* ha_guest_get() that must succeed; checks alignment, range, overlap and
 * the exact free counter. Without @ret_reclaimed the frame must not be
 * reclaimed (the test set no reclaimed bit). Returns the frame. */
ha_frame_t gfix_get_ok(struct gfix *f, unsigned core, unsigned order,
		       unsigned flags, bool *ret_reclaimed);

/* ha_guest_put() that must succeed, with the exact free counter. */
void gfix_put_ok(struct gfix *f, unsigned core, ha_frame_t fr, unsigned order);

/* ha_guest_get() and ha_guest_put() that must return @want and leave the
 * free counter alone. */
void gfix_assert_get_fails(struct gfix *f, unsigned core, unsigned order,
			   int want);
void gfix_assert_put_fails(struct gfix *f, uint64_t frame, unsigned order,
			   int want);

/* The tree @fr lies in. */
uint64_t gfix_tree_of(ha_frame_t fr);

/* Put the @n allocations of @a in a random order. */
void gfix_shuffle(struct gfix_held *a, uint64_t n, uint64_t *seed);

#endif
