// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fixture of the host suites: see host_fixture.h.
 */
#include "host_fixture.h"

#include <stdlib.h>
#include <string.h>

/* ---- recording environment ---- */

static int rec_discard(void *ctx, ha_huge_t first, uint64_t count)
{
	struct hfix_rec *r = ctx;

	CHECK_MSG(r->depth == 1, "discard without the region lock");
	CHECK(count > 0);
	CHECK(first.v + count <= r->children);
	CHECK(first.v + count > first.v);
	r->clock += 1000;
	if (r->ncalls < HFIX_REC_CALLS)
		r->calls[r->ncalls++] =
			(struct hfix_rec_call){ false, first.v, count };
	if (r->fail_discard)
		return -5;
	for (uint64_t c = first.v; c < first.v + count; c++) {
		CHECK_MSG(r->backed[c], "frame %llu discarded twice",
			  (unsigned long long)c);
		r->backed[c] = false;
	}
	r->discarded += count;
	return 0;
}

static int rec_populate(void *ctx, ha_huge_t first, uint64_t count)
{
	struct hfix_rec *r = ctx;

	CHECK_MSG(r->depth == 1, "populate without the region lock");
	CHECK(count > 0);
	CHECK(first.v + count <= r->children);
	CHECK(first.v + count > first.v);
	r->clock += 500;
	if (r->ncalls < HFIX_REC_CALLS)
		r->calls[r->ncalls++] =
			(struct hfix_rec_call){ true, first.v, count };
	if (r->fail_populate)
		return -12;
	for (uint64_t c = first.v; c < first.v + count; c++)
		r->backed[c] = true;
	r->populated += count;
	return 0;
}

static void rec_lock(void *ctx)
{
	struct hfix_rec *r = ctx;

	CHECK_MSG(r->depth == 0, "region lock taken recursively");
	r->depth++;
	r->locks++;
}

static void rec_unlock(void *ctx)
{
	struct hfix_rec *r = ctx;

	CHECK_MSG(r->depth == 1, "unlock without lock");
	r->depth--;
}

static uint64_t rec_now(void *ctx)
{
	return ((struct hfix_rec *)ctx)->clock;
}

static struct ha_host_env rec_env(struct hfix_rec *r)
{
	return (struct ha_host_env){
		.ctx = r,
		.discard = rec_discard,
		.populate = rec_populate,
		.lock = rec_lock,
		.unlock = rec_unlock,
		.now_ns = rec_now,
	};
}

/* ---- a guest region with a host attached ---- */

void hfix_guest(struct hfix *f, uint64_t children, unsigned cores)
{
	memset(f, 0, sizeof(*f));
	f->children = children;
	f->frames = children * HA_CHILD_FRAMES;
	f->meta_len = ha_meta_size(f->frames);
	/* exactly the region: ASan catches any read past its end */
	f->meta = fixture_zalloc(f->meta_len);
	f->local = fixture_zalloc(ha_local_size(cores));
	ck_assert_int_eq(ha_guest_init(&f->g, f->meta, f->meta_len, f->local,
				       cores, HFIX_BASE, f->frames,
				       HA_INIT_FREE),
			 HA_OK);
	f->rec = calloc(1, sizeof(*f->rec));
	ck_assert_ptr_nonnull(f->rec);
	f->rec->children = children;
	f->rec->backed = calloc(children, sizeof(bool));
	ck_assert_ptr_nonnull(f->rec->backed);
	for (uint64_t c = 0; c < children; c++)
		f->rec->backed[c] = true;
	f->env = rec_env(f->rec);
	f->state = calloc(ha_host_state_size(HFIX_BASE + f->frames), 1);
	ck_assert_ptr_nonnull(f->state);
}

void hfix_attach(struct hfix *f)
{
	struct ha_bad bad;

	ck_assert_int_eq(ha_host_attach(&f->h, f->meta, f->meta_len,
					HFIX_META_FRAME, HFIX_BASE + f->frames,
					&f->env, f->state, &bad),
			 HA_OK);
	ck_assert_int_eq(bad.reason, HA_BAD_NONE);
}

void hfix_init(struct hfix *f, uint64_t children, unsigned cores)
{
	hfix_guest(f, children, cores);
	hfix_attach(f);
}

void hfix_fini(struct hfix *f)
{
	free(f->meta);
	free(f->local);
	free(f->state);
	free(f->rec->backed);
	free(f->rec);
}

ha_child_word hfix_child(const struct hfix *f, uint64_t c)
{
	return f->g.children[c];
}

struct ha_host_counters hfix_counters(const struct hfix *f)
{
	struct ha_host_counters c;

	ha_host_counters(&f->h, &c);
	return c;
}

unsigned hfix_count_state(const struct hfix *f, enum ha_hstate s)
{
	unsigned n = 0;

	for (uint64_t c = 0; c < f->children; c++)
		n += ha_host_state(&f->h, ha_huge(c)) == s;
	return n;
}

void hfix_assert_backing_consistent(const struct hfix *f)
{
	struct ha_host_counters k = hfix_counters(f);

	for (uint64_t c = 0; c < f->children; c++) {
		enum ha_hstate s = ha_host_state(&f->h, ha_huge(c));

		CHECK_MSG(f->rec->backed[c] == (s == HA_HS_INSTALLED),
			  "frame %llu: state %d but backed=%d",
			  (unsigned long long)c, s, f->rec->backed[c]);
	}
	CHECK(k.hard_now == hfix_count_state(f, HA_HS_HARD));
	CHECK(k.soft_now == hfix_count_state(f, HA_HS_SOFT));
	CHECK(f->rec->depth == 0);
}

void hfix_assert_call(const struct hfix *f, unsigned i, bool populate,
		      uint64_t first, uint64_t count)
{
	const struct hfix_rec_call *c = &f->rec->calls[i];

	ck_assert_uint_lt(i, f->rec->ncalls);
	ck_assert_msg(c->populate == populate && c->first == first &&
			      c->count == count,
		      "call %u: %s(%llu, %llu), want %s(%llu, %llu)", i,
		      c->populate ? "populate" : "discard",
		      (unsigned long long)c->first,
		      (unsigned long long)c->count,
		      populate ? "populate" : "discard",
		      (unsigned long long)first, (unsigned long long)count);
}
