/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Thin wrappers over the compiler's __atomic builtins. Every access to a
 * shared word goes through these, so that the guest and the host agree on
 * ordering: loads acquire, successful compare-and-swaps are acq_rel.
 */
#ifndef HA_ATOMIC_H
#define HA_ATOMIC_H

#include "ha_platform.h"

#define ha_load(p)	       __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define ha_load_relaxed(p)     __atomic_load_n((p), __ATOMIC_RELAXED)
#define ha_store(p, v)	       __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define ha_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define ha_add_relaxed(p, v)   __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define ha_xchg(p, v)	       __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)

/* Compare-and-swap; on failure *expected receives the current value. */
#define ha_cas(p, expected, desired)                                   \
	__atomic_compare_exchange_n((p), (expected), (desired), false, \
				    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)

#endif /* HA_ATOMIC_H */
