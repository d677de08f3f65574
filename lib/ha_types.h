/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libhyperalloc: constants, strong index types and error codes shared by
 * the guest and the host side.
 */
#ifndef HA_TYPES_H
#define HA_TYPES_H

#include "ha_platform.h"

/* Geometry. A frame is 4 KiB; a huge frame ("child") is 2^9 frames = 2 MiB;
 * a tree covers 8 children = 16 MiB. */
#define HA_FRAME_SHIFT	       12u
#define HA_FRAME_SIZE	       (1u << HA_FRAME_SHIFT)
#define HA_HUGE_ORDER	       9u
#define HA_MAX_ORDER	       10u
#define HA_CHILD_FRAMES	       (1u << HA_HUGE_ORDER)
#define HA_HUGE_SIZE	       ((uint64_t)HA_CHILD_FRAMES << HA_FRAME_SHIFT)
#define HA_TREE_CHILDREN_ORDER 3u
#define HA_TREE_CHILDREN       (1u << HA_TREE_CHILDREN_ORDER)
#define HA_TREE_FRAMES	       (HA_TREE_CHILDREN * HA_CHILD_FRAMES)
/* The managed range starts on a 4 MiB boundary so order-10 pairs align. */
#define HA_BASE_ALIGN_FRAMES (1u << HA_MAX_ORDER)
/* Upper bound on frames per region: 2^40 frames = 4 EiB (keeps every
 * product below in 64 bits). */
#define HA_MAX_FRAMES (1ull << 40)

/* Strong index types: a frame index (4 KiB unit) and a huge-frame index
 * (2 MiB unit), both relative to the region's base frame. Distinct struct
 * types so the compiler refuses to mix them. */
typedef struct {
	uint64_t v;
} ha_frame_t;

typedef struct {
	uint64_t v;
} ha_huge_t;

static inline ha_frame_t ha_frame(uint64_t v)
{
	return (ha_frame_t){ v };
}

static inline ha_huge_t ha_huge(uint64_t v)
{
	return (ha_huge_t){ v };
}

static inline ha_huge_t ha_frame_to_huge(ha_frame_t f)
{
	return ha_huge(f.v >> HA_HUGE_ORDER);
}

static inline ha_frame_t ha_huge_to_frame(ha_huge_t h)
{
	return ha_frame(h.v << HA_HUGE_ORDER);
}

/* Allocation flags for ha_guest_get(). */
enum {
	HA_GET_MOVABLE = 1u << 0, /* kind MOVABLE rather than FIXED */
	HA_GET_INSTALLED = 1u << 1, /* only frames whose backing is present:
				       for callers that cannot install */
};

/* Tree kinds (2 bits in the tree word). */
enum ha_kind {
	HA_KIND_FIXED = 0,
	HA_KIND_MOVABLE = 1,
	HA_KIND_HUGE = 2,
	HA_KIND_COUNT = 3,
};

/*
 * Error codes: negative errno values, so that userspace callers can pass
 * them to strerror(-r). ha_strerror() names them without libc.
 */
enum ha_err {
	HA_OK = 0,
	HA_EPERM = -1, /* region is quarantined */
	HA_EAGAIN = -11, /* lost a race too often; retry (host side only) */
	HA_ENOMEM = -12, /* no free frame of that order */
	HA_EFAULT = -14, /* frame not allocated / out of range (guest put) */
	HA_EINVAL = -22, /* bad argument from the caller */
	HA_ERANGE = -34, /* frame index outside the region */
	HA_EPROTO = -71, /* request illegal in the frame's current state */
	HA_EBADMSG = -74, /* metadata is corrupt (validation failed) */
	HA_EIO = -5, /* an embedder callback (discard/populate) failed */
};

/* Short English name of an ha_err value ("no free frame"); never NULL. */
const char *ha_strerror(int err);

#endif /* HA_TYPES_H */
