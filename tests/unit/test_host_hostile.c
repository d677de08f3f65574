// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the host side against a hostile or broken guest:
 * attach's validation of untrusted metadata (one corruption per case, and
 * the legal edges next to them), quarantine, words corrupted while the
 * host is attached, and random metadata under random operations. The
 * recording embedder is host_fixture.h.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "host_fixture.h"

/* ---- attach ---- */

/* Hostile or broken regions at attach: one corruption per case. */
enum attach_corruption {
	AC_MAGIC,
	AC_TRUNCATED,
	AC_RAM_TOO_SMALL,
	AC_BASE_BEYOND_RAM,
	AC_META_INSIDE,
	AC_META_STRADDLES,
	AC_TREE_FREE,
	AC_TREE_FREE_PARTIAL,
	AC_TREE_KIND,
	AC_CHILD_FREE,
	AC_CHILD_HUGE_FREE,
	AC_CHILD_GARBAGE,
};

static const struct attach_case {
	const char *name;
	enum attach_corruption what;
	enum ha_bad_reason reason;
	uint64_t index;
} attach_cases[] = {
	{ "magic", AC_MAGIC, HA_BAD_MAGIC, 0 },
	{ "truncated", AC_TRUNCATED, HA_BAD_TRUNCATED, 0 },
	{ "range beyond RAM", AC_RAM_TOO_SMALL, HA_BAD_RANGE, 0 },
	{ "base beyond RAM", AC_BASE_BEYOND_RAM, HA_BAD_RANGE, 0 },
	{ "metadata inside range", AC_META_INSIDE, HA_BAD_OVERLAP, 0 },
	{ "metadata straddles base", AC_META_STRADDLES, HA_BAD_OVERLAP, 0 },
	{ "tree free > 4096", AC_TREE_FREE, HA_BAD_TREE, 2 },
	{ "tree free > partial tree", AC_TREE_FREE_PARTIAL, HA_BAD_TREE, 16 },
	{ "tree kind 3", AC_TREE_KIND, HA_BAD_TREE, 5 },
	{ "child free 600", AC_CHILD_FREE, HA_BAD_CHILD, 77 },
	{ "child huge with free", AC_CHILD_HUGE_FREE, HA_BAD_CHILD, 130 },
	{ "child all ones", AC_CHILD_GARBAGE, HA_BAD_CHILD, 131 },
};

START_TEST(test_attach_bad)
{
	const struct attach_case *ac = &attach_cases[_i];
	struct hfix f;
	struct ha_bad bad = { HA_BAD_NONE, 0, 0 };
	uint64_t meta_len, meta_frame = HFIX_META_FRAME, ram;
	uint64_t want_value = 0;
	int r;

	/* 132 children: 16 full trees, a 17th with 4; metadata > 2 frames */
	hfix_guest(&f, 132, 1);
	meta_len = f.meta_len;
	ram = HFIX_BASE + f.frames;
	ck_assert_uint_gt(f.meta_len, 2 * HA_FRAME_SIZE);
	switch (ac->what) {
	case AC_MAGIC:
		f.g.hdr->magic = 0;
		want_value = 0;
		break;
	case AC_TRUNCATED:
		meta_len = f.meta_len - 64;
		want_value = meta_len;
		break;
	case AC_RAM_TOO_SMALL:
		ram = HFIX_BASE + f.frames - 1;
		want_value = HFIX_BASE;
		break;
	case AC_BASE_BEYOND_RAM:
		f.g.hdr->base_frame = 1ull << 30;
		want_value = 1ull << 30;
		break;
	case AC_META_INSIDE:
		meta_frame = HFIX_BASE + 100;
		want_value = meta_frame;
		break;
	case AC_META_STRADDLES:
		/* 3 frames of metadata starting 2 frames below the base */
		meta_frame = HFIX_BASE - 2;
		want_value = meta_frame;
		break;
	case AC_TREE_FREE:
		f.g.trees[2] = ha_tree_make(4097, false, 0);
		want_value = f.g.trees[2];
		break;
	case AC_TREE_FREE_PARTIAL:
		f.g.trees[16] = ha_tree_make(4 * 512 + 1, false, 0);
		want_value = f.g.trees[16];
		break;
	case AC_TREE_KIND:
		f.g.trees[5] = ha_tree_make(4096, false, 3);
		want_value = f.g.trees[5];
		break;
	case AC_CHILD_FREE:
		f.g.children[77] = ha_child_make(600, false, false);
		want_value = f.g.children[77];
		break;
	case AC_CHILD_HUGE_FREE:
		f.g.children[130] = ha_child_make(1, true, true);
		want_value = f.g.children[130];
		break;
	case AC_CHILD_GARBAGE:
		f.g.children[131] = 0xffff;
		want_value = 0xffff;
		break;
	}
	r = ha_host_attach(&f.h, f.meta, meta_len, meta_frame, ram, &f.env,
			   f.state, &bad);
	ck_assert_msg(r == HA_EBADMSG, "%s: attach returned %d", ac->name, r);
	ck_assert_msg(bad.reason == ac->reason, "%s: reason %s", ac->name,
		      ha_bad_str(bad.reason));
	ck_assert_uint_eq(bad.index, ac->index);
	ck_assert_uint_eq(bad.value, want_value);
	ck_assert_uint_eq(f.rec->ncalls, 0);
	hfix_fini(&f);
}
END_TEST

/* Edges that are legal: metadata right below the range, range ending at
 * the end of RAM, metadata after the range. */
START_TEST(test_attach_edges_ok)
{
	struct hfix f;
	struct ha_bad bad;
	uint64_t ram;

	hfix_guest(&f, 132, 1);
	ram = HFIX_BASE + f.frames;
	ck_assert_int_eq(ha_host_attach(&f.h, f.meta, f.meta_len, HFIX_BASE - 3,
					ram, &f.env, f.state, &bad),
			 HA_OK);
	ck_assert_int_eq(ha_host_attach(&f.h, f.meta, f.meta_len, ram, ram + 3,
					&f.env, f.state, &bad),
			 HA_OK);
	hfix_fini(&f);
}
END_TEST

/* ---- quarantine ---- */

/* 3 trees; hard frames 0..3, soft frames 4..7, the rest installed. */
static void fix_mixed(struct hfix *f)
{
	hfix_init(f, 24, 1);
	ck_assert_int_eq(ha_host_reclaim_hard(&f->h, 4), 4);
	ck_assert_int_eq(ha_host_reclaim_soft(&f->h, 4), 4);
	for (uint64_t c = 0; c < 8; c++)
		ck_assert_int_eq(ha_host_state(&f->h, ha_huge(c)),
				 c < 4 ? HA_HS_HARD : HA_HS_SOFT);
	hfix_assert_backing_consistent(f);
}

/* After quarantine: everything populated, no reclaim any more, installs
 * succeed without doing anything. */
static void assert_quarantined(struct hfix *f)
{
	struct ha_host_counters k = hfix_counters(f);
	unsigned calls = f->rec->ncalls;

	ck_assert(ha_host_quarantined(&f->h));
	for (uint64_t c = 0; c < f->children; c++) {
		ck_assert_msg(f->rec->backed[c], "frame %llu left discarded",
			      (unsigned long long)c);
		ck_assert_int_eq(ha_host_state(&f->h, ha_huge(c)),
				 HA_HS_INSTALLED);
	}
	ck_assert_uint_eq(k.hard_now, 0);
	ck_assert_uint_eq(k.soft_now, 0);
	ck_assert_int_eq(ha_host_reclaim_hard(&f->h, 1), HA_EPERM);
	ck_assert_int_eq(ha_host_reclaim_soft(&f->h, 0), HA_EPERM);
	ck_assert_int_eq(ha_host_return(&f->h, 1), HA_EPERM);
	for (uint64_t c = 0; c < f->children; c++)
		ck_assert_int_eq(ha_host_install(&f->h, ha_huge(c)), HA_OK);
	ck_assert_int_eq(ha_host_install(&f->h, ha_huge(f->children)),
			 HA_ERANGE);
	/* idempotent, and nothing left to populate */
	ck_assert_int_eq(ha_host_quarantine(&f->h), HA_OK);
	ck_assert_uint_eq(f->rec->ncalls, calls);
	ck_assert_int_eq(f->rec->depth, 0);
	hfix_assert_backing_consistent(f);
}

START_TEST(test_quarantine)
{
	struct hfix f;

	fix_mixed(&f);
	ck_assert_int_eq(ha_host_quarantine(&f.h), HA_OK);
	/* one populate call for the run 0..7 */
	ck_assert_uint_eq(f.rec->ncalls, 3);
	hfix_assert_call(&f, 2, true, 0, 8);
	/* hard frames went back to the guest, soft ones lost the bit */
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), f.frames);
	for (uint64_t c = 0; c < 24; c++)
		ck_assert_uint_eq(hfix_child(&f, c), HA_CHILD_FRAMES);
	ck_assert_int_eq(ha_host_bad(&f.h)->reason, HA_BAD_NONE);
	assert_quarantined(&f);
	hfix_fini(&f);
}
END_TEST

/* A guest that corrupts its words while attached: the next operation
 * that reads the word reports it and quarantines the region. */
enum live_op {
	OP_SCAN,
	OP_HARD,
	OP_SOFT,
	OP_RETURN,
	OP_INSTALL
};

static const struct live_case {
	const char *name;
	bool tree; /* corrupt a tree word instead of a child word */
	uint64_t index;
	uint16_t value;
	enum live_op op;
	uint64_t arg;
	enum ha_bad_reason reason;
} live_cases[] = {
	{ "free 600, scan", false, 10, 600, OP_SCAN, 0, HA_BAD_CHILD },
	{ "huge with free, scan", false, 12, HA_CHILD_HUGE | 3, OP_SCAN, 0,
	  HA_BAD_CHILD },
	{ "free 600 in a soft frame, hard reclaim", false, 4, 600, OP_HARD, 1,
	  HA_BAD_CHILD },
	{ "free 513, soft reclaim", false, 16, 513, OP_SOFT, 0, HA_BAD_CHILD },
	{ "huge with free, install", false, 4, HA_CHILD_HUGE | 5, OP_INSTALL, 4,
	  HA_BAD_CHILD },
	{ "hard frame lost its bit, return", false, 0, HA_CHILD_HUGE, OP_RETURN,
	  1, HA_BAD_STATE },
	{ "hard frame lost its bit, install", false, 2, HA_CHILD_HUGE,
	  OP_INSTALL, 2, HA_BAD_STATE },
	{ "hard frame made free, return", false, 1,
	  HA_CHILD_FRAMES | HA_CHILD_RECLAIMED, OP_RETURN, 4, HA_BAD_STATE },
	{ "hard frame made free, hard reclaim", false, 1,
	  HA_CHILD_FRAMES | HA_CHILD_RECLAIMED, OP_HARD, 100, HA_BAD_STATE },
	{ "soft frame lost its bit, hard reclaim", false, 5, HA_CHILD_FRAMES,
	  OP_HARD, 2, HA_BAD_STATE },
	{ "soft frame lost its bit, install", false, 6, 17, OP_INSTALL, 6,
	  HA_BAD_STATE },
	{ "installed frame gained the bit, hard reclaim", false, 8,
	  HA_CHILD_FRAMES | HA_CHILD_RECLAIMED, OP_HARD, 100, HA_BAD_STATE },
	{ "tree free 5000, hard reclaim", true, 1, 5000, OP_HARD, 100,
	  HA_BAD_TREE },
	{ "tree kind 3, soft reclaim", true, 0, 3u << 14 | 2048, OP_SOFT, 0,
	  HA_BAD_TREE },
	{ "tree full while a frame is hard, return", true, 0, 4096, OP_RETURN,
	  1, HA_BAD_TREE },
};

START_TEST(test_live_corrupt)
{
	const struct live_case *lc = &live_cases[_i];
	struct hfix f;
	int64_t r = 0;
	struct ha_host_scan s;
	const struct ha_bad *bad;

	fix_mixed(&f);
	if (lc->tree)
		f.g.trees[lc->index] = lc->value;
	else
		f.g.children[lc->index] = lc->value;
	switch (lc->op) {
	case OP_SCAN:
		r = ha_host_scan(&f.h, &s);
		break;
	case OP_HARD:
		r = ha_host_reclaim_hard(&f.h, lc->arg);
		break;
	case OP_SOFT:
		r = ha_host_reclaim_soft(&f.h, lc->arg);
		break;
	case OP_RETURN:
		r = ha_host_return(&f.h, lc->arg);
		break;
	case OP_INSTALL:
		r = ha_host_install(&f.h, ha_huge(lc->arg));
		break;
	}
	ck_assert_msg(r == HA_EBADMSG, "%s: returned %lld", lc->name,
		      (long long)r);
	bad = ha_host_bad(&f.h);
	ck_assert_msg(bad->reason == lc->reason, "%s: reason %s", lc->name,
		      ha_bad_str(bad->reason));
	ck_assert_uint_eq(bad->index, lc->index);
	assert_quarantined(&f);
	/* The region stays readable (no crash, no wild index). */
	r = ha_host_scan(&f.h, &s);
	ck_assert(r == HA_OK || r == HA_EBADMSG);
	hfix_fini(&f);
}
END_TEST

/* ---- fuzz: random metadata, random operations ---- */

static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline unsigned rng_below(uint64_t *s, unsigned n)
{
	return (unsigned)(rng_next(s) % n);
}

/* A child word a guest might plausibly write; garbage one time in @odds. */
static uint16_t fuzz_child(uint64_t *s, unsigned odds)
{
	if (rng_below(s, odds) == 0)
		return (uint16_t)rng_next(s);
	switch (rng_below(s, 6)) {
	case 0:
		return HA_CHILD_HUGE | HA_CHILD_RECLAIMED;
	case 1:
		return HA_CHILD_FRAMES | HA_CHILD_RECLAIMED;
	case 2:
		return HA_CHILD_HUGE;
	case 3:
		return (uint16_t)(rng_below(s, 513) |
				  (rng_below(s, 2) ? HA_CHILD_RECLAIMED : 0));
	default:
		return HA_CHILD_FRAMES;
	}
}

/* A tree word: mostly the sum of its children, as a guest keeps it. */
static uint16_t fuzz_tree(struct hfix *f, uint64_t t, uint64_t *s,
			  unsigned odds)
{
	unsigned sum = 0;

	if (rng_below(s, odds) == 0)
		return (uint16_t)rng_next(s);
	for (uint64_t c = t * 8; c < (t + 1) * 8 && c < f->children; c++)
		sum += ha_child_free(f->g.children[c]);
	switch (rng_below(s, 4)) {
	case 0:
		return ha_tree_make(rng_below(s, 4097), true, rng_below(s, 3));
	case 1:
		return ha_tree_make(rng_below(s, 9) * 512, false, 0);
	default:
		return ha_tree_make(sum, false, rng_below(s, 3));
	}
}

struct fuzz_stats {
	unsigned attached, ops, badmsg, moved; /* moved: frames changed state */
};

static void fuzz_ops(struct hfix *f, uint64_t *s, struct fuzz_stats *st)
{
	uint64_t trees = (f->children + 7) / 8;

	for (uint64_t c = 0; c < f->children; c++)
		f->rec->backed[c] = ha_host_state(&f->h, ha_huge(c)) ==
				    HA_HS_INSTALLED;
	for (unsigned i = 0; i < 40; i++) {
		unsigned n = rng_below(s, 10);
		struct ha_host_scan scan;
		uint64_t c;
		int64_t r;

		/* the guest scribbles while the host works */
		if (rng_below(s, 3) == 0)
			f->g.children[rng_below(s, (unsigned)(trees * 8))] =
				fuzz_child(s, 8);
		if (rng_below(s, 8) == 0) {
			uint64_t t = rng_below(s, (unsigned)trees);

			f->g.trees[t] = fuzz_tree(f, t, s, 8);
		}
		switch (rng_below(s, 6)) {
		case 0:
			r = ha_host_reclaim_hard(&f->h, n);
			CHECK(r == HA_EPERM || r == HA_EBADMSG ||
			      (r >= 0 && r <= n));
			break;
		case 1:
			r = ha_host_reclaim_soft(&f->h, n);
			CHECK(r == HA_EPERM || r == HA_EBADMSG ||
			      (r >= 0 && (n == 0 || r <= n)));
			break;
		case 2:
			r = ha_host_return(&f->h, n);
			CHECK(r == HA_EPERM || r == HA_EBADMSG ||
			      (r >= 0 && r <= n));
			break;
		case 3:
			/* in range, and just past the end */
			c = rng_below(s, (unsigned)f->children + 2);
			r = ha_host_install(&f->h, ha_huge(c));
			CHECK(r == HA_OK || r == HA_ERANGE || r == HA_EPROTO ||
			      r == HA_EBADMSG);
			CHECK((r == HA_ERANGE) == (c >= f->children));
			break;
		case 4:
			r = ha_host_scan(&f->h, &scan);
			CHECK(r == HA_OK || r == HA_EBADMSG);
			if (r == HA_OK)
				CHECK(scan.hard + scan.soft <= f->children);
			break;
		default:
			r = HA_OK;
			if (rng_below(s, 10) == 0)
				r = ha_host_quarantine(&f->h);
			CHECK(r == HA_OK);
			break;
		}
		st->ops++;
		if (r > 0)
			st->moved++;
		if (r == HA_EBADMSG) {
			st->badmsg++;
			CHECK(ha_host_quarantined(&f->h));
			CHECK(ha_host_bad(&f->h)->reason != HA_BAD_NONE);
			CHECK(ha_host_bad(&f->h)->reason < HA_BAD_REASON_COUNT);
		}
		if (ha_host_quarantined(&f->h))
			for (c = 0; c < f->children; c++)
				CHECK(f->rec->backed[c]);
		hfix_assert_backing_consistent(f);
	}
}

START_TEST(test_fuzz)
{
	static const uint64_t sizes[] = { 1, 8, 13, 45 };
	uint64_t seed = 0x5eed0000u;
	struct fuzz_stats st = { 0, 0, 0, 0 };
	unsigned iters = 3000;

	seed += (unsigned)_i;
	for (unsigned it = 0; it < iters; it++) {
		struct hfix f;
		struct ha_bad bad;
		unsigned mode = rng_below(&seed, 10);
		uint64_t trees, ram, meta_frame = 0;
		int r;

		hfix_guest(&f, sizes[rng_below(&seed, 4)], 1);
		trees = (f.children + 7) / 8;
		ram = HFIX_BASE + f.frames;
		if (mode == 0) {
			/* everything random, header included */
			for (uint64_t b = 0; b < f.meta_len; b++)
				f.meta[b] = (unsigned char)rng_next(&seed);
		} else if (mode == 1) {
			/* valid header, random words */
			for (uint64_t b = 64; b < f.meta_len; b++)
				f.meta[b] = (unsigned char)rng_next(&seed);
		} else if (mode <= 3) {
			/* one header bit flipped, odd placements */
			uint64_t *w = (uint64_t *)(void *)f.meta;

			w[rng_below(&seed, 8)] ^= 1ull << rng_below(&seed, 64);
			meta_frame = rng_below(&seed, (unsigned)ram + 8);
			ram -= rng_below(&seed, 2);
		} else {
			/* valid header, plausible words, rare garbage */
			for (uint64_t c = 0; c < trees * 8; c++)
				f.g.children[c] = fuzz_child(&seed, 256);
			for (uint64_t t = 0; t < trees; t++)
				f.g.trees[t] = fuzz_tree(&f, t, &seed, 64);
		}
		r = ha_host_attach(&f.h, f.meta, f.meta_len, meta_frame, ram,
				   &f.env, f.state, &bad);
		if (r == HA_OK) {
			st.attached++;
			fuzz_ops(&f, &seed, &st);
		} else {
			CHECK(r == HA_EBADMSG);
			CHECK(bad.reason != HA_BAD_NONE);
			CHECK(bad.reason < HA_BAD_REASON_COUNT);
			CHECK(f.rec->ncalls == 0);
		}
		hfix_fini(&f);
	}
	/* the fuzzer got past attach, moved frames and found corruption
	 * often enough to mean something */
	ck_assert_uint_gt(st.attached, iters / 8);
	ck_assert_uint_gt(st.moved, iters / 8);
	ck_assert_uint_gt(st.badmsg, iters / 8);
}
END_TEST

static Suite *host_hostile_suite(void)
{
	Suite *s = suite_create("host_hostile");
	TCase *tc;

	tc = tcase_create("attach");
	tcase_add_loop_test(
		tc, test_attach_bad, 0,
		(int)(sizeof(attach_cases) / sizeof(attach_cases[0])));
	tcase_add_test(tc, test_attach_edges_ok);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_add_test(tc, test_quarantine);
	tcase_add_loop_test(tc, test_live_corrupt, 0,
			    (int)(sizeof(live_cases) / sizeof(live_cases[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("fuzz");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_fuzz, 0, 4);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(host_hostile_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
