/* SPDX-License-Identifier: GPL-2.0-or-later */
/* QEMU shim: qemu/osdep.h must be included first by the including file. */
#ifndef HA_PLATFORM_QEMU_H
#define HA_PLATFORM_QEMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#endif
