/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Platform shim selection for the libhyperalloc core.
 *
 * The core files (lib/ha_*.c) include only this header and other lib/
 * headers. Everything that differs between worlds (integer types, bool,
 * a CPU relax hint) comes from exactly one shim:
 *
 *   HA_PLATFORM_KERNEL or __KERNEL__  -> platform/kernel.h (guest kernel)
 *   HA_PLATFORM_QEMU                  -> platform/qemu.h   (QEMU device)
 *   otherwise                         -> platform/user.h   (daemon, tools)
 *
 * The core never calls a function it does not define itself: no libc, no
 * kernel helpers. Time, locking, discard and populate are callbacks that the
 * embedder passes in (struct ha_host_env).
 */
#ifndef HA_PLATFORM_H
#define HA_PLATFORM_H

#if defined(__KERNEL__) || defined(HA_PLATFORM_KERNEL)
#include "platform/kernel.h"
#elif defined(HA_PLATFORM_QEMU)
#include "platform/qemu.h"
#else
#include "platform/user.h"
#endif

#ifndef ha_cpu_relax
#if defined(__x86_64__) || defined(__i386__)
#define ha_cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define ha_cpu_relax() __asm__ __volatile__("yield" ::: "memory")
#else
#define ha_cpu_relax() __asm__ __volatile__("" ::: "memory")
#endif
#endif

#define ha_likely(x)   __builtin_expect(!!(x), 1)
#define ha_unlikely(x) __builtin_expect(!!(x), 0)

#endif /* HA_PLATFORM_H */
