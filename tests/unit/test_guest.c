// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the guest side: ha_guest_init() in its three modes,
 * ha_guest_get()/ha_guest_put() for every order, kinds, per-CPU
 * reservations, the reclaimed flag and a multi-threaded smoke test.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ha_guest.h"
#include "ha_host.h"
#include "ha_validate.h"

#define BASE_FRAME (1ull << 20) /* 4 GiB: any 4 MiB aligned base */

/*
 * ck_assert*() records its location on every call (a message to the parent
 * process in fork mode), which dominates loops over thousands of frames.
 * Those loops use these, which only report failures.
 */
#define CHECK(expr)                                                        \
	do {                                                               \
		if (!(expr))                                               \
			ck_abort_msg("Assertion '%s' failed", #expr);     \
	} while (0)
#define CHECK_MSG(expr, ...)                                               \
	do {                                                               \
		if (!(expr))                                               \
			ck_abort_msg(__VA_ARGS__);                         \
	} while (0)

/* ---- helpers ---- */

static inline uint64_t rng_next(uint64_t *s)
{
	/* splitmix64: tiny, seedable, good enough for test choices */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline unsigned rng_below(uint64_t *s, unsigned n)
{
	return (unsigned)(rng_next(s) % n);
}

/* A guest over freshly allocated metadata, plus a record of which frames
 * the test holds so every handed-out frame can be checked against it. */
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

static void *zalloc_aligned(uint64_t len)
{
	uint64_t rounded = (len + 63) / 64 * 64;
	void *p = aligned_alloc(64, rounded);

	ck_assert_ptr_nonnull(p);
	memset(p, 0, rounded);
	return p;
}

static void fix_alloc(struct gfix *f, uint64_t frames, unsigned cores)
{
	memset(f, 0, sizeof(*f));
	f->frames = frames;
	f->cores = cores;
	f->meta_len = ha_meta_size(frames);
	ck_assert_uint_gt(f->meta_len, 0);
	f->meta = zalloc_aligned(f->meta_len);
	f->local = zalloc_aligned(ha_local_size(cores));
	f->held = calloc(frames, 1);
	ck_assert_ptr_nonnull(f->held);
}

static void fix_init(struct gfix *f, uint64_t frames, unsigned cores,
		     enum ha_init_mode mode)
{
	fix_alloc(f, frames, cores);
	ck_assert_int_eq(ha_guest_init(&f->g, f->meta, f->meta_len, f->local,
				       cores, BASE_FRAME, frames, mode),
			 HA_OK);
}

static void fix_fini(struct gfix *f)
{
	free(f->meta);
	free(f->local);
	free(f->held);
}

static void mark(struct gfix *f, ha_frame_t fr, unsigned order, bool hold)
{
	for (uint64_t i = 0; i < (1ull << order); i++) {
		CHECK_MSG(f->held[fr.v + i] == !hold,
			  "frame %llu (order %u at %llu) %s",
			  (unsigned long long)(fr.v + i), order,
			  (unsigned long long)fr.v,
			  hold ? "handed out twice" : "not held");
		f->held[fr.v + i] = hold;
	}
	if (hold)
		f->nheld += 1ull << order;
	else
		f->nheld -= 1ull << order;
}

/* ha_guest_get() that must succeed; checks alignment, range, overlap and
 * the exact free counter. Without @ret_reclaimed the frame must not be
 * reclaimed (the test set no reclaimed bit). */
static ha_frame_t get_ok(struct gfix *f, unsigned core, unsigned order,
			 unsigned flags, bool *ret_reclaimed)
{
	uint64_t before = ha_guest_free_frames(&f->g);
	ha_frame_t fr = { UINT64_MAX };
	bool rec = true;
	int r = ha_guest_get(&f->g, core, order, flags, &fr, &rec);

	CHECK_MSG(r == HA_OK, "get order %u core %u: %s", order, core,
		  ha_strerror(r));
	CHECK(fr.v % (1ull << order) == 0);
	CHECK(fr.v + (1ull << order) <= f->frames);
	mark(f, fr, order, true);
	CHECK(ha_guest_free_frames(&f->g) == before - (1ull << order));
	if (ret_reclaimed)
		*ret_reclaimed = rec;
	else
		CHECK(!rec);
	return fr;
}

static void put_ok(struct gfix *f, unsigned core, ha_frame_t fr,
		   unsigned order)
{
	uint64_t before = ha_guest_free_frames(&f->g);
	int r = ha_guest_put(&f->g, core, fr, order);

	CHECK_MSG(r == HA_OK, "put order %u at %llu: %s", order,
		  (unsigned long long)fr.v, ha_strerror(r));
	mark(f, fr, order, false);
	CHECK(ha_guest_free_frames(&f->g) == before + (1ull << order));
}

static void assert_get_fails(struct gfix *f, unsigned core, unsigned order,
			     int want)
{
	uint64_t before = ha_guest_free_frames(&f->g);
	ha_frame_t fr;
	bool rec;

	ck_assert_int_eq(ha_guest_get(&f->g, core, order, 0, &fr, &rec),
			 want);
	ck_assert_uint_eq(ha_guest_free_frames(&f->g), before);
}

static void assert_put_fails(struct gfix *f, uint64_t frame, unsigned order,
			     int want)
{
	uint64_t before = ha_guest_free_frames(&f->g);

	ck_assert_int_eq(ha_guest_put(&f->g, 0, ha_frame(frame), order), want);
	ck_assert_uint_eq(ha_guest_free_frames(&f->g), before);
}

static uint64_t tree_of(ha_frame_t fr)
{
	return fr.v / HA_TREE_FRAMES;
}

static uint64_t children_of(const struct gfix *f)
{
	return f->frames / HA_CHILD_FRAMES;
}

/* Sum of the free counters of tree @t's children. */
static unsigned child_sum(const struct gfix *f, uint64_t t)
{
	unsigned sum = 0;

	for (uint64_t c = t * HA_TREE_CHILDREN;
	     c < (t + 1) * HA_TREE_CHILDREN && c < children_of(f); c++)
		sum += ha_child_free(f->g.children[c]);
	return sum;
}

/* A held allocation, for tests that free in a different order. */
struct alloc {
	ha_frame_t frame;
	unsigned order;
	unsigned core;
};

static void shuffle(struct alloc *a, uint64_t n, uint64_t *seed)
{
	for (uint64_t i = n; i > 1; i--) {
		uint64_t j = rng_next(seed) % i;
		struct alloc t = a[i - 1];

		a[i - 1] = a[j];
		a[j] = t;
	}
}

/* ---- init ---- */

START_TEST(test_init_free)
{
	struct gfix f;
	struct ha_layout got;
	struct ha_bad bad;
	uint64_t frames = 45 * 512; /* 5 full trees and one of 5 children */

	fix_init(&f, frames, 2, HA_INIT_FREE);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), frames);
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), 45);
	for (uint64_t c = 0; c < 48; c++) {
		ha_child_word w = f.g.children[c];

		if (c < 45)
			ck_assert_uint_eq(w, ha_child_make(512, false, false));
		else /* padding slots of the last tree look allocated */
			ck_assert_uint_eq(w, HA_CHILD_PADDING);
	}
	for (uint64_t t = 0; t < 6; t++) {
		ck_assert_uint_eq(ha_tree_free(f.g.trees[t]),
				  t < 5 ? 4096 : 5 * 512);
		ck_assert(!ha_tree_reserved(f.g.trees[t]));
	}
	for (uint64_t c = 0; c < 45; c++) {
		ck_assert(!ha_guest_is_reclaimed(&f.g, ha_huge(c)));
		for (unsigned r = 0; r < HA_BITFIELD_ROWS; r++)
			ck_assert_uint_eq(f.g.bitfields[c].rows[r], 0);
	}
	/* The region describes itself: a host can validate it. */
	ck_assert_int_eq(ha_validate_header(f.meta, f.meta_len, &got, &bad),
			 HA_OK);
	ck_assert_uint_eq(got.frames, frames);
	ck_assert_uint_eq(f.g.hdr->base_frame, BASE_FRAME);
	ck_assert_uint_eq(ha_local_size(3), 3 * sizeof(struct ha_local));
	fix_fini(&f);
}
END_TEST

/* A booting kernel starts from "everything allocated" and frees the
 * memory it can use in blocks of any order, huge and order-10 ones
 * included. */
START_TEST(test_init_allocated)
{
	struct gfix f;
	uint64_t frames = 16 * 512;
	uint64_t freed = 0;

	fix_init(&f, frames, 2, HA_INIT_ALLOCATED);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 0);
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), 0);
	for (unsigned o = 0; o <= HA_MAX_ORDER; o++)
		assert_get_fails(&f, 0, o, HA_ENOMEM);
	/* The test "holds" every frame, as the booting kernel does. */
	memset(f.held, 1, frames);
	f.nheld = frames;

	/* child 0 in 4 KiB frames */
	for (uint64_t i = 0; i < 512; i++)
		put_ok(&f, 0, ha_frame(i), 0);
	freed += 512;
	/* child 1 as one huge frame */
	put_ok(&f, 1, ha_frame(512), HA_HUGE_ORDER);
	/* children 2 and 3 as one order-10 block */
	put_ok(&f, 0, ha_frame(1024), HA_MAX_ORDER);
	/* child 4 in descending orders 8..0, plus the last frame */
	for (unsigned o = 8, off = 0;; o--) {
		put_ok(&f, 1, ha_frame(2048 + off), o);
		off += 1u << o;
		if (o == 0) {
			put_ok(&f, 1, ha_frame(2048 + off), 0);
			break;
		}
	}
	freed += 4 * 512;
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), freed);
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), 5);
	/* Freed memory is allocatable, nothing else is. */
	ha_frame_t h = get_ok(&f, 0, HA_MAX_ORDER, 0, NULL);

	ck_assert(h.v == 0 || h.v == 1024); /* children 0-1 or 2-3 */
	while (f.nheld < frames)
		get_ok(&f, 1, 0, 0, NULL);
	assert_get_fails(&f, 1, 0, HA_ENOMEM);
	assert_get_fails(&f, 0, 0, HA_ENOMEM);
	fix_fini(&f);
}
END_TEST

START_TEST(test_init_bad_args)
{
	struct gfix f;
	uint64_t frames = 8 * 512;
	struct ha_guest *g = &f.g;

	fix_alloc(&f, frames, 1);
	ck_assert_int_eq(ha_guest_init(g, NULL, f.meta_len, f.local, 1,
				       BASE_FRAME, frames, HA_INIT_FREE),
			 HA_EINVAL);
	ck_assert_int_eq(ha_guest_init(g, f.meta, f.meta_len, NULL, 1,
				       BASE_FRAME, frames, HA_INIT_FREE),
			 HA_EINVAL);
	ck_assert_int_eq(ha_guest_init(g, f.meta, f.meta_len, f.local, 0,
				       BASE_FRAME, frames, HA_INIT_FREE),
			 HA_EINVAL);
	ck_assert_int_eq(ha_guest_init(g, f.meta + 8, f.meta_len - 64,
				       f.local, 1, BASE_FRAME, 512,
				       HA_INIT_FREE),
			 HA_EINVAL);
	ck_assert_int_eq(ha_guest_init(g, f.meta, f.meta_len, f.local, 1,
				       BASE_FRAME + 512, frames, HA_INIT_FREE),
			 HA_EINVAL);
	ck_assert_int_eq(ha_guest_init(g, f.meta, f.meta_len, f.local, 1,
				       BASE_FRAME, 0, HA_INIT_FREE),
			 HA_EINVAL);
	ck_assert_int_eq(ha_guest_init(g, f.meta, f.meta_len, f.local, 1,
				       BASE_FRAME, frames + 1, HA_INIT_FREE),
			 HA_EINVAL);
	ck_assert_int_eq(ha_guest_init(g, f.meta, f.meta_len - 1, f.local, 1,
				       BASE_FRAME, frames, HA_INIT_FREE),
			 HA_EINVAL);
	/* Nothing was written by the rejected calls. */
	for (uint64_t i = 0; i < f.meta_len; i++)
		ck_assert_uint_eq(f.meta[i], 0);
	fix_fini(&f);
}
END_TEST

/* A guest that restarts (kexec, crash) attaches to its region: what it
 * held stays allocated, what its CPUs had reserved is free again. */
START_TEST(test_init_attach)
{
	struct gfix f;
	uint64_t frames = 24 * 512;
	struct alloc held[64];
	unsigned nheld = 0;
	uint64_t seed = 1;

	fix_init(&f, frames, 2, HA_INIT_FREE);
	for (unsigned i = 0; i < 40; i++) {
		unsigned order = rng_below(&seed, 11);
		unsigned core = i % 2;

		held[nheld].frame = get_ok(&f, core, order, 0, NULL);
		held[nheld].order = order;
		held[nheld++].core = core;
		if (f.nheld > frames / 2)
			break;
	}
	/* Some tree is reserved by a CPU now. */
	bool any_reserved = false;

	for (uint64_t t = 0; t < 3; t++)
		any_reserved |= ha_tree_reserved(f.g.trees[t]);
	ck_assert(any_reserved);

	/* New private state, full of garbage: attach must reset it. */
	memset(f.local, 0xff, ha_local_size(2));
	ck_assert_int_eq(ha_guest_init(&f.g, f.meta, f.meta_len, f.local, 2,
				       BASE_FRAME, frames, HA_INIT_ATTACH),
			 HA_OK);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), frames - f.nheld);
	for (uint64_t t = 0; t < 3; t++) {
		ck_assert(!ha_tree_reserved(f.g.trees[t]));
		ck_assert_uint_eq(ha_tree_free(f.g.trees[t]), child_sum(&f, t));
	}
	/* Held frames are still allocated: new gets avoid them (get_ok
	 * checks) and each can be freed exactly once. */
	for (unsigned i = 0; i < 8; i++)
		get_ok(&f, 1, 0, 0, NULL);
	for (unsigned i = 0; i < nheld; i++) {
		put_ok(&f, 0, held[i].frame, held[i].order);
		ck_assert_int_eq(ha_guest_put(&f.g, 0, held[i].frame,
					      held[i].order),
				 HA_EFAULT);
	}
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), frames - 8);
	fix_fini(&f);
}
END_TEST

START_TEST(test_init_attach_rejects)
{
	struct gfix f;
	uint64_t frames = 16 * 512;
	struct ha_header saved;

	fix_alloc(&f, frames, 1);
	/* All-zero memory is no region. */
	ck_assert_int_eq(ha_guest_init(&f.g, f.meta, f.meta_len, f.local, 1,
				       BASE_FRAME, frames, HA_INIT_ATTACH),
			 HA_EBADMSG);
	ck_assert_int_eq(ha_guest_init(&f.g, f.meta, f.meta_len, f.local, 1,
				       BASE_FRAME, frames, HA_INIT_FREE),
			 HA_OK);
	memcpy(&saved, f.meta, sizeof(saved));

	/* corrupt header */
	f.g.hdr->magic ^= 1;
	ck_assert_int_eq(ha_guest_init(&f.g, f.meta, f.meta_len, f.local, 1,
				       BASE_FRAME, frames, HA_INIT_ATTACH),
			 HA_EBADMSG);
	memcpy(f.meta, &saved, sizeof(saved));
	((struct ha_header *)(void *)f.meta)->children_offset += 64;
	ck_assert_int_eq(ha_guest_init(&f.g, f.meta, f.meta_len, f.local, 1,
				       BASE_FRAME, frames, HA_INIT_ATTACH),
			 HA_EBADMSG);
	memcpy(f.meta, &saved, sizeof(saved));

	/* a region for other frames or another base */
	ck_assert_int_eq(ha_guest_init(&f.g, f.meta, f.meta_len, f.local, 1,
				       BASE_FRAME, frames - 512,
				       HA_INIT_ATTACH),
			 HA_EINVAL);
	ck_assert_int_eq(ha_guest_init(&f.g, f.meta, f.meta_len, f.local, 1,
				       BASE_FRAME + 1024, frames,
				       HA_INIT_ATTACH),
			 HA_EINVAL);
	/* The region was left alone: it still attaches. */
	ck_assert_int_eq(ha_guest_init(&f.g, f.meta, f.meta_len, f.local, 1,
				       BASE_FRAME, frames, HA_INIT_ATTACH),
			 HA_OK);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), frames);
	fix_fini(&f);
}
END_TEST

/* ---- get ---- */

/* 20 children: trees of 8, 8 and 4 children, 10 order-10 pairs. */
#define GET_FRAMES (20 * 512ull)

START_TEST(test_get_order)
{
	unsigned order = (unsigned)_i;
	uint64_t n = 1ull << order;
	uint64_t want = GET_FRAMES / n;
	struct alloc *a = calloc(want, sizeof(*a));
	struct gfix f;
	uint64_t count = 0, seed = order;

	ck_assert_ptr_nonnull(a);
	fix_init(&f, GET_FRAMES, 1, HA_INIT_FREE);
	for (;;) {
		ha_frame_t fr;
		bool rec = true;
		uint64_t before = ha_guest_free_frames(&f.g);
		int r = ha_guest_get(&f.g, 0, order, 0, &fr, &rec);

		if (r == HA_ENOMEM) {
			CHECK(ha_guest_free_frames(&f.g) == before);
			break;
		}
		CHECK(r == HA_OK);
		CHECK(!rec);
		CHECK(count < want);
		CHECK(fr.v % n == 0);
		CHECK(fr.v + n <= GET_FRAMES);
		mark(&f, fr, order, true);
		CHECK(ha_guest_free_frames(&f.g) == before - n);
		a[count].frame = fr;
		a[count++].order = order;
	}
	/* Same-order allocations tile the region completely. */
	ck_assert_uint_eq(count, want);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 0);
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), 0);
	for (unsigned o = 0; o <= HA_MAX_ORDER; o++)
		assert_get_fails(&f, 0, o, HA_ENOMEM);

	shuffle(a, count, &seed);
	for (uint64_t i = 0; i < count; i++)
		put_ok(&f, 0, a[i].frame, order);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), GET_FRAMES);
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), 20);
	/* Everything is allocatable again, even as the largest blocks. */
	for (unsigned i = 0; i < 10; i++)
		get_ok(&f, 0, HA_MAX_ORDER, 0, NULL);
	fix_fini(&f);
	free(a);
}
END_TEST

START_TEST(test_get_invalid)
{
	struct gfix f;

	fix_init(&f, 8 * 512, 2, HA_INIT_FREE);
	assert_get_fails(&f, 0, HA_MAX_ORDER + 1, HA_EINVAL);
	assert_get_fails(&f, 0, 64, HA_EINVAL);
	assert_get_fails(&f, 2, 0, HA_EINVAL);
	assert_get_fails(&f, ~0u, 0, HA_EINVAL);
	fix_fini(&f);
}
END_TEST

/* Five children: pairs (0,1) and (2,3); child 4 has no partner. */
START_TEST(test_get_order10_odd_children)
{
	struct gfix f;

	fix_init(&f, 5 * 512, 1, HA_INIT_FREE);
	get_ok(&f, 0, HA_MAX_ORDER, 0, NULL);
	get_ok(&f, 0, HA_MAX_ORDER, 0, NULL);
	assert_get_fails(&f, 0, HA_MAX_ORDER, HA_ENOMEM);
	ck_assert_uint_eq(get_ok(&f, 0, HA_HUGE_ORDER, 0, NULL).v, 4 * 512);
	assert_get_fails(&f, 0, HA_HUGE_ORDER, HA_ENOMEM);
	fix_fini(&f);
}
END_TEST

/* Random orders until nothing fits: never overlapping, and whatever is
 * left over is too fragmented for the failing order. */
START_TEST(test_get_mixed_exhaust)
{
	struct gfix f;
	struct alloc *a = calloc(GET_FRAMES, sizeof(*a));
	uint64_t n = 0, seed = 42;
	unsigned failures = 0;

	ck_assert_ptr_nonnull(a);
	fix_init(&f, GET_FRAMES, 1, HA_INIT_FREE);
	while (failures < 64) {
		unsigned order = rng_below(&seed, 11);
		ha_frame_t fr;
		bool rec;

		if (ha_guest_get(&f.g, 0, order, 0, &fr, &rec) != HA_OK) {
			failures++;
			continue;
		}
		mark(&f, fr, order, true);
		a[n].frame = fr;
		a[n++].order = order;
	}
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), GET_FRAMES - f.nheld);
	/* Order 0 always fits while anything is free. */
	while (f.nheld < GET_FRAMES) {
		a[n].frame = get_ok(&f, 0, 0, 0, NULL);
		a[n++].order = 0;
	}
	assert_get_fails(&f, 0, 0, HA_ENOMEM);
	shuffle(a, n, &seed);
	for (uint64_t i = 0; i < n; i++)
		put_ok(&f, 0, a[i].frame, a[i].order);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), GET_FRAMES);
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), 20);
	fix_fini(&f);
	free(a);
}
END_TEST

/* ---- put ---- */

static const unsigned put_orders[] = { 0, 1, 3, 6, 7, 8, 9, 10 };

START_TEST(test_put_double_free)
{
	unsigned order = put_orders[_i];
	struct gfix f;
	ha_frame_t a, b;

	fix_init(&f, 16 * 512, 1, HA_INIT_FREE);
	a = get_ok(&f, 0, order, 0, NULL);
	b = get_ok(&f, 0, order, 0, NULL);
	put_ok(&f, 0, a, order);
	assert_put_fails(&f, a.v, order, HA_EFAULT);
	/* The neighbour is untouched by the failed put. */
	put_ok(&f, 0, b, order);
	assert_put_fails(&f, b.v, order, HA_EFAULT);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 16 * 512);
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), 16);
	fix_fini(&f);
}
END_TEST

START_TEST(test_put_never_allocated)
{
	struct gfix f;

	fix_init(&f, 16 * 512, 1, HA_INIT_FREE);
	for (unsigned o = 0; o <= HA_MAX_ORDER; o++)
		assert_put_fails(&f, 2048, o, HA_EFAULT);
	/* A 4 KiB frame next to an allocated one is still free. */
	ha_frame_t a = get_ok(&f, 0, 0, 0, NULL);

	assert_put_fails(&f, a.v ^ 1, 0, HA_EFAULT);
	/* A larger block around an allocated frame is not allocated. */
	assert_put_fails(&f, a.v & ~7ull, 3, HA_EFAULT);
	put_ok(&f, 0, a, 0);
	fix_fini(&f);
}
END_TEST

START_TEST(test_put_range)
{
	struct gfix f;
	uint64_t frames = 5 * 512;

	fix_init(&f, frames, 1, HA_INIT_FREE);
	get_ok(&f, 0, HA_MAX_ORDER, 0, NULL);
	get_ok(&f, 0, HA_MAX_ORDER, 0, NULL);
	get_ok(&f, 0, HA_HUGE_ORDER, 0, NULL);
	assert_put_fails(&f, frames, 0, HA_ERANGE);
	assert_put_fails(&f, frames + 1024, HA_MAX_ORDER, HA_ERANGE);
	assert_put_fails(&f, UINT64_MAX, 0, HA_ERANGE);
	assert_put_fails(&f, 1, 1, HA_ERANGE);
	assert_put_fails(&f, 4, 3, HA_ERANGE);
	assert_put_fails(&f, 256, HA_HUGE_ORDER, HA_ERANGE);
	assert_put_fails(&f, 512, HA_MAX_ORDER, HA_ERANGE);
	/* An order-10 block would need child 5, which does not exist. */
	assert_put_fails(&f, 2048, HA_MAX_ORDER, HA_ERANGE);
	assert_put_fails(&f, 0, HA_MAX_ORDER + 1, HA_EINVAL);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 0);
	fix_fini(&f);
}
END_TEST

/* A huge frame may be freed in 4 KiB pieces (the kernel splits pages). */
START_TEST(test_put_split_huge)
{
	struct gfix f;
	struct alloc a[512];
	uint64_t seed = 7;
	ha_frame_t h;

	fix_init(&f, 8 * 512, 1, HA_INIT_FREE);
	h = get_ok(&f, 0, HA_HUGE_ORDER, 0, NULL);
	ck_assert(ha_child_huge(f.g.children[h.v / 512]));
	/* The test now holds 512 single frames instead of one block. */
	for (unsigned i = 0; i < 512; i++) {
		a[i].frame = ha_frame(h.v + i);
		a[i].order = 0;
	}
	shuffle(a, 512, &seed);
	put_ok(&f, 0, a[0].frame, 0);
	ck_assert(!ha_child_huge(f.g.children[h.v / 512]));
	/* no longer a huge frame, and the piece is gone */
	assert_put_fails(&f, h.v, HA_HUGE_ORDER, HA_EFAULT);
	assert_put_fails(&f, a[0].frame.v, 0, HA_EFAULT);
	for (unsigned i = 1; i < 512; i++) {
		put_ok(&f, 0, a[i].frame, 0);
		if (i == 100)
			ck_assert_uint_eq(ha_child_free(f.g.children[h.v >> 9]),
					  101);
	}
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 8 * 512);
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), 8);
	/* The child is whole again. */
	for (unsigned i = 0; i < 8; i++)
		get_ok(&f, 0, HA_HUGE_ORDER, 0, NULL);
	fix_fini(&f);
}
END_TEST

/* An order-10 block freed as one huge frame plus pieces of every order. */
START_TEST(test_put_split_order10)
{
	struct gfix f;
	ha_frame_t p;
	uint64_t off, free;

	fix_init(&f, 8 * 512, 1, HA_INIT_FREE);
	p = get_ok(&f, 0, HA_MAX_ORDER, 0, NULL);
	ck_assert_uint_eq(p.v % 1024, 0);
	ck_assert(ha_child_huge(f.g.children[p.v / 512]));
	ck_assert(ha_child_huge(f.g.children[p.v / 512 + 1]));
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), 6);
	/* From here on the test tracks the pieces itself. */
	mark(&f, p, HA_MAX_ORDER, false);
	free = 6 * 512;

	/* first half as one huge frame */
	ck_assert_int_eq(ha_guest_put(&f.g, 0, p, HA_HUGE_ORDER), HA_OK);
	free += 512;
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), free);
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), 7);

	/* second half as blocks of orders 8, 7, ..., 0 and the last frame */
	off = p.v + 512;
	for (unsigned o = HA_HUGE_ORDER; o-- > 0;) {
		ck_assert_int_eq(ha_guest_put(&f.g, 0, ha_frame(off), o),
				 HA_OK);
		free += 1u << o;
		ck_assert_uint_eq(ha_guest_free_frames(&f.g), free);
		off += 1u << o;
	}
	ck_assert_uint_eq(off, p.v + 1023);
	assert_put_fails(&f, p.v + 512, 8, HA_EFAULT);
	ck_assert_int_eq(ha_guest_put(&f.g, 0, ha_frame(off), 0), HA_OK);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 8 * 512);
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), 8);
	for (unsigned i = 0; i < 4; i++)
		get_ok(&f, 0, HA_MAX_ORDER, 0, NULL);
	fix_fini(&f);
}
END_TEST

/* ---- kinds ---- */

/* With enough trees, each kind of a CPU lives in its own tree, and the
 * tree word records the kind. */
START_TEST(test_kinds_separate_trees)
{
	struct gfix f;
	ha_frame_t fixed, movable, huge, other;

	fix_init(&f, 6 * 4096, 2, HA_INIT_FREE);
	ck_assert(f.g.use_kinds);
	fixed = get_ok(&f, 0, 0, 0, NULL);
	movable = get_ok(&f, 0, 0, HA_GET_MOVABLE, NULL);
	huge = get_ok(&f, 0, HA_HUGE_ORDER, 0, NULL);
	other = get_ok(&f, 1, 0, 0, NULL);
	ck_assert_uint_ne(tree_of(fixed), tree_of(movable));
	ck_assert_uint_ne(tree_of(fixed), tree_of(huge));
	ck_assert_uint_ne(tree_of(movable), tree_of(huge));
	ck_assert_uint_ne(tree_of(other), tree_of(fixed));
	ck_assert_uint_ne(tree_of(other), tree_of(movable));
	ck_assert_uint_ne(tree_of(other), tree_of(huge));
	ck_assert_uint_eq(ha_tree_kind(f.g.trees[tree_of(fixed)]),
			  HA_KIND_FIXED);
	ck_assert_uint_eq(ha_tree_kind(f.g.trees[tree_of(movable)]),
			  HA_KIND_MOVABLE);
	ck_assert_uint_eq(ha_tree_kind(f.g.trees[tree_of(huge)]),
			  HA_KIND_HUGE);
	ck_assert(ha_tree_reserved(f.g.trees[tree_of(movable)]));
	/* Same kind, same CPU: same tree. */
	ck_assert_uint_eq(tree_of(get_ok(&f, 0, 3, HA_GET_MOVABLE, NULL)),
			  tree_of(movable));
	ck_assert_uint_eq(tree_of(get_ok(&f, 0, HA_MAX_ORDER, 0, NULL)),
			  tree_of(huge));
	fix_fini(&f);
}
END_TEST

/* Too few trees for kinds: everything of one CPU shares one tree. */
START_TEST(test_kinds_off)
{
	struct gfix f;
	ha_frame_t a, b, c;

	fix_init(&f, 2 * 4096, 1, HA_INIT_FREE);
	ck_assert(!f.g.use_kinds);
	a = get_ok(&f, 0, 0, 0, NULL);
	b = get_ok(&f, 0, 0, HA_GET_MOVABLE, NULL);
	c = get_ok(&f, 0, HA_HUGE_ORDER, 0, NULL);
	ck_assert_uint_eq(tree_of(a), tree_of(b));
	ck_assert_uint_eq(tree_of(a), tree_of(c));
	fix_fini(&f);
}
END_TEST

/* Kinds steer placement but never make memory unreachable. */
START_TEST(test_kinds_fallback)
{
	struct gfix f;
	uint64_t frames = 6 * 4096;

	fix_init(&f, frames, 2, HA_INIT_FREE);
	get_ok(&f, 0, 0, 0, NULL);
	get_ok(&f, 0, HA_HUGE_ORDER, 0, NULL);
	get_ok(&f, 1, 0, 0, NULL);
	while (f.nheld < frames)
		get_ok(&f, 0, 0, HA_GET_MOVABLE, NULL);
	assert_get_fails(&f, 0, 0, HA_ENOMEM);
	assert_get_fails(&f, 1, 0, HA_ENOMEM);
	fix_fini(&f);
}
END_TEST

/* ---- per-CPU reservations ---- */

START_TEST(test_percpu_distinct_trees)
{
	struct gfix f;
	uint64_t tree[4];

	fix_init(&f, 16 * 4096, 4, HA_INIT_FREE);
	for (unsigned c = 0; c < 4; c++) {
		tree[c] = tree_of(get_ok(&f, c, 0, 0, NULL));
		ck_assert(ha_tree_reserved(f.g.trees[tree[c]]));
		/* The reservation moved the tree's counter to the CPU. */
		ck_assert_uint_eq(ha_tree_free(f.g.trees[tree[c]]), 0);
		for (unsigned d = 0; d < c; d++)
			ck_assert_uint_ne(tree[c], tree[d]);
	}
	/* Frees go to the shared tree word, even of a reserved tree. */
	ha_frame_t x = get_ok(&f, 0, 0, 0, NULL);

	put_ok(&f, 2, x, 0);
	ck_assert_uint_eq(ha_tree_free(f.g.trees[tree[0]]), 1);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 16 * 4096 - 4);
	fix_fini(&f);
}
END_TEST

/* Several CPUs allocate until nothing is left: every frame is handed out
 * exactly once, and all of it comes back. */
START_TEST(test_percpu_exhaust)
{
	struct gfix f;
	uint64_t frames = 12 * 4096;
	struct alloc *a = calloc(frames, sizeof(*a));
	uint64_t n = 0, seed = 3;
	unsigned cores = 4;

	ck_assert_ptr_nonnull(a);
	fix_init(&f, frames, cores, HA_INIT_FREE);
	/* mixed orders first, then single frames until every CPU fails */
	for (unsigned i = 0; i < 4000; i++) {
		unsigned core = rng_below(&seed, cores);
		unsigned order = rng_below(&seed, 11);
		unsigned flags = rng_below(&seed, 2) ? HA_GET_MOVABLE : 0;
		ha_frame_t fr;
		bool rec;

		if (ha_guest_get(&f.g, core, order, flags, &fr, &rec) != HA_OK)
			continue;
		mark(&f, fr, order, true);
		a[n].frame = fr;
		a[n].order = order;
		a[n++].core = core;
		/* free some on another CPU, so reserved trees collect frees */
		if (rng_below(&seed, 3) == 0) {
			uint64_t j = rng_next(&seed) % n;

			put_ok(&f, (core + 1) % cores, a[j].frame, a[j].order);
			a[j] = a[--n];
		}
	}
	for (unsigned c = 0; f.nheld < frames; c = (c + 1) % cores) {
		a[n].frame = get_ok(&f, c, 0, 0, NULL);
		a[n].order = 0;
		a[n++].core = c;
	}
	for (unsigned c = 0; c < cores; c++)
		assert_get_fails(&f, c, 0, HA_ENOMEM);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 0);

	shuffle(a, n, &seed);
	for (uint64_t i = 0; i < n; i++)
		put_ok(&f, (unsigned)(i % cores), a[i].frame, a[i].order);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), frames);
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), frames / 512);
	fix_fini(&f);
	free(a);
}
END_TEST

/* One tree, two CPUs: the second takes over the first one's reservation
 * instead of failing. */
START_TEST(test_percpu_steal)
{
	struct gfix f;

	fix_init(&f, 4096, 2, HA_INIT_FREE);
	get_ok(&f, 0, 0, 0, NULL);
	ck_assert(ha_tree_reserved(f.g.trees[0]));
	while (f.nheld < 4096)
		get_ok(&f, 1, 0, 0, NULL);
	assert_get_fails(&f, 0, 0, HA_ENOMEM);
	fix_fini(&f);
}
END_TEST

/* ---- reclaimed flag ---- */

static void set_reclaimed(struct gfix *f, uint64_t c, bool on)
{
	if (on)
		f->g.children[c] |= HA_CHILD_RECLAIMED;
	else
		f->g.children[c] &= (ha_child_word)~HA_CHILD_RECLAIMED;
}

START_TEST(test_reclaimed_reported)
{
	static const unsigned orders[] = { 0, 5, 8, 9, 10 };
	struct gfix f;

	fix_init(&f, 8 * 512, 1, HA_INIT_FREE);
	for (uint64_t c = 0; c < 8; c++)
		set_reclaimed(&f, c, true);
	for (unsigned i = 0; i < 5; i++) {
		bool rec = false;
		ha_frame_t fr = get_ok(&f, 0, orders[i], 0, &rec);

		ck_assert_msg(rec, "order %u: reclaimed not reported",
			      orders[i]);
		ck_assert(ha_guest_is_reclaimed(&f.g, ha_frame_to_huge(fr)));
	}
	ck_assert(!ha_guest_is_reclaimed(&f.g, ha_huge(8)));
	ck_assert(!ha_guest_is_reclaimed(&f.g, ha_huge(UINT64_MAX)));
	fix_fini(&f);
}
END_TEST

/* Installed children are used first, so that installs stay rare. */
START_TEST(test_reclaimed_preference)
{
	struct gfix f;
	bool rec;

	fix_init(&f, 8 * 512, 1, HA_INIT_FREE);
	for (uint64_t c = 0; c < 4; c++)
		set_reclaimed(&f, c, true);
	for (unsigned i = 0; i < 4; i++) {
		ha_frame_t fr = get_ok(&f, 0, HA_HUGE_ORDER, 0, &rec);

		ck_assert(!rec);
		ck_assert_uint_ge(fr.v / 512, 4);
	}
	get_ok(&f, 0, 0, 0, &rec);
	ck_assert(rec);
	fix_fini(&f);
}
END_TEST

/* An order-10 block is reclaimed if either half is. */
START_TEST(test_reclaimed_order10)
{
	struct gfix f;
	bool rec;
	ha_frame_t fr;

	fix_init(&f, 8 * 512, 1, HA_INIT_FREE);
	set_reclaimed(&f, 1, true);
	for (unsigned i = 0; i < 3; i++) {
		fr = get_ok(&f, 0, HA_MAX_ORDER, 0, &rec);
		ck_assert(!rec);
		ck_assert_uint_ne(fr.v, 0);
	}
	fr = get_ok(&f, 0, HA_MAX_ORDER, 0, &rec);
	ck_assert(rec);
	ck_assert_uint_eq(fr.v, 0);
	fix_fini(&f);
}
END_TEST

/* Only the host clears the bit: guest gets and puts of every shape keep
 * it, and so does splitting a huge frame. */
START_TEST(test_reclaimed_preserved)
{
	struct gfix f;
	ha_frame_t h, p;
	bool rec;

	fix_init(&f, 2 * 512, 1, HA_INIT_FREE);
	set_reclaimed(&f, 0, true);
	set_reclaimed(&f, 1, true);
	p = get_ok(&f, 0, HA_MAX_ORDER, 0, &rec);
	ck_assert(rec);
	put_ok(&f, 0, p, HA_MAX_ORDER);
	ck_assert(ha_guest_is_reclaimed(&f.g, ha_huge(0)));
	ck_assert(ha_guest_is_reclaimed(&f.g, ha_huge(1)));
	h = get_ok(&f, 0, HA_HUGE_ORDER, 0, &rec);
	ck_assert(rec);
	put_ok(&f, 0, h, HA_HUGE_ORDER);
	ck_assert(ha_guest_is_reclaimed(&f.g, ha_frame_to_huge(h)));
	h = get_ok(&f, 0, HA_HUGE_ORDER, 0, &rec);
	ck_assert(rec);
	mark(&f, h, HA_HUGE_ORDER, false);
	mark(&f, h, 0, true);
	mark(&f, ha_frame(h.v + 1), 0, true);
	mark(&f, ha_frame(h.v + 2), 1, true);
	mark(&f, ha_frame(h.v + 4), 2, true);
	mark(&f, ha_frame(h.v + 8), 3, true);
	mark(&f, ha_frame(h.v + 16), 4, true);
	mark(&f, ha_frame(h.v + 32), 5, true);
	mark(&f, ha_frame(h.v + 64), 6, true);
	mark(&f, ha_frame(h.v + 128), 7, true);
	mark(&f, ha_frame(h.v + 256), 8, true);
	put_ok(&f, 0, ha_frame(h.v + 256), 8); /* splits */
	ck_assert(ha_guest_is_reclaimed(&f.g, ha_frame_to_huge(h)));
	put_ok(&f, 0, h, 0);
	ck_assert(ha_guest_is_reclaimed(&f.g, ha_frame_to_huge(h)));
	fix_fini(&f);
}
END_TEST

/* ---- the same, driven by a real host ---- */

struct nop_env {
	unsigned discards, populates;
};

static int nop_discard(void *ctx, ha_huge_t first, uint64_t count)
{
	struct nop_env *e = ctx;

	(void)first;
	e->discards += (unsigned)count;
	return 0;
}

static int nop_populate(void *ctx, ha_huge_t first, uint64_t count)
{
	struct nop_env *e = ctx;

	(void)first;
	e->populates += (unsigned)count;
	return 0;
}

static void nop_lock(void *ctx)
{
	(void)ctx;
}

START_TEST(test_reclaimed_host_soft)
{
	struct gfix f;
	struct ha_host h;
	struct nop_env e = { 0, 0 };
	struct ha_host_env env = {
		.ctx = &e,
		.discard = nop_discard,
		.populate = nop_populate,
		.lock = nop_lock,
		.unlock = nop_lock,
	};
	uint64_t frames = 8 * 512;
	uint8_t *state = calloc(ha_host_state_size(1ull << 21), 1);
	struct ha_bad bad;
	bool rec;
	ha_frame_t fr;

	ck_assert_ptr_nonnull(state);
	fix_init(&f, frames, 1, HA_INIT_FREE);
	/* guest RAM: 8 GiB, the metadata in the first frame */
	ck_assert_int_eq(ha_host_attach(&h, f.meta, f.meta_len, 0, 1ull << 21,
					&env, state, &bad),
			 HA_OK);
	ck_assert_int_eq(ha_host_reclaim_soft(&h, 0), 8);
	ck_assert_uint_eq(e.discards, 8);
	/* Soft reclaim leaves the frames free for the guest. */
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), frames);
	fr = get_ok(&f, 0, 0, 0, &rec);
	ck_assert(rec);
	ck_assert_int_eq(ha_host_install(&h, ha_frame_to_huge(fr)), HA_OK);
	ck_assert_uint_eq(e.populates, 1);
	ck_assert(!ha_guest_is_reclaimed(&f.g, ha_frame_to_huge(fr)));
	/* The installed child is preferred from now on. */
	for (unsigned i = 0; i < 511; i++) {
		ha_frame_t x = get_ok(&f, 0, 0, 0, &rec);

		ck_assert(!rec);
		ck_assert_uint_eq(x.v / 512, fr.v / 512);
	}
	get_ok(&f, 0, 0, 0, &rec);
	ck_assert(rec);
	fix_fini(&f);
	free(state);
}
END_TEST

/* ---- threads ---- */

#define MT_THREADS 4
#define MT_HOLD 64

/* Two shapes: plenty of trees (each CPU works in its own reservation) and
 * a single tree that every CPU fights over (steals, shared children). */
static const struct mt_config {
	uint64_t frames;
	unsigned hold; /* allocations a thread holds at most */
	unsigned max_order;
	bool may_run_out;
} mt_configs[] = {
	{ 32 * 4096, MT_HOLD, HA_MAX_ORDER, false },
	{ 4096, 16, 6, true },
};

struct mt {
	const struct mt_config *cfg;
	struct ha_guest *g;
	uint8_t *owner; /* per frame: 0 or thread id + 1 */
	unsigned iters;
	pthread_barrier_t start;
	unsigned long errors; /* frames handed out twice or lost */
	unsigned long gets, fails;
};

struct mt_thread {
	struct mt *mt;
	unsigned id;
	pthread_t tid;
};

static unsigned mt_claim(struct mt *mt, ha_frame_t fr, unsigned order,
			 uint8_t from, uint8_t to)
{
	unsigned bad = 0;

	for (uint64_t i = 0; i < (1ull << order); i++) {
		uint8_t expected = from;

		if (!__atomic_compare_exchange_n(&mt->owner[fr.v + i],
						 &expected, to, false,
						 __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			bad++;
	}
	return bad;
}

static int mt_put(struct ha_guest *g, unsigned core, ha_frame_t fr,
		  unsigned order)
{
	int r;

	/* HA_EAGAIN: another CPU is splitting the same huge frame. */
	while ((r = ha_guest_put(g, core, fr, order)) == HA_EAGAIN)
		sched_yield();
	return r;
}

static unsigned mt_order(const struct mt_config *cfg, uint64_t *seed)
{
	if (cfg->max_order >= HA_HUGE_ORDER && rng_below(seed, 8) == 0)
		return HA_HUGE_ORDER + rng_below(seed, 2);
	return rng_below(seed, cfg->max_order < 8 ? cfg->max_order + 1 : 9);
}

static void *mt_worker(void *arg)
{
	struct mt_thread *t = arg;
	struct mt *mt = t->mt;
	const struct mt_config *cfg = mt->cfg;
	struct alloc held[MT_HOLD];
	unsigned n = 0;
	uint64_t seed = t->id + 1;
	uint8_t me = (uint8_t)(t->id + 1);
	unsigned long errors = 0, gets = 0, fails = 0;

	pthread_barrier_wait(&mt->start);
	for (unsigned i = 0; i < mt->iters; i++) {
		bool do_get = n == 0 || (n < cfg->hold && rng_below(&seed, 2));

		if (do_get) {
			unsigned order = mt_order(cfg, &seed);
			unsigned flags = rng_below(&seed, 2) ? HA_GET_MOVABLE :
							       0;
			ha_frame_t fr;
			bool rec;
			int r = ha_guest_get(mt->g, t->id, order, flags, &fr,
					     &rec);

			if (r != HA_OK) {
				fails++;
				errors += r != HA_ENOMEM;
				continue;
			}
			gets++;
			if (fr.v % (1ull << order) ||
			    fr.v + (1ull << order) > cfg->frames || rec) {
				errors++;
				continue;
			}
			errors += mt_claim(mt, fr, order, 0, me);
			held[n].frame = fr;
			held[n++].order = order;
		} else {
			unsigned j = rng_below(&seed, n);
			struct alloc a = held[j];

			held[j] = held[--n];
			errors += mt_claim(mt, a.frame, a.order, me, 0);
			if (a.order == HA_HUGE_ORDER && rng_below(&seed, 2)) {
				/* free a huge frame in pieces */
				for (unsigned k = 0; k < 512; k += 64) {
					ha_frame_t piece = ha_frame(a.frame.v +
								    k);

					errors += mt_put(mt->g, t->id, piece,
							 6) != HA_OK;
				}
			} else {
				errors += mt_put(mt->g, t->id, a.frame,
						 a.order) != HA_OK;
			}
		}
	}
	while (n > 0) {
		n--;
		errors += mt_claim(mt, held[n].frame, held[n].order, me, 0);
		errors += mt_put(mt->g, t->id, held[n].frame, held[n].order) !=
			  HA_OK;
	}
	__atomic_add_fetch(&mt->errors, errors, __ATOMIC_RELAXED);
	__atomic_add_fetch(&mt->gets, gets, __ATOMIC_RELAXED);
	__atomic_add_fetch(&mt->fails, fails, __ATOMIC_RELAXED);
	return NULL;
}

/* Threads get and put random blocks at once; each frame a thread gets is
 * claimed in a shared owner array, so a frame handed out twice while held
 * shows up as a failed claim. */
START_TEST(test_mt_get_put)
{
	const struct mt_config *cfg = &mt_configs[_i];
	struct gfix f;
	struct mt mt = { 0 };
	struct mt_thread t[MT_THREADS];

	fix_init(&f, cfg->frames, MT_THREADS, HA_INIT_FREE);
	mt.cfg = cfg;
	mt.g = &f.g;
	mt.owner = f.held;
	mt.iters = 200000;
	ck_assert_int_eq(pthread_barrier_init(&mt.start, NULL, MT_THREADS),
			 0);
	for (unsigned i = 0; i < MT_THREADS; i++) {
		t[i].mt = &mt;
		t[i].id = i;
		ck_assert_int_eq(pthread_create(&t[i].tid, NULL, mt_worker,
						&t[i]),
				 0);
	}
	for (unsigned i = 0; i < MT_THREADS; i++)
		ck_assert_int_eq(pthread_join(t[i].tid, NULL), 0);
	pthread_barrier_destroy(&mt.start);
	ck_assert_uint_eq(mt.errors, 0);
	ck_assert_uint_gt(mt.gets, mt.iters);
	/* With 32 trees, 4 threads holding at most 4 * 64 * 4 MiB never
	 * run out; the single tree does. */
	if (!cfg->may_run_out)
		ck_assert_uint_eq(mt.fails, 0);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), cfg->frames);
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), cfg->frames / 512);
	for (uint64_t i = 0; i < cfg->frames; i++)
		CHECK(f.held[i] == 0);
	fix_fini(&f);
}
END_TEST

/* All threads free pieces of the same huge frames at once: exactly one
 * splits each, the others wait for it. */
struct split_arg {
	struct ha_guest *g;
	unsigned id;
	unsigned nhuge;
	const ha_frame_t *huge;
	unsigned long errors;
};

static void *split_worker(void *arg)
{
	struct split_arg *s = arg;

	for (unsigned h = 0; h < s->nhuge; h++)
		for (unsigned k = s->id; k < 512; k += MT_THREADS)
			s->errors += mt_put(s->g, s->id,
					    ha_frame(s->huge[h].v + k),
					    0) != HA_OK;
	return NULL;
}

START_TEST(test_mt_split)
{
	struct gfix f;
	ha_frame_t huge[64];
	struct split_arg s[MT_THREADS];
	pthread_t tid[MT_THREADS];

	fix_init(&f, 8 * 4096, MT_THREADS, HA_INIT_FREE);
	for (unsigned h = 0; h < 64; h++)
		huge[h] = get_ok(&f, h % MT_THREADS, HA_HUGE_ORDER, 0, NULL);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 0);
	for (unsigned i = 0; i < MT_THREADS; i++) {
		s[i] = (struct split_arg){ &f.g, i, 64, huge, 0 };
		ck_assert_int_eq(pthread_create(&tid[i], NULL, split_worker,
						&s[i]),
				 0);
	}
	for (unsigned i = 0; i < MT_THREADS; i++) {
		ck_assert_int_eq(pthread_join(tid[i], NULL), 0);
		ck_assert_uint_eq(s[i].errors, 0);
	}
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 8 * 4096);
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), 64);
	for (uint64_t c = 0; c < 64; c++)
		for (unsigned r = 0; r < HA_BITFIELD_ROWS; r++)
			ck_assert_uint_eq(f.g.bitfields[c].rows[r], 0);
	fix_fini(&f);
}
END_TEST

static Suite *guest_suite(void)
{
	Suite *s = suite_create("guest");
	TCase *tc;

	tc = tcase_create("init");
	tcase_add_test(tc, test_init_free);
	tcase_add_test(tc, test_init_allocated);
	tcase_add_test(tc, test_init_bad_args);
	tcase_add_test(tc, test_init_attach);
	tcase_add_test(tc, test_init_attach_rejects);
	suite_add_tcase(s, tc);

	tc = tcase_create("get");
	tcase_add_loop_test(tc, test_get_order, 0, HA_MAX_ORDER + 1);
	tcase_add_test(tc, test_get_invalid);
	tcase_add_test(tc, test_get_order10_odd_children);
	tcase_add_test(tc, test_get_mixed_exhaust);
	suite_add_tcase(s, tc);

	tc = tcase_create("put");
	tcase_add_loop_test(tc, test_put_double_free, 0,
			    (int)(sizeof(put_orders) / sizeof(put_orders[0])));
	tcase_add_test(tc, test_put_never_allocated);
	tcase_add_test(tc, test_put_range);
	tcase_add_test(tc, test_put_split_huge);
	tcase_add_test(tc, test_put_split_order10);
	suite_add_tcase(s, tc);

	tc = tcase_create("kinds");
	tcase_add_test(tc, test_kinds_separate_trees);
	tcase_add_test(tc, test_kinds_off);
	tcase_add_test(tc, test_kinds_fallback);
	suite_add_tcase(s, tc);

	tc = tcase_create("percpu");
	tcase_add_test(tc, test_percpu_distinct_trees);
	tcase_add_test(tc, test_percpu_exhaust);
	tcase_add_test(tc, test_percpu_steal);
	suite_add_tcase(s, tc);

	tc = tcase_create("reclaimed");
	tcase_add_test(tc, test_reclaimed_reported);
	tcase_add_test(tc, test_reclaimed_preference);
	tcase_add_test(tc, test_reclaimed_order10);
	tcase_add_test(tc, test_reclaimed_preserved);
	tcase_add_test(tc, test_reclaimed_host_soft);
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_mt_get_put, 0,
			    (int)(sizeof(mt_configs) / sizeof(mt_configs[0])));
	tcase_add_test(tc, test_mt_split);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(guest_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
