// SPDX-License-Identifier: GPL-2.0-or-later
/* The engine's safety rules (daemon/safety.c), table by table. */
#include <check.h>
#include <stdlib.h>

#include "safety.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)

static const struct safety_params base = {
	.dead_band = 2 * MIB,
	.max_step = 0,
	.usable_bytes = 100 * GIB,
	.grow_budget = 100 * GIB,
	.now_ms = 1000,
	.stuck_after_ms = 10000,
	.stuck_holdoff_ms = 60000,
};

/* One VM, one tick: rules 1-3. */
static const struct {
	const char *name;
	uint64_t max_step;
	uint64_t min, max, target, want;
	bool manual;
	uint64_t expect;
} one[] = {
	{ "within range", 0, 1 * GIB, 8 * GIB, 8 * GIB, 4 * GIB, false,
	  4 * GIB },
	{ "below min", 0, 1 * GIB, 8 * GIB, 8 * GIB, 0, false, 1 * GIB },
	{ "above max", 0, 1 * GIB, 8 * GIB, 4 * GIB, 9 * GIB, false, 8 * GIB },
	{ "min above max", 0, 4 * GIB, 2 * GIB, 4 * GIB, 1 * GIB, false,
	  4 * GIB },
	{ "dead band keeps", 0, 0, 8 * GIB, 4 * GIB, 4 * GIB + MIB, false,
	  4 * GIB },
	{ "dead band edge moves", 0, 0, 8 * GIB, 4 * GIB, 4 * GIB + 2 * MIB,
	  false, 4 * GIB + 2 * MIB },
	{ "manual ignores dead band", 0, 0, 8 * GIB, 4 * GIB, 4 * GIB + MIB,
	  true, 4 * GIB + MIB },
	{ "step down", 512 * MIB, 0, 8 * GIB, 8 * GIB, 2 * GIB, false,
	  7 * GIB + 512 * MIB },
	{ "step up", 512 * MIB, 0, 8 * GIB, 2 * GIB, 8 * GIB, false,
	  2 * GIB + 512 * MIB },
	{ "manual ignores step", 512 * MIB, 0, 8 * GIB, 8 * GIB, 2 * GIB, true,
	  2 * GIB },
	{ "manual still clamped", 0, 1 * GIB, 8 * GIB, 8 * GIB, 0, true,
	  1 * GIB },
};

START_TEST(test_one)
{
	struct safety_params p = base;
	struct safety_vm v = {
		.min = one[_i].min,
		.max = one[_i].max,
		.target = one[_i].target,
		.current = one[_i].target,
		.want = one[_i].want,
		.manual = one[_i].manual,
	};

	p.max_step = one[_i].max_step;
	safety_apply(&p, &v, 1);
	ck_assert_msg(v.target == one[_i].expect, "%s: got %llu want %llu",
		      one[_i].name, (unsigned long long)v.target,
		      (unsigned long long)one[_i].expect);
}
END_TEST

static uint64_t sum_targets(const struct safety_vm *v, size_t n)
{
	uint64_t s = 0;

	for (size_t i = 0; i < n; i++)
		s += v[i].target;
	return s;
}

/* Rule 4: the sum never exceeds usable memory; policy VMs give way in
 * proportion to how far above their min they are; manual ones stay. */
START_TEST(test_fit_host)
{
	struct safety_params p = base;
	struct safety_vm v[3] = {
		{ .min = 1 * GIB,
		  .max = 8 * GIB,
		  .target = 8 * GIB,
		  .current = 8 * GIB,
		  .want = 8 * GIB },
		{ .min = 1 * GIB,
		  .max = 8 * GIB,
		  .target = 8 * GIB,
		  .current = 8 * GIB,
		  .want = 4 * GIB },
		{ .min = 1 * GIB,
		  .max = 8 * GIB,
		  .target = 6 * GIB,
		  .current = 6 * GIB,
		  .want = 6 * GIB,
		  .manual = true },
	};

	p.usable_bytes = 12 * GIB;
	safety_apply(&p, v, 3);
	ck_assert_uint_le(sum_targets(v, 3), 12 * GIB);
	ck_assert_uint_ge(sum_targets(v, 3), 12 * GIB - 2);
	ck_assert_uint_eq(v[2].target, 6 * GIB); /* manual untouched */
	ck_assert(!v[2].squeezed);
	ck_assert(v[0].squeezed && v[1].squeezed);
	/* 8 + 4 + 6 = 18 GiB, 6 must go; 7 and 3 GiB above min: the
	 * first gives 4.2 GiB, the second 1.8 GiB */
	ck_assert_uint_le(v[0].target, 8 * GIB - 4300 * MIB);
	ck_assert_uint_ge(v[0].target, 8 * GIB - 4301 * MIB);
	ck_assert_uint_le(v[1].target, 4 * GIB - 1843 * MIB);
	ck_assert_uint_ge(v[1].target, 4 * GIB - 1844 * MIB);
}
END_TEST

START_TEST(test_fit_host_floor)
{
	struct safety_params p = base;
	struct safety_vm v[2] = {
		{ .min = 3 * GIB,
		  .max = 8 * GIB,
		  .target = 8 * GIB,
		  .current = 8 * GIB,
		  .want = 8 * GIB },
		{ .min = 0,
		  .max = 8 * GIB,
		  .target = 5 * GIB,
		  .current = 5 * GIB,
		  .want = 5 * GIB,
		  .manual = true },
	};

	/* even at min the sum does not fit: policy VM at min, no lower */
	p.usable_bytes = 6 * GIB;
	safety_apply(&p, v, 2);
	ck_assert_uint_eq(v[0].target, 3 * GIB);
	ck_assert_uint_eq(v[1].target, 5 * GIB);
}
END_TEST

/* Rule 5: growth bounded by the host's free memory, shared pro rata;
 * shrinking is never bounded. */
START_TEST(test_grow_budget)
{
	struct safety_params p = base;
	struct safety_vm v[3] = {
		{ .min = 0,
		  .max = 8 * GIB,
		  .target = 2 * GIB,
		  .current = 2 * GIB,
		  .want = 6 * GIB },
		{ .min = 0,
		  .max = 8 * GIB,
		  .target = 2 * GIB,
		  .current = 2 * GIB,
		  .want = 4 * GIB },
		{ .min = 0,
		  .max = 8 * GIB,
		  .target = 8 * GIB,
		  .current = 8 * GIB,
		  .want = 1 * GIB },
	};

	p.grow_budget = 3 * GIB;
	safety_apply(&p, v, 3);
	ck_assert_uint_eq(v[0].target, 4 * GIB); /* 4 of 6 asked -> 2 */
	ck_assert_uint_eq(v[1].target, 3 * GIB); /* 2 of 6 asked -> 1 */
	ck_assert_uint_eq(v[2].target, 1 * GIB);
}
END_TEST

/* Rule 6: no progress for stuck_after -> stuck, left alone for the
 * holdoff, then retried; progress or a new target keeps it going. */
START_TEST(test_stuck)
{
	struct safety_params p = base;
	struct safety_vm v = { .min = 0,
			       .max = 8 * GIB,
			       .target = 8 * GIB,
			       .current = 8 * GIB,
			       .want = 4 * GIB,
			       .manual = true };

	p.now_ms = 1000;
	safety_apply(&p, &v, 1);
	ck_assert(!v.became_stuck);
	/* progress: halfway after 5 s */
	v.current = 6 * GIB;
	p.now_ms = 6000;
	safety_apply(&p, &v, 1);
	ck_assert(!v.became_stuck && !safety_stuck(&v));
	/* no progress for 9.9 s: not yet */
	p.now_ms = 15900;
	safety_apply(&p, &v, 1);
	ck_assert(!safety_stuck(&v));
	/* 10 s: stuck, once */
	p.now_ms = 16000;
	safety_apply(&p, &v, 1);
	ck_assert(v.became_stuck && safety_stuck(&v));
	p.now_ms = 17000;
	safety_apply(&p, &v, 1);
	ck_assert(!v.became_stuck && safety_stuck(&v));
	/* holdoff over: retried */
	p.now_ms = 76000;
	safety_apply(&p, &v, 1);
	ck_assert(v.became_unstuck && !safety_stuck(&v));
	/* stuck again later, then a new target releases it at once */
	p.now_ms = 86000;
	safety_apply(&p, &v, 1);
	ck_assert(v.became_stuck);
	v.want = 6 * GIB;
	p.now_ms = 87000;
	safety_apply(&p, &v, 1);
	ck_assert(v.became_unstuck && !safety_stuck(&v));
	ck_assert_uint_eq(v.target, 6 * GIB);
}
END_TEST

START_TEST(test_reached_never_stuck)
{
	struct safety_params p = base;
	struct safety_vm v = { .min = 0,
			       .max = 8 * GIB,
			       .target = 4 * GIB,
			       .current = 4 * GIB,
			       .want = 4 * GIB };

	for (uint64_t t = 1000; t < 200000; t += 1000) {
		p.now_ms = t;
		safety_apply(&p, &v, 1);
		ck_assert(!safety_stuck(&v));
	}
}
END_TEST

START_TEST(test_no_overflow)
{
	struct safety_params p = base;
	struct safety_vm v[2] = {
		{ .min = 0,
		  .max = UINT64_MAX / 2,
		  .target = UINT64_MAX / 2,
		  .current = 0,
		  .want = UINT64_MAX },
		{ .min = 0,
		  .max = UINT64_MAX / 2,
		  .target = 0,
		  .current = 0,
		  .want = UINT64_MAX / 2 },
	};

	p.usable_bytes = 1 * GIB;
	safety_apply(&p, v, 2);
	ck_assert_uint_le(v[0].target + v[1].target, 1 * GIB);
}
END_TEST

static Suite *safety_suite(void)
{
	Suite *s = suite_create("safety");
	TCase *tc = tcase_create("rules");

	tcase_add_loop_test(tc, test_one, 0, sizeof(one) / sizeof(one[0]));
	tcase_add_test(tc, test_fit_host);
	tcase_add_test(tc, test_fit_host_floor);
	tcase_add_test(tc, test_grow_budget);
	tcase_add_test(tc, test_stuck);
	tcase_add_test(tc, test_reached_never_stuck);
	tcase_add_test(tc, test_no_overflow);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(safety_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
