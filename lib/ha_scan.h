/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A pure, read-only scan of a region's metadata: what a policy needs to
 * know about a guest (free memory, free huge frames, and how many frames
 * are installed, soft- or hard-reclaimed), computed from the shared words
 * alone. It takes no lock, writes nothing, keeps no state and needs no
 * struct ha_host, so a reader holding only a read-only mapping of a
 * guest's metadata can use it (ha_host_scan() needs the host's private
 * state and quarantines a region it finds corrupt).
 *
 * The metadata is the guest's and changes under the reader: the result
 * is a snapshot of words read one by one, each checked before use.
 */
#ifndef HA_SCAN_H
#define HA_SCAN_H

#include "ha_layout.h"
#include "ha_validate.h"

/* Counts in huge frames (2 MiB children) unless said otherwise. */
struct ha_scan {
	uint64_t free_frames; /* 4 KiB frames free in the guest */
	uint64_t free_huge; /* entirely free children (installed or soft) */
	uint64_t free_huge_installed; /* of which backing is present */
	uint64_t installed; /* not reclaimed: backing present */
	uint64_t soft; /* reclaimed, not hard: backing discarded, the
			  frame free or being installed by the guest */
	uint64_t hard; /* hard-reclaimed: taken from the guest (reclaimed,
			  huge and the hard mark in bitfield row 0) */
	uint64_t installing; /* soft children the guest allocates from (its
				install is pending or under way) */
};

/*
 * Scan the region at @meta, whose header ha_validate_header() accepted
 * with layout @layout (the caller has layout->total_size bytes of @meta
 * mapped, readable). Hard and soft are told apart as ha_host_attach()
 * does: a reclaimed child is hard if it is huge and row 0 of its bitfield
 * holds HA_HARD_MARK, soft otherwise. installed + soft + hard is the
 * number of children.
 * Returns HA_OK and *ret_scan; HA_EINVAL if an argument is NULL; or
 * HA_EBADMSG with the first invalid child word in *ret_bad (HA_BAD_CHILD,
 * its index and value), *ret_scan untouched.
 */
int ha_scan(const void *meta, const struct ha_layout *layout,
	    struct ha_scan *ret_scan, struct ha_bad *ret_bad);

#endif /* HA_SCAN_H */
