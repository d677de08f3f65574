/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the guest and host fixtures share: quiet assertions for long loops
 * and zeroed, cache-line aligned allocations sized exactly (rounded to
 * 64 bytes), so ASan catches any access past a region's end.
 */
#ifndef HA_TEST_FIXTURE_UTIL_H
#define HA_TEST_FIXTURE_UTIL_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * ck_assert*() records its location on every call (a message to the parent
 * process in fork mode), which dominates loops over many frames or many
 * operations. Those loops use these, which only report failures.
 */
#define CHECK(expr)                                                   \
	do {                                                          \
		if (!(expr))                                          \
			ck_abort_msg("Assertion '%s' failed", #expr); \
	} while (0)
#define CHECK_MSG(expr, ...)                       \
	do {                                       \
		if (!(expr))                       \
			ck_abort_msg(__VA_ARGS__); \
	} while (0)

static inline void *fixture_zalloc(uint64_t len)
{
	uint64_t rounded = (len + 63) / 64 * 64;
	void *p = aligned_alloc(64, rounded);

	ck_assert_ptr_nonnull(p);
	memset(p, 0, rounded);
	return p;
}

#endif
