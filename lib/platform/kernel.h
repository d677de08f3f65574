/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kernel shim. Inside a Linux tree the types come from <linux/types.h>.
 * Outside one (the freestanding build that proves the core needs no libc)
 * they come from the compiler's own freestanding headers, which the build
 * reaches with -nostdinc -isystem $(cc -print-file-name=include).
 */
#ifndef HA_PLATFORM_KERNEL_H
#define HA_PLATFORM_KERNEL_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/stddef.h>
#include <asm/processor.h>
#define ha_cpu_relax() cpu_relax()
#else
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#endif

#endif
