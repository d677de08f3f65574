// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for what a kernel needs from the guest allocator beyond
 * get and put: frees that cannot fail (a split never makes a free give
 * up, a hard frame is refused instead of waited for), draining a CPU's
 * reservations (also so that the host reaches reserved trees), a get that
 * refuses reclaimed frames, the managed range of a zone whose start and
 * size are not aligned and that has holes, and the huge-frame probe for
 * watermark checks. Fixtures: guest_fixture.h, host_fixture.h.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "guest_fixture.h"
#include "host_fixture.h"

static void set_reclaimed(struct ha_guest *g, uint64_t c)
{
	g->children[c] |= HA_CHILD_RECLAIMED;
}

/* ---- frees cannot fail ---- */

/* Threads free the 4 KiB pieces of the same huge frames at once while
 * others allocate from what is freed: every put succeeds at the first
 * call, nothing is handed out twice, and everything comes back. */
#define KT_THREADS 4
#define KT_HUGE	   32

/* Owner states of a frame in test_put_split_never_fails. */
enum {
	KT_FREE,
	KT_GOT,
	KT_HUGE_HELD
};

static bool kt_claim(uint8_t *owner, uint8_t from, uint8_t to)
{
	return __atomic_compare_exchange_n(owner, &from, to, false,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

struct kt_split {
	struct gfix *f;
	const ha_frame_t *huge;
	unsigned id;
	unsigned long put_errors, get_errors, gets;
	uint8_t *owner;
};

static void *kt_split_worker(void *arg)
{
	struct kt_split *s = arg;
	ha_frame_t mine[64];
	unsigned n = 0;

	for (unsigned h = 0; h < KT_HUGE; h++) {
		for (unsigned k = s->id; k < 512; k += KT_THREADS) {
			ha_frame_t fr = ha_frame(s->huge[h].v + k);
			bool rec;

			if (!kt_claim(&s->owner[fr.v], KT_HUGE_HELD, KT_FREE))
				s->put_errors++;
			if (ha_guest_put(&s->f->g, s->id, fr, 0) != HA_OK)
				s->put_errors++;
			/* Take a frame now and then: it comes from the pieces
			 * freed so far (everything else is allocated). */
			if (k % 32 == s->id && n < 64 &&
			    ha_guest_get(&s->f->g, s->id, 0, 0, &fr, &rec) ==
				    HA_OK) {
				/* Only a frame freed before may come back. */
				if (!kt_claim(&s->owner[fr.v], KT_FREE, KT_GOT))
					s->get_errors++;
				mine[n++] = fr;
				s->gets++;
			}
		}
	}
	while (n > 0) {
		n--;
		if (!kt_claim(&s->owner[mine[n].v], KT_GOT, KT_FREE))
			s->get_errors++;
		if (ha_guest_put(&s->f->g, s->id, mine[n], 0) != HA_OK)
			s->put_errors++;
	}
	return NULL;
}

START_TEST(test_put_split_never_fails)
{
	struct gfix f;
	ha_frame_t huge[KT_HUGE];
	struct kt_split s[KT_THREADS];
	pthread_t tid[KT_THREADS];
	unsigned long gets = 0;

	gfix_init(&f, KT_HUGE * 512, KT_THREADS, HA_INIT_FREE);
	for (unsigned h = 0; h < KT_HUGE; h++)
		huge[h] =
			gfix_get_ok(&f, h % KT_THREADS, HA_HUGE_ORDER, 0, NULL);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 0);
	memset(f.held, KT_HUGE_HELD, KT_HUGE * 512);
	for (unsigned i = 0; i < KT_THREADS; i++) {
		s[i] = (struct kt_split){
			.f = &f, .huge = huge, .id = i, .owner = f.held
		};
		ck_assert_int_eq(pthread_create(&tid[i], NULL, kt_split_worker,
						&s[i]),
				 0);
	}
	for (unsigned i = 0; i < KT_THREADS; i++) {
		ck_assert_int_eq(pthread_join(tid[i], NULL), 0);
		ck_assert_uint_eq(s[i].put_errors, 0);
		ck_assert_uint_eq(s[i].get_errors, 0);
		gets += s[i].gets;
	}
	ck_assert_uint_gt(gets, 0);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), KT_HUGE * 512);
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), KT_HUGE);
	gfix_fini(&f);
}
END_TEST

/* A piece of a hard-reclaimed frame is the host's: the free is refused
 * at once (no split, no waiting for one), and nothing changes. */
START_TEST(test_put_hard_child_refused)
{
	struct gfix f;
	ha_child_word hard = HA_CHILD_HUGE | HA_CHILD_RECLAIMED;
	ha_tree_word tw;

	gfix_init(&f, 8 * 512, 1, HA_INIT_FREE);
	/* What the host's hard reclaim leaves (docs/protocol.md H1). */
	f.g.trees[0] = (ha_tree_word)(f.g.trees[0] - HA_CHILD_FRAMES);
	f.g.children[3] = hard;
	f.g.bitfields[3].rows[0] = HA_HARD_MARK;
	tw = f.g.trees[0];
	for (unsigned order = 0; order < HA_HUGE_ORDER; order++)
		ck_assert_int_eq(ha_guest_put(&f.g, 0, ha_frame(3 * 512),
					      order),
				 HA_EFAULT);
	ck_assert_uint_eq(f.g.children[3], hard);
	ck_assert_uint_eq(f.g.bitfields[3].rows[0], HA_HARD_MARK);
	for (unsigned r = 1; r < HA_BITFIELD_ROWS; r++)
		ck_assert_uint_eq(f.g.bitfields[3].rows[r], 0);
	ck_assert_uint_eq(f.g.trees[0], tw);
	gfix_fini(&f);
}
END_TEST

/* ---- drain ---- */

START_TEST(test_drain_returns_reservations)
{
	struct gfix f;
	ha_frame_t a, b;
	uint64_t ta, tb;

	/* 12 trees for 2 cores: kinds on (trees >= 3 * cores). */
	gfix_init(&f, 12 * 4096, 2, HA_INIT_FREE);
	a = gfix_get_ok(&f, 0, 0, 0, NULL);
	b = gfix_get_ok(&f, 0, 0, HA_GET_MOVABLE, NULL);
	(void)gfix_get_ok(&f, 1, 3, 0, NULL);
	ta = gfix_tree_of(a);
	tb = gfix_tree_of(b);
	ck_assert_uint_ne(ta, tb);
	ck_assert(ha_tree_reserved(f.g.trees[ta]));
	ck_assert(ha_tree_reserved(f.g.trees[tb]));

	ha_guest_drain(&f.g, 0);
	for (unsigned k = 0; k < HA_KIND_COUNT; k++)
		ck_assert_uint_eq(f.g.locals[0].reserved[k], 0);
	ck_assert(!ha_tree_reserved(f.g.trees[ta]));
	ck_assert(!ha_tree_reserved(f.g.trees[tb]));
	/* The counts went back into the tree words, none lost. */
	ck_assert_uint_eq(ha_tree_free(f.g.trees[ta]), 4095);
	ck_assert_uint_eq(ha_tree_free(f.g.trees[tb]), 4095);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 12 * 4096 - 10);
	/* Core 1 keeps its reservation; an unknown core is ignored. */
	ck_assert(f.g.locals[1].reserved[HA_KIND_FIXED] != 0);
	ha_guest_drain(&f.g, 2);
	ha_guest_drain(&f.g, 0); /* twice is harmless */
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 12 * 4096 - 10);

	/* Core 0 simply reserves again. */
	gfix_put_ok(&f, 0, a, 0);
	(void)gfix_get_ok(&f, 0, 0, 0, NULL);
	ck_assert(f.g.locals[0].reserved[HA_KIND_FIXED] != 0);
	gfix_fini(&f);
}
END_TEST

/* Every tree reserved by some CPU hides everything from the host; after
 * a drain of those CPUs it reclaims them. */
START_TEST(test_drain_lets_host_reclaim)
{
	struct hfix f;
	ha_frame_t fr;
	bool rec;

	hfix_init(&f, 16, 2); /* two trees, two cores */
	ck_assert_int_eq(ha_guest_get(&f.g, 0, 0, 0, &fr, &rec), HA_OK);
	ck_assert_int_eq(ha_guest_put(&f.g, 0, fr, 0), HA_OK);
	ck_assert_int_eq(ha_guest_get(&f.g, 1, 0, 0, &fr, &rec), HA_OK);
	ck_assert_int_eq(ha_guest_put(&f.g, 1, fr, 0), HA_OK);
	ck_assert(ha_tree_reserved(f.g.trees[0]));
	ck_assert(ha_tree_reserved(f.g.trees[1]));
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 16), 0);

	ha_guest_drain(&f.g, 0);
	ha_guest_drain(&f.g, 1);
	ck_assert_int_eq(ha_host_reclaim_hard(&f.h, 16), 16);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 0);
	hfix_assert_backing_consistent(&f);
	hfix_fini(&f);
}
END_TEST

/* Drains of every core while the cores allocate and free: no frame is
 * handed out twice, none is lost. */
struct kt_drain {
	struct gfix *f;
	unsigned id;
	int *stop;
	unsigned long errors;
};

static void *kt_drainer(void *arg)
{
	struct kt_drain *d = arg;

	while (!__atomic_load_n(d->stop, __ATOMIC_ACQUIRE))
		for (unsigned c = 0; c < KT_THREADS; c++)
			ha_guest_drain(&d->f->g, c);
	return NULL;
}

static void *kt_allocator(void *arg)
{
	struct kt_drain *d = arg;
	struct gfix_held held[128];
	uint64_t seed = d->id + 7;
	unsigned n = 0;

	for (unsigned i = 0; i < 100000; i++) {
		if (n < 128 && (n == 0 || gfix_rng_below(&seed, 2))) {
			unsigned order = gfix_rng_below(&seed, 4);
			ha_frame_t fr;
			bool rec;

			if (ha_guest_get(&d->f->g, d->id, order,
					 gfix_rng_below(&seed, 2) ?
						 HA_GET_MOVABLE :
						 0,
					 &fr, &rec) != HA_OK)
				continue;
			for (uint64_t k = 0; k < (1ull << order); k++) {
				uint8_t z = 0;

				if (!__atomic_compare_exchange_n(
					    &d->f->held[fr.v + k], &z, 1, false,
					    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
					d->errors++;
			}
			held[n].frame = fr;
			held[n++].order = order;
		} else {
			unsigned j = gfix_rng_below(&seed, n);
			struct gfix_held a = held[j];

			held[j] = held[--n];
			for (uint64_t k = 0; k < (1ull << a.order); k++)
				__atomic_store_n(&d->f->held[a.frame.v + k], 0,
						 __ATOMIC_RELEASE);
			if (ha_guest_put(&d->f->g, d->id, a.frame, a.order) !=
			    HA_OK)
				d->errors++;
		}
	}
	while (n > 0) {
		n--;
		for (uint64_t k = 0; k < (1ull << held[n].order); k++)
			__atomic_store_n(&d->f->held[held[n].frame.v + k], 0,
					 __ATOMIC_RELEASE);
		if (ha_guest_put(&d->f->g, d->id, held[n].frame,
				 held[n].order) != HA_OK)
			d->errors++;
	}
	return NULL;
}

START_TEST(test_drain_concurrent)
{
	struct gfix f;
	struct kt_drain d[KT_THREADS + 1];
	pthread_t tid[KT_THREADS + 1];
	int stop = 0;
	uint64_t frames = 4 * 4096;

	gfix_init(&f, frames, KT_THREADS, HA_INIT_FREE);
	for (unsigned i = 0; i <= KT_THREADS; i++) {
		d[i] = (struct kt_drain){ .f = &f, .id = i, .stop = &stop };
		ck_assert_int_eq(pthread_create(&tid[i], NULL,
						i < KT_THREADS ? kt_allocator :
								 kt_drainer,
						&d[i]),
				 0);
	}
	for (unsigned i = 0; i < KT_THREADS; i++)
		ck_assert_int_eq(pthread_join(tid[i], NULL), 0);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	ck_assert_int_eq(pthread_join(tid[KT_THREADS], NULL), 0);
	for (unsigned i = 0; i < KT_THREADS; i++)
		ck_assert_uint_eq(d[i].errors, 0);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), frames);
	for (unsigned c = 0; c < KT_THREADS; c++)
		ha_guest_drain(&f.g, c);
	/* Drained and idle: the tree words hold everything again. */
	for (uint64_t t = 0; t < 4; t++) {
		ck_assert(!ha_tree_reserved(f.g.trees[t]));
		ck_assert_uint_eq(ha_tree_free(f.g.trees[t]), 4096);
	}
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), frames / 512);
	gfix_fini(&f);
}
END_TEST

/* ---- gets that refuse reclaimed frames ---- */

START_TEST(test_get_installed_only)
{
	unsigned order = (unsigned)_i;
	uint64_t n = 1ull << order;
	struct gfix f;
	bool rec;
	ha_frame_t fr;
	uint64_t got = 0;

	/* 16 children, the even ones reclaimed, pairs 4/5 and 12/13 whole
	 * installed (so order 10 has something). */
	gfix_init(&f, 16 * 512, 1, HA_INIT_FREE);
	for (uint64_t c = 0; c < 16; c++)
		if (c % 2 == 0 && c != 4 && c != 12)
			set_reclaimed(&f.g, c);
	while (ha_guest_get(&f.g, 0, order, HA_GET_INSTALLED, &fr, &rec) ==
	       HA_OK) {
		gfix_mark(&f, fr, order, true);
		ck_assert(!rec);
		for (uint64_t c = fr.v / 512; c <= (fr.v + n - 1) / 512; c++)
			ck_assert_msg(!ha_guest_is_reclaimed(&f.g, ha_huge(c)),
				      "order %u: got reclaimed child %llu",
				      order, (unsigned long long)c);
		got += n;
	}
	/* Every installed frame, and only those, could be taken. */
	if (order < HA_MAX_ORDER)
		ck_assert_uint_eq(got, 10 * 512);
	else
		ck_assert_uint_eq(got, 2 * 1024);
	/* The reclaimed ones are still there for a caller that installs (an
	 * order-10 pair of an installed and a reclaimed child counts). */
	ck_assert_int_eq(ha_guest_get(&f.g, 0, order, 0, &fr, &rec), HA_OK);
	ck_assert(rec);
	ck_assert_int_eq(ha_guest_get(&f.g, 0, 0, 1u << 7, &fr, &rec),
			 HA_EINVAL);
	gfix_fini(&f);
}
END_TEST

/* ---- managed ranges of zones ---- */

static const struct span_case {
	uint64_t start, end;
	int ret;
	uint64_t base, frames;
} span_cases[] = {
	/* aligned zone: all of it */
	{ 4096, 4096 + 1024 * 512, HA_OK, 4096, 1024 * 512 },
	/* start rounded up to 4 MiB, end down to 2 MiB */
	{ 4097, 4096 + 10 * 512 + 77, HA_OK, 5120, 8 * 512 },
	/* the end of low RAM below the firmware's tables (0x7ffdc000) */
	{ 4096, 0x7ffdc, HA_OK, 4096, 0x7fe00 - 4096 },
	/* an end only 2 MiB aligned */
	{ 0, 3 * 512, HA_OK, 0, 3 * 512 },
	/* a node boundary inside a 4 MiB block */
	{ 0x20000 + 512, 0x40000, HA_OK, 0x20400, 0x40000 - 0x20400 },
	/* too small for one aligned huge frame */
	{ 4097, 4096 + 1024 + 511, HA_ENOMEM, 0, 0 },
	{ 100, 100, HA_ENOMEM, 0, 0 },
	{ 1025, 1536, HA_ENOMEM, 0, 0 },
	/* backwards */
	{ 8192, 4096, HA_EINVAL, 0, 0 },
};

START_TEST(test_span)
{
	const struct span_case *c = &span_cases[_i];
	uint64_t base = 1, frames = 1;

	ck_assert_int_eq(ha_guest_span(c->start, c->end, &base, &frames),
			 c->ret);
	if (c->ret != HA_OK) {
		ck_assert_uint_eq(base, 1); /* untouched */
		return;
	}
	ck_assert_uint_eq(base, c->base);
	ck_assert_uint_eq(frames, c->frames);
	ck_assert_uint_eq(base % HA_BASE_ALIGN_FRAMES, 0);
	ck_assert_uint_eq(frames % HA_CHILD_FRAMES, 0);
	ck_assert_uint_ge(base, c->start);
	ck_assert_uint_le(base + frames, c->end);
	ck_assert_int_eq(ha_layout_compute(frames, &(struct ha_layout){ 0 }),
			 HA_OK);
}
END_TEST

/* Free [lo, hi) of the region as a booting kernel hands memory over:
 * the largest aligned blocks that fit, up to order 10. */
static void free_like_boot(struct gfix *f, uint64_t lo, uint64_t hi)
{
	while (lo < hi) {
		unsigned order = HA_MAX_ORDER;

		while (order > 0 &&
		       (lo % (1ull << order) || lo + (1ull << order) > hi))
			order--;
		CHECK_MSG(ha_guest_put(&f->g, 0, ha_frame(lo), order) == HA_OK,
			  "boot free of order %u at %llu", order,
			  (unsigned long long)lo);
		lo += 1ull << order;
	}
}

/* A zone with an unaligned start and end and two holes: the span
 * covers what can be managed, the boot hand-over frees only RAM, and
 * the allocator never hands out a hole. */
START_TEST(test_zone_with_holes)
{
	/* Zone frames [0x1080, 0x4ff0): holes [0x2100, 0x2380) and
	 * [0x3000, 0x3a00) (a hole of whole huge frames). */
	static const uint64_t ram[][2] = {
		{ 0x1080, 0x2100 },
		{ 0x2380, 0x3000 },
		{ 0x3a00, 0x4ff0 },
	};
	uint64_t base, frames, expect = 0;
	struct gfix f;
	ha_frame_t fr;
	bool rec;

	ck_assert_int_eq(ha_guest_span(0x1080, 0x4ff0, &base, &frames), HA_OK);
	ck_assert_uint_eq(base, 0x1400);
	ck_assert_uint_eq(frames, 0x4e00 - 0x1400);
	gfix_alloc(&f, frames, 2);
	ck_assert_int_eq(ha_guest_init(&f.g, f.meta, f.meta_len, f.local, 2,
				       base, frames, HA_INIT_ALLOCATED),
			 HA_OK);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 0);
	for (unsigned i = 0; i < 3; i++) {
		uint64_t lo = ram[i][0] > base ? ram[i][0] : base;
		uint64_t hi = ram[i][1] < base + frames ? ram[i][1] :
							  base + frames;

		free_like_boot(&f, lo - base, hi - base);
		expect += hi - lo;
	}
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), expect);
	/* Whole huge frames only where no hole is: 0x1400..0x2000 (6),
	 * 0x2400..0x3000 (6), 0x3a00..0x4e00 (10). */
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), 22);

	/* Take everything: never a frame of a hole. */
	while (ha_guest_get(&f.g, 1, 0, 0, &fr, &rec) == HA_OK) {
		uint64_t pfn = base + fr.v;

		CHECK(!rec);
		CHECK_MSG((pfn >= 0x1400 && pfn < 0x2100) ||
				  (pfn >= 0x2380 && pfn < 0x3000) ||
				  (pfn >= 0x3a00 && pfn < 0x4e00),
			  "frame %#llx is a hole", (unsigned long long)pfn);
		gfix_mark(&f, fr, 0, true);
	}
	ck_assert_uint_eq(f.nheld, expect);
	gfix_fini(&f);
}
END_TEST

/* ---- watermark probe ---- */

START_TEST(test_has_free_huge)
{
	struct gfix f;
	ha_frame_t held[16], fr;

	gfix_init(&f, 16 * 512, 1, HA_INIT_FREE);
	ck_assert(ha_guest_has_free_huge(&f.g, 9));
	ck_assert(ha_guest_has_free_huge(&f.g, 10));
	ck_assert(!ha_guest_has_free_huge(&f.g, 8));
	ck_assert(!ha_guest_has_free_huge(&f.g, 11));
	/* A reserved tree's word hides its free frames: still found. */
	fr = gfix_get_ok(&f, 0, 0, 0, NULL);
	ck_assert_uint_eq(ha_tree_free(f.g.trees[gfix_tree_of(fr)]), 0);
	ck_assert(ha_tree_reserved(f.g.trees[gfix_tree_of(fr)]));
	gfix_put_ok(&f, 0, fr, 0);
	for (unsigned i = 0; i < 16; i++) {
		fr = gfix_get_ok(&f, 0, HA_HUGE_ORDER, 0, NULL);
		held[fr.v / 512] = fr;
	}
	ck_assert(!ha_guest_has_free_huge(&f.g, 9));
	ck_assert(!ha_guest_has_free_huge(&f.g, 10));

	/* One child free: order 9 only. */
	gfix_put_ok(&f, 0, held[5], HA_HUGE_ORDER);
	ck_assert(ha_guest_has_free_huge(&f.g, 9));
	ck_assert(!ha_guest_has_free_huge(&f.g, 10));
	/* Its odd neighbour: not an aligned pair (5 and 6). */
	gfix_put_ok(&f, 0, held[6], HA_HUGE_ORDER);
	ck_assert(!ha_guest_has_free_huge(&f.g, 10));
	gfix_put_ok(&f, 0, held[4], HA_HUGE_ORDER);
	ck_assert(ha_guest_has_free_huge(&f.g, 10));

	/* Free frames that make no whole child do not count. */
	for (unsigned i = 4; i <= 6; i++)
		(void)gfix_get_ok(&f, 0, HA_HUGE_ORDER, 0, NULL);
	gfix_put_ok(&f, 0, ha_frame(held[9].v + 511), 0);
	gfix_put_ok(&f, 0, held[10], 0);
	ck_assert(!ha_guest_has_free_huge(&f.g, 9));
	gfix_fini(&f);

	/* Soft-reclaimed whole children do (an allocation installs them). */
	gfix_init(&f, 16 * 512, 1, HA_INIT_FREE);
	for (uint64_t c = 0; c < 16; c++)
		set_reclaimed(&f.g, c);
	ck_assert(ha_guest_has_free_huge(&f.g, 10));
	gfix_fini(&f);
}
END_TEST

/* The CPUs' first searches are spread over the region, as trees * i /
 * cores would (computed without a 64-bit division). */
START_TEST(test_init_spreads_cpus)
{
	static const unsigned cores[] = { 1, 3, 7, 64 };
	struct gfix f;

	for (unsigned i = 0; i < 4; i++) {
		gfix_init(&f, 37 * 4096, cores[i], HA_INIT_FREE);
		for (unsigned c = 0; c < cores[i]; c++)
			ck_assert_uint_eq(f.g.locals[c].hint[HA_KIND_FIXED],
					  37ull * c / cores[i]);
		gfix_fini(&f);
	}
}
END_TEST

static Suite *guest_kernel_suite(void)
{
	Suite *s = suite_create("guest_kernel");
	TCase *tc;

	tc = tcase_create("put");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_put_split_never_fails);
	tcase_add_test(tc, test_put_hard_child_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("drain");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_drain_returns_reservations);
	tcase_add_test(tc, test_drain_lets_host_reclaim);
	tcase_add_test(tc, test_drain_concurrent);
	suite_add_tcase(s, tc);

	tc = tcase_create("installed");
	tcase_add_loop_test(tc, test_get_installed_only, 0, HA_MAX_ORDER + 1);
	suite_add_tcase(s, tc);

	tc = tcase_create("zone");
	tcase_add_loop_test(tc, test_span, 0,
			    (int)(sizeof(span_cases) / sizeof(span_cases[0])));
	tcase_add_test(tc, test_zone_with_holes);
	tcase_add_test(tc, test_has_free_huge);
	tcase_add_test(tc, test_init_spreads_cpus);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(guest_kernel_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
