/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Userspace embedding of the host operations for guest RAM held in a memfd
 * (or any shared file): discard punches holes, populate allocates the
 * range again, the region lock is a pthread mutex, time is CLOCK_MONOTONIC.
 * Used by the daemon's sim backend, the tests and the benchmarks.
 */
#ifndef HA_MEMFD_ENV_H
#define HA_MEMFD_ENV_H

#include <pthread.h>
#include <stdint.h>

#include "../ha_host.h"

struct memfd_env {
	int fd; /* guest RAM file, not owned */
	uint64_t base_offset; /* file offset of the region's base frame */
	pthread_mutex_t lock;
	struct ha_host_env env;
};

/* Fill @m for guest RAM @fd whose managed range begins at byte
 * @base_offset of the file. Returns 0 or -errno. */
int memfd_env_init(struct memfd_env *m, int fd, uint64_t base_offset);

void memfd_env_destroy(struct memfd_env *m);

/* Monotonic clock in nanoseconds. */
uint64_t memfd_env_now_ns(void);

/* Bytes of @fd actually allocated (st_blocks * 512): the kernel's own
 * account of how much of the memfd is resident. Returns -errno on error. */
int64_t memfd_resident_bytes(int fd);

#endif
