// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests of tools/ha-simguest/held.c: what a simulated vCPU holds, oldest
 * first, grouped into jobs. The jobs free pattern relies on it: a job
 * ended is freed completely and nothing else is freed with it, the
 * oldest job goes first, new allocations never join a job that is ending,
 * and the byte counts the vCPU steers by stay exact.
 */
#include <check.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "ha-simguest/held.h"

#define KIB 1024ull

static struct held_alloc alloc_of(uint64_t seq, unsigned order)
{
	return (struct held_alloc){ .frame = seq, .tag = seq, .order = order };
}

static void push_ok(struct held *h, uint64_t seq, unsigned order)
{
	struct held_alloc a = alloc_of(seq, order);

	ck_assert_int_eq(held_push(h, &a), 0);
}

/* As push_ok(), without an assertion per call (Check reports every
 * assertion to its parent process: too slow for long loops). */
static bool push_many(struct held *h, uint64_t *seq, unsigned count)
{
	bool ok = true;

	for (unsigned i = 0; i < count; i++) {
		struct held_alloc a = alloc_of((*seq)++, 0);

		ok &= held_push(h, &a) == 0;
	}
	return ok;
}

/* Sum of the live allocations, recounted. */
static uint64_t recount(struct held *h)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < h->n; i++)
		sum += held_alloc_bytes(held_at(h, i)->order);
	return sum;
}

START_TEST(test_sizes)
{
	ck_assert_uint_eq(held_alloc_bytes(0), 4 * KIB);
	ck_assert_uint_eq(held_alloc_bytes(9), 2048 * KIB);
	ck_assert_uint_eq(held_alloc_bytes(10), 4096 * KIB);
}
END_TEST

/* Jobs fill up to their size, end oldest first, and are freed whole. */
START_TEST(test_jobs_oldest_first)
{
	struct held h = { 0 };
	struct held_alloc a;
	uint64_t seq = 0;

	ck_assert(!held_job_open(&h));
	ck_assert_uint_eq(held_end_oldest_job(&h), 0);

	/* Job 1: 16 KiB, filled by four pages. */
	ck_assert_int_eq(held_start_job(&h, 16 * KIB), 0);
	ck_assert(held_job_open(&h));
	for (int i = 0; i < 4; i++)
		push_ok(&h, seq++, 0);
	ck_assert(!held_job_open(&h));

	/* Job 2: 1 MiB, one order-2 block and two pages so far. */
	ck_assert_int_eq(held_start_job(&h, 1024 * KIB), 0);
	push_ok(&h, seq++, 2);
	push_ok(&h, seq++, 0);
	push_ok(&h, seq++, 0);
	ck_assert(held_job_open(&h));
	ck_assert_uint_eq(h.n, 7);
	ck_assert_uint_eq(h.bytes, 16 * KIB + 24 * KIB);

	/* Ending job 1 frees exactly its four pages, in order. */
	ck_assert_uint_eq(held_end_oldest_job(&h), 16 * KIB);
	ck_assert(h.ending);
	ck_assert_uint_eq(held_end_oldest_job(&h), 0); /* once */
	for (uint64_t i = 0; i < 4; i++) {
		ck_assert(h.ending);
		held_pop_oldest(&h, &a);
		ck_assert_uint_eq(a.tag, i);
	}
	ck_assert(!h.ending);
	ck_assert_uint_eq(h.njobs, 1);
	ck_assert_uint_eq(h.bytes, 24 * KIB);
	ck_assert_uint_eq(recount(&h), h.bytes);

	/* Job 2 is next, with what it holds. */
	ck_assert_uint_eq(held_end_oldest_job(&h), 24 * KIB);
	for (uint64_t i = 4; i < 7; i++) {
		held_pop_oldest(&h, &a);
		ck_assert_uint_eq(a.tag, i);
	}
	ck_assert_uint_eq(h.n, 0);
	ck_assert_uint_eq(h.njobs, 0);
	ck_assert_uint_eq(h.bytes, 0);
	ck_assert(!h.ending);
	held_destroy(&h);
}
END_TEST

/* The only job ends while the vCPU allocates on: the new allocations go
 * to a new job and survive the end of the old one. */
START_TEST(test_ending_job_takes_nothing_new)
{
	struct held h = { 0 };
	struct held_alloc a;

	ck_assert_int_eq(held_start_job(&h, 4096 * KIB), 0);
	push_ok(&h, 0, 0);
	push_ok(&h, 1, 9);
	ck_assert(held_job_open(&h));
	ck_assert_uint_eq(held_end_oldest_job(&h), 4 * KIB + 2048 * KIB);
	ck_assert(!held_job_open(&h));

	ck_assert_int_eq(held_start_job(&h, 1024 * KIB), 0);
	ck_assert(held_job_open(&h));
	push_ok(&h, 2, 0);
	held_pop_oldest(&h, &a);
	ck_assert_uint_eq(a.tag, 0);
	ck_assert(h.ending);
	held_pop_oldest(&h, &a);
	ck_assert_uint_eq(a.tag, 1);
	ck_assert(!h.ending);
	ck_assert_uint_eq(h.n, 1);
	ck_assert_uint_eq(h.njobs, 1);
	ck_assert_uint_eq(h.bytes, 4 * KIB);
	ck_assert_uint_eq(held_at(&h, 0)->tag, 2);
	/* An empty newest job has nothing to end. */
	held_pop_oldest(&h, &a);
	ck_assert_uint_eq(h.njobs, 0);
	ck_assert_int_eq(held_start_job(&h, 4 * KIB), 0);
	ck_assert_uint_eq(held_end_oldest_job(&h), 0);
	ck_assert(!h.ending);
	held_destroy(&h);
}
END_TEST

/* Without jobs: any allocation can go, the newest takes its place. */
START_TEST(test_remove_without_jobs)
{
	struct held h = { 0 };
	struct held_alloc a;

	for (uint64_t i = 0; i < 5; i++)
		push_ok(&h, i, (unsigned)i);
	ck_assert_uint_eq(h.njobs, 0);
	held_remove(&h, 1, &a);
	ck_assert_uint_eq(a.tag, 1);
	ck_assert_uint_eq(h.n, 4);
	ck_assert_uint_eq(held_at(&h, 1)->tag, 4);
	held_remove(&h, 3, &a); /* the newest itself */
	ck_assert_uint_eq(a.tag, 3);
	ck_assert_uint_eq(h.n, 3);
	ck_assert_uint_eq(h.bytes, (4 + 16 + 64) * KIB);
	ck_assert_uint_eq(recount(&h), h.bytes);
	held_destroy(&h);
	ck_assert_uint_eq(h.n, 0);
	held_destroy(NULL);
}
END_TEST

/*
 * A long run of jobs, as a vCPU makes them: order kept across the
 * arrays' growth and compaction, the arrays bounded by what is live, the
 * byte counts exact. Table: job size in pages, jobs kept live.
 */
static const struct {
	unsigned pages, live;
} runs[] = {
	{ 1, 1 },
	{ 7, 3 },
	{ 300, 20 },
	{ 5000, 2 },
};

START_TEST(test_long_run)
{
	unsigned pages = runs[_i].pages, live = runs[_i].live;
	struct held h = { 0 };
	uint64_t next = 0, oldest = 0;

	for (unsigned job = 0; job < 100; job++) {
		struct held_alloc a;
		uint64_t bytes;
		bool in_order = true;

		if (h.njobs == live) {
			bytes = held_end_oldest_job(&h);
			ck_assert_uint_eq(bytes, (uint64_t)pages * 4 * KIB);
			for (unsigned i = 0; i < pages; i++) {
				held_pop_oldest(&h, &a);
				in_order &= a.tag == oldest++;
			}
			ck_assert(in_order);
			ck_assert(!h.ending);
		}
		ck_assert(!held_job_open(&h));
		ck_assert_int_eq(held_start_job(&h, (uint64_t)pages * 4 * KIB),
				 0);
		ck_assert(push_many(&h, &next, pages));
		ck_assert_uint_eq(h.n, next - oldest);
		ck_assert_uint_eq(h.bytes, h.n * 4 * KIB);
	}
	for (size_t i = 0; i < h.n; i++)
		if (held_at(&h, i)->tag != oldest + i)
			ck_abort_msg("allocation %zu is %" PRIu64
				     ", want %" PRIu64,
				     i, held_at(&h, i)->tag, oldest + i);
	/* Compaction keeps the array within a few times the live set. */
	ck_assert_uint_le(h.cap, 4 * h.n + 2048);
	ck_assert_uint_le(h.jcap, 4 * h.njobs + 2048);
	held_destroy(&h);
}
END_TEST

static Suite *held_suite(void)
{
	Suite *s = suite_create("simguest_held");
	TCase *tc = tcase_create("held");

	tcase_add_test(tc, test_sizes);
	tcase_add_test(tc, test_jobs_oldest_first);
	tcase_add_test(tc, test_ending_job_takes_nothing_new);
	tcase_add_test(tc, test_remove_without_jobs);
	tcase_add_loop_test(tc, test_long_run, 0,
			    (int)(sizeof(runs) / sizeof(runs[0])));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(held_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
