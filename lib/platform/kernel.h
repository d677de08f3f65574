/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kernel shim. Inside a Linux tree the types, the atomics and the
 * interrupt masking come from the kernel's own headers. Outside one (the
 * freestanding build that proves the core needs no libc) the types come
 * from the compiler's freestanding headers, which the build reaches with
 * -nostdinc -isystem $(cc -print-file-name=include), and the atomics fall
 * back to the compiler's builtins (ha_atomic.h).
 */
#ifndef HA_PLATFORM_KERNEL_H
#define HA_PLATFORM_KERNEL_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/stddef.h>
#include <linux/compiler.h>
#include <linux/atomic.h>
#include <linux/irqflags.h>
#include <asm/barrier.h>
#include <asm/processor.h>

#define ha_cpu_relax() cpu_relax()

/* try_cmpxchg() and xchg() are fully ordered: stronger than required. */
#define ha_load(p)		     smp_load_acquire(p)
#define ha_load_relaxed(p)	     READ_ONCE(*(p))
#define ha_store(p, v)		     smp_store_release((p), (v))
#define ha_store_relaxed(p, v)	     WRITE_ONCE(*(p), (v))
#define ha_xchg(p, v)		     xchg((p), (v))
#define ha_cas(p, expected, desired) try_cmpxchg((p), (expected), (desired))

typedef unsigned long ha_irqflags_t;
#define ha_irq_save(flags)    local_irq_save(flags)
#define ha_irq_restore(flags) local_irq_restore(flags)
#else
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#endif

#endif
