/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Arithmetic the built-in policies share. Snapshots come from guests and
 * operators, so every helper saturates instead of wrapping and none
 * divides by zero: a policy fed 0, min > max or 2^64 - 1 still answers
 * something inside the VM's limits.
 */
#ifndef HA_POLICY_UTIL_H
#define HA_POLICY_UTIL_H

#include <stdint.h>

#include "policy.h"

#define POLICY_HUGE_BYTES (2ull << 20) /* one huge frame */

static inline uint64_t policy_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static inline uint64_t policy_max(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* @v within [lo, hi]; hi wins when lo > hi. */
static inline uint64_t policy_clamp(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v > hi ? hi : v < lo ? policy_min(lo, hi) : v;
}

static inline uint64_t policy_sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static inline uint64_t policy_sat_sub(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

static inline uint64_t policy_absdiff(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

/* a * b / c, exact, saturating at UINT64_MAX; c == 0 gives UINT64_MAX
 * for a * b > 0 and 0 otherwise. */
static inline uint64_t policy_mul_div(uint64_t a, uint64_t b, uint64_t c)
{
	unsigned __int128 p = (unsigned __int128)a * b;

	if (c == 0)
		return p ? UINT64_MAX : 0;
	p /= c;
	return p > UINT64_MAX ? UINT64_MAX : (uint64_t)p;
}

/* v * f for a factor f >= 0 (NaN and negatives count as 0), saturating.
 * Exact for f == 1; otherwise within a double's precision, and never
 * above v for f < 1 (so that v - policy_scale(v, f) cannot wrap). */
static inline uint64_t policy_scale(uint64_t v, double f)
{
	double r;

	if (!(f > 0))
		return 0;
	if (f == 1.0)
		return v;
	r = (double)v * f;
	if (!(r < 18446744073709551616.0))
		return f < 1.0 ? v : UINT64_MAX;
	if (f < 1.0 && (uint64_t)r > v)
		return v;
	return (uint64_t)r;
}

/* The limits of a VM as a policy must read them: hi = max_bytes, lo =
 * min_bytes but never above hi (an operator's min > max loses). */
static inline void policy_limits(const struct ha_policy_vm *vm,
				 uint64_t *ret_lo, uint64_t *ret_hi)
{
	*ret_hi = vm->max_bytes;
	*ret_lo = policy_min(vm->min_bytes, vm->max_bytes);
}

/* The target in force, inside the VM's limits (0 reads as max). */
static inline uint64_t policy_current_target(const struct ha_policy_vm *vm)
{
	uint64_t lo, hi;

	policy_limits(vm, &lo, &hi);
	if (vm->target_bytes == 0)
		return hi;
	return policy_clamp(vm->target_bytes, lo, hi);
}

#endif
