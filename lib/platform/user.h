/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Userspace shim: the daemon, ha-simguest, tests and benchmarks. */
#ifndef HA_PLATFORM_USER_H
#define HA_PLATFORM_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * ThreadSanitizer keys the synchronisation of an atomic by its address:
 * the 32-bit compare-and-swap on a pair of child words (order-10 blocks,
 * ha_lower.c) and the 16-bit ones on the pair's second word never
 * synchronise in its model, although the hardware orders them, and a
 * frame handed from one CPU to another through them looks like a data
 * race. These hooks tell it; ha_platform.h makes them no-ops elsewhere.
 */
#if defined(__SANITIZE_THREAD__)
#define HA_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HA_TSAN 1
#endif
#endif
#ifdef HA_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define ha_sync_acquire(p) __tsan_acquire((void *)(p))
#define ha_sync_release(p) __tsan_release((void *)(p))
#endif

#endif
