/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Guest RAM of a simulated guest: a memfd, mapped shared, with the
 * allocator's metadata inside it exactly as a real guest keeps it in its
 * RAM. The host (the daemon) maps the same memfd and reads and
 * compare-and-swaps the same words.
 *
 *   0                 meta_len = base_frame * 4 KiB         ram_bytes
 *   | ha_header, trees, | managed range: frames * 4 KiB  | rest (< 2 MiB)|
 *   | children, bitfields (4 MiB aligned end)            |               |
 */
#ifndef SG_RAM_H
#define SG_RAM_H

#include <stdbool.h>
#include <stdint.h>

#include "ha_guest.h"

#define RAM_MIN_BYTES (8ull << 20)

struct ram_geometry {
	uint64_t ram_bytes; /* size of the memfd */
	uint64_t meta_size; /* bytes of allocator metadata (total_size) */
	uint64_t meta_len; /* bytes reserved for it: up to the base */
	uint64_t base_frame; /* first managed frame (4 MiB aligned) */
	uint64_t frames; /* managed frames, a multiple of 512 */
};

/*
 * Where the metadata and the managed range go in @ram_bytes of RAM: the
 * metadata at offset 0, the range from the first 4 MiB boundary after it
 * to the end of RAM rounded down to 2 MiB.
 * Returns 0, or -EINVAL if @ram_bytes is not a multiple of 4 KiB, below
 * RAM_MIN_BYTES or beyond what a region can manage.
 */
int ram_geometry(uint64_t ram_bytes, struct ram_geometry *ret_geo);

/*
 * Does the text of /sys/kernel/mm/transparent_hugepage/shmem_enabled
 * ("always within_size advise [never] deny force") let MADV_HUGEPAGE give
 * a shmem mapping huge pages?
 */
bool ram_shmem_thp_allowed(const char *shmem_enabled);

struct ram {
	int fd; /* the memfd, -1 if closed */
	uint8_t *mem; /* shared mapping of all of it */
	struct ram_geometry geo;
	bool thp; /* MADV_HUGEPAGE applied and shmem THP allowed */
	unsigned cores; /* allocator cores (vCPUs + the reporter) */
	struct ha_local *locals; /* guest-private, per core */
	struct ha_guest guest;
};

/*
 * Create the memfd of @ram_bytes, map it and initialise the allocator
 * with every frame free, for @cores allocator cores. With @want_thp the
 * mapping gets MADV_HUGEPAGE; ram->thp says whether shmem THP is allowed
 * to honour it (the sysfs setting is read, never changed).
 * Returns 0 or -errno; on error @ram needs no ram_close().
 */
int ram_open(struct ram *ram, uint64_t ram_bytes, unsigned cores,
	     bool want_thp);

/* Unmap and close (NULL and closed rams allowed). */
void ram_close(struct ram *ram);

/* Address of managed frame @frame (relative to base_frame). */
static inline uint8_t *ram_frame(const struct ram *ram, uint64_t frame)
{
	return ram->mem + ((ram->geo.base_frame + frame) << HA_FRAME_SHIFT);
}

#endif
