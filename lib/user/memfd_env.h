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
	char *map; /* optional: the file mapped shared from offset 0 */
	pthread_mutex_t lock;
	struct ha_host_env env;
};

/* Fill @m for guest RAM @fd whose managed range begins at byte
 * @base_offset of the file. Returns 0 or -errno. */
int memfd_env_init(struct memfd_env *m, int fd, uint64_t base_offset);

/*
 * Populate through @map (the whole file mapped MAP_SHARED with
 * MADV_HUGEPAGE) instead of fallocate: with shmem transparent huge pages
 * in "advise" mode only a faulting access through an advised mapping gets
 * huge pages back, and fallocate would bring the range back as 4 KiB pages.
 * The daemon's own page-table entries are dropped again afterwards.
 */
void memfd_env_use_mapping(struct memfd_env *m, void *map);

void memfd_env_destroy(struct memfd_env *m);

/* Monotonic clock in nanoseconds. */
uint64_t memfd_env_now_ns(void);

/* Bytes of @fd actually allocated (st_blocks * 512): the kernel's own
 * account of how much of the memfd is resident. Returns -errno on error. */
int64_t memfd_resident_bytes(int fd);

#endif
