// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the host side: attach, hard and soft reclaim, return,
 * install, scan and the counters; every transition of the per-frame state
 * machine (installed -> soft/hard, soft -> hard/installed, hard -> soft);
 * and what reclaim may take. Hostile metadata is in test_host_hostile.c;
 * both suites use the recording embedder of host_fixture.h.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "host_fixture.h"

/* ---- attach ---- */

START_TEST(test_attach_fresh)
{
	struct hfix f;
	struct ha_host_scan s;
	struct ha_host_counters k;

	hfix_init(&f, 45, 1);
	ck_assert(!ha_host_quarantined(&f.h));
	ck_assert_int_eq(ha_host_bad(&f.h)->reason, HA_BAD_NONE);
	ck_assert_uint_eq(hfix_count_state(&f, HA_HS_INSTALLED), 45);
	ck_assert_int_eq(ha_host_state(&f.h, ha_huge(45)), HA_HS_INSTALLED);
	k = hfix_counters(&f);
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
	ck_assert_uint_ge(ha_host_state_size(HFIX_BASE + f.frames), 45 / 4 + 1);
	hfix_fini(&f);
}
END_TEST

START_TEST(test_attach_einval)
{
	struct hfix f;
	struct ha_bad bad;
	struct ha_host_env env;
	uint64_t ram = HFIX_BASE + 8 * 512;

	hfix_guest(&f, 8, 1);
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
	ck_assert_uint_eq(hfix_counters(&f).discard_ns, 0);
	hfix_fini(&f);
}
END_TEST

/* A restarted host process picks up the states from the child words. */
START_TEST(test_attach_restart)
{
	struct hfix f;
	struct ha_host_counters k;

	hfix_init(&f, 16, 1);
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 3), 3);
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 2), 2);
	memset(f.state, 0xff, ha_host_state_size(HFIX_BASE + f.frames));
	hfix_attach(&f);
	k = hfix_counters(&f);
	ck_assert_uint_eq(k.hard_now, 3);
	ck_assert_uint_eq(k.soft_now, 2);
	ck_assert_uint_eq(k.reclaimed_hard, 0);
	hfix_assert_backing_consistent(&f);
	/* and carries on from there */
	ck_assert_int_eq(ha_host_return(&f.h, 10), 3);
	ck_assert_uint_eq(hfix_counters(&f).soft_now, 5);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), f.frames);
	hfix_fini(&f);
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

	hfix_init(&f, 16, 1);
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
	ck_assert_uint_eq(hfix_child(&f, pending), hfix_child(&f, hard));

	/* host restart */
	memset(f.state, 0, ha_host_state_size(HFIX_BASE + f.frames));
	hfix_attach(&f);
	ck_assert_int_eq(ha_host_state(&f.h, ha_huge(hard)), HA_HS_HARD);
	ck_assert_int_eq(ha_host_state(&f.h, ha_huge(pending)), HA_HS_SOFT);
	/* the pending install completes; the guest keeps its block */
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(pending)), HA_OK);
	ck_assert(!ha_child_reclaimed(hfix_child(&f, pending)));
	ck_assert(ha_child_huge(hfix_child(&f, pending)));
	/* returning gives back exactly the hard frame */
	ck_assert_int_eq(ha_host_return(&f.h, 16), 1);
	ck_assert_int_eq(ha_host_state(&f.h, ha_huge(hard)), HA_HS_SOFT);
	ck_assert(ha_child_huge(hfix_child(&f, pending)));
	ck_assert_int_eq(ha_guest_put(&f.g, 0, got, HA_HUGE_ORDER), HA_OK);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), f.frames);
	hfix_fini(&f);
}
END_TEST

/* ---- transitions ---- */

START_TEST(test_hard_reclaim)
{
	struct hfix f;
	struct ha_host_counters k;
	ha_frame_t fr;
	bool rec;

	hfix_init(&f, 16, 1);
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 5), 5);
	ck_assert_uint_eq(hfix_count_state(&f, HA_HS_HARD), 5);
	for (uint64_t c = 0; c < 16; c++) {
		if (ha_host_state(&f.h, ha_huge(c)) != HA_HS_HARD)
			continue;
		/* looks allocated to the guest */
		ck_assert_uint_eq(hfix_child(&f, c),
				  HA_CHILD_HUGE | HA_CHILD_RECLAIMED);
	}
	/* The guest lost exactly 512 frames per reclaimed huge frame. */
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), f.frames - 5 * 512);
	ck_assert_uint_eq(ha_tree_free(f.g.trees[0]) +
				  ha_tree_free(f.g.trees[1]),
			  f.frames - 5 * 512);
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), 11);
	k = hfix_counters(&f);
	ck_assert_uint_eq(k.reclaimed_hard, 5);
	ck_assert_uint_eq(k.hard_now, 5);
	ck_assert_uint_eq(k.soft_now, 0);
	ck_assert_uint_eq(k.discard_calls, 1);
	ck_assert_uint_eq(f.rec->discarded, 5);
	hfix_assert_backing_consistent(&f);
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
	hfix_fini(&f);
}
END_TEST

START_TEST(test_soft_reclaim)
{
	struct hfix f;
	struct ha_host_counters k;

	hfix_init(&f, 16, 1);
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 3), 3);
	ck_assert_uint_eq(hfix_count_state(&f, HA_HS_SOFT), 3);
	for (uint64_t c = 0; c < 16; c++)
		if (ha_host_state(&f.h, ha_huge(c)) == HA_HS_SOFT)
			ck_assert_uint_eq(hfix_child(&f, c),
					  HA_CHILD_FRAMES | HA_CHILD_RECLAIMED);
	/* Still free for the guest. */
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), f.frames);
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), 16);
	/* 0 = everything that is left */
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 0), 13);
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 0), 0);
	k = hfix_counters(&f);
	ck_assert_uint_eq(k.reclaimed_soft, 16);
	ck_assert_uint_eq(k.soft_now, 16);
	ck_assert_uint_eq(k.hard_now, 0);
	ck_assert_uint_eq(f.rec->discarded, 16);
	ck_assert_uint_eq(k.discard_calls, f.rec->ncalls);
	hfix_assert_backing_consistent(&f);
	hfix_fini(&f);
}
END_TEST

START_TEST(test_soft_to_hard)
{
	struct hfix f;
	struct ha_host_counters k;

	hfix_init(&f, 16, 1);
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 0), 16);
	ck_assert_uint_eq(f.rec->ncalls, 1);
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 4), 4);
	/* already discarded: no new call */
	ck_assert_uint_eq(f.rec->ncalls, 1);
	k = hfix_counters(&f);
	ck_assert_uint_eq(k.reclaimed_hard, 4);
	ck_assert_uint_eq(k.reclaimed_soft, 16);
	ck_assert_uint_eq(k.hard_now, 4);
	ck_assert_uint_eq(k.soft_now, 12);
	ck_assert_uint_eq(k.discard_calls, 1);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), f.frames - 4 * 512);
	hfix_assert_backing_consistent(&f);
	hfix_fini(&f);
}
END_TEST

START_TEST(test_return)
{
	struct hfix f;
	struct ha_host_counters k;
	unsigned calls;

	hfix_init(&f, 16, 1);
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 6), 6);
	calls = f.rec->ncalls;
	ck_assert_int_eq(ha_host_return(&f.h, 2), 2);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), f.frames - 4 * 512);
	ck_assert_uint_eq(hfix_count_state(&f, HA_HS_SOFT), 2);
	for (uint64_t c = 0; c < 16; c++)
		if (ha_host_state(&f.h, ha_huge(c)) == HA_HS_SOFT)
			ck_assert_uint_eq(hfix_child(&f, c),
					  HA_CHILD_FRAMES | HA_CHILD_RECLAIMED);
	/* nothing is populated: the guest installs lazily */
	ck_assert_uint_eq(f.rec->ncalls, calls);
	k = hfix_counters(&f);
	ck_assert_uint_eq(k.returned, 2);
	ck_assert_uint_eq(k.hard_now, 4);
	ck_assert_uint_eq(k.soft_now, 2);
	/* stops when no hard frame is left */
	ck_assert_int_eq(ha_host_return(&f.h, 10), 4);
	ck_assert_int_eq(ha_host_return(&f.h, 1), 0);
	k = hfix_counters(&f);
	ck_assert_uint_eq(k.returned, 6);
	ck_assert_uint_eq(k.hard_now, 0);
	ck_assert_uint_eq(k.soft_now, 6);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), f.frames);
	hfix_assert_backing_consistent(&f);
	hfix_fini(&f);
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

	hfix_init(&f, 16, 1);
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 0), 16);
	calls = f.rec->ncalls;
	ck_assert_int_eq(ha_guest_get(&f.g, 0, 0, 0, &fr, &rec), HA_OK);
	ck_assert(rec);
	c = ha_frame_to_huge(fr).v;
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(c)), HA_OK);
	ck_assert_int_eq(ha_host_state(&f.h, ha_huge(c)), HA_HS_INSTALLED);
	ck_assert_uint_eq(f.rec->ncalls, calls + 1);
	hfix_assert_call(&f, calls, true, c, 1);
	/* reclaimed cleared, the guest's allocation kept */
	ck_assert_uint_eq(hfix_child(&f, c), 511);
	k = hfix_counters(&f);
	ck_assert_uint_eq(k.installed, 1);
	ck_assert_uint_eq(k.soft_now, 15);
	ck_assert_uint_eq(k.populate_ns, 500);
	/* a racing CPU's request for the same frame is a no-op */
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(c)), HA_OK);
	ck_assert_uint_eq(f.rec->ncalls, calls + 1);
	ck_assert_uint_eq(hfix_counters(&f).installed, 1);
	/* a soft frame the guest has not taken yet may be installed too */
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge((c + 1) % 16)), HA_OK);
	ck_assert_uint_eq(hfix_child(&f, (c + 1) % 16), HA_CHILD_FRAMES);
	ck_assert_uint_eq(hfix_counters(&f).installed, 2);
	hfix_assert_backing_consistent(&f);
	hfix_fini(&f);
}
END_TEST

START_TEST(test_install_not_reclaimed)
{
	struct hfix f;

	hfix_init(&f, 16, 1);
	for (uint64_t c = 0; c < 16; c++)
		ck_assert_int_eq(ha_host_install(&f.h, ha_huge(c)), HA_OK);
	ck_assert_uint_eq(f.rec->ncalls, 0);
	ck_assert_uint_eq(hfix_counters(&f).installed, 0);
	ck_assert(!ha_host_quarantined(&f.h));
	hfix_fini(&f);
}
END_TEST

START_TEST(test_install_hard)
{
	struct hfix f;
	unsigned calls;

	hfix_init(&f, 16, 1);
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 1), 1);
	calls = f.rec->ncalls;
	ck_assert_int_eq(ha_host_state(&f.h, ha_huge(0)), HA_HS_HARD);
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(0)), HA_EPROTO);
	ck_assert_int_eq(ha_host_state(&f.h, ha_huge(0)), HA_HS_HARD);
	ck_assert_uint_eq(hfix_child(&f, 0),
			  HA_CHILD_HUGE | HA_CHILD_RECLAIMED);
	ck_assert_uint_eq(f.rec->ncalls, calls);
	ck_assert_uint_eq(hfix_counters(&f).installed, 0);
	/* a protocol error, not corruption */
	ck_assert(!ha_host_quarantined(&f.h));
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 1), 1);
	hfix_fini(&f);
}
END_TEST

START_TEST(test_install_range)
{
	struct hfix f;

	hfix_init(&f, 13, 1);
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(13)), HA_ERANGE);
	/* the padding slots of the last tree are not frames either */
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(15)), HA_ERANGE);
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(UINT64_MAX)), HA_ERANGE);
	ck_assert_uint_eq(f.rec->ncalls, 0);
	ck_assert_int_eq(f.rec->depth, 0);
	ck_assert(!ha_host_quarantined(&f.h));
	hfix_fini(&f);
}
END_TEST

/* Every legal transition on a single huge frame, in one walk. */
START_TEST(test_state_cycle)
{
	struct hfix f;
	ha_frame_t fr;
	bool rec;
	struct ha_host_counters k;

	hfix_init(&f, 1, 1);
	/* installed -> soft */
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 0), 1);
	ck_assert_int_eq(ha_host_state(&f.h, ha_huge(0)), HA_HS_SOFT);
	hfix_assert_call(&f, 0, false, 0, 1);
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
	hfix_assert_call(&f, 1, true, 0, 1);
	/* installed -> hard */
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 1), 1);
	ck_assert_int_eq(ha_host_state(&f.h, ha_huge(0)), HA_HS_HARD);
	hfix_assert_call(&f, 2, false, 0, 1);
	/* back to the guest, which allocates it and asks for it */
	ck_assert_int_eq(ha_host_return(&f.h, 1), 1);
	ck_assert_int_eq(ha_guest_get(&f.g, 0, HA_HUGE_ORDER, 0, &fr, &rec),
			 HA_OK);
	ck_assert(rec);
	ck_assert_int_eq(ha_host_install(&f.h, ha_frame_to_huge(fr)), HA_OK);
	hfix_assert_call(&f, 3, true, 0, 1);
	ck_assert_uint_eq(hfix_child(&f, 0), HA_CHILD_HUGE);
	ck_assert_int_eq(ha_guest_put(&f.g, 0, fr, HA_HUGE_ORDER), HA_OK);
	ck_assert_uint_eq(hfix_child(&f, 0), HA_CHILD_FRAMES);
	k = hfix_counters(&f);
	ck_assert_uint_eq(k.reclaimed_soft, 1);
	ck_assert_uint_eq(k.reclaimed_hard, 2);
	ck_assert_uint_eq(k.returned, 2);
	ck_assert_uint_eq(k.installed, 2);
	ck_assert_uint_eq(k.discard_calls, 2);
	ck_assert_uint_eq(k.hard_now + k.soft_now, 0);
	hfix_assert_backing_consistent(&f);
	hfix_fini(&f);
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
		hfix_init(&f, 32, 2);
		ck_assert_int_eq(ha_guest_get(&f.g, 0, 0, 0, &a, &rec), HA_OK);
		ck_assert_int_eq(ha_guest_get(&f.g, 1, 0, 0, &b, &rec), HA_OK);
		ta = a.v / HA_TREE_FRAMES;
		tb = b.v / HA_TREE_FRAMES;
		ck_assert_uint_ne(ta, tb);
		ck_assert(ha_tree_reserved(f.g.trees[ta]));
		for (unsigned i = 0; i < 2; i++) {
			ck_assert_int_eq(ha_guest_get(&f.g, 0, HA_HUGE_ORDER, 0,
						      &h[i], &rec),
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
				ck_assert(
					!ha_child_reclaimed(hfix_child(&f, c)));
		}
		ck_assert_uint_eq(ha_tree_free(f.g.trees[ta]), 1024);
		/* the reserving CPUs still allocate from their trees */
		for (unsigned i = 0; i < 100; i++) {
			ck_assert_int_eq(ha_guest_get(&f.g, 0, 0, 0, &a, &rec),
					 HA_OK);
			ck_assert(!rec);
			ck_assert_uint_eq(a.v / HA_TREE_FRAMES, ta);
		}
		hfix_fini(&f);
	}
}
END_TEST

START_TEST(test_hard_one_by_one)
{
	struct hfix f;

	hfix_init(&f, 13, 1);
	for (unsigned i = 1; i <= 13; i++) {
		ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 1), 1);
		ck_assert_uint_eq(ha_guest_free_frames(&f.g),
				  f.frames - i * 512ull);
		ck_assert_uint_eq(hfix_counters(&f).hard_now, i);
	}
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 1), 0);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 0);
	/* contiguous, but one call per request */
	ck_assert_uint_eq(hfix_counters(&f).discard_calls, 13);
	hfix_assert_backing_consistent(&f);
	hfix_fini(&f);
}
END_TEST

/* Reclaim takes only entirely free huge frames and stops when there are
 * none, also when a tree has 512 free frames scattered over children. */
START_TEST(test_reclaim_stops)
{
	struct hfix f;
	ha_frame_t fr[16];
	bool rec;

	hfix_init(&f, 16, 1);
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
				       HFIX_BASE, f.frames, HA_INIT_ATTACH),
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
	hfix_assert_backing_consistent(&f);
	hfix_fini(&f);
}
END_TEST

/* Discards come as maximal runs of contiguous frames. */
START_TEST(test_discard_runs)
{
	struct hfix f;

	hfix_init(&f, 16, 1);
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 0), 16);
	ck_assert_uint_eq(f.rec->ncalls, 1);
	hfix_assert_call(&f, 0, false, 0, 16);
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(3)), HA_OK);
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(4)), HA_OK);
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(9)), HA_OK);
	ck_assert_uint_eq(f.rec->ncalls, 4);
	/* soft frames go hard silently; installed ones are discarded */
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 16), 16);
	ck_assert_uint_eq(f.rec->ncalls, 6);
	hfix_assert_call(&f, 4, false, 3, 2);
	hfix_assert_call(&f, 5, false, 9, 1);
	ck_assert_uint_eq(hfix_counters(&f).discard_calls, 3);
	hfix_assert_backing_consistent(&f);
	hfix_fini(&f);
}
END_TEST

/* Large requests run in batches, each under the lock, so that installs
 * get a chance in between; every frame is discarded exactly once. */
START_TEST(test_discard_batches)
{
	struct hfix f;
	uint64_t next = 0;
	unsigned locks;

	hfix_init(&f, 200, 1);
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
	ck_assert_uint_eq(hfix_counters(&f).discard_calls, f.rec->ncalls);
	hfix_assert_backing_consistent(&f);
	hfix_fini(&f);
}
END_TEST

START_TEST(test_time_accounting)
{
	struct hfix f;
	struct ha_host_counters k;

	hfix_init(&f, 16, 1);
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 0), 16);
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(5)), HA_OK);
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(7)), HA_OK);
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 16), 16);
	k = hfix_counters(&f);
	/* the fake clock advances only inside the callbacks */
	ck_assert_uint_eq(k.discard_calls, 3);
	ck_assert_uint_eq(k.discard_ns, 3 * 1000);
	ck_assert_uint_eq(k.populate_ns, 2 * 500);
	hfix_fini(&f);
}
END_TEST

/* ha_host.h: after a failed discard the batch's frames stay reclaimed
 * (state, child words, counters), backing or not; nothing is discarded
 * twice, and they come back to the guest like any reclaimed frame. */
START_TEST(test_discard_fails)
{
	struct hfix f;
	struct ha_host_counters k;
	uint64_t hard[4], soft[4], nh = 0, ns = 0;

	hfix_init(&f, 16, 1);
	f.rec->fail_discard = true;
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 4), HA_EIO);
	ck_assert_uint_eq(hfix_count_state(&f, HA_HS_HARD), 4);
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 4), HA_EIO);
	ck_assert_uint_eq(hfix_count_state(&f, HA_HS_SOFT), 4);
	ck_assert(!ha_host_quarantined(&f.h));
	ck_assert_int_eq(f.rec->depth, 0);
	for (uint64_t c = 0; c < 16; c++) {
		enum ha_hstate st = ha_host_state(&f.h, ha_huge(c));
		ha_child_word w = hfix_child(&f, c);

		if (st == HA_HS_HARD) {
			ck_assert_uint_eq(w,
					  HA_CHILD_HUGE | HA_CHILD_RECLAIMED);
			hard[nh++] = c;
		} else if (st == HA_HS_SOFT) {
			ck_assert_uint_eq(w,
					  HA_CHILD_FRAMES | HA_CHILD_RECLAIMED);
			soft[ns++] = c;
		} else {
			ck_assert_uint_eq(w, HA_CHILD_FRAMES);
		}
		/* the discard failed: the memory is still there */
		ck_assert(f.rec->backed[c]);
	}
	k = hfix_counters(&f);
	ck_assert_uint_eq(k.hard_now, 4);
	ck_assert_uint_eq(k.soft_now, 4);
	ck_assert_uint_eq(k.reclaimed_hard, 4);
	ck_assert_uint_eq(k.reclaimed_soft, 4);
	/* the hard frames are the guest's no more */
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 12 * 512);

	/* Not discarded again: the 4 soft ones go hard without a discard,
	 * only the 8 frames still installed are discarded. */
	f.rec->fail_discard = false;
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 12), 12);
	ck_assert_uint_eq(hfix_count_state(&f, HA_HS_HARD), 16);
	ck_assert_uint_eq(f.rec->discarded, 8);
	/* They come back and are installed like any other. */
	ck_assert_int_eq(ha_host_return(&f.h, 16), 16);
	ck_assert_uint_eq(hfix_count_state(&f, HA_HS_SOFT), 16);
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(hard[0])), HA_OK);
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(soft[0])), HA_OK);
	ck_assert_int_eq(ha_host_state(&f.h, ha_huge(hard[0])),
			 HA_HS_INSTALLED);
	ck_assert_int_eq(ha_host_state(&f.h, ha_huge(soft[0])),
			 HA_HS_INSTALLED);
	ck_assert_uint_eq(hfix_count_state(&f, HA_HS_SOFT), 14);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 16 * 512);
	hfix_fini(&f);
}
END_TEST

START_TEST(test_populate_fails)
{
	struct hfix f;

	hfix_init(&f, 8, 1);
	ck_assert_int_eq(ha_host_reclaim_soft(&f.h, 0), 8);
	f.rec->fail_populate = true;
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(2)), HA_EIO);
	/* nothing changed: the guest may ask again */
	ck_assert_int_eq(ha_host_state(&f.h, ha_huge(2)), HA_HS_SOFT);
	ck_assert(ha_child_reclaimed(hfix_child(&f, 2)));
	ck_assert_uint_eq(hfix_counters(&f).installed, 0);
	f.rec->fail_populate = false;
	ck_assert_int_eq(ha_host_install(&f.h, ha_huge(2)), HA_OK);
	ck_assert(!ha_child_reclaimed(hfix_child(&f, 2)));
	hfix_assert_backing_consistent(&f);
	hfix_fini(&f);
}
END_TEST

START_TEST(test_scan)
{
	struct hfix f;
	struct ha_host_scan s;
	ha_frame_t fr[2];
	bool rec[2];
	uint64_t soft_used = 0;

	hfix_init(&f, 24, 1);
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
	hfix_fini(&f);

	/* everything soft: whatever the guest takes must be installed */
	hfix_init(&f, 8, 1);
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
	hfix_fini(&f);
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
