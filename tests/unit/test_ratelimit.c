// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for daemon/ratelimit.c: a burst of lines per interval, the
 * rest counted for one summary line. The time is passed in.
 */
#include <check.h>
#include <stdlib.h>

#include "ratelimit.h"

#define SEC 1000000ull

START_TEST(test_burst_then_suppressed)
{
	struct ratelimit rl;
	uint64_t summary = 1;

	ratelimit_init(&rl, 3, 5 * SEC);
	for (int i = 0; i < 3; i++) {
		ck_assert(ratelimit_allow(&rl, 100 * SEC, &summary));
		ck_assert_uint_eq(summary, 0);
	}
	for (unsigned i = 0; i < 1000; i++) {
		ck_assert(!ratelimit_allow(&rl, 100 * SEC + i, &summary));
		ck_assert_uint_eq(summary, 0);
	}
	ck_assert_uint_eq(rl.suppressed_total, 1000);
	ck_assert_uint_eq(ratelimit_interval_end(&rl), 105 * SEC);
	ck_assert_uint_eq(ratelimit_flush(&rl), 1000);
	ck_assert_uint_eq(ratelimit_flush(&rl), 0);
	ck_assert_uint_eq(rl.suppressed_total, 1000);
}
END_TEST

START_TEST(test_next_interval_reports_the_last)
{
	struct ratelimit rl;
	uint64_t summary;

	ratelimit_init(&rl, 2, 5 * SEC);
	ck_assert(ratelimit_allow(&rl, 0, &summary));
	ck_assert(ratelimit_allow(&rl, 1, &summary));
	ck_assert(!ratelimit_allow(&rl, 2, &summary));
	ck_assert(!ratelimit_allow(&rl, 5 * SEC - 1, &summary));
	/* the next interval: the summary of two, then a fresh burst */
	ck_assert(ratelimit_allow(&rl, 5 * SEC, &summary));
	ck_assert_uint_eq(summary, 2);
	ck_assert(ratelimit_allow(&rl, 5 * SEC, &summary));
	ck_assert_uint_eq(summary, 0);
	ck_assert(!ratelimit_allow(&rl, 5 * SEC, &summary));
	ck_assert_uint_eq(rl.suppressed_total, 3);
}
END_TEST

START_TEST(test_flushed_summary_is_not_repeated)
{
	struct ratelimit rl;
	uint64_t summary;

	ratelimit_init(&rl, 1, SEC);
	ck_assert(ratelimit_allow(&rl, 0, &summary));
	ck_assert(!ratelimit_allow(&rl, 0, &summary));
	ck_assert_uint_eq(ratelimit_flush(&rl), 1); /* the timer's summary */
	ck_assert(ratelimit_allow(&rl, 3 * SEC, &summary));
	ck_assert_uint_eq(summary, 0);
}
END_TEST

START_TEST(test_clock_going_back_starts_an_interval)
{
	struct ratelimit rl;
	uint64_t summary;

	ratelimit_init(&rl, 1, SEC);
	ck_assert(ratelimit_allow(&rl, 10 * SEC, &summary));
	ck_assert(!ratelimit_allow(&rl, 10 * SEC, &summary));
	ck_assert(ratelimit_allow(&rl, 1 * SEC, &summary));
	ck_assert_uint_eq(summary, 1);
}
END_TEST

static Suite *ratelimit_suite(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("ratelimit");

	tcase_add_test(tc, test_burst_then_suppressed);
	tcase_add_test(tc, test_next_interval_reports_the_last);
	tcase_add_test(tc, test_flushed_summary_is_not_repeated);
	tcase_add_test(tc, test_clock_going_back_starts_an_interval);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ratelimit_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
