// SPDX-License-Identifier: GPL-2.0-or-later
#include "memfd_env.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

static int env_discard(void *ctx, ha_huge_t first, uint64_t count)
{
	struct memfd_env *m = ctx;
	off_t off = (off_t)(m->base_offset + first.v * HA_HUGE_SIZE);

	if (fallocate(m->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
		      (off_t)(count * HA_HUGE_SIZE)) < 0)
		return -errno;
	return 0;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static int env_populate(void *ctx, ha_huge_t first, uint64_t count)
{
	struct memfd_env *m = ctx;
	off_t off = (off_t)(m->base_offset + first.v * HA_HUGE_SIZE);
	size_t len = (size_t)(count * HA_HUGE_SIZE);

	if (m->map) {
		char *p = m->map + off;

		if (madvise(p, len, MADV_POPULATE_WRITE) == 0) {
			/* The pages stay in the file; only this process's
			 * mappings of them go. */
			madvise(p, len, MADV_DONTNEED);
			return 0;
		}
		if (errno != EINVAL)
			return -errno;
		/* kernel without MADV_POPULATE_WRITE: fall through */
	}

	if (fallocate(m->fd, FALLOC_FL_KEEP_SIZE, off,
		      (off_t)(count * HA_HUGE_SIZE)) < 0)
		return -errno;
	return 0;
}

static void env_lock(void *ctx)
{
	struct memfd_env *m = ctx;

	pthread_mutex_lock(&m->lock);
}

static void env_unlock(void *ctx)
{
	struct memfd_env *m = ctx;

	pthread_mutex_unlock(&m->lock);
}

uint64_t memfd_env_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t env_now(void *ctx)
{
	(void)ctx;
	return memfd_env_now_ns();
}

void memfd_env_use_mapping(struct memfd_env *m, void *map)
{
	m->map = map;
}

int memfd_env_init(struct memfd_env *m, int fd, uint64_t base_offset)
{
	int r;

	m->fd = fd;
	m->map = NULL;
	m->base_offset = base_offset;
	r = pthread_mutex_init(&m->lock, NULL);
	if (r)
		return -r;
	m->env = (struct ha_host_env){
		.ctx = m,
		.discard = env_discard,
		.populate = env_populate,
		.lock = env_lock,
		.unlock = env_unlock,
		.now_ns = env_now,
	};
	return 0;
}

void memfd_env_destroy(struct memfd_env *m)
{
	if (m)
		pthread_mutex_destroy(&m->lock);
}

int64_t memfd_resident_bytes(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	return (int64_t)st.st_blocks * 512;
}
