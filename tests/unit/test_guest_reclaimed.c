// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the guest side of the reclaimed flag: gets report it for
 * every order (an order-10 block if either half has it) and prefer
 * installed memory; only the host clears it, gets, puts and splits keep
 * it; and the same driven by a real host (ha_host_reclaim_soft() and
 * ha_host_install()). The fixture is guest_fixture.h.
 */
#include <check.h>
#include <stdlib.h>

#include "guest_fixture.h"
#include "ha_host.h"

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

	gfix_init(&f, 8 * 512, 1, HA_INIT_FREE);
	for (uint64_t c = 0; c < 8; c++)
		set_reclaimed(&f, c, true);
	for (unsigned i = 0; i < 5; i++) {
		bool rec = false;
		ha_frame_t fr = gfix_get_ok(&f, 0, orders[i], 0, &rec);

		ck_assert_msg(rec, "order %u: reclaimed not reported",
			      orders[i]);
		ck_assert(ha_guest_is_reclaimed(&f.g, ha_frame_to_huge(fr)));
	}
	ck_assert(!ha_guest_is_reclaimed(&f.g, ha_huge(8)));
	ck_assert(!ha_guest_is_reclaimed(&f.g, ha_huge(UINT64_MAX)));
	gfix_fini(&f);
}
END_TEST

/* Installed children are used first, so that installs stay rare. */
START_TEST(test_reclaimed_preference)
{
	struct gfix f;
	bool rec;

	gfix_init(&f, 8 * 512, 1, HA_INIT_FREE);
	for (uint64_t c = 0; c < 4; c++)
		set_reclaimed(&f, c, true);
	for (unsigned i = 0; i < 4; i++) {
		ha_frame_t fr = gfix_get_ok(&f, 0, HA_HUGE_ORDER, 0, &rec);

		ck_assert(!rec);
		ck_assert_uint_ge(fr.v / 512, 4);
	}
	gfix_get_ok(&f, 0, 0, 0, &rec);
	ck_assert(rec);
	gfix_fini(&f);
}
END_TEST

/* An order-10 block is reclaimed if either half is. */
START_TEST(test_reclaimed_order10)
{
	struct gfix f;
	bool rec;
	ha_frame_t fr;

	gfix_init(&f, 8 * 512, 1, HA_INIT_FREE);
	set_reclaimed(&f, 1, true);
	for (unsigned i = 0; i < 3; i++) {
		fr = gfix_get_ok(&f, 0, HA_MAX_ORDER, 0, &rec);
		ck_assert(!rec);
		ck_assert_uint_ne(fr.v, 0);
	}
	fr = gfix_get_ok(&f, 0, HA_MAX_ORDER, 0, &rec);
	ck_assert(rec);
	ck_assert_uint_eq(fr.v, 0);
	gfix_fini(&f);
}
END_TEST

/* Only the host clears the bit: guest gets and puts of every shape keep
 * it, and so does splitting a huge frame. */
START_TEST(test_reclaimed_preserved)
{
	struct gfix f;
	ha_frame_t h, p;
	bool rec;

	gfix_init(&f, 2 * 512, 1, HA_INIT_FREE);
	set_reclaimed(&f, 0, true);
	set_reclaimed(&f, 1, true);
	p = gfix_get_ok(&f, 0, HA_MAX_ORDER, 0, &rec);
	ck_assert(rec);
	gfix_put_ok(&f, 0, p, HA_MAX_ORDER);
	ck_assert(ha_guest_is_reclaimed(&f.g, ha_huge(0)));
	ck_assert(ha_guest_is_reclaimed(&f.g, ha_huge(1)));
	h = gfix_get_ok(&f, 0, HA_HUGE_ORDER, 0, &rec);
	ck_assert(rec);
	gfix_put_ok(&f, 0, h, HA_HUGE_ORDER);
	ck_assert(ha_guest_is_reclaimed(&f.g, ha_frame_to_huge(h)));
	h = gfix_get_ok(&f, 0, HA_HUGE_ORDER, 0, &rec);
	ck_assert(rec);
	gfix_mark(&f, h, HA_HUGE_ORDER, false);
	gfix_mark(&f, h, 0, true);
	gfix_mark(&f, ha_frame(h.v + 1), 0, true);
	gfix_mark(&f, ha_frame(h.v + 2), 1, true);
	gfix_mark(&f, ha_frame(h.v + 4), 2, true);
	gfix_mark(&f, ha_frame(h.v + 8), 3, true);
	gfix_mark(&f, ha_frame(h.v + 16), 4, true);
	gfix_mark(&f, ha_frame(h.v + 32), 5, true);
	gfix_mark(&f, ha_frame(h.v + 64), 6, true);
	gfix_mark(&f, ha_frame(h.v + 128), 7, true);
	gfix_mark(&f, ha_frame(h.v + 256), 8, true);
	gfix_put_ok(&f, 0, ha_frame(h.v + 256), 8); /* splits */
	ck_assert(ha_guest_is_reclaimed(&f.g, ha_frame_to_huge(h)));
	gfix_put_ok(&f, 0, h, 0);
	ck_assert(ha_guest_is_reclaimed(&f.g, ha_frame_to_huge(h)));
	gfix_fini(&f);
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
	gfix_init(&f, frames, 1, HA_INIT_FREE);
	/* guest RAM: 8 GiB, the metadata in the first frame */
	ck_assert_int_eq(ha_host_attach(&h, f.meta, f.meta_len, 0, 1ull << 21,
					&env, state, &bad),
			 HA_OK);
	ck_assert_int_eq(ha_host_reclaim_soft(&h, 0), 8);
	ck_assert_uint_eq(e.discards, 8);
	/* Soft reclaim leaves the frames free for the guest. */
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), frames);
	fr = gfix_get_ok(&f, 0, 0, 0, &rec);
	ck_assert(rec);
	ck_assert_int_eq(ha_host_install(&h, ha_frame_to_huge(fr)), HA_OK);
	ck_assert_uint_eq(e.populates, 1);
	ck_assert(!ha_guest_is_reclaimed(&f.g, ha_frame_to_huge(fr)));
	/* The installed child is preferred from now on. */
	for (unsigned i = 0; i < 511; i++) {
		ha_frame_t x = gfix_get_ok(&f, 0, 0, 0, &rec);

		ck_assert(!rec);
		ck_assert_uint_eq(x.v / 512, fr.v / 512);
	}
	gfix_get_ok(&f, 0, 0, 0, &rec);
	ck_assert(rec);
	gfix_fini(&f);
	free(state);
}
END_TEST

static Suite *guest_reclaimed_suite(void)
{
	Suite *s = suite_create("guest_reclaimed");
	TCase *tc;

	tc = tcase_create("reclaimed");
	tcase_add_test(tc, test_reclaimed_reported);
	tcase_add_test(tc, test_reclaimed_preference);
	tcase_add_test(tc, test_reclaimed_order10);
	tcase_add_test(tc, test_reclaimed_preserved);
	tcase_add_test(tc, test_reclaimed_host_soft);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(guest_reclaimed_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
