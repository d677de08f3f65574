/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Atomic access to shared words. Every access to a word the host or
 * another CPU may touch goes through these, so that the guest and the
 * host agree on ordering: loads acquire, stores release, successful
 * compare-and-swaps order both ways.
 *
 * A platform shim (ha_platform.h) may define any of them with its own
 * primitives (the kernel's smp_load_acquire(), try_cmpxchg(), ...); what
 * it leaves undefined falls back to the compiler's __atomic builtins.
 */
#ifndef HA_ATOMIC_H
#define HA_ATOMIC_H

#include "ha_platform.h"

#ifndef ha_load
#define ha_load(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#endif
#ifndef ha_load_relaxed
#define ha_load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#endif
#ifndef ha_store
#define ha_store(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#endif
#ifndef ha_store_relaxed
#define ha_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#endif
#ifndef ha_add_relaxed
#define ha_add_relaxed(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#endif
#ifndef ha_xchg
#define ha_xchg(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
#endif

/* Compare-and-swap; on failure *expected receives the current value. */
#ifndef ha_cas
#define ha_cas(p, expected, desired)                                   \
	__atomic_compare_exchange_n((p), (expected), (desired), false, \
				    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)
#endif

#endif /* HA_ATOMIC_H */
