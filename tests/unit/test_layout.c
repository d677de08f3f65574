// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the shared metadata format: ha_layout_compute(),
 * ha_meta_size(), the word helpers of ha_layout.h, ha_strerror(),
 * ha_bad_str() and ha_validate_header().
 */
#include <check.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ha_layout.h"
#include "ha_validate.h"

/* ---- ha_layout_compute ---- */

/* Legal frame counts and the layout a reader of docs/protocol.md would
 * compute by hand (0 = "not spelled out, check the invariants only"). */
static const struct {
	uint64_t frames;
	uint64_t children, trees;
	uint64_t children_offset, bitfields_offset, total_size;
} legal[] = {
	/* one child: one tree, 8 child slots (16 bytes) */
	{ 512, 1, 1, 128, 192, 192 + 64 },
	/* one full tree */
	{ 4096, 8, 1, 128, 192, 192 + 8 * 64 },
	/* one child more: a second, partial tree */
	{ 4608, 9, 2, 128, 192, 192 + 9 * 64 },
	/* 45 children, 6 trees: 12 bytes of trees, 96 of child slots */
	{ 45 * 512, 45, 6, 128, 256, 256 + 45 * 64 },
	/* 32 trees: 64 bytes of trees fill one line exactly */
	{ 32 * 4096, 256, 32, 128, 128 + 512, 640 + 256 * 64 },
	/* 33 trees: 66 bytes of trees spill into a second line */
	{ 33 * 4096, 264, 33, 192, 192 + 576, 768 + 264 * 64 },
	/* 1 GiB */
	{ 1ull << 18, 512, 64, 192, 192 + 1024, 1216 + 512 * 64 },
	/* the largest legal region */
	{ HA_MAX_FRAMES, HA_MAX_FRAMES / 512, HA_MAX_FRAMES / 4096, 0, 0, 0 },
};

START_TEST(test_layout_legal)
{
	uint64_t frames = legal[_i].frames;
	struct ha_layout l;

	memset(&l, 0xa5, sizeof(l));
	ck_assert_int_eq(ha_layout_compute(frames, &l), HA_OK);
	ck_assert_uint_eq(l.frames, frames);
	ck_assert_uint_eq(l.children, legal[_i].children);
	ck_assert_uint_eq(l.trees, legal[_i].trees);

	/* Every array starts on a cache line, right after the previous
	 * one, and nothing overlaps. */
	ck_assert_uint_eq(l.trees_offset, 64);
	ck_assert_uint_eq(l.children_offset % HA_ALIGN, 0);
	ck_assert_uint_eq(l.bitfields_offset % HA_ALIGN, 0);
	ck_assert_uint_eq(l.total_size % HA_ALIGN, 0);
	ck_assert_uint_ge(l.trees_offset, sizeof(struct ha_header));
	ck_assert_uint_ge(l.children_offset,
			  l.trees_offset + l.trees * sizeof(ha_tree_word));
	ck_assert_uint_lt(l.children_offset,
			  l.trees_offset + l.trees * sizeof(ha_tree_word) +
				  HA_ALIGN);
	ck_assert_uint_ge(l.bitfields_offset,
			  l.children_offset + l.trees * HA_TREE_CHILDREN *
						      sizeof(ha_child_word));
	ck_assert_uint_lt(l.bitfields_offset,
			  l.children_offset +
				  l.trees * HA_TREE_CHILDREN *
					  sizeof(ha_child_word) +
				  HA_ALIGN);
	ck_assert_uint_eq(l.total_size,
			  l.bitfields_offset +
				  l.children * sizeof(struct ha_bitfield));

	if (legal[_i].total_size) {
		ck_assert_uint_eq(l.children_offset, legal[_i].children_offset);
		ck_assert_uint_eq(l.bitfields_offset,
				  legal[_i].bitfields_offset);
		ck_assert_uint_eq(l.total_size, legal[_i].total_size);
	}
	ck_assert_uint_eq(ha_meta_size(frames), l.total_size);
}
END_TEST

static const uint64_t illegal_frames[] = {
	0,
	1,
	511,
	513,
	1000,
	512 * 3 + 1,
	HA_MAX_FRAMES + 512,
	HA_MAX_FRAMES * 2,
	UINT64_MAX - 511, /* a multiple of 512, far too big */
	UINT64_MAX,
};

START_TEST(test_layout_illegal)
{
	struct ha_layout l;

	ck_assert_int_eq(ha_layout_compute(illegal_frames[_i], &l), HA_EINVAL);
	ck_assert_uint_eq(ha_meta_size(illegal_frames[_i]), 0);
}
END_TEST

/* Overhead promised by the design: 64 bytes of bitfield per 2 MiB plus a
 * few bytes of words, i.e. well below 0.01 % of the managed memory. */
START_TEST(test_layout_overhead)
{
	uint64_t frames = 1ull << 20; /* 4 GiB */
	uint64_t bytes = frames * HA_FRAME_SIZE;
	uint64_t meta = ha_meta_size(frames);

	ck_assert_uint_gt(meta, 0);
	ck_assert_uint_lt(meta * 10000, bytes);
	/* Doubling the region at most doubles the metadata (plus a line). */
	ck_assert_uint_le(ha_meta_size(2 * frames), 2 * meta + HA_ALIGN);
}
END_TEST

/* ---- word helpers ---- */

START_TEST(test_child_word)
{
	for (unsigned free = 0; free <= HA_CHILD_FRAMES; free++)
		for (unsigned f = 0; f < 4; f++) {
			bool huge = f & 1, rec = f & 2;
			ha_child_word c = ha_child_make(free, huge, rec);

			ck_assert_uint_eq(ha_child_free(c), free);
			ck_assert(ha_child_huge(c) == huge);
			ck_assert(ha_child_reclaimed(c) == rec);
			/* Huge children have no free frames. */
			ck_assert(ha_child_valid(c) == (!huge || free == 0));
		}
	/* A counter above 512 is never valid, whatever the flags. */
	for (unsigned free = HA_CHILD_FRAMES + 1; free <= HA_CHILD_FREE_MASK;
	     free += 37) {
		ck_assert(!ha_child_valid(ha_child_make(free, false, false)));
		ck_assert(!ha_child_valid(ha_child_make(free, false, true)));
	}
	/* The states of docs/protocol.md are valid words. */
	ck_assert(ha_child_valid(HA_CHILD_PADDING));
	ck_assert(ha_child_valid(HA_CHILD_HUGE | HA_CHILD_RECLAIMED));
	ck_assert(ha_child_valid(HA_CHILD_FRAMES | HA_CHILD_RECLAIMED));
	ck_assert(ha_child_huge(HA_CHILD_PADDING));
	ck_assert_uint_eq(ha_child_free(HA_CHILD_PADDING), 0);
}
END_TEST

START_TEST(test_tree_word)
{
	static const unsigned frees[] = { 0, 1, 511, 512, 4095, 4096 };

	for (unsigned i = 0; i < sizeof(frees) / sizeof(frees[0]); i++)
		for (unsigned kind = 0; kind < HA_KIND_COUNT; kind++)
			for (unsigned res = 0; res < 2; res++) {
				ha_tree_word t =
					ha_tree_make(frees[i], res, kind);

				ck_assert_uint_eq(ha_tree_free(t), frees[i]);
				ck_assert(ha_tree_reserved(t) == (res != 0));
				ck_assert_uint_eq(ha_tree_kind(t), kind);
			}
	/* 4096 free frames (a full tree) fit in the 13-bit field. */
	ck_assert_uint_ge(HA_TREE_FREE_MASK, HA_TREE_FRAMES);
}
END_TEST

/* ---- names ---- */

static const int all_errors[] = {
	HA_OK,	   HA_EPERM,  HA_EAGAIN, HA_ENOMEM,  HA_EFAULT,
	HA_EINVAL, HA_ERANGE, HA_EPROTO, HA_EBADMSG, HA_EIO,
};

START_TEST(test_strerror)
{
	unsigned n = sizeof(all_errors) / sizeof(all_errors[0]);
	const char *unknown = ha_strerror(-9999);

	ck_assert_ptr_nonnull(unknown);
	ck_assert_str_eq(ha_strerror(1), unknown);
	ck_assert_str_eq(ha_strerror(-2), unknown);
	ck_assert_str_eq(ha_strerror(HA_OK), "success");
	/* Every code has its own, non-empty name. */
	for (unsigned i = 0; i < n; i++) {
		const char *s = ha_strerror(all_errors[i]);

		ck_assert_ptr_nonnull(s);
		ck_assert_uint_gt(strlen(s), 0);
		ck_assert_str_ne(s, unknown);
		for (unsigned j = 0; j < i; j++)
			ck_assert_str_ne(s, ha_strerror(all_errors[j]));
	}
	/* Codes are negative errno values usable with strerror(-r). */
	ck_assert_int_eq(HA_ENOMEM, -12);
	ck_assert_int_eq(HA_EINVAL, -22);
	ck_assert_int_eq(HA_EBADMSG, -74);
}
END_TEST

START_TEST(test_bad_str)
{
	const char *unknown = ha_bad_str(HA_BAD_REASON_COUNT);

	ck_assert_ptr_nonnull(unknown);
	ck_assert_str_eq(ha_bad_str((enum ha_bad_reason) - 1), unknown);
	for (unsigned i = 0; i < HA_BAD_REASON_COUNT; i++) {
		const char *s = ha_bad_str((enum ha_bad_reason)i);

		ck_assert_ptr_nonnull(s);
		ck_assert_uint_gt(strlen(s), 0);
		ck_assert_str_ne(s, unknown);
		for (unsigned j = 0; j < i; j++)
			ck_assert_str_ne(s, ha_bad_str((enum ha_bad_reason)j));
	}
}
END_TEST

/* ---- ha_validate_header ---- */

#define REGION_FRAMES (45 * 512ull)
#define REGION_BASE   (3ull << 10)

/* A region buffer with room to misalign it by up to 64 bytes. */
struct region {
	unsigned char *buf;
	struct ha_layout l;
	uint64_t len;
};

static void region_make(struct region *r)
{
	struct ha_header *h;

	ck_assert_int_eq(ha_layout_compute(REGION_FRAMES, &r->l), HA_OK);
	r->len = r->l.total_size;
	r->buf = aligned_alloc(HA_ALIGN, r->len + HA_ALIGN);
	ck_assert_ptr_nonnull(r->buf);
	memset(r->buf, 0, r->len + HA_ALIGN);
	h = (struct ha_header *)(void *)r->buf;
	h->magic = HA_MAGIC;
	h->version = HA_VERSION;
	h->header_size = sizeof(*h);
	h->tree_children = HA_TREE_CHILDREN;
	h->child_frames = HA_CHILD_FRAMES;
	h->base_frame = REGION_BASE;
	h->frames = REGION_FRAMES;
	h->trees_offset = r->l.trees_offset;
	h->children_offset = r->l.children_offset;
	h->bitfields_offset = r->l.bitfields_offset;
	h->total_size = r->l.total_size;
}

static void put_field(void *base, size_t off, unsigned width, uint64_t v)
{
	unsigned char *p = (unsigned char *)base + off;

	if (width == 2) {
		uint16_t x = (uint16_t)v;

		memcpy(p, &x, sizeof(x));
	} else if (width == 4) {
		uint32_t x = (uint32_t)v;

		memcpy(p, &x, sizeof(x));
	} else {
		memcpy(p, &v, sizeof(v));
	}
}

START_TEST(test_validate_ok)
{
	struct region r;
	struct ha_layout got;
	struct ha_bad bad = { HA_BAD_MAGIC, 7, 7 };

	region_make(&r);
	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(ha_validate_header(r.buf, r.len, &got, &bad), HA_OK);
	ck_assert_int_eq(bad.reason, HA_BAD_NONE);
	ck_assert_mem_eq(&got, &r.l, sizeof(got));
	/* Extra bytes after the region are fine. */
	ck_assert_int_eq(ha_validate_header(r.buf, r.len + 64, &got, &bad),
			 HA_OK);
	/* Base frame 0 and the largest aligned base are legal. */
	put_field(r.buf, offsetof(struct ha_header, base_frame), 8, 0);
	ck_assert_int_eq(ha_validate_header(r.buf, r.len, &got, &bad), HA_OK);
	put_field(r.buf, offsetof(struct ha_header, base_frame), 8,
		  HA_MAX_FRAMES);
	ck_assert_int_eq(ha_validate_header(r.buf, r.len, &got, &bad), HA_OK);
	free(r.buf);
}
END_TEST

#define HDR(f) offsetof(struct ha_header, f), sizeof(((struct ha_header *)0)->f)

/* One corruption of a valid region per case; "len" overrides the
 * readable length when nonzero, "misalign" shifts the region. */
static const struct bad_case {
	const char *name;
	size_t off;
	unsigned width;
	uint64_t val;
	uint64_t len;
	unsigned misalign;
	enum ha_bad_reason reason;
	uint64_t bad_value; /* UINT64_MAX: the corrupted value itself */
} bad_cases[] = {
	{ "shorter than a header", 0, 0, 0, 63, 0, HA_BAD_TRUNCATED, 63 },
	{ "no header at all", 0, 0, 0, 1, 0, HA_BAD_TRUNCATED, 1 },
	{ "shorter than the layout", 0, 0, 0, 3136 - 1, 0, HA_BAD_TRUNCATED,
	  3136 - 1 },
	{ "misaligned by 8", 0, 0, 0, 0, 8, HA_BAD_ALIGNMENT, 0 },
	{ "misaligned by 32", 0, 0, 0, 0, 32, HA_BAD_ALIGNMENT, 0 },
	{ "magic", HDR(magic), 0x314c4149, 0, 0, HA_BAD_MAGIC, UINT64_MAX },
	{ "magic zero", HDR(magic), 0, 0, 0, HA_BAD_MAGIC, UINT64_MAX },
	{ "version 0", HDR(version), 0, 0, 0, HA_BAD_VERSION, UINT64_MAX },
	{ "version 2", HDR(version), 2, 0, 0, HA_BAD_VERSION, UINT64_MAX },
	{ "header_size", HDR(header_size), 128, 0, 0, HA_BAD_GEOMETRY,
	  UINT64_MAX },
	{ "tree_children", HDR(tree_children), 32, 0, 0, HA_BAD_GEOMETRY,
	  UINT64_MAX },
	{ "child_frames", HDR(child_frames), 1024, 0, 0, HA_BAD_GEOMETRY,
	  UINT64_MAX },
	{ "frames 0", HDR(frames), 0, 0, 0, HA_BAD_FRAMES, UINT64_MAX },
	{ "frames not a multiple of 512", HDR(frames), REGION_FRAMES + 1, 0, 0,
	  HA_BAD_FRAMES, UINT64_MAX },
	{ "frames too big", HDR(frames), HA_MAX_FRAMES + 512, 0, 0,
	  HA_BAD_FRAMES, UINT64_MAX },
	{ "frames wrap", HDR(frames), UINT64_MAX - 511, 0, 0, HA_BAD_FRAMES,
	  UINT64_MAX },
	{ "base 2 MiB aligned", HDR(base_frame), 512, 0, 0, HA_BAD_BASE,
	  UINT64_MAX },
	{ "base odd", HDR(base_frame), 1025, 0, 0, HA_BAD_BASE, UINT64_MAX },
	{ "base beyond any RAM", HDR(base_frame), HA_MAX_FRAMES + 1024, 0, 0,
	  HA_BAD_RANGE, UINT64_MAX },
	{ "trees_offset", HDR(trees_offset), 128, 0, 0, HA_BAD_LAYOUT,
	  UINT64_MAX },
	{ "children_offset", HDR(children_offset), 64, 0, 0, HA_BAD_LAYOUT,
	  UINT64_MAX },
	{ "bitfields_offset", HDR(bitfields_offset), 1ull << 62, 0, 0,
	  HA_BAD_LAYOUT, UINT64_MAX },
	{ "total_size", HDR(total_size), 3136 + 64, 0, 0, HA_BAD_LAYOUT,
	  UINT64_MAX },
	/* frames that differ from what the rest of the header describes */
	{ "frames vs offsets", HDR(frames), 1ull << 30, 0, 0, HA_BAD_LAYOUT,
	  128 /* children_offset of the 45-child layout */ },
};

START_TEST(test_validate_bad)
{
	const struct bad_case *bc = &bad_cases[_i];
	struct region r;
	struct ha_layout got;
	struct ha_bad bad = { HA_BAD_NONE, 0, 0 };
	unsigned char *meta;
	uint64_t len;
	uint64_t want;

	region_make(&r);
	ck_assert_uint_eq(r.len, 3136);
	meta = r.buf + bc->misalign;
	if (bc->misalign)
		memmove(meta, r.buf, r.len);
	if (bc->width)
		put_field(meta, bc->off, bc->width, bc->val);
	len = bc->len ? bc->len : r.len;

	ck_assert_msg(ha_validate_header(meta, len, &got, &bad) == HA_EBADMSG,
		      "%s: accepted", bc->name);
	ck_assert_msg(bad.reason == bc->reason, "%s: reason %d (%s), want %d",
		      bc->name, bad.reason, ha_bad_str(bad.reason), bc->reason);
	if (bc->misalign)
		want = (uint64_t)(uintptr_t)meta;
	else if (bc->bad_value == UINT64_MAX)
		want = bc->val;
	else
		want = bc->bad_value;
	ck_assert_msg(bad.value == want, "%s: value %llu, want %llu", bc->name,
		      (unsigned long long)bad.value, (unsigned long long)want);
	free(r.buf);
}
END_TEST

/* Every reason the header validator can produce has a case above. */
START_TEST(test_validate_reasons_covered)
{
	static const enum ha_bad_reason header_reasons[] = {
		HA_BAD_TRUNCATED, HA_BAD_ALIGNMENT, HA_BAD_MAGIC,
		HA_BAD_VERSION,	  HA_BAD_GEOMETRY,  HA_BAD_FRAMES,
		HA_BAD_BASE,	  HA_BAD_RANGE,	    HA_BAD_LAYOUT,
	};
	unsigned ncases = sizeof(bad_cases) / sizeof(bad_cases[0]);

	for (unsigned i = 0;
	     i < sizeof(header_reasons) / sizeof(header_reasons[0]); i++) {
		bool found = false;

		for (unsigned j = 0; j < ncases; j++)
			found |= bad_cases[j].reason == header_reasons[i];
		ck_assert_msg(found, "no case for reason %s",
			      ha_bad_str(header_reasons[i]));
	}
}
END_TEST

/* The validator reads no byte beyond the header when the header is all
 * it was given (ASan checks the exact allocation). */
START_TEST(test_validate_header_only_buffer)
{
	struct region r;
	struct ha_layout got;
	struct ha_bad bad;
	struct ha_header *h = aligned_alloc(HA_ALIGN, sizeof(*h));

	region_make(&r);
	ck_assert_ptr_nonnull(h);
	memcpy(h, r.buf, sizeof(*h));
	ck_assert_int_eq(ha_validate_header(h, sizeof(*h), &got, &bad),
			 HA_EBADMSG);
	ck_assert_int_eq(bad.reason, HA_BAD_TRUNCATED);
	ck_assert_uint_eq(bad.value, sizeof(*h));
	free(h);
	free(r.buf);
}
END_TEST

static Suite *layout_suite(void)
{
	Suite *s = suite_create("layout");
	TCase *tc;

	tc = tcase_create("layout");
	tcase_add_loop_test(tc, test_layout_legal, 0,
			    (int)(sizeof(legal) / sizeof(legal[0])));
	tcase_add_loop_test(
		tc, test_layout_illegal, 0,
		(int)(sizeof(illegal_frames) / sizeof(illegal_frames[0])));
	tcase_add_test(tc, test_layout_overhead);
	suite_add_tcase(s, tc);

	tc = tcase_create("words");
	tcase_add_test(tc, test_child_word);
	tcase_add_test(tc, test_tree_word);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_test(tc, test_strerror);
	tcase_add_test(tc, test_bad_str);
	suite_add_tcase(s, tc);

	tc = tcase_create("validate");
	tcase_add_test(tc, test_validate_ok);
	tcase_add_loop_test(tc, test_validate_bad, 0,
			    (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(tc, test_validate_reasons_covered);
	tcase_add_test(tc, test_validate_header_only_buffer);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(layout_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
