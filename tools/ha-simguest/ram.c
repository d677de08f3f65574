// SPDX-License-Identifier: GPL-2.0-or-later
#include "ram.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SHMEM_THP_PATH "/sys/kernel/mm/transparent_hugepage/shmem_enabled"
#define BASE_ALIGN     ((uint64_t)HA_BASE_ALIGN_FRAMES << HA_FRAME_SHIFT)

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

int ram_geometry(uint64_t ram_bytes, struct ram_geometry *ret_geo)
{
	uint64_t ram_frames = ram_bytes >> HA_FRAME_SHIFT;
	uint64_t upper, meta, base, frames;

	if (ram_bytes % HA_FRAME_SIZE || ram_bytes < RAM_MIN_BYTES)
		return -EINVAL;
	/* The metadata for all of RAM is an upper bound of what the real
	 * (smaller) range needs. */
	upper = ram_frames / HA_CHILD_FRAMES * HA_CHILD_FRAMES;
	if (upper > HA_MAX_FRAMES)
		return -EINVAL;
	meta = ha_meta_size(upper);
	if (!meta)
		return -EINVAL;
	base = align_up(meta, BASE_ALIGN);
	if (base >= ram_bytes)
		return -EINVAL;
	frames = (ram_bytes - base) / HA_HUGE_SIZE * HA_CHILD_FRAMES;
	if (!frames)
		return -EINVAL;
	*ret_geo = (struct ram_geometry){
		.ram_bytes = ram_bytes,
		.meta_size = ha_meta_size(frames),
		.meta_len = base,
		.base_frame = base >> HA_FRAME_SHIFT,
		.frames = frames,
	};
	return 0;
}

bool ram_shmem_thp_allowed(const char *s)
{
	static const char *const ok[] = { "[always]", "[within_size]",
					  "[advise]", "[force]" };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strstr(s, ok[i]))
			return true;
	return false;
}

static bool read_shmem_thp(void)
{
	char buf[256] = "";
	FILE *f = fopen(SHMEM_THP_PATH, "re");
	bool ok;

	if (!f)
		return false;
	ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	return ok && ram_shmem_thp_allowed(buf);
}

/* Map @len bytes of @fd shared at a 2 MiB aligned address, so that huge
 * pages can back it. */
static void *map_aligned(int fd, uint64_t len)
{
	uint64_t span = len + HA_HUGE_SIZE;
	uint8_t *area, *aligned, *p;

	area = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		return MAP_FAILED;
	aligned = (uint8_t *)align_up((uint64_t)(uintptr_t)area, HA_HUGE_SIZE);
	p = mmap(aligned, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 fd, 0);
	if (p == MAP_FAILED) {
		munmap(area, span);
		return MAP_FAILED;
	}
	if (aligned > area)
		munmap(area, (size_t)(aligned - area));
	if (aligned + len < area + span)
		munmap(aligned + len, (size_t)(area + span - (aligned + len)));
	return p;
}

int ram_open(struct ram *ram, uint64_t ram_bytes, unsigned cores, bool want_thp)
{
	int r;

	memset(ram, 0, sizeof(*ram));
	ram->fd = -1;
	ram->mem = MAP_FAILED;
	r = ram_geometry(ram_bytes, &ram->geo);
	if (r < 0 || cores == 0)
		return -EINVAL;
	ram->cores = cores;

	ram->fd = memfd_create("ha-simguest-ram",
			       MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (ram->fd < 0) {
		r = -errno;
		goto cleanup;
	}
	/* RAM has one size for the guest's life; the host maps it only
	 * once it cannot shrink (as QEMU seals its memfd backends). */
	if (ftruncate(ram->fd, (off_t)ram_bytes) < 0 ||
	    fcntl(ram->fd, F_ADD_SEALS,
		  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		r = -errno;
		goto cleanup;
	}
	ram->mem = map_aligned(ram->fd, ram_bytes);
	if (ram->mem == MAP_FAILED) {
		r = -errno;
		goto cleanup;
	}
	if (want_thp) {
		if (madvise(ram->mem, ram_bytes, MADV_HUGEPAGE) < 0) {
			r = -errno;
			goto cleanup;
		}
		ram->thp = read_shmem_thp();
	}
	ram->locals = aligned_alloc(64, ha_local_size(cores));
	if (!ram->locals) {
		r = -ENOMEM;
		goto cleanup;
	}
	r = ha_guest_init(&ram->guest, ram->mem, ram->geo.meta_len, ram->locals,
			  cores, ram->geo.base_frame, ram->geo.frames,
			  HA_INIT_FREE);
	if (r < 0)
		goto cleanup;
	return 0;

cleanup:
	ram_close(ram);
	return r;
}

void ram_close(struct ram *ram)
{
	if (!ram)
		return;
	if (ram->mem && ram->mem != MAP_FAILED)
		munmap(ram->mem, ram->geo.ram_bytes);
	ram->mem = MAP_FAILED;
	if (ram->fd >= 0)
		close(ram->fd);
	ram->fd = -1;
	free(ram->locals);
	ram->locals = NULL;
}
