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
 * kernel helpers (the user shim's race detector hooks aside). Time,
 * locking, discard and populate are callbacks that the embedder passes in
 * (struct ha_host_env). A shim may map the atomics of ha_atomic.h, the
 * interrupt masking and the race detector hooks below to its world's
 * primitives (macros or inline functions only).
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

/*
 * Interrupt masking around the few steps of the guest allocator that
 * other code on the same CPU must never wait for (splitting a huge frame,
 * ha_lower.c): an interrupt handler that frees into the same frame would
 * spin on a split its own CPU can no longer finish. Worlds without
 * interrupt handlers that allocate (userspace) need nothing.
 */
#ifndef ha_irq_save
typedef int ha_irqflags_t;
#define ha_irq_save(flags)    ((void)((flags) = 0))
#define ha_irq_restore(flags) ((void)(flags))
#endif

/* Synchronisation through @p that a race detector cannot see (user.h);
 * nothing to do without one. */
#ifndef ha_sync_acquire
#define ha_sync_acquire(p) ((void)(p))
#endif
#ifndef ha_sync_release
#define ha_sync_release(p) ((void)(p))
#endif

#define ha_likely(x)   __builtin_expect(!!(x), 1)
#define ha_unlikely(x) __builtin_expect(!!(x), 0)

#endif /* HA_PLATFORM_H */
