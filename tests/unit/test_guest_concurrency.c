// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the guest side with several CPUs: per-CPU reservations
 * (distinct trees, exhaustion, stealing a reservation) and a
 * multi-threaded smoke test of gets, puts and concurrent splits. The
 * fixture is guest_fixture.h.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>

#include "guest_fixture.h"

/* ---- per-CPU reservations ---- */

START_TEST(test_percpu_distinct_trees)
{
	struct gfix f;
	uint64_t tree[4];

	gfix_init(&f, 16 * 4096, 4, HA_INIT_FREE);
	for (unsigned c = 0; c < 4; c++) {
		tree[c] = gfix_tree_of(gfix_get_ok(&f, c, 0, 0, NULL));
		ck_assert(ha_tree_reserved(f.g.trees[tree[c]]));
		/* The reservation moved the tree's counter to the CPU. */
		ck_assert_uint_eq(ha_tree_free(f.g.trees[tree[c]]), 0);
		for (unsigned d = 0; d < c; d++)
			ck_assert_uint_ne(tree[c], tree[d]);
	}
	/* Frees go to the shared tree word, even of a reserved tree. */
	ha_frame_t x = gfix_get_ok(&f, 0, 0, 0, NULL);

	gfix_put_ok(&f, 2, x, 0);
	ck_assert_uint_eq(ha_tree_free(f.g.trees[tree[0]]), 1);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 16 * 4096 - 4);
	gfix_fini(&f);
}
END_TEST

/* Several CPUs allocate until nothing is left: every frame is handed out
 * exactly once, and all of it comes back. */
START_TEST(test_percpu_exhaust)
{
	struct gfix f;
	uint64_t frames = 12 * 4096;
	struct gfix_held *a = calloc(frames, sizeof(*a));
	uint64_t n = 0, seed = 3;
	unsigned cores = 4;

	ck_assert_ptr_nonnull(a);
	gfix_init(&f, frames, cores, HA_INIT_FREE);
	/* mixed orders first, then single frames until every CPU fails */
	for (unsigned i = 0; i < 4000; i++) {
		unsigned core = gfix_rng_below(&seed, cores);
		unsigned order = gfix_rng_below(&seed, 11);
		unsigned flags = gfix_rng_below(&seed, 2) ? HA_GET_MOVABLE : 0;
		ha_frame_t fr;
		bool rec;

		if (ha_guest_get(&f.g, core, order, flags, &fr, &rec) != HA_OK)
			continue;
		gfix_mark(&f, fr, order, true);
		a[n].frame = fr;
		a[n].order = order;
		a[n++].core = core;
		/* free some on another CPU, so reserved trees collect frees */
		if (gfix_rng_below(&seed, 3) == 0) {
			uint64_t j = gfix_rng_next(&seed) % n;

			gfix_put_ok(&f, (core + 1) % cores, a[j].frame,
				    a[j].order);
			a[j] = a[--n];
		}
	}
	for (unsigned c = 0; f.nheld < frames; c = (c + 1) % cores) {
		a[n].frame = gfix_get_ok(&f, c, 0, 0, NULL);
		a[n].order = 0;
		a[n++].core = c;
	}
	for (unsigned c = 0; c < cores; c++)
		gfix_assert_get_fails(&f, c, 0, HA_ENOMEM);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 0);

	gfix_shuffle(a, n, &seed);
	for (uint64_t i = 0; i < n; i++)
		gfix_put_ok(&f, (unsigned)(i % cores), a[i].frame, a[i].order);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), frames);
	ck_assert_uint_eq(ha_guest_free_huge(&f.g), frames / 512);
	gfix_fini(&f);
	free(a);
}
END_TEST

/* One tree, two CPUs: the second takes over the first one's reservation
 * instead of failing. */
START_TEST(test_percpu_steal)
{
	struct gfix f;

	gfix_init(&f, 4096, 2, HA_INIT_FREE);
	gfix_get_ok(&f, 0, 0, 0, NULL);
	ck_assert(ha_tree_reserved(f.g.trees[0]));
	while (f.nheld < 4096)
		gfix_get_ok(&f, 1, 0, 0, NULL);
	gfix_assert_get_fails(&f, 0, 0, HA_ENOMEM);
	gfix_fini(&f);
}
END_TEST

/* ---- threads ---- */

#define MT_THREADS 4
#define MT_HOLD	   64

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

		if (!__atomic_compare_exchange_n(
			    &mt->owner[fr.v + i], &expected, to, false,
			    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			bad++;
	}
	return bad;
}

/* A put succeeds at the first call, also while another CPU splits the
 * same huge frame. */
static int mt_put(struct ha_guest *g, unsigned core, ha_frame_t fr,
		  unsigned order)
{
	return ha_guest_put(g, core, fr, order);
}

static unsigned mt_order(const struct mt_config *cfg, uint64_t *seed)
{
	if (cfg->max_order >= HA_HUGE_ORDER && gfix_rng_below(seed, 8) == 0)
		return HA_HUGE_ORDER + gfix_rng_below(seed, 2);
	return gfix_rng_below(seed,
			      cfg->max_order < 8 ? cfg->max_order + 1 : 9);
}

static void *mt_worker(void *arg)
{
	struct mt_thread *t = arg;
	struct mt *mt = t->mt;
	const struct mt_config *cfg = mt->cfg;
	struct gfix_held held[MT_HOLD];
	unsigned n = 0;
	uint64_t seed = t->id + 1;
	uint8_t me = (uint8_t)(t->id + 1);
	unsigned long errors = 0, gets = 0, fails = 0;

	pthread_barrier_wait(&mt->start);
	for (unsigned i = 0; i < mt->iters; i++) {
		bool do_get = n == 0 ||
			      (n < cfg->hold && gfix_rng_below(&seed, 2));

		if (do_get) {
			unsigned order = mt_order(cfg, &seed);
			unsigned flags =
				gfix_rng_below(&seed, 2) ? HA_GET_MOVABLE : 0;
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
			unsigned j = gfix_rng_below(&seed, n);
			struct gfix_held a = held[j];

			held[j] = held[--n];
			errors += mt_claim(mt, a.frame, a.order, me, 0);
			if (a.order == HA_HUGE_ORDER &&
			    gfix_rng_below(&seed, 2)) {
				/* free a huge frame in pieces */
				for (unsigned k = 0; k < 512; k += 64) {
					ha_frame_t piece =
						ha_frame(a.frame.v + k);

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

	gfix_init(&f, cfg->frames, MT_THREADS, HA_INIT_FREE);
	mt.cfg = cfg;
	mt.g = &f.g;
	mt.owner = f.held;
	mt.iters = 200000;
	ck_assert_int_eq(pthread_barrier_init(&mt.start, NULL, MT_THREADS), 0);
	for (unsigned i = 0; i < MT_THREADS; i++) {
		t[i].mt = &mt;
		t[i].id = i;
		ck_assert_int_eq(
			pthread_create(&t[i].tid, NULL, mt_worker, &t[i]), 0);
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
	gfix_fini(&f);
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

	gfix_init(&f, 8 * 4096, MT_THREADS, HA_INIT_FREE);
	for (unsigned h = 0; h < 64; h++)
		huge[h] =
			gfix_get_ok(&f, h % MT_THREADS, HA_HUGE_ORDER, 0, NULL);
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), 0);
	for (unsigned i = 0; i < MT_THREADS; i++) {
		s[i] = (struct split_arg){ &f.g, i, 64, huge, 0 };
		ck_assert_int_eq(
			pthread_create(&tid[i], NULL, split_worker, &s[i]), 0);
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
	gfix_fini(&f);
}
END_TEST

/*
 * The allocator alone orders the uses of a frame: one CPU takes order-10
 * blocks (a compare-and-swap on the pair of child words as one 32-bit
 * word), the other 4 KiB frames of the same children (16-bit child
 * words), and each writes and reads plain, unsynchronised payload in what
 * it holds. Under ThreadSanitizer (make check SAN=thread) a frame handed
 * over without a happens-before edge it can see is a reported data race.
 */
#define PAIR_FRAMES (8 * 512)
#define PAIR_ITERS  100000

struct pair_arg {
	struct ha_guest *g;
	uint64_t *payload; /* per frame */
	unsigned core;
	unsigned long gets, errors;
};

static void *pair_worker(void *arg)
{
	struct pair_arg *a = arg;
	unsigned order = a->core == 0 ? HA_MAX_ORDER : 0;

	for (uint64_t i = 1; i <= PAIR_ITERS; i++) {
		ha_frame_t fr;
		bool rec;

		if (ha_guest_get(a->g, a->core, order, 0, &fr, &rec) != HA_OK)
			continue;
		a->gets++;
		for (uint64_t k = 0; k < (1ull << order); k += 64)
			a->payload[fr.v + k] = i;
		for (uint64_t k = 0; k < (1ull << order); k += 64)
			a->errors += a->payload[fr.v + k] != i;
		a->errors += mt_put(a->g, a->core, fr, order) != HA_OK;
	}
	return NULL;
}

START_TEST(test_mt_pair_handover)
{
	struct gfix f;
	uint64_t *payload = calloc(PAIR_FRAMES, sizeof(*payload));
	struct pair_arg a[2];
	pthread_t tid[2];

	ck_assert_ptr_nonnull(payload);
	gfix_init(&f, PAIR_FRAMES, 2, HA_INIT_FREE);
	for (unsigned i = 0; i < 2; i++) {
		a[i] = (struct pair_arg){ .g = &f.g,
					  .payload = payload,
					  .core = i };
		ck_assert_int_eq(
			pthread_create(&tid[i], NULL, pair_worker, &a[i]), 0);
	}
	for (unsigned i = 0; i < 2; i++) {
		ck_assert_int_eq(pthread_join(tid[i], NULL), 0);
		ck_assert_uint_eq(a[i].errors, 0);
		ck_assert_uint_gt(a[i].gets, 0);
	}
	ck_assert_uint_eq(ha_guest_free_frames(&f.g), PAIR_FRAMES);
	gfix_fini(&f);
	free(payload);
}
END_TEST

static Suite *guest_concurrency_suite(void)
{
	Suite *s = suite_create("guest_concurrency");
	TCase *tc;

	tc = tcase_create("percpu");
	tcase_add_test(tc, test_percpu_distinct_trees);
	tcase_add_test(tc, test_percpu_exhaust);
	tcase_add_test(tc, test_percpu_steal);
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_mt_get_put, 0,
			    (int)(sizeof(mt_configs) / sizeof(mt_configs[0])));
	tcase_add_test(tc, test_mt_split);
	tcase_add_test(tc, test_mt_pair_handover);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(guest_concurrency_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
