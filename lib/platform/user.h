/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Userspace shim: the daemon, ha-simguest, tests and benchmarks. */
#ifndef HA_PLATFORM_USER_H
#define HA_PLATFORM_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#endif
