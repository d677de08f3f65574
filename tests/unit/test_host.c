// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the host side: attach (and its validation of untrusted
 * metadata), hard and soft reclaim, return, install, quarantine, scan and
 * the counters; every transition of the per-frame state machine
 * (installed -> soft/hard, soft -> hard/installed, hard -> soft); and
 * hostile metadata, corrupted by hand or filled with random garbage.
 *
 * The embedder callbacks are a recording fake: it keeps a "backed" flag
 * per huge frame, checks that discards and populates happen under the
 * region lock and in range, and that nothing is discarded twice.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ha_guest.h"
#include "ha_host.h"

#define BASE (1ull << 10) /* managed range starts at 4 MiB */
#define META_FRAME 0ull /* metadata lives in the first frames */

/*
 * ck_assert*() records its location on every call (a message to the parent
 * process in fork mode), which dominates loops over many frames or many
 * operations. Those loops use these, which only report failures.
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

/* ---- recording environment ---- */

#define REC_CALLS 1024

struct rec_call {
	bool populate;
	uint64_t first, count;
};

struct rec {
	uint64_t children;
	bool *backed; /* per huge frame: memory present */
	int depth; /* lock nesting */
	unsigned locks; /* lock acquisitions */
	uint64_t clock; /* fake time: discards cost 1000, populates 500 */
	unsigned ncalls;
	struct rec_call calls[REC_CALLS];
	uint64_t discarded, populated; /* frames */
	bool fail_discard, fail_populate;
};

static int rec_discard(void *ctx, ha_huge_t first, uint64_t count)
{
	struct rec *r = ctx;

	CHECK_MSG(r->depth == 1, "discard without the region lock");
	CHECK(count > 0);
	CHECK(first.v + count <= r->children);
	CHECK(first.v + count > first.v);
	r->clock += 1000;
	if (r->ncalls < REC_CALLS)
		r->calls[r->ncalls++] = (struct rec_call){ false, first.v,
							   count };
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
	struct rec *r = ctx;

	CHECK_MSG(r->depth == 1, "populate without the region lock");
	CHECK(count > 0);
	CHECK(first.v + count <= r->children);
	CHECK(first.v + count > first.v);
	r->clock += 500;
	if (r->ncalls < REC_CALLS)
		r->calls[r->ncalls++] = (struct rec_call){ true, first.v,
							   count };
	if (r->fail_populate)
		return -12;
	for (uint64_t c = first.v; c < first.v + count; c++)
		r->backed[c] = true;
	r->populated += count;
	return 0;
}

static void rec_lock(void *ctx)
{
	struct rec *r = ctx;

	CHECK_MSG(r->depth == 0, "region lock taken recursively");
	r->depth++;
	r->locks++;
}

static void rec_unlock(void *ctx)
{
	struct rec *r = ctx;

	CHECK_MSG(r->depth == 1, "unlock without lock");
	r->depth--;
}

static uint64_t rec_now(void *ctx)
{
	return ((struct rec *)ctx)->clock;
}

static struct ha_host_env rec_env(struct rec *r)
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

struct hfix {
	struct ha_guest g;
	unsigned char *meta;
	uint64_t meta_len;
	struct ha_local *local;
	uint64_t frames, children;
	struct ha_host h;
	struct ha_host_env env;
	uint8_t *state;
	struct rec *rec;
};

static void *zalloc_aligned(uint64_t len)
{
	uint64_t rounded = (len + 63) / 64 * 64;
	void *p = aligned_alloc(64, rounded);

	ck_assert_ptr_nonnull(p);
	memset(p, 0, rounded);
	return p;
}

/* A fresh guest region of @children huge frames, not yet attached. */
static void fix_guest(struct hfix *f, uint64_t children, unsigned cores)
{
	memset(f, 0, sizeof(*f));
	f->children = children;
	f->frames = children * HA_CHILD_FRAMES;
	f->meta_len = ha_meta_size(f->frames);
	/* exactly the region: ASan catches any read past its end */
	f->meta = zalloc_aligned(f->meta_len);
	f->local = zalloc_aligned(ha_local_size(cores));
	ck_assert_int_eq(ha_guest_init(&f->g, f->meta, f->meta_len, f->local,
				       cores, BASE, f->frames, HA_INIT_FREE),
			 HA_OK);
	f->rec = calloc(1, sizeof(*f->rec));
	ck_assert_ptr_nonnull(f->rec);
	f->rec->children = children;
	f->rec->backed = calloc(children, sizeof(bool));
	ck_assert_ptr_nonnull(f->rec->backed);
	for (uint64_t c = 0; c < children; c++)
		f->rec->backed[c] = true;
	f->env = rec_env(f->rec);
	f->state = calloc(ha_host_state_size(BASE + f->frames), 1);
	ck_assert_ptr_nonnull(f->state);
}

static void fix_attach(struct hfix *f)
{
	struct ha_bad bad;

	ck_assert_int_eq(ha_host_attach(&f->h, f->meta, f->meta_len,
					META_FRAME, BASE + f->frames, &f->env,
					f->state, &bad),
			 HA_OK);
	ck_assert_int_eq(bad.reason, HA_BAD_NONE);
}

static void fix_init(struct hfix *f, uint64_t children, unsigned cores)
{
	fix_guest(f, children, cores);
	fix_attach(f);
}

static void fix_fini(struct hfix *f)
{
	free(f->meta);
	free(f->local);
	free(f->state);
	free(f->rec->backed);
	free(f->rec);
}

static ha_child_word child(const struct hfix *f, uint64_t c)
{
	return f->g.children[c];
}

static struct ha_host_counters counters(const struct hfix *f)
{
	struct ha_host_counters c;

	ha_host_counters(&f->h, &c);
	return c;
}

static unsigned count_state(const struct hfix *f, enum ha_hstate s)
{
	unsigned n = 0;

	for (uint64_t c = 0; c < f->children; c++)
		n += ha_host_state(&f->h, ha_huge(c)) == s;
	return n;
}

/* The fake's memory matches the host's own account, frame by frame. */
static void assert_backing_consistent(const struct hfix *f)
{
	struct ha_host_counters k = counters(f);

	for (uint64_t c = 0; c < f->children; c++) {
		enum ha_hstate s = ha_host_state(&f->h, ha_huge(c));

		CHECK_MSG(f->rec->backed[c] == (s == HA_HS_INSTALLED),
			  "frame %llu: state %d but backed=%d",
			  (unsigned long long)c, s, f->rec->backed[c]);
	}
	CHECK(k.hard_now == count_state(f, HA_HS_HARD));
	CHECK(k.soft_now == count_state(f, HA_HS_SOFT));
	CHECK(f->rec->depth == 0);
}

static void assert_call(const struct hfix *f, unsigned i, bool populate,
			uint64_t first, uint64_t count)
{
	const struct rec_call *c = &f->rec->calls[i];

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

/* ---- attach ---- */

START_TEST(test_attach_fresh)
{
	struct hfix f;
	struct ha_host_scan s;
	struct ha_host_counters k;

	fix_init(&f, 45, 1);
	ck_assert(!ha_host_quarantined(&f.h));
	ck_assert_int_eq(ha_host_bad(&f.h)->reason, HA_BAD_NONE);
	ck_assert_uint_eq(count_state(&f, HA_HS_INSTALLED), 45);
	ck_assert_int_eq(ha_host_state(&f.h, ha_huge(45)), HA_HS_INSTALLED);
	k = counters(&f);
	ck_assert_uint_eq(k.reclaimed_hard + k.reclaimed_soft + k.returned +
				  k.installed + k.discard_calls + k.hard_now +
				  k.soft_now,
			  0);
	ck_assert_int_eq(ha_host_scan(&f.h, &s), HA_OK);
	ck_assert_uint_eq(s.free_frames, 45 * 512);
	ck_assert_uint_eq(s.free_huge, 45);
	ck_assert_uint_eq(s.free_huge_installed, 45);
	ck_assert_uint_eq(s.installing + s.hard + s.soft, 0);
	ck_assert_uint_eq(f.rec->ncalls, 0);
	ck_assert_uint_ge(ha_host_state_size(BASE + f.frames), 45 / 4 + 1);
	fix_fini(&f);
}
END_TEST

START_TEST(test_attach_einval)
{
	struct hfix f;
	struct ha_bad bad;
	struct ha_host_env env;
	uint64_t ram = BASE + 8 * 512;

	fix_guest(&f, 8, 1);
	ck_assert_int_eq(ha_host_attach(&f.h, NULL, f.meta_len, 0, ram, &f.env,
					f.state, &bad),
			 HA_EINVAL);
	ck_assert_int_eq(ha_host_attach(&f.h, f.meta, f.meta_len, 0, ram, NULL,
					f.state, &bad),
			 HA_EINVAL);
	ck_assert_int_eq(ha_host_attach(&f.h, f.meta, f.meta_len, 0, ram,
					&f.env, NULL, &bad),
			 HA_EINVAL);
	env = f.env;
	env.discard = NULL;
	ck_assert_int_eq(ha_host_attach(&f.h, f.meta, f.meta_len, 0, ram, &env,
					f.state, &bad),
			 HA_EINVAL);
	env = f.env;
	env.populate = NULL;
	ck_assert_int_eq(ha_host_attach(&f.h, f.meta, f.meta_len, 0, ram, &env,
					f.state, &bad),
			 HA_EINVAL);
	env = f.env;
	env.lock = NULL;
	ck_assert_int_eq(ha_host_attach(&f.h, f.meta, f.meta_len, 0, ram, &env,
					f.state, &bad),
			 HA_EINVAL);
	env = f.env;
	env.unlock = NULL;
	ck_assert_int_eq(ha_host_attach(&f.h, f.meta, f.meta_len, 0, ram, &env,
					f.state, &bad),
			 HA_EINVAL);
	/* now_ns is optional */
	env = f.env;
	env.now_ns = NULL;
	ck_assert_int_eq(ha_host_attach(&f.h, f.meta, f.meta_len, 0, ram, &env,
					f.state, &bad),
			 HA_OK);
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 2), 2);
	ck_assert_uint_eq(counters(&f).discard_ns, 0);
	fix_fini(&f);
}
END_TEST

/* A restarted host process picks up the states from the child words. */
START_TEST(test_attach_restart)
{
	struct hfix f;
	struct ha_host_counters k;

	fix_init(&f, 16, 1);
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 3), 3);
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 2), 2);
	memset(f.state, 0xff, ha_host_state_size(BASE + f.frames));
	fix_attach(&f);
	k = counters(&f);
	ck_assert_uint_eq(k.hard_now, 3);
	ck_assert_uint_eq(k.soft_now, 2);
	ck_assert_uint_eq(k.reclaimed_hard, 0);
	assert_backing_consistent(&f);
	/* and carries on from there */
	ck_assert_int_eq(ha_host_return(&f.h, 10), 3);
	ck_assert_uint_eq(counters(&f).soft_now, 5);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), f.frames);
	fix_fini(&f);
}
END_TEST

/*
 * A restarted host must tell a hard frame from a huge allocation of a soft
 * frame whose install is pending: their child words are identical. The
 * hard mark in the bitfield decides; returning the pending one would hand
 * the guest's block out twice.
 */
START_TEST(test_attach_restart_pending_install)
{
	struct hfix f;
	ha_frame_t got;
	bool rec;

	fix_init(&f, 16, 1);
	/* every free frame soft, then one taken hard */
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 0), 16);
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 1), 1);
	/* the guest allocates a soft frame as huge: install pending */
	ck_assert_int_eq(ha_guest_get(&f.g, 0, HA_HUGE_ORDER, 0, &got, &rec),
			 HA_OK);
	ck_assert(rec);
	uint64_t pending = got.v / HA_CHILD_FRAMES;
	uint64_t hard = ~0ull;

	for (uint64_t c = 0; c < f.children; c++)
		if (ha_host_state(&f.h, ha_huge(c)) == HA_HS_HARD)
			hard = c;
	ck_assert_uint_ne(hard, ~0ull);
	ck_assert_uint_ne(hard, pending);
	ck_assert_uint_eq(child(&f, pending), child(&f, hard));

	/* host restart */
	memset(f.state, 0, ha_host_state_size(BASE + f.frames));
	fix_attach(&f);
	ck_assert_int_eq(ha_host_state(&f.h, ha_huge(hard)), HA_HS_HARD);
	ck_assert_int_eq(ha_host_state(&f.h, ha_huge(pending)), HA_HS_SOFT);
	/* the pending install completes; the guest keeps its block */
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(pending)), HA_OK);
	ck_assert(!ha_child_reclaimed(child(&f, pending)));
	ck_assert(ha_child_huge(child(&f, pending)));
	/* returning gives back exactly the hard frame */
	ck_assert_int_eq(ha_host_return(&f.h, 16), 1);
	ck_assert_int_eq(ha_host_state(&f.h, ha_huge(hard)), HA_HS_SOFT);
	ck_assert(ha_child_huge(child(&f, pending)));
	ck_assert_int_eq(ha_guest_put(&f.g, 0, got, HA_HUGE_ORDER), HA_OK);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), f.frames);
	fix_fini(&f);
}
END_TEST

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
	uint64_t meta_len, meta_frame = META_FRAME, ram;
	uint64_t want_value = 0;
	int r;

	/* 132 children: 16 full trees, a 17th with 4; metadata > 2 frames */
	fix_guest(&f, 132, 1);
	meta_len = f.meta_len;
	ram = BASE + f.frames;
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
		ram = BASE + f.frames - 1;
		want_value = BASE;
		break;
	case AC_BASE_BEYOND_RAM:
		f.g.hdr->base_frame = 1ull << 30;
		want_value = 1ull << 30;
		break;
	case AC_META_INSIDE:
		meta_frame = BASE + 100;
		want_value = meta_frame;
		break;
	case AC_META_STRADDLES:
		/* 3 frames of metadata starting 2 frames below the base */
		meta_frame = BASE - 2;
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
	fix_fini(&f);
}
END_TEST

/* Edges that are legal: metadata right below the range, range ending at
 * the end of RAM, metadata after the range. */
START_TEST(test_attach_edges_ok)
{
	struct hfix f;
	struct ha_bad bad;
	uint64_t ram;

	fix_guest(&f, 132, 1);
	ram = BASE + f.frames;
	ck_assert_int_eq(ha_host_attach(&f.h, f.meta, f.meta_len, BASE - 3,
					ram, &f.env, f.state, &bad),
			 HA_OK);
	ck_assert_int_eq(ha_host_attach(&f.h, f.meta, f.meta_len, ram, ram + 3,
					&f.env, f.state, &bad),
			 HA_OK);
	fix_fini(&f);
}
END_TEST

/* ---- transitions ---- */

START_TEST(test_hard_reclaim)
{
	struct hfix f;
	struct ha_host_counters k;
	ha_frame_t fr;
	bool rec;

	fix_init(&f, 16, 1);
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 5), 5);
	ck_assert_uint_eq(count_state(&f, HA_HS_HARD), 5);
	for (uint64_t c = 0; c < 16; c++) {
		if (ha_host_state(&f.h, ha_huge(c)) != HA_HS_HARD)
			continue;
		/* looks allocated to the guest */
		ck_assert_uint_eq(child(&f, c),
				  HA_CHILD_HUGE | HA_CHILD_RECLAIMED);
	}
	/* The guest lost exactly 512 frames per reclaimed huge frame. */
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), f.frames - 5 * 512);
	ck_assert_uint_eq(ha_tree_free(f.g.trees[0]) +
				  ha_tree_free(f.g.trees[1]),
			  f.frames - 5 * 512);
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), 11);
	k = counters(&f);
	ck_assert_uint_eq(k.reclaimed_hard, 5);
	ck_assert_uint_eq(k.hard_now, 5);
	ck_assert_uint_eq(k.soft_now, 0);
	ck_assert_uint_eq(k.discard_calls, 1);
	ck_assert_uint_eq(f.rec->discarded, 5);
	assert_backing_consistent(&f);
	/* The guest cannot get them. */
	for (unsigned i = 0; i < 11; i++) {
		ck_assert_int_eq(ha_guest_get(&f.g, 0, HA_HUGE_ORDER, 0, &fr,
					      &rec),
				 HA_OK);
		ck_assert(!rec);
		ck_assert_int_ne(ha_host_state(&f.h, ha_frame_to_huge(fr)),
				 HA_HS_HARD);
	}
	ck_assert_int_eq(ha_guest_get(&f.g, 0, 0, 0, &fr, &rec), HA_ENOMEM);
	fix_fini(&f);
}
END_TEST

START_TEST(test_soft_reclaim)
{
	struct hfix f;
	struct ha_host_counters k;

	fix_init(&f, 16, 1);
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 3), 3);
	ck_assert_uint_eq(count_state(&f, HA_HS_SOFT), 3);
	for (uint64_t c = 0; c < 16; c++)
		if (ha_host_state(&f.h, ha_huge(c)) == HA_HS_SOFT)
			ck_assert_uint_eq(child(&f, c),
					  HA_CHILD_FRAMES | HA_CHILD_RECLAIMED);
	/* Still free for the guest. */
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), f.frames);
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), 16);
	/* 0 = everything that is left */
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 0), 13);
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 0), 0);
	k = counters(&f);
	ck_assert_uint_eq(k.reclaimed_soft, 16);
	ck_assert_uint_eq(k.soft_now, 16);
	ck_assert_uint_eq(k.hard_now, 0);
	ck_assert_uint_eq(f.rec->discarded, 16);
	ck_assert_uint_eq(k.discard_calls, f.rec->ncalls);
	assert_backing_consistent(&f);
	fix_fini(&f);
}
END_TEST

START_TEST(test_soft_to_hard)
{
	struct hfix f;
	struct ha_host_counters k;

	fix_init(&f, 16, 1);
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 0), 16);
	ck_assert_uint_eq(f.rec->ncalls, 1);
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 4), 4);
	/* already discarded: no new call */
	ck_assert_uint_eq(f.rec->ncalls, 1);
	k = counters(&f);
	ck_assert_uint_eq(k.reclaimed_hard, 4);
	ck_assert_uint_eq(k.reclaimed_soft, 16);
	ck_assert_uint_eq(k.hard_now, 4);
	ck_assert_uint_eq(k.soft_now, 12);
	ck_assert_uint_eq(k.discard_calls, 1);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), f.frames - 4 * 512);
	assert_backing_consistent(&f);
	fix_fini(&f);
}
END_TEST

START_TEST(test_return)
{
	struct hfix f;
	struct ha_host_counters k;
	unsigned calls;

	fix_init(&f, 16, 1);
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 6), 6);
	calls = f.rec->ncalls;
	ck_assert_int_eq(ha_host_return(&f.h, 2), 2);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), f.frames - 4 * 512);
	ck_assert_uint_eq(count_state(&f, HA_HS_SOFT), 2);
	for (uint64_t c = 0; c < 16; c++)
		if (ha_host_state(&f.h, ha_huge(c)) == HA_HS_SOFT)
			ck_assert_uint_eq(child(&f, c),
					  HA_CHILD_FRAMES | HA_CHILD_RECLAIMED);
	/* nothing is populated: the guest installs lazily */
	ck_assert_uint_eq(f.rec->ncalls, calls);
	k = counters(&f);
	ck_assert_uint_eq(k.returned, 2);
	ck_assert_uint_eq(k.hard_now, 4);
	ck_assert_uint_eq(k.soft_now, 2);
	/* stops when no hard frame is left */
	ck_assert_int_eq(ha_host_return(&f.h, 10), 4);
	ck_assert_int_eq(ha_host_return(&f.h, 1), 0);
	k = counters(&f);
	ck_assert_uint_eq(k.returned, 6);
	ck_assert_uint_eq(k.hard_now, 0);
	ck_assert_uint_eq(k.soft_now, 6);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), f.frames);
	assert_backing_consistent(&f);
	fix_fini(&f);
}
END_TEST

START_TEST(test_install)
{
	struct hfix f;
	struct ha_host_counters k;
	ha_frame_t fr;
	bool rec = false;
	uint64_t c;
	unsigned calls;

	fix_init(&f, 16, 1);
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 0), 16);
	calls = f.rec->ncalls;
	ck_assert_int_eq(ha_guest_get(&f.g, 0, 0, 0, &fr, &rec), HA_OK);
	ck_assert(rec);
	c = ha_frame_to_huge(fr).v;
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(c)), HA_OK);
	ck_assert_int_eq(ha_host_state(&f.h, ha_huge(c)), HA_HS_INSTALLED);
	ck_assert_uint_eq(f.rec->ncalls, calls + 1);
	assert_call(&f, calls, true, c, 1);
	/* reclaimed cleared, the guest's allocation kept */
	ck_assert_uint_eq(child(&f, c), 511);
	k = counters(&f);
	ck_assert_uint_eq(k.installed, 1);
	ck_assert_uint_eq(k.soft_now, 15);
	ck_assert_uint_eq(k.populate_ns, 500);
	/* a racing CPU's request for the same frame is a no-op */
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(c)), HA_OK);
	ck_assert_uint_eq(f.rec->ncalls, calls + 1);
	ck_assert_uint_eq(counters(&f).installed, 1);
	/* a soft frame the guest has not taken yet may be installed too */
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge((c + 1) % 16)), HA_OK);
	ck_assert_uint_eq(child(&f, (c + 1) % 16), HA_CHILD_FRAMES);
	ck_assert_uint_eq(counters(&f).installed, 2);
	assert_backing_consistent(&f);
	fix_fini(&f);
}
END_TEST

START_TEST(test_install_not_reclaimed)
{
	struct hfix f;

	fix_init(&f, 16, 1);
	for (uint64_t c = 0; c < 16; c++)
		ck_assert_int_eq(ha_host_install(&f.h, ha_huge(c)), HA_OK);
	ck_assert_uint_eq(f.rec->ncalls, 0);
	ck_assert_uint_eq(counters(&f).installed, 0);
	ck_assert(!ha_host_quarantined(&f.h));
	fix_fini(&f);
}
END_TEST

START_TEST(test_install_hard)
{
	struct hfix f;
	unsigned calls;

	fix_init(&f, 16, 1);
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 1), 1);
	calls = f.rec->ncalls;
	ck_assert_int_eq(ha_host_state(&f.h, ha_huge(0)), HA_HS_HARD);
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(0)), HA_EPROTO);
	ck_assert_int_eq(ha_host_state(&f.h, ha_huge(0)), HA_HS_HARD);
	ck_assert_uint_eq(child(&f, 0), HA_CHILD_HUGE | HA_CHILD_RECLAIMED);
	ck_assert_uint_eq(f.rec->ncalls, calls);
	ck_assert_uint_eq(counters(&f).installed, 0);
	/* a protocol error, not corruption */
	ck_assert(!ha_host_quarantined(&f.h));
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 1), 1);
	fix_fini(&f);
}
END_TEST

START_TEST(test_install_range)
{
	struct hfix f;

	fix_init(&f, 13, 1);
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(13)), HA_ERANGE);
	/* the padding slots of the last tree are not frames either */
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(15)), HA_ERANGE);
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(UINT64_MAX)),
			 HA_ERANGE);
	ck_assert_uint_eq(f.rec->ncalls, 0);
	ck_assert_int_eq(f.rec->depth, 0);
	ck_assert(!ha_host_quarantined(&f.h));
	fix_fini(&f);
}
END_TEST

/* Every legal transition on a single huge frame, in one walk. */
START_TEST(test_state_cycle)
{
	struct hfix f;
	ha_frame_t fr;
	bool rec;
	struct ha_host_counters k;

	fix_init(&f, 1, 1);
	/* installed -> soft */
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 0), 1);
	ck_assert_int_eq(ha_host_state(&f.h, ha_huge(0)), HA_HS_SOFT);
	assert_call(&f, 0, false, 0, 1);
	/* soft -> hard */
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 1), 1);
	ck_assert_int_eq(ha_host_state(&f.h, ha_huge(0)), HA_HS_HARD);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 0);
	/* hard -> soft */
	ck_assert_int_eq(ha_host_return(&f.h, 1), 1);
	ck_assert_int_eq(ha_host_state(&f.h, ha_huge(0)), HA_HS_SOFT);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 512);
	ck_assert_uint_eq(f.rec->ncalls, 1);
	/* soft -> installed */
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(0)), HA_OK);
	ck_assert_int_eq(ha_host_state(&f.h, ha_huge(0)), HA_HS_INSTALLED);
	assert_call(&f, 1, true, 0, 1);
	/* installed -> hard */
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 1), 1);
	ck_assert_int_eq(ha_host_state(&f.h, ha_huge(0)), HA_HS_HARD);
	assert_call(&f, 2, false, 0, 1);
	/* back to the guest, which allocates it and asks for it */
	ck_assert_int_eq(ha_host_return(&f.h, 1), 1);
	ck_assert_int_eq(ha_guest_get(&f.g, 0, HA_HUGE_ORDER, 0, &fr, &rec),
			 HA_OK);
	ck_assert(rec);
	ck_assert_int_eq(ha_host_install(&f.h, ha_frame_to_huge(fr)), HA_OK);
	assert_call(&f, 3, true, 0, 1);
	ck_assert_uint_eq(child(&f, 0), HA_CHILD_HUGE);
	ck_assert_int_eq(ha_guest_put(&f.g, 0, fr, HA_HUGE_ORDER), HA_OK);
	ck_assert_uint_eq(child(&f, 0), HA_CHILD_FRAMES);
	k = counters(&f);
	ck_assert_uint_eq(k.reclaimed_soft, 1);
	ck_assert_uint_eq(k.reclaimed_hard, 2);
	ck_assert_uint_eq(k.returned, 2);
	ck_assert_uint_eq(k.installed, 2);
	ck_assert_uint_eq(k.discard_calls, 2);
	ck_assert_uint_eq(k.hard_now + k.soft_now, 0);
	assert_backing_consistent(&f);
	fix_fini(&f);
}
END_TEST

/* ---- policy: what reclaim may take ---- */

/* Trees reserved by a guest CPU are never touched, even when frames were
 * freed into them since (they collect in the shared tree word). */
START_TEST(test_reserved_untouched)
{
	struct hfix f;
	ha_frame_t a, b, h[2];
	bool rec;
	uint64_t ta, tb;

	for (int hard = 0; hard < 2; hard++) {
		fix_init(&f, 32, 2);
		ck_assert_int_eq(ha_guest_get(&f.g, 0, 0, 0, &a, &rec), HA_OK);
		ck_assert_int_eq(ha_guest_get(&f.g, 1, 0, 0, &b, &rec), HA_OK);
		ta = a.v / HA_TREE_FRAMES;
		tb = b.v / HA_TREE_FRAMES;
		ck_assert_uint_ne(ta, tb);
		ck_assert(ha_tree_reserved(f.g.trees[ta]));
		for (unsigned i = 0; i < 2; i++) {
			ck_assert_int_eq(ha_guest_get(&f.g, 0, HA_HUGE_ORDER,
						      0, &h[i], &rec),
					 HA_OK);
			ck_assert_uint_eq(h[i].v / HA_TREE_FRAMES, ta);
		}
		for (unsigned i = 0; i < 2; i++)
			ck_assert_int_eq(ha_guest_put(&f.g, 1, h[i],
						      HA_HUGE_ORDER),
					 HA_OK);
		ck_assert(ha_tree_reserved(f.g.trees[ta]));
		ck_assert_uint_eq(ha_tree_free(f.g.trees[ta]), 1024);
		if (hard)
			ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 100), 16);
		else
			ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 0), 16);
		for (uint64_t c = 0; c < 32; c++) {
			uint64_t t = c / HA_TREE_CHILDREN;
			bool mine = t == ta || t == tb;

			ck_assert_int_eq(ha_host_state(&f.h, ha_huge(c)) ==
						 HA_HS_INSTALLED,
					 mine);
			if (mine)
				ck_assert(!ha_child_reclaimed(child(&f, c)));
		}
		ck_assert_uint_eq(ha_tree_free(f.g.trees[ta]), 1024);
		/* the reserving CPUs still allocate from their trees */
		for (unsigned i = 0; i < 100; i++) {
			ck_assert_int_eq(ha_guest_get(&f.g, 0, 0, 0, &a, &rec),
					 HA_OK);
			ck_assert(!rec);
			ck_assert_uint_eq(a.v / HA_TREE_FRAMES, ta);
		}
		fix_fini(&f);
	}
}
END_TEST

START_TEST(test_hard_one_by_one)
{
	struct hfix f;

	fix_init(&f, 13, 1);
	for (unsigned i = 1; i <= 13; i++) {
		ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 1), 1);
		ck_assert_uint_eq(ha_guest_free_frames(&f.g),
				  f.frames - i * 512ull);
		ck_assert_uint_eq(counters(&f).hard_now, i);
	}
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 1), 0);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 0);
	/* contiguous, but one call per request */
	ck_assert_uint_eq(counters(&f).discard_calls, 13);
	assert_backing_consistent(&f);
	fix_fini(&f);
}
END_TEST

/* Reclaim takes only entirely free huge frames and stops when there are
 * none, also when a tree has 512 free frames scattered over children. */
START_TEST(test_reclaim_stops)
{
	struct hfix f;
	ha_frame_t fr[16];
	bool rec;

	fix_init(&f, 16, 1);
	for (unsigned i = 0; i < 16; i++)
		ck_assert_int_eq(ha_guest_get(&f.g, 0, HA_HUGE_ORDER, 0, &fr[i],
					      &rec),
				 HA_OK);
	/* tree 0: three huge frames free; tree 1: 64 frames of each child */
	for (unsigned i = 0; i < 16; i++) {
		uint64_t c = fr[i].v / 512;

		if (c < 8 && c >= 5)
			ck_assert_int_eq(ha_guest_put(&f.g, 0, fr[i],
						      HA_HUGE_ORDER),
					 HA_OK);
		else if (c >= 8)
			ck_assert_int_eq(ha_guest_put(&f.g, 0, fr[i], 6),
					 HA_OK);
	}
	/* restart the guest: drops its reservations, keeps allocations */
	ck_assert_int_eq(ha_guest_init(&f.g, f.meta, f.meta_len, f.local, 1,
				       BASE, f.frames, HA_INIT_ATTACH),
			 HA_OK);
	ck_assert_uint_eq(ha_tree_free(f.g.trees[1]), 512);
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 100), 3);
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 100), 0);
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 0), 0);
	/* the failed attempt on tree 1 gave its counter back */
	ck_assert_uint_eq(ha_tree_free(f.g.trees[1]), 512);
	ck_assert_uint_eq(ha_tree_free(f.g.trees[0]), 0);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 512);
	for (uint64_t c = 0; c < 16; c++)
		ck_assert_int_eq(ha_host_state(&f.h, ha_huge(c)),
				 c >= 5 && c < 8 ? HA_HS_HARD :
						   HA_HS_INSTALLED);
	assert_backing_consistent(&f);
	fix_fini(&f);
}
END_TEST

/* Discards come as maximal runs of contiguous frames. */
START_TEST(test_discard_runs)
{
	struct hfix f;

	fix_init(&f, 16, 1);
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 0), 16);
	ck_assert_uint_eq(f.rec->ncalls, 1);
	assert_call(&f, 0, false, 0, 16);
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(3)), HA_OK);
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(4)), HA_OK);
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(9)), HA_OK);
	ck_assert_uint_eq(f.rec->ncalls, 4);
	/* soft frames go hard silently; installed ones are discarded */
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 16), 16);
	ck_assert_uint_eq(f.rec->ncalls, 6);
	assert_call(&f, 4, false, 3, 2);
	assert_call(&f, 5, false, 9, 1);
	ck_assert_uint_eq(counters(&f).discard_calls, 3);
	assert_backing_consistent(&f);
	fix_fini(&f);
}
END_TEST

/* Large requests run in batches, each under the lock, so that installs
 * get a chance in between; every frame is discarded exactly once. */
START_TEST(test_discard_batches)
{
	struct hfix f;
	uint64_t next = 0;
	unsigned locks;

	fix_init(&f, 200, 1);
	locks = f.rec->locks;
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 1000), 200);
	ck_assert_uint_ge(f.rec->ncalls, 2);
	ck_assert_uint_ge(f.rec->locks - locks, f.rec->ncalls);
	for (unsigned i = 0; i < f.rec->ncalls; i++) {
		ck_assert(!f.rec->calls[i].populate);
		ck_assert_uint_eq(f.rec->calls[i].first, next);
		next += f.rec->calls[i].count;
	}
	ck_assert_uint_eq(next, 200);
	ck_assert_uint_eq(counters(&f).discard_calls, f.rec->ncalls);
	assert_backing_consistent(&f);
	fix_fini(&f);
}
END_TEST

START_TEST(test_time_accounting)
{
	struct hfix f;
	struct ha_host_counters k;

	fix_init(&f, 16, 1);
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 0), 16);
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(5)), HA_OK);
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(7)), HA_OK);
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 16), 16);
	k = counters(&f);
	/* the fake clock advances only inside the callbacks */
	ck_assert_uint_eq(k.discard_calls, 3);
	ck_assert_uint_eq(k.discard_ns, 3 * 1000);
	ck_assert_uint_eq(k.populate_ns, 2 * 500);
	fix_fini(&f);
}
END_TEST

START_TEST(test_discard_fails)
{
	struct hfix f;

	fix_init(&f, 16, 1);
	f.rec->fail_discard = true;
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 4), HA_EIO);
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 4), HA_EIO);
	ck_assert(!ha_host_quarantined(&f.h));
	ck_assert_int_eq(f.rec->depth, 0);
	f.rec->fail_discard = false;
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 1), 1);
	fix_fini(&f);
}
END_TEST

START_TEST(test_populate_fails)
{
	struct hfix f;

	fix_init(&f, 8, 1);
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 0), 8);
	f.rec->fail_populate = true;
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(2)), HA_EIO);
	/* nothing changed: the guest may ask again */
	ck_assert_int_eq(ha_host_state(&f.h, ha_huge(2)), HA_HS_SOFT);
	ck_assert(ha_child_reclaimed(child(&f, 2)));
	ck_assert_uint_eq(counters(&f).installed, 0);
	f.rec->fail_populate = false;
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(2)), HA_OK);
	ck_assert(!ha_child_reclaimed(child(&f, 2)));
	assert_backing_consistent(&f);
	fix_fini(&f);
}
END_TEST

START_TEST(test_scan)
{
	struct hfix f;
	struct ha_host_scan s;
	ha_frame_t fr[2];
	bool rec[2];
	uint64_t soft_used = 0;

	fix_init(&f, 24, 1);
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 4), 4);
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 6), 6);
	ck_assert_int_eq(ha_guest_get(&f.g, 0, 0, 0, &fr[0], &rec[0]), HA_OK);
	ck_assert_int_eq(ha_guest_get(&f.g, 0, HA_HUGE_ORDER, 0, &fr[1],
				      &rec[1]),
			 HA_OK);
	for (unsigned i = 0; i < 2; i++) {
		enum ha_hstate st =
			ha_host_state(&f.h, ha_frame_to_huge(fr[i]));

		ck_assert(rec[i] == (st == HA_HS_SOFT));
		soft_used += rec[i];
	}
	ck_assert_uint_ne(fr[0].v / 512, fr[1].v / 512);
	ck_assert_int_eq(ha_host_scan(&f.h, &s), HA_OK);
	ck_assert_uint_eq(s.hard, 4);
	ck_assert_uint_eq(s.soft, 6);
	ck_assert_uint_eq(s.free_frames, (24 - 4) * 512 - 1 - 512);
	ck_assert_uint_eq(s.free_frames, ha_guest_free_frames(&f.g));
	ck_assert_uint_eq(s.free_huge, 24 - 4 - 2);
	ck_assert_uint_eq(s.free_huge_installed, 24 - 4 - 2 - (6 - soft_used));
	ck_assert_uint_eq(s.installing, soft_used);
	/* scan writes nothing and takes no lock */
	ck_assert_uint_eq(f.rec->locks, 2);
	fix_fini(&f);

	/* everything soft: whatever the guest takes must be installed */
	fix_init(&f, 8, 1);
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 0), 8);
	ck_assert_int_eq(ha_guest_get(&f.g, 0, 0, 0, &fr[0], &rec[0]), HA_OK);
	ck_assert_int_eq(ha_guest_get(&f.g, 0, HA_HUGE_ORDER, 0, &fr[1],
				      &rec[1]),
			 HA_OK);
	ck_assert(rec[0] && rec[1]);
	ck_assert_int_eq(ha_host_scan(&f.h, &s), HA_OK);
	ck_assert_uint_eq(s.installing, 2);
	ck_assert_uint_eq(s.soft, 8);
	ck_assert_uint_eq(s.free_huge, 6);
	ck_assert_uint_eq(s.free_huge_installed, 0);
	for (unsigned i = 0; i < 2; i++)
		ck_assert_int_eq(ha_host_install(&f.h, ha_frame_to_huge(fr[i])),
				 HA_OK);
	ck_assert_int_eq(ha_host_scan(&f.h, &s), HA_OK);
	ck_assert_uint_eq(s.installing, 0);
	ck_assert_uint_eq(s.soft, 6);
	ck_assert_uint_eq(s.free_huge_installed, 0);
	fix_fini(&f);
}
END_TEST

/* ---- quarantine ---- */

/* 3 trees; hard frames 0..3, soft frames 4..7, the rest installed. */
static void fix_mixed(struct hfix *f)
{
	fix_init(f, 24, 1);
	ck_assert_int_eq(ha_host_reclaim_hard(&f->h, 4), 4);
	ck_assert_int_eq(ha_host_reclaim_soft(&f->h, 4), 4);
	for (uint64_t c = 0; c < 8; c++)
		ck_assert_int_eq(ha_host_state(&f->h, ha_huge(c)),
				 c < 4 ? HA_HS_HARD : HA_HS_SOFT);
	assert_backing_consistent(f);
}

/* After quarantine: everything populated, no reclaim any more, installs
 * succeed without doing anything. */
static void assert_quarantined(struct hfix *f)
{
	struct ha_host_counters k = counters(f);
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
	assert_backing_consistent(f);
}

START_TEST(test_quarantine)
{
	struct hfix f;

	fix_mixed(&f);
	ck_assert_int_eq(ha_host_quarantine(&f.h), HA_OK);
	/* one populate call for the run 0..7 */
	ck_assert_uint_eq(f.rec->ncalls, 3);
	assert_call(&f, 2, true, 0, 8);
	/* hard frames went back to the guest, soft ones lost the bit */
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), f.frames);
	for (uint64_t c = 0; c < 24; c++)
		ck_assert_uint_eq(child(&f, c), HA_CHILD_FRAMES);
	ck_assert_int_eq(ha_host_bad(&f.h)->reason, HA_BAD_NONE);
	assert_quarantined(&f);
	fix_fini(&f);
}
END_TEST

/* A guest that corrupts its words while attached: the next operation
 * that reads the word reports it and quarantines the region. */
enum live_op { OP_SCAN, OP_HARD, OP_SOFT, OP_RETURN, OP_INSTALL };

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
	{ "huge with free, install", false, 4, HA_CHILD_HUGE | 5, OP_INSTALL,
	  4, HA_BAD_CHILD },
	{ "hard frame lost its bit, return", false, 0, HA_CHILD_HUGE,
	  OP_RETURN, 1, HA_BAD_STATE },
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
	fix_fini(&f);
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
		assert_backing_consistent(f);
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

		fix_guest(&f, sizes[rng_below(&seed, 4)], 1);
		trees = (f.children + 7) / 8;
		ram = BASE + f.frames;
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
		fix_fini(&f);
	}
	/* the fuzzer got past attach, moved frames and found corruption
	 * often enough to mean something */
	ck_assert_uint_gt(st.attached, iters / 8);
	ck_assert_uint_gt(st.moved, iters / 8);
	ck_assert_uint_gt(st.badmsg, iters / 8);
}
END_TEST

static Suite *host_suite(void)
{
	Suite *s = suite_create("host");
	TCase *tc;

	tc = tcase_create("attach");
	tcase_add_test(tc, test_attach_fresh);
	tcase_add_test(tc, test_attach_einval);
	tcase_add_test(tc, test_attach_restart);
	tcase_add_test(tc, test_attach_restart_pending_install);
	tcase_add_loop_test(tc, test_attach_bad, 0,
			    (int)(sizeof(attach_cases) /
				  sizeof(attach_cases[0])));
	tcase_add_test(tc, test_attach_edges_ok);
	suite_add_tcase(s, tc);

	tc = tcase_create("transitions");
	tcase_add_test(tc, test_hard_reclaim);
	tcase_add_test(tc, test_soft_reclaim);
	tcase_add_test(tc, test_soft_to_hard);
	tcase_add_test(tc, test_return);
	tcase_add_test(tc, test_install);
	tcase_add_test(tc, test_install_not_reclaimed);
	tcase_add_test(tc, test_install_hard);
	tcase_add_test(tc, test_install_range);
	tcase_add_test(tc, test_state_cycle);
	suite_add_tcase(s, tc);

	tc = tcase_create("policy");
	tcase_add_test(tc, test_reserved_untouched);
	tcase_add_test(tc, test_hard_one_by_one);
	tcase_add_test(tc, test_reclaim_stops);
	tcase_add_test(tc, test_discard_runs);
	tcase_add_test(tc, test_discard_batches);
	tcase_add_test(tc, test_time_accounting);
	tcase_add_test(tc, test_discard_fails);
	tcase_add_test(tc, test_populate_fails);
	tcase_add_test(tc, test_scan);
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
	SRunner *sr = srunner_create(host_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
