/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Validation of guest-written metadata. The host calls this on memory the
 * guest controls: it reads every field exactly once, checks it, and never
 * indexes anything with an unchecked value.
 */
#ifndef HA_VALIDATE_H
#define HA_VALIDATE_H

#include "ha_layout.h"

/* Why a region was rejected (or a VM quarantined). */
enum ha_bad_reason {
	HA_BAD_NONE = 0,
	HA_BAD_TRUNCATED, /* region shorter than its header or layout */
	HA_BAD_ALIGNMENT, /* region not 64-byte aligned */
	HA_BAD_MAGIC, /* magic is not HA_MAGIC */
	HA_BAD_VERSION, /* version this host does not speak */
	HA_BAD_GEOMETRY, /* header_size, tree_children or child_frames */
	HA_BAD_FRAMES, /* frame count 0, not a multiple of 512 or too big */
	HA_BAD_BASE, /* base frame not 4 MiB aligned */
	HA_BAD_RANGE, /* managed range outside guest RAM */
	HA_BAD_OVERLAP, /* metadata lies inside the range it manages */
	HA_BAD_LAYOUT, /* offsets or size differ from the legal layout */
	HA_BAD_TREE, /* a tree word no legal guest can write */
	HA_BAD_CHILD, /* a child word no legal guest can write */
	HA_BAD_STATE, /* child word contradicts the host's own state */
	HA_BAD_REASON_COUNT,
};

struct ha_bad {
	enum ha_bad_reason reason;
	uint64_t index; /* tree or child index for TREE/CHILD/STATE */
	uint64_t value; /* the offending value */
};

/* Human-readable name of a reason ("bad magic"); never NULL. */
const char *ha_bad_str(enum ha_bad_reason reason);

/*
 * Validate the header of the region at @meta (@len bytes readable) and
 * compute its layout. The header is copied once; later guest writes to it
 * do not affect the result. Returns HA_OK and *ret_layout, or HA_EBADMSG
 * with the reason in *ret_bad.
 */
int ha_validate_header(const void *meta, uint64_t len,
		       struct ha_layout *ret_layout, struct ha_bad *ret_bad);

#endif /* HA_VALIDATE_H */
