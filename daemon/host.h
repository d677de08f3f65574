/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Host memory facts from /proc (paths injectable for tests). */
#ifndef HA_HOST_INFO_H
#define HA_HOST_INFO_H

#include <stdint.h>

struct host_mem {
	uint64_t total_bytes; /* MemTotal */
	uint64_t available_bytes; /* MemAvailable */
	double psi_some_avg10; /* -1 when PSI is unavailable */
	double psi_full_avg10;
};

/* Parse a meminfo file ("/proc/meminfo"). 0, -errno, or -EBADMSG when
 * MemTotal is missing. */
int host_read_meminfo(const char *path, struct host_mem *ret);

/* Parse a PSI file ("/proc/pressure/memory"); sets both to -1 and
 * returns -errno when unreadable. */
int host_read_psi(const char *path, struct host_mem *ret);

/* Both, from the real /proc. */
int host_read(struct host_mem *ret);

#endif
