// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the guest side: ha_guest_init() in its three modes,
 * ha_guest_get()/ha_guest_put() for every order, and kinds. The reclaimed
 * flag is test_guest_reclaimed.c, per-CPU reservations and threads are
 * test_guest_concurrency.c; all three use guest_fixture.h.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "guest_fixture.h"
#include "ha_validate.h"

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

/* ---- init ---- */

START_TEST(test_init_free)
{
	struct gfix f;
	struct ha_layout got;
	struct ha_bad bad;
	uint64_t frames = 45 * 512; /* 5 full trees and one of 5 children */

	gfix_init(&f, frames, 2, HA_INIT_FREE);
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
	ck_assert_uint_eq(f.g.hdr->base_frame, GFIX_BASE_FRAME);
	ck_assert_uint_eq(ha_local_size(3), 3 * sizeof(struct ha_local));
	gfix_fini(&f);
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

	gfix_init(&f, frames, 2, HA_INIT_ALLOCATED);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 0);
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), 0);
	for (unsigned o = 0; o <= HA_MAX_ORDER; o++)
		gfix_assert_get_fails(&f, 0, o, HA_ENOMEM);
	/* The test "holds" every frame, as the booting kernel does. */
	memset(f.held, 1, frames);
	f.nheld = frames;

	/* child 0 in 4 KiB frames */
	for (uint64_t i = 0; i < 512; i++)
		gfix_put_ok(&f, 0, ha_frame(i), 0);
	freed += 512;
	/* child 1 as one huge frame */
	gfix_put_ok(&f, 1, ha_frame(512), HA_HUGE_ORDER);
	/* children 2 and 3 as one order-10 block */
	gfix_put_ok(&f, 0, ha_frame(1024), HA_MAX_ORDER);
	/* child 4 in descending orders 8..0, plus the last frame */
	for (unsigned o = 8, off = 0;; o--) {
		gfix_put_ok(&f, 1, ha_frame(2048 + off), o);
		off += 1u << o;
		if (o == 0) {
			gfix_put_ok(&f, 1, ha_frame(2048 + off), 0);
			break;
		}
	}
	freed += 4 * 512;
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), freed);
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), 5);
	/* Freed memory is allocatable, nothing else is. */
	ha_frame_t h = gfix_get_ok(&f, 0, HA_MAX_ORDER, 0, NULL);

	ck_assert(h.v == 0 || h.v == 1024); /* children 0-1 or 2-3 */
	while (f.nheld < frames)
		gfix_get_ok(&f, 1, 0, 0, NULL);
	gfix_assert_get_fails(&f, 1, 0, HA_ENOMEM);
	gfix_assert_get_fails(&f, 0, 0, HA_ENOMEM);
	gfix_fini(&f);
}
END_TEST

START_TEST(test_init_bad_args)
{
	struct gfix f;
	uint64_t frames = 8 * 512;
	struct ha_guest *g = &f.g;

	gfix_alloc(&f, frames, 1);
	ck_assert_int_eq(ha_guest_init(g, NULL, f.meta_len, f.local, 1,
				       GFIX_BASE_FRAME, frames, HA_INIT_FREE),
			 HA_EINVAL);
	ck_assert_int_eq(ha_guest_init(g, f.meta, f.meta_len, NULL, 1,
				       GFIX_BASE_FRAME, frames, HA_INIT_FREE),
			 HA_EINVAL);
	ck_assert_int_eq(ha_guest_init(g, f.meta, f.meta_len, f.local, 0,
				       GFIX_BASE_FRAME, frames, HA_INIT_FREE),
			 HA_EINVAL);
	ck_assert_int_eq(ha_guest_init(g, f.meta + 8, f.meta_len - 64, f.local,
				       1, GFIX_BASE_FRAME, 512, HA_INIT_FREE),
			 HA_EINVAL);
	ck_assert_int_eq(ha_guest_init(g, f.meta, f.meta_len, f.local, 1,
				       GFIX_BASE_FRAME + 512, frames,
				       HA_INIT_FREE),
			 HA_EINVAL);
	ck_assert_int_eq(ha_guest_init(g, f.meta, f.meta_len, f.local, 1,
				       GFIX_BASE_FRAME, 0, HA_INIT_FREE),
			 HA_EINVAL);
	ck_assert_int_eq(ha_guest_init(g, f.meta, f.meta_len, f.local, 1,
				       GFIX_BASE_FRAME, frames + 1,
				       HA_INIT_FREE),
			 HA_EINVAL);
	ck_assert_int_eq(ha_guest_init(g, f.meta, f.meta_len - 1, f.local, 1,
				       GFIX_BASE_FRAME, frames, HA_INIT_FREE),
			 HA_EINVAL);
	/* Nothing was written by the rejected calls. */
	for (uint64_t i = 0; i < f.meta_len; i++)
		ck_assert_uint_eq(f.meta[i], 0);
	gfix_fini(&f);
}
END_TEST

/* A guest that restarts (kexec, crash) attaches to its region: what it
 * held stays allocated, what its CPUs had reserved is free again. */
START_TEST(test_init_attach)
{
	struct gfix f;
	uint64_t frames = 24 * 512;
	struct gfix_held held[64];
	unsigned nheld = 0;
	uint64_t seed = 1;

	gfix_init(&f, frames, 2, HA_INIT_FREE);
	for (unsigned i = 0; i < 40; i++) {
		unsigned order = gfix_rng_below(&seed, 11);
		unsigned core = i % 2;

		held[nheld].frame = gfix_get_ok(&f, core, order, 0, NULL);
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
				       GFIX_BASE_FRAME, frames, HA_INIT_ATTACH),
			 HA_OK);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), frames - f.nheld);
	for (uint64_t t = 0; t < 3; t++) {
		ck_assert(!ha_tree_reserved(f.g.trees[t]));
		ck_assert_uint_eq(ha_tree_free(f.g.trees[t]), child_sum(&f, t));
	}
	/* Held frames are still allocated: new gets avoid them
	 * (gfix_get_ok checks) and each can be freed exactly once. */
	for (unsigned i = 0; i < 8; i++)
		gfix_get_ok(&f, 1, 0, 0, NULL);
	for (unsigned i = 0; i < nheld; i++) {
		gfix_put_ok(&f, 0, held[i].frame, held[i].order);
		ck_assert_int_eq(ha_guest_put(&f.g, 0, held[i].frame,
					      held[i].order),
				 HA_EFAULT);
	}
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), frames - 8);
	gfix_fini(&f);
}
END_TEST

START_TEST(test_init_attach_rejects)
{
	struct gfix f;
	uint64_t frames = 16 * 512;
	struct ha_header saved;

	gfix_alloc(&f, frames, 1);
	/* All-zero memory is no region. */
	ck_assert_int_eq(ha_guest_init(&f.g, f.meta, f.meta_len, f.local, 1,
				       GFIX_BASE_FRAME, frames, HA_INIT_ATTACH),
			 HA_EBADMSG);
	ck_assert_int_eq(ha_guest_init(&f.g, f.meta, f.meta_len, f.local, 1,
				       GFIX_BASE_FRAME, frames, HA_INIT_FREE),
			 HA_OK);
	memcpy(&saved, f.meta, sizeof(saved));

	/* corrupt header */
	f.g.hdr->magic ^= 1;
	ck_assert_int_eq(ha_guest_init(&f.g, f.meta, f.meta_len, f.local, 1,
				       GFIX_BASE_FRAME, frames, HA_INIT_ATTACH),
			 HA_EBADMSG);
	memcpy(f.meta, &saved, sizeof(saved));
	((struct ha_header *)(void *)f.meta)->children_offset += 64;
	ck_assert_int_eq(ha_guest_init(&f.g, f.meta, f.meta_len, f.local, 1,
				       GFIX_BASE_FRAME, frames, HA_INIT_ATTACH),
			 HA_EBADMSG);
	memcpy(f.meta, &saved, sizeof(saved));

	/* a region for other frames or another base */
	ck_assert_int_eq(ha_guest_init(&f.g, f.meta, f.meta_len, f.local, 1,
				       GFIX_BASE_FRAME, frames - 512,
				       HA_INIT_ATTACH),
			 HA_EINVAL);
	ck_assert_int_eq(ha_guest_init(&f.g, f.meta, f.meta_len, f.local, 1,
				       GFIX_BASE_FRAME + 1024, frames,
				       HA_INIT_ATTACH),
			 HA_EINVAL);
	/* The region was left alone: it still attaches. */
	ck_assert_int_eq(ha_guest_init(&f.g, f.meta, f.meta_len, f.local, 1,
				       GFIX_BASE_FRAME, frames, HA_INIT_ATTACH),
			 HA_OK);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), frames);
	gfix_fini(&f);
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
	struct gfix_held *a = calloc(want, sizeof(*a));
	struct gfix f;
	uint64_t count = 0, seed = order;

	ck_assert_ptr_nonnull(a);
	gfix_init(&f, GET_FRAMES, 1, HA_INIT_FREE);
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
		gfix_mark(&f, fr, order, true);
		CHECK(ha_guest_free_frames(&f.g) == before - n);
		a[count].frame = fr;
		a[count++].order = order;
	}
	/* Same-order allocations tile the region completely. */
	ck_assert_uint_eq(count, want);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 0);
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), 0);
	for (unsigned o = 0; o <= HA_MAX_ORDER; o++)
		gfix_assert_get_fails(&f, 0, o, HA_ENOMEM);

	gfix_shuffle(a, count, &seed);
	for (uint64_t i = 0; i < count; i++)
		gfix_put_ok(&f, 0, a[i].frame, order);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), GET_FRAMES);
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), 20);
	/* Everything is allocatable again, even as the largest blocks. */
	for (unsigned i = 0; i < 10; i++)
		gfix_get_ok(&f, 0, HA_MAX_ORDER, 0, NULL);
	gfix_fini(&f);
	free(a);
}
END_TEST

START_TEST(test_get_invalid)
{
	struct gfix f;

	gfix_init(&f, 8 * 512, 2, HA_INIT_FREE);
	gfix_assert_get_fails(&f, 0, HA_MAX_ORDER + 1, HA_EINVAL);
	gfix_assert_get_fails(&f, 0, 64, HA_EINVAL);
	gfix_assert_get_fails(&f, 2, 0, HA_EINVAL);
	gfix_assert_get_fails(&f, ~0u, 0, HA_EINVAL);
	gfix_fini(&f);
}
END_TEST

/* Five children: pairs (0,1) and (2,3); child 4 has no partner. */
START_TEST(test_get_order10_odd_children)
{
	struct gfix f;

	gfix_init(&f, 5 * 512, 1, HA_INIT_FREE);
	gfix_get_ok(&f, 0, HA_MAX_ORDER, 0, NULL);
	gfix_get_ok(&f, 0, HA_MAX_ORDER, 0, NULL);
	gfix_assert_get_fails(&f, 0, HA_MAX_ORDER, HA_ENOMEM);
	ck_assert_uint_eq(gfix_get_ok(&f, 0, HA_HUGE_ORDER, 0, NULL).v,
			  4 * 512);
	gfix_assert_get_fails(&f, 0, HA_HUGE_ORDER, HA_ENOMEM);
	gfix_fini(&f);
}
END_TEST

/* Random orders until nothing fits: never overlapping, and whatever is
 * left over is too fragmented for the failing order. */
START_TEST(test_get_mixed_exhaust)
{
	struct gfix f;
	struct gfix_held *a = calloc(GET_FRAMES, sizeof(*a));
	uint64_t n = 0, seed = 42;
	unsigned failures = 0;

	ck_assert_ptr_nonnull(a);
	gfix_init(&f, GET_FRAMES, 1, HA_INIT_FREE);
	while (failures < 64) {
		unsigned order = gfix_rng_below(&seed, 11);
		ha_frame_t fr;
		bool rec;

		if (ha_guest_get(&f.g, 0, order, 0, &fr, &rec) != HA_OK) {
			failures++;
			continue;
		}
		gfix_mark(&f, fr, order, true);
		a[n].frame = fr;
		a[n++].order = order;
	}
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), GET_FRAMES - f.nheld);
	/* Order 0 always fits while anything is free. */
	while (f.nheld < GET_FRAMES) {
		a[n].frame = gfix_get_ok(&f, 0, 0, 0, NULL);
		a[n++].order = 0;
	}
	gfix_assert_get_fails(&f, 0, 0, HA_ENOMEM);
	gfix_shuffle(a, n, &seed);
	for (uint64_t i = 0; i < n; i++)
		gfix_put_ok(&f, 0, a[i].frame, a[i].order);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), GET_FRAMES);
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), 20);
	gfix_fini(&f);
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

	gfix_init(&f, 16 * 512, 1, HA_INIT_FREE);
	a = gfix_get_ok(&f, 0, order, 0, NULL);
	b = gfix_get_ok(&f, 0, order, 0, NULL);
	gfix_put_ok(&f, 0, a, order);
	gfix_assert_put_fails(&f, a.v, order, HA_EFAULT);
	/* The neighbour is untouched by the failed put. */
	gfix_put_ok(&f, 0, b, order);
	gfix_assert_put_fails(&f, b.v, order, HA_EFAULT);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 16 * 512);
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), 16);
	gfix_fini(&f);
}
END_TEST

START_TEST(test_put_never_allocated)
{
	struct gfix f;

	gfix_init(&f, 16 * 512, 1, HA_INIT_FREE);
	for (unsigned o = 0; o <= HA_MAX_ORDER; o++)
		gfix_assert_put_fails(&f, 2048, o, HA_EFAULT);
	/* A 4 KiB frame next to an allocated one is still free. */
	ha_frame_t a = gfix_get_ok(&f, 0, 0, 0, NULL);

	gfix_assert_put_fails(&f, a.v ^ 1, 0, HA_EFAULT);
	/* A larger block around an allocated frame is not allocated. */
	gfix_assert_put_fails(&f, a.v & ~7ull, 3, HA_EFAULT);
	gfix_put_ok(&f, 0, a, 0);
	gfix_fini(&f);
}
END_TEST

START_TEST(test_put_range)
{
	struct gfix f;
	uint64_t frames = 5 * 512;

	gfix_init(&f, frames, 1, HA_INIT_FREE);
	gfix_get_ok(&f, 0, HA_MAX_ORDER, 0, NULL);
	gfix_get_ok(&f, 0, HA_MAX_ORDER, 0, NULL);
	gfix_get_ok(&f, 0, HA_HUGE_ORDER, 0, NULL);
	gfix_assert_put_fails(&f, frames, 0, HA_ERANGE);
	gfix_assert_put_fails(&f, frames + 1024, HA_MAX_ORDER, HA_ERANGE);
	gfix_assert_put_fails(&f, UINT64_MAX, 0, HA_ERANGE);
	gfix_assert_put_fails(&f, 1, 1, HA_ERANGE);
	gfix_assert_put_fails(&f, 4, 3, HA_ERANGE);
	gfix_assert_put_fails(&f, 256, HA_HUGE_ORDER, HA_ERANGE);
	gfix_assert_put_fails(&f, 512, HA_MAX_ORDER, HA_ERANGE);
	/* An order-10 block would need child 5, which does not exist. */
	gfix_assert_put_fails(&f, 2048, HA_MAX_ORDER, HA_ERANGE);
	gfix_assert_put_fails(&f, 0, HA_MAX_ORDER + 1, HA_EINVAL);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 0);
	gfix_fini(&f);
}
END_TEST

/* A huge frame may be freed in 4 KiB pieces (the kernel splits pages). */
START_TEST(test_put_split_huge)
{
	struct gfix f;
	struct gfix_held a[512];
	uint64_t seed = 7;
	ha_frame_t h;

	gfix_init(&f, 8 * 512, 1, HA_INIT_FREE);
	h = gfix_get_ok(&f, 0, HA_HUGE_ORDER, 0, NULL);
	ck_assert(ha_child_huge(f.g.children[h.v / 512]));
	/* The test now holds 512 single frames instead of one block. */
	for (unsigned i = 0; i < 512; i++) {
		a[i].frame = ha_frame(h.v + i);
		a[i].order = 0;
	}
	gfix_shuffle(a, 512, &seed);
	gfix_put_ok(&f, 0, a[0].frame, 0);
	ck_assert(!ha_child_huge(f.g.children[h.v / 512]));
	/* no longer a huge frame, and the piece is gone */
	gfix_assert_put_fails(&f, h.v, HA_HUGE_ORDER, HA_EFAULT);
	gfix_assert_put_fails(&f, a[0].frame.v, 0, HA_EFAULT);
	for (unsigned i = 1; i < 512; i++) {
		gfix_put_ok(&f, 0, a[i].frame, 0);
		if (i == 100)
			ck_assert_uint_eq(ha_child_free(f.g.children[h.v >> 9]),
					  101);
	}
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 8 * 512);
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), 8);
	/* The child is whole again. */
	for (unsigned i = 0; i < 8; i++)
		gfix_get_ok(&f, 0, HA_HUGE_ORDER, 0, NULL);
	gfix_fini(&f);
}
END_TEST

/* An order-10 block freed as one huge frame plus pieces of every order. */
START_TEST(test_put_split_order10)
{
	struct gfix f;
	ha_frame_t p;
	uint64_t off, free;

	gfix_init(&f, 8 * 512, 1, HA_INIT_FREE);
	p = gfix_get_ok(&f, 0, HA_MAX_ORDER, 0, NULL);
	ck_assert_uint_eq(p.v % 1024, 0);
	ck_assert(ha_child_huge(f.g.children[p.v / 512]));
	ck_assert(ha_child_huge(f.g.children[p.v / 512 + 1]));
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), 6);
	/* From here on the test tracks the pieces itself. */
	gfix_mark(&f, p, HA_MAX_ORDER, false);
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
	gfix_assert_put_fails(&f, p.v + 512, 8, HA_EFAULT);
	ck_assert_int_eq(ha_guest_put(&f.g, 0, ha_frame(off), 0), HA_OK);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 8 * 512);
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), 8);
	for (unsigned i = 0; i < 4; i++)
		gfix_get_ok(&f, 0, HA_MAX_ORDER, 0, NULL);
	gfix_fini(&f);
}
END_TEST

/* ---- kinds ---- */

/* With enough trees, each kind of a CPU lives in its own tree, and the
 * tree word records the kind. */
START_TEST(test_kinds_separate_trees)
{
	struct gfix f;
	ha_frame_t fixed, movable, huge, other;

	gfix_init(&f, 6 * 4096, 2, HA_INIT_FREE);
	ck_assert(f.g.use_kinds);
	fixed = gfix_get_ok(&f, 0, 0, 0, NULL);
	movable = gfix_get_ok(&f, 0, 0, HA_GET_MOVABLE, NULL);
	huge = gfix_get_ok(&f, 0, HA_HUGE_ORDER, 0, NULL);
	other = gfix_get_ok(&f, 1, 0, 0, NULL);
	ck_assert_uint_ne(gfix_tree_of(fixed), gfix_tree_of(movable));
	ck_assert_uint_ne(gfix_tree_of(fixed), gfix_tree_of(huge));
	ck_assert_uint_ne(gfix_tree_of(movable), gfix_tree_of(huge));
	ck_assert_uint_ne(gfix_tree_of(other), gfix_tree_of(fixed));
	ck_assert_uint_ne(gfix_tree_of(other), gfix_tree_of(movable));
	ck_assert_uint_ne(gfix_tree_of(other), gfix_tree_of(huge));
	ck_assert_uint_eq(ha_tree_kind(f.g.trees[gfix_tree_of(fixed)]),
			  HA_KIND_FIXED);
	ck_assert_uint_eq(ha_tree_kind(f.g.trees[gfix_tree_of(movable)]),
			  HA_KIND_MOVABLE);
	ck_assert_uint_eq(ha_tree_kind(f.g.trees[gfix_tree_of(huge)]),
			  HA_KIND_HUGE);
	ck_assert(ha_tree_reserved(f.g.trees[gfix_tree_of(movable)]));
	/* Same kind, same CPU: same tree. */
	ck_assert_uint_eq(
		gfix_tree_of(gfix_get_ok(&f, 0, 3, HA_GET_MOVABLE, NULL)),
		gfix_tree_of(movable));
	ck_assert_uint_eq(
		gfix_tree_of(gfix_get_ok(&f, 0, HA_MAX_ORDER, 0, NULL)),
		gfix_tree_of(huge));
	gfix_fini(&f);
}
END_TEST

/* Too few trees for kinds: everything of one CPU shares one tree. */
START_TEST(test_kinds_off)
{
	struct gfix f;
	ha_frame_t a, b, c;

	gfix_init(&f, 2 * 4096, 1, HA_INIT_FREE);
	ck_assert(!f.g.use_kinds);
	a = gfix_get_ok(&f, 0, 0, 0, NULL);
	b = gfix_get_ok(&f, 0, 0, HA_GET_MOVABLE, NULL);
	c = gfix_get_ok(&f, 0, HA_HUGE_ORDER, 0, NULL);
	ck_assert_uint_eq(gfix_tree_of(a), gfix_tree_of(b));
	ck_assert_uint_eq(gfix_tree_of(a), gfix_tree_of(c));
	gfix_fini(&f);
}
END_TEST

/* Kinds steer placement but never make memory unreachable. */
START_TEST(test_kinds_fallback)
{
	struct gfix f;
	uint64_t frames = 6 * 4096;

	gfix_init(&f, frames, 2, HA_INIT_FREE);
	gfix_get_ok(&f, 0, 0, 0, NULL);
	gfix_get_ok(&f, 0, HA_HUGE_ORDER, 0, NULL);
	gfix_get_ok(&f, 1, 0, 0, NULL);
	while (f.nheld < frames)
		gfix_get_ok(&f, 0, 0, HA_GET_MOVABLE, NULL);
	gfix_assert_get_fails(&f, 0, 0, HA_ENOMEM);
	gfix_assert_get_fails(&f, 1, 0, HA_ENOMEM);
	gfix_fini(&f);
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
