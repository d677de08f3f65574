// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fixture of the guest suites: see guest_fixture.h.
 */
#include "guest_fixture.h"

#include <stdlib.h>
#include <string.h>

void gfix_alloc(struct gfix *f, uint64_t frames, unsigned cores)
{
	memset(f, 0, sizeof(*f));
	f->frames = frames;
	f->cores = cores;
	f->meta_len = ha_meta_size(frames);
	ck_assert_uint_gt(f->meta_len, 0);
	f->meta = fixture_zalloc(f->meta_len);
	f->local = fixture_zalloc(ha_local_size(cores));
	f->held = calloc(frames, 1);
	ck_assert_ptr_nonnull(f->held);
}

void gfix_init(struct gfix *f, uint64_t frames, unsigned cores,
	       enum ha_init_mode mode)
{
	gfix_alloc(f, frames, cores);
	ck_assert_int_eq(ha_guest_init(&f->g, f->meta, f->meta_len, f->local,
				       cores, GFIX_BASE_FRAME, frames, mode),
			 HA_OK);
}

void gfix_fini(struct gfix *f)
{
	free(f->meta);
	free(f->local);
	free(f->held);
}

void gfix_mark(struct gfix *f, ha_frame_t fr, unsigned order, bool hold)
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

ha_frame_t gfix_get_ok(struct gfix *f, unsigned core, unsigned order,
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
	gfix_mark(f, fr, order, true);
	CHECK(ha_guest_free_frames(&f->g) == before - (1ull << order));
	if (ret_reclaimed)
		*ret_reclaimed = rec;
	else
		CHECK(!rec);
	return fr;
}

void gfix_put_ok(struct gfix *f, unsigned core, ha_frame_t fr, unsigned order)
{
	uint64_t before = ha_guest_free_frames(&f->g);
	int r = ha_guest_put(&f->g, core, fr, order);

	CHECK_MSG(r == HA_OK, "put order %u at %llu: %s", order,
		  (unsigned long long)fr.v, ha_strerror(r));
	gfix_mark(f, fr, order, false);
	CHECK(ha_guest_free_frames(&f->g) == before + (1ull << order));
}

void gfix_assert_get_fails(struct gfix *f, unsigned core, unsigned order,
			   int want)
{
	uint64_t before = ha_guest_free_frames(&f->g);
	ha_frame_t fr;
	bool rec;

	ck_assert_int_eq(ha_guest_get(&f->g, core, order, 0, &fr, &rec), want);
	ck_assert_uint_eq(ha_guest_free_frames(&f->g), before);
}

void gfix_assert_put_fails(struct gfix *f, uint64_t frame, unsigned order,
			   int want)
{
	uint64_t before = ha_guest_free_frames(&f->g);

	ck_assert_int_eq(ha_guest_put(&f->g, 0, ha_frame(frame), order), want);
	ck_assert_uint_eq(ha_guest_free_frames(&f->g), before);
}

uint64_t gfix_tree_of(ha_frame_t fr)
{
	return fr.v / HA_TREE_FRAMES;
}

void gfix_shuffle(struct gfix_held *a, uint64_t n, uint64_t *seed)
{
	for (uint64_t i = n; i > 1; i--) {
		uint64_t j = gfix_rng_next(seed) % i;
		struct gfix_held t = a[i - 1];

		a[i - 1] = a[j];
		a[j] = t;
	}
}
